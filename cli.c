/*
 * cli.c: swift-webhook's commands for people: jobs, show, logs, cancel,
 * retry, prune, check.
 *
 * Each job's state is read from its job.json; a job recorded as queued or
 * running whose supervisor is gone is shown as "lost", so that a dead
 * supervisor never leaves a job running forever.
 */
#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "checkout.h"
#include "cli.h"
#include "commitstatus.h"
#include "compare.h"
#include "delivery.h"
#include "deploy.h"
#include "deployment.h"
#include "conf.h"
#include "filter.h"
#include "gpu.h"
#include "job.h"
#include "lifecycle.h"
#include "prune.h"
#include "rundir.h"
#include "schedule.h"
#include "slurm.h"
#include "spawn.h"
#include "trainer.h"
#include "util.h"

static const char *progname = "swift-webhook";

static int	stale_responders(const char *path);

extern char **environ;

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: %s [-c config] command [arguments]\n"
	    "       %s --version\n"
	    "       %s              (no arguments: the FastCGI/CGI responder)\n"
	    "\n"
	    "commands:\n"
	    "  jobs [--json] [--state STATE] [--branch BRANCH] "
	    "[--repository OWNER/NAME]\n"
	    "                     list the jobs in the run directory\n"
	    "  show JOB           every field of one job (JOB: its id, a unique\n"
	    "                     prefix of it, or its short sha)\n"
	    "  logs [-f] JOB      print a job's log (-f: follow it)\n"
	    "  cancel JOB         stop a queued or running job\n"
	    "  retry JOB          a new job for the same commit and config\n"
	    "  compare [--json] JOB JOB...\n"
	    "                     up to 8 runs side by side: their commits, the\n"
	    "                     diff of the configs they trained, their results\n"
	    "  prune [--older-than 30d] [--state STATE...] [--dry-run]\n"
	    "                     remove ended jobs' folders, old delivery\n"
	    "                     records and stale claims\n"
	    "  dry-run [--event EVENT] FILE\n"
	    "                     what a delivery of FILE (a body) would get, and\n"
	    "                     each run's argv, env and folders; no signature,\n"
	    "                     nothing written or started\n"
	    "  deployments [--json]\n"
	    "                     what serves the model: current, starting,\n"
	    "                     previous (deploy)\n"
	    "  rollback [--repository OWNER/NAME]\n"
	    "                     serve the previous deployment's checkpoint\n"
	    "                     again, through the same health-gated switch\n"
	    "  undeploy [--repository OWNER/NAME]\n"
	    "                     stop serving (every live deployment)\n"
	    "  tick               take over jobs whose supervisor is gone and\n"
	    "                     start queued jobs on free slots (run by a\n"
	    "                     timer, as the server's user)\n"
	    "  check [--user USER]  load the configuration and try, as the\n"
	    "                     server's user (www-data when run as root),\n"
	    "                     what every delivery needs\n"
	    "\n"
	    "The configuration is -c FILE, else $SWIFT_WEBHOOK_CONFIG, else "
	    CONF_DEFAULT_PATH ".\n", progname, progname, progname);
}

/*
 * A running job's progress from the last line of its logging.jsonl:
 * "progress": {"step", "max_steps", "fraction", "remaining_seconds",
 * "loss", "text"}.
 */
static void
add_progress(cJSON *o, const struct job *j)
{
	struct progress pr;
	char path[PATH_MAX], text[64];
	cJSON *p;

	if (progress_read(job_output_dir(j, path), &pr) == -1 ||
	    (p = cJSON_AddObjectToObject(o, "progress")) == NULL)
		return;
	progress_format(&pr, text, sizeof(text));
	cJSON_AddNumberToObject(p, "step", (double)pr.step);
	cJSON_AddNumberToObject(p, "max_steps", (double)pr.max_steps);
	cJSON_AddNumberToObject(p, "fraction", (double)pr.step /
	    (double)pr.max_steps);
	if (pr.remaining >= 0)
		cJSON_AddNumberToObject(p, "remaining_seconds",
		    (double)pr.remaining);
	if (pr.has_loss)
		results_add_number(p, "loss", pr.loss);
	if (pr.has_eval_loss)
		results_add_number(p, "eval_loss", pr.eval_loss);
	cJSON_AddStringToObject(p, "text", text);
}

/* The configuration the command runs with, for what depends on it. */
static struct conf *conf;

/*
 * What people are shown of job id, with its progress if it runs, and
 * why it waits if it is queued outside every training window.
 */
static cJSON *
job_load(struct rundir *rd, const char *id)
{
	char why[64], at[32];
	const char *st;
	struct job j;
	cJSON *o;

	if ((o = job_load_shown(rd, id, &j)) == NULL)
		return NULL;
	st = json_str(o, "state");
	if (st != NULL && strcmp(st, JOB_RUNNING) == 0)
		add_progress(o, &j);
	if (st != NULL && strcmp(st, JOB_QUEUED) == 0 && conf != NULL &&
	    !sched_open(conf, sched_now())) {
		sched_format(conf, sched_next_open(conf, sched_now()), at);
		snprintf(why, sizeof(why), "window (opens %s)", at);
		cJSON_DeleteItemFromObjectCaseSensitive(o, "waiting");
		cJSON_AddStringToObject(o, "waiting", why);
	}
	job_close(&j);
	return o;
}

static int
cmp_ids(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* All jobs, oldest first, as a JSON array; NULL if run_dir cannot be read. */
static cJSON *
jobs_load(struct rundir *rd)
{
	struct strv ids = { NULL, 0 };
	cJSON *all = NULL, *job;
	size_t i;

	if (rundir_job_ids(rd, &ids, 0) == 0) {
		all = cJSON_CreateArray();
		for (i = 0; i < ids.n; i++)
			if ((job = job_load(rd, ids.v[i])) != NULL)
				cJSON_AddItemToArray(all, job);
	}
	strv_free(&ids);
	return all;
}

/* Seconds since an ISO 8601 UTC time, or -1. */
static double
since(const char *iso)
{
	time_t t = iso8601_parse(iso);

	return t == -1 ? -1 : difftime(time(NULL), t);
}

/*
 * o as JSON on stdout, what a trainer may have written in it escaped for
 * a terminal (json_text_tty).  Returns 0, or -1 if out of memory (said).
 */
static int
print_json(const cJSON *o)
{
	char *s, *t = NULL;

	if ((s = cJSON_Print(o)) == NULL || (t = json_text_tty(s)) == NULL) {
		free(s);
		fprintf(stderr, "%s: out of memory\n", progname);
		return -1;
	}
	printf("%s\n", t);
	free(t);
	free(s);
	return 0;
}

/*
 * What a trainer wrote (job.json, its log) made harmless for a terminal:
 * control characters (C0 but, with keep, \n \t \r; DEL; C1) and bytes
 * that are not UTF-8 each become '?', so that no escape sequence reaches
 * the operator's terminal.  Cleans n bytes of s into out (room for n);
 * without final, an incomplete UTF-8 sequence at the end is left for the
 * next call.  Returns how many bytes of s it took; *outlen the bytes out.
 */
static size_t
tty_clean(const char *s, size_t n, int keep, int final, char *out,
    size_t *outlen)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, k = 0, len, m;

	while (i < n) {
		len = u[i] < 0x80 ? 1 : u[i] >= 0xc2 && u[i] <= 0xdf ? 2 :
		    u[i] >= 0xe0 && u[i] <= 0xef ? 3 : u[i] >= 0xf0 &&
		    u[i] <= 0xf4 ? 4 : 0;
		if (len > 1 && i + len > n && !final)
			break;		/* the rest comes with the next read */
		for (m = 1; len > 1 && m < len && i + m < n &&
		    (u[i + m] & 0xc0) == 0x80; m++)
			;
		if (len == 1 && (u[i] >= 0x20 || (keep && (u[i] == '\n' ||
		    u[i] == '\t' || u[i] == '\r'))) && u[i] != 0x7f)
			out[k++] = s[i];
		else if (len > 1 && m == len && !(u[i] == 0xc2 &&
		    u[i + 1] < 0xa0)) {
			memcpy(out + k, s + i, len);
			k += len;
		} else {
			out[k++] = '?';
			len = len > 1 ? m : 1;	/* the bad bytes, one '?' */
		}
		i += len;
	}
	*outlen = k;
	return i;
}

