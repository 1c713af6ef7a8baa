/*
 * sig.h: GitHub's X-Hub-Signature-256 header, "sha256=" and the lowercase
 * hex HMAC-SHA256 of the raw request body under the webhook secret.
 */
#ifndef SIG_H
#define SIG_H

#include <stddef.h>

enum sig_result {
	SIG_OK = 0,
	SIG_MISSING,		/* no header */
	SIG_MALFORMED,		/* not "sha256=" and 64 hex digits */
	SIG_MISMATCH,		/* well formed, wrong MAC */
	SIG_ERROR		/* the HMAC could not be computed */
};

/*
 * Parses a header value into the 32-byte MAC it names.  Hex digits may be
 * of either case.  Returns 0, or -1 if hdr is not of the form above.
 */
int	 sig_parse(const char *hdr, unsigned char mac[32]);

/*
 * Checks hdr (NULL when absent) against HMAC-SHA256(secret, body).  The
 * comparison takes the same time wherever the MACs differ.
 */
enum sig_result sig_verify(const char *secret, size_t secretlen,
	    const void *body, size_t len, const char *hdr);

/* A short reason for a result, fit for a client and a log. */
const char *sig_reason(enum sig_result r);

#endif
