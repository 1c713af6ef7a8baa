/*
 * checkout.c: a mirror per repository, a worktree per job.  See
 * checkout.h.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "checkout.h"
#include "spawn.h"
#include "util.h"

#define MIRRORS		".mirrors"
#define GIT_ARGS_MAX	16

/* What the git steps of one job share. */
struct git {
	const struct conf *c;
	struct job	*j;		/* NULL: not for a job (check) */
	struct strv	 env;
	char		 name[80];	/* the mirror's file name (mirror_name) */
	char		 mirror[PATH_MAX];	/* its path */
	char		 gitdir[PATH_MAX + 16];	/* "--git-dir=" mirror */
	char		*err;
	size_t		 errlen;
	int		 stopped;
	int		 timed_out;	/* the last step ran out of time */
	int		 quiet;		/* git's output not on our stderr */
	char		 out[512];	/* the last line git printed */
};

/*
 * The mirror's file name: the repository's last path segment (safe
 * characters only) and the start of its URL's SHA-256, so that another
 * URL never shares a mirror.
 */
static void
mirror_name(const char *url, char buf[80])
{
	const char *base = url, *s;
	size_t n = 0, len;

	len = strlen(url);
	while (len > 1 && url[len - 1] == '/')
		len--;
	for (s = url; s < url + len; s++)
		if (*s == '/' || *s == ':')
			base = s + 1;
	if (len - (base - url) > 4 && strncmp(url + len - 4, ".git", 4) == 0)
		len -= 4;
	for (s = base; s < url + len && n < 40; s++)
		if (isalnum((unsigned char)*s) || *s == '_' || *s == '-' ||
		    (*s == '.' && n > 0))
			buf[n++] = *s;
	if (n == 0)
		n = (size_t)snprintf(buf, 80, "repo");
	buf[n++] = '-';
	sha256_hex(url, 6, buf + n);
	snprintf(buf + n + 12, 80 - n - 12, ".git");
}

/* git's environment: no prompt, English, the deploy key or credentials. */
static int
git_env(const struct conf *c, struct strv *env)
{
	char *s, home[PATH_MAX];
	const char *why;

	if (spawn_base_env(env) == -1 ||
	    (rundir_home(c->run_dir, home, &why) == 0 &&
	    strv_setenv(env, xprintf("HOME=%s", home)) == -1) ||
	    strv_setenv(env, strdup("LC_ALL=C")) == -1 ||
	    strv_setenv(env, strdup("GIT_TERMINAL_PROMPT=0")) == -1)
		return -1;
	if (c->git_ssh_key != NULL) {
		if (asprintf(&s, "GIT_SSH_COMMAND=ssh -F /dev/null -i %s "
		    "-o IdentitiesOnly=yes -o BatchMode=yes "
		    "-o StrictHostKeyChecking=yes -o UserKnownHostsFile=%s",
		    c->git_ssh_key, c->git_known_hosts) == -1)
			return -1;
		if (strv_setenv(env, s) == -1)
			return -1;
	}
	if (c->git_credentials != NULL) {
		if (asprintf(&s, "GIT_CONFIG_VALUE_0=store --file=%s",
		    c->git_credentials) == -1)
			return -1;
		if (strv_setenv(env, strdup("GIT_CONFIG_COUNT=1")) == -1 ||
		    strv_setenv(env, strdup("GIT_CONFIG_KEY_0="
		    "credential.helper")) == -1 || strv_setenv(env, s) == -1)
			return -1;
	}
	return 0;
}

static int
stop_asked(void *arg)
{
	struct git *g = arg;

	return g->j != NULL && job_stop_requested(g->j) != NULL;
}

/* The last line of git's output that says something, on one line. */
static void
last_words(char *tail)
{
	char *e = tail + strlen(tail), *s;

	while (e > tail && isspace((unsigned char)e[-1]))
		*--e = '\0';
	for (s = e; s > tail && s[-1] != '\n'; s--)
		;
	memmove(tail, s, strlen(s) + 1);
	for (s = tail; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20)
			*s = ' ';
}

