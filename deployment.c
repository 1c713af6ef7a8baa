/*
 * deployment.c: a deployment's record.  See deployment.h.
 */
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

#include "deployment.h"
#include "rundir.h"
#include "util.h"

#define DEPLOY_JSON_MAX	(64 << 10)
#define LIVE_MARKS	".live"	/* in .deployments: the live ones' ids */

const char DEPLOY_ANY[] = "*";
const char *const DEPLOY_STARTING = "starting";
const char *const DEPLOY_SERVING = "serving";
const char *const DEPLOY_STOPPING = "stopping";
const char *const DEPLOY_STOPPED = "stopped";
const char *const DEPLOY_FAILED = "failed";

int
deployment_live(const char *state)
{
	return state == DEPLOY_STARTING || state == DEPLOY_SERVING ||
	    state == DEPLOY_STOPPING;
}

/* The state as one of ours (so that == compares), or NULL. */
static const char *
state_of(const char *s)
{
	const char *const all[] = { DEPLOY_STARTING, DEPLOY_SERVING,
	    DEPLOY_STOPPING, DEPLOY_STOPPED, DEPLOY_FAILED };

	return name_of(s, all, sizeof(all) / sizeof(all[0]));
}

void
deployment_init(struct deployment *d)
{
	memset(d, 0, sizeof(*d));
	d->dirfd = -1;
}

int
deployment_folder(struct rundir *rd, int make)
{
	if (make && mkdirat(rd->fd, DEPLOY_FOLDER, 0750) == -1 &&
	    errno != EEXIST)
		return -1;
	return dir_open_at(rd->fd, DEPLOY_FOLDER, rd->uid);
}

/* Copies member name of o, if a string that fits, into buf. */
static void
str_in(const cJSON *o, const char *name, char *buf, size_t size)
{
	const char *s = json_str(o, name);

	buf[0] = '\0';
	if (s != NULL && strlen(s) < size && utf8_valid(s))
		memcpy(buf, s, strlen(s) + 1);
}

int
deployment_read(struct rundir *rd, const char *id, struct deployment *d)
{
	cJSON *o;
	int dfd;

	deployment_init(d);
	if (!job_id_valid(id)) {
		errno = EINVAL;
		return -1;
	}
	if ((dfd = deployment_folder(rd, 0)) == -1)
		return -1;
	d->dirfd = dir_open_at(dfd, id, rd->uid);
	close(dfd);
	if (d->dirfd == -1)
		return -1;
	if ((o = json_read_at(d->dirfd, "deploy.json", DEPLOY_JSON_MAX)) ==
	    NULL || !cJSON_IsObject(o)) {
		cJSON_Delete(o);
		deployment_close(d);
		errno = EINVAL;
		return -1;
	}
	snprintf(d->id, sizeof(d->id), "%s", id);
	str_in(o, "job", d->job, sizeof(d->job));
	if (!job_id_valid(d->job))
		d->job[0] = '\0';
	str_in(o, "repository", d->repository, sizeof(d->repository));
	if (d->repository[0] != '\0' && !repo_name_valid(d->repository))
		d->repository[0] = '\0';
	str_in(o, "scope", d->scope, sizeof(d->scope));
	str_in(o, "branch", d->branch, sizeof(d->branch));
	str_in(o, "sha", d->sha, sizeof(d->sha));
	if (!commit_id_valid(d->sha))
		d->sha[0] = '\0';
	str_in(o, "config", d->config, sizeof(d->config));
	str_in(o, "checkpoint", d->checkpoint, sizeof(d->checkpoint));
	str_in(o, "model_name", d->model_name, sizeof(d->model_name));
	if (d->model_name[0] == '-')
		d->model_name[0] = '\0';
	str_in(o, "rollback_of", d->rollback_of, sizeof(d->rollback_of));
	if (!job_id_valid(d->rollback_of))
		d->rollback_of[0] = '\0';
	d->state = state_of(json_str(o, "state"));
	d->port = (int)json_num(o, "port", 0);
	if (d->port < 0 || d->port > 65535)
		d->port = 0;
	str_in(o, "gpus", d->gpus, sizeof(d->gpus));
	if (strspn(d->gpus, "0123456789,") != strlen(d->gpus))
		d->gpus[0] = '\0';	/* CUDA_VISIBLE_DEVICES: ids only */
	d->pid = (pid_t)json_num(o, "pid", 0);
	d->pid_start = (unsigned long long)json_num(o, "pid_start", 0);
	d->supervisor = (pid_t)json_num(o, "supervisor", 0);
	d->supervisor_start = (unsigned long long)json_num(o,
	    "supervisor_start", 0);
	if (d->pid < 0)
		d->pid = 0;
	if (d->supervisor < 0)
		d->supervisor = 0;
	str_in(o, "boot_id", d->boot_id, sizeof(d->boot_id));
	d->created = iso8601_parse(json_str(o, "created"));
	d->since = iso8601_parse(json_str(o, "since"));
	d->ended = iso8601_parse(json_str(o, "ended"));
	if (d->created == -1)
		d->created = 0;
	if (d->since == -1)
		d->since = 0;
	if (d->ended == -1)
		d->ended = 0;
	d->restarts = (int)json_num(o, "restarts", 0);
	str_in(o, "reason", d->reason, sizeof(d->reason));
	str_in(o, "metric", d->metric, sizeof(d->metric));
	d->value = json_num(o, "value", 0);
	cJSON_Delete(o);
	return 0;
}

