/*
 * results.c: reads a run's logging.jsonl.  See results.h.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "results.h"
#include "util.h"

#define VERSION_DIRS_MAX 256	/* the most folders looked into */
#define CKPT_MAX	4096	/* the longest checkpoint path taken */

struct newest {
	int		 dfd;
	int		 fd;		/* the newest logging.jsonl so far */
	struct timespec	 mtime;
	int		 seen;
};

/* dir_each: logging.jsonl of each folder (ms-swift's v<N>-<time>/). */
static int
newer_log(void *arg, const char *name)
{
	struct newest *n = arg;
	struct stat st;
	int sub, fd;

	if (++n->seen > VERSION_DIRS_MAX)
		return 1;
	if ((sub = dir_open_at(n->dfd, name, ANY_OWNER)) == -1)
		return 0;
	fd = file_open_at(sub, "logging.jsonl", O_RDONLY, 0, ANY_OWNER);
	close(sub);
	if (fd == -1)
		return 0;
	if (fstat(fd, &st) == 0 && (n->fd == -1 ||
	    st.st_mtim.tv_sec > n->mtime.tv_sec ||
	    (st.st_mtim.tv_sec == n->mtime.tv_sec &&
	    st.st_mtim.tv_nsec > n->mtime.tv_nsec))) {
		if (n->fd != -1)
			close(n->fd);
		n->fd = fd;
		n->mtime = st.st_mtim;
	} else
		close(fd);
	return 0;
}

