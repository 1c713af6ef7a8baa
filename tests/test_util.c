/*
 * test_util.c: removing a folder tree from a descriptor (what prune and
 * a job's end do): symlinks inside are removed, never followed; folders a
 * trainer made read-only go too; sizes are counted.  And the machine's
 * boot time from a /proc/stat of a machine with many CPUs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "t.h"
#include "util.h"

static char top[] = "/tmp/swh-util-XXXXXX";

static void
put(const char *path, size_t n)
{
	FILE *f = fopen(path, "w");
	size_t i;

	if (f == NULL) {
		perror(path);
		exit(1);
	}
	for (i = 0; i < n; i++)
		fputc('x', f);
	fclose(f);
}

static void
test_rm_tree(void)
{
	char p[4096], outside[4096];
	unsigned long long freed = 0, size;
	int dfd, rc, i;

	snprintf(outside, sizeof(outside), "%s/outside", top);
	mkdir(outside, 0755);
	snprintf(p, sizeof(p), "%s/outside/keep", top);
	put(p, 10);
	snprintf(p, sizeof(p), "%s/tree", top);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/tree/a", top);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/tree/a/big", top);
	put(p, 100000);
	snprintf(p, sizeof(p), "%s/tree/a/link", top);
	if (symlink(outside, p) == -1)
		perror(p);
	snprintf(p, sizeof(p), "%s/tree/ro", top);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/tree/ro/f", top);
	put(p, 10);
	snprintf(p, sizeof(p), "%s/tree/ro", top);
	chmod(p, 0500);
	snprintf(p, sizeof(p), "%s/tree/many", top);
	mkdir(p, 0755);
	for (i = 0; i < 300; i++) {
		snprintf(p, sizeof(p), "%s/tree/many/f%d", top, i);
		put(p, 1);
	}
	dfd = open(top, O_RDONLY | O_DIRECTORY);
	size = tree_size_at(dfd, "tree");
	CHECK(size >= 100000, "tree_size_at counts what the files hold",
	    "%llu", size);
	rc = rm_tree_at(dfd, "tree", &freed);
	snprintf(p, sizeof(p), "%s/tree", top);
	CHECK(rc == 0 && access(p, F_OK) == -1, "rm_tree_at removes it all, "
	    "read-only folders too", "rc=%d errno=%d", rc, errno);
	CHECK(freed == size, "and says how much it freed", "%llu of %llu",
	    freed, size);
	snprintf(p, sizeof(p), "%s/outside/keep", top);
	CHECK(access(p, F_OK) == 0, "a symlink inside is removed, not followed",
	    "what it named is gone");
	CHECK(rm_tree_at(dfd, "nothing", NULL) == 0, "a missing tree is no "
	    "error", "errno=%d", errno);
	snprintf(p, sizeof(p), "%s/link", top);
	if (symlink(outside, p) == 0) {
		rc = rm_tree_at(dfd, "link", NULL);
		snprintf(p, sizeof(p), "%s/outside/keep", top);
		CHECK(rc == 0 && access(p, F_OK) == 0, "a symlink given as the "
		    "tree is removed, not followed", "rc=%d", rc);
	}
	close(dfd);
}

static void
test_duration(void)
{
	char buf[32];

	duration_format(buf, sizeof(buf), 425);
	CHECK(strcmp(buf, "7m05s") == 0, "duration: minutes", "%s", buf);
	duration_format(buf, sizeof(buf), 1e30);
	CHECK(strchr(buf, '-') == NULL && strchr(buf, 'h') != NULL,
	    "duration: a planted 1e30 is a long time, not a cast overflow",
	    "%s", buf);
	duration_format(buf, sizeof(buf), -1);
	CHECK(strcmp(buf, "-") == 0, "duration: none", "%s", buf);
}

/* btime after the "cpuN" lines of a machine with 256 CPUs (20 KiB). */
static void
test_boot_time(void)
{
	char path[64];
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "%s/stat", top);
	if ((f = fopen(path, "w")) == NULL) {
		CHECK(0, "boot time: setup", "%s", strerror(errno));
		return;
	}
	fprintf(f, "cpu  1 2 3 4 5 6 7 8 9 10\n");
	for (i = 0; i < 256; i++)
		fprintf(f, "cpu%d 2245161 1331 469520 187437744 48279 0 9512 "
		    "0 0 0\n", i);
	fprintf(f, "intr 1\nctxt 2\nbtime 1764547200\nprocesses 3\n");
	fclose(f);
	CHECK(proc_boot_time(path) == 1764547200, "boot time: btime after "
	    "256 CPUs' lines", "%lld", (long long)proc_boot_time(path));
	CHECK(proc_boot_time(NULL) > 0, "boot time: this machine's", "0");
	snprintf(path, sizeof(path), "%s/none", top);
	CHECK(proc_boot_time(path) == 0, "boot time: no file, 0", "not 0");
}

