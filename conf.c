/*
 * conf.c: reads and checks the configuration file.
 *
 * Every error names the file and line and says what is wrong, because the
 * only place a FastCGI responder can say it is the web server's error log,
 * read by someone who did not write the config.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "conf.h"
#include "util.h"
#include "window.h"

const char *const conf_placeholder_names[PH__COUNT] = {
	[PH_CONFIG] = "config",
	[PH_SHA] = "sha",
	[PH_SHORT_SHA] = "short_sha",
	[PH_REF] = "ref",
	[PH_BRANCH] = "branch",
	[PH_REPOSITORY] = "repository",
	[PH_DELIVERY] = "delivery",
	[PH_JOB] = "job",
	[PH_JOB_DIR] = "job_dir",
	[PH_SRC] = "src",
	[PH_COMMIT] = "commit",
	[PH_OUTPUT_DIR] = "output_dir",
	[PH_LAST_CHECKPOINT] = "last_checkpoint",
	[PH_BEST_CHECKPOINT] = "best_checkpoint",
	[PH_CHECKPOINT] = "checkpoint",
	[PH_PORT] = "port",
	[PH_MODEL_NAME] = "model_name",
};

#define DEFAULT_COMMAND \
	"swift sft {config} --output_dir {output_dir} --add_version false"
#define DEFAULT_OUTPUT_DIR "{job_dir}/output"
#define SECTION_NAME_MAX 256	/* "owner/name" and its NUL */

struct parse {
	const char	*file;
	int		 line;
	char		*err;
	size_t		 errlen;
};

static int
perr(struct parse *p, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(p->err, p->errlen, "%s:%d: ", p->file, p->line);
	if (n < 0 || (size_t)n >= p->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(p->err + n, p->errlen - n, fmt, ap);
	va_end(ap);
	return -1;
}

int
conf_placeholder(const char *s, size_t *len)
{
	size_t i, n;

	for (i = 0; i < PH__COUNT; i++) {
		n = strlen(conf_placeholder_names[i]);
		if (strncmp(s, conf_placeholder_names[i], n) == 0 &&
		    s[n] == '}') {
			*len = n + 1;
			return (int)i;
		}
	}
	return -1;
}

static int
setstr(char **dst, const char *v)
{
	char *s;

	if ((s = strdup(v)) == NULL)
		return -1;
	free(*dst);
	*dst = s;
	return 0;
}

/* Parses a size: digits with an optional K, M or G (binary) suffix. */
static int
parse_size(const char *v, size_t *out)
{
	unsigned long long n;
	char *end;
	if (!isdigit((unsigned char)*v))
		return -1;
	int shift = 0;

	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno != 0)
		return -1;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	}
	/* The limit is checked before the shift, which could overflow. */
	if (*end != '\0' || n == 0 || n > (1ULL << 32) >> shift)
		return -1;
	n <<= shift;
	*out = (size_t)n;
	return 0;
}

/* Parses a count: digits only. */
static int
parse_count(const char *v, long *out)
{
	char *end;
	long n;

	if (!isdigit((unsigned char)*v))
		return -1;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || n > 1000000)
		return -1;
	*out = n;
	return 0;
}

/* Parses a duration: digits with an optional s, m, h or d suffix. */
static int
parse_seconds(const char *v, long *out)
{
	long n;
	char buf[32];
	size_t len = strlen(v);
	int mul = 1;

	if (len == 0 || len >= sizeof(buf))
		return -1;
	memcpy(buf, v, len + 1);
	switch (buf[len - 1]) {
	case 's': mul = 1; buf[--len] = '\0'; break;
	case 'm': mul = 60; buf[--len] = '\0'; break;
	case 'h': mul = 3600; buf[--len] = '\0'; break;
	case 'd': mul = 86400; buf[--len] = '\0'; break;
	}
	if (parse_count(buf, &n) == -1)
		return -1;
	*out = n * mul;
	return 0;
}

/*
 * Checks that every '{' in each element opens a known placeholder below
 * last: the checkpoints are known only once the run has ended
 * (after_success: PH_PORT), the port and name only to deploy (PH__COUNT);
 * the others: PH_LAST_CHECKPOINT.
 */
static int
check_placeholders(struct parse *p, const char *key, const struct strv *l,
    int last)
{
	char known[320];
	const char *s;
	size_t i, len, n = 0;
	int ph;

	for (i = 0; i < l->n; i++)
		for (s = strchr(l->v[i], '{'); s != NULL;
		    s = strchr(s + 1, '{'))
			if ((ph = conf_placeholder(s + 1, &len)) < 0 ||
			    ph >= last)
				goto bad;
	return 0;
bad:
	for (ph = 0; ph < last; ph++)
		n += snprintf(known + n, sizeof(known) - n, "%s{%s}",
		    ph ? " " : "", conf_placeholder_names[ph]);
	return perr(p, "%s: unknown placeholder in \"%s\" (known: %s)", key,
	    l->v[i], known);
}

static int
check_env(struct parse *p, const char *key, const struct strv *l)
{
	const char *s;
	size_t i;

	for (i = 0; i < l->n; i++) {
		s = l->v[i];
		if (!isalpha((unsigned char)*s) && *s != '_')
			goto bad;
		while (isalnum((unsigned char)*s) || *s == '_')
			s++;
		if (*s != '=')
			goto bad;
		if (strncmp(l->v[i], "NPROC_PER_NODE=", 15) == 0)
			return perr(p, "%s: NPROC_PER_NODE is nproc_per_node's "
			    "to set", key);
	}
	return check_placeholders(p, key, l, PH_LAST_CHECKPOINT);
bad:
	return perr(p, "%s: \"%s\" is not NAME=VALUE", key, l->v[i]);
}

static const char *
file_error(int e)
{
	return e == EINVAL ? "not a regular file" : e == EFBIG ?
	    "file too large" : strerror(e);
}

/*
 * Reads the secret from file: one line, trailing CR/LF ignored.  Refuses an
 * empty one, since an empty HMAC key is no secret at all.  The buffer is
 * wiped, so that no copy of the secret stays behind.
 */
static int
read_secret(struct parse *p, struct conf *c, const char *file)
{
	char buf[SECRET_MAX + 1];
	ssize_t n;
	size_t len = 0;
	int fd;

	if ((fd = file_open_regular(file)) == -1)
		return perr(p, "secret_file: %s: %s", file, file_error(errno));
	while (len < sizeof(buf) &&
	    (n = read(fd, buf + len, sizeof(buf) - len)) != 0) {
		if (n == -1) {
			if (errno == EINTR)
				continue;
			close(fd);
			OPENSSL_cleanse(buf, sizeof(buf));
			return perr(p, "secret_file: %s: %s", file,
			    strerror(errno));
		}
		len += n;
	}
	close(fd);
	if (len == sizeof(buf)) {
		OPENSSL_cleanse(buf, sizeof(buf));
		return perr(p, "secret_file: %s: longer than %d bytes", file,
		    SECRET_MAX);
	}
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	if (len == 0)
		return perr(p, "secret_file: %s is empty", file);
	if ((c->secret = malloc(len + 1)) == NULL) {
		OPENSSL_cleanse(buf, sizeof(buf));
		return perr(p, "out of memory");
	}
	memcpy(c->secret, buf, len);
	c->secret[len] = '\0';
	c->secretlen = len;
	OPENSSL_cleanse(buf, sizeof(buf));
	return 0;
}

/*
 * GITHUB_WEBHOOK_SECRET, taken out of the environment at start-up (see
 * conf_take_env_secret), or NULL.
 */
static char	*env_secret;

