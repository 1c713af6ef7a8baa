/*
 * test_spawn.c: the double fork, the run directory and claims, with real
 * processes (tests/fake-swift as the trainer).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "job.h"
#include "lifecycle.h"
#include "rundir.h"
#include "spawn.h"
#include "util.h"
#include "t.h"
#include "fixture.h"

extern char **environ;

static char top[] = "/tmp/swh-spawn-XXXXXX";
static char fake[PATH_MAX];

static void
put(const char *path, const char *text, int mode)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

static char *
readfile(const char *path)
{
	static char buf[65536];
	ssize_t n;
	int fd;

	buf[0] = '\0';
	if ((fd = open(path, O_RDONLY)) == -1)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* Waits up to 10 s for path to exist and contain needle. */
static char *
await(const char *path, const char *needle)
{
	char *s;
	int i;

	for (i = 0; i < 200; i++) {
		if ((s = readfile(path)) != NULL && strstr(s, needle) != NULL)
			return s;
		usleep(50000);
	}
	return NULL;
}

static const char *extra = "";	/* more config lines */

static int
load(struct conf *c, const char *cmd, const char *workdir)
{
	char path[PATH_MAX], text[2048], err[512];

	snprintf(path, sizeof(path), "%s/conf", top);
	snprintf(text, sizeof(text), "run_dir = %s/runs\nworkdir = %s\n"
	    "secret = test-secret\ncommand = %s\nenv = HF_HUB_OFFLINE=1\n%s",
	    top, workdir, cmd, extra);
	put(path, text, 0600);
	if (conf_load(c, path, err, sizeof(err)) == -1) {
		printf("# %s\n", err);
		return -1;
	}
	return 0;
}

static int
no_children(void)
{
	return waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD;
}

/* Creates, claims and starts a job for config under cmd. */
static int
run(struct job *j, const char *cmd, const char *workdir, const char *sha,
    const char *config, char *err, size_t errlen)
{
	struct conf c;
	struct rundir rd;
	char other[JOB_ID_MAX];
	int r = -1;

	fx_job(j, sha, config);
	snprintf(err, errlen, "setup");
	if (load(&c, cmd, workdir) == -1)
		return -1;
	if (rundir_open(&rd, c.run_dir, 1, err, errlen) == 0) {
		r = lifecycle_start(&rd, &c, j, 1, other, err, errlen) ==
		    JOB_STARTED ? 0 : -1;
		rundir_close(&rd);
	}
	conf_free(&c);
	return r;
}

