/* store_query: reading the results store — runs by filter, id or hash
 * prefix, a run's metrics, timings, latency summaries and raw samples,
 * experiments by name, and the one-row-per-run export table with every
 * final metric as a column.
 *
 * Everything here only reads; results are copied into caller-owned structs
 * so no statement outlives a call. This file must not be asked to format
 * output (the browsing commands in cmd_runs.c do). */
#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/store/store_internal.h"

const char STORE_RUN_COLUMNS[] =
    "r.id, r.experiment_id, e.name, r.variant, r.seed, r.holdout, r.status, r.error,"
    " r.created, r.started, r.finished,"
    " round((julianday(r.finished) - julianday(r.started)) * 86400.0, 3),"
    " r.config_json, r.config_hash, r.git_sha, r.git_dirty, r.host, r.cpu_model, r.gpu,"
    " r.gpu_driver, r.build_opts, r.libraries, r.backend, r.threads, r.dataset_digest,"
    " r.claim_owner, r.lease_expires, r.attempts, r.checkpoint, r.slurm_job_id,"
    " r.slurm_array_task_id, r.slurm_node, r.cpu_path, r.numerics, r.transient, r.resumes"
    " FROM runs r JOIN experiments e ON e.id = r.experiment_id";

bool store_run_from_row(sqlite3_stmt *s, StoreRun *o) {
    memset(o, 0, sizeof *o);
    int c = 0;
    o->id = sqlite3_column_int64(s, c++);
    o->experiment_id = sqlite3_column_int64(s, c++);
    o->experiment = store_col_strdup(s, c++);
    o->variant = store_col_strdup(s, c++);
    o->seed = sqlite3_column_int64(s, c++);
    o->holdout = store_col_strdup(s, c++);
    /* a damaged file can hold any text here (CHECK constraints are not
     * re-verified on reading): the caller reports it */
    bool valid = store_status_parse((const char *)sqlite3_column_text(s, c++), &o->status);
    o->error = store_col_strdup(s, c++);
    o->created = store_col_strdup(s, c++);
    o->started = store_col_strdup(s, c++);
    o->finished = store_col_strdup(s, c++);
    o->wall_s = sqlite3_column_type(s, c) == SQLITE_NULL ? -1 : sqlite3_column_double(s, c);
    c++;
    o->config_json = store_col_strdup(s, c++);
    o->config_hash = store_col_strdup(s, c++);
    o->git_sha = store_col_strdup(s, c++);
    o->git_dirty = sqlite3_column_type(s, c) == SQLITE_NULL ? -1 : sqlite3_column_int(s, c);
    c++;
    o->host = store_col_strdup(s, c++);
    o->cpu_model = store_col_strdup(s, c++);
    o->gpu = store_col_strdup(s, c++);
    o->gpu_driver = store_col_strdup(s, c++);
    o->build_opts = store_col_strdup(s, c++);
    o->libraries = store_col_strdup(s, c++);
    o->backend = store_col_strdup(s, c++);
    o->threads = sqlite3_column_int(s, c++);
    o->dataset_digest = store_col_strdup(s, c++);
    o->claim_owner = store_col_strdup(s, c++);
    o->lease_expires = sqlite3_column_double(s, c++);
    o->attempts = sqlite3_column_int(s, c++);
    o->checkpoint = store_col_strdup(s, c++);
    o->slurm_job_id = store_col_strdup(s, c++);
    o->slurm_array_task_id =
        sqlite3_column_type(s, c) == SQLITE_NULL ? -1 : sqlite3_column_int(s, c);
    c++;
    o->slurm_node = store_col_strdup(s, c++);
    o->cpu_path = store_col_strdup(s, c++);
    o->numerics = sqlite3_column_int(s, c++);
    o->transient = sqlite3_column_int(s, c++) != 0;
    o->resumes = store_col_strdup(s, c++);
    return valid;
}

