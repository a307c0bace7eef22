/* The CUDA backend op by op against the CPU reference (suite cuda_ops;
 * skipped without a GPU, see cuda_testutil.h): dense algebra, elementwise
 * ops, softmax, reductions, batchnorm, pooling, squeeze-excitation, VAE
 * terms, noise, the loss, the optimiser, memory ops. Random inputs with odd
 * sizes; every forward output starts as NaN on the GPU (must be
 * overwritten), every parameter gradient starts from the same random
 * values on both (must accumulate). Forward 1e-4, gradients 1e-3 relative;
 * dropout masks bit-identical; a repeated GPU computation byte-identical.
 * Convolutions, RNNs and attention are in test_cuda_conv.c. */
#include "cuda_testutil.h"

#include "kernels/kloss.h"

/* ---------------------------------------------------------------- GEMM */

static void gemm_case(const KOps *g, bool ta, bool tb, int m, int n, int k, float beta) {
    const KOps *c = kops_cpu();
    int ra = ta ? k : m, ca = ta ? m : k, rb = tb ? n : k, cb = tb ? k : n;
    int lda = ca + 3, ldb = cb + 2, ldc = n + 1;
    size_t na = (size_t)(ra ? ra : 1) * lda, nb = (size_t)(rb ? rb : 1) * ldb, nc = (size_t)m * ldc;
    float *da, *db, *dc;
    float *a = cu_rand_pair(g, na, 1, -1, 1, &da), *b = cu_rand_pair(g, nb, 2, -1, 1, &db);
    float *cc = tu_rand(nc, 3, -1, 1);
    if (beta == 0)
        for (size_t i = 0; i < nc; i++) cc[i] = NAN;
    dc = cu_put(g, cc, nc);
    c->gemm(ta, tb, m, n, k, 0.7f, a, lda, b, ldb, beta, cc, ldc);
    g->gemm(ta, tb, m, n, k, 0.7f, da, lda, db, ldb, beta, dc, ldc);
    float *h = cu_get(g, dc, nc);
    for (int i = 0; i < m; i++) /* the padding columns are not part of C */
        for (int j = n; j < ldc; j++) h[(size_t)i * ldc + j] = cc[(size_t)i * ldc + j] = 0;
    char what[96];
    snprintf(what, sizeof what, "gemm %c%c %dx%dx%d beta %g", ta ? 'T' : 'N', tb ? 'T' : 'N', m, n,
             k, beta);
    cu_assert_close(what, h, cc, nc, CU_TOL_FWD);
    free(a), free(b), free(cc), free(h);
    g->free(da), g->free(db), g->free(dc);
}

Test(cuda_ops, gemm_all_transposes_odd_shapes, .timeout = 120) {
    const KOps *g = cuda_or_skip();
    const int shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {37, 129, 65}, {256, 300, 17}, {5, 4, 0}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int t = 0; t < 4; t++)
            for (int bz = 0; bz < 2; bz++)
                gemm_case(g, t & 1, t & 2, shapes[s][0], shapes[s][1], shapes[s][2],
                          bz ? 1.3f : 0.0f);
}

Test(cuda_ops, linear_forward_backward, .timeout = 60) {
    const KOps *g = cuda_or_skip(), *c = kops_cpu();
    for (int bias = 0; bias < 2; bias++) {
        int rows = 37, in = 29, out = 13;
        float *dx_, *dw_, *db_, *ddy;
        float *x = cu_rand_pair(g, (size_t)rows * in, 4, -1, 1, &dx_);
        float *w = cu_rand_pair(g, (size_t)out * in, 5, -0.5f, 0.5f, &dw_);
        float *b = cu_rand_pair(g, out, 6, -0.5f, 0.5f, &db_);
        float *dy = cu_rand_pair(g, (size_t)rows * out, 7, -1, 1, &ddy);
        float *y = tu_alloc((size_t)rows * out), *dyv = cu_nan(g, (size_t)rows * out);
        c->linear_fwd(rows, in, out, x, w, bias ? b : NULL, y);
        g->linear_fwd(rows, in, out, dx_, dw_, bias ? db_ : NULL, dyv);
        cu_check(g, "linear y", dyv, y, (size_t)rows * out, CU_TOL_FWD);
        float *gx = tu_alloc((size_t)rows * in), *gw = tu_rand((size_t)out * in, 8, -1, 1);
        float *gb = tu_rand(out, 9, -1, 1);
        float *dgx = cu_nan(g, (size_t)rows * in), *dgw = cu_put(g, gw, (size_t)out * in);
        float *dgb = cu_put(g, gb, out);
        c->linear_bwd(rows, in, out, x, w, dy, gx, gw, bias ? gb : NULL);
        g->linear_bwd(rows, in, out, dx_, dw_, ddy, dgx, dgw, bias ? dgb : NULL);
        cu_check(g, "linear dx", dgx, gx, (size_t)rows * in, CU_TOL_GRAD);
        cu_check(g, "linear dw (accumulated)", dgw, gw, (size_t)out * in, CU_TOL_GRAD);
        cu_check(g, "linear db (accumulated)", dgb, gb, out, CU_TOL_GRAD);
        free(x), free(w), free(b), free(dy), free(y), free(gx), free(gw), free(gb);
        g->free(dx_), g->free(dw_), g->free(db_), g->free(ddy), g->free(dyv), g->free(dgx);
        g->free(dgw), g->free(dgb);
    }
}

/* --------------------------------------------------------- elementwise */

