/*
 * checkout.h: the job's source: a checkout of exactly the pushed commit.
 *
 * With "repository" set, the run directory keeps one bare mirror of it,
 * run_dir/.mirrors/<name>-<hash>.git.  A job's supervisor, while the job
 * is "preparing", takes the mirror's lock (flock, never waited on past
 * fetch_timeout), fetches the pushed sha unless the mirror has it, adds a
 * worktree of it without files at run_dir/<job>/src and lets the lock go;
 * then fills the worktree (git reset --hard, LFS filters if installed),
 * updates submodules if asked, and checks that HEAD is the sha.  A
 * worktree shares the mirror's objects: no clone per job.
 *
 * git runs without a shell, in a process group of its own, with the
 * allow-listed environment, LC_ALL=C, no terminal prompt, the deploy key
 * through GIT_SSH_COMMAND and the credential file through a
 * git-credential-store helper given in GIT_CONFIG_*: no secret is ever in
 * an argv, and the trainer's environment has none of these.  Each git
 * step is killed after fetch_timeout or when the job is asked to stop.
 */
#ifndef CHECKOUT_H
#define CHECKOUT_H

#include <stddef.h>

#include "conf.h"
#include "job.h"
#include "rundir.h"

enum checkout_result {
	CHECKOUT_OK,		/* j->commit and j->has_src set */
	CHECKOUT_FAILED,	/* err: the step that failed, git's words */
	CHECKOUT_STOPPED	/* the job was asked to stop */
};

enum checkout_result checkout_make(struct rundir *rd, const struct conf *c,
	    struct job *j, char *err, size_t errlen);

/* Removes j's checkout (j->has_src cleared once it is gone). */
void	 checkout_remove(struct job *j);

/*
 * Lets the mirror forget the worktrees that are gone (git worktree
 * prune), if its lock is free within a second; the next fetch does it
 * otherwise.
 */
void	 checkout_prune(struct rundir *rd, const struct conf *c);

/*
 * Whether this user can read the repository (git ls-remote, bounded).
 * Returns 0, or -1 with git's words and what to do in err.
 */
int	 checkout_check(const struct conf *c, char *err, size_t errlen);

/*
 * What user should do about err, checkout_check's words for c's
 * repository: advice for its kind (a local path: ownership and
 * safe.directory, or the path; SSH: the key, the host key; HTTPS: the
 * credentials, the URL) into out.  Returns 0.
 */
int	 checkout_advice(const struct conf *c, const char *err,
	    const char *user, char *out, size_t size);

#endif
