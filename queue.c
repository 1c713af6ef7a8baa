/*
 * queue.c: FIFO admission and slot locks, settled with flock(2) only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "queue.h"
#include "schedule.h"
#include "util.h"

/* The queue's sequence numbers, kept in the lock file. */
struct qstate {
	unsigned long long	head;	/* the oldest entry that may exist */
	unsigned long long	tail;	/* the next entry's number */
	unsigned long long	count;	/* entries that exist */
};

/*
 * Takes the queue lock without ever blocking on it for good (lock_wait,
 * QUEUE_LOCK_WAIT).  Returns the lock's descriptor, or -1 with errno
 * (ETIMEDOUT: busy).
 */
static int
queue_lock(struct rundir *rd)
{
	return lock_at(rd->fd, ".queue.lock", 0600, rd->uid, QUEUE_LOCK_WAIT,
	    NULL, NULL);
}

static enum queue_result
lock_error(struct rundir *rd, char *err, size_t errlen)
{
	if (errno == ETIMEDOUT) {
		snprintf(err, errlen, "run directory busy: %s/.queue.lock "
		    "held by another process for over %d s", rd->path,
		    QUEUE_LOCK_WAIT);
		return QUEUE_BUSY;
	}
	snprintf(err, errlen, "%s/.queue.lock: %s", rd->path,
	    errno == ELOOP ? "a symlink (refused)" : errno == EINVAL ?
	    "not a regular file" : errno == EPERM ? "not owned by the run "
	    "directory's owner" : strerror(errno));
	return QUEUE_ERROR;
}

static int
seq_of(const char *name, unsigned long long *seq)
{
	char *end;

	if (strlen(name) != 20 || name[strspn(name, "0123456789")] != '\0')
		return -1;
	*seq = strtoull(name, &end, 10);
	return 0;
}

/* dir_each: counts an entry of the queue into the state. */
static int
count_entry(void *arg, const char *name)
{
	struct qstate *q = arg;
	unsigned long long seq;

	if (seq_of(name, &seq) == 0) {
		q->count++;
		if (seq < q->head)
			q->head = seq;
		if (seq >= q->tail)
			q->tail = seq + 1;
	}
	return 0;
}

/*
 * Rebuilds the state from the entries, when the lock file holds none (a
 * new run directory) or nonsense.
 */
static void
state_rebuild(struct rundir *rd, struct qstate *q)
{
	q->head = ~0ULL;
	q->tail = q->count = 0;
	dir_each(rd->queue, count_entry, q);
	if (q->count == 0)
		q->head = q->tail;
}

static void
state_read(struct rundir *rd, int lock, struct qstate *q)
{
	char buf[128];
	ssize_t n;

	if ((n = pread(lock, buf, sizeof(buf) - 1, 0)) > 0) {
		buf[n] = '\0';
		if (sscanf(buf, "%llu %llu %llu", &q->head, &q->tail,
		    &q->count) == 3 && q->head <= q->tail &&
		    q->count <= q->tail - q->head)
			return;
	}
	state_rebuild(rd, q);
}

static void
state_write(int lock, struct qstate *q)
{
	char buf[128];
	int n;

	if (q->count == 0 || q->head >= q->tail) {
		q->head = q->tail;	/* holes left by a crash heal here */
		q->count = 0;
	}
	n = snprintf(buf, sizeof(buf), "%llu %llu %llu\n", q->head, q->tail,
	    q->count);
	if (pwrite(lock, buf, n, 0) == n)
		(void)!ftruncate(lock, n);
}

/*
 * Reads entry seq: the id of a waiting job.  Returns 0, or -1 if there is
 * none (errno ENOENT) or it is not one (anything else: removed).
 */
static int
entry_read(struct rundir *rd, unsigned long long seq, char id[JOB_ID_MAX])
{
	char name[24], *s;
	size_t len;

	snprintf(name, sizeof(name), "%020llu", seq);
	if ((s = file_read_at(rd->queue, name, JOB_ID_MAX, &len,
	    rd->uid)) == NULL) {
		if (errno != ENOENT)
			unlinkat(rd->queue, name, 0);
		return -1;
	}
	while (len > 0 && s[len - 1] == '\n')
		s[--len] = '\0';
	if (!job_id_valid(s)) {
		free(s);
		unlinkat(rd->queue, name, 0);
		errno = EINVAL;
		return -1;
	}
	memcpy(id, s, len + 1);
	free(s);
	return 0;
}

/*
 * Tries to take slot i without waiting.  Returns its fd, or -1 if another
 * supervisor holds it, or if the trainer that last ran on it (named in the
 * file) still lives: a supervisor that died leaves its lock to the kernel
 * but its trainer on the GPU, and the slot is not free until that ends.
 */
