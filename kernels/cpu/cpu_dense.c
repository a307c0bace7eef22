/* cpu_dense: the CPU backend's dense algebra, elementwise ops, softmax family
 * and reductions.
 *
 * Shapes are row-major float32: gemm on strided [m,k]x[k,n] views, linear
 * layers on x [rows,in] with PyTorch weights [out,in], elementwise ops on flat
 * arrays, softmax over the last dim of [rows,n], column sums over [rows,c].
 *
 * Determinism: every output element is written by exactly one thread and
 * every reduction has a fixed order. GEMMs are the own SGEMM (gemm.h: one FMA
 * chain over k per element on every path and thread count); sums are cut
 * into CPU_TILE tiles whose double partials are combined in tile order. None of these boundaries depend on the thread count,
 * and `if` clauses only decide whether a loop runs on one thread or many.
 *
 * Nothing here allocates. Not for: inputs that alias outputs other than
 * where a comment allows it. */
#include "cpu_internal.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#define EW_BLOCK 8192 /* elements per block of an elementwise op */
#define PAR_MIN 32768 /* below this many elements, loops stay on one thread */
#define RED_W 512     /* columns per super-block in col_sum */
#define RED_CB 64     /* columns per work item in col_sum */
#define RED_BUF 4096  /* doubles of tile partials held per round (stack) */
#define SUM_ROUND 256 /* tiles per round in sum/sumsq */

static inline int imin(int a, int b) { return a < b ? a : b; }
static inline size_t zmin(size_t a, size_t b) { return a < b ? a : b; }

/* ------------------------------------------------------------------------ */
/* GEMM: the own fixed-order SGEMM (gemm.h), threads over tiles of C. */

/* C[m,n] = alpha op(A) op(B) + beta C (overwrite when beta == 0). op(A) is
 * [m,k]: A is stored [m,k] (lda >= k) or, when ta, [k,m] (lda >= m). */
static void cpu_gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda,
                     const float *b, int ldb, float beta, float *c, int ldc) {
    gemm_par(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, NULL, false);
}

/* ------------------------------------------------------------------------ */
/* Column sums: y[c] = sum over rows of x[rows,c]. Rows are cut into CPU_TILE
 * tiles; each (tile, column block) item writes double partials to a stack
 * buffer, and partials are added into the total in tile order, a round of
 * tiles at a time. A column's result depends only on rows and CPU_TILE. */

static void col_sum_tile(const float *x, int c, int r0, int r1, int j0, int w, double *out) {
    for (int j = 0; j < w; j++) out[j] = 0;
    for (int r = r0; r < r1; r++) {
        const float *xr = x + (size_t)r * c + j0;
#pragma omp simd
        for (int j = 0; j < w; j++) out[j] += xr[j];
    }
}

static void col_sum_impl(int rows, int c, const float *x, float *y, bool accumulate) {
    double part[RED_BUF], tot[RED_W];
    int ntiles = rows > 0 ? (rows + CPU_TILE - 1) / CPU_TILE : 0;
    for (int j0 = 0; j0 < c; j0 += RED_W) {
        int w = imin(RED_W, c - j0);
        int nblk = (w + RED_CB - 1) / RED_CB;
        int per_round = RED_BUF / w;
        for (int j = 0; j < w; j++) tot[j] = 0;
        bool par = (size_t)rows * w >= PAR_MIN;
#pragma omp parallel if (par)
        for (int t0 = 0; t0 < ntiles; t0 += per_round) {
            int nt = imin(per_round, ntiles - t0);
#pragma omp for schedule(static)
            for (int it = 0; it < nt * nblk; it++) {
                int t = it / nblk, jb = (it % nblk) * RED_CB;
                int r0 = (t0 + t) * CPU_TILE;
                col_sum_tile(x, c, r0, imin(rows, r0 + CPU_TILE), j0 + jb, imin(RED_CB, w - jb),
                             part + (size_t)t * w + jb);
            }
#pragma omp for schedule(static)
            for (int j = 0; j < w; j++)
                for (int t = 0; t < nt; t++) tot[j] += part[(size_t)t * w + j];
        }
        for (int j = 0; j < w; j++)
            y[j0 + j] = accumulate ? (float)((double)y[j0 + j] + tot[j]) : (float)tot[j];
    }
}

/* y[c] = sum_rows x[rows,c]: overwrite, or += when accumulate. */
static void cpu_col_sum(int rows, int c, const float *x, float *y, bool accumulate) {
    col_sum_impl(rows, c, x, y, accumulate);
}

