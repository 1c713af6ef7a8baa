/*
 * compare.c: runs side by side and a config's history.  See compare.h.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cJSON.h>

#include "compare.h"
#include "diff.h"
#include "html.h"
#include "job.h"
#include "results.h"
#include "rundir.h"
#include "util.h"

/* One colour per run, in order (the first is the jobs page's loss red). */
static const char *const colour[COMPARE_MAX] = {
	"#c33", "#27c", "#2a7", "#a80", "#85c", "#0aa", "#e70", "#555"
};

int
compare_load(struct rundir *rd, const char *id, struct run *r)
{
	memset(r, 0, sizeof(*r));
	if ((r->o = job_load_shown(rd, id, &r->j)) == NULL)
		return -1;
	if ((r->config = job_read_config(&r->j, &r->config_len)) == NULL)
		snprintf(r->why, sizeof(r->why), "%s", r->j.config_copy_error[0]
		    ? r->j.config_copy_error : errno == ENOENT ? "no config "
		    "kept (the job has not started, or is older than this "
		    "version)" : strerror(errno));
	return 0;
}

void
compare_free(struct run *r)
{
	cJSON_Delete(r->o);
	free(r->config);
	job_close(&r->j);
	memset(r, 0, sizeof(*r));
}

long
compare_diff(const struct run *a, const struct run *b, diff_out *out,
    void *arg)
{
	if (a->config == NULL || b->config == NULL)
		return -1;
	return diff_unified(a->config, a->config_len, b->config,
	    b->config_len, 3, out, arg);
}

/* diff_out into a FILE: the diff as `diff -u` prints it. */
static void
to_text(void *arg, char tag, const char *s, size_t n)
{
	FILE *f = arg;

	if (tag != '@')
		fputc(tag, f);
	fwrite(s, 1, n, f);
	fputc('\n', f);
}

/* A result of o as JSON (non-finite numbers as results_to_json says). */
static void
add_result(cJSON *to, const cJSON *o, const char *name)
{
	double v;

	if (results_number(o, name, &v))
		results_add_number(to, name, v);
	else
		cJSON_AddNullToObject(to, name);
}

cJSON *
compare_json(struct run *r, size_t n)
{
	static const char *const copied[] = { "id", "sha", "commit_title",
	    "repository", "branch", "config", "state" };
	cJSON *all = cJSON_CreateObject(), *runs, *diffs, *o, *d;
	char *text = NULL;
	size_t i, k, len = 0;
	FILE *f;
	long ch;

	if (all == NULL || (runs = cJSON_AddArrayToObject(all, "runs")) ==
	    NULL || (diffs = cJSON_AddArrayToObject(all, "diffs")) == NULL)
		goto oom;
	for (i = 0; i < n; i++) {
		if ((o = cJSON_CreateObject()) == NULL)
			goto oom;
		cJSON_AddItemToArray(runs, o);
		for (k = 0; k < sizeof(copied) / sizeof(copied[0]); k++)
			if (json_str(r[i].o, copied[k]) != NULL)
				cJSON_AddStringToObject(o, copied[k],
				    json_str(r[i].o, copied[k]));
			else
				cJSON_AddNullToObject(o, copied[k]);
		add_result(o, r[i].o, "loss");
		add_result(o, r[i].o, "eval_loss");
		add_result(o, r[i].o, "best_metric");
		add_result(o, r[i].o, "global_step");
		add_result(o, r[i].o, "duration");
		if (r[i].config != NULL)
			cJSON_AddStringToObject(o, "config_copy",
			    r[i].j.config_copy);
		else
			cJSON_AddStringToObject(o, "config_missing", r[i].why);
	}
	for (i = 1; i < n; i++) {
		if ((d = cJSON_CreateObject()) == NULL ||
		    (f = open_memstream(&text, &len)) == NULL) {
			cJSON_Delete(d);
			goto oom;
		}
		cJSON_AddItemToArray(diffs, d);
		cJSON_AddStringToObject(d, "from", r[0].j.id);
		cJSON_AddStringToObject(d, "to", r[i].j.id);
		ch = compare_diff(&r[0], &r[i], to_text, f);
		fclose(f);
		if (ch >= 0) {
			cJSON_AddNumberToObject(d, "changes", (double)ch);
			cJSON_AddStringToObject(d, "diff", text);
		} else {
			cJSON_AddNullToObject(d, "changes");
			cJSON_AddNullToObject(d, "diff");
		}
		free(text);
		text = NULL;
	}
	return all;
oom:
	cJSON_Delete(all);
	return NULL;
}

