/* The CPU kernels against PyTorch: tests/fixtures/kernels.safetensors holds,
 * for every op case, inputs, weights, outputs and autograd gradients for a
 * given upstream gradient dy, computed by tests/reference/make_fixtures.py in
 * float64 and rounded once to float32, in the kernels' layouts (NHWC images,
 * batch-major sequences, PyTorch weight layouts). Each case's geometry is a
 * JSON object in the file's __metadata__ under the case name.
 *
 * Tolerances. For a result r against the reference e (a whole tensor),
 * element i passes when
 *
 *     |r_i - e_i| <= tol * (|e_i| + 0.1 * max_j |e_j|)
 *
 * i.e. a relative error of at most tol, measured against a floor of a tenth
 * of the tensor's largest magnitude so that elements that cancel to near zero
 * are judged by the precision of the terms that produced them, not by their
 * own tiny size. Forward outputs (and saved statistics, running averages):
 * tol = 1e-4. Gradients: tol = 1e-3 (their absolute floor is therefore
 * 1e-4 * max|gradient|). float32 arithmetic over the O(10..100)-term sums of
 * these small cases stays near 1e-6 relative, so both leave a wide margin
 * for honest rounding while catching any wrong index, stride or formula
 * (those give errors of order 1). One gradient is zero in exact arithmetic
 * (the attention score bias db2); it is judged against the magnitude of a
 * related gradient instead (see run_attn).
 *
 * Interface semantics are checked too: every output buffer starts as NaN (a
 * forward must overwrite every element), and each backward runs twice: the
 * second run must give the same activation gradients (overwrite) and doubled
 * parameter gradients (accumulate). The run_* functions take a KOps table:
 * suite cuda_torch runs every case again on the CUDA backend (skipped
 * without a GPU, see cuda_testutil.h). */
#include "cuda_testutil.h"
#include "testutil.h"

#include <jansson.h>

#include "models/safetensors.h"

#define FIXTURE "tests/fixtures/kernels.safetensors"
#define FWD_TOL 1e-4
#define GRAD_TOL 1e-3
#define FLOOR_FRAC 0.1

/* An op pointer of the table must be present. */
#define NEED(ops, field)                                                                     \
    cr_assert((ops)->field != NULL, "%s backend: op '" #field "' is missing from the table", \
              (ops)->name)

/* ---------------------------------------------------------------- fixture access */

enum { MAX_BUFS = 96, MAX_GRADS = 16 };

typedef struct Grad {
    char what[64]; /* fixture name ("dx"), or "": checked by the caller */
    float *dev;
    int64_t n;
    bool param;          /* accumulates (param) or overwrites (activation) */
    char scale_from[64]; /* judge against this gradient's magnitude too (see attn) */
    float *first;        /* host copy after the first backward */
} Grad;

typedef struct Fx {
    const KOps *ops;
    const char *cname;
    StFile f;
    json_t *geo;
    void *dev[MAX_BUFS];
    int ndev;
    void *host[MAX_BUFS];
    int nhost;
    Grad g[MAX_GRADS];
    int ng;
} Fx;

static void fx_open(Fx *x, const KOps *ops, const char *cname) {
    memset(x, 0, sizeof *x);
    x->ops = ops;
    x->cname = cname;
    cr_assert_eq(st_open(FIXTURE, &x->f), VB_OK, "%s (regenerate with `make fixtures`)",
                 vb_errmsg());
    const char *g = st_meta(&x->f, cname);
    cr_assert_not_null(g, FIXTURE ": no metadata for case '%s'", cname);
    json_error_t err;
    x->geo = json_loads(g, 0, &err);
    cr_assert(json_is_object(x->geo), "case '%s': geometry is not a JSON object: %s", cname,
              err.text);
}

static void fx_close(Fx *x) {
    for (int i = 0; i < x->ndev; i++) x->ops->free(x->dev[i]);
    for (int i = 0; i < x->nhost; i++) free(x->host[i]);
    json_decref(x->geo);
    st_close(&x->f);
}

static json_t *geo(Fx *x, const char *key) {
    json_t *v = json_object_get(x->geo, key);
    cr_assert_not_null(v, "case '%s': geometry lacks '%s'", x->cname, key);
    return v;
}
static int geo_i(Fx *x, const char *key) {
    json_t *v = geo(x, key);
    cr_assert(json_is_integer(v), "case '%s': '%s' is not an integer", x->cname, key);
    return (int)json_integer_value(v);
}
static float geo_f(Fx *x, const char *key) { return (float)json_number_value(geo(x, key)); }
static bool geo_b(Fx *x, const char *key) { return json_is_true(geo(x, key)); }
static const char *geo_s(Fx *x, const char *key) {
    json_t *v = geo(x, key);
    cr_assert(json_is_string(v), "case '%s': '%s' is not a string", x->cname, key);
    return json_string_value(v);
}

