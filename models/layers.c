/* layers: linear, batchnorm, dropout and MLP blocks over a KOps backend. */
#include "layers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- activation plan ---- */

void plan_init(ActPlan *p) { memset(p, 0, sizeof *p); }

void plan_req(ActPlan *p, float **slot, size_t floats) {
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 128;
        p->slot = vb_xrealloc(p->slot, (size_t)p->cap * sizeof *p->slot);
        p->size = vb_xrealloc(p->size, (size_t)p->cap * sizeof *p->size);
    }
    p->slot[p->n] = slot;
    p->size[p->n] = floats;
    p->n++;
    p->total += (floats + 15) / 16 * 16;
    *slot = NULL;
}

VbStatus plan_commit(ActPlan *p, Arena *arena, const KOps *k) {
    VB_TRY(arena_init(arena, k, p->total * sizeof(float)));
    for (int i = 0; i < p->n; i++) *p->slot[i] = arena_floats(arena, p->size[i]);
    return VB_OK;
}

void plan_free(ActPlan *p) {
    free(p->slot);
    free(p->size);
    memset(p, 0, sizeof *p);
}

/* ---- net ---- */

void net_init(Net *n, const KOps *k, ParamTable *pt) {
    memset(n, 0, sizeof *n);
    n->k = k;
    n->pt = pt;
    n->update_bn = true;
    n->bn_momentum_override = -1.0f;
    plan_init(&n->plan);
    n->dropout_rng = rng_stream(0, "dropout");
}

VbStatus net_commit(Net *n) {
    VB_TRY(params_alloc(n->pt, n->k));
    VB_TRY(plan_commit(&n->plan, &n->act, n->k));
    /* scratch is used by bump allocation per block: add room for alignment */
    VB_TRY(arena_init(&n->scratch, n->k, (n->scratch_need + 16 * 64) * sizeof(float)));
    if (n->ones_n > 0) {
        n->ones = n->k->alloc(n->ones_n * sizeof(float)); /* zero-filled */
        n->zeros = n->k->alloc(n->ones_n * sizeof(float));
        if (!n->ones || !n->zeros) return VB_FAIL(VB_ERR_NOMEM, "cannot allocate BN constants");
        float *h = vb_xmalloc(n->ones_n * sizeof(float));
        for (size_t i = 0; i < n->ones_n; i++) h[i] = 1.0f;
        n->k->upload(n->ones, h, n->ones_n * sizeof(float));
        free(h);
    }
    return VB_OK;
}

void net_free(Net *n) {
    arena_free(&n->act);
    arena_free(&n->scratch);
    plan_free(&n->plan);
    if (n->ones) n->k->free(n->ones);
    if (n->zeros) n->k->free(n->zeros);
    n->ones = n->zeros = NULL;
}

void net_need_scratch(Net *n, size_t floats) {
    if (floats > n->scratch_need) n->scratch_need = floats;
}

Dropout *net_find_site(Net *n, const char *name) {
    for (int i = 0; i < n->nsites; i++)
        if (strcmp(n->sites[i]->name, name) == 0) return n->sites[i];
    return NULL;
}

/* ---- linear ---- */

void linear_make(Linear *l, ParamTable *pt, const char *prefix, int in, int out, bool bias) {
    char name[PARAM_NAME_MAX];
    l->in = in, l->out = out;
    snprintf(name, sizeof name, "%s.weight", prefix);
    l->w = params_add(pt, name, PARAM_TRAIN, 2, out, in, 0, 0);
    params_set_init(pt, l->w, INIT_UNIFORM, in);
    params_set_packable(pt, l->w);
    l->b = -1;
    if (bias) {
        snprintf(name, sizeof name, "%s.bias", prefix);
        l->b = params_add(pt, name, PARAM_TRAIN, 1, out, 0, 0, 0);
        params_set_init(pt, l->b, INIT_UNIFORM, in);
    }
}

void lin_fwd(Net *n, const Linear *l, int rows, const float *x, float *y) {
    const ParamTable *pt = n->pt;
    n->k->linear_fwd(rows, l->in, l->out, x, params_data(pt, l->w),
                     l->b >= 0 ? params_data(pt, l->b) : NULL, y);
}