void
conf_take_env_secret(void)
{
	extern char **environ;
	char **e, *v;
	size_t n = strlen("GITHUB_WEBHOOK_SECRET=");

	for (e = environ; *e != NULL; e++)
		if (strncmp(*e, "GITHUB_WEBHOOK_SECRET=", n) == 0)
			break;
	if (*e == NULL)
		return;
	v = *e + n;
	if (env_secret == NULL && *v != '\0')
		env_secret = strdup(v);
	/*
	 * Wipe the bytes where they are: /proc/PID/environ shows the
	 * process's original environment block, whatever unsetenv does.
	 */
	OPENSSL_cleanse(v, strlen(v));
	unsetenv("GITHUB_WEBHOOK_SECRET");
}

void
conf_wipe_secret(struct conf *c)
{
	size_t i;

	if (c != NULL && c->file != NULL)
		c = c->file;	/* every copy: the file's and its sections' */
	for (i = 0; c != NULL && i < c->nsections; i++)
		if (c->sections[i].secret != NULL)
			OPENSSL_cleanse(c->sections[i].secret,
			    c->sections[i].secretlen);
	if (c != NULL && c->secret != NULL)
		OPENSSL_cleanse(c->secret, c->secretlen);
	if (env_secret != NULL)
		OPENSSL_cleanse(env_secret, strlen(env_secret));
}

enum kind { K_STR, K_PATH, K_LIST, K_SIZE, K_COUNT, K_SECONDS, K_BOOL };

struct key {
	const char	*name;
	enum kind	 kind;
	size_t		 off;
};

enum {
	KEY_SECRET_FILE, KEY_SECRET, KEY_RUN_DIR, KEY_WORKDIR, KEY_BRANCHES,
	KEY_PATHS, KEY_IGNORE_PATHS, KEY_CONFIGS, KEY_DEFAULT_CONFIG,
	KEY_COMMAND, KEY_LAUNCHER, KEY_ENV, KEY_MAX_BODY, KEY_GPUS, KEY_SLOTS,
	KEY_GPUS_PER_JOB, KEY_MAX_QUEUED, KEY_CONCURRENCY, KEY_MAX_RUNTIME,
	KEY_KILL_GRACE, KEY_NOTIFY, KEY_NOTIFY_ENV, KEY_NOTIFY_TIMEOUT,
	KEY_MAX_RUNS_PER_PUSH, KEY_REPOSITORY, KEY_FETCH_TIMEOUT,
	KEY_SUBMODULES, KEY_KEEP_SRC, KEY_GIT_SSH_KEY, KEY_GIT_KNOWN_HOSTS,
	KEY_GIT_CREDENTIALS, KEY_OUTPUT_DIR, KEY_GITHUB_TOKEN_FILE,
	KEY_API_URL, KEY_PUBLIC_URL, KEY_GITHUB_TIMEOUT, KEY_RUN_WINDOW,
	KEY_TIMEZONE, KEY_WINDOW_ACTION, KEY_WINDOW_STOP, KEY_MAX_RUNS_PER_DAY,
	KEY_GPU_CHECK, KEY_GPU_BUSY_MIB, KEY_GPU_CHECK_INTERVAL,
	KEY_AFTER_SUCCESS, KEY_BACKEND, KEY_NODES, KEY_SLURM_ARGS,
	KEY_SLURM_CONF, KEY_SLURM_POLL, KEY_NPROC_PER_NODE, KEY_MASTER_PORT,
	KEY_SLURM_GPUS, KEY_DEPLOY, KEY_DEPLOY_PORTS, KEY_DEPLOY_HEALTH,
	KEY_DEPLOY_TIMEOUT, KEY_DEPLOY_BRANCHES, KEY_DEPLOY_GPUS,
	KEY_DEPLOY_MODEL_NAME, KEY_DEPLOY_IF_BETTER, NKEYS
};

#define O(f) offsetof(struct conf, f)
static const struct key keys[NKEYS] = {
	[KEY_SECRET_FILE] =	{ "secret_file",	K_PATH,	0 },
	[KEY_SECRET] =		{ "secret",		K_STR,	0 },
	[KEY_RUN_DIR] =		{ "run_dir",		K_PATH,	O(run_dir) },
	[KEY_WORKDIR] =		{ "workdir",		K_PATH,	O(workdir) },
	[KEY_BRANCHES] =	{ "branches",		K_LIST,	O(branches) },
	[KEY_PATHS] =		{ "paths",		K_LIST,	O(paths) },
	[KEY_IGNORE_PATHS] =	{ "ignore_paths",	K_LIST,	O(ignore_paths) },
	[KEY_CONFIGS] =		{ "configs",		K_LIST,	O(configs) },
	[KEY_DEFAULT_CONFIG] =	{ "default_config",	K_STR,	O(default_config) },
	[KEY_COMMAND] =		{ "command",		K_LIST,	O(command) },
	[KEY_LAUNCHER] =	{ "launcher",		K_LIST,	O(launcher) },
	[KEY_ENV] =		{ "env",		K_LIST,	O(env) },
	[KEY_MAX_BODY] =	{ "max_body",		K_SIZE,	O(max_body) },
	[KEY_GPUS] =		{ "gpus",		K_LIST,	O(gpus) },
	[KEY_SLOTS] =		{ "slots",		K_COUNT, O(slots) },
	[KEY_GPUS_PER_JOB] =	{ "gpus_per_job",	K_COUNT, O(gpus_per_job) },
	[KEY_MAX_QUEUED] =	{ "max_queued",		K_COUNT, O(max_queued) },
	[KEY_CONCURRENCY] =	{ "concurrency",	K_STR,	0 },
	[KEY_MAX_RUNTIME] =	{ "max_runtime",	K_SECONDS, O(max_runtime) },
	[KEY_KILL_GRACE] =	{ "kill_grace",		K_SECONDS, O(kill_grace) },
	[KEY_NOTIFY] =		{ "notify",		K_LIST,	O(notify) },
	[KEY_NOTIFY_ENV] =	{ "notify_env",		K_LIST,	O(notify_env) },
	[KEY_NOTIFY_TIMEOUT] =	{ "notify_timeout",	K_SECONDS, O(notify_timeout) },
	[KEY_MAX_RUNS_PER_PUSH] = { "max_runs_per_push", K_COUNT, O(max_runs_per_push) },
	[KEY_REPOSITORY] =	{ "repository",		K_STR,	O(repository) },
	[KEY_FETCH_TIMEOUT] =	{ "fetch_timeout",	K_SECONDS, O(fetch_timeout) },
	[KEY_SUBMODULES] =	{ "submodules",		K_BOOL,	O(submodules) },
	[KEY_KEEP_SRC] =	{ "keep_src",		K_BOOL,	O(keep_src) },
	[KEY_GIT_SSH_KEY] =	{ "git_ssh_key",	K_PATH,	O(git_ssh_key) },
	[KEY_GIT_KNOWN_HOSTS] =	{ "git_known_hosts",	K_PATH,	O(git_known_hosts) },
	[KEY_GIT_CREDENTIALS] =	{ "git_credentials",	K_PATH,	O(git_credentials) },
	[KEY_OUTPUT_DIR] =	{ "output_dir",		K_STR,	O(output_dir) },
	[KEY_GITHUB_TOKEN_FILE] = { "github_token_file", K_PATH, O(github_token_file) },
	[KEY_API_URL] =		{ "api_url",		K_STR,	O(api_url) },
	[KEY_PUBLIC_URL] =	{ "public_url",		K_STR,	O(public_url) },
	[KEY_GITHUB_TIMEOUT] =	{ "github_timeout",	K_SECONDS, O(github_timeout) },
	[KEY_RUN_WINDOW] =	{ "run_window",		K_STR,	0 },
	[KEY_TIMEZONE] =	{ "timezone",		K_STR,	O(timezone) },
	[KEY_WINDOW_ACTION] =	{ "window_action",	K_STR,	0 },
	[KEY_WINDOW_STOP] =	{ "window_stop",	K_BOOL,	O(window_stop) },
	[KEY_MAX_RUNS_PER_DAY] = { "max_runs_per_day",	K_COUNT, O(max_runs_per_day) },
	[KEY_GPU_CHECK] =	{ "gpu_check",		K_BOOL,	O(gpu_check) },
	[KEY_GPU_BUSY_MIB] =	{ "gpu_busy_mib",	K_COUNT, O(gpu_busy_mib) },
	[KEY_GPU_CHECK_INTERVAL] = { "gpu_check_interval", K_SECONDS, O(gpu_check_interval) },
	[KEY_AFTER_SUCCESS] =	{ "after_success",	K_LIST,	O(after_success) },
	[KEY_BACKEND] =		{ "backend",		K_STR,	0 },
	[KEY_NODES] =		{ "nodes",		K_COUNT, O(nodes) },
	[KEY_SLURM_ARGS] =	{ "slurm_args",		K_LIST,	O(slurm_args) },
	[KEY_SLURM_CONF] =	{ "slurm_conf",		K_PATH,	O(slurm_conf) },
	[KEY_SLURM_POLL] =	{ "slurm_poll",		K_SECONDS, O(slurm_poll) },
	[KEY_NPROC_PER_NODE] =	{ "nproc_per_node",	K_STR,	0 },
	[KEY_MASTER_PORT] =	{ "master_port",	K_COUNT, O(master_port) },
	[KEY_SLURM_GPUS] =	{ "slurm_gpus",		K_STR,	0 },
	[KEY_DEPLOY] =		{ "deploy",		K_LIST,	O(deploy) },
	[KEY_DEPLOY_PORTS] =	{ "deploy_ports",	K_LIST,	O(deploy_ports) },
	[KEY_DEPLOY_HEALTH] =	{ "deploy_health",	K_STR,	O(deploy_health) },
	[KEY_DEPLOY_TIMEOUT] =	{ "deploy_timeout",	K_SECONDS, O(deploy_timeout) },
	[KEY_DEPLOY_BRANCHES] =	{ "deploy_branches",	K_LIST,	O(deploy_branches) },
	[KEY_DEPLOY_GPUS] =	{ "deploy_gpus",	K_LIST,	O(deploy_gpus) },
	[KEY_DEPLOY_MODEL_NAME] = { "deploy_model_name", K_STR, O(deploy_model_name) },
	[KEY_DEPLOY_IF_BETTER] = { "deploy_if_better",	K_STR,	O(deploy_if_better) },
};
#undef O


