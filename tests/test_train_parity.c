/* The training step against PyTorch (tests/fixtures/train_parity.safetensors
 * + .yaml, from tests/reference/make_train_parity.py). Model: EfficientNet
 * width/depth 0.1 at 64×64, 2-layer bidirectional GRU, small heads, feature
 * VAE; clips B = 4, T = 2; formula weights and inputs (tm_formula,
 * test_torch_model.c); stored SVDD centre, labels, and PyTorch's dropout
 * masks (written into the sites found by net_find_site; every site with
 * p > 0 needs one) and VAE eps per step. A step is harness/run/train.c's
 * train_step without Mixup, with the same functions: schedule_lr; train
 * mode, update_bn on; optim_zero_grad, hybrid_forward, loss_compute (§4
 * defaults, supervised SVDD on), hybrid_backward; for SAM train_sam_perturb,
 * a second pass with update_bn off, p −= e; optim_clip (1.0); adamw_step.
 *
 * - ten_steps_match_torch: OneCycle (max 1e-3, 20% warm-up, div 25, final div
 *   1e4): schedule_lr = torch's OneCycleLR; each step's loss parts and
 *   pre-clip gradient norm = the twin's (torch.optim.AdamW, clip_grad_norm_);
 *   then per state_dict tensor (parameters, BN statistics) checksums of the
 *   change (ΣΔ, ΣΔ², Σ|Δ|) and of the final values (Σx, Σx²).
 * - sam/asam_step_matches_torch: one SAM (ρ 0.05) / ASAM (ρ 2.0) step at lr
 *   1e-3 against Foret et al.'s algorithm written out in the script: both
 *   passes' loss parts (the second, at p + ε, checks ε), the second gradient
 *   (norm, per-tensor checksums), the parameter change, and the BN
 *   statistics — the first pass's update only: against PyTorch, and byte for
 *   byte those of a plain step.
 * - (test_train.c, train_loop/sam_leaves_bn_statistics_to_the_first_pass:
 *   that last property through the real loop, trainer_run on tiny data.)
 * - planted_errors_are_caught: BN updated by SAM's second pass, a plain step
 *   or SAM's ε against the SAM / ASAM references, a constant lr for
 *   OneCycle: each lands far outside the limits.
 *
 * Tolerances: limit = max(tol·scale, K·dev32) + atol, K = 10, dev32 = how far
 * PyTorch's own float32 run lands from its float64 reference (stored per
 * value; it matters only where rounding is amplified, as in test_torch_model).
 * - learning rate: 1e-12 relative (double on both sides).
 * - loss parts at step s: 1e-4·(1 + s) relative. 1e-4 at step 0 is the model
 *   parity tests' forward tolerance (same weights, one float32 forward); each
 *   step feeds float32 gradient rounding into the weights through Adam's
 *   normalised update and perturbs the next loss by about as much again:
 *   linear growth to 1e-3 at step 9. Measured: PyTorch float32 ≤ 1.1e-5,
 *   vadbench ≤ 1.5e-4 (VB_PARITY_REPORT=1 prints the figures).
 * - gradient norm at step s: 1e-3·(1 + s), the parity tests' gradient
 *   tolerance growing alike. ‖g‖ is dominated by 4-row BN1d channels where
 *   ReLU leaves one small value and var ≈ eps, whose gradients scale with
 *   (var + eps)^-½ of a value computed by cancellation (step 0: vadbench
 *   1.1e-4 off, PyTorch float32 7e-6; scale-invariant Adam hardly notices).
 *   Measured: ≤ 9.2e-4.
 * - change checksums: 1e-2 of Σ|Δ| (ΣΔ, Σ|Δ|) or ΣΔ² (ΣΔ²), ΣΔ at least
 *   FLIPS elements' worth: Adam moves an element by about ±lr whatever its
 *   gradient's size, so one whose gradient is within rounding of zero may go
 *   the other way, while a wrong update (weight decay, β, bias correction,
 *   clipping, the gradient used) moves whole tensors. Final values x = x0 + Δ
 *   inherit them (Σx: 1e-2·Σ|Δ|; Σx²: 2‖x‖·1e-2·‖Δ‖) plus float32 storage.
 * - `invariant` parameters (zero gradient in exact arithmetic: BN biases that
 *   reach a training-mode BN through linear maps only, the attention score
 *   bias; the loss ignores them) get float32 noise as gradient, which Adam
 *   turns into moves of up to lr·r_t per element and step (r_t =
 *   sqrt(Σ w_i²/u_i) over the bias-corrected moment weights, Cauchy–Schwarz;
 *   ≤ 1.05 in 10 steps); float64 leaves them still: held to that bound.
 * - SAM: loss parts 1e-4 relative; second gradient Σg, Σ|g| 1e-3 of Σ|g|, Σg²
 *   2e-3 of Σg² (twice the relative error), invariant tensors 1e-6·‖g‖·√n;
 *   BN statistics 1e-4 of the tensor's largest value (the parity tests'). */
