/*
 * job.h: a job's life: starting one (create, check, claim, queue, spawn),
 * the queue's kick, and ending one that waits (cancel, supersede).
 *
 * States: queued -> running -> succeeded | failed | killed | cancelled |
 * superseded | timeout; a queued job may also end cancelled or
 * superseded without running, and failed when its trainer cannot start.
 * A job whose supervisor is gone is shown "lost" (jobs.c).
 */
#ifndef JOB_H
#define JOB_H

#include "conf.h"
#include "rundir.h"

enum job_result {
	JOB_STARTED,		/* running (j->pid) or queued */
	JOB_DUPLICATE,		/* (sha, config) has a job: other names it */
	JOB_QUEUE_FULL,		/* max_queued: err says so */
	JOB_BUSY,		/* the queue lock was held too long */
	JOB_ERROR		/* err says why; the job, if any, is failed */
};

/*
 * Creates job j (delivery, event, repository, ref, branch, sha, config set
 * by the caller) in rd and starts it: refuses a trainer that cannot be
 * found or executed, claims (sha, config) if claim is set (else points the
 * claim at j once it is queued or running: a retry), queues it and kicks
 * the queue.  j->state is then "running" (with j->pid) or "queued".
 */
enum job_result job_start(struct rundir *rd, struct conf *c, struct job *j,
	    int claim, char other[JOB_ID_MAX], char *err, size_t errlen);

/* Starts queued jobs while slots are free; problems go to stderr. */
void	 job_kick(struct rundir *rd, struct conf *c);

/*
 * Ends the queued job id as state (cancelled, superseded) if it still
 * waits.  Returns 1 if it did, 0 if it no longer waits, -1 on error
 * (err).
 */
int	 job_end_queued(struct rundir *rd, struct conf *c, const char *id,
	    const char *state, char *err, size_t errlen);

/*
 * Concurrency: ends the queued jobs of branch created before newest by
 * other deliveries "superseded", and with running_too asks the running
 * ones to end "cancelled".
 */
void	 job_supersede(struct rundir *rd, struct conf *c, const char *branch,
	    const char *delivery, const char *newest, int running_too);

#endif