static void
test_detached(void)
{
	char cmd[PATH_MAX * 2], path[PATH_MAX], work[PATH_MAX], err[512];
	char want[64], *s;
	struct job j;
	int r;

	snprintf(work, sizeof(work), "%s/work", top);
	snprintf(cmd, sizeof(cmd), "%s sft {config} --output_dir "
	    "{job_dir}/output --add_version false", fake);
	r = run(&j, cmd, work, "1111111111111111111111111111111111111111",
	    "configs/sleep.yaml", err, sizeof(err));
	CHECK(r == 0 && j.pid > 0, "spawn starts", "r=%d %s", r, err);
	if (r != 0)
		return;
	CHECK(kill(j.pid, 0) == 0, "trainer alive after spawn", "pid %ld",
	    (long)j.pid);
	CHECK(no_children(), "responder has no child left",
	    "waitpid found a child or zombie");
	snprintf(path, sizeof(path), "%s/pid", j.dir);
	snprintf(want, sizeof(want), "%ld\n", (long)j.pid);
	s = readfile(path);
	CHECK(s && strcmp(s, want) == 0, "pid file is the trainer",
	    "pid file \"%s\", trainer %ld", s ? s : "(none)", (long)j.pid);
	snprintf(path, sizeof(path), "%s/job.json", j.dir);
	s = readfile(path);
	CHECK(s && strstr(s, "\"state\":\t\"running\""), "job.json running",
	    "%s", s ? s : "(none)");

	snprintf(path, sizeof(path), "%s/output/info", j.dir);
	s = await(path, "fds=");
	CHECK(s != NULL, "trainer wrote info", "no %s", path);
	if (s != NULL) {
		char line[64];

		/* valgrind's log file leaks into what its processes exec. */
		if (getenv("VALGRIND") != NULL)
			printf("skip only fds 0-2: under valgrind\n");
		else
			CHECK(strstr(s, "\nfds=0 1 2 \n") != NULL,
			    "only fds 0-2", "%s", s);
		snprintf(line, sizeof(line), "sid=%ld\n", (long)getsid(0));
		CHECK(strstr(s, line) == NULL, "own session", "%s", s);
		snprintf(line, sizeof(line), "pgid=%ld\n", (long)j.pid);
		CHECK(strstr(s, line) != NULL, "own process group", "%s", s);
		snprintf(line, sizeof(line), "ppid=%ld\n", (long)getpid());
		CHECK(strstr(s, line) == NULL, "parent is not the responder",
		    "%s", s);
		snprintf(line, sizeof(line), "cwd=%s\n", work);
		CHECK(strstr(s, line) != NULL, "cwd is workdir", "%s", s);
	}
	snprintf(path, sizeof(path), "%s/output/env", j.dir);
	s = await(path, "PATH=");
	CHECK(s != NULL && strstr(s, "HF_HOME=/data/hf\n") &&
	    strstr(s, "HF_HUB_OFFLINE=1\n") && strstr(s, "JOB_ID=") &&
	    strstr(s, "JOB_SHA=1111111111111111111111111111111111111111\n") &&
	    strstr(s, "JOB_CONFIG=configs/sleep.yaml\n") &&
	    strstr(s, "LC_ALL=C\n"), "allow-listed environment", "%s",
	    s ? s : "(none)");
	CHECK(s != NULL && !strstr(s, "GITHUB_WEBHOOK_SECRET") &&
	    !strstr(s, "HTTP_") && !strstr(s, "SECRET_THING") &&
	    !strstr(s, "test-secret") && !strstr(s, "GATEWAY_INTERFACE"),
	    "no secret or CGI variables", "%s", s ? s : "(none)");
	snprintf(path, sizeof(path), "%s/output/argv", j.dir);
	s = readfile(path);
	snprintf(cmd, sizeof(cmd), "%s\nsft\nconfigs/sleep.yaml\n--output_dir\n"
	    "%s/output\n--add_version\nfalse\n", fake, j.dir);
	CHECK(s && strcmp(s, cmd) == 0, "argv", "got \"%s\"", s ? s : "");

	snprintf(path, sizeof(path), "%s/job.json", j.dir);
	s = await(path, "\"succeeded\"");
	CHECK(s && strstr(s, "\"exit_code\":\t0"), "job.json succeeded",
	    "%s", s ? s : readfile(path));
	CHECK(kill(j.pid, 0) == -1 && errno == ESRCH, "trainer gone",
	    "pid %ld", (long)j.pid);
	snprintf(path, sizeof(path), "%s/log", j.dir);
	s = readfile(path);
	CHECK(s && strstr(s, "fake-swift: sft configs/sleep.yaml") &&
	    strstr(s, "exited with status 0"), "log has trainer output",
	    "%s", s ? s : "(none)");
}

static void
test_endings(void)
{
	static const struct {
		const char *config, *state, *field;
	} rows[] = {
		{ "configs/exit3.yaml", "\"failed\"", "\"exit_code\":\t3" },
		{ "configs/kill9.yaml", "\"killed\"", "\"signal\":\t9" },
	};
	char cmd[PATH_MAX], path[PATH_MAX], work[PATH_MAX], err[512], *s;
	struct job j;
	size_t i;
	int r;

	snprintf(work, sizeof(work), "%s/work", top);
	snprintf(cmd, sizeof(cmd), "%s sft {config}", fake);
	for (i = 0; i < 2; i++) {
		r = run(&j, cmd, work, "2222222222222222222222222222222222222222",
		    rows[i].config, err, sizeof(err));
		CHECK(r == 0, rows[i].config, "spawn: %s", err);
		if (r != 0)
			continue;
		snprintf(path, sizeof(path), "%s/job.json", j.dir);
		s = await(path, rows[i].state);
		CHECK(s && strstr(s, rows[i].field), rows[i].state, "%s",
		    s ? s : readfile(path));
	}
}

