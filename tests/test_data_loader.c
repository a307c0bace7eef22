/* Tests of augmentation and the loader: determinism (same seed same
 * bytes, 1 vs 2 worker threads, resumed from a saved position), identical
 * parameters for every frame of a clip, normalisation, samplers. */
#include "testutil.h"

#include <math.h>

#include "datasets/loader.h"
#include "datasets/synth.h"

static void make_set(Dataset *ds) {
    SynthConfig c;
    synth_defaults(&c);
    c.videos_per_class = 2, c.test_videos_per_class = 1, c.normal_factor = 3;
    c.frames = 4, c.size = 32, c.seed = 2;
    cr_assert_eq(synth_generate(&c, ds), VB_OK, "%s", vb_errmsg());
}

static void train_clips(const Dataset *ds, int T, ClipSet *cs) {
    uint32_t *v = malloc(sizeof(uint32_t) * ds->nvideos);
    size_t n = 0;
    for (size_t i = 0; i < ds->nvideos; i++)
        if (ds->videos[i].split == DS_TRAIN) v[n++] = (uint32_t)i;
    ClipSpec spec = {T, 1, 1};
    cr_assert_eq(clips_build(ds, v, n, spec, cs), VB_OK);
    free(v);
}

/* Run `nb` batches and return a copy of all x and labels. */
static float *run(LoaderConfig *c, int nb, size_t *floats) {
    Loader *l;
    cr_assert_eq(loader_open(c, &l), VB_OK, "%s", vb_errmsg());
    size_t per = (size_t)c->batch * c->clips->spec.T * c->ds->frames.h * c->ds->frames.w * 3;
    float *all = calloc((size_t)nb * (per + (size_t)c->batch), sizeof(float));
    for (int i = 0; i < nb; i++) {
        const Batch *b = loader_next(l);
        float *dst = all + (size_t)i * (per + (size_t)c->batch);
        memcpy(dst, b->x, sizeof(float) * (size_t)b->n * per / (size_t)c->batch);
        for (int k = 0; k < b->n; k++) dst[per + (size_t)k] = (float)b->clip[k];
    }
    loader_close(l);
    *floats = (size_t)nb * (per + (size_t)c->batch);
    return all;
}

Test(data_loader, same_seed_same_bytes_for_0_1_2_workers_across_epochs) {
    Dataset ds;
    make_set(&ds);
    ClipSet cs;
    train_clips(&ds, 2, &cs);
    LoaderConfig c;
    loader_defaults(&c);
    c.ds = &ds, c.clips = &cs, c.batch = 8, c.seed = 42;
    Loader *l;
    cr_assert_eq(loader_open(&c, &l), VB_OK);
    int nb = (int)loader_batches_per_epoch(l) + 3; /* into the second epoch */
    loader_close(l);
    size_t n0, n1, n2, n3;
    c.workers = 0;
    float *a = run(&c, nb, &n0);
    c.workers = 1;
    float *b = run(&c, nb, &n1);
    c.workers = 2, c.prefetch = 3;
    float *d = run(&c, nb, &n2);
    tu_assert_bytes_equal(a, b, n0 * sizeof(float), "0 vs 1 worker");
    tu_assert_bytes_equal(a, d, n0 * sizeof(float), "0 vs 2 workers");
    c.seed = 43;
    float *e = run(&c, nb, &n3);
    cr_assert(memcmp(a, e, n0 * sizeof(float)) != 0, "another seed, other batches");
    free(a), free(b), free(d), free(e);
    clips_free(&cs);
    dataset_free(&ds);
}

