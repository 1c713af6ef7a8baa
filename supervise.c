/*
 * supervise.c: the supervisor: a job's run from its slots to its end,
 * locally or on Slurm.  See supervise.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "checkout.h"
#include "commitstatus.h"
#include "deploy.h"
#include "gpu.h"
#include "metrics.h"
#include "schedule.h"
#include "slurm.h"
#include "supervise.h"
#include "util.h"

#define POLL_US		100000	/* how often the supervisor looks */
#define TELLS		32	/* the commit status posts it keeps apart */
#define TREE_MAX	4096	/* the job's processes it looks at */
#define TRAINER_EXIT	"exit"		/* the trainer's reaper writes */
#define AFTER_EXIT	"after.exit"	/* after_success's reaper writes */
#define RETRY_S		5	/* seconds between a failed write and the next */
#define LOCK_WAIT	10	/* seconds for the writer lock: its other
				   holders keep it for a write */

/* What the supervisor tells the one that started it (spawn.h). */
enum {
	REPORT_STARTED = REPORT_KINDS,	/* the trainer runs: pid */
	REPORT_PREPARING,		/* checkout or GPU check under way */
	REPORT_WAITING,			/* slurm: the job is as recorded */
	REPORT_ENDED,			/* it had ended already: nothing done */
	REPORT_RECORDED			/* failed as stage, err: recorded */
};

/* One supervisor's world, in its own process. */
struct sup {
	struct supervisor *sv;
	struct rundir	*rd;
	struct job	*j;
	struct conf	*c;
	struct slots	*s;
	int		 rep;		/* the report pipe, until answered */
	int		 lock;		/* the job's writer lock */
	pid_t		 tells[TELLS];	/* its commit status posts: not the
					   job's processes */
	int		 ntells;
	pid_t		 grp;		/* the group of what runs: the
					   trainer, or after_success */
	struct reaper	 rp;		/* what waits for it (spawn.h) */
	const char	*exitfile;	/* where its reaper writes its end */
	int		 recorded;	/* its end is recorded (and counted) */
};

int
supervise_record_end(struct rundir *rd, const struct job *j)
{
	int rc;

	/* Its run of the day back first: whoever sees it ended finds it. */
	if (j->started == 0 && j->ticket[0] != '\0')
		sched_ticket_return(rd, j->ticket, j->id);
	rc = job_write(j);
	metrics_job_ended(rd, j);
	rundir_live(rd, j->id, 0);
	return rc;
}

/* job_write, a failure said in the log. */
static void
record(const struct job *j)
{
	if (job_write(j) == -1)
		log_line("job %s: write job.json: %s", j->id, strerror(errno));
}

/*
 * job_write for what must be written (an end, the mark that notify ran):
 * tried again every few seconds until it is, while the failure may pass
 * (a full disk while a trainer wrote checkpoints; the trainer has ended,
 * the record must say so).
 */
static void
record_hard(const struct job *j)
{
	int tries;

	for (tries = 0; job_write(j) == -1; tries++) {
		if (!write_may_pass(errno)) {
			log_line("job %s: write job.json: %s", j->id,
			    strerror(errno));
			return;
		}
		if (tries == 0)
			log_line("job %s: write job.json: %s; trying again "
			    "every %ds", j->id, strerror(errno), RETRY_S);
		sleep(RETRY_S);
	}
	if (tries > 0)
		log_line("job %s: job.json written after %d tries", j->id,
		    tries + 1);
}

/* Answers the one who started the job, once. */
static void
answer(struct sup *x, int kind, int stage, int err, pid_t pid)
{
	spawn_report(x->rep, kind, stage, err, pid);
	if (x->rep != -1)
		close(x->rep);
	x->rep = -1;
}

/*
 * Runs fn(x) in a detached process that is not waited for (a slow GitHub
 * must not hold the trainer's start or the watch), with no slot lock and
 * stdout and stderr on the job's log.  Once the supervisor is the job's
 * subreaper it comes back to it as an orphan: its pid is kept, so that it
 * is never taken for a process of the job.
 */
static void
detach_tell(struct sup *x, void (*fn)(void *, int))
{
	struct detach d;
	int keep[RUNDIR_FDS + 1], n;
	char err[128];

	n = rundir_fds(x->rd, keep);
	keep[n++] = x->j->dirfd;
	memset(&d, 0, sizeof(d));
	d.keep = keep;
	d.nkeep = n;
	d.out = STDERR_FILENO;
	d.fn = fn;
	d.arg = x;
	if (spawn_detach(&d, err, sizeof(err)) == -1)
		log_line("job %s: commit status: %s", x->j->id, err);
	else if (d.pid > 0)
		x->tells[x->ntells++ % TELLS] = d.pid;
}

static void __attribute__((noreturn))
post(void *arg, int report)
{
	struct sup *x = arg;

	(void)report;
	commitstatus_post(x->rd, x->c, x->j->id);
	_exit(0);
}

/*
 * Posts j's commit status as it stands now, without waiting for it.  The
 * final post, in finish, waits on the job's status.lock, so it comes last.
 */
static void
tell_async(struct sup *x)
{
	if (x->c->github_token_file != NULL)
		detach_tell(x, post);
}

/*
 * Runs notify once the job's end is recorded: no shell, bounded by
 * notify_timeout, its output in the job's log.  Its failure changes
 * nothing but that log.
 */
static void
notify(const struct conf *c, const struct trainer *t, struct job *j)
{
	struct strv env = { NULL, 0 };
	char why[320];

	if (t->notify_argv == NULL)
		return;
	if (trainer_notify_env(t, j, &env) == -1)
		log_line("job %s: notify: out of memory", j->id);
	else if (trainer_notify(t, env.v, j->dirfd, c->notify_timeout, why,
	    sizeof(why)) == -1)
		log_line("job %s: %s", j->id, why);
	strv_free(&env);
}

/*
 * Records j's end, once: ending set (the end's work is left: whoever
 * takes over from a dead supervisor does it), synced, and counted.
 */
static void
record_final(struct sup *x)
{
	struct job *j = x->j;

	if (x->recorded)
		return;
	if (j->started == 0 && j->ticket[0] != '\0')
		sched_ticket_return(x->rd, j->ticket, j->id);
	j->ending = 1;
	record_hard(j);
	x->recorded = 1;
	metrics_job_ended(x->rd, j);
}

/* notify, never twice: marked in the record before it runs. */
static void
notify_once(struct sup *x)
{
	struct job *j = x->j;

	if (x->sv->t.notify_argv == NULL || j->notified)
		return;
	j->notified = 1;
	record_hard(j);
	notify(x->c, &x->sv->t, j);
}

/*
 * Kicks the queue (locally) with the configuration as the file says now:
 * the one this supervisor started with may be hours old (a command
 * edited, a section removed since); its own if the file cannot be read
 * or names another run directory.  The secret read with it is wiped at
 * once: a supervisor keeps none.
 */
