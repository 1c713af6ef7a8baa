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
 *	fake_eval: N	an eval line every N steps; only then are
 *			best_model_checkpoint and best_metric set (ms-swift
 *			evaluates only with a validation split, not by
 *			default: both are null otherwise)
 *	fake_diverge: N	from step N the loss is Infinity, then NaN, written
 *			bare as Python's json.dumps writes them
 *	fake_junk_mb: N	N MiB of garbage lines in logging.jsonl before the
 *			end record
 *	fake_exit: N	exit status (default 0)
 *	fake_signal: N	kill itself with signal N at the end instead
 *	fake_fork: 1	leave a child process in its group, sleeping too
 *	fake_orphan: N	leave a child in a session of its own that sleeps
 *			N seconds after the trainer's end (what a crashed
 *			launcher leaves of its workers)
 *	learning_rate: X	as ms-swift reads it (default 1e-4): the
 *			logged learning rate decays from X, and (a toy of
 *			training, so that runs differ) the loss is scaled by
 *			(1 + 1e-4 / X) / 2: 2e-4 ends lower than 1e-4
 *	fake_term_delay: N	a worker of the torchrun shape takes N seconds
 *			to exit after SIGTERM (saving its state, as
 *			ms-swift's graceful_exit does)
 *
 *	swift deploy --adapters CKPT|--model M [--port N] [--host H]
 *	    [--served_model_name NAME] [--infer_backend B]...
 *
 * serves as ms-swift's swift/pipelines/infer/deploy.py does (uvicorn,
 * the OpenAI API): the port is chosen first by find_free_port (N, else
 * the next one that binds on all addresses, silently), then the model
 * "loads" (fake_deploy_load seconds, default 1) with nothing listening,
 * then it listens on HOST (default 0.0.0.0, as ms-swift's) and PORT; if
 * that port was taken meanwhile it exits 1, as uvicorn does.  GET
 * /health and /ping answer 200; GET /v1/models lists NAME (default: the
 * last part of the checkpoint's path); POST /v1/chat/completions and
 * /v1/completions answer a completion whose text names the checkpoint
 * and pid serving it, after fake_deploy_reply_ms (default 20), or 400
 * as ms-swift's _check_model when "model" is not NAME; anything else
 * 404.  "Expect: 100-continue" gets "100 Continue" before the body is
 * read (h11's).  HTTP/1.1 keep-alive, idle connections closed after 5 s
 * (uvicorn's timeout_keep_alive).  Connections wait in the listen
 * backlog fake_deploy_accept_ms (5) between accepts, as under uvicorn's
 * one event loop while it works.  On SIGTERM it closes its listening
 * socket (the kernel resets the connections still in its backlog),
 * finishes the requests in flight (one whose request has come counts),
 * closes idle connections and exits 0 (uvicorn's shutdown).  Keys of the config the checkpoint's run
 * trained (output_dir/config) steer it: fake_deploy_load: N (or never:
 * nothing ever listens), fake_deploy_health: never (it listens, and
 * answers 503 to everything, as a server whose engine died),
 * fake_deploy_exit: N (it exits N once loaded), fake_deploy_crash: S (it
 * serves S seconds, then dies with status 1, as a server whose engine
 * died: vLLM's AsyncLLMEngine exits the process), fake_deploy_reply_ms: N.
 *
 * As ms-swift's main.py, with NPROC_PER_NODE (more than 1) sft, pt and
 * rlhf run in torchrun's shape: this process (the `swift` wrapper, no
 * signal handler: SIGTERM ends it at once) starts a launcher and waits
 * for it (subprocess.run); the launcher starts NPROC_PER_NODE workers,
 * each in a session of its own (torchrun >= 2.2, start_new_session), and
 * on SIGTERM forwards it to them and waits up to 30 s before SIGKILL;
 * each worker exits fake_term_delay seconds after its SIGTERM.  Rank 0
 * trains and writes the outputs; every worker adds "rank R pid P sid S"
 * to output_dir/workers when it starts and "rank R exited" to
 * output_dir/exits as it ends.
 *
 * logging.jsonl is ms-swift's: a line per step ("memory(GiB)" only when
 * CUDA_VISIBLE_DEVICES names a GPU, as on a machine with CUDA), eval
 * lines with fake_eval, the trainer's summary line ("train_loss",
 * "train_runtime", ...), then the end record with the whole log_history.
 *
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

/* What follows `key:` or `"key":` in the config text, or NULL. */
static const char *
config_value(const char *text, const char *key)
{
	const char *s = text;
	size_t n = strlen(key);

	while ((s = strstr(s, key)) != NULL) {
		s += n;
		if (*s == '"')
			s++;
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == ':')
			return s + 1;
	}
	return NULL;
}

/* Finds `key: N` or `"key": N` in the config text. */
static long
config_num(const char *text, const char *key, long dflt)
{
	const char *v = config_value(text, key);

	return v != NULL ? strtol(v, NULL, 10) : dflt;
}

/* The same for a real number (learning_rate: 2e-4). */
static double
config_real(const char *text, const char *key, double dflt)
{
	const char *v = config_value(text, key);

	return v != NULL ? strtod(v, NULL) : dflt;
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

/* How a run is steered: the config's fake_* keys (see the top). */
struct plan {
	long	 sleep_s, steps, eval, diverge, junk_mb, term_delay;
	double	 lr;		/* learning_rate (ms-swift's default 1e-4) */
};

/* A SIGTERM came (a worker of the torchrun shape, or its launcher). */
static volatile sig_atomic_t terminated;

static void
on_term(int sig)
{
	(void)sig;
	terminated = 1;
}

/* The loss of step i, or a bare non-finite token past fake_diverge. */
static const char *
loss_text(const struct plan *pl, long i, char buf[32])
{
	if (pl->diverge > 0 && i >= pl->diverge)
		return i == pl->diverge ? "Infinity" : "NaN";
	/* A toy of what a learning rate does: 2e-4 ends lower than 1e-4. */
	snprintf(buf, 32, "%.4f", 2.3026 / (double)i * (1 + 1e-4 / pl->lr) /
	    2);
	return buf;
}

/*
 * "Trains": one logging.jsonl line per step as ms-swift's
 * ProgressCallbackNew.on_log writes it, spread over sleep_s seconds, an
 * eval line every pl->eval steps, a checkpoint folder, the trainer's
 * summary line, then (after junk_mb MiB of garbage, for tests) the record
 * ms-swift's _save_trainer_state appends at the end.  A SIGTERM (with a
 * handler: a worker) ends the steps early.
 */
static void
train(const char *dir, const struct plan *pl)
{
	char elapsed[32], remaining[32], ckpt[4096], best[4096] = "", mem[40];
	char loss[32], hist[1 << 16];
	const int gpu = getenv("CUDA_VISIBLE_DEVICES") != NULL &&
	    *getenv("CUDA_VISIBLE_DEVICES") != '\0';
	double eval, best_metric = 0;
	struct timespec t0, now;
	size_t hn = 0;
	long i, k, steps = pl->steps;
	FILE *f;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	f = create(dir, "logging.jsonl");
	for (i = 1; i <= steps && !terminated; i++) {
		if (pl->sleep_s > 0)
			usleep((useconds_t)(pl->sleep_s * 1000000 / steps));
		clock_gettime(CLOCK_MONOTONIC, &now);
		format_time(elapsed, sizeof(elapsed), now.tv_sec - t0.tv_sec);
		format_time(remaining, sizeof(remaining), (steps - i) *
		    (pl->sleep_s / steps > 0 ? pl->sleep_s / steps : 1));
		snprintf(mem, sizeof(mem), gpu ? ", \"memory(GiB)\": 1.5" : "");
		loss_text(pl, i, loss);
		fprintf(f, "{\"loss\": %s, \"grad_norm\": %s, "
		    "\"learning_rate\": %g, \"epoch\": %.2f, "
		    "\"global_step/max_steps\": \"%ld/%ld\", "
		    "\"elapsed_time\": \"%s\", \"remaining_time\": \"%s\"%s, "
		    "\"train_speed(s/it)\": %.6f}\n", loss, pl->diverge > 0 &&
		    i >= pl->diverge ? "NaN" : "1.0", pl->lr * (double)(steps -
		    i + 1) / (double)steps, (double)i / (double)steps, i, steps,
		    elapsed, remaining, mem, (double)pl->sleep_s /
		    (double)steps);
		hn += snprintf(hist + hn, sizeof(hist) - hn, "%s{\"loss\": %s, "
		    "\"step\": %ld}", hn ? ", " : "", loss, i);
		if (pl->eval > 0 && i % pl->eval == 0) {
			eval = 2.5 / (double)i * (1 + 1e-4 / pl->lr) / 2;
			fprintf(f, "{\"eval_loss\": %.4f, \"eval_runtime\": 0.1, "
			    "\"eval_samples_per_second\": 80.0, \"epoch\": %.2f, "
			    "\"global_step/max_steps\": \"%ld/%ld\", "
			    "\"elapsed_time\": \"%s\", \"remaining_time\": "
			    "\"%s\"}\n", eval, (double)i / (double)steps, i,
			    steps, elapsed, remaining);
			hn += snprintf(hist + hn, sizeof(hist) - hn, ", "
			    "{\"eval_loss\": %.4f, \"step\": %ld}", eval, i);
			if (best[0] == '\0' || eval < best_metric) {
				best_metric = eval;
				snprintf(best, sizeof(best), "%s/checkpoint-%ld",
				    dir, i);
				mkdirs(best);
			}
		}
		if (hn >= sizeof(hist))
			hn = sizeof(hist) - 1;
		fflush(f);
	}
	steps = i - 1;
	snprintf(ckpt, sizeof(ckpt), "%s/checkpoint-%ld", dir, steps);
	mkdirs(ckpt);
	fprintf(f, "{\"train_runtime\": %ld.0, \"train_samples_per_second\": "
	    "1.0, \"train_steps_per_second\": 1.0, \"train_loss\": %s, "
	    "\"epoch\": 1.0, \"global_step/max_steps\": \"%ld/%ld\", "
	    "\"elapsed_time\": \"%s\", \"remaining_time\": \"0s\"}\n",
	    pl->sleep_s, loss_text(pl, steps > 0 ? steps : 1, loss), steps,
	    pl->steps, elapsed);
	for (k = 0; k < pl->junk_mb; k++) {
		fputs("{not json at all\n", f);
		for (i = 0; i < (1 << 20) - 32; i++)
			fputc('x', f);
		fputs("}\n", f);
	}
	if (best[0] == '\0')
		fprintf(f, "{\"last_model_checkpoint\": \"%s\", "
		    "\"best_model_checkpoint\": null, \"best_metric\": null, "
		    "\"global_step\": %ld, \"log_history\": [%.*s], "
		    "\"memory\": %s}\n", ckpt, steps, (int)hn, hist, gpu ?
		    "1.5" : "null");
	else
		fprintf(f, "{\"last_model_checkpoint\": \"%s\", "
		    "\"best_model_checkpoint\": \"%s\", \"best_metric\": %.4f, "
		    "\"global_step\": %ld, \"log_history\": [%.*s], "
		    "\"memory\": %s}\n", ckpt, best, best_metric, steps,
		    (int)hn, hist, gpu ? "1.5" : "null");
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
	int exist_ok = 0;
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
		else if (strcmp(argv[i], "--exist_ok") == 0)
			exist_ok = strcmp(argv[i + 1], "true") == 0;
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
	if (!exist_ok && stat(outdir, &st) == 0) {
		fprintf(stderr, "fake-swift: FileExistsError: args.output_dir: "
		    "`%s` already exists.\n", outdir);
		return 1;
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

/* Appends a line to output_dir/name (several processes write there). */
static void __attribute__((format(printf, 3, 4)))
note(const char *dir, const char *name, const char *fmt, ...)
{
	char path[4096];
	va_list ap;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "a")) != NULL) {
		va_start(ap, fmt);
		vfprintf(f, fmt, ap);
		va_end(ap);
		fclose(f);
	}
}

/*
 * A worker of the torchrun shape: in a session of its own, rank 0 trains,
 * the others wait as long; after a SIGTERM each takes term_delay seconds
 * (saving its state) and exits 143.  Never returns.
 */
static void __attribute__((noreturn))
worker(long rank, const char *outdir, const char *logdir,
    const struct plan *pl)
{
	struct timespec t0, now;
	struct sigaction sa;
	long waited;

	setsid();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	note(outdir, "workers", "rank %ld pid %ld sid %ld\n", rank,
	    (long)getpid(), (long)getsid(0));
	if (rank == 0)
		train(logdir, pl);
	else
		for (waited = 0; waited < pl->sleep_s * 10 && !terminated;
		    waited++)
			usleep(100000);
	if (terminated) {
		printf("fake-swift: rank %ld got SIGTERM, saving for %ld s\n",
		    rank, pl->term_delay);
		fflush(stdout);
		/* Saving goes on through a second SIGTERM (torchrun's). */
		clock_gettime(CLOCK_MONOTONIC, &t0);
		do
			clock_gettime(CLOCK_MONOTONIC, &now);
		while (now.tv_sec - t0.tv_sec < pl->term_delay &&
		    usleep(100000) <= 0);
	}
	note(outdir, "exits", "rank %ld exited\n", rank);
	_exit(terminated ? 143 : 0);
}

/*
 * torchrun: starts nproc workers and waits for them; a SIGTERM is
 * forwarded to each, and what is left after 30 s is SIGKILLed.  Never
 * returns.
 */
static void __attribute__((noreturn))
launcher(long nproc, const char *outdir, const char *logdir,
    const struct plan *pl)
{
	struct sigaction sa;
	pid_t pids[64];
	long i, left = 0, forwarded = 0, code = 0;
	int status;
	pid_t pid;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	for (i = 0; i < nproc && i < 64; i++, left++)
		if ((pids[i] = fork()) == 0)
			worker(i, outdir, logdir, pl);
	while (left > 0) {
		if (terminated && forwarded == 0) {
			printf("fake-swift: torchrun: SIGTERM, to each worker; "
			    "waiting up to 30 s\n");
			fflush(stdout);
			for (i = 0; i < nproc && i < 64; i++)
				kill(pids[i], SIGTERM);
			forwarded = 1;
		}
		if (forwarded > 0 && forwarded++ > 300)
			for (i = 0; i < nproc && i < 64; i++)
				kill(pids[i], SIGKILL);
		if ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			left--;
			if (code == 0 && (!WIFEXITED(status) ||
			    WEXITSTATUS(status) != 0))
				code = 1;
		} else
			usleep(100000);
	}
	_exit(terminated ? 143 : (int)code);
}

/* swift deploy: see the top of the file. */
struct serve {
	const char	*ckpt, *name;
	long		 reply_ms, accept_ms;
	int		 never;		/* /health answers 503 */
};

static volatile sig_atomic_t stopping;

static void
on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

/* fake_deploy_crash: the engine died. */
static void
on_crash(int sig)
{
	static const char msg[] = "ERROR: the engine died: exiting\n";

	(void)sig;
	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	_exit(1);
}

/* Writes all of s to fd.  Returns 0 or -1. */
static int
put(int fd, const char *s, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, s, n)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
respond(int fd, int code, const char *body, int keep)
{
	char head[512];
	int n;

	n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nserver: uvicorn\r\n"
	    "content-type: application/json\r\ncontent-length: %zu\r\n%s\r\n",
	    code, code == 200 ? "OK" : code == 400 ? "Bad Request" : code ==
	    404 ? "Not Found" : "Service Unavailable", strlen(body),
	    keep ? "" : "connection: close\r\n");
	return put(fd, head, (size_t)n) == -1 ? -1 : put(fd, body,
	    strlen(body));
}

