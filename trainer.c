/*
 * trainer.c: the trainer's argv and environment, and notify's and
 * after_success's.  See trainer.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "trainer.h"
#include "util.h"

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
 * allow-listed part of the server's, the job's NPROC_PER_NODE, then
 * extra, then the JOB_* names.
 */
static int
build_env(struct strv *env, const struct conf *c, const struct strv *extra,
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

	char home[PATH_MAX];
	const char *why;

	if (spawn_base_env(env) == -1)
		return -1;
	/* A HOME it can write (rundir.h), unless env sets one below. */
	if (rundir_home(c->run_dir, home, &why) == 0 &&
	    strv_setenv(env, xprintf("HOME=%s", home)) == -1)
		return -1;
	/* The job's processes per node, over the server's (spawn.h). */
	strv_unsetenv(env, "NPROC_PER_NODE");
	if (conf_nproc(c) > 0 && strv_setenv(env, xprintf("NPROC_PER_NODE=%ld",
	    conf_nproc(c))) == -1)
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
	val[PH_CHECKPOINT] = results_checkpoint(&j->results) ?
	    results_checkpoint(&j->results) : "";
	val[PH_PORT] = val[PH_MODEL_NAME] = "";
}

int
trainer_prepare(struct trainer *t, const struct job *j, const struct conf *c)
{
	const char *val[PH__COUNT];
	struct strv argv = { NULL, 0 }, env = { NULL, 0 };
	struct strv nargv = { NULL, 0 }, nenv = { NULL, 0 };
	char short_sha[8];
	int rc = -1;

	memset(t, 0, sizeof(*t));
	t->cwd = c->repository ? xprintf("%s/src", j->dir) :
	    strdup(c->workdir ? c->workdir : j->dir);
	if (t->cwd == NULL)
		return -1;
	values(val, j, t->cwd, "", short_sha);
	if ((t->output_dir = expand(c->output_dir, val)) == NULL) {
		trainer_free(t);
		return -1;
	}
	val[PH_OUTPUT_DIR] = t->output_dir;
	if (strv_expand(&argv, &c->launcher, val) == 0 &&
	    strv_expand(&argv, &c->command, val) == 0 &&
	    build_env(&env, c, &c->env, val, j) == 0 &&
	    strv_expand(&nargv, &c->notify, val) == 0 &&
	    build_env(&nenv, c, &c->notify_env, val, j) == 0)
		rc = 0;
	t->argv = argv.v;
	t->envp = env.v;
	t->notify_argv = nargv.v;
	t->notify_envp = nenv.v;
	if (rc == 0 && t->argv != NULL) {
		t->exe = spawn_find_exe(t->argv[0], t->envp, t->cwd);
		if (t->notify_argv != NULL)
			t->notify_exe = spawn_find_exe(t->notify_argv[0],
			    t->notify_envp, j->dir);
	}
	if (rc == -1 || t->argv == NULL) {
		trainer_free(t);
		return -1;
	}
	return 0;
}

void
trainer_free(struct trainer *t)
{
	argv_free(t->argv);
	argv_free(t->envp);
	argv_free(t->notify_argv);
	argv_free(t->notify_envp);
	free(t->exe);
	free(t->notify_exe);
	free(t->cwd);
	free(t->output_dir);
	memset(t, 0, sizeof(*t));
}

#define HINT_EXEC "; set \"command\" in the configuration to the " \
	"trainer's absolute path (e.g. /opt/conda/bin/swift sft {config} " \
	"...: see docs/deploying.md#the-configuration)"

void
trainer_error(char *buf, size_t size, int stage, int err,
    const struct trainer *t)
{
	const char *what = stage == STAGE_PIDFILE ? "write pid file" :
	    stage == STAGE_ENV ? "set up its environment" :
	    spawn_stage_name(stage);

	if (stage == STAGE_EXEC)
		snprintf(buf, size, "cannot execute trainer %s: %s%s",
		    t->argv[0], strerror(err), err == ENOENT ||
		    err == EACCES ? HINT_EXEC : "");
	else if (stage == STAGE_CHDIR)
		snprintf(buf, size, "cannot chdir to workdir %s: %s", t->cwd,
		    strerror(err));
	else
		snprintf(buf, size, "cannot start trainer (%s): %s", what,
		    strerror(err));
}

int
trainer_check(const struct trainer *t, const struct conf *c, char *err,
    size_t errlen)
{
	struct stat st;
	int e;

	/* A checkout is made later: a trainer of its own is found then. */
	if (c->repository != NULL && t->argv[0][0] != '/' &&
	    strchr(t->argv[0], '/') != NULL)
		return 0;
	if (c->repository == NULL && access(t->cwd, X_OK) == -1) {
		trainer_error(err, errlen, STAGE_CHDIR, errno, t);
		return -1;
	}
	if (t->exe == NULL)
		e = ENOENT;
	else if (stat(t->exe, &st) == -1)
		e = errno;		/* st says nothing then */
	else if (!S_ISREG(st.st_mode))
		e = EACCES;
	else if (access(t->exe, X_OK) == -1)
		e = errno;
	else
		return 0;
	trainer_error(err, errlen, STAGE_EXEC, e, t);
	return -1;
}

