/* Tests of the CPU backend's dense ops (cpu_dense.c): GEMM, linear layers,
 * activations and other elementwise ops, the softmax family, reductions.
 * Hand-checked small cases, edge shapes, finite-difference gradient checks
 * (tolerances as documented in testutil.h unless a test says otherwise),
 * and bit-identical results for 1 and 2 threads on multi-tile shapes. */
#include "testutil.h"

#include "kernels/cpu/cpu_internal.h" /* CPU_TILE: shapes that span several tiles */

#define K kops_cpu()

/* ---- GEMM ---- */

/* Store the logical [rows,cols] matrix m (row-major, dense) into a buffer
 * with leading dimension ld, transposed when `trans`. */
static void store_mat(const float *m, int rows, int cols, bool trans, int ld, float *dst) {
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++) {
            if (trans) dst[(size_t)j * ld + i] = m[i * cols + j];
            else dst[(size_t)i * ld + j] = m[i * cols + j];
        }
}

Test(cpu_dense, gemm_2x3x2_all_transposes) {
    const float a[6] = {1, 2, 3, 4, 5, 6};    /* op(A) [2,3] */
    const float b[6] = {7, 8, 9, 10, 11, 12}; /* op(B) [3,2] */
    /* A B = [[58, 64], [139, 154]]; C = 2 AB + 0.5 C0 with C0 = [[1,2],[3,4]] */
    const float want[4] = {116.5f, 129.0f, 279.5f, 310.0f};
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            int lda = (ta ? 2 : 3) + 1, ldb = (tb ? 3 : 2) + 2, ldc = 3; /* padded strides */
            float as[16], bs[16];
            float c[6] = {1, 2, -99, 3, 4, -99};
            store_mat(a, 2, 3, ta, lda, as);
            store_mat(b, 3, 2, tb, ldb, bs);
            K->gemm(ta, tb, 2, 2, 3, 2.0f, as, lda, bs, ldb, 0.5f, c, ldc);
            float got[4] = {c[0], c[1], c[3], c[4]};
            cr_assert(c[2] == -99 && c[5] == -99, "padding of C was written (ta %d tb %d)", ta, tb);
            char what[64];
            snprintf(what, sizeof what, "gemm ta=%d tb=%d", ta, tb);
            tu_assert_close(got, want, 4, 0, 0, what); /* small integers: exact */
        }
}

Test(cpu_dense, gemm_beta_zero_overwrites_nan) {
    const float a[2] = {1, 2}, b[2] = {3, 4};
    float c[4] = {NAN, NAN, INFINITY, NAN};
    K->gemm(false, false, 2, 2, 1, 1.0f, a, 1, b, 2, 0.0f, c, 2); /* outer product */
    const float want[4] = {3, 4, 6, 8};
    tu_assert_close(c, want, 4, 0, 0, "beta = 0 ignores old C");
}

/* Naive double reference: C = alpha op(A) op(B) + beta C, dense strides. */
static void ref_gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float *a,
                     const float *b, float beta, float *c) {
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int p = 0; p < k; p++) {
                double av = ta ? a[(size_t)p * m + i] : a[(size_t)i * k + p];
                double bv = tb ? b[(size_t)j * k + p] : b[(size_t)p * n + j];
                s += av * bv;
            }
            c[(size_t)i * n + j] = (float)(alpha * s + beta * c[(size_t)i * n + j]);
        }
}

Test(cpu_dense, gemm_multi_tile_vs_reference) {
    int m = 300, n = 520, k = 37; /* 3 x 3 tiles of C, ragged edges */
    float *a = tu_rand((size_t)m * k, 1, -1, 1), *b = tu_rand((size_t)k * n, 2, -1, 1);
    float *c = tu_alloc((size_t)m * n), *r = tu_alloc((size_t)m * n);
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            tu_fill(c, (size_t)m * n, 3, -1, 1);
            memcpy(r, c, (size_t)m * n * sizeof(float));
            K->gemm(ta, tb, m, n, k, 0.75f, a, ta ? m : k, b, tb ? k : n, -0.5f, c, n);
            ref_gemm(ta, tb, m, n, k, 0.75f, a, b, -0.5f, r);
            /* float32 dot products of 37 terms of size <= 1: error ~ 37 * 6e-8 */
            tu_assert_close(c, r, (size_t)m * n, 1e-5, 1e-5, "gemm vs reference");
        }
    free(a), free(b), free(c), free(r);
}

