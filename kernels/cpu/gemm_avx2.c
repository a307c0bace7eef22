/* gemm_avx2: the GEMM micro-kernels of the AVX2+FMA path (compiled with
 * -mavx2 -mfma; run only when the CPU has them).
 *
 * Same scheme as gemm_avx512.c with 8-wide ymm registers: a panel of 16
 * columns is two registers. Every element's FMA chain runs p = 0..kc-1 in
 * order (gemm.h). Columns beyond nr are masked with maskload/maskstore.
 * Instantiated for (mr <= 6, nv 1), (mr <= 2, nv 2), (mr 1, nv 4): at most
 * 12 accumulators, within the 16 registers; the same shapes for `rows`
 * tiles (A read in place, row by row).
 *
 * Not for: other (mr, nv) pairs (asserted). */
#include <immintrin.h>

#include "cpu_isa.h"

static inline __m256i half_mask(int cnt) {
    cnt = cnt < 0 ? 0 : cnt > 8 ? 8 : cnt;
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(cnt), idx);
}

static inline __attribute__((always_inline)) void tile_k(const GemmTile *t, const int MR,
                                                         const int NV, const bool ROWS) {
    enum { H = 2 }; /* registers per panel */
    __m256 acc[12];
    __m256i mk[8];
    const float *a = t->a, *b = t->b;
    const ptrdiff_t as = t->as;
    const size_t bps = t->bps;
    float *c = t->c;
    const int ldc = t->ldc;
#pragma GCC unroll 8
    for (int h = 0; h < NV * H; h++) mk[h] = half_mask(t->nr - h * 8);
    if (t->first) {
#pragma GCC unroll 12
        for (int i = 0; i < MR * NV * H; i++) acc[i] = _mm256_setzero_ps();
    } else {
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
            for (int h = 0; h < NV * H; h++)
                acc[i * NV * H + h] = _mm256_maskload_ps(c + (size_t)i * ldc + h * 8, mk[h]);
    }
    const float *ar[6]; /* ROWS: row i of op(A) at ar[i], p contiguous */
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) ar[i] = a + i * as;
    for (int p = 0; p < t->kc; p++) {
        __m256 bv[8];
#pragma GCC unroll 8
        for (int h = 0; h < NV * H; h++)
            bv[h] = _mm256_loadu_ps(b + (h / H) * bps + (size_t)p * 16 + (h % H) * 8);
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++) {
            const __m256 ai = _mm256_broadcast_ss(ROWS ? ar[i] + p : a + i);
#pragma GCC unroll 8
            for (int h = 0; h < NV * H; h++)
                acc[i * NV * H + h] = _mm256_fmadd_ps(ai, bv[h], acc[i * NV * H + h]);
        }
        if (!ROWS) a += as;
    }
    if (!t->last) {
#pragma GCC unroll 6
        for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
            for (int h = 0; h < NV * H; h++)
                _mm256_maskstore_ps(c + (size_t)i * ldc + h * 8, mk[h], acc[i * NV * H + h]);
        return;
    }
    const __m256 valpha = _mm256_set1_ps(t->alpha), vbeta = _mm256_set1_ps(t->beta);
    const bool use_beta = t->beta != 0.0f;
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
        for (int h = 0; h < NV * H; h++) {
            float *cp = c + (size_t)i * ldc + h * 8;
            __m256 o = _mm256_mul_ps(valpha, acc[i * NV * H + h]);
            if (use_beta) o = _mm256_fmadd_ps(vbeta, _mm256_maskload_ps(cp, mk[h]), o);
            if (t->bias) o = _mm256_add_ps(o, _mm256_maskload_ps(t->bias + h * 8, mk[h]));
            _mm256_maskstore_ps(cp, mk[h], o);
        }
}

/* Each instantiation ends with a typedef so that a use reads as a
 * declaration (`TILE(1, 2);`). tile_*: packed / column-contiguous A;
 * rtile_*: A read in place row by row. */
#define TILE(MR, NV)                                                              \
    static void tile_##MR##_##NV(const GemmTile *t) { tile_k(t, MR, NV, false); } \
    typedef int tile_##MR##_##NV##_defined
#define RTILE(MR, NV)                                                             \
    static void rtile_##MR##_##NV(const GemmTile *t) { tile_k(t, MR, NV, true); } \
    typedef int rtile_##MR##_##NV##_defined
TILE(1, 1);
TILE(2, 1);
TILE(3, 1);
TILE(4, 1);
TILE(5, 1);
TILE(6, 1);
TILE(1, 2);
TILE(2, 2);
TILE(1, 4);
RTILE(1, 1);
RTILE(2, 1);
RTILE(3, 1);
RTILE(4, 1);
RTILE(5, 1);
RTILE(6, 1);
RTILE(1, 2);
RTILE(2, 2);
RTILE(1, 4);

typedef void (*TileFn)(const GemmTile *);
static const TileFn TILES_NV1[7] = {NULL,     tile_1_1, tile_2_1, tile_3_1,
                                    tile_4_1, tile_5_1, tile_6_1};
static const TileFn TILES_NV2[3] = {NULL, tile_1_2, tile_2_2};
static const TileFn RTILES_NV1[7] = {NULL,      rtile_1_1, rtile_2_1, rtile_3_1,
                                     rtile_4_1, rtile_5_1, rtile_6_1};
static const TileFn RTILES_NV2[3] = {NULL, rtile_1_2, rtile_2_2};

void gemm_tile_avx2(const GemmTile *t, int nv) {
    const int mr = t->mr;
    const bool r = t->rows;
    switch (nv) {
    case 1:
        VB_ASSERT(mr >= 1 && mr <= 6);
        (r ? RTILES_NV1 : TILES_NV1)[mr](t);
        break;
    case 2:
        VB_ASSERT(mr >= 1 && mr <= 2);
        (r ? RTILES_NV2 : TILES_NV2)[mr](t);
        break;
    case 4:
        VB_ASSERT(mr == 1);
        (r ? rtile_1_4 : tile_1_4)(t);
        break;
    default: VB_ASSERT(!"gemm_tile_avx2: nv must be 1, 2 or 4");
    }
}

void gemm_plan_avx2(int m, int *mr, int *nv) {
    if (m >= 3) *mr = m < 6 ? m : 6, *nv = 1;
    else if (m == 2) *mr = 2, *nv = 2;
    else *mr = 1, *nv = 4;
}

void gemm_plan_rows_avx2(int m, int n, int *mr, int *nv) {
    const int np = (n + 15) / 16;
    *nv = np <= 1 ? 1 : np <= 2 ? 2 : 4;
    const int cap = *nv == 1 ? 6 : *nv == 2 ? 2 : 1;
    *mr = m < 1 ? 1 : m < cap ? m : cap;
}
