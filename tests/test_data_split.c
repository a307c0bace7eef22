/* Tests of video-level splits: disjointness, holdouts, stratification,
 * seeding, leave-one-out, the one-class protocol, and clip windows. */
#include "testutil.h"

#include <math.h>

#include "datasets/clips.h"
#include "datasets/split.h"
#include "datasets/synth.h"

static void make_set(Dataset *ds, int per_class) {
    SynthConfig c;
    synth_defaults(&c);
    c.videos_per_class = per_class, c.test_videos_per_class = 2, c.normal_factor = 3;
    c.frames = 2, c.size = 16, c.seed = 5;
    cr_assert_eq(synth_generate(&c, ds), VB_OK, "%s", vb_errmsg());
}

/* part of every video, -1 when in none; fails on a video in two parts */
static void parts_of(const Dataset *ds, const Split *s, int *part) {
    for (size_t v = 0; v < ds->nvideos; v++) part[v] = -1;
    for (int p = 0; p < 3; p++)
        for (size_t i = 0; i < s->n[p]; i++) {
            uint32_t v = s->videos[p][i];
            cr_assert(part[v] == -1, "video %s in %s and %s", ds->videos[v].id,
                      split_part_name((SplitPart)part[v]), split_part_name((SplitPart)p));
            part[v] = p;
        }
}

Test(data_split, disjoint_complete_and_stratified) {
    Dataset ds;
    make_set(&ds, 10);
    SplitConfig c;
    split_defaults(&c);
    c.val_fraction = 0.25, c.seed = 1;
    Split s;
    cr_assert_eq(split_make(&ds, &c, &s), VB_OK, "%s", vb_errmsg());
    int part[1024];
    parts_of(&ds, &s, part);
    int val[DS_MAX_CLASSES] = {0}, train[DS_MAX_CLASSES] = {0};
    for (size_t v = 0; v < ds.nvideos; v++) {
        const DsVideo *d = &ds.videos[v];
        if (d->split == DS_TEST) cr_assert_eq(part[v], SPLIT_TEST, "%s", d->id);
        else cr_assert(part[v] == SPLIT_TRAIN || part[v] == SPLIT_VAL, "%s", d->id);
        if (part[v] == SPLIT_VAL) val[d->cls]++;
        if (part[v] == SPLIT_TRAIN) train[d->cls]++;
    }
    for (int k = 0; k < ds.nclasses; k++) { /* round(0.25 n) of each class */
        int n = val[k] + train[k];
        cr_assert_eq(val[k], (int)llround(0.25 * n), "%s: %d of %d", ds.classes[k], val[k], n);
    }
    for (int p = 0; p < 3; p++)
        for (size_t i = 1; i < s.n[p]; i++) cr_assert(s.videos[p][i - 1] < s.videos[p][i]);
    split_free(&s);
    dataset_free(&ds);
}

Test(data_split, seeded_and_independent_of_other_classes_holdouts) {
    Dataset ds;
    make_set(&ds, 8);
    SplitConfig c;
    split_defaults(&c);
    c.seed = 9;
    Split a, b, d, h;
    cr_assert_eq(split_make(&ds, &c, &a), VB_OK);
    cr_assert_eq(split_make(&ds, &c, &b), VB_OK);
    cr_assert_eq(a.n[SPLIT_VAL], b.n[SPLIT_VAL]);
    tu_assert_bytes_equal(a.videos[SPLIT_VAL], b.videos[SPLIT_VAL], a.n[SPLIT_VAL] * 4,
                          "same seed");
    c.seed = 10;
    cr_assert_eq(split_make(&ds, &c, &d), VB_OK);
    cr_assert(a.n[SPLIT_VAL] == d.n[SPLIT_VAL] &&
                  memcmp(a.videos[SPLIT_VAL], d.videos[SPLIT_VAL], a.n[SPLIT_VAL] * 4) != 0,
              "another seed draws other videos");
    /* holding out Arson leaves every other class's validation videos alone */
    c.seed = 9;
    const char *hold[] = {"Arson"};
    c.holdout = hold, c.nholdout = 1;
    cr_assert_eq(split_make(&ds, &c, &h), VB_OK);
    int arson = dataset_find_class(&ds, "Arson");
    size_t j = 0;
    for (size_t i = 0; i < a.n[SPLIT_VAL]; i++) {
        if (ds.videos[a.videos[SPLIT_VAL][i]].cls == arson) continue;
        cr_assert(j < h.n[SPLIT_VAL] && h.videos[SPLIT_VAL][j++] == a.videos[SPLIT_VAL][i]);
    }
    cr_assert_eq(j, h.n[SPLIT_VAL]);
    split_free(&a), split_free(&b), split_free(&d), split_free(&h);
    dataset_free(&ds);
}

