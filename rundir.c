/*
 * rundir.c: job folders, job.json, (sha, config) claims and delivery
 * records, all written atomically.
 */
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

void
iso8601(time_t t, char buf[21])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int
write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= n;
	}
	return 0;
}

int
atomic_write(const char *path, const void *data, size_t len)
{
	char tmp[PATH_MAX];
	int fd, saved;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >=
	    (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0644)) == -1)
		return -1;
	if (write_all(fd, data, len) == -1 || fsync(fd) == -1) {
		saved = errno;
		close(fd);
		unlink(tmp);
		errno = saved;
		return -1;
	}
	if (close(fd) == -1 || rename(tmp, path) == -1) {
		saved = errno;
		unlink(tmp);
		errno = saved;
		return -1;
	}
	return 0;
}

static int
mkdir_p1(const char *path)
{
	return mkdir(path, 0755) == -1 && errno != EEXIST ? -1 : 0;
}

int
rundir_prepare(const char *run_dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	const char *sub[] = { ".keys", ".deliveries", ".queue", ".slots" };
	size_t i;

	if (access(run_dir, W_OK | X_OK) == -1) {
		snprintf(err, errlen, "run_dir %s: %s", run_dir,
		    strerror(errno));
		return -1;
	}
	for (i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", run_dir, sub[i]);
		if (mkdir_p1(path) == -1) {
			snprintf(err, errlen, "mkdir %s: %s", path,
			    strerror(errno));
			return -1;
		}
	}
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
		if ((*base >= 'a' && *base <= 'z') ||
		    (*base >= 'A' && *base <= 'Z') ||
		    (*base >= '0' && *base <= '9') ||
		    *base == '_' || *base == '-')
			buf[n++] = *base;
	buf[n] = '\0';
}

int
job_create(struct job *j, const char *run_dir, char *err, size_t errlen)
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
		if ((size_t)snprintf(j->dir, sizeof(j->dir), "%s/%s", run_dir,
		    j->id) >= sizeof(j->dir)) {
			snprintf(err, errlen, "run_dir path too long");
			return -1;
		}
		if (mkdir(j->dir, 0755) == 0)
			break;
		if (errno != EEXIST) {
			snprintf(err, errlen, "mkdir %s: %s", j->dir,
			    strerror(errno));
			return -1;
		}
	}
	if (i == 100) {
		snprintf(err, errlen, "no free job id for %s", base);
		return -1;
	}
	j->created = ts.tv_sec;
	j->state = "queued";
	j->exit_code = -1;
	return 0;
}

/* run_dir/.keys/<sha>-<first 16 hex digits of SHA-256(config)> */
static void
key_path(char *buf, size_t size, const char *run_dir, const struct job *j)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	char hex[17];
	int i;

	SHA256((const unsigned char *)j->config, strlen(j->config), md);
	for (i = 0; i < 8; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	snprintf(buf, size, "%s/.keys/%s-%s", run_dir, j->sha, hex);
}

int
job_claim(struct job *j, const char *run_dir, char other[JOB_ID_MAX],
    char *err, size_t errlen)
{
	char key[PATH_MAX];
	ssize_t n;

	key_path(key, sizeof(key), run_dir, j);
	if (symlink(j->id, key) == 0)
		return 0;
	if (errno != EEXIST) {
		snprintf(err, errlen, "symlink %s: %s", key, strerror(errno));
		return -1;
	}
	if ((n = readlink(key, other, JOB_ID_MAX - 1)) == -1) {
		snprintf(err, errlen, "readlink %s: %s", key, strerror(errno));
		return -1;
	}
	other[n] = '\0';
	return 1;
}

void
job_unclaim(struct job *j, const char *run_dir)
{
	char key[PATH_MAX], id[JOB_ID_MAX];
	ssize_t n;

	key_path(key, sizeof(key), run_dir, j);
	if ((n = readlink(key, id, sizeof(id) - 1)) == -1)
		return;
	id[n] = '\0';
	if (strcmp(id, j->id) == 0)
		unlink(key);
}