VbStatus store_bad_status(Store *st, int64_t run_id) {
    return vb_fail_plain(VB_ERR_DB,
                         "%s: run %lld has a status vadbench never writes (a damaged database?)",
                         st->path, (long long)run_id);
}

void store_run_free(StoreRun *r) {
    char **strs[] = {&r->experiment,   &r->variant,        &r->holdout,     &r->error,
                     &r->created,      &r->started,        &r->finished,    &r->config_json,
                     &r->config_hash,  &r->git_sha,        &r->host,        &r->cpu_model,
                     &r->gpu,          &r->gpu_driver,     &r->build_opts,  &r->libraries,
                     &r->backend,      &r->dataset_digest, &r->claim_owner, &r->checkpoint,
                     &r->slurm_job_id, &r->slurm_node,     &r->cpu_path,    &r->resumes,
                     &r->prev_owner};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        free(*strs[i]);
        *strs[i] = NULL;
    }
}

static char *run_sql(const char *where) {
    size_t n = strlen(STORE_RUN_COLUMNS) + strlen(where) + 16;
    char *sql = vb_xmalloc(n);
    snprintf(sql, n, "SELECT %s %s", STORE_RUN_COLUMNS, where);
    return sql;
}

VbStatus store_read_run(Store *st, int64_t run_id, StoreRun *out, bool *found) {
    *found = false;
    memset(out, 0, sizeof *out);
    char *sql = run_sql("WHERE r.id = ?1");
    sqlite3_stmt *s;
    VbStatus r = store_prepare(st, sql, &s);
    free(sql);
    VB_TRY(r);
    sqlite3_bind_int64(s, 1, run_id);
    int rc = sqlite3_step(s);
    bool valid = true;
    if (rc == SQLITE_ROW) {
        valid = store_run_from_row(s, out);
        *found = true;
    }
    sqlite3_finalize(s);
    if (!valid) {
        store_run_free(out);
        *found = false;
        return store_bad_status(st, run_id);
    }
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? VB_OK : STORE_DB_FAIL(st, "reading a run");
}

VbStatus store_get_run(Store *st, int64_t run_id, StoreRun *out) {
    bool found;
    VB_TRY(store_read_run(st, run_id, out, &found));
    if (!found) return vb_fail_plain(VB_ERR_INPUT, "%s: no run %lld", st->path, (long long)run_id);
    return VB_OK;
}

/* Rows of `s` (selecting STORE_RUN_COLUMNS) appended to *out. */
static VbStatus collect_runs(Store *st, sqlite3_stmt *s, StoreRunList *out, const char *what) {
    int rc, cap = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (out->n == cap)
            out->runs =
                vb_xrealloc(out->runs, (size_t)(cap = cap ? 2 * cap : 16) * sizeof *out->runs);
        if (!store_run_from_row(s, &out->runs[out->n++])) {
            VbStatus e = store_bad_status(st, out->runs[out->n - 1].id);
            store_run_list_free(out);
            return e;
        }
    }
    if (rc != SQLITE_DONE) {
        VbStatus e = STORE_DB_FAIL(st, what);
        store_run_list_free(out);
        return e;
    }
    return VB_OK;
}

VbStatus store_list_runs(Store *st, const StoreRunFilter *f, StoreRunList *out) {
    memset(out, 0, sizeof *out);
    char *sql = run_sql("WHERE (?1 IS NULL OR e.name = ?1) AND (?2 IS NULL OR r.status = ?2)"
                        " ORDER BY r.id");
    sqlite3_stmt *s;
    VbStatus r = store_prepare(st, sql, &s);
    free(sql);
    VB_TRY(r);
    store_bind_text(s, 1, f ? f->experiment : NULL);
    store_bind_text(s, 2, f && f->has_status ? store_status_name(f->status) : NULL);
    r = collect_runs(st, s, out, "listing runs");
    sqlite3_finalize(s);
    return r;
}

