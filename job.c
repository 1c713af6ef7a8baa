/*
 * job.c: one job's record: its states, job.json (its one writer and one
 * reader), the files of its folder.  See job.h.
 */
#include <ctype.h>
#include <limits.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "filter.h"
#include "job.h"
#include "queue.h"
#include "util.h"

const char *const JOB_QUEUED = "queued", *const JOB_PREPARING = "preparing",
	    *const JOB_RUNNING = "running",
	    *const JOB_SUCCEEDED = "succeeded", *const JOB_FAILED = "failed",
	    *const JOB_KILLED = "killed", *const JOB_CANCELLED = "cancelled",
	    *const JOB_SUPERSEDED = "superseded",
	    *const JOB_TIMEOUT = "timeout", *const JOB_LOST = "lost";

/* The name state is known by (a static string), or NULL. */
static const char *
job_state_name(const char *state)
{
	const char *const all[] = {
		JOB_QUEUED, JOB_PREPARING, JOB_RUNNING, JOB_SUCCEEDED,
		JOB_FAILED, JOB_KILLED, JOB_CANCELLED, JOB_SUPERSEDED,
		JOB_TIMEOUT, JOB_LOST
	};

	return name_of(state, all, sizeof(all) / sizeof(all[0]));
}

int
job_state_final(const char *state)
{
	const char *s = job_state_name(state);

	return s != NULL && s != JOB_QUEUED && s != JOB_PREPARING &&
	    s != JOB_RUNNING;
}

int
job_set_state(struct job *j, const char *to)
{
	static const struct {
		const char *const *from, *const *to;
	} legal[] = {
		{ &JOB_QUEUED, &JOB_RUNNING },
		{ &JOB_QUEUED, &JOB_FAILED },
		{ &JOB_QUEUED, &JOB_CANCELLED },
		{ &JOB_QUEUED, &JOB_SUPERSEDED },
		{ &JOB_QUEUED, &JOB_PREPARING },
		{ &JOB_PREPARING, &JOB_RUNNING },
		{ &JOB_PREPARING, &JOB_FAILED },
		{ &JOB_PREPARING, &JOB_CANCELLED },
		{ &JOB_PREPARING, &JOB_SUPERSEDED },
		{ &JOB_PREPARING, &JOB_QUEUED },	/* slurm: submitted */
		{ &JOB_RUNNING, &JOB_SUCCEEDED },
		{ &JOB_RUNNING, &JOB_FAILED },
		{ &JOB_RUNNING, &JOB_KILLED },
		{ &JOB_RUNNING, &JOB_CANCELLED },
		{ &JOB_RUNNING, &JOB_SUPERSEDED },
		{ &JOB_RUNNING, &JOB_TIMEOUT },
		{ &JOB_RUNNING, &JOB_QUEUED },	/* slurm: requeued */
		{ &JOB_PREPARING, &JOB_LOST },	/* the machine restarted */
		{ &JOB_RUNNING, &JOB_LOST },	/* that, or its end unknown */
	};
	const char *from = job_state_name(j->state), *t = job_state_name(to);
	size_t i;

	for (i = 0; from != NULL && t != NULL &&
	    i < sizeof(legal) / sizeof(legal[0]); i++)
		if (*legal[i].from == from && *legal[i].to == t) {
			j->state = t;
			return 0;
		}
	errno = EINVAL;
	return -1;
}

void
job_init(struct job *j)
{
	memset(j, 0, sizeof(*j));
	j->dirfd = -1;
	j->exit_code = -1;
	j->after_exit = -1;
}

/*
 * Appends the config's name (no folder, no extension) to buf, keeping
 * only characters that are safe in a file name.
 */
static void
config_slug(char *buf, size_t size, const char *config)
{
	const char *base, *dot;
	size_t n = strlen(buf);

	base = strrchr(config, '/');
	base = base ? base + 1 : config;
	if ((dot = strrchr(base, '.')) == NULL || dot == base)
		dot = base + strlen(base);
	for (; base < dot && n + 1 < size && n < 64; base++)
		if (isalnum((unsigned char)*base) || *base == '_' ||
		    *base == '-')
			buf[n++] = *base;
	buf[n] = '\0';
}

