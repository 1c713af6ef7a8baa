/*
 * job.h: one job's record: struct job and job.json (whose one writer and
 * one reader are here), its states and which changes between them are
 * legal, and the files of its folder.  What happens to a job is above
 * this: its supervisor (supervise.h) runs it, lifecycle.h starts,
 * queues, cancels and supersedes it; the run directory is rundir.h.
 *
 *	queued --> [preparing] --> running --> succeeded | failed | killed |
 *	   |           |              |        cancelled | timeout | lost
 *	   |           +--> failed | cancelled | superseded | lost
 *	   +--> cancelled | superseded | failed (its trainer cannot start)
 *
 * "preparing" is the checkout of the pushed commit (checkout.h), only with
 * a repository configured.  With backend = slurm, a job is "queued" while
 * Slurm has it pending: after its checkout (preparing --> queued) and
 * when Slurm requeues it (running --> queued).
 *
 * A job whose supervisor is gone (the process job.json names is no
 * more; or a queued one that no supervisor took, neither in the queue
 * nor started) shows as "lost"
 * until a new supervisor takes it over (lifecycle_adopt): a preparing
 * one goes back to the queue, a running one is followed to its end.
 * "lost" is written as its end when the job cannot go on: the machine
 * restarted under it, or its trainer's end was never recorded (its
 * supervisor and its reaper both killed).  A job that has ended keeps
 * "ending" in its record until the work of its end (after_success, the
 * commit status, notify) is done, so that a new supervisor can finish it.
 *
 * Errors follow util.h.
 */
#ifndef JOB_H
#define JOB_H

#include <sys/types.h>
#include <time.h>

#include <cJSON.h>

#include "conf.h"
#include "results.h"
#include "rundir.h"
#include "util.h"

#define JOB_JSON_MAX	(1 << 20)	/* the largest job.json read */

struct job {
	char		 id[JOB_ID_MAX];
	int		 dirfd;		/* its folder, -1 if not open */
	char		 dir[PATH_MAX - 64];	/* run_dir/id, for people */
	/*
	 * Borrowed: from the caller who fills them in before lifecycle_start, or
	 * from src after job_read.
	 */
	const char	*delivery;
	const char	*event;
	const char	*repository;
	const char	*repository_url;	/* for commit links, or NULL */
	const char	*ref;
	const char	*branch;
	const char	*sha;
	const char	*config;
	const char	*retry_of;	/* the job this one reruns, or NULL */
	char *const	*argv;		/* written to job.json; not read back */
	const char	*output_dir;	/* where the trainer writes, or NULL */
	/* One of the names below, or NULL when job.json had none we know. */
	const char	*state;
	time_t		 created, started, finished;	/* 0: not yet */
	pid_t		 pid;		/* the trainer, 0: none yet */
	unsigned long long pid_start;	/* its start time, /proc ticks */
	pid_t		 supervisor;	/* 0: none */
	unsigned long long supervisor_start;
	pid_t		 reaper;	/* what waits for the trainer, or for
					   after_success (spawn.h), 0: none */
	unsigned long long reaper_start;
	char		 boot_id[40];	/* the boot it started under */
	int		 ending;	/* its end is recorded, the work of
					   its end (after_success, commit
					   status, notify) not all done */
	int		 notified;	/* notify was started: never again */
	/* Owned. */
	char		*gpus;		/* CUDA_VISIBLE_DEVICES, or NULL */
	int		 exit_code;	/* -1: none */
	int		 signal;	/* 0: none */
	char		 error[512];	/* why it failed to start */
	char		 note[256];	/* what its end left behind, or "" */
	char		 commit[65];	/* HEAD of its checkout (SHA-1 or
					   SHA-256), "" if none */
	int		 has_src;	/* its checkout (dir/src) is there */
	char		 waiting[128];	/* why it waits ("gpu busy", "slurm:
					   Priority"), "" if it does not */
	char		 ticket[64];	/* its run of the day (schedule.h) */
	/* after_success, once it ran: its end ("" if it did not run). */
	char		 after_state[16];
	int		 after_exit;	/* -1: none */
	long		 after_duration;
	pid_t		 after_pid;	/* while it runs, 0: not */
	unsigned long long after_pid_start;
	char		 after_error[256];
	/* backend = slurm: its Slurm job, once submitted, and its nodes. */
	long		 slurm_job_id;	/* 0: none */
	char		 slurm_nodes[128];
	struct results	 results;	/* from logging.jsonl, at its end */
	char		 commit_title[TITLE_MAX];	/* its commit's title
					   (util.h: title_clean), "" */
	/* The config it trained, kept in its folder (job_keep_config). */
	char		 config_copy[16];	/* the copy's name, "": none */
	char		 config_copy_error[256];	/* why none, "" */
	/* Serving it (deploy.h): its deployment's id, or why none. */
	char		 deployment[JOB_ID_MAX];	/* "": none */
	char		 deploy_note[256];	/* "not deployed: ...", "" */
	cJSON		*src;		/* what job_read parsed */
};

/* The states, as job.json spells them. */
extern const char *const JOB_QUEUED, *const JOB_PREPARING, *const JOB_RUNNING,
	    *const JOB_SUCCEEDED, *const JOB_FAILED, *const JOB_KILLED,
	    *const JOB_CANCELLED, *const JOB_SUPERSEDED, *const JOB_TIMEOUT,
	    *const JOB_LOST;

