/* store_internal: what the store's source files (store.c, store_schema.c,
 * store_log.c, store_query.c, store_baseline.c) share and nothing else may
 * use — the Store struct, the metric buffer, error and transaction helpers,
 * clocks. Callers outside the store go through store.h only. */
#ifndef VB_STORE_INTERNAL_H
#define VB_STORE_INTERNAL_H

#include <sqlite3.h>

#include "harness/store/store.h"

typedef struct StoreMetricRow {
    int64_t run_id;
    char *split, *key;
    bool final;
    int64_t step, epoch; /* epoch < 0: NULL */
    double value, wall;
} StoreMetricRow;

struct Store {
    sqlite3 *db;
    char *path;
    char owner[320];
    double lease_s; /* lease length of the last claim */
    int64_t hb_run; /* run renewed last by this handle */
    double hb_last; /* when (Unix seconds) */
    StoreMetricRow *buf;
    int nbuf, capbuf, batch;
    int schema_version; /* STORE_READONLY: the version found (others: current) */
};

/* VB_ERR_DB "PATH: what: sqlite message" for the last error on st->db. */
#define STORE_DB_FAIL(st, what) store_db_fail_at((st), (what), __FILE__, __LINE__)
VbStatus store_db_fail_at(Store *st, const char *what, const char *file, int line);

/* Prepare `sql`; VB_ERR_DB on failure. */
VbStatus store_prepare(Store *st, const char *sql, sqlite3_stmt **out);
/* Run one or more statements without results. */
VbStatus store_exec(Store *st, const char *sql);
/* BEGIN IMMEDIATE (waits up to the busy timeout), COMMIT, ROLLBACK (which
 * never fails loudly: it runs on error paths). */
VbStatus store_begin(Store *st);
VbStatus store_commit(Store *st);
void store_rollback(Store *st);

/* Bind helpers: NULL strings and the "unknown" sentinels become SQL NULL. */
int store_bind_text(sqlite3_stmt *s, int i, const char *v);
/* Column text duplicated with malloc (NULL for SQL NULL). */
char *store_col_strdup(sqlite3_stmt *s, int i);

/* Write the buffered metric rows inside the caller's transaction (the buffer
 * is kept: clear it after COMMIT). */
VbStatus store_flush_locked(Store *st);
/* Drop buffered rows: all of them (run_id 0) or those of one run. */
void store_buffer_clear(Store *st, int64_t run_id);

/* Create the schema of a fresh file, or migrate an older one, inside one
 * BEGIN IMMEDIATE transaction; re-creates the views. */
VbStatus store_schema_ensure(Store *st);

/* Busy timeout, extended result codes and vb_owner_dead() on st->db. */
VbStatus store_setup_connection(Store *st);
/* Open st->path read-only into st->db (store_readonly.c). */
VbStatus store_open_readonly(Store *st);
/* PRAGMA user_version of st->db. */
VbStatus store_read_version(Store *st, int *version);
/* Whether a file at schema `version` (with `ntables` tables, counted when
 * the version is 0) can be opened by this build: VB_ERR_DB naming st->path
 * for a newer schema, a negative version or a foreign SQLite database. */
VbStatus store_check_version(const Store *st, int version, int ntables);

/* Read the row of `run_id` into *out (columns of STORE_RUN_COLUMNS). */
VbStatus store_read_run(Store *st, int64_t run_id, StoreRun *out, bool *found);
/* Fill *out from the current row of a statement selecting STORE_RUN_COLUMNS
 * starting at column 0; false when its status is none vadbench writes (a
 * damaged file: report it with store_bad_status, after store_run_free). */
bool store_run_from_row(sqlite3_stmt *s, StoreRun *out);
VbStatus store_bad_status(Store *st, int64_t run_id);
extern const char STORE_RUN_COLUMNS[];

/* Clocks: Unix seconds (CLOCK_REALTIME), and ISO 8601 UTC with ms. */
double store_now(void);
void store_iso_time(double unix_s, char *buf, int size);

#endif
