/*
 * spawn.c: the double fork, the supervisor and the trainer's exec.
 *
 * As in git's run-command.c, everything that allocates (argv, envp, the
 * PATH lookup, the log and /dev/null) is done before fork, the child that
 * execs uses only async-signal-safe calls and checks every one, and an
 * exec failure travels back on a close-on-exec pipe: end of file there
 * means the exec succeeded.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "spawn.h"

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

struct vec {
	char	**v;
	size_t	  n;
};

/* Appends s (taking it), or replaces the entry of the same NAME=. */
static int
env_set(struct vec *e, char *s)
{
	size_t i, n = strcspn(s, "=") + 1;
	char **v;

	if (s == NULL)
		return -1;
	for (i = 0; i < e->n; i++)
		if (strncmp(e->v[i], s, n) == 0) {
			free(e->v[i]);
			e->v[i] = s;
			return 0;
		}
	if ((v = realloc(e->v, (e->n + 2) * sizeof(*v))) == NULL) {
		free(s);
		return -1;
	}
	e->v = v;
	e->v[e->n++] = s;
	e->v[e->n] = NULL;
	return 0;
}

static char *
xprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		s = NULL;
	va_end(ap);
	return s;
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

/* Finds name in the PATH of envp, as execvp would.  NULL if not found. */
static char *
find_exe(const char *name, char *const envp[])
{
	const char *path = "/usr/local/bin:/usr/bin:/bin", *p, *e;
	struct stat st;
	char *s;
	size_t i;

	if (strchr(name, '/') != NULL)
		return strdup(name);
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

int
spawn_prepare(struct spawn *sp, const struct job *j, const struct conf *c)
{
	static const char *const jobvars[PH__COUNT] = {
		[PH_CONFIG] = "JOB_CONFIG", [PH_SHA] = "JOB_SHA",
		[PH_SHORT_SHA] = "JOB_SHORT_SHA", [PH_REF] = "JOB_REF",
		[PH_BRANCH] = "JOB_BRANCH", [PH_REPOSITORY] = "JOB_REPOSITORY",
		[PH_DELIVERY] = "JOB_DELIVERY", [PH_JOB] = "JOB_ID",
		[PH_JOB_DIR] = "JOB_DIR",
	};
	const char *val[PH__COUNT];
	struct vec argv = { NULL, 0 }, env = { NULL, 0 };
	char short_sha[8];
	size_t i;

	memset(sp, 0, sizeof(*sp));
	snprintf(short_sha, sizeof(short_sha), "%s", j->sha);
	val[PH_CONFIG] = j->config;
	val[PH_SHA] = j->sha;
	val[PH_SHORT_SHA] = short_sha;
	val[PH_REF] = j->ref;
	val[PH_BRANCH] = j->branch;
	val[PH_REPOSITORY] = j->repository;
	val[PH_DELIVERY] = j->delivery;
	val[PH_JOB] = j->id;
	val[PH_JOB_DIR] = j->dir;

	/* argv: append, never replace: env_set on a vec with no '=' keys
	 * would, so build it directly. */
	if ((argv.v = calloc(c->launcher.n + c->command.n + 1,
	    sizeof(char *))) == NULL)
		goto oom;
	for (i = 0; i < c->launcher.n; i++)
		if ((argv.v[argv.n++] = expand(c->launcher.v[i], val)) == NULL)
			goto oom;
	for (i = 0; i < c->command.n; i++)
		if ((argv.v[argv.n++] = expand(c->command.v[i], val)) == NULL)
			goto oom;

	if (saved_env != NULL)
		for (i = 0; saved_env[i] != NULL; i++)
			if (spawn_allowed(saved_env[i]) &&
			    env_set(&env, strdup(saved_env[i])) == -1)
				goto oom;
	for (i = 0; i < c->env.n; i++)
		if (env_set(&env, expand(c->env.v[i], val)) == -1)
			goto oom;
	for (i = 0; i < PH__COUNT; i++)
		if (env_set(&env, xprintf("%s=%s", jobvars[i], val[i])) == -1)
			goto oom;
	if (env_set(&env, xprintf("JOB_LOG=%s/log", j->dir)) == -1)
		goto oom;
	sp->argv = argv.v;
	sp->envp = env.v;
	sp->exe = find_exe(sp->argv[0], sp->envp);
	sp->cwd = c->workdir ? c->workdir : j->dir;
	return 0;
oom:
	sp->argv = argv.v;
	sp->envp = env.v;
	spawn_free(sp);
	return -1;
}

void
spawn_free(struct spawn *sp)
{
	size_t i;

	for (i = 0; sp->argv != NULL && sp->argv[i] != NULL; i++)
		free(sp->argv[i]);
	for (i = 0; sp->envp != NULL && sp->envp[i] != NULL; i++)
		free(sp->envp[i]);
	free(sp->argv);
	free(sp->envp);
	free(sp->exe);
	memset(sp, 0, sizeof(*sp));
}

/* What the supervisor tells the responder, one record. */
enum { REPORT_STARTED = 1, REPORT_FAILED };
enum stage {
	STAGE_FORK, STAGE_SETSID, STAGE_FDS, STAGE_CHDIR, STAGE_EXEC,
	STAGE_PIDFILE
};
static const char *const stages[] = {
	"fork", "setsid", "set up descriptors", "chdir", "exec",
	"write pid file"
};
struct report {
	int	kind;
	int	stage;
	int	err;
	int	pid;
};

#define REPORT_FD 3

static void
report(int fd, int kind, int stage, int err, pid_t pid)
{
	struct report r = { kind, stage, err, (int)pid };
	ssize_t n;

	do
		n = write(fd, &r, sizeof(r));
	while (n == -1 && errno == EINTR);
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
xwaitpid(pid_t pid, int *status)
{
	pid_t r;

	do
		r = waitpid(pid, status, 0);
	while (r == -1 && errno == EINTR);
	return r;
}

/*
 * The trainer's side of the last fork: its own process group, the
 * working directory, exec.  Async-signal-safe calls only.
 */
static void __attribute__((noreturn))
trainer(const struct spawn *sp, int errfd)
{
	int stage;

	setpgid(0, 0);
	close(REPORT_FD);
	stage = STAGE_CHDIR;
	if (chdir(sp->cwd) == 0) {
		stage = STAGE_EXEC;
		if (sp->exe == NULL)
			errno = ENOENT;
		else
			execve(sp->exe, sp->argv, sp->envp);
	}
	report(errfd, REPORT_FAILED, stage, errno, 0);
	_exit(127);
}

static void
say(const char *fmt, ...)
{
	char buf[512], ts[21];
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

/* Records how the trainer ended. */
static void
finish(struct job *j, int status)
{
	j->finished = time(NULL);
	if (WIFEXITED(status)) {
		j->exit_code = WEXITSTATUS(status);
		j->state = j->exit_code == 0 ? "succeeded" : "failed";
		say("job %s: trainer %ld exited with status %d", j->id,
		    (long)j->pid, j->exit_code);
	} else if (WIFSIGNALED(status)) {
		j->signal = WTERMSIG(status);
		j->state = "killed";
		say("job %s: trainer %ld killed by signal %d (%s)", j->id,
		    (long)j->pid, j->signal, strsignal(j->signal));
	}
	if (job_write(j) == -1)
		say("job %s: write job.json: %s", j->id, strerror(errno));
}

/* Logs a failure to start and reports it; the responder records it. */
static void
fail(struct job *j, int stage, int err)
{
	say("job %s: cannot start trainer: %s: %s", j->id, stages[stage],
	    strerror(err));
	report(REPORT_FD, REPORT_FAILED, stage, err, 0);
}

/*
 * The detached supervisor: sets up its descriptors, starts the trainer,
 * reports, waits.  Never returns.
 */
static void __attribute__((noreturn))
supervise(const struct spawn *sp, struct job *j, int nullfd, int logfd,
    int repfd)
{
	struct report r;
	int p[2], status;
	pid_t pid;
	ssize_t n;

	if (dup2(nullfd, 0) == -1 || dup2(logfd, 1) == -1 ||
	    dup2(logfd, 2) == -1 || (repfd != REPORT_FD &&
	    dup2(repfd, REPORT_FD) == -1) ||
	    fcntl(REPORT_FD, F_SETFD, 0) == -1) {
		report(repfd, REPORT_FAILED, STAGE_FDS, errno, 0);
		_exit(1);
	}
	closefrom(REPORT_FD + 1);
	if (reset_signals() == -1 || pipe2(p, O_CLOEXEC) == -1) {
		report(REPORT_FD, REPORT_FAILED, STAGE_FDS, errno, 0);
		_exit(1);
	}
	if ((pid = fork()) == -1) {
		fail(j, STAGE_FORK, errno);
		_exit(1);
	}
	if (pid == 0)
		trainer(sp, p[1]);
	close(p[1]);
	setpgid(pid, pid);	/* either side may win; both ask the same */
	do
		n = read(p[0], &r, sizeof(r));
	while (n == -1 && errno == EINTR);
	close(p[0]);
	if (n == sizeof(r)) {
		xwaitpid(pid, &status);
		fail(j, r.stage, r.err);
		_exit(1);
	}
	j->pid = pid;
	j->started = time(NULL);
	j->state = "running";
	if (job_write_pid(j) == -1 || job_write(j) == -1) {
		int err = errno;

		kill(-pid, SIGKILL);
		xwaitpid(pid, &status);
		j->pid = 0;
		fail(j, STAGE_PIDFILE, err);
		_exit(1);
	}
	say("job %s: started trainer %ld: %s", j->id, (long)pid, sp->exe);
	report(REPORT_FD, REPORT_STARTED, 0, 0, pid);
	close(REPORT_FD);
	if (xwaitpid(pid, &status) == -1) {
		say("job %s: waitpid: %s", j->id, strerror(errno));
		_exit(1);
	}
	finish(j, status);
	_exit(0);
}

int
spawn_start(const struct spawn *sp, struct job *j, char *secret,
    size_t secretlen, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct report r;
	int nullfd = -1, logfd = -1, p[2] = { -1, -1 }, status;
	pid_t pid;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/log", j->dir);
	if ((logfd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC |
	    O_NOFOLLOW, 0644)) == -1) {
		snprintf(err, errlen, "open %s: %s", path, strerror(errno));
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
		close(p[0]);
		if (secret != NULL)
			OPENSSL_cleanse(secret, secretlen);
		if (setsid() == -1) {
			report(p[1], REPORT_FAILED, STAGE_SETSID, errno, 0);
			_exit(1);
		}
		if ((pid = fork()) == -1) {
			report(p[1], REPORT_FAILED, STAGE_FORK, errno, 0);
			_exit(1);
		}
		if (pid == 0)
			supervise(sp, j, nullfd, logfd, p[1]);
		_exit(0);
	}
	close(p[1]);
	p[1] = -1;
	if (xwaitpid(pid, &status) == -1 && errno != ECHILD) {
		snprintf(err, errlen, "waitpid: %s", strerror(errno));
		goto fail;
	}
	do
		n = read(p[0], &r, sizeof(r));
	while (n == -1 && errno == EINTR);
	if (n != sizeof(r)) {
		snprintf(err, errlen, "supervisor ended before the trainer "
		    "started");
		goto fail;
	}
	if (r.kind != REPORT_STARTED) {
		if (r.stage == STAGE_EXEC)
			snprintf(err, errlen, "cannot execute trainer %s: %s",
			    sp->argv[0], strerror(r.err));
		else if (r.stage == STAGE_CHDIR)
			snprintf(err, errlen, "cannot chdir to workdir %s: %s",
			    sp->cwd, strerror(r.err));
		else
			snprintf(err, errlen, "cannot start trainer (%s): %s",
			    r.stage >= 0 && r.stage <= STAGE_PIDFILE ?
			    stages[r.stage] : "?", strerror(r.err));
		goto fail;
	}
	j->pid = r.pid;
	j->state = "running";
	close(p[0]);
	close(nullfd);
	close(logfd);
	return 0;
fail:
	j->state = "failed";
	j->finished = time(NULL);
	snprintf(j->error, sizeof(j->error), "%s", err);
	if (job_write(j) == -1)
		snprintf(err + strlen(err), errlen - strlen(err),
		    "; write %s/job.json: %s", j->dir, strerror(errno));
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
