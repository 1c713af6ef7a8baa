/*
 * commitstatus.c: a job's state as a GitHub commit status.  See
 * commitstatus.h.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "commitstatus.h"
#include "job.h"
#include "queue.h"
#include "schedule.h"
#include "spawn.h"
#include "util.h"

#define TOKEN_MAX	1024
#define ATTEMPTS	3
#define RATE_WAIT_MAX	120	/* seconds a rate limit is waited out */
#define CODE_MARK	"\nswift-webhook-http-code "

/* Cuts s to max bytes, at a character's start, with "..." at the end. */
static void
cut(char *s, size_t max)
{
	size_t n;

	for (n = 0; s[n] != '\0'; n++)
		if ((unsigned char)s[n] < 0x20 || s[n] == 0x7f)
			s[n] = ' ';	/* git's lines, tabs */
	if (n <= max)
		return;
	n = max - 3;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	memcpy(s + n, "...", 4);
}

const char *
commitstatus_describe(const struct conf *c, const struct job *j,
    int behind, const struct job *prev, char desc[STATUS_DESC_MAX + 1])
{
	char buf[768], took[32] = "", loss[80] = "", after[96] = "", at[32];
	char num[32], was[32];
	const char *gh = "error", *st = j->state ? j->state : "";
	int after_failed = 0;
	time_t next;

	if (j->started != 0 && j->finished >= j->started) {
		memcpy(took, " in ", 5);
		duration_format(took + 4, sizeof(took) - 4,
		    (double)(j->finished - j->started));
	}
	if ((j->results.have & R_LOSS) && prev != NULL &&
	    (prev->results.have & R_LOSS))
		snprintf(loss, sizeof(loss), ", loss %s (was %s)",
		    results_format(j->results.loss, num),
		    results_format(prev->results.loss, was));
	else if (j->results.have & R_LOSS)
		snprintf(loss, sizeof(loss), ", loss %s",
		    results_format(j->results.loss, num));
	if (j->after_state[0] != '\0') {
		after_failed = strcmp(j->after_state, JOB_SUCCEEDED) != 0;
		if (!after_failed)
			snprintf(after, sizeof(after), "; after_success done");
		else if (j->after_exit >= 0)
			snprintf(after, sizeof(after), "; after_success %s "
			    "(exit %d)", j->after_state, j->after_exit);
		else
			snprintf(after, sizeof(after), "; after_success %s",
			    j->after_state);
	}
	if (strcmp(st, JOB_QUEUED) == 0) {
		gh = "pending";
		if (!sched_open(c, sched_now()) && (next = sched_next_open(c,
		    sched_now())) != -1) {
			sched_format(c, next, at);
			snprintf(buf, sizeof(buf), "queued: waiting for the run "
			    "window (opens %s)", at);
		} else if (j->waiting[0] != '\0')	/* slurm: PENDING's reason */
			snprintf(buf, sizeof(buf), "queued: %s", j->waiting);
		else if (behind > 0)
			snprintf(buf, sizeof(buf), "queued behind %d", behind);
		else
			snprintf(buf, sizeof(buf), "queued");
	} else if (strcmp(st, JOB_PREPARING) == 0) {
		gh = "pending";
		if (j->waiting[0] != '\0')
			snprintf(buf, sizeof(buf), "waiting: %s", j->waiting);
		else
			snprintf(buf, sizeof(buf), "preparing");
	} else if (strcmp(st, JOB_RUNNING) == 0) {
		gh = "pending";
		if (j->slurm_nodes[0] != '\0')
			snprintf(buf, sizeof(buf), "running on %s",
			    j->slurm_nodes);
		else
			snprintf(buf, sizeof(buf), "running%s%s", j->gpus ?
			    " on GPU " : "", j->gpus ? j->gpus : "");
	} else if (strcmp(st, JOB_SUCCEEDED) == 0) {
		gh = after_failed ? "failure" : "success";
		snprintf(buf, sizeof(buf), "succeeded%s%s%s", took, loss,
		    after);
	} else if (strcmp(st, JOB_FAILED) == 0 && j->exit_code >= 0) {
		gh = "failure";
		snprintf(buf, sizeof(buf), "failed (exit %d)%s%s", j->exit_code,
		    took, loss);
	} else if (strcmp(st, JOB_FAILED) == 0) {
		snprintf(buf, sizeof(buf), "failed: %s", j->error[0] ?
		    j->error : "see the job's log");
	} else if (strcmp(st, JOB_KILLED) == 0) {
		gh = "failure";
		snprintf(buf, sizeof(buf), "killed by signal %d%s%s", j->signal,
		    took, loss);
	} else if (strcmp(st, JOB_TIMEOUT) == 0) {
		gh = "failure";
		snprintf(buf, sizeof(buf), "timed out%s%s%s%s", took, loss,
		    j->error[0] ? ": " : "", j->error);
	} else if (strcmp(st, JOB_CANCELLED) == 0)
		snprintf(buf, sizeof(buf), "cancelled%s", took);
	else if (strcmp(st, JOB_SUPERSEDED) == 0)
		snprintf(buf, sizeof(buf), "superseded by a newer push");
	else if (strcmp(st, JOB_LOST) == 0)	/* gh: error */
		snprintf(buf, sizeof(buf), "lost: %s", j->error[0] ?
		    j->error : "see the job's log");
	else
		snprintf(buf, sizeof(buf), "state unknown");
	cut(buf, STATUS_DESC_MAX);
	memcpy(desc, buf, strlen(buf) + 1);
	return gh;
}