static int
job_set_dir(struct rundir *rd, struct job *j)
{
	if ((size_t)snprintf(j->dir, sizeof(j->dir), "%s/%s", rd->path,
	    j->id) >= sizeof(j->dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
job_create(struct rundir *rd, struct job *j, char *err, size_t errlen)
{
	struct timespec ts;
	struct tm tm;
	char base[JOB_ID_MAX];
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = (int)strftime(base, sizeof(base), "%Y%m%dT%H%M%S", &tm);
	snprintf(base + n, sizeof(base) - n, ".%03ldZ-%.7s-",
	    ts.tv_nsec / 1000000, j->sha);
	config_slug(base, sizeof(base), j->config);
	if ((j->dirfd = rundir_mkjob(rd, base, j->id, err, errlen)) == -1)
		return -1;
	if (job_set_dir(rd, j) == -1) {
		snprintf(err, errlen, "%s/%s: %s", rd->path, j->id,
		    strerror(errno));
		return -1;
	}
	j->created = ts.tv_sec;
	j->state = JOB_QUEUED;
	j->exit_code = -1;
	return 0;
}

/*
 * Member name of o if it is a whole number from lo to hi, else none: a
 * planted 1e30 or -1e30 is never cast (undefined behaviour in C).
 */
static double
jnum(const cJSON *o, const char *name, double lo, double hi, double none)
{
	double d = json_num(o, name, none);

	return d >= lo && d <= hi && d == (double)(long long)d ? d : none;
}

static time_t
jtime(const cJSON *o, const char *name)
{
	time_t t = iso8601_parse(json_str(o, name));

	return t == -1 ? 0 : t;
}

/* Opens job id's folder and parses its job.json, with "id" the folder's. */
static cJSON *
job_json_open(struct rundir *rd, const char *id, int *dirfd)
{
	cJSON *o;
	int fd, saved;

	if (!job_id_valid(id)) {
		errno = EINVAL;
		return NULL;
	}
	if ((fd = dir_open_at(rd->fd, id, rd->uid)) == -1)
		return NULL;
	if ((o = json_read_at(fd, "job.json", JOB_JSON_MAX)) == NULL ||
	    !cJSON_IsObject(o)) {
		saved = o ? EINVAL : errno;
		cJSON_Delete(o);
		close(fd);
		errno = saved;
		return NULL;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(o, "id");
	cJSON_AddStringToObject(o, "id", id);
	if (dirfd != NULL)
		*dirfd = fd;
	else
		close(fd);
	return o;
}

cJSON *
job_read_json(struct rundir *rd, const char *id)
{
	return job_json_open(rd, id, NULL);
}

time_t
job_id_time(const char *id)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	return strptime(id, "%Y%m%dT%H%M%S", &tm) != NULL ? timegm(&tm) : 0;
}

const char *
job_output_dir(const struct job *j, char buf[PATH_MAX])
{
	if (j->output_dir != NULL)
		return j->output_dir;
	snprintf(buf, PATH_MAX, "%s/output", j->dir);	/* older jobs */
	return buf;
}

cJSON *
job_load_shown(struct rundir *rd, const char *id, struct job *j)
{
	struct job tmp;
	cJSON *o;

	if (j == NULL)
		j = &tmp;
	if (job_read(rd, id, j) == -1)
		return NULL;
	o = j->src;
	j->src = NULL;
	if (job_lost(rd, j))
		cJSON_ReplaceItemInObjectCaseSensitive(o, "state",
		    cJSON_CreateString(JOB_LOST));
	if (j == &tmp)
		job_close(j);
	return o;
}

/* A kept config's name: "config", then '.' and 1 to 8 of [a-z0-9]. */
static int
copy_name_valid(const char *s)
{
	size_t n;

	if (s == NULL || strncmp(s, "config", 6) != 0)
		return 0;
	if (s[6] == '\0')
		return 1;
	n = strspn(s + 7, "abcdefghijklmnopqrstuvwxyz0123456789");
	return s[6] == '.' && n >= 1 && n <= 8 && s[7 + n] == '\0';
}

int
job_read(struct rundir *rd, const char *id, struct job *j)
{
	const char *g;
	cJSON *o, *a;

	job_init(j);
	if ((o = job_json_open(rd, id, &j->dirfd)) == NULL)
		return -1;
	j->src = o;
	snprintf(j->id, sizeof(j->id), "%s", id);
	if (job_set_dir(rd, j) == -1) {
		job_close(j);
		return -1;
	}
	j->state = job_state_name(json_str(o, "state"));
	j->delivery = json_str(o, "delivery");
	j->event = json_str(o, "event");
	j->repository = json_str(o, "repository");
	j->ref = json_str(o, "ref");
	j->branch = json_str(o, "branch");
	j->sha = json_str(o, "sha");
	j->config = json_str(o, "config");
	j->retry_of = json_str(o, "retry_of");
	j->repository_url = json_str(o, "repository_url");
	j->output_dir = json_str(o, "output_dir");
	snprintf(j->commit, sizeof(j->commit), "%s", json_str(o, "commit") &&
	    strlen(json_str(o, "commit")) < sizeof(j->commit) ? json_str(o,
	    "commit") : "");
	j->has_src = json_str(o, "src") != NULL;
	title_clean(json_str(o, "commit_title"), j->commit_title);
	if (copy_name_valid(json_str(o, "config_copy")))
		snprintf(j->config_copy, sizeof(j->config_copy), "%s",
		    json_str(o, "config_copy"));
	snprintf(j->config_copy_error, sizeof(j->config_copy_error), "%s",
	    json_str(o, "config_copy_error") ? json_str(o,
	    "config_copy_error") : "");
	if (json_str(o, "deployment") && job_id_valid(json_str(o,
	    "deployment")))
		snprintf(j->deployment, sizeof(j->deployment), "%s",
		    json_str(o, "deployment"));
	snprintf(j->deploy_note, sizeof(j->deploy_note), "%s",
	    json_str(o, "deploy_note") ? json_str(o, "deploy_note") : "");
	results_from_json(&j->results, o);
	j->created = jtime(o, "created");
	j->started = jtime(o, "started");
	j->finished = jtime(o, "finished");
	j->pid = (pid_t)jnum(o, "pid", 1, INT_MAX, 0);
	j->pid_start = (unsigned long long)jnum(o, "pid_start", 0, 1e18, 0);
	j->supervisor = (pid_t)jnum(o, "supervisor", 1, INT_MAX, 0);
	j->supervisor_start = (unsigned long long)jnum(o, "supervisor_start",
	    0, 1e18, 0);
	j->reaper = (pid_t)jnum(o, "reaper", 1, INT_MAX, 0);
	j->reaper_start = (unsigned long long)jnum(o, "reaper_start", 0,
	    1e18, 0);
	snprintf(j->boot_id, sizeof(j->boot_id), "%s", json_str(o, "boot_id") &&
	    strlen(json_str(o, "boot_id")) < sizeof(j->boot_id) ? json_str(o,
	    "boot_id") : "");
	j->ending = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o,
	    "ending"));
	j->notified = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o,
	    "notified"));
	j->exit_code = (int)jnum(o, "exit_code", 0, 255, -1);
	j->signal = (int)jnum(o, "signal", 1, 128, 0);
	if ((g = json_str(o, "gpus")) != NULL &&
	    (j->gpus = strdup(g)) == NULL) {
		job_close(j);
		errno = ENOMEM;
		return -1;
	}
	snprintf(j->error, sizeof(j->error), "%s", json_str(o, "error") ?
	    json_str(o, "error") : "");
	snprintf(j->note, sizeof(j->note), "%s", json_str(o, "note") ?
	    json_str(o, "note") : "");
	snprintf(j->waiting, sizeof(j->waiting), "%s", json_str(o,
	    "waiting") && strlen(json_str(o, "waiting")) < sizeof(j->waiting) ?
	    json_str(o, "waiting") : "");
	j->slurm_job_id = (long)jnum(o, "slurm_job_id", 1, 4294967295.0, 0);
	snprintf(j->slurm_nodes, sizeof(j->slurm_nodes), "%s",
	    json_str(o, "slurm_nodes") && strlen(json_str(o, "slurm_nodes")) <
	    sizeof(j->slurm_nodes) ? json_str(o, "slurm_nodes") : "");
	snprintf(j->ticket, sizeof(j->ticket), "%s", json_str(o, "run_ticket") &&
	    strlen(json_str(o, "run_ticket")) < sizeof(j->ticket) ?
	    json_str(o, "run_ticket") : "");
	if ((a = cJSON_GetObjectItemCaseSensitive(o, "after_success")) !=
	    NULL && (g = json_str(a, "state")) != NULL) {
		snprintf(j->after_state, sizeof(j->after_state), "%s", g);
		j->after_exit = (int)jnum(a, "exit_code", 0, 255, -1);
		j->after_duration = (long)jnum(a, "duration", 0, 1e12, 0);
		j->after_pid = (pid_t)jnum(a, "pid", 1, INT_MAX, 0);
		j->after_pid_start = (unsigned long long)jnum(a, "pid_start",
		    0, 1e18, 0);
		snprintf(j->after_error, sizeof(j->after_error), "%s",
		    json_str(a, "error") ? json_str(a, "error") : "");
	}
	return 0;
}

