/*
 * fuzz_deployment: libFuzzer harness for a deployment's record, which
 * sits in the run directory a trainer may write (make fuzz): the input
 * is deploy.json, read as every reader does (deployment_read, the live
 * list, current and previous), written back and read again; and also
 * a stop request.
 */
#include <sys/stat.h>

#include "deployment.h"
#include "fuzz.h"

#define ID	"20261201T091502.123Z-abc1234-deploy"

static struct rundir rd;
static char depdir[PATH_MAX];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char run[PATH_MAX];	/* rd.path points here */
	char err[512], path[PATH_MAX + 32];

	(void)argc;
	(void)argv;
	fz_init();
	snprintf(run, sizeof(run), "%s/run", fz_dir);
	snprintf(depdir, sizeof(depdir), "%s/%s/%s", run, DEPLOY_FOLDER, ID);
	snprintf(path, sizeof(path), "%s/%s", run, DEPLOY_FOLDER);
	if (mkdir(run, 0750) == -1 || mkdir(path, 0750) == -1 ||
	    mkdir(depdir, 0750) == -1)
		abort();
	snprintf(path, sizeof(path), "%s/%s/.live", run, DEPLOY_FOLDER);
	if (mkdir(path, 0750) == -1)
		abort();
	fz_put(path, ID, "", 0);
	if (rundir_open(&rd, run, 1, err, sizeof(err)) == -1)
		abort();
	return 0;
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct deployment d, e, live[4];
	char why[256];

	fz_put(depdir, "deploy.json", data, size);
	if (deployment_read(&rd, ID, &d) == 0) {
		if (d.state != NULL && !deployment_live(d.state) &&
		    d.state != DEPLOY_STOPPED && d.state != DEPLOY_FAILED)
			abort();	/* one of ours, or NULL */
		if (d.port < 0 || d.port > 65535 || d.pid < 0 ||
		    (d.job[0] != '\0' && !job_id_valid(d.job)) ||
		    (d.sha[0] != '\0' && !commit_id_valid(d.sha)) ||
		    d.model_name[0] == '-' ||
		    strspn(d.gpus, "0123456789,") != strlen(d.gpus))
			abort();	/* what the readers rely on */
		if (d.state != NULL && deployment_write(&d) == 0) {
			if (deployment_read(&rd, ID, &e) == -1 ||
			    e.state != d.state || e.port != d.port ||
			    strcmp(e.job, d.job) != 0)
				abort();	/* what it wrote, it reads */
			deployment_close(&e);
		}
		deployment_close(&d);
	}
	deployment_live_list(&rd, DEPLOY_ANY, NULL, live, 4);
	if (deployment_current(&rd, "", &d) == 0)
		deployment_close(&d);
	if (deployment_previous(&rd, "", &d) == 0)
		deployment_close(&d);
	fz_put(depdir, "stop", data, size);
	if (deployment_read(&rd, ID, &d) == 0) {
		if (deployment_stop_requested(&d, why, sizeof(why)) &&
		    strcspn(why, "\n\r\033") != strlen(why))
			abort();	/* words for a log line */
		deployment_close(&d);
	}
	return 0;
}