/*
 * CUDA_VISIBLE_DEVICES is as long as the GPU ids make it (UUIDs are 40
 * bytes each).
 */
int
trainer_slots(struct trainer *t, struct job *j, const struct conf *c,
    const struct slots *s)
{
	struct strv env = { t->envp, 0 };
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
			goto oom;
	}
	if (strv_setenv(&env, xprintf("MASTER_PORT=%ld",
	    c->master_port + (long)s->idx[0])) == -1)
		goto oom;
	t->envp = env.v;
	return 0;
oom:
	t->envp = env.v;	/* strv_setenv may have moved it */
	return -1;
}

/* Whether list names checkpoint placeholder ph. */
static int
used(const struct strv *list, size_t ph)
{
	static const char *const names[] = { "{last_checkpoint}",
	    "{best_checkpoint}", "{checkpoint}" };
	size_t i;

	for (i = 0; i < list->n; i++)
		if (strstr(list->v[i], names[ph - PH_LAST_CHECKPOINT]) != NULL)
			return 1;
	return 0;
}

/*
 * Whether checkpoint ck (from logging.jsonl: the trainer's words) names a
 * folder inside out, the job's output_dir: an absolute path (or one
 * relative to cwd) that lies under out once read word by word, with no
 * "." or ".." and no symbolic link on the way (each step opened with
 * O_NOFOLLOW), that exists, and that cannot be taken for an option.
 * Returns 0, or -1 with the reason in why.
 */
