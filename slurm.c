/*
 * slurm.c: the Slurm backend's talk with the cluster (see slurm.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "slurm.h"
#include "spawn.h"
#include "util.h"

#define SLURM_TIMEOUT	60	/* seconds a Slurm command may take */

const char *
slurm_state_map(const char *name)
{
	static const struct {
		const char	*name;
		const char *const *state;
	} map[] = {
		{ "PENDING", &JOB_QUEUED },
		{ "REQUEUED", &JOB_QUEUED },
		{ "REQUEUE_HOLD", &JOB_QUEUED },
		{ "REQUEUE_FED", &JOB_QUEUED },
		{ "RESV_DEL_HOLD", &JOB_QUEUED },
		{ "EXPEDITING", &JOB_QUEUED },	/* a requeue, put first */
		{ "CONFIGURING", &JOB_QUEUED },	/* its nodes still boot */
		{ "RUNNING", &JOB_RUNNING },
		{ "COMPLETING", &JOB_RUNNING },
		{ "SUSPENDED", &JOB_RUNNING },
		{ "STOPPED", &JOB_RUNNING },
		{ "RESIZING", &JOB_RUNNING },
		{ "SIGNALING", &JOB_RUNNING },
		{ "STAGE_OUT", &JOB_RUNNING },
		{ "COMPLETED", &JOB_SUCCEEDED },
		{ "FAILED", &JOB_FAILED },
		{ "NODE_FAIL", &JOB_FAILED },
		{ "OUT_OF_MEMORY", &JOB_FAILED },
		{ "BOOT_FAIL", &JOB_FAILED },
		{ "DEADLINE", &JOB_FAILED },
		{ "PREEMPTED", &JOB_FAILED },	/* and not requeued */
		{ "REVOKED", &JOB_FAILED },
		{ "SPECIAL_EXIT", &JOB_FAILED },
		{ "CANCELLED", &JOB_CANCELLED },
		{ "TIMEOUT", &JOB_TIMEOUT },
	};
	size_t i, n = strcspn(name, " \t\n+");

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strlen(map[i].name) == n && strncmp(name, map[i].name,
		    n) == 0)
			return *map[i].state;
	return NULL;
}

/* A text being built, that stops growing (full) rather than overflow. */
struct text {
	char	*buf;
	size_t	 size, len;
	int	 full;
};

static void __attribute__((format(printf, 2, 3)))
add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->len, t->size - t->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= t->size - t->len)
		t->full = 1;
	else
		t->len += n;
}

/* s as one sh word: in single quotes, each ' as '\''. */
static void
add_quoted(struct text *t, const char *s)
{
	add(t, " '");
	for (; *s != '\0'; s++)
		if (*s == '\'')
			add(t, "'\\''");
		else
			add(t, "%c", *s);
	add(t, "'");
}

int
slurm_script_text(const struct conf *c, const struct job *j,
    char *const argv[], char *buf, size_t size)
{
	struct text t = { buf, size, 0, 0 };
	size_t i;

	add(&t, "#!/bin/sh\n"
	    "# swift-webhook job %s: its trainer, as sbatch runs it.\n"
	    "# Written by swift-webhook: each word of the command is quoted,\n"
	    "# so that sh expands nothing in it.\n", j->id);
	if (c->nodes == 1) {
		add(&t, "exec");
	} else {
		/* ms-swift's multi-node launch: torchrun reads these. */
		add(&t, "NNODES=%ld\n"
		    "NPROC_PER_NODE=%ld\n"
		    "MASTER_ADDR=$(scontrol show hostnames "
		    "\"$SLURM_JOB_NODELIST\" | head -n 1)\n"
		    "MASTER_PORT=$((20000 + SLURM_JOB_ID %% 20000))\n"
		    "export NNODES NPROC_PER_NODE MASTER_ADDR MASTER_PORT\n"
		    "exec srun --nodes=%ld --ntasks-per-node=1 "
		    "--kill-on-bad-exit=1 \\\n"
		    "    sh -c 'NODE_RANK=$SLURM_NODEID; export NODE_RANK; "
		    "exec \"$@\"' sh \\\n   ", c->nodes, conf_nproc(c) > 0 ?
		    conf_nproc(c) : 1, c->nodes);
	}
	for (i = 0; argv[i] != NULL; i++)
		add_quoted(&t, argv[i]);
	add(&t, "\n");
	return t.full ? -1 : (int)t.len;
}

