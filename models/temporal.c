/* temporal: stacked (bi)directional LSTM/GRU with attention pooling. */
#include "temporal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static KRnn rnn_desc(const Temporal *m, int l, int d, int b, int t) {
    int D = m->hidden * m->dirs;
    KRnn r = {b, t, l == 0 ? m->in : D, m->hidden, l == 0 ? m->in : D, D, d == 1};
    return r;
}

void temporal_make(Temporal *m, Net *n, const char *prefix, RnnType type, int in, int hidden,
                   int layers, bool bidirectional, float dropout, int max_b, int max_t) {
    char name[PARAM_NAME_MAX];
    memset(m, 0, sizeof *m);
    m->type = type, m->in = in, m->hidden = hidden, m->layers = layers;
    m->dirs = bidirectional ? 2 : 1;
    m->max_b = max_b, m->max_t = max_t, m->dropout = dropout;
    int D = hidden * m->dirs, G = type == RNN_LSTM ? 4 : 3;
    m->out_dim = D;
    m->dir = vb_xcalloc((size_t)layers * m->dirs, sizeof *m->dir);
    m->y = vb_xcalloc((size_t)layers, sizeof *m->y);
    m->yraw = vb_xcalloc((size_t)layers, sizeof *m->yraw);
    m->drop = vb_xcalloc((size_t)layers, sizeof *m->drop);
    size_t seq = (size_t)max_b * max_t;
    size_t ws = 0;
    for (int l = 0; l < layers; l++) {
        int lin = l == 0 ? in : D;
        for (int d = 0; d < m->dirs; d++) {
            RnnDir *rd = &m->dir[l * m->dirs + d];
            const char *suf = d ? "_reverse" : "";
            snprintf(name, sizeof name, "%s.rnn.weight_ih_l%d%s", prefix, l, suf);
            rd->w_ih = params_add(n->pt, name, PARAM_TRAIN, 2, G * hidden, lin, 0, 0);
            snprintf(name, sizeof name, "%s.rnn.weight_hh_l%d%s", prefix, l, suf);
            rd->w_hh = params_add(n->pt, name, PARAM_TRAIN, 2, G * hidden, hidden, 0, 0);
            params_set_packable(n->pt, rd->w_ih);
            params_set_packable(n->pt, rd->w_hh);
            snprintf(name, sizeof name, "%s.rnn.bias_ih_l%d%s", prefix, l, suf);
            rd->b_ih = params_add(n->pt, name, PARAM_TRAIN, 1, G * hidden, 0, 0, 0);
            snprintf(name, sizeof name, "%s.rnn.bias_hh_l%d%s", prefix, l, suf);
            rd->b_hh = params_add(n->pt, name, PARAM_TRAIN, 1, G * hidden, 0, 0, 0);
            /* PyTorch: every RNN tensor U(±1/sqrt(hidden)) */
            params_set_init(n->pt, rd->w_ih, INIT_UNIFORM, hidden);
            params_set_init(n->pt, rd->w_hh, INIT_UNIFORM, hidden);
            params_set_init(n->pt, rd->b_ih, INIT_UNIFORM, hidden);
            params_set_init(n->pt, rd->b_hh, INIT_UNIFORM, hidden);
            KRnn r = rnn_desc(m, l, d, max_b, max_t);
            size_t sv = type == RNN_LSTM ? n->k->lstm_save(&r) : n->k->gru_save(&r);
            size_t w = type == RNN_LSTM ? n->k->lstm_ws(&r) : n->k->gru_ws(&r);
            if (w > ws) ws = w;
            plan_req(&n->plan, &rd->save, sv);
        }
        plan_req(&n->plan, &m->yraw[l], seq * D);
        if (l < layers - 1 && dropout > 0) {
            snprintf(name, sizeof name, "%s.rnn.dropout_l%d", prefix, l);
            dropout_make(&m->drop[l], n, name, dropout, seq * D);
            plan_req(&n->plan, &m->y[l], seq * D);
        }
    }
    plan_req(&n->plan, &m->rnn_ws, ws ? ws : 1);
    Linear a1, a2;
    snprintf(name, sizeof name, "%s.attention.0", prefix);
    linear_make(&a1, n->pt, name, D, hidden, true);
    snprintf(name, sizeof name, "%s.attention.2", prefix);
    linear_make(&a2, n->pt, name, hidden, 1, true);
    m->a_w1 = a1.w, m->a_b1 = a1.b, m->a_w2 = a2.w, m->a_b2 = a2.b;
    plan_req(&n->plan, &m->attn_save, seq * (size_t)(hidden + 1));
    plan_req(&n->plan, &m->out, (size_t)max_b * D);
    plan_req(&n->plan, &m->gy[0], seq * D);
    plan_req(&n->plan, &m->gy[1], seq * D);
    plan_req(&n->plan, &m->dx, seq * (size_t)in);
    /* attention ws, or one direction's input gradient */
    net_need_scratch(
        n, seq * (size_t)(hidden + 1 > (in > D ? in : D) ? hidden + 1 : (in > D ? in : D)) + 64);
}

