/*
 * test_trainer.c: what a job runs: its argv with placeholders filled, its
 * environment (NPROC_PER_NODE from nproc_per_node over the server's, the
 * slots' GPUs and port), after_success's {checkpoint}, and the reasons a
 * trainer cannot start.
 */
#include "t.h"
#include "fixture.h"
#include "trainer.h"

#define PLANNED	12

extern char **environ;

/* The value of NAME in envp, or NULL. */
static const char *
env_of(char *const envp[], const char *name)
{
	size_t n = strlen(name), i;

	for (i = 0; envp != NULL && envp[i] != NULL; i++)
		if (strncmp(envp[i], name, n) == 0 && envp[i][n] == '=')
			return envp[i] + n + 1;
	return NULL;
}

/* The trainer of a job under the config lines extra. */
static int
prepare(struct trainer *t, struct job *j, const char *name,
    const char *extra)
{
	char text[1024];
	struct conf c;
	int rc;

	snprintf(text, sizeof(text), "secret = s\nrun_dir = %s/runs\n"
	    "workdir = %s\n%s", fx_top, fx_top, extra);
	if (fx_conf(&c, name, text) == -1)
		return -1;
	rc = trainer_prepare(t, j, &c);
	conf_free(&c);
	return rc;
}

static void
test_nproc(struct job *j)
{
	static const struct {
		const char	*name, *extra, *want;
	} rows[] = {
		{ "one GPU: no torchrun, whatever the server said",
		  "gpus = 0 1\n", NULL },
		{ "gpus_per_job = 2: NPROC_PER_NODE=2",
		  "gpus = 0 1\ngpus_per_job = 2\n", "2" },
		{ "nproc_per_node = none: none, one process over the GPUs",
		  "gpus = 0 1\ngpus_per_job = 2\nnproc_per_node = none\n",
		  NULL },
		{ "nproc_per_node = 3: 3",
		  "gpus = 0 1\ngpus_per_job = 2\nnproc_per_node = 3\n", "3" },
		{ "on Slurm too: gpus_per_job = 4 gives NPROC_PER_NODE=4",
		  "backend = slurm\ngpus_per_job = 4\n", "4" },
	};
	struct trainer t;
	const char *got;
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (prepare(&t, j, "conf", rows[i].extra) == -1) {
			CHECK(0, rows[i].name, "prepare failed");
			continue;
		}
		got = env_of(t.envp, "NPROC_PER_NODE");
		CHECK(rows[i].want == NULL ? got == NULL : got != NULL &&
		    strcmp(got, rows[i].want) == 0, rows[i].name, "got %s",
		    got ? got : "none");
		trainer_free(&t);
	}
}

