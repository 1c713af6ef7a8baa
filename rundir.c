/*
 * rundir.c: the run directory's folders, job.json (its one writer and its
 * one reader), (sha, config) claims and delivery records, all reached
 * from directory descriptors (util.h) and written atomically.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>
#include <openssl/sha.h>

#include "rundir.h"
#include "util.h"

static const char *
why(int e)
{
	switch (e) {
	case ELOOP:
		return "a symlink (refused)";
	case ENOTDIR:
		return "not a folder";
	case EPERM:
		return "not owned by the run directory's owner";
	case EINVAL:
		return "not a regular file";
	case EFBIG:
		return "too large";
	}
	return strerror(e);
}

int
rundir_open(struct rundir *rd, const char *path, int write, char *err,
    size_t errlen)
{
	static const char *const names[] = {
		".keys", ".deliveries", ".queue", ".slots"
	};
	int *fds[] = { &rd->keys, &rd->deliveries, &rd->queue, &rd->slots };
	struct stat st;
	size_t i;

	memset(rd, 0, sizeof(*rd));
	rd->path = path;
	rd->fd = rd->keys = rd->deliveries = rd->queue = rd->slots = -1;
	if ((rd->fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    fstat(rd->fd, &st) == -1) {
		snprintf(err, errlen, "run_dir %s: %s", path, strerror(errno));
		goto err;
	}
	if (st.st_mode & S_IWOTH) {
		snprintf(err, errlen, "run_dir %s is writable by others (mode "
		    "%04o): chmod o-w %s", path, st.st_mode & 07777, path);
		goto err;
	}
	rd->uid = st.st_uid;
	if (write && st.st_uid != geteuid()) {
		snprintf(err, errlen, "run_dir %s belongs to uid %ld, not to "
		    "this process's user (uid %ld): chown it to the server's "
		    "user", path, (long)st.st_uid, (long)geteuid());
		goto err;
	}
	if (write && faccessat(rd->fd, ".", W_OK | X_OK, AT_EACCESS) == -1) {
		snprintf(err, errlen, "run_dir %s: %s", path, strerror(errno));
		goto err;
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (write && mkdirat(rd->fd, names[i], 0750) == -1 &&
		    errno != EEXIST) {
			snprintf(err, errlen, "mkdir %s/%s: %s", path, names[i],
			    strerror(errno));
			goto err;
		}
		if ((*fds[i] = dir_open_at(rd->fd, names[i], rd->uid)) == -1 &&
		    (write || errno != ENOENT)) {
			snprintf(err, errlen, "%s/%s: %s", path, names[i],
			    why(errno));
			goto err;
		}
	}
	return 0;
err:
	rundir_close(rd);
	return -1;
}

void
rundir_close(struct rundir *rd)
{
	int *fds[] = { &rd->fd, &rd->keys, &rd->deliveries, &rd->queue,
	    &rd->slots };
	size_t i;

	for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (*fds[i] != -1) {
			close(*fds[i]);
			*fds[i] = -1;
		}
}

/* "20261129T045521.946Z-9f2c1a7-sft", with an optional "-N". */
int
job_id_valid(const char *s)
{
	static const char shape[] = "dddddddd" "T" "dddddd" "." "ddd" "Z-"
	    "xxxxxxx" "-";
	size_t i;

	for (i = 0; shape[i] != '\0'; i++)
		if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) :
		    shape[i] == 'x' ? !isxdigit((unsigned char)s[i]) :
		    s[i] != shape[i])
			return 0;
	for (; s[i] != '\0'; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return 0;
	return i < JOB_ID_MAX;
}

int
job_state_final(const char *state)
{
	static const char *const final[] = {
		"succeeded", "failed", "killed", "cancelled", "superseded",
		"timeout", NULL
	};
	size_t i;

	for (i = 0; state != NULL && final[i] != NULL; i++)
		if (strcmp(state, final[i]) == 0)
			return 1;
	return 0;
}

/*
 * Appends the config's name (no folder, no extension) to buf, keeping
 * only characters that are safe in a file name.
 */
static void
config_slug(char *buf, size_t size, const char *config)
{
	const char *base, *dot;
	size_t n = strlen(buf);

	base = strrchr(config, '/');
	base = base ? base + 1 : config;
	if ((dot = strrchr(base, '.')) == NULL || dot == base)
		dot = base + strlen(base);
	for (; base < dot && n + 1 < size && n < 64; base++)
		if (isalnum((unsigned char)*base) || *base == '_' ||
		    *base == '-')
			buf[n++] = *base;
	buf[n] = '\0';
}

