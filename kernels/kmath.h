/* kmath: per-element arithmetic shared by the CPU and CUDA backends —
 * activations and their slopes (a vectorisable exp: Cody-Waite range
 * reduction and a polynomial, about 1 ulp on the reduced range, input
 * clamped to [-87, 87] so 2^n stays a normal float, NaN passes through),
 * the batchnorm affine map and its backward, LSTM and GRU cells (PyTorch's
 * gate orders i,f,g,o and r,z,n; libm's expf/tanhf as in nn.LSTM), the
 * AdamW update of one value, the VAE's reparameterisation and loss-term
 * gradients, and the Deep SVDD distance gradient.
 *
 * Every function is VB_HD (khd.h): the CPU kernels call them inside their
 * vectorised loops, the CUDA kernels once per thread, so both backends
 * evaluate the same expressions in the same order (the CUDA build turns
 * off FMA contraction for this reason). Scalars only; no loops, no memory
 * beyond the arguments. */
#ifndef VB_KMATH_H
#define VB_KMATH_H

#include <math.h>
#include <stdint.h>

#include "kernels/kernels.h"
#include "kernels/khd.h"

/* exp(x) in float, about 1 ulp (see the header). */
VB_HD float fast_expf(float x) {
    /* |x| <= 87 (0x42AE0000), clamped on the bits: integer selects vectorise
     * cleanly where float compares make the compiler split the loop body.
     * NaN (magnitude above Inf's) is left alone and propagates. */
    uint32_t b = vb_f2u(x);
    uint32_t mag = b & 0x7FFFFFFFu;
    mag = (mag > 0x42AE0000u && mag <= 0x7F800000u) ? 0x42AE0000u : mag;
    b = (b & 0x80000000u) | mag;
    x = vb_u2f(b);
    float t = x * 1.44269504088896341f + 12582912.0f; /* 1.5*2^23: rounds x/ln2 */
    float n = t - 12582912.0f;
    float r = x - n * 0.693359375f; /* ln2 split in two: the first part is exact */
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    uint32_t e = (vb_f2u(t) - 0x4B400000u + 127u) << 23; /* 2^n */
    return p * vb_u2f(e);
}

VB_HD float sigmoid_f(float v) { return 1.0f / (1.0f + fast_expf(-v)); }

/* act(v) */
VB_HD float act_value(KAct a, float v) {
    switch (a) {
    case K_ACT_RELU: return v < 0.0f ? 0.0f : v; /* keeps NaN */
    case K_ACT_SILU: return v / (1.0f + fast_expf(-v));
    case K_ACT_LEAKY: return v < 0.0f ? K_LEAKY_SLOPE * v : v;
    case K_ACT_SIGMOID: return sigmoid_f(v);
    case K_ACT_TANH: return tanhf(v);
    default: return v;
    }
}

/* act'(v), v being the activation's input */
VB_HD float act_slope(KAct a, float v) {
    switch (a) {
    case K_ACT_RELU: return v > 0.0f ? 1.0f : 0.0f;
    case K_ACT_SILU: {
        float s = sigmoid_f(v);
        return s * (1.0f + v * (1.0f - s));
    }
    case K_ACT_LEAKY: return v > 0.0f ? 1.0f : K_LEAKY_SLOPE;
    case K_ACT_SIGMOID: {
        float s = sigmoid_f(v);
        return s * (1.0f - s);
    }
    case K_ACT_TANH: {
        float t = tanhf(v);
        return 1.0f - t * t;
    }
    default: return 1.0f;
    }
}

/* ---- batchnorm ----
 * xhat = (x - m) * is, pre = xhat * g + b, y = act(pre). The backward
 * recomputes pre from x with the same expressions, so it sees the
 * forward's value bit for bit. */
VB_HD float bn_xhat(float x, float m, float is) { return (x - m) * is; }
VB_HD float bn_pre(float xh, float g, float b) { return xh * g + b; }
/* Training backward, second pass: dx from dp = dy * act'(pre) and the
 * channel's k1 = mean(dp), k2 = mean(dp * xhat). */
VB_HD float bn_dx(float dp, float xh, float k1, float k2, float g, float is) {
    return (dp - k1 - xh * k2) * (g * is);
}

/* ---- recurrent cells ---- */

/* The logistic function with libm's expf (the RNN cells use it, as PyTorch). */
VB_HD float k_sigm(float v) { return 1.0f / (1.0f + expf(-v)); }

/* LSTM cell from the gate pre-activations (i, f, g, o) and c_{t-1}. */
typedef struct KLstmCell {
    float i, f, g, o, c, tc, h;
} KLstmCell;
VB_HD KLstmCell k_lstm_cell(float pi, float pf, float pg, float po, float cprev) {
    KLstmCell r;
    r.i = k_sigm(pi), r.f = k_sigm(pf);
    r.g = tanhf(pg), r.o = k_sigm(po);
    r.c = r.f * cprev + r.i * r.g;
    r.tc = tanhf(r.c);
    r.h = r.o * r.tc;
    return r;
}

