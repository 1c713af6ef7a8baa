/*
 * difftest.h: for test_diff and fuzz_diff: a diff_unified result written
 * out as text, and the check that its hunks, applied to a, give b (and
 * that every context and removed line is a's line where its header says).
 */
#ifndef DIFFTEST_H
#define DIFFTEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"

struct dt_buf {
	char	*s;
	size_t	 n, cap;
};

static void
dt_out(void *arg, char tag, const char *s, size_t n)
{
	struct dt_buf *b = arg;

	if (b->n + n + 3 > b->cap) {
		b->cap = (b->n + n + 3) * 2;
		if ((b->s = realloc(b->s, b->cap)) == NULL)
			abort();
	}
	if (tag != '@')
		b->s[b->n++] = tag;	/* a header has its own "@@" */
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n++] = '\n';
	b->s[b->n] = '\0';
}

/* The lines of s (len bytes) as diff.c splits them: count, and pointers. */
static size_t
dt_lines(const char *s, size_t len, const char ***lv, size_t **ln)
{
	size_t n = 0, i, start = 0;

	*lv = malloc((len + 1) * sizeof(**lv));
	*ln = malloc((len + 1) * sizeof(**ln));
	if (*lv == NULL || *ln == NULL)
		abort();
	for (i = 0; i <= len; i++) {
		if (i < len && s[i] != '\n')
			continue;
		if (i == len && start == len)
			break;
		(*lv)[n] = s + start;
		(*ln)[n++] = i - start;
		start = i + 1;
	}
	return n;
}

/*
 * Applies the diff in d (dlen bytes, as dt_out wrote it; a line may hold
 * a NUL) to a and checks it gives b.
 * Returns NULL, or what went wrong.
 */
static const char *
dt_apply(const char *a, size_t alen, const char *b, size_t blen,
    const char *d, size_t dlen)
{
	const char **av, **bv;
	size_t *al, *bl, an = dt_lines(a, alen, &av, &al);
	size_t bn = dt_lines(b, blen, &bv, &bl), ai = 0, bi = 0, n;
	const char *p = d, *end = d + dlen, *nl, *why = NULL;
	long as, ac, bs, bc;

	while (p < end && why == NULL) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL) {
			why = "a line without its newline";
			break;
		}
		n = (size_t)(nl - p);
		if (*p == '@') {
			ac = bc = 1;
			if (sscanf(p, "@@ -%ld,%ld", &as, &ac) < 1 ||
			    memchr(p, '+', n) == NULL || sscanf(memchr(p, '+', n),
			    "+%ld,%ld", &bs, &bc) < 1) {
				why = "bad hunk header";
				break;
			}
			if (ac == 0)
				as++;
			if (bc == 0)
				bs++;
			/* Lines between hunks are the same in both. */
			while (ai + 1 < (size_t)as && bi < bn && ai < an) {
				if (al[ai] != bl[bi] || memcmp(av[ai], bv[bi],
				    al[ai]) != 0)
					why = "a line between hunks differs";
				ai++, bi++;
			}
			if (ai + 1 != (size_t)as || bi + 1 != (size_t)bs)
				why = "hunk starts at the wrong line";
		} else if (*p == ' ' || *p == '-') {
			if (ai >= an || al[ai] != n - 1 ||
			    memcmp(av[ai], p + 1, n - 1) != 0)
				why = "context or removed line is not a's";
			if (*p == ' ' && (bi >= bn || bl[bi] != n - 1 ||
			    memcmp(bv[bi], p + 1, n - 1) != 0))
				why = "context line is not b's";
			ai++;
			bi += *p == ' ';
		} else if (*p == '+') {
			if (bi >= bn || bl[bi] != n - 1 ||
			    memcmp(bv[bi], p + 1, n - 1) != 0)
				why = "added line is not b's";
			bi++;
		} else
			why = "unknown tag";
		p = nl + 1;
	}
	while (why == NULL && ai < an && bi < bn) {
		if (al[ai] != bl[bi] || memcmp(av[ai], bv[bi], al[ai]) != 0)
			why = "a line after the last hunk differs";
		ai++, bi++;
	}
	if (why == NULL && (ai != an || bi != bn))
		why = "lines left over";
	free(av);
	free(al);
	free(bv);
	free(bl);
	return why;
}

#endif