static void
kick(struct sup *x)
{
	struct conf nc;
	char err[256];

	if (x->c->backend != BACKEND_LOCAL || x->sv->kick == NULL)
		return;
	if (conf_load(&nc, conf_file(x->c)->path, err, sizeof(err)) == -1) {
		x->sv->kick(x->rd, x->c);
		return;
	}
	conf_wipe_secret(&nc);
	if (strcmp(nc.run_dir, x->c->run_dir) == 0)
		x->sv->kick(x->rd, &nc);
	else
		x->sv->kick(x->rd, x->c);
	conf_free(&nc);
}

/*
 * The end of a job: its slots freed and its checkout removed (unless
 * keep_src) first (whoever sees the job ended finds them so), its end
 * recorded, the next queued jobs started, its commit status, notify;
 * then the record says its end's work is done.
 */
static void __attribute__((noreturn))
finish(struct sup *x, int code)
{
	struct rundir *rd = x->rd;
	struct conf *c = x->c;
	struct job *j = x->j;

	j->reaper = 0;		/* nothing of the job runs now */
	j->reaper_start = 0;
	slots_vacate(x->s);
	if (j->has_src && !c->keep_src)
		checkout_remove(j);	/* gone once the end is recorded */
	record_final(x);
	record_hard(j);		/* after_success's end, the checkout gone */
	kick(x);
	if (c->repository != NULL)
		checkout_prune(rd, c);
	commitstatus_post(rd, c, j->id);
	deploy_after_job(rd, c, j);	/* once: marked in the record */
	notify_once(x);
	j->ending = 0;
	record_hard(j);
	rundir_live(rd, j->id, 0);
	_exit(code);
}

/*
 * The trainer could not start (stage, errno err): recorded failed with
 * the reason, before the answer, which says "recorded"; then finish.
 */
static void __attribute__((noreturn))
start_failed(struct sup *x, int stage, int err)
{
	struct job *j = x->j;

	trainer_error(j->error, sizeof(j->error), stage, err, &x->sv->t);
	j->state = JOB_FAILED;	/* queued or running: both may fail */
	j->finished = time(NULL);
	log_line("job %s: %s", j->id, j->error);
	if (x->rep == -1)	/* answered already: the claim is ours */
		claim_release(x->rd, conf_scope(x->c), j->sha, j->config,
		    j->id);
	slots_vacate(x->s);	/* free before the record says failed */
	record_final(x);
	answer(x, REPORT_RECORDED, stage, err, 0);
	finish(x, 1);
}

/*
 * Takes the job's writer lock and reads its record again under it: a job
 * that ended meanwhile (a cancel that found it lost) is not run.  Returns
 * 0 when it is to run; else it has answered and ended.  With once, a lock
 * held by another leaves the job to it (one supervisor per Slurm job).
 */
static int
take_job(struct sup *x, int once)
{
	struct job now;
	int ended = 0;

	if ((x->lock = job_writer_lock(x->j, once ? 1 : LOCK_WAIT)) == -1) {
		if (once) {
			answer(x, REPORT_WAITING, 0, 0, 0);
			_exit(0);
		}
		log_line("job %s: supervisor.lock: %s", x->j->id,
		    strerror(errno));
		answer(x, REPORT_FAILED, STAGE_PIDFILE, errno, 0);
		_exit(1);
	}
	if (job_read(x->rd, x->j->id, &now) == 0) {
		ended = job_state_final(now.state);
		if (ended)
			log_line("job %s: ended (%s) before its supervisor "
			    "started: not run", x->j->id, now.state);
		/* Taken for lost while this one was slow, and queued again. */
		if (!once && now.state == JOB_QUEUED && queue_has(x->rd,
		    x->j->id)) {
			log_line("job %s: queued again before its supervisor "
			    "started: not run by this one", x->j->id);
			ended = 1;
		}
		job_close(&now);
	}
	if (!ended)
		return 0;
	answer(x, REPORT_ENDED, 0, 0, 0);
	slots_vacate(x->s);
	kick(x);
	_exit(0);
}

/*
 * Preparing: the checkout of the pushed commit, with the slots held and
 * the one who started the job already answered.  Returns 0 once the
 * trainer can start in it; else the job has ended (failed or stopped).
 */
static int
prepare(struct sup *x)
{
	struct job *j = x->j;
	const char *stopped;

	switch (checkout_make(x->rd, x->c, j, j->error, sizeof(j->error))) {
	case CHECKOUT_OK:
		log_line("job %s: checked out %s in %s/src", j->id, j->commit,
		    j->dir);
		return 0;
	case CHECKOUT_STOPPED:
		stopped = job_stop_requested(j);
		j->error[0] = '\0';
		job_set_state(j, stopped ? stopped : JOB_CANCELLED);
		log_line("job %s: stopped while preparing (%s)", j->id,
		    j->state);
		break;
	case CHECKOUT_FAILED:
		log_line("job %s: %s", j->id, j->error);
		job_set_state(j, JOB_FAILED);
		/* It never ran: a redelivery may start it. */
		claim_release(x->rd, conf_scope(x->c), j->sha, j->config,
		    j->id);
		break;
	}
	j->finished = time(NULL);
	return -1;
}

/*
 * gpu_check: waits while a GPU of the job's is in use by something else,
 * looking every gpu_check_interval.  Returns 0 when the trainer may
 * start; -1 if the job was stopped meanwhile (its end set in j).
 */
static int
gpu_wait(struct sup *x)
{
	const struct conf *c = x->c;
	struct job *j = x->j;
	const char *stopped;
	char why[256];
	double next;

	if (!c->gpu_check || j->gpus == NULL)
		return 0;
	for (;;) {
		switch (gpu_busy(c, j->gpus, why, sizeof(why))) {
		case GPU_FREE:
			if (j->waiting[0] != '\0')
				log_line("job %s: GPU %s free", j->id, j->gpus);
			j->waiting[0] = '\0';
			return 0;
		case GPU_UNKNOWN:
			log_line("job %s: GPU check skipped: %s", j->id, why);
			j->waiting[0] = '\0';
			return 0;
		case GPU_BUSY:
			if (j->waiting[0] != '\0')
				break;
			log_line("job %s: waiting: %s; looking again every "
			    "%lds", j->id, why, c->gpu_check_interval);
			snprintf(j->waiting, sizeof(j->waiting), "gpu busy");
			record(j);
			tell_async(x);
			break;
		}
		for (next = mono_now() + c->gpu_check_interval;
		    mono_now() < next; usleep(POLL_US))
			if ((stopped = job_stop_requested(j)) != NULL) {
				j->waiting[0] = '\0';
				job_set_state(j, stopped);
				j->finished = time(NULL);
				log_line("job %s: stopped while waiting for "
				    "its GPUs (%s)", j->id, j->state);
				return -1;
			}
	}
}

