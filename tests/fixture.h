/*
 * fixture.h: what the unit tests that run processes share: a folder of
 * their own, files put and read back, waiting for a file to say
 * something, a config and its run directory from text, a job's fields,
 * and tests/fake-tool linked on PATH as the tools swift-webhook runs.
 * Include after t.h.
 */
#ifndef FIXTURE_H
#define FIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "job.h"
#include "rundir.h"

/* The test's folder (mkdtemp'd by fx_init) and tests/ (where we are). */
static char fx_top[PATH_MAX];
static char fx_tests[PATH_MAX];

static __attribute__((unused)) void
fx_put(const char *path, const char *text, int mode)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return;
	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

/* A file's text (at most 256 KiB), in a buffer of the caller's to free. */
static __attribute__((unused)) char *
fx_read(const char *path)
{
	char *buf;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY)) == -1)
		return NULL;
	if ((buf = malloc(1 << 18)) == NULL) {
		close(fd);
		return NULL;
	}
	n = read(fd, buf, (1 << 18) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* Whether path says needle within secs seconds (looking every 50 ms). */
static __attribute__((unused)) int
fx_await(const char *path, const char *needle, int secs)
{
	char *s;
	int i, found = 0;

	for (i = 0; i < secs * 20 && !found; i++) {
		if ((s = fx_read(path)) != NULL) {
			found = strstr(s, needle) != NULL;
			free(s);
		}
		if (!found)
			usleep(50000);
	}
	return found;
}

/* fx_top/rel, in a static buffer per call site's use. */
static __attribute__((unused)) const char *
fx_path(char buf[PATH_MAX], const char *rel)
{
	snprintf(buf, PATH_MAX, "%s/%s", fx_top, rel);
	return buf;
}

/*
 * Makes the test's folder from name (/tmp/swh-NAME-XXXXXX) with bin/
 * holding tests/fake-tool as each of tools[] (NULL-terminated) and
 * fake/ for its state; HOME and PATH point there, so that children see
 * them through the allow-list (spawn_init comes after).  argv0 finds
 * tests/.  Returns 0, or -1.
 */
static __attribute__((unused)) int
fx_init(const char *name, const char *argv0, const char *const tools[])
{
	char path[PATH_MAX], target[PATH_MAX * 2];
	size_t i;

	snprintf(fx_top, sizeof(fx_top), "/tmp/swh-%s-XXXXXX", name);
	if (realpath(argv0, fx_tests) == NULL || mkdtemp(fx_top) == NULL)
		return -1;
	*strrchr(fx_tests, '/') = '\0';
	chmod(fx_top, 0755);
	if (mkdir(fx_path(path, "bin"), 0755) == -1 ||
	    mkdir(fx_path(path, "fake"), 0755) == -1)
		return -1;
	for (i = 0; tools != NULL && tools[i] != NULL; i++) {
		snprintf(target, sizeof(target), "%s/fake-tool", fx_tests);
		snprintf(path, sizeof(path), "%s/bin/%s", fx_top, tools[i]);
		if (symlink(target, path) == -1)
			return -1;
	}
	snprintf(path, sizeof(path), "%s/bin:/usr/local/bin:/usr/bin:/bin",
	    fx_top);
	setenv("PATH", path, 1);
	setenv("HOME", fx_top, 1);
	return 0;
}

/* What fake tool name is to answer: NAME.out (and NAME.rc if rc >= 0). */
static __attribute__((unused)) void
fx_tool(const char *name, const char *out, int rc)
{
	char path[PATH_MAX], rel[64], num[16];

	snprintf(rel, sizeof(rel), "fake/%s.out", name);
	fx_put(fx_path(path, rel), out, 0644);
	snprintf(rel, sizeof(rel), "fake/%s.rc", name);
	if (rc >= 0) {
		snprintf(num, sizeof(num), "%d\n", rc);
		fx_put(fx_path(path, rel), num, 0644);
	} else
		unlink(fx_path(path, rel));
}

/* How many times fake tool name was called (lines of NAME.calls). */
static __attribute__((unused)) int
fx_calls(const char *name)
{
	char path[PATH_MAX], rel[64], *s, *p;
	int n = 0;

	snprintf(rel, sizeof(rel), "fake/%s.calls", name);
	if ((s = fx_read(fx_path(path, rel))) == NULL)
		return 0;
	for (p = s; *p != '\0'; p++)
		n += *p == '\n';
	free(s);
	return n;
}

/* Loads a config from text (file fx_top/NAME).  Returns 0, or -1. */
static __attribute__((unused)) int
fx_conf(struct conf *c, const char *name, const char *text)
{
	char path[PATH_MAX], err[512];

	fx_put(fx_path(path, name), text, 0600);
	if (conf_load(c, path, err, sizeof(err)) == -1) {
		printf("# %s: %s\n", name, err);
		return -1;
	}
	return 0;
}

/*
 * Loads text as the config fx_top/name and opens its run_dir (made if
 * missing) to write.  Returns 0, or -1 said as a failed setup check.
 */
static __attribute__((unused)) int
fx_setup(struct conf *c, struct rundir *rd, const char *name,
    const char *text)
{
	char err[512] = "";

	if (fx_conf(c, name, text) == 0) {
		mkdir(c->run_dir, 0750);
		if (rundir_open(rd, c->run_dir, 1, err, sizeof(err)) == 0)
			return 0;
		conf_free(c);
	}
	CHECK(0, "setup: config and run directory", "%s %s", name, err);
	return -1;
}

/* A job of the tests': delivery d-1, a push to acme/train's main. */
static __attribute__((unused)) void
fx_job(struct job *j, const char *sha, const char *config)
{
	job_init(j);
	j->delivery = "d-1";
	j->event = "push";
	j->repository = "acme/train";
	j->ref = "refs/heads/main";
	j->branch = "main";
	j->sha = sha;
	j->config = config;
}

/* Removes the test's folder (what a trainer still ending adds: twice). */
static __attribute__((unused)) void
fx_done(void)
{
	char cmd[PATH_MAX * 2 + 64];

	snprintf(cmd, sizeof(cmd), "rm -rf %s 2>/dev/null || "
	    "{ sleep 3; rm -rf %s; }", fx_top, fx_top);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", fx_top);
}

#endif
