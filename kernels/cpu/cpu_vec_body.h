/* cpu_vec_body: the vector kernels of the CPU backend, compiled once per
 * instruction-set path (cpu_vec_generic.c, cpu_vec_avx2.c, cpu_vec_avx512.c
 * include this file with VEC_ISA / VEC_NAME set and their own -m flags).
 *
 * The rule (cpu_isa.h): the source fixes every element's operations and
 * their order; the compiler only chooses how many lanes run at once. Loops
 * are either `omp simd` over independent elements or written with GCC vector
 * extensions of 64 bytes (v16) whose arithmetic is lane-wise; nothing sums
 * across lanes, and -ffp-contract=off keeps a*b+c as two roundings. Sums over
 * rows accumulate each column in row order. The per-element math (exp,
 * sigmoid, activations) is the shared inline functions of cpu_act.h.
 *
 * Shapes: batchnorm items of w <= CPU_BN_CB channels over a row range of a
 * [rows, c] array; elementwise spans; depthwise channel strips; one
 * sample's [hw, c] map for pooling and SE. Not for: aliasing other than
 * where a kernel says so. */
#ifndef VEC_NAME
#error "cpu_vec_body.h is included by cpu_vec_<path>.c only"
#endif

#include <math.h>
#include <string.h>

#include "cpu_act.h"
#include "cpu_isa.h"

