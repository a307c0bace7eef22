/* cpu_glue: the small ops that connect model parts — row scaling
 * (stochastic depth), averaging over the frames of a clip, NHWC/NCHW
 * permutes, per-channel affine maps, the VAE's reparameterisation and its
 * per-sample loss terms, and counter-RNG noise. Every output element is
 * written by one loop iteration, so results do not depend on threads. */
#include <math.h>

#include "cpu_internal.h"
#include "kernels/kmath.h"

#define ADAM_BLOCK 16384 /* values per AdamW work unit */

static void row_scale(int rows, int cols, const float *s, const float *x, float *y) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) y[(size_t)r * cols + c] = s[r] * x[(size_t)r * cols + c];
}

static void group_mean_fwd(int rows, int g, int cols, const float *x, float *y) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++) {
        float *yr = y + (size_t)r * cols;
        for (int c = 0; c < cols; c++) yr[c] = 0;
        for (int j = 0; j < g; j++) {
            const float *xr = x + ((size_t)r * g + j) * cols;
            for (int c = 0; c < cols; c++) yr[c] += xr[c];
        }
        for (int c = 0; c < cols; c++) yr[c] /= (float)g;
    }
}

static void group_mean_bwd(int rows, int g, int cols, const float *dy, float *dx) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < g; j++)
            for (int c = 0; c < cols; c++)
                dx[((size_t)r * g + j) * cols + c] = dy[(size_t)r * cols + c] / (float)g;
}

static void nhwc_to_nchw(int n, int h, int w, int c, const float *x, float *y) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++)
            for (int p = 0; p < h * w; p++)
                y[((size_t)i * c + ch) * h * w + p] = x[((size_t)i * h * w + p) * c + ch];
}

static void nchw_to_nhwc(int n, int h, int w, int c, const float *x, float *y) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int i = 0; i < n; i++)
        for (int p = 0; p < h * w; p++)
            for (int ch = 0; ch < c; ch++)
                y[((size_t)i * h * w + p) * c + ch] = x[((size_t)i * c + ch) * h * w + p];
}

static void chan_affine(int rows, int c, const float *a, const float *b, const float *x, float *y) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < c; j++) y[(size_t)r * c + j] = a[j] * x[(size_t)r * c + j] + b[j];
}

static void reparam_fwd(size_t n, const float *mu, const float *logvar, const float *eps,
                        float *z) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) z[i] = k_reparam(mu[i], logvar[i], eps[i]);
}

static void reparam_bwd(size_t n, const float *logvar, const float *eps, const float *dz,
                        float *dmu, float *dlogvar) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        dmu[i] = dz[i];
        dlogvar[i] = k_reparam_dlogvar(dz[i], logvar[i], eps[i]);
    }
}

static void vae_terms(int rows, int d, int latent, const float *recon, const float *target,
                      const float *mu, const float *logvar, float *mse, float *kl) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++) {
        double s = 0, k = 0;
        for (int j = 0; j < d; j++) {
            double e = (double)recon[(size_t)r * d + j] - target[(size_t)r * d + j];
            s += e * e;
        }
        for (int j = 0; j < latent; j++) {
            double m = mu[(size_t)r * latent + j], lv = logvar[(size_t)r * latent + j];
            k += 1.0 + lv - m * m - exp(lv);
        }
        mse[r] = (float)(s / d);
        kl[r] = (float)(-0.5 * k);
    }
}

static void vae_terms_bwd(int rows, int d, int latent, const float *recon, const float *target,
                          const float *mu, const float *logvar, const float *wm, const float *wk,
                          float *drecon, float *dmu, float *dlogvar) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++) {
        float gm = 2.0f * wm[r] / (float)d;
        for (int j = 0; j < d; j++) {
            size_t i = (size_t)r * d + j;
            drecon[i] = gm * (recon[i] - target[i]);
        }
        for (int j = 0; j < latent; j++) {
            size_t i = (size_t)r * latent + j;
            if (dmu) dmu[i] += wk[r] * mu[i];
            if (dlogvar) dlogvar[i] += k_kl_dlogvar(wk[r], logvar[i]);
        }
    }
}

static void sqdist_fwd(int rows, int d, const float *x, const float *c, float *out) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++) {
        double s = 0;
        for (int j = 0; j < d; j++) {
            double e = (double)x[(size_t)r * d + j] - c[j];
            s += e * e;
        }
        out[r] = (float)s;
    }
}

static void sqdist_bwd(int rows, int d, const float *x, const float *c, const float *w, float *dx) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < d; j++)
            dx[(size_t)r * d + j] = k_sqdist_dx(w[r], x[(size_t)r * d + j], c[j]);
}

/* PyTorch's AdamW with the gradient clip's scale fused (g*c first, the same
 * product a separate scale would store), the active path's vector kernel
 * over fixed blocks. */
static void adamw(size_t n, float lr, float b1, float b2, float eps, float wd, int64_t step,
                  const double *grad_norm, double max_norm, float *p, const float *g, float *m,
                  float *v) {
    const float gscale = grad_norm ? k_clip_coef(grad_norm[0], max_norm) : 1.0f;
    double bc1 = 1.0 - pow((double)b1, (double)step), bc2 = 1.0 - pow((double)b2, (double)step);
    AdamWArgs a = {.b1 = b1,
                   .b2 = b2,
                   .omb1 = 1.0f - b1,
                   .omb2 = 1.0f - b2,
                   .eps = eps,
                   .decay = 1.0f - lr * wd,
                   .step_size = (float)(lr / bc1),
                   .bc2_sqrt = (float)sqrt(bc2),
                   .gscale = gscale};
    const CpuVec *vec = cpu_vec();
    const size_t nb = (n + ADAM_BLOCK - 1) / ADAM_BLOCK;
#pragma omp parallel for schedule(static) if (n >= 2 * ADAM_BLOCK)
    for (size_t bl = 0; bl < nb; bl++) {
        const size_t i0 = bl * ADAM_BLOCK, len = n - i0 < ADAM_BLOCK ? n - i0 : ADAM_BLOCK;
        vec->adamw(&a, len, p + i0, g + i0, m + i0, v + i0);
    }
}

static void fill_dropout(RngStream s, uint64_t step, size_t n, float p, float *mask) {
    rng_fill_dropout(s, step, 0, n, p, mask);
}

static void fill_normal(RngStream s, uint64_t step, size_t n, float *x) {
    rng_fill_normal(s, step, 0, n, 0.0f, 1.0f, x);
}

void cpu_register_glue(KOps *k) {
    k->row_scale = row_scale;
    k->group_mean_fwd = group_mean_fwd;
    k->group_mean_bwd = group_mean_bwd;
    k->nhwc_to_nchw = nhwc_to_nchw;
    k->nchw_to_nhwc = nchw_to_nhwc;
    k->chan_affine = chan_affine;
    k->reparam_fwd = reparam_fwd;
    k->reparam_bwd = reparam_bwd;
    k->vae_terms = vae_terms;
    k->vae_terms_bwd = vae_terms_bwd;
    k->sqdist_fwd = sqdist_fwd;
    k->sqdist_bwd = sqdist_bwd;
    k->adamw = adamw;
    k->fill_dropout = fill_dropout;
    k->fill_normal = fill_normal;
}