static float *host_alloc(Fx *x, int64_t n) {
    cr_assert_lt(x->nhost, MAX_BUFS);
    float *p = tu_alloc((size_t)n);
    x->host[x->nhost++] = p;
    return p;
}

/* "<case>.<what>" as a host array; its element count must be n. */
static float *fx_host(Fx *x, const char *what, int64_t n) {
    char name[128];
    snprintf(name, sizeof name, "%s.%s", x->cname, what);
    const StTensor *t = st_find(&x->f, name);
    cr_assert_not_null(t, FIXTURE ": no tensor '%s'", name);
    cr_assert_eq(t->numel, n, "%s: %lld elements, the test expects %lld", name, (long long)t->numel,
                 (long long)n);
    float *p = host_alloc(x, n);
    cr_assert_eq(st_read_f32(&x->f, t, p, n), VB_OK, "%s", vb_errmsg());
    return p;
}

static float *dev_alloc(Fx *x, int64_t n) {
    cr_assert_lt(x->ndev, MAX_BUFS);
    float *p = x->ops->alloc((size_t)(n ? n : 1) * sizeof(float));
    cr_assert_not_null(p);
    x->dev[x->ndev++] = p;
    return p;
}

static void dev_nan(Fx *x, float *d, int64_t n) {
    float *h = tu_alloc((size_t)n);
    for (int64_t i = 0; i < n; i++) h[i] = NAN;
    x->ops->upload(d, h, (size_t)n * sizeof(float));
    free(h);
}

/* A device buffer filled with NaN: an output the op must overwrite. */
static float *fx_out(Fx *x, int64_t n) {
    float *d = dev_alloc(x, n);
    dev_nan(x, d, n);
    return d;
}

/* A device copy of fixture tensor `what`. */
static float *fx_in(Fx *x, const char *what, int64_t n) {
    float *h = fx_host(x, what, n), *d = dev_alloc(x, n);
    x->ops->upload(d, h, (size_t)n * sizeof(float));
    return d;
}

static float *fx_download(Fx *x, const float *d, int64_t n) {
    float *h = host_alloc(x, n);
    x->ops->sync();
    x->ops->download(h, d, (size_t)n * sizeof(float));
    return h;
}

/* The tolerance rule of the header comment, reporting the worst element. */
static void check_close(const char *label, const float *got, const float *want, int64_t n,
                        double tol, double min_scale) {
    double scale = min_scale;
    for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs((double)want[i]));
    int64_t worst = -1;
    double worst_ratio = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        double lim = tol * (fabs((double)want[i]) + FLOOR_FRAC * scale);
        double ratio = isnan(d) ? INFINITY : (lim > 0 ? d / lim : (d > 0 ? INFINITY : 0));
        if (ratio > worst_ratio || worst < 0) worst_ratio = ratio, worst = i;
    }
    if (n == 0) return;
    cr_assert(worst_ratio <= 1.0,
              "%s: element %lld of %lld: got %.9g, PyTorch %.9g (|diff| %.3g, allowed %.3g = "
              "%g * (|ref| + %g * max|ref| %.3g))",
              label, (long long)worst, (long long)n, (double)got[worst], (double)want[worst],
              fabs((double)got[worst] - (double)want[worst]),
              tol * (fabs((double)want[worst]) + FLOOR_FRAC * scale), tol, FLOOR_FRAC, scale);
}

/* Compare device buffer d against fixture tensor `what`. */
static void fx_check(Fx *x, const float *d, const char *what, int64_t n, double tol) {
    char label[160];
    snprintf(label, sizeof label, "%s.%s (%s backend)", x->cname, what, x->ops->name);
    check_close(label, fx_download(x, d, n), fx_host(x, what, n), n, tol, 0);
}

/* ---------------------------------------------------------------- gradients */

/* A gradient output of a backward: activation gradients start as NaN
 * (must be overwritten), parameter gradients as zero (accumulate). */
static float *fx_grad(Fx *x, const char *what, int64_t n, bool param) {
    cr_assert_lt(x->ng, MAX_GRADS);
    float *d = dev_alloc(x, n);
    if (!param) dev_nan(x, d, n);
    Grad *g = &x->g[x->ng++];
    memset(g, 0, sizeof *g);
    snprintf(g->what, sizeof g->what, "%s", what ? what : "");
    g->dev = d, g->n = n, g->param = param;
    return d;
}

