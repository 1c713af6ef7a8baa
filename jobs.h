/*
 * jobs.h: swift-webhook's commands for people: jobs, show, logs, cancel,
 * retry, check.
 */
#ifndef JOBS_H
#define JOBS_H

#include "conf.h"

/* Runs the command in argv[1...].  Returns the process exit status. */
int	 jobs_main(int argc, char *argv[]);


#endif
