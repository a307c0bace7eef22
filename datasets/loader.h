/* loader: batches of clips and labels, filled ahead by background threads.
 *
 * A loader walks an endless sequence of batches; batch g is number
 * g % batches_per_epoch of epoch g / batches_per_epoch. For training the
 * sample order of an epoch is a seeded pseudo-random permutation of the
 * clips ("shuffle" stream, keyed by the epoch; a Feistel bijection, so any
 * position is computed directly), or, with sampler weights, N draws with
 * replacement in proportion to 1/count or 1/sqrt(count) of the clip's
 * class (N = number of clips, as PyTorch's WeightedRandomSampler), and each
 * sample is augmented (augment.h) with parameters keyed by (epoch,
 * position). For evaluation the order is the clip order, unaugmented, with
 * a last partial batch. Every batch is therefore a pure function of (seed,
 * g): the bytes do not depend on the number of worker threads, and a
 * loader seeked to a saved position (epoch, batch) continues exactly.
 *
 * Batches: x float [n, T, H, W, C] (NHWC per frame, C the data set's
 * channels; ImageNet-normalised, or as `prep` says: preprocess.h),
 * and per sample the class, anomaly flag (class != normal), unseen flag
 * (from the split), video index and clip index. A batch returned by
 * loader_next stays valid until the next loader_next/loader_seek/close.
 *
 * Must not be asked to: run with a clip set it does not outlive, or be used
 * from several consumer threads at once (one consumer, many workers). */
#ifndef VB_LOADER_H
#define VB_LOADER_H

#include <stdbool.h>
#include <stdint.h>

#include "datasets/augment.h"
#include "datasets/clips.h"
#include "datasets/dataset.h"
#include "datasets/preprocess.h"
#include "datasets/split.h"

typedef enum SamplerWeights { SAMPLER_NONE, SAMPLER_INV_COUNT, SAMPLER_INV_SQRT } SamplerWeights;
/* `train.sampler` names, indexed by SamplerWeights. */
extern const char *const sampler_weights_names[];

typedef struct LoaderConfig {
    const Dataset *ds;
    const ClipSet *clips;
    const Split *split;     /* unseen flags; NULL = all seen */
    int batch;              /* samples per batch */
    bool train;             /* shuffle or weighted sampling, augmentation */
    SamplerWeights weights; /* training only */
    bool drop_last;         /* training: drop a last partial batch */
    uint64_t seed;          /* run seed: "shuffle" and "augment" streams */
    AugConfig aug;          /* used when train */
    PrepConfig prep;        /* imagenet (default); others exclude augmentation */
    int workers;            /* background threads; 0 = fill in loader_next */
    int prefetch;           /* batches kept ready ahead (>= 1) */
} LoaderConfig;

typedef struct Batch {
    int n, T, h, w, c;
    float *x;         /* [n, T, h, w, c] */
    int32_t *cls;     /* [n] class index */
    uint8_t *anomaly; /* [n] 1 when cls is not the normal class */
    uint8_t *unseen;  /* [n] 1 when cls was held out of training */
    uint32_t *video;  /* [n] dataset video index */
    uint32_t *clip;   /* [n] clip index */
    uint64_t epoch, index;
} Batch;

typedef struct LoaderPos {
    uint64_t epoch, batch; /* the next batch loader_next returns */
} LoaderPos;

typedef struct Loader Loader;

/* Training defaults: batch 32, drop_last, 1/count weights, augmentation on,
 * 2 workers, prefetch 4. */
void loader_defaults(LoaderConfig *c);
VbStatus loader_open(const LoaderConfig *c, Loader **out);
void loader_close(Loader *l);
uint64_t loader_batches_per_epoch(const Loader *l);
/* The batch at the current position; advances the position. */
const Batch *loader_next(Loader *l);
LoaderPos loader_position(const Loader *l);
/* Continue from a saved position (e.g. a checkpoint); an error when the
 * position does not fit this loader's epoch or its threads cannot start
 * (the loader must then be closed). */
VbStatus loader_seek(Loader *l, LoaderPos pos);
/* Clip index of sample `pos` of `epoch` (the sampler alone, for tests). */
uint64_t loader_sample(const Loader *l, uint64_t epoch, uint64_t pos);

#endif
