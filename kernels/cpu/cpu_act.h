/* cpu_act: the activation functions the CPU kernels share — a vectorisable
 * exp (Cody-Waite range reduction and a polynomial, about 1 ulp on the
 * reduced range; the input is clamped to [-87, 87] so 2^n stays a normal
 * float, NaN passes through), sigmoid, act(v) and act'(v). tanh uses libm.
 * Header-only so the compiler can inline and vectorise them in each loop. */
#ifndef VB_CPU_ACT_H
#define VB_CPU_ACT_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels/kernels.h"

static inline float fast_expf(float x) {
    /* |x| <= 87 (0x42AE0000), clamped on the bits: integer selects vectorise
     * cleanly where float compares make the compiler split the loop body.
     * NaN (magnitude above Inf's) is left alone and propagates. */
    uint32_t b;
    memcpy(&b, &x, sizeof b);
    uint32_t mag = b & 0x7FFFFFFFu;
    mag = (mag > 0x42AE0000u && mag <= 0x7F800000u) ? 0x42AE0000u : mag;
    b = (b & 0x80000000u) | mag;
    memcpy(&x, &b, sizeof x);
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
    uint32_t bits;
    memcpy(&bits, &t, sizeof bits);
    uint32_t e = (bits - 0x4B400000u + 127u) << 23; /* 2^n */
    float scale;
    memcpy(&scale, &e, sizeof scale);
    return p * scale;
}

static inline float sigmoid_f(float v) { return 1.0f / (1.0f + fast_expf(-v)); }

/* act(v) */
static inline __attribute__((always_inline)) float act_value(KAct a, float v) {
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
static inline __attribute__((always_inline)) float act_slope(KAct a, float v) {
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

/* Call fn(K_ACT_X, ...) with the activation as a constant, so each inlined
 * kernel is specialised and its inner loop vectorises. */
#define ACT_DISPATCH(act, fn, ...)                             \
    switch (act) {                                             \
    case K_ACT_RELU: fn(K_ACT_RELU, __VA_ARGS__); break;       \
    case K_ACT_SILU: fn(K_ACT_SILU, __VA_ARGS__); break;       \
    case K_ACT_LEAKY: fn(K_ACT_LEAKY, __VA_ARGS__); break;     \
    case K_ACT_SIGMOID: fn(K_ACT_SIGMOID, __VA_ARGS__); break; \
    case K_ACT_TANH: fn(K_ACT_TANH, __VA_ARGS__); break;       \
    default: fn(K_ACT_NONE, __VA_ARGS__); break;               \
    }

#endif
