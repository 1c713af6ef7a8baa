/*
 * results.h: what a run says about itself in ms-swift's logging.jsonl:
 * its progress while it trains, its checkpoints and last losses at the
 * end.
 *
 * ms-swift appends one JSON object per logging step to
 * output_dir/logging.jsonl ("loss", "grad_norm", "learning_rate",
 * "epoch", "global_step/max_steps": "120/1000", "elapsed_time",
 * "remaining_time": "1h 2m 3s", "memory(GiB)" when CUDA tells it, ...),
 * an eval line at each evaluation ("eval_loss", "eval_*", with
 * "global_step/max_steps"), the trainer's summary line at the end
 * ("train_loss", "train_runtime", ...) and then one with
 * "last_model_checkpoint", "best_model_checkpoint" and "best_metric"
 * (both null unless the run evaluates), "global_step" and the whole
 * "log_history".  `megatron sft` writes "iteration": "120/1000" instead
 * of "global_step/max_steps", from its last rank, and no global_step at
 * the end.  With add_version (its default) the file is one folder down,
 * in output_dir/v<N>-<time>/.
 *
 * ms-swift writes each line with Python's json.dumps, which writes a NaN
 * or infinite float as a bare NaN, Infinity or -Infinity (no JSON): those
 * are read as non-finite numbers.  A NaN loss is a loss (shown as NaN),
 * never left out of the curve's other points or the other fields.
 *
 * The file is the trainer's output: read, never trusted.  Only its tail is
 * read, with a bound, never through a symlink, and only values of the
 * expected types and sizes are taken; garbage lines are skipped.
 */
#ifndef RESULTS_H
#define RESULTS_H

#include <cJSON.h>

/* The most of logging.jsonl's end read when a job ends, and per listing. */
#define RESULTS_TAIL	(16 << 20)
#define PROGRESS_TAIL	(64 << 10)

enum {
	R_LAST_CKPT = 1, R_BEST_CKPT = 2, R_BEST_METRIC = 4, R_GLOBAL_STEP = 8,
	R_LOSS = 16, R_EVAL_LOSS = 32
};

struct results {
	unsigned	 have;		/* R_* of the fields found */
	char		*last_model_checkpoint;		/* owned */
	char		*best_model_checkpoint;		/* owned */
	double		 best_metric;
	long long	 global_step;
	double		 loss;		/* the last training loss (NaN too) */
	double		 eval_loss;	/* the last eval_loss (NaN too) */
};

struct progress {
	long long	 step, max_steps;	/* 0 0: none logged */
	long		 remaining;	/* seconds left, -1: unknown */
	double		 loss;		/* the last training loss */
	int		 has_loss;
	double		 eval_loss;	/* the last eval_loss */
	int		 has_eval_loss;
};

/*
 * Reads the results of the run that wrote into output_dir.  Returns 0
 * with r filled (r->have 0 when nothing was logged), or -1 with errno set
 * when the file exists but cannot be read.  Free with results_free.
 */
int	 results_read(const char *output_dir, struct results *r);
void	 results_free(struct results *r);

/*
 * The checkpoint to use: the best one if the run evaluated, else the
 * last; NULL if it saved none.
 */
const char *results_checkpoint(const struct results *r);

/*
 * Adds r's fields to o (job.json: non-finite losses as the strings
 * "NaN", "Infinity", "-Infinity"; "checkpoint" as results_checkpoint
 * says), and takes them back from it.
 */
void	 results_to_json(const struct results *r, cJSON *o);
void	 results_from_json(struct results *r, const cJSON *o);

/*
 * Member name of o as a number, non-finite ones only as the tokens
 * json.dumps writes or the strings results_to_json writes (a literal
 * like 1e999 is garbage).  Returns 1 with *v set, or 0.
 */
int	 results_number(const cJSON *o, const char *name, double *v);

/* Adds number v to o as name, a non-finite one as such a string. */
void	 results_add_number(cJSON *o, const char *name, double v);

/* v for people: "%.4g", or NaN, Infinity, -Infinity (into buf[32]). */
const char *results_format(double v, char buf[32]);

/* The last progress line of a running job.  Returns 0, or -1 (none). */
int	 progress_read(const char *output_dir, struct progress *p);

/* One logged step of the curve: a training loss or an eval loss. */
struct point {
	double		 step;
	double		 loss;		/* NAN on an eval point */
	double		 lr;		/* NAN when not logged */
	double		 eval_loss;	/* NAN on a training point */
};

#define CURVE_MAX	5000	/* the most points a curve keeps */

/*
 * The logged steps with a finite loss or eval loss, oldest first (at most
 * CURVE_MAX, the latest ones), into *pts (to free).  Returns their count,
 * or -1.
 */
int	 results_curve(const char *output_dir, struct point **pts);

/* How far p is, 0 to 100 (no overflow, whatever the trainer wrote). */
int	 progress_percent(const struct progress *p);

/* "120/1000 12% eta 1h02m" into buf, or "" when p has no steps. */
void	 progress_format(const struct progress *p, char *buf, size_t size);

#endif