/* A commit title cut to fit a legend: at most max bytes, whole chars. */
static void
short_title(const char *t, size_t max, char out[TITLE_MAX])
{
	size_t n = strlen(t ? t : "");

	snprintf(out, TITLE_MAX, "%s", t ? t : "");
	if (n <= max)
		return;
	while (max > 0 && ((unsigned char)out[max] & 0xc0) == 0x80)
		max--;		/* not inside a character */
	memcpy(out + max, "\xe2\x80\xa6", 4);	/* ... */
}

/* A result cell: the number, or "-". */
static void
result_cell(FILE *f, const cJSON *o, const char *name)
{
	char num[32];
	double v;

	fputs("<td>", f);
	if (!results_number(o, name, &v))
		fputs("-", f);
	else if (strcmp(name, "duration") == 0) {
		duration_format(num, sizeof(num), v);
		fputs(num, f);
	} else if (strcmp(name, "global_step") == 0)
		fprintf(f, "%.0f", v);
	else
		fputs(results_format(v, num), f);
	fputs("</td>", f);
}

/* diff_out into HTML: a line per row of a <pre>, its class its tag. */
static void
to_html(void *arg, char tag, const char *s, size_t n)
{
	FILE *f = arg;
	char *line;

	if ((line = strndup(s, n)) == NULL)
		return;
	fprintf(f, "<span class=\"%s\">", tag == '@' ? "hunk" : tag == '-' ?
	    "del" : tag == '+' ? "add" : "ctx");
	if (tag != '@')
		fputc(tag, f);
	html_text(f, line);
	fputs("</span>\n", f);
	free(line);
}

/* A job's id, short (its commit and config), linked, whole on hover. */
static void
job_link(FILE *f, const char *id)
{
	fprintf(f, "<a href=\"jobs/%s\" title=\"%s\">%s</a>", id, id,
	    strchr(id, '-') ? strchr(id, '-') + 1 : id);
}

/*
 * The runs' loss curves in one chart: the training loss solid, the eval
 * loss dashed, one colour per run; a legend of short sha and title.
 */