#include "model_testutil.h"
#include "testutil.h"

#include <jansson.h>

#include "harness/experiment/config.h"
#include "harness/run/rundata.h"
#include "harness/run/train.h"
#include "models/losses.h"
#include "models/optim.h"
#include "models/safetensors.h"
#include "models/schedule.h"

#define FIXTURE "tests/fixtures/train_parity.safetensors"
#define NOISE_K 10.0
#define LOSS_TOL 1e-4 /* step 0; grows by this much per step */
#define DELTA_TOL 1e-2
#define FLIPS 4 /* elements per tensor whose Adam step may go the other way */
#define GRAD_TOL 1e-3
#define BN_TOL 1e-4

/* From test_torch_model.c: make_fixtures.py's formula_tensor. */
void tm_formula(const char *name, int ndim, const int64_t *shape, double gain, float *out);

/* ---------------------------------------------------------------- fixture */

typedef struct Ent {
    const char *name;
    int ndim;
    int64_t shape[4];
    size_t numel;
    bool param, invariant;
    int pi; /* index in the C model's table */
} Ent;

typedef struct Par {
    StFile f;
    json_t *info, *sd, *inv;
    Ent *e;
    int ne, nparam;
    int B, T, steps, normal;
    double gain, clip, sam_lr, sam_rho, asam_rho;
    double b1, b2, eps, wd, max_lr, pct, div, final_div;
    ModelConfig cfg;
} Par;

static double jnum(json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    cr_assert(json_is_number(v), "%s: '%s' missing from the case metadata", FIXTURE, k);
    return json_number_value(v);
}

static void par_open(Par *p) {
    memset(p, 0, sizeof *p);
    cr_assert_eq(st_open(FIXTURE, &p->f), VB_OK, "%s (regenerate with `make fixtures`)",
                 vb_errmsg());
    json_error_t err;
    const char *ci = st_meta(&p->f, "case"), *sd = st_meta(&p->f, "state_dict");
    const char *inv = st_meta(&p->f, "invariant");
    cr_assert(ci && sd && inv, "%s: metadata missing", FIXTURE);
    p->info = json_loads(ci, 0, &err);
    p->sd = json_loads(sd, 0, &err);
    p->inv = json_loads(inv, 0, &err);
    cr_assert(json_is_object(p->info) && json_is_array(p->sd) && json_is_array(p->inv));
    p->B = (int)jnum(p->info, "B"), p->T = (int)jnum(p->info, "T");
    p->steps = (int)jnum(p->info, "steps"), p->normal = (int)jnum(p->info, "normal_class");
    p->gain = jnum(p->info, "weight_gain"), p->clip = jnum(p->info, "clip");
    p->sam_lr = jnum(p->info, "sam_lr"), p->sam_rho = jnum(p->info, "sam_rho");
    p->asam_rho = jnum(p->info, "asam_rho");
    json_t *a = json_object_get(p->info, "adamw"), *o = json_object_get(p->info, "onecycle");
    json_t *betas = json_object_get(a, "betas");
    p->b1 = json_number_value(json_array_get(betas, 0));
    p->b2 = json_number_value(json_array_get(betas, 1));
    p->eps = jnum(a, "eps"), p->wd = jnum(a, "weight_decay");
    p->max_lr = jnum(o, "max_lr"), p->pct = jnum(o, "pct_start");
    p->div = jnum(o, "div_factor"), p->final_div = jnum(o, "final_div_factor");
    cr_assert(p->b1 > 0 && p->b2 > 0 && p->steps > 0 && p->steps <= 64);
    p->ne = (int)json_array_size(p->sd);
    p->e = calloc((size_t)p->ne, sizeof *p->e);
    for (int i = 0; i < p->ne; i++) {
        json_t *it = json_array_get(p->sd, (size_t)i), *sh = json_array_get(it, 1);
        Ent *e = &p->e[i];
        e->name = json_string_value(json_array_get(it, 0));
        e->param = strcmp(json_string_value(json_array_get(it, 2)), "param") == 0;
        p->nparam += e->param;
        e->ndim = (int)json_array_size(sh);
        cr_assert(e->name && e->ndim <= 4);
        e->numel = 1;
        for (int d = 0; d < e->ndim; d++) {
            e->shape[d] = json_integer_value(json_array_get(sh, (size_t)d));
            e->numel *= (size_t)e->shape[d];
        }
        for (size_t k = 0; k < json_array_size(p->inv); k++)
            if (!strcmp(json_string_value(json_array_get(p->inv, k)), e->name)) e->invariant = true;
    }
    char yaml[300];
    snprintf(yaml, sizeof yaml, "tests/fixtures/%s",
             json_string_value(json_object_get(p->info, "yaml")));
    cr_assert_eq(cfg_read_model_file(yaml, NULL, &p->cfg), VB_OK, "%s", vb_errmsg());
}

