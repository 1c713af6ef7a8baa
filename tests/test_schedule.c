/*
 * test_schedule.c: training windows (inside or not, the next
 * opening, over midnight, across a DST change, in several zones), the
 * day's runs (taken with O_EXCL up to the limit, given back only by their
 * job, per repository and day, never through a planted symlink), and the
 * commit status each job state is shown as.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "commitstatus.h"
#include "conf.h"
#include "job.h"
#include "rundir.h"
#include "schedule.h"
#include "t.h"
#include "util.h"

/* The epoch second of local time s ("YYYY-MM-DD HH:MM") in zone. */
static time_t
local(const char *zone, const char *s)
{
	struct tm tm;

	setenv("TZ", zone, 1);
	tzset();
	memset(&tm, 0, sizeof(tm));
	if (strptime(s, "%Y-%m-%d %H:%M", &tm) == NULL)
		abort();
	tm.tm_isdst = -1;
	return mktime(&tm);
}

static void
windows(struct conf *c, const char *zone, const char *spec)
{
	char err[256];

	memset(c, 0, sizeof(*c));
	c->timezone = (char *)zone;
	if (window_parse(c->windows, &c->nwindows, spec, err,
	    sizeof(err)) == -1) {
		printf("FAIL parse %s: %s\n", spec, err);
		exit(1);
	}
}

/*
 * A config reloaded without timezone: times are in the zone the process
 * started in again, not in the one the last config named.  First of all
 * (the process's zone is what the first look at a config finds).
 */
static void
test_zone_dropped(void)
{
	struct conf with, without;
	char a[32], b[32];
	time_t t;

	setenv("TZ", "UTC", 1);
	tzset();
	t = local("UTC", "2026-11-30 01:00");
	setenv("TZ", "UTC", 1);
	tzset();
	windows(&with, "Asia/Shanghai", "Mon-Fri 09:00-19:00");
	windows(&without, NULL, "Mon-Fri 09:00-19:00");
	sched_format(&with, t, a);
	sched_format(&without, t, b);
	CHECK(strcmp(a, "Mon 2026-11-30 09:00") == 0 &&
	    strcmp(b, "Mon 2026-11-30 01:00") == 0, "a config without "
	    "timezone after one with: the process's own zone again",
	    "with %s, without %s", a, b);
}

static void
test_open(void)
{
	static const struct {
		const char	*zone, *spec, *now;
		int		 open;
		const char	*next;	/* local, NULL: now */
	} rows[] = {
		/* 2026-11-30 is a Monday. */
		{ "Asia/Shanghai", "Mon-Fri 09:00-19:00", "2026-11-30 08:59", 0,
		    "2026-11-30 09:00" },
		{ "Asia/Shanghai", "Mon-Fri 09:00-19:00", "2026-11-30 09:00", 1,
		    NULL },
		{ "Asia/Shanghai", "Mon-Fri 09:00-19:00", "2026-11-30 18:59", 1,
		    NULL },
		{ "Asia/Shanghai", "Mon-Fri 09:00-19:00", "2026-11-30 19:00", 0,
		    "2026-12-01 09:00" },
		{ "Asia/Shanghai", "Mon-Fri 09:00-19:00", "2026-12-04 19:30", 0,
		    "2026-12-07 09:00" },
		{ "Asia/Shanghai", "Mon-Fri 09:00-19:00", "2026-12-05 12:00", 0,
		    "2026-12-07 09:00" },
		/* Over midnight: Friday's window runs into Saturday. */
		{ "UTC", "Fri 22:00-06:00", "2026-12-04 21:59", 0,
		    "2026-12-04 22:00" },
		{ "UTC", "Fri 22:00-06:00", "2026-12-04 23:30", 1, NULL },
		{ "UTC", "Fri 22:00-06:00", "2026-12-05 05:59", 1, NULL },
		{ "UTC", "Fri 22:00-06:00", "2026-12-05 06:00", 0,
		    "2026-12-11 22:00" },
		{ "UTC", "Fri 22:00-06:00", "2026-12-05 23:00", 0,
		    "2026-12-11 22:00" },
		/* A week that wraps: Sat-Mon. */
		{ "UTC", "Sat-Mon 00:00-24:00", "2026-12-01 00:00", 0,
		    "2026-12-05 00:00" },
		{ "UTC", "Sat-Mon 00:00-24:00", "2026-11-30 23:59", 1, NULL },
		/* Several windows: the earliest next one. */
		{ "UTC", "Mon 09:00-10:00, Mon 12:00-13:00", "2026-11-30 10:30",
		    0, "2026-11-30 12:00" },
		/* New York leaves DST on 2026-11-01 at 02:00. */
		{ "America/New_York", "Sun 03:00-04:00", "2026-11-01 00:30", 0,
		    "2026-11-01 03:00" },
		{ "America/New_York", "Sun 03:00-04:00", "2026-11-01 03:30", 1,
		    NULL },
	};
	char name[160], buf[32];
	struct conf c;
	time_t now, next, want;
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		windows(&c, rows[i].zone, rows[i].spec);
		now = local(rows[i].zone, rows[i].now);
		want = rows[i].next ? local(rows[i].zone, rows[i].next) : now;
		setenv("TZ", "UTC", 1);		/* sched_* set it back */
		tzset();
		next = sched_next_open(&c, now);
		sched_format(&c, next, buf);
		snprintf(name, sizeof(name), "%s \"%s\" at %s: %s, next %s",
		    rows[i].zone, rows[i].spec, rows[i].now, rows[i].open ?
		    "open" : "closed", rows[i].next ? rows[i].next : "now");
		CHECK(sched_open(&c, now) == rows[i].open && next == want,
		    name, "open %d, next %s (%lld, want %lld)",
		    sched_open(&c, now), buf, (long long)next,
		    (long long)want);
	}
	memset(&c, 0, sizeof(c));
	CHECK(sched_open(&c, 0) == 1 && sched_next_open(&c, 12345) == 12345,
	    "no windows: always open", "closed");
	windows(&c, "Asia/Shanghai", "Mon-Fri 09:00-19:00");
	sched_format(&c, local("Asia/Shanghai", "2026-11-30 09:00"), buf);
	CHECK(strcmp(buf, "Mon 2026-11-30 09:00") == 0,
	    "sched_format: the zone's local time", "%s", buf);
}

