/* Grey frames and the preprocessing choices (dataset.channels 1,
 * dataset.preprocess unit | gcn_l1_minmax): Fashion-MNIST read natively
 * (28x28x1, the files' own bytes; skipped without dataset-fashion-mnist),
 * the preprocessing arithmetic, the loader's grey batches and its refusals,
 * the probe's features of grey frames equal to those of the same frames
 * replicated to RGB, and the content digest telling grey from RGB. */
#include "testutil.h"

#include "datasets/fmnist.h"
#include "datasets/loader.h"
#include "datasets/preprocess.h"
#include "harness/run/probe.h"

/* n single-frame videos of h x h x c with values v(i, p) = (i*37 + p*11) % 256
 * (replicated over channels), all of one class. */
static void small_set(Dataset *ds, int n, int h, int c) {
    dataset_init(ds);
    cr_assert_eq(dataset_class_index(ds, "a"), 0);
    cr_assert_eq(dataset_class_index(ds, "b"), 1);
    cr_assert_eq(dataset_frames_alloc_c(ds, (uint64_t)n, h, h, c), VB_OK);
    for (int i = 0; i < n; i++) {
        for (int p = 0; p < h * h; p++)
            for (int k = 0; k < c; k++)
                ds->frames.data[((size_t)i * h * h + p) * c + k] =
                    (uint8_t)((i * 37 + p * 11) % 256);
        char id[16];
        snprintf(id, sizeof id, "v%02d", i);
        dataset_add_video(ds, id, i % 2, i < n / 2 ? DS_TRAIN : DS_TEST, 1, (uint64_t)i);
    }
    cr_assert_eq(dataset_finish(ds, NULL), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(dataset_set_normal(ds, "a"), VB_OK);
}

Test(data_grey, fashion_mnist_native_is_the_files_bytes) {
    if (!fmnist_available(NULL)) cr_skip_test("Fashion-MNIST is not installed");
    FmnistOptions o;
    fmnist_defaults(&o);
    o.size = 28, o.channels = 1, o.limit = 50; /* resizing to 28 is no resize */
    Dataset g, rgb;
    cr_assert_eq(fmnist_read(&o, &g), VB_OK, "%s", vb_errmsg());
    o.channels = 3;
    cr_assert_eq(fmnist_read(&o, &rgb), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(g.frames.c, 1);
    cr_assert_eq(dataset_frame_bytes(&g), 784);
    /* row 14 of the first training image (test_data_fmnist.c's bytes) */
    static const uint8_t row14[28] = {0x00, 0x00, 0x01, 0x04, 0x06, 0x07, 0x02, 0x00, 0x00, 0x00,
                                      0x00, 0x00, 0xed, 0xe2, 0xd9, 0xdf, 0xde, 0xdb, 0xde, 0xdd,
                                      0xd8, 0xdf, 0xe5, 0xd7, 0xda, 0xff, 0x4d, 0x00};
    size_t v = 0;
    while (strcmp(g.videos[v].id, "train_00000") != 0) v++;
    const uint8_t *img = dataset_frame(&g, v, 0);
    for (int x = 0; x < 28; x++) cr_assert_eq(img[14 * 28 + x], row14[x], "x %d", x);
    /* the RGB store at size 28 holds the same bytes three times */
    for (size_t i = 0; i < g.nvideos; i++) {
        const uint8_t *a = dataset_frame(&g, i, 0), *b = dataset_frame(&rgb, i, 0);
        for (int p = 0; p < 784; p++)
            for (int c = 0; c < 3; c++) cr_assert_eq(b[p * 3 + c], a[p]);
    }
    cr_assert_str_neq(g.digest, rgb.digest, "grey and RGB stores share a digest");
    dataset_free(&g), dataset_free(&rgb);
}

Test(data_grey, unit_and_gcn_l1_minmax_arithmetic) {
    uint8_t px[6] = {0, 51, 102, 153, 204, 255};
    float out[6];
    PrepConfig unit = {PREP_UNIT, 0, 1};
    prep_frame(&unit, px, 1, 3, 2, out);
    for (int i = 0; i < 6; i++) cr_assert_float_eq(out[i], px[i] / 255.0f, 1e-7);
    /* GCN-L1 by hand: x = 0, .2, .4, .6, .8, 1; mean .5; |x - mean| mean 0.3 */
    float g[6];
    for (int i = 0; i < 6; i++) g[i] = px[i] / 255.0f;
    prep_gcn_l1(g, 6);
    const double want[6] = {-0.5 / 0.3, -0.3 / 0.3, -0.1 / 0.3, 0.1 / 0.3, 0.3 / 0.3, 0.5 / 0.3};
    for (int i = 0; i < 6; i++)
        cr_assert(fabs(g[i] - want[i]) < 1e-5, "%d: %g vs %g", i, g[i], want[i]);
    PrepConfig mm = {PREP_GCN_L1_MINMAX, (float)(-0.5 / 0.3), (float)(0.5 / 0.3)};
    prep_frame(&mm, px, 1, 3, 2, out);
    for (int i = 0; i < 6; i++) cr_assert(fabs(out[i] - i / 5.0) < 1e-5, "%d: %g", i, out[i]);
    uint8_t flat[4] = {7, 7, 7, 7}; /* a constant image stays at 0, not NaN */
    prep_frame(&mm, flat, 2, 2, 1, out);
    for (int i = 0; i < 4; i++) cr_assert(isfinite(out[i]));
}

Test(data_grey, gcn_range_spans_the_class_frames) {
    Dataset ds;
    small_set(&ds, 8, 4, 1);
    uint32_t vids[8];
    for (int i = 0; i < 8; i++) vids[i] = (uint32_t)i;
    ClipSet cs;
    cr_assert_eq(clips_build(&ds, vids, 8, clips_spec(1), &cs), VB_OK);
    float lo, hi;
    size_t seen = prep_gcn_range(&ds, &cs, 0, &lo, &hi);
    cr_assert_eq(seen, 4); /* class "a": every other video */
    float want_lo = INFINITY, want_hi = -INFINITY, buf[16];
    for (size_t i = 0; i < ds.nvideos; i++) {
        if (ds.videos[i].cls != 0) continue;
        const uint8_t *f = dataset_frame(&ds, i, 0);
        for (int p = 0; p < 16; p++) buf[p] = f[p] / 255.0f;
        prep_gcn_l1(buf, 16);
        for (int p = 0; p < 16; p++)
            want_lo = fminf(want_lo, buf[p]), want_hi = fmaxf(want_hi, buf[p]);
    }
    cr_assert_eq(lo, want_lo);
    cr_assert_eq(hi, want_hi);
    clips_free(&cs);
    dataset_free(&ds);
}

Test(data_grey, loader_batches_of_grey_frames_and_its_refusals) {
    Dataset ds;
    small_set(&ds, 6, 5, 1);
    uint32_t vids[6] = {0, 1, 2, 3, 4, 5};
    ClipSet cs;
    cr_assert_eq(clips_build(&ds, vids, 6, clips_spec(1), &cs), VB_OK);
    LoaderConfig lc;
    loader_defaults(&lc);
    lc.ds = &ds, lc.clips = &cs, lc.batch = 3, lc.train = false, lc.workers = 0;
    Loader *l = NULL;
    /* ImageNet normalisation (the default) needs RGB */
    cr_assert_eq(loader_open(&lc, &l), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "RGB") != NULL, "%s", vb_errmsg());
    /* augmentation runs on ImageNet-normalised frames only */
    lc.prep.kind = PREP_UNIT, lc.train = true, lc.aug.enabled = true;
    cr_assert_eq(loader_open(&lc, &l), VB_ERR_INPUT);
    lc.train = false, lc.aug.enabled = false;
    cr_assert_eq(loader_open(&lc, &l), VB_OK, "%s", vb_errmsg());
    const Batch *b = loader_next(l);
    cr_assert_eq(b->c, 1);
    cr_assert_eq(b->n, 3);
    for (int i = 0; i < 3; i++) {
        const uint8_t *f = dataset_frame(&ds, b->video[i], 0);
        for (int p = 0; p < 25; p++) cr_assert_float_eq(b->x[i * 25 + p], f[p] / 255.0f, 1e-7);
    }
    loader_close(l);
    clips_free(&cs);
    dataset_free(&ds);
}

Test(data_grey, probe_features_of_grey_frames_equal_their_rgb_copies) {
    Dataset g, rgb;
    small_set(&g, 10, 16, 1);
    small_set(&rgb, 10, 16, 3);
    double *fg = probe_features(&g), *fr = probe_features(&rgb);
    cr_assert_not_null(fg);
    cr_assert_not_null(fr);
    ProbeResult a, b;
    uint32_t fit[5] = {0, 1, 2, 3, 4}, score[5] = {5, 6, 7, 8, 9};
    ProbeSelect sel = {fit, 5, score, 5, NULL};
    cr_assert_eq(probe_run_features(&g, fg, &sel, 1.0, &a), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(probe_run_features(&rgb, fr, &sel, 1.0, &b), VB_OK, "%s", vb_errmsg());
    int defined = 0;
    for (int s = 0; s < PROBE_NSETS; s++) {
        cr_assert_eq(a.set[s].defined, b.set[s].defined);
        if (!a.set[s].defined) continue;
        defined++;
        cr_assert(a.set[s].auroc_all == b.set[s].auroc_all ||
                      (isnan(a.set[s].auroc_all) && isnan(b.set[s].auroc_all)),
                  "%s: %g vs %g", probe_set_names[s], a.set[s].auroc_all, b.set[s].auroc_all);
        cr_assert(a.set[s].accuracy == b.set[s].accuracy ||
                  (isnan(a.set[s].accuracy) && isnan(b.set[s].accuracy)));
    }
    cr_assert(defined >= 2, "only %d probe sets ran", defined);
    probe_free(&a), probe_free(&b);
    free(fg), free(fr);
    dataset_free(&g), dataset_free(&rgb);
}