/* The job's fields that change as it ends, and the log line. */
static void
ended(struct job *j, int status, const char *stopped)
{
	j->finished = time(NULL);
	if (WIFEXITED(status)) {
		j->exit_code = WEXITSTATUS(status);
		job_set_state(j, j->exit_code == 0 ? JOB_SUCCEEDED :
		    JOB_FAILED);
		log_line("job %s: trainer %ld exited with status %d", j->id,
		    (long)j->pid, j->exit_code);
	} else if (WIFSIGNALED(status)) {
		j->signal = WTERMSIG(status);
		job_set_state(j, JOB_KILLED);
		log_line("job %s: trainer %ld killed by signal %d (%s)", j->id,
		    (long)j->pid, j->signal, strsignal(j->signal));
	}
	if (stopped != NULL)
		j->state = stopped;	/* over what the exit said */
}

/*
 * Reaps what came back to us, and takes what runs's status (into
 * *status, *done set) from its reaper, or from waitpid if its reaper was
 * killed and it came to us.  Returns -1 if we have no child at all and
 * no status (and so nothing to wait for), else 0.
 */
static int
reap(struct sup *x, int *status, int *done)
{
	int st, rc = 0;
	pid_t r;

	while ((r = spawn_waitpid(-1, &st, WNOHANG)) > 0)
		if (r == x->grp && !*done) {
			*status = st;
			*done = 1;
			/*
			 * Its reaper was killed, so it came to us: its end
			 * written as the reaper would have, for whoever
			 * takes over if we die too.
			 */
			if (x->exitfile != NULL && spawn_reaped_write(
			    x->j->dirfd, x->exitfile, st) == -1)
				log_line("job %s: write %s: %s", x->j->id,
				    x->exitfile, strerror(errno));
		}
	if (r == -1 && errno == ECHILD)
		rc = -1;
	if (!*done && x->rp.fd != -1 && spawn_reaped_status(&x->rp, &st) == 1) {
		*status = st;
		*done = 1;
	}
	return rc == -1 && !*done ? -1 : 0;
}

/* The job's processes as last looked at: the supervisor's alone. */
static pid_t tree[TREE_MAX];

/*
 * The job's processes now, into tree: not the supervisor's posts, nor a
 * reaper, which waits and writes and ends once what it waits for has.
 */
static int
job_tree(const struct sup *x)
{
	int n, i, k;

	n = spawn_descendants(x->tells, x->ntells < TELLS ? x->ntells : TELLS,
	    tree, TREE_MAX);
	for (i = k = 0; i < n; i++)
		if (tree[i] != x->rp.pid)
			tree[k++] = tree[i];
	return k;
}

/*
 * SIGTERM once to every process of the job: its group at once (a process
 * forked a moment ago is in it too), then each process of the tree that
 * has left the group (torchrun's workers, in sessions of their own).  Not
 * twice: a second SIGTERM cuts a shell's trap short, and torchrun's
 * agent, whose handler raises, would leave its workers' shutdown halfway.
 */
static void
term_job(struct sup *x)
{
	int i, n;

	kill(-x->grp, SIGTERM);
	n = job_tree(x);
	for (i = 0; i < n; i++)
		if (getpgid(tree[i]) != x->grp)
			kill(tree[i], SIGTERM);
}

/*
 * After a SIGTERM at since: waits until no process of the job is left
 * and the trainer is reaped (*done, its status in *status), SIGKILL to
 * all that is left once kill_grace has passed, and again at each look,
 * for at most 100 looks (a process in uninterruptible sleep outlives any
 * signal: said in the log, not waited for forever).
 */
static void
drain(struct sup *x, double since, int *status, int *done)
{
	int n, kills = 0;

	for (;;) {
		reap(x, status, done);
		if ((n = job_tree(x)) == 0 && *done)
			return;
		if (mono_now() - since >= x->c->kill_grace) {
			if (kills == 0)
				log_line("job %s: SIGKILL to %d process(es) "
				    "after %lds", x->j->id, n, x->c->kill_grace);
			if (kills++ == 100) {
				log_line("job %s: %d process(es) outlived "
				    "SIGKILL; not waited for", x->j->id, n);
				return;
			}
			if (!*done)
				kill(-x->grp, SIGKILL);
			spawn_signal(tree, n, SIGKILL);
		}
		usleep(POLL_US);
	}
}

/*
 * Ends every process of the job that is left once the trainer (reaped)
 * or after_success has ended: SIGTERM to each, then drain.  what ("the
 * trainer", "after_success") left them; the job's note says so.
 */
static void
end_tree(struct sup *x, const char *what)
{
	size_t len = strlen(x->j->note);
	int n, status, done = 1;

	reap(x, &status, &done);
	if ((n = job_tree(x)) == 0)
		return;
	log_line("job %s: %s left %d process(es) running: SIGTERM to each",
	    x->j->id, what, n);
	snprintf(x->j->note + len, sizeof(x->j->note) - len, "%s%s left %d "
	    "process%s running; stopped", len ? "; " : "", what, n,
	    n == 1 ? "" : "es");
	spawn_signal(tree, n, SIGTERM);
	drain(x, mono_now(), &status, &done);
}

/*
 * Whether what runs is to stop now, and as what: a stop request's state,
 * or timeout once elapsed seconds (-1: not known) reach limit (0: none)
 * or, with window, when the run window has closed with window_stop (why
 * then says which).  NULL: it runs on.
 */
static const char *
stop_reason(struct sup *x, double elapsed, long limit, int window, char *why,
    size_t whylen)
{
	const char *stopped;

	if ((stopped = job_stop_requested(x->j)) != NULL)
		return stopped;
	if (limit > 0 && elapsed >= limit) {
		snprintf(why, whylen, "stopped: max_runtime (%lds) passed",
		    limit);
		return JOB_TIMEOUT;
	}
	if (window && x->c->window_stop && !sched_open(x->c, sched_now())) {
		snprintf(why, whylen, "stopped: the run window closed "
		    "(window_stop)");
		return JOB_TIMEOUT;
	}
	return NULL;
}

/*
 * Waits for what runs (x->grp, under the reaper x->rp) and every process
 * it started, however deep and whichever session it moved to (the
 * supervisor is their subreaper), and stops them (term_job, then drain)
 * when asked to, when limit seconds have passed (on the monotonic clock:
 * a clock step ends no run; 0: no limit) or, with window, when the run
 * window closes with window_stop.  A wrapper that ends first (swift's,
 * torchrun's workers still saving) does not end a stop's wait: it ends
 * with the last process.  Returns the state it was stopped as, or NULL;
 * its wait status in *status, or -1 if it cannot be known; why says
 * what stopped it (a timeout) or why no status.
 */
