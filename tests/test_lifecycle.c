/*
 * test_lifecycle.c: what happens to jobs, with real processes: a queued
 * job that cannot start when its turn comes, a cancel that finds a job
 * lost while its supervisor holds it, a look by another user that must
 * not adopt, and a claim given back while a retry re-points it.
 */
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <time.h>

#include "t.h"
#include "fixture.h"
#include "job.h"
#include "lifecycle.h"
#include "rundir.h"
#include "spawn.h"

#define PLANNED	19

extern char **environ;

/* A job of the test's, from delivery, for sha and config. */
static void
mkjob(struct job *j, const char *delivery, const char *sha,
    const char *config)
{
	fx_job(j, sha, config);
	j->delivery = delivery;
}

/* Replaces from with to in file path (one place). */
static int
edit(const char *path, const char *from, const char *to)
{
	char *s = fx_read(path), *p, *out;
	int rc = -1;

	if (s != NULL && (p = strstr(s, from)) != NULL &&
	    (out = malloc(strlen(s) + strlen(to) + 1)) != NULL) {
		sprintf(out, "%.*s%s%s", (int)(p - s), s, to, p + strlen(from));
		fx_put(path, out, 0640);
		free(out);
		rc = 0;
	}
	free(s);
	return rc;
}

/*
 * One slot: B and C wait behind A; their records are tampered with
 * meanwhile (B's delivery id is one no delivery has, C's job.json is no
 * JSON).  When A ends, neither is started: B ends failed with the reason,
 * said in A's log (whoever kicked), and its claim and run of the day are
 * given back; so are C's, though its record is gone.
 */
static void
test_refused(struct rundir *rd, struct conf *c)
{
	char err[512], other[JOB_ID_MAX], path[PATH_MAX], want[160], *s;
	struct job a, b, c2;
	int ra, rb, rc;

	mkjob(&a, "d-a", "1111111111111111111111111111111111111111",
	    "configs/sleep2.yaml");
	mkjob(&b, "d-b", "2222222222222222222222222222222222222222",
	    "configs/sleep2.yaml");
	mkjob(&c2, "d-c", "6666666666666666666666666666666666666666",
	    "configs/sleep2.yaml");
	ra = lifecycle_start(rd, c, &a, 1, other, err, sizeof(err));
	rb = lifecycle_start(rd, c, &b, 1, other, err, sizeof(err));
	rc = lifecycle_start(rd, c, &c2, 1, other, err, sizeof(err));
	CHECK(ra == JOB_STARTED && rb == JOB_STARTED && rc == JOB_STARTED &&
	    b.state == JOB_QUEUED && c2.state == JOB_QUEUED &&
	    b.ticket[0] != '\0' && c2.ticket[0] != '\0', "refused: B and C "
	    "wait behind A, with runs of the day", "%d %d %d %s %s", ra, rb,
	    rc, b.state, err);
	snprintf(path, sizeof(path), "%s/job.json", c2.dir);
	fx_put(path, "not json", 0640);
	snprintf(path, sizeof(path), "%s/job.json", b.dir);
	edit(path, "\"delivery\":\t\"d-b\"", "\"delivery\":\t\"../x\"");
	CHECK(fx_await(path, "\"failed\"", 15) && fx_await(path,
	    "not started: ", 1), "refused: B ends failed, with the reason",
	    "%s", (s = fx_read(path)));
	free(s);
	snprintf(path, sizeof(path), "%s/log", a.dir);
	snprintf(want, sizeof(want), "job %s: not started: ", b.id);
	CHECK(fx_await(path, want, 5), "refused: said in the log of the "
	    "job whose end kicked the queue", "%s", (s = fx_read(path)));
	free(s);
	CHECK(claim_latest(rd, NULL, b.sha, b.config, other) == -1,
	    "refused: its claim is given back", "held by %s", other);
	snprintf(path, sizeof(path), "%s/.runs/%s", rd->path, b.ticket);
	CHECK(access(path, F_OK) == -1, "refused: its run of the day is "
	    "given back", "%s", path);
	snprintf(path, sizeof(path), "%s/log", a.dir);
	snprintf(want, sizeof(want), "job %s: not started: %s/job.json: "
	    "Invalid argument", c2.id, c2.dir);
	CHECK(fx_await(path, want, 5), "refused: C's unreadable record is "
	    "said in the log", "%s", (s = fx_read(path)));
	free(s);
	CHECK(claim_latest(rd, NULL, c2.sha, c2.config, other) == -1,
	    "refused: C's claim is given back, its record gone", "held by %s",
	    other);
	snprintf(path, sizeof(path), "%s/.runs/%s", rd->path, c2.ticket);
	CHECK(access(path, F_OK) == -1, "refused: and its run of the day",
	    "%s", path);
	job_close(&a);
	job_close(&b);
	job_close(&c2);
}

