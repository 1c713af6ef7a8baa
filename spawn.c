/*
 * spawn.c: the double fork and the supervisor: the trainer's exec,
 * watching and stopping it, recording its end, the next queued job,
 * notify.
 *
 * As in git's run-command.c, everything that allocates (argv, envp, the
 * PATH lookup, the log and /dev/null) is done before fork, the child that
 * execs uses only async-signal-safe calls and checks every one, and an
 * exec failure travels back on a close-on-exec pipe: end of file there
 * means the exec succeeded.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "checkout.h"
#include "commitstatus.h"
#include "gpu.h"
#include "job.h"
#include "queue.h"
#include "schedule.h"
#include "slurm.h"
#include "spawn.h"
#include "util.h"

static char **saved_env;

int
spawn_init(char *const envp[])
{
	size_t i, n;

	for (n = 0; envp[n] != NULL; n++)
		;
	if ((saved_env = calloc(n + 1, sizeof(char *))) == NULL)
		return -1;
	for (i = 0; i < n; i++)
		if ((saved_env[i] = strdup(envp[i])) == NULL)
			return -1;
	return 0;
}

/*
 * The trainer sees only these of the web server's environment: what
 * Python, CUDA, torchrun, Hugging Face and ModelScope read.
 */
int
spawn_allowed(const char *kv)
{
	static const char *const exact[] = {
		"PATH", "HOME", "LANG", "CUDA_VISIBLE_DEVICES",
		"NPROC_PER_NODE", "NNODES", "NODE_RANK", "MASTER_ADDR",
		"MASTER_PORT", NULL
	};
	static const char *const prefix[] = {
		"LC_", "HF_", "MODELSCOPE_", "NCCL_", "PYTORCH_", NULL
	};
	size_t i, n;

	for (i = 0; exact[i] != NULL; i++) {
		n = strlen(exact[i]);
		if (strncmp(kv, exact[i], n) == 0 && kv[n] == '=')
			return 1;
	}
	for (i = 0; prefix[i] != NULL; i++)
		if (strncmp(kv, prefix[i], strlen(prefix[i])) == 0)
			return strchr(kv, '=') != NULL;
	return 0;
}

int
spawn_base_env(struct strv *env)
{
	size_t i;

	for (i = 0; saved_env != NULL && saved_env[i] != NULL; i++)
		if (spawn_allowed(saved_env[i]) &&
		    strv_setenv(env, strdup(saved_env[i])) == -1)
			return -1;
	return 0;
}

int
spawn_tool_env(struct strv *env)
{
	static const char *const proxy[] = {
		"https_proxy=", "HTTPS_PROXY=", "http_proxy=", "no_proxy=",
		"NO_PROXY=", "all_proxy=", "ALL_PROXY=", NULL
	};
	size_t i, k;

	if (spawn_base_env(env) == -1)
		return -1;
	for (i = 0; saved_env != NULL && saved_env[i] != NULL; i++)
		for (k = 0; proxy[k] != NULL; k++)
			if (strncmp(saved_env[i], proxy[k],
			    strlen(proxy[k])) == 0 &&
			    strv_setenv(env, strdup(saved_env[i])) == -1)
				return -1;
	return 0;
}

enum run_end
spawn_tool(char *const argv[], char *const envp[], int stdin_fd, int timeout,
    int *status, char *tail, size_t taillen)
{
	struct strv env = { NULL, 0 };
	enum run_end end;
	struct run r;

	*status = 0;
	if (envp == NULL && spawn_tool_env(&env) == -1) {
		snprintf(tail, taillen, "out of memory");
		return RUN_ERROR;
	}
	memset(&r, 0, sizeof(r));
	r.argv = argv;
	r.envp = envp != NULL ? envp : env.v;
	r.dir = "/";
	r.stdin_fd = stdin_fd;
	r.deadline = time(NULL) + timeout;
	r.quiet = 1;
	end = spawn_run(&r, status, tail, taillen);
	strv_free(&env);
	return end;
}

/* Replaces each {placeholder} of t by its value. */
static char *
expand(const char *t, const char *const val[PH__COUNT])
{
	char *out = NULL;
	size_t size = 0, len;
	FILE *f;
	int ph;

	if ((f = open_memstream(&out, &size)) == NULL)
		return NULL;
	while (*t != '\0') {
		if (*t == '{' && (ph = conf_placeholder(t + 1, &len)) >= 0) {
			fputs(val[ph], f);
			t += 1 + len;
		} else
			fputc(*t++, f);
	}
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

/*
 * Finds name as execvp would, in the PATH of envp; a relative name with a
 * '/' is taken from dir, where the trainer will run.  NULL if not found.
 */
static char *
find_exe(const char *name, char *const envp[], const char *dir)
{
	const char *path = "/usr/local/bin:/usr/bin:/bin", *p, *e;
	struct stat st;
	char *s;
	size_t i;

	if (name[0] == '/')
		return strdup(name);
	if (strchr(name, '/') != NULL)
		return xprintf("%s/%s", dir, name);
	for (i = 0; envp[i] != NULL; i++)
		if (strncmp(envp[i], "PATH=", 5) == 0)
			path = envp[i] + 5;
	for (p = path; *p != '\0'; p = *e ? e + 1 : e) {
		e = p + strcspn(p, ":");
		if (e == p)
			continue;	/* an empty entry is no cwd here */
		if ((s = xprintf("%.*s/%s", (int)(e - p), p, name)) == NULL)
			return NULL;
		if (stat(s, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(s, X_OK) == 0)
			return s;
		free(s);
	}
	return NULL;
}

static int
strv_expand(struct strv *v, const struct strv *l,
    const char *const val[PH__COUNT])
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strv_push(v, expand(l->v[i], val)) == -1)
			return -1;
	return 0;
}

/*
 * The environment of the trainer (and of notify, with extra): the
 * allow-listed part of the server's, then extra, then the JOB_* names.
 */
