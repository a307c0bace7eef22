/* cpu_isa: the CPU backend's instruction-set paths and the table of
 * per-path kernels.
 *
 * One build runs on any x86-64-v2 machine. Code that benefits from wider
 * vectors exists once per path (generic = x86-64-v2, AVX2+FMA, AVX-512), each
 * compiled in its own translation unit with the matching -m flags (files
 * named *_avx2.c / *_avx512.c; the Makefile adds the flags) and
 * -ffp-contract=off everywhere. At run time cpu_vec() is the table of the
 * active path: the best one the CPU supports, or the one VADBENCH_ISA /
 * kisa_set chose.
 *
 * The rule that makes every path give the same bits: each path performs the
 * same IEEE single-precision operations on each element in the same order.
 * Vector lanes never combine with each other (no horizontal sums, no
 * reductions whose order follows the vector width); a sum that crosses rows
 * is accumulated per element in a fixed row order. The GEMM's sum over K is
 * one fused multiply-add chain per output element on every path (fmaf in the
 * portable C path: correctly rounded, like the vector FMA instructions).
 *
 * Not for: code outside kernels/cpu/ (the public switch is kisa_* in
 * kernels.h). */
#ifndef VB_CPU_ISA_H
#define VB_CPU_ISA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/kernels.h"

/* Columns of one packed GEMM panel: the packed layout of op(B) is the same
 * on every path (so packed weights survive a path switch). */
#define GEMM_NR 16

/* One micro-tile of the GEMM: C[0..mr, 0..nr) of a tile whose K range is one
 * block of the full product. op(A)[i, p] = a[p*as + i] (i < mr, p < kc), or
 * with `rows` a[i*as + p] (A read in place, row by row, for narrow products);
 * packed op(B) panel q (q < nv) starts at b + q*bps, element (p, jj) at
 * p*GEMM_NR + jj. The chain of each output element: when `first`, it starts
 * at +0, otherwise at the value C holds (the previous K block's chain); then
 * acc = fma(a, b, acc) for p = 0..kc-1. When `last`, C = alpha*acc, then
 * C = fma(beta, C_old, C) when beta != 0, then C = C + bias[j] when bias;
 * otherwise C = acc (an intermediate chain; only when the caller guarantees
 * beta == 0 for split K). */
typedef struct GemmTile {
    int kc;
    const float *a;
    ptrdiff_t as;
    const float *b;
    size_t bps;
    float *c;
    int ldc, mr, nr;
    bool rows;
    bool first, last;
    float alpha, beta;
    const float *bias;
} GemmTile;

/* ---- per-path vector kernels (bodies in cpu_vec_body.h) ---- */

/* Batch-norm block coefficients for up to CPU_BN_CB channels (see cpu_norm.c);
 * item sums run in float over sub-tiles of CPU_BN_SUB rows, added in double.
 * The block width decides only which thread does which channel, never a
 * bit of the result; 256 streams whole rows of most layers (Option A training
 * step, 2 threads: 64 140-145 ms, 128 135-143, 256 131-136, 512 149-154). */
#define CPU_BN_CB 256
#define CPU_BN_SUB 16
typedef struct BnBlock {
    float m[CPU_BN_CB], is[CPU_BN_CB], g[CPU_BN_CB], b[CPU_BN_CB], k1[CPU_BN_CB], k2[CPU_BN_CB],
        o[CPU_BN_CB];
} BnBlock;

/* AdamW constants of one step (derived once on the host). */
typedef struct AdamWArgs {
    float b1, b2, omb1, omb2; /* beta_i and 1 - beta_i */
    float eps, decay;         /* decay = 1 - lr*wd */
    float step_size;          /* lr / bc1 */
    float bc2_sqrt;           /* sqrt(1 - b2^step) */
    float gscale;             /* gradient scale of the fused clip (1: none) */
} AdamWArgs;