static void par_close(Par *p) {
    free(p->e);
    json_decref(p->info), json_decref(p->sd), json_decref(p->inv);
    st_close(&p->f);
}

static const StTensor *need(const Par *p, const char *name, int64_t n) {
    const StTensor *t = st_find(&p->f, name);
    cr_assert_not_null(t, "%s: no tensor '%s'", FIXTURE, name);
    cr_assert(n < 0 || t->numel == n, "%s: '%s' has %lld values, expected %lld", FIXTURE, name,
              (long long)t->numel, (long long)n);
    return t;
}

/* An F64 reference tensor (the reader converts to float only, so read it raw). */
static double *get64(const Par *p, const char *name, int64_t n) {
    const StTensor *t = need(p, name, n);
    cr_assert_eq(t->dtype, ST_F64, "%s: '%s' is not F64", FIXTURE, name);
    double *v = calloc((size_t)t->numel + 1, sizeof *v);
    memcpy(v, p->f.data + p->f.data_start + t->offset, t->nbytes);
    return v;
}

static float *get32(const Par *p, const char *name, int64_t n) {
    const StTensor *t = need(p, name, n);
    float *v = tu_alloc((size_t)t->numel);
    cr_assert_eq(st_read_f32(&p->f, t, v, t->numel), VB_OK, "%s", vb_errmsg());
    return v;
}

/* ---------------------------------------------------------------- model and data */

/* The model with the formula weights (every state_dict entry must be a C
 * tensor of the same shape, and nothing else) and the fixture's centre. */
static void par_model(Par *p, Hybrid *m) {
    cr_assert_eq(hybrid_build(m, &p->cfg, kops_cpu(), p->B, p->T), VB_OK, "%s", vb_errmsg());
    for (int i = 0; i < p->ne; i++) {
        Ent *e = &p->e[i];
        e->pi = params_find(&m->pt, e->name);
        cr_assert_geq(e->pi, 0, "PyTorch's %s is not a vadbench tensor", e->name);
        cr_assert_eq(m->pt.p[e->pi].numel, e->numel, "%s: shape differs", e->name);
        cr_assert_eq(m->pt.p[e->pi].kind == PARAM_TRAIN, e->param, "%s: parameter vs buffer",
                     e->name);
        float *v = tu_alloc(e->numel);
        tm_formula(e->name, e->ndim, e->shape, p->gain, v);
        m->net.k->upload(params_data(&m->pt, e->pi), v, e->numel * sizeof(float));
        free(v);
    }
    cr_assert_eq(p->ne, m->pt.n, "vadbench has %d tensors, PyTorch %d", m->pt.n, p->ne);
    int E = m->cfg.embedding_dim;
    float *c = get32(p, "center", E);
    m->net.k->upload(params_data(&m->pt, m->center), c, (size_t)E * sizeof(float));
    free(c);
}

/* x of every step, NHWC: slice s of formula "x" (steps, B, T, 3, S, S). */
static float *par_inputs(const Par *p, size_t *per_step) {
    int S = p->cfg.image, frames = p->steps * p->B * p->T;
    int64_t shape[6] = {p->steps, p->B, p->T, 3, S, S};
    size_t n = (size_t)frames * 3 * S * S;
    float *nchw = tu_alloc(n), *nhwc = tu_alloc(n);
    tm_formula("x", 6, shape, p->gain, nchw);
    for (int i = 0; i < frames; i++)
        for (int c = 0; c < 3; c++)
            for (int q = 0; q < S * S; q++)
                nhwc[((size_t)i * S * S + q) * 3 + c] = nchw[((size_t)i * 3 + c) * S * S + q];
    free(nchw);
    *per_step = n / (size_t)p->steps;
    return nhwc;
}

/* PyTorch's masks and eps of step s into the model (external noise): every
 * stored mask names a C dropout site, every active site gets one. */
