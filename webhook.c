/*
 * webhook.c: swift-webhook's entry point, the request loop and the answers.
 *
 * Without arguments it is the responder: FastCGI when the web server
 * started it on a socket (fd 0), else one CGI request (RFC 3875).  With
 * arguments it is a tool for people (see usage()).
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "conf.h"
#include "delivery.h"
#include "lifecycle.h"
#include "cli.h"
#include "metrics.h"
#include "status.h"
#include "spawn.h"

extern char **environ;

/* One request, whichever protocol brought it. */
struct io {
	FCGX_Request	*fcgi;		/* NULL in CGI mode */
	size_t		 consumed;	/* body bytes read so far */
};

static const char *
param(struct io *io, const char *name)
{
	if (io->fcgi != NULL)
		return FCGX_GetParam(name, io->fcgi->envp);
	return getenv(name);
}

static ssize_t
body_read(void *ctx, char *buf, size_t len)
{
	struct io *io = ctx;
	ssize_t n;

	if (len > (1 << 30))
		len = 1 << 30;
	if (io->fcgi != NULL) {
		n = FCGX_GetStr(buf, (int)len, io->fcgi->in);
		return FCGX_GetError(io->fcgi->in) != 0 ? -1 : n;
	}
	do
		n = read(STDIN_FILENO, buf, len);
	while (n == -1 && errno == EINTR);
	if (n > 0)
		io->consumed += n;
	return n;
}

/*
 * CGI only: reads and discards what is left of the body (at most max
 * bytes in all) before an early answer.  A CGI program that exits with
 * the body unread makes Apache's mod_cgid reset the connection, and the
 * client never sees the answer.
 */
static void
drain_body(struct io *io, const char *content_length, size_t max)
{
	unsigned long long cl;
	char buf[65536], *end;
	size_t want = max;
	ssize_t n;

	if (io->fcgi != NULL)
		return;		/* libfcgi reads the rest of the stream */
	if (content_length != NULL && *content_length != '\0') {
		errno = 0;
		cl = strtoull(content_length, &end, 10);
		if (errno == 0 && *end == '\0' && cl < want)
			want = (size_t)cl;
	}
	while (io->consumed < want && (n = body_read(io, buf,
	    want - io->consumed < sizeof(buf) ? want - io->consumed :
	    sizeof(buf))) > 0)
		;
}

static void
out(struct io *io, const char *s, size_t len)
{
	ssize_t n;

	if (io->fcgi != NULL) {
		FCGX_PutStr(s, (int)len, io->fcgi->out);
		return;
	}
	while (len > 0) {
		if ((n = write(STDOUT_FILENO, s, len)) == -1) {
			if (errno == EINTR)
				continue;
			return;
		}
		s += n;
		len -= n;
	}
}

/*
 * One line on the web server's error log: FastCGI's stderr stream during a
 * request (whole in one record), else fd 2.  One write, so lines of
 * parallel processes do not mix.
 */
static void
logline(struct io *io, const char *line)
{
	if (io != NULL && io->fcgi != NULL) {
		/* Sent with the end of the request: one record, one write. */
		FCGX_PutS(line, io->fcgi->err);
	} else
		(void)!write(STDERR_FILENO, line, strlen(line));
}

static void
respond(struct io *io, const struct reply *rp)
{
	char head[256], *body;
	int n;

	if ((body = cJSON_PrintUnformatted(rp->json)) == NULL)
		body = strdup("{\"status\":\"error\"}");
	n = snprintf(head, sizeof(head),
	    "Status: %d %s\r\n"
	    "Content-Type: application/json\r\n"
	    "Cache-Control: no-store\r\n"
	    "%s"
	    "\r\n", rp->status, http_reason(rp->status),
	    rp->status == 405 ? "Allow: POST\r\n" : "");
	out(io, head, n);
	if (body != NULL) {
		out(io, body, strlen(body));
		out(io, "\n", 1);
	}
	free(body);
}

/*
 * Appends key=value to a logfmt line: quoted, with '"' and '\' escaped,
 * when the value is empty or holds a space, '=', '"' or '\'; bytes that
 * are not printable ASCII become '?'.
 */
static void
logfmt(char *line, size_t size, const char *key, const char *v, int quote)
{
	size_t n = strlen(line);
	const char *p;

	for (p = v; !quote && *p != '\0'; p++)
		quote = *p == ' ' || *p == '=' || *p == '"' || *p == '\\';
	n += snprintf(line + n, n < size ? size - n : 0, "%s%s=%s",
	    n ? " " : "", key, quote || *v == '\0' ? "\"" : "");
	for (p = v; *p != '\0' && n + 3 < size; p++) {
		if (*p == '"' || *p == '\\')
			line[n++] = '\\';
		line[n++] = *p >= 0x20 && *p < 0x7f ? *p : '?';
	}
	if ((quote || *v == '\0') && n + 1 < size)
		line[n++] = '"';
	line[n < size ? n : size - 1] = '\0';
}

