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
#include "jobs.h"
#include "rundir.h"
#include "sig.h"
#include "spawn.h"

const char *
http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 202: return "Accepted";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
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
	snprintf(rp->decision, sizeof(rp->decision), "%s", word);
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

/* GitHub's delivery ids are GUIDs; anything else file-name-safe will do. */
static int
delivery_safe(const char *s)
{
	size_t n;

	if (s == NULL || *s == '\0' || *s == '.')
		return 0;
	for (n = 0; s[n] != '\0'; n++)
		if (!isalnum((unsigned char)s[n]) && s[n] != '-' &&
		    s[n] != '_' && s[n] != '.')
			return 0;
	return n <= 64;
}

/*
 * Reads the body, at most max bytes.  Returns its length, -1 on a read
 * error or short body, -2 if it is longer than max.
 */
static long
read_body(const struct request *rq, size_t want, int known, size_t max,
    char **out)
{
	size_t len = 0, cap = known ? want + 1 : 65536;
	char *buf, *nb;
	ssize_t n;

	if ((buf = malloc(cap)) == NULL)
		return -1;
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
			free(buf);
			return -2;
		}
	}
	if (known && len != want)
		goto err;
	buf[len] = '\0';
	*out = buf;
	return (long)len;
err:
	free(buf);
	return -1;
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
 * Starts one job for config, unless (sha, config) already has one.
 * Adds it to started or dups.  Returns 0, JOB_QUEUE_FULL, or -1, with
 * the reason in err.
 */
static int
run_config(struct conf *c, const struct request *rq, const struct push *p,
    const char *config, cJSON *started, cJSON *dups, struct reply *rp,
    char *err, size_t errlen)
{
	struct job j;
	char other[JOB_ID_MAX];
	int rc;

	memset(&j, 0, sizeof(j));
	j.delivery = rq->delivery;
	j.event = rq->event;
	j.repository = p->repository;
	j.ref = p->ref;
	j.branch = p->branch;
	j.sha = p->after;
	j.config = config;
	rc = job_start(c, &j, 1, other, err, errlen);
	if (rc == JOB_DUPLICATE) {
		cJSON_AddItemToArray(dups, job_json(other, config, NULL, 0));
		note_job(rp, other);
		return 0;
	}
	if (j.id[0] != '\0' && rc != JOB_QUEUE_FULL)
		note_job(rp, j.id);
	if (rc == 0)
		cJSON_AddItemToArray(started, job_json(j.id, config, j.state,
		    j.pid));
	return rc;
}

/* Steps 10 to 16: a verified push event. */
static void
handle_push(struct conf *c, const struct request *rq, char *json,
    size_t len, struct reply *rp)
{
	struct push p;
	struct selection sel;
	char reason[FILTER_REASON_MAX], err[512], *rec;
	cJSON *started, *dups, *all;
	size_t i;
	int r;

	if ((rec = delivery_lookup(c->run_dir, rq->delivery)) != NULL) {
		answer(rp, 200, "duplicate", "delivery already handled", NULL);
		if ((all = cJSON_Parse(rec)) != NULL) {
			cJSON *job;

			cJSON_ArrayForEach(job, all)
				if (cJSON_IsString(cJSON_GetObjectItem(job, "id")))
					note_job(rp, cJSON_GetObjectItem(job,
					    "id")->valuestring);
			cJSON_AddItemToObject(rp->json, "jobs", all);
		}
		free(rec);
		return;
	}
	if (push_parse(&p, json, len, reason) == -1) {
		answer(rp, 400, "error", reason, NULL);
		return;
	}
	clean(rp->repository, sizeof(rp->repository), p.repository);
	clean(rp->ref, sizeof(rp->ref), p.ref);
	snprintf(rp->sha, sizeof(rp->sha), "%s", p.after);
	if ((r = filter_push(c, &p, &sel, reason)) != 1) {
		if (r == 0)
			answer(rp, 200, "ignored", reason, NULL);
		else
			answer(rp, 500, "error", "internal error", "%s",
			    reason);
		push_free(&p);
		return;
	}
	if (rundir_prepare(c->run_dir, err, sizeof(err)) == -1) {
		answer(rp, 500, "error", "run directory unusable (see the "
		    "server's error log)", "%s", err);
		goto out;
	}
	started = cJSON_CreateArray();
	dups = cJSON_CreateArray();
	for (i = 0; i < sel.n; i++)
		if ((r = run_config(c, rq, &p, sel.configs[i], started, dups,
		    rp, err, sizeof(err))) != 0)
			break;
	if (cJSON_GetArraySize(started) > 0 && c->concurrency != CONC_QUEUE)
		jobs_supersede(c, p.branch, rq->delivery,
		    c->concurrency == CONC_CANCEL_IN_PROGRESS);
	if (i < sel.n) {
		if (r == JOB_QUEUE_FULL)
			answer(rp, 503, "error", err, NULL);
		else
			answer(rp, 500, "error", err, NULL);
		cJSON_AddItemToObject(rp->json, "jobs", started);
		cJSON_Delete(dups);
		goto out;
	}
	if (cJSON_GetArraySize(started) == 0) {
		answer(rp, 200, "duplicate", "every run of this push exists",
		    NULL);
		cJSON_AddItemToObject(rp->json, "jobs", dups);
		cJSON_Delete(started);
	} else {
		answer(rp, 202, "started", NULL, "%zu job(s)%s", sel.n,
		    sel.everything ? ", file lists incomplete" : "");
		cJSON_AddItemToObject(rp->json, "jobs", started);
		if (cJSON_GetArraySize(dups) > 0)
			cJSON_AddItemToObject(rp->json, "duplicates", dups);
		else
			cJSON_Delete(dups);
	}
	all = cJSON_GetObjectItemCaseSensitive(rp->json, "jobs");
	if ((rec = cJSON_PrintUnformatted(all)) == NULL ||
	    delivery_record(c->run_dir, rq->delivery, rec) == -1)
		snprintf(rp->reason + strlen(rp->reason), sizeof(rp->reason) -
		    strlen(rp->reason), "; delivery not recorded: %s",
		    strerror(errno));
	free(rec);
out:
	selection_free(&sel);
	push_free(&p);
}

void
delivery_handle(struct conf *c, const char *conf_err,
    const struct request *rq, struct reply *rp)
{
	char *body = NULL, *json;
	enum sig_result sr;
	unsigned long long cl = 0;
	long len;
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
	if (c->secret == NULL) {
		answer(rp, 500, "error", "no webhook secret configured",
		    "no webhook secret configured: set secret_file in %s",
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
	len = read_body(rq, cl, rq->content_length != NULL &&
	    *rq->content_length != '\0', c->max_body, &body);
	if (len == -2) {
		answer(rp, 413, "error", "body larger than max_body", NULL);
		return;
	}
	if (len == -1) {
		answer(rp, 400, "error", "could not read the whole body",
		    NULL);
		return;
	}
	sr = sig_verify(c->secret, c->secretlen, body, len, rq->signature);
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
	if (!delivery_safe(rq->delivery)) {
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
	if (form && (len = form_payload(body, len, &json)) == -1) {
		answer(rp, 400, "error", "form body without a valid payload "
		    "field", NULL);
		goto out;
	}
	handle_push(c, rq, json, len, rp);
out:
	free(body);
}

void
reply_free(struct reply *rp)
{
	cJSON_Delete(rp->json);
	rp->json = NULL;
}