static void par_noise(const Par *p, Hybrid *m, int s) {
    Net *n = &m->net;
    char pre[16], name[128];
    size_t lp = (size_t)snprintf(pre, sizeof pre, "s%d.", s);
    int found = 0, active = 0;
    for (int i = 0; i < p->f.n; i++) {
        const StTensor *t = &p->f.t[i];
        if (strncmp(t->name, pre, lp) != 0 || !strcmp(t->name + lp, "vae.eps")) continue;
        Dropout *d = net_find_site(n, t->name + lp);
        cr_assert_not_null(d, "%s: mask '%s' has no C dropout site", FIXTURE, t->name);
        cr_assert_leq((size_t)t->numel, d->max_n, "%s: mask too large", t->name);
        float *v = get32(p, t->name, -1);
        n->k->upload(d->mask, v, (size_t)t->numel * sizeof(float));
        free(v);
        found++;
    }
    for (int i = 0; i < n->nsites; i++) active += n->sites[i]->p > 0;
    cr_assert_eq(found, active, "step %d: %d masks stored for %d active dropout sites", s, found,
                 active);
    snprintf(name, sizeof name, "s%d.vae.eps", s);
    size_t ne = (size_t)p->B * p->T * m->vae.latent;
    float *eps = get32(p, name, (int64_t)ne);
    n->k->upload(m->vae.eps, eps, ne * sizeof(float));
    free(eps);
    n->external_noise = true;
}

typedef struct Targets {
    int y[64], an[64];
    float lam[64];
    LossTargets tg;
} Targets;

static void par_targets(const Par *p, int s, Targets *t) {
    float *lab = get32(p, "labels", (int64_t)p->steps * p->B);
    cr_assert_leq(p->B, 64);
    for (int i = 0; i < p->B; i++) {
        t->y[i] = (int)lab[s * p->B + i];
        t->an[i] = t->y[i] != p->normal;
        t->lam[i] = 1.0f;
    }
    free(lab);
    t->tg = (LossTargets){t->y, t->y, t->an, t->an, t->lam};
}

/* ---------------------------------------------------------------- one step */

typedef struct Run {
    Par *p;
    Hybrid m;
    AdamW opt;
    LossConfig lc;
    LossWork lw;
    float *x, *xdev, *sam_e, *sam_t;
    size_t per_step;
    /* SAM */
    bool sam, adaptive, plant_bn_update;
    double rho;
} Run;

typedef struct StepOut {
    LossParts lp, lp2;
    double gn; /* before clipping: of the second gradient with SAM */
    bool perturbed;
} StepOut;

static void run_open(Run *r, Par *p) {
    memset(r, 0, sizeof *r);
    r->p = p;
    kthreads_set(1);
    par_model(p, &r->m);
    const KOps *k = r->m.net.k;
    cr_assert_eq(
        adamw_init(&r->opt, &r->m.pt, (float)p->b1, (float)p->b2, (float)p->eps, (float)p->wd),
        VB_OK);
    loss_config_defaults(&r->lc); /* MODEL_SPEC §4 defaults, supervised SVDD on */
    loss_work_init(&r->lw, &r->m);
    r->x = par_inputs(p, &r->per_step);
    r->xdev = k->alloc(r->per_step * sizeof(float));
    r->sam_e = k->alloc(r->m.pt.n_train * sizeof(float) + 64);
    r->sam_t = k->alloc(r->m.pt.n_train * sizeof(float) + 64);
}

static void run_close(Run *r) {
    const KOps *k = r->m.net.k;
    k->free(r->xdev), k->free(r->sam_e), k->free(r->sam_t);
    free(r->x);
    loss_work_free(&r->lw);
    adamw_free(&r->opt);
    hybrid_free(&r->m);
}

static void forward_backward(Run *r, const Targets *t, LossParts *lp) {
    Hybrid *m = &r->m;
    optim_zero_grad(&m->pt);
    hybrid_forward(m, r->p->B, r->p->T, r->xdev);
    cr_assert_eq(loss_compute(&r->lc, m, &r->lw, r->p->B, r->p->T, &t->tg, lp), VB_OK, "%s",
                 vb_errmsg());
    hybrid_backward(m, r->p->B, r->p->T, r->xdev);
}

/* Step s on batch `batch` at learning rate lr: harness/run/train.c's train_step
 * without Mixup. g2 (optional, host [n_train]) gets the gradient that AdamW
 * uses, before clipping. */
static void run_step(Run *r, int s, int batch, double lr, StepOut *o, float *g2) {
    Hybrid *m = &r->m;
    const KOps *k = m->net.k;
    Targets t;
    par_targets(r->p, batch, &t);
    par_noise(r->p, m, batch);
    k->upload(r->xdev, r->x + (size_t)batch * r->per_step, r->per_step * sizeof(float));
    memset(o, 0, sizeof *o);
    m->net.step = (uint64_t)s;
    hybrid_set_train(m, true);
    m->net.update_bn = true;
    forward_backward(r, &t, &o->lp);
    if (r->sam && train_sam_perturb(&m->pt, r->rho, r->adaptive, r->sam_e, r->sam_t)) {
        o->perturbed = true;
        m->net.update_bn = r->plant_bn_update; /* false: the second pass leaves BN alone */
        forward_backward(r, &t, &o->lp2);
        m->net.update_bn = true;
        k->axpy(m->pt.n_train, -1.0f, r->sam_e, m->pt.data);
    }
    if (g2) k->download(g2, m->pt.grad, m->pt.n_train * sizeof(float));
    o->gn = optim_clip(&m->pt, r->p->clip);
    adamw_step(&r->opt, &m->pt, (float)lr);
}

