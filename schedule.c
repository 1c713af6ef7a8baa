/*
 * schedule.c: the clock, training windows and the daily budget.  See
 * schedule.h.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "job.h"
#include "queue.h"
#include "schedule.h"
#include "spawn.h"
#include "util.h"

time_t
sched_now(void)
{
#ifdef TEST_CLOCK
	static long long offset;
	static int read;
	const char *s;

	if (!read) {
		if ((s = getenv("SWIFT_WEBHOOK_TEST_CLOCK")) != NULL)
			offset = strtoll(s, NULL, 10);
		read = 1;
	}
	return time(NULL) + (time_t)offset;
#else
	return time(NULL);
#endif
}

static const char *const days[7] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
};

/* A day's name at *s (three letters, any case), its tm_wday, or -1. */
static int
day_at(const char **s)
{
	int i;

	for (i = 0; i < 7; i++)
		if (strncasecmp(*s, days[i], 3) == 0 &&
		    !isalpha((unsigned char)(*s)[3])) {
			*s += 3;
			return i;
		}
	return -1;
}

/* "HH:MM" at *s (00:00 to 24:00), in minutes, or -1. */
static int
minutes_at(const char **s)
{
	const char *p = *s;
	int h, m;

	if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]) ||
	    p[2] != ':' || !isdigit((unsigned char)p[3]) ||
	    !isdigit((unsigned char)p[4]))
		return -1;
	h = (p[0] - '0') * 10 + p[1] - '0';
	m = (p[3] - '0') * 10 + p[4] - '0';
	if (m > 59 || h > 24 || (h == 24 && m != 0))
		return -1;
	*s = p + 5;
	return h * 60 + m;
}

int
sched_parse_windows(struct conf *c, const char *v, char *err, size_t errlen)
{
	const char *s = v, *start;
	struct window *w;
	int a, b, d;

	c->nwindows = 0;
	while (*s != '\0') {
		while (isspace((unsigned char)*s))
			s++;
		start = s;
		if (c->nwindows == MAX_WINDOWS) {
			snprintf(err, errlen, "more than %d windows",
			    MAX_WINDOWS);
			return -1;
		}
		w = &c->windows[c->nwindows];
		w->days = 0x7f;		/* no days: every day */
		if ((a = day_at(&s)) >= 0) {
			b = a;
			if (*s == '-') {
				s++;
				if ((b = day_at(&s)) == -1)
					goto bad;
			}
			for (w->days = 0, d = a;; d = (d + 1) % 7) {
				w->days |= 1 << d;
				if (d == b)
					break;
			}
			if (!isspace((unsigned char)*s))
				goto bad;
			while (isspace((unsigned char)*s))
				s++;
		}
		if ((a = minutes_at(&s)) == -1 || *s++ != '-' ||
		    (b = minutes_at(&s)) == -1 || a == 24 * 60 || a == b)
			goto bad;
		w->start = (short)a;
		w->end = (short)b;
		c->nwindows++;
		while (isspace((unsigned char)*s))
			s++;
		if (*s == ',')
			s++;
		else if (*s != '\0')
			goto bad;
	}
	if (c->nwindows > 0)
		return 0;
	snprintf(err, errlen, "no window in \"%s\"", v);
	return -1;
bad:
	snprintf(err, errlen, "\"%.*s\" is not a window like \"Mon-Fri "
	    "09:00-19:00\" or \"22:00-06:00\"", (int)strcspn(start, ","),
	    start);
	return -1;
}

int
sched_zone_valid(const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	if (name[0] == '/' || name[0] == '\0' || strstr(name, "..") ||
	    name[strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq"
	    "rstuvwxyz0123456789/_+-")] != '\0')
		return 0;
	snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", name);
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The configured zone for localtime_r and mktime. */
static void
zone(const struct conf *c)
{
	const char *tz = getenv("TZ");

	if (c->timezone == NULL || (tz != NULL && strcmp(tz, c->timezone) ==
	    0))
		return;
	setenv("TZ", c->timezone, 1);
	tzset();
}

