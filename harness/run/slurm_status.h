/* slurm_status: what a Slurm submission is and where it stands.
 *
 * A submission is a directory, ROOT/<experiment>/<id>/ (ROOT defaults to
 * results/slurm), holding the copied experiment file, job.sh, merge.sh,
 * logs/, shards/, checkpoints/ (unless placed elsewhere) and
 * submission.json — the record written here: experiment, id, paths, the
 * array and merge job ids and the cells (hash and label per array task).
 * Job ids are never used alone to find a submission (they restart at 1
 * whenever a cluster is rebuilt); the directory is the key.
 *
 * `vadbench slurm status` joins three sources per cell: squeue (pending,
 * running, requeued — a pending task with a restart count), the task's
 * shard database (done or failed, attempts, node, error) and the merge
 * job's status file. `vadbench slurm cancel` scancels the array and merge
 * jobs. `--wait` follows the merge job until it has ended. */
#ifndef VB_SLURM_STATUS_H
#define VB_SLURM_STATUS_H

#include <stdbool.h>
#include <stdio.h>

#include "kernels/status.h"

typedef struct SlurmRecord {
    char *experiment, *submission, *created, *command;
    char *subdir, *source_file, *file, *db;
    char *shard_dir, *checkpoint_dir, *log_dir, *report_dir, *status_file;
    char *array_job, *merge_job; /* NULL until submitted */
    int ncells;
    char **hashes, **labels;
} SlurmRecord;

/* subdir/submission.json */
VbStatus slurm_record_write(const SlurmRecord *r);
VbStatus slurm_record_read(const char *subdir, SlurmRecord *r);
void slurm_record_free(SlurmRecord *r);

/* The submission directory `spec` names under `root` (NULL: results/slurm):
 * a directory holding submission.json, "<experiment>/<id>", an <id>, or an
 * experiment name (its newest submission); NULL spec: the newest submission
 * of all. Malloc'ed; VB_ERR_INPUT listing what exists when none matches. */
VbStatus slurm_find_submission(const char *root, const char *spec, char **subdir);

/* Print the per-cell table of the submission at `subdir` to `out`. */
VbStatus slurm_print_status(const char *subdir, FILE *out);

/* scancel the submission's array and merge jobs; prints what it did. */
VbStatus slurm_cancel(const char *subdir, FILE *out);

/* Block until the merge job has ended (its status file appears, or it left
 * the queue without one); *exit_code is its status (1 when it ended without
 * writing one). Polls every poll_s seconds; gives up with VB_ERR_IO after
 * timeout_s (0: never) or when squeue keeps failing for a minute (the
 * controller is gone). */
VbStatus slurm_wait(const SlurmRecord *r, double poll_s, double timeout_s, int *exit_code);

#endif
