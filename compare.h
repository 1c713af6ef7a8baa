/*
 * compare.h: which commit made the model better: runs side by side and a
 * config's history, for the `compare` command (cli.c) and the status
 * page (status.c):
 *
 *	GET .../compare?jobs=A,B[,C...]	up to COMPARE_MAX jobs (also as
 *				jobs=A&jobs=B, what the jobs table's form
 *				sends): their loss curves in one chart, the
 *				diff of each trained config against the
 *				first's, their results in a table
 *	GET .../trend?config=PATH[&branch=B][&repository=OWNER/NAME]
 *				one config's runs in the order they were
 *				pushed (job ids begin with their time), with
 *				their final loss, eval loss and best metric,
 *				and a chart of them
 *
 * What a run trained is the copy its job kept (job.h: job_keep_config);
 * everything read from a job's folder is bounded and escaped for the
 * page, as on the rest of the status page.
 */
#ifndef COMPARE_H
#define COMPARE_H

#include <stdio.h>

#include <cJSON.h>

#include "diff.h"
#include "job.h"
#include "rundir.h"

#define COMPARE_MAX	8	/* the most runs side by side */
#define TREND_MAX	200	/* the most runs of a trend (the latest) */

/* One run to compare. */
struct run {
	struct job	 j;		/* job_read */
	cJSON		*o;		/* its job.json as shown (lost too) */
	char		*config;	/* the config it trained, or NULL */
	size_t		 config_len;
	char		 why[320];	/* why config is NULL */
};

/*
 * Reads job id (a valid id) into r.  Returns 0, or -1 with errno set
 * (ENOENT: no such job).  Free with compare_free.
 */
int	 compare_load(struct rundir *rd, const char *id, struct run *r);
void	 compare_free(struct run *r);

/*
 * The unified diff of a's trained config against b's (context 3), lines
 * to out; -1 (and nothing out) if either has none, or out of memory.
 * Returns the lines changed.
 */
long	 compare_diff(const struct run *a, const struct run *b, diff_out *out,
	    void *arg);

/*
 * The runs as compare --json prints them: {"runs": [{id, sha,
 * commit_title, repository, branch, config, state, loss, eval_loss,
 * best_metric, global_step, duration, config_copy or config_missing}],
 * "diffs": [{"from", "to", "changes", "diff"} for each run after the
 * first, against it]}.  NULL if out of memory.
 */
cJSON	*compare_json(struct run *r, size_t n);

/*
 * The status page's /compare and /trend (query: QUERY_STRING, may be
 * NULL) into f.  Return the HTTP status: 200, or 404 (no such job, too
 * many, too few).
 */
int	 compare_page(FILE *f, struct rundir *rd, const char *query);
int	 trend_page(FILE *f, struct rundir *rd, const char *query);

#endif
