/* mixup: Mixup / CutMix with counter-RNG draws. */
#include "mixup.h"

#include <math.h>
#include <string.h>

/* Element slots of the stream at a step: 0..7 decisions, 1000+ gamma
 * draws, 100000+ permutation. */
enum {
    SLOT_APPLY = 0,
    SLOT_SWITCH = 1,
    SLOT_CX = 2,
    SLOT_CY = 3,
    SLOT_GAMMA = 1000,
    SLOT_PERM = 100000
};

/* Marsaglia & Tsang (2000), with the a < 1 boost; `ctr` advances through
 * the stream's elements so the number of rejections does not matter. */
static double gamma_draw(RngStream s, uint64_t step, uint64_t *ctr, double a) {
    if (a < 1.0) {
        double u = rng_uniform(s, step, (*ctr)++);
        return gamma_draw(s, step, ctr, a + 1.0) * pow(u > 0 ? u : 1e-300, 1.0 / a);
    }
    double d = a - 1.0 / 3.0, c = 1.0 / sqrt(9.0 * d);
    for (;;) {
        double x = rng_normal(s, step, (*ctr)++), v = 1.0 + c * x;
        if (v <= 0) continue;
        v = v * v * v;
        double u = rng_uniform(s, step, (*ctr)++);
        if (u < 1.0 - 0.0331 * x * x * x * x) return d * v;
        if (u > 0 && log(u) < 0.5 * x * x + d * (1.0 - v + log(v))) return d * v;
    }
}

double mix_beta(RngStream s, uint64_t step, uint64_t slot, double a, double b) {
    uint64_t ctr = SLOT_GAMMA + slot * 4096;
    double x = gamma_draw(s, step, &ctr, a), y = gamma_draw(s, step, &ctr, b);
    return x + y > 0 ? x / (x + y) : 0.5;
}

MixResult mix_batch(const MixConfig *c, RngStream s, uint64_t step, int n, int T, int h, int w,
                    float *x, float *tmp, int *perm) {
    MixResult r = {false, false, 1.0f, {0, 0, 0, 0}};
    for (int i = 0; i < n; i++) perm[i] = i;
    if (c->p <= 0 || n < 2 || rng_uniform(s, step, SLOT_APPLY) >= c->p) return r;
    /* Fisher–Yates */
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rng_below(s, step, SLOT_PERM + (uint64_t)i, (uint64_t)i + 1);
        int t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
    r.mixed = true;
    r.cutmix = rng_uniform(s, step, SLOT_SWITCH) < c->switch_prob;
    size_t frame = (size_t)h * w * 3, clip = frame * T;
    memcpy(tmp, x, (size_t)n * clip * sizeof(float));
    if (!r.cutmix) {
        double lam = mix_beta(s, step, 0, c->alpha, c->alpha);
        r.lam = (float)lam;
        for (int i = 0; i < n; i++) {
            float *xi = x + (size_t)i * clip;
            const float *xj = tmp + (size_t)perm[i] * clip;
            for (size_t k = 0; k < clip; k++) xi[k] = r.lam * xi[k] + (1.0f - r.lam) * xj[k];
        }
        return r;
    }
    double lam = mix_beta(s, step, 1, c->cutmix_alpha, c->cutmix_alpha);
    double cut = sqrt(1.0 - lam);
    int cw = (int)(w * cut), ch = (int)(h * cut);
    int cx = (int)(rng_uniform(s, step, SLOT_CX) * w),
        cy = (int)(rng_uniform(s, step, SLOT_CY) * h);
    int x0 = cx - cw / 2 < 0 ? 0 : cx - cw / 2, x1 = cx + cw / 2 > w ? w : cx + cw / 2;
    int y0 = cy - ch / 2 < 0 ? 0 : cy - ch / 2, y1 = cy + ch / 2 > h ? h : cy + ch / 2;
    r.box[0] = y0, r.box[1] = x0, r.box[2] = y1, r.box[3] = x1;
    r.lam = (float)(1.0 - (double)(x1 - x0) * (y1 - y0) / ((double)w * h));
    for (int i = 0; i < n; i++)
        for (int t = 0; t < T; t++) {
            float *fi = x + (size_t)i * clip + (size_t)t * frame;
            const float *fj = tmp + (size_t)perm[i] * clip + (size_t)t * frame;
            for (int yy = y0; yy < y1; yy++)
                memcpy(fi + ((size_t)yy * w + x0) * 3, fj + ((size_t)yy * w + x0) * 3,
                       (size_t)(x1 - x0) * 3 * sizeof(float));
        }
    return r;
}
