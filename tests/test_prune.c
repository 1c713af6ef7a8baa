/*
 * test_prune.c: swift-webhook prune in process: what is old and ended
 * goes (folders, delivery records, claims of jobs that are gone), what
 * runs or waits stays at any age, --dry-run and --state, a planted
 * link that it removes without following, and deployments: what serves
 * and, per repository, what rollback would serve keep their job and
 * record; other records that ended long ago go.
 */
#include <sys/time.h>

#include "t.h"
#include "fixture.h"
#include "deployment.h"
#include "job.h"
#include "prune.h"
#include "rundir.h"

#define PLANNED	12

/* A job created ago seconds back, in state (ended as long ago). */
static void
mkjob(struct rundir *rd, struct job *j, const char *sha, const char *state,
    long ago)
{
	char err[256];

	fx_job(j, sha, "configs/a.yaml");
	if (job_create(rd, j, err, sizeof(err)) == -1) {
		printf("# %s\n", err);
		return;
	}
	j->state = state;
	j->created = time(NULL) - ago;
	if (job_state_final(state))
		j->finished = j->created + 60;
	job_write(j);
	claim_point(rd, NULL, sha, j->config, j->id);
}

/*
 * prune with up to two arguments, its report to fx_top/prune.out.
 * Returns its exit status.
 */
static int
prune(struct rundir *rd, const char *a1, const char *a2)
{
	char *argv[] = { "prune", (char *)a1, (char *)a2, NULL };
	char path[PATH_MAX];
	int argc = 1, out, file, rc;

	while (argv[argc] != NULL)
		argc++;
	fflush(stdout);
	out = dup(STDOUT_FILENO);
	file = open(fx_path(path, "prune.out"), O_WRONLY | O_CREAT | O_TRUNC,
	    0600);
	dup2(file, STDOUT_FILENO);
	rc = prune_main(rd, argc, argv);
	fflush(stdout);
	dup2(out, STDOUT_FILENO);
	close(out);
	close(file);
	return rc;
}

/*
 * A deployment of job's model in scope, in state st, that began ago
 * seconds back (served since then unless failed) and ended then too.
 */
static void
mkdeploy(struct rundir *rd, struct deployment *d, const struct job *j,
    const char *scope, const char *st, long ago)
{
	char err[256];

	deployment_init(d);
	snprintf(d->job, sizeof(d->job), "%s", j->id);
	snprintf(d->scope, sizeof(d->scope), "%s", scope);
	snprintf(d->sha, sizeof(d->sha), "%s", j->sha);
	if (deployment_create(rd, d, err, sizeof(err)) == -1) {
		printf("# %s\n", err);
		return;
	}
	d->state = st;
	d->created = time(NULL) - ago;
	d->since = st == DEPLOY_FAILED ? 0 : d->created;
	d->ended = deployment_live(st) ? 0 : d->created;
	d->port = 8001;
	deployment_write(d);
	deployment_close(d);
	usleep(2000);		/* ids are by the millisecond */
}

/* Whether deployment d's record is there. */
static int
kept(const struct deployment *d)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/runs/%s/%s/deploy.json", fx_top,
	    DEPLOY_FOLDER, d->id);
	return access(path, F_OK) == 0;
}

static int
there(const struct job *j)
{
	return access(j->dir, F_OK) == 0;
}

/* Sets a file's times days back. */
static void
age(const char *path, int days)
{
	struct timeval tv[2];

	gettimeofday(&tv[0], NULL);
	tv[0].tv_sec -= days * 86400L;
	tv[1] = tv[0];
	utimes(path, tv);
}