Test(data_loader, resume_from_a_saved_position_matches_straight_run) {
    Dataset ds;
    make_set(&ds);
    ClipSet cs;
    train_clips(&ds, 1, &cs);
    LoaderConfig c;
    loader_defaults(&c);
    c.ds = &ds, c.clips = &cs, c.batch = 16, c.seed = 7, c.weights = SAMPLER_NONE;
    Loader *l, *m;
    cr_assert_eq(loader_open(&c, &l), VB_OK);
    cr_assert_eq(loader_open(&c, &m), VB_OK);
    uint64_t nb = loader_batches_per_epoch(l);
    size_t bytes = (size_t)16 * 32 * 32 * 3 * sizeof(float);
    float *saved = malloc(bytes);
    LoaderPos pos = {0, 0};
    for (uint64_t i = 0; i < nb + 2; i++) {
        if (i == nb - 1) pos = loader_position(l);
        const Batch *b = loader_next(l);
        if (i == nb - 1) memcpy(saved, b->x, bytes);
    }
    cr_assert_eq(pos.epoch, 0);
    cr_assert_eq(pos.batch, nb - 1);
    LoaderPos end = loader_position(l);
    cr_assert(end.epoch == 1 && end.batch == 2);
    LoaderPos bad = {0, nb};
    cr_assert_eq(loader_seek(m, bad), VB_ERR_INPUT);
    cr_assert_eq(loader_seek(m, pos), VB_OK);
    const Batch *b = loader_next(m);
    cr_assert(b->epoch == 0 && b->index == nb - 1);
    tu_assert_bytes_equal(saved, b->x, bytes, "resumed batch");
    loader_close(l), loader_close(m);
    free(saved);
    clips_free(&cs);
    dataset_free(&ds);
}

Test(data_loader, shuffle_is_a_fresh_permutation_each_epoch) {
    Dataset ds;
    make_set(&ds);
    ClipSet cs;
    train_clips(&ds, 1, &cs);
    LoaderConfig c;
    loader_defaults(&c);
    c.ds = &ds, c.clips = &cs, c.weights = SAMPLER_NONE, c.workers = 0;
    Loader *l;
    cr_assert_eq(loader_open(&c, &l), VB_OK);
    uint8_t *seen = calloc(cs.n, 1);
    int same = 0;
    for (uint64_t j = 0; j < cs.n; j++) {
        uint64_t k = loader_sample(l, 0, j);
        cr_assert(k < cs.n && !seen[k], "epoch 0 position %llu", (unsigned long long)j);
        seen[k] = 1;
        same += k == loader_sample(l, 1, j);
    }
    cr_assert(same < (int)cs.n / 4, "%d of %zu positions unchanged between epochs", same, cs.n);
    loader_close(l);
    free(seen);
    clips_free(&cs);
    dataset_free(&ds);
}

Test(data_loader, weighted_sampling_balances_classes) {
    Dataset ds;
    make_set(&ds); /* NormalVideos has 3x the clips of each anomaly class */
    ClipSet cs;
    train_clips(&ds, 1, &cs);
    LoaderConfig c;
    loader_defaults(&c);
    c.ds = &ds, c.clips = &cs, c.workers = 0, c.weights = SAMPLER_INV_COUNT;
    Loader *l;
    cr_assert_eq(loader_open(&c, &l), VB_OK);
    int hits[DS_MAX_CLASSES] = {0}, draws = 0;
    for (uint64_t e = 0; e < 40; e++)
        for (uint64_t j = 0; j < cs.n; j++, draws++)
            hits[ds.videos[cs.clips[loader_sample(l, e, j)].video].cls]++;
    /* 14 classes, equal total weight each: 1/14 of the draws +- 4 sigma */
    double p = 1.0 / 14, sd = sqrt(draws * p * (1 - p));
    for (int k = 0; k < 14; k++)
        cr_assert(fabs(hits[k] - draws * p) < 4 * sd, "%s: %d of %d", ds.classes[k], hits[k],
                  draws);
    loader_close(l);
    clips_free(&cs);
    dataset_free(&ds);
}

