/* optim: AdamW and gradient clipping as flat loops over the parameter table. */
#include "optim.h"

#include <math.h>
#include <string.h>

#include "kernels/kmath.h"

VbStatus adamw_init(AdamW *o, ParamTable *pt, float b1, float b2, float eps, float wd) {
    memset(o, 0, sizeof *o);
    o->b1 = b1, o->b2 = b2, o->eps = eps, o->wd = wd;
    o->k = pt->k;
    o->n = pt->n_train;
    o->m = o->k->alloc(o->n * sizeof(float) + 64);
    o->v = o->k->alloc(o->n * sizeof(float) + 64);
    if (!o->m || !o->v)
        return VB_FAIL(VB_ERR_NOMEM, "cannot allocate optimiser state (%.1f MiB)",
                       (double)o->n * 8 / 1048576.0);
    return VB_OK;
}

VbStatus adam_l2_init(AdamW *o, ParamTable *pt, float b1, float b2, float eps, float wd) {
    VB_TRY(adamw_init(o, pt, b1, b2, eps, wd));
    o->l2 = true;
    return VB_OK;
}

void adamw_free(AdamW *o) {
    if (o->k) {
        if (o->m) o->k->free(o->m);
        if (o->v) o->k->free(o->v);
    }
    memset(o, 0, sizeof *o);
}

void optim_zero_grad(ParamTable *pt) { pt->k->zero(pt->grad, pt->n_train * sizeof(float)); }

double optim_grad_norm(const ParamTable *pt) { return sqrt(pt->k->sumsq(pt->n_train, pt->grad)); }

double optim_clip(ParamTable *pt, double max_norm) {
    double norm = optim_grad_norm(pt);
    float coef = k_clip_coef(norm, max_norm);
    if (coef != 1.0f) pt->k->scale(pt->n_train, coef, pt->grad);
    return norm;
}

static void adamw_run(AdamW *o, ParamTable *pt, float lr, const double *norm, double max_norm) {
    o->step++;
    /* padding between tensors holds zeros in p, g, m and v, and stays zero */
    o->k->adamw(o->n, lr, o->b1, o->b2, o->eps, o->l2 ? 0.0f : o->wd, o->step, norm, max_norm,
                pt->data, pt->grad, o->m, o->v);
}

void adamw_step(AdamW *o, ParamTable *pt, float lr) {
    if (o->l2 && o->wd != 0) o->k->axpy(o->n, o->wd, pt->data, pt->grad);
    adamw_run(o, pt, lr, NULL, 0);
}

void optim_clip_adamw(AdamW *o, ParamTable *pt, double max_norm, float lr, double *norm_dev) {
    if (!o->l2) {
        pt->k->grad_norm(pt->n_train, pt->grad, norm_dev);
        adamw_run(o, pt, lr, norm_dev, max_norm);
        return;
    }
    /* Adam with L2 adds wd·p to the clipped gradient, so the clip cannot be
     * fused into the update: without clipping the norm stays on the backend;
     * with it, the norm is read on the host to scale the gradients first (one
     * synchronisation per step, as torch's clip_grad_norm_ then Adam.step) */
    if (max_norm > 0) {
        double norm = optim_clip(pt, max_norm);
        pt->k->upload(norm_dev, &norm, sizeof norm);
    } else {
        pt->k->grad_norm(pt->n_train, pt->grad, norm_dev);
    }
    adamw_step(o, pt, lr);
}

void swa_accumulate(const KOps *k, size_t n, const float *p, float *swa, float *tmp,
                    int n_averaged) {
    if (n_averaged == 0) {
        k->copy(swa, p, n * sizeof(float));
        return;
    }
    k->copy(tmp, p, n * sizeof(float));
    k->axpy(n, -1.0f, swa, tmp);
    k->axpy(n, 1.0f / (float)(n_averaged + 1), tmp, swa);
}
