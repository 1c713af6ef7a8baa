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
#include <sys/types.h>
#include <unistd.h>

#include "t.h"
#include "fixture.h"
#include "job.h"
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

/* A job of config for keep tests (fixture.h's), its folder made. */
static int
keep_job(struct rundir *rd, struct job *j, const char *sha,
    const char *config)
{
	char err[256];

	fx_job(j, sha, config);
	return job_create(rd, j, err, sizeof(err));
}

/*
 * job_keep_config: the trained config copied into the job's folder,
 * never through a symlink, bounded; the reason when it is not; read
 * back under the same rules; job.json keeps the copy's name and the
 * commit title; job_previous finds the run before of the same config.
 */
static void
test_keep(struct rundir *rd)
{
	const char *sha1 = "1111111111111111111111111111111111111111";
	const char *sha2 = "2222222222222222222222222222222222222222";
	char src[PATH_MAX], p[PATH_MAX], prev[JOB_ID_MAX], *text, *big;
	struct job j, r, k;
	size_t len;
	int cwd, rc;

	snprintf(src, sizeof(src), "%s/src", top);
	snprintf(p, sizeof(p), "%s/configs", src);
	mkdir(src, 0755);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/configs/sft.yaml", src);
	put(p, "model: x\nlearning_rate: 1e-4\n");
	cwd = open(src, O_RDONLY | O_DIRECTORY);
	if (keep_job(rd, &j, sha1, "configs/sft.yaml") == -1) {
		CHECK(0, "keep: job_create", "%s", strerror(errno));
		return;
	}
	title_clean("Raise lr\x1b[31m to 2e-4\nbody", j.commit_title);
	rc = job_keep_config(&j, cwd);
	snprintf(p, sizeof(p), "%s/config.yaml", j.dir);
	CHECK(rc == 0 && strcmp(j.config_copy, "config.yaml") == 0 &&
	    j.config_copy_error[0] == '\0' && access(p, R_OK) == 0,
	    "the config trained is kept as config.yaml in the job's folder",
	    "rc=%d %s %s", rc, j.config_copy, j.config_copy_error);
	job_write(&j);
	rc = job_read(rd, j.id, &r);
	text = rc == 0 ? job_read_config(&r, &len) : NULL;
	CHECK(text != NULL && strcmp(text, "model: x\nlearning_rate: 1e-4\n")
	    == 0 && len == 29 && strcmp(r.commit_title, "Raise lr[31m to 2e-4")
	    == 0, "job.json keeps its name and the commit title (control "
	    "characters gone); read back", "%s / %s", text ? text : "NULL",
	    rc == 0 ? r.commit_title : "");
	free(text);
	/* The trainer swaps the copy for a symlink to a secret. */
	unlink(p);
	if (symlink("/etc/passwd", p) == -1)
		CHECK(0, "symlink", "%s", strerror(errno));
	errno = 0;
	text = rc == 0 ? job_read_config(&r, &len) : NULL;
	CHECK(text == NULL && errno == ELOOP, "a copy swapped for a symlink "
	    "is not read", "%s", text ? text : strerror(errno));
	free(text);
	if (rc == 0)
		job_close(&r);

	/* A second run of the config: its previous run is the first. */
	if (keep_job(rd, &k, sha2, "configs/sft.yaml") == 0) {
		job_write(&k);
		CHECK(job_previous(rd, &k, 100, prev) == 0 &&
		    strcmp(prev, j.id) == 0, "job_previous: the run before of "
		    "the same config", "%s", prev);
		CHECK(job_previous(rd, &j, 100, prev) == -1,
		    "the first run has none", "%s", prev);
		k.config = "configs/other.yaml";
		job_write(&k);
		CHECK(job_previous(rd, &k, 100, prev) == -1,
		    "another config's run is not the previous one", "%s",
		    prev);
		job_close(&k);
	}
	job_close(&j);

	/* A config that is a symlink; a folder on the way that is one. */
	snprintf(p, sizeof(p), "%s/configs/link.yaml", src);
	if (symlink("sft.yaml", p) == -1)
		CHECK(0, "symlink", "%s", strerror(errno));
	snprintf(p, sizeof(p), "%s/linked", src);
	if (symlink("configs", p) == -1)
		CHECK(0, "symlink", "%s", strerror(errno));
	if (keep_job(rd, &j, sha1, "configs/link.yaml") == 0) {
		CHECK(job_keep_config(&j, cwd) == -1 && j.config_copy[0] ==
		    '\0' && strcmp(j.config_copy_error,
		    "configs/link.yaml not kept: a symlink") == 0,
		    "a config that is a symlink is not kept, and says why",
		    "%s", j.config_copy_error);
		j.config = "linked/sft.yaml";
		CHECK(job_keep_config(&j, cwd) == -1 && strcmp(
		    j.config_copy_error, "linked/sft.yaml not kept: a symlink")
		    == 0, "nor one under a folder that is a symlink", "%s",
		    j.config_copy_error);
		j.config = "configs/none.yaml";
		CHECK(job_keep_config(&j, cwd) == -1 && strcmp(
		    j.config_copy_error, "configs/none.yaml not kept: no such "
		    "file") == 0, "a config that is not there", "%s",
		    j.config_copy_error);
		snprintf(p, sizeof(p), "%s/configs/fifo.yaml", src);
		mkfifo(p, 0644);
		j.config = "configs/fifo.yaml";
		CHECK(job_keep_config(&j, cwd) == -1 && strcmp(
		    j.config_copy_error, "configs/fifo.yaml not kept: not a "
		    "regular file") == 0, "a FIFO: not waited on, not kept",
		    "%s", j.config_copy_error);
		/* One byte over the bound. */
		big = malloc(CONFIG_COPY_MAX + 2);
		memset(big, '#', CONFIG_COPY_MAX + 1);
		big[CONFIG_COPY_MAX + 1] = '\0';
		snprintf(p, sizeof(p), "%s/configs/big.json", src);
		put(p, big);
		j.config = "configs/big.json";
		CHECK(job_keep_config(&j, cwd) == -1 && strcmp(
		    j.config_copy_error, "configs/big.json not kept: larger "
		    "than 256 KiB") == 0, "a config over 256 KiB is not kept",
		    "%s", j.config_copy_error);
		big[CONFIG_COPY_MAX] = '\0';
		put(p, big);
		CHECK(job_keep_config(&j, cwd) == 0 && strcmp(j.config_copy,
		    "config.json") == 0, "one of 256 KiB is, as config.json",
		    "%s", j.config_copy_error);
		free(big);
		snprintf(p, sizeof(p), "%s/configs/Odd.Y-ML", src);
		put(p, "x: 1\n");
		j.config = "configs/Odd.Y-ML";
		CHECK(job_keep_config(&j, cwd) == 0 && strcmp(j.config_copy,
		    "config") == 0, "an extension that is no plain word: kept "
		    "as config", "%s", j.config_copy);
		job_close(&j);
	}
	close(cwd);
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

	PLAN(141);
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
		test_keep(&rd);
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