static int
build_env(struct strv *env, const struct strv *extra,
    const char *const val[PH__COUNT], const struct job *j)
{
	static const char *const jobvars[PH__COUNT] = {
		[PH_CONFIG] = "JOB_CONFIG", [PH_SHA] = "JOB_SHA",
		[PH_SHORT_SHA] = "JOB_SHORT_SHA", [PH_REF] = "JOB_REF",
		[PH_BRANCH] = "JOB_BRANCH", [PH_REPOSITORY] = "JOB_REPOSITORY",
		[PH_DELIVERY] = "JOB_DELIVERY", [PH_JOB] = "JOB_ID",
		[PH_JOB_DIR] = "JOB_DIR", [PH_SRC] = "JOB_SRC",
		[PH_COMMIT] = "JOB_COMMIT", [PH_OUTPUT_DIR] = "JOB_OUTPUT_DIR",
	};
	size_t i;

	if (spawn_base_env(env) == -1)
		return -1;
	for (i = 0; i < extra->n; i++)
		if (strv_setenv(env, expand(extra->v[i], val)) == -1)
			return -1;
	for (i = 0; i < PH__COUNT; i++)
		if (jobvars[i] != NULL &&
		    strv_setenv(env, xprintf("%s=%s", jobvars[i], val[i])) == -1)
			return -1;
	return strv_setenv(env, xprintf("JOB_LOG=%s/log", j->dir));
}

/* The placeholders' values for j (short_sha: 8 bytes of the caller's). */
static void
values(const char *val[PH__COUNT], const struct job *j, const char *cwd,
    const char *output_dir, char *short_sha)
{
	snprintf(short_sha, 8, "%s", j->sha);
	val[PH_CONFIG] = j->config;
	val[PH_SHA] = j->sha;
	val[PH_SHORT_SHA] = short_sha;
	val[PH_REF] = j->ref;
	val[PH_BRANCH] = j->branch ? j->branch : "";
	val[PH_REPOSITORY] = j->repository ? j->repository : "";
	val[PH_DELIVERY] = j->delivery;
	val[PH_JOB] = j->id;
	val[PH_JOB_DIR] = j->dir;
	val[PH_SRC] = cwd;
	val[PH_COMMIT] = j->sha;
	val[PH_OUTPUT_DIR] = output_dir;
	val[PH_LAST_CHECKPOINT] = j->results.last_model_checkpoint ?
	    j->results.last_model_checkpoint : "";
	val[PH_BEST_CHECKPOINT] = j->results.best_model_checkpoint ?
	    j->results.best_model_checkpoint : "";
}

int
spawn_prepare(struct spawn *sp, const struct job *j, const struct conf *c)
{
	const char *val[PH__COUNT];
	struct strv argv = { NULL, 0 }, env = { NULL, 0 };
	struct strv nargv = { NULL, 0 }, nenv = { NULL, 0 };
	char short_sha[8];
	int rc = -1;

	memset(sp, 0, sizeof(*sp));
	sp->cwd = c->repository ? xprintf("%s/src", j->dir) :
	    strdup(c->workdir ? c->workdir : j->dir);
	if (sp->cwd == NULL)
		return -1;
	values(val, j, sp->cwd, "", short_sha);
	if ((sp->output_dir = expand(c->output_dir, val)) == NULL) {
		spawn_free(sp);
		return -1;
	}
	val[PH_OUTPUT_DIR] = sp->output_dir;
	if (strv_expand(&argv, &c->launcher, val) == 0 &&
	    strv_expand(&argv, &c->command, val) == 0 &&
	    build_env(&env, &c->env, val, j) == 0 &&
	    strv_expand(&nargv, &c->notify, val) == 0 &&
	    build_env(&nenv, &c->notify_env, val, j) == 0)
		rc = 0;
	sp->argv = argv.v;
	sp->envp = env.v;
	sp->notify_argv = nargv.v;
	sp->notify_envp = nenv.v;
	if (rc == 0 && sp->argv != NULL) {
		sp->exe = find_exe(sp->argv[0], sp->envp, sp->cwd);
		if (sp->notify_argv != NULL)
			sp->notify_exe = find_exe(sp->notify_argv[0],
			    sp->notify_envp, j->dir);
	}
	if (rc == -1 || sp->argv == NULL)
		spawn_free(sp);
	return rc == -1 || sp->argv == NULL ? -1 : 0;
}

void
spawn_free(struct spawn *sp)
{
	argv_free(sp->argv);
	argv_free(sp->envp);
	argv_free(sp->notify_argv);
	argv_free(sp->notify_envp);
	free(sp->exe);
	free(sp->notify_exe);
	free(sp->cwd);
	free(sp->output_dir);
	memset(sp, 0, sizeof(*sp));
}

/* What the supervisor tells the one that started it, one record. */
enum { REPORT_STARTED = 1, REPORT_PREPARING, REPORT_FAILED,
	REPORT_WAITING		/* slurm: the job's state is as recorded */
};

enum stage {
	STAGE_FORK, STAGE_SETSID, STAGE_FDS, STAGE_CHDIR, STAGE_EXEC,
	STAGE_PIDFILE, STAGE_ENV
};
static const char *const stages[] = {
	"fork", "setsid", "set up descriptors", "chdir", "exec",
	"write pid file", "set up its environment"
};
struct report {
	int	kind;
	int	stage;
	int	err;
	int	pid;
};

#define POLL_US		100000	/* how often the supervisor looks */

static void
report(int fd, int kind, int stage, int err, pid_t pid)
{
	struct report r = { kind, stage, err, (int)pid };
	ssize_t n;

	if (fd == -1)
		return;
	do
		n = write(fd, &r, sizeof(r));
	while (n == -1 && errno == EINTR);
}

#define HINT_EXEC "; set \"command\" in the configuration to the " \
	"trainer's absolute path (e.g. /opt/conda/bin/swift), as the " \
	"README's Deploying section says"

/* The reason a job could not start, as the client and job.json say it. */
static void
start_error(char *buf, size_t size, int stage, int err,
    const struct spawn *sp)
{
	if (stage == STAGE_EXEC)
		snprintf(buf, size, "cannot execute trainer %s: %s%s",
		    sp->argv[0], strerror(err), err == ENOENT ||
		    err == EACCES ? HINT_EXEC : "");
	else if (stage == STAGE_CHDIR)
		snprintf(buf, size, "cannot chdir to workdir %s: %s", sp->cwd,
		    strerror(err));
	else
		snprintf(buf, size, "cannot start trainer (%s): %s",
		    stage >= 0 && stage <= STAGE_ENV ? stages[stage] : "?",
		    strerror(err));
}

int
spawn_check(const struct spawn *sp, const struct conf *c, char *err,
    size_t errlen)
{
	struct stat st;
	int e;

	/* A checkout is made later: a trainer of its own is found then. */
	if (c->repository != NULL && sp->argv[0][0] != '/' &&
	    strchr(sp->argv[0], '/') != NULL)
		return 0;
	if (c->repository == NULL && access(sp->cwd, X_OK) == -1) {
		start_error(err, errlen, STAGE_CHDIR, errno, sp);
		return -1;
	}
	if (sp->exe == NULL)
		e = ENOENT;
	else if (stat(sp->exe, &st) == -1)
		e = errno;		/* st says nothing then */
	else if (!S_ISREG(st.st_mode))
		e = EACCES;
	else if (access(sp->exe, X_OK) == -1)
		e = errno;
	else
		return 0;
	start_error(err, errlen, STAGE_EXEC, e, sp);
	return -1;
}