/*
 * One connection: requests until the client closes it, 5 s idle, or a
 * SIGTERM between requests.
 */
static void __attribute__((noreturn))
serve_conn(int fd, const struct serve *sv)
{
	char buf[65536], body[2048], model[256], *end, *p, *q;
	size_t got = 0, len, need;
	struct pollfd pf;
	int keep, r;

	for (;;) {
		/* A whole head, then Content-Length bytes of body. */
		while ((end = memmem(buf, got, "\r\n\r\n", 4)) == NULL) {
			pf.fd = fd;
			pf.events = POLLIN;
			/*
			 * Shutting down: an idle connection is closed, as
			 * uvicorn does; one whose request has come (its
			 * event loop has read it) is served.
			 */
			if (stopping && got == 0 && poll(&pf, 1, 0) <= 0)
				_exit(0);
			if ((r = poll(&pf, 1, 5000)) == 0 && got == 0)
				_exit(0);	/* idle */
			if (r == -1 && errno == EINTR)
				continue;
			if (got == sizeof(buf) - 1)
				_exit(1);
			if ((r = (int)read(fd, buf + got, sizeof(buf) - 1 -
			    got)) <= 0)
				_exit(0);
			got += (size_t)r;
		}
		buf[got] = '\0';
		len = (size_t)(end + 4 - buf);
		p = strcasestr(buf, "\ncontent-length:");
		need = p != NULL && p < end ? strtoul(p + 16, NULL, 10) : 0;
		if (need > sizeof(buf) - 1 - len)
			_exit(1);
		/* As h11 under uvicorn: 100 Continue once the body is read. */
		p = strcasestr(buf, "\nexpect: 100-continue");
		if (p != NULL && p < end && got < len + need &&
		    put(fd, "HTTP/1.1 100 Continue\r\n\r\n", 25) == -1)
			_exit(0);
		while (got < len + need) {
			if ((r = (int)read(fd, buf + got, len + need - got)) <= 0)
				_exit(0);
			got += (size_t)r;
		}
		buf[got] = '\0';
		keep = strncmp(buf + strcspn(buf, "\r") - 8, "HTTP/1.0", 8) != 0 &&
		    strcasestr(buf, "\nconnection: close") == NULL;
		if (strncmp(buf, "GET /health ", 12) == 0 ||
		    strncmp(buf, "GET /ping ", 10) == 0)
			r = respond(fd, sv->never ? 503 : 200, "", keep);
		else if (sv->never)	/* its engine is dead */
			r = respond(fd, 503, "{\"detail\": \"engine dead\"}",
			    keep);
		else if (strncmp(buf, "GET /v1/models ", 15) == 0) {
			snprintf(body, sizeof(body), "{\"object\": \"list\", "
			    "\"data\": [{\"id\": \"%s\", \"object\": \"model\", "
			    "\"created\": %ld, \"owned_by\": \"swift\"}]}",
			    sv->name, (long)time(NULL));
			r = respond(fd, 200, body, keep);
		} else if (strncmp(buf, "POST /v1/chat/completions ", 26) == 0 ||
		    strncmp(buf, "POST /v1/completions ", 21) == 0) {
			model[0] = '\0';
			if ((p = strstr(buf + len, "\"model\"")) != NULL &&
			    (p = strchr(p + 7, '"')) != NULL &&
			    (q = strchr(p + 1, '"')) != NULL &&
			    (size_t)(q - p) < sizeof(model))
				snprintf(model, sizeof(model), "%.*s",
				    (int)(q - p - 1), p + 1);
			usleep((useconds_t)sv->reply_ms * 1000);
			if (strcmp(model, sv->name) != 0) {
				snprintf(body, sizeof(body), "{\"object\": "
				    "\"error\", \"message\": \"`%s` is not in "
				    "the model_list: `['%s']`.\", \"type\": "
				    "\"BadRequestError\", \"code\": 400}",
				    model, sv->name);
				r = respond(fd, 400, body, keep);
			} else {
				snprintf(body, sizeof(body), "{\"id\": "
				    "\"chatcmpl-%ld\", \"object\": "
				    "\"chat.completion\", \"model\": \"%s\", "
				    "\"choices\": [{\"index\": 0, \"message\": "
				    "{\"role\": \"assistant\", \"content\": "
				    "\"served by %s (pid %ld)\"}, "
				    "\"finish_reason\": \"stop\"}]}",
				    (long)getpid(), sv->name, sv->ckpt,
				    (long)getppid());
				r = respond(fd, 200, body, keep);
			}
		} else
			r = respond(fd, 404, "{\"detail\": \"Not Found\"}", keep);
		if (r == -1 || !keep || stopping)
			_exit(0);
		memmove(buf, buf + len + need, got - len - need);
		got -= len + need;
	}
}