void
job_close(struct job *j)
{
	if (j->dirfd != -1)
		close(j->dirfd);
	j->dirfd = -1;
	free(j->gpus);
	j->gpus = NULL;
	results_free(&j->results);
	cJSON_Delete(j->src);
	j->src = NULL;
}

static void
add_time(cJSON *o, const char *name, time_t t)
{
	char buf[21];

	if (t == 0) {
		cJSON_AddNullToObject(o, name);
		return;
	}
	iso8601(t, buf);
	cJSON_AddStringToObject(o, name, buf);
}

static void
add_str(cJSON *o, const char *name, const char *s)
{
	if (s == NULL)
		cJSON_AddNullToObject(o, name);
	else
		cJSON_AddStringToObject(o, name, s);
}

static void
add_num(cJSON *o, const char *name, double v, int set)
{
	if (set)
		cJSON_AddNumberToObject(o, name, v);
	else
		cJSON_AddNullToObject(o, name);
}

int
job_write(const struct job *j)
{
	return job_save(j, 1);
}

int
job_save(const struct job *j, int sync)
{
	char path[PATH_MAX];
	cJSON *o, *argv;
	char *s;
	size_t i;
	int rc;

	if ((o = cJSON_CreateObject()) == NULL)
		goto oom;
	add_str(o, "id", j->id);
	add_str(o, "state", j->state);
	add_str(o, "delivery", j->delivery);
	add_str(o, "event", j->event);
	add_str(o, "repository", j->repository);
	add_str(o, "ref", j->ref);
	add_str(o, "branch", j->branch);
	add_str(o, "sha", j->sha);
	add_str(o, "config", j->config);
	if (j->retry_of != NULL)
		add_str(o, "retry_of", j->retry_of);
	if (j->repository_url != NULL)
		add_str(o, "repository_url", j->repository_url);
	if (j->commit_title[0] != '\0')
		add_str(o, "commit_title", j->commit_title);
	argv = cJSON_AddArrayToObject(o, "argv");
	for (i = 0; j->argv != NULL && j->argv[i] != NULL; i++)
		cJSON_AddItemToArray(argv, cJSON_CreateString(j->argv[i]));
	add_time(o, "created", j->created);
	add_time(o, "started", j->started);
	add_time(o, "finished", j->finished);
	add_num(o, "duration", (double)(j->finished - j->started),
	    j->started != 0 && j->finished != 0);
	add_num(o, "pid", j->pid, j->pid > 0);
	if (j->pid > 0)
		cJSON_AddNumberToObject(o, "pid_start", (double)j->pid_start);
	if (j->supervisor > 0) {
		cJSON_AddNumberToObject(o, "supervisor", j->supervisor);
		cJSON_AddNumberToObject(o, "supervisor_start",
		    (double)j->supervisor_start);
	}
	if (j->reaper > 0) {
		cJSON_AddNumberToObject(o, "reaper", j->reaper);
		cJSON_AddNumberToObject(o, "reaper_start",
		    (double)j->reaper_start);
	}
	if (j->boot_id[0] != '\0')
		add_str(o, "boot_id", j->boot_id);
	if (j->ending)
		cJSON_AddTrueToObject(o, "ending");
	if (j->notified)
		cJSON_AddTrueToObject(o, "notified");
	add_str(o, "gpus", j->gpus);
	add_num(o, "exit_code", j->exit_code, j->exit_code >= 0);
	add_num(o, "signal", j->signal, j->signal > 0);
	add_str(o, "error", j->error[0] ? j->error : NULL);
	if (j->note[0] != '\0')
		add_str(o, "note", j->note);
	snprintf(path, sizeof(path), "%s/log", j->dir);
	add_str(o, "log", path);
	if (j->output_dir != NULL)
		add_str(o, "output_dir", j->output_dir);
	if (j->commit[0] != '\0')
		add_str(o, "commit", j->commit);
	if (j->has_src) {
		snprintf(path, sizeof(path), "%s/src", j->dir);
		add_str(o, "src", path);
	}
	if (j->config_copy[0] != '\0')
		add_str(o, "config_copy", j->config_copy);
	if (j->config_copy_error[0] != '\0')
		add_str(o, "config_copy_error", j->config_copy_error);
	if (j->deployment[0] != '\0')
		add_str(o, "deployment", j->deployment);
	if (j->deploy_note[0] != '\0')
		add_str(o, "deploy_note", j->deploy_note);
	if (j->waiting[0] != '\0')
		add_str(o, "waiting", j->waiting);
	if (j->ticket[0] != '\0')
		add_str(o, "run_ticket", j->ticket);
	if (j->slurm_job_id > 0)
		cJSON_AddNumberToObject(o, "slurm_job_id", j->slurm_job_id);
	if (j->slurm_nodes[0] != '\0')
		add_str(o, "slurm_nodes", j->slurm_nodes);
	if (j->after_state[0] != '\0') {
		argv = cJSON_AddObjectToObject(o, "after_success");
		add_str(argv, "state", j->after_state);
		add_num(argv, "exit_code", j->after_exit, j->after_exit >= 0);
		cJSON_AddNumberToObject(argv, "duration", j->after_duration);
		if (j->after_pid > 0) {
			cJSON_AddNumberToObject(argv, "pid", j->after_pid);
			cJSON_AddNumberToObject(argv, "pid_start",
			    (double)j->after_pid_start);
		}
		if (j->after_error[0] != '\0')
			add_str(argv, "error", j->after_error);
	}
	results_to_json(&j->results, o);
	if ((s = cJSON_Print(o)) == NULL)
		goto oom;
	i = strlen(s);
	s[i] = '\n';		/* over the NUL: the length says where it ends */
	rc = file_write_at(j->dirfd, "job.json", s, i + 1, 0640, sync);
	free(s);
	cJSON_Delete(o);
	return rc;
oom:
	cJSON_Delete(o);
	errno = ENOMEM;
	return -1;
}