/* Default dispositions, empty mask: what a fresh process would have. */
static int
reset_signals(void)
{
	struct sigaction sa;
	sigset_t set;
	int sig;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &sa, NULL);	/* EINVAL: RT gaps */
	sigemptyset(&set);
	return sigprocmask(SIG_SETMASK, &set, NULL);
}

/* Retries on EINTR. */
static pid_t
xwaitpid(pid_t pid, int *status, int flags)
{
	pid_t r;

	do
		r = waitpid(pid, status, flags);
	while (r == -1 && errno == EINTR);
	return r;
}

void
spawn_log(const char *fmt, ...)
{
	char buf[1024], ts[21];
	va_list ap;
	int n;

	iso8601(time(NULL), ts);
	n = snprintf(buf, sizeof(buf), "[swift-webhook %s] ", ts);
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	(void)!write(STDERR_FILENO, buf, n);
}

static void
record(const struct job *j)
{
	if (job_write(j) == -1)
		spawn_log("job %s: write job.json: %s", j->id, strerror(errno));
}

/*
 * Closes every descriptor from 3 up but those in keep[]: what the web
 * server or libfcgi left open (a listening socket, a client connection,
 * a lock taken by our caller) must not live on in a detached process.
 */
static void
close_others(int *keep, int n)
{
	unsigned int lo = 3;
	int i, k, t;

	for (i = 1; i < n; i++)		/* insertion sort: n is small */
		for (k = i; k > 0 && keep[k - 1] > keep[k]; k--) {
			t = keep[k];
			keep[k] = keep[k - 1];
			keep[k - 1] = t;
		}
	for (i = 0; i < n; i++) {
		if (keep[i] < (int)lo)
			continue;
		if ((unsigned int)keep[i] > lo)
			close_range(lo, keep[i] - 1, 0);
		lo = keep[i] + 1;
	}
	close_range(lo, ~0U, 0);
}

/*
 * Starts a child in a process group of its own, in dir (or dirfd when dir
 * is NULL), its stdin on infd (ours when 0), its stdout and stderr on
 * outfd (ours when -1), and execs exe.
 * Every descriptor of ours but 0-2 is close-on-exec, so the child has 0-2
 * only.  Returns its PID, or -1 with *stage and errno telling what failed
 * (exec failures included).
 */
static pid_t
start_child(const char *exe, char *const argv[], char *const envp[],
    const char *dir, int dirfd, int infd, int outfd, int *stage)
{
	struct report r;
	int p[2], status;
	pid_t pid;
	ssize_t n;

	*stage = STAGE_FDS;
	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	*stage = STAGE_FORK;
	if ((pid = fork()) == -1) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		/* Async-signal-safe calls only from here. */
		int st = STAGE_FDS;

		setpgid(0, 0);
		if ((infd > 0 && dup2(infd, 0) == -1) || (outfd != -1 &&
		    (dup2(outfd, 1) == -1 || dup2(outfd, 2) == -1)))
			goto fail;
		st = STAGE_CHDIR;
		if ((dir != NULL ? chdir(dir) : fchdir(dirfd)) == 0) {
			st = STAGE_EXEC;
			if (exe == NULL)
				errno = ENOENT;
			else
				execve(exe, argv, envp);
		}
fail:
		report(p[1], REPORT_FAILED, st, errno, 0);
		_exit(127);
	}
	close(p[1]);
	setpgid(pid, pid);	/* either side may win; both ask the same */
	do
		n = read(p[0], &r, sizeof(r));
	while (n == -1 && errno == EINTR);
	close(p[0]);
	if (n == sizeof(r)) {
		xwaitpid(pid, &status, 0);
		*stage = r.stage;
		errno = r.err;
		return -1;
	}
	return pid;
}

/*
 * Ends every process of group pgid (the leader already reaped or not):
 * what torchrun leaves behind must not keep a GPU.  Bounded: a process
 * stuck in the kernel (D state) does not hang us.
 */
void
kill_group(pid_t pgid)
{
	int i;

	for (i = 0; i < 100 && kill(-pgid, 0) == 0; i++) {
		kill(-pgid, SIGKILL);
		usleep(50000);
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
		spawn_log("job %s: trainer %ld exited with status %d", j->id,
		    (long)j->pid, j->exit_code);
	} else if (WIFSIGNALED(status)) {
		j->signal = WTERMSIG(status);
		job_set_state(j, JOB_KILLED);
		spawn_log("job %s: trainer %ld killed by signal %d (%s)", j->id,
		    (long)j->pid, j->signal, strsignal(j->signal));
	}
	if (stopped != NULL)
		j->state = stopped;	/* over what the exit said */
}

/*
 * Waits for the trainer, stopping it (SIGTERM to its group, SIGKILL
 * after kill_grace) when asked to or when max_runtime has passed.
 */
static void
watch(const struct conf *c, struct job *j)
{
	const char *stopped = NULL;
	time_t stopping = 0, now;
	int status = 0, hard = 0;
	pid_t r;

	while ((r = xwaitpid(j->pid, &status, WNOHANG)) == 0) {
		now = time(NULL);
		if (stopped == NULL) {
			if ((stopped = job_stop_requested(j)) == NULL &&
			    c->max_runtime > 0 &&
			    now - j->started >= c->max_runtime)
				stopped = JOB_TIMEOUT;
			if (stopped == NULL && c->window_stop &&
			    !sched_open(c, sched_now())) {
				stopped = JOB_TIMEOUT;
				snprintf(j->error, sizeof(j->error), "stopped: "
				    "the run window closed (window_stop)");
			}
			if (stopped != NULL) {
				spawn_log("job %s: stopping (%s): SIGTERM to group "
				    "%ld", j->id, stopped, (long)j->pid);
				kill(-j->pid, SIGTERM);
				stopping = now;
			}
		} else if (!hard && now - stopping >= c->kill_grace) {
			spawn_log("job %s: SIGKILL to group %ld after %lds", j->id,
			    (long)j->pid, c->kill_grace);
			kill(-j->pid, SIGKILL);
			hard = 1;
		}
		usleep(POLL_US);
	}
	kill_group(j->pid);
	if (r == -1) {
		/* Cannot happen to a child of ours; say so rather than guess. */
		snprintf(j->error, sizeof(j->error), "waitpid: %s",
		    strerror(errno));
		spawn_log("job %s: %s", j->id, j->error);
		j->finished = time(NULL);
		job_set_state(j, stopped ? stopped : JOB_FAILED);
		return;
	}
	ended(j, status, stopped);
}

