/* cu_norm: the CUDA backend's batch normalisation (with a fused activation),
 * global average pooling and squeeze-excitation.
 *
 * Batchnorm is the backend's own (cuDNN's batchnorm calls fuse neither
 * SiLU nor LeakyReLU into an fp32 NHWC pass, nor recompute the activation
 * in the backward from x, which is how this interface is defined): x [rows,
 * c] with channels innermost. Statistics follow the CPU reference exactly
 * in form: per-channel sums of (x - x[row 0]) and its square in double
 * (the shift keeps the one-pass variance free of cancellation), biased
 * variance for the output, unbiased for the running variance; the
 * backward's sums (dp, dp*xhat) likewise, dx from the recomputed dp. Sums
 * go through cu_colred (fixed tiles, fixed order, no atomics); the
 * per-element arithmetic is kernels/kmath.h's. Statistics stay fp32/double
 * in every precision.
 *
 * Pooling and SE reduce over hw per (sample, channel) with the same
 * reduction; SE's small products run through cu_gemm. */
#include <math.h>

#include "kernels/cuda/cu_internal.h"
#include "kernels/cuda/cu_reduce.cuh"

extern "C" {
#include "kernels/kmath.h"
}

/* Per-channel values of one BN call: statistics m/is (batch or running),
 * affine g/b (1 and 0 when gamma/beta are NULL). */
struct BnView {
    const float *mean, *invstd; /* batch statistics (training) or NULL */
    const float *rmean, *rvar;  /* running statistics (evaluation) */
    const float *gamma, *beta;
    float eps;
    __device__ float m(int j) const { return mean ? mean[j] : rmean[j]; }
    __device__ float is(int j) const { return invstd ? invstd[j] : 1.0f / sqrtf(rvar[j] + eps); }
    __device__ float g(int j) const { return gamma ? gamma[j] : 1.0f; }
    __device__ float b(int j) const { return beta ? beta[j] : 0.0f; }
};

struct BnStats { /* sums of x - x[0] and its square */
    const float *x;
    int c;
    __device__ void operator()(int, int r, int j, double *acc) const {
        double d = (double)x[(size_t)r * c + j] - (double)x[j];
        acc[0] += d;
        acc[1] += d * d;
    }
};

struct BnGradSums { /* sums of dp = dy * act'(pre) and dp * xhat */
    const float *x, *dy;
    int c;
    KAct act;
    BnView v;
    __device__ void operator()(int, int r, int j, double *acc) const {
        size_t i = (size_t)r * c + j;
        float xh = bn_xhat(x[i], v.m(j), v.is(j));
        float dp = dy[i] * act_slope(act, bn_pre(xh, v.g(j), v.b(j)));
        acc[0] += dp;
        acc[1] += (double)dp * xh;
    }
};

__global__ static void k_bn_stats_final(int c, int rows, float eps, double mom, bool update,
                                        const double *s, const float *x, float *mean, float *invstd,
                                        float *run_mean, float *run_var) {
    GRID_LOOP(j, c) {
        double n = rows;
        double md = s[2 * j] / n;
        double var = s[2 * j + 1] / n - md * md;
        if (var < 0) var = 0;
        double mu = (double)x[j] + md;
        mean[j] = (float)mu;
        invstd[j] = (float)(1.0 / sqrt(var + (double)eps));
        if (update) {
            double unbiased = rows > 1 ? var * n / (n - 1) : var;
            run_mean[j] = (float)((1 - mom) * run_mean[j] + mom * mu);
            run_var[j] = (float)((1 - mom) * run_var[j] + mom * unbiased);
        }
    }
}

__global__ static void k_bn_apply(size_t total, int c, KAct act, BnView v, const float *x,
                                  float *y) {
    GRID_LOOP(i, total) {
        int j = (int)(i % c);
        float xh = bn_xhat(x[i], v.m(j), v.is(j));
        y[i] = act_value(act, bn_pre(xh, v.g(j), v.b(j)));
    }
}