/*
 * Reads the token: one line of letters, digits and _ . - (what GitHub's
 * tokens are made of; nothing that could end a quoted string in curl's
 * config).  Returns it (to wipe and free), or NULL with why in err.
 */
static char *
read_token(const char *file, char *err, size_t errlen)
{
	char *t;
	size_t len;
	int fd;

	if ((fd = file_open_regular(file)) == -1) {
		snprintf(err, errlen, "github_token_file %s: %s", file,
		    errno == EINVAL ? "not a regular file" : strerror(errno));
		return NULL;
	}
	t = fd_read_all(fd, TOKEN_MAX, &len);
	close(fd);
	if (t == NULL) {
		snprintf(err, errlen, "github_token_file %s: %s", file,
		    strerror(errno));
		return NULL;
	}
	while (len > 0 && isspace((unsigned char)t[len - 1]))
		t[--len] = '\0';
	if (len == 0 || strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"
	    "opqrstuvwxyz0123456789_.-") != len) {
		OPENSSL_cleanse(t, len);
		free(t);
		snprintf(err, errlen, "github_token_file %s: not one line of "
		    "letters, digits, _ . -", file);
		return NULL;
	}
	return t;
}

/*
 * curl's config, built in one buffer sized once: no realloc leaves a copy
 * of the token in freed memory (open_memstream would).
 */
struct cbuf {
	char	*p;
	size_t	 len, cap;
};

static void
cput(struct cbuf *b, const char *s)
{
	size_t n = strlen(s);

	if (b->len + n < b->cap)
		memcpy(b->p + b->len, s, n);
	b->len += n;	/* past cap: found at the end */
}

/* s as a quoted string of curl's config format: at most 2n + 2 bytes. */
static void
cquoted(struct cbuf *b, const char *s)
{
	char e[3] = "\\";

	cput(b, "\"");
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '"':  e[1] = '"'; break;
		case '\\': e[1] = '\\'; break;
		case '\n': e[1] = 'n'; break;
		case '\r': e[1] = 'r'; break;
		case '\t': e[1] = 't'; break;
		default:   e[0] = *s; e[1] = '\0';
		}
		cput(b, e);
		e[0] = '\\';
		e[1] = '\0';
	}
	cput(b, "\"");
}

