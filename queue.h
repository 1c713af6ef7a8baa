/*
 * queue.h: the run queue and the slots (GPUs) jobs run on.
 *
 *	run_dir/.queue.lock	held (flock) while the queue is looked at
 *	run_dir/.queue/<job-id>	a waiting job; its supervisor holds a flock
 *	run_dir/.slots/<n>	slot n; the running job's supervisor holds it,
 *				and it names that job's trainer (PID, start)
 *
 * Every lock is a flock(2), which the kernel drops when its holder dies:
 * a crashed supervisor never keeps a slot past its trainer's life, and its
 * queue entry is found unlocked and removed by the next one to look.  Jobs start strictly in
 * the order of their ids (creation time): only the oldest waiting job may
 * take slots.
 */
#ifndef QUEUE_H
#define QUEUE_H

#include <sys/types.h>

#include "conf.h"

#define QUEUE_MAX_SLOTS 64

struct slots {
	int	fd[QUEUE_MAX_SLOTS];	/* held slot locks, -1: none */
	int	idx[QUEUE_MAX_SLOTS];	/* their numbers */
	int	n;
};

/*
 * Admits job id to the queue: under the queue lock, refuses it if it would
 * wait behind max_queued others, else creates and locks its entry.
 * Returns 0 with *entry_fd (pass it to the supervisor, then close it),
 * 1 if the queue is full (reason in err), -1 on error (reason in err).
 */
int	 queue_admit(const struct conf *c, const char *id, int *entry_fd,
	    char *err, size_t errlen);

/*
 * For the supervisor of job id: if id is the oldest waiting job and
 * gpus_per_job slots are free, takes them (into s) and leaves the queue.
 * Returns 1 if it did, 0 if the job must wait, -1 on error (errno set).
 */
int	 queue_try_start(const struct conf *c, const char *id,
	    struct slots *s);

/* Leaves the queue without running (a superseded or cancelled job). */
void	 queue_leave(const struct conf *c, const char *id);

/* Names the trainer now on the slots, which keep it until it ends. */
void	 slots_own(const struct slots *s, pid_t pid, unsigned long long start);

/* Gives the slots back. */
void	 slots_release(struct slots *s);

#endif
