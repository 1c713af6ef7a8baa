/*
 * lifecycle.c: start, kick, cancel, supersede, adopt, and the window
 * waiter.  See lifecycle.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "deploy.h"
#include "lifecycle.h"
#include "queue.h"
#include "schedule.h"
#include "supervise.h"
#include "util.h"

/* A job started under the queue lock, whose report comes after it. */
struct started {
	struct job		 j;
	struct conf		*c;		/* its repository's */
	struct supervisor	 sv;
	struct started		*next;
};

/*
 * What the queue's start callback needs.  It only forks, under the
 * queue lock; kick_wait waits for the reports once the lock is let go,
 * so one trainer's start does not hold up every other delivery.
 */
struct kick {
	struct rundir		*rd;
	struct conf		*c;
	struct job		*mine;	/* the job being submitted, or NULL */
	struct supervisor	*mine_sv;
	int			 mine_rc;	/* 1: not started, 0: started,
						   -1; 2: forked, its report
						   to come */
	char			*err;
	size_t			 errlen;
	struct started		*others;	/* forked, reports to come */
};

/*
 * A dequeued job that cannot start (its record says no job a delivery
 * would make, or it cannot be prepared) ends failed, said in the log of
 * whoever kicked, with its claim and its run of the day given back.
 */
static void
start_refused(struct rundir *rd, struct conf *c, struct job *j,
    const char *why)
{
	fprintf(stderr, "swift-webhook: job %s: not started: %s\n", j->id,
	    why);
	if (job_set_state(j, JOB_FAILED) == -1)
		return;
	snprintf(j->error, sizeof(j->error), "not started: %s", why);
	j->finished = time(NULL);
	/* Given back first: whoever sees it failed finds its claim free. */
	if (j->sha != NULL && j->config != NULL)
		claim_release(rd, conf_scope(c), j->sha, j->config, j->id);
	if (supervise_record_end(rd, j) == -1)
		fprintf(stderr, "swift-webhook: job %s: write job.json: %s\n",
		    j->id, strerror(errno));
}

/* Forks the supervisor of a waiting job that is not the caller's. */
static int
start_other(struct kick *k, const char *id, struct slots *s)
{
	struct started *o;
	struct conf *c;
	char err[512];
	int e;

	if ((o = calloc(1, sizeof(*o))) == NULL) {
		fprintf(stderr, "swift-webhook: job %s: not started: out of "
		    "memory\n", id);
		slots_release(s);
		return -1;
	}
	if (job_read(k->rd, id, &o->j) == -1) {
		/*
		 * No record to end: what it held is given back all the same,
		 * before it is said (whoever reads that finds them free).
		 */
		e = errno;
		claim_release_job(k->rd, id);
		sched_ticket_forget(k->rd, id);
		fprintf(stderr, "swift-webhook: job %s: not started: "
		    "%s/%s/job.json: %s\n", id, k->rd->path, id, strerror(e));
		goto out;
	}
	if (o->j.state != JOB_QUEUED) {
		if (!job_state_final(o->j.state))
			fprintf(stderr, "swift-webhook: job %s: not started: "
			    "it is %s, not queued\n", id, o->j.state ?
			    o->j.state : "in no state");
		goto out;
	}
	/* Its repository's configuration, whoever kicked. */
	c = conf_job(k->c, o->j.repository);
	if (job_valid(&o->j, err, sizeof(err)) == -1) {
		start_refused(k->rd, c, &o->j, err);
		goto out;
	}
	if (conf_section(c, o->j.repository) == NULL) {
		snprintf(err, sizeof(err), "repository %s is no longer "
		    "configured", o->j.repository ? o->j.repository : "(none)");
		start_refused(k->rd, c, &o->j, err);
		goto out;
	}
	if (trainer_prepare(&o->sv.t, &o->j, c) == -1) {
		start_refused(k->rd, c, &o->j, "out of memory");
		goto out;
	}
	o->j.argv = o->sv.t.argv;
	o->sv.kick = lifecycle_kick;
	o->c = c;
	if (supervise_fork(&o->sv, k->rd, &o->j, c, s, err,
	    sizeof(err)) == -1) {
		/* It never ran: a redelivery may start it. */
		claim_release(k->rd, conf_scope(c), o->j.sha, o->j.config, id);
		fprintf(stderr, "swift-webhook: job %s: %s\n", id, err);
		trainer_free(&o->sv.t);
		job_close(&o->j);
		free(o);
		return -1;
	}
	o->next = k->others;
	k->others = o;
	return 0;
out:
	slots_release(s);
	job_close(&o->j);
	free(o);
	return -1;
}