static void
test_failures(void)
{
	char cmd[PATH_MAX], path[PATH_MAX], work[PATH_MAX], err[512], *s;
	struct job j;
	int r;

	snprintf(work, sizeof(work), "%s/work", top);
	r = run(&j, "/nonexistent/swift sft {config}", work,
	    "3333333333333333333333333333333333333333", "configs/a.yaml", err,
	    sizeof(err));
	CHECK(r == -1 && strstr(err, "cannot execute trainer "
	    "/nonexistent/swift: No such file"), "exec failure reported",
	    "r=%d %s", r, err);
	snprintf(path, sizeof(path), "%s/job.json", j.dir);
	s = readfile(path);
	CHECK(s && strstr(s, "\"failed\"") && strstr(s, "cannot execute"),
	    "exec failure recorded as failed", "%s", s ? s : "(none)");
	snprintf(path, sizeof(path), "%s/pid", j.dir);
	CHECK(access(path, F_OK) == -1, "no pid file on exec failure", "%s",
	    path);
	CHECK(no_children(), "no process left on exec failure", "child");

	r = run(&j, "no-such-swift-binary sft {config}", work,
	    "3333333333333333333333333333333333333333", "configs/b.yaml", err,
	    sizeof(err));
	CHECK(r == -1 && strstr(err, "no-such-swift-binary: No such file"),
	    "not in PATH", "r=%d %s", r, err);

	snprintf(path, sizeof(path), "%s/work/noexec", top);
	put(path, "#!/bin/sh\n", 0644);
	snprintf(cmd, sizeof(cmd), "%s sft {config}", path);
	r = run(&j, cmd, work, "3333333333333333333333333333333333333333",
	    "configs/c.yaml", err, sizeof(err));
	CHECK(r == -1 && strstr(err, "Permission denied"), "not executable",
	    "r=%d %s", r, err);

	/* Passes every check before fork; only execve itself can tell. */
	snprintf(path, sizeof(path), "%s/work/garbage", top);
	put(path, "\x7f\x01not a program\n", 0755);
	snprintf(cmd, sizeof(cmd), "%s sft {config}", path);
	r = run(&j, cmd, work, "3333333333333333333333333333333333333333",
	    "configs/e.yaml", err, sizeof(err));
	CHECK(r == -1 && strstr(err, "Exec format error"),
	    "execve failure comes back on the pipe", "r=%d %s", r, err);
	snprintf(path, sizeof(path), "%s/job.json", j.dir);
	s = readfile(path);
	CHECK(s && strstr(s, "\"failed\"") && strstr(s, "Exec format error"),
	    "execve failure recorded", "%s", s ? s : "(none)");

	snprintf(cmd, sizeof(cmd), "%s sft {config}", fake);
	r = run(&j, cmd, "/nonexistent", "3333333333333333333333333333333333333333",
	    "configs/d.yaml", err, sizeof(err));
	CHECK(r == -1 && strstr(err, "cannot chdir to workdir /nonexistent"),
	    "bad workdir", "r=%d %s", r, err);
	CHECK(no_children(), "no process left after failures", "child");
}

