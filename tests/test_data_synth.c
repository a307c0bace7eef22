/* Tests of the synthetic surveillance-video generator and the Dataset
 * model: layout, determinism (reruns, thread counts, independence of a
 * video from the number of others), class signatures, range checks. */
#include "testutil.h"

#include <omp.h>

#include "datasets/synth.h"

static void small_config(SynthConfig *c) {
    synth_defaults(c);
    c->videos_per_class = 2;
    c->test_videos_per_class = 1;
    c->normal_factor = 2;
    c->frames = 6;
    c->size = 32;
    c->seed = 11;
}

Test(data_synth, layout_classes_ids_and_counts) {
    SynthConfig c;
    small_config(&c);
    Dataset ds;
    cr_assert_eq(synth_generate(&c, &ds), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(ds.nclasses, 14);
    for (int k = 1; k < 14; k++) cr_assert(strcmp(ds.classes[k - 1], ds.classes[k]) < 0);
    cr_assert_str_eq(ds.classes[ds.normal], "NormalVideos");
    cr_assert_eq(ds.normal, 7);
    /* 13 anomaly classes x (2 + 1) + NormalVideos x (4 + 2) */
    cr_assert_eq(ds.nvideos, (size_t)(13 * 3 + 6));
    cr_assert_eq(dataset_total_frames(&ds), (uint64_t)(13 * 3 + 6) * 6);
    uint64_t v[14], f[14];
    dataset_counts(&ds, DS_TRAIN, v, f);
    cr_assert_eq(v[0], 2);
    cr_assert_eq(v[7], 4);
    cr_assert_eq(f[7], 24);
    dataset_counts(&ds, DS_TEST, v, f);
    cr_assert_eq(v[13], 1);
    cr_assert_eq(v[7], 2);
    /* ids: <Class><NNN>_x264, numbered across Train then Test, unique */
    cr_assert_str_eq(ds.videos[0].id, "Abuse001_x264");
    for (size_t i = 0; i < ds.nvideos; i++) {
        const DsVideo *d = &ds.videos[i];
        cr_assert(strncmp(d->id, ds.classes[d->cls], strlen(ds.classes[d->cls])) == 0, "%s", d->id);
        for (size_t j = 0; j < i; j++)
            cr_assert(strcmp(ds.videos[j].id, d->id) != 0, "%s twice", d->id);
        if (d->split == DS_TEST && d->cls == 0) cr_assert_str_eq(d->id, "Abuse003_x264");
    }
    cr_assert_eq(ds.frames.h, 32);
    cr_assert_eq(strlen(ds.digest), 32u);
    dataset_free(&ds);
}

Test(data_synth, deterministic_across_runs_and_threads) {
    SynthConfig c;
    small_config(&c);
    Dataset a, b, d;
    omp_set_num_threads(1);
    cr_assert_eq(synth_generate(&c, &a), VB_OK);
    omp_set_num_threads(2);
    cr_assert_eq(synth_generate(&c, &b), VB_OK);
    cr_assert_str_eq(a.digest, b.digest);
    tu_assert_bytes_equal(a.frames.data, b.frames.data, a.frames.nframes * dataset_frame_bytes(&a),
                          "frames, 1 vs 2 threads");
    c.seed = 12;
    cr_assert_eq(synth_generate(&c, &d), VB_OK);
    cr_assert_str_neq(a.digest, d.digest);
    dataset_free(&a), dataset_free(&b), dataset_free(&d);
}

Test(data_synth, a_video_does_not_depend_on_how_many_are_generated) {
    SynthConfig c;
    small_config(&c);
    Dataset ds;
    cr_assert_eq(synth_generate(&c, &ds), VB_OK);
    c.videos_per_class = 5; /* more videos: video 1 of Fighting/Train must not change */
    size_t n = (size_t)c.frames * c.size * c.size * 3;
    uint8_t *buf = malloc(n);
    synth_render_video(&c, 6, DS_TRAIN, 1, buf);
    int v = -1;
    for (size_t i = 0; i < ds.nvideos; i++)
        if (strcmp(ds.videos[i].id, "Fighting002_x264") == 0) v = (int)i;
    cr_assert(v >= 0);
    tu_assert_bytes_equal(buf, dataset_frame(&ds, (size_t)v, 0), n, "Fighting002");
    free(buf);
    dataset_free(&ds);
}

/* mean luminance of frame t of video v */
static double frame_mean(const Dataset *ds, size_t v, uint32_t t) {
    const uint8_t *p = dataset_frame(ds, v, t);
    double s = 0;
    size_t n = dataset_frame_bytes(ds);
    for (size_t i = 0; i < n; i++) s += p[i];
    return s / (double)n;
}

Test(data_synth, class_signatures_burglary_dark_explosion_flash_arson_orange) {
    SynthConfig c;
    small_config(&c);
    c.videos_per_class = 4;
    c.frames = 12;
    Dataset ds;
    cr_assert_eq(synth_generate(&c, &ds), VB_OK);
    int burg = dataset_find_class(&ds, "Burglary"), expl = dataset_find_class(&ds, "Explosion");
    int arson = dataset_find_class(&ds, "Arson");
    double dark = 0, normal = 0;
    int nd = 0, nn = 0;
    for (size_t v = 0; v < ds.nvideos; v++) {
        const DsVideo *d = &ds.videos[v];
        double m = frame_mean(&ds, v, 0);
        if (d->cls == burg) dark += m, nd++;
        if (d->cls == ds.normal) normal += m, nn++;
        if (d->cls == expl) { /* a flash: some frame much brighter than the darkest */
            double lo = 1e9, hi = 0;
            for (uint32_t t = 0; t < d->nframes; t++) {
                double x = frame_mean(&ds, v, t);
                lo = x < lo ? x : lo, hi = x > hi ? x : hi;
            }
            cr_assert(hi - lo > 4.0, "%s: brightness range %.2f", d->id, hi - lo);
        }
        if (d->cls == arson) { /* orange pixels in the last frame, more than in the first */
            int orange[2] = {0, 0};
            for (int k = 0; k < 2; k++) {
                const uint8_t *p = dataset_frame(&ds, v, k ? d->nframes - 1 : 0);
                for (size_t i = 0; i < dataset_frame_bytes(&ds); i += 3)
                    orange[k] += p[i] > 200 && p[i] > p[i + 2] + 90 && p[i + 1] > 60;
            }
            cr_assert(orange[1] > orange[0] + 3, "%s: orange %d -> %d", d->id, orange[0],
                      orange[1]);
        }
    }
    cr_assert(dark / nd < 0.6 * (normal / nn), "burglary %.1f vs normal %.1f", dark / nd,
              normal / nn);
    dataset_free(&ds);
}

Test(data_synth, nuisance_noise_and_motion_present) {
    SynthConfig c;
    small_config(&c);
    Dataset ds;
    cr_assert_eq(synth_generate(&c, &ds), VB_OK);
    for (size_t v = 0; v < ds.nvideos; v++) { /* consecutive frames always differ */
        size_t n = dataset_frame_bytes(&ds);
        cr_assert(memcmp(dataset_frame(&ds, v, 0), dataset_frame(&ds, v, 1), n) != 0);
    }
    dataset_free(&ds);
}

Test(data_synth, config_range_errors_name_the_field) {
    SynthConfig c;
    small_config(&c);
    c.size = 8;
    Dataset ds;
    cr_assert_eq(synth_generate(&c, &ds), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "size 8") != NULL, "%s", vb_errmsg());
    small_config(&c);
    c.videos_per_class = c.test_videos_per_class = 0;
    cr_assert_eq(synth_check(&c), VB_ERR_INPUT);
    small_config(&c);
    c.frames = 0;
    cr_assert_eq(synth_check(&c), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "frames") != NULL);
}

Test(data_synth, dataset_missing_normal_class_lists_classes) {
    SynthConfig c;
    small_config(&c);
    Dataset ds;
    cr_assert_eq(synth_generate(&c, &ds), VB_OK);
    cr_assert_eq(dataset_set_normal(&ds, "Normal"), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "'Normal' not found") && strstr(vb_errmsg(), "Abuse, Arrest"),
              "%s", vb_errmsg());
    dataset_free(&ds);
}
