/* store_merge: copy the runs of a shard database into another results store
 * by config hash, and copy a whole database (store_backup, which mirrors a
 * node-local shard to shared storage) (`vadbench merge OUT.db SHARD.db…`; the Slurm submission's
 * merge job runs it over the shards its array tasks wrote).
 *
 * One shard is one transaction on OUT: the shard is ATTACHed to OUT's
 * connection (and only read) and every run is decided on its own (store.h lists the
 * outcomes). A run that is done in the shard and new to OUT — or queued or
 * failed there — is copied with its experiment (by name), params, metrics,
 * timings, latency samples, provenance and the baselines that name it;
 * OUT's row id is kept when a row is replaced, so baselines and reports that
 * point at it stay valid. A run done in both is compared by its final
 * metrics, measurements of time and memory left out (they differ between
 * any two executions of one cell); equal results change nothing (merging
 * twice is a no-op), different ones are reported with the differing keys and
 * OUT's are kept. Failed shard runs are copied only where OUT lacks the cell
 * (so the failure and its reason are not lost); queued and running ones are
 * reported, never copied (their task may still be working on them).
 *
 * This file must not be asked to decide which shards belong together or to
 * print anything: the caller (cmd_merge.c) names the shards and reports. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/store/store_internal.h"

/* Final metrics that measure the execution, not the result. */
static const char MEASURED_KEYS[] =
    "(split = 'train' AND key IN ('seconds', 'images_per_s', 'seconds_per_epoch'))"
    " OR (split = 'memory' AND key = 'peak_rss_mb')";

/* The run columns a merge copies (everything but id, experiment_id and the
 * claim, which belongs to the process that ran the shard). */
static const char RUN_COLS[] =
    "variant, seed, holdout, status, error, created, started, finished, config_json,"
    " config_hash, git_sha, git_dirty, host, cpu_model, gpu, gpu_driver, build_opts, libraries,"
    " backend, threads, dataset_digest, attempts, checkpoint, legacy_hash, slurm_job_id,"
    " slurm_array_task_id, slurm_node, cpu_path, numerics, transient, resumes";

const char *store_merge_kind_name(StoreMergeKind k) {
    static const char *names[STORE_MERGE_NKINDS] = {"copied", "same",       "conflict",
                                                    "failed", "unfinished", "busy"};
    return (unsigned)k < STORE_MERGE_NKINDS ? names[k] : "unknown";
}

void store_merge_result_free(StoreMergeResult *r) {
    for (int i = 0; i < r->n; i++) {
        StoreMergeItem *it = &r->items[i];
        free(it->experiment), free(it->variant), free(it->holdout), free(it->config_hash);
        free(it->detail);
    }
    free(r->items);
    memset(r, 0, sizeof *r);
}

/* One shard run as read from shard.runs. */
typedef struct ShardRun {
    int64_t id;
    char *experiment, *variant, *holdout, *hash, *error;
    int64_t seed;
    StoreStatus status;
} ShardRun;

static void shard_run_free(ShardRun *r) {
    free(r->experiment), free(r->variant), free(r->holdout), free(r->hash), free(r->error);
}

static void add_item(StoreMergeResult *res, StoreMergeKind k, const ShardRun *r, char *detail) {
    res->items = vb_xrealloc(res->items, (size_t)(res->n + 1) * sizeof *res->items);
    StoreMergeItem *it = &res->items[res->n++];
    it->kind = k;
    it->experiment = vb_xstrdup(r->experiment);
    it->variant = vb_xstrdup(r->variant);
    it->holdout = vb_xstrdup(r->holdout);
    it->config_hash = vb_xstrdup(r->hash);
    it->seed = r->seed;
    it->shard_status = r->status;
    it->detail = detail;
    res->count[k]++;
}

