/* Tests of the evaluation statistics (harness/metrics*.c, harness/stats*.c).
 *
 * Reference values come from tests/fixtures/metrics.json, written by
 * tests/reference/make_metric_fixtures.py with scikit-learn and SciPy
 * (AUROC, AP, ROC/PR curves, precision/recall/F1, confusion matrices,
 * Mann-Whitney U and p-values, t quantiles and intervals). The rest is
 * checked on constructed cases whose answers can be computed by hand:
 * ties, single-class inputs, thresholds at a target FPR, bootstrap
 * determinism and coverage, verdicts, and report rounding. Tolerances:
 * 1e-9 relative for AUROC/AP/PRF, exact for curve points, 1e-6 for p-values
 * and quantiles (the implementation is much closer; see each test). */
#include "testutil.h"

#include <jansson.h>

#include "harness/stats/metrics.h"
#include "harness/stats/stats.h"
#include "kernels/rng.h"

#define FIXTURE "tests/fixtures/metrics.json"

/* ------------------------------------------------------------ helpers */

static json_t *fixture(const char *section) {
    static json_t *root;
    if (!root) {
        json_error_t e;
        root = json_load_file(FIXTURE, 0, &e);
        cr_assert_not_null(root, "%s:%d: %s", FIXTURE, e.line, e.text);
    }
    json_t *s = json_object_get(root, section);
    cr_assert(json_is_array(s) && json_array_size(s) > 0, "fixture section %s missing", section);
    return s;
}

static double *jdoubles(json_t *a, size_t *n) {
    cr_assert(json_is_array(a), "expected a JSON array");
    *n = json_array_size(a);
    double *v = calloc(*n ? *n : 1, sizeof *v);
    for (size_t i = 0; i < *n; i++) {
        json_t *x = json_array_get(a, i);
        cr_assert(json_is_number(x));
        v[i] = json_number_value(x);
    }
    return v;
}

static int *jints(json_t *a, size_t *n) {
    cr_assert(json_is_array(a), "expected a JSON array");
    *n = json_array_size(a);
    int *v = calloc(*n ? *n : 1, sizeof *v);
    for (size_t i = 0; i < *n; i++) v[i] = (int)json_integer_value(json_array_get(a, i));
    return v;
}

static double jnum(json_t *o, const char *key) {
    json_t *x = json_object_get(o, key);
    cr_assert(json_is_number(x), "fixture key %s missing", key);
    return json_number_value(x);
}

static const char *jname(json_t *o) { return json_string_value(json_object_get(o, "name")); }

static void assert_rel(double got, double want, double rtol, const char *what, const char *name) {
    double lim = rtol * fmax(fabs(want), 1e-300);
    cr_assert(fabs(got - want) <= lim, "%s [%s]: got %.17g, expected %.17g (rtol %g)", what, name,
              got, want, rtol);
}

static void assert_abs(double got, double want, double atol, const char *what, const char *name) {
    cr_assert(fabs(got - want) <= atol, "%s [%s]: got %.17g, expected %.17g (atol %g)", what, name,
              got, want, atol);
}

static void assert_exact_array(const double *got, size_t ng, json_t *want_json, const char *what,
                               const char *name) {
    size_t n;
    double *want = jdoubles(want_json, &n);
    cr_assert_eq(ng, n, "%s [%s]: %zu points, expected %zu", what, name, ng, n);
    for (size_t i = 0; i < n; i++)
        cr_assert(got[i] == want[i], "%s [%s] point %zu: got %.17g, expected %.17g", what, name, i,
                  got[i], want[i]);
    free(want);
}

typedef struct BinCase {
    const char *name;
    size_t n;
    double *scores;
    int *labels;
} BinCase;

static BinCase bin_case(json_t *c) {
    BinCase b = {.name = jname(c)};
    size_t nl;
    b.scores = jdoubles(json_object_get(c, "scores"), &b.n);
    b.labels = jints(json_object_get(c, "labels"), &nl);
    cr_assert_eq(b.n, nl);
    return b;
}

static void bin_free(BinCase *b) { free(b->scores), free(b->labels); }

/* ------------------------------------------------------------ ranking */

Test(metrics_rank, auroc_and_ap_match_sklearn) {
    json_t *cases = fixture("binary");
    for (size_t k = 0; k < json_array_size(cases); k++) {
        json_t *c = json_array_get(cases, k);
        BinCase b = bin_case(c);
        MetricResult auc, ap;
        cr_assert_eq(metrics_auroc(b.scores, b.labels, b.n, &auc), VB_OK, "%s", vb_errmsg());
        cr_assert_eq(metrics_average_precision(b.scores, b.labels, b.n, &ap), VB_OK);
        cr_assert(auc.defined && ap.defined, "%s", b.name);
        assert_rel(auc.value, jnum(c, "auroc"), 1e-9, "AUROC", b.name);
        assert_rel(ap.value, jnum(c, "ap"), 1e-9, "AP", b.name);
        bin_free(&b);
    }
}

