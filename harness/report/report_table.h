/* report_table: the numbers of a report — quantities read from each run,
 * their summaries across seeds, paired differences against the baseline
 * variant, and the tables built from them (metrics per variant, paired
 * comparisons, shortcut baselines; the claims tables are report_claims.c).
 *
 * A quantity is one number per run: a final metric (optionally the sum of
 * two, e.g. activation + parameter memory) or the median latency of a
 * component at a batch size (optionally per frame), times a display scale
 * (100 for percentages). Across a variant's runs it is summarised as mean ±
 * Student-t 95% half-width (stats_summary); against the baseline it is a
 * paired difference, run pairs matched by seed AND holdout, with a
 * percentile bootstrap 95% interval (stats_bootstrap_paired_diff, B =
 * 10000, a stream derived from the quantity's name so a report is
 * reproducible) and the better / worse / no detectable difference verdict
 * in the quantity's direction. Every number is printed with
 * stats_format_pm / stats_format_value, i.e. with no more digits than its
 * interval supports.
 *
 * Must not be asked to decide which variant is the baseline or which
 * metrics matter (the caller passes them), or to correct for multiple
 * comparisons. */
#ifndef VB_REPORT_TABLE_H
#define VB_REPORT_TABLE_H

#include "harness/report/report_data.h"
#include "harness/report/report_doc.h"

/* The confidence level of every interval in a report. */
#define REP_LEVEL 0.95

typedef enum RepQKind { RQ_FINAL, RQ_FINAL_SUM, RQ_LATENCY } RepQKind;

typedef struct RepQuantity {
    RepQKind kind;
    char split[32], key[REP_NAME], key2[REP_NAME]; /* RQ_FINAL (key), RQ_FINAL_SUM (key + key2) */
    char component[32];                            /* RQ_LATENCY: median of this component */
    int batch;                                     /* RQ_LATENCY: at this batch size */
    bool per_frame;      /* RQ_LATENCY: divided by the run's frames per clip */
    bool zero_if_absent; /* RQ_LATENCY: a component the run lacks (but whose whole model was
                            timed at that batch) costs 0 ms */
    double scale;        /* displayed = stored * scale */
    StatsDirection dir;
    char label[160]; /* what the row says */
    char name[160];  /* the stored name ("test/accuracy", "latency vae b1 p50") */
    char unit[16];   /* "%", "ms", "MB", "s", "" */
} RepQuantity;

/* A final metric by name (see rep_metric_split); label NULL: the name. */
RepQuantity rep_q_final(const RepData *d, const char *spec, const char *label);
/* Median latency of `component` at `batch`, ms per clip (or per frame). */
RepQuantity rep_q_latency(const char *component, int batch, bool per_frame, const char *label);

/* The quantity's displayed value for one run; false when the run lacks it. */
bool rep_q_value(const RepRun *r, const RepQuantity *q, double *v);
/* Summary over the runs of variant v that have the quantity; false when none. */
bool rep_q_summary(const RepData *d, int v, const RepQuantity *q, Summary *out);

typedef struct RepPaired {
    int npairs;
    double mean_diff; /* candidate - baseline, displayed units */
    double base_mean; /* mean of the paired baseline values */
    Interval ci;      /* bootstrap 95% interval of the mean difference */
    StatsVerdict verdict;
    double sd_diff; /* standard deviation of the paired differences (NAN: one pair) */
    double mde;     /* minimum detectable difference at these pairs and that spread
                       (stats_mde_paired, 80% power, two-sided 0.05); NAN: one pair */
} RepPaired;

/* Paired difference of variant vc against vb; false when no pair has the
 * quantity on both sides. */
bool rep_q_paired(const RepData *d, int vb, int vc, const RepQuantity *q, RepPaired *out);

/* "0.83 ± 0.02 %" of variant v's runs, "n/a" when none has the quantity. */
void rep_cell_summary(const RepData *d, int v, const RepQuantity *q, char *buf, size_t size);
/* A half-width that is only rounding noise next to `ref` (identical values
 * across runs summed in a different order) is no interval at all: 0. */
double rep_real_width(double hw, double ref);
/* "0.83 ± 0.02" (+ unit) of a summary; "0.83" alone for one run. */
void rep_fmt_summary(const Summary *s, const char *unit, char *buf, size_t size);
/* "+0.031 [-0.010, 0.070]" (+ unit, "pp" for percentages) of a paired result. */
void rep_fmt_paired(const RepPaired *p, const char *unit, char *buf, size_t size);

/* What the comparison could detect: "±0.12 pp", and when the verdict is "no
 * detectable difference" and `effect` (displayed units, NAN: none) is given,
 * how many pairs would detect it ("; 14 pairs for +3 pp", or "±3 pp" when
 * either_sign, as for a tolerance). */
void rep_fmt_power(const RepPaired *p, const char *unit, double effect, bool either_sign, char *buf,
                   size_t size);

/* The report's metric rows: the experiment's compare.metrics, then a default
 * set (accuracy, F1, AUROC/AP/rates of the decision score, costs). Rows no
 * run has are left out. *out malloc'ed. */
int rep_quantities_default(const RepData *d, RepQuantity **out);
/* AUROC and detection of unseen anomalies for every anomaly score. */
int rep_quantities_scores(const RepData *d, RepQuantity **out);
/* Detection rate of each unseen class (detect.<score>.class.<C>). */
int rep_quantities_unseen_classes(const RepData *d, RepQuantity **out);

/* Table: one row per quantity, one column per variant (mean ± 95% CI, n). */
RepTable *rep_table_per_variant(const RepData *d, const RepQuantity *q, int nq);
/* Table: paired differences of variant vc against vb for each quantity. */
RepTable *rep_table_paired(const RepData *d, int vb, int vc, const RepQuantity *q, int nq);
/* The models against the shortcut probe (probe.h), per video: balanced
 * accuracy over the seen classes and AUROC of unseen / all anomalies
 * against normal, one row per variant (its decision score) and per probe
 * feature set — once, from the baseline vb's runs, when every variant's
 * probe agrees (it sees the data and the split, not the model), else under
 * each variant (e.g. variants with different normal classes). NULL when no
 * run has any of them. */
RepTable *rep_table_shortcuts(const RepData *d, int vb);

#endif