static void
job_init(struct job *j)
{
	memset(j, 0, sizeof(*j));
	j->dirfd = -1;
	j->exit_code = -1;
}

static int
job_set_dir(struct rundir *rd, struct job *j)
{
	if ((size_t)snprintf(j->dir, sizeof(j->dir), "%s/%s", rd->path,
	    j->id) >= sizeof(j->dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
job_create(struct rundir *rd, struct job *j, char *err, size_t errlen)
{
	struct timespec ts;
	struct tm tm;
	char base[JOB_ID_MAX];
	int i, n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = (int)strftime(base, sizeof(base), "%Y%m%dT%H%M%S", &tm);
	snprintf(base + n, sizeof(base) - n, ".%03ldZ-%.7s-",
	    ts.tv_nsec / 1000000, j->sha);
	config_slug(base, sizeof(base), j->config);
	for (i = 1; i < 100; i++) {
		if (i == 1)
			snprintf(j->id, sizeof(j->id), "%s", base);
		else
			snprintf(j->id, sizeof(j->id), "%s-%d", base, i);
		if (mkdirat(rd->fd, j->id, 0750) == 0)
			break;
		if (errno != EEXIST) {
			snprintf(err, errlen, "mkdir %s/%s: %s", rd->path,
			    j->id, strerror(errno));
			return -1;
		}
	}
	if (i == 100) {
		snprintf(err, errlen, "no free job id for %s", base);
		return -1;
	}
	if (job_set_dir(rd, j) == -1 ||
	    (j->dirfd = dir_open_at(rd->fd, j->id, rd->uid)) == -1) {
		snprintf(err, errlen, "%s/%s: %s", rd->path, j->id,
		    why(errno));
		return -1;
	}
	j->created = ts.tv_sec;
	j->state = "queued";
	j->exit_code = -1;
	return 0;
}

static cJSON *
json_at(int dfd, const char *name, size_t max)
{
	char *s;
	cJSON *o;

	if ((s = file_read_at(dfd, name, max, NULL, ANY_OWNER)) == NULL)
		return NULL;
	o = cJSON_Parse(s);
	free(s);
	if (o == NULL)
		errno = EINVAL;
	return o;
}

static const char *
jstr(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double
jnum(const cJSON *o, const char *name, double none)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsNumber(v) ? v->valuedouble : none;
}

static time_t
jtime(const cJSON *o, const char *name)
{
	time_t t = iso8601_parse(jstr(o, name));

	return t == -1 ? 0 : t;
}

/* Opens job id's folder and parses its job.json, with "id" the folder's. */
static cJSON *
job_json_open(struct rundir *rd, const char *id, int *dirfd)
{
	cJSON *o;
	int fd, saved;

	if (!job_id_valid(id)) {
		errno = EINVAL;
		return NULL;
	}
	if ((fd = dir_open_at(rd->fd, id, rd->uid)) == -1)
		return NULL;
	if ((o = json_at(fd, "job.json", JOB_JSON_MAX)) == NULL ||
	    !cJSON_IsObject(o)) {
		saved = o ? EINVAL : errno;
		cJSON_Delete(o);
		close(fd);
		errno = saved;
		return NULL;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(o, "id");
	cJSON_AddStringToObject(o, "id", id);
	if (dirfd != NULL)
		*dirfd = fd;
	else
		close(fd);
	return o;
}

cJSON *
job_read_json(struct rundir *rd, const char *id)
{
	return job_json_open(rd, id, NULL);
}

int
job_read(struct rundir *rd, const char *id, struct job *j)
{
	const char *g;
	cJSON *o;

	job_init(j);
	if ((o = job_json_open(rd, id, &j->dirfd)) == NULL)
		return -1;
	j->src = o;
	snprintf(j->id, sizeof(j->id), "%s", id);
	if (job_set_dir(rd, j) == -1) {
		job_close(j);
		return -1;
	}
	j->state = jstr(o, "state");
	j->delivery = jstr(o, "delivery");
	j->event = jstr(o, "event");
	j->repository = jstr(o, "repository");
	j->ref = jstr(o, "ref");
	j->branch = jstr(o, "branch");
	j->sha = jstr(o, "sha");
	j->config = jstr(o, "config");
	j->retry_of = jstr(o, "retry_of");
	j->created = jtime(o, "created");
	j->started = jtime(o, "started");
	j->finished = jtime(o, "finished");
	j->pid = (pid_t)jnum(o, "pid", 0);
	j->pid_start = (unsigned long long)jnum(o, "pid_start", 0);
	j->supervisor = (pid_t)jnum(o, "supervisor", 0);
	j->supervisor_start = (unsigned long long)jnum(o,
	    "supervisor_start", 0);
	j->exit_code = (int)jnum(o, "exit_code", -1);
	j->signal = (int)jnum(o, "signal", 0);
	if ((g = jstr(o, "gpus")) != NULL && (j->gpus = strdup(g)) == NULL) {
		job_close(j);
		errno = ENOMEM;
		return -1;
	}
	snprintf(j->error, sizeof(j->error), "%s", jstr(o, "error") ?
	    jstr(o, "error") : "");
	return 0;
}

void
job_close(struct job *j)
{
	if (j->dirfd != -1)
		close(j->dirfd);
	j->dirfd = -1;
	free(j->gpus);
	j->gpus = NULL;
	cJSON_Delete(j->src);
	j->src = NULL;
}

static void
add_time(cJSON *o, const char *name, time_t t)
{
	char buf[21];

	if (t == 0) {
		cJSON_AddNullToObject(o, name);
		return;
	}
	iso8601(t, buf);
	cJSON_AddStringToObject(o, name, buf);
}

static void
add_str(cJSON *o, const char *name, const char *s)
{
	if (s == NULL)
		cJSON_AddNullToObject(o, name);
	else
		cJSON_AddStringToObject(o, name, s);
}

static void
add_num(cJSON *o, const char *name, double v, int set)
{
	if (set)
		cJSON_AddNumberToObject(o, name, v);
	else
		cJSON_AddNullToObject(o, name);
}

int
job_write(const struct job *j)
{
	char path[PATH_MAX];
	cJSON *o, *argv;
	char *s;
	size_t i;
	int rc;

	if ((o = cJSON_CreateObject()) == NULL)
		goto oom;
	add_str(o, "id", j->id);
	add_str(o, "state", j->state);
	add_str(o, "delivery", j->delivery);
	add_str(o, "event", j->event);
	add_str(o, "repository", j->repository);
	add_str(o, "ref", j->ref);
	add_str(o, "branch", j->branch);
	add_str(o, "sha", j->sha);
	add_str(o, "config", j->config);
	if (j->retry_of != NULL)
		add_str(o, "retry_of", j->retry_of);
	argv = cJSON_AddArrayToObject(o, "argv");
	for (i = 0; j->argv != NULL && j->argv[i] != NULL; i++)
		cJSON_AddItemToArray(argv, cJSON_CreateString(j->argv[i]));
	add_time(o, "created", j->created);
	add_time(o, "started", j->started);
	add_time(o, "finished", j->finished);
	add_num(o, "duration", (double)(j->finished - j->started),
	    j->started != 0 && j->finished != 0);
	add_num(o, "pid", j->pid, j->pid > 0);
	if (j->pid > 0)
		cJSON_AddNumberToObject(o, "pid_start", (double)j->pid_start);
	if (j->supervisor > 0) {
		cJSON_AddNumberToObject(o, "supervisor", j->supervisor);
		cJSON_AddNumberToObject(o, "supervisor_start",
		    (double)j->supervisor_start);
	}
	add_str(o, "gpus", j->gpus);
	add_num(o, "exit_code", j->exit_code, j->exit_code >= 0);
	add_num(o, "signal", j->signal, j->signal > 0);
	add_str(o, "error", j->error[0] ? j->error : NULL);
	snprintf(path, sizeof(path), "%s/log", j->dir);
	add_str(o, "log", path);
	if ((s = cJSON_Print(o)) == NULL)
		goto oom;
	i = strlen(s);
	s[i] = '\n';		/* over the NUL: the length says where it ends */
	rc = file_write_at(j->dirfd, "job.json", s, i + 1, 0640, 1);
	free(s);
	cJSON_Delete(o);
	return rc;
oom:
	cJSON_Delete(o);
	errno = ENOMEM;
	return -1;
}

int
job_write_pid(const struct job *j)
{
	char buf[32];
	int n;

	n = snprintf(buf, sizeof(buf), "%ld\n", (long)j->pid);
	return file_write_at(j->dirfd, "pid", buf, n, 0640, 0);
}

int
job_open_file(const struct job *j, const char *name, int flags)
{
	return file_open_at(j->dirfd, name, flags, 0640, ANY_OWNER);
}

void
job_discard(struct rundir *rd, struct job *j)
{
	unlinkat(j->dirfd, "job.json", 0);
	unlinkat(j->dirfd, "log", 0);
	unlinkat(rd->fd, j->id, AT_REMOVEDIR);
}

/* <sha>-<first 16 hex digits of SHA-256(config)>, in .keys */
static void
key_name(char buf[128], const char *sha, const char *config)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	int i, n;

	SHA256((const unsigned char *)config, strlen(config), md);
	n = snprintf(buf, 128, "%.64s-", sha);
	for (i = 0; i < 8; i++)
		snprintf(buf + n + 2 * i, 3, "%02x", md[i]);
}

/* Reads the claim key; 0, or -1 (errno: ENOENT none, EINVAL not one). */
static int
key_read(struct rundir *rd, const char *key, char id[JOB_ID_MAX])
{
	ssize_t n;

	if ((n = readlinkat(rd->keys, key, id, JOB_ID_MAX - 1)) == -1)
		return -1;
	id[n] = '\0';
	if (!job_id_valid(id)) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

enum claim
job_claim(struct rundir *rd, struct job *j, char other[JOB_ID_MAX],
    char *err, size_t errlen)
{
	char key[128];
	int tries;

	key_name(key, j->sha, j->config);
	for (tries = 0; tries < 100; tries++) {
		if (symlinkat(j->id, rd->keys, key) == 0)
			return CLAIM_OK;
		if (errno != EEXIST)
			break;
		if (key_read(rd, key, other) == 0)
			return CLAIM_TAKEN;
		/* Given back between the two calls: claim again. */
		if (errno != ENOENT)
			break;
	}
	snprintf(err, errlen, "claim %s/.keys/%s: %s", rd->path, key,
	    errno == EINVAL ? "not a claim (refused)" : strerror(errno));
	return CLAIM_ERROR;
}

int
job_claim_take(struct rundir *rd, const struct job *j)
{
	char key[128], tmp[160];

	key_name(key, j->sha, j->config);
	snprintf(tmp, sizeof(tmp), ".%s.tmp%ld", key, (long)getpid());
	unlinkat(rd->keys, tmp, 0);
	if (symlinkat(j->id, rd->keys, tmp) == -1)
		return -1;
	if (renameat(rd->keys, tmp, rd->keys, key) == -1) {
		unlinkat(rd->keys, tmp, 0);
		return -1;
	}
	return 0;
}

int
job_claim_latest(struct rundir *rd, const char *sha, const char *config,
    char id[JOB_ID_MAX])
{
	char key[128];

	key_name(key, sha, config);
	return key_read(rd, key, id);
}

void
job_unclaim(struct rundir *rd, const struct job *j)
{
	char key[128], id[JOB_ID_MAX];

	key_name(key, j->sha, j->config);
	if (key_read(rd, key, id) == 0 && strcmp(id, j->id) == 0)
		unlinkat(rd->keys, key, 0);
}

int
job_request_stop(const struct job *j, const char *state)
{
	return file_write_at(j->dirfd, "stop", state, strlen(state), 0640, 0);
}

const char *
job_stop_requested(const struct job *j)
{
	const char *state;
	char *s;

	if ((s = file_read_at(j->dirfd, "stop", 64, NULL, ANY_OWNER)) == NULL)
		return NULL;
	state = strcmp(s, "superseded") == 0 ? "superseded" : "cancelled";
	free(s);
	return state;
}

cJSON *
delivery_lookup(struct rundir *rd, const char *delivery)
{
	cJSON *o;

	if ((o = json_at(rd->deliveries, delivery, 1 << 20)) != NULL &&
	    !cJSON_IsArray(o) && !cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

int
delivery_record(struct rundir *rd, const char *delivery, const char *json)
{
	return file_write_at(rd->deliveries, delivery, json, strlen(json),
	    0640, 1);
}
