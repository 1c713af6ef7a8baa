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

#include "schedule.h"
#include "util.h"
#include "window.h"

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

const char *
sched_boot_id(void)
{
	static char id[40];
	static int read;
	char *s;
	size_t len, i;
	int dfd;

	if (read)
		return id;
	read = 1;
#ifdef TEST_CLOCK
	if ((s = getenv("SWIFT_WEBHOOK_TEST_BOOT_ID")) != NULL) {
		snprintf(id, sizeof(id), "%s", s);
		return id;
	}
#endif
	if ((dfd = open("/proc/sys/kernel/random", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		return id;
	s = file_read_at(dfd, "boot_id", sizeof(id), &len, 0);
	close(dfd);
	for (i = 0; s != NULL && i < len && i < sizeof(id) - 1 &&
	    (s[i] == '-' || (s[i] >= '0' && s[i] <= '9') ||
	    (s[i] >= 'a' && s[i] <= 'f')); i++)
		id[i] = s[i];
	free(s);
	return id;
}

/*
 * The configured zone for localtime_r and mktime; without one, the zone
 * the process started in (a reloaded config may have dropped timezone).
 */
static void
zone(const struct conf *c)
{
	static char *orig;	/* TZ as the process found it, or NULL */
	static int saved;
	const char *tz = getenv("TZ"), *want;

	if (!saved) {
		orig = tz != NULL ? strdup(tz) : NULL;
		saved = 1;
	}
	want = c->timezone != NULL ? c->timezone : orig;
	if (want == NULL ? tz == NULL : tz != NULL && strcmp(tz, want) == 0)
		return;
	if (want != NULL)
		setenv("TZ", want, 1);
	else
		unsetenv("TZ");
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
	/* The repository's hash: the first 12 hex digits of its SHA-256. */
	sha256_hex(repository ? repository : "", 6, hash);
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
	snprintf(err, errlen, "max_runs_per_day (%ld) reached%s%s on %s",
	    c->max_runs_per_day, repository ? " for " : "", repository ?
	    repository : "", day);
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

/* dir_each on a day's folder: gives back the ticket that names an id. */
struct forget {
	int		 dfd;
	const char	*id;
};

static int
forget_one(void *arg, const char *name)
{
	struct forget *f = arg;
	char *s;

	if ((s = file_read_at(f->dfd, name, JOB_ID_MAX, NULL,
	    ANY_OWNER)) != NULL) {
		if (strcmp(s, f->id) == 0)
			unlinkat(f->dfd, name, 0);
		free(s);
	}
	return 0;
}

void
sched_ticket_forget(struct rundir *rd, const char *id)
{
	struct forget f = { -1, id };
	struct tm tm, at;
	char day[16];
	time_t base, t;
	int runs, d;

	memset(&tm, 0, sizeof(tm));
	if (strptime(id, "%Y%m%dT%H%M%S", &tm) == NULL ||
	    (runs = dir_open_at(rd->fd, ".runs", rd->uid)) == -1)
		return;
	/* Its day in any zone: the UTC day of its id, or one either side. */
	base = timegm(&tm);
	for (d = -1; d <= 1; d++) {
		t = base + d * 86400;
		gmtime_r(&t, &at);
		strftime(day, sizeof(day), "%Y-%m-%d", &at);
		if ((f.dfd = dir_open_at(runs, day, rd->uid)) == -1)
			continue;
		dir_each(f.dfd, forget_one, &f);
		close(f.dfd);
	}
	close(runs);
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
