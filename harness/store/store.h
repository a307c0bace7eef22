/* store: the SQLite results store (results/vadbench.db by default).
 *
 * Holds what every run of every experiment produced, modelled on MLflow's
 * tracking schema: experiments, runs (status, config JSON and its hash,
 * provenance, claim and lease), params (the flattened config), metrics
 * (curves and final values), timings, latency samples and baselines. The
 * schema, its views and example queries are documented in results/README.md;
 * its version lives in PRAGMA user_version and older files are migrated when
 * they are opened.
 *
 * Concurrency: the file is in WAL mode with a 10 s busy timeout, and every
 * write is one short transaction, so several `vadbench run` processes can
 * share a database and a killed process leaves it intact. Cells of a matrix
 * are handed out by store_claim, which takes the next runnable cell inside
 * BEGIN IMMEDIATE and marks it `running` with this process as owner
 * ("host:pid") and a lease. The owner renews the lease while it works
 * (store_heartbeat); a cell whose lease expired, or whose owner is a dead
 * process on this host, can be claimed again and resumed from its checkpoint.
 *
 * A Store handle belongs to one process and one thread: open a new one after
 * fork(), never share one across threads. The store does not run cells, parse
 * experiment files or compute config hashes (the matrix module does); it
 * does not decide which cells a runner may take (the runner passes the
 * allowed hashes). Every SQLite failure is VB_ERR_DB with the file's path and
 * SQLite's message. */
#ifndef VB_STORE_H
#define VB_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include "harness/store/provenance.h" /* the wing's other module: what produced a result */
#include "kernels/status.h"

/* The schema version this build writes (PRAGMA user_version). */
#define STORE_SCHEMA_VERSION 6
/* Lease of a claimed cell when the caller passes 0, in seconds. */
#define STORE_LEASE_DEFAULT_S 120.0
/* The longest lease a runner may ask for. A lease that ends further in the
 * future than this (plus a minute for clock skew) was written by no runner —
 * a clock gone wrong, a hand edit — and is treated as expired. */
#define STORE_LEASE_MAX_S 3600.0
/* Metric rows buffered before store_log_metric flushes on its own. */
#define STORE_BATCH_DEFAULT 512
/* ...or seconds since the oldest buffered row, whichever comes first. */
#define STORE_FLUSH_INTERVAL_S 5.0

typedef struct Store Store;

typedef enum StoreStatus {
    STORE_QUEUED = 0,
    STORE_RUNNING,
    STORE_DONE,
    STORE_FAILED,
} StoreStatus;

/* "queued", "running", "done", "failed". */
const char *store_status_name(StoreStatus s);
/* Parse a status name; false if `name` is none of them. */
bool store_status_parse(const char *name, StoreStatus *out);

/* The database path used when no --db is given: $VADBENCH_DB if set and not
 * empty, otherwise "results/vadbench.db" (relative to the working directory). */
const char *store_default_path(void);

/* ---- opening ---------------------------------------------------------- */

typedef enum StoreOpenMode {
    STORE_CREATE,   /* create the file (and its parent directories) if missing */
    STORE_EXISTING, /* the file must exist; opened for writing */
    STORE_READONLY, /* the file must exist; read only (browsing commands): works in a
                     * read-only directory and on a full disk (store_readonly.c) */
} StoreOpenMode;

/* Open (or create) the store at `path`, switch it to WAL mode, set the busy
 * timeout and foreign keys, and create or migrate the schema to
 * STORE_SCHEMA_VERSION. A missing file (STORE_EXISTING, STORE_READONLY) or a
 * directory is VB_ERR_INPUT naming the path; a file that is not an SQLite
 * database, or one written by a newer schema, is VB_ERR_DB naming the path.
 * STORE_READONLY changes nothing in the file (an older schema is migrated
 * first by a writing open when the file can be written, else it is an
 * error), and every write through its handle fails. *out is NULL on
 * failure. */
