/* cmd_merge: `vadbench merge OUT.db SHARD.db…` — copy shard databases into
 * one results store by config hash (store_merge in the store wing does the
 * work, one transaction per shard).
 *
 * Prints one line per shard with what happened to its runs, then a line for
 * every run that needs attention (a conflict with its differing keys, a
 * failure with its reason, a cell still queued or running). Exit 0 when
 * every shard run is done and in OUT; 1 when a run conflicted, failed, is
 * unfinished or busy in OUT; 2 for bad usage or a shard that cannot be read
 * (the other shards are still merged). Works without Slurm: shards made by
 * hand with `vadbench run --shard i/n --db SHARD` on several machines merge
 * the same way. */
#include <stdio.h>
#include <string.h>

#include "harness/cli/cli.h"
#include "harness/cli/commands.h"
#include "harness/store/store.h"

static void print_item(const StoreMergeItem *it) {
    printf("  %-10s %s/%s/%s/seed%lld %.12s%s%s\n", store_merge_kind_name(it->kind), it->experiment,
           it->variant, *it->holdout ? it->holdout : "-", (long long)it->seed, it->config_hash,
           it->detail ? ": " : "", it->detail ? it->detail : "");
}

int cmd_merge(int argc, char **argv) {
    const CliCommand *cmd = cli_find("merge");
    bool quiet = false, verbose = false;
    CliOpt opts[] = {{"quiet", CLI_FLAG, &quiet}, {"verbose", CLI_FLAG, &verbose}, {NULL, 0, NULL}};
    char *pos[4097];
    int npos;
    bool help;
    VbStatus s = cli_parse(cmd, argc, argv, opts, pos, 4097, &npos, &help);
    if (s != VB_OK) return cli_usage_error(cmd, vb_errmsg());
    if (help) return 0;
    if (npos < 2) return cli_usage_error(cmd, "give the output database and at least one shard");
    Store *st;
    s = store_open(pos[0], STORE_CREATE, &st);
    if (s != VB_OK) return cli_fail("merge", s);
    int total[STORE_MERGE_NKINDS] = {0}, unreadable = 0;
    for (int i = 1; i < npos; i++) {
        StoreMergeResult res;
        s = store_merge(st, pos[i], &res);
        if (s != VB_OK) {
            fprintf(stderr, "vadbench merge: %s\n", vb_errmsg());
            vb_clear_error();
            unreadable++;
            continue;
        }
        if (!quiet)
            printf("%s: %d runs: %d copied, %d same, %d conflict, %d failed, %d unfinished, %d "
                   "busy\n",
                   pos[i], res.n, res.count[STORE_MERGE_COPIED], res.count[STORE_MERGE_SAME],
                   res.count[STORE_MERGE_CONFLICT], res.count[STORE_MERGE_FAILED],
                   res.count[STORE_MERGE_UNFINISHED], res.count[STORE_MERGE_BUSY]);
        for (int k = 0; k < res.n; k++) {
            const StoreMergeItem *it = &res.items[k];
            bool attention = it->kind != STORE_MERGE_COPIED && it->kind != STORE_MERGE_SAME;
            if (attention || (verbose && !quiet)) print_item(it);
        }
        for (int k = 0; k < STORE_MERGE_NKINDS; k++) total[k] += res.count[k];
        store_merge_result_free(&res);
    }
    VbStatus c = store_close(st);
    if (c != VB_OK) return cli_fail("merge", c);
    int trouble = total[STORE_MERGE_CONFLICT] + total[STORE_MERGE_FAILED] +
                  total[STORE_MERGE_UNFINISHED] + total[STORE_MERGE_BUSY];
    fprintf(stderr,
            "vadbench merge: %d shards into %s: %d runs copied, %d already there, %d conflicts, "
            "%d failed, %d unfinished, %d busy%s\n",
            npos - 1, pos[0], total[STORE_MERGE_COPIED], total[STORE_MERGE_SAME],
            total[STORE_MERGE_CONFLICT], total[STORE_MERGE_FAILED], total[STORE_MERGE_UNFINISHED],
            total[STORE_MERGE_BUSY], unreadable ? "; some shards could not be read" : "");
    if (unreadable) return 2;
    return trouble ? 1 : 0;
}
