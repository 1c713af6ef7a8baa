/*
 * test_diff.c: the unified diff of two configs: table rows (the text
 * `diff -u` prints for them), then random texts whose diffs, applied,
 * must give the second text, and one too far apart for the search.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"
#include "difftest.h"
#include "t.h"

static const struct row {
	const char *name, *a, *b, *want;
	long changes;
} rows[] = {
	{ "same text", "a\nb\n", "a\nb\n", "", 0 },
	{ "both empty", "", "", "", 0 },
	{ "a last line without newline is a line", "a\nb", "a\nb\n", "", 0 },
	{ "one line changed", "model: x\nlearning_rate: 1e-4\nepochs: 1\n",
	    "model: x\nlearning_rate: 2e-4\nepochs: 1\n",
	    "@@ -1,3 +1,3 @@\n model: x\n-learning_rate: 1e-4\n"
	    "+learning_rate: 2e-4\n epochs: 1\n", 2 },
	{ "from nothing", "", "a\nb\n", "@@ -0,0 +1,2 @@\n+a\n+b\n", 2 },
	{ "to nothing", "a\n", "", "@@ -1 +0,0 @@\n-a\n", 1 },
	{ "added at the end", "a\nb\nc\nd\ne\n", "a\nb\nc\nd\ne\nf\n",
	    "@@ -3,3 +3,4 @@\n c\n d\n e\n+f\n", 1 },
	{ "context cut to 3 lines",
	    "1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\nX\n6\n7\n8\n9\n",
	    "@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+X\n 6\n 7\n 8\n", 2 },
	{ "two changes far apart: two hunks",
	    "a\n1\n2\n3\n4\n5\n6\n7\n8\nz\n", "A\n1\n2\n3\n4\n5\n6\n7\n8\nZ\n",
	    "@@ -1,4 +1,4 @@\n-a\n+A\n 1\n 2\n 3\n"
	    "@@ -7,4 +7,4 @@\n 6\n 7\n 8\n-z\n+Z\n", 4 },
	{ "two changes near: one hunk",
	    "a\n1\n2\n3\n4\n5\n6\nz\n", "A\n1\n2\n3\n4\n5\n6\nZ\n",
	    "@@ -1,8 +1,8 @@\n-a\n+A\n 1\n 2\n 3\n 4\n 5\n 6\n-z\n+Z\n", 4 },
	{ "inserted in the middle", "a\nb\nc\n", "a\nb\nx\nc\n",
	    "@@ -1,3 +1,4 @@\n a\n b\n+x\n c\n", 1 },
	{ "moved line", "a\nb\nc\n", "b\nc\na\n",
	    "@@ -1,3 +1,3 @@\n-a\n b\n c\n+a\n", 2 },
	{ "blank lines count", "a\n\nb\n", "a\nb\n",
	    "@@ -1,3 +1,2 @@\n a\n-\n b\n", 1 },
	{ "bytes that are no UTF-8 compared as bytes", "\xff\n", "\xfe\n",
	    "@@ -1 +1 @@\n-\xff\n+\xfe\n", 2 },
};

static unsigned long seed = 12345;

static unsigned
rnd(unsigned n)
{
	seed = seed * 6364136223846793005ul + 1442695040888963407ul;
	return (unsigned)(seed >> 33) % n;
}

/* A random text of about n lines from a small alphabet (many repeats). */
static char *
text(int n, size_t *len)
{
	char *s = malloc((size_t)n * 4 + 1);
	size_t k = 0;
	int i;

	for (i = 0; i < n; i++) {
		s[k++] = (char)('a' + rnd(5));
		if (rnd(3) == 0)
			s[k++] = (char)('a' + rnd(5));
		s[k++] = '\n';
	}
	if (k > 0 && rnd(4) == 0)
		k--;		/* no newline at the end */
	s[k] = '\0';
	*len = k;
	return s;
}

/* b as a with random lines changed, dropped and added. */
static char *
mutate(const char *a, size_t alen, size_t *len)
{
	char *s = malloc(alen * 3 + 64);
	size_t i, k = 0;

	for (i = 0; i <= alen; i++) {
		if (i < alen && rnd(8) == 0)
			continue;			/* dropped */
		if (rnd(10) == 0) {
			s[k++] = 'q';
			s[k++] = '\n';			/* added */
		}
		if (i < alen)
			s[k++] = rnd(15) == 0 && a[i] != '\n' ? 'z' : a[i];
	}
	s[k] = '\0';
	*len = k;
	return s;
}

int
main(void)
{
	struct dt_buf out;
	size_t i, alen, blen;
	char name[64], *a, *b;
	const char *why;
	long n;
	int round, bad = 0;

	PLAN((int)(sizeof(rows) / sizeof(rows[0])) + 3);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		memset(&out, 0, sizeof(out));
		n = diff_unified(rows[i].a, strlen(rows[i].a), rows[i].b,
		    strlen(rows[i].b), 3, dt_out, &out);
		CHECK(n == rows[i].changes && strcmp(out.s ? out.s : "",
		    rows[i].want) == 0, rows[i].name, "%ld changes, got:\n%s"
		    "want:\n%s", n, out.s ? out.s : "", rows[i].want);
		free(out.s);
	}
	/* Random texts: the diff applied to a gives b, 500 times. */
	for (round = 0; round < 500 && !bad; round++) {
		a = text((int)rnd(60), &alen);
		b = rnd(5) == 0 ? text((int)rnd(60), &blen) :
		    mutate(a, alen, &blen);
		memset(&out, 0, sizeof(out));
		n = diff_unified(a, alen, b, blen, (int)rnd(4), dt_out, &out);
		why = n < 0 ? "failed" : dt_apply(a, alen, b, blen,
		    out.s ? out.s : "", out.n);
		if (why != NULL) {
			bad = 1;
			snprintf(name, sizeof(name), "round %d", round);
			CHECK(0, "random texts: the diff applied gives b",
			    "%s: %s\na:\n%s\nb:\n%s\ndiff:\n%s", name, why, a,
			    b, out.s ? out.s : "");
		}
		free(a);
		free(b);
		free(out.s);
	}
	if (!bad)
		CHECK(1, "random texts: the diff applied gives b (500)", " ");
	/* Past DIFF_D_MAX: the middle whole, still a right diff. */
	{
		size_t k = 0, m = 0;

		a = malloc(4 * (DIFF_D_MAX + 10));
		b = malloc(4 * (DIFF_D_MAX + 10));
		for (i = 0; i < DIFF_D_MAX; i++) {
			k += sprintf(a + k, "a%zu\n", i % 7);
			m += sprintf(b + m, "b%zu\n", i % 7);
		}
		memset(&out, 0, sizeof(out));
		n = diff_unified(a, k, b, m, 3, dt_out, &out);
		why = n < 0 ? "failed" : dt_apply(a, k, b, m, out.s, out.n);
		CHECK(n == 2 * DIFF_D_MAX && why == NULL,
		    "configs too far apart: shown all removed, all added",
		    "%ld changes: %s", n, why ? why : "");
		CHECK(out.s != NULL && strncmp(out.s, "@@ -1,1000 +1,1000 @@\n"
		    "-a0\n-a1\n", 22) == 0, "its hunk header",
		    "%.40s", out.s ? out.s : "");
		free(out.s);
		free(a);
		free(b);
	}
	return t_exit();
}
