/* slurm_script: write job.sh and merge.sh of a submission (slurm_script.h). */
#include "harness/run/slurm_script.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/run/runner.h"
#include "harness/run/slurm_sys.h"

static bool set(const char *s) { return s && *s; }

/* NAME=<quoted value> */
static void var(SlurmBuf *b, const char *name, const char *value) {
    char *q = slurm_shell_quote(value);
    slurm_buf_printf(b, "%s=%s\n", name, q);
    free(q);
}

/* The sbatch lines both scripts share: where and under whose budget. */
static void placement(SlurmBuf *b, const SlurmJob *j) {
    if (set(j->partition)) slurm_buf_printf(b, "#SBATCH --partition=%s\n", j->partition);
    if (set(j->account)) slurm_buf_printf(b, "#SBATCH --account=%s\n", j->account);
    if (set(j->qos)) slurm_buf_printf(b, "#SBATCH --qos=%s\n", j->qos);
}

char *slurm_array_script(const SlurmJob *j) {
    SlurmBuf b = {0};
    slurm_buf_printf(&b,
                     "#!/bin/bash\n"
                     "# vadbench on Slurm: experiment %s, submission %s, %d cells as a job array.\n"
                     "# Submitted with: %s\n"
                     "#\n"
                     "# Array task i runs cell CELLS[i] (its label beside it) with\n"
                     "#   vadbench run FILE --cell HASH --only LABEL --db <shard> --mirror SHARD\n"
                     "#       --checkpoint-dir CHECKPOINTS\n"
                     "# on a node-local copy of its shard database, mirrored to SHARDS/HASH.db\n"
                     "# before every checkpoint and copied there when the task ends, however it\n"
                     "# ends (a task killed with its node loses nothing). Checkpoints go to\n"
                     "# CHECKPOINTS (shared storage), so a requeued task resumes the cell to the\n"
                     "# same bits. SIGUSR1 (%d s before the time limit, or a preemption warning)\n"
                     "# is passed to vadbench, which writes its checkpoint and exits %d; this\n"
                     "# script then requeues its own task. --requeue lets Slurm requeue a task\n"
                     "# whose node failed; --open-mode=append keeps every attempt's log.\n"
                     "# merge.sh merges the shards into the main database after all tasks end.\n",
                     j->experiment, j->submission, j->ncells, j->command, j->grace_s,
                     RUNNER_EXIT_REQUEUE);
    slurm_buf_printf(&b, "#SBATCH --job-name=vb-%s\n", j->experiment);
    if (j->array_parallelism > 0)
        slurm_buf_printf(&b, "#SBATCH --array=0-%d%%%d\n", j->ncells - 1, j->array_parallelism);
    else slurm_buf_printf(&b, "#SBATCH --array=0-%d\n", j->ncells - 1);
    slurm_buf_printf(&b, "#SBATCH --output=%s/%%A_%%a.out\n", j->log_dir);
    slurm_buf_printf(&b, "#SBATCH --open-mode=append\n");
    slurm_buf_printf(&b, "#SBATCH --requeue\n");
    slurm_buf_printf(&b, "#SBATCH --signal=B:USR1@%d\n", j->grace_s);
    placement(&b, j);
    if (set(j->time)) slurm_buf_printf(&b, "#SBATCH --time=%s\n", j->time);
    if (j->cpus_per_task > 0)
        slurm_buf_printf(&b, "#SBATCH --cpus-per-task=%d\n", j->cpus_per_task);
    if (set(j->gpus_per_task))
        slurm_buf_printf(&b, "#SBATCH --gpus-per-task=%s\n", j->gpus_per_task);
    if (set(j->mem)) slurm_buf_printf(&b, "#SBATCH --mem=%s\n", j->mem);
    for (int i = 0; i < j->nargs; i++) slurm_buf_printf(&b, "#SBATCH %s\n", j->args[i]);
    slurm_buf_printf(&b, "set -u\n\n");
    var(&b, "VADBENCH", j->vadbench);
    var(&b, "FILE", j->file);
    var(&b, "SHARDS", j->shard_dir);
    var(&b, "CHECKPOINTS", j->checkpoint_dir);
    slurm_buf_printf(&b, "CELLS=(\n");
    for (int i = 0; i < j->ncells; i++)
        slurm_buf_printf(&b, "    %s # %d: %s\n", j->hashes[i], i, j->labels[i]);
    slurm_buf_printf(&b, ")\nLABELS=(\n");
    for (int i = 0; i < j->ncells; i++) {
        char *q = slurm_shell_quote(j->labels[i]);
        slurm_buf_printf(&b, "    %s\n", q);
        free(q);
    }
    slurm_buf_printf(&b, ")\n");
    /* the options that do not depend on the task */
    SlurmBuf opt = {0};
    slurm_buf_printf(&opt, "%s", "");
    int threads = j->threads > 0 ? j->threads : j->cpus_per_task;
    if (threads > 0) slurm_buf_printf(&opt, " --threads %d", threads);
    if (set(j->backend)) slurm_buf_printf(&opt, " --backend %s", j->backend);
    slurm_buf_printf(
        &b,
        "\n"
        "i=${SLURM_ARRAY_TASK_ID:?job.sh runs as a task of a Slurm job array}\n"
        "HASH=${CELLS[$i]}\n"
        "LABEL=${LABELS[$i]}\n"
        "SHARD=$SHARDS/$HASH.db\n"
        "WORK=${TMPDIR:-/tmp}/vadbench-$HASH-$$\n"
        "DB=$WORK/shard.db\n"
        "mkdir -p \"$WORK\" \"$SHARDS\" \"$CHECKPOINTS\" || exit 1\n"
        "# an earlier attempt's shard (a requeue): continue it\n"
        "[ -f \"$SHARD\" ] && cp \"$SHARD\" \"$DB\"\n"
        "echo \"vadbench task $i: cell $LABEL ($HASH), attempt $((${SLURM_RESTART_COUNT:-0} + "
        "1)), job ${SLURM_ARRAY_JOB_ID:-}_$i on $(hostname) at $(date -u +%%FT%%TZ)\"\n"
        "\"$VADBENCH\" run \"$FILE\" --cell \"$HASH\" --only \"$LABEL\" --db \"$DB\" "
        "--mirror \"$SHARD\" --checkpoint-dir \"$CHECKPOINTS\"%s &\n"
        "pid=$!\n"
        "trap 'kill -USR1 $pid 2>/dev/null' USR1\n"
        "trap 'kill -TERM $pid 2>/dev/null' TERM INT\n"
        "# a trapped signal ends `wait` early: wait until vadbench itself has ended\n"
        "while kill -0 $pid 2>/dev/null; do wait $pid; done\n"
        "wait $pid\n"
        "rc=$?\n"
        "# hand the shard back (copy, then rename: the merge never reads half a file);\n"
        "# a shard whose write-ahead log was not folded in (vadbench did not close it)\n"
        "# is not self-contained: keep the mirror, consistent as of the last checkpoint\n"
        "if [ -f \"$DB\" ] && [ ! -s \"$DB-wal\" ]; then\n"
        "    cp \"$DB\" \"$SHARD.tmp.$$\" && mv -f \"$SHARD.tmp.$$\" \"$SHARD\" ||\n"
        "        echo \"vadbench task $i: could not copy $DB to $SHARD\" >&2\n"
        "fi\n"
        "rm -rf \"$WORK\"\n"
        "if [ $rc -eq %d ]; then\n"
        "    echo \"vadbench task $i: stopped by SIGUSR1 with its checkpoint written; "
        "requeueing\"\n"
        "    scontrol requeue \"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}\"\n"
        "fi\n"
        "echo \"vadbench task $i: exit $rc at $(date -u +%%FT%%TZ)\"\n"
        "exit $rc\n",
        opt.s, RUNNER_EXIT_REQUEUE);
    free(opt.s);
    return b.s;
}