Test(metrics_rank, curves_match_sklearn_exactly) {
    json_t *cases = fixture("binary");
    for (size_t k = 0; k < json_array_size(cases); k++) {
        json_t *c = json_array_get(cases, k);
        BinCase b = bin_case(c);
        Curve roc, pr;
        cr_assert_eq(metrics_roc_curve(b.scores, b.labels, b.n, &roc), VB_OK);
        cr_assert_eq(metrics_pr_curve(b.scores, b.labels, b.n, &pr), VB_OK);
        cr_assert(roc.defined && pr.defined);
        json_t *r = json_object_get(c, "roc"), *p = json_object_get(c, "pr");
        assert_exact_array(roc.x, roc.n, json_object_get(r, "fpr"), "ROC fpr", b.name);
        assert_exact_array(roc.y, roc.n, json_object_get(r, "tpr"), "ROC tpr", b.name);
        cr_assert(isinf(roc.thr[0]) && roc.thr[0] > 0, "%s: first ROC threshold", b.name);
        assert_exact_array(roc.thr + 1, roc.n - 1, json_object_get(r, "thresholds"),
                           "ROC thresholds", b.name);
        assert_exact_array(pr.x, pr.n, json_object_get(p, "recall"), "PR recall", b.name);
        assert_exact_array(pr.y, pr.n, json_object_get(p, "precision"), "PR precision", b.name);
        cr_assert(isinf(pr.thr[pr.n - 1]), "%s: last PR threshold", b.name);
        assert_exact_array(pr.thr, pr.n - 1, json_object_get(p, "thresholds"), "PR thresholds",
                           b.name);
        metrics_curve_free(&roc);
        metrics_curve_free(&pr);
        bin_free(&b);
    }
}

/* Ties by hand: positives {2, 1}, negatives {1, 0}: pairs 2>1, 2>0, 1=1
 * (half), 1>0 -> 3.5 / 4. AP: threshold 2 -> P 1, R 0.5; threshold 1 ->
 * P 2/3, R 1; threshold 0 adds no recall -> 0.5 * 1 + 0.5 * 2/3. */
Test(metrics_rank, ties_by_hand) {
    double s[] = {1, 2, 0, 1};
    int l[] = {0, 1, 0, 1};
    MetricResult r;
    cr_assert_eq(metrics_auroc(s, l, 4, &r), VB_OK);
    cr_assert(r.defined && r.value == 0.875, "AUROC %.17g", r.value);
    cr_assert_eq(metrics_average_precision(s, l, 4, &r), VB_OK);
    cr_assert(fabs(r.value - (0.5 + 1.0 / 3.0)) < 1e-15, "AP %.17g", r.value);
    double eq[] = {3, 3, 3, 3, 3};
    int le[] = {1, 0, 0, 1, 0};
    cr_assert_eq(metrics_auroc(eq, le, 5, &r), VB_OK);
    cr_assert(r.value == 0.5, "all tied: AUROC %.17g", r.value);
    cr_assert_eq(metrics_average_precision(eq, le, 5, &r), VB_OK);
    cr_assert(r.value == 0.4, "all tied: AP is the positive rate, got %.17g", r.value);
    /* order of the samples must not matter */
    double s2[] = {0, 1, 1, 2};
    int l2[] = {0, 1, 0, 1};
    cr_assert_eq(metrics_auroc(s2, l2, 4, &r), VB_OK);
    cr_assert(r.value == 0.875);
}

Test(metrics_rank, single_class_is_undefined) {
    json_t *cases = fixture("single_class");
    for (size_t k = 0; k <= json_array_size(cases); k++) {
        BinCase b = {.name = "empty", .n = 0, .scores = NULL, .labels = NULL};
        if (k < json_array_size(cases)) b = bin_case(json_array_get(cases, k));
        MetricResult auc = {.defined = true}, ap = {.defined = true};
        Curve roc, pr;
        cr_assert_eq(metrics_auroc(b.scores, b.labels, b.n, &auc), VB_OK);
        cr_assert_eq(metrics_average_precision(b.scores, b.labels, b.n, &ap), VB_OK);
        cr_assert_eq(metrics_roc_curve(b.scores, b.labels, b.n, &roc), VB_OK);
        cr_assert_eq(metrics_pr_curve(b.scores, b.labels, b.n, &pr), VB_OK);
        cr_assert(!auc.defined && isnan(auc.value) && strlen(auc.reason) > 0, "%s", b.name);
        cr_assert(!ap.defined && isnan(ap.value) && strlen(ap.reason) > 0, "%s", b.name);
        cr_assert(!roc.defined && roc.n == 0 && !pr.defined && pr.n == 0, "%s", b.name);
        if (strcmp(b.name, "no_positives") == 0)
            cr_assert_str_eq(auc.reason, "no positive samples");
        if (strcmp(b.name, "no_negatives") == 0)
            cr_assert_str_eq(auc.reason, "no negative samples");
        if (b.n) bin_free(&b);
    }
}

Test(metrics_rank, rejects_bad_labels_and_nan) {
    double s[] = {0.1, 0.2, 0.3};
    int bad[] = {0, 2, 1}, ok[] = {0, 1, 1};
    MetricResult r;
    cr_assert_eq(metrics_auroc(s, bad, 3, &r), VB_ERR_INPUT);
    double sn[] = {0.1, NAN, 0.3};
    cr_assert_eq(metrics_auroc(sn, ok, 3, &r), VB_ERR_NUMERIC);
    Curve c;
    cr_assert_eq(metrics_roc_curve(sn, ok, 3, &c), VB_ERR_NUMERIC);
    cr_assert_eq(metrics_average_precision(s, bad, 3, &r), VB_ERR_INPUT);
}

