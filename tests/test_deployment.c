/*
 * test_deployment: a deployment's record (deployment.h) and what the
 * supervisor asks of a port (deploy.h): written and read back, which one
 * is current and which previous, a stop request, hostile records, and
 * the health poll and the check that a port's listener is the
 * deployment's own.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "deploy.h"
#include "deployment.h"
#include "job.h"
#include "t.h"
#include "fixture.h"

/* A record of the tests', state st, serving job's model since since. */
static int
mk(struct rundir *rd, struct deployment *d, const char *job,
    const char *scope, const char *st, time_t since)
{
	char err[256];

	deployment_init(d);
	snprintf(d->job, sizeof(d->job), "%s", job);
	snprintf(d->scope, sizeof(d->scope), "%s", scope);
	snprintf(d->sha, sizeof(d->sha), "%040d", 7);
	snprintf(d->repository, sizeof(d->repository), "acme/train");
	if (deployment_create(rd, d, err, sizeof(err)) == -1) {
		printf("# %s\n", err);
		return -1;
	}
	d->state = st;
	d->since = since;
	d->port = 8001;
	deployment_write(d);
	usleep(2000);		/* ids are by the millisecond */
	return 0;
}

/* A listening socket on 127.0.0.1 (port into *port), answering 200. */
static pid_t
server(int *port, int code)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	char buf[512], reply[128];
	int fd, c, one = 1;
	pid_t pid;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == -1 ||
	    listen(fd, 8) == -1 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) == -1)
		return -1;
	*port = ntohs(a.sin_port);
	if ((pid = fork()) == 0) {
		setpgid(0, 0);
		for (;;) {
			if ((c = accept(fd, NULL, NULL)) == -1)
				continue;
			(void)!read(c, buf, sizeof(buf));
			snprintf(reply, sizeof(reply), "HTTP/1.1 %d X\r\n"
			    "Content-Length: 0\r\n\r\n", code);
			(void)!write(c, reply, strlen(reply));
			close(c);
		}
	}
	setpgid(pid, pid);
	close(fd);
	return pid;
}

