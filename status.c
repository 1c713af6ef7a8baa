/*
 * status.c: the status page.  See status.h.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "compare.h"
#include "deployment.h"
#include "html.h"
#include "job.h"
#include "results.h"
#include "schedule.h"
#include "status.h"
#include "util.h"

#define PAGE_ROWS	50
#define LOG_LINES	200
#define LOG_TAIL	(1 << 20)	/* the most of a log read */
#define DAY		86400

/* A running job's progress bar, from its logging.jsonl. */
static void
progress_cell(FILE *f, const struct job *j)
{
	struct progress p;
	char path[PATH_MAX], text[64];

	if (progress_read(job_output_dir(j, path), &p) == -1)
		return;
	progress_format(&p, text, sizeof(text));
	fprintf(f, "<span class=\"bar\" title=\"%s\"><span style=\"width:%d%%"
	    "\"></span></span> ", text, progress_percent(&p));
	html_text(f, text);
}

static int
dcmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Success rate and median duration over days, runs per day (30 bars). */
static void
summary(FILE *f, struct rundir *rd, const struct strv *ids)
{
	int perday[30] = { 0 }, ok[2] = { 0, 0 }, done[2] = { 0, 0 }, max = 1;
	double *dur[2], med;
	size_t nd[2] = { 0, 0 }, i, k;
	time_t now = time(NULL), t;
	const char *st;
	cJSON *o;

	dur[0] = calloc(ids->n + 1, sizeof(double));
	dur[1] = calloc(ids->n + 1, sizeof(double));
	for (i = 0; dur[0] && dur[1] && i < ids->n; i++) {
		t = job_id_time(ids->v[i]);
		if (t > now)
			continue;	/* the clock went back, or a planted id */
		if (t == 0 || now - t >= 30 * DAY)
			break;		/* newest first: the rest are older */
		perday[(now - t) / DAY]++;
		if ((o = job_load_shown(rd, ids->v[i], NULL)) == NULL)
			continue;
		st = json_str(o, "state");
		for (k = 0; k < 2; k++) {
			if (k == 0 && now - t >= 7 * DAY)
				continue;
			if (st != NULL && (strcmp(st, "succeeded") == 0 ||
			    strcmp(st, "failed") == 0 || strcmp(st, "killed") ==
			    0 || strcmp(st, "timeout") == 0)) {
				done[k]++;
				ok[k] += strcmp(st, "succeeded") == 0;
			}
			if (json_num(o, "duration", -1) >= 0)
				dur[k][nd[k]++] = json_num(o, "duration", -1);
		}
		cJSON_Delete(o);
	}
	fputs("<h2>Summary</h2><table><tr><th></th><th>success rate</th>"
	    "<th>median duration</th><th>runs ended</th></tr>", f);
	for (k = 0; k < 2; k++) {
		char d[32] = "-";

		if (nd[k] > 0) {
			qsort(dur[k], nd[k], sizeof(double), dcmp);
			med = nd[k] % 2 ? dur[k][nd[k] / 2] :
			    (dur[k][nd[k] / 2 - 1] + dur[k][nd[k] / 2]) / 2;
			duration_format(d, sizeof(d), med);
		}
		if (done[k] > 0)
			fprintf(f, "<tr><td>last %d days</td><td>%.0f%%</td>"
			    "<td>%s</td><td>%d</td></tr>", k ? 30 : 7,
			    100.0 * ok[k] / done[k], d, done[k]);
		else
			fprintf(f, "<tr><td>last %d days</td><td>-</td>"
			    "<td>%s</td><td>0</td></tr>", k ? 30 : 7, d);
	}
	fputs("</table>\n<p>Runs per day, last 30 days:</p>\n", f);
	for (i = 0; i < 30; i++)
		if (perday[i] > max)
			max = perday[i];
	fputs("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"330\" "
	    "height=\"70\" role=\"img\" aria-label=\"runs per day\">", f);
	for (i = 0; i < 30; i++) {
		int h = perday[29 - i] * 50 / max;

		fprintf(f, "<rect x=\"%zu\" y=\"%d\" width=\"9\" height=\"%d\" "
		    "fill=\"#27c\"><title>%d</title></rect>", 5 + i * 11,
		    55 - h, h, perday[29 - i]);
	}
	fputs("<text x=\"5\" y=\"68\">30 days ago</text><text x=\"290\" "
	    "y=\"68\">today</text></svg>\n", f);
	free(dur[0]);
	free(dur[1]);
}

