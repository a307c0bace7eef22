/* lenet_ae: Ruff's LeNet autoencoder forward, backward and encoder transfer
 * (see lenet_ae.h). */
#include "lenet_ae.h"

#include <stdio.h>
#include <string.h>

VbStatus lenet_ae_check(const LeNetConfig *c) {
    if (c->nconv != 2 || c->kernel != 5 || c->image != 28 || c->hidden <= 0 || c->hidden % 16 != 0)
        return VB_FAIL(VB_ERR_INPUT,
                       "train.pretrain: the autoencoder is Ruff's Fashion-MNIST decoder, defined "
                       "for model.lenet with 2 conv levels, kernel 5, hidden a positive multiple "
                       "of 16 and model.image 28 (got %d levels, kernel %d, hidden %d, image %d)",
                       c->nconv, c->kernel, c->hidden, c->image);
    return VB_OK;
}

static int deconv(LeNetAe *a, const char *name, int cin, int cout, bool bias, int *b) {
    char nm[PARAM_NAME_MAX];
    snprintf(nm, sizeof nm, "decoder.%s.weight", name);
    int w = params_add(&a->pt, nm, PARAM_TRAIN, 4, cin, cout, 5, 5);
    /* PyTorch's ConvTranspose2d default: U(±1/sqrt(fan_in)), fan_in = weight.size(1)·k·k */
    params_set_init(&a->pt, w, INIT_UNIFORM, (double)cout * 25);
    *b = -1;
    if (bias) {
        snprintf(nm, sizeof nm, "decoder.%s.bias", name);
        *b = params_add(&a->pt, nm, PARAM_TRAIN, 1, cout, 0, 0, 0);
        params_set_init(&a->pt, *b, INIT_UNIFORM, (double)cout * 25);
    }
    return w;
}

VbStatus lenet_ae_build(LeNetAe *a, const LeNetConfig *c, const KOps *k, int max_n) {
    VB_TRY(lenet_ae_check(c));
    memset(a, 0, sizeof *a);
    a->max_n = max_n, a->hidden = c->hidden, a->c0 = c->hidden / 16;
    params_init(&a->pt);
    net_init(&a->net, k, &a->pt);
    Net *n = &a->net;
    lenet_make(&a->enc, n, "encoder", c, max_n);
    int c1 = c->channels[0], c2 = c->channels[1], ch = c->in_channels, H = c->hidden;
    linear_make(&a->fc3, &a->pt, "decoder.fc3", c->out, H, c->bias);
    bn_make_affine(&a->bn3, n, "decoder.bn1d2", H, K_ACT_NONE, c->bn_eps, c->bn_momentum,
                   c->bn_affine);
    a->g1 = kconvt_init(max_n, 8, 8, a->c0, c2, 5, 1, 2);
    a->w1 = deconv(a, "deconv1", a->c0, c2, c->bias, &a->b1);
    bn_make_affine(&a->bn4, n, "decoder.bn2d3", c2, K_ACT_NONE, c->bn_eps, c->bn_momentum,
                   c->bn_affine);
    a->g2 = kconvt_init(max_n, 16, 16, c2, c1, 5, 1, 3);
    a->w2 = deconv(a, "deconv2", c2, c1, c->bias, &a->b2);
    bn_make_affine(&a->bn5, n, "decoder.bn2d4", c1, K_ACT_NONE, c->bn_eps, c->bn_momentum,
                   c->bn_affine);
    a->g3 = kconvt_init(max_n, 28, 28, c1, ch, 5, 1, 2);
    a->w3 = deconv(a, "deconv3", c1, ch, c->bias, &a->b3);
    VB_ASSERT(a->g1.oh == 8 && a->g2.oh == 14 && a->g3.oh == 28);
    size_t N = (size_t)max_n;
    ActPlan *p = &n->plan;
    plan_req(p, &a->h, N * H), plan_req(p, &a->hn, N * H), plan_req(p, &a->ha, N * H);
    plan_req(p, &a->t0, N * 16 * a->c0);
    plan_req(p, &a->u1, N * 64 * a->c0);
    plan_req(p, &a->d1, N * 64 * c2), plan_req(p, &a->d1n, N * 64 * c2);
    plan_req(p, &a->d1a, N * 64 * c2);
    plan_req(p, &a->u2, N * 256 * c2);
    plan_req(p, &a->d2, N * 196 * c1), plan_req(p, &a->d2n, N * 196 * c1);
    plan_req(p, &a->d2a, N * 196 * c1);
    plan_req(p, &a->u3, N * 784 * c1);
    plan_req(p, &a->d3, N * 784 * ch), plan_req(p, &a->rec, N * 784 * ch);
    plan_req(p, &a->diff, N * 784 * ch);
    size_t gmax = N * 784 * (size_t)(c1 > ch ? c1 : ch);
    if (N * 256 * c2 > gmax) gmax = N * 256 * c2;
    plan_req(p, &a->g_a, gmax), plan_req(p, &a->g_b, gmax);
    size_t ws = k->convt2d_ws(&a->g1);
    if (k->convt2d_ws(&a->g2) > ws) ws = k->convt2d_ws(&a->g2);
    if (k->convt2d_ws(&a->g3) > ws) ws = k->convt2d_ws(&a->g3);
    plan_req(p, &a->conv_ws, ws ? ws : 1);
    VbStatus st = net_commit(n);
    if (st != VB_OK) lenet_ae_free(a);
    return st;
}