/* A table cell: s cleaned for the terminal (at most 255 bytes of it). */
static const char *
cell(const char *s, char buf[256])
{
	size_t n;

	if (s == NULL)
		return "-";
	n = strnlen(s, 255);
	tty_clean(s, n, 0, 1, buf, &n);
	buf[n] = '\0';
	return buf;
}

/* Whether the jobs listed are of more than one repository. */
static int
many_repositories(const cJSON *all)
{
	const char *first = NULL, *r;
	const cJSON *job;

	cJSON_ArrayForEach(job, all) {
		if ((r = json_str(job, "repository")) == NULL)
			r = "";
		if (first == NULL)
			first = r;
		else if (strcasecmp(first, r) != 0)
			return 1;
	}
	return 0;
}

static void
print_table(const cJSON *all)
{
	const cJSON *job, *pr;
	const char *sha, *started, *state;
	char pid[16], dur[16], ex[16], how[256], num[32];
	char c1[256], c2[256], c3[256], c4[256], c5[256], c6[256], c7[256];
	char c8[256], c9[256], title[TITLE_MAX];
	double d, loss;
	int repo = many_repositories(all);

	if (repo)
		printf("%-24s ", "REPOSITORY");
	printf("%-40s %-10s %-8s %-16s %-8s %-28s %-20s %-9s %-5s %-24s %s\n",
	    "ID", "STATE", "PID", "BRANCH", "SHA", "CONFIG", "STARTED",
	    "DURATION", "EXIT", "PROGRESS", "TITLE");
	cJSON_ArrayForEach(job, all) {
		state = json_str(job, "state");
		sha = json_str(job, "sha");
		started = json_str(job, "started");
		if (json_num(job, "slurm_job_id", -1) > 0)
			snprintf(pid, sizeof(pid), "s%.0f",
			    json_num(job, "slurm_job_id", -1));
		else
			snprintf(pid, sizeof(pid), "%.0f",
			    json_num(job, "pid", -1));
		d = json_num(job, "duration", -1);
		if (d < 0 && state != NULL && strcmp(state, JOB_RUNNING) == 0)
			d = since(started);
		duration_format(dur, sizeof(dur), d);
		if (json_num(job, "exit_code", -1) >= 0)
			snprintf(ex, sizeof(ex), "%.0f",
			    json_num(job, "exit_code", -1));
		else if (json_num(job, "signal", -1) > 0)
			snprintf(ex, sizeof(ex), "sig%.0f",
			    json_num(job, "signal", -1));
		else
			snprintf(ex, sizeof(ex), "-");
		pr = cJSON_GetObjectItemCaseSensitive(job, "progress");
		if (json_str(job, "waiting") != NULL && !job_state_final(state))
			snprintf(how, sizeof(how), "waiting: %s",
			    json_str(job, "waiting"));
		else if (json_str(pr, "text") != NULL)
			snprintf(how, sizeof(how), "%s", json_str(pr, "text"));
		else if (results_number(job, "loss", &loss))
			snprintf(how, sizeof(how), "loss %s",
			    results_format(loss, num));
		else
			snprintf(how, sizeof(how), "-");
		if (repo)
			printf("%-24s ", cell(json_str(job, "repository"), c8));
		printf("%-40s %-10s %-8s %-16s %-8.7s %-28s %-20s %-9s %-5s "
		    "%-24s %s\n", cell(json_str(job, "id"), c1), state ?
		    cell(state, c2) : "?", json_num(job, "pid", -1) > 0 ||
		    json_num(job, "slurm_job_id", -1) > 0 ? pid : "-",
		    cell(json_str(job, "branch"), c3), cell(sha, c4),
		    cell(json_str(job, "config"), c5), cell(started, c6), dur,
		    ex, cell(how, c7), cell(title_clean(json_str(job,
		    "commit_title"), title), c9));
	}
}

static int
cmd_jobs(struct rundir *rd, int argc, char *argv[])
{
	const char *state = NULL, *branch = NULL, *repository = NULL, *v;
	cJSON *all, *job, *next;
	int i, json = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "--state") == 0 && i + 1 < argc)
			state = argv[++i];
		else if (strcmp(argv[i], "--branch") == 0 && i + 1 < argc)
			branch = argv[++i];
		else if (strcmp(argv[i], "--repository") == 0 && i + 1 < argc)
			repository = argv[++i];
		else {
			fprintf(stderr, "%s jobs: bad argument \"%s\"\n",
			    progname, argv[i]);
			return 2;
		}
	}
	if (state != NULL && !job_state_final(state) && strcmp(state,
	    JOB_QUEUED) != 0 && strcmp(state, JOB_PREPARING) != 0 &&
	    strcmp(state, JOB_RUNNING) != 0) {
		fprintf(stderr, "%s jobs: no state \"%s\"; the states are "
		    "queued, preparing, running, succeeded, failed, killed, "
		    "cancelled, superseded, timeout, lost\n", progname, state);
		return 2;
	}
	if ((all = jobs_load(rd)) == NULL) {
		fprintf(stderr, "%s: %s: %s\n", progname, rd->path,
		    strerror(errno));
		return 1;
	}
	for (job = all->child; job != NULL; job = next) {
		next = job->next;
		if ((state != NULL && ((v = json_str(job, "state")) == NULL ||
		    strcmp(v, state) != 0)) || (branch != NULL &&
		    ((v = json_str(job, "branch")) == NULL ||
		    strcmp(v, branch) != 0)) || (repository != NULL &&
		    ((v = json_str(job, "repository")) == NULL ||
		    strcasecmp(v, repository) != 0)))
			cJSON_Delete(cJSON_DetachItemViaPointer(all, job));
	}
	if (json)
		(void)print_json(all);
	else
		print_table(all);
	cJSON_Delete(all);
	return 0;
}


