/* efficientnet: EfficientNet-B0 forward and backward over the KOps table. */
#include "efficientnet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* (expand ratio, kernel, stride, out channels, repeats) per stage */
static const int B0_STAGES[7][5] = {{1, 3, 1, 16, 1}, {6, 3, 2, 24, 2},  {6, 5, 2, 40, 2},
                                    {6, 3, 2, 80, 3}, {6, 5, 1, 112, 3}, {6, 5, 2, 192, 4},
                                    {6, 3, 1, 320, 1}};

int effnet_round_channels(double v) {
    int r = (int)(v + 4.0) / 8 * 8;
    if (r < 8) r = 8;
    if (r < 0.9 * v) r += 8;
    return r;
}

/* torchvision initialises every backbone conv with kaiming_normal_(fan_out)
 * and zero biases. */
static int conv_param(ParamTable *pt, const char *name, int cout, int cin_g, int k) {
    int i = params_add(pt, name, PARAM_TRAIN, 4, cout, cin_g, k, k);
    params_set_init(pt, i, INIT_KAIMING_OUT, (double)cout * k * k);
    if (k == 1) params_set_packable(pt, i); /* 1x1 convs and SE are products with W^T */
    return i;
}

static void plan_conv_ws(Net *n, Backbone *b, size_t *ws, const KConv *g) {
    (void)b;
    size_t need = g->groups == g->cin && g->groups == g->cout ? 0 : n->k->conv2d_ws(g);
    if (need > *ws) *ws = need;
}

static void mbconv_make(MBConv *m, Net *n, Backbone *b, const char *prefix, int max_n, int h,
                        size_t *ws) {
    char name[PARAM_NAME_MAX];
    ParamTable *pt = n->pt;
    const EffNetConfig *c = &b->cfg;
    int ho = (h + 2 * (m->k / 2) - m->k) / m->stride + 1;
    size_t in_sz = (size_t)max_n * h * h, out_sz = (size_t)max_n * ho * ho;
    int idx = 0; /* index inside torchvision's block Sequential */
    if (m->expand) {
        m->g_expand = kconv_init(max_n, h, h, m->cin, m->ce, 1, 1, 0, 1);
        snprintf(name, sizeof name, "%s.block.%d.0.weight", prefix, idx);
        m->w_expand = conv_param(pt, name, m->ce, m->cin, 1);
        snprintf(name, sizeof name, "%s.block.%d.1", prefix, idx);
        bn_make_affine(&m->bn_expand, n, name, m->ce, K_ACT_SILU, c->bn_eps, c->bn_momentum,
                       c->bn_affine);
        plan_req(&n->plan, &m->e, in_sz * m->ce);
        plan_req(&n->plan, &m->ea, in_sz * m->ce);
        plan_conv_ws(n, b, ws, &m->g_expand);
        idx++;
    }
    m->g_dw = kconv_init(max_n, h, h, m->ce, m->ce, m->k, m->stride, m->k / 2, m->ce);
    snprintf(name, sizeof name, "%s.block.%d.0.weight", prefix, idx);
    m->w_dw = conv_param(pt, name, m->ce, 1, m->k);
    snprintf(name, sizeof name, "%s.block.%d.1", prefix, idx);
    bn_make_affine(&m->bn_dw, n, name, m->ce, K_ACT_SILU, c->bn_eps, c->bn_momentum, c->bn_affine);
    idx++;
    snprintf(name, sizeof name, "%s.block.%d.fc1.weight", prefix, idx);
    m->se_w1 = conv_param(pt, name, m->cr, m->ce, 1);
    snprintf(name, sizeof name, "%s.block.%d.fc1.bias", prefix, idx);
    m->se_b1 = params_add(pt, name, PARAM_TRAIN, 1, m->cr, 0, 0, 0); /* zero init */
    snprintf(name, sizeof name, "%s.block.%d.fc2.weight", prefix, idx);
    m->se_w2 = conv_param(pt, name, m->ce, m->cr, 1);
    snprintf(name, sizeof name, "%s.block.%d.fc2.bias", prefix, idx);
    m->se_b2 = params_add(pt, name, PARAM_TRAIN, 1, m->ce, 0, 0, 0);
    idx++;
    m->g_proj = kconv_init(max_n, ho, ho, m->ce, m->cout, 1, 1, 0, 1);
    snprintf(name, sizeof name, "%s.block.%d.0.weight", prefix, idx);
    m->w_proj = conv_param(pt, name, m->cout, m->ce, 1);
    snprintf(name, sizeof name, "%s.block.%d.1", prefix, idx);
    bn_make_affine(&m->bn_proj, n, name, m->cout, K_ACT_NONE, c->bn_eps, c->bn_momentum,
                   c->bn_affine);
    plan_conv_ws(n, b, ws, &m->g_proj);

    plan_req(&n->plan, &m->d, out_sz * m->ce);
    plan_req(&n->plan, &m->da, out_sz * m->ce);
    plan_req(&n->plan, &m->se_save, (size_t)max_n * (2 * m->ce + m->cr));
    plan_req(&n->plan, &m->p, out_sz * m->cout);
    plan_req(&n->plan, &m->out, out_sz * m->cout);
    plan_req(&n->plan, &m->sd_scale, (size_t)max_n);
    if (in_sz * m->cin > b->gbuf_n) b->gbuf_n = in_sz * m->cin;
    if (out_sz * m->cout > b->gbuf_n) b->gbuf_n = out_sz * m->cout;
    /* backward temporaries (see mbconv_bwd): t2, then t0 + t1 + ts + SE ws, whose
     * space t3 reuses; the forward's temporary (the SE output) fits in them */
    size_t early = out_sz * m->cout + 2 * out_sz * m->ce + (size_t)max_n * (m->ce + m->cr);
    size_t late = m->expand ? in_sz * m->ce : 0;
    net_need_scratch(n, out_sz * m->ce + (early > late ? early : late) + 6 * 16);
}

