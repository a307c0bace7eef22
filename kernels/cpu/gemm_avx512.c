/* gemm_avx512: the GEMM micro-kernels of the AVX-512 path (compiled with
 * -mavx512f/bw/dq/vl and FMA; run only when the CPU has them).
 *
 * A micro-tile is mr rows x nv panels of 16 columns, mr*nv accumulators in
 * zmm registers: for each p, the nv panel rows of op(B) are loaded, each
 * op(A)[i,p] is broadcast and fused-multiply-added into row i's
 * accumulators — every element's chain runs p = 0..kc-1 in order, the
 * contract of gemm.h. Columns beyond nr are masked off on load and store.
 * Instantiated for (mr <= 14, nv 1|2), (mr <= 6, nv 4), (mr <= 2, nv 8):
 * at most 28 accumulators plus the B rows fit the 32 registers; `rows`
 * tiles (A read in place row by row, for products at most 64 wide where
 * packing A would cost as much as the arithmetic) for (mr <= 8, nv 1|2) and
 * (mr <= 6, nv 4).
 *
 * Not for: other (mr, nv) pairs (asserted). */
#include <immintrin.h>

#include "cpu_isa.h"

static inline __attribute__((always_inline)) void tile_k(const GemmTile *t, const int MR,
                                                         const int NV, const bool ROWS) {
    __m512 acc[28];
    __mmask16 mk[8];
    const float *a = t->a, *b = t->b;
    const ptrdiff_t as = t->as;
    const size_t bps = t->bps;
    float *c = t->c;
    const int ldc = t->ldc;
#pragma GCC unroll 8
    for (int q = 0; q < NV; q++) {
        int cnt = t->nr - q * 16;
        cnt = cnt < 0 ? 0 : cnt > 16 ? 16 : cnt;
        mk[q] = (__mmask16)((1u << cnt) - 1u);
    }
    if (t->first) {
#pragma GCC unroll 28
        for (int i = 0; i < MR * NV; i++) acc[i] = _mm512_setzero_ps();
    } else {
#pragma GCC unroll 14
        for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
            for (int q = 0; q < NV; q++)
                acc[i * NV + q] = _mm512_maskz_loadu_ps(mk[q], c + (size_t)i * ldc + q * 16);
    }
    const float *ar[14]; /* ROWS: row i of op(A) at ar[i], p contiguous */
#pragma GCC unroll 14
    for (int i = 0; i < MR; i++) ar[i] = a + i * as;
    for (int p = 0; p < t->kc; p++) {
        __m512 bv[8];
#pragma GCC unroll 8
        for (int q = 0; q < NV; q++) bv[q] = _mm512_loadu_ps(b + q * bps + (size_t)p * 16);
#pragma GCC unroll 14
        for (int i = 0; i < MR; i++) {
            const __m512 ai = _mm512_set1_ps(ROWS ? ar[i][p] : a[i]);
#pragma GCC unroll 8
            for (int q = 0; q < NV; q++)
                acc[i * NV + q] = _mm512_fmadd_ps(ai, bv[q], acc[i * NV + q]);
        }
        if (!ROWS) a += as;
    }
    if (!t->last) {
#pragma GCC unroll 14
        for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
            for (int q = 0; q < NV; q++)
                _mm512_mask_storeu_ps(c + (size_t)i * ldc + q * 16, mk[q], acc[i * NV + q]);
        return;
    }
    const __m512 valpha = _mm512_set1_ps(t->alpha), vbeta = _mm512_set1_ps(t->beta);
    const bool use_beta = t->beta != 0.0f;
#pragma GCC unroll 14
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 8
        for (int q = 0; q < NV; q++) {
            float *cp = c + (size_t)i * ldc + q * 16;
            __m512 o = _mm512_mul_ps(valpha, acc[i * NV + q]);
            if (use_beta) o = _mm512_fmadd_ps(vbeta, _mm512_maskz_loadu_ps(mk[q], cp), o);
            if (t->bias) o = _mm512_add_ps(o, _mm512_maskz_loadu_ps(mk[q], t->bias + q * 16));
            _mm512_mask_storeu_ps(cp, mk[q], o);
        }
}

