/*
 * test_delivery.c: one delivery in process, through struct request, row
 * by row as the table of docs/deliveries.md has them:
 * headers and body in, status and decision out.  Pushes that train run
 * tests/fake-swift for real.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "delivery.h"
#include "req.h"
#include "spawn.h"
#include "t.h"

extern char **environ;

static char top[] = "/tmp/swh-delivery-XXXXXX";
static const char *secret = "It's a Secret to Everybody";

#define SHA1 "1111111111111111111111111111111111111111"
#define SHA2 "2222222222222222222222222222222222222222"
#define PUSH(ref, sha, files) "{\"ref\":\"" ref "\",\"after\":\"" sha "\"," \
	"\"repository\":{\"full_name\":\"acme/train\"},\"commits\":[{" \
	"\"added\":[" files "],\"removed\":[],\"modified\":[]}]}"

enum { SIGNED, UNSIGNED, BADSIG, MALFORMED };

static const struct row {
	const char	*name;
	int		 conf;		/* 0 good, 1 none, 2 no secret, 3 no
					   trainer, 4 one slot, max_queued 0 */
	const char	*method, *type, *length, *event, *delivery;
	int		 sig;
	const char	*body;
	int		 status;
	const char	*decision;
	const char	*reason;	/* in the log's reason, or NULL */
} rows[] = {
	{ "config unreadable", 1, "POST", "application/json", NULL, "push",
	  "d1", SIGNED, "{}", 500, "error", "config:" },
	{ "no secret configured", 2, "POST", "application/json", NULL, "push",
	  "d1", SIGNED, "{}", 500, "error", "no webhook secret" },
	{ "GET", 0, "GET", NULL, NULL, "push", "d1", SIGNED, "", 405, "rejected",
	  NULL },
	{ "Content-Length over max_body", 0, "POST", "application/json",
	  "26214401", "push", "d1", SIGNED, "{}", 413, "rejected", "max_body" },
	{ "Content-Length not a number", 0, "POST", "application/json", "12x",
	  "push", "d1", SIGNED, "{}", 400, "rejected", "Content-Length" },
	{ "text/plain", 0, "POST", "text/plain", NULL, "push", "d1", SIGNED,
	  "{}", 415, "rejected", NULL },
	{ "no signature", 0, "POST", "application/json", NULL, "push", "d1",
	  UNSIGNED, "{}", 401, "rejected", "missing" },
	{ "malformed signature", 0, "POST", "application/json", NULL, "push",
	  "d1", MALFORMED, "{}", 401, "rejected", "malformed" },
	{ "wrong signature", 0, "POST", "application/json", NULL, "push", "d1",
	  BADSIG, "{}", 401, "rejected", "does not match" },
	{ "wrong signature on no JSON: still 401", 0, "POST",
	  "application/json", NULL, "push", "d1", BADSIG, "not json", 401,
	  "rejected", NULL },
	{ "no X-GitHub-Event", 0, "POST", "application/json", NULL, NULL, "d1",
	  SIGNED, "{}", 400, "rejected", "X-GitHub-Event" },
	{ "no X-GitHub-Delivery", 0, "POST", "application/json", NULL, "push",
	  NULL, SIGNED, "{}", 400, "rejected", "X-GitHub-Delivery" },
	{ "X-GitHub-Delivery ../x", 0, "POST", "application/json", NULL,
	  "push", "../x", SIGNED, "{}", 400, "rejected", "X-GitHub-Delivery" },
	{ "X-GitHub-Delivery -x", 0, "POST", "application/json", NULL, "push",
	  "-x", SIGNED, "{}", 400, "rejected", "X-GitHub-Delivery" },
	{ "ping", 0, "POST", "application/json", NULL, "ping", "d1", SIGNED,
	  "{\"zen\":\"x\"}", 200, "ping", NULL },
	{ "another event", 0, "POST", "application/json", NULL, "issues", "d1",
	  SIGNED, "{}", 200, "ignored", "issues" },
	{ "push not JSON", 0, "POST", "application/json", NULL, "push", "d1",
	  SIGNED, "not json", 400, "rejected", "JSON" },
	{ "push without after", 0, "POST", "application/json", NULL, "push",
	  "d1", SIGNED, "{\"ref\":\"refs/heads/main\"}", 400, "rejected", NULL },
	{ "tag", 0, "POST", "application/json", NULL, "push", "d1", SIGNED,
	  PUSH("refs/tags/v1", SHA1, "\"train.py\""), 200, "ignored", "tag" },
	{ "unwatched branch", 0, "POST", "application/json", NULL, "push",
	  "d1", SIGNED, PUSH("refs/heads/dev", SHA1, "\"train.py\""), 200,
	  "ignored", "not watched" },
	{ "no changed file matches", 0, "POST", "application/json", NULL,
	  "push", "d1", SIGNED, PUSH("refs/heads/main", SHA1, "\"README.md\""),
	  200, "ignored", "no changed file" },
	{ "a push that trains", 0, "POST", "application/json", NULL, "push",
	  "d-train", SIGNED, PUSH("refs/heads/main", SHA1, "\"train.py\""),
	  202, "started", "1 job(s)" },
	{ "the same delivery again", 0, "POST", "application/json", NULL,
	  "push", "d-train", SIGNED, PUSH("refs/heads/main", SHA1,
	  "\"train.py\""), 200, "duplicate", "already handled" },
	{ "the same commit, another delivery", 0, "POST", "application/json",
	  NULL, "push", "d-other", SIGNED, PUSH("refs/heads/main", SHA1,
	  "\"train.py\""), 200, "duplicate", "every run" },
	{ "form encoding", 0, "POST", "application/x-www-form-urlencoded",
	  NULL, "push", "d-form", SIGNED, "payload=%7B%22ref%22%3A%22refs%2F"
	  "heads%2Fdev%22%2C%22after%22%3A%22" SHA2 "%22%7D", 200, "ignored",
	  "not watched" },
	{ "trainer cannot be executed", 3, "POST", "application/json", NULL,
	  "push", "d-noexec", SIGNED, PUSH("refs/heads/main", SHA2,
	  "\"train.py\""), 500, "error", "absolute path" },
	{ "a run that takes the one slot", 4, "POST", "application/json", NULL,
	  "push", "d-slot", SIGNED, PUSH("refs/heads/main", SHA2,
	  "\"configs/sleep.yaml\""), 202, "started", NULL },
	{ "the next would wait behind max_queued", 4, "POST",
	  "application/json", NULL, "push", "d-full", SIGNED,
	  PUSH("refs/heads/main", "3333333333333333333333333333333333333333",
	  "\"configs/sleep.yaml\""), 503, "busy", "queue full" },
};

