/* store_schema: the tables, indexes and views of the results store, and the
 * migrations that bring an older file up to STORE_SCHEMA_VERSION.
 *
 * A fresh file gets the current schema directly; a file at version v < the
 * current one runs migrations[v], migrations[v+1], ... in one transaction,
 * then its views are dropped and re-created. Version history:
 *   1  first draft: experiments, runs (without attempts and checkpoint),
 *      params, metrics, timings, baselines; view run_summary
 *   2  latency table; runs.attempts and runs.checkpoint; views
 *      final_metrics, run_summary (with finals JSON), variant_summary
 *   3  runs.legacy_hash: config hashes leave keys at their default out
 *      (harness/experiment/confighash.h); every run is renamed to its new
 *      hash and keeps the old one in legacy_hash, where `show` and the
 *      runner still find it. A run whose new hash another run already has
 *      (configs that differed only in keys an older schema lacked) keeps
 *      its old hash.
 *   4  runs.slurm_job_id, runs.slurm_array_task_id, runs.slurm_node (the
 *      Slurm job that ran the cell; NULL outside Slurm)
 *   5  runs.cpu_path and runs.numerics: the CPU backend's instruction-set
 *      path and numerics version (kernels.h VB_NUMERICS_VERSION)
 *   6  runs.transient (a failure the next run retries by itself) and
 *      runs.resumes (JSON list of the times the cell was resumed)
 * results/README.md documents every table, column and view; keep it in step.
 * This file must not be asked to open files or talk to callers: store.c does. */
#include <stdio.h>
#include <string.h>

#include "harness/experiment/experiment.h"
#include "harness/store/store_internal.h"

static const char SCHEMA_TABLES[] =
    "CREATE TABLE experiments (\n"
    "  id          INTEGER PRIMARY KEY,\n"
    "  name        TEXT NOT NULL UNIQUE,\n"
    "  description TEXT NOT NULL DEFAULT '',\n"
    "  file        TEXT NOT NULL DEFAULT '',\n"
    "  created     TEXT NOT NULL\n"
    ");\n"
    "CREATE TABLE runs (\n"
    "  id             INTEGER PRIMARY KEY,\n"
    "  experiment_id  INTEGER NOT NULL REFERENCES experiments(id),\n"
    "  variant        TEXT NOT NULL,\n"
    "  seed           INTEGER NOT NULL,\n"
    "  holdout        TEXT NOT NULL DEFAULT '',\n"
    "  status         TEXT NOT NULL DEFAULT 'queued'\n"
    "                 CHECK (status IN ('queued', 'running', 'done', 'failed')),\n"
    "  error          TEXT,\n"
    "  created        TEXT NOT NULL,\n"
    "  started        TEXT,\n"
    "  finished       TEXT,\n"
    "  config_json    TEXT NOT NULL,\n"
    "  config_hash    TEXT NOT NULL UNIQUE,\n"
    "  git_sha        TEXT,\n"
    "  git_dirty      INTEGER,\n"
    "  host           TEXT,\n"
    "  cpu_model      TEXT,\n"
    "  gpu            TEXT,\n"
    "  gpu_driver     TEXT,\n"
    "  build_opts     TEXT,\n"
    "  libraries      TEXT,\n"
    "  backend        TEXT,\n"
    "  threads        INTEGER,\n"
    "  dataset_digest TEXT,\n"
    "  claim_owner    TEXT,\n"
    "  lease_expires  REAL,\n"
    "  attempts       INTEGER NOT NULL DEFAULT 0,\n"
    "  checkpoint     TEXT,\n"
    "  legacy_hash    TEXT,\n"
    "  slurm_job_id   TEXT,\n"
    "  slurm_array_task_id INTEGER,\n"
    "  slurm_node     TEXT,\n"
    "  cpu_path       TEXT,\n"
    "  numerics       INTEGER,\n"
    "  transient      INTEGER NOT NULL DEFAULT 0,\n"
    "  resumes        TEXT\n"
    ");\n"
    "CREATE INDEX runs_cell ON runs(experiment_id, variant, holdout, seed);\n"
    "CREATE INDEX runs_status ON runs(status);\n"
    "CREATE INDEX runs_legacy_hash ON runs(legacy_hash);\n"
    "CREATE TABLE params (\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"
    "  key    TEXT NOT NULL,\n"
    "  value  TEXT,\n"
    "  PRIMARY KEY (run_id, key)\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE metrics (\n"
    "  run_id    INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"
    "  split     TEXT NOT NULL DEFAULT '',\n"
    "  key       TEXT NOT NULL,\n"
    "  step      INTEGER,\n"
    "  epoch     INTEGER,\n"
    "  value     REAL,\n"
    "  wall_time REAL NOT NULL\n"
    ");\n"
    "CREATE UNIQUE INDEX metrics_curve ON metrics(run_id, split, key, step)\n"
    "  WHERE step IS NOT NULL;\n"
    "CREATE UNIQUE INDEX metrics_final ON metrics(run_id, split, key) WHERE step IS NULL;\n"
    "CREATE TABLE timings (\n"
    "  run_id  INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"
    "  phase   TEXT NOT NULL,\n"
    "  seconds REAL NOT NULL,\n"
    "  count   INTEGER NOT NULL,\n"
    "  PRIMARY KEY (run_id, phase)\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE baselines (\n"
    "  name   TEXT NOT NULL,\n"
    "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"
    "  pinned TEXT NOT NULL,\n"
    "  PRIMARY KEY (name, run_id)\n"
    ") WITHOUT ROWID;\n";

