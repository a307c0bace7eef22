/* cu_glue: the small ops that connect model parts, on the GPU — row scaling
 * (stochastic depth), averaging over the frames of a clip, NHWC/NCHW
 * permutes, per-channel affine maps, the VAE's reparameterisation and
 * per-row loss terms, the Deep SVDD distance, counter-RNG noise (dropout
 * masks and normals from the Philox core in kernels/rng.h: the same numbers
 * as the CPU backend, element by element) and the batch loss (kernels/kloss.h).
 *
 * Every output element has one writer. Per-row sums (VAE terms, SVDD
 * distance) run one block per row with a fixed shared-memory tree in
 * double; the loss runs one block: samples in parallel, then one thread
 * adds them in sample order, as the CPU does. */
#include <math.h>

#include "kernels/cuda/cu_internal.h"
#include "kernels/cuda/cu_reduce.cuh"

extern "C" {
#include "kernels/kloss.h"
#include "kernels/kmath.h"
#include "kernels/rng.h"
}

__global__ static void k_row_scale(int rows, int cols, const float *s, const float *x, float *y) {
    GRID_LOOP(i, (size_t)rows * cols) y[i] = s[i / cols] * x[i];
}
static void cu_row_scale(int rows, int cols, const float *s, const float *x, float *y) {
    if (rows <= 0 || cols <= 0) return;
    k_row_scale LAUNCH((size_t)rows * cols)(rows, cols, s, x, y);
    CU_LAUNCHED();
}

/* y[r, c] = mean over g rows, accumulated in float in row order (the CPU's). */
__global__ static void k_group_mean(int rows, int g, int cols, const float *x, float *y) {
    GRID_LOOP(i, (size_t)rows * cols) {
        size_t r = i / cols, c = i % cols;
        float acc = 0.0f;
        for (int j = 0; j < g; j++) acc += x[(r * g + j) * cols + c];
        y[i] = acc / (float)g;
    }
}
__global__ static void k_group_mean_bwd(int rows, int g, int cols, const float *dy, float *dx) {
    GRID_LOOP(i, (size_t)rows * g * cols) {
        size_t c = i % cols, r = i / cols / g;
        dx[i] = dy[r * cols + c] / (float)g;
    }
}
static void cu_group_mean_fwd(int rows, int g, int cols, const float *x, float *y) {
    if (rows <= 0 || cols <= 0) return;
    k_group_mean LAUNCH((size_t)rows * cols)(rows, g, cols, x, y);
    CU_LAUNCHED();
}
static void cu_group_mean_bwd(int rows, int g, int cols, const float *dy, float *dx) {
    if (rows <= 0 || cols <= 0 || g <= 0) return;
    k_group_mean_bwd LAUNCH((size_t)rows * g * cols)(rows, g, cols, dy, dx);
    CU_LAUNCHED();
}

/* y [n,c,h,w] = x [n,h,w,c] (to_nchw) and the inverse; one thread per output. */
__global__ static void k_permute(int n, int hw, int c, const float *x, float *y, bool to_nchw) {
    GRID_LOOP(i, (size_t)n * hw * c) {
        if (to_nchw) { /* i over [n, c, hw] */
            size_t p = i % hw, ch = i / hw % c, ni = i / hw / c;
            y[i] = x[(ni * hw + p) * c + ch];
        } else { /* i over [n, hw, c] */
            size_t ch = i % c, p = i / c % hw, ni = i / c / hw;
            y[i] = x[(ni * c + ch) * hw + p];
        }
    }
}
static void cu_nhwc_to_nchw(int n, int h, int w, int c, const float *x, float *y) {
    size_t total = (size_t)n * h * w * c;
    if (!total) return;
    k_permute LAUNCH(total)(n, h * w, c, x, y, true);
    CU_LAUNCHED();
}
static void cu_nchw_to_nhwc(int n, int h, int w, int c, const float *x, float *y) {
    size_t total = (size_t)n * h * w * c;
    if (!total) return;
    k_permute LAUNCH(total)(n, h * w, c, x, y, false);
    CU_LAUNCHED();
}

__global__ static void k_chan_affine(int rows, int c, const float *a, const float *b,
                                     const float *x, float *y) {
    GRID_LOOP(i, (size_t)rows * c) y[i] = a[i % c] * x[i] + b[i % c];
}
static void cu_chan_affine(int rows, int c, const float *a, const float *b, const float *x,
                           float *y) {
    if (rows <= 0 || c <= 0) return;
    k_chan_affine LAUNCH((size_t)rows * c)(rows, c, a, b, x, y);
    CU_LAUNCHED();
}

