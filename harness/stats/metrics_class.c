/* metrics_class: the threshold set on validation normals and the rates at
 * it, closed-set classification metrics (accuracy, per-class and averaged
 * precision/recall/F1, confusion and assignment matrices), video-level
 * aggregation of clip scores and the fusion of several scores. Definitions
 * are in metrics.h.
 *
 * Must not be asked to: choose thresholds on test data (it only takes the
 * scores it is given), classify with more than INT_MAX classes, or handle
 * NaN scores (rejected with VB_ERR_NUMERIC). */
#include "harness/stats/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double_asc(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static VbStatus check_scores(const double *s, size_t n, const char *what) {
    VB_ASSERT(n == 0 || s);
    for (size_t i = 0; i < n; i++)
        if (isnan(s[i])) return VB_FAIL(VB_ERR_NUMERIC, "%s %zu is NaN", what, i);
    return VB_OK;
}

/* ------------------------------------------------- threshold and rates */

VbStatus metrics_threshold_at_fpr(const double *val_normal, size_t m, double target,
                                  double *threshold) {
    if (m == 0) return VB_FAIL(VB_ERR_INPUT, "no validation normals to set a threshold on");
    if (!(target >= 0.0 && target < 1.0))
        return VB_FAIL(VB_ERR_INPUT, "target false-positive rate %g is outside [0, 1)", target);
    VB_TRY(check_scores(val_normal, m, "validation score"));
    double *v = malloc(m * sizeof *v);
    if (!v) return VB_FAIL(VB_ERR_NOMEM, "out of memory sorting %zu scores", m);
    memcpy(v, val_normal, m * sizeof *v);
    qsort(v, m, sizeof *v, cmp_double_asc);
    size_t k = (size_t)floor(target * (double)m + 1e-9);
    if (k > m - 1) k = m - 1; /* target < 1 keeps k < m; guard the epsilon */
    *threshold = v[m - 1 - k];
    free(v);
    return VB_OK;
}

VbStatus metrics_rate_above(const double *scores, const uint8_t *mask, size_t n, double threshold,
                            MetricResult *out) {
    VB_TRY(check_scores(scores, n, "score"));
    if (isnan(threshold)) return VB_FAIL(VB_ERR_NUMERIC, "threshold is NaN");
    size_t sel = 0, above = 0;
    for (size_t i = 0; i < n; i++) {
        if (mask && !mask[i]) continue;
        sel++;
        above += scores[i] > threshold;
    }
    if (sel == 0)
        *out = (MetricResult){.defined = false, .value = NAN, .reason = "no samples selected"};
    else *out = (MetricResult){.defined = true, .value = (double)above / (double)sel, .reason = ""};
    return VB_OK;
}

VbStatus metrics_rate_above_classes(const double *scores, const int *class_ids, size_t n,
                                    const int *classes, size_t n_classes, double threshold,
                                    MetricResult *out) {
    VB_ASSERT(n == 0 || class_ids);
    VB_ASSERT(n_classes == 0 || classes);
    uint8_t *mask = calloc(n ? n : 1, 1);
    if (!mask) return VB_FAIL(VB_ERR_NOMEM, "out of memory for a mask of %zu samples", n);
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < n_classes; c++)
            if (class_ids[i] == classes[c]) {
                mask[i] = 1;
                break;
            }
    VbStatus s = metrics_rate_above(scores, mask, n, threshold, out);
    free(mask);
    return s;
}

/* ------------------------------------------------ closed-set classification */

VbStatus metrics_assignment_counts(const int *row_ids, const int *col_ids, size_t n, size_t n_rows,
                                   size_t n_cols, size_t *counts) {
    VB_ASSERT(n == 0 || (row_ids && col_ids));
    memset(counts, 0, n_rows * n_cols * sizeof *counts);
    for (size_t i = 0; i < n; i++) {
        if (row_ids[i] < 0 || (size_t)row_ids[i] >= n_rows)
            return VB_FAIL(VB_ERR_INPUT, "row id %d of sample %zu is outside [0, %zu)", row_ids[i],
                           i, n_rows);
        if (col_ids[i] < 0 || (size_t)col_ids[i] >= n_cols)
            return VB_FAIL(VB_ERR_INPUT, "column id %d of sample %zu is outside [0, %zu)",
                           col_ids[i], i, n_cols);
        counts[(size_t)row_ids[i] * n_cols + (size_t)col_ids[i]]++;
    }
    return VB_OK;
}

