/* test_filter.c: globs, form bodies, push parsing and config selection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "filter.h"
#include "t.h"

static const struct {
	const char *pat, *s;
	int want;
} globs[] = {
	{ "main", "main", 1 },
	{ "main", "mainline", 0 },
	{ "release/*", "release/1.0", 1 },
	{ "release/*", "release/1.0/hotfix", 0 },
	{ "release/**", "release/1.0/hotfix", 1 },
	{ "release/*", "release/", 1 },
	{ "*", "a/b", 0 },
	{ "**", "a/b", 1 },
	{ "a/**/b", "a/b", 1 },
	{ "a/**/b", "a/x/y/b", 1 },
	{ "a/**/b", "a/xb", 0 },
	{ "**/b", "b", 1 },
	{ "**/b", "x/y/b", 1 },
	{ "feat-?", "feat-1", 1 },
	{ "feat-?", "feat-12", 0 },
	{ "?", "/", 0 },
	{ "v[0-9]", "v7", 1 },
	{ "v[0-9]", "vx", 0 },
	{ "v[!0-9]", "vx", 1 },
	{ "v[!0-9]", "v1", 0 },
	{ "[]]", "]", 1 },
	{ "[ab", "[ab", 1 },
	{ "\\*", "*", 1 },
	{ "\\*", "x", 0 },
	{ "*.py", ".py", 1 },
	{ "", "", 1 },
	{ "", "x", 0 },
	{ "a*b*c*d*e*f*g*h*i*j*k", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0 },
	/* Past the backtracking budget: the remembered path answers too. */
	{ "**/**?*/**?*/**?*/**?*/**?*z", "a/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/b", 0 },
	{ "**/**?*/**?*/**?*/**?*/**?*b", "a/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/a/a/aaaaaaaaaaaaaaaaaaaaaaaa/ab", 1 },
	{ "**/**?*/**?*/**?*/**?*/**?*b", "a/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/a/a/aaaaaaaaaaaaaaaaaaaaaaaa/b", 0 },
	{ "*a*a*a*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0 },
	{ "*a*a*a*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", 1 },
};

static const struct {
	const char *pat, *path;
	int want;
} paths[] = {
	{ "*.py", "train.py", 1 },
	{ "*.py", "src/model/train.py", 1 },
	{ "*.py", "train.pyc", 0 },
	{ "*.yaml", "configs/sft.yaml", 1 },
	{ "configs/*.yaml", "configs/sft.yaml", 1 },
	{ "configs/*.yaml", "configs/old/sft.yaml", 0 },
	{ "configs/*.yaml", "x/configs/sft.yaml", 0 },
	{ "configs/**/*.yaml", "configs/a/b/sft.yaml", 1 },
	{ "configs/**/*.yaml", "configs/sft.yaml", 1 },
	{ "/train.py", "train.py", 1 },
	{ "/train.py", "src/train.py", 0 },
	{ "docs", "docs/index.py", 1 },
	{ "docs", "src/docs/index.py", 1 },
	{ "docs/", "docs/index.py", 1 },
	{ "docs/", "docs", 0 },
	{ "docs/", "src/docs", 0 },
	{ "src/docs", "src/docs/a/b.py", 1 },
	{ "src/docs", "x/src/docs/b.py", 0 },
	{ "**/test_*.py", "a/b/test_x.py", 1 },
	{ "**/test_*.py", "test_x.py", 1 },
	{ "README*", "README.md", 1 },
	{ "", "x", 0 },
	{ "/", "x", 0 },
};

static void
test_globs(void)
{
	char name[128];
	size_t i;
	int r;

	for (i = 0; i < sizeof(globs) / sizeof(globs[0]); i++) {
		r = glob_match(globs[i].pat, globs[i].s);
		snprintf(name, sizeof(name), "glob \"%s\" ~ \"%s\"",
		    globs[i].pat, globs[i].s);
		CHECK(r == globs[i].want, name, "got %d", r);
	}
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		r = path_match(paths[i].pat, paths[i].path);
		snprintf(name, sizeof(name), "path \"%s\" ~ \"%s\"",
		    paths[i].pat, paths[i].path);
		CHECK(r == paths[i].want, name, "got %d", r);
	}
}

