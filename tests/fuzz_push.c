/*
 * fuzz_push: libFuzzer harness for push parsing and filtering, and for the
 * globs (make fuzz).  The input is a push event body; if it holds a NUL,
 * the part before it is also matched as a glob against the part after.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "filter.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static struct conf conf;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[] = "/tmp/swh-fuzz-XXXXXX", err[512];
	FILE *f;
	int fd;

	(void)argc;
	(void)argv;
	if ((fd = mkstemp(path)) == -1 || (f = fdopen(fd, "w")) == NULL)
		abort();
	fputs("run_dir = /nonexistent\nsecret = x\n"
	    "branches = main release/** feat-?\n"
	    "ignore_paths = docs/ *.md [!a-c]x\n", f);
	fclose(f);
	if (conf_load(&conf, path, err, sizeof(err)) == -1)
		abort();
	unlink(path);
	return 0;
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char reason[FILTER_REASON_MAX], *copy, *nul;
	char ref[PEEK_MAX], after[PEEK_MAX];
	struct push p;
	struct selection sel;
	size_t i;
	int peeked;

	/* What the scan ignores, the parse and filter never run. */
	peeked = push_peek(&conf, (const char *)data, size, ref, after,
	    reason) == FILTER_IGNORE;
	if (push_parse(&p, (const char *)data, size, reason) == 0) {
		if (filter_push(&conf, &p, &sel, reason) == 1) {
			if (peeked)
				abort();
			for (i = 0; i < sel.n; i++)
				if (!sel.everything && sel.configs[i][0] == '-')
					abort();	/* never an option */
			selection_free(&sel);
		}
		push_free(&p);
	}
	if ((copy = malloc(size + 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	if ((nul = memchr(copy, '\0', size)) != NULL && strlen(copy) < 64) {
		glob_match(copy, nul + 1);
		path_match(copy, nul + 1);
	}
	free(copy);
	return 0;
}
