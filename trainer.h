/*
 * trainer.h: what a job runs, made before anything forks: the trainer's
 * argv (launcher + command, {placeholders} filled in), its environment
 * (the allow-list, env, JOB_*, and the slots' CUDA_VISIBLE_DEVICES and
 * MASTER_PORT), the directory it runs in, and the same for notify and
 * after_success.  Nothing here starts a process: the supervisor hands
 * these to spawn.h.
 *
 * Errors follow util.h.
 */
#ifndef TRAINER_H
#define TRAINER_H

#include <stddef.h>

#include "conf.h"
#include "job.h"
#include "queue.h"
#include "spawn.h"

/* The supervisor's own stages of a start, after spawn's (spawn.h). */
enum { STAGE_PIDFILE = SPAWN_STAGES, STAGE_ENV };

struct trainer {
	char	**argv;		/* launcher + command, placeholders filled */
	char	**envp;		/* allow-list + env key + JOB_* */
	char	 *exe;		/* argv[0] found in PATH, or NULL */
	char	 *cwd;		/* the checkout, workdir or the job's folder */
	char	 *output_dir;	/* output_dir, placeholders filled */
	char	**notify_argv;	/* NULL: no notify */
	char	**notify_envp;
	char	 *notify_exe;
};

/*
 * Fills t for job j (which has its id and folder).  Returns 0, or -1 if
 * out of memory.
 */
int	 trainer_prepare(struct trainer *t, const struct job *j,
	    const struct conf *c);
void	 trainer_free(struct trainer *t);

/*
 * Whether the trainer can be executed and its directory entered.
 * Returns 0, or -1 with the reason (and what to do) in err.
 */
int	 trainer_check(const struct trainer *t, const struct conf *c,
	    char *err, size_t errlen);

/*
 * The reason the trainer could not start at stage (spawn's or ours) with
 * errno err, as the client and job.json say it.
 */
void	 trainer_error(char *buf, size_t size, int stage, int err,
	    const struct trainer *t);

/*
 * Puts the slots' GPUs (CUDA_VISIBLE_DEVICES, also into j->gpus) and
 * torchrun port (MASTER_PORT) into t's environment.  Returns 0, or -1 if
 * out of memory.
 */
int	 trainer_slots(struct trainer *t, struct job *j, const struct conf *c,
	    const struct slots *s);

/*
 * after_success's argv for j, which has succeeded and has its results.
 * Returns 0, or -1 with the reason in err (a checkpoint it names that
 * logging.jsonl did not give, or out of memory).
 */
int	 trainer_after_argv(const struct trainer *t, const struct job *j,
	    const struct conf *c, struct strv *argv, char *err,
	    size_t errlen);

/*
 * deploy's argv for j, which has succeeded and has its results, to serve
 * on port as model_name.  Returns 0, or -1 as trainer_after_argv.
 */
int	 trainer_deploy_argv(const struct trainer *t, const struct job *j,
	    const struct conf *c, int port, const char *model_name,
	    struct strv *argv, char *err, size_t errlen);

/*
 * Whether j has a checkpoint to serve ({checkpoint}: the best, else the
 * last) and it is a folder inside its output_dir.  Returns 0, or -1 with
 * the reason in err.
 */
int	 trainer_checkpoint(const struct trainer *t, const struct job *j,
	    char *err, size_t errlen);

/*
 * notify's environment for j as it ended: t's notify environment plus
 * JOB_STATE, JOB_EXIT, JOB_SIGNAL, JOB_DURATION, JOB_AFTER_SUCCESS and
 * the checkpoints.  Returns 0, or -1 if out of memory.
 */
int	 trainer_notify_env(const struct trainer *t, const struct job *j,
	    struct strv *env);

/*
 * Runs t's notify (if there is one) with env (trainer_notify_env's and
 * what the caller adds), in the folder dirfd, killed after timeout
 * seconds.  Returns 0 (it exited 0, or there is none), or -1 with why
 * it did not in why ("notify failed (status 3)").
 */
int	 trainer_notify(const struct trainer *t, char *const env[], int dirfd,
	    long timeout, char *why, size_t whylen);

#endif
