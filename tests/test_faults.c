/*
 * test_faults.c: failures that do not happen on demand, injected: a
 * close(2) that fails, a setpgid(2) or close_range(2) that fails in a
 * child, and the wall clock stepped by an hour while a deadline runs.
 * This program defines close, setpgid, close_range, time and
 * clock_gettime itself; the calls the modules make reach these first and
 * the system's through syscall(2).
 */
#include <signal.h>
#include <sys/file.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "t.h"
#include "fixture.h"
#include "spawn.h"
#include "util.h"

#define PLANNED	7

extern char **environ;

static int fail_next_close;	/* the next close fails (EIO), closing */
static int failed_fd = -1;	/* the descriptor whose close failed */
static int closes_of_failed;	/* closes of that number after it */
static int fail_setpgid;	/* setpgid(0, 0) fails (EPERM) */
static int fail_close_range;	/* close_range fails (EINVAL) */
static volatile sig_atomic_t clock_offset;	/* seconds added to the
						   wall clock */

int
close(int fd)
{
	int r = (int)syscall(SYS_close, fd);

	if (fd == failed_fd)
		closes_of_failed++;
	if (fail_next_close && r == 0) {
		/* As Linux does: the descriptor is gone, all the same. */
		fail_next_close = 0;
		failed_fd = fd;
		errno = EIO;
		return -1;
	}
	return r;
}

int
setpgid(pid_t pid, pid_t pgid)
{
	if (fail_setpgid && pid == 0 && pgid == 0) {
		errno = EPERM;
		return -1;
	}
	return (int)syscall(SYS_setpgid, pid, pgid);
}

int
close_range(unsigned int first, unsigned int last, int flags)
{
	if (fail_close_range) {
		errno = EINVAL;
		return -1;
	}
	return (int)syscall(SYS_close_range, first, last, flags);
}

int
clock_gettime(clockid_t id, struct timespec *ts)
{
	int r = (int)syscall(SYS_clock_gettime, id, ts);

	if (r == 0 && id == CLOCK_REALTIME)
		ts->tv_sec += clock_offset;
	return r;
}

time_t
time(time_t *t)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (t != NULL)
		*t = ts.tv_sec;
	return ts.tv_sec;
}

/* SIGALRM: the wall clock is stepped an hour ahead (NTP, an admin). */
static void
step(int sig)
{
	(void)sig;
	clock_offset += 3600;
}

static void
test_close(void)
{
	char path[PATH_MAX], tmp[64];
	int dfd, rc;

	dfd = open(fx_top, O_RDONLY | O_DIRECTORY);
	failed_fd = -1;
	closes_of_failed = 0;
	fail_next_close = 1;
	rc = file_write_at(dfd, "data", "x", 1, 0640, 0);
	CHECK(rc == -1 && errno == EIO && failed_fd != -1 &&
	    closes_of_failed == 0, "a failed close is not closed again",
	    "rc=%d errno=%d, closed %d more time(s)", rc, errno,
	    closes_of_failed);
	snprintf(tmp, sizeof(tmp), ".data.tmp%ld", (long)getpid());
	CHECK(access(fx_path(path, "data"), F_OK) == -1 &&
	    access(fx_path(path, tmp), F_OK) == -1,
	    "and nothing is left of the write", "a file is there");
	failed_fd = -1;
	syscall(SYS_close, dfd);
}

static void
test_setpgid(void)
{
	char *const argv[] = { "/bin/true", NULL };
	struct child ch;
	int r;

	memset(&ch, 0, sizeof(ch));
	ch.exe = "/bin/true";
	ch.argv = argv;
	ch.envp = environ;
	ch.dir = "/";
	ch.out = -1;
	fail_setpgid = 1;
	r = spawn_child(&ch);
	fail_setpgid = 0;
	CHECK(r == -1 && ch.stage == STAGE_PGRP && errno == EPERM,
	    "a child whose setpgid fails is not run, and says so",
	    "r=%d stage %d (%s) errno %d", r, ch.stage,
	    spawn_stage_name(ch.stage), errno);
}

static void __attribute__((noreturn))
reports_started(void *arg, int report)
{
	(void)arg;
	spawn_report(report, REPORT_KINDS, 0, 0, getpid());
	_exit(0);
}

static void
test_close_range(void)
{
	struct spawn_report r;
	struct detach d;
	char err[256];
	int rc;

	memset(&d, 0, sizeof(d));
	d.out = -1;
	d.report = 1;
	d.fn = reports_started;
	fail_close_range = 1;
	rc = spawn_detach(&d, err, sizeof(err));
	fail_close_range = 0;
	CHECK(rc == 0 && spawn_detach_wait(&d, &r) == 0 &&
	    r.kind == REPORT_FAILED && r.stage == STAGE_FDS && r.err == EINVAL,
	    "a detach whose close_range fails keeps nothing open: it fails "
	    "and says so", "rc=%d kind %d stage %d err %d", rc, r.kind,
	    r.stage, r.err);
}

static void
test_clock_step(void)
{
	char *const argv[] = { "sleep", "2", NULL };
	char tail[128], path[PATH_MAX];
	enum run_end end;
	struct child run;
	int status, fd, held, rc, p[2];
	pid_t pid;

	signal(SIGALRM, step);
	memset(&run, 0, sizeof(run));
	run.argv = argv;
	run.envp = environ;
	run.dir = "/";
	run.timeout = 10;
	run.quiet = 1;
	alarm(1);
	end = spawn_run(&run, &status, tail, sizeof(tail));
	CHECK(end == RUN_EXITED && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0, "a clock stepped an hour ahead does "
	    "not end a run before its time", "end %d status %d %s", end,
	    status, tail);

	/* A lock its holder lets go of after 2 s, waited for up to 10 s. */
	fd = open(fx_path(path, "lock"), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd == -1 || pipe(p) == -1) {
		CHECK(0, "lock: setup", "%s", strerror(errno));
		return;
	}
	if ((pid = fork()) == 0) {
		held = open(path, O_RDWR | O_CLOEXEC);
		flock(held, LOCK_EX);
		(void)!write(p[1], "x", 1);
		sleep(2);
		_exit(0);
	}
	(void)!read(p[0], tail, 1);
	alarm(1);
	rc = lock_wait(fd, 10, NULL, NULL);
	waitpid(pid, NULL, 0);
	CHECK(rc == 0, "nor does it end the wait for a lock", "rc=%d %s", rc,
	    strerror(errno));
	CHECK(clock_offset == 7200, "the clock was stepped twice",
	    "offset %ld", (long)clock_offset);
	syscall(SYS_close, fd);
	syscall(SYS_close, p[0]);
	syscall(SYS_close, p[1]);
}

int
main(int argc, char *argv[])
{
	(void)argc;
	PLAN(PLANNED);
	if (fx_init("faults", argv[0], NULL) == -1 ||
	    spawn_init(environ) == -1) {
		CHECK(0, "setup", "%s", strerror(errno));
		return t_exit();
	}
	test_close();
	test_setpgid();
	test_close_range();
	test_clock_step();
	fx_done();
	return t_exit();
}
