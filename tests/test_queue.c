/*
 * test_queue.c: the queue without processes: FIFO order, max_queued,
 * entries that are stale, planted or missing, removal, and a slot held by
 * the live trainer of a dead supervisor.  The start callback records
 * instead of spawning.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "queue.h"
#include "rundir.h"
#include "t.h"
#include "util.h"

static char top[] = "/tmp/swh-queue-XXXXXX";

/* What the queue started, in order. */
static char started[16][JOB_ID_MAX];
static int nstarted;

static int
record(void *arg, const char *id, struct slots *s)
{
	(void)arg;
	if (nstarted < 16)
		snprintf(started[nstarted++], JOB_ID_MAX, "%s", id);
	slots_release(s);	/* as if its trainer ended at once */
	return 0;
}

static const struct queue_start rec = { record, NULL, NULL };

/* A job's own configuration: "closed" (outside its window) for one id. */
static const char *closed_id;
static const struct conf *closed_conf;

static const struct conf *
own_conf(void *arg, const char *id)
{
	(void)arg;
	return strcmp(id, closed_id) == 0 ? closed_conf : NULL;
}

static int
load(struct conf *c, const char *extra)
{
	char path[PATH_MAX], err[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/conf", top);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fprintf(f, "run_dir = %s/runs\nsecret = x\n%s", top, extra);
	fclose(f);
	if (conf_load(c, path, err, sizeof(err)) == -1) {
		printf("# %s\n", err);
		return -1;
	}
	return 0;
}

/* Makes slot 0 look taken by a live trainer (ourselves), or free. */
static void
slot0(int busy)
{
	char path[PATH_MAX], buf[128];
	int fd, n;

	snprintf(path, sizeof(path), "%s/runs/.slots/0", top);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1)
		return;
	n = snprintf(buf, sizeof(buf), "%ld %llu 20261129T000000.000Z-"
	    "0000000-x\n", busy ? (long)getpid() : 999999999L,
	    busy ? proc_starttime(getpid()) : 1ULL);
	(void)!write(fd, buf, n);
	close(fd);
}

static const char *const ids[] = {
	"20261129T000001.000Z-1111111-a", "20261129T000002.000Z-2222222-b",
	"20261129T000003.000Z-3333333-c", "20261129T000004.000Z-4444444-d",
};

static void
pick_b(void *arg, char (*got)[JOB_ID_MAX], int *pick, size_t n)
{
	size_t i;

	(void)arg;
	for (i = 0; i < n; i++)
		pick[i] = strcmp(got[i], ids[1]) == 0;
}

static int nremoved;

static void
removed(void *arg, const char *id)
{
	(void)arg;
	(void)id;
	nremoved++;
}