static int
slot_try(struct rundir *rd, int i)
{
	char name[16], buf[160], id[JOB_ID_MAX];
	unsigned long long start;
	ssize_t n;
	long pid;
	int fd;

	snprintf(name, sizeof(name), "%d", i);
	if ((fd = file_open_at(rd->slots, name, O_RDWR | O_CREAT, 0600,
	    rd->uid)) == -1)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) == -1)
		goto busy;
	if ((n = pread(fd, buf, sizeof(buf) - 1, 0)) > 0) {
		buf[n] = '\0';
		if (sscanf(buf, "%ld %llu %95s", &pid, &start, id) >= 2 &&
		    pid > 0 && start != 0 &&
		    proc_starttime((pid_t)pid) == start)
			goto busy;
	}
	return fd;
busy:
	close(fd);
	return -1;
}

/* Takes gpus_per_job slots into s, or none.  Returns 1 or 0. */
static int
slots_take(struct rundir *rd, const struct conf *c, struct slots *s)
{
	int i, fd;

	s->n = 0;
	for (i = 0; i < c->slots && i < MAX_SLOTS &&
	    s->n < c->gpus_per_job; i++)
		if ((fd = slot_try(rd, i)) != -1) {
			s->fd[s->n] = fd;
			s->idx[s->n++] = i;
		}
	if (s->n < c->gpus_per_job) {
		slots_release(s);
		return 0;
	}
	return 1;
}

static int
free_slots(struct rundir *rd, const struct conf *c)
{
	int i, fd, n = 0;

	for (i = 0; i < c->slots && i < MAX_SLOTS; i++)
		if ((fd = slot_try(rd, i)) != -1) {
			close(fd);
			n++;
		}
	return n;
}

/*
 * Under the lock: starts the oldest jobs while their slots are free.  A
 * job outside its training windows (its configuration's, jconf says
 * which) keeps its place and lets those behind it whose window is open
 * go; the first that is in its window and finds too few slots free
 * stops the kick, so none overtakes it.
 */
static void
kick(struct rundir *rd, const struct conf *c, int lock, struct qstate *q,
    const struct queue_start *qs)
{
	char id[JOB_ID_MAX], name[24];
	const struct conf *jc;
	unsigned long long seq;
	struct slots s;
	time_t now = sched_now();

	for (seq = q->head; q->count > 0 && seq < q->tail; seq++) {
		if (entry_read(rd, seq, id) == -1) {
			if (seq == q->head) {	/* a hole: removed by cancel */
				if (errno != ENOENT)
					q->count--;
				q->head++;
			}
			continue;
		}
		if (qs->conf == NULL || (jc = qs->conf(qs->arg, id)) == NULL)
			jc = c;
		if (!sched_open(jc, now)) {
			/* One configuration for all: all of them wait. */
			if (jc == c && conf_file((struct conf *)c)->nsections ==
			    0)
				break;
			continue;
		}
		if (!slots_take(rd, jc, &s))
			break;
		snprintf(name, sizeof(name), "%020llu", seq);
		unlinkat(rd->queue, name, 0);
		if (seq == q->head)
			q->head++;
		q->count--;
		/* Recorded first: a crash below loses a start, never doubles one. */
		state_write(lock, q);
		qs->start(qs->arg, id, &s);
	}
	state_write(lock, q);
}

enum queue_result
queue_submit(struct rundir *rd, const struct conf *c, const char *id,
    const struct queue_start *qs, char *err, size_t errlen)
{
	struct qstate q;
	char name[24], line[JOB_ID_MAX + 1];
	long would;
	int lock, fd, n;

	if ((lock = queue_lock(rd)) == -1)
		return lock_error(rd, err, errlen);
	state_read(rd, lock, &q);
	/*
	 * It waits if the jobs ahead and it outnumber the free slots (none
	 * outside every training window: then each job waits).
	 */
	if ((long long)q.count + 1 > c->max_queued) {
		would = (long)q.count + 1 - (sched_open(c, sched_now()) ?
		    free_slots(rd, c) / c->gpus_per_job : 0);
		if (would > c->max_queued) {
			snprintf(err, errlen, "queue full: %llu job(s) "
			    "waiting, max_queued is %ld", q.count,
			    c->max_queued);
			close(lock);
			return QUEUE_FULL;
		}
	}
	n = snprintf(line, sizeof(line), "%s\n", id);
	for (;;) {
		snprintf(name, sizeof(name), "%020llu", q.tail);
		if ((fd = openat(rd->queue, name, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600)) != -1)
			break;
		if (errno != EEXIST) {
			snprintf(err, errlen, "%s/.queue/%s: %s", rd->path,
			    name, strerror(errno));
			close(lock);
			return QUEUE_ERROR;
		}
		q.tail++;	/* something stands there: not ours */
	}
	if (write_all(fd, line, n) == -1) {
		snprintf(err, errlen, "%s/.queue/%s: %s", rd->path, name,
		    strerror(errno));
		close(fd);
		unlinkat(rd->queue, name, 0);
		close(lock);
		return QUEUE_ERROR;
	}
	close(fd);
	q.tail++;
	q.count++;
	kick(rd, c, lock, &q, qs);
	close(lock);
	return QUEUE_OK;
}