/* Introduced by version 2 (also part of a fresh schema). */
static const char SCHEMA_LATENCY[] =
    "CREATE TABLE latency (\n"
    "  run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"
    "  component  TEXT NOT NULL,\n"
    "  batch      INTEGER NOT NULL,\n"
    "  n          INTEGER NOT NULL,\n"
    "  samples_ms TEXT NOT NULL,\n"
    "  p50 REAL, p90 REAL, p99 REAL, mean REAL, min REAL, max REAL,\n"
    "  PRIMARY KEY (run_id, component, batch)\n"
    ") WITHOUT ROWID;\n";

static const char SCHEMA_VIEWS[] =
    "DROP VIEW IF EXISTS final_metrics;\n"
    "DROP VIEW IF EXISTS run_summary;\n"
    "DROP VIEW IF EXISTS variant_summary;\n"
    /* one row per final value, with the run it belongs to */
    "CREATE VIEW final_metrics AS\n"
    "SELECT r.id AS run_id, e.name AS experiment, r.variant, r.holdout, r.seed, r.status,\n"
    "       r.config_hash, m.split, m.key AS metric, m.value, m.epoch\n"
    "FROM metrics m JOIN runs r ON r.id = m.run_id JOIN experiments e ON e.id = r.experiment_id\n"
    "WHERE m.step IS NULL;\n"
    /* one row per run; finals pivoted into a JSON object {"split/key": value} */
    "CREATE VIEW run_summary AS\n"
    "SELECT r.id AS run_id, e.name AS experiment, r.variant, r.holdout, r.seed, r.status,\n"
    "       r.config_hash, r.started, r.finished,\n"
    "       round((julianday(r.finished) - julianday(r.started)) * 86400.0, 3) AS wall_s,\n"
    "       r.attempts, r.backend, r.threads, r.git_sha, r.git_dirty, r.host, r.error,\n"
    "       r.cpu_path, r.numerics,\n"
    "       r.transient, json_array_length(r.resumes) AS resumed,\n"
    "       (SELECT json_group_object(name, value) FROM (\n"
    "          SELECT CASE WHEN m.split = '' THEN m.key ELSE m.split || '/' || m.key END\n"
    "                 AS name, m.value AS value\n"
    "          FROM metrics m WHERE m.run_id = r.id AND m.step IS NULL\n"
    "          ORDER BY m.split, m.key)) AS finals\n"
    "FROM runs r JOIN experiments e ON e.id = r.experiment_id;\n"
    /* mean and spread across seeds of the latest done run of each cell */
    "CREATE VIEW variant_summary AS\n"
    "WITH latest AS (\n"
    "  SELECT r.id, r.experiment_id, r.variant, r.holdout, r.seed,\n"
    "         row_number() OVER (PARTITION BY r.experiment_id, r.variant, r.holdout, r.seed\n"
    "                            ORDER BY r.id DESC) AS rn\n"
    "  FROM runs r WHERE r.status = 'done'),\n"
    "f AS (\n"
    "  SELECT l.experiment_id, l.variant, l.holdout, l.seed, m.split, m.key, m.value,\n"
    "         avg(m.value) OVER (PARTITION BY l.experiment_id, l.variant, l.holdout,\n"
    "                                         m.split, m.key) AS mu\n"
    "  FROM latest l JOIN metrics m ON m.run_id = l.id\n"
    "  WHERE l.rn = 1 AND m.step IS NULL AND m.value IS NOT NULL)\n"
    "SELECT e.name AS experiment, f.variant, f.holdout, f.split, f.key AS metric,\n"
    "       count(*) AS n_seeds, avg(f.value) AS mean,\n"
    "       CASE WHEN count(*) > 1\n"
    "            THEN sqrt(sum((f.value - f.mu) * (f.value - f.mu)) / (count(*) - 1)) END AS std,\n"
    "       min(f.value) AS min, max(f.value) AS max\n"
    "FROM f JOIN experiments e ON e.id = f.experiment_id\n"
    "GROUP BY f.experiment_id, f.variant, f.holdout, f.split, f.key\n"
    "ORDER BY e.name, f.variant, f.holdout, f.split, f.key;\n";