/* curl's config for one request: the token is in it.  Wipe it, then free. */
static char *
curl_config(const struct conf *c, const char *url, const char *token,
    const char *body, size_t *len)
{
	struct cbuf b;
	char num[96];

	b.cap = 1024 + 2 * (strlen(url) + strlen(body)) + strlen(token);
	b.len = 0;
	if ((b.p = malloc(b.cap)) == NULL)
		return NULL;
	cput(&b, "url = ");
	cquoted(&b, url);
	cput(&b, "\nrequest = \"POST\"\nheader = \"Authorization: Bearer ");
	cput(&b, token);
	cput(&b, "\"\nheader = \"Accept: application/vnd.github+json\"\n"
	    "header = \"X-GitHub-Api-Version: 2022-11-28\"\n"
	    "header = \"Content-Type: application/json\"\n"
	    "user-agent = \"swift-webhook/" VERSION "\"\n"
	    "data-binary = ");
	cquoted(&b, body);
	snprintf(num, sizeof(num), "\nmax-time = %ld\nconnect-timeout = %ld\n",
	    c->github_timeout, c->github_timeout);
	cput(&b, num);
	cput(&b, "silent\nshow-error\nproto = \"=http,https\"\nwrite-out = ");
	cquoted(&b, CODE_MARK "%{http_code} %header{retry-after}/"
	    "%header{x-ratelimit-remaining}/%header{x-ratelimit-reset}\n");
	cput(&b, "\n");
	if (b.len >= b.cap) {	/* cannot happen: the size above bounds it */
		OPENSSL_cleanse(b.p, b.cap);
		free(b.p);
		return NULL;
	}
	b.p[b.len] = '\0';
	*len = b.len;
	return b.p;
}

/*
 * GitHub's rate limits: 429, or 403 with retry-after or no requests
 * left (x-ratelimit-remaining 0).  hdr is "CODE RETRY/REMAINING/RESET"
 * from curl's write-out.  Returns the seconds to wait (retry-after, else
 * until the reset, at least 1), or -1 if the answer is no rate limit.
 */
static long
rate_limited(int code, const char *hdr)
{
	long retry = -1, remaining = -1, reset = -1, now;
	const char *s;
	char *end;

	if ((s = strchr(hdr, ' ')) == NULL)
		return -1;
	s++;
	if (*s != '/' && (retry = strtol(s, &end, 10), end == s))
		retry = -1;
	if ((s = strchr(s, '/')) != NULL && s[1] != '/' && s[1] != '\n') {
		remaining = strtol(s + 1, &end, 10);
		if (end == s + 1)
			remaining = -1;
	}
	if (s != NULL && (s = strchr(s + 1, '/')) != NULL) {
		reset = strtol(s + 1, &end, 10);
		if (end == s + 1)
			reset = -1;
	}
	if (code != 429 && !(code == 403 && (retry >= 0 || remaining == 0)))
		return -1;
	if (retry >= 0)
		return retry > 0 ? retry : 1;
	now = (long)time(NULL);
	if (reset > now)
		return reset - now;
	return 1;
}

static int	send_status(const struct conf *, const char *, const char *,
		    const char *, const char *, const char *, const char *,
		    const char *);

/* The first line of what the server said, printable, for the log. */
static void
first_line(const char *tail, char *out, size_t size)
{
	const char *m = strstr(tail, CODE_MARK);
	size_t n = m ? (size_t)(m - tail) : strlen(tail), i, k = 0;

	for (i = 0; i < n && tail[i] != '\n' && k + 1 < size; i++)
		out[k++] = tail[i] >= 0x20 && tail[i] < 0x7f ? tail[i] : '?';
	out[k] = '\0';
}

/*
 * Makes the request, with retries.  Returns 0 once GitHub took it, or -1
 * (said in the log).
 */
