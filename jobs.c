/*
 * jobs.c: the commands that read the run directory for people.
 *
 * Each job's state is read from its job.json; a job recorded as queued or
 * running whose supervisor is gone is shown as "lost", so that a dead
 * supervisor never leaves a job running forever.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "conf.h"
#include "jobs.h"
#include "rundir.h"
#include "spawn.h"

static const char *progname = "swift-webhook";

extern char **environ;

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: %s [-c config] command [arguments]\n"
	    "       %s              (no arguments: the FastCGI/CGI responder)\n"
	    "\n"
	    "commands:\n"
	    "  jobs [--json] [--state STATE] [--branch BRANCH]\n"
	    "                     list the jobs in the run directory\n"
	    "  show JOB           every field of one job\n"
	    "  logs JOB [-f]      print a job's log (-f: follow it)\n"
	    "  cancel JOB         stop a queued or running job\n"
	    "  retry JOB          a new job for the same commit and config\n"
	    "  check              load the configuration and report errors\n"
	    "\n"
	    "The configuration is -c FILE, else $SWIFT_WEBHOOK_CONFIG, else "
	    CONF_DEFAULT_PATH ".\n", progname, progname);
}

static const char *
str(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double
num(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* Seconds a job may sit without a supervisor while one is being forked. */
#define UNSUPERVISED_GRACE 30

static double	since(const char *iso);

/*
 * A queued or running job whose supervisor is gone (no process with its
 * PID and start time) is lost: nobody will record how it ends.
 */
static void
settle_state(cJSON *job)
{
	const char *state = str(job, "state");
	double sup = num(job, "supervisor");

	if (state == NULL || (strcmp(state, "running") != 0 &&
	    strcmp(state, "queued") != 0))
		return;
	if (sup > 0 ? proc_starttime((pid_t)sup) ==
	    (unsigned long long)num(job, "supervisor_start") :
	    since(str(job, "created")) < UNSUPERVISED_GRACE)
		return;
	cJSON_ReplaceItemInObjectCaseSensitive(job, "state",
	    cJSON_CreateString("lost"));
}

/* Loads run_dir/id/job.json with its state as it is now. */
static cJSON *
job_load(const char *run_dir, const char *id)
{
	char path[PATH_MAX], *s;
	cJSON *job;

	if (strchr(id, '/') != NULL || *id == '.')
		return NULL;
	snprintf(path, sizeof(path), "%s/%s/job.json", run_dir, id);
	if ((s = read_file(path, 1 << 24)) == NULL)
		return NULL;
	job = cJSON_Parse(s);
	free(s);
	if (!cJSON_IsObject(job)) {
		cJSON_Delete(job);
		return NULL;
	}
	/* The folder names the job, whatever the file says (or lacks). */
	if (cJSON_HasObjectItem(job, "id"))
		cJSON_ReplaceItemInObjectCaseSensitive(job, "id",
		    cJSON_CreateString(id));
	else
		cJSON_AddItemToObject(job, "id", cJSON_CreateString(id));
	settle_state(job);
	return job;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* All jobs, oldest first, as a JSON array; NULL if run_dir cannot be read. */
static cJSON *
jobs_load(const char *run_dir)
{
	DIR *d;
	struct dirent *de;
	char **names = NULL, **nn;
	size_t n = 0, i;
	cJSON *all, *job;

	if ((d = opendir(run_dir)) == NULL)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if ((nn = realloc(names, (n + 1) * sizeof(*nn))) == NULL)
			break;
		names = nn;
		if ((names[n] = strdup(de->d_name)) == NULL)
			break;
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp_names);
	all = cJSON_CreateArray();
	for (i = 0; i < n; i++) {
		if ((job = job_load(run_dir, names[i])) != NULL)
			cJSON_AddItemToArray(all, job);
		free(names[i]);
	}
	free(names);
	return all;
}

static void
fmt_duration(char *buf, size_t size, double secs)
{
	long s = (long)secs;

	if (secs < 0)
		snprintf(buf, size, "-");
	else if (s < 3600)
		snprintf(buf, size, "%ldm%02lds", s / 60, s % 60);
	else
		snprintf(buf, size, "%ldh%02ldm", s / 3600, s % 3600 / 60);
}