static void
test_path_safe(void)
{
	static const struct { const char *p; int want; } rows[] = {
		{ "configs/sft.yaml", 1 }, { "a.yaml", 1 },
		{ "", 0 }, { "/etc/passwd", 0 }, { "-x.yaml", 0 },
		{ "../x.yaml", 0 }, { "a/../x.yaml", 0 }, { "a/./x", 0 },
		{ "a//x", 0 }, { "a/", 0 }, { "a\nb", 0 }, { "..a/x", 1 },
		{ "a/-x", 1 },
	};
	char name[64];
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		snprintf(name, sizeof(name), "path_safe %zu", i);
		CHECK(path_safe(rows[i].p) == rows[i].want, name, "\"%s\"",
		    rows[i].p);
	}
}

static void
test_form(void)
{
	static const struct {
		const char *body, *want;
	} rows[] = {
		{ "payload=%7B%22a%22%3A1%7D", "{\"a\":1}" },
		{ "payload=a+b%20c", "a b c" },
		{ "x=1&payload=ok&y=2", "ok" },
		{ "payload=", "" },
		{ "payload=%7", NULL },
		{ "payload=%zz", NULL },
		{ "payloadx=1", NULL },
		{ "x=payload=1", NULL },
		{ "", NULL },
	};
	char buf[128], *out, name[64];
	long n;
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		snprintf(buf, sizeof(buf), "%s", rows[i].body);
		n = form_payload(buf, strlen(buf), &out);
		snprintf(name, sizeof(name), "form \"%s\"", rows[i].body);
		if (rows[i].want == NULL)
			CHECK(n == -1, name, "got %ld, want -1", n);
		else
			CHECK(n == (long)strlen(rows[i].want) &&
			    memcmp(out, rows[i].want, n) == 0, name,
			    "got %ld \"%.*s\"", n, n > 0 ? (int)n : 0,
			    n > 0 ? out : "");
	}
}

#define SHA "0123456789abcdef0123456789abcdef01234567"
#define SHA0 "1111111111111111111111111111111111111111"

