/*
 * fuzz_form: libFuzzer harness for the form-encoded body (make fuzz).
 */
#include <stdlib.h>
#include <string.h>

#include "filter.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	char *body, *out;
	long n;

	if ((body = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(body, data, size);
	n = form_payload(body, size, &out);
	if (n > 0 && (out < body || out + n > body + size))
		abort();	/* the payload lies inside the body */
	free(body);
	return 0;
}
