/* Tests of the shortcut probe (harness/run/probe.c): the ridge classifier
 * against scikit-learn's RidgeClassifier (tests/fixtures/metrics.json,
 * section "ridge", written by tests/reference/make_metric_fixtures.py); the
 * probe on constructed data sets where the answer is known (a planted
 * colour shortcut is found, pure noise stays near chance, single-frame
 * videos have no motion probe, thread counts do not matter, bad input is
 * refused); and the property issue 5 asks of the synthetic generator:
 * learnable but not trivial, measured with the probe. */
#include "testutil.h"

#include <jansson.h>
#include <omp.h>

#include "datasets/synth.h"
#include "harness/run/probe.h"
#include "kernels/rng.h"

static json_t *ridge_cases(void) {
    json_error_t e;
    json_t *root = json_load_file("tests/fixtures/metrics.json", 0, &e);
    cr_assert_not_null(root, "tests/fixtures/metrics.json:%d: %s", e.line, e.text);
    json_t *r = json_incref(json_object_get(root, "ridge"));
    json_decref(root);
    cr_assert(json_is_array(r) && json_array_size(r) == 3, "fixture section ridge missing");
    return r;
}

static double *jd(json_t *a) {
    size_t n = json_array_size(a);
    double *v = calloc(n, sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = json_number_value(json_array_get(a, i));
    return v;
}

Test(probe, ridge_matches_sklearn) {
    json_t *cases = ridge_cases(), *c;
    size_t k;
    json_array_foreach(cases, k, c) {
        int n = (int)json_integer_value(json_object_get(c, "n"));
        int d = (int)json_integer_value(json_object_get(c, "d"));
        int C = (int)json_integer_value(json_object_get(c, "c"));
        double alpha = json_number_value(json_object_get(c, "alpha"));
        double *x = jd(json_object_get(c, "x")), *ref = jd(json_object_get(c, "coef"));
        double *ricpt = jd(json_object_get(c, "intercept"));
        json_t *jy = json_object_get(c, "y"), *jp = json_object_get(c, "pred");
        int *y = calloc((size_t)n, sizeof *y);
        for (int i = 0; i < n; i++) y[i] = (int)json_integer_value(json_array_get(jy, i));
        double *coef = calloc((size_t)C * d, sizeof *coef), *icpt = calloc((size_t)C, sizeof *icpt);
        cr_assert_eq(probe_ridge_fit(x, y, n, d, C, alpha, coef, icpt), VB_OK, "%s", vb_errmsg());
        double scale = 0, worst = 0;
        for (int i = 0; i < C * d; i++) scale = fmax(scale, fabs(ref[i]));
        for (int i = 0; i < C * d; i++) worst = fmax(worst, fabs(coef[i] - ref[i]));
        for (int i = 0; i < C; i++) worst = fmax(worst, fabs(icpt[i] - ricpt[i]));
        cr_assert(worst <= 1e-9 * (1 + scale), "case %zu: coefficients differ by %g", k, worst);
        for (int r = 0; r < (int)json_array_size(jp); r++) { /* held-out rows after the n */
            const double *row = x + (size_t)(n + r) * d;
            int best = 0;
            double bs = -INFINITY;
            for (int cl = 0; cl < C; cl++) {
                double s = icpt[cl];
                for (int j = 0; j < d; j++) s += coef[(size_t)cl * d + j] * row[j];
                if (s > bs) bs = s, best = cl;
            }
            cr_assert_eq(best, (int)json_integer_value(json_array_get(jp, r)), "case %zu row %d", k,
                         r);
        }
        free(x), free(ref), free(ricpt), free(y), free(coef), free(icpt);
    }
    json_decref(cases);
}

/* A hand-made data set: classes "A", "B", "C" and the normal "N", ntr Train
 * and nte Test videos each of F frames of 16 x 16. Every pixel is uniform
 * noise of amplitude 0.5 around a grey; with `shortcut`, class k's frames
 * are tinted with its own colour. */
static void make_set(Dataset *ds, int ntr, int nte, uint32_t F, bool shortcut) {
    static const char *const names[4] = {"A", "B", "C", "N"};
    static const float tint[4][3] = {{0.3f, 0, 0}, {0, 0.3f, 0}, {0, 0, 0.3f}, {0, 0, 0}};
    dataset_init(ds);
    ds->source = vb_xstrdup("constructed");
    for (int c = 0; c < 4; c++) dataset_class_index(ds, names[c]);
    uint64_t first = 0;
    for (int c = 0; c < 4; c++)
        for (int i = 0; i < ntr + nte; i++) {
            char id[32];
            snprintf(id, sizeof id, "%s%03d_x264", names[c], i);
            dataset_add_video(ds, id, c, i < ntr ? DS_TRAIN : DS_TEST, F, first);
            first += F;
        }
    cr_assert_eq(dataset_frames_alloc(ds, first, 16, 16), VB_OK);
    RngStream s = rng_stream(5, "probe-test");
    size_t fb = dataset_frame_bytes(ds);
    for (size_t v = 0; v < ds->nvideos; v++) {
        int c = ds->videos[v].cls;
        for (size_t i = 0; i < F * fb; i++) {
            float val = 0.25f + 0.5f * rng_uniform(s, v, i) + (shortcut ? tint[c][i % 3] : 0.0f);
            ds->frames.data[ds->videos[v].first * fb + i] = (uint8_t)(fminf(val, 1.0f) * 255.0f);
        }
    }
    cr_assert_eq(dataset_finish(ds, NULL), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(dataset_set_normal(ds, "N"), VB_OK);
}

Test(probe, planted_colour_shortcut_is_found) {
    Dataset ds;
    make_set(&ds, 12, 6, 3, true);
    ProbeResult r;
    cr_assert_eq(probe_run(&ds, 1.0, &r), VB_OK, "%s", vb_errmsg());
    const ProbeSet *col = &r.set[PROBE_COLOUR];
    cr_assert(col->defined);
    cr_assert_eq(col->dims, 30);
    cr_assert_float_eq(col->balanced_accuracy, 1.0, 1e-12);
    cr_assert_float_eq(col->auroc_all, 1.0, 1e-12);
    for (int c = 0; c < 4; c++)
        if (c != ds.normal) cr_assert_float_eq(col->auroc[c], 1.0, 1e-12, "class %d", c);
    cr_assert(isnan(col->auroc[ds.normal]));
    cr_assert_float_eq(r.majority_accuracy, 0.25, 1e-12);
    cr_assert_eq(r.train_videos, 48);
    cr_assert_eq(r.test_videos, 24);
    probe_free(&r);
    dataset_free(&ds);
}

Test(probe, pure_noise_stays_near_chance) {
    Dataset ds;
    make_set(&ds, 15, 10, 3, false);
    ProbeResult r;
    cr_assert_eq(probe_run(&ds, 1.0, &r), VB_OK, "%s", vb_errmsg());
    for (int s = 0; s < PROBE_NSETS; s++) {
        /* chance 0.25; 40 Test videos put a 99% band at about +-0.18 */
        cr_assert(r.set[s].balanced_accuracy < 0.45, "%s: %g", probe_set_names[s],
                  r.set[s].balanced_accuracy);
        cr_assert(fabs(r.set[s].auroc_all - 0.5) < 0.25, "%s: AUROC %g", probe_set_names[s],
                  r.set[s].auroc_all);
    }
    probe_free(&r);
    dataset_free(&ds);
}

Test(probe, single_frame_videos_have_no_motion_probe) {
    Dataset ds;
    make_set(&ds, 8, 4, 1, true);
    ProbeResult r;
    cr_assert_eq(probe_run(&ds, 1.0, &r), VB_OK, "%s", vb_errmsg());
    cr_assert(!r.set[PROBE_MOTION].defined);
    cr_assert_not_null(strstr(r.set[PROBE_MOTION].reason, "single frame"));
    cr_assert_eq(r.set[PROBE_ALL].dims, 30 + 192);
    cr_assert_float_eq(r.set[PROBE_ALL].balanced_accuracy, 1.0, 1e-12);
    probe_free(&r);
    dataset_free(&ds);
}

Test(probe, one_class_protocol_runs_the_distance_probe_only) {
    Dataset ds;
    make_set(&ds, 10, 5, 3, true);
    bool unseen[4];
    uint32_t fit[64], score[64], other[64];
    size_t nf = 0, ns = 0, no = 0;
    for (int c = 0; c < 4; c++) unseen[c] = c != ds.normal;
    for (size_t v = 0; v < ds.nvideos; v++) {
        if (ds.videos[v].split == DS_TEST) score[ns++] = (uint32_t)v;
        else if (ds.videos[v].cls == ds.normal) fit[nf++] = (uint32_t)v;
        else if (ds.videos[v].cls == 0) other[no++] = (uint32_t)v;
    }
    ProbeSelect sel = {fit, nf, score, ns, unseen};
    ProbeResult r;
    cr_assert_eq(probe_run_select(&ds, &sel, 1.0, &r), VB_OK, "%s", vb_errmsg());
    const ProbeSet *col = &r.set[PROBE_COLOUR];
    cr_assert(col->defined && isnan(col->balanced_accuracy) && isnan(col->accuracy));
    cr_assert_float_eq(col->auroc_unseen, 1.0, 1e-12); /* tinted anomalies, grey normals */
    cr_assert(isnan(col->auroc_seen));
    probe_free(&r);
    /* one fitted class that is not the normal one: nothing to do */
    ProbeSelect bad = {other, no, score, ns, NULL};
    cr_assert_eq(probe_run_select(&ds, &bad, 1.0, &r), VB_ERR_INPUT);
    cr_assert_not_null(strstr(vb_errmsg(), "or of the normal class"), "%s", vb_errmsg());
    dataset_free(&ds);
}

static void assert_same(const ProbeResult *a, const ProbeResult *b, int C) {
    for (int s = 0; s < PROBE_NSETS; s++) {
        const ProbeSet *x = &a->set[s], *y = &b->set[s];
        cr_assert_eq(x->defined, y->defined);
        if (!x->defined) continue;
        cr_assert(memcmp(&x->balanced_accuracy, &y->balanced_accuracy, sizeof(double)) == 0);
        cr_assert(memcmp(&x->auroc_all, &y->auroc_all, sizeof(double)) == 0);
        cr_assert(memcmp(x->recall, y->recall, (size_t)C * sizeof(double)) == 0);
        cr_assert(memcmp(x->auroc, y->auroc, (size_t)C * sizeof(double)) == 0);
    }
}

Test(probe, holdout_selection_scores_unseen_classes_by_distance_only) {
    Dataset ds;
    make_set(&ds, 10, 5, 3, true);
    int B = dataset_find_class(&ds, "B");
    bool unseen[4] = {false};
    unseen[B] = true;
    uint32_t fit[64], score[64];
    size_t nf = 0, ns = 0;
    for (size_t v = 0; v < ds.nvideos; v++) {
        if (ds.videos[v].split == DS_TEST) score[ns++] = (uint32_t)v;
        else if (ds.videos[v].cls != B && (v % 10) != 0) /* a cell's training videos */
            fit[nf++] = (uint32_t)v;
    }
    ProbeSelect sel = {fit, nf, score, ns, unseen};
    ProbeResult r;
    cr_assert_eq(probe_run_select(&ds, &sel, 1.0, &r), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(r.train_videos, nf);
    cr_assert_eq(r.test_videos, 20);
    cr_assert_eq(r.test_classes, 3);
    const ProbeSet *col = &r.set[PROBE_COLOUR];
    cr_assert(isnan(col->recall[B]));
    cr_assert_float_eq(col->balanced_accuracy, 1.0, 1e-12);
    cr_assert_float_eq(col->accuracy, 1.0, 1e-12); /* over the 15 seen-class videos */
    cr_assert_float_eq(col->auroc_unseen, 1.0, 1e-12);
    cr_assert_float_eq(col->auroc_seen, 1.0, 1e-12);
    cr_assert_float_eq(col->auroc[B], 1.0, 1e-12);
    /* features computed once for every video (as the runner does per data
     * set) give the same bits as features computed for the selection */
    double *feat = probe_features(&ds);
    ProbeResult again;
    cr_assert_eq(probe_run_features(&ds, feat, &sel, 1.0, &again), VB_OK);
    assert_same(&r, &again, ds.nclasses);
    probe_free(&again);
    free(feat);
    probe_free(&r);
    /* without a selection's unseen flags, B is an unfitted class: never predicted */
    sel.unseen = NULL;
    cr_assert_eq(probe_run_select(&ds, &sel, 1.0, &r), VB_OK);
    cr_assert_float_eq(r.set[PROBE_COLOUR].recall[B], 0.0, 0);
    cr_assert(isnan(r.set[PROBE_COLOUR].auroc_unseen));
    probe_free(&r);
    dataset_free(&ds);
}

Test(probe, same_answer_for_any_thread_count) {
    Dataset ds;
    make_set(&ds, 10, 5, 4, true);
    ProbeResult one, two;
    omp_set_num_threads(1);
    cr_assert_eq(probe_run(&ds, 1.0, &one), VB_OK);
    omp_set_num_threads(2);
    cr_assert_eq(probe_run(&ds, 1.0, &two), VB_OK);
    assert_same(&one, &two, ds.nclasses);
    probe_free(&one), probe_free(&two);
    dataset_free(&ds);
}

Test(probe, refuses_what_it_cannot_fit) {
    Dataset ds;
    make_set(&ds, 0, 4, 2, true); /* no Train videos */
    ProbeResult r;
    cr_assert_eq(probe_run(&ds, 1.0, &r), VB_ERR_INPUT);
    cr_assert_not_null(strstr(vb_errmsg(), "at least two classes"), "%s", vb_errmsg());
    dataset_free(&ds);
    make_set(&ds, 4, 0, 2, true); /* no Test videos */
    cr_assert_eq(probe_run(&ds, 1.0, &r), VB_ERR_INPUT);
    cr_assert_not_null(strstr(vb_errmsg(), "Test videos"), "%s", vb_errmsg());
    cr_assert_eq(probe_run(&ds, 0.0, &r), VB_ERR_INPUT);
    cr_assert_not_null(strstr(vb_errmsg(), "alpha"), "%s", vb_errmsg());
    dataset_free(&ds);
}

/* Issue 5: the synthetic classes are learnable but not trivial. Measured on
 * 24 Train / 8 Test videos per class of 8 frames (seeds 0-2 gave colour
 * balanced accuracy 0.20-0.29, all 0.40-0.48, motion AUROC vs normal
 * 0.66-0.78, colour AUROC 0.45-0.61, the interaction classes' mean recall
 * 0.10-0.19; chance is 1/14 = 0.071). The bounds leave room for retuning
 * but fail if a class becomes a colour shortcut, anomalies become "not
 * normal" by colour, the interaction classes become solvable from
 * thumbnails, or the signatures stop moving. */
Test(probe, synthetic_classes_are_learnable_but_not_trivial) {
    SynthConfig c;
    synth_defaults(&c);
    c.videos_per_class = 24;
    c.test_videos_per_class = 8;
    c.normal_factor = 2;
    c.frames = 8;
    Dataset ds;
    cr_assert_eq(synth_generate(&c, &ds), VB_OK, "%s", vb_errmsg());
    ProbeResult r;
    cr_assert_eq(probe_run(&ds, 1.0, &r), VB_OK, "%s", vb_errmsg());
    const ProbeSet *col = &r.set[PROBE_COLOUR], *mot = &r.set[PROBE_MOTION],
                   *all = &r.set[PROBE_ALL];
    /* not trivial: colour statistics neither name the class nor find anomalies */
    cr_assert(col->balanced_accuracy <= 0.35, "colour probe %g", col->balanced_accuracy);
    cr_assert(col->auroc_all <= 0.70, "colour AUROC vs normal %g", col->auroc_all);
    /* nor do simple features solve the two-person interactions */
    static const char *const inter[] = {"Abuse",   "Assault",  "Fighting",
                                        "Robbery", "Stealing", "Shoplifting"};
    double m = 0;
    for (int i = 0; i < 6; i++) m += all->recall[dataset_find_class(&ds, inter[i])] / 6.0;
    cr_assert(m <= 0.35, "interaction classes' recall from simple features %g", m);
    /* learnable: the signal is there, far above chance (0.071) */
    cr_assert(all->balanced_accuracy >= 0.35, "all-features probe %g", all->balanced_accuracy);
    /* and anomalies move differently from normal walking, without being seen */
    cr_assert(mot->auroc_all >= 0.62, "motion AUROC vs normal %g", mot->auroc_all);
    probe_free(&r);
    dataset_free(&ds);
}