Test(data_loader, evaluation_in_order_normalised_with_labels) {
    Dataset ds;
    make_set(&ds);
    uint32_t *v = malloc(sizeof(uint32_t) * ds.nvideos);
    size_t n = 0;
    for (size_t i = 0; i < ds.nvideos; i++)
        if (ds.videos[i].split == DS_TEST) v[n++] = (uint32_t)i;
    ClipSet cs;
    cr_assert_eq(clips_build(&ds, v, n, clips_spec(1), &cs), VB_OK);
    SplitConfig sc;
    split_defaults(&sc);
    const char *hold[] = {"Robbery"};
    sc.holdout = hold, sc.nholdout = 1;
    Split sp;
    cr_assert_eq(split_make(&ds, &sc, &sp), VB_OK);
    LoaderConfig c;
    loader_defaults(&c);
    c.ds = &ds, c.clips = &cs, c.split = &sp, c.train = false, c.batch = 7;
    Loader *l;
    cr_assert_eq(loader_open(&c, &l), VB_OK);
    uint64_t nb = loader_batches_per_epoch(l);
    cr_assert_eq(nb, (cs.n + 6) / 7);
    size_t k = 0;
    static const float mean[3] = {0.485f, 0.456f, 0.406f}, sd[3] = {0.229f, 0.224f, 0.225f};
    for (uint64_t i = 0; i < nb; i++) {
        const Batch *b = loader_next(l);
        cr_assert_eq(b->n, i + 1 < nb ? 7 : (int)(cs.n - 7 * (nb - 1)));
        for (int j = 0; j < b->n; j++, k++) {
            cr_assert_eq(b->clip[j], k, "in order");
            const uint8_t *px = clips_frame(&ds, &cs, k, 0);
            for (int q = 0; q < 30; q++) {
                float want = ((float)px[q] * (1.0f / 255.0f) - mean[q % 3]) / sd[q % 3];
                cr_assert_float_eq(b->x[(size_t)j * 32 * 32 * 3 + q], want, 1e-6);
            }
            int cls = ds.videos[b->video[j]].cls;
            cr_assert_eq(b->cls[j], cls);
            cr_assert_eq(b->anomaly[j], cls != ds.normal);
            cr_assert_eq(b->unseen[j], strcmp(ds.classes[cls], "Robbery") == 0);
        }
    }
    cr_assert_eq(k, cs.n);
    loader_close(l);
    split_free(&sp);
    clips_free(&cs);
    free(v);
    dataset_free(&ds);
}

Test(data_loader, augmentation_same_params_on_every_frame_and_pure_function_of_index) {
    enum { H = 24, W = 20 };
    uint8_t img[H * W * 3];
    for (int i = 0; i < H * W * 3; i++) img[i] = (uint8_t)((i * 37) % 251);
    const uint8_t *frames[3] = {img, img, img};
    AugConfig cfg;
    augment_defaults(&cfg);
    cfg.p_noise = 0; /* noise is the one thing meant to differ between frames */
    cfg.p_hflip = cfg.p_vflip = cfg.p_rotate = cfg.p_shift_scale = cfg.p_jitter = cfg.p_blur =
        cfg.p_dropout = 1.0f;
    RngStream s = rng_stream(1, "augment");
    float out[3 * H * W * 3], again[3 * H * W * 3], scratch[2 * H * W * 3];
    size_t fb = H * W * 3;
    for (uint64_t sample = 0; sample < 20; sample++) {
        AugParams p, q;
        augment_draw(&cfg, s, 3, sample, H, W, &p);
        augment_draw(&cfg, s, 3, sample, H, W, &q);
        cr_assert(memcmp(&p, &q, sizeof p) == 0);
        cr_assert(p.warp && p.jitter && p.blur && p.holes >= 1 && p.holes <= 8);
        augment_clip(&p, s, 3, sample, frames, 3, H, W, out, scratch);
        tu_assert_bytes_equal(out, out + fb, fb * sizeof(float), "frame 0 vs 1");
        tu_assert_bytes_equal(out, out + 2 * fb, fb * sizeof(float), "frame 0 vs 2");
        augment_clip(&q, s, 3, sample, frames, 3, H, W, again, scratch);
        tu_assert_bytes_equal(out, again, sizeof out, "recomputed");
        for (size_t i = 0; i < 3 * fb; i++) cr_assert(isfinite(out[i]));
    }
    /* noise: fresh per frame, reproducible */
    augment_defaults(&cfg);
    cfg.p_noise = 1.0f;
    AugParams p;
    augment_draw(&cfg, s, 0, 5, H, W, &p);
    augment_clip(&p, s, 0, 5, frames, 2, H, W, out, scratch);
    augment_clip(&p, s, 0, 5, frames, 2, H, W, again, scratch);
    cr_assert(memcmp(out, out + fb, fb * sizeof(float)) != 0);
    tu_assert_bytes_equal(out, again, 2 * fb * sizeof(float), "noise reproducible");
    /* flips alone are exact */
    memset(&p, 0, sizeof p);
    p.scale = 1, p.hflip = true;
    augment_clip(&p, s, 0, 0, frames, 1, H, W, out, scratch);
    augment_clip(NULL, s, 0, 0, frames, 1, H, W, again, scratch);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int c = 0; c < 3; c++)
                cr_assert_eq(out[(y * W + x) * 3 + c], again[(y * W + (W - 1 - x)) * 3 + c]);
    /* disabled: no parameters at all */
    cfg.enabled = false;
    augment_draw(&cfg, s, 0, 0, H, W, &p);
    cr_assert(!p.warp && !p.hflip && !p.jitter && !p.noise && p.holes == 0);
}