/* What the jobs table shows only (NULL: any), from the query. */
struct only {
	const char	*state, *branch, *repository;
};

static int
matches(const cJSON *o, const struct only *w)
{
	const char *s = json_str(o, "state"), *b = json_str(o, "branch");
	const char *r = json_str(o, "repository");

	return (w->state == NULL || (s != NULL && strcmp(s, w->state) == 0)) &&
	    (w->branch == NULL || (b != NULL && strcmp(b, w->branch) == 0)) &&
	    (w->repository == NULL || (r != NULL && strcasecmp(r,
	    w->repository) == 0));
}

/*
 * A time as people read a table: "13:43:07" today, "yesterday 18:02",
 * "Nov 28 18:02" this year, else the date; in the machine's zone, the
 * full UTC time on hover.
 */
static void
cell_time(FILE *f, const cJSON *o, const char *name)
{
	const char *iso = json_str(o, name);
	struct tm tm, today;
	char buf[32];
	time_t t, now = time(NULL);

	if (iso == NULL || (t = iso8601_parse(iso)) == -1) {
		fputs("<td>-</td>", f);
		return;
	}
	localtime_r(&t, &tm);
	localtime_r(&now, &today);
	if (tm.tm_year == today.tm_year && tm.tm_yday == today.tm_yday)
		strftime(buf, sizeof(buf), "%H:%M:%S", &tm);
	else if (tm.tm_year == today.tm_year && tm.tm_yday + 1 ==
	    today.tm_yday)
		strftime(buf, sizeof(buf), "yesterday %H:%M", &tm);
	else if (tm.tm_year == today.tm_year)
		strftime(buf, sizeof(buf), "%b %d %H:%M", &tm);
	else
		strftime(buf, sizeof(buf), "%Y-%m-%d", &tm);
	fputs("<td class=\"t\" title=\"", f);
	html_text(f, iso);
	fprintf(f, "\">%s</td>", buf);
}

/* An ended job's last loss and eval loss, as jobs prints them. */
static void
results_cell(FILE *f, const cJSON *o)
{
	char num[32];
	double v;

	if (results_number(o, "loss", &v))
		fprintf(f, "loss %s", results_format(v, num));
	if (results_number(o, "eval_loss", &v))
		fprintf(f, "%seval %s", results_number(o, "loss", &v) ?
		    " &middot; " : "", results_format((results_number(o,
		    "eval_loss", &v), v), num));
}

/* A filter link: ?name=value, the value's text. */
static void
filter_cell(FILE *f, const char *name, const char *value)
{
	fputs("<td>", f);
	if (value != NULL) {
		fprintf(f, "<a href=\"?%s=", name);
		html_urlenc(f, value);
		fputs("\">", f);
		html_text(f, value);
		fputs("</a>", f);
	}
	fputs("</td>", f);
}

/*
 * A link to the trend of o's config on o's branch, with text, from a
 * page base ("" or "../") below the jobs table.
 */
static void
trend_link(FILE *f, const char *base, const cJSON *o, const char *text)
{
	const char *config = json_str(o, "config");

	if (config == NULL)
		return;
	fprintf(f, "<a href=\"%strend?config=", base);
	html_urlenc(f, config);
	if (json_str(o, "branch") != NULL) {
		fputs("&amp;branch=", f);
		html_urlenc(f, json_str(o, "branch"));
	}
	if (json_str(o, "repository") != NULL &&
	    *json_str(o, "repository") != '\0') {
		fputs("&amp;repository=", f);
		html_urlenc(f, json_str(o, "repository"));
	}
	fputs("\" title=\"this config's runs\">", f);
	html_text(f, text);
	fputs("</a>", f);
}

