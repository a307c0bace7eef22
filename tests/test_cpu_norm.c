/* Tests of the CPU backend's normalisation ops (cpu_norm.c): batchnorm with
 * fused activations (training and evaluation), global average pooling and
 * squeeze-excitation. Hand-checked cases, edge shapes (one channel, two
 * rows, several tiles and channel super-blocks), finite-difference gradient
 * checks (testutil.h tolerances unless a test says otherwise), accumulation
 * of parameter gradients, and 1 vs 2 threads byte for byte. */
#include "testutil.h"

#include "kernels/cpu/cpu_internal.h" /* CPU_TILE: shapes that span several tiles */

#define K kops_cpu()

static const KAct all_acts[] = {K_ACT_NONE,  K_ACT_RELU,    K_ACT_SILU,
                                K_ACT_LEAKY, K_ACT_SIGMOID, K_ACT_TANH};

static double ref_act(KAct a, double v) {
    switch (a) {
    case K_ACT_RELU: return v > 0 ? v : 0;
    case K_ACT_SILU: return v / (1 + exp(-v));
    case K_ACT_LEAKY: return v > 0 ? v : 0.2 * v;
    case K_ACT_SIGMOID: return 1 / (1 + exp(-v));
    case K_ACT_TANH: return tanh(v);
    default: return v;
    }
}

/* Double-precision training-mode batchnorm: mean, biased var, y. */
static void ref_bn(const KBn *p, const float *x, const float *gamma, const float *beta,
                   double *mean, double *var, float *y) {
    for (int j = 0; j < p->c; j++) {
        double s = 0, q = 0;
        for (int i = 0; i < p->rows; i++) s += x[(size_t)i * p->c + j];
        mean[j] = s / p->rows;
        for (int i = 0; i < p->rows; i++) {
            double d = x[(size_t)i * p->c + j] - mean[j];
            q += d * d;
        }
        var[j] = q / p->rows;
        for (int i = 0; i < p->rows; i++) {
            double xh = (x[(size_t)i * p->c + j] - mean[j]) / sqrt(var[j] + p->eps);
            y[(size_t)i * p->c + j] = (float)ref_act(p->act, xh * gamma[j] + beta[j]);
        }
    }
}

/* ---- batchnorm forward ---- */

Test(cpu_norm, bn_train_fwd_hand_and_running_update) {
    /* two channels: column 0 = 1,2,3,4 (mean 2.5, biased var 1.25, unbiased
     * 5/3); column 1 constant 7 (var 0) */
    KBn p = {4, 2, 1e-5f, 0.1f, K_ACT_NONE};
    const float x[8] = {1, 7, 2, 7, 3, 7, 4, 7};
    const float gamma[2] = {2, 3}, beta[2] = {1, -1};
    float rm[2] = {0.5f, 1}, rv[2] = {2, 4}, mean[2], invstd[2], y[8];
    K->bn_train_fwd(&p, x, gamma, beta, rm, rv, true, mean, invstd, y);
    cr_assert_float_eq(mean[0], 2.5f, 0);
    cr_assert_float_eq(mean[1], 7.0f, 0);
    cr_assert_float_eq(invstd[0], (float)(1 / sqrt(1.25 + 1e-5)), 1e-7);
    cr_assert_float_eq(invstd[1], (float)(1 / sqrt(1e-5)), 1e-3);
    float want[8];
    for (int i = 0; i < 4; i++) {
        want[2 * i] = (float)(2 * (x[2 * i] - 2.5) / sqrt(1.25 + 1e-5) + 1);
        want[2 * i + 1] = -1; /* x - mean = 0 */
    }
    tu_assert_close(y, want, 8, 1e-6, 1e-6, "bn y");
    /* running = 0.9 running + 0.1 batch, variance unbiased */
    cr_assert_float_eq(rm[0], 0.9f * 0.5f + 0.1f * 2.5f, 1e-7);
    cr_assert_float_eq(rm[1], 0.9f * 1 + 0.1f * 7, 1e-6);
    cr_assert_float_eq(rv[0], (float)(0.9 * 2 + 0.1 * 5.0 / 3.0), 1e-6);
    cr_assert_float_eq(rv[1], 0.9f * 4, 1e-6);
}

