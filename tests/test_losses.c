/* The MODEL_SPEC §4 losses (models/losses.c), value and gradient, against
 * torch autograd in float64 (tests/fixtures/losses.json, written by
 * tests/reference/make_train_parity.py; `make fixtures` regenerates it).
 *
 * - loss_focal_row on single rows: γ 2.5 / α 0.25 / smoothing 0.1 (the
 *   defaults, with the focal factor on the unsmoothed p_y), a confident and
 *   a hopeless row, γ = 0 / α = 1 / ε = 0 (plain cross entropy), other γ,
 *   α, ε, 14 classes, and a gradient scale.
 * - loss_ce_row on hard and soft two-class targets and a 5-class soft one.
 * - loss_compute on whole batches: the model's output buffers (class and
 *   binary logits, SVDD distances, per-frame VAE mse and kl) of a tiny
 *   Hybrid are written directly, then the parts (cls, bin, svdd, vae,
 *   total) and the gradients it writes back (g_cls, g_bin, g_svdd_w,
 *   g_vae_wm, g_vae_wk = d total / d each output) are compared. Cases:
 *   supervised SVDD (margin detached), per-class α, plain CE with other
 *   weights and β, one-class, soft-boundary (ν, R²), Mixup targets
 *   (λ-weighted pairs, λ = 1 and λ = 0 included) with each SVDD mode and
 *   per-class α, a batch without normals (margin 1) and one without
 *   anomalies, the SVDD term off, and a model without a VAE.
 * - The seed's supervised SVDD (margin not detached): same value, other
 *   gradient; vadbench's gradient must be the detached one, and the two
 *   must differ by far more than the tolerance (the test can tell them apart).
 *
 * Tolerances. Values: both sides compute in double from the same
 * float32-representable inputs; only summation order and libm rounding
 * differ (~1e-15), so |c − t| <= 1e-10·max(1, |t|) — a formula difference
 * (even the smoothing term ε/C alone) is orders of magnitude larger.
 * Gradients: vadbench rounds each contribution to float32 and accumulates
 * at most two of them (Mixup's sources) in float32, so every element is
 * within a few float32 units (2^-24 ≈ 6e-8) of the largest contribution;
 * |c − t| <= 1e-6·max_j |t_j| (per tensor) + 1e-12 leaves a margin of ~4x
 * over that worst case. VB_LOSS_REPORT=1 prints the worst deviations. */
#include "testutil.h"

#include <jansson.h>

#include "models/losses.h"

#define VAL_TOL 1e-10
#define GRAD_TOL 1e-6
#define GRAD_ATOL 1e-12

static json_t *fixture(void) {
    json_error_t e;
    json_t *j = json_load_file("tests/fixtures/losses.json", 0, &e);
    cr_assert_not_null(j, "tests/fixtures/losses.json: %s (regenerate with `make fixtures`)",
                       e.text);
    return j;
}

static double num(json_t *a, size_t i) { return json_number_value(json_array_get(a, i)); }
static double field(json_t *o, const char *k) { return json_number_value(json_object_get(o, k)); }

/* JSON array of numbers -> new float array (size checked). */
static float *floats(json_t *a, size_t n) {
    cr_assert(json_is_array(a) && json_array_size(a) == n,
              "array of %zu numbers expected (got %zu)", n, json_array_size(a));
    float *p = tu_alloc(n);
    for (size_t i = 0; i < n; i++) p[i] = (float)num(a, i);
    return p;
}

static bool report_on(void) {
    const char *e = getenv("VB_LOSS_REPORT");
    return e && *e && strcmp(e, "0") != 0;
}

static double worst_val, worst_grad; /* relative deviations, for the report */

static void check_val(const char *what, double got, double want) {
    double d = fabs(got - want), lim = VAL_TOL * fmax(1.0, fabs(want));
    worst_val = fmax(worst_val, d / fmax(1.0, fabs(want)));
    cr_assert(d <= lim, "%s: vadbench %.17g, PyTorch %.17g (|diff| %.3g > %.3g)", what, got, want,
              d, lim);
}

