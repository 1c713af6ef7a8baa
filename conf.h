/*
 * conf.h: the configuration file, /etc/swift-webhook.conf by default.
 *
 * Lines are "key = value"; '#' at the start of a line or after white space
 * starts a comment; list values are separated by white space.  A file that
 * does not parse is refused whole: the caller never sees half a config.
 *
 * A line "[owner/name]" starts a section: the configuration of that
 * GitHub repository, whose pushes alone it trains.  The keys before the
 * first section are every section's defaults; a section sets what is its
 * own (CONF_BOX_KEYS are one per machine and refused there).  Each
 * section is a whole struct conf of its own, box keys equal to the
 * file's, in the file's sections[]; without sections the file's is the
 * one configuration, of any repository.
 */
#ifndef CONF_H
#define CONF_H

#include <stddef.h>
#include <time.h>

#include "util.h"
#include "window.h"

#define CONF_DEFAULT_PATH "/etc/swift-webhook.conf"
#define CONF_MAX	(1 << 20)	/* the largest config file read */
#define SECRET_MAX	4096		/* the longest secret */
#define MAX_BODY_DEFAULT 26214400	/* GitHub's cap on a delivery, 25 MB */
#define MAX_SLOTS	64		/* slots (GPUs) one config may have */
#define MAX_SECTIONS	64		/* repositories one file may have */
#define DEPLOY_PORTS_MAX 16		/* deploy_ports one config may have */

struct conf {
	char		*path;		/* the file it came from */
	time_t		 loaded;	/* when it was read */
	char		*secret;	/* NUL-terminated, never logged */
	size_t		 secretlen;
	char		*run_dir;	/* absolute */
	char		*workdir;	/* absolute, or NULL: the job's folder */
	struct strv	 branches;
	struct strv	 paths;
	struct strv	 ignore_paths;
	struct strv	 configs;
	char		*default_config;
	struct strv	 command;	/* argv template with {placeholders} */
	struct strv	 launcher;	/* argv prefix, same placeholders */
	struct strv	 env;		/* NAME=VALUE for the trainer */
	size_t		 max_body;
	/* The job lifecycle: slots, queue, concurrency, limits, notify. */
	struct strv	 gpus;		/* GPU ids; empty: plain slots */
	long		 slots;		/* slot count (gpus: one per GPU) */
	long		 gpus_per_job;
	long		 max_queued;	/* jobs that may wait */
	long		 max_runs_per_push;	/* configs one push may start */
	enum concurrency {
		CONC_QUEUE, CONC_SUPERSEDE, CONC_CANCEL_IN_PROGRESS
	}		 concurrency;
	long		 max_runtime;	/* seconds, 0: none */
	long		 kill_grace;	/* seconds */
	long		 master_port;	/* a local job's: this + its first slot */
	struct strv	 notify;	/* argv, same placeholders */
	struct strv	 notify_env;	/* NAME=VALUE for notify only */
	long		 notify_timeout;	/* seconds */
	/* The job's source: a checkout of the pushed commit (checkout.c). */
	char		*repository;	/* URL or path git fetches, or NULL */
	long		 fetch_timeout;	/* seconds, each git step */
	int		 submodules;	/* update them in the checkout */
	int		 keep_src;	/* keep the checkout when the job ends */
	char		*git_ssh_key;	/* deploy key, or NULL */
	char		*git_known_hosts;	/* with git_ssh_key */
	char		*git_credentials;	/* git-credential-store file */
	char		*output_dir;	/* template: where the trainer writes */
	/* Commit statuses on GitHub (commitstatus.c). */
	char		*github_token_file;	/* or NULL: none posted */
	char		*api_url;	/* https://api.github.com */
	char		*public_url;	/* the status page, for target_url */
	long		 github_timeout;	/* seconds, each request */
	/* When jobs may run (schedule.c) and on what (gpu.c). */
	struct window	 windows[MAX_WINDOWS];
	int		 nwindows;	/* 0: any time */
	char		*timezone;	/* or NULL: the machine's */
	int		 window_skip;	/* outside: ignore the push */
	int		 window_stop;	/* stop a running job at its end */
	long		 max_runs_per_day;	/* per repository, 0: no limit */
	int		 gpu_check;	/* wait while its GPUs are in use */
	long		 gpu_busy_mib;
	long		 gpu_check_interval;	/* seconds */
	struct strv	 after_success;	/* argv run after a success */
	/* Where jobs run: here, or on a Slurm cluster (slurm.c). */
	enum backend { BACKEND_LOCAL, BACKEND_SLURM } backend;
	long		 nodes;		/* per job, with slurm */
	struct strv	 slurm_args;	/* more sbatch options, --opt=value */
	char		*slurm_conf;	/* SLURM_CONF for the tools, or NULL */
	long		 slurm_poll;	/* seconds, the longest between polls */
	enum slurm_gpus {		/* how a job asks Slurm for GPUs */
		SLURM_GPUS_GRES,	/* --gres=gpu:N */
		SLURM_GPUS_PER_NODE,	/* --gpus-per-node=N */
		SLURM_GPUS_TOTAL,	/* --gpus=N x nodes */
		SLURM_GPUS_NONE		/* not at all (the partition's) */
	}		 slurm_gpus;
	/* Serving the trained model (deploy.h). */
	struct strv	 deploy;	/* argv, after_success's placeholders
					   and {port}, {model_name} */
	struct strv	 deploy_ports;	/* as given; the numbers below */
	int		 deploy_port[DEPLOY_PORTS_MAX];
	int		 ndeploy_ports;
	char		*deploy_health;	/* the path polled, "/health" */
	long		 deploy_timeout;	/* seconds to become healthy */
	struct strv	 deploy_branches;	/* runs of these deploy */
	struct strv	 deploy_gpus;	/* groups "0,1": one per deployment */
	char		*deploy_model_name;	/* or NULL: the repository's
					   name, else "model" */
	char		*deploy_if_better;	/* as given, or NULL */
	enum deploy_metric {
		METRIC_NONE, METRIC_EVAL_LOSS, METRIC_LOSS, METRIC_BEST
	}		 deploy_metric;
	int		 deploy_max;	/* the metric is better higher */
	/* torchrun's processes per node: NPROC_GPUS, 0 (none) or N. */
	long		 nproc_per_node;
	/* Sections: a repository's own, or the file's with all of them. */
	char		*name;		/* the section's owner/name, or NULL */
	struct conf	*sections;	/* the file's: each repository's */
	size_t		 nsections;
	struct conf	*file;		/* a section's: the file's (NULL in
					   the file's own; see conf_rebase) */
};