int
job_write_pid(const struct job *j)
{
	char buf[32];
	int n;

	n = snprintf(buf, sizeof(buf), "%ld\n", (long)j->pid);
	return file_write_at(j->dirfd, "pid", buf, n, 0640, 0);
}

int
job_open_file(const struct job *j, const char *name, int flags)
{
	return file_open_at(j->dirfd, name, flags, 0640, ANY_OWNER);
}

int
job_writer_lock(const struct job *j, double wait)
{
	return lock_at(j->dirfd, "supervisor.lock", 0640, ANY_OWNER, wait,
	    NULL, NULL);
}

int
job_keep_config(struct job *j, int cwd)
{
	const char *base, *dot;
	char name[sizeof(j->config_copy)], *text = NULL;
	size_t len, i;
	int fd, e;

	j->config_copy[0] = '\0';
	j->config_copy_error[0] = '\0';
	if (j->config == NULL)
		return -1;
	base = strrchr(j->config, '/') ? strrchr(j->config, '/') + 1 :
	    j->config;
	snprintf(name, sizeof(name), "config");
	if ((dot = strrchr(base, '.')) != NULL && dot != base) {
		snprintf(name, sizeof(name), "config.%.8s", dot + 1);
		for (i = 7; name[i] != '\0'; i++)
			name[i] = (char)tolower((unsigned char)name[i]);
		if (!copy_name_valid(name))
			snprintf(name, sizeof(name), "config");
	}
	if ((fd = path_open_at(cwd, j->config, O_RDONLY, 0, ANY_OWNER)) ==
	    -1 || (text = fd_read_all(fd, CONFIG_COPY_MAX, &len)) == NULL) {
		e = errno;
		snprintf(j->config_copy_error, sizeof(j->config_copy_error),
		    "%s not kept: %s", j->config, e == ELOOP ? "a symlink" :
		    e == EINVAL ? "not a regular file" : e == EFBIG ?
		    "larger than " CONFIG_COPY_MAX_TEXT : e == ENOENT ?
		    "no such file" : strerror(e));
		if (fd != -1)
			close(fd);
		return -1;
	}
	close(fd);
	if (file_write_at(j->dirfd, name, text, len, 0640, 0) == -1) {
		snprintf(j->config_copy_error, sizeof(j->config_copy_error),
		    "%s not kept: write %s: %s", j->config, name,
		    strerror(errno));
		free(text);
		return -1;
	}
	free(text);
	memcpy(j->config_copy, name, sizeof(name));
	return 0;
}

