/*
 * rundir.h: the run directory, the one record of what every push started.
 *
 *	run_dir/<job-id>/job.json	the job's metadata and state
 *	run_dir/<job-id>/pid		the trainer's PID, once it runs
 *	run_dir/<job-id>/log		the trainer's stdout and stderr
 *	run_dir/.keys/<sha>-<cfg>	symlink to the job id: (sha, config) ran
 *	run_dir/.deliveries/<id>	the jobs a delivery started (JSON)
 *	run_dir/<job-id>/stop		asks the supervisor to stop the job
 *	run_dir/.queue, .slots		see queue.h
 *
 * Every file is written whole or not at all (temp file, fsync, rename);
 * races between responder processes are settled by mkdir and symlink,
 * which fail with EEXIST for all but one of them.
 */
#ifndef RUNDIR_H
#define RUNDIR_H

#include <limits.h>
#include <sys/types.h>
#include <time.h>

#define JOB_ID_MAX 96

struct job {
	char		 id[JOB_ID_MAX];
	char		 dir[PATH_MAX - 64];	/* run_dir/id, room for names */
	const char	*delivery;
	const char	*event;
	const char	*repository;
	const char	*ref;
	const char	*branch;
	const char	*sha;
	const char	*config;
	char *const	*argv;
	const char	*retry_of;	/* the job this one reruns, or NULL */
	const char	*state;		/* queued running succeeded ... */
	time_t		 created, started, finished;	/* 0: not yet */
	pid_t		 pid;		/* the trainer, 0: none yet */
	unsigned long long pid_start;	/* its start time, /proc ticks */
	pid_t		 supervisor;	/* 0: none yet */
	unsigned long long supervisor_start;
	char		 gpus[128];	/* CUDA_VISIBLE_DEVICES, "" if none */
	int		 exit_code;	/* -1: none */
	int		 signal;	/* 0: none */
	char		 error[256];	/* why it failed to start */
};

/* The states a job ends in; anything else is live (or lost). */
int	 job_state_final(const char *state);

/*
 * The start time of process pid (field 22 of /proc/pid/stat), which with
 * the PID tells a process from a later one that got its number; 0 if
 * there is no such process.
 */
unsigned long long proc_starttime(pid_t pid);

/*
 * Asks the supervisor of the job in dir to stop it, ending in state
 * (cancelled, superseded).  Returns 0, or -1 with errno set.
 */
int	 job_request_stop(const char *dir, const char *state);

/* The state a stop request names, or NULL: read by the supervisor. */
const char *job_stop_requested(const struct job *j);

/*
 * Makes sure run_dir and its .keys and .deliveries folders exist and that
 * run_dir can be written.  Returns 0, or -1 with the reason in err.
 */
int	 rundir_prepare(const char *run_dir, char *err, size_t errlen);

/*
 * Creates the job's folder under a new id (time, short sha, config name)
 * and sets j's state to "queued"; the caller fills in argv and writes
 * job.json.  Returns 0, or -1 with the reason in err.
 */
int	 job_create(struct job *j, const char *run_dir, char *err,
	    size_t errlen);

/*
 * Claims (j->sha, j->config) for j.  Returns 0 if j is the first job of
 * that pair, 1 if another job has it (its id copied to other), -1 on error
 * with the reason in err.
 */
int	 job_claim(struct job *j, const char *run_dir, char other[JOB_ID_MAX],
	    char *err, size_t errlen);

/* Gives the pair back, for a job that never started. */
void	 job_unclaim(struct job *j, const char *run_dir);

/* Removes the folder of a job that never started (job.json, log). */
void	 job_discard(struct job *j);

/* Writes job.json as j now stands.  Returns 0, or -1 (errno set). */
int	 job_write(const struct job *j);

/* Writes the pid file.  Returns 0, or -1 (errno set). */
int	 job_write_pid(const struct job *j);

/*
 * Looks up a delivery already answered.  Returns its record (a JSON array
 * of jobs, to free) or NULL if there is none.
 */
char	*delivery_lookup(const char *run_dir, const char *delivery);

/* Records what a delivery started.  Returns 0, or -1 (errno set). */
int	 delivery_record(const char *run_dir, const char *delivery,
	    const char *json);

/*
 * Writes len bytes to path through a temp file beside it, fsync and rename,
 * so that readers see the old file or the new one, never a part.  Returns
 * 0, or -1 with errno set.
 */
int	 atomic_write(const char *path, const void *data, size_t len);

/*
 * Reads a whole regular file of at most max bytes (not through a symlink).
 * Returns it NUL-terminated, to free, or NULL.
 */
char	*read_file(const char *path, size_t max);

/* Formats t as ISO 8601 UTC ("2026-11-29T04:32:37Z") into buf[21]. */
void	 iso8601(time_t t, char buf[21]);

#endif
