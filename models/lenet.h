/* lenet: the LeNet-type feature extractor of Ruff et al.'s Deep SVDD / Deep
 * SAD experiments, as a backbone of the hybrid model (model.backbone.name:
 * lenet), on NHWC frames [n, s, s, cin].
 *
 * For each of the L conv levels (channels c_1..c_L, kernel k, padding k/2,
 * stride 1): conv → BatchNorm2d → LeakyReLU(slope) → max-pool 2×2; then the
 * last map is flattened in PyTorch's (C, H, W) order → Linear(flat →
 * hidden) → BatchNorm1d → LeakyReLU → Linear(hidden → out) (with hidden 0:
 * Linear(flat → out) alone). Ruff's Fashion-MNIST network
 * (src/networks/fmnist_LeNet.py of lukasruff/Deep-SAD-PyTorch) is L = 2,
 * channels 16, 32, k 5, hidden 128, out 64, no biases, BatchNorm without
 * affine parameters (eps 1e-4), slope 0.01, on 28×28×1: 400 + 12,800 +
 * 200,704 + 8,192 = 222,096 weights. Biases and BN affine parameters are
 * options (their absence is Ruff's guard against the collapsed solution).
 *
 * Parameter names under the prefix (the hybrid uses "backbone.lenet"):
 * conv{l}.weight|bias, bn2d{l}.*, fc1.*, bn1d1.*, fc2.* (l from 1), Ruff's
 * names. PyTorch's default initialisation: U(±1/sqrt(fan_in)).
 *
 * Must not be asked to: pool a map smaller than 2×2 (s must be at least
 * 2^L), or take even kernels (the padding k/2 keeps the size only for odd
 * k). The input gradient is not computed (nothing sits before a backbone). */
#ifndef VB_LENET_H
#define VB_LENET_H

#include "models/layers.h"

#define LENET_MAX_CONV 4

typedef struct LeNetConfig {
    int nconv, channels[LENET_MAX_CONV];
    int kernel, hidden, out;
    bool bias, bn_affine;
    float bn_eps, bn_momentum, slope;
    int in_channels, image;
} LeNetConfig;

typedef struct LeNetLevel {
    KConv g; /* at the largest batch */
    KPool pool;
    int w, b; /* conv weight, bias (-1 without) */
    Bn bn;
    float *z; /* conv output [n,h,w,c] */
    float *a; /* BN output = LeakyReLU input */
    float *l; /* LeakyReLU output = pooling input */
    float *p; /* pooled [n,h/2,w/2,c] */
} LeNetLevel;

typedef struct LeNet {
    LeNetConfig cfg;
    int max_n;
    LeNetLevel lv[LENET_MAX_CONV];
    int flat;         /* c_L * (h_L)^2 */
    float *flat_nchw; /* [n, flat] in PyTorch's order */
    Linear fc1, fc2;  /* fc1 unused when hidden == 0 */
    Bn bn1;
    float *h1, *h1n, *h1a; /* fc1 out, BN1d out, LeakyReLU out [n, hidden] */
    int feat_dim;          /* = out */
    float *feat;           /* [n, out] */
    float *d_h, *d_flat, *gbuf[2];
    size_t gbuf_n;
    float *conv_ws;
} LeNet;

/* Ruff's Fashion-MNIST LeNet (see above) on 28×28×1. */
void lenet_config_ruff(LeNetConfig *c);
/* Width of the flattened last map for a config (0 when the frame is too
 * small for its pooling levels). */
int lenet_flat_dim(const LeNetConfig *c);
void lenet_make(LeNet *l, Net *n, const char *prefix, const LeNetConfig *cfg, int max_n);
void lenet_fwd(Net *n, LeNet *l, int nimg, const float *x);
/* dfeat [n, out] → parameter gradients (accumulate). */
void lenet_bwd(Net *n, LeNet *l, int nimg, const float *x, const float *dfeat);

#endif