void lenet_ae_free(LeNetAe *a) {
    net_free(&a->net);
    params_free(&a->pt);
    memset(a, 0, sizeof *a);
}

static const float *bias_of(const LeNetAe *a, int b) {
    return b >= 0 ? params_data(&a->pt, b) : NULL;
}

double lenet_ae_forward(LeNetAe *a, int n, const float *x) {
    Net *net = &a->net;
    const KOps *k = net->k;
    const ParamTable *pt = &a->pt;
    float slope = a->enc.cfg.slope;
    int H = a->hidden, c1 = a->g3.cin, c2 = a->g2.cin, ch = a->g3.cout;
    lenet_fwd(net, &a->enc, n, x);
    lin_fwd(net, &a->fc3, n, a->enc.feat, a->h);
    bn_fwd(net, &a->bn3, n, a->h, a->hn);
    k->leaky_fwd((size_t)n * H, slope, a->hn, a->ha);
    k->nchw_to_nhwc(n, 4, 4, a->c0, a->ha, a->t0);
    k->upsample_fwd(n, 4, 4, a->c0, 2, a->t0, a->u1);
    KConv g = a->g1;
    g.n = n;
    k->convt2d_fwd(&g, a->u1, params_data(pt, a->w1), bias_of(a, a->b1), a->d1, a->conv_ws);
    bn_fwd(net, &a->bn4, n * 64, a->d1, a->d1n);
    k->leaky_fwd((size_t)n * 64 * c2, slope, a->d1n, a->d1a);
    k->upsample_fwd(n, 8, 8, c2, 2, a->d1a, a->u2);
    g = a->g2, g.n = n;
    k->convt2d_fwd(&g, a->u2, params_data(pt, a->w2), bias_of(a, a->b2), a->d2, a->conv_ws);
    bn_fwd(net, &a->bn5, n * 196, a->d2, a->d2n);
    k->leaky_fwd((size_t)n * 196 * c1, slope, a->d2n, a->d2a);
    k->upsample_fwd(n, 14, 14, c1, 2, a->d2a, a->u3);
    g = a->g3, g.n = n;
    k->convt2d_fwd(&g, a->u3, params_data(pt, a->w3), bias_of(a, a->b3), a->d3, a->conv_ws);
    size_t cnt = (size_t)n * 784 * ch;
    k->act_fwd(K_ACT_SIGMOID, cnt, a->d3, a->rec);
    k->copy(a->diff, a->rec, cnt * sizeof(float));
    k->axpy(cnt, -1.0f, x, a->diff);
    return k->sumsq(cnt, a->diff) / (double)cnt;
}