/* queue_start_fn: forks the supervisor of waiting job id on slots s. */
static int
start_one(void *arg, const char *id, struct slots *s)
{
	struct kick *k = arg;

	if (k->mine == NULL || strcmp(id, k->mine->id) != 0)
		return start_other(k, id, s);
	if (supervise_fork(k->mine_sv, k->rd, k->mine, k->c, s, k->err,
	    k->errlen) == -1) {
		k->mine_rc = -1;
		claim_release(k->rd, conf_scope(k->c), k->mine->sha,
		    k->mine->config, id);
		return -1;
	}
	k->mine_rc = 2;
	return 0;
}

/*
 * The configuration waiting job id follows: its repository's section
 * (read from its job.json), with sections; NULL: the kicker's.
 */
static const struct conf *
job_conf(void *arg, const char *id)
{
	struct kick *k = arg;
	const cJSON *r;
	struct conf *c = NULL;
	cJSON *o;

	if (conf_file(k->c)->nsections == 0)
		return NULL;
	if ((o = job_read_json(k->rd, id)) != NULL &&
	    cJSON_IsString(r = cJSON_GetObjectItemCaseSensitive(o,
	    "repository")))
		c = conf_job(k->c, r->valuestring);
	cJSON_Delete(o);
	return c;
}

/* After the queue lock: the reports of what start_one forked. */
static void
kick_wait(struct kick *k)
{
	struct started *o;
	char err[512];

	if (k->mine_rc == 2) {
		k->mine_rc = supervise_wait(k->mine_sv, k->rd, k->mine, k->err,
		    k->errlen);
		if (k->mine_rc == -1)
			claim_release(k->rd, conf_scope(k->c), k->mine->sha,
			    k->mine->config, k->mine->id);
	}
	while ((o = k->others) != NULL) {
		k->others = o->next;
		if (supervise_wait(&o->sv, k->rd, &o->j, err,
		    sizeof(err)) == -1) {
			claim_release(k->rd, conf_scope(o->c), o->j.sha,
			    o->j.config, o->j.id);
			fprintf(stderr, "swift-webhook: job %s: %s\n", o->j.id,
			    err);
		}
		trainer_free(&o->sv.t);
		job_close(&o->j);
		free(o);
	}
}

void
lifecycle_kick(struct rundir *rd, struct conf *c)
{
	struct kick k = { rd, c, NULL, NULL, 1, NULL, 0, NULL };
	char err[512];

	if (queue_kick(rd, c, &(struct queue_start){ start_one, job_conf, &k },
	    err, sizeof(err)) != QUEUE_OK)
		fprintf(stderr, "swift-webhook: queue: %s\n", err);
	kick_wait(&k);
	lifecycle_wait_window(rd, c);
}

/*
 * Has j's state told, detached: for a job that waits or has ended
 * without a supervisor of its own, a short-lived one only posts its
 * commit status and (once ended) runs notify.
 */
static void
tell(struct rundir *rd, struct conf *c, struct job *j, struct supervisor *sv)
{
	struct slots none = { .n = 0 };
	char err[512];

	if (job_state_final(j->state) ? c->notify.n == 0 &&
	    c->github_token_file == NULL : c->github_token_file == NULL)
		return;
	sv->tell_only = 1;
	if (supervise_start(sv, rd, j, c, &none, err, sizeof(err)) == -1)
		fprintf(stderr, "swift-webhook: job %s: notify: %s\n", j->id,
		    err);
	sv->tell_only = 0;
}