/* Keeps the last size - 1 bytes of output in tail. */
static void
tail_add(char *tail, size_t size, const char *buf, size_t n)
{
	size_t have = strlen(tail), keep;

	if (size == 0)
		return;
	if (n >= size - 1) {
		memcpy(tail, buf + n - (size - 1), size - 1);
		tail[size - 1] = '\0';
		return;
	}
	keep = have + n > size - 1 ? size - 1 - n : have;
	memmove(tail, tail + have - keep, keep);
	memcpy(tail + keep, buf, n);
	tail[keep + n] = '\0';
}

enum run_end
spawn_run(const struct run *r, int *status, char *tail, size_t taillen)
{
	enum run_end end = RUN_EXITED;
	struct pollfd pfd;
	char buf[4096], *exe;
	int p[2], stage, exited = 0;
	pid_t pid;
	ssize_t n;

	if (taillen > 0)
		tail[0] = '\0';
	*status = 0;
	if (pipe2(p, O_CLOEXEC) == -1) {
		snprintf(tail, taillen, "pipe: %s", strerror(errno));
		return RUN_ERROR;
	}
	exe = r->exe ? strdup(r->exe) : find_exe(r->argv[0], r->envp,
	    r->dir ? r->dir : ".");
	pid = start_child(exe, r->argv, r->envp, r->dir, r->dirfd, r->stdin_fd,
	    p[1], &stage);
	free(exe);
	close(p[1]);
	if (pid == -1) {
		snprintf(tail, taillen, "cannot %s %s: %s", stages[stage],
		    r->argv[0], strerror(errno));
		close(p[0]);
		return RUN_ERROR;
	}
	pfd.fd = p[0];
	pfd.events = POLLIN;
	while (!exited) {
		if (pfd.fd == -1)
			usleep(10000);
		else if (poll(&pfd, 1, POLL_US / 1000) > 0) {
			if ((n = read(p[0], buf, sizeof(buf))) > 0) {
				if (!r->quiet)
					(void)!write(STDERR_FILENO, buf, n);
				tail_add(tail, taillen, buf, n);
			} else if (n == 0 || errno != EINTR)
				pfd.fd = -1;	/* end of output */
		}
		if (xwaitpid(pid, status, WNOHANG) == pid)
			exited = 1;
		else if (end == RUN_EXITED && r->stop != NULL &&
		    r->stop(r->arg))
			end = RUN_STOPPED;
		else if (end == RUN_EXITED && r->deadline != 0 &&
		    time(NULL) >= r->deadline)
			end = RUN_TIMEOUT;
		else
			continue;
		if (!exited) {
			kill(-pid, SIGKILL);
			xwaitpid(pid, status, 0);
			exited = 1;
		}
	}
	/* What it wrote before it ended; not what a child it left writes. */
	while (pfd.fd != -1 && poll(&pfd, 1, 0) > 0 &&
	    (n = read(p[0], buf, sizeof(buf))) > 0) {
		if (!r->quiet)
			(void)!write(STDERR_FILENO, buf, n);
		tail_add(tail, taillen, buf, n);
	}
	close(p[0]);
	kill_group(pid);
	return end;
}

/*
 * Runs notify once the job's end is recorded: no shell, bounded by
 * notify_timeout, its output in the job's log.  Its failure changes
 * nothing but that log.
 */
static void
notify(const struct conf *c, const struct spawn *sp, struct job *j)
{
	struct strv env = { NULL, 0 };
	struct run r;
	char tail[256];
	int status;
	size_t i;

	if (sp->notify_argv == NULL)
		return;
	for (i = 0; sp->notify_envp[i] != NULL; i++)
		if (strv_setenv(&env, strdup(sp->notify_envp[i])) == -1)
			goto out;
	if (strv_setenv(&env, xprintf("JOB_STATE=%s", j->state)) == -1 ||
	    strv_setenv(&env, j->exit_code >= 0 ? xprintf("JOB_EXIT=%d",
	    j->exit_code) : strdup("JOB_EXIT=")) == -1 ||
	    strv_setenv(&env, j->signal > 0 ? xprintf("JOB_SIGNAL=%d", j->signal) :
	    strdup("JOB_SIGNAL=")) == -1 ||
	    strv_setenv(&env, xprintf("JOB_DURATION=%ld", j->started ?
	    (long)(j->finished - j->started) : 0L)) == -1 ||
	    strv_setenv(&env, xprintf("JOB_AFTER_SUCCESS=%s",
	    j->after_state)) == -1 ||
	    strv_setenv(&env, xprintf("JOB_LAST_CHECKPOINT=%s",
	    j->results.last_model_checkpoint ?
	    j->results.last_model_checkpoint : "")) == -1 ||
	    strv_setenv(&env, xprintf("JOB_BEST_CHECKPOINT=%s",
	    j->results.best_model_checkpoint ?
	    j->results.best_model_checkpoint : "")) == -1)
		goto out;
	memset(&r, 0, sizeof(r));
	r.exe = sp->notify_exe;
	r.argv = sp->notify_argv;
	r.envp = env.v;
	r.dirfd = j->dirfd;
	r.deadline = time(NULL) + c->notify_timeout;
	switch (spawn_run(&r, &status, tail, sizeof(tail))) {
	case RUN_ERROR:
		spawn_log("job %s: notify: %s", j->id, tail);
		break;
	case RUN_TIMEOUT:
		spawn_log("job %s: notify: killed after %lds", j->id,
		    c->notify_timeout);
		break;
	default:
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			spawn_log("job %s: notify failed (status %d)", j->id,
			    WIFEXITED(status) ? WEXITSTATUS(status) :
			    128 + WTERMSIG(status));
	}
out:
	strv_free(&env);
}

/*
 * The slots' GPUs and torchrun port go into the trainer's environment;
 * CUDA_VISIBLE_DEVICES is as long as the GPU ids make it (UUIDs are 40
 * bytes each).
 */
