/* claims: the claims an experiment puts to the test (`compare.claims`).
 *
 * A design decision is a set of claims — "the VAE raises test accuracy by 3
 * to 5 points", "Deep SVDD reaches 0.892 AUROC on Fashion-MNIST" — and a
 * report answers each with measurements. An experiment file states them as
 * data; the report renders them with one generic table (harness/report).
 * Each claim has a statement, a source, optionally the source's own figure
 * verbatim, a metric, and one expectation:
 *
 *   difference: X or [lo, hi]   variant − baseline, in the displayed unit
 *   relative: X or [lo, hi]     variant − baseline, in percent of the baseline
 *   value: V (spread: S, tolerance: T)
 *                               a level (a published figure): the mean over
 *                               the listed variants' runs, "reproduced" when
 *                               within T of V
 *   (none)                      measured and shown, nothing claimed
 *
 * Difference claims compare `baseline` (default compare.baseline) with each
 * of `variants` (default: every other variant); level claims average over
 * `variants` (default: all). Metrics:
 *
 *   SPLIT/KEY or SPLIT.KEY      a final metric, e.g. test/accuracy
 *   A + B                       the sum of two final metrics
 *   latency/COMPONENT/bN        median latency of a model part (or `model`)
 *                               at batch N, ms per clip; .../bN/frame per frame
 *
 * where `{score}` stands for the report's decision score (fused). `unit: "%"`
 * shows fractions as percentages (differences in points); another unit is a
 * label. `missing_is_zero: true` counts a latency component a variant lacks
 * as 0 ms. Must not be asked to judge a claim: that is the report's job. */
#ifndef VB_CLAIMS_H
#define VB_CLAIMS_H

#include <stdbool.h>
#include <stdio.h>

#include "kernels/status.h"

struct fy_node;

#define CLAIM_TEXT 256
#define CLAIM_NAME 64
#define CLAIM_MAX_VARIANTS 64

typedef enum ClaimExpect {
    CLAIM_MEASURE = 0, /* nothing claimed: shown for scale */
    CLAIM_DIFFERENCE,  /* variant − baseline in [lo, hi] (displayed unit) */
    CLAIM_RELATIVE,    /* (variant − baseline) / baseline in [lo, hi] percent */
    CLAIM_LEVEL        /* mean over the variants' runs = value (± spread) */
} ClaimExpect;

typedef enum ClaimMetricKind { CLAIM_FINAL = 0, CLAIM_FINAL_SUM, CLAIM_LATENCY } ClaimMetricKind;

typedef struct ClaimMetric {
    ClaimMetricKind kind;
    char spec[2 * CLAIM_NAME + 8];     /* as written */
    char a[CLAIM_NAME], b[CLAIM_NAME]; /* FINAL: a; FINAL_SUM: a + b ("split/key") */
    char component[32];                /* LATENCY */
    int batch;                         /* LATENCY */
    bool per_frame;                    /* LATENCY */
} ClaimMetric;

typedef struct Claim {
    char statement[CLAIM_TEXT], source[CLAIM_TEXT], figure[CLAIM_NAME * 2];
    ClaimMetric metric;
    char unit[16];        /* "%" scales fractions by 100 */
    bool missing_is_zero; /* latency of a component a variant lacks = 0 */
    ClaimExpect expect;
    double lo, hi;                   /* DIFFERENCE, RELATIVE */
    double value, spread, tolerance; /* LEVEL (spread, tolerance: NAN when not given) */
    char baseline[CLAIM_NAME];       /* "" = compare.baseline */
    int nvariants;                   /* 0 = the default set (see above) */
    char variants[CLAIM_MAX_VARIANTS][CLAIM_NAME];
} Claim;

/* Parse `compare.claims` (a sequence) of `file`. Variant names are checked
 * against variants[0..nvariants); errors are FILE:LINE:COL. *out malloc'ed. */
VbStatus claims_parse(const char *file, struct fy_node *seq, const char (*variants)[64],
                      int nvariants, Claim **out, int *n);
/* Parse a metric spec (see above); false with a reason in why. */
bool claim_metric_parse(const char *spec, ClaimMetric *m, char *why, size_t nwhy);
/* The metric's final-metric name with `{score}` replaced ("test/fpr.fused"). */
void claim_metric_name(const char *name, const char *score, char *out, size_t size);
/* The keys of `compare` and of one claim as a Markdown table (`vadbench keys
 * compare`, experiments/README.md). */
void claims_print_keys(FILE *f);
/* Does the claim involve `variant`, given the experiment's baseline? */
bool claim_covers(const Claim *c, const char *variant);

#endif