static void
add_time(cJSON *o, const char *name, time_t t)
{
	char buf[21];

	if (t == 0)
		cJSON_AddNullToObject(o, name);
	else {
		iso8601(t, buf);
		cJSON_AddStringToObject(o, name, buf);
	}
}

/*
 * .deployments/.live/<id> while d holds its port: what the looks that
 * want only the live ones (every scrape, the status page, each switch)
 * read, so that their cost does not grow with the deployments kept.
 * d's folder is .deployments/<id>: ../.live from it.
 */
static void
mark_live(const struct deployment *d)
{
	char path[JOB_ID_MAX + 16];
	int fd;

	snprintf(path, sizeof(path), "../" LIVE_MARKS "/%s", d->id);
	if (!deployment_live(d->state)) {
		unlinkat(d->dirfd, path, 0);
		return;
	}
	if (mkdirat(d->dirfd, "../" LIVE_MARKS, 0750) == -1 && errno != EEXIST)
		return;
	if ((fd = openat(d->dirfd, path, O_WRONLY | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC, 0640)) != -1)
		close(fd);
}

int
deployment_write(const struct deployment *d)
{
	cJSON *o;
	char *s;
	int rc;

	if ((o = cJSON_CreateObject()) == NULL)
		return -1;
	cJSON_AddStringToObject(o, "id", d->id);
	cJSON_AddStringToObject(o, "job", d->job);
	cJSON_AddStringToObject(o, "repository", d->repository);
	if (d->scope[0] != '\0')
		cJSON_AddStringToObject(o, "scope", d->scope);
	cJSON_AddStringToObject(o, "branch", d->branch);
	cJSON_AddStringToObject(o, "sha", d->sha);
	cJSON_AddStringToObject(o, "config", d->config);
	cJSON_AddStringToObject(o, "checkpoint", d->checkpoint);
	cJSON_AddStringToObject(o, "model_name", d->model_name);
	if (d->rollback_of[0] != '\0')
		cJSON_AddStringToObject(o, "rollback_of", d->rollback_of);
	cJSON_AddStringToObject(o, "state", d->state ? d->state : "");
	if (d->port > 0)
		cJSON_AddNumberToObject(o, "port", d->port);
	else
		cJSON_AddNullToObject(o, "port");
	cJSON_AddStringToObject(o, "gpus", d->gpus);
	cJSON_AddNumberToObject(o, "pid", d->pid);
	cJSON_AddNumberToObject(o, "pid_start", (double)d->pid_start);
	cJSON_AddNumberToObject(o, "supervisor", d->supervisor);
	cJSON_AddNumberToObject(o, "supervisor_start",
	    (double)d->supervisor_start);
	if (d->boot_id[0] != '\0')
		cJSON_AddStringToObject(o, "boot_id", d->boot_id);
	add_time(o, "created", d->created);
	add_time(o, "since", d->since);
	add_time(o, "ended", d->ended);
	cJSON_AddNumberToObject(o, "restarts", d->restarts);
	cJSON_AddStringToObject(o, "reason", d->reason);
	if (d->metric[0] != '\0') {
		cJSON_AddStringToObject(o, "metric", d->metric);
		cJSON_AddNumberToObject(o, "value", d->value);
	}
	s = cJSON_Print(o);
	cJSON_Delete(o);
	if (s == NULL) {
		errno = ENOMEM;
		return -1;
	}
	rc = file_write_at(d->dirfd, "deploy.json", s, strlen(s), 0640, 1);
	free(s);
	if (rc == 0)
		mark_live(d);
	return rc;
}

