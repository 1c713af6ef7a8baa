/*
 * spawn.h: starts a job, detached from the web server.
 *
 * Whoever starts a job that has its slots (a responder, or a supervisor
 * handing its slots on, see queue.h) forks; the child calls setsid() and
 * forks the supervisor, then exits at once and is reaped.  The supervisor,
 * in its own session with stdin /dev/null, stdout and stderr on the job's
 * log and no other descriptor but its slots, the run directory and a
 * report pipe (all close-on-exec), forks the trainer into a process group
 * of its own and reports back once the exec succeeded or failed.  It then
 * writes the pid file, watches the trainer (stop requests, max_runtime),
 * records how it ended, starts the next queued jobs and runs notify.
 */
#ifndef SPAWN_H
#define SPAWN_H

#include <sys/types.h>

#include "conf.h"
#include "job.h"
#include "queue.h"
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
	char	**notify_argv;	/* NULL: no notify */
	char	**notify_envp;
	char	 *notify_exe;
};

/*
 * Fills sp for job j (which has its id and folder).  Returns 0, or -1 if
 * out of memory.
 */
int	 spawn_prepare(struct spawn *sp, const struct job *j,
	    const struct conf *c);
void	 spawn_free(struct spawn *sp);

/*
 * Whether the trainer can be executed and its directory entered.
 * Returns 0, or -1 with the reason (and what to do) in err.
 */
int	 spawn_check(const struct spawn *sp, char *err, size_t errlen);

/*
 * Starts j's supervisor, detached (see above), on the slots s (taken:
 * closed here, held by the supervisor).  Returns 0 once the supervisor
 * reports: j->state is "running" with j->pid, pid file and job.json
 * written.  For a job already in a final state (a queued job cancelled)
 * the supervisor only runs notify.  Returns -1 with the reason in err if
 * the trainer could not start; then no process of the job is left and
 * job.json says "failed".  The secret is wiped in the detached processes.
 */
int	 spawn_start(struct spawn *sp, struct rundir *rd, struct job *j,
	    struct conf *c, struct slots *s, char *err, size_t errlen);

/* Whether the allow-list passes NAME=VALUE kv on to the trainer. */
int	 spawn_allowed(const char *kv);

/* SIGKILLs process group pgid until it is gone, a bounded number of times. */
void	 kill_group(pid_t pgid);

#endif