Test(cuda_ops, activations_forward_backward_in_place, .timeout = 60) {
    const KOps *g = cuda_or_skip(), *c = kops_cpu();
    size_t n = 100003;
    for (int a = K_ACT_NONE; a <= K_ACT_TANH; a++) {
        float *dx, *ddy;
        float *x = cu_rand_pair(g, n, 10 + a, -6, 6, &dx),
              *dy = cu_rand_pair(g, n, 20 + a, -1, 1, &ddy);
        float *y = tu_alloc(n), *gx = tu_alloc(n), *dyv = cu_nan(g, n);
        c->act_fwd((KAct)a, n, x, y);
        g->act_fwd((KAct)a, n, dx, dyv);
        char what[64];
        snprintf(what, sizeof what, "act %d forward", a);
        cu_check(g, what, dyv, y, n, CU_TOL_FWD);
        c->act_bwd((KAct)a, n, x, dy, gx);
        g->act_bwd((KAct)a, n, dx, ddy, ddy); /* dx may alias dy */
        snprintf(what, sizeof what, "act %d backward (in place)", a);
        cu_check(g, what, ddy, gx, n, CU_TOL_GRAD);
        g->act_fwd((KAct)a, n, dx, dx); /* y may alias x */
        snprintf(what, sizeof what, "act %d forward (in place)", a);
        cu_check(g, what, dx, y, n, CU_TOL_FWD);
        free(x), free(dy), free(y), free(gx);
        g->free(dx), g->free(ddy), g->free(dyv);
    }
}

/* LeNet's ops: the same bits as the CPU (no reductions across threads),
 * including a floor-mode pooling that leaves a row and a column out, ties
 * and a NaN in a window. */
Test(cuda_ops, lenet_pool_leaky_upsample, .timeout = 60) {
    const KOps *g = cuda_or_skip(), *c = kops_cpu();
    KPool p = kpool_init(3, 9, 7, 13, 2);
    size_t nx = (size_t)p.n * p.h * p.w * p.c, ny = (size_t)p.n * p.oh * p.ow * p.c;
    float *x = tu_alloc(nx);
    tu_fill(x, nx, 40, -1, 1);
    for (size_t i = 0; i < nx; i += 5) x[i] = 0.25f; /* ties */
    x[17] = NAN;
    float *dx_ = g->alloc(nx * sizeof(float));
    g->upload(dx_, x, nx * sizeof(float));
    float *dgy;
    float *gy = cu_rand_pair(g, ny, 41, -1, 1, &dgy);
    float *y = tu_alloc(ny), *dy = cu_nan(g, ny), *gx = tu_alloc(nx), *dgx = cu_nan(g, nx);
    c->maxpool_fwd(&p, x, y), g->maxpool_fwd(&p, dx_, dy);
    cu_check_bits(g, "maxpool forward", dy, y, ny);
    c->maxpool_bwd(&p, x, gy, gx), g->maxpool_bwd(&p, dx_, dgy, dgx);
    cu_check_bits(g, "maxpool backward", dgx, gx, nx);
    c->leaky_fwd(nx, 0.1f, x, gx), g->leaky_fwd(nx, 0.1f, dx_, dgx);
    cu_check_bits(g, "leaky forward", dgx, gx, nx);
    float *gin = tu_alloc(nx), *dgin;
    float *gout = cu_rand_pair(g, nx, 42, -1, 1, &dgin);
    c->leaky_bwd(nx, 0.1f, x, gout, gin), g->leaky_bwd(nx, 0.1f, dx_, dgin, dgx);
    cu_check_bits(g, "leaky backward", dgx, gin, nx);
    int s = 3;
    size_t nu = nx * (size_t)(s * s);
    float *u = tu_alloc(nu), *du = cu_nan(g, nu);
    c->upsample_fwd(p.n, p.h, p.w, p.c, s, gout, u),
        g->upsample_fwd(p.n, p.h, p.w, p.c, s, dgin, du);
    cu_check_bits(g, "upsample forward", du, u, nu);
    float *dgu;
    float *gu = cu_rand_pair(g, nu, 43, -1, 1, &dgu);
    c->upsample_bwd(p.n, p.h, p.w, p.c, s, gu, gin),
        g->upsample_bwd(p.n, p.h, p.w, p.c, s, dgu, dgx);
    cu_check_bits(g, "upsample backward", dgx, gin, nx);
    free(x), free(gy), free(y), free(gx), free(gin), free(gout), free(u), free(gu);
    g->free(dx_), g->free(dgy), g->free(dy), g->free(dgx), g->free(dgin), g->free(du), g->free(dgu);
}

