/* metrics_rank: ranking metrics of anomaly scores against binary labels —
 * AUROC (midrank / Mann-Whitney), average precision, ROC and precision-recall
 * curves with sklearn's exact point sets, and Visvalingam-Whyatt curve
 * downsampling. Definitions are in metrics.h.
 *
 * Every metric starts from the same tie-grouped table: samples sorted by
 * score (descending), one row per distinct score with the cumulative counts
 * of positives (TP) and negatives (FP) at or above it. Counts are integers,
 * so the curve points are the same doubles sklearn computes (count / total).
 *
 * Must not be asked to: take sample weights, multi-class scores, or NaN
 * scores (rejected with VB_ERR_NUMERIC). */
#include "harness/stats/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Tie-grouped cumulative counts, one row per distinct score, descending. */
typedef struct Groups {
    size_t k;
    double *thr;
    uint64_t *tps, *fps;
    uint64_t pos, neg;
} Groups;

typedef struct ScoredLabel {
    double s;
    int l;
} ScoredLabel;

static int cmp_desc(const void *a, const void *b) {
    double x = ((const ScoredLabel *)a)->s, y = ((const ScoredLabel *)b)->s;
    return (x < y) - (x > y);
}

static void *alloc_or_null(size_t count, size_t size) { return calloc(count ? count : 1, size); }

static void groups_free(Groups *g) {
    free(g->thr), free(g->tps), free(g->fps);
    memset(g, 0, sizeof *g);
}

/* Validate labels and scores and count classes. */
static VbStatus check_binary(const double *scores, const int *labels, size_t n, uint64_t *pos,
                             uint64_t *neg) {
    VB_ASSERT(n == 0 || (scores && labels));
    uint64_t p = 0;
    for (size_t i = 0; i < n; i++) {
        if (labels[i] != 0 && labels[i] != 1)
            return VB_FAIL(VB_ERR_INPUT, "label %zu is %d; labels must be 0 or 1", i, labels[i]);
        if (isnan(scores[i])) return VB_FAIL(VB_ERR_NUMERIC, "score %zu is NaN", i);
        p += (uint64_t)labels[i];
    }
    *pos = p;
    *neg = (uint64_t)n - p;
    return VB_OK;
}

static const char *single_class_reason(uint64_t pos, uint64_t neg) {
    if (pos == 0 && neg == 0) return "no samples";
    if (pos == 0) return "no positive samples";
    if (neg == 0) return "no negative samples";
    return NULL;
}

static VbStatus build_groups(const double *scores, const int *labels, size_t n, Groups *g) {
    memset(g, 0, sizeof *g);
    ScoredLabel *v = alloc_or_null(n, sizeof *v);
    g->thr = alloc_or_null(n, sizeof *g->thr);
    g->tps = alloc_or_null(n, sizeof *g->tps);
    g->fps = alloc_or_null(n, sizeof *g->fps);
    if (!v || !g->thr || !g->tps || !g->fps) {
        free(v);
        groups_free(g);
        return VB_FAIL(VB_ERR_NOMEM, "out of memory ranking %zu scores", n);
    }
    for (size_t i = 0; i < n; i++) v[i] = (ScoredLabel){scores[i], labels[i]};
    qsort(v, n, sizeof *v, cmp_desc);
    uint64_t tp = 0;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        tp += (uint64_t)v[i].l;
        if (i + 1 == n || v[i + 1].s != v[i].s) {
            g->thr[k] = v[i].s;
            g->tps[k] = tp;
            g->fps[k] = (uint64_t)(i + 1) - tp;
            k++;
        }
    }
    g->k = k;
    g->pos = tp;
    g->neg = (uint64_t)n - tp;
    free(v);
    return VB_OK;
}

static MetricResult undefined(const char *reason) {
    return (MetricResult){.defined = false, .value = NAN, .reason = reason};
}

VbStatus metrics_auroc(const double *scores, const int *labels, size_t n, MetricResult *out) {
    uint64_t pos, neg;
    VB_TRY(check_binary(scores, labels, n, &pos, &neg));
    const char *why = single_class_reason(pos, neg);
    if (why) {
        *out = undefined(why);
        return VB_OK;
    }
    Groups g;
    VB_TRY(build_groups(scores, labels, n, &g));
    /* 2 * (#pairs pos > neg) + (#pairs pos == neg), exact in 64 bits. */
    uint64_t twice_wins = 0, prev_tp = 0, prev_fp = 0;
    for (size_t i = 0; i < g.k; i++) {
        uint64_t tp = g.tps[i] - prev_tp, fp = g.fps[i] - prev_fp;
        twice_wins += 2 * tp * (neg - g.fps[i]) + tp * fp;
        prev_tp = g.tps[i], prev_fp = g.fps[i];
    }
    groups_free(&g);
    *out = (MetricResult){.defined = true,
                          .value = (double)twice_wins / (2.0 * (double)pos * (double)neg),
                          .reason = ""};
    return VB_OK;
}