int
sched_open(const struct conf *c, time_t t)
{
	const struct window *w;
	struct tm tm;
	int i, m, yday;

	if (c->nwindows == 0)
		return 1;
	zone(c);
	localtime_r(&t, &tm);
	m = tm.tm_hour * 60 + tm.tm_min;
	yday = (tm.tm_wday + 6) % 7;
	for (i = 0; i < c->nwindows; i++) {
		w = &c->windows[i];
		if (w->start < w->end) {
			if ((w->days & 1 << tm.tm_wday) && m >= w->start &&
			    m < w->end)
				return 1;
		} else if (((w->days & 1 << tm.tm_wday) && m >= w->start) ||
		    ((w->days & 1 << yday) && m < w->end))
			return 1;	/* overnight: from the day it starts */
	}
	return 0;
}

time_t
sched_next_open(const struct conf *c, time_t t)
{
	struct tm tm, at;
	time_t best = -1, x;
	int d, i;

	if (sched_open(c, t))
		return t;
	localtime_r(&t, &tm);
	for (d = 0; d <= 7; d++)
		for (i = 0; i < c->nwindows; i++) {
			if (!(c->windows[i].days & 1 << (tm.tm_wday + d) % 7))
				continue;
			memset(&at, 0, sizeof(at));
			at.tm_year = tm.tm_year;
			at.tm_mon = tm.tm_mon;
			at.tm_mday = tm.tm_mday + d;
			at.tm_hour = c->windows[i].start / 60;
			at.tm_min = c->windows[i].start % 60;
			at.tm_isdst = -1;
			if ((x = mktime(&at)) > t && (best == -1 || x < best))
				best = x;
		}
	return best;
}

void
sched_format(const struct conf *c, time_t t, char buf[32])
{
	struct tm tm;

	zone(c);
	localtime_r(&t, &tm);
	if (strftime(buf, 32, "%a %Y-%m-%d %H:%M", &tm) == 0)
		buf[0] = '\0';
}

/*
 * The waiter, detached, holding lock: sleeps until a window opens (a
 * minute at most, reading the config again each time, so that a changed
 * run_window counts), then kicks the queue.  It ends when nothing waits;
 * before that it lets the lock go and looks once more, so that a job
 * queued meanwhile finds either it or the lock free for a new waiter.
 */
static void
waiter(struct rundir *rd, struct conf *c, int lock)
{
	char oldest[JOB_ID_MAX], err[512];
	struct conf nc;
	time_t now, next;

	/* rd's path is c's run_dir, which a reload frees. */
	if ((rd->path = strdup(rd->path)) == NULL)
		return;
	for (;;) {
		if (queue_peek(rd, oldest) <= 0) {
			flock(lock, LOCK_UN);
			if (queue_peek(rd, oldest) <= 0 ||
			    flock(lock, LOCK_EX | LOCK_NB) == -1)
				return;
			continue;
		}
		now = sched_now();
		if (sched_open(c, now)) {
			job_kick(rd, c);
			return;
		}
		next = sched_next_open(c, now);
		sleep(next == -1 || next - now > 60 ? 60 :
		    (unsigned)(next - now));
		if (conf_load(&nc, c->path, err, sizeof(err)) == 0) {
			conf_wipe_secret(&nc);
			conf_free(c);
			*c = nc;
		}
	}
}

void
sched_wait_window(struct rundir *rd, struct conf *c)
{
	char oldest[JOB_ID_MAX];
	int lock;

	if (c->nwindows == 0 || sched_open(c, sched_now()) ||
	    queue_peek(rd, oldest) <= 0)
		return;
	if ((lock = file_open_at(rd->fd, ".window.lock", O_RDWR | O_CREAT,
	    0600, rd->uid)) == -1)
		return;
	/* The waiter holds the lock through the descriptor it inherits. */
	if (flock(lock, LOCK_EX | LOCK_NB) == 0)
		spawn_detached(rd, c, lock, waiter);
	close(lock);
}

