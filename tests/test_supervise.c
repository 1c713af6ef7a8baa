/*
 * test_supervise.c: the supervisor, driven in process with real
 * processes: its end (record, results, the kick it was given, notify), a
 * stop (SIGTERM to the group, SIGKILL after kill_grace), max_runtime, the
 * commit status children it leaves to nobody, a job that ended before
 * its supervisor took it, and the Slurm supervisor following fake
 * squeue/sacct answers (tests/fake-tool) through a change of pending
 * reason to the job's end, and a record it cannot write.
 */
#include <dirent.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

#include "t.h"
#include "fixture.h"
#include "job.h"
#include "lifecycle.h"
#include "metrics.h"
#include "rundir.h"
#include "supervise.h"

#define PLANNED	36

extern char **environ;

/*
 * Fault injection: with fail_job_json set, a child of ours (a supervisor)
 * cannot rename anything over a job.json, as on a disk that is full.
 */
static pid_t main_pid;
static int fail_job_json;

int
renameat(int olddirfd, const char *oldpath, int newdirfd,
    const char *newpath)
{
	if (fail_job_json && getpid() != main_pid &&
	    strcmp(newpath, "job.json") == 0) {
		errno = ENOSPC;
		return -1;
	}
	return (int)syscall(SYS_renameat2, olddirfd, oldpath, newdirfd,
	    newpath, 0);
}

static int nsha;

/* A new job of config, created and recorded queued, its trainer ready. */
static int
mkjob(struct rundir *rd, struct conf *c, struct job *j,
    struct supervisor *sv, const char *config)
{
	static char shas[16][41];
	char err[256];

	memset(sv, 0, sizeof(*sv));
	nsha++;
	snprintf(shas[nsha % 16], 41, "%040d", nsha);
	fx_job(j, shas[nsha % 16], config);
	if (job_create(rd, j, err, sizeof(err)) == -1 ||
	    trainer_prepare(&sv->t, j, c) == -1) {
		printf("# mkjob: %s\n", err);
		return -1;
	}
	j->argv = sv->t.argv;
	return job_write(j);
}

/* The kick a supervisor is given: leaves a mark, for the test to see. */
static void
kicked(struct rundir *rd, struct conf *c)
{
	char path[PATH_MAX];

	(void)rd, (void)c;
	fx_put(fx_path(path, "kicked"), "kicked\n", 0644);
}

/* job.json of j, read now (to free). */
static char *
record_of(const struct job *j)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/job.json", j->dir);
	return fx_read(path);
}

/* Whether j's job.json says needle within secs. */
static int
recorded(const struct job *j, const char *needle, int secs)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/job.json", j->dir);
	return fx_await(path, needle, secs);
}

/* The "supervisor" pid of j's job.json, once it is there. */
static pid_t
supervisor_of(const struct job *j)
{
	char *s = record_of(j), *p;
	pid_t pid = 0;

	if (s != NULL && (p = strstr(s, "\"supervisor\":")) != NULL)
		pid = (pid_t)strtol(p + 13, NULL, 10);
	free(s);
	return pid;
}

