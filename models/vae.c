/* vae: feature-level and image-level VAE forward/backward. */
#include "vae.h"

#include <stdio.h>
#include <string.h>

static const float IMAGENET_MEAN[3] = {0.485f, 0.456f, 0.406f};
static const float IMAGENET_STD[3] = {0.229f, 0.224f, 0.225f};

static void make_feature(Vae *v, Net *n, float dropout) {
    int rows = v->max_rows, prev = v->in_dim;
    for (int i = 0; i < v->nh; i++) {
        mlp_make(&v->enc[i], n, "vae.encoder", 4 * i, prev, v->hidden[i], dropout, rows);
        prev = v->hidden[i];
    }
    linear_make(&v->fc_mu, n->pt, "vae.fc_mu", prev, v->latent, true);
    linear_make(&v->fc_logvar, n->pt, "vae.fc_logvar", prev, v->latent, true);
    prev = v->latent;
    for (int i = 0; i < v->nh; i++) {
        int h = v->hidden[v->nh - 1 - i];
        mlp_make(&v->dec[i], n, "vae.decoder", 4 * i, prev, h, dropout, rows);
        prev = h;
    }
    char name[64];
    snprintf(name, sizeof name, "vae.decoder.%d", 4 * v->nh);
    linear_make(&v->out, n->pt, name, prev, v->in_dim, true);
}

static void make_image(Vae *v, Net *n) {
    char name[PARAM_NAME_MAX];
    int rows = v->max_rows, s = v->image, cin = 3;
    size_t ws = 0;
    for (int i = 0; i < v->nh; i++) {
        int c = v->hidden[i];
        v->genc[i] = kconv_init(rows, s, s, cin, c, 4, 2, 1, 1);
        snprintf(name, sizeof name, "vae.encoder.%d.weight", 3 * i);
        v->w_enc[i] = params_add(n->pt, name, PARAM_TRAIN, 4, c, cin, 4, 4);
        snprintf(name, sizeof name, "vae.encoder.%d.bias", 3 * i);
        v->b_enc[i] = params_add(n->pt, name, PARAM_TRAIN, 1, c, 0, 0, 0);
        params_set_init(n->pt, v->w_enc[i], INIT_UNIFORM, (double)cin * 16);
        params_set_init(n->pt, v->b_enc[i], INIT_UNIFORM, (double)cin * 16);
        snprintf(name, sizeof name, "vae.encoder.%d", 3 * i + 1);
        bn_make(&v->bn_enc[i], n, name, c, K_ACT_LEAKY, 1e-5f, 0.1f);
        s = v->genc[i].oh;
        plan_req(&n->plan, &v->ez[i], (size_t)rows * s * s * c);
        plan_req(&n->plan, &v->ea[i], (size_t)rows * s * s * c);
        size_t w = n->k->conv2d_ws(&v->genc[i]);
        if (w > ws) ws = w;
        cin = c;
    }
    v->fs = s;
    int flat = cin * s * s;
    linear_make(&v->fc_mu, n->pt, "vae.fc_mu", flat, v->latent, true);
    linear_make(&v->fc_logvar, n->pt, "vae.fc_logvar", flat, v->latent, true);
    linear_make(&v->dec_input, n->pt, "vae.decoder_input", v->latent, flat, true);
    plan_req(&n->plan, &v->flat, (size_t)rows * flat);
    plan_req(&n->plan, &v->dflat, (size_t)rows * flat);
    plan_req(&n->plan, &v->dec_in, (size_t)rows * flat);
    plan_req(&n->plan, &v->dec_in_nhwc, (size_t)rows * flat);
    for (int i = 0; i < v->nh; i++) {
        int cout = i + 1 < v->nh ? v->hidden[v->nh - 2 - i] : 3;
        v->gdec[i] = kconvt_init(rows, s, s, cin, cout, 4, 2, 1);
        snprintf(name, sizeof name, "vae.decoder.%d.weight", 3 * i);
        v->w_dec[i] = params_add(n->pt, name, PARAM_TRAIN, 4, cin, cout, 4, 4);
        snprintf(name, sizeof name, "vae.decoder.%d.bias", 3 * i);
        v->b_dec[i] = params_add(n->pt, name, PARAM_TRAIN, 1, cout, 0, 0, 0);
        /* PyTorch takes fan_in from dim 1 of the weight, (in, out, k, k) for ConvT */
        params_set_init(n->pt, v->w_dec[i], INIT_UNIFORM, (double)cout * 16);
        params_set_init(n->pt, v->b_dec[i], INIT_UNIFORM, (double)cout * 16);
        if (i + 1 < v->nh) {
            snprintf(name, sizeof name, "vae.decoder.%d", 3 * i + 1);
            bn_make(&v->bn_dec[i], n, name, cout, K_ACT_RELU, 1e-5f, 0.1f);
        }
        s = v->gdec[i].oh;
        plan_req(&n->plan, &v->dz[i], (size_t)rows * s * s * cout);
        plan_req(&n->plan, &v->da[i], (size_t)rows * s * s * cout);
        size_t w = n->k->convt2d_ws(&v->gdec[i]);
        if (w > ws) ws = w;
        cin = cout;
    }
    VB_ASSERT(s == v->image);
    plan_req(&n->plan, &v->conv_ws, ws ? ws : 1);
    plan_req(&n->plan, &v->tgt_a, 3);
    plan_req(&n->plan, &v->tgt_b, 3);
}