int
main(int argc, char *argv[])
{
	char text[256], err[512], ck9[PATH_MAX], ck6[PATH_MAX];
	char cmd[2 * PATH_MAX + 16];
	struct slots s = { .n = 2 };
	struct strv after = { NULL, 0 };
	struct trainer t;
	struct conf c;
	struct job j;

	(void)argc;
	PLAN(PLANNED);
	if (fx_init("trainer", argv[0], NULL) == -1) {
		CHECK(0, "setup", "%s", strerror(errno));
		return t_exit();
	}
	/* A server whose environment asks for 8 processes per node. */
	setenv("NPROC_PER_NODE", "8", 1);
	if (spawn_init(environ) == -1)
		return 1;
	fx_job(&j, "1234567890123456789012345678901234567890",
	    "configs/a.yaml");
	snprintf(j.id, sizeof(j.id), "20261130T000000.000Z-1234567-a");
	snprintf(j.dir, sizeof(j.dir), "%s/runs/%s", fx_top, j.id);
	test_nproc(&j);

	snprintf(text, sizeof(text), "secret = s\nrun_dir = %s/runs\n"
	    "gpus = GPU-a GPU-b GPU-c\ngpus_per_job = 2\nafter_success = "
	    "export --adapters {checkpoint} --base {best_checkpoint}\n",
	    fx_top);
	if (fx_conf(&c, "conf-gpus", text) == -1 ||
	    trainer_prepare(&t, &j, &c) == -1) {
		CHECK(0, "setup: gpus", "refused");
		return t_exit();
	}
	s.idx[0] = 2;
	s.idx[1] = 0;
	CHECK(trainer_slots(&t, &j, &c, &s) == 0 &&
	    strcmp(env_of(t.envp, "CUDA_VISIBLE_DEVICES"), "GPU-c,GPU-a") ==
	    0 && strcmp(env_of(t.envp, "MASTER_PORT"), "29502") == 0 &&
	    strcmp(j.gpus, "GPU-c,GPU-a") == 0, "the slots' GPUs and the "
	    "port of the first", "%s %s", env_of(t.envp,
	    "CUDA_VISIBLE_DEVICES"), env_of(t.envp, "MASTER_PORT"));
	CHECK(strcmp(t.argv[0], "swift") == 0 && strcmp(t.argv[2],
	    "configs/a.yaml") == 0 && env_of(t.envp, "JOB_ID") != NULL &&
	    strcmp(env_of(t.envp, "JOB_ID"), j.id) == 0, "argv and JOB_*",
	    "%s %s", t.argv[0], t.argv[2]);
	/* Checkpoints as ms-swift saves them: folders in output_dir. */
	snprintf(ck9, sizeof(ck9), "%s/checkpoint-9", t.output_dir);
	snprintf(ck6, sizeof(ck6), "%s/checkpoint-6", t.output_dir);
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s' '%s'", ck9, ck6);
	if (system(cmd) != 0)
		CHECK(0, "setup: checkpoints", "%s failed", cmd);
	j.results.have = R_LAST_CKPT;
	j.results.last_model_checkpoint = strdup(ck9);
	CHECK(trainer_after_argv(&t, &j, &c, &after, err, sizeof(err)) ==
	    -1 && strstr(err, "no best_model_checkpoint") && strstr(err,
	    "{checkpoint} is the best one, or else the last"), "no eval: "
	    "{best_checkpoint} refused, with what to use", "%s", err);
	strv_free(&after);
	j.results.have |= R_BEST_CKPT;
	j.results.best_model_checkpoint = strdup(ck6);
	CHECK(trainer_after_argv(&t, &j, &c, &after, err, sizeof(err)) == 0 &&
	    strcmp(after.v[2], ck6) == 0 && strcmp(after.v[4], ck6) == 0, "{checkpoint} is the best one when the "
	    "run evaluated", "%s", after.v ? after.v[2] : err);
	strv_free(&after);
	free(j.results.best_model_checkpoint);
	j.results.have = R_LAST_CKPT;
	j.results.best_model_checkpoint = NULL;
	c.after_success.v[2][0] = '{';	/* only {checkpoint} now: */
	free(c.after_success.v[3]);
	free(c.after_success.v[4]);
	c.after_success.v[3] = NULL;
	c.after_success.n = 3;
	CHECK(trainer_after_argv(&t, &j, &c, &after, err, sizeof(err)) == 0 &&
	    strcmp(after.v[2], ck9) == 0, "{checkpoint} is the "
	    "last one when it did not", "%s", after.v ? after.v[2] : err);
	strv_free(&after);
	free(j.results.last_model_checkpoint);
	memset(&j.results, 0, sizeof(j.results));
	trainer_free(&t);
	free(j.gpus);
	j.gpus = NULL;
	conf_free(&c);

	snprintf(text, sizeof(text), "secret = s\nrun_dir = %s/runs\n"
	    "env = NPROC_PER_NODE=4\n", fx_top);
	CHECK(fx_conf(&c, "conf-env", text) == -1, "env = NPROC_PER_NODE=... "
	    "is refused: nproc_per_node's to set", "accepted");
	snprintf(text, sizeof(text), "secret = s\nrun_dir = %s/runs\n"
	    "gpus = 0 1 2\nmaster_port = 31000\n", fx_top);
	if (fx_conf(&c, "conf-port", text) == -1 ||
	    trainer_prepare(&t, &j, &c) == -1) {
		CHECK(0, "setup: master_port", "refused");
		return t_exit();
	}
	s.n = 1;
	s.idx[0] = 1;
	CHECK(trainer_slots(&t, &j, &c, &s) == 0 &&
	    strcmp(env_of(t.envp, "MASTER_PORT"), "31001") == 0,
	    "master_port moves the ports: a job gets it + its first slot",
	    "%s", env_of(t.envp, "MASTER_PORT"));
	trainer_free(&t);
	free(j.gpus);
	conf_free(&c);
	fx_done();
	return t_exit();
}