static void
test_parse(void)
{
	static const struct {
		const char *body;
		int want;
		const char *name;
	} rows[] = {
		{ "{\"ref\":\"refs/heads/main\",\"after\":\"" SHA "\"}", 0,
		  "minimal push" },
		{ "not json", -1, "not json" },
		{ "[1,2]", -1, "array" },
		{ "{\"after\":\"" SHA "\"}", -1, "no ref" },
		{ "{\"ref\":\"refs/heads/main\"}", -1, "no after" },
		{ "{\"ref\":1,\"after\":\"" SHA "\"}", -1, "ref not a string" },
		{ "{\"ref\":\"refs/heads/main\",\"after\":\"xyz\"}", -1,
		  "after not a sha" },
		{ "{\"ref\":\"refs/heads/main\",\"after\":\"" SHA "0\"}", -1,
		  "after 41 digits" },
		{ "{\"ref\":\"refs/heads/-rf\",\"after\":\"" SHA "\"}", -1,
		  "option-like branch" },
		{ "{\"ref\":\"refs/heads/a b\",\"after\":\"" SHA "\"}", -1,
		  "space in ref" },
		{ "{\"ref\":\"refs/heads/../x\",\"after\":\"" SHA "\"}", -1,
		  "dot-dot in ref" },
		{ "{\"ref\":\"main\",\"after\":\"" SHA "\"}", -1,
		  "ref outside refs/" },
		{ "{\"ref\":\"refs/heads/dev\",\"ref\":\"refs/heads/main\","
		  "\"after\":\"" SHA "\"}", -1, "ref twice" },
		{ "{\"ref\":\"refs/heads/main\",\"after\":\"" SHA "\","
		  "\"after\":\"" SHA "\"}", -1, "after twice" },
		{ "{\"ref\":\"refs/heads/main\",\"after\":\"" SHA "\","
		  "\"deleted\":false,\"deleted\":true}", -1, "deleted twice" },
		{ "{\"ref\":\"refs/heads/main\",\"after\":\"" SHA "\","
		  "\"commits\":[{\"added\":[],\"added\":[\"x\"]}]}", -1,
		  "a file list twice" },
		{ "{\"ref\":\"refs/heads/main\",\"after\":\"" SHA "\","
		  "\"repository\":{\"full_name\":\"a/b\",\"full_name\":\"c/d\"}}",
		  -1, "full_name twice" },
		{ "{\"ref\":\"refs/heads/main\",\"after\":\"" SHA "\","
		  "\"x\":1,\"x\":2}", 0, "other keys twice are fine" },
		{ "{\"ref\":\"refs/heads/main\\u0000x\",\"after\":\"" SHA
		  "\"}", -1, "\\u0000 in a string" },
		{ "{\"ref\":\"refs/heads/main\",\"after\":\"" SHA "\","
		  "\"msg\":\"a\\\\u0000\"}", 0, "an escaped backslash and u0000" },
		{ "{\"ref\":\"refs/heads/main\",\"after\":\"" SHA "\"} x", -1,
		  "bytes after the object" },
		{ "{\"ref\":\"refs/heads/main\",\"after\":\"" SHA "\"} \n", 0,
		  "white space after the object" },
		{ "{\"ref\":\"refs/heads/main\",\"after\":\"" SHA "\","
		  "\"repository\":{\"full_name\":\"../escaped\"}}", -1,
		  "repository ../escaped" },
		{ "{\"ref\":\"refs/heads/main\",\"after\":\"" SHA "\","
		  "\"repository\":{\"full_name\":\"-o/r\"}}", -1,
		  "repository -o/r" },
		{ "{\"ref\":\"refs/heads/main\",\"after\":\"" SHA "\","
		  "\"repository\":{\"full_name\":\"o/r/x\"}}", -1,
		  "repository o/r/x" },
		{ "{\"ref\":\"refs/heads/main\",\"after\":\"" SHA "\","
		  "\"repository\":{\"full_name\":\"my-org/my.repo_1\"}}", 0,
		  "repository my-org/my.repo_1" },
		{ "{\"ref\":\"refs/heads/\xff\",\"after\":\"" SHA "\"}", -1,
		  "invalid UTF-8 in ref" },
	};
	struct push p;
	char reason[FILTER_REASON_MAX];
	const char *body;
	size_t i;
	int r;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		r = push_parse(&p, rows[i].body, strlen(rows[i].body), reason);
		CHECK(r == rows[i].want, rows[i].name, "got %d (%s)", r,
		    r ? reason : "ok");
		if (r == 0)
			push_free(&p);
	}
	body = "{\"ref\":\"refs/heads/main\",\"after\":\"" SHA
	    "\",\"repository\":{\"full_name\":\"o/r\"}}";
	r = push_parse(&p, body, strlen(body), reason);
	CHECK(r == 0 && strcmp(p.branch, "main") == 0 &&
	    strcmp(p.repository, "o/r") == 0 && !p.deleted &&
	    p.commit_title[0] == '\0', "fields (no title: \"\")", "r=%d", r);
	if (r == 0)
		push_free(&p);
	{
		static const struct {
			const char *body, *title, *name;
		} t[] = {
			{ "{\"ref\":\"refs/heads/main\",\"after\":\"" SHA "\","
			    "\"repository\":{\"full_name\":\"o/r\"},"
			    "\"head_commit\":{\"id\":\"" SHA "\",\"message\":"
			    "\"Raise lr\\u001b[31m\\n\\nWhy.\"}}", "Raise lr[31m",
			    "commit_title: head_commit's first line, cleaned" },
			{ "{\"ref\":\"refs/heads/main\",\"after\":\"" SHA "\","
			    "\"repository\":{\"full_name\":\"o/r\"},"
			    "\"commits\":[{\"id\":\"" SHA0 "\",\"message\":"
			    "\"older\"},{\"id\":\"" SHA "\",\"message\":"
			    "\"the pushed one\"}]}", "the pushed one",
			    "commit_title: else the commit whose id is after" },
			{ "{\"ref\":\"refs/heads/main\",\"after\":\"" SHA "\","
			    "\"repository\":{\"full_name\":\"o/r\"},"
			    "\"head_commit\":{\"id\":\"" SHA0 "\",\"message\":"
			    "\"another\"},\"commits\":[{\"id\":\"" SHA "\","
			    "\"message\":7}]}", "",
			    "commit_title: none of another commit, none not a "
			    "string" },
		};
		for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
			r = push_parse(&p, t[i].body, strlen(t[i].body),
			    reason);
			CHECK(r == 0 && strcmp(p.commit_title, t[i].title) ==
			    0, t[i].name, "r=%d %s \"%s\"", r, reason, r == 0 ?
			    p.commit_title : "");
			if (r == 0)
				push_free(&p);
		}
	}
}