/* y = act(bn(x)) under the statistics v names (batch or running). */
static void bn_apply_view(const KBn *p, BnView v, const float *x, float *y) {
    size_t total = (size_t)p->rows * p->c;
    if (!total) return;
    k_bn_apply LAUNCH(total)(total, p->c, p->act, v, x, y);
    CU_LAUNCHED();
}

static void cu_bn_train_fwd(const KBn *p, const float *x, const float *gamma, const float *beta,
                            float *run_mean, float *run_var, bool update_running, float *mean,
                            float *invstd, float *y) {
    if (p->rows <= 0 || p->c <= 0) return;
    double *s = cu_red_out();
    if (!cu_colred<2>((size_t)p->rows, p->c, 1, BnStats{x, p->c}, s)) return;
    k_bn_stats_final LAUNCH(p->c)(p->c, p->rows, p->eps, (double)p->momentum, update_running, s, x,
                                  mean, invstd, run_mean, run_var);
    CU_LAUNCHED();
    bn_apply_view(p, BnView{mean, invstd, NULL, NULL, gamma, beta, p->eps}, x, y);
}

static void cu_bn_eval_fwd(const KBn *p, const float *x, const float *gamma, const float *beta,
                           const float *run_mean, const float *run_var, float *y) {
    bn_apply_view(p, BnView{NULL, NULL, run_mean, run_var, gamma, beta, p->eps}, x, y);
}

/* dbeta/dgamma += the sums (double, rounded once); k1, k2 = the means (training). */
__global__ static void k_bn_grad_final(int c, int rows, const double *s, float *dgamma,
                                       float *dbeta, float *k12) {
    GRID_LOOP(j, c) {
        if (dbeta) dbeta[j] = (float)((double)dbeta[j] + s[2 * j]);
        if (dgamma) dgamma[j] = (float)((double)dgamma[j] + s[2 * j + 1]);
        if (k12) {
            k12[j] = (float)(s[2 * j] / rows);
            k12[c + j] = (float)(s[2 * j + 1] / rows);
        }
    }
}

/* dx from dy (read first: dx may alias dy). Training: from k1, k2; evaluation: dp * g * is. */
__global__ static void k_bn_dx(size_t total, int c, KAct act, BnView v, const float *k12,
                               const float *x, const float *dy, float *dx) {
    GRID_LOOP(i, total) {
        int j = (int)(i % c);
        float is = v.is(j), g = v.g(j);
        float xh = bn_xhat(x[i], v.m(j), is);
        float dp = dy[i] * act_slope(act, bn_pre(xh, g, v.b(j)));
        dx[i] = k12 ? bn_dx(dp, xh, k12[j], k12[c + j], g, is) : dp * (g * is);
    }
}

static void bn_bwd(const KBn *p, const BnView &v, bool train, const float *x, const float *dy,
                   float *dx, float *dgamma, float *dbeta) {
    if (!dx && !dgamma && !dbeta) return;
    if (p->rows <= 0 || p->c <= 0) return;
    double *s = cu_red_out();
    float *k12 = train ? (float *)(s + 2 * (size_t)p->c) : NULL;
    if (!cu_colred<2>((size_t)p->rows, p->c, 1, BnGradSums{x, dy, p->c, p->act, v}, s)) return;
    k_bn_grad_final LAUNCH(p->c)(p->c, p->rows, s, dgamma, dbeta, k12);
    CU_LAUNCHED();
    if (!dx) return;
    size_t total = (size_t)p->rows * p->c;
    k_bn_dx LAUNCH(total)(total, p->c, p->act, v, k12, x, dy, dx);
    CU_LAUNCHED();
}

static void cu_bn_train_bwd(const KBn *p, const float *x, const float *gamma, const float *beta,
                            const float *mean, const float *invstd, const float *dy, float *dx,
                            float *dgamma, float *dbeta) {
    BnView v = {mean, invstd, NULL, NULL, gamma, beta, p->eps};
    bn_bwd(p, v, true, x, dy, dx, dgamma, dbeta);
}