Test(cuda_ops, small_elementwise_and_layout_ops, .timeout = 60) {
    const KOps *g = cuda_or_skip(), *c = kops_cpu();
    size_t n = 77777;
    float *da, *db;
    float *a = cu_rand_pair(g, n, 30, -2, 2, &da), *b = cu_rand_pair(g, n, 31, -2, 2, &db);
    float *y = tu_alloc(n), *dy = cu_nan(g, n);
    c->mul(n, a, b, y), g->mul(n, da, db, dy);
    cu_check(g, "mul", dy, y, n, CU_TOL_FWD);
    c->add(n, a, b, y), g->add(n, da, db, dy);
    cu_check(g, "add", dy, y, n, CU_TOL_FWD);
    c->axpy(n, -0.37f, a, b), g->axpy(n, -0.37f, da, db);
    cu_check(g, "axpy", db, b, n, CU_TOL_FWD);
    c->scale(n, 1.7f, a), g->scale(n, 1.7f, da);
    cu_check(g, "scale", da, a, n, CU_TOL_FWD);
    /* rows x cols shapes */
    int rows = 5, gr = 3, cols = 37;
    float *ds, *dx;
    float *s = cu_rand_pair(g, (size_t)rows * gr, 32, 0, 2, &ds);
    float *x = cu_rand_pair(g, (size_t)rows * gr * cols, 33, -1, 1, &dx);
    float *o = tu_alloc((size_t)rows * gr * cols), *dout = cu_nan(g, (size_t)rows * gr * cols);
    c->row_scale(rows * gr, cols, s, x, o), g->row_scale(rows * gr, cols, ds, dx, dout);
    cu_check(g, "row_scale", dout, o, (size_t)rows * gr * cols, CU_TOL_FWD);
    c->group_mean_fwd(rows, gr, cols, x, o), g->group_mean_fwd(rows, gr, cols, dx, dout);
    cu_check(g, "group_mean_fwd", dout, o, (size_t)rows * cols, CU_TOL_FWD);
    c->group_mean_bwd(rows, gr, cols, x, o), g->group_mean_bwd(rows, gr, cols, dx, dout);
    cu_check(g, "group_mean_bwd", dout, o, (size_t)rows * gr * cols, CU_TOL_GRAD);
    int N = 3, H = 5, W = 7, C = 11;
    size_t t = (size_t)N * H * W * C;
    float *dp;
    float *p = cu_rand_pair(g, t, 34, -1, 1, &dp), *q = tu_alloc(t), *dq = cu_nan(g, t);
    c->nhwc_to_nchw(N, H, W, C, p, q), g->nhwc_to_nchw(N, H, W, C, dp, dq);
    cu_check(g, "nhwc_to_nchw", dq, q, t, 0);
    c->nchw_to_nhwc(N, H, W, C, p, q), g->nchw_to_nhwc(N, H, W, C, dp, dq);
    cu_check(g, "nchw_to_nhwc", dq, q, t, 0);
    float *dca, *dcb;
    float *ca = cu_rand_pair(g, C, 35, 0, 2, &dca), *cb = cu_rand_pair(g, C, 36, -1, 1, &dcb);
    c->chan_affine(N * H * W, C, ca, cb, p, q), g->chan_affine(N * H * W, C, dca, dcb, dp, dq);
    cu_check(g, "chan_affine", dq, q, t, CU_TOL_FWD);
    free(a), free(b), free(y), free(s), free(x), free(o), free(p), free(q), free(ca), free(cb);
    g->free(da), g->free(db), g->free(dy), g->free(ds), g->free(dx), g->free(dout), g->free(dp);
    g->free(dq), g->free(dca), g->free(dcb);
}

Test(cuda_ops, softmax_family, .timeout = 60) {
    const KOps *g = cuda_or_skip(), *c = kops_cpu();
    const int shapes[][2] = {{33, 14}, {5, 1}, {4, 300}};
    for (size_t s = 0; s < 3; s++) {
        int rows = shapes[s][0], n = shapes[s][1];
        size_t t = (size_t)rows * n;
        float *dx, *ddy;
        float *x = cu_rand_pair(g, t, 40, -8, 8, &dx), *dy = cu_rand_pair(g, t, 41, -1, 1, &ddy);
        float *y = tu_alloc(t), *gx = tu_alloc(t), *dyv = cu_nan(g, t), *dgx = cu_nan(g, t);
        for (int lg = 0; lg < 2; lg++) {
            (lg ? c->log_softmax_fwd : c->softmax_fwd)(rows, n, x, y);
            (lg ? g->log_softmax_fwd : g->softmax_fwd)(rows, n, dx, dyv);
            cu_check(g, lg ? "log_softmax" : "softmax", dyv, y, t, CU_TOL_FWD);
            (lg ? c->log_softmax_bwd : c->softmax_bwd)(rows, n, y, dy, gx);
            (lg ? g->log_softmax_bwd : g->softmax_bwd)(rows, n, dyv, ddy, dgx);
            cu_check(g, lg ? "log_softmax bwd" : "softmax bwd", dgx, gx, t, CU_TOL_GRAD);
        }
        free(x), free(dy), free(y), free(gx);
        g->free(dx), g->free(ddy), g->free(dyv), g->free(dgx);
    }
}

/* ----------------------------------------------------------- reductions */

Test(cuda_ops, reductions_are_exact_enough_and_repeatable, .timeout = 60) {
    const KOps *g = cuda_or_skip(), *c = kops_cpu();
    size_t n = 1000003;
    float *dx;
    float *x = cu_rand_pair(g, n, 50, -3, 3, &dx);
    double s = c->sum(n, x), gs = g->sum(n, dx), q = c->sumsq(n, x), gq = g->sumsq(n, dx);
    cr_assert(fabs(gs - s) <= 1e-9 * (fabs(s) + 1e3), "sum: cuda %.17g cpu %.17g", gs, s);
    cr_assert(fabs(gq - q) <= 1e-12 * q, "sumsq: cuda %.17g cpu %.17g", gq, q);
    cr_assert(g->sum(n, dx) == gs && g->sumsq(n, dx) == gq, "a second GPU sum differs");
    cr_assert(g->all_finite(n, dx));
    float bad[2] = {NAN, INFINITY};
    for (int i = 0; i < 2; i++) {
        g->upload(dx + (i ? n / 2 : n - 1), &bad[i], sizeof(float));
        cr_assert(!g->all_finite(n, dx), "all_finite missed a %s", i ? "inf" : "nan");
        g->upload(dx + (i ? n / 2 : n - 1), &x[i ? n / 2 : n - 1], sizeof(float));
    }
    int rows = 5001, cols = 77;
    float *dm, *dy;
    float *m = cu_rand_pair(g, (size_t)rows * cols, 51, -1, 1, &dm);
    float *y = tu_rand(cols, 52, -1, 1);
    dy = cu_put(g, y, cols);
    for (int acc = 0; acc < 2; acc++) {
        c->col_sum(rows, cols, m, y, acc), g->col_sum(rows, cols, dm, dy, acc);
        cu_check(g, acc ? "col_sum (accumulate)" : "col_sum", dy, y, cols, CU_TOL_FWD);
    }
    free(x), free(m), free(y);
    g->free(dx), g->free(dm), g->free(dy);
}

