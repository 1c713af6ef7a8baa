/*
 * rundir.h: the run directory, the one record of what every push started.
 *
 *	run_dir/<job-id>/job.json	the job's metadata and state
 *	run_dir/<job-id>/pid		the trainer's PID, once it runs
 *	run_dir/<job-id>/log		the trainer's stdout and stderr
 *	run_dir/<job-id>/stop		asks the supervisor to stop the job
 *	run_dir/.keys/<sha>-<cfg>	symlink to the latest job of (sha, config)
 *	run_dir/.deliveries/<id>	the jobs a delivery started (JSON)
 *	run_dir/.queue, .slots		see queue.h
 *
 * The run directory is opened once, and everything in it is reached from
 * that descriptor with openat(2) and O_NOFOLLOW: no symlink inside it is
 * ever followed, folders and files must belong to run_dir's owner, and
 * only regular files are read, with a bound.  A run_dir that others may
 * write is refused.  Folders are made 0750, files 0640.
 *
 * Every file is written whole or not at all (temp file, rename); races
 * between responder processes are settled by mkdir and symlink, which
 * fail with EEXIST for all but one of them.
 *
 * Errors follow util.h: 0 or -1 with errno, a named enum where there are
 * more outcomes, and a caller's err buffer where a person reads the words.
 */
#ifndef RUNDIR_H
#define RUNDIR_H

#include <limits.h>
#include <sys/types.h>
#include <time.h>

#include <cJSON.h>

#define JOB_ID_MAX	96
#define JOB_JSON_MAX	(1 << 20)	/* the largest job.json read */

struct rundir {
	const char	*path;
	int		 fd;		/* run_dir itself */
	int		 keys;		/* .keys, or -1 */
	int		 deliveries;	/* .deliveries, or -1 */
	int		 queue;		/* .queue, or -1 */
	int		 slots;		/* .slots, or -1 */
	uid_t		 uid;		/* owner of run_dir and all within */
};

/*
 * Opens run_dir.  Refuses one that is not a folder or that others may
 * write.  With write, it must also belong to this process's user, and its
 * folders (.keys, .deliveries, .queue, .slots) are made if missing.
 * Returns 0, or -1 with the reason in err.
 */
int	 rundir_open(struct rundir *rd, const char *path, int write,
	    char *err, size_t errlen);
void	 rundir_close(struct rundir *rd);

/* Whether name looks like a job id (what job_create makes). */
int	 job_id_valid(const char *name);

struct job {
	char		 id[JOB_ID_MAX];
	int		 dirfd;		/* its folder, -1 if not open */
	char		 dir[PATH_MAX - 64];	/* run_dir/id, for people */
	/* Borrowed from the caller, or owned by src after job_read. */
	const char	*delivery;
	const char	*event;
	const char	*repository;
	const char	*ref;
	const char	*branch;
	const char	*sha;
	const char	*config;
	const char	*retry_of;	/* the job this one reruns, or NULL */
	const char	*state;		/* queued running succeeded ... */
	char *const	*argv;		/* borrowed; NULL after job_read */
	time_t		 created, started, finished;	/* 0: not yet */
	pid_t		 pid;		/* the trainer, 0: none yet */
	unsigned long long pid_start;	/* its start time, /proc ticks */
	pid_t		 supervisor;	/* 0: none */
	unsigned long long supervisor_start;
	char		*gpus;		/* owned: CUDA_VISIBLE_DEVICES, or NULL */
	int		 exit_code;	/* -1: none */
	int		 signal;	/* 0: none */
	char		 error[512];	/* why it failed to start */
	cJSON		*src;		/* owned: what job_read parsed */
};

/* The states a job ends in; anything else is live (or lost). */
int	 job_state_final(const char *state);

/*
 * Creates the job's folder under a new id (time, short sha, config name)
 * and sets j's state to "queued"; the caller fills in argv and writes
 * job.json.  Returns 0, or -1 with the reason in err.
 */
int	 job_create(struct rundir *rd, struct job *j, char *err,
	    size_t errlen);

/*
 * Reads job id's job.json into j (which then owns its strings; free with
 * job_close).  Returns 0, or -1 with errno set (ENOENT: no such job;
 * EINVAL: not a job id, or not a job.json).
 */
int	 job_read(struct rundir *rd, const char *id, struct job *j);

/*
 * Reads job id's job.json as it is, with "id" set to the folder's name.
 * Returns the object, to delete, or NULL (errno set).
 */
cJSON	*job_read_json(struct rundir *rd, const char *id);

/* Frees what j owns and closes its folder. */
void	 job_close(struct job *j);

/* Writes job.json as j now stands.  Returns 0, or -1 (errno set). */
int	 job_write(const struct job *j);

/* Writes the pid file.  Returns 0, or -1 (errno set). */
int	 job_write_pid(const struct job *j);

/* Removes the folder of a job that never started (job.json, log). */
void	 job_discard(struct rundir *rd, struct job *j);

/*
 * Opens a file of the job's folder (log, pid, ...) for reading, or with
 * flags.  Returns the descriptor, or -1 (errno set).
 */
int	 job_open_file(const struct job *j, const char *name, int flags);

enum claim { CLAIM_OK, CLAIM_TAKEN, CLAIM_ERROR };

/*
 * Claims (j->sha, j->config) for j.  CLAIM_OK if j is the first job of
 * that pair, CLAIM_TAKEN if another job has it (its id copied to other),
 * CLAIM_ERROR with the reason in err.
 */
enum claim job_claim(struct rundir *rd, struct job *j,
	    char other[JOB_ID_MAX], char *err, size_t errlen);

/* Points the pair's claim at j, whoever had it (a retry).  0 or -1. */
int	 job_claim_take(struct rundir *rd, const struct job *j);

/*
 * The latest job of (sha, config), copied to id.  Returns 0, or -1 if
 * the pair has none.
 */
int	 job_claim_latest(struct rundir *rd, const char *sha,
	    const char *config, char id[JOB_ID_MAX]);

/* Gives the pair back, for a job that never started. */
void	 job_unclaim(struct rundir *rd, const struct job *j);

/*
 * Asks the supervisor of job j to stop it, ending in state (cancelled,
 * superseded).  Returns 0, or -1 with errno set.
 */
int	 job_request_stop(const struct job *j, const char *state);

/* The state a stop request names, or NULL: read by the supervisor. */
const char *job_stop_requested(const struct job *j);

/*
 * Looks up a delivery already answered.  Returns its record ({sha, jobs},
 * or a bare array of jobs as older versions wrote it; to delete) or NULL
 * if there is none.
 */
cJSON	*delivery_lookup(struct rundir *rd, const char *delivery);

/* Records what a delivery started.  Returns 0, or -1 (errno set). */
int	 delivery_record(struct rundir *rd, const char *delivery,
	    const char *json);

#endif
