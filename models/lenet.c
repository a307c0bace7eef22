/* lenet: Ruff et al.'s LeNet backbone forward and backward (see lenet.h). */
#include "lenet.h"

#include <stdio.h>
#include <string.h>

void lenet_config_ruff(LeNetConfig *c) {
    memset(c, 0, sizeof *c);
    c->nconv = 2, c->channels[0] = 16, c->channels[1] = 32;
    c->kernel = 5, c->hidden = 128, c->out = 64;
    c->bias = false, c->bn_affine = false;
    c->bn_eps = 1e-4f, c->bn_momentum = 0.1f, c->slope = 0.01f;
    c->in_channels = 1, c->image = 28;
}

int lenet_flat_dim(const LeNetConfig *c) {
    int h = c->image;
    for (int i = 0; i < c->nconv; i++) h /= 2;
    return h >= 1 && c->nconv >= 1 ? h * h * c->channels[c->nconv - 1] : 0;
}

static size_t zmax(size_t a, size_t b) { return a > b ? a : b; }

void lenet_make(LeNet *l, Net *n, const char *prefix, const LeNetConfig *cfg, int max_n) {
    char name[PARAM_NAME_MAX];
    memset(l, 0, sizeof *l);
    l->cfg = *cfg;
    l->max_n = max_n;
    VB_ASSERT(cfg->nconv >= 1 && cfg->nconv <= LENET_MAX_CONV && cfg->kernel % 2 == 1);
    int h = cfg->image, cin = cfg->in_channels, k = cfg->kernel;
    size_t ws = 0;
    for (int i = 0; i < cfg->nconv; i++) {
        LeNetLevel *v = &l->lv[i];
        int c = cfg->channels[i];
        VB_ASSERT(h >= 2);
        v->g = kconv_init(max_n, h, h, cin, c, k, 1, k / 2, 1);
        v->pool = kpool_init(max_n, h, h, c, 2);
        snprintf(name, sizeof name, "%s.conv%d.weight", prefix, i + 1);
        v->w = params_add(n->pt, name, PARAM_TRAIN, 4, c, cin, k, k);
        params_set_init(n->pt, v->w, INIT_UNIFORM, (double)cin * k * k);
        v->b = -1;
        if (cfg->bias) {
            snprintf(name, sizeof name, "%s.conv%d.bias", prefix, i + 1);
            v->b = params_add(n->pt, name, PARAM_TRAIN, 1, c, 0, 0, 0);
            params_set_init(n->pt, v->b, INIT_UNIFORM, (double)cin * k * k);
        }
        snprintf(name, sizeof name, "%s.bn2d%d", prefix, i + 1);
        bn_make_affine(&v->bn, n, name, c, K_ACT_NONE, cfg->bn_eps, cfg->bn_momentum,
                       cfg->bn_affine);
        size_t out = (size_t)max_n * h * h * c, pooled = (size_t)max_n * (h / 2) * (h / 2) * c;
        plan_req(&n->plan, &v->z, out);
        plan_req(&n->plan, &v->a, out);
        plan_req(&n->plan, &v->l, out);
        plan_req(&n->plan, &v->p, pooled);
        ws = zmax(ws, n->k->conv2d_ws(&v->g));
        l->gbuf_n = zmax(l->gbuf_n, zmax(out, (size_t)max_n * h * h * cin));
        h /= 2, cin = c;
    }
    l->flat = h * h * cin;
    plan_req(&n->plan, &l->flat_nchw, (size_t)max_n * l->flat);
    plan_req(&n->plan, &l->d_flat, (size_t)max_n * l->flat);
    int fc2_in = l->flat;
    if (cfg->hidden > 0) {
        snprintf(name, sizeof name, "%s.fc1", prefix);
        linear_make(&l->fc1, n->pt, name, l->flat, cfg->hidden, cfg->bias);
        snprintf(name, sizeof name, "%s.bn1d1", prefix);
        bn_make_affine(&l->bn1, n, name, cfg->hidden, K_ACT_NONE, cfg->bn_eps, cfg->bn_momentum,
                       cfg->bn_affine);
        size_t hs = (size_t)max_n * cfg->hidden;
        plan_req(&n->plan, &l->h1, hs);
        plan_req(&n->plan, &l->h1n, hs);
        plan_req(&n->plan, &l->h1a, hs);
        plan_req(&n->plan, &l->d_h, hs);
        fc2_in = cfg->hidden;
    }
    snprintf(name, sizeof name, "%s.fc2", prefix);
    linear_make(&l->fc2, n->pt, name, fc2_in, cfg->out, cfg->bias);
    l->feat_dim = cfg->out;
    plan_req(&n->plan, &l->feat, (size_t)max_n * cfg->out);
    plan_req(&n->plan, &l->gbuf[0], l->gbuf_n);
    plan_req(&n->plan, &l->gbuf[1], l->gbuf_n);
    plan_req(&n->plan, &l->conv_ws, ws ? ws : 1);
}

