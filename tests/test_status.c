/*
 * test_status.c: the status page rendered in process: its routes, the
 * list with what a hostile trainer or payload put in a job.json escaped,
 * a filter, one job's page with its loss curve, its log as text, and
 * paths that name no job.  (In a real browser: tests/status.sh.)
 */
#include "t.h"
#include "fixture.h"
#include "job.h"
#include "rundir.h"
#include "status.h"

#define PLANNED	19

/* A job recorded as state, with config and a log of its own. */
static void
mkjob(struct rundir *rd, struct job *j, const char *config,
    const char *state)
{
	char err[256], path[PATH_MAX];

	fx_job(j, "1234567890123456789012345678901234567890", config);
	if (job_create(rd, j, err, sizeof(err)) == -1) {
		printf("# %s\n", err);
		return;
	}
	j->state = state;
	snprintf(path, sizeof(path), "%s/output", j->dir);
	mkdir(path, 0750);
	j->output_dir = strdup(path);
	job_write(j);
	snprintf(path, sizeof(path), "%s/log", j->dir);
	fx_put(path, "step 1\n<b>bold</b>\n", 0640);
}

static char *
page(struct rundir *rd, const struct conf *c, const char *path,
    const char *query, int *status, const char **type)
{
	struct page pg;

	status_render(rd, c, path, query, &pg);
	*status = pg.status;
	*type = pg.type;
	return pg.body;
}

