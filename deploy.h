/*
 * deploy.h: serving a trained model.  After a run that succeeded (and
 * whose after_success did), on a deploy_branches branch, and, with
 * deploy_if_better, better than the one serving, its checkpoint is
 * served by the deploy command (`swift deploy --adapters {checkpoint}
 * --port {port} ...`) under a deployment's supervisor: a detached
 * process in a session of its own, as a job's is, which
 *
 *   takes run_dir/.deployments/switch.lock (one switch at a time);
 *   picks a port of deploy_ports that no live deployment holds and on
 *   which nothing listens, and a group of deploy_gpus no live one holds
 *   (none free: the one serving is stopped first, a gap);
 *   starts deploy in a process group of its own, its output in the
 *   deployment's log, and polls deploy_health on 127.0.0.1:port until it
 *   answers 200 from a socket this process group listens on (ms-swift
 *   moves to the next free port when its own is taken: whatever else
 *   answers there is not taken for it), within deploy_timeout;
 *   then records it serving and, DEPLOY_OVERLAP seconds later (both
 *   serve meanwhile: a balancer that took the new port out while it
 *   loaded has it back), stops the one serving before (SIGTERM to its
 *   group, kill_grace, SIGKILL: it finishes the requests it holds; its
 *   supervisor keeps its listening socket meanwhile and relays what
 *   still comes there to the new one, so that nothing queued on it is
 *   reset); or, when it dies or never becomes healthy, stops it and
 *   records it failed, and the one serving goes on;
 *   watches it while it serves: one that dies is started again, on its
 *   port or, while that is in TIME_WAIT, another free one (1, 2, 4, 8,
 *   16 s apart; after DEPLOY_RESTARTS restarts in a row, each death
 *   within 10 minutes of its start, the next death fails it); a stop
 *   request (a switch, undeploy) stops it.
 *
 * Each step is a commit status "swift-webhook/deploy" on the job's
 * commit, a line in the job's and the deployment's logs, notify (with
 * DEPLOY_* in its environment) and the counters of /metrics.  The web
 * server balances /v1/ over every deploy_ports port (apache/, lighttpd/):
 * a port where nothing listens is skipped, so a switch needs no reload.
 *
 * Errors follow util.h.
 */
#ifndef DEPLOY_H
#define DEPLOY_H

#include <stddef.h>

#include "conf.h"
#include "deployment.h"
#include "job.h"
#include "rundir.h"

#define DEPLOY_RESTARTS	5	/* restarts in a row; the next death fails */
#define DEPLOY_STABLE	600	/* seconds served that end "in a row" */
#define DEPLOY_OVERLAP	5	/* seconds both serve before the old stops */

/*
 * After job j's end, in its supervisor: whether it deploys (said in
 * j->deploy_note if not) and, if so, its deployment started
 * (j->deployment).  Never twice for a job.  The caller records j.
 */
void	 deploy_after_job(struct rundir *rd, struct conf *c, struct job *j);

/*
 * Starts a deployment of job's checkpoint (rollback_of: the deployment
 * it serves again, or NULL) under its own supervisor.  Returns 0 with
 * its id in out, or -1 with the reason in err.
 */
int	 deploy_start(struct rundir *rd, struct conf *c, const char *job,
	    const char *rollback_of, char out[JOB_ID_MAX], char *err,
	    size_t errlen);

/*
 * Serves the previous deployment's checkpoint of scope again (see
 * deployment_previous), through the same switch.  Returns 0 with the
 * new deployment's id in out, or -1 with the reason in err.
 */
int	 deploy_rollback(struct rundir *rd, struct conf *c, const char *scope,
	    char out[JOB_ID_MAX], char *err, size_t errlen);

/*
 * Stops deployment id (its supervisor, or here if it has none), waiting
 * at most kill_grace + 30 s.  Returns 0 once it has stopped, or -1 with
 * the reason in err.
 */
int	 deploy_stop(struct rundir *rd, struct conf *c, const char *id,
	    const char *why, char *err, size_t errlen);

/*
 * Waits until deployment id is no longer starting, at most wait
 * seconds.  Returns its state (a DEPLOY_* name), or NULL.
 */
const char *deploy_wait(struct rundir *rd, const char *id, double wait,
	    struct deployment *d);

/*
 * For lifecycle_tick: gives each live deployment whose supervisor is
 * gone (killed, or the machine restarted) a new one, which goes on
 * watching its server or starts it again.
 */
void	 deploy_adopt(struct rundir *rd, struct conf *c);

/*
 * HTTP GET of path on 127.0.0.1:port, at most timeout seconds.  Returns
 * the status code, or -1 (errno: ECONNREFUSED when nothing listens).
 */
int	 deploy_http_get(int port, const char *path, double timeout);

/*
 * Whether a socket listening on port (any address) is held by process
 * group pgid or a process below pid: 1 yes, 0 something else listens,
 * -1 nothing listens.
 */
int	 deploy_port_owned(int port, pid_t pgid, pid_t pid);

#endif
