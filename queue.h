/*
 * queue.h: the run queue and the slots (GPUs) jobs run on.
 *
 *	run_dir/.queue.lock	flock(2)ed while the queue changes; holds
 *				"head tail count": the queue's sequence numbers
 *	run_dir/.queue/<seq>	a waiting job (its id), seq from head to tail
 *	run_dir/.slots/<n>	slot n; the running job's supervisor holds a
 *				flock on it, and it names that job's trainer
 *				(PID, start time) and the job's id
 *
 * A waiting job has no process: it is a file.  Whoever may have freed a
 * slot or added a job (a supervisor whose trainer ended, a responder that
 * queued a job, cancel) "kicks" the queue: under the lock, while the
 * oldest waiting job's slots are free, it takes them, removes the entry
 * and starts that job's supervisor.  So queued jobs cost no CPU, jobs
 * start strictly in order, and the delivery path reads a few bytes, not
 * the queue.
 *
 * Outside its training windows (schedule.h) a job waits, keeping its
 * place; those behind it whose windows are open may go first.
 *
 * Slot locks are flock(2)s, which the kernel drops when their holder
 * dies; a slot whose supervisor died is still not free while the trainer
 * it names runs.  The queue lock is taken without blocking, retried until
 * a deadline: a lock held by someone else never hangs a delivery.
 */
#ifndef QUEUE_H
#define QUEUE_H

#include <sys/types.h>

#include "conf.h"
#include "rundir.h"

#define QUEUE_LOCK_WAIT	5	/* seconds to wait for the queue lock */

struct slots {
	int	fd[MAX_SLOTS];	/* held slot locks */
	int	idx[MAX_SLOTS];	/* their numbers */
	int	n;
};

/*
 * Starts job id on the slots s (whose descriptors it takes: it closes
 * them in every process but the supervisor).  Returns 0, or -1 if the
 * job could not start (it is then recorded as failed, or was no longer
 * waiting).
 */
typedef int (*queue_start_fn)(void *arg, const char *id, struct slots *s);

/*
 * How a kick starts jobs: start, and the configuration each waiting job
 * follows (its gpus_per_job, its windows), from conf (NULL, or conf
 * answering NULL: the caller's); both are handed arg.
 */
struct queue_start {
	queue_start_fn	  start;
	const struct conf *(*conf)(void *arg, const char *id);
	void		 *arg;
};

enum queue_result {
	QUEUE_OK,		/* done */
	QUEUE_FULL,		/* max_queued jobs wait already */
	QUEUE_BUSY,		/* the lock was not had within QUEUE_LOCK_WAIT */
	QUEUE_ERROR		/* see err */
};

/*
 * Adds job id to the queue (refusing it if it would wait behind
 * max_queued others) and kicks it.  Reasons in err.
 */
enum queue_result queue_submit(struct rundir *rd, const struct conf *c,
	    const char *id, const struct queue_start *qs, char *err,
	    size_t errlen);

/*
 * Puts job id back in the queue, first in line (behind no one: it had
 * left the queue before the jobs now in it), or last if there is no
 * number before the first.  Does not kick.  Reasons in err.
 */
enum queue_result queue_requeue(struct rundir *rd, const char *id,
	    char *err, size_t errlen);

/* Starts waiting jobs while their slots are free.  Reasons in err. */
enum queue_result queue_kick(struct rundir *rd, const struct conf *c,
	    const struct queue_start *qs, char *err, size_t errlen);

/*
 * Under the lock, hands the ids of every waiting job, oldest entry first,
 * to choose(arg, ids, pick, n), which sets pick[i] for those to remove;
 * removes them, and calls removed(arg, id) for each after the lock is
 * given back.  Reasons in err.
 */
enum queue_result queue_remove(struct rundir *rd,
	    void (*choose)(void *arg, char (*ids)[JOB_ID_MAX], int *pick,
	    size_t n), void (*removed)(void *arg, const char *id), void *arg,
	    char *err, size_t errlen);

/*
 * Whether job id waits in the queue (read without the lock, for people's
 * commands).  Returns 1 or 0.
 */
int	 queue_has(struct rundir *rd, const char *id);

/*
 * Without the lock, for a reader (metrics): how many jobs wait, and the
 * id of the oldest one in oldest ("" if none was found).  Returns the
 * count, or -1 (errno set).
 */
int	 queue_peek(struct rundir *rd, char oldest[JOB_ID_MAX]);

/* Without the lock: how many jobs wait ahead of id, or -1 (not there). */
int	 queue_position(struct rundir *rd, const char *id);

/*
 * The ids of the jobs whose trainers run on slots now (at most max, into
 * ids, each JOB_ID_MAX bytes).  Returns the count.
 */
int	 slots_running(struct rundir *rd, const struct conf *c,
	    char (*ids)[JOB_ID_MAX], int max);

/* Names the trainer now on the slots, which keep it until it ends. */
void	 slots_own(const struct slots *s, pid_t pid, unsigned long long start,
	    const char *id);

/*
 * Clears the name in s (what ran on them has ended: no trainer is left to
 * guard) and releases them, for the next job.
 */
void	 slots_vacate(struct slots *s);

/* Gives the slots back (closes their descriptors). */
void	 slots_release(struct slots *s);

#endif
