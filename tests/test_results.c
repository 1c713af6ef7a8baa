/*
 * test_results.c: logging.jsonl read as ms-swift writes it, and as a
 * broken or hostile trainer might: garbage lines, a cut tail, a line
 * longer than the bound, a symlink, a FIFO, a versioned folder.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "results.h"
#include "t.h"
#include "util.h"

static char top[] = "/tmp/swh-results-XXXXXX";

static void
put(const char *dir, const char *name, const char *text)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL) {
		perror(path);
		exit(1);
	}
	fputs(text, f);
	fclose(f);
}

/* Whether member name of o is the string s. */
static int
json_str_is(const cJSON *o, const char *name, const char *s)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(v) && strcmp(v->valuestring, s) == 0;
}

static const char step1[] = "{\"loss\": 2.5, \"learning_rate\": 1e-4, "
    "\"global_step/max_steps\": \"120/1000\", \"elapsed_time\": \"8m 3s\", "
    "\"remaining_time\": \"1h 2m 5s\"}\n";
static const char step2[] = "{\"loss\": 1.25, \"learning_rate\": 5e-5, "
    "\"global_step/max_steps\": \"1000/1000\", \"remaining_time\": \"0s\"}\n";
static const char end[] = "{\"last_model_checkpoint\": \"/o/checkpoint-1000\", "
    "\"best_model_checkpoint\": \"/o/checkpoint-800\", \"best_metric\": 0.5, "
    "\"global_step\": 1000, \"log_history\": [{\"loss\": 9}]}\n";

static void
test_read(void)
{
	char dir[4096], text[4096], buf[64];
	struct results r;
	struct progress p;
	int rc;

	snprintf(dir, sizeof(dir), "%s/a", top);
	mkdir(dir, 0755);
	rc = results_read(dir, &r);
	CHECK(rc == 0 && r.have == 0, "no logging.jsonl: no results, no error",
	    "rc=%d have=%u", rc, r.have);
	CHECK(progress_read(dir, &p) == -1, "no logging.jsonl: no progress",
	    "found");

	snprintf(text, sizeof(text), "%s%s%s", step1, step2, end);
	put(dir, "logging.jsonl", text);
	rc = results_read(dir, &r);
	CHECK(rc == 0 && r.have == (R_LAST_CKPT | R_BEST_CKPT | R_BEST_METRIC |
	    R_GLOBAL_STEP | R_LOSS) && strcmp(r.last_model_checkpoint,
	    "/o/checkpoint-1000") == 0 && strcmp(r.best_model_checkpoint,
	    "/o/checkpoint-800") == 0 && r.best_metric == 0.5 &&
	    r.global_step == 1000 && r.loss == 1.25,
	    "the end record and the last logged loss (not log_history's)",
	    "rc=%d have=%u loss=%g", rc, r.have, r.loss);
	results_free(&r);

	snprintf(text, sizeof(text), "%s", step1);
	put(dir, "logging.jsonl", text);
	rc = progress_read(dir, &p);
	progress_format(&p, buf, sizeof(buf));
	CHECK(rc == 0 && p.step == 120 && p.max_steps == 1000 &&
	    p.remaining == 3725 && p.has_loss && p.loss == 2.5 &&
	    strcmp(buf, "120/1000 12% eta 1h02m") == 0, "progress",
	    "rc=%d \"%s\"", rc, buf);
	rc = results_read(dir, &r);
	CHECK(rc == 0 && r.have == R_LOSS && r.loss == 2.5,
	    "a run that never ended: only its last loss", "have=%u", r.have);
	results_free(&r);

	/* Garbage around the records, a cut last line, wrong types. */
	snprintf(text, sizeof(text), "not json\n{\"loss\": \"high\"}\n%s"
	    "{broken\n\n[1,2]\n%s{\"loss\": 1e999}\n"
	    "{\"global_step/max_steps\": \"5/4\"}\n{\"loss\": 0.5, \"glo",
	    step1, end);
	put(dir, "logging.jsonl", text);
	rc = results_read(dir, &r);
	CHECK(rc == 0 && (r.have & R_GLOBAL_STEP) && r.loss == 2.5,
	    "garbage lines and bad values are skipped", "have=%u loss=%g",
	    r.have, r.loss);
	results_free(&r);
	rc = progress_read(dir, &p);
	CHECK(rc == 0 && p.step == 120, "progress past garbage and a step "
	    "beyond max_steps", "rc=%d step=%lld", rc, p.step);

	/* Step counts no trainer reaches: no overflow, no wrap. */
	put(dir, "logging.jsonl", "{\"global_step/max_steps\": "
	    "\"4611686018427387903/9223372036854775806\"}\n");
	rc = progress_read(dir, &p);
	progress_format(&p, buf, sizeof(buf));
	CHECK(rc == 0 && progress_percent(&p) == 50 && strstr(buf, " 50%"),
	    "progress near LLONG_MAX steps: 50%, no overflow", "rc=%d \"%s\"",
	    rc, buf);
	put(dir, "logging.jsonl", "{\"global_step/max_steps\": "
	    "\"99999999999999999999/99999999999999999999\"}\n");
	CHECK(progress_read(dir, &p) == -1, "progress past LLONG_MAX is not "
	    "taken", "step %lld of %lld", p.step, p.max_steps);

	/* Strings a terminal or job.json should not get. */
	put(dir, "logging.jsonl", "{\"last_model_checkpoint\": "
	    "\"/o/\\u001b[31mred\", \"best_model_checkpoint\": null, "
	    "\"global_step\": -4, \"best_metric\": \"x\"}\n");
	rc = results_read(dir, &r);
	CHECK(rc == 0 && r.have == 0, "control characters, negative steps "
	    "and wrong types are not taken", "have=%u", r.have);
	results_free(&r);
}