void store_run_list_free(StoreRunList *l) {
    for (int i = 0; i < l->n; i++) store_run_free(&l->runs[i]);
    free(l->runs);
    l->runs = NULL;
    l->n = 0;
}

#define MIN_PREFIX 4
#define MAX_LISTED 10

static VbStatus ambiguous(Store *st, const char *spec, const StoreRunList *l) {
    char msg[1536];
    int n = snprintf(msg, sizeof msg,
                     "%s: '%s' is ambiguous; it starts the config hash of:", st->path, spec);
    for (int i = 0; i < l->n && i < MAX_LISTED && n < (int)sizeof msg; i++) {
        const StoreRun *r = &l->runs[i];
        n += snprintf(msg + n, sizeof msg - (size_t)n, "\n  run %lld  %.16s  %s %s%s%s seed %lld",
                      (long long)r->id, r->config_hash, r->experiment, r->variant,
                      *r->holdout ? " " : "", r->holdout, (long long)r->seed);
    }
    if (l->n > MAX_LISTED && n < (int)sizeof msg)
        snprintf(msg + n, sizeof msg - (size_t)n, "\n  ... and more");
    return vb_fail_plain(VB_ERR_INPUT, "%s\n(give more digits of the hash, or the run id)", msg);
}

VbStatus store_find_run(Store *st, const char *spec, StoreRun *out) {
    memset(out, 0, sizeof *out);
    size_t len = spec ? strlen(spec) : 0;
    bool digits = len > 0, hex = len > 0;
    for (size_t i = 0; i < len; i++) {
        digits = digits && isdigit((unsigned char)spec[i]);
        hex = hex && isxdigit((unsigned char)spec[i]);
    }
    if (digits && len <= 18) {
        bool found;
        VB_TRY(store_read_run(st, strtoll(spec, NULL, 10), out, &found));
        if (found) return VB_OK;
    }
    if (!hex || len < MIN_PREFIX)
        return vb_fail_plain(VB_ERR_INPUT,
                             "%s: no run '%s' (give a run id or at least %d hex digits of its "
                             "config hash)",
                             st->path, spec ? spec : "", MIN_PREFIX);
    char *prefix = vb_xstrdup(spec);
    for (char *p = prefix; *p; p++) *p = (char)tolower((unsigned char)*p);
    char *sql = run_sql("WHERE substr(lower(r.config_hash), 1, ?2) = ?1"
                        " OR substr(lower(r.legacy_hash), 1, ?2) = ?1 ORDER BY r.id LIMIT 11");
    sqlite3_stmt *s;
    VbStatus r = store_prepare(st, sql, &s);
    free(sql);
    if (r != VB_OK) {
        free(prefix);
        return r;
    }
    store_bind_text(s, 1, prefix);
    sqlite3_bind_int(s, 2, (int)len);
    free(prefix);
    StoreRunList l = {0};
    r = collect_runs(st, s, &l, "finding a run");
    sqlite3_finalize(s);
    VB_TRY(r);
    if (l.n == 1) {
        *out = l.runs[0];
        free(l.runs);
        return VB_OK;
    }
    r = l.n == 0 ? vb_fail_plain(VB_ERR_INPUT, "%s: no run with id or config hash prefix '%s'",
                                 st->path, spec)
                 : ambiguous(st, spec, &l);
    store_run_list_free(&l);
    return r;
}