static const char *
await_child(struct sup *x, long limit, int window, int *status, char *why,
    size_t whylen)
{
	const char *stopped = NULL;
	double start = mono_now(), now;
	int done = 0, i, left, gone = 1;

	*status = 0;
	for (;;) {
		if (reap(x, status, &done) == -1) {
			/* Cannot happen to a child of ours: said, not guessed. */
			snprintf(why, whylen, "waitpid: %s", strerror(ECHILD));
			*status = -1;
			return NULL;
		}
		if (done)
			break;
		now = mono_now();
		stopped = stop_reason(x, now - start, limit, window, why,
		    whylen);
		if (stopped != NULL) {
			log_line("job %s: stopping (%s): SIGTERM to every "
			    "process of the job", x->j->id, stopped);
			term_job(x);
			/* Until the last of them is gone, not the first. */
			drain(x, now, status, &done);
			if (!done)	/* it outlived SIGKILL: as killed */
				*status = SIGKILL;
			break;
		}
		usleep(POLL_US);
	}
	/*
	 * What is left of its group: killed, and reaped as it comes back to
	 * us (a zombie of ours would count as alive), a bounded while.
	 */
	for (i = 0; i < 100 && kill(-x->grp, 0) == 0; i++) {
		kill(-x->grp, SIGKILL);
		reap(x, &left, &gone);
		usleep(10000);
	}
	return stopped;
}

/*
 * The trainer, to its end (await_child): its end into j, and what it
 * left behind stopped.
 */
static void
watch(struct sup *x)
{
	struct job *j = x->j;
	char why[sizeof(j->error)] = "";
	const char *stopped;
	int status;

	x->grp = j->pid;
	x->exitfile = TRAINER_EXIT;
	stopped = await_child(x, x->c->max_runtime, 1, &status, why,
	    sizeof(why));
	if (status == -1) {
		snprintf(j->error, sizeof(j->error), "%s", why);
		log_line("job %s: %s", j->id, j->error);
		j->finished = time(NULL);
		job_set_state(j, JOB_FAILED);
		return;
	}
	if (why[0] != '\0')
		snprintf(j->error, sizeof(j->error), "%s", why);
	ended(j, status, stopped);
	if (stopped == NULL)
		end_tree(x, "the trainer");	/* what it left behind */
}

/*
 * after_success's end into j (after_*): stopped (cancelled, timeout), or
 * its wait status (-1: not known, why says why).
 */
static void
after_ended(struct job *j, const char *stopped, int status, const char *why)
{
	j->after_pid = 0;
	j->after_pid_start = 0;
	j->reaper = 0;
	j->reaper_start = 0;
	snprintf(j->after_state, sizeof(j->after_state), "%s", stopped ==
	    JOB_TIMEOUT ? JOB_TIMEOUT : stopped != NULL ? JOB_CANCELLED :
	    JOB_FAILED);
	if (stopped != NULL)
		return;
	if (status == -1)
		snprintf(j->after_error, sizeof(j->after_error), "%s", why);
	else if (WIFEXITED(status)) {
		j->after_exit = WEXITSTATUS(status);
		if (j->after_exit == 0)
			snprintf(j->after_state, sizeof(j->after_state), "%s",
			    JOB_SUCCEEDED);
	} else
		snprintf(j->after_error, sizeof(j->after_error),
		    "killed by signal %d", WTERMSIG(status));
}

/* The log line of after_success's end. */
static void
after_said(const struct job *j)
{
	char how[32];

	if (j->after_exit >= 0)
		snprintf(how, sizeof(how), "exit %d", j->after_exit);
	else
		snprintf(how, sizeof(how), "no exit code");
	log_line("job %s: after_success %s%s%s after %lds (%s)", j->id,
	    j->after_state, j->after_error[0] ? ": " : "", j->after_error,
	    j->after_duration, how);
}

/*
 * Keeps the config the trainer is about to train in the job's folder
 * (job_keep_config), from its checkout or the workdir; says in the log
 * why not.  The job runs either way.
 */
static void
keep_config(struct sup *x)
{
	struct job *j = x->j;
	int cwd;

	cwd = x->c->repository != NULL ? dir_open_at(j->dirfd, "src",
	    ANY_OWNER) : open(x->sv->t.cwd, O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC);
	if (cwd == -1)
		snprintf(j->config_copy_error, sizeof(j->config_copy_error),
		    "%s not kept: %s: %s", j->config, x->sv->t.cwd,
		    strerror(errno));
	else {
		job_keep_config(j, cwd);
		close(cwd);
	}
	if (j->config_copy_error[0] != '\0')
		log_line("job %s: %s", j->id, j->config_copy_error);
}

/*
 * after_success, after a successful run, on the job's GPUs and in its
 * folder or checkout, under a reaper (AFTER_EXIT: a new supervisor finds
 * its end if this one dies), bounded by max_runtime: its output goes to
 * the log, its end into j (after_*); the job's own state stays
 * succeeded.  Recorded "running" (its own state and the job's) before
 * it runs on, so it never runs
 * twice.
 */
static void
after_success(struct sup *x)
{
	const struct conf *c = x->c;
	const struct trainer *t = &x->sv->t;
	struct job *j = x->j;
	struct strv argv = { NULL, 0 };
	char why[128] = "";
	double t0 = mono_now();
	const char *stopped;
	struct child ch;
	int status;

	if (c->after_success.n == 0 || j->state != JOB_SUCCEEDED ||
	    j->after_state[0] != '\0')
		return;
	snprintf(j->after_state, sizeof(j->after_state), "%s", JOB_FAILED);
	if (trainer_after_argv(t, j, c, &argv, j->after_error,
	    sizeof(j->after_error)) == -1) {
		log_line("job %s: after_success not run: %s", j->id,
		    j->after_error);
		return;
	}
	log_line("job %s: after_success: %s", j->id, argv.v[0]);
	memset(&ch, 0, sizeof(ch));
	ch.argv = argv.v;
	ch.envp = t->envp;
	ch.dir = t->cwd;
	ch.out = -1;
	unlinkat(j->dirfd, AFTER_EXIT, 0);
	if (spawn_reaped(&ch, j->dirfd, AFTER_EXIT, &x->rp) == -1) {
		snprintf(j->after_error, sizeof(j->after_error), "cannot %s "
		    "%s: %s", spawn_stage_name(ch.stage), argv.v[0],
		    strerror(errno));
	} else {
		snprintf(j->after_state, sizeof(j->after_state), "running");
		j->after_pid = ch.pid;
		j->after_pid_start = proc_starttime(ch.pid);
		j->reaper = x->rp.pid;
		j->reaper_start = proc_starttime(x->rp.pid);
		/*
		 * The job is running until after_success has ended (its
		 * GPUs held, a cancel stops it); the trainer's end is in
		 * its reaper's file for a new supervisor.
		 */
		j->state = JOB_RUNNING;
		record(j);
		j->state = JOB_SUCCEEDED;
		x->grp = ch.pid;
		x->exitfile = AFTER_EXIT;
		stopped = await_child(x, c->max_runtime, 0, &status, why,
		    sizeof(why));
		after_ended(j, stopped, status, why);
		end_tree(x, "after_success");	/* what it left behind */
	}
	j->after_duration = (long)(mono_now() - t0);
	after_said(j);
	strv_free(&argv);
}

