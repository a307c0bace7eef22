/* dataset: the in-memory data set model that every reader produces.
 *
 * A Dataset is a list of classes (names taken from the data, sorted by byte
 * order; one of them is the normal class), a list of videos (id, class,
 * split Train/Test, frame count, position of the first frame) and a frame
 * store: one contiguous uint8 buffer of nframes frames, each H x W x C (RGB,
 * C = 3, or grey, C = 1; row-major, channel last). The frames of one video are contiguous and in
 * time order; videos are listed by (split, class, id) but their frames may
 * sit anywhere in the store. The store is either malloc'd or a read-only
 * view into a memory-mapped cache file (see ucf.h), so a million-frame set
 * costs address space, not resident memory.
 *
 * Readers fill a Dataset with dataset_class_index / dataset_add_video /
 * dataset_frames_alloc, then call dataset_finish, which sorts classes and
 * videos and computes the content digest (a hash of the class list, the
 * video table and every frame's bytes) used in provenance and config
 * hashes, and dataset_set_normal.
 *
 * Must not be asked to: hold frames of different sizes or channel counts, or more than
 * DS_MAX_CLASSES classes; a finished Dataset is read-only and may be shared
 * by any number of threads. */
#ifndef VB_DATASET_H
#define VB_DATASET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/status.h"

#define DS_MAX_CLASSES 256
#define DS_DEFAULT_NORMAL "NormalVideos"

typedef enum DsSplit { DS_TRAIN = 0, DS_TEST = 1 } DsSplit;

typedef struct DsVideo {
    char *id;         /* e.g. "Abuse001_x264" */
    int cls;          /* index into Dataset.classes */
    DsSplit split;    /* Train or Test folder of the data */
    uint32_t nframes; /* >= 1 */
    uint64_t first;   /* store index of its first frame */
} DsVideo;

typedef struct FrameStore {
    uint8_t *data; /* nframes * h * w * c bytes */
    uint64_t nframes;
    int h, w;
    int c;     /* channels per pixel: 3 (RGB, dataset_init's default) or 1 (grey) */
    void *map; /* non-NULL: data points into this mapping */
    size_t map_len;
} FrameStore;

typedef struct Dataset {
    char *source; /* where it came from (path or generator description) */
    int nclasses;
    char **classes; /* sorted after dataset_finish */
    int normal;     /* index of the normal class */
    size_t nvideos;
    DsVideo *videos; /* sorted by (split, class, id) after dataset_finish */
    FrameStore frames;
    uint64_t skipped;  /* entries a reader skipped (skip_bad) */
    char warning[512]; /* what the reader wants users to know ("" when nothing) */
    char digest[33];   /* 128-bit content digest, lowercase hex */
    size_t cap_videos;
} Dataset;

void dataset_init(Dataset *ds);
void dataset_free(Dataset *ds);

/* Index of class `name`, adding it when new; -1 with a message when the
 * name is empty or DS_MAX_CLASSES would be exceeded. Indices are provisional
 * until dataset_finish sorts the classes. */
int dataset_class_index(Dataset *ds, const char *name);
/* Append a video whose frames are store[first, first+nframes). */
void dataset_add_video(Dataset *ds, const char *id, int cls, DsSplit split, uint32_t nframes,
                       uint64_t first);
/* Allocate a malloc'd store of `nframes` zeroed frames of h x w x 3. */
VbStatus dataset_frames_alloc(Dataset *ds, uint64_t nframes, int h, int w);
/* The same with c channels per pixel (1 or 3). */
VbStatus dataset_frames_alloc_c(Dataset *ds, uint64_t nframes, int h, int w, int c);

/* Sort classes and videos, check every video's frame range, and compute
 * the content digest unless `digest` is given (e.g. from a cache file). The
 * digest covers classes, videos and frames, not the choice of normal class
 * (a run's config records that). */
VbStatus dataset_finish(Dataset *ds, const char *digest);
/* Make `name` (NULL or "" = NormalVideos) the normal class; an error naming
 * the classes found when the data has no such class. */
VbStatus dataset_set_normal(Dataset *ds, const char *name);

static inline size_t dataset_frame_bytes(const Dataset *ds) {
    return (size_t)ds->frames.h * (size_t)ds->frames.w * (size_t)ds->frames.c;
}
/* Frame t of video v (t < nframes). */
static inline const uint8_t *dataset_frame(const Dataset *ds, size_t v, uint32_t t) {
    return ds->frames.data + (ds->videos[v].first + t) * dataset_frame_bytes(ds);
}
uint64_t dataset_total_frames(const Dataset *ds);
/* Index of the class named `name`, or -1. */
int dataset_find_class(const Dataset *ds, const char *name);
static inline bool dataset_is_anomaly(const Dataset *ds, int cls) { return cls != ds->normal; }
const char *dataset_split_name(DsSplit s);

/* Per class and split: number of videos and frames (arrays of nclasses). */
void dataset_counts(const Dataset *ds, DsSplit split, uint64_t *videos, uint64_t *frames);

/* 64-bit non-cryptographic hash (for digests and cache keys). */
uint64_t dataset_hash(const void *p, size_t n, uint64_t seed);

#endif
