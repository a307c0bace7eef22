/* The ops Ruff et al.'s LeNet and its autoencoder need, against PyTorch
 * (tests/fixtures_validity/lenet_kernels.safetensors, from
 * tests/reference/make_validity_fixtures.py; conventions and tolerance rule
 * of test_torch_kernels.c: forward 1e-4, gradients 1e-3, relative to
 * |ref| + 0.1 max|ref|), by central finite differences, and for identical
 * bits at 1 and 2 threads:
 *
 *   max pooling 2x2 (floor mode on an odd map, windows with ties: the first
 *   maximum in row-major order takes the gradient, as PyTorch's CPU kernel;
 *   values and routing are exact, so compared exactly), LeakyReLU with slope
 *   0.01 (exact zeros: the slope side, as PyTorch's backward), BatchNorm
 *   without affine parameters through the Bn layer (no weight/bias tensors,
 *   PyTorch's affine=False state_dict names; 2-D train/eval, 1-D train),
 *   bias-free 5x5 convolutions (1 and 3 input channels, padding 2) and
 *   linear, nearest upsampling x2, bias-free transposed 5x5 convolutions
 *   with padding 2 and 3.
 *
 * Every forward output starts as NaN (must be overwritten); parameter
 * gradients start at zero and are compared after one backward. The run_*
 * functions take a KOps table so that another backend can be pointed at the
 * same references. */
#include "validity_testutil.h"

#include "models/layers.h"

#define KFX VFX_DIR "lenet_kernels.safetensors"
#define FWD_TOL 1e-4
#define GRAD_TOL 1e-3

static float *dev_in(const KOps *k, const float *h, int64_t n) {
    float *d = k->alloc((size_t)(n ? n : 1) * sizeof(float));
    cr_assert_not_null(d);
    k->upload(d, h, (size_t)n * sizeof(float));
    return d;
}

static float *dev_nan(const KOps *k, int64_t n) {
    float *h = tu_alloc((size_t)n);
    for (int64_t i = 0; i < n; i++) h[i] = NAN;
    float *d = dev_in(k, h, n);
    free(h);
    return d;
}

static void check(const KOps *k, const char *cname, const char *what, const float *dev,
                  const float *want, int64_t n, double tol) {
    float *h = tu_alloc((size_t)n);
    k->sync();
    k->download(h, dev, (size_t)n * sizeof(float));
    char label[160];
    snprintf(label, sizeof label, "%s.%s (%s backend)", cname, what, k->name);
    vfx_close_to(label, h, want, n, tol);
    free(h);
}

/* ---------------------------------------------------------------- PyTorch cases */

static void run_maxpool(const KOps *k, const char *cname) {
    Vfx v;
    vfx_open(&v, KFX);
    json_t *g = vfx_meta(&v, cname);
    KPool p = kpool_init(vfx_geo_i(g, "n"), vfx_geo_i(g, "h"), vfx_geo_i(g, "w"), vfx_geo_i(g, "c"),
                         vfx_geo_i(g, "k"));
    cr_assert_eq(p.oh, vfx_geo_i(g, "oh"), "floor mode: oh");
    cr_assert_eq(p.ow, vfx_geo_i(g, "ow"), "floor mode: ow");
    int64_t nx = (int64_t)p.n * p.h * p.w * p.c, ny = (int64_t)p.n * p.oh * p.ow * p.c;
    float *x = dev_in(k, vfx_case(&v, cname, "x", nx), nx), *y = dev_nan(k, ny);
    float *dy = dev_in(k, vfx_case(&v, cname, "dy", ny), ny), *dx = dev_nan(k, nx);
    k->maxpool_fwd(&p, x, y);
    check(k, cname, "y", y, vfx_case(&v, cname, "y", ny), ny, 0.0);
    k->maxpool_bwd(&p, x, dy, dx);
    check(k, cname, "dx", dx, vfx_case(&v, cname, "dx", nx), nx, 0.0);
    k->free(x), k->free(y), k->free(dy), k->free(dx);
    json_decref(g);
    vfx_close(&v);
}

Test(torch_lenet, maxpool_odd_map_with_ties) { run_maxpool(kops_cpu(), "maxpool_odd_ties"); }
Test(torch_lenet, maxpool_16_channels) { run_maxpool(kops_cpu(), "maxpool_c16"); }