__global__ static void k_reparam(size_t n, const float *mu, const float *lv, const float *eps,
                                 float *z) {
    GRID_LOOP(i, n) z[i] = k_reparam(mu[i], lv[i], eps[i]);
}
__global__ static void k_reparam_bwd(size_t n, const float *lv, const float *eps, const float *dz,
                                     float *dmu, float *dlv) {
    GRID_LOOP(i, n) {
        dmu[i] = dz[i];
        dlv[i] = k_reparam_dlogvar(dz[i], lv[i], eps[i]);
    }
}
static void cu_reparam_fwd(size_t n, const float *mu, const float *lv, const float *eps, float *z) {
    if (!n) return;
    k_reparam LAUNCH(n)(n, mu, lv, eps, z);
    CU_LAUNCHED();
}
static void cu_reparam_bwd(size_t n, const float *lv, const float *eps, const float *dz, float *dmu,
                           float *dlv) {
    if (!n) return;
    k_reparam_bwd LAUNCH(n)(n, lv, eps, dz, dmu, dlv);
    CU_LAUNCHED();
}

/* Fixed tree over the block's 256 accumulators; thread 0 gets the total. */
__device__ static double block_sum(double v, double *sm) {
    sm[threadIdx.x] = v;
    __syncthreads();
    for (int s = CU_THREADS / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s) sm[threadIdx.x] += sm[threadIdx.x + s];
        __syncthreads();
    }
    double t = sm[0];
    __syncthreads();
    return t;
}

/* One block per row: mse = mean (recon - target)^2, kl = -1/2 sum(1 + lv - mu^2 - e^lv). */
__global__ static void k_vae_terms(int d, int latent, const float *recon, const float *target,
                                   const float *mu, const float *lv, float *mse, float *kl) {
    __shared__ double sm[CU_THREADS];
    size_t r = blockIdx.x;
    double s = 0, k = 0;
    for (int j = threadIdx.x; j < d; j += CU_THREADS) {
        double e = (double)recon[r * d + j] - target[r * d + j];
        s += e * e;
    }
    for (int j = threadIdx.x; j < latent; j += CU_THREADS) {
        double m = mu[r * latent + j], l = lv[r * latent + j];
        k += 1.0 + l - m * m - exp(l);
    }
    s = block_sum(s, sm);
    k = block_sum(k, sm);
    if (threadIdx.x == 0) {
        mse[r] = (float)(s / d);
        kl[r] = (float)(-0.5 * k);
    }
}
static void cu_vae_terms(int rows, int d, int latent, const float *recon, const float *target,
                         const float *mu, const float *lv, float *mse, float *kl) {
    if (rows <= 0) return;
    k_vae_terms<<<rows, CU_THREADS, 0, cu_stream()>>>(d, latent, recon, target, mu, lv, mse, kl);
    CU_LAUNCHED();
}

__global__ static void k_vae_terms_bwd_rec(int rows, int d, const float *recon, const float *target,
                                           const float *wm, float *drec) {
    GRID_LOOP(i, (size_t)rows * d) {
        float gm = 2.0f * wm[i / d] / (float)d;
        drec[i] = gm * (recon[i] - target[i]);
    }
}
__global__ static void k_vae_terms_bwd_lat(int rows, int latent, const float *mu, const float *lv,
                                           const float *wk, float *dmu, float *dlv) {
    GRID_LOOP(i, (size_t)rows * latent) {
        float w = wk[i / latent];
        if (dmu) dmu[i] += w * mu[i];
        if (dlv) dlv[i] += k_kl_dlogvar(w, lv[i]);
    }
}
static void cu_vae_terms_bwd(int rows, int d, int latent, const float *recon, const float *target,
                             const float *mu, const float *lv, const float *wm, const float *wk,
                             float *drec, float *dmu, float *dlv) {
    if (rows <= 0) return;
    k_vae_terms_bwd_rec LAUNCH((size_t)rows * d)(rows, d, recon, target, wm, drec);
    CU_LAUNCHED();
    if (!dmu && !dlv) return;
    k_vae_terms_bwd_lat LAUNCH((size_t)rows * latent)(rows, latent, mu, lv, wk, dmu, dlv);
    CU_LAUNCHED();
}