static int
set_defaults(struct conf *c)
{
	if (strv_split(&c->branches, "main") == -1 ||
	    strv_split(&c->paths, "*.py *.yaml *.yml *.json") == -1 ||
	    strv_split(&c->ignore_paths, "") == -1 ||
	    strv_split(&c->configs, "configs/*.yaml configs/*.yml") == -1 ||
	    setstr(&c->default_config, "configs/sft.yaml") == -1 ||
	    setstr(&c->output_dir, DEFAULT_OUTPUT_DIR) == -1 ||
	    strv_split(&c->command, DEFAULT_COMMAND) == -1 ||
	    strv_split(&c->launcher, "") == -1 ||
	    strv_split(&c->env, "") == -1 ||
	    strv_split(&c->gpus, "") == -1 ||
	    strv_split(&c->notify, "") == -1 ||
	    strv_split(&c->notify_env, "") == -1 ||
	    strv_split(&c->after_success, "") == -1 ||
	    strv_split(&c->slurm_args, "") == -1 ||
	    strv_split(&c->deploy, "") == -1 ||
	    strv_split(&c->deploy_ports, "") == -1 ||
	    strv_split(&c->deploy_branches, "main") == -1 ||
	    strv_split(&c->deploy_gpus, "") == -1 ||
	    setstr(&c->deploy_health, "/health") == -1 ||
	    setstr(&c->api_url, "https://api.github.com") == -1)
		return -1;
	c->max_body = MAX_BODY_DEFAULT;
	c->slots = 1;
	c->gpus_per_job = 1;
	c->max_queued = 100;
	c->max_runs_per_push = 8;
	c->kill_grace = 30;
	c->notify_timeout = 30;
	c->fetch_timeout = 600;
	c->github_timeout = 10;
	c->gpu_busy_mib = 1024;
	c->gpu_check_interval = 30;
	c->nodes = 1;
	c->master_port = 29500;
	c->slurm_poll = 30;
	c->nproc_per_node = NPROC_GPUS;
	c->deploy_timeout = 900;
	return 0;
}

/*
 * Which of the names after val (NULL-terminated) val is: its index into
 * *out.  Returns 0, or -1 said as "key: val is not ..." (p NULL: not
 * said).
 */
static int
one_of(struct parse *p, const char *key, const char *val, int *out, ...)
{
	const char *name, *next;
	char names[256] = "";
	size_t n = 0;
	va_list ap;
	int i;

	va_start(ap, out);
	for (i = 0, name = va_arg(ap, const char *); name != NULL;
	    i++, name = next) {
		next = va_arg(ap, const char *);
		if (strcmp(val, name) == 0) {
			va_end(ap);
			*out = i;
			return 0;
		}
		n += snprintf(names + n, sizeof(names) - n, "%s%s", i == 0 ?
		    "" : next != NULL ? ", " : " or ", name);
	}
	va_end(ap);
	return p == NULL ? -1 : perr(p, "%s: \"%s\" is not %s", key, val,
	    names);
}

/* Handles one "key = value" line; seen[] catches a key given twice. */
static int
set_key(struct parse *p, struct conf *c, char *key, char *val,
    int seen[NKEYS], char **secret_file, char **secret)
{
	const struct key *k;
	size_t i;
	void *f;
	int n;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, key) == 0)
			break;
	if (i == NKEYS)
		return perr(p, "unknown key \"%s\"", key);
	if (seen[i])
		return perr(p, "%s given twice", key);
	seen[i] = p->line;
	k = &keys[i];
	f = (char *)c + k->off;
	if (k->kind != K_LIST && *val == '\0')
		return perr(p, "%s: empty value", key);
	if (k->kind == K_PATH && *val != '/')
		return perr(p, "%s: \"%s\" is not an absolute path", key, val);
	if (i == KEY_SECRET_FILE || i == KEY_SECRET)
		return setstr(i == KEY_SECRET ? secret : secret_file, val) ==
		    -1 ? perr(p, "out of memory") : 0;
	if (i == KEY_CONCURRENCY)
		return one_of(p, key, val, (int *)&c->concurrency, "queue",
		    "supersede", "cancel-in-progress", NULL);
	if (i == KEY_BACKEND)
		return one_of(p, key, val, (int *)&c->backend, "local",
		    "slurm", NULL);
	if (i == KEY_WINDOW_ACTION)
		return one_of(p, key, val, &c->window_skip, "queue", "skip",
		    NULL);
	if (i == KEY_SLURM_GPUS)
		return one_of(p, key, val, (int *)&c->slurm_gpus, "gres",
		    "gpus-per-node", "gpus", "none", NULL);
	if (i == KEY_NPROC_PER_NODE) {
		/* "gpus": one process per GPU of the job; "none": no torchrun. */
		if (one_of(NULL, key, val, &n, "gpus", "none", NULL) == 0) {
			c->nproc_per_node = n == 0 ? NPROC_GPUS : 0;
			return 0;
		}
		if (parse_count(val, &c->nproc_per_node) == -1 ||
		    c->nproc_per_node < 1 || c->nproc_per_node > 1024)
			return perr(p, "nproc_per_node: \"%s\" is not gpus, "
			    "none or a number from 1 to 1024", val);
		return 0;
	}
	if (i == KEY_RUN_WINDOW) {
		char why[256];

		if (window_parse(c->windows, &c->nwindows, val, why,
		    sizeof(why)) == -1)
			return perr(p, "run_window: %s", why);
		return 0;
	}
	switch (k->kind) {
	case K_STR:
	case K_PATH:
		if (setstr(f, val) == -1)
			return perr(p, "out of memory");
		break;
	case K_LIST:
		if (strv_split(f, val) == -1)
			return perr(p, "out of memory");
		break;
	case K_SIZE:
		if (parse_size(val, f) == -1)
			return perr(p, "%s: \"%s\" is not a size in bytes "
			    "(digits, optional K, M or G)", key, val);
		break;
	case K_COUNT:
		if (parse_count(val, f) == -1)
			return perr(p, "%s: \"%s\" is not a whole number",
			    key, val);
		break;
	case K_SECONDS:
		if (parse_seconds(val, f) == -1)
			return perr(p, "%s: \"%s\" is not a duration "
			    "(digits, optional s, m, h or d)", key, val);
		break;
	case K_BOOL:
		if (strcmp(val, "yes") == 0 || strcmp(val, "true") == 0)
			*(int *)f = 1;
		else if (strcmp(val, "no") == 0 || strcmp(val, "false") == 0)
			*(int *)f = 0;
		else
			return perr(p, "%s: \"%s\" is not yes or no", key,
			    val);
		break;
	}
	return 0;
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/*
 * The rules a whole file must meet, one row each, checked in order once
 * every line is read.  An error names the line of the row's key (0 when
 * the key is missing).  secrets: both secret_file and secret were given.
 */
