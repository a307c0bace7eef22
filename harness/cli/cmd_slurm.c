/* cmd_slurm: `vadbench slurm submit|status|cancel` — run experiment
 * matrices on a Slurm cluster (harness/run/slurm.h does the work).
 *
 *   submit  FILE…: a job array (one task, one shard database per pending
 *           cell) and a dependent merge + report job per file
 *   status  [SUBMISSION]: per cell pending/running/requeued/done/failed
 *   cancel  [SUBMISSION]: scancel a submission's jobs
 *
 * Exit status: submit 0 when submitted (with --wait: the merge job's status,
 * 0 only when every cell is done and merged), 2 for bad usage or input and
 * when sbatch is not on PATH; status and cancel 0, 2 when the submission or
 * Slurm is not found. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/cli/cli.h"
#include "harness/cli/commands.h"
#include "harness/run/run.h"

static const CliCommand c_slurm = {
    "slurm", "run experiment matrices on a Slurm cluster (submit, status, cancel)",
    "slurm submit|status|cancel [options]   (`vadbench slurm SUBCOMMAND --help` for one)", NULL};
static const CliCommand c_submit = {
    "slurm submit", "submit experiment files as Slurm job arrays",
    "slurm submit FILE... [--partition P] [--time T] [--cpus-per-task N] [--gpus-per-task G]\n"
    "        [--mem M] [--array-parallelism K] [--account A] [--qos Q] [--sbatch-arg ARG]...\n"
    "        [--grace SECONDS] [--db PATH] [--dir DIR] [--checkpoint-dir DIR] [--report-dir DIR]\n"
    "        [--only PATTERN] [--backend cpu|cuda] [--threads N] [--dry-run] [--wait]\n"
    "        [--wait-timeout SECONDS] [--quiet]\n\n"
    "For each file: one job array task per cell not yet done in the database (--db, else\n"
    "$VADBENCH_DB, else results/vadbench.db), each running `vadbench run FILE --cell HASH` on a\n"
    "node-local copy of its own shard database, and a job that runs after every task has ended\n"
    "(afterany) to merge the shards into the database and write the report. Everything lives in\n"
    "DIR/<experiment>/<submission>/ (DIR: results/slurm): job.sh and merge.sh (readable\n"
    "scripts), the experiment file's copy, logs/, shards/, checkpoints/ (--checkpoint-dir puts\n"
    "them elsewhere) and submission.json. Keep it, the database and this binary on storage\n"
    "every node sees. Options map to sbatch's: --partition, --time, --cpus-per-task (also the\n"
    "task's --threads), --gpus-per-task, --mem, --account, --qos, --array-parallelism K (at most\n"
    "K tasks at once: --array=0-N%K), --sbatch-arg (any other sbatch option, repeatable); their\n"
    "defaults come from the file's `slurm:` section. Tasks get --requeue, --open-mode=append\n"
    "and --signal=B:USR1@GRACE (--grace, default 120): on the signal the running cell writes\n"
    "its checkpoint and the task requeues itself, resuming to the same bits. --dry-run prints\n"
    "the scripts and the cells and submits nothing; --wait blocks until the merge job has ended\n"
    "and exits with its status (0 only when every cell is done and merged). Without sbatch on\n"
    "PATH: `sbatch not found: ...`, exit 2.",
    NULL};
static const CliCommand c_status = {
    "slurm status", "show where a submission's cells stand",
    "slurm status [SUBMISSION] [--dir DIR]\n\n"
    "SUBMISSION is EXPERIMENT/ID, an ID, an EXPERIMENT (its newest submission) or a submission\n"
    "directory; default: the newest under DIR (results/slurm). One line per cell: pending,\n"
    "running, requeued (pending again after a preemption or requeue), done or failed, with its\n"
    "Slurm job (ARRAYJOB_TASK), node and attempts, from squeue and the cell's shard database;\n"
    "then the merge job's state.",
    NULL};
static const CliCommand c_cancel = {
    "slurm cancel", "cancel a submission's jobs",
    "slurm cancel [SUBMISSION] [--dir DIR]\n\n"
    "scancel the submission's job array and merge job (SUBMISSION as for `slurm status`).\n"
    "Shards and checkpoints stay: submitting the file again resumes the cells.",
    NULL};

/* The command line as typed, for the script's header. */
static char *command_line(int argc, char **argv) {
    size_t n = 32;
    for (int i = 0; i < argc; i++) n += strlen(argv[i]) + 3;
    char *s = vb_xmalloc(n);
    snprintf(s, n, "vadbench slurm");
    for (int i = 0; i < argc; i++) {
        bool plain = strspn(argv[i], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123"
                                     "456789_-./=:,%@+") == strlen(argv[i]);
        strcat(s, plain ? " " : " '");
        strcat(s, argv[i]);
        if (!plain) strcat(s, "'");
    }
    return s;
}