/* The repository's hash, the first 12 hex digits of its SHA-256. */
static void
repo_hash(const char *repository, char out[13])
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	int i;

	SHA256((const unsigned char *)repository, strlen(repository), md);
	for (i = 0; i < 6; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Opens .runs/day (made if missing).  Returns it, or -1. */
static int
day_open(struct rundir *rd, const char *day)
{
	int runs, dfd;

	if (mkdirat(rd->fd, ".runs", 0750) == -1 && errno != EEXIST)
		return -1;
	if ((runs = dir_open_at(rd->fd, ".runs", rd->uid)) == -1)
		return -1;
	if (mkdirat(runs, day, 0750) == -1 && errno != EEXIST) {
		close(runs);
		return -1;
	}
	dfd = dir_open_at(runs, day, rd->uid);
	close(runs);
	return dfd;
}

enum ticket_result
sched_ticket_take(struct rundir *rd, const struct conf *c,
    const char *repository, const char *id, char name[64], char *err,
    size_t errlen)
{
	char day[16], hash[13], file[32];
	struct tm tm;
	time_t now;
	long n;
	int dfd, fd;

	name[0] = '\0';
	if (c->max_runs_per_day == 0)
		return TICKET_OK;
	zone(c);
	now = sched_now();
	localtime_r(&now, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	repo_hash(repository ? repository : "", hash);
	if ((dfd = day_open(rd, day)) == -1) {
		snprintf(err, errlen, "%s/.runs/%s: %s", rd->path, day,
		    strerror(errno));
		return TICKET_ERROR;
	}
	for (n = 1; n <= c->max_runs_per_day; n++) {
		snprintf(file, sizeof(file), "%s-%ld", hash, n);
		if ((fd = openat(dfd, file, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0640)) != -1) {
			if (write_all(fd, id, strlen(id)) == -1) {
				snprintf(err, errlen, "%s/.runs/%s/%s: %s",
				    rd->path, day, file, strerror(errno));
				close(fd);
				unlinkat(dfd, file, 0);
				close(dfd);
				return TICKET_ERROR;
			}
			close(fd);
			close(dfd);
			snprintf(name, 64, "%s/%s", day, file);
			return TICKET_OK;
		}
		if (errno != EEXIST) {
			snprintf(err, errlen, "%s/.runs/%s/%s: %s", rd->path,
			    day, file, strerror(errno));
			close(dfd);
			return TICKET_ERROR;
		}
	}
	close(dfd);
	snprintf(err, errlen, "max_runs_per_day (%ld) reached for %s on %s",
	    c->max_runs_per_day, repository ? repository : "-", day);
	return TICKET_NONE;
}

/* Whether name is "YYYY-MM-DD/<12 hex>-<n>", all a ticket can be. */
static int
ticket_name_valid(const char *name)
{
	size_t i;

	if (strlen(name) < 25 || strlen(name) > 40)
		return 0;
	for (i = 0; i < 10; i++)
		if (!(i == 4 || i == 7 ? name[i] == '-' :
		    isdigit((unsigned char)name[i])))
			return 0;
	if (name[10] != '/' || name[23] != '-')
		return 0;
	for (i = 11; i < 23; i++)
		if (!isxdigit((unsigned char)name[i]))
			return 0;
	return name[24] != '\0' && strspn(name + 24, "0123456789") ==
	    strlen(name + 24);
}

void
sched_ticket_return(struct rundir *rd, const char *name, const char *id)
{
	char day[11], *s;
	int runs, dfd;

	if (name == NULL || !ticket_name_valid(name))
		return;
	memcpy(day, name, 10);
	day[10] = '\0';
	if ((runs = dir_open_at(rd->fd, ".runs", rd->uid)) == -1)
		return;
	dfd = dir_open_at(runs, day, rd->uid);
	close(runs);
	if (dfd == -1)
		return;
	if ((s = file_read_at(dfd, name + 11, JOB_ID_MAX, NULL,
	    rd->uid)) != NULL) {
		if (strcmp(s, id) == 0)
			unlinkat(dfd, name + 11, 0);
		free(s);
	}
	close(dfd);
}