/* migrations[v] takes a file from version v to v + 1. */
static const char MIGRATE_1_TO_2[] =
    "ALTER TABLE runs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;\n"
    "UPDATE runs SET attempts = 1 WHERE started IS NOT NULL;\n"
    "ALTER TABLE runs ADD COLUMN checkpoint TEXT;\n";

static VbStatus migrate_1_to_2(Store *st) {
    VB_TRY(store_exec(st, MIGRATE_1_TO_2));
    return store_exec(st, SCHEMA_LATENCY);
}

/* Rename every run to its hash of format 2 (see the history above). */
static VbStatus migrate_2_to_3(Store *st) {
    VB_TRY(store_exec(st, "ALTER TABLE runs ADD COLUMN legacy_hash TEXT;\n"
                          "CREATE INDEX runs_legacy_hash ON runs(legacy_hash);\n"
                          "UPDATE runs SET legacy_hash = config_hash;\n"));
    sqlite3_stmt *sel = NULL, *upd = NULL;
    VbStatus s = store_prepare(st, "SELECT id, config_json, dataset_digest FROM runs", &sel);
    if (s == VB_OK)
        s = store_prepare(st, "UPDATE OR IGNORE runs SET config_hash = ?2 WHERE id = ?1", &upd);
    int rc;
    while (s == VB_OK && (rc = sqlite3_step(sel)) == SQLITE_ROW) {
        const char *cfg = (const char *)sqlite3_column_text(sel, 1);
        const char *digest = (const char *)sqlite3_column_text(sel, 2);
        json_t *j = cfg ? json_loads(cfg, 0, NULL) : NULL;
        /* a run never started has no digest yet: the runner renames it when it
         * registers the cell again (StoreCell.legacy_hash) */
        if (j && digest) {
            char h[33];
            config_hash(j, digest, h);
            sqlite3_reset(upd);
            sqlite3_bind_int64(upd, 1, sqlite3_column_int64(sel, 0));
            store_bind_text(upd, 2, h);
            if (sqlite3_step(upd) != SQLITE_DONE) s = STORE_DB_FAIL(st, "renaming a run");
        }
        json_decref(j);
    }
    if (s == VB_OK && rc != SQLITE_DONE) s = STORE_DB_FAIL(st, "reading runs");
    sqlite3_finalize(sel), sqlite3_finalize(upd);
    return s;
}