VbStatus store_open(const char *path, StoreOpenMode mode, Store **out);

/* Flush buffered metrics and close. Returns the flush's status; the handle is
 * freed in every case. NULL is allowed. */
VbStatus store_close(Store *st);

/* The path the store was opened with. */
const char *store_path(const Store *st);

/* This handle's claim owner: "host:pid" (pid at open time), "host:pid/N" for
 * the N-th handle one process opens (N >= 2). */
const char *store_owner(const Store *st);

/* Rows buffered before an automatic flush (default STORE_BATCH_DEFAULT, >= 1). */
void store_set_batch(Store *st, int rows);

/* The schema version of the open file (after migration). */
VbStatus store_schema_version(Store *st, int *version);

/* ---- experiments and cells ------------------------------------------- */

/* Insert the experiment `name` or update its description and file; *id is
 * its row id. description and file may be NULL (stored as ''). */
VbStatus store_ensure_experiment(Store *st, const char *name, const char *description,
                                 const char *file, int64_t *id);

/* Look an experiment up by name; *id = 0 when there is none. */
VbStatus store_find_experiment(Store *st, const char *name, int64_t *id);

/* One cell of an experiment's matrix, fully resolved. */
typedef struct StoreCell {
    const char *variant;
    int64_t seed;
    const char *holdout;     /* "" or NULL when the experiment has no holdout axis */
    const char *config_json; /* canonical JSON object of the resolved config */
    const char *config_hash; /* its hash (hex), unique across the store */
    const char *legacy_hash; /* the same cell's hash format 1 (NULL: none): a row still
                                named by it (an older store) is renamed to config_hash */
} StoreCell;

/* What registration found for one cell. */
typedef struct StoreRegistered {
    int64_t run_id;
    StoreStatus status; /* the status now stored: new cells are STORE_QUEUED */
    bool created;       /* false: the hash was already there and was left alone */
} StoreRegistered;

/* Register the cells of a matrix as queued runs of experiment `experiment_id`
 * in one transaction. Idempotent by config hash: a hash that is already
 * stored keeps its row, status and results (even if another experiment
 * registered it). New runs get their params (config flattened to dotted
 * keys). out (may be NULL) receives one entry per cell. A config that is not
 * a JSON object is VB_ERR_INPUT and nothing is registered. */
VbStatus store_register_cells(Store *st, int64_t experiment_id, const StoreCell *cells, int n,
                              StoreRegistered *out);

/* Which cells store_claim and store_counts consider. */
typedef struct StoreClaimFilter {
    int64_t experiment_id;     /* 0: any experiment */
    const char *const *hashes; /* allowed config hashes; NULL: any */
    int nhashes;
} StoreClaimFilter;

/* A run as stored. Strings are owned by the struct (NULL when the column is
 * NULL); release with store_run_free. */
typedef struct StoreRun {
    int64_t id, experiment_id;
    char *experiment; /* experiment name */
    char *variant;
    int64_t seed;
    char *holdout;
    StoreStatus status;
    char *error;
    char *created, *started, *finished; /* ISO 8601 UTC, e.g. 2024-05-01T12:00:00.123Z */
    double wall_s;                      /* finished - started (s, to the ms); < 0 if not */
    char *config_json, *config_hash;
    /* provenance */
    char *git_sha;
    int git_dirty; /* 0, 1, or -1 when unknown */
    char *host, *cpu_model, *gpu, *gpu_driver, *build_opts, *libraries, *backend;
    int threads; /* 0 when unknown */
    char *dataset_digest;
    char *slurm_job_id;      /* "ARRAYJOB_TASK" or a job id; NULL outside Slurm */
    int slurm_array_task_id; /* -1 when not an array task */
    char *slurm_node;
    /* claim */
    char *claim_owner;    /* "host:pid" while running */
    double lease_expires; /* Unix seconds; 0 when none */
    int attempts;         /* times the cell was claimed */
    char *checkpoint;     /* path of its latest checkpoint, if any */
    char *cpu_path;       /* the CPU backend's instruction-set path ("avx512", ...) */
    int numerics;         /* the CPU backend's numerics version; 0 when unknown */
    bool transient;       /* failed by a cause that may pass (disk full, out of memory) */
    char *resumes;        /* JSON array, one object per resume; NULL when never resumed */
    /* store_claim only, when it took the cell over from another owner: */
    char *prev_owner;          /* that owner */
    double prev_lease_expires; /* its lease's end (Unix seconds; 0 when none) */
} StoreRun;

