/*
 * bench: CPU time per delivery, in process, without a web server:
 * a rejected delivery (bad signature), an ignored one (unwatched branch),
 * and a 25 MB push read, verified, parsed and filtered.  It prints numbers;
 * it asserts nothing (timing belongs in no test).  "bench big": only the
 * 25 MB push, for a profiler; "bench file PATH": the delivery in PATH.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "delivery.h"
#include "req.h"

static double
cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
run(struct conf *c, const char *name, const char *data, size_t len,
    const char *sig, int n, int want)
{
	struct request rq;
	struct reply rp;
	struct body b;
	char cl[32];
	double t0, t;
	int i, status = 0;

	snprintf(cl, sizeof(cl), "%zu", len);
	memset(&rq, 0, sizeof(rq));
	rq.method = "POST";
	rq.content_type = "application/json";
	rq.content_length = cl;
	rq.event = "push";
	rq.delivery = "bench-delivery";
	rq.signature = sig;
	rq.read = body_read;
	rq.ctx = &b;
	t0 = cpu_now();
	for (i = 0; i < n; i++) {
		b.data = data;
		b.len = len;
		b.off = 0;
		delivery_handle(c, NULL, &rq, &rp);
		status = rp.status;
		reply_free(&rp);
	}
	t = (cpu_now() - t0) / n;
	printf("%-34s %9zu bytes  status %d%s  %10.1f us CPU/delivery (%d runs)\n",
	    name, len, status, status == want ? "" : " (UNEXPECTED)", t * 1e6,
	    n);
}

int
main(int argc, char *argv[])
{
	char path[] = "/tmp/swh-bench-XXXXXX", sig[72], *big;
	const char *secret = "bench-secret";
	struct conf c;
	char err[512], small[512];
	size_t len, n;
	FILE *f;
	int fd, i, k;

	if ((fd = mkstemp(path)) == -1 || (f = fdopen(fd, "w")) == NULL)
		return 1;
	fprintf(f, "secret = %s\nrun_dir = /nonexistent\n", secret);
	fclose(f);
	if (conf_load(&c, path, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	unlink(path);

	if (argc > 1 && strcmp(argv[1], "big") == 0)
		goto big;	/* only the 25 MB push: for perf record */
	if (argc > 2 && strcmp(argv[1], "file") == 0) {
		/* A delivery from a file (tests/bench-payload's), signed. */
		if ((f = fopen(argv[2], "r")) == NULL ||
		    (big = malloc(26 << 20)) == NULL)
			return 1;
		n = fread(big, 1, 26 << 20, f);
		fclose(f);
		sign(secret, big, n, sig);
		run(&c, argv[2], big, n, sig, n < 65536 ? 100000 : 10, 200);
		free(big);
		conf_free(&c);
		return 0;
	}
	len = snprintf(small, sizeof(small), "{\"ref\":\"refs/heads/dev\","
	    "\"after\":\"0123456789abcdef0123456789abcdef01234567\","
	    "\"commits\":[{\"added\":[\"train.py\"],\"removed\":[],"
	    "\"modified\":[]}]}");
	run(&c, "rejected (bad signature)", small, len, "sha256="
	    "0000000000000000000000000000000000000000000000000000000000000000",
	    200000, 401);
	sign(secret, small, len, sig);
	run(&c, "ignored (unwatched branch)", small, len, sig, 200000, 200);

big:
	/* 25 MB: 1000 commits with long file lists, as a large push has. */
	len = 25 * 1000 * 1000;
	if ((big = malloc(len + 512)) == NULL)
		return 1;
	n = snprintf(big, 256, "{\"ref\":\"refs/heads/main\",\"after\":"
	    "\"0123456789abcdef0123456789abcdef01234567\",\"commits\":[");
	for (i = 0; i < 1000; i++) {
		n += snprintf(big + n, 256, "%s{\"id\":\"%d\",\"removed\":[],"
		    "\"modified\":[],\"added\":[", i ? "," : "", i);
		for (k = 0; n < (size_t)(i + 1) * (len / 1000) - 100; k++)
			n += snprintf(big + n, 256, "%s\"docs/assets/%d/"
			    "figure-%06d.png\"", k ? "," : "", i, k);
		n += snprintf(big + n, 256, "]}");
	}
	n += snprintf(big + n, 256, "]}");
	sign(secret, big, n, sig);
	run(&c, "25 MB push (ignored: no match)", big, n, sig, 10, 200);
	free(big);
	conf_free(&c);
	return 0;
}
