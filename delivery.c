/*
 * delivery.c: verify, then parse, then filter, then start.  Nothing of the
 * body is looked at before its signature has been checked.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "delivery.h"
#include "filter.h"
#include "job.h"
#include "lifecycle.h"
#include "rundir.h"
#include "schedule.h"
#include "sig.h"
#include "spawn.h"
#include "trainer.h"
#include "util.h"

const char *
http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 202: return "Accepted";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	}
	return "Unknown";
}

/* Copies s into dst for the log: printable ASCII only, cut to size. */
static void
clean(char *dst, size_t size, const char *s)
{
	size_t i;

	if (s == NULL)
		s = "-";
	for (i = 0; i + 1 < size && s[i] != '\0'; i++)
		dst[i] = s[i] > 0x20 && s[i] < 0x7f ? s[i] : '?';
	dst[i] = '\0';
}

/*
 * Sets the answer.  The client gets word and, if not NULL, reason; the
 * log gets logreason (or reason).
 */
static void
answer(struct reply *rp, int status, const char *word, const char *reason,
    const char *logfmt, ...)
{
	va_list ap;

	rp->status = status;
	/* The log line's words are /metrics' (metrics.h). */
	snprintf(rp->decision, sizeof(rp->decision), "%s", strcmp(word,
	    "ok") == 0 ? "ping" : status == 503 ? "busy" : status >= 500 ?
	    "error" : status >= 400 ? "rejected" : word);
	cJSON_AddStringToObject(rp->json, "status", word);
	if (reason != NULL)
		cJSON_AddStringToObject(rp->json, "reason", reason);
	if (logfmt != NULL) {
		va_start(ap, logfmt);
		vsnprintf(rp->reason, sizeof(rp->reason), logfmt, ap);
		va_end(ap);
	} else
		snprintf(rp->reason, sizeof(rp->reason), "%s",
		    reason ? reason : "");
}

/* "application/json; charset=utf-8" is "application/json". */
static int
type_is(const char *ct, const char *want)
{
	size_t n = strlen(want);

	if (ct == NULL || strncasecmp(ct, want, n) != 0)
		return 0;
	ct += n;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return *ct == '\0' || *ct == ';';
}

enum body_result { BODY_OK, BODY_SHORT, BODY_TOO_LARGE };

/* A body of this many bytes or more, of known length, is mapped. */
#define BODY_MAP_MIN	(1 << 20)

/* Frees a body read_body gave (mapped: what it said). */
static void
body_free(char *body, size_t mapped)
{
	if (mapped != 0)
		huge_unmap(body, mapped);
	else
		free(body);
}

/*
 * Reads the body, at most max bytes, into *out (to body_free with
 * *mapped) and *len.  A large body of known length goes into huge pages
 * of its own (util.h).  BODY_SHORT: a read error, or fewer bytes than
 * Content-Length said.
 */
static enum body_result
read_body(const struct request *rq, size_t want, int known, size_t max,
    char **out, size_t *lenp, size_t *mapped)
{
	size_t len = 0, cap = known ? want + 1 : 65536;
	char *buf, *nb;
	ssize_t n;

	*mapped = 0;
	if (known && cap >= BODY_MAP_MIN)
		buf = huge_map(cap, mapped);
	else
		buf = malloc(cap);
	if (buf == NULL)
		return BODY_SHORT;
	for (;;) {
		if (len == cap - 1) {
			if (known || cap > max + 1)
				break;
			cap = cap * 2 > max + 2 ? max + 2 : cap * 2;
			if ((nb = realloc(buf, cap)) == NULL)
				goto err;
			buf = nb;
		}
		if ((n = rq->read(rq->ctx, buf + len, cap - 1 - len)) == -1)
			goto err;
		if (n == 0)
			break;
		len += n;
		if (len > max) {
			body_free(buf, *mapped);
			return BODY_TOO_LARGE;
		}
	}
	if (known && len != want)
		goto err;
	buf[len] = '\0';
	*out = buf;
	*lenp = len;
	return BODY_OK;
err:
	body_free(buf, *mapped);
	return BODY_SHORT;
}

static cJSON *
job_json(const char *id, const char *config, const char *state, long pid)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "config", config);
	if (state != NULL)
		cJSON_AddStringToObject(o, "state", state);
	if (pid > 0)
		cJSON_AddNumberToObject(o, "pid", (double)pid);
	return o;
}