/* ------------------------------------------------------------ downsampling */

Test(metrics_downsample, short_curves_unchanged) {
    double x[] = {0, 0.5, 1}, y[] = {0, 0.5, 1};
    size_t keep[3], k;
    metrics_downsample_indices(x, y, 3, 3, keep, &k);
    cr_assert_eq(k, 3);
    cr_assert(keep[0] == 0 && keep[1] == 1 && keep[2] == 2);
}

/* A staircase with collinear points on every step: asking for exactly the
 * number of corners must return exactly the corners plus the endpoints. */
Test(metrics_downsample, keeps_endpoints_and_corners) {
    /* (0,0) (0,.25) (0,.5) | (.25,.5) (.5,.5) | (.5,.75) (.5,1) | (.75,1) (1,1) */
    double x[] = {0, 0, 0, 0.25, 0.5, 0.5, 0.5, 0.75, 1};
    double y[] = {0, 0.25, 0.5, 0.5, 0.5, 0.75, 1, 1, 1};
    size_t keep[9], k;
    metrics_downsample_indices(x, y, 9, 5, keep, &k);
    size_t want[] = {0, 2, 4, 6, 8};
    cr_assert_eq(k, 5);
    for (size_t i = 0; i < 5; i++) cr_assert_eq(keep[i], want[i], "kept[%zu] = %zu", i, keep[i]);
    /* one fewer: the corner whose removal changes the shape least goes; ends stay */
    metrics_downsample_indices(x, y, 9, 4, keep, &k);
    cr_assert_eq(k, 4);
    cr_assert(keep[0] == 0 && keep[3] == 8);
}

static double trapezoid(const double *x, const double *y, size_t n) {
    double a = 0;
    for (size_t i = 1; i < n; i++) a += (x[i] - x[i - 1]) * 0.5 * (y[i] + y[i - 1]);
    return a;
}

Test(metrics_downsample, large_roc_curve_keeps_shape) {
    enum { N = 6000 };
    double *s = malloc(N * sizeof *s);
    int *l = malloc(N * sizeof *l);
    RngStream r = rng_stream(11, "metrics-test");
    for (size_t i = 0; i < N; i++) {
        l[i] = rng_uniform(r, 0, i) < 0.3f;
        s[i] = (double)rng_normal(r, 1, i) + 1.2 * l[i];
    }
    Curve roc, small;
    cr_assert_eq(metrics_roc_curve(s, l, N, &roc), VB_OK);
    cr_assert_gt(roc.n, 200, "ROC has %zu points", roc.n);
    cr_assert_eq(metrics_curve_downsample(&roc, 64, &small), VB_OK);
    cr_assert_eq(small.n, 64);
    cr_assert(small.x[0] == 0 && small.y[0] == 0 && isinf(small.thr[0]));
    cr_assert(small.x[63] == 1 && small.y[63] == 1);
    for (size_t i = 1; i < small.n; i++) cr_assert(small.thr[i] < small.thr[i - 1]);
    double full = trapezoid(roc.x, roc.y, roc.n), down = trapezoid(small.x, small.y, small.n);
    cr_assert(fabs(full - down) < 2e-3, "area %.6f vs downsampled %.6f", full, down);
    MetricResult auc;
    metrics_auroc(s, l, N, &auc);
    cr_assert(fabs(full - auc.value) < 1e-12);
    metrics_curve_free(&roc), metrics_curve_free(&small);
    free(s), free(l);
}

/* ------------------------------------------------------------ thresholds */

Test(metrics_threshold, order_statistic_by_hand) {
    double v[20];
    for (int i = 0; i < 20; i++) v[i] = 20 - i; /* 20..1, unsorted order on purpose */
    double t;
    cr_assert_eq(metrics_threshold_at_fpr(v, 20, 0.05, &t), VB_OK);
    cr_assert_eq(t, 19.0); /* k = 1: only 20 is above */
    cr_assert_eq(metrics_threshold_at_fpr(v, 20, 0.10, &t), VB_OK);
    cr_assert_eq(t, 18.0);
    cr_assert_eq(metrics_threshold_at_fpr(v, 20, 0.0, &t), VB_OK);
    cr_assert_eq(t, 20.0);
    cr_assert_eq(metrics_threshold_at_fpr(v, 20, 0.049, &t), VB_OK);
    cr_assert_eq(t, 20.0); /* k = floor(0.98) = 0 */
    MetricResult r;
    cr_assert_eq(metrics_threshold_at_fpr(v, 20, 0.05, &t), VB_OK);
    cr_assert_eq(metrics_rate_above(v, NULL, 20, t, &r), VB_OK);
    cr_assert(r.defined && r.value == 0.05);
}

