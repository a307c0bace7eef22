/* kloss: the training objective of MODEL_SPEC §4 (the KOps `loss` op), in
 * double precision, compiled for the host and the device so that the CPU
 * and CUDA backends compute it with the same expressions:
 *
 *   total = w_cls·focal + w_bin·binary CE + w_svdd·Deep SVDD + w_vae·VAE
 *
 * Focal loss of a row with target y: q = (1−ε)·onehot + ε/C, CE = −Σ q log p,
 * factor (1 − p_y)^γ on the unsmoothed probability of the true class, weight
 * α; binary CE with a soft target; Deep SVDD in three modes (supervised with
 * a detached margin, one-class, soft-boundary with ν and R²); VAE as the mean
 * per-frame MSE + β·KL. Mixed samples (Mixup/CutMix) weigh both sources with
 * λ and 1−λ. models/losses.h documents the semantics.
 *
 * The op runs in two phases so that a GPU can spread the first over threads:
 * kloss_sample (one sample: its rows' losses and logit gradients, written as
 * contributions), then kloss_finish (one thread: sums in sample order, the
 * SVDD and VAE terms, the parts). Sums in the same order on both backends.
 * Not for: more than KLOSS_MAX_C classes. */
#ifndef VB_KLOSS_H
#define VB_KLOSS_H

#include <math.h>

#include "kernels/kernels.h"
#include "kernels/khd.h"

#define KLOSS_MAX_C 4096

/* log-sum-exp of a float row, in double, the maximum taken from z[0] up. */
VB_HD double kloss_lse(const float *z, int C) {
    double mx = z[0];
    for (int j = 1; j < C; j++) mx = z[j] > mx ? z[j] : mx;
    double s = 0;
    for (int j = 0; j < C; j++) s += exp((double)z[j] - mx);
    return mx + log(s);
}

/* Focal loss of one row (see the header); when dz is given, adds
 * scale·α·d(loss/α)/dz to it (float). */
VB_HD double kloss_focal_row(const float *z, int C, int y, double gamma, double alpha, double eps,
                             double scale, float *dz) {
    double lse = kloss_lse(z, C);
    double ce = 0;
    for (int j = 0; j < C; j++) {
        double q = (j == y ? 1.0 - eps : 0.0) + eps / C;
        ce -= q * ((double)z[j] - lse);
    }
    double py = exp((double)z[y] - lse), om = 1.0 - py;
    double f = gamma == 0 ? 1.0 : pow(om, gamma);
    double loss = alpha * f * ce;
    if (dz) {
        /* d/dz_j [f·ce] = f·(p_j − q_j) − γ(1−p_y)^{γ−1}·p_y·(δ_jy − p_j)·ce */
        double fprime = gamma == 0 ? 0.0 : gamma * pow(om, gamma - 1.0);
        for (int j = 0; j < C; j++) {
            double pj = exp((double)z[j] - lse);
            double q = (j == y ? 1.0 - eps : 0.0) + eps / C;
            double g = f * (pj - q) - fprime * py * ((j == y) - pj) * ce;
            dz[j] += (float)(scale * alpha * g);
        }
    }
    return loss;
}

/* Cross entropy of one row with target distribution q (Σq may differ from
 * 1); when dz is given, adds scale·dCE/dz. */
VB_HD double kloss_ce_row(const float *z, int C, const double *q, double scale, float *dz) {
    double lse = kloss_lse(z, C);
    double ce = 0, qs = 0;
    for (int j = 0; j < C; j++) ce -= q[j] * ((double)z[j] - lse), qs += q[j];
    if (dz)
        for (int j = 0; j < C; j++) dz[j] += (float)(scale * (exp((double)z[j] - lse) * qs - q[j]));
    return ce;
}

/* Phase 1, sample i: overwrites its logit gradients g_cls [C] and g_bin [2]
 * and its contributions contrib[3] (classification from source a, from
 * source b, binary), already divided by b. tgt: the sample's K_TGT row. */
VB_HD void kloss_sample(const KLoss *c, const float *tgt, const double *class_alpha,
                        const float *cls, const float *bin, float *g_cls, float *g_bin,
                        double contrib[3]) {
    int C = c->classes;
    double inv_b = 1.0 / c->b, l = tgt[4];
    int ys[2] = {(int)tgt[0], (int)tgt[1]};
    int as[2] = {tgt[2] != 0.0f, tgt[3] != 0.0f};
    double ls[2] = {l, 1 - l};
    for (int j = 0; j < C; j++) g_cls[j] = 0.0f;
    g_bin[0] = g_bin[1] = 0.0f;
    for (int s = 0; s < 2; s++) {
        contrib[s] = 0.0;
        if (ls[s] == 0) continue;
        double a = class_alpha ? class_alpha[ys[s]] : c->alpha;
        contrib[s] = ls[s] * inv_b *
                     kloss_focal_row(cls, C, ys[s], c->gamma, a, c->smoothing,
                                     c->w_cls * ls[s] * inv_b, g_cls);
    }
    double q[2] = {0, 0};
    for (int s = 0; s < 2; s++) q[as[s]] += ls[s];
    contrib[2] = inv_b * kloss_ce_row(bin, 2, q, c->w_bin * inv_b, g_bin);
}