void effnet_make(Backbone *b, Net *n, const char *prefix, const EffNetConfig *cfg, int max_n,
                 int image) {
    char name[PARAM_NAME_MAX];
    memset(b, 0, sizeof *b);
    b->cfg = *cfg;
    b->max_n = max_n, b->image = image;
    size_t ws = 0;
    int total = 0;
    for (int s = 0; s < 7; s++) total += (int)ceil(B0_STAGES[s][4] * cfg->depth);
    b->nblocks = total;
    b->blocks = vb_xcalloc((size_t)total, sizeof *b->blocks);

    b->stem_c = effnet_round_channels(32 * cfg->width);
    b->g_stem = kconv_init(max_n, image, image, cfg->in_channels, b->stem_c, 3, 2, 1, 1);
    snprintf(name, sizeof name, "%s.0.0.weight", prefix);
    b->w_stem = conv_param(n->pt, name, b->stem_c, cfg->in_channels, 3);
    snprintf(name, sizeof name, "%s.0.1", prefix);
    bn_make_affine(&b->bn_stem, n, name, b->stem_c, K_ACT_SILU, cfg->bn_eps, cfg->bn_momentum,
                   cfg->bn_affine);
    size_t stem_sz = (size_t)max_n * b->g_stem.oh * b->g_stem.ow * b->stem_c;
    plan_req(&n->plan, &b->stem_z, stem_sz);
    plan_req(&n->plan, &b->stem_a, stem_sz);
    plan_conv_ws(n, b, &ws, &b->g_stem);
    b->gbuf_n = stem_sz;

    int h = b->g_stem.oh, cin = b->stem_c, bi = 0;
    for (int s = 0; s < 7; s++) {
        int reps = (int)ceil(B0_STAGES[s][4] * cfg->depth);
        int cout = effnet_round_channels(B0_STAGES[s][3] * cfg->width);
        for (int i = 0; i < reps; i++, bi++) {
            MBConv *m = &b->blocks[bi];
            m->index = bi;
            m->cin = cin, m->cout = cout;
            m->k = B0_STAGES[s][1];
            m->stride = i == 0 ? B0_STAGES[s][2] : 1;
            m->expand = B0_STAGES[s][0] != 1;
            m->ce = effnet_round_channels((double)cin * B0_STAGES[s][0]);
            if (!m->expand) m->ce = cin;
            m->cr = cin / 4 > 1 ? cin / 4 : 1;
            m->residual = m->stride == 1 && cin == cout;
            m->sd_prob = cfg->stochastic_depth * (float)bi / (float)total;
            char bp[PARAM_NAME_MAX];
            snprintf(bp, sizeof bp, "%s.%d.%d", prefix, s + 1, i);
            mbconv_make(m, n, b, bp, max_n, h, &ws);
            h = m->g_dw.oh;
            cin = cout;
        }
    }
    b->feat_dim = 4 * cin;
    b->head_c = b->feat_dim;
    b->g_head = kconv_init(max_n, h, h, cin, b->head_c, 1, 1, 0, 1);
    snprintf(name, sizeof name, "%s.8.0.weight", prefix);
    b->w_head = conv_param(n->pt, name, b->head_c, cin, 1);
    snprintf(name, sizeof name, "%s.8.1", prefix);
    bn_make_affine(&b->bn_head, n, name, b->head_c, K_ACT_SILU, cfg->bn_eps, cfg->bn_momentum,
                   cfg->bn_affine);
    plan_conv_ws(n, b, &ws, &b->g_head);
    b->out_hw = h * h;
    size_t head_sz = (size_t)max_n * h * h * b->head_c;
    plan_req(&n->plan, &b->head_z, head_sz);
    plan_req(&n->plan, &b->head_a, head_sz);
    plan_req(&n->plan, &b->feat, (size_t)max_n * b->feat_dim);
    if (head_sz > b->gbuf_n) b->gbuf_n = head_sz;
    plan_req(&n->plan, &b->gbuf[0], b->gbuf_n);
    plan_req(&n->plan, &b->gbuf[1], b->gbuf_n);
    plan_req(&n->plan, &b->conv_ws, ws ? ws : 1);
}

