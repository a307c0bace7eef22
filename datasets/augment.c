/* augment: parameter draws and the per-frame pipeline (warp, jitter, blur,
 * noise, dropout, normalisation) on float [0,1] HWC scratch images. */
#include "augment.h"

#include <math.h>
#include <string.h>

#include "kernels/status.h"

static const float MEAN[3] = {0.485f, 0.456f, 0.406f}, STD[3] = {0.229f, 0.224f, 0.225f};

/* ImageNet normalisation of np RGB pixels: (v - mean) / std per channel. */
static void normalise(const float *a, size_t np, float *o) {
    for (size_t i = 0; i < np; i++)
        for (int c = 0; c < 3; c++) o[3 * i + c] = (a[3 * i + c] - MEAN[c]) / STD[c];
}
#define SLOTS 64 /* random numbers reserved per sample */

static inline float clamp01(float x) { return x < 0.0f ? 0.0f : x > 1.0f ? 1.0f : x; }
static inline float to_unit(uint8_t v) { return (float)v * (1.0f / 255.0f); }

void augment_defaults(AugConfig *c) {
    c->enabled = true;
    c->p_hflip = 0.5f, c->p_vflip = 0.3f;
    c->p_rotate = 0.5f, c->rotate_deg = 20.0f;
    c->p_shift_scale = 0.5f, c->shift = 0.15f, c->scale_lo = 0.85f, c->scale_hi = 1.15f;
    c->p_jitter = 0.5f, c->brightness = 0.3f, c->contrast = 0.3f, c->saturation = 0.3f;
    c->hue = 0.15f;
    c->p_blur = 0.4f, c->blur_sigma_lo = 0.1f, c->blur_sigma_hi = 2.5f;
    c->p_noise = 0.4f, c->noise_var_lo = 10.0f, c->noise_var_hi = 70.0f;
    c->p_dropout = 0.3f, c->dropout_holes = 8, c->dropout_size = 8;
}

void augment_draw(const AugConfig *c, RngStream s, uint64_t step, uint64_t sample, int h, int w,
                  AugParams *p) {
    memset(p, 0, sizeof *p);
    p->scale = 1.0f;
    if (!c->enabled) return;
    uint64_t b = sample * SLOTS;
#define U(k) rng_uniform(s, step, b + (k))
    p->hflip = U(0) < c->p_hflip;
    p->vflip = U(1) < c->p_vflip;
    if (U(2) < c->p_rotate) p->angle = (2 * U(3) - 1) * c->rotate_deg * (float)(M_PI / 180.0);
    if (U(4) < c->p_shift_scale) {
        p->scale = c->scale_lo + (c->scale_hi - c->scale_lo) * U(5);
        p->dx = (2 * U(6) - 1) * c->shift;
        p->dy = (2 * U(7) - 1) * c->shift;
    }
    p->warp = p->angle != 0.0f || p->scale != 1.0f || p->dx != 0.0f || p->dy != 0.0f;
    if (U(8) < c->p_jitter) {
        p->jitter = true;
        p->bright = 1 + (2 * U(9) - 1) * c->brightness;
        p->contr = 1 + (2 * U(10) - 1) * c->contrast;
        p->satur = 1 + (2 * U(11) - 1) * c->saturation;
        p->hue_shift = (2 * U(12) - 1) * c->hue;
        int k = (int)rng_below(s, step, b + 13, 24), items[4] = {0, 1, 2, 3}, left = 4;
        static const int fact[4] = {6, 2, 1, 1};
        for (int i = 0; i < 4; i++) {
            int idx = k / fact[i];
            k %= fact[i];
            p->order[i] = items[idx];
            memmove(items + idx, items + idx + 1, sizeof(int) * (size_t)(--left - idx));
        }
    }
    if (U(14) < c->p_blur) {
        p->blur = true;
        p->ksize = U(15) < 0.5f ? 3 : 5;
        p->sigma = c->blur_sigma_lo + (c->blur_sigma_hi - c->blur_sigma_lo) * U(16);
    }
    if (U(17) < c->p_noise) {
        p->noise = true;
        p->noise_std =
            sqrtf(c->noise_var_lo + (c->noise_var_hi - c->noise_var_lo) * U(18)) / 255.0f;
    }
    if (U(19) < c->p_dropout && c->dropout_holes > 0) {
        int maxh = c->dropout_holes < 16 ? c->dropout_holes : 16;
        p->holes = 1 + (int)(U(20) * (float)maxh);
        if (p->holes > maxh) p->holes = maxh;
        int sz = (int)lrintf((float)c->dropout_size * (float)h / 64.0f);
        p->hole_size = sz < 1 ? 1 : sz > h ? h : sz > w ? w : sz;
        for (int i = 0; i < p->holes; i++) {
            p->hole_y[i] = (int)(U(21 + 2 * i) * (float)(h - p->hole_size + 1));
            p->hole_x[i] = (int)(U(22 + 2 * i) * (float)(w - p->hole_size + 1));
            if (p->hole_y[i] > h - p->hole_size) p->hole_y[i] = h - p->hole_size;
            if (p->hole_x[i] > w - p->hole_size) p->hole_x[i] = w - p->hole_size;
        }
    }
#undef U
}

