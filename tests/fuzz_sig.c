/*
 * fuzz_sig: libFuzzer harness for the signature header (make fuzz).
 * The input is the header value; the body is fixed.
 */
#include <stdlib.h>
#include <string.h>

#include "sig.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	unsigned char mac[32];
	char *hdr;

	/* Exactly size + 1 bytes: ASan catches a read past the end. */
	if ((hdr = malloc(size + 1)) == NULL)
		return 0;
	memcpy(hdr, data, size);
	hdr[size] = '\0';
	if (sig_parse(hdr, mac) == 0 && strlen(hdr) != 71)
		abort();	/* only "sha256=" and 64 digits parse */
	sig_verify("secret", 6, "body", 4, hdr);
	free(hdr);
	return 0;
}
