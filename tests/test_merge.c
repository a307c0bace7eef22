/* vadbench merge (store_merge): shards copied into another store by config
 * hash with everything that hangs off a run (params, curves, finals,
 * timings, latency, provenance, baselines); merging twice changes nothing;
 * a hash done in both with different results is a conflict naming the keys,
 * and OUT keeps its values; measured times alone are no conflict; failed
 * shard runs are copied where OUT lacks them, queued/running ones reported;
 * OUT's queued row is replaced keeping its id; the command's exit status. */
#include "store_testutil.h"

/* Every row of every table, in a fixed order, as one string: equal strings
 * mean equal databases. */
static char *contents(const char *db) {
    static const char *const sql[] = {
        "SELECT name, description, file, created FROM experiments ORDER BY name",
        "SELECT r.id, e.name, variant, seed, holdout, status, error, r.created, started, finished,"
        " config_json, config_hash, git_sha, git_dirty, host, cpu_model, gpu, gpu_driver,"
        " build_opts, libraries, backend, threads, dataset_digest, claim_owner, lease_expires,"
        " attempts, checkpoint, slurm_job_id, slurm_array_task_id, slurm_node FROM runs r JOIN"
        " experiments e ON e.id = r.experiment_id ORDER BY r.id",
        "SELECT * FROM params ORDER BY run_id, key",
        "SELECT run_id, split, key, step, epoch, quote(value), wall_time FROM metrics"
        " ORDER BY run_id, split, key, step",
        "SELECT * FROM timings ORDER BY run_id, phase",
        "SELECT * FROM latency ORDER BY run_id, component, batch",
        "SELECT * FROM baselines ORDER BY name, run_id",
    };
    sqlite3 *h;
    cr_assert_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    out[0] = 0;
    for (size_t q = 0; q < sizeof sql / sizeof *sql; q++) {
        sqlite3_stmt *s;
        cr_assert_eq(sqlite3_prepare_v2(h, sql[q], -1, &s, NULL), SQLITE_OK, "%s",
                     sqlite3_errmsg(h));
        while (sqlite3_step(s) == SQLITE_ROW)
            for (int c = 0; c < sqlite3_column_count(s); c++) {
                const unsigned char *t = sqlite3_column_text(s, c);
                size_t n = t ? strlen((const char *)t) : 4;
                while (len + n + 2 > cap) out = realloc(out, cap *= 2);
                memcpy(out + len, t ? (const char *)t : "NULL", n);
                len += n;
                out[len++] = c + 1 == sqlite3_column_count(s) ? '\n' : '|';
                out[len] = 0;
            }
        sqlite3_finalize(s);
    }
    sqlite3_close(h);
    return out;
}

/* A shard with experiment "exp": done cells (test/auc as given), with
 * latency samples, Slurm provenance and a baseline on the first. */
static void make_shard(const char *name, char *db, size_t n, const char *const *hashes,
                       const double *auc, int ncells) {
    Store *st = tsu_fresh(name, db, n);
    int64_t exp;
    cr_assert_eq(store_ensure_experiment(st, "exp", "demo", "/abs/exp.yaml", &exp), VB_OK);
    for (int i = 0; i < ncells; i++) {
        int64_t id = add_run(st, exp, i % 2 ? "B" : "A", i, hashes[i], auc[i], NULL);
        double ms[4] = {1.5, 2.5, 1.0, 3.0};
        cr_assert_eq(store_log_latency(st, id, "model", 1, ms, 4), VB_OK);
        StoreProvenance p;
        store_provenance_local(&p);
        p.slurm_job_id = "12_3", p.slurm_array_task_id = 3, p.slurm_node = "node7";
        cr_assert_eq(store_set_provenance(st, id, &p), VB_OK);
        if (i == 0) cr_assert_eq(store_baseline_pin(st, "main", &id, 1), VB_OK);
    }
    cr_assert_eq(store_close(st), VB_OK);
}