static void run_leaky(const KOps *k, const char *cname) {
    Vfx v;
    vfx_open(&v, KFX);
    json_t *g = vfx_meta(&v, cname);
    int64_t n = vfx_geo_i(g, "n");
    float slope = (float)vfx_geo_f(g, "slope");
    float *x = dev_in(k, vfx_case(&v, cname, "x", n), n), *y = dev_nan(k, n);
    float *dy = dev_in(k, vfx_case(&v, cname, "dy", n), n), *dx = dev_nan(k, n);
    k->leaky_fwd((size_t)n, slope, x, y);
    check(k, cname, "y", y, vfx_case(&v, cname, "y", n), n, 1e-6);
    k->leaky_bwd((size_t)n, slope, x, dy, dx);
    check(k, cname, "dx", dx, vfx_case(&v, cname, "dx", n), n, 1e-6);
    k->leaky_fwd((size_t)n, slope, x, x); /* in place */
    check(k, cname, "y (in place)", x, vfx_case(&v, cname, "y", n), n, 1e-6);
    k->free(x), k->free(y), k->free(dy), k->free(dx);
    json_decref(g);
    vfx_close(&v);
}

Test(torch_lenet, leaky_relu_slope_0_01) { run_leaky(kops_cpu(), "leaky_001"); }

/* BatchNorm without affine parameters, through the layer the LeNet uses. */
static void run_bn_plain(const KOps *k, const char *cname) {
    Vfx v;
    vfx_open(&v, KFX);
    json_t *g = vfx_meta(&v, cname);
    int rows = vfx_geo_i(g, "rows"), c = vfx_geo_i(g, "c");
    bool train = json_is_true(json_object_get(g, "train"));
    ParamTable pt;
    Net net;
    params_init(&pt);
    net_init(&net, k, &pt);
    Bn bn;
    bn_make_affine(&bn, &net, "bn", c, K_ACT_NONE, (float)vfx_geo_f(g, "eps"),
                   (float)vfx_geo_f(g, "momentum"), false);
    cr_assert_eq(pt.n, 2, "affine=False keeps only running_mean and running_var");
    cr_assert(params_find(&pt, "bn.weight") < 0 && params_find(&pt, "bn.bias") < 0);
    cr_assert(params_find(&pt, "bn.running_mean") >= 0 && params_find(&pt, "bn.running_var") >= 0);
    cr_assert_eq(net_commit(&net), VB_OK, "%s", vb_errmsg());
    k->upload(params_data(&pt, bn.rmean), vfx_case(&v, cname, "run_mean0", c), c * sizeof(float));
    k->upload(params_data(&pt, bn.rvar), vfx_case(&v, cname, "run_var0", c), c * sizeof(float));
    int64_t n = (int64_t)rows * c;
    float *x = dev_in(k, vfx_case(&v, cname, "x", n), n), *y = dev_nan(k, n);
    float *dy = dev_in(k, vfx_case(&v, cname, "dy", n), n), *dx = dev_nan(k, n);
    net.train = train;
    bn_fwd(&net, &bn, rows, x, y);
    check(k, cname, "y", y, vfx_case(&v, cname, "y", n), n, FWD_TOL);
    if (train) {
        check(k, cname, "running_mean", params_data(&pt, bn.rmean),
              vfx_case(&v, cname, "run_mean", c), c, FWD_TOL);
        check(k, cname, "running_var", params_data(&pt, bn.rvar), vfx_case(&v, cname, "run_var", c),
              c, FWD_TOL);
    }
    bn_bwd(&net, &bn, rows, x, dy, dx);
    check(k, cname, "dx", dx, vfx_case(&v, cname, "dx", n), n, GRAD_TOL);
    k->free(x), k->free(y), k->free(dy), k->free(dx);
    net_free(&net);
    params_free(&pt);
    json_decref(g);
    vfx_close(&v);
}

Test(torch_lenet, batchnorm2d_without_affine_train) {
    run_bn_plain(kops_cpu(), "bn2d_plain_train");
}
Test(torch_lenet, batchnorm2d_without_affine_eval) { run_bn_plain(kops_cpu(), "bn2d_plain_eval"); }
Test(torch_lenet, batchnorm1d_without_affine_train) {
    run_bn_plain(kops_cpu(), "bn1d_plain_train");
}

