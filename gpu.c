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
	struct strv env = { NULL, 0 };
	enum gpu_result res = GPU_FREE;
	char out[8192], *end;
	const char *g;
	long index, used, total;
	struct run r;
	int status;

	if (spawn_tool_env(&env) == -1) {
		snprintf(why, whylen, "out of memory");
		return GPU_UNKNOWN;
	}
	memset(&r, 0, sizeof(r));
	r.argv = argv;
	r.envp = env.v;
	r.dir = "/";
	r.deadline = time(NULL) + SMI_TIMEOUT;
	r.quiet = 1;
	switch (spawn_run(&r, &status, out, sizeof(out))) {
	case RUN_EXITED:
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
			break;
		snprintf(why, whylen, "nvidia-smi failed (status %d): %.200s",
		    WIFEXITED(status) ? WEXITSTATUS(status) : 128 +
		    WTERMSIG(status), out);
		res = GPU_UNKNOWN;
		goto out;
	case RUN_TIMEOUT:
	case RUN_STOPPED:
		snprintf(why, whylen, "nvidia-smi did not answer within %ds",
		    SMI_TIMEOUT);
		res = GPU_UNKNOWN;
		goto out;
	case RUN_ERROR:
		snprintf(why, whylen, "%s", out);
		res = GPU_UNKNOWN;
		goto out;
	}
	for (g = gpus; *g != '\0'; g = *end ? end + 1 : end) {
		index = strtol(g, &end, 10);
		if (end == g || (*end != ',' && *end != '\0')) {
			snprintf(why, whylen, "GPU \"%.*s\" is not an index "
			    "nvidia-smi lists", (int)strcspn(g, ","), g);
			res = GPU_UNKNOWN;
			goto out;
		}
		if (gpu_line(out, index, &used, &total) == -1) {
			snprintf(why, whylen, "nvidia-smi does not list GPU "
			    "%ld", index);
			res = GPU_UNKNOWN;
			goto out;
		}
		if (used > c->gpu_busy_mib && res == GPU_FREE) {
			snprintf(why, whylen, "GPU %ld has %ld of %ld MiB in "
			    "use by another process (gpu_busy_mib %ld)", index,
			    used, total, c->gpu_busy_mib);
			res = GPU_BUSY;
		}
	}
out:
	strv_free(&env);
	return res;
}