/* ------------------------------------------------------------------------ */
/* Linear layers (PyTorch nn.Linear, weight [out,in]) */

/* y[rows,out] = x[rows,in] W^T + b (overwrite; b may be NULL). */
static void cpu_linear_fwd(int rows, int in, int out, const float *x, const float *w,
                           const float *b, float *y) {
    gemm_par(false, true, rows, out, in, 1.0f, x, in, w, in, 0.0f, y, out, b, true);
}

/* dx[rows,in] = dy[rows,out] W (overwrite); dw[out,in] += dy^T x (one
 * chain over all rows per element, then added to dw); db[out] += column
 * sums of dy. Any of dx, dw, db may be NULL. */
static void cpu_linear_bwd(int rows, int in, int out, const float *x, const float *w,
                           const float *dy, float *dx, float *dw, float *db) {
    if (dx) gemm_par(false, false, rows, in, out, 1.0f, dy, out, w, in, 0.0f, dx, in, NULL, false);
    if (dw) gemm_par(true, false, out, in, rows, 1.0f, dy, out, x, in, 1.0f, dw, in, NULL, false);
    if (db) col_sum_impl(rows, out, dy, db, true);
}

/* ------------------------------------------------------------------------ */
/* Elementwise ops: fixed blocks of EW_BLOCK elements, one thread per block. */

static inline size_t ew_blocks(size_t n) { return (n + EW_BLOCK - 1) / EW_BLOCK; }

/* y[n] = act(x) (overwrite; y may alias x). */
static void cpu_act_fwd(KAct act, size_t n, const float *x, float *y) {
    const CpuVec *v = cpu_vec();
    size_t nb = ew_blocks(n);
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t b = 0; b < nb; b++) {
        size_t i0 = b * EW_BLOCK;
        v->act_fwd(act, zmin(EW_BLOCK, n - i0), x + i0, y + i0);
    }
}

/* dx[n] = dy * act'(x), x the activation's input (overwrite; dx may alias dy). */
static void cpu_act_bwd(KAct act, size_t n, const float *x, const float *dy, float *dx) {
    const CpuVec *v = cpu_vec();
    size_t nb = ew_blocks(n);
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t b = 0; b < nb; b++) {
        size_t i0 = b * EW_BLOCK;
        v->act_bwd(act, zmin(EW_BLOCK, n - i0), x + i0, dy + i0, dx + i0);
    }
}

/* y[n] = x * mask (overwrite; y may alias x). */
static void cpu_mul(size_t n, const float *x, const float *mask, float *y) {
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] = x[i] * mask[i];
}

/* y[n] += a x */
static void cpu_axpy(size_t n, float a, const float *x, float *y) {
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] += a * x[i];
}

/* x[n] *= a */
static void cpu_scale(size_t n, float a, float *x) {
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) x[i] *= a;
}

/* y[n] = a + b (overwrite; y may alias a or b). */
static void cpu_add(size_t n, const float *a, const float *b, float *y) {
#pragma omp parallel for simd schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

/* ------------------------------------------------------------------------ */
/* Softmax family over the last dim of [rows, n]; one row per iteration, the
 * row's sum in double, max subtracted first. libm expf for accuracy (these
 * rows are short: classes, time steps). */

/* y[rows,n] = softmax(x) (overwrite; y may alias x). */
static void cpu_softmax_fwd(int rows, int n, const float *x, float *y) {
#pragma omp parallel for schedule(static) if ((size_t)rows * n >= PAR_MIN)
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * n;
        float *yr = y + (size_t)r * n;
        float mx = -INFINITY;
        for (int i = 0; i < n; i++) mx = xr[i] > mx ? xr[i] : mx;
        double s = 0;
        for (int i = 0; i < n; i++) {
            yr[i] = expf(xr[i] - mx);
            s += yr[i];
        }
        float inv = (float)(1.0 / s);
        for (int i = 0; i < n; i++) yr[i] *= inv;
    }
}

/* dx = y * (dy - sum_i dy_i y_i) per row, y the forward's output
 * (overwrite; dx may alias dy). */
