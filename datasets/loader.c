/* loader: samplers (identity, Feistel permutation, weighted draws), batch
 * filling, and a ring of prefetched batches filled by pthread workers. */
#include "loader.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

const char *const sampler_weights_names[] = {"none", "inverse", "sqrt", NULL};

enum { SLOT_EMPTY, SLOT_FILLING, SLOT_READY };

typedef struct Slot {
    Batch b;
    uint64_t g;
    int state;
} Slot;

struct Loader {
    LoaderConfig c;
    uint64_t N, nb; /* clips; batches per epoch */
    double *cdf;    /* weighted sampling: cumulative class weights over clips */
    RngStream shuffle, aug_params, aug_noise;
    int half; /* Feistel half width in bits */
    uint64_t mask;
    int T, h, w, ch;
    size_t sample_floats;
    Slot *slots;
    int P;
    float *scratch0; /* for filling without workers */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t next_fill, next_take, released;
    int held;
    bool stop;
    pthread_t *th;
    int nth;
};

void loader_defaults(LoaderConfig *c) {
    memset(c, 0, sizeof *c);
    c->batch = 32;
    c->train = true;
    c->weights = SAMPLER_INV_COUNT;
    c->drop_last = true;
    augment_defaults(&c->aug);
    c->workers = 2;
    c->prefetch = 4;
}

uint64_t loader_batches_per_epoch(const Loader *l) { return l->nb; }

/* ---- samplers ---- */

static uint64_t feistel(const Loader *l, uint64_t epoch, uint64_t x) {
    uint64_t L = x >> l->half, R = x & l->mask;
    for (uint64_t r = 0; r < 4; r++) {
        uint64_t F = rng_u32(l->shuffle, epoch, (r << 56) | R) & l->mask;
        uint64_t nl = R;
        R = L ^ F;
        L = nl;
    }
    return (L << l->half) | R;
}

uint64_t loader_sample(const Loader *l, uint64_t epoch, uint64_t pos) {
    if (!l->c.train) return pos;
    if (l->cdf) {
        uint64_t a = rng_u32(l->shuffle, epoch, 2 * pos),
                 b = rng_u32(l->shuffle, epoch, 2 * pos + 1);
        double u = (double)((a >> 5) << 26 | (b >> 6)) * (1.0 / 9007199254740992.0);
        double target = u * l->cdf[l->N - 1];
        uint64_t lo = 0, hi = l->N - 1; /* first k with cdf[k] > target */
        while (lo < hi) {
            uint64_t mid = lo + (hi - lo) / 2;
            if (l->cdf[mid] > target) hi = mid;
            else lo = mid + 1;
        }
        return lo;
    }
    uint64_t x = pos;
    do x = feistel(l, epoch, x);
    while (x >= l->N); /* cycle walking: a bijection of [0, N) */
    return x;
}

/* ---- filling ---- */

static void fill(Loader *l, Slot *s, uint64_t g, float *scratch) {
    const LoaderConfig *c = &l->c;
    uint64_t epoch = g / l->nb, bi = g % l->nb, start = bi * (uint64_t)c->batch;
    uint64_t n = l->N - start < (uint64_t)c->batch ? l->N - start : (uint64_t)c->batch;
    Batch *b = &s->b;
    b->n = (int)n;
    b->epoch = epoch, b->index = bi;
    const uint8_t *frames[CLIPS_MAX_T];
    for (uint64_t k = 0; k < n; k++) {
        uint64_t pos = start + k, ci = loader_sample(l, epoch, pos);
        const Clip *cl = &c->clips->clips[ci];
        for (int t = 0; t < l->T; t++) frames[t] = clips_frame(c->ds, c->clips, ci, t);
        float *x = b->x + k * l->sample_floats;
        if (c->prep.kind != PREP_IMAGENET) {
            size_t fsz = (size_t)l->h * l->w * l->ch;
            for (int t = 0; t < l->T; t++)
                prep_frame(&c->prep, frames[t], l->h, l->w, l->ch, x + (size_t)t * fsz);
        } else if (c->train && c->aug.enabled) {
            AugParams p;
            augment_draw(&c->aug, l->aug_params, epoch, pos, l->h, l->w, &p);
            augment_clip(&p, l->aug_noise, epoch, pos, frames, l->T, l->h, l->w, x, scratch);
        } else {
            augment_clip(NULL, l->aug_noise, epoch, pos, frames, l->T, l->h, l->w, x, scratch);
        }
        int cls = c->ds->videos[cl->video].cls;
        b->cls[k] = cls;
        b->anomaly[k] = dataset_is_anomaly(c->ds, cls);
        b->unseen[k] = c->split ? split_is_unseen(c->split, cls) : 0;
        b->video[k] = cl->video;
        b->clip[k] = (uint32_t)ci;
    }
}