/* Blur alone against a direct 2D sum in double: a Gaussian of k taps
 * (weights exp(-i^2 / 2 sigma^2), normalised), reflect-101 borders; an
 * impulse on the border row and a ramp, every pixel and channel. */
static int refl101(int i, int n) {
    while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
    return i;
}

Test(data_loader, blur_is_a_separable_gaussian_with_reflect101_borders) {
    enum { H = 9, W = 7 };
    uint8_t img[H * W * 3];
    for (int i = 0; i < H * W * 3; i++) img[i] = (uint8_t)((i * 53) % 200);
    img[(0 * W + 3) * 3 + 0] = 255;
    const uint8_t *frames[1] = {img};
    float out[H * W * 3], scratch[2 * H * W * 3];
    static const float MEAN[3] = {0.485f, 0.456f, 0.406f}, STD[3] = {0.229f, 0.224f, 0.225f};
    RngStream s = rng_stream(1, "augment");
    for (int k = 3; k <= 5; k += 2)
        for (int trial = 0; trial < 2; trial++) {
            float sigma = trial ? 2.5f : 0.7f;
            AugParams p;
            memset(&p, 0, sizeof p);
            p.scale = 1, p.blur = true, p.ksize = k, p.sigma = sigma;
            augment_clip(&p, s, 0, 0, frames, 1, H, W, out, scratch);
            double wt[5], sum = 0;
            int r = k / 2;
            for (int i = -r; i <= r; i++)
                sum += wt[i + r] = exp(-(double)(i * i) / (2.0 * sigma * sigma));
            for (int i = 0; i < k; i++) wt[i] /= sum;
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++)
                    for (int c = 0; c < 3; c++) {
                        double want = 0;
                        for (int i = -r; i <= r; i++)
                            for (int j = -r; j <= r; j++)
                                want += wt[i + r] * wt[j + r] *
                                        img[(refl101(y + i, H) * W + refl101(x + j, W)) * 3 + c] /
                                        255.0;
                        double got = out[(y * W + x) * 3 + c] * STD[c] + MEAN[c];
                        cr_assert(fabs(got - want) < 2e-6, "k %d sigma %g (%d,%d,%d): %g vs %g", k,
                                  sigma, y, x, c, got, want);
                    }
        }
}

Test(data_loader, open_errors) {
    Dataset ds;
    make_set(&ds);
    ClipSet cs;
    train_clips(&ds, 1, &cs);
    LoaderConfig c;
    loader_defaults(&c);
    c.ds = &ds, c.clips = &cs, c.batch = (int)cs.n + 1;
    Loader *l;
    cr_assert_eq(loader_open(&c, &l), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "do not fill one batch"), "%s", vb_errmsg());
    c.batch = 0;
    cr_assert_eq(loader_open(&c, &l), VB_ERR_INPUT);
    clips_free(&cs);
    dataset_free(&ds);
}