VbStatus store_run_metrics(Store *st, int64_t run_id, bool finals_only, StoreMetricList *out) {
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s;
    VB_TRY(store_prepare(st,
                         "SELECT split, key, step, epoch, value, wall_time FROM metrics"
                         " WHERE run_id = ?1 AND (?2 = 0 OR step IS NULL)"
                         " ORDER BY split, key, step IS NOT NULL, step",
                         &s));
    sqlite3_bind_int64(s, 1, run_id);
    sqlite3_bind_int(s, 2, finals_only ? 1 : 0);
    int rc, cap = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (out->n == cap)
            out->rows =
                vb_xrealloc(out->rows, (size_t)(cap = cap ? 2 * cap : 16) * sizeof *out->rows);
        StoreMetric *m = &out->rows[out->n++];
        m->split = store_col_strdup(s, 0);
        m->key = store_col_strdup(s, 1);
        m->has_step = sqlite3_column_type(s, 2) != SQLITE_NULL;
        m->step = sqlite3_column_int64(s, 2);
        m->has_epoch = sqlite3_column_type(s, 3) != SQLITE_NULL;
        m->epoch = sqlite3_column_int64(s, 3);
        m->value = sqlite3_column_type(s, 4) == SQLITE_NULL ? NAN : sqlite3_column_double(s, 4);
        m->wall_time = sqlite3_column_double(s, 5);
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        store_metric_list_free(out);
        return STORE_DB_FAIL(st, "reading metrics");
    }
    return VB_OK;
}

void store_metric_list_free(StoreMetricList *l) {
    for (int i = 0; i < l->n; i++) free(l->rows[i].split), free(l->rows[i].key);
    free(l->rows);
    l->rows = NULL;
    l->n = 0;
}

VbStatus store_run_timings(Store *st, int64_t run_id, StoreTiming **rows, int *n) {
    *rows = NULL;
    *n = 0;
    sqlite3_stmt *s;
    VB_TRY(store_prepare(st,
                         "SELECT phase, seconds, count FROM timings WHERE run_id = ?1"
                         " ORDER BY phase",
                         &s));
    sqlite3_bind_int64(s, 1, run_id);
    int rc, cap = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap)
            *rows = vb_xrealloc(*rows, (size_t)(cap = cap ? 2 * cap : 8) * sizeof **rows);
        StoreTiming *t = &(*rows)[(*n)++];
        t->phase = store_col_strdup(s, 0);
        t->seconds = sqlite3_column_double(s, 1);
        t->count = sqlite3_column_int64(s, 2);
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        store_timings_free(*rows, *n);
        *rows = NULL;
        *n = 0;
        return STORE_DB_FAIL(st, "reading timings");
    }
    return VB_OK;
}

void store_timings_free(StoreTiming *rows, int n) {
    for (int i = 0; i < n; i++) free(rows[i].phase);
    free(rows);
}

VbStatus store_run_latency(Store *st, int64_t run_id, StoreLatency **rows, int *n) {
    *rows = NULL;
    *n = 0;
    sqlite3_stmt *s;
    VB_TRY(store_prepare(st,
                         "SELECT component, batch, n, p50, p90, p99, mean, min, max FROM latency"
                         " WHERE run_id = ?1 ORDER BY component, batch",
                         &s));
    sqlite3_bind_int64(s, 1, run_id);
    int rc, cap = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap)
            *rows = vb_xrealloc(*rows, (size_t)(cap = cap ? 2 * cap : 8) * sizeof **rows);
        StoreLatency *l = &(*rows)[(*n)++];
        l->component = store_col_strdup(s, 0);
        l->batch = sqlite3_column_int(s, 1);
        l->n = sqlite3_column_int(s, 2);
        double *v[] = {&l->p50, &l->p90, &l->p99, &l->mean, &l->min, &l->max};
        for (int i = 0; i < 6; i++) *v[i] = sqlite3_column_double(s, 3 + i);
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        store_latency_free(*rows, *n);
        *rows = NULL;
        *n = 0;
        return STORE_DB_FAIL(st, "reading latency");
    }
    return VB_OK;
}

void store_latency_free(StoreLatency *rows, int n) {
    for (int i = 0; i < n; i++) free(rows[i].component);
    free(rows);
}