typedef float v16 __attribute__((vector_size(64)));
typedef float v8 __attribute__((vector_size(32)));
static inline v16 ld16(const float *p) {
    v16 v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void st16(float *p, v16 v) { memcpy(p, &v, sizeof v); }
static inline v8 ld8(const float *p) {
    v8 v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void st8(float *p, v8 v) { memcpy(p, &v, sizeof v); }

/* ------------------------------------------------------------------------ */
/* GEMM packing: a transpose of up to 16 rows (gemm.c's panels of op(B) and
 * micro-panels of A). Only moves values. */

#if defined(__AVX512F__) /* the avx512 path's translation unit */
#include <immintrin.h>

/* The 16 registers r[0..16) (rows) become the columns of the 16x16 block. */
static inline __attribute__((always_inline)) void transpose16x16(__m512 *r) {
    __m512 t[16], u[16], v[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        u[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
        u[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
        u[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
        u[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    for (int h = 0; h < 2; h++)
        for (int i = 0; i < 4; i++) {
            v[8 * h + i] = _mm512_shuffle_f32x4(u[8 * h + i], u[8 * h + 4 + i], 0x88);
            v[8 * h + 4 + i] = _mm512_shuffle_f32x4(u[8 * h + i], u[8 * h + 4 + i], 0xDD);
        }
    for (int i = 0; i < 8; i++) {
        r[i] = _mm512_shuffle_f32x4(v[i], v[8 + i], 0x88);
        r[8 + i] = _mm512_shuffle_f32x4(v[i], v[8 + i], 0xDD);
    }
}

static void VEC_NAME(transpose)(const float *src, size_t lds, int rv, int rs, int cols, float *dst,
                                int ldd) {
    const __mmask16 ms = (__mmask16)((1u << rs) - 1u);
    for (int c0 = 0; c0 < cols; c0 += 16) {
        const int cw = cols - c0 < 16 ? cols - c0 : 16;
        const __mmask16 mc = (__mmask16)((1u << cw) - 1u);
        __m512 r[16];
        for (int i = 0; i < 16; i++)
            r[i] = i < rv ? _mm512_maskz_loadu_ps(mc, src + i * lds + c0) : _mm512_setzero_ps();
        transpose16x16(r);
        for (int i = 0; i < cw; i++) _mm512_mask_storeu_ps(dst + (size_t)(c0 + i) * ldd, ms, r[i]);
    }
}
#else
static void VEC_NAME(transpose)(const float *src, size_t lds, int rv, int rs, int cols, float *dst,
                                int ldd) {
    for (int c = 0; c < cols; c++) {
        float *d = dst + (size_t)c * ldd;
        for (int r = 0; r < rv; r++) d[r] = src[r * lds + c];
        for (int r = rv; r < rs; r++) d[r] = 0.0f;
    }
}
#endif

/* ------------------------------------------------------------------------ */
/* Batchnorm items (see cpu_norm.c for the drivers). */

/* s1[j] = sum_r (x - shift), s2[j] = sum_r (x - shift)^2 over rows [r0,r1):
 * float accumulators over sub-tiles of CPU_BN_SUB rows (rows in order), each
 * sub-tile's sums added to double totals in order. Overwrites s1, s2 [w]. */
static void VEC_NAME(bn_stats)(const float *x, const float *shift, int c, int r0, int r1, int w,
                               double *s1, double *s2) {
    double d1[CPU_BN_CB] = {0}, d2[CPU_BN_CB] = {0};
    for (int rs = r0; rs < r1; rs += CPU_BN_SUB) {
        const int re = r1 - rs < CPU_BN_SUB ? r1 : rs + CPU_BN_SUB;
        float a1[CPU_BN_CB] = {0}, a2[CPU_BN_CB] = {0};
        for (int r = rs; r < re; r++) {
            const float *xr = x + (size_t)r * c;
#pragma omp simd
            for (int j = 0; j < w; j++) {
                float d = xr[j] - shift[j];
                a1[j] += d;
                a2[j] += d * d;
            }
        }
#pragma omp simd
        for (int j = 0; j < w; j++) d1[j] += a1[j], d2[j] += a2[j];
    }
    memcpy(s1, d1, (size_t)w * sizeof(double));
    memcpy(s2, d2, (size_t)w * sizeof(double));
}

/* Software prefetch of the row BN_PF rows ahead (w channels at p) for the
 * two item kernels that do an exp and a division per element: there the
 * hardware prefetcher falls behind on tensors larger than L2 (Option A
 * training step, 2 threads, interleaved: 130-133 -> 119-122 ms; 2 rows
 * ahead the same, 8 worse; no gain in bn_stats, bn_dx or the GEMM's
 * transposes). Moves no values. */
#define BN_PF 4
static inline __attribute__((always_inline)) void bn_prefetch(const float *p, int w) {
    for (int j = 0; j < w; j += 16) __builtin_prefetch(p + j);
}

/* y = act(xhat*g + b), xhat = (x - m)*is. */
static inline __attribute__((always_inline)) void VEC_NAME(bn_apply_k)(KAct a, const float *x,
                                                                       float *y, int c, int r0,
                                                                       int r1, int w,
                                                                       const BnBlock *bk) {
    for (int r = r0; r < r1; r++) {
        const float *xr = x + (size_t)r * c;
        float *yr = y + (size_t)r * c;
        if (r + BN_PF < r1) bn_prefetch(xr + (size_t)BN_PF * c, w);
#pragma omp simd
        for (int j = 0; j < w; j++) {
            float xh = (xr[j] - bk->m[j]) * bk->is[j];
            yr[j] = act_value(a, xh * bk->g[j] + bk->b[j]);
        }
    }
}
static void VEC_NAME(bn_apply)(KAct a, const float *x, float *y, int c, int r0, int r1, int w,
                               const BnBlock *bk) {
    ACT_DISPATCH(a, VEC_NAME(bn_apply_k), x, y, c, r0, r1, w, bk)
}

/* dp = dy * act'(pre); s1 = sum dp, s2 = sum dp*xhat (float sub-tiles of
 * CPU_BN_SUB rows into double totals, as bn_stats); when `out`, out = dp * o
 * (dy is read before out is written: may alias). */
static inline __attribute__((always_inline)) void VEC_NAME(bn_gsum_k)(
    KAct a, bool store, const float *x, const float *dy, float *out, int c, int r0, int r1, int w,
    const BnBlock *bk, double *s1, double *s2) {
    double d1[CPU_BN_CB] = {0}, d2[CPU_BN_CB] = {0};
    for (int rs = r0; rs < r1; rs += CPU_BN_SUB) {
        const int re = r1 - rs < CPU_BN_SUB ? r1 : rs + CPU_BN_SUB;
        float a1[CPU_BN_CB] = {0}, a2[CPU_BN_CB] = {0};
        for (int r = rs; r < re; r++) {
            const float *xr = x + (size_t)r * c, *gr = dy + (size_t)r * c;
            float *orow = store ? out + (size_t)r * c : NULL;
            if (r + BN_PF < r1) {
                bn_prefetch(xr + (size_t)BN_PF * c, w);
                bn_prefetch(gr + (size_t)BN_PF * c, w);
            }
#pragma omp simd
            for (int j = 0; j < w; j++) {
                float xh = (xr[j] - bk->m[j]) * bk->is[j];
                float dp = gr[j] * act_slope(a, xh * bk->g[j] + bk->b[j]);
                a1[j] += dp;
                a2[j] += dp * xh;
                if (store) orow[j] = dp * bk->o[j];
            }
        }
#pragma omp simd
        for (int j = 0; j < w; j++) d1[j] += a1[j], d2[j] += a2[j];
    }
    memcpy(s1, d1, (size_t)w * sizeof(double));
    memcpy(s2, d2, (size_t)w * sizeof(double));
}
#define VEC_GSUM_STORE(a, ...) VEC_NAME(bn_gsum_k)(a, true, __VA_ARGS__)
#define VEC_GSUM_SUMS(a, ...) VEC_NAME(bn_gsum_k)(a, false, __VA_ARGS__)
static void VEC_NAME(bn_gsum)(KAct a, const float *x, const float *dy, float *out, int c, int r0,
                              int r1, int w, const BnBlock *bk, double *s1, double *s2) {
    if (out) {
        ACT_DISPATCH(a, VEC_GSUM_STORE, x, dy, out, c, r0, r1, w, bk, s1, s2)
    } else {
        ACT_DISPATCH(a, VEC_GSUM_SUMS, x, dy, NULL, c, r0, r1, w, bk, s1, s2)
    }
}
#undef VEC_GSUM_STORE
#undef VEC_GSUM_SUMS

/* dx (holding dp) becomes (dp - k1 - xhat*k2) * (g*is). */
static void VEC_NAME(bn_dx)(const float *x, float *dx, int c, int r0, int r1, int w,
                            const BnBlock *bk) {
    for (int r = r0; r < r1; r++) {
        const float *xr = x + (size_t)r * c;
        float *dr = dx + (size_t)r * c;
#pragma omp simd
        for (int j = 0; j < w; j++) {
            float xh = (xr[j] - bk->m[j]) * bk->is[j];
            dr[j] = (dr[j] - bk->k1[j] - xh * bk->k2[j]) * (bk->g[j] * bk->is[j]);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Elementwise activations over a span (y may alias x; dx may alias dy). */

static inline __attribute__((always_inline)) void VEC_NAME(act_fwd_k)(KAct a, size_t len,
                                                                      const float *x, float *y) {
#pragma omp simd
    for (size_t i = 0; i < len; i++) y[i] = act_value(a, x[i]);
}
static inline __attribute__((always_inline)) void VEC_NAME(act_bwd_k)(KAct a, size_t len,
                                                                      const float *x,
                                                                      const float *dy, float *dx) {
#pragma omp simd
    for (size_t i = 0; i < len; i++) dx[i] = dy[i] * act_slope(a, x[i]);
}
static void VEC_NAME(act_fwd)(KAct a, size_t len, const float *x, float *y) {
    if (a == K_ACT_NONE) {
        if (y != x) memmove(y, x, len * sizeof(float));
        return;
    }
    ACT_DISPATCH(a, VEC_NAME(act_fwd_k), len, x, y);
}
static void VEC_NAME(act_bwd)(KAct a, size_t len, const float *x, const float *dy, float *dx) {
    if (a == K_ACT_NONE) {
        if (dx != dy) memmove(dx, dy, len * sizeof(float));
        return;
    }
    ACT_DISPATCH(a, VEC_NAME(act_bwd_k), len, x, dy, dx);
}

/* ------------------------------------------------------------------------ */
/* Whole-array sums: 8 double lanes (x[i] into lane i % 8), a fixed tree. */
static double VEC_NAME(tile_sum)(const float *x, size_t len, bool squares) {
    double lane[8] = {0};
    size_t i = 0;
    if (squares) {
        for (; i + 8 <= len; i += 8) {
#pragma omp simd
            for (int j = 0; j < 8; j++) lane[j] += (double)x[i + j] * x[i + j];
        }
        for (int j = 0; i < len; i++, j++) lane[j] += (double)x[i] * x[i];
    } else {
        for (; i + 8 <= len; i += 8) {
#pragma omp simd
            for (int j = 0; j < 8; j++) lane[j] += x[i + j];
        }
        for (int j = 0; i < len; i++, j++) lane[j] += x[i];
    }
    return ((lane[0] + lane[1]) + (lane[2] + lane[3])) +
           ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

/* ------------------------------------------------------------------------ */
/* AdamW (PyTorch's order of operations), the clip's gradient scale fused:
 * g' = g*gscale; p *= decay; m = b1 m + (1-b1) g'; v = b2 v + (1-b2) g' g';
 * p -= step_size * (m / (sqrt(v)/bc2_sqrt + eps)). sqrt is IEEE-exact. */
static void VEC_NAME(adamw)(const AdamWArgs *a, size_t len, float *p, const float *g, float *m,
                            float *v) {
    const float b1 = a->b1, b2 = a->b2, omb1 = a->omb1, omb2 = a->omb2, eps = a->eps;
    const float decay = a->decay, step_size = a->step_size, bc2_sqrt = a->bc2_sqrt;
    const float gs = a->gscale;
#pragma omp simd
    for (size_t i = 0; i < len; i++) {
        float gi = g[i] * gs;
        float pi = p[i] * decay;
        float mi = b1 * m[i] + omb1 * gi;
        float vi = b2 * v[i] + omb2 * gi * gi;
        float denom = __builtin_sqrtf(vi) / bc2_sqrt + eps;
        m[i] = mi, v[i] = vi;
        p[i] = pi - step_size * (mi / denom);
    }
}

/* ------------------------------------------------------------------------ */
/* Channel strips (depthwise convolution, bias sums): 64 channels at a time
 * in four 16-lane vectors (independent chains), then 16, 8, 1. */

static void VEC_NAME(dw_taps)(int nt, const float *const *a, const float *const *b, int cn,
                              const float *init, float *out) {
    int j = 0;
    for (; j + 64 <= cn; j += 64) {
        v16 s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
        if (init)
            s0 = ld16(init + j), s1 = ld16(init + j + 16), s2 = ld16(init + j + 32),
            s3 = ld16(init + j + 48);
        for (int t = 0; t < nt; t++) {
            const float *x = a[t] + j, *w = b[t] + j;
            s0 += ld16(x) * ld16(w);
            s1 += ld16(x + 16) * ld16(w + 16);
            s2 += ld16(x + 32) * ld16(w + 32);
            s3 += ld16(x + 48) * ld16(w + 48);
        }
        st16(out + j, s0), st16(out + j + 16, s1), st16(out + j + 32, s2), st16(out + j + 48, s3);
    }
    for (; j + 16 <= cn; j += 16) {
        v16 s = init ? ld16(init + j) : (v16){0};
        for (int t = 0; t < nt; t++) s += ld16(a[t] + j) * ld16(b[t] + j);
        st16(out + j, s);
    }
    for (; j + 8 <= cn; j += 8) {
        v8 s = init ? ld8(init + j) : (v8){0};
        for (int t = 0; t < nt; t++) s += ld8(a[t] + j) * ld8(b[t] + j);
        st8(out + j, s);
    }
    for (; j < cn; j++) {
        float s = init ? init[j] : 0.0f;
        for (int t = 0; t < nt; t++) s += a[t][j] * b[t][j];
        out[j] = s;
    }
}

static void VEC_NAME(strip_dot)(int cnt, const float *a, size_t sa, const float *b, size_t sb,
                                int cn, float *acc) {
    int j = 0;
    for (; j + 64 <= cn; j += 64) {
        v16 s0 = ld16(acc + j), s1 = ld16(acc + j + 16), s2 = ld16(acc + j + 32),
            s3 = ld16(acc + j + 48);
        for (int i = 0; i < cnt; i++) {
            const float *x = a + i * sa + j, *y = b + i * sb + j;
            s0 += ld16(x) * ld16(y);
            s1 += ld16(x + 16) * ld16(y + 16);
            s2 += ld16(x + 32) * ld16(y + 32);
            s3 += ld16(x + 48) * ld16(y + 48);
        }
        st16(acc + j, s0), st16(acc + j + 16, s1), st16(acc + j + 32, s2), st16(acc + j + 48, s3);
    }
    for (; j + 16 <= cn; j += 16) {
        v16 s = ld16(acc + j);
        for (int i = 0; i < cnt; i++) s += ld16(a + i * sa + j) * ld16(b + i * sb + j);
        st16(acc + j, s);
    }
    for (; j + 8 <= cn; j += 8) {
        v8 s = ld8(acc + j);
        for (int i = 0; i < cnt; i++) s += ld8(a + i * sa + j) * ld8(b + i * sb + j);
        st8(acc + j, s);
    }
    for (; j < cn; j++) {
        float s = acc[j];
        for (int i = 0; i < cnt; i++) s += a[i * sa + j] * b[i * sb + j];
        acc[j] = s;
    }
}

static void VEC_NAME(strip_sum)(int cnt, const float *a, size_t sa, int cn, float *acc) {
    int j = 0;
    for (; j + 64 <= cn; j += 64) {
        v16 s0 = ld16(acc + j), s1 = ld16(acc + j + 16), s2 = ld16(acc + j + 32),
            s3 = ld16(acc + j + 48);
        for (int i = 0; i < cnt; i++) {
            const float *x = a + i * sa + j;
            s0 += ld16(x), s1 += ld16(x + 16), s2 += ld16(x + 32), s3 += ld16(x + 48);
        }
        st16(acc + j, s0), st16(acc + j + 16, s1), st16(acc + j + 32, s2), st16(acc + j + 48, s3);
    }
    for (; j + 16 <= cn; j += 16) {
        v16 s = ld16(acc + j);
        for (int i = 0; i < cnt; i++) s += ld16(a + i * sa + j);
        st16(acc + j, s);
    }
    for (; j < cn; j++) {
        float s = acc[j];
        for (int i = 0; i < cnt; i++) s += a[i * sa + j];
        acc[j] = s;
    }
}

/* ------------------------------------------------------------------------ */
/* One sample's [hw, c] map: out[j] = (sum_q a[q*c+j] (*b[q*c+j])) / div,
 * double accumulators (8 per 64-byte vector), q in order — float sums over
 * up to 1024 positions cost the PyTorch parity tests measurable accuracy;
 * y = x*g (+ add), per channel. */

static void VEC_NAME(hw_sum)(int hw, int c, const float *a, const float *b, float div, float *out) {
    for (int j0 = 0; j0 < c; j0 += CPU_BN_CB) {
        const int w = c - j0 < CPU_BN_CB ? c - j0 : CPU_BN_CB;
        double acc[CPU_BN_CB] = {0};
        for (int q = 0; q < hw; q++) {
            const float *ar = a + (size_t)q * c + j0;
            if (b) {
                const float *br = b + (size_t)q * c + j0;
#pragma omp simd
                for (int j = 0; j < w; j++) acc[j] += (double)ar[j] * br[j];
            } else {
#pragma omp simd
                for (int j = 0; j < w; j++) acc[j] += ar[j];
            }
        }
#pragma omp simd
        for (int j = 0; j < w; j++) out[j0 + j] = (float)(acc[j] / div);
    }
}

static void VEC_NAME(chan_scale)(int hw, int c, const float *x, const float *g, const float *add,
                                 float *y) {
    for (int q = 0; q < hw; q++) {
        const float *xr = x + (size_t)q * c;
        float *yr = y + (size_t)q * c;
        if (add) {
#pragma omp simd
            for (int j = 0; j < c; j++) yr[j] = xr[j] * g[j] + add[j];
        } else {
#pragma omp simd
            for (int j = 0; j < c; j++) yr[j] = xr[j] * g[j];
        }
    }
}

const CpuVec VEC_NAME(cpu_vec) = {
    .isa = VEC_ISA,
    .gemm_tile = VEC_NAME(gemm_tile),
    .gemm_plan = VEC_NAME(gemm_plan),
    .gemm_plan_rows = VEC_NAME(gemm_plan_rows),
    .transpose = VEC_NAME(transpose),
    .bn_stats = VEC_NAME(bn_stats),
    .bn_apply = VEC_NAME(bn_apply),
    .bn_gsum = VEC_NAME(bn_gsum),
    .bn_dx = VEC_NAME(bn_dx),
    .act_fwd = VEC_NAME(act_fwd),
    .act_bwd = VEC_NAME(act_bwd),
    .adamw = VEC_NAME(adamw),
    .tile_sum = VEC_NAME(tile_sum),
    .dw_taps = VEC_NAME(dw_taps),
    .strip_dot = VEC_NAME(strip_dot),
    .strip_sum = VEC_NAME(strip_sum),
    .hw_sum = VEC_NAME(hw_sum),
    .chan_scale = VEC_NAME(chan_scale),
};