Test(data_split, holdout_classes_absent_from_train_and_val_present_in_test) {
    Dataset ds;
    make_set(&ds, 4);
    SplitConfig c;
    split_defaults(&c);
    const char *hold[] = {"Explosion", "Stealing"};
    c.holdout = hold, c.nholdout = 2;
    Split s;
    cr_assert_eq(split_make(&ds, &c, &s), VB_OK);
    int ex = dataset_find_class(&ds, "Explosion"), st = dataset_find_class(&ds, "Stealing");
    for (int p = 0; p < 2; p++)
        for (size_t i = 0; i < s.n[p]; i++) {
            int k = ds.videos[s.videos[p][i]].cls;
            cr_assert(k != ex && k != st, "%s in %s", ds.videos[s.videos[p][i]].id,
                      split_part_name((SplitPart)p));
        }
    int in_test = 0;
    for (size_t i = 0; i < s.n[SPLIT_TEST]; i++) {
        int k = ds.videos[s.videos[SPLIT_TEST][i]].cls;
        in_test += k == ex || k == st;
        cr_assert_eq(split_is_unseen(&s, k), k == ex || k == st);
    }
    cr_assert_eq(in_test, 4);
    split_free(&s);
    /* errors */
    const char *bad1[] = {"NormalVideos"}, *bad2[] = {"Jaywalking"};
    c.holdout = bad1, c.nholdout = 1;
    cr_assert_eq(split_make(&ds, &c, &s), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "'NormalVideos' is the normal class"), "%s", vb_errmsg());
    c.holdout = bad2;
    cr_assert_eq(split_make(&ds, &c, &s), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "'Jaywalking' is not in the data"), "%s", vb_errmsg());
    c.nholdout = 0, c.val_fraction = 1.0;
    cr_assert_eq(split_make(&ds, &c, &s), VB_ERR_INPUT);
    dataset_free(&ds);
}

Test(data_split, leave_one_out_and_one_class_protocol) {
    Dataset ds;
    make_set(&ds, 3);
    const char *names[DS_MAX_CLASSES];
    int n = split_leave_one_out(&ds, names, DS_MAX_CLASSES);
    cr_assert_eq(n, 13);
    for (int i = 0; i < n; i++) cr_assert_str_neq(names[i], "NormalVideos");
    cr_assert_str_eq(names[0], "Abuse");
    cr_assert_str_eq(names[12], "Vandalism");
    SplitConfig c;
    split_defaults(&c);
    c.protocol = SPLIT_ONE_CLASS;
    Split s;
    cr_assert_eq(split_make(&ds, &c, &s), VB_OK);
    for (int p = 0; p < 2; p++)
        for (size_t i = 0; i < s.n[p]; i++) cr_assert_eq(ds.videos[s.videos[p][i]].cls, ds.normal);
    cr_assert_eq(s.n[SPLIT_TRAIN] + s.n[SPLIT_VAL], 9);
    cr_assert_eq(s.n[SPLIT_TEST], 14 * 2 + 4);
    for (int k = 0; k < ds.nclasses; k++) cr_assert_eq(split_is_unseen(&s, k), k != ds.normal);
    split_free(&s);
    dataset_free(&ds);
}

Test(data_split, clip_windows_stride_and_short_videos) {
    Dataset ds;
    dataset_init(&ds);
    int c = dataset_class_index(&ds, "NormalVideos");
    dataset_add_video(&ds, "a", c, DS_TRAIN, 10, 0);
    dataset_add_video(&ds, "b", c, DS_TRAIN, 3, 10);
    cr_assert_eq(dataset_frames_alloc(&ds, 13, 2, 2), VB_OK);
    for (int f = 0; f < 13; f++) ds.frames.data[f * 12] = (uint8_t)f;
    cr_assert_eq(dataset_finish(&ds, NULL), VB_OK);
    uint32_t vids[2] = {0, 1};
    ClipSet cs;
    ClipSpec spec = {4, 2, 3}; /* span 7: starts 0, 3 in a; b is short */
    cr_assert_eq(clips_build(&ds, vids, 2, spec, &cs), VB_OK);
    cr_assert_eq(cs.n, 3);
    cr_assert(cs.clips[0].start == 0 && cs.clips[1].start == 3 && cs.clips[2].video == 1);
    cr_assert_eq(clips_frame(&ds, &cs, 1, 3)[0], 9); /* 3 + 3*2 */
    cr_assert_eq(clips_frame(&ds, &cs, 2, 0)[0], 10);
    cr_assert_eq(clips_frame(&ds, &cs, 2, 3)[0], 12, "clamped to the last frame");
    clips_free(&cs);
    cr_assert_eq(clips_build(&ds, vids, 2, clips_spec(1), &cs), VB_OK);
    cr_assert_eq(cs.n, 13, "T=1: every frame");
    clips_free(&cs);
    ClipSpec bad = {0, 1, 1};
    cr_assert_eq(clips_build(&ds, vids, 2, bad, &cs), VB_ERR_INPUT);
    dataset_free(&ds);
}