Test(cpu_norm, bn_train_fwd_without_running_update) {
    KBn p = {4, 2, 1e-5f, 0.1f, K_ACT_SILU};
    const float x[8] = {1, 7, 2, 7, 3, 7, 4, 7}, gamma[2] = {2, 3}, beta[2] = {1, -1};
    float rm[2] = {0.5f, NAN}, rv[2] = {2, -3}, mean[2], invstd[2], y[8];
    const float rm0[2] = {0.5f, NAN}, rv0[2] = {2, -3};
    K->bn_train_fwd(&p, x, gamma, beta, rm, rv, false, mean, invstd, y);
    tu_assert_bytes_equal(rm, rm0, sizeof rm, "running mean untouched");
    tu_assert_bytes_equal(rv, rv0, sizeof rv, "running var untouched");
    cr_assert_float_eq(mean[0], 2.5f, 0);
    cr_assert(K->all_finite(8, y));
}

Test(cpu_norm, bn1d_two_rows_and_single_channel) {
    /* BatchNorm1d with batch 2: mean (a+b)/2, var ((a-b)/2)^2, unbiased (a-b)^2/2 */
    KBn p = {2, 3, 1e-5f, 0.25f, K_ACT_RELU};
    const float x[6] = {1, -2, 0.5f, 3, 2, 0.5f}, gamma[3] = {1, 1, 1}, beta[3] = {0, 0, 0};
    float rm[3] = {0, 0, 0}, rv[3] = {1, 1, 1}, mean[3], invstd[3], y[6];
    K->bn_train_fwd(&p, x, gamma, beta, rm, rv, true, mean, invstd, y);
    const float wmean[3] = {2, 0, 0.5f}, wrv[3] = {0.75f + 0.25f * 2, 0.75f + 0.25f * 8, 0.75f};
    tu_assert_close(mean, wmean, 3, 0, 0, "mean");
    tu_assert_close(rv, wrv, 3, 1e-6, 0, "running var (unbiased)");
    /* each column normalises to -1, +1 (up to eps), then ReLU; column 2 is 0 */
    const float wy[6] = {0, 0, 0, 1, 1, 0};
    tu_assert_close(y, wy, 6, 0, 1e-4, "y");

    /* c = 1, odd rows, against the double reference */
    KBn q = {5, 1, 1e-3f, 0.1f, K_ACT_TANH};
    const float x1[5] = {0.3f, -1.2f, 2.5f, 0.1f, 0.7f}, g1[1] = {1.5f}, b1[1] = {0.2f};
    float m1[1], s1[1], y1[5], r1m[1] = {0}, r1v[1] = {1}, ry[5];
    double dm[1], dv[1];
    K->bn_train_fwd(&q, x1, g1, b1, r1m, r1v, true, m1, s1, y1);
    ref_bn(&q, x1, g1, b1, dm, dv, ry);
    cr_assert_float_eq(m1[0], (float)dm[0], 1e-6);
    cr_assert_float_eq(s1[0], (float)(1 / sqrt(dv[0] + 1e-3)), 1e-6);
    tu_assert_close(y1, ry, 5, 1e-5, 1e-6, "c = 1");
}

