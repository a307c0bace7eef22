/* cmd_retry: `vadbench retry RUN...` — queue failed runs again from the
 * beginning (status queued; error, metrics, timings, latency and the
 * checkpoint — row and file — cleared), for the next `vadbench run` of
 * their experiment file to run. RUN is an id or a config-hash prefix, as
 * for `show`. Exit 2 when a RUN is unknown or not failed (the runs before
 * it stay requeued). */
#include <stdio.h>
#include <string.h>

#include "harness/cli/cli.h"
#include "harness/cli/commands.h"
#include "harness/run/run.h"
#include "harness/store/store.h"

int cmd_retry(int argc, char **argv) {
    const CliCommand *cmd = cli_find("retry");
    const char *db = NULL;
    CliOpt opts[] = {{"db", CLI_STR, &db}, {NULL, 0, NULL}};
    char *pos[256];
    int npos;
    bool help;
    VbStatus s = cli_parse(cmd, argc, argv, opts, pos, 256, &npos, &help);
    if (s != VB_OK) return cli_usage_error(cmd, vb_errmsg());
    if (help) return 0;
    if (npos == 0) return cli_usage_error(cmd, "which runs? give run ids or hash prefixes");
    Store *st;
    s = store_open(db ? db : store_default_path(), STORE_EXISTING, &st);
    if (s != VB_OK) return cli_fail(cmd->name, s);
    for (int i = 0; i < npos && s == VB_OK; i++) {
        StoreRun r;
        s = store_find_run(st, pos[i], &r);
        if (s != VB_OK) break;
        if (r.status != STORE_FAILED)
            s = vb_fail_plain(VB_ERR_INPUT, "run %lld is %s; only failed runs are retried",
                              (long long)r.id, store_status_name(r.status));
        else s = upkeep_requeue_run(st, &r, NULL);
        if (s == VB_OK)
            printf("run %lld (%s / %s / %s / seed %lld) queued again; `vadbench run` of its "
                   "experiment file runs it\n",
                   (long long)r.id, r.experiment, r.variant,
                   r.holdout && *r.holdout ? r.holdout : "-", (long long)r.seed);
        store_run_free(&r);
    }
    VbStatus c = store_close(st);
    if (s == VB_OK) s = c;
    return s == VB_OK ? 0 : cli_fail(cmd->name, s);
}