void store_run_free(StoreRun *r);

/* Claim the next runnable cell for this process, atomically (BEGIN
 * IMMEDIATE): a `running` cell whose lease expired, or ends more than
 * STORE_LEASE_MAX_S away (an absurd lease), or whose owner is a dead
 * process on this host (taken first, so interrupted work is finished first),
 * otherwise the oldest `queued` cell; within `filter` (NULL: any). The cell
 * becomes `running`, owned by store_owner(st), with a lease of lease_s
 * seconds (0: STORE_LEASE_DEFAULT_S); its attempts count goes up by one and
 * `started` is set on the first claim. *claimed is false when nothing is
 * runnable; otherwise *run holds the row as claimed (release it with
 * store_run_free). A non-NULL run->checkpoint means earlier work exists:
 * resume from it. */
VbStatus store_claim(Store *st, const StoreClaimFilter *filter, double lease_s, bool *claimed,
                     StoreRun *run);

/* A second handle on main's database that acts as main's owner, for a
 * thread that renews main's lease (heartbeat.h): only store_renew_lease may
 * be called on it, from that one thread. */
VbStatus store_open_lease_keeper(const Store *main, Store **out);

/* Extend this process's lease on `run_id` to now + lease_s (0: the length
 * used when it was claimed). *owned is false when the cell is no longer ours
 * (another process took it over after our lease expired, or it is not
 * running): stop working on it and do not mark it; its buffered metric rows
 * are dropped. */
VbStatus store_renew_lease(Store *st, int64_t run_id, double lease_s, bool *owned);

/* store_renew_lease, but only writes when a quarter of the lease has passed
 * since this handle last renewed `run_id`: cheap enough to call every step. */
VbStatus store_heartbeat(Store *st, int64_t run_id, bool *owned);

/* Record the path of the cell's latest checkpoint (NULL clears it). */
VbStatus store_set_checkpoint(Store *st, int64_t run_id, const char *path);

/* Finish a cell this process owns: flush buffered metrics and set the status
 * to done, with the finish time, in one transaction. VB_ERR_DB when the cell
 * is not running under this owner (nothing is changed then). */
VbStatus store_mark_done(Store *st, int64_t run_id);

/* As store_mark_done, with status failed and `reason` as the error text. */
VbStatus store_mark_failed(Store *st, int64_t run_id, const char *reason);
/* store_mark_failed, recording whether the cause may pass (transient: disk
 * full, out of memory): the next `vadbench run` requeues such cells itself. */
VbStatus store_mark_failed_as(Store *st, int64_t run_id, const char *reason, bool transient);

/* Append `entry` (a JSON object, e.g. {"step": 40, "at": ..., "host": ...})
 * to the run's `resumes` list: the provenance of a resumed run says when,
 * where and from which step it was resumed. */
VbStatus store_note_resume(Store *st, int64_t run_id, const char *entry_json);

/* Give a cell this process owns back (Ctrl-C): status queued, no owner, no
 * lease; its checkpoint, metrics and start time stay, so the next claim
 * resumes it. Flushes buffered metrics first. */
VbStatus store_release(Store *st, int64_t run_id);

