/*
 * fuzz_job: libFuzzer harness for what a job folder holds that the
 * trainer may have rewritten (make fuzz): the input is job.json, read as
 * every reader does (job_read, job_load_shown, job_valid, written back
 * by job_save and read again), as show prints it (json_text_tty: UTF-8,
 * no DEL or C1, still JSON), and also a reaper's exit file and a stop
 * request.
 */
#include <sys/stat.h>
#include <time.h>

#include "fuzz.h"
#include "job.h"
#include "spawn.h"

#define ID	"20261130T091502.123Z-abc1234-sft"

static struct rundir rd;
static char jobdir[PATH_MAX];
static int jobfd;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char run[PATH_MAX];	/* rd.path points here */
	char err[512];

	(void)argc;
	(void)argv;
	fz_init();
	snprintf(run, sizeof(run), "%s/run", fz_dir);
	snprintf(jobdir, sizeof(jobdir), "%s/%s", run, ID);
	if (mkdir(run, 0750) == -1 || mkdir(jobdir, 0750) == -1 ||
	    rundir_open(&rd, run, 1, err, sizeof(err)) == -1 ||
	    (jobfd = open(jobdir, O_RDONLY | O_DIRECTORY)) == -1)
		abort();
	return 0;
}

/* o as show prints it: for a terminal, and JSON still. */
static void
shown(const cJSON *o)
{
	char *s, *t;
	cJSON *back;
	size_t i;

	if ((s = cJSON_Print(o)) == NULL)
		return;
	if ((t = json_text_tty(s)) == NULL)
		abort();
	if (!utf8_valid(t))
		abort();
	for (i = 0; t[i] != '\0'; i++)
		if ((unsigned char)t[i] == 0x7f || ((unsigned char)t[i] ==
		    0xc2 && (unsigned char)t[i + 1] >= 0x80 &&
		    (unsigned char)t[i + 1] < 0xa0))
			abort();
	if ((back = cJSON_Parse(t)) == NULL)
		abort();
	cJSON_Delete(back);
	free(t);
	free(s);
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char err[512];
	struct job j;
	time_t when;
	cJSON *o;
	int st;

	fz_put(jobdir, "job.json", data, size);
	if (job_read(&rd, ID, &j) == 0) {
		job_valid(&j, err, sizeof(err));
		job_state_final(j.state);
		job_adoptable(&rd, &j);
		if (job_save(&j, 0) == 0) {
			job_close(&j);
			if (job_read(&rd, ID, &j) == -1)
				abort();	/* what it wrote, it reads */
		}
		job_close(&j);
	}
	if ((o = job_load_shown(&rd, ID, NULL)) != NULL) {
		shown(o);
		cJSON_Delete(o);
	}
	fz_put(jobdir, "exit", data, size);
	if (spawn_reaped_read(jobfd, "exit", geteuid(), &st, &when) == 0 &&
	    (st < 0 || st > 0xffff || when <= 0))
		abort();
	fz_put(jobdir, "stop", data, size);
	if (job_read(&rd, ID, &j) == 0) {
		job_stop_requested(&j);
		job_close(&j);
	}
	return 0;
}
