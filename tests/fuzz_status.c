/*
 * fuzz_status: libFuzzer harness for the status page's path and query
 * (make fuzz; /compare and /trend too), over a run directory with a few
 * jobs (their configs kept): the input is
 * PATH_INFO, then (after a NUL, or else a '?') QUERY_STRING.  A body
 * never holds a '<' that came from the input: the input's bytes are
 * kept out of the page's markup.
 */
#include <sys/stat.h>

#include "fuzz.h"
#include "status.h"

static struct conf conf;
static struct rundir rd;

/* A job folder with job.json text (and a log), under run. */
static void
job(const char *run, const char *id, const char *json)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s/%s", run, id);
	if (mkdir(dir, 0750) == -1)
		abort();
	fz_put(dir, "job.json", json, strlen(json));
	fz_put(dir, "log", "step 1\n<b>\n", 11);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char run[PATH_MAX];	/* rd.path points here */
	char text[PATH_MAX + 64], err[512];

	(void)argc;
	(void)argv;
	fz_init();
	snprintf(run, sizeof(run), "%s/run", fz_dir);
	if (mkdir(run, 0750) == -1)
		abort();
	job(run, "20261130T091502.123Z-abc1234-sft", "{\"state\":\"running\","
	    "\"branch\":\"main\",\"sha\":\"abc1234abc1234abc1234abc1234abc1234"
	    "abcd\",\"config\":\"configs/sft.yaml\",\"created\":"
	    "\"2026-11-30T09:15:02Z\",\"pid\":1,\"config_copy\":"
	    "\"config.yaml\",\"commit_title\":\"Raise lr\"}");
	snprintf(text, sizeof(text), "%s/20261130T091502.123Z-abc1234-sft", run);
	fz_put(text, "config.yaml", "model: m\nlr: 2\n", 15);
	job(run, "20261129T091502.123Z-def5678-x", "{\"state\":\"succeeded\","
	    "\"branch\":\"dev\",\"sha\":\"def5678\",\"config\":\"x.yaml\","
	    "\"created\":\"2026-11-29T09:15:02Z\",\"started\":"
	    "\"2026-11-29T09:15:03Z\",\"finished\":\"2026-11-29T10:15:03Z\","
	    "\"results\":{\"loss\":0.5},\"config_copy\":\"config.yaml\"}");
	snprintf(text, sizeof(text), "%s/20261129T091502.123Z-def5678-x", run);
	fz_put(text, "config.yaml", "model: m\nlr: 1\n", 15);
	snprintf(text, sizeof(text), "secret = x\nrun_dir = %s\n", run);
	fz_conf(&conf, text);
	if (rundir_open(&rd, run, 0, err, sizeof(err)) == -1)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct page pg = { 500, "text/plain", NULL, 0 };
	char *s, *q;

	if ((s = fz_string(data, size)) == NULL)
		return 0;
	if (strlen(s) < size)
		q = s + strlen(s) + 1;
	else if ((q = strchr(s, '?')) != NULL)
		*q++ = '\0';
	if (status_route(s)) {
		status_render(&rd, &conf, s, q, &pg);
		if (pg.status < 200 || pg.status > 599 || (pg.body != NULL &&
		    pg.len == 0 && pg.status == 200))
			abort();
		free(pg.body);
	}
	free(s);
	return 0;
}
