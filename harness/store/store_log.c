/* store_log: what a running cell writes — metric rows through an in-memory
 * buffer flushed one transaction per batch, timings accumulated per phase,
 * and latency samples with their percentiles.
 *
 * Buffered rows belong to the handle, not to one run; a flush writes them
 * all with INSERT OR REPLACE, so a resumed run that re-logs steps after its
 * checkpoint overwrites what it logged before it was interrupted. Rows that
 * could not be written stay buffered (a later flush retries them). This file
 * must not be asked to check who owns a run: logging trusts its caller;
 * ownership is checked when the run is marked (store.c). */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness/store/store_internal.h"

void store_buffer_clear(Store *st, int64_t run_id) {
    int kept = 0;
    for (int i = 0; i < st->nbuf; i++) {
        StoreMetricRow *r = &st->buf[i];
        if (run_id == 0 || r->run_id == run_id) {
            free(r->split);
            free(r->key);
        } else {
            st->buf[kept++] = *r;
        }
    }
    st->nbuf = kept;
}

VbStatus store_flush_locked(Store *st) {
    if (st->nbuf == 0) return VB_OK;
    sqlite3_stmt *s;
    VB_TRY(store_prepare(st,
                         "INSERT OR REPLACE INTO metrics(run_id, split, key, step, epoch, value,"
                         " wall_time) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                         &s));
    for (int i = 0; i < st->nbuf; i++) {
        const StoreMetricRow *r = &st->buf[i];
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
        sqlite3_bind_int64(s, 1, r->run_id);
        store_bind_text(s, 2, r->split);
        store_bind_text(s, 3, r->key);
        if (!r->final) sqlite3_bind_int64(s, 4, r->step);
        if (r->epoch >= 0) sqlite3_bind_int64(s, 5, r->epoch);
        if (!isnan(r->value)) sqlite3_bind_double(s, 6, r->value);
        sqlite3_bind_double(s, 7, r->wall);
        if (sqlite3_step(s) != SQLITE_DONE) {
            VbStatus e = STORE_DB_FAIL(st, "writing metrics");
            sqlite3_finalize(s);
            return e;
        }
    }
    sqlite3_finalize(s);
    return VB_OK;
}

VbStatus store_flush(Store *st) {
    if (st->nbuf == 0) return VB_OK;
    VB_TRY(store_begin(st));
    VbStatus s = store_flush_locked(st);
    if (s == VB_OK) s = store_commit(st);
    else store_rollback(st);
    if (s == VB_OK) store_buffer_clear(st, 0);
    return s;
}

static VbStatus buffer_row(Store *st, int64_t run_id, const char *split, const char *key,
                           bool final, int64_t step, int64_t epoch, double value) {
    if (!key || !*key) return VB_FAIL(VB_ERR_INPUT, "a metric needs a key");
    if (!final && step < 0)
        return VB_FAIL(VB_ERR_INPUT, "metric %s: step %lld is negative", key, (long long)step);
    if (st->nbuf == st->capbuf) {
        st->capbuf = st->capbuf ? 2 * st->capbuf : 64;
        st->buf = vb_xrealloc(st->buf, (size_t)st->capbuf * sizeof *st->buf);
    }
    double now = store_now();
    st->buf[st->nbuf++] =
        (StoreMetricRow){run_id, vb_xstrdup(split ? split : ""), vb_xstrdup(key), final,
                         step,   epoch < 0 ? -1 : epoch,         value,           now};
    if (st->nbuf >= st->batch || now - st->buf[0].wall >= STORE_FLUSH_INTERVAL_S)
        return store_flush(st);
    return VB_OK;
}

VbStatus store_log_metric(Store *st, int64_t run_id, const char *split, const char *key,
                          int64_t step, int64_t epoch, double value) {
    return buffer_row(st, run_id, split, key, false, step, epoch, value);
}

VbStatus store_log_final(Store *st, int64_t run_id, const char *split, const char *key,
                         int64_t epoch, double value) {
    return buffer_row(st, run_id, split, key, true, 0, epoch, value);
}

VbStatus store_log_timing(Store *st, int64_t run_id, const char *phase, double seconds,
                          int64_t count) {
    if (!phase || !*phase) return VB_FAIL(VB_ERR_INPUT, "a timing needs a phase");
    if (!isfinite(seconds) || seconds < 0 || count < 0)
        return VB_FAIL(VB_ERR_INPUT, "timing %s: %g seconds, count %lld is not a valid total",
                       phase, seconds, (long long)count);
    sqlite3_stmt *s;
    VB_TRY(
        store_prepare(st,
                      "INSERT INTO timings(run_id, phase, seconds, count) VALUES (?1, ?2, ?3, ?4)"
                      " ON CONFLICT(run_id, phase) DO UPDATE SET"
                      " seconds = seconds + excluded.seconds, count = count + excluded.count",
                      &s));
    sqlite3_bind_int64(s, 1, run_id);
    store_bind_text(s, 2, phase);
    sqlite3_bind_double(s, 3, seconds);
    sqlite3_bind_int64(s, 4, count);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? VB_OK : STORE_DB_FAIL(st, "writing a timing");
}

double store_percentile(const double *sorted, int n, double q) {
    VB_ASSERT(n >= 1);
    double pos = q * (n - 1);
    if (pos <= 0) return sorted[0];
    int lo = (int)pos;
    if (lo >= n - 1) return sorted[n - 1];
    return sorted[lo] + (pos - lo) * (sorted[lo + 1] - sorted[lo]);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

VbStatus store_log_latency(Store *st, int64_t run_id, const char *component, int batch,
                           const double *samples_ms, int n) {
    if (!component || !*component) return VB_FAIL(VB_ERR_INPUT, "latency needs a component");
    if (n < 1 || batch < 1)
        return VB_FAIL(VB_ERR_INPUT, "latency of %s: %d samples at batch %d", component, n, batch);
    for (int i = 0; i < n; i++)
        if (isnan(samples_ms[i]))
            return VB_FAIL(VB_ERR_INPUT, "latency of %s: sample %d is NaN", component, i);
    double *v = vb_xmalloc((size_t)n * sizeof *v), sum = 0;
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        v[i] = samples_ms[i];
        sum += v[i];
        json_array_append_new(arr, json_real(v[i]));
    }
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    char *samples = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    VB_ASSERT(samples != NULL);
    sqlite3_stmt *s;
    VbStatus r = store_prepare(st,
                               "INSERT OR REPLACE INTO latency(run_id, component, batch, n,"
                               " samples_ms, p50, p90, p99, mean, min, max)"
                               " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                               &s);
    if (r == VB_OK) {
        sqlite3_bind_int64(s, 1, run_id);
        store_bind_text(s, 2, component);
        sqlite3_bind_int(s, 3, batch);
        sqlite3_bind_int(s, 4, n);
        store_bind_text(s, 5, samples);
        sqlite3_bind_double(s, 6, store_percentile(v, n, 0.50));
        sqlite3_bind_double(s, 7, store_percentile(v, n, 0.90));
        sqlite3_bind_double(s, 8, store_percentile(v, n, 0.99));
        sqlite3_bind_double(s, 9, sum / n);
        sqlite3_bind_double(s, 10, v[0]);
        sqlite3_bind_double(s, 11, v[n - 1]);
        if (sqlite3_step(s) != SQLITE_DONE) r = STORE_DB_FAIL(st, "writing latency");
        sqlite3_finalize(s);
    }
    free(samples);
    free(v);
    return r;
}
