/*
 * spawn.h: starts a job's trainer, detached from the web server.
 *
 * The responder forks; the child calls setsid() and forks the supervisor,
 * then exits at once and is reaped.  The supervisor, in its own session
 * with stdin /dev/null, stdout and stderr on the job's log and no other
 * descriptor, forks the trainer into a process group of its own, reports
 * back whether exec succeeded (through a close-on-exec pipe), writes the
 * pid file, waits, and records how the trainer ended.
 */
#ifndef SPAWN_H
#define SPAWN_H

#include "conf.h"
#include "rundir.h"

/*
 * Keeps a copy of the process environment, from which the trainer's
 * allow-listed environment is taken.  Call once at start, before the
 * environment holds anything of a request.  Returns 0, or -1.
 */
int	 spawn_init(char *const envp[]);

/* Everything the trainer needs, made before fork. */
struct spawn {
	char	**argv;		/* launcher + command, placeholders filled */
	char	**envp;		/* allow-list + env key + JOB_* */
	char	 *exe;		/* argv[0] found in PATH, or NULL */
	const char *cwd;	/* workdir, or the job's folder */
};

/*
 * Fills sp for job j (which has its id and folder).  Returns 0, or -1 if
 * out of memory.
 */
int	 spawn_prepare(struct spawn *sp, const struct job *j,
	    const struct conf *c);
void	 spawn_free(struct spawn *sp);

/*
 * Starts j's trainer as described above.  Returns 0 once the trainer runs
 * (j->pid set, the pid file and job.json written by the supervisor), or -1
 * with the reason in err; then no process of the job is left and job.json
 * says "failed".  secret, if not NULL, is wiped in the supervisor.
 */
int	 spawn_start(const struct spawn *sp, struct job *j, char *secret,
	    size_t secretlen, char *err, size_t errlen);

/* Builds the allow-listed environment from envp (for the tests). */
int	 spawn_allowed(const char *kv);

#endif
