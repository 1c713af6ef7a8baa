/*
 * prune.h: swift-webhook prune: old jobs' folders, old delivery records
 * and claims that name no job, removed on a person's request (nothing is
 * removed automatically but a job's checkout).
 */
#ifndef PRUNE_H
#define PRUNE_H

#include "rundir.h"

/*
 * prune [--older-than AGE] [--state STATE...] [--dry-run]: argv[0] is
 * "prune".  Returns the process exit status.
 */
int	 prune_main(struct rundir *rd, int argc, char *argv[]);

#endif
