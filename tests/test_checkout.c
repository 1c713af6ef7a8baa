/*
 * test_checkout.c: checkouts in process against real git repositories:
 * exactly the pushed commit in the job's src, a second job of it from
 * the mirror alone, a commit the repository does not have, a stop, a
 * planted .mirrors, the checkout removed, and check on a path that is
 * no repository.  (Through the web server, with ssh and HTTPS:
 * tests/checkout.sh.)
 */
#include "t.h"
#include "fixture.h"
#include "checkout.h"
#include "job.h"
#include "rundir.h"
#include "spawn.h"

#define PLANNED	9

extern char **environ;

/* The commits of the test's origin: the first, and the one on top. */
static char first[41], second[41];

/* Runs a shell line in fx_top; its first output line into out. */
static int
sh(const char *cmd, char *out, size_t size)
{
	char line[PATH_MAX * 4];
	FILE *f;
	int rc;

	snprintf(line, sizeof(line), "cd %s && { %s; } 2>/dev/null", fx_top,
	    cmd);
	if ((f = popen(line, "r")) == NULL)
		return -1;
	if (out != NULL && (fgets(out, (int)size, f) == NULL))
		out[0] = '\0';
	if (out != NULL)
		out[strcspn(out, "\n")] = '\0';
	while (fgets(line, sizeof(line), f) != NULL)
		;
	rc = pclose(f);
	return rc == 0 ? 0 : -1;
}

/* origin.git: two commits of a training repository. */
static int
make_origin(void)
{
	return sh("git init -q -b main work-git && cd work-git && "
	    "git config user.email t@t && git config user.name t && "
	    "mkdir configs && echo 'model: a' > configs/a.yaml && "
	    "git add . && git commit -qm one && git rev-parse HEAD",
	    first, sizeof(first)) == -1 || sh("cd work-git && "
	    "echo 'model: b' > configs/a.yaml && echo x > train.py && "
	    "git add . && git commit -qm two && git rev-parse HEAD && "
	    "git clone -q --bare . ../origin.git", second,
	    sizeof(second)) == -1 ? -1 : 0;
}

static void
mkjob(struct rundir *rd, struct job *j, const char *sha)
{
	char err[256];

	fx_job(j, sha, "configs/a.yaml");
	if (job_create(rd, j, err, sizeof(err)) == -1)
		printf("# %s\n", err);
}

static void
test_make(struct rundir *rd, struct conf *c)
{
	char err[512], path[PATH_MAX], *s;
	enum checkout_result r;
	struct job j, k;

	mkjob(rd, &j, first);
	r = checkout_make(rd, c, &j, err, sizeof(err));
	snprintf(path, sizeof(path), "%s/src/configs/a.yaml", j.dir);
	s = fx_read(path);
	CHECK(r == CHECKOUT_OK && strcmp(j.commit, first) == 0 && j.has_src &&
	    s != NULL && strcmp(s, "model: a\n") == 0, "the pushed commit, "
	    "not the branch's newest, is in src", "r=%d %s commit %s: %s", r,
	    err, j.commit, s ? s : "(none)");
	free(s);
	snprintf(path, sizeof(path), "%s/src/train.py", j.dir);
	CHECK(access(path, F_OK) == -1, "nothing of a later commit is there",
	    "%s", path);
	/* The mirror has it now: another job needs no origin. */
	sh("mv origin.git origin.away", NULL, 0);
	mkjob(rd, &k, first);
	r = checkout_make(rd, c, &k, err, sizeof(err));
	CHECK(r == CHECKOUT_OK && strcmp(k.commit, first) == 0, "a commit the "
	    "mirror has is checked out without the origin", "r=%d %s", r, err);
	sh("mv origin.away origin.git", NULL, 0);
	checkout_remove(&k);
	snprintf(path, sizeof(path), "%s/src", k.dir);
	CHECK(!k.has_src && access(path, F_OK) == -1, "checkout_remove takes "
	    "src away", "%s is there", path);
	job_close(&j);
	job_close(&k);

	mkjob(rd, &j, "0123456789012345678901234567890123456789");
	r = checkout_make(rd, c, &j, err, sizeof(err));
	CHECK(r == CHECKOUT_FAILED && strstr(err, "fetch: commit 0123456789"
	    "012345678901234567890123456789 is not in"), "a commit the "
	    "repository does not have: failed, said so", "r=%d %s", r, err);
	job_close(&j);

	mkjob(rd, &j, second);
	job_request_stop(&j, JOB_CANCELLED);
	r = checkout_make(rd, c, &j, err, sizeof(err));
	CHECK(r == CHECKOUT_STOPPED, "a job asked to stop stops its checkout",
	    "r=%d %s", r, err);
	job_close(&j);
}

static void
test_planted(struct rundir *rd, struct conf *c)
{
	char err[512], path[PATH_MAX], target[PATH_MAX + 16];
	enum checkout_result r;
	struct job j;

	sh("rm -rf runs/.mirrors && mkdir elsewhere", NULL, 0);
	snprintf(target, sizeof(target), "%s/elsewhere", fx_top);
	if (symlink(target, fx_path(path, "runs/.mirrors")) == -1) {
		CHECK(0, "planted: setup", "%s", strerror(errno));
		return;
	}
	mkjob(rd, &j, second);
	r = checkout_make(rd, c, &j, err, sizeof(err));
	CHECK(r == CHECKOUT_FAILED && strstr(err, "mirror:") &&
	    sh("test -z \"$(ls elsewhere)\"", NULL, 0) == 0, "a planted "
	    ".mirrors symlink is refused, not followed", "r=%d %s", r, err);
	unlink(path);
	job_close(&j);
}

static void
test_check(struct conf *c)
{
	char err[512], path[PATH_MAX], *was = c->repository;
	int r;

	r = checkout_check(c, err, sizeof(err));
	CHECK(r == 0, "check: the repository can be read", "%s", err);
	fx_path(path, "nothing.git");
	c->repository = path;
	r = checkout_check(c, err, sizeof(err));
	CHECK(r == -1 && strstr(err, "repository: git exited with status 128"),
	    "check: a path that is no repository fails, with git's status",
	    "r=%d %s", r, err);
	c->repository = was;
}

int
main(int argc, char *argv[])
{
	char path[PATH_MAX], text[1024];
	struct rundir rd;
	struct conf c;
	int log;

	(void)argc;
	PLAN(PLANNED);
	if (fx_init("checkout", argv[0], NULL) == -1 ||
	    spawn_init(environ) == -1 || make_origin() == -1) {
		CHECK(0, "setup: an origin repository", "%s", strerror(errno));
		return t_exit();
	}
	snprintf(text, sizeof(text), "secret = s\nrun_dir = %s/runs\n"
	    "repository = %s/origin.git\nfetch_timeout = 60\n", fx_top, fx_top);
	if (fx_setup(&c, &rd, "conf", text) == -1)
		return t_exit();
	/* git's output and our log lines, out of the test's output. */
	log = open(fx_path(path, "log"), O_WRONLY | O_CREAT | O_APPEND, 0600);
	dup2(log, STDERR_FILENO);
	test_make(&rd, &c);
	test_planted(&rd, &c);
	test_check(&c);
	rundir_close(&rd);
	conf_free(&c);
	fx_done();
	return t_exit();
}