static void
test_claims(void)
{
	char runs[PATH_MAX], other[JOB_ID_MAX], err[256], dir[PATH_MAX];
	struct rundir rd;
	struct job a, b;
	int i, wins = 0, status, r;
	pid_t pid;

	snprintf(runs, sizeof(runs), "%s/runs", top);
	if (rundir_open(&rd, runs, 1, err, sizeof(err)) == -1) {
		CHECK(0, "rundir_open", "%s", err);
		return;
	}
	memset(&a, 0, sizeof(a));
	a.sha = "4444444444444444444444444444444444444444";
	a.config = "configs/x.yaml";
	b = a;
	CHECK(job_create(&rd, &a, err, sizeof(err)) == 0 &&
	    job_create(&rd, &b, err, sizeof(err)) == 0 &&
	    strcmp(a.id, b.id) != 0, "job ids unique", "%s %s", a.id, b.id);
	CHECK(strstr(a.id, "-4444444-x") != NULL && strchr(a.id, '/') == NULL,
	    "job id has short sha and config", "%s", a.id);
	CHECK(strcmp(a.id, b.id) < 0, "job ids sort by creation", "%s %s",
	    a.id, b.id);
	r = claim_try(&rd, NULL, a.sha, a.config, a.id, other, err, sizeof(err));
	CHECK(r == CLAIM_OK, "first claim wins", "r=%d %s", r, err);
	r = claim_try(&rd, NULL, b.sha, b.config, b.id, other, err, sizeof(err));
	CHECK(r == CLAIM_TAKEN && strcmp(other, a.id) == 0,
	    "second claim names first", "r=%d other=%s", r, other);
	CHECK(claim_point(&rd, NULL, b.sha, b.config, b.id) == 0 &&
	    claim_latest(&rd, NULL, a.sha, a.config, other) == 0 &&
	    strcmp(other, b.id) == 0,
	    "a retry's claim names the latest job", "%s", other);
	claim_release(&rd, NULL, a.sha, a.config, a.id);
	CHECK(claim_latest(&rd, NULL, a.sha, a.config, other) == 0,
	    "unclaim of a job that no longer holds the pair keeps it", "gone");
	claim_release(&rd, NULL, b.sha, b.config, b.id);
	r = claim_try(&rd, NULL, a.sha, a.config, a.id, other, err, sizeof(err));
	CHECK(r == CLAIM_OK, "unclaim frees the pair", "r=%d", r);

	/* Eight processes race for one pair: exactly one wins. */
	a.config = "configs/race.yaml";
	for (i = 0; i < 8; i++) {
		if ((pid = fork()) == 0) {
			struct job mine = a;

			snprintf(dir, sizeof(dir), "race-%d", i);
			snprintf(mine.id, sizeof(mine.id), "%s", dir);
			_exit(claim_try(&rd, NULL, mine.sha, mine.config, mine.id,
			    other, err, sizeof(err)) == CLAIM_OK ? 0 : 1);
		}
	}
	for (i = 0; i < 8; i++)
		if (wait(&status) > 0 && WIFEXITED(status) &&
		    WEXITSTATUS(status) == 0)
			wins++;
	CHECK(wins == 1, "racing claims: one winner", "%d winners", wins);

	/*
	 * Claim and give back, four processes at once: one that finds the
	 * pair taken (EEXIST) may find it given back before it reads who
	 * has it (ENOENT); it must claim again, never fail.
	 */
	a.config = "configs/churn.yaml";
	for (i = 0; i < 4; i++) {
		if ((pid = fork()) == 0) {
			struct job mine = a;
			int k, errors = 0;

			snprintf(mine.id, sizeof(mine.id),
			    "20261129T000000.000Z-4444444-c%d", i);
			for (k = 0; k < 3000; k++)
				switch (claim_try(&rd, NULL, mine.sha, mine.config,
				    mine.id, other, err, sizeof(err))) {
				case CLAIM_OK:
					claim_release(&rd, NULL, mine.sha,
					    mine.config, mine.id);
					break;
				case CLAIM_TAKEN:
					break;
				case CLAIM_ERROR:
					errors++;
					break;
				}
			_exit(errors > 0);
		}
	}
	for (i = 0, wins = 0; i < 4; i++)
		if (wait(&status) > 0 && WIFEXITED(status) &&
		    WEXITSTATUS(status) == 0)
			wins++;
	CHECK(wins == 4, "claims given back while others look: no error",
	    "%d of 4 processes saw an error", 4 - wins);
	job_close(&a);
	job_close(&b);
	rundir_close(&rd);
}

/*
 * One slot: a second job waits as a file, with no process; when the
 * first ends, its supervisor starts it.  Its exec fails then (the trainer
 * lost its x bit meanwhile): recorded failed with the reason, no pid
 * file, and the slot frees.
 */