Test(metrics_threshold, ties_and_rounding) {
    double v[] = {1, 2, 3, 3, 3, 3, 4, 5, 6, 7};
    double t;
    MetricResult r;
    cr_assert_eq(metrics_threshold_at_fpr(v, 10, 0.2, &t), VB_OK);
    cr_assert_eq(t, 5.0); /* 6 and 7 above */
    cr_assert_eq(metrics_threshold_at_fpr(v, 10, 0.5, &t), VB_OK);
    cr_assert_eq(t, 3.0); /* k = 5 but the tie at 3 leaves only 4 above */
    metrics_rate_above(v, NULL, 10, t, &r);
    cr_assert_eq(r.value, 0.4);
    double eq[] = {2, 2, 2, 2};
    cr_assert_eq(metrics_threshold_at_fpr(eq, 4, 0.5, &t), VB_OK);
    cr_assert_eq(t, 2.0);
    metrics_rate_above(eq, NULL, 4, t, &r);
    cr_assert_eq(r.value, 0.0);
    /* 0.29 * 100 = 28.999999999999996 in double: k must still be 29 */
    double h[100];
    for (int i = 0; i < 100; i++) h[i] = i;
    cr_assert_eq(metrics_threshold_at_fpr(h, 100, 0.29, &t), VB_OK);
    cr_assert_eq(t, 70.0);
    metrics_rate_above(h, NULL, 100, t, &r);
    cr_assert_eq(r.value, 0.29);
    cr_assert_eq(metrics_threshold_at_fpr(h, 100, 1.0, &t), VB_ERR_INPUT);
    cr_assert_eq(metrics_threshold_at_fpr(h, 0, 0.05, &t), VB_ERR_INPUT);
    cr_assert_eq(metrics_threshold_at_fpr(h, 100, -0.1, &t), VB_ERR_INPUT);
}

/* Test scores with class ids: 0 = normal, 1..2 seen anomalies, 3..4 unseen. */
Test(metrics_threshold, rates_on_subsets) {
    double s[] = {0.1, 0.2, 0.9, 0.6, 0.7, 0.4, 0.95, 0.3, 0.55, 0.5};
    int cls[] = {0, 0, 0, 1, 1, 2, 3, 3, 4, 0};
    double t = 0.5;
    MetricResult r;
    int normal[] = {0}, seen[] = {1, 2}, unseen[] = {3, 4}, one[] = {3}, none[] = {7};
    cr_assert_eq(metrics_rate_above_classes(s, cls, 10, normal, 1, t, &r), VB_OK);
    cr_assert(r.defined && r.value == 0.25, "FPR %g", r.value); /* 0.9 only; 0.5 is not above */
    metrics_rate_above_classes(s, cls, 10, seen, 2, t, &r);
    cr_assert(fabs(r.value - 2.0 / 3.0) < 1e-15);
    metrics_rate_above_classes(s, cls, 10, unseen, 2, t, &r);
    cr_assert(fabs(r.value - 2.0 / 3.0) < 1e-15);
    metrics_rate_above_classes(s, cls, 10, one, 1, t, &r);
    cr_assert_eq(r.value, 0.5);
    metrics_rate_above_classes(s, cls, 10, none, 1, t, &r);
    cr_assert(!r.defined && isnan(r.value));
    uint8_t mask[10] = {0, 0, 0, 0, 0, 0, 1, 1, 1, 0};
    metrics_rate_above(s, mask, 10, t, &r);
    cr_assert(fabs(r.value - 2.0 / 3.0) < 1e-15);
}

/* ------------------------------------------------------------ classification */

Test(metrics_class, matches_sklearn) {
    json_t *cases = fixture("classification");
    for (size_t k = 0; k < json_array_size(cases); k++) {
        json_t *c = json_array_get(cases, k);
        const char *name = jname(c);
        size_t n, n2, nc = (size_t)jnum(c, "n_classes"), m;
        int *yt = jints(json_object_get(c, "y_true"), &n);
        int *yp = jints(json_object_get(c, "y_pred"), &n2);
        ClassReport r;
        cr_assert_eq(metrics_classification(yt, yp, n, nc, &r), VB_OK, "%s", vb_errmsg());
        assert_rel(r.accuracy, jnum(c, "accuracy"), 1e-9, "accuracy", name);
        const char *keys[] = {"precision", "recall", "f1"};
        double *mine[] = {r.precision, r.recall, r.f1};
        for (int q = 0; q < 3; q++) {
            double *want = jdoubles(json_object_get(c, keys[q]), &m);
            cr_assert_eq(m, nc);
            for (size_t i = 0; i < nc; i++)
                cr_assert(fabs(mine[q][i] - want[i]) <= 1e-9 * fabs(want[i]),
                          "%s [%s] class %zu: %.17g vs %.17g", keys[q], name, i, mine[q][i],
                          want[i]);
            free(want);
        }
        int *sup = jints(json_object_get(c, "support"), &m);
        for (size_t i = 0; i < nc; i++) cr_assert_eq(r.support[i], (size_t)sup[i]);
        free(sup);
        json_t *mac = json_object_get(c, "macro"), *wei = json_object_get(c, "weighted");
        assert_rel(r.macro_precision, jnum(mac, "precision"), 1e-9, "macro P", name);
        assert_rel(r.macro_recall, jnum(mac, "recall"), 1e-9, "macro R", name);
        assert_rel(r.macro_f1, jnum(mac, "f1"), 1e-9, "macro F1", name);
        assert_rel(r.weighted_precision, jnum(wei, "precision"), 1e-9, "weighted P", name);
        assert_rel(r.weighted_recall, jnum(wei, "recall"), 1e-9, "weighted R", name);
        assert_rel(r.weighted_f1, jnum(wei, "f1"), 1e-9, "weighted F1", name);
        json_t *cm = json_object_get(c, "confusion");
        cr_assert_eq(json_array_size(cm), nc);
        for (size_t i = 0; i < nc; i++) {
            int *row = jints(json_array_get(cm, i), &m);
            for (size_t j = 0; j < nc; j++)
                cr_assert_eq(r.confusion[i * nc + j], (size_t)row[j], "%s cm[%zu][%zu]", name, i,
                             j);
            free(row);
        }
        metrics_class_report_free(&r);
        free(yt), free(yp);
    }
}