static int
post(const struct conf *c, const char *id, const char *config,
    size_t len, const char *what)
{
	char *const argv[] = { "curl", "-q", "-K", "-", NULL };
	char tail[2048], said[200], *m;
	enum run_end end;
	int p[2], status, attempt, code, rc = -1;
	long wait;

	for (attempt = 1; attempt <= ATTEMPTS; attempt++) {
		if (pipe2(p, O_CLOEXEC) == -1) {
			log_line("%s: commit status: pipe: %s", id,
			    strerror(errno));
			break;
		}
		/* It fits the pipe: a few hundred bytes. */
		(void)!write_all(p[1], config, len);
		close(p[1]);
		end = spawn_tool(argv, NULL, p[0], (int)c->github_timeout + 5,
		    &status, tail, sizeof(tail));
		close(p[0]);
		code = (m = strstr(tail, CODE_MARK)) ? atoi(m +
		    strlen(CODE_MARK)) : 0;
		wait = m ? rate_limited(code, m + strlen(CODE_MARK)) : -1;
		if (end == RUN_EXITED && WIFEXITED(status) &&
		    WEXITSTATUS(status) == 0 && code >= 200 && code < 300) {
			log_line("%s: commit status %s (HTTP %d)", id,
			    what, code);
			rc = 0;
			break;
		}
		first_line(tail, said, sizeof(said));
		if (end == RUN_ERROR)
			log_line("%s: commit status: %s", id, said);
		else if (end == RUN_TIMEOUT || code == 0)
			log_line("%s: commit status %s: %s: %s (attempt "
			    "%d of %d)", id, what, end == RUN_TIMEOUT ?
			    "timed out" : "no answer", said, attempt, ATTEMPTS);
		else
			log_line("%s: commit status %s: HTTP %d: %s "
			    "(attempt %d of %d)", id, what, code, said,
			    attempt, ATTEMPTS);
		/*
		 * A rate limit passes at the time GitHub names (if soon);
		 * another 4xx will not get better: a bad token, an unknown
		 * sha.
		 */
		if (wait > RATE_WAIT_MAX) {
			log_line("%s: commit status %s: rate limited for "
			    "%lds: not tried again", id, what, wait);
			break;
		}
		if (end == RUN_ERROR || (wait < 0 && code >= 400 && code < 500))
			break;
		if (attempt < ATTEMPTS)
			sleep(wait >= 0 ? (unsigned)wait : 1U << (attempt - 1));
	}
	return rc;
}

void
commitstatus_post(struct rundir *rd, const struct conf *c, const char *id)
{
	char desc[STATUS_DESC_MAX + 1], line[STATUS_DESC_MAX + 32];
	char target[1024], who[JOB_ID_MAX + 8], *posted = NULL;
	char pid[JOB_ID_MAX];
	const char *state;
	struct job j, prev;
	int lock = -1, n, have_prev = 0;

	if (c->github_token_file == NULL || job_read(rd, id, &j) == -1)
		return;
	/* Whoever posts now waits for the one posting before: ours last. */
	lock = lock_at(j.dirfd, "status.lock", 0640, ANY_OWNER, ATTEMPTS *
	    (c->github_timeout + 9) + 5, NULL, NULL);
	job_close(&j);
	if (lock == -1) {
		log_line("job %s: commit status: status.lock: %s", id,
		    errno == ETIMEDOUT ? "held too long" : strerror(errno));
		return;
	}
	if (job_read(rd, id, &j) == -1)	/* as it is now, under the lock */
		goto out;
	/* A trainer may have rewritten them: nothing else in the URL. */
	if (!repo_name_valid(j.repository) || !commit_id_valid(j.sha) ||
	    j.config == NULL) {
		log_line("job %s: commit status: no repository or sha to "
		    "post it on", id);
		goto out;
	}
	/* An ended run's loss against the previous run of its config. */
	if (job_state_final(j.state) && (j.results.have & R_LOSS) &&
	    job_previous(rd, &j, PREVIOUS_SCAN, pid) == 0 &&
	    job_read(rd, pid, &prev) == 0)
		have_prev = 1;
	state = commitstatus_describe(c, &j, j.state == JOB_QUEUED &&
	    c->backend == BACKEND_LOCAL ? queue_position(rd, id) : -1,
	    have_prev ? &prev : NULL, desc);
	if (have_prev)
		job_close(&prev);
	n = snprintf(line, sizeof(line), "%s %s\n", state, desc);
	if ((posted = file_read_at(j.dirfd, "status", sizeof(line), NULL,
	    ANY_OWNER)) != NULL && strcmp(posted, line) == 0)
		goto out;	/* posted already */
	snprintf(target, sizeof(target), "swift-webhook/%s", j.config);
	snprintf(who, sizeof(who), "job %s", id);
	if (send_status(c, who, j.repository, j.sha, target, state, desc,
	    id) == 0 && file_write_at(j.dirfd, "status", line, n, 0640, 0) ==
	    -1)
		log_line("job %s: write status: %s", id, strerror(errno));
out:
	free(posted);
	job_close(&j);
	close(lock);
}