static void
overlay(FILE *f, struct run *r, size_t n)
{
	struct point *pts[COMPARE_MAX];
	int np[COMPARE_MAX], k, any = 0, eval;
	char path[PATH_MAX], title[TITLE_MAX];
	struct chart c = { 60, 20, 560, 200, INFINITY, -INFINITY, INFINITY,
	    -INFINITY, "step", "loss", 1 };
	size_t i;
	double v;

	for (i = 0; i < n; i++) {
		np[i] = results_curve(job_output_dir(&r[i].j, path), &pts[i]);
		for (k = 0; k < np[i]; k++) {
			c.xmin = html_min(c.xmin, pts[i][k].step);
			c.xmax = html_max(c.xmax, pts[i][k].step);
			v = isnan(pts[i][k].loss) ? pts[i][k].eval_loss :
			    pts[i][k].loss;
			c.ymin = html_min(c.ymin, v);
			c.ymax = html_max(c.ymax, v);
			if (!isnan(pts[i][k].eval_loss)) {
				c.ymin = html_min(c.ymin, pts[i][k].eval_loss);
				c.ymax = html_max(c.ymax, pts[i][k].eval_loss);
			}
			any = 1;
		}
	}
	if (!any) {
		fputs("<p>No run logged a loss yet.</p>\n", f);
		goto out;
	}
	fprintf(f, "<svg id=\"overlay\" xmlns=\"http://www.w3.org/2000/svg\" "
	    "width=\"%d\" height=\"%zu\" role=\"img\" aria-label=\"loss by "
	    "step, one line per run\">\n", c.x0 + c.w + 70, (size_t)c.y0 +
	    c.h + 30 + 18 * n);
	html_axes(f, &c);
	for (i = 0; i < n; i++) {
		for (eval = 0; eval < 2; eval++) {
			int m = 0;

			fprintf(f, "<polyline class=\"%s run%zu\" fill=\"none\" "
			    "stroke=\"%s\" stroke-width=\"%s\"%s points=\"",
			    eval ? "eval" : "loss", i, colour[i], eval ? "2" :
			    "1.5", eval ? " stroke-dasharray=\"5 3\"" : "");
			for (k = 0; k < np[i]; k++) {
				v = eval ? pts[i][k].eval_loss : pts[i][k].loss;
				if (!isnan(v))
					fprintf(f, "%s%.1f,%.1f", m++ ? " " : "",
					    html_scale(pts[i][k].step, c.xmin,
					    c.xmax, c.x0, c.w), html_scale(v,
					    c.ymax, c.ymin, c.y0, c.h));
			}
			fputs("\"/>\n", f);
		}
		/* The legend: a line of the run's colour, sha, title. */
		fprintf(f, "<g class=\"legend\"><line x1=\"%d\" y1=\"%zu\" "
		    "x2=\"%d\" y2=\"%zu\" stroke=\"%s\" stroke-width=\"3\"/>"
		    "<text x=\"%d\" y=\"%zu\">", c.x0, (size_t)c.y0 + c.h +
		    40 + 18 * i, c.x0 + 24, (size_t)c.y0 + c.h + 40 + 18 * i,
		    colour[i], c.x0 + 30, (size_t)c.y0 + c.h + 44 + 18 * i);
		fprintf(f, "%.7s ", commit_id_valid(r[i].j.sha) ? r[i].j.sha :
		    "-");
		short_title(r[i].j.commit_title, 60, title);
		html_text(f, title);
		fputs("</text></g>\n", f);
	}
	fputs("<text class=\"key\" x=\"480\" y=\"14\">eval loss dashed</text>"
	    "\n</svg>\n", f);
out:
	for (i = 0; i < n; i++)
		if (np[i] >= 0)
			free(pts[i]);
}

/* The results side by side: a column per run. */
static void
results_table(FILE *f, struct run *r, size_t n)
{
	static const struct { const char *name, *label; } rows[] = {
		{ "loss", "final loss" }, { "eval_loss", "eval loss" },
		{ "best_metric", "best metric" },
		{ "global_step", "global step" }, { "duration", "duration" }
	};
	size_t i, k;

	fputs("<table id=\"results\"><tr><th></th>", f);
	for (i = 0; i < n; i++) {
		fprintf(f, "<th><span style=\"color:%s\">&#9632;</span> ",
		    colour[i]);
		job_link(f, r[i].j.id);
		fputs("</th>", f);
	}
	fputs("</tr>\n", f);
	for (k = 0; k < 3; k++) {
		fprintf(f, "<tr><th>%s</th>", k == 0 ? "commit" : k == 1 ?
		    "config" : "state");
		for (i = 0; i < n; i++) {
			fputs("<td>", f);
			if (k == 0) {		/* sha linked, then title */
				html_commit(f, r[i].o);
				fputs(" ", f);
				html_text(f, r[i].j.commit_title);
			} else if (k == 1) {	/* config (branch) */
				html_text(f, r[i].j.config);
				fputs(" <small>(", f);
				html_text(f, r[i].j.branch);
				fputs(")</small>", f);
			} else
				html_badge(f, json_str(r[i].o, "state"));
			fputs("</td>", f);
		}
		fputs("</tr>\n", f);
	}
	for (k = 0; k < sizeof(rows) / sizeof(rows[0]); k++) {
		fprintf(f, "<tr class=\"%s\"><th>%s</th>", rows[k].name,
		    rows[k].label);
		for (i = 0; i < n; i++)
			result_cell(f, r[i].o, rows[k].name);
		fputs("</tr>\n", f);
	}
	fputs("</table>\n", f);
}