/* After backward pass `pass` (0 or 1): pass 0 compares every named gradient
 * with the fixture and keeps a copy, then re-arms activation gradients with
 * NaN; pass 1 checks overwrite/accumulate semantics against that copy. */
static void fx_after_bwd(Fx *x, int pass) {
    for (int i = 0; i < x->ng; i++) {
        Grad *g = &x->g[i];
        char label[160];
        snprintf(label, sizeof label, "%s.%s (%s backend, %s call)", x->cname,
                 g->what[0] ? g->what : "partial gradient", x->ops->name,
                 pass ? "second backward" : "backward");
        float *got = fx_download(x, g->dev, g->n);
        if (pass == 0) {
            double min_scale = 0;
            if (g->scale_from[0]) {
                const StTensor *t = NULL;
                char nm[140];
                snprintf(nm, sizeof nm, "%s.%s", x->cname, g->scale_from);
                cr_assert_not_null(t = st_find(&x->f, nm), "no tensor %s", nm);
                float *ref = fx_host(x, g->scale_from, t->numel);
                for (int64_t j = 0; j < t->numel; j++) min_scale = fmax(min_scale, fabs(ref[j]));
            }
            if (g->what[0])
                check_close(label, got, fx_host(x, g->what, g->n), g->n, GRAD_TOL, min_scale);
            g->first = got;
            if (!g->param) dev_nan(x, g->dev, g->n);
        } else if (g->param) {
            float *twice = host_alloc(x, g->n);
            for (int64_t j = 0; j < g->n; j++) twice[j] = 2.0f * g->first[j];
            strncat(label, ": parameter gradients must accumulate",
                    sizeof label - strlen(label) - 1);
            check_close(label, got, twice, g->n, 1e-5, 0);
        } else {
            strncat(label, ": activation gradients must be overwritten",
                    sizeof label - strlen(label) - 1);
            tu_assert_bytes_equal(got, g->first, (size_t)g->n * sizeof(float), label);
        }
    }
}

static int64_t prod4(int a, int b, int c, int d) { return (int64_t)a * b * c * d; }

/* ---------------------------------------------------------------- convolution */

/* conv2d / depthwise / transposed cases. `via` selects the entry point for
 * depthwise cases: 'd' dwconv2d_*, 'c' conv2d_* (which must route them). */
static void run_conv(const KOps *ops, const char *cname, char via) {
    Fx x;
    fx_open(&x, ops, cname);
    const char *op = geo_s(&x, "op");
    bool transposed = strcmp(op, "convt2d") == 0;
    int n = geo_i(&x, "n"), h = geo_i(&x, "h"), w = geo_i(&x, "w"), cin = geo_i(&x, "cin"),
        cout = geo_i(&x, "cout"), k = geo_i(&x, "k"), s = geo_i(&x, "stride"),
        pad = geo_i(&x, "pad"), groups = geo_i(&x, "groups");
    bool bias = geo_b(&x, "bias");
    KConv c = transposed ? kconvt_init(n, h, w, cin, cout, k, s, pad)
                         : kconv_init(n, h, w, cin, cout, k, s, pad, groups);
    cr_assert(c.oh == geo_i(&x, "oh") && c.ow == geo_i(&x, "ow"),
              "%s: kconv_init gives %dx%d, PyTorch %dx%d", cname, c.oh, c.ow, geo_i(&x, "oh"),
              geo_i(&x, "ow"));
    int64_t nx = prod4(n, h, w, cin), ny = prod4(n, c.oh, c.ow, cout);
    int64_t nw = transposed ? prod4(cin, cout, k, k) : prod4(cout, cin / groups, k, k);
    float *xd = fx_in(&x, "x", nx), *wd = fx_in(&x, "w", nw);
    float *bd = bias ? fx_in(&x, "b", cout) : NULL;
    float *dyd = fx_in(&x, "dy", ny), *y = fx_out(&x, ny);
    float *dx = fx_grad(&x, "dx", nx, false), *dw = fx_grad(&x, "dw", nw, true);
    float *db = bias ? fx_grad(&x, "db", cout, true) : NULL;

    if (transposed) {
        NEED(ops, convt2d_ws);
        NEED(ops, convt2d_fwd);
        NEED(ops, convt2d_bwd);
        float *ws = dev_alloc(&x, (int64_t)ops->convt2d_ws(&c));
        ops->convt2d_fwd(&c, xd, wd, bd, y, ws);
        fx_check(&x, y, "y", ny, FWD_TOL);
        for (int pass = 0; pass < 2; pass++) {
            ops->convt2d_bwd(&c, xd, wd, dyd, dx, dw, db, ws);
            fx_after_bwd(&x, pass);
        }
    } else if (via == 'd') {
        cr_assert(groups == cin && cin == cout, "%s is not a depthwise case", cname);
        NEED(ops, dwconv2d_fwd);
        NEED(ops, dwconv2d_bwd);
        ops->dwconv2d_fwd(&c, xd, wd, bd, y);
        fx_check(&x, y, "y", ny, FWD_TOL);
        for (int pass = 0; pass < 2; pass++) {
            ops->dwconv2d_bwd(&c, xd, wd, dyd, dx, dw, db);
            fx_after_bwd(&x, pass);
        }
    } else {
        NEED(ops, conv2d_ws);
        NEED(ops, conv2d_fwd);
        NEED(ops, conv2d_bwd);
        float *ws = dev_alloc(&x, (int64_t)ops->conv2d_ws(&c));
        ops->conv2d_fwd(&c, xd, wd, bd, y, ws);
        fx_check(&x, y, "y", ny, FWD_TOL);
        for (int pass = 0; pass < 2; pass++) {
            ops->conv2d_bwd(&c, xd, wd, dyd, dx, dw, db, ws);
            fx_after_bwd(&x, pass);
        }
    }
    fx_close(&x);
}

