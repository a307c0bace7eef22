/* lenet_ae: Ruff et al.'s LeNet autoencoder for Fashion-MNIST — the LeNet
 * encoder (lenet.h) and the decoder of src/networks/fmnist_LeNet.py
 * (lukasruff/Deep-SAD-PyTorch), used to pretrain the encoder before Deep
 * SVDD (train.pretrain.*).
 *
 *   z [n, out] → fc3 Linear(out → hidden) → BN1d → view as [hidden/16, 4, 4]
 *   (PyTorch's C, H, W order) → LeakyReLU → nearest ×2 → deconv1
 *   ConvT(hidden/16 → c_2, k5, p2) 8×8 → BN → LeakyReLU → ×2 → deconv2
 *   ConvT(c_2 → c_1, k5, p3) 14×14 → BN → LeakyReLU → ×2 → deconv3
 *   ConvT(c_1 → in_channels, k5, p2) 28×28 → sigmoid.
 *
 * Loss: mean squared error over every element of the batch (Ruff's
 * nn.MSELoss(reduction='none') then torch.mean). Biases and BN affine
 * parameters follow the encoder's settings (Ruff: none); BN eps and the
 * LeakyReLU slope too. Parameter names: encoder.<lenet names>,
 * decoder.fc3|bn1d2|deconv1|bn2d3|deconv2|bn2d4|deconv3, as Ruff's
 * FashionMNIST_LeNet_Autoencoder.
 *
 * Must not be asked to: decode another geometry — the decoder is defined
 * for two conv levels, kernel 5, 28×28 frames and hidden a positive multiple
 * of 16 (lenet_ae_check says so in words). */
#ifndef VB_LENET_AE_H
#define VB_LENET_AE_H

#include "models/lenet.h"

typedef struct LeNetAe {
    ParamTable pt;
    Net net;
    LeNet enc;
    int max_n, hidden, c0; /* c0 = hidden / 16: channels of the 4×4 map */
    Linear fc3;
    Bn bn3, bn4, bn5;           /* bn1d2, bn2d3, bn2d4 */
    KConv g1, g2, g3;           /* deconv1..3 at the largest batch */
    int w1, w2, w3, b1, b2, b3; /* weights, biases (-1 without) */
    float *h, *hn, *ha, *t0;    /* fc3 out, BN out, LeakyReLU out [n,hidden]; NHWC [n,4,4,c0] */
    float *u1, *d1, *d1n, *d1a; /* up 8×8×c0; deconv1 8×8×c_2, BN, LeakyReLU */
    float *u2, *d2, *d2n, *d2a; /* up 16×16×c_2; deconv2 14×14×c_1, BN, LeakyReLU */
    float *u3, *d3, *rec;       /* up 28×28×c_1; deconv3 28×28×ch; sigmoid */
    float *g_a, *g_b, *diff;    /* gradient buffers; rec − x */
    float *conv_ws;
} LeNetAe;

/* VB_OK, or VB_ERR_INPUT naming what the decoder cannot do for `c`. */
VbStatus lenet_ae_check(const LeNetConfig *c);
VbStatus lenet_ae_build(LeNetAe *a, const LeNetConfig *c, const KOps *k, int max_n);
void lenet_ae_free(LeNetAe *a);
/* Forward in the Net's mode (a->net.train), x [n,28,28,ch] backend memory;
 * returns the mean squared reconstruction error. */
double lenet_ae_forward(LeNetAe *a, int n, const float *x);
/* Backward of the last forward's loss: parameter gradients accumulate. */
void lenet_ae_backward(LeNetAe *a, int n, const float *x);
/* Copy every encoder.* tensor (weights and BN statistics) onto the tensor
 * named prefix + the rest of its name in `dst` (the hybrid's
 * "backbone.lenet."); an error when one is missing or of another shape. */
VbStatus lenet_ae_load_encoder(const LeNetAe *a, ParamTable *dst, const char *prefix);

#endif