VbStatus metrics_average_precision(const double *scores, const int *labels, size_t n,
                                   MetricResult *out) {
    uint64_t pos, neg;
    VB_TRY(check_binary(scores, labels, n, &pos, &neg));
    const char *why = single_class_reason(pos, neg);
    if (why) {
        *out = undefined(why);
        return VB_OK;
    }
    Groups g;
    VB_TRY(build_groups(scores, labels, n, &g));
    double ap = 0, prev_recall = 0;
    for (size_t i = 0; i < g.k; i++) {
        double recall = (double)g.tps[i] / (double)pos;
        double precision = (double)g.tps[i] / (double)(g.tps[i] + g.fps[i]);
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
    }
    groups_free(&g);
    *out = (MetricResult){.defined = true, .value = ap, .reason = ""};
    return VB_OK;
}

static VbStatus curve_alloc(Curve *c, size_t n) {
    c->defined = true;
    c->reason = "";
    c->n = n;
    c->x = alloc_or_null(n, sizeof *c->x);
    c->y = alloc_or_null(n, sizeof *c->y);
    c->thr = alloc_or_null(n, sizeof *c->thr);
    if (!c->x || !c->y || !c->thr) {
        metrics_curve_free(c);
        return VB_FAIL(VB_ERR_NOMEM, "out of memory for a curve of %zu points", n);
    }
    return VB_OK;
}

void metrics_curve_free(Curve *c) {
    if (!c) return;
    free(c->x), free(c->y), free(c->thr);
    c->x = c->y = c->thr = NULL;
    c->n = 0;
}

static void curve_undefined(Curve *c, const char *why) {
    memset(c, 0, sizeof *c);
    c->defined = false;
    c->reason = why;
}

VbStatus metrics_roc_curve(const double *scores, const int *labels, size_t n, Curve *out) {
    uint64_t pos, neg;
    memset(out, 0, sizeof *out);
    VB_TRY(check_binary(scores, labels, n, &pos, &neg));
    const char *why = single_class_reason(pos, neg);
    if (why) {
        curve_undefined(out, why);
        return VB_OK;
    }
    Groups g;
    VB_TRY(build_groups(scores, labels, n, &g));
    VbStatus st = VB_OK;
    /* Keep group i when the second difference of FP or TP counts at i is
     * nonzero (a corner), plus the first and last group (sklearn keeps all
     * when there are at most two groups). */
    size_t kept = 0;
    for (size_t i = 0; i < g.k; i++) {
        bool keep = g.k <= 2 || i == 0 || i + 1 == g.k ||
                    g.fps[i + 1] + g.fps[i - 1] != 2 * g.fps[i] ||
                    g.tps[i + 1] + g.tps[i - 1] != 2 * g.tps[i];
        if (keep) {
            g.thr[kept] = g.thr[i];
            g.tps[kept] = g.tps[i];
            g.fps[kept] = g.fps[i];
            kept++;
        }
    }
    VB_CHECK(curve_alloc(out, kept + 1));
    out->x[0] = 0.0, out->y[0] = 0.0, out->thr[0] = INFINITY;
    for (size_t i = 0; i < kept; i++) {
        out->x[i + 1] = (double)g.fps[i] / (double)neg;
        out->y[i + 1] = (double)g.tps[i] / (double)pos;
        out->thr[i + 1] = g.thr[i];
    }
out:
    groups_free(&g);
    return st;
}

VbStatus metrics_pr_curve(const double *scores, const int *labels, size_t n, Curve *out) {
    uint64_t pos, neg;
    memset(out, 0, sizeof *out);
    VB_TRY(check_binary(scores, labels, n, &pos, &neg));
    const char *why = single_class_reason(pos, neg);
    if (why) {
        curve_undefined(out, why);
        return VB_OK;
    }
    Groups g;
    VB_TRY(build_groups(scores, labels, n, &g));
    VbStatus st = VB_OK;
    VB_CHECK(curve_alloc(out, g.k + 1));
    for (size_t j = 0; j < g.k; j++) {
        size_t i = g.k - 1 - j; /* increasing thresholds */
        out->x[j] = (double)g.tps[i] / (double)pos;
        out->y[j] = (double)g.tps[i] / (double)(g.tps[i] + g.fps[i]);
        out->thr[j] = g.thr[i];
    }
    out->x[g.k] = 0.0, out->y[g.k] = 1.0, out->thr[g.k] = INFINITY;
out:
    groups_free(&g);
    return st;
}

