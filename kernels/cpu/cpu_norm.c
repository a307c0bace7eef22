/* cpu_norm: the CPU backend's batch normalisation (with a fused activation),
 * global average pooling and squeeze-excitation.
 *
 * Batchnorm works on x [rows, c] with channels innermost (NHWC images with
 * rows = N*H*W, or BatchNorm1d with rows = batch). Work items are
 * (CPU_TILE-row tile, BN_CB-channel block) pairs, so loops run over the
 * contiguous channel dim (vectorised) and in parallel over rows.
 *
 * Determinism: per-channel sums are accumulated in double within each tile;
 * tile partials go to a stack buffer and are added in tile order, a round
 * of tiles at a time. Rounds and channel blocks only decide which thread
 * does what; a channel's result depends only on rows and CPU_TILE. Pooling
 * and SE reduce over hw per (sample, channel) in a fixed order on one thread.
 *
 * Memory: nothing is allocated. The backward recomputes the pre-activation
 * from x and the saved mean/invstd (the training backward parks dp in dx
 * between its two passes); channels are processed in super-blocks of at
 * most BN_W so the per-channel coefficients fit on the stack.
 *
 * Not for: rows == 0 in training (no statistics). rows == 1 in training is
 * accepted (PyTorch refuses it): the variance is 0 and the running variance
 * is updated with 0 as its "unbiased" estimate. */
