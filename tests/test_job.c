/*
 * test_job.c: a job's states (every change, legal or not), job.json's
 * round trip, and job.json files that are missing, planted or garbage.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "job.h"
#include "t.h"
#include "util.h"

static char top[] = "/tmp/swh-job-XXXXXX";

static void
test_states(void)
{
	const char *const *all[] = {
		&JOB_QUEUED, &JOB_PREPARING, &JOB_RUNNING, &JOB_SUCCEEDED,
		&JOB_FAILED, &JOB_KILLED, &JOB_CANCELLED, &JOB_SUPERSEDED,
		&JOB_TIMEOUT, &JOB_LOST
	};
	/* legal[from][to], in the order of all[] */
	static const char legal[10][11] = {
		"0110101100",	/* queued: preparing running failed cancelled
				   superseded */
		"1010101101",	/* preparing: running failed cancelled
				   superseded; queued (slurm: submitted);
				   lost (the machine restarted) */
		"1001111111",	/* running: every end; queued (slurm:
				   requeued); lost */
		"0000000000", "0000000000", "0000000000", "0000000000",
		"0000000000", "0000000000",
		"0000000000",	/* lost is an end */
	};
	char name[96];
	struct job j;
	size_t f, t;
	int r;

	for (f = 0; f < 10; f++)
		for (t = 0; t < 10; t++) {
			job_init(&j);
			j.state = *all[f];
			r = job_set_state(&j, *all[t]);
			snprintf(name, sizeof(name), "%s -> %s is %s", *all[f],
			    *all[t], legal[f][t] == '1' ? "legal" : "refused");
			CHECK(legal[f][t] == '1' ? r == 0 && j.state == *all[t] :
			    r == -1 && j.state == *all[f], name, "r=%d state=%s",
			    r, j.state);
		}
	job_init(&j);
	CHECK(job_set_state(&j, JOB_RUNNING) == -1, "no state -> running is "
	    "refused", "accepted");
	j.state = JOB_QUEUED;
	CHECK(job_set_state(&j, "exploded") == -1 && j.state == JOB_QUEUED,
	    "an unknown state is refused", "state %s", j.state);
	CHECK(job_state_final("succeeded") && job_state_final("timeout") &&
	    !job_state_final("running") && job_state_final("lost") &&
	    !job_state_final("preparing") &&
	    !job_state_final(NULL) && !job_state_final("x"), "final states",
	    "mismatch");
}

static void
put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f != NULL) {
		fputs(text, f);
		fclose(f);
	}
}

