/*
 * spawn.c: run-command: start, run to the end, kill a group, detach.
 * See spawn.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawn.h"
#include "util.h"

#define POLL_MS		100	/* how often spawn_run looks */

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

char *
spawn_find_exe(const char *name, char *const envp[], const char *dir)
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

const char *
spawn_stage_name(int stage)
{
	static const char *const names[SPAWN_STAGES] = {
		"fork", "setsid", "set up descriptors", "chdir", "exec",
		"setpgid"
	};

	return stage >= 0 && stage < SPAWN_STAGES ? names[stage] : "?";
}

void
spawn_report(int fd, int kind, int stage, int err, pid_t pid)
{
	struct spawn_report r = { kind, stage, err, (int)pid };
	ssize_t n;

	if (fd == -1)
		return;
	do
		n = write(fd, &r, sizeof(r));
	while (n == -1 && errno == EINTR);
}

/* Reads one report from fd.  Returns 0, or -1 at end of file. */
static int
report_read(int fd, struct spawn_report *r)
{
	ssize_t n;

	do
		n = read(fd, r, sizeof(*r));
	while (n == -1 && errno == EINTR);
	return n == sizeof(*r) ? 0 : -1;
}

int
spawn_reset_signals(void)
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

pid_t
spawn_waitpid(pid_t pid, int *status, int flags)
{
	pid_t r;

	do
		r = waitpid(pid, status, flags);
	while (r == -1 && errno == EINTR);
	return r;
}

/*
 * Closes every descriptor from 3 up but those in keep[] (-1s ignored):
 * what the web server or libfcgi left open (a listening socket, a client
 * connection, a lock taken by our caller) must not live on in a detached
 * process.  Returns 0, or -1 if a close_range failed.
 */
static int
close_others(const int *keep, int n)
{
	int sorted[80], i, k, t, m = 0, rc = 0;
	unsigned int lo = 3;

	for (i = 0; i < n && m < (int)(sizeof(sorted) / sizeof(sorted[0]));
	    i++)
		if (keep[i] >= 3)
			sorted[m++] = keep[i];
	for (i = 1; i < m; i++)		/* insertion sort: m is small */
		for (k = i; k > 0 && sorted[k - 1] > sorted[k]; k--) {
			t = sorted[k];
			sorted[k] = sorted[k - 1];
			sorted[k - 1] = t;
		}
	for (i = 0; i < m; i++) {
		if ((unsigned int)sorted[i] > lo &&
		    close_range(lo, sorted[i] - 1, 0) == -1)
			rc = -1;
		if ((unsigned int)sorted[i] >= lo)
			lo = sorted[i] + 1;
	}
	if (close_range(lo, ~0U, 0) == -1)
		rc = -1;
	return rc;
}

int
spawn_child(struct child *ch)
{
	struct spawn_report r;
	int p[2], status, saved;
	char *found = NULL;
	const char *exe = ch->exe;
	pid_t pid, parent = getpid();

	ch->pid = -1;
	ch->stage = STAGE_FDS;
	/* Everything that allocates, before fork. */
	if (exe == NULL)
		exe = found = spawn_find_exe(ch->argv[0], ch->envp,
		    ch->dir ? ch->dir : ".");
	if (pipe2(p, O_CLOEXEC) == -1) {
		free(found);
		return -1;
	}
	ch->stage = STAGE_FORK;
	if ((pid = fork()) == -1) {
		saved = errno;
		close(p[0]);
		close(p[1]);
		free(found);
		errno = saved;
		return -1;
	}
	if (pid == 0) {
		/* Async-signal-safe calls only from here. */
		int st = STAGE_PGRP;

		if (setpgid(0, 0) == -1)
			goto fail;
		/* Its starter may have died already: then it must not run. */
		if (ch->pdeathsig != 0 && (prctl(PR_SET_PDEATHSIG,
		    ch->pdeathsig) == -1 || getppid() != parent))
			_exit(127);
		st = STAGE_FDS;
		if ((ch->in > 0 && dup2(ch->in, 0) == -1) || (ch->out != -1 &&
		    (dup2(ch->out, 1) == -1 || dup2(ch->out, 2) == -1)))
			goto fail;
		st = STAGE_CHDIR;
		if ((ch->dir != NULL ? chdir(ch->dir) : fchdir(ch->dirfd)) ==
		    0) {
			st = STAGE_EXEC;
			if (exe == NULL)
				errno = ENOENT;
			else
				execve(exe, ch->argv, ch->envp);
		}
fail:
		spawn_report(p[1], REPORT_FAILED, st, errno, 0);
		_exit(127);
	}
	close(p[1]);
	free(found);
	/*
	 * Either side may win the race to make the group; both ask for the
	 * same one.  EACCES: the child has exec'd and made it itself.
	 */
	if (setpgid(pid, pid) == -1 && errno != EACCES && errno != ESRCH)
		log_line("setpgid %ld: %s", (long)pid, strerror(errno));
	if (report_read(p[0], &r) == 0) {
		close(p[0]);
		spawn_waitpid(pid, &status, 0);
		ch->stage = r.stage;
		errno = r.err;
		return -1;
	}
	close(p[0]);
	ch->pid = pid;
	return 0;
}