static void
note_job(struct reply *rp, const char *id)
{
	size_t n = strlen(rp->jobs);

	snprintf(rp->jobs + n, sizeof(rp->jobs) - n, "%s%s", n ? "," : "",
	    id);
}

/*
 * The latest job of (sha, config) as it stands now (a retry may have
 * followed the one first started), added to jobs.
 */
static void
add_latest(struct rundir *rd, const char *scope, cJSON *jobs,
    const char *sha, const char *config, const char *id, struct reply *rp)
{
	char latest[JOB_ID_MAX];
	const cJSON *st;
	cJSON *o;

	if (sha == NULL || claim_latest(rd, scope, sha, config, latest) == -1)
		snprintf(latest, sizeof(latest), "%s", id);
	o = job_read_json(rd, latest);
	st = cJSON_GetObjectItemCaseSensitive(o, "state");
	cJSON_AddItemToArray(jobs, job_json(latest, config,
	    cJSON_IsString(st) ? st->valuestring : NULL, 0));
	cJSON_Delete(o);
	note_job(rp, latest);
}

/* A delivery seen before: its jobs, each as the latest of its pair. */
static void
answer_redelivery(struct rundir *rd, const char *scope, cJSON *rec,
    struct reply *rp)
{
	const cJSON *sha, *jobs, *job, *id, *config;
	cJSON *out = cJSON_CreateArray();

	sha = cJSON_GetObjectItemCaseSensitive(rec, "sha");
	jobs = cJSON_IsArray(rec) ? rec :	/* the older format */
	    cJSON_GetObjectItemCaseSensitive(rec, "jobs");
	cJSON_ArrayForEach(job, jobs) {
		id = cJSON_GetObjectItemCaseSensitive(job, "id");
		config = cJSON_GetObjectItemCaseSensitive(job, "config");
		if (cJSON_IsString(id) && cJSON_IsString(config) &&
		    job_id_valid(id->valuestring))
			add_latest(rd, scope, out, cJSON_IsString(sha) ?
			    sha->valuestring : NULL, config->valuestring,
			    id->valuestring, rp);
	}
	answer(rp, 200, "duplicate", "delivery already handled", NULL);
	cJSON_AddItemToObject(rp->json, "jobs", out);
}

/* What running a push's configs came to. */
struct runs {
	cJSON		*started;	/* [{id, config, state, pid}] */
	cJSON		*dups;		/* the latest job of each duplicate */
	enum job_result	 failure;	/* JOB_STARTED if none */
	size_t		 tried;		/* configs tried, the failed one too */
	char		 err[512];
	char		 newest[JOB_ID_MAX];	/* the first job started */
};

/* Starts one job per config, until one fails. */
/* A new job's fields from the delivery and push, for config. */
static void
job_of_push(struct job *j, const struct request *rq, const struct push *p,
    const char *config)
{
	job_init(j);
	j->delivery = rq->delivery;
	j->event = rq->event;
	j->repository = p->repository;
	j->repository_url = p->repository_url;
	memcpy(j->commit_title, p->commit_title, sizeof(j->commit_title));
	j->ref = p->ref;
	j->branch = p->branch;
	j->sha = p->after;
	j->config = config;
}

static void
run_configs(struct rundir *rd, struct conf *c, const struct request *rq,
    const struct push *p, char **configs, size_t n, struct runs *r,
    struct reply *rp)
{
	char other[JOB_ID_MAX];
	enum job_result res;
	struct job j;
	size_t i;

	for (i = 0; i < n; i++) {
		job_of_push(&j, rq, p, configs[i]);
		r->tried = i + 1;
		res = lifecycle_start(rd, c, &j, 1, other, r->err,
		    sizeof(r->err));
		if (res == JOB_DUPLICATE)
			add_latest(rd, conf_scope(c), r->dups, p->after,
			    configs[i], other, rp);
		else if (res == JOB_STARTED) {
			cJSON_AddItemToArray(r->started, job_json(j.id,
			    configs[i], j.state, j.pid));
			note_job(rp, j.id);
			if (r->newest[0] == '\0')
				snprintf(r->newest, sizeof(r->newest), "%s",
				    j.id);
		} else if (j.id[0] != '\0' && res == JOB_ERROR)
			note_job(rp, j.id);
		job_close(&j);
		if (res != JOB_STARTED && res != JOB_DUPLICATE) {
			r->failure = res;
			return;
		}
	}
}

