/* cpu_norm: the CPU backend's batch normalisation (with a fused activation),
 * global average pooling and squeeze-excitation.
 *
 * Batchnorm works on x [rows, c] with channels innermost (NHWC images with
 * rows = N*H*W, or BatchNorm1d with rows = batch). Work items are
 * (CPU_TILE-row tile, BN_CB-channel block) pairs, so loops run over the
 * contiguous channel dim (vectorised) and in parallel over rows.
 *
 * Determinism: per-channel sums are accumulated in float over sub-tiles of
 * CPU_BN_SUB rows (rows in order) added in double within each tile of
 * CPU_TILE rows (the active path's vector kernels, the same bits on every
 * path); tile partials go to a stack buffer in double and are
 * added in tile order, a round of tiles at a time. Rounds and channel blocks
 * only decide which thread does what; a channel's result depends only on
 * rows and CPU_TILE. Pooling and SE reduce over hw per (sample, channel) in
 * double, in hw order, on one thread.
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

#define BN_W 512        /* channels per super-block */
#define BN_CB CPU_BN_CB /* channels per work item (256) */
#define BN_BUF 2048     /* doubles of tile partials per accumulator and round (stack) */
#define PAR_MIN 32768   /* below this many elements, loops stay on one thread */

static inline int imin(int a, int b) { return a < b ? a : b; }

#include "cpu_act.h"

/* ------------------------------------------------------------------------ */
/* Batchnorm work items. A block (BnBlock, cpu_isa.h) holds one channel
 * block's per-channel values: statistics m/is (mean, 1/sqrt(var+eps)),
 * affine g/b (1 and 0 when gamma/beta are NULL), the training backward's
 * k1 = mean(dp) and k2 = mean(dp*xhat), and o, the factor applied when the
 * gradient pass stores dp (1 in training; g*is in evaluation, which makes it
 * dx). The item kernels are the active path's (cpu_vec_body.h): every item
 * computes xhat = (x-m)*is and pre = xhat*g + b with the same expressions,
 * so the backward sees the forward's pre-activation bit for bit; item sums
 * are float over sub-tiles of CPU_BN_SUB rows, added in double. */

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

/* ------------------------------------------------------------------------ */
/* Batchnorm drivers */

static inline int bn_tiles(int rows) { return (rows + CPU_TILE - 1) / CPU_TILE; }

/* Each batchnorm op runs as ONE parallel region (if large enough): the
 * functions below are its team steps — orphaned `omp for`s and `omp single`s
 * that every thread of the region calls — and everything they share (sums,
 * tile partials, coefficients) lives in the op's BnShared, on the calling
 * thread's stack. */
typedef struct BnShared {
    double s1[BN_W], s2[BN_W];     /* per-channel sums of a super-block */
    double p1[BN_BUF], p2[BN_BUF]; /* tile partials of one round */
    float k1[BN_W], k2[BN_W];      /* training backward: mean(dp), mean(dp*xhat) */
} BnShared;

static bool bn_par(const KBn *p) { return (size_t)p->rows * p->c >= PAR_MIN; }

/* Per-channel double sums over all rows for channels [j0, j0+w), w <= BN_W:
 * statistics (src == NULL: shifted sums of x) or gradient sums (src given:
 * sum dp, sum dp*xhat; `out`, when not NULL, receives dp*o as in
 * the gsum item kernel). Overwrites sh->s1, sh->s2 [w]. Team step. */