typedef int rule_fn(struct parse *, struct conf *, const int seen[NKEYS],
    int secrets);

static int
need_run_dir(struct parse *p, struct conf *c, const int seen[NKEYS],
    int secrets)
{
	(void)c, (void)secrets;
	return seen[KEY_RUN_DIR] ? 0 : perr(p, "run_dir is required");
}

static int
need_command(struct parse *p, struct conf *c, const int seen[NKEYS],
    int secrets)
{
	(void)seen, (void)secrets;
	return c->command.n > 0 ? 0 : perr(p, "command is empty");
}

static int
ph_command(struct parse *p, struct conf *c, const int seen[NKEYS],
    int secrets)
{
	(void)seen, (void)secrets;
	return check_placeholders(p, "command", &c->command,
	    PH_LAST_CHECKPOINT);
}

static int
ph_launcher(struct parse *p, struct conf *c, const int seen[NKEYS],
    int secrets)
{
	(void)seen, (void)secrets;
	return check_placeholders(p, "launcher", &c->launcher,
	    PH_LAST_CHECKPOINT);
}

static int
env_env(struct parse *p, struct conf *c, const int seen[NKEYS], int secrets)
{
	(void)seen, (void)secrets;
	return check_env(p, "env", &c->env);
}

static int
env_notify(struct parse *p, struct conf *c, const int seen[NKEYS],
    int secrets)
{
	(void)seen, (void)secrets;
	return check_env(p, "notify_env", &c->notify_env);
}

static int
ph_notify(struct parse *p, struct conf *c, const int seen[NKEYS],
    int secrets)
{
	(void)seen, (void)secrets;
	return check_placeholders(p, "notify", &c->notify,
	    PH_LAST_CHECKPOINT);
}

/* With gpus, one slot per GPU: slots is then not for the user to give. */
static int
gpus_or_slots(struct parse *p, struct conf *c, const int seen[NKEYS],
    int secrets)
{
	(void)secrets;
	if (c->gpus.n == 0)
		return 0;
	if (seen[KEY_SLOTS])
		return perr(p, "give gpus or slots, not both");
	c->slots = (long)c->gpus.n;
	return 0;
}

static int
slot_count(struct parse *p, struct conf *c, const int seen[NKEYS],
    int secrets)
{
	(void)seen, (void)secrets;
	if (c->slots < 1 || c->slots > MAX_SLOTS)
		return perr(p, "%s: from 1 to %d slots", c->gpus.n ? "gpus" :
		    "slots", MAX_SLOTS);
	return 0;
}

static int
master_port(struct parse *p, struct conf *c, const int seen[NKEYS],
    int secrets)
{
	(void)seen, (void)secrets;
	if (c->master_port < 1024 || c->master_port + c->slots - 1 > 65535)
		return perr(p, "master_port must be from 1024 to %ld (one port "
		    "per slot)", 65535 - c->slots + 1);
	return 0;
}

static int
per_job(struct parse *p, struct conf *c, const int seen[NKEYS], int secrets)
{
	(void)seen, (void)secrets;
	if (c->backend == BACKEND_SLURM)	/* the cluster's to say */
		return c->gpus_per_job >= 1 ? 0 :
		    perr(p, "gpus_per_job must be at least 1");
	if (c->gpus_per_job < 1 || c->gpus_per_job > c->slots)
		return perr(p, "gpus_per_job must be from 1 to the number of "
		    "%s (%ld)", c->gpus.n ? "gpus" : "slots", c->slots);
	return 0;
}

static int
runs_per_push(struct parse *p, struct conf *c, const int seen[NKEYS],
    int secrets)
{
	(void)seen, (void)secrets;
	return c->max_runs_per_push >= 1 ? 0 :
	    perr(p, "max_runs_per_push must be at least 1");
}

static int
one_secret(struct parse *p, struct conf *c, const int seen[NKEYS],
    int secrets)
{
	(void)c, (void)seen;
	return secrets ? perr(p, "give secret_file or secret, not both") : 0;
}

/*
 * The repository URL goes to git as one argument: it must not pass for an
 * option, and a password in it would show in ps.
 */
static int
repo_url(struct parse *p, struct conf *c, const int seen[NKEYS], int secrets)
{
	const char *r = c->repository, *host, *at;

	(void)secrets;
	if (r == NULL)
		return 0;
	if (seen[KEY_WORKDIR]) {
		p->line = seen[KEY_WORKDIR];
		return perr(p, "give workdir or repository, not both (with "
		    "repository each job trains in its own checkout)");
	}
	if (r[0] == '-' || !utf8_valid(r) || strpbrk(r, " \t\n"))
		return perr(p, "repository: \"%s\" is not a URL or path git "
		    "can fetch", r);
	if ((host = strstr(r, "://")) != NULL &&
	    (at = strchr(host + 3, '@')) != NULL &&
	    memchr(host + 3, ':', at - host - 3) != NULL &&
	    (strchr(host + 3, '/') == NULL || at < strchr(host + 3, '/')))
		return perr(p, "repository: a password or token in the URL "
		    "would show in ps and logs; put it in git_credentials");
	return 0;
}

/*
 * git hands GIT_SSH_COMMAND and credential helpers to a shell: the paths
 * that go into them keep to characters no shell reads as syntax.
 */
static int
git_paths(struct parse *p, struct conf *c, const int seen[NKEYS],
    int secrets)
{
	const char *const v[] = { c->git_ssh_key, c->git_known_hosts,
	    c->git_credentials };
	const int k[] = { KEY_GIT_SSH_KEY, KEY_GIT_KNOWN_HOSTS,
	    KEY_GIT_CREDENTIALS };
	size_t i;

	(void)secrets;
	for (i = 0; i < 3; i++)
		if (v[i] != NULL && v[i][strspn(v[i], "ABCDEFGHIJKLMNOPQRSTU"
		    "VWXYZabcdefghijklmnopqrstuvwxyz0123456789/._+-")] !=
		    '\0') {
			p->line = seen[k[i]];
			return perr(p, "%s: \"%s\": keep to letters, digits "
			    "and / . _ + -", keys[k[i]].name, v[i]);
		}
	if (c->git_ssh_key != NULL && c->git_known_hosts == NULL)
		return perr(p, "git_ssh_key needs git_known_hosts (the "
		    "server's host key, as ssh-keyscan prints it)");
	if (c->repository == NULL && (c->git_ssh_key || c->git_credentials ||
	    seen[KEY_SUBMODULES] || seen[KEY_KEEP_SRC]))
		return perr(p, "%s is for the checkout: set repository too",
		    c->git_ssh_key ? "git_ssh_key" : c->git_credentials ?
		    "git_credentials" : seen[KEY_SUBMODULES] ? "submodules" :
		    "keep_src");
	return 0;
}