/* Run one statement with up to two int64 parameters. */
static VbStatus exec2(Store *st, const char *sql, int64_t a, int64_t b, const char *what) {
    sqlite3_stmt *s;
    VB_TRY(store_prepare(st, sql, &s));
    if (sqlite3_bind_parameter_count(s) >= 1) sqlite3_bind_int64(s, 1, a);
    if (sqlite3_bind_parameter_count(s) >= 2) sqlite3_bind_int64(s, 2, b);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? VB_OK : STORE_DB_FAIL(st, what);
}

/* OUT's experiment id for the shard run's experiment, created (with the
 * shard's description, file and creation time) when OUT lacks the name. */
static VbStatus out_experiment(Store *st, int64_t shard_run, int64_t *id) {
    VB_TRY(exec2(st,
                 "INSERT OR IGNORE INTO main.experiments (name, description, file, created)"
                 " SELECT e.name, e.description, e.file, e.created FROM shard.experiments e"
                 " JOIN shard.runs r ON r.experiment_id = e.id WHERE r.id = ?1",
                 shard_run, 0, "copying an experiment"));
    sqlite3_stmt *s;
    VB_TRY(store_prepare(st,
                         "SELECT m.id FROM main.experiments m JOIN shard.experiments e"
                         " ON e.name = m.name JOIN shard.runs r ON r.experiment_id = e.id"
                         " WHERE r.id = ?1",
                         &s));
    sqlite3_bind_int64(s, 1, shard_run);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) *id = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? VB_OK : STORE_DB_FAIL(st, "finding an experiment");
}

/* The rows hanging off a run: params, metrics, timings, latency; then the
 * baselines that name it (added, never removed). */
static VbStatus copy_children(Store *st, int64_t from, int64_t to) {
    static const char *const sql[] = {
        "INSERT INTO main.params (run_id, key, value)"
        " SELECT ?2, key, value FROM shard.params WHERE run_id = ?1",
        "INSERT INTO main.metrics (run_id, split, key, step, epoch, value, wall_time)"
        " SELECT ?2, split, key, step, epoch, value, wall_time FROM shard.metrics"
        " WHERE run_id = ?1",
        "INSERT INTO main.timings (run_id, phase, seconds, count)"
        " SELECT ?2, phase, seconds, count FROM shard.timings WHERE run_id = ?1",
        "INSERT INTO main.latency (run_id, component, batch, n, samples_ms, p50, p90, p99, mean,"
        " min, max) SELECT ?2, component, batch, n, samples_ms, p50, p90, p99, mean, min, max"
        " FROM shard.latency WHERE run_id = ?1",
    };
    for (size_t i = 0; i < sizeof sql / sizeof *sql; i++)
        VB_TRY(exec2(st, sql[i], from, to, "copying a run's rows"));
    return VB_OK;
}

static VbStatus copy_baselines(Store *st, int64_t from, int64_t to) {
    return exec2(st,
                 "INSERT OR IGNORE INTO main.baselines (name, run_id, pinned)"
                 " SELECT name, ?2, pinned FROM shard.baselines WHERE run_id = ?1",
                 from, to, "copying baselines");
}

/* A new row in OUT for shard run `from`; *to its id. */
static VbStatus insert_run(Store *st, int64_t from, int64_t *to) {
    int64_t exp = 0;
    VB_TRY(out_experiment(st, from, &exp));
    char sql[2048];
    snprintf(
        sql, sizeof sql,
        "INSERT INTO main.runs (experiment_id, %s) SELECT ?2, %s FROM shard.runs WHERE id = ?1",
        RUN_COLS, RUN_COLS);
    VB_TRY(exec2(st, sql, from, exp, "copying a run"));
    *to = sqlite3_last_insert_rowid(st->db);
    VB_TRY(copy_children(st, from, *to));
    return copy_baselines(st, from, *to);
}

/* Replace OUT's row `to` (queued or failed) by shard run `from`, keeping
 * OUT's id and experiment. */
