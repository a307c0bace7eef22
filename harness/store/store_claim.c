/* store_claim: the atomic claim of a cell with its lease, lease renewal
 * (the runner's heartbeat), status changes (done, failed, released,
 * requeued), resume notes, checkpoints and the per-status counts (API and
 * concurrency rules in store.h).
 *
 * Every write is one transaction; those that read before they write (claim,
 * mark, release, requeue) start with BEGIN IMMEDIATE so two processes never
 * decide on the same snapshot. This file must not be asked to open the
 * store or register cells: store.c does. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/store/store_internal.h"

/* ---- claim and lease ---------------------------------------------------- */

/* Shared by claim and counts: ?1 now, ?2 experiment id (0 any), ?3 JSON
 * array of allowed hashes (NULL any). */
#define FILTER_SQL                   \
    "(?2 = 0 OR experiment_id = ?2)" \
    " AND (?3 IS NULL OR config_hash IN (SELECT value FROM json_each(?3)))"
#define TAKEOVER_SQL                                                       \
    "(status = 'running' AND (lease_expires IS NULL OR lease_expires < ?1" \
    " OR lease_expires > ?1 + " ABSURD_LEASE_S " OR vb_owner_dead(claim_owner)))"
/* STORE_LEASE_MAX_S plus a minute of clock skew, as SQL text */
#define ABSURD_LEASE_S "3660.0"
_Static_assert((long)STORE_LEASE_MAX_S + 60 == 3660, "ABSURD_LEASE_S follows STORE_LEASE_MAX_S");

static void bind_filter(sqlite3_stmt *s, const StoreClaimFilter *f, double now, char **hashes) {
    sqlite3_bind_double(s, 1, now);
    sqlite3_bind_int64(s, 2, f ? f->experiment_id : 0);
    *hashes = NULL;
    if (f && f->hashes) {
        json_t *a = json_array();
        for (int i = 0; i < f->nhashes; i++) json_array_append_new(a, json_string(f->hashes[i]));
        *hashes = json_dumps(a, JSON_COMPACT);
        json_decref(a);
        VB_ASSERT(*hashes != NULL);
    }
    store_bind_text(s, 3, *hashes);
}

static VbStatus claim_locked(Store *st, const StoreClaimFilter *f, double lease_s, bool *claimed,
                             StoreRun *run) {
    sqlite3_stmt *s;
    VB_TRY(store_prepare(st,
                         "SELECT id, CASE WHEN status = 'running' THEN claim_owner END,"
                         " CASE WHEN status = 'running' THEN lease_expires END"
                         " FROM runs WHERE (status = 'queued' OR " TAKEOVER_SQL ") AND " FILTER_SQL
                         " ORDER BY status = 'running' DESC, id LIMIT 1",
                         &s));
    double now = store_now();
    char *hashes;
    bind_filter(s, f, now, &hashes);
    int rc = sqlite3_step(s);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    /* whom a running cell is taken from, for the runner to report */
    char *prev_owner = rc == SQLITE_ROW ? store_col_strdup(s, 1) : NULL;
    double prev_lease = rc == SQLITE_ROW ? sqlite3_column_double(s, 2) : 0;
    sqlite3_finalize(s);
    free(hashes);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        free(prev_owner);
        return STORE_DB_FAIL(st, "finding a cell to run");
    }
    if (!id) return VB_OK;
    char iso[40];
    store_iso_time(now, iso, sizeof iso);
    VB_TRY(store_prepare(st,
                         "UPDATE runs SET status = 'running', claim_owner = ?1, lease_expires = ?2,"
                         " started = coalesce(started, ?3), attempts = attempts + 1,"
                         " error = NULL, finished = NULL WHERE id = ?4",
                         &s));
    store_bind_text(s, 1, st->owner);
    sqlite3_bind_double(s, 2, now + lease_s);
    store_bind_text(s, 3, iso);
    sqlite3_bind_int64(s, 4, id);
    rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        free(prev_owner);
        return STORE_DB_FAIL(st, "claiming a cell");
    }
    bool found;
    VbStatus r = store_read_run(st, id, run, &found);
    if (r != VB_OK || !found) {
        free(prev_owner);
        return r != VB_OK ? r
                          : VB_FAIL(VB_ERR_DB, "%s: run %lld vanished", st->path, (long long)id);
    }
    run->prev_owner = prev_owner;
    run->prev_lease_expires = prev_owner ? prev_lease : 0;
    *claimed = true;
    return VB_OK;
}

