/*
 * fuzz.h: what the libFuzzer harnesses share: a folder of their own under
 * /tmp, a file in it put from the input, and a config loaded from text.
 */
#ifndef FUZZ_H
#define FUZZ_H

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static char fz_dir[PATH_MAX];

/* fz_dir made (mkdtemp), or abort. */
static void
fz_init(void)
{
	snprintf(fz_dir, sizeof(fz_dir), "/tmp/swh-fuzz-XXXXXX");
	if (mkdtemp(fz_dir) == NULL)
		abort();
}

/* Writes n bytes of data to dir/name (0640), or aborts. */
static __attribute__((unused)) void
fz_put(const char *dir, const char *name, const void *data, size_t n)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640)) == -1 ||
	    (n > 0 && write(fd, data, n) != (ssize_t)n))
		abort();
	close(fd);
}

/* A config from text (written to fz_dir/conf), or aborts. */
static __attribute__((unused)) void
fz_conf(struct conf *c, const char *text)
{
	char path[PATH_MAX], err[512];

	fz_put(fz_dir, "conf", text, strlen(text));
	snprintf(path, sizeof(path), "%s/conf", fz_dir);
	if (conf_load(c, path, err, sizeof(err)) == -1) {
		fprintf(stderr, "fuzz: %s\n", err);
		abort();
	}
}

/* The input as a NUL-terminated string (to free), or NULL. */
static __attribute__((unused)) char *
fz_string(const unsigned char *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s != NULL) {
		memcpy(s, data, size);
		s[size] = '\0';
	}
	return s;
}

#endif