int
deployment_create(struct rundir *rd, struct deployment *d, char *err,
    size_t errlen)
{
	char base[JOB_ID_MAX], path[PATH_MAX];
	struct timespec ts;
	struct tm tm;
	int dfd, n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = (int)strftime(base, sizeof(base), "%Y%m%dT%H%M%S", &tm);
	snprintf(base + n, sizeof(base) - n, ".%03ldZ-%.7s-deploy",
	    ts.tv_nsec / 1000000, d->sha[0] ? d->sha : "0000000");
	if ((dfd = deployment_folder(rd, 1)) == -1) {
		snprintf(err, errlen, "%s/%s: %s", rd->path, DEPLOY_FOLDER,
		    strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", rd->path, DEPLOY_FOLDER);
	d->dirfd = rundir_mkid_at(dfd, path, rd->uid, base, d->id, err,
	    errlen);
	close(dfd);
	if (d->dirfd == -1)
		return -1;
	d->state = DEPLOY_STARTING;
	d->created = ts.tv_sec;
	if (deployment_write(d) == -1) {
		snprintf(err, errlen, "%s/%s/%s/deploy.json: %s", rd->path,
		    DEPLOY_FOLDER, d->id, strerror(errno));
		return -1;
	}
	return 0;
}

void
deployment_close(struct deployment *d)
{
	if (d->dirfd != -1)
		close(d->dirfd);
	d->dirfd = -1;
}

int
deployment_ids(struct rundir *rd, struct strv *v)
{
	int dfd, rc;
	size_t i;

	if ((dfd = deployment_folder(rd, 0)) == -1)
		return errno == ENOENT ? 0 : -1;
	rc = rundir_ids_at(dfd, v, 1);
	close(dfd);
	for (i = DEPLOY_SCAN; i < v->n; i++) {
		free(v->v[i]);
		v->v[i] = NULL;
	}
	if (v->n > DEPLOY_SCAN)
		v->n = DEPLOY_SCAN;
	return rc;
}

/* Whether pid is still the process that started at start. */
static int
same_process(pid_t pid, unsigned long long start)
{
	return pid > 0 && start != 0 && proc_starttime(pid) == start;
}

int
deployment_supervised(const struct deployment *d)
{
	return same_process(d->supervisor, d->supervisor_start);
}

int
deployment_running(const struct deployment *d)
{
	return same_process(d->pid, d->pid_start);
}

/* Whether d is of scope ("" or NULL: none). */
static int
in_scope(const struct deployment *d, const char *scope)
{
	return scope == DEPLOY_ANY || strcmp(d->scope, scope ? scope : "") == 0;
}

/*
 * Calls fn on each record of scope, newest first, until it returns
 * non-zero (then d holds that one, open).  Returns 0 if fn took one, -1
 * if none.
 */
static int
each(struct rundir *rd, const char *scope, struct deployment *d,
    int (*fn)(const struct deployment *, void *), void *arg)
{
	struct strv v = { NULL, 0 };
	size_t i;
	int rc = -1;

	if (deployment_ids(rd, &v) == -1) {
		strv_free(&v);
		return -1;
	}
	for (i = 0; i < v.n && rc == -1; i++) {
		if (deployment_read(rd, v.v[i], d) == -1)
			continue;
		if (in_scope(d, scope) && fn(d, arg))
			rc = 0;
		else
			deployment_close(d);
	}
	strv_free(&v);
	return rc;
}

int
deployment_current(struct rundir *rd, const char *scope,
    struct deployment *d)
{
	struct deployment live[16];
	int n, i;

	n = deployment_live_list(rd, scope, NULL, live, 16);
	for (i = 0; i < n; i++)
		if (live[i].state == DEPLOY_SERVING)
			return deployment_read(rd, live[i].id, d);
	return -1;
}

/* Once served, now stopped, and of another job than arg's (or any). */
static int
served_before(const struct deployment *d, void *arg)
{
	const char *job = arg;

	return d->state == DEPLOY_STOPPED && d->since != 0 &&
	    (job == NULL || strcmp(d->job, job) != 0);
}

int
deployment_previous(struct rundir *rd, const char *scope,
    struct deployment *d)
{
	struct deployment cur;
	char job[JOB_ID_MAX] = "";
	int rc;

	if (deployment_current(rd, scope, &cur) == 0) {
		snprintf(job, sizeof(job), "%s", cur.job);
		deployment_close(&cur);
	}
	rc = each(rd, scope, d, served_before, job[0] ? job : NULL);
	return rc;
}

/* Made for job arg's run: not a rollback. */
static int
made_for(const struct deployment *d, void *arg)
{
	return strcmp(d->job, arg) == 0 && d->rollback_of[0] == '\0';
}

int
deployment_of_job(struct rundir *rd, const char *job, char out[JOB_ID_MAX])
{
	struct deployment d;

	if (each(rd, DEPLOY_ANY, &d, made_for, (void *)job) == -1)
		return -1;
	snprintf(out, JOB_ID_MAX, "%s", d.id);
	deployment_close(&d);
	return 0;
}

int
deployment_live_list(struct rundir *rd, const char *scope,
    const char *exclude, struct deployment *out, int max)
{
	struct strv v = { NULL, 0 };
	struct deployment d;
	size_t i;
	int dfd, live, n = 0;

	if ((dfd = deployment_folder(rd, 0)) == -1)
		return 0;
	live = dir_open_at(dfd, LIVE_MARKS, rd->uid);
	close(dfd);
	if (live == -1)
		return 0;
	rundir_ids_at(live, &v, 1);
	close(live);
	for (i = 0; i < v.n && i < DEPLOY_SCAN && n < max; i++) {
		if ((exclude != NULL && strcmp(v.v[i], exclude) == 0) ||
		    deployment_read(rd, v.v[i], &d) == -1)
			continue;
		if (deployment_live(d.state) && in_scope(&d, scope)) {
			out[n] = d;
			out[n].dirfd = -1;	/* not kept open */
			n++;
		}
		deployment_close(&d);
	}
	strv_free(&v);
	return n;
}

int
deployment_request_stop(const struct deployment *d, const char *why)
{
	return file_write_at(d->dirfd, "stop", why, strlen(why), 0640, 0);
}

int
deployment_stop_requested(const struct deployment *d, char *why,
    size_t whylen)
{
	char *s;
	size_t i;

	if ((s = file_read_at(d->dirfd, "stop", 256, NULL, ANY_OWNER)) ==
	    NULL)
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			s[i] = ' ';
	snprintf(why, whylen, "%s", s[0] ? s : "asked to stop");
	free(s);
	return 1;
}