/* Bias-free convolution ('c') or transposed convolution ('t'). */
static void run_conv(const KOps *k, const char *cname, char kind) {
    Vfx v;
    vfx_open(&v, KFX);
    json_t *g = vfx_meta(&v, cname);
    int n = vfx_geo_i(g, "n"), h = vfx_geo_i(g, "h"), w = vfx_geo_i(g, "w");
    int cin = vfx_geo_i(g, "cin"), cout = vfx_geo_i(g, "cout"), ks = vfx_geo_i(g, "k");
    int pad = vfx_geo_i(g, "pad");
    cr_assert(!json_is_true(json_object_get(g, "bias")));
    KConv c = kind == 't' ? kconvt_init(n, h, w, cin, cout, ks, 1, pad)
                          : kconv_init(n, h, w, cin, cout, ks, 1, pad, 1);
    cr_assert_eq(c.oh, vfx_geo_i(g, "oh"));
    int64_t nx = (int64_t)n * h * w * cin, ny = (int64_t)n * c.oh * c.ow * cout;
    int64_t nw = (int64_t)cin * cout * ks * ks;
    size_t wsn = kind == 't' ? k->convt2d_ws(&c) : k->conv2d_ws(&c);
    float *ws = k->alloc((wsn ? wsn : 1) * sizeof(float));
    float *x = dev_in(k, vfx_case(&v, cname, "x", nx), nx), *y = dev_nan(k, ny);
    float *wt = dev_in(k, vfx_case(&v, cname, "w", nw), nw);
    float *dy = dev_in(k, vfx_case(&v, cname, "dy", ny), ny), *dx = dev_nan(k, nx);
    float *dw = k->alloc((size_t)nw * sizeof(float)); /* zero: accumulates */
    if (kind == 't') {
        k->convt2d_fwd(&c, x, wt, NULL, y, ws);
        check(k, cname, "y", y, vfx_case(&v, cname, "y", ny), ny, FWD_TOL);
        k->convt2d_bwd(&c, x, wt, dy, dx, dw, NULL, ws);
    } else {
        k->conv2d_fwd(&c, x, wt, NULL, y, ws);
        check(k, cname, "y", y, vfx_case(&v, cname, "y", ny), ny, FWD_TOL);
        k->conv2d_bwd(&c, x, wt, dy, dx, dw, NULL, ws);
    }
    check(k, cname, "dx", dx, vfx_case(&v, cname, "dx", nx), nx, GRAD_TOL);
    check(k, cname, "dw", dw, vfx_case(&v, cname, "dw", nw), nw, GRAD_TOL);
    k->free(ws), k->free(x), k->free(y), k->free(wt), k->free(dy), k->free(dx), k->free(dw);
    json_decref(g);
    vfx_close(&v);
}

Test(torch_lenet, conv5x5_one_input_channel_no_bias) { run_conv(kops_cpu(), "conv5x5_cin1", 'c'); }
Test(torch_lenet, conv5x5_three_input_channels_no_bias) {
    run_conv(kops_cpu(), "conv5x5_cin3", 'c');
}
Test(torch_lenet, conv_transpose5x5_pad2_no_bias) { run_conv(kops_cpu(), "convt_k5p2", 't'); }
Test(torch_lenet, conv_transpose5x5_pad3_no_bias) { run_conv(kops_cpu(), "convt_k5p3", 't'); }

