/* report_data: what the report and check commands read from the results
 * store, gathered once into plain structs.
 *
 * A RepData holds the done runs of one experiment (optionally one variant)
 * or of an explicit list of run ids, each with its metric rows (final values
 * and, when asked, curves), timings and latency summaries; the runs grouped
 * by variant; and the experiment's `compare:` settings, read from the
 * experiment file recorded in the store when that file can still be loaded
 * (otherwise defaults, with a note saying why). When one cell (variant,
 * holdout, seed) has several done runs — the file changed and the cell ran
 * again under a new hash — only the most recently registered one counts,
 * as in the store's variant_summary view.
 *
 * Metric names: "split.key" or "split/key" ("test.accuracy",
 * "memory/peak_rss_mb"); a name whose first part is not a split any run
 * has is taken as a test-split key ("accuracy" = "test.accuracy").
 *
 * Raw latency samples and the experiment's file and description are not in
 * store.h; they are read here with a read-only SQLite connection on the
 * documented schema (results/README.md). Nothing here writes. */
#ifndef VB_REPORT_DATA_H
#define VB_REPORT_DATA_H

#include <stdbool.h>
#include <stdint.h>

#include "harness/experiment/experiment.h"
#include "harness/stats/stats.h"
#include "harness/store/store.h"

#define REP_NAME 96

typedef struct RepRun {
    StoreRun run;
    StoreMetricList metrics; /* finals (and curves when loaded), ordered by split, key, step */
    StoreTiming *timings;
    int ntimings;
    StoreLatency *latency;
    int nlatency;
    int clip_frames; /* frames per clip (dataset.clip.frames), 0 when unknown */
    bool has_vae;    /* model.vae.level is not "none" */
    char normal_class[REP_NAME];
} RepRun;

typedef struct RepVariant {
    char name[REP_NAME];
    int *idx; /* indices into RepData.runs, ascending run id */
    int n;
} RepVariant;

typedef struct RepTol {
    char metric[REP_NAME];
    double tol;
} RepTol;

typedef struct RepCompare {
    char baseline[REP_NAME];
    int nmetrics;
    char (*metrics)[REP_NAME];
    int ntol;
    RepTol *tol;
    double latency_factor;
    int nclaims; /* compare.claims (harness/experiment/claims.h) */
    Claim *claims;
    bool from_file; /* read from the experiment file */
    char note[600]; /* why defaults were used ("" when from_file) */
} RepCompare;

typedef struct RepData {
    char experiment[REP_NAME]; /* "" for an explicit run list */
    char *description, *file;  /* from the store (may be "") */
    char db_path[1024];
    RepRun *runs;
    int nruns;
    RepVariant *variants; /* baseline first (when known), then by first run id */
    int nvariants;
    RepCompare cmp;
    char score[32];   /* anomaly score the decision rows use (default "fused") */
    int n_not_done;   /* runs of the experiment that are not done (left out) */
    int n_superseded; /* done runs replaced by a newer run of the same cell */
} RepData;

/* The done runs of experiment `name` (of `variant` only when not NULL).
 * curves: also load curve points (ROC, training curves). An unknown
 * experiment, or one without done runs, is VB_ERR_INPUT with a message that
 * names the database and lists what is there. */
VbStatus rep_load_experiment(Store *st, const char *name, const char *variant, bool curves,
                             RepData *d);

/* The runs ids[0..n) (each must exist and be done), no compare settings
 * beyond the defaults. */
VbStatus rep_load_runs(Store *st, const int64_t *ids, int n, bool curves, RepData *d);

void rep_free(RepData *d);

/* Split "test.fpr.fused" / "test/fpr.fused" into split and key (see top). */
void rep_metric_split(const RepData *d, const char *spec, char *split, size_t nsplit, char *key,
                      size_t nkey);

/* Final value of (split, key) of a run; false when absent or NaN. */
bool rep_final(const RepRun *r, const char *split, const char *key, double *v);

/* The points of curve (split, key) of a run, in step order: *n points,
 * steps[] and values[] malloc'ed (NULL when *n = 0). */
void rep_curve(const RepRun *r, const char *split, const char *key, int64_t **steps,
               double **values, int *n);

/* Latency summary of (component, batch); NULL when not measured. */
const StoreLatency *rep_latency(const RepRun *r, const char *component, int batch);

/* Index of a variant by name, -1 when absent. */
int rep_variant_index(const RepData *d, const char *name);

/* Which way a metric improves: lower for false-positive rates, losses,
 * thresholds-free costs (latency, memory, seconds); higher otherwise. */
StatsDirection rep_direction(const char *split, const char *key);

/* Tolerance of metric `spec` from the compare settings (matching by split
 * and key); false when there is none. */
bool rep_tolerance(const RepData *d, const char *spec, double *tol);

/* When the runs of the given sets were computed with different CPU
 * numerics versions (VB_NUMERICS_VERSION; unknown for runs recorded before
 * it existed), a one-line warning naming the versions and their runs goes
 * to msg and true is returned: their differences may be numerical rather
 * than experimental. Otherwise msg = "" and false. */
bool rep_numerics_warning(const RepData *const *sets, int nsets, char *msg, size_t size);

/* "option_a seed 1 holdout unseen3" (holdout left out when empty). */
void rep_run_label(const RepRun *r, char *buf, size_t size);

#endif