Test(cpu_norm, bn_train_fwd_large_shapes_vs_reference) {
    /* 3 row tiles with a ragged end, and channel counts that cover a partial
     * channel block (70) and two channel super-blocks (600). A large common
     * offset checks that the variance does not suffer from cancellation. */
    int shapes[2][2] = {{2 * CPU_TILE + 37, 70}, {CPU_TILE + 5, 600}};
    for (int s = 0; s < 2; s++) {
        KBn p = {shapes[s][0], shapes[s][1], 1e-5f, 0.1f, K_ACT_SILU};
        size_t n = (size_t)p.rows * p.c;
        float *x = tu_rand(n, 100 + s, 99.0f, 101.0f); /* mean ~100, std ~0.58 */
        float *gamma = tu_rand(p.c, 110, 0.5f, 1.5f), *beta = tu_rand(p.c, 111, -1, 1);
        float *rm = tu_alloc(p.c), *rv = tu_alloc(p.c), *mean = tu_alloc(p.c);
        float *invstd = tu_alloc(p.c), *y = tu_alloc(n), *ry = tu_alloc(n);
        double *dm = calloc(p.c, sizeof(double)), *dv = calloc(p.c, sizeof(double));
        K->bn_train_fwd(&p, x, gamma, beta, rm, rv, true, mean, invstd, y);
        ref_bn(&p, x, gamma, beta, dm, dv, ry);
        for (int j = 0; j < p.c; j++) {
            cr_assert(fabs(mean[j] - dm[j]) <= 1e-7 * 100, "mean %d", j);
            double is = 1 / sqrt(dv[j] + p.eps);
            cr_assert(fabs(invstd[j] - is) <= 1e-6 * is, "invstd %d: %g vs %g", j, invstd[j], is);
            double unb = dv[j] * p.rows / (p.rows - 1);
            cr_assert(fabs(rv[j] - 0.1 * unb) <= 1e-6 * unb, "running var %d", j);
        }
        /* y: (x - mean) loses about ulp(100)/std = 1e-5 relative to the
         * normalised value, so compare at 1e-4 absolute */
        tu_assert_close(y, ry, n, 1e-5, 1e-4, "bn y");
        free(x), free(gamma), free(beta), free(rm), free(rv), free(mean), free(invstd);
        free(y), free(ry), free(dm), free(dv);
    }
}

/* se_scale recomputes the SE forward's output from what it saved (EfficientNet
 * drops that tensor and recomputes it in the backward): the same bytes on
 * every instruction-set path. */
Test(cpu_norm, se_scale_repeats_the_forward_bit_for_bit) {
    for (int isa = 0; isa < K_ISA_N; isa++) {
        if (!kisa_supported((KIsa)isa)) continue;
        cr_assert_eq(kisa_set((KIsa)isa), VB_OK);
        int nn = 3, hw = 700, c = 70, cr = 8;
        size_t n = (size_t)nn * hw * c;
        float *x = tu_rand(n, 150, -1, 1), *w1 = tu_rand(cr * c, 151, -1, 1);
        float *w2 = tu_rand(c * cr, 152, -1, 1), *b1 = tu_rand(cr, 153, -1, 1);
        float *b2 = tu_rand(c, 154, -1, 1), *save = tu_alloc(nn * (2 * c + cr));
        float *y = tu_alloc(n), *y2 = tu_alloc(n);
        K->se_fwd(nn, hw, c, cr, x, w1, b1, w2, b2, save, y);
        K->se_scale(nn, hw, c, cr, x, save, y2);
        tu_assert_bytes_equal(y, y2, n * sizeof(float), "se_scale");
        free(x), free(w1), free(w2), free(b1), free(b2), free(save), free(y), free(y2);
    }
}

Test(cpu_norm, bn_eval_fwd_hand) {
    KBn p = {3, 2, 0.0f, 0.1f, K_ACT_RELU};
    const float x[6] = {1, 0, 3, 5, -4, 2}, gamma[2] = {2, 1}, beta[2] = {0.5f, 0};
    const float rm[2] = {1, 1}, rv[2] = {4, 0.25f};
    float y[6];
    K->bn_eval_fwd(&p, x, gamma, beta, rm, rv, y);
    /* ch0: 2*(x-1)/2 + 0.5; ch1: (x-1)/0.5; then ReLU */
    const float want[6] = {0.5f, 0, 2.5f, 8, 0, 2};
    tu_assert_close(y, want, 6, 0, 0, "bn eval");
    /* gamma, beta NULL: 1 and 0 */
    const float one[2] = {1, 1}, zero[2] = {0, 0};
    float y1[6];
    K->bn_eval_fwd(&p, x, NULL, NULL, rm, rv, y);
    K->bn_eval_fwd(&p, x, one, zero, rm, rv, y1);
    tu_assert_bytes_equal(y, y1, sizeof y, "bn eval without affine");
}