void lin_bwd(Net *n, const Linear *l, int rows, const float *x, const float *dy, float *dx) {
    const ParamTable *pt = n->pt;
    n->k->linear_bwd(rows, l->in, l->out, x, params_data(pt, l->w), dy, dx, params_grad(pt, l->w),
                     l->b >= 0 ? params_grad(pt, l->b) : NULL);
}

/* ---- batchnorm ---- */

void bn_make(Bn *b, Net *n, const char *prefix, int c, KAct act, float eps, float momentum) {
    bn_make_affine(b, n, prefix, c, act, eps, momentum, true);
}

void bn_make_affine(Bn *b, Net *n, const char *prefix, int c, KAct act, float eps, float momentum,
                    bool affine) {
    char name[PARAM_NAME_MAX];
    memset(b, 0, sizeof *b);
    b->c = c, b->act = act, b->eps = eps, b->momentum = momentum;
    b->gamma = b->beta = -1;
    if (affine) {
        snprintf(name, sizeof name, "%s.weight", prefix);
        b->gamma = params_add(n->pt, name, PARAM_TRAIN, 1, c, 0, 0, 0);
        snprintf(name, sizeof name, "%s.bias", prefix);
        b->beta = params_add(n->pt, name, PARAM_TRAIN, 1, c, 0, 0, 0);
        params_set_init(n->pt, b->gamma, INIT_ONES, 0);
    } else if ((size_t)c > n->ones_n) {
        n->ones_n = (size_t)c;
    }
    snprintf(name, sizeof name, "%s.running_mean", prefix);
    b->rmean = params_add(n->pt, name, PARAM_BUFFER, 1, c, 0, 0, 0);
    snprintf(name, sizeof name, "%s.running_var", prefix);
    b->rvar = params_add(n->pt, name, PARAM_BUFFER, 1, c, 0, 0, 0);
    params_set_init(n->pt, b->rvar, INIT_ONES, 0);
    params_set_role(n->pt, b->rmean, PARAM_ROLE_BN_MEAN);
    params_set_role(n->pt, b->rvar, PARAM_ROLE_BN_VAR);
    plan_req(&n->plan, &b->mean, (size_t)c);
    plan_req(&n->plan, &b->invstd, (size_t)c);
}

static KBn bn_desc(const Net *n, const Bn *b, int rows) {
    KBn d = {rows, b->c, b->eps, b->momentum, b->act};
    if (n->bn_momentum_override >= 0) d.momentum = n->bn_momentum_override;
    return d;
}

/* gamma/beta and their gradients: the parameters, or the constants 1 and 0
 * with no gradient for a BN without affine parameters. */
static const float *bn_gamma(const Net *n, const Bn *b) {
    return b->gamma >= 0 ? params_data(n->pt, b->gamma) : n->ones;
}
static const float *bn_beta(const Net *n, const Bn *b) {
    return b->beta >= 0 ? params_data(n->pt, b->beta) : n->zeros;
}
static float *bn_dgamma(const Net *n, const Bn *b) {
    return b->gamma >= 0 ? params_grad(n->pt, b->gamma) : NULL;
}
static float *bn_dbeta(const Net *n, const Bn *b) {
    return b->beta >= 0 ? params_grad(n->pt, b->beta) : NULL;
}

void bn_fwd(Net *n, Bn *b, int rows, const float *x, float *y) {
    const ParamTable *pt = n->pt;
    KBn d = bn_desc(n, b, rows);
    if (n->train)
        n->k->bn_train_fwd(&d, x, bn_gamma(n, b), bn_beta(n, b), params_data(pt, b->rmean),
                           params_data(pt, b->rvar), n->update_bn, b->mean, b->invstd, y);
    else
        n->k->bn_eval_fwd(&d, x, bn_gamma(n, b), bn_beta(n, b), params_data(pt, b->rmean),
                          params_data(pt, b->rvar), y);
}

