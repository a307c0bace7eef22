/* efficientnet: the EfficientNet-B0 feature extractor (torchvision layout)
 * with width and depth multipliers, on NHWC frames [n, h, w, in_channels].
 *
 * stem conv3x3 s2 → BN+SiLU → 16 MBConv blocks (expand 1x1 → BN+SiLU →
 * depthwise k×k → BN+SiLU → squeeze-excitation → project 1x1 → BN, residual
 * when stride 1 and cin == cout, optional stochastic depth) → head conv1x1 →
 * BN+SiLU → global average pool → features [n, feat_dim].
 *
 * Parameters are named as torchvision's efficientnet_b0().features under a
 * prefix (the hybrid model uses "backbone.backbone.features"); weights named
 * as timm's efficientnet_b0 are translated by effnet_timm_name. The dropout
 * after pooling belongs to the hybrid model, not to this module. */
#ifndef VB_EFFICIENTNET_H
#define VB_EFFICIENTNET_H

#include "models/layers.h"

typedef struct EffNetConfig {
    float width, depth;     /* multipliers, 1.0 = B0 */
    float stochastic_depth; /* max drop probability (0 = off) */
    float bn_eps, bn_momentum;
    bool bn_affine;  /* BN gamma/beta (torchvision: true) */
    int in_channels; /* channels of the frames (torchvision: 3) */
} EffNetConfig;

typedef struct MBConv {
    int cin, ce, cout, k, stride, cr;
    bool expand, residual;
    float sd_prob;
    int index;                    /* block number, for the stochastic-depth RNG */
    KConv g_expand, g_dw, g_proj; /* geometry at the largest batch */
    int w_expand, w_dw, w_proj;
    int se_w1, se_b1, se_w2, se_b2;
    Bn bn_expand, bn_dw, bn_proj;
    float *e, *ea;   /* expand conv out, after BN+SiLU    [n,h,w,ce] */
    float *d, *da;   /* depthwise out, after BN+SiLU      [n,oh,ow,ce] */
    float *se_save;  /* SE saved values (the SE output is a temporary) */
    float *p, *out;  /* project conv out, block output    [n,oh,ow,cout] */
    float *sd_scale; /* per-sample stochastic-depth scale [n] */
} MBConv;

typedef struct Backbone {
    EffNetConfig cfg;
    int max_n, image;
    int nblocks;
    MBConv *blocks;
    KConv g_stem, g_head;
    int w_stem, w_head;
    Bn bn_stem, bn_head;
    int stem_c, head_c;     /* channels */
    float *stem_z, *stem_a; /* stem conv out, after BN+SiLU */
    float *head_z, *head_a;
    int feat_dim, out_hw; /* head channels, final spatial h*w */
    float *feat;          /* pooled features [n, feat_dim] */
    float *gbuf[2];       /* ping-pong gradient buffers between blocks */
    size_t gbuf_n;
    float *conv_ws; /* shared convolution scratch */
} Backbone;

/* torchvision's channel rounding: nearest multiple of 8, at least 8, +8 if
 * that falls below 90% of c*width. */
int effnet_round_channels(double c);
/* Build for at most max_n frames of image×image pixels. */
void effnet_make(Backbone *b, Net *n, const char *prefix, const EffNetConfig *cfg, int max_n,
                 int image);
/* Free what effnet_make allocated (the parameters and activations belong to
 * the Net and its ParamTable). */
void effnet_free(Backbone *b);
void effnet_fwd(Net *n, Backbone *b, int nimg, const float *x);
/* dfeat [n, feat_dim] → parameter gradients (the input gradient is not needed). */
void effnet_bwd(Net *n, Backbone *b, int nimg, const float *x, const float *dfeat);
/* Translate a timm name (after the prefix) to torchvision's, e.g.
 * "blocks.1.0.conv_pw.weight" → "features.2.0.block.0.0.weight". Returns
 * false if the name is not a timm backbone name. Needs the built backbone
 * to know which blocks have an expansion conv. */
bool effnet_timm_name(const Backbone *b, const char *timm, char *out, size_t n);

#endif