/* Gradient tensor: |c - t| <= GRAD_TOL * max|t| + GRAD_ATOL elementwise. */
static void check_grad(const char *what, const float *got, json_t *want, size_t n) {
    cr_assert_eq(json_array_size(want), n, "%s: fixture has %zu values, expected %zu", what,
                 json_array_size(want), n);
    double mx = 0, md = 0;
    size_t wi = 0;
    for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs(num(want, i)));
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - num(want, i));
        if (isnan(d)) d = INFINITY;
        if (d > md) md = d, wi = i;
    }
    double lim = GRAD_TOL * mx + GRAD_ATOL;
    if (mx > 0) worst_grad = fmax(worst_grad, md / mx);
    cr_assert(md <= lim, "%s: element %zu of %zu: vadbench %.9g, PyTorch %.9g (|diff| %.3g > %.3g)",
              what, wi, n, n ? (double)got[wi] : 0.0, n ? num(want, wi) : 0.0, md, lim);
}

Test(losses, focal_rows_match_torch) {
    json_t *j = fixture(), *rows = json_object_get(j, "focal_rows");
    cr_assert(json_array_size(rows) >= 6);
    for (size_t r = 0; r < json_array_size(rows); r++) {
        json_t *c = json_array_get(rows, r);
        size_t C = json_array_size(json_object_get(c, "z"));
        float *z = floats(json_object_get(c, "z"), C), *dz = tu_alloc(C);
        int y = (int)field(c, "y");
        double scale = field(c, "scale");
        char what[96];
        snprintf(what, sizeof what, "focal row %zu (C %zu, γ %g, α %g, ε %g)", r, C,
                 field(c, "gamma"), field(c, "alpha"), field(c, "eps"));
        double v = loss_focal_row(z, (int)C, y, field(c, "gamma"), field(c, "alpha"),
                                  field(c, "eps"), scale, dz);
        check_val(what, v, field(c, "loss"));
        check_grad(what, dz, json_object_get(c, "grad"), C);
        /* the gradient accumulates into dz; NULL computes the value only */
        double v2 = loss_focal_row(z, (int)C, y, field(c, "gamma"), field(c, "alpha"),
                                   field(c, "eps"), scale, dz);
        cr_assert_eq(v2, v);
        for (size_t i = 0; i < C; i++) dz[i] *= 0.5f;
        check_grad(what, dz, json_object_get(c, "grad"), C);
        cr_assert_eq(loss_focal_row(z, (int)C, y, field(c, "gamma"), field(c, "alpha"),
                                    field(c, "eps"), scale, NULL),
                     v);
        free(z), free(dz);
    }
    json_decref(j);
}

Test(losses, ce_rows_match_torch) {
    json_t *j = fixture(), *rows = json_object_get(j, "ce_rows");
    cr_assert(json_array_size(rows) >= 3);
    for (size_t r = 0; r < json_array_size(rows); r++) {
        json_t *c = json_array_get(rows, r), *qj = json_object_get(c, "q");
        size_t C = json_array_size(json_object_get(c, "z"));
        float *z = floats(json_object_get(c, "z"), C), *dz = tu_alloc(C);
        double q[16];
        cr_assert(C <= 16 && json_array_size(qj) == C);
        for (size_t i = 0; i < C; i++) q[i] = num(qj, i);
        char what[64];
        snprintf(what, sizeof what, "soft-target CE row %zu", r);
        check_val(what, loss_ce_row(z, (int)C, q, field(c, "scale"), dz), field(c, "loss"));
        check_grad(what, dz, json_object_get(c, "grad"), C);
        free(z), free(dz);
    }
    json_decref(j);
}

/* ---------------------------------------------------------------- loss_compute */

/* A tiny model whose output buffers loss_compute reads; its layers never run. */
static void tiny_model(Hybrid *m, int B, int T, int C, bool vae) {
    ModelConfig c;
    model_config_defaults(&c);
    c.width = 0.05, c.depth = 0.1, c.image = 32;
    c.temporal = TEMPORAL_NONE;
    c.feature_dim = 8, c.embedding_dim = 4, c.svdd_hidden = 4, c.classes = C;
    c.vae_level = vae ? VAE_FEATURE : VAE_NONE;
    c.vae_latent = 2, c.vae_nhidden = 1, c.vae_hidden[0] = 4;
    cr_assert_eq(hybrid_build(m, &c, kops_cpu(), B, T), VB_OK, "%s", vb_errmsg());
}

static void upload(const Hybrid *m, float *dev, json_t *a, size_t n) {
    float *h = floats(a, n);
    m->net.k->upload(dev, h, n * sizeof(float));
    free(h);
}