int
main(void)
{
	char err[256], path[PATH_MAX];
	struct rundir rd;
	struct conf c;
	enum queue_result r;
	int i, fd;

	PLAN(19);
	if (mkdtemp(top) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/runs", top);
	mkdir(path, 0750);
	if (load(&c, "slots = 1\nmax_queued = 3\n") == -1 ||
	    rundir_open(&rd, path, 1, err, sizeof(err)) == -1) {
		CHECK(0, "setup: config and run directory", "%s", err);
		return t_exit();
	}

	/* The slot is taken by a trainer whose supervisor died: all wait. */
	slot0(1);
	for (i = 0; i < 3; i++) {
		r = queue_submit(&rd, &c, ids[i], &rec, err,
		    sizeof(err));
		CHECK(r == QUEUE_OK, "submit while the slot is taken", "%d %s",
		    r, err);
	}
	CHECK(nstarted == 0, "a slot whose trainer lives is not given away",
	    "%d started", nstarted);
	r = queue_submit(&rd, &c, ids[3], &rec, err, sizeof(err));
	CHECK(r == QUEUE_FULL && strstr(err, "max_queued is 3"),
	    "max_queued refuses the fourth", "%d %s", r, err);
	CHECK(queue_has(&rd, ids[1]) && !queue_has(&rd, ids[3]),
	    "queue_has", "mismatch");

	/* The middle one leaves; the trainer ends; the rest start in order. */
	r = queue_remove(&rd, pick_b, removed, NULL, err, sizeof(err));
	CHECK(r == QUEUE_OK && nremoved == 1 && !queue_has(&rd, ids[1]),
	    "queue_remove takes one out of the middle", "%d %d", r, nremoved);
	slot0(0);
	r = queue_kick(&rd, &c, &rec, err, sizeof(err));
	CHECK(r == QUEUE_OK && nstarted == 2 && strcmp(started[0], ids[0]) ==
	    0 && strcmp(started[1], ids[2]) == 0, "first in, first out, "
	    "past the hole", "%d started: %s %s", nstarted, started[0],
	    started[1]);
	CHECK(!queue_has(&rd, ids[0]) && !queue_has(&rd, ids[2]),
	    "started jobs leave the queue", "still there");

	/* Planted entries: garbage, a FIFO, a symlink.  Skipped, removed. */
	nstarted = 0;
	slot0(1);
	r = queue_submit(&rd, &c, ids[3], &rec, err, sizeof(err));
	CHECK(r == QUEUE_OK && nstarted == 0, "a job waits while the slot's "
	    "trainer lives", "%d %d %s", r, nstarted, err);
	snprintf(path, sizeof(path), "%s/runs/.queue/%020llu", top, 100ULL);
	mkfifo(path, 0600);
	snprintf(path, sizeof(path), "%s/runs/.queue/%020llu", top, 101ULL);
	if ((fd = open(path, O_WRONLY | O_CREAT, 0600)) != -1) {
		(void)!write(fd, "../../etc\n", 10);
		close(fd);
	}
	snprintf(path, sizeof(path), "%s/runs/.queue/%020llu", top, 102ULL);
	(void)!symlink("/etc/passwd", path);
	snprintf(path, sizeof(path), "%s/runs/.queue.lock", top);
	if ((fd = open(path, O_WRONLY | O_TRUNC)) != -1) {	/* lost state */
		(void)!write(fd, "junk", 4);
		close(fd);
	}
	slot0(0);
	r = queue_kick(&rd, &c, &rec, err, sizeof(err));
	CHECK(r == QUEUE_OK && nstarted == 1 && strcmp(started[0], ids[3]) ==
	    0, "planted entries are skipped, the state rebuilt", "%d %d %s",
	    r, nstarted, err);
	snprintf(path, sizeof(path), "%s/runs/.queue/%020llu", top, 100ULL);
	CHECK(access(path, F_OK) == -1, "a planted FIFO is removed", "%s",
	    path);
	snprintf(path, sizeof(path), "%s/runs/.queue/%020llu", top, 102ULL);
	CHECK(access("/etc/passwd", F_OK) == 0 &&
	    faccessat(AT_FDCWD, path, F_OK, AT_SYMLINK_NOFOLLOW) == -1,
	    "a planted symlink is removed, its target kept", "%s", path);
	r = queue_submit(&rd, &c, ids[0], &rec, err, sizeof(err));
	CHECK(r == QUEUE_OK && nstarted == 2, "after all that, a new job starts "
	    "at once", "%d %d", r, nstarted);

	/*
	 * A job whose supervisor died before its trainer started goes back
	 * first in line: ahead of those that came after it.
	 */
	nstarted = 0;
	slot0(1);
	queue_submit(&rd, &c, ids[1], &rec, err, sizeof(err));
	queue_submit(&rd, &c, ids[2], &rec, err, sizeof(err));
	r = queue_requeue(&rd, ids[3], err, sizeof(err));
	CHECK(r == QUEUE_OK && queue_has(&rd, ids[3]) && queue_position(&rd,
	    ids[3]) == 0 && queue_position(&rd, ids[1]) == 1,
	    "queue_requeue puts a job first in line", "%d %d %d %s", r,
	    queue_position(&rd, ids[3]), queue_position(&rd, ids[1]), err);
	slot0(0);
	queue_kick(&rd, &c, &rec, err, sizeof(err));
	CHECK(nstarted >= 1 && strcmp(started[0], ids[3]) == 0,
	    "and it starts first", "%d started: %s", nstarted, started[0]);
	nstarted = 0;
	r = queue_requeue(&rd, ids[0], err, sizeof(err));
	CHECK(r == QUEUE_OK && queue_has(&rd, ids[0]),
	    "queue_requeue into a queue it can only end", "%d %s", r, err);

	/*
	 * A job outside its own window (its repository's section) keeps
	 * its place; the one behind it, in its window, starts.
	 */
	slot0(0);
	queue_kick(&rd, &c, &rec, err, sizeof(err));	/* all gone */
	{
		struct queue_start own = { record, own_conf, NULL };
		struct conf closed;
		char text[128], oldest[JOB_ID_MAX];
		time_t now = time(NULL);
		struct tm tm;

		gmtime_r(&now, &tm);
		snprintf(text, sizeof(text), "timezone = UTC\nrun_window = "
		    "%02d:00-%02d:00\n", (tm.tm_hour + 2) % 24,
		    (tm.tm_hour + 3) % 24);
		if (load(&closed, text) == -1) {
			CHECK(0, "closed window: setup", "%s", text);
			CHECK(0, "closed window: setup", "%s", text);
		} else {
			closed_id = ids[1];
			closed_conf = &closed;
			nstarted = 0;
			slot0(1);
			queue_submit(&rd, &c, ids[1], &own, err, sizeof(err));
			queue_submit(&rd, &c, ids[2], &own, err, sizeof(err));
			slot0(0);
			queue_kick(&rd, &c, &own, err, sizeof(err));
			CHECK(nstarted == 1 && strcmp(started[0], ids[2]) == 0 &&
			    queue_has(&rd, ids[1]) && queue_position(&rd,
			    ids[1]) == 0, "a job outside its window keeps its "
			    "place; the one behind it starts", "%d %s", nstarted,
			    nstarted ? started[0] : "");
			queue_kick(&rd, &c, &rec, err, sizeof(err));
			CHECK(nstarted == 2 && strcmp(started[1], ids[1]) == 0 &&
			    !queue_has(&rd, ids[1]) && queue_peek(&rd, oldest) ==
			    0, "once in its window it starts, and the queue is "
			    "empty", "%d %d", nstarted, queue_peek(&rd, oldest));
			conf_free(&closed);
		}
	}

	rundir_close(&rd);
	conf_free(&c);
	snprintf(path, sizeof(path), "rm -rf %s", top);
	if (system(path) != 0)
		return 1;
	return t_exit();
}
