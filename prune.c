/*
 * prune.c: removes what the run directory no longer needs.  See prune.h.
 *
 * A job folder goes only if its job has ended (a final state in job.json,
 * so never a queued, preparing or running one, nor one whose end's work
 * is left: "ending") longer ago than
 * --older-than (30 days by default), and, with --state, only in one of
 * those states.  A delivery record goes when it is that old too (GitHub
 * redelivers for days, not months), a claim when the job it names is
 * gone: a later delivery of that commit then trains again.
 *
 * What serves stays: the job folder (its checkpoint) and the deployment
 * record of each live deployment and, per repository, of the previous
 * one (what rollback serves).  Without --state (which names jobs'
 * states), a deployment record that ended (stopped, failed) that long
 * ago goes too, its supervisor gone.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "deployment.h"
#include "job.h"
#include "prune.h"
#include "util.h"

struct prune {
	struct rundir	*rd;
	time_t		 cutoff;	/* ended before: old */
	const char	**states;	/* NULL: every final state */
	int		 nstates;
	int		 dry;
	int		 jobs, records, claims, deployments, errors;
	unsigned long long freed;
	struct strv	 names;		/* the job folders, read first */
	struct strv	 serving;	/* jobs whose model is served */
	struct strv	 old;		/* deployments ended long ago */
};

static int
wanted_state(const struct prune *p, const char *state)
{
	int i;

	if (!job_state_final(state))
		return 0;
	for (i = 0; i < p->nstates; i++)
		if (strcmp(p->states[i], state) == 0)
			return 1;
	return p->nstates == 0;
}

/* dir_each: the names that are job ids, to look at once listed. */
static int
list_job(void *arg, const char *name)
{
	struct prune *p = arg;

	if (job_id_valid(name) && strv_push(&p->names, strdup(name)) == -1)
		return 1;
	return 0;
}

/*
 * The deployments, read once: the jobs whose folders stay into p->serving
 * (each live deployment's and, per repository, the previous one's); the
 * records ended before the cutoff, but those, into p->old.
 */
static void
read_deployments(struct prune *p)
{
	struct strv ids = { NULL, 0 }, scopes = { NULL, 0 };
	struct strv keep = { NULL, 0 }, ended = { NULL, 0 };
	struct deployment d;
	size_t i;
	int dfd;

	if ((dfd = deployment_folder(p->rd, 0)) == -1)
		return;
	if (rundir_ids_at(dfd, &ids, 1) == -1)
		p->errors++;
	close(dfd);
	for (i = 0; i < ids.n; i++) {
		if (deployment_read(p->rd, ids.v[i], &d) == -1)
			continue;
		if (deployment_live(d.state)) {
			strv_push(&p->serving, strdup(d.job));
			strv_push(&keep, strdup(d.id));
		} else if (d.state != NULL && (d.ended ? d.ended : d.created) <
		    p->cutoff && !deployment_supervised(&d))
			strv_push(&ended, strdup(d.id));
		if (!strv_has(&scopes, d.scope))
			strv_push(&scopes, strdup(d.scope));
		deployment_close(&d);
	}
	for (i = 0; i < scopes.n; i++)
		if (deployment_previous(p->rd, scopes.v[i], &d) == 0) {
			strv_push(&p->serving, strdup(d.job));
			strv_push(&keep, strdup(d.id));
			deployment_close(&d);
		}
	for (i = 0; i < ended.n; i++)
		if (!strv_has(&keep, ended.v[i]))
			strv_push(&p->old, strdup(ended.v[i]));
	strv_free(&ids);
	strv_free(&scopes);
	strv_free(&keep);
	strv_free(&ended);
}

/* The deployment records in p->old go (not with --state). */
static void
prune_deployments(struct prune *p)
{
	unsigned long long bytes;
	size_t i;
	int dfd;

	if (p->nstates > 0 || p->old.n == 0 ||
	    (dfd = deployment_folder(p->rd, 0)) == -1)
		return;
	for (i = 0; i < p->old.n; i++) {
		bytes = 0;
		if (p->dry)
			bytes = tree_size_at(dfd, p->old.v[i]);
		else if (rm_tree_at(dfd, p->old.v[i], &bytes) == -1) {
			fprintf(stderr, "swift-webhook: prune: %s/%s/%s: %s\n",
			    p->rd->path, DEPLOY_FOLDER, p->old.v[i],
			    strerror(errno));
			p->errors++;
			continue;
		}
		printf("%s deployment %s (%llu KiB)\n", p->dry ?
		    "would remove" : "removed", p->old.v[i], bytes / 1024);
		p->freed += bytes;
		p->deployments++;
	}
	close(dfd);
}