static float *download(const Hybrid *m, const float *dev, size_t n) {
    float *h = tu_alloc(n);
    m->net.k->download(h, dev, n * sizeof(float));
    return h;
}

static void config_from(json_t *o, LossConfig *lc, double *alpha, int C) {
    loss_config_defaults(lc);
    lc->gamma = field(o, "gamma"), lc->alpha = field(o, "alpha");
    lc->smoothing = field(o, "smoothing");
    lc->w_cls = field(o, "w_cls"), lc->w_bin = field(o, "w_bin");
    lc->w_svdd = field(o, "w_svdd"), lc->w_vae = field(o, "w_vae");
    lc->vae_beta = field(o, "vae_beta");
    const char *mode = json_string_value(json_object_get(o, "svdd_mode"));
    cr_assert_not_null(mode);
    lc->svdd_mode = !strcmp(mode, "one-class")       ? SVDD_ONE_CLASS
                    : !strcmp(mode, "soft-boundary") ? SVDD_SOFT_BOUNDARY
                                                     : SVDD_SUPERVISED;
    cr_assert(lc->svdd_mode != SVDD_SUPERVISED || !strcmp(mode, "supervised"), "mode %s", mode);
    lc->svdd_nu = field(o, "svdd_nu"), lc->svdd_r2 = field(o, "svdd_r2");
    lc->svdd_on = json_is_true(json_object_get(o, "svdd_on"));
    json_t *ca = json_object_get(o, "class_alpha");
    lc->class_alpha = NULL;
    if (json_is_array(ca)) {
        cr_assert_eq(json_array_size(ca), (size_t)C);
        for (int c = 0; c < C; c++) alpha[c] = num(ca, (size_t)c);
        lc->class_alpha = alpha;
    }
}

typedef struct BatchRun {
    LossParts lp;
    float *g_svdd; /* [B] host copy */
    int B;
} BatchRun;

/* Run loss_compute on fixture case `c` and compare everything. */
static void run_batch(json_t *c, BatchRun *out) {
    const char *name = json_string_value(json_object_get(c, "name"));
    int B = (int)field(c, "B"), T = (int)field(c, "T"), C = (int)field(c, "C");
    bool vae = json_is_true(json_object_get(c, "vae"));
    json_t *in = json_object_get(c, "inputs"), *gr = json_object_get(c, "grads");
    Hybrid m;
    tiny_model(&m, B, T, C, vae);
    cr_assert_eq(m.has_vae, vae);
    size_t rows = (size_t)B * T;
    upload(&m, m.cls_logits, json_object_get(in, "cls"), (size_t)B * C);
    upload(&m, m.bin_logits, json_object_get(in, "bin"), (size_t)B * 2);
    upload(&m, m.svdd_score, json_object_get(in, "score"), (size_t)B);
    if (vae) {
        upload(&m, m.vae.mse, json_object_get(in, "mse"), rows);
        upload(&m, m.vae.kl, json_object_get(in, "kl"), rows);
    }
    int ya[32], yb[32], aa[32], ab[32];
    float lam[32];
    cr_assert(B <= 32);
    const char *keys[4] = {"ya", "yb", "anom_a", "anom_b"};
    int *dst[4] = {ya, yb, aa, ab};
    for (int k = 0; k < 4; k++) {
        json_t *a = json_object_get(in, keys[k]);
        cr_assert_eq(json_array_size(a), (size_t)B, "%s: %s", name, keys[k]);
        for (int i = 0; i < B; i++) dst[k][i] = (int)num(a, (size_t)i);
    }
    for (int i = 0; i < B; i++) lam[i] = (float)num(json_object_get(in, "lam"), (size_t)i);
    LossConfig lc;
    double alpha[64];
    cr_assert(C <= 64);
    config_from(json_object_get(c, "config"), &lc, alpha, C);
    LossWork lw;
    loss_work_init(&lw, &m);
    LossTargets tg = {ya, yb, aa, ab, lam};
    LossParts lp;
    cr_assert_eq(loss_compute(&lc, &m, &lw, B, T, &tg, &lp), VB_OK, "%s: %s", name, vb_errmsg());
    json_t *parts = json_object_get(c, "parts");
    struct {
        const char *k;
        double v;
    } pv[] = {
        {"cls", lp.cls}, {"bin", lp.bin}, {"svdd", lp.svdd}, {"vae", lp.vae}, {"total", lp.total}};
    char what[128];
    for (size_t i = 0; i < sizeof pv / sizeof *pv; i++) {
        snprintf(what, sizeof what, "batch %s: loss part %s", name, pv[i].k);
        check_val(what, pv[i].v, field(parts, pv[i].k));
    }
    struct {
        const char *k;
        const float *dev;
        size_t n;
    } gv[] = {{"g_cls", m.g_cls, (size_t)B * C},
              {"g_bin", m.g_bin, (size_t)B * 2},
              {"g_svdd_w", m.g_svdd_w, (size_t)B},
              {"g_vae_wm", m.g_vae_wm, vae ? rows : 0},
              {"g_vae_wk", m.g_vae_wk, vae ? rows : 0}};
    for (size_t i = 0; i < sizeof gv / sizeof *gv; i++) {
        float *h = download(&m, gv[i].dev, gv[i].n);
        snprintf(what, sizeof what, "batch %s: gradient %s", name, gv[i].k);
        check_grad(what, h, json_object_get(gr, gv[i].k), gv[i].n);
        if (i == 2 && out) out->g_svdd = h;
        else free(h);
    }
    if (out) out->lp = lp, out->B = B;
    loss_work_free(&lw);
    hybrid_free(&m);
}