/* A row of the jobs table; with repos, its repository first. */
static void
row(FILE *f, const struct job *j, const cJSON *o, int repos,
    const char *serving)
{
	const char *repo = json_str(o, "repository");
	const char *state = json_str(o, "state");
	char d[32];
	double dur = json_num(o, "duration", -1);
	time_t t;

	fprintf(f, "<tr class=\"job\"><td><input type=\"checkbox\" "
	    "name=\"jobs\" value=\"%s\" aria-label=\"compare %s\"></td><td>",
	    j->id, j->id);
	html_badge(f, state);
	if (serving != NULL) {		/* its model: serving, starting */
		fputs(" ", f);
		html_badge(f, serving);
	}
	if (json_str(o, "waiting") != NULL && !job_state_final(state)) {
		fputs(" <small class=\"waiting\">waiting: ", f);
		html_text(f, json_str(o, "waiting"));
		fputs("</small>", f);
	}
	fputs("</td>", f);
	if (repos)
		filter_cell(f, "repository", repo);
	filter_cell(f, "branch", json_str(o, "branch"));
	fputs("<td>", f);
	html_commit(f, o);
	if (j->commit_title[0] != '\0') {
		fputs(" <small class=\"title\">", f);
		html_text(f, j->commit_title);
		fputs("</small>", f);
	}
	fputs("</td><td>", f);
	trend_link(f, "", o, json_str(o, "config"));
	fputs("</td>", f);
	cell_time(f, o, "created");
	cell_time(f, o, "started");
	cell_time(f, o, "finished");
	if (dur < 0 && state != NULL && strcmp(state, "running") == 0 &&
	    (t = iso8601_parse(json_str(o, "started"))) != -1)
		dur = difftime(time(NULL), t);
	duration_format(d, sizeof(d), dur);
	fprintf(f, "<td>%s</td><td>", d);
	if (state != NULL && strcmp(state, "running") == 0)
		progress_cell(f, j);
	else if (job_state_final(state))
		results_cell(f, o);
	fputs("</td><td>", f);
	if (json_num(o, "exit_code", -1) >= 0)
		fprintf(f, "%.0f", json_num(o, "exit_code", -1));
	else if (json_num(o, "signal", -1) > 0)
		fprintf(f, "signal %.0f", json_num(o, "signal", -1));
	/* The id short (its commit and config), whole on hover. */
	fprintf(f, "</td><td><a href=\"jobs/%s\" title=\"%s\">%s</a></td>"
	    "</tr>\n", j->id, j->id, strchr(j->id, '-') ? strchr(j->id, '-') +
	    1 : j->id);
}

static void
page_link(FILE *f, size_t page, const struct only *w, const char *text)
{
	fprintf(f, "<a href=\"?page=%zu", page);
	if (w->state != NULL)
		fprintf(f, "&amp;state=%s", w->state);	/* a known name */
	if (w->branch != NULL) {
		fputs("&amp;branch=", f);
		html_urlenc(f, w->branch);
	}
	if (w->repository != NULL) {
		fputs("&amp;repository=", f);
		html_urlenc(f, w->repository);
	}
	fprintf(f, "\">%s</a> ", text);
}

/*
 * Says when the configuration file changed after this responder read
 * it: deliveries still run with what it read until the server reloads.
 */
static void
stale_config(FILE *f, const struct conf *c)
{
	struct stat st;

	if (c->loaded == 0 || stat(c->path, &st) == -1 || st.st_mtime <=
	    c->loaded)
		return;
	fputs("<p id=\"stale\">The configuration file ", f);
	html_text(f, c->path);
	fputs(" changed after this responder read it: deliveries still use "
	    "what it read. Reload the web server.</p>\n", f);
}

/*
 * The "Serving" box at the top of the jobs page: each deployment that
 * holds its port (deploy.h), with its model, commit, checkpoint and
 * since when; "nothing" when deploy is configured and none does.
 * Their jobs and states into live[] (at most max) for the badges.
 */
#define LIVE_SHOWN	16	/* deployments the Serving box shows */

static int
serving_box(FILE *f, struct rundir *rd, const struct conf *c,
    struct deployment *live, int max)
{
	char t[32];
	size_t i;
	int n, k, any = c->deploy.n > 0;