/* tell, for a job read back from job.json: its values checked first. */
static void
tell_read(struct rundir *rd, struct conf *c, struct job *j)
{
	struct supervisor sv;
	char err[512];

	memset(&sv, 0, sizeof(sv));
	c = conf_job(c, j->repository);
	if (job_valid(j, err, sizeof(err)) == 0 &&
	    trainer_prepare(&sv.t, j, c) == 0) {
		tell(rd, c, j, &sv);
		trainer_free(&sv.t);
	}
}

/* Takes a run of the day for j.  Returns JOB_STARTED, or why not. */
static enum job_result
take_ticket(struct rundir *rd, struct conf *c, struct job *j, char *err,
    size_t errlen)
{
	/*
	 * Counted per configured repository (its section, with sections),
	 * never per the name a body gives (a signed body may give a new one
	 * each time).
	 */
	switch (sched_ticket_take(rd, c, conf_scope(c) != NULL ?
	    conf_scope(c) : c->repository, j->id, j->ticket, err, errlen)) {
	case TICKET_OK:
		break;
	case TICKET_NONE:
		return JOB_OVER_BUDGET;
	case TICKET_ERROR:
		return JOB_ERROR;
	}
	if (j->ticket[0] != '\0' && job_write(j) == -1) {
		snprintf(err, errlen, "write %s/job.json: %s", j->dir,
		    strerror(errno));
		return JOB_ERROR;
	}
	return JOB_STARTED;
}

/* backend = slurm: Slurm queues the job; its supervisor submits it. */
static enum job_result
start_slurm(struct rundir *rd, struct conf *c, struct job *j, int claim,
    struct supervisor *sv, char *err, size_t errlen)
{
	struct slots none = { .n = 0 };

	if (supervise_start(sv, rd, j, c, &none, err, errlen) == -1) {
		if (claim)
			claim_release(rd, conf_scope(c), j->sha, j->config,
			    j->id);
		return JOB_ERROR;	/* recorded failed */
	}
	if (!claim)
		claim_point(rd, conf_scope(c), j->sha, j->config, j->id);
	return JOB_STARTED;
}