static VbStatus replace_run(Store *st, int64_t from, int64_t to) {
    static const char *const clear[] = {
        "DELETE FROM main.params WHERE run_id = ?1",
        "DELETE FROM main.metrics WHERE run_id = ?1",
        "DELETE FROM main.timings WHERE run_id = ?1",
        "DELETE FROM main.latency WHERE run_id = ?1",
    };
    for (size_t i = 0; i < sizeof clear / sizeof *clear; i++)
        VB_TRY(exec2(st, clear[i], to, 0, "clearing a run's rows"));
    char sql[2048];
    snprintf(sql, sizeof sql,
             "UPDATE main.runs SET (%s, claim_owner, lease_expires) ="
             " (SELECT %s, NULL, NULL FROM shard.runs WHERE id = ?1) WHERE id = ?2",
             RUN_COLS, RUN_COLS);
    VB_TRY(exec2(st, sql, from, to, "replacing a run"));
    VB_TRY(copy_children(st, from, to));
    return copy_baselines(st, from, to);
}

/* A metric value as text ("nan" for SQL NULL). */
static void value_text(sqlite3_stmt *s, int col, char *buf, int size) {
    if (sqlite3_column_type(s, col) == SQLITE_NULL) snprintf(buf, (size_t)size, "nan");
    else store_format_real(sqlite3_column_double(s, col), buf, size);
}

/* The final metrics on which runs `a` (OUT) and `b` (shard) differ, as
 * "split/key: A vs B" joined by "; " (NULL when they agree); measurements
 * are left out and counted in *nmeasured when they differ. */
static VbStatus compare_finals(Store *st, int64_t a, int64_t b, char **diff, int *nmeasured) {
    *diff = NULL;
    *nmeasured = 0;
    char sql[2048];
    snprintf(sql, sizeof sql,
             "WITH x AS (SELECT split, key, value FROM main.metrics WHERE run_id = ?1 AND"
             "           step IS NULL),"
             "     y AS (SELECT split, key, value FROM shard.metrics WHERE run_id = ?2 AND"
             "           step IS NULL),"
             "     d AS (SELECT x.split, x.key, x.value AS va, y.value AS vb, y.key IS NULL AS"
             "           onlya, 0 AS onlyb FROM x LEFT JOIN y ON y.split = x.split AND"
             "           y.key = x.key WHERE y.key IS NULL OR x.value IS NOT y.value"
             "           UNION ALL"
             "           SELECT y.split, y.key, NULL, y.value, 0, 1 FROM y WHERE NOT EXISTS"
             "           (SELECT 1 FROM x WHERE x.split = y.split AND x.key = y.key))"
             " SELECT split, key, va, vb, onlya, onlyb, %s FROM d ORDER BY split, key",
             MEASURED_KEYS);
    sqlite3_stmt *s;
    VB_TRY(store_prepare(st, sql, &s));
    sqlite3_bind_int64(s, 1, a);
    sqlite3_bind_int64(s, 2, b);
    size_t len = 0, cap = 0;
    char *out = NULL;
    int rc, shown = 0, hidden = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (sqlite3_column_int(s, 6)) {
            (*nmeasured)++;
            continue;
        }
        if (shown == 8) {
            hidden++;
            continue;
        }
        char name[256], va[40] = "absent", vb[40] = "absent", line[400];
        const char *sp = (const char *)sqlite3_column_text(s, 0);
        const char *k = (const char *)sqlite3_column_text(s, 1);
        snprintf(name, sizeof name, "%s%s%s", sp, *sp ? "/" : "", k);
        if (!sqlite3_column_int(s, 5)) value_text(s, 2, va, sizeof va);
        if (!sqlite3_column_int(s, 4)) value_text(s, 3, vb, sizeof vb);
        int n = snprintf(line, sizeof line, "%s%s: %s vs %s", shown ? "; " : "", name, va, vb);
        if (len + (size_t)n + 1 > cap) out = vb_xrealloc(out, cap = 2 * cap + (size_t)n + 64);
        memcpy(out + len, line, (size_t)n + 1);
        len += (size_t)n;
        shown++;
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        free(out);
        return STORE_DB_FAIL(st, "comparing final metrics");
    }
    if (hidden) {
        char more[64];
        int n = snprintf(more, sizeof more, "; and %d more", hidden);
        out = vb_xrealloc(out, len + (size_t)n + 1);
        memcpy(out + len, more, (size_t)n + 1);
    }
    *diff = out;
    return VB_OK;
}

