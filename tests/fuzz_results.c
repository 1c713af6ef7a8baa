/*
 * fuzz_results: libFuzzer harness for logging.jsonl, a trainer's file
 * (make fuzz): the input is the file; results, progress and the loss
 * curve are read from it, and what results_to_json writes is read back.
 */
#include <math.h>

#include "fuzz.h"
#include "results.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_init();
	return 0;
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct results r, back;
	struct progress p;
	struct point *pts = NULL;
	char buf[256];
	cJSON *o;
	int n, i;

	fz_put(fz_dir, "logging.jsonl", data, size);
	memset(&r, 0, sizeof(r));
	if (results_read(fz_dir, &r) == 0) {
		results_checkpoint(&r);
		if ((o = cJSON_CreateObject()) != NULL) {
			results_to_json(&r, o);
			memset(&back, 0, sizeof(back));
			results_from_json(&back, o);
			results_free(&back);
			cJSON_Delete(o);
		}
	}
	results_free(&r);
	if (progress_read(fz_dir, &p) == 0) {
		progress_percent(&p);
		progress_format(&p, buf, sizeof(buf));
		if (strlen(buf) >= sizeof(buf))
			abort();
	}
	if ((n = results_curve(fz_dir, &pts)) > 0)
		for (i = 0; i < n; i++)
			results_format(pts[i].loss, buf);
	free(pts);
	return 0;
}
