/* fmnist: the Fashion-MNIST reader (idx files, gzip-compressed or not,
 * decompressed through libarchive's raw format).
 *
 * Reads train-images-idx3-ubyte(.gz) / train-labels-idx1-ubyte(.gz) and the
 * t10k pair from a directory (default: Debian's dataset-fashion-mnist at
 * /usr/share/datasets/fashion-mnist). Every 28x28 grey image becomes a
 * single-frame "video" with id "train_00000" / "test_00000" (its index in
 * the file), in split Train or Test, of the class its label names (names
 * below, in label order; the Dataset sorts them). Images are resized
 * (bilinear, half-pixel centres; at size 28 an exact copy) or zero-padded
 * (centred) to size x size and replicated to 3 channels, or kept as one
 * grey channel (channels 1: at size 28 the file's bytes themselves). The normal class, for the one-class protocol
 * (split.h), is T-shirt_top unless configured.
 *
 * Must not be asked to: pad to a size below 28, or read idx files of other
 * shapes (an error naming the file). */
#ifndef VB_FMNIST_H
#define VB_FMNIST_H

#include <stdbool.h>

#include "datasets/dataset.h"

#define FMNIST_DEFAULT_DIR "/usr/share/datasets/fashion-mnist"
#define FMNIST_NCLASSES 10

typedef enum FmnistFit { FMNIST_RESIZE, FMNIST_PAD } FmnistFit;

typedef struct FmnistOptions {
    const char *dir;    /* NULL = FMNIST_DEFAULT_DIR */
    int size;           /* output side in pixels (default 64) */
    FmnistFit fit;      /* default FMNIST_RESIZE */
    const char *normal; /* normal class (default T-shirt_top) */
    int limit;          /* > 0: only the first `limit` images of each split */
    int channels;       /* 3 (default: grey replicated to RGB) or 1 (grey) */
} FmnistOptions;

/* Class names in label order 0..9. */
extern const char *const fmnist_class_names[FMNIST_NCLASSES];

void fmnist_defaults(FmnistOptions *o);
/* Whether the four files exist in `dir` (NULL = default). */
bool fmnist_available(const char *dir);
VbStatus fmnist_read(const FmnistOptions *o, Dataset *out);

#endif