/* Records what the delivery started: {sha, jobs}. */
static void
record(struct rundir *rd, const struct request *rq, const struct push *p,
    struct reply *rp)
{
	cJSON *rec = cJSON_CreateObject();
	char *s = NULL;

	cJSON_AddStringToObject(rec, "sha", p->after);
	cJSON_AddItemReferenceToObject(rec, "jobs",
	    cJSON_GetObjectItemCaseSensitive(rp->json, "jobs"));
	if ((s = cJSON_PrintUnformatted(rec)) == NULL ||
	    delivery_record(rd, rq->delivery, s) == -1)
		snprintf(rp->reason + strlen(rp->reason), sizeof(rp->reason) -
		    strlen(rp->reason), "; delivery not recorded: %s",
		    strerror(errno));
	free(s);
	cJSON_Delete(rec);
}

/*
 * A dry run of a push that the filter lets through: the window and
 * max_runs_per_push as a delivery would see them, then for each run its
 * config, argv, the environment it adds to the server's allow-listed one,
 * its working and output folders, into rp ("would_start").  The run
 * directory is not looked at: duplicates, budgets and the queue are not
 * known.
 */
static void
dry_run(struct conf *c, const struct request *rq, const struct push *p,
    const struct selection *sel, struct reply *rp)
{
	struct strv base = { NULL, 0 };
	struct trainer t;
	struct job j;
	cJSON *runs, *o, *a;
	char more[256] = "";
	size_t i, k, n = sel->n;

	if (c->window_skip && !sched_open(c, sched_now())) {
		answer(rp, 200, "ignored", "outside run_window; window_action "
		    "is skip", NULL);
		return;
	}
	if (n > (size_t)c->max_runs_per_push) {
		n = (size_t)c->max_runs_per_push;
		snprintf(more, sizeof(more), "; %zu config(s) changed, "
		    "max_runs_per_push is %ld: the rest would not start",
		    sel->n, c->max_runs_per_push);
	}
	if (spawn_base_env(&base) == -1) {
		answer(rp, 500, "error", "out of memory", NULL);
		return;
	}
	runs = cJSON_CreateArray();
	for (i = 0; i < n; i++) {
		job_of_push(&j, rq, p, sel->configs[i]);
		snprintf(j.id, sizeof(j.id), "DRY-RUN");
		snprintf(j.dir, sizeof(j.dir), "%s/DRY-RUN", c->run_dir);
		if (trainer_prepare(&t, &j, c) == -1)
			continue;
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "config", sel->configs[i]);
		a = cJSON_AddArrayToObject(o, "argv");
		for (k = 0; t.argv[k] != NULL; k++)
			cJSON_AddItemToArray(a, cJSON_CreateString(t.argv[k]));
		/* What the run adds to (or sets over) the server's. */
		a = cJSON_AddArrayToObject(o, "env");
		for (k = 0; t.envp[k] != NULL; k++)
			if (!strv_has(&base, t.envp[k]))
				cJSON_AddItemToArray(a,
				    cJSON_CreateString(t.envp[k]));
		cJSON_AddStringToObject(o, "cwd", c->repository != NULL ?
		    "(the job's checkout of the pushed commit)" : t.cwd);
		cJSON_AddStringToObject(o, "output_dir", t.output_dir);
		cJSON_AddItemToArray(runs, o);
		trainer_free(&t);
	}
	strv_free(&base);
	answer(rp, 202, "started", NULL, "dry run: %zu run(s) would start%s",
	    n, more);
	cJSON_AddStringToObject(rp->json, "reason", rp->reason);
	cJSON_AddItemToObject(rp->json, "would_start", runs);
	cJSON_AddStringToObject(rp->json, "not_checked", "duplicates, "
	    "max_runs_per_day, the queue (the run directory is not looked "
	    "at)");
}

/*
 * Whether the configuration of a push's repository has the secret that
 * signed it, from signed[] (a section each; NULL: a dry run, none
 * needed).
 */
static int
signed_for(const struct conf *file, const struct conf *s,
    const unsigned char *signed_by)
{
	return signed_by == NULL || file->nsections == 0 ||
	    signed_by[s - file->sections];
}