int
send_status(const struct conf *c, const char *who, const char *repository,
    const char *sha, const char *context, const char *state,
    const char *desc, const char *job)
{
	char url[1024], target[1024], err[256], *token = NULL, *config = NULL;
	char *body = NULL;
	size_t len = 0;
	cJSON *o;
	int rc = -1;

	if (c->github_token_file == NULL)
		return 0;
	snprintf(url, sizeof(url), "%.*s/repos/%s/statuses/%s",
	    (int)(strlen(c->api_url) - (c->api_url[strlen(c->api_url) - 1] ==
	    '/')), c->api_url, repository, sha);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "state", state);
	if (c->public_url != NULL && job != NULL) {
		snprintf(target, sizeof(target), "%s%sjobs/%s", c->public_url,
		    c->public_url[strlen(c->public_url) - 1] == '/' ? "" : "/",
		    job);
		cJSON_AddStringToObject(o, "target_url", target);
	}
	cJSON_AddStringToObject(o, "description", desc);
	cJSON_AddStringToObject(o, "context", context);
	body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (body == NULL)
		goto out;
	if ((token = read_token(c->github_token_file, err, sizeof(err))) ==
	    NULL) {
		log_line("%s: commit status: %s", who, err);
		goto out;
	}
	config = curl_config(c, url, token, body, &len);
	OPENSSL_cleanse(token, strlen(token));
	if (config == NULL)
		goto out;
	snprintf(err, sizeof(err), "%s \"%s\"", state, desc);
	rc = post(c, who, config, len, err);
out:
	if (config != NULL)
		OPENSSL_cleanse(config, len);
	free(config);
	free(token);
	free(body);
	return rc;
}

int
commitstatus_send(const struct conf *c, const char *who,
    const char *repository, const char *sha, const char *context,
    const char *state, const char *desc, const char *job)
{
	char d[STATUS_DESC_MAX + 1];

	/* Nothing else in the URL; GitHub's limit on a description. */
	if (!repo_name_valid(repository) || !commit_id_valid(sha))
		return -1;
	snprintf(d, sizeof(d), "%s", desc);
	cut(d, STATUS_DESC_MAX);
	return send_status(c, who, repository, sha, context, state, d, job);
}

int
commitstatus_check(const struct conf *c, char *err, size_t errlen)
{
	char *const argv[] = { "curl", "--version", NULL };
	char *token, tail[256];
	enum run_end end;
	int status;

	if (c->github_token_file == NULL)
		return 0;
	if ((token = read_token(c->github_token_file, err, errlen)) == NULL)
		return -1;
	OPENSSL_cleanse(token, strlen(token));
	free(token);
	end = spawn_tool(argv, NULL, 0, 10, &status, tail, sizeof(tail));
	if (end != RUN_EXITED || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		snprintf(err, errlen, "cannot run curl (apt-get install curl)%s%s",
		    end == RUN_ERROR ? ": " : "", end == RUN_ERROR ? tail : "");
		return -1;
	}
	return 0;
}