static void
prune_job(struct prune *p, const char *id)
{
	unsigned long long bytes = 0;
	const char *state;
	struct job j;
	time_t ended;
	int ending;

	if (job_read(p->rd, id, &j) == -1)
		return;
	state = j.state;	/* a static name: outlives job_close */
	ended = j.finished ? j.finished : j.created;
	ending = j.ending;	/* its end's work left: not yet */
	job_close(&j);
	if (state == NULL || ending || !wanted_state(p, state) || ended == 0 ||
	    ended >= p->cutoff)
		return;
	/* Its checkpoint serves, or is what rollback would serve. */
	if (strv_has(&p->serving, id)) {
		printf("kept %s (%s): its model is served, or is what "
		    "rollback would serve\n", id, state);
		return;
	}
	if (p->dry)
		bytes = tree_size_at(p->rd->fd, id);
	else if (rm_tree_at(p->rd->fd, id, &bytes) == -1) {
		fprintf(stderr, "swift-webhook: prune: %s/%s: %s\n",
		    p->rd->path, id, strerror(errno));
		p->errors++;
		return;
	}
	printf("%s %s (%s, %llu KiB)\n", p->dry ? "would remove" : "removed",
	    id, state, bytes / 1024);
	p->freed += bytes;
	p->jobs++;
}

/* dir_each on .deliveries: records older than the cutoff. */
static int
prune_record(void *arg, const char *name)
{
	struct prune *p = arg;
	struct stat st;

	if (fstatat(p->rd->deliveries, name, &st, AT_SYMLINK_NOFOLLOW) ==
	    -1 || st.st_mtime >= p->cutoff)
		return 0;
	if (!p->dry && unlinkat(p->rd->deliveries, name, S_ISDIR(st.st_mode) ?
	    AT_REMOVEDIR : 0) == -1) {
		p->errors++;
		return 0;
	}
	p->freed += (unsigned long long)st.st_blocks * 512;
	p->records++;
	return 0;
}

/* dir_each on .keys: a claim whose job is gone, or no claim at all. */
static int
prune_claim(void *arg, const char *name)
{
	struct prune *p = arg;
	char id[JOB_ID_MAX];
	struct stat st;
	ssize_t n;

	n = readlinkat(p->rd->keys, name, id, sizeof(id) - 1);
	if (n > 0) {
		id[n] = '\0';
		if (job_id_valid(id) && fstatat(p->rd->fd, id, &st,
		    AT_SYMLINK_NOFOLLOW) == 0)
			return 0;
		if (errno != ENOENT && job_id_valid(id))
			return 0;
	} else if (errno == ENOENT)
		return 0;
	if (!p->dry && unlinkat(p->rd->keys, name, 0) == -1) {
		p->errors++;
		return 0;
	}
	p->claims++;
	return 0;
}

/* "30d", "12h", "90m", "3600s" or seconds. */
static int
parse_age(const char *s, long *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (errno != 0 || end == s || n < 0 || n > 100000000)
		return -1;
	switch (*end) {
	case 'd': n *= 86400; end++; break;
	case 'h': n *= 3600; end++; break;
	case 'm': n *= 60; end++; break;
	case 's': end++; break;
	case '\0': break;
	default: return -1;
	}
	if (*end != '\0')
		return -1;
	*out = n;
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
prune_main(struct rundir *rd, int argc, char *argv[])
{
	struct prune p;
	long age = 30 * 86400;
	size_t k;
	int i;

	memset(&p, 0, sizeof(p));
	p.rd = rd;
	if ((p.states = calloc(argc, sizeof(*p.states))) == NULL)
		return 1;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dry-run") == 0)
			p.dry = 1;
		else if (strcmp(argv[i], "--older-than") == 0 && i + 1 < argc) {
			if (parse_age(argv[++i], &age) == -1)
				goto usage;
		} else if (strcmp(argv[i], "--state") == 0 && i + 1 < argc) {
			while (i + 1 < argc && argv[i + 1][0] != '-') {
				if (!job_state_final(argv[++i])) {
					fprintf(stderr, "swift-webhook: prune: "
					    "\"%s\" is not a state a job ends "
					    "in (succeeded failed killed "
					    "cancelled superseded timeout)\n",
					    argv[i]);
					free(p.states);
					return 2;
				}
				p.states[p.nstates++] = argv[i];
			}
		} else
			goto usage;
	}
	p.cutoff = time(NULL) - age;
	if (dir_each(rd->fd, list_job, &p) == -1) {
		fprintf(stderr, "swift-webhook: prune: %s: %s\n", rd->path,
		    strerror(errno));
		strv_free(&p.names);
		free(p.states);
		return 1;
	}
	read_deployments(&p);
	/* Oldest first: ids begin with their time. */
	if (p.names.n > 1)
		qsort(p.names.v, p.names.n, sizeof(*p.names.v), cmp_str);
	for (k = 0; k < p.names.n; k++)
		prune_job(&p, p.names.v[k]);
	if (rd->deliveries != -1)
		dir_each(rd->deliveries, prune_record, &p);
	if (rd->keys != -1)
		dir_each(rd->keys, prune_claim, &p);
	prune_deployments(&p);
	printf("%s %d job(s), %d delivery record(s), %d stale claim(s), %d "
	    "deployment record(s): %.1f MiB%s\n", p.dry ? "would remove" :
	    "removed", p.jobs, p.records, p.claims, p.deployments,
	    (double)p.freed / (1 << 20), p.dry ? " would be freed" : " freed");
	strv_free(&p.names);
	strv_free(&p.serving);
	strv_free(&p.old);
	free(p.states);
	return p.errors ? 1 : 0;
usage:
	fprintf(stderr, "usage: swift-webhook prune [--older-than AGE] "
	    "[--state STATE...] [--dry-run]\n");
	free(p.states);
	return 2;
}
