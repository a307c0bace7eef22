/* evaluate: scoring loops, metric computation and latency measurement. */
#define _GNU_SOURCE /* qsort_r */
#include "harness/run/evaluate.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness/stats/stats.h"
#include "kernels/clock.h"

const char *const eval_score_names[EVAL_NSCORES] = {"binary", "classifier", "svdd", "vae", "fused"};

static const float MEAN[3] = {0.485f, 0.456f, 0.406f}, STD[3] = {0.229f, 0.224f, 0.225f};

static void scores_reserve(EvalScores *s, size_t n, int C) {
    if (s->n + n <= s->cap) return;
    size_t cap = s->cap ? s->cap : 256;
    while (cap < s->n + n) cap *= 2;
    for (int k = 0; k < EVAL_NSCORES; k++) s->s[k] = vb_xrealloc(s->s[k], cap * sizeof(double));
    s->cls = vb_xrealloc(s->cls, cap * sizeof(int));
    s->pred = vb_xrealloc(s->pred, cap * sizeof(int));
    s->anomaly = vb_xrealloc(s->anomaly, cap * sizeof(int));
    s->unseen = vb_xrealloc(s->unseen, cap);
    s->video = vb_xrealloc(s->video, cap * sizeof(int64_t));
    s->prob = vb_xrealloc(s->prob, cap * (size_t)C * sizeof(double));
    s->cap = cap;
}

void eval_scores_free(EvalScores *s) {
    for (int k = 0; k < EVAL_NSCORES; k++) free(s->s[k]);
    free(s->cls), free(s->pred), free(s->anomaly), free(s->unseen), free(s->video), free(s->prob);
    memset(s, 0, sizeof *s);
}

/* TTA view v of frames x [nf, h, w, 3] (normalised) into y. */
static void tta_view(int v, int nf, int h, int w, const float *x, float *y) {
    size_t fsz = (size_t)h * w * 3;
    for (int f = 0; f < nf; f++) {
        const float *xf = x + f * fsz;
        float *yf = y + f * fsz;
        if (v == 3) { /* brightness/contrast +20% about the frame mean, on [0,1] */
            double mu[3] = {0, 0, 0};
            for (size_t p = 0; p < (size_t)h * w; p++)
                for (int c = 0; c < 3; c++) mu[c] += xf[p * 3 + c] * STD[c] + MEAN[c];
            for (int c = 0; c < 3; c++) mu[c] /= (double)h * w;
            for (size_t p = 0; p < (size_t)h * w; p++)
                for (int c = 0; c < 3; c++) {
                    double u = xf[p * 3 + c] * STD[c] + MEAN[c];
                    u = ((u - mu[c]) * 1.2 + mu[c]) * 1.2;
                    u = u < 0 ? 0 : u > 1 ? 1 : u;
                    yf[p * 3 + c] = (float)((u - MEAN[c]) / STD[c]);
                }
            continue;
        }
        for (int i = 0; i < h; i++)
            for (int j = 0; j < w; j++) {
                int si = i, sj = j;
                if (v == 1) sj = w - 1 - j;              /* horizontal flip */
                else if (v == 2) si = h - 1 - i;         /* vertical flip */
                else if (v == 4) si = w - 1 - j, sj = i; /* 90° rotation (square frames) */
                memcpy(yf + ((size_t)i * w + j) * 3, xf + ((size_t)si * w + sj) * 3,
                       3 * sizeof(float));
            }
    }
}

