/* cpu_act: how the CPU kernels use the shared activation math
 * (kernels/kmath.h: fast_expf, sigmoid_f, act_value, act_slope, also run by
 * the CUDA backend): ACT_DISPATCH hands each inlined kernel its activation
 * as a constant, so every specialised inner loop vectorises. */
#ifndef VB_CPU_ACT_H
#define VB_CPU_ACT_H

#include "kernels/kmath.h"

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