/*
 * A push to a tag or a branch that no section it may be for watches
 * (only those whose secret signed it): ignored without a parse.
 */
static enum filter_result
peek(struct conf *c, const unsigned char *signed_by, const char *json,
    size_t len, char ref[PEEK_MAX], char after[PEEK_MAX],
    char reason[FILTER_REASON_MAX])
{
	enum filter_result fr = FILTER_IGNORE;
	size_t i;

	if (c->nsections == 0)
		return push_peek(c, json, len, ref, after, reason);
	for (i = 0; i < c->nsections && fr == FILTER_IGNORE; i++)
		if (signed_for(c, &c->sections[i], signed_by))
			fr = push_peek(&c->sections[i], json, len, ref, after,
			    reason);
	return fr;
}

/*
 * Steps 10 to 16: a push event, verified by the secrets signed[] says
 * (a section each, with sections; NULL: a dry run).
 */
static void
handle_push(struct conf *c, const unsigned char *signed_by,
    const struct request *rq, char *json, size_t len, struct reply *rp)
{
	struct runs r = { NULL, NULL, JOB_STARTED, 0, "", "" };
	char reason[FILTER_REASON_MAX], err[512], more[256] = "";
	char peek_ref[PEEK_MAX], peek_after[PEEK_MAX];
	struct selection sel;
	struct rundir rd;
	struct push p;
	struct conf *s;
	enum filter_result fr;
	cJSON *rec;
	size_t n, i;
	int k, started;

	if (peek(c, signed_by, json, len, peek_ref, peek_after, reason) ==
	    FILTER_IGNORE) {
		clean(rp->ref, sizeof(rp->ref), peek_ref);
		clean(rp->sha, sizeof(rp->sha), peek_after[0] ? peek_after :
		    NULL);
		answer(rp, 200, "ignored", reason, NULL);
		return;
	}
	if (push_parse(&p, json, len, reason) == -1) {
		answer(rp, 400, "error", reason, NULL);
		return;
	}
	clean(rp->repository, sizeof(rp->repository), p.repository);
	clean(rp->ref, sizeof(rp->ref), p.ref);
	snprintf(rp->sha, sizeof(rp->sha), "%s", p.after);
	/* With sections, the repository's own, signed by its own secret. */
	if ((s = conf_section(c, p.repository)) == NULL) {
		snprintf(reason, sizeof(reason), "repository %.100s is not "
		    "configured", p.repository != NULL ? p.repository :
		    "(none)");
		answer(rp, 200, "ignored", reason, NULL);
		push_free(&p);
		return;
	}
	if (!signed_for(c, s, signed_by)) {
		answer(rp, 401, "error", sig_reason(SIG_MISMATCH),
		    "signed with another repository's secret than %s's",
		    s->name);
		push_free(&p);
		return;
	}
	c = s;
	if ((fr = filter_push(c, &p, &sel, reason)) != FILTER_RUN) {
		if (fr == FILTER_IGNORE)
			answer(rp, 200, "ignored", reason, NULL);
		else
			answer(rp, 500, "error", "internal error", "%s",
			    reason);
		push_free(&p);
		return;
	}
	if (rq->dry) {
		dry_run(c, rq, &p, &sel, rp);
		goto out;
	}
	if (rundir_open(&rd, c->run_dir, 1, err, sizeof(err)) == -1) {
		answer(rp, 500, "error", "run directory unusable (see the "
		    "server's error log)", "%s", err);
		goto out;
	}
	if ((rec = delivery_lookup(&rd, rq->delivery)) != NULL) {
		answer_redelivery(&rd, conf_scope(c), rec, rp);
		cJSON_Delete(rec);
		goto close;
	}
	if (c->window_skip && !sched_open(c, sched_now())) {
		sched_format(c, sched_next_open(c, sched_now()), more);
		snprintf(reason, sizeof(reason), "outside run_window (the next "
		    "window opens %s); window_action is skip", more);
		answer(rp, 200, "ignored", reason, NULL);
		goto close;
	}
	n = sel.n;
	if (n > (size_t)c->max_runs_per_push) {
		n = (size_t)c->max_runs_per_push;
		k = snprintf(more, sizeof(more), "; %zu config(s) changed, "
		    "max_runs_per_push is %ld; not started:", sel.n,
		    c->max_runs_per_push);
		for (i = n; i < sel.n && k > 0 && (size_t)k < sizeof(more); i++)
			k += snprintf(more + k, sizeof(more) - k, " %s",
			    sel.configs[i]);
	}
	r.started = cJSON_CreateArray();
	r.dups = cJSON_CreateArray();
	run_configs(&rd, c, rq, &p, sel.configs, n, &r, rp);
	if (r.newest[0] != '\0' && c->concurrency != CONC_QUEUE)
		lifecycle_supersede(&rd, c, p.branch, rq->delivery, r.newest,
		    c->concurrency == CONC_CANCEL_IN_PROGRESS);
	if (r.failure == JOB_OVER_BUDGET) {
		/* The day's runs are used up: what is left is not started. */
		k = (int)strlen(more);
		k += snprintf(more + k, sizeof(more) - k, "; %s; not started:",
		    r.err);
		for (i = r.tried - 1; i < n && k > 0 && (size_t)k <
		    sizeof(more); i++)
			k += snprintf(more + k, sizeof(more) - k, " %s",
			    sel.configs[i]);
		r.failure = JOB_STARTED;
		if (cJSON_GetArraySize(r.started) == 0) {
			answer(rp, 200, "ignored", r.err, NULL);
			cJSON_Delete(r.started);
			cJSON_Delete(r.dups);
			goto close;
		}
	}
	/* Counted now: below, r.started goes to the answer or is freed. */
	started = cJSON_GetArraySize(r.started);
	if (r.failure != JOB_STARTED) {
		answer(rp, r.failure == JOB_ERROR ? 500 : 503, "error", r.err,
		    NULL);
		cJSON_AddItemToObject(rp->json, "jobs", r.started);
		cJSON_Delete(r.dups);
	} else if (started == 0) {
		answer(rp, 200, "duplicate", "every run of this push exists",
		    NULL);
		cJSON_AddItemToObject(rp->json, "jobs", r.dups);
		cJSON_Delete(r.started);
	} else {
		answer(rp, 202, "started", more[0] ? more + 2 : NULL,
		    "%zu job(s)%s%s", n, sel.everything ?
		    ", file lists incomplete" : "", more);
		cJSON_AddItemToObject(rp->json, "jobs", r.started);
		if (cJSON_GetArraySize(r.dups) > 0)
			cJSON_AddItemToObject(rp->json, "duplicates", r.dups);
		else
			cJSON_Delete(r.dups);
	}
	if (started > 0)
		record(&rd, rq, &p, rp);
close:
	rundir_close(&rd);
out:
	selection_free(&sel);
	push_free(&p);
}

