/*
 * jobs.h: swift-webhook's commands for people: jobs, show, logs, cancel,
 * retry, check; and the run-directory query the responder shares.
 */
#ifndef JOBS_H
#define JOBS_H

#include "conf.h"

/* Runs the command in argv[1...].  Returns the process exit status. */
int	 jobs_main(int argc, char *argv[]);

/*
 * Concurrency: asks the queued jobs of branch from other deliveries to end
 * "superseded", and with running_too the running ones to end "cancelled".
 */
void	 jobs_supersede(const struct conf *c, const char *branch,
	    const char *delivery, int running_too);

#endif