void bn_bwd(Net *n, const Bn *b, int rows, const float *x, const float *dy, float *dx) {
    const ParamTable *pt = n->pt;
    KBn d = bn_desc(n, b, rows);
    if (n->train)
        n->k->bn_train_bwd(&d, x, bn_gamma(n, b), bn_beta(n, b), b->mean, b->invstd, dy, dx,
                           bn_dgamma(n, b), bn_dbeta(n, b));
    else
        n->k->bn_eval_bwd(&d, x, bn_gamma(n, b), bn_beta(n, b), params_data(pt, b->rmean),
                          params_data(pt, b->rvar), dy, dx, bn_dgamma(n, b), bn_dbeta(n, b));
}

/* ---- dropout ---- */

void dropout_make(Dropout *d, Net *n, const char *name, float p, size_t max_n) {
    memset(d, 0, sizeof *d);
    snprintf(d->name, sizeof d->name, "%s", name);
    d->p = p;
    d->max_n = max_n;
    VB_ASSERT(n->nsites < NET_MAX_SITES);
    d->site = n->nsites;
    n->sites[n->nsites++] = d;
    plan_req(&n->plan, &d->mask, max_n);
}

static bool dropout_active(const Net *n, const Dropout *d) { return n->train && d->p > 0; }

void dropout_fwd(Net *n, Dropout *d, size_t count, const float *x, float *y) {
    VB_ASSERT(count <= d->max_n);
    if (!dropout_active(n, d)) {
        if (y != x) n->k->copy(y, x, count * sizeof(float));
        return;
    }
    if (!n->external_noise) {
        RngStream s = rng_substream(n->dropout_rng, (uint64_t)d->site);
        n->k->fill_dropout(s, n->step, count, d->p, d->mask);
    }
    n->k->mul(count, x, d->mask, y);
}

void dropout_bwd(Net *n, const Dropout *d, size_t count, const float *dy, float *dx) {
    if (!dropout_active(n, d)) {
        if (dx != dy) n->k->copy(dx, dy, count * sizeof(float));
        return;
    }
    n->k->mul(count, dy, d->mask, dx);
}

/* ---- Linear -> ReLU -> BN1d -> Dropout ---- */

void mlp_make(MlpBlock *m, Net *n, const char *prefix, int first_index, int in, int out,
              float dropout, int max_rows) {
    mlp_make_opts(m, n, prefix, first_index, in, out, dropout, max_rows, true, true);
}

void mlp_make_opts(MlpBlock *m, Net *n, const char *prefix, int first_index, int in, int out,
                   float dropout, int max_rows, bool bias, bool affine) {
    char name[PARAM_NAME_MAX];
    memset(m, 0, sizeof *m);
    m->max_rows = max_rows;
    snprintf(name, sizeof name, "%s.%d", prefix, first_index);
    linear_make(&m->lin, n->pt, name, in, out, bias);
    snprintf(name, sizeof name, "%s.%d", prefix, first_index + 2);
    bn_make_affine(&m->bn, n, name, out, K_ACT_NONE, 1e-5f, 0.1f, affine);
    snprintf(name, sizeof name, "%s.%d", prefix, first_index + 3);
    dropout_make(&m->drop, n, name, dropout, (size_t)max_rows * out);
    size_t ro = (size_t)max_rows * out;
    plan_req(&n->plan, &m->z, ro);
    plan_req(&n->plan, &m->r, ro);
    plan_req(&n->plan, &m->y, ro);
    plan_req(&n->plan, &m->dx, (size_t)max_rows * in);
}

void mlp_fwd(Net *n, MlpBlock *m, int rows, const float *x) {
    size_t ro = (size_t)rows * m->lin.out;
    lin_fwd(n, &m->lin, rows, x, m->z);
    n->k->act_fwd(K_ACT_RELU, ro, m->z, m->r);
    bn_fwd(n, &m->bn, rows, m->r, m->y);
    dropout_fwd(n, &m->drop, ro, m->y, m->y);
}

void mlp_bwd(Net *n, MlpBlock *m, int rows, const float *x, float *dy) {
    size_t ro = (size_t)rows * m->lin.out;
    dropout_bwd(n, &m->drop, ro, dy, dy);
    bn_bwd(n, &m->bn, rows, m->r, dy, dy);
    n->k->act_bwd(K_ACT_RELU, ro, m->z, dy, dy);
    lin_bwd(n, &m->lin, rows, x, dy, m->dx);
}