/* Any convolution of the backbone: depthwise ones go to the direct kernel. */
static void conv_fwd(Net *n, Backbone *b, KConv g, int nimg, int w, const float *x, float *y) {
    g.n = nimg;
    const float *wp = params_data(n->pt, w);
    if (g.groups > 1) n->k->dwconv2d_fwd(&g, x, wp, NULL, y);
    else n->k->conv2d_fwd(&g, x, wp, NULL, y, b->conv_ws);
}

static void conv_bwd(Net *n, Backbone *b, KConv g, int nimg, int w, const float *x, const float *dy,
                     float *dx) {
    g.n = nimg;
    const float *wp = params_data(n->pt, w);
    float *dw = params_grad(n->pt, w);
    if (g.groups > 1) n->k->dwconv2d_bwd(&g, x, wp, dy, dx, dw, NULL);
    else n->k->conv2d_bwd(&g, x, wp, dy, dx, dw, NULL, b->conv_ws);
}

static void mbconv_fwd(Net *n, Backbone *b, MBConv *m, int nimg, const float *x) {
    const ParamTable *pt = n->pt;
    int h = m->g_dw.h, ho = m->g_dw.oh;
    int in_rows = nimg * h * h, out_rows = nimg * ho * ho;
    /* Kept for the backward: e and ea (the expansion conv's output, before
     * and after BN+SiLU), d, da, p, out. A temporary the backward recomputes
     * instead: the SE output (a product with the saved gate; recomputing
     * ea would cost an exp and a division per element). */
    size_t mark = arena_mark(&n->scratch);
    if (m->expand) {
        conv_fwd(n, b, m->g_expand, nimg, m->w_expand, x, m->e);
        bn_fwd(n, &m->bn_expand, in_rows, m->e, m->ea);
        conv_fwd(n, b, m->g_dw, nimg, m->w_dw, m->ea, m->d);
    } else {
        conv_fwd(n, b, m->g_dw, nimg, m->w_dw, x, m->d);
    }
    bn_fwd(n, &m->bn_dw, out_rows, m->d, m->da);
    float *se_out = arena_floats(&n->scratch, (size_t)out_rows * m->ce);
    n->k->se_fwd(nimg, ho * ho, m->ce, m->cr, m->da, params_data(pt, m->se_w1),
                 params_data(pt, m->se_b1), params_data(pt, m->se_w2), params_data(pt, m->se_b2),
                 m->se_save, se_out);
    conv_fwd(n, b, m->g_proj, nimg, m->w_proj, se_out, m->p);
    arena_reset(&n->scratch, mark);
    bn_fwd(n, &m->bn_proj, out_rows, m->p, m->out);
    if (m->residual) {
        size_t cnt = (size_t)out_rows * m->cout;
        if (n->train && m->sd_prob > 0) {
            /* torchvision StochasticDepth(mode="row"): keep a sample's branch
             * with probability 1-p, scaled by 1/(1-p): a dropout mask over
             * the samples, drawn where the model runs (sub-streams past the
             * dropout sites: one per block) */
            RngStream s = rng_substream(n->dropout_rng, 1000u + (uint64_t)m->index);
            n->k->fill_dropout(s, n->step, (size_t)nimg, m->sd_prob, m->sd_scale);
            n->k->row_scale(nimg, ho * ho * m->cout, m->sd_scale, m->out, m->out);
        }
        n->k->axpy(cnt, 1.0f, x, m->out);
    }
}