static void
log_reply(struct io *io, const struct reply *rp)
{
	char line[2048] = "", status[8];
	size_t n;

	snprintf(status, sizeof(status), "%d", rp->status);
	logfmt(line, sizeof(line) - 2, "swift-webhook: delivery",
	    rp->delivery, 0);
	logfmt(line, sizeof(line) - 2, "event", rp->event, 0);
	logfmt(line, sizeof(line) - 2, "repo", rp->repository, 0);
	logfmt(line, sizeof(line) - 2, "ref", rp->ref, 0);
	logfmt(line, sizeof(line) - 2, "sha", rp->sha, 0);
	logfmt(line, sizeof(line) - 2, "status", status, 0);
	logfmt(line, sizeof(line) - 2, "decision", rp->decision, 0);
	logfmt(line, sizeof(line) - 2, "jobs", rp->jobs[0] ? rp->jobs : "-",
	    0);
	logfmt(line, sizeof(line) - 2, "reason", rp->reason, 1);
	n = strlen(line);
	line[n++] = '\n';
	line[n] = '\0';
	logline(io, line);
}

/* GET or HEAD .../metrics: the Prometheus exposition. */
static void
serve_metrics(struct io *io, struct conf *c, const char *method)
{
	char head[256], err[512];
	struct rundir rd;
	char *body = NULL;
	size_t len = 0;
	int status = 200, n;

	if (method == NULL || (strcmp(method, "GET") != 0 &&
	    strcmp(method, "HEAD") != 0))
		status = 405;
	else if (c == NULL)
		status = 500;
	else if (rundir_open(&rd, c->run_dir, 0, err, sizeof(err)) == -1) {
		status = 500;
		logline(io, "swift-webhook: metrics: run directory unusable\n");
	} else {
		if ((body = metrics_render(&rd, c, &len)) == NULL)
			status = 500;
		rundir_close(&rd);
	}
	n = snprintf(head, sizeof(head), "Status: %d %s\r\n"
	    "Content-Type: %s\r\nCache-Control: no-store\r\n%s\r\n", status,
	    http_reason(status), status == 200 ?
	    "text/plain; version=0.0.4; charset=utf-8" : "text/plain",
	    status == 405 ? "Allow: GET, HEAD\r\n" : "");
	out(io, head, n);
	if (status == 200 && strcmp(method, "HEAD") != 0)
		out(io, body, len);
	else if (status != 200) {
		out(io, http_reason(status), strlen(http_reason(status)));
		out(io, "\n", 1);
	}
	free(body);
}

/* GET or HEAD of the status page's routes (status.h). */
static void
serve_status(struct io *io, struct conf *c, const char *method,
    const char *path)
{
	struct page pg = { .status = 500, .type = "text/plain" };
	char head[512], err[512];
	struct rundir rd;
	int n, get;

	get = method != NULL && (strcmp(method, "GET") == 0 ||
	    strcmp(method, "HEAD") == 0);
	if (get && c != NULL &&
	    rundir_open(&rd, c->run_dir, 0, err, sizeof(err)) == 0) {
		status_render(&rd, c, path, param(io, "QUERY_STRING"), &pg);
		rundir_close(&rd);
	} else if (!get)
		pg.status = 405;
	n = snprintf(head, sizeof(head), "Status: %d %s\r\n"
	    "Content-Type: %s\r\nCache-Control: no-store\r\n"
	    "Content-Security-Policy: default-src 'none'; "
	    "style-src 'unsafe-inline'; img-src 'self' data:; "
	    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'\r\n"
	    "X-Content-Type-Options: nosniff\r\n%s%s\r\n", pg.status,
	    http_reason(pg.status), pg.body != NULL ? pg.type : "text/plain",
	    pg.status == 405 ? "Allow: GET, HEAD\r\n" : "", pg.refresh > 0 ?
	    "Refresh: 10\r\n" : "");
	out(io, head, n);
	if (pg.body != NULL && strcmp(method, "HEAD") != 0)
		out(io, pg.body, pg.len);
	else if (pg.body == NULL) {
		out(io, http_reason(pg.status), strlen(http_reason(pg.status)));
		out(io, "\n", 1);
	}
	free(pg.body);
}

/*
 * Serves one request.  Returns how often what follows it may tick
 * (lifecycle_tick: the caller calls look() once it has answered): every
 * LOOK_TICK seconds after a look (the status page, /metrics), every
 * DELIVERY_TICK after a delivery whose signature held, else 0 (never).
 */