VbStatus eval_collect(Hybrid *m, Loader *l, const EvalContext *ec, int tta, bool tta_max,
                      EvalScores *out) {
    const KOps *k = m->net.k;
    memset(out, 0, sizeof *out);
    out->nscores = EVAL_NSCORES;
    out->nprob = m->cfg.classes;
    int views = tta > 1 ? tta : 1, C = m->cfg.classes, T = m->max_t, S = m->cfg.image;
    int Ch = m->cfg.channels;
    VB_ASSERT(views == 1 || Ch == 3); /* TTA views are defined on RGB frames (experiment.c) */
    size_t fx = (size_t)m->max_b * T * S * S * Ch;
    float *xv = vb_xmalloc(fx * sizeof(float));
    float *xdev = k->alloc(fx * sizeof(float));
    float *cls = vb_xmalloc((size_t)m->max_b * C * sizeof(float));
    float *bin = vb_xmalloc((size_t)m->max_b * 2 * sizeof(float));
    float *svdd = vb_xmalloc((size_t)m->max_b * sizeof(float));
    float *mse = vb_xmalloc((size_t)m->max_b * T * sizeof(float));
    float *kl = vb_xmalloc((size_t)m->max_b * T * sizeof(float));
    double *acc = vb_xmalloc((size_t)m->max_b * (EVAL_NSCORES + C) * sizeof(double));
    VbStatus st = VB_OK;
    bool was = m->net.train;
    hybrid_set_train(m, false);
    if (!xdev) {
        st = VB_FAIL(VB_ERR_NOMEM, "evaluation buffers");
        goto out;
    }
    VB_CHECK(loader_seek(l, (LoaderPos){0, 0}));
    uint64_t nb = loader_batches_per_epoch(l);
    for (uint64_t b = 0; b < nb; b++) {
        const Batch *bt = loader_next(l);
        if (!bt) {
            st = VB_FAIL(VB_ERR_IO, "evaluation loader stopped early");
            goto out;
        }
        int n = bt->n, W = EVAL_NSCORES + C;
        /* scores start at -inf for the max over views; logits are always averaged */
        for (size_t i = 0; i < (size_t)n * W; i++)
            acc[i] = tta_max && (int)(i % (size_t)W) < EVAL_NSCORES ? -INFINITY : 0.0;
        for (int v = 0; v < views; v++) {
            const float *src = bt->x;
            if (v > 0) {
                tta_view(v, n * T, S, S, bt->x, xv);
                src = xv;
            }
            k->upload(xdev, src, (size_t)n * T * S * S * Ch * sizeof(float));
            hybrid_forward(m, n, T, xdev);
            k->download(cls, m->cls_logits, (size_t)n * C * sizeof(float));
            k->download(bin, m->bin_logits, (size_t)n * 2 * sizeof(float));
            k->download(svdd, m->svdd_score, (size_t)n * sizeof(float));
            if (m->has_vae) {
                k->download(mse, m->vae.mse, (size_t)n * T * sizeof(float));
                k->download(kl, m->vae.kl, (size_t)n * T * sizeof(float));
            }
            for (int i = 0; i < n; i++) {
                double sc[EVAL_NSCORES] = {0};
                double b0 = bin[2 * i], b1 = bin[2 * i + 1], mx = b0 > b1 ? b0 : b1;
                sc[SC_BINARY] = exp(b1 - mx) / (exp(b0 - mx) + exp(b1 - mx));
                const float *z = cls + (size_t)i * C;
                double zm = z[0];
                for (int c = 1; c < C; c++) zm = z[c] > zm ? z[c] : zm;
                double den = 0;
                for (int c = 0; c < C; c++) den += exp(z[c] - zm);
                sc[SC_CLASSIFIER] = 1.0 - exp(z[ec->normal_model] - zm) / den;
                sc[SC_SVDD] = svdd[i];
                sc[SC_VAE] = NAN;
                if (m->has_vae) {
                    double s = 0;
                    for (int t = 0; t < T; t++) s += mse[i * T + t] + 0.1 * kl[i * T + t];
                    sc[SC_VAE] = s / T;
                }
                double *a = acc + (size_t)i * W;
                for (int q = 0; q < EVAL_NSCORES; q++)
                    a[q] = tta_max ? fmax(a[q], sc[q]) : a[q] + sc[q] / views;
                for (int c = 0; c < C; c++) a[EVAL_NSCORES + c] += z[c] / views;
            }
        }
        scores_reserve(out, (size_t)n, C);
        for (int i = 0; i < n; i++) {
            size_t r = out->n++;
            double *a = acc + (size_t)i * W, *z = a + EVAL_NSCORES, *p = out->prob + r * C;
            for (int q = 0; q < EVAL_NSCORES; q++) out->s[q][r] = a[q];
            int best = 0;
            for (int c = 1; c < C; c++)
                if (z[c] > z[best]) best = c;
            out->pred[r] = best;
            double den = 0;
            for (int c = 0; c < C; c++) den += (p[c] = exp(z[c] - z[best]));
            for (int c = 0; c < C; c++) p[c] /= den;
            out->cls[r] = bt->cls[i];
            out->anomaly[r] = bt->anomaly[i];
            out->unseen[r] = bt->unseen[i];
            out->video[r] = bt->video[i];
        }
    }
    if (!m->has_vae) out->nscores = EVAL_NSCORES; /* vae column stays NaN and is skipped */
out:
    hybrid_set_train(m, was);
    if (xdev) k->free(xdev);
    free(xv), free(cls), free(bin), free(svdd), free(mse), free(kl), free(acc);
    if (st != VB_OK) eval_scores_free(out);
    return st;
}