Test(torch_kernels, conv2d_s2) { run_conv(kops_cpu(), "conv2d_s2", 'c'); }
Test(torch_kernels, conv2d_g2) { run_conv(kops_cpu(), "conv2d_g2", 'c'); }
Test(torch_kernels, conv2d_1x1) { run_conv(kops_cpu(), "conv2d_1x1", 'c'); }
Test(torch_kernels, dwconv_k3s1) { run_conv(kops_cpu(), "dwconv_k3s1", 'd'); }
Test(torch_kernels, dwconv_k5s2) { run_conv(kops_cpu(), "dwconv_k5s2", 'd'); }
Test(torch_kernels, dwconv_k3s1_via_conv2d) { run_conv(kops_cpu(), "dwconv_k3s1", 'c'); }
Test(torch_kernels, dwconv_k5s2_via_conv2d) { run_conv(kops_cpu(), "dwconv_k5s2", 'c'); }
Test(torch_kernels, convt2d_k4s2p1) { run_conv(kops_cpu(), "convt2d_k4s2p1", 't'); }

/* ---------------------------------------------------------------- batch norm */

static KAct act_from_name(const char *s) {
    static const struct {
        const char *name;
        KAct act;
    } map[] = {{"none", K_ACT_NONE},   {"relu", K_ACT_RELU},       {"silu", K_ACT_SILU},
               {"leaky", K_ACT_LEAKY}, {"sigmoid", K_ACT_SIGMOID}, {"tanh", K_ACT_TANH}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i].name, s) == 0) return map[i].act;
    cr_assert_fail("unknown activation '%s' in the fixture", s);
    return K_ACT_NONE;
}

static void run_bn(const KOps *ops, const char *cname) {
    Fx x;
    fx_open(&x, ops, cname);
    bool train = geo_b(&x, "train");
    int rows = geo_i(&x, "rows"), c = geo_i(&x, "c");
    KBn p = {rows, c, geo_f(&x, "eps"), geo_f(&x, "momentum"), act_from_name(geo_s(&x, "act"))};
    int64_t n = (int64_t)rows * c;
    float *xd = fx_in(&x, "x", n), *gamma = fx_in(&x, "gamma", c), *beta = fx_in(&x, "beta", c);
    float *rm = fx_in(&x, "run_mean0", c), *rv = fx_in(&x, "run_var0", c);
    float *dyd = fx_in(&x, "dy", n), *y = fx_out(&x, n);
    float *dx = fx_grad(&x, "dx", n, false), *dgamma = fx_grad(&x, "dgamma", c, true),
          *dbeta = fx_grad(&x, "dbeta", c, true);
    if (train) {
        NEED(ops, bn_train_fwd);
        NEED(ops, bn_train_bwd);
        float *mean = fx_out(&x, c), *invstd = fx_out(&x, c);
        ops->bn_train_fwd(&p, xd, gamma, beta, rm, rv, true, mean, invstd, y);
        fx_check(&x, y, "y", n, FWD_TOL);
        fx_check(&x, mean, "mean", c, FWD_TOL);
        fx_check(&x, invstd, "invstd", c, FWD_TOL);
        fx_check(&x, rm, "run_mean", c, FWD_TOL);
        fx_check(&x, rv, "run_var", c, FWD_TOL);
        /* update_running = false (SAM's second pass) leaves them untouched */
        float *rm1 = fx_download(&x, rm, c), *rv1 = fx_download(&x, rv, c);
        float *y1 = fx_download(&x, y, n);
        ops->bn_train_fwd(&p, xd, gamma, beta, rm, rv, false, mean, invstd, y);
        tu_assert_bytes_equal(fx_download(&x, rm, c), rm1, (size_t)c * 4, "run_mean frozen");
        tu_assert_bytes_equal(fx_download(&x, rv, c), rv1, (size_t)c * 4, "run_var frozen");
        tu_assert_bytes_equal(fx_download(&x, y, n), y1, (size_t)n * 4, "same y without update");
        for (int pass = 0; pass < 2; pass++) {
            ops->bn_train_bwd(&p, xd, gamma, beta, mean, invstd, dyd, dx, dgamma, dbeta);
            fx_after_bwd(&x, pass);
        }
        /* dx may alias dy */
        float *alias = dev_alloc(&x, n), *junk = dev_alloc(&x, 2 * c);
        ops->copy(alias, dyd, (size_t)n * 4);
        ops->bn_train_bwd(&p, xd, gamma, beta, mean, invstd, alias, alias, junk, junk + c);
        fx_check(&x, alias, "dx", n, GRAD_TOL);
    } else {
        NEED(ops, bn_eval_fwd);
        NEED(ops, bn_eval_bwd);
        ops->bn_eval_fwd(&p, xd, gamma, beta, rm, rv, y);
        fx_check(&x, y, "y", n, FWD_TOL);
        for (int pass = 0; pass < 2; pass++) {
            ops->bn_eval_bwd(&p, xd, gamma, beta, rm, rv, dyd, dx, dgamma, dbeta);
            fx_after_bwd(&x, pass);
        }
    }
    fx_close(&x);
}

