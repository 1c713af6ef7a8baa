/*
 * window.h: run_window's grammar and the names timezone may take.
 */
#ifndef WINDOW_H
#define WINDOW_H

#include <stddef.h>

#define MAX_WINDOWS	16		/* run_window's windows */

/* A training window: days (bit n: tm_wday n), minutes from midnight. */
struct window {
	unsigned char	days;
	short		start, end;	/* end <= start: it ends next day */
};

/*
 * Parses run_window's value ("Mon-Fri 09:00-19:00, Sat 10:00-14:00")
 * into ws[0..*n).  Returns 0, or -1 with the reason in err.
 */
int	 window_parse(struct window ws[MAX_WINDOWS], int *n, const char *v,
	    char *err, size_t errlen);

/* Whether name names a time zone this machine knows (in its zoneinfo). */
int	 window_zone_valid(const char *name);

#endif