typedef struct CpuVec {
    KIsa isa;
    /* GEMM: micro-tile (mr <= the plan's mr, nv a power of two <= the plan's nv) */
    void (*gemm_tile)(const GemmTile *t, int nv);
    /* rows per micro-tile and panels per micro-tile for a product of m rows;
     * gemm_plan_rows: the same for `rows` tiles of a product n <= 64 wide */
    void (*gemm_plan)(int m, int *mr, int *nv);
    void (*gemm_plan_rows)(int m, int n, int *mr, int *nv);
    /* packing: dst[c*ldd + r] = r < rv ? src[r*lds + c] : 0 for c < cols,
     * r < rs (rv <= rs <= 16); moves values only, the same on every path */
    void (*transpose)(const float *src, size_t lds, int rv, int rs, int cols, float *dst, int ldd);

    /* batchnorm items over rows [r0, r1) of a block of w <= CPU_BN_CB channels
     * (x, y, dy, out already offset to the block; c = row stride) */
    void (*bn_stats)(const float *x, const float *shift, int c, int r0, int r1, int w, double *s1,
                     double *s2);
    void (*bn_apply)(KAct a, const float *x, float *y, int c, int r0, int r1, int w,
                     const BnBlock *bk);
    void (*bn_gsum)(KAct a, const float *x, const float *dy, float *out, int c, int r0, int r1,
                    int w, const BnBlock *bk, double *s1, double *s2);
    void (*bn_dx)(const float *x, float *dx, int c, int r0, int r1, int w, const BnBlock *bk);

    /* elementwise: y = act(x), dx = dy * act'(x) over len values */
    void (*act_fwd)(KAct a, size_t len, const float *x, float *y);
    void (*act_bwd)(KAct a, size_t len, const float *x, const float *dy, float *dx);

    /* sum (or sum of squares) of len values in 8 double lanes, x[i] into
     * lane i % 8, lanes combined ((0+1)+(2+3))+((4+5)+(6+7)) */
    double (*tile_sum)(const float *x, size_t len, bool squares);
    /* AdamW over [i0, i1) with the gradient scaled by a->gscale first */
    void (*adamw)(const AdamWArgs *a, size_t len, float *p, const float *g, float *m, float *v);

    /* depthwise: out[j] = (init ? init[j] : 0) + sum_t a[t][j]*b[t][j], taps in order */
    void (*dw_taps)(int nt, const float *const *a, const float *const *b, int cn, const float *init,
                    float *out);
    /* acc[j] += sum_{i<cnt} a[i*sa + j] * b[i*sb + j] (i ascending) */
    void (*strip_dot)(int cnt, const float *a, size_t sa, const float *b, size_t sb, int cn,
                      float *acc);
    /* acc[j] += sum_{i<cnt} a[i*sa + j] */
    void (*strip_sum)(int cnt, const float *a, size_t sa, int cn, float *acc);

    /* pooling / SE over one sample: out[j] = (sum_q a[q*c+j] (*b[q*c+j])) / div,
     * q ascending, double accumulators; y[q*c+j] = x[q*c+j]*g[j] (+ add[j]) */
    void (*hw_sum)(int hw, int c, const float *a, const float *b, float div, float *out);
    void (*chan_scale)(int hw, int c, const float *x, const float *g, const float *add, float *y);
} CpuVec;

extern const CpuVec cpu_vec_generic, cpu_vec_avx2, cpu_vec_avx512;

/* The GEMM micro-kernels (gemm_<path>.c) the tables point to. */
void gemm_tile_generic(const GemmTile *t, int nv);
void gemm_plan_generic(int m, int *mr, int *nv);
void gemm_plan_rows_generic(int m, int n, int *mr, int *nv);
void gemm_tile_avx2(const GemmTile *t, int nv);
void gemm_plan_avx2(int m, int *mr, int *nv);
void gemm_plan_rows_avx2(int m, int n, int *mr, int *nv);
void gemm_tile_avx512(const GemmTile *t, int nv);
void gemm_plan_avx512(int m, int *mr, int *nv);
void gemm_plan_rows_avx512(int m, int n, int *mr, int *nv);

/* The active path's table (chosen on first use; kisa_set changes it). */
const CpuVec *cpu_vec(void);

#endif
