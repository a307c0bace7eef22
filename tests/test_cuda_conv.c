/* The CUDA backend's convolutions, recurrent layers and attention pooling
 * against the CPU reference (suite cuda_conv; skipped without a GPU):
 * dense convolutions with odd sizes, strides, padding and groups (the
 * EfficientNet stem, the image VAE's k4 s2), pointwise, depthwise (direct
 * and routed through conv2d), transposed; each on cuDNN's path and again
 * with VADBENCH_CUDA_CONV=gemm on the backend's own im2col path (each test
 * is its own process, so the variable reaches the backend's init); LSTM and
 * GRU both directions with strided halves, T = 1 and T > 1; attention
 * pooling. Outputs start as NaN, parameter gradients from random values
 * (they accumulate); columns an op must not write start random and must
 * come back unchanged. bf16 convolutions within the bf16 band. */
#include "cuda_testutil.h"

typedef struct ConvCase {
    const char *name;
    KConv c;
    bool transposed, bias, no_dx;
} ConvCase;

static size_t in_len(const KConv *c) { return (size_t)c->n * c->h * c->w * c->cin; }
static size_t out_len(const KConv *c) { return (size_t)c->n * c->oh * c->ow * c->cout; }
static size_t w_len(const KConv *c, bool t) {
    return t ? (size_t)c->cin * c->cout * c->kh * c->kw
             : (size_t)c->cout * (c->cin / c->groups) * c->kh * c->kw;
}

static void conv_case(const KOps *g, const ConvCase *cc, bool bf16) {
    const KOps *c = kops_cpu();
    const KConv *k = &cc->c;
    bool t = cc->transposed, dw = !t && k->groups == k->cin && k->cin == k->cout;
    size_t ni = in_len(k), no = out_len(k), nw = w_len(k, t);
    float *dx_, *dw_, *db_, *ddy;
    float *x = cu_rand_pair(g, ni, 200, -1, 1, &dx_),
          *w = cu_rand_pair(g, nw, 201, -0.5f, 0.5f, &dw_);
    float *b = cu_rand_pair(g, k->cout, 202, -0.5f, 0.5f, &db_);
    float *dy = cu_rand_pair(g, no, 203, -1, 1, &ddy);
    size_t wc = t ? c->convt2d_ws(k) : c->conv2d_ws(k), wg = t ? g->convt2d_ws(k) : g->conv2d_ws(k);
    float *wsc = tu_alloc(wc ? wc : 1), *wsg = cu_nan(g, wg ? wg : 1);
    float *y = tu_alloc(no), *dyv = cu_nan(g, no);
    const float *B = cc->bias ? b : NULL, *dB = cc->bias ? db_ : NULL;
    if (t) {
        c->convt2d_fwd(k, x, w, B, y, wsc);
        g->convt2d_fwd(k, dx_, dw_, dB, dyv, wsg);
    } else {
        c->conv2d_fwd(k, x, w, B, y, wsc);
        g->conv2d_fwd(k, dx_, dw_, dB, dyv, wsg);
    }
    char what[160];
    snprintf(what, sizeof what, "%s forward%s", cc->name, bf16 ? " bf16" : "");
    float *h = cu_get(g, dyv, no);
    if (bf16) cu_assert_bf16(what, h, y, no);
    else cu_assert_close(what, h, y, no, CU_TOL_FWD);
    free(h);
    float *gx = tu_alloc(ni), *gw = tu_rand(nw, 204, -1, 1), *gb = tu_rand(k->cout, 205, -1, 1);
    float *dgx = cu_nan(g, ni), *dgw = cu_put(g, gw, nw), *dgb = cu_put(g, gb, k->cout);
    float *GX = cc->no_dx ? NULL : gx, *dGX = cc->no_dx ? NULL : dgx;
    float *GB = cc->bias ? gb : NULL, *dGB = cc->bias ? dgb : NULL;
    if (t) {
        c->convt2d_bwd(k, x, w, dy, GX, gw, GB, wsc);
        g->convt2d_bwd(k, dx_, dw_, ddy, dGX, dgw, dGB, wsg);
    } else if (dw && cc->name[0] == 'd') { /* the depthwise op itself */
        c->dwconv2d_bwd(k, x, w, dy, GX, gw, GB);
        g->dwconv2d_bwd(k, dx_, dw_, ddy, dGX, dgw, dGB);
    } else {
        c->conv2d_bwd(k, x, w, dy, GX, gw, GB, wsc);
        g->conv2d_bwd(k, dx_, dw_, ddy, dGX, dgw, dGB, wsg);
    }
    struct {
        const char *what;
        const float *d, *hst;
        size_t n;
        bool on;
    } outs[] = {{"dx", dgx, gx, ni, !cc->no_dx},
                {"dw (accumulated)", dgw, gw, nw, true},
                {"db (accumulated)", dgb, gb, (size_t)k->cout, cc->bias}};
    for (int i = 0; i < 3; i++) {
        if (!outs[i].on) continue;
        snprintf(what, sizeof what, "%s %s%s", cc->name, outs[i].what, bf16 ? " bf16" : "");
        h = cu_get(g, outs[i].d, outs[i].n);
        if (bf16) cu_assert_bf16(what, h, outs[i].hst, outs[i].n);
        else cu_assert_close(what, h, outs[i].hst, outs[i].n, CU_TOL_GRAD);
        free(h);
    }
    free(x), free(w), free(b), free(dy), free(wsc), free(y), free(gx), free(gw), free(gb);
    g->free(dx_), g->free(dw_), g->free(db_), g->free(ddy), g->free(wsg), g->free(dyv);
    g->free(dgx), g->free(dgw), g->free(dgb);
}

