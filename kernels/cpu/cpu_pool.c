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
#include <string.h>

#include "cpu_internal.h"

enum { PAR_MIN = 1 << 14 }; /* elements below which a loop runs on one thread */

/* ---- max pooling ---- */

/* Offset (within the window, row-major) of the first maximum of window
 * (oy, ox) of image i, channel ch; *val receives the maximum. */
static inline int window_argmax(const KPool *p, const float *x, int i, int oy, int ox, int ch,
                                float *val) {
    int k = p->k, best = 0;
    float m = -INFINITY;
    for (int dy = 0; dy < k; dy++)
        for (int dx = 0; dx < k; dx++) {
            size_t at =
                (((size_t)i * p->h + (size_t)(oy * k + dy)) * p->w + (size_t)(ox * k + dx)) * p->c +
                (size_t)ch;
            float v = x[at];
            if (v > m || isnan(v)) m = v, best = dy * k + dx;
        }
    *val = m;
    return best;
}

static void maxpool_fwd(const KPool *p, const float *x, float *y) {
    long rows = (long)p->n * p->oh * p->ow;
#pragma omp parallel for schedule(static) if ((size_t)rows * p->c >= PAR_MIN)
    for (long r = 0; r < rows; r++) {
        int i = (int)(r / ((long)p->oh * p->ow)), rem = (int)(r % ((long)p->oh * p->ow));
        int oy = rem / p->ow, ox = rem % p->ow;
        for (int ch = 0; ch < p->c; ch++) {
            float v;
            window_argmax(p, x, i, oy, ox, ch, &v);
            y[(size_t)r * p->c + (size_t)ch] = v;
        }
    }
}

/* dx overwrite: each input element belongs to at most one window (stride
 * == k); elements outside every window (floor mode) get 0. */
static void maxpool_bwd(const KPool *p, const float *x, const float *dy, float *dx) {
    size_t total = (size_t)p->n * p->h * p->w * p->c;
    memset(dx, 0, total * sizeof(float));
    long rows = (long)p->n * p->oh * p->ow;
#pragma omp parallel for schedule(static) if ((size_t)rows * p->c >= PAR_MIN)
    for (long r = 0; r < rows; r++) {
        int i = (int)(r / ((long)p->oh * p->ow)), rem = (int)(r % ((long)p->oh * p->ow));
        int oy = rem / p->ow, ox = rem % p->ow, k = p->k;
        for (int ch = 0; ch < p->c; ch++) {
            float v;
            int b = window_argmax(p, x, i, oy, ox, ch, &v);
            size_t at =
                (((size_t)i * p->h + (size_t)(oy * k + b / k)) * p->w + (size_t)(ox * k + b % k)) *
                    p->c +
                (size_t)ch;
            dx[at] = dy[(size_t)r * p->c + (size_t)ch];
        }
    }
}

/* ---- LeakyReLU with a given slope ---- */

static void leaky_fwd(size_t n, float slope, const float *x, float *y) {
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] = x[i] < 0.0f ? slope * x[i] : x[i];
}

/* dx = dy * (x > 0 ? 1 : slope), x the activation's input; dx may alias dy.
 * At x == 0 the slope is used, as PyTorch's leaky_relu_backward does. */
static void leaky_bwd(size_t n, float slope, const float *x, const float *dy, float *dx) {
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) dx[i] = x[i] > 0.0f ? dy[i] : slope * dy[i];
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