/* tick: lifecycle_tick has run; says so if it could not. */
static int
cmd_tick(struct rundir *rd, int argc)
{
	struct passwd *pw;

	if (argc > 1) {
		fprintf(stderr, "%s tick: takes no arguments\n", progname);
		return 2;
	}
	if (geteuid() != rd->uid) {
		pw = getpwuid(rd->uid);
		fprintf(stderr, "%s tick: run it as the run directory's owner "
		    "(%s): it starts jobs\n", progname, pw ? pw->pw_name :
		    "its owner");
		return 1;
	}
	return 0;
}

/* What resolve looks for, and what it found (the first ten). */
struct match {
	const char	*want;
	char		 found[10][JOB_ID_MAX];
	int		 n;
};

/* dir_each: a job id that starts with want, or whose short sha does. */
static int
match_one(void *arg, const char *name)
{
	struct match *m = arg;
	size_t n = strlen(m->want);

	if (!job_id_valid(name))
		return 0;
	if (strncmp(name, m->want, n) == 0 || (n >= 4 && n <= 7 &&
	    strspn(m->want, "0123456789abcdef") == n &&
	    strncmp(name + 21, m->want, n) == 0)) {
		if (m->n < 10)
			snprintf(m->found[m->n], JOB_ID_MAX, "%s", name);
		m->n++;
	}
	return 0;
}

/*
 * The job a person names: its id, a unique prefix of one, or its short
 * sha (4 to 7 hex digits, as jobs prints it).  Returns 0 with the id in
 * out; else says why (none, or which ones match) and returns -1.
 */
static int
resolve(struct rundir *rd, const char *arg, char out[JOB_ID_MAX])
{
	struct match m;
	int i;

	memset(&m, 0, sizeof(m));
	m.want = arg;
	if (job_id_valid(arg) && faccessat(rd->fd, arg, F_OK,
	    AT_SYMLINK_NOFOLLOW) == 0) {
		snprintf(out, JOB_ID_MAX, "%s", arg);
		return 0;
	}
	if (*arg != '\0' && strlen(arg) < JOB_ID_MAX)
		dir_each(rd->fd, match_one, &m);
	if (m.n == 1) {
		snprintf(out, JOB_ID_MAX, "%s", m.found[0]);
		return 0;
	}
	if (m.n == 0) {
		fprintf(stderr, "%s: no job %s in %s\n", progname, arg,
		    rd->path);
		return -1;
	}
	qsort(m.found, m.n < 10 ? m.n : 10, JOB_ID_MAX, cmp_ids);
	fprintf(stderr, "%s: %s is ambiguous: %d jobs match:\n", progname, arg,
	    m.n);
	for (i = 0; i < m.n && i < 10; i++)
		fprintf(stderr, "  %s\n", m.found[i]);
	if (m.n > 10)
		fprintf(stderr, "  ...\n");
	return -1;
}

static cJSON *
find_job(struct rundir *rd, const char *id)
{
	cJSON *job;

	if ((job = job_load(rd, id)) == NULL)
		fprintf(stderr, "%s: no job %s in %s%s%s\n", progname, id,
		    rd->path, errno == ENOENT ? "" : ": ",
		    errno == ENOENT ? "" : strerror(errno));
	return job;
}

static int
cmd_show(struct rundir *rd, int argc, char *argv[])
{
	cJSON *job;
	char path[PATH_MAX];
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: %s show JOB\n", progname);
		return 2;
	}
	if ((job = find_job(rd, argv[1])) == NULL)
		return 1;
	if (json_str(job, "output_dir") == NULL) {	/* older jobs */
		snprintf(path, sizeof(path), "%s/%s/output", rd->path, argv[1]);
		cJSON_AddStringToObject(job, "output_dir", path);
	}
	rc = print_json(job) == -1;
	cJSON_Delete(job);
	return rc;
}

/* diff_out to the terminal: each line cleaned (cell's rules, whole). */
static void
diff_line(void *arg, char tag, const char *s, size_t n)
{
	char *out;
	size_t k;

	(void)arg;
	if (n > 0 && s[n - 1] == '\r')
		n--;		/* a CRLF config: its lines, not a '?' each */
	if ((out = malloc(n + 1)) == NULL)
		return;
	tty_clean(s, n, 0, 1, out, &k);
	if (tag != '@')
		putchar(tag);
	fwrite(out, 1, k, stdout);
	putchar('\n');
	free(out);
}

/* compare's table: a row of o's field name, one column per run. */
static void
compare_row(const struct run *r, size_t n, const char *label,
    const char *name)
{
	char buf[32], c[256];
	double v;
	size_t i;

	printf("%-13s", label);
	for (i = 0; i < n; i++) {
		if (strcmp(name, "state") == 0)
			snprintf(buf, sizeof(buf), "%s", cell(json_str(r[i].o,
			    "state"), c));
		else if (!results_number(r[i].o, name, &v))
			snprintf(buf, sizeof(buf), "-");
		else if (strcmp(name, "duration") == 0)
			duration_format(buf, sizeof(buf), v);
		else if (strcmp(name, "global_step") == 0)
			snprintf(buf, sizeof(buf), "%.0f", v);
		else
			results_format(v, buf);
		printf(" %-14s", buf);
	}
	printf("\n");
}

/*
 * compare [--json] JOB JOB...: the runs' commits and titles, the diff of
 * each trained config against the first's, the results side by side.
 */