static int
slot_env(const struct conf *c, struct spawn *sp, struct job *j,
    const struct slots *s)
{
	struct strv env = { sp->envp, 0 };
	size_t len = 1;
	int i;

	while (env.v[env.n] != NULL)
		env.n++;
	free(j->gpus);
	j->gpus = NULL;
	if (c->gpus.n > 0) {
		for (i = 0; i < s->n; i++)
			len += strlen(c->gpus.v[s->idx[i]]) + 1;
		if ((j->gpus = malloc(len)) == NULL)
			return -1;
		j->gpus[0] = '\0';
		for (i = 0; i < s->n; i++) {
			if (i > 0)
				strcat(j->gpus, ",");
			strcat(j->gpus, c->gpus.v[s->idx[i]]);
		}
		if (strv_setenv(&env, xprintf("CUDA_VISIBLE_DEVICES=%s",
		    j->gpus)) == -1)
			return -1;
	}
	if (strv_setenv(&env, xprintf("MASTER_PORT=%d", 29500 + s->idx[0])) ==
	    -1)
		return -1;
	sp->envp = env.v;
	return 0;
}

/* Adds the run directory's descriptors to keep[]; returns the count. */
static int
keep_rundir(int *keep, int n, const struct rundir *rd)
{
	keep[n++] = rd->fd;
	keep[n++] = rd->keys;
	keep[n++] = rd->deliveries;
	keep[n++] = rd->queue;
	keep[n++] = rd->slots;
	return n;
}

/*
 * Posts j's commit status from a child of the supervisor that is not
 * waited for (a slow GitHub must not hold the trainer's start or the
 * watch); it keeps no slot lock.  The final post, in finish, waits on
 * the job's status.lock, so it comes last.
 */
static void
tell_async(struct rundir *rd, const struct conf *c, const struct job *j)
{
	int keep[8], n;

	if (c->github_token_file == NULL || fork() != 0)
		return;
	n = keep_rundir(keep, 0, rd);
	keep[n++] = j->dirfd;
	close_others(keep, n);
	commitstatus_post(rd, c, j->id);
	_exit(0);
}

void
spawn_detached(struct rundir *rd, struct conf *c, int fd,
    void (*fn)(struct rundir *, struct conf *, int))
{
	int keep[8], n, nullfd;
	pid_t pid;

	if ((pid = fork()) == -1)
		return;
	if (pid == 0) {
		n = keep_rundir(keep, 0, rd);
		keep[n++] = fd;
		close_others(keep, n);
		conf_wipe_secret(c);
		if (setsid() == -1 || fork() != 0)
			_exit(0);
		if ((nullfd = open("/dev/null", O_RDWR)) == -1 ||
		    dup2(nullfd, 0) == -1 || dup2(nullfd, 1) == -1 ||
		    dup2(nullfd, 2) == -1 || reset_signals() == -1)
			_exit(1);
		if (nullfd > 2)
			close(nullfd);
		fn(rd, c, fd);
		_exit(0);
	}
	xwaitpid(pid, NULL, 0);
}

/*
 * The end of a job that held slots: the slots freed first (whoever sees
 * the job ended finds them free), its checkout removed (unless keep_src),
 * its record, the next queued jobs started, its commit status, notify.
 */
static void __attribute__((noreturn))
finish(struct spawn *sp, struct rundir *rd, struct conf *c, struct job *j,
    struct slots *s, int code)
{
	slots_vacate(s);
	if (j->has_src && !c->keep_src)
		checkout_remove(j);
	record(j);
	job_ended(rd, j);
	if (c->backend == BACKEND_LOCAL)
		job_kick(rd, c);
	if (c->repository != NULL)
		checkout_prune(rd, c);
	commitstatus_post(rd, c, j->id);
	notify(c, sp, j);
	_exit(code);
}

/*
 * Preparing: the checkout of the pushed commit, with the slots held and
 * the one who started the job already answered.  Returns 0 once the
 * trainer can start in it; else the job has ended (failed or stopped).
 */
static int
prepare(struct rundir *rd, struct conf *c, struct job *j)
{
	const char *stopped;

	switch (checkout_make(rd, c, j, j->error, sizeof(j->error))) {
	case CHECKOUT_OK:
		spawn_log("job %s: checked out %s in %s/src", j->id, j->commit,
		    j->dir);
		return 0;
	case CHECKOUT_STOPPED:
		stopped = job_stop_requested(j);
		j->error[0] = '\0';
		job_set_state(j, stopped ? stopped : JOB_CANCELLED);
		spawn_log("job %s: stopped while preparing (%s)", j->id,
		    j->state);
		break;
	case CHECKOUT_FAILED:
		spawn_log("job %s: %s", j->id, j->error);
		job_set_state(j, JOB_FAILED);
		/* It never ran: a redelivery may start it. */
		claim_release(rd, j->sha, j->config, j->id);
		break;
	}
	j->finished = time(NULL);
	return -1;
}

static int
stop_asked(void *arg)
{
	return job_stop_requested(arg) != NULL;
}

/*
 * gpu_check: waits while a GPU of the job's is in use by something else,
 * looking every gpu_check_interval.  Returns 0 when the trainer may
 * start; -1 if the job was stopped meanwhile (its end set in j).
 */
static int
gpu_wait(struct rundir *rd, const struct conf *c, struct job *j)
{
	const char *stopped;
	char why[256];
	time_t next;

	if (!c->gpu_check || j->gpus == NULL)
		return 0;
	for (;;) {
		switch (gpu_busy(c, j->gpus, why, sizeof(why))) {
		case GPU_FREE:
			if (j->waiting != NULL)
				spawn_log("job %s: GPU %s free", j->id, j->gpus);
			j->waiting = NULL;
			return 0;
		case GPU_UNKNOWN:
			spawn_log("job %s: GPU check skipped: %s", j->id, why);
			j->waiting = NULL;
			return 0;
		case GPU_BUSY:
			if (j->waiting != NULL)
				break;
			spawn_log("job %s: waiting: %s; looking again every "
			    "%lds", j->id, why, c->gpu_check_interval);
			j->waiting = "gpu busy";
			record(j);
			tell_async(rd, c, j);
			break;
		}
		for (next = time(NULL) + c->gpu_check_interval;
		    time(NULL) < next; usleep(POLL_US))
			if ((stopped = job_stop_requested(j)) != NULL) {
				j->waiting = NULL;
				job_set_state(j, stopped);
				j->finished = time(NULL);
				spawn_log("job %s: stopped while waiting for "
				    "its GPUs (%s)", j->id, j->state);
				return -1;
			}
	}
}

/*
 * after_success, after a successful run, on the job's GPUs and in its
 * folder or checkout, bounded by max_runtime: its output goes to the log,
 * its end into j (after_*); the job's own state stays succeeded.
 */