/* ---- batchnorm backward ---- */

typedef struct BnCtx {
    KBn p;
    bool eval;
    float *x, *gamma, *beta, *rm, *rv, *mean, *invstd, *y, *r;
} BnCtx;

static double bn_loss(void *v) {
    BnCtx *c = v;
    if (c->eval) K->bn_eval_fwd(&c->p, c->x, c->gamma, c->beta, c->rm, c->rv, c->y);
    else
        K->bn_train_fwd(&c->p, c->x, c->gamma, c->beta, c->rm, c->rv, false, c->mean, c->invstd,
                        c->y);
    return tu_dot(c->y, c->r, (size_t)c->p.rows * c->p.c);
}

static BnCtx bn_ctx(int rows, int c, KAct act, bool eval, uint64_t seed) {
    BnCtx b = {
        {rows, c, 1e-5f, 0.1f, act}, eval, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    size_t n = (size_t)rows * c;
    b.x = tu_rand(n, seed, -1, 1);
    b.gamma = tu_rand(c, seed + 1, 0.5f, 1.5f), b.beta = tu_rand(c, seed + 2, -0.5f, 0.5f);
    b.rm = tu_rand(c, seed + 3, -0.2f, 0.2f), b.rv = tu_rand(c, seed + 4, 0.3f, 1.0f);
    b.mean = tu_alloc(c), b.invstd = tu_alloc(c), b.y = tu_alloc(n);
    b.r = tu_rand(n, seed + 5, -1, 1);
    return b;
}

static void bn_ctx_free(BnCtx *b) {
    free(b->x), free(b->gamma), free(b->beta), free(b->rm), free(b->rv), free(b->mean);
    free(b->invstd), free(b->y), free(b->r);
}

/* Smallest |pre-activation| over the batch: ReLU and LeakyReLU are only
 * differentiable away from 0, so their checks need a margin well above the
 * step's effect on pre (about h*gamma*invstd ~ 0.03 here). */
static double bn_min_abs_pre(BnCtx *c) {
    bn_loss(c);
    double mn = INFINITY;
    for (int i = 0; i < c->p.rows; i++)
        for (int j = 0; j < c->p.c; j++) {
            double is = c->eval ? 1 / sqrt(c->rv[j] + c->p.eps) : c->invstd[j];
            double m = c->eval ? c->rm[j] : c->mean[j];
            double pre = (c->x[(size_t)i * c->p.c + j] - m) * is * c->gamma[j] + c->beta[j];
            mn = fmin(mn, fabs(pre));
        }
    return mn;
}

static void check_bn_bwd(int rows, int cc, KAct act, bool eval) {
    BnCtx c;
    uint64_t seed = 200;
    for (;; seed += 10) { /* deterministic search for data away from kinks */
        c = bn_ctx(rows, cc, act, eval, seed);
        if ((act != K_ACT_RELU && act != K_ACT_LEAKY) || bn_min_abs_pre(&c) > 0.1) break;
        bn_ctx_free(&c);
    }
    size_t n = (size_t)rows * cc;
    float *dx = tu_rand(n, 1, -9, 9); /* garbage: must be overwritten */
    float *dg = tu_alloc(cc), *db = tu_alloc(cc);
    for (int j = 0; j < cc; j++) dg[j] = 3.0f, db[j] = -1.0f; /* accumulate onto these */
    bn_loss(&c);
    if (eval) K->bn_eval_bwd(&c.p, c.x, c.gamma, c.beta, c.rm, c.rv, c.r, dx, dg, db);
    else K->bn_train_bwd(&c.p, c.x, c.gamma, c.beta, c.mean, c.invstd, c.r, dx, dg, db);
    for (int j = 0; j < cc; j++) dg[j] -= 3.0f, db[j] += 1.0f;
    char what[64];
    snprintf(what, sizeof what, "%s act %d dx", eval ? "eval" : "train", (int)act);
    tu_gradcheck(bn_loss, &c, c.x, dx, n, 1e-2f, 1e-2, 2e-3, 200, what);
    snprintf(what, sizeof what, "%s act %d dgamma", eval ? "eval" : "train", (int)act);
    tu_gradcheck(bn_loss, &c, c.gamma, dg, cc, 1e-2f, 1e-2, 2e-3, 200, what);
    snprintf(what, sizeof what, "%s act %d dbeta", eval ? "eval" : "train", (int)act);
    tu_gradcheck(bn_loss, &c, c.beta, db, cc, 1e-2f, 1e-2, 2e-3, 200, what);

    /* dx aliasing dy gives the same bytes; NULL parameter grads are skipped */
    float *g = tu_alloc(n);
    memcpy(g, c.r, n * sizeof(float));
    bn_loss(&c);
    if (eval) K->bn_eval_bwd(&c.p, c.x, c.gamma, c.beta, c.rm, c.rv, g, g, NULL, NULL);
    else K->bn_train_bwd(&c.p, c.x, c.gamma, c.beta, c.mean, c.invstd, g, g, NULL, NULL);
    tu_assert_bytes_equal(g, dx, n * sizeof(float), "dx in place over dy");
    free(dx), free(dg), free(db), free(g);
    bn_ctx_free(&c);
}

Test(cpu_norm, bn_train_bwd_gradcheck_each_act) {
    for (size_t i = 0; i < sizeof all_acts / sizeof *all_acts; i++)
        check_bn_bwd(6, 3, all_acts[i], false);
}

Test(cpu_norm, bn_train_bwd_gradcheck_edges) {
    check_bn_bwd(2, 1, K_ACT_SILU, false); /* BatchNorm1d, batch 2, one channel */
    check_bn_bwd(7, 5, K_ACT_NONE, false);
}

Test(cpu_norm, bn_eval_bwd_gradcheck) {
    check_bn_bwd(6, 3, K_ACT_SILU, true);
    check_bn_bwd(5, 2, K_ACT_LEAKY, true);
    check_bn_bwd(1, 4, K_ACT_NONE, true); /* one row is fine with frozen statistics */
}

Test(cpu_norm, bn_train_bwd_multi_tile_matches_formula) {
    /* analytic dx at a size where finite differences are too slow: compare
     * with the closed form in double (act NONE), across tiles and blocks */
    KBn p = {3 * CPU_TILE + 11, 70, 1e-5f, 0.1f, K_ACT_NONE};
    size_t n = (size_t)p.rows * p.c;
    float *x = tu_rand(n, 300, -2, 2), *dy = tu_rand(n, 301, -1, 1), *y = tu_alloc(n);
    float *gamma = tu_rand(p.c, 302, 0.5f, 1.5f), *beta = tu_rand(p.c, 303, -1, 1);
    float *mean = tu_alloc(p.c), *invstd = tu_alloc(p.c), *dx = tu_alloc(n);
    float *dg = tu_alloc(p.c), *db = tu_alloc(p.c), *rdx = tu_alloc(n);
    K->bn_train_fwd(&p, x, gamma, beta, NULL, NULL, false, mean, invstd, y);
    K->bn_train_bwd(&p, x, gamma, beta, mean, invstd, dy, dx, dg, db);
    for (int j = 0; j < p.c; j++) {
        double s1 = 0, s2 = 0;
        for (int i = 0; i < p.rows; i++) {
            size_t o = (size_t)i * p.c + j;
            double xh = (x[o] - (double)mean[j]) * invstd[j];
            s1 += dy[o], s2 += dy[o] * xh;
        }
        cr_assert(fabs(db[j] - s1) <= 1e-4 * (1 + fabs(s1)), "dbeta %d: %g vs %g", j, db[j], s1);
        cr_assert(fabs(dg[j] - s2) <= 1e-4 * (1 + fabs(s2)), "dgamma %d: %g vs %g", j, dg[j], s2);
        for (int i = 0; i < p.rows; i++) {
            size_t o = (size_t)i * p.c + j;
            double xh = (x[o] - (double)mean[j]) * invstd[j];
            rdx[o] = (float)(gamma[j] * invstd[j] * (dy[o] - s1 / p.rows - xh * s2 / p.rows));
        }
    }
    tu_assert_close(dx, rdx, n, 1e-4, 1e-5, "bn dx (closed form)");
    free(x), free(dy), free(y), free(gamma), free(beta), free(mean), free(invstd), free(dx);
    free(dg), free(db), free(rdx);
}

/* ---- global average pooling ---- */

Test(cpu_norm, gap_hand) {
    const float x[12] = {1,  2, 3,  4, 5, 6, /* sample 0: hw 3, c 2 */
                         -1, 0, -3, 2, 1, 1};
    float y[4];
    K->gap_fwd(2, 3, 2, x, y);
    const float want[4] = {3, 4, -1, 1};
    tu_assert_close(y, want, 4, 0, 0, "gap");
    const float dy[4] = {3, 6, -3, 0};
    float dx[12];
    K->gap_bwd(2, 3, 2, dy, dx);
    const float wdx[12] = {1, 2, 1, 2, 1, 2, -1, 0, -1, 0, -1, 0};
    tu_assert_close(dx, wdx, 12, 0, 0, "gap bwd");
}

typedef struct GapCtx {
    int n, hw, c;
    float *x, *y, *r;
} GapCtx;

static double gap_loss(void *v) {
    GapCtx *g = v;
    K->gap_fwd(g->n, g->hw, g->c, g->x, g->y);
    return tu_dot(g->y, g->r, (size_t)g->n * g->c);
}

Test(cpu_norm, gap_bwd_gradcheck) {
    GapCtx g = {2, 5, 67, NULL, NULL, NULL}; /* 67 channels: a partial channel block */
    size_t n = (size_t)g.n * g.hw * g.c;
    g.x = tu_rand(n, 400, -1, 1), g.y = tu_alloc(g.n * g.c), g.r = tu_rand(g.n * g.c, 401, -1, 1);
    float *dx = tu_alloc(n);
    K->gap_bwd(g.n, g.hw, g.c, g.r, dx);
    tu_gradcheck(gap_loss, &g, g.x, dx, n, 1e-2f, 1e-2, 2e-3, 300, "gap dx");
    free(g.x), free(g.y), free(g.r), free(dx);
}

/* ---- squeeze-excitation ---- */

static double sigm(double v) { return 1 / (1 + exp(-v)); }

Test(cpu_norm, se_fwd_hand) {
    /* n 1, hw 2, c 2, cr 1: s = [2, 3]; r_pre = 0.5*2 - 0.25*3 + 0.1 = 0.35;
     * g = sigmoid([r, -2r + 0.5]) with r = silu(0.35); y = x * g */
    const float x[4] = {1, 2, 3, 4}, w1[2] = {0.5f, -0.25f}, b1[1] = {0.1f};
    const float w2[2] = {1, -2}, b2[2] = {0, 0.5f};
    float save[5], y[4];
    K->se_fwd(1, 2, 2, 1, x, w1, b1, w2, b2, save, y);
    double r = 0.35 * sigm(0.35), g0 = sigm(r), g1 = sigm(-2 * r + 0.5);
    const float wsave[5] = {2, 3, 0.35f, (float)g0, (float)g1};
    tu_assert_close(save, wsave, 5, 1e-6, 1e-7, "se save [s | r_pre | g]");
    const float wy[4] = {(float)g0, (float)(2 * g1), (float)(3 * g0), (float)(4 * g1)};
    tu_assert_close(y, wy, 4, 1e-6, 0, "se y");
}

typedef struct SeCtx {
    int n, hw, c, cr;
    float *x, *w1, *b1, *w2, *b2, *save, *y, *r;
} SeCtx;

static double se_loss(void *v) {
    SeCtx *s = v;
    K->se_fwd(s->n, s->hw, s->c, s->cr, s->x, s->w1, s->b1, s->w2, s->b2, s->save, s->y);
    return tu_dot(s->y, s->r, (size_t)s->n * s->hw * s->c);
}

Test(cpu_norm, se_bwd_gradcheck_and_accumulate) {
    SeCtx s = {2, 3, 4, 2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    size_t n = (size_t)s.n * s.hw * s.c;
    s.x = tu_rand(n, 500, -2, 2);
    s.w1 = tu_rand(s.cr * s.c, 501, -1, 1), s.b1 = tu_rand(s.cr, 502, -1, 1);
    s.w2 = tu_rand(s.c * s.cr, 503, -1, 1), s.b2 = tu_rand(s.c, 504, -1, 1);
    s.save = tu_alloc(s.n * (2 * s.c + s.cr)), s.y = tu_alloc(n), s.r = tu_rand(n, 505, -1, 1);
    float *dx = tu_rand(n, 506, -9, 9), *ws = tu_alloc(s.n * (s.c + s.cr));
    float *dw1 = tu_alloc(s.cr * s.c), *db1 = tu_alloc(s.cr);
    float *dw2 = tu_alloc(s.c * s.cr), *db2 = tu_alloc(s.c);
    for (int i = 0; i < s.cr * s.c; i++) dw1[i] = 1, dw2[i] = -1;
    for (int i = 0; i < s.cr; i++) db1[i] = 2;
    for (int i = 0; i < s.c; i++) db2[i] = -2;
    se_loss(&s);
    K->se_bwd(s.n, s.hw, s.c, s.cr, s.x, s.w1, s.b1, s.w2, s.b2, s.save, s.r, dx, dw1, db1, dw2,
              db2, ws);
    for (int i = 0; i < s.cr * s.c; i++) dw1[i] -= 1, dw2[i] += 1;
    for (int i = 0; i < s.cr; i++) db1[i] -= 2;
    for (int i = 0; i < s.c; i++) db2[i] += 2;
    tu_gradcheck(se_loss, &s, s.x, dx, n, 1e-2f, 1e-2, 2e-3, 100, "se dx");
    tu_gradcheck(se_loss, &s, s.w1, dw1, s.cr * s.c, 1e-2f, 1e-2, 2e-3, 100, "se dw1");
    tu_gradcheck(se_loss, &s, s.b1, db1, s.cr, 1e-2f, 1e-2, 2e-3, 100, "se db1");
    tu_gradcheck(se_loss, &s, s.w2, dw2, s.c * s.cr, 1e-2f, 1e-2, 2e-3, 100, "se dw2");
    tu_gradcheck(se_loss, &s, s.b2, db2, s.c, 1e-2f, 1e-2, 2e-3, 100, "se db2");
    /* NULL parameter gradients: same dx */
    float *dx2 = tu_alloc(n);
    se_loss(&s);
    K->se_bwd(s.n, s.hw, s.c, s.cr, s.x, s.w1, s.b1, s.w2, s.b2, s.save, s.r, dx2, NULL, NULL, NULL,
              NULL, ws);
    tu_assert_bytes_equal(dx, dx2, n * sizeof(float), "se dx without parameter grads");
    free(s.x), free(s.w1), free(s.b1), free(s.w2), free(s.b2), free(s.save), free(s.y), free(s.r);
    free(dx), free(ws), free(dw1), free(db1), free(dw2), free(db2), free(dx2);
}

/* ---- determinism: 1 vs 2 threads, byte for byte ---- */

Test(cpu_norm, results_independent_of_threads) {
    int shapes[2][2] = {{3 * CPU_TILE + 100, 80}, {3 * CPU_TILE + 1, 600}};
    for (int s = 0; s < 2; s++) {
        KBn p = {shapes[s][0], shapes[s][1], 1e-5f, 0.1f, K_ACT_SILU};
        size_t n = (size_t)p.rows * p.c;
        float *x = tu_rand(n, 600 + s, -3, 5), *dy = tu_rand(n, 610 + s, -1, 1);
        float *gamma = tu_rand(p.c, 620, 0.5f, 1.5f), *beta = tu_rand(p.c, 621, -1, 1);
        /* Plant huge values in the 2nd and 3rd row tiles so that they cancel
         * exactly: x = +-1e18 (statistics), and dy = +-1e20 on two identical
         * rows of x (sum dp and sum dp*xhat). The small terms then survive or
         * vanish depending on grouping and order, so any thread-dependent
         * order changes the bits of mean, dgamma, dbeta. */
        int r1 = CPU_TILE + 5, r2 = 2 * CPU_TILE + 7, ra = CPU_TILE + 9, rb = 2 * CPU_TILE + 11;
        for (int j = 0; j < p.c; j++) {
            x[(size_t)r1 * p.c + j] = 1e18f;
            x[(size_t)r2 * p.c + j] = -1e18f;
            dy[(size_t)r1 * p.c + j] = dy[(size_t)r2 * p.c + j] = 0; /* keep dp*xhat small */
            x[(size_t)rb * p.c + j] = x[(size_t)ra * p.c + j];
            dy[(size_t)ra * p.c + j] = 1e20f;
            dy[(size_t)rb * p.c + j] = -1e20f;
        }
        float *out[2][8];
        for (int t = 0; t < 2; t++) {
            kthreads_set(t + 1);
            float **o = out[t];
            o[0] = tu_alloc(p.c), o[1] = tu_alloc(p.c); /* running mean, var */
            o[2] = tu_alloc(p.c), o[3] = tu_alloc(p.c); /* mean, invstd */
            o[4] = tu_alloc(n), o[5] = tu_alloc(n);     /* y, dx */
            o[6] = tu_alloc(p.c), o[7] = tu_alloc(p.c); /* dgamma, dbeta */
            K->bn_train_fwd(&p, x, gamma, beta, o[0], o[1], true, o[2], o[3], o[4]);
            K->bn_train_bwd(&p, x, gamma, beta, o[2], o[3], dy, o[5], o[6], o[7]);
        }
        const char *names[8] = {"running mean", "running var", "mean", "invstd", "y",
                                "dx",           "dgamma",      "dbeta"};
        for (int i = 0; i < 8; i++) {
            size_t sz = (i == 4 || i == 5) ? n : (size_t)p.c;
            tu_assert_bytes_equal(out[0][i], out[1][i], sz * sizeof(float), names[i]);
            free(out[0][i]), free(out[1][i]);
        }
        free(x), free(dy), free(gamma), free(beta);
    }
    /* pooling / SE reductions over hw */
    int nn = 3, hw = 2000, c = 70, cr = 8;
    size_t n = (size_t)nn * hw * c;
    float *x = tu_rand(n, 630, -1, 1), *dy = tu_rand(n, 631, -1, 1);
    float *w1 = tu_rand(cr * c, 632, -1, 1), *w2 = tu_rand(c * cr, 633, -1, 1);
    float *b1 = tu_rand(cr, 634, -1, 1), *b2 = tu_rand(c, 635, -1, 1);
    float *ws = tu_alloc(nn * (c + cr)), *res[2][4];
    for (int t = 0; t < 2; t++) {
        kthreads_set(t + 1);
        float **o = res[t];
        o[0] = tu_alloc(nn * (2 * c + cr)), o[1] = tu_alloc(n), o[2] = tu_alloc(n);
        o[3] = tu_alloc(cr * c);
        K->se_fwd(nn, hw, c, cr, x, w1, b1, w2, b2, o[0], o[1]);
        K->se_bwd(nn, hw, c, cr, x, w1, b1, w2, b2, o[0], dy, o[2], o[3], NULL, NULL, NULL, ws);
    }
    size_t sz[4] = {(size_t)nn * (2 * c + cr), n, n, (size_t)cr * c};
    for (int i = 0; i < 4; i++) {
        tu_assert_bytes_equal(res[0][i], res[1][i], sz[i] * sizeof(float), "se");
        free(res[0][i]), free(res[1][i]);
    }
    free(x), free(dy), free(w1), free(w2), free(b1), free(b2), free(ws);
}
