/* hybrid: composition of backbone, temporal encoder, heads and VAE. */
#include "hybrid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *const hybrid_part_names[HPART_N] = {"backbone", "temporal", "heads", "svdd", "vae"};
const char *const backbone_kind_names[] = {"efficientnet_b0", "lenet", NULL};
const char *const temporal_kind_names[] = {"lstm", "gru", "none", NULL};
const char *const vae_level_names[] = {"none", "feature", "image", NULL};
const char *const vae_target_names[] = {"rescaled", "normalized", NULL};
const char *const svdd_head_names[] = {"mlp", "linear", "none", NULL};

/* Timing mark i of a timed forward. */
static void part_mark(const Hybrid *m, int i) {
    if (m->time_parts) m->net.k->timer_mark(m->marks[i]);
}

void model_config_defaults(ModelConfig *c) {
    memset(c, 0, sizeof *c);
    c->backbone = BACKBONE_EFFICIENTNET_B0;
    c->width = 1.0, c->depth = 1.0;
    c->backbone_dropout = 0.5, c->stochastic_depth = 0.0;
    c->backbone_bn_affine = true;
    LeNetConfig lr;
    lenet_config_ruff(&lr);
    c->lenet_nconv = lr.nconv;
    for (int i = 0; i < lr.nconv; i++) c->lenet_channels[i] = lr.channels[i];
    c->lenet_kernel = lr.kernel, c->lenet_hidden = lr.hidden, c->lenet_out = lr.out;
    c->lenet_bias = lr.bias, c->lenet_bn_affine = lr.bn_affine;
    c->lenet_bn_eps = 1e-4, c->lenet_slope = 0.01;
    c->channels = 3;
    c->temporal = TEMPORAL_LSTM;
    c->hidden = 256, c->layers = 2, c->bidirectional = true, c->temporal_dropout = 0.5;
    c->feature_dim = 512, c->embedding_dim = 128, c->svdd_hidden = 256;
    c->head_dropout = 0.3;
    c->projection = true;
    c->svdd_head = SVDD_HEAD_MLP;
    c->head_bias = true, c->head_bn_affine = true;
    c->classes = 14;
    c->image = 64;
    c->vae_level = VAE_NONE;
    c->vae_latent = 128;
    c->vae_nhidden = 2, c->vae_hidden[0] = 512, c->vae_hidden[1] = 256;
    c->vae_nchannels = 4;
    c->vae_channels[0] = 32, c->vae_channels[1] = 64, c->vae_channels[2] = 128,
    c->vae_channels[3] = 256;
    c->vae_dropout = 0.2;
    c->vae_target = VAE_TARGET_RESCALED;
    c->vae_detach_target = true;
}

static bool is_pow2_multiple(int image, int levels) {
    return image > 0 && image % (1 << levels) == 0;
}

void model_lenet_config(const ModelConfig *c, LeNetConfig *out) {
    memset(out, 0, sizeof *out);
    out->nconv = c->lenet_nconv;
    for (int i = 0; i < c->lenet_nconv && i < LENET_MAX_CONV; i++)
        out->channels[i] = c->lenet_channels[i];
    out->kernel = c->lenet_kernel, out->hidden = c->lenet_hidden, out->out = c->lenet_out;
    out->bias = c->lenet_bias, out->bn_affine = c->lenet_bn_affine;
    out->bn_eps = (float)c->lenet_bn_eps, out->bn_momentum = 0.1f,
    out->slope = (float)c->lenet_slope;
    out->in_channels = c->channels, out->image = c->image;
}

int model_feature_width(const ModelConfig *c) {
    if (c->backbone == BACKBONE_LENET) return c->lenet_out;
    return 4 * effnet_round_channels(320 * c->width);
}