VbStatus store_latency_samples(Store *st, int64_t run_id, const char *component, int batch,
                               double **ms, int *n) {
    *ms = NULL;
    *n = 0;
    sqlite3_stmt *s;
    VB_TRY(store_prepare(st,
                         "SELECT samples_ms FROM latency WHERE run_id = ?1 AND component = ?2"
                         " AND batch = ?3",
                         &s));
    sqlite3_bind_int64(s, 1, run_id);
    store_bind_text(s, 2, component);
    sqlite3_bind_int(s, 3, batch);
    int rc = sqlite3_step(s);
    char *text = rc == SQLITE_ROW ? store_col_strdup(s, 0) : NULL;
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return STORE_DB_FAIL(st, "reading latency samples");
    const char *db = store_path(st);
    if (!text)
        return VB_FAIL(VB_ERR_INPUT, "%s: run %lld has no latency samples of '%s' at batch %d", db,
                       (long long)run_id, component, batch);
    json_error_t e;
    json_t *arr = json_loads(text, 0, &e);
    free(text);
    size_t m = json_is_array(arr) ? json_array_size(arr) : 0;
    VbStatus r = VB_OK;
    if (m == 0)
        r = VB_FAIL(VB_ERR_INPUT,
                    "%s: run %lld: latency samples of '%s' at batch %d are not a JSON array of "
                    "numbers",
                    db, (long long)run_id, component, batch);
    if (r == VB_OK) *ms = vb_xmalloc(m * sizeof **ms);
    for (size_t i = 0; i < m && r == VB_OK; i++) {
        json_t *v = json_array_get(arr, i);
        if (!json_is_number(v))
            r = VB_FAIL(VB_ERR_INPUT, "%s: run %lld: latency sample %zu of '%s' is not a number",
                        db, (long long)run_id, i, component);
        else (*ms)[i] = json_number_value(v);
    }
    json_decref(arr);
    if (r != VB_OK) {
        free(*ms);
        *ms = NULL;
        return r;
    }
    *n = (int)m;
    return VB_OK;
}

/* ---- experiments ------------------------------------------------------------ */

VbStatus store_experiment_info(Store *st, const char *name, char **description, char **file,
                               bool *found) {
    *description = *file = NULL;
    sqlite3_stmt *s;
    VB_TRY(store_prepare(st, "SELECT description, file FROM experiments WHERE name = ?1", &s));
    store_bind_text(s, 1, name);
    int rc = sqlite3_step(s);
    *found = rc == SQLITE_ROW;
    if (*found) {
        *description = store_col_strdup(s, 0);
        *file = store_col_strdup(s, 1);
    }
    sqlite3_finalize(s);
    if (!*description) *description = vb_xstrdup("");
    if (!*file) *file = vb_xstrdup("");
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? VB_OK : STORE_DB_FAIL(st, "reading experiment");
}

VbStatus store_experiment_names(Store *st, char **joined) {
    *joined = NULL;
    sqlite3_stmt *s;
    VB_TRY(store_prepare(st, "SELECT name FROM experiments ORDER BY name", &s));
    size_t cap = 256, len = 0;
    char *out = vb_xcalloc(cap, 1);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *n = (const char *)sqlite3_column_text(s, 0);
        size_t need = len + strlen(n ? n : "") + 3;
        if (need > cap) out = vb_xrealloc(out, cap = 2 * need);
        len += (size_t)snprintf(out + len, cap - len, "%s%s", len ? ", " : "", n ? n : "");
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        free(out);
        return STORE_DB_FAIL(st, "listing experiments");
    }
    *joined = out;
    return VB_OK;
}

/* ---- export ---------------------------------------------------------------- */

static const char EXPORT_SQL[] =
    "SELECT r.id AS run_id, e.name AS experiment, r.variant, r.holdout, r.seed, r.status,"
    " r.error, r.config_hash, r.created, r.started, r.finished,"
    " round((julianday(r.finished) - julianday(r.started)) * 86400.0, 3) AS wall_s, r.attempts,"
    " r.git_sha, r.git_dirty, r.host, r.cpu_model, r.gpu, r.gpu_driver, r.build_opts,"
    " r.libraries, r.backend, r.threads, r.dataset_digest, r.cpu_path, r.numerics"
    " FROM runs r JOIN experiments e ON e.id = r.experiment_id";