enum queue_result
queue_requeue(struct rundir *rd, const char *id, char *err, size_t errlen)
{
	struct qstate q;
	char name[24], line[JOB_ID_MAX + 1];
	unsigned long long seq;
	int lock, fd, n;

	if ((lock = queue_lock(rd)) == -1)
		return lock_error(rd, err, errlen);
	state_read(rd, lock, &q);
	seq = q.count > 0 && q.head > 0 ? q.head - 1 : q.tail;
	snprintf(name, sizeof(name), "%020llu", seq);
	n = snprintf(line, sizeof(line), "%s\n", id);
	if ((fd = openat(rd->queue, name, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, 0600)) == -1 || write_all(fd, line, n) ==
	    -1) {
		snprintf(err, errlen, "%s/.queue/%s: %s", rd->path, name,
		    strerror(errno));
		if (fd != -1) {
			close(fd);
			unlinkat(rd->queue, name, 0);
		}
		close(lock);
		return QUEUE_ERROR;
	}
	close(fd);
	if (seq == q.tail)
		q.tail++;
	else
		q.head = seq;
	q.count++;
	state_write(lock, &q);
	close(lock);
	return QUEUE_OK;
}

enum queue_result
queue_kick(struct rundir *rd, const struct conf *c,
    const struct queue_start *qs, char *err, size_t errlen)
{
	struct qstate q;
	int lock;

	if ((lock = queue_lock(rd)) == -1)
		return lock_error(rd, err, errlen);
	state_read(rd, lock, &q);
	kick(rd, c, lock, &q, qs);
	close(lock);
	return QUEUE_OK;
}

enum queue_result
queue_remove(struct rundir *rd,
    void (*choose)(void *, char (*)[JOB_ID_MAX], int *, size_t),
    void (*removed)(void *, const char *), void *arg, char *err,
    size_t errlen)
{
	char (*ids)[JOB_ID_MAX] = NULL, (*nv)[JOB_ID_MAX], name[24];
	unsigned long long seq, *seqs = NULL, *ns;
	struct qstate q;
	size_t n = 0, i;
	int lock, *pick = NULL;

	if ((lock = queue_lock(rd)) == -1)
		return lock_error(rd, err, errlen);
	state_read(rd, lock, &q);
	for (seq = q.head; seq < q.tail; seq++) {
		if ((nv = realloc(ids, (n + 1) * sizeof(*ids))) == NULL)
			break;
		ids = nv;
		if ((ns = realloc(seqs, (n + 1) * sizeof(*seqs))) == NULL)
			break;
		seqs = ns;
		if (entry_read(rd, seq, ids[n]) == 0)
			seqs[n++] = seq;
	}
	if (n > 0 && (pick = calloc(n, sizeof(*pick))) != NULL)
		choose(arg, ids, pick, n);
	for (i = 0; pick != NULL && i < n; i++) {
		snprintf(name, sizeof(name), "%020llu", seqs[i]);
		if (pick[i] && unlinkat(rd->queue, name, 0) == 0)
			q.count--;
		else
			pick[i] = 0;
	}
	state_write(lock, &q);
	close(lock);
	for (i = 0; pick != NULL && i < n; i++)
		if (pick[i])
			removed(arg, ids[i]);
	free(pick);
	free(seqs);
	free(ids);
	return QUEUE_OK;
}

struct has {
	struct rundir	*rd;
	const char	*id;
	int		 found;
};

/* dir_each: whether the entry name names h->id. */
static int
entry_names(void *arg, const char *name)
{
	struct has *h = arg;
	char *s;

	if (name[0] == '.' || (s = file_read_at(h->rd->queue, name,
	    JOB_ID_MAX, NULL, h->rd->uid)) == NULL)
		return 0;
	h->found = strncmp(s, h->id, strlen(h->id)) == 0 &&
	    (s[strlen(h->id)] == '\n' || s[strlen(h->id)] == '\0');
	free(s);
	return h->found;
}

