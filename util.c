/*
 * util.c: files reached from a directory descriptor, times, /proc.
 *
 * The run directory is shared with the trainer and may be reached by
 * other local users: every file in it is opened relative to a directory
 * descriptor with O_NOFOLLOW, checked with fstat, and read with a bound.
 */
#include <ctype.h>
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "util.h"

int
file_open_at(int dfd, const char *name, int flags, mode_t mode, uid_t owner)
{
	struct stat st;
	int fd, saved;

	if ((fd = openat(dfd, name, flags | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC | O_NOCTTY, mode)) == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		goto err;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto err;
	}
	if (owner != ANY_OWNER && st.st_uid != owner) {
		errno = EPERM;
		goto err;
	}
	return fd;
err:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

int
file_open_regular(const char *path)
{
	struct stat st;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)) ==
	    -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

int
dir_open_at(int dfd, const char *name, uid_t owner)
{
	struct stat st;
	int fd;

	if ((fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1) {
		/* O_DIRECTORY wins over O_NOFOLLOW: say what it was. */
		if (errno == ENOTDIR && fstatat(dfd, name, &st,
		    AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
			errno = ELOOP;
		return -1;
	}
	if (owner != ANY_OWNER && (fstat(fd, &st) == -1 ||
	    st.st_uid != owner)) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

int
path_open_at(int dfd, const char *path, int flags, mode_t mode, uid_t owner)
{
	char name[NAME_MAX + 1];
	const char *s = path, *slash;
	int fd = dfd, next;

	if (*path == '\0' || *path == '/') {
		errno = EINVAL;
		return -1;
	}
	while ((slash = strchr(s, '/')) != NULL) {
		if ((size_t)(slash - s) > NAME_MAX || slash == s ||
		    (slash - s == 2 && strncmp(s, "..", 2) == 0)) {
			errno = slash == s || slash - s == 2 ? EINVAL :
			    ENAMETOOLONG;
			next = -1;
		} else {
			memcpy(name, s, slash - s);
			name[slash - s] = '\0';
			next = dir_open_at(fd, name, ANY_OWNER);
		}
		if (fd != dfd)
			close(fd);
		if (next == -1)
			return -1;
		fd = next;
		s = slash + 1;
	}
	if (strcmp(s, "..") == 0 || *s == '\0')
		errno = EINVAL, next = -1;
	else
		next = file_open_at(fd, s, flags, mode, owner);
	if (fd != dfd) {
		int e = errno;

		close(fd);
		errno = e;
	}
	return next;
}

char *
fd_read_all(int fd, size_t max, size_t *lenp)
{
	size_t len = 0, cap = 4096;
	char *buf, *nb;
	ssize_t n;

	if ((buf = malloc(cap)) == NULL)
		return NULL;
	for (;;) {
		if (len == cap - 1) {
			if (cap > max) {
				errno = EFBIG;
				goto err;
			}
			cap = cap * 2 > max + 2 ? max + 2 : cap * 2;
			if ((nb = realloc(buf, cap)) == NULL)
				goto err;
			buf = nb;
		}
		n = read(fd, buf + len, cap - 1 - len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			goto err;
		}
		if (n == 0)
			break;
		len += n;
		if (len > max) {
			errno = EFBIG;
			goto err;
		}
	}
	buf[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return buf;
err:
	free(buf);
	return NULL;
}

char *
file_read_at(int dfd, const char *name, size_t max, size_t *len,
    uid_t owner)
{
	char *s;
	int fd, saved;

	if ((fd = file_open_at(dfd, name, O_RDONLY, 0, owner)) == -1)
		return NULL;
	s = fd_read_all(fd, max, len);
	saved = errno;
	close(fd);
	errno = saved;
	return s;
}

int
dir_each(int dfd, int (*fn)(void *, const char *), void *arg)
{
	struct dirent *de;
	DIR *d;
	int fd;

	if ((fd = dup(dfd)) == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return -1;
	}
	rewinddir(d);		/* the dup shares dfd's offset */
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0 && fn(arg, de->d_name))
			break;
	closedir(d);
	return 0;
}

struct tree {
	int			 dfd;
	int			 remove;	/* or only count */
	unsigned long long	 bytes;
	int			 err;		/* the first errno */
	int			 depth;
};

static void tree_walk(struct tree *t, const char *name);

/* dir_each: one entry of the folder being walked. */
static int
tree_entry(void *arg, const char *name)
{
	tree_walk(arg, name);
	return 0;
}

#define TREE_DEPTH_MAX	200	/* two descriptors a level */

static void
tree_walk(struct tree *t, const char *name)
{
	struct tree sub;
	struct stat st;

	if (fstatat(t->dfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno != ENOENT && t->err == 0)
			t->err = errno;
		return;
	}
	if (S_ISDIR(st.st_mode)) {
		sub = *t;
		sub.bytes = 0;
		sub.depth++;
		if (sub.depth > TREE_DEPTH_MAX) {
			if (t->err == 0)
				t->err = ELOOP;
			return;
		}
		if ((sub.dfd = openat(t->dfd, name, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC)) == -1 && errno == EACCES &&
		    t->remove && fchmodat(t->dfd, name, 0700,
		    AT_SYMLINK_NOFOLLOW) == 0)
			sub.dfd = openat(t->dfd, name, O_RDONLY | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
		if (sub.dfd == -1) {
			if (t->err == 0)
				t->err = errno;
			return;
		}
		if (t->remove && (st.st_mode & 0700) != 0700)
			fchmod(sub.dfd, 0700);	/* a trainer's read-only dir */
		dir_each(sub.dfd, tree_entry, &sub);
		if (t->remove && sub.err == 0)	/* readdir may skip some */
			dir_each(sub.dfd, tree_entry, &sub);
		close(sub.dfd);
		t->bytes += sub.bytes;
		if (t->err == 0)
			t->err = sub.err;
		if (t->remove && unlinkat(t->dfd, name, AT_REMOVEDIR) == -1 &&
		    t->err == 0)
			t->err = errno;
		return;
	}
	if (t->remove && unlinkat(t->dfd, name, 0) == -1) {
		if (t->err == 0)
			t->err = errno;
		return;
	}
	t->bytes += (unsigned long long)st.st_blocks * 512;
}

int
rm_tree_at(int dfd, const char *name, unsigned long long *freed)
{
	struct tree t = { dfd, 1, 0, 0, 0 };

	tree_walk(&t, name);
	if (freed != NULL)
		*freed += t.bytes;
	if (t.err != 0) {
		errno = t.err;
		return -1;
	}
	return 0;
}

unsigned long long
tree_size_at(int dfd, const char *name)
{
	struct tree t = { dfd, 0, 0, 0, 0 };

	tree_walk(&t, name);
	return t.bytes;
}

int
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
file_write_at(int dfd, const char *name, const void *data, size_t len,
    mode_t mode, int sync)
{
	char tmp[256];
	int fd, saved, tries;

	if (snprintf(tmp, sizeof(tmp), ".%s.tmp%ld", name, (long)getpid()) >=
	    (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* O_EXCL: what someone planted under the temp name is removed. */
	for (tries = 0; (fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL |
	    O_NOFOLLOW | O_CLOEXEC, mode)) == -1; tries++)
		if (errno != EEXIST || tries > 0 ||
		    unlinkat(dfd, tmp, 0) == -1)
			return -1;
	if (write_all(fd, data, len) == -1 || (sync && fsync(fd) == -1)) {
		saved = errno;
		close(fd);
		unlinkat(dfd, tmp, 0);
		errno = saved;
		return -1;
	}
	/* A failed close has closed fd all the same: never twice. */
	if (close(fd) == -1) {
		saved = errno;
		unlinkat(dfd, tmp, 0);
		errno = saved;
		return -1;
	}
	if (renameat(dfd, tmp, dfd, name) == -1) {
		saved = errno;
		unlinkat(dfd, tmp, 0);
		errno = saved;
		return -1;
	}
	return 0;
}

int
repo_name_valid(const char *s)
{
	static const char ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq"
	    "rstuvwxyz0123456789-._";
	size_t a;

	if (s == NULL || (a = strspn(s, ok)) == 0 || s[a] != '/' || s[0] == '.')
		return 0;
	s += a + 1;
	return *s != '\0' && strspn(s, ok) == strlen(s) && strcmp(s, ".") != 0 &&
	    strcmp(s, "..") != 0;
}

int
commit_id_valid(const char *s)
{
	size_t n;

	if (s == NULL)
		return 0;
	n = strspn(s, "0123456789abcdef");
	return s[n] == '\0' && (n == 40 || n == 64);
}

int
write_may_pass(int e)
{
	return e == ENOSPC || e == EDQUOT || e == EIO || e == ENOMEM ||
	    e == EAGAIN || e == EINTR;
}

void
iso8601(time_t t, char buf[21])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

time_t
iso8601_parse(const char *s)
{
	struct tm tm;
	const char *e;

	memset(&tm, 0, sizeof(tm));
	if (s == NULL || (e = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm)) ==
	    NULL || *e != '\0')
		return -1;
	return timegm(&tm);
}

unsigned long long
proc_starttime(pid_t pid)
{
	char path[64], buf[1024], *s;
	unsigned long long t = 0;
	ssize_t n;
	int fd, field;

	if (pid <= 0)
		return 0;
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

time_t
proc_boot_time(const char *path)
{
	char *buf, *s;
	time_t t = 0;

	if ((buf = file_read_at(AT_FDCWD, path ? path : "/proc/stat", 1 << 20,
	    NULL, ANY_OWNER)) == NULL)
		return 0;
	if ((s = strstr(buf, "\nbtime ")) != NULL)
		t = (time_t)strtoll(s + 7, NULL, 10);
	free(buf);
	return t;
}

int
hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * The length of the UTF-8 character at s (1 to 4), or 0 if it is none:
 * a stray or overlong byte, a surrogate, past U+10FFFF, cut by the NUL.
 */
static int
utf8_len(const unsigned char *s)
{
	unsigned long cp;
	int n, i;

	if (*s < 0x80)
		return 1;
	if (*s >= 0xc2 && *s <= 0xdf)
		n = 1, cp = *s & 0x1f;
	else if (*s >= 0xe0 && *s <= 0xef)
		n = 2, cp = *s & 0x0f;
	else if (*s >= 0xf0 && *s <= 0xf4)
		n = 3, cp = *s & 0x07;
	else
		return 0;
	for (i = 1; i <= n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n + 1;
}

int
utf8_valid(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	int n;

	for (; *s != '\0'; s += n)
		if ((n = utf8_len(s)) == 0)
			return 0;
	return 1;
}

char *
json_text_tty(const char *json)
{
	const unsigned char *s = (const unsigned char *)json;
	char *out;
	size_t k = 0;
	int n;

	if ((out = malloc(strlen(json) * 6 + 1)) == NULL)
		return NULL;
	for (; *s != '\0'; s += n) {
		if ((n = utf8_len(s)) == 0) {
			memcpy(out + k, "\\ufffd", 6);
			k += 6;
			n = 1;
		} else if ((n == 1 && *s == 0x7f) || (n == 2 && s[0] == 0xc2 &&
		    s[1] < 0xa0)) {
			k += (size_t)sprintf(out + k, "\\u%04x",
			    n == 1 ? 0x7f : s[1]);
		} else {
			memcpy(out + k, s, (size_t)n);
			k += (size_t)n;
		}
	}
	out[k] = '\0';
	return out;
}

char *
title_clean(const char *str, char out[TITLE_MAX])
{
	const unsigned char *s = (const unsigned char *)(str ? str : "");
	size_t k = 0;
	int n;

	while (*s == ' ' || *s == '\t')
		s++;
	for (; *s != '\0' && *s != '\n' && *s != '\r'; s += n ? n : 1) {
		n = utf8_len(s);
		if (n == 1 && (*s < 0x20 || *s == 0x7f) && *s != '\t')
			continue;	/* a control character: removed */
		if (n == 0 || (n == 2 && s[0] == 0xc2 && s[1] < 0xa0))
			continue;	/* not UTF-8, or C1: removed */
		if (k + n >= TITLE_MAX)
			break;
		if (*s == '\t')
			out[k++] = ' ';
		else {
			memcpy(out + k, s, n);
			k += n;
		}
	}
	while (k > 0 && out[k - 1] == ' ')
		k--;
	out[k] = '\0';
	return out;
}

int
strv_push(struct strv *sv, char *s)
{
	char **nv;

	if (s == NULL || (nv = realloc(sv->v, (sv->n + 2) * sizeof(*nv))) ==
	    NULL) {
		free(s);
		return -1;
	}
	sv->v = nv;
	sv->v[sv->n++] = s;
	sv->v[sv->n] = NULL;
	return 0;
}

int
strv_setenv(struct strv *sv, char *s)
{
	size_t i, n;

	if (s == NULL)
		return -1;
	n = strcspn(s, "=") + 1;
	for (i = 0; i < sv->n; i++)
		if (strncmp(sv->v[i], s, n) == 0) {
			free(sv->v[i]);
			sv->v[i] = s;
			return 0;
		}
	return strv_push(sv, s);
}

void
strv_unsetenv(struct strv *sv, const char *name)
{
	size_t i, n = strlen(name);

	for (i = 0; i < sv->n; i++)
		if (strncmp(sv->v[i], name, n) == 0 && sv->v[i][n] == '=') {
			free(sv->v[i]);
			memmove(&sv->v[i], &sv->v[i + 1], (sv->n - i) *
			    sizeof(*sv->v));
			sv->n--;
			return;
		}
}

int
strv_split(struct strv *sv, const char *s)
{
	struct strv new = { NULL, 0 };
	const char *e;

	for (;;) {
		while (isspace((unsigned char)*s))
			s++;
		if (*s == '\0')
			break;
		for (e = s; *e != '\0' && !isspace((unsigned char)*e); e++)
			;
		if (strv_push(&new, strndup(s, e - s)) == -1) {
			strv_free(&new);
			return -1;
		}
		s = e;
	}
	if (new.v == NULL && (new.v = calloc(1, sizeof(char *))) == NULL)
		return -1;
	strv_free(sv);
	*sv = new;
	return 0;
}

void
argv_free(char **v)
{
	size_t i;

	for (i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

const char *
name_of(const char *s, const char *const all[], size_t n)
{
	size_t i;

	for (i = 0; s != NULL && i < n; i++)
		if (strcmp(s, all[i]) == 0)
			return all[i];
	return NULL;
}

int
strv_has(const struct strv *sv, const char *s)
{
	size_t i;

	for (i = 0; i < sv->n; i++)
		if (strcmp(sv->v[i], s) == 0)
			return 1;
	return 0;
}

void
strv_free(struct strv *sv)
{
	argv_free(sv->v);
	sv->v = NULL;
	sv->n = 0;
}

void
duration_format(char *buf, size_t size, double secs)
{
	long s;

	/* A planted job.json may say 1e30 (or NaN): no cast overflows. */
	if (!(secs < 1e12))
		secs = secs > 0 ? 1e12 : -1;
	s = (long)secs;
	if (secs < 0)
		snprintf(buf, size, "-");
	else if (s < 3600)
		snprintf(buf, size, "%ldm%02lds", s / 60, s % 60);
	else
		snprintf(buf, size, "%ldh%02ldm", s / 3600, s % 3600 / 60);
}

void *
huge_map(size_t size, size_t *mapped)
{
	char *p, *start;

	size = (size + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
	if ((p = mmap(NULL, size + HUGE_PAGE, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)) == MAP_FAILED)
		return NULL;
	start = (char *)(((uintptr_t)p + HUGE_PAGE - 1) &
	    ~(uintptr_t)(HUGE_PAGE - 1));
	if (start > p)
		munmap(p, start - p);
	munmap(start + size, p + HUGE_PAGE - start);
	(void)madvise(start, size, MADV_HUGEPAGE);	/* a hint */
	*mapped = size;
	return start;
}

void
huge_unmap(void *p, size_t mapped)
{
	if (p != NULL)
		munmap(p, mapped);
}

char *
xprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		s = NULL;
	va_end(ap);
	return s;
}

double
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int
lock_wait(int fd, double wait, int (*stop)(void *), void *arg)
{
	double deadline = mono_now() + wait;
	useconds_t pause = 500;

	while (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno != EWOULDBLOCK && errno != EINTR)
			return -1;
		if (stop != NULL && stop(arg)) {
			errno = ECANCELED;
			return -1;
		}
		if (mono_now() >= deadline) {
			errno = ETIMEDOUT;
			return -1;
		}
		usleep(pause);
		if (pause < 50000)
			pause *= 2;
	}
	return 0;
}

int
lock_at(int dfd, const char *name, mode_t mode, uid_t owner, double wait,
    int (*stop)(void *), void *arg)
{
	int fd, saved;

	if ((fd = file_open_at(dfd, name, O_RDWR | O_CREAT, mode, owner)) ==
	    -1)
		return -1;
	if (lock_wait(fd, wait, stop, arg) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

void
sha256_hex(const char *s, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[SHA256_DIGEST_LENGTH];
	size_t i;

	SHA256((const unsigned char *)s, strlen(s), md);
	for (i = 0; i < n && i < sizeof(md); i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[2 * i] = '\0';
}

void
log_line(const char *fmt, ...)
{
	char buf[1024], ts[21];
	va_list ap;
	int n;

	iso8601(time(NULL), ts);
	n = snprintf(buf, sizeof(buf), "[swift-webhook %s] ", ts);
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	(void)!write(STDERR_FILENO, buf, n);
}
