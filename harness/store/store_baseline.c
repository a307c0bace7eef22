/* store_baseline: named baselines — a name mapped to a set of runs that
 * `check` and reports compare candidates against. Pinning replaces the set
 * in one transaction and refuses run ids that do not exist (leaving the old
 * set in place). This file must not be asked to choose which runs make a
 * baseline: its callers do. */
#include <stdlib.h>

#include "harness/store/store_internal.h"

static VbStatus pin_locked(Store *st, const char *name, const int64_t *ids, int n) {
    sqlite3_stmt *s;
    VB_TRY(store_prepare(st, "DELETE FROM baselines WHERE name = ?1", &s));
    store_bind_text(s, 1, name);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) return STORE_DB_FAIL(st, "clearing a baseline");
    char now[40];
    store_iso_time(store_now(), now, sizeof now);
    VB_TRY(store_prepare(st,
                         "INSERT OR IGNORE INTO baselines(name, run_id, pinned)"
                         " SELECT ?1, id, ?3 FROM runs WHERE id = ?2",
                         &s));
    VbStatus r = VB_OK;
    for (int i = 0; i < n && r == VB_OK; i++) {
        sqlite3_reset(s);
        store_bind_text(s, 1, name);
        sqlite3_bind_int64(s, 2, ids[i]);
        store_bind_text(s, 3, now);
        if (sqlite3_step(s) != SQLITE_DONE) r = STORE_DB_FAIL(st, "pinning a baseline");
        else if (sqlite3_changes(st->db) == 0) {
            /* either a duplicate id in ids[] or no such run */
            bool dup = false;
            for (int j = 0; j < i; j++) dup = dup || ids[j] == ids[i];
            if (!dup)
                r = VB_FAIL(VB_ERR_INPUT, "%s: baseline %s: no run %lld", st->path, name,
                            (long long)ids[i]);
        }
    }
    sqlite3_finalize(s);
    return r;
}

VbStatus store_baseline_pin(Store *st, const char *name, const int64_t *ids, int n) {
    if (!name || !*name) return VB_FAIL(VB_ERR_INPUT, "a baseline needs a name");
    VB_TRY(store_begin(st));
    VbStatus s = pin_locked(st, name, ids, n);
    if (s == VB_OK) s = store_commit(st);
    else store_rollback(st);
    return s;
}

VbStatus store_baseline_get(Store *st, const char *name, int64_t **ids, int *n) {
    *ids = NULL;
    *n = 0;
    sqlite3_stmt *s;
    VB_TRY(store_prepare(st, "SELECT run_id FROM baselines WHERE name = ?1 ORDER BY run_id", &s));
    store_bind_text(s, 1, name);
    int rc, cap = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap) *ids = vb_xrealloc(*ids, (size_t)(cap = cap ? 2 * cap : 8) * sizeof **ids);
        (*ids)[(*n)++] = sqlite3_column_int64(s, 0);
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        free(*ids);
        *ids = NULL;
        *n = 0;
        return STORE_DB_FAIL(st, "reading a baseline");
    }
    return VB_OK;
}