/* The ids a query names: jobs=A,B,... and jobs=C (the form's). */
static size_t
query_ids(const char *query, char ids[][JOB_ID_MAX], size_t max, int *bad)
{
	char buf[COMPARE_MAX * (JOB_ID_MAX + 1) + 1], *s, *next;
	size_t n = 0;
	int i;

	*bad = 0;
	for (i = 0; html_query_nth(query, "jobs", i, buf, sizeof(buf)) !=
	    NULL && i < 64; i++)
		for (s = buf; s != NULL; s = next) {
			if ((next = strchr(s, ',')) != NULL)
				*next++ = '\0';
			if (*s == '\0')
				continue;
			if (!job_id_valid(s) || n == max) {
				*bad = 1;
				return n;
			}
			snprintf(ids[n++], JOB_ID_MAX, "%s", s);
		}
	return n;
}

int
compare_page(FILE *f, struct rundir *rd, const char *query)
{
	char ids[COMPARE_MAX][JOB_ID_MAX];
	struct run r[COMPARE_MAX];
	size_t n, i, loaded = 0;
	int bad, status = 200;
	long ch;

	n = query_ids(query, ids, COMPARE_MAX, &bad);
	html_head(f, "swift-webhook: compare");
	fputs("<p><a href=\"./\">jobs</a></p><h1>Compare runs</h1>\n", f);
	if (bad || n < 2) {
		fprintf(f, "<p id=\"error\">Name 2 to %d jobs: "
		    "compare?jobs=A,B (ids as the jobs table links them), or "
		    "tick them on the <a href=\"./\">jobs table</a>.</p>\n",
		    COMPARE_MAX);
		status = 404;
		goto out;
	}
	for (i = 0; i < n; i++, loaded++)
		if (compare_load(rd, ids[i], &r[i]) == -1) {
			fputs("<p id=\"error\">No such job: ", f);
			html_text(f, ids[i]);
			fputs("</p>\n", f);
			status = 404;
			goto out;
		}
	overlay(f, r, n);
	fputs("<h2>Results</h2>\n", f);
	results_table(f, r, n);
	fputs("<h2>Config</h2>\n", f);
	for (i = 1; i < n; i++) {
		fprintf(f, "<h3>%.7s &rarr; %.7s</h3>\n", commit_id_valid(
		    r[0].j.sha) ? r[0].j.sha : "-", commit_id_valid(r[i].j.sha) ?
		    r[i].j.sha : "-");
		/* The code changed too: GitHub's compare of the commits. */
		if (commit_id_valid(r[0].j.sha) && commit_id_valid(r[i].j.sha) &&
		    strcmp(r[0].j.sha, r[i].j.sha) != 0 &&
		    html_repo_base(NULL, r[0].o) && r[0].j.repository != NULL &&
		    r[i].j.repository != NULL && strcasecmp(r[0].j.repository,
		    r[i].j.repository) == 0) {
			fputs("<p class=\"code\"><a href=\"", f);
			html_repo_base(f, r[0].o);
			fprintf(f, "/compare/%s...%s\">every change between the "
			    "two commits</a> (the code too)</p>\n", r[0].j.sha,
			    r[i].j.sha);
		}
		if (r[0].config == NULL || r[i].config == NULL) {
			fputs("<p class=\"missing\">", f);
			html_text(f, r[0].config == NULL ? r[0].why : r[i].why);
			fputs("</p>\n", f);
			continue;
		}
		fputs("<pre class=\"diff\">", f);
		fputs("<span class=\"hunk\">--- ", f);
		html_text(f, r[0].j.id);
		fputs("/", f);
		html_text(f, r[0].j.config_copy);
		fputs("\n+++ ", f);
		html_text(f, r[i].j.id);
		fputs("/", f);
		html_text(f, r[i].j.config_copy);
		fputs("</span>\n", f);
		ch = compare_diff(&r[0], &r[i], to_html, f);
		if (ch == 0)
			fputs("<span class=\"same\">(the same config)</span>\n",
			    f);
		fputs("</pre>\n", f);
	}
out:
	fputs("</body></html>\n", f);
	for (i = 0; i < loaded; i++)
		compare_free(&r[i]);
	return status;
}

