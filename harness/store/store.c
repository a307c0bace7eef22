/* store: opening the results store, experiments, registering the cells of a
 * matrix, and provenance (API and concurrency rules in store.h; the claim,
 * its lease and status changes are in store_claim.c, baselines in
 * store_baseline.c, logging in store_log.c, reading in store_query.c, the
 * schema in store_schema.c).
 *
 * Every write is one transaction; those that read before they write (claim,
 * mark, release, requeue) start with BEGIN IMMEDIATE so two processes never
 * decide on the same snapshot. This file must not be asked to run cells or
 * to interpret configs beyond flattening them into params. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness/store/provenance.h"
#include "harness/store/store_internal.h"

#define BUSY_TIMEOUT_MS 10000

/* ---- helpers shared by the store's files ------------------------------- */

VbStatus store_db_fail_at(Store *st, const char *what, const char *file, int line) {
    const char *msg = st->db ? sqlite3_errmsg(st->db) : "out of memory";
    return vb_fail_at(VB_ERR_DB, file, line, "%s: %s: %s", st->path, what, msg);
}

VbStatus store_prepare(Store *st, const char *sql, sqlite3_stmt **out) {
    if (sqlite3_prepare_v2(st->db, sql, -1, out, NULL) != SQLITE_OK) {
        *out = NULL;
        return STORE_DB_FAIL(st, "preparing a statement");
    }
    return VB_OK;
}

VbStatus store_exec(Store *st, const char *sql) {
    if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return STORE_DB_FAIL(st, "executing SQL");
    return VB_OK;
}

VbStatus store_begin(Store *st) {
    if (sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return STORE_DB_FAIL(st, "starting a transaction");
    return VB_OK;
}

VbStatus store_commit(Store *st) {
    if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        VbStatus s = STORE_DB_FAIL(st, "committing");
        store_rollback(st);
        return s;
    }
    return VB_OK;
}

void store_rollback(Store *st) {
    if (!sqlite3_get_autocommit(st->db)) sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

int store_bind_text(sqlite3_stmt *s, int i, const char *v) {
    return v ? sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(s, i);
}

char *store_col_strdup(sqlite3_stmt *s, int i) {
    const unsigned char *t = sqlite3_column_text(s, i);
    return t ? vb_xstrdup((const char *)t) : NULL;
}

double store_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void store_iso_time(double unix_s, char *buf, int size) {
    time_t sec = (time_t)floor(unix_s);
    int ms = (int)((unix_s - (double)sec) * 1000.0);
    if (ms > 999) ms = 999;
    struct tm tm;
    gmtime_r(&sec, &tm);
    snprintf(buf, (size_t)size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

void store_format_real(double v, char *buf, int size) {
    if (isnan(v)) {
        snprintf(buf, (size_t)size, "nan");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, (size_t)size, v > 0 ? "inf" : "-inf");
        return;
    }
    snprintf(buf, (size_t)size, "%.15g", v);
    if (strtod(buf, NULL) != v) snprintf(buf, (size_t)size, "%.17g", v);
}

const char *store_status_name(StoreStatus s) {
    static const char *names[] = {"queued", "running", "done", "failed"};
    return (unsigned)s < 4 ? names[s] : "unknown";
}

bool store_status_parse(const char *name, StoreStatus *out) {
    for (int i = 0; i < 4; i++)
        if (name && strcmp(name, store_status_name((StoreStatus)i)) == 0) {
            *out = (StoreStatus)i;
            return true;
        }
    return false;
}

const char *store_default_path(void) {
    const char *e = getenv("VADBENCH_DB");
    return e && *e ? e : "results/vadbench.db";
}

const char *store_path(const Store *st) { return st->path; }
const char *store_owner(const Store *st) { return st->owner; }
void store_set_batch(Store *st, int rows) { st->batch = rows >= 1 ? rows : 1; }

/* ---- opening ------------------------------------------------------------ */

/* vb_owner_dead(owner): 1 when `owner` ("host:pid[/N]") names a process on this
 * host that no longer exists, so its cell can be taken over at once. */
static void owner_dead_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    (void)argc;
    const char *owner = (const char *)sqlite3_value_text(argv[0]);
    const char *host = sqlite3_user_data(ctx);
    int dead = 0;
    const char *colon = owner ? strrchr(owner, ':') : NULL;
    if (colon && (size_t)(colon - owner) == strlen(host) &&
        strncmp(owner, host, (size_t)(colon - owner)) == 0) {
        char *end;
        long pid = strtol(colon + 1, &end, 10);
        if ((*end == 0 || *end == '/') && pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH)
            dead = 1;
    }
    sqlite3_result_int(ctx, dead);
}

static VbStatus make_parent_dirs(const char *path) {
    char *dir = vb_xstrdup(path);
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
            VbStatus s = VB_FAIL(VB_ERR_IO, "%s: cannot create directory %s: %s", path, dir,
                                 strerror(errno));
            free(dir);
            return s;
        }
        *p = '/';
    }
    free(dir);
    return VB_OK;
}