Test(cpu_dense, gemm_degenerate_shapes) {
    float a[3] = {1, 2, 3}, b[3] = {4, 5, 6}, c[1] = {10};
    K->gemm(false, false, 1, 1, 3, 1.0f, a, 3, b, 1, 1.0f, c, 1); /* 1x1: dot + C */
    cr_assert_float_eq(c[0], 42.0f, 0);
    K->gemm(false, false, 1, 1, 0, 1.0f, a, 1, b, 1, 0.5f, c, 1); /* k = 0: C = beta C */
    cr_assert_float_eq(c[0], 21.0f, 0);
    K->gemm(false, false, 0, 1, 3, 1.0f, a, 3, b, 1, 0.0f, c, 1); /* m = 0: untouched */
    cr_assert_float_eq(c[0], 21.0f, 0);
}

/* ---- linear ---- */

Test(cpu_dense, linear_fwd_hand) {
    const float x[6] = {1, 2, 3, -1, 0, 1}; /* [2,3] */
    const float w[6] = {1, 0, -1, 2, 1, 0}; /* [2,3] */
    const float b[2] = {0.5f, -1};
    float y[4];
    K->linear_fwd(2, 3, 2, x, w, b, y);
    const float want[4] = {-1.5f, 3, -1.5f, -3};
    tu_assert_close(y, want, 4, 0, 0, "linear with bias");
    K->linear_fwd(2, 3, 2, x, w, NULL, y);
    const float want0[4] = {-2, 4, -2, -2};
    tu_assert_close(y, want0, 4, 0, 0, "linear without bias");
}

typedef struct LinCtx {
    int rows, in, out;
    float *x, *w, *b, *y, *r;
} LinCtx;

static double lin_loss(void *p) {
    LinCtx *c = p;
    K->linear_fwd(c->rows, c->in, c->out, c->x, c->w, c->b, c->y);
    return tu_dot(c->y, c->r, (size_t)c->rows * c->out);
}

Test(cpu_dense, linear_bwd_gradcheck_and_accumulate) {
    LinCtx c = {5, 7, 4, NULL, NULL, NULL, NULL, NULL};
    c.x = tu_rand(35, 10, -1, 1), c.w = tu_rand(28, 11, -1, 1), c.b = tu_rand(4, 12, -1, 1);
    c.y = tu_alloc(20), c.r = tu_rand(20, 13, -1, 1);
    float *dx = tu_rand(35, 14, -5, 5); /* garbage: must be overwritten */
    float *dw = tu_alloc(28), *db = tu_alloc(4);
    for (int i = 0; i < 28; i++) dw[i] = 1.0f;
    for (int i = 0; i < 4; i++) db[i] = -2.0f;
    K->linear_bwd(5, 7, 4, c.x, c.w, c.r, dx, dw, db);
    for (int i = 0; i < 28; i++) dw[i] -= 1.0f; /* accumulated onto 1 */
    for (int i = 0; i < 4; i++) db[i] += 2.0f;
    tu_gradcheck(lin_loss, &c, c.x, dx, 35, 1e-2f, 1e-2, 2e-3, 100, "linear dx");
    tu_gradcheck(lin_loss, &c, c.w, dw, 28, 1e-2f, 1e-2, 2e-3, 100, "linear dw");
    tu_gradcheck(lin_loss, &c, c.b, db, 4, 1e-2f, 1e-2, 2e-3, 100, "linear db");
    /* NULL gradients are skipped */
    float *dx2 = tu_alloc(35);
    K->linear_bwd(5, 7, 4, c.x, c.w, c.r, dx2, NULL, NULL);
    tu_assert_bytes_equal(dx, dx2, 35 * sizeof(float), "dx without dw/db");
    free(c.x), free(c.w), free(c.b), free(c.y), free(c.r), free(dx), free(dw), free(db), free(dx2);
}