static bool score_present(const EvalScores *s, int q) { return s->n > 0 && !isnan(s->s[q][0]); }

VbStatus eval_fuse(EvalScores *val, EvalScores *test) {
    const double *vals[EVAL_NSCORES], *tests[EVAL_NSCORES];
    int K = 0, idx[EVAL_NSCORES];
    size_t m = 0;
    double *vn[EVAL_NSCORES] = {0};
    for (int q = 0; q < SC_FUSED; q++) {
        if (!score_present(val, q)) continue;
        vn[K] = vb_xmalloc((val->n ? val->n : 1) * sizeof(double));
        m = 0;
        for (size_t i = 0; i < val->n; i++)
            if (!val->anomaly[i]) vn[K][m++] = val->s[q][i];
        idx[K] = q;
        vals[K] = vn[K];
        K++;
    }
    VbStatus st = VB_OK;
    if (m == 0) {
        st = VB_FAIL(VB_ERR_INPUT, "no normal validation samples to standardise scores");
        goto out;
    }
    double mean[EVAL_NSCORES], sd[EVAL_NSCORES];
    VB_CHECK(metrics_fusion_fit(vals, (size_t)K, m, mean, sd));
    for (int pass = 0; pass < 2; pass++) {
        EvalScores *s = pass ? test : val;
        for (int k = 0; k < K; k++) tests[k] = s->s[idx[k]];
        metrics_fusion_apply(tests, (size_t)K, s->n, mean, sd, s->s[SC_FUSED]);
    }
out:
    for (int k = 0; k < K; k++) free(vn[k]);
    return st;
}

typedef struct Logger {
    EvalLogFn fn;
    void *ctx;
    const char *split, *prefix;
} Logger;

static void put(const Logger *L, const char *key, int64_t step, double v) {
    char full[256];
    snprintf(full, sizeof full, "%s%s", L->prefix, key);
    L->fn(L->ctx, L->split, full, step, v);
}

static void put_metric(const Logger *L, const char *key, const MetricResult *r) {
    if (r->defined) put(L, key, -1, r->value);
}

/* AUROC/AP of normals against the anomalies chosen by `which`
 * (0 all, 1 seen, 2 unseen), and the curve for all/unseen. */
static VbStatus ranking(const Logger *L, const EvalScores *s, int q, int which) {
    static const char *names[] = {"all", "seen", "unseen"};
    size_t n = 0;
    double *sc = vb_xmalloc((s->n ? s->n : 1) * sizeof(double));
    int *lab = vb_xmalloc((s->n ? s->n : 1) * sizeof(int));
    for (size_t i = 0; i < s->n; i++) {
        bool keep = !s->anomaly[i] || which == 0 || (which == 1 && !s->unseen[i]) ||
                    (which == 2 && s->unseen[i]);
        if (!keep) continue;
        sc[n] = s->s[q][i], lab[n] = s->anomaly[i], n++;
    }
    VbStatus st = VB_OK;
    Curve c = {0}, d = {0};
    char key[128];
    MetricResult r;
    VB_CHECK(metrics_auroc(sc, lab, n, &r));
    snprintf(key, sizeof key, "auroc.%s.%s", eval_score_names[q], names[which]);
    put_metric(L, key, &r);
    VB_CHECK(metrics_average_precision(sc, lab, n, &r));
    snprintf(key, sizeof key, "ap.%s.%s", eval_score_names[q], names[which]);
    put_metric(L, key, &r);
    if (which != 1) {
        VB_CHECK(metrics_roc_curve(sc, lab, n, &c));
        if (c.defined) VB_CHECK(metrics_curve_downsample(&c, 200, &d));
        if (d.defined)
            for (size_t i = 0; i < d.n; i++) {
                snprintf(key, sizeof key, "roc.%s.%s.fpr", eval_score_names[q], names[which]);
                put(L, key, (int64_t)i, d.x[i]);
                snprintf(key, sizeof key, "roc.%s.%s.tpr", eval_score_names[q], names[which]);
                put(L, key, (int64_t)i, d.y[i]);
            }
    }
out:
    metrics_curve_free(&c);
    metrics_curve_free(&d);
    free(sc), free(lab);
    return st;
}