/* LSTM cell backward: from the saved activations (i, f, g, o, tanh c), c_{t-1},
 * the total dL/dh_t (dht) and the carried dL/dc_t: the pre-activation
 * gradients d[0..3] and dL/dc_{t-1} (returned). */
VB_HD float k_lstm_cell_bwd(float ig, float fg, float gg, float og, float tc, float cprev,
                            float dht, float dc_in, float d[4]) {
    float dct = dc_in + dht * og * (1.0f - tc * tc);
    d[0] = dct * gg * ig * (1.0f - ig);
    d[1] = dct * cprev * fg * (1.0f - fg);
    d[2] = dct * ig * (1.0f - gg * gg);
    d[3] = dht * tc * og * (1.0f - og);
    return dct * fg;
}

/* GRU cell: input-side pre-activations (xr, xz, xn, biases b_ih included),
 * hidden-side ones (hr, hz, hn = W_h* h_{t-1} + b_h*) and h_{t-1}. */
typedef struct KGruCell {
    float r, z, n, h;
} KGruCell;
VB_HD KGruCell k_gru_cell(float xr, float xz, float xn, float hr, float hz, float hn, float hprev) {
    KGruCell c;
    c.r = k_sigm(xr + hr), c.z = k_sigm(xz + hz);
    c.n = tanhf(xn + c.r * hn);
    c.h = (1.0f - c.z) * c.n + c.z * hprev;
    return c;
}

/* GRU cell backward: gradients of the input-side pre-activations
 * (di[0..2] = r, z, n) and of the hidden-side ones (dh[0..2]: equal for r, z;
 * r * dn for n); returns the direct part of dL/dh_{t-1} (dht * z). */
VB_HD float k_gru_cell_bwd(float rg, float zg, float ng, float hn, float hprev, float dht,
                           float di[3], float dhh[3]) {
    float dan = dht * (1.0f - zg) * (1.0f - ng * ng);
    float daz = dht * (hprev - ng) * zg * (1.0f - zg);
    float dar = dan * hn * rg * (1.0f - rg);
    di[0] = dar, di[1] = daz, di[2] = dan;
    dhh[0] = dar, dhh[1] = daz, dhh[2] = dan * rg;
    return dht * zg;
}

/* ---- LeNet ops ---- */
/* LeakyReLU with a slope given per call (the leaky_fwd/leaky_bwd ops): x·1
 * = x exactly and NaN stays NaN; at x == 0 the backward uses the slope, as
 * PyTorch's leaky_relu_backward does. */
VB_HD float k_leaky(float x, float slope) { return x * (x < 0.0f ? slope : 1.0f); }
VB_HD float k_leaky_grad(float x, float dy, float slope) { return dy * (x > 0.0f ? 1.0f : slope); }
/* Max pooling's rule: v replaces the running maximum m of a window scanned
 * in row-major order when larger, or when NaN (PyTorch: a NaN wins). */
VB_HD bool k_max_takes(float v, float m) { return v > m || v != v; }

/* ---- optimiser ----
 * PyTorch's AdamW on one value (the step's scalars precomputed on the host:
 * decay = 1 - lr*wd, step_size = lr/bc1, bc2_sqrt = sqrt(bc2)). */
/* clip_grad_norm_'s factor: max_norm/(norm + 1e-6) rounded to float when
 * max_norm > 0 and it is below 1, else 1 (no clipping; also for a NaN norm). */
VB_HD float k_clip_coef(double norm, double max_norm) {
    double coef = max_norm / (norm + 1e-6);
    return max_norm > 0 && coef < 1.0 ? (float)coef : 1.0f;
}

VB_HD void k_adamw(float *p, float g, float *m, float *v, float b1, float b2, float eps,
                   float decay, float step_size, float bc2_sqrt) {
    float pv = *p * decay;
    float mv = b1 * *m + (1.0f - b1) * g;
    float vv = b2 * *v + (1.0f - b2) * g * g;
    float denom = sqrtf(vv) / bc2_sqrt + eps;
    *p = pv - step_size * (mv / denom);
    *m = mv, *v = vv;
}

/* ---- VAE ---- */
/* z = mu + eps * exp(logvar / 2) */
VB_HD float k_reparam(float mu, float logvar, float eps) { return mu + eps * expf(0.5f * logvar); }
/* d z / d logvar times dz */
VB_HD float k_reparam_dlogvar(float dz, float logvar, float eps) {
    return dz * eps * 0.5f * expf(0.5f * logvar);
}
/* KL term's gradient w.r.t. logvar, weighted by wk */
VB_HD float k_kl_dlogvar(float wk, float logvar) { return wk * 0.5f * (expf(logvar) - 1.0f); }

/* Deep SVDD: d ||x - c||^2 / dx times w */
VB_HD float k_sqdist_dx(float w, float x, float c) { return 2.0f * w * (x - c); }

#endif