static void run_linear(const KOps *k, const char *cname) {
    Vfx v;
    vfx_open(&v, KFX);
    json_t *g = vfx_meta(&v, cname);
    int rows = vfx_geo_i(g, "rows"), in = vfx_geo_i(g, "input"), out = vfx_geo_i(g, "output");
    float *x = dev_in(k, vfx_case(&v, cname, "x", rows * in), rows * in);
    float *w = dev_in(k, vfx_case(&v, cname, "w", out * in), out * in);
    float *y = dev_nan(k, rows * out), *dx = dev_nan(k, rows * in);
    float *dy = dev_in(k, vfx_case(&v, cname, "dy", rows * out), rows * out);
    float *dw = k->alloc((size_t)out * in * sizeof(float));
    k->linear_fwd(rows, in, out, x, w, NULL, y);
    check(k, cname, "y", y, vfx_case(&v, cname, "y", rows * out), rows * out, FWD_TOL);
    k->linear_bwd(rows, in, out, x, w, dy, dx, dw, NULL);
    check(k, cname, "dx", dx, vfx_case(&v, cname, "dx", rows * in), rows * in, GRAD_TOL);
    check(k, cname, "dw", dw, vfx_case(&v, cname, "dw", out * in), out * in, GRAD_TOL);
    k->free(x), k->free(w), k->free(y), k->free(dx), k->free(dy), k->free(dw);
    json_decref(g);
    vfx_close(&v);
}

Test(torch_lenet, linear_no_bias) { run_linear(kops_cpu(), "linear_nobias"); }

static void run_upsample(const KOps *k, const char *cname) {
    Vfx v;
    vfx_open(&v, KFX);
    json_t *g = vfx_meta(&v, cname);
    int n = vfx_geo_i(g, "n"), c = vfx_geo_i(g, "c"), h = vfx_geo_i(g, "h"), w = vfx_geo_i(g, "w");
    int s = vfx_geo_i(g, "s");
    int64_t nx = (int64_t)n * h * w * c, ny = nx * s * s;
    float *x = dev_in(k, vfx_case(&v, cname, "x", nx), nx), *y = dev_nan(k, ny);
    float *dy = dev_in(k, vfx_case(&v, cname, "dy", ny), ny), *dx = dev_nan(k, nx);
    k->upsample_fwd(n, h, w, c, s, x, y);
    check(k, cname, "y", y, vfx_case(&v, cname, "y", ny), ny, 0.0);
    k->upsample_bwd(n, h, w, c, s, dy, dx);
    check(k, cname, "dx", dx, vfx_case(&v, cname, "dx", nx), nx, 1e-6);
    k->free(x), k->free(y), k->free(dy), k->free(dx);
    json_decref(g);
    vfx_close(&v);
}

Test(torch_lenet, upsample_nearest_x2) { run_upsample(kops_cpu(), "upsample_x2"); }

Test(torch_lenet, every_fixture_case_is_tested) {
    static const char *tested[] = {"maxpool_odd_ties", "maxpool_c16",     "leaky_001",
                                   "bn2d_plain_train", "bn2d_plain_eval", "bn1d_plain_train",
                                   "conv5x5_cin1",     "conv5x5_cin3",    "linear_nobias",
                                   "upsample_x2",      "convt_k5p2",      "convt_k5p3"};
    Vfx v;
    vfx_open(&v, KFX);
    int cases = 0;
    for (int i = 0; i < v.f.n; i++) {
        const char *name = v.f.t[i].name, *dot = strchr(name, '.');
        if (!dot || strcmp(dot, ".x") != 0) continue;
        cases++;
        bool found = false;
        for (size_t j = 0; j < sizeof tested / sizeof *tested; j++)
            found |= strncmp(tested[j], name, (size_t)(dot - name)) == 0 &&
                     strlen(tested[j]) == (size_t)(dot - name);
        cr_assert(found, "fixture case %.*s has no test", (int)(dot - name), name);
    }
    cr_assert_eq(cases, (int)(sizeof tested / sizeof *tested));
    vfx_close(&v);
}

/* ---------------------------------------------------------------- finite differences */

typedef struct FdCtx {
    int op; /* 0 maxpool, 1 leaky, 2 upsample */
    KPool p;
    int n, h, w, c, s;
    float slope;
    float *x, *y, *r;
    size_t nx, ny;
} FdCtx;

static void fd_forward(FdCtx *f) {
    const KOps *k = kops_cpu();
    if (f->op == 0) k->maxpool_fwd(&f->p, f->x, f->y);
    else if (f->op == 1) k->leaky_fwd(f->nx, f->slope, f->x, f->y);
    else k->upsample_fwd(f->n, f->h, f->w, f->c, f->s, f->x, f->y);
}

static double fd_loss(void *ctx) {
    FdCtx *f = ctx;
    fd_forward(f);
    return tu_dot(f->y, f->r, f->ny);
}