static VbStatus thresholds(const Logger *L, const EvalContext *ec, const EvalScores *val,
                           const EvalScores *s, int q) {
    VbStatus st = VB_OK;
    uint8_t *mask = NULL;
    double *vn = vb_xmalloc((val->n ? val->n : 1) * sizeof(double));
    size_t m = 0;
    for (size_t i = 0; i < val->n; i++)
        if (!val->anomaly[i]) vn[m++] = val->s[q][i];
    double thr;
    VB_CHECK(metrics_threshold_at_fpr(vn, m, ec->target_fpr, &thr));
    char key[160];
    snprintf(key, sizeof key, "threshold.%s", eval_score_names[q]);
    put(L, key, -1, thr);
    mask = vb_xmalloc(s->n ? s->n : 1);
    MetricResult r;
    for (int kind = 0; kind < 3; kind++) { /* normals, seen, unseen anomalies */
        for (size_t i = 0; i < s->n; i++)
            mask[i] = kind == 0   ? !s->anomaly[i]
                      : kind == 1 ? s->anomaly[i] && !s->unseen[i]
                                  : s->anomaly[i] && s->unseen[i];
        VB_CHECK(metrics_rate_above(s->s[q], mask, s->n, thr, &r));
        static const char *fmt[] = {"fpr.%s", "detect.%s.seen", "detect.%s.unseen"};
        snprintf(key, sizeof key, fmt[kind], eval_score_names[q]);
        put_metric(L, key, &r);
    }
    for (int c = 0; c < ec->nclasses; c++) {
        if (ec->class_map[c] >= 0) continue; /* per-class rates for unseen classes */
        int cls = c;
        VB_CHECK(metrics_rate_above_classes(s->s[q], s->cls, s->n, &cls, 1, thr, &r));
        snprintf(key, sizeof key, "detect.%s.class.%s", eval_score_names[q], ec->class_names[c]);
        put_metric(L, key, &r);
    }
out:
    free(vn), free(mask);
    return st;
}

/* Video-level AUROC (a video's score = the max over its clips) of the
 * normal videos against every (which 0), the seen (1) or the unseen (2)
 * anomalous videos. */
static VbStatus video_level(const Logger *L, const EvalScores *s, int q, int which) {
    static const char *names[] = {"all", "seen", "unseen"};
    size_t n = 0;
    double *sc = vb_xmalloc((s->n ? s->n : 1) * sizeof(double));
    int *lab = vb_xmalloc((s->n ? s->n : 1) * sizeof(int));
    int64_t *vid = vb_xmalloc((s->n ? s->n : 1) * sizeof(int64_t));
    for (size_t i = 0; i < s->n; i++) {
        bool keep = !s->anomaly[i] || which == 0 || (which == 1 && !s->unseen[i]) ||
                    (which == 2 && s->unseen[i]);
        if (keep) sc[n] = s->s[q][i], lab[n] = s->anomaly[i], vid[n] = s->video[i], n++;
    }
    VbStatus st = VB_OK;
    VideoScores v = {0};
    if (n > 0) {
        VB_CHECK(metrics_video_aggregate(sc, lab, vid, n, &v));
        MetricResult r;
        VB_CHECK(metrics_auroc(v.scores, v.labels, v.n, &r));
        char key[128];
        snprintf(key, sizeof key, "video_auroc.%s.%s", eval_score_names[q], names[which]);
        put_metric(L, key, &r);
    }
out:
    metrics_video_free(&v);
    free(sc), free(lab), free(vid);
    return st;
}

/* Clip indices ordered by (video, index); ctx is the video array. */
static int by_video(const void *a, const void *b, void *ctx) {
    const int64_t *video = ctx;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    if (video[i] != video[j]) return video[i] < video[j] ? -1 : 1;
    return i < j ? -1 : i > j;
}