char *
job_read_config(const struct job *j, size_t *len)
{
	if (!copy_name_valid(j->config_copy)) {
		errno = ENOENT;
		return NULL;
	}
	return file_read_at(j->dirfd, j->config_copy, CONFIG_COPY_MAX, len,
	    ANY_OWNER);
}

/* Whether two optional strings are the same (case too, unless nocase). */
static int
same(const char *a, const char *b, int nocase)
{
	if (a == NULL || b == NULL)
		return a == b;
	return nocase ? strcasecmp(a, b) == 0 : strcmp(a, b) == 0;
}

int
job_previous(struct rundir *rd, const struct job *j, size_t scan,
    char out[JOB_ID_MAX])
{
	struct strv v = { NULL, 0 };
	struct job p;
	size_t i, read = 0;
	int rc = -1;

	rundir_job_ids(rd, &v, 1);
	for (i = 0; i < v.n && read < scan && rc == -1; i++) {
		if (strcmp(v.v[i], j->id) >= 0)
			continue;	/* not before j */
		read++;
		if (job_read(rd, v.v[i], &p) == -1)
			continue;
		if (same(p.repository, j->repository, 1) &&
		    same(p.branch, j->branch, 0) &&
		    same(p.config, j->config, 0)) {
			snprintf(out, JOB_ID_MAX, "%s", p.id);
			rc = 0;
		}
		job_close(&p);
	}
	strv_free(&v);
	return rc;
}