/* A sample's weight as normal data: λ for a normal source a, 1−λ for a
 * normal source b (in float, then widened, as the reference computes it). */
VB_HD double kloss_normal_weight(const float *t) {
    return (double)((t[2] == 0.0f ? t[4] : 0.0f) + (t[3] == 0.0f ? 1.0f - t[4] : 0.0f));
}

/* Deep SVDD term over the batch: sample i feeds its two sources with
 * weights λ_i and 1−λ_i, each normal or anomalous. Adds d loss / d score
 * (scaled by `weight`) to gw. */
VB_HD double kloss_svdd(const KLoss *c, const float *tgt, const float *d, double weight,
                        float *gw) {
    int b = c->b;
    double wn = 0, dn = 0, wa = 0;
    for (int i = 0; i < b; i++) {
        const float *t = tgt + (size_t)i * K_TGT;
        double l = t[4];
        if (t[2] == 0.0f) wn += l, dn += l * d[i];
        else wa += l;
        if (t[3] == 0.0f) wn += 1 - l, dn += (1 - l) * d[i];
        else wa += 1 - l;
    }
    double loss = 0;
    if (c->svdd_mode == 1) { /* one-class */
        if (wn > 0) {
            loss = dn / wn;
            for (int i = 0; i < b; i++) {
                const float *t = tgt + (size_t)i * K_TGT;
                double wi = kloss_normal_weight(t);
                gw[i] += (float)(weight * wi / wn);
            }
        }
    } else if (c->svdd_mode == 0) { /* supervised */
        /* margin m = mean normal distance + 1, detached (the seed let
         * gradient through it); 1 when the batch has no normal sample */
        double mrg = (wn > 0 ? dn / wn : 0.0) + 1.0;
        double la = 0;
        for (int i = 0; i < b; i++) {
            const float *t = tgt + (size_t)i * K_TGT;
            double l = t[4];
            double wi_n = (t[2] == 0.0f ? l : 0) + (t[3] == 0.0f ? 1 - l : 0);
            double wi_a = (t[2] != 0.0f ? l : 0) + (t[3] != 0.0f ? 1 - l : 0);
            if (wn > 0) gw[i] += (float)(weight * wi_n / wn);
            if (wa > 0 && mrg - d[i] > 0) {
                la += wi_a * (mrg - d[i]);
                gw[i] -= (float)(weight * wi_a / wa);
            }
        }
        loss = (wn > 0 ? dn / wn : 0) + (wa > 0 ? la / wa : 0);
    } else { /* soft-boundary */
        double s = 0;
        if (wn > 0) {
            for (int i = 0; i < b; i++) {
                const float *t = tgt + (size_t)i * K_TGT;
                double wi = kloss_normal_weight(t);
                if (d[i] > c->svdd_r2) {
                    s += wi * (d[i] - c->svdd_r2);
                    gw[i] += (float)(weight * wi / (c->svdd_nu * wn));
                }
            }
            loss = c->svdd_r2 + s / (c->svdd_nu * wn);
        }
    }
    return loss;
}

/* Phase 2, one thread: sums the contributions in sample order, the SVDD
 * term (gw [b] overwritten), the VAE term and its per-frame weights
 * (g_wm, g_wk [rows] overwritten; mse, kl read only with has_vae), and
 * writes parts [K_LOSS_PARTS]. */
VB_HD void kloss_finish(const KLoss *c, const float *tgt, const double *contrib, const float *score,
                        const float *mse, const float *kl, float *gw, float *g_wm, float *g_wk,
                        double *parts) {
    double cls = 0, bin = 0, svdd = 0, vae = 0;
    for (int i = 0; i < c->b; i++) {
        cls += contrib[3 * i];
        cls += contrib[3 * i + 1];
        bin += contrib[3 * i + 2];
    }
    for (int i = 0; i < c->b; i++) gw[i] = 0.0f;
    if (c->svdd_on && c->w_svdd > 0) svdd = kloss_svdd(c, tgt, score, c->w_svdd, gw);
    double inv_r = 1.0 / c->rows;
    for (int r = 0; r < c->rows; r++) {
        if (c->has_vae) {
            /* MSE mean over all elements (= mean of per-frame means) + β·KL
             * (summed over the latent, averaged over frames); a frame's
             * terms weigh with its sample's λ sources, which share the frame */
            vae += inv_r * (mse[r] + c->vae_beta * kl[r]);
            g_wm[r] = (float)(c->w_vae * inv_r);
            g_wk[r] = (float)(c->w_vae * c->vae_beta * inv_r);
        } else {
            g_wm[r] = g_wk[r] = 0.0f;
        }
    }
    parts[1] = cls, parts[2] = bin, parts[3] = svdd, parts[4] = vae;
    parts[0] =
        c->w_cls * cls + c->w_bin * bin + c->w_svdd * svdd + (c->has_vae ? c->w_vae * vae : 0);
}

#endif
