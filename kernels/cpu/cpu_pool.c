/* cpu_pool: the CPU ops Ruff et al.'s LeNet and its autoencoder need —
 * max pooling over non-overlapping k×k windows, LeakyReLU with a slope
 * given per call, and nearest-neighbour upsampling by an integer factor.
 * NHWC activations throughout (kernels.h).
 *
 * Ownership: every output element (and every input-gradient element) is
 * written by exactly one thread, and no op reduces across threads, so
 * results are identical for any thread count. Max pooling picks the first
 * maximum of a window in row-major order, as PyTorch's CPU kernel does
 * (`val > max || isnan(val)`: a NaN wins, the last one of a window), and its backward
 * recomputes that position from x instead of saving indices.
 *
 * Must not be asked to: pool with overlapping windows (stride != k) or
 * padding; upsample by a non-integer factor. */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "cpu_internal.h"
#include "kernels/kmath.h"

enum { PAR_MIN = 1 << 14 }; /* elements below which a loop runs on one thread */

/* Four lanes (GCC vector extensions): selects instead of branches, since the
 * signs of activations and the winners of pooling windows are random. */
typedef float v4f __attribute__((vector_size(16)));
typedef int v4i __attribute__((vector_size(16)));

static inline v4f select4(v4i mask, v4f a, v4f b) { /* mask ? a : b, per lane */
    return (v4f)(((v4i)a & mask) | ((v4i)b & ~mask));
}

/* ---- max pooling ---- */

/* One output pixel (image i, window row oy, column ox), all channels: the
 * window is scanned in row-major order with the channels innermost, so the
 * loops run over contiguous memory; per channel the first maximum wins
 * (`v > m || isnan(v)`, PyTorch's rule). */
static inline void window_max(const KPool *p, const float *x, long i, int oy, int ox, float *m) {
    int k = p->k, c = p->c;
    for (int dy = 0; dy < k; dy++)
        for (int dx = 0; dx < k; dx++) {
            const float *row =
                x + (((size_t)i * p->h + (size_t)(oy * k + dy)) * p->w + (size_t)(ox * k + dx)) *
                        (size_t)c;
            int off = dy * k + dx;
            if (off == 0) {
                for (int ch = 0; ch < c; ch++) m[ch] = row[ch];
                continue;
            }
#pragma omp simd
            for (int ch = 0; ch < c; ch++) {
                float v = row[ch];
                m[ch] = k_max_takes(v, m[ch]) ? v : m[ch];
            }
        }
}

enum { POOL_MAX_C = 4096 };

static void maxpool_fwd(const KPool *p, const float *x, float *y) {
    VB_ASSERT(p->c <= POOL_MAX_C);
    long rows = (long)p->n * p->oh * p->ow;
#pragma omp parallel for schedule(static) if ((size_t)rows * p->c >= PAR_MIN)
    for (long r = 0; r < rows; r++) {
        long i = r / ((long)p->oh * p->ow), rem = r % ((long)p->oh * p->ow);
        window_max(p, x, i, (int)(rem / p->ow), (int)(rem % p->ow), y + (size_t)r * p->c);
    }
}

/* dx overwrite: each input element belongs to at most one window (stride
 * == k); elements outside every window (floor mode) get 0. The window's
 * maximum is found again from x (same scan and rule as the forward), then
 * each window position keeps dy where it won and 0 elsewhere. */
static void maxpool_bwd(const KPool *p, const float *x, const float *dy, float *dx) {
    VB_ASSERT(p->c <= POOL_MAX_C);
    long rows = (long)p->n * p->oh * p->ow;
    const int k = p->k, c = p->c, kk = k * k;
    if (p->oh * k != p->h || p->ow * k != p->w) /* floor mode left rows or columns out */
        memset(dx, 0, (size_t)p->n * p->h * p->w * c * sizeof(float));
#pragma omp parallel for schedule(static) if ((size_t)rows * p->c >= PAR_MIN)
    for (long r = 0; r < rows; r++) {
        long i = r / ((long)p->oh * p->ow), rem = r % ((long)p->oh * p->ow);
        int oy = (int)(rem / p->ow), ox = (int)(rem % p->ow);
        const float *win[64];
        float *dwin[64];
        VB_ASSERT(kk <= 64);
        for (int t = 0; t < kk; t++) {
            size_t at =
                (((size_t)i * p->h + (size_t)(oy * k + t / k)) * p->w + (size_t)(ox * k + t % k)) *
                (size_t)c;
            win[t] = x + at, dwin[t] = dx + at;
        }
        const float *g = dy + (size_t)r * c;
        int j = 0;
        for (; j + 4 <= c; j += 4) { /* four channels in lanes: no branches */
            v4f m, v;
            v4i arg = {0, 0, 0, 0};
            memcpy(&m, win[0] + j, sizeof m);
            for (int t = 1; t < kk; t++) {
                memcpy(&v, win[t] + j, sizeof v);
                v4i take = (v > m) | (v != v);
                m = select4(take, v, m);
                v4i tv = {t, t, t, t};
                arg = (take & tv) | (~take & arg);
            }
            v4f gv;
            memcpy(&gv, g + j, sizeof gv);
            for (int t = 0; t < kk; t++) {
                v4i tv = {t, t, t, t};
                v4f out = (v4f)((v4i)gv & (arg == tv));
                memcpy(dwin[t] + j, &out, sizeof out);
            }
        }
        for (; j < c; j++) {
            float m = win[0][j];
            int arg = 0;
            for (int t = 1; t < kk; t++) {
                float v = win[t][j];
                if (k_max_takes(v, m)) m = v, arg = t;
            }
            for (int t = 0; t < kk; t++) dwin[t][j] = arg == t ? g[j] : 0.0f;
        }
    }
}