static void conv_cases(const KOps *g, bool bf16) {
    ConvCase cs[] = {
        {"stem k3 s2 p1", kconv_init(2, 33, 35, 3, 16, 3, 2, 1, 1), false, true, true},
        {"k5 p2 groups 2", kconv_init(3, 17, 13, 6, 10, 5, 1, 2, 2), false, true, false},
        {"vae k4 s2 p1", kconv_init(2, 16, 16, 3, 8, 4, 2, 1, 1), false, true, false},
        {"k3 s2 p0 odd", kconv_init(2, 9, 11, 5, 7, 3, 2, 0, 1), false, false, false},
        {"pointwise", kconv_init(4, 9, 7, 24, 40, 1, 1, 0, 1), false, true, false},
        {"depthwise k3 s1", kconv_init(3, 13, 11, 21, 21, 3, 1, 1, 21), false, true, false},
        {"depthwise k5 s2 odd", kconv_init(2, 15, 9, 40, 40, 5, 2, 2, 40), false, true, false},
        {"routed depthwise k3 s2", kconv_init(2, 14, 14, 24, 24, 3, 2, 1, 24), false, false, false},
        {"transposed k4 s2 p1", kconvt_init(2, 4, 4, 16, 8, 4, 2, 1), true, true, false},
        {"transposed k3 s2 odd", kconvt_init(3, 5, 7, 6, 3, 3, 2, 0), true, true, false},
    };
    for (size_t i = 0; i < sizeof cs / sizeof *cs; i++) {
        bool depthwise = cs[i].c.groups > 1 && cs[i].c.groups == cs[i].c.cin;
        if (bf16 && depthwise) continue; /* depthwise stays fp32 */
        conv_case(g, &cs[i], bf16);
    }
}

Test(cuda_conv, convolutions_cudnn_path, .timeout = 180) { conv_cases(cuda_or_skip(), false); }

Test(cuda_conv, convolutions_own_im2col_path, .timeout = 180) {
    setenv("VADBENCH_CUDA_CONV", "gemm", 1); /* before the backend's init in this process */
    conv_cases(cuda_or_skip(), false);
}

Test(cuda_conv, convolutions_bf16_within_band, .timeout = 180) {
    conv_cases(cuda_bf16_or_skip(), true);
}

Test(cuda_conv, convolutions_bf16_own_path_within_band, .timeout = 180) {
    setenv("VADBENCH_CUDA_CONV", "gemm", 1);
    conv_cases(cuda_bf16_or_skip(), true);
}

/* ------------------------------------------------------------ RNNs */

