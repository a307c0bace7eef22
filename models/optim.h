/* optim: AdamW (or Adam with an L2 gradient term) over the trainable range
 * of a parameter table, with global gradient-norm clipping (fused into the
 * update by optim_clip_adamw). The moments live in buffers with the table's
 * layout, so the update is one flat loop. */
#ifndef VB_OPTIM_H
#define VB_OPTIM_H

#include "models/params.h"

typedef struct AdamW {
    float b1, b2, eps, wd;
    bool l2; /* torch.optim.Adam: wd·p added to the gradient, no decoupled decay */
    int64_t step;
    float *m, *v; /* backend memory [n_train] */
    const KOps *k;
    size_t n;
} AdamW;

VbStatus adamw_init(AdamW *o, ParamTable *pt, float b1, float b2, float eps, float wd);
/* Plain Adam with L2 regularisation as torch.optim.Adam(weight_decay=wd)
 * computes it: g += wd·p, then the Adam update (no decoupled decay). */
VbStatus adam_l2_init(AdamW *o, ParamTable *pt, float b1, float b2, float eps, float wd);
void adamw_free(AdamW *o);
void optim_zero_grad(ParamTable *pt);
/* Global L2 norm of the gradients (fixed-order reduction). */
double optim_grad_norm(const ParamTable *pt);
/* Scale gradients so their global norm is at most max_norm (PyTorch's
 * clip_grad_norm_: factor max_norm / (norm + 1e-6) when that is below 1).
 * Returns the norm before clipping. */
double optim_clip(ParamTable *pt, double max_norm);
/* One update at lr. With l2 the gradients in pt are changed (g += wd·p). */
void adamw_step(AdamW *o, ParamTable *pt, float lr);
/* optim_clip then adamw_step, the training step's way: the norm goes to
 * norm_dev[0] (a backend double, so a step needs no host round trip) and the
 * clip's scale is fused into AdamW's pass (bit-identical to the two calls;
 * the gradients are left unscaled). A NaN or Inf norm is not clipped; the
 * caller reports it when it reads the norm back. Adam with L2 clips first
 * (reading the norm on the host when max_norm > 0) and adds wd·p to the
 * clipped gradients, as torch does. */
void optim_clip_adamw(AdamW *o, ParamTable *pt, double max_norm, float lr, double *norm_dev);
/* SWA: swa ← swa + (p − swa)/(n_averaged + 1) over n values
 * (torch.optim.swa_utils.AveragedModel's equal-weight average); the first
 * call (n_averaged = 0) copies p. tmp: n floats of scratch. */
void swa_accumulate(const KOps *k, size_t n, const float *p, float *swa, float *tmp,
                    int n_averaged);

#endif