/* PRAGMA journal_mode = WAL; *mode gets the resulting mode. Switching needs
 * an exclusive lock and SQLite does not wait for it through the busy
 * handler, so processes opening a fresh file together retry here for up to
 * the busy timeout. */
static VbStatus set_wal(Store *st, char *mode, size_t size) {
    for (int waited_ms = 0;; waited_ms += 10) {
        sqlite3_stmt *s;
        if (sqlite3_prepare_v2(st->db, "PRAGMA journal_mode = WAL", -1, &s, NULL) != SQLITE_OK)
            return STORE_DB_FAIL(st, "switching to WAL mode");
        int rc = sqlite3_step(s);
        if (rc == SQLITE_ROW) snprintf(mode, size, "%s", (const char *)sqlite3_column_text(s, 0));
        sqlite3_finalize(s);
        if (rc == SQLITE_ROW) return VB_OK;
        if ((rc & 0xff) != SQLITE_BUSY || waited_ms >= BUSY_TIMEOUT_MS)
            return STORE_DB_FAIL(st, "switching to WAL mode");
        usleep(10 * 1000);
    }
}

/* The connection's settings and functions, for every mode. */
VbStatus store_setup_connection(Store *st) {
    sqlite3_extended_result_codes(st->db, 1);
    if (sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS) != SQLITE_OK)
        return STORE_DB_FAIL(st, "setting the busy timeout");
    if (sqlite3_create_function(st->db, "vb_owner_dead", 1, SQLITE_UTF8 | SQLITE_DIRECTONLY,
                                (void *)provenance_host(), owner_dead_fn, NULL, NULL) != SQLITE_OK)
        return STORE_DB_FAIL(st, "registering vb_owner_dead()");
    return VB_OK;
}

static VbStatus open_db(Store *st, StoreOpenMode mode) {
    if (mode == STORE_READONLY) return store_open_readonly(st);
    int flags = SQLITE_OPEN_READWRITE | (mode == STORE_CREATE ? SQLITE_OPEN_CREATE : 0);
    if (sqlite3_open_v2(st->path, &st->db, flags, NULL) != SQLITE_OK)
        return STORE_DB_FAIL(st, "opening");
    VB_TRY(store_setup_connection(st));
    VB_TRY(store_exec(st, "PRAGMA foreign_keys = ON"));
    char mode_now[16];
    VB_TRY(set_wal(st, mode_now, sizeof mode_now));
    if (strcmp(mode_now, "wal") != 0)
        return VB_FAIL(VB_ERR_DB,
                       "%s: cannot use WAL mode (journal mode stays '%s'); the store needs a "
                       "local file system",
                       st->path, mode_now);
    VB_TRY(store_exec(st, "PRAGMA synchronous = NORMAL"));
    return store_schema_ensure(st);
}