/* dy [n,oh,ow,cout] → dx [n,h,w,cin] (overwrite); dy is preserved. */
static void mbconv_bwd(Net *n, Backbone *b, MBConv *m, int nimg, const float *x, const float *dy,
                       float *dx) {
    const ParamTable *pt = n->pt;
    int h = m->g_dw.h, ho = m->g_dw.oh;
    int in_rows = nimg * h * h, out_rows = nimg * ho * ho;
    size_t mark = arena_mark(&n->scratch);
    float *t2 = arena_floats(&n->scratch, (size_t)out_rows * m->ce);
    size_t early = arena_mark(&n->scratch); /* t0, t1, ts, sews: dead once t2 is done */
    float *t0 = arena_floats(&n->scratch, (size_t)out_rows * m->cout);
    float *t1 = arena_floats(&n->scratch, (size_t)out_rows * m->ce);
    float *ts = arena_floats(&n->scratch, (size_t)out_rows * m->ce);
    float *sews = arena_floats(&n->scratch, (size_t)nimg * (m->ce + m->cr));
    const float *dbranch = dy;
    if (m->residual && n->train && m->sd_prob > 0) {
        n->k->row_scale(nimg, ho * ho * m->cout, m->sd_scale, dy, t0);
        dbranch = t0;
    }
    bn_bwd(n, &m->bn_proj, out_rows, m->p, dbranch, t0);
    n->k->se_scale(nimg, ho * ho, m->ce, m->cr, m->da, m->se_save, ts);
    conv_bwd(n, b, m->g_proj, nimg, m->w_proj, ts, t0, t1);
    n->k->se_bwd(nimg, ho * ho, m->ce, m->cr, m->da, params_data(pt, m->se_w1),
                 params_data(pt, m->se_b1), params_data(pt, m->se_w2), params_data(pt, m->se_b2),
                 m->se_save, t1, t2, params_grad(pt, m->se_w1), params_grad(pt, m->se_b1),
                 params_grad(pt, m->se_w2), params_grad(pt, m->se_b2), sews);
    bn_bwd(n, &m->bn_dw, out_rows, m->d, t2, t2);
    if (m->expand) {
        arena_reset(&n->scratch, early);
        float *t3 = arena_floats(&n->scratch, (size_t)in_rows * m->ce);
        conv_bwd(n, b, m->g_dw, nimg, m->w_dw, m->ea, t2, t3);
        bn_bwd(n, &m->bn_expand, in_rows, m->e, t3, t3);
        conv_bwd(n, b, m->g_expand, nimg, m->w_expand, x, t3, dx);
    } else {
        conv_bwd(n, b, m->g_dw, nimg, m->w_dw, x, t2, dx);
    }
    if (m->residual) n->k->axpy((size_t)in_rows * m->cin, 1.0f, dy, dx);
    arena_reset(&n->scratch, mark);
}

void effnet_fwd(Net *n, Backbone *b, int nimg, const float *x) {
    VB_ASSERT(nimg <= b->max_n);
    int srows = nimg * b->g_stem.oh * b->g_stem.ow;
    conv_fwd(n, b, b->g_stem, nimg, b->w_stem, x, b->stem_z);
    bn_fwd(n, &b->bn_stem, srows, b->stem_z, b->stem_a);
    const float *cur = b->stem_a;
    for (int i = 0; i < b->nblocks; i++) {
        mbconv_fwd(n, b, &b->blocks[i], nimg, cur);
        cur = b->blocks[i].out;
    }
    conv_fwd(n, b, b->g_head, nimg, b->w_head, cur, b->head_z);
    bn_fwd(n, &b->bn_head, nimg * b->out_hw, b->head_z, b->head_a);
    n->k->gap_fwd(nimg, b->out_hw, b->head_c, b->head_a, b->feat);
}