static int run_submit(int argc, char **argv) {
    SlurmOptions o = {0};
    o.backend = RUNNER_BACKEND_AS_WRITTEN;
    CliList args = {0};
    CliOpt opts[] = {{"partition", CLI_STR, &o.partition},
                     {"time", CLI_STR, &o.time},
                     {"cpus-per-task", CLI_INT, &o.cpus_per_task},
                     {"gpus-per-task", CLI_STR, &o.gpus_per_task},
                     {"mem", CLI_STR, &o.mem},
                     {"array-parallelism", CLI_INT, &o.array_parallelism},
                     {"account", CLI_STR, &o.account},
                     {"qos", CLI_STR, &o.qos},
                     {"sbatch-arg", CLI_LIST, &args},
                     {"grace", CLI_INT, &o.grace_s},
                     {"db", CLI_STR, &o.db},
                     {"dir", CLI_STR, &o.dir},
                     {"checkpoint-dir", CLI_STR, &o.checkpoint_dir},
                     {"report-dir", CLI_STR, &o.report_dir},
                     {"only", CLI_STR, &o.only},
                     {"backend", CLI_CHOICE, &o.backend, kbackend_names},
                     {"threads", CLI_INT, &o.threads},
                     {"dry-run", CLI_FLAG, &o.dry_run},
                     {"wait", CLI_FLAG, &o.wait},
                     {"wait-timeout", CLI_DOUBLE, &o.wait_timeout_s},
                     {"quiet", CLI_FLAG, &o.quiet},
                     {NULL, 0, NULL}};
    char *files[64];
    int nfiles;
    bool help;
    VbStatus s = cli_parse(&c_submit, argc, argv, opts, files, 64, &nfiles, &help);
    if (s != VB_OK) return cli_usage_error(&c_submit, vb_errmsg());
    if (help) return 0;
    if (nfiles == 0) return cli_usage_error(&c_submit, "give at least one experiment file");
    if (o.cpus_per_task < 0 || o.array_parallelism < 0 || o.threads < 0 || o.grace_s < 0 ||
        o.wait_timeout_s < 0)
        return cli_usage_error(&c_submit, "counts, --grace and --wait-timeout must be positive");
    for (int i = 0; i < args.n; i++)
        if (args.v[i][0] != '-' || strpbrk(args.v[i], "\n\r"))
            return cli_usage_error(&c_submit, "--sbatch-arg takes one sbatch option, e.g. "
                                              "--sbatch-arg=--constraint=a100");
    const char *strs[] = {o.partition, o.time, o.mem, o.account, o.qos, o.gpus_per_task};
    for (int i = 0; i < 6; i++)
        if (strs[i] && (!*strs[i] || strpbrk(strs[i], " \t\n\r'\"\\$`;")))
            return cli_usage_error(&c_submit, "sbatch option values are single words");
    o.sbatch_args = args.v, o.nsbatch_args = args.n;
    char *cmdline = command_line(argc, argv);
    o.command = cmdline;
    int rc;
    s = slurm_submit((const char *const *)files, nfiles, &o, &rc);
    free(cmdline);
    if (s != VB_OK) return cli_fail("slurm submit", s);
    return rc;
}

static int run_status_cancel(const CliCommand *cmd, bool cancel, int argc, char **argv) {
    const char *dir = NULL;
    CliOpt opts[] = {{"dir", CLI_STR, &dir}, {NULL, 0, NULL}};
    char *pos[1] = {NULL};
    int npos;
    bool help;
    VbStatus s = cli_parse(cmd, argc, argv, opts, pos, 1, &npos, &help);
    if (s != VB_OK) return cli_usage_error(cmd, vb_errmsg());
    if (help) return 0;
    char *sub;
    s = slurm_find_submission(dir, npos ? pos[0] : NULL, &sub);
    if (s == VB_OK) {
        s = cancel ? slurm_cancel(sub, stdout) : slurm_print_status(sub, stdout);
        free(sub);
    }
    return s == VB_OK ? 0 : cli_fail(cmd->name, s);
}

int cmd_slurm(int argc, char **argv) {
    if (argc < 2 || argv[1][0] == '-') {
        if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
            printf("usage: vadbench %s\n\n  submit  %s\n  status  %s\n  cancel  %s\n",
                   c_slurm.usage, c_submit.summary, c_status.summary, c_cancel.summary);
            return 0;
        }
        return cli_usage_error(&c_slurm, "a subcommand is required: submit, status or cancel");
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "submit")) return run_submit(argc - 1, argv + 1);
    if (!strcmp(sub, "status")) return run_status_cancel(&c_status, false, argc - 1, argv + 1);
    if (!strcmp(sub, "cancel")) return run_status_cancel(&c_cancel, true, argc - 1, argv + 1);
    char msg[160];
    snprintf(msg, sizeof msg, "unknown subcommand '%s' (submit, status or cancel)", sub);
    return cli_usage_error(&c_slurm, msg);
}
