/* rundata: data sets, splits, clips and loaders for runs. */
#include "harness/run/rundata.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/fmnist.h"
#include "datasets/synth.h"
#include "datasets/ucf.h"
#include "harness/experiment/experiment.h"

char *rundata_identity(const DataConfig *d) {
    json_t *j = json_pack("{s:s, s:s, s:i, s:b}", "source", data_source_names[d->source], "normal",
                          d->normal_class, "size", d->size, "skip_bad", d->skip_bad);
    if (d->source == DATA_SYNTHETIC) {
        json_object_set_new(j, "videos", json_integer(d->videos_per_class));
        json_object_set_new(j, "test_videos", json_integer(d->test_videos_per_class));
        json_object_set_new(j, "normal_factor", json_integer(d->normal_factor));
        json_object_set_new(j, "frames", json_integer(d->frames_per_video));
        json_object_set_new(j, "seed", json_integer(d->data_seed));
    } else {
        json_object_set_new(j, "path", json_string(d->path));
        if (d->limit) json_object_set_new(j, "limit", json_integer(d->limit));
    }
    if (d->channels != 3) json_object_set_new(j, "channels", json_integer(d->channels));
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    return s;
}

/* What a reader skipped or discarded is printed, never silent: bad entries
 * (dataset.skip_bad), damage, a discarded frame cache, removed temporary
 * files, and classes left without Train or Test videos. */
void rundata_print_notes(const Dataset *ds, const char *cache_note, int orphans) {
    const char *src = ds->source ? ds->source : "the data set";
    if (ds->skipped)
        fprintf(stderr, "vadbench: warning: %s: %llu bad entr%s skipped (dataset.skip_bad)\n", src,
                (unsigned long long)ds->skipped, ds->skipped == 1 ? "y" : "ies");
    if (ds->warning[0]) fprintf(stderr, "vadbench: warning: %s\n", ds->warning);
    if (cache_note && cache_note[0]) fprintf(stderr, "vadbench: warning: %s\n", cache_note);
    if (orphans > 0)
        fprintf(stderr, "vadbench: removed %d temporary cache file%s left by killed processes\n",
                orphans, orphans == 1 ? "" : "s");
    if (ds->nclasses <= 0 || ds->nclasses > DS_MAX_CLASSES) return;
    uint64_t tv[DS_MAX_CLASSES], te[DS_MAX_CLASSES], fr[DS_MAX_CLASSES];
    dataset_counts(ds, DS_TRAIN, tv, fr);
    dataset_counts(ds, DS_TEST, te, fr);
    for (int c = 0; c < ds->nclasses; c++)
        if (!tv[c] != !te[c])
            fprintf(stderr, "vadbench: warning: %s: class %s has no %s videos\n", src,
                    ds->classes[c], tv[c] ? "Test" : "Train");
}

int rundata_classes_missing_a_split(const Dataset *ds) {
    if (ds->nclasses <= 0 || ds->nclasses > DS_MAX_CLASSES) return 0;
    uint64_t tv[DS_MAX_CLASSES], te[DS_MAX_CLASSES], fr[DS_MAX_CLASSES];
    dataset_counts(ds, DS_TRAIN, tv, fr);
    dataset_counts(ds, DS_TEST, te, fr);
    int n = 0;
    for (int c = 0; c < ds->nclasses; c++) n += !tv[c] != !te[c];
    return n;
}

/* The frames a model of dataset.size pixels reads must be that size: any
 * other size would be read out of bounds or as garbage. */
static VbStatus rundata_check_frames(const DataConfig *d, Dataset *ds) {
    if (ds->frames.h == d->size && ds->frames.w == d->size) return VB_OK;
    VbStatus st = vb_fail_plain(VB_ERR_INPUT, "%s: frames are %dx%d, dataset.size is %d",
                                ds->source ? ds->source : data_source_names[d->source],
                                ds->frames.w, ds->frames.h, d->size);
    dataset_free(ds);
    return st;
}

VbStatus rundata_load(const DataConfig *d, Dataset *ds) {
    dataset_init(ds);
    if (d->source == DATA_SYNTHETIC) {
        SynthConfig sc;
        synth_defaults(&sc);
        sc.videos_per_class = d->videos_per_class;
        sc.test_videos_per_class = d->test_videos_per_class;
        sc.normal_factor = d->normal_factor;
        sc.frames = d->frames_per_video;
        sc.size = d->size;
        sc.seed = (uint64_t)d->data_seed;
        VB_TRY(synth_check(&sc));
        VB_TRY(synth_generate(&sc, ds));
    } else if (d->source == DATA_UCF_CRIME) {
        const char *path = d->path[0] ? d->path : getenv("VADBENCH_UCF_CRIME");
        if (!path || !*path)
            return vb_fail_plain(
                VB_ERR_INPUT, "dataset.source ucf_crime needs dataset.path or $VADBENCH_UCF_CRIME "
                              "(the 64x64 PNG export, a directory or an archive)");
        UcfOptions o;
        ucf_defaults(&o);
        o.normal = d->normal_class;
        o.skip_bad = d->skip_bad;
        o.expect_size = d->size; /* the model's input: refused before anything is decoded */
        UcfReport rep;
        VbStatus st = ucf_read(path, &o, ds, &rep);
        if (st != VB_OK)
            return vb_wrap(st,
                           "reading the UCF-Crime data set (dataset.path or $VADBENCH_UCF_CRIME)");
        rundata_print_notes(ds, rep.cache_note, rep.orphans_removed);
    } else {
        FmnistOptions o;
        fmnist_defaults(&o);
        if (d->path[0]) o.dir = d->path;
        o.size = d->size;
        if (strcmp(d->normal_class, "NormalVideos") != 0) o.normal = d->normal_class;
        o.limit = d->limit;
        o.channels = d->channels;
        VB_TRY(fmnist_read(&o, ds));
    }
    if (d->source != DATA_FASHION_MNIST && d->channels != 3) {
        dataset_free(ds);
        return vb_fail_plain(
            VB_ERR_INPUT, "dataset.channels %d: only fashion_mnist has grey frames", d->channels);
    }
    if (d->source == DATA_SYNTHETIC || d->source == DATA_UCF_CRIME) {
        VbStatus st = dataset_set_normal(ds, d->normal_class);
        if (st != VB_OK) {
            dataset_free(ds);
            return st;
        }
    }
    return rundata_check_frames(d, ds);
}