static void
after_success(const struct conf *c, const struct spawn *sp, struct job *j)
{
	const char *val[PH__COUNT], *missing = NULL;
	struct strv argv = { NULL, 0 };
	char short_sha[8], tail[256];
	struct run r;
	time_t t0 = time(NULL);
	int status;
	size_t i;

	if (c->after_success.n == 0 || j->state != JOB_SUCCEEDED)
		return;
	values(val, j, sp->cwd, sp->output_dir, short_sha);
	for (i = 0; i < c->after_success.n; i++)
		if (strstr(c->after_success.v[i], "{last_checkpoint}") &&
		    val[PH_LAST_CHECKPOINT][0] == '\0')
			missing = "last_model_checkpoint";
		else if (strstr(c->after_success.v[i], "{best_checkpoint}") &&
		    val[PH_BEST_CHECKPOINT][0] == '\0')
			missing = "best_model_checkpoint";
	snprintf(j->after_state, sizeof(j->after_state), "%s", JOB_FAILED);
	if (missing != NULL) {
		snprintf(j->after_error, sizeof(j->after_error), "no %s in "
		    "%s/logging.jsonl", missing, sp->output_dir);
		spawn_log("job %s: after_success not run: %s", j->id,
		    j->after_error);
		return;
	}
	if (strv_expand(&argv, &c->after_success, val) == -1) {
		snprintf(j->after_error, sizeof(j->after_error),
		    "out of memory");
		strv_free(&argv);
		return;
	}
	spawn_log("job %s: after_success: %s", j->id, argv.v[0]);
	memset(&r, 0, sizeof(r));
	r.argv = argv.v;
	r.envp = sp->envp;
	r.dir = sp->cwd;
	r.deadline = c->max_runtime > 0 ? t0 + c->max_runtime : 0;
	r.stop = stop_asked;
	r.arg = j;
	switch (spawn_run(&r, &status, tail, sizeof(tail))) {
	case RUN_EXITED:
		if (WIFEXITED(status)) {
			j->after_exit = WEXITSTATUS(status);
			if (j->after_exit == 0)
				snprintf(j->after_state, sizeof(j->after_state),
				    "%s", JOB_SUCCEEDED);
		} else
			snprintf(j->after_error, sizeof(j->after_error),
			    "killed by signal %d", WTERMSIG(status));
		break;
	case RUN_TIMEOUT:
		snprintf(j->after_state, sizeof(j->after_state), "%s",
		    JOB_TIMEOUT);
		break;
	case RUN_STOPPED:
		snprintf(j->after_state, sizeof(j->after_state), "%s",
		    JOB_CANCELLED);
		break;
	case RUN_ERROR:
		snprintf(j->after_error, sizeof(j->after_error), "%s", tail);
		break;
	}
	j->after_duration = (long)(time(NULL) - t0);
	if (j->after_exit >= 0)
		snprintf(tail, sizeof(tail), "exit %d", j->after_exit);
	else
		snprintf(tail, sizeof(tail), "no exit code");
	spawn_log("job %s: after_success %s%s%s after %lds (%s)", j->id,
	    j->after_state, j->after_error[0] ? ": " : "", j->after_error,
	    j->after_duration, tail);
	strv_free(&argv);
}

/*
 * backend = slurm: brings j's record to what Slurm says (st).  Returns 1
 * if the record changed.
 */
