/*
 * jobs.h: swift-webhook's commands for people: jobs, show, logs, check.
 */
#ifndef JOBS_H
#define JOBS_H

/* Runs the command in argv[1...].  Returns the process exit status. */
int	 jobs_main(int argc, char *argv[]);

#endif