/* Whether a job ends in state (succeeded ... timeout). */
int	 job_state_final(const char *state);

/*
 * Moves j to state to if the machine above allows it from j->state (a
 * lost job's record still says running or queued).  Returns 0, or -1
 * (EINVAL) and j is left as it was.
 */
int	 job_set_state(struct job *j, const char *to);

/* An empty record: no folder, no exit code. */
void	 job_init(struct job *j);

/*
 * Makes the job's folder under a new id (time, short sha, config name)
 * and sets j's state to queued; the caller fills in argv and writes
 * job.json.  Returns 0, or -1 with the reason in err.
 */
int	 job_create(struct rundir *rd, struct job *j, char *err,
	    size_t errlen);

/*
 * Reads job id's job.json into j (which then owns its strings; free with
 * job_close).  Returns 0, or -1 with errno set (ENOENT: no such job;
 * EINVAL: not a job id, or no JSON object there).
 */
int	 job_read(struct rundir *rd, const char *id, struct job *j);

/*
 * Reads job id's job.json as it is, with "id" set to the folder's name.
 * Returns the object, to delete, or NULL (errno set).
 */
cJSON	*job_read_json(struct rundir *rd, const char *id);

/*
 * Reads job id's job.json as it is, but with state "lost" for a job that
 * nobody will see to its end: what people are shown.  With j, the job is
 * also read into it (job_close it).  Returns the object, to delete, or
 * NULL (errno set).
 */
cJSON	*job_load_shown(struct rundir *rd, const char *id, struct job *j);

/* The creation time a job id starts with, or 0. */
time_t	 job_id_time(const char *id);

/* Where j's trainer writes: output_dir, or (older jobs) dir/output. */
const char *job_output_dir(const struct job *j, char buf[PATH_MAX]);

/* Frees what j owns and closes its folder. */
void	 job_close(struct job *j);

/* Writes job.json as j now stands (synced).  Returns 0, or -1. */
int	 job_write(const struct job *j);

/*
 * The same, synced only with sync: for a record that a crash may lose
 * without losing a job (a trainer that a crash ends anyway).
 */
int	 job_save(const struct job *j, int sync);

/* Writes the pid file.  Returns 0, or -1 (errno set). */
int	 job_write_pid(const struct job *j);

/* Opens a file of the job's folder with flags.  Returns it, or -1. */
int	 job_open_file(const struct job *j, const char *name, int flags);

/*
 * The one-writer lock of job.json, run_dir/<job>/supervisor.lock: held
 * by the job's supervisor for all its life, and by anyone else who
 * writes its record while it has none (cancel of a lost job, a queued
 * job's end).  Waits at most wait seconds.  Returns the locked
 * descriptor (close it to let go), or -1 with errno (ETIMEDOUT: held).
 */
int	 job_writer_lock(const struct job *j, double wait);

/*
 * Keeps the config j trains (j->config, read under the descriptor cwd,
 * its checkout or workdir) in j's folder, as "config" plus the config's
 * own extension ("config.yaml"), for compare: read with path_open_at
 * (never through a symlink, a regular file), at most CONFIG_COPY_MAX
 * bytes, written atomically.  Sets j->config_copy, or says in
 * j->config_copy_error why it is not kept.  Returns 0 or -1.
 */
#define CONFIG_COPY_MAX	(256 << 10)
#define CONFIG_COPY_MAX_TEXT	"256 KiB"
int	 job_keep_config(struct job *j, int cwd);

/*
 * The config j kept (job_keep_config), read under the same bounds (the
 * trainer may have changed the folder since).  Returns it NUL-terminated
 * (its length in *len), to free, or NULL with errno set (ENOENT: none
 * kept).
 */
char	*job_read_config(const struct job *j, size_t *len);

/*
 * The job before j of the same repository, branch and config: the one
 * of the greatest id below j's (ids begin with their creation time), at
 * most scan records read.  Returns 0 with its id in out, or -1.
 */
#define PREVIOUS_SCAN	2000	/* what the status page and statuses read */
int	 job_previous(struct rundir *rd, const struct job *j, size_t scan,
	    char out[JOB_ID_MAX]);

/* Removes the folder of a job that never started (job.json, log). */
void	 job_discard(struct rundir *rd, struct job *j);

/* Asks j's supervisor to stop it, ending in state.  Returns 0 or -1. */
int	 job_request_stop(const struct job *j, const char *state);

/* The state a stop request names, or NULL: read by the supervisor. */
const char *job_stop_requested(const struct job *j);

/*
 * Whether a job shows as lost (see above), from its job.json.  A job
 * Slurm has (slurm_job_id) never does: lifecycle_adopt gives it a
 * supervisor.
 */
int	 job_lost(struct rundir *rd, const struct job *j);

/*
 * Whether a job needs a new supervisor: it is lost (above), or it has
 * ended with the work of its end left (ending) and no supervisor has it.
 */
int	 job_adoptable(struct rundir *rd, const struct job *j);

/*
 * A job read back from job.json gets the checks a delivery gets (filter.h:
 * job_values_valid).  Returns 0, or -1 with the reason in err.
 */
int	 job_valid(const struct job *j, char *err, size_t errlen);

#endif
