/*
 * job.c: a job's life, from its creation to its start or its end in the
 * queue.  The supervisor's part (running, watching, recording the end)
 * is in spawn.c; the files in rundir.c; the queue in queue.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "filter.h"
#include "job.h"
#include "queue.h"
#include "spawn.h"

/* What the queue's start callback needs. */
struct kick {
	struct rundir	*rd;
	struct conf	*c;
	struct job	*mine;		/* the job being submitted, or NULL */
	struct spawn	*mine_sp;
	int		 mine_rc;	/* 1: not started, 0: started, -1 */
	char		*err;
	size_t		 errlen;
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

/* queue_start_fn: starts the waiting job id on the slots s. */
static int
start_one(void *arg, const char *id, struct slots *s)
{
	struct kick *k = arg;
	struct spawn sp, *spp = &sp;
	struct job other, *j = &other;
	char err[512];
	int rc = -1;

	if (k->mine != NULL && strcmp(id, k->mine->id) == 0) {
		j = k->mine;
		spp = k->mine_sp;
	} else {
		if (job_read(k->rd, id, &other) == -1) {
			slots_release(s);
			return -1;
		}
		if (other.state == NULL || strcmp(other.state, "queued") != 0 ||
		    job_valid(&other, err, sizeof(err)) == -1 ||
		    spawn_prepare(&sp, &other, k->c) == -1) {
			slots_release(s);
			job_close(&other);
			return -1;
		}
		other.argv = sp.argv;
	}
	rc = spawn_start(spp, k->rd, j, k->c, s, err, sizeof(err));
	if (rc == -1)
		job_unclaim(k->rd, j);	/* it never ran: a redelivery may */
	if (j == k->mine) {
		k->mine_rc = rc;
		if (rc == -1)
			snprintf(k->err, k->errlen, "%s", err);
		return rc;
	}
	if (rc == -1)
		fprintf(stderr, "swift-webhook: job %s: %s\n", id, err);
	spawn_free(&sp);
	job_close(&other);
	return rc;
}

void
job_kick(struct rundir *rd, struct conf *c)
{
	struct kick k = { rd, c, NULL, NULL, 1, NULL, 0 };
	char err[512];

	if (queue_kick(rd, c, start_one, &k, err, sizeof(err)) != QUEUE_OK)
		fprintf(stderr, "swift-webhook: queue: %s\n", err);
}

enum job_result
job_start(struct rundir *rd, struct conf *c, struct job *j, int claim,
    char other[JOB_ID_MAX], char *err, size_t errlen)
{
	struct kick k = { rd, c, j, NULL, 1, err, errlen };
	struct spawn sp;
	enum job_result rc = JOB_ERROR;

	if (job_create(rd, j, err, errlen) == -1)
		return JOB_ERROR;
	if (spawn_prepare(&sp, j, c) == -1) {
		snprintf(err, errlen, "out of memory");
		job_discard(rd, j);
		return JOB_ERROR;
	}
	k.mine_sp = &sp;
	j->argv = sp.argv;
	/* Refused now, not when its turn comes: a trainer that is not there. */
	if (spawn_check(&sp, err, errlen) == -1) {
		snprintf(j->error, sizeof(j->error), "%s", err);
		j->state = "failed";
		j->finished = time(NULL);
		job_write(j);
		goto out;
	}
	if (job_write(j) == -1) {
		snprintf(err, errlen, "write %s/job.json: %s", j->dir,
		    strerror(errno));
		goto discard;
	}
	if (claim) {
		switch (job_claim(rd, j, other, err, errlen)) {
		case CLAIM_OK:
			break;
		case CLAIM_TAKEN:
			rc = JOB_DUPLICATE;
			goto discard;
		case CLAIM_ERROR:
			goto discard;
		}
	}
	switch (queue_submit(rd, c, j->id, start_one, &k, err, errlen)) {
	case QUEUE_OK:
		if (k.mine_rc == -1)
			goto out;	/* recorded failed by its supervisor */
		if (k.mine_rc == 1)
			j->state = "queued";
		if (!claim)
			job_claim_take(rd, j);
		rc = JOB_STARTED;
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
	if (claim)
		job_unclaim(rd, j);
discard:
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
	struct slots none = { .n = 0 };
	struct spawn sp;
	struct job j;
	char err[512];

	if (job_read(rd, id, &j) == -1)
		return;
	j.state = state;
	j.finished = time(NULL);
	if (job_write(&j) == -1)
		fprintf(stderr, "swift-webhook: job %s: write job.json: %s\n",
		    id, strerror(errno));
	else if (c->notify.n > 0 && job_valid(&j, err, sizeof(err)) == 0 &&
	    spawn_prepare(&sp, &j, c) == 0) {
		if (spawn_start(&sp, rd, &j, c, &none, err, sizeof(err)) == -1)
			fprintf(stderr, "swift-webhook: job %s: notify: %s\n",
			    id, err);
		spawn_free(&sp);
	}
	job_close(&j);
}

struct pick {
	struct rundir	*rd;
	struct conf	*c;
	const char	*id;		/* end this one (cancel) */
	const char	*branch;	/* or these (supersede) */
	const char	*delivery;
	const char	*newest;
	const char	*state;
	int		 n;
};

/* Whether waiting job id is one that p ends. */
static int
pick(void *arg, const char *id)
{
	struct pick *p = arg;
	struct job j;
	int hit;

	if (p->id != NULL)
		return strcmp(id, p->id) == 0;
	if (strcmp(id, p->newest) >= 0 || job_read(p->rd, id, &j) == -1)
		return 0;
	hit = j.branch != NULL && strcmp(j.branch, p->branch) == 0 &&
	    (j.delivery == NULL || strcmp(j.delivery, p->delivery) != 0);
	job_close(&j);
	return hit;
}

static void
picked(void *arg, const char *id)
{
	struct pick *p = arg;

	end_recorded(p->rd, p->c, id, p->state);
	p->n++;
}

int
job_end_queued(struct rundir *rd, struct conf *c, const char *id,
    const char *state, char *err, size_t errlen)
{
	struct pick p = { rd, c, id, NULL, NULL, NULL, state, 0 };

	if (queue_remove(rd, pick, picked, &p, err, errlen) != QUEUE_OK)
		return -1;
	return p.n > 0;
}

void
job_supersede(struct rundir *rd, struct conf *c, const char *branch,
    const char *delivery, const char *newest, int running_too)
{
	struct pick p = { rd, c, NULL, branch, delivery, newest, "superseded",
	    0 };
	char ids[QUEUE_MAX_SLOTS][JOB_ID_MAX], err[512];
	struct job j;
	int i, n;

	if (queue_remove(rd, pick, picked, &p, err, sizeof(err)) != QUEUE_OK)
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
		    j.state != NULL && strcmp(j.state, "running") == 0)
			job_request_stop(&j, "cancelled");
		job_close(&j);
	}
}
