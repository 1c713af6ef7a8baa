/*
 * fuzz_diff: libFuzzer harness for the unified diff (make fuzz).  The
 * input, split at its first NUL byte (else in halves), is the two
 * configs; the diff, applied to the first, must give the second.
 */
#include <stdlib.h>
#include <string.h>

#include "diff.h"
#include "difftest.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	const unsigned char *nul = memchr(data, '\0', size);
	size_t alen = nul ? (size_t)(nul - data) : size / 2;
	size_t blen = size - alen - (nul != NULL);
	struct dt_buf out = { NULL, 0, 0 };
	char *a, *b;
	long n;

	/* Each exactly its size: ASan catches a read past the end. */
	if ((a = malloc(alen ? alen : 1)) == NULL ||
	    (b = malloc(blen ? blen : 1)) == NULL)
		abort();
	memcpy(a, data, alen);
	memcpy(b, data + alen + (nul != NULL), blen);
	n = diff_unified(a, alen, b, blen, 3, dt_out, &out);
	if (n < 0 || dt_apply(a, alen, b, blen, out.s ? out.s : "", out.n) !=
	    NULL)
		abort();
	free(out.s);
	free(a);
	free(b);
	return 0;
}
