/* check: regression check of candidate runs against a pinned baseline, as
 * `vadbench check` runs it (the printing is in cmd_check.c).
 *
 * Rules:
 *   * accuracy-type metrics (final values): the mean over the candidate runs
 *     minus the mean over the baseline runs, against an absolute tolerance.
 *     Metrics come from the candidate experiment's compare.metrics and
 *     compare.tolerances, plus every metric given a tolerance by the caller
 *     (which also overrides the file's). Direction per rep_direction: a drop
 *     larger than the tolerance is a regression for accuracy, AUROC, AP and
 *     detection rates; a rise larger than the tolerance is one for
 *     false-positive rates, losses, memory and time. A listed metric without
 *     a tolerance is reported but not gated. Every run on both sides must
 *     have every metric checked.
 *   * the power of each metric check: the minimum detectable difference at
 *     the runs' count and spread, and the runs per side a tolerance-sized
 *     change would need when the check cannot see one (see CheckRow);
 *   * latency: for the whole model (component `model`) at every batch size
 *     that all runs on both sides measured (batch 1 must be among them), the
 *     p50 and p99 of the pooled raw samples; a regression needs BOTH the
 *     ratio candidate/baseline above the latency factor AND a one-sided
 *     Mann-Whitney U test (stats_latency_slower) with p < CHECK_ALPHA, so
 *     neither a large but noisy difference nor a tiny but consistent one
 *     fails a check (the rule asv uses). Improvements are reported the same
 *     way the other way round.
 * Runs computed with different CPU numerics versions are compared all the
 * same, with a warning (CheckResult.warning).
 * Bad input — an unknown baseline, no candidate runs, a run that is not
 * done, a missing metric or latency measurement — is VB_ERR_INPUT. */
#ifndef VB_CHECK_H
#define VB_CHECK_H

#include "harness/report/report_data.h"

#define CHECK_ALPHA 0.01
#define CHECK_DEFAULT_FACTOR 1.5
/* Differences within this of the tolerance count as within it (rounding). */
#define CHECK_EPS 1e-9

typedef struct CheckOptions {
    const char *baseline;   /* baseline name */
    const char *experiment; /* candidate: an experiment's done runs ... */
    const char *variant;    /* ... of this variant only (may be NULL) */
    const int64_t *runs;    /* or these run ids */
    int nruns;
    const RepTol *tols; /* tolerances from the command line */
    int ntols;
    double latency_factor; /* <= 0: the experiment's compare.latency_factor, else 1.5 */
} CheckOptions;

typedef enum CheckVerdict {
    CHECK_OK,
    CHECK_IMPROVED,
    CHECK_REGRESSION,
    CHECK_UNGATED
} CheckVerdict;

typedef struct CheckRow {
    char metric[200]; /* "test/accuracy", "latency model batch 1 p50" */
    bool latency;
    StatsDirection dir;
    double base, cand; /* means over runs, or latency percentiles (ms) */
    int nbase, ncand;  /* runs, or pooled samples */
    double change;     /* cand - base, or cand / base for latency */
    bool has_limit;
    double limit;    /* tolerance, or latency factor */
    double p;        /* Mann-Whitney p (candidate slower); NAN for metrics */
    double p_faster; /* Mann-Whitney p (candidate faster); NAN for metrics */
    /* metrics: what a difference of means over these runs can detect — the
     * minimum detectable effect (two-sample t test, 80% power, two-sided
     * 0.05) from the pooled between-run spread, and, when that exceeds the
     * tolerance, the runs per side that would detect a change of the
     * tolerance (0: none needed or not gated; NAN mde: too few runs) */
    double sd, mde;
    size_t runs_needed;
    CheckVerdict verdict;
} CheckRow;

typedef struct CheckResult {
    char baseline[REP_NAME];
    int64_t *base_ids, *cand_ids;
    int nbase, ncand;
    char base_desc[400], cand_desc[400]; /* which runs, in words */
    double latency_factor, alpha;
    CheckRow *rows;
    int nrows;
    int regressions;
    char warning[1024]; /* rep_numerics_warning over both sides, "" when none */
} CheckResult;

/* Run the check; *r is filled (and must be freed) on VB_OK. */
VbStatus check_run(Store *st, const CheckOptions *o, CheckResult *r);
void check_result_free(CheckResult *r);
/* "ok", "improved", "REGRESSION", "not gated" */
const char *check_verdict_name(CheckVerdict v);

/* Parse "METRIC=ABS" (ABS a non-negative number). */
VbStatus check_parse_tolerance(const char *text, RepTol *out);

/* Pin the done runs of experiment X (variant V when not NULL; the newest
 * run of each cell) as baseline `name`. *n receives how many; ids (may be
 * NULL) receives them (malloc'ed). */
VbStatus check_pin_baseline(Store *st, const char *name, const char *experiment,
                            const char *variant, int64_t **ids, int *n);

#endif