static int
serve(struct io *io, struct conf *c, const char *conf_err)
{
	const char *path = param(io, "PATH_INFO");
	struct request rq;
	struct reply rp;
	struct conf *s;
	int tick;

	static const char notfound[] = "Status: 404 Not Found\r\n"
	    "Content-Type: text/plain\r\n\r\nNot Found\n";

	if (path != NULL && *path != '\0') {
		io->consumed = 0;
		drain_body(io, param(io, "CONTENT_LENGTH"), c != NULL ?
		    c->max_body : MAX_BODY_DEFAULT);
		if (strcmp(path, "/metrics") == 0)
			serve_metrics(io, c, param(io, "REQUEST_METHOD"));
		else if (status_route(path))
			serve_status(io, c, param(io, "REQUEST_METHOD"), path);
		else {
			out(io, notfound, sizeof(notfound) - 1);
			return 0;
		}
		return LOOK_TICK;
	}
	memset(&rq, 0, sizeof(rq));	/* no field left to chance (dry) */
	rq.method = param(io, "REQUEST_METHOD");
	rq.content_type = param(io, "CONTENT_TYPE");
	rq.content_length = param(io, "CONTENT_LENGTH");
	rq.event = param(io, "HTTP_X_GITHUB_EVENT");
	rq.delivery = param(io, "HTTP_X_GITHUB_DELIVERY");
	rq.signature = param(io, "HTTP_X_HUB_SIGNATURE_256");
	rq.read = body_read;
	rq.ctx = io;
	io->consumed = 0;
	delivery_handle(c, conf_err, &rq, &rp);
	drain_body(io, rq.content_length, c != NULL ? c->max_body :
	    MAX_BODY_DEFAULT);
	respond(io, &rp);
	log_reply(io, &rp);
	/* Counted apart for a configured repository: never a name's own. */
	s = c != NULL && c->nsections > 0 ? conf_section(c, rp.repository) :
	    NULL;
	metrics_delivery(c != NULL ? c->run_dir : NULL, rp.status,
	    rp.decision, s != NULL ? s->name : NULL);
	/* Not for what anyone may send: only a signed delivery ticks. */
	tick = rp.status >= 200 && rp.status < 300 ? DELIVERY_TICK : 0;
	reply_free(&rp);
	return tick;
}

/*
 * After a look or a delivery has been answered: what the look saw is
 * acted on (lifecycle_tick, at most every that many seconds), so that
 * the queue never waits for a delivery and a job whose supervisor died
 * is taken over.  Never on a delivery's answer path.
 */
static void
look(struct conf *c, int every)
{
	struct rundir rd;
	char err[512];

	if (c == NULL || rundir_open(&rd, c->run_dir, 0, err,
	    sizeof(err)) == -1)
		return;
	lifecycle_tick(&rd, c, every);
	rundir_close(&rd);
}

/*
 * fds 0-2 open, so that nothing opened later lands on them (slowcgi does
 * the same); SIGPIPE ignored for writes to a client that left; SIGCHLD at
 * its default so that waitpid() sees the children we fork; large buffers
 * returned to the system.
 */
static void
setup_process(void)
{
	int fd;

	for (fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) == -1 && errno == EBADF &&
		    open("/dev/null", O_RDWR) != fd)
			_exit(1);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	/*
	 * A fixed threshold (which turns glibc's sliding one off): every
	 * buffer of a MiB or more, a 25 MB body, is its own mapping and goes
	 * back to the system when freed, so a responder that saw a large
	 * push does not keep its size for good.
	 */
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
}

static int
responder(void)
{
	FCGX_Request req;
	struct conf c;
	struct io io = { NULL, 0 };
	char err[1024], line[1200];
	int ok, every;

	ok = conf_load(&c, NULL, err, sizeof(err)) == 0;
	if (!FCGX_IsCGI()) {
		if (!ok) {
			snprintf(line, sizeof(line), "swift-webhook: config: "
			    "%s\n", err);
			logline(NULL, line);
		}
		if (FCGX_Init() != 0 || FCGX_InitRequest(&req, 0, 0) != 0) {
			logline(NULL, "swift-webhook: FCGX_Init failed\n");
			return 1;
		}
		io.fcgi = &req;
		while (FCGX_Accept_r(&req) >= 0) {
			every = serve(&io, ok ? &c : NULL, err);
			FCGX_Finish_r(&req);
			if (every > 0)
				look(ok ? &c : NULL, every);
		}
	} else {
		/*
		 * libfcgi's handlers (SIGTERM sets a flag, reads retry)
		 * would keep a stuck CGI process alive: a web server's
		 * timeout must end it.
		 */
		signal(SIGTERM, SIG_DFL);
		signal(SIGUSR1, SIG_DFL);
		if ((every = serve(&io, ok ? &c : NULL, err)) > 0) {
			/* The answer is complete once stdout is closed. */
			fflush(stdout);
			dup2(2, 1);
			look(ok ? &c : NULL, every);
		}
	}
	if (ok)
		conf_free(&c);
	return 0;
}

int
main(int argc, char *argv[])
{
	setup_process();
	conf_take_env_secret();
	/*
	 * Arguments, or a person at a terminal (no web server runs a
	 * responder on one): the commands, or their usage.
	 */
	if (argc > 1 || (isatty(STDIN_FILENO) &&
	    getenv("GATEWAY_INTERFACE") == NULL))
		return cli_main(argc, argv);
	if (spawn_init(environ) == -1) {
		logline(NULL, "swift-webhook: out of memory\n");
		return 1;
	}
	return responder();
}