	for (i = 0; i < c->nsections; i++)
		any |= c->sections[i].deploy.n > 0;
	n = deployment_live_list(rd, DEPLOY_ANY, NULL, live, max);
	if (n == 0 && !any)
		return 0;
	fputs("<section id=\"serving\"><h2>Serving</h2>\n", f);
	if (n == 0)
		fputs("<p>Nothing is serving.</p>\n", f);
	for (k = 0; k < n; k++) {
		fputs("<p class=\"deployment\">", f);
		html_badge(f, live[k].state);
		fputs(" <b class=\"model\">", f);
		html_text(f, live[k].model_name);
		fputs("</b>", f);
		if (live[k].repository[0] != '\0') {
			fputs(" of ", f);
			html_text(f, live[k].repository);
		}
		fprintf(f, " from <a class=\"commit\" href=\"jobs/%s\">%.7s</a>",
		    live[k].job, live[k].sha[0] ? live[k].sha : "-");
		fputs(" <code class=\"checkpoint\">", f);
		html_text(f, live[k].checkpoint);
		fputs("</code>", f);
		if (live[k].port > 0)
			fprintf(f, " on :%d", live[k].port);
		if (live[k].since != 0) {
			iso8601(live[k].since, t);
			fprintf(f, ", since <time>%s</time>", t);
		}
		if (live[k].restarts > 0)
			fprintf(f, ", restarted %d time%s", live[k].restarts,
			    live[k].restarts == 1 ? "" : "s");
		fputs("</p>\n", f);
	}
	fputs("</section>\n", f);
	return n;
}

