/* augment: training augmentations of MODEL_SPEC §5, then ImageNet
 * normalisation, from uint8 RGB frames to float.
 *
 * One draw of parameters per clip (augment_draw), applied identically to
 * every frame of the clip (augment_clip): horizontal flip, vertical flip,
 * rotation and shift/scale (composed into one affine warp, bilinear,
 * reflect-101 borders), colour jitter (brightness, contrast, saturation,
 * hue, in a random order), Gaussian blur, Gaussian noise (fresh per frame
 * and pixel, at the clip's variance), coarse dropout (same holes on every
 * frame). Every number comes from the counter RNG indexed by (stream,
 * step, sample, slot) — the loader passes (epoch, position in the epoch) —
 * so an augmented sample is a pure function of the seed, the epoch and its
 * position, whatever thread computes it. Output: [T, H, W, 3] float,
 * (x/255 - mean) / std with ImageNet's mean and std.
 *
 * Must not be asked to: process frames of different sizes within a clip, or
 * run without the caller's scratch buffer (augment_scratch_floats). */
#ifndef VB_AUGMENT_H
#define VB_AUGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/rng.h"

typedef struct AugConfig {
    bool enabled;
    float p_hflip, p_vflip;
    float p_rotate, rotate_deg;
    float p_shift_scale, shift, scale_lo, scale_hi;
    float p_jitter, brightness, contrast, saturation, hue;
    float p_blur, blur_sigma_lo, blur_sigma_hi; /* kernel 3 or 5 */
    float p_noise, noise_var_lo, noise_var_hi;  /* variance on the 0..255 scale */
    float p_dropout;
    int dropout_holes, dropout_size; /* up to N holes of size x size at 64 px (scaled) */
} AugConfig;

typedef struct AugParams {
    bool hflip, vflip, warp;
    float angle, scale, dx, dy; /* radians; factor; fractions of width/height */
    bool jitter;
    int order[4]; /* 0 brightness, 1 contrast, 2 saturation, 3 hue */
    float bright, contr, satur, hue_shift;
    bool blur;
    int ksize;
    float sigma;
    bool noise;
    float noise_std; /* on the 0..1 scale */
    int holes, hole_size;
    int hole_y[16], hole_x[16];
} AugParams;

/* MODEL_SPEC §5's probabilities and ranges, enabled. */
void augment_defaults(AugConfig *c);
/* Draw the parameters of sample `sample` at `step` for h x w frames. */
void augment_draw(const AugConfig *c, RngStream s, uint64_t step, uint64_t sample, int h, int w,
                  AugParams *p);
/* Floats of scratch augment_clip needs for h x w frames. */
size_t augment_scratch_floats(int h, int w);
/* Augment and normalise T frames into out[T*h*w*3]; p NULL = normalise only.
 * Noise for frame t comes from Philox blocks (sample*T + t) * ceil(h*w*3/4)
 * onwards of `noise` at `step`, four normals a block (rng_normals_blocked). */
void augment_clip(const AugParams *p, RngStream noise, uint64_t step, uint64_t sample,
                  const uint8_t *const *frames, int T, int h, int w, float *out, float *scratch);

#endif