/* ---- LeakyReLU with a given slope ---- */

/* Four lanes at a time with a select (no branches: the signs of
 * activations are random, and a branch per value costs more than the
 * arithmetic); x·1 = x exactly and NaN·f = NaN, as in PyTorch. Blocks of
 * LEAKY_BLOCK values are the units of work. */
enum { LEAKY_BLOCK = 4096 };

static void leaky_fwd(size_t n, float slope, const float *x, float *y) {
    size_t nb = (n + LEAKY_BLOCK - 1) / LEAKY_BLOCK;
    const v4f vs = {slope, slope, slope, slope}, one = {1, 1, 1, 1}, zero = {0, 0, 0, 0};
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t b = 0; b < nb; b++) {
        size_t i = b * LEAKY_BLOCK, end = i + LEAKY_BLOCK < n ? i + LEAKY_BLOCK : n;
        for (; i + 4 <= end; i += 4) {
            v4f v;
            memcpy(&v, x + i, sizeof v);
            v = v * select4(v < zero, vs, one);
            memcpy(y + i, &v, sizeof v);
        }
        for (; i < end; i++) y[i] = k_leaky(x[i], slope);
    }
}

/* dx = dy * (x > 0 ? 1 : slope), x the activation's input; dx may alias dy.
 * At x == 0 the slope is used, as PyTorch's leaky_relu_backward does. */
static void leaky_bwd(size_t n, float slope, const float *x, const float *dy, float *dx) {
    size_t nb = (n + LEAKY_BLOCK - 1) / LEAKY_BLOCK;
    const v4f vs = {slope, slope, slope, slope}, one = {1, 1, 1, 1}, zero = {0, 0, 0, 0};
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t b = 0; b < nb; b++) {
        size_t i = b * LEAKY_BLOCK, end = i + LEAKY_BLOCK < n ? i + LEAKY_BLOCK : n;
        for (; i + 4 <= end; i += 4) {
            v4f v, g;
            memcpy(&v, x + i, sizeof v);
            memcpy(&g, dy + i, sizeof g);
            g = g * select4(v > zero, one, vs);
            memcpy(dx + i, &g, sizeof g);
        }
        for (; i < end; i++) dx[i] = k_leaky_grad(x[i], dy[i], slope);
    }
}

/* ---- nearest upsampling by an integer factor ---- */

static void upsample_fwd(int n, int h, int w, int c, int s, const float *x, float *y) {
    long rows = (long)n * h * s; /* output rows */
#pragma omp parallel for schedule(static) if ((size_t)rows * w * s * c >= PAR_MIN)
    for (long r = 0; r < rows; r++) {
        long i = r / ((long)h * s), oy = r % ((long)h * s);
        const float *src = x + ((size_t)i * h + (size_t)(oy / s)) * w * c;
        float *dst = y + (size_t)r * w * s * c;
        for (int ox = 0; ox < w * s; ox++)
            memcpy(dst + (size_t)ox * c, src + (size_t)(ox / s) * c, (size_t)c * sizeof(float));
    }
}

/* dx[n,h,w,c] = sum of dy over the s×s copies of each pixel, in row-major
 * order of the copies (overwrite). */
static void upsample_bwd(int n, int h, int w, int c, int s, const float *dy, float *dx) {
    long rows = (long)n * h;
    size_t ow = (size_t)w * s;
#pragma omp parallel for schedule(static) if ((size_t)rows * w * c * s * s >= PAR_MIN)
    for (long r = 0; r < rows; r++) {
        long i = r / h, yy = r % h;
        for (int xx = 0; xx < w; xx++) {
            float *d = dx + ((size_t)r * w + (size_t)xx) * c;
            for (int ch = 0; ch < c; ch++) {
                float acc = 0.0f;
                for (int a = 0; a < s; a++)
                    for (int b = 0; b < s; b++)
                        acc += dy[(((size_t)i * h * s + (size_t)(yy * s + a)) * ow +
                                   (size_t)(xx * s + b)) *
                                      c +
                                  (size_t)ch];
                d[ch] = acc;
            }
        }
    }
}

void cpu_register_pool(KOps *k) {
    k->maxpool_fwd = maxpool_fwd;
    k->maxpool_bwd = maxpool_bwd;
    k->leaky_fwd = leaky_fwd;
    k->leaky_bwd = leaky_bwd;
    k->upsample_fwd = upsample_fwd;
    k->upsample_bwd = upsample_bwd;
}