/* The results of its logging.jsonl, read at its end. */
static void
read_results(struct sup *x)
{
	const char *dir = x->sv->t.output_dir;

	if (results_read(dir, &x->j->results) == -1)
		log_line("job %s: %s/logging.jsonl: %s", x->j->id, dir,
		    strerror(errno));
}

/*
 * backend = slurm: brings j's record to what Slurm says (st).  Returns 1
 * if the record changed.
 */
static int
slurm_apply(struct job *j, const struct slurm_state *st, const char *stopped)
{
	const char *was = j->state;
	char waiting[sizeof(j->waiting)], how[64];

	snprintf(j->slurm_nodes, sizeof(j->slurm_nodes), "%s", st->nodes);
	if (st->state == JOB_QUEUED) {
		if (j->state == JOB_RUNNING)
			log_line("job %s: Slurm requeued job %ld (%s)", j->id,
			    j->slurm_job_id, st->name);
		job_set_state(j, JOB_QUEUED);
		snprintf(waiting, sizeof(waiting), "slurm: %s", st->reason[0] ?
		    st->reason : st->name);
		if (strcmp(j->waiting, waiting) != 0) {
			memcpy(j->waiting, waiting, sizeof(waiting));
			return 1;
		}
		return j->state != was;
	}
	j->waiting[0] = '\0';
	if (j->state != JOB_RUNNING && !(st->start == 0 &&
	    (st->state == JOB_CANCELLED || st->state == JOB_FAILED))) {
		/* Ended between two looks: it ran all the same. */
		job_set_state(j, JOB_RUNNING);
		j->started = st->start ? st->start : time(NULL);
		log_line("job %s: Slurm job %ld running on %s", j->id,
		    j->slurm_job_id, st->nodes[0] ? st->nodes : "?");
	}
	if (st->state == JOB_RUNNING)
		return j->state != was;
	j->finished = st->end != 0 && st->end >= j->started ? st->end :
	    time(NULL);
	j->exit_code = st->exit_code;
	j->signal = st->signal;
	if (st->state == JOB_CANCELLED && stopped != NULL)
		job_set_state(j, stopped);	/* cancelled or superseded */
	else
		job_set_state(j, st->state);
	if (st->state == JOB_FAILED && strcmp(st->name, "FAILED") != 0)
		snprintf(j->error, sizeof(j->error), "Slurm: %s%s", st->name,
		    strcmp(st->name, "PREEMPTED") == 0 ? " (not requeued)" :
		    "");
	snprintf(how, sizeof(how), st->signal ? "exit code %d, signal %d" :
	    "exit code %d", st->exit_code, st->signal);
	log_line("job %s: Slurm job %ld ended %s (%s): %s", j->id,
	    j->slurm_job_id, st->name, how, j->state);
	return 1;
}

/*
 * A new job on Slurm: answers at once (the job stays queued), checks out
 * its commit, writes its batch script and submits it; a failure finishes
 * the job.
 */
static void
slurm_submit_job(struct sup *x)
{
	struct trainer *t = &x->sv->t;
	struct conf *c = x->c;
	struct job *j = x->j;
	const char *stopped;
	long id;

	if (job_save(j, 0) == -1) {
		/* Nothing recorded: the starter records it failed. */
		log_line("job %s: write job.json: %s", j->id, strerror(errno));
		answer(x, REPORT_FAILED, STAGE_PIDFILE, errno, 0);
		_exit(1);
	}
	answer(x, REPORT_WAITING, 0, 0, 0);
	tell_async(x);
	if (c->repository != NULL) {
		job_set_state(j, JOB_PREPARING);
		record(j);
		tell_async(x);
		if (prepare(x) == -1)
			finish(x, 1);
		job_set_state(j, JOB_QUEUED);
	}
	if ((stopped = job_stop_requested(j)) != NULL) {
		job_set_state(j, stopped);
		j->finished = time(NULL);
		finish(x, 0);
	}
	keep_config(x);
	if (slurm_script(c, j, t->argv, j->error, sizeof(j->error)) == -1 ||
	    (id = slurm_submit(c, j, t->envp, t->cwd, j->error,
	    sizeof(j->error))) == -1) {
		log_line("job %s: %s", j->id, j->error);
		job_set_state(j, JOB_FAILED);
		j->finished = time(NULL);
		claim_release(x->rd, conf_scope(x->c), j->sha, j->config,
		    j->id);
		finish(x, 1);
	}
	j->slurm_job_id = id;
	log_line("job %s: submitted as Slurm job %ld", j->id, id);
	record(j);	/* synced: the Slurm id outlives a crash */
}

/*
 * The supervisor of a job on Slurm: one per job (its writer lock; a
 * second one leaves it to the first).  A new job is submitted; a job
 * whose Slurm id is recorded (its first supervisor is gone, and jobs or
 * cancel started this one) is asked of Slurm first, and the answer waits
 * for the record brought up to date.  Then it follows the job (squeue,
 * sacct: at first every second, then less often, up to every
 * slurm_poll), scancels it when asked to stop, and finishes it as the
 * local supervisor does.  Never returns.
 */