Test(torch_kernels, bn2d_train) { run_bn(kops_cpu(), "bn2d_train"); }
Test(torch_kernels, bn2d_train_silu) { run_bn(kops_cpu(), "bn2d_train_silu"); }
Test(torch_kernels, bn2d_eval) { run_bn(kops_cpu(), "bn2d_eval"); }
Test(torch_kernels, bn1d_train) { run_bn(kops_cpu(), "bn1d_train"); }

/* ---------------------------------------------------------------- recurrent */

/* Copy columns [c0, c0+w) of a [rows, ld] host array. */
static float *cols(Fx *x, const float *a, int64_t rows, int ld, int c0, int w) {
    float *o = host_alloc(x, rows * w);
    for (int64_t r = 0; r < rows; r++) memcpy(o + r * w, a + r * ld + c0, (size_t)w * 4);
    return o;
}

static void run_rnn(const KOps *ops, const char *cname) {
    Fx x;
    fx_open(&x, ops, cname);
    bool lstm = strcmp(geo_s(&x, "op"), "lstm") == 0, bi = geo_b(&x, "bidirectional");
    int b = geo_i(&x, "b"), t = geo_i(&x, "t"), in = geo_i(&x, "input"), hd = geo_i(&x, "hidden"),
        G = geo_i(&x, "gates"), D = bi ? 2 : 1;
    if (lstm) {
        NEED(ops, lstm_save);
        NEED(ops, lstm_ws);
        NEED(ops, lstm_fwd);
        NEED(ops, lstm_bwd);
    } else {
        NEED(ops, gru_save);
        NEED(ops, gru_ws);
        NEED(ops, gru_fwd);
        NEED(ops, gru_bwd);
    }
    int64_t bt = (int64_t)b * t, nx = bt * in, ny = bt * D * hd;
    float *xd = fx_in(&x, "x", nx), *dyd = fx_in(&x, "dy", ny), *y = fx_out(&x, ny);
    float *wih[2], *whh[2], *bih[2], *bhh[2], *save[2], *ws[2], *dx[2];
    float *dwih[2], *dwhh[2], *dbih[2], *dbhh[2];
    KRnn r[2];
    for (int d = 0; d < D; d++) {
        const char *sfx = d ? "_reverse" : "";
        char nm[64], gn[64];
#define PARAM(arr, base, n)                      \
    snprintf(nm, sizeof nm, base "%s", sfx);     \
    arr[d] = fx_in(&x, nm, n);                   \
    snprintf(gn, sizeof gn, "d" base "%s", sfx); \
    d##arr[d] = fx_grad(&x, gn, n, true);
        PARAM(wih, "weight_ih_l0", (int64_t)G * hd * in);
        PARAM(whh, "weight_hh_l0", (int64_t)G * hd * hd);
        PARAM(bih, "bias_ih_l0", (int64_t)G * hd);
        PARAM(bhh, "bias_hh_l0", (int64_t)G * hd);
#undef PARAM
        r[d] = (KRnn){b, t, in, hd, in, D * hd, d == 1};
        save[d] = dev_alloc(&x, (int64_t)(lstm ? ops->lstm_save(&r[d]) : ops->gru_save(&r[d])));
        ws[d] = dev_alloc(&x, (int64_t)(lstm ? ops->lstm_ws(&r[d]) : ops->gru_ws(&r[d])));
        /* with one direction dx is the fixture's; with two, their sum is */
        dx[d] = fx_grad(&x, bi ? NULL : "dx", nx, false);
    }
    for (int d = 0; d < D; d++) {
        if (lstm)
            ops->lstm_fwd(&r[d], xd, wih[d], whh[d], bih[d], bhh[d], y + d * hd, save[d], ws[d]);
        else ops->gru_fwd(&r[d], xd, wih[d], whh[d], bih[d], bhh[d], y + d * hd, save[d], ws[d]);
    }
    float *yh = fx_download(&x, y, ny), *yref = fx_host(&x, "y", ny);
    char label[128];
    for (int d = 0; d < D; d++) {
        snprintf(label, sizeof label, "%s.y %s direction (columns %d..%d of %d)", cname,
                 d ? "reverse" : "forward", d * hd, (d + 1) * hd - 1, D * hd);
        check_close(label, cols(&x, yh, bt, D * hd, d * hd, hd),
                    cols(&x, yref, bt, D * hd, d * hd, hd), bt * hd, FWD_TOL, 0);
    }
    for (int pass = 0; pass < 2; pass++) {
        for (int d = 0; d < D; d++) {
            if (lstm)
                ops->lstm_bwd(&r[d], xd, wih[d], whh[d], y + d * hd, save[d], dyd + d * hd, dx[d],
                              dwih[d], dwhh[d], dbih[d], dbhh[d], ws[d]);
            else
                ops->gru_bwd(&r[d], xd, wih[d], whh[d], y + d * hd, save[d], dyd + d * hd, dx[d],
                             dwih[d], dwhh[d], dbih[d], dbhh[d], ws[d]);
        }
        if (bi && pass == 0) {
            float *a = fx_download(&x, dx[0], nx), *c = fx_download(&x, dx[1], nx);
            for (int64_t i = 0; i < nx; i++) a[i] += c[i];
            snprintf(label, sizeof label, "%s.dx (sum of both directions)", cname);
            check_close(label, a, fx_host(&x, "dx", nx), nx, GRAD_TOL, 0);
        }
        fx_after_bwd(&x, pass);
    }
    fx_close(&x);
}