enum job_result
lifecycle_start(struct rundir *rd, struct conf *c, struct job *j, int claim,
    char other[JOB_ID_MAX], char *err, size_t errlen)
{
	struct kick k = { rd, c, j, NULL, 1, err, errlen, NULL };
	struct supervisor sv;
	enum job_result rc = JOB_ERROR;
	enum queue_result qr;

	memset(&sv, 0, sizeof(sv));
	sv.kick = lifecycle_kick;
	if (job_create(rd, j, err, errlen) == -1)
		return JOB_ERROR;
	if (trainer_prepare(&sv.t, j, c) == -1) {
		snprintf(err, errlen, "out of memory");
		job_discard(rd, j);
		return JOB_ERROR;
	}
	k.mine_sv = &sv;
	j->argv = sv.t.argv;
	/*
	 * Refused now, not when its turn comes: a trainer that is not there
	 * (on Slurm, the trainer is the compute nodes' to have).
	 */
	if (c->backend == BACKEND_LOCAL && trainer_check(&sv.t, c, err,
	    errlen) == -1) {
		snprintf(j->error, sizeof(j->error), "%s", err);
		job_set_state(j, JOB_FAILED);
		j->finished = time(NULL);
		supervise_record_end(rd, j);
		tell(rd, c, j, &sv);
		goto out;
	}
	if (job_write(j) == -1) {
		snprintf(err, errlen, "write %s/job.json: %s", j->dir,
		    strerror(errno));
		goto discard;
	}
	/* Live (rundir.h) until its end: what tick and /metrics look at. */
	if (rundir_live(rd, j->id, 1) == -1) {
		snprintf(err, errlen, "%s/.live/%s: %s", rd->path, j->id,
		    strerror(errno));
		goto discard;
	}
	if (claim) {
		switch (claim_try(rd, conf_scope(c), j->sha, j->config, j->id,
		    other, err, errlen)) {
		case CLAIM_OK:
			break;
		case CLAIM_TAKEN:
			rc = JOB_DUPLICATE;
			goto discard;
		case CLAIM_ERROR:
			goto discard;
		}
		/* After the claim: a duplicate takes none of the day's runs. */
		if ((rc = take_ticket(rd, c, j, err, errlen)) != JOB_STARTED)
			goto release;
		rc = JOB_ERROR;
	}
	if (c->backend == BACKEND_SLURM) {
		rc = start_slurm(rd, c, j, claim, &sv, err, errlen);
		goto out;
	}
	qr = queue_submit(rd, c, j->id, &(struct queue_start){ start_one,
	    job_conf, &k }, err, errlen);
	kick_wait(&k);
	switch (qr) {
	case QUEUE_OK:
		if (k.mine_rc == -1)
			goto out;	/* recorded failed by its supervisor */
		if (!claim)
			claim_point(rd, conf_scope(c), j->sha, j->config,
			    j->id);
		rc = JOB_STARTED;
		if (k.mine_rc == 1) {
			j->state = JOB_QUEUED;
			lifecycle_wait_window(rd, c);
			tell(rd, c, j, &sv);
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
		claim_release(rd, conf_scope(c), j->sha, j->config, j->id);
discard:
	sched_ticket_return(rd, j->ticket, j->id);
	job_discard(rd, j);
out:
	j->argv = NULL;
	trainer_free(&sv.t);
	return rc;
}

/*
 * Records a job taken out of the queue as ended (state), under its
 * writer lock, and has its notify run, detached.
 */
static void
end_recorded(struct rundir *rd, struct conf *c, const char *id,
    const char *state)
{
	struct job j;
	int lock;

	if (job_read(rd, id, &j) == -1)
		return;
	if ((lock = job_writer_lock(&j, CLAIMS_LOCK_WAIT)) == -1) {
		fprintf(stderr, "swift-webhook: job %s: supervisor.lock: %s\n",
		    id, strerror(errno));
		job_close(&j);
		return;
	}
	job_close(&j);
	if (job_read(rd, id, &j) == -1 || job_set_state(&j, state) == -1)
		goto out;
	j.finished = time(NULL);
	if (supervise_record_end(rd, &j) == -1) {
		fprintf(stderr, "swift-webhook: job %s: write job.json: %s\n",
		    id, strerror(errno));
		goto out;
	}
	close(lock);
	lock = -1;
	tell_read(rd, c, &j);
out:
	if (lock != -1)
		close(lock);
	job_close(&j);
}

/* Whether j is a job of c's repository (any, without sections). */
static int
ours(const struct conf *c, const struct job *j)
{
	return c->name == NULL || (j->repository != NULL &&
	    strcasecmp(j->repository, c->name) == 0);
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
		if (ours(p->c, &j) && j.branch != NULL &&
		    strcmp(j.branch, p->branch) == 0 && j.delivery != NULL) {
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
end_queued(struct rundir *rd, struct conf *c, const char *id,
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
	if (ours(w->c, &j) && j.branch != NULL && strcmp(j.branch,
	    w->branch) == 0 && (j.delivery == NULL || strcmp(j.delivery,
	    w->delivery) != 0))
		to = j.state == JOB_QUEUED ? JOB_SUPERSEDED : w->running_too &&
		    (j.state == JOB_RUNNING || j.state == JOB_PREPARING) ?
		    JOB_CANCELLED : NULL;
	if (to != NULL && job_request_stop(&j, to) == 0)
		lifecycle_adopt(w->rd, w->c, name);	/* its supervisor gone */
	job_close(&j);
	return 0;
}

void
lifecycle_supersede(struct rundir *rd, struct conf *c, const char *branch,
    const char *delivery, const char *newest, int running_too)
{
	struct pick p = { rd, c, NULL, branch, JOB_SUPERSEDED, 0 };
	struct sweep w = { rd, c, branch, delivery, newest, running_too };
	char ids[MAX_SLOTS][JOB_ID_MAX], err[512];
	struct job j;
	int i, n;

	if (c->backend == BACKEND_SLURM) {
		/* The jobs not ended: .live's, O(live), not every folder. */
		if (dir_each(rd->live != -1 ? rd->live : rd->fd, sweep_one,
		    &w) == -1)
			fprintf(stderr, "swift-webhook: supersede: %s: %s\n",
			    rd->path, strerror(errno));
		return;
	}
	if (queue_remove(rd, choose, picked, &p, err, sizeof(err)) !=
	    QUEUE_OK)
		fprintf(stderr, "swift-webhook: supersede: %s\n", err);
	if (!running_too)
		return;
	n = slots_running(rd, c, ids, MAX_SLOTS);
	for (i = 0; i < n; i++) {
		if (strcmp(ids[i], newest) >= 0 || job_read(rd, ids[i], &j) ==
		    -1)
			continue;
		if (ours(c, &j) && j.branch != NULL && strcmp(j.branch,
		    branch) == 0 && (j.delivery == NULL || strcmp(j.delivery,
		    delivery) != 0) &&
		    (j.state == JOB_RUNNING || j.state == JOB_PREPARING))
			job_request_stop(&j, JOB_CANCELLED);
		job_close(&j);
	}
}

/*
 * Stops a job whose supervisor is gone: under its writer lock (taken at
 * once, or a supervisor has turned up after all: 1, the caller asks it
 * to stop), its trainer's group if the PID still names the trainer
 * (bounded waits), then the record; its slots then go to the next queued
 * job.  Returns 0 (cancelled), 1 (not lost after all), 2 (it had ended),
 * or -1 (errno).
 */
static int
cancel_lost(struct rundir *rd, struct conf *c, const char *id)
{
	struct job j;
	int i, lock, rc;

	if (job_read(rd, id, &j) == -1)
		return -1;
	/* A supervisor holds it for its life; a look, for a moment. */
	if ((lock = job_writer_lock(&j, 0.2)) == -1) {
		rc = errno == ETIMEDOUT ? 1 : -1;
		job_close(&j);
		return rc;
	}
	job_close(&j);
	/* As it is now, under the lock: a supervisor may have ended it. */
	if (job_read(rd, id, &j) == -1) {
		close(lock);
		return -1;
	}
	if (job_state_final(j.state)) {
		close(lock);
		job_close(&j);
		return 2;
	}
	c = conf_job(c, j.repository);
	if (j.pid > 0 && proc_starttime(j.pid) == j.pid_start) {
		kill(-j.pid, SIGTERM);
		for (i = 0; i < c->kill_grace * 10 && kill(-j.pid, 0) == 0;
		    i++)
			usleep(100000);
		spawn_kill_group(j.pid);
	}
	if (job_set_state(&j, JOB_CANCELLED) == -1) {
		close(lock);
		job_close(&j);
		errno = EINVAL;
		return -1;
	}
	j.finished = time(NULL);
	rc = supervise_record_end(rd, &j);
	close(lock);
	if (rc == 0)
		tell_read(rd, c, &j);	/* its supervisor cannot */
	job_close(&j);
	lifecycle_kick(rd, c);
	return rc;
}

int
lifecycle_adopt(struct rundir *rd, struct conf *c, const char *id)
{
	struct slots none = { .n = 0 };
	struct supervisor sv;
	struct job j;
	char err[512];
	int rc = -1, need;

	/* A look by another user (root's jobs) writes nothing. */
	if (geteuid() != rd->uid || job_read(rd, id, &j) == -1)
		return 0;
	memset(&sv, 0, sizeof(sv));
	c = conf_job(c, j.repository);	/* its repository's */
	if (c->backend == BACKEND_SLURM && j.slurm_job_id > 0 &&
	    !job_state_final(j.state))
		need = j.state != NULL && !(j.supervisor > 0 &&
		    proc_starttime(j.supervisor) == j.supervisor_start);
	else
		need = job_adoptable(rd, &j);
	if (need && job_valid(&j, err, sizeof(err)) == 0 &&
	    trainer_prepare(&sv.t, &j, c) == 0) {
		j.argv = sv.t.argv;
		sv.adopt = 1;
		sv.kick = lifecycle_kick;
		if ((rc = supervise_start(&sv, rd, &j, c, &none, err,
		    sizeof(err))) == -1)
			fprintf(stderr, "swift-webhook: job %s: a new "
			    "supervisor: %s\n", id, err);
		j.argv = NULL;
		trainer_free(&sv.t);
	}
	job_close(&j);
	return rc == 0;
}

/* dir_each on .live: adopts what needs it. */
static int
tick_one(void *arg, const char *name)
{
	struct kick *k = arg;

	if (job_id_valid(name) && !queue_has(k->rd, name))
		lifecycle_adopt(k->rd, k->c, name);
	return 0;
}

void
lifecycle_tick(struct rundir *rd, struct conf *c, int every)
{
	struct kick k = { rd, c, NULL, NULL, 1, NULL, 0, NULL };
	struct timespec now[2];
	struct stat st;
	int fd;

	if (geteuid() != rd->uid)
		return;		/* a look by another user writes nothing */
	if (every > 0) {
		if ((fd = file_open_at(rd->fd, ".tick", O_RDWR | O_CREAT, 0600,
		    rd->uid)) == -1)
			return;
		/* One looker at a time, and once every few seconds. */
		if (flock(fd, LOCK_EX | LOCK_NB) == -1 || fstat(fd, &st) ==
		    -1 || (st.st_size > 0 && time(NULL) - st.st_mtime <
		    every && st.st_mtime <= time(NULL))) {
			close(fd);
			return;
		}
		clock_gettime(CLOCK_REALTIME, &now[0]);
		now[1] = now[0];
		if (st.st_size == 0)
			(void)!write(fd, "\n", 1);
		futimens(fd, now);
		close(fd);
	}
	if (rd->live != -1)
		dir_each(rd->live, tick_one, &k);
	if (c->backend == BACKEND_LOCAL)
		lifecycle_kick(rd, c);
	deploy_adopt(rd, c);
}

/*
 * Waits until job id has ended, at most kill_grace + 30 s; a job whose
 * supervisor is gone (before the stop was asked, or while it waited) is
 * stopped here (cancel_lost).
 */
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
		snprintf(state, 16, "%s", j.state ? j.state : "?");
		job_close(&j);
		if (job_state_final(state))
			return strcmp(state, JOB_CANCELLED) == 0 ?
			    CANCEL_DONE : CANCEL_ENDED;
		if (lost) {
			switch (cancel_lost(rd, c, id)) {
			case 0:
				snprintf(state, 16, "%s", JOB_CANCELLED);
				return CANCEL_DONE;
			case 1:		/* a supervisor after all: it stops */
			case 2:		/* it had ended: as recorded */
				break;
			default:
				snprintf(err, errlen, "%s: %s", id,
				    strerror(errno));
				return CANCEL_ERROR;
			}
			continue;
		}
		usleep(100000);
	}
	snprintf(err, errlen, "%s: asked to stop, still not ended", id);
	return CANCEL_ERROR;
}

enum cancel_result
lifecycle_cancel(struct rundir *rd, struct conf *c, const char *id,
    char state[16], char *err, size_t errlen)
{
	struct job j;
	int r;

	if (job_read(rd, id, &j) == -1) {
		snprintf(err, errlen, "no job %s in %s%s%s", id, rd->path,
		    errno == ENOENT ? "" : ": ", errno == ENOENT ? "" :
		    strerror(errno));
		return CANCEL_ERROR;
	}
	snprintf(state, 16, "%s", j.state ? j.state : "");
	c = conf_job(c, j.repository);	/* its kill_grace, its notify */
	if (j.state == NULL || job_state_final(j.state)) {
		snprintf(err, errlen, "job %s already ended (%s)", id,
		    j.state ? j.state : "no state recorded");
		job_close(&j);
		return CANCEL_ENDED;
	}
	if (j.state == JOB_QUEUED) {
		if ((r = end_queued(rd, c, id, JOB_CANCELLED, err,
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
	/* Its supervisor stops it; await_end, if it has none. */
	r = job_request_stop(&j, JOB_CANCELLED);
	job_close(&j);
	if (r == -1) {
		snprintf(err, errlen, "%s/%s/stop: %s", rd->path, id,
		    strerror(errno));
		return CANCEL_ERROR;
	}
	lifecycle_adopt(rd, c, id);	/* Slurm's, its supervisor gone */
	return await_end(rd, c, id, state, err, errlen);
}

/* What the window waiter takes with it. */
struct waiter {
	struct rundir	*rd;
	struct conf	*c;
	int		 lock;
};

/*
 * Which configurations of c's file (0: the file's, i + 1: section i) are
 * outside their windows at now, into closed[]; their count, and in
 * *next the earliest time one of them opens (-1: none known).
 */
static int
closed_now(struct conf *c, time_t now, unsigned char closed[MAX_SECTIONS +
    1], time_t *next)
{
	struct conf *s;
	time_t t;
	size_t i;
	int n = 0;

	c = conf_file(c);
	*next = -1;
	for (i = 0; i <= c->nsections; i++) {
		s = i == 0 ? c : &c->sections[i - 1];
		closed[i] = s->nwindows > 0 && !sched_open(s, now);
		if (!closed[i])
			continue;
		n++;
		if ((t = sched_next_open(s, now)) != -1 && (*next == -1 ||
		    t < *next))
			*next = t;
	}
	return n;
}

/*
 * The waiter, detached, holding the lock: sleeps until a window opens (a
 * minute at most, reading the config again each time, so that a changed
 * run_window counts), then kicks the queue; it goes on while another
 * repository's window is closed.  It ends when nothing waits; before
 * that it lets the lock go and looks once more, so that a job queued
 * meanwhile finds either it or the lock free for a new waiter.
 */
static void __attribute__((noreturn))
waiter(void *arg, int report)
{
	struct waiter *w = arg;
	struct rundir *rd = w->rd;
	struct conf *c = conf_file(w->c), nc;
	unsigned char was[MAX_SECTIONS + 1], is[MAX_SECTIONS + 1];
	char oldest[JOB_ID_MAX], err[512];
	time_t now, next;
	size_t i;
	int opened, n;

	(void)report;
	conf_wipe_secret(c);
	/* rd's path is c's run_dir, which a reload frees. */
	if ((rd->path = strdup(rd->path)) == NULL)
		_exit(1);
	closed_now(c, sched_now(), was, &next);
	for (;;) {
		if (queue_peek(rd, oldest) <= 0) {
			flock(w->lock, LOCK_UN);
			if (queue_peek(rd, oldest) <= 0 ||
			    flock(w->lock, LOCK_EX | LOCK_NB) == -1)
				_exit(0);
			continue;
		}
		now = sched_now();
		n = closed_now(c, now, is, &next);
		for (i = opened = 0; i <= c->nsections; i++)
			opened |= was[i] && !is[i];
		if (opened || n == 0)
			lifecycle_kick(rd, c);
		if (n == 0)
			_exit(0);
		memcpy(was, is, sizeof(was));
		sleep(next == -1 || next - now > 60 ? 60 :
		    (unsigned)(next - now));
		if (conf_load(&nc, c->path, err, sizeof(err)) == 0) {
			conf_wipe_secret(&nc);
			conf_free(c);
			*c = nc;
			conf_rebase(c);
			/*
			 * Sections may come and go: looked at afresh, as
			 * of before the sleep, so that a window that opened
			 * meanwhile is seen opening.
			 */
			closed_now(c, now, was, &next);
		}
	}
}

void
lifecycle_wait_window(struct rundir *rd, struct conf *c)
{
	struct waiter w = { rd, c, -1 };
	unsigned char closed[MAX_SECTIONS + 1];
	char oldest[JOB_ID_MAX], err[256];
	int keep[RUNDIR_FDS + 1], n;
	struct detach d;
	time_t next;

	if (closed_now(c, sched_now(), closed, &next) == 0 ||
	    queue_peek(rd, oldest) <= 0)
		return;
	if ((w.lock = file_open_at(rd->fd, ".window.lock", O_RDWR | O_CREAT,
	    0600, rd->uid)) == -1)
		return;
	/* The waiter holds the lock through the descriptor it inherits. */
	if (flock(w.lock, LOCK_EX | LOCK_NB) == 0) {
		n = rundir_fds(rd, keep);
		keep[n++] = w.lock;
		memset(&d, 0, sizeof(d));
		d.keep = keep;
		d.nkeep = n;
		d.out = -1;
		d.fn = waiter;
		d.arg = &w;
		if (spawn_detach(&d, err, sizeof(err)) == -1)
			fprintf(stderr, "swift-webhook: window waiter: %s\n",
			    err);
	}
	close(w.lock);
}
