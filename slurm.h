/*
 * slurm.h: the Slurm backend (backend = slurm).  A job's supervisor
 * writes its batch script into the job's folder, submits it with sbatch
 * and follows it with squeue and sacct; cancel is scancel.  Each tool
 * runs without a shell (spawn_tool).  The batch script is the one text a
 * shell reads, and every word in it that comes from the job is quoted.
 *
 * Errors follow util.h.
 */
#ifndef SLURM_H
#define SLURM_H

#include <time.h>

#include "conf.h"
#include "job.h"

#define SLURM_SCRIPT	"job.sbatch"	/* in the job's folder */

/* What Slurm says of a job. */
struct slurm_state {
	const char	*state;		/* the job state it maps to (job.h) */
	char		 name[32];	/* Slurm's: PENDING, RUNNING, ... */
	char		 reason[64];	/* why it is pending, or "" */
	char		 nodes[128];	/* where it runs, or "" */
	int		 exit_code;	/* -1: not known */
	int		 signal;	/* 0: none */
	time_t		 start, end;	/* as Slurm has them, 0: not known */
};

/*
 * The job state a Slurm state name maps to (PENDING: queued, RUNNING:
 * running, COMPLETED: succeeded, ...), or NULL for a name it does not
 * know.  Only the first word counts ("CANCELLED by 0").
 */
const char *slurm_state_map(const char *name);

/*
 * squeue's answer (-h --format=%T|%r|%N|%S: untrusted bytes, changed
 * here) into st.  Returns 1 if it names a state, else 0.
 */
int	 slurm_parse_squeue(char *out, struct slurm_state *st);

/*
 * sacct's answer (-X -n -P --format=State,ExitCode,NodeList,Start,End)
 * into st, whose nodes stay if set.  Returns 1, 0 if it has no record,
 * or -1 (an unknown state: err says).
 */
int	 slurm_parse_sacct(char *out, struct slurm_state *st, char *err,
	    size_t errlen);

/*
 * scontrol's one-line record of a job (scontrol -o show job ID: words
 * "Key=value"; untrusted bytes) into st: JobState, ExitCode, NodeList
 * (st's nodes stay if set), StartTime, EndTime.  Returns 1, 0 if it names
 * no job, or -1 (an unknown state: err says).
 */
int	 slurm_parse_scontrol(const char *out, struct slurm_state *st,
	    char *err, size_t errlen);

/*
 * Writes j's batch script (SLURM_SCRIPT, mode 0640) to run argv: the
 * command itself on one node; with nodes > 1, one srun task per node,
 * each with NNODES, NODE_RANK, MASTER_ADDR, MASTER_PORT and
 * NPROC_PER_NODE set as ms-swift's multi-node launch reads them.
 * Returns 0, or -1 with the reason in err.
 */
int	 slurm_script(const struct conf *c, const struct job *j,
	    char *const argv[], char *err, size_t errlen);

/*
 * The script as slurm_script writes it, in buf; returns its length, or
 * -1 if it does not fit.
 */
int	 slurm_script_text(const struct conf *c, const struct job *j,
	    char *const argv[], char *buf, size_t size);

/*
 * Submits j's batch script with sbatch --parsable (--job-name=swift-ID,
 * --output=its log, --chdir=cwd, --gres=gpu:N, --nodes, --time from
 * max_runtime, then slurm_args), in envp (the trainer's environment,
 * which sbatch hands to the job).  Returns the Slurm job id, or -1 with
 * sbatch's reason in err.
 */
long	 slurm_submit(const struct conf *c, const struct job *j,
	    char *const envp[], const char *cwd, char *err, size_t errlen);

enum slurm_known { SLURM_KNOWN, SLURM_UNKNOWN, SLURM_ERROR };

/*
 * Asks squeue about Slurm job id, and sacct too once it no longer waits
 * or runs (for its exit code, and for a job the controller has
 * forgotten).  SLURM_UNKNOWN: neither knows it; SLURM_ERROR: they could
 * not be asked, or the accounting has no record of its end yet (err
 * says which): ask again later.
 */
enum slurm_known slurm_query(const struct conf *c, long id,
	    struct slurm_state *st, char *err, size_t errlen);

/*
 * The Slurm job of ours (this user's, named swift-<j's id>) that a
 * supervisor submitted and died before recording (sbatch answered, the
 * id was lost): squeue's (-t all), whose command is j's batch script; or,
 * forgotten by the controller, the accounting's since j was created,
 * whose working directory is cwd (what sbatch had as --chdir).  Returns
 * its id (the lowest, if several; *by names who knew it), 0 if there is
 * none, or -1 if squeue could not be asked (err says).
 */
long	 slurm_find(const struct conf *c, const struct job *j,
	    const char *cwd, const char **by, char *err, size_t errlen);

/*
 * Lines "ID|TEXT" (squeue's %i|%o, sacct's JobID,WorkDir: untrusted
 * bytes, changed here): the lowest positive ID whose TEXT is want, or 0.
 */
long	 slurm_parse_found(char *out, const char *want);

/* scancel: the whole job, every node.  Returns 0, or -1 with err. */
int	 slurm_cancel(const struct conf *c, long id, char *err,
	    size_t errlen);

/*
 * For check: whether sbatch is there and the controller answers, and
 * the accounting (sacct) or else scontrol.  Returns 0 (without
 * accounting, note says what follows; else it is ""), or -1 with the
 * reason in err.
 */
int	 slurm_check(const struct conf *c, char *err, size_t errlen,
	    char *note, size_t notelen);

#endif
