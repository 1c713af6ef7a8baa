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
#include <time.h>

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
	char	 *cwd;		/* the checkout, workdir or the job's folder */
	char	 *output_dir;	/* output_dir, placeholders filled */
	char	**notify_argv;	/* NULL: no notify */
	char	**notify_envp;
	char	 *notify_exe;
	int	  tell_only;	/* only post the status and notify */
	int	  adopt;	/* a new supervisor for a job Slurm has:
				   failing to start it fails no job */
	pid_t	  mid;		/* spawn_fork's child, until spawn_wait */
	int	  report_fd;	/* the supervisor's report, until then */
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
int	 spawn_check(const struct spawn *sp, const struct conf *c, char *err,
	    size_t errlen);

/*
 * Starts j's supervisor, detached (see above), on the slots s (taken:
 * closed here, held by the supervisor).  Returns 0 once the supervisor
 * reports: j->state is "running" with j->pid, pid file and job.json
 * written.  For a job already in a final state (a queued job cancelled)
 * the supervisor only runs notify (and posts its commit status); so it
 * does for a queued job with sp->tell_only.  With backend = slurm it
 * returns once the supervisor has the job, which stays as recorded
 * (queued: the supervisor submits it; or, with a Slurm id, brought up to
 * what Slurm says).  Returns -1 with the reason in err if the trainer
 * could not start; then no process of the job is left and job.json says
 * "failed" (unless sp->adopt).  The secret is wiped in the detached
 * processes.
 */
int	 spawn_start(struct spawn *sp, struct rundir *rd, struct job *j,
	    struct conf *c, struct slots *s, char *err, size_t errlen);

/*
 * spawn_start in two halves, so that a caller holding a lock need not
 * hold it while the trainer starts: spawn_fork hands the slots to the
 * (detached) supervisor and returns 0 at once, or -1 as spawn_start
 * does; spawn_wait then waits for the report and returns what
 * spawn_start would.  Every spawn_fork that returned 0 needs its
 * spawn_wait.
 */
int	 spawn_fork(struct spawn *sp, struct rundir *rd, struct job *j,
	    struct conf *c, struct slots *s, char *err, size_t errlen);
int	 spawn_wait(struct spawn *sp, struct rundir *rd, struct job *j,
	    char *err, size_t errlen);

/* A child run to its end by spawn_run. */
struct run {
	const char	*exe;		/* NULL: argv[0] looked up in PATH */
	char *const	*argv;
	char *const	*envp;
	const char	*dir;		/* its cwd; NULL: dirfd */
	int		 dirfd;
	int		 stdin_fd;	/* its stdin; 0: ours */
	time_t		 deadline;	/* killed then; 0: never */
	int		(*stop)(void *arg);	/* killed when it says so */
	void		*arg;
	int		 quiet;		/* its output only to tail */
};

enum run_end { RUN_EXITED, RUN_TIMEOUT, RUN_STOPPED, RUN_ERROR };

/*
 * Runs r's child (no shell, a process group of its own, stdin ours) with
 * its output copied to our stderr and its last taillen - 1 bytes to tail,
 * until it exits (*status as waitpid gives it), its deadline passes or
 * stop says so (its group is then killed), polling every 0.1 s.  Whatever
 * of its group is left is killed.  RUN_ERROR: it could not start, tail
 * says why.
 */
enum run_end spawn_run(const struct run *r, int *status, char *tail,
	    size_t taillen);

/*
 * Adds the allow-listed part of the server's environment (spawn_init) to
 * env.  Returns 0, or -1 if out of memory.
 */
int	 spawn_base_env(struct strv *env);

/*
 * spawn_base_env plus the proxy variables tools that reach the network
 * (curl) honour; never HTTP_PROXY, which a CGI request sets (httpoxy).
 */
int	 spawn_tool_env(struct strv *env);

/*
 * Runs a tool of ours (curl, nvidia-smi, Slurm's) as spawn_run does: no
 * shell, from /, with envp (NULL: spawn_tool_env), its stdin on stdin_fd
 * (0: ours), its output only to tail, killed after timeout seconds.
 */
enum run_end spawn_tool(char *const argv[], char *const envp[],
	    int stdin_fd, int timeout, int *status, char *tail,
	    size_t taillen);

/*
 * Runs fn(rd, c, fd) in a detached process (its own session, stdio on
 * /dev/null, no descriptor of ours but the run directory's and fd, no
 * secret) and returns once it is on its way.
 */
void	 spawn_detached(struct rundir *rd, struct conf *c, int fd,
	    void (*fn)(struct rundir *, struct conf *, int));

/* A line "[swift-webhook TIME] ..." on stderr: the job's log, detached. */
void	 spawn_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Whether the allow-list passes NAME=VALUE kv on to the trainer. */
int	 spawn_allowed(const char *kv);

/* SIGKILLs process group pgid until it is gone, a bounded number of times. */
void	 kill_group(pid_t pgid);

#endif