static int
load(struct conf *c, const char *text)
{
	char path[] = "/tmp/swh-test-XXXXXX", err[512];
	int fd, r;

	if ((fd = mkstemp(path)) == -1)
		return -1;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		close(fd);
		return -1;
	}
	close(fd);
	r = conf_load(c, path, err, sizeof(err));
	unlink(path);
	if (r == -1)
		printf("# conf: %s\n", err);
	return r;
}

/* One push table row: its JSON, and the runs (or the reason) it gives. */
static const struct {
	const char	*name;
	const char	*conf;		/* extra config lines */
	const char	*push;
	int		 want;		/* 1 runs, 0 ignored */
	const char	*expect;	/* configs joined by ' ', or reason part */
} pushes[] = {
	{ "another repository than the configured one is ignored",
	  "repository = git@github.com:acme/train.git\n",
	  "{\"ref\":\"refs/heads/main\",\"after\":\"" SHA "\",\"repository\":"
	  "{\"full_name\":\"acme/other\"},\"commits\":[{\"added\":[],"
	  "\"removed\":[],\"modified\":[\"train.py\"]}]}",
	  0, "repository acme/other is not the configured one (acme/train)" },
	{ "the configured repository, as GitHub spells it in any case",
	  "repository = https://github.com/acme/train.git\n",
	  "{\"ref\":\"refs/heads/main\",\"after\":\"" SHA "\",\"repository\":"
	  "{\"full_name\":\"Acme/Train\"},\"commits\":[{\"added\":[],"
	  "\"removed\":[],\"modified\":[\"train.py\"]}]}",
	  1, "configs/sft.yaml" },
	{ "a local repository names no owner: any name is taken",
	  "repository = /srv/train.git\n",
	  "{\"ref\":\"refs/heads/main\",\"after\":\"" SHA "\",\"repository\":"
	  "{\"full_name\":\"acme/other\"},\"commits\":[{\"added\":[],"
	  "\"removed\":[],\"modified\":[\"train.py\"]}]}",
	  1, "configs/sft.yaml" },
	{ "default config for a .py change", "",
	  "{\"ref\":\"refs/heads/main\",\"after\":\"" SHA "\",\"commits\":["
	  "{\"added\":[],\"removed\":[],\"modified\":[\"train.py\"]}]}",
	  1, "configs/sft.yaml" },
	{ "changed config trains it", "",
	  "{\"ref\":\"refs/heads/main\",\"after\":\"" SHA "\",\"commits\":["
	  "{\"added\":[\"configs/a.yaml\"],\"removed\":[],\"modified\":"
	  "[\"configs/b.yml\",\"train.py\"]}]}",
	  1, "configs/a.yaml configs/b.yml" },
	{ "config removed later is not trained", "",
	  "{\"ref\":\"refs/heads/main\",\"after\":\"" SHA "\",\"commits\":["
	  "{\"added\":[\"configs/a.yaml\",\"configs/b.yaml\"],\"removed\":[],"
	  "\"modified\":[]},{\"added\":[],\"removed\":[\"configs/a.yaml\"],"
	  "\"modified\":[]}]}",
	  1, "configs/b.yaml" },
	{ "config modified twice runs once", "",
	  "{\"ref\":\"refs/heads/main\",\"after\":\"" SHA "\",\"commits\":["
	  "{\"added\":[],\"removed\":[],\"modified\":[\"configs/a.yaml\"]},"
	  "{\"added\":[],\"removed\":[],\"modified\":[\"configs/a.yaml\"]}]}",
	  1, "configs/a.yaml" },
	{ "only removed config: default", "",
	  "{\"ref\":\"refs/heads/main\",\"after\":\"" SHA "\",\"commits\":["
	  "{\"added\":[],\"removed\":[\"configs/a.yaml\"],\"modified\":[]}]}",
	  1, "configs/sft.yaml" },
	{ "nested config not in configs glob", "",
	  "{\"ref\":\"refs/heads/main\",\"after\":\"" SHA "\",\"commits\":["
	  "{\"added\":[\"configs/old/a.yaml\"],\"removed\":[],\"modified\":[]}]}",
	  1, "configs/sft.yaml" },
	{ "README only is ignored", "",
	  "{\"ref\":\"refs/heads/main\",\"after\":\"" SHA "\",\"commits\":["
	  "{\"added\":[\"README.md\"],\"removed\":[],\"modified\":[]}]}",
	  0, "no changed file" },
	{ "no commits is ignored", "",
	  "{\"ref\":\"refs/heads/main\",\"after\":\"" SHA "\",\"commits\":[]}",
	  0, "no changed file" },
	{ "a commit that lists no file at all: file list unknown, default", "",
	  "{\"ref\":\"refs/heads/main\",\"after\":\"" SHA "\",\"commits\":["
	  "{\"added\":[],\"removed\":[],\"modified\":[]}]}",
	  1, "configs/sft.yaml" },
	{ "beside one that lists a config: still unknown, default", "",
	  "{\"ref\":\"refs/heads/main\",\"after\":\"" SHA "\",\"commits\":["
	  "{\"added\":[\"configs/a.yaml\"],\"removed\":[],\"modified\":[]},"
	  "{\"added\":[],\"removed\":[],\"modified\":[]}]}",
	  1, "configs/sft.yaml" },
	{ "force-push back to an older commit: the tree changed, default", "",
	  "{\"ref\":\"refs/heads/main\",\"after\":\"" SHA "\",\"forced\":true,"
	  "\"created\":false,\"commits\":[]}",
	  1, "configs/sft.yaml" },
	{ "a watched branch made at an existing commit: default",
	  "branches = main release/*\n",
	  "{\"ref\":\"refs/heads/release/3\",\"after\":\"" SHA "\","
	  "\"created\":true,\"forced\":false,\"commits\":[]}",
	  1, "configs/sft.yaml" },
	{ "ignore_paths wins", "ignore_paths = docs/ *_test.py\n",
	  "{\"ref\":\"refs/heads/main\",\"after\":\"" SHA "\",\"commits\":["
	  "{\"added\":[\"docs/conf.py\"],\"removed\":[],\"modified\":"
	  "[\"model_test.py\"]}]}",
	  0, "no changed file" },
	{ "ignored config is not trained", "ignore_paths = configs/wip_*\n",
	  "{\"ref\":\"refs/heads/main\",\"after\":\"" SHA "\",\"commits\":["
	  "{\"added\":[\"configs/wip_a.yaml\",\"configs/b.yaml\"],"
	  "\"removed\":[],\"modified\":[]}]}",
	  1, "configs/b.yaml" },
	{ "tag push ignored", "",
	  "{\"ref\":\"refs/tags/v1\",\"after\":\"" SHA "\",\"commits\":[]}",
	  0, "tag push" },
	{ "other branch ignored", "",
	  "{\"ref\":\"refs/heads/dev\",\"after\":\"" SHA "\",\"commits\":["
	  "{\"added\":[\"a.py\"],\"removed\":[],\"modified\":[]}]}",
	  0, "not watched" },
	{ "branch glob", "branches = main release/*\n",
	  "{\"ref\":\"refs/heads/release/2.0\",\"after\":\"" SHA "\",\"commits\":["
	  "{\"added\":[\"a.py\"],\"removed\":[],\"modified\":[]}]}",
	  1, "configs/sft.yaml" },
	{ "branch glob stays in its segment", "branches = release/*\n",
	  "{\"ref\":\"refs/heads/release/2.0/x\",\"after\":\"" SHA "\","
	  "\"commits\":[{\"added\":[\"a.py\"],\"removed\":[],\"modified\":[]}]}",
	  0, "not watched" },
	{ "deleted branch ignored", "",
	  "{\"ref\":\"refs/heads/main\",\"after\":\"" SHA "\",\"deleted\":true,"
	  "\"commits\":[]}",
	  0, "deletes" },
	{ "zero after is a deletion", "",
	  "{\"ref\":\"refs/heads/main\",\"after\":\""
	  "0000000000000000000000000000000000000000\",\"commits\":[]}",
	  0, "deletes" },
	{ "commit without file lists: everything", "",
	  "{\"ref\":\"refs/heads/main\",\"after\":\"" SHA "\",\"commits\":["
	  "{\"id\":\"x\"}]}",
	  1, "configs/sft.yaml" },
	{ "no commits array: everything", "",
	  "{\"ref\":\"refs/heads/main\",\"after\":\"" SHA "\"}",
	  1, "configs/sft.yaml" },
	{ "unsafe config path skipped", "configs = *.yaml\n",
	  "{\"ref\":\"refs/heads/main\",\"after\":\"" SHA "\",\"commits\":["
	  "{\"added\":[\"-rf.yaml\",\"ok.yaml\"],\"removed\":[],"
	  "\"modified\":[]}]}",
	  1, "ok.yaml" },
	{ "non-string entries skipped", "",
	  "{\"ref\":\"refs/heads/main\",\"after\":\"" SHA "\",\"commits\":["
	  "{\"added\":[1,null,\"a.py\"],\"removed\":[],\"modified\":[]}]}",
	  1, "configs/sft.yaml" },
};

