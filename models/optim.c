/* optim: AdamW and gradient clipping as flat loops over the parameter table. */
#include "optim.h"

#include <math.h>
#include <string.h>

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
    double coef = max_norm / (norm + 1e-6);
    if (max_norm > 0 && coef < 1.0) pt->k->scale(pt->n_train, (float)coef, pt->grad);
    return norm;
}

void adamw_step(AdamW *o, ParamTable *pt, float lr) {
    o->step++;
    /* padding between tensors holds zeros in p, g, m and v, and stays zero */
    if (o->l2) {
        if (o->wd != 0) o->k->axpy(o->n, o->wd, pt->data, pt->grad);
        o->k->adamw(o->n, lr, o->b1, o->b2, o->eps, 0.0f, o->step, pt->data, pt->grad, o->m, o->v);
        return;
    }
    o->k->adamw(o->n, lr, o->b1, o->b2, o->eps, o->wd, o->step, pt->data, pt->grad, o->m, o->v);
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