static void
test_record(struct rundir *rd)
{
	char *const argv[] = { "swift", "sft", "configs/a.yaml", NULL };
	char err[256], path[PATH_MAX], planted[PATH_MAX];
	struct job j, r;
	int rc;

	job_init(&j);
	j.delivery = "d-1";
	j.event = "push";
	j.repository = "acme/train";
	j.ref = "refs/heads/main";
	j.branch = "main";
	j.sha = "1234567890123456789012345678901234567890";
	j.config = "configs/a.yaml";
	j.argv = argv;
	rc = job_create(rd, &j, err, sizeof(err));
	CHECK(rc == 0 && job_id_valid(j.id) && strstr(j.id, "-1234567-a") &&
	    j.state == JOB_QUEUED, "job_create", "%s %s", err, j.id);
	if (rc != 0)
		return;
	j.started = 1700000000;
	j.finished = 1700000042;
	j.pid = 4242;
	j.pid_start = 99;
	j.exit_code = 3;
	j.gpus = strdup("GPU-0,GPU-1");
	snprintf(j.error, sizeof(j.error), "a \"quoted\" reason");
	snprintf(j.commit, sizeof(j.commit), "%s", j.sha);
	j.output_dir = "/data/out";
	j.results.have = R_LAST_CKPT | R_GLOBAL_STEP | R_LOSS;
	j.results.last_model_checkpoint = strdup("/data/out/checkpoint-9");
	j.results.global_step = 9;
	j.results.loss = 0.25;
	CHECK(job_write(&j) == 0, "job_write", "%s", strerror(errno));
	rc = job_read(rd, j.id, &r);
	CHECK(rc == 0 && r.state == JOB_QUEUED && strcmp(r.delivery, "d-1") ==
	    0 && strcmp(r.repository, "acme/train") == 0 &&
	    strcmp(r.ref, "refs/heads/main") == 0 && strcmp(r.branch, "main") ==
	    0 && strcmp(r.sha, j.sha) == 0 && strcmp(r.config, j.config) == 0 &&
	    r.created == j.created && r.started == j.started &&
	    r.finished == j.finished && r.pid == 4242 && r.pid_start == 99 &&
	    r.exit_code == 3 && r.signal == 0 && r.retry_of == NULL &&
	    strcmp(r.gpus, "GPU-0,GPU-1") == 0 &&
	    strcmp(r.error, j.error) == 0, "job.json round trip", "rc=%d", rc);
	CHECK(rc == 0 && strcmp(r.commit, j.sha) == 0 &&
	    strcmp(r.output_dir, "/data/out") == 0 && !r.has_src &&
	    r.results.have == (R_LAST_CKPT | R_GLOBAL_STEP | R_LOSS) &&
	    strcmp(r.results.last_model_checkpoint,
	    "/data/out/checkpoint-9") == 0 && r.results.global_step == 9 &&
	    r.results.loss == 0.25, "job.json round trip: commit, output_dir, "
	    "results", "rc=%d have=%u", rc, rc == 0 ? r.results.have : 0);
	if (rc == 0)
		job_close(&r);

	/* No state: read, but with none; garbage state: none either. */
	snprintf(path, sizeof(path), "%s/%s/job.json", rd->path, j.id);
	put(path, "{\"sha\":\"x\"}");
	rc = job_read(rd, j.id, &r);
	CHECK(rc == 0 && r.state == NULL && job_set_state(&r, JOB_RUNNING) ==
	    -1, "job.json without state", "rc=%d", rc);
	if (rc == 0)
		job_close(&r);
	put(path, "{\"state\":\"lost\"}");
	rc = job_read(rd, j.id, &r);
	CHECK(rc == 0 && r.state == JOB_LOST && job_set_state(&r,
	    JOB_RUNNING) == -1, "a written \"lost\" is an end",
	    "rc=%d %s", rc, r.state ? r.state : "-");
	if (rc == 0)
		job_close(&r);
	put(path, "{\"state\":[1,2],\"pid\":\"x\",\"created\":\"yesterday\"}");
	rc = job_read(rd, j.id, &r);
	CHECK(rc == 0 && r.state == NULL && r.pid == 0 && r.created == 0,
	    "job.json with garbage values", "rc=%d", rc);
	if (rc == 0)
		job_close(&r);
	put(path, "{\"state\":\"running\",\"pid\":1e30,\"pid_start\":-1e30,"
	    "\"supervisor\":1e300,\"exit_code\":-1e30,\"signal\":1e30,"
	    "\"slurm_job_id\":1e30,\"after_success\":{\"state\":\"failed\","
	    "\"exit_code\":1e30,\"duration\":-1e300}}");
	rc = job_read(rd, j.id, &r);
	CHECK(rc == 0 && r.pid == 0 && r.pid_start == 0 && r.supervisor == 0 &&
	    r.exit_code == -1 && r.signal == 0 && r.slurm_job_id == 0 &&
	    r.after_exit == -1 && r.after_duration == 0, "numbers no job has "
	    "(1e30) are not taken, nor cast", "rc=%d pid %ld exit %d", rc,
	    (long)r.pid, r.exit_code);
	if (rc == 0)
		job_close(&r);
	put(path, "not json");
	CHECK(job_read(rd, j.id, &r) == -1 && errno == EINVAL,
	    "job.json that is no JSON", "errno %d", errno);
	put(path, "[1]");
	CHECK(job_read(rd, j.id, &r) == -1 && errno == EINVAL,
	    "job.json that is an array", "errno %d", errno);
	unlink(path);
	CHECK(job_read(rd, j.id, &r) == -1 && errno == ENOENT,
	    "no job.json", "errno %d", errno);
	snprintf(planted, sizeof(planted), "%s/elsewhere.json", top);
	put(planted, "{\"state\":\"queued\"}");
	if (symlink(planted, path) == 0)
		CHECK(job_read(rd, j.id, &r) == -1 && errno == ELOOP,
		    "a symlinked job.json is not followed", "errno %d", errno);
	unlink(path);
	if (mkfifo(path, 0600) == 0)
		CHECK(job_read(rd, j.id, &r) == -1 && errno == EINVAL,
		    "a FIFO as job.json does not hang", "errno %d", errno);
	unlink(path);
	if (truncate(planted, 2 << 20) == 0 && link(planted, path) == 0)
		CHECK(job_read(rd, j.id, &r) == -1 && errno == EFBIG,
		    "a job.json over 1 MiB is not read", "errno %d", errno);
	unlink(path);
	CHECK(job_read(rd, "../etc", &r) == -1 && errno == EINVAL &&
	    job_read(rd, ".keys", &r) == -1, "only job ids are read", "read");
	free(j.gpus);
	j.gpus = NULL;
	job_close(&j);
}

static void
test_ids(void)
{
	static const struct {
		const char *id;
		int ok;
	} rows[] = {
		{ "20261129T045521.946Z-9f2c1a7-sft", 1 },
		{ "20261129T045521.946Z-9f2c1a7-sft-2", 1 },
		{ "20261129T045521.946Z-9f2c1a7-", 1 },
		{ "20261129T045521.946Z-9f2c1a7-a.b", 0 },
		{ "20261129T045521.946Z-9f2c1a-sft", 0 },
		{ "2026112XT045521.946Z-9f2c1a7-sft", 0 },
		{ ".keys", 0 },
		{ "../x", 0 },
		{ "", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		CHECK(job_id_valid(rows[i].id) == rows[i].ok, rows[i].id,
		    "got %d", !rows[i].ok);
}

int
main(void)
{
	char err[256], path[PATH_MAX];
	struct rundir rd;

	PLAN(128);
	if (mkdtemp(top) == NULL) {
		CHECK(0, "setup: mkdtemp", "%s", strerror(errno));
		return t_exit();
	}
	test_states();
	test_ids();
	snprintf(path, sizeof(path), "%s/runs", top);
	mkdir(path, 0750);
	if (rundir_open(&rd, path, 1, err, sizeof(err)) == 0) {
		test_record(&rd);
		rundir_close(&rd);
	} else
		CHECK(0, "rundir_open", "%s", err);
	chmod(path, 0777);
	CHECK(rundir_open(&rd, path, 0, err, sizeof(err)) == -1 &&
	    strstr(err, "writable by others"), "a world-writable run_dir is "
	    "refused", "%s", err);
	snprintf(path, sizeof(path), "rm -rf %s", top);
	if (system(path) != 0)
		return 1;
	return t_exit();
}