/* Each instantiation ends with a typedef so that a use reads as a
 * declaration (`TILE(1, 2);`). Packed / column-contiguous A (tile_*) and
 * A read row by row in place (rtile_*, at most 8 rows: their pointers stay
 * in registers). */
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
TILE(7, 1);
TILE(8, 1);
TILE(9, 1);
TILE(10, 1);
TILE(11, 1);
TILE(12, 1);
TILE(13, 1);
TILE(14, 1);
TILE(1, 2);
TILE(2, 2);
TILE(3, 2);
TILE(4, 2);
TILE(5, 2);
TILE(6, 2);
TILE(7, 2);
TILE(8, 2);
TILE(9, 2);
TILE(10, 2);
TILE(11, 2);
TILE(12, 2);
TILE(13, 2);
TILE(14, 2);
TILE(1, 4);
TILE(2, 4);
TILE(3, 4);
TILE(4, 4);
TILE(5, 4);
TILE(6, 4);
TILE(1, 8);
TILE(2, 8);
RTILE(1, 1);
RTILE(2, 1);
RTILE(3, 1);
RTILE(4, 1);
RTILE(5, 1);
RTILE(6, 1);
RTILE(7, 1);
RTILE(8, 1);
RTILE(1, 2);
RTILE(2, 2);
RTILE(3, 2);
RTILE(4, 2);
RTILE(5, 2);
RTILE(6, 2);
RTILE(7, 2);
RTILE(8, 2);
RTILE(1, 4);
RTILE(2, 4);
RTILE(3, 4);
RTILE(4, 4);
RTILE(5, 4);
RTILE(6, 4);

typedef void (*TileFn)(const GemmTile *);
#define ROW14(NV)                                                                            \
    {                                                                                        \
        NULL, tile_1_##NV, tile_2_##NV, tile_3_##NV, tile_4_##NV, tile_5_##NV, tile_6_##NV,  \
            tile_7_##NV, tile_8_##NV, tile_9_##NV, tile_10_##NV, tile_11_##NV, tile_12_##NV, \
            tile_13_##NV, tile_14_##NV                                                       \
    }
#define RROW8(NV)                                                                                 \
    {                                                                                             \
        NULL, rtile_1_##NV, rtile_2_##NV, rtile_3_##NV, rtile_4_##NV, rtile_5_##NV, rtile_6_##NV, \
            rtile_7_##NV, rtile_8_##NV                                                            \
    }
static const TileFn TILES_NV1[15] = ROW14(1);
static const TileFn TILES_NV2[15] = ROW14(2);
static const TileFn TILES_NV4[7] = {NULL,     tile_1_4, tile_2_4, tile_3_4,
                                    tile_4_4, tile_5_4, tile_6_4};
static const TileFn TILES_NV8[3] = {NULL, tile_1_8, tile_2_8};
static const TileFn RTILES_NV1[9] = RROW8(1);
static const TileFn RTILES_NV2[9] = RROW8(2);
static const TileFn RTILES_NV4[7] = {NULL,      rtile_1_4, rtile_2_4, rtile_3_4,
                                     rtile_4_4, rtile_5_4, rtile_6_4};

void gemm_tile_avx512(const GemmTile *t, int nv) {
    const int mr = t->mr;
    if (t->rows) {
        switch (nv) {
        case 1:
            VB_ASSERT(mr >= 1 && mr <= 8);
            RTILES_NV1[mr](t);
            break;
        case 2:
            VB_ASSERT(mr >= 1 && mr <= 8);
            RTILES_NV2[mr](t);
            break;
        case 4:
            VB_ASSERT(mr >= 1 && mr <= 6);
            RTILES_NV4[mr](t);
            break;
        default: VB_ASSERT(!"gemm_tile_avx512: rows tiles take nv 1, 2 or 4");
        }
        return;
    }
    switch (nv) {
    case 1:
        VB_ASSERT(mr >= 1 && mr <= 14);
        TILES_NV1[mr](t);
        break;
    case 2:
        VB_ASSERT(mr >= 1 && mr <= 14);
        TILES_NV2[mr](t);
        break;
    case 4:
        VB_ASSERT(mr >= 1 && mr <= 6);
        TILES_NV4[mr](t);
        break;
    case 8:
        VB_ASSERT(mr >= 1 && mr <= 2);
        TILES_NV8[mr](t);
        break;
    default: VB_ASSERT(!"gemm_tile_avx512: nv must be 1, 2, 4 or 8");
    }
}

void gemm_plan_avx512(int m, int *mr, int *nv) {
    if (m >= 7) *mr = m < 14 ? m : 14, *nv = 2;
    else if (m >= 3) *mr = m, *nv = 4;
    else *mr = m < 1 ? 1 : m, *nv = 8;
}

void gemm_plan_rows_avx512(int m, int n, int *mr, int *nv) {
    const int np = (n + 15) / 16;
    *nv = np <= 1 ? 1 : np <= 2 ? 2 : 4;
    const int cap = *nv == 4 ? 6 : 8;
    *mr = m < 1 ? 1 : m < cap ? m : cap;
}
