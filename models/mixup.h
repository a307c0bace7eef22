/* mixup: Mixup and CutMix on a host batch of clips, with mixed targets.
 *
 * With probability p a batch is mixed: CutMix with probability `switch`
 * (λ ~ Beta(cα, cα), a box of area ≈ (1−λ) of the frame, the same box in
 * every frame of a clip, λ corrected to the exact box area), otherwise Mixup
 * (λ ~ Beta(α, α), x = λ·x + (1−λ)·x[perm]). Partner of sample i is
 * perm[i], a uniform random permutation. All draws come from the counter
 * RNG stream given (e.g. "mixup" of the run seed) at the training step, so
 * a step's mixing is reproducible and independent of threads. */
#ifndef VB_MIXUP_H
#define VB_MIXUP_H

#include <stdbool.h>
#include <stdint.h>

#include "kernels/rng.h"

typedef struct MixConfig {
    double p, alpha, cutmix_alpha, switch_prob;
} MixConfig;

typedef struct MixResult {
    bool mixed, cutmix;
    float lam;
    int box[4]; /* y0, x0, y1, x1 (exclusive) for CutMix */
} MixResult;

/* Beta(a, b) from the counter RNG (Marsaglia–Tsang gammas), deterministic
 * in (s, step, slot). */
double mix_beta(RngStream s, uint64_t step, uint64_t slot, double a, double b);
/* Mix x [n, T, h, w, 3] in place (tmp: scratch of the same size); perm[n]
 * receives the partners (identity when not mixed). */
MixResult mix_batch(const MixConfig *c, RngStream s, uint64_t step, int n, int T, int h, int w,
                    float *x, float *tmp, int *perm);

#endif