/* ---------------------------------------------------------------- comparison */

/* The worst |got − want| / limit over a group of comparisons (> 1: fails). */
typedef struct Cmp {
    double worst, rel; /* rel: the worst |got − want| / |scale| seen, for the report */
    char what[256];
} Cmp;

static void cmp(Cmp *c, const char *what, double got, double want, double lim, double scale) {
    double d = fabs(got - want), r = isnan(d) ? INFINITY : d / lim;
    if (scale > 0 && !isnan(d)) c->rel = fmax(c->rel, d / scale);
    if (r > c->worst) {
        c->worst = r;
        snprintf(c->what, sizeof c->what,
                 "%s: vadbench %.10g, PyTorch %.10g (|diff| %.3g, limit %.3g)", what, got, want, d,
                 lim);
    }
}

static void cmp_pass(const Cmp *c, const char *group) {
    if (getenv("VB_PARITY_REPORT"))
        fprintf(stderr,
                "train_parity %s: worst |diff|/limit %.3f, max relative diff %.2e\n"
                "    worst: %s\n",
                group, c->worst, c->rel, c->what);
    cr_assert(c->worst <= 1.0, "%s: %s", group, c->what);
}

/* A negative control: the group must land at least `factor` x outside its limits. */
static void planted(const Cmp *c, const char *group, double factor) {
    if (getenv("VB_PARITY_REPORT"))
        fprintf(stderr, "train_parity planted %s: worst |diff|/limit %.3g\n", group, c->worst);
    cr_assert_gt(c->worst, factor, "%s: only %.3g x the limit, planted error not caught", group,
                 c->worst);
}

static const char *const PARTS[5] = {"cls", "bin", "svdd", "vae", "total"};

static void cmp_parts(Cmp *c, const char *label, const LossParts *lp, const double *want,
                      const double *dev, double tol) {
    double got[5] = {lp->cls, lp->bin, lp->svdd, lp->vae, lp->total};
    char what[96];
    for (int i = 0; i < 5; i++) {
        snprintf(what, sizeof what, "%s loss %s", label, PARTS[i]);
        cmp(c, what, got[i], want[i], fmax(tol * fabs(want[i]), NOISE_K * dev[i]) + 1e-6,
            fabs(want[i]));
    }
}

/* Σv, Σv², Σ|v| of v − v0 (v0 NULL: of v). */
static void sums(const float *v, const float *v0, size_t n, double out[3]) {
    out[0] = out[1] = out[2] = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)v[i] - (v0 ? (double)v0[i] : 0.0);
        out[0] += d, out[1] += d * d, out[2] += fabs(d);
    }
}

/* Bound on how far Adam can move one element in `steps` steps at lrs[]:
 * Σ_t lr_t·sqrt(Σ_i w_i²/u_i) (bias-corrected moment weights w, u). */
static double adam_drift(const double *lrs, int steps, double b1, double b2) {
    double total = 0;
    for (int t = 1; t <= steps; t++) {
        double s = 0;
        for (int i = 1; i <= t; i++) {
            double w = (1 - b1) * pow(b1, t - i) / (1 - pow(b1, t));
            double u = (1 - b2) * pow(b2, t - i) / (1 - pow(b2, t));
            s += w * w / u;
        }
        total += lrs[t - 1] * sqrt(s);
    }
    return total * 1.01 + 1e-12;
}

/* Change checksums (ΣΔ, ΣΔ², Σ|Δ|) of every entry (params only when
 * params_only) from the formula values, against `key` [rows, 3]. */