Test(torch_kernels, lstm) { run_rnn(kops_cpu(), "lstm"); }
Test(torch_kernels, lstm_bidirectional) { run_rnn(kops_cpu(), "lstm_bi"); }
Test(torch_kernels, gru) { run_rnn(kops_cpu(), "gru"); }
Test(torch_kernels, gru_bidirectional) { run_rnn(kops_cpu(), "gru_bi"); }

/* ---------------------------------------------------------------- attention */

static void run_attn(const KOps *ops, const char *cname) {
    Fx x;
    fx_open(&x, ops, cname);
    NEED(ops, attn_fwd);
    NEED(ops, attn_bwd);
    int b = geo_i(&x, "b"), t = geo_i(&x, "t"), d = geo_i(&x, "d"), a = geo_i(&x, "a");
    int64_t bt = (int64_t)b * t;
    float *h = fx_in(&x, "h", bt * d), *w1 = fx_in(&x, "w1", (int64_t)a * d),
          *b1 = fx_in(&x, "b1", a), *w2 = fx_in(&x, "w2", a), *b2 = fx_in(&x, "b2", 1);
    float *dyd = fx_in(&x, "dy", (int64_t)b * d), *y = fx_out(&x, (int64_t)b * d);
    float *save = dev_alloc(&x, bt * (a + 1)), *ws = dev_alloc(&x, bt * (a + 1));
    float *dh = fx_grad(&x, "dh", bt * d, false), *dw1 = fx_grad(&x, "dw1", (int64_t)a * d, true),
          *db1 = fx_grad(&x, "db1", a, true), *dw2 = fx_grad(&x, "dw2", a, true),
          *db2 = fx_grad(&x, "db2", 1, true);
    /* db2 = sum_{b,t} de[b,t] is zero in exact arithmetic (softmax ignores a
     * shift of e), so its reference is rounding noise (~1e-16); the kernel's
     * float32 sum of the de terms is judged against their size, which dw2 =
     * sum de * u (|u| < 1) measures. */
    snprintf(x.g[x.ng - 1].scale_from, sizeof x.g[0].scale_from, "dw2");
    ops->attn_fwd(b, t, d, a, h, w1, b1, w2, b2, save, y);
    fx_check(&x, y, "y", (int64_t)b * d, FWD_TOL);
    for (int pass = 0; pass < 2; pass++) {
        ops->attn_bwd(b, t, d, a, h, w1, w2, save, dyd, dh, dw1, db1, dw2, db2, ws);
        fx_after_bwd(&x, pass);
    }
    fx_close(&x);
}