static void *worker(void *arg) {
    Loader *l = arg;
    float *scratch = vb_xmalloc(sizeof(float) * augment_scratch_floats(l->h, l->w));
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->stop && l->next_fill >= l->released + (uint64_t)l->P)
            pthread_cond_wait(&l->cv, &l->mu);
        if (l->stop) break;
        uint64_t g = l->next_fill++;
        Slot *s = &l->slots[g % (uint64_t)l->P];
        s->state = SLOT_FILLING;
        s->g = g;
        pthread_mutex_unlock(&l->mu);
        fill(l, s, g, scratch);
        pthread_mutex_lock(&l->mu);
        s->state = SLOT_READY;
        pthread_cond_broadcast(&l->cv);
    }
    pthread_mutex_unlock(&l->mu);
    free(scratch);
    return NULL;
}

static void stop_workers(Loader *l) {
    pthread_mutex_lock(&l->mu);
    l->stop = true;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    for (int i = 0; i < l->nth; i++) pthread_join(l->th[i], NULL);
    l->nth = 0;
}

static VbStatus start_workers(Loader *l, uint64_t g) {
    l->stop = false;
    l->next_fill = l->next_take = l->released = g;
    l->held = -1;
    for (int i = 0; i < l->P; i++) l->slots[i].state = SLOT_EMPTY;
    for (int i = 0; i < l->c.workers; i++) {
        if (pthread_create(&l->th[i], NULL, worker, l) != 0) {
            stop_workers(l);
            return VB_FAIL(VB_ERR_NOMEM, "cannot start loader thread %d of %d", i + 1,
                           l->c.workers);
        }
        l->nth = i + 1;
    }
    return VB_OK;
}

const Batch *loader_next(Loader *l) {
    if (l->c.workers == 0) {
        uint64_t g = l->next_take++;
        fill(l, &l->slots[0], g, l->scratch0);
        return &l->slots[0].b;
    }
    pthread_mutex_lock(&l->mu);
    if (l->held >= 0) {
        l->released = l->slots[l->held].g + 1;
        l->slots[l->held].state = SLOT_EMPTY;
        l->held = -1;
        pthread_cond_broadcast(&l->cv);
    }
    uint64_t g = l->next_take;
    Slot *s = &l->slots[g % (uint64_t)l->P];
    while (!(s->state == SLOT_READY && s->g == g)) pthread_cond_wait(&l->cv, &l->mu);
    l->held = (int)(g % (uint64_t)l->P);
    l->next_take++;
    pthread_mutex_unlock(&l->mu);
    return &s->b;
}

LoaderPos loader_position(const Loader *l) {
    LoaderPos p = {l->next_take / l->nb, l->next_take % l->nb};
    return p;
}

VbStatus loader_seek(Loader *l, LoaderPos pos) {
    if (pos.batch >= l->nb)
        return VB_FAIL(VB_ERR_INPUT,
                       "loader position batch %llu is past the %llu batches of an epoch",
                       (unsigned long long)pos.batch, (unsigned long long)l->nb);
    uint64_t g = pos.epoch * l->nb + pos.batch;
    if (l->c.workers == 0) {
        l->next_take = g;
        return VB_OK;
    }
    stop_workers(l);
    return start_workers(l, g);
}

/* ---- open / close ---- */

void loader_close(Loader *l) {
    if (!l) return;
    if (l->nth > 0) stop_workers(l);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    for (int i = 0; i < l->P; i++) {
        Batch *b = &l->slots[i].b;
        free(b->x), free(b->cls), free(b->anomaly), free(b->unseen), free(b->video), free(b->clip);
    }
    free(l->slots);
    free(l->th);
    free(l->cdf);
    free(l->scratch0);
    free(l);
}

