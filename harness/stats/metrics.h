/* metrics: evaluation metrics of one run, as pure functions on arrays.
 *
 * Ranking metrics for anomaly scores (AUROC, average precision, ROC and
 * precision-recall curves, curve downsampling) live in metrics_rank.c; the
 * threshold set on validation normals and the rates at it, closed-set
 * classification metrics, video-level aggregation and score fusion live in
 * metrics_class.c. Everything computes in double, allocates only its own
 * outputs and scratch, and touches no files, clocks or global state, so a
 * metric is a function of its arguments alone. Summary statistics across
 * seeds, intervals, verdicts and the Mann-Whitney test are in stats.h.
 *
 * Conventions shared by every function here:
 *   * labels are int, 1 = positive (anomaly), 0 = negative (normal); any
 *     other value is VB_ERR_INPUT;
 *   * a NaN score is VB_ERR_NUMERIC (a NaN has no rank); +-inf scores rank
 *     like any other value;
 *   * a metric that the data cannot define (no positives or no negatives for
 *     AUROC/AP/curves, an empty subset for a rate) is reported as a
 *     MetricResult with defined = false and a reason, never as a number;
 *   * pointer arguments must be valid for their stated lengths (checked by
 *     VB_ASSERT where cheap); n may be 0 where a function says so.
 *
 * Must not be asked to: handle multi-label or weighted samples, compute
 * interpolated ("11-point") AP, or read results from the store. */
#ifndef VB_METRICS_H
#define VB_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/status.h"

/* A scalar metric that may be undefined for the data at hand. */
typedef struct MetricResult {
    bool defined;
    double value;       /* NAN when !defined */
    const char *reason; /* static text when !defined ("no negative samples"), "" otherwise */
} MetricResult;

/* ---------------------------------------------------------------- ranking */

/* Area under the ROC curve, P(score of a random positive > score of a random
 * negative) + 0.5 P(equal): the Mann-Whitney U of the positives divided by
 * (#pos * #neg), with tied scores counted as half a win (midranks). Equals
 * sklearn.metrics.roc_auc_score (the trapezoidal area of the tie-grouped ROC
 * curve). Pair counts are summed exactly in 64-bit integers and divided once.
 * Undefined when there are no positives or no negatives (including n = 0). */
VbStatus metrics_auroc(const double *scores, const int *labels, size_t n, MetricResult *out);

/* Average precision, sklearn.metrics.average_precision_score: the step-wise
 * sum over distinct thresholds t (descending) of (R(t) - R(t_prev)) * P(t),
 * where samples with equal scores enter together (one threshold per distinct
 * score), P = TP / (TP + FP) and R = TP / #pos; no interpolation. Undefined
 * with no positives (recall has no denominator) and, for symmetry with
 * AUROC, with no negatives (AP would be trivially 1). */
VbStatus metrics_average_precision(const double *scores, const int *labels, size_t n,
                                   MetricResult *out);

/* A curve as parallel arrays of n points. For a ROC curve x = false-positive
 * rate, y = true-positive rate; for a PR curve x = recall, y = precision.
 * thr[i] is the score threshold of point i: a sample is flagged when its
 * score >= thr[i]. The point that flags nothing has thr = +INFINITY. */
typedef struct Curve {
    bool defined;
    const char *reason; /* as in MetricResult */
    size_t n;
    double *x, *y, *thr; /* owned; NULL when n = 0 */
} Curve;

/* ROC curve exactly as sklearn.metrics.roc_curve(drop_intermediate=True):
 * one point per distinct score (descending thresholds), then points whose
 * neighbours are collinear with them in (FP, TP) counts are dropped (the
 * first and last always stay), then (0, 0) is prepended with thr = +inf
 * (sklearn 1.2 writes max+1 there, newer versions inf). Ends at (1, 1).
 * Single-class input: VB_OK with out->defined = false and n = 0. */
VbStatus metrics_roc_curve(const double *scores, const int *labels, size_t n, Curve *out);

/* Precision-recall curve exactly as sklearn.metrics.precision_recall_curve
 * (1.2): one point per distinct score in increasing threshold order (recall
 * non-increasing), then the point (recall 0, precision 1) with thr = +inf.
 * Single-class input: VB_OK with out->defined = false. */
VbStatus metrics_pr_curve(const double *scores, const int *labels, size_t n, Curve *out);

void metrics_curve_free(Curve *c);

/* Downsampling for plots and storage, by Visvalingam-Whyatt: while more
 * than max_points points remain, remove the interior point whose triangle
 * with its current neighbours has the smallest area (ties: the lowest
 * index), then recompute its neighbours' areas. Hence: a curve with at most
 * max_points points is returned unchanged; the two endpoints always stay;
 * collinear and duplicate points (area 0) go first, so every corner is kept
 * whenever the number of corners allows it; beyond that the corners that
 * change the drawn shape least are removed first. max_points >= 2.
 * keep receives the kept indices in increasing order (capacity n); *n_keep
 * their count. O(n log n). */
void metrics_downsample_indices(const double *x, const double *y, size_t n, size_t max_points,
                                size_t *keep, size_t *n_keep);
