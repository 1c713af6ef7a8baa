/*
 * test_slurm.c: the Slurm backend's pieces that need no cluster: how
 * Slurm's states map to a job's, and the batch script, which sh runs:
 * every word from the job must reach the trainer as it was, whatever
 * quotes, $(...), backquotes, globs or newlines it holds.  (The cluster
 * itself is tests/slurm.sh.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "slurm.h"
#include "t.h"

static void
test_map(void)
{
	static const struct {
		const char	*slurm;
		const char *const *job;
	} m[] = {
		{ "PENDING", &JOB_QUEUED }, { "REQUEUED", &JOB_QUEUED },
		{ "CONFIGURING", &JOB_QUEUED }, { "RUNNING", &JOB_RUNNING },
		{ "COMPLETING", &JOB_RUNNING }, { "SUSPENDED", &JOB_RUNNING },
		{ "COMPLETED", &JOB_SUCCEEDED }, { "FAILED", &JOB_FAILED },
		{ "NODE_FAIL", &JOB_FAILED }, { "OUT_OF_MEMORY", &JOB_FAILED },
		{ "PREEMPTED", &JOB_FAILED }, { "TIMEOUT", &JOB_TIMEOUT },
		{ "CANCELLED", &JOB_CANCELLED },
		{ "CANCELLED by 0", &JOB_CANCELLED },
		{ "EXPEDITING", &JOB_QUEUED },
	};
	char name[64];
	size_t i;

	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		snprintf(name, sizeof(name), "map: %s", m[i].slurm);
		CHECK(slurm_state_map(m[i].slurm) == *m[i].job, name,
		    "got %s", slurm_state_map(m[i].slurm) ?
		    slurm_state_map(m[i].slurm) : "NULL");
	}
	CHECK(slurm_state_map("RUNNINGX") == NULL, "map: RUNNINGX unknown",
	    "mapped");
	CHECK(slurm_state_map("") == NULL, "map: empty unknown", "mapped");
	CHECK(slurm_state_map("PEND") == NULL, "map: a prefix is unknown",
	    "mapped");
}

/* Runs script under sh; returns what it printed (to free). */
static char *
run_sh(const char *script)
{
	char path[] = "/tmp/swh-test-slurm-XXXXXX", *out;
	size_t n;
	FILE *f;
	int fd, p[2], status;
	pid_t pid;

	if ((fd = mkstemp(path)) == -1 || write(fd, script, strlen(script)) !=
	    (ssize_t)strlen(script) || close(fd) == -1 || pipe(p) == -1)
		return NULL;
	if ((pid = fork()) == 0) {
		dup2(p[1], 1);
		close(p[0]);
		execl("/bin/sh", "sh", path, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	out = calloc(1, 1 << 16);
	f = fdopen(p[0], "r");
	n = fread(out, 1, (1 << 16) - 1, f);
	out[n] = '\0';
	fclose(f);
	waitpid(pid, &status, 0);
	unlink(path);
	return out;
}

static void
test_script(void)
{
	char *const argv[] = { "/usr/bin/printf", "[%s]\\n", "it's",
	    "$(touch /tmp/swh-test-slurm-pwned)", "`id`", "*", "a b\nc",
	    "''", "\\", "--output_dir", NULL };
	const char *want = "[it's]\n[$(touch /tmp/swh-test-slurm-pwned)]\n"
	    "[`id`]\n[*]\n[a b\nc]\n['']\n[\\]\n[--output_dir]\n";
	struct conf c;
	struct job j;
	char buf[4096], *out;
	int n;

	memset(&c, 0, sizeof(c));
	c.nodes = 1;
	c.gpus_per_job = 1;
	job_init(&j);
	snprintf(j.id, sizeof(j.id), "20261130T000000.000Z-abcdef0-sft");
	n = slurm_script_text(&c, &j, argv, buf, sizeof(buf));
	CHECK(n > 0 && strncmp(buf, "#!/bin/sh\n", 10) == 0,
	    "script: a sh script", "%d: %s", n, buf);
	unlink("/tmp/swh-test-slurm-pwned");
	out = run_sh(buf);
	CHECK(out != NULL && strcmp(out, want) == 0,
	    "script: each word reaches the command as it was", "got \"%s\"",
	    out ? out : "(nothing)");
	CHECK(access("/tmp/swh-test-slurm-pwned", F_OK) == -1,
	    "script: nothing in a word is run", "the file was made");
	free(out);
	CHECK(strstr(buf, "srun") == NULL && strstr(buf, "NNODES") == NULL,
	    "script: one node: the command itself, no srun", "%s", buf);
	CHECK(slurm_script_text(&c, &j, argv, buf, 64) == -1,
	    "script: too long for the buffer: refused", "fitted");

	c.nodes = 3;
	c.gpus_per_job = 4;
	c.nproc_per_node = NPROC_GPUS;
	n = slurm_script_text(&c, &j, argv, buf, sizeof(buf));
	CHECK(n > 0 && strstr(buf, "NNODES=3\n") && strstr(buf,
	    "NPROC_PER_NODE=4\n") && strstr(buf, "export NNODES "
	    "NPROC_PER_NODE MASTER_ADDR MASTER_PORT\n"),
	    "script: nodes = 3: ms-swift's multi-node variables", "%s", buf);
	CHECK(strstr(buf, "exec srun --nodes=3 --ntasks-per-node=1 "
	    "--kill-on-bad-exit=1") != NULL && strstr(buf,
	    "NODE_RANK=$SLURM_NODEID") != NULL,
	    "script: nodes = 3: one srun task per node, NODE_RANK from Slurm",
	    "%s", buf);
	/* Each task's sh -c ... sh WORDS: the same words, not re-read. */
	setenv("SLURM_JOB_NODELIST", "n7", 1);
	setenv("SLURM_JOB_ID", "41", 1);
	setenv("SLURM_NODEID", "2", 1);
	{
		char fake[4096], *s;

		/* srun and scontrol as the tasks would see them. */
		snprintf(fake, sizeof(fake), "srun() { while [ \"${1#--}\" "
		    "!= \"$1\" ]; do shift; done; \"$@\"; }\n"
		    "scontrol() { echo n7; echo n8; }\n%s", buf);
		s = strstr(fake, "exec srun");
		memmove(s, s + 5, strlen(s + 5) + 1);	/* "exec " */
		out = run_sh(fake);
		CHECK(out != NULL && strcmp(out, want) == 0,
		    "script: nodes = 3: the words reach the command as they "
		    "were", "got \"%s\"", out ? out : "(nothing)");
		free(out);
	}
}

/* scontrol's one-line record, as Slurm prints it, and what is refused. */
static void
test_scontrol(void)
{
	struct slurm_state st;
	char err[128];

	memset(&st, 0, sizeof(st));
	CHECK(slurm_parse_scontrol("JobId=12 JobName=swift-a UserId=x(1) "
	    "JobState=CANCELLED Reason=None ExitCode=0:15 RunTime=00:00:05 "
	    "StartTime=2026-11-30T10:00:00 EndTime=2026-11-30T10:00:05 "
	    "Partition=debug NodeList=n1 BatchHost=n1\n", &st, err,
	    sizeof(err)) == 1 && st.state == JOB_CANCELLED &&
	    st.exit_code == 0 && st.signal == 15 && strcmp(st.nodes, "n1") ==
	    0 && st.end - st.start == 5, "scontrol: state, exit code and "
	    "signal, nodes, times", "%s %d %d %s", st.state ? st.state : "-",
	    st.exit_code, st.signal, st.nodes);
	memset(&st, 0, sizeof(st));
	CHECK(slurm_parse_scontrol("JobId=13 Comment=JobState=COMPLETED "
	    "JobState=PENDING Reason=Resources NodeList=(null)", &st, err,
	    sizeof(err)) == 1 && st.state == JOB_QUEUED && st.nodes[0] ==
	    '\0', "scontrol: a key inside another's value is not it; "
	    "(null) nodes are none", "%s", st.state ? st.state : "-");
	CHECK(slurm_parse_scontrol("JobId=14 JobState=BOGUS", &st, err,
	    sizeof(err)) == -1 && strstr(err, "BOGUS") != NULL,
	    "scontrol: an unknown state is an error, said", "%s", err);
	CHECK(slurm_parse_scontrol("slurm_load_jobs error: Invalid job id "
	    "specified", &st, err, sizeof(err)) == 0, "scontrol: no record",
	    "parsed");
}

/* Finding a job by name: squeue's "%i|%o" and sacct's "JobID|WorkDir". */
static void
test_found(void)
{
	static const struct {
		const char	*out;
		long		 id;
		const char	*name;
	} f[] = {
		{ "123|/r/j/job.sbatch\n", 123, "found: its script" },
		{ "130|/r/j/job.sbatch\n120|/r/j/job.sbatch\n", 120,
		    "found: the lowest of two" },
		{ "7|/r/j/job.sbatch\r\n", 7, "found: a CRLF line" },
		{ "5|/r/k/job.sbatch\n", 0, "found: another job's script" },
		{ "8|/r/j/job.sbatch/x\n9|/r/j/job.sbatc\n", 0,
		    "found: longer or shorter is not it" },
		{ "abc|/r/j/job.sbatch\n-3|/r/j/job.sbatch\n"
		    "12x|/r/j/job.sbatch\n|/r/j/job.sbatch\n", 0,
		    "found: no id, a negative one, or a word after it" },
		{ "99999999999999999999999|/r/j/job.sbatch\n", 0,
		    "found: an id that overflows" },
		{ "squeue: error: Invalid user\n", 0, "found: no line" },
		{ "", 0, "found: nothing" },
	};
	char buf[256];
	size_t i;
	long id;

	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		snprintf(buf, sizeof(buf), "%s", f[i].out);
		id = slurm_parse_found(buf, "/r/j/job.sbatch");
		CHECK(id == f[i].id, f[i].name, "got %ld", id);
	}
}

int
main(void)
{
	PLAN(39);
	test_map();
	test_script();
	test_scontrol();
	test_found();
	return t_exit();
}