/* What a trend keeps of the jobs: ids of the config, oldest first. */
struct trend {
	const char	*config, *branch, *repository;
	struct strv	 ids;
};

/* A trend's chart: final loss (and eval loss) per run, each a link. */
static void
trend_chart(FILE *f, char *const *ids, cJSON *const *o, size_t n)
{
	struct chart c = { 60, 20, 560, 200, 1, (double)n, INFINITY,
	    -INFINITY, "run (its commit)", "final loss", 0 };
	const char *const names[2] = { "loss", "eval_loss" };
	size_t i;
	int e, m, any = 0;
	double v;

	for (i = 0; i < n; i++)
		for (e = 0; e < 2; e++)
			if (results_number(o[i], names[e], &v) && isfinite(v)) {
				c.ymin = html_min(c.ymin, v);
				c.ymax = html_max(c.ymax, v);
				any = 1;
			}
	if (!any)
		return;
	fprintf(f, "<svg id=\"trend\" xmlns=\"http://www.w3.org/2000/svg\" "
	    "width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"final loss "
	    "per run\">\n", c.x0 + c.w + 70, c.y0 + c.h + 45);
	html_axes(f, &c);
	for (e = 0; e < 2; e++) {
		fprintf(f, "<polyline class=\"%s\" fill=\"none\" stroke=\"%s\" "
		    "%s points=\"", names[e], colour[e], e ?
		    "stroke-dasharray=\"5 3\"" : "");
		for (i = 0, m = 0; i < n; i++)
			if (results_number(o[i], names[e], &v) && isfinite(v))
				fprintf(f, "%s%.1f,%.1f", m++ ? " " : "",
				    html_scale((double)i + 1, c.xmin, c.xmax,
				    c.x0, c.w), html_scale(v, c.ymax, c.ymin,
				    c.y0, c.h));
		fputs("\"/>\n", f);
		for (i = 0; i < n; i++)
			if (results_number(o[i], names[e], &v) && isfinite(v))
				fprintf(f, "<a href=\"jobs/%s\"><circle class="
				    "\"point\" cx=\"%.1f\" cy=\"%.1f\" r=\"4\" "
				    "fill=\"%s\"><title>%s %s %.4g</title>"
				    "</circle></a>\n", ids[i], html_scale(
				    (double)i + 1, c.xmin, c.xmax, c.x0, c.w),
				    html_scale(v, c.ymax, c.ymin, c.y0, c.h),
				    colour[e], ids[i], names[e], v);
	}
	/* Each run's short sha under it, as many as fit (one in every). */
	for (i = 0; i < n; i += n / 12 + 1)
		fprintf(f, "<text class=\"run\" x=\"%.1f\" y=\"%d\" "
		    "text-anchor=\"middle\">%.7s</text>\n", html_scale((double)i +
		    1, c.xmin, c.xmax, c.x0, c.w), c.y0 + c.h + 15,
		    commit_id_valid(json_str(o[i], "sha")) ? json_str(o[i],
		    "sha") : "-");
	fprintf(f, "<text x=\"%d\" y=\"%d\" fill=\"%s\">loss</text><text "
	    "x=\"%d\" y=\"%d\" fill=\"%s\">eval loss (dashed)</text>\n"
	    "</svg>\n", c.x0 + c.w - 150, c.y0 + c.h + 36, colour[0],
	    c.x0 + c.w - 110, c.y0 + c.h + 36, colour[1]);
}