/* 2048 commits: GitHub's cap, so the list may be cut short. */
static char *
truncated_push(void)
{
	size_t i, len = 0, cap = 2048 * 64 + 256;
	char *s = malloc(cap);

	len += snprintf(s, cap, "{\"ref\":\"refs/heads/main\",\"after\":\"%s\","
	    "\"commits\":[", SHA);
	for (i = 0; i < 2048; i++)
		len += snprintf(s + len, cap - len, "%s{\"added\":[\"README\"],"
		    "\"removed\":[],\"modified\":[]}", i ? "," : "");
	snprintf(s + len, cap - len, "]}");
	return s;
}

static void
test_filter(void)
{
	char text[1024], reason[FILTER_REASON_MAX], got[1024], *big;
	struct conf c;
	struct push p;
	struct selection sel;
	size_t i, k;
	int r;

	for (i = 0; i < sizeof(pushes) / sizeof(pushes[0]); i++) {
		snprintf(text, sizeof(text), "run_dir = /tmp\n%s",
		    pushes[i].conf);
		if (load(&c, text) == -1) {
			CHECK(0, pushes[i].name, "config did not load");
			continue;
		}
		if (push_parse(&p, pushes[i].push, strlen(pushes[i].push),
		    reason) == -1) {
			CHECK(0, pushes[i].name, "parse: %s", reason);
			conf_free(&c);
			continue;
		}
		r = filter_push(&c, &p, &sel, reason);
		got[0] = '\0';
		for (k = 0; r == 1 && k < sel.n; k++)
			snprintf(got + strlen(got), sizeof(got) - strlen(got),
			    "%s%s", k ? " " : "", sel.configs[k]);
		if (pushes[i].want == 1)
			CHECK(r == 1 && strcmp(got, pushes[i].expect) == 0,
			    pushes[i].name, "got %d \"%s\" (%s)", r, got,
			    r == 1 ? "" : reason);
		else
			CHECK(r == 0 && strstr(reason, pushes[i].expect),
			    pushes[i].name, "got %d \"%s\" \"%s\"", r, got,
			    r == 0 ? reason : "");
		if (r == 1)
			selection_free(&sel);
		push_free(&p);
		conf_free(&c);
	}

	if (load(&c, "run_dir = /tmp\n") == -1)
		return;
	big = truncated_push();
	r = push_parse(&p, big, strlen(big), reason);
	if (r == 0) {
		r = filter_push(&c, &p, &sel, reason);
		CHECK(r == 1 && sel.everything && sel.n == 1 &&
		    strcmp(sel.configs[0], "configs/sft.yaml") == 0,
		    "2048 commits: everything changed", "r=%d", r);
		if (r == 1)
			selection_free(&sel);
		push_free(&p);
	} else
		CHECK(0, "2048 commits: everything changed", "%s", reason);
	free(big);
	conf_free(&c);
}