VbStatus store_open(const char *path, StoreOpenMode mode, Store **out) {
    *out = NULL;
    if (!path || !*path) return VB_FAIL(VB_ERR_USAGE, "empty results database path");
    struct stat sb;
    if (stat(path, &sb) == 0) {
        if (S_ISDIR(sb.st_mode))
            return vb_fail_plain(VB_ERR_INPUT, "%s: is a directory, not a results database", path);
    } else if (mode != STORE_CREATE) {
        return vb_fail_plain(VB_ERR_INPUT,
                             "%s: no such results database (`vadbench run` creates it; pass "
                             "--db PATH or set VADBENCH_DB to use another)",
                             path);
    } else {
        VB_TRY(make_parent_dirs(path));
    }
    Store *st = vb_xcalloc(1, sizeof *st);
    st->path = vb_xstrdup(path);
    st->batch = STORE_BATCH_DEFAULT;
    st->lease_s = STORE_LEASE_DEFAULT_S;
    st->schema_version = STORE_SCHEMA_VERSION;
    /* "host:pid", and "host:pid/N" for the N-th handle a process opens, so
     * that two handles of one process never own each other's cells */
    static int handles;
    int nth = ++handles;
    if (nth == 1)
        snprintf(st->owner, sizeof st->owner, "%s:%ld", provenance_host(), (long)getpid());
    else snprintf(st->owner, sizeof st->owner, "%s:%ld/%d", provenance_host(), (long)getpid(), nth);
    VbStatus s = open_db(st, mode);
    if (s == VB_OK && mode == STORE_READONLY && st->schema_version < STORE_SCHEMA_VERSION) {
        /* an older file: migrate it through a writing handle, then read it */
        int old = st->schema_version;
        sqlite3_close(st->db);
        st->db = NULL;
        Store *rw;
        s = store_open(path, STORE_EXISTING, &rw);
        if (s == VB_OK) s = store_close(rw);
        if (s != VB_OK)
            s = vb_wrap(VB_ERR_DB,
                        "%s: written by an older vadbench (schema version %d, this one reads %d) "
                        "and it cannot be migrated here",
                        path, old, STORE_SCHEMA_VERSION);
        else s = open_db(st, mode);
    }
    if (s != VB_OK) {
        sqlite3_close(st->db);
        free(st->path);
        free(st);
        return s;
    }
    *out = st;
    return VB_OK;
}

VbStatus store_open_lease_keeper(const Store *main, Store **out) {
    VB_TRY(store_open(main->path, STORE_EXISTING, out));
    snprintf((*out)->owner, sizeof(*out)->owner, "%s", main->owner);
    (*out)->lease_s = main->lease_s;
    return VB_OK;
}

VbStatus store_close(Store *st) {
    if (!st) return VB_OK;
    VbStatus s = store_flush(st);
    for (int i = 0; i < st->nbuf; i++) free(st->buf[i].split), free(st->buf[i].key);
    free(st->buf);
    sqlite3_close(st->db);
    free(st->path);
    free(st);
    return s;
}

VbStatus store_schema_version(Store *st, int *version) {
    sqlite3_stmt *s;
    VB_TRY(store_prepare(st, "PRAGMA user_version", &s));
    int rc = sqlite3_step(s);
    *version = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? VB_OK : STORE_DB_FAIL(st, "reading the schema version");
}

/* ---- experiments and cells --------------------------------------------- */

VbStatus store_find_experiment(Store *st, const char *name, int64_t *id) {
    sqlite3_stmt *s;
    *id = 0;
    VB_TRY(store_prepare(st, "SELECT id FROM experiments WHERE name = ?1", &s));
    store_bind_text(s, 1, name);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) *id = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? VB_OK : STORE_DB_FAIL(st, "finding experiment");
}

VbStatus store_ensure_experiment(Store *st, const char *name, const char *description,
                                 const char *file, int64_t *id) {
    if (!name || !*name) return VB_FAIL(VB_ERR_INPUT, "an experiment needs a name");
    char now[40];
    store_iso_time(store_now(), now, sizeof now);
    sqlite3_stmt *s;
    VB_TRY(store_prepare(st,
                         "INSERT INTO experiments(name, description, file, created)\n"
                         "VALUES (?1, coalesce(?2, ''), coalesce(?3, ''), ?4)\n"
                         "ON CONFLICT(name) DO UPDATE SET description = coalesce(?2, description),"
                         " file = coalesce(?3, file)",
                         &s));
    store_bind_text(s, 1, name);
    store_bind_text(s, 2, description);
    store_bind_text(s, 3, file);
    store_bind_text(s, 4, now);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) return STORE_DB_FAIL(st, "recording the experiment");
    VB_TRY(store_find_experiment(st, name, id));
    VB_ASSERT(*id > 0);
    return VB_OK;
}

/* Text of a config leaf: strings as they are, numbers in their shortest
 * exact form, true/false/null, arrays and empty objects as compact JSON. */
static char *param_text(json_t *v) {
    char buf[64];
    switch (json_typeof(v)) {
    case JSON_STRING: return vb_xstrdup(json_string_value(v));
    case JSON_INTEGER:
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return vb_xstrdup(buf);
    case JSON_REAL: store_format_real(json_real_value(v), buf, sizeof buf); return vb_xstrdup(buf);
    case JSON_TRUE: return vb_xstrdup("true");
    case JSON_FALSE: return vb_xstrdup("false");
    case JSON_NULL: return vb_xstrdup("null");
    default: {
        char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        VB_ASSERT(t != NULL);
        return t;
    }
    }
}

