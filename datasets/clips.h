/* clips: samples of T frames cut from videos.
 *
 * A clip is T frames of one video at stride s (frames start, start+s, ...,
 * start+(T-1)s), with windows starting every w frames (0, w, 2w, ... while
 * the clip fits). A video shorter than one clip span still yields one clip
 * starting at 0, its frame indices clamped to the last frame, so every video
 * is scored. T = 1, s = 1, w = 1 gives every frame as its own sample.
 * Clips are listed video by video in the order of the given video list.
 *
 * Must not be asked to: take T, s or w below 1 or T above CLIPS_MAX_T. */
#ifndef VB_CLIPS_H
#define VB_CLIPS_H

#include <stddef.h>
#include <stdint.h>

#include "datasets/dataset.h"

#define CLIPS_MAX_T 256

typedef struct ClipSpec {
    int T;      /* frames per clip */
    int stride; /* frame step inside a clip */
    int window; /* step between clip starts */
} ClipSpec;

typedef struct Clip {
    uint32_t video; /* dataset video index */
    uint32_t start; /* first frame within the video */
} Clip;

typedef struct ClipSet {
    Clip *clips;
    size_t n;
    ClipSpec spec;
} ClipSet;

/* {T, 1, T}: consecutive frames, non-overlapping windows. */
ClipSpec clips_spec(int T);
VbStatus clips_build(const Dataset *ds, const uint32_t *videos, size_t nvideos, ClipSpec spec,
                     ClipSet *out);
void clips_free(ClipSet *cs);

/* Frame t of clip i (clamped to the video's last frame). */
static inline const uint8_t *clips_frame(const Dataset *ds, const ClipSet *cs, size_t i, int t) {
    const Clip *c = &cs->clips[i];
    uint64_t f = (uint64_t)c->start + (uint64_t)t * (uint64_t)cs->spec.stride;
    uint32_t n = ds->videos[c->video].nframes;
    return dataset_frame(ds, c->video, f < n ? (uint32_t)f : n - 1);
}

#endif