void
job_discard(struct rundir *rd, struct job *j)
{
	unlinkat(j->dirfd, "job.json", 0);
	unlinkat(j->dirfd, "log", 0);
	unlinkat(rd->fd, j->id, AT_REMOVEDIR);
	rundir_live(rd, j->id, 0);
}

int
job_request_stop(const struct job *j, const char *state)
{
	return file_write_at(j->dirfd, "stop", state, strlen(state), 0640, 0);
}

const char *
job_stop_requested(const struct job *j)
{
	const char *state;
	char *s;

	if ((s = file_read_at(j->dirfd, "stop", 64, NULL, ANY_OWNER)) == NULL)
		return NULL;
	state = strcmp(s, JOB_SUPERSEDED) == 0 ? JOB_SUPERSEDED :
	    JOB_CANCELLED;
	free(s);
	return state;
}

/* Seconds a queued job may be out of the queue with no supervisor yet. */
#define UNSUPERVISED_GRACE 30

/*
 * Whether a process holds j's writer lock now: its supervisor, alive.
 * The look is a shared lock taken and let go at once (a supervisor that
 * wants it meanwhile waits for it: lock_wait).
 */
static int
job_held(const struct job *j)
{
	int fd, held;

	if ((fd = file_open_at(j->dirfd, "supervisor.lock", O_RDONLY, 0,
	    ANY_OWNER)) == -1)
		return 0;
	held = flock(fd, LOCK_SH | LOCK_NB) == -1 && errno == EWOULDBLOCK;
	close(fd);
	return held;
}

int
job_lost(struct rundir *rd, const struct job *j)
{
	if (j->state != JOB_RUNNING && j->state != JOB_PREPARING &&
	    j->state != JOB_QUEUED)
		return 0;
	if (job_held(j))
		return 0;
	if (j->supervisor > 0 &&
	    proc_starttime(j->supervisor) == j->supervisor_start)
		return 0;
	if (j->slurm_job_id > 0)
		return 0;	/* Slurm has it: lifecycle_adopt */
	/*
	 * Queued with a supervisor that is gone: on Slurm, one that died
	 * before it recorded sbatch's answer.
	 */
	if (j->state != JOB_QUEUED || j->supervisor > 0)
		return 1;
	return !queue_has(rd, j->id) &&
	    time(NULL) - j->created >= UNSUPERVISED_GRACE;
}

int
job_adoptable(struct rundir *rd, const struct job *j)
{
	if (!job_state_final(j->state))
		return job_lost(rd, j);
	return j->ending && !job_held(j) && !(j->supervisor > 0 &&
	    proc_starttime(j->supervisor) == j->supervisor_start);
}

/* A job read back from job.json gets the checks a delivery gets. */
int
job_valid(const struct job *j, char *err, size_t errlen)
{
	char reason[FILTER_REASON_MAX];

	if (job_values_valid(j->ref, j->sha, j->repository ? j->repository :
	    "", j->config ? j->config : "", j->delivery ? j->delivery : "",
	    reason) == -1) {
		snprintf(err, errlen, "job %s: %s", j->id, reason);
		return -1;
	}
	return 0;
}

