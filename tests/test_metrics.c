/*
 * test_metrics.c: the exposition /metrics answers, rendered in process:
 * the counters (deliveries, ends, the duration histogram), the gauges of
 * what runs and waits now, label values escaped, and a planted .metrics
 * that is never written to.  (Scraped by a real Prometheus:
 * tests/metrics.sh.)
 */
#include "t.h"
#include "fixture.h"
#include "job.h"
#include "metrics.h"
#include "rundir.h"
#include "util.h"

#define PLANNED	13

/* Whether the exposition has exactly the line want. */
static int
has(const char *text, const char *want)
{
	const char *p;
	size_t n = strlen(want);

	for (p = text; p != NULL && (p = strstr(p, want)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' ||
		    p[n] == '\0'))
			return 1;
	return 0;
}

static char *
render(struct rundir *rd, const struct conf *c)
{
	size_t len;

	return metrics_render(rd, c, &len);
}

/* A planted .metrics (not ours: another size and no magic). */
static void
test_planted(void)
{
	char path[PATH_MAX], err[256], *m;
	struct rundir rd;
	struct conf c;

	mkdir(fx_path(path, "planted"), 0750);
	fx_put(fx_path(path, "planted/.metrics"), "0123456789", 0640);
	memset(&c, 0, sizeof(c));
	c.slots = 1;
	c.gpus_per_job = 1;
	if (rundir_open(&rd, fx_path(path, "planted"), 1, err,
	    sizeof(err)) == -1) {
		CHECK(0, "planted: setup", "%s", err);
		return;
	}
	CHECK(metrics_open(&rd) == -1, "a planted .metrics is not mapped",
	    "mapped");
	m = render(&rd, &c);
	CHECK(m != NULL && has(m, "swift_webhook_jobs_finished_total{state="
	    "\"succeeded\"} 0"), "and a scrape still answers, counting "
	    "nothing", "%s", m ? m : "(none)");
	free(m);
	rundir_close(&rd);
}

static void
test_counters(struct rundir *rd, const struct conf *c)
{
	struct job j;
	char *m;

	metrics_delivery(rd->path, 202, "started", NULL);
	metrics_delivery(rd->path, 202, "started", NULL);
	metrics_delivery(rd->path, 401, "rejected", NULL);
	metrics_delivery(rd->path, 200, "ok", NULL);
	job_init(&j);
	j.state = JOB_SUCCEEDED;
	j.branch = "rel\"ease\\x";
	j.started = 1000;
	j.finished = 1090;
	metrics_job_ended(rd, &j);
	j.state = JOB_FAILED;
	j.started = 0;		/* never ran: no duration */
	metrics_job_ended(rd, &j);
	m = render(rd, c);
	CHECK(m != NULL && has(m, "swift_webhook_deliveries_total{status="
	    "\"202\",decision=\"started\"} 2") && has(m,
	    "swift_webhook_deliveries_total{status=\"401\",decision="
	    "\"rejected\"} 1") && has(m, "swift_webhook_deliveries_total{"
	    "status=\"200\",decision=\"ping\"} 1"), "deliveries by status "
	    "and decision", "%s", m ? m : "");
	CHECK(m != NULL && has(m, "swift_webhook_jobs_finished_total{state="
	    "\"succeeded\"} 1") && has(m, "swift_webhook_jobs_finished_total{"
	    "state=\"failed\"} 1"), "ends by state", "%s", m ? m : "");
	CHECK(m != NULL && has(m, "swift_webhook_job_duration_seconds_bucket{"
	    "le=\"60\"} 0") && has(m, "swift_webhook_job_duration_seconds_"
	    "bucket{le=\"300\"} 1") && has(m, "swift_webhook_job_duration_"
	    "seconds_sum 90") && has(m, "swift_webhook_job_duration_seconds_"
	    "count 1"), "the duration of the run that ran, in its bucket",
	    "%s", m ? m : "");
	CHECK(m != NULL && has(m, "swift_webhook_last_success_timestamp_"
	    "seconds{branch=\"rel\\\"ease\\\\x\"} 1090"), "its branch's last "
	    "success, the label escaped", "%s", m ? m : "");
	free(m);
}

/*
 * With sections: each configured repository's share, in any case, and
 * the rest as repository=""; without them, the totals as before.
 */