static int
cmd_compare(struct rundir *rd, int argc, char *argv[])
{
	char ids[COMPARE_MAX][JOB_ID_MAX], c1[256], c2[256];
	struct run r[COMPARE_MAX];
	size_t n = 0, i, loaded = 0;
	int json = 0, rc = 1, k;
	cJSON *o;

	for (k = 1; k < argc; k++) {
		if (strcmp(argv[k], "--json") == 0)
			json = 1;
		else if (n == COMPARE_MAX) {
			fprintf(stderr, "%s: compare: at most %d jobs\n",
			    progname, COMPARE_MAX);
			return 2;
		} else if (resolve(rd, argv[k], ids[n++]) == -1)
			return 1;
	}
	if (n < 2) {
		fprintf(stderr, "usage: %s compare [--json] JOB JOB...\n",
		    progname);
		return 2;
	}
	for (i = 0; i < n; i++, loaded++)
		if (compare_load(rd, ids[i], &r[i]) == -1) {
			fprintf(stderr, "%s: %s: %s\n", progname, ids[i],
			    strerror(errno));
			goto out;
		}
	if (json) {
		if ((o = compare_json(r, n)) == NULL) {
			fprintf(stderr, "%s: out of memory\n", progname);
			goto out;
		}
		if (print_json(o) == -1) {
			cJSON_Delete(o);
			goto out;
		}
		cJSON_Delete(o);
		rc = 0;
		goto out;
	}
	for (i = 0; i < n; i++)
		printf("%c  %s  %.7s  %s  %s\n", (int)('A' + i), r[i].j.id,
		    commit_id_valid(r[i].j.sha) ? r[i].j.sha : "-",
		    cell(r[i].j.config, c1), cell(r[i].j.commit_title, c2));
	for (i = 1; i < n; i++) {
		printf("\n");
		if (r[0].config == NULL || r[i].config == NULL) {
			printf("config: %s\n", cell(r[0].config == NULL ?
			    r[0].why : r[i].why, c1));
			continue;
		}
		printf("--- A/%s\n", cell(r[0].j.config, c1));
		printf("+++ %c/%s\n", (int)('A' + i), cell(r[i].j.config, c1));
		if (compare_diff(&r[0], &r[i], diff_line, NULL) == 0)
			printf("(the same config)\n");
	}
	printf("\n%-13s", "");
	for (i = 0; i < n; i++)
		printf(" %-14c", (int)('A' + i));
	printf("\n");
	compare_row(r, n, "state", "state");
	compare_row(r, n, "final loss", "loss");
	compare_row(r, n, "eval loss", "eval_loss");
	compare_row(r, n, "best metric", "best_metric");
	compare_row(r, n, "global step", "global_step");
	compare_row(r, n, "duration", "duration");
	rc = 0;
out:
	for (i = 0; i < loaded; i++)
		compare_free(&r[i]);
	return rc;
}

static int
live(const char *state)
{
	return state != NULL && (strcmp(state, JOB_RUNNING) == 0 ||
	    strcmp(state, JOB_PREPARING) == 0 ||
	    strcmp(state, JOB_QUEUED) == 0);
}

/*
 * Copies the log to stdout; with follow, until the job is no longer live.
 * A job that never started has no log: its recorded error says why.
 */
static int
cmd_logs(struct rundir *rd, int argc, char *argv[])
{
	char buf[65536], clean[sizeof(buf)];
	size_t have = 0, took, out;
	int tty = isatty(STDOUT_FILENO);
	struct job j;
	cJSON *job;
	ssize_t n;
	const char *id = NULL;
	int fd, follow = 0, on, i;

	for (i = 1; i < argc; i++)		/* logs JOB -f, logs -f JOB */
		if (strcmp(argv[i], "-f") == 0)
			follow = 1;
		else if (id == NULL && argv[i][0] != '-')
			id = argv[i];
		else
			id = "";
	if (id == NULL || *id == '\0') {
		fprintf(stderr, "usage: %s logs [-f] JOB\n", progname);
		return 2;
	}
	if ((job = find_job(rd, id)) == NULL)
		return 1;
	cJSON_Delete(job);
	if (job_read(rd, id, &j) == -1) {
		fprintf(stderr, "%s: %s: %s\n", progname, id,
		    strerror(errno));
		return 1;
	}
	if ((fd = job_open_file(&j, "log", O_RDONLY)) == -1) {
		if (errno == ENOENT && j.error[0] != '\0')
			printf("%s: job %s never started: %s\n", progname,
			    id, cell(j.error, clean));
		else if (errno == ENOENT && live(j.state))
			printf("%s: job %s is %s: no log yet\n", progname,
			    id, j.state);
		else {
			fprintf(stderr, "%s: %s/log: %s\n", progname, j.dir,
			    strerror(errno));
			job_close(&j);
			return 1;
		}
		job_close(&j);
		return 0;
	}
	job_close(&j);
	/* To a terminal, the trainer's bytes cleaned (tty_clean). */
	for (;;) {
		while ((n = read(fd, buf + have, sizeof(buf) - have)) > 0) {
			have += n;
			if (!tty) {
				if (fwrite(buf, 1, have, stdout) != have)
					goto out;
				have = 0;
				continue;
			}
			took = tty_clean(buf, have, 1, 0, clean, &out);
			if (fwrite(clean, 1, out, stdout) != out)
				goto out;
			memmove(buf, buf + took, have - took);
			have -= took;
		}
		if (!follow && have > 0) {	/* a sequence cut at the end */
			tty_clean(buf, have, 1, 1, clean, &out);
			fwrite(clean, 1, out, stdout);
		}
		fflush(stdout);
		if (!follow)
			break;
		job = job_load(rd, id);
		on = live(json_str(job, "state"));
		cJSON_Delete(job);
		if (!on) {
			follow = 0;	/* one last read */
			continue;
		}
		usleep(200000);
	}
out:
	close(fd);
	return 0;
}

/* Ends a job: from the queue, through its supervisor, or itself if lost. */
static int
cmd_cancel(struct rundir *rd, struct conf *c, int argc, char *argv[])
{
	char err[512] = "", state[16];

	if (argc != 2) {
		fprintf(stderr, "usage: %s cancel JOB\n", progname);
		return 2;
	}
	switch (lifecycle_cancel(rd, c, argv[1], state, err, sizeof(err))) {
	case CANCEL_DONE:
		printf("%s %s\n", argv[1], state);
		return 0;
	case CANCEL_ENDED:
		if (err[0] != '\0')
			fprintf(stderr, "%s: %s\n", progname, err);
		else
			printf("%s %s\n", argv[1], state);
		return 1;
	case CANCEL_ERROR:
		break;
	}
	fprintf(stderr, "%s: %s\n", progname, err);
	return 1;
}

/*
 * A new job for the same commit and config, past the (sha, config) claim,
 * which then names it.  job.json is no more trusted than a payload: its
 * values get a delivery's checks.
 */
static int
cmd_retry(struct rundir *rd, struct conf *c, int argc, char *argv[])
{
	char other[JOB_ID_MAX], err[512], reason[FILTER_REASON_MAX];
	struct job old, j;
	int rc = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: %s retry JOB\n", progname);
		return 2;
	}
	if (job_read(rd, argv[1], &old) == -1) {
		fprintf(stderr, "%s: no job %s in %s\n", progname, argv[1],
		    rd->path);
		return 1;
	}
	if (old.config == NULL || job_values_valid(old.ref, old.sha,
	    old.repository ? old.repository : "", old.config, NULL,
	    reason) == -1) {
		fprintf(stderr, "%s: retry %s: refused: %s\n", progname,
		    argv[1], old.config ? reason : "no config recorded");
		goto out;
	}
	/* Its repository's configuration, as its delivery had. */
	if ((c = conf_section(c, old.repository)) == NULL) {
		fprintf(stderr, "%s: retry %s: refused: repository %s is not "
		    "configured\n", progname, argv[1], old.repository ?
		    old.repository : "(none)");
		goto out;
	}
	job_init(&j);
	j.delivery = "retry";
	j.event = "retry";
	j.repository = old.repository ? old.repository : "";
	j.repository_url = old.repository_url;
	memcpy(j.commit_title, old.commit_title, sizeof(j.commit_title));
	j.ref = old.ref;
	j.branch = strncmp(old.ref, "refs/heads/", 11) == 0 ? old.ref + 11 :
	    NULL;
	j.sha = old.sha;
	j.config = old.config;
	j.retry_of = old.id;
	if (lifecycle_start(rd, c, &j, 0, other, err, sizeof(err)) !=
	    JOB_STARTED)
		fprintf(stderr, "%s: retry %s: %s\n", progname, argv[1], err);
	else {
		printf("%s %s\n", j.id, j.state);
		rc = 0;
	}
	job_close(&j);