/* Opens output_dir/logging.jsonl, or the newest one a folder down. */
static int
open_log(const char *output_dir)
{
	struct newest n = { -1, -1, { 0, 0 }, 0 };
	int fd;

	if ((n.dfd = open(output_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1)
		return -1;
	fd = file_open_at(n.dfd, "logging.jsonl", O_RDONLY, 0, ANY_OWNER);
	if (fd == -1 && errno == ENOENT) {
		dir_each(n.dfd, newer_log, &n);
		fd = n.fd;
		errno = ENOENT;
	}
	close(n.dfd);
	return fd;
}

/*
 * Reads the last max bytes of fd.  Returns them (*len bytes, from a line
 * start: a cut first line is dropped), to free, or NULL.
 */
static char *
read_tail(int fd, size_t max, size_t *len)
{
	struct stat st;
	size_t n = 0, want;
	off_t off;
	ssize_t r;
	char *buf, *nl;

	if (fstat(fd, &st) == -1)
		return NULL;
	want = (size_t)st.st_size < max ? (size_t)st.st_size : max;
	off = st.st_size - (off_t)want;
	if ((buf = malloc(want + 1)) == NULL)
		return NULL;
	while (n < want && (r = pread(fd, buf + n, want - n, off + n)) != 0) {
		if (r == -1) {
			if (errno == EINTR)
				continue;
			free(buf);
			return NULL;
		}
		n += r;
	}
	buf[n] = '\0';
	if (off > 0) {
		/* A cut first line, unless the byte before is a newline. */
		char c = 0;

		if (pread(fd, &c, 1, off - 1) != 1 || c != '\n') {
			if ((nl = memchr(buf, '\n', n)) == NULL)
				n = 0;
			else {
				n -= nl + 1 - buf;
				memmove(buf, nl + 1, n);
			}
			buf[n] = '\0';
		}
	}
	*len = n;
	return buf;
}

/*
 * Python's json.dumps writes a non-finite float as a bare NaN, Infinity
 * or -Infinity, which cJSON refuses.  Outside strings each becomes the
 * string MARK + its name, which results_number reads back.  (A trainer
 * that writes such a string itself gets what it wrote: a NaN.)
 */
#define MARK		"\001"

static const char *const nonfinite[] = { "-Infinity", "Infinity", "NaN" };

/* The non-finite token at s (before end) and its length, or 0. */
static size_t
nonfinite_at(const char *s, const char *end, int *which)
{
	size_t i, n;

	for (i = 0; i < 3; i++) {
		n = strlen(nonfinite[i]);
		if ((size_t)(end - s) >= n && memcmp(s, nonfinite[i], n) == 0 &&
		    (s + n == end || !isalnum((unsigned char)s[n]))) {
			*which = (int)i;
			return n;
		}
	}
	return 0;
}

/* Parses one line [s, end) as ms-swift writes it.  NULL: no JSON. */
static cJSON *
parse_line(const char *s, const char *end)
{
	char *out, *o;
	const char *p;
	int in_str = 0, which;
	size_t n;
	cJSON *j;

	if (memchr(s, 'N', end - s) == NULL && memchr(s, 'I', end - s) == NULL)
		return cJSON_ParseWithLength(s, end - s);
	/* A token of 3 bytes or more grows by 8 ("\"\\u0001" "\""): < 4x. */
	if ((out = malloc((end - s) * 4 + 1)) == NULL)
		return NULL;
	for (o = out, p = s; p < end; p++) {
		if (in_str) {
			*o++ = *p;
			if (*p == '\\' && p + 1 < end)
				*o++ = *++p;
			else if (*p == '"')
				in_str = 0;
		} else if (*p == '"') {
			in_str = 1;
			*o++ = *p;
		} else if ((n = nonfinite_at(p, end, &which)) > 0) {
			o += sprintf(o, "\"\\u0001%s\"", nonfinite[which]);
			p += n - 1;
		} else
			*o++ = *p;
	}
	j = cJSON_ParseWithLength(out, o - out);
	free(out);
	return j;
}

/*
 * Calls fn on each line of buf that parses as a JSON object, last line
 * first, until fn returns non-zero.
 */
static void
each_line_back(char *buf, size_t len, int (*fn)(void *, const cJSON *),
    void *arg)
{
	char *end = buf + len, *start;
	const char *s;
	cJSON *o;
	int done;

	while (end > buf) {
		for (start = end; start > buf && start[-1] != '\n'; start--)
			;
		for (s = start; s < end && isspace((unsigned char)*s); s++)
			;
		if (s < end && *s == '{' && (o = parse_line(s, end)) != NULL) {
			done = cJSON_IsObject(o) && fn(arg, o);
			cJSON_Delete(o);
			if (done)
				return;
		}
		end = start > buf ? start - 1 : buf;
	}
}

int
results_number(const cJSON *o, const char *name, double *v)
{
	static const double values[] = { -INFINITY, INFINITY, NAN };
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, name);
	const char *s;
	size_t i;

	/* A literal past a double's range (1e999) is no number json.dumps
	   writes: garbage, not an infinity. */
	if (cJSON_IsNumber(n)) {
		*v = n->valuedouble;
		return isfinite(*v);
	}
	if (!cJSON_IsString(n))
		return 0;
	/* As parse_line marks them, or as results_to_json writes them. */
	s = n->valuestring[0] == MARK[0] ? n->valuestring + 1 : n->valuestring;
	for (i = 0; i < 3; i++)
		if (strcmp(s, nonfinite[i]) == 0) {
			*v = values[i];
			return 1;
		}
	return 0;
}

static int
finite_num(const cJSON *o, const char *name, double *v)
{
	double d;

	if (!results_number(o, name, &d) || !isfinite(d))
		return 0;
	*v = d;
	return 1;
}

void
results_add_number(cJSON *o, const char *name, double v)
{
	if (isfinite(v))
		cJSON_AddNumberToObject(o, name, v);
	else
		cJSON_AddStringToObject(o, name, isnan(v) ? "NaN" : v > 0 ?
		    "Infinity" : "-Infinity");
}

const char *
results_format(double v, char buf[32])
{
	if (isnan(v))
		return "NaN";
	if (isinf(v))
		return v > 0 ? "Infinity" : "-Infinity";
	snprintf(buf, 32, "%.4g", v);
	return buf;
}

/* A string fit for job.json and a terminal: bounded, UTF-8, no controls. */
static char *
safe_str(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	const unsigned char *p;

	if (!cJSON_IsString(v) || strlen(v->valuestring) > CKPT_MAX ||
	    !utf8_valid(v->valuestring))
		return NULL;
	for (p = (const unsigned char *)v->valuestring; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return NULL;
	return strdup(v->valuestring);
}

/*
 * The step of a line: "global_step/max_steps" (transformers) or
 * "iteration" (megatron), "N/M" with 0 <= N <= M, 0 < M.  Returns 1, or
 * 0 if the line has none.
 */
static int
step_of(const cJSON *o, long long *step, long long *max)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o,
	    "global_step/max_steps");
	char *end;

	if (!cJSON_IsString(v))
		v = cJSON_GetObjectItemCaseSensitive(o, "iteration");
	if (!cJSON_IsString(v) || !isdigit((unsigned char)v->valuestring[0]))
		return 0;
	errno = 0;
	*step = strtoll(v->valuestring, &end, 10);
	if (errno != 0 || *end != '/' || !isdigit((unsigned char)end[1]))
		return 0;
	*max = strtoll(end + 1, &end, 10);
	return errno == 0 && *end == '\0' && *max > 0 && *step <= *max;
}