/* ------------------------------------------------------------ batchnorm */

static void bn_case(const KOps *g, int rows, int ch, KAct act, bool train, bool update,
                    bool affine) {
    const KOps *c = kops_cpu();
    size_t t = (size_t)rows * ch;
    char what[128];
    float *dx, *dgm, *dbt, *drm, *drv, *ddy;
    float *x = cu_rand_pair(g, t, 60, -2, 3, &dx), *dy = cu_rand_pair(g, t, 61, -1, 1, &ddy);
    float *gm = cu_rand_pair(g, ch, 62, 0.5f, 1.5f, &dgm),
          *bt = cu_rand_pair(g, ch, 63, -1, 1, &dbt);
    float *rm = cu_rand_pair(g, ch, 64, -0.5f, 0.5f, &drm),
          *rv = cu_rand_pair(g, ch, 65, 0.5f, 2, &drv);
    float *y = tu_alloc(t), *mean = tu_alloc(ch), *inv = tu_alloc(ch);
    float *dyv = cu_nan(g, t), *dmean = cu_nan(g, ch), *dinv = cu_nan(g, ch);
    KBn p = {rows, ch, 1e-5f, 0.1f, act};
    const float *G = affine ? gm : NULL, *B = affine ? bt : NULL;
    const float *dG = affine ? dgm : NULL, *dB = affine ? dbt : NULL;
    snprintf(what, sizeof what, "bn %s rows %d c %d act %d", train ? "train" : "eval", rows, ch,
             act);
    if (train) {
        c->bn_train_fwd(&p, x, G, B, rm, rv, update, mean, inv, y);
        g->bn_train_fwd(&p, dx, dG, dB, drm, drv, update, dmean, dinv, dyv);
        cu_check(g, "bn mean", dmean, mean, ch, CU_TOL_FWD);
        cu_check(g, "bn invstd", dinv, inv, ch, CU_TOL_FWD);
        cu_check(g, "bn running mean", drm, rm, ch, CU_TOL_FWD);
        cu_check(g, "bn running var", drv, rv, ch, CU_TOL_FWD);
    } else {
        c->bn_eval_fwd(&p, x, G, B, rm, rv, y);
        g->bn_eval_fwd(&p, dx, dG, dB, drm, drv, dyv);
    }
    cu_check(g, what, dyv, y, t, CU_TOL_FWD);
    float *gg = tu_rand(ch, 66, -1, 1), *gb = tu_rand(ch, 67, -1, 1), *gx = tu_alloc(t);
    float *dgg = cu_put(g, gg, ch), *dgb = cu_put(g, gb, ch);
    if (train) {
        c->bn_train_bwd(&p, x, G, B, mean, inv, dy, gx, gg, gb);
        g->bn_train_bwd(&p, dx, dG, dB, dmean, dinv, ddy, ddy, dgg, dgb); /* dx aliases dy */
    } else {
        c->bn_eval_bwd(&p, x, G, B, rm, rv, dy, gx, gg, gb);
        g->bn_eval_bwd(&p, dx, dG, dB, drm, drv, ddy, ddy, dgg, dgb);
    }
    cu_check(g, "bn dx", ddy, gx, t, CU_TOL_GRAD);
    cu_check(g, "bn dgamma (accumulated)", dgg, gg, ch, CU_TOL_GRAD);
    cu_check(g, "bn dbeta (accumulated)", dgb, gb, ch, CU_TOL_GRAD);
    free(x), free(dy), free(gm), free(bt), free(rm), free(rv), free(y), free(mean), free(inv);
    free(gg), free(gb), free(gx);
    g->free(dx), g->free(ddy), g->free(dgm), g->free(dbt), g->free(drm), g->free(drv);
    g->free(dyv), g->free(dmean), g->free(dinv), g->free(dgg), g->free(dgb);
}

Test(cuda_ops, batchnorm_train_and_eval, .timeout = 120) {
    const KOps *g = cuda_or_skip();
    bn_case(g, 1000, 37, K_ACT_SILU, true, true, true);
    bn_case(g, 4, 16, K_ACT_NONE, true, true, true);       /* BatchNorm1d on a small batch */
    bn_case(g, 25088, 32, K_ACT_LEAKY, true, false, true); /* many reduction tiles */
    bn_case(g, 300, 1280, K_ACT_RELU, true, true, false);
    bn_case(g, 999, 24, K_ACT_SILU, false, false, true);
    bn_case(g, 7, 5, K_ACT_TANH, false, false, false);
}

/* ------------------------------------------------------- pooling and SE */