/* Closed-set accuracy per video over the seen classes: a video's class is
 * the largest mean probability over its clips (first on ties); balanced
 * accuracy is the mean recall over the classes that have videos. */
static void video_closed_set(const Logger *L, const EvalContext *ec, const EvalScores *s) {
    int C = s->nprob;
    size_t *ord = vb_xmalloc((s->n ? s->n : 1) * sizeof *ord);
    for (size_t i = 0; i < s->n; i++) ord[i] = i;
    qsort_r(ord, s->n, sizeof *ord, by_video, s->video);
    size_t *hit = vb_xcalloc((size_t)C, sizeof *hit), *cnt = vb_xcalloc((size_t)C, sizeof *cnt);
    double *sum = vb_xmalloc((size_t)C * sizeof *sum);
    size_t nv = 0, right = 0;
    for (size_t i = 0; i < s->n;) {
        size_t j = i, first = ord[i];
        for (int c = 0; c < C; c++) sum[c] = 0;
        for (; j < s->n && s->video[ord[j]] == s->video[first]; j++)
            for (int c = 0; c < C; c++) sum[c] += s->prob[ord[j] * C + c];
        int truth = ec->class_map[s->cls[first]];
        if (truth >= 0) {
            int best = 0;
            for (int c = 1; c < C; c++)
                if (sum[c] > sum[best]) best = c;
            cnt[truth]++, nv++;
            if (best == truth) hit[truth]++, right++;
        }
        i = j;
    }
    if (nv > 0) {
        double bal = 0;
        int present = 0;
        for (int c = 0; c < C; c++)
            if (cnt[c]) bal += (double)hit[c] / (double)cnt[c], present++;
        put(L, "video_accuracy", -1, (double)right / (double)nv);
        put(L, "video_balanced_accuracy", -1, bal / present);
    }
    free(ord), free(hit), free(cnt), free(sum);
}

static VbStatus closed_set(const Logger *L, const EvalContext *ec, const EvalScores *s) {
    int C = ec->model_classes;
    size_t n = 0, nu = 0;
    int *yt = vb_xmalloc((s->n ? s->n : 1) * sizeof(int)),
        *yp = vb_xmalloc((s->n ? s->n : 1) * sizeof(int));
    int *ut = vb_xmalloc((s->n ? s->n : 1) * sizeof(int)),
        *up = vb_xmalloc((s->n ? s->n : 1) * sizeof(int));
    /* model class -> dataset class, for names; -1 for a class no data maps to
     * (the one-class protocol pads the model to two classes): its predictions
     * count as errors, it gets no keys of its own */
    int *mc2d = vb_xmalloc((size_t)C * sizeof(int)),
        *d2u = vb_xcalloc((size_t)ec->nclasses, sizeof(int));
    for (int c = 0; c < C; c++) mc2d[c] = -1;
    int nunseen = 0;
    for (int d = 0; d < ec->nclasses; d++) {
        if (ec->class_map[d] >= 0) mc2d[ec->class_map[d]] = d;
        else d2u[d] = nunseen++;
    }
    for (size_t i = 0; i < s->n; i++) {
        int mcls = ec->class_map[s->cls[i]];
        if (mcls >= 0) yt[n] = mcls, yp[n] = s->pred[i], n++;
        else ut[nu] = d2u[s->cls[i]], up[nu] = s->pred[i], nu++;
    }
    VbStatus st = VB_OK;
    ClassReport r = {0};
    size_t *cnt = NULL;
    char key[256];
    if (n > 0) {
        VB_CHECK(metrics_classification(yt, yp, n, (size_t)C, &r));
        put(L, "accuracy", -1, r.accuracy);
        put(L, "macro_f1", -1, r.macro_f1);
        put(L, "weighted_f1", -1, r.weighted_f1);
        put(L, "macro_precision", -1, r.macro_precision);
        put(L, "macro_recall", -1, r.macro_recall);
        put(L, "weighted_precision", -1, r.weighted_precision);
        put(L, "weighted_recall", -1, r.weighted_recall);
        for (int c = 0; c < C; c++) {
            if (mc2d[c] < 0) continue;
            const char *nm = ec->class_names[mc2d[c]];
            snprintf(key, sizeof key, "class.%s.precision", nm);
            put(L, key, -1, r.precision[c]);
            snprintf(key, sizeof key, "class.%s.recall", nm);
            put(L, key, -1, r.recall[c]);
            snprintf(key, sizeof key, "class.%s.f1", nm);
            put(L, key, -1, r.f1[c]);
            snprintf(key, sizeof key, "class.%s.support", nm);
            put(L, key, -1, (double)r.support[c]);
            for (int j = 0; j < C; j++) {
                if (mc2d[j] < 0) continue;
                snprintf(key, sizeof key, "confusion.%s.%s", nm, ec->class_names[mc2d[j]]);
                put(L, key, -1, (double)r.confusion[c * C + j]);
            }
        }
    }
    if (nu > 0) {
        cnt = vb_xcalloc((size_t)nunseen * C, sizeof(size_t));
        VB_CHECK(metrics_assignment_counts(ut, up, nu, (size_t)nunseen, (size_t)C, cnt));
        for (int d = 0; d < ec->nclasses; d++) {
            if (ec->class_map[d] >= 0) continue;
            for (int j = 0; j < C; j++) {
                if (mc2d[j] < 0) continue;
                snprintf(key, sizeof key, "unseen_assigned.%s.%s", ec->class_names[d],
                         ec->class_names[mc2d[j]]);
                put(L, key, -1, (double)cnt[(size_t)d2u[d] * C + j]);
            }
        }
    }
out:
    metrics_class_report_free(&r);
    free(cnt);
    free(yt), free(yp), free(ut), free(up), free(mc2d), free(d2u);
    return st;
}