Test(metrics_class, zero_division_and_bad_labels) {
    int yt[] = {0, 0, 1, 1}, yp[] = {0, 0, 0, 0};
    ClassReport r;
    cr_assert_eq(metrics_classification(yt, yp, 4, 3, &r), VB_OK);
    cr_assert_eq(r.precision[1], 0.0); /* never predicted */
    cr_assert_eq(r.recall[2], 0.0);    /* no support */
    cr_assert_eq(r.f1[2], 0.0);
    cr_assert_eq(r.precision[0], 0.5);
    cr_assert(fabs(r.macro_recall - 1.0 / 3.0) < 1e-15);
    cr_assert_eq(r.weighted_recall, 0.5);
    cr_assert_eq(r.accuracy, 0.5);
    metrics_class_report_free(&r);
    int bad[] = {0, 3, 1, 1};
    cr_assert_eq(metrics_classification(yt, bad, 4, 3, &r), VB_ERR_INPUT);
    cr_assert_eq(metrics_classification(yt, yp, 0, 3, &r), VB_ERR_INPUT);
}

Test(metrics_class, unseen_class_assignment) {
    /* unseen classes 0..1 (e.g. "arson", "vandalism"), predicted seen classes 0..2 */
    int unseen[] = {0, 0, 0, 1, 1, 0};
    int pred[] = {2, 2, 0, 1, 1, 2};
    size_t counts[6];
    cr_assert_eq(metrics_assignment_counts(unseen, pred, 6, 2, 3, counts), VB_OK);
    size_t want[] = {1, 0, 3, 0, 2, 0};
    for (int i = 0; i < 6; i++) cr_assert_eq(counts[i], want[i], "counts[%d]", i);
    pred[0] = 3;
    cr_assert_eq(metrics_assignment_counts(unseen, pred, 6, 2, 3, counts), VB_ERR_INPUT);
}

/* ------------------------------------------------------------ video, fusion */

Test(metrics_video, max_over_clips_in_first_appearance_order) {
    double s[] = {0.2, 0.9, 0.4, 0.1, 0.3, 0.8};
    int l[] = {0, 0, 1, 0, 0, 0};
    int64_t id[] = {7, 3, 7, 3, 9, 7};
    VideoScores v;
    cr_assert_eq(metrics_video_aggregate(s, l, id, 6, &v), VB_OK);
    cr_assert_eq(v.n, 3);
    cr_assert(v.ids[0] == 7 && v.ids[1] == 3 && v.ids[2] == 9);
    cr_assert(v.scores[0] == 0.8 && v.scores[1] == 0.9 && v.scores[2] == 0.3);
    cr_assert(v.labels[0] == 1 && v.labels[1] == 0 && v.labels[2] == 0);
    MetricResult auc;
    cr_assert_eq(metrics_auroc(v.scores, v.labels, v.n, &auc), VB_OK);
    cr_assert_eq(auc.value, 0.5); /* 0.8 beats 0.3, loses to 0.9 */
    metrics_video_free(&v);
    cr_assert_eq(metrics_video_aggregate(s, l, id, 0, &v), VB_ERR_INPUT);
}

Test(metrics_fusion, standardise_by_validation_normals) {
    double a[] = {1, 2, 3, 4}, b[] = {5, 5, 5, 5};
    const double *val[] = {a, b};
    double mean[2], sd[2];
    cr_assert_eq(metrics_fusion_fit(val, 2, 4, mean, sd), VB_OK);
    cr_assert_eq(mean[0], 2.5);
    cr_assert(fabs(sd[0] - sqrt(1.25)) < 1e-15); /* population std */
    cr_assert(mean[1] == 5.0 && sd[1] == 1.0);   /* std 0 -> 1 */
    double ta[] = {2.5, 2.5 + sqrt(1.25)}, tb[] = {5, 7};
    const double *test[] = {ta, tb};
    double out[2];
    metrics_fusion_apply(test, 2, 2, mean, sd, out);
    cr_assert(fabs(out[0]) < 1e-15);
    cr_assert(fabs(out[1] - 1.5) < 1e-12, "fused %.17g", out[1]); /* (1 + 2) / 2 */
    cr_assert_eq(metrics_fusion_fit(val, 2, 0, mean, sd), VB_ERR_INPUT);
}

/* ------------------------------------------------------------ distributions */