#include "cpu_internal.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Let the vectoriser evaluate both arms of the float selects in the
 * activation loops (ReLU', LeakyReLU and its slope). This only says that
 * nobody reads the floating-point exception flags; values are unchanged (no
 * reassociation, no finite-math assumptions, unlike -ffast-math). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#define BN_W 512      /* channels per super-block */
#define BN_CB 64      /* channels per work item */
#define BN_BUF 2048   /* doubles of tile partials per accumulator and round (stack) */
#define PAR_MIN 32768 /* below this many elements, loops stay on one thread */

static inline int imin(int a, int b) { return a < b ? a : b; }

#include "cpu_act.h"

/* ------------------------------------------------------------------------ */
/* Batchnorm work items. A block holds one channel block's per-channel
 * values: statistics m/is (mean, 1/sqrt(var+eps)), affine g/b (1 and 0 when
 * gamma/beta are NULL), the training backward's k1 = mean(dp) and
 * k2 = mean(dp*xhat), and o, the factor applied when the gradient pass
 * stores dp (1 in training; g*is in evaluation, which makes it dx). Every
 * item computes xhat = (x-m)*is and pre = xhat*g + b with the same
 * expressions, so the backward sees the forward's pre-activation bit for bit. */

typedef struct BnBlock {
    float m[BN_CB], is[BN_CB], g[BN_CB], b[BN_CB], k1[BN_CB], k2[BN_CB], o[BN_CB];
} BnBlock;

/* Where a block's values come from. mean/invstd: batch statistics [c]
 * (training); otherwise run_mean/run_var/eps (evaluation). k1/k2 are
 * indexed from the super-block start (j0), NULL when not needed. */
typedef struct BnSrc {
    const float *gamma, *beta, *mean, *invstd, *run_mean, *run_var;
    float eps;
    const float *k1, *k2;
    int j0;
    bool store_dx; /* o = g*is (evaluation backward) instead of 1 */
} BnSrc;

static void bn_block_load(const BnSrc *s, int j, int w, BnBlock *bk) {
    for (int i = 0; i < w; i++) {
        int ch = j + i;
        if (s->invstd) {
            bk->m[i] = s->mean[ch];
            bk->is[i] = s->invstd[ch];
        } else {
            bk->m[i] = s->run_mean[ch];
            bk->is[i] = 1.0f / sqrtf(s->run_var[ch] + s->eps);
        }
        bk->g[i] = s->gamma ? s->gamma[ch] : 1.0f;
        bk->b[i] = s->beta ? s->beta[ch] : 0.0f;
        bk->k1[i] = s->k1 ? s->k1[ch - s->j0] : 0.0f;
        bk->k2[i] = s->k2 ? s->k2[ch - s->j0] : 0.0f;
        bk->o[i] = s->store_dx ? bk->g[i] * bk->is[i] : 1.0f;
    }
}

/* Statistics of rows [r0,r1), channels [0,w) of x (already offset to the
 * block): s1 = sum(x - shift), s2 = sum((x - shift)^2) in double. The shift
 * (row 0 of the batch) keeps the one-pass variance free of cancellation. */
static void bn_stats_item(const float *x, const float *shift, int c, int r0, int r1, int w,
                          double *s1, double *s2) {
    double a1[BN_CB] = {0}, a2[BN_CB] = {0};
    for (int r = r0; r < r1; r++) {
        const float *xr = x + (size_t)r * c;
#pragma omp simd
        for (int j = 0; j < w; j++) {
            double d = (double)xr[j] - (double)shift[j];
            a1[j] += d;
            a2[j] += d * d;
        }
    }
    memcpy(s1, a1, w * sizeof(double));
    memcpy(s2, a2, w * sizeof(double));
}

/* y = act(xhat*g + b) for one item (x, y offset to the block). */
static inline __attribute__((always_inline)) void bn_apply_k(KAct a, const float *x, float *y,
                                                             int c, int r0, int r1, int w,
                                                             const BnBlock *bk) {
    for (int r = r0; r < r1; r++) {
        const float *xr = x + (size_t)r * c;
        float *yr = y + (size_t)r * c;
#pragma omp simd
        for (int j = 0; j < w; j++) {
            float xh = bn_xhat(xr[j], bk->m[j], bk->is[j]);
            yr[j] = act_value(a, bn_pre(xh, bk->g[j], bk->b[j]));
        }
    }
}

/* Gradient sums for one item: dp = dy * act'(pre); s1 = sum(dp),
 * s2 = sum(dp * xhat), in double. When `store`, also out = dp * o (dp for
 * the training backward's second pass, dx in evaluation); dy is read
 * before out is written, so out may alias dy. */
static inline __attribute__((always_inline)) void bn_gsum_k(KAct a, bool store, const float *x,
                                                            const float *dy, float *out, int c,
                                                            int r0, int r1, int w,
                                                            const BnBlock *bk, double *s1,
                                                            double *s2) {
    double a1[BN_CB] = {0}, a2[BN_CB] = {0};
    for (int r = r0; r < r1; r++) {
        const float *xr = x + (size_t)r * c, *gr = dy + (size_t)r * c;
        float *orow = store ? out + (size_t)r * c : NULL;
#pragma omp simd
        for (int j = 0; j < w; j++) {
            float xh = bn_xhat(xr[j], bk->m[j], bk->is[j]);
            float dp = gr[j] * act_slope(a, bn_pre(xh, bk->g[j], bk->b[j]));
            a1[j] += dp;
            a2[j] += (double)dp * xh;
            if (store) orow[j] = dp * bk->o[j];
        }
    }
    memcpy(s1, a1, w * sizeof(double));
    memcpy(s2, a2, w * sizeof(double));
}

/* Training backward's second pass over one item: dx holds dp and becomes
 * (dp - k1 - xhat*k2) * g*is. */
static void bn_dx_item(const float *x, float *dx, int c, int r0, int r1, int w, const BnBlock *bk) {
    for (int r = r0; r < r1; r++) {
        const float *xr = x + (size_t)r * c;
        float *dr = dx + (size_t)r * c;
#pragma omp simd
        for (int j = 0; j < w; j++) {
            float xh = bn_xhat(xr[j], bk->m[j], bk->is[j]);
            dr[j] = bn_dx(dr[j], xh, bk->k1[j], bk->k2[j], bk->g[j], bk->is[j]);
        }
    }
}

static void bn_apply_item(KAct a, const float *x, float *y, int c, int r0, int r1, int w,
                          const BnBlock *bk) {
    ACT_DISPATCH(a, bn_apply_k, x, y, c, r0, r1, w, bk)
}
#define BN_GSUM_STORE(a, ...) bn_gsum_k(a, true, __VA_ARGS__)
#define BN_GSUM_SUMS(a, ...) bn_gsum_k(a, false, __VA_ARGS__)
static void bn_gsum_item(KAct a, const float *x, const float *dy, float *out, int c, int r0, int r1,
                         int w, const BnBlock *bk, double *s1, double *s2) {
    if (out) {
        ACT_DISPATCH(a, BN_GSUM_STORE, x, dy, out, c, r0, r1, w, bk, s1, s2)
    } else {
        ACT_DISPATCH(a, BN_GSUM_SUMS, x, dy, NULL, c, r0, r1, w, bk, s1, s2)
    }
}

/* ------------------------------------------------------------------------ */
/* Batchnorm drivers */

static inline int bn_tiles(int rows) { return (rows + CPU_TILE - 1) / CPU_TILE; }

/* Per-channel double sums over all rows for channels [j0, j0+w), w <= BN_W:
 * statistics (src == NULL: shifted sums of x) or gradient sums (src given:
 * sum dp, sum dp*xhat; `out`, when not NULL, receives dp*o as in
 * bn_gsum_k). Overwrites s1, s2 [w]. */
static void bn_reduce(const KBn *p, const float *x, const float *dy, float *out, const BnSrc *src,
                      int j0, int w, double *s1, double *s2) {
    double p1[BN_BUF], p2[BN_BUF];
    int rows = p->rows, c = p->c, ntiles = bn_tiles(rows);
    int nblk = (w + BN_CB - 1) / BN_CB, per_round = BN_BUF / w;
    for (int j = 0; j < w; j++) s1[j] = s2[j] = 0;
#pragma omp parallel if ((size_t)rows * w >= PAR_MIN)
    for (int t0 = 0; t0 < ntiles; t0 += per_round) {
        int nt = imin(per_round, ntiles - t0);
#pragma omp for schedule(static)
        for (int it = 0; it < nt * nblk; it++) {
            int t = it / nblk, jb = j0 + (it % nblk) * BN_CB, wb = imin(BN_CB, j0 + w - jb);
            int r0 = (t0 + t) * CPU_TILE, r1 = imin(rows, r0 + CPU_TILE);
            size_t at = (size_t)t * w + (jb - j0);
            if (!src) {
                bn_stats_item(x + jb, x + jb, c, r0, r1, wb, p1 + at, p2 + at);
            } else {
                BnBlock bk;
                bn_block_load(src, jb, wb, &bk);
                bn_gsum_item(p->act, x + jb, dy + jb, out ? out + jb : NULL, c, r0, r1, wb, &bk,
                             p1 + at, p2 + at);
            }
        }
#pragma omp for schedule(static)
        for (int j = 0; j < w; j++)
            for (int t = 0; t < nt; t++) {
                s1[j] += p1[(size_t)t * w + j];
                s2[j] += p2[(size_t)t * w + j];
            }
    }
}

/* Elementwise pass over channels [j0, j0+w): out = act(bn(x)) (forward),
 * or, when `grad`, out = dx from the dp it holds (bn_dx_item). One thread
 * per (tile, block). */
static void bn_pass(const KBn *p, const float *x, float *out, const BnSrc *src, int j0, int w,
                    bool grad) {
    int rows = p->rows, c = p->c, ntiles = bn_tiles(rows);
    int nblk = (w + BN_CB - 1) / BN_CB;
#pragma omp parallel for schedule(static) if ((size_t)rows * w >= PAR_MIN)
    for (int it = 0; it < ntiles * nblk; it++) {
        int t = it / nblk, jb = j0 + (it % nblk) * BN_CB, wb = imin(BN_CB, j0 + w - jb);
        int r0 = t * CPU_TILE, r1 = imin(rows, r0 + CPU_TILE);
        BnBlock bk;
        bn_block_load(src, jb, wb, &bk);
        if (grad) bn_dx_item(x + jb, out + jb, c, r0, r1, wb, &bk);
        else bn_apply_item(p->act, x + jb, out + jb, c, r0, r1, wb, &bk);
    }
}

/* Training forward. x, y [rows,c]; gamma, beta [c] (NULL: 1 and 0).
 * Overwrites y = act(gamma*(x-mean)*invstd + beta) and mean, invstd [c]
 * (biased batch variance). When update_running, run_mean/run_var [c]
 * become (1-momentum)*running + momentum*batch, the variance unbiased. */
static void cpu_bn_train_fwd(const KBn *p, const float *x, const float *gamma, const float *beta,
                             float *run_mean, float *run_var, bool update_running, float *mean,
                             float *invstd, float *y) {
    VB_ASSERT(p->rows > 0);
    double s1[BN_W], s2[BN_W];
    double n = p->rows, mom = p->momentum;
    for (int j0 = 0; j0 < p->c; j0 += BN_W) {
        int w = imin(BN_W, p->c - j0);
        bn_reduce(p, x, NULL, NULL, NULL, j0, w, s1, s2);
        for (int j = 0; j < w; j++) {
            double md = s1[j] / n;
            double var = s2[j] / n - md * md;
            if (var < 0) var = 0;
            double mu = (double)x[j0 + j] + md;
            mean[j0 + j] = (float)mu;
            invstd[j0 + j] = (float)(1.0 / sqrt(var + (double)p->eps));
            if (update_running) {
                double unbiased = p->rows > 1 ? var * n / (n - 1) : var;
                run_mean[j0 + j] = (float)((1 - mom) * run_mean[j0 + j] + mom * mu);
                run_var[j0 + j] = (float)((1 - mom) * run_var[j0 + j] + mom * unbiased);
            }
        }
    }
    BnSrc src = {.gamma = gamma, .beta = beta, .mean = mean, .invstd = invstd};
    bn_pass(p, x, y, &src, 0, p->c, false);
}

/* Evaluation forward with running statistics: y = act(gamma*(x-rm)/
 * sqrt(rv+eps) + beta), overwrite. x, y [rows,c]. */
static void cpu_bn_eval_fwd(const KBn *p, const float *x, const float *gamma, const float *beta,
                            const float *run_mean, const float *run_var, float *y) {
    BnSrc src = {
        .gamma = gamma, .beta = beta, .run_mean = run_mean, .run_var = run_var, .eps = p->eps};
    bn_pass(p, x, y, &src, 0, p->c, false);
}

/* Training backward (activation recomputed from x, mean, invstd, gamma,
 * beta). dp = dy*act'(pre); dx = gamma*invstd*(dp - mean(dp) -
 * xhat*mean(dp*xhat)) overwrite (dx may alias dy); dgamma += sum dp*xhat,
 * dbeta += sum dp. Any of dx, dgamma, dbeta may be NULL. Two passes per
 * channel super-block: the sums (storing dp in dx), then dx from dp. */
static void cpu_bn_train_bwd(const KBn *p, const float *x, const float *gamma, const float *beta,
                             const float *mean, const float *invstd, const float *dy, float *dx,
                             float *dgamma, float *dbeta) {
    if (!dx && !dgamma && !dbeta) return;
    VB_ASSERT(p->rows > 0);
    double s1[BN_W], s2[BN_W];
    float k1[BN_W], k2[BN_W];
    BnSrc src = {.gamma = gamma, .beta = beta, .mean = mean, .invstd = invstd};
    for (int j0 = 0; j0 < p->c; j0 += BN_W) {
        int w = imin(BN_W, p->c - j0);
        bn_reduce(p, x, dy, dx, &src, j0, w, s1, s2);
        for (int j = 0; j < w; j++) {
            if (dbeta) dbeta[j0 + j] = (float)((double)dbeta[j0 + j] + s1[j]);
            if (dgamma) dgamma[j0 + j] = (float)((double)dgamma[j0 + j] + s2[j]);
            k1[j] = (float)(s1[j] / p->rows);
            k2[j] = (float)(s2[j] / p->rows);
        }
        if (dx) {
            BnSrc s = src;
            s.k1 = k1, s.k2 = k2, s.j0 = j0;
            bn_pass(p, x, dx, &s, j0, w, true);
        }
    }
}

/* Evaluation backward (frozen statistics): dx = dy*act'(pre)*gamma*invstd
 * overwrite (dx may alias dy); dgamma += sum dp*xhat, dbeta += sum dp.
 * Any of dx, dgamma, dbeta may be NULL. One pass. */
static void cpu_bn_eval_bwd(const KBn *p, const float *x, const float *gamma, const float *beta,
                            const float *run_mean, const float *run_var, const float *dy, float *dx,
                            float *dgamma, float *dbeta) {
    if (!dx && !dgamma && !dbeta) return;
    BnSrc src = {.gamma = gamma,
                 .beta = beta,
                 .run_mean = run_mean,
                 .run_var = run_var,
                 .eps = p->eps,
                 .store_dx = true};
    double s1[BN_W], s2[BN_W];
    for (int j0 = 0; j0 < p->c; j0 += BN_W) {
        int w = imin(BN_W, p->c - j0);
        bn_reduce(p, x, dy, dx, &src, j0, w, s1, s2);
        for (int j = 0; j < w; j++) {
            if (dbeta) dbeta[j0 + j] = (float)((double)dbeta[j0 + j] + s1[j]);
            if (dgamma) dgamma[j0 + j] = (float)((double)dgamma[j0 + j] + s2[j]);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Global average pooling, x [n,hw,c] -> y [n,c]. */

/* out[n,c] = scale * sum over hw of a (times b when given), summed in
 * double on one thread per (sample, channel block). */
static void hw_reduce(int n, int hw, int c, const float *a, const float *b, double scale,
                      float *out) {
    int nblk = (c + BN_CB - 1) / BN_CB;
#pragma omp parallel for schedule(static) if ((size_t)n * hw * c >= PAR_MIN)
    for (int it = 0; it < n * nblk; it++) {
        int i = it / nblk, j0 = (it % nblk) * BN_CB, w = imin(BN_CB, c - j0);
        double acc[BN_CB] = {0};
        for (int q = 0; q < hw; q++) {
            size_t o = ((size_t)i * hw + q) * c + j0;
            if (b) {
#pragma omp simd
                for (int j = 0; j < w; j++) acc[j] += (double)a[o + j] * b[o + j];
            } else {
#pragma omp simd
                for (int j = 0; j < w; j++) acc[j] += a[o + j];
            }
        }
        for (int j = 0; j < w; j++) out[(size_t)i * c + j0 + j] = (float)(acc[j] * scale);
    }
}

/* y[n,c] = mean over hw of x[n,hw,c] (overwrite). */
static void cpu_gap_fwd(int n, int hw, int c, const float *x, float *y) {
    hw_reduce(n, hw, c, x, NULL, 1.0 / hw, y);
}

/* dx[n,hw,c] = dy[n,c] / hw (overwrite). */
static void cpu_gap_bwd(int n, int hw, int c, const float *dy, float *dx) {
    float fhw = (float)hw;
#pragma omp parallel for schedule(static) if ((size_t)n * hw * c >= PAR_MIN)
    for (int r = 0; r < n * hw; r++) {
        const float *g = dy + (size_t)(r / hw) * c;
        float *d = dx + (size_t)r * c;
#pragma omp simd
        for (int j = 0; j < c; j++) d[j] = g[j] / fhw;
    }
}

/* ------------------------------------------------------------------------ */
/* Squeeze-excitation. The small [n,c]x[c,cr] products run as single
 * cpu_sgemm calls (fixed order, one thread). */

/* y[rows,out] = x[rows,in] W^T + b (W [out,in]; b may be NULL), overwrite. */
static void small_linear(int rows, int in, int out, const float *x, const float *w, const float *b,
                         float *y) {
    if (b)
        for (int i = 0; i < rows; i++) memcpy(y + (size_t)i * out, b, out * sizeof(float));
    cpu_sgemm(false, true, rows, out, in, 1.0f, x, in, w, in, b ? 1.0f : 0.0f, y, out);
}

/* db[cols] += column sums of g[rows,cols] in double, rows in order. */
static void small_col_sum_acc(int rows, int cols, const float *g, float *db) {
    for (int j = 0; j < cols; j++) {
        double s = 0;
        for (int i = 0; i < rows; i++) s += g[(size_t)i * cols + j];
        db[j] = (float)((double)db[j] + s);
    }
}

/* y[n,hw,c] = x * g[n,c] broadcast over hw (overwrite). */
static void scale_by_channel(int n, int hw, int c, const float *x, const float *g, float *y) {
#pragma omp parallel for schedule(static) if ((size_t)n * hw * c >= PAR_MIN)
    for (int r = 0; r < n * hw; r++) {
        const float *gr = g + (size_t)(r / hw) * c, *xr = x + (size_t)r * c;
        float *yr = y + (size_t)r * c;
#pragma omp simd
        for (int j = 0; j < c; j++) yr[j] = xr[j] * gr[j];
    }
}

/* Forward. x, y [n,hw,c]; w1 [cr,c], b1 [cr], w2 [c,cr], b2 [c].
 * save = [s (n*c) | r_pre (n*cr) | g (n*c)], overwritten; y overwritten
 * (first used as scratch for r = silu(r_pre), so hw*c >= cr is required). */
static void cpu_se_fwd(int n, int hw, int c, int cr, const float *x, const float *w1,
                       const float *b1, const float *w2, const float *b2, float *save, float *y) {
    VB_ASSERT((size_t)hw * c >= (size_t)cr);
    float *s = save, *rpre = save + (size_t)n * c, *g = rpre + (size_t)n * cr;
    hw_reduce(n, hw, c, x, NULL, 1.0 / hw, s);
    small_linear(n, c, cr, s, w1, b1, rpre);
    float *r = y; /* scratch */
    for (size_t i = 0; i < (size_t)n * cr; i++) r[i] = act_value(K_ACT_SILU, rpre[i]);
    small_linear(n, cr, c, r, w2, b2, g);
    for (size_t i = 0; i < (size_t)n * c; i++) g[i] = sigmoid_f(g[i]);
    scale_by_channel(n, hw, c, x, g, y);
}

/* Backward. dy, x, dx [n,hw,c]; dx overwrite (must not alias dy); dw1 [cr,c],
 * db1 [cr], dw2 [c,cr], db2 [c] accumulate. ws = [A (n*c) | B (n*cr)]:
 * A = dL/dg_pre, B = r then dL/dr_pre, then A = dL/ds / hw. */
static void cpu_se_bwd(int n, int hw, int c, int cr, const float *x, const float *w1,
                       const float *b1, const float *w2, const float *b2, const float *save,
                       const float *dy, float *dx, float *dw1, float *db1, float *dw2, float *db2,
                       float *ws) {
    const float *s = save, *rpre = save + (size_t)n * c, *g = rpre + (size_t)n * cr;
    float *A = ws, *B = ws + (size_t)n * c;
    size_t nc = (size_t)n * c, ncr = (size_t)n * cr;
    /* dL/dg = sum_hw dy*x; through the sigmoid */
    hw_reduce(n, hw, c, dy, x, 1.0, A);
    for (size_t i = 0; i < nc; i++) A[i] *= g[i] * (1.0f - g[i]);
    for (size_t i = 0; i < ncr; i++) B[i] = act_value(K_ACT_SILU, rpre[i]);
    if (dw2) cpu_sgemm(true, false, c, cr, n, 1.0f, A, c, B, cr, 1.0f, dw2, cr);
    if (db2) small_col_sum_acc(n, c, A, db2);
    if (!dx && !dw1 && !db1) return;
    /* dL/dr = A W2, through the SiLU */
    cpu_sgemm(false, false, n, cr, c, 1.0f, A, c, w2, cr, 0.0f, B, cr);
    for (size_t i = 0; i < ncr; i++) B[i] *= act_slope(K_ACT_SILU, rpre[i]);
    if (dw1) cpu_sgemm(true, false, cr, c, n, 1.0f, B, cr, s, c, 1.0f, dw1, c);
    if (db1) small_col_sum_acc(n, cr, B, db1);
    if (!dx) return;
    /* dL/ds = B W1; dx = dy*g + dL/ds / hw */
    cpu_sgemm(false, false, n, c, cr, 1.0f, B, cr, w1, c, 0.0f, A, c);
    float fhw = (float)hw;
    for (size_t i = 0; i < nc; i++) A[i] /= fhw;
#pragma omp parallel for schedule(static) if ((size_t)n * hw * c >= PAR_MIN)
    for (int r = 0; r < n * hw; r++) {
        size_t o = (size_t)(r / hw) * c;
        const float *gr = g + o, *ar = A + o, *dr = dy + (size_t)r * c;
        float *xr = dx + (size_t)r * c;
#pragma omp simd
        for (int j = 0; j < c; j++) xr[j] = dr[j] * gr[j] + ar[j];
    }
}

void cpu_register_norm(KOps *k) {
    k->bn_train_fwd = cpu_bn_train_fwd;
    k->bn_eval_fwd = cpu_bn_eval_fwd;
    k->bn_train_bwd = cpu_bn_train_bwd;
    k->bn_eval_bwd = cpu_bn_eval_bwd;
    k->gap_fwd = cpu_gap_fwd;
    k->gap_bwd = cpu_gap_bwd;
    k->se_fwd = cpu_se_fwd;
    k->se_bwd = cpu_se_bwd;
}