Test(cuda_ops, pooling_and_squeeze_excitation, .timeout = 60) {
    const KOps *g = cuda_or_skip(), *c = kops_cpu();
    const int shapes[][4] = {{4, 49, 37, 9}, {2, 12544, 8, 2}, {3, 25, 24, 6}};
    for (size_t s = 0; s < 3; s++) {
        int n = shapes[s][0], hw = shapes[s][1], ch = shapes[s][2], cr = shapes[s][3];
        size_t t = (size_t)n * hw * ch, nc = (size_t)n * ch;
        float *dx, *ddy, *dw1, *db1, *dw2, *db2;
        float *x = cu_rand_pair(g, t, 70, -1, 2, &dx), *dy = cu_rand_pair(g, t, 71, -1, 1, &ddy);
        float *y = tu_alloc(t), *dyv = cu_nan(g, t), *p = tu_alloc(nc), *dpv = cu_nan(g, nc);
        c->gap_fwd(n, hw, ch, x, p), g->gap_fwd(n, hw, ch, dx, dpv);
        cu_check(g, "gap", dpv, p, nc, CU_TOL_FWD);
        c->gap_bwd(n, hw, ch, dy, y), g->gap_bwd(n, hw, ch, ddy, dyv);
        cu_check(g, "gap bwd", dyv, y, t, CU_TOL_GRAD);
        float *w1 = cu_rand_pair(g, (size_t)cr * ch, 72, -0.5f, 0.5f, &dw1);
        float *b1 = cu_rand_pair(g, cr, 73, -0.5f, 0.5f, &db1);
        float *w2 = cu_rand_pair(g, (size_t)ch * cr, 74, -0.5f, 0.5f, &dw2);
        float *b2 = cu_rand_pair(g, ch, 75, -0.5f, 0.5f, &db2);
        size_t ns = (size_t)n * (2 * ch + cr);
        float *save = tu_alloc(ns), *dsave = cu_nan(g, ns);
        c->se_fwd(n, hw, ch, cr, x, w1, b1, w2, b2, save, y);
        g->se_fwd(n, hw, ch, cr, dx, dw1, db1, dw2, db2, dsave, dyv);
        cu_check(g, "se y", dyv, y, t, CU_TOL_FWD);
        cu_check(g, "se save", dsave, save, ns, CU_TOL_FWD);
        float *yh = cu_get(g, dyv, t), *dy2 = cu_nan(g, t); /* se_scale: the same bits */
        g->se_scale(n, hw, ch, cr, dx, dsave, dy2);
        cu_check_bits(g, "se_scale vs se_fwd", dy2, yh, t);
        free(yh), g->free(dy2);
        size_t nw = (size_t)cr * ch;
        float *gw1 = tu_rand(nw, 76, -1, 1), *gb1 = tu_rand(cr, 77, -1, 1);
        float *gw2 = tu_rand(nw, 78, -1, 1), *gb2 = tu_rand(ch, 79, -1, 1), *gx = tu_alloc(t);
        float *dgw1 = cu_put(g, gw1, nw), *dgb1 = cu_put(g, gb1, cr), *dgw2 = cu_put(g, gw2, nw);
        float *dgb2 = cu_put(g, gb2, ch), *dgx = cu_nan(g, t);
        float *ws = tu_alloc((size_t)n * (ch + cr)), *dws = cu_nan(g, (size_t)n * (ch + cr));
        c->se_bwd(n, hw, ch, cr, x, w1, b1, w2, b2, save, dy, gx, gw1, gb1, gw2, gb2, ws);
        g->se_bwd(n, hw, ch, cr, dx, dw1, db1, dw2, db2, dsave, ddy, dgx, dgw1, dgb1, dgw2, dgb2,
                  dws);
        cu_check(g, "se dx", dgx, gx, t, CU_TOL_GRAD);
        cu_check(g, "se dw1", dgw1, gw1, nw, CU_TOL_GRAD);
        cu_check(g, "se db1", dgb1, gb1, cr, CU_TOL_GRAD);
        cu_check(g, "se dw2", dgw2, gw2, nw, CU_TOL_GRAD);
        cu_check(g, "se db2", dgb2, gb2, ch, CU_TOL_GRAD);
        free(x), free(dy), free(y), free(p), free(w1), free(b1), free(w2), free(b2), free(save);
        free(gw1), free(gb1), free(gw2), free(gb2), free(gx), free(ws);
        g->free(dx), g->free(ddy), g->free(dyv), g->free(dpv), g->free(dw1), g->free(db1);
        g->free(dw2), g->free(db2), g->free(dsave), g->free(dgw1), g->free(dgb1), g->free(dgw2);
        g->free(dgb2), g->free(dgx), g->free(dws);
    }
}

/* ------------------------------------------------------------------ VAE */

