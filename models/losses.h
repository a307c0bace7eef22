/* losses: the training objective of MODEL_SPEC §4 and its gradients.
 *
 *   total = w_cls·focal + w_bin·binary CE + w_svdd·Deep SVDD + w_vae·VAE
 *
 * The backend's `loss` op (kernels/kloss.h, the same double-precision code
 * on the CPU and the GPU) reads the model's small outputs (logits [b,C],
 * [b,2], SVDD scores [b], VAE per-frame terms [b·t]) where they are, writes
 * the gradients into the model's g_* buffers for hybrid_backward, and
 * leaves the loss parts in backend memory: a training step needs no host
 * round trip (loss_enqueue). loss_compute also reads the parts back and
 * checks them. Mixup/CutMix targets are per-sample pairs (ya, yb, λ):
 * every term mixes with λ.
 *
 * Focal loss: q = (1−ε)·onehot + ε/C, CE = −Σ q log p, factor (1 − p_y)^γ on
 * the unsmoothed probability of the true class, weight α (scalar or per
 * class); γ = 0, α = 1, ε = 0 is cross-entropy. Mean over the batch.
 * Deep SVDD: `supervised` (the seed's, margin detached), `one-class`,
 * `soft-boundary` (ν, R² supplied by the trainer). The term is off until
 * the centre is set (svdd_on). */
#ifndef VB_LOSSES_H
#define VB_LOSSES_H

#include "models/hybrid.h"

typedef enum SvddMode { SVDD_SUPERVISED = 0, SVDD_ONE_CLASS, SVDD_SOFT_BOUNDARY } SvddMode;
/* `train.svdd.mode` names, indexed by SvddMode. */
extern const char *const svdd_mode_names[];

typedef struct LossConfig {
    double gamma, alpha, smoothing;
    const double *class_alpha; /* [C] or NULL: use alpha */
    double w_cls, w_bin, w_svdd, w_vae;
    double vae_beta;
    SvddMode svdd_mode;
    double svdd_nu, svdd_r2; /* soft-boundary */
    bool svdd_on;
} LossConfig;

/* MODEL_SPEC §4 defaults: γ 2.5, α 0.25, ε 0.1, weights 1/0.5/0.3/0.2, β 1,
 * supervised SVDD (on). */
void loss_config_defaults(LossConfig *c);

typedef struct LossParts {
    double total, cls, bin, svdd, vae;
} LossParts;

/* Targets of one batch: sample i is λ_i·(ya_i, anomaly_a_i) + (1−λ_i)·(yb_i,
 * anomaly_b_i). Without mixing, yb = ya and λ = 1. */
typedef struct LossTargets {
    const int *ya, *yb;
    const int *anom_a, *anom_b; /* 1 = anomaly */
    const float *lam;
} LossTargets;

typedef struct LossWork {
    int max_b, max_rows, classes;
    const KOps *k;
    float *host;   /* staging: targets [max_b, K_TGT], then per-class α (doubles) */
    float *dev;    /* the same on the backend */
    double *parts; /* backend [K_LOSS_PARTS]: where loss_compute's parts land */
    size_t bytes;  /* of host / dev */
} LossWork;

VbStatus loss_work_init(LossWork *w, const Hybrid *m);
void loss_work_free(LossWork *w);
/* Enqueue the loss of the last forward: upload the targets, run the
 * backend's loss op (gradients into the model's g_* buffers, parts
 * [K_LOSS_PARTS] = total, cls, bin, svdd, vae into `parts`, backend memory).
 * No host round trip; non-finite parts are for the reader to report
 * (loss_parts_check). */
void loss_enqueue(const LossConfig *c, Hybrid *m, LossWork *w, int b, int t, const LossTargets *tg,
                  double *parts);
/* loss_enqueue, then read the parts back (a host round trip). Returns
 * VB_ERR_NUMERIC (with the part named) on a NaN/Inf loss. */
VbStatus loss_compute(const LossConfig *c, Hybrid *m, LossWork *w, int b, int t,
                      const LossTargets *tg, LossParts *out);
/* Parts as read back from backend memory (K_LOSS_PARTS doubles). */
LossParts loss_parts_from(const double *parts);
/* VB_ERR_NUMERIC naming the first non-finite part, else VB_OK. */
VbStatus loss_parts_check(const LossParts *p);

/* Building blocks, exposed for tests: per-sample focal loss and its
 * gradient w.r.t. the logits (scaled by `scale`). */
double loss_focal_row(const float *z, int C, int y, double gamma, double alpha, double eps,
                      double scale, float *dz);
/* Soft-target cross entropy of one row with target distribution q. */
double loss_ce_row(const float *z, int C, const double *q, double scale, float *dz);

#endif