/*
 * The worst case for anchored "**": one path of 24,000 segments (168 KB).
 * A backtracking matcher took seconds; the NFA reads it once per pattern.
 * (No timing is asserted: tests/bench prints it.)
 */
/*
 * push_peek: the scan that ignores a push to an unwatched branch without a
 * parse, and hands everything it is unsure of to the parser.
 */
static void
test_peek(void)
{
	static const struct {
		const char	*name, *body;
		int		 want;	/* FILTER_IGNORE or FILTER_RUN */
		const char	*ref, *reason;
	} rows[] = {
		{ "peek: an unwatched branch", "{\"ref\":\"refs/heads/dev\","
		  "\"after\":\"abc\",\"commits\":[]}", FILTER_IGNORE,
		  "refs/heads/dev", "branch dev is not watched" },
		{ "peek: a tag", " {\"ref\" : \"refs/tags/v1\"}\n",
		  FILTER_IGNORE, "refs/tags/v1", "tag push (refs/tags/v1)" },
		{ "peek: not a branch", "{\"ref\":\"refs/notes/x\"}",
		  FILTER_IGNORE, "refs/notes/x", "not a branch" },
		{ "peek: a watched branch goes to the parser",
		  "{\"ref\":\"refs/heads/main\",\"commits\":[]}", FILTER_RUN,
		  "refs/heads/main", NULL },
		{ "peek: nested values with brackets and quotes in strings",
		  "{\"x\":{\"a\":\"}]{\\\"\",\"b\":[1,2.5e3,{\"c\":\"]\"},null,"
		  "true]},\"ref\":\"refs/heads/dev\",\"n\":-1}", FILTER_IGNORE,
		  "refs/heads/dev", "not watched" },
		{ "peek: a nested ref does not count",
		  "{\"repository\":{\"ref\":\"refs/heads/dev\"}}", FILTER_RUN,
		  "", NULL },
		{ "peek: ref twice (unwatched, then watched)",
		  "{\"ref\":\"refs/heads/dev\",\"ref\":\"refs/heads/main\"}",
		  FILTER_RUN, "refs/heads/dev", NULL },
		{ "peek: ref twice (both unwatched)",
		  "{\"ref\":\"refs/heads/dev\",\"ref\":\"refs/heads/x\"}",
		  FILTER_RUN, "refs/heads/dev", NULL },
		{ "peek: an escaped key that is ref",
		  "{\"r\\u0065f\":\"refs/heads/main\",\"ref\":\"refs/heads/dev\"}",
		  FILTER_RUN, "", NULL },
		{ "peek: a ref with an escape",
		  "{\"ref\":\"refs/heads/d\\u0065v\"}", FILTER_RUN, "", NULL },
		{ "peek: a ref that is no string", "{\"ref\":[\"refs/heads/dev\"]}",
		  FILTER_RUN, "", NULL },
		{ "peek: bytes after the object",
		  "{\"ref\":\"refs/heads/dev\"} {}", FILTER_RUN, "refs/heads/dev",
		  NULL },
		{ "peek: cut short", "{\"ref\":\"refs/heads/dev\",\"commits\":[",
		  FILTER_RUN, "refs/heads/dev", NULL },
		{ "peek: no object", "[\"ref\",\"refs/heads/dev\"]", FILTER_RUN,
		  "", NULL },
		{ "peek: no ref", "{\"after\":\"abc\"}", FILTER_RUN, "", NULL },
		{ "peek: a control character in a string",
		  "{\"a\":\"x\ny\",\"ref\":\"refs/heads/dev\"}", FILTER_RUN, "",
		  NULL },
	};
	char reason[FILTER_REASON_MAX], ref[PEEK_MAX], after[PEEK_MAX];
	enum filter_result r;
	struct conf c;
	size_t i;

	if (load(&c, "run_dir = /tmp\nbranches = main release/*\n") == -1) {
		CHECK(0, "peek", "config did not load");
		return;
	}
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		reason[0] = '\0';
		r = push_peek(&c, rows[i].body, strlen(rows[i].body), ref, after,
		    reason);
		CHECK(r == rows[i].want && strcmp(ref, rows[i].ref) == 0 &&
		    (rows[i].reason == NULL || strstr(reason, rows[i].reason)),
		    rows[i].name, "got %s, ref \"%s\", reason \"%s\"",
		    r == FILTER_IGNORE ? "ignore" : "run", ref, reason);
	}
	r = push_peek(&c, rows[0].body, strlen(rows[0].body), ref, after,
	    reason);
	CHECK(strcmp(after, "abc") == 0, "peek: after, for the log", "%s",
	    after);
	conf_free(&c);
}