static void
test_queue(void)
{
	char cmd[PATH_MAX], path[PATH_MAX], work[PATH_MAX], err[512], *s;
	char trainer[PATH_MAX + 16];
	struct job a, b, c2;
	int r;

	snprintf(work, sizeof(work), "%s/work", top);
	snprintf(trainer, sizeof(trainer), "%s/trainer", work);
	snprintf(cmd, sizeof(cmd), "cp %s %s", fake, trainer);
	if (system(cmd) != 0) {
		CHECK(0, "queue: setup", "%s failed", cmd);
		return;
	}
	snprintf(cmd, sizeof(cmd), "%s sft {config}", trainer);
	extra = "slots = 1\n";
	r = run(&a, cmd, work, "5555555555555555555555555555555555555555",
	    "configs/sleep.yaml", err, sizeof(err));
	CHECK(r == 0 && strcmp(a.state, "running") == 0, "first job runs",
	    "r=%d %s", r, err);
	r = run(&b, cmd, work, "6666666666666666666666666666666666666666",
	    "configs/sleep.yaml", err, sizeof(err));
	CHECK(r == 0 && strcmp(b.state, "queued") == 0 && b.pid == 0,
	    "second job waits", "r=%d %s", r, err);
	CHECK(no_children(), "a queued job has no process of ours", "child");
	chmod(trainer, 0644);
	snprintf(path, sizeof(path), "%s/job.json", b.dir);
	s = await(path, "\"failed\"");
	CHECK(s && strstr(s, "cannot execute trainer") &&
	    strstr(s, "Permission denied"), "queued job's exec failure "
	    "recorded, with its reason", "%s", s ? s : readfile(path));
	snprintf(path, sizeof(path), "%s/pid", b.dir);
	CHECK(access(path, F_OK) == -1, "no pid file for it", "%s", path);
	chmod(trainer, 0755);
	r = run(&c2, cmd, work, "7777777777777777777777777777777777777777",
	    "configs/sleep.yaml", err, sizeof(err));
	CHECK(r == 0 && strcmp(c2.state, "running") == 0,
	    "the slot is free again", "r=%d %s %s", r, err, c2.state);
	extra = "";
}

/* Waits (5 s at most) for the reaper's status on its pipe. */
static int
reaped_status(struct reaper *rp, int *status)
{
	int i, r = 0;

	for (i = 0; i < 500 && (r = spawn_reaped_status(rp, status)) == 0;
	    i++)
		usleep(10000);
	return r;
}

/*
 * The reaper: the child's status on its pipe and in a file, an exec
 * failure said, none of our descriptors kept, its file written when its
 * starter is gone, and its file read back strictly.
 */