/* The end record's fields (also how job.json keeps them). */
static void
take_end(struct results *r, const cJSON *o)
{
	double v;

	if ((r->last_model_checkpoint = safe_str(o,
	    "last_model_checkpoint")) != NULL)
		r->have |= R_LAST_CKPT;
	if ((r->best_model_checkpoint = safe_str(o,
	    "best_model_checkpoint")) != NULL)
		r->have |= R_BEST_CKPT;
	if (finite_num(o, "best_metric", &r->best_metric))
		r->have |= R_BEST_METRIC;
	if (finite_num(o, "global_step", &v) && v >= 0 && v < 1e15) {
		r->global_step = (long long)v;
		r->have |= R_GLOBAL_STEP;
	}
}

struct scan {
	struct results	*r;
	int		 end;		/* the end record is taken */
	int		 step;		/* a step is taken (no end record's) */
	int		 hist_loss, hist_eval;	/* its log_history had them */
	double		 hloss, heval;	/* the last ones there */
	long long	 last_step;
};

/*
 * The last training loss and eval_loss in the end record's log_history
 * (the per-step lines again, which the bounded tail may have cut).
 */
static void
history(struct scan *sc, const cJSON *o)
{
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(o, "log_history"),
	    *e;

	if (!cJSON_IsArray(h))
		return;
	cJSON_ArrayForEach(e, h) {
		if (!cJSON_IsObject(e))
			continue;
		if (results_number(e, "loss", &sc->hloss))
			sc->hist_loss = 1;
		if (results_number(e, "eval_loss", &sc->heval))
			sc->hist_eval = 1;
	}
}

/*
 * each_line_back: the last end record, the last training loss ("loss":
 * eval lines have eval_loss, the summary line train_loss), the last
 * eval_loss and the last step.  Done once the end record and a loss are
 * found: the eval_loss before it is in its log_history.
 */
static int
take_results(void *arg, const cJSON *o)
{
	struct scan *sc = arg;
	struct results *r = sc->r;
	long long step, max;

	if (!sc->end && cJSON_HasObjectItem(o, "last_model_checkpoint")) {
		take_end(r, o);
		history(sc, o);
		sc->end = 1;
		return r->have & R_LOSS;
	}
	if (!(r->have & R_LOSS) && results_number(o, "loss", &r->loss))
		r->have |= R_LOSS;
	if (!(r->have & R_EVAL_LOSS) && results_number(o, "eval_loss",
	    &r->eval_loss))
		r->have |= R_EVAL_LOSS;
	if (!sc->step && step_of(o, &step, &max)) {
		sc->last_step = step;
		sc->step = 1;
	}
	return sc->end && (r->have & R_LOSS);
}