int
slurm_script(const struct conf *c, const struct job *j, char *const argv[],
    char *err, size_t errlen)
{
	char *buf;
	size_t size = 1 << 16;
	int n;

	if ((buf = malloc(size)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if ((n = slurm_script_text(c, j, argv, buf, size)) == -1) {
		snprintf(err, errlen, "the batch script would be over %zu "
		    "bytes: the command is too long", size);
		free(buf);
		return -1;
	}
	if (file_write_at(j->dirfd, SLURM_SCRIPT, buf, n, 0640, 1) == -1) {
		snprintf(err, errlen, "write %s/%s: %s", j->dir, SLURM_SCRIPT,
		    strerror(errno));
		free(buf);
		return -1;
	}
	free(buf);
	return 0;
}

/*
 * The environment Slurm's commands run in: base (NULL: spawn_tool_env and
 * TZ=UTC), with SLURM_CONF from slurm_conf or the server's own.
 */
static int
slurm_env(const struct conf *c, char *const base[], struct strv *env)
{
	const char *conf = c->slurm_conf ? c->slurm_conf : getenv("SLURM_CONF");
	size_t i;

	if (base == NULL) {
		/* Times in UTC, whatever zone the machine or we are in. */
		if (spawn_tool_env(env) == -1 ||
		    strv_setenv(env, strdup("TZ=UTC")) == -1)
			return -1;
	} else {
		for (i = 0; base[i] != NULL; i++)
			if (strv_push(env, strdup(base[i])) == -1)
				return -1;
	}
	if (conf != NULL && strv_setenv(env, xprintf("SLURM_CONF=%s",
	    conf)) == -1)
		return -1;
	return 0;
}

/*
 * Runs a Slurm command to its end, its output (both streams) in out.
 * Returns its exit status, or -1 if it could not run or took over
 * SLURM_TIMEOUT (out says so).
 */
static int
slurm_run(const struct conf *c, char *const argv[], char *const base[],
    char *out, size_t outlen)
{
	struct strv env = { NULL, 0 };
	enum run_end end;
	int status;

	if (slurm_env(c, base, &env) == -1) {
		strv_free(&env);
		snprintf(out, outlen, "out of memory");
		return -1;
	}
	end = spawn_tool(argv, env.v, 0, SLURM_TIMEOUT, &status, out, outlen);
	strv_free(&env);
	switch (end) {
	case RUN_EXITED:
		return WIFEXITED(status) ? WEXITSTATUS(status) : 128 +
		    WTERMSIG(status);
	case RUN_TIMEOUT:
		snprintf(out, outlen, "%s: no answer within %d s", argv[0],
		    SLURM_TIMEOUT);
		return -1;
	default:
		return -1;
	}
}

/* The output's last line, for a reason: white space and newlines trimmed. */
static const char *
last_words(char *out)
{
	char *e = out + strlen(out), *s;

	while (e > out && (e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\r'))
		*--e = '\0';
	s = strrchr(out, '\n');
	return s != NULL ? s + 1 : out;
}

long
slurm_submit(const struct conf *c, const struct job *j, char *const envp[],
    const char *cwd, char *err, size_t errlen)
{
	struct strv argv = { NULL, 0 };
	char out[4096], *line, *end;
	long id = -1;
	size_t i;
	int rc;

	if (strv_push(&argv, strdup("sbatch")) == -1 ||
	    strv_push(&argv, strdup("--parsable")) == -1 ||
	    strv_push(&argv, xprintf("--job-name=swift-%s", j->id)) == -1 ||
	    strv_push(&argv, xprintf("--output=%s/log", j->dir)) == -1 ||
	    strv_push(&argv, strdup("--open-mode=append")) == -1 ||
	    strv_push(&argv, xprintf("--chdir=%s", cwd)) == -1 ||
	    (c->slurm_gpus == SLURM_GPUS_GRES && strv_push(&argv,
	    xprintf("--gres=gpu:%ld", c->gpus_per_job)) == -1) ||
	    (c->slurm_gpus == SLURM_GPUS_PER_NODE && strv_push(&argv,
	    xprintf("--gpus-per-node=%ld", c->gpus_per_job)) == -1) ||
	    (c->slurm_gpus == SLURM_GPUS_TOTAL && strv_push(&argv,
	    xprintf("--gpus=%ld", c->gpus_per_job * c->nodes)) == -1) ||
	    strv_push(&argv, xprintf("--nodes=%ld", c->nodes)) == -1 ||
	    (c->nodes > 1 && strv_push(&argv,
	    strdup("--ntasks-per-node=1")) == -1) ||
	    (c->max_runtime > 0 && strv_push(&argv, xprintf("--time=%ld",
	    (c->max_runtime + 59) / 60)) == -1))
		goto oom;
	for (i = 0; i < c->slurm_args.n; i++)
		if (strv_push(&argv, strdup(c->slurm_args.v[i])) == -1)
			goto oom;
	if (strv_push(&argv, xprintf("%s/%s", j->dir, SLURM_SCRIPT)) == -1)
		goto oom;
	rc = slurm_run(c, argv.v, envp, out, sizeof(out));
	if (rc != 0) {
		snprintf(err, errlen, "sbatch failed%s: %.300s", rc > 0 ?
		    "" : " to run", last_words(out));
		goto out;
	}
	/* "ID" or "ID;cluster", on the last line (warnings may come first). */
	line = (char *)last_words(out);
	errno = 0;
	id = strtol(line, &end, 10);
	if (errno != 0 || end == line || id <= 0 || (*end != '\0' &&
	    *end != ';')) {
		snprintf(err, errlen, "sbatch said no job id: %.300s", line);
		id = -1;
	}
	goto out;
oom:
	snprintf(err, errlen, "out of memory");
out:
	strv_free(&argv);
	return id;
}

/* The first line of out with a '|' in it, split in at most n fields. */
static int
fields(char *out, char *f[], int n)
{
	char *line, *next;
	int k;

	for (line = out; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (strchr(line, '|') == NULL)
			continue;
		for (k = 0; k < n; k++) {
			f[k] = line;
			if ((line = strchr(line, '|')) != NULL)
				*line++ = '\0';
			else
				line = "";
		}
		return 0;
	}
	return -1;
}

/* Slurm's times ("2026-11-30T09:15:02", UTC: see slurm_env), or 0. */
static time_t
slurm_time(const char *s)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL ||
	    (*end != '\0' && *end != '\n'))
		return 0;
	return timegm(&tm);
}

static void
copy(char *dst, size_t size, const char *s)
{
	snprintf(dst, size, "%s", s);
	dst[strcspn(dst, "\n\r")] = '\0';
}

int
slurm_parse_squeue(char *out, struct slurm_state *st)
{
	char *f[4];

	if (fields(out, f, 4) == -1 || (st->state = slurm_state_map(f[0])) ==
	    NULL)
		return 0;
	copy(st->name, sizeof(st->name), f[0]);
	if (st->state == JOB_QUEUED && strcmp(f[1], "None") != 0)
		copy(st->reason, sizeof(st->reason), f[1]);
	copy(st->nodes, sizeof(st->nodes), f[2]);
	if (st->state != JOB_QUEUED)	/* else when it may start */
		st->start = slurm_time(f[3]);
	return 1;
}

int
slurm_parse_sacct(char *out, struct slurm_state *st, char *err,
    size_t errlen)
{
	char *f[5], *colon;

	if (fields(out, f, 5) == -1)
		return 0;
	if ((st->state = slurm_state_map(f[0])) == NULL) {
		snprintf(err, errlen, "unknown state \"%.40s\"", f[0]);
		return -1;
	}
	copy(st->name, sizeof(st->name), f[0]);
	st->name[strcspn(st->name, " ")] = '\0';
	st->exit_code = atoi(f[1]);
	if ((colon = strchr(f[1], ':')) != NULL)
		st->signal = atoi(colon + 1);
	/* squeue's, if it has them: sacct's may still be partial. */
	if (st->nodes[0] == '\0' && strcmp(f[2], "None assigned") != 0)
		copy(st->nodes, sizeof(st->nodes), f[2]);
	st->start = slurm_time(f[3]);
	st->end = slurm_time(f[4]);
	return 1;
}

/*
 * The value of key in scontrol's one-line record (words "Key=value"
 * separated by spaces), cut at the next space, into v; 1, or 0 if no
 * word starts with "key=".
 */
static int
word_value(const char *out, const char *key, char *v, size_t size)
{
	const char *s;
	size_t n = strlen(key), len;

	for (s = out; (s = strstr(s, key)) != NULL; s++)
		if ((s == out || s[-1] == ' ' || s[-1] == '\n') && s[n] == '=') {
			s += n + 1;
			len = strcspn(s, " \n");
			snprintf(v, size, "%.*s", (int)(len < size ? len :
			    size - 1), s);
			return 1;
		}
	return 0;
}

int
slurm_parse_scontrol(const char *out, struct slurm_state *st, char *err,
    size_t errlen)
{
	char state[32], code[32], nodes[128], t[32], *colon;

	if (!word_value(out, "JobId", t, sizeof(t)) ||
	    !word_value(out, "JobState", state, sizeof(state)))
		return 0;
	if ((st->state = slurm_state_map(state)) == NULL) {
		snprintf(err, errlen, "unknown state \"%.31s\"", state);
		return -1;
	}
	copy(st->name, sizeof(st->name), state);
	if (word_value(out, "ExitCode", code, sizeof(code))) {
		st->exit_code = atoi(code);
		if ((colon = strchr(code, ':')) != NULL)
			st->signal = atoi(colon + 1);
	}
	if (word_value(out, "NodeList", nodes, sizeof(nodes)) &&
	    strcmp(nodes, "(null)") != 0 && st->nodes[0] == '\0')
		copy(st->nodes, sizeof(st->nodes), nodes);
	if (word_value(out, "StartTime", t, sizeof(t)))
		st->start = slurm_time(t);
	if (word_value(out, "EndTime", t, sizeof(t)))
		st->end = slurm_time(t);
	return 1;
}

/*
 * The controller's record of job id (scontrol show job), for a cluster
 * without accounting: it keeps an ended job MinJobAge seconds.  1: found,
 * 0: it does not know the job, -1: error.
 */
static int
ask_scontrol(const struct conf *c, long id, struct slurm_state *st,
    char *err, size_t errlen)
{
	char ids[32], out[8192], why[128];
	char *argv[] = { "scontrol", "-o", "show", "job", ids, NULL };
	int rc;

	snprintf(ids, sizeof(ids), "%ld", id);
	if ((rc = slurm_run(c, argv, NULL, out, sizeof(out))) != 0) {
		if (rc > 0 && strstr(out, "Invalid job id") != NULL)
			return 0;
		snprintf(err, errlen, "scontrol failed: %.300s",
		    last_words(out));
		return -1;
	}
	if ((rc = slurm_parse_scontrol(out, st, why, sizeof(why))) == -1)
		snprintf(err, errlen, "scontrol: job %ld: %s", id, why);
	return rc;
}

/* sacct's record of job id into st.  1: found, 0: none, -1: error. */
static int
ask_sacct(const struct conf *c, long id, struct slurm_state *st, char *err,
    size_t errlen)
{
	char ids[32], out[4096], why[128];
	char *argv[] = { "sacct", "-X", "-n", "-P", "-j", ids,
	    "--format=State,ExitCode,NodeList,Start,End", NULL };
	int rc;

	snprintf(ids, sizeof(ids), "%ld", id);
	if ((rc = slurm_run(c, argv, NULL, out, sizeof(out))) != 0) {
		snprintf(err, errlen, "sacct failed: %.300s", last_words(out));
		return -1;
	}
	if ((rc = slurm_parse_sacct(out, st, why, sizeof(why))) == -1)
		snprintf(err, errlen, "sacct: job %ld: %s", id, why);
	return rc;
}

enum slurm_known
slurm_query(const struct conf *c, long id, struct slurm_state *st, char *err,
    size_t errlen)
{
	char ids[32], out[4096], sacct_err[512];
	char *argv[] = { "squeue", "-h", "-t", "all", "-j", ids,
	    "--format=%T|%r|%N|%S", NULL };
	int rc, listed = 0;

	memset(st, 0, sizeof(*st));
	st->exit_code = -1;
	snprintf(ids, sizeof(ids), "%ld", id);
	rc = slurm_run(c, argv, NULL, out, sizeof(out));
	if (rc == 0 && slurm_parse_squeue(out, st)) {
		listed = 1;
		if (!job_state_final(st->state))
			return SLURM_KNOWN;
	} else if (rc != 0 && (rc == -1 || strstr(out,
	    "Invalid job id") == NULL)) {
		snprintf(err, errlen, "squeue failed: %.300s", last_words(out));
		return SLURM_ERROR;
	}
	/* Ended, or forgotten by the controller: the accounting's record. */
	switch (ask_sacct(c, id, st, err, errlen)) {
	case -1:
		/*
		 * No accounting to ask (none configured, or slurmdbd down):
		 * the controller's record, which it keeps MinJobAge seconds.
		 */
		switch (ask_scontrol(c, id, st, sacct_err, sizeof(sacct_err))) {
		case 1:
			if (job_state_final(st->state) || !listed)
				return SLURM_KNOWN;
			snprintf(err, errlen, "scontrol does not have job "
			    "%ld's end yet", id);
			return SLURM_ERROR;
		case 0:
			snprintf(sacct_err, sizeof(sacct_err), "%.200s", err);
			snprintf(err, errlen, "there is no accounting to ask: "
			    "%s", sacct_err);
			return SLURM_UNKNOWN;
		default:
			snprintf(err, errlen, "%s", sacct_err);
			return SLURM_ERROR;
		}
	case 1:
		if (!job_state_final(st->state) && listed) {
			/* squeue has it ended, sacct not yet: ask again. */
			snprintf(err, errlen, "sacct does not have job %ld's "
			    "end yet", id);
			return SLURM_ERROR;
		}
		return SLURM_KNOWN;
	case 0:
		snprintf(err, errlen, "sacct has no record of job %ld%s", id,
		    listed ? " yet" : "");
		/*
		 * Ended by squeue, and no record of its end yet: asked
		 * again, for its exit code, nodes and times are the
		 * accounting's.
		 */
		return listed ? SLURM_ERROR : SLURM_UNKNOWN;
	default:
		return SLURM_ERROR;
	}
}

long
slurm_parse_found(char *out, const char *want)
{
	char *line, *next, *bar, *end;
	long id, best = 0;

	for (line = out; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		line[strcspn(line, "\r")] = '\0';
		if ((bar = strchr(line, '|')) == NULL ||
		    strcmp(bar + 1, want) != 0)
			continue;
		errno = 0;
		id = strtol(line, &end, 10);
		if (errno == 0 && end == bar && end != line && id > 0 &&
		    (best == 0 || id < best))
			best = id;
	}
	return best;
}

long
slurm_find(const struct conf *c, const struct job *j, const char *cwd,
    const char **by, char *err, size_t errlen)
{
	char name[JOB_ID_MAX + 16], uid[32], since[32], script[PATH_MAX],
	    out[8192];
	char *queue[] = { "squeue", "-h", "-t", "all", "-u", uid, name,
	    "--format=%i|%o", NULL };
	char *acct[] = { "sacct", "-X", "-n", "-P", "-u", uid, name, "-S",
	    since, "--format=JobID,WorkDir", NULL };
	time_t t = j->created > 0 ? j->created - 60 : 0;
	struct tm tm;
	long id;

	snprintf(name, sizeof(name), "--name=swift-%s", j->id);
	snprintf(uid, sizeof(uid), "%u", (unsigned)geteuid());
	snprintf(script, sizeof(script), "%s/%s", j->dir, SLURM_SCRIPT);
	if (slurm_run(c, queue, NULL, out, sizeof(out)) != 0) {
		snprintf(err, errlen, "squeue failed: %.300s", last_words(out));
		return -1;
	}
	*by = "squeue";
	if ((id = slurm_parse_found(out, script)) > 0)
		return id;
	/* Ended, and forgotten by the controller: the accounting's. */
	gmtime_r(&t, &tm);
	strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%S", &tm);
	if (slurm_run(c, acct, NULL, out, sizeof(out)) != 0)
		return 0;	/* none to ask: squeue's word stands */
	*by = "sacct";
	return slurm_parse_found(out, cwd);
}

int
slurm_cancel(const struct conf *c, long id, char *err, size_t errlen)
{
	char ids[32], out[1024];
	char *argv[] = { "scancel", ids, NULL };

	snprintf(ids, sizeof(ids), "%ld", id);
	if (slurm_run(c, argv, NULL, out, sizeof(out)) != 0) {
		snprintf(err, errlen, "scancel %ld failed: %.300s", id,
		    last_words(out));
		return -1;
	}
	return 0;
}

int
slurm_check(const struct conf *c, char *err, size_t errlen, char *note,
    size_t notelen)
{
	char out[4096];
	char *version[] = { "sbatch", "--version", NULL };
	char *ping[] = { "squeue", "-h", "--format=%i", "-j", "1", NULL };
	char *acct[] = { "sacct", "-n", "-X", "-S", "now", "--format=JobID",
	    NULL };
	char *ctl[] = { "scontrol", "-o", "show", "config", NULL };
	int rc;

	note[0] = '\0';
	if (slurm_run(c, version, NULL, out, sizeof(out)) != 0) {
		snprintf(err, errlen, "sbatch --version: %.300s (install the "
		    "Slurm client, Debian's slurm-client)", last_words(out));
		return -1;
	}
	rc = slurm_run(c, ping, NULL, out, sizeof(out));
	if (rc != 0 && (rc == -1 || strstr(out, "Invalid job id") == NULL)) {
		snprintf(err, errlen, "squeue: %.300s (is slurmctld "
		    "reachable? slurm_conf or SLURM_CONF names the cluster)",
		    last_words(out));
		return -1;
	}
	if (slurm_run(c, acct, NULL, out, sizeof(out)) == 0)
		return 0;
	snprintf(note, notelen, "Slurm: no accounting to ask (sacct: %.200s):"
	    " a job's end comes from the controller, which keeps an ended "
	    "job MinJobAge seconds; one that ended longer ago while no "
	    "supervisor watched it ends failed", last_words(out));
	if (slurm_run(c, ctl, NULL, out, sizeof(out)) != 0) {
		snprintf(err, errlen, "neither sacct nor scontrol answers: "
		    "%.300s", last_words(out));
		return -1;
	}
	return 0;
}
