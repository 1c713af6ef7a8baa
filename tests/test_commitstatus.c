/*
 * test_commitstatus.c: commit statuses posted in process, with
 * tests/fake-tool as curl: what curl is told (on its stdin, never its
 * argv), that a state is posted once, retries on a 5xx and none on a
 * 4xx, and the token file's checks.  (Against a real HTTP server:
 * tests/commitstatus.sh.)
 */
#include "t.h"
#include "fixture.h"
#include "commitstatus.h"
#include "job.h"
#include "rundir.h"
#include "spawn.h"

#define PLANNED	11

extern char **environ;

static const char *const tools[] = { "curl", NULL };

/* Starts over: no calls logged, curl answers code. */
static void
curl_answers(int code)
{
	char out[64], path[PATH_MAX];

	unlink(fx_path(path, "fake/curl.calls"));
	unlink(fx_path(path, "fake/curl.stdin"));
	snprintf(out, sizeof(out), "{}\nswift-webhook-http-code %d\n", code);
	fx_tool("curl", out, 0);
}

static void
test_token(struct conf *c)
{
	char err[256], path[PATH_MAX], *was = c->github_token_file;
	int r;

	fx_path(path, "work");		/* a folder */
	c->github_token_file = path;
	errno = ENOENT;		/* what an earlier call left */
	r = commitstatus_check(c, err, sizeof(err));
	CHECK(r == -1 && strstr(err, "not a regular file"), "a token file "
	    "that is a folder: said so, whatever errno held", "r=%d %s", r,
	    err);
	fx_put(fx_path(path, "badtoken"), "ghp_x\"\nurl = http://evil\n",
	    0600);
	c->github_token_file = path;
	r = commitstatus_check(c, err, sizeof(err));
	CHECK(r == -1 && strstr(err, "not one line of letters"), "a token "
	    "with quotes and lines is refused", "r=%d %s", r, err);
	c->github_token_file = was;
}

static void
test_post(struct rundir *rd, struct conf *c)
{
	char err[256], path[PATH_MAX], token[PATH_MAX], want[4096], *s, *p;
	struct job j;

	fx_put(fx_path(token, "token"), "ghp_Secret123\n", 0600);
	fx_job(&j, "abcdef0123456789abcdef0123456789abcdef01",
	    "configs/a.yaml");
	if (job_create(rd, &j, err, sizeof(err)) == -1 || job_write(&j) ==
	    -1) {
		CHECK(0, "post: setup", "%s", err);
		return;
	}
	curl_answers(201);
	commitstatus_post(rd, c, j.id);
	s = fx_read(fx_path(path, "fake/curl.stdin"));
	snprintf(want, sizeof(want), "url = \"http://api.test/repos/acme/"
	    "train/statuses/%s\"", j.sha);
	CHECK(s != NULL && strstr(s, want) && strstr(s, "Authorization: "
	    "Bearer ghp_Secret123") && strstr(s, "\\\"state\\\":\\\"pending"
	    "\\\"") && strstr(s, "\\\"description\\\":\\\"queued\\\"") &&
	    strstr(s, "\\\"context\\\":\\\"swift-webhook/configs/a.yaml\\\""),
	    "post: curl's config has the URL, the token and the status",
	    "%s", s ? s : "(none)");
	free(s);
	s = fx_read(fx_path(path, "fake/curl.calls"));
	CHECK(s != NULL && strcmp(s, "-q -K -\n") == 0, "post: the token "
	    "is not in curl's arguments", "%s", s ? s : "(none)");
	free(s);
	commitstatus_post(rd, c, j.id);
	CHECK(fx_calls("curl") == 1, "post: a state posted already is not "
	    "posted again", "%d calls", fx_calls("curl"));

	j.state = JOB_RUNNING;
	job_write(&j);
	curl_answers(502);
	commitstatus_post(rd, c, j.id);
	CHECK(fx_calls("curl") == 3, "post: a 5xx is tried three times",
	    "%d calls", fx_calls("curl"));
	snprintf(path, sizeof(path), "%s/status", j.dir);
	s = fx_read(path);
	CHECK(s != NULL && strcmp(s, "pending queued\n") == 0, "post: what "
	    "failed is not recorded as posted", "%s", s ? s : "(none)");
	free(s);
	curl_answers(422);
	commitstatus_post(rd, c, j.id);
	CHECK(fx_calls("curl") == 1, "post: a 4xx is not tried again",
	    "%d calls", fx_calls("curl"));
	curl_answers(201);
	commitstatus_post(rd, c, j.id);
	snprintf(path, sizeof(path), "%s/status", j.dir);
	CHECK(fx_await(path, "pending running", 1), "post: the next post of "
	    "the state that failed goes", "%d calls", fx_calls("curl"));

	/*
	 * The trainer rewrites its job.json: a sha or repository that would
	 * steer the token's POST to another API path is never posted to.
	 */
	snprintf(path, sizeof(path), "%s/job.json", j.dir);
	s = fx_read(path);
	if (s != NULL && (p = strstr(s, j.sha)) != NULL) {
		snprintf(want, sizeof(want), "%.*s%s/../../../../user/keys%s",
		    (int)(p - s), s, j.sha, p + strlen(j.sha));
		fx_put(path, want, 0640);
	}
	free(s);
	j.state = JOB_SUCCEEDED;	/* a new state: it would be posted */
	curl_answers(201);
	s = fx_read(path);
	if (s != NULL && (p = strstr(s, "\"running\"")) != NULL)
		memcpy(p, "\"failed\" ", 9);
	if (s != NULL)
		fx_put(path, s, 0640);
	free(s);
	commitstatus_post(rd, c, j.id);
	CHECK(fx_calls("curl") == 0, "post: a sha the trainer rewrote is "
	    "not posted to", "%d calls", fx_calls("curl"));
	job_close(&j);
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
	if (fx_init("commitstatus", argv[0], tools) == -1 ||
	    spawn_init(environ) == -1) {
		CHECK(0, "setup", "%s", strerror(errno));
		return t_exit();
	}
	mkdir(fx_path(path, "work"), 0755);
	snprintf(text, sizeof(text), "secret = s\nrun_dir = %s/runs\n"
	    "github_token_file = %s/token\napi_url = http://api.test/\n"
	    "github_timeout = 1\n", fx_top, fx_top);
	fx_put(fx_path(path, "token"), "x\n", 0600);
	if (fx_setup(&c, &rd, "conf", text) == -1)
		return t_exit();
	/* The posts' log lines, out of the test's output. */
	log = open(fx_path(path, "log"), O_WRONLY | O_CREAT | O_APPEND, 0600);
	dup2(log, STDERR_FILENO);
	test_token(&c);
	test_post(&rd, &c);
	CHECK(fx_await(path, "HTTP 502", 1) && fx_await(path, "HTTP 422", 1),
	    "the failures are said in the log", "%s", path);
	rundir_close(&rd);
	conf_free(&c);
	fx_done();
	return t_exit();
}