static void bn_reduce(const KBn *p, const float *x, const float *dy, float *out, const BnSrc *src,
                      int j0, int w, BnShared *sh) {
    const CpuVec *v = cpu_vec();
    int rows = p->rows, c = p->c, ntiles = bn_tiles(rows);
    int nblk = (w + BN_CB - 1) / BN_CB, per_round = BN_BUF / w;
    double *p1 = sh->p1, *p2 = sh->p2, *s1 = sh->s1, *s2 = sh->s2;
#pragma omp for schedule(static)
    for (int j = 0; j < w; j++) s1[j] = s2[j] = 0;
    for (int t0 = 0; t0 < ntiles; t0 += per_round) {
        int nt = imin(per_round, ntiles - t0);
#pragma omp for schedule(static)
        for (int it = 0; it < nt * nblk; it++) {
            int t = it / nblk, jb = j0 + (it % nblk) * BN_CB, wb = imin(BN_CB, j0 + w - jb);
            int r0 = (t0 + t) * CPU_TILE, r1 = imin(rows, r0 + CPU_TILE);
            size_t at = (size_t)t * w + (jb - j0);
            if (!src) {
                v->bn_stats(x + jb, x + jb, c, r0, r1, wb, p1 + at, p2 + at);
            } else {
                BnBlock bk;
                bn_block_load(src, jb, wb, &bk);
                v->bn_gsum(p->act, x + jb, dy + jb, out ? out + jb : NULL, c, r0, r1, wb, &bk,
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
 * or, when `grad`, out = dx from the dp it holds. One thread per (tile,
 * block). Team step (no barrier at its end: `nowait`, the region's end
 * is one). */
static void bn_pass(const KBn *p, const float *x, float *out, const BnSrc *src, int j0, int w,
                    bool grad) {
    const CpuVec *v = cpu_vec();
    int rows = p->rows, c = p->c, ntiles = bn_tiles(rows);
    int nblk = (w + BN_CB - 1) / BN_CB;
#pragma omp for schedule(static) nowait
    for (int it = 0; it < ntiles * nblk; it++) {
        int t = it / nblk, jb = j0 + (it % nblk) * BN_CB, wb = imin(BN_CB, j0 + w - jb);
        int r0 = t * CPU_TILE, r1 = imin(rows, r0 + CPU_TILE);
        BnBlock bk;
        bn_block_load(src, jb, wb, &bk);
        if (grad) v->bn_dx(x + jb, out + jb, c, r0, r1, wb, &bk);
        else v->bn_apply(p->act, x + jb, out + jb, c, r0, r1, wb, &bk);
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
    BnShared sh;
    const double n = p->rows, mom = p->momentum;
    const BnSrc src = {.gamma = gamma, .beta = beta, .mean = mean, .invstd = invstd};
#pragma omp parallel if (bn_par(p))
    {
        for (int j0 = 0; j0 < p->c; j0 += BN_W) {
            int w = imin(BN_W, p->c - j0);
            bn_reduce(p, x, NULL, NULL, NULL, j0, w, &sh);
#pragma omp single
            for (int j = 0; j < w; j++) {
                double md = sh.s1[j] / n;
                double var = sh.s2[j] / n - md * md;
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
        bn_pass(p, x, y, &src, 0, p->c, false);
    }
}

/* Evaluation forward with running statistics: y = act(gamma*(x-rm)/
 * sqrt(rv+eps) + beta), overwrite. x, y [rows,c]. */
static void cpu_bn_eval_fwd(const KBn *p, const float *x, const float *gamma, const float *beta,
                            const float *run_mean, const float *run_var, float *y) {
    BnSrc src = {
        .gamma = gamma, .beta = beta, .run_mean = run_mean, .run_var = run_var, .eps = p->eps};
#pragma omp parallel if (bn_par(p))
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
    BnShared sh;
    const BnSrc src = {.gamma = gamma, .beta = beta, .mean = mean, .invstd = invstd};
#pragma omp parallel if (bn_par(p))
    for (int j0 = 0; j0 < p->c; j0 += BN_W) {
        int w = imin(BN_W, p->c - j0);
        bn_reduce(p, x, dy, dx, &src, j0, w, &sh);
#pragma omp single
        for (int j = 0; j < w; j++) {
            if (dbeta) dbeta[j0 + j] = (float)((double)dbeta[j0 + j] + sh.s1[j]);
            if (dgamma) dgamma[j0 + j] = (float)((double)dgamma[j0 + j] + sh.s2[j]);
            sh.k1[j] = (float)(sh.s1[j] / p->rows);
            sh.k2[j] = (float)(sh.s2[j] / p->rows);
        }
        if (dx) {
            BnSrc s = src;
            s.k1 = sh.k1, s.k2 = sh.k2, s.j0 = j0;
            bn_pass(p, x, dx, &s, j0, w, true);
#pragma omp barrier /* the next super-block's sums reuse sh */
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
    BnShared sh;
#pragma omp parallel if (bn_par(p))
    for (int j0 = 0; j0 < p->c; j0 += BN_W) {
        int w = imin(BN_W, p->c - j0);
        bn_reduce(p, x, dy, dx, &src, j0, w, &sh);
#pragma omp single
        for (int j = 0; j < w; j++) {
            if (dbeta) dbeta[j0 + j] = (float)((double)dbeta[j0 + j] + sh.s1[j]);
            if (dgamma) dgamma[j0 + j] = (float)((double)dgamma[j0 + j] + sh.s2[j]);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Global average pooling, x [n,hw,c] -> y [n,c]. */

/* out[n,c] = (sum over hw of a (times b when given)) / div, double
 * accumulators in hw order, one sample per work unit (the active path's
 * hw_sum). A team step (orphaned `omp for`): the ops below open one region
 * for all their steps when the map is large enough. */
static bool hw_par(int n, int hw, int c) { return (size_t)n * hw * c >= PAR_MIN && n > 1; }

static void hw_reduce(int n, int hw, int c, const float *a, const float *b, float div, float *out) {
    const CpuVec *v = cpu_vec();
#pragma omp for schedule(static)
    for (int i = 0; i < n; i++) {
        const size_t o = (size_t)i * hw * c;
        v->hw_sum(hw, c, a + o, b ? b + o : NULL, div, out + (size_t)i * c);
    }
}

/* y[n,c] = mean over hw of x[n,hw,c] (overwrite). */
static void cpu_gap_fwd(int n, int hw, int c, const float *x, float *y) {
#pragma omp parallel if (hw_par(n, hw, c))
    hw_reduce(n, hw, c, x, NULL, (float)hw, y);
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
/* Squeeze-excitation. The small [n,c]x[c,cr] products run as single-threaded
 * own-GEMM calls (gemm_st; the weights' packed copies when registered). */

/* y[rows,out] = x[rows,in] W^T + b (W [out,in]; b may be NULL), overwrite. */
static void small_linear(int rows, int in, int out, const float *x, const float *w, const float *b,
                         float *y) {
    gemm_st(false, true, rows, out, in, 1.0f, x, in, w, in, 0.0f, y, out, b, true);
}

/* db[cols] += column sums of g[rows,cols] in double, rows in order. */
static void small_col_sum_acc(int rows, int cols, const float *g, float *db) {
    for (int j = 0; j < cols; j++) {
        double s = 0;
        for (int i = 0; i < rows; i++) s += g[(size_t)i * cols + j];
        db[j] = (float)((double)db[j] + s);
    }
}

/* y[n,hw,c] = x * g[n,c] broadcast over hw (+ add[n,c] when given),
 * overwrite; one sample per work unit. Team step. */
static void scale_by_channel(int n, int hw, int c, const float *x, const float *g, const float *add,
                             float *y) {
    const CpuVec *v = cpu_vec();
#pragma omp for schedule(static)
    for (int i = 0; i < n; i++) {
        const size_t o = (size_t)i * hw * c, oc = (size_t)i * c;
        v->chan_scale(hw, c, x + o, g + oc, add ? add + oc : NULL, y + o);
    }
}

/* Forward. x, y [n,hw,c]; w1 [cr,c], b1 [cr], w2 [c,cr], b2 [c].
 * save = [s (n*c) | r_pre (n*cr) | g (n*c)], overwritten; y overwritten
 * (first used as scratch for r = silu(r_pre), so hw*c >= cr is required). */
static void cpu_se_fwd(int n, int hw, int c, int cr, const float *x, const float *w1,
                       const float *b1, const float *w2, const float *b2, float *save, float *y) {
    VB_ASSERT((size_t)hw * c >= (size_t)cr);
    float *s = save, *rpre = save + (size_t)n * c, *g = rpre + (size_t)n * cr;
#pragma omp parallel if (hw_par(n, hw, c)) /* one region: squeeze, excite, scale */
    {
        hw_reduce(n, hw, c, x, NULL, (float)hw, s);
#pragma omp single
        {
            small_linear(n, c, cr, s, w1, b1, rpre);
            float *r = y; /* scratch */
            for (size_t i = 0; i < (size_t)n * cr; i++) r[i] = act_value(K_ACT_SILU, rpre[i]);
            small_linear(n, cr, c, r, w2, b2, g);
            for (size_t i = 0; i < (size_t)n * c; i++) g[i] = sigmoid_f(g[i]);
        }
        scale_by_channel(n, hw, c, x, g, NULL, y);
    }
}

/* The forward's y = x * g from its save. */
static void cpu_se_scale(int n, int hw, int c, int cr, const float *x, const float *save,
                         float *y) {
    const float *g = save + (size_t)n * (c + cr);
#pragma omp parallel if (hw_par(n, hw, c))
    scale_by_channel(n, hw, c, x, g, NULL, y);
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
#pragma omp parallel if (hw_par(n, hw, c)) /* one region for all steps */
    {
        /* dL/dg = sum_hw dy*x; through the sigmoid */
        hw_reduce(n, hw, c, dy, x, 1.0f, A);
#pragma omp single
        {
            for (size_t i = 0; i < nc; i++) A[i] *= g[i] * (1.0f - g[i]);
            for (size_t i = 0; i < ncr; i++) B[i] = act_value(K_ACT_SILU, rpre[i]);
            if (dw2) gemm_st(true, false, c, cr, n, 1.0f, A, c, B, cr, 1.0f, dw2, cr, NULL, false);
            if (db2) small_col_sum_acc(n, c, A, db2);
            if (dx || dw1 || db1) {
                /* dL/dr = A W2, through the SiLU */
                gemm_st(false, false, n, cr, c, 1.0f, A, c, w2, cr, 0.0f, B, cr, NULL, false);
                for (size_t i = 0; i < ncr; i++) B[i] *= act_slope(K_ACT_SILU, rpre[i]);
                if (dw1)
                    gemm_st(true, false, cr, c, n, 1.0f, B, cr, s, c, 1.0f, dw1, c, NULL, false);
                if (db1) small_col_sum_acc(n, cr, B, db1);
            }
            if (dx) { /* dL/ds = B W1 (divided by hw) */
                gemm_st(false, false, n, c, cr, 1.0f, B, cr, w1, c, 0.0f, A, c, NULL, false);
                float fhw = (float)hw;
                for (size_t i = 0; i < nc; i++) A[i] /= fhw;
            }
        }
        /* dx = dy*g + dL/ds / hw */
        if (dx) scale_by_channel(n, hw, c, dy, g, A, dx);
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
    k->se_scale = cpu_se_scale;
    k->se_bwd = cpu_se_bwd;
}