size_t augment_scratch_floats(int h, int w) { return (size_t)h * (size_t)w * 3 * 2; }

/* reflect-101: ... 2 1 | 0 1 2 ... n-1 | n-2 ... */
static inline int reflect101(int i, int n) {
    if (n == 1) return 0;
    int period = 2 * (n - 1);
    i %= period;
    if (i < 0) i += period;
    return i < n ? i : period - i;
}

static void warp(const uint8_t *src, int h, int w, const AugParams *p, float *dst) {
    float cx = 0.5f * (float)w, cy = 0.5f * (float)h, tx = p->dx * (float)w, ty = p->dy * (float)h;
    float cs = cosf(p->angle) / p->scale, sn = sinf(p->angle) / p->scale;
    float fx = p->hflip ? -1.0f : 1.0f, fy = p->vflip ? -1.0f : 1.0f;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float qx = (float)x + 0.5f - cx - tx, qy = (float)y + 0.5f - cy - ty;
            float sx = fx * (cs * qx + sn * qy) + cx - 0.5f,
                  sy = fy * (-sn * qx + cs * qy) + cy - 0.5f;
            float x0f = floorf(sx), y0f = floorf(sy), ax = sx - x0f, ay = sy - y0f;
            int x0 = (int)x0f, y0 = (int)y0f, xa = x0, xb = x0 + 1, ya = y0, yb = y0 + 1;
            if (x0 < 0 || x0 > w - 2) xa = reflect101(x0, w), xb = reflect101(x0 + 1, w);
            if (y0 < 0 || y0 > h - 2) ya = reflect101(y0, h), yb = reflect101(y0 + 1, h);
            const uint8_t *p00 = src + ((size_t)ya * w + xa) * 3,
                          *p01 = src + ((size_t)ya * w + xb) * 3;
            const uint8_t *p10 = src + ((size_t)yb * w + xa) * 3,
                          *p11 = src + ((size_t)yb * w + xb) * 3;
            float *o = dst + ((size_t)y * w + x) * 3;
            for (int c = 0; c < 3; c++)
                o[c] = ((1 - ay) * ((1 - ax) * p00[c] + ax * p01[c]) +
                        ay * ((1 - ax) * p10[c] + ax * p11[c])) *
                       (1.0f / 255.0f);
        }
}

static void copy_flip(const uint8_t *src, int h, int w, const AugParams *p, float *dst) {
    for (int y = 0; y < h; y++) {
        int sy = p->vflip ? h - 1 - y : y;
        for (int x = 0; x < w; x++) {
            int sx = p->hflip ? w - 1 - x : x;
            const uint8_t *s = src + ((size_t)sy * w + sx) * 3;
            float *o = dst + ((size_t)y * w + x) * 3;
            for (int c = 0; c < 3; c++) o[c] = to_unit(s[c]);
        }
    }
}

static inline float gray(const float *v) { return 0.299f * v[0] + 0.587f * v[1] + 0.114f * v[2]; }

static void hue_shift(float *v, float shift) {
    float r = v[0], g = v[1], b = v[2];
    float mx = fmaxf(r, fmaxf(g, b)), mn = fminf(r, fminf(g, b)), d = mx - mn;
    if (d <= 0.0f) return; /* grey: hue undefined, nothing to rotate */
    float hh = mx == r ? (g - b) / d : mx == g ? 2.0f + (b - r) / d : 4.0f + (r - g) / d;
    hh = hh / 6.0f + shift;
    hh -= floorf(hh);
    float s = d / mx, val = mx, h6 = hh * 6.0f;
    int i = (int)h6 % 6;
    float f = h6 - floorf(h6), pp = val * (1 - s), q = val * (1 - s * f),
          t = val * (1 - s * (1 - f));
    /* sextant i: (r,g,b) as indices into {v, q, p, t} */
    static const int idx[6][3] = {{0, 3, 2}, {1, 0, 2}, {2, 0, 3}, {2, 1, 0}, {3, 2, 0}, {0, 2, 1}};
    float c4[4] = {val, q, pp, t};
    for (int c = 0; c < 3; c++) v[c] = c4[idx[i][c]];
}

