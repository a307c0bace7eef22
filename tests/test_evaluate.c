/* Tests of harness/run/evaluate.c's metric step (eval_metrics) on constructed
 * scores, where the answers can be counted by hand: clip-level closed-set
 * accuracy over the seen classes and the video-level accuracy (largest
 * mean probability over a video's clips), with clips of one video not
 * adjacent and an unseen class that must not count; and the scoring loop
 * (eval_collect) on a small randomly initialised model: test-time
 * augmentation's reduction (mean or max over views) applies to the anomaly
 * scores only, the class prediction always averages the views' logits. */
#include "testutil.h"

#include "harness/run/evaluate.h"
#include "harness/run/rundata.h"
#include "harness/run/train.h"

typedef struct Logged {
    char key[64][64];
    double value[64];
    int n;
} Logged;

static void logfn(void *ctx, const char *split, const char *key, int64_t step, double value) {
    Logged *l = ctx;
    cr_assert_str_eq(split, "test");
    cr_assert_eq(step, -1);
    if (l->n < 64) {
        snprintf(l->key[l->n], sizeof l->key[0], "%s", key);
        l->value[l->n++] = value;
    }
}

static double logged(const Logged *l, const char *key) {
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->key[i], key) == 0) return l->value[i];
    cr_assert_fail("metric %s was not logged", key);
    return NAN;
}

/* 3 dataset classes: 0 "A" (seen, model class 1), 1 "N" normal (model 0),
 * 2 "U" unseen. Clips (video, class, probabilities over model classes N, A):
 *   v7 A: (0.4 0.6) (0.9 0.1) (0.45 0.55) -> mean N wins: video wrong, 2/3 clips right
 *   v3 N: (0.8 0.2) (0.3 0.7)             -> N: right, 1/2 clips right
 *   v5 A: (0.2 0.8)                       -> A: right, 1/1
 *   v9 U: (0.5 0.5) (0.1 0.9)             -> unseen: not counted
 * The clips of v7 are interleaved with others. */
Test(evaluate, clip_and_video_accuracy_over_seen_classes) {
    static const int64_t video[] = {7, 3, 7, 5, 9, 3, 7, 9};
    static const int cls[] = {0, 1, 0, 0, 2, 1, 0, 2};
    static const double pa[] = {0.6, 0.2, 0.1, 0.8, 0.5, 0.7, 0.55, 0.9}; /* P(A) */
    size_t n = 8;
    EvalScores s;
    memset(&s, 0, sizeof s);
    s.n = s.cap = n;
    s.nprob = 2;
    s.cls = (int *)cls;
    s.video = (int64_t *)video;
    int pred[8], anomaly[8];
    double prob[16];
    uint8_t unseen[8];
    for (size_t i = 0; i < n; i++) {
        prob[2 * i] = 1 - pa[i], prob[2 * i + 1] = pa[i];
        pred[i] = pa[i] > 0.5;
        anomaly[i] = cls[i] != 1;
        unseen[i] = cls[i] == 2;
    }
    double none[8];
    for (size_t i = 0; i < n; i++) none[i] = NAN; /* a NaN first score = "not present" */
    for (int q = 0; q < EVAL_NSCORES; q++) s.s[q] = none;
    s.pred = pred, s.prob = prob, s.anomaly = anomaly, s.unseen = unseen;
    static const char *const names[] = {"A", "N", "U"};
    static const int map[] = {1, 0, -1};
    EvalContext ec = {names, 3, map, 2, 0, 0.05};
    Logged l = {.n = 0};
    cr_assert_eq(eval_metrics(&ec, &s, &s, "test", "", logfn, &l), VB_OK, "%s", vb_errmsg());
    /* clips of seen classes: v7 2/3 (0.6, 0.55 right; 0.1 wrong), v3 1/2, v5 1/1 -> 4/6 */
    cr_assert_float_eq(logged(&l, "accuracy"), 4.0 / 6.0, 1e-12);
    /* videos: v7 mean P(A) = 0.4167 -> N (wrong), v3 0.45 -> N (right), v5 right -> 2/3 */
    cr_assert_float_eq(logged(&l, "video_accuracy"), 2.0 / 3.0, 1e-12);
    /* recall A = 1/2 (v5 of v5, v7), recall N = 1/1 -> balanced 0.75 */
    cr_assert_float_eq(logged(&l, "video_balanced_accuracy"), 0.75, 1e-12);
    cr_assert_float_eq(logged(&l, "unseen_assigned.U.A"), 1.0, 0); /* clip (0.1 0.9) */
}

/* The one-class protocol: only the normal class is seen, the model is padded
 * to two classes; its padding class has no data class and gets no keys (the
 * evaluation used to read a name for it from uninitialised memory). */