Test(cpu_dense, linear_single_row) {
    const float x[3] = {1, 2, 3}, w[3] = {4, 5, 6}, dy[1] = {2};
    float y[1], dx[3], dw[3] = {0}, db[1] = {0};
    K->linear_fwd(1, 3, 1, x, w, NULL, y);
    cr_assert_float_eq(y[0], 32.0f, 0);
    K->linear_bwd(1, 3, 1, x, w, dy, dx, dw, db);
    const float wdx[3] = {8, 10, 12}, wdw[3] = {2, 4, 6};
    tu_assert_close(dx, wdx, 3, 0, 0, "dx");
    tu_assert_close(dw, wdw, 3, 0, 0, "dw");
    cr_assert_float_eq(db[0], 2.0f, 0);
}

/* ---- activations ---- */

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

static const KAct all_acts[] = {K_ACT_NONE,  K_ACT_RELU,    K_ACT_SILU,
                                K_ACT_LEAKY, K_ACT_SIGMOID, K_ACT_TANH};

Test(cpu_dense, act_fwd_values) {
    enum { N = 1001 };
    float *x = tu_alloc(N), *y = tu_alloc(N), *want = tu_alloc(N);
    for (int i = 0; i < N; i++) x[i] = -30.0f + 60.0f * i / (N - 1); /* includes 0 */
    for (size_t t = 0; t < sizeof all_acts / sizeof *all_acts; t++) {
        KAct a = all_acts[t];
        K->act_fwd(a, N, x, y);
        for (int i = 0; i < N; i++) want[i] = (float)ref_act(a, x[i]);
        char what[32];
        snprintf(what, sizeof what, "act %d", (int)a);
        /* the polynomial exp is good to a few ulp; 1e-6 relative leaves room */
        tu_assert_close(y, want, N, 1e-6, 1e-30, what);
    }
    cr_assert_float_eq(y[N / 2], 0.0f, 0); /* tanh(0) */
    /* in place, and NaN propagates (divergence checks rely on it) */
    float v[3] = {NAN, -1.0f, 2.0f};
    K->act_fwd(K_ACT_SILU, 3, v, v);
    cr_assert(isnan(v[0]));
    cr_assert_float_eq(v[2], (float)ref_act(K_ACT_SILU, 2.0), 1e-6);
    float r[1] = {NAN};
    K->act_fwd(K_ACT_RELU, 1, r, r);
    cr_assert(isnan(r[0]));
    /* extremes stay finite and saturate */
    float e[2] = {-200.0f, 200.0f}, s[2];
    K->act_fwd(K_ACT_SIGMOID, 2, e, s);
    cr_assert(s[0] >= 0.0f && s[0] < 1e-30f && s[1] == 1.0f, "sigmoid %g %g", s[0], s[1]);
    free(x), free(y), free(want);
}

typedef struct ActCtx {
    KAct a;
    size_t n;
    float *x, *y, *r;
} ActCtx;

static double act_loss(void *p) {
    ActCtx *c = p;
    K->act_fwd(c->a, c->n, c->x, c->y);
    return tu_dot(c->y, c->r, c->n);
}