static void cpu_softmax_bwd(int rows, int n, const float *y, const float *dy, float *dx) {
#pragma omp parallel for schedule(static) if ((size_t)rows * n >= PAR_MIN)
    for (int r = 0; r < rows; r++) {
        const float *yr = y + (size_t)r * n, *gr = dy + (size_t)r * n;
        float *dr = dx + (size_t)r * n;
        double dot = 0;
        for (int i = 0; i < n; i++) dot += (double)gr[i] * yr[i];
        float d = (float)dot;
        for (int i = 0; i < n; i++) dr[i] = yr[i] * (gr[i] - d);
    }
}

/* y[rows,n] = x - max - log(sum exp(x - max)) (overwrite; y may alias x). */
static void cpu_log_softmax_fwd(int rows, int n, const float *x, float *y) {
#pragma omp parallel for schedule(static) if ((size_t)rows * n >= PAR_MIN)
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * n;
        float *yr = y + (size_t)r * n;
        float mx = -INFINITY;
        for (int i = 0; i < n; i++) mx = xr[i] > mx ? xr[i] : mx;
        double s = 0;
        for (int i = 0; i < n; i++) s += expf(xr[i] - mx);
        float lse = (float)log(s);
        for (int i = 0; i < n; i++) yr[i] = (xr[i] - mx) - lse;
    }
}

/* dx = dy - exp(y) * sum_i dy_i per row, y the forward's output
 * (overwrite; dx may alias dy). */
static void cpu_log_softmax_bwd(int rows, int n, const float *y, const float *dy, float *dx) {
#pragma omp parallel for schedule(static) if ((size_t)rows * n >= PAR_MIN)
    for (int r = 0; r < rows; r++) {
        const float *yr = y + (size_t)r * n, *gr = dy + (size_t)r * n;
        float *dr = dx + (size_t)r * n;
        double s = 0;
        for (int i = 0; i < n; i++) s += gr[i];
        float sf = (float)s;
        for (int i = 0; i < n; i++) dr[i] = gr[i] - expf(yr[i]) * sf;
    }
}

/* ------------------------------------------------------------------------ */
/* Whole-array reductions: CPU_TILE tiles, each summed in 8 double lanes
 * combined in a fixed tree (the active path's tile_sum: one 64-byte vector
 * of lanes on AVX-512), tile partials added in tile order. */

static double reduce_impl(size_t n, const float *x, bool squares) {
    const CpuVec *v = cpu_vec();
    size_t ntiles = (n + CPU_TILE - 1) / CPU_TILE;
    double part[SUM_ROUND];
    double total = 0;
#pragma omp parallel if (n >= PAR_MIN)
    for (size_t t0 = 0; t0 < ntiles; t0 += SUM_ROUND) {
        size_t nt = zmin(SUM_ROUND, ntiles - t0);
#pragma omp for schedule(static)
        for (size_t t = 0; t < nt; t++) {
            size_t i0 = (t0 + t) * CPU_TILE;
            part[t] = v->tile_sum(x + i0, zmin(CPU_TILE, n - i0), squares);
        }
#pragma omp single
        for (size_t t = 0; t < nt; t++) total += part[t];
    }
    return total;
}

/* sum of x[n], in double, fixed order */
static double cpu_sum(size_t n, const float *x) { return reduce_impl(n, x, false); }

/* sum of x[n]^2, in double, fixed order */
static double cpu_sumsq(size_t n, const float *x) { return reduce_impl(n, x, true); }

/* true when no element of x[n] is NaN or +-Inf */
static bool cpu_all_finite(size_t n, const float *x) {
    int bad = 0;
#pragma omp parallel for simd schedule(static) reduction(| : bad) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) bad |= !(fabsf(x[i]) <= FLT_MAX);
    return !bad;
}

void cpu_register_dense(KOps *k) {
    k->gemm = cpu_gemm;
    k->linear_fwd = cpu_linear_fwd;
    k->linear_bwd = cpu_linear_bwd;
    k->act_fwd = cpu_act_fwd;
    k->act_bwd = cpu_act_bwd;
    k->mul = cpu_mul;
    k->axpy = cpu_axpy;
    k->scale = cpu_scale;
    k->add = cpu_add;
    k->softmax_fwd = cpu_softmax_fwd;
    k->softmax_bwd = cpu_softmax_bwd;
    k->log_softmax_fwd = cpu_log_softmax_fwd;
    k->log_softmax_bwd = cpu_log_softmax_bwd;
    k->sum = cpu_sum;
    k->sumsq = cpu_sumsq;
    k->col_sum = cpu_col_sum;
    k->all_finite = cpu_all_finite;
}