static void rnn_case(const KOps *g, bool lstm, int B, int T, int in, int H, bool reverse) {
    const KOps *c = kops_cpu();
    int G = (lstm ? 4 : 3) * H, ldx = in + 3, ldy = 2 * H; /* strided, as a bidirectional half */
    KRnn r = {B, T, in, H, ldx, ldy, reverse};
    size_t nx = (size_t)B * T * ldx, ny = (size_t)B * T * ldy;
    size_t nsave = lstm ? c->lstm_save(&r) : c->gru_save(&r),
           nws = lstm ? c->lstm_ws(&r) : c->gru_ws(&r);
    cr_assert_eq(nsave, lstm ? g->lstm_save(&r) : g->gru_save(&r));
    cr_assert_eq(nws, lstm ? g->lstm_ws(&r) : g->gru_ws(&r));
    float *dx_, *dwi, *dwh, *dbi, *dbh, *dyv, *ddy;
    float *x = cu_rand_pair(g, nx, 300, -1, 1, &dx_);
    float *wi = cu_rand_pair(g, (size_t)G * in, 301, -0.4f, 0.4f, &dwi);
    float *wh = cu_rand_pair(g, (size_t)G * H, 302, -0.4f, 0.4f, &dwh);
    float *bi = cu_rand_pair(g, G, 303, -0.2f, 0.2f, &dbi),
          *bh = cu_rand_pair(g, G, 304, -0.2f, 0.2f, &dbh);
    float *y = cu_rand_pair(g, ny, 305, -9, 9, &dyv); /* the other half must stay */
    float *dy = cu_rand_pair(g, ny, 306, -1, 1, &ddy);
    float *save = tu_alloc(nsave), *ws = tu_alloc(nws ? nws : 1);
    float *dsave = cu_nan(g, nsave), *dws = cu_nan(g, nws ? nws : 1);
    if (lstm) {
        c->lstm_fwd(&r, x, wi, wh, bi, bh, y, save, ws);
        g->lstm_fwd(&r, dx_, dwi, dwh, dbi, dbh, dyv, dsave, dws);
    } else {
        c->gru_fwd(&r, x, wi, wh, bi, bh, y, save, ws);
        g->gru_fwd(&r, dx_, dwi, dwh, dbi, dbh, dyv, dsave, dws);
    }
    char what[128];
    snprintf(what, sizeof what, "%s B%d T%d in%d H%d%s", lstm ? "lstm" : "gru", B, T, in, H,
             reverse ? " reverse" : "");
    cu_check(g, what, dyv, y, ny, CU_TOL_FWD);
    cu_check(g, "rnn save", dsave, save, nsave, CU_TOL_FWD);
    float *gx = tu_rand(nx, 307, -9, 9), *gwi = tu_rand((size_t)G * in, 308, -1, 1);
    float *gwh = tu_rand((size_t)G * H, 309, -1, 1), *gbi = tu_rand(G, 310, -1, 1);
    float *gbh = tu_rand(G, 311, -1, 1);
    float *dgx = cu_put(g, gx, nx), *dgwi = cu_put(g, gwi, (size_t)G * in);
    float *dgwh = cu_put(g, gwh, (size_t)G * H), *dgbi = cu_put(g, gbi, G),
          *dgbh = cu_put(g, gbh, G);
    if (lstm) {
        c->lstm_bwd(&r, x, wi, wh, y, save, dy, gx, gwi, gwh, gbi, gbh, ws);
        g->lstm_bwd(&r, dx_, dwi, dwh, dyv, dsave, ddy, dgx, dgwi, dgwh, dgbi, dgbh, dws);
    } else {
        c->gru_bwd(&r, x, wi, wh, y, save, dy, gx, gwi, gwh, gbi, gbh, ws);
        g->gru_bwd(&r, dx_, dwi, dwh, dyv, dsave, ddy, dgx, dgwi, dgwh, dgbi, dgbh, dws);
    }
    cu_check(g, "rnn dx (in columns; the rest unchanged)", dgx, gx, nx, CU_TOL_GRAD);
    cu_check(g, "rnn dw_ih", dgwi, gwi, (size_t)G * in, CU_TOL_GRAD);
    cu_check(g, "rnn dw_hh", dgwh, gwh, (size_t)G * H, CU_TOL_GRAD);
    cu_check(g, "rnn db_ih", dgbi, gbi, G, CU_TOL_GRAD);
    cu_check(g, "rnn db_hh", dgbh, gbh, G, CU_TOL_GRAD);
    free(x), free(wi), free(wh), free(bi), free(bh), free(y), free(dy), free(save), free(ws);
    free(gx), free(gwi), free(gwh), free(gbi), free(gbh);
    float *devs[] = {dx_, dwi, dwh, dbi, dbh, dyv, ddy, dsave, dws, dgx, dgwi, dgwh, dgbi, dgbh};
    for (size_t i = 0; i < sizeof devs / sizeof *devs; i++) g->free(devs[i]);
}