Test(cuda_ops, vae_terms_reparam_and_svdd_distance, .timeout = 60) {
    const KOps *g = cuda_or_skip(), *c = kops_cpu();
    const int shapes[][3] = {{6, 1280, 16}, {3, 12288, 64}};
    for (size_t s = 0; s < 2; s++) {
        int rows = shapes[s][0], d = shapes[s][1], L = shapes[s][2];
        size_t nd = (size_t)rows * d, nl = (size_t)rows * L;
        float *drec, *dtg, *dmu, *dlv, *deps, *dwm, *dwk;
        float *rec = cu_rand_pair(g, nd, 80, -1, 1, &drec),
              *tg = cu_rand_pair(g, nd, 81, -1, 1, &dtg);
        float *mu = cu_rand_pair(g, nl, 82, -1, 1, &dmu),
              *lv = cu_rand_pair(g, nl, 83, -2, 1, &dlv);
        float *eps = cu_rand_pair(g, nl, 84, -2, 2, &deps);
        float *wm = cu_rand_pair(g, rows, 85, 0, 1, &dwm),
              *wk = cu_rand_pair(g, rows, 86, 0, 1, &dwk);
        float *z = tu_alloc(nl), *dz = cu_nan(g, nl);
        c->reparam_fwd(nl, mu, lv, eps, z), g->reparam_fwd(nl, dmu, dlv, deps, dz);
        cu_check(g, "reparam", dz, z, nl, CU_TOL_FWD);
        float *a = tu_alloc(nl), *b = tu_alloc(nl), *da = cu_nan(g, nl), *db = cu_nan(g, nl);
        c->reparam_bwd(nl, lv, eps, mu, a, b), g->reparam_bwd(nl, dlv, deps, dmu, da, db);
        cu_check(g, "reparam dmu", da, a, nl, CU_TOL_GRAD);
        cu_check(g, "reparam dlogvar", db, b, nl, CU_TOL_GRAD);
        float *mse = tu_alloc(rows), *kl = tu_alloc(rows), *dmse = cu_nan(g, rows),
              *dkl = cu_nan(g, rows);
        c->vae_terms(rows, d, L, rec, tg, mu, lv, mse, kl);
        g->vae_terms(rows, d, L, drec, dtg, dmu, dlv, dmse, dkl);
        cu_check(g, "vae mse", dmse, mse, rows, CU_TOL_FWD);
        cu_check(g, "vae kl", dkl, kl, rows, CU_TOL_FWD);
        float *gr = tu_alloc(nd), *dgr = cu_nan(g, nd);
        float *gm = tu_rand(nl, 87, -1, 1), *gl = tu_rand(nl, 88, -1, 1);
        float *dgm = cu_put(g, gm, nl), *dgl = cu_put(g, gl, nl);
        c->vae_terms_bwd(rows, d, L, rec, tg, mu, lv, wm, wk, gr, gm, gl);
        g->vae_terms_bwd(rows, d, L, drec, dtg, dmu, dlv, dwm, dwk, dgr, dgm, dgl);
        cu_check(g, "vae drecon", dgr, gr, nd, CU_TOL_GRAD);
        cu_check(g, "vae dmu (accumulated)", dgm, gm, nl, CU_TOL_GRAD);
        cu_check(g, "vae dlogvar (accumulated)", dgl, gl, nl, CU_TOL_GRAD);
        /* SVDD distance on the first L columns of rec as embeddings */
        float *sd = tu_alloc(rows), *dsd = cu_nan(g, rows), *gx = tu_alloc(nl),
              *dgx = cu_nan(g, nl);
        c->sqdist_fwd(rows, L, mu, eps, sd), g->sqdist_fwd(rows, L, dmu, deps, dsd);
        cu_check(g, "sqdist", dsd, sd, rows, CU_TOL_FWD);
        c->sqdist_bwd(rows, L, mu, eps, wm, gx), g->sqdist_bwd(rows, L, dmu, deps, dwm, dgx);
        cu_check(g, "sqdist dx", dgx, gx, nl, CU_TOL_GRAD);
        free(rec), free(tg), free(mu), free(lv), free(eps), free(wm), free(wk), free(z), free(a);
        free(b), free(mse), free(kl), free(gr), free(gm), free(gl), free(sd), free(gx);
        float *devs[] = {drec, dtg,  dmu, dlv, deps, dwm, dwk, dz, da,
                         db,   dmse, dkl, dgr, dgm,  dgl, dsd, dgx};
        for (size_t i = 0; i < sizeof devs / sizeof *devs; i++) g->free(devs[i]);
    }
}

/* --------------------------------------------------------------- noise */

Test(cuda_ops, dropout_masks_and_normals_are_the_cpus, .timeout = 60) {
    const KOps *g = cuda_or_skip(), *c = kops_cpu();
    RngStream s = rng_substream(rng_stream(7, "dropout"), 3);
    size_t n = 1000003;
    float *m = tu_alloc(n), *dm = cu_nan(g, n);
    c->fill_dropout(s, 42, n, 0.3f, m), g->fill_dropout(s, 42, n, 0.3f, dm);
    float *h = cu_get(g, dm, n);
    tu_assert_bytes_equal(h, m, n * sizeof(float), "dropout mask");
    free(h);
    size_t nn = 100001;
    c->fill_normal(s, 9, nn, m), g->fill_normal(s, 9, nn, dm);
    h = cu_get(g, dm, nn);
    tu_assert_close(h, m, nn, 1e-6, 1e-6, "normals"); /* double Box-Muller: libm vs CUDA math */
    free(h), free(m);
    g->free(dm);
}

/* ---------------------------------------------------------------- loss */

Test(cuda_ops, loss_matches_cpu_in_every_svdd_mode, .timeout = 60) {
    const KOps *g = cuda_or_skip(), *c = kops_cpu();
    int B = 8, C = 14, T = 3, R = B * T;
    float *cls = tu_rand((size_t)B * C, 90, -3, 3), *bin = tu_rand((size_t)B * 2, 91, -2, 2);
    float *score = tu_rand(B, 92, 0, 3), *mse = tu_rand(R, 93, 0, 1), *kl = tu_rand(R, 94, 0, 2);
    float tgt[8 * K_TGT];
    for (int i = 0; i < B; i++) {
        float *t = tgt + i * K_TGT;
        t[0] = (float)(i % C), t[1] = (float)((i * 5) % C), t[2] = (float)(i % 3 == 0);
        t[3] = (float)(i % 2), t[4] = i < 4 ? 1.0f : 0.3f + 0.1f * (float)i;
    }
    double alpha[14];
    for (int j = 0; j < C; j++) alpha[j] = 0.5 + 0.1 * j;
    double *dalpha = g->alloc(sizeof alpha);
    g->upload(dalpha, alpha, sizeof alpha);
    float *dcls = cu_put(g, cls, (size_t)B * C), *dbin = cu_put(g, bin, (size_t)B * 2);
    float *dsc = cu_put(g, score, B), *dmse = cu_put(g, mse, R), *dkl = cu_put(g, kl, R);
    float *dtgt = cu_put(g, tgt, (size_t)B * K_TGT);
    for (int mode = 0; mode < 3; mode++)
        for (int vae = 0; vae < 2; vae++) {
            KLoss L = {B,   C,   R,   vae == 1, 2.5,  0.25, 0.1, 1.0,
                       0.5, 0.3, 0.2, 1.0,      mode, 0.1,  1.2, true};
            float gc[8 * 14], gbn[16], gw[8], gwm[24], gwk[24];
            double parts[K_LOSS_PARTS], gparts[K_LOSS_PARTS];
            float *dgc = cu_nan(g, (size_t)B * C), *dgb = cu_nan(g, (size_t)B * 2);
            float *dgw = cu_nan(g, B), *dgwm = cu_nan(g, R), *dgwk = cu_nan(g, R);
            double *dparts = g->alloc(sizeof parts);
            const double *ca = mode == 1 ? NULL : alpha, *ga = mode == 1 ? NULL : dalpha;
            c->loss(&L, tgt, ca, cls, bin, score, vae ? mse : NULL, vae ? kl : NULL, gc, gbn, gw,
                    gwm, gwk, parts);
            g->loss(&L, dtgt, ga, dcls, dbin, dsc, vae ? dmse : NULL, vae ? dkl : NULL, dgc, dgb,
                    dgw, dgwm, dgwk, dparts);
            g->download(gparts, dparts, sizeof gparts);
            for (int p = 0; p < K_LOSS_PARTS; p++)
                cr_assert(fabs(gparts[p] - parts[p]) <= 1e-12 * (fabs(parts[p]) + 1),
                          "mode %d vae %d part %d: cuda %.17g cpu %.17g", mode, vae, p, gparts[p],
                          parts[p]);
            cu_check(g, "loss d cls", dgc, gc, (size_t)B * C, 1e-6);
            cu_check(g, "loss d bin", dgb, gbn, (size_t)B * 2, 1e-6);
            cu_check(g, "loss d score", dgw, gw, B, 1e-6);
            cu_check(g, "loss d mse", dgwm, gwm, R, 1e-6);
            cu_check(g, "loss d kl", dgwk, gwk, R, 1e-6);
            g->free(dgc), g->free(dgb), g->free(dgw), g->free(dgwm), g->free(dgwk), g->free(dparts);
        }
    free(cls), free(bin), free(score), free(mse), free(kl);
    g->free(dalpha), g->free(dcls), g->free(dbin), g->free(dsc), g->free(dmse), g->free(dkl);
    g->free(dtgt);
}