static void
test_reaper(void)
{
	char *exit7[] = { "/bin/sh", "-c", "exit 7", NULL };
	char *nope[] = { "/nonexistent/trainer", NULL };
	char *slow[] = { "/bin/sh", "-c", "sleep 0.5; exit 3", NULL };
	char path[PATH_MAX], *bad[] = { "x\n", "1 2 3\n", "65536 5\n",
	    "7 0\n", "1792 5", "" };
	struct reaper rp;
	struct child ch;
	time_t when;
	size_t i;
	int dfd, st = -1, lock, fd, r;
	pid_t pid;

	if ((dfd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return;
	snprintf(path, sizeof(path), "%s/held", top);
	lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	flock(lock, LOCK_EX);
	memset(&ch, 0, sizeof(ch));
	ch.argv = exit7;
	ch.envp = environ;
	ch.dirfd = dfd;
	ch.out = -1;
	r = spawn_reaped(&ch, dfd, "exit", &rp);
	CHECK(r == 0 && ch.pid > 0 && rp.pid > 0 && rp.pid != ch.pid,
	    "reaper: started, the child's pid known", "r=%d %s", r,
	    strerror(errno));
	close(lock);	/* ours is gone: the reaper must not hold it */
	fd = open(path, O_RDWR | O_CLOEXEC);
	CHECK(flock(fd, LOCK_EX | LOCK_NB) == 0, "reaper: keeps none of our "
	    "descriptors", "the lock is still held");
	close(fd);
	r = reaped_status(&rp, &st);
	CHECK(r == 1 && WIFEXITED(st) && WEXITSTATUS(st) == 7,
	    "reaper: the child's status on its pipe", "r=%d st=%d", r, st);
	spawn_waitpid(rp.pid, NULL, 0);
	st = -1;
	r = spawn_reaped_read(dfd, "exit", geteuid(), &st, &when);
	CHECK(r == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 7 &&
	    labs((long)(time(NULL) - when)) < 10, "reaper: and in its file, "
	    "with the time", "r=%d st=%d", r, st);

	memset(&ch, 0, sizeof(ch));
	ch.argv = nope;
	ch.envp = environ;
	ch.dirfd = dfd;
	ch.out = -1;
	r = spawn_reaped(&ch, dfd, "exit-nope", &rp);
	CHECK(r == -1 && ch.stage == STAGE_EXEC && errno == ENOENT &&
	    waitpid(-1, NULL, WNOHANG) == -1, "reaper: an exec failure is "
	    "said, nothing left", "r=%d stage=%d %s", r, ch.stage,
	    strerror(errno));

	/* Its starter dies at once: the reaper still writes. */
	if ((pid = fork()) == 0) {
		memset(&ch, 0, sizeof(ch));
		ch.argv = slow;
		ch.envp = environ;
		ch.dirfd = dfd;
		ch.out = -1;
		_exit(spawn_reaped(&ch, dfd, "exit-orphan", &rp) == 0 ? 0 : 1);
	}
	waitpid(pid, &st, 0);
	snprintf(path, sizeof(path), "%s/exit-orphan", top);
	for (i = 0; i < 100 && spawn_reaped_read(dfd, "exit-orphan",
	    geteuid(), &st, &when) == -1; i++)
		usleep(50000);
	CHECK(i < 100 && WIFEXITED(st) && WEXITSTATUS(st) == 3,
	    "reaper: writes its file when its starter is gone", "%s: "
	    "nothing within 5 s", path);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(path, sizeof(path), "%s/exit-bad", top);
		put(path, bad[i], 0640);
		if (spawn_reaped_read(dfd, "exit-bad", geteuid(), &st,
		    &when) == 0)
			break;
	}
	unlink(path);
	if (symlink("exit", path) == 0 && spawn_reaped_read(dfd, "exit-bad",
	    geteuid(), &st, &when) == 0)
		i = 0;
	CHECK(i == sizeof(bad) / sizeof(bad[0]), "reaper: its file read "
	    "strictly (garbage, a symlink refused)", "accepted \"%s\"",
	    i < sizeof(bad) / sizeof(bad[0]) ? bad[i] : "the symlink");
	close(dfd);
}

/*
 * A relative command with a '/' is the trainer's, in the directory it
 * runs in (workdir): not the responder's cwd.
 */
static void
test_relative(void)
{
	char cmd[PATH_MAX * 2], work[PATH_MAX], other[PATH_MAX], err[512];
	char here[PATH_MAX];
	struct job j;
	int r;

	snprintf(work, sizeof(work), "%s/work", top);
	snprintf(other, sizeof(other), "%s/other", top);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s/bin %s/bin && cp %s %s/bin/train "
	    "&& cp %s %s/bin/namesake", work, other, fake, work, fake, other);
	if (system(cmd) != 0 || getcwd(here, sizeof(here)) == NULL ||
	    chdir(other) == -1) {
		CHECK(0, "relative: setup", "%s", strerror(errno));
		return;
	}
	extra = "slots = 8\n";
	r = run(&j, "bin/train sft {config}", work,
	    "8888888888888888888888888888888888888888", "configs/sleep.yaml",
	    err, sizeof(err));
	CHECK(r == 0 && j.pid > 0, "a relative command is found in workdir",
	    "r=%d %s", r, err);
	r = run(&j, "bin/namesake sft {config}", work,
	    "9999999999999999999999999999999999999999", "configs/sleep.yaml",
	    err, sizeof(err));
	CHECK(r == -1 && strstr(err, "cannot execute trainer bin/namesake"),
	    "a namesake in the responder's cwd does not count", "r=%d %s", r,
	    err);
	extra = "";
	(void)!chdir(here);
}

/*
 * A child started with pdeathsig by a process that then dies: it gets
 * the signal; without, it runs on.  Returns the child's pid, or -1.
 */
static pid_t
orphaned(int sig)
{
	char *argv[] = { "sleep", "30", NULL };
	struct child ch;
	int p[2];
	pid_t mid, pid = -1;

	if (pipe(p) == -1)
		return -1;
	if ((mid = fork()) == 0) {
		memset(&ch, 0, sizeof(ch));
		ch.argv = argv;
		ch.envp = environ;
		ch.dir = "/";
		ch.out = -1;
		ch.pdeathsig = sig;
		if (spawn_child(&ch) == -1)
			ch.pid = -1;
		(void)!write(p[1], &ch.pid, sizeof(ch.pid));
		_exit(0);
	}
	close(p[1]);
	if (mid == -1 || read(p[0], &pid, sizeof(pid)) != sizeof(pid))
		pid = -1;
	close(p[0]);
	waitpid(mid, NULL, 0);
	return pid;
}

/* pid runs: it exists and is no zombie (reaped here if it is ours). */
static int
runs(pid_t pid)
{
	if (proc_starttime(pid) != 0)
		return 1;
	waitpid(pid, NULL, WNOHANG);
	return 0;
}