static void
jobs_page(FILE *f, struct rundir *rd, const struct conf *c,
    const char *query, struct page *pg)
{
	static const char *const states[] = { "queued", "preparing",
	    "running", "succeeded", "failed", "killed", "cancelled",
	    "superseded", "timeout", "lost" };
	char sbuf[32], bbuf[256], rbuf[256], pbuf[16], at[32];
	const char *state, *branch, *repository;
	struct strv ids = { NULL, 0 };
	struct deployment live[LIVE_SHOWN];
	struct only w;
	int repos = c->nsections > 0, nlive, k;
	const char *badge;
	size_t i, shown = 0, skip, page = 0;
	struct job j;
	cJSON *o;

	state = html_query(query, "state", sbuf, sizeof(sbuf));
	for (i = 0; state != NULL && i < sizeof(states) / sizeof(states[0]) &&
	    strcmp(state, states[i]) != 0; i++)
		;
	if (i == sizeof(states) / sizeof(states[0]))
		state = NULL;		/* only the names above */
	branch = html_query(query, "branch", bbuf, sizeof(bbuf));
	repository = html_query(query, "repository", rbuf, sizeof(rbuf));
	w = (struct only){ state, branch, repository };
	if (html_query(query, "page", pbuf, sizeof(pbuf)) != NULL)
		page = strtoul(pbuf, NULL, 10) % 100000;
	skip = page * PAGE_ROWS;
	rundir_job_ids(rd, &ids, 1);
	html_head(f, "swift-webhook: jobs");
	fputs("<h1>swift-webhook</h1>\n<nav>State: <a href=\"./\">all</a>", f);
	for (i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		fprintf(f, "<a href=\"?state=%s\">%s</a>", states[i],
		    states[i]);
	fputs("</nav>\n", f);
	stale_config(f, c);
	nlive = serving_box(f, rd, c, live, LIVE_SHOWN);
	if (c->nsections == 0 && !sched_open(c, sched_now())) {
		sched_format(c, sched_next_open(c, sched_now()), at);
		fprintf(f, "<p id=\"window\">Outside every training window "
		    "(run_window): queued jobs start when the next opens, %s."
		    "</p>\n", at);
	}
	for (i = 0; i < c->nsections; i++)
		if (!sched_open(&c->sections[i], sched_now())) {
			sched_format(&c->sections[i], sched_next_open(
			    &c->sections[i], sched_now()), at);
			fputs("<p class=\"window\">Outside the training "
			    "window of ", f);
			html_text(f, c->sections[i].name);
			fprintf(f, " (run_window): its queued jobs start when "
			    "the next opens, %s.</p>\n", at);
		}
	if (state != NULL || branch != NULL || repository != NULL) {
		fputs("<p>Showing only", f);
		if (repository != NULL) {
			fputs(" repository <b>", f);
			html_text(f, repository);
			fputs("</b>", f);
		}
		if (state != NULL) {
			fputs(" state <b>", f);
			html_text(f, state);
			fputs("</b>", f);
		}
		if (branch != NULL) {
			fputs(" branch <b>", f);
			html_text(f, branch);
			fputs("</b>", f);
		}
		fputs("</p>\n", f);
	}
	fputs("<form action=\"compare\" method=\"get\">\n", f);
	fprintf(f, "<table id=\"jobs\"><tr><th><button type=\"submit\" "
	    "title=\"the runs ticked, side by side\">compare</button></th>"
	    "<th>state</th>%s<th>branch</th>"
	    "<th>commit</th><th>config</th>", repos ? "<th>repository</th>" :
	    "");
	fputs("<th>queued</th><th>started</th><th>finished"
	    "</th><th>duration</th><th>progress</th><th>exit</th><th>job</th>"
	    "</tr>\n", f);
	for (i = 0; i < ids.n && shown < PAGE_ROWS; i++) {
		if ((o = job_load_shown(rd, ids.v[i], &j)) == NULL)
			continue;
		if (matches(o, &w)) {
			if (skip > 0)
				skip--;
			else {
				for (k = 0, badge = NULL; k < nlive; k++)
					if (strcmp(live[k].job, j.id) == 0)
						badge = live[k].state;
				row(f, &j, o, repos, badge);
				shown++;
				if (!job_state_final(json_str(o, "state")))
					pg->refresh = 10;
			}
		}
		cJSON_Delete(o);
		job_close(&j);
	}
	fputs("</table>\n</form>\n<p>", f);
	if (page > 0)
		page_link(f, page - 1, &w, "newer");
	if (shown == PAGE_ROWS)
		page_link(f, page + 1, &w, "older");
	fputs("</p>\n", f);
	summary(f, rd, &ids);
	fputs("</body></html>\n", f);
	strv_free(&ids);
}

/* One series of the curve: the training losses, or the eval losses. */
static void
series(FILE *f, const struct point *p, int n, int eval, const char *attrs,
    double smin, double smax, double lmin, double lmax)
{
	const int x0 = 60, y0 = 20, w = 560, h = 200;
	double v;
	int i, k = 0;

	fprintf(f, "<polyline class=\"%s\" fill=\"none\" %s points=\"",
	    eval ? "eval" : "loss", attrs);
	for (i = 0; i < n; i++) {
		v = eval ? p[i].eval_loss : p[i].loss;
		if (!isnan(v))
			fprintf(f, "%s%.1f,%.1f", k++ ? " " : "",
			    html_scale(p[i].step, smin, smax, x0, w),
			    html_scale(v, lmax, lmin, y0, h));
	}
	fputs("\"/>\n", f);
}

/*
 * The loss (eval loss, dotted, on the same scale; learning rate, dashed,
 * on its own) by step, with axes and labels: one polyline point per
 * logged step.
 */
static void
curve(FILE *f, const struct point *p, int n, double max_steps)
{
	double smin = p[0].step, smax = p[0].step, lmin = INFINITY,
	    lmax = -INFINITY, rmin = INFINITY, rmax = -INFINITY;
	const int x0 = 60, y0 = 20, w = 560, h = 200;
	struct chart ax;
	int i, lr = 0, eval = 0;

	for (i = 0; i < n; i++) {
		smin = html_min(smin, p[i].step);
		smax = html_max(smax, p[i].step);
		if (!isnan(p[i].loss)) {
			lmin = html_min(lmin, p[i].loss);
			lmax = html_max(lmax, p[i].loss);
		}
		if (!isnan(p[i].eval_loss)) {
			lmin = html_min(lmin, p[i].eval_loss);
			lmax = html_max(lmax, p[i].eval_loss);
			eval = 1;
		}
		if (!isnan(p[i].lr)) {
			rmin = html_min(rmin, p[i].lr);
			rmax = html_max(rmax, p[i].lr);
			lr = 1;
		}
	}
	smax = html_max(smax, max_steps);
	fprintf(f, "<svg id=\"loss\" xmlns=\"http://www.w3.org/2000/svg\" "
	    "width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"loss by "
	    "step\">\n", x0 + w + 70, y0 + h + 45);
	ax = (struct chart){ x0, y0, w, h, smin, smax, lmin, lmax, "step",
	    "loss", 1 };
	html_axes(f, &ax);
	/* The legend. */
	fprintf(f, "<g class=\"legend\"><line x1=\"%d\" y1=\"%d\" x2=\"%d\" "
	    "y2=\"%d\" stroke=\"#c33\" stroke-width=\"1.5\"/><text x=\"%d\" "
	    "y=\"%d\">loss</text>", x0 + w - 150, y0 + h + 32, x0 + w - 130,
	    y0 + h + 32, x0 + w - 126, y0 + h + 36);
	if (eval)
		fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
		    "stroke=\"#a80\" stroke-width=\"2\" stroke-dasharray=\"1 3\"/>"
		    "<text x=\"%d\" y=\"%d\">eval loss</text>", x0 + w - 90,
		    y0 + h + 32, x0 + w - 70, y0 + h + 32, x0 + w - 66,
		    y0 + h + 36);
	if (lr)
		fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
		    "stroke=\"#27c\" stroke-dasharray=\"4 3\"/><text x=\"%d\" "
		    "y=\"%d\">learning rate</text>", x0 + w - 240, y0 + h + 32,
		    x0 + w - 220, y0 + h + 32, x0 + w - 216, y0 + h + 36);
	fputs("</g>\n", f);
	series(f, p, n, 0, "stroke=\"#c33\" stroke-width=\"1.5\"", smin, smax,
	    lmin, lmax);
	if (eval) {
		series(f, p, n, 1, "stroke=\"#a80\" stroke-width=\"2\" "
		    "stroke-dasharray=\"1 3\"", smin, smax, lmin, lmax);
	}
	if (lr) {
		fputs("<polyline class=\"lr\" fill=\"none\" stroke=\"#27c\" "
		    "stroke-dasharray=\"4 3\" points=\"", f);
		for (i = 0; i < n; i++)
			if (!isnan(p[i].lr))
				fprintf(f, "%s%.1f,%.1f", i ? " " : "",
				    html_scale(p[i].step, smin, smax, x0, w),
				    html_scale(p[i].lr, rmax, rmin, y0, h));
		fprintf(f, "\"/>\n<text x=\"%d\" y=\"%d\">lr %.3g</text>"
		    "<text x=\"%d\" y=\"%d\">lr %.3g</text>\n", x0 + w + 4,
		    y0 + 10, rmax, x0 + w + 4, y0 + h, rmin);
	}
	fputs("</svg>\n", f);
}