int
main(int argc, char *argv[])
{
	char path[PATH_MAX], text[512], *s;
	const char *type;
	struct rundir rd;
	struct conf c;
	struct job a, b;
	int st;

	(void)argc;
	PLAN(PLANNED);
	if (fx_init("status", argv[0], NULL) == -1) {
		CHECK(0, "setup", "%s", strerror(errno));
		return t_exit();
	}
	snprintf(text, sizeof(text), "secret = s\nrun_dir = %s/runs\n", fx_top);
	if (fx_setup(&c, &rd, "conf", text) == -1)
		return t_exit();
	CHECK(status_route("/") && status_route("/jobs/x") &&
	    status_route("/compare") && status_route("/trend") &&
	    !status_route("/metrics") && !status_route("/compare/x") &&
	    !status_route("") && !status_route(NULL), "routes: /, /jobs/..., "
	    "/compare, /trend, nothing else", "mismatch");
	mkjob(&rd, &a, "configs/<script>alert(1)</script>.yaml",
	    JOB_SUCCEEDED);
	mkjob(&rd, &b, "configs/b.yaml", JOB_FAILED);
	snprintf(path, sizeof(path), "%s/logging.jsonl", a.output_dir);
	fx_put(path, "{\"loss\": 2.0, \"learning_rate\": 1e-4, "
	    "\"global_step/max_steps\": \"1/2\"}\n{\"loss\": NaN, "
	    "\"learning_rate\": 5e-5, \"global_step/max_steps\": \"2/2\"}\n"
	    "{\"eval_loss\": 1.5, \"global_step/max_steps\": \"2/2\"}\n", 0640);

	s = page(&rd, &c, "/", NULL, &st, &type);
	CHECK(st == 200 && strncmp(type, "text/html", 9) == 0 && s != NULL &&
	    strstr(s, a.id) && strstr(s, b.id), "the list: every job",
	    "%d %s", st, type);
	CHECK(s != NULL && strstr(s, "<script>") == NULL && strstr(s,
	    "&lt;script&gt;alert(1)&lt;/script&gt;"), "a config name with "
	    "markup is escaped", "%s", s ? s : "");
	free(s);
	s = page(&rd, &c, "/", "state=failed", &st, &type);
	CHECK(st == 200 && s != NULL && strstr(s, b.id) && !strstr(s, a.id),
	    "?state=failed: only the failed job", "%s", s ? s : "");
	free(s);
	snprintf(path, sizeof(path), "/jobs/%s", a.id);
	s = page(&rd, &c, path, NULL, &st, &type);
	CHECK(st == 200 && s != NULL && strstr(s, "<svg") && strstr(s,
	    "&lt;b&gt;bold&lt;/b&gt;"), "a job's page: its loss curve and its "
	    "log's end, escaped", "%d %s", st, s ? s : "");
	CHECK(s != NULL && strstr(s, "class=\"eval\"") && !strstr(s, "nan") &&
	    !strstr(s, "inf"), "its eval loss is a second series; a NaN loss "
	    "is no point", "%s", s ? s : "");
	free(s);
	snprintf(path, sizeof(path), "/jobs/%s/log", a.id);
	s = page(&rd, &c, path, NULL, &st, &type);
	CHECK(st == 200 && strncmp(type, "text/plain", 10) == 0 && s != NULL &&
	    strcmp(s, "step 1\n<b>bold</b>\n") == 0, "its log, as text",
	    "%d %s %s", st, type, s ? s : "");
	free(s);
	s = page(&rd, &c, "/jobs/../../etc/passwd", NULL, &st, &type);
	CHECK(st == 404, "a path out of the run directory: 404", "%d", st);
	free(s);
	s = page(&rd, &c, "/jobs/20261130T000000.000Z-0000000-none", NULL, &st,
	    &type);
	CHECK(st == 404, "a job that is not there: 404", "%d", st);
	free(s);
	snprintf(path, sizeof(path), "%s/log", b.dir);
	unlink(path);
	if (symlink("/etc/passwd", path) == 0) {
		snprintf(path, sizeof(path), "/jobs/%s/log", b.id);
		s = page(&rd, &c, path, NULL, &st, &type);
		CHECK(s != NULL && strstr(s, "root:") == NULL, "a log that is "
		    "a symlink is not followed", "%s", s ? s : "");
		free(s);
	} else
		CHECK(0, "symlink: setup", "%s", strerror(errno));
	/* Compare: a and b side by side, their configs as kept. */
	snprintf(a.commit_title, sizeof(a.commit_title), "<img src=x>");
	snprintf(a.config_copy, sizeof(a.config_copy), "config.yaml");
	snprintf(b.config_copy, sizeof(b.config_copy), "config.yaml");
	snprintf(path, sizeof(path), "%s/config.yaml", a.dir);
	fx_put(path, "model: m\nlr: 1\n", 0640);
	snprintf(path, sizeof(path), "%s/config.yaml", b.dir);
	fx_put(path, "model: m\nlr: <2>\n", 0640);
	job_write(&a);
	job_write(&b);
	snprintf(text, sizeof(text), "jobs=%s,%s", a.id, b.id);
	s = page(&rd, &c, "/compare", text, &st, &type);
	CHECK(st == 200 && s != NULL && strstr(s, "class=\"loss run0\"") &&
	    strstr(s, "class=\"loss run1\"") && strstr(s, "id=\"results\""),
	    "/compare: a curve per run, the results table", "%d %s", st,
	    s ? s : "");
	CHECK(s != NULL && strstr(s, "<span class=\"del\">-lr: 1</span>") &&
	    strstr(s, "<span class=\"add\">+lr: &lt;2&gt;</span>"),
	    "the configs' diff, escaped", "%s", s ? s : "");
	CHECK(s != NULL && !strstr(s, "<img") && strstr(s, "&lt;img src=x&gt;"),
	    "a commit title with markup is escaped", "%s", s ? s : "");
	free(s);
	snprintf(text, sizeof(text), "jobs=%s&jobs=%s", b.id, a.id);
	s = page(&rd, &c, "/compare", text, &st, &type);
	CHECK(st == 200 && s != NULL && strstr(s, "<span class=\"del\">-lr: "
	    "&lt;2&gt;</span>"), "jobs=A&jobs=B (the jobs table's form)",
	    "%d", st);
	free(s);
	snprintf(text, sizeof(text), "jobs=%s", a.id);
	s = page(&rd, &c, "/compare", text, &st, &type);
	CHECK(st == 404, "one job: 404", "%d", st);
	free(s);
	snprintf(text, sizeof(text), "jobs=%s,..%%2F..%%2Fetc", a.id);
	s = page(&rd, &c, "/compare", text, &st, &type);
	CHECK(st == 404 && s != NULL && !strstr(s, "etc"), "a name that is no "
	    "job id: 404, not echoed", "%d", st);
	free(s);
	snprintf(text, sizeof(text), "jobs=%s,%s,%s,%s,%s,%s,%s,%s,%s", a.id,
	    b.id, a.id, b.id, a.id, b.id, a.id, b.id, a.id);
	s = page(&rd, &c, "/compare", text, &st, &type);
	CHECK(st == 404, "nine jobs: 404", "%d", st);
	free(s);
	s = page(&rd, &c, "/trend", "config=configs/b.yaml&branch=main", &st,
	    &type);
	CHECK(st == 200 && s != NULL && strstr(s, b.id) && !strstr(s, a.id),
	    "/trend: the runs of one config", "%d %s", st, s ? s : "");
	free(s);
	s = page(&rd, &c, "/trend", NULL, &st, &type);
	CHECK(st == 404, "/trend without a config: 404", "%d", st);
	free(s);
	free((char *)a.output_dir);
	free((char *)b.output_dir);
	job_close(&a);
	job_close(&b);
	rundir_close(&rd);
	conf_free(&c);
	fx_done();
	return t_exit();
}