int
main(int argc, char *argv[])
{
	char path[PATH_MAX], err[256], id[JOB_ID_MAX], target[PATH_MAX + 8];
	struct job old_ok, old_failed, old_running, young, served, other;
	struct deployment gone, prev, cur, failed, recent, other_prev;
	struct rundir rd;
	int rc;

	(void)argc;
	PLAN(PLANNED);
	if (fx_init("prune", argv[0], NULL) == -1 ||
	    mkdir(fx_path(path, "runs"), 0750) == -1 ||
	    rundir_open(&rd, path, 1, err, sizeof(err)) == -1) {
		CHECK(0, "setup", "%s %s", strerror(errno), err);
		return t_exit();
	}
	mkjob(&rd, &old_ok, "1111111111111111111111111111111111111111",
	    JOB_SUCCEEDED, 40 * 86400);
	mkjob(&rd, &old_failed, "2222222222222222222222222222222222222222",
	    JOB_FAILED, 40 * 86400);
	mkjob(&rd, &old_running, "3333333333333333333333333333333333333333",
	    JOB_RUNNING, 40 * 86400);
	mkjob(&rd, &young, "4444444444444444444444444444444444444444",
	    JOB_SUCCEEDED, 3600);
	/*
	 * Deployments: of no section, one long gone, the previous (both
	 * of old_ok's model), the current (young's), one that failed long
	 * ago, one that failed an hour ago; of section "other", only its
	 * previous, of a job as old as the others, made first (so that a
	 * look at every section at once would take another previous).
	 */
	mkjob(&rd, &served, "6666666666666666666666666666666666666666",
	    JOB_SUCCEEDED, 40 * 86400);
	mkjob(&rd, &other, "7777777777777777777777777777777777777777",
	    JOB_SUCCEEDED, 40 * 86400);
	mkdeploy(&rd, &other_prev, &other, "other", DEPLOY_STOPPED,
	    39 * 86400);
	mkdeploy(&rd, &gone, &old_ok, "", DEPLOY_STOPPED, 39 * 86400);
	mkdeploy(&rd, &failed, &old_ok, "", DEPLOY_FAILED, 38 * 86400);
	mkdeploy(&rd, &prev, &served, "", DEPLOY_STOPPED, 37 * 86400);
	mkdeploy(&rd, &recent, &served, "", DEPLOY_FAILED, 3600);
	mkdeploy(&rd, &cur, &young, "", DEPLOY_SERVING, 1800);
	fx_put(fx_path(path, "runs/.deliveries/old"), "{}", 0640);
	age(path, 40);
	fx_put(fx_path(path, "runs/.deliveries/new"), "{}", 0640);
	mkdir(fx_path(path, "outside"), 0755);
	fx_put(fx_path(path, "outside/keep"), "x", 0644);
	snprintf(target, sizeof(target), "%s/outside", fx_top);
	snprintf(path, sizeof(path), "%s/runs/20261001T000000.000Z-5555555-"
	    "link", fx_top);
	if (symlink(target, path) == -1)
		printf("# symlink: %s\n", strerror(errno));

	rc = prune(&rd, "--dry-run", NULL);
	CHECK(rc == 0 && there(&old_ok) && there(&old_failed) &&
	    kept(&gone) && fx_await(fx_path(path, "prune.out"), "would remove "
	    "2 job(s), 1 delivery record(s), 0 stale claim(s), 2 deployment "
	    "record(s)", 1), "--dry-run: says what would go, removes nothing",
	    "rc=%d", rc);
	rc = prune(&rd, "--state", "failed");
	CHECK(rc == 0 && !there(&old_failed) && there(&old_ok) &&
	    kept(&failed), "--state failed: only the failed job goes, no "
	    "deployment record", "rc=%d", rc);
	CHECK(claim_latest(&rd, NULL, old_failed.sha, old_failed.config, id) == -1,
	    "and its claim, which names a job that is gone", "still %s", id);
	rc = prune(&rd, "--older-than", "30d");
	CHECK(rc == 0 && !there(&old_ok) && access(fx_path(path,
	    "runs/.deliveries/old"), F_OK) == -1, "30 days: the old ended job "
	    "and the old delivery record go", "rc=%d", rc);
	CHECK(there(&old_running) && there(&young) && access(fx_path(path,
	    "runs/.deliveries/new"), F_OK) == 0, "what runs (at any age) and "
	    "what is young stay", "gone");
	CHECK(access(fx_path(path, "outside/keep"), F_OK) == 0,
	    "a planted link among the jobs is not followed", "what it named "
	    "is gone");
	CHECK(claim_latest(&rd, NULL, young.sha, young.config, id) == 0 &&
	    strcmp(id, young.id) == 0, "a claim of a job that is there stays",
	    "gone");
	CHECK(there(&served) && there(&other), "a job whose model rollback "
	    "would serve stays, of each section", "%s %s", there(&served) ?
	    "" : served.id, there(&other) ? "" : other.id);
	CHECK(kept(&prev) && kept(&other_prev) && kept(&cur),
	    "the current and each section's previous deployment record stay",
	    "%s%s%s", kept(&prev) ? "" : " previous", kept(&other_prev) ? "" :
	    " other's previous", kept(&cur) ? "" : " current");
	CHECK(!kept(&gone) && !kept(&failed), "deployment records that "
	    "ended long ago go", "%s%s", kept(&gone) ? " stopped" : "",
	    kept(&failed) ? " failed" : "");
	CHECK(kept(&recent), "one that ended an hour ago stays", "gone");
	rc = prune(&rd, "--state", "running");
	CHECK(rc == 2 && there(&old_running), "--state running is refused: "
	    "prune never takes a live job", "rc=%d", rc);
	job_close(&old_ok);
	job_close(&old_failed);
	job_close(&old_running);
	job_close(&young);
	job_close(&served);
	job_close(&other);
	rundir_close(&rd);
	fx_done();
	return t_exit();
}