VbStatus store_claim(Store *st, const StoreClaimFilter *filter, double lease_s, bool *claimed,
                     StoreRun *run) {
    *claimed = false;
    memset(run, 0, sizeof *run);
    if (!(lease_s > 0)) lease_s = STORE_LEASE_DEFAULT_S;
    VB_TRY(store_begin(st));
    VbStatus s = claim_locked(st, filter, lease_s, claimed, run);
    if (s == VB_OK) s = store_commit(st);
    else store_rollback(st);
    if (s != VB_OK) {
        if (*claimed) store_run_free(run);
        *claimed = false;
        return s;
    }
    if (*claimed) {
        st->lease_s = lease_s;
        st->hb_run = run->id;
        st->hb_last = store_now();
    }
    return VB_OK;
}

VbStatus store_renew_lease(Store *st, int64_t run_id, double lease_s, bool *owned) {
    if (!(lease_s > 0)) lease_s = st->lease_s;
    sqlite3_stmt *s;
    VB_TRY(store_prepare(st,
                         "UPDATE runs SET lease_expires = ?1 WHERE id = ?2 AND status = 'running'"
                         " AND claim_owner = ?3",
                         &s));
    double now = store_now();
    sqlite3_bind_double(s, 1, now + lease_s);
    sqlite3_bind_int64(s, 2, run_id);
    store_bind_text(s, 3, st->owner);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) return STORE_DB_FAIL(st, "renewing a lease");
    *owned = sqlite3_changes(st->db) == 1;
    if (*owned) st->hb_run = run_id, st->hb_last = now;
    else store_buffer_clear(st, run_id); /* its new owner logs its own rows */
    return VB_OK;
}

VbStatus store_heartbeat(Store *st, int64_t run_id, bool *owned) {
    if (st->hb_run == run_id && store_now() - st->hb_last < st->lease_s / 4) {
        *owned = true;
        return VB_OK;
    }
    return store_renew_lease(st, run_id, 0, owned);
}

/* An UPDATE of a run this process owns; `what` names it in messages. */
static VbStatus update_owned(Store *st, int64_t run_id, const char *sql, const char *text1,
                             const char *what, bool *lost) {
    sqlite3_stmt *s;
    VB_TRY(store_prepare(st, sql, &s));
    char iso[40];
    store_iso_time(store_now(), iso, sizeof iso);
    store_bind_text(s, 1, text1);
    store_bind_text(s, 2, iso);
    sqlite3_bind_int64(s, 3, run_id);
    store_bind_text(s, 4, st->owner);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) return STORE_DB_FAIL(st, what);
    if (sqlite3_changes(st->db) == 1) return VB_OK;
    *lost = true;
    StoreRun r;
    bool found;
    VB_TRY(store_read_run(st, run_id, &r, &found));
    VbStatus e;
    if (!found) e = VB_FAIL(VB_ERR_DB, "%s: %s: no run %lld", st->path, what, (long long)run_id);
    else
        e = VB_FAIL(VB_ERR_DB, "%s: %s: run %lld is %s%s%s, not claimed by %s", st->path, what,
                    (long long)run_id, store_status_name(r.status), r.claim_owner ? " by " : "",
                    r.claim_owner ? r.claim_owner : "", st->owner);
    if (found) store_run_free(&r);
    return e;
}

/* Flush, then an owned update, in one transaction. */
static VbStatus finish_owned(Store *st, int64_t run_id, const char *sql, const char *text1,
                             const char *what) {
    VB_TRY(store_begin(st));
    bool lost = false;
    VbStatus s = store_flush_locked(st);
    if (s == VB_OK) s = update_owned(st, run_id, sql, text1, what, &lost);
    if (s == VB_OK) s = store_commit(st);
    else store_rollback(st);
    if (s == VB_OK) store_buffer_clear(st, 0);
    else if (lost) store_buffer_clear(st, run_id); /* the cell is not ours: drop its rows */
    if (s == VB_OK && st->hb_run == run_id) st->hb_run = 0;
    return s;
}

VbStatus store_mark_done(Store *st, int64_t run_id) {
    return finish_owned(st, run_id,
                        "UPDATE runs SET status = 'done', error = ?1, finished = ?2,"
                        " claim_owner = NULL, lease_expires = NULL"
                        " WHERE id = ?3 AND status = 'running' AND claim_owner = ?4",
                        NULL, "marking a run done");
}

VbStatus store_mark_failed_as(Store *st, int64_t run_id, const char *reason, bool transient) {
    return finish_owned(st, run_id,
                        transient ? "UPDATE runs SET status = 'failed', error = ?1, finished = ?2,"
                                    " claim_owner = NULL, lease_expires = NULL, transient = 1"
                                    " WHERE id = ?3 AND status = 'running' AND claim_owner = ?4"
                                  : "UPDATE runs SET status = 'failed', error = ?1, finished = ?2,"
                                    " claim_owner = NULL, lease_expires = NULL, transient = 0"
                                    " WHERE id = ?3 AND status = 'running' AND claim_owner = ?4",
                        reason && *reason ? reason : "failed (no reason given)",
                        "marking a run failed");
}