/*
 * logging.jsonl as ms-swift's json.dumps writes it: bare NaN and
 * Infinity, an eval line and the summary line after the last step line,
 * best_model_checkpoint null (no eval strategy), NaN in log_history.
 */
static const char real[] =
    "{\"loss\": 2.0, \"grad_norm\": 1.5, \"learning_rate\": 1e-4, "
    "\"global_step/max_steps\": \"1/4\", \"remaining_time\": \"6s\"}\n"
    "{\"loss\": NaN, \"grad_norm\": NaN, \"learning_rate\": 1e-4, "
    "\"global_step/max_steps\": \"2/4\", \"memory(GiB)\": 3.2}\n"
    "{\"eval_loss\": 1.5, \"eval_runtime\": 0.5, \"epoch\": 0.5, "
    "\"global_step/max_steps\": \"2/4\"}\n"
    "{\"loss\": Infinity, \"grad_norm\": -Infinity, \"note\": "
    "\"NaN, Infinity\", \"global_step/max_steps\": \"3/4\"}\n"
    "{\"loss\": 1.0, \"learning_rate\": 5e-5, \"global_step/max_steps\": "
    "\"4/4\"}\n"
    "{\"train_runtime\": 9.5, \"train_loss\": NaN, \"epoch\": 1.0, "
    "\"global_step/max_steps\": \"4/4\", \"remaining_time\": \"0s\"}\n"
    "{\"last_model_checkpoint\": \"/o/checkpoint-4\", "
    "\"best_model_checkpoint\": null, \"best_metric\": null, "
    "\"global_step\": 4, \"log_history\": [{\"loss\": 2.0}, "
    "{\"loss\": NaN}, {\"eval_loss\": 1.5}], \"memory\": null}\n";

static void
test_real(void)
{
	char dir[4096], buf[64], num[32];
	struct results r, back;
	struct progress p;
	struct point *pts = NULL;
	cJSON *o;
	int rc, n;

	snprintf(dir, sizeof(dir), "%s/real", top);
	mkdir(dir, 0755);
	put(dir, "logging.jsonl", real);
	rc = results_read(dir, &r);
	CHECK(rc == 0 && (r.have & R_LAST_CKPT) && !(r.have & R_BEST_CKPT) &&
	    r.global_step == 4 && r.loss == 1.0 && (r.have & R_EVAL_LOSS) &&
	    r.eval_loss == 1.5, "NaN, eval and summary lines: the checkpoint, "
	    "step, last training loss and eval loss all read", "rc=%d have=%u "
	    "loss %g eval %g step %lld", rc, r.have, r.loss, r.eval_loss,
	    r.global_step);
	CHECK(results_checkpoint(&r) != NULL && strcmp(results_checkpoint(&r),
	    "/o/checkpoint-4") == 0, "no eval: the checkpoint is the last one",
	    "%s", results_checkpoint(&r) ? results_checkpoint(&r) : "none");
	rc = progress_read(dir, &p);
	progress_format(&p, buf, sizeof(buf));
	CHECK(rc == 0 && p.step == 4 && p.max_steps == 4 && p.has_loss &&
	    p.loss == 1.0 && p.has_eval_loss && p.eval_loss == 1.5,
	    "progress: the summary line's step, the training loss it hides",
	    "rc=%d %s loss %d %g", rc, buf, p.has_loss, p.loss);
	n = results_curve(dir, &pts);
	CHECK(n == 3 && pts[0].step == 1 && pts[0].loss == 2.0 &&
	    pts[1].step == 2 && isnan(pts[1].loss) && pts[1].eval_loss == 1.5 &&
	    pts[2].step == 4 && pts[2].loss == 1.0 && isnan(pts[2].eval_loss),
	    "the curve: the finite losses and the eval point, no NaN or "
	    "Infinity", "%d points", n);
	free(pts);

	/* A NaN loss at the end is a loss: shown, kept, read back. */
	r.loss = NAN;
	o = cJSON_CreateObject();
	results_to_json(&r, o);
	results_from_json(&back, o);
	CHECK(strcmp(results_format(r.loss, num), "NaN") == 0 &&
	    (back.have & R_LOSS) && isnan(back.loss) && back.eval_loss == 1.5 &&
	    json_str_is(o, "loss", "NaN") && json_str_is(o, "checkpoint",
	    "/o/checkpoint-4"), "a NaN loss is recorded and shown as NaN",
	    "have %u", back.have);
	cJSON_Delete(o);
	results_free(&back);
	results_free(&r);

	/* megatron sft: "iteration", no global_step in its end record. */
	put(dir, "logging.jsonl", "{\"loss\": 3.0, \"iteration\": \"5/10\"}\n"
	    "{\"loss\": 2.5, \"iteration\": \"10/10\", \"memory(GiB)\": 7}\n"
	    "{\"eval_loss\": 2.6, \"iteration\": \"10/10\"}\n"
	    "{\"last_model_checkpoint\": \"/o/checkpoint-10\", "
	    "\"best_model_checkpoint\": null, \"best_metric\": null}\n");
	rc = results_read(dir, &r);
	CHECK(rc == 0 && r.global_step == 10 && r.loss == 2.5 &&
	    r.eval_loss == 2.6, "megatron: its iterations are steps", "rc=%d "
	    "step %lld loss %g", rc, r.global_step, r.loss);
	results_free(&r);
	rc = progress_read(dir, &p);
	CHECK(rc == 0 && p.step == 10 && p.max_steps == 10 && p.loss == 2.5,
	    "megatron: progress and loss", "rc=%d %lld/%lld", rc, p.step,
	    p.max_steps);
}