Test(losses, batches_match_torch, .timeout = 30) {
    json_t *j = fixture(), *cases = json_object_get(j, "batches");
    cr_assert(json_array_size(cases) >= 12);
    for (size_t i = 0; i < json_array_size(cases); i++) run_batch(json_array_get(cases, i), NULL);
    if (report_on())
        fprintf(stderr,
                "losses: worst value deviation %.2e (relative), worst gradient %.2e of "
                "the tensor's max\n",
                worst_val, worst_grad);
    json_decref(j);
}

/* The seed let the supervised margin's gradient through (it pushes normals
 * out); vadbench detaches it. Same value, different gradient — and the
 * difference is far outside the gradient tolerance, so the comparison above
 * would catch an undetached margin. */
Test(losses, svdd_margin_is_detached_unlike_the_seed, .timeout = 30) {
    json_t *j = fixture(), *cases = json_object_get(j, "batches");
    int seen = 0;
    for (size_t i = 0; i < json_array_size(cases); i++) {
        json_t *c = json_array_get(cases, i), *seed = json_object_get(c, "seed_undetached");
        if (!seed) continue;
        seen++;
        BatchRun r;
        run_batch(c, &r);
        check_val("seed's undetached SVDD value", r.lp.svdd, field(seed, "svdd"));
        json_t *gs = json_object_get(seed, "g_svdd_w");
        json_t *gd = json_object_get(json_object_get(c, "grads"), "g_svdd_w");
        double mx = 0, md = 0;
        for (int k = 0; k < r.B; k++) {
            mx = fmax(mx, fabs(num(gd, (size_t)k)));
            md = fmax(md, fabs((double)r.g_svdd[k] - num(gs, (size_t)k)));
        }
        cr_assert_gt(md, 1000 * (GRAD_TOL * mx + GRAD_ATOL),
                     "%s: the seed's undetached-margin gradient is within %.3g of vadbench's",
                     json_string_value(json_object_get(c, "name")), md);
        free(r.g_svdd);
    }
    cr_assert_geq(seen, 2);
    json_decref(j);
}

/* Non-finite outputs are refused with the part named. */
Test(losses, non_finite_loss_is_refused) {
    Hybrid m;
    tiny_model(&m, 2, 1, 3, false);
    float z[6] = {0.1f, NAN, 0.3f, 0.2f, 0.0f, -1.0f}, zb[4] = {0}, d[2] = {1, 2};
    m.net.k->upload(m.cls_logits, z, sizeof z);
    m.net.k->upload(m.bin_logits, zb, sizeof zb);
    m.net.k->upload(m.svdd_score, d, sizeof d);
    int y[2] = {0, 1}, a[2] = {0, 1};
    float lam[2] = {1, 1};
    LossTargets tg = {y, y, a, a, lam};
    LossConfig lc;
    loss_config_defaults(&lc);
    LossWork lw;
    loss_work_init(&lw, &m);
    LossParts lp;
    cr_assert_eq(loss_compute(&lc, &m, &lw, 2, 1, &tg, &lp), VB_ERR_NUMERIC);
    cr_assert(strstr(vb_errmsg(), "classification") != NULL, "%s", vb_errmsg());
    loss_work_free(&lw);
    hybrid_free(&m);
}