static void cu_bn_eval_bwd(const KBn *p, const float *x, const float *gamma, const float *beta,
                           const float *run_mean, const float *run_var, const float *dy, float *dx,
                           float *dgamma, float *dbeta) {
    BnView v = {NULL, NULL, run_mean, run_var, gamma, beta, p->eps};
    bn_bwd(p, v, false, x, dy, dx, dgamma, dbeta);
}

/* ------------------------------------------------------------- pooling */

__global__ static void k_scale_store(size_t n, const double *s, double scale, float *y) {
    GRID_LOOP(i, n) y[i] = (float)(s[i] * scale);
}

/* out[n,c] = scale * sum over hw of x (times x2 when given). */
static void hw_reduce(int n, int hw, int c, const float *x, const float *x2, double scale,
                      float *out) {
    if (n <= 0 || c <= 0) return;
    double *s = cu_red_out();
    if (x2) cu_colsum_prod((size_t)hw, c, n, x, x2, c, s);
    else cu_colsum((size_t)hw, c, n, x, c, s);
    size_t total = (size_t)n * c;
    k_scale_store LAUNCH(total)(total, s, scale, out);
    CU_LAUNCHED();
}

static void cu_gap_fwd(int n, int hw, int c, const float *x, float *y) {
    hw_reduce(n, hw, c, x, NULL, 1.0 / hw, y);
}

__global__ static void k_gap_bwd(size_t total, int hw, int c, const float *dy, float *dx) {
    float fhw = (float)hw;
    GRID_LOOP(i, total) dx[i] = dy[(i / c / hw) * c + i % c] / fhw;
}
static void cu_gap_bwd(int n, int hw, int c, const float *dy, float *dx) {
    size_t total = (size_t)n * hw * c;
    if (!total) return;
    k_gap_bwd LAUNCH(total)(total, hw, c, dy, dx);
    CU_LAUNCHED();
}

/* ------------------------------------------------- squeeze-excitation */

__global__ static void k_fill_rows(int rows, int n, const float *b, float *y) {
    GRID_LOOP(i, (size_t)rows * n) y[i] = b[i % n];
}
/* y[rows,out] = x W^T + b (the CPU's small_linear: bias first, then beta 1). */
static void small_linear(int rows, int in, int out, const float *x, const float *w, const float *b,
                         float *y) {
    if (b) {
        k_fill_rows LAUNCH((size_t)rows * out)(rows, out, b, y);
        CU_LAUNCHED();
    }
    cu_gemm(false, true, rows, out, in, 1.0f, x, in, w, in, b ? 1.0f : 0.0f, y, out, true);
}

__global__ static void k_act_map(size_t n, KAct a, const float *x, float *y) {
    GRID_LOOP(i, n) y[i] = act_value(a, x[i]);
}
__global__ static void k_sigmoid_inplace(size_t n, float *g) {
    GRID_LOOP(i, n) g[i] = sigmoid_f(g[i]);
}
__global__ static void k_scale_by_channel(size_t total, int hw, int c, const float *x,
                                          const float *g, float *y) {
    GRID_LOOP(i, total) y[i] = x[i] * g[(i / c / hw) * c + i % c];
}

static void cu_se_fwd(int n, int hw, int c, int cr, const float *x, const float *w1,
                      const float *b1, const float *w2, const float *b2, float *save, float *y) {
    float *s = save, *rpre = save + (size_t)n * c, *g = rpre + (size_t)n * cr;
    hw_reduce(n, hw, c, x, NULL, 1.0 / hw, s);
    small_linear(n, c, cr, s, w1, b1, rpre);
    float *r = y; /* scratch, as on the CPU (hw*c >= cr) */
    k_act_map LAUNCH((size_t)n * cr)((size_t)n * cr, K_ACT_SILU, rpre, r);
    CU_LAUNCHED();
    small_linear(n, cr, c, r, w2, b2, g);
    k_sigmoid_inplace LAUNCH((size_t)n * c)((size_t)n * c, g);
    CU_LAUNCHED();
    size_t total = (size_t)n * hw * c;
    k_scale_by_channel LAUNCH(total)(total, hw, c, x, g, y);
    CU_LAUNCHED();
}