/*
 * The name of a section without a secret ("" for the file, without
 * sections), or NULL if every configuration has one.
 */
static const char *
unsigned_section(const struct conf *c)
{
	size_t i;

	if (c->nsections == 0)
		return c->secret == NULL ? "" : NULL;
	for (i = 0; i < c->nsections; i++)
		if (c->sections[i].secret == NULL)
			return c->sections[i].name;
	return NULL;
}

/*
 * Checks hdr against the HMAC of body under each configured secret, each
 * comparison in constant time, each distinct secret once: signed_by[i]
 * says whether section i's signed it.  SIG_OK if any did, else why not.
 */
static enum sig_result
verify(const struct conf *c, const char *body, size_t len, const char *hdr,
    unsigned char signed_by[MAX_SECTIONS])
{
	const struct conf *s, *t;
	enum sig_result sr, any = SIG_MISMATCH;
	size_t i, k;

	if (c->nsections == 0)
		return sig_verify(c->secret, c->secretlen, body, len, hdr);
	for (i = 0; i < c->nsections; i++) {
		s = &c->sections[i];
		for (k = 0; k < i; k++) {
			t = &c->sections[k];
			if (t->secretlen == s->secretlen && memcmp(t->secret,
			    s->secret, s->secretlen) == 0)
				break;
		}
		if (k < i) {
			signed_by[i] = signed_by[k];
			continue;
		}
		sr = sig_verify(s->secret, s->secretlen, body, len, hdr);
		signed_by[i] = sr == SIG_OK;
		if (sr == SIG_OK || (any != SIG_OK && sr != SIG_MISMATCH))
			any = sr;
	}
	return any;
}

