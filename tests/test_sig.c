/* test_sig.c: the signature header and HMAC check. */
#include <string.h>

#include "sig.h"
#include "t.h"

static const char *secret = "It's a Secret to Everybody";
static const char *payload = "Hello, World!";
#define GOOD "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

static const struct {
	const char	*hdr;
	enum sig_result	 want;
	const char	*name;
} rows[] = {
	{ GOOD, SIG_OK, "github's documented vector" },
	{ "sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17",
	  SIG_OK, "upper-case hex" },
	{ NULL, SIG_MISSING, "no header" },
	{ "", SIG_MISSING, "empty header" },
	{ "sha1=757107ea0eb2509fc211221cce984b8a37570b6d",
	  SIG_MALFORMED, "sha1 header" },
	{ "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
	  SIG_MALFORMED, "no sha256= prefix" },
	{ "SHA256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
	  SIG_MALFORMED, "prefix case" },
	{ "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1",
	  SIG_MALFORMED, "63 digits" },
	{ GOOD "7", SIG_MALFORMED, "65 digits" },
	{ GOOD " ", SIG_MALFORMED, "trailing space" },
	{ " " GOOD, SIG_MALFORMED, "leading space" },
	{ "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1g",
	  SIG_MALFORMED, "non-hex digit" },
	{ "sha256=", SIG_MALFORMED, "prefix only" },
	{ "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e18",
	  SIG_MISMATCH, "last digit wrong" },
	{ "sha256=857107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
	  SIG_MISMATCH, "first digit wrong" },
	{ "sha256=0000000000000000000000000000000000000000000000000000000000000000",
	  SIG_MISMATCH, "all zeros" },
};

int
main(void)
{
	unsigned char mac[32];
	enum sig_result r;
	size_t i;

	PLAN(22);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		r = sig_verify(secret, strlen(secret), payload,
		    strlen(payload), rows[i].hdr);
		CHECK(r == rows[i].want, rows[i].name, "got %d (%s), want %d",
		    r, sig_reason(r), rows[i].want);
	}
	r = sig_verify(secret, strlen(secret), "Hello, World?", 13, GOOD);
	CHECK(r == SIG_MISMATCH, "changed body", "got %d", r);
	r = sig_verify("It's a Secret to Everybody!", 27, payload,
	    strlen(payload), GOOD);
	CHECK(r == SIG_MISMATCH, "other secret", "got %d", r);
	/* The MAC is over the bytes given, NULs included. */
	r = sig_verify(secret, strlen(secret), "Hello, World!\0", 14, GOOD);
	CHECK(r == SIG_MISMATCH, "length counts", "got %d", r);
	r = sig_verify(secret, strlen(secret), "", 0,
	    "sha256=0000000000000000000000000000000000000000000000000000000000000000");
	CHECK(r == SIG_MISMATCH, "empty body", "got %d", r);
	CHECK(sig_parse(GOOD, mac) == 0 && mac[0] == 0x75 && mac[31] == 0x17,
	    "sig_parse bytes", "mac[0]=%02x mac[31]=%02x", mac[0], mac[31]);
	CHECK(strstr(sig_reason(SIG_MISMATCH), "757107") == NULL,
	    "reason reveals nothing", "%s", sig_reason(SIG_MISMATCH));
	return t_exit();
}
