/* runner: execute experiment matrices against the results store.
 *
 * Every file is validated before anything runs. Cells whose config hash is
 * already `done` are skipped; interrupted ones (a `running` cell whose lease
 * expired, or one given back by Ctrl-C) resume from their checkpoint; a
 * cell that fails (NaN loss, bad data, out of memory) is marked `failed`
 * with the reason and the others go on. Several runner processes on one
 * database share the work through atomic claims with leases, kept alive by
 * a heartbeat thread for the whole cell (heartbeat.h). Failed cells count in
 * every run's summary; transient failures are retried by the next run and
 * all failures with retry_failed (upkeep.h). The first SIGINT/SIGTERM stops
 * the current cell at its next step (checkpoint kept) or, outside a cell,
 * exits 130 at once; a second one exits 130 at once. */
#ifndef VB_RUNNER_H
#define VB_RUNNER_H

#include <stdbool.h>

#include "kernels/status.h"

typedef struct RunnerOptions {
    const char *db;       /* NULL: store_default_path() */
    const char *only;     /* fnmatch pattern on "variant/holdout/seedN" (NULL: all) */
    int shard_i, shard_n; /* take cells with index % n == i (n = 0: all) */
    const char *backend;  /* overrides the files' backend (NULL: as written) */
    int threads;          /* overrides the files' threads (0: as written) */
    bool dry_run;
    bool quiet;
    const char *checkpoint_dir; /* NULL: <db dir>/checkpoints */
    double lease_s;             /* 0: the store's default */
    bool retry_failed;          /* requeue the selection's failed cells first */
} RunnerOptions;

typedef struct RunnerSummary {
    int cells, ran, skipped, failed, interrupted;
    int failed_total; /* failed cells of the selection at the end, this run's and earlier */
    int requeued;     /* failed cells queued again (--retry-failed, or transient failures) */
    bool stopped;     /* a SIGINT/SIGTERM arrived: exit 130 */
} RunnerSummary;

VbStatus runner_run(const char *const *files, int nfiles, const RunnerOptions *o,
                    RunnerSummary *sum);
/* Install the SIGINT/SIGTERM handler that stops the current cell cleanly. */
void runner_install_signals(void);

#endif