/* Insert the params of run `id`: `v` flattened under `prefix` with dots. */
static VbStatus insert_params(Store *st, sqlite3_stmt *ins, int64_t id, const char *prefix,
                              json_t *v) {
    if (json_is_object(v) && json_object_size(v) > 0) {
        const char *k;
        json_t *child;
        json_object_foreach(v, k, child) {
            size_t n = strlen(prefix) + strlen(k) + 2;
            char *key = vb_xmalloc(n);
            snprintf(key, n, "%s%s%s", prefix, *prefix ? "." : "", k);
            VbStatus s = insert_params(st, ins, id, key, child);
            free(key);
            VB_TRY(s);
        }
        return VB_OK;
    }
    char *text = param_text(v);
    sqlite3_reset(ins);
    sqlite3_bind_int64(ins, 1, id);
    store_bind_text(ins, 2, prefix);
    store_bind_text(ins, 3, text);
    int rc = sqlite3_step(ins);
    free(text);
    return rc == SQLITE_DONE ? VB_OK : STORE_DB_FAIL(st, "recording params");
}

static VbStatus register_one(Store *st, sqlite3_stmt *ins, sqlite3_stmt *find, sqlite3_stmt *par,
                             sqlite3_stmt *rename, int64_t exp_id, const StoreCell *c, json_t *cfg,
                             const char *now, StoreRegistered *out) {
    if (c->legacy_hash && *c->legacy_hash) {
        /* a row of an older store still named by the legacy hash takes the new one */
        sqlite3_reset(rename);
        store_bind_text(rename, 1, c->config_hash);
        store_bind_text(rename, 2, c->legacy_hash);
        if (sqlite3_step(rename) != SQLITE_DONE) return STORE_DB_FAIL(st, "renaming a cell");
    }
    sqlite3_reset(ins);
    sqlite3_bind_int64(ins, 1, exp_id);
    store_bind_text(ins, 2, c->variant);
    sqlite3_bind_int64(ins, 3, c->seed);
    store_bind_text(ins, 4, c->holdout ? c->holdout : "");
    store_bind_text(ins, 5, now);
    store_bind_text(ins, 6, c->config_json);
    store_bind_text(ins, 7, c->config_hash);
    if (sqlite3_step(ins) != SQLITE_DONE) return STORE_DB_FAIL(st, "registering a cell");
    if (sqlite3_changes(st->db) == 1) {
        out->run_id = sqlite3_last_insert_rowid(st->db);
        out->status = STORE_QUEUED;
        out->created = true;
        return insert_params(st, par, out->run_id, "", cfg);
    }
    sqlite3_reset(find);
    store_bind_text(find, 1, c->config_hash);
    if (sqlite3_step(find) != SQLITE_ROW) return STORE_DB_FAIL(st, "finding a registered cell");
    out->run_id = sqlite3_column_int64(find, 0);
    if (!store_status_parse((const char *)sqlite3_column_text(find, 1), &out->status))
        return store_bad_status(st, out->run_id);
    out->created = false;
    return VB_OK;
}