/* What a reaper sends: its child's pid, then its wait status. */
enum { REAP_STARTED = REPORT_KINDS, REAP_ENDED };

/* The reaper, forked: see spawn_reaped.  Never returns. */
static void __attribute__((noreturn))
reaper(struct child *ch, int dirfd, const char *name, int rep)
{
	int keep[2] = { dirfd, rep }, status;

	prctl(PR_SET_NAME, "swh-reaper");
	if (close_others(keep, 2) == -1 || spawn_child(ch) == -1) {
		spawn_report(rep, REPORT_FAILED, ch->stage, errno, 0);
		_exit(1);
	}
	spawn_report(rep, REAP_STARTED, 0, 0, ch->pid);
	signal(SIGPIPE, SIG_IGN);	/* the starter may be gone */
	if (spawn_waitpid(ch->pid, &status, 0) == -1)
		_exit(1);
	spawn_report(rep, REAP_ENDED, status, 0, ch->pid);
	while (spawn_reaped_write(dirfd, name, status) == -1 &&
	    write_may_pass(errno))
		sleep(1);
	_exit(0);
}

int
spawn_reaped_write(int dirfd, const char *name, int status)
{
	char buf[64];
	size_t len;

	len = (size_t)snprintf(buf, sizeof(buf), "%d %lld\n", status,
	    (long long)time(NULL));
	return file_write_at(dirfd, name, buf, len, 0640, 1);
}

int
spawn_reaped(struct child *ch, int dirfd, const char *name, struct reaper *rp)
{
	struct spawn_report r;
	int p[2], saved;
	pid_t pid;

	rp->pid = -1;
	rp->fd = -1;
	ch->stage = STAGE_FDS;
	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	ch->stage = STAGE_FORK;
	if ((pid = fork()) == -1) {
		saved = errno;
		close(p[0]);
		close(p[1]);
		errno = saved;
		return -1;
	}
	if (pid == 0) {
		close(p[0]);
		reaper(ch, dirfd, name, p[1]);
	}
	close(p[1]);
	memset(&r, 0, sizeof(r));	/* end of file: no report, ECHILD */
	if (report_read(p[0], &r) == -1 || r.kind != REAP_STARTED) {
		saved = r.kind == REPORT_FAILED ? r.err : ECHILD;
		ch->stage = r.kind == REPORT_FAILED ? r.stage : STAGE_FORK;
		close(p[0]);
		spawn_waitpid(pid, NULL, 0);
		errno = saved;
		return -1;
	}
	ch->pid = r.pid;
	rp->pid = pid;
	rp->fd = p[0];
	if (fcntl(p[0], F_SETFL, O_NONBLOCK) == -1)
		log_line("reaper: O_NONBLOCK: %s", strerror(errno));
	return 0;
}