/* Put a failed cell back in the queue from scratch: status queued, error,
 * timestamps, checkpoint, transient flag, resumes, metrics, timings and
 * latency cleared (the caller deletes the checkpoint file). VB_ERR_INPUT
 * when the run is not failed. */
VbStatus store_requeue(Store *st, int64_t run_id);

/* How many cells within `filter` (NULL: all) are in each status, indexed by
 * StoreStatus; `running_expired` counts running cells that store_claim would
 * take over now. A runner with nothing to claim waits while running > 0. */
typedef struct StoreCounts {
    int n[4];
    int running_expired;
} StoreCounts;
VbStatus store_counts(Store *st, const StoreClaimFilter *filter, StoreCounts *out);

/* ---- provenance ------------------------------------------------------- */

/* What produced a run. NULL strings, git_dirty < 0, threads <= 0 and
 * slurm_array_task_id < 0 are stored as NULL (unknown / not used, e.g. gpu
 * on the CPU backend, the Slurm columns outside Slurm). */
typedef struct StoreProvenance {
    const char *git_sha;
    int git_dirty;
    const char *host, *cpu_model, *gpu, *gpu_driver, *build_opts, *libraries, *backend;
    int threads;
    const char *dataset_digest;
    const char *slurm_job_id; /* "ARRAYJOB_TASK" for an array task, else the job id */
    int slurm_array_task_id;
    const char *slurm_node;
    const char *cpu_path; /* instruction-set path of the CPU backend */
    int numerics;         /* VB_NUMERICS_VERSION; 0 unknown */
} StoreProvenance;

/* Fill git SHA/dirty, host, CPU model, build options, library versions, the
 * CPU backend's instruction-set path and numerics version, and the Slurm job,
 * task and node (provenance_slurm) from
 * harness/store/provenance.h; the rest is left NULL / unknown for the caller. */
void store_provenance_local(StoreProvenance *p);

/* Write the provenance columns of a run (all of them, as given). */
VbStatus store_set_provenance(Store *st, int64_t run_id, const StoreProvenance *p);

/* ---- logging ---------------------------------------------------------- */

/* Buffer one point of a curve: (run, split, key, step) -> value, with the
 * epoch (< 0: none) and the current time. Flushed in one transaction when
 * the buffer holds store_set_batch rows or its oldest row is
 * STORE_FLUSH_INTERVAL_S old, on store_flush, store_mark_*, store_release
 * and store_close. A point logged again (a resumed run re-doing steps after
 * its checkpoint) replaces the earlier one. NaN is stored as NULL. split may
 * be "" (e.g. "train", "val", "test", ""); step >= 0. */
VbStatus store_log_metric(Store *st, int64_t run_id, const char *split, const char *key,
                          int64_t step, int64_t epoch, double value);

/* Buffer a final value of (run, split, key) (stored with step NULL); logging
 * it again replaces it. Final values reach the database at the latest with
 * store_mark_done, in the same transaction as the status change. */
VbStatus store_log_final(Store *st, int64_t run_id, const char *split, const char *key,
                         int64_t epoch, double value);

/* Write the buffered metric rows now (one transaction). */
VbStatus store_flush(Store *st);

/* Add `seconds` and `count` to the run's total for `phase` (written now). */
VbStatus store_log_timing(Store *st, int64_t run_id, const char *phase, double seconds,
                          int64_t count);

/* Store the latency samples (milliseconds) of `component` at batch size
 * `batch`, with their mean, min, max and p50/p90/p99 (linear interpolation
 * between order statistics, numpy's default); replaces an earlier entry for
 * the same (run, component, batch). n >= 1; NaN samples are VB_ERR_INPUT. */
VbStatus store_log_latency(Store *st, int64_t run_id, const char *component, int batch,
                           const double *samples_ms, int n);

/* The q-quantile (0..1) of n >= 1 sorted values, linear interpolation. */
double store_percentile(const double *sorted, int n, double q);

/* ---- baselines -------------------------------------------------------- */

