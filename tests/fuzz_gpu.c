/*
 * fuzz_gpu: libFuzzer harness for nvidia-smi's answer (make fuzz): the
 * input's first line is the job's GPUs (CUDA_VISIBLE_DEVICES), the rest
 * what nvidia-smi printed.
 */
#include "fuzz.h"
#include "gpu.h"

static struct conf conf;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_init();
	fz_conf(&conf, "secret = x\nrun_dir = /nonexistent\ngpus = 0 1\n"
	    "gpu_check = yes\n");
	return 0;
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char why[256], *s, *nl;
	enum gpu_result r;

	if ((s = fz_string(data, size)) == NULL)
		return 0;
	if ((nl = strchr(s, '\n')) != NULL) {
		*nl = '\0';
		r = gpu_verdict(&conf, s, nl + 1, why, sizeof(why));
		if (r != GPU_FREE && r != GPU_BUSY && r != GPU_UNKNOWN)
			abort();
	}
	free(s);
	return 0;
}
