/* cu_pool: the CUDA backend's ops for Ruff et al.'s LeNet and its
 * autoencoder — max pooling over non-overlapping k×k windows, LeakyReLU
 * with a slope given per call, nearest upsampling by an integer factor.
 * NHWC throughout, the same contracts as kernels/cpu/cpu_pool.c.
 *
 * Every output element (and every input-gradient element) is written by
 * exactly one thread and nothing is accumulated across threads, so the
 * results are the CPU's bits: the window scan order and the NaN rule
 * (k_max_takes), the LeakyReLU arithmetic (k_leaky, k_leaky_grad) and the
 * order of upsampling's gradient sum (row-major over the s×s copies) are
 * the CPU reference's. Max pooling's backward finds each window's winner
 * again from x (no saved indices) and writes the whole window.
 *
 * Must not be asked to: pool with overlapping windows or padding (the
 * KPool contract), upsample by a non-integer factor. */
#include "kernels/cuda/cu_internal.h"

extern "C" {
#include "kernels/kmath.h"
}

/* ---- max pooling ---- */

/* The input offset of window position t (row-major in the window) of
 * output row r (image and window), channel ch. */
__device__ static size_t window_at(KPool p, size_t r, int t, int ch) {
    size_t i = r / ((size_t)p.oh * p.ow), rem = r % ((size_t)p.oh * p.ow);
    size_t iy = (size_t)((int)(rem / p.ow) * p.k + t / p.k);
    size_t ix = (size_t)((int)(rem % p.ow) * p.k + t % p.k);
    return ((i * p.h + iy) * p.w + ix) * (size_t)p.c + (size_t)ch;
}

/* The winner's position in the window of output row r, channel ch (first
 * maximum wins, k_max_takes), and its value in *max. */
__device__ static int window_arg(KPool p, const float *x, size_t r, int ch, float *max) {
    float m = x[window_at(p, r, 0, ch)];
    int arg = 0;
    for (int t = 1; t < p.k * p.k; t++) {
        float v = x[window_at(p, r, t, ch)];
        if (k_max_takes(v, m)) m = v, arg = t;
    }
    *max = m;
    return arg;
}

__global__ static void k_maxpool_fwd(size_t total, KPool p, const float *x, float *y) {
    GRID_LOOP(e, total) {
        float m;
        window_arg(p, x, e / p.c, (int)(e % p.c), &m);
        y[e] = m;
    }
}

__global__ static void k_maxpool_bwd(size_t total, KPool p, const float *x, const float *dy,
                                     float *dx) {
    GRID_LOOP(e, total) {
        size_t r = e / p.c;
        int ch = (int)(e % p.c);
        float m;
        int arg = window_arg(p, x, r, ch, &m);
        for (int t = 0; t < p.k * p.k; t++) dx[window_at(p, r, t, ch)] = t == arg ? dy[e] : 0.0f;
    }
}

static void cu_maxpool_fwd(const KPool *p, const float *x, float *y) {
    size_t total = (size_t)p->n * p->oh * p->ow * p->c;
    if (!total) return;
    k_maxpool_fwd LAUNCH(total)(total, *p, x, y);
    CU_LAUNCHED();
}

static void cu_maxpool_bwd(const KPool *p, const float *x, const float *dy, float *dx) {
    /* floor mode leaves rows or columns outside every window: they get 0 */
    if (p->oh * p->k != p->h || p->ow * p->k != p->w)
        CU_CHECK(
            cudaMemsetAsync(dx, 0, (size_t)p->n * p->h * p->w * p->c * sizeof(float), cu_stream()));
    size_t total = (size_t)p->n * p->oh * p->ow * p->c;
    if (!total) return;
    k_maxpool_bwd LAUNCH(total)(total, *p, x, dy, dx);
    CU_LAUNCHED();
}

/* ---- LeakyReLU with a given slope ---- */

__global__ static void k_leaky_fwd(size_t n, float slope, const float *x, float *y) {
    GRID_LOOP(i, n) y[i] = k_leaky(x[i], slope);
}
__global__ static void k_leaky_bwd(size_t n, float slope, const float *x, const float *dy,
                                   float *dx) {
    GRID_LOOP(i, n) dx[i] = k_leaky_grad(x[i], dy[i], slope);
}

static void cu_leaky_fwd(size_t n, float slope, const float *x, float *y) {
    if (!n) return;
    k_leaky_fwd LAUNCH(n)(n, slope, x, y);
    CU_LAUNCHED();
}
static void cu_leaky_bwd(size_t n, float slope, const float *x, const float *dy, float *dx) {
    if (!n) return;
    k_leaky_bwd LAUNCH(n)(n, slope, x, dy, dx);
    CU_LAUNCHED();
}

/* ---- nearest upsampling ---- */

/* y [n, h*s, w*s, c] from x [n, h, w, c]: one thread per output element. */
__global__ static void k_upsample_fwd(size_t total, int h, int w, int c, int s, const float *x,
                                      float *y) {
    size_t ow = (size_t)w * s, oh = (size_t)h * s;
    GRID_LOOP(e, total) {
        size_t ch = e % c, px = e / c, ox = px % ow, oy = (px / ow) % oh, i = px / ow / oh;
        y[e] = x[((i * h + oy / s) * w + ox / s) * c + ch];
    }
}

/* dx [n, h, w, c]: the s×s copies summed in row-major order, from 0. */
__global__ static void k_upsample_bwd(size_t total, int h, int w, int c, int s, const float *dy,
                                      float *dx) {
    size_t ow = (size_t)w * s;
    GRID_LOOP(e, total) {
        size_t ch = e % c, px = e / c, xx = px % w, yy = (px / w) % h, i = px / w / h;
        float acc = 0.0f;
        for (int a = 0; a < s; a++)
            for (int b = 0; b < s; b++)
                acc += dy[((i * h * s + yy * s + a) * ow + xx * s + b) * c + ch];
        dx[e] = acc;
    }
}

static void cu_upsample_fwd(int n, int h, int w, int c, int s, const float *x, float *y) {
    size_t total = (size_t)n * h * s * w * s * c;
    if (!total) return;
    k_upsample_fwd LAUNCH(total)(total, h, w, c, s, x, y);
    CU_LAUNCHED();
}

static void cu_upsample_bwd(int n, int h, int w, int c, int s, const float *dy, float *dx) {
    size_t total = (size_t)n * h * w * c;
    if (!total) return;
    k_upsample_bwd LAUNCH(total)(total, h, w, c, s, dy, dx);
    CU_LAUNCHED();
}

void cu_register_pool(KOps *k) {
    k->maxpool_fwd = cu_maxpool_fwd;
    k->maxpool_bwd = cu_maxpool_bwd;
    k->leaky_fwd = cu_leaky_fwd;
    k->leaky_bwd = cu_leaky_bwd;
    k->upsample_fwd = cu_upsample_fwd;
    k->upsample_bwd = cu_upsample_bwd;
}