int
spawn_reaped_status(struct reaper *rp, int *status)
{
	struct spawn_report r;
	ssize_t n;

	if (rp->fd == -1)
		return -1;
	do
		n = read(rp->fd, &r, sizeof(r));
	while (n == -1 && errno == EINTR);
	if (n == -1 && errno == EAGAIN)
		return 0;
	close(rp->fd);
	rp->fd = -1;
	if (n != sizeof(r) || r.kind != REAP_ENDED)
		return -1;
	*status = r.stage;
	return 1;
}

int
spawn_reaped_read(int dirfd, const char *name, uid_t owner, int *status,
    time_t *when)
{
	char *buf, *end;
	long long st, t;
	size_t len;

	if ((buf = file_read_at(dirfd, name, 64, &len, owner)) == NULL)
		return -1;
	errno = EINVAL;
	st = strtoll(buf, &end, 10);
	if (end == buf || *end != ' ' || st < 0 || st > 0xffff ||
	    !(WIFEXITED((int)st) || WIFSIGNALED((int)st))) {
		free(buf);
		return -1;
	}
	t = strtoll(end + 1, &end, 10);
	if (*end != '\n' || end[1] != '\0' || t <= 0 || t > 1LL << 40) {
		free(buf);
		return -1;
	}
	free(buf);
	*status = (int)st;
	*when = (time_t)t;
	return 0;
}