/*
 * What git said that matters, on one line: its "fatal:" and "error:"
 * lines (and ssh's "Permission denied", "Host key verification failed"),
 * joined with "; ", else its last line (last_words): never the end of a
 * usage hint that follows the reason.
 */
static void
git_words(const char *out, char *words, size_t size)
{
	const char *l, *e;
	size_t k = 0, n;
	int i;

	words[0] = '\0';
	for (l = out; *l != '\0'; l = *e ? e + 1 : e) {
		e = l + strcspn(l, "\n");
		n = (size_t)(e - l);
		if (!(strncmp(l, "fatal:", 6) == 0 || strncmp(l, "error:",
		    6) == 0 || (memmem(l, n, "Permission denied", 17) != NULL) ||
		    memmem(l, n, "Host key verification failed", 28) != NULL))
			continue;
		if (k > 0 && k + 2 < size) {
			memcpy(words + k, "; ", 2);
			k += 2;
		}
		for (i = 0; (size_t)i < n && k + 1 < size; i++)
			words[k++] = (unsigned char)l[i] < 0x20 ? ' ' : l[i];
		words[k] = '\0';
	}
	if (k == 0) {
		snprintf(words, size, "%s", out);
		last_words(words);
	}
}

int
checkout_advice(const struct conf *c, const char *err, const char *user,
    char *out, size_t size)
{
	const char *r = c->repository;
	int local = r[0] == '/' || strncmp(r, "file://", 7) == 0;
	int https = strncmp(r, "https://", 8) == 0 || strncmp(r, "http://",
	    7) == 0;

	if (local && strstr(err, "dubious ownership") != NULL)
		snprintf(out, size, "git refuses a repository that another "
		    "user owns: make it %s's (chown -R %s %s), or trust it for "
		    "all users with git config --system --add safe.directory "
		    "%s", user, user, local && r[0] != '/' ? r + 7 : r,
		    r[0] == '/' ? r : r + 7);
	else if (local && (strstr(err, "does not appear to be a git "
	    "repository") != NULL || strstr(err, "No such file") != NULL ||
	    strstr(err, "not a git repository") != NULL))
		snprintf(out, size, "there is no git repository at %s: check "
		    "the path", local && r[0] != '/' ? r + 7 : r);
	else if (local)
		snprintf(out, size, "let %s read %s (its folders need x, its "
		    "files r)", user, r[0] == '/' ? r : r + 7);
	else if (strstr(err, "Host key verification failed") != NULL)
		snprintf(out, size, "ssh does not know the server's host key: "
		    "put it in a file for git_known_hosts (ssh-keyscan HOST)");
	else if (!https && strstr(err, "Permission denied") != NULL)
		snprintf(out, size, "the server refused the key: give %s a "
		    "deploy key (git_ssh_key) that the repository accepts",
		    user);
	else if (!https)
		snprintf(out, size, "give %s a deploy key (git_ssh_key) and the "
		    "server's host key (git_known_hosts), see "
		    "docs/checkout.md#credentials", user);
	else if (strstr(err, "404") != NULL || strstr(err, "not found") !=
	    NULL)
		snprintf(out, size, "check the URL; for a private repository, "
		    "the token in git_credentials must be able to read it");
	else
		snprintf(out, size, "give %s a credential file (git_credentials) "
		    "with a token that can read the repository, see "
		    "docs/checkout.md#credentials",
		    user);
	return 0;
}

/*
 * Runs git with the arguments after step (NULL-terminated) in dir
 * (NULL: the job's folder), bounded by fetch_timeout.  Returns 0 if it
 * exited 0; else -1 with "step: why" in g->err (g->stopped if the job was
 * asked to stop).
 */