static int
slurm_apply(struct job *j, const struct slurm_state *st, const char *stopped,
    char *waiting, size_t waitlen)
{
	const char *was = j->state;
	char how[64];

	snprintf(j->slurm_nodes, sizeof(j->slurm_nodes), "%s", st->nodes);
	if (st->state == JOB_QUEUED) {
		if (j->state == JOB_RUNNING)
			spawn_log("job %s: Slurm requeued job %ld (%s)", j->id,
			    j->slurm_job_id, st->name);
		job_set_state(j, JOB_QUEUED);
		snprintf(waiting, waitlen, "slurm: %s", st->reason[0] ?
		    st->reason : st->name);
		if (j->waiting == NULL || strcmp(j->waiting, waiting) != 0) {
			j->waiting = waiting;
			return 1;
		}
		return j->state != was;
	}
	j->waiting = NULL;
	if (j->state != JOB_RUNNING && !(st->start == 0 &&
	    (st->state == JOB_CANCELLED || st->state == JOB_FAILED))) {
		/* Ended between two looks: it ran all the same. */
		job_set_state(j, JOB_RUNNING);
		j->started = st->start ? st->start : time(NULL);
		spawn_log("job %s: Slurm job %ld running on %s", j->id,
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
	spawn_log("job %s: Slurm job %ld ended %s (%s): %s", j->id,
	    j->slurm_job_id, st->name, how, j->state);
	return 1;
}

/* Submits j: its batch script, then sbatch.  Returns 0, or -1 (failed). */
static int
slurm_submit_job(struct spawn *sp, struct conf *c, struct job *j)
{
	long id;

	if (slurm_script(c, j, sp->argv, j->error, sizeof(j->error)) == -1 ||
	    (id = slurm_submit(c, j, sp->envp, sp->cwd, j->error,
	    sizeof(j->error))) == -1) {
		spawn_log("job %s: %s", j->id, j->error);
		job_set_state(j, JOB_FAILED);
		j->finished = time(NULL);
		return -1;
	}
	j->slurm_job_id = id;
	spawn_log("job %s: submitted as Slurm job %ld", j->id, id);
	return 0;
}

/*
 * The supervisor of a job on Slurm.  A new job: answers at once (the job
 * stays queued), checks out its commit, writes its batch script and
 * submits it.  A job whose Slurm id is recorded (its first supervisor
 * is gone, and jobs or cancel started this one): asks Slurm first and
 * answers with the record brought up to date.  Then it follows the job
 * (squeue, sacct: at first every second, then less often, up to every
 * slurm_poll), scancels it when asked to stop, and finishes it as the
 * local supervisor does.  Never returns.
 */
static void __attribute__((noreturn))
follow_slurm(struct spawn *sp, struct rundir *rd, struct conf *c,
    struct job *j, int rep)
{
	struct slots none = { .n = 0 };
	struct slurm_state st;
	char waiting[96], err[512], said[512] = "";
	const char *stopped = NULL;
	time_t now, next = 0, asked = 0, unknown = 0;
	long interval = 1;
	int lock, changed;

	/* One supervisor per job: a second one leaves it to the first. */
	if ((lock = job_open_file(j, "supervisor.lock", O_RDWR | O_CREAT)) ==
	    -1 || flock(lock, LOCK_EX | LOCK_NB) == -1) {
		report(rep, REPORT_WAITING, 0, 0, 0);
		_exit(0);
	}
	j->supervisor = getpid();
	j->supervisor_start = proc_starttime(j->supervisor);
	j->output_dir = sp->output_dir;
	if (j->slurm_job_id == 0) {
		if (job_save(j, 0) == -1) {
			report(rep, REPORT_FAILED, STAGE_PIDFILE, errno, 0);
			_exit(1);
		}
		report(rep, REPORT_WAITING, 0, 0, 0);
		close(rep);
		rep = -1;
		tell_async(rd, c, j);
		if (c->repository != NULL) {
			job_set_state(j, JOB_PREPARING);
			record(j);
			tell_async(rd, c, j);
			if (prepare(rd, c, j) == -1)
				finish(sp, rd, c, j, &none, 1);
			job_set_state(j, JOB_QUEUED);
		}
		if ((stopped = job_stop_requested(j)) != NULL) {
			job_set_state(j, stopped);
			j->finished = time(NULL);
			finish(sp, rd, c, j, &none, 0);
		}
		if (slurm_submit_job(sp, c, j) == -1) {
			claim_release(rd, j->sha, j->config, j->id);
			finish(sp, rd, c, j, &none, 1);
		}
		record(j);	/* synced: the Slurm id outlives a crash */
	}
	for (;;) {
		now = time(NULL);
		if (stopped == NULL && (stopped = job_stop_requested(j)) !=
		    NULL) {
			spawn_log("job %s: stopping (%s): scancel %ld", j->id,
			    stopped, j->slurm_job_id);
			asked = 0;
			interval = 1;
		}
		if (stopped != NULL && now - asked >= 30) {
			if (slurm_cancel(c, j->slurm_job_id, err,
			    sizeof(err)) == -1)
				spawn_log("job %s: %s", j->id, err);
			asked = now;
			next = now + 1;
		}
		if (now >= next) {
			switch (slurm_query(c, j->slurm_job_id, &st, err,
			    sizeof(err))) {
			case SLURM_KNOWN:
				unknown = 0;
				changed = slurm_apply(j, &st, stopped, waiting,
				    sizeof(waiting));
				/* Recorded before the answer: jobs reads it. */
				if (changed) {
					interval = 1;
					job_save(j, job_state_final(j->state));
				}
				if (rep != -1) {
					report(rep, REPORT_WAITING, 0, 0, 0);
					close(rep);
					rep = -1;
				}
				if (job_state_final(j->state)) {
					if (results_read(sp->output_dir,
					    &j->results) == -1)
						spawn_log("job %s: %s/logging"
						    ".jsonl: %s", j->id,
						    sp->output_dir,
						    strerror(errno));
					finish(sp, rd, c, j, &none, 0);
				}
				if (changed)
					tell_async(rd, c, j);
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
				spawn_log("job %s: %s", j->id, j->error);
				job_set_state(j, JOB_FAILED);
				j->finished = now;
				finish(sp, rd, c, j, &none, 1);
				/* NOTREACHED */
			case SLURM_ERROR:
				if (strcmp(err, said) != 0)	/* once */
					spawn_log("job %s: %s", j->id, err);
				snprintf(said, sizeof(said), "%s", err);
				break;
			}
			if (rep != -1) {
				report(rep, REPORT_WAITING, 0, 0, 0);
				close(rep);
				rep = -1;
			}
			next = now + interval;
			if ((interval *= 2) > c->slurm_poll)
				interval = c->slurm_poll;
		}
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;	/* tell_async's */
		usleep(5 * POLL_US);
	}
}

/*
 * The detached supervisor: starts the trainer on its slots (after the
 * checkout, when there is a repository, and once its GPUs are free, with
 * gpu_check), reports to whoever started it, watches the trainer, runs
 * after_success, records its end and results, gives its slots to the
 * next queued job, posts the commit status, notifies.  For a job already
 * ended (a queued job cancelled), or only to be told (tell_only), it only
 * posts and notifies.  Never returns.
 */
static void __attribute__((noreturn))
supervise(struct spawn *sp, struct rundir *rd, struct conf *c,
    struct job *j, struct slots *s, int nullfd, int logfd, int rep)
{
	int stage, r;

	if (dup2(nullfd, 0) == -1 || dup2(logfd, 1) == -1 ||
	    dup2(logfd, 2) == -1 || reset_signals() == -1) {
		report(rep, REPORT_FAILED, STAGE_FDS, errno, 0);
		_exit(1);
	}
	close(nullfd);
	close(logfd);
	if (sp->tell_only || job_state_final(j->state)) {
		report(rep, REPORT_STARTED, 0, 0, 0);
		close(rep);
		commitstatus_post(rd, c, j->id);
		if (job_state_final(j->state))
			notify(c, sp, j);
		_exit(0);
	}
	if (c->backend == BACKEND_SLURM)
		follow_slurm(sp, rd, c, j, rep);
	j->supervisor = getpid();
	j->supervisor_start = proc_starttime(j->supervisor);
	j->output_dir = sp->output_dir;
	if (slot_env(c, sp, j, s) == -1) {
		stage = STAGE_ENV;	/* recorded here, unlike STAGE_FDS */
		goto fail;
	}
	if (c->repository != NULL || c->gpu_check) {
		slots_own(s, j->supervisor, j->supervisor_start, j->id);
		job_set_state(j, JOB_PREPARING);
		if (job_write(j) == -1) {
			stage = STAGE_PIDFILE;
			goto fail;
		}
		report(rep, REPORT_PREPARING, 0, 0, 0);
		close(rep);
		rep = -1;
		tell_async(rd, c, j);
		if ((c->repository != NULL && prepare(rd, c, j) == -1) ||
		    gpu_wait(rd, c, j) == -1)
			finish(sp, rd, c, j, s, 1);
	}
	if ((j->pid = start_child(sp->exe, sp->argv, sp->envp, sp->cwd, -1,
	    0, -1, &stage)) == -1) {
		j->pid = 0;
		goto fail;
	}
	j->pid_start = proc_starttime(j->pid);
	slots_own(s, j->pid, j->pid_start, j->id);
	j->started = time(NULL);
	job_set_state(j, JOB_RUNNING);
	/*
	 * Not synced: the one who started the job waits for this, and a
	 * crash that lost it would have ended the trainer too (the record
	 * then says the job was queued, or preparing: lost).
	 */
	if (job_write_pid(j) == -1 || job_save(j, 0) == -1) {
		stage = STAGE_PIDFILE;
		r = errno;
		kill_group(j->pid);
		xwaitpid(j->pid, NULL, 0);
		j->pid = 0;
		errno = r;
		goto fail;
	}
	spawn_log("job %s: started trainer %ld%s%s: %s", j->id, (long)j->pid,
	    j->gpus ? " on GPU " : "", j->gpus ? j->gpus : "", sp->exe);
	report(rep, REPORT_STARTED, 0, 0, j->pid);
	if (rep != -1)
		close(rep);
	tell_async(rd, c, j);
	watch(c, j);
	if (results_read(sp->output_dir, &j->results) == -1)
		spawn_log("job %s: %s/logging.jsonl: %s", j->id,
		    sp->output_dir, strerror(errno));
	after_success(c, sp, j);
	finish(sp, rd, c, j, s, 0);
fail:
	r = errno;
	start_error(j->error, sizeof(j->error), stage, r, sp);
	j->state = JOB_FAILED;	/* queued or running: both may fail */
	j->finished = time(NULL);
	spawn_log("job %s: %s", j->id, j->error);
	if (rep == -1)		/* answered already: the claim is ours */
		claim_release(rd, j->sha, j->config, j->id);
	slots_vacate(s);	/* free before the record says failed */
	if (j->has_src && !c->keep_src)
		checkout_remove(j);
	record(j);		/* before the answer: it says "recorded" */
	report(rep, REPORT_FAILED, stage, r, 0);
	if (rep != -1)
		close(rep);
	finish(sp, rd, c, j, s, 1);
}

/* Records j failed with err, unless it has ended already. */
static void
start_failed(struct rundir *rd, struct job *j, char *err, size_t errlen)
{
	/* A job that has ended already (only its notify was to run) stays. */
	if (job_set_state(j, JOB_FAILED) == 0) {
		j->finished = time(NULL);
		snprintf(j->error, sizeof(j->error), "%s", err);
		if (job_write(j) == -1)
			snprintf(err + strlen(err), errlen - strlen(err),
			    "; write %s/job.json: %s", j->dir,
			    strerror(errno));
		job_ended(rd, j);
	}
}

int
spawn_fork(struct spawn *sp, struct rundir *rd, struct job *j,
    struct conf *c, struct slots *s, char *err, size_t errlen)
{
	int keep[QUEUE_MAX_SLOTS + 16], nkeep = 0, i;
	int nullfd = -1, logfd = -1, p[2] = { -1, -1 };
	pid_t pid;

	sp->mid = -1;
	sp->report_fd = -1;
	if ((logfd = job_open_file(j, "log", O_WRONLY | O_CREAT |
	    O_APPEND)) == -1) {
		snprintf(err, errlen, "open %s/log: %s", j->dir,
		    strerror(errno));
		goto fail;
	}
	if ((nullfd = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "open /dev/null: %s", strerror(errno));
		goto fail;
	}
	if (pipe2(p, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto fail;
	}
	if ((pid = fork()) == -1) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		/* The middle child: a new session, the supervisor, gone. */
		keep[nkeep++] = nullfd;
		keep[nkeep++] = logfd;
		keep[nkeep++] = p[1];
		keep[nkeep++] = j->dirfd;
		nkeep = keep_rundir(keep, nkeep, rd);
		for (i = 0; i < s->n; i++)
			keep[nkeep++] = s->fd[i];
		close_others(keep, nkeep);
		conf_wipe_secret(c);
		if (setsid() == -1) {
			report(p[1], REPORT_FAILED, STAGE_SETSID, errno, 0);
			_exit(1);
		}
		if ((pid = fork()) == -1) {
			report(p[1], REPORT_FAILED, STAGE_FORK, errno, 0);
			_exit(1);
		}
		if (pid == 0)
			supervise(sp, rd, c, j, s, nullfd, logfd, p[1]);
		_exit(0);
	}
	close(p[1]);
	close(nullfd);
	close(logfd);
	slots_release(s);	/* the supervisor holds them now */
	sp->mid = pid;
	sp->report_fd = p[0];
	return 0;
fail:
	slots_release(s);
	if (!sp->adopt)
		start_failed(rd, j, err, errlen);
	if (p[0] != -1)
		close(p[0]);
	if (p[1] != -1)
		close(p[1]);
	if (nullfd != -1)
		close(nullfd);
	if (logfd != -1)
		close(logfd);
	return -1;
}

int
spawn_wait(struct spawn *sp, struct rundir *rd, struct job *j, char *err,
    size_t errlen)
{
	struct report r;
	int status;
	ssize_t n;

	if (xwaitpid(sp->mid, &status, 0) == -1 && errno != ECHILD) {
		snprintf(err, errlen, "waitpid: %s", strerror(errno));
		close(sp->report_fd);
		sp->report_fd = -1;
		if (!sp->adopt)
			start_failed(rd, j, err, errlen);
		return -1;
	}
	sp->mid = -1;
	do
		n = read(sp->report_fd, &r, sizeof(r));
	while (n == -1 && errno == EINTR);
	close(sp->report_fd);
	sp->report_fd = -1;
	if (n != sizeof(r)) {
		snprintf(err, errlen, "supervisor ended before it reported");
		return -1;
	}
	if (r.kind == REPORT_FAILED) {
		/* The supervisor has recorded it (or never wrote a thing). */
		start_error(err, errlen, r.stage, r.err, sp);
		if ((r.stage == STAGE_SETSID || r.stage == STAGE_FORK ||
		    r.stage == STAGE_FDS) && !sp->adopt &&
		    job_set_state(j, JOB_FAILED) == 0) {
			snprintf(j->error, sizeof(j->error), "%s", err);
			j->finished = time(NULL);
			job_write(j);
			job_ended(rd, j);
		}
		return -1;
	}
	if (r.kind == REPORT_WAITING)
		return 0;	/* Slurm has it, or will: as recorded */
	if (r.kind == REPORT_PREPARING)
		job_set_state(j, JOB_PREPARING);
	else if (!sp->tell_only && !job_state_final(j->state)) {
		j->pid = r.pid;
		job_set_state(j, JOB_RUNNING);
	}
	return 0;
}

int
spawn_start(struct spawn *sp, struct rundir *rd, struct job *j,
    struct conf *c, struct slots *s, char *err, size_t errlen)
{
	if (spawn_fork(sp, rd, j, c, s, err, errlen) == -1)
		return -1;
	return spawn_wait(sp, rd, j, err, errlen);
}
