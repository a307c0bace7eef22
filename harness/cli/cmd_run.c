/* cmd_run: `vadbench run FILE…` — run experiment matrices. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/cli/cli.h"
#include "harness/cli/commands.h"
#include "harness/run/run.h"

int cmd_run(int argc, char **argv) {
    const CliCommand *cmd = cli_find("run");
    RunnerOptions o = {0};
    o.backend = RUNNER_BACKEND_AS_WRITTEN;
    const char *shard = NULL;
    CliOpt opts[] = {
        {"db", CLI_STR, &o.db},           {"only", CLI_STR, &o.only},
        {"shard", CLI_STR, &shard},       {"backend", CLI_CHOICE, &o.backend, kbackend_names},
        {"threads", CLI_INT, &o.threads}, {"dry-run", CLI_FLAG, &o.dry_run},
        {"quiet", CLI_FLAG, &o.quiet},    {NULL, 0, NULL}};
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
    if (o.threads < 0) return cli_usage_error(cmd, "--threads must be positive");
    runner_install_signals();
    RunnerSummary sum;
    s = runner_run((const char *const *)files, nfiles, &o, &sum);
    if (s != VB_OK) return cli_fail("run", s);
    if (o.dry_run) return 0;
    fprintf(stderr,
            "vadbench run: %d cells selected: %d ran, %d already done, %d failed, %d interrupted\n",
            sum.cells, sum.ran, sum.skipped, sum.failed, sum.interrupted);
    if (sum.interrupted) return 130;
    return sum.failed ? 1 : 0;
}
