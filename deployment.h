/*
 * deployment.h: one deployment's record, as job.h is one job's: struct
 * deployment and its deploy.json (whose one writer and one reader are
 * here), its states, and the folder that holds them all:
 *
 *	run_dir/.deployments/<id>/deploy.json	what it serves, where, state
 *	run_dir/.deployments/<id>/log		its server's output and ours
 *	run_dir/.deployments/<id>/stop		asks its supervisor to stop it
 *	run_dir/.deployments/<id>/supervisor.lock	held by its supervisor
 *	run_dir/.deployments/switch.lock	held through a switch
 *	run_dir/.deployments/.live/<id>		one that holds its port
 *
 *	starting --> serving --> stopping --> stopped
 *	    |           |
 *	    +-----------+--> failed
 *
 * A deployment serves one job's checkpoint; a rollback is a new
 * deployment of an older job's.  What starts, checks and stops one is
 * deploy.h; this is only the record, read with the run directory's
 * rules (no symlink followed, bounded, the owner's).
 *
 * Errors follow util.h.
 */
#ifndef DEPLOYMENT_H
#define DEPLOYMENT_H

#include <limits.h>
#include <sys/types.h>
#include <time.h>

#include "rundir.h"
#include "util.h"

#define DEPLOY_FOLDER	".deployments"
#define DEPLOY_SCAN	1000	/* the newest records any look reads */

/* A scope that takes the deployments of every repository. */
extern const char DEPLOY_ANY[];

extern const char *const DEPLOY_STARTING, *const DEPLOY_SERVING,
	    *const DEPLOY_STOPPING, *const DEPLOY_STOPPED, *const DEPLOY_FAILED;

struct deployment {
	char		 id[JOB_ID_MAX];
	int		 dirfd;		/* its folder, -1 if not open */
	char		 job[JOB_ID_MAX];	/* the job whose model it serves */
	char		 repository[104];	/* "" if none */
	char		 scope[104];	/* its configuration section, "" */
	char		 branch[256];
	char		 sha[65];
	char		 config[256];
	char		 checkpoint[PATH_MAX];
	char		 model_name[128];
	char		 rollback_of[JOB_ID_MAX];	/* the deployment it
					   serves again, "" */
	const char	*state;		/* one of the names above, or NULL */
	int		 port;		/* 0: none chosen yet */
	char		 gpus[64];	/* its CUDA_VISIBLE_DEVICES, "" */
	pid_t		 pid;		/* its server, 0: none */
	unsigned long long pid_start;
	pid_t		 supervisor;
	unsigned long long supervisor_start;
	char		 boot_id[40];
	time_t		 created, since, ended;	/* since: serving since */
	int		 restarts;
	char		 reason[256];	/* why it failed or stopped, "" */
	char		 metric[16];	/* deploy_if_better's, "" */
	double		 value;		/* its value for the job */
};

/* Whether a deployment in state holds its port and GPUs. */
int	 deployment_live(const char *state);

/* An empty record. */
void	 deployment_init(struct deployment *d);

/*
 * Opens run_dir/.deployments (made with make).  Returns it, or -1
 * (errno set).
 */
int	 deployment_folder(struct rundir *rd, int make);

/*
 * Makes d's folder under a new id (the time, the short sha) and writes
 * its record, state starting.  Returns 0, or -1 with the reason in err.
 */
int	 deployment_create(struct rundir *rd, struct deployment *d, char *err,
	    size_t errlen);

/*
 * Reads deployment id's record into d (its folder left open: close
 * with deployment_close).  Returns 0, or -1 (errno: ENOENT, EINVAL).
 */
int	 deployment_read(struct rundir *rd, const char *id,
	    struct deployment *d);

/* Writes deploy.json as d now stands, synced.  Returns 0 or -1. */
int	 deployment_write(const struct deployment *d);

void	 deployment_close(struct deployment *d);

/*
 * The ids of the deployments, newest first, at most DEPLOY_SCAN, into v.
 * Returns 0, or -1 (errno set).
 */
int	 deployment_ids(struct rundir *rd, struct strv *v);

/* Whether d's supervisor (pid and start time) is still there. */
int	 deployment_supervised(const struct deployment *d);

/* Whether d's server (pid and start time) is still there. */
int	 deployment_running(const struct deployment *d);

/*
 * The deployments of scope (a section's name; "" or NULL: none;
 * DEPLOY_ANY: all) that hold their port: into out (at most max, newest first).  Returns their
 * count, or -1.  With exclude, not that one.
 */
int	 deployment_live_list(struct rundir *rd, const char *scope,
	    const char *exclude, struct deployment *out, int max);

/*
 * The one of scope serving now (the newest serving), or with previous
 * the one that served before it: the newest stopped one that was
 * serving once (since set) and serves another job than the current.
 * Returns 0 with it in d (deployment_close it), or -1.
 */
int	 deployment_current(struct rundir *rd, const char *scope,
	    struct deployment *d);
int	 deployment_previous(struct rundir *rd, const char *scope,
	    struct deployment *d);

/*
 * The deployment made for job's run (not a rollback to it): its id into
 * out.  Returns 0, or -1 if there is none.
 */
int	 deployment_of_job(struct rundir *rd, const char *job,
	    char out[JOB_ID_MAX]);

/*
 * Asks d's supervisor to stop it (the file "stop" with why).  Returns 0
 * or -1.
 */
int	 deployment_request_stop(const struct deployment *d, const char *why);

/* Why a stop was asked (into why), or 0 if it was not. */
int	 deployment_stop_requested(const struct deployment *d, char *why,
	    size_t whylen);

#endif
