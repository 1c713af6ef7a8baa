/*
 * metrics.c: counters in a shared mapping, gauges at scrape time, the
 * Prometheus text format.  See metrics.h.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>
#include <openssl/crypto.h>

#include "deployment.h"
#include "metrics.h"
#include "queue.h"
#include "results.h"
#include "util.h"

#ifndef VERSION
#define VERSION "dev"
#endif

#define METRICS_FILE	".metrics"
#define LAST_SUCCESS	".last-success"
#define COUNTERS_SIZE	4096	/* struct counters, in the first page */
#define REPOS_MAX	MAX_SECTIONS	/* repositories counted apart */
#define REPO_LEN	104	/* "owner/name", lower case, and its NUL */
#define METRICS_SIZE	(COUNTERS_SIZE + REPOS_MAX * \
	sizeof(struct repo_counters))
#define METRICS_MAGIC	0x3130534349525445ULL	/* "ETRICS01" */
#define BRANCHES_MAX	1000	/* last-success files read per scrape */

static const int statuses[] = { 200, 202, 400, 401, 404, 405, 413, 415,
	500, 503 };
#define NSTATUS	(sizeof(statuses) / sizeof(statuses[0]))
static const char *const decisions[] = { "started", "ignored", "duplicate",
	"ping", "rejected", "busy", "error" };
#define NDECISION (sizeof(decisions) / sizeof(decisions[0]))
static const char *const deploy_events[DEPLOY_EVENTS] = {
	[DEPLOY_STARTED] = "started", [DEPLOY_SUCCEEDED] = "succeeded",
	[DEPLOY_FAILED_EV] = "failed", [DEPLOY_RESTARTED] = "restarts"
};
static const char *const finals[] = { "succeeded", "failed", "killed",
	"cancelled", "superseded", "timeout" };
#define NFINAL	(sizeof(finals) / sizeof(finals[0]))
/* Run durations: from a minute to a day. */
static const long buckets[] = { 60, 300, 900, 1800, 3600, 7200, 14400,
	28800, 43200, 86400 };
#define NBUCKET	(sizeof(buckets) / sizeof(buckets[0]))

struct counters {
	uint64_t	magic;
	uint64_t	deliveries[NSTATUS][NDECISION];
	uint64_t	ended[NFINAL];
	uint64_t	duration[NBUCKET + 1];	/* per bucket; last: +Inf */
	uint64_t	duration_sum;		/* seconds */
	uint64_t	duration_count;
	uint64_t	lost;			/* after the rest: a file
						   written before it was
						   added still fits */
	uint64_t	deploy[DEPLOY_EVENTS];	/* the same */
};

/*
 * A configuration section's repository's share of the counters, after
 * the first page: claimed by the first delivery of that repository to be
 * counted (hash, from 0, with an atomic compare-and-swap; then its name,
 * the same bytes whoever writes them), found again by its hash.
 */
struct repo_counters {
	uint64_t	hash;		/* 0: free; else of name, never 0 */
	char		name[REPO_LEN];
	uint64_t	deliveries[NSTATUS][NDECISION];
	uint64_t	ended[NFINAL + 1];	/* the last: lost */
};

static struct counters *M;	/* this process's mapping, or NULL */
static int M_writable;

/*
 * Maps .metrics: to add to (made if missing, by its owner only), or only
 * to read (a scrape: never made, never written).
 */
static int
map_counters(struct rundir *rd, int writable)
{
	struct counters *m;
	struct stat st;
	uint64_t zero = 0;
	int fd;

	if (M != NULL && (M_writable || !writable))
		return 0;
	if (writable && geteuid() != rd->uid) {
		errno = EPERM;	/* a file of ours there would lock it out */
		return -1;
	}
	if ((fd = file_open_at(rd->fd, METRICS_FILE, writable ? O_RDWR |
	    O_CREAT : O_RDONLY, 0640, rd->uid)) == -1)
		return -1;
	/* A longer file is fine; a shorter one would SIGBUS us. */
	if (fstat(fd, &st) == -1 || ((size_t)st.st_size < METRICS_SIZE &&
	    (!writable || ftruncate(fd, METRICS_SIZE) == -1))) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	m = mmap(NULL, METRICS_SIZE, writable ? PROT_READ | PROT_WRITE :
	    PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (m == MAP_FAILED)
		return -1;
	/* A new file is zeros: the first process to see it marks it. */
	if (writable)
		__atomic_compare_exchange_n(&m->magic, &zero, METRICS_MAGIC,
		    0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&m->magic, __ATOMIC_SEQ_CST) != METRICS_MAGIC) {
		munmap(m, METRICS_SIZE);
		errno = EINVAL;		/* not ours: never written to */
		return -1;
	}
	if (M != NULL)
		munmap(M, METRICS_SIZE);
	M = m;
	M_writable = writable;
	return 0;
}