static void cmp_delta(Cmp *c, Par *p, const Hybrid *m, const char *key, bool params_only,
                      double drift) {
    int rows = params_only ? p->nparam : p->ne;
    double *want = get64(p, key, (int64_t)rows * 3);
    char dk[64];
    snprintf(dk, sizeof dk, "%.*s.dev32%s", (int)(strchr(key, '.') - key), key, strchr(key, '.'));
    double *dev = get64(p, dk, (int64_t)rows * 3);
    int r = 0;
    for (int i = 0; i < p->ne; i++) {
        const Ent *e = &p->e[i];
        if (params_only && !e->param) continue;
        float *v = tu_alloc(e->numel), *v0 = tu_alloc(e->numel);
        m->net.k->download(v, params_data(&m->pt, e->pi), e->numel * sizeof(float));
        tm_formula(e->name, e->ndim, e->shape, p->gain, v0);
        if (!strcmp(e->name, "anomaly_head.center")) memcpy(v0, v, e->numel * sizeof(float));
        double got[3], *w = want + 3 * r, *dv = dev + 3 * r;
        sums(v, v0, e->numel, got);
        double n = (double)e->numel, lim[3];
        if (e->invariant && e->param) {
            lim[0] = lim[2] = n * drift;
            lim[1] = drift * (2 * w[2] + n * drift);
        } else {
            lim[0] = fmax(fmax(DELTA_TOL * w[2], NOISE_K * dv[0]), 2 * FLIPS * drift) + 1e-9 * n;
            lim[1] = fmax(DELTA_TOL * w[1], NOISE_K * dv[1]) + 1e-15 * n;
            lim[2] = fmax(DELTA_TOL * w[2], NOISE_K * dv[2]) + 1e-9 * n;
        }
        static const char *const what3[3] = {"ΣΔ", "ΣΔ²", "Σ|Δ|"};
        for (int q = 0; q < 3; q++) {
            char what[200];
            snprintf(what, sizeof what, "%s %s of %s%s", key, what3[q], e->name,
                     e->invariant ? " (invariant)" : "");
            cmp(c, what, got[q], w[q], lim[q], e->invariant ? 0 : (q == 1 ? w[1] : w[2]));
        }
        free(v), free(v0);
        r++;
    }
    free(want), free(dev);
}

/* ---------------------------------------------------------------- the 10-step run */

typedef struct TenSteps {
    Cmp lr, loss, gn, delta, final;
} TenSteps;

static void ten_steps(Par *p, SchedKind kind, TenSteps *res) {
    memset(res, 0, sizeof *res);
    Run r;
    run_open(&r, p);
    Schedule sc = {0};
    sc.kind = kind, sc.max_lr = p->max_lr, sc.pct = p->pct, sc.div = p->div;
    sc.final_div = p->final_div, sc.total = p->steps, sc.swa_start = -1;
    double *lrs = get64(p, "train.lr", p->steps), *loss = get64(p, "train.loss", p->steps * 5);
    double *ldev = get64(p, "train.dev32.loss", p->steps * 5);
    double *gn = get64(p, "train.grad_norm", p->steps);
    double *gdev = get64(p, "train.dev32.grad_norm", p->steps);
    double used[64];
    for (int s = 0; s < p->steps; s++) {
        double lr = schedule_lr(&sc, s);
        used[s] = lr;
        char what[64];
        snprintf(what, sizeof what, "step %d learning rate", s);
        cmp(&res->lr, what, lr, lrs[s], 1e-12 * fabs(lrs[s]) + 1e-18, fabs(lrs[s]));
        StepOut o;
        run_step(&r, s, s, lr, &o, NULL);
        double tol = LOSS_TOL * (1 + s);
        snprintf(what, sizeof what, "step %d", s);
        cmp_parts(&res->loss, what, &o.lp, loss + 5 * s, ldev + 5 * s, tol);
        snprintf(what, sizeof what, "step %d gradient norm", s);
        cmp(&res->gn, what, o.gn, gn[s], fmax(GRAD_TOL * (1 + s) * gn[s], NOISE_K * gdev[s]),
            gn[s]);
    }
    double drift = adam_drift(used, p->steps, p->b1, p->b2);
    cmp_delta(&res->delta, p, &r.m, "train.delta", false, drift);
    /* final values: Σx, Σx². x = x0 + Δ with x0 the same on both sides, so
     * a change within its limits moves Σx by at most DELTA_TOL·Σ|Δ| and Σx²
     * by at most 2‖x‖·DELTA_TOL·‖Δ‖ (Cauchy–Schwarz); float32 storage adds
     * 1e-7 of Σ|x| (<= sqrt(n·Σx²)) resp. 2e-7 of Σx². */
    double *fin = get64(p, "train.final", p->ne * 2), *dl = get64(p, "train.delta", p->ne * 3);
    double *fdev = get64(p, "train.dev32.final", p->ne * 2);
    for (int i = 0; i < p->ne; i++) {
        const Ent *e = &p->e[i];
        float *v = tu_alloc(e->numel);
        r.m.net.k->download(v, params_data(&r.m.pt, e->pi), e->numel * sizeof(float));
        double got[3], *w = fin + 2 * i, *d = dl + 3 * i;
        sums(v, NULL, e->numel, got);
        double n = (double)e->numel, l1 = sqrt(n * w[1]), l2 = sqrt(w[1]);
        double lim0 = fmax(DELTA_TOL * d[2], NOISE_K * fdev[2 * i]) + 1e-7 * l1 + 1e-9 * n;
        double lim1 =
            fmax(2 * l2 * DELTA_TOL * sqrt(d[1]), NOISE_K * fdev[2 * i + 1]) + 2e-7 * w[1];
        if (e->invariant && e->param) lim0 += n * drift, lim1 += drift * (2 * l1 + n * drift);
        char what[200];
        snprintf(what, sizeof what, "final Σx of %s", e->name);
        cmp(&res->final, what, got[0], w[0], lim0, e->invariant ? 0 : l1);
        snprintf(what, sizeof what, "final Σx² of %s", e->name);
        cmp(&res->final, what, got[1], w[1], lim1, e->invariant ? 0 : w[1]);
        free(v);
    }
    free(dl), free(fin), free(fdev), free(lrs), free(loss), free(ldev), free(gn), free(gdev);
    run_close(&r);
}

