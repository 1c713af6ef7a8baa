/*
 * spawn.h: starts a job, detached from the web server.
 *
 * The responder forks; the child calls setsid() and forks the supervisor,
 * then exits at once and is reaped.  The supervisor, in its own session
 * with stdin /dev/null, stdout and stderr on the job's log and no other
 * descriptor but its queue entry and report pipe, waits for its turn and
 * its slots (queue.h), forks the trainer into a process group of its own,
 * and reports back to the responder once the job is queued or the exec
 * succeeded or failed (on a close-on-exec pipe).  It then writes the pid
 * file, watches the trainer (stop requests, max_runtime), records how it
 * ended and runs notify.
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
 * Starts j's supervisor, detached (see above), with its queue entry
 * entryfd.  Returns 0 once the supervisor reports: j->state is "running"
 * (j->pid set, pid file and job.json written) or "queued".  Returns -1 with
 * the reason in err if the trainer could not start; then no process of the
 * job is left and job.json says "failed".  c's secret is wiped in the
 * detached processes.
 */
int	 spawn_start(struct spawn *sp, struct job *j, struct conf *c,
	    int entryfd, char *err, size_t errlen);

#define JOB_DUPLICATE	1
#define JOB_QUEUE_FULL	2

/*
 * Creates job j (delivery, event, repository, ref, branch, sha, config set
 * by the caller) in c's run directory and starts it: refuses a trainer that
 * cannot be found or executed, claims (sha, config) if claim is set, admits
 * it to the queue, spawns.  Returns 0 (j->state running or queued),
 * JOB_DUPLICATE (other names the job that has the pair), JOB_QUEUE_FULL
 * (err says why), or -1 with the reason in err.
 */
int	 job_start(struct conf *c, struct job *j, int claim,
	    char other[JOB_ID_MAX], char *err, size_t errlen);

/* Whether the allow-list passes NAME=VALUE kv on to the trainer. */
int	 spawn_allowed(const char *kv);

#endif
