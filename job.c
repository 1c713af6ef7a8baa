/*
 * job.c: one job's life: its record and states, its start, and its end
 * while it waits or when its supervisor is gone.  See job.h.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commitstatus.h"
#include "filter.h"
#include "job.h"
#include "metrics.h"
#include "queue.h"
#include "schedule.h"
#include "spawn.h"
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
	size_t i;

	for (i = 0; state != NULL && i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(state, all[i]) == 0)
			return all[i];
	return NULL;
}

int
job_state_final(const char *state)
{
	const char *s = job_state_name(state);

	return s != NULL && s != JOB_QUEUED && s != JOB_PREPARING &&
	    s != JOB_RUNNING && s != JOB_LOST;
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

int
job_read(struct rundir *rd, const char *id, struct job *j)
{
	const char *g;
	double d;
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
	if (j->state == JOB_LOST)
		j->state = NULL;	/* never written: garbage */
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
	results_from_json(&j->results, o);
	j->created = jtime(o, "created");
	j->started = jtime(o, "started");
	j->finished = jtime(o, "finished");
	j->pid = (pid_t)json_num(o, "pid", 0);
	j->pid_start = (unsigned long long)json_num(o, "pid_start", 0);
	j->supervisor = (pid_t)json_num(o, "supervisor", 0);
	j->supervisor_start = (unsigned long long)json_num(o,
	    "supervisor_start", 0);
	j->exit_code = (int)json_num(o, "exit_code", -1);
	j->signal = (int)json_num(o, "signal", 0);
	if ((g = json_str(o, "gpus")) != NULL &&
	    (j->gpus = strdup(g)) == NULL) {
		job_close(j);
		errno = ENOMEM;
		return -1;
	}
	snprintf(j->error, sizeof(j->error), "%s", json_str(o, "error") ?
	    json_str(o, "error") : "");
	j->waiting = json_str(o, "waiting");
	d = json_num(o, "slurm_job_id", 0);
	j->slurm_job_id = d >= 1 && d < 4294967296.0 ? (long)d : 0;
	snprintf(j->slurm_nodes, sizeof(j->slurm_nodes), "%s",
	    json_str(o, "slurm_nodes") && strlen(json_str(o, "slurm_nodes")) <
	    sizeof(j->slurm_nodes) ? json_str(o, "slurm_nodes") : "");
	snprintf(j->ticket, sizeof(j->ticket), "%s", json_str(o, "run_ticket") &&
	    strlen(json_str(o, "run_ticket")) < sizeof(j->ticket) ?
	    json_str(o, "run_ticket") : "");
	if ((a = cJSON_GetObjectItemCaseSensitive(o, "after_success")) !=
	    NULL && (g = json_str(a, "state")) != NULL) {
		snprintf(j->after_state, sizeof(j->after_state), "%s", g);
		j->after_exit = (int)json_num(a, "exit_code", -1);
		j->after_duration = (long)json_num(a, "duration", 0);
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
	add_str(o, "gpus", j->gpus);
	add_num(o, "exit_code", j->exit_code, j->exit_code >= 0);
	add_num(o, "signal", j->signal, j->signal > 0);
	add_str(o, "error", j->error[0] ? j->error : NULL);
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
	if (j->waiting != NULL)
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

void
job_ended(struct rundir *rd, const struct job *j)
{
	metrics_job_ended(rd, j);
	if (j->started == 0 && j->ticket[0] != '\0')
		sched_ticket_return(rd, j->ticket, j->id);
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

/* Removes the folder of a job that never started (job.json, log). */
static void
job_discard(struct rundir *rd, struct job *j)
{
	unlinkat(j->dirfd, "job.json", 0);
	unlinkat(j->dirfd, "log", 0);
	unlinkat(rd->fd, j->id, AT_REMOVEDIR);
}

/* Asks the supervisor to stop the job, ending in state.  0 or -1. */
static int
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

int
job_lost(struct rundir *rd, const struct job *j)
{
	if (j->state != JOB_RUNNING && j->state != JOB_PREPARING &&
	    j->state != JOB_QUEUED)
		return 0;
	if (j->supervisor > 0 &&
	    proc_starttime(j->supervisor) == j->supervisor_start)
		return 0;
	if (j->slurm_job_id > 0)
		return 0;	/* Slurm has it: job_adopt */
	if (j->state != JOB_QUEUED)
		return 1;
	return j->supervisor <= 0 && !queue_has(rd, j->id) &&
	    time(NULL) - j->created >= UNSUPERVISED_GRACE;
}

static void job_tell(struct rundir *, struct conf *, struct job *,
	    struct spawn *);

/* A job started under the queue lock, whose report comes after it. */
struct started {
	struct job	 j;
	struct spawn	 sp;
	struct started	*next;
};

/*
 * What the queue's start callback needs.  It only forks, under the
 * queue lock; kick_wait waits for the reports once the lock is let go,
 * so one trainer's start does not hold up every other delivery.
 */
struct kick {
	struct rundir	*rd;
	struct conf	*c;
	struct job	*mine;		/* the job being submitted, or NULL */
	struct spawn	*mine_sp;
	int		 mine_rc;	/* 1: not started, 0: started, -1;
					   2: forked, its report to come */
	char		*err;
	size_t		 errlen;
	struct started	*others;	/* forked, their reports to come */
};

/* A job read back from job.json gets the checks a delivery gets. */
static int
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

/* queue_start_fn: forks the supervisor of waiting job id on slots s. */
static int
start_one(void *arg, const char *id, struct slots *s)
{
	struct kick *k = arg;
	struct started *o;
	char err[512];

	if (k->mine != NULL && strcmp(id, k->mine->id) == 0) {
		if (spawn_fork(k->mine_sp, k->rd, k->mine, k->c, s, k->err,
		    k->errlen) == -1) {
			k->mine_rc = -1;
			claim_release(k->rd, k->mine->sha, k->mine->config,
			    id);
			return -1;
		}
		k->mine_rc = 2;
		return 0;
	}
	if ((o = calloc(1, sizeof(*o))) == NULL) {
		slots_release(s);
		return -1;
	}
	if (job_read(k->rd, id, &o->j) == -1) {
		slots_release(s);
		free(o);
		return -1;
	}
	if (o->j.state != JOB_QUEUED ||
	    job_valid(&o->j, err, sizeof(err)) == -1 ||
	    spawn_prepare(&o->sp, &o->j, k->c) == -1) {
		slots_release(s);
		job_close(&o->j);
		free(o);
		return -1;
	}
	o->j.argv = o->sp.argv;
	if (spawn_fork(&o->sp, k->rd, &o->j, k->c, s, err,
	    sizeof(err)) == -1) {
		/* It never ran: a redelivery may start it. */
		claim_release(k->rd, o->j.sha, o->j.config, id);
		fprintf(stderr, "swift-webhook: job %s: %s\n", id, err);
		spawn_free(&o->sp);
		job_close(&o->j);
		free(o);
		return -1;
	}
	o->next = k->others;
	k->others = o;
	return 0;
}

/* After the queue lock: the reports of what start_one forked. */
static void
kick_wait(struct kick *k)
{
	struct started *o;
	char err[512];

	if (k->mine_rc == 2) {
		k->mine_rc = spawn_wait(k->mine_sp, k->rd, k->mine, k->err,
		    k->errlen);
		if (k->mine_rc == -1)
			claim_release(k->rd, k->mine->sha, k->mine->config,
			    k->mine->id);
	}
	while ((o = k->others) != NULL) {
		k->others = o->next;
		if (spawn_wait(&o->sp, k->rd, &o->j, err, sizeof(err)) == -1) {
			claim_release(k->rd, o->j.sha, o->j.config, o->j.id);
			fprintf(stderr, "swift-webhook: job %s: %s\n", o->j.id,
			    err);
		}
		spawn_free(&o->sp);
		job_close(&o->j);
		free(o);
	}
}

void
job_kick(struct rundir *rd, struct conf *c)
{
	struct kick k = { rd, c, NULL, NULL, 1, NULL, 0, NULL };
	char err[512];

	if (queue_kick(rd, c, start_one, &k, err, sizeof(err)) != QUEUE_OK)
		fprintf(stderr, "swift-webhook: queue: %s\n", err);
	kick_wait(&k);
	sched_wait_window(rd, c);
}

/*
 * Has j's state told, detached: for a job that waits or has ended
 * without a supervisor of its own, a short-lived one only posts its
 * commit status and (once ended) runs notify.
 */
static void
job_tell(struct rundir *rd, struct conf *c, struct job *j, struct spawn *sp)
{
	struct slots none = { .n = 0 };
	char err[512];

	if (job_state_final(j->state) ? c->notify.n == 0 &&
	    c->github_token_file == NULL : c->github_token_file == NULL)
		return;
	sp->tell_only = 1;
	if (spawn_start(sp, rd, j, c, &none, err, sizeof(err)) == -1)
		fprintf(stderr, "swift-webhook: job %s: notify: %s\n", j->id,
		    err);
	sp->tell_only = 0;
}

enum job_result
job_start(struct rundir *rd, struct conf *c, struct job *j, int claim,
    char other[JOB_ID_MAX], char *err, size_t errlen)
{
	struct kick k = { rd, c, j, NULL, 1, err, errlen, NULL };
	struct spawn sp;
	enum job_result rc = JOB_ERROR;
	enum queue_result qr;

	if (job_create(rd, j, err, errlen) == -1)
		return JOB_ERROR;
	if (spawn_prepare(&sp, j, c) == -1) {
		snprintf(err, errlen, "out of memory");
		job_discard(rd, j);
		return JOB_ERROR;
	}
	k.mine_sp = &sp;
	j->argv = sp.argv;
	/*
	 * Refused now, not when its turn comes: a trainer that is not there
	 * (on Slurm, the trainer is the compute nodes' to have).
	 */
	if (c->backend == BACKEND_LOCAL && spawn_check(&sp, c, err,
	    errlen) == -1) {
		snprintf(j->error, sizeof(j->error), "%s", err);
		job_set_state(j, JOB_FAILED);
		j->finished = time(NULL);
		job_write(j);
		job_ended(rd, j);
		job_tell(rd, c, j, &sp);
		goto out;
	}
	if (job_write(j) == -1) {
		snprintf(err, errlen, "write %s/job.json: %s", j->dir,
		    strerror(errno));
		goto discard;
	}
	if (claim) {
		switch (claim_try(rd, j->sha, j->config, j->id, other, err,
		    errlen)) {
		case CLAIM_OK:
			break;
		case CLAIM_TAKEN:
			rc = JOB_DUPLICATE;
			goto discard;
		case CLAIM_ERROR:
			goto discard;
		}
		/* After the claim: a duplicate takes none of the day's runs. */
		switch (sched_ticket_take(rd, c, j->repository, j->id,
		    j->ticket, err, errlen)) {
		case TICKET_OK:
			break;
		case TICKET_NONE:
			rc = JOB_OVER_BUDGET;
			/* FALLTHROUGH */
		case TICKET_ERROR:
			claim_release(rd, j->sha, j->config, j->id);
			goto discard;
		}
		if (j->ticket[0] != '\0' && job_write(j) == -1) {
			snprintf(err, errlen, "write %s/job.json: %s", j->dir,
			    strerror(errno));
			goto release;
		}
	}
	if (c->backend == BACKEND_SLURM) {
		/* Slurm queues it: its supervisor submits it. */
		struct slots none = { .n = 0 };

		if (spawn_start(&sp, rd, j, c, &none, err, errlen) == -1) {
			if (claim)
				claim_release(rd, j->sha, j->config, j->id);
			goto out;	/* recorded failed */
		}
		if (!claim)
			claim_point(rd, j->sha, j->config, j->id);
		rc = JOB_STARTED;
		goto out;
	}
	qr = queue_submit(rd, c, j->id, start_one, &k, err, errlen);
	kick_wait(&k);
	switch (qr) {
	case QUEUE_OK:
		if (k.mine_rc == -1)
			goto out;	/* recorded failed by its supervisor */
		if (!claim)
			claim_point(rd, j->sha, j->config, j->id);
		rc = JOB_STARTED;
		if (k.mine_rc == 1) {
			j->state = JOB_QUEUED;
			sched_wait_window(rd, c);
			job_tell(rd, c, j, &sp);
		}
		goto out;
	case QUEUE_FULL:
		rc = JOB_QUEUE_FULL;
		break;
	case QUEUE_BUSY:
		rc = JOB_BUSY;
		break;
	case QUEUE_ERROR:
		break;
	}
release:
	if (claim)
		claim_release(rd, j->sha, j->config, j->id);
discard:
	sched_ticket_return(rd, j->ticket, j->id);
	job_discard(rd, j);
out:
	j->argv = NULL;
	spawn_free(&sp);
	return rc;
}

/* Records a queued job's end and has its notify run, detached. */
static void
end_recorded(struct rundir *rd, struct conf *c, const char *id,
    const char *state)
{
	struct spawn sp;
	struct job j;
	char err[512];

	if (job_read(rd, id, &j) == -1)
		return;
	if (job_set_state(&j, state) == -1) {
		job_close(&j);
		return;
	}
	j.finished = time(NULL);
	if (job_write(&j) == -1) {
		fprintf(stderr, "swift-webhook: job %s: write job.json: %s\n",
		    id, strerror(errno));
		job_close(&j);
		return;
	}
	job_ended(rd, &j);
	if (job_valid(&j, err, sizeof(err)) == 0 &&
	    spawn_prepare(&sp, &j, c) == 0) {
		job_tell(rd, c, &j, &sp);
		spawn_free(&sp);
	}
	job_close(&j);
}

struct pick {
	struct rundir	*rd;
	struct conf	*c;
	const char	*id;		/* end this one (cancel) */
	const char	*branch;	/* or these (supersede) */
	const char	*state;
	int		 n;
};

/*
 * Supersede: of the waiting jobs of the branch, those of the delivery
 * that made the newest one stay; every other is picked.  Whichever of two
 * concurrent pushes looks last sees both, so the newer one always wins.
 */
static void
choose(void *arg, char (*ids)[JOB_ID_MAX], int *pick, size_t n)
{
	struct pick *p = arg;
	char (*dlv)[72];
	struct job j;
	size_t i, newest = n;

	if (p->id != NULL) {
		for (i = 0; i < n; i++)
			pick[i] = strcmp(ids[i], p->id) == 0;
		return;
	}
	if ((dlv = calloc(n, sizeof(*dlv))) == NULL)
		return;
	for (i = 0; i < n; i++) {
		if (job_read(p->rd, ids[i], &j) == -1)
			continue;
		if (j.branch != NULL && strcmp(j.branch, p->branch) == 0 &&
		    j.delivery != NULL) {
			snprintf(dlv[i], sizeof(dlv[i]), "%s", j.delivery);
			if (newest == n || strcmp(ids[i], ids[newest]) > 0)
				newest = i;
		}
		job_close(&j);
	}
	for (i = 0; newest < n && i < n; i++)
		pick[i] = dlv[i][0] != '\0' && strcmp(dlv[i], dlv[newest]) != 0;
	free(dlv);
}

static void
picked(void *arg, const char *id)
{
	struct pick *p = arg;

	end_recorded(p->rd, p->c, id, p->state);
	p->n++;
}

/*
 * Ends the queued job id as state (cancelled, superseded) if it still
 * waits.  Returns 1 if it did, 0 if it no longer waits, -1 (err).
 */
static int
job_end_queued(struct rundir *rd, struct conf *c, const char *id,
    const char *state, char *err, size_t errlen)
{
	struct pick p = { rd, c, id, NULL, state, 0 };

	if (queue_remove(rd, choose, picked, &p, err, errlen) != QUEUE_OK)
		return -1;
	return p.n > 0;
}

/*
 * Supersede on Slurm, which has the waiting jobs: each older job of the
 * run directory of the branch and another delivery that waits (or, with
 * running_too, runs) is asked to stop, and its supervisor scancels it.
 */
struct sweep {
	struct rundir	*rd;
	struct conf	*c;
	const char	*branch, *delivery, *newest;
	int		 running_too;
};

static int
sweep_one(void *arg, const char *name)
{
	struct sweep *w = arg;
	const char *to = NULL;
	struct job j;

	if (!job_id_valid(name) || strcmp(name, w->newest) >= 0 ||
	    job_read(w->rd, name, &j) == -1)
		return 0;
	if (j.branch != NULL && strcmp(j.branch, w->branch) == 0 &&
	    (j.delivery == NULL || strcmp(j.delivery, w->delivery) != 0))
		to = j.state == JOB_QUEUED ? JOB_SUPERSEDED : w->running_too &&
		    (j.state == JOB_RUNNING || j.state == JOB_PREPARING) ?
		    JOB_CANCELLED : NULL;
	if (to != NULL && job_request_stop(&j, to) == 0)
		job_adopt(w->rd, w->c, name);	/* its supervisor gone */
	job_close(&j);
	return 0;
}

void
job_supersede(struct rundir *rd, struct conf *c, const char *branch,
    const char *delivery, const char *newest, int running_too)
{
	struct pick p = { rd, c, NULL, branch, JOB_SUPERSEDED, 0 };
	struct sweep w = { rd, c, branch, delivery, newest, running_too };
	char ids[QUEUE_MAX_SLOTS][JOB_ID_MAX], err[512];
	struct job j;
	int i, n;

	if (c->backend == BACKEND_SLURM) {
		if (dir_each(rd->fd, sweep_one, &w) == -1)
			fprintf(stderr, "swift-webhook: supersede: %s: %s\n",
			    rd->path, strerror(errno));
		return;
	}
	if (queue_remove(rd, choose, picked, &p, err, sizeof(err)) !=
	    QUEUE_OK)
		fprintf(stderr, "swift-webhook: supersede: %s\n", err);
	if (!running_too)
		return;
	n = slots_running(rd, c, ids, QUEUE_MAX_SLOTS);
	for (i = 0; i < n; i++) {
		if (strcmp(ids[i], newest) >= 0 || job_read(rd, ids[i], &j) ==
		    -1)
			continue;
		if (j.branch != NULL && strcmp(j.branch, branch) == 0 &&
		    (j.delivery == NULL || strcmp(j.delivery, delivery) != 0) &&
		    (j.state == JOB_RUNNING || j.state == JOB_PREPARING))
			job_request_stop(&j, JOB_CANCELLED);
		job_close(&j);
	}
}

/*
 * Stops a job whose supervisor is gone: its trainer's group, if the PID
 * still names the trainer (bounded waits), then the record; its slots
 * then go to the next queued job.
 */
static int
cancel_lost(struct rundir *rd, struct conf *c, struct job *j)
{
	struct spawn sp;
	char err[512];
	int i, rc;

	/* A supervisor that turns up after all (a kick under way) stops. */
	job_request_stop(j, JOB_CANCELLED);
	if (j->pid > 0 && proc_starttime(j->pid) == j->pid_start) {
		kill(-j->pid, SIGTERM);
		for (i = 0; i < c->kill_grace * 10 && kill(-j->pid, 0) == 0;
		    i++)
			usleep(100000);
		kill_group(j->pid);
	}
	if (job_set_state(j, JOB_CANCELLED) == -1)
		return -1;
	j->finished = time(NULL);
	if ((rc = job_write(j)) == 0) {
		job_ended(rd, j);
		if (job_valid(j, err, sizeof(err)) == 0 &&
		    spawn_prepare(&sp, j, c) == 0) {
			job_tell(rd, c, j, &sp);	/* its supervisor cannot */
			spawn_free(&sp);
		}
	}
	job_kick(rd, c);
	return rc;
}

int
job_adopt(struct rundir *rd, struct conf *c, const char *id)
{
	struct slots none = { .n = 0 };
	struct spawn sp;
	struct job j;
	char err[512];
	int rc = -1;

	if (c->backend != BACKEND_SLURM || job_read(rd, id, &j) == -1)
		return 0;
	if (j.slurm_job_id > 0 && j.state != NULL &&
	    !job_state_final(j.state) && !(j.supervisor > 0 &&
	    proc_starttime(j.supervisor) == j.supervisor_start) &&
	    job_valid(&j, err, sizeof(err)) == 0 &&
	    spawn_prepare(&sp, &j, c) == 0) {
		j.argv = sp.argv;
		sp.adopt = 1;
		if ((rc = spawn_start(&sp, rd, &j, c, &none, err,
		    sizeof(err))) == -1)
			fprintf(stderr, "swift-webhook: job %s: a new "
			    "supervisor: %s\n", id, err);
		j.argv = NULL;
		spawn_free(&sp);
	}
	job_close(&j);
	return rc == 0;
}

/* Waits until job id has ended, at most kill_grace + 30 s. */
static enum cancel_result
await_end(struct rundir *rd, struct conf *c, const char *id, char state[16],
    char *err, size_t errlen)
{
	struct job j;
	int i, lost;

	for (i = 0; i < (c->kill_grace + 30) * 10; i++) {
		if (job_read(rd, id, &j) == -1)
			break;
		lost = job_lost(rd, &j);
		snprintf(state, 16, "%s", lost ? JOB_LOST : j.state ?
		    j.state : "?");
		job_close(&j);
		if (job_state_final(state) || lost)
			return strcmp(state, JOB_CANCELLED) == 0 ?
			    CANCEL_DONE : CANCEL_ENDED;
		usleep(100000);
	}
	snprintf(err, errlen, "%s: asked to stop, still not ended", id);
	return CANCEL_ERROR;
}

enum cancel_result
job_cancel(struct rundir *rd, struct conf *c, const char *id, char state[16],
    char *err, size_t errlen)
{
	struct job j;
	int r, lost;

	if (job_read(rd, id, &j) == -1) {
		snprintf(err, errlen, "no job %s in %s%s%s", id, rd->path,
		    errno == ENOENT ? "" : ": ", errno == ENOENT ? "" :
		    strerror(errno));
		return CANCEL_ERROR;
	}
	lost = job_lost(rd, &j);
	snprintf(state, 16, "%s", j.state ? j.state : "");
	if (j.state == NULL || job_state_final(j.state)) {
		snprintf(err, errlen, "job %s already ended (%s)", id,
		    j.state ? j.state : "no state recorded");
		job_close(&j);
		return CANCEL_ENDED;
	}
	if (j.state == JOB_QUEUED) {
		if ((r = job_end_queued(rd, c, id, JOB_CANCELLED, err,
		    errlen)) == -1) {
			job_close(&j);
			return CANCEL_ERROR;
		}
		if (r == 1) {
			snprintf(state, 16, "%s", JOB_CANCELLED);
			job_close(&j);
			return CANCEL_DONE;
		}
	}
	if (lost) {
		r = cancel_lost(rd, c, &j);
		job_close(&j);
		if (r == -1) {
			snprintf(err, errlen, "%s: %s", id, strerror(errno));
			return CANCEL_ERROR;
		}
		snprintf(state, 16, "%s", JOB_CANCELLED);
		return CANCEL_DONE;
	}
	r = job_request_stop(&j, JOB_CANCELLED);
	job_close(&j);
	if (r == -1) {
		snprintf(err, errlen, "%s/%s/stop: %s", rd->path, id,
		    strerror(errno));
		return CANCEL_ERROR;
	}
	job_adopt(rd, c, id);	/* Slurm's, its supervisor gone: scancel */
	return await_end(rd, c, id, state, err, errlen);
}
