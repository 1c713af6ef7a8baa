/*
 * window.c: run_window's grammar ("Mon-Fri 09:00-19:00, 22:00-06:00")
 * and the names timezone may take.  Parsing only: schedule.c says whether
 * a moment falls in a window.
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "window.h"

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
window_parse(struct window ws[MAX_WINDOWS], int *n, const char *v, char *err,
    size_t errlen)
{
	const char *s = v, *start;
	struct window *w;
	int a, b, d;

	*n = 0;
	while (*s != '\0') {
		while (isspace((unsigned char)*s))
			s++;
		start = s;
		if (*n == MAX_WINDOWS) {
			snprintf(err, errlen, "more than %d windows",
			    MAX_WINDOWS);
			return -1;
		}
		w = &ws[*n];
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
		(*n)++;
		while (isspace((unsigned char)*s))
			s++;
		if (*s == ',')
			s++;
		else if (*s != '\0')
			goto bad;
	}
	if (*n > 0)
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
window_zone_valid(const char *name)
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
