/*
 * queue.c: FIFO admission and slot locks, settled with flock(2) only.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "queue.h"
#include "rundir.h"

/* Takes the queue lock; returns its fd, or -1. */
static int
queue_lock(const struct conf *c)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/.queue.lock", c->run_dir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) == -1)
		return -1;
	while (flock(fd, LOCK_EX) == -1)
		if (errno != EINTR) {
			close(fd);
			return -1;
		}
	return fd;
}

/* Returns 1 if the entry's owner is gone (the entry is then removed). */
static int
entry_stale(const char *path)
{
	int fd, stale = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return errno == ENOENT;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
		unlink(path);
		stale = 1;
	}
	close(fd);
	return stale;
}

/*
 * Looks at the waiting jobs (removing stale entries).  Counts them into
 * *n and copies the oldest id into head (if not NULL).
 */
static int
queue_scan(const struct conf *c, size_t *n, char *head, size_t headlen)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	*n = 0;
	if (head != NULL)
		head[0] = '\0';
	snprintf(path, sizeof(path), "%s/.queue", c->run_dir);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/.queue/%s", c->run_dir,
		    de->d_name);
		if (entry_stale(path))
			continue;
		(*n)++;
		if (head != NULL && (head[0] == '\0' ||
		    strcmp(de->d_name, head) < 0))
			snprintf(head, headlen, "%s", de->d_name);
	}
	closedir(d);
	return 0;
}

/*
 * Tries to take slot i without waiting.  Returns its fd, or -1 if another
 * supervisor holds it, or if the trainer that last ran on it (named in the
 * file) still lives: a supervisor that died leaves its lock to the kernel
 * but its trainer on the GPU, and the slot is not free until that ends.
 */
static int
slot_try(const struct conf *c, int i)
{
	char path[PATH_MAX], buf[64];
	unsigned long long start;
	ssize_t n;
	long pid;
	int fd;

	snprintf(path, sizeof(path), "%s/.slots/%d", c->run_dir, i);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) == -1)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) == -1)
		goto busy;
	if ((n = pread(fd, buf, sizeof(buf) - 1, 0)) > 0) {
		buf[n] = '\0';
		if (sscanf(buf, "%ld %llu", &pid, &start) == 2 && pid > 0 &&
		    start != 0 && proc_starttime((pid_t)pid) == start)
			goto busy;
	}
	return fd;
busy:
	close(fd);
	return -1;
}

static int
free_slots(const struct conf *c)
{
	int i, fd, n = 0;

	for (i = 0; i < c->slots && i < QUEUE_MAX_SLOTS; i++)
		if ((fd = slot_try(c, i)) != -1) {
			close(fd);
			n++;
		}
	return n;
}

int
queue_admit(const struct conf *c, const char *id, int *entry_fd, char *err,
    size_t errlen)
{
	char path[PATH_MAX];
	size_t waiting;
	long would;
	int lock, fd = -1, rc = -1;

	if ((lock = queue_lock(c)) == -1) {
		snprintf(err, errlen, "queue lock: %s", strerror(errno));
		return -1;
	}
	if (queue_scan(c, &waiting, NULL, 0) == -1) {
		snprintf(err, errlen, "%s/.queue: %s", c->run_dir,
		    strerror(errno));
		goto out;
	}
	/* It waits if the jobs ahead and it outnumber the free slots. */
	would = (long)waiting + 1 - free_slots(c) / c->gpus_per_job;
	if (c->max_queued >= 0 && would > c->max_queued) {
		snprintf(err, errlen, "queue full: %zu job(s) waiting, "
		    "max_queued is %ld", waiting, c->max_queued);
		rc = 1;
		goto out;
	}
	snprintf(path, sizeof(path), "%s/.queue/%s", c->run_dir, id);
	if ((fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) ==
	    -1 || flock(fd, LOCK_EX | LOCK_NB) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd != -1)
			close(fd);
		goto out;
	}
	*entry_fd = fd;
	rc = 0;
out:
	close(lock);
	return rc;
}

int
queue_try_start(const struct conf *c, const char *id, struct slots *s)
{
	char head[256], path[PATH_MAX];
	size_t waiting;
	int lock, i, fd, rc = 0;

	s->n = 0;
	if ((lock = queue_lock(c)) == -1)
		return -1;
	if (queue_scan(c, &waiting, head, sizeof(head)) == -1) {
		rc = -1;
		goto out;
	}
	if (strcmp(head, id) != 0)
		goto out;
	for (i = 0; i < c->slots && i < QUEUE_MAX_SLOTS &&
	    s->n < c->gpus_per_job; i++)
		if ((fd = slot_try(c, i)) != -1) {
			s->fd[s->n] = fd;
			s->idx[s->n++] = i;
		}
	if (s->n < c->gpus_per_job) {
		slots_release(s);
		goto out;
	}
	snprintf(path, sizeof(path), "%s/.queue/%s", c->run_dir, id);
	unlink(path);
	rc = 1;
out:
	close(lock);
	return rc;
}

void
queue_leave(const struct conf *c, const char *id)
{
	char path[PATH_MAX];
	int lock;

	lock = queue_lock(c);
	snprintf(path, sizeof(path), "%s/.queue/%s", c->run_dir, id);
	unlink(path);
	if (lock != -1)
		close(lock);
}

void
slots_own(const struct slots *s, pid_t pid, unsigned long long start)
{
	char buf[64];
	int i, n;

	n = snprintf(buf, sizeof(buf), "%ld %llu\n", (long)pid, start);
	for (i = 0; i < s->n; i++)
		/* Best effort: without the name the lock alone guards it. */
		if (ftruncate(s->fd[i], 0) == 0)
			(void)!pwrite(s->fd[i], buf, n, 0);
}

void
slots_release(struct slots *s)
{
	int i;

	for (i = 0; i < s->n; i++)
		close(s->fd[i]);
	s->n = 0;
}