static int
count(const char *dir)
{
	char cmd[512];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -A %s 2>/dev/null | wc -l", dir);
	if ((p = popen(cmd, "r")) != NULL) {
		if (fscanf(p, "%d", &n) != 1)
			n = -1;
		pclose(p);
	}
	return n;
}

static void
test_tickets(void)
{
	char top[] = "/tmp/swh-sched-XXXXXX", name[64], a[64], b[64];
	char err[512], path[512], day[16];
	struct rundir rd;
	struct conf c;
	struct tm tm;
	time_t now;
	int i, ok;

	if (mkdtemp(top) == NULL || chmod(top, 0755) == -1 ||
	    rundir_open(&rd, top, 1, err, sizeof(err)) == -1) {
		printf("FAIL setup: %s\n", err);
		return;
	}
	memset(&c, 0, sizeof(c));
	CHECK(sched_ticket_take(&rd, &c, "acme/train", "job-0", name, err,
	    sizeof(err)) == TICKET_OK && name[0] == '\0',
	    "no limit: nothing taken", "%s", name);
	c.max_runs_per_day = 3;
	c.timezone = "UTC";
	for (i = 0, ok = 1; i < 3; i++) {
		snprintf(a, sizeof(a), "job-%d", i + 1);
		ok &= sched_ticket_take(&rd, &c, "acme/train", a, name, err,
		    sizeof(err)) == TICKET_OK;
	}
	CHECK(ok && strlen(name) == 25 && name[10] == '/' &&
	    strcmp(name + 23, "-3") == 0, "three runs taken, named DAY/HASH-N",
	    "%s: %s", name, err);
	CHECK(sched_ticket_take(&rd, &c, "acme/train", "job-4", b, err,
	    sizeof(err)) == TICKET_NONE && strstr(err,
	    "max_runs_per_day (3) reached for acme/train on "),
	    "the fourth: none left, and why", "%s", err);
	CHECK(sched_ticket_take(&rd, &c, "acme/other", "job-5", a, err,
	    sizeof(err)) == TICKET_OK, "another repository has its own runs",
	    "%s", err);
	now = sched_now();
	gmtime_r(&now, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	snprintf(path, sizeof(path), "%s/.runs/%s", top, day);
	CHECK(count(path) == 4, "one file per run, in the day's folder",
	    "%d in %s", count(path), path);
	/* name is job-3's: a wrong job cannot give it back. */
	sched_ticket_return(&rd, name, "job-2");
	CHECK(count(path) == 4, "given back only by its own job", "%d",
	    count(path));
	sched_ticket_return(&rd, name, "job-3");
	CHECK(count(path) == 3, "given back by its job", "%d", count(path));
	CHECK(sched_ticket_take(&rd, &c, "acme/train", "job-6", a, err,
	    sizeof(err)) == TICKET_OK && strcmp(a, name) == 0,
	    "the run given back is taken again", "%s vs %s", a, name);
	sched_ticket_return(&rd, "../../etc/passwd", "job-6");
	sched_ticket_return(&rd, "2026-11-30/../../x-1", "job-6");
	sched_ticket_return(&rd, NULL, "job-6");
	CHECK(count(path) == 4, "names that are no run are ignored", "%d",
	    count(path));
	rundir_close(&rd);
	snprintf(path, sizeof(path), "rm -rf %s", top);
	if (system(path) != 0)
		printf("FAIL cleanup\n");
}

static void
describe(const char *name, struct job *j, const struct conf *c,
    int behind, const char *gh, const char *desc)
{
	char d[STATUS_DESC_MAX + 1];
	const char *g = commitstatus_describe(c, j, behind, NULL, d);

	CHECK(strcmp(g, gh) == 0 && strcmp(d, desc) == 0, name,
	    "%s \"%s\", want %s \"%s\"", g, d, gh, desc);
}

static void
test_describe(void)
{
	struct conf c;
	struct job j;
	char d[STATUS_DESC_MAX + 1], long_err[400];
	size_t i;

	memset(&c, 0, sizeof(c));
	job_init(&j);
	j.state = JOB_QUEUED;
	describe("queued", &j, &c, 0, "pending", "queued");
	describe("queued behind 2", &j, &c, 2, "pending", "queued behind 2");
	windows(&c, "UTC", "Mon 09:00-10:00");
	if (sched_open(&c, sched_now()))
		windows(&c, "UTC", "Tue 09:00-10:00");
	commitstatus_describe(&c, &j, 2, NULL, d);
	CHECK(strncmp(d, "queued: waiting for the run window (opens ", 42) ==
	    0, "queued outside the window: until when", "%s", d);
	memset(&c, 0, sizeof(c));
	j.state = JOB_PREPARING;
	describe("preparing", &j, &c, -1, "pending", "preparing");
	snprintf(j.waiting, sizeof(j.waiting), "gpu busy");
	describe("waiting for a GPU", &j, &c, -1, "pending",
	    "waiting: gpu busy");
	j.waiting[0] = '\0';
	j.state = JOB_RUNNING;
	j.gpus = "0,1";
	describe("running", &j, &c, -1, "pending", "running on GPU 0,1");
	j.gpus = NULL;
	j.state = JOB_SUCCEEDED;
	j.started = 1000;
	j.finished = 1000 + 3725;
	j.results.have = R_LOSS;
	j.results.loss = 0.41234;
	describe("succeeded", &j, &c, -1, "success",
	    "succeeded in 1h02m, loss 0.4123");
	{
		struct job prev;

		job_init(&prev);
		prev.results.have = R_LOSS;
		prev.results.loss = 0.5;
		commitstatus_describe(&c, &j, -1, &prev, d);
		CHECK(strcmp(d, "succeeded in 1h02m, loss 0.4123 (was 0.5)") ==
		    0, "succeeded: its loss against the previous run's", "%s",
		    d);
		prev.results.have = 0;
		commitstatus_describe(&c, &j, -1, &prev, d);
		CHECK(strcmp(d, "succeeded in 1h02m, loss 0.4123") == 0,
		    "a previous run without a loss: not said", "%s", d);
	}
	snprintf(j.after_state, sizeof(j.after_state), "succeeded");
	describe("succeeded, exported", &j, &c, -1, "success",
	    "succeeded in 1h02m, loss 0.4123; after_success done");
	snprintf(j.after_state, sizeof(j.after_state), "failed");
	j.after_exit = 2;
	describe("succeeded, export failed: failure", &j, &c, -1, "failure",
	    "succeeded in 1h02m, loss 0.4123; after_success failed (exit 2)");
	snprintf(j.after_state, sizeof(j.after_state), "timeout");
	j.after_exit = -1;
	describe("succeeded, export timed out", &j, &c, -1, "failure",
	    "succeeded in 1h02m, loss 0.4123; after_success timeout");
	j.after_state[0] = '\0';
	j.results.have = 0;
	j.state = JOB_FAILED;
	j.exit_code = 3;
	describe("failed with an exit code: failure", &j, &c, -1, "failure",
	    "failed (exit 3) in 1h02m");
	j.exit_code = -1;
	snprintf(j.error, sizeof(j.error), "git fetch: fatal:\trepository "
	    "not found\n");
	describe("failed to start: error, control characters gone", &j, &c,
	    -1, "error", "failed: git fetch: fatal: repository not found ");
	for (i = 0; i < sizeof(long_err) - 1; i++)
		long_err[i] = "ab\xc3\xa9"[i % 4];	/* "abé" */
	long_err[i] = '\0';
	snprintf(j.error, sizeof(j.error), "%s", long_err);
	commitstatus_describe(&c, &j, -1, NULL, d);
	CHECK(strlen(d) <= STATUS_DESC_MAX && strlen(d) >= 136 &&
	    strcmp(d + strlen(d) - 3, "...") == 0 && utf8_valid(d),
	    "a long reason: cut to 140 bytes of valid UTF-8", "%zu: %s",
	    strlen(d), d);
	j.error[0] = '\0';
	j.state = JOB_KILLED;
	j.signal = 9;
	describe("killed: failure", &j, &c, -1, "failure",
	    "killed by signal 9 in 1h02m");
	j.state = JOB_TIMEOUT;
	snprintf(j.error, sizeof(j.error), "stopped: the run window closed");
	describe("timeout: failure", &j, &c, -1, "failure",
	    "timed out in 1h02m: stopped: the run window closed");
	j.error[0] = '\0';
	j.state = JOB_CANCELLED;
	describe("cancelled: error", &j, &c, -1, "error", "cancelled in 1h02m");
	j.started = 0;
	j.state = JOB_SUPERSEDED;
	describe("superseded: error", &j, &c, -1, "error",
	    "superseded by a newer push");
}

int
main(void)
{
	PLAN(47);
	test_zone_dropped();
	test_open();
	test_tickets();
	test_describe();
	return t_exit();
}
