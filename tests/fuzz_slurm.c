/*
 * fuzz_slurm: libFuzzer harness for what Slurm's tools answer (make
 * fuzz): the input is squeue's answer, sacct's, and scontrol's, and
 * squeue's or sacct's list of jobs found by name.
 */
#include "fuzz.h"
#include "job.h"
#include "slurm.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* What the parsers leave in st is bounded and NUL-terminated. */
static void
sane(const struct slurm_state *st)
{
	if (strnlen(st->name, sizeof(st->name)) == sizeof(st->name) ||
	    strnlen(st->reason, sizeof(st->reason)) == sizeof(st->reason) ||
	    strnlen(st->nodes, sizeof(st->nodes)) == sizeof(st->nodes) ||
	    strpbrk(st->nodes, "\n\r") != NULL)
		abort();
	/* A state of job.h's, by its own (static) name. */
	if (st->state != NULL && st->state != JOB_QUEUED && st->state !=
	    JOB_RUNNING && st->state != JOB_SUCCEEDED && st->state !=
	    JOB_FAILED && st->state != JOB_KILLED && st->state !=
	    JOB_CANCELLED && st->state != JOB_TIMEOUT)
		abort();
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct slurm_state st;
	char err[256], *s;

	if ((s = fz_string(data, size)) == NULL)
		return 0;
	memset(&st, 0, sizeof(st));
	slurm_parse_squeue(s, &st);
	sane(&st);
	free(s);
	if ((s = fz_string(data, size)) == NULL)
		return 0;
	memset(&st, 0, sizeof(st));
	if (slurm_parse_sacct(s, &st, err, sizeof(err)) == 1 &&
	    st.state == NULL)
		abort();
	sane(&st);
	slurm_state_map(s);
	free(s);
	if ((s = fz_string(data, size)) == NULL)
		return 0;
	memset(&st, 0, sizeof(st));
	if (slurm_parse_scontrol(s, &st, err, sizeof(err)) == 1 &&
	    st.state == NULL)
		abort();
	sane(&st);
	free(s);
	if ((s = fz_string(data, size)) == NULL)
		return 0;
	if (slurm_parse_found(s, "/r/j/job.sbatch") < 0)
		abort();
	free(s);
	return 0;
}