/* Seconds since an ISO 8601 UTC time, or -1. */
static double
since(const char *iso)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (iso == NULL || strptime(iso, "%Y-%m-%dT%H:%M:%SZ", &tm) == NULL)
		return -1;
	return difftime(time(NULL), timegm(&tm));
}

static void
print_table(const cJSON *all)
{
	const cJSON *job;
	const char *sha, *started, *state;
	char pid[16], dur[16], ex[16];
	double d;

	printf("%-40s %-10s %-8s %-16s %-8s %-28s %-20s %-9s %s\n", "ID",
	    "STATE", "PID", "BRANCH", "SHA", "CONFIG", "STARTED", "DURATION",
	    "EXIT");
	cJSON_ArrayForEach(job, all) {
		state = str(job, "state");
		sha = str(job, "sha");
		started = str(job, "started");
		snprintf(pid, sizeof(pid), "%.0f", num(job, "pid"));
		d = num(job, "duration");
		if (d < 0 && state != NULL && strcmp(state, "running") == 0)
			d = since(started);
		fmt_duration(dur, sizeof(dur), d);
		if (num(job, "exit_code") >= 0)
			snprintf(ex, sizeof(ex), "%.0f", num(job, "exit_code"));
		else if (num(job, "signal") > 0)
			snprintf(ex, sizeof(ex), "sig%.0f", num(job, "signal"));
		else
			snprintf(ex, sizeof(ex), "-");
		printf("%-40s %-10s %-8s %-16s %-8.7s %-28s %-20s %-9s %s\n",
		    str(job, "id"), state ? state : "?",
		    num(job, "pid") > 0 ? pid : "-",
		    str(job, "branch") ? str(job, "branch") : "-",
		    sha ? sha : "-",
		    str(job, "config") ? str(job, "config") : "-",
		    started ? started : "-", dur, ex);
	}
}

static int
cmd_jobs(const struct conf *c, int argc, char *argv[])
{
	const char *state = NULL, *branch = NULL, *v;
	cJSON *all, *job, *next;
	char *s;
	int i, json = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "--state") == 0 && i + 1 < argc)
			state = argv[++i];
		else if (strcmp(argv[i], "--branch") == 0 && i + 1 < argc)
			branch = argv[++i];
		else {
			fprintf(stderr, "%s jobs: bad argument \"%s\"\n",
			    progname, argv[i]);
			return 2;
		}
	}
	if ((all = jobs_load(c->run_dir)) == NULL) {
		fprintf(stderr, "%s: %s: %s\n", progname, c->run_dir,
		    strerror(errno));
		return 1;
	}
	for (job = all->child; job != NULL; job = next) {
		next = job->next;
		if ((state != NULL && ((v = str(job, "state")) == NULL ||
		    strcmp(v, state) != 0)) || (branch != NULL &&
		    ((v = str(job, "branch")) == NULL || strcmp(v, branch) != 0)))
			cJSON_Delete(cJSON_DetachItemViaPointer(all, job));
	}
	if (json) {
		s = cJSON_Print(all);
		printf("%s\n", s);
		free(s);
	} else
		print_table(all);
	cJSON_Delete(all);
	return 0;
}

static cJSON *
find_job(const struct conf *c, const char *id)
{
	cJSON *job;

	if ((job = job_load(c->run_dir, id)) == NULL)
		fprintf(stderr, "%s: no job %s in %s\n", progname, id,
		    c->run_dir);
	return job;
}