int
results_read(const char *output_dir, struct results *r)
{
	struct scan sc;
	size_t len;
	char *buf;
	int fd;

	memset(r, 0, sizeof(*r));
	memset(&sc, 0, sizeof(sc));
	sc.r = r;
	if ((fd = open_log(output_dir)) == -1)
		return errno == ENOENT ? 0 : -1;
	buf = read_tail(fd, RESULTS_TAIL, &len);
	close(fd);
	if (buf == NULL)
		return -1;
	each_line_back(buf, len, take_results, &sc);
	free(buf);
	/* The step lines were past the bound: the end record has them. */
	if (!(r->have & R_LOSS) && sc.hist_loss) {
		r->loss = sc.hloss;
		r->have |= R_LOSS;
	}
	if (!(r->have & R_EVAL_LOSS) && sc.hist_eval) {
		r->eval_loss = sc.heval;
		r->have |= R_EVAL_LOSS;
	}
	/* megatron's end record has no global_step: its last iteration. */
	if (sc.end && !(r->have & R_GLOBAL_STEP) && sc.step) {
		r->global_step = sc.last_step;
		r->have |= R_GLOBAL_STEP;
	}
	return 0;
}

void
results_free(struct results *r)
{
	free(r->last_model_checkpoint);
	free(r->best_model_checkpoint);
	memset(r, 0, sizeof(*r));
}

const char *
results_checkpoint(const struct results *r)
{
	if (r->have & R_BEST_CKPT)
		return r->best_model_checkpoint;
	if (r->have & R_LAST_CKPT)
		return r->last_model_checkpoint;
	return NULL;
}

void
results_to_json(const struct results *r, cJSON *o)
{
	if (r->have & R_LAST_CKPT)
		cJSON_AddStringToObject(o, "last_model_checkpoint",
		    r->last_model_checkpoint);
	if (r->have & R_BEST_CKPT)
		cJSON_AddStringToObject(o, "best_model_checkpoint",
		    r->best_model_checkpoint);
	if (results_checkpoint(r) != NULL)
		cJSON_AddStringToObject(o, "checkpoint",
		    results_checkpoint(r));
	if (r->have & R_BEST_METRIC)
		cJSON_AddNumberToObject(o, "best_metric", r->best_metric);
	if (r->have & R_GLOBAL_STEP)
		cJSON_AddNumberToObject(o, "global_step",
		    (double)r->global_step);
	if (r->have & R_LOSS)
		results_add_number(o, "loss", r->loss);
	if (r->have & R_EVAL_LOSS)
		results_add_number(o, "eval_loss", r->eval_loss);
}

void
results_from_json(struct results *r, const cJSON *o)
{
	memset(r, 0, sizeof(*r));
	take_end(r, o);
	if (results_number(o, "loss", &r->loss))
		r->have |= R_LOSS;
	if (results_number(o, "eval_loss", &r->eval_loss))
		r->have |= R_EVAL_LOSS;
}

/* Seconds in ms-swift's format_time ("1d 2h 3m 4s", "5m 6s", "7s"). */
static long
parse_eta(const char *s)
{
	long total = 0, n;
	char *end;

	while (*s != '\0') {
		while (*s == ' ')
			s++;
		if (!isdigit((unsigned char)*s))
			return -1;
		errno = 0;
		n = strtol(s, &end, 10);
		if (errno != 0 || n > 100000)
			return -1;
		switch (*end) {
		case 'd': n *= 86400; break;
		case 'h': n *= 3600; break;
		case 'm': n *= 60; break;
		case 's': break;
		default: return -1;
		}
		total += n;
		s = end + 1;
	}
	return total;
}

/*
 * each_line_back: the last line with a step ("global_step/max_steps" or
 * "iteration"); the last training loss and eval_loss (an eval line or the
 * summary line, which have a step too, must not hide the loss).
 */
