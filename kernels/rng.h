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

#include <stddef.h>
#include <stdint.h>

typedef struct RngStream {
    uint32_t k0, k1; /* Philox key */
} RngStream;

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