/* Output of layer l as the next layer sees it. */
static const float *layer_out(const Temporal *m, int l) {
    return (l < m->layers - 1 && m->y[l]) ? m->y[l] : m->yraw[l];
}

void temporal_fwd(Net *n, Temporal *m, int b, int t, const float *x) {
    VB_ASSERT(b <= m->max_b && t <= m->max_t);
    const ParamTable *pt = n->pt;
    int D = m->out_dim;
    const float *in = x;
    for (int l = 0; l < m->layers; l++) {
        for (int d = 0; d < m->dirs; d++) {
            RnnDir *rd = &m->dir[l * m->dirs + d];
            KRnn r = rnn_desc(m, l, d, b, t);
            float *y = m->yraw[l] + d * m->hidden;
            if (m->type == RNN_LSTM)
                n->k->lstm_fwd(&r, in, params_data(pt, rd->w_ih), params_data(pt, rd->w_hh),
                               params_data(pt, rd->b_ih), params_data(pt, rd->b_hh), y, rd->save,
                               m->rnn_ws);
            else
                n->k->gru_fwd(&r, in, params_data(pt, rd->w_ih), params_data(pt, rd->w_hh),
                              params_data(pt, rd->b_ih), params_data(pt, rd->b_hh), y, rd->save,
                              m->rnn_ws);
        }
        if (l < m->layers - 1 && m->y[l])
            dropout_fwd(n, &m->drop[l], (size_t)b * t * D, m->yraw[l], m->y[l]);
        in = layer_out(m, l);
    }
    n->k->attn_fwd(b, t, D, m->hidden, m->yraw[m->layers - 1], params_data(pt, m->a_w1),
                   params_data(pt, m->a_b1), params_data(pt, m->a_w2), params_data(pt, m->a_b2),
                   m->attn_save, m->out);
}

void temporal_bwd(Net *n, Temporal *m, int b, int t, const float *x, const float *dout) {
    const ParamTable *pt = n->pt;
    int D = m->out_dim;
    size_t mark = arena_mark(&n->scratch);
    float *aws = arena_floats(&n->scratch, (size_t)b * t * (m->hidden + 1));
    float *gy = m->gy[0], *gx = m->gy[1];
    n->k->attn_bwd(b, t, D, m->hidden, m->yraw[m->layers - 1], params_data(pt, m->a_w1),
                   params_data(pt, m->a_w2), m->attn_save, dout, gy, params_grad(pt, m->a_w1),
                   params_grad(pt, m->a_b1), params_grad(pt, m->a_w2), params_grad(pt, m->a_b2),
                   aws);
    arena_reset(&n->scratch, mark);
    for (int l = m->layers - 1; l >= 0; l--) {
        const float *in = l == 0 ? x : layer_out(m, l - 1);
        float *dxl = l == 0 ? m->dx : gx;
        for (int d = 0; d < m->dirs; d++) {
            RnnDir *rd = &m->dir[l * m->dirs + d];
            KRnn r = rnn_desc(m, l, d, b, t);
            const float *y = m->yraw[l] + d * m->hidden;
            const float *dy = gy + d * m->hidden;
            /* the second direction's input gradient adds to the first's */
            float *dxd = dxl;
            size_t nx = (size_t)b * t * r.in;
            float *tmp = NULL;
            if (d == 1) {
                mark = arena_mark(&n->scratch);
                tmp = arena_floats(&n->scratch, nx);
                dxd = tmp;
            }
            if (m->type == RNN_LSTM)
                n->k->lstm_bwd(&r, in, params_data(pt, rd->w_ih), params_data(pt, rd->w_hh), y,
                               rd->save, dy, dxd, params_grad(pt, rd->w_ih),
                               params_grad(pt, rd->w_hh), params_grad(pt, rd->b_ih),
                               params_grad(pt, rd->b_hh), m->rnn_ws);
            else
                n->k->gru_bwd(&r, in, params_data(pt, rd->w_ih), params_data(pt, rd->w_hh), y,
                              rd->save, dy, dxd, params_grad(pt, rd->w_ih),
                              params_grad(pt, rd->w_hh), params_grad(pt, rd->b_ih),
                              params_grad(pt, rd->b_hh), m->rnn_ws);
            if (tmp) {
                n->k->axpy(nx, 1.0f, tmp, dxl);
                arena_reset(&n->scratch, mark);
            }
        }
        if (l > 0) {
            if (m->y[l - 1]) dropout_bwd(n, &m->drop[l - 1], (size_t)b * t * D, gx, gx);
            float *tt = gy;
            gy = gx, gx = tt;
        }
    }
}

void temporal_free(Temporal *m) {
    free(m->dir), free(m->y), free(m->yraw), free(m->drop);
    m->dir = NULL, m->y = NULL, m->yraw = NULL, m->drop = NULL;
}