void effnet_bwd(Net *n, Backbone *b, int nimg, const float *x, const float *dfeat) {
    float *g0 = b->gbuf[0], *g1 = b->gbuf[1];
    const float *last = b->blocks[b->nblocks - 1].out;
    n->k->gap_bwd(nimg, b->out_hw, b->head_c, dfeat, g0);
    bn_bwd(n, &b->bn_head, nimg * b->out_hw, b->head_z, g0, g0);
    conv_bwd(n, b, b->g_head, nimg, b->w_head, last, g0, g1);
    float *dy = g1, *dx = g0;
    for (int i = b->nblocks - 1; i >= 0; i--) {
        const float *in = i ? b->blocks[i - 1].out : b->stem_a;
        mbconv_bwd(n, b, &b->blocks[i], nimg, in, dy, dx);
        float *t = dy;
        dy = dx, dx = t;
    }
    int srows = nimg * b->g_stem.oh * b->g_stem.ow;
    bn_bwd(n, &b->bn_stem, srows, b->stem_z, dy, dy);
    conv_bwd(n, b, b->g_stem, nimg, b->w_stem, x, dy, NULL);
}

/* timm: conv_stem, bn1, blocks.S.I.{conv_pw,bn1,conv_dw,bn2,se.conv_reduce,
 * se.conv_expand,conv_pwl,bn3} (stage 0: conv_dw,bn1,se,conv_pw,bn2),
 * conv_head, bn2. */
bool effnet_timm_name(const Backbone *b, const char *t, char *out, size_t n) {
    int s, i, used = 0;
    char part[64], rest[64];
    if (sscanf(t, "conv_stem.%63s", rest) == 1)
        return snprintf(out, n, "features.0.0.%s", rest) > 0;
    if (sscanf(t, "conv_head.%63s", rest) == 1)
        return snprintf(out, n, "features.8.0.%s", rest) > 0;
    if (strncmp(t, "bn1.", 4) == 0) return snprintf(out, n, "features.0.1.%s", t + 4) > 0;
    if (strncmp(t, "bn2.", 4) == 0) return snprintf(out, n, "features.8.1.%s", t + 4) > 0;
    if (sscanf(t, "blocks.%d.%d.%n", &s, &i, &used) != 2 || used == 0) return false;
    const char *tail = t + used;
    /* find the block to know whether it has an expansion conv */
    int bi = 0, stage_start[8] = {0}, cnt[7];
    for (int k = 0; k < 7; k++) cnt[k] = (int)ceil(B0_STAGES[k][4] * b->cfg.depth);
    for (int k = 0; k < 7; k++) stage_start[k + 1] = stage_start[k] + cnt[k];
    if (s < 0 || s > 6 || i < 0 || i >= cnt[s]) return false;
    bi = stage_start[s] + i;
    bool expand = b->blocks[bi].expand;
    static const struct {
        const char *timm;
        int seq;
        const char *sub;
    } ex[] = {{"conv_pw.", 0, "0"},          {"bn1.", 0, "1"},
              {"conv_dw.", 1, "0"},          {"bn2.", 1, "1"},
              {"se.conv_reduce.", 2, "fc1"}, {"se.conv_expand.", 2, "fc2"},
              {"conv_pwl.", 3, "0"},         {"bn3.", 3, "1"}};
    static const struct {
        const char *timm;
        int seq;
        const char *sub;
    } noex[] = {{"conv_dw.", 0, "0"},          {"bn1.", 0, "1"},     {"se.conv_reduce.", 1, "fc1"},
                {"se.conv_expand.", 1, "fc2"}, {"conv_pw.", 2, "0"}, {"bn2.", 2, "1"}};
    int nmap = expand ? 8 : 6;
    for (int k = 0; k < nmap; k++) {
        const char *pre = expand ? ex[k].timm : noex[k].timm;
        size_t pl = strlen(pre);
        if (strncmp(tail, pre, pl) == 0) {
            snprintf(part, sizeof part, "%s", tail + pl);
            return snprintf(out, n, "features.%d.%d.block.%d.%s.%s", s + 1, i,
                            expand ? ex[k].seq : noex[k].seq, expand ? ex[k].sub : noex[k].sub,
                            part) > 0;
        }
    }
    return false;
}

void effnet_free(Backbone *b) {
    free(b->blocks);
    b->blocks = NULL;
}