Test(metrics_stats, t_quantiles_match_scipy) {
    json_t *cases = fixture("t_ppf");
    double worst = 0;
    for (size_t k = 0; k < json_array_size(cases); k++) {
        json_t *c = json_array_get(cases, k);
        double p = jnum(c, "p"), df = jnum(c, "df"), want = jnum(c, "q");
        double got = stats_t_quantile(p, df);
        double err = fabs(got - want) / fmax(1.0, fabs(want));
        worst = fmax(worst, err);
        cr_assert(err <= 1e-6, "t.ppf(%g, %g): got %.17g, expected %.17g", p, df, got, want);
        if (p != 0.5) cr_assert(fabs(stats_t_cdf(got, df) - p) < 1e-12);
    }
    cr_assert(worst < 1e-8, "worst relative error %g against scipy", worst);
    /* scipy's t.ppf itself is only good to ~5e-9; hold the implementation to
     * closed forms (df 1: tan(pi (p - 1/2)); df 2: (2p-1) / sqrt(2p(1-p)))
     * and to 40-digit mpmath roots of 0.5 I_{df/(df+t^2)}(df/2, 1/2) = 1-p. */
    const double ps[] = {0.6, 0.9, 0.975, 0.9995, 0.001};
    for (int i = 0; i < 5; i++) {
        double p = ps[i];
        assert_rel(stats_t_quantile(p, 1), tan(M_PI * (p - 0.5)), 1e-12, "t df=1", "closed form");
        assert_rel(stats_t_quantile(p, 2), (2 * p - 1) / sqrt(2 * p * (1 - p)), 1e-13, "t df=2",
                   "closed form");
    }
    assert_rel(stats_t_quantile(0.9, 3), 1.6377443536962103222, 1e-14, "t(0.9, 3)", "mpmath");
    assert_rel(stats_t_quantile(0.95, 30), 1.6972608865939573837, 1e-14, "t(0.95, 30)", "mpmath");
    assert_rel(stats_t_quantile(0.9995, 100), 3.3904913111642636132, 1e-13, "t(.9995, 100)",
               "mpmath");
    assert_rel(stats_t_quantile(0.975, 4), 2.7764451051977934898, 1e-14, "t(0.975, 4)", "mpmath");
    cr_assert(isnan(stats_t_quantile(0.0, 3)) && isnan(stats_t_quantile(0.5, 0)));
    cr_assert(fabs(stats_betainc(2, 3, 0.4) - 0.5248) < 1e-14); /* 1 - 3*0.36+... by hand */
}

Test(metrics_stats, summary_matches_scipy_t_interval) {
    json_t *cases = fixture("t_interval");
    for (size_t k = 0; k < json_array_size(cases); k++) {
        json_t *c = json_array_get(cases, k);
        size_t n;
        double *x = jdoubles(json_object_get(c, "x"), &n);
        Summary s;
        cr_assert_eq(stats_summary(x, n, 0.95, &s), VB_OK);
        cr_assert(s.ci.defined);
        double scale = fmax(1.0, fabs(jnum(c, "mean")));
        assert_abs(s.mean, jnum(c, "mean"), 1e-12 * scale, "mean", "t_interval");
        assert_abs(s.sd, jnum(c, "sd"), 1e-12 * scale, "sd", "t_interval");
        assert_abs(s.ci.lo, jnum(c, "lo"), 1e-9 * scale, "lo", "t_interval");
        assert_abs(s.ci.hi, jnum(c, "hi"), 1e-9 * scale, "hi", "t_interval");
        free(x);
    }
    double one = 0.7;
    Summary s;
    cr_assert_eq(stats_summary(&one, 1, 0.95, &s), VB_OK);
    cr_assert(s.mean == 0.7 && !s.ci.defined && isnan(s.sd) && isnan(s.half_width));
    cr_assert_eq(stats_summary(&one, 0, 0.95, &s), VB_ERR_INPUT);
    double inf[] = {1, INFINITY};
    cr_assert_eq(stats_summary(inf, 2, 0.95, &s), VB_ERR_NUMERIC);
}

/* ------------------------------------------------------------ bootstrap */

Test(metrics_bootstrap, deterministic_for_a_seed) {
    double x[] = {0.81, 0.84, 0.79, 0.86, 0.80};
    Interval a, b, c;
    cr_assert_eq(stats_bootstrap_mean(x, 5, 2000, 0.95, rng_stream(5, "bootstrap"), &a), VB_OK);
    cr_assert_eq(stats_bootstrap_mean(x, 5, 2000, 0.95, rng_stream(5, "bootstrap"), &b), VB_OK);
    cr_assert_eq(stats_bootstrap_mean(x, 5, 2000, 0.95, rng_stream(6, "bootstrap"), &c), VB_OK);
    tu_assert_bytes_equal(&a.lo, &b.lo, sizeof a.lo, "bootstrap lo");
    tu_assert_bytes_equal(&a.hi, &b.hi, sizeof a.hi, "bootstrap hi");
    cr_assert(a.lo != c.lo || a.hi != c.hi, "another seed gave the same interval");
    cr_assert(a.lo >= 0.79 && a.hi <= 0.86 && a.lo < 0.82 && a.hi > 0.82);
    double one = 1;
    cr_assert_eq(stats_bootstrap_mean(&one, 1, 100, 0.95, rng_stream(5, "bootstrap"), &a), VB_OK);
    cr_assert(!a.defined);
    cr_assert_eq(stats_bootstrap_mean(x, 5, 1, 0.95, rng_stream(5, "bootstrap"), &a), VB_ERR_INPUT);
    double k3[] = {2, 2, 2};
    cr_assert_eq(stats_bootstrap_mean(k3, 3, 100, 0.95, rng_stream(5, "bootstrap"), &a), VB_OK);
    cr_assert(a.defined && a.lo == 2 && a.hi == 2);
}