VbStatus eval_metrics(const EvalContext *ec, const EvalScores *val, const EvalScores *s,
                      const char *split, const char *prefix, EvalLogFn log, void *ctx) {
    Logger L = {log, ctx, split, prefix};
    VB_TRY(closed_set(&L, ec, s));
    video_closed_set(&L, ec, s);
    for (int q = 0; q < EVAL_NSCORES; q++) {
        if (!score_present(s, q)) continue;
        for (int which = 0; which < 3; which++) VB_TRY(ranking(&L, s, q, which));
        for (int which = 0; which < 3; which++) VB_TRY(video_level(&L, s, q, which));
        VB_TRY(thresholds(&L, ec, val, s, q));
    }
    return VB_OK;
}

VbStatus eval_latency(Hybrid *m, int batch, int warmup, int samples, LatencyFn cb, void *ctx) {
    if (batch > m->max_b)
        return VB_FAIL(VB_ERR_INPUT, "latency batch %d exceeds the model's %d", batch, m->max_b);
    const KOps *k = m->net.k;
    int T = m->max_t, S = m->cfg.image;
    size_t nx = (size_t)batch * T * S * S * m->cfg.channels;
    float *host = vb_xmalloc(nx * sizeof(float));
    rng_fill_normal(rng_stream(0, "latency"), 0, 0, nx, 0, 1, host);
    float *x = k->alloc(nx * sizeof(float));
    if (!x) {
        free(host);
        return VB_FAIL(VB_ERR_NOMEM, "latency input");
    }
    k->upload(x, host, nx * sizeof(float));
    double *ms = vb_xmalloc((size_t)(HPART_N + 1) * (samples ? samples : 1) * sizeof(double));
    bool was = m->net.train;
    hybrid_set_train(m, false);
    m->time_parts = true;
    for (int i = 0; i < warmup + samples; i++) {
        hybrid_forward(m, batch, T, x); /* waits for the forward: timing marks */
        if (i < warmup) continue;
        int j = i - warmup;
        for (int p = 0; p < HPART_N; p++) ms[(size_t)p * samples + j] = m->part_ms[p];
        ms[(size_t)HPART_N * samples + j] = m->forward_ms;
    }
    m->time_parts = false;
    hybrid_set_train(m, was);
    for (int p = 0; p < HPART_N; p++) {
        if (p == HPART_VAE && !m->has_vae) continue;
        if (p == HPART_TEMPORAL && !m->has_temporal) continue;
        cb(ctx, hybrid_part_names[p], batch, ms + (size_t)p * samples, samples);
    }
    cb(ctx, "model", batch, ms + (size_t)HPART_N * samples, samples);
    free(ms), free(host);
    k->free(x);
    return VB_OK;
}