/*
 * Queued, just now, with a supervisor recorded: lost once that supervisor
 * is gone (on Slurm, one killed before it recorded sbatch's answer), not
 * while it lives; without one, only after the grace.
 */
static void
test_lost_queued(struct rundir *rd)
{
	char err[512];
	struct job j;
	pid_t pid;

	mkjob(&j, "d-lostq", "4444444444444444444444444444444444444444",
	    "configs/sleep2.yaml");
	if (job_create(rd, &j, err, sizeof(err)) == -1) {
		CHECK(0, "lost queued: setup", "%s", err);
		return;
	}
	j.created = time(NULL);
	CHECK(!job_lost(rd, &j), "lost queued: no supervisor yet, within "
	    "the grace: not lost", "lost");
	j.supervisor = getpid();
	j.supervisor_start = proc_starttime(j.supervisor);
	CHECK(!job_lost(rd, &j), "lost queued: its supervisor lives: not "
	    "lost", "lost");
	if ((pid = fork()) == 0)
		_exit(0);
	j.supervisor = pid;
	j.supervisor_start = proc_starttime(pid);
	waitpid(pid, NULL, 0);
	CHECK(job_lost(rd, &j), "lost queued: its supervisor is gone: lost "
	    "at once", "not lost");
	job_close(&j);
}

/*
 * A job that looks lost (queued, out of the queue, long ago, no
 * supervisor recorded) while a supervisor holds its writer lock: cancel
 * does not write over it, but asks it to stop and waits for its end.
 */
static void
test_cancel_held(struct rundir *rd, struct conf *c)
{
	char err[512], state[16] = "", path[PATH_MAX], *s;
	enum cancel_result r;
	struct job j;
	int p[2], lock, lost;
	pid_t pid;

	mkjob(&j, "d-held", "3333333333333333333333333333333333333333",
	    "configs/sleep2.yaml");
	if (job_create(rd, &j, err, sizeof(err)) == -1 || pipe(p) == -1) {
		CHECK(0, "held: setup", "%s", err);
		return;
	}
	j.created = time(NULL) - 60;
	job_write(&j);
	lost = job_lost(rd, &j);
	CHECK(lost, "held: the job looks lost", "not lost");
	if ((pid = fork()) == 0) {
		/* The supervisor that took it in the meantime. */
		close(p[0]);
		lock = job_writer_lock(&j, 1);
		(void)!write(p[1], lock == -1 ? "n" : "y", 1);
		sleep(1);
		j.state = JOB_SUCCEEDED;
		j.finished = time(NULL);
		job_write(&j);
		_exit(0);
	}
	close(p[1]);
	(void)!read(p[0], state, 1);
	close(p[0]);
	r = lifecycle_cancel(rd, c, j.id, state, err, sizeof(err));
	waitpid(pid, NULL, 0);
	CHECK(r == CANCEL_ENDED && strcmp(state, "succeeded") == 0,
	    "held: cancel waits for the supervisor's end instead of writing "
	    "over it", "r=%d state %s %s", r, state, err);
	snprintf(path, sizeof(path), "%s/job.json", j.dir);
	CHECK(fx_await(path, "\"succeeded\"", 1), "held: the record is the "
	    "supervisor's", "%s", (s = fx_read(path)));
	free(s);
	snprintf(path, sizeof(path), "%s/stop", j.dir);
	CHECK(access(path, F_OK) == 0, "held: the supervisor was asked to "
	    "stop", "no %s", path);
	job_close(&j);
}

/*
 * backend = slurm, a job whose supervisor is gone, and a run directory
 * of another user (www-data's, looked at by root): jobs and show must
 * not start a supervisor, which would write root's job.json there.
 */
static void
test_adopt_other_user(struct conf *sc)
{
	char err[512], path[PATH_MAX];
	struct rundir rd;
	struct stat st;
	struct job j;
	int r;

	if (geteuid() != 0) {
		printf("skip adopt: another user's run directory: needs root "
		    "to make one\n");
		printf("skip adopt: nothing written there: needs root\n");
		return;
	}
	mkdir(sc->run_dir, 0750);
	if (rundir_open(&rd, sc->run_dir, 1, err, sizeof(err)) == -1) {
		CHECK(0, "adopt: setup", "%s", err);
		return;
	}
	mkjob(&j, "d-adopt", "4444444444444444444444444444444444444444",
	    "configs/sleep2.yaml");
	if (job_create(&rd, &j, err, sizeof(err)) == -1) {
		CHECK(0, "adopt: setup", "%s", err);
		rundir_close(&rd);
		return;
	}
	j.state = JOB_RUNNING;
	j.slurm_job_id = 77;
	j.supervisor = 999999;
	j.supervisor_start = 1;
	job_write(&j);
	job_close(&j);
	rundir_close(&rd);
	snprintf(path, sizeof(path), "chown -R 65534:65534 %s", sc->run_dir);
	if (system(path) != 0 ||
	    rundir_open(&rd, sc->run_dir, 0, err, sizeof(err)) == -1) {
		CHECK(0, "adopt: setup", "chown: %s", err);
		return;
	}
	r = lifecycle_adopt(&rd, sc, j.id);
	usleep(300000);
	CHECK(r == 0 && fx_calls("squeue") == 0, "adopt: a look by another "
	    "user starts no supervisor", "r=%d, squeue asked %d times", r,
	    fx_calls("squeue"));
	snprintf(path, sizeof(path), "%s/%s/job.json", sc->run_dir, j.id);
	CHECK(stat(path, &st) == 0 && st.st_uid == 65534, "adopt: nothing "
	    "is written there", "job.json's owner %ld", (long)st.st_uid);
	rundir_close(&rd);
}