void metrics_class_report_free(ClassReport *r) {
    if (!r) return;
    free(r->precision), free(r->recall), free(r->f1);
    free(r->support), free(r->predicted), free(r->confusion);
    memset(r, 0, sizeof *r);
}

static double safe_div(double a, double b) { return b == 0.0 ? 0.0 : a / b; }

VbStatus metrics_classification(const int *y_true, const int *y_pred, size_t n, size_t n_classes,
                                ClassReport *out) {
    memset(out, 0, sizeof *out);
    if (n == 0) return VB_FAIL(VB_ERR_INPUT, "classification metrics need at least one sample");
    if (n_classes == 0) return VB_FAIL(VB_ERR_INPUT, "classification metrics need a class");
    VbStatus st = VB_OK;
    size_t c = n_classes;
    out->n_classes = c;
    out->n_samples = n;
    out->precision = calloc(c, sizeof(double));
    out->recall = calloc(c, sizeof(double));
    out->f1 = calloc(c, sizeof(double));
    out->support = calloc(c, sizeof(size_t));
    out->predicted = calloc(c, sizeof(size_t));
    out->confusion = calloc(c * c, sizeof(size_t));
    if (!out->precision || !out->recall || !out->f1 || !out->support || !out->predicted ||
        !out->confusion) {
        st = VB_FAIL(VB_ERR_NOMEM, "out of memory for %zu classes", c);
        goto out;
    }
    VB_CHECK(metrics_assignment_counts(y_true, y_pred, n, c, c, out->confusion));
    size_t correct = 0;
    for (size_t i = 0; i < c; i++) {
        correct += out->confusion[i * c + i];
        for (size_t j = 0; j < c; j++) {
            out->support[i] += out->confusion[i * c + j];
            out->predicted[j] += out->confusion[i * c + j];
        }
    }
    out->accuracy = (double)correct / (double)n;
    double wsum = 0;
    for (size_t i = 0; i < c; i++) {
        double tp = (double)out->confusion[i * c + i];
        double p = safe_div(tp, (double)out->predicted[i]);
        double r = safe_div(tp, (double)out->support[i]);
        /* sklearn's F-beta with beta = 1: (1 + 1) P R / (P + R), 0 when P + R = 0 */
        double denom = p + r;
        double f = denom == 0.0 ? 0.0 : 2.0 * p * r / denom;
        out->precision[i] = p, out->recall[i] = r, out->f1[i] = f;
        double w = (double)out->support[i];
        out->macro_precision += p, out->macro_recall += r, out->macro_f1 += f;
        out->weighted_precision += w * p, out->weighted_recall += w * r, out->weighted_f1 += w * f;
        wsum += w;
    }
    out->macro_precision /= (double)c, out->macro_recall /= (double)c, out->macro_f1 /= (double)c;
    out->weighted_precision /= wsum, out->weighted_recall /= wsum, out->weighted_f1 /= wsum;
out:
    if (st != VB_OK) metrics_class_report_free(out);
    return st;
}

/* ------------------------------------------------------ video level */

typedef struct ClipRef {
    int64_t id;
    size_t idx;
} ClipRef;

static int cmp_clip(const void *a, const void *b) {
    const ClipRef *x = a, *y = b;
    if (x->id != y->id) return (x->id > y->id) - (x->id < y->id);
    return (x->idx > y->idx) - (x->idx < y->idx);
}

typedef struct VideoAcc {
    size_t first;
    int64_t id;
    double score;
    int label;
} VideoAcc;

static int cmp_first(const void *a, const void *b) {
    size_t x = ((const VideoAcc *)a)->first, y = ((const VideoAcc *)b)->first;
    return (x > y) - (x < y);
}

