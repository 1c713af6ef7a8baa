/*
 * rundir.h: the run directory, the one record of what every push started.
 *
 *	run_dir/<job-id>/job.json	the job's metadata and state
 *	run_dir/<job-id>/pid		the trainer's PID, once it runs
 *	run_dir/<job-id>/log		the trainer's stdout and stderr
 *	run_dir/<job-id>/stop		asks the supervisor to stop the job
 *	run_dir/.keys/<sha>-<cfg>	symlink to the latest job of (sha, config)
 *	run_dir/.keys.lock		flock(2)ed to re-point or give back one
 *	run_dir/.deliveries/<id>	the jobs a delivery started (JSON)
 *	run_dir/.live/<id>		a job that has not ended, or whose
 *					end's work is left: what tick looks at
 *					(and, backend = slurm, /metrics)
 *	run_dir/.tick			flock(2)ed and stamped by a look
 *					that ticks (lifecycle.h)
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

#include <cJSON.h>

#define JOB_ID_MAX	96
#define RUNDIR_FDS	6	/* the descriptors struct rundir holds */
#define CLAIMS_LOCK_WAIT 5	/* seconds, .keys.lock */

struct rundir {
	const char	*path;
	int		 fd;		/* run_dir itself */
	int		 keys;		/* .keys, or -1 */
	int		 deliveries;	/* .deliveries, or -1 */
	int		 queue;		/* .queue, or -1 */
	int		 slots;		/* .slots, or -1 */
	int		 live;		/* .live, or -1 */
	uid_t		 uid;		/* owner of run_dir and all within */
};

/*
 * Opens run_dir.  Refuses one that is not a folder or that others may
 * write.  With write, it must also belong to this process's user, and its
 * folders (.keys, .deliveries, .queue, .slots, .live) are made if missing.
 * Returns 0, or -1 with the reason in err.
 */
int	 rundir_open(struct rundir *rd, const char *path, int write,
	    char *err, size_t errlen);
void	 rundir_close(struct rundir *rd);

/*
 * The HOME a trainer and git get (Hugging Face, ModelScope and pip keep
 * their caches there): the server's HOME if this user can write it, else
 * this user's home from the password database if it can, else
 * run_dir/.home (made 0750 if missing; not a symlink, this user's).  Into
 * out, with why ("the server's HOME", ...).  Returns 0, or -1 if none.
 */
int	 rundir_home(const char *run_dir, char out[PATH_MAX],
	    const char **why);

/*
 * The descriptors rd holds, for a process that must keep them (a
 * detached one): into fds, -1 for those not open.  Returns RUNDIR_FDS.
 */
int	 rundir_fds(const struct rundir *rd, int fds[RUNDIR_FDS]);

/*
 * Marks job id live (.live/<id>) or clears the mark.  Returns 0, or -1
 * (errno set).
 */
int	 rundir_live(struct rundir *rd, const char *id, int live);

/* Whether name looks like a job id (what job_create makes). */
int	 job_id_valid(const char *name);

struct strv;

/*
 * The job ids of the run directory (its entries that job_id_valid
 * takes) into v (empty), oldest first (ids begin with their creation
 * time), or newest first.  Returns 0, or -1 with errno set (ENOMEM: v
 * holds those it could keep, sorted; else v may hold some, unsorted).
 */
int	 rundir_job_ids(struct rundir *rd, struct strv *v, int newest_first);

/* The same for the folder dfd (the deployments'). */
int	 rundir_ids_at(int dfd, struct strv *v, int newest_first);

/*
 * Makes a job's folder: base as the id, or base-2, base-3 ... if taken.
 * Returns its descriptor with the id in id, or -1 with the reason in err.
 */
int	 rundir_mkjob(struct rundir *rd, const char *base, char id[JOB_ID_MAX],
	    char *err, size_t errlen);

/* The same under the folder dfd (path, for the words; its owner uid). */
int	 rundir_mkid_at(int dfd, const char *path, uid_t uid, const char *base,
	    char id[JOB_ID_MAX], char *err, size_t errlen);

/*
 * Reads name under dfd (a regular file, not a symlink, at most max bytes)
 * and parses it.  Returns the JSON, to delete, or NULL (errno set; EINVAL
 * if it is no JSON).
 */
cJSON	*json_read_at(int dfd, const char *name, size_t max);

/* Member name of o if it is a string (else NULL) or a number (else none). */
const char *json_str(const cJSON *o, const char *name);
double	 json_num(const cJSON *o, const char *name, double none);

enum claim { CLAIM_OK, CLAIM_TAKEN, CLAIM_ERROR };

/*
 * Claims (sha, config) for job id: a symlink in .keys, which one process
 * only can make.  Each claim is a repository's: scope names it (with
 * configuration sections; NULL: the one repository, as before them).  CLAIM_OK if id is the first job of that pair,
 * CLAIM_TAKEN if another job has it (its id copied to other), CLAIM_ERROR
 * with the reason in err.
 */
enum claim claim_try(struct rundir *rd, const char *scope,
	    const char *sha, const char *config,
	    const char *id, char other[JOB_ID_MAX], char *err, size_t errlen);

/*
 * Points the pair's claim at id, whoever had it (a retry), under
 * .keys.lock.  Returns 0 or -1.
 */
int	 claim_point(struct rundir *rd, const char *scope,
	    const char *sha, const char *config,
	    const char *id);

/*
 * The latest job of (sha, config), copied to id.  Returns 0, or -1 if
 * the pair has none.
 */
int	 claim_latest(struct rundir *rd, const char *scope,
	    const char *sha, const char *config,
	    char id[JOB_ID_MAX]);

/*
 * Gives the pair back if id holds it (a job that never started): read and
 * removed under .keys.lock, so a claim just re-pointed stays.
 */
void	 claim_release(struct rundir *rd, const char *scope,
	    const char *sha, const char *config,
	    const char *id);

/*
 * Gives back every claim that names id, whatever its pair (a job whose
 * record, and with it its sha and config, is gone): a walk of .keys.
 */
void	 claim_release_job(struct rundir *rd, const char *id);

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