static VbStatus lenet_check(const ModelConfig *c) {
    if (c->lenet_nconv < 1 || c->lenet_nconv > LENET_MAX_CONV)
        return VB_FAIL(VB_ERR_INPUT, "model.lenet.channels: 1 to %d conv levels", LENET_MAX_CONV);
    if (c->lenet_kernel < 1 || c->lenet_kernel % 2 == 0)
        return VB_FAIL(VB_ERR_INPUT,
                       "model.lenet.kernel: %d must be odd (padding k/2 keeps the size)",
                       c->lenet_kernel);
    if (c->image < (1 << c->lenet_nconv))
        return VB_FAIL(VB_ERR_INPUT,
                       "model.image: %d pixels cannot be pooled %d times by 2 (LeNet needs at "
                       "least %d)",
                       c->image, c->lenet_nconv, 1 << c->lenet_nconv);
    if (c->lenet_out < 1 || c->lenet_hidden < 0)
        return VB_FAIL(VB_ERR_INPUT, "model.lenet: out must be >= 1 and hidden >= 0");
    if (!(c->lenet_bn_eps > 0) || !(c->lenet_slope >= 0))
        return VB_FAIL(VB_ERR_INPUT, "model.lenet: bn_eps must be > 0 and leaky_slope >= 0");
    return VB_OK;
}

VbStatus model_config_check(const ModelConfig *c) {
    if ((unsigned)c->backbone > BACKBONE_LENET)
        return VB_FAIL(VB_ERR_INPUT, "model.backbone.name: unknown backbone %d", (int)c->backbone);
    if (!(c->width > 0 && c->width <= 4) || !(c->depth > 0 && c->depth <= 4))
        return VB_FAIL(VB_ERR_INPUT, "model.backbone width/depth must be in (0, 4]");
    if (c->channels < 1 || c->channels > 4)
        return VB_FAIL(VB_ERR_INPUT, "model.channels: %d must be between 1 and 4", c->channels);
    if (c->backbone == BACKBONE_EFFICIENTNET_B0 && (c->image < 32 || c->image % 32 != 0))
        return VB_FAIL(VB_ERR_INPUT,
                       "model.image: frame size %d must be a positive multiple of 32 for the "
                       "EfficientNet backbone",
                       c->image);
    if (c->backbone == BACKBONE_LENET) VB_TRY(lenet_check(c));
    if ((unsigned)c->svdd_head > SVDD_HEAD_NONE)
        return VB_FAIL(VB_ERR_INPUT, "model.svdd_head: unknown kind %d", (int)c->svdd_head);
    if ((unsigned)c->temporal > TEMPORAL_NONE)
        return VB_FAIL(VB_ERR_INPUT, "model.temporal.type: unknown kind %d", (int)c->temporal);
    if (c->temporal != TEMPORAL_NONE && (c->hidden < 1 || c->layers < 1))
        return VB_FAIL(VB_ERR_INPUT, "model.temporal: hidden and layers must be >= 1");
    if (c->classes < 2) return VB_FAIL(VB_ERR_INPUT, "model.classes must be >= 2");
    if (c->feature_dim < 1 || c->embedding_dim < 1 || c->svdd_hidden < 1)
        return VB_FAIL(VB_ERR_INPUT,
                       "model: feature_dim, embedding_dim and svdd_hidden must be >= 1");
    const double *ps[] = {&c->backbone_dropout, &c->stochastic_depth, &c->temporal_dropout,
                          &c->head_dropout, &c->vae_dropout};
    for (int i = 0; i < 5; i++)
        if (!(*ps[i] >= 0 && *ps[i] < 1))
            return VB_FAIL(VB_ERR_INPUT, "model: dropout probabilities must be in [0, 1)");
    if ((unsigned)c->vae_level > VAE_IMAGE)
        return VB_FAIL(VB_ERR_INPUT, "model.vae.level: unknown level %d", (int)c->vae_level);
    if ((unsigned)c->vae_target > VAE_TARGET_NORMALIZED)
        return VB_FAIL(VB_ERR_INPUT, "model.vae.target: unknown target %d", (int)c->vae_target);
    if (c->vae_level == VAE_FEATURE) {
        if (c->vae_nhidden < 1 || c->vae_nhidden > VAE_MAX_HIDDEN)
            return VB_FAIL(VB_ERR_INPUT, "model.vae.hidden: 1 to %d sizes", VAE_MAX_HIDDEN);
        int feat = model_feature_width(c);
        if (c->vae_latent < 1 || c->vae_latent >= feat)
            return VB_FAIL(VB_ERR_INPUT,
                           "model.vae.latent: %d must be between 1 and the backbone's feature "
                           "width %d (a latent larger than its input is not a bottleneck)",
                           c->vae_latent, feat);
    }
    if (c->vae_level == VAE_IMAGE) {
        if (c->channels != 3)
            return VB_FAIL(VB_ERR_INPUT, "model.vae.level image needs model.channels 3 (RGB "
                                         "frames, ImageNet statistics)");
        if (c->vae_nchannels != 4)
            return VB_FAIL(VB_ERR_INPUT, "model.vae.channels: the image VAE has exactly 4 levels");
        if (!is_pow2_multiple(c->image, 4))
            return VB_FAIL(VB_ERR_INPUT, "model.image must be a multiple of 16 for the image VAE");
        int fs = c->image / 16, flat = c->vae_channels[3] * fs * fs;
        if (c->vae_latent < 1 || c->vae_latent >= flat)
            return VB_FAIL(VB_ERR_INPUT,
                           "model.vae.latent: %d must be below the flattened encoder size %d",
                           c->vae_latent, flat);
    }
    return VB_OK;
}