/* The same applied to a Curve (thresholds follow their points). An
 * undefined curve gives an undefined copy. */
VbStatus metrics_curve_downsample(const Curve *in, size_t max_points, Curve *out);

/* ------------------------------------------------- threshold and rates */

/* Threshold for a target false-positive rate `target` in [0, 1), set on m
 * validation-normal scores. With k = floor(target * m + 1e-9) (the number of
 * validation normals allowed above the threshold; the 1e-9 absorbs products
 * like 0.05 * 100 landing just below an integer), the threshold is
 *     t = min { t : #{ v_i > t } <= k },
 * which is the (m - k)-th smallest validation score (1-based). A sample is
 * flagged anomalous when its score is strictly greater than t. Ties: values
 * equal to t are not flagged, so the realised validation FPR never exceeds
 * k / m and can be below it when t is tied (e.g. all-equal normals give
 * t = that value and FPR 0). target = 0 gives t = max. m = 0 or a target
 * outside [0, 1) is VB_ERR_INPUT. */
VbStatus metrics_threshold_at_fpr(const double *val_normal, size_t m, double target,
                                  double *threshold);

/* Fraction of the selected samples whose score is strictly above threshold:
 * the false-positive rate when given test normals, the detection rate
 * (recall) when given anomalies. mask selects samples (NULL: all; nonzero
 * byte: selected). Undefined when no sample is selected. */
VbStatus metrics_rate_above(const double *scores, const uint8_t *mask, size_t n, double threshold,
                            MetricResult *out);

/* The same over the samples whose class id is one of classes[0..n_classes)
 * (seen anomaly classes, unseen ones, or a single class). */
VbStatus metrics_rate_above_classes(const double *scores, const int *class_ids, size_t n,
                                    const int *classes, size_t n_classes, double threshold,
                                    MetricResult *out);

/* ------------------------------------------------ closed-set classification */

/* Classification over C classes 0..C-1, as sklearn's accuracy_score,
 * precision_recall_fscore_support(labels=range(C), zero_division=0) and
 * confusion_matrix(labels=range(C)):
 *   precision_c = TP_c / (TP_c + FP_c), recall_c = TP_c / (TP_c + FN_c),
 *   f1_c = 2 P R / (P + R); any 0/0 is 0. Macro = unweighted mean over all C
 *   classes (also those without support); weighted = mean weighted by true
 *   support. confusion[i * C + j] = #(true i, predicted j). */
typedef struct ClassReport {
    size_t n_classes, n_samples;
    double accuracy;
    double *precision, *recall, *f1; /* [C] */
    size_t *support;                 /* [C] true count per class */
    size_t *predicted;               /* [C] predicted count per class */
    double macro_precision, macro_recall, macro_f1;
    double weighted_precision, weighted_recall, weighted_f1;
    size_t *confusion; /* [C*C], row = true class, column = predicted */
} ClassReport;

/* n >= 1, C >= 1, labels in [0, C) (else VB_ERR_INPUT). */
VbStatus metrics_classification(const int *y_true, const int *y_pred, size_t n, size_t n_classes,
                                ClassReport *out);
void metrics_class_report_free(ClassReport *r);

/* Counts of (row id, column id) pairs into counts[n_rows * n_cols] (zeroed
 * first). With rows = unseen-class ids (0..U-1) and cols = the predicted
 * seen class of those samples, row r is where class r's samples were
 * assigned; with rows = cols = classes it is the confusion matrix. Ids out
 * of range are VB_ERR_INPUT. */
VbStatus metrics_assignment_counts(const int *row_ids, const int *col_ids, size_t n, size_t n_rows,
                                   size_t n_cols, size_t *counts);

/* ------------------------------------------------------ video level */

/* Video-level scores: a video's score is the max over its clips' scores and
 * its label the max over its clips' labels (a video with any anomalous clip
 * is anomalous). Videos are listed in order of their first clip. n >= 1. */
typedef struct VideoScores {
    size_t n;
    int64_t *ids;
    double *scores;
    int *labels;
} VideoScores;

VbStatus metrics_video_aggregate(const double *clip_scores, const int *clip_labels,
                                 const int64_t *video_ids, size_t n, VideoScores *out);
void metrics_video_free(VideoScores *v);

/* ------------------------------------------------------ score fusion */

/* Fusion of K scores (MODEL_SPEC §3 `fused`). Fit: for each score k, the
 * mean and population standard deviation (divisor m, numpy's default) of
 * its m validation-normal values val[k][0..m). A standard deviation that is
 * 0 or not finite is replaced by 1 (the score is then only centred), so a
 * constant score cannot divide by zero. m >= 1, K >= 1. */
VbStatus metrics_fusion_fit(const double *const *val, size_t n_scores, size_t m, double *mean,
                            double *std);
/* Apply: out[i] = (1/K) sum_k (s[k][i] - mean[k]) / std[k], k ascending. */
void metrics_fusion_apply(const double *const *scores, size_t n_scores, size_t n,
                          const double *mean, const double *std, double *out);

#endif
