/*
 * diff.h: the unified diff of two texts by lines, as `diff -u` writes
 * it: hunks "@@ -a,n +b,m @@" with context lines ' ', removed '-' and
 * added '+'.  A pure function over two buffers (the configs two runs
 * trained, read from folders a trainer could write: untrusted, bounded
 * by their reader); tested by tables in tests/test_diff.c and fuzzed.
 *
 * Myers' O(ND) algorithm ("An O(ND) Difference Algorithm and Its
 * Variations", 1986) after the common head and tail are taken off; past
 * DIFF_D_MAX differing lines the rest of the middle is shown as all
 * removed then all added rather than searched further, so that memory
 * (4 * DIFF_D_MAX^2 bytes at most) and time stay bounded.
 */
#ifndef DIFF_H
#define DIFF_H

#include <stddef.h>

#define DIFF_D_MAX	1000

/*
 * Called per line of the diff: tag ' ', '-' or '+' and the line without
 * its '\n'; or tag '@' and a hunk's header ("@@ -3,7 +3,8 @@").
 */
typedef void	 diff_out(void *arg, char tag, const char *s, size_t n);

/*
 * Diffs a (alen bytes) against b (blen), context lines around each
 * change, calling out in order.  A last line without '\n' is a line.
 * Returns the number of lines removed plus added (0: the same text), or
 * -1 with errno ENOMEM (nothing called).  "x" and "x\n" are the same
 * text here.
 */
long	 diff_unified(const char *a, size_t alen, const char *b, size_t blen,
	    int context, diff_out *out, void *arg);

#endif
