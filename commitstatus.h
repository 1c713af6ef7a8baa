/*
 * commitstatus.h: a job's state as a commit status on GitHub (a yellow
 * dot while it waits and runs, then a green check or a red cross that
 * links to its page).
 *
 *	POST {api_url}/repos/{repository}/statuses/{sha}
 *	{"state", "target_url", "description", "context"}
 *
 * with context "swift-webhook/<config>".  Posts are level-triggered: who
 * posts (a detached process for a queued job, the supervisor for the
 * rest) takes the job's status.lock, reads job.json as it is now and
 * posts that, unless run_dir/<job>/status says it was posted already.
 * So posts made out of order by racing processes still end on the job's
 * last state.
 *
 * The request is made by curl, run without a shell; the token is read
 * from github_token_file just before and reaches curl only through its
 * config on a pipe (curl -q -K -): never in argv, the environment, a
 * file of ours or a log.  Each request is bounded by github_timeout and
 * tried three times in all (1 s, then 2 s apart) on a network error or a
 * 5xx; a failure is a line in the job's log and changes nothing else.
 */
#ifndef COMMITSTATUS_H
#define COMMITSTATUS_H

#include "conf.h"
#include "rundir.h"

#define STATUS_DESC_MAX	140	/* GitHub's limit on a description */

/* Posts job id's state, if github_token_file is set.  Never fails. */
void	 commitstatus_post(struct rundir *rd, const struct conf *c,
	    const char *id);

/*
 * Posts one status (context, state, desc: cut to STATUS_DESC_MAX) on
 * repository's commit sha, linking to job's page (NULL: none), if
 * github_token_file is set; who names the poster in the log ("deployment
 * ID").  For deploy.h's "swift-webhook/deploy".  Returns 0 once GitHub
 * took it (or none is configured), or -1 (said in the log).
 */
int	 commitstatus_send(const struct conf *c, const char *who,
	    const char *repository, const char *sha, const char *context,
	    const char *state, const char *desc, const char *job);

/*
 * For check: whether the token can be read and curl run.  Returns 0 (or
 * when no token is configured), or -1 with the reason in err.
 */
int	 commitstatus_check(const struct conf *c, char *err, size_t errlen);

struct job;

/*
 * The status GitHub is to show for j: state (pending, success, failure,
 * error) and a description of at most STATUS_DESC_MAX bytes; for the
 * unit tests and commitstatus_post.  queued_behind: jobs ahead of a
 * queued one (-1: unknown).  prev: the previous run of j's config
 * (job_previous), or NULL: an ended run's loss says what that one's was
 * ("loss 0.2467 (was 0.3289)").
 */
const char *commitstatus_describe(const struct conf *c, const struct job *j,
	    int queued_behind, const struct job *prev,
	    char desc[STATUS_DESC_MAX + 1]);

#endif