/* 60 draws of N(3, 1): the 95% interval must cover 3 and be about as wide
 * as the t-interval (percentile bootstrap is slightly narrower). */
Test(metrics_bootstrap, covers_the_true_mean) {
    enum { N = 60 };
    double x[N];
    RngStream g = rng_stream(2024, "data");
    for (int i = 0; i < N; i++) x[i] = 3.0 + rng_normal(g, 0, (uint64_t)i);
    Interval ci;
    cr_assert_eq(stats_bootstrap_mean(x, N, STATS_BOOTSTRAP_DEFAULT_B, 0.95,
                                      rng_stream(1, "bootstrap"), &ci),
                 VB_OK);
    Summary s;
    stats_summary(x, N, 0.95, &s);
    cr_assert(ci.lo < 3.0 && ci.hi > 3.0, "[%g, %g] misses 3", ci.lo, ci.hi);
    /* expected width ratio: 1.96 sqrt((n-1)/n) / t_{0.975, n-1} = 0.971 */
    double ratio = (ci.hi - ci.lo) / (s.ci.hi - s.ci.lo);
    cr_assert(ratio > 0.93 && ratio < 1.01, "bootstrap/t width ratio %g", ratio);
    cr_assert(ci.lo < s.mean && s.mean < ci.hi);
    /* with B = 10000 the Monte Carlo error of each end is ~1% of the width */
    Interval other;
    stats_bootstrap_mean(x, N, STATS_BOOTSTRAP_DEFAULT_B, 0.95, rng_stream(2, "bootstrap"), &other);
    double w = ci.hi - ci.lo;
    cr_assert(fabs(other.lo - ci.lo) < 0.04 * w && fabs(other.hi - ci.hi) < 0.04 * w,
              "seeds disagree: [%g, %g] vs [%g, %g]", ci.lo, ci.hi, other.lo, other.hi);
}

/* ------------------------------------------------------------ verdicts */

static StatsVerdict verdict_of(const double *base, const double *cand, size_t n,
                               StatsDirection dir) {
    Interval ci;
    double md;
    cr_assert_eq(stats_bootstrap_paired_diff(base, cand, n, 4000, 0.95, rng_stream(3, "bootstrap"),
                                             &ci, &md),
                 VB_OK);
    return stats_verdict(ci, dir);
}

Test(metrics_verdict, constructed_cases) {
    double base[] = {0.80, 0.83, 0.78, 0.82, 0.81};
    double up[] = {0.85, 0.87, 0.84, 0.86, 0.87};    /* +0.04..0.06 */
    double down[] = {0.75, 0.79, 0.72, 0.78, 0.75};  /* -0.04..-0.06 */
    double noise[] = {0.81, 0.82, 0.79, 0.81, 0.82}; /* +-0.01 */
    cr_assert_eq(verdict_of(base, up, 5, STATS_HIGHER_IS_BETTER), STATS_BETTER);
    cr_assert_eq(verdict_of(base, up, 5, STATS_LOWER_IS_BETTER), STATS_WORSE);
    cr_assert_eq(verdict_of(base, down, 5, STATS_HIGHER_IS_BETTER), STATS_WORSE);
    cr_assert_eq(verdict_of(base, down, 5, STATS_LOWER_IS_BETTER), STATS_BETTER);
    cr_assert_eq(verdict_of(base, noise, 5, STATS_HIGHER_IS_BETTER), STATS_NO_DIFFERENCE);
    cr_assert_eq(verdict_of(base, noise, 5, STATS_LOWER_IS_BETTER), STATS_NO_DIFFERENCE);
    /* latency in ms: the candidate is 2x slower in every seed */
    double lat_a[] = {10.1, 9.8, 10.4}, lat_b[] = {20.5, 19.9, 20.2};
    cr_assert_eq(verdict_of(lat_a, lat_b, 3, STATS_LOWER_IS_BETTER), STATS_WORSE);
    /* the interval itself */
    Interval touch = {true, 0.0, 0.3, ""}, undef = {false, NAN, NAN, "n = 1"};
    cr_assert_eq(stats_verdict(touch, STATS_HIGHER_IS_BETTER), STATS_NO_DIFFERENCE);
    cr_assert_eq(stats_verdict(undef, STATS_HIGHER_IS_BETTER), STATS_NO_DIFFERENCE);
    cr_assert_str_eq(stats_verdict_name(STATS_NO_DIFFERENCE), "no detectable difference");
    cr_assert_str_eq(stats_verdict_name(STATS_BETTER), "better");
    cr_assert_str_eq(stats_verdict_name(STATS_WORSE), "worse");
    double md;
    Interval ci;
    stats_bootstrap_paired_diff(base, up, 5, 100, 0.95, rng_stream(3, "bootstrap"), &ci, &md);
    cr_assert(fabs(md - 0.05) < 1e-12, "mean difference %.17g", md);
}

/* ------------------------------------------------------------ Mann-Whitney */