Test(train_parity, ten_steps_match_torch, .timeout = 60) {
    Par p;
    par_open(&p);
    TenSteps t;
    ten_steps(&p, SCHED_ONECYCLE, &t);
    cmp_pass(&t.lr, "learning rate (OneCycle)");
    cmp_pass(&t.loss, "loss parts per step");
    cmp_pass(&t.gn, "gradient norm per step");
    cmp_pass(&t.delta, "change of every tensor after 10 steps");
    cmp_pass(&t.final, "final values of every tensor");
    par_close(&p);
}

/* ---------------------------------------------------------------- SAM / ASAM */

typedef struct SamRes {
    Cmp loss, gn, grad, delta, bn;
    bool bn_same_as_plain;
    StepOut o;
} SamRes;

/* One step from the initial weights on step 0's batch, compared with
 * reference `g` ("sam" or "asam"). sam=false runs a plain step. */
static void sam_case(Par *p, const char *g, bool sam, bool adaptive, double rho, bool plant_bn,
                     SamRes *res) {
    memset(res, 0, sizeof *res);
    Run r;
    run_open(&r, p);
    r.sam = sam, r.adaptive = adaptive, r.rho = rho, r.plant_bn_update = plant_bn;
    size_t nt = r.m.pt.n_train;
    float *g2 = tu_alloc(nt);
    run_step(&r, 0, 0, p->sam_lr, &res->o, g2);
    cr_assert(!sam || res->o.perturbed);
    char key[64], dkey[64];
    double *want, *dev;
#define REF(name, n)                                                               \
    (snprintf(key, sizeof key, "%s.%s", g, name),                                  \
     snprintf(dkey, sizeof dkey, "%s.dev32.%s", g, name), want = get64(p, key, n), \
     dev = get64(p, dkey, n))
    REF("loss1", 5);
    cmp_parts(&res->loss, "first pass", &res->o.lp, want, dev, LOSS_TOL);
    free(want), free(dev);
    REF("loss2", 5);
    cmp_parts(&res->loss, "second pass (at p + ε)", &res->o.lp2, want, dev, LOSS_TOL);
    free(want), free(dev);
    REF("grad_norm", 1);
    cmp(&res->gn, "second gradient's norm", res->o.gn, want[0],
        fmax(GRAD_TOL * want[0], NOISE_K * dev[0]), want[0]);
    double gnorm = want[0];
    free(want), free(dev);
    /* second gradient, per parameter tensor */
    REF("grad2", p->nparam * 3);
    int row = 0;
    for (int i = 0; i < p->ne; i++) {
        const Ent *e = &p->e[i];
        if (!e->param) continue;
        const Param *pp = &r.m.pt.p[e->pi];
        double got[3], *w = want + 3 * row, *dv = dev + 3 * row, n = (double)e->numel;
        sums(g2 + pp->offset, NULL, e->numel, got);
        double lim[3] = {fmax(GRAD_TOL * w[2], NOISE_K * dv[0]),
                         fmax(2 * GRAD_TOL * w[1], NOISE_K * dv[1]),
                         fmax(GRAD_TOL * w[2], NOISE_K * dv[2])};
        if (e->invariant) {
            double a = 1e-6 * gnorm * sqrt(n);
            lim[0] += a, lim[1] += a * a, lim[2] += a;
        } else {
            lim[0] += 1e-9 * gnorm, lim[1] += 1e-18 * gnorm * gnorm, lim[2] += 1e-9 * gnorm;
        }
        static const char *const what3[3] = {"Σg", "Σg²", "Σ|g|"};
        for (int q = 0; q < 3; q++) {
            char what[200];
            snprintf(what, sizeof what, "%s second gradient %s of %s", g, what3[q], e->name);
            cmp(&res->grad, what, got[q], w[q], lim[q], e->invariant ? 0 : (q == 1 ? w[1] : w[2]));
        }
        row++;
    }
    free(want), free(dev);
    snprintf(key, sizeof key, "%s.delta", g);
    cmp_delta(&res->delta, p, &r.m, key, true, p->sam_lr * 1.01);
    /* BN running statistics (state_dict order): the first pass's update only */
    int64_t nb = 0;
    for (int i = 0; i < p->ne; i++)
        if (!p->e[i].param && strstr(p->e[i].name, ".running_")) nb += (int64_t)p->e[i].numel;
    REF("bn_state", nb);
    size_t off = 0;
    for (int i = 0; i < p->ne; i++) {
        const Ent *e = &p->e[i];
        if (e->param || !strstr(e->name, ".running_")) continue;
        float *h = tu_alloc(e->numel);
        r.m.net.k->download(h, params_data(&r.m.pt, e->pi), e->numel * sizeof(float));
        double mx = 0;
        for (size_t j = 0; j < e->numel; j++) mx = fmax(mx, fabs(want[off + j]));
        for (size_t j = 0; j < e->numel; j++) {
            char what[200];
            snprintf(what, sizeof what, "%s running statistic %s[%zu]", g, e->name, j);
            double lim = fmax(BN_TOL * mx, NOISE_K * dev[off + j]) + 1e-7;
            cmp(&res->bn, what, h[j], want[off + j], lim, mx);
        }
        free(h);
        off += e->numel;
    }
    free(want), free(dev);
    /* ... byte for byte those of a plain step */
    Run q;
    run_open(&q, p);
    StepOut o;
    run_step(&q, 0, 0, p->sam_lr, &o, NULL);
    size_t n1, n2;
    float *bn = bn_copy(&r.m, &n1), *bn2 = bn_copy(&q.m, &n2);
    res->bn_same_as_plain = n1 == n2 && memcmp(bn, bn2, n1 * sizeof(float)) == 0;
    free(bn), free(bn2), free(g2);
    run_close(&q);
    run_close(&r);
#undef REF
}