static void __attribute__((noreturn))
follow_slurm(struct sup *x)
{
	struct slurm_state st;
	struct conf *c = x->c;
	struct job *j = x->j;
	char err[512], said[512] = "";
	const char *stopped = NULL;
	double now, next = 0, asked = -1e9, unknown = 0;
	long interval = 1;
	int changed;

	if (x->lock == -1)	/* else resume has taken it */
		take_job(x, 1);
	if (j->slurm_job_id == 0)
		slurm_submit_job(x);
	for (;;) {
		now = mono_now();
		if (stopped == NULL && (stopped = job_stop_requested(j)) !=
		    NULL) {
			log_line("job %s: stopping (%s): scancel %ld", j->id,
			    stopped, j->slurm_job_id);
			asked = -1e9;
			interval = 1;
		}
		if (stopped != NULL && now - asked >= 30) {
			if (slurm_cancel(c, j->slurm_job_id, err,
			    sizeof(err)) == -1)
				log_line("job %s: %s", j->id, err);
			asked = now;
			next = now + 1;
		}
		if (now >= next) {
			switch (slurm_query(c, j->slurm_job_id, &st, err,
			    sizeof(err))) {
			case SLURM_KNOWN:
				unknown = 0;
				changed = slurm_apply(j, &st, stopped);
				/* Recorded before the answer: jobs reads it. */
				j->ending = job_state_final(j->state);
				if (changed) {
					interval = 1;
					job_save(j, job_state_final(j->state));
				}
				answer(x, REPORT_WAITING, 0, 0, 0);
				if (job_state_final(j->state)) {
					read_results(x);
					finish(x, 0);
				}
				if (changed)
					tell_async(x);
				break;
			case SLURM_UNKNOWN:
				if (unknown == 0)
					unknown = now;
				if (now - unknown < 300)
					break;
				/* Five minutes: no lag is that long. */
				snprintf(j->error, sizeof(j->error), "Slurm no "
				    "longer knows job %ld (%s)",
				    j->slurm_job_id, err);
				log_line("job %s: %s", j->id, j->error);
				job_set_state(j, JOB_FAILED);
				j->finished = time(NULL);
				finish(x, 1);
				/* NOTREACHED */
			case SLURM_ERROR:
				if (strcmp(err, said) != 0)	/* once */
					log_line("job %s: %s", j->id, err);
				snprintf(said, sizeof(said), "%s", err);
				break;
			}
			answer(x, REPORT_WAITING, 0, 0, 0);
			next = now + interval;
			if ((interval *= 2) > c->slurm_poll)
				interval = c->slurm_poll;
		}
		usleep(5 * POLL_US);
	}
}

/*
 * The local supervisor: the trainer on its slots (after the checkout,
 * when there is a repository, and once its GPUs are free, with
 * gpu_check), watched to its end, then after_success.  Never returns.
 */
static void __attribute__((noreturn))
run_local(struct sup *x)
{
	struct trainer *t = &x->sv->t;
	struct conf *c = x->c;
	struct job *j = x->j;
	struct child ch;
	int e;

	take_job(x, 0);
	snprintf(j->boot_id, sizeof(j->boot_id), "%s", sched_boot_id());
	rundir_live(x->rd, j->id, 1);	/* tick looks there */
	if (trainer_slots(t, j, c, x->s) == -1)
		start_failed(x, STAGE_ENV, errno ? errno : ENOMEM);
	if (c->repository != NULL || c->gpu_check) {
		slots_own(x->s, j->supervisor, j->supervisor_start, j->id);
		job_set_state(j, JOB_PREPARING);
		if (job_write(j) == -1)
			start_failed(x, STAGE_PIDFILE, errno);
		answer(x, REPORT_PREPARING, 0, 0, 0);
		tell_async(x);
		if ((c->repository != NULL && prepare(x) == -1) ||
		    gpu_wait(x) == -1)
			finish(x, 1);
	}
	keep_config(x);
	memset(&ch, 0, sizeof(ch));
	ch.exe = t->exe;
	ch.argv = t->argv;
	ch.envp = t->envp;
	ch.dir = t->cwd;
	ch.out = -1;
	/* Whatever the job starts comes back here when orphaned. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		log_line("job %s: prctl(PR_SET_CHILD_SUBREAPER): %s", j->id,
		    strerror(errno));
	unlinkat(j->dirfd, TRAINER_EXIT, 0);
	if (spawn_reaped(&ch, j->dirfd, TRAINER_EXIT, &x->rp) == -1)
		start_failed(x, ch.stage, errno);
	j->pid = ch.pid;
	j->pid_start = proc_starttime(j->pid);
	j->reaper = x->rp.pid;
	j->reaper_start = proc_starttime(x->rp.pid);
	slots_own(x->s, j->pid, j->pid_start, j->id);
	j->started = time(NULL);
	job_set_state(j, JOB_RUNNING);
	/*
	 * Not synced: the one who started the job waits for this, and a
	 * crash that lost it would have ended the trainer too (the record
	 * then says the job was queued, or preparing: lost).
	 */
	if (job_write_pid(j) == -1 || job_save(j, 0) == -1) {
		e = errno;
		spawn_kill_group(j->pid);
		spawn_waitpid(x->rp.pid, NULL, 0);
		j->pid = 0;
		j->reaper = 0;
		start_failed(x, STAGE_PIDFILE, e);
	}
	log_line("job %s: started trainer %ld%s%s: %s", j->id, (long)j->pid,
	    j->gpus ? " on GPU " : "", j->gpus ? j->gpus : "", t->exe);
	answer(x, REPORT_STARTED, 0, 0, j->pid);
	tell_async(x);
	watch(x);
	read_results(x);
	j->reaper = 0;
	j->reaper_start = 0;
	after_success(x);	/* on its slots, if it runs */
	finish(x, 0);
}

/*
 * What is left of process group pgid once its leader's end is known:
 * SIGTERM (unless termed: sent already), SIGKILL once kill_grace has
 * passed, until no member is left (at most 100 looks after that, as
 * drain).  For a job taken over, whose orphans went to init.
 */
static void
drain_group(struct sup *x, pid_t pgid, int termed)
{
	double since = mono_now();
	int kills = 0;

	if (pgid <= 0 || kill(-pgid, 0) == -1)
		return;
	if (!termed) {
		log_line("job %s: what it left in process group %ld: SIGTERM",
		    x->j->id, (long)pgid);
		kill(-pgid, SIGTERM);
	}
	while (kill(-pgid, 0) == 0 && kills < 100) {
		if (mono_now() - since >= x->c->kill_grace) {
			kill(-pgid, SIGKILL);
			kills++;
		}
		usleep(POLL_US);
	}
}

/*
 * Waits, as a new supervisor, for a process it is not the parent of: pid
 * (started at pid_start) under a reaper that writes file (spawn.h).
 * Its end is read from that file; while the file is not there and the
 * reaper or pid lives, it is waited for, and stopped by its group when
 * asked to, when limit seconds have passed since since (wall clock: the
 * old supervisor's monotonic clock is gone; 0: no limit) or, with
 * window, when the run window closes with window_stop: SIGTERM, SIGKILL
 * after kill_grace.  Returns the state it was stopped as, or NULL; its
 * wait status in *status, or -1 if neither it nor its reaper is left and
 * the file was never written (why says so).  What it left in its group
 * is stopped too (drain_group), if it ended under a minute ago: later,
 * its number may be another's.
 */