/* Make baseline `name` the set of runs ids[0..n) (replacing what it held). */
VbStatus store_baseline_pin(Store *st, const char *name, const int64_t *ids, int n);

/* The runs of baseline `name`, ascending (*ids malloc'ed; *n = 0 and *ids =
 * NULL if there is no such baseline). */
VbStatus store_baseline_get(Store *st, const char *name, int64_t **ids, int *n);

/* ---- merging shards (store_merge.c) ------------------------------------ */

/* What a merge did with one run of a shard. */
typedef enum StoreMergeKind {
    STORE_MERGE_COPIED,     /* done in the shard; new to OUT, or replaced OUT's queued/failed row */
    STORE_MERGE_SAME,       /* done in both with the same results: nothing copied */
    STORE_MERGE_CONFLICT,   /* done in both, final metrics differ: OUT's kept, keys in detail */
    STORE_MERGE_FAILED,     /* failed in the shard (copied where OUT lacked the cell) */
    STORE_MERGE_UNFINISHED, /* queued or running in the shard: reported, not copied */
    STORE_MERGE_BUSY,       /* running in OUT (another process owns it): not overwritten */
} StoreMergeKind;
#define STORE_MERGE_NKINDS 6

/* "copied", "same", "conflict", "failed", "unfinished", "busy". */
const char *store_merge_kind_name(StoreMergeKind k);

typedef struct StoreMergeItem {
    StoreMergeKind kind;
    char *experiment, *variant, *holdout, *config_hash;
    int64_t seed;
    StoreStatus shard_status;
    char *detail; /* conflict: "split/key: OUT vs SHARD; ..."; failed: the error; may be NULL */
} StoreMergeItem;

typedef struct StoreMergeResult {
    StoreMergeItem *items; /* one per shard run, in the shard's id order */
    int n;
    int count[STORE_MERGE_NKINDS];
} StoreMergeResult;

/* Copy the runs of the results store at `shard_path` into `st` by config
 * hash, in one transaction (nothing is written when it fails): a run done in
 * the shard and absent from st — or queued or failed there — is copied with
 * its experiment (by name), params, metrics, timings, latency samples,
 * provenance and baselines (st's row id is kept when a row is replaced); a
 * run done in both is compared by its final metrics, except the measured
 * train/seconds, train/images_per_s, train/seconds_per_epoch and
 * memory/peak_rss_mb: equal → nothing changes, different → a conflict, st's
 * values kept. Failed shard runs are copied only where st lacks the cell or
 * has it queued; queued and running ones are never copied. Merging the same
 * shard again changes nothing. The shard is opened (and migrated, if
 * older) first: a missing file or one that is not a results store is an
 * error naming it. */
VbStatus store_merge(Store *st, const char *shard_path, StoreMergeResult *res);
void store_merge_result_free(StoreMergeResult *r);

/* Write a consistent copy of the whole database to `path` (buffered metric
 * rows are flushed first): SQLite's online backup into a temporary file
 * beside `path`, then renamed over it, so a reader never sees half a copy.
 * Used to mirror a node-local shard to shared storage. */
VbStatus store_backup(Store *st, const char *path);

/* ---- queries ---------------------------------------------------------- */

typedef struct StoreRunFilter {
    const char *experiment; /* name; NULL: all */
    bool has_status;
    StoreStatus status;
} StoreRunFilter;

typedef struct StoreRunList {
    StoreRun *runs;
    int n;
} StoreRunList;

/* Runs matching `filter` (NULL: all), ordered by id. */
VbStatus store_list_runs(Store *st, const StoreRunFilter *filter, StoreRunList *out);
void store_run_list_free(StoreRunList *l);

/* One run by id or config hash prefix. `spec` all digits: the run with that
 * id if there is one; otherwise `spec` must be a hex prefix of at least 4
 * digits of exactly one run's config hash. No match, a too-short prefix or an
 * ambiguous one (the message lists the matches) is VB_ERR_INPUT. */
