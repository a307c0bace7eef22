/* store_testutil: helpers shared by the store tests (test_store.c) and the
 * browsing-command tests (test_store_cmd.c): fresh database files under
 * tests/tmp/store/, one-value queries, and a small finished experiment. */
#ifndef VB_STORE_TESTUTIL_H
#define VB_STORE_TESTUTIL_H

#include "testutil.h"

#include <jansson.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness/cli/commands.h"
#include "harness/store/store.h"

#define TSU_DIR "tests/tmp/store"

/* The first column of the first row of `sql` on database `db` (opened
 * read-only, waiting up to 10 s for a writer), -1 when there is no row. */
static inline int tsu_count(const char *db, const char *sql) {
    sqlite3 *h;
    cr_assert_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(h, 10000);
    sqlite3_stmt *q;
    cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &q, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
    int v = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int(q, 0) : -1;
    sqlite3_finalize(q);
    sqlite3_close(h);
    return v;
}

/* TSU_DIR/NAME.db with any earlier file (and its -wal, -shm) removed. */
static inline void tsu_path(const char *name, char *buf, size_t size) {
    mkdir("tests/tmp", 0777);
    mkdir(TSU_DIR, 0777);
    snprintf(buf, size, TSU_DIR "/%s.db", name);
    const char *ext[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        char p[300];
        snprintf(p, sizeof p, "%s%s", buf, ext[i]);
        unlink(p);
    }
}

static inline Store *tsu_fresh(const char *name, char *buf, size_t size) {
    tsu_path(name, buf, size);
    Store *st;
    cr_assert_eq(store_open(buf, STORE_CREATE, &st), VB_OK, "%s", vb_errmsg());
    return st;
}

static inline void tsu_random_file(const char *path, int n, uint64_t seed) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        fputc((int)(x >> 56), f);
    }
    fclose(f);
}

/* n cells of `variant` with seeds 0..n-1, holdout "h1", a small nested
 * config (7 params) and a hex hash that depends on variant and seed. */
#define TSU_MAX_CELLS 32
typedef struct TsuCells {
    StoreCell cells[TSU_MAX_CELLS];
    char json[TSU_MAX_CELLS][256], hash[TSU_MAX_CELLS][40];
} TsuCells;

static inline void tsu_cells(TsuCells *c, int n, const char *variant) {
    cr_assert(n <= TSU_MAX_CELLS);
    uint32_t h = 2166136261u;
    for (const char *p = variant; *p; p++) h = (h ^ (uint8_t)*p) * 16777619u;
    for (int i = 0; i < n; i++) {
        snprintf(c->json[i], sizeof c->json[i],
                 "{\"model\":{\"name\":\"tiny\",\"width\":0.5},\"train\":{\"lr\":0.001,"
                 "\"sam\":{\"rho\":0.05},\"swa\":true},\"flags\":[1,2],\"seed\":%d}",
                 i);
        snprintf(c->hash[i], sizeof c->hash[i], "%08x%08x", h, (unsigned)(i + 1) * 2654435761u);
        c->cells[i] = (StoreCell){variant, i, "h1", c->json[i], c->hash[i]};
    }
}

/* The first value of a query on a separate raw connection (what a sqlite3
 * shell user sees): as a number (NaN for NULL), and as malloc'ed text in
 * *text when text is not NULL (NULL for NULL). */
static inline double query1(const char *db, const char *sql, char **text) {
    sqlite3 *h;
    sqlite3_stmt *s;
    cr_assert_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &s, NULL), SQLITE_OK, "%s: %s", sql,
                 sqlite3_errmsg(h));
    cr_assert_eq(sqlite3_step(s), SQLITE_ROW, "%s: no row", sql);
    double v = sqlite3_column_type(s, 0) == SQLITE_NULL ? NAN : sqlite3_column_double(s, 0);
    const unsigned char *t = sqlite3_column_text(s, 0);
    if (text) *text = t ? strdup((const char *)t) : NULL;
    sqlite3_finalize(s);
    sqlite3_close(h);
    return v;
}
static inline double q1(const char *db, const char *sql) { return query1(db, sql, NULL); }
static inline char *q1s(const char *db, const char *sql) {
    char *t;
    query1(db, sql, &t);
    return t;
}

