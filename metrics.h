/*
 * metrics.h: what Prometheus scrapes at GET .../metrics.
 *
 * Counters (deliveries by status and decision, jobs ended by state, the
 * run-duration histogram) live in run_dir/.metrics, one page of 64-bit
 * integers that every FastCGI process, CGI run and supervisor maps shared
 * and adds to with atomic instructions: no lock, no syscall per delivery
 * once mapped, nothing lost when a process dies, and monotonic across
 * restarts since the file stays.  Gauges are read at scrape time from what
 * is small and live: the queue's counter, the slots, the running jobs'
 * job.json and logging.jsonl, and run_dir/.last-success (one file per
 * branch).  No scrape reads a finished job's folder: its cost does not
 * grow with the run directory.
 */
#ifndef METRICS_H
#define METRICS_H

#include <stddef.h>

#include "conf.h"
#include "job.h"
#include "rundir.h"

/*
 * Maps run_dir/.metrics (made if missing) for this process and its
 * children.  Returns 0, or -1 (errno set): counting is then skipped.
 */
int	 metrics_open(struct rundir *rd);

/*
 * Counts one answered delivery (status, the reply's decision word), and
 * apart for repository (a configuration section's; NULL: none) too.
 */
void	 metrics_delivery(const char *run_dir, int status,
	    const char *decision, const char *repository);

/*
 * Counts a job that reached its final state (and its run's duration, if
 * it ran), apart for its repository too once a delivery of it was; a
 * success also sets its branch's last-success time.
 */
void	 metrics_job_ended(struct rundir *rd, const struct job *j);

/* What a deployment (deploy.h) counts. */
enum deploy_event {
	DEPLOY_STARTED, DEPLOY_SUCCEEDED, DEPLOY_FAILED_EV, DEPLOY_RESTARTED,
	DEPLOY_EVENTS
};
void	 metrics_deploy(struct rundir *rd, enum deploy_event e);

/*
 * The exposition (text format 0.0.4), to free, or NULL if out of memory.
 */
char	*metrics_render(struct rundir *rd, const struct conf *c,
	    size_t *len);

#endif