static const char *
await_adopted(struct sup *x, const char *file, pid_t pid,
    unsigned long long pid_start, time_t since, long limit, int window,
    int *status, char *why, size_t whylen)
{
	const struct conf *c = x->c;
	struct job *j = x->j;
	const char *stopped = NULL;
	double termed = 0;
	time_t when;
	int alive;

	for (;;) {
		alive = (j->reaper > 0 && proc_starttime(j->reaper) ==
		    j->reaper_start) || (pid > 0 && proc_starttime(pid) ==
		    pid_start);
		/* Read after the look: a reaper that wrote and left counts. */
		if (spawn_reaped_read(j->dirfd, file, x->rd->uid, status,
		    &when) == 0) {
			/* Its number is not someone else's this soon. */
			if (time(NULL) - when < 60)
				drain_group(x, pid, termed != 0);
			return stopped;
		}
		if (!alive) {
			snprintf(why, whylen, "its end is not known: its "
			    "supervisor and its reaper were killed before "
			    "they recorded it");
			*status = -1;
			return stopped;
		}
		if (stopped == NULL)
			stopped = stop_reason(x, since > 0 ? (double)(time(NULL) -
			    since) : -1, limit, window, why, whylen);
		if (stopped != NULL && termed == 0) {
			log_line("job %s: stopping (%s): SIGTERM to its "
			    "process group", j->id, stopped);
			kill(-pid, SIGTERM);
			termed = mono_now();
		} else if (stopped != NULL && mono_now() - termed >=
		    c->kill_grace)
			kill(-pid, SIGKILL);
		usleep(POLL_US);
	}
}

/*
 * after_success for a job taken over: waited for if it was started (its
 * reaper's file), else run.
 */
static void
after_resume(struct sup *x)
{
	struct job *j = x->j;
	char why[128] = "";
	const char *stopped;
	int status;

	if (strcmp(j->after_state, "running") != 0) {
		j->reaper = 0;
		j->reaper_start = 0;
		after_success(x);
		return;
	}
	log_line("job %s: a new supervisor follows after_success %ld", j->id,
	    (long)j->after_pid);
	stopped = await_adopted(x, AFTER_EXIT, j->after_pid,
	    j->after_pid_start, 0, 0, 0, &status, why, sizeof(why));
	after_ended(j, stopped, status, why);
	after_said(j);
}

/*
 * Takes over a job whose supervisor is gone (lifecycle_adopt): its
 * writer lock at once (else another has it: leaves it to that one), and
 * its record as it is under the lock.  Returns only if the job needs it
 * (not ended, or ended with its end's work left); else answers and
 * ends.
 */
static void
retake(struct sup *x)
{
	struct job *j = x->j, now;

	if ((x->lock = job_writer_lock(j, 1)) == -1 ||
	    job_read(x->rd, j->id, &now) == -1) {
		answer(x, REPORT_WAITING, 0, 0, 0);
		_exit(0);
	}
	if ((job_state_final(now.state) && !now.ending) ||
	    (now.state == JOB_QUEUED && queue_has(x->rd, now.id))) {
		job_close(&now);
		answer(x, REPORT_ENDED, 0, 0, 0);
		_exit(0);
	}
	job_close(j);
	*j = now;
	j->argv = x->sv->t.argv;
	j->output_dir = x->sv->t.output_dir;
	j->supervisor = getpid();
	j->supervisor_start = proc_starttime(j->supervisor);
}

/*
 * A job taken over whose trainer never started (its supervisor died in
 * its checkout or its GPU check, or before it began): back to the head
 * of the queue, its checkout removed; a kick starts it again.
 */
static void __attribute__((noreturn))
requeue(struct sup *x)
{
	struct job *j = x->j;
	char err[256];

	j->has_src = 1;		/* what a checkout under way left, too */
	checkout_remove(j);
	j->has_src = 0;
	j->state = JOB_QUEUED;
	j->supervisor = 0;
	j->supervisor_start = 0;
	j->waiting[0] = '\0';
	if (job_write(j) == -1 || queue_requeue(x->rd, j->id, err,
	    sizeof(err)) != QUEUE_OK) {
		if (errno != 0)
			snprintf(err, sizeof(err), "%s", strerror(errno));
		snprintf(j->error, sizeof(j->error), "its supervisor was "
		    "killed before the trainer started, and it could not be "
		    "queued again: %s", err);
		log_line("job %s: %s", j->id, j->error);
		job_set_state(j, JOB_FAILED);
		j->finished = time(NULL);
		answer(x, REPORT_WAITING, 0, 0, 0);
		finish(x, 1);
	}
	log_line("job %s: its supervisor was killed before the trainer "
	    "started: queued again, first in line", j->id);
	answer(x, REPORT_WAITING, 0, 0, 0);
	close(x->lock);		/* its next supervisor takes it */
	kick(x);
	_exit(0);
}

/*
 * A Slurm job taken over with no Slurm id recorded: its supervisor may
 * have died between sbatch's answer and the record.  Slurm's job of
 * that name (slurm_find) is recorded and followed, never submitted
 * twice.  While Slurm cannot be asked, asks again, up to every
 * slurm_poll, until a stop is asked.  Returns 1 if found, else 0.
 */
static int
found_by_name(struct sup *x)
{
	struct job *j = x->j;
	char err[512], said[512] = "";
	const char *by = "";
	long id;
	unsigned interval = 1;

	while ((id = slurm_find(x->c, j, x->sv->t.cwd, &by, err,
	    sizeof(err))) == -1) {
		if (strcmp(err, said) != 0)	/* once */
			log_line("job %s: looking for its Slurm job: %s",
			    j->id, err);
		snprintf(said, sizeof(said), "%s", err);
		answer(x, REPORT_WAITING, 0, 0, 0);
		if (job_stop_requested(j) != NULL)
			return 0;
		sleep(interval);
		if ((interval *= 2) > (unsigned)x->c->slurm_poll)
			interval = x->c->slurm_poll;
	}
	if (id == 0)
		return 0;
	j->slurm_job_id = id;
	log_line("job %s: its supervisor died before recording its Slurm "
	    "job: found by its name swift-%s (%s), Slurm job %ld", j->id,
	    j->id, by, id);
	record(j);
	return 1;
}

/*
 * A job whose supervisor is gone, taken over (lifecycle_adopt): on
 * Slurm, one that has ended (its end's work left) or that was never
 * submitted; locally, any.  A trainer that ran under another boot of the
 * machine ended lost with it; one that still runs is waited for; one
 * that ended, its end read from its reaper's file; a job whose trainer
 * never started (its checkout cut short, even by a reboot) is queued
 * again.
 * The record says which before the answer.  Then the end's work that is
 * left (after_success, the checkout, the kick, the commit status,
 * notify), each once.  Never returns.
 */
