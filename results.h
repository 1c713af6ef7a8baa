/*
 * results.h: what a run says about itself in ms-swift's logging.jsonl:
 * its progress while it trains, its checkpoints and last loss at the end.
 *
 * ms-swift appends one JSON object per logging step to
 * output_dir/logging.jsonl ("loss", "learning_rate", "epoch",
 * "global_step/max_steps": "120/1000", "elapsed_time", "remaining_time":
 * "1h 2m 3s", ...) and, when training ends, one with
 * "last_model_checkpoint", "best_model_checkpoint", "best_metric",
 * "global_step" and the whole "log_history".  With add_version (its
 * default) the file is one folder down, in output_dir/v<N>-<time>/.
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
	R_LOSS = 16
};

struct results {
	unsigned	 have;		/* R_* of the fields found */
	char		*last_model_checkpoint;		/* owned */
	char		*best_model_checkpoint;		/* owned */
	double		 best_metric;
	long long	 global_step;
	double		 loss;		/* the last logged one */
};

struct progress {
	long long	 step, max_steps;	/* 0 0: none logged */
	long		 remaining;	/* seconds left, -1: unknown */
	double		 loss;
	int		 has_loss;
};

/*
 * Reads the results of the run that wrote into output_dir.  Returns 0
 * with r filled (r->have 0 when nothing was logged), or -1 with errno set
 * when the file exists but cannot be read.  Free with results_free.
 */
int	 results_read(const char *output_dir, struct results *r);
void	 results_free(struct results *r);

/* Adds r's fields to o (job.json), and takes them back from it. */
void	 results_to_json(const struct results *r, cJSON *o);
void	 results_from_json(struct results *r, const cJSON *o);

/* The last progress line of a running job.  Returns 0, or -1 (none). */
int	 progress_read(const char *output_dir, struct progress *p);

/* One logged step, for the loss curve. */
struct point {
	double		 step;
	double		 loss;
	double		 lr;		/* NAN when not logged */
};

#define CURVE_MAX	5000	/* the most points a curve keeps */

/*
 * The logged steps with a loss, oldest first (at most CURVE_MAX, the
 * latest ones), into *pts (to free).  Returns their count, or -1.
 */
int	 results_curve(const char *output_dir, struct point **pts);

/* How far p is, 0 to 100 (no overflow, whatever the trainer wrote). */
int	 progress_percent(const struct progress *p);

/* "120/1000 12% eta 1h02m" into buf, or "" when p has no steps. */
void	 progress_format(const struct progress *p, char *buf, size_t size);

#endif
