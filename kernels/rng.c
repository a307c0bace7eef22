/* rng: Philox-4x32-10 (Salmon et al., SC'11) with named streams. */
#include "rng.h"

#include <math.h>
#include <string.h>

static uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static RngStream stream_from(uint64_t h) {
    RngStream s = {(uint32_t)h, (uint32_t)(h >> 32)};
    return s;
}

RngStream rng_stream(uint64_t seed, const char *name) {
    uint64_t h = 0xCBF29CE484222325ull; /* FNV-1a of the name, mixed with the seed */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        h ^= *p;
        h *= 0x100000001B3ull;
    }
    return stream_from(splitmix64(splitmix64(seed) ^ h));
}

RngStream rng_substream(RngStream s, uint64_t index) {
    uint64_t k = ((uint64_t)s.k1 << 32) | s.k0;
    return stream_from(splitmix64(k ^ splitmix64(index + 0x5851F42D4C957F2Dull)));
}

void rng_philox(RngStream s, const uint32_t ctr[4], uint32_t out[4]) {
    rng_philox4(s, ctr[0], ctr[1], ctr[2], ctr[3], out);
}

static void block(RngStream s, uint64_t step, uint64_t blk, uint32_t out[4]) {
    rng_block(s, step, blk, out);
}

uint32_t rng_u32(RngStream s, uint64_t step, uint64_t elem) {
    uint32_t o[4];
    block(s, step, elem >> 2, o);
    return o[elem & 3];
}

float rng_uniform(RngStream s, uint64_t step, uint64_t elem) {
    return rng_uniform_at(s, step, elem);
}

float rng_normal(RngStream s, uint64_t step, uint64_t elem) { return rng_normal_at(s, step, elem); }

void rng_normals_blocked(RngStream s, uint64_t step, uint64_t first_block, size_t n, float *out) {
    for (size_t i = 0; i < n; i += 4) {
        uint32_t o[4];
        block(s, step, first_block + i / 4, o);
        float z[4];
        for (int j = 0; j < 2; j++) { /* in float: bulk noise needs no more */
            float u1 = ((float)(o[2 * j] >> 8) + 1.0f) * (1.0f / 16777216.0f); /* (0,1] */
            float u2 = (float)(o[2 * j + 1] >> 8) * (1.0f / 16777216.0f);
            float r = sqrtf(-2.0f * logf(u1)), a = 6.28318530718f * u2;
            z[2 * j] = r * cosf(a);
            z[2 * j + 1] = r * sinf(a);
        }
        for (size_t k = 0; k < 4 && i + k < n; k++) out[i + k] = z[k];
    }
}

uint64_t rng_below(RngStream s, uint64_t step, uint64_t elem, uint64_t n) {
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    for (uint64_t attempt = 0;; attempt++) {
        uint32_t o[4];
        block(s, step ^ (attempt << 48), elem, o);
        uint64_t x = ((uint64_t)o[0] << 32) | o[1];
        if (x < limit) return x % n;
    }
}

void rng_fill_uniform(RngStream s, uint64_t step, uint64_t first, size_t n, float lo, float hi,
                      float *out) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) out[i] = lo + (hi - lo) * rng_uniform(s, step, first + i);
}

void rng_fill_normal(RngStream s, uint64_t step, uint64_t first, size_t n, float mean, float std,
                     float *out) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) out[i] = mean + std * rng_normal(s, step, first + i);
}

void rng_fill_dropout(RngStream s, uint64_t step, uint64_t first, size_t n, float p, float *out) {
    float keep = 1.0f / (1.0f - p);
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) out[i] = rng_dropout_at(s, step, first + i, p, keep);
}