static int
checkpoint_inside(const char *ck, const char *cwd, const char *out,
    char *why, size_t whylen)
{
	char path[PATH_MAX], *p, *word, *save;
	size_t n = strlen(out);
	int fd, next;

	while (n > 1 && out[n - 1] == '/')
		n--;
	if (ck[0] == '-' || (ck[0] == '/' ? snprintf(path, sizeof(path), "%s",
	    ck) : snprintf(path, sizeof(path), "%s/%s", cwd, ck)) >=
	    (int)sizeof(path)) {
		snprintf(why, whylen, "\"%.200s\" is not a path", ck);
		return -1;
	}
	if (strncmp(path, out, n) != 0 || path[n] != '/') {
		snprintf(why, whylen, "\"%.200s\" is not inside output_dir "
		    "%.200s", ck, out);
		return -1;
	}
	if ((fd = open(out, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		snprintf(why, whylen, "output_dir %.200s: %s", out,
		    strerror(errno));
		return -1;
	}
	for (word = strtok_r(path + n + 1, "/", &save), p = word; word != NULL;
	    word = strtok_r(NULL, "/", &save)) {
		if (strcmp(word, ".") == 0 || strcmp(word, "..") == 0 ||
		    (next = openat(fd, word, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC)) == -1) {
			snprintf(why, whylen, "\"%.200s\" is not a folder "
			    "inside output_dir %.200s (%s)", ck, out,
			    word[0] == '.' ? "\".\" or \"..\"" : errno == ELOOP ||
			    errno == ENOTDIR ? "a symbolic link or a file on "
			    "the way" : strerror(errno));
			close(fd);
			return -1;
		}
		close(fd);
		fd = next;
	}
	close(fd);
	if (p == NULL) {
		snprintf(why, whylen, "\"%.200s\" is output_dir itself", ck);
		return -1;
	}
	return 0;
}

/*
 * list (after_success's, deploy's) as argv for j: its checkpoints known
 * and inside its output_dir where list names them; port and model_name
 * for deploy's (else "").
 */
static int
ended_argv(const struct trainer *t, const struct job *j,
    const struct strv *list, const char *port, const char *model_name,
    struct strv *argv, char *err, size_t errlen)
{
	const char *val[PH__COUNT], *missing = NULL, *hint = "";
	char short_sha[8], why[600];
	size_t i;

	values(val, j, t->cwd, t->output_dir, short_sha);
	val[PH_PORT] = port;
	val[PH_MODEL_NAME] = model_name;
	for (i = 0; i < list->n; i++)
		if (strstr(list->v[i], "{last_checkpoint}") &&
		    val[PH_LAST_CHECKPOINT][0] == '\0')
			missing = "last_model_checkpoint";
		else if (strstr(list->v[i], "{best_checkpoint}") &&
		    val[PH_BEST_CHECKPOINT][0] == '\0') {
			missing = "best_model_checkpoint";
			hint = " (the run did not evaluate: {checkpoint} is "
			    "the best one, or else the last)";
		} else if (strstr(list->v[i], "{checkpoint}") &&
		    val[PH_CHECKPOINT][0] == '\0')
			missing = "last_model_checkpoint";
	if (missing != NULL) {
		snprintf(err, errlen, "no %s in %s/logging.jsonl%s", missing,
		    t->output_dir, hint);
		return -1;
	}
	/* The trainer wrote them: a folder of its output, nothing else. */
	for (i = PH_LAST_CHECKPOINT; i <= PH_CHECKPOINT; i++)
		if (val[i][0] != '\0' && used(list, i) && checkpoint_inside(
		    val[i], t->cwd, t->output_dir, why, sizeof(why)) == -1) {
			snprintf(err, errlen, "%s: %s", i == PH_LAST_CHECKPOINT ?
			    "last_model_checkpoint" : i == PH_BEST_CHECKPOINT ?
			    "best_model_checkpoint" : "checkpoint", why);
			return -1;
		}
	if (strv_expand(argv, list, val) == -1) {
		snprintf(err, errlen, "out of memory");
		strv_free(argv);
		return -1;
	}
	return 0;
}

int
trainer_after_argv(const struct trainer *t, const struct job *j,
    const struct conf *c, struct strv *argv, char *err, size_t errlen)
{
	return ended_argv(t, j, &c->after_success, "", "", argv, err, errlen);
}

int
trainer_deploy_argv(const struct trainer *t, const struct job *j,
    const struct conf *c, int port, const char *model_name,
    struct strv *argv, char *err, size_t errlen)
{
	char num[16];

	snprintf(num, sizeof(num), "%d", port);
	return ended_argv(t, j, &c->deploy, num, model_name, argv, err,
	    errlen);
}

int
trainer_checkpoint(const struct trainer *t, const struct job *j,
    char *err, size_t errlen)
{
	const char *ck = results_checkpoint(&j->results);
	char why[600];

	if (ck == NULL) {
		snprintf(err, errlen, "no checkpoint in %s/logging.jsonl",
		    t->output_dir);
		return -1;
	}
	if (checkpoint_inside(ck, t->cwd, t->output_dir, why,
	    sizeof(why)) == -1) {
		snprintf(err, errlen, "checkpoint: %s", why);
		return -1;
	}
	return 0;
}

int
trainer_notify_env(const struct trainer *t, const struct job *j,
    struct strv *env)
{
	size_t i;

	for (i = 0; t->notify_envp[i] != NULL; i++)
		if (strv_setenv(env, strdup(t->notify_envp[i])) == -1)
			return -1;
	if (strv_setenv(env, xprintf("JOB_STATE=%s", j->state)) == -1 ||
	    strv_setenv(env, j->exit_code >= 0 ? xprintf("JOB_EXIT=%d",
	    j->exit_code) : strdup("JOB_EXIT=")) == -1 ||
	    strv_setenv(env, j->signal > 0 ? xprintf("JOB_SIGNAL=%d",
	    j->signal) : strdup("JOB_SIGNAL=")) == -1 ||
	    strv_setenv(env, xprintf("JOB_DURATION=%ld", j->started ?
	    (long)(j->finished - j->started) : 0L)) == -1 ||
	    strv_setenv(env, xprintf("JOB_AFTER_SUCCESS=%s",
	    j->after_state)) == -1 ||
	    strv_setenv(env, xprintf("JOB_LAST_CHECKPOINT=%s",
	    j->results.last_model_checkpoint ?
	    j->results.last_model_checkpoint : "")) == -1 ||
	    strv_setenv(env, xprintf("JOB_BEST_CHECKPOINT=%s",
	    j->results.best_model_checkpoint ?
	    j->results.best_model_checkpoint : "")) == -1 ||
	    strv_setenv(env, xprintf("JOB_CHECKPOINT=%s",
	    results_checkpoint(&j->results) ?
	    results_checkpoint(&j->results) : "")) == -1)
		return -1;
	return 0;
}

int
trainer_notify(const struct trainer *t, char *const env[], int dirfd,
    long timeout, char *why, size_t whylen)
{
	struct child r;
	char tail[256];
	int status;

	if (t->notify_argv == NULL)
		return 0;
	memset(&r, 0, sizeof(r));
	r.exe = t->notify_exe;
	r.argv = t->notify_argv;
	r.envp = env;
	r.dirfd = dirfd;
	r.timeout = timeout;
	switch (spawn_run(&r, &status, tail, sizeof(tail))) {
	case RUN_ERROR:
		snprintf(why, whylen, "notify: %s", tail);
		return -1;
	case RUN_TIMEOUT:
		snprintf(why, whylen, "notify: killed after %lds", timeout);
		return -1;
	default:
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			return 0;
		snprintf(why, whylen, "notify failed (status %d)",
		    WIFEXITED(status) ? WEXITSTATUS(status) :
		    128 + WTERMSIG(status));
		return -1;
	}
}