static void
run(const struct row *w, struct conf *confs[5])
{
	struct body b = { w->body, strlen(w->body), 0 };
	size_t len = strlen(w->body);
	struct request rq;
	struct reply rp;
	char sig[72], name[128];

	memset(&rq, 0, sizeof(rq));
	rq.method = w->method;
	rq.content_type = w->type;
	rq.content_length = w->length;
	rq.event = w->event;
	rq.delivery = w->delivery;
	switch (w->sig) {
	case SIGNED:
		sign(secret, w->body, len, sig);
		rq.signature = sig;
		break;
	case BADSIG:
		snprintf(sig, sizeof(sig), "sha256=%064d", 0);
		rq.signature = sig;
		break;
	case MALFORMED:
		rq.signature = "sha1=0000";
		break;
	}
	rq.read = body_read;
	rq.ctx = &b;
	delivery_handle(confs[w->conf], "test: config refused", &rq, &rp);
	snprintf(name, sizeof(name), "%s: %d %s", w->name, w->status,
	    w->decision);
	CHECK(rp.status == w->status && strcmp(rp.decision, w->decision) == 0 &&
	    (w->reason == NULL || strstr(rp.reason, w->reason) != NULL), name,
	    "got %d %s \"%s\"", rp.status, rp.decision, rp.reason);
	reply_free(&rp);
}

static struct conf *
load(const char *text)
{
	static struct conf cs[5];
	static int n;
	char path[PATH_MAX], err[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/conf%d", top, n);
	if ((f = fopen(path, "w")) == NULL)
		return NULL;
	fputs(text, f);
	fclose(f);
	if (conf_load(&cs[n], path, err, sizeof(err)) == -1) {
		printf("# %s\n", err);
		return NULL;
	}
	return &cs[n++];
}

int
main(int argc, char *argv[])
{
	char path[PATH_MAX], text[4096], fake[PATH_MAX];
	struct conf *confs[5];
	size_t i;

	(void)argc;
	PLAN(28);
	if (realpath(argv[0], fake) == NULL || mkdtemp(top) == NULL ||
	    spawn_init(environ) == -1)
		return 1;
	strcpy(strrchr(fake, '/') + 1, "fake-swift");
	snprintf(path, sizeof(path), "mkdir -p %s/runs %s/runs4 %s/work/configs && "
	    "printf 'model: m\\n' > %s/work/configs/sft.yaml && "
	    "printf 'model: m\\nfake_sleep: 3\\n' > %s/work/configs/sleep.yaml",
	    top, top, top, top, top);
	if (system(path) != 0)
		return 1;
	chmod(top, 0755);
	snprintf(text, sizeof(text), "secret = %s\nrun_dir = %s/runs\n"
	    "workdir = %s/work\ncommand = %s sft {config}\n", secret, top, top,
	    fake);
	confs[0] = load(text);
	confs[1] = NULL;
	snprintf(text, sizeof(text), "run_dir = %s/runs\n", top);
	confs[2] = load(text);
	snprintf(text, sizeof(text), "secret = %s\nrun_dir = %s/runs\n"
	    "workdir = %s/work\ncommand = no-such-trainer sft {config}\n",
	    secret, top, top);
	confs[3] = load(text);
	snprintf(text, sizeof(text), "secret = %s\nrun_dir = %s/runs4\n"
	    "workdir = %s/work\ncommand = %s sft {config}\nslots = 1\n"
	    "max_queued = 0\n", secret, top, top, fake);
	confs[4] = load(text);
	if (confs[0] == NULL || confs[2] == NULL || confs[3] == NULL ||
	    confs[4] == NULL)
		return 1;
	unsetenv("GITHUB_WEBHOOK_SECRET");
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		run(&rows[i], confs);
	conf_free(confs[0]);
	conf_free(confs[2]);
	conf_free(confs[3]);
	conf_free(confs[4]);
	sleep(4);	/* the last trainer sleeps 3 s */
	/* A trainer still ending may make a file as rm goes: once more. */
	snprintf(path, sizeof(path), "rm -rf %s 2>/dev/null || "
	    "{ sleep 3; rm -rf %s; }", top, top);
	if (system(path) != 0)
		return 1;
	return t_exit();
}