/* A commit message's title: table rows. */
static void
test_title(void)
{
	static const struct {
		const char *in, *want, *name;
	} rows[] = {
		{ "Raise lr\n\nThe body.", "Raise lr", "the first line" },
		{ "  \tIndented  \r\nx", "Indented", "blanks around it dropped" },
		{ "a\tb", "a b", "a tab is a space" },
		{ "red \x1b[31mX\x1b[0m", "red [31mX[0m",
		    "escape characters removed" },
		{ "del\x7f C1 \xc2\x9b!", "del C1 !", "DEL and C1 removed" },
		{ "bad \xff\xfe bytes \xc3(", "bad  bytes (",
		    "bytes that are no UTF-8 removed" },
		{ "caf\xc3\xa9 \xe6\xbc\xa2\xe5\xad\x97", "caf\xc3\xa9 "
		    "\xe6\xbc\xa2\xe5\xad\x97", "UTF-8 kept" },
		{ "", "", "empty" },
		{ NULL, "", "none" },
	};
	char out[TITLE_MAX], in[600];
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		title_clean(rows[i].in, out);
		CHECK(strcmp(out, rows[i].want) == 0, rows[i].name,
		    "\"%s\"", out);
	}
	/* 300 two-byte characters: cut at a character's end. */
	for (i = 0; i < 300; i++)
		memcpy(in + 2 * i, "\xc3\xa9", 2);
	in[600 - 1] = '\0';
	title_clean(in, out);
	CHECK(strlen(out) == 254 && utf8_valid(out), "a long title: cut to "
	    "fit, at a character's end", "%zu", strlen(out));
}

/* JSON for a terminal: DEL, C1 and bytes that are not UTF-8 escaped. */
static void
test_json_tty(void)
{
	char *out;

	out = json_text_tty("{\"t\": \"a\x7f b\xc2\x9b[2J c\xff d "
	    "caf\xc3\xa9 \xc2\xa0\\u001b\"}");
	CHECK(out != NULL && strcmp(out, "{\"t\": \"a\\u007f b\\u009b[2J "
	    "c\\ufffd d caf\xc3\xa9 \xc2\xa0\\u001b\"}") == 0, "JSON for a "
	    "terminal: DEL, C1 and stray bytes escaped, UTF-8 and escapes "
	    "kept", "%s", out ? out : "(null)");
	free(out);
}

/* path_open_at: each folder on the way, never through a symlink. */
static void
test_path_open(void)
{
	char p[4096];
	int dfd, fd;

	snprintf(p, sizeof(p), "%s/p", top);
	mkdir(top, 0700);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/p/q", top);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/p/q/f", top);
	put(p, 3);
	snprintf(p, sizeof(p), "%s/p/l", top);
	(void)!symlink("q", p);
	snprintf(p, sizeof(p), "%s/p", top);
	dfd = open(p, O_RDONLY | O_DIRECTORY);
	fd = path_open_at(dfd, "q/f", O_RDONLY, 0, ANY_OWNER);
	CHECK(fd >= 0, "path_open_at: a file under a folder", "%s",
	    strerror(errno));
	if (fd >= 0)
		close(fd);
	errno = 0;
	CHECK(path_open_at(dfd, "l/f", O_RDONLY, 0, ANY_OWNER) == -1 &&
	    errno == ELOOP, "a folder on the way that is a symlink: ELOOP",
	    "%s", strerror(errno));
	errno = 0;
	CHECK(path_open_at(dfd, "q/../q/f", O_RDONLY, 0, ANY_OWNER) == -1 &&
	    errno == EINVAL && path_open_at(dfd, "/etc/passwd", O_RDONLY, 0,
	    ANY_OWNER) == -1 && path_open_at(dfd, "q//f", O_RDONLY, 0,
	    ANY_OWNER) == -1, "\"..\", absolute and empty names refused",
	    "%s", strerror(errno));
	close(dfd);
}

int
main(void)
{
	char cmd[128];

	PLAN(26);
	if (mkdtemp(top) == NULL) {
		CHECK(0, "setup: mkdtemp", "%s", strerror(errno));
		return t_exit();
	}
	test_rm_tree();
	test_duration();
	test_boot_time();
	test_title();
	test_path_open();
	test_json_tty();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", top);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", top);
	return t_exit();
}