Test(metrics_mwu, matches_scipy) {
    json_t *cases = fixture("mannwhitney");
    const MwuAlternative alts[] = {MWU_TWO_SIDED, MWU_GREATER, MWU_LESS};
    const char *keys[] = {"p_two_sided", "p_greater", "p_less"};
    double worst = 0;
    for (size_t k = 0; k < json_array_size(cases); k++) {
        json_t *c = json_array_get(cases, k);
        const char *name = jname(c);
        size_t n1, n2;
        double *x = jdoubles(json_object_get(c, "x"), &n1);
        double *y = jdoubles(json_object_get(c, "y"), &n2);
        for (int a = 0; a < 3; a++) {
            MwuResult r;
            cr_assert_eq(stats_mann_whitney(x, n1, y, n2, alts[a], &r), VB_OK, "%s", vb_errmsg());
            cr_assert_eq(r.u1, jnum(c, "u1"), "%s: U1 %.17g", name, r.u1);
            cr_assert_eq(r.exact, json_is_true(json_object_get(c, "exact")), "%s: method", name);
            assert_abs(r.p, jnum(c, keys[a]), 1e-6, keys[a], name);
            double want = jnum(c, keys[a]);
            worst = fmax(worst, fabs(r.p - want) / fmax(want, 1e-300));
        }
        free(x), free(y);
    }
    cr_assert(worst < 1e-9, "worst relative p-value error %g", worst);
}

Test(metrics_mwu, constructed_samples) {
    double a[] = {1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8, 1.9, 2.0, 2.1};
    MwuResult r;
    cr_assert_eq(stats_mann_whitney(a, 12, a, 12, MWU_TWO_SIDED, &r), VB_OK);
    cr_assert(r.p > 0.999 && r.u1 == 72.0, "identical: p %g U1 %g", r.p, r.u1);
    /* three vs three, fully separated: exact two-sided p = 2 / C(6, 3) */
    double lo[] = {1, 2, 3}, hi[] = {4, 5, 6};
    cr_assert_eq(stats_mann_whitney(lo, 3, hi, 3, MWU_TWO_SIDED, &r), VB_OK);
    cr_assert(r.exact && fabs(r.p - 0.1) < 1e-15 && r.u1 == 0.0, "p %.17g", r.p);
    /* latency: 200 samples each, candidate 2x slower */
    enum { N = 200 };
    double base[N], slow[N], same[N];
    RngStream g = rng_stream(9, "latency");
    for (int i = 0; i < N; i++) {
        base[i] = 5.0 * exp(0.1 * rng_normal(g, 0, (uint64_t)i));
        same[i] = 5.0 * exp(0.1 * rng_normal(g, 1, (uint64_t)i));
        slow[i] = 10.0 * exp(0.1 * rng_normal(g, 2, (uint64_t)i));
    }
    cr_assert_eq(stats_latency_slower(base, N, slow, N, &r), VB_OK);
    cr_assert(r.p < 1e-30, "2x slower: p %g", r.p);
    cr_assert_eq(stats_latency_slower(slow, N, base, N, &r), VB_OK);
    cr_assert(r.p > 0.999, "2x faster must not look slower: p %g", r.p);
    cr_assert_eq(stats_latency_slower(base, N, same, N, &r), VB_OK);
    cr_assert(r.p > 0.01, "same distribution: p %g", r.p);
    /* exact only for min(n1, n2) <= 8 and max <= 10000 */
    double *big = malloc(20000 * sizeof *big);
    for (int i = 0; i < 20000; i++) big[i] = i + 0.5;
    cr_assert_eq(stats_mann_whitney(lo, 3, big, 20000, MWU_TWO_SIDED, &r), VB_OK);
    cr_assert(!r.exact && r.p < 0.01);
    cr_assert_eq(stats_mann_whitney(lo, 3, big, 9000, MWU_TWO_SIDED, &r), VB_OK);
    cr_assert(r.exact && r.p < 0.01);
    free(big);
    cr_assert_eq(stats_mann_whitney(lo, 0, hi, 3, MWU_TWO_SIDED, &r), VB_ERR_INPUT);
    double nan1[] = {NAN};
    cr_assert_eq(stats_mann_whitney(nan1, 1, hi, 3, MWU_TWO_SIDED, &r), VB_ERR_NUMERIC);
}

/* ------------------------------------------------------------ formatting */

Test(metrics_format, digits_follow_the_interval) {
    struct {
        double v, hw;
        const char *want;
    } cases[] = {
        {0.83456, 0.021, "0.83 \xc2\xb1 0.02"},
        {0.83456, 0.0149, "0.835 \xc2\xb1 0.015"},
        {0.83456, 0.096, "0.8 \xc2\xb1 0.1"},
        {12.3456, 2.7, "12 \xc2\xb1 3"},
        {1234.5, 56, "1230 \xc2\xb1 60"},
        {-0.001, 0.02, "0.00 \xc2\xb1 0.02"},
        {-0.0512, 0.004, "-0.051 \xc2\xb1 0.004"},
        {0.5, 0.0, "0.5"},
        {0.123456, NAN, "0.123"},
        {NAN, 0.1, "n/a"},
        {95.04, 1.0, "95.0 \xc2\xb1 1.0"},
    };
    char buf[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        stats_format_pm(cases[i].v, cases[i].hw, buf, sizeof buf);
        cr_assert_str_eq(buf, cases[i].want, "case %zu (%g, %g)", i, cases[i].v, cases[i].hw);
    }
    stats_format_value(0.83456, 0.021, buf, sizeof buf);
    cr_assert_str_eq(buf, "0.83");
}
