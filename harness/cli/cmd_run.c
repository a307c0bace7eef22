/* cmd_run: `vadbench run FILE…` — run experiment matrices. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/cli/cli.h"
#include "harness/cli/commands.h"
#include "harness/run/run.h"
#include "harness/store/store.h"

int cmd_run(int argc, char **argv) {
    const CliCommand *cmd = cli_find("run");
    RunnerOptions o = {0};
    o.backend = RUNNER_BACKEND_AS_WRITTEN;
    const char *shard = NULL;
    CliList cells = {0};
    CliOpt opts[] = {{"db", CLI_STR, &o.db},
                     {"only", CLI_STR, &o.only},
                     {"shard", CLI_STR, &shard},
                     {"cell", CLI_LIST, &cells},
                     {"checkpoint-dir", CLI_STR, &o.checkpoint_dir},
                     {"mirror", CLI_STR, &o.mirror},
                     {"backend", CLI_CHOICE, &o.backend, kbackend_names},
                     {"threads", CLI_INT, &o.threads},
                     {"dry-run", CLI_FLAG, &o.dry_run},
                     {"quiet", CLI_FLAG, &o.quiet},
                     {"retry-failed", CLI_FLAG, &o.retry_failed},
                     {"lease", CLI_DOUBLE, &o.lease_s},
                     {NULL, 0, NULL}};
    char *files[64];
    int nfiles;
    bool help;
    VbStatus s = cli_parse(cmd, argc, argv, opts, files, 64, &nfiles, &help);
    if (s != VB_OK) return cli_usage_error(cmd, vb_errmsg());
    if (help) return 0;
    if (nfiles == 0) return cli_usage_error(cmd, "give at least one experiment file");
    if (shard) {
        char *end;
        long i = strtol(shard, &end, 10);
        long n = *end == '/' ? strtol(end + 1, &end, 10) : -1;
        if (*end || n < 1 || i < 0 || i >= n)
            return cli_usage_error(cmd, "--shard expects i/n with 0 <= i < n, e.g. 0/4");
        o.shard_i = (int)i, o.shard_n = (int)n;
    }
    for (int i = 0; i < cells.n; i++) {
        size_t n = strlen(cells.v[i]);
        if (n < 4 || strspn(cells.v[i], "0123456789abcdef") != n)
            return cli_usage_error(cmd, "--cell expects a config hash (lowercase hex, as "
                                        "`vadbench run --dry-run` and `vadbench runs` print it)");
    }
    o.cells = cells.v, o.ncells = cells.n;
    if (o.threads < 0) return cli_usage_error(cmd, "--threads must be positive");
    if (o.lease_s != 0 && !(o.lease_s >= 1 && o.lease_s <= STORE_LEASE_MAX_S))
        return cli_usage_error(cmd, "--lease expects seconds between 1 and 3600");
    runner_install_signals();
    RunnerSummary sum;
    s = runner_run((const char *const *)files, nfiles, &o, &sum);
    if (s != VB_OK) {
        int rc = cli_fail("run", s);
        return sum.stopped ? 130 : rc;
    }
    if (o.dry_run) return sum.stopped ? 130 : 0;
    int earlier = sum.failed_total - sum.failed;
    fprintf(stderr,
            "vadbench run: %d cells selected: %d ran, %d already done, %d failed, %d "
            "interrupted\n",
            sum.cells, sum.ran, sum.skipped, sum.failed_total, sum.interrupted);
    if (earlier > 0)
        fprintf(stderr,
                "vadbench run: %d of the failed cells failed in an earlier run; `vadbench run "
                "--retry-failed` runs them again (`vadbench runs --status failed` says why)\n",
                earlier);
    int rc = runner_exit_status(&sum);
    if (rc == RUNNER_EXIT_REQUEUE)
        fprintf(stderr,
                "vadbench run: stopped by SIGUSR1 for a requeue; checkpoints are written, "
                "the same command resumes the cells (exit %d)\n",
                RUNNER_EXIT_REQUEUE);
    return rc;
}