static void
test_bounds(void)
{
	char dir[4096], path[4096], sub[4096], *big;
	struct results r;
	struct progress p;
	struct timeval tv[2];
	size_t n = RESULTS_TAIL + (1 << 20);
	int fd, rc;

	snprintf(dir, sizeof(dir), "%s/b", top);
	mkdir(dir, 0755);
	snprintf(path, sizeof(path), "%s/logging.jsonl", dir);

	/* A line longer than the bound, then the records: still found. */
	if ((big = malloc(n + 1)) == NULL)
		return;
	memset(big, 'x', n);
	big[0] = '{';
	big[n - 1] = '\n';
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644)) == -1 ||
	    write(fd, step1, strlen(step1)) < 0 ||
	    write(fd, big, n) != (ssize_t)n ||
	    write(fd, step2, strlen(step2)) < 0 ||
	    write(fd, end, strlen(end)) < 0)
		perror(path);
	close(fd);
	rc = results_read(dir, &r);
	CHECK(rc == 0 && (r.have & R_GLOBAL_STEP) && r.loss == 1.25,
	    "a line longer than the bound before the records", "have=%u",
	    r.have);
	results_free(&r);

	/* The records before a line longer than the bound: not reached. */
	if ((fd = open(path, O_WRONLY | O_TRUNC)) == -1 ||
	    write(fd, end, strlen(end)) < 0 ||
	    write(fd, big, n - 1) != (ssize_t)n - 1)
		perror(path);
	close(fd);
	rc = results_read(dir, &r);
	CHECK(rc == 0 && r.have == 0, "only the bounded tail is read",
	    "have=%u", r.have);
	results_free(&r);
	CHECK(progress_read(dir, &p) == -1, "progress: a tail of one cut line",
	    "found");
	free(big);
	unlink(path);

	/* A symlink or a FIFO in its place is not read. */
	put(top, "secret.jsonl", end);
	snprintf(sub, sizeof(sub), "%s/secret.jsonl", top);
	if (symlink(sub, path) == 0) {
		rc = results_read(dir, &r);
		CHECK(rc == -1 && errno == ELOOP, "a symlinked logging.jsonl is "
		    "not followed", "rc=%d have=%u", rc, r.have);
		results_free(&r);
		unlink(path);
	}
	if (mkfifo(path, 0644) == 0) {
		rc = results_read(dir, &r);
		CHECK(rc == -1 && errno == EINVAL, "a FIFO is not read (nor "
		    "waited on)", "rc=%d", rc);
		unlink(path);
	}

	/* ms-swift's add_version: the newest v<N>-<time>/ folder. */
	snprintf(sub, sizeof(sub), "%s/v0-20261129-100000", dir);
	mkdir(sub, 0755);
	put(sub, "logging.jsonl", step1);
	snprintf(path, sizeof(path), "%s/logging.jsonl", sub);
	tv[0].tv_sec = tv[1].tv_sec = time(NULL) - 100;
	tv[0].tv_usec = tv[1].tv_usec = 0;
	utimes(path, tv);
	snprintf(sub, sizeof(sub), "%s/v1-20261129-110000", dir);
	mkdir(sub, 0755);
	put(sub, "logging.jsonl", step2);
	rc = progress_read(dir, &p);
	CHECK(rc == 0 && p.step == 1000, "the newest versioned folder's file",
	    "rc=%d step=%lld", rc, p.step);
}

int
main(void)
{
	PLAN(23);
	if (mkdtemp(top) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_read();
	test_real();
	test_bounds();
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", top);
	}
	return t_exit();
}
