/* slurm_script: the text of a submission's two batch scripts — job.sh, the
 * job array with one task per pending cell, and merge.sh, the job that
 * merges the tasks' shard databases into the main one and writes the report
 * once every task has ended (sbatch --dependency=afterany).
 *
 * The scripts are meant to be read: a header says what they do, every
 * sbatch option is an `#SBATCH` line, the cells are a bash array with each
 * cell's label beside its hash, and the vadbench command is written out
 * once. Array task i runs
 *   vadbench run FILE --cell HASH[i] --only LABEL[i] --db <node-local copy of
 *   its shard> --checkpoint-dir CHECKPOINTS
 * copies the shard to SHARDS/HASH.db when it ends (however it ends), and on
 * SIGUSR1 (sbatch --signal=B:USR1@GRACE: the warning before the time limit
 * or a preemption) passes the signal on; vadbench then writes its checkpoint
 * and exits 75, and the script requeues its own task (`scontrol requeue`),
 * which resumes from the checkpoint. --requeue lets Slurm requeue a task
 * whose node failed; --open-mode=append keeps the log of every attempt.
 *
 * Pure text generation: nothing here touches files or runs programs
 * (slurm.c does), so the option → sbatch-line mapping is tested as is. */
#ifndef VB_SLURM_SCRIPT_H
#define VB_SLURM_SCRIPT_H

#include <stdbool.h>

/* Everything the scripts say, resolved: absolute paths, the sbatch settings
 * after command-line options and the file's `slurm:` defaults were applied
 * (empty strings and 0: not set, Slurm's default applies). */
typedef struct SlurmJob {
    const char *experiment; /* name */
    const char *submission; /* id, e.g. 20261203-081500 */
    const char *command;    /* the submitting command line, for the header */
    const char *vadbench;   /* the binary the tasks run */
    const char *subdir;     /* the submission's directory */
    const char *file;       /* the experiment file's copy in subdir */
    const char *db;         /* the main database the merge job writes */
    const char *shard_dir, *checkpoint_dir, *log_dir, *report_dir;
    const char *status_file; /* the merge job's exit status goes here */
    const char *backend;     /* "" or NULL: the file's */
    int threads;             /* 0: cpus_per_task if set, else the file's */
    const char *partition, *time, *mem, *account, *qos, *gpus_per_task;
    int cpus_per_task, array_parallelism, grace_s;
    const char *const *args; /* extra sbatch arguments (job.sh only) */
    int nargs;
    int ncells;
    const char *const *hashes, *const *labels;
} SlurmJob;

/* job.sh and merge.sh (malloc'ed). */
char *slurm_array_script(const SlurmJob *j);
char *slurm_merge_script(const SlurmJob *j);

#endif
