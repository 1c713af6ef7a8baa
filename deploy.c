/*
 * deploy.c: serving a trained model, health-gated.  See deploy.h.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "commitstatus.h"
#include "deploy.h"
#include "deployment.h"
#include "filter.h"
#include "metrics.h"
#include "results.h"
#include "schedule.h"
#include "spawn.h"
#include "trainer.h"
#include "util.h"

#define CONTEXT		"swift-webhook/deploy"
/* A job's note from before its deployment starts until the job names it. */
#define DEPLOYING	"deploying"
#define POLL		0.25	/* seconds between looks while serving */
#define HEALTH_EVERY	0.5	/* seconds between health polls */
#define HEALTH_TIMEOUT	2.0	/* seconds one poll may take */
#define LIVE_MAX	64	/* live deployments looked at */
#define PORT_WAIT	120	/* seconds a port in TIME_WAIT is waited for */
#define HANDOVER	1.0	/* seconds a stopping server's port is
				   relayed to the new one, at least */
#define RELAY_IDLE	600	/* seconds a relayed connection may idle */

#define RELAYS		256	/* relays a hand-over keeps apart */

/* A deployment's supervisor. */
struct dsup {
	struct rundir		*rd;
	struct conf		*c;
	struct deployment	 d;
	struct job		 j;	/* the job whose model it serves */
	struct trainer		 t;
	int			 have_job;
	int			 lock;	/* supervisor.lock */
	int			 child;	/* the server is our child */
	int			 reaped;	/* and has been reaped */
	pid_t			 relays[RELAYS];	/* hand_over's children */
	int			 nrelays;
	int			 status;	/* its wait status, once it ended */
	double			 started;	/* when it last started */
};