Test(torch_kernels, attention_pooling) { run_attn(kops_cpu(), "attn"); }

/* ---------------------------------------------------------------- dense, elementwise */

static void run_linear(const KOps *ops, const char *cname) {
    Fx x;
    fx_open(&x, ops, cname);
    NEED(ops, linear_fwd);
    NEED(ops, linear_bwd);
    int rows = geo_i(&x, "rows"), in = geo_i(&x, "input"), out = geo_i(&x, "output");
    float *xd = fx_in(&x, "x", (int64_t)rows * in), *w = fx_in(&x, "w", (int64_t)out * in),
          *bd = fx_in(&x, "b", out), *dyd = fx_in(&x, "dy", (int64_t)rows * out);
    float *y = fx_out(&x, (int64_t)rows * out);
    float *dx = fx_grad(&x, "dx", (int64_t)rows * in, false),
          *dw = fx_grad(&x, "dw", (int64_t)out * in, true), *db = fx_grad(&x, "db", out, true);
    ops->linear_fwd(rows, in, out, xd, w, bd, y);
    fx_check(&x, y, "y", (int64_t)rows * out, FWD_TOL);
    for (int pass = 0; pass < 2; pass++) {
        ops->linear_bwd(rows, in, out, xd, w, dyd, dx, dw, db);
        fx_after_bwd(&x, pass);
    }
    fx_close(&x);
}

Test(torch_kernels, linear) { run_linear(kops_cpu(), "linear"); }

static void run_act(const KOps *ops, const char *cname) {
    Fx x;
    fx_open(&x, ops, cname);
    NEED(ops, act_fwd);
    NEED(ops, act_bwd);
    KAct act = act_from_name(geo_s(&x, "act"));
    int n = geo_i(&x, "n");
    float *xd = fx_in(&x, "x", n), *dyd = fx_in(&x, "dy", n), *y = fx_out(&x, n);
    float *dx = fx_grad(&x, "dx", n, false);
    ops->act_fwd(act, (size_t)n, xd, y);
    fx_check(&x, y, "y", n, FWD_TOL);
    for (int pass = 0; pass < 2; pass++) {
        ops->act_bwd(act, (size_t)n, xd, dyd, dx);
        fx_after_bwd(&x, pass);
    }
    fx_close(&x);
}

Test(torch_kernels, act_silu) { run_act(kops_cpu(), "act_silu"); }
Test(torch_kernels, act_sigmoid) { run_act(kops_cpu(), "act_sigmoid"); }
Test(torch_kernels, act_tanh) { run_act(kops_cpu(), "act_tanh"); }
Test(torch_kernels, act_relu) { run_act(kops_cpu(), "act_relu"); }
Test(torch_kernels, act_leaky) { run_act(kops_cpu(), "act_leaky"); }

static void run_softmax(const KOps *ops, const char *cname) {
    Fx x;
    fx_open(&x, ops, cname);
    bool lg = strcmp(geo_s(&x, "op"), "log_softmax") == 0;
    if (lg) {
        NEED(ops, log_softmax_fwd);
        NEED(ops, log_softmax_bwd);
    } else {
        NEED(ops, softmax_fwd);
        NEED(ops, softmax_bwd);
    }
    int rows = geo_i(&x, "rows"), n = geo_i(&x, "n");
    int64_t m = (int64_t)rows * n;
    float *xd = fx_in(&x, "x", m), *dyd = fx_in(&x, "dy", m), *y = fx_out(&x, m);
    float *dx = fx_grad(&x, "dx", m, false);
    (lg ? ops->log_softmax_fwd : ops->softmax_fwd)(rows, n, xd, y);
    fx_check(&x, y, "y", m, FWD_TOL);
    for (int pass = 0; pass < 2; pass++) {
        (lg ? ops->log_softmax_bwd : ops->softmax_bwd)(rows, n, y, dyd, dx);
        fx_after_bwd(&x, pass);
    }
    fx_close(&x);
}

Test(torch_kernels, softmax) { run_softmax(kops_cpu(), "softmax"); }
Test(torch_kernels, log_softmax) { run_softmax(kops_cpu(), "log_softmax"); }

/* Every case in the fixture file has a test above (a case added to
 * make_fixtures.py without a C test fails here). */
