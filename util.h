/*
 * util.h: general helpers: files reached from a directory descriptor
 * (never through a symlink, regular files only, bounded reads, atomic
 * writes), times and /proc.
 *
 * Error convention, here and in the modules that use these: a function
 * returns 0 (or a pointer, or a descriptor) on success and -1 (or NULL)
 * on failure with errno set; a function with more outcomes than that
 * returns a named enum.  Where a caller needs words for a person, it
 * passes a char *err buffer of errlen bytes that the callee fills.
 */
#ifndef UTIL_H
#define UTIL_H

#include <stddef.h>
#include <sys/types.h>
#include <time.h>

/* Any owner, for the checks below. */
#define ANY_OWNER	((uid_t)-1)

/*
 * Opens name under dfd: never through a symlink, never blocking on a FIFO
 * or device, close-on-exec; the result must be a regular file owned by
 * owner (unless ANY_OWNER).  flags may add O_RDWR, O_WRONLY, O_CREAT,
 * O_EXCL, O_APPEND.  Returns the descriptor, or -1 with errno set (ELOOP
 * for a symlink, EINVAL for something not a regular file, EPERM for a
 * file of another owner).
 */
int	 file_open_at(int dfd, const char *name, int flags, mode_t mode,
	    uid_t owner);

/*
 * Opens an administrator's file (the config, a secret, a token) to read:
 * a symlink to it is fine, but it must be a regular file (a FIFO or a
 * device would hang or never end).  Returns the descriptor, or -1 with
 * errno (EINVAL: not a regular file).
 */
int	 file_open_regular(const char *path);

/*
 * Opens the directory name under dfd, not through a symlink, and checks
 * it belongs to owner (unless ANY_OWNER).  Returns the descriptor or -1.
 */
int	 dir_open_at(int dfd, const char *name, uid_t owner);

/*
 * Reads all of the regular file fd, at most max bytes (EFBIG past that).
 * Returns it NUL-terminated (its length in *len if len is not NULL), to
 * free, or NULL with errno set.
 */
char	*fd_read_all(int fd, size_t max, size_t *len);

/*
 * file_open_at of a relative path of one or more '/'-separated names:
 * each folder on the way opened with dir_open_at (no symlink, any
 * owner), the last name with file_open_at.  Returns the descriptor, or
 * -1 with errno set as those say (ELOOP: a symlink on the way; EINVAL:
 * an empty, absolute or ".." path).
 */
int	 path_open_at(int dfd, const char *path, int flags, mode_t mode,
	    uid_t owner);

/* file_open_at for reading, then fd_read_all. */
char	*file_read_at(int dfd, const char *name, size_t max, size_t *len,
	    uid_t owner);

/*
 * Whether s is a repository's "owner/name" as GitHub spells one: letters,
 * digits, - _ . in each, an owner that does not start with '.', a name
 * that is not "." or "..": nothing a URL path would read otherwise.
 */
int	 repo_name_valid(const char *s);

/* Whether s is a commit id: exactly 40 (SHA-1) or 64 (SHA-256) hex digits, lower case. */
int	 commit_id_valid(const char *s);

/*
 * Whether a write that failed with errno e may succeed if tried again
 * later: a full disk or quota, an I/O error, no memory; not a folder
 * that is gone or a permission refused.
 */
int	 write_may_pass(int e);

/*
 * Writes name under dfd whole or not at all: a temp file beside it (mode),
 * fsync if sync is set, rename over name.  Returns 0 or -1 (errno set).
 */
int	 file_write_at(int dfd, const char *name, const void *data,
	    size_t len, mode_t mode, int sync);

/*
 * Calls fn(arg, name) for each entry of the directory dfd (but "." and
 * ".."), until fn returns non-zero.  dfd stays open and usable.  Returns
 * 0, or -1 with errno set.
 */
int	 dir_each(int dfd, int (*fn)(void *arg, const char *name), void *arg);

/*
 * Removes name under dfd and, if it is a folder, everything in it, never
 * following a symlink (a symlink is removed, not what it names).  Adds
 * the bytes the removed files held to *freed if freed is not NULL.
 * Returns 0, or -1 with errno set if something is left.
 */
int	 rm_tree_at(int dfd, const char *name, unsigned long long *freed);

/* The bytes a folder tree under dfd holds (du), not following symlinks. */
unsigned long long tree_size_at(int dfd, const char *name);

#define HUGE_PAGE	((size_t)2 << 20)

/*
 * An anonymous mapping of size bytes (rounded up to HUGE_PAGE), aligned
 * to HUGE_PAGE and marked for transparent huge pages where the kernel
 * offers them: one page fault per 2 MiB instead of 512, most of what
 * filling 25 MB costs on a virtual machine.  *mapped gets the size to
 * give huge_unmap.  Returns it, or NULL.
 */