/* The last lines of the job's log (at most LOG_TAIL bytes read). */
static void
log_tail(FILE *f, int dirfd, int lines)
{
	struct stat st;
	char *buf, *s;
	off_t off;
	ssize_t n;
	int fd, k = 0;

	if ((fd = file_open_at(dirfd, "log", O_RDONLY, 0, ANY_OWNER)) == -1)
		return;
	if (fstat(fd, &st) == -1 || (buf = malloc(LOG_TAIL + 1)) == NULL) {
		close(fd);
		return;
	}
	off = st.st_size > LOG_TAIL ? st.st_size - LOG_TAIL : 0;
	n = pread(fd, buf, LOG_TAIL, off);
	close(fd);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	for (s = buf + n; s > buf; s--)
		if (s[-1] == '\n' && s != buf + n && ++k > lines)
			break;
	fputs("<pre id=\"log\">", f);
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t')
			fputc('?', f);
		else {
			char c[2] = { *s, '\0' };

			html_text(f, c);
		}
	fputs("</pre>\n", f);
	free(buf);
}

/*
 * The log's last LOG_TAIL bytes as of now: what a trainer writes while it
 * is read is not waited for (a log that keeps growing would hold the
 * answer, and its size, without end).
 */
static void
log_all(FILE *f, int dirfd)
{
	struct stat st;
	char buf[65536];
	off_t off, end;
	ssize_t n;
	int fd;

	if ((fd = file_open_at(dirfd, "log", O_RDONLY, 0, ANY_OWNER)) == -1)
		return;
	if (fstat(fd, &st) == 0) {
		end = st.st_size;
		off = end > LOG_TAIL ? end - LOG_TAIL : 0;
		while (off < end && (n = pread(fd, buf, end - off <
		    (off_t)sizeof(buf) ? (size_t)(end - off) : sizeof(buf),
		    off)) > 0) {
			fwrite(buf, 1, n, f);
			off += n;
		}
	}
	close(fd);
}