/* Sleeps s seconds (monotonic, whole through signals). */
static void
nap(double s)
{
	struct timespec ts;

	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

int
deploy_http_get(int port, const char *path, double timeout)
{
	struct sockaddr_in a;
	struct timeval tv;
	char req[512], buf[64];
	size_t got = 0;
	ssize_t n;
	int fd, code = -1, saved;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	tv.tv_sec = (time_t)timeout;
	tv.tv_usec = (suseconds_t)((timeout - (double)tv.tv_sec) * 1e6);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((unsigned short)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == -1)
		goto out;
	n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: 127.0.0.1:%d"
	    "\r\nUser-Agent: swift-webhook\r\nConnection: close\r\n\r\n",
	    path, port);
	if (n < 0 || (size_t)n >= sizeof(req) || write_all(fd, req, n) == -1)
		goto out;
	while (got < sizeof(buf) - 1 && (n = read(fd, buf + got,
	    sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	/* "HTTP/1.x NNN ..." */
	if (got >= 12 && strncmp(buf, "HTTP/1.", 7) == 0 && buf[8] == ' ' &&
	    strspn(buf + 9, "0123456789") >= 3)
		code = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 +
		    (buf[11] - '0');
	else
		errno = EPROTO;
out:
	saved = errno;
	close(fd);
	errno = saved;
	return code;
}

/*
 * The sockets listening on port (0: on any port), from /proc/net/tcp
 * and tcp6 (state 0A): their inodes into ino, their ports into ports (if
 * not NULL), at most max.  Returns their count.
 */
static int
listeners(int port, unsigned long *ino, int *ports, int max)
{
	static const char *const files[] = { "/proc/net/tcp",
	    "/proc/net/tcp6" };
	char line[512], local[64];
	unsigned long inode;
	unsigned int lport, st;
	size_t i;
	FILE *f;
	char *colon;
	int n = 0;

	for (i = 0; i < 2; i++) {
		if ((f = fopen(files[i], "re")) == NULL)
			continue;
		while (fgets(line, sizeof(line), f) != NULL && n < max) {
			if (sscanf(line, " %*u: %63s %*s %x %*s %*s %*s %*s "
			    "%*s %lu", local, &st, &inode) != 3)
				continue;
			if ((colon = strrchr(local, ':')) == NULL ||
			    sscanf(colon + 1, "%x", &lport) != 1)
				continue;
			if (st == 0x0A && (port == 0 || (int)lport == port) &&
			    inode != 0) {
				if (ports != NULL)
					ports[n] = (int)lport;
				ino[n++] = inode;
			}
		}
		fclose(f);
	}
	return n;
}

/* The descriptor of process pid that is one of the n sockets ino[], or -1. */
static int
fd_of(pid_t pid, const unsigned long *ino, int n)
{
	char path[64], link[64];
	struct dirent *e;
	unsigned long i;
	ssize_t len;
	DIR *dir;
	int k, fd = -1;

	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
	if ((dir = opendir(path)) == NULL)
		return -1;
	while (fd == -1 && (e = readdir(dir)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/fd/%.20s", (long)pid,
		    e->d_name);
		if ((len = readlink(path, link, sizeof(link) - 1)) <= 0)
			continue;
		link[len] = '\0';
		if (sscanf(link, "socket:[%lu]", &i) != 1)
			continue;
		for (k = 0; k < n; k++)
			if (ino[k] == i)
				fd = atoi(e->d_name);
	}
	closedir(dir);
	return fd;
}

/* Whether process pid holds one of the n sockets ino[]. */
static int
holds(pid_t pid, const unsigned long *ino, int n)
{
	return fd_of(pid, ino, n) != -1;
}

/* Process pid's group, from /proc/pid/stat, or -1. */
static pid_t
pgrp_of(pid_t pid)
{
	char path[64], buf[512], *p;
	long g;
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* After the command's ')': state, ppid, pgrp. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 1, " %*c %*d %ld", &g) != 1)
		return -1;
	return (pid_t)g;
}

/*
 * Whether one of the n sockets ino[] is held by process group pgid or,
 * if pid is this process, a process below it: the index of the first
 * held, or -1.
 */
static int
group_holds(const unsigned long *ino, int n, pid_t pgid, pid_t pid)
{
	pid_t below[256];
	struct dirent *e;
	DIR *dir;
	int k, i, nb, found = -1;
	long p;

	for (i = 0; i < n && found == -1; i++) {
		if ((dir = opendir("/proc")) != NULL) {
			while (found == -1 && (e = readdir(dir)) != NULL) {
				if ((p = strtol(e->d_name, NULL, 10)) <= 0)
					continue;
				if (pgrp_of((pid_t)p) == pgid &&
				    holds((pid_t)p, &ino[i], 1))
					found = i;
			}
			closedir(dir);
		}
		/* Below the server, whatever group its children moved to. */
		if (found == -1 && pid > 0 && pid == getpid()) {
			nb = spawn_descendants(NULL, 0, below, 256);
			for (k = 0; k < nb && found == -1; k++)
				if (holds(below[k], &ino[i], 1))
					found = i;
		}
	}
	return found;
}

int
deploy_port_owned(int port, pid_t pgid, pid_t pid)
{
	unsigned long ino[16];
	int n;

	if ((n = listeners(port, ino, NULL, 16)) == 0)
		return -1;
	return group_holds(ino, n, pgid, pid) >= 0;
}

/* A port the server's group listens on (not ours: it moved), or 0. */
static int
moved_to(pid_t pgid)
{
	unsigned long ino[256];
	int ports[256], n, i;

	n = listeners(0, ino, ports, 256);
	return (i = group_holds(ino, n, pgid, getpid())) >= 0 ? ports[i] : 0;
}

/*
 * Whether port can be bound on every address, without SO_REUSEADDR: what
 * ms-swift's find_free_port asks before it takes a port (else it takes
 * the next).  A port just left with connections in TIME_WAIT (a minute
 * after a server that served them stopped) cannot.
 */
static int
bindable(int port)
{
	struct sockaddr_in a;
	int fd, rc;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((unsigned short)port);
	a.sin_addr.s_addr = htonl(INADDR_ANY);
	rc = bind(fd, (struct sockaddr *)&a, sizeof(a));
	close(fd);
	return rc == 0;
}

/* A line in the deployment's log (stderr) and in its job's. */
static void
say(struct dsup *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
say(struct dsup *x, const char *fmt, ...)
{
	char buf[768], when[21];
	va_list ap;
	int fd;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_line("deployment %s: %s", x->d.id, buf);
	if (!x->have_job || (fd = job_open_file(&x->j, "log", O_WRONLY |
	    O_APPEND)) == -1)
		return;
	iso8601(time(NULL), when);
	dprintf(fd, "[swift-webhook %s] deployment %s: %s\n", when, x->d.id,
	    buf);
	close(fd);
}

/* Writes the record; a failure is said, the deployment goes on. */
static void
save(struct dsup *x)
{
	if (deployment_write(&x->d) == -1)
		log_line("deployment %s: deploy.json: %s", x->d.id,
		    strerror(errno));
}

/*
 * The commit status "swift-webhook/deploy" on the commit of job (its
 * repository and sha); who for the log.
 */
static void
post(const struct conf *c, const char *who, const char *repository,
    const char *sha, const char *job, const char *state, const char *desc)
{
	if (c->github_token_file != NULL && repository != NULL &&
	    repo_name_valid(repository) && sha != NULL &&
	    commit_id_valid(sha))
		commitstatus_send(c, who, repository, sha, CONTEXT, state,
		    desc, job);
}

static void
status(struct dsup *x, const char *state, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
status(struct dsup *x, const char *state, const char *fmt, ...)
{
	char desc[512], who[JOB_ID_MAX + 16];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	snprintf(who, sizeof(who), "deployment %s", x->d.id);
	post(x->c, who, x->d.repository, x->d.sha, x->d.job, state, desc);
}

/*
 * notify, with DEPLOY_EVENT (serving, failed, restarted, stopped) and
 * the deployment's DEPLOY_* beside the job's JOB_*.
 */
static void
notify(struct dsup *x, const char *event)
{
	struct strv env = { NULL, 0 };
	char why[320];

	if (!x->have_job || x->t.notify_argv == NULL)
		return;
	if (trainer_notify_env(&x->t, &x->j, &env) == -1 ||
	    strv_setenv(&env, xprintf("DEPLOY_EVENT=%s", event)) == -1 ||
	    strv_setenv(&env, xprintf("DEPLOY_ID=%s", x->d.id)) == -1 ||
	    strv_setenv(&env, xprintf("DEPLOY_PORT=%d", x->d.port)) == -1 ||
	    strv_setenv(&env, xprintf("DEPLOY_CHECKPOINT=%s",
	    x->d.checkpoint)) == -1 ||
	    strv_setenv(&env, xprintf("DEPLOY_MODEL_NAME=%s",
	    x->d.model_name)) == -1 ||
	    strv_setenv(&env, xprintf("DEPLOY_REASON=%s", x->d.reason)) ==
	    -1 || strv_setenv(&env, xprintf("DEPLOY_RESTARTS=%d",
	    x->d.restarts)) == -1) {
		say(x, "notify: out of memory");
		strv_free(&env);
		return;
	}
	if (trainer_notify(&x->t, env.v, x->d.dirfd, x->c->notify_timeout,
	    why, sizeof(why)) == -1)
		say(x, "%s", why);
	strv_free(&env);
}

/* Whether a stop was asked (its words in x->d.reason). */
static int
stop_asked(struct dsup *x)
{
	char why[256];

	if (!deployment_stop_requested(&x->d, why, sizeof(why)))
		return 0;
	if (x->d.reason[0] == '\0')
		snprintf(x->d.reason, sizeof(x->d.reason), "%s", why);
	return 1;
}

static int
stop_cb(void *arg)
{
	return stop_asked(arg);
}

/*
 * Reaps what ended below this supervisor (a subreaper: the server's
 * orphans come here), noting the server's own wait status.
 */
static void
reap_all(struct dsup *x)
{
	pid_t p;
	int st;

	while ((p = spawn_waitpid(-1, &st, WNOHANG)) > 0)
		if (x->child && p == x->d.pid) {
			x->status = st;
			x->reaped = 1;
		}
}

/*
 * Whether the server has ended: reaped (its wait status in x->status)
 * if it is our child, gone if it is not.
 */
static int
server_ended(struct dsup *x)
{
	if (x->d.pid <= 0)
		return 1;
	if (x->child) {
		reap_all(x);
		return x->reaped;
	}
	x->status = -1;
	return !deployment_running(&x->d);
}

/*
 * The processes of the server's tree: its group, and what is below this
 * supervisor (orphans of the server that left its group and session
 * come to a subreaper), at most max.  Returns their count.
 */
static int
server_tree(struct dsup *x, pid_t *out, int max)
{
	int n = x->nrelays < RELAYS ? x->nrelays : RELAYS;

	/* Not the relays: what they carry goes to the new server. */
	return x->child || x->d.pid > 0 ? spawn_descendants(x->relays, n,
	    out, max) : 0;
}

/* What its end was, for people. */
static void
end_words(const struct dsup *x, char *buf, size_t size)
{
	if (x->status == -1)
		snprintf(buf, size, "it is gone");
	else if (WIFEXITED(x->status))
		snprintf(buf, size, "exit %d", WEXITSTATUS(x->status));
	else
		snprintf(buf, size, "killed by signal %d",
		    WTERMSIG(x->status));
}

/*
 * The server's listening socket on its port, taken from it with
 * pidfd_getfd (which its parent may), or -1.
 */
static int
grab_listener(struct dsup *x)
{
	unsigned long ino[16];
	struct dirent *e;
	DIR *dir;
	int n, fdn = -1, pfd, s;
	long p = 0;

	errno = ENOENT;		/* no listener of its group found */
	if (!x->child || x->d.port <= 0 ||
	    (n = listeners(x->d.port, ino, NULL, 16)) == 0)
		return -1;
	if ((dir = opendir("/proc")) == NULL)
		return -1;
	while (fdn == -1 && (e = readdir(dir)) != NULL)
		if ((p = strtol(e->d_name, NULL, 10)) > 0 &&
		    pgrp_of((pid_t)p) == x->d.pid)
			fdn = fd_of((pid_t)p, ino, n);
	closedir(dir);
	if (fdn == -1) {
		errno = ENOENT;
		return -1;
	}
	if ((pfd = (int)syscall(SYS_pidfd_open, (pid_t)p, 0)) == -1)
		return -1;
	s = (int)syscall(SYS_pidfd_getfd, pfd, fdn, 0);
	close(pfd);
	return s;
}

/*
 * One connection taken over from a stopping server, relayed to
 * 127.0.0.1:port in a child of its own (this supervisor does not wait
 * on it): bytes both ways until both sides have closed, or a side is
 * idle for RELAY_IDLE seconds.
 */
static pid_t
relay(int c, int port)
{
	struct sockaddr_in a;
	struct pollfd pf[2];
	char buf[16384];
	int s, open[2] = { 1, 1 }, fds[2], i;
	ssize_t n;
	pid_t pid;

	if ((pid = fork()) != 0) {
		close(c);
		return pid;
	}
	/* Nothing of the supervisor's (its locks) but the connection. */
	if (c != 3 && dup2(c, 3) == -1)
		_exit(1);
	c = 3;
	closefrom(4);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((unsigned short)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((s = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    connect(s, (struct sockaddr *)&a, sizeof(a)) == -1)
		_exit(1);
	fds[0] = c;
	fds[1] = s;
	while (open[0] || open[1]) {
		for (i = 0; i < 2; i++) {
			pf[i].fd = open[i] ? fds[i] : -1;
			pf[i].events = POLLIN;
		}
		if (poll(pf, 2, RELAY_IDLE * 1000) <= 0)
			break;
		for (i = 0; i < 2; i++) {
			if (!open[i] || !(pf[i].revents & (POLLIN | POLLHUP |
			    POLLERR)))
				continue;
			if ((n = read(fds[i], buf, sizeof(buf))) <= 0) {
				open[i] = 0;	/* its end: the other's write end */
				shutdown(fds[!i], SHUT_WR);
			} else if (write_all(fds[!i], buf, (size_t)n) == -1)
				_exit(1);
		}
	}
	_exit(0);
}

/*
 * A switch's hand-over.  A listening socket that closes resets the
 * connections still queued on it (uvicorn's shutdown does that), and a
 * proxy answers those 502 or 500.  So the supervisor keeps the server's
 * listening socket open (grab_listener) before the SIGTERM, and until
 * the server has ended (at least HANDOVER seconds, at most kill_grace)
 * accepts what still comes to that port and relays it to port, the
 * deployment replacing it; then it takes what is queued and closes the
 * socket, after which the port refuses and the balancer goes to the
 * other member.  A few microseconds between that last accept and the
 * close are left.  Returns 1 if done, 0 if the socket could not be
 * taken (the plain stop then).
 */
static int
hand_over(struct dsup *x, int port, double until)
{
	double least = mono_now() + HANDOVER;
	pid_t tree[256];
	int l, c, n, relayed = 0;

	if ((l = grab_listener(x)) == -1) {
		say(x, "its listening socket not taken over (%s): stopped "
		    "without a hand-over", strerror(errno));
		return 0;
	}
	fcntl(l, F_SETFL, fcntl(l, F_GETFL) | O_NONBLOCK);
	kill(-x->d.pid, SIGTERM);
	n = server_tree(x, tree, 256);
	spawn_signal(tree, n, SIGTERM);
	for (;;) {
		while ((c = accept4(l, NULL, NULL, SOCK_CLOEXEC)) != -1) {
			x->relays[x->nrelays++ % RELAYS] = relay(c, port);
			relayed++;
		}
		if (mono_now() >= until || (mono_now() >= least &&
		    server_ended(x) && kill(-x->d.pid, 0) == -1))
			break;
		nap(0.005);
	}
	while ((c = accept4(l, NULL, NULL, SOCK_CLOEXEC)) != -1) {
		x->relays[x->nrelays++ % RELAYS] = relay(c, port);
		relayed++;
	}
	close(l);
	if (relayed > 0)
		say(x, "%d connection(s) that came while it stopped relayed "
		    "to :%d", relayed, port);
	return 1;
}

static void	stop_server_to(struct dsup *, int);

/*
 * Stops the server's process group: SIGTERM (it stops accepting and
 * finishes the requests it holds), kill_grace, then SIGKILL to whatever
 * of the group is left.  Nothing of it runs after.
 */
static void
stop_server(struct dsup *x)
{
	stop_server_to(x, 0);
}

/* The same, handing over to port (hand_over) if it is not 0. */
static void
stop_server_to(struct dsup *x, int port)
{
	double until = mono_now() + (double)x->c->kill_grace;
	pid_t g = x->d.pid, tree[256];
	int gone = 0, n;

	if (g <= 0)
		return;
	if (port <= 0 || server_ended(x) || !hand_over(x, port, until)) {
		if (x->child || deployment_running(&x->d))
			kill(-g, SIGTERM);
		n = x->child ? server_tree(x, tree, 256) : 0;
		spawn_signal(tree, n, SIGTERM);
	}
	while (mono_now() < until) {
		if (server_ended(x) && (kill(-g, 0) == -1 && errno == ESRCH) &&
		    (!x->child || server_tree(x, tree, 256) == 0)) {
			gone = 1;
			break;
		}
		nap(0.05);
	}
	if (!gone) {
		say(x, "still running %lds after SIGTERM: SIGKILL",
		    x->c->kill_grace);
		spawn_kill_group(g);
		if (x->child) {
			n = server_tree(x, tree, 256);
			spawn_signal(tree, n, SIGKILL);
			while (!server_ended(x))
				nap(0.01);
		}
	}
	x->d.pid = 0;
	x->d.pid_start = 0;
	x->child = 0;
	x->reaped = 0;
}

/* The end of this supervisor: the record written, the lock let go. */
static void __attribute__((noreturn))
leave(struct dsup *x, int code)
{
	save(x);
	if (x->have_job) {
		trainer_free(&x->t);
		job_close(&x->j);
	}
	deployment_close(&x->d);
	if (x->lock != -1)
		close(x->lock);
	_exit(code);
}

/* Stops it at someone's request (a switch, undeploy): stopped. */
static void __attribute__((noreturn))
stop_self(struct dsup *x)
{
	const char *was = x->d.state;
	struct deployment cur;
	int to = 0;

	x->d.state = DEPLOY_STOPPING;
	save(x);
	say(x, "stopping: %s", x->d.reason);
	/* Replaced: what still comes here goes to the one serving now. */
	if (deployment_current(x->rd, x->d.scope, &cur) == 0) {
		if (strcmp(cur.id, x->d.id) != 0 && cur.port != x->d.port)
			to = cur.port;
		deployment_close(&cur);
	}
	stop_server_to(x, to);
	x->d.state = DEPLOY_STOPPED;
	x->d.ended = time(NULL);
	save(x);
	say(x, "stopped");
	if (was == DEPLOY_STARTING)
		status(x, "error", "not deployed: %s", x->d.reason);
	notify(x, "stopped");
	leave(x, 0);
}

/* Failed: stopped, recorded, said everywhere; the one serving goes on. */
static void __attribute__((noreturn))
fail(struct dsup *x, const char *fmt, ...) __attribute__((format(printf, 2,
    3)));

static void __attribute__((noreturn))
fail(struct dsup *x, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(x->d.reason, sizeof(x->d.reason), fmt, ap);
	va_end(ap);
	stop_server(x);
	x->d.state = DEPLOY_FAILED;
	x->d.ended = time(NULL);
	save(x);
	say(x, "failed: %s", x->d.reason);
	metrics_deploy(x->rd, DEPLOY_FAILED_EV);
	status(x, "failure", "failed on :%d: %s", x->d.port, x->d.reason);
	notify(x, "failed");
	leave(x, 1);
}

/* Starts the server on x->d.port.  Returns 0, or -1 with the reason. */
static int
launch(struct dsup *x, char *why, size_t whylen)
{
	struct strv argv = { NULL, 0 }, env = { NULL, 0 };
	struct child ch;
	size_t i;
	int rc = -1;
	double until = mono_now() + PORT_WAIT;

	if (trainer_deploy_argv(&x->t, &x->j, x->c, x->d.port,
	    x->d.model_name, &argv, why, whylen) == -1)
		return -1;
	/* As ms-swift will: else it would take another port. */
	while (!bindable(x->d.port)) {
		if (mono_now() >= until || stop_asked(x)) {
			snprintf(why, whylen, ":%d is in use", x->d.port);
			strv_free(&argv);
			return -1;
		}
		nap(0.5);
	}
	for (i = 0; x->t.envp[i] != NULL; i++)
		if (strv_setenv(&env, strdup(x->t.envp[i])) == -1)
			goto oom;
	/* One server, not torchrun's; on its GPUs, if it has some. */
	strv_unsetenv(&env, "NPROC_PER_NODE");
	if (x->d.gpus[0] != '\0' && strv_setenv(&env,
	    xprintf("CUDA_VISIBLE_DEVICES=%s", x->d.gpus)) == -1)
		goto oom;
	memset(&ch, 0, sizeof(ch));
	ch.argv = argv.v;
	ch.envp = env.v;
	ch.dir = x->j.dir;
	ch.out = STDERR_FILENO;	/* the deployment's log */
	if (spawn_child(&ch) == -1) {
		snprintf(why, whylen, "cannot %s %s: %s",
		    spawn_stage_name(ch.stage), argv.v[0], strerror(errno));
		goto out;
	}
	x->d.pid = ch.pid;
	x->d.pid_start = proc_starttime(ch.pid);
	x->child = 1;
	x->reaped = 0;
	x->started = mono_now();
	snprintf(x->d.boot_id, sizeof(x->d.boot_id), "%s", sched_boot_id());
	save(x);
	say(x, "started %s on 127.0.0.1:%d%s%s (pid %ld)", argv.v[0],
	    x->d.port, x->d.gpus[0] ? ", GPU " : "", x->d.gpus,
	    (long)ch.pid);
	rc = 0;
	goto out;
oom:
	snprintf(why, whylen, "out of memory");
out:
	strv_free(&argv);
	strv_free(&env);
	return rc;
}

enum health { H_OK, H_DIED, H_TIMEOUT, H_STOP };

/*
 * Polls deploy_health until it answers 200 from the server's own socket,
 * for at most deploy_timeout.  why says what it last saw.
 */
static enum health
await_health(struct dsup *x, char *why, size_t whylen)
{
	double until = mono_now() + (double)x->c->deploy_timeout;
	int code, own;

	snprintf(why, whylen, "nothing listened on :%d", x->d.port);
	while (mono_now() < until) {
		if (stop_asked(x))
			return H_STOP;
		if (server_ended(x))
			return H_DIED;
		code = deploy_http_get(x->d.port, x->c->deploy_health,
		    HEALTH_TIMEOUT);
		if (code == 200) {
			own = deploy_port_owned(x->d.port, x->d.pid, getpid());
			if (own == 1)
				return H_OK;
			snprintf(why, whylen, ":%d answered, but not from this "
			    "deployment's server (swift deploy takes the next "
			    "free port when its own is taken)", x->d.port);
		} else if (code > 0)
			snprintf(why, whylen, "%s answered %d", x->c->deploy_health,
			    code);
		nap(HEALTH_EVERY);
	}
	return H_TIMEOUT;
}

/*
 * Starts the server and waits for its health.  Returns H_OK, or what
 * went wrong (its words in why).
 */
static enum health
bring_up(struct dsup *x, char *why, size_t whylen)
{
	char seen[300], how[64];
	enum health h;
	int moved;

	if (launch(x, why, whylen) == -1)
		return H_DIED;
	switch ((h = await_health(x, seen, sizeof(seen)))) {
	case H_OK:
		break;
	case H_DIED:
		end_words(x, how, sizeof(how));
		snprintf(why, whylen, "it ended (%s) before it was healthy; "
		    "see its log", how);
		x->d.pid = 0;
		x->child = 0;
		break;
	case H_TIMEOUT:
		if ((moved = moved_to(x->d.pid)) > 0 && moved != x->d.port)
			snprintf(why, whylen, "not healthy within %lds: it "
			    "listens on :%d, not :%d (swift deploy takes the "
			    "next free port when its own is in use)",
			    x->c->deploy_timeout, moved, x->d.port);
		else
			snprintf(why, whylen, "not healthy within %lds (%s)",
			    x->c->deploy_timeout, seen);
		break;
	case H_STOP:
		break;
	}
	return h;
}

/* Whether a live deployment of live[] holds port, or gpu group g. */
static int
held_port(const struct deployment *live, int n, int port)
{
	int i;

	for (i = 0; i < n; i++)
		if (live[i].port == port)
			return 1;
	return 0;
}

static int
held_gpus(const struct deployment *live, int n, const char *g)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(live[i].gpus, g) == 0)
			return 1;
	return 0;
}

/*
 * Another deployment stopped (a switch; undeploy): asked of its
 * supervisor, or done here, under its lock, when it has none.  Waits at
 * most kill_grace + 30 s.  Returns 0 once it is not live.
 */
static int
stop_other(struct rundir *rd, struct conf *c, const char *id,
    const char *why)
{
	struct dsup o;
	double until = mono_now() + (double)c->kill_grace + 30;
	int lock;

	memset(&o, 0, sizeof(o));
	o.lock = -1;
	if (deployment_read(rd, id, &o.d) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!deployment_live(o.d.state)) {
		deployment_close(&o.d);
		return 0;
	}
	deployment_request_stop(&o.d, why);
	while (deployment_supervised(&o.d) && mono_now() < until) {
		nap(0.1);
		deployment_close(&o.d);
		if (deployment_read(rd, id, &o.d) == -1)
			return -1;
		if (!deployment_live(o.d.state)) {
			deployment_close(&o.d);
			return 0;
		}
	}
	/* No supervisor: this one does it, under the lock. */
	if ((lock = lock_at(o.d.dirfd, "supervisor.lock", 0640, rd->uid, 2,
	    NULL, NULL)) == -1) {
		deployment_close(&o.d);
		return -1;
	}
	o.rd = rd;
	o.c = c;
	o.lock = lock;
	deployment_close(&o.d);
	if (deployment_read(rd, id, &o.d) == 0 && deployment_live(o.d.state)) {
		snprintf(o.d.reason, sizeof(o.d.reason), "%s", why);
		stop_server(&o);
		o.d.state = DEPLOY_STOPPED;
		o.d.ended = time(NULL);
		save(&o);
		log_line("deployment %s: stopped (%s)", o.d.id, why);
	}
	deployment_close(&o.d);
	close(lock);
	return 0;
}

/*
 * A port of deploy_ports that no live deployment of live[] holds and
 * that can be bound (see bindable), prefer first if it is one: one in
 * TIME_WAIT is waited for, at most PORT_WAIT seconds.  Returns it, or 0.
 */
static int
free_port(struct dsup *x, const struct deployment *live, int n, int prefer)
{
	double until = mono_now() + PORT_WAIT;
	int i, any, said = 0;

	do {
		if (prefer > 0 && bindable(prefer))
			return prefer;
		for (i = 0, any = 0; i < x->c->ndeploy_ports; i++) {
			if (held_port(live, n, x->c->deploy_port[i]))
				continue;
			any = 1;
			if (bindable(x->c->deploy_port[i]))
				return x->c->deploy_port[i];
		}
		if (any && !said++)
			say(x, "waiting for a port of deploy_ports: each is "
			    "held by a deployment or in use (connections in "
			    "TIME_WAIT for a minute after a server stops)");
		if (stop_asked(x))
			stop_self(x);
		nap(0.5);
	} while (any && mono_now() < until);
	return 0;
}

/*
 * The port a restart takes: its own if it can be bound, else another of
 * deploy_ports no live deployment holds (the balancer has them all): a
 * server that died leaves its port in TIME_WAIT for a minute, and
 * ms-swift would silently take another then.
 */
static void
restart_port(struct dsup *x)
{
	struct deployment live[LIVE_MAX];
	int n, p;

	n = deployment_live_list(x->rd, DEPLOY_ANY, x->d.id, live, LIVE_MAX);
	if ((p = free_port(x, live, n, x->d.port)) > 0 && p != x->d.port) {
		say(x, ":%d is still in use: it moves to :%d", x->d.port, p);
		x->d.port = p;
	}
}

/*
 * While it serves: a stop request stops it; a death starts it again
 * (1, 2, 4 ... s apart); after DEPLOY_RESTARTS restarts in a row the
 * next death fails it.
 */
static void __attribute__((noreturn))
watch(struct dsup *x)
{
	char how[64], why[400];
	int row = 0, k;
	enum health h;

	for (;;) {
		while (!server_ended(x)) {
			if (stop_asked(x))
				stop_self(x);
			nap(POLL);
		}
		if (stop_asked(x))
			stop_self(x);
		end_words(x, how, sizeof(how));
		if (x->d.pid > 0)
			kill(-x->d.pid, SIGKILL);	/* what it left behind */
		if (x->child) {
			pid_t tree[256];
			int nt = server_tree(x, tree, 256);

			spawn_signal(tree, nt, SIGKILL);
		}
		x->d.pid = 0;
		x->child = 0;
		if (mono_now() - x->started >= DEPLOY_STABLE)
			row = 0;
		say(x, "its server died (%s)", how);
		for (;;) {
			if (++row > DEPLOY_RESTARTS)
				fail(x, "died %d times in a row (last: %s)",
				    row, how);
			for (k = 0; k < (1 << (row - 1)) * 4; k++) {
				if (stop_asked(x))
					stop_self(x);
				nap(0.25);
			}
			x->d.restarts++;
			metrics_deploy(x->rd, DEPLOY_RESTARTED);
			restart_port(x);
			save(x);
			say(x, "starting it again on :%d (restart %d, %d in a "
			    "row)", x->d.port, x->d.restarts, row);
			if ((h = bring_up(x, why, sizeof(why))) == H_OK)
				break;
			if (h == H_STOP)
				stop_self(x);
			stop_server(x);
			snprintf(how, sizeof(how), "%.63s", why);
			say(x, "restart failed: %s", why);
		}
		say(x, "serving again on :%d", x->d.port);
		status(x, "success", "serving on :%d (restarted %d time%s)",
		    x->d.port, x->d.restarts, x->d.restarts == 1 ? "" : "s");
		notify(x, "restarted");
	}
}

/*
 * The deployments of its scope that serve besides this one (with
 * older_only, those that went live before it: older ids): each finishes
 * what it holds, then stops; after overlap seconds of both serving, so
 * that a balancer that took the new port out while nothing listened
 * there (lighttpd, for its disable-time) has it back.  Ones still
 * starting are left to their own switch.  A new supervisor of a serving
 * one does it too: its switch may have been cut short.
 */
static void
retire(struct dsup *x, int overlap, int older_only)
{
	struct deployment live[LIVE_MAX];
	char why[128];
	int n, i, k;

	n = deployment_live_list(x->rd, x->d.scope, x->d.id, live, LIVE_MAX);
	for (i = k = 0; i < n; i++)
		if (live[i].state != DEPLOY_STARTING && (!older_only ||
		    strcmp(live[i].id, x->d.id) < 0))
			live[k++] = live[i];
	n = k;
	for (k = 0; n > 0 && k < overlap * 10; k++) {
		if (stop_asked(x) || server_ended(x))
			break;
		nap(0.1);
	}
	snprintf(why, sizeof(why), "replaced by %s", x->d.id);
	for (i = 0; i < n; i++) {
		if (stop_other(x->rd, x->c, live[i].id, why) == 0)
			say(x, "%s (job %s, :%d) stopped", live[i].id,
			    live[i].job, live[i].port);
		else
			say(x, "%s (:%d) did not stop", live[i].id,
			    live[i].port);
	}
}

/*
 * A new deployment goes live: the switch lock, a port and GPUs, its
 * server healthy, then the ones serving before it stopped.
 */
static void __attribute__((noreturn))
go_live(struct dsup *x)
{
	struct deployment live[LIVE_MAX], cur;
	char why[512], old[JOB_ID_MAX] = "", gap_job[JOB_ID_MAX] = "";
	const char *scope = x->d.scope;
	int folder, sw, n, i, k, gap = 0;
	enum health h;

	metrics_deploy(x->rd, DEPLOY_STARTED);
	if ((folder = deployment_folder(x->rd, 1)) == -1)
		fail(x, "%s/%s: %s", x->rd->path, DEPLOY_FOLDER,
		    strerror(errno));
	say(x, "waiting for the switch lock");
	sw = lock_at(folder, "switch.lock", 0640, x->rd->uid,
	    (double)x->c->deploy_timeout + 4.0 * (double)x->c->kill_grace +
	    120, stop_cb, x);
	close(folder);
	if (sw == -1 && errno == ECANCELED)
		stop_self(x);
	if (sw == -1)
		fail(x, "switch.lock: %s", errno == ETIMEDOUT ?
		    "another switch held it too long" : strerror(errno));
	n = deployment_live_list(x->rd, DEPLOY_ANY, x->d.id, live, LIVE_MAX);
	if ((x->d.port = free_port(x, live, n, 0)) == 0) {
		for (k = 0, why[0] = '\0'; k < x->c->ndeploy_ports; k++)
			snprintf(why + strlen(why), sizeof(why) - strlen(why),
			    " %d", x->c->deploy_port[k]);
		fail(x, "no free port of deploy_ports (%s): each held by a "
		    "deployment or in use", why + 1);
	}
	if (x->c->deploy_gpus.n > 0) {
		for (i = 0; i < (int)x->c->deploy_gpus.n; i++)
			if (!held_gpus(live, n, x->c->deploy_gpus.v[i]))
				break;
		if (i == (int)x->c->deploy_gpus.n) {
			/* No room for two: the one serving stops first. */
			if (deployment_current(x->rd, scope, &cur) == -1)
				fail(x, "the GPUs of deploy_gpus are all held "
				    "by deployments of other repositories");
			gap = 1;
			snprintf(old, sizeof(old), "%s", cur.id);
			snprintf(gap_job, sizeof(gap_job), "%s", cur.job);
			for (i = 0; i < (int)x->c->deploy_gpus.n; i++)
				if (strcmp(x->c->deploy_gpus.v[i], cur.gpus) == 0)
					break;
			deployment_close(&cur);
			if (i == (int)x->c->deploy_gpus.n)
				fail(x, "the GPUs of deploy_gpus are all held");
			say(x, "one group of deploy_gpus: %s stops first (a "
			    "gap in serving)", old);
			if (stop_other(x->rd, x->c, old, "replaced (its GPUs "
			    "are needed)") == -1)
				fail(x, "could not stop %s for its GPUs", old);
		}
		snprintf(x->d.gpus, sizeof(x->d.gpus), "%s",
		    x->c->deploy_gpus.v[i]);
	}
	save(x);
	status(x, "pending", "starting on :%d", x->d.port);
	h = bring_up(x, why, sizeof(why));
	if (h == H_STOP) {
		close(sw);
		stop_self(x);
	}
	if (h != H_OK) {
		stop_server(x);
		if (gap) {
			/*
			 * It stopped for this one: it serves again, once this
			 * one is recorded failed (else its GPUs look held).
			 */
			char err[256], id[JOB_ID_MAX];

			x->d.state = DEPLOY_FAILED;
			save(x);
			close(sw);
			if (deploy_start(x->rd, x->c, gap_job, old, id, err,
			    sizeof(err)) == 0)
				say(x, "%s serves again as %s", old, id);
			else
				say(x, "%s could not serve again: %s", old, err);
		} else
			close(sw);
		fail(x, "%s", why);
	}
	x->d.state = DEPLOY_SERVING;
	x->d.since = time(NULL);
	x->d.reason[0] = '\0';
	save(x);
	metrics_deploy(x->rd, DEPLOY_SUCCEEDED);
	say(x, "healthy: serving %s on 127.0.0.1:%d", x->d.checkpoint,
	    x->d.port);
	retire(x, DEPLOY_OVERLAP, 0);
	close(sw);
	status(x, "success", "serving on :%d", x->d.port);
	notify(x, "serving");
	watch(x);
}

/*
 * A supervisor for a deployment that has lost its own (adopt): it goes
 * on watching a server that still runs, starts again one that does not,
 * and finishes what a switch or a stop left half done.
 */
static void __attribute__((noreturn))
resume(struct dsup *x)
{
	char why[400];
	enum health h;

	x->child = 0;
	if (x->d.state == DEPLOY_STOPPING || stop_asked(x)) {
		if (x->d.reason[0] == '\0')
			snprintf(x->d.reason, sizeof(x->d.reason), "stopping "
			    "when its supervisor was lost");
		stop_self(x);
	}
	if (x->d.state == DEPLOY_STARTING) {
		if (deployment_running(&x->d))
			stop_server(x);
		fail(x, "its supervisor was lost while it started");
	}
	if (deployment_running(&x->d)) {
		say(x, "a new supervisor watches it (pid %ld)",
		    (long)x->d.pid);
		x->started = mono_now();
		retire(x, 0, 1);
		watch(x);
	}
	say(x, "its server is gone (the machine restarted, or it was "
	    "killed with its supervisor): starting it again");
	x->d.pid = 0;
	x->d.restarts++;
	metrics_deploy(x->rd, DEPLOY_RESTARTED);
	restart_port(x);
	if ((h = bring_up(x, why, sizeof(why))) == H_STOP)
		stop_self(x);
	if (h != H_OK)
		fail(x, "%s", why);
	save(x);
	say(x, "serving again on :%d", x->d.port);
	retire(x, DEPLOY_OVERLAP, 1);
	notify(x, "restarted");
	watch(x);
}

/* Whether port is one of c's deploy_ports. */
static int
our_port(const struct conf *c, int port)
{
	int i;

	for (i = 0; i < c->ndeploy_ports; i++)
		if (c->deploy_port[i] == port)
			return 1;
	return 0;
}

static void __attribute__((noreturn))
supervise(void *arg, int report)
{
	struct dsup *x = arg;
	char id[JOB_ID_MAX];

	(void)report;
	conf_wipe_secret(x->c);
	/* What leaves the server's group still comes here, to be stopped. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		log_line("deployment %s: prctl(PR_SET_CHILD_SUBREAPER): %s",
		    x->d.id, strerror(errno));
	snprintf(id, sizeof(id), "%s", x->d.id);
	deployment_close(&x->d);
	if (deployment_read(x->rd, id, &x->d) == -1)
		_exit(1);
	if ((x->lock = lock_at(x->d.dirfd, "supervisor.lock", 0640,
	    x->rd->uid, 0, NULL, NULL)) == -1)
		_exit(0);	/* another has it */
	deployment_close(&x->d);	/* as it is now, under the lock */
	if (deployment_read(x->rd, id, &x->d) == -1 ||
	    !deployment_live(x->d.state))
		leave(x, 0);
	x->d.supervisor = getpid();
	x->d.supervisor_start = proc_starttime(x->d.supervisor);
	save(x);
	if (job_read(x->rd, x->d.job, &x->j) == -1)
		fail(x, "job %s: %s", x->d.job, strerror(errno));
	x->have_job = 1;
	/* Not from the record, which a trainer may rewrite. */
	conf_model_name(x->c, x->d.repository[0] ? x->d.repository : NULL,
	    x->d.model_name);
	if (x->d.port != 0 && !our_port(x->c, x->d.port))
		fail(x, "port %d is not one of deploy_ports", x->d.port);
	if (trainer_prepare(&x->t, &x->j, x->c) == -1) {
		x->have_job = 0;
		job_close(&x->j);
		fail(x, "out of memory");
	}
	if (x->d.state == DEPLOY_STARTING && x->d.pid == 0)
		go_live(x);
	resume(x);
}

/* Detaches x's supervisor, its output on the deployment's log. */
static int
detach(struct dsup *x, char *err, size_t errlen)
{
	struct detach dt;
	int keep[RUNDIR_FDS + 1], n, logfd, rc;

	if ((logfd = file_open_at(x->d.dirfd, "log", O_WRONLY | O_CREAT |
	    O_APPEND, 0640, x->rd->uid)) == -1) {
		snprintf(err, errlen, "deployment %s: log: %s", x->d.id,
		    strerror(errno));
		return -1;
	}
	memset(&dt, 0, sizeof(dt));
	n = rundir_fds(x->rd, keep);
	keep[n++] = x->d.dirfd;
	dt.keep = keep;
	dt.nkeep = n;
	dt.out = logfd;
	dt.fn = supervise;
	dt.arg = x;
	rc = spawn_detach(&dt, err, errlen);
	close(logfd);
	return rc;
}

int
deploy_start(struct rundir *rd, struct conf *c, const char *job,
    const char *rollback_of, char out[JOB_ID_MAX], char *err, size_t errlen)
{
	struct dsup x;
	struct job j;
	const char *ck;
	char name[128];
	int rc;

	memset(&x, 0, sizeof(x));
	x.rd = rd;
	x.lock = -1;
	if (job_read(rd, job, &j) == -1) {
		snprintf(err, errlen, "job %s: %s", job, strerror(errno));
		return -1;
	}
	c = conf_job(c, j.repository);
	deployment_init(&x.d);
	x.c = c;
	snprintf(x.d.job, sizeof(x.d.job), "%s", j.id);
	snprintf(x.d.repository, sizeof(x.d.repository), "%s",
	    j.repository && repo_name_valid(j.repository) ? j.repository : "");
	snprintf(x.d.scope, sizeof(x.d.scope), "%s", conf_scope(c) ?
	    conf_scope(c) : "");
	snprintf(x.d.branch, sizeof(x.d.branch), "%s", j.branch ? j.branch :
	    "");
	snprintf(x.d.sha, sizeof(x.d.sha), "%s", j.sha && commit_id_valid(
	    j.sha) ? j.sha : "");
	snprintf(x.d.config, sizeof(x.d.config), "%s", j.config ? j.config :
	    "");
	ck = results_checkpoint(&j.results);
	snprintf(x.d.checkpoint, sizeof(x.d.checkpoint), "%s", ck ? ck : "");
	snprintf(x.d.model_name, sizeof(x.d.model_name), "%s",
	    conf_model_name(c, j.repository, name));
	if (rollback_of != NULL)
		snprintf(x.d.rollback_of, sizeof(x.d.rollback_of), "%s",
		    rollback_of);
	if (c->deploy_metric != METRIC_NONE) {
		static const char *const names[] = { "", "eval_loss", "loss",
		    "best_metric" };
		unsigned bit[] = { 0, R_EVAL_LOSS, R_LOSS, R_BEST_METRIC };
		double v[] = { 0, j.results.eval_loss, j.results.loss,
		    j.results.best_metric };

		/* NaN would be read back as 0: none then. */
		if ((j.results.have & bit[c->deploy_metric]) &&
		    !isnan(v[c->deploy_metric])) {
			snprintf(x.d.metric, sizeof(x.d.metric), "%s",
			    names[c->deploy_metric]);
			x.d.value = v[c->deploy_metric];
		}
	}
	job_close(&j);
	if (deployment_create(rd, &x.d, err, errlen) == -1)
		return -1;
	snprintf(out, JOB_ID_MAX, "%s", x.d.id);
	rc = detach(&x, err, errlen);
	if (rc == -1) {
		x.d.state = DEPLOY_FAILED;
		snprintf(x.d.reason, sizeof(x.d.reason), "%s", err);
		deployment_write(&x.d);
	}
	deployment_close(&x.d);
	return rc;
}

/* Whether branch is one of c's deploy_branches (patterns as branches). */
static int
deploy_branch(const struct conf *c, const char *branch)
{
	size_t i;

	for (i = 0; branch != NULL && i < c->deploy_branches.n; i++)
		if (glob_match(c->deploy_branches.v[i], branch))
			return 1;
	return 0;
}

/*
 * deploy_if_better: whether j's metric beats the one serving's.  Says
 * why not in note.
 */
static int
better(struct rundir *rd, const struct conf *c, const struct job *j,
    char *note, size_t notelen)
{
	static const char *const names[] = { "", "eval_loss", "loss",
	    "best_metric" };
	unsigned bit[] = { 0, R_EVAL_LOSS, R_LOSS, R_BEST_METRIC };
	double v[] = { 0, j->results.eval_loss, j->results.loss,
	    j->results.best_metric };
	const char *name = names[c->deploy_metric];
	struct deployment cur;
	char a[32], b[32];
	double mine = v[c->deploy_metric];
	int win;

	if (c->deploy_metric == METRIC_NONE)
		return 1;
	if (!(j->results.have & bit[c->deploy_metric]) || isnan(mine)) {
		snprintf(note, notelen, "not deployed: no %s in its "
		    "logging.jsonl (deploy_if_better)", name);
		return 0;
	}
	if (deployment_current(rd, conf_scope(c), &cur) == -1)
		return 1;	/* none serves: any is better */
	if (strcmp(cur.metric, name) != 0 || isnan(cur.value)) {
		deployment_close(&cur);
		return 1;
	}
	win = c->deploy_max ? mine > cur.value : mine < cur.value;
	if (!win)
		snprintf(note, notelen, "not deployed: %s %s is not better "
		    "than %s of the one serving (job %s)", name,
		    results_format(mine, a), results_format(cur.value, b),
		    cur.job);
	deployment_close(&cur);
	return win;
}

void
deploy_after_job(struct rundir *rd, struct conf *c, struct job *j)
{
	struct trainer t;
	char err[512], id[JOB_ID_MAX], who[JOB_ID_MAX + 8];

	/*
	 * Marked, never recorded: its supervisor ended on the way.  The
	 * deployment it made, or (none made) one now.
	 */
	if (strcmp(j->deploy_note, DEPLOYING) == 0 && j->deployment[0] ==
	    '\0') {
		if (deployment_of_job(rd, j->id, id) == 0) {
			snprintf(j->deployment, sizeof(j->deployment), "%s",
			    id);
			j->deploy_note[0] = '\0';
			return;
		}
		j->deploy_note[0] = '\0';
	}
	if (c->deploy.n == 0 || j->state != JOB_SUCCEEDED ||
	    j->deployment[0] != '\0' || j->deploy_note[0] != '\0' ||
	    !deploy_branch(c, j->branch))
		return;
	if (j->after_state[0] != '\0' && strcmp(j->after_state,
	    JOB_SUCCEEDED) != 0)
		snprintf(j->deploy_note, sizeof(j->deploy_note), "not "
		    "deployed: after_success %s", j->after_state);
	else if (trainer_prepare(&t, j, c) == -1)
		snprintf(j->deploy_note, sizeof(j->deploy_note), "not "
		    "deployed: out of memory");
	else {
		if (trainer_checkpoint(&t, j, err, sizeof(err)) == -1)
			snprintf(j->deploy_note, sizeof(j->deploy_note), "not "
			    "deployed: %s", err);
		trainer_free(&t);
	}
	if (j->deploy_note[0] == '\0')
		(void)better(rd, c, j, j->deploy_note, sizeof(j->deploy_note));
	if (j->deploy_note[0] != '\0') {
		log_line("job %s: %s", j->id, j->deploy_note);
		snprintf(who, sizeof(who), "job %s", j->id);
		post(c, who, j->repository, j->sha, j->id, "failure",
		    j->deploy_note);
		return;
	}
	/* Marked before it starts: a new supervisor never starts it again. */
	snprintf(j->deploy_note, sizeof(j->deploy_note), "%s", DEPLOYING);
	job_write(j);
	if (deploy_start(rd, c, j->id, NULL, id, err, sizeof(err)) == -1) {
		snprintf(j->deploy_note, sizeof(j->deploy_note), "not "
		    "deployed: %s", err);
		log_line("job %s: %s", j->id, j->deploy_note);
		return;
	}
	snprintf(j->deployment, sizeof(j->deployment), "%s", id);
	j->deploy_note[0] = '\0';
	log_line("job %s: deploying as %s", j->id, id);
}

int
deploy_rollback(struct rundir *rd, struct conf *c, const char *scope,
    char out[JOB_ID_MAX], char *err, size_t errlen)
{
	struct deployment prev;
	int rc;

	if (deployment_previous(rd, scope, &prev) == -1) {
		snprintf(err, errlen, "no earlier deployment to roll back to "
		    "(one that served another job, now stopped)");
		return -1;
	}
	rc = deploy_start(rd, c, prev.job, prev.id, out, err, errlen);
	deployment_close(&prev);
	return rc;
}

int
deploy_stop(struct rundir *rd, struct conf *c, const char *id,
    const char *why, char *err, size_t errlen)
{
	struct deployment d;

	if (deployment_read(rd, id, &d) == -1) {
		snprintf(err, errlen, "deployment %s: %s", id, strerror(errno));
		return -1;
	}
	c = conf_job(c, d.repository[0] ? d.repository : NULL);
	deployment_close(&d);
	if (stop_other(rd, c, id, why) == -1 ||
	    deployment_read(rd, id, &d) == -1) {
		snprintf(err, errlen, "deployment %s: %s", id, strerror(errno));
		return -1;
	}
	if (deployment_live(d.state)) {
		snprintf(err, errlen, "deployment %s is still %s", id,
		    d.state);
		deployment_close(&d);
		return -1;
	}
	deployment_close(&d);
	return 0;
}

const char *
deploy_wait(struct rundir *rd, const char *id, double wait,
    struct deployment *d)
{
	double until = mono_now() + wait;

	for (;;) {
		if (deployment_read(rd, id, d) == -1)
			return NULL;
		if (d->state != DEPLOY_STARTING || mono_now() >= until)
			return d->state;
		deployment_close(d);
		nap(0.2);
	}
}

void
deploy_adopt(struct rundir *rd, struct conf *c)
{
	struct deployment live[LIVE_MAX];
	struct dsup x;
	char err[256];
	int n, i;

	n = deployment_live_list(rd, DEPLOY_ANY, NULL, live, LIVE_MAX);
	for (i = 0; i < n; i++) {
		if (deployment_supervised(&live[i]))
			continue;
		memset(&x, 0, sizeof(x));
		x.rd = rd;
		x.lock = -1;
		x.c = conf_job(c, live[i].repository[0] ? live[i].repository :
		    NULL);
		if (deployment_read(rd, live[i].id, &x.d) == -1)
			continue;
		if (detach(&x, err, sizeof(err)) == -1)
			log_line("deployment %s: %s", live[i].id, err);
		deployment_close(&x.d);
	}
}