static void __attribute__((noreturn))
resume(struct sup *x)
{
	struct job *j = x->j;
	const char *boot = sched_boot_id(), *stopped;
	char why[sizeof(j->error)] = "";
	time_t when;
	int status;

	retake(x);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		log_line("job %s: prctl(PR_SET_CHILD_SUBREAPER): %s", j->id,
		    strerror(errno));
	if (job_state_final(j->state)) {
		x->recorded = 1;
		answer(x, REPORT_WAITING, 0, 0, 0);
		log_line("job %s: a new supervisor does the work of its end",
		    j->id);
		if (x->c->backend == BACKEND_LOCAL)
			after_resume(x);
		finish(x, 0);
	}
	/*
	 * Its trainer ran under another boot and its end was not written
	 * before the machine went down: gone with it.
	 */
	if (j->state == JOB_RUNNING && j->boot_id[0] != '\0' &&
	    boot[0] != '\0' && strcmp(j->boot_id, boot) != 0 &&
	    spawn_reaped_read(j->dirfd, TRAINER_EXIT, x->rd->uid, &status,
	    &when) == -1) {
		snprintf(j->error, sizeof(j->error), "the machine restarted "
		    "while the job was %s", j->state);
		log_line("job %s: %s", j->id, j->error);
		j->state = JOB_LOST;
		j->finished = time(NULL);
		if (j->started != 0)
			read_results(x);
		record_final(x);
		answer(x, REPORT_WAITING, 0, 0, 0);
		finish(x, 1);
	}
	if (x->c->backend == BACKEND_SLURM) {
		/* Not submitted yet: its checkout and submission again. */
		j->state = JOB_QUEUED;
		if (!found_by_name(x))
			log_line("job %s: a new supervisor submits it", j->id);
		follow_slurm(x);
	}
	if (j->state != JOB_RUNNING)
		requeue(x);
	log_line("job %s: a new supervisor follows trainer %ld", j->id,
	    (long)j->pid);
	record(j);
	answer(x, REPORT_WAITING, 0, 0, 0);
	stopped = await_adopted(x, TRAINER_EXIT, j->pid, j->pid_start,
	    j->started, x->c->max_runtime, 1, &status, why, sizeof(why));
	if (status == -1) {
		snprintf(j->error, sizeof(j->error), "%s", why);
		log_line("job %s: %s", j->id, j->error);
		j->state = JOB_LOST;
		j->finished = time(NULL);
	} else {
		if (why[0] != '\0')
			snprintf(j->error, sizeof(j->error), "%s", why);
		ended(j, status, stopped);
	}
	read_results(x);
	after_resume(x);
	finish(x, 0);
}

/*
 * The detached supervisor (see supervise.h).  For a job already ended (a
 * queued job cancelled), or only to be told (tell_only), it only posts
 * and notifies.  Never returns.
 */
static void __attribute__((noreturn))
supervise(void *arg, int rep)
{
	struct sup *x = arg;
	struct job *j = x->j;

	x->rep = rep;
	x->lock = -1;
	conf_wipe_secret(x->c);
	if (x->sv->adopt && (x->c->backend == BACKEND_LOCAL ||
	    job_state_final(j->state) || j->slurm_job_id == 0))
		resume(x);
	if (x->sv->tell_only || job_state_final(j->state)) {
		answer(x, REPORT_STARTED, 0, 0, 0);
		commitstatus_post(x->rd, x->c, j->id);
		if (job_state_final(j->state))
			notify(x->c, &x->sv->t, j);
		_exit(0);
	}
	j->supervisor = getpid();
	j->supervisor_start = proc_starttime(j->supervisor);
	j->output_dir = x->sv->t.output_dir;
	if (x->c->backend == BACKEND_SLURM)
		follow_slurm(x);
	run_local(x);
}

/* Records j failed with err (nothing of it runs), unless it has ended. */
static void
record_failed(struct rundir *rd, struct job *j, char *err, size_t errlen)
{
	if (job_set_state(j, JOB_FAILED) == 0) {
		j->finished = time(NULL);
		snprintf(j->error, sizeof(j->error), "%s", err);
		if (supervise_record_end(rd, j) == -1)
			snprintf(err + strlen(err), errlen - strlen(err),
			    "; write %s/job.json: %s", j->dir,
			    strerror(errno));
	}
}

int
supervise_fork(struct supervisor *sv, struct rundir *rd, struct job *j,
    struct conf *c, struct slots *s, char *err, size_t errlen)
{
	struct sup x = { .sv = sv, .rd = rd, .j = j, .c = c, .s = s,
	    .rep = -1, .lock = -1, .grp = -1, .rp = { -1, -1 } };
	int keep[RUNDIR_FDS + 1 + MAX_SLOTS], n, i, logfd, rc;

	memset(&sv->d, 0, sizeof(sv->d));
	sv->d.mid = -1;
	sv->d.report_fd = -1;
	if ((logfd = job_open_file(j, "log", O_WRONLY | O_CREAT |
	    O_APPEND)) == -1) {
		snprintf(err, errlen, "open %s/log: %s", j->dir,
		    strerror(errno));
		slots_release(s);
		if (!sv->adopt)
			record_failed(rd, j, err, errlen);
		return -1;
	}
	n = rundir_fds(rd, keep);
	keep[n++] = j->dirfd;
	for (i = 0; i < s->n; i++)
		keep[n++] = s->fd[i];
	sv->d.keep = keep;
	sv->d.nkeep = n;
	sv->d.out = logfd;
	sv->d.report = 1;
	sv->d.fn = supervise;
	sv->d.arg = &x;
	rc = spawn_detach(&sv->d, err, errlen);
	close(logfd);
	slots_release(s);	/* the supervisor holds them now */
	if (rc == -1 && !sv->adopt)
		record_failed(rd, j, err, errlen);
	return rc;
}

int
supervise_wait(struct supervisor *sv, struct rundir *rd, struct job *j,
    char *err, size_t errlen)
{
	struct spawn_report r;
	struct job now;

	if (spawn_detach_wait(&sv->d, &r) == -1) {
		snprintf(err, errlen, "supervisor ended before it reported");
		return -1;
	}
	switch (r.kind) {
	case REPORT_FAILED:
		/* Nothing recorded: the supervisor could not. */
		trainer_error(err, errlen, r.stage, r.err, &sv->t);
		if (!sv->adopt)
			record_failed(rd, j, err, errlen);
		return -1;
	case REPORT_RECORDED:
		trainer_error(err, errlen, r.stage, r.err, &sv->t);
		return -1;
	case REPORT_WAITING:
		return 0;	/* Slurm has it, or will: as recorded */
	case REPORT_ENDED:
		/* Ended before it ran (cancelled): as recorded. */
		if (job_read(rd, j->id, &now) == 0) {
			if (job_state_final(now.state))
				j->state = now.state;	/* a static name */
			job_close(&now);
		}
		return 0;
	case REPORT_PREPARING:
		job_set_state(j, JOB_PREPARING);
		return 0;
	}
	if (!sv->tell_only && !job_state_final(j->state)) {
		j->pid = r.pid;
		job_set_state(j, JOB_RUNNING);
	}
	return 0;
}

int
supervise_start(struct supervisor *sv, struct rundir *rd, struct job *j,
    struct conf *c, struct slots *s, char *err, size_t errlen)
{
	if (supervise_fork(sv, rd, j, c, s, err, errlen) == -1)
		return -1;
	return supervise_wait(sv, rd, j, err, errlen);
}