VbStatus store_mark_failed(Store *st, int64_t run_id, const char *reason) {
    return store_mark_failed_as(st, run_id, reason, false);
}

VbStatus store_note_resume(Store *st, int64_t run_id, const char *entry_json) {
    sqlite3_stmt *s;
    VB_TRY(store_prepare(st,
                         "UPDATE runs SET resumes = json_insert(coalesce(resumes, '[]'), '$[#]',"
                         " json(?2)) WHERE id = ?1",
                         &s));
    sqlite3_bind_int64(s, 1, run_id);
    store_bind_text(s, 2, entry_json);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) return STORE_DB_FAIL(st, "recording a resume");
    if (sqlite3_changes(st->db) != 1)
        return VB_FAIL(VB_ERR_INPUT, "%s: no run %lld", st->path, (long long)run_id);
    return VB_OK;
}

VbStatus store_release(Store *st, int64_t run_id) {
    return finish_owned(st, run_id,
                        "UPDATE runs SET status = 'queued', error = ?1,"
                        " finished = NULL,"
                        " claim_owner = NULL, lease_expires = NULL"
                        " WHERE id = ?3 AND status = 'running' AND claim_owner = ?4",
                        NULL, "releasing a run");
}

VbStatus store_set_checkpoint(Store *st, int64_t run_id, const char *path) {
    sqlite3_stmt *s;
    VB_TRY(store_prepare(st, "UPDATE runs SET checkpoint = ?1 WHERE id = ?2", &s));
    store_bind_text(s, 1, path);
    sqlite3_bind_int64(s, 2, run_id);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) return STORE_DB_FAIL(st, "recording a checkpoint");
    if (sqlite3_changes(st->db) != 1)
        return VB_FAIL(VB_ERR_INPUT, "%s: no run %lld", st->path, (long long)run_id);
    return VB_OK;
}

static VbStatus requeue_locked(Store *st, int64_t run_id) {
    StoreRun r;
    bool found;
    VB_TRY(store_read_run(st, run_id, &r, &found));
    if (!found) return VB_FAIL(VB_ERR_INPUT, "%s: no run %lld", st->path, (long long)run_id);
    StoreStatus status = r.status;
    store_run_free(&r);
    if (status != STORE_FAILED)
        return VB_FAIL(VB_ERR_INPUT, "%s: run %lld is %s; only failed runs can be requeued",
                       st->path, (long long)run_id, store_status_name(status));
    static const char *const sql[] = {
        "DELETE FROM metrics WHERE run_id = ?1",
        "DELETE FROM timings WHERE run_id = ?1",
        "DELETE FROM latency WHERE run_id = ?1",
        ("UPDATE runs SET status = 'queued', error = NULL, started = NULL, finished = NULL,"
         " checkpoint = NULL, claim_owner = NULL, lease_expires = NULL, transient = 0,"
         " resumes = NULL WHERE id = ?1"),
    };
    for (size_t i = 0; i < sizeof sql / sizeof sql[0]; i++) {
        sqlite3_stmt *s;
        VB_TRY(store_prepare(st, sql[i], &s));
        sqlite3_bind_int64(s, 1, run_id);
        int rc = sqlite3_step(s);
        sqlite3_finalize(s);
        if (rc != SQLITE_DONE) return STORE_DB_FAIL(st, "requeueing a run");
    }
    return VB_OK;
}

VbStatus store_requeue(Store *st, int64_t run_id) {
    VB_TRY(store_begin(st));
    VbStatus s = requeue_locked(st, run_id);
    if (s == VB_OK) s = store_commit(st);
    else store_rollback(st);
    if (s == VB_OK) store_buffer_clear(st, run_id);
    return s;
}

VbStatus store_counts(Store *st, const StoreClaimFilter *filter, StoreCounts *out) {
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s;
    VB_TRY(store_prepare(st,
                         "SELECT status, count(*), sum(" TAKEOVER_SQL
                         ") FROM runs WHERE " FILTER_SQL " GROUP BY status",
                         &s));
    char *hashes;
    bind_filter(s, filter, store_now(), &hashes);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        StoreStatus k;
        if (!store_status_parse((const char *)sqlite3_column_text(s, 0), &k)) {
            sqlite3_finalize(s);
            free(hashes);
            return vb_fail_plain(VB_ERR_DB,
                                 "%s: a run has a status vadbench never writes (a damaged "
                                 "database?)",
                                 st->path);
        }
        out->n[k] = sqlite3_column_int(s, 1);
        if (k == STORE_RUNNING) out->running_expired = sqlite3_column_int(s, 2);
    }
    sqlite3_finalize(s);
    free(hashes);
    return rc == SQLITE_DONE ? VB_OK : STORE_DB_FAIL(st, "counting runs");
}
