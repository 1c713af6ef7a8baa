/*
 * fake-swift: a stand-in for ms-swift's `swift` command, for tests and the
 * demo on machines without GPUs or PyPI.  It is NOT ms-swift.
 *
 * It follows ms-swift's command-line contract (swift/cli/main.py):
 *
 *	swift sft|pt|rlhf CONFIG [--key value]...
 *	swift export [--key value]...
 *
 * CONFIG must exist and end in .yaml, .yml or .json.  It writes, in the
 * output directory (--output_dir, default "output"):
 *
 *	argv		its arguments, one per line
 *	env		its environment, one variable per line
 *	info		pid ppid pgid sid cwd and its open descriptors
 *	config		the text of the CONFIG it trained
 *	logging.jsonl	training-log lines and the end record, shaped like
 *			ms-swift's (one folder down, v0-<time>/, unless
 *			--add_version false, as ms-swift does)
 *	checkpoint-N/	an empty "checkpoint" beside logging.jsonl
 *
 * Keys in CONFIG steer it (the trainer's environment is allow-listed, so
 * the config file is how a test talks to it):
 *
 *	fake_sleep: N	seconds to "train" (default 0)
 *	fake_steps: N	logging steps over those seconds (default 2)
 *	fake_junk_mb: N	N MiB of garbage lines in logging.jsonl before the
 *			end record
 *	fake_exit: N	exit status (default 0)
 *	fake_signal: N	kill itself with signal N at the end instead
 *	fake_fork: 1	leave a child process in its group, sleeping too
 *
 * With NNODES set (a multi-node launch), it prints its NODE_RANK and
 * master; only node 0 writes the outputs.
 *
 * export (ms-swift's swift/pipelines/export: merge LoRA, quantize) needs
 * --adapters (an existing folder, a checkpoint) or --model; it writes
 * argv, env and config.json into --output_dir (default: the adapters'
 * folder with "-merged" appended, as ms-swift names it) and exits 1 if
 * the adapters are not there.
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

/* ms-swift's format_time. */
static void
format_time(char *buf, size_t size, long t)
{
	if (t >= 86400)
		snprintf(buf, size, "%ldd %ldh %ldm %lds", t / 86400,
		    t % 86400 / 3600, t % 3600 / 60, t % 60);
	else if (t >= 3600)
		snprintf(buf, size, "%ldh %ldm %lds", t / 3600, t % 3600 / 60,
		    t % 60);
	else if (t >= 60)
		snprintf(buf, size, "%ldm %lds", t / 60, t % 60);
	else
		snprintf(buf, size, "%lds", t);
}

/*
 * "Trains": one logging.jsonl line per step as ms-swift's
 * ProgressCallbackNew.on_log writes it, spread over sleep_s seconds, a
 * checkpoint folder, then (after junk_mb MiB of garbage, for tests) the
 * record ms-swift's _save_trainer_state appends at the end.
 */
static void
train(const char *dir, long steps, long sleep_s, long junk_mb)
{
	char elapsed[32], remaining[32], ckpt[4096];
	struct timespec t0, now;
	double loss = 2.3026;
	long i, k;
	FILE *f;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	f = create(dir, "logging.jsonl");
	for (i = 1; i <= steps; i++) {
		if (sleep_s > 0)
			usleep((useconds_t)(sleep_s * 1000000 / steps));
		clock_gettime(CLOCK_MONOTONIC, &now);
		loss = 2.3026 / (double)i;
		format_time(elapsed, sizeof(elapsed), now.tv_sec - t0.tv_sec);
		format_time(remaining, sizeof(remaining), (steps - i) *
		    (sleep_s / steps > 0 ? sleep_s / steps : 1));
		fprintf(f, "{\"loss\": %.4f, \"grad_norm\": 1.0, "
		    "\"learning_rate\": %g, \"epoch\": %.2f, "
		    "\"global_step/max_steps\": \"%ld/%ld\", "
		    "\"elapsed_time\": \"%s\", \"remaining_time\": \"%s\", "
		    "\"memory(GiB)\": 1.5, \"train_speed(s/it)\": %.6f}\n",
		    loss, 1e-4 * (double)(steps - i + 1) / (double)steps,
		    (double)i / (double)steps, i, steps, elapsed, remaining,
		    (double)sleep_s / (double)steps);
		fflush(f);
	}
	snprintf(ckpt, sizeof(ckpt), "%s/checkpoint-%ld", dir, steps);
	mkdirs(ckpt);
	for (k = 0; k < junk_mb; k++) {
		fputs("{not json at all\n", f);
		for (i = 0; i < (1 << 20) - 32; i++)
			fputc('x', f);
		fputs("}\n", f);
	}
	fprintf(f, "{\"last_model_checkpoint\": \"%s\", "
	    "\"best_model_checkpoint\": \"%s\", \"best_metric\": %.4f, "
	    "\"global_step\": %ld, \"log_history\": [{\"loss\": %.4f, "
	    "\"step\": %ld}], \"memory\": 1.5}\n", ckpt, ckpt, loss, steps,
	    loss, steps);
	fclose(f);
}