void
spawn_kill_group(pid_t pgid)
{
	int i;

	for (i = 0; i < 100 && kill(-pgid, 0) == 0; i++) {
		kill(-pgid, SIGKILL);
		usleep(50000);
	}
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

/* Copies what the child wrote to tail (and stderr unless quiet). */
static void
take_output(const struct child *ch, const char *buf, ssize_t n, char *tail,
    size_t taillen)
{
	if (!ch->quiet)
		(void)!write(STDERR_FILENO, buf, n);
	tail_add(tail, taillen, buf, n);
}

enum run_end
spawn_run(struct child *ch, int *status, char *tail, size_t taillen)
{
	enum run_end end = RUN_EXITED;
	double deadline = ch->timeout > 0 ? mono_now() + ch->timeout : 0;
	struct pollfd pfd;
	char buf[4096];
	int p[2], exited = 0, rc;
	ssize_t n;

	if (taillen > 0)
		tail[0] = '\0';
	*status = 0;
	/* A stop asked before it starts: it does not start. */
	if (ch->stop != NULL && ch->stop(ch->arg))
		return RUN_STOPPED;
	if (pipe2(p, O_CLOEXEC) == -1) {
		snprintf(tail, taillen, "pipe: %s", strerror(errno));
		return RUN_ERROR;
	}
	ch->out = p[1];
	rc = spawn_child(ch);
	close(p[1]);
	ch->out = -1;
	if (rc == -1) {
		snprintf(tail, taillen, "cannot %s %s: %s",
		    spawn_stage_name(ch->stage), ch->argv[0], strerror(errno));
		close(p[0]);
		return RUN_ERROR;
	}
	pfd.fd = p[0];
	pfd.events = POLLIN;
	while (!exited) {
		if (pfd.fd == -1)
			usleep(10000);
		else if (poll(&pfd, 1, POLL_MS) > 0) {
			if ((n = read(p[0], buf, sizeof(buf))) > 0)
				take_output(ch, buf, n, tail, taillen);
			else if (n == 0 || errno != EINTR)
				pfd.fd = -1;	/* end of output */
		}
		if (spawn_waitpid(ch->pid, status, WNOHANG) == ch->pid)
			exited = 1;
		else if (end == RUN_EXITED && ch->stop != NULL &&
		    ch->stop(ch->arg))
			end = RUN_STOPPED;
		else if (end == RUN_EXITED && deadline != 0 &&
		    mono_now() >= deadline)
			end = RUN_TIMEOUT;
		else
			continue;
		if (!exited) {
			kill(-ch->pid, SIGKILL);
			spawn_waitpid(ch->pid, status, 0);
			exited = 1;
		}
	}
	/* What it wrote before it ended; not what a child it left writes. */
	while (pfd.fd != -1 && poll(&pfd, 1, 0) > 0 &&
	    (n = read(p[0], buf, sizeof(buf))) > 0)
		take_output(ch, buf, n, tail, taillen);
	close(p[0]);
	spawn_kill_group(ch->pid);
	return end;
}

enum run_end
spawn_tool(char *const argv[], char *const envp[], int stdin_fd, int timeout,
    int *status, char *tail, size_t taillen)
{
	struct strv env = { NULL, 0 };
	struct child ch;
	enum run_end end;

	*status = 0;
	if (envp == NULL && spawn_tool_env(&env) == -1) {
		snprintf(tail, taillen, "out of memory");
		return RUN_ERROR;
	}
	memset(&ch, 0, sizeof(ch));
	ch.argv = argv;
	ch.envp = envp != NULL ? envp : env.v;
	ch.dir = "/";
	ch.in = stdin_fd;
	ch.timeout = timeout;
	ch.quiet = 1;
	end = spawn_run(&ch, status, tail, taillen);
	strv_free(&env);
	return end;
}

/*
 * The detached process, once forked: its descriptors, then fn.  A
 * failure here is reported (the starter records it) and ends it.
 */
static void __attribute__((noreturn))
detached(const struct detach *d, int nullfd, int rep)
{
	int out = d->out != -1 ? d->out : nullfd;

	if (dup2(nullfd, 0) == -1 || dup2(out, 1) == -1 ||
	    dup2(out, 2) == -1 || spawn_reset_signals() == -1) {
		spawn_report(rep, REPORT_FAILED, STAGE_FDS, errno, 0);
		_exit(1);
	}
	if (nullfd > 2)
		close(nullfd);
	if (d->out > 2)
		close(d->out);
	if (!d->report) {
		close(rep);
		rep = -1;
	}
	d->fn(d->arg, rep);
	_exit(0);	/* fn must not return */
}

int
spawn_detach(struct detach *d, char *err, size_t errlen)
{
	int keep[80], n, i, nullfd, p[2], status;
	struct spawn_report r;
	pid_t pid;

	d->mid = -1;
	d->report_fd = -1;
	d->pid = -1;
	if (d->nkeep > (int)(sizeof(keep) / sizeof(keep[0])) - 3) {
		snprintf(err, errlen, "detach: too many descriptors");
		return -1;
	}
	if ((nullfd = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "open /dev/null: %s", strerror(errno));
		return -1;
	}
	if (pipe2(p, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		close(nullfd);
		return -1;
	}
	if ((pid = fork()) == -1) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		close(nullfd);
		return -1;
	}
	if (pid == 0) {
		/* The middle process: a new session, the detached one, gone. */
		for (n = 0, i = 0; i < d->nkeep; i++)
			keep[n++] = d->keep[i];
		keep[n++] = nullfd;
		keep[n++] = p[1];
		keep[n++] = d->out;
		if (close_others(keep, n) == -1) {
			spawn_report(p[1], REPORT_FAILED, STAGE_FDS, errno, 0);
			_exit(1);
		}
		if (setsid() == -1) {
			spawn_report(p[1], REPORT_FAILED, STAGE_SETSID, errno,
			    0);
			_exit(1);
		}
		if ((pid = fork()) == -1) {
			spawn_report(p[1], REPORT_FAILED, STAGE_FORK, errno,
			    0);
			_exit(1);
		}
		if (pid == 0)
			detached(d, nullfd, p[1]);
		if (!d->report)
			spawn_report(p[1], REPORT_DETACHED, 0, 0, pid);
		_exit(0);
	}
	close(p[1]);
	close(nullfd);
	if (d->report) {
		d->mid = pid;
		d->report_fd = p[0];
		return 0;
	}
	/*
	 * No report to come: only the middle process's own failure, whose
	 * record is in the pipe once it has exited (a detached process that
	 * exists holds the pipe open: it is not waited for).
	 */
	d->pid = -1;
	if (spawn_waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0) {
		/* Written before it exited: no wait on the detached one. */
		if (report_read(p[0], &r) == 0 && r.kind == REPORT_DETACHED)
			d->pid = r.pid;
		close(p[0]);
		return 0;
	}
	n = report_read(p[0], &r);
	close(p[0]);
	snprintf(err, errlen, "detach: %s: %s", n == 0 ?
	    spawn_stage_name(r.stage) : "?", n == 0 ? strerror(r.err) :
	    "the middle process failed");
	return -1;
}

/* A process of /proc: its parent, and whether it is below us. */
struct proc {
	pid_t	pid, ppid;
	int	below;		/* 1: below us; -1: at or below a skip */
};

/* Reads the processes of /proc (no zombies) into *ps.  Returns the count. */
static int
procs_read(struct proc **ps)
{
	struct proc *v = NULL, *nv;
	char path[64], buf[512], *s, state;
	struct dirent *de;
	int n = 0, cap = 0, fd, ppid;
	ssize_t k;
	DIR *d;

	*ps = NULL;
	if ((d = opendir("/proc")) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			continue;
		k = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (k <= 0)
			continue;
		buf[k] = '\0';
		/* "pid (comm) state ppid": comm may hold ')' and spaces. */
		if ((s = strrchr(buf, ')')) == NULL ||
		    sscanf(s + 1, " %c %d", &state, &ppid) != 2 ||
		    state == 'Z' || state == 'X')
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			if ((nv = realloc(v, cap * sizeof(*v))) == NULL)
				break;
			v = nv;
		}
		v[n].pid = (pid_t)strtol(de->d_name, NULL, 10);
		v[n].ppid = ppid;
		v[n++].below = 0;
	}
	closedir(d);
	*ps = v;
	return n;
}