VbStatus celldata_open(const Dataset *ds, const RunConfig *rc, const Holdout *h, uint64_t seed,
                       CellData *cd) {
    memset(cd, 0, sizeof *cd);
    const DataConfig *d = &rc->data;
    SplitConfig sc;
    split_defaults(&sc);
    sc.val_fraction = d->val_fraction;
    sc.seed = seed;
    const char *names[EXP_MAX_CLASSES];
    for (int i = 0; i < h->n; i++) names[i] = h->classes[i];
    sc.holdout = names;
    sc.nholdout = h->n;
    sc.protocol = d->protocol;
    VB_TRY(split_make(ds, &sc, &cd->split));
    /* model classes: the classes seen in training, in data-set order */
    for (int c = 0; c < ds->nclasses; c++) {
        cd->class_map[c] = split_is_unseen(&cd->split, c) ? -1 : cd->nmodel++;
        if (c == ds->normal) cd->normal_model = cd->class_map[c];
    }
    ClipSpec spec = {d->clip_frames, d->clip_stride, d->clip_window};
    VbStatus st = VB_OK;
    for (int p = 0; p < 3 && st == VB_OK; p++)
        st = clips_build(ds, cd->split.videos[p], cd->split.n[p], spec, &cd->clips[p]);
    if (st == VB_OK && cd->clips[SPLIT_TRAIN].n < (size_t)rc->train.batch_size)
        st = vb_fail_plain(VB_ERR_INPUT,
                           "the training split has %zu clips, fewer than train.batch_size %d",
                           cd->clips[SPLIT_TRAIN].n, rc->train.batch_size);
    if (st == VB_OK && cd->clips[SPLIT_VAL].n == 0)
        st = vb_fail_plain(VB_ERR_INPUT, "the validation split is empty (dataset.val_fraction %g)",
                           d->val_fraction);
    if (st == VB_OK && cd->clips[SPLIT_TEST].n == 0)
        st = vb_fail_plain(VB_ERR_INPUT, "the data set has no Test videos");
    if (st == VB_OK) {
        cd->train_clips = cd->clips[SPLIT_TRAIN].n;
        for (size_t i = 0; i < cd->clips[SPLIT_TRAIN].n; i++) {
            int c = ds->videos[cd->clips[SPLIT_TRAIN].clips[i].video].cls;
            if (cd->class_map[c] >= 0) cd->counts[cd->class_map[c]]++;
        }
    }
    PrepConfig prep = {d->preprocess, 0.0f, 1.0f};
    if (st == VB_OK && d->preprocess == PREP_GCN_L1_MINMAX &&
        prep_gcn_range(ds, &cd->clips[SPLIT_TRAIN], ds->normal, &prep.lo, &prep.hi) == 0)
        st = vb_fail_plain(VB_ERR_INPUT,
                           "dataset.preprocess gcn_l1_minmax: no normal training images to take "
                           "the range from");
    cd->prep = prep;
    int eval_b =
        rc->eval.batch_size < rc->train.batch_size ? rc->eval.batch_size : rc->train.batch_size;
    for (int which = 0; which < 4 && st == VB_OK; which++) {
        LoaderConfig lc;
        loader_defaults(&lc);
        lc.ds = ds;
        lc.split = &cd->split;
        lc.seed = seed;
        lc.workers = d->workers;
        bool train = which == 0;
        lc.clips = &cd->clips[which <= 1 ? SPLIT_TRAIN : which == 2 ? SPLIT_VAL : SPLIT_TEST];
        lc.train = train;
        lc.batch = train ? rc->train.batch_size : eval_b;
        lc.drop_last = train;
        lc.weights = rc->train.sampler;
        lc.aug.enabled = train && rc->train.augment;
        lc.prep = prep;
        Loader **out = which == 0   ? &cd->train
                       : which == 1 ? &cd->train_eval
                       : which == 2 ? &cd->val
                                    : &cd->test;
        st = loader_open(&lc, out);
    }
    if (st != VB_OK) celldata_close(cd);
    return st;
}

void celldata_close(CellData *cd) {
    loader_close(cd->train);
    loader_close(cd->train_eval);
    loader_close(cd->val);
    loader_close(cd->test);
    for (int p = 0; p < 3; p++) clips_free(&cd->clips[p]);
    split_free(&cd->split);
    memset(cd, 0, sizeof *cd);
}
