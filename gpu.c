/*
 * gpu.c: the GPU check before a trainer starts.  See gpu.h.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "gpu.h"
#include "spawn.h"
#include "util.h"

#define SMI_TIMEOUT	10	/* seconds nvidia-smi may take */

/*
 * The line of nvidia-smi's answer for GPU index, as used and total MiB.
 * Returns 0, or -1 if no line names it.
 */
static int
gpu_line(const char *out, long index, long *used, long *total)
{
	const char *l;
	long i, u, t;

	for (l = out; *l != '\0'; l = strchr(l, '\n') ? strchr(l, '\n') + 1 :
	    l + strlen(l))
		if (sscanf(l, " %ld , %ld , %ld", &i, &u, &t) == 3 &&
		    i == index) {
			*used = u;
			*total = t;
			return 0;
		}
	return -1;
}

enum gpu_result
gpu_busy(const struct conf *c, const char *gpus, char *why, size_t whylen)
{
	char *const argv[] = { "nvidia-smi",
	    "--query-gpu=index,memory.used,memory.total",
	    "--format=csv,noheader,nounits", NULL };
	char out[8192];
	int status;

	switch (spawn_tool(argv, NULL, 0, SMI_TIMEOUT, &status, out,
	    sizeof(out))) {
	case RUN_EXITED:
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			break;
		snprintf(why, whylen, "nvidia-smi failed (status %d): %.200s",
		    WIFEXITED(status) ? WEXITSTATUS(status) : 128 +
		    WTERMSIG(status), out);
		return GPU_UNKNOWN;
	case RUN_TIMEOUT:
	case RUN_STOPPED:
		snprintf(why, whylen, "nvidia-smi did not answer within %ds",
		    SMI_TIMEOUT);
		return GPU_UNKNOWN;
	case RUN_ERROR:
		snprintf(why, whylen, "%s", out);
		return GPU_UNKNOWN;
	}
	return gpu_verdict(c, gpus, out, why, whylen);
}

enum gpu_result
gpu_verdict(const struct conf *c, const char *gpus, const char *out,
    char *why, size_t whylen)
{
	enum gpu_result res = GPU_FREE;
	long index, used, total;
	const char *g;
	char *end;

	for (g = gpus; *g != '\0'; g = *end ? end + 1 : end) {
		index = strtol(g, &end, 10);
		if (end == g || (*end != ',' && *end != '\0')) {
			snprintf(why, whylen, "GPU \"%.*s\" is not an index "
			    "nvidia-smi lists", (int)strcspn(g, ","), g);
			return GPU_UNKNOWN;
		}
		if (gpu_line(out, index, &used, &total) == -1) {
			snprintf(why, whylen, "nvidia-smi does not list GPU "
			    "%ld", index);
			return GPU_UNKNOWN;
		}
		if (used > c->gpu_busy_mib && res == GPU_FREE) {
			snprintf(why, whylen, "GPU %ld has %ld of %ld MiB in "
			    "use by another process (gpu_busy_mib %ld)", index,
			    used, total, c->gpu_busy_mib);
			res = GPU_BUSY;
		}
	}
	return res;
}
