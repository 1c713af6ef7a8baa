/*
 * supervise.h: a job's supervisor, the detached process that sees a job
 * to its end.
 *
 * Whoever starts a job that has its slots (a responder, or a supervisor
 * handing its slots on, see queue.h) detaches its supervisor with
 * spawn.h's double fork: in a session of its own, stdin /dev/null,
 * stdout and stderr on the job's log, no descriptor of ours but its
 * slots, the run directory and a report pipe, no secret.  The supervisor
 * takes the job's writer lock (job.h) for all its life and reads the
 * record again under it (a job cancelled in the meantime does not run),
 * then:
 *
 *   local  checks out the commit (checkout.h) and waits for its GPUs
 *          (gpu.h) while "preparing", forks the trainer into a process
 *          group of its own, reports back once the exec succeeded or
 *          failed, writes the pid file, watches the trainer (stop
 *          requests, max_runtime, window_stop; SIGTERM to its group,
 *          SIGKILL after kill_grace), runs after_success, and records
 *          how it ended and its results (results.h);
 *   slurm  reports at once, checks out the commit, submits the job
 *          (slurm.h) and follows it to its end (squeue, sacct), scancels
 *          it when asked to stop;
 *
 * then frees its slots, has the next queued jobs started (through the
 * kick it was given: the queue's owner is above this), posts the commit
 * status (commitstatus.h) and runs notify.
 *
 * Errors follow util.h.
 */
#ifndef SUPERVISE_H
#define SUPERVISE_H

#include <stddef.h>

#include "conf.h"
#include "job.h"
#include "queue.h"
#include "rundir.h"
#include "spawn.h"
#include "trainer.h"

struct supervisor {
	struct trainer	 t;		/* trainer_prepare'd by the caller */
	int		 tell_only;	/* only post the status and notify */
	int		 adopt;		/* a new supervisor for a job Slurm
					   has: failing to start it fails no
					   job */
	/* Starts the next queued jobs, once this job's slots are free. */
	void		(*kick)(struct rundir *, struct conf *);
	struct detach	 d;		/* until supervise_wait */
};

/*
 * Starts j's supervisor on the slots s (taken: closed here, held by the
 * supervisor).  Returns 0 once the supervisor reports: j->state is
 * "running" with j->pid, pid file and job.json written; or "preparing".
 * For a job already in a final state (a queued job cancelled) the
 * supervisor only runs notify (and posts its commit status); so it does
 * for a queued job with tell_only.  With backend = slurm it returns once
 * the supervisor has the job, which stays as recorded (queued: the
 * supervisor submits it; or, with a Slurm id, brought up to what Slurm
 * says).  Returns -1 with the reason in err if the trainer could not
 * start; then no process of the job is left, job.json says "failed"
 * (unless adopt) and the run of the day is given back.  The caller gives
 * back the (sha, config) claim.
 */
int	 supervise_start(struct supervisor *sv, struct rundir *rd,
	    struct job *j, struct conf *c, struct slots *s, char *err,
	    size_t errlen);

/*
 * supervise_start in two halves, so that a caller holding a lock need not
 * hold it while the trainer starts: supervise_fork hands the slots to the
 * (detached) supervisor and returns 0 at once, or -1 as supervise_start
 * does; supervise_wait then waits for the report and returns what
 * supervise_start would.  Every supervise_fork that returned 0 needs its
 * supervise_wait.
 */
int	 supervise_fork(struct supervisor *sv, struct rundir *rd,
	    struct job *j, struct conf *c, struct slots *s, char *err,
	    size_t errlen);
int	 supervise_wait(struct supervisor *sv, struct rundir *rd,
	    struct job *j, char *err, size_t errlen);

/*
 * Records j's final state (job.json, synced) and what every end brings:
 * the metrics, the run directory's live mark cleared, and its run of the
 * day given back if its trainer never ran.  The end is counted even when
 * the record cannot be written: the job will not run.  Returns job_write's
 * result.
 */
int	 supervise_record_end(struct rundir *rd, const struct job *j);

#endif