/*
 * A claim is given back (a job that never ran) while a retry re-points
 * it: the give-back waits for the lock the re-pointing holds, and then
 * leaves the retry's claim.
 */
static void
test_claim_release(struct rundir *rd)
{
	const char *sha = "5555555555555555555555555555555555555555";
	const char *a = "20261130T000000.000Z-5555555-a";
	const char *b = "20261130T000001.000Z-5555555-b";
	char other[JOB_ID_MAX] = "", err[256], path[PATH_MAX];
	int lock, rc;
	pid_t pid;

	if (claim_try(rd, NULL, sha, "configs/a.yaml", a, other, err,
	    sizeof(err)) != CLAIM_OK ||
	    (lock = open(fx_path(path, "runs/.keys.lock"), O_RDWR | O_CREAT,
	    0600)) == -1 || flock(lock, LOCK_EX) == -1) {
		CHECK(0, "claim: setup", "%s", err);
		return;
	}
	if ((pid = fork()) == 0) {
		claim_release(rd, NULL, sha, "configs/a.yaml", a);
		_exit(0);
	}
	usleep(300000);
	rc = claim_latest(rd, NULL, sha, "configs/a.yaml", other);
	CHECK(rc == 0 && strcmp(other, a) == 0, "claim: the give-back waits "
	    "while a re-point holds the lock", "rc=%d %s", rc, other);
	/* The retry re-points it, as claim_point does under the lock. */
	flock(lock, LOCK_UN);
	rc = claim_point(rd, NULL, sha, "configs/a.yaml", b);
	close(lock);
	waitpid(pid, NULL, 0);
	rc = claim_latest(rd, NULL, sha, "configs/a.yaml", other);
	CHECK(rc == 0 && (strcmp(other, b) == 0), "claim: the retry's claim "
	    "stays", "rc=%d %s", rc, other);
}

int
main(int argc, char *argv[])
{
	static const char *const tools[] = { "squeue", "sacct", "sbatch",
	    NULL };
	char path[PATH_MAX], text[4096];
	struct rundir rd;
	struct conf c, sc;

	(void)argc;
	PLAN(PLANNED);
	if (fx_init("lifecycle", argv[0], tools) == -1 ||
	    spawn_init(environ) == -1) {
		CHECK(0, "setup", "%s", strerror(errno));
		return t_exit();
	}
	mkdir(fx_path(path, "work"), 0755);
	mkdir(fx_path(path, "work/configs"), 0755);
	fx_put(fx_path(path, "work/configs/sleep2.yaml"),
	    "model: m\nfake_sleep: 2\n", 0644);
	snprintf(text, sizeof(text), "secret = s\nrun_dir = %s/runs\n"
	    "workdir = %s/work\nslots = 1\nkill_grace = 1\n"
	    "max_runs_per_day = 5\ncommand = %s/fake-swift sft {config}\n",
	    fx_top, fx_top, fx_tests);
	if (fx_setup(&c, &rd, "conf", text) == -1)
		return t_exit();
	test_refused(&rd, &c);
	test_lost_queued(&rd);
	test_cancel_held(&rd, &c);
	test_claim_release(&rd);
	rundir_close(&rd);
	conf_free(&c);
	snprintf(text, sizeof(text), "secret = s\nrun_dir = %s/runs-other\n"
	    "workdir = %s/work\nbackend = slurm\nslurm_conf = %s/slurm.conf\n"
	    "command = %s/fake-swift sft {config}\n", fx_top, fx_top, fx_top,
	    fx_tests);
	if (fx_conf(&sc, "conf-slurm", text) == 0) {
		test_adopt_other_user(&sc);
		conf_free(&sc);
	} else
		CHECK(0, "setup: Slurm config", "refused");
	if (getenv("KEEP") == NULL)
		fx_done();
	return t_exit();
}