static int
cmd_show(const struct conf *c, int argc, char *argv[])
{
	cJSON *job;
	char *s, path[PATH_MAX];

	if (argc != 2) {
		fprintf(stderr, "usage: %s show JOB\n", progname);
		return 2;
	}
	if ((job = find_job(c, argv[1])) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/%s/output", c->run_dir, argv[1]);
	cJSON_AddStringToObject(job, "output_dir", path);
	s = cJSON_Print(job);
	printf("%s\n", s);
	free(s);
	cJSON_Delete(job);
	return 0;
}

/* Copies the log to stdout; with follow, until the job is no longer live. */
static int
cmd_logs(const struct conf *c, int argc, char *argv[])
{
	char path[PATH_MAX], buf[65536];
	const char *state;
	cJSON *job;
	ssize_t n;
	int fd, follow = argc == 3 && strcmp(argv[2], "-f") == 0, live;

	if (argc != 2 && !follow) {
		fprintf(stderr, "usage: %s logs JOB [-f]\n", progname);
		return 2;
	}
	if ((job = find_job(c, argv[1])) == NULL)
		return 1;
	cJSON_Delete(job);
	snprintf(path, sizeof(path), "%s/%s/log", c->run_dir, argv[1]);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "%s: %s: %s\n", progname, path,
		    strerror(errno));
		return 1;
	}
	for (;;) {
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			if (fwrite(buf, 1, n, stdout) != (size_t)n)
				goto out;
		fflush(stdout);
		if (!follow)
			break;
		job = job_load(c->run_dir, argv[1]);
		state = str(job, "state");
		live = state != NULL && (strcmp(state, "running") == 0 ||
		    strcmp(state, "queued") == 0);
		cJSON_Delete(job);
		if (!live) {
			follow = 0;	/* one last read */
			continue;
		}
		usleep(200000);
	}
out:
	close(fd);
	return 0;
}

/* Writes a job record back, as loaded and changed. */
static int
job_save(const struct conf *c, cJSON *job)
{
	char path[PATH_MAX], *s;
	int rc;

	snprintf(path, sizeof(path), "%s/%s/job.json", c->run_dir,
	    str(job, "id"));
	if ((s = cJSON_Print(job)) == NULL)
		return -1;
	rc = atomic_write(path, s, strlen(s));
	free(s);
	return rc;
}

/*
 * Stops a job whose supervisor is gone: its trainer's group, if the PID
 * still names the trainer, then the record.
 */
static int
cancel_lost(const struct conf *c, cJSON *job)
{
	pid_t pid = (pid_t)num(job, "pid");
	char now[21];
	int i;

	if (pid > 0 && proc_starttime(pid) ==
	    (unsigned long long)num(job, "pid_start")) {
		kill(-pid, SIGTERM);
		for (i = 0; i < c->kill_grace * 10 && kill(-pid, 0) == 0; i++)
			usleep(100000);
		while (kill(-pid, SIGKILL) == 0)
			usleep(50000);
	}
	iso8601(time(NULL), now);
	cJSON_ReplaceItemInObjectCaseSensitive(job, "state",
	    cJSON_CreateString("cancelled"));
	cJSON_ReplaceItemInObjectCaseSensitive(job, "finished",
	    cJSON_CreateString(now));
	return job_save(c, job);
}

/* Asks the supervisor to stop the job, and waits until it has. */
static int
cmd_cancel(const struct conf *c, int argc, char *argv[])
{
	char dir[PATH_MAX];
	const char *state;
	cJSON *job;
	int i, rc;

	if (argc != 2) {
		fprintf(stderr, "usage: %s cancel JOB\n", progname);
		return 2;
	}
	if ((job = find_job(c, argv[1])) == NULL)
		return 1;
	state = str(job, "state");
	if (job_state_final(state)) {
		fprintf(stderr, "%s: job %s already ended (%s)\n", progname,
		    argv[1], state);
		cJSON_Delete(job);
		return 1;
	}
	if (strcmp(state, "lost") == 0) {
		rc = cancel_lost(c, job);
		cJSON_Delete(job);
		if (rc == -1) {
			fprintf(stderr, "%s: %s: %s\n", progname, argv[1],
			    strerror(errno));
			return 1;
		}
		printf("%s cancelled\n", argv[1]);
		return 0;
	}
	cJSON_Delete(job);
	snprintf(dir, sizeof(dir), "%s/%s", c->run_dir, argv[1]);
	if (job_request_stop(dir, "cancelled") == -1) {
		fprintf(stderr, "%s: %s/stop: %s\n", progname, dir,
		    strerror(errno));
		return 1;
	}
	for (i = 0; i < (c->kill_grace + 30) * 10; i++) {
		job = job_load(c->run_dir, argv[1]);
		state = str(job, "state");
		if (job_state_final(state) || (state != NULL &&
		    strcmp(state, "lost") == 0)) {
			printf("%s %s\n", argv[1], state);
			rc = strcmp(state, "cancelled") == 0 ? 0 : 1;
			cJSON_Delete(job);
			return rc;
		}
		cJSON_Delete(job);
		usleep(100000);
	}
	fprintf(stderr, "%s: %s: asked to stop, still not ended\n", progname,
	    argv[1]);
	return 1;
}