Test(evaluate, one_class_padding_class_gets_no_keys) {
    static const int64_t video[] = {1, 2, 3, 4};
    static const int cls[] = {1, 1, 0, 2};           /* N, N, A, U */
    static const double p1[] = {0.2, 0.7, 0.4, 0.9}; /* P(padding class) */
    EvalScores s;
    memset(&s, 0, sizeof s);
    s.n = s.cap = 4;
    s.nprob = 2;
    int pred[4], anomaly[4];
    double prob[8], none[4];
    uint8_t unseen[4];
    for (int i = 0; i < 4; i++) {
        prob[2 * i] = 1 - p1[i], prob[2 * i + 1] = p1[i];
        pred[i] = p1[i] > 0.5;
        anomaly[i] = cls[i] != 1;
        unseen[i] = cls[i] != 1;
        none[i] = NAN;
    }
    for (int q = 0; q < EVAL_NSCORES; q++) s.s[q] = none;
    s.cls = (int *)cls, s.video = (int64_t *)video, s.pred = pred, s.prob = prob;
    s.anomaly = anomaly, s.unseen = unseen;
    static const char *const names[] = {"A", "N", "U"};
    static const int map[] = {-1, 0, -1};
    EvalContext ec = {names, 3, map, 2, 0, 0.05};
    Logged l = {.n = 0};
    cr_assert_eq(eval_metrics(&ec, &s, &s, "test", "", logfn, &l), VB_OK, "%s", vb_errmsg());
    cr_assert_float_eq(logged(&l, "accuracy"), 0.5, 1e-12); /* one of two normals */
    cr_assert_float_eq(logged(&l, "class.N.recall"), 0.5, 1e-12);
    cr_assert_float_eq(logged(&l, "confusion.N.N"), 1, 0);
    cr_assert_float_eq(logged(&l, "unseen_assigned.A.N"), 1, 0);
    for (int i = 0; i < l.n; i++) {
        const char *k = l.key[i];
        bool known = !strncmp(k, "class.N.", 8) || !strcmp(k, "confusion.N.N") ||
                     !strncmp(k, "unseen_assigned.", 16) || !strchr(k, '.') ||
                     !strncmp(k, "video_", 6);
        cr_assert(known, "unexpected key %s", k);
        if (!strncmp(k, "unseen_assigned.", 16))
            cr_assert(!strcmp(k + strlen(k) - 2, ".N"), "%s", k);
    }
}

Test(evaluate, tta_max_reduces_scores_but_averages_class_logits, .timeout = 120) {
    RunConfig rc;
    run_config_defaults(&rc);
    DataConfig *d = &rc.data;
    d->videos_per_class = 2, d->test_videos_per_class = 2, d->normal_factor = 2;
    d->frames_per_video = 4, d->size = 32, d->val_fraction = 0.34;
    d->clip_frames = 2, d->clip_stride = 1, d->clip_window = 2, d->workers = 1;
    ModelConfig *mc = &rc.model;
    mc->width = 0.25, mc->depth = 0.34, mc->image = 32;
    mc->temporal = TEMPORAL_GRU;
    mc->hidden = 8, mc->layers = 1, mc->feature_dim = 16, mc->embedding_dim = 8;
    mc->svdd_hidden = 8;
    rc.eval.batch_size = 4;
    rc.train.batch_size = 4;
    Holdout h;
    memset(&h, 0, sizeof h);
    snprintf(h.name, sizeof h.name, "none");
    Dataset ds;
    cr_assert_eq(rundata_load(d, &ds), VB_OK, "%s", vb_errmsg());
    CellData cd;
    cr_assert_eq(celldata_open(&ds, &rc, &h, 1, &cd), VB_OK, "%s", vb_errmsg());
    ModelConfig m2 = rc.model;
    m2.classes = cd.nmodel;
    Hybrid m;
    cr_assert_eq(hybrid_build(&m, &m2, kops_cpu(), 4, 2), VB_OK, "%s", vb_errmsg());
    hybrid_init(&m, 5);
    /* a fresh model's eval-mode outputs hardly depend on the input (BN running
     * statistics 0/1 while the activations shrink layer by layer): BN
     * statistics from the data make them differ */
    train_bn_update(&m, cd.train_eval);
    EvalContext ec = {(const char *const *)ds.classes,
                      ds.nclasses,
                      cd.class_map,
                      cd.nmodel,
                      cd.normal_model,
                      0.05};
    EvalScores mean, max, plain;
    cr_assert_eq(eval_collect(&m, cd.test, &ec, 3, false, &mean), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(eval_collect(&m, cd.test, &ec, 3, true, &max), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(eval_collect(&m, cd.test, &ec, 0, false, &plain), VB_OK, "%s", vb_errmsg());
    cr_assert(mean.n > 10 && mean.n == max.n && mean.n == plain.n);
    int distinct = 0, differ = 0;
    for (size_t i = 0; i < mean.n; i++) {
        cr_assert_eq(mean.pred[i], max.pred[i], "clip %zu", i);
        for (int c = 0; c < mean.nprob; c++)
            cr_assert(mean.prob[i * mean.nprob + c] == max.prob[i * max.nprob + c]);
        distinct += mean.pred[i] != mean.pred[0];
        /* max over views is >= their mean, and somewhere larger */
        cr_assert(max.s[SC_SVDD][i] >= mean.s[SC_SVDD][i] - 1e-9 * fabs(mean.s[SC_SVDD][i]));
        differ += max.s[SC_SVDD][i] > mean.s[SC_SVDD][i] * (1 + 1e-9);
        double sum = 0;
        for (int c = 0; c < plain.nprob; c++) sum += plain.prob[i * plain.nprob + c];
        cr_assert_float_eq(sum, 1.0, 1e-12);
    }
    cr_assert(distinct > 0, "a random model should not predict one class everywhere");
    cr_assert(differ > 0);
    eval_scores_free(&mean), eval_scores_free(&max), eval_scores_free(&plain);
    hybrid_free(&m);
    celldata_close(&cd);
    dataset_free(&ds);
}