char *slurm_merge_script(const SlurmJob *j) {
    SlurmBuf b = {0};
    slurm_buf_printf(&b,
                     "#!/bin/bash\n"
                     "# vadbench on Slurm: the merge job of experiment %s, submission %s.\n"
                     "# Runs after every task of the job array has ended (afterany): merges\n"
                     "# the %d shard databases into the main database by config hash, then\n"
                     "# writes the experiment's report. Its exit status (0 only when every\n"
                     "# cell is done and merged) is also written to STATUS for `--wait`.\n",
                     j->experiment, j->submission, j->ncells);
    slurm_buf_printf(&b, "#SBATCH --job-name=vb-merge-%s\n", j->experiment);
    slurm_buf_printf(&b, "#SBATCH --output=%s/merge_%%j.out\n", j->log_dir);
    slurm_buf_printf(&b, "#SBATCH --open-mode=append\n");
    placement(&b, j);
    slurm_buf_printf(&b, "set -u\n\n");
    var(&b, "VADBENCH", j->vadbench);
    var(&b, "DB", j->db);
    var(&b, "SHARDS", j->shard_dir);
    var(&b, "REPORT", j->report_dir);
    var(&b, "STATUS", j->status_file);
    slurm_buf_printf(&b, "CELLS=(\n");
    for (int i = 0; i < j->ncells; i++)
        slurm_buf_printf(&b, "    %s # %d: %s\n", j->hashes[i], i, j->labels[i]);
    char *exp = slurm_shell_quote(j->experiment);
    slurm_buf_printf(&b,
                     ")\n\n"
                     "shards=()\n"
                     "for h in \"${CELLS[@]}\"; do shards+=(\"$SHARDS/$h.db\"); done\n"
                     "\"$VADBENCH\" merge \"$DB\" \"${shards[@]}\"\n"
                     "rc=$?\n"
                     "\"$VADBENCH\" report %s --db \"$DB\" --out \"$REPORT\"\n"
                     "rr=$?\n"
                     "[ $rc -eq 0 ] && rc=$rr\n"
                     "echo $rc > \"$STATUS.tmp\" && mv -f \"$STATUS.tmp\" \"$STATUS\"\n"
                     "echo \"vadbench merge: exit $rc at $(date -u +%%FT%%TZ)\"\n"
                     "exit $rc\n",
                     exp);
    free(exp);
    return b.s;
}
