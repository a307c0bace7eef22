/* preprocess: how uint8 frames become the float input of a model when no
 * training augmentation runs — `dataset.preprocess`.
 *
 *   imagenet       (x/255 - mean) / std with ImageNet's RGB statistics (the
 *                  seed's; augment.c applies it, with or without augmentation);
 *   unit           x/255 in [0, 1], nothing else (Ruff et al.'s Deep SAD code,
 *                  torchvision's ToTensor);
 *   gcn_l1_minmax  Ruff et al.'s Deep SVDD code: per image, global contrast
 *                  normalisation with the L1 scale (x/255 minus its mean,
 *                  divided by the mean absolute value of the result), then
 *                  (x - lo) / (hi - lo) with lo, hi the smallest and largest
 *                  such value over the normal class's training images
 *                  (computed from the data, prep_gcn_range, where the paper's
 *                  code hard-codes them per class).
 *
 * Any number of channels per pixel; the statistics are over all values of
 * an image. Must not be asked to: apply imagenet to frames without 3
 * channels (prep_frame asserts it). */
#ifndef VB_PREPROCESS_H
#define VB_PREPROCESS_H

#include <stddef.h>
#include <stdint.h>

#include "datasets/clips.h"

typedef enum Preprocess { PREP_IMAGENET = 0, PREP_UNIT, PREP_GCN_L1_MINMAX } Preprocess;
/* `dataset.preprocess` names, indexed by Preprocess. */
extern const char *const preprocess_names[];

typedef struct PrepConfig {
    Preprocess kind;
    float lo, hi; /* gcn_l1_minmax: the range mapped to [0, 1] */
} PrepConfig;

/* One frame of h*w*c bytes into h*w*c floats. */
void prep_frame(const PrepConfig *p, const uint8_t *src, int h, int w, int c, float *out);
/* Global contrast normalisation (L1) of n values in place: x - mean, then
 * divided by mean |x - mean| (left at 0 for a constant image). */
void prep_gcn_l1(float *x, size_t n);
/* lo / hi: the extreme GCN-L1 values over every frame of the clips whose
 * video's class is `cls` (all clips when cls < 0). Returns the number of
 * frames seen. */
size_t prep_gcn_range(const Dataset *ds, const ClipSet *cs, int cls, float *lo, float *hi);

#endif