static int
deploy(int argc, char *argv[])
{
	const char *host = "0.0.0.0", *model = NULL, *v;
	char path[4096], *text = NULL, *slash;
	struct sockaddr_in a;
	struct serve sv;
	struct sigaction sa;
	long port = 8000, load, code, crash, p;
	int i, fd, one = 1, c, status;

	memset(&sv, 0, sizeof(sv));
	for (i = 2; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--adapters") == 0)
			sv.ckpt = argv[i + 1];
		else if (strcmp(argv[i], "--model") == 0)
			model = argv[i + 1];
		else if (strcmp(argv[i], "--port") == 0)
			port = strtol(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--host") == 0)
			host = argv[i + 1];
		else if (strcmp(argv[i], "--served_model_name") == 0)
			sv.name = argv[i + 1];
	}
	if (sv.ckpt == NULL)
		sv.ckpt = model;
	if (sv.ckpt == NULL)
		die("deploy: --model or --adapters is required", NULL);
	if (sv.name == NULL)
		sv.name = (slash = strrchr(sv.ckpt, '/')) ? slash + 1 : sv.ckpt;
	/* The config its run trained, beside the checkpoint's folders. */
	snprintf(path, sizeof(path), "%s/../config", sv.ckpt);
	if (access(path, R_OK) == -1)
		snprintf(path, sizeof(path), "%s/../../config", sv.ckpt);
	text = access(path, R_OK) == 0 ? slurp(path) : strdup("");
	v = config_value(text, "fake_deploy_load");
	load = v != NULL && strncmp(v + strspn(v, " \t"), "never", 5) == 0 ?
	    -1 : config_num(text, "fake_deploy_load", 1);
	code = config_num(text, "fake_deploy_exit", -1);
	crash = config_num(text, "fake_deploy_crash", -1);
	sv.reply_ms = config_num(text, "fake_deploy_reply_ms", 20);
	sv.accept_ms = config_num(text, "fake_deploy_accept_ms", 5);
	sv.never = config_value(text, "fake_deploy_health") != NULL &&
	    strstr(config_value(text, "fake_deploy_health"), "never") != NULL;
	free(text);
	/* find_free_port: binds '' (all addresses), takes the next. */
	for (p = port; p < port + 100; p++) {
		if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
			die("socket", strerror(errno));
		memset(&a, 0, sizeof(a));
		a.sin_family = AF_INET;
		a.sin_port = htons((unsigned short)p);
		c = bind(fd, (struct sockaddr *)&a, sizeof(a));
		close(fd);
		if (c == 0)
			break;
	}
	if (p == port + 100)
		p = port;
	if (p != port)
		fprintf(stderr, "fake-swift deploy: port %ld is taken: %ld\n",
		    port, p);
	if (load < 0)
		fprintf(stderr, "fake-swift deploy: loading %s (never ends)\n",
		    sv.ckpt);
	else
		fprintf(stderr, "fake-swift deploy: loading %s (%lds)\n",
		    sv.ckpt, load);
	while (load < 0)		/* never loads: nothing listens */
		pause();
	sleep((unsigned)load);
	if (code >= 0) {
		fprintf(stderr, "fake-swift deploy: exit %ld\n", code);
		return (int)code;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		die("socket", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((unsigned short)p);
	if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
		die("deploy: --host is not an IPv4 address", host);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == -1 ||
	    listen(fd, 64) == -1) {
		fprintf(stderr, "ERROR: [Errno 98] error while attempting to "
		    "bind on address ('%s', %ld): address already in use\n",
		    host, p);
		return 1;
	}
	fprintf(stderr, "INFO: Uvicorn running on http://%s:%ld\n", host, p);
	if (crash >= 0) {
		sa.sa_handler = on_crash;
		sigaction(SIGALRM, &sa, NULL);
		alarm((unsigned)crash);
	}
	while (!stopping) {
		/* uvicorn's one event loop: the backlog waits between tasks. */
		if (sv.accept_ms > 0)
			usleep((useconds_t)sv.accept_ms * 1000);
		c = accept(fd, NULL, NULL);
		while (waitpid(-1, &status, WNOHANG) > 0)
			;
		if (c == -1)
			continue;
		if (fork() == 0) {
			close(fd);
			serve_conn(c, &sv);
		}
		close(c);
	}
	/* uvicorn's shutdown: no new connections; those in flight end. */
	close(fd);
	fprintf(stderr, "INFO: Shutting down\n");
	while (wait(&status) > 0 || errno == EINTR)
		;
	fprintf(stderr, "INFO: Finished server process [%ld]\n",
	    (long)getpid());
	return 0;
}

int
main(int argc, char *argv[])
{
	const char *config, *outdir = "output";
	char *text, cwd[4096], logdir[4096], stamp[32];
	long code, sig, forks, orphan, nproc = 0;
	struct plan pl;
	int version = 1, status;
	time_t t;
	struct dirent *de;
	pid_t pid;
	DIR *d;
	FILE *f;
	int i;

	if (argc >= 2 && strcmp(argv[1], "export") == 0)
		return export(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "deploy") == 0)
		return deploy(argc, argv);
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
	memset(&pl, 0, sizeof(pl));
	pl.sleep_s = config_num(text, "fake_sleep", 0);
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
			if (pl.sleep_s > 0)
				sleep((unsigned)pl.sleep_s);
			return (int)code;
		}
	} else if (getenv("NPROC_PER_NODE") != NULL)
		nproc = strtol(getenv("NPROC_PER_NODE"), NULL, 10);
	code = config_num(text, "fake_exit", 0);
	sig = config_num(text, "fake_signal", 0);
	forks = config_num(text, "fake_fork", 0);
	orphan = config_num(text, "fake_orphan", 0);
	pl.steps = config_num(text, "fake_steps", 2);
	pl.eval = config_num(text, "fake_eval", 0);
	pl.diverge = config_num(text, "fake_diverge", 0);
	pl.junk_mb = config_num(text, "fake_junk_mb", 0);
	pl.term_delay = config_num(text, "fake_term_delay", 0);
	pl.lr = config_real(text, "learning_rate", 1e-4);
	if (!(pl.lr > 0))
		die("learning_rate must be a positive number", NULL);
	if (pl.steps < 1)
		pl.steps = 1;
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
	if (nproc > 1) {
		/* main.py: torchrun by subprocess.run, no signal handler. */
		printf("run sh: `torchrun --nproc_per_node %ld ...` (fake)\n",
		    nproc);
		fflush(stdout);
		if ((pid = fork()) == 0)
			launcher(nproc, outdir, logdir, &pl);
		if (pid == -1 || waitpid(pid, &status, 0) == -1)
			die("cannot run the launcher", NULL);
		code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
		printf("fake-swift: done, exit %ld\n", code);
		return (int)code;
	}
	if (forks > 0 && fork() == 0) {
		sleep(pl.sleep_s > 0 ? (unsigned)pl.sleep_s : 1);
		_exit(0);
	}
	if (orphan > 0 && fork() == 0) {
		setsid();
		note(outdir, "workers", "orphan pid %ld sid %ld\n",
		    (long)getpid(), (long)getsid(0));
		sleep((unsigned)(pl.sleep_s + orphan));
		_exit(0);
	}
	train(logdir, &pl);
	printf("fake-swift: done, exit %ld\n", code);
	fflush(stdout);
	if (sig > 0)
		kill(getpid(), (int)sig);
	return (int)code;
}