VbStatus loader_open(const LoaderConfig *c, Loader **out) {
    *out = NULL;
    const ClipSet *cs = c->clips;
    if (c->batch < 1) return VB_FAIL(VB_ERR_INPUT, "batch size %d must be positive", c->batch);
    if (c->workers < 0 || c->workers > 64 || (c->workers > 0 && c->prefetch < 1))
        return VB_FAIL(VB_ERR_INPUT, "loader workers %d / prefetch %d out of range", c->workers,
                       c->prefetch);
    if (!cs || cs->n == 0) return VB_FAIL(VB_ERR_INPUT, "the loader has no clips");
    Loader *l = vb_xcalloc(1, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    l->c = *c;
    l->N = cs->n;
    uint64_t B = (uint64_t)c->batch;
    l->nb = c->train && c->drop_last ? l->N / B : (l->N + B - 1) / B;
    if (l->nb == 0) {
        loader_close(l);
        return VB_FAIL(VB_ERR_INPUT, "%llu clips do not fill one batch of %d (drop_last)",
                       (unsigned long long)cs->n, c->batch);
    }
    l->T = cs->spec.T, l->h = c->ds->frames.h, l->w = c->ds->frames.w, l->ch = c->ds->frames.c;
    l->sample_floats = (size_t)l->T * (size_t)l->h * (size_t)l->w * (size_t)l->ch;
    if (c->prep.kind == PREP_IMAGENET && l->ch != 3) {
        loader_close(l);
        return VB_FAIL(VB_ERR_INPUT, "ImageNet normalisation needs RGB frames, not %d channel(s)",
                       c->ds->frames.c);
    }
    if (c->prep.kind != PREP_IMAGENET && c->train && c->aug.enabled) {
        loader_close(l);
        return VB_FAIL(VB_ERR_INPUT, "training augmentations run on ImageNet-normalised RGB "
                                     "frames only (dataset.preprocess imagenet)");
    }
    l->shuffle = rng_stream(c->seed, "shuffle");
    RngStream aug = rng_stream(c->seed, "augment");
    l->aug_params = rng_substream(aug, 0), l->aug_noise = rng_substream(aug, 1);
    int bits = 2;
    while (bits < 64 && (1ull << bits) < l->N) bits += 2;
    l->half = bits / 2;
    l->mask = (1ull << l->half) - 1;
    if (c->train && c->weights != SAMPLER_NONE) {
        uint64_t count[DS_MAX_CLASSES] = {0};
        for (size_t i = 0; i < cs->n; i++) count[c->ds->videos[cs->clips[i].video].cls]++;
        l->cdf = vb_xmalloc(sizeof(double) * cs->n);
        double acc = 0;
        for (size_t i = 0; i < cs->n; i++) {
            double n = (double)count[c->ds->videos[cs->clips[i].video].cls];
            acc += c->weights == SAMPLER_INV_COUNT ? 1.0 / n : 1.0 / sqrt(n);
            l->cdf[i] = acc;
        }
    }
    l->P = c->workers > 0 ? c->prefetch : 1;
    l->slots = vb_xcalloc((size_t)l->P, sizeof(Slot));
    for (int i = 0; i < l->P; i++) {
        Batch *b = &l->slots[i].b;
        b->T = l->T, b->h = l->h, b->w = l->w, b->c = l->ch;
        b->x = malloc(sizeof(float) * l->sample_floats * B);
        b->cls = vb_xmalloc(sizeof(int32_t) * B);
        b->anomaly = vb_xmalloc(B), b->unseen = vb_xmalloc(B);
        b->video = vb_xmalloc(sizeof(uint32_t) * B), b->clip = vb_xmalloc(sizeof(uint32_t) * B);
        if (!b->x) {
            loader_close(l);
            return VB_FAIL(VB_ERR_NOMEM, "cannot allocate %d loader batches of %llu x %zu floats",
                           c->prefetch, (unsigned long long)B, l->sample_floats);
        }
    }
    l->scratch0 = vb_xmalloc(sizeof(float) * augment_scratch_floats(l->h, l->w));
    l->th = vb_xcalloc((size_t)(c->workers > 0 ? c->workers : 1), sizeof(pthread_t));
    l->held = -1;
    if (c->workers > 0) {
        VbStatus st = start_workers(l, 0);
        if (st != VB_OK) {
            loader_close(l);
            return st;
        }
    }
    *out = l;
    return VB_OK;
}