/* Where the trainer writes must outlive the checkout. */
static int
output_dir(struct parse *p, struct conf *c, const int seen[NKEYS],
    int secrets)
{
	struct strv one = { &c->output_dir, 1 };

	(void)seen, (void)secrets;
	if (check_placeholders(p, "output_dir", &one,
	    PH_LAST_CHECKPOINT) == -1)
		return -1;
	if (strstr(c->output_dir, "{output_dir}") != NULL)
		return perr(p, "output_dir: cannot hold {output_dir}");
	if (strstr(c->output_dir, "{src}") != NULL && !c->keep_src)
		return perr(p, "output_dir: {src} is removed when the job "
		    "ends (keep_src = no): checkpoints would go with it");
	if (c->output_dir[0] != '/' && c->output_dir[0] != '{')
		return perr(p, "output_dir: \"%s\" is not an absolute path",
		    c->output_dir);
	return 0;
}

static int
fetch_timeout(struct parse *p, struct conf *c, const int seen[NKEYS],
    int secrets)
{
	(void)seen, (void)secrets;
	return c->fetch_timeout >= 1 ? 0 :
	    perr(p, "fetch_timeout must be at least 1s");
}

static int
ph_after_success(struct parse *p, struct conf *c, const int seen[NKEYS],
    int secrets)
{
	(void)seen, (void)secrets;
	return check_placeholders(p, "after_success", &c->after_success,
	    PH_PORT);
}

/* A URL that goes into curl's config and GitHub's statuses: http(s). */
static int
web_url(struct parse *p, const char *key, const char *u)
{
	if (u == NULL)
		return 0;
	if ((strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0) ||
	    !utf8_valid(u) || u[strcspn(u, " \t\n\r\"\\<>")] != '\0')
		return perr(p, "%s: \"%s\" is not an http(s) URL", key, u);
	return 0;
}

static int
github(struct parse *p, struct conf *c, const int seen[NKEYS], int secrets)
{
	(void)secrets;
	p->line = seen[KEY_API_URL];
	if (web_url(p, "api_url", c->api_url) == -1)
		return -1;
	p->line = seen[KEY_PUBLIC_URL];
	if (web_url(p, "public_url", c->public_url) == -1)
		return -1;
	p->line = seen[KEY_GITHUB_TIMEOUT];
	return c->github_timeout >= 1 ? 0 :
	    perr(p, "github_timeout must be at least 1s");
}

static int
timezone_known(struct parse *p, struct conf *c, const int seen[NKEYS],
    int secrets)
{
	(void)seen, (void)secrets;
	if (c->timezone != NULL && !window_zone_valid(c->timezone))
		return perr(p, "timezone: \"%s\" is not a zone in "
		    "/usr/share/zoneinfo (install tzdata?)", c->timezone);
	return 0;
}

static int
windows_set(struct parse *p, struct conf *c, const int seen[NKEYS],
    int secrets)
{
	(void)secrets;
	if (c->nwindows == 0 && (seen[KEY_WINDOW_ACTION] ||
	    seen[KEY_WINDOW_STOP]))
		return perr(p, "%s is for run_window: set it too",
		    seen[KEY_WINDOW_ACTION] ? "window_action" : "window_stop");
	p->line = seen[KEY_TIMEZONE];
	if (c->nwindows == 0 && c->max_runs_per_day == 0 && c->timezone)
		return perr(p, "timezone is for run_window and "
		    "max_runs_per_day: set one of them too");
	return 0;
}

static int
gpu_check(struct parse *p, struct conf *c, const int seen[NKEYS],
    int secrets)
{
	(void)secrets;
	if (c->gpu_check && c->gpus.n == 0)
		return perr(p, "gpu_check needs gpus (the GPUs to look at)");
	p->line = seen[KEY_GPU_CHECK_INTERVAL];
	return c->gpu_check_interval >= 1 ? 0 :
	    perr(p, "gpu_check_interval must be at least 1s");
}

/*
 * With backend = slurm, Slurm queues, assigns GPUs and limits runs: the
 * keys for swift-webhook's own slots, queue, GPU check and windows are
 * refused rather than silently ignored.  The sbatch options swift-webhook
 * sets itself (or a prefix of one, which sbatch takes for it) are not
 * for slurm_args; each of those is one --opt=value word.  Slurm reads %
 * and \\ in --output as patterns: not in run_dir.
 */
static int
slurm_keys(struct parse *p, struct conf *c, const int seen[NKEYS],
    int secrets)
{
	static const int local_only[] = { KEY_GPUS, KEY_SLOTS, KEY_MAX_QUEUED,
	    KEY_GPU_CHECK, KEY_GPU_BUSY_MIB, KEY_GPU_CHECK_INTERVAL,
	    KEY_RUN_WINDOW, KEY_WINDOW_ACTION, KEY_WINDOW_STOP,
	    KEY_AFTER_SUCCESS };
	static const int slurm_only[] = { KEY_NODES, KEY_SLURM_ARGS,
	    KEY_SLURM_CONF, KEY_SLURM_POLL, KEY_SLURM_GPUS };
	static const char *const ours[] = { "--output", "--error",
	    "--open-mode", "--chdir", "--job-name", "--parsable", "--wrap",
	    "--export", "--nodes", "--ntasks-per-node", "--gres", "--array",
	    "--wait", "--time", "--dependency" };
	const char *a;
	size_t i, k, n;

	(void)secrets;
	if (c->backend == BACKEND_LOCAL) {
		for (i = 0; i < sizeof(slurm_only) / sizeof(slurm_only[0]); i++)
			if (seen[slurm_only[i]]) {
				p->line = seen[slurm_only[i]];
				return perr(p, "%s is for backend = slurm",
				    keys[slurm_only[i]].name);
			}
		return 0;
	}
	for (i = 0; i < sizeof(local_only) / sizeof(local_only[0]); i++)
		if (seen[local_only[i]]) {
			p->line = seen[local_only[i]];
			return perr(p, "%s: not with backend = slurm (Slurm "
			    "queues the jobs and gives them their GPUs; see "
			    "docs/slurm.md)",
			    keys[local_only[i]].name);
		}
	p->line = seen[KEY_NODES];
	if (c->nodes < 1 || c->nodes > 1024)
		return perr(p, "nodes must be from 1 to 1024");
	p->line = seen[KEY_SLURM_POLL];
	if (c->slurm_poll < 1)
		return perr(p, "slurm_poll must be at least 1s");
	p->line = seen[KEY_SLURM_ARGS];
	for (i = 0; i < c->slurm_args.n; i++) {
		a = c->slurm_args.v[i];
		if (strncmp(a, "--", 2) != 0 || a[2] == '\0' ||
		    !utf8_valid(a))
			return perr(p, "slurm_args: \"%s\" is not one "
			    "--option=value word (sbatch's long form)", a);
		/* sbatch takes a long option's unique prefix too. */
		n = strcspn(a, "=");
		for (k = 0; k < sizeof(ours) / sizeof(ours[0]); k++)
			if (n <= strlen(ours[k]) &&
			    strncmp(a, ours[k], n) == 0)
				return perr(p, "slurm_args: %s is set by "
				    "swift-webhook%s", ours[k],
				    strcmp(ours[k], "--time") == 0 ?
				    " from max_runtime" : "");
	}
	p->line = seen[KEY_RUN_DIR];
	if (strpbrk(c->run_dir, "%\\") != NULL)
		return perr(p, "run_dir: Slurm reads %% and \\ in a log "
		    "file's name as patterns; choose a path without them");
	return 0;
}