VbStatus store_register_cells(Store *st, int64_t experiment_id, const StoreCell *cells, int n,
                              StoreRegistered *out) {
    json_t **cfg = vb_xcalloc((size_t)(n > 0 ? n : 1), sizeof *cfg);
    VbStatus s = VB_OK;
    for (int i = 0; i < n && s == VB_OK; i++) {
        const StoreCell *c = &cells[i];
        json_error_t e;
        if (!c->variant || !c->config_hash || !*c->config_hash || !c->config_json)
            s = VB_FAIL(VB_ERR_INPUT, "cell %d: variant, config JSON and hash are required", i);
        else if (!(cfg[i] = json_loads(c->config_json, 0, &e)))
            s = VB_FAIL(VB_ERR_INPUT, "cell %d (%s): config is not JSON: %s", i, c->config_hash,
                        e.text);
        else if (!json_is_object(cfg[i]))
            s = VB_FAIL(VB_ERR_INPUT, "cell %d (%s): config is not a JSON object", i,
                        c->config_hash);
    }
    char now[40];
    store_iso_time(store_now(), now, sizeof now);
    sqlite3_stmt *ins = NULL, *find = NULL, *par = NULL, *rename = NULL;
    if (s == VB_OK)
        s = store_prepare(st,
                          "INSERT INTO runs(experiment_id, variant, seed, holdout, created,"
                          " config_json, config_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                          " ON CONFLICT(config_hash) DO NOTHING",
                          &ins);
    if (s == VB_OK)
        s = store_prepare(st, "SELECT id, status FROM runs WHERE config_hash = ?1", &find);
    if (s == VB_OK)
        s = store_prepare(st, "INSERT INTO params(run_id, key, value) VALUES (?1, ?2, ?3)", &par);
    if (s == VB_OK)
        s = store_prepare(st,
                          "UPDATE OR IGNORE runs SET config_hash = ?1, legacy_hash = ?2"
                          " WHERE config_hash = ?2",
                          &rename);
    if (s == VB_OK) s = store_begin(st);
    if (s == VB_OK) {
        for (int i = 0; i < n && s == VB_OK; i++) {
            StoreRegistered r;
            s = register_one(st, ins, find, par, rename, experiment_id, &cells[i], cfg[i], now, &r);
            if (s == VB_OK && out) out[i] = r;
        }
        if (s == VB_OK) s = store_commit(st);
        else store_rollback(st);
    }
    sqlite3_finalize(ins), sqlite3_finalize(find), sqlite3_finalize(par), sqlite3_finalize(rename);
    for (int i = 0; i < n; i++) json_decref(cfg[i]);
    free(cfg);
    return s;
}

/* ---- provenance ---------------------------------------------------------- */

void store_provenance_local(StoreProvenance *p) {
    memset(p, 0, sizeof *p);
    p->git_sha = provenance_git_sha();
    p->git_dirty = provenance_dirty() ? 1 : 0;
    p->host = provenance_host();
    p->cpu_model = provenance_cpu_model();
    p->build_opts = provenance_build_opts();
    p->libraries = provenance_libraries();
    p->cpu_path = provenance_cpu_path();
    p->numerics = provenance_numerics();
    p->threads = 0;
    provenance_slurm(&p->slurm_job_id, &p->slurm_array_task_id, &p->slurm_node);
}

VbStatus store_set_provenance(Store *st, int64_t run_id, const StoreProvenance *p) {
    sqlite3_stmt *s;
    VB_TRY(store_prepare(st,
                         "UPDATE runs SET git_sha = ?1, git_dirty = ?2, host = ?3, cpu_model = ?4,"
                         " gpu = ?5, gpu_driver = ?6, build_opts = ?7, libraries = ?8,"
                         " backend = ?9, threads = ?10, dataset_digest = ?11, slurm_job_id = ?13,"
                         " slurm_array_task_id = ?14, slurm_node = ?15, cpu_path = ?16,"
                         " numerics = ?17 WHERE id = ?12",
                         &s));
    store_bind_text(s, 1, p->git_sha);
    if (p->git_dirty >= 0) sqlite3_bind_int(s, 2, p->git_dirty ? 1 : 0);
    store_bind_text(s, 3, p->host);
    store_bind_text(s, 4, p->cpu_model);
    store_bind_text(s, 5, p->gpu);
    store_bind_text(s, 6, p->gpu_driver);
    store_bind_text(s, 7, p->build_opts);
    store_bind_text(s, 8, p->libraries);
    store_bind_text(s, 9, p->backend);
    if (p->threads > 0) sqlite3_bind_int(s, 10, p->threads);
    store_bind_text(s, 11, p->dataset_digest);
    sqlite3_bind_int64(s, 12, run_id);
    store_bind_text(s, 13, p->slurm_job_id);
    if (p->slurm_job_id && p->slurm_array_task_id >= 0)
        sqlite3_bind_int(s, 14, p->slurm_array_task_id);
    store_bind_text(s, 15, p->slurm_node);
    store_bind_text(s, 16, p->cpu_path);
    if (p->numerics > 0) sqlite3_bind_int(s, 17, p->numerics);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) return STORE_DB_FAIL(st, "recording provenance");
    if (sqlite3_changes(st->db) != 1)
        return VB_FAIL(VB_ERR_INPUT, "%s: no run %lld", st->path, (long long)run_id);
    return VB_OK;
}
