/*
 * req.h: a delivery's body served from memory, and its signature, for the
 * programs that drive delivery_handle() in process (test_delivery, bench).
 */
#ifndef REQ_H
#define REQ_H

#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

struct body {
	const char	*data;
	size_t		 len, off;
};

/* struct request's read function over a struct body. */
static ssize_t
body_read(void *ctx, char *buf, size_t len)
{
	struct body *b = ctx;

	if (len > b->len - b->off)
		len = b->len - b->off;
	memcpy(buf, b->data + b->off, len);
	b->off += len;
	return (ssize_t)len;
}

/* "sha256=" and the hex HMAC-SHA256 of data under secret, into out. */
static void
sign(const char *secret, const char *data, size_t len, char out[72])
{
	unsigned char mac[32];
	unsigned int n = 0;
	int i;

	HMAC(EVP_sha256(), secret, (int)strlen(secret),
	    (const unsigned char *)data, len, mac, &n);
	memcpy(out, "sha256=", 7);
	for (i = 0; i < 32; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", mac[i]);
}

#endif