void
job_discard(struct job *j)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/job.json", j->dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/log", j->dir);
	unlink(path);
	rmdir(j->dir);
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

int
job_write(const struct job *j)
{
	char path[PATH_MAX];
	cJSON *o, *argv;
	char *s;
	size_t i;
	int rc = -1;

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
	if (j->started != 0 && j->finished != 0)
		cJSON_AddNumberToObject(o, "duration",
		    (double)(j->finished - j->started));
	else
		cJSON_AddNullToObject(o, "duration");
	if (j->pid > 0) {
		cJSON_AddNumberToObject(o, "pid", j->pid);
		cJSON_AddNumberToObject(o, "pid_start", (double)j->pid_start);
	} else
		cJSON_AddNullToObject(o, "pid");
	if (j->supervisor > 0) {
		cJSON_AddNumberToObject(o, "supervisor", j->supervisor);
		cJSON_AddNumberToObject(o, "supervisor_start",
		    (double)j->supervisor_start);
	}
	add_str(o, "gpus", j->gpus[0] ? j->gpus : NULL);
	if (j->exit_code >= 0)
		cJSON_AddNumberToObject(o, "exit_code", j->exit_code);
	else
		cJSON_AddNullToObject(o, "exit_code");
	if (j->signal > 0)
		cJSON_AddNumberToObject(o, "signal", j->signal);
	else
		cJSON_AddNullToObject(o, "signal");
	add_str(o, "error", j->error[0] ? j->error : NULL);
	snprintf(path, sizeof(path), "%s/log", j->dir);
	add_str(o, "log", path);
	if ((s = cJSON_Print(o)) == NULL)
		goto oom;
	snprintf(path, sizeof(path), "%s/job.json", j->dir);
	i = strlen(s);
	s[i] = '\n';		/* over the NUL: the length says where it ends */
	rc = atomic_write(path, s, i + 1);
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
	char path[PATH_MAX], buf[32];
	int n;

	snprintf(path, sizeof(path), "%s/pid", j->dir);
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)j->pid);
	return atomic_write(path, buf, n);
}

char *
read_file(const char *path, size_t max)
{
	char *buf = NULL;
	struct stat st;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    (size_t)st.st_size <= max &&
	    (buf = malloc(st.st_size + 1)) != NULL) {
		n = read(fd, buf, st.st_size);
		if (n != st.st_size) {
			free(buf);
			buf = NULL;
		} else
			buf[n] = '\0';
	}
	close(fd);
	return buf;
}

char *
delivery_lookup(const char *run_dir, const char *delivery)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/.deliveries/%s", run_dir, delivery);
	return read_file(path, 1 << 20);
}

int
delivery_record(const char *run_dir, const char *delivery, const char *json)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/.deliveries/%s", run_dir, delivery);
	return atomic_write(path, json, strlen(json));
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

unsigned long long
proc_starttime(pid_t pid)
{
	char path[64], buf[1024], *s;
	unsigned long long t = 0;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* The name may hold spaces and parentheses: skip to its end. */
	if ((s = strrchr(buf, ')')) == NULL)
		return 0;
	/* s + 2 is field 3 (state); a zombie is as good as gone. */
	if (s[1] != ' ' || s[2] == 'Z')
		return 0;
	for (field = 3, s += 2; field < 22 && s != NULL; field++)
		if ((s = strchr(s, ' ')) != NULL)
			s++;
	if (s != NULL)
		t = strtoull(s, NULL, 10);
	return t;
}

int
job_request_stop(const char *dir, const char *state)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/stop", dir);
	return atomic_write(path, state, strlen(state));
}

const char *
job_stop_requested(const struct job *j)
{
	char path[PATH_MAX], *s;
	const char *state;

	snprintf(path, sizeof(path), "%s/stop", j->dir);
	if ((s = read_file(path, 64)) == NULL)
		return NULL;
	state = strcmp(s, "superseded") == 0 ? "superseded" : "cancelled";
	free(s);
	return state;
}
