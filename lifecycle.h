/*
 * lifecycle.h: what happens to jobs, as deliveries and people ask: start
 * (create, check, claim, take a run of the day, queue, kick), kick (start
 * queued jobs while slots are free), cancel, supersede, adopt (a new
 * supervisor for a Slurm job whose own is gone), and the waiter that
 * kicks the queue when a training window opens.
 *
 *	run_dir/.window.lock	flock(2)ed by the one waiter, a detached
 *				process that sleeps until a window opens
 *				and then kicks the queue
 *
 * It is the one layer that knows both the queue (queue.h) and the
 * supervisor (supervise.h), and hands the supervisor its kick.
 *
 * Errors follow util.h.
 */
#ifndef LIFECYCLE_H
#define LIFECYCLE_H

#include "conf.h"
#include "job.h"
#include "rundir.h"

enum job_result {
	JOB_STARTED,		/* running (j->pid) or queued */
	JOB_DUPLICATE,		/* (sha, config) has a job: other names it */
	JOB_QUEUE_FULL,		/* max_queued: err says so */
	JOB_BUSY,		/* the queue lock was held too long */
	JOB_OVER_BUDGET,	/* max_runs_per_day: err says so */
	JOB_ERROR		/* err says why; the job, if any, is failed */
};

/*
 * Creates job j (delivery, event, repository, ref, branch, sha, config set
 * by the caller) in rd and starts it: refuses a trainer that cannot be
 * found or executed, claims (sha, config) if claim is set (else points the
 * claim at j once it is queued or running: a retry), takes one of the
 * day's runs (only with claim: a person's retry is not counted), queues
 * it and kicks the queue.  j->state is then running (with j->pid),
 * preparing or queued.
 */
enum job_result lifecycle_start(struct rundir *rd, struct conf *c,
	    struct job *j, int claim, char other[JOB_ID_MAX], char *err,
	    size_t errlen);

/*
 * Starts queued jobs while slots are free; a job that cannot be started
 * is recorded failed.  Problems go to stderr.
 */
void	 lifecycle_kick(struct rundir *rd, struct conf *c);

enum cancel_result {
	CANCEL_DONE,		/* it ended cancelled */
	CANCEL_ENDED,		/* it had ended already (or ended otherwise) */
	CANCEL_ERROR		/* err says why */
};

/*
 * Cancels job id: out of the queue if it waits there, through its
 * supervisor if it runs (waiting until it has ended), or itself if it is
 * lost (its trainer's group, bounded waits; under the job's writer lock,
 * so a supervisor that turns up late leaves it ended).  The final state
 * is copied to state.
 */
enum cancel_result lifecycle_cancel(struct rundir *rd, struct conf *c,
	    const char *id, char state[16], char *err, size_t errlen);

/*
 * Concurrency: of the queued jobs of branch, those of the delivery that
 * made the newest one stay and every other ends "superseded"; with
 * running_too, the running jobs of branch created before newest by other
 * deliveries are asked to end "cancelled".
 */
void	 lifecycle_supersede(struct rundir *rd, struct conf *c,
	    const char *branch, const char *delivery, const char *newest,
	    int running_too);

/*
 * If job id's supervisor is gone, starts a new one (supervise.h), which
 * brings the record up to date before this returns, then sees the job
 * to its end as the first would have: on Slurm, a job Slurm has (squeue,
 * then sacct); locally, a trainer that runs or has ended (its reaper's
 * record); a job whose trainer never started goes back to the head of
 * the queue; a job that has ended gets the work of its end that was
 * left (after_success, commit status, notify), each once; a job that
 * ran under an earlier boot of the machine ends lost.  Only the run
 * directory's owner does: a read-only look (jobs as root) never writes.
 * Returns 1 if it started one, else 0.
 */
int	 lifecycle_adopt(struct rundir *rd, struct conf *c, const char *id);

/*
 * What everything that looks does (jobs, show, the status page, a
 * scrape, and swift-webhook tick): takes over every job whose supervisor
 * is gone (lifecycle_adopt, for the jobs marked live: rundir.h) and
 * kicks the queue.  With every > 0, at most once every that many seconds
 * (run_dir/.tick, flock(2)ed and stamped by the one who does it), else
 * now.  Only as the run directory's owner.
 */
void	 lifecycle_tick(struct rundir *rd, struct conf *c, int every);

#define LOOK_TICK	5	/* seconds: how often a page or a scrape ticks */
#define DELIVERY_TICK	60	/* and a signed delivery, after its answer */

/*
 * With jobs waiting and no window open, makes sure one detached waiter
 * sleeps until the next window and kicks the queue then.  Cheap when one
 * does already (a lock that is held, no fork).
 */
void	 lifecycle_wait_window(struct rundir *rd, struct conf *c);

#endif