static char *dupf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *dupf(const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return vb_xstrdup(buf);
}

/* Decide and apply one shard run (inside the shard's transaction). */
static VbStatus merge_run(Store *st, const ShardRun *r, StoreMergeResult *res) {
    sqlite3_stmt *s;
    VB_TRY(store_prepare(st, "SELECT id, status FROM main.runs WHERE config_hash = ?1", &s));
    store_bind_text(s, 1, r->hash);
    int rc = sqlite3_step(s);
    bool have = rc == SQLITE_ROW;
    int64_t oid = have ? sqlite3_column_int64(s, 0) : 0;
    StoreStatus ost = STORE_QUEUED;
    if (have) VB_ASSERT(store_status_parse((const char *)sqlite3_column_text(s, 1), &ost));
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return STORE_DB_FAIL(st, "finding a run by hash");

    if (r->status == STORE_QUEUED || r->status == STORE_RUNNING) {
        add_item(res, STORE_MERGE_UNFINISHED, r,
                 dupf("%s in the shard%s", store_status_name(r->status),
                      have && ost == STORE_DONE ? " (done in OUT)" : ""));
        return VB_OK;
    }
    if (have && ost == STORE_RUNNING) {
        add_item(res, STORE_MERGE_BUSY, r,
                 dupf("running in OUT (another process owns it); the shard's %s run was not "
                      "copied",
                      store_status_name(r->status)));
        return VB_OK;
    }
    if (r->status == STORE_FAILED) {
        if (have && ost == STORE_DONE) {
            add_item(res, STORE_MERGE_SAME, r, dupf("failed in the shard, done in OUT (kept)"));
            return VB_OK;
        }
        if (!have || ost == STORE_QUEUED) {
            int64_t to = oid;
            VB_TRY(have ? replace_run(st, r->id, oid) : insert_run(st, r->id, &to));
        }
        add_item(res, STORE_MERGE_FAILED, r, dupf("%s", r->error ? r->error : "failed"));
        return VB_OK;
    }
    /* done in the shard */
    if (!have) {
        int64_t to;
        VB_TRY(insert_run(st, r->id, &to));
        add_item(res, STORE_MERGE_COPIED, r, NULL);
        return VB_OK;
    }
    if (ost != STORE_DONE) {
        VB_TRY(replace_run(st, r->id, oid));
        add_item(res, STORE_MERGE_COPIED, r, dupf("replaced a %s row", store_status_name(ost)));
        return VB_OK;
    }
    char *diff;
    int nmeasured;
    VB_TRY(compare_finals(st, oid, r->id, &diff, &nmeasured));
    if (diff) {
        add_item(res, STORE_MERGE_CONFLICT, r, diff);
        return VB_OK;
    }
    VB_TRY(copy_baselines(st, r->id, oid));
    add_item(res, STORE_MERGE_SAME, r,
             nmeasured ? dupf("same results; %d measured time/memory values differ (OUT's kept)",
                              nmeasured)
                       : NULL);
    return VB_OK;
}