Test(cpu_dense, act_bwd_gradcheck_each) {
    enum { N = 40 };
    for (size_t t = 0; t < sizeof all_acts / sizeof *all_acts; t++) {
        ActCtx c = {all_acts[t], N, tu_rand(N, 20 + t, -3, 3), tu_alloc(N), tu_rand(N, 30, -1, 1)};
        /* keep away from the ReLU/LeakyReLU kink by more than the step */
        for (int i = 0; i < N; i++)
            if (fabsf(c.x[i]) < 0.05f) c.x[i] = 0.1f;
        float *dx = tu_alloc(N);
        K->act_bwd(c.a, N, c.x, c.r, dx);
        char what[32];
        snprintf(what, sizeof what, "act_bwd %d", (int)c.a);
        tu_gradcheck(act_loss, &c, c.x, dx, N, 1e-2f, 1e-2, 2e-3, 100, what);
        /* dx may alias dy */
        float *g = tu_alloc(N);
        memcpy(g, c.r, N * sizeof(float));
        K->act_bwd(c.a, N, c.x, g, g);
        tu_assert_bytes_equal(g, dx, N * sizeof(float), "act_bwd in place");
        free(c.x), free(c.y), free(c.r), free(dx), free(g);
    }
}

Test(cpu_dense, act_large_array_blocks) {
    size_t n = 3 * 8192 + 77; /* several blocks, ragged end */
    float *x = tu_rand(n, 40, -6, 6), *y = tu_alloc(n), *dx = tu_alloc(n);
    float *dy = tu_rand(n, 41, -1, 1);
    K->act_fwd(K_ACT_SILU, n, x, y);
    K->act_bwd(K_ACT_SIGMOID, n, x, dy, dx);
    for (size_t i = 0; i < n; i += 997) {
        double s = 1 / (1 + exp(-(double)x[i]));
        cr_assert(fabs(y[i] - x[i] * s) <= 1e-6 * fabs(x[i] * s) + 1e-7, "silu at %zu", i);
        cr_assert(fabs(dx[i] - dy[i] * s * (1 - s)) <= 1e-6, "sigmoid' at %zu", i);
    }
    free(x), free(y), free(dx), free(dy);
}

/* ---- other elementwise ---- */

Test(cpu_dense, elementwise_ops) {
    float x[5] = {1, -2, 3, 0.5f, 4}, m[5] = {0, 2, 2, 0, 2}, y[5];
    K->mul(5, x, m, y);
    const float wm[5] = {0, -4, 6, 0, 8};
    tu_assert_close(y, wm, 5, 0, 0, "mul");
    K->mul(5, x, m, x); /* in place */
    tu_assert_close(x, wm, 5, 0, 0, "mul in place");
    float a[3] = {1, 2, 3}, b[3] = {10, 20, 30};
    K->axpy(3, 0.5f, a, b);
    const float wa[3] = {10.5f, 21, 31.5f};
    tu_assert_close(b, wa, 3, 0, 0, "axpy");
    K->scale(3, -2.0f, b);
    const float ws[3] = {-21, -42, -63};
    tu_assert_close(b, ws, 3, 0, 0, "scale");
    K->add(3, a, b, a); /* y aliases a */
    const float wad[3] = {-20, -40, -60};
    tu_assert_close(a, wad, 3, 0, 0, "add");
}

/* ---- softmax family ---- */

Test(cpu_dense, softmax_hand) {
    const float x[2] = {0, logf(2.0f)};
    float y[2];
    K->softmax_fwd(1, 2, x, y);
    const float w[2] = {1.0f / 3, 2.0f / 3};
    tu_assert_close(y, w, 2, 1e-6, 0, "softmax of [0, ln2]");
    K->log_softmax_fwd(1, 2, x, y);
    const float wl[2] = {logf(1.0f / 3), logf(2.0f / 3)};
    tu_assert_close(y, wl, 2, 1e-6, 0, "log_softmax of [0, ln2]");
    /* large logits: stable (no overflow), compared with double math on the
     * stored values */
    const float big[3] = {1000, 1000.5f, 999};
    double s = exp(-0.5) + 1 + exp(-1.5);
    const float wb[3] = {(float)(exp(-0.5) / s), (float)(1 / s), (float)(exp(-1.5) / s)};
    const float wbl[3] = {(float)(-0.5 - log(s)), (float)(-log(s)), (float)(-1.5 - log(s))};
    float yb[3];
    K->softmax_fwd(1, 3, big, yb);
    tu_assert_close(yb, wb, 3, 1e-6, 0, "softmax of large logits");
    K->log_softmax_fwd(1, 3, big, yb);
    tu_assert_close(yb, wbl, 3, 1e-6, 0, "log_softmax of large logits");
    float one[1] = {5}, o[1];
    K->softmax_fwd(1, 1, one, o);
    cr_assert_float_eq(o[0], 1.0f, 0);
    K->log_softmax_fwd(1, 1, one, o);
    cr_assert_float_eq(o[0], 0.0f, 0);
}