/* How many zombies pid has as children now. */
static int
zombies_of(pid_t pid)
{
	char path[300], *s, *e;
	struct dirent *de;
	DIR *d;
	int n = 0;

	if ((d = opendir("/proc")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if ((s = fx_read(path)) == NULL)
			continue;
		/* "pid (comm) S ppid ...": after the last ')'. */
		if ((e = strrchr(s, ')')) != NULL && e[1] == ' ' &&
		    e[2] == 'Z' && strtol(e + 4, NULL, 10) == pid)
			n++;
		free(s);
	}
	closedir(d);
	return n;
}

static void
test_end(struct rundir *rd, struct conf *c)
{
	struct slots none = { .n = 0 };
	struct supervisor sv;
	char err[512], path[PATH_MAX], want[256], *s;
	struct job j;
	int r;

	unlink(fx_path(path, "kicked"));
	if (mkjob(rd, c, &j, &sv, "configs/quick.yaml") == -1) {
		CHECK(0, "end: setup", "mkjob");
		return;
	}
	sv.kick = kicked;
	r = supervise_start(&sv, rd, &j, c, &none, err, sizeof(err));
	CHECK(r == 0 && j.state == JOB_RUNNING && j.pid > 0,
	    "end: the supervisor reports its trainer running", "r=%d %s", r,
	    err);
	CHECK(recorded(&j, "\"succeeded\"", 10) && recorded(&j,
	    "\"last_model_checkpoint\"", 1), "end: recorded succeeded, with "
	    "the results of its logging.jsonl", "%s", (s = record_of(&j)));
	CHECK(fx_await(fx_path(path, "kicked"), "kicked", 5),
	    "end: its slots go to the queue through the kick it was given",
	    "no kick");
	snprintf(want, sizeof(want), "%s succeeded 0", j.id);
	CHECK(fx_await(fx_path(path, "notified"), want, 5),
	    "end: notify runs with JOB_STATE and JOB_EXIT", "no \"%s\"", want);
	free(s);
	trainer_free(&sv.t);
	job_close(&j);
}

/* A stop request: SIGTERM to the group, SIGKILL after kill_grace. */
static void
test_stop(struct rundir *rd, struct conf *c)
{
	struct slots none = { .n = 0 };
	struct supervisor sv;
	char err[512], path[PATH_MAX], *s;
	struct job j;
	int r;

	if (mkjob(rd, c, &j, &sv, "configs/stubborn.yaml") == -1) {
		CHECK(0, "stop: setup", "mkjob");
		return;
	}
	r = supervise_start(&sv, rd, &j, c, &none, err, sizeof(err));
	CHECK(r == 0 && j.pid > 0, "stop: a trainer that ignores SIGTERM "
	    "runs", "r=%d %s", r, err);
	/* Once it is sure to ignore SIGTERM (not before its trap). */
	snprintf(path, sizeof(path), "%s/ready", j.dir);
	CHECK(fx_await(path, "ready", 10), "stop: the trainer set its trap",
	    "no %s", path);
	job_request_stop(&j, JOB_CANCELLED);
	CHECK(recorded(&j, "\"cancelled\"", 10), "stop: recorded cancelled",
	    "%s", (s = record_of(&j)));
	free(s);
	snprintf(path, sizeof(path), "%s/log", j.dir);
	CHECK(fx_await(path, "SIGTERM to every process of the job", 1) &&
	    fx_await(path, "SIGKILL to ", 1), "stop: "
	    "SIGTERM, then "
	    "SIGKILL after kill_grace", "%s", (s = fx_read(path)));
	free(s);
	CHECK(j.pid > 0 && kill(-j.pid, 0) == -1 && errno == ESRCH,
	    "stop: nothing of its group is left", "group %ld",
	    (long)j.pid);
	snprintf(path, sizeof(path), "%s/term", j.dir);
	s = fx_read(path);
	CHECK(s != NULL && strcmp(s, "TERM\n") == 0, "stop: SIGTERM once, "
	    "not once for its group and again for itself", "%s", s ? s : "");
	free(s);
	trainer_free(&sv.t);
	job_close(&j);
}

/*
 * A trainer that exits 0 and leaves a process, in a session of its own,
 * that ignores SIGTERM: SIGKILL after kill_grace, the job succeeded with
 * a note that says so, and nothing of it left.
 */
static void
test_leftover(struct rundir *rd, struct conf *c)
{
	struct slots none = { .n = 0 };
	struct supervisor sv;
	char err[512], path[PATH_MAX], *s, *left;
	struct job j;
	long pid = 0;
	int r;

	if (mkjob(rd, c, &j, &sv, "configs/leaves.yaml") == -1) {
		CHECK(0, "leftover: setup", "mkjob");
		return;
	}
	r = supervise_start(&sv, rd, &j, c, &none, err, sizeof(err));
	CHECK(r == 0 && recorded(&j, "\"succeeded\"", 15) && recorded(&j,
	    "\"the trainer left 1 process running; stopped\"", 1),
	    "leftover: succeeded, with a note of what it left", "r=%d %s", r,
	    (s = record_of(&j)));
	free(s);
	snprintf(path, sizeof(path), "%s/log", j.dir);
	CHECK(fx_await(path, "SIGKILL to 1 process(es) after 1s", 1),
	    "leftover: one that ignores SIGTERM gets SIGKILL after "
	    "kill_grace", "%s", (s = fx_read(path)));
	free(s);
	snprintf(path, sizeof(path), "%s/left", j.dir);
	if ((left = fx_read(path)) != NULL)
		pid = strtol(left, NULL, 10);
	CHECK(pid > 0 && kill((pid_t)pid, 0) == -1 && errno == ESRCH,
	    "leftover: it is gone", "pid %ld", pid);
	free(left);
	trainer_free(&sv.t);
	job_close(&j);
}

static void
test_max_runtime(struct rundir *rd, struct conf *c)
{
	struct slots none = { .n = 0 };
	struct supervisor sv;
	struct conf quick = *c;
	char err[512], *s;
	struct job j;
	int r;

	quick.max_runtime = 1;
	if (mkjob(rd, &quick, &j, &sv, "configs/sleep.yaml") == -1) {
		CHECK(0, "max_runtime: setup", "mkjob");
		return;
	}
	r = supervise_start(&sv, rd, &j, &quick, &none, err, sizeof(err));
	CHECK(r == 0 && recorded(&j, "\"timeout\"", 10), "max_runtime: "
	    "a trainer past it ends timeout", "r=%d %s", r,
	    (s = record_of(&j)));
	free(s);
	CHECK(recorded(&j, "\"stopped: max_runtime (1s) passed\"", 1),
	    "max_runtime: the record says why", "%s", (s = record_of(&j)));
	free(s);
	trainer_free(&sv.t);
	job_close(&j);
}

/*
 * Commit statuses are posted by processes nobody waits for: none of them
 * is left a zombie of the supervisor while its trainer runs.
 */
static void
test_no_zombies(struct rundir *rd, struct conf *c)
{
	struct slots none = { .n = 0 };
	struct supervisor sv;
	struct conf posting = *c;
	char err[512], path[PATH_MAX], token[PATH_MAX];
	struct job j;
	pid_t sup;
	int r, z;

	fx_put(fx_path(token, "token"), "ghp_test\n", 0600);
	posting.github_token_file = token;
	fx_tool("curl", "{}\nswift-webhook-http-code 201\n", 0);
	if (mkjob(rd, &posting, &j, &sv, "configs/sleep3.yaml") == -1) {
		CHECK(0, "no zombies: setup", "mkjob");
		return;
	}
	r = supervise_start(&sv, rd, &j, &posting, &none, err, sizeof(err));
	sup = supervisor_of(&j);
	CHECK(r == 0 && sup > 0, "no zombies: the job runs", "r=%d %s", r,
	    err);
	snprintf(path, sizeof(path), "%s/status", j.dir);
	CHECK(fx_await(path, "pending running", 5), "no zombies: its "
	    "\"running\" status was posted", "no status file");
	usleep(500000);
	z = zombies_of(sup);
	CHECK(z == 0, "no zombies: the posts left no zombie of the "
	    "supervisor", "%d zombie(s) of %ld", z, (long)sup);
	CHECK(recorded(&j, "\"succeeded\"", 10), "no zombies: the job ends",
	    "not succeeded");
	trainer_free(&sv.t);
	job_close(&j);
}

/*
 * A job that a cancel ended (it found it lost, in the moment between the
 * queue and its supervisor) before the supervisor took its writer lock:
 * the supervisor leaves it as recorded and starts nothing.
 */
static void
test_ended_first(struct rundir *rd, struct conf *c)
{
	struct slots none = { .n = 0 };
	struct supervisor sv;
	char err[512], path[PATH_MAX], *s;
	struct job j;
	int r;

	unlink(fx_path(path, "kicked"));
	if (mkjob(rd, c, &j, &sv, "configs/quick.yaml") == -1) {
		CHECK(0, "ended first: setup", "mkjob");
		return;
	}
	j.state = JOB_CANCELLED;
	j.finished = time(NULL);
	job_write(&j);
	j.state = JOB_QUEUED;		/* what the kick read, before */
	j.finished = 0;
	sv.kick = kicked;
	r = supervise_start(&sv, rd, &j, c, &none, err, sizeof(err));
	CHECK(r == 0 && j.state == JOB_CANCELLED && j.pid == 0,
	    "ended first: the supervisor reports it ended, no trainer",
	    "r=%d state %s pid %ld %s", r, j.state, (long)j.pid, err);
	CHECK(fx_await(fx_path(path, "kicked"), "kicked", 5),
	    "ended first: its slots go on to the queue", "no kick");
	usleep(500000);
	snprintf(path, sizeof(path), "%s/output", j.dir);
	CHECK(access(path, F_OK) == -1 && recorded(&j, "\"cancelled\"", 1),
	    "ended first: it stays cancelled and its trainer never ran",
	    "%s", (s = record_of(&j)));
	free(s);
	trainer_free(&sv.t);
	job_close(&j);
}

/* The value of the line that starts with name in an exposition, or -1. */
static long
metric(const char *text, const char *name)
{
	const char *p;

	for (p = text; (p = strstr(p, name)) != NULL; p++)
		if (p == text || p[-1] == '\n')
			return strtol(p + strlen(name), NULL, 10);
	return -1;
}

/*
 * backend = slurm: submitted with sbatch; a change of Slurm's pending
 * reason is recorded and posted; /metrics counts it while it waits and
 * runs; sacct's end is its end.
 */
static void
test_slurm_follow(struct rundir *rd, struct conf *c)
{
	char err[512], other[JOB_ID_MAX], path[PATH_MAX], *s = NULL, *m;
	struct job j;
	size_t len;
	int r;

	fx_tool("sbatch", "4242\n", 0);
	fx_tool("squeue", "PENDING|Priority|(null)|N/A\n", 0);
	fx_tool("sacct", "", 0);
	fx_job(&j, "5555555555555555555555555555555555555555",
	    "configs/quick.yaml");
	j.delivery = "d-slurm";
	r = lifecycle_start(rd, c, &j, 1, other, err, sizeof(err));
	CHECK(r == JOB_STARTED && recorded(&j, "\"slurm: Priority\"", 10) &&
	    recorded(&j, "\"slurm_job_id\":\t4242", 1), "slurm: submitted, "
	    "pending for Priority", "r=%d %s %s", r, err, (s = record_of(&j)));
	free(s);
	m = metrics_render(rd, c, &len);
	CHECK(m != NULL && metric(m, "swift_webhook_jobs{state=\"queued\"} ") ==
	    1 && metric(m, "swift_webhook_queue_length ") == 1, "slurm: "
	    "/metrics counts the pending job", "%s", m ? m : "");
	free(m);
	fx_tool("squeue", "PENDING|Resources|(null)|N/A\n", 0);
	CHECK(recorded(&j, "\"slurm: Resources\"", 10), "slurm: a new pending "
	    "reason is recorded", "%s", (s = record_of(&j)));
	free(s);
	CHECK(fx_await(fx_path(path, "fake/curl.stdin"), "queued: slurm: "
	    "Resources", 10), "slurm: and posted as the commit status",
	    "%s", (s = fx_read(path)));
	free(s);
	fx_tool("squeue", "RUNNING|None|n1|2026-11-30T10:00:00\n", 0);
	CHECK(recorded(&j, "\"running\"", 10) && recorded(&j,
	    "\"slurm_nodes\":\t\"n1\"", 1), "slurm: running on n1",
	    "%s", (s = record_of(&j)));
	free(s);
	m = metrics_render(rd, c, &len);
	CHECK(m != NULL && metric(m, "swift_webhook_jobs{state=\"running\"} ") ==
	    1 && metric(m, "swift_webhook_jobs{state=\"queued\"} ") == 0,
	    "slurm: /metrics counts it running", "%s", m ? m : "");
	free(m);
	/* A state this version does not know: said once, still running. */
	fx_tool("squeue", "FROBNICATING|None|n1|2026-11-30T10:00:00\n", 0);
	fx_tool("sacct", "FROBNICATING|0:0|n1|2026-11-30T10:00:00|"
	    "Unknown\n", 0);
	fx_tool("scontrol", "JobId=4242 JobState=FROBNICATING\n", 0);
	sleep(4);	/* asked at least twice: slurm_poll = 1 */
	snprintf(path, sizeof(path), "%s/log", j.dir);
	s = fx_read(path);
	CHECK(recorded(&j, "\"running\"", 1) && s != NULL &&
	    (m = strstr(s, "unknown state \"FROBNICATING\"")) != NULL &&
	    strstr(m + 1, "unknown state \"FROBNICATING\"") == NULL,
	    "slurm: an unknown state is said once, the job still running",
	    "%s", s ? s : "");
	free(s);
	fx_tool("scontrol", "", 0);
	fx_tool("sacct", "COMPLETED|0:0|n1|2026-11-30T10:00:00|"
	    "2026-11-30T10:05:00\n", 0);
	fx_tool("squeue", "COMPLETED|None|n1|2026-11-30T10:00:00\n", 0);
	CHECK(recorded(&j, "\"succeeded\"", 10) && recorded(&j,
	    "\"exit_code\":\t0", 1) && recorded(&j, "\"duration\":\t300", 1),
	    "slurm: sacct's end is the job's, with its times",
	    "%s", (s = record_of(&j)));
	free(s);
	usleep(300000);
	m = metrics_render(rd, c, &len);
	CHECK(m != NULL && metric(m, "swift_webhook_jobs{state=\"running\"} ") ==
	    0 && metric(m, "swift_webhook_jobs_finished_total{state="
	    "\"succeeded\"} ") >= 1, "slurm: /metrics counts its end, no "
	    "longer running", "%s", m ? m : "");
	free(m);
	job_close(&j);
}

/*
 * A cluster without accounting: sacct refuses; squeue has the job ended,
 * and the controller's record (scontrol) gives its exit code and times.
 */
static void
test_slurm_noacct(struct rundir *rd, struct conf *c)
{
	char err[512], other[JOB_ID_MAX], *s = NULL;
	struct job j;
	int r;

	fx_tool("sbatch", "4343\n", 0);
	fx_tool("squeue", "RUNNING|None|n2|2026-11-30T11:00:00\n", 0);
	fx_tool("sacct", "sacct: error: Slurm accounting storage is "
	    "disabled\n", 1);
	fx_tool("scontrol", "", 0);
	fx_job(&j, "7777777777777777777777777777777777777777",
	    "configs/quick.yaml");
	j.delivery = "d-noacct";
	r = lifecycle_start(rd, c, &j, 1, other, err, sizeof(err));
	CHECK(r == JOB_STARTED && recorded(&j, "\"running\"", 10),
	    "no accounting: running", "r=%d %s %s", r, err,
	    (s = record_of(&j)));
	free(s);
	fx_tool("scontrol", "JobId=4343 JobName=swift-x UserId=www-data(33) "
	    "JobState=FAILED Reason=NonZeroExitCode Dependency=(null) "
	    "ExitCode=3:0 RunTime=00:02:00 StartTime=2026-11-30T11:00:00 "
	    "EndTime=2026-11-30T11:02:00 Partition=debug NodeList=n2 "
	    "Command=/srv/runs/x/job.sbatch\n", 0);
	fx_tool("squeue", "FAILED|NonZeroExitCode|n2|2026-11-30T11:00:00\n",
	    0);
	CHECK(recorded(&j, "\"failed\"", 10) && recorded(&j,
	    "\"exit_code\":\t3", 1) && recorded(&j, "\"duration\":\t120",
	    1), "no accounting: the controller's record is the job's end, "
	    "with its exit code and times", "%s", (s = record_of(&j)));
	free(s);
	fx_tool("sacct", "", 0);
	fx_tool("scontrol", "", 0);
	job_close(&j);
}

/*
 * The Slurm supervisor cannot write the job's record: the starter
 * records it failed, and its run of the day is given back.
 */
static void
test_slurm_unwritable(struct rundir *rd, struct conf *c)
{
	char err[512], other[JOB_ID_MAX], path[PATH_MAX], *s;
	struct job j;
	int r;

	fx_job(&j, "6666666666666666666666666666666666666666",
	    "configs/quick.yaml");
	j.delivery = "d-full";
	j.repository = "acme/full";
	fail_job_json = 1;
	r = lifecycle_start(rd, c, &j, 1, other, err, sizeof(err));
	fail_job_json = 0;
	CHECK(r == JOB_ERROR && strstr(err, "No space left"), "unwritable: "
	    "the start fails, with the reason", "r=%d %s", r, err);
	CHECK(recorded(&j, "\"failed\"", 1), "unwritable: the starter "
	    "recorded it failed", "%s", (s = record_of(&j)));
	free(s);
	snprintf(path, sizeof(path), "%s/runs-slurm/.runs/%s", fx_top,
	    j.ticket);
	CHECK(j.ticket[0] != '\0' && access(path, F_OK) == -1, "unwritable: "
	    "its run of the day is given back", "%s still there", path);
	job_close(&j);
}

int
main(int argc, char *argv[])
{
	static const char *const tools[] = { "curl", "sbatch", "squeue",
	    "sacct", "scancel", "scontrol", NULL };
	char path[PATH_MAX], text[4096], notify[PATH_MAX];
	struct rundir rd, srd;
	struct conf c, sc, stub;

	(void)argc;
	PLAN(PLANNED);
	main_pid = getpid();
	if (fx_init("supervise", argv[0], tools) == -1 ||
	    spawn_init(environ) == -1) {
		CHECK(0, "setup", "%s", strerror(errno));
		return t_exit();
	}
	mkdir(fx_path(path, "work"), 0755);
	mkdir(fx_path(path, "work/configs"), 0755);
	fx_put(fx_path(path, "work/configs/quick.yaml"), "model: m\n", 0644);
	fx_put(fx_path(path, "work/configs/sleep.yaml"),
	    "model: m\nfake_sleep: 30\n", 0644);
	fx_put(fx_path(path, "work/configs/sleep3.yaml"),
	    "model: m\nfake_sleep: 3\n", 0644);
	fx_put(fx_path(path, "work/configs/stubborn.yaml"), "model: m\n",
	    0644);
	fx_put(fx_path(path, "work/configs/leaves.yaml"), "model: m\n",
	    0644);
	fx_put(fx_path(path, "work/stubborn"), "#!/bin/sh\n"
	    "case $1 in *leaves*)\n"
	    "  setsid sh -c 'trap \"\" TERM; echo $$ > \"$JOB_DIR/left\"; "
	    "exec sleep 30' &\n"
	    "  while [ ! -s \"$JOB_DIR/left\" ]; do sleep 0.1; done\n"
	    "  exit 0;;\n"
	    "esac\n"
	    "trap 'echo TERM >> \"$JOB_DIR/term\"' TERM\n"
	    "echo ready > \"$JOB_DIR/ready\"\n"
	    "for i in 1 2 3 4 5 6; do sleep 30 & wait; done\n", 0755);
	fx_put(fx_path(notify, "notify"), "#!/bin/sh\n"
	    "echo \"$1 $JOB_STATE $JOB_EXIT\" >> \"$HOME/notified\"\n", 0755);
	snprintf(text, sizeof(text), "secret = s\nrun_dir = %s/runs\n"
	    "workdir = %s/work\nslots = 4\nkill_grace = 1\n"
	    "command = %s/fake-swift sft {config} --output_dir "
	    "{job_dir}/output --add_version false\nnotify = %s {job}\n",
	    fx_top, fx_top, fx_tests, notify);
	if (fx_setup(&c, &rd, "conf", text) == -1)
		return t_exit();
	snprintf(text, sizeof(text), "secret = s\nrun_dir = %s/runs\n"
	    "workdir = %s/work\nslots = 4\nkill_grace = 1\n"
	    "command = %s/work/stubborn {config}\n", fx_top, fx_top, fx_top);
	if (fx_conf(&stub, "conf-stubborn", text) == -1) {
		CHECK(0, "setup: stubborn config", "refused");
		return t_exit();
	}
	test_end(&rd, &c);
	test_max_runtime(&rd, &c);
	test_no_zombies(&rd, &c);
	test_ended_first(&rd, &c);
	test_stop(&rd, &stub);
	test_leftover(&rd, &stub);
	rundir_close(&rd);
	conf_free(&stub);
	conf_free(&c);

	snprintf(text, sizeof(text), "secret = s\nrun_dir = %s/runs-slurm\n"
	    "workdir = %s/work\nbackend = slurm\nslurm_poll = 1\n"
	    "slurm_conf = %s/slurm.conf\nmax_runs_per_day = 5\n"
	    "github_token_file = %s/token\napi_url = http://127.0.0.1:9\n"
	    "command = %s/fake-swift sft {config}\n", fx_top, fx_top, fx_top,
	    fx_top, fx_tests);
	if (fx_setup(&sc, &srd, "conf-slurm", text) == -1)
		return t_exit();
	test_slurm_follow(&srd, &sc);
	test_slurm_noacct(&srd, &sc);
	test_slurm_unwritable(&srd, &sc);
	rundir_close(&srd);
	conf_free(&sc);
	if (getenv("KEEP") == NULL)
		fx_done();
	return t_exit();
}