static void sam_pass(SamRes *s, const char *g) {
    char what[64];
    snprintf(what, sizeof what, "%s loss parts", g), cmp_pass(&s->loss, what);
    snprintf(what, sizeof what, "%s second gradient norm", g), cmp_pass(&s->gn, what);
    snprintf(what, sizeof what, "%s second gradient", g), cmp_pass(&s->grad, what);
    snprintf(what, sizeof what, "%s parameter change", g), cmp_pass(&s->delta, what);
    snprintf(what, sizeof what, "%s BN statistics", g), cmp_pass(&s->bn, what);
    cr_assert(s->bn_same_as_plain,
              "%s: BN running statistics differ from a plain step's (the second pass touched them)",
              g);
}

Test(train_parity, sam_step_matches_torch, .timeout = 60) {
    Par p;
    par_open(&p);
    SamRes s;
    sam_case(&p, "sam", true, false, p.sam_rho, false, &s);
    sam_pass(&s, "SAM");
    par_close(&p);
}

Test(train_parity, asam_step_matches_torch, .timeout = 60) {
    Par p;
    par_open(&p);
    SamRes s;
    sam_case(&p, "asam", true, true, p.asam_rho, false, &s);
    sam_pass(&s, "ASAM");
    par_close(&p);
}

/* ---------------------------------------------------------------- the tests can fail */

Test(train_parity, planted_errors_are_caught, .timeout = 60) {
    Par p;
    par_open(&p);
    SamRes s;
    /* the second pass updates BN running statistics (the gradient is unaffected) */
    sam_case(&p, "sam", true, false, p.sam_rho, true, &s);
    planted(&s.bn, "BN update in SAM's second pass: BN statistics", 10);
    cr_assert(!s.bn_same_as_plain);
    cr_assert_leq(s.grad.worst, 1.0, "the second gradient depends on the BN statistics");
    /* a plain step against SAM's reference */
    sam_case(&p, "sam", false, false, 0, false, &s);
    planted(&s.loss, "plain step for SAM: loss parts", 10);
    planted(&s.grad, "plain step for SAM: second gradient", 10);
    planted(&s.delta, "plain step for SAM: parameter change", 1);
    /* SAM's ε in place of ASAM's */
    sam_case(&p, "asam", true, false, p.asam_rho, false, &s);
    planted(&s.loss, "SAM's ε for ASAM: loss parts", 10);
    planted(&s.grad, "SAM's ε for ASAM: second gradient", 10);
    planted(&s.delta, "SAM's ε for ASAM: parameter change", 1);
    /* a constant learning rate in place of OneCycle */
    TenSteps t;
    ten_steps(&p, SCHED_CONSTANT, &t);
    planted(&t.lr, "constant lr: learning rate", 1);
    planted(&t.loss, "constant lr: loss parts", 10);
    planted(&t.delta, "constant lr: change of every tensor", 10);
    planted(&t.final, "constant lr: final values", 10);
    par_close(&p);
}

/* ---------------------------------------------------------------- the real trainer */