static int
take_progress(void *arg, const cJSON *o)
{
	struct progress *p = arg;
	const cJSON *eta;
	long long step, max;

	if (p->max_steps == 0 && step_of(o, &step, &max)) {
		p->step = step;
		p->max_steps = max;
		eta = cJSON_GetObjectItemCaseSensitive(o, "remaining_time");
		p->remaining = cJSON_IsString(eta) ?
		    parse_eta(eta->valuestring) : -1;
	}
	if (!p->has_loss && results_number(o, "loss", &p->loss))
		p->has_loss = 1;
	if (!p->has_eval_loss && results_number(o, "eval_loss", &p->eval_loss))
		p->has_eval_loss = 1;
	return p->max_steps > 0 && p->has_loss && p->has_eval_loss;
}

int
progress_read(const char *output_dir, struct progress *p)
{
	size_t len;
	char *buf;
	int fd;

	memset(p, 0, sizeof(*p));
	p->remaining = -1;
	if ((fd = open_log(output_dir)) == -1)
		return -1;
	buf = read_tail(fd, PROGRESS_TAIL, &len);
	close(fd);
	if (buf == NULL)
		return -1;
	each_line_back(buf, len, take_progress, p);
	free(buf);
	return p->max_steps > 0 ? 0 : -1;
}

void
progress_format(const struct progress *p, char *buf, size_t size)
{
	char eta[32] = "";
	long r = p->remaining;

	if (p->max_steps <= 0) {
		snprintf(buf, size, "%s", "");
		return;
	}
	if (r >= 86400)
		snprintf(eta, sizeof(eta), " eta %ldd%02ldh", r / 86400,
		    r % 86400 / 3600);
	else if (r >= 3600)
		snprintf(eta, sizeof(eta), " eta %ldh%02ldm", r / 3600,
		    r % 3600 / 60);
	else if (r >= 0)
		snprintf(eta, sizeof(eta), " eta %ldm%02lds", r / 60, r % 60);
	snprintf(buf, size, "%lld/%lld %d%%%s", p->step, p->max_steps,
	    progress_percent(p), eta);
}

int
progress_percent(const struct progress *p)
{
	/* In double: step * 100 overflows a long long past 9e16 steps. */
	if (p->max_steps <= 0 || p->step <= 0)
		return 0;
	if (p->step >= p->max_steps)
		return 100;
	return (int)((double)p->step * 100.0 / (double)p->max_steps);
}

struct curve {
	struct point	*p;
	int		 n;
};

/*
 * each_line_back: a step line with a finite loss (training) or eval_loss
 * (eval), newest first: a NaN is no point of the curve.
 */
static int
take_point(void *arg, const cJSON *o)
{
	struct curve *cv = arg;
	struct point pt;
	long long step, max;

	if (!step_of(o, &step, &max))
		return 0;
	pt.step = (double)step;
	if (!finite_num(o, "loss", &pt.loss))
		pt.loss = NAN;
	if (!finite_num(o, "eval_loss", &pt.eval_loss))
		pt.eval_loss = NAN;
	if (isnan(pt.loss) && isnan(pt.eval_loss))
		return 0;
	if (!finite_num(o, "learning_rate", &pt.lr))
		pt.lr = NAN;
	cv->p[cv->n++] = pt;
	return cv->n == CURVE_MAX;
}

int
results_curve(const char *output_dir, struct point **pts)
{
	struct curve cv = { NULL, 0 };
	struct point t;
	size_t len;
	char *buf;
	int fd, i;

	*pts = NULL;
	if ((fd = open_log(output_dir)) == -1)
		return errno == ENOENT ? 0 : -1;
	buf = read_tail(fd, RESULTS_TAIL, &len);
	close(fd);
	if (buf == NULL || (cv.p = calloc(CURVE_MAX, sizeof(*cv.p))) == NULL) {
		free(buf);
		return -1;
	}
	each_line_back(buf, len, take_point, &cv);
	free(buf);
	for (i = 0; i < cv.n / 2; i++) {
		t = cv.p[i];
		cv.p[i] = cv.p[cv.n - 1 - i];
		cv.p[cv.n - 1 - i] = t;
	}
	*pts = cv.p;
	return cv.n;
}