static void jitter(float *a, size_t np, const AugParams *p) {
    for (int k = 0; k < 4; k++) {
        switch (p->order[k]) {
        case 0:
            for (size_t i = 0; i < np * 3; i++) a[i] = clamp01(a[i] * p->bright);
            break;
        case 1: {
            double m = 0;
            for (size_t i = 0; i < np; i++) m += gray(a + 3 * i);
            float mf = (float)(m / (double)np);
            for (size_t i = 0; i < np * 3; i++) a[i] = clamp01((a[i] - mf) * p->contr + mf);
            break;
        }
        case 2:
            for (size_t i = 0; i < np; i++) {
                float g = gray(a + 3 * i);
                for (int c = 0; c < 3; c++)
                    a[3 * i + c] = clamp01(g + (a[3 * i + c] - g) * p->satur);
            }
            break;
        default:
            for (size_t i = 0; i < np; i++) hue_shift(a + 3 * i, p->hue_shift);
            break;
        }
    }
}

/* Separable Gaussian blur with reflect-101 borders: rows into tmp, then
 * columns back into a. Each output sums its taps in ascending order. */
static void blur(float *a, float *tmp, int h, int w, int k, float sigma) {
    float wt[5];
    int r = k / 2, rx[4096 + 4], ry[4096 + 4];   /* reflected coordinate of x - r */
    VB_ASSERT(w <= 4096 && h <= 4096 && k <= 5); /* the largest dataset.size */
    float sum = 0;
    for (int i = -r; i <= r; i++) sum += wt[i + r] = expf(-(float)(i * i) / (2 * sigma * sigma));
    for (int i = 0; i < k; i++) wt[i] /= sum;
    for (int x = 0; x < w + 2 * r; x++) rx[x] = reflect101(x - r, w);
    for (int y = 0; y < h + 2 * r; y++) ry[y] = reflect101(y - r, h);
    size_t row = (size_t)w * 3;
    for (int y = 0; y < h; y++) {
        const float *src = a + (size_t)y * row;
        float *dst = tmp + (size_t)y * row;
        for (int x = 0; x < w; x++) {
            float s0 = 0, s1 = 0, s2 = 0;
            for (int i = 0; i < k; i++) {
                const float *q = src + (size_t)rx[x + i] * 3;
                s0 += wt[i] * q[0], s1 += wt[i] * q[1], s2 += wt[i] * q[2];
            }
            dst[3 * x] = s0, dst[3 * x + 1] = s1, dst[3 * x + 2] = s2;
        }
    }
    for (int y = 0; y < h; y++) {
        float *dst = a + (size_t)y * row;
        memset(dst, 0, row * sizeof(float));
        for (int i = 0; i < k; i++) {
            const float *src = tmp + (size_t)ry[y + i] * row;
            for (size_t j = 0; j < row; j++) dst[j] += wt[i] * src[j];
        }
    }
}

void augment_clip(const AugParams *p, RngStream noise, uint64_t step, uint64_t sample,
                  const uint8_t *const *frames, int T, int h, int w, float *out, float *scratch) {
    size_t np = (size_t)h * (size_t)w;
    float *a = scratch, *tmp = scratch + np * 3;
    for (int t = 0; t < T; t++) {
        float *o = out + (size_t)t * np * 3;
        if (!p) {
            for (size_t i = 0; i < np * 3; i++) a[i] = to_unit(frames[t][i]);
            normalise(a, np, o);
            continue;
        }
        if (p->warp) warp(frames[t], h, w, p, a);
        else copy_flip(frames[t], h, w, p, a);
        if (p->jitter) jitter(a, np, p);
        if (p->blur) blur(a, tmp, h, w, p->ksize, p->sigma);
        if (p->noise) { /* frame t of the sample owns blocks [first, first + nb) */
            size_t nb = (np * 3 + 3) / 4;
            uint64_t first = ((uint64_t)sample * (uint64_t)T + (uint64_t)t) * nb;
            rng_normals_blocked(noise, step, first, np * 3, tmp);
            for (size_t i = 0; i < np * 3; i++) a[i] = clamp01(a[i] + p->noise_std * tmp[i]);
        }
        for (int k = 0; k < p->holes; k++)
            for (int y = p->hole_y[k]; y < p->hole_y[k] + p->hole_size; y++)
                memset(a + ((size_t)y * w + p->hole_x[k]) * 3, 0,
                       sizeof(float) * 3 * (size_t)p->hole_size);
        normalise(a, np, o);
    }
}