void vae_make(Vae *v, Net *n, VaeLevel level, int in_dim, int image, int latent, int nh,
              const int *hidden, float dropout, bool target_normalized, bool detach_target,
              int max_rows) {
    memset(v, 0, sizeof *v);
    VB_ASSERT(nh >= 1 && nh <= VAE_MAX_HIDDEN);
    v->level = level, v->latent = latent, v->max_rows = max_rows, v->nh = nh;
    memcpy(v->hidden, hidden, (size_t)nh * sizeof *hidden);
    v->image = image;
    v->target_normalized = target_normalized;
    v->detach_target = detach_target;
    v->in_dim = level == VAE_FEATURE ? in_dim : image * image * 3;
    if (level == VAE_FEATURE) make_feature(v, n, dropout);
    else make_image(v, n);
    size_t rl = (size_t)max_rows * latent, rd = (size_t)max_rows * v->in_dim;
    plan_req(&n->plan, &v->mu, rl);
    plan_req(&n->plan, &v->logvar, rl);
    plan_req(&n->plan, &v->eps, rl);
    plan_req(&n->plan, &v->z, rl);
    plan_req(&n->plan, &v->recon, rd);
    plan_req(&n->plan, &v->target, rd);
    plan_req(&n->plan, &v->mse, (size_t)max_rows);
    plan_req(&n->plan, &v->kl, (size_t)max_rows);
    size_t big = rd;
    for (int i = 0; i < nh && level == VAE_IMAGE; i++) {
        size_t a = (size_t)max_rows * v->genc[i].oh * v->genc[i].ow * v->genc[i].cout;
        if (a > big) big = a;
    }
    if (level == VAE_FEATURE)
        for (int i = 0; i < nh; i++)
            if ((size_t)max_rows * hidden[i] > big) big = (size_t)max_rows * hidden[i];
    plan_req(&n->plan, &v->g0, big);
    plan_req(&n->plan, &v->g1, big);
    /* vae_bwd temporaries: dmu, dlv, dz, 2 more latent, drecon, dh2 */
    net_need_scratch(n, 5 * rl + rd + (size_t)max_rows * v->fc_mu.in + 8 * 16);
    plan_req(&n->plan, &v->dx, rd);
}

void vae_init_constants(Net *n, Vae *v) {
    if (v->level != VAE_IMAGE) return;
    float a[3], b[3];
    for (int c = 0; c < 3; c++) {
        if (v->target_normalized) {
            a[c] = 1.0f, b[c] = 0.0f;
        } else { /* x_norm = (u - mean)/std, target = 2u - 1 = 2(std x_norm + mean) - 1 */
            a[c] = 2.0f * IMAGENET_STD[c];
            b[c] = 2.0f * IMAGENET_MEAN[c] - 1.0f;
        }
    }
    n->k->upload(v->tgt_a, a, sizeof a);
    n->k->upload(v->tgt_b, b, sizeof b);
}