VbStatus hybrid_build(Hybrid *m, const ModelConfig *cfg, const KOps *k, int max_b, int max_t) {
    VB_TRY(model_config_check(cfg));
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    m->max_b = max_b, m->max_t = max_t;
    params_init(&m->pt);
    net_init(&m->net, k, &m->pt);
    Net *n = &m->net;
    int nimg = max_b * max_t;
    int F;
    if (cfg->backbone == BACKBONE_LENET) {
        LeNetConfig lc;
        model_lenet_config(cfg, &lc);
        lenet_make(&m->ln, n, "backbone.lenet", &lc, nimg);
        F = m->ln.feat_dim;
    } else {
        EffNetConfig ec = {
            (float)cfg->width,       (float)cfg->depth, (float)cfg->stochastic_depth, 1e-5f, 0.1f,
            cfg->backbone_bn_affine, cfg->channels};
        effnet_make(&m->bb, n, "backbone.backbone.features", &ec, nimg, cfg->image);
        F = m->bb.feat_dim;
    }
    m->feat_dim = F;
    dropout_make(&m->feat_drop, n, "backbone.dropout", (float)cfg->backbone_dropout,
                 (size_t)nimg * F);
    plan_req(&n->plan, &m->feat_mean, (size_t)max_b * F);
    plan_req(&n->plan, &m->feat_d, (size_t)nimg * F);
    plan_req(&n->plan, &m->d_feat, (size_t)nimg * F);
    m->has_temporal = cfg->temporal != TEMPORAL_NONE;
    if (m->has_temporal) {
        temporal_make(&m->tmp, n, "temporal_encoder",
                      cfg->temporal == TEMPORAL_GRU ? RNN_GRU : RNN_LSTM, F, cfg->hidden,
                      cfg->layers, cfg->bidirectional, (float)cfg->temporal_dropout, max_b, max_t);
        m->tdim = m->tmp.out_dim;
    } else {
        m->tdim = F;
        plan_req(&n->plan, &m->tin, (size_t)max_b * F);
    }
    plan_req(&n->plan, &m->d_tin, (size_t)max_b * m->tdim);
    float hd = (float)cfg->head_dropout;
    bool hb = cfg->head_bias, ha = cfg->head_bn_affine;
    if (cfg->projection)
        mlp_make_opts(&m->proj, n, "projection", 0, m->tdim, cfg->feature_dim, hd, max_b, hb, ha);
    int P = m->proj_dim = cfg->projection ? cfg->feature_dim : m->tdim;
    linear_make(&m->cls, &m->pt, "classifier", P, cfg->classes, true);
    linear_make(&m->bin, &m->pt, "binary_classifier", P, 2, true);
    int E = m->emb_dim = cfg->svdd_head == SVDD_HEAD_NONE ? P : cfg->embedding_dim;
    m->center = params_add(&m->pt, "anomaly_head.center", PARAM_BUFFER, 1, E, 0, 0, 0);
    if (cfg->svdd_head == SVDD_HEAD_MLP) {
        mlp_make_opts(&m->emb, n, "anomaly_head.embedding", 0, P, cfg->svdd_hidden, hd, max_b, hb,
                      ha);
        linear_make(&m->emb_out, &m->pt, "anomaly_head.embedding.4", cfg->svdd_hidden, E, hb);
        plan_req(&n->plan, &m->d_emb, (size_t)max_b * cfg->svdd_hidden);
    } else if (cfg->svdd_head == SVDD_HEAD_LINEAR) {
        linear_make(&m->emb_out, &m->pt, "anomaly_head.embedding.0", P, E, hb);
        plan_req(&n->plan, &m->d_head, (size_t)max_b * P);
    }
    plan_req(&n->plan, &m->cls_logits, (size_t)max_b * cfg->classes);
    plan_req(&n->plan, &m->bin_logits, (size_t)max_b * 2);
    if (cfg->svdd_head != SVDD_HEAD_NONE) plan_req(&n->plan, &m->emb_e, (size_t)max_b * E);
    plan_req(&n->plan, &m->svdd_score, (size_t)max_b);
    plan_req(&n->plan, &m->g_cls, (size_t)max_b * cfg->classes);
    plan_req(&n->plan, &m->g_bin, (size_t)max_b * 2);
    plan_req(&n->plan, &m->g_svdd_w, (size_t)max_b);
    plan_req(&n->plan, &m->d_emb_e, (size_t)max_b * E);
    plan_req(&n->plan, &m->d_proj, (size_t)max_b * P);
    plan_req(&n->plan, &m->d_proj2, (size_t)max_b * P);
    m->has_vae = cfg->vae_level != VAE_NONE;
    if (m->has_vae) {
        bool image = cfg->vae_level == VAE_IMAGE;
        vae_make(&m->vae, n, image ? VAE_IMAGE : VAE_FEATURE, F, cfg->image, cfg->vae_latent,
                 image ? cfg->vae_nchannels : cfg->vae_nhidden,
                 image ? cfg->vae_channels : cfg->vae_hidden, (float)cfg->vae_dropout,
                 cfg->vae_target == VAE_TARGET_NORMALIZED, cfg->vae_detach_target, nimg);
    }
    plan_req(&n->plan, &m->g_vae_wm, (size_t)nimg);
    plan_req(&n->plan, &m->g_vae_wk, (size_t)nimg);
    VbStatus s = net_commit(n);
    for (int i = 0; i <= HPART_N && s == VB_OK; i++)
        if (!(m->marks[i] = k->timer_new()))
            s = VB_FAIL(VB_ERR_BACKEND, "cannot create timing marks on backend %s", k->name);
    if (s != VB_OK) {
        hybrid_free(m);
        return s;
    }
    m->bfeat = cfg->backbone == BACKBONE_LENET ? m->ln.feat : m->bb.feat;
    float *tout = m->has_temporal ? m->tmp.out : m->tin;
    m->proj_out = cfg->projection ? m->proj.y : tout;
    if (cfg->svdd_head == SVDD_HEAD_NONE) m->emb_e = m->proj_out;
    if (m->has_vae) vae_init_constants(n, &m->vae);
    return VB_OK;
}