/* ----------------------------------------------------------- optimiser */

Test(cuda_ops, adamw_clipping_and_sam, .timeout = 60) {
    const KOps *g = cuda_or_skip(), *c = kops_cpu();
    size_t n = 100003;
    float *dp, *dgr, *dm, *dv;
    float *p = cu_rand_pair(g, n, 100, -1, 1, &dp),
          *gr = cu_rand_pair(g, n, 101, -0.1f, 0.1f, &dgr);
    float *m = cu_rand_pair(g, n, 102, -0.01f, 0.01f, &dm),
          *v = cu_rand_pair(g, n, 103, 0, 1e-4f, &dv);
    for (int64_t step = 1; step <= 7; step += 6) {
        c->adamw(n, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, step, NULL, 0, p, gr, m, v);
        g->adamw(n, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, step, NULL, 0, dp, dgr, dm, dv);
    }
    cu_check(g, "adamw p", dp, p, n, CU_TOL_FWD);
    cu_check(g, "adamw m", dm, m, n, CU_TOL_FWD);
    cu_check(g, "adamw v", dv, v, n, CU_TOL_FWD);
    /* the norm, then AdamW with the clip fused, for a clipping, a
     * non-clipping and a zero max_norm; the gradients stay unscaled */
    const double maxes[] = {1.0, 1e6, 0.0};
    double *dnorm = g->alloc(2 * sizeof(double));
    for (int i = 0; i < 3; i++) {
        double cn, gn;
        c->grad_norm(n, gr, &cn);
        g->grad_norm(n, dgr, dnorm);
        g->download(&gn, dnorm, sizeof gn);
        cr_assert(fabs(gn - cn) <= 1e-12 * cn, "norm: cuda %.17g cpu %.17g", gn, cn);
        c->adamw(n, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, 8 + i, &cn, maxes[i], p, gr, m, v);
        g->adamw(n, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.01f, 8 + i, dnorm, maxes[i], dp, dgr, dm, dv);
        cu_check(g, "clipped adamw p", dp, p, n, CU_TOL_FWD);
        cu_check(g, "clipped adamw m", dm, m, n, CU_TOL_FWD);
        cu_check(g, "unscaled gradient", dgr, gr, n, 0);
    }
    float *e = tu_alloc(n), *t = tu_alloc(n), *de = cu_nan(g, n), *dt = cu_nan(g, n);
    for (int adaptive = 0; adaptive < 2; adaptive++) {
        double cn, gn;
        c->sam_perturb(n, adaptive ? 2.0 : 0.05, adaptive, p, gr, e, t, &cn);
        g->sam_perturb(n, adaptive ? 2.0 : 0.05, adaptive, dp, dgr, de, dt, dnorm);
        g->download(&gn, dnorm, sizeof gn);
        cr_assert(fabs(gn - cn) <= 1e-12 * cn, "SAM norm: cuda %.17g cpu %.17g", gn, cn);
        cu_check(g, "SAM e", de, e, n, CU_TOL_GRAD);
        cu_check(g, "SAM p + e", dp, p, n, CU_TOL_FWD);
    }
    /* a zero gradient: e = 0 and p unchanged on both */
    memset(gr, 0, n * sizeof(float));
    g->zero(dgr, n * sizeof(float));
    double cn;
    c->sam_perturb(n, 0.05, false, p, gr, e, t, &cn);
    g->sam_perturb(n, 0.05, false, dp, dgr, de, dt, dnorm);
    cu_check(g, "SAM e at a zero gradient", de, e, n, 0);
    cu_check(g, "SAM p at a zero gradient", dp, p, n, CU_TOL_FWD);
    free(p), free(gr), free(m), free(v), free(e), free(t);
    g->free(dp), g->free(dgr), g->free(dm), g->free(dv), g->free(dnorm), g->free(de), g->free(dt);
}

