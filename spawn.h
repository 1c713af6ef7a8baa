/*
 * spawn.h: run-command.  Starting a process and knowing whether it
 * started, running one to its end under a deadline, ending a process
 * group, the environment a child may see, and the double fork that
 * detaches a process from the web server.  Nothing here knows what a
 * job is: the supervisor (supervise.h) and the tools (checkout, gpu,
 * slurm, commitstatus) fill these structs in.
 *
 * As in git's run-command.c, everything that allocates (argv, envp, the
 * PATH lookup, /dev/null) is done before fork, the child that execs
 * makes only async-signal-safe calls and checks every one, and an exec
 * failure travels back on a close-on-exec pipe: end of file there means
 * the exec succeeded.  Every descriptor of ours is close-on-exec, so a
 * child has 0-2 only.  Deadlines are on the monotonic clock.
 *
 * Errors follow util.h.
 */
#ifndef SPAWN_H
#define SPAWN_H

#include <sys/types.h>
#include <time.h>

#include "util.h"

/*
 * Keeps a copy of the process environment, from which every child's
 * allow-listed environment is taken.  Call once at start, before the
 * environment holds anything of a request.  Returns 0, or -1.
 */
int	 spawn_init(char *const envp[]);

/* Whether the allow-list passes NAME=VALUE kv on to a child. */
int	 spawn_allowed(const char *kv);

/*
 * Adds the allow-listed part of the server's environment (spawn_init) to
 * env: what Python, CUDA, torchrun, Hugging Face and ModelScope read.
 * Returns 0, or -1 if out of memory.
 */
int	 spawn_base_env(struct strv *env);

/*
 * spawn_base_env plus the proxy variables tools that reach the network
 * (curl) honour; never HTTP_PROXY, which a CGI request sets (httpoxy).
 */
int	 spawn_tool_env(struct strv *env);

/*
 * Finds name as execvp would, in the PATH of envp; a relative name with
 * a '/' is taken from dir, where the child will run.  Returns it (to
 * free), or NULL if not found.
 */
char	*spawn_find_exe(const char *name, char *const envp[], const char *dir);

/* What failed when a child could not start (a stage of its start). */
enum spawn_stage {
	STAGE_FORK, STAGE_SETSID, STAGE_FDS, STAGE_CHDIR, STAGE_EXEC,
	STAGE_PGRP,
	SPAWN_STAGES		/* callers number their own stages on */
};

/* The words for a stage of spawn's ("fork", "exec", ...), or "?". */
const char *spawn_stage_name(int stage);

/*
 * A child, as git's struct child_process: what to run, where, on which
 * descriptors, and for spawn_run how long and until what.
 */
struct child {
	const char	*exe;		/* NULL: argv[0] looked up in envp's
					   PATH (ENOENT at exec if not found) */
	char *const	*argv;
	char *const	*envp;
	const char	*dir;		/* its cwd; NULL: dirfd */
	int		 dirfd;
	int		 in;		/* its stdin; 0: ours */
	int		 out;		/* its stdout and stderr; -1: ours
					   (spawn_run: a pipe of its own) */
	double		 timeout;	/* spawn_run: killed after it; 0: never */
	int		(*stop)(void *arg);	/* spawn_run: killed when it
						   says so */
	void		*arg;
	int		 quiet;		/* spawn_run: output only to tail */
	int		 pdeathsig;	/* sent to it if its starter dies
					   first (PR_SET_PDEATHSIG); 0: none */
	/* Set by spawn_child. */
	pid_t		 pid;		/* it leads a process group of its own */
	int		 stage;		/* what failed, when it did */
};

/*
 * Starts ch in a process group of its own (no shell).  Returns 0 once it
 * has exec'd (ch->pid set), or -1 with ch->stage and errno telling what
 * failed, exec included; nothing of it is left then.
 */
int	 spawn_child(struct child *ch);

/*
 * A child whose end outlives its starter.  spawn_reaped forks the
 * reaper, a tiny process that keeps no descriptor of ours but 0-2, dirfd
 * and a pipe back: it starts ch (spawn_child: a process group of its
 * own), reports its pid or what failed, then only waits for it, sends
 * its wait status on the pipe and writes "STATUS TIME\n" (the wait
 * status, the end's Unix time) to file name under dirfd, whole and
 * synced, retried every second while that fails (a full disk), and
 * exits.  If the caller dies, the reaper still waits and writes; if the
 * reaper dies, ch is orphaned to the nearest subreaper (the caller, if
 * it is one).  Returns 0 with ch->pid and rp set, or -1 as spawn_child.
 */
struct reaper {
	pid_t	pid;		/* the reaper: reap it as any child */
	int	fd;		/* the pipe's read end, -1 once closed */
};

int	 spawn_reaped(struct child *ch, int dirfd, const char *name,
	    struct reaper *rp);

/*
 * Without blocking: 1 with the child's wait status in *status once the
 * reaper sent it, 0 if it has not yet, -1 if the reaper ended (or was
 * killed) without sending it.  Closes the pipe once it answers 1 or -1.
 */