/*
 * A job.json value as people read it: a string as is, a duration as
 * 1h02m, null as "-", an object (after_success, results) as "key: value"
 * pairs, anything else as JSON.
 */
static void
record_value(FILE *f, const cJSON *v)
{
	const cJSON *k;
	char dur[32], *txt;

	if (cJSON_IsString(v))
		html_text(f, v->valuestring);
	else if (cJSON_IsNull(v))
		fputs("-", f);
	else if (cJSON_IsNumber(v) && v->string != NULL &&
	    strcmp(v->string, "duration") == 0) {
		duration_format(dur, sizeof(dur), v->valuedouble);
		fputs(dur, f);
	} else if (cJSON_IsObject(v)) {
		cJSON_ArrayForEach(k, v) {
			if (k != v->child)
				fputs(", ", f);
			html_text(f, k->string);
			fputs(": ", f);
			if (cJSON_IsObject(k) || cJSON_IsArray(k)) {
				if ((txt = cJSON_PrintUnformatted(k)) != NULL)
					html_text(f, txt);
				free(txt);
			} else
				record_value(f, k);
		}
	} else if ((txt = cJSON_PrintUnformatted(v)) != NULL) {
		html_text(f, txt);
		free(txt);
	}
}

/* The config the job trained, as kept (job_keep_config), or why not. */
static void
kept_config(FILE *f, const struct job *j)
{
	size_t len;
	char *text;

	fputs("<h2>Config</h2>\n", f);
	if ((text = job_read_config(j, &len)) == NULL) {
		fputs("<p id=\"config-missing\">", f);
		html_text(f, j->config_copy_error[0] ? j->config_copy_error :
		    "not kept: the trainer has not started");
		fputs("</p>\n", f);
		return;
	}
	fputs("<details id=\"config\"><summary>", f);
	html_text(f, j->config);
	fprintf(f, " as trained (%zu bytes)</summary><pre>", len);
	html_text(f, text);	/* a NUL in it ends it: shown up to there */
	fputs("</pre></details>\n", f);
	free(text);
}

/* A job page's line about serving its model (deploy.h), if any. */
static void
deployment_line(FILE *f, struct rundir *rd, const struct job *j)
{
	struct deployment d;

	if (j->deployment[0] != '\0' && deployment_read(rd, j->deployment,
	    &d) == 0) {
		fputs("<p id=\"deployment\">Deployment ", f);
		html_text(f, d.id);
		fputs(": ", f);
		html_badge(f, d.state);
		if (d.port > 0)
			fprintf(f, " on :%d", d.port);
		if (d.reason[0] != '\0') {
			fputs(" (", f);
			html_text(f, d.reason);
			fputs(")", f);
		}
		fputs("</p>\n", f);
		deployment_close(&d);
	} else if (j->deploy_note[0] != '\0') {
		fputs("<p id=\"deployment\">", f);
		html_text(f, j->deploy_note);
		fputs("</p>\n", f);
	}
}

