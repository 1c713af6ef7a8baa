/*
 * status.h: the status page, for people with a browser: plain HTML,
 * inline SVG and a little CSS, no script, no external asset.
 *
 *	GET .../		the jobs, newest first, paged; ?state= &branch=
 *				filter; a summary of the last 7 and 30 days
 *	GET .../jobs/ID		one job: every job.json field, the loss and
 *				learning-rate curve, checkpoints, the log's end
 *	GET .../jobs/ID/log	the log itself (its last MiB), as text
 *
 * Every string from a payload, a log or a job.json is HTML-escaped; the
 * answer carries a Content-Security-Policy that allows no script at all.
 */
#ifndef STATUS_H
#define STATUS_H

#include <stddef.h>

#include "conf.h"
#include "rundir.h"

struct page {
	int		 status;	/* 200, 404 */
	int		 refresh;	/* seconds until a browser asks again
					   (a job is live), 0: never */
	const char	*type;		/* Content-Type */
	char		*body;		/* to free */
	size_t		 len;
};

/* Whether path (PATH_INFO) is one of the status page's. */
int	 status_route(const char *path);

/* Renders path with query (QUERY_STRING, may be NULL) into pg. */
void	 status_render(struct rundir *rd, const struct conf *c,
	    const char *path, const char *query, struct page *pg);

#endif