static int
git(struct git *g, const char *dir, const char *step, ...)
{
	char *argv[GIT_ARGS_MAX + 2], tail[2048], words[512];
	struct child r;
	va_list ap;
	int n = 0, status;
	enum run_end end;

	argv[n++] = "git";
	va_start(ap, step);
	while (n < GIT_ARGS_MAX && (argv[n] = va_arg(ap, char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	memset(&r, 0, sizeof(r));
	r.argv = argv;
	r.envp = g->env.v;
	r.dir = dir ? dir : "/";
	if (g->j != NULL && dir == NULL) {
		r.dir = NULL;
		r.dirfd = g->j->dirfd;
	}
	r.timeout = g->c->fetch_timeout;
	r.stop = stop_asked;
	r.arg = g;
	r.quiet = g->quiet;
	/*
	 * It dies with its supervisor (SIGTERM: git removes its lock files):
	 * the next supervisor checks out again and must not race it.
	 */
	r.pdeathsig = SIGTERM;
	end = spawn_run(&r, &status, tail, sizeof(tail));
	git_words(tail, words, sizeof(words));
	last_words(tail);
	snprintf(g->out, sizeof(g->out), "%s", tail);
	if (end == RUN_EXITED && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0)
		return 0;
	if (end == RUN_STOPPED) {
		g->stopped = 1;
		snprintf(g->err, g->errlen, "%s: stopped", step);
	} else if (end == RUN_TIMEOUT) {
		g->timed_out = 1;
		snprintf(g->err, g->errlen, "%s: git timed out after %lds "
		    "(fetch_timeout)%s%s", step, g->c->fetch_timeout,
		    words[0] ? ": " : "", words);
	}
	else if (end == RUN_ERROR)
		snprintf(g->err, g->errlen, "%s: %s", step, tail);
	else
		snprintf(g->err, g->errlen, "%s: git %s %d%s%s", step,
		    WIFEXITED(status) ? "exited with status" :
		    "killed by signal", WIFEXITED(status) ?
		    WEXITSTATUS(status) : WTERMSIG(status),
		    words[0] ? ": " : "", words);
	return -1;
}

/*
 * Takes the mirror's lock, waiting at most fetch_timeout (lock_wait) and
 * not past a stop request.  Returns the locked descriptor, or -1 (g->err
 * says why).
 */
static int
lock_mirror(struct git *g, int mfd)
{
	char lock[96];
	int fd;

	snprintf(lock, sizeof(lock), "%.*s.lock", (int)strlen(g->name) - 4,
	    g->name);
	if ((fd = lock_at(mfd, lock, 0600, geteuid(), g->c->fetch_timeout,
	    stop_asked, g)) != -1)
		return fd;
	if (errno == ECANCELED) {
		g->stopped = 1;
		snprintf(g->err, g->errlen, "lock mirror: stopped");
	} else if (errno == ETIMEDOUT)
		snprintf(g->err, g->errlen, "lock mirror: still held by "
		    "another job after %lds (fetch_timeout)",
		    g->c->fetch_timeout);
	else
		snprintf(g->err, g->errlen, "lock mirror: %s/%s: %s",
		    MIRRORS, lock, strerror(errno));
	return -1;
}

/* Opens (making it if missing) run_dir/.mirrors, ours and no symlink. */
static int
open_mirrors(struct rundir *rd)
{
	if (mkdirat(rd->fd, MIRRORS, 0750) == -1 && errno != EEXIST)
		return -1;
	return dir_open_at(rd->fd, MIRRORS, rd->uid);
}

/* With the lock held: the mirror exists, made whole or not at all. */
static int
mirror_ready(struct git *g, struct rundir *rd, int mfd)
{
	char tmp[PATH_MAX], tmpname[96];
	int fd;

	if ((fd = dir_open_at(mfd, g->name, rd->uid)) != -1) {
		close(fd);
		return 0;
	}
	if (errno != ENOENT) {
		snprintf(g->err, g->errlen, "mirror %s: %s", g->mirror,
		    errno == EPERM ? "not the run directory owner's" :
		    strerror(errno));
		return -1;
	}
	snprintf(tmpname, sizeof(tmpname), "%s.new", g->name);
	rm_tree_at(mfd, tmpname, NULL);	/* a crashed init's */
	snprintf(tmp, sizeof(tmp), "%s.new", g->mirror);
	if (git(g, NULL, "make mirror", "init", "--quiet", "--bare", tmp,
	    (char *)NULL) == -1)
		return -1;
	if (renameat(mfd, tmpname, mfd, g->name) == -1) {
		snprintf(g->err, g->errlen, "make mirror: rename %s: %s",
		    tmp, strerror(errno));
		return -1;
	}
	return 0;
}

/* Whether the mirror has the commit; a "no" is not logged. */
static int
has_commit(struct git *g, const char *want)
{
	int quiet = g->quiet, rc;

	g->quiet = 1;
	rc = git(g, NULL, "look up commit", g->gitdir, "cat-file", "-e", want,
	    (char *)NULL);
	g->quiet = quiet;
	g->err[0] = '\0';
	return rc == 0;
}

/* With the lock held: the mirror has the commit, or g->err says why not. */
static int
fetch(struct git *g, const struct job *j)
{
	char want[96], first[512];	/* 64 hex digits and "^{commit}" */

	snprintf(want, sizeof(want), "%s^{commit}", j->sha);
	if (has_commit(g, want))
		return 0;
	log_line("job %s: fetching %s from %s", j->id, j->sha,
	    g->c->repository);
	if (git(g, NULL, "fetch", g->gitdir, "fetch", "--no-tags",
	    "--no-write-fetch-head", g->c->repository, j->sha,
	    (char *)NULL) == 0)
		return 0;
	if (g->stopped || g->timed_out)
		return -1;
	/* A server that refuses a bare sha: its branches, then look again. */
	snprintf(first, sizeof(first), "%s", g->err);
	g->err[0] = '\0';
	if (git(g, NULL, "fetch", g->gitdir, "fetch", "--no-tags", "--prune",
	    "--no-write-fetch-head", g->c->repository,
	    "+refs/heads/*:refs/remotes/origin/*", (char *)NULL) == -1)
		return -1;
	if (has_commit(g, want))
		return 0;
	snprintf(g->err, g->errlen, "fetch: commit %s is not in %s (gone "
	    "after a force-push?): %s", j->sha, g->c->repository, first);
	return -1;
}

static void
git_free(struct git *g)
{
	strv_free(&g->env);
}

/* rd NULL: no mirror (check reads the repository itself). */
static int
git_init(struct git *g, const struct conf *c, struct rundir *rd,
    struct job *j, char *err, size_t errlen)
{
	memset(g, 0, sizeof(*g));
	g->c = c;
	g->j = j;
	g->err = err;
	g->errlen = errlen;
	err[0] = '\0';
	if (rd != NULL) {
		mirror_name(c->repository, g->name);
		snprintf(g->mirror, sizeof(g->mirror), "%s/%s/%s", rd->path,
		    MIRRORS, g->name);
		snprintf(g->gitdir, sizeof(g->gitdir), "--git-dir=%s",
		    g->mirror);
	}
	if (git_env(c, &g->env) == -1) {
		snprintf(err, errlen, "out of memory");
		git_free(g);
		return -1;
	}
	return 0;
}

enum checkout_result
checkout_make(struct rundir *rd, const struct conf *c, struct job *j,
    char *err, size_t errlen)
{
	char src[PATH_MAX];
	struct git g;
	int mfd = -1, lock = -1, rc = -1;

	if (git_init(&g, c, rd, j, err, errlen) == -1)
		return CHECKOUT_FAILED;
	snprintf(src, sizeof(src), "%s/src", j->dir);
	if ((mfd = open_mirrors(rd)) == -1) {
		snprintf(err, errlen, "mirror: %s/%s: %s", rd->path, MIRRORS,
		    errno == EPERM ? "not the run directory owner's" :
		    strerror(errno));
		goto out;
	}
	if ((lock = lock_mirror(&g, mfd)) == -1)
		goto out;
	if (mirror_ready(&g, rd, mfd) == -1 ||
	    git(&g, NULL, "prune worktrees", g.gitdir, "worktree", "prune",
	    (char *)NULL) == -1 || fetch(&g, j) == -1)
		goto out;
	j->has_src = 1;		/* from here on, what is there is removed */
	/* What a checkout cut short left (its supervisor killed). */
	if (rm_tree_at(j->dirfd, "src", NULL) == -1)
		log_line("job %s: remove %s/src: %s", j->id, j->dir,
		    strerror(errno));
	if (git(&g, NULL, "checkout", g.gitdir, "worktree", "add", "--quiet",
	    "--no-checkout", "--detach", src, j->sha, (char *)NULL) == -1)
		goto out;
	/*
	 * The files need no lock; submodules do: their URLs live in the
	 * mirror's config, which every worktree shares.  Under the lock,
	 * sync rewrites them from this commit's .gitmodules before update
	 * uses them, so that no earlier commit's URL is fetched from.
	 */
	if (!c->submodules) {
		close(lock);
		lock = -1;
	}
	log_line("job %s: checking out %s into %s", j->id, j->sha, src);
	if (git(&g, src, "checkout", "reset", "--quiet", "--hard",
	    (char *)NULL) == -1)
		goto out;
	if (c->submodules && (git(&g, src, "submodules", "submodule",
	    "--quiet", "sync", "--recursive", (char *)NULL) == -1 ||
	    git(&g, src, "submodules", "submodule", "--quiet", "update",
	    "--init", "--recursive", (char *)NULL) == -1))
		goto out;
	/* What the trainer gets is what was pushed, or it does not run. */
	if (git(&g, src, "verify", "rev-parse", "--verify", "HEAD",
	    (char *)NULL) == -1)
		goto out;
	if (strcmp(g.out, j->sha) != 0) {
		snprintf(err, errlen, "verify: the checkout is at %.64s, not "
		    "%s", g.out, j->sha);
		goto out;
	}
	snprintf(j->commit, sizeof(j->commit), "%s", g.out);
	rc = 0;
out:
	if (lock != -1)
		close(lock);
	if (mfd != -1)
		close(mfd);
	git_free(&g);
	return rc == 0 ? CHECKOUT_OK : g.stopped ? CHECKOUT_STOPPED :
	    CHECKOUT_FAILED;
}

void
checkout_remove(struct job *j)
{
	if (!j->has_src)
		return;
	if (rm_tree_at(j->dirfd, "src", NULL) == -1)
		log_line("job %s: remove %s/src: %s", j->id, j->dir,
		    strerror(errno));
	else
		j->has_src = 0;
}

void
checkout_prune(struct rundir *rd, const struct conf *c)
{
	char err[256];
	struct git g;
	struct conf quick = *c;
	int mfd, fd, lock;

	quick.fetch_timeout = 1;	/* for the lock; git gets a minute */
	if (git_init(&g, &quick, rd, NULL, err, sizeof(err)) == -1)
		return;
	if ((mfd = dir_open_at(rd->fd, MIRRORS, rd->uid)) != -1) {
		if ((fd = dir_open_at(mfd, g.name, rd->uid)) != -1) {
			close(fd);
			if ((lock = lock_mirror(&g, mfd)) != -1) {
				quick.fetch_timeout = 60;
				git(&g, NULL, "prune", g.gitdir, "worktree",
				    "prune", (char *)NULL);
				close(lock);
			}
		}
		close(mfd);
	}
	git_free(&g);
}

int
checkout_check(const struct conf *c, char *err, size_t errlen)
{
	struct git g;
	struct conf quick = *c;
	int rc;

	if (quick.fetch_timeout > 30)
		quick.fetch_timeout = 30;
	if (git_init(&g, &quick, NULL, NULL, err, errlen) == -1)
		return -1;
	g.quiet = 1;
	rc = git(&g, NULL, "repository", "ls-remote", "--exit-code",
	    c->repository, "HEAD", (char *)NULL);
	git_free(&g);
	return rc;
}