void hybrid_free(Hybrid *m) {
    for (int i = 0; i <= HPART_N; i++)
        if (m->marks[i]) m->net.k->timer_free(m->marks[i]);
    effnet_free(&m->bb);
    temporal_free(&m->tmp);
    net_free(&m->net);
    params_free(&m->pt);
    memset(m, 0, sizeof *m);
}

void hybrid_init(Hybrid *m, uint64_t seed) { params_init_values(&m->pt, seed); }

void hybrid_set_train(Hybrid *m, bool train) {
    m->net.train = train;
    hybrid_weights_changed(m);
}

void hybrid_weights_changed(Hybrid *m) {
    if (m->net.train) {
        params_unpack(&m->pt); /* training changes the weights every step */
        return;
    }
    /* evaluation: the weights stay fixed, pack them once for every forward;
     * without memory for the copies the ops pack per call (same bits) */
    if (params_pack(&m->pt) != VB_OK) vb_clear_error();
}

void hybrid_forward(Hybrid *m, int b, int t, const float *x) {
    VB_ASSERT(b <= m->max_b && t <= m->max_t && b >= 1 && t >= 1);
    Net *n = &m->net;
    const KOps *k = n->k;
    int nimg = b * t, F = m->feat_dim, E = m->emb_dim;
    part_mark(m, 0);
    if (m->cfg.backbone == BACKBONE_LENET) lenet_fwd(n, &m->ln, nimg, x);
    else effnet_fwd(n, &m->bb, nimg, x);
    k->group_mean_fwd(b, t, F, m->bfeat, m->feat_mean);
    dropout_fwd(n, &m->feat_drop, (size_t)nimg * F, m->bfeat, m->feat_d);
    part_mark(m, 1);
    const float *tout;
    if (m->has_temporal) {
        temporal_fwd(n, &m->tmp, b, t, m->feat_d);
        tout = m->tmp.out;
    } else {
        k->group_mean_fwd(b, t, F, m->feat_d, m->tin);
        tout = m->tin;
    }
    part_mark(m, 2);
    if (m->cfg.projection) mlp_fwd(n, &m->proj, b, tout);
    lin_fwd(n, &m->cls, b, m->proj_out, m->cls_logits);
    lin_fwd(n, &m->bin, b, m->proj_out, m->bin_logits);
    part_mark(m, 3);
    if (m->cfg.svdd_head == SVDD_HEAD_MLP) {
        mlp_fwd(n, &m->emb, b, m->proj_out);
        lin_fwd(n, &m->emb_out, b, m->emb.y, m->emb_e);
    } else if (m->cfg.svdd_head == SVDD_HEAD_LINEAR) {
        lin_fwd(n, &m->emb_out, b, m->proj_out, m->emb_e);
    }
    k->sqdist_fwd(b, E, m->emb_e, params_data(&m->pt, m->center), m->svdd_score);
    part_mark(m, 4);
    if (m->has_vae) vae_fwd(n, &m->vae, nimg, m->vae.level == VAE_FEATURE ? m->feat_d : x);
    part_mark(m, 5);
    if (m->time_parts) {
        /* the order of HybridPart is the order of the marks */
        for (int i = 0; i < HPART_N; i++) m->part_ms[i] = k->timer_ms(m->marks[i], m->marks[i + 1]);
        m->forward_ms = k->timer_ms(m->marks[0], m->marks[HPART_N]);
    }
}