void lenet_ae_backward(LeNetAe *a, int n, const float *x) {
    Net *net = &a->net;
    const KOps *k = net->k;
    const ParamTable *pt = &a->pt;
    float slope = a->enc.cfg.slope;
    int H = a->hidden, c1 = a->g3.cin, c2 = a->g2.cin, ch = a->g3.cout;
    size_t cnt = (size_t)n * 784 * ch;
    float *ga = a->g_a, *gb = a->g_b;
    /* d loss / d rec = 2 (rec − x) / count */
    k->copy(ga, a->diff, cnt * sizeof(float));
    k->scale(cnt, (float)(2.0 / (double)cnt), ga);
    k->act_bwd(K_ACT_SIGMOID, cnt, a->d3, ga, ga);
    KConv g = a->g3;
    g.n = n;
    k->convt2d_bwd(&g, a->u3, params_data(pt, a->w3), ga, gb, params_grad(pt, a->w3),
                   a->b3 >= 0 ? params_grad(pt, a->b3) : NULL, a->conv_ws);
    k->upsample_bwd(n, 14, 14, c1, 2, gb, ga);
    k->leaky_bwd((size_t)n * 196 * c1, slope, a->d2n, ga, ga);
    bn_bwd(net, &a->bn5, n * 196, a->d2, ga, ga);
    g = a->g2, g.n = n;
    k->convt2d_bwd(&g, a->u2, params_data(pt, a->w2), ga, gb, params_grad(pt, a->w2),
                   a->b2 >= 0 ? params_grad(pt, a->b2) : NULL, a->conv_ws);
    k->upsample_bwd(n, 8, 8, c2, 2, gb, ga);
    k->leaky_bwd((size_t)n * 64 * c2, slope, a->d1n, ga, ga);
    bn_bwd(net, &a->bn4, n * 64, a->d1, ga, ga);
    g = a->g1, g.n = n;
    k->convt2d_bwd(&g, a->u1, params_data(pt, a->w1), ga, gb, params_grad(pt, a->w1),
                   a->b1 >= 0 ? params_grad(pt, a->b1) : NULL, a->conv_ws);
    k->upsample_bwd(n, 4, 4, a->c0, 2, gb, ga);
    k->nhwc_to_nchw(n, 4, 4, a->c0, ga, gb); /* back to the [n, hidden] view */
    k->leaky_bwd((size_t)n * H, slope, a->hn, gb, gb);
    bn_bwd(net, &a->bn3, n, a->h, gb, gb);
    lin_bwd(net, &a->fc3, n, a->enc.feat, gb, ga);
    lenet_bwd(net, &a->enc, n, x, ga);
}

VbStatus lenet_ae_load_encoder(const LeNetAe *a, ParamTable *dst, const char *prefix) {
    const ParamTable *src = &a->pt;
    int copied = 0;
    for (int i = 0; i < src->n; i++) {
        const Param *p = &src->p[i];
        if (strncmp(p->name, "encoder.", 8) != 0) continue;
        char name[PARAM_NAME_MAX];
        snprintf(name, sizeof name, "%s%s", prefix, p->name + 8);
        int j = params_find(dst, name);
        if (j < 0 || dst->p[j].numel != p->numel)
            return VB_FAIL(VB_ERR_INPUT,
                           "pretrained encoder tensor %s has no counterpart %s of %zu values in "
                           "the model",
                           p->name, name, p->numel);
        src->k->copy(params_data(dst, j), params_data(src, i), p->numel * sizeof(float));
        copied++;
    }
    if (copied == 0) return VB_FAIL(VB_ERR_INPUT, "the autoencoder has no encoder tensors");
    return VB_OK;
}