#define RUN_FILTER " WHERE (?1 IS NULL OR e.name = ?1) AND (?2 IS NULL OR r.status = ?2)"

static void bind_run_filter(sqlite3_stmt *s, const StoreRunFilter *f) {
    store_bind_text(s, 1, f ? f->experiment : NULL);
    store_bind_text(s, 2, f && f->has_status ? store_status_name(f->status) : NULL);
}

static StoreValue column_value(sqlite3_stmt *s, int c) {
    StoreValue v = {0};
    switch (sqlite3_column_type(s, c)) {
    case SQLITE_INTEGER: v.type = STORE_INT, v.i = sqlite3_column_int64(s, c); break;
    case SQLITE_FLOAT: v.type = STORE_REAL, v.r = sqlite3_column_double(s, c); break;
    case SQLITE_NULL: v.type = STORE_NULL; break;
    default: v.type = STORE_TEXT, v.s = store_col_strdup(s, c); break;
    }
    return v;
}

typedef struct MetricName {
    char *split, *key;
} MetricName;

static int cmp_metric_name(const void *a, const void *b) {
    const MetricName *x = a, *y = b;
    int c = strcmp(x->split, y->split);
    return c ? c : strcmp(x->key, y->key);
}

static int cmp_run_id(const void *key, const void *cell) {
    int64_t id = *(const int64_t *)key, other = ((const StoreValue *)cell)->i;
    return (id > other) - (id < other);
}

/* The distinct final metric names of the filtered runs, sorted. */
static VbStatus export_names(Store *st, const StoreRunFilter *f, MetricName **names, int *n) {
    sqlite3_stmt *s;
    VB_TRY(store_prepare(st,
                         "SELECT DISTINCT coalesce(m.split, ''), coalesce(m.key, '') FROM metrics m"
                         " JOIN runs r ON r.id = m.run_id JOIN experiments e ON e.id ="
                         " r.experiment_id" RUN_FILTER " AND m.step IS NULL ORDER BY 1, 2",
                         &s));
    bind_run_filter(s, f);
    int rc, cap = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*n == cap)
            *names = vb_xrealloc(*names, (size_t)(cap = cap ? 2 * cap : 16) * sizeof **names);
        (*names)[(*n)++] = (MetricName){store_col_strdup(s, 0), store_col_strdup(s, 1)};
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? VB_OK : STORE_DB_FAIL(st, "listing final metrics");
}

/* Rows of the fixed columns, one per run; t->cells sized for all columns. */
static VbStatus export_runs(Store *st, const StoreRunFilter *f, StoreTable *t, int nfixed) {
    char sql[sizeof EXPORT_SQL + sizeof RUN_FILTER + 32];
    snprintf(sql, sizeof sql, "%s%s ORDER BY r.id", EXPORT_SQL, RUN_FILTER);
    sqlite3_stmt *s;
    VB_TRY(store_prepare(st, sql, &s));
    bind_run_filter(s, f);
    VB_ASSERT(sqlite3_column_count(s) == nfixed);
    for (int c = 0; c < nfixed; c++) t->columns[c] = vb_xstrdup(sqlite3_column_name(s, c));
    int rc, cap = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (t->nrows == cap) {
            cap = cap ? 2 * cap : 16;
            t->cells = vb_xrealloc(t->cells, (size_t)cap * (size_t)t->ncols * sizeof *t->cells);
        }
        StoreValue *row = &t->cells[(size_t)t->nrows * (size_t)t->ncols];
        memset(row, 0, (size_t)t->ncols * sizeof *row);
        for (int c = 0; c < nfixed; c++) row[c] = column_value(s, c);
        t->nrows++;
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? VB_OK : STORE_DB_FAIL(st, "exporting runs");
}