static void
test_sections(struct rundir *rd, const struct conf *plain)
{
	char text[512], *m;
	struct conf c;
	struct job j;

	snprintf(text, sizeof(text), "secret = s\nrun_dir = %s/runs\n"
	    "slots = 2\n[acme/a]\n[acme/b]\n", fx_top);
	if (fx_conf(&c, "sections", text) == -1) {
		CHECK(0, "sections: setup", "a config with sections");
		return;
	}
	metrics_delivery(rd->path, 202, "started", "acme/a");
	metrics_delivery(rd->path, 202, "started", "ACME/A");
	metrics_delivery(rd->path, 401, "rejected", NULL);
	job_init(&j);
	j.state = JOB_SUCCEEDED;
	j.repository = "Acme/A";
	j.branch = "main";
	j.started = 2000;
	j.finished = 2010;
	metrics_job_ended(rd, &j);
	j.repository = "acme/other";	/* no delivery counted it apart */
	j.finished = 2020;
	metrics_job_ended(rd, &j);
	m = render(rd, &c);
	CHECK(m != NULL && has(m, "swift_webhook_deliveries_total{repository="
	    "\"acme/a\",status=\"202\",decision=\"started\"} 2") && has(m,
	    "swift_webhook_deliveries_total{repository=\"acme/b\",status="
	    "\"202\",decision=\"started\"} 0") && has(m,
	    "swift_webhook_deliveries_total{repository=\"\",status=\"202\","
	    "decision=\"started\"} 2") && has(m, "swift_webhook_deliveries_"
	    "total{repository=\"\",status=\"401\",decision=\"rejected\"} 2"),
	    "sections: deliveries per repository, the rest apart", "%s",
	    m ? m : "");
	CHECK(m != NULL && has(m, "swift_webhook_jobs_finished_total{"
	    "repository=\"acme/a\",state=\"succeeded\"} 1") && has(m,
	    "swift_webhook_jobs_finished_total{repository=\"\",state="
	    "\"succeeded\"} 2") && has(m, "swift_webhook_jobs_finished_total{"
	    "repository=\"acme/b\",state=\"lost\"} 0"),
	    "sections: ends per repository", "%s", m ? m : "");
	CHECK(m != NULL && has(m, "swift_webhook_last_success_timestamp_"
	    "seconds{repository=\"acme/a\",branch=\"main\"} 2010") &&
	    has(m, "swift_webhook_last_success_timestamp_seconds{repository="
	    "\"\",branch=\"rel\\\"ease\\\\x\"} 1090") && strstr(m,
	    "acme/other") == NULL, "sections: last success per repository, "
	    "none for a repository of no section", "%s", m ? m : "");
	free(m);
	m = render(rd, plain);
	CHECK(m != NULL && strstr(m, "repository=") == NULL && has(m,
	    "swift_webhook_deliveries_total{status=\"202\",decision="
	    "\"started\"} 4"), "without sections: no repository label, the "
	    "totals", "%s", m ? m : "");
	CHECK(m != NULL && has(m, "swift_webhook_last_success_timestamp_"
	    "seconds{branch=\"main\"} 2020"), "without sections: a branch's "
	    "latest, whatever its repository", "%s", m ? m : "");
	free(m);
	conf_free(&c);
}

/* A job on slot 0, its trainer ourselves, 30 of 100 steps done. */
static void
test_running(struct rundir *rd, const struct conf *c)
{
	char err[256], path[PATH_MAX], out[PATH_MAX], slot[256], *m;
	struct job j;

	fx_job(&j, "1234567890123456789012345678901234567890",
	    "configs/a.yaml");
	if (job_create(rd, &j, err, sizeof(err)) == -1) {
		CHECK(0, "running: setup", "%s", err);
		return;
	}
	snprintf(out, sizeof(out), "%s/output", j.dir);
	mkdir(out, 0750);
	j.output_dir = out;
	j.state = JOB_RUNNING;
	j.pid = getpid();
	j.pid_start = proc_starttime(j.pid);
	j.supervisor = j.pid;
	j.supervisor_start = j.pid_start;
	job_write(&j);
	snprintf(path, sizeof(path), "%s/logging.jsonl", out);
	fx_put(path, "{\"loss\": 1.5, \"global_step/max_steps\": \"30/100\"}\n",
	    0640);
	snprintf(slot, sizeof(slot), "%ld %llu %s\n", (long)j.pid,
	    j.pid_start, j.id);
	fx_put(fx_path(path, "runs/.slots/0"), slot, 0600);
	fx_put(fx_path(path, "runs/.queue.lock"), "0 1 1\n", 0600);
	fx_put(fx_path(path, "runs/.queue/00000000000000000000"),
	    "20261130T000000.000Z-1111111-b\n", 0600);
	m = render(rd, c);
	CHECK(m != NULL && has(m, "swift_webhook_jobs{state=\"running\"} 1") &&
	    has(m, "swift_webhook_slots_in_use 1") && has(m,
	    "swift_webhook_queue_length 1"), "what runs and waits now",
	    "%s", m ? m : "");
	snprintf(slot, sizeof(slot), "swift_webhook_job_progress_ratio{job_id="
	    "\"%s\",branch=\"main\",config=\"configs/a.yaml\"} 0.3", j.id);
	CHECK(m != NULL && has(m, slot), "a running job's progress, from its "
	    "logging.jsonl", "%s", m ? m : "");
	free(m);
	unlink(fx_path(path, "runs/.slots/0"));
	job_close(&j);
}

int
main(int argc, char *argv[])
{
	char text[512];
	struct rundir rd;
	struct conf c;

	(void)argc;
	PLAN(PLANNED);
	if (fx_init("metrics", argv[0], NULL) == -1) {
		CHECK(0, "setup", "%s", strerror(errno));
		return t_exit();
	}
	test_planted();
	snprintf(text, sizeof(text), "secret = s\nrun_dir = %s/runs\n"
	    "slots = 2\n", fx_top);
	if (fx_setup(&c, &rd, "conf", text) == -1)
		return t_exit();
	test_counters(&rd, &c);
	test_sections(&rd, &c);
	test_running(&rd, &c);
	rundir_close(&rd);
	conf_free(&c);
	fx_done();
	return t_exit();
}