Test(torch_kernels, every_fixture_case_is_tested) {
    static const char *tested[] = {"conv2d_s2",   "conv2d_g2",      "conv2d_1x1", "dwconv_k3s1",
                                   "dwconv_k5s2", "convt2d_k4s2p1", "bn2d_train", "bn2d_train_silu",
                                   "bn2d_eval",   "bn1d_train",     "lstm",       "lstm_bi",
                                   "gru",         "gru_bi",         "attn",       "linear",
                                   "act_silu",    "act_sigmoid",    "act_tanh",   "act_relu",
                                   "act_leaky",   "softmax",        "log_softmax"};
    StFile f;
    cr_assert_eq(st_open(FIXTURE, &f), VB_OK, "%s", vb_errmsg());
    const char *key;
    json_t *v;
    int cases = 0;
    json_object_foreach(f.metadata, key, v) {
        const char *s = json_string_value(v);
        if (!s || s[0] != '{') continue; /* format, generator, torch_version */
        cases++;
        bool found = false;
        for (size_t i = 0; i < sizeof tested / sizeof tested[0]; i++)
            found = found || strcmp(tested[i], key) == 0;
        cr_assert(found, "fixture case '%s' has no test in test_torch_kernels.c", key);
    }
    cr_assert_eq(cases, (int)(sizeof tested / sizeof tested[0]));
    for (int i = 0; i < f.n; i++) {
        const char *dot = strchr(f.t[i].name, '.');
        cr_assert_not_null(dot, "tensor '%s' is not named <case>.<what>", f.t[i].name);
        char cname[64];
        snprintf(cname, sizeof cname, "%.*s", (int)(dot - f.t[i].name), f.t[i].name);
        cr_assert_not_null(st_meta(&f, cname), "tensor '%s' has no case metadata", f.t[i].name);
    }
    st_close(&f);
}

/* The same PyTorch fixtures on the CUDA backend (skipped without a GPU). */
Test(cuda_torch, conv2d_s2) { run_conv(cuda_or_skip(), "conv2d_s2", 'c'); }
Test(cuda_torch, conv2d_g2) { run_conv(cuda_or_skip(), "conv2d_g2", 'c'); }
Test(cuda_torch, conv2d_1x1) { run_conv(cuda_or_skip(), "conv2d_1x1", 'c'); }
Test(cuda_torch, dwconv_k3s1) { run_conv(cuda_or_skip(), "dwconv_k3s1", 'd'); }
Test(cuda_torch, dwconv_k5s2) { run_conv(cuda_or_skip(), "dwconv_k5s2", 'd'); }
Test(cuda_torch, dwconv_k3s1_via_conv2d) { run_conv(cuda_or_skip(), "dwconv_k3s1", 'c'); }
Test(cuda_torch, convt2d_k4s2p1) { run_conv(cuda_or_skip(), "convt2d_k4s2p1", 't'); }
Test(cuda_torch, bn2d_train) { run_bn(cuda_or_skip(), "bn2d_train"); }
Test(cuda_torch, bn2d_train_silu) { run_bn(cuda_or_skip(), "bn2d_train_silu"); }
Test(cuda_torch, bn2d_eval) { run_bn(cuda_or_skip(), "bn2d_eval"); }
Test(cuda_torch, bn1d_train) { run_bn(cuda_or_skip(), "bn1d_train"); }
Test(cuda_torch, lstm) { run_rnn(cuda_or_skip(), "lstm"); }
Test(cuda_torch, lstm_bidirectional) { run_rnn(cuda_or_skip(), "lstm_bi"); }
Test(cuda_torch, gru) { run_rnn(cuda_or_skip(), "gru"); }
Test(cuda_torch, gru_bidirectional) { run_rnn(cuda_or_skip(), "gru_bi"); }
Test(cuda_torch, attention_pooling) { run_attn(cuda_or_skip(), "attn"); }
Test(cuda_torch, linear) { run_linear(cuda_or_skip(), "linear"); }
Test(cuda_torch, act_silu) { run_act(cuda_or_skip(), "act_silu"); }
Test(cuda_torch, act_sigmoid) { run_act(cuda_or_skip(), "act_sigmoid"); }
Test(cuda_torch, act_tanh) { run_act(cuda_or_skip(), "act_tanh"); }
Test(cuda_torch, act_relu) { run_act(cuda_or_skip(), "act_relu"); }
Test(cuda_torch, act_leaky) { run_act(cuda_or_skip(), "act_leaky"); }
Test(cuda_torch, softmax) { run_softmax(cuda_or_skip(), "softmax"); }
Test(cuda_torch, log_softmax) { run_softmax(cuda_or_skip(), "log_softmax"); }