static StoreMergeResult merge1(const char *out, const char *shard) {
    Store *st;
    cr_assert_eq(store_open(out, STORE_CREATE, &st), VB_OK, "%s", vb_errmsg());
    StoreMergeResult r;
    cr_assert_eq(store_merge(st, shard, &r), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(store_close(st), VB_OK);
    return r;
}

Test(merge, copies_everything_and_twice_changes_nothing) {
    char s1[256], s2[256], out[256];
    const char *h1[] = {"aaaa0001", "aaaa0002"}, *h2[] = {"bbbb0001"};
    const double a1[] = {0.7, 0.8}, a2[] = {0.9};
    make_shard("m_s1", s1, sizeof s1, h1, a1, 2);
    make_shard("m_s2", s2, sizeof s2, h2, a2, 1);
    tsu_path("m_out", out, sizeof out);
    StoreMergeResult r = merge1(out, s1);
    cr_assert_eq(r.n, 2);
    cr_assert_eq(r.count[STORE_MERGE_COPIED], 2);
    store_merge_result_free(&r);
    r = merge1(out, s2);
    cr_assert_eq(r.count[STORE_MERGE_COPIED], 1);
    store_merge_result_free(&r);
    /* every row came along */
    cr_assert_eq(q1(out, "SELECT count(*) FROM runs WHERE status = 'done'"), 3);
    cr_assert_eq(q1(out, "SELECT count(*) FROM experiments"), 1);
    cr_assert_eq(q1(out, "SELECT count(*) FROM metrics"), 3 * 5);
    cr_assert_eq(q1(out, "SELECT count(*) FROM params"),
                 q1(s1, "SELECT count(*) FROM params") + q1(s2, "SELECT count(*) FROM params"));
    cr_assert_eq(q1(out, "SELECT count(*) FROM latency WHERE samples_ms = '[1.5,2.5,1.0,3.0]'"), 3);
    cr_assert_eq(q1(out, "SELECT seconds FROM timings t JOIN runs r ON r.id = t.run_id"
                         " WHERE r.config_hash = 'aaaa0002'"),
                 2.0);
    cr_assert_eq(q1(out, "SELECT value FROM metrics m JOIN runs r ON r.id = m.run_id"
                         " WHERE r.config_hash = 'bbbb0001' AND m.key = 'auc'"),
                 0.9);
    cr_assert_eq(q1(out, "SELECT count(*) FROM runs WHERE slurm_job_id = '12_3' AND"
                         " slurm_array_task_id = 3 AND slurm_node = 'node7' AND attempts = 1"),
                 3);
    /* the baseline points at OUT's ids of the shard runs it named */
    cr_assert_eq(q1(out, "SELECT count(*) FROM baselines b JOIN runs r ON r.id = b.run_id"
                         " WHERE b.name = 'main'"),
                 2);
    /* the run's own rows are identical to the shard's (ids aside) */
    char *x = q1s(s2, "SELECT group_concat(split || key || coalesce(step, '-') || value, ',')"
                      " FROM (SELECT * FROM metrics ORDER BY split, key, step)");
    char *y = q1s(out, "SELECT group_concat(split || key || coalesce(step, '-') || value, ',')"
                       " FROM (SELECT m.* FROM metrics m JOIN runs r ON r.id = m.run_id"
                       " WHERE r.config_hash = 'bbbb0001' ORDER BY split, key, step)");
    cr_assert_str_eq(x, y);
    free(x), free(y);
    /* again: nothing changes */
    char *before = contents(out);
    r = merge1(out, s1);
    cr_assert_eq(r.count[STORE_MERGE_SAME], 2);
    cr_assert_eq(r.count[STORE_MERGE_COPIED], 0);
    store_merge_result_free(&r);
    r = merge1(out, s2);
    cr_assert_eq(r.count[STORE_MERGE_SAME], 1);
    store_merge_result_free(&r);
    char *after = contents(out);
    cr_assert_str_eq(before, after, "a second merge changed the database");
    free(before), free(after);
}

Test(merge, conflicts_are_reported_with_keys_and_not_overwritten) {
    char s1[256], s2[256], s3[256], out[256];
    const char *h[] = {"cccc0001"};
    const double a1[] = {0.75}, a2[] = {0.5};
    make_shard("c_s1", s1, sizeof s1, h, a1, 1);
    make_shard("c_s2", s2, sizeof s2, h, a2, 1);
    tsu_path("c_out", out, sizeof out);
    StoreMergeResult r = merge1(out, s1);
    store_merge_result_free(&r);
    char *before = contents(out);
    r = merge1(out, s2);
    cr_assert_eq(r.n, 1);
    cr_assert_eq(r.count[STORE_MERGE_CONFLICT], 1);
    cr_assert_str_eq(r.items[0].config_hash, "cccc0001");
    cr_assert_not_null(r.items[0].detail);
    cr_assert(strstr(r.items[0].detail, "test/auc: 0.75 vs 0.5") != NULL, "%s", r.items[0].detail);
    cr_assert(strstr(r.items[0].detail, "val/loss: 0.25 vs 0.5") != NULL, "%s", r.items[0].detail);
    store_merge_result_free(&r);
    char *after = contents(out);
    cr_assert_str_eq(before, after, "a conflict overwrote OUT");
    free(before), free(after);
    /* measured times alone differ: the same result, not a conflict */
    make_shard("c_s3", s3, sizeof s3, h, a1, 1);
    raw_exec(s3, "INSERT INTO metrics VALUES (1, 'train', 'seconds', NULL, NULL, 99, 0),"
                 " (1, 'memory', 'peak_rss_mb', NULL, NULL, 512, 0)");
    r = merge1(out, s3);
    cr_assert_eq(r.count[STORE_MERGE_SAME], 1);
    cr_assert(r.items[0].detail && strstr(r.items[0].detail, "2 measured"), "%s",
              r.items[0].detail ? r.items[0].detail : "(none)");
    store_merge_result_free(&r);
    /* the command: exit 1 on a conflict, and it names the key */
    char *argv[] = {"merge", out, s2, NULL};
    cr_assert_eq(cmd_merge(3, argv), 1);
}

Test(merge, failed_and_unfinished_shard_runs_are_reported_not_dropped) {
    char sh[256], out[256];
    Store *st = tsu_fresh("f_sh", sh, sizeof sh);
    int64_t exp;
    cr_assert_eq(store_ensure_experiment(st, "exp", "", "", &exp), VB_OK);
    add_run(st, exp, "A", 0, "dddd0001", 0.6, NULL);
    add_run(st, exp, "A", 1, "dddd0002", 0, "loss is not finite");
    TsuCells c;
    tsu_cells(&c, 2, "Q"); /* queued, and one claimed: running */
    cr_assert_eq(store_register_cells(st, exp, c.cells, 2, NULL), VB_OK);
    const char *only[] = {c.hash[1]};
    StoreClaimFilter f = {exp, only, 1};
    StoreRun run;
    bool claimed;
    cr_assert_eq(store_claim(st, &f, 0, &claimed, &run), VB_OK);
    cr_assert(claimed);
    store_run_free(&run);
    cr_assert_eq(store_close(st), VB_OK);
    /* OUT already holds dddd0001 as queued: the done shard row replaces it, id kept */
    Store *o = tsu_fresh("f_out", out, sizeof out);
    int64_t oexp;
    cr_assert_eq(store_ensure_experiment(o, "exp", "", "", &oexp), VB_OK);
    StoreCell pre = {"A", 0, "h1", "{\"pre\":1}", "dddd0001"};
    StoreRegistered reg;
    cr_assert_eq(store_register_cells(o, oexp, &pre, 1, &reg), VB_OK);
    cr_assert_eq(store_close(o), VB_OK);
    StoreMergeResult r = merge1(out, sh);
    cr_assert_eq(r.n, 4);
    cr_assert_eq(r.count[STORE_MERGE_COPIED], 1);
    cr_assert_eq(r.count[STORE_MERGE_FAILED], 1);
    cr_assert_eq(r.count[STORE_MERGE_UNFINISHED], 2);
    for (int i = 0; i < r.n; i++)
        if (r.items[i].kind == STORE_MERGE_FAILED)
            cr_assert_str_eq(r.items[i].detail, "loss is not finite");
    store_merge_result_free(&r);
    cr_assert_eq(q1(out, "SELECT id FROM runs WHERE config_hash = 'dddd0001' AND status = 'done'"),
                 (double)reg.run_id);
    cr_assert_eq(q1(out, "SELECT count(*) FROM params WHERE run_id = 1 AND key = 'pre'"), 0);
    cr_assert_eq(q1(out, "SELECT count(*) FROM runs WHERE config_hash = 'dddd0002' AND"
                         " status = 'failed' AND error = 'loss is not finite'"),
                 1);
    cr_assert_eq(q1(out, "SELECT count(*) FROM runs WHERE status IN ('queued', 'running')"), 0);
    /* the command says so in its exit status; a missing shard is exit 2, the rest merged */
    char *argv[] = {"merge", out, sh, NULL};
    cr_assert_eq(cmd_merge(3, argv), 1);
    char ok[256];
    const char *h[] = {"eeee0001"};
    const double a[] = {0.5};
    make_shard("f_ok", ok, sizeof ok, h, a, 1);
    char *argv2[] = {"merge", out, "tests/tmp/store/no_such_shard.db", ok, NULL};
    cr_assert_eq(cmd_merge(4, argv2), 2);
    cr_assert_eq(q1(out, "SELECT count(*) FROM runs WHERE config_hash = 'eeee0001'"), 1);
    char *argv3[] = {"merge", out, ok, NULL};
    cr_assert_eq(cmd_merge(3, argv3), 0);
    /* a database into itself is refused */
    Store *self;
    cr_assert_eq(store_open(out, STORE_EXISTING, &self), VB_OK);
    StoreMergeResult rs;
    cr_assert_eq(store_merge(self, out, &rs), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "into itself"));
    store_close(self);
}