static int
proc_cmp(const void *a, const void *b)
{
	const struct proc *x = a, *y = b;

	return (x->pid > y->pid) - (x->pid < y->pid);
}

int
spawn_descendants(const pid_t *skip, int nskip, pid_t *out, int max)
{
	struct proc *ps, key, *up;
	pid_t self = getpid();
	int n, i, k, found = 0, more = 1, parent;

	if ((n = procs_read(&ps)) == 0) {
		free(ps);
		return 0;
	}
	qsort(ps, n, sizeof(*ps), proc_cmp);	/* for bsearch by pid */
	for (k = 0; k < nskip; k++) {
		key.pid = skip[k];
		if ((up = bsearch(&key, ps, n, sizeof(*ps), proc_cmp)) != NULL)
			up->below = -1;
	}
	/* Down from us, a generation a pass, until no one is new. */
	while (more) {
		more = 0;
		for (i = 0; i < n; i++) {
			if (ps[i].below != 0)
				continue;
			key.pid = ps[i].ppid;
			parent = ps[i].ppid == self ? 1 : (up = bsearch(&key,
			    ps, n, sizeof(*ps), proc_cmp)) != NULL ? up->below :
			    0;
			if (parent != 0) {
				ps[i].below = parent;
				more = 1;
			}
		}
	}
	for (i = 0; i < n; i++)
		if (ps[i].below == 1 && found < max)
			out[found++] = ps[i].pid;
	free(ps);
	return found;
}

void
spawn_signal(const pid_t *pids, int n, int sig)
{
	int i;

	for (i = 0; i < n; i++)
		kill(pids[i], sig);
}

int
spawn_detach_wait(struct detach *d, struct spawn_report *r)
{
	int rc;

	if (d->mid != -1)
		spawn_waitpid(d->mid, NULL, 0);
	d->mid = -1;
	rc = d->report_fd != -1 ? report_read(d->report_fd, r) : -1;
	if (d->report_fd != -1)
		close(d->report_fd);
	d->report_fd = -1;
	if (rc == -1) {
		r->kind = REPORT_FAILED;
		r->stage = -1;
		r->err = 0;
		r->pid = 0;
	}
	return rc;
}