static void
test_deep_path(void)
{
	size_t n = 24000, i;
	char *path = malloc(n * 7 + 32), *s = path;

	for (i = 0; i < n; i++)
		s += sprintf(s, "abcdef/");
	strcpy(s, "configs/x.yaml");
	CHECK(path_match("**/configs/*.yaml", path), "deep path: ** matches",
	    "no match");
	CHECK(!path_match("**/configs/*.yml", path), "deep path: no match",
	    "match");
	CHECK(path_match("abcdef/**/x.yaml", path) &&
	    !path_match("abcdef/**/configs/**/z.yaml", path) &&
	    path_match("**/abcdef/", path) && !path_match("**/*?*/q/", path),
	    "deep path: anchored and dironly", "mismatch");
	free(path);
}

/* The owner/name of a repository URL, or none. */
static void
test_repo_of_url(void)
{
	static const struct {
		const char *url, *want;
	} t[] = {
		{ "git@github.com:acme/llm-sft.git", "acme/llm-sft" },
		{ "https://github.com/acme/x", "acme/x" },
		{ "https://github.com/acme/x.git/", "acme/x" },
		{ "ssh://git@github.com:22/acme/x.git", "acme/x" },
		{ "ssh://git@mirror.lan/acme/x.git", NULL },
		{ "https://github.com.evil/acme/x", NULL },
		{ "https://github.com/x", NULL },
		{ "/srv/train.git", NULL },
		{ "file:///srv/a/b.git", NULL },
		{ "git@github.com:x.git", NULL },
		{ "https://github.com/../x.git", NULL },
	};
	char out[REPO_NAME_MAX], name[128];
	size_t i;
	int r;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		r = repo_of_url(t[i].url, out);
		snprintf(name, sizeof(name), "repo_of_url %s", t[i].url);
		CHECK(t[i].want ? r == 1 && strcmp(out, t[i].want) == 0 : r == 0,
		    name, "r=%d %s", r, r ? out : "");
	}
}

int
main(void)
{
	PLAN(168);
	test_repo_of_url();
	test_deep_path();
	test_globs();
	test_path_safe();
	test_form();
	test_parse();
	test_filter();
	test_peek();
	return t_exit();
}