typedef struct SmCtx {
    bool lg;
    int rows, n;
    float *x, *y, *r;
} SmCtx;

static double sm_loss(void *p) {
    SmCtx *c = p;
    (c->lg ? K->log_softmax_fwd : K->softmax_fwd)(c->rows, c->n, c->x, c->y);
    return tu_dot(c->y, c->r, (size_t)c->rows * c->n);
}

Test(cpu_dense, softmax_bwd_gradcheck) {
    for (int lg = 0; lg < 2; lg++) {
        SmCtx c = {lg, 3, 5, tu_rand(15, 50, -3, 3), tu_alloc(15), tu_rand(15, 51, -1, 1)};
        float *dx = tu_alloc(15);
        sm_loss(&c);
        (lg ? K->log_softmax_bwd : K->softmax_bwd)(3, 5, c.y, c.r, dx);
        tu_gradcheck(sm_loss, &c, c.x, dx, 15, 1e-2f, 1e-2, 2e-3, 100,
                     lg ? "log_softmax" : "softmax");
        float *g = tu_alloc(15);
        memcpy(g, c.r, sizeof(float) * 15);
        sm_loss(&c);
        (lg ? K->log_softmax_bwd : K->softmax_bwd)(3, 5, c.y, g, g); /* dx aliases dy */
        tu_assert_bytes_equal(g, dx, 15 * sizeof(float), "softmax bwd in place");
        free(c.x), free(c.y), free(c.r), free(dx), free(g);
    }
}

/* ---- reductions ---- */

Test(cpu_dense, sum_sumsq_exact) {
    size_t n = 3 * CPU_TILE + 5;
    float *x = tu_alloc(n);
    for (size_t i = 0; i < n; i++) x[i] = (float)(i + 1);
    double nn = (double)n;
    cr_assert_eq(K->sum(n, x), nn * (nn + 1) / 2); /* integers: exact */
    cr_assert_eq(K->sumsq(n, x), nn * (nn + 1) * (2 * nn + 1) / 6);
    cr_assert_eq(K->sum(0, x), 0.0);
    cr_assert_eq(K->sum(1, x), 1.0);
    cr_assert_eq(K->sumsq(7, x), 140.0);
    free(x);
}

Test(cpu_dense, col_sum_hand_and_accumulate) {
    const float x[6] = {1, 2, 3, 4, 5, 6}; /* [3,2] */
    float y[2] = {100, 100};
    K->col_sum(3, 2, x, y, false);
    cr_assert(y[0] == 9 && y[1] == 12, "overwrite: %g %g", y[0], y[1]);
    K->col_sum(3, 2, x, y, true);
    cr_assert(y[0] == 18 && y[1] == 24, "accumulate: %g %g", y[0], y[1]);
    K->col_sum(1, 2, x, y, false); /* one row */
    cr_assert(y[0] == 1 && y[1] == 2);
    K->col_sum(6, 1, x, y, false); /* one column */
    cr_assert(y[0] == 21);
}

Test(cpu_dense, col_sum_many_tiles_and_columns) {
    int rows = 2 * CPU_TILE + 333, c = 600; /* 3 row tiles; 2 column super-blocks */
    float *x = tu_rand((size_t)rows * c, 60, -1, 1), *y = tu_alloc(c), *r = tu_alloc(c);
    for (int j = 0; j < c; j++) {
        double s = 0;
        for (int i = 0; i < rows; i++) s += x[(size_t)i * c + j];
        r[j] = (float)s;
    }
    K->col_sum(rows, c, x, y, false);
    /* double accumulation: only the final rounding to float differs */
    tu_assert_close(y, r, c, 1e-6, 1e-6, "col_sum");
    free(x), free(y), free(r);
}