static void
job_page(FILE *f, struct rundir *rd, const char *id, struct page *pg)
{
	struct point *pts;
	const cJSON *v;
	char path[PATH_MAX], prev[JOB_ID_MAX];
	const char *out;
	struct progress prog;
	struct job j;
	cJSON *o;
	int n;

	if (!job_id_valid(id) || (o = job_load_shown(rd, id, &j)) == NULL) {
		pg->status = 404;
		html_head(f, "no such job");
		fputs("<p>No such job.</p><p><a href=\"../\">jobs</a></p>"
		    "</body></html>\n", f);
		return;
	}
	html_head(f, id);
	fputs("<p><a href=\"../\">jobs</a></p><h1>", f);
	html_text(f, id);
	fputs(" ", f);
	html_badge(f, json_str(o, "state"));
	fputs("</h1>\n<p id=\"commit\">", f);
	html_commit(f, o);
	fputs(" ", f);
	html_text(f, j.commit_title);
	fputs(" &middot; ", f);
	trend_link(f, "../", o, "this config's runs");
	if (job_previous(rd, &j, PREVIOUS_SCAN, prev) == 0)
		fprintf(f, " &middot; <a id=\"previous\" href=\"../compare?"
		    "jobs=%s,%s\">compare with the previous run of this config"
		    "</a>", prev, j.id);
	fputs("</p>\n", f);
	deployment_line(f, rd, &j);
	out = job_output_dir(&j, path);
	if (!job_state_final(json_str(o, "state")))
		pg->refresh = 10;
	if (j.state == JOB_RUNNING && !job_lost(rd, &j)) {
		fputs("<p>Progress: ", f);
		progress_cell(f, &j);
		fputs("</p>\n", f);
	}
	if ((n = results_curve(out, &pts)) > 0) {
		fprintf(f, "<h2>Loss (%d steps)</h2>\n", n);
		/* While it runs, the x axis goes to max_steps. */
		if (j.state != JOB_RUNNING || progress_read(out, &prog) == -1)
			prog.max_steps = 0;
		curve(f, pts, n, (double)prog.max_steps);
	}
	free(pts);
	if (json_str(o, "last_model_checkpoint") || json_str(o,
	    "best_model_checkpoint")) {
		fputs("<h2>Checkpoints</h2><ul>", f);
		if (json_str(o, "last_model_checkpoint")) {
			fputs("<li>last: <code>", f);
			html_text(f, json_str(o, "last_model_checkpoint"));
			fputs("</code></li>", f);
		}
		if (json_str(o, "best_model_checkpoint")) {
			fputs("<li>best: <code>", f);
			html_text(f, json_str(o, "best_model_checkpoint"));
			fputs("</code></li>", f);
		}
		fputs("</ul>\n", f);
	}
	kept_config(f, &j);
	fputs("<h2>Record</h2><table id=\"record\">", f);
	cJSON_ArrayForEach(v, o) {
		fputs("<tr><th>", f);
		html_text(f, v->string);
		fputs("</th><td>", f);
		record_value(f, v);
		fputs("</td></tr>\n", f);
	}
	fprintf(f, "</table>\n<h2>Log (last %d lines, <a href=\"%s/log\">all"
	    "</a>)</h2>\n", LOG_LINES, id);
	log_tail(f, j.dirfd, LOG_LINES);
	fputs("</body></html>\n", f);
	cJSON_Delete(o);
	job_close(&j);
}

int
status_route(const char *path)
{
	return path != NULL && (strcmp(path, "/") == 0 ||
	    strcmp(path, "/compare") == 0 || strcmp(path, "/trend") == 0 ||
	    strncmp(path, "/jobs/", 6) == 0);
}

void
status_render(struct rundir *rd, const struct conf *c, const char *path,
    const char *query, struct page *pg)
{
	char id[JOB_ID_MAX + 8], *slash;
	struct job j;
	FILE *f;

	(void)c;
	memset(pg, 0, sizeof(*pg));
	pg->status = 200;
	pg->type = "text/html; charset=utf-8";
	if ((f = open_memstream(&pg->body, &pg->len)) == NULL) {
		pg->status = 500;
		return;
	}
	if (strcmp(path, "/") == 0)
		jobs_page(f, rd, c, query, pg);
	else if (strcmp(path, "/compare") == 0)
		pg->status = compare_page(f, rd, query);
	else if (strcmp(path, "/trend") == 0)
		pg->status = trend_page(f, rd, query);
	else {
		snprintf(id, sizeof(id), "%s", path + 6);
		if ((slash = strchr(id, '/')) != NULL &&
		    strcmp(slash, "/log") == 0) {
			*slash = '\0';
			if (job_id_valid(id) && job_read(rd, id, &j) == 0) {
				pg->type = "text/plain; charset=utf-8";
				log_all(f, j.dirfd);
				job_close(&j);
			} else {
				pg->status = 404;
				fputs("no such job\n", f);
			}
		} else if (slash != NULL) {
			pg->status = 404;
			fputs("Not Found\n", f);
		} else
			job_page(f, rd, id, pg);
	}
	if (fclose(f) != 0) {
		free(pg->body);
		pg->body = NULL;
		pg->status = 500;
	}
}
