/*
 * rundir.c: the run directory's folders, (sha, config) claims, delivery
 * records and live marks, all reached from directory descriptors (util.h)
 * and written atomically.
 */
#include <ctype.h>
#include <pwd.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>

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
		".keys", ".deliveries", ".queue", ".slots", ".live"
	};
	int *fds[] = { &rd->keys, &rd->deliveries, &rd->queue, &rd->slots,
	    &rd->live };
	struct stat st;
	size_t i;

	memset(rd, 0, sizeof(*rd));
	rd->path = path;
	rd->fd = rd->keys = rd->deliveries = rd->queue = rd->slots = -1;
	rd->live = -1;
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
		/* Made only when missing: no syscall more than needed. */
		if ((*fds[i] = dir_open_at(rd->fd, names[i], rd->uid)) == -1 &&
		    write && errno == ENOENT) {
			if (mkdirat(rd->fd, names[i], 0750) == -1 &&
			    errno != EEXIST) {
				snprintf(err, errlen, "mkdir %s/%s: %s", path,
				    names[i], strerror(errno));
				goto err;
			}
			*fds[i] = dir_open_at(rd->fd, names[i], rd->uid);
		}
		if (*fds[i] == -1 && (write || errno != ENOENT)) {
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

int
rundir_mkjob(struct rundir *rd, const char *base, char id[JOB_ID_MAX],
    char *err, size_t errlen)
{
	return rundir_mkid_at(rd->fd, rd->path, rd->uid, base, id, err,
	    errlen);
}

int
rundir_mkid_at(int dfd, const char *path, uid_t uid, const char *base,
    char id[JOB_ID_MAX], char *err, size_t errlen)
{
	int i, fd;

	for (i = 1; i < 100; i++) {
		if (i == 1)
			snprintf(id, JOB_ID_MAX, "%s", base);
		else
			snprintf(id, JOB_ID_MAX, "%s-%d", base, i);
		if (mkdirat(dfd, id, 0750) == 0)
			break;
		if (errno != EEXIST) {
			snprintf(err, errlen, "mkdir %s/%s: %s", path, id,
			    strerror(errno));
			return -1;
		}
	}
	if (i == 100) {
		snprintf(err, errlen, "no free id for %s", base);
		return -1;
	}
	if ((fd = dir_open_at(dfd, id, uid)) == -1) {
		snprintf(err, errlen, "%s/%s: %s", path, id, why(errno));
		return -1;
	}
	return fd;
}

int
rundir_fds(const struct rundir *rd, int fds[RUNDIR_FDS])
{
	fds[0] = rd->fd;
	fds[1] = rd->keys;
	fds[2] = rd->deliveries;
	fds[3] = rd->queue;
	fds[4] = rd->slots;
	fds[5] = rd->live;
	return RUNDIR_FDS;
}

int
rundir_live(struct rundir *rd, const char *id, int live)
{
	int fd;

	if (rd->live == -1) {
		errno = ENOENT;
		return -1;
	}
	if (!live)
		return unlinkat(rd->live, id, 0) == -1 && errno != ENOENT ?
		    -1 : 0;
	if ((fd = file_open_at(rd->live, id, O_WRONLY | O_CREAT, 0640,
	    rd->uid)) == -1)
		return -1;
	close(fd);
	return 0;
}

/* Whether dir is a folder this user may write in. */
static int
home_usable(const char *dir)
{
	struct stat st;

	return dir != NULL && dir[0] == '/' && stat(dir, &st) == 0 &&
	    S_ISDIR(st.st_mode) && access(dir, W_OK | X_OK) == 0;
}

int
rundir_home(const char *run_dir, char out[PATH_MAX], const char **why)
{
	struct passwd *pw;
	struct stat st;
	int dfd;

	if (home_usable(getenv("HOME"))) {
		snprintf(out, PATH_MAX, "%s", getenv("HOME"));
		*why = "the server's HOME";
		return 0;
	}
	if ((pw = getpwuid(geteuid())) != NULL && home_usable(pw->pw_dir)) {
		snprintf(out, PATH_MAX, "%s", pw->pw_dir);
		*why = "the user's home";
		return 0;
	}
	*why = "run_dir/.home: neither the server's HOME nor the user's home "
	    "is writable";
	if ((dfd = open(run_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	if (mkdirat(dfd, ".home", 0750) == -1 && errno != EEXIST) {
		close(dfd);
		return -1;
	}
	if (fstatat(dfd, ".home", &st, AT_SYMLINK_NOFOLLOW) == -1 ||
	    !S_ISDIR(st.st_mode) || st.st_uid != geteuid()) {
		close(dfd);
		errno = EPERM;
		return -1;
	}
	close(dfd);
	if ((size_t)snprintf(out, PATH_MAX, "%s/.home", run_dir) >= PATH_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

void
rundir_close(struct rundir *rd)
{
	int *fds[] = { &rd->fd, &rd->keys, &rd->deliveries, &rd->queue,
	    &rd->slots, &rd->live };
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

cJSON *
json_read_at(int dfd, const char *name, size_t max)
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

/*
 * <sha>-<first 16 hex digits of SHA-256(config)>, in .keys; with a scope
 * (a section's repository) SHA-256("scope\nconfig").
 */
static void
key_name(char buf[128], const char *scope, const char *sha,
    const char *config)
{
	char both[8192];	/* a config is a path in a repository */
	int n;

	n = snprintf(buf, 128, "%.64s-", sha);
	if (scope != NULL) {
		snprintf(both, sizeof(both), "%s\n%s", scope, config);
		sha256_hex(both, 8, buf + n);
	} else
		sha256_hex(config, 8, buf + n);
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
claim_try(struct rundir *rd, const char *scope, const char *sha,
    const char *config, const char *id, char other[JOB_ID_MAX], char *err,
    size_t errlen)
{
	char key[128];
	int tries;

	key_name(key, scope, sha, config);
	for (tries = 0; tries < 100; tries++) {
		if (symlinkat(id, rd->keys, key) == 0)
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

/*
 * The lock that orders re-pointing a claim and giving one back (a fresh
 * claim needs none: symlinkat settles it).  A descriptor of its own each
 * time, so that processes that share rd's descriptors (a supervisor and
 * the responder that forked it) still exclude each other.  Returns it,
 * locked, or -1.
 */
static int
claims_lock(struct rundir *rd)
{
	return lock_at(rd->fd, ".keys.lock", 0600, rd->uid, CLAIMS_LOCK_WAIT,
	    NULL, NULL);
}

int
claim_point(struct rundir *rd, const char *scope, const char *sha,
    const char *config, const char *id)
{
	char key[128], tmp[160];
	int lock, rc = -1;

	key_name(key, scope, sha, config);
	snprintf(tmp, sizeof(tmp), ".%s.tmp%ld", key, (long)getpid());
	if ((lock = claims_lock(rd)) == -1)
		return -1;
	unlinkat(rd->keys, tmp, 0);
	if (symlinkat(id, rd->keys, tmp) == 0) {
		if ((rc = renameat(rd->keys, tmp, rd->keys, key)) == -1)
			unlinkat(rd->keys, tmp, 0);
	}
	close(lock);
	return rc;
}

int
claim_latest(struct rundir *rd, const char *scope, const char *sha,
    const char *config, char id[JOB_ID_MAX])
{
	char key[128];

	key_name(key, scope, sha, config);
	return key_read(rd, key, id);
}

void
claim_release(struct rundir *rd, const char *scope, const char *sha,
    const char *config, const char *id)
{
	char key[128], got[JOB_ID_MAX];
	int lock;

	key_name(key, scope, sha, config);
	/* Read and removed under the lock: never a claim just re-pointed. */
	if ((lock = claims_lock(rd)) == -1)
		return;
	if (key_read(rd, key, got) == 0 && strcmp(got, id) == 0)
		unlinkat(rd->keys, key, 0);
	close(lock);
}

/* dir_each on .keys: a claim that names an id goes. */
struct unclaim {
	struct rundir	*rd;
	const char	*id;
};

static int
unclaim_one(void *arg, const char *name)
{
	struct unclaim *u = arg;
	char got[JOB_ID_MAX];

	if (name[0] != '.' && key_read(u->rd, name, got) == 0 &&
	    strcmp(got, u->id) == 0)
		unlinkat(u->rd->keys, name, 0);
	return 0;
}

void
claim_release_job(struct rundir *rd, const char *id)
{
	struct unclaim u = { rd, id };
	int lock;

	if (rd->keys == -1 || (lock = claims_lock(rd)) == -1)
		return;
	dir_each(rd->keys, unclaim_one, &u);
	close(lock);
}

cJSON *
delivery_lookup(struct rundir *rd, const char *delivery)
{
	cJSON *o;

	if ((o = json_read_at(rd->deliveries, delivery, 1 << 20)) != NULL &&
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

const char *
json_str(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

double
json_num(const cJSON *o, const char *name, double none)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsNumber(v) ? v->valuedouble : none;
}

struct ids {
	struct strv	*v;
	int		 oom;
};

/* dir_each: keeps the names that are job ids. */
static int
keep_job_id(void *arg, const char *name)
{
	struct ids *k = arg;

	if (job_id_valid(name) && strv_push(k->v, strdup(name)) == -1) {
		k->oom = 1;
		return 1;
	}
	return 0;
}

static int
id_asc(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
id_desc(const void *a, const void *b)
{
	return -id_asc(a, b);
}

int
rundir_job_ids(struct rundir *rd, struct strv *v, int newest_first)
{
	return rundir_ids_at(rd->fd, v, newest_first);
}

int
rundir_ids_at(int dfd, struct strv *v, int newest_first)
{
	struct ids k = { v, 0 };

	if (dir_each(dfd, keep_job_id, &k) == -1)
		return -1;
	if (v->n > 1)
		qsort(v->v, v->n, sizeof(char *), newest_first ? id_desc :
		    id_asc);
	if (k.oom) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}