static void fd_run(FdCtx *f, uint64_t seed, const char *what) {
    const KOps *k = kops_cpu();
    f->x = tu_rand(f->nx, seed, -2.0f, 2.0f);
    f->y = tu_alloc(f->ny);
    f->r = tu_rand(f->ny, seed + 1, -1.0f, 1.0f);
    float *g = tu_alloc(f->nx);
    fd_forward(f);
    if (f->op == 0) k->maxpool_bwd(&f->p, f->x, f->r, g);
    else if (f->op == 1) k->leaky_bwd(f->nx, f->slope, f->x, f->r, g);
    else k->upsample_bwd(f->n, f->h, f->w, f->c, f->s, f->r, g);
    /* h = 1e-3: distinct random values stay in their order (max pooling) and
     * away from the kink at 0 (LeakyReLU) with overwhelming probability */
    tu_gradcheck(fd_loss, f, f->x, g, f->nx, 1e-3f, 1e-2, 2e-3, 400, what);
    free(f->x), free(f->y), free(f->r), free(g);
}

Test(lenet_ops, maxpool_gradient_by_finite_differences) {
    FdCtx f = {0};
    f.p = kpool_init(2, 5, 6, 3, 2);
    f.nx = 2 * 5 * 6 * 3, f.ny = (size_t)2 * f.p.oh * f.p.ow * 3;
    fd_run(&f, 11, "maxpool dx");
}

Test(lenet_ops, leaky_gradient_by_finite_differences) {
    FdCtx f = {0};
    f.op = 1, f.slope = 0.01f, f.nx = f.ny = 301;
    fd_run(&f, 12, "leaky dx");
}

Test(lenet_ops, upsample_gradient_by_finite_differences) {
    FdCtx f = {0};
    f.op = 2, f.n = 2, f.h = 3, f.w = 4, f.c = 5, f.s = 2;
    f.nx = 2 * 3 * 4 * 5, f.ny = f.nx * 4;
    fd_run(&f, 13, "upsample dx");
}

/* ---------------------------------------------------------------- threads */

Test(lenet_ops, identical_bits_for_1_and_2_threads) {
    const KOps *k = kops_cpu();
    KPool p = kpool_init(64, 28, 28, 16, 2);
    size_t nx = (size_t)64 * 28 * 28 * 16, ny = nx / 4;
    float *x = tu_rand(nx, 21, -1, 1), *dy = tu_rand(ny, 22, -1, 1);
    float *out[2][4];
    for (int t = 0; t < 2; t++) {
        kthreads_set(t + 1);
        out[t][0] = tu_alloc(ny), out[t][1] = tu_alloc(nx), out[t][2] = tu_alloc(nx);
        out[t][3] = tu_alloc(nx * 4);
        k->maxpool_fwd(&p, x, out[t][0]);
        k->maxpool_bwd(&p, x, dy, out[t][1]);
        k->leaky_bwd(nx, 0.01f, x, x, out[t][2]);
        k->upsample_fwd(64, 28, 28, 16, 2, x, out[t][3]);
    }
    tu_assert_bytes_equal(out[0][0], out[1][0], ny * sizeof(float), "maxpool_fwd");
    tu_assert_bytes_equal(out[0][1], out[1][1], nx * sizeof(float), "maxpool_bwd");
    tu_assert_bytes_equal(out[0][2], out[1][2], nx * sizeof(float), "leaky_bwd");
    tu_assert_bytes_equal(out[0][3], out[1][3], nx * 4 * sizeof(float), "upsample_fwd");
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < 4; i++) free(out[t][i]);
    free(x), free(dy);
}

/* The fixtures of this folder have a budget of their own (tests/fixtures/ is
 * at its 2 MB limit). */
Test(base, validity_fixtures_stay_under_400_KB) {
    FILE *p = popen("du -cb tests/fixtures_validity/* | tail -1", "r");
    cr_assert_not_null(p);
    long long total = -1;
    cr_assert_eq(fscanf(p, "%lld", &total), 1);
    pclose(p);
    cr_assert(total > 10000 && total < 400 * 1024, "tests/fixtures_validity holds %lld bytes",
              total);
}