/* ---------------------------------------------------- memory and state */

Test(cuda_ops, memory_ops_timers_and_info, .timeout = 60) {
    const KOps *g = cuda_or_skip();
    size_t n = ((size_t)40 << 20) / 4 + 5; /* crosses the staging ring's chunks */
    float *h = tu_rand(n, 110, -1, 1);
    float *d = g->alloc(n * 4), *e = g->alloc(n * 4);
    float *z = cu_get(g, d, 1000);
    for (int i = 0; i < 1000; i++) cr_assert_eq(z[i], 0.0f, "alloc is not zero-filled");
    free(z);
    g->upload(d, h, n * 4);
    memset(h + n / 2, 0, 64); /* the host buffer is free again on return */
    g->copy(e, d, n * 4);
    float *back = cu_get(g, e, n), *want = tu_rand(n, 110, -1, 1);
    tu_assert_bytes_equal(back, want, n * 4, "upload, copy, download");
    g->zero(e, 4096);
    free(back);
    back = cu_get(g, e, 1024);
    for (int i = 0; i < 1024; i++) cr_assert_eq(back[i], 0.0f);
    void *t0 = g->timer_new(), *t1 = g->timer_new();
    cr_assert(t0 && t1);
    g->timer_mark(t0);
    g->scale(n, 0.5f, d);
    g->timer_mark(t1);
    double ms = g->timer_ms(t0, t1);
    cr_assert(ms >= 0 && ms < 10000, "timer: %g ms", ms);
    g->timer_free(t0), g->timer_free(t1);
    KInfo ki;
    g->info(&ki);
    if (!cu_as_cpu()) {
        cr_assert(ki.device[0] && ki.driver[0] && strstr(ki.libraries, "cuDNN"),
                  "info: %s | %s | %s", ki.device, ki.driver, ki.libraries);
        size_t fr, tot;
        g->mem_info(&fr, &tot);
        cr_assert(tot > 0 && fr <= tot);
    }
    cr_assert_eq(g->status(), VB_OK, "%s", vb_errmsg());
    free(h), free(back), free(want);
    g->free(d), g->free(e);
}

/* Two runs of the same GPU work give the same bytes (no atomics, fixed order). */
Test(cuda_ops, repeated_gpu_work_is_byte_identical, .timeout = 60) {
    const KOps *g = cuda_or_skip();
    int rows = 50000, ch = 48;
    size_t t = (size_t)rows * ch;
    float *dx, *ddy, *out[2][4];
    float *x = cu_rand_pair(g, t, 120, -2, 2, &dx), *dy = cu_rand_pair(g, t, 121, -1, 1, &ddy);
    KBn p = {rows, ch, 1e-5f, 0.1f, K_ACT_SILU};
    for (int r = 0; r < 2; r++) {
        float *rm = cu_put(g, x, ch), *rv = cu_put(g, x + ch, ch), *mean = cu_nan(g, ch);
        float *inv = cu_nan(g, ch), *y = cu_nan(g, t), *gx = cu_nan(g, t), *gg = cu_put(g, x, ch);
        float *gb = cu_put(g, x, ch);
        g->bn_train_fwd(&p, dx, NULL, NULL, rm, rv, true, mean, inv, y);
        g->bn_train_bwd(&p, dx, NULL, NULL, mean, inv, ddy, gx, gg, gb);
        out[r][0] = cu_get(g, y, t), out[r][1] = cu_get(g, gx, t);
        out[r][2] = cu_get(g, gg, ch), out[r][3] = cu_get(g, rv, ch);
        g->free(rm), g->free(rv), g->free(mean), g->free(inv), g->free(y), g->free(gx);
        g->free(gg), g->free(gb);
    }
    tu_assert_bytes_equal(out[0][0], out[1][0], t * 4, "bn y");
    tu_assert_bytes_equal(out[0][1], out[1][1], t * 4, "bn dx");
    tu_assert_bytes_equal(out[0][2], out[1][2], ch * 4, "bn dgamma");
    tu_assert_bytes_equal(out[0][3], out[1][3], ch * 4, "bn running var");
    for (int r = 0; r < 2; r++)
        for (int i = 0; i < 4; i++) free(out[r][i]);
    free(x), free(dy);
    g->free(dx), g->free(ddy);
}

/* bf16: GEMMs round their inputs to bfloat16 and stay within the bf16 band. */
Test(cuda_ops, bf16_gemm_and_linear_within_band, .timeout = 60) {
    const KOps *g = cuda_bf16_or_skip(), *c = kops_cpu();
    int m = 256, n = 300, k = 512;
    float *da, *db;
    float *a = cu_rand_pair(g, (size_t)m * k, 130, -1, 1, &da),
          *b = cu_rand_pair(g, (size_t)k * n, 131, -1, 1, &db);
    float *cc = tu_alloc((size_t)m * n), *dc = cu_nan(g, (size_t)m * n);
    c->gemm(false, false, m, n, k, 1.0f, a, k, b, n, 0.0f, cc, n);
    g->gemm(false, false, m, n, k, 1.0f, da, k, db, n, 0.0f, dc, n);
    float *h = cu_get(g, dc, (size_t)m * n);
    cu_assert_bf16("gemm", h, cc, (size_t)m * n);
    /* ... and are not the fp32 result: the rounding happened */
    double md = 0;
    for (size_t i = 0; i < (size_t)m * n; i++) md = fmax(md, fabs((double)h[i] - cc[i]));
    cr_assert_gt(md, 1e-5, "bf16 GEMM equals the fp32 one: precision not applied");
    cr_assert_eq(g->set_precision(K_PREC_FP32), VB_OK);
    free(a), free(b), free(cc), free(h);
    g->free(da), g->free(db), g->free(dc);
}