void	*huge_map(size_t size, size_t *mapped);
void	 huge_unmap(void *p, size_t mapped);

/* write(2) all of it, retrying on EINTR.  Returns 0 or -1. */
int	 write_all(int fd, const void *data, size_t len);

/* A vector of strings it owns, NULL-terminated once it holds one. */
struct strv {
	char	**v;
	size_t	  n;
};

/* Appends s, taking it (freed if it cannot be kept).  0, or -1 (s NULL). */
int	 strv_push(struct strv *sv, char *s);

/* Like strv_push, but replaces the entry of the same "NAME=". */
int	 strv_setenv(struct strv *sv, char *s);

/* Removes the entry "NAME=..." of sv, if any. */
void	 strv_unsetenv(struct strv *sv, const char *name);

/*
 * The one of the n names all[] that s spells (so that == compares
 * names), or NULL (s NULL, or none).
 */
const char *name_of(const char *s, const char *const all[], size_t n);

/* Whether s is one of sv's strings. */
int	 strv_has(const struct strv *sv, const char *s);

/* Replaces what sv holds by the white-space-separated words of s. */
int	 strv_split(struct strv *sv, const char *s);

/* Frees what sv holds; argv_free the same for a bare vector. */
void	 strv_free(struct strv *sv);
void	 argv_free(char **v);

/* A string printf makes, malloc'd; NULL if out of memory. */
char	*xprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A duration for people: "7m05s", "2h03m", "-" when secs < 0. */
void	 duration_format(char *buf, size_t size, double secs);

/* Formats t as ISO 8601 UTC ("2026-11-29T04:32:37Z") into buf[21]. */
void	 iso8601(time_t t, char buf[21]);

/* The time an ISO 8601 UTC string names, or -1. */
time_t	 iso8601_parse(const char *s);

/*
 * The start time of process pid (field 22 of /proc/pid/stat), which with
 * the PID tells a process from a later one that got its number; 0 if
 * there is no such process (or it is a zombie).
 */
unsigned long long proc_starttime(pid_t pid);

/*
 * The machine's boot time: btime of path (NULL: /proc/stat), read whole
 * (a machine with hundreds of CPUs has tens of KiB of "cpuN" lines
 * before it), or 0.
 */
time_t	 proc_boot_time(const char *path);

/* Seconds on the monotonic clock: for deadlines no clock step moves. */
double	 mono_now(void);

/*
 * Takes an exclusive flock(2) on fd without ever blocking on it for good:
 * LOCK_NB, retried with a growing pause (0.5 to 50 ms) until wait seconds
 * have passed on the monotonic clock, or until stop(arg) (if not NULL)
 * says to give up.  Returns 0, or -1 with errno ETIMEDOUT (held all
 * along), ECANCELED (stopped) or flock's own.
 */
int	 lock_wait(int fd, double wait, int (*stop)(void *), void *arg);

/*
 * Opens the lock file name under dfd (made if missing, as file_open_at
 * does with mode and owner) and takes it with lock_wait (wait, stop).
 * Returns the locked descriptor (close it to let go), or -1 with errno
 * (ETIMEDOUT, ECANCELED, or the open's).
 */
int	 lock_at(int dfd, const char *name, mode_t mode, uid_t owner,
	    double wait, int (*stop)(void *), void *arg);

/* The first n (at most 32) bytes of SHA-256(s), as 2n hex digits, in out. */
void	 sha256_hex(const char *s, size_t n, char *out);

/*
 * A line "[swift-webhook TIME] ..." on stderr: in a detached process,
 * the job's log.
 */
void	 log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The value of hex digit c (either case), or -1. */
int	 hex_value(int c);

/* Whether s is valid UTF-8 (no overlongs, surrogates or > U+10FFFF). */
int	 utf8_valid(const char *s);

/*
 * A JSON text (as cJSON prints one: ASCII outside its strings) for a
 * terminal: DEL and C1 characters, which JSON may carry raw, as \u
 * escapes, and each byte that is not UTF-8 as \ufffd.  Returns a new
 * string (free it), or NULL if out of memory.
 */
char	*json_text_tty(const char *json);

/*
 * A commit message's title for people: its first line, leading and
 * trailing blanks dropped, a tab as a space, every other control
 * character (C0, DEL, C1) and every byte that is not UTF-8 removed,
 * cut at a character's end to fit TITLE_MAX bytes (NUL included).
 * s may be NULL (out: "").  Returns out.
 */
#define TITLE_MAX	256
char	*title_clean(const char *s, char out[TITLE_MAX]);

#endif