void vae_fwd(Net *n, Vae *v, int rows, const float *x) {
    VB_ASSERT(rows <= v->max_rows);
    const KOps *k = n->k;
    const ParamTable *pt = n->pt;
    const float *h = x;
    if (v->level == VAE_FEATURE) {
        for (int i = 0; i < v->nh; i++) {
            mlp_fwd(n, &v->enc[i], rows, h);
            h = v->enc[i].y;
        }
    } else {
        for (int i = 0; i < v->nh; i++) {
            KConv g = v->genc[i];
            g.n = rows;
            k->conv2d_fwd(&g, h, params_data(pt, v->w_enc[i]), params_data(pt, v->b_enc[i]),
                          v->ez[i], v->conv_ws);
            bn_fwd(n, &v->bn_enc[i], rows * g.oh * g.ow, v->ez[i], v->ea[i]);
            h = v->ea[i];
        }
        k->nhwc_to_nchw(rows, v->fs, v->fs, v->hidden[v->nh - 1], h, v->flat);
        h = v->flat;
    }
    lin_fwd(n, &v->fc_mu, rows, h, v->mu);
    lin_fwd(n, &v->fc_logvar, rows, h, v->logvar);
    size_t cnt = (size_t)rows * v->latent;
    if (n->train) {
        if (!n->external_noise) {
            RngStream s = rng_substream(n->dropout_rng, 2000u); /* the run's "vae" noise */
            k->fill_normal(s, n->step, cnt, v->eps);
        }
        k->reparam_fwd(cnt, v->mu, v->logvar, v->eps, v->z);
    } else {
        k->copy(v->z, v->mu, cnt * sizeof(float));
    }
    const float *d = v->z;
    if (v->level == VAE_FEATURE) {
        for (int i = 0; i < v->nh; i++) {
            mlp_fwd(n, &v->dec[i], rows, d);
            d = v->dec[i].y;
        }
        lin_fwd(n, &v->out, rows, d, v->recon);
        k->copy(v->target, x, (size_t)rows * v->in_dim * sizeof(float));
    } else {
        int c0 = v->hidden[v->nh - 1];
        lin_fwd(n, &v->dec_input, rows, v->z, v->dec_in);
        k->nchw_to_nhwc(rows, v->fs, v->fs, c0, v->dec_in, v->dec_in_nhwc);
        d = v->dec_in_nhwc;
        for (int i = 0; i < v->nh; i++) {
            KConv g = v->gdec[i];
            g.n = rows;
            k->convt2d_fwd(&g, d, params_data(pt, v->w_dec[i]), params_data(pt, v->b_dec[i]),
                           v->dz[i], v->conv_ws);
            size_t cnt_o = (size_t)rows * g.oh * g.ow * g.cout;
            if (i + 1 < v->nh) bn_fwd(n, &v->bn_dec[i], rows * g.oh * g.ow, v->dz[i], v->da[i]);
            else k->act_fwd(K_ACT_TANH, cnt_o, v->dz[i], v->recon);
            d = v->da[i];
        }
        k->chan_affine(rows * v->image * v->image, 3, v->tgt_a, v->tgt_b, x, v->target);
    }
    k->vae_terms(rows, v->in_dim, v->latent, v->recon, v->target, v->mu, v->logvar, v->mse, v->kl);
}