static inline void raw_exec(const char *db, const char *sql) {
    sqlite3 *h;
    cr_assert_eq(sqlite3_open(db, &h), SQLITE_OK);
    char *err = NULL;
    cr_assert_eq(sqlite3_exec(h, sql, NULL, NULL, &err), SQLITE_OK, "%s", err ? err : "");
    sqlite3_close(h);
}

/* ---- a small finished experiment, for views, lookups and commands ------ */

/* Register one cell, claim it and finish it (done with test/auc = auc and
 * val/loss = 1 - auc, or failed with `error`). Returns its id. */
static inline int64_t add_run(Store *st, int64_t exp, const char *variant, int seed,
                              const char *hash, double auc, const char *error) {
    char json[128];
    snprintf(json, sizeof json, "{\"variant\":\"%s\",\"seed\":%d,\"h\":\"%s\"}", variant, seed,
             hash);
    StoreCell c = {variant, seed, "h1", json, hash};
    StoreRegistered reg;
    cr_assert_eq(store_register_cells(st, exp, &c, 1, &reg), VB_OK, "%s", vb_errmsg());
    const char *only[] = {hash};
    StoreClaimFilter f = {exp, only, 1};
    StoreRun r;
    bool claimed;
    cr_assert_eq(store_claim(st, &f, 0, &claimed, &r), VB_OK);
    cr_assert(claimed && r.id == reg.run_id);
    StoreProvenance p;
    store_provenance_local(&p);
    p.backend = "cpu", p.threads = 2, p.dataset_digest = "sha256:feed";
    cr_assert_eq(store_set_provenance(st, r.id, &p), VB_OK);
    for (int i = 0; i < 3; i++)
        cr_assert_eq(store_log_metric(st, r.id, "train", "loss", i, 0, 2.0 - i * 0.5), VB_OK);
    if (error) {
        cr_assert_eq(store_mark_failed(st, r.id, error), VB_OK);
    } else {
        cr_assert_eq(store_log_final(st, r.id, "test", "auc", 3, auc), VB_OK);
        cr_assert_eq(store_log_final(st, r.id, "val", "loss", 3, 1 - auc), VB_OK);
        cr_assert_eq(store_log_timing(st, r.id, "train", 1.5, 3), VB_OK);
        cr_assert_eq(store_log_timing(st, r.id, "train", 0.5, 1), VB_OK);
        cr_assert_eq(store_mark_done(st, r.id), VB_OK, "%s", vb_errmsg());
    }
    store_run_free(&r);
    return reg.run_id;
}

#define BAD_ERROR "bad, \"NaN\"\nloss"

static inline Store *results_db(const char *name, char *db, size_t size) {
    Store *st = tsu_fresh(name, db, size);
    int64_t exp, other;
    cr_assert_eq(store_ensure_experiment(st, "exp", "demo", "exp.yaml", &exp), VB_OK);
    cr_assert_eq(add_run(st, exp, "A", 1, "0a0a0001", 0.1, NULL), 1); /* superseded */
    cr_assert_eq(add_run(st, exp, "A", 1, "abcd1111", 0.7, NULL), 2);
    cr_assert_eq(add_run(st, exp, "A", 2, "abcd2222", 0.8, NULL), 3);
    cr_assert_eq(add_run(st, exp, "A", 3, "c0ffee03", 0.9, NULL), 4);
    cr_assert_eq(add_run(st, exp, "B", 1, "98760005", 0.6, NULL), 5);
    cr_assert_eq(add_run(st, exp, "A", 4, "dead0006", 0, BAD_ERROR), 6);
    cr_assert_eq(store_ensure_experiment(st, "other", "", "", &other), VB_OK);
    StoreCell q = {"Z", 9, "", "{\"z\":1}", "e0e0e0e0"};
    cr_assert_eq(store_register_cells(st, other, &q, 1, NULL), VB_OK);
    return st;
}

#endif