/* ------------------------------------------------------- downsampling */

/* Lazy min-heap of (area, index, version) entries; stale entries (version
 * mismatch or removed point) are skipped when popped. */
typedef struct HeapItem {
    double area;
    size_t idx;
    uint32_t version;
} HeapItem;

static bool heap_less(const HeapItem *a, const HeapItem *b) {
    return a->area < b->area || (a->area == b->area && a->idx < b->idx);
}

static void heap_push(HeapItem *h, size_t *len, HeapItem it) {
    size_t i = (*len)++;
    h[i] = it;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!heap_less(&h[i], &h[p])) break;
        HeapItem t = h[i];
        h[i] = h[p], h[p] = t;
        i = p;
    }
}

static HeapItem heap_pop(HeapItem *h, size_t *len) {
    HeapItem top = h[0];
    h[0] = h[--(*len)];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < *len && heap_less(&h[l], &h[m])) m = l;
        if (r < *len && heap_less(&h[r], &h[m])) m = r;
        if (m == i) break;
        HeapItem t = h[i];
        h[i] = h[m], h[m] = t;
        i = m;
    }
    return top;
}

static double tri_area(const double *x, const double *y, size_t a, size_t b, size_t c) {
    double v = (x[b] - x[a]) * (y[c] - y[a]) - (x[c] - x[a]) * (y[b] - y[a]);
    return 0.5 * fabs(v);
}

void metrics_downsample_indices(const double *x, const double *y, size_t n, size_t max_points,
                                size_t *keep, size_t *n_keep) {
    VB_ASSERT(max_points >= 2);
    if (n <= max_points) {
        for (size_t i = 0; i < n; i++) keep[i] = i;
        *n_keep = n;
        return;
    }
    size_t *prev = vb_xmalloc(n * sizeof *prev), *next = vb_xmalloc(n * sizeof *next);
    uint32_t *version = vb_xcalloc(n, sizeof *version);
    bool *alive = vb_xmalloc(n * sizeof *alive);
    /* at most n-2 initial entries plus 2 per removal */
    HeapItem *heap = vb_xmalloc(3 * n * sizeof *heap);
    size_t hlen = 0;
    for (size_t i = 0; i < n; i++) {
        prev[i] = i - 1; /* wraps for i = 0; never read for endpoints */
        next[i] = i + 1;
        alive[i] = true;
    }
    for (size_t i = 1; i + 1 < n; i++)
        heap_push(heap, &hlen, (HeapItem){tri_area(x, y, i - 1, i, i + 1), i, 0});
    size_t remaining = n;
    while (remaining > max_points) {
        VB_ASSERT(hlen > 0);
        HeapItem it = heap_pop(heap, &hlen);
        if (!alive[it.idx] || it.version != version[it.idx]) continue;
        size_t i = it.idx, p = prev[i], q = next[i];
        alive[i] = false;
        next[p] = q, prev[q] = p;
        remaining--;
        if (p != 0) {
            version[p]++;
            heap_push(heap, &hlen, (HeapItem){tri_area(x, y, prev[p], p, q), p, version[p]});
        }
        if (q != n - 1) {
            version[q]++;
            heap_push(heap, &hlen, (HeapItem){tri_area(x, y, p, q, next[q]), q, version[q]});
        }
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (alive[i]) keep[k++] = i;
    *n_keep = k;
    free(prev), free(next), free(version), free(alive), free(heap);
}

VbStatus metrics_curve_downsample(const Curve *in, size_t max_points, Curve *out) {
    memset(out, 0, sizeof *out);
    if (!in->defined) {
        curve_undefined(out, in->reason);
        return VB_OK;
    }
    size_t *keep = alloc_or_null(in->n, sizeof *keep);
    if (!keep) return VB_FAIL(VB_ERR_NOMEM, "out of memory downsampling %zu points", in->n);
    size_t k = 0;
    metrics_downsample_indices(in->x, in->y, in->n, max_points, keep, &k);
    VbStatus s = curve_alloc(out, k);
    if (s == VB_OK) {
        for (size_t i = 0; i < k; i++) {
            out->x[i] = in->x[keep[i]];
            out->y[i] = in->y[keep[i]];
            out->thr[i] = in->thr[keep[i]];
        }
    }
    free(keep);
    return s;
}
