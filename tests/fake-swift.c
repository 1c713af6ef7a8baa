/*
 * fake-swift: a stand-in for ms-swift's `swift` command, for tests and the
 * demo on machines without GPUs or PyPI.  It is NOT ms-swift.
 *
 * It follows ms-swift's command-line contract (swift/cli/main.py):
 *
 *	swift sft|pt|rlhf CONFIG [--key value]...
 *
 * CONFIG must exist and end in .yaml, .yml or .json.  It writes, in the
 * output directory (--output_dir, default "output"):
 *
 *	argv		its arguments, one per line
 *	env		its environment, one variable per line
 *	info		pid ppid pgid sid cwd and its open descriptors
 *	logging.jsonl	a few training-log lines, shaped like ms-swift's
 *
 * Keys in CONFIG steer it (the trainer's environment is allow-listed, so
 * the config file is how a test talks to it):
 *
 *	fake_sleep: N	seconds to "train" (default 0)
 *	fake_exit: N	exit status (default 0)
 *	fake_signal: N	kill itself with signal N at the end instead
 *	fake_fork: 1	leave a child process in its group, sleeping too
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void __attribute__((noreturn))
die(const char *msg, const char *arg)
{
	fprintf(stderr, "fake-swift: %s%s%s\n", msg, arg ? ": " : "",
	    arg ? arg : "");
	exit(2);
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n > m && strcmp(s + n - m, suffix) == 0;
}

/* Finds `key: N` or `"key": N` in the config text. */
static long
config_num(const char *text, const char *key, long dflt)
{
	const char *s = text;
	size_t n = strlen(key);

	while ((s = strstr(s, key)) != NULL) {
		s += n;
		if (*s == '"')
			s++;
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s != ':')
			continue;
		s++;
		return strtol(s, NULL, 10);
	}
	return dflt;
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (f == NULL)
		die("cannot read config", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, n + 1);
	if (buf == NULL || fread(buf, 1, n, f) != (size_t)n)
		die("cannot read config", path);
	fclose(f);
	return buf;
}

static FILE *
create(const char *dir, const char *name)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL)
		die("cannot write", path);
	return f;
}

static void
mkdirs(const char *path)
{
	char buf[4096], *s;

	snprintf(buf, sizeof(buf), "%s", path);
	for (s = buf + 1; *s; s++)
		if (*s == '/') {
			*s = '\0';
			mkdir(buf, 0755);
			*s = '/';
		}
	if (mkdir(buf, 0755) == -1 && errno != EEXIST)
		die("cannot create output_dir", path);
}

extern char **environ;

int
main(int argc, char *argv[])
{
	const char *config, *outdir = "output";
	char *text, cwd[4096];
	long sleep_s, code, sig, forks;
	struct dirent *de;
	DIR *d;
	FILE *f;
	int i;

	if (argc < 3)
		die("usage: swift sft|pt|rlhf CONFIG [--key value]...", NULL);
	if (strcmp(argv[1], "sft") != 0 && strcmp(argv[1], "pt") != 0 &&
	    strcmp(argv[1], "rlhf") != 0)
		die("unknown command", argv[1]);
	config = argv[2];
	if (!ends_with(config, ".yaml") && !ends_with(config, ".yml") &&
	    !ends_with(config, ".json"))
		die("config must end in .yaml, .yml or .json", config);
	if (access(config, R_OK) == -1)
		die("config not found", config);
	for (i = 3; i < argc; i += 2) {
		if (strncmp(argv[i], "--", 2) != 0 || argv[i][2] == '\0')
			die("expected --key", argv[i]);
		if (i + 1 >= argc)
			die("no value for", argv[i]);
		if (strcmp(argv[i], "--output_dir") == 0)
			outdir = argv[i + 1];
	}
	text = slurp(config);
	sleep_s = config_num(text, "fake_sleep", 0);
	code = config_num(text, "fake_exit", 0);
	sig = config_num(text, "fake_signal", 0);
	forks = config_num(text, "fake_fork", 0);
	free(text);
	mkdirs(outdir);

	/* What it was given and what it has: read before anything opens. */
	f = create(outdir, "info.tmp");
	fprintf(f, "pid=%ld\nppid=%ld\npgid=%ld\nsid=%ld\ncwd=%s\nfds=",
	    (long)getpid(), (long)getppid(), (long)getpgid(0),
	    (long)getsid(0), getcwd(cwd, sizeof(cwd)) ? cwd : "?");
	if ((d = opendir("/proc/self/fd")) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (de->d_name[0] != '.' && atoi(de->d_name) !=
			    dirfd(d) && atoi(de->d_name) != fileno(f))
				fprintf(f, "%s ", de->d_name);
		closedir(d);
	}
	fprintf(f, "\n");
	fclose(f);
	f = create(outdir, "argv");
	for (i = 0; i < argc; i++)
		fprintf(f, "%s\n", argv[i]);
	fclose(f);
	f = create(outdir, "env");
	for (i = 0; environ[i] != NULL; i++)
		fprintf(f, "%s\n", environ[i]);
	fclose(f);
	{
		char a[4096], b[4096];

		snprintf(a, sizeof(a), "%s/info.tmp", outdir);
		snprintf(b, sizeof(b), "%s/info", outdir);
		rename(a, b);
	}

	printf("fake-swift: sft %s (this is a stand-in, not ms-swift)\n",
	    config);
	fflush(stdout);
	if (forks > 0 && fork() == 0) {
		sleep(sleep_s > 0 ? (unsigned)sleep_s : 1);
		_exit(0);
	}
	f = create(outdir, "logging.jsonl");
	fprintf(f, "{\"loss\": 2.3026, \"grad_norm\": 1.0, "
	    "\"learning_rate\": 1e-05, \"epoch\": 0.0, "
	    "\"global_step/max_steps\": \"1/2\"}\n");
	fflush(f);
	if (sleep_s > 0)
		sleep((unsigned)sleep_s);
	fprintf(f, "{\"loss\": 1.1513, \"grad_norm\": 0.5, "
	    "\"learning_rate\": 1e-05, \"epoch\": 1.0, "
	    "\"global_step/max_steps\": \"2/2\"}\n"
	    "{\"train_runtime\": %ld, \"train_loss\": 1.7269}\n", sleep_s);
	fclose(f);
	printf("fake-swift: done, exit %ld\n", code);
	fflush(stdout);
	if (sig > 0)
		kill(getpid(), (int)sig);
	return (int)code;
}