VbStatus store_find_run(Store *st, const char *spec, StoreRun *out);

/* One run by id; VB_ERR_INPUT if there is none. */
VbStatus store_get_run(Store *st, int64_t run_id, StoreRun *out);

typedef struct StoreMetric {
    char *split, *key;
    bool has_step, has_epoch;
    int64_t step, epoch;
    double value;     /* NaN when stored as NULL */
    double wall_time; /* Unix seconds when logged */
} StoreMetric;

typedef struct StoreMetricList {
    StoreMetric *rows;
    int n;
} StoreMetricList;

/* A run's metric rows ordered by split, key, step: only the final values
 * (step NULL) when finals_only, else everything (finals first per key). */
VbStatus store_run_metrics(Store *st, int64_t run_id, bool finals_only, StoreMetricList *out);
void store_metric_list_free(StoreMetricList *l);

typedef struct StoreTiming {
    char *phase;
    double seconds;
    int64_t count;
} StoreTiming;

typedef struct StoreLatency {
    char *component;
    int batch, n;
    double p50, p90, p99, mean, min, max;
} StoreLatency;

/* A run's timings (by phase) and latency summaries (by component, batch). */
VbStatus store_run_timings(Store *st, int64_t run_id, StoreTiming **rows, int *n);
void store_timings_free(StoreTiming *rows, int n);
VbStatus store_run_latency(Store *st, int64_t run_id, StoreLatency **rows, int *n);
void store_latency_free(StoreLatency *rows, int n);
/* The raw samples (ms) of (run, component, batch); *ms malloc'ed.
 * VB_ERR_INPUT naming the database when there are none or they are not a
 * JSON array of numbers. */
VbStatus store_latency_samples(Store *st, int64_t run_id, const char *component, int batch,
                               double **ms, int *n);

/* Description and file of experiment `name` (malloc'ed, "" when not
 * recorded); *found = false (and empty strings) when there is none. */
VbStatus store_experiment_info(Store *st, const char *name, char **description, char **file,
                               bool *found);
/* Every experiment name in the store, sorted, as "a, b, c" (malloc'ed; ""
 * when there are none). */
VbStatus store_experiment_names(Store *st, char **joined);

/* A rectangular result for export: typed cells, row-major. */
typedef enum StoreValueType { STORE_NULL = 0, STORE_INT, STORE_REAL, STORE_TEXT } StoreValueType;
typedef struct StoreValue {
    StoreValueType type;
    int64_t i;
    double r;
    char *s;
} StoreValue;
typedef struct StoreTable {
    char **columns;
    int ncols, nrows;
    StoreValue *cells; /* nrows * ncols */
} StoreTable;

static inline const StoreValue *store_cell(const StoreTable *t, int row, int col) {
    return &t->cells[(size_t)row * (size_t)t->ncols + (size_t)col];
}

/* One row per run matching `filter` (NULL: all), ordered by id: run_id,
 * experiment, variant, holdout, seed, status, error, config_hash, created,
 * started, finished, wall_s, attempts, git_sha, git_dirty, host, cpu_model,
 * gpu, gpu_driver, build_opts, libraries, backend, threads, dataset_digest,
 * cpu_path, numerics, then one REAL column per final metric of those runs, named "split/key"
 * (just "key" when split is ""), sorted by split then key; NULL where a run
 * lacks that metric (or its value is NaN). STORE_EXPORT_FIXED_COLUMNS is the
 * number of columns before the metrics. */
#define STORE_EXPORT_FIXED_COLUMNS 26
VbStatus store_export(Store *st, const StoreRunFilter *filter, StoreTable *out);
void store_table_free(StoreTable *t);

/* Shortest decimal text that reads back as exactly `v` (%.15g, else %.17g);
 * "nan", "inf", "-inf" for non-finite values. */
void store_format_real(double v, char *buf, int size);

#endif