void metrics_video_free(VideoScores *v) {
    if (!v) return;
    free(v->ids), free(v->scores), free(v->labels);
    memset(v, 0, sizeof *v);
}

VbStatus metrics_video_aggregate(const double *clip_scores, const int *clip_labels,
                                 const int64_t *video_ids, size_t n, VideoScores *out) {
    memset(out, 0, sizeof *out);
    if (n == 0) return VB_FAIL(VB_ERR_INPUT, "no clips to aggregate");
    VB_ASSERT(clip_scores && clip_labels && video_ids);
    VB_TRY(check_scores(clip_scores, n, "clip score"));
    for (size_t i = 0; i < n; i++)
        if (clip_labels[i] != 0 && clip_labels[i] != 1)
            return VB_FAIL(VB_ERR_INPUT, "clip label %zu is %d; labels must be 0 or 1", i,
                           clip_labels[i]);
    VbStatus st = VB_OK;
    ClipRef *refs = malloc(n * sizeof *refs);
    VideoAcc *acc = malloc(n * sizeof *acc);
    if (!refs || !acc) {
        st = VB_FAIL(VB_ERR_NOMEM, "out of memory aggregating %zu clips", n);
        goto out;
    }
    for (size_t i = 0; i < n; i++) refs[i] = (ClipRef){video_ids[i], i};
    qsort(refs, n, sizeof *refs, cmp_clip);
    size_t nv = 0;
    for (size_t i = 0; i < n; i++) {
        size_t j = refs[i].idx;
        if (i == 0 || refs[i].id != refs[i - 1].id) {
            acc[nv++] = (VideoAcc){j, refs[i].id, clip_scores[j], clip_labels[j]};
            continue;
        }
        VideoAcc *a = &acc[nv - 1];
        if (clip_scores[j] > a->score) a->score = clip_scores[j];
        if (clip_labels[j] > a->label) a->label = clip_labels[j];
    }
    qsort(acc, nv, sizeof *acc, cmp_first);
    out->ids = malloc(nv * sizeof *out->ids);
    out->scores = malloc(nv * sizeof *out->scores);
    out->labels = malloc(nv * sizeof *out->labels);
    if (!out->ids || !out->scores || !out->labels) {
        st = VB_FAIL(VB_ERR_NOMEM, "out of memory for %zu videos", nv);
        goto out;
    }
    for (size_t v = 0; v < nv; v++) {
        out->ids[v] = acc[v].id;
        out->scores[v] = acc[v].score;
        out->labels[v] = acc[v].label;
    }
    out->n = nv;
out:
    free(refs), free(acc);
    if (st != VB_OK) metrics_video_free(out);
    return st;
}

/* ------------------------------------------------------ score fusion */

VbStatus metrics_fusion_fit(const double *const *val, size_t n_scores, size_t m, double *mean,
                            double *std) {
    if (n_scores == 0) return VB_FAIL(VB_ERR_INPUT, "score fusion needs at least one score");
    if (m == 0) return VB_FAIL(VB_ERR_INPUT, "score fusion needs validation normals");
    for (size_t k = 0; k < n_scores; k++) {
        VB_TRY(check_scores(val[k], m, "validation-normal score"));
        double s = 0;
        for (size_t i = 0; i < m; i++) s += val[k][i];
        double mu = s / (double)m, ss = 0;
        for (size_t i = 0; i < m; i++) ss += (val[k][i] - mu) * (val[k][i] - mu);
        double sd = sqrt(ss / (double)m);
        mean[k] = mu;
        std[k] = (sd > 0.0 && isfinite(sd)) ? sd : 1.0;
    }
    return VB_OK;
}

void metrics_fusion_apply(const double *const *scores, size_t n_scores, size_t n,
                          const double *mean, const double *std, double *out) {
    VB_ASSERT(n_scores > 0);
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t k = 0; k < n_scores; k++) s += (scores[k][i] - mean[k]) / std[k];
        out[i] = s / (double)n_scores;
    }
}