int
metrics_open(struct rundir *rd)
{
	return map_counters(rd, 1);
}

static void
add(uint64_t *p, uint64_t n)
{
	__atomic_fetch_add(p, n, __ATOMIC_RELAXED);
}

static uint64_t
get(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static struct repo_counters *
repos(void)
{
	return (struct repo_counters *)((char *)M + COUNTERS_SIZE);
}

/* name's hash: the first 16 hex digits of its SHA-256, never 0. */
static uint64_t
repo_hash(const char *name)
{
	char hex[17];

	sha256_hex(name, 8, hex);
	return strtoull(hex, NULL, 16) | 1;
}

/*
 * The counters of repository name (any case; NULL: none), claimed if
 * claim is set and it has none yet; NULL if it has none, or all are
 * taken.
 */
static struct repo_counters *
repo_counters(const char *name, int claim)
{
	struct repo_counters *r;
	char low[REPO_LEN];
	uint64_t h, v;
	size_t i, k;

	if (M == NULL || name == NULL || strlen(name) >= REPO_LEN ||
	    !repo_name_valid(name))
		return NULL;
	for (i = 0; name[i] != '\0'; i++)
		low[i] = (char)tolower((unsigned char)name[i]);
	low[i] = '\0';
	h = repo_hash(low);
	for (k = 0; k < REPOS_MAX; k++) {
		r = &repos()[(h + k) % REPOS_MAX];
		if ((v = __atomic_load_n(&r->hash, __ATOMIC_ACQUIRE)) == h)
			return r;
		if (v != 0)
			continue;
		if (!claim || !M_writable)
			return NULL;
		if (__atomic_compare_exchange_n(&r->hash, &v, h, 0,
		    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE) || v == h) {
			memcpy(r->name, low, strlen(low) + 1);
			return r;
		}
	}
	return NULL;
}

void
metrics_delivery(const char *run_dir, int status, const char *decision,
    const char *repository)
{
	struct repo_counters *r;
	struct rundir rd;
	char err[256];
	size_t s, d;

	if (M == NULL || !M_writable) {
		if (run_dir == NULL ||
		    rundir_open(&rd, run_dir, 1, err, sizeof(err)) == -1)
			return;
		metrics_open(&rd);
		rundir_close(&rd);
		if (M == NULL || !M_writable)
			return;
	}
	for (s = 0; s < NSTATUS && statuses[s] != status; s++)
		;
	if (s == NSTATUS)
		return;
	if (status >= 200 && status < 300) {
		for (d = 0; d < NDECISION && strcmp(decisions[d], strcmp(
		    decision, "ok") == 0 ? "ping" : decision) != 0; d++)
			;
		if (d == NDECISION)
			return;
	} else
		d = status == 503 ? 5 : status >= 500 ? 6 : 4;
	/* The total first: a scrape reads the shares first (see below). */
	add(&M->deliveries[s][d], 1);
	if ((r = repo_counters(repository, 1)) != NULL)
		add(&r->deliveries[s][d], 1);
}

/*
 * run_dir/.last-success/<hash>: "TIME BRANCH REPOSITORY\n" for the gauge
 * (hash of "repository\nbranch"; "TIME BRANCH" and the branch's hash
 * alone before repositories were, or for a repository name no section
 * could have).
 */
static void
last_success(struct rundir *rd, const struct job *j)
{
	char name[40], buf[512], key[REPO_LEN + 512];
	const char *repo = j->repository;
	int dfd, n;

	if (mkdirat(rd->fd, LAST_SUCCESS, 0750) == -1 && errno != EEXIST)
		return;
	if ((dfd = dir_open_at(rd->fd, LAST_SUCCESS, rd->uid)) == -1)
		return;
	if (repo != NULL && (strlen(repo) >= REPO_LEN ||
	    !repo_name_valid(repo)))
		repo = NULL;
	snprintf(key, sizeof(key), "%s\n%s", repo ? repo : "", j->branch);
	sha256_hex(repo ? key : j->branch, 8, name);
	n = snprintf(buf, sizeof(buf), "%lld %s%s%s\n", (long long)j->finished,
	    j->branch, repo ? " " : "", repo ? repo : "");
	if (n > 0 && (size_t)n < sizeof(buf))
		file_write_at(dfd, name, buf, n, 0640, 0);
	close(dfd);
}

void
metrics_job_ended(struct rundir *rd, const struct job *j)
{
	struct repo_counters *r;
	size_t i;
	long d;

	if (j->state == NULL || metrics_open(rd) == -1)
		return;
	for (i = 0; i < NFINAL && strcmp(finals[i], j->state) != 0; i++)
		;
	if (i < NFINAL)
		add(&M->ended[i], 1);
	else if (strcmp(j->state, "lost") == 0)
		add(&M->lost, 1);
	else
		return;
	/* Its repository's share, if a delivery of it was counted apart. */
	if ((r = repo_counters(j->repository, 0)) != NULL)
		add(&r->ended[i], 1);
	if (j->started != 0 && j->finished >= j->started) {
		d = (long)(j->finished - j->started);
		for (i = 0; i < NBUCKET && d > buckets[i]; i++)
			;
		add(&M->duration[i], 1);
		add(&M->duration_sum, (uint64_t)d);
		add(&M->duration_count, 1);
	}
	if (strcmp(j->state, "succeeded") == 0 && j->branch != NULL)
		last_success(rd, j);
}

void
metrics_deploy(struct rundir *rd, enum deploy_event e)
{
	if (metrics_open(rd) == 0)
		add(&M->deploy[e], 1);
}

/* Whether the responder answers a delivery with status and decision. */
static int
pair_possible(int status, const char *decision)
{
	if (status == 200)
		return strcmp(decision, "ignored") == 0 ||
		    strcmp(decision, "duplicate") == 0 ||
		    strcmp(decision, "ping") == 0;
	if (status == 202)
		return strcmp(decision, "started") == 0;
	if (status == 503)
		return strcmp(decision, "busy") == 0;
	if (status >= 500)
		return strcmp(decision, "error") == 0;
	return strcmp(decision, "rejected") == 0;
}

/*
 * A label value: \\, " and newline escaped, as the text format wants, and
 * valid UTF-8 (Prometheus refuses the whole exposition otherwise): each
 * byte that does not start or continue a well-formed sequence becomes
 * U+FFFD.  A branch is the pusher's, a config the trainer's record.
 */
static void
label(FILE *f, const char *name, const char *v)
{
	const unsigned char *u = (const unsigned char *)v;
	size_t i = 0, len, m;

	fprintf(f, "%s=\"", name);
	while (u != NULL && u[i] != '\0') {
		len = u[i] < 0x80 ? 1 : u[i] >= 0xc2 && u[i] <= 0xdf ? 2 :
		    u[i] >= 0xe0 && u[i] <= 0xef ? 3 : u[i] >= 0xf0 &&
		    u[i] <= 0xf4 ? 4 : 0;
		for (m = 1; len > 1 && m < len && (u[i + m] & 0xc0) == 0x80;
		    m++)
			;
		/* No overlong or surrogate forms either. */
		if (len == 0 || m < len || (len == 3 && ((u[i] == 0xe0 &&
		    u[i + 1] < 0xa0) || (u[i] == 0xed && u[i + 1] >= 0xa0))) ||
		    (len == 4 && ((u[i] == 0xf0 && u[i + 1] < 0x90) ||
		    (u[i] == 0xf4 && u[i + 1] >= 0x90)))) {
			fputs("\xef\xbf\xbd", f);
			i += len > 1 ? m : 1;
			continue;
		}
		if (u[i] == '\\' || u[i] == '"')
			fputc('\\', f);
		if (u[i] == '\n')
			fputs("\\n", f);
		else
			fwrite(u + i, 1, len, f);
		i += len;
	}
	fputc('"', f);
}

static void
help(FILE *f, const char *name, const char *type, const char *text)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

/*
 * One counter's series: without sections, the total (labels lab, a
 * string of "name=\"value\"" pairs); with them, a series per configured
 * repository (its share; 0 before its first) and one with repository=""
 * for the rest (what came before the repository was known, or of none
 * configured).  The shares are read before the total, which is added to
 * first: the rest is never below 0.
 */
static void
series(FILE *f, const struct conf *c, const char *metric, const char *lab,
    const uint64_t *total, size_t off)
{
	struct repo_counters *r;
	uint64_t v, sum = 0;
	size_t i;

	for (i = 0; i < c->nsections; i++)
		if ((r = repo_counters(c->sections[i].name, 0)) != NULL &&
		    r->name[0] != '\0' && repo_hash(r->name) == r->hash) {
			v = get((uint64_t *)((char *)r + off));
			sum += v;
			fprintf(f, "%s{repository=\"%s\",%s} %llu\n", metric,
			    c->sections[i].name, lab, (unsigned long long)v);
		} else if (c->nsections > 0)
			fprintf(f, "%s{repository=\"%s\",%s} 0\n", metric,
			    c->sections[i].name, lab);
	v = total != NULL ? get(total) : 0;
	fprintf(f, "%s{%s%s} %llu\n", metric, c->nsections > 0 ?
	    "repository=\"\"," : "", lab, (unsigned long long)(v >= sum ? v -
	    sum : 0));
}

static void
render_counters(FILE *f, const struct conf *c)
{
	uint64_t cum = 0;
	size_t s, d;
	char lab[64];

	help(f, "swift_webhook_deliveries_total", "counter",
	    "Deliveries answered, by HTTP status and decision (and "
	    "repository, with sections).");
	/*
	 * Every pair the responder can answer with, from 0: a series that
	 * appears only at its first delivery loses it to increase().
	 */
	for (s = 0; s < NSTATUS; s++)
		for (d = 0; d < NDECISION; d++)
			if ((M != NULL && get(&M->deliveries[s][d]) > 0) ||
			    pair_possible(statuses[s], decisions[d])) {
				snprintf(lab, sizeof(lab), "status=\"%d\","
				    "decision=\"%s\"", statuses[s],
				    decisions[d]);
				series(f, c, "swift_webhook_deliveries_total",
				    lab, M ? &M->deliveries[s][d] : NULL,
				    offsetof(struct repo_counters,
				    deliveries[s][d]));
			}
	help(f, "swift_webhook_jobs_finished_total", "counter",
	    "Jobs that reached a final state, by that state (and "
	    "repository, with sections).");
	for (s = 0; s <= NFINAL; s++) {
		snprintf(lab, sizeof(lab), "state=\"%s\"", s < NFINAL ?
		    finals[s] : "lost");
		series(f, c, "swift_webhook_jobs_finished_total", lab, M ?
		    (s < NFINAL ? &M->ended[s] : &M->lost) : NULL,
		    offsetof(struct repo_counters, ended[s]));
	}
	help(f, "swift_webhook_job_duration_seconds", "histogram",
	    "How long the trainer of each ended job ran.");
	for (s = 0; s <= NBUCKET; s++) {
		cum += M ? get(&M->duration[s]) : 0;
		if (s < NBUCKET)
			fprintf(f, "swift_webhook_job_duration_seconds_bucket{"
			    "le=\"%ld\"} %llu\n", buckets[s],
			    (unsigned long long)cum);
		else
			fprintf(f, "swift_webhook_job_duration_seconds_bucket{"
			    "le=\"+Inf\"} %llu\n", (unsigned long long)cum);
	}
	fprintf(f, "swift_webhook_job_duration_seconds_sum %llu\n"
	    "swift_webhook_job_duration_seconds_count %llu\n",
	    M ? (unsigned long long)get(&M->duration_sum) : 0ULL,
	    M ? (unsigned long long)get(&M->duration_count) : 0ULL);
}

struct live {
	int	 queued, preparing, running, lost;
};

/* The jobs a scrape looks at, read once (at most MAX_LIVE). */
#define MAX_LIVE	1000

struct seen {
	struct rundir	*rd;
	struct job	*j;
	struct progress	*p;
	int		*ok;
	int		 n;
	char		 oldest[JOB_ID_MAX];	/* queued, "" if none */
};

/* Reads job id into the next place of sn; 1 once full. */
static int
seen_add(struct seen *sn, const char *id)
{
	char path[PATH_MAX];
	int i = sn->n;

	if (sn->n == MAX_LIVE)
		return 1;
	if (!job_id_valid(id) || job_read(sn->rd, id, &sn->j[i]) == -1)
		return 0;
	sn->ok[i] = 1;
	if (progress_read(job_output_dir(&sn->j[i], path), &sn->p[i]) == -1)
		sn->p[i].max_steps = 0;
	if (sn->j[i].state == JOB_QUEUED && !job_lost(sn->rd, &sn->j[i]) &&
	    (sn->oldest[0] == '\0' || strcmp(id, sn->oldest) < 0))
		snprintf(sn->oldest, sizeof(sn->oldest), "%s", id);
	sn->n++;
	return 0;
}

/* dir_each on .live: a Slurm job that has not ended. */
static int
live_one(void *arg, const char *name)
{
	return seen_add(arg, name);
}

/*
 * The jobs a scrape counts: those on local slots, or with backend =
 * slurm those marked live (rundir.h).  Returns 0, or -1 if out of memory.
 */
static int
seen_load(struct seen *sn, struct rundir *rd, const struct conf *c)
{
	char ids[MAX_SLOTS][JOB_ID_MAX];
	int i, n;

	memset(sn, 0, sizeof(*sn));
	sn->rd = rd;
	n = c->backend == BACKEND_SLURM ? MAX_LIVE : MAX_SLOTS;
	sn->j = calloc(n, sizeof(*sn->j));
	sn->p = calloc(n, sizeof(*sn->p));
	sn->ok = calloc(n, sizeof(*sn->ok));
	if (sn->j == NULL || sn->p == NULL || sn->ok == NULL)
		return -1;
	if (c->backend == BACKEND_SLURM) {
		if (rd->live != -1)
			dir_each(rd->live, live_one, sn);
		return 0;
	}
	n = slots_running(rd, c, ids, MAX_SLOTS);
	for (i = 0; i < n; i++)
		seen_add(sn, ids[i]);
	return 0;
}

static void
seen_free(struct seen *sn)
{
	int i;

	for (i = 0; i < sn->n; i++)
		if (sn->ok[i])
			job_close(&sn->j[i]);
	free(sn->j);
	free(sn->p);
	free(sn->ok);
}

/* A running job's gauge line: its labels, then its value. */
static void
job_gauge(FILE *f, const char *name, const struct job *j)
{
	fprintf(f, "%s{", name);
	label(f, "job_id", j->id);	/* "job" is Prometheus' own */
	label(f, ",branch", j->branch);
	label(f, ",config", j->config);
	fputs("} ", f);
}

/*
 * The jobs now: their count by state, progress and last loss.  queued is
 * the local queue's length (-1 with backend = slurm: counted here).
 */
static void
render_running(FILE *f, const struct seen *sn, const struct conf *c,
    int queued)
{
	struct live l = { 0, 0, 0, 0 };
	int i, busy = 0, held;

	for (i = 0; i < sn->n; i++) {
		if (job_lost(sn->rd, &sn->j[i]))
			l.lost++;
		else if (sn->j[i].state == JOB_QUEUED)
			l.queued++;
		else if (sn->j[i].state == JOB_PREPARING)
			l.preparing++;
		else if (sn->j[i].state == JOB_RUNNING)
			l.running++;
		busy++;
	}
	help(f, "swift_webhook_jobs", "gauge",
	    "Jobs waiting or running now, by state.");
	fprintf(f, "swift_webhook_jobs{state=\"queued\"} %d\n"
	    "swift_webhook_jobs{state=\"preparing\"} %d\n"
	    "swift_webhook_jobs{state=\"running\"} %d\n"
	    "swift_webhook_jobs{state=\"lost\"} %d\n", queued >= 0 ? queued :
	    l.queued, l.preparing, l.running, l.lost);
	help(f, "swift_webhook_job_progress_ratio", "gauge",
	    "A running job's global_step / max_steps, from logging.jsonl.");
	for (i = 0; i < sn->n; i++)
		if (sn->j[i].state != JOB_QUEUED && sn->p[i].max_steps > 0) {
			job_gauge(f, "swift_webhook_job_progress_ratio",
			    &sn->j[i]);
			fprintf(f, "%.6g\n", (double)sn->p[i].step /
			    (double)sn->p[i].max_steps);
		}
	help(f, "swift_webhook_job_loss", "gauge",
	    "A running job's last logged loss, from logging.jsonl.");
	for (i = 0; i < sn->n; i++)
		if (sn->j[i].state != JOB_QUEUED && sn->p[i].max_steps > 0 &&
		    sn->p[i].has_loss) {
			job_gauge(f, "swift_webhook_job_loss", &sn->j[i]);
			/* The text format's names for what is not finite. */
			if (isfinite(sn->p[i].loss))
				fprintf(f, "%.9g\n", sn->p[i].loss);
			else
				fprintf(f, "%s\n", isnan(sn->p[i].loss) ? "NaN" :
				    sn->p[i].loss > 0 ? "+Inf" : "-Inf");
		}
	if (c->backend == BACKEND_SLURM)
		return;		/* the cluster's slots, not ours */
	help(f, "swift_webhook_slots_in_use", "gauge",
	    "Slots (GPUs with gpus set) a job holds now.");
	held = busy * (int)c->gpus_per_job > c->slots ? (int)c->slots :
	    busy * (int)c->gpus_per_job;
	fprintf(f, "swift_webhook_slots_in_use %d\n", held);
	help(f, "swift_webhook_slots_configured", "gauge",
	    "Slots configured.");
	fprintf(f, "swift_webhook_slots_configured %ld\n", c->slots);
	help(f, "swift_webhook_gpus_in_use", "gauge",
	    "GPUs held by jobs (0 without gpus).");
	fprintf(f, "swift_webhook_gpus_in_use %d\n", c->gpus.n == 0 ? 0 :
	    held);
}

/* A last-success file as read: when, which branch, of which repository. */
struct success {
	long long	 t;
	char		*branch;
	char		*repo;		/* "": before repositories were */
};

struct successes {
	int		 dfd, n;
	struct success	 s[BRANCHES_MAX];
	char		*text[BRANCHES_MAX];
};

/* dir_each on .last-success: each file, "TIME BRANCH [REPOSITORY]". */
static int
success_read(void *arg, const char *name)
{
	struct successes *a = arg;
	struct success *s = &a->s[a->n];
	char *t, *sp, *r;

	if (a->n == BRANCHES_MAX)
		return 1;
	if ((t = file_read_at(a->dfd, name, 512, NULL, ANY_OWNER)) == NULL)
		return 0;
	t[strcspn(t, "\n")] = '\0';
	if (sscanf(t, "%lld", &s->t) != 1 || (sp = strchr(t, ' ')) == NULL ||
	    !utf8_valid(sp + 1)) {
		free(t);
		return 0;
	}
	s->branch = sp + 1;
	if ((r = strchr(s->branch, ' ')) != NULL) {
		*r++ = '\0';
		if (!repo_name_valid(r)) {
			free(t);
			return 0;
		}
	}
	s->repo = r != NULL ? r : "";
	a->text[a->n++] = t;
	return 0;
}

/*
 * The last-success gauges: without sections, one per branch (the latest
 * of any repository's); with them, one per configured repository and
 * branch, and repository="" for what came before them.
 */
static void
render_successes(FILE *f, struct rundir *rd, const struct conf *c)
{
	struct successes *a;
	struct success *s, *o;
	int i, k, dup;

	help(f, "swift_webhook_last_success_timestamp_seconds", "gauge",
	    "When a job of the branch (and repository, with sections) last "
	    "succeeded.");
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return;
	if ((a->dfd = dir_open_at(rd->fd, LAST_SUCCESS, rd->uid)) != -1) {
		dir_each(a->dfd, success_read, a);
		close(a->dfd);
	}
	for (i = 0; i < a->n; i++) {
		s = &a->s[i];
		if (c->nsections == 0)
			s->repo = "";
		else if (*s->repo != '\0' && conf_section((struct conf *)c,
		    s->repo) == NULL)
			continue;	/* of no section now */
		/* One series each: the latest of those with its labels. */
		for (k = dup = 0; k < a->n && !dup; k++) {
			o = &a->s[k];
			dup = k != i && strcmp(o->branch, s->branch) == 0 &&
			    strcasecmp(c->nsections == 0 ? "" : o->repo,
			    s->repo) == 0 && (o->t > s->t || (o->t == s->t &&
			    k < i));
		}
		if (dup)
			continue;
		fputs("swift_webhook_last_success_timestamp_seconds{", f);
		if (c->nsections > 0) {
			label(f, "repository", conf_section((struct conf *)c,
			    s->repo) != NULL ? conf_section((struct conf *)c,
			    s->repo)->name : "");
			fputc(',', f);
		}
		label(f, "branch", s->branch);
		fprintf(f, "} %lld\n", s->t);
	}
	for (i = 0; i < a->n; i++)
		free(a->text[i]);
	free(a);
}

#define LIVE_SERIES	64	/* live deployments shown */

/*
 * The deployments (deployment.h): counters of started, succeeded (went
 * live), failed and restarts, and one info series per live deployment.
 */
static void
render_deployments(FILE *f, struct rundir *rd)
{
	static const char *const help_of[DEPLOY_EVENTS] = {
		"Deployments started (a run to serve, or a rollback).",
		"Deployments that became healthy and went live.",
		"Deployments that never became healthy, or died for good.",
		"Restarts of live deployments that died.",
	};
	struct deployment live[LIVE_SERIES];
	char name[64], port[16];
	size_t i;
	int n, k;

	for (i = 0; i < DEPLOY_EVENTS; i++) {
		snprintf(name, sizeof(name), "swift_webhook_deployments_%s_total",
		    deploy_events[i]);
		help(f, name, "counter", help_of[i]);
		fprintf(f, "%s %llu\n", name, M != NULL ?
		    (unsigned long long)get(&M->deploy[i]) : 0ULL);
	}
	help(f, "swift_webhook_deployment_info", "gauge",
	    "1 for each deployment that holds its port (starting, serving, "
	    "stopping).");
	n = deployment_live_list(rd, DEPLOY_ANY, NULL, live, LIVE_SERIES);
	for (k = 0; k < n; k++) {
		snprintf(port, sizeof(port), "%d", live[k].port);
		fputs("swift_webhook_deployment_info{", f);
		label(f, "job", live[k].job);
		fputc(',', f);
		label(f, "commit", live[k].sha);
		fputc(',', f);
		label(f, "port", live[k].port > 0 ? port : "");
		fputc(',', f);
		label(f, "state", live[k].state);
		if (live[k].repository[0] != '\0') {
			fputc(',', f);
			label(f, "repository", live[k].repository);
		}
		fputs("} 1\n", f);
	}
}

char *
metrics_render(struct rundir *rd, const struct conf *c, size_t *len)
{
	char oldest[JOB_ID_MAX], *out = NULL;
	struct seen sn;
	size_t size = 0;
	time_t t;
	FILE *f;
	int queued, i;

	if (M == NULL)
		map_counters(rd, 0);	/* none yet: all zero */
	if ((f = open_memstream(&out, &size)) == NULL)
		return NULL;
	render_counters(f, conf_file((struct conf *)c));
	if (seen_load(&sn, rd, c) == -1) {
		seen_free(&sn);
		fclose(f);
		free(out);
		return NULL;
	}
	if (c->backend == BACKEND_SLURM) {
		/* Slurm queues: the jobs it has pending. */
		snprintf(oldest, sizeof(oldest), "%s", sn.oldest);
		for (queued = 0, i = 0; i < sn.n; i++)
			queued += sn.j[i].state == JOB_QUEUED &&
			    !job_lost(rd, &sn.j[i]);
		render_running(f, &sn, c, queued);
	} else {
		if ((queued = queue_peek(rd, oldest)) < 0)
			queued = 0;
		render_running(f, &sn, c, queued);
	}
	seen_free(&sn);
	help(f, "swift_webhook_queue_length", "gauge", "Jobs waiting.");
	fprintf(f, "swift_webhook_queue_length %d\n", queued);
	help(f, "swift_webhook_oldest_queued_age_seconds", "gauge",
	    "How long the oldest waiting job has waited (0: none waits).");
	t = oldest[0] ? job_id_time(oldest) : 0;
	fprintf(f, "swift_webhook_oldest_queued_age_seconds %lld\n",
	    t != 0 && t <= time(NULL) ? (long long)(time(NULL) - t) : 0LL);
	render_successes(f, rd, conf_file((struct conf *)c));
	render_deployments(f, rd);
	help(f, "swift_webhook_build_info", "gauge",
	    "The version of swift-webhook and of its libraries.");
	fprintf(f, "swift_webhook_build_info{version=\"%s\",openssl=\"%s\","
	    "cjson=\"%s\"} 1\n", VERSION, OpenSSL_version(OPENSSL_VERSION),
	    cJSON_Version());
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	*len = size;
	return out;
}