Test(cpu_dense, all_finite_detects_nan_and_inf) {
    size_t n = 100003;
    float *x = tu_rand(n, 70, -1e30f, 1e30f);
    cr_assert(K->all_finite(n, x));
    cr_assert(K->all_finite(0, x));
    x[n - 1] = NAN;
    cr_assert(!K->all_finite(n, x), "NaN at the end");
    x[n - 1] = 0;
    x[0] = INFINITY;
    cr_assert(!K->all_finite(n, x), "+Inf at the start");
    x[0] = 0;
    x[n / 2] = -INFINITY;
    cr_assert(!K->all_finite(n, x), "-Inf in the middle");
    x[n / 2] = 3.4e38f; /* large but finite */
    cr_assert(K->all_finite(n, x));
    cr_assert(!K->all_finite(1, (float[]){NAN}));
    free(x);
}

/* ---- determinism: 1 vs 2 threads, byte for byte ---- */

Test(cpu_dense, results_independent_of_threads) {
    int m = 700, n = 600, k = 50, rows = 2500, in = 70, out = 300;
    float *a = tu_rand((size_t)m * k, 80, -1, 1), *b = tu_rand((size_t)k * n, 81, -1, 1);
    float *x = tu_rand((size_t)rows * in, 82, -1, 1), *w = tu_rand((size_t)out * in, 83, -1, 1);
    float *bias = tu_rand(out, 84, -1, 1), *dy = tu_rand((size_t)rows * out, 85, -1, 1);
    /* Plant +-1e18 in the 2nd and 3rd row tiles: with them, the double sums
     * (col_sum, db, sum, sumsq) keep or lose the small terms depending on
     * the grouping and order, so any thread-dependent order changes bits. */
    for (int j = 0; j < out; j++) {
        dy[(size_t)(CPU_TILE + 7) * out + j] = 1e18f;
        dy[(size_t)(2 * CPU_TILE + 9) * out + j] = -1e18f;
    }
    float *res[2][6];
    double sums[2][2];
    for (int t = 0; t < 2; t++) {
        kthreads_set(t + 1);
        float *c = res[t][0] = tu_rand((size_t)m * n, 86, -1, 1);
        float *y = res[t][1] = tu_alloc((size_t)rows * out);
        float *dx = res[t][2] = tu_alloc((size_t)rows * in);
        float *dw = res[t][3] = tu_rand((size_t)out * in, 87, -1, 1);
        float *db = res[t][4] = tu_rand(out, 88, -1, 1);
        float *cs = res[t][5] = tu_alloc(out);
        K->gemm(true, false, m, n, k, 1.5f, a, m, b, n, 0.25f, c, n);
        K->linear_fwd(rows, in, out, x, w, bias, y);
        K->linear_bwd(rows, in, out, x, w, dy, dx, dw, db);
        K->col_sum(rows, out, dy, cs, false);
        sums[t][0] = K->sum((size_t)rows * out, dy);
        sums[t][1] = K->sumsq((size_t)rows * out, dy);
    }
    size_t sz[6] = {
        (size_t)m * n, (size_t)rows * out, (size_t)rows * in, (size_t)out * in, out, out};
    const char *names[6] = {"gemm", "linear_fwd", "linear dx", "linear dw", "linear db", "col_sum"};
    for (int i = 0; i < 6; i++) {
        tu_assert_bytes_equal(res[0][i], res[1][i], sz[i] * sizeof(float), names[i]);
        free(res[0][i]), free(res[1][i]);
    }
    cr_assert(memcmp(sums[0], sums[1], sizeof sums[0]) == 0, "sum/sumsq differ across threads");
    free(a), free(b), free(x), free(w), free(bias), free(dy);
}