/* Fill the metric columns from the final values of the filtered runs. */
static VbStatus export_values(Store *st, const StoreRunFilter *f, StoreTable *t,
                              const MetricName *names, int nnames, int nfixed) {
    sqlite3_stmt *s;
    VB_TRY(store_prepare(st,
                         "SELECT m.run_id, coalesce(m.split, ''), coalesce(m.key, ''), m.value"
                         " FROM metrics m"
                         " JOIN runs r ON r.id = m.run_id JOIN experiments e ON e.id ="
                         " r.experiment_id" RUN_FILTER " AND m.step IS NULL",
                         &s));
    bind_run_filter(s, f);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(s, 0);
        MetricName key = {(char *)sqlite3_column_text(s, 1), (char *)sqlite3_column_text(s, 2)};
        const MetricName *name =
            bsearch(&key, names, (size_t)nnames, sizeof *names, cmp_metric_name);
        int row = -1;
        for (int lo = 0, hi = t->nrows - 1; lo <= hi && row < 0;) {
            int mid = (lo + hi) / 2, c = cmp_run_id(&id, store_cell(t, mid, 0));
            if (c == 0) row = mid;
            else if (c < 0) hi = mid - 1;
            else lo = mid + 1;
        }
        if (!name || row < 0) { /* the two queries disagree: only a damaged file does that */
            sqlite3_finalize(s);
            return vb_fail_plain(VB_ERR_DB,
                                 "%s: exporting: the metrics and runs tables disagree "
                                 "(a damaged database?)",
                                 st->path);
        }
        StoreValue *v =
            &t->cells[(size_t)row * (size_t)t->ncols + (size_t)(nfixed + (name - names))];
        if (sqlite3_column_type(s, 3) != SQLITE_NULL)
            *v = (StoreValue){.type = STORE_REAL, .r = sqlite3_column_double(s, 3)};
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? VB_OK : STORE_DB_FAIL(st, "exporting metrics");
}

VbStatus store_export(Store *st, const StoreRunFilter *filter, StoreTable *out) {
    memset(out, 0, sizeof *out);
    MetricName *names = NULL;
    int nnames = 0;
    /* one read transaction: the three queries see the same snapshot */
    if (sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return STORE_DB_FAIL(st, "starting a read transaction");
    VbStatus r = export_names(st, filter, &names, &nnames);
    if (r == VB_OK) {
        out->ncols = STORE_EXPORT_FIXED_COLUMNS + nnames;
        out->columns = vb_xcalloc((size_t)out->ncols, sizeof *out->columns);
        for (int i = 0; i < nnames; i++) {
            size_t n = strlen(names[i].split) + strlen(names[i].key) + 2;
            char *c = vb_xmalloc(n);
            snprintf(c, n, "%s%s%s", names[i].split, *names[i].split ? "/" : "", names[i].key);
            out->columns[STORE_EXPORT_FIXED_COLUMNS + i] = c;
        }
        r = export_runs(st, filter, out, STORE_EXPORT_FIXED_COLUMNS);
    }
    if (r == VB_OK) r = export_values(st, filter, out, names, nnames, STORE_EXPORT_FIXED_COLUMNS);
    store_rollback(st); /* ends the read transaction */
    for (int i = 0; i < nnames; i++) free(names[i].split), free(names[i].key);
    free(names);
    if (r != VB_OK) store_table_free(out);
    return r;
}

void store_table_free(StoreTable *t) {
    for (int c = 0; c < t->ncols; c++) free(t->columns ? t->columns[c] : NULL);
    for (size_t i = 0; i < (size_t)t->nrows * (size_t)t->ncols; i++) free(t->cells[i].s);
    free(t->columns);
    free(t->cells);
    memset(t, 0, sizeof *t);
}
