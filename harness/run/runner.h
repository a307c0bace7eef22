/* runner: execute experiment matrices against the results store.
 *
 * Every file is validated before anything runs. Cells whose config hash is
 * already `done` are skipped; interrupted ones (a `running` cell whose lease
 * expired, or one given back by Ctrl-C) resume from their checkpoint; a
 * cell that fails (NaN loss, bad data, out of memory) is marked `failed`
 * with the reason and the others go on. Several runner processes on one
 * database share the work through atomic claims with leases, kept alive by
 * a heartbeat thread for the whole cell (heartbeat.h). A process given
 * --only, --shard or --cell registers and reads data for its own cells only
 * (plan.h). Failed cells count in every run's summary; transient failures
 * are retried by the next run and all failures with retry_failed
 * (upkeep.h). The first SIGINT/SIGTERM stops the current cell at its next
 * step (checkpoint kept) or, outside a cell, exits 130 at once; a second
 * signal exits at once. SIGUSR1 stops the current cell the same way and
 * asks to be run again (a Slurm job's warning before its time limit or a
 * preemption): the process then exits RUNNER_EXIT_REQUEUE and the job
 * script requeues it. runner_exit_status orders the outcomes. */
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
    bool retry_failed;          /* requeue the selection's failed cells first */
    const char *const *cells;   /* --cell: run only these config hashes (NULL: any) */
    int ncells;
    const char *mirror; /* --mirror: a consistent copy of the database written here before
                           every checkpoint (NULL: none) */
    /* test hooks, set by tests only (the command line never does) */
    int64_t test_stop_after;      /* each cell stops after N optimiser steps, as on Ctrl-C */
    const char *test_nan_variant; /* plant a NaN in this variant's weights: its cells fail */
    double test_eval_delay_s;     /* each cell's evaluation takes this much longer */
} RunnerOptions;

typedef struct RunnerSummary {
    int cells, ran, skipped, failed, interrupted;
    int failed_total; /* failed cells of the selection at the end, this run's and earlier */
    int requeued;     /* failed cells queued again (--retry-failed, or transient failures) */
    bool stopped;     /* a SIGINT/SIGTERM arrived: exit 130 (SIGUSR1 alone does not set it) */
} RunnerSummary;

VbStatus runner_run(const char *const *files, int nfiles, const RunnerOptions *o,
                    RunnerSummary *sum);
/* Install the SIGINT/SIGTERM/SIGUSR1 handler that stops the current cell
 * cleanly (checkpoint written, the cell given back as queued). */
void runner_install_signals(void);

/* Exit status of a process stopped by SIGUSR1 with work left: its cells
 * resume from their checkpoints when it is run again (EX_TEMPFAIL). */
#define RUNNER_EXIT_REQUEUE 75
/* SIGUSR1 arrived. */
bool runner_requeue_requested(void);
/* RUNNER_EXIT_REQUEUE when SIGUSR1 arrived and a selected cell is not
 * finished (interrupted, or never started), else 0. */
int runner_requeue_exit(const RunnerSummary *sum);
/* The exit status of `vadbench run` after runner_run returned VB_OK, in
 * this order: 130 when SIGINT/SIGTERM arrived, RUNNER_EXIT_REQUEUE when
 * runner_requeue_exit says so, 130 when a cell was stopped otherwise (a
 * test hook), 1 when a selected cell is failed (in this run or an earlier
 * one), else 0. */
int runner_exit_status(const RunnerSummary *sum);

#endif