void
delivery_handle(struct conf *c, const char *conf_err,
    const struct request *rq, struct reply *rp)
{
	unsigned char signed_by[MAX_SECTIONS];
	char *body = NULL, *json;
	const char *nosecret;
	enum sig_result sr;
	unsigned long long cl = 0;
	enum body_result br;
	size_t len = 0, mapped = 0;
	long flen = 0;
	int form = 0;
	char *end;

	memset(rp, 0, sizeof(*rp));
	rp->json = cJSON_CreateObject();
	clean(rp->event, sizeof(rp->event), rq->event);
	clean(rp->delivery, sizeof(rp->delivery), rq->delivery);
	snprintf(rp->repository, sizeof(rp->repository), "-");
	snprintf(rp->ref, sizeof(rp->ref), "-");
	snprintf(rp->sha, sizeof(rp->sha), "-");
	if (c == NULL) {
		answer(rp, 500, "error", "server misconfigured (see the "
		    "server's error log)", "config: %s", conf_err);
		return;
	}
	if ((nosecret = unsigned_section(c)) != NULL) {
		answer(rp, 500, "error", "no webhook secret configured",
		    "no webhook secret configured%s%s%s: set secret_file in %s",
		    *nosecret ? " for [" : "", nosecret, *nosecret ? "]" : "",
		    c->path);
		return;
	}
	if (rq->method == NULL || strcmp(rq->method, "POST") != 0) {
		answer(rp, 405, "error", "only POST is allowed", NULL);
		return;
	}
	if (rq->content_length != NULL && *rq->content_length != '\0') {
		errno = 0;
		cl = strtoull(rq->content_length, &end, 10);
		if (!isdigit((unsigned char)*rq->content_length) ||
		    *end != '\0' || errno != 0) {
			answer(rp, 400, "error", "invalid Content-Length",
			    NULL);
			return;
		}
		if (cl > c->max_body) {
			answer(rp, 413, "error", "body larger than max_body",
			    "body of %llu bytes, max_body is %zu", cl,
			    c->max_body);
			return;
		}
	}
	if (type_is(rq->content_type, "application/x-www-form-urlencoded"))
		form = 1;
	else if (!type_is(rq->content_type, "application/json")) {
		answer(rp, 415, "error", "content type must be "
		    "application/json or application/x-www-form-urlencoded",
		    NULL);
		return;
	}
	br = read_body(rq, cl, rq->content_length != NULL &&
	    *rq->content_length != '\0', c->max_body, &body, &len, &mapped);
	if (br == BODY_TOO_LARGE) {
		answer(rp, 413, "error", "body larger than max_body", NULL);
		return;
	}
	if (br == BODY_SHORT) {
		answer(rp, 400, "error", "could not read the whole body",
		    NULL);
		return;
	}
	sr = rq->dry ? SIG_OK : verify(c, body, len, rq->signature, signed_by);
	if (sr != SIG_OK) {
		answer(rp, sr == SIG_ERROR ? 500 : 401, "error",
		    sig_reason(sr), NULL);
		goto out;
	}
	if (rq->event == NULL || *rq->event == '\0') {
		answer(rp, 400, "error", "missing X-GitHub-Event header",
		    NULL);
		goto out;
	}
	if (rq->delivery == NULL || *rq->delivery == '\0') {
		answer(rp, 400, "error", "missing X-GitHub-Delivery header",
		    NULL);
		goto out;
	}
	if (!delivery_id_safe(rq->delivery)) {
		answer(rp, 400, "error", "invalid X-GitHub-Delivery header",
		    NULL);
		goto out;
	}
	if (strcmp(rq->event, "ping") == 0) {
		answer(rp, 200, "ok", "pong", NULL);
		goto out;
	}
	if (strcmp(rq->event, "push") != 0) {
		answer(rp, 200, "ignored", "only push events start "
		    "training", "event %s is not handled", rp->event);
		goto out;
	}
	json = body;
	if (form && (flen = form_payload(body, len, &json)) == -1) {
		answer(rp, 400, "error", "form body without a valid payload "
		    "field", NULL);
		goto out;
	}
	handle_push(c, rq->dry ? NULL : signed_by, rq, json, form ?
	    (size_t)flen : len, rp);
out:
	body_free(body, mapped);
}

void
reply_free(struct reply *rp)
{
	cJSON_Delete(rp->json);
	rp->json = NULL;
}
