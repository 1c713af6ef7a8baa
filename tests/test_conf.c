/* test_conf.c: the configuration file. */
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "conf.h"
#include "t.h"

static char dir[] = "/tmp/swh-conf-XXXXXX";

static void
put(const char *name, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

/* Loads text; returns 0 or -1 with the error in err. */
static int
load(struct conf *c, const char *text, char *err, size_t errlen)
{
	char path[512];

	put("conf", text);
	snprintf(path, sizeof(path), "%s/conf", dir);
	return conf_load(c, path, err, errlen);
}

static const struct {
	const char *name, *text, *err;	/* err NULL: loads */
} rows[] = {
	{ "minimal", "run_dir = /srv/runs\n", NULL },
	{ "comments and blanks",
	  "# a comment\n\n   run_dir = /srv/runs   # trailing\n", NULL },
	{ "no run_dir", "branches = main\n", "run_dir is required" },
	{ "unknown key", "run_dir = /r\nbranch = main\n",
	  ":2: unknown key \"branch\"" },
	{ "no equals sign", "run_dir /r\n", ":1: expected" },
	{ "relative run_dir", "run_dir = runs\n", "not an absolute path" },
	{ "empty run_dir", "run_dir =\n", "empty value" },
	{ "key twice", "run_dir = /a\nrun_dir = /b\n", ":2: run_dir given twice" },
	{ "bad max_body", "run_dir = /r\nmax_body = lots\n", "not a size" },
	{ "zero max_body", "run_dir = /r\nmax_body = 0\n", "not a size" },
	{ "max_body suffix", "run_dir = /r\nmax_body = 25M\n", NULL },
	{ "max_body 4G", "run_dir = /r\nmax_body = 4G\n", NULL },
	{ "max_body that overflows a shift",
	  "run_dir = /r\nmax_body = 17179869185G\n", "not a size" },
	{ "max_body over 4G", "run_dir = /r\nmax_body = 4097M\n", "not a size" },
	{ "max_runs_per_push", "run_dir = /r\nmax_runs_per_push = 2\n", NULL },
	{ "zero max_runs_per_push", "run_dir = /r\nmax_runs_per_push = 0\n",
	  ":2: max_runs_per_push must be at least 1" },
	{ "unknown placeholder", "run_dir = /r\ncommand = swift sft {cfg}\n",
	  ":2: command: unknown placeholder" },
	{ "empty command", "run_dir = /r\ncommand =\n", "command is empty" },
	{ "bad env", "run_dir = /r\nenv = 1X=2\n", "not NAME=VALUE" },
	{ "env ok", "run_dir = /r\nenv = HF_HOME=/data/hf X={sha}\n", NULL },
	{ "both secrets",
	  "run_dir = /r\nsecret = a\nsecret_file = /nonexistent\n",
	  "not both" },
	{ "missing secret file", "run_dir = /r\nsecret_file = /nonexistent\n",
	  "secret_file: /nonexistent" },
	{ "lifecycle keys",
	  "run_dir = /r\ngpus = 0 1 2 3\ngpus_per_job = 2\nmax_queued = 0\n"
	  "concurrency = cancel-in-progress\nmax_runtime = 12h\n"
	  "kill_grace = 10s\nnotify = /bin/true {job}\nnotify_env = A=b\n"
	  "notify_timeout = 1m\n", NULL },
	{ "bad concurrency", "run_dir = /r\nconcurrency = parallel\n",
	  ":2: concurrency: \"parallel\" is not queue" },
	{ "gpus and slots", "run_dir = /r\ngpus = 0\nslots = 2\n",
	  "gpus or slots, not both" },
	{ "gpus_per_job too big", "run_dir = /r\ngpus = 0 1\ngpus_per_job = 3\n",
	  ":3: gpus_per_job must be from 1 to the number of gpus (2)" },
	{ "zero slots", "run_dir = /r\nslots = 0\n", ":2: slots: from 1 to 64 slots" },
	{ "too many slots", "run_dir = /r\nslots = 65\n", "from 1 to 64" },
	{ "master_port", "run_dir = /r\ngpus = 0 1\nmaster_port = 30000\n", NULL },
	{ "master_port too low", "run_dir = /r\nmaster_port = 80\n",
	  ":2: master_port must be from 1024 to 65535 (one port per slot)" },
	{ "master_port past the last port", "run_dir = /r\ngpus = 0 1\n"
	  "master_port = 65535\n", ":3: master_port must be from 1024 to 65534" },
	{ "bad duration", "run_dir = /r\nmax_runtime = 12 hours\n",
	  "not a duration" },
	{ "bad count", "run_dir = /r\nmax_queued = -1\n", "not a whole number" },
	{ "bad notify placeholder", "run_dir = /r\nnotify = x {state}\n",
	  "notify: unknown placeholder" },
	{ "checkout keys",
	  "run_dir = /r\nrepository = git@github.com:acme/train.git\n"
	  "fetch_timeout = 5m\nsubmodules = yes\nkeep_src = no\n"
	  "git_ssh_key = /etc/swift-webhook/deploy_key\n"
	  "git_known_hosts = /etc/swift-webhook/known_hosts\n"
	  "command = swift sft {config} --output_dir {output_dir} --x {src} "
	  "--y {commit}\noutput_dir = /data/runs/{job}\n", NULL },
	{ "workdir and repository",
	  "run_dir = /r\nworkdir = /w\nrepository = /srv/git/t.git\n",
	  ":2: give workdir or repository, not both" },
	{ "a token in the repository URL",
	  "run_dir = /r\nrepository = https://x:ghp_abc@github.com/a/b.git\n",
	  ":2: repository: a password or token in the URL" },
	{ "a user in the repository URL",
	  "run_dir = /r\nrepository = ssh://git@github.com:22/a/b.git\n", NULL },
	{ "a repository that passes for an option",
	  "run_dir = /r\nrepository = --upload-pack=touch /tmp/x\n",
	  "is not a URL or path git can fetch" },
	{ "a key path a shell would read",
	  "run_dir = /r\nrepository = /g\ngit_ssh_key = /k;rm -rf /\n"
	  "git_known_hosts = /h\n", ":3: git_ssh_key: \"/k;rm -rf /\"" },
	{ "a key without known_hosts",
	  "run_dir = /r\nrepository = /g\ngit_ssh_key = /k\n",
	  "git_ssh_key needs git_known_hosts" },
	{ "checkout keys without a repository",
	  "run_dir = /r\nkeep_src = yes\n", "keep_src is for the checkout" },
	{ "bad yes/no", "run_dir = /r\nrepository = /g\nsubmodules = maybe\n",
	  ":3: submodules: \"maybe\" is not yes or no" },
	{ "output_dir inside the removed checkout",
	  "run_dir = /r\nrepository = /g\noutput_dir = {src}/output\n",
	  ":3: output_dir: {src} is removed when the job ends" },
	{ "output_dir inside a kept checkout",
	  "run_dir = /r\nrepository = /g\nkeep_src = yes\n"
	  "output_dir = {src}/output\n", NULL },
	{ "relative output_dir", "run_dir = /r\noutput_dir = out\n",
	  "output_dir: \"out\" is not an absolute path" },
	{ "zero fetch_timeout", "run_dir = /r\nfetch_timeout = 0\n",
	  "fetch_timeout must be at least 1s" },
	/* Issue 11: statuses, windows, budgets, GPU check, after_success. */
	{ "commit statuses", "run_dir = /r\ngithub_token_file = /etc/gh\n"
	  "api_url = https://ghe.example.com/api/v3\n"
	  "public_url = https://ci.example.com/hooks/swift-webhook/\n"
	  "github_timeout = 5s\n", NULL },
	{ "relative github_token_file", "run_dir = /r\ngithub_token_file = gh\n",
	  "not an absolute path" },
	{ "api_url not http", "run_dir = /r\napi_url = file:///etc/passwd\n",
	  ":2: api_url: \"file:///etc/passwd\" is not an http(s) URL" },
	{ "api_url with a quote", "run_dir = /r\napi_url = https://a\"b\n",
	  "is not an http(s) URL" },
	{ "public_url javascript:", "run_dir = /r\npublic_url = javascript:x\n",
	  ":2: public_url: \"javascript:x\" is not an http(s) URL" },
	{ "zero github_timeout", "run_dir = /r\ngithub_timeout = 0\n",
	  ":2: github_timeout must be at least 1s" },
	{ "a window", "run_dir = /r\nrun_window = Mon-Fri 09:00-19:00, "
	  "Sat 10:00-14:00\ntimezone = Asia/Shanghai\nwindow_action = skip\n"
	  "window_stop = yes\n", NULL },
	{ "a bad window", "run_dir = /r\nrun_window = Mon-Fri 9-19\n",
	  ":2: run_window: \"Mon-Fri 9-19\" is not a window" },
	{ "an unknown zone", "run_dir = /r\nrun_window = 09:00-10:00\n"
	  "timezone = Nowhere/Else\n", ":3: timezone: \"Nowhere/Else\" is not a "
	  "zone" },
	{ "timezone alone", "run_dir = /r\ntimezone = UTC\n",
	  ":2: timezone is for run_window and max_runs_per_day" },
	{ "timezone for the day's runs", "run_dir = /r\ntimezone = UTC\n"
	  "max_runs_per_day = 5\n", NULL },
	{ "window_action alone", "run_dir = /r\nwindow_action = skip\n",
	  "window_action is for run_window" },
	{ "window_action unknown", "run_dir = /r\nwindow_action = wait\n",
	  ":2: window_action: \"wait\" is not queue or skip" },
	{ "gpu_check", "run_dir = /r\ngpus = 0 1\ngpu_check = yes\n"
	  "gpu_busy_mib = 2048\ngpu_check_interval = 1m\n", NULL },
	{ "gpu_check without gpus", "run_dir = /r\ngpu_check = yes\n",
	  ":2: gpu_check needs gpus" },
	{ "zero gpu_check_interval", "run_dir = /r\ngpus = 0\ngpu_check = yes\n"
	  "gpu_check_interval = 0\n", "gpu_check_interval must be at least 1s" },
	{ "after_success", "run_dir = /r\nafter_success = swift export "
	  "--adapters {best_checkpoint} --merge_lora true --output_dir "
	  "{job_dir}/merged {last_checkpoint}\n", NULL },
	{ "a checkpoint in command", "run_dir = /r\ncommand = swift sft "
	  "{config} --resume_from_checkpoint {last_checkpoint}\n",
	  ":2: command: unknown placeholder" },
	{ "a checkpoint in notify", "run_dir = /r\nnotify = n {best_checkpoint}\n",
	  ":2: notify: unknown placeholder" },
	{ "a checkpoint in env", "run_dir = /r\nenv = X={best_checkpoint}\n",
	  ":2: env: unknown placeholder" },
	/* Sections: [owner/name], each the file's keys and its own. */
	{ "sections", "run_dir = /r\n[acme/a]\ncommand = a {config}\n"
	  "\n[acme/b]\nbranches = main dev\n", NULL },
	{ "a section sets run_dir", "run_dir = /r\n[acme/a]\n\n"
	  "run_dir = /s\n", ":4: run_dir: one per machine" },
	{ "a section sets gpus", "run_dir = /r\n[acme/a]\ngpus = 0 1\n",
	  ":3: gpus: one per machine, set before the first section, not in "
	  "[acme/a]" },
	{ "a section sets slots", "run_dir = /r\n[acme/a]\nslots = 2\n",
	  ":3: slots: one per machine" },
	{ "a section sets max_queued",
	  "run_dir = /r\n[acme/a]\nmax_queued = 2\n", ":3: max_queued" },
	{ "a section given twice, in another case",
	  "run_dir = /r\n[acme/a]\n[Acme/A]\n", ":3: section [acme/a] given "
	  "twice" },
	{ "a section that is no owner/name", "run_dir = /r\n[acme]\n",
	  ":2: section [acme]: not a repository's owner/name" },
	{ "an unclosed section", "run_dir = /r\n[acme/a\n",
	  ":2: a section is" },
	{ "a section header that is no name", "run_dir = /r\n[acme/a b]\n",
	  ":2: section [acme/a b]: not a repository's owner/name" },
	{ "a key twice in a section", "run_dir = /r\n[acme/a]\nbranches = a\n"
	  "branches = b\n", ":4: branches given twice" },
	{ "a section's bad value, its line",
	  "run_dir = /r\n[acme/a]\n[acme/b]\n# x\nkill_grace = soon\n",
	  ":5: kill_grace: \"soon\" is not a duration" },
	{ "a Slurm section on a machine with GPUs of its own",
	  "run_dir = /r\ngpus = 0 1\ngpu_check = yes\n[acme/a]\n"
	  "backend = slurm\nnodes = 2\n[acme/b]\n", NULL },
	{ "a Slurm section still refuses its own after_success",
	  "run_dir = /r\n[acme/a]\nbackend = slurm\nafter_success = x\n",
	  ":4: after_success: not with backend = slurm" },
	{ "a section's rule, its line", "run_dir = /r\ngpus = 0 1\n[acme/a]\n"
	  "gpus_per_job = 3\n", ":4: gpus_per_job" },
	/* Issue 24: serving the model. */
	{ "deploy, whole", "run_dir = /r\ndeploy = swift deploy --adapters "
	  "{checkpoint} --port {port} --served_model_name {model_name}\n"
	  "deploy_ports = 8001 8002\ndeploy_health = /v1/models\n"
	  "deploy_timeout = 20m\ndeploy_branches = main release/*\n"
	  "gpus = 0 1\ndeploy_gpus = 2,3 4,5\ndeploy_model_name = qwen-sft\n"
	  "deploy_if_better = best_metric max\n", NULL },
	{ "deploy without ports", "run_dir = /r\ndeploy = x\n",
	  "deploy needs deploy_ports" },
	{ "deploy with one port", "run_dir = /r\ndeploy = x\n"
	  "deploy_ports = 8001\n", "from 2 to 16 ports" },
	{ "a deploy port twice", "run_dir = /r\ndeploy = x\n"
	  "deploy_ports = 8001 8001\n", ":3: deploy_ports: 8001 given twice" },
	{ "a deploy port that is none", "run_dir = /r\ndeploy = x\n"
	  "deploy_ports = 8001 70000\n", "\"70000\" is not a port" },
	{ "{port} outside deploy", "run_dir = /r\nafter_success = x {port}\n",
	  "after_success: unknown placeholder" },
	{ "an unknown placeholder in deploy", "run_dir = /r\ndeploy = x {gpu}\n"
	  "deploy_ports = 1 2\n", "deploy: unknown placeholder in \"{gpu}\"" },
	{ "deploy keys without deploy", "run_dir = /r\ndeploy_ports = 1 2\n",
	  ":2: deploy_ports is for deploy: set it too" },
	{ "a serving GPU that trains", "run_dir = /r\ngpus = 0 1\ndeploy = x\n"
	  "deploy_ports = 1 2\ndeploy_gpus = 2 1\n", "GPU 1 also trains" },
	{ "a serving GPU twice", "run_dir = /r\ndeploy = x\n"
	  "deploy_ports = 1 2\ndeploy_gpus = 2,3 3\n", "GPU 3 given twice" },
	{ "a GPU group that is none", "run_dir = /r\ndeploy = x\n"
	  "deploy_ports = 1 2\ndeploy_gpus = a\n", "is not a group of GPU ids" },
	{ "a health path that is no path", "run_dir = /r\ndeploy = x\n"
	  "deploy_ports = 1 2\ndeploy_health = health\n", "is not a path" },
	{ "deploy_if_better best_metric without a direction",
	  "run_dir = /r\ndeploy = x\ndeploy_ports = 1 2\n"
	  "deploy_if_better = best_metric\n", "best_metric needs it" },
	{ "deploy_if_better of an unknown metric",
	  "run_dir = /r\ndeploy = x\ndeploy_ports = 1 2\n"
	  "deploy_if_better = accuracy max\n", "is not eval_loss, loss" },
	{ "deploy_if_better with a third word",
	  "run_dir = /r\ndeploy = x\ndeploy_ports = 1 2\n"
	  "deploy_if_better = loss min now\n", "one metric and min or max" },
	{ "a model name that could be an option", "run_dir = /r\ndeploy = x\n"
	  "deploy_ports = 1 2\ndeploy_model_name = --x\n", "deploy_model_name" },
	{ "deploy on Slurm without local GPUs", "run_dir = /r\nbackend = slurm\n"
	  "deploy = x\ndeploy_ports = 1 2\n", "set deploy_gpus to GPUs of this machine" },
	{ "two sections deploying on one port", "run_dir = /r\n"
	  "deploy = x\ndeploy_ports = 1 2\n[acme/a]\n[acme/b]\n",
	  "sections [acme/a] and [acme/b] both deploy on port 1" },
	{ "two sections, ports of their own", "run_dir = /r\n"
	  "[acme/a]\ndeploy = x\ndeploy_ports = 1 2\n[acme/b]\n"
	  "deploy = x\ndeploy_ports = 3 4\n", NULL },
	{ "deploy on Slurm with local GPUs", "run_dir = /r\nbackend = slurm\n"
	  "deploy = x\ndeploy_ports = 1 2\ndeploy_gpus = 0\n", NULL },
};

int
main(void)
{
	struct conf c;
	char err[512], text[1024], *envp;
	size_t i;
	int r;

	PLAN(127);
	if (mkdtemp(dir) == NULL) {
		CHECK(0, "setup: mkdtemp", "%s", strerror(errno));
		return t_exit();
	}
	unsetenv("GITHUB_WEBHOOK_SECRET");
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		err[0] = '\0';
		r = load(&c, rows[i].text, err, sizeof(err));
		if (rows[i].err == NULL)
			CHECK(r == 0, rows[i].name, "%s", err);
		else
			CHECK(r == -1 && strstr(err, rows[i].err) != NULL,
			    rows[i].name, "got %d \"%s\", want \"%s\"", r, err,
			    rows[i].err);
		if (r == 0)
			conf_free(&c);
	}

	r = load(&c, "run_dir = /r\n", err, sizeof(err));
	CHECK(r == 0 && c.max_body == 26214400 && c.branches.n == 1 &&
	    strcmp(c.branches.v[0], "main") == 0 && c.paths.n == 4 &&
	    c.configs.n == 2 && strcmp(c.default_config,
	    "configs/sft.yaml") == 0 && c.command.n == 7 &&
	    strcmp(c.command.v[0], "swift") == 0 &&
	    strcmp(c.command.v[2], "{config}") == 0 && c.secret == NULL &&
	    c.workdir == NULL && c.slots == 1 && c.gpus_per_job == 1 &&
	    c.max_queued == 100 && c.max_runs_per_push == 8 &&
	    c.concurrency == CONC_QUEUE &&
	    c.max_runtime == 0 && c.kill_grace == 30 && c.notify.n == 0 &&
	    c.repository == NULL && c.fetch_timeout == 600 && !c.keep_src &&
	    strcmp(c.output_dir, "{job_dir}/output") == 0 &&
	    strcmp(c.command.v[4], "{output_dir}") == 0 &&
	    c.github_token_file == NULL &&
	    strcmp(c.api_url, "https://api.github.com") == 0 &&
	    c.public_url == NULL && c.github_timeout == 10 &&
	    c.nwindows == 0 && c.timezone == NULL && !c.window_skip &&
	    !c.window_stop && c.max_runs_per_day == 0 && !c.gpu_check &&
	    c.gpu_busy_mib == 1024 && c.gpu_check_interval == 30 &&
	    c.after_success.n == 0,
	    "defaults", "r=%d", r);
	if (r == 0)
		conf_free(&c);

	r = load(&c, "run_dir = /r\ndeploy = x {port} {model_name}\n"
	    "deploy_ports = 8002 8001\ndeploy_if_better = eval_loss\n", err,
	    sizeof(err));
	CHECK(r == 0 && c.ndeploy_ports == 2 && c.deploy_port[0] == 8002 &&
	    c.deploy_port[1] == 8001 && strcmp(c.deploy_health, "/health") ==
	    0 && c.deploy_timeout == 900 && c.deploy_branches.n == 1 &&
	    strcmp(c.deploy_branches.v[0], "main") == 0 &&
	    c.deploy_metric == METRIC_EVAL_LOSS && !c.deploy_max &&
	    strcmp(conf_model_name(&c, "acme/train", text), "train") == 0 &&
	    strcmp(conf_model_name(&c, NULL, text), "model") == 0,
	    "deploy's defaults", "r=%d %s", r, err);
	if (r == 0)
		conf_free(&c);

	r = load(&c, "run_dir = /r\ngpus = 0 1 2 3\ngpus_per_job = 2\n"
	    "max_runtime = 12h\nkill_grace = 45\nconcurrency = supersede\n",
	    err, sizeof(err));
	CHECK(r == 0 && c.slots == 4 && c.gpus_per_job == 2 &&
	    c.max_runtime == 43200 && c.kill_grace == 45 &&
	    c.concurrency == CONC_SUPERSEDE && c.max_queued == 100,
	    "lifecycle values", "r=%d %s", r, err);
	if (r == 0)
		conf_free(&c);

	r = load(&c, "run_dir = /r\nmax_body = 2K\nbranches = a b/*\n",
	    err, sizeof(err));
	CHECK(r == 0 && c.max_body == 2048 && c.branches.n == 2 &&
	    strcmp(c.branches.v[1], "b/*") == 0 && c.branches.v[2] == NULL,
	    "lists and sizes", "r=%d", r);
	if (r == 0)
		conf_free(&c);

	/* Sections: the file's keys are each one's defaults. */
	put("secret", "file-secret\n");
	put("secret-b", "b-secret\n");
	snprintf(text, sizeof(text), "run_dir = /r\nsecret_file = %s/secret\n"
	    "gpus = 0 1 2 3\nkill_grace = 7\nbranches = main\n"
	    "[acme/llm-sft]\ncommand = llm {config}\n"
	    "[Acme/VLM]\nsecret_file = %s/secret-b\nbranches = main "
	    "release/*\ngpus_per_job = 2\nmax_runs_per_day = 4\n", dir, dir);
	r = load(&c, text, err, sizeof(err));
	CHECK(r == 0 && c.nsections == 2 && c.name == NULL &&
	    strcmp(c.sections[0].name, "acme/llm-sft") == 0 &&
	    strcmp(c.sections[1].name, "acme/vlm") == 0, "sections: named, "
	    "lower case", "r=%d %s", r, err);
	if (r == 0) {
		struct conf *a = &c.sections[0], *b = &c.sections[1];

		CHECK(strcmp(a->command.v[0], "llm") == 0 &&
		    strcmp(c.command.v[0], "swift") == 0 &&
		    strcmp(b->command.v[0], "swift") == 0, "a section's "
		    "command is its own", "%s", a->command.v[0]);
		CHECK(a->kill_grace == 7 && b->kill_grace == 7 &&
		    a->slots == 4 && b->slots == 4 && strcmp(a->run_dir,
		    "/r") == 0, "the file's keys are every section's",
		    "%ld %ld", a->kill_grace, b->slots);
		CHECK(b->branches.n == 2 && a->branches.n == 1 &&
		    b->gpus_per_job == 2 && a->gpus_per_job == 1 &&
		    b->max_runs_per_day == 4 && a->max_runs_per_day == 0,
		    "a section overrides", "%zu", b->branches.n);
		CHECK(a->secret != NULL && strcmp(a->secret, "file-secret") ==
		    0 && b->secret != NULL && strcmp(b->secret, "b-secret") == 0,
		    "secrets: the file's, or the section's own", "%s", b->secret
		    ? b->secret : "(none)");
		CHECK(conf_section(&c, "ACME/vlm") == b && conf_section(b,
		    "acme/llm-sft") == a && conf_section(&c, "acme/other") ==
		    NULL && conf_section(&c, NULL) == NULL && conf_job(a,
		    "acme/other") == &c && conf_file(b) == &c,
		    "conf_section: case-insensitive, from any section", "%s", "");
		CHECK(conf_scope(a) != NULL && strcmp(conf_scope(a),
		    "acme/llm-sft") == 0 && conf_scope(&c) == NULL,
		    "scopes: a section's name", "%s", "");
		conf_wipe_secret(a);
		CHECK(c.secret[0] == '\0' && b->secret[0] == '\0',
		    "wiping a section's secret wipes them all", "%s", "");
		conf_free(&c);
	}
	r = load(&c, "run_dir = /r\ncommand = x {config}\n", err, sizeof(err));
	CHECK(r == 0 && c.nsections == 0 && conf_section(&c, "any/thing") ==
	    &c && conf_section(&c, NULL) == &c, "without sections: one "
	    "configuration, of any repository", "r=%d", r);
	if (r == 0)
		conf_free(&c);

	/* Secrets: file (trailing newline dropped), inline, environment. */
	put("secret", "s3cr#t value\r\n");
	snprintf(text, sizeof(text), "run_dir = /r\nsecret_file = %s/secret\n",
	    dir);
	r = load(&c, text, err, sizeof(err));
	CHECK(r == 0 && c.secret != NULL && c.secretlen == 12 &&
	    strcmp(c.secret, "s3cr#t value") == 0, "secret_file",
	    "r=%d %s", r, err);
	if (r == 0)
		conf_free(&c);
	put("secret", "\n");
	r = load(&c, text, err, sizeof(err));
	CHECK(r == -1 && strstr(err, "is empty"), "empty secret_file",
	    "r=%d %s", r, err);

	/* The error names the line of secret_file, not line 0. */
	snprintf(text, sizeof(text), "run_dir = /r\n# the secret\n"
	    "secret_file = %s/nonexistent\n", dir);
	r = load(&c, text, err, sizeof(err));
	CHECK(r == -1 && strstr(err, "conf:3: secret_file:"),
	    "secret_file errors name its line", "%s", err);

	/* A FIFO or a device would hang or never end: regular files only. */
	snprintf(text, sizeof(text), "%s/fifo", dir);
	mkfifo(text, 0600);
	snprintf(text, sizeof(text), "run_dir = /r\nsecret_file = %s/fifo\n",
	    dir);
	r = load(&c, text, err, sizeof(err));
	CHECK(r == -1 && strstr(err, "not a regular file"),
	    "FIFO as secret_file refused", "%s", err);
	snprintf(text, sizeof(text), "%s/fifo", dir);
	r = conf_load(&c, text, err, sizeof(err));
	CHECK(r == -1 && strstr(err, "not a regular file"),
	    "FIFO as config refused", "%s", err);
	r = conf_load(&c, "/dev/zero", err, sizeof(err));
	CHECK(r == -1 && strstr(err, "not a regular file"),
	    "/dev/zero as config refused", "%s", err);
	snprintf(text, sizeof(text), "%s/huge", dir);
	put("huge", "");
	if (truncate(text, 2 << 20) == 0) {
		r = conf_load(&c, text, err, sizeof(err));
		CHECK(r == -1 && strstr(err, "too large"),
		    "a config over 1 MiB is refused unread", "%s", err);
	}

	r = load(&c, "run_dir = /r\nsecret = a#b\n", err, sizeof(err));
	CHECK(r == 0 && strcmp(c.secret, "a#b") == 0, "secret with #",
	    "r=%d", r);
	if (r == 0)
		conf_free(&c);

	setenv("GITHUB_WEBHOOK_SECRET", "from-env", 1);
	envp = getenv("GITHUB_WEBHOOK_SECRET");
	r = load(&c, "run_dir = /r\n", err, sizeof(err));
	CHECK(r == 0 && c.secret && strcmp(c.secret, "from-env") == 0,
	    "GITHUB_WEBHOOK_SECRET", "r=%d", r);
	CHECK(getenv("GITHUB_WEBHOOK_SECRET") == NULL &&
	    memcmp(envp, "\0\0\0\0\0\0\0\0", 8) == 0,
	    "GITHUB_WEBHOOK_SECRET is taken out of the environment and wiped",
	    "getenv %s", getenv("GITHUB_WEBHOOK_SECRET"));
	if (r == 0)
		conf_free(&c);
	r = load(&c, "run_dir = /r\nsecret = file-wins\n", err, sizeof(err));
	CHECK(r == 0 && c.secret && strcmp(c.secret, "file-wins") == 0,
	    "config secret before environment", "r=%d", r);
	if (r == 0)
		conf_free(&c);
	unsetenv("GITHUB_WEBHOOK_SECRET");

	r = conf_load(&c, "/nonexistent/conf", err, sizeof(err));
	CHECK(r == -1 && strstr(err, "/nonexistent/conf:0: cannot open"),
	    "missing file", "%s", err);

	snprintf(text, sizeof(text), "%s/conf", dir);
	put("conf", "run_dir = /from-env\n");
	setenv("SWIFT_WEBHOOK_CONFIG", text, 1);
	r = conf_load(&c, NULL, err, sizeof(err));
	CHECK(r == 0 && strcmp(c.run_dir, "/from-env") == 0,
	    "SWIFT_WEBHOOK_CONFIG", "r=%d %s", r, err);
	if (r == 0)
		conf_free(&c);

	snprintf(text, sizeof(text), "rm -rf %s", dir);
	if (system(text) != 0)
		return 1;
	return t_exit();
}
