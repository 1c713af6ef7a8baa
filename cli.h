/*
 * cli.h: swift-webhook's commands for people: jobs, show, logs, cancel,
 * retry, prune, check.
 */
#ifndef CLI_H
#define CLI_H

/* Runs the command in argv[1...].  Returns the process exit status. */
int	 cli_main(int argc, char *argv[]);

#endif