int
queue_has(struct rundir *rd, const char *id)
{
	struct has h = { rd, id, 0 };

	if (rd->queue != -1)
		dir_each(rd->queue, entry_names, &h);
	return h.found;
}

/* The queue's numbers as the lock file holds them, read without it. */
static int
state_peek(struct rundir *rd, struct qstate *q)
{
	char buf[128];
	ssize_t n;
	int fd;

	memset(q, 0, sizeof(*q));
	if ((fd = file_open_at(rd->fd, ".queue.lock", O_RDONLY, 0,
	    rd->uid)) == -1)
		return errno == ENOENT ? 0 : -1;
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if (sscanf(buf, "%llu %llu %llu", &q->head, &q->tail, &q->count) != 3 ||
	    q->head > q->tail || q->count > q->tail - q->head) {
		memset(q, 0, sizeof(*q));
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/*
 * Calls fn(arg, id) for the waiting jobs, oldest first, until it returns
 * non-zero; cancelled entries leave holes, so the look is bounded.
 */
static void
entries_peek(struct rundir *rd, const struct qstate *q,
    int (*fn)(void *, const char *), void *arg)
{
	unsigned long long seq;
	char name[24], *s;
	size_t len;
	int k;

	for (seq = q->head, k = 0; q->count > 0 && seq < q->tail && k < 1000;
	    seq++, k++) {
		snprintf(name, sizeof(name), "%020llu", seq);
		if ((s = file_read_at(rd->queue, name, JOB_ID_MAX, &len,
		    rd->uid)) == NULL)
			continue;
		while (len > 0 && s[len - 1] == '\n')
			s[--len] = '\0';
		if (job_id_valid(s) && fn(arg, s)) {
			free(s);
			return;
		}
		free(s);
	}
}

static int
first(void *arg, const char *id)
{
	snprintf(arg, JOB_ID_MAX, "%s", id);
	return 1;
}

int
queue_peek(struct rundir *rd, char oldest[JOB_ID_MAX])
{
	struct qstate q;

	oldest[0] = '\0';
	if (state_peek(rd, &q) == -1)
		return -1;
	entries_peek(rd, &q, first, oldest);
	return (int)(q.count > 1000000 ? 1000000 : q.count);
}

struct position {
	const char	*id;
	int		 ahead, found;
};

static int
ahead(void *arg, const char *id)
{
	struct position *p = arg;

	if (strcmp(id, p->id) == 0)
		return p->found = 1;
	p->ahead++;
	return 0;
}

int
queue_position(struct rundir *rd, const char *id)
{
	struct position p = { id, 0, 0 };
	struct qstate q;

	if (state_peek(rd, &q) == -1)
		return -1;
	entries_peek(rd, &q, ahead, &p);
	return p.found ? p.ahead : -1;
}

int
slots_running(struct rundir *rd, const struct conf *c,
    char (*ids)[JOB_ID_MAX], int max)
{
	char name[16], *s, id[JOB_ID_MAX];
	unsigned long long start;
	long pid;
	int i, k, n = 0;

	for (i = 0; rd->slots != -1 && i < c->slots && n < max; i++) {
		snprintf(name, sizeof(name), "%d", i);
		if ((s = file_read_at(rd->slots, name, 160, NULL,
		    rd->uid)) == NULL)
			continue;
		if (sscanf(s, "%ld %llu %95s", &pid, &start, id) == 3 &&
		    pid > 0 && proc_starttime((pid_t)pid) == start &&
		    job_id_valid(id)) {
			for (k = 0; k < n && strcmp(ids[k], id) != 0; k++)
				;
			if (k == n)
				memcpy(ids[n++], id, JOB_ID_MAX);
		}
		free(s);
	}
	return n;
}

void
slots_own(const struct slots *s, pid_t pid, unsigned long long start,
    const char *id)
{
	char buf[160];
	int i, n;

	n = snprintf(buf, sizeof(buf), "%ld %llu %s\n", (long)pid, start, id);
	for (i = 0; i < s->n; i++)
		/* Best effort: without the name the lock alone guards it. */
		if (ftruncate(s->fd[i], 0) == 0)
			(void)!pwrite(s->fd[i], buf, n, 0);
}

void
slots_vacate(struct slots *s)
{
	int i;

	for (i = 0; i < s->n; i++)
		(void)!ftruncate(s->fd[i], 0);
	slots_release(s);
}

void
slots_release(struct slots *s)
{
	int i;

	for (i = 0; i < s->n; i++)
		close(s->fd[i]);
	s->n = 0;
}