void vae_bwd(Net *n, Vae *v, int rows, const float *x, const float *wm, const float *wk) {
    const KOps *k = n->k;
    const ParamTable *pt = n->pt;
    size_t cnt = (size_t)rows * v->latent, nrec = (size_t)rows * v->in_dim;
    size_t mark = arena_mark(&n->scratch);
    float *dmu = arena_floats(&n->scratch, cnt), *dlv = arena_floats(&n->scratch, cnt);
    float *dz = arena_floats(&n->scratch, cnt);
    float *drec = arena_floats(&n->scratch, nrec);
    /* reconstruction gradient, and the KL part of dmu/dlogvar */
    k->zero(dmu, cnt * sizeof(float));
    k->zero(dlv, cnt * sizeof(float));
    k->vae_terms_bwd(rows, v->in_dim, v->latent, v->recon, v->target, v->mu, v->logvar, wm, wk,
                     drec, dmu, dlv);
    /* decoder: drec -> dz */
    if (v->level == VAE_FEATURE) {
        lin_bwd(n, &v->out, rows, v->dec[v->nh - 1].y, drec, v->g1);
        float *g = v->g1;
        for (int i = v->nh - 1; i >= 0; i--) {
            mlp_bwd(n, &v->dec[i], rows, i ? v->dec[i - 1].y : v->z, g);
            g = v->dec[i].dx;
        }
        k->copy(dz, g, cnt * sizeof(float));
    } else {
        k->copy(v->g0, drec, nrec * sizeof(float));
        float *g = v->g0, *other = v->g1;
        for (int i = v->nh - 1; i >= 0; i--) {
            KConv gd = v->gdec[i];
            gd.n = rows;
            size_t cnt_o = (size_t)rows * gd.oh * gd.ow * gd.cout;
            if (i + 1 < v->nh) bn_bwd(n, &v->bn_dec[i], rows * gd.oh * gd.ow, v->dz[i], g, g);
            else k->act_bwd(K_ACT_TANH, cnt_o, v->dz[i], g, g);
            const float *din = i ? v->da[i - 1] : v->dec_in_nhwc;
            k->convt2d_bwd(&gd, din, params_data(pt, v->w_dec[i]), g, other,
                           params_grad(pt, v->w_dec[i]), params_grad(pt, v->b_dec[i]), v->conv_ws);
            float *t = g;
            g = other, other = t;
        }
        k->nhwc_to_nchw(rows, v->fs, v->fs, v->hidden[v->nh - 1], g, v->dflat);
        lin_bwd(n, &v->dec_input, rows, v->z, v->dflat, dz);
    }
    /* through z: z = mu + eps*sigma in training, z = mu in evaluation */
    if (n->train) {
        float *dmu2 = arena_floats(&n->scratch, cnt), *dlv2 = arena_floats(&n->scratch, cnt);
        k->reparam_bwd(cnt, v->logvar, v->eps, dz, dmu2, dlv2);
        k->axpy(cnt, 1.0f, dmu2, dmu);
        k->axpy(cnt, 1.0f, dlv2, dlv);
    } else {
        k->axpy(cnt, 1.0f, dz, dmu);
    }
    /* heads: dmu, dlogvar -> dh */
    const float *h = v->level == VAE_FEATURE ? v->enc[v->nh - 1].y : v->flat;
    float *dh = v->level == VAE_FEATURE ? v->g1 : v->dflat;
    float *dh2 = arena_floats(&n->scratch, (size_t)rows * v->fc_mu.in);
    lin_bwd(n, &v->fc_mu, rows, h, dmu, dh);
    lin_bwd(n, &v->fc_logvar, rows, h, dlv, dh2);
    k->axpy((size_t)rows * v->fc_mu.in, 1.0f, dh2, dh);
    /* encoder */
    if (v->level == VAE_FEATURE) {
        float *g = dh;
        for (int i = v->nh - 1; i >= 0; i--) {
            mlp_bwd(n, &v->enc[i], rows, i ? v->enc[i - 1].y : x, g);
            g = v->enc[i].dx;
        }
        k->copy(v->dx, g, nrec * sizeof(float));
        if (!v->detach_target) /* d mse / d target = -d mse / d recon */
            k->axpy(nrec, -1.0f, drec, v->dx);
    } else {
        float *g = v->g0, *other = v->g1;
        k->nchw_to_nhwc(rows, v->fs, v->fs, v->hidden[v->nh - 1], dh, g);
        for (int i = v->nh - 1; i >= 0; i--) {
            KConv ge = v->genc[i];
            ge.n = rows;
            bn_bwd(n, &v->bn_enc[i], rows * ge.oh * ge.ow, v->ez[i], g, g);
            k->conv2d_bwd(&ge, i ? v->ea[i - 1] : x, params_data(pt, v->w_enc[i]), g,
                          i ? other : NULL, params_grad(pt, v->w_enc[i]),
                          params_grad(pt, v->b_enc[i]), v->conv_ws);
            float *t = g;
            g = other, other = t;
        }
    }
    arena_reset(&n->scratch, mark);
}