__global__ static void k_sqdist(int d, const float *x, const float *c, float *out) {
    __shared__ double sm[CU_THREADS];
    size_t r = blockIdx.x;
    double s = 0;
    for (int j = threadIdx.x; j < d; j += CU_THREADS) {
        double e = (double)x[r * d + j] - c[j];
        s += e * e;
    }
    s = block_sum(s, sm);
    if (threadIdx.x == 0) out[r] = (float)s;
}
__global__ static void k_sqdist_bwd(int rows, int d, const float *x, const float *c, const float *w,
                                    float *dx) {
    GRID_LOOP(i, (size_t)rows * d) dx[i] = k_sqdist_dx(w[i / d], x[i], c[i % d]);
}
static void cu_sqdist_fwd(int rows, int d, const float *x, const float *c, float *out) {
    if (rows <= 0) return;
    k_sqdist<<<rows, CU_THREADS, 0, cu_stream()>>>(d, x, c, out);
    CU_LAUNCHED();
}
static void cu_sqdist_bwd(int rows, int d, const float *x, const float *c, const float *w,
                          float *dx) {
    if (rows <= 0 || d <= 0) return;
    k_sqdist_bwd LAUNCH((size_t)rows * d)(rows, d, x, c, w, dx);
    CU_LAUNCHED();
}

/* ---- noise: element i of (stream, step), as rng_fill_dropout / rng_fill_normal ---- */

__global__ static void k_dropout(RngStream s, uint64_t step, size_t n, float p, float keep,
                                 float *mask) {
    GRID_LOOP(i, n) mask[i] = rng_dropout_at(s, step, i, p, keep);
}
__global__ static void k_normal(RngStream s, uint64_t step, size_t n, float *x) {
    GRID_LOOP(i, n) x[i] = 0.0f + 1.0f * rng_normal_at(s, step, i);
}
static void cu_fill_dropout(RngStream s, uint64_t step, size_t n, float p, float *mask) {
    if (!n) return;
    float keep = 1.0f / (1.0f - p);
    k_dropout LAUNCH(n)(s, step, n, p, keep, mask);
    CU_LAUNCHED();
}
static void cu_fill_normal(RngStream s, uint64_t step, size_t n, float *x) {
    if (!n) return;
    k_normal LAUNCH(n)(s, step, n, x);
    CU_LAUNCHED();
}

/* ---- the batch loss ---- */

__global__ static void k_loss(KLoss c, const float *tgt, const double *class_alpha,
                              const float *cls, const float *bin, const float *score,
                              const float *mse, const float *kl, float *g_cls, float *g_bin,
                              float *g_w, float *g_wm, float *g_wk, double *parts,
                              double *contrib) {
    for (int i = threadIdx.x; i < c.b; i += blockDim.x)
        kloss_sample(&c, tgt + (size_t)i * K_TGT, class_alpha, cls + (size_t)i * c.classes,
                     bin + 2 * (size_t)i, g_cls + (size_t)i * c.classes, g_bin + 2 * (size_t)i,
                     contrib + 3 * (size_t)i);
    __syncthreads();
    if (threadIdx.x == 0) kloss_finish(&c, tgt, contrib, score, mse, kl, g_w, g_wm, g_wk, parts);
}

static void cu_loss(const KLoss *c, const float *tgt, const double *class_alpha, const float *cls,
                    const float *bin, const float *score, const float *mse, const float *kl,
                    float *g_cls, float *g_bin, float *g_w, float *g_wm, float *g_wk,
                    double *parts) {
    if ((size_t)c->b * 3 > CU_RED_OUT || c->classes > KLOSS_MAX_C || c->b < 1 || c->rows < 1) {
        cu_note(VB_ERR_BACKEND, __FILE__, __LINE__,
                "loss: batch %d, %d classes, %d rows unsupported", c->b, c->classes, c->rows);
        return;
    }
    k_loss<<<1, CU_THREADS, 0, cu_stream()>>>(*c, tgt, class_alpha, cls, bin, score, mse, kl, g_cls,
                                              g_bin, g_w, g_wm, g_wk, parts, cu_red_out());
    CU_LAUNCHED();
}

void cu_register_glue(KOps *k) {
    k->row_scale = cu_row_scale;
    k->group_mean_fwd = cu_group_mean_fwd;
    k->group_mean_bwd = cu_group_mean_bwd;
    k->nhwc_to_nchw = cu_nhwc_to_nchw;
    k->nchw_to_nhwc = cu_nchw_to_nhwc;
    k->chan_affine = cu_chan_affine;
    k->reparam_fwd = cu_reparam_fwd;
    k->reparam_bwd = cu_reparam_bwd;
    k->vae_terms = cu_vae_terms;
    k->vae_terms_bwd = cu_vae_terms_bwd;
    k->sqdist_fwd = cu_sqdist_fwd;
    k->sqdist_bwd = cu_sqdist_bwd;
    k->fill_dropout = cu_fill_dropout;
    k->fill_normal = cu_fill_normal;
    k->loss = cu_loss;
}
