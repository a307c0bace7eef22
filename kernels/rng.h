/* rng: counter-based random numbers (Philox-4x32-10).
 *
 * A run has one seed. Named streams ("init", "shuffle", "augment", "dropout",
 * "vae", "mixup", ...) get independent keys by hashing the seed with the
 * name, so adding a consumer never shifts another. Every value is a pure
 * function of (stream, step, element): there is no hidden state, so results
 * do not depend on thread scheduling, and the CUDA backend can draw the same
 * numbers with the same function. */
#ifndef VB_RNG_H
#define VB_RNG_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/khd.h"

typedef struct RngStream {
    uint32_t k0, k1; /* Philox key */
} RngStream;

/* ---- the per-element core, compiled for the host and the device (the CUDA
 * backend draws dropout masks and noise with these very functions) ---- */

/* Philox-4x32-10 on counter (c0..c3) with the stream's key. */
VB_HD void rng_philox4(RngStream s, uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3,
                       uint32_t out[4]) {
    uint32_t k0 = s.k0, k1 = s.k1;
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * c0;
        uint64_t p1 = (uint64_t)0xCD9E8D57u * c2;
        uint32_t n0 = (uint32_t)(p1 >> 32) ^ c1 ^ k0;
        uint32_t n2 = (uint32_t)(p0 >> 32) ^ c3 ^ k1;
        c0 = n0;
        c1 = (uint32_t)p1;
        c2 = n2;
        c3 = (uint32_t)p0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

/* Block `blk` of step `step`: the counter is (blk lo, blk hi, step lo, step hi). */
VB_HD void rng_block(RngStream s, uint64_t step, uint64_t blk, uint32_t out[4]) {
    rng_philox4(s, (uint32_t)blk, (uint32_t)(blk >> 32), (uint32_t)step, (uint32_t)(step >> 32),
                out);
}

/* 24 random bits -> [0,1), exactly representable. */
VB_HD float rng_u01(uint32_t x) { return (float)(x >> 8) * (1.0f / 16777216.0f); }

/* Element `elem` of step `step`, uniform in [0,1): word elem%4 of block elem/4. */
VB_HD float rng_uniform_at(RngStream s, uint64_t step, uint64_t elem) {
    uint32_t o[4];
    rng_block(s, step, elem >> 2, o);
    return rng_u01(o[elem & 3]);
}

/* Dropout mask value of one element: 0 with probability p, else keep = 1/(1-p). */
VB_HD float rng_dropout_at(RngStream s, uint64_t step, uint64_t elem, float p, float keep) {
    return rng_uniform_at(s, step, elem) < p ? 0.0f : keep;
}

/* Standard normal of one element: Box-Muller in double on the words
 * (2*(e&1), 2*(e&1)+1) of block e/2. */
VB_HD float rng_normal_at(RngStream s, uint64_t step, uint64_t elem) {
    uint32_t o[4];
    rng_block(s, step, elem >> 1, o);
    int j = (int)(elem & 1) * 2;
    double u1 = ((double)(o[j] >> 8) + 1.0) * (1.0 / 16777217.0); /* (0,1] */
    double u2 = (double)(o[j + 1] >> 8) * (1.0 / 16777216.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

/* Derive the stream named `name` from a run seed. */
RngStream rng_stream(uint64_t seed, const char *name);
/* A sub-stream (e.g. one per layer): hash the key with an index. */
RngStream rng_substream(RngStream s, uint64_t index);

/* Philox-4x32-10 block: four 32-bit words for counter (c0..c3). */
void rng_philox(RngStream s, const uint32_t ctr[4], uint32_t out[4]);

/* Element `elem` of step `step`: raw bits, uniform in [0,1), standard normal. */
uint32_t rng_u32(RngStream s, uint64_t step, uint64_t elem);
float rng_uniform(RngStream s, uint64_t step, uint64_t elem);
float rng_normal(RngStream s, uint64_t step, uint64_t elem);
/* Uniform integer in [0, n), n > 0 (unbiased by rejection on 64-bit draws). */
uint64_t rng_below(RngStream s, uint64_t step, uint64_t elem, uint64_t n);

/* Fill helpers, element i gets element index (first + i). OpenMP-parallel;
 * the output is identical for any thread count. */
void rng_fill_uniform(RngStream s, uint64_t step, uint64_t first, size_t n, float lo, float hi,
                      float *out);
void rng_fill_normal(RngStream s, uint64_t step, uint64_t first, size_t n, float mean, float std,
                     float *out);
/* n standard normals, 4 per Philox block: block (first_block + i/4) gives
 * two Box-Muller pairs (cos and sin of each), so element i is NOT
 * rng_normal(.., i); about 3x cheaper for bulk noise. Sequential (callers
 * parallelise over their own work); a pure function of its arguments. */
void rng_normals_blocked(RngStream s, uint64_t step, uint64_t first_block, size_t n, float *out);
/* Dropout mask: out[i] = 0 with probability p, else 1/(1-p). p in [0,1). */
void rng_fill_dropout(RngStream s, uint64_t step, uint64_t first, size_t n, float p, float *out);

#endif