static void cu_se_scale(int n, int hw, int c, int cr, const float *x, const float *save, float *y) {
    const float *g = save + (size_t)n * (c + cr);
    size_t total = (size_t)n * hw * c;
    k_scale_by_channel LAUNCH(total)(total, hw, c, x, g, y);
    CU_LAUNCHED();
}

__global__ static void k_sigmoid_grad(size_t n, const float *g, float *a) {
    GRID_LOOP(i, n) a[i] *= g[i] * (1.0f - g[i]);
}
__global__ static void k_silu_grad(size_t n, const float *rpre, float *b) {
    GRID_LOOP(i, n) b[i] *= act_slope(K_ACT_SILU, rpre[i]);
}
__global__ static void k_div(size_t n, float d, float *a) { GRID_LOOP(i, n) a[i] /= d; }
__global__ static void k_se_dx(size_t total, int hw, int c, const float *dy, const float *g,
                               const float *a, float *dx) {
    GRID_LOOP(i, total) {
        size_t o = (i / c / hw) * c + i % c;
        dx[i] = dy[i] * g[o] + a[o];
    }
}

static void cu_se_bwd(int n, int hw, int c, int cr, const float *x, const float *w1,
                      const float *b1, const float *w2, const float *b2, const float *save,
                      const float *dy, float *dx, float *dw1, float *db1, float *dw2, float *db2,
                      float *ws) {
    const float *s = save, *rpre = save + (size_t)n * c, *g = rpre + (size_t)n * cr;
    float *A = ws, *B = ws + (size_t)n * c;
    size_t nc = (size_t)n * c, ncr = (size_t)n * cr;
    const KOps *k = &cu_ctx()->ops;
    /* dL/dg = sum_hw dy*x, through the sigmoid */
    hw_reduce(n, hw, c, dy, x, 1.0, A);
    k_sigmoid_grad LAUNCH(nc)(nc, g, A);
    CU_LAUNCHED();
    k_act_map LAUNCH(ncr)(ncr, K_ACT_SILU, rpre, B);
    CU_LAUNCHED();
    if (dw2) cu_gemm(true, false, c, cr, n, 1.0f, A, c, B, cr, 1.0f, dw2, cr, true);
    if (db2) k->col_sum(n, c, A, db2, true);
    if (!dx && !dw1 && !db1) return;
    /* dL/dr = A W2, through the SiLU */
    cu_gemm(false, false, n, cr, c, 1.0f, A, c, w2, cr, 0.0f, B, cr, true);
    k_silu_grad LAUNCH(ncr)(ncr, rpre, B);
    CU_LAUNCHED();
    if (dw1) cu_gemm(true, false, cr, c, n, 1.0f, B, cr, s, c, 1.0f, dw1, c, true);
    if (db1) k->col_sum(n, cr, B, db1, true);
    if (!dx) return;
    /* dL/ds = B W1; dx = dy*g + dL/ds / hw */
    cu_gemm(false, false, n, c, cr, 1.0f, B, cr, w1, c, 0.0f, A, c, true);
    k_div LAUNCH(nc)(nc, (float)hw, A);
    CU_LAUNCHED();
    size_t total = (size_t)n * hw * c;
    k_se_dx LAUNCH(total)(total, hw, c, dy, g, A, dx);
    CU_LAUNCHED();
}

void cu_register_norm(KOps *k) {
    k->bn_train_fwd = cu_bn_train_fwd;
    k->bn_eval_fwd = cu_bn_eval_fwd;
    k->bn_train_bwd = cu_bn_train_bwd;
    k->bn_eval_bwd = cu_bn_eval_bwd;
    k->gap_fwd = cu_gap_fwd;
    k->gap_bwd = cu_gap_bwd;
    k->se_fwd = cu_se_fwd;
    k->se_scale = cu_se_scale;
    k->se_bwd = cu_se_bwd;
}