static void
test_pdeathsig(void)
{
	pid_t pid;
	int i;

	pid = orphaned(SIGTERM);
	for (i = 0; i < 50 && pid > 0 && runs(pid); i++)
		usleep(20000);
	CHECK(pid > 0 && !runs(pid), "pdeathsig: the child dies with its "
	    "starter", "pid %ld still there", (long)pid);
	pid = orphaned(0);
	usleep(200000);
	CHECK(pid > 0 && runs(pid), "pdeathsig 0: the child runs on",
	    "pid %ld gone", (long)pid);
	if (pid > 0)
		kill(pid, SIGKILL);
}

static int stop_after;		/* stop() says so from its call N on */

static int
stop(void *arg)
{
	int *calls = arg;

	return ++*calls >= stop_after;
}

/*
 * spawn_run's stop: asked before it starts, nothing starts (however fast
 * the command would end); asked while it runs, its group is killed.
 */
static void
test_run_stop(void)
{
	char path[PATH_MAX], tail[128];
	char *touch[] = { "touch", path, NULL };
	char *slow[] = { "sleep", "30", NULL };
	struct child ch;
	enum run_end end;
	int status, calls = 0;

	snprintf(path, sizeof(path), "%s/stopped-before", top);
	memset(&ch, 0, sizeof(ch));
	ch.argv = touch;
	ch.envp = environ;
	ch.dir = "/";
	ch.quiet = 1;
	ch.stop = stop;
	ch.arg = &calls;
	stop_after = 1;
	end = spawn_run(&ch, &status, tail, sizeof(tail));
	CHECK(end == RUN_STOPPED && access(path, F_OK) == -1, "a run asked to "
	    "stop before it starts starts nothing", "end %d, %s %s", end,
	    path, access(path, F_OK) == 0 ? "made" : "not made");
	calls = 0;
	stop_after = 3;
	ch.argv = slow;
	end = spawn_run(&ch, &status, tail, sizeof(tail));
	CHECK(end == RUN_STOPPED && WIFSIGNALED(status) &&
	    WTERMSIG(status) == SIGKILL, "one asked while it runs is killed",
	    "end %d status %d", end, status);
}

int
main(int argc, char *argv[])
{
	char path[PATH_MAX];

	(void)argc;
	PLAN(61);
	if (realpath(argv[0], path) == NULL || mkdtemp(top) == NULL)
		return 1;
	*strrchr(path, '/') = '\0';
	snprintf(fake, sizeof(fake), "%s/fake-swift", path);

	snprintf(path, sizeof(path), "%s/runs", top);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/work", top);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/work/configs", top);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/work/configs/sleep.yaml", top);
	put(path, "model: Qwen/Qwen2.5-0.5B\nfake_sleep: 1\n", 0644);
	snprintf(path, sizeof(path), "%s/work/configs/exit3.yaml", top);
	put(path, "fake_exit: 3\n", 0644);
	snprintf(path, sizeof(path), "%s/work/configs/kill9.yaml", top);
	put(path, "fake_signal: 9\n", 0644);

	/* What the web server's environment might hold. */
	setenv("HF_HOME", "/data/hf", 1);
	setenv("LC_ALL", "C", 1);
	setenv("SECRET_THING", "x", 1);
	setenv("HTTP_X_HUB_SIGNATURE_256", "sha256=00", 1);
	setenv("GATEWAY_INTERFACE", "CGI/1.1", 1);
	setenv("GITHUB_WEBHOOK_SECRET", "test-secret", 1);
	if (spawn_init(environ) == -1)
		return 1;
	CHECK(spawn_allowed("PATH=/bin") && spawn_allowed("NCCL_DEBUG=INFO") &&
	    spawn_allowed("LC_ALL=C") && !spawn_allowed("PATHX=1") &&
	    !spawn_allowed("HTTP_HOST=x") && !spawn_allowed("PAT=1") &&
	    !spawn_allowed("LD_PRELOAD=/x.so"), "allow-list", "mismatch");

	test_detached();
	test_endings();
	test_failures();
	test_claims();
	test_queue();
	test_relative();
	test_reaper();
	test_pdeathsig();
	test_run_stop();

	/* A trainer still ending may make a file as rm goes: once more. */
	snprintf(path, sizeof(path), "rm -rf %s 2>/dev/null || "
	    "{ sleep 3; rm -rf %s; }", top, top);
	if (system(path) != 0)
		return 1;
	return t_exit();
}
