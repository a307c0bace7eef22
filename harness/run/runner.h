/* runner: execute experiment matrices against the results store.
 *
 * Every file is validated before anything runs. Cells whose config hash is
 * already `done` are skipped; interrupted ones (a `running` cell whose lease
 * expired, or one given back by Ctrl-C) resume from their checkpoint; a
 * cell that fails (NaN loss, bad data, out of memory) is marked `failed`
 * with the reason and the others go on. Several runner processes on one
 * database share the work through atomic claims with leases. */
#ifndef VB_RUNNER_H
#define VB_RUNNER_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/status.h"

#define RUNNER_BACKEND_AS_WRITTEN (-1)

typedef struct RunnerOptions {
    const char *db;       /* NULL: store_default_path() */
    const char *only;     /* fnmatch pattern on "variant/holdout/seedN" (NULL: all) */
    int shard_i, shard_n; /* take cells with index % n == i (n = 0: all) */
    int backend; /* a KBackend overriding the files' backend, or RUNNER_BACKEND_AS_WRITTEN */
    int threads; /* overrides the files' threads (0: as written) */
    bool dry_run;
    bool quiet;
    const char *checkpoint_dir; /* NULL: <db dir>/checkpoints */
    double lease_s;             /* 0: the store's default */
    /* test hooks, set by tests only (the command line never does) */
    int64_t test_stop_after;      /* each cell stops after N optimiser steps, as on Ctrl-C */
    const char *test_nan_variant; /* plant a NaN in this variant's weights: its cells fail */
} RunnerOptions;

typedef struct RunnerSummary {
    int cells, ran, skipped, failed, interrupted;
} RunnerSummary;

VbStatus runner_run(const char *const *files, int nfiles, const RunnerOptions *o,
                    RunnerSummary *sum);
/* Install the SIGINT/SIGTERM handler that stops the current cell cleanly. */
void runner_install_signals(void);

#endif