int	 spawn_reaped_status(struct reaper *rp, int *status);

/*
 * Writes what a reaper writes (status, now) to file name under dirfd:
 * for the one who reaped the child itself, its reaper having been
 * killed.  Returns 0, or -1 (errno set).
 */
int	 spawn_reaped_write(int dirfd, const char *name, int status);

/*
 * Reads a reaper's file name under dirfd (owned by owner, no link
 * followed, bounded).  Returns 0 with *status and *when, or -1 (errno:
 * ENOENT: not written; EINVAL: not what a reaper writes).
 */
int	 spawn_reaped_read(int dirfd, const char *name, uid_t owner,
	    int *status, time_t *when);

/* waitpid(2), retried on EINTR. */
pid_t	 spawn_waitpid(pid_t pid, int *status, int flags);

/*
 * SIGKILLs process group pgid until it is gone (its leader reaped or
 * not), a bounded number of times: a process stuck in the kernel (D
 * state) does not hang us.
 */
void	 spawn_kill_group(pid_t pgid);

/* Default signal dispositions and an empty mask.  Returns 0, or -1. */
int	 spawn_reset_signals(void);

enum run_end { RUN_EXITED, RUN_TIMEOUT, RUN_STOPPED, RUN_ERROR };

/*
 * Starts ch (its output on a pipe of ours) and runs it to its end: its
 * output copied to our stderr (unless quiet) and its last taillen - 1
 * bytes to tail, until it exits (*status as waitpid gives it), its time
 * is up or stop says so (its group is then killed), looking every 0.1 s;
 * when stop says so already, nothing is started (RUN_STOPPED).
 * Whatever of its group is left is killed.  RUN_ERROR: it could not
 * start, tail says why.
 */
enum run_end spawn_run(struct child *ch, int *status, char *tail,
	    size_t taillen);

/*
 * Runs a tool of ours (curl, nvidia-smi, Slurm's) as spawn_run does: from
 * /, with envp (NULL: spawn_tool_env), its stdin on stdin_fd (0: ours),
 * its output only to tail, killed after timeout seconds.
 */
enum run_end spawn_tool(char *const argv[], char *const envp[],
	    int stdin_fd, int timeout, int *status, char *tail,
	    size_t taillen);

/*
 * What a detached process tells the one that started it: records of this
 * size on a close-on-exec pipe.  kind REPORT_FAILED says stage and err
 * failed; a caller numbers its other kinds from REPORT_KINDS on.
 */
struct spawn_report {
	int	kind;
	int	stage;
	int	err;
	int	pid;
};
#define REPORT_FAILED	1
#define REPORT_DETACHED	2	/* (no report pipe) pid: the detached one */
#define REPORT_KINDS	3

/* Writes one report on fd (-1: none).  Never fails loudly. */
void	 spawn_report(int fd, int kind, int stage, int err, pid_t pid);

/*
 * A process detached by the double fork: the starter forks; the child
 * closes every descriptor but 0-2, keep[] and the report pipe, calls
 * setsid() and forks fn's process, then exits at once (spawn_detach
 * reaps it).  fn runs with stdin on /dev/null, stdout and stderr on out
 * (or /dev/null), default signals, and the report pipe's write end (-1
 * without one); it must not return.
 */
struct detach {
	const int	*keep;		/* descriptors it keeps, -1s ignored */
	int		 nkeep;
	int		 out;		/* its stdout and stderr; -1: /dev/null */
	int		 report;	/* 1: a report pipe, for spawn_detach_wait */
	void		(*fn)(void *arg, int report);
	void		*arg;
	/* Set by spawn_detach, for spawn_detach_wait. */
	pid_t		 mid;		/* the middle process, -1: reaped */
	int		 report_fd;	/* the pipe's read end */
	pid_t		 pid;		/* without a report pipe: the detached
					   process */
};

/*
 * Detaches d->fn (see above).  Without a report pipe it returns once the
 * middle process is reaped, so no child of the caller is left; with one
 * it returns at once (a caller holding a lock need not wait for a fork),
 * and every spawn_detach that returned 0 needs its spawn_detach_wait.
 * Returns 0, or -1 with the reason in err.
 */
int	 spawn_detach(struct detach *d, char *err, size_t errlen);

/*
 * The processes below this one (its children, theirs, ...: with
 * PR_SET_CHILD_SUBREAPER, whatever of them was orphaned comes here too,
 * whichever session it moved to), but none at or below a pid of skip[]
 * and no zombie: at most max of them into out.  Read from /proc (each
 * process's parent, in its stat).  Returns their count.
 */
int	 spawn_descendants(const pid_t *skip, int nskip, pid_t *out, int max);

/* Sends sig to each of the n processes of pids[]. */
void	 spawn_signal(const pid_t *pids, int n, int sig);

/*
 * Reaps the middle process and reads the first report of the detached
 * one.  Returns 0 with r filled, or -1 if it ended (or closed its end)
 * without one: r then says REPORT_FAILED, and which of the middle
 * process's stages failed if it did.
 */
int	 spawn_detach_wait(struct detach *d, struct spawn_report *r);

#endif