Test(cuda_conv, lstm_and_gru_both_directions, .timeout = 120) {
    const KOps *g = cuda_or_skip();
    for (int lstm = 0; lstm < 2; lstm++) {
        rnn_case(g, lstm, 3, 5, 7, 9, false);
        rnn_case(g, lstm, 3, 5, 7, 9, true);
        rnn_case(g, lstm, 2, 1, 4, 5, false); /* T = 1 */
        rnn_case(g, lstm, 4, 16, 40, 33, true);
    }
}

static void attn_case(const KOps *g, int b, int t, int d, int a) {
    const KOps *c = kops_cpu();
    size_t nh = (size_t)b * t * d, ns = (size_t)b * t * (a + 1);
    float *dh_, *dw1, *db1, *dw2, *db2, *ddy;
    float *h = cu_rand_pair(g, nh, 400, -1, 1, &dh_),
          *w1 = cu_rand_pair(g, (size_t)a * d, 401, -0.5f, 0.5f, &dw1);
    float *b1 = cu_rand_pair(g, a, 402, -0.2f, 0.2f, &db1),
          *w2 = cu_rand_pair(g, a, 403, -1, 1, &dw2);
    float *b2 = cu_rand_pair(g, 1, 404, -0.2f, 0.2f, &db2);
    float *dy = cu_rand_pair(g, (size_t)b * d, 405, -1, 1, &ddy);
    float *save = tu_alloc(ns), *y = tu_alloc((size_t)b * d);
    float *dsave = cu_nan(g, ns), *dyv = cu_nan(g, (size_t)b * d);
    c->attn_fwd(b, t, d, a, h, w1, b1, w2, b2, save, y);
    g->attn_fwd(b, t, d, a, dh_, dw1, db1, dw2, db2, dsave, dyv);
    cu_check(g, "attention y", dyv, y, (size_t)b * d, CU_TOL_FWD);
    cu_check(g, "attention save", dsave, save, ns, CU_TOL_FWD);
    float *gh = tu_alloc(nh), *gw1 = tu_rand((size_t)a * d, 406, -1, 1),
          *gb1 = tu_rand(a, 407, -1, 1);
    float *gw2 = tu_rand(a, 408, -1, 1), *gb2 = tu_rand(1, 409, -1, 1), *ws = tu_alloc(ns);
    float *dgh = cu_nan(g, nh), *dgw1 = cu_put(g, gw1, (size_t)a * d), *dgb1 = cu_put(g, gb1, a);
    float *dgw2 = cu_put(g, gw2, a), *dgb2 = cu_put(g, gb2, 1), *dws = cu_nan(g, ns);
    c->attn_bwd(b, t, d, a, h, w1, w2, save, dy, gh, gw1, gb1, gw2, gb2, ws);
    g->attn_bwd(b, t, d, a, dh_, dw1, dw2, dsave, ddy, dgh, dgw1, dgb1, dgw2, dgb2, dws);
    cu_check(g, "attention dh", dgh, gh, nh, CU_TOL_GRAD);
    cu_check(g, "attention dw1", dgw1, gw1, (size_t)a * d, CU_TOL_GRAD);
    cu_check(g, "attention db1", dgb1, gb1, a, CU_TOL_GRAD);
    cu_check(g, "attention dw2", dgw2, gw2, a, CU_TOL_GRAD);
    cu_check(g, "attention db2", dgb2, gb2, 1, CU_TOL_GRAD);
    free(h), free(w1), free(b1), free(w2), free(b2), free(dy), free(save), free(y), free(gh);
    free(gw1), free(gb1), free(gw2), free(gb2), free(ws);
    float *devs[] = {dh_, dw1, db1, dw2, db2, ddy, dsave, dyv, dgh, dgw1, dgb1, dgw2, dgb2, dws};
    for (size_t i = 0; i < sizeof devs / sizeof *devs; i++) g->free(devs[i]);
}

Test(cuda_conv, attention_pooling_t1_and_longer, .timeout = 60) {
    const KOps *g = cuda_or_skip();
    attn_case(g, 3, 4, 10, 6);
    attn_case(g, 2, 1, 8, 5);
    attn_case(g, 5, 16, 64, 32);
}
