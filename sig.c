/*
 * sig.c: verifies GitHub's webhook signature before anything else in the
 * body is looked at.
 */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "sig.h"
#include "util.h"

int
sig_parse(const char *hdr, unsigned char mac[32])
{
	int hi, lo;
	size_t i;

	if (strncmp(hdr, "sha256=", 7) != 0)
		return -1;
	hdr += 7;
	for (i = 0; i < 32; i++) {
		if ((hi = hex_value(hdr[2 * i])) == -1 ||
		    (lo = hex_value(hdr[2 * i + 1])) == -1)
			return -1;
		mac[i] = (unsigned char)(hi << 4 | lo);
	}
	return hdr[64] == '\0' ? 0 : -1;
}

enum sig_result
sig_verify(const char *secret, size_t secretlen, const void *body,
    size_t len, const char *hdr)
{
	unsigned char want[32], got[EVP_MAX_MD_SIZE];
	unsigned int gotlen = 0;
	static const unsigned char empty[1];

	if (hdr == NULL || *hdr == '\0')
		return SIG_MISSING;
	if (sig_parse(hdr, want) == -1)
		return SIG_MALFORMED;
	if (HMAC(EVP_sha256(), secret, (int)secretlen,
	    len ? body : empty, len, got, &gotlen) == NULL || gotlen != 32)
		return SIG_ERROR;
	return CRYPTO_memcmp(want, got, 32) == 0 ? SIG_OK : SIG_MISMATCH;
}

const char *
sig_reason(enum sig_result r)
{
	switch (r) {
	case SIG_OK:
		return "signature valid";
	case SIG_MISSING:
		return "missing X-Hub-Signature-256 header";
	case SIG_MALFORMED:
		return "malformed X-Hub-Signature-256 header "
		    "(expected sha256= and 64 hex digits)";
	case SIG_MISMATCH:
		return "signature does not match the body";
	case SIG_ERROR:
		break;
	}
	return "signature could not be computed";
}