static const float *conv_bias(const Net *n, const LeNetLevel *v) {
    return v->b >= 0 ? params_data(n->pt, v->b) : NULL;
}

void lenet_fwd(Net *n, LeNet *l, int nimg, const float *x) {
    VB_ASSERT(nimg <= l->max_n);
    const KOps *k = n->k;
    float slope = l->cfg.slope;
    const float *in = x;
    int h = l->cfg.image;
    for (int i = 0; i < l->cfg.nconv; i++) {
        LeNetLevel *v = &l->lv[i];
        KConv g = v->g;
        g.n = nimg;
        KPool pp = v->pool;
        pp.n = nimg;
        size_t cnt = (size_t)nimg * h * h * g.cout;
        k->conv2d_fwd(&g, in, params_data(n->pt, v->w), conv_bias(n, v), v->z, l->conv_ws);
        bn_fwd(n, &v->bn, nimg * h * h, v->z, v->a);
        k->leaky_fwd(cnt, slope, v->a, v->l);
        k->maxpool_fwd(&pp, v->l, v->p);
        in = v->p, h /= 2;
    }
    int c = l->lv[l->cfg.nconv - 1].g.cout;
    k->nhwc_to_nchw(nimg, h, h, c, in, l->flat_nchw);
    if (l->cfg.hidden > 0) {
        size_t hs = (size_t)nimg * l->cfg.hidden;
        lin_fwd(n, &l->fc1, nimg, l->flat_nchw, l->h1);
        bn_fwd(n, &l->bn1, nimg, l->h1, l->h1n);
        k->leaky_fwd(hs, slope, l->h1n, l->h1a);
        lin_fwd(n, &l->fc2, nimg, l->h1a, l->feat);
    } else {
        lin_fwd(n, &l->fc2, nimg, l->flat_nchw, l->feat);
    }
}

void lenet_bwd(Net *n, LeNet *l, int nimg, const float *x, const float *dfeat) {
    const KOps *k = n->k;
    float slope = l->cfg.slope;
    if (l->cfg.hidden > 0) {
        size_t hs = (size_t)nimg * l->cfg.hidden;
        lin_bwd(n, &l->fc2, nimg, l->h1a, dfeat, l->d_h);
        k->leaky_bwd(hs, slope, l->h1n, l->d_h, l->d_h);
        bn_bwd(n, &l->bn1, nimg, l->h1, l->d_h, l->d_h);
        lin_bwd(n, &l->fc1, nimg, l->flat_nchw, l->d_h, l->d_flat);
    } else {
        lin_bwd(n, &l->fc2, nimg, l->flat_nchw, dfeat, l->d_flat);
    }
    int L = l->cfg.nconv, h = l->cfg.image;
    for (int i = 0; i < L; i++) h /= 2;
    float *dp = l->gbuf[0], *dl = l->gbuf[1];
    k->nchw_to_nhwc(nimg, h, h, l->lv[L - 1].g.cout, l->d_flat, dp);
    for (int i = L - 1; i >= 0; i--) {
        LeNetLevel *v = &l->lv[i];
        KConv g = v->g;
        g.n = nimg;
        KPool pp = v->pool;
        pp.n = nimg;
        int hi = g.h;
        size_t cnt = (size_t)nimg * hi * hi * g.cout;
        k->maxpool_bwd(&pp, v->l, dp, dl);
        k->leaky_bwd(cnt, slope, v->a, dl, dl);
        bn_bwd(n, &v->bn, nimg * hi * hi, v->z, dl, dl);
        const float *in = i > 0 ? l->lv[i - 1].p : x;
        float *dx = i > 0 ? dp : NULL;
        k->conv2d_bwd(&g, in, params_data(n->pt, v->w), dl, dx, params_grad(n->pt, v->w),
                      v->b >= 0 ? params_grad(n->pt, v->b) : NULL, l->conv_ws);
    }
}