int
main(int argc, char *argv[])
{
	struct deployment a, b, c, d, e, f, got, live[8];
	struct job j;
	char id[JOB_ID_MAX];
	struct rundir rd;
	struct conf cf;
	char path[PATH_MAX], why[256];
	int n, port, port2, fd;
	pid_t srv, srv2;

	(void)argc;
	PLAN(22);
	if (fx_init("deployment", argv[0], NULL) == -1) {
		CHECK(0, "setup", "%s", strerror(errno));
		return t_exit();
	}
	snprintf(path, sizeof(path), "secret = s\nrun_dir = %s/runs\n", fx_top);
	if (fx_setup(&cf, &rd, "conf", path) == -1)
		return t_exit();

	/* Written and read back. */
	mk(&rd, &a, "20261201T000000.000Z-0000001-sft", "", DEPLOY_STOPPED,
	    1000);
	snprintf(a.checkpoint, sizeof(a.checkpoint), "/r/out/checkpoint-4");
	snprintf(a.metric, sizeof(a.metric), "eval_loss");
	a.value = 0.25;
	a.restarts = 2;
	deployment_write(&a);
	CHECK(deployment_read(&rd, a.id, &got) == 0 &&
	    got.state == DEPLOY_STOPPED && got.since == 1000 &&
	    got.port == 8001 && got.restarts == 2 && got.value == 0.25 &&
	    strcmp(got.metric, "eval_loss") == 0 &&
	    strcmp(got.checkpoint, "/r/out/checkpoint-4") == 0 &&
	    strcmp(got.job, a.job) == 0 && got.dirfd != -1,
	    "a record is read back as written", "%s", got.id);
	deployment_close(&got);

	/* Current and previous, per scope. */
	mk(&rd, &b, "20261201T000000.000Z-0000002-sft", "", DEPLOY_FAILED, 0);
	mk(&rd, &c, "20261201T000000.000Z-0000003-sft", "", DEPLOY_SERVING,
	    2000);
	mk(&rd, &d, "20261201T000000.000Z-0000004-sft", "acme/other",
	    DEPLOY_SERVING, 2500);
	mk(&rd, &e, "20261201T000000.000Z-0000005-sft", "", DEPLOY_STARTING,
	    0);
	CHECK(deployment_current(&rd, "", &got) == 0 &&
	    strcmp(got.id, c.id) == 0, "current: the one serving, of its "
	    "repository", "%s", got.id);
	deployment_close(&got);
	CHECK(deployment_current(&rd, "acme/other", &got) == 0 &&
	    strcmp(got.id, d.id) == 0, "a section's current is its own", "%s",
	    got.id);
	deployment_close(&got);
	CHECK(deployment_previous(&rd, "", &got) == 0 &&
	    strcmp(got.id, a.id) == 0, "previous: the newest stopped one that "
	    "served, not a failed one", "%s", got.id);
	deployment_close(&got);
	CHECK(deployment_previous(&rd, "acme/other", &got) == -1,
	    "a section with none before has no previous", "%s", got.id);
	n = deployment_live_list(&rd, "", NULL, live, 8);
	CHECK(n == 2 && strcmp(live[0].id, e.id) == 0 &&
	    strcmp(live[1].id, c.id) == 0 && live[0].dirfd == -1,
	    "live: starting and serving, newest first", "%d", n);
	n = deployment_live_list(&rd, DEPLOY_ANY, e.id, live, 8);
	CHECK(n == 2, "live of every repository, but one", "%d", n);

	/* A stop request, and its words cleaned. */
	CHECK(deployment_stop_requested(&c, why, sizeof(why)) == 0,
	    "no stop asked", "%s", why);
	deployment_request_stop(&c, "replaced\nby \033[2Jx");
	CHECK(deployment_stop_requested(&c, why, sizeof(why)) == 1 &&
	    strcmp(why, "replaced by  [2Jx") == 0, "a stop asked, its words "
	    "without control characters", "\"%s\"", why);

	/* Hostile records. */
	snprintf(path, sizeof(path), "%s/runs/%s/%s/deploy.json", fx_top,
	    DEPLOY_FOLDER, b.id);
	fx_put(path, "{\"state\": \"serving\", \"job\": \"../../etc\", "
	    "\"sha\": \"x; rm\", \"repository\": \"a/b/c\", \"pid\": -5, "
	    "\"port\": 99999, \"rollback_of\": \"/etc\"}", 0640);
	CHECK(deployment_read(&rd, b.id, &got) == 0 && got.job[0] == '\0' &&
	    got.sha[0] == '\0' && got.repository[0] == '\0' && got.pid == 0 &&
	    got.port == 0 && got.rollback_of[0] == '\0',
	    "a rewritten record: no path, sha, repository, pid or port taken "
	    "from it", "job \"%s\" pid %ld port %d", got.job, (long)got.pid,
	    got.port);
	deployment_close(&got);
	unlink(path);
	snprintf(why, sizeof(why), "%s/runs/%s/%s/log", fx_top, DEPLOY_FOLDER,
	    b.id);
	CHECK(symlink(why, path) == 0 && deployment_read(&rd, b.id, &got) ==
	    -1, "deploy.json a symlink: not read", "%s", strerror(errno));
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT, 0640);
	CHECK(fd != -1 && ftruncate(fd, 1 << 20) == 0 &&
	    deployment_read(&rd, b.id, &got) == -1, "deploy.json of 1 MiB: "
	    "not read", "%s", strerror(errno));
	close(fd);
	CHECK(deployment_read(&rd, "../../etc", &got) == -1 && errno == EINVAL,
	    "an id that is a path: refused", "%s", strerror(errno));

	/*
	 * A job's own deployment, not a rollback to it; a job whose
	 * supervisor ended between marking it "deploying" and naming its
	 * deployment names it when its end is taken up again.
	 */
	mk(&rd, &f, a.job, "", DEPLOY_STOPPED, 0);
	snprintf(f.rollback_of, sizeof(f.rollback_of), "%s", a.id);
	deployment_write(&f);
	CHECK(deployment_of_job(&rd, a.job, id) == 0 && strcmp(id, a.id) == 0,
	    "a job's deployment is the one made for its run, not a rollback",
	    "%s", id);
	memset(&j, 0, sizeof(j));
	snprintf(j.id, sizeof(j.id), "%s", a.job);
	j.state = JOB_SUCCEEDED;
	snprintf(j.deploy_note, sizeof(j.deploy_note), "deploying");
	deploy_after_job(&rd, &cf, &j);
	CHECK(strcmp(j.deployment, a.id) == 0 && j.deploy_note[0] == '\0',
	    "a job left \"deploying\" names the deployment it made", "\"%s\" "
	    "\"%s\"", j.deployment, j.deploy_note);
	memset(&j, 0, sizeof(j));
	snprintf(j.id, sizeof(j.id), "20261201T000000.000Z-0000009-sft");
	j.state = JOB_SUCCEEDED;
	snprintf(j.deploy_note, sizeof(j.deploy_note), "deploying");
	deploy_after_job(&rd, &cf, &j);
	CHECK(deployment_of_job(&rd, j.id, id) == -1 && j.deployment[0] ==
	    '\0' && j.deploy_note[0] == '\0', "one that made none (and "
	    "deploys no more) says nothing", "\"%s\" \"%s\"", j.deployment,
	    j.deploy_note);

	/* The health poll and whose listener a port is. */
	srv = server(&port, 200);
	srv2 = server(&port2, 503);
	usleep(100000);
	CHECK(deploy_http_get(port, "/health", 2) == 200, "a health poll "
	    "answered 200", "port %d", port);
	CHECK(deploy_http_get(port2, "/health", 2) == 503, "one answered "
	    "503", "port %d", port2);
	kill(srv2, SIGKILL);
	waitpid(srv2, NULL, 0);
	usleep(100000);
	CHECK(deploy_http_get(port2, "/health", 2) == -1 &&
	    errno == ECONNREFUSED, "nothing listens: refused", "%s",
	    strerror(errno));
	CHECK(deploy_port_owned(port, srv, 0) == 1, "the port's listener is "
	    "the deployment's process group's", "port %d pgid %ld", port,
	    (long)srv);
	CHECK(deploy_port_owned(port, getpid(), 0) == 0, "and not another "
	    "group's (swift deploy moved, something else answers)", "port %d",
	    port);
	CHECK(deploy_port_owned(port2, srv, 0) == -1, "a port where nothing "
	    "listens", "port %d", port2);
	kill(srv, SIGKILL);
	waitpid(srv, NULL, 0);
	rundir_close(&rd);
	conf_free(&cf);
	fx_done();
	return t_exit();
}