/* Writes its arguments and environment into dir, one per line. */
static void
record(const char *dir, int argc, char *argv[])
{
	FILE *f;
	int i;

	f = create(dir, "argv");
	for (i = 0; i < argc; i++)
		fprintf(f, "%s\n", argv[i]);
	fclose(f);
	f = create(dir, "env");
	for (i = 0; environ[i] != NULL; i++)
		fprintf(f, "%s\n", environ[i]);
	fclose(f);
}

/* swift export: see the top of the file. */
static int
export(int argc, char *argv[])
{
	const char *adapters = NULL, *model = NULL, *outdir = NULL;
	char merged[4096];
	struct stat st;
	FILE *f;
	int i;

	for (i = 2; i < argc; i += 2) {
		if (strncmp(argv[i], "--", 2) != 0 || argv[i][2] == '\0')
			die("expected --key", argv[i]);
		if (i + 1 >= argc)
			die("no value for", argv[i]);
		if (strcmp(argv[i], "--adapters") == 0)
			adapters = argv[i + 1];
		else if (strcmp(argv[i], "--model") == 0)
			model = argv[i + 1];
		else if (strcmp(argv[i], "--output_dir") == 0)
			outdir = argv[i + 1];
	}
	if (adapters == NULL && model == NULL)
		die("export needs --adapters or --model", NULL);
	if (adapters != NULL && (stat(adapters, &st) == -1 ||
	    !S_ISDIR(st.st_mode))) {
		fprintf(stderr, "fake-swift: export: adapters %s: not a "
		    "folder\n", adapters);
		return 1;
	}
	if (outdir == NULL) {
		snprintf(merged, sizeof(merged), "%s-merged", adapters ?
		    adapters : model);
		outdir = merged;
	}
	mkdirs(outdir);
	record(outdir, argc, argv);
	f = create(outdir, "config.json");
	fprintf(f, "{\"merged_from\": \"%s\"}\n", adapters ? adapters : model);
	fclose(f);
	printf("fake-swift: export %s to %s (a stand-in, not ms-swift)\n",
	    adapters ? adapters : model, outdir);
	return 0;
}

int
main(int argc, char *argv[])
{
	const char *config, *outdir = "output";
	char *text, cwd[4096], logdir[4096], stamp[32];
	long sleep_s, code, sig, forks, steps, junk_mb;
	int version = 1;
	time_t t;
	struct dirent *de;
	DIR *d;
	FILE *f;
	int i;

	if (argc >= 2 && strcmp(argv[1], "export") == 0)
		return export(argc, argv);
	if (argc < 3)
		die("usage: swift sft|pt|rlhf CONFIG [--key value]... | "
		    "swift export [--key value]...", NULL);
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
		if (strcmp(argv[i], "--add_version") == 0)
			version = strcmp(argv[i + 1], "false") != 0;
	}
	text = slurp(config);
	sleep_s = config_num(text, "fake_sleep", 0);
	/*
	 * Multi-node (ms-swift's NNODES, NODE_RANK, MASTER_ADDR, MASTER_PORT
	 * for torchrun): each node says so; as in ms-swift, only the first
	 * writes the outputs.
	 */
	if (getenv("NNODES") != NULL) {
		printf("fake-swift: node %s of %s, master %s:%s, %s "
		    "process(es) per node\n", getenv("NODE_RANK") ?
		    getenv("NODE_RANK") : "?", getenv("NNODES"),
		    getenv("MASTER_ADDR") ? getenv("MASTER_ADDR") : "?",
		    getenv("MASTER_PORT") ? getenv("MASTER_PORT") : "?",
		    getenv("NPROC_PER_NODE") ? getenv("NPROC_PER_NODE") : "?");
		fflush(stdout);
		if (getenv("NODE_RANK") == NULL ||
		    strcmp(getenv("NODE_RANK"), "0") != 0) {
			code = config_num(text, "fake_exit", 0);
			free(text);
			if (sleep_s > 0)
				sleep((unsigned)sleep_s);
			return (int)code;
		}
	}
	code = config_num(text, "fake_exit", 0);
	sig = config_num(text, "fake_signal", 0);
	forks = config_num(text, "fake_fork", 0);
	steps = config_num(text, "fake_steps", 2);
	junk_mb = config_num(text, "fake_junk_mb", 0);
	if (steps < 1)
		steps = 1;
	mkdirs(outdir);
	f = create(outdir, "config");
	fputs(text, f);
	fclose(f);
	free(text);
	/* ms-swift's add_version_to_work_dir: output_dir/v<N>-<time>. */
	snprintf(logdir, sizeof(logdir), "%s", outdir);
	if (version) {
		t = time(NULL);
		strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", localtime(&t));
		snprintf(logdir, sizeof(logdir), "%s/v0-%s", outdir, stamp);
		mkdirs(logdir);
	}

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
	record(outdir, argc, argv);
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
	train(logdir, steps, sleep_s, junk_mb);
	printf("fake-swift: done, exit %ld\n", code);
	fflush(stdout);
	if (sig > 0)
		kill(getpid(), (int)sig);
	return (int)code;
}