out:
	job_close(&old);
	return rc;
}

/*
 * As root, becomes user (the web server's), so that what check finds is
 * what a delivery will find.  Returns 0, or -1 with the reason printed.
 */
static int
become(const char *user)
{
	struct passwd *pw;

	if ((pw = getpwnam(user)) == NULL) {
		fprintf(stderr, "%s: check: no user %s\n", progname, user);
		return -1;
	}
	if (pw->pw_uid == geteuid())
		return 0;
	if (geteuid() != 0) {
		fprintf(stderr, "%s: check: run as root to check as %s\n",
		    progname, user);
		return -1;
	}
	if (initgroups(user, pw->pw_gid) == -1 || setgid(pw->pw_gid) == -1 ||
	    setuid(pw->pw_uid) == -1) {
		fprintf(stderr, "%s: check: becoming %s: %s\n", progname, user,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static int
problem(int *n, const char *fmt, ...)
{
	va_list ap;

	printf("problem: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	(*n)++;
	return 0;
}

/*
 * What one configuration (the file's, or a section's: in names it) needs
 * for its deliveries: its secret, workdir, the trainer and notify, Slurm,
 * commit statuses, the repository.  Problems counted in *n.
 */
static void
check_conf(struct conf *c, const char *user, const char *in, int *n)
{
	char err[1024], advice[512], mine[REPO_NAME_MAX], note[512] = "";
	struct trainer t;
	struct job j;
	char *exe = NULL;
	int nowork;

	if (c->secret == NULL)
		problem(n, "%sno webhook secret: set secret_file in %s; every "
		    "delivery is refused", in, c->path);
	if ((nowork = c->workdir != NULL && access(c->workdir, X_OK) == -1))
		problem(n, "%sworkdir %s: %s (as %s)", in, c->workdir,
		    strerror(errno), user);
	job_init(&j);
	snprintf(j.id, sizeof(j.id), "check");
	snprintf(j.dir, sizeof(j.dir), "%s", c->run_dir);
	j.delivery = j.event = "check";
	j.repository = c->name != NULL ? c->name : "";
	j.ref = "refs/heads/main";
	j.branch = "main";
	j.sha = "0000000000000000000000000000000000000000";
	j.config = c->default_config;
	if (trainer_prepare(&t, &j, c) == 0) {
		if (nowork) {	/* said above; the trainer still */
			free(t.cwd);
			t.cwd = strdup("/");
		}
		if (c->backend == BACKEND_LOCAL && t.cwd != NULL &&
		    trainer_check(&t, c, err, sizeof(err)) == -1)
			problem(n, "%s%s (as %s)", in, err, user);
		if (t.notify_argv != NULL && (t.notify_exe == NULL ||
		    access(t.notify_exe, X_OK) == -1))
			problem(n, "%scannot execute notify %s (as %s)", in,
			    t.notify_argv[0], user);
		if (c->deploy.n > 0 && (exe = spawn_find_exe(c->deploy.v[0],
		    t.envp, "/")) == NULL)
			problem(n, "%scannot find deploy's %s in PATH (as %s): "
			    "name it by its absolute path", in,
			    c->deploy.v[0], user);
		else if (c->deploy.n > 0 && access(exe, X_OK) == -1)
			problem(n, "%scannot execute deploy's %s (as %s)", in,
			    exe, user);
		if (c->deploy.n > 0)
			free(exe);
		trainer_free(&t);
	}
	if (c->backend == BACKEND_SLURM && slurm_check(c, err, sizeof(err),
	    note, sizeof(note)) == -1)
		problem(n, "%sSlurm: %s (as %s)", in, err, user);
	if (c->backend == BACKEND_SLURM && note[0] != '\0')
		printf("note: %s%s\n", in, note);
	if (commitstatus_check(c, err, sizeof(err)) == -1)
		problem(n, "%scommit statuses: %s (as %s)", in, err, user);
	if (c->name != NULL && c->repository != NULL &&
	    repo_of_url(c->repository, mine) && strcasecmp(mine,
	    c->name) != 0)
		problem(n, "%srepository %s is %s on GitHub, not %s: its "
		    "pushes would be ignored", in, c->repository, mine,
		    c->name);
	if (c->repository != NULL && checkout_check(c, err,
	    sizeof(err)) == -1) {
		checkout_advice(c, err, user, advice, sizeof(advice));
		problem(n, "%scannot read the repository %s (as %s): %s; %s",
		    in, c->repository, user, err, advice);
	}
}

/*
 * Loads the configuration as the server's user and tries what every
 * delivery will need: the run directory and HOME, then for the file (or
 * each section) check_conf.  Exits non-zero with what to do.
 */
static int
cmd_check(const char *config, int argc, char *argv[])
{
	const char *user = NULL;
	char err[1024], home[PATH_MAX], in[REPO_NAME_MAX + 4];
	const char *why;
	struct rundir rd;
	struct conf c;
	size_t k;
	int n = 0, i;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--user") == 0 && i + 1 < argc)
			user = argv[++i];
		else {
			fprintf(stderr, "usage: %s check [--user USER]\n",
			    progname);
			return 2;
		}
	if (user == NULL && geteuid() == 0)
		user = "www-data";
	if (user != NULL && become(user) == -1)
		return 1;
	if (user == NULL)
		user = getpwuid(geteuid()) ? getpwuid(geteuid())->pw_name :
		    "this user";
	printf("swift-webhook %s\n", VERSION);
	if (conf_load(&c, config, err, sizeof(err)) == -1) {
		printf("problem: %s (as %s)\n", err, user);
		return 1;
	}
	if (rundir_open(&rd, c.run_dir, 1, err, sizeof(err)) == -1)
		problem(&n, "%s (as %s); make it with: install -d -o %s -m "
		    "750 %s", err, user, user, c.run_dir);
	else
		rundir_close(&rd);
	if (c.nsections == 0)
		check_conf(&c, user, "", &n);
	for (k = 0; k < c.nsections; k++) {
		snprintf(in, sizeof(in), "[%s] ", c.sections[k].name);
		check_conf(&c.sections[k], user, in, &n);
	}
	for (i = 0; i < (int)c.env.n && strncmp(c.env.v[i], "HOME=", 5) != 0;
	    i++)
		;
	if (i < (int)c.env.n)
		printf("note: HOME for the trainer: %s (env)\n",
		    c.env.v[i] + 5);
	if (rundir_home(c.run_dir, home, &why) == 0)
		printf("note: HOME for %sgit: %s (%s)\n", i < (int)c.env.n ?
		    "" : "the trainer and ", home, why);
	else
		problem(&n, "no HOME that %s can write for the trainer and "
		    "git: %s: %s", user, why, strerror(errno));
	if (c.gpu_check && gpu_busy(&c, c.gpus.v[0], err, sizeof(err)) ==
	    GPU_UNKNOWN)
		printf("note: gpu_check: %s; jobs will start without the "
		    "check\n", err);
	if ((i = stale_responders(c.path)) > 0)
		problem(&n, "%d responder(s) started before %s last changed "
		    "still use what they read: reload the web server", i,
		    c.path);
	if (n == 0)
		printf("%s: ok (as %s%s)\n", c.path, user, c.nsections > 0 ?
		    ", every section" : "");
	conf_free(&c);
	return n == 0 ? 0 : 1;
}

/*
 * How many responders (this program with no argument, not a detached
 * supervisor: those lead a session of their own) that run with config
 * path started before the file last changed: they still use what they
 * read.
 */
static int
stale_responders(const char *path)
{
	char self[PATH_MAX], exe[PATH_MAX], p[64], *env, *cmd;
	unsigned long long start;
	struct dirent *de;
	struct stat st;
	size_t len, clen;
	time_t boot = proc_boot_time(NULL);
	long tck = sysconf(_SC_CLK_TCK);
	int n = 0, fd, match;
	ssize_t k;
	DIR *d;
	pid_t pid;

	if (stat(path, &st) == -1 || boot == 0 || tck <= 0 ||
	    (k = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0 ||
	    (d = opendir("/proc")) == NULL)
		return 0;
	self[k] = '\0';
	while ((de = readdir(d)) != NULL) {
		if ((pid = (pid_t)atol(de->d_name)) <= 0 || pid == getpid() ||
		    getsid(pid) == pid)
			continue;
		snprintf(p, sizeof(p), "/proc/%ld/exe", (long)pid);
		if ((k = readlink(p, exe, sizeof(exe) - 1)) <= 0)
			continue;
		exe[k] = '\0';
		if (strcmp(exe, self) != 0)
			continue;
		snprintf(p, sizeof(p), "/proc/%ld", (long)pid);
		if ((fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
			continue;
		cmd = file_read_at(fd, "cmdline", 4096, &clen, ANY_OWNER);
		env = file_read_at(fd, "environ", 1 << 16, &len, ANY_OWNER);
		close(fd);
		/* One word (no command) and our config, named or default. */
		match = cmd != NULL && strlen(cmd) + 1 >= clen && env != NULL;
		if (match) {
			const char *e, *want = NULL;

			for (e = env; e < env + len; e += strlen(e) + 1)
				if (strncmp(e, "SWIFT_WEBHOOK_CONFIG=", 21) == 0)
					want = e + 21;
			match = strcmp(want ? want : CONF_DEFAULT_PATH, path) ==
			    0;
		}
		free(cmd);
		free(env);
		if (match && (start = proc_starttime(pid)) != 0 &&
		    boot + (time_t)(start / (unsigned long long)tck) <
		    st.st_mtime)
			n++;
	}
	closedir(d);
	return n;
}

/* What a dry run's body is read from. */
struct membody {
	const char	*p;
	size_t		 left;
};

static ssize_t
mem_read(void *ctx, char *buf, size_t len)
{
	struct membody *m = ctx;

	if (len > m->left)
		len = m->left;
	memcpy(buf, m->p, len);
	m->p += len;
	m->left -= len;
	return (ssize_t)len;
}

/*
 * dry-run [--event EVENT] FILE: what a delivery of FILE (a body, as
 * GitHub's Recent Deliveries shows it) would get, and each run it would
 * start, without a signature, writing or starting anything.
 */
static int
cmd_dry_run(struct conf *c, int argc, char *argv[])
{
	const char *event = "push", *file = NULL;
	struct request rq;
	struct membody m;
	struct reply rp;
	char clen[32], *body;
	size_t len;
	int i, fd;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--event") == 0 && i + 1 < argc)
			event = argv[++i];
		else if (file == NULL && argv[i][0] != '-')
			file = argv[i];
		else
			file = "";
	if (file == NULL || *file == '\0') {
		fprintf(stderr, "usage: %s dry-run [--event EVENT] FILE\n",
		    progname);
		return 2;
	}
	if ((fd = strcmp(file, "-") == 0 ? dup(STDIN_FILENO) :
	    open(file, O_RDONLY | O_CLOEXEC)) == -1 || (body = fd_read_all(fd,
	    c->max_body, &len)) == NULL) {
		fprintf(stderr, "%s: dry-run: %s: %s\n", progname, file,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return 1;
	}
	close(fd);
	memset(&rq, 0, sizeof(rq));
	m.p = body;
	m.left = len;
	snprintf(clen, sizeof(clen), "%zu", len);
	rq.method = "POST";
	rq.content_type = strncmp(body, "payload=", 8) == 0 ?
	    "application/x-www-form-urlencoded" : "application/json";
	rq.content_length = clen;
	rq.event = event;
	rq.delivery = "dry-run";
	rq.read = mem_read;
	rq.ctx = &m;
	rq.dry = 1;
	delivery_handle(c, NULL, &rq, &rp);
	printf("%d %s: %s\n", rp.status, rp.decision, rp.reason);
	if (rp.json != NULL)
		(void)print_json(rp.json);
	free(body);
	reply_free(&rp);
	return 0;
}

/* Where the JOB argument of show, logs, cancel, retry is, or 0. */
static int
job_arg(int argc, char *argv[])
{
	int i;

	for (i = 2; i < argc; i++)
		if (argv[i][0] != '-')
			return i;
	return 0;
}

/* A deployment as deployments --json shows it. */
static cJSON *
deployment_obj(const struct deployment *d)
{
	char t[21];
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "id", d->id);
	cJSON_AddStringToObject(o, "state", d->state ? d->state : "");
	cJSON_AddStringToObject(o, "job", d->job);
	if (d->repository[0] != '\0')
		cJSON_AddStringToObject(o, "repository", d->repository);
	cJSON_AddStringToObject(o, "branch", d->branch);
	cJSON_AddStringToObject(o, "commit", d->sha);
	cJSON_AddStringToObject(o, "config", d->config);
	cJSON_AddStringToObject(o, "checkpoint", d->checkpoint);
	cJSON_AddStringToObject(o, "model_name", d->model_name);
	if (d->port > 0)
		cJSON_AddNumberToObject(o, "port", d->port);
	else
		cJSON_AddNullToObject(o, "port");
	if (d->gpus[0] != '\0')
		cJSON_AddStringToObject(o, "gpus", d->gpus);
	if (deployment_live(d->state) && d->pid > 0)
		cJSON_AddNumberToObject(o, "pid", d->pid);
	else
		cJSON_AddNullToObject(o, "pid");
	iso8601(d->since ? d->since : d->created, t);
	cJSON_AddStringToObject(o, "since", t);
	if (d->ended != 0) {
		iso8601(d->ended, t);
		cJSON_AddStringToObject(o, "ended", t);
	}
	cJSON_AddNumberToObject(o, "restarts", d->restarts);
	if (d->reason[0] != '\0')
		cJSON_AddStringToObject(o, "reason", d->reason);
	if (d->rollback_of[0] != '\0')
		cJSON_AddStringToObject(o, "rollback_of", d->rollback_of);
	if (d->metric[0] != '\0')
		results_add_number(o, d->metric, d->value);
	return o;
}

/* One row of deployments' table. */
static void
deployment_row(const char *role, const struct deployment *d)
{
	char t[21], c1[256], c2[256], port[16] = "-", pid[16] = "-";

	if (d->port > 0)
		snprintf(port, sizeof(port), "%d", d->port);
	if (deployment_live(d->state) && d->pid > 0)
		snprintf(pid, sizeof(pid), "%ld", (long)d->pid);
	iso8601(d->since ? d->since : d->created, t);
	printf("%-9s %-9s %-5s %-7s %-7.7s %-20s %s  %s  %s\n", role,
	    d->state ? d->state : "?", port, pid, d->sha[0] ? d->sha : "-",
	    t, d->job, cell(d->checkpoint, c1), d->reason[0] ?
	    cell(d->reason, c2) : "");
}

/*
 * deployments [--json]: what serves (current), what is on its way
 * (starting, stopping), what rollback would serve (previous); per
 * repository with sections.
 */
static int
cmd_deployments(struct rundir *rd, struct conf *c, int argc, char *argv[])
{
	struct deployment live[64], prev;
	const char *scope;
	cJSON *out, *list, *o;
	int json = 0, i, n;
	size_t k;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else {
			fprintf(stderr, "usage: %s deployments [--json]\n",
			    progname);
			return 2;
		}
	out = cJSON_CreateObject();
	list = cJSON_AddArrayToObject(out, "deployments");
	if (!json)
		printf("%-9s %-9s %-5s %-7s %-7s %-20s %s  %s\n", "ROLE",
		    "STATE", "PORT", "PID", "COMMIT", "SINCE", "JOB",
		    "CHECKPOINT");
	n = deployment_live_list(rd, DEPLOY_ANY, NULL, live, 64);
	/* Then what rollback would serve, per repository that deploys. */
	for (k = 0, i = 0; i < n + (int)(c->nsections ? c->nsections : 1);
	    i++) {
		struct deployment *d = i < n ? &live[i] : &prev;
		const char *role;

		if (i >= n) {
			k = (size_t)(i - n);
			scope = c->nsections ? c->sections[k].name : NULL;
			if ((c->nsections ? c->sections[k].deploy.n :
			    c->deploy.n) == 0 ||
			    deployment_previous(rd, scope, &prev) == -1)
				continue;
			deployment_close(&prev);
		}
		role = i >= n ? "previous" : d->state == DEPLOY_SERVING ?
		    "current" : d->state;
		if (json) {
			o = deployment_obj(d);
			cJSON_AddStringToObject(o, "role", role);
			cJSON_AddItemToArray(list, o);
		} else
			deployment_row(role, d);
	}
	if (json)
		(void)print_json(out);
	cJSON_Delete(out);
	return 0;
}

/*
 * The configuration a deployment command acts for: --repository's
 * section, the one section with deploy, or the file's.  NULL (said) if
 * it cannot tell, with the exit status in *rc (2: a usage error).
 */
static struct conf *
deploy_conf(struct conf *c, int argc, char *argv[], const char *cmd,
    int *rc)
{
	struct conf *s = NULL;
	const char *repo = NULL;
	size_t i;
	int k;

	*rc = 1;
	for (k = 1; k < argc; k++)
		if (strcmp(argv[k], "--repository") == 0 && k + 1 < argc)
			repo = argv[++k];
		else {
			fprintf(stderr, "usage: %s %s [--repository "
			    "OWNER/NAME]\n", progname, cmd);
			*rc = 2;
			return NULL;
		}
	if (repo != NULL) {
		if ((s = conf_section(c, repo)) == NULL)
			fprintf(stderr, "%s: %s: no section [%s] in %s\n",
			    progname, cmd, repo, c->path);
	} else if (c->nsections == 0)
		s = c;
	else
		for (i = 0; i < c->nsections; i++)
			if (c->sections[i].deploy.n > 0) {
				if (s != NULL) {
					fprintf(stderr, "%s: %s: more than one "
					    "repository deploys: say which "
					    "with --repository\n", progname,
					    cmd);
					return NULL;
				}
				s = &c->sections[i];
			}
	if (repo == NULL && c->nsections > 0 && s == NULL)
		fprintf(stderr, "%s: %s: no section of %s has deploy\n",
		    progname, cmd, c->path);
	else if (s != NULL && s->deploy.n == 0) {
		fprintf(stderr, "%s: %s: no deploy configured%s%s\n", progname,
		    cmd, s->name ? " for " : "", s->name ? s->name : "");
		return NULL;
	}
	return s;
}

/*
 * rollback: serves the previous deployment's checkpoint again, and waits
 * for its switch (deploy_timeout).
 */
static int
cmd_rollback(struct rundir *rd, struct conf *c, int argc, char *argv[])
{
	struct deployment d;
	char id[JOB_ID_MAX], err[512], c1[256];
	const char *st;
	int rc;

	if ((c = deploy_conf(c, argc, argv, "rollback", &rc)) == NULL)
		return rc;
	if (deploy_rollback(rd, c, conf_scope(c), id, err, sizeof(err)) ==
	    -1) {
		fprintf(stderr, "%s: rollback: %s\n", progname, err);
		return 1;
	}
	printf("deployment %s: starting\n", id);
	fflush(stdout);
	st = deploy_wait(rd, id, (double)c->deploy_timeout +
	    4.0 * (double)c->kill_grace + 150, &d);
	if (st == NULL) {
		fprintf(stderr, "%s: rollback: %s: %s\n", progname, id,
		    strerror(errno));
		return 1;
	}
	if (st == DEPLOY_SERVING)
		printf("deployment %s: serving job %s (%.7s) on :%d: %s\n", id,
		    d.job, d.sha, d.port, cell(d.checkpoint, c1));
	else
		fprintf(stderr, "%s: rollback: deployment %s %s%s%s\n",
		    progname, id, st, d.reason[0] ? ": " : "",
		    cell(d.reason, c1));
	deployment_close(&d);
	return st == DEPLOY_SERVING ? 0 : 1;
}

/* undeploy: stops every live deployment of the repository. */
static int
cmd_undeploy(struct rundir *rd, struct conf *c, int argc, char *argv[])
{
	struct deployment live[64];
	char err[512];
	int n, i, rc;

	if ((c = deploy_conf(c, argc, argv, "undeploy", &rc)) == NULL)
		return rc;
	rc = 0;
	n = deployment_live_list(rd, conf_scope(c), NULL, live, 64);
	if (n == 0)
		printf("nothing is deployed\n");
	for (i = 0; i < n; i++) {
		if (deploy_stop(rd, c, live[i].id, "undeploy", err,
		    sizeof(err)) == -1) {
			fprintf(stderr, "%s: undeploy: %s\n", progname, err);
			rc = 1;
		} else
			printf("deployment %s (job %s, :%d): stopped\n",
			    live[i].id, live[i].job, live[i].port);
	}
	return rc;
}

/*
 * Run as root, becomes the run directory's owner (its uid, its primary
 * group and its groups), as runuser would.  As the owner, nothing to do.
 * Returns 0, or -1 (said).
 */
static int
become_owner(const char *run_dir)
{
	struct passwd *pw;
	struct stat st;

	if (stat(run_dir, &st) == -1 || st.st_uid == geteuid() ||
	    geteuid() != 0)
		return 0;	/* rundir_open says what is wrong */
	if ((pw = getpwuid(st.st_uid)) == NULL) {
		fprintf(stderr, "%s: run_dir %s belongs to uid %ld, which has "
		    "no name: run this as that user\n", progname, run_dir,
		    (long)st.st_uid);
		return -1;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) == -1 ||
	    setgid(pw->pw_gid) == -1 || setuid(pw->pw_uid) == -1) {
		fprintf(stderr, "%s: becoming %s, the owner of %s: %s\n",
		    progname, pw->pw_name, run_dir, strerror(errno));
		return -1;
	}
	return 0;
}

int
cli_main(int argc, char *argv[])
{
	static const char *const cmds[] = {
		"jobs", "show", "logs", "cancel", "retry", "check", "prune",
		"tick", "dry-run", "compare", "deployments", "rollback",
		"undeploy", NULL
	};
	const char *config = NULL, *cmd;
	char err[1024], id[JOB_ID_MAX];
	struct rundir rd;
	struct conf c;
	int rc, i, writes;

	if (spawn_init(environ) == -1) {
		fprintf(stderr, "%s: out of memory\n", progname);
		return 1;
	}
	if (argc >= 3 && strcmp(argv[1], "-c") == 0) {
		config = argv[2];
		argv += 2;
		argc -= 2;
	}
	if (argc < 2 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "-V") == 0 || strcmp(argv[1], "--version") == 0 ||
	    strcmp(argv[1], "version") == 0) {
		printf("swift-webhook %s\n", VERSION);
		return 0;
	}
	cmd = argv[1];
	for (i = 0; cmds[i] != NULL && strcmp(cmd, cmds[i]) != 0; i++)
		;
	if (cmds[i] == NULL) {
		fprintf(stderr, "%s: unknown command \"%s\"\n", progname, cmd);
		usage(stderr);
		return 2;
	}
	if (strcmp(cmd, "check") == 0)
		return cmd_check(config, argc - 1, argv + 1);
	if (strcmp(cmd, "dry-run") == 0) {
		if (conf_load(&c, config, err, sizeof(err)) == -1) {
			fprintf(stderr, "%s: %s\n", progname, err);
			return 1;
		}
		rc = cmd_dry_run(&c, argc - 1, argv + 1);
		conf_free(&c);
		return rc;
	}
	if (conf_load(&c, config, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", progname, err);
		return 1;
	}
	conf = &c;
	/*
	 * Only cancel, retry, prune, tick, rollback and undeploy write: as
	 * the run directory's owner, which root becomes (as runuser would),
	 * so that nothing of root's is left there and no server runs as
	 * root.
	 */
	writes = strcmp(cmd, "cancel") == 0 || strcmp(cmd, "retry") == 0 ||
	    strcmp(cmd, "prune") == 0 || strcmp(cmd, "tick") == 0 ||
	    strcmp(cmd, "rollback") == 0 || strcmp(cmd, "undeploy") == 0;
	if (writes && become_owner(c.run_dir) == -1) {
		conf_free(&c);
		return 1;
	}
	if (rundir_open(&rd, c.run_dir, writes, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", progname, err);
		conf_free(&c);
		return 1;
	}
	/*
	 * A look acts on what it sees (lifecycle_tick): as the run
	 * directory's owner only, and never for logs -f's sake alone.
	 */
	if (strcmp(cmd, "jobs") == 0 || strcmp(cmd, "show") == 0 ||
	    strcmp(cmd, "tick") == 0 || strcmp(cmd, "deployments") == 0)
		lifecycle_tick(&rd, &c, 0);
	/* show, logs, cancel, retry JOB: an id, its prefix, its short sha. */
	if ((strcmp(cmd, "show") == 0 || strcmp(cmd, "logs") == 0 ||
	    strcmp(cmd, "cancel") == 0 || strcmp(cmd, "retry") == 0) &&
	    (i = job_arg(argc, argv)) > 0) {
		if (resolve(&rd, argv[i], id) == -1) {
			rundir_close(&rd);
			conf_free(&c);
			return 1;
		}
		argv[i] = id;
	}
	if (strcmp(cmd, "tick") == 0)
		rc = cmd_tick(&rd, argc - 1);
	else if (strcmp(cmd, "jobs") == 0)
		rc = cmd_jobs(&rd, argc - 1, argv + 1);
	else if (strcmp(cmd, "show") == 0)
		rc = cmd_show(&rd, argc - 1, argv + 1);
	else if (strcmp(cmd, "cancel") == 0)
		rc = cmd_cancel(&rd, &c, argc - 1, argv + 1);
	else if (strcmp(cmd, "retry") == 0)
		rc = cmd_retry(&rd, &c, argc - 1, argv + 1);
	else if (strcmp(cmd, "prune") == 0)
		rc = prune_main(&rd, argc - 1, argv + 1);
	else if (strcmp(cmd, "compare") == 0)
		rc = cmd_compare(&rd, argc - 1, argv + 1);
	else if (strcmp(cmd, "deployments") == 0)
		rc = cmd_deployments(&rd, &c, argc - 1, argv + 1);
	else if (strcmp(cmd, "rollback") == 0)
		rc = cmd_rollback(&rd, &c, argc - 1, argv + 1);
	else if (strcmp(cmd, "undeploy") == 0)
		rc = cmd_undeploy(&rd, &c, argc - 1, argv + 1);
	else
		rc = cmd_logs(&rd, argc - 1, argv + 1);
	rundir_close(&rd);
	conf_free(&c);
	return rc;
}