/* A new job for the same commit and config, past the (sha, config) claim. */
static int
cmd_retry(struct conf *c, int argc, char *argv[])
{
	char other[JOB_ID_MAX], err[512];
	struct job j;
	cJSON *old;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: %s retry JOB\n", progname);
		return 2;
	}
	if ((old = find_job(c, argv[1])) == NULL)
		return 1;
	memset(&j, 0, sizeof(j));
	j.delivery = "retry";
	j.event = "retry";
	j.repository = str(old, "repository") ? str(old, "repository") : "";
	j.ref = str(old, "ref");
	j.branch = str(old, "branch");
	j.sha = str(old, "sha");
	j.config = str(old, "config");
	j.retry_of = argv[1];
	if (j.ref == NULL || j.sha == NULL || j.config == NULL) {
		fprintf(stderr, "%s: job %s lacks ref, sha or config\n",
		    progname, argv[1]);
		cJSON_Delete(old);
		return 1;
	}
	if ((rc = rundir_prepare(c->run_dir, err, sizeof(err))) == 0)
		rc = job_start(c, &j, 0, other, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "%s: retry %s: %s\n", progname, argv[1], err);
		cJSON_Delete(old);
		return 1;
	}
	printf("%s %s\n", j.id, j.state);
	cJSON_Delete(old);
	return 0;
}

void
jobs_supersede(const struct conf *c, const char *branch,
    const char *delivery, int running_too)
{
	cJSON *all, *job;
	const char *state, *b, *d;
	char dir[PATH_MAX];

	if (branch == NULL || (all = jobs_load(c->run_dir)) == NULL)
		return;
	cJSON_ArrayForEach(job, all) {
		state = str(job, "state");
		b = str(job, "branch");
		d = str(job, "delivery");
		if (state == NULL || b == NULL || strcmp(b, branch) != 0 ||
		    (d != NULL && strcmp(d, delivery) == 0))
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", c->run_dir, str(job, "id"));
		if (strcmp(state, "queued") == 0)
			job_request_stop(dir, "superseded");
		else if (running_too && strcmp(state, "running") == 0)
			job_request_stop(dir, "cancelled");
	}
	cJSON_Delete(all);
}

int
jobs_main(int argc, char *argv[])
{
	const char *config = NULL, *cmd;
	struct conf c;
	char err[1024];
	int rc;

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
	cmd = argv[1];
	if (strcmp(cmd, "jobs") != 0 && strcmp(cmd, "show") != 0 &&
	    strcmp(cmd, "logs") != 0 && strcmp(cmd, "check") != 0 &&
	    strcmp(cmd, "cancel") != 0 && strcmp(cmd, "retry") != 0) {
		fprintf(stderr, "%s: unknown command \"%s\"\n", progname, cmd);
		usage(stderr);
		return 2;
	}
	if (conf_load(&c, config, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s: %s\n", progname, err);
		return 1;
	}
	if (strcmp(cmd, "check") == 0) {
		printf("%s: ok%s\n", c.path, c.secret == NULL ?
		    ", but no secret: every delivery will be refused" : "");
		rc = c.secret == NULL ? 1 : 0;
	} else if (strcmp(cmd, "jobs") == 0)
		rc = cmd_jobs(&c, argc - 1, argv + 1);
	else if (strcmp(cmd, "show") == 0)
		rc = cmd_show(&c, argc - 1, argv + 1);
	else if (strcmp(cmd, "cancel") == 0)
		rc = cmd_cancel(&c, argc - 1, argv + 1);
	else if (strcmp(cmd, "retry") == 0)
		rc = cmd_retry(&c, argc - 1, argv + 1);
	else
		rc = cmd_logs(&c, argc - 1, argv + 1);
	conf_free(&c);
	return rc;
}
