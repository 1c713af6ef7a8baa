/*
 * test_window.c: run_window's grammar (days, ranges over the week's end,
 * over midnight, what is refused and why) and the time zone names
 * timezone may take.
 */
#include <stdio.h>
#include <string.h>

#include "t.h"
#include "window.h"

static void
test_parse(void)
{
	static const struct {
		const char	*spec;
		int		 ok, n;
		unsigned char	 days0;
		int		 start0, end0;
	} rows[] = {
		{ "Mon-Fri 09:00-19:00", 1, 1, 0x3e, 540, 1140 },
		{ "mon-fri 09:00-19:00", 1, 1, 0x3e, 540, 1140 },
		{ "09:00-19:00", 1, 1, 0x7f, 540, 1140 },
		{ "Sat 10:00-14:00, Sun 00:00-24:00", 1, 2, 0x40, 600, 840 },
		{ "Fri-Mon 22:00-06:00", 1, 1, 0x63, 1320, 360 },
		{ "  Mon 09:00-10:00 ,Tue 09:00-10:00  ", 1, 2, 0x02, 540, 600 },
		{ "", 0, 0, 0, 0, 0 },
		{ "Mon-Fri", 0, 0, 0, 0, 0 },
		{ "Mon-Fir 09:00-10:00", 0, 0, 0, 0, 0 },
		{ "Monday 09:00-10:00", 0, 0, 0, 0, 0 },
		{ "9:00-10:00", 0, 0, 0, 0, 0 },
		{ "09:60-10:00", 0, 0, 0, 0, 0 },
		{ "24:00-10:00", 0, 0, 0, 0, 0 },
		{ "10:00-24:01", 0, 0, 0, 0, 0 },
		{ "10:00-10:00", 0, 0, 0, 0, 0 },
		{ "10:00-11:00 12:00-13:00", 0, 0, 0, 0, 0 },
		{ "10:00-11:00,", 1, 1, 0x7f, 600, 660 },
		{ "Mon 10:00-11:00;", 0, 0, 0, 0, 0 },
	};
	char name[128], err[256], many[17 * 12], bad[sizeof(many)];
	struct window w[MAX_WINDOWS];
	size_t i;
	int n, rc;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		memset(w, 0, sizeof(w));
		rc = window_parse(w, &n, rows[i].spec, err, sizeof(err));
		snprintf(name, sizeof(name), "parse \"%s\"", rows[i].spec);
		if (!rows[i].ok) {
			CHECK(rc == -1 && err[0] != '\0', name, "took it");
			continue;
		}
		CHECK(rc == 0 && n == rows[i].n && w[0].days == rows[i].days0 &&
		    w[0].start == rows[i].start0 && w[0].end == rows[i].end0,
		    name, "rc %d n %d days %#x %d-%d (%s)", rc, n, w[0].days,
		    w[0].start, w[0].end, err);
	}
	/* 17 windows; then the same with the first one bad. */
	for (many[0] = '\0', i = 0; i < 17; i++)
		strcat(many, i ? ",01:00-02:00" : "01:00-02:00");
	rc = window_parse(w, &n, many, err, sizeof(err));
	CHECK(rc == -1 && strstr(err, "more than 16"), "17 windows",
	    "rc %d: %s", rc, err);
	snprintf(bad, sizeof(bad), "1:00-2:00%s", many + strlen("01:00-02:00"));
	rc = window_parse(w, &n, bad, err, sizeof(err));
	CHECK(rc == -1 && strstr(err, "\"1:00-2:00\" is not a window"),
	    "a bad first window of many", "rc %d: %s", rc, err);
}

static void
test_zones(void)
{
	CHECK(window_zone_valid("Asia/Shanghai") && window_zone_valid("UTC") &&
	    !window_zone_valid("Mars/Olympus") &&
	    !window_zone_valid("../../../etc/passwd") &&
	    !window_zone_valid("/etc/localtime") &&
	    !window_zone_valid("Asia") && !window_zone_valid(""),
	    "zone names: only files under /usr/share/zoneinfo", "wrong");
}

int
main(void)
{
	PLAN(21);
	test_parse();
	test_zones();
	return t_exit();
}
