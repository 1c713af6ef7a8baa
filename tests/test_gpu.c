/*
 * test_gpu.c: the GPU check's reading of nvidia-smi, with
 * tests/fake-tool as nvidia-smi: free, busy, and every way the answer
 * can be useless (which must never hold the queue).  (The check in a
 * job's start: tests/gpu.sh.)
 */
#include "t.h"
#include "fixture.h"
#include "gpu.h"
#include "spawn.h"

#define PLANNED	8

extern char **environ;

static const char smi[] = "0, 100, 81920\n1, 50000, 81920\n"
    "2, 1024, 81920\n";

static void
row(const struct conf *c, const char *name, const char *out, int rc,
    const char *gpus, enum gpu_result want, const char *why_has)
{
	enum gpu_result r;
	char why[256] = "";

	fx_tool("nvidia-smi", out, rc);
	r = gpu_busy(c, gpus, why, sizeof(why));
	CHECK(r == want && (why_has == NULL || strstr(why, why_has) != NULL),
	    name, "got %d \"%s\"", r, why);
}

int
main(int argc, char *argv[])
{
	static const char *const tools[] = { "nvidia-smi", NULL };
	char calls[PATH_MAX], *s;
	struct conf c;

	(void)argc;
	PLAN(PLANNED);
	if (fx_init("gpu", argv[0], tools) == -1 ||
	    spawn_init(environ) == -1 ||
	    fx_conf(&c, "conf", "secret = s\nrun_dir = /r\ngpus = 0 1 2\n"
	    "gpu_check = yes\ngpu_busy_mib = 1024\n") == -1) {
		CHECK(0, "setup", "%s", strerror(errno));
		return t_exit();
	}
	row(&c, "its GPU nearly empty: free", smi, 0, "0", GPU_FREE, NULL);
	row(&c, "gpu_busy_mib itself is still free", smi, 0, "2", GPU_FREE,
	    NULL);
	row(&c, "one of its GPUs in use: busy, which and how much", smi, 0,
	    "0,1", GPU_BUSY, "GPU 1 has 50000 of 81920 MiB in use");
	row(&c, "a GPU nvidia-smi does not list: unknown", smi, 0, "3",
	    GPU_UNKNOWN, "does not list GPU 3");
	row(&c, "a GPU named by UUID: unknown", smi, 0, "GPU-5d1c", GPU_UNKNOWN,
	    "not an index");
	row(&c, "nvidia-smi fails: unknown, with its words", "NVIDIA-SMI has "
	    "failed because it couldn't communicate with the driver\n", 9, "0",
	    GPU_UNKNOWN, "nvidia-smi failed (status 9): NVIDIA-SMI has failed");
	row(&c, "garbage: unknown", "<html>\n", 0, "0", GPU_UNKNOWN,
	    "does not list GPU 0");
	s = fx_read(fx_path(calls, "fake/nvidia-smi.calls"));
	CHECK(s != NULL && strstr(s, "--query-gpu=index,memory.used,"
	    "memory.total --format=csv,noheader,nounits\n"), "nvidia-smi is "
	    "asked for index, used and total, in CSV", "%s", s ? s : "");
	free(s);
	conf_free(&c);
	fx_done();
	return t_exit();
}
