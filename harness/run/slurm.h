/* slurm: `vadbench slurm submit FILE…` — an experiment matrix as a Slurm job
 * array, one task and one shard database per pending cell, and a dependent
 * job that merges the shards into the main database and writes the report.
 *
 * For each file: the cells are planned as `vadbench run` would (--only,
 * --backend), cells already done in the main database are left out, a
 * submission directory ROOT/<experiment>/<id>/ is made (slurm_status.h) with
 * a copy of the file, job.sh and merge.sh (slurm_script.h) and the record,
 * then `sbatch --parsable job.sh` and `sbatch --parsable
 * --dependency=afterany:ARRAY merge.sh` submit them. sbatch options come
 * from the command line, else the file's `slurm:` section, else Slurm's
 * defaults. --dry-run prints the scripts and the cells and submits nothing
 * (it needs no Slurm); --wait follows each merge job to its end.
 *
 * Paths in the scripts are absolute; the binary the tasks run is this one
 * (/proc/self/exe), so it, the submission directory, the checkpoints and the
 * main database must be on storage every node sees. SQLite is never shared
 * over the network: each task writes a node-local copy of its own shard. */
#ifndef VB_SLURM_H
#define VB_SLURM_H

#include <stdbool.h>

#include "harness/run/runner.h"
#include "harness/run/slurm_script.h"
#include "harness/run/slurm_status.h"

typedef struct SlurmOptions {
    /* sbatch settings (NULL / 0: the file's `slurm:` value, else Slurm's default) */
    const char *partition, *time, *mem, *account, *qos, *gpus_per_task;
    int cpus_per_task, array_parallelism;
    int grace_s;                    /* 0: the file's, else 120 */
    const char *const *sbatch_args; /* added after the file's slurm.sbatch_args */
    int nsbatch_args;
    /* where */
    const char *db;             /* main database; NULL: store_default_path() */
    const char *dir;            /* submissions root; NULL: results/slurm */
    const char *checkpoint_dir; /* NULL: <submission>/checkpoints */
    const char *report_dir;     /* NULL: reports/<experiment> */
    /* what */
    const char *only;
    int backend; /* a KBackend, or RUNNER_BACKEND_AS_WRITTEN (the file's) */
    int threads;
    bool dry_run, wait, quiet;
    double wait_timeout_s; /* 0: no limit */
    const char *command;   /* the command line, recorded in job.sh */
} SlurmOptions;

/* Submit every file (see above). *exit_code: 0, or with --wait the highest
 * merge-job status (0 only when every cell of every file is done and
 * merged). No sbatch on PATH is VB_ERR_USAGE "sbatch not found: …" before
 * anything is read. */
VbStatus slurm_submit(const char *const *files, int nfiles, const SlurmOptions *o, int *exit_code);

#endif