/* Whether GPU id g is one of list's ("0,1": comma-separated ids). */
static int
gpu_in(const char *g, size_t n, const struct strv *list)
{
	const char *s, *e;
	size_t i;

	for (i = 0; i < list->n; i++)
		for (s = list->v[i]; *s != '\0'; s = *e ? e + 1 : e) {
			e = s + strcspn(s, ",");
			if ((size_t)(e - s) == n && strncmp(s, g, n) == 0)
				return 1;
		}
	return 0;
}

/*
 * Serving (deploy.h): deploy_ports two or more distinct ports, the
 * health path a path, deploy_gpus groups of GPU ids none of which
 * trains (in gpus) or is in two groups, deploy_if_better "METRIC
 * [min|max]", the other deploy_* keys only with deploy, and with
 * backend = slurm GPUs of this machine (deploy_gpus).
 */
static int
deploy_keys(struct parse *p, struct conf *c, const int seen[NKEYS],
    int secrets)
{
	char word[32], dir[8] = "";
	const char *s, *e;
	size_t i, k;
	long port;
	int n, m;

	(void)secrets;
	if (c->deploy.n == 0) {
		for (i = KEY_DEPLOY_PORTS; i <= KEY_DEPLOY_IF_BETTER; i++)
			if (seen[i]) {
				p->line = seen[i];
				return perr(p, "%s is for deploy: set it too",
				    keys[i].name);
			}
		return 0;
	}
	if (check_placeholders(p, "deploy", &c->deploy, PH__COUNT) == -1)
		return -1;
	p->line = seen[KEY_DEPLOY_PORTS];
	if (c->deploy_ports.n < 2 || c->deploy_ports.n > DEPLOY_PORTS_MAX)
		return perr(p, "deploy needs deploy_ports: from 2 to %d ports "
		    "on 127.0.0.1 (a new deployment takes one the live one "
		    "does not hold)", DEPLOY_PORTS_MAX);
	for (i = 0; i < c->deploy_ports.n; i++) {
		if (parse_count(c->deploy_ports.v[i], &port) == -1 ||
		    port < 1 || port > 65535)
			return perr(p, "deploy_ports: \"%s\" is not a port",
			    c->deploy_ports.v[i]);
		for (k = 0; k < i; k++)
			if (c->deploy_port[k] == port)
				return perr(p, "deploy_ports: %ld given twice",
				    port);
		c->deploy_port[i] = (int)port;
	}
	c->ndeploy_ports = (int)c->deploy_ports.n;
	p->line = seen[KEY_DEPLOY_HEALTH];
	if (c->deploy_health[0] != '/' || !utf8_valid(c->deploy_health) ||
	    c->deploy_health[strcspn(c->deploy_health, " \t\r\n#")] != '\0' ||
	    strlen(c->deploy_health) > 200)
		return perr(p, "deploy_health: \"%s\" is not a path (\"/health\")",
		    c->deploy_health);
	p->line = seen[KEY_DEPLOY_TIMEOUT];
	if (c->deploy_timeout < 1)
		return perr(p, "deploy_timeout must be at least 1s");
	p->line = seen[KEY_DEPLOY_MODEL_NAME];
	if (c->deploy_model_name != NULL && (strlen(c->deploy_model_name) >
	    100 || strspn(c->deploy_model_name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789._-/") !=
	    strlen(c->deploy_model_name) || c->deploy_model_name[0] == '-'))
		return perr(p, "deploy_model_name: letters, digits, . _ - / "
		    "(at most 100)");
	p->line = seen[KEY_DEPLOY_GPUS];
	for (i = 0; i < c->deploy_gpus.n; i++)
		for (s = c->deploy_gpus.v[i]; *s != '\0' || s ==
		    c->deploy_gpus.v[i]; s = *e ? e + 1 : e) {
			e = s + strcspn(s, ",");
			if (e == s || strspn(s, "0123456789") != (size_t)(e - s))
				return perr(p, "deploy_gpus: \"%s\" is not a "
				    "group of GPU ids (\"0,1\")",
				    c->deploy_gpus.v[i]);
			if (gpu_in(s, e - s, &c->gpus))
				return perr(p, "deploy_gpus: GPU %.*s also "
				    "trains (gpus): serving keeps its GPUs out "
				    "of the training slots", (int)(e - s), s);
			/* In an earlier group, or earlier in this one. */
			for (k = 0; k < c->deploy_gpus.n; k++) {
				const char *t, *f;

				for (t = c->deploy_gpus.v[k]; *t != '\0';
				    t = *f ? f + 1 : f) {
					f = t + strcspn(t, ",");
					if (t == s)
						goto next;
					if ((size_t)(f - t) == (size_t)(e - s) &&
					    strncmp(t, s, e - s) == 0)
						return perr(p, "deploy_gpus: "
						    "GPU %.*s given twice",
						    (int)(e - s), s);
				}
			}
next:
			;
		}
	p->line = seen[KEY_DEPLOY_IF_BETTER];
	if (c->deploy_if_better != NULL) {
		n = sscanf(c->deploy_if_better, "%31s %7s", word, dir);
		if (n < 1 || one_of(NULL, NULL, word, &m, "eval_loss", "loss",
		    "best_metric", NULL) == -1 || (n == 2 && one_of(NULL,
		    NULL, dir, &c->deploy_max, "min", "max", NULL) == -1) ||
		    strspn(c->deploy_if_better, " \t") != 0 ||
		    (n == 1 && m == 2))
			return perr(p, "deploy_if_better: \"%s\" is not "
			    "eval_loss, loss or best_metric, then min or max "
			    "(best_metric needs it)", c->deploy_if_better);
		s = c->deploy_if_better + strlen(word);
		s += strspn(s, " \t");
		if (*s != '\0' && (s += strlen(dir), s += strspn(s, " \t"),
		    *s != '\0'))
			return perr(p, "deploy_if_better: one metric and min "
			    "or max");
		c->deploy_metric = (enum deploy_metric)(m + 1);
	}
	p->line = seen[KEY_DEPLOY];
	if (c->backend == BACKEND_SLURM && c->deploy_gpus.n == 0)
		return perr(p, "deploy runs on this machine, not on the "
		    "cluster: with backend = slurm set deploy_gpus to GPUs "
		    "of this machine (serving on the cluster is not "
		    "supported)");
	return 0;
}

/*
 * Two sections that deploy share no port: one balancer over both
 * repositories' servers would hand a request for one model to the other.
 */
static int
shared_deploy_port(struct parse *p, const struct conf *c)
{
	const struct conf *a, *b;
	size_t i, k;
	int x, y;

	for (i = 0; i < c->nsections; i++)
		for (k = i + 1; k < c->nsections; k++) {
			a = &c->sections[i];
			b = &c->sections[k];
			if (a->deploy.n == 0 || b->deploy.n == 0)
				continue;
			for (x = 0; x < a->ndeploy_ports; x++)
				for (y = 0; y < b->ndeploy_ports; y++)
					if (a->deploy_port[x] ==
					    b->deploy_port[y]) {
						p->line = 0;
						return perr(p, "sections [%s] "
						    "and [%s] both deploy on "
						    "port %d: give each its "
						    "own deploy_ports",
						    a->name, b->name,
						    a->deploy_port[x]);
					}
		}
	return 0;
}

static const struct {
	int	 key;		/* whose line an error names */
	rule_fn	*check;
} rules[] = {
	{ KEY_RUN_DIR,		need_run_dir },
	{ KEY_COMMAND,		need_command },
	{ KEY_COMMAND,		ph_command },
	{ KEY_LAUNCHER,		ph_launcher },
	{ KEY_ENV,		env_env },
	{ KEY_NOTIFY_ENV,	env_notify },
	{ KEY_NOTIFY,		ph_notify },
	{ KEY_BACKEND,		slurm_keys },
	{ KEY_SLOTS,		gpus_or_slots },
	{ KEY_SLOTS,		slot_count },
	{ KEY_MASTER_PORT,	master_port },
	{ KEY_GPUS_PER_JOB,	per_job },
	{ KEY_MAX_RUNS_PER_PUSH, runs_per_push },
	{ KEY_SECRET,		one_secret },
	{ KEY_REPOSITORY,	repo_url },
	{ KEY_GIT_KNOWN_HOSTS,	git_paths },
	{ KEY_OUTPUT_DIR,	output_dir },
	{ KEY_FETCH_TIMEOUT,	fetch_timeout },
	{ KEY_AFTER_SUCCESS,	ph_after_success },
	{ KEY_API_URL,		github },
	{ KEY_TIMEZONE,		timezone_known },
	{ KEY_RUN_WINDOW,	windows_set },
	{ KEY_GPU_CHECK,	gpu_check },
	{ KEY_DEPLOY,		deploy_keys },
};

/*
 * Keys one per machine: the run directory and what it holds for all
 * (slots, the queue, the GPUs and their check, the counters' page), and
 * what a delivery needs before its repository is known (max_body).
 */
static const int box_keys[] = {
	KEY_RUN_DIR, KEY_GPUS, KEY_SLOTS, KEY_MAX_QUEUED, KEY_MAX_BODY,
	KEY_MASTER_PORT, KEY_GPU_CHECK, KEY_GPU_BUSY_MIB,
	KEY_GPU_CHECK_INTERVAL,
};

/* Of those, the ones of local jobs only (refused with backend = slurm). */
static const int box_local[] = {
	KEY_GPUS, KEY_SLOTS, KEY_MAX_QUEUED, KEY_GPU_CHECK, KEY_GPU_BUSY_MIB,
	KEY_GPU_CHECK_INTERVAL,
};

/*
 * Reads the "key = value" lines of text (len bytes, changed in place)
 * into c; p->line is the line before the first.  A "[...]" line ends it:
 * *stop is then where that line starts (else NULL).  seen[] catches a
 * key given twice.
 */
static int
parse_lines(struct parse *p, struct conf *c, char *text, size_t len,
    int seen[NKEYS], char **secret_file, char **secret, char **stop)
{
	char *line, *next, *end = text + len, *s, *eq, *hash;

	*stop = NULL;
	for (line = text; line < end; line = next) {
		p->line++;
		if ((next = memchr(line, '\n', end - line)) == NULL)
			next = end;
		if (memchr(line, '\0', next - line) != NULL)
			return perr(p, "NUL byte in line");
		s = line;
		while (s < next && isspace((unsigned char)*s))
			s++;
		if (s < next && *s == '[') {
			p->line--;
			*stop = line;
			return 0;
		}
		*next++ = '\0';
		/* '#' starts a comment at the start or after white space. */
		for (hash = line; (hash = strchr(hash, '#')) != NULL; hash++)
			if (hash == line || isspace((unsigned char)hash[-1])) {
				*hash = '\0';
				break;
			}
		s = trim(line);
		if (*s == '\0')
			continue;
		if ((eq = strchr(s, '=')) == NULL)
			return perr(p, "expected \"key = value\"");
		*eq = '\0';
		if (set_key(p, c, trim(s), trim(eq + 1), seen, secret_file,
		    secret) == -1)
			return -1;
	}
	return 0;
}

/* The rules, in order, over c as seen[] says it was given. */
static int
check_rules(struct parse *p, struct conf *c, const int seen[NKEYS],
    int secrets)
{
	size_t k;

	for (k = 0; k < sizeof(rules) / sizeof(rules[0]); k++) {
		p->line = seen[rules[k].key];
		if (rules[k].check(p, c, seen, secrets) == -1)
			return -1;
	}
	return 0;
}

/* c's secret: from secret_file, else secret, else the environment's. */
static int
take_secret(struct parse *p, struct conf *c, const char *secret_file,
    char **secret, int secret_line)
{
	if (secret_file != NULL) {
		p->line = secret_line;
		return read_secret(p, c, secret_file);
	}
	if (*secret != NULL) {
		c->secret = *secret;
		c->secretlen = strlen(*secret);
		*secret = NULL;
		return 0;
	}
	conf_take_env_secret();
	if (env_secret != NULL && *env_secret != '\0') {
		if ((c->secret = strdup(env_secret)) == NULL)
			return perr(p, "out of memory");
		c->secretlen = strlen(env_secret);
	}
	return 0;
}

static void
free_secret(char **s)
{
	if (*s != NULL) {
		OPENSSL_cleanse(*s, strlen(*s));
		free(*s);
		*s = NULL;
	}
}

/* The first section header line at or after s (before end), or NULL. */
static char *
next_header(char *s, char *end)
{
	char *t;

	while (s < end) {
		for (t = s; t < end && *t != '\n' && isspace((unsigned char)*t);
		    t++)
			;
		if (t < end && *t == '[')
			return s;
		if ((s = memchr(s, '\n', end - s)) == NULL)
			return NULL;
		s++;
	}
	return NULL;
}

/*
 * The section whose header is the line at hdr (text up to end): its
 * name, lower case (GitHub's are case-insensitive), into name.  Returns
 * 0, or -1 said.
 */
static int
section_name(struct parse *p, const char *hdr, const char *end,
    char name[SECTION_NAME_MAX])
{
	const char *nl = memchr(hdr, '\n', end - hdr), *s, *e;
	size_t n, i;

	if (nl == NULL)
		nl = end;
	for (s = hdr; isspace((unsigned char)*s); s++)
		;
	for (e = nl; e > s && isspace((unsigned char)e[-1]); e--)
		;
	n = (size_t)(e - s);
	if (memchr(s, '\0', n) != NULL)
		return perr(p, "NUL byte in line");
	if (n < 3 || s[n - 1] != ']' || n - 2 >= SECTION_NAME_MAX)
		return perr(p, "a section is \"[owner/name]\", one per line");
	memcpy(name, s + 1, n - 2);
	name[n - 2] = '\0';
	if (!repo_name_valid(name))
		return perr(p, "section [%s]: not a repository's owner/name",
		    name);
	for (i = 0; name[i] != '\0'; i++)
		name[i] = (char)tolower((unsigned char)name[i]);
	return 0;
}

/*
 * Section s of the file at path, from its defaults, then the file's
 * keys (the global part, gtext of glen bytes), then its own lines (stext,
 * slen, after its header on line hline).  Its secret is its own, else the
 * file's (c's).
 */
static int
load_section(struct parse *p, struct conf *c, struct conf *s,
    const char *name, const char *gtext, size_t glen, const char *stext,
    size_t slen, int hline)
{
	int gseen[NKEYS] = { 0 }, sseen[NKEYS] = { 0 }, seen[NKEYS];
	char *gsecret_file = NULL, *gsecret = NULL, *secret_file = NULL;
	char *secret = NULL, *buf, *stop;
	size_t k;
	int rc = -1;

	if (set_defaults(s) == -1 || (s->path = strdup(c->path)) == NULL ||
	    (s->name = strdup(name)) == NULL ||
	    (buf = malloc(glen + slen + 1)) == NULL)
		return perr(p, "out of memory");
	s->loaded = c->loaded;
	s->file = c;
	memcpy(buf, gtext, glen);
	memcpy(buf + glen, stext, slen);
	p->line = 0;
	if (parse_lines(p, s, buf, glen, gseen, &gsecret_file, &gsecret,
	    &stop) == -1)
		goto out;
	p->line = hline;
	if (parse_lines(p, s, buf + glen, slen, sseen, &secret_file, &secret,
	    &stop) == -1)
		goto out;
	for (k = 0; k < sizeof(box_keys) / sizeof(box_keys[0]); k++)
		if (sseen[box_keys[k]]) {
			p->line = sseen[box_keys[k]];
			perr(p, "%s: one per machine, set before the first "
			    "section, not in [%s]", keys[box_keys[k]].name,
			    name);
			goto out;
		}
	for (k = 0; k < NKEYS; k++)
		seen[k] = sseen[k] ? sseen[k] : gseen[k];
	/*
	 * A section whose jobs go to Slurm leaves the machine's slots, queue
	 * and GPU check to the others: the file's are not its to refuse.
	 */
	for (k = 0; s->backend == BACKEND_SLURM && k < sizeof(box_local) /
	    sizeof(box_local[0]); k++)
		seen[box_local[k]] = 0;
	if (check_rules(p, s, seen, (secret_file != NULL && secret != NULL) ||
	    (secret_file == NULL && secret == NULL && gsecret_file != NULL &&
	    gsecret != NULL)) == -1)
		goto out;
	if (secret_file != NULL || secret != NULL)
		rc = take_secret(p, s, secret_file, &secret,
		    sseen[KEY_SECRET_FILE]);
	else if (c->secret != NULL && (s->secret = malloc(c->secretlen +
	    1)) == NULL)
		rc = perr(p, "out of memory");
	else {
		if (c->secret != NULL) {
			memcpy(s->secret, c->secret, c->secretlen + 1);
			s->secretlen = c->secretlen;
		}
		rc = 0;
	}
out:
	OPENSSL_cleanse(buf, glen + slen);
	free(buf);
	free(gsecret_file);
	free(secret_file);
	free_secret(&gsecret);
	free_secret(&secret);
	return rc;
}

int
conf_load(struct conf *c, const char *path, char *err, size_t errlen)
{
	struct parse p = { NULL, 0, err, errlen };
	char *secret_file = NULL, *secret = NULL, *text = NULL, *copy = NULL;
	char *stop, *hdr, *next, *body, *end, name[SECTION_NAME_MAX];
	int seen[NKEYS] = { 0 }, hline;
	size_t len, glen, blen, i;
	int fd, rc = -1;

	memset(c, 0, sizeof(*c));
	c->loaded = time(NULL);
	if (path == NULL && (path = getenv("SWIFT_WEBHOOK_CONFIG")) == NULL)
		path = CONF_DEFAULT_PATH;
	p.file = path;
	if ((fd = file_open_regular(path)) == -1) {
		perr(&p, "cannot open: %s", file_error(errno));
		return -1;
	}
	text = fd_read_all(fd, CONF_MAX, &len);
	close(fd);
	if (text == NULL) {
		perr(&p, "cannot read: %s", file_error(errno));
		return -1;
	}
	if (set_defaults(c) == -1 || (c->path = strdup(path)) == NULL ||
	    (copy = malloc(len + 1)) == NULL) {
		perr(&p, "out of memory");
		goto out;
	}
	/* The file's own keys: those before the first section. */
	memcpy(copy, text, len);
	if (parse_lines(&p, c, copy, len, seen, &secret_file, &secret,
	    &stop) == -1)
		goto out;
	glen = stop != NULL ? (size_t)(stop - copy) : len;
	hline = p.line;
	if (check_rules(&p, c, seen, secret_file != NULL && secret !=
	    NULL) == -1 || take_secret(&p, c, secret_file, &secret,
	    seen[KEY_SECRET_FILE]) == -1)
		goto out;
	/* Each section: header, then its lines up to the next header. */
	end = text + len;
	for (hdr = stop != NULL ? text + glen : NULL; hdr != NULL; hdr = next) {
		p.line = ++hline;
		if (section_name(&p, hdr, end, name) == -1)
			goto out;
		for (i = 0; i < c->nsections; i++)
			if (strcmp(c->sections[i].name, name) == 0) {
				perr(&p, "section [%s] given twice", name);
				goto out;
			}
		if (c->nsections == MAX_SECTIONS) {
			perr(&p, "more than %d sections", MAX_SECTIONS);
			goto out;
		}
		if (c->sections == NULL && (c->sections = calloc(MAX_SECTIONS,
		    sizeof(*c->sections))) == NULL) {
			perr(&p, "out of memory");
			goto out;
		}
		/* Its lines: up to the next header. */
		body = memchr(hdr, '\n', end - hdr);
		body = body == NULL ? end : body + 1;
		next = next_header(body, end);
		blen = (size_t)((next != NULL ? next : end) - body);
		if (load_section(&p, c, &c->sections[c->nsections++], name,
		    text, glen, body, blen, hline) == -1)
			goto out;
		for (i = 0; i < blen; i++)
			hline += body[i] == '\n';
	}
	if (shared_deploy_port(&p, c) == -1)
		goto out;
	rc = 0;
out:
	OPENSSL_cleanse(text, len);	/* it may hold "secret = ..." */
	free(text);
	if (copy != NULL)
		OPENSSL_cleanse(copy, len);
	free(copy);
	free(secret_file);
	free_secret(&secret);
	if (rc == -1)
		conf_free(c);
	return rc;
}

long
conf_nproc(const struct conf *c)
{
	if (c->nproc_per_node != NPROC_GPUS)
		return c->nproc_per_node;
	return c->gpus_per_job > 1 ? c->gpus_per_job : 0;
}

struct conf *
conf_file(struct conf *c)
{
	return c->file != NULL ? c->file : c;
}

struct conf *
conf_section(struct conf *c, const char *repository)
{
	size_t i;

	c = conf_file(c);
	if (c->nsections == 0)
		return c;
	for (i = 0; repository != NULL && i < c->nsections; i++)
		if (strcasecmp(c->sections[i].name, repository) == 0)
			return &c->sections[i];
	return NULL;
}

struct conf *
conf_job(struct conf *c, const char *repository)
{
	struct conf *s = conf_section(c, repository);

	return s != NULL ? s : conf_file(c);
}

const char *
conf_model_name(const struct conf *c, const char *repository, char out[128])
{
	const char *slash;

	if (c->deploy_model_name != NULL)
		snprintf(out, 128, "%s", c->deploy_model_name);
	else if (repository != NULL && repo_name_valid(repository) &&
	    (slash = strchr(repository, '/')) != NULL)
		snprintf(out, 128, "%s", slash + 1);
	else
		snprintf(out, 128, "model");
	return out;
}

const char *
conf_scope(const struct conf *c)
{
	return c->name;
}

void
conf_rebase(struct conf *c)
{
	size_t i;

	for (i = 0; i < c->nsections; i++)
		c->sections[i].file = c;
}

void
conf_free(struct conf *c)
{
	size_t i;
	void *f;

	for (i = 0; i < c->nsections; i++)
		conf_free(&c->sections[i]);
	free(c->sections);
	free(c->name);
	if (c->secret != NULL)
		OPENSSL_cleanse(c->secret, c->secretlen);
	free(c->secret);
	free(c->path);
	/* What each key holds, as the table says (offset 0: held nowhere). */
	for (i = 0; i < NKEYS; i++) {
		f = (char *)c + keys[i].off;
		if (keys[i].off != 0 && keys[i].kind == K_LIST)
			strv_free(f);
		else if (keys[i].off != 0 && (keys[i].kind == K_STR ||
		    keys[i].kind == K_PATH))
			free(*(char **)f);
	}
	memset(c, 0, sizeof(*c));
}