int
trend_page(FILE *f, struct rundir *rd, const char *query)
{
	char cbuf[PATH_MAX], bbuf[256], rbuf[256];
	struct trend t = { NULL, NULL, NULL, { NULL, 0 } };
	char *ids[TREND_MAX];
	cJSON *o, *shown[TREND_MAX];
	size_t i, n = 0, k;
	const char *r;

	t.config = html_query(query, "config", cbuf, sizeof(cbuf));
	t.branch = html_query(query, "branch", bbuf, sizeof(bbuf));
	t.repository = html_query(query, "repository", rbuf, sizeof(rbuf));
	html_head(f, "swift-webhook: trend");
	fputs("<p><a href=\"./\">jobs</a></p>\n", f);
	if (t.config == NULL || *t.config == '\0') {
		fputs("<h1>Trend</h1><p id=\"error\">Name a config: "
		    "trend?config=configs/sft.yaml&amp;branch=main.</p>"
		    "</body></html>\n", f);
		return 404;
	}
	fputs("<h1>", f);
	html_text(f, t.config);
	if (t.branch != NULL) {
		fputs(" on ", f);
		html_text(f, t.branch);
	}
	if (t.repository != NULL) {
		fputs(" <small>", f);
		html_text(f, t.repository);
		fputs("</small>", f);
	}
	fputs("</h1>\n", f);
	rundir_job_ids(rd, &t.ids, 1);
	/* The latest TREND_MAX of them, read newest first, shown oldest. */
	for (k = 0; k < t.ids.n && n < TREND_MAX; k++) {
		if ((o = job_load_shown(rd, t.ids.v[k], NULL)) == NULL)
			continue;
		r = json_str(o, "repository");
		if (json_str(o, "config") == NULL ||
		    strcmp(json_str(o, "config"), t.config) != 0 ||
		    (t.branch != NULL && (json_str(o, "branch") == NULL ||
		    strcmp(json_str(o, "branch"), t.branch) != 0)) ||
		    (t.repository != NULL && (r == NULL || strcasecmp(r,
		    t.repository) != 0))) {
			cJSON_Delete(o);
			continue;
		}
		ids[n] = t.ids.v[k];
		shown[n++] = o;
	}
	for (i = 0; i < n / 2; i++) {	/* oldest first */
		char *id = ids[i];

		o = shown[i];
		ids[i] = ids[n - 1 - i];
		shown[i] = shown[n - 1 - i];
		ids[n - 1 - i] = id;
		shown[n - 1 - i] = o;
	}
	if (n == 0)
		fputs("<p id=\"none\">No run of this config yet.</p>\n", f);
	else {
		fprintf(f, "<p>%zu run%s, in the order they were pushed%s.</p>\n",
		    n, n == 1 ? "" : "s", n == TREND_MAX ? " (the latest)" : "");
		trend_chart(f, ids, shown, n);
		fputs("<table id=\"runs\"><tr><th>#</th><th>commit</th><th>"
		    "branch</th><th>state</th><th>final loss</th><th>eval loss"
		    "</th><th>best metric</th><th>job</th><th></th></tr>\n", f);
		for (i = 0; i < n; i++) {
			fprintf(f, "<tr class=\"run\"><td>%zu</td><td>", i + 1);
			html_commit(f, shown[i]);
			fputs(" ", f);
			html_text(f, json_str(shown[i], "commit_title"));
			fputs("</td><td>", f);
			html_text(f, json_str(shown[i], "branch"));
			fputs("</td><td>", f);
			html_badge(f, json_str(shown[i], "state"));
			fputs("</td>", f);
			result_cell(f, shown[i], "loss");
			result_cell(f, shown[i], "eval_loss");
			result_cell(f, shown[i], "best_metric");
			fputs("<td>", f);
			job_link(f, ids[i]);
			fputs("</td><td>", f);
			if (i > 0)
				fprintf(f, "<a href=\"compare?jobs=%s,%s\">"
				    "compare with #%zu</a>", ids[i - 1], ids[i],
				    i);
			fputs("</td></tr>\n", f);
		}
		fputs("</table>\n", f);
	}
	fputs("</body></html>\n", f);
	for (i = 0; i < n; i++)
		cJSON_Delete(shown[i]);
	strv_free(&t.ids);
	return 200;
}