static VbStatus read_shard_runs(Store *st, ShardRun **out, int *n) {
    *out = NULL;
    *n = 0;
    sqlite3_stmt *s;
    VB_TRY(store_prepare(st,
                         "SELECT r.id, e.name, r.variant, r.holdout, r.seed, r.config_hash,"
                         " r.status, r.error FROM shard.runs r JOIN shard.experiments e"
                         " ON e.id = r.experiment_id ORDER BY r.id",
                         &s));
    int rc, cap = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap) *out = vb_xrealloc(*out, (size_t)(cap = cap ? 2 * cap : 16) * sizeof **out);
        ShardRun *r = &(*out)[(*n)++];
        r->id = sqlite3_column_int64(s, 0);
        r->experiment = store_col_strdup(s, 1);
        r->variant = store_col_strdup(s, 2);
        r->holdout = store_col_strdup(s, 3);
        r->seed = sqlite3_column_int64(s, 4);
        r->hash = store_col_strdup(s, 5);
        VB_ASSERT(store_status_parse((const char *)sqlite3_column_text(s, 6), &r->status));
        r->error = store_col_strdup(s, 7);
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? VB_OK : STORE_DB_FAIL(st, "reading the shard's runs");
}

VbStatus store_merge(Store *st, const char *shard_path, StoreMergeResult *res) {
    memset(res, 0, sizeof *res);
    /* the shard must be a vadbench store (migrated to this schema if older) */
    Store *sh = NULL;
    VB_TRY(store_open(shard_path, STORE_EXISTING, &sh));
    VB_TRY(store_close(sh));
    struct stat a, b;
    if (stat(shard_path, &a) == 0 && stat(st->path, &b) == 0 && a.st_dev == b.st_dev &&
        a.st_ino == b.st_ino)
        return vb_fail_plain(VB_ERR_INPUT, "%s: cannot merge a database into itself", shard_path);
    VB_TRY(store_flush(st));
    sqlite3_stmt *s;
    VB_TRY(store_prepare(st, "ATTACH DATABASE ?1 AS shard", &s));
    store_bind_text(s, 1, shard_path);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) return STORE_DB_FAIL(st, "attaching the shard");
    ShardRun *runs = NULL;
    int n = 0;
    VbStatus r = store_begin(st);
    if (r == VB_OK) r = read_shard_runs(st, &runs, &n);
    for (int i = 0; i < n && r == VB_OK; i++) r = merge_run(st, &runs[i], res);
    if (r == VB_OK) r = store_commit(st);
    else store_rollback(st);
    for (int i = 0; i < n; i++) shard_run_free(&runs[i]);
    free(runs);
    if (sqlite3_exec(st->db, "DETACH DATABASE shard", NULL, NULL, NULL) != SQLITE_OK && r == VB_OK)
        r = STORE_DB_FAIL(st, "detaching the shard");
    if (r != VB_OK) store_merge_result_free(res);
    return r;
}

VbStatus store_backup(Store *st, const char *path) {
    VB_TRY(store_flush(st));
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    sqlite3 *dst = NULL;
    VbStatus r = VB_OK;
    if (sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK)
        r = vb_fail_plain(VB_ERR_IO, "%s: cannot create: %s", tmp,
                          dst ? sqlite3_errmsg(dst) : "out of memory");
    if (r == VB_OK) {
        sqlite3_backup *b = sqlite3_backup_init(dst, "main", st->db, "main");
        int rc = b ? sqlite3_backup_step(b, -1) : SQLITE_ERROR;
        if (b) sqlite3_backup_finish(b);
        if (rc != SQLITE_DONE)
            r = vb_fail_plain(VB_ERR_IO, "%s: copying %s: %s", tmp, st->path, sqlite3_errmsg(dst));
    }
    if (dst && sqlite3_close(dst) != SQLITE_OK && r == VB_OK)
        r = vb_fail_plain(VB_ERR_IO, "%s: closing the copy", tmp);
    if (r == VB_OK && rename(tmp, path) != 0)
        r = vb_fail_plain(VB_ERR_IO, "%s: cannot rename to %s", tmp, path);
    if (r != VB_OK) remove(tmp);
    return r;
}
