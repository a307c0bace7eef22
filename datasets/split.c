/* split: stratified validation draw, holdouts, one-class protocol. */
#include "split.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/rng.h"

const char *const split_protocol_names[] = {"supervised", "one-class", NULL};

void split_defaults(SplitConfig *c) {
    memset(c, 0, sizeof *c);
    c->val_fraction = 0.2;
    c->protocol = SPLIT_SUPERVISED;
}

const char *split_part_name(SplitPart p) {
    static const char *names[] = {"train", "val", "test"};
    return (unsigned)p < 3 ? names[p] : "?";
}

void split_free(Split *s) {
    for (int p = 0; p < 3; p++) free(s->videos[p]);
    memset(s, 0, sizeof *s);
}

int split_leave_one_out(const Dataset *ds, const char **names, int max) {
    int n = 0;
    for (int c = 0; c < ds->nclasses && n < max; c++)
        if (dataset_is_anomaly(ds, c)) names[n++] = ds->classes[c];
    return n;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

VbStatus split_make(const Dataset *ds, const SplitConfig *c, Split *out) {
    memset(out, 0, sizeof *out);
    if (!(c->val_fraction >= 0.0 && c->val_fraction < 1.0))
        return VB_FAIL(VB_ERR_INPUT, "validation fraction %g is outside [0, 1)", c->val_fraction);
    if (ds->normal < 0) return VB_FAIL(VB_ERR_INPUT, "the data set has no normal class");
    out->nclasses = ds->nclasses;
    for (int i = 0; i < c->nholdout; i++) {
        int k = dataset_find_class(ds, c->holdout[i]);
        if (k < 0)
            return VB_FAIL(VB_ERR_INPUT, "holdout class '%s' is not in the data", c->holdout[i]);
        if (k == ds->normal)
            return VB_FAIL(VB_ERR_INPUT,
                           "holdout class '%s' is the normal class; only anomaly "
                           "classes can be held out",
                           c->holdout[i]);
        out->unseen[k] = true;
    }
    if (c->protocol == SPLIT_ONE_CLASS)
        for (int k = 0; k < ds->nclasses; k++) out->unseen[k] = k != ds->normal;
    for (int p = 0; p < 3; p++) out->videos[p] = vb_xmalloc(sizeof(uint32_t) * (ds->nvideos + 1));
    uint32_t *pool = vb_xmalloc(sizeof(uint32_t) * (ds->nvideos + 1));
    RngStream base = rng_stream(c->seed, "split");
    for (int k = 0; k < ds->nclasses; k++) {
        size_t n = 0;
        for (size_t v = 0; v < ds->nvideos; v++)
            if (ds->videos[v].cls == k && ds->videos[v].split == DS_TRAIN) pool[n++] = (uint32_t)v;
        if (out->unseen[k] || n == 0) continue;
        /* Fisher-Yates on the class's stream (keyed by its name) */
        RngStream s = rng_substream(base, dataset_hash(ds->classes[k], strlen(ds->classes[k]), 0));
        for (size_t i = n - 1; i > 0; i--) {
            size_t j = (size_t)rng_below(s, 0, i, i + 1);
            uint32_t t = pool[i];
            pool[i] = pool[j], pool[j] = t;
        }
        size_t nval = (size_t)llround(c->val_fraction * (double)n);
        if (c->val_fraction > 0 && nval == 0 && n >= 2) nval = 1;
        if (nval >= n) nval = n - 1; /* keep at least one training video */
        for (size_t i = 0; i < n; i++) {
            int p = i < nval ? SPLIT_VAL : SPLIT_TRAIN;
            out->videos[p][out->n[p]++] = pool[i];
        }
    }
    free(pool);
    for (size_t v = 0; v < ds->nvideos; v++)
        if (ds->videos[v].split == DS_TEST)
            out->videos[SPLIT_TEST][out->n[SPLIT_TEST]++] = (uint32_t)v;
    for (int p = 0; p < 2; p++) qsort(out->videos[p], out->n[p], sizeof(uint32_t), cmp_u32);
    if (out->n[SPLIT_TRAIN] == 0) {
        split_free(out);
        return VB_FAIL(VB_ERR_INPUT, "no training videos are left after the holdout");
    }
    return VB_OK;
}
