/* vae: the optional VAE branch, on backbone features or on the frames.
 *
 * feature level: x [rows, in] (the backbone features of every frame);
 *   encoder = [Linear → ReLU → BN1d → Dropout] over hidden sizes
 *   (vae.encoder.{0,4,..}); mu, logvar = Linear(last hidden → latent)
 *   (vae.fc_mu, vae.fc_logvar); decoder = the same blocks over the reversed
 *   hidden sizes (vae.decoder.{0,4,..}) then Linear(→ in) (vae.decoder.{4k}).
 * image level: x [rows, s, s, 3] NHWC normalised frames; encoder = 4 ×
 *   [Conv k4 s2 p1 → BN2d → LeakyReLU(0.2)] (vae.encoder.{0,3,6,9} conv,
 *   .{1,4,7,10} BN); flatten in PyTorch's (c,h,w) order; fc_mu/fc_logvar;
 *   vae.decoder_input Linear(latent → c·(s/16)²); decoder 3 × [ConvT k4 s2
 *   p1 → BN2d → ReLU] (vae.decoder.{0,3,6} / .{1,4,7}) then ConvT(→3)
 *   (vae.decoder.9) and tanh. The target is the frame rescaled to [-1,1]
 *   (x·2−1 before normalisation) unless target_normalized (the seed's
 *   mismatch, kept for reproduction).
 *
 * z = mu + eps·exp(logvar/2) in training (eps from the counter RNG stream
 * "vae", or filled by the caller), z = mu in evaluation. Per-row terms:
 * mse = mean squared reconstruction error, kl = KL(q(z|x) || N(0, I)). */
#ifndef VB_VAE_H
#define VB_VAE_H

#include "models/layers.h"

typedef enum VaeLevel { VAE_NONE = 0, VAE_FEATURE, VAE_IMAGE } VaeLevel;

#define VAE_MAX_HIDDEN 4

typedef struct Vae {
    VaeLevel level;
    int latent, max_rows;
    int nh, hidden[VAE_MAX_HIDDEN]; /* feature: MLP sizes; image: conv channels */
    int in_dim;                     /* feature: input width; image: s*s*3 */
    int image, fs;                  /* image size and encoder output size s/16 */
    bool target_normalized;
    bool detach_target;
    /* feature level */
    MlpBlock enc[VAE_MAX_HIDDEN], dec[VAE_MAX_HIDDEN];
    Linear out;
    /* image level */
    KConv genc[VAE_MAX_HIDDEN], gdec[VAE_MAX_HIDDEN];
    int w_enc[VAE_MAX_HIDDEN], b_enc[VAE_MAX_HIDDEN], w_dec[VAE_MAX_HIDDEN], b_dec[VAE_MAX_HIDDEN];
    Bn bn_enc[VAE_MAX_HIDDEN], bn_dec[VAE_MAX_HIDDEN];
    float *ez[VAE_MAX_HIDDEN], *ea[VAE_MAX_HIDDEN]; /* encoder conv out, after BN+act */
    float *dz[VAE_MAX_HIDDEN], *da[VAE_MAX_HIDDEN]; /* decoder convT out, after BN+act */
    float *flat, *dflat;                            /* [rows, c*fs*fs] NCHW order */
    float *dec_in, *dec_in_nhwc;
    float *conv_ws;
    float *tgt_a, *tgt_b; /* target = a*x + b per channel */
    Linear dec_input;
    /* shared */
    Linear fc_mu, fc_logvar;
    float *mu, *logvar, *eps, *z, *recon, *target;
    float *mse, *kl; /* per row */
    float *g0, *g1;  /* gradient buffers */
    float *dx;       /* gradient w.r.t. the input (feature level, undetached) */
} Vae;

void vae_make(Vae *v, Net *n, VaeLevel level, int in_dim, int image, int latent, int nh,
              const int *hidden, float dropout, bool target_normalized, bool detach_target,
              int max_rows);
/* After net_commit: upload constants (the image target's affine map). */
void vae_init_constants(Net *n, Vae *v);
/* x: [rows, in_dim] features or [rows, s, s, 3] frames. Fills mu, logvar, z,
 * recon, target, mse, kl. */
void vae_fwd(Net *n, Vae *v, int rows, const float *x);
/* Gradient of sum_r (wm[r]·mse[r] + wk[r]·kl[r]) (wm, wk backend arrays);
 * writes v->dx with the input gradient when the target is not detached
 * (feature level; the image level's input is data and gets none). */
void vae_bwd(Net *n, Vae *v, int rows, const float *x, const float *wm, const float *wk);

#endif
