/*
 * schedule.h: when jobs may run: the clock, training windows
 * (run_window, timezone) and the daily budget (max_runs_per_day).
 *
 *	run_dir/.runs/DAY/	DAY (YYYY-MM-DD in timezone) of the budget:
 *				one file per run taken, "<repo hash>-<n>"
 *				for n = 1..max_runs_per_day, made with
 *				O_EXCL and naming the job; given back when
 *				a job ends without its trainer having run
 *
 * Outside every window the queue starts nothing; a job queued then waits
 * ("waiting: window") and the waiter (lifecycle.h) starts it when the next
 * window opens.
 *
 * The clock is time(2).  A test build (-DTEST_CLOCK) adds the seconds in
 * SWIFT_WEBHOOK_TEST_CLOCK to it, so the tests can be on a Monday at
 * 08:59:58 in any time zone; the installed binary has no such hook.
 */
#ifndef SCHEDULE_H
#define SCHEDULE_H

#include <time.h>

#include "conf.h"
#include "rundir.h"

/* Now, as every decision about windows and days sees it. */
time_t	 sched_now(void);

/*
 * The id of this boot of the machine (/proc/sys/kernel/random/boot_id),
 * "" if it cannot be read: a job recorded under another one was running
 * when the machine went down.  (With TEST_CLOCK, SWIFT_WEBHOOK_TEST_BOOT_ID
 * stands in for it.)
 */
const char *sched_boot_id(void);

/* Whether a job may start at t: no windows, or t is inside one. */
int	 sched_open(const struct conf *c, time_t t);

/*
 * When the next window opens after t (t itself if one is open), or -1 if
 * none ever does (no windows: t).
 */
time_t	 sched_next_open(const struct conf *c, time_t t);

/* t as people read it in the configured zone: "Mon 2026-11-30 09:00". */
void	 sched_format(const struct conf *c, time_t t, char buf[32]);

enum ticket_result { TICKET_OK, TICKET_NONE, TICKET_ERROR };

/*
 * Takes one of today's max_runs_per_day runs of repository (the
 * configured one; NULL: the configuration's only budget) for job id;
 * its name ("DAY/HASH-N") goes to name.  TICKET_NONE: all are taken.
 * TICKET_OK with name "" when there is no limit.
 */
enum ticket_result sched_ticket_take(struct rundir *rd, const struct conf *c,
	    const char *repository, const char *id, char name[64],
	    char *err, size_t errlen);

/* Gives back ticket name if it still names job id. */
void	 sched_ticket_return(struct rundir *rd, const char *name,
	    const char *id);

/*
 * Gives back the run of the day that names job id, whatever its name (a
 * job whose record is gone and with it its ticket's name).
 */
void	 sched_ticket_forget(struct rundir *rd, const char *id);

#endif