static VbStatus migrate_3_to_4(Store *st) {
    return store_exec(st, "ALTER TABLE runs ADD COLUMN slurm_job_id TEXT;\n"
                          "ALTER TABLE runs ADD COLUMN slurm_array_task_id INTEGER;\n"
                          "ALTER TABLE runs ADD COLUMN slurm_node TEXT;\n");
}

static VbStatus migrate_4_to_5(Store *st) {
    return store_exec(st, "ALTER TABLE runs ADD COLUMN cpu_path TEXT;\n"
                          "ALTER TABLE runs ADD COLUMN numerics INTEGER;\n");
}

static VbStatus migrate_5_to_6(Store *st) {
    return store_exec(st, "ALTER TABLE runs ADD COLUMN transient INTEGER NOT NULL DEFAULT 0;\n"
                          "ALTER TABLE runs ADD COLUMN resumes TEXT;\n");
}

typedef VbStatus (*StoreMigration)(Store *st);
static const StoreMigration migrations[STORE_SCHEMA_VERSION] = {
    NULL, migrate_1_to_2, migrate_2_to_3, migrate_3_to_4, migrate_4_to_5, migrate_5_to_6};

VbStatus store_read_version(Store *st, int *version) {
    sqlite3_stmt *s;
    VB_TRY(store_prepare(st, "PRAGMA user_version", &s));
    int rc = sqlite3_step(s);
    *version = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW) return STORE_DB_FAIL(st, "reading the schema version");
    return VB_OK;
}

static VbStatus count_tables(Store *st, int *n) {
    sqlite3_stmt *s;
    VB_TRY(store_prepare(st, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'", &s));
    int rc = sqlite3_step(s);
    *n = rc == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW) return STORE_DB_FAIL(st, "reading the schema");
    return VB_OK;
}

static VbStatus set_version(Store *st, int v) {
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v);
    return store_exec(st, sql);
}

VbStatus store_check_version(const Store *st, int version, int ntables) {
    if (version > STORE_SCHEMA_VERSION)
        return VB_FAIL(VB_ERR_DB,
                       "%s: schema version %d was written by a newer vadbench (this one knows "
                       "versions up to %d)",
                       st->path, version, STORE_SCHEMA_VERSION);
    /* no vadbench writes one; it indexed the migrations out of bounds (found
     * by tests/fuzz) */
    if (version < 0)
        return VB_FAIL(VB_ERR_DB,
                       "%s: schema version %d is not one vadbench ever wrote (a damaged "
                       "database?)",
                       st->path, version);
    if (version == 0 && ntables > 0)
        return VB_FAIL(VB_ERR_DB,
                       "%s: an SQLite database with %d tables but no vadbench schema "
                       "version; not a vadbench results store",
                       st->path, ntables);
    return VB_OK;
}

/* The body of store_schema_ensure, inside its transaction. */
static VbStatus ensure_locked(Store *st) {
    int version, ntables = 0;
    VB_TRY(store_read_version(st, &version));
    if (version == STORE_SCHEMA_VERSION) return VB_OK;
    if (version == 0) VB_TRY(count_tables(st, &ntables));
    VB_TRY(store_check_version(st, version, ntables));
    if (version == 0) {
        VB_TRY(store_exec(st, SCHEMA_TABLES));
        VB_TRY(store_exec(st, SCHEMA_LATENCY));
    } else {
        for (int v = version; v < STORE_SCHEMA_VERSION; v++) {
            VbStatus s = migrations[v](st);
            if (s != VB_OK)
                return vb_wrap(s, "migrating the schema from version %d to %d", v, v + 1);
        }
    }
    VB_TRY(store_exec(st, SCHEMA_VIEWS));
    return set_version(st, STORE_SCHEMA_VERSION);
}

VbStatus store_schema_ensure(Store *st) {
    int version;
    VB_TRY(store_read_version(st, &version));
    if (version == STORE_SCHEMA_VERSION) return VB_OK;
    VB_TRY(store_begin(st));
    VbStatus r = ensure_locked(st);
    if (r != VB_OK) {
        store_rollback(st);
        return r;
    }
    return store_commit(st);
}