void hybrid_backward(Hybrid *m, int b, int t, const float *x) {
    Net *n = &m->net;
    const KOps *k = n->k;
    int nimg = b * t, F = m->feat_dim, E = m->emb_dim, P = m->proj_dim;
    /* heads */
    k->sqdist_bwd(b, E, m->emb_e, params_data(&m->pt, m->center), m->g_svdd_w, m->d_emb_e);
    const float *d_head = m->d_emb_e; /* svdd_head none: the embedding is proj_out */
    if (m->cfg.svdd_head == SVDD_HEAD_MLP) {
        lin_bwd(n, &m->emb_out, b, m->emb.y, m->d_emb_e, m->d_emb);
        mlp_bwd(n, &m->emb, b, m->proj_out, m->d_emb);
        d_head = m->emb.dx;
    } else if (m->cfg.svdd_head == SVDD_HEAD_LINEAR) {
        lin_bwd(n, &m->emb_out, b, m->proj_out, m->d_emb_e, m->d_head);
        d_head = m->d_head;
    }
    lin_bwd(n, &m->cls, b, m->proj_out, m->g_cls, m->d_proj);
    lin_bwd(n, &m->bin, b, m->proj_out, m->g_bin, m->d_proj2);
    k->axpy((size_t)b * P, 1.0f, m->d_proj2, m->d_proj);
    k->axpy((size_t)b * P, 1.0f, d_head, m->d_proj);
    const float *d_tout = m->d_proj;
    if (m->cfg.projection) {
        mlp_bwd(n, &m->proj, b, m->has_temporal ? m->tmp.out : m->tin, m->d_proj);
        d_tout = m->proj.dx;
    }
    /* temporal */
    if (m->has_temporal) {
        temporal_bwd(n, &m->tmp, b, t, m->feat_d, d_tout);
        k->copy(m->d_feat, m->tmp.dx, (size_t)nimg * F * sizeof(float));
    } else {
        k->group_mean_bwd(b, t, F, d_tout, m->d_feat);
    }
    /* VAE */
    if (m->has_vae) {
        const float *vin = m->vae.level == VAE_FEATURE ? m->feat_d : x;
        vae_bwd(n, &m->vae, nimg, vin, m->g_vae_wm, m->g_vae_wk);
        if (m->vae.level == VAE_FEATURE) k->axpy((size_t)nimg * F, 1.0f, m->vae.dx, m->d_feat);
    }
    dropout_bwd(n, &m->feat_drop, (size_t)nimg * F, m->d_feat, m->d_feat);
    if (m->cfg.backbone == BACKBONE_LENET) lenet_bwd(n, &m->ln, nimg, x, m->d_feat);
    else effnet_bwd(n, &m->bb, nimg, x, m->d_feat);
}