#define NPROC_GPUS	(-1)	/* one process per GPU of the job */

/*
 * Reads the configuration from path (NULL: $SWIFT_WEBHOOK_CONFIG, else
 * CONF_DEFAULT_PATH).  The secret comes from secret_file, secret, or the
 * environment variable GITHUB_WEBHOOK_SECRET, in that order; a config
 * without any secret still loads (secret NULL), and the caller refuses
 * every delivery.  Returns 0 on success; -1 with "file:line: reason" in
 * err on any error, and then c holds nothing to free.
 */
int	 conf_load(struct conf *c, const char *path, char *err, size_t errlen);

/*
 * The processes per node a job's trainer runs (NPROC_PER_NODE, which
 * makes ms-swift start torchrun): nproc_per_node, or with "gpus" one per
 * GPU of the job when it has more than one.  0: none is set (one process
 * over all the job's GPUs, for device_map model parallel).
 */
long	 conf_nproc(const struct conf *c);

/* Frees everything c owns and wipes the secret. */
void	 conf_free(struct conf *c);

/*
 * The configuration of repository (owner/name, as GitHub spells it, any
 * case): its section, or c's file when it has no sections; NULL when it
 * has sections and none is repository's (or repository is NULL).  c may
 * be the file's or any section of it.
 */
struct conf *conf_section(struct conf *c, const char *repository);

/*
 * The configuration a job of repository follows: its section, or the
 * file's when it has none (no sections, or one removed since).
 */
struct conf *conf_job(struct conf *c, const char *repository);

/* The file's configuration, from c or any section of it. */
struct conf *conf_file(struct conf *c);

/*
 * What a repository's own records (claims, the day's runs, last
 * successes) are kept under: the section's name, lower case, or NULL
 * without sections (the records of before sections).
 */
const char *conf_scope(const struct conf *c);

/* After *c was copied whole from another: its sections point at it. */
void	 conf_rebase(struct conf *c);

/*
 * Takes GITHUB_WEBHOOK_SECRET out of the environment (wiping its bytes
 * where /proc/PID/environ shows them) and keeps it for conf_load.  Call
 * at start-up, before anything copies the environment.
 */
void	 conf_take_env_secret(void);

/* Wipes every copy of the secret this process holds (c may be NULL). */
void	 conf_wipe_secret(struct conf *c);

/*
 * The name deployments of c serve the model under: deploy_model_name,
 * else the repository's name (after its owner's), else "model".  Into
 * out.
 */
const char *conf_model_name(const struct conf *c, const char *repository,
	    char out[128]);

/*
 * The {placeholders} that command, launcher and env values may use; the
 * values are filled in per job (spawn.c).
 */
enum placeholder {
	PH_CONFIG, PH_SHA, PH_SHORT_SHA, PH_REF, PH_BRANCH, PH_REPOSITORY,
	PH_DELIVERY, PH_JOB, PH_JOB_DIR, PH_SRC, PH_COMMIT, PH_OUTPUT_DIR,
	/* after_success only: the last, the best, the best or else the last */
	PH_LAST_CHECKPOINT, PH_BEST_CHECKPOINT, PH_CHECKPOINT,
	/* deploy only: the port it serves on, the model's name there */
	PH_PORT, PH_MODEL_NAME,
	PH__COUNT
};
extern const char *const conf_placeholder_names[PH__COUNT];

/*
 * Finds the placeholder that starts at s (just after a '{').  Returns its
 * index and sets *len to the length of "name}", or -1 if s does not start
 * with a known name followed by '}'.
 */
int	 conf_placeholder(const char *s, size_t *len);

#endif
