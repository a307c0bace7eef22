/* hybrid: composition of backbone, temporal encoder, heads and VAE. */
#include "hybrid.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *const hybrid_part_names[HPART_N] = {"backbone", "temporal", "heads", "svdd", "vae"};
const char *const backbone_kind_names[] = {"efficientnet_b0", NULL};
const char *const temporal_kind_names[] = {"lstm", "gru", "none", NULL};
const char *const vae_level_names[] = {"none", "feature", "image", NULL};
const char *const vae_target_names[] = {"rescaled", "normalized", NULL};

/* Timing mark i of a timed forward. */
static void part_mark(const Hybrid *m, int i) {
    if (m->time_parts) m->net.k->timer_mark(m->marks[i]);
}

void model_config_defaults(ModelConfig *c) {
    memset(c, 0, sizeof *c);
    c->backbone = BACKBONE_EFFICIENTNET_B0;
    c->width = 1.0, c->depth = 1.0;
    c->backbone_dropout = 0.5, c->stochastic_depth = 0.0;
    c->temporal = TEMPORAL_LSTM;
    c->hidden = 256, c->layers = 2, c->bidirectional = true, c->temporal_dropout = 0.5;
    c->feature_dim = 512, c->embedding_dim = 128, c->svdd_hidden = 256;
    c->head_dropout = 0.3;
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

VbStatus model_config_check(const ModelConfig *c) {
    if (c->backbone != BACKBONE_EFFICIENTNET_B0)
        return VB_FAIL(VB_ERR_INPUT, "model.backbone.name: unknown backbone %d", (int)c->backbone);
    if (!(c->width > 0 && c->width <= 4) || !(c->depth > 0 && c->depth <= 4))
        return VB_FAIL(VB_ERR_INPUT, "model.backbone width/depth must be in (0, 4]");
    if (c->image < 32 || c->image % 32 != 0)
        return VB_FAIL(VB_ERR_INPUT, "model.image: frame size %d must be a positive multiple of 32",
                       c->image);
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
        int feat = 4 * effnet_round_channels(320 * c->width);
        if (c->vae_latent < 1 || c->vae_latent >= feat)
            return VB_FAIL(VB_ERR_INPUT,
                           "model.vae.latent: %d must be between 1 and the backbone's feature "
                           "width %d (a latent larger than its input is not a bottleneck)",
                           c->vae_latent, feat);
    }
    if (c->vae_level == VAE_IMAGE) {
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
    EffNetConfig ec = {(float)cfg->width, (float)cfg->depth, (float)cfg->stochastic_depth, 1e-5f,
                       0.1f};
    effnet_make(&m->bb, n, "backbone.backbone.features", &ec, nimg, cfg->image);
    int F = m->bb.feat_dim;
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
    mlp_make(&m->proj, n, "projection", 0, m->tdim, cfg->feature_dim, hd, max_b);
    linear_make(&m->cls, &m->pt, "classifier", cfg->feature_dim, cfg->classes, true);
    linear_make(&m->bin, &m->pt, "binary_classifier", cfg->feature_dim, 2, true);
    m->center =
        params_add(&m->pt, "anomaly_head.center", PARAM_BUFFER, 1, cfg->embedding_dim, 0, 0, 0);
    mlp_make(&m->emb, n, "anomaly_head.embedding", 0, cfg->feature_dim, cfg->svdd_hidden, hd,
             max_b);
    linear_make(&m->emb_out, &m->pt, "anomaly_head.embedding.4", cfg->svdd_hidden,
                cfg->embedding_dim, true);
    plan_req(&n->plan, &m->cls_logits, (size_t)max_b * cfg->classes);
    plan_req(&n->plan, &m->bin_logits, (size_t)max_b * 2);
    plan_req(&n->plan, &m->emb_e, (size_t)max_b * cfg->embedding_dim);
    plan_req(&n->plan, &m->svdd_score, (size_t)max_b);
    plan_req(&n->plan, &m->g_cls, (size_t)max_b * cfg->classes);
    plan_req(&n->plan, &m->g_bin, (size_t)max_b * 2);
    plan_req(&n->plan, &m->g_svdd_w, (size_t)max_b);
    plan_req(&n->plan, &m->d_emb_e, (size_t)max_b * cfg->embedding_dim);
    plan_req(&n->plan, &m->d_emb, (size_t)max_b * cfg->svdd_hidden);
    plan_req(&n->plan, &m->d_proj, (size_t)max_b * cfg->feature_dim);
    plan_req(&n->plan, &m->d_proj2, (size_t)max_b * cfg->feature_dim);
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
    int nimg = b * t, F = m->bb.feat_dim, E = m->cfg.embedding_dim;
    part_mark(m, 0);
    effnet_fwd(n, &m->bb, nimg, x);
    k->group_mean_fwd(b, t, F, m->bb.feat, m->feat_mean);
    dropout_fwd(n, &m->feat_drop, (size_t)nimg * F, m->bb.feat, m->feat_d);
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
    mlp_fwd(n, &m->proj, b, tout);
    lin_fwd(n, &m->cls, b, m->proj.y, m->cls_logits);
    lin_fwd(n, &m->bin, b, m->proj.y, m->bin_logits);
    part_mark(m, 3);
    mlp_fwd(n, &m->emb, b, m->proj.y);
    lin_fwd(n, &m->emb_out, b, m->emb.y, m->emb_e);
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
    int nimg = b * t, F = m->bb.feat_dim, E = m->cfg.embedding_dim, P = m->cfg.feature_dim;
    /* heads */
    k->sqdist_bwd(b, E, m->emb_e, params_data(&m->pt, m->center), m->g_svdd_w, m->d_emb_e);
    lin_bwd(n, &m->emb_out, b, m->emb.y, m->d_emb_e, m->d_emb);
    mlp_bwd(n, &m->emb, b, m->proj.y, m->d_emb);
    lin_bwd(n, &m->cls, b, m->proj.y, m->g_cls, m->d_proj);
    lin_bwd(n, &m->bin, b, m->proj.y, m->g_bin, m->d_proj2);
    k->axpy((size_t)b * P, 1.0f, m->d_proj2, m->d_proj);
    k->axpy((size_t)b * P, 1.0f, m->emb.dx, m->d_proj);
    mlp_bwd(n, &m->proj, b, m->has_temporal ? m->tmp.out : m->tin, m->d_proj);
    /* temporal */
    if (m->has_temporal) {
        temporal_bwd(n, &m->tmp, b, t, m->feat_d, m->proj.dx);
        k->copy(m->d_feat, m->tmp.dx, (size_t)nimg * F * sizeof(float));
    } else {
        k->group_mean_bwd(b, t, F, m->proj.dx, m->d_feat);
    }
    /* VAE */
    if (m->has_vae) {
        const float *vin = m->vae.level == VAE_FEATURE ? m->feat_d : x;
        vae_bwd(n, &m->vae, nimg, vin, m->g_vae_wm, m->g_vae_wk);
        if (m->vae.level == VAE_FEATURE) k->axpy((size_t)nimg * F, 1.0f, m->vae.dx, m->d_feat);
    }
    dropout_bwd(n, &m->feat_drop, (size_t)nimg * F, m->d_feat, m->d_feat);
    effnet_bwd(n, &m->bb, nimg, x, m->d_feat);
}
