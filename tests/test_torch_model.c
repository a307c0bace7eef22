/* The whole hybrid model against its PyTorch twin (HybridTwin in
 * tests/reference/twin.py; the fixtures are written by make_fixtures.py).
 * Each fixture tests/fixtures/model_<case>.safetensors holds one
 * model configuration (model_<case>.yaml, read here exactly as `vadbench`
 * reads it) and, in metadata, the twin's state_dict listing (name, shape,
 * parameter or buffer). Weights and the input x are NOT stored: both sides
 * compute them from the formula below (tm_formula, twin of formula_tensor in
 * twin.py), so even the full-size Option A model needs no stored
 * weights. What is stored: labels, PyTorch's dropout masks (named as the C
 * model's dropout sites) and VAE eps, and per mode (train, eval) every output
 * of `vadbench forward`, the loss parts, the gradient of every trainable
 * parameter (flat, state_dict order) and, in training, the updated BN running
 * statistics. The Option A case keeps per-tensor gradient norms only.
 *
 * Per case and mode: build the model for (B, T), write the formula weights
 * under the twin's names and load them with weights_load (strict: a name or
 * shape the C model does not have, or lacks, fails the test), load the masks
 * with weights_load_noise (train), forward, compare outputs, run loss_compute
 * (no mixing: λ = 1) and compare the parts, compare running statistics,
 * zero the gradients, backward, compare gradients.
 *
 * Tolerances. A tensor c (vadbench) passes against t (the float64 twin,
 * rounded to float32) when every element satisfies
 *     |c_i - t_i| <= max(tol * max_j |t_j|, 10 * dev32) + 1e-7
 * with tol = 1e-4 for forward outputs and running statistics, 1e-3 for
 * gradients, and dev32 = max_j |p_j - t_j| where p is PyTorch's own float32
 * run of the same model (stored by make_fixtures.py). The dev32 term matters
 * only for gradients that are zero in exact arithmetic, where "relative to
 * the tensor's max" means nothing: the bias of every BatchNorm whose output
 * reaches a training-mode BatchNorm through linear maps only (each MBConv's
 * projection BN, the image VAE's conv biases) and the attention score
 * bias (softmax is shift invariant). There both sides produce float32
 * cancellation noise; vadbench's is within 1..4x PyTorch's in every case.
 * Loss parts: |c - t| <= max(1e-4 |t|, 10 dev32) + 1e-6. Option A stores
 * per-tensor gradient norms: |‖c‖ - ‖t‖| <= max(1e-3 ‖t‖, 10 dev32) +
 * 1e-7 max‖t‖ (dev32: PyTorch's float32 norm error). The batches have 4
 * clips so that no BatchNorm1d of the heads normalises fewer than 4 rows
 * (with 3, a channel where ReLU zeroes two rows makes the output depend
 * on one tiny value and both float32 implementations drift by 1e-4).
 * VB_TORCH_REPORT=1 prints, per output and per parameter group, the worst
 * max|c - t| / max|t|; VB_TORCH_DEBUG=1 prints every tensor. */
#include "testutil.h"

#include <jansson.h>

#include "harness/experiment/experiment.h"
#include "models/losses.h"
#include "models/optim.h"
#include "models/safetensors.h"
#include "models/weights.h"

#define FWD_TOL 1e-4
#define GRAD_TOL 1e-3
#define ATOL 1e-7
#define NOISE_K 10.0

/* ---------------------------------------------------------------- the formula */

static uint32_t fnv1a32(const char *s) {
    uint32_t h = 0x811C9DC5u;
    for (; *s; s++) h = (h ^ (uint8_t)*s) * 0x01000193u;
    return h;
}

static bool ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* Values of tensor `name` (shape[ndim]) as twin.py's formula_tensor:
 * every step in double, rounded once to float. Shared with test_torch_model_io.c. */
void tm_formula(const char *name, int ndim, const int64_t *shape, double gain, float *out);
void tm_formula(const char *name, int ndim, const int64_t *shape, double gain, float *out) {
    size_t n = 1;
    for (int d = 0; d < ndim; d++) n *= (size_t)shape[d];
    uint32_t h = fnv1a32(name);
    double scale = ndim >= 2 ? gain * sqrt(12.0 / (double)(n / (size_t)shape[0])) : 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t v = (uint32_t)i * 0x9E3779B1u + h;
        v ^= v >> 16;
        v *= 0x85EBCA6Bu;
        v ^= v >> 13;
        v *= 0xC2B2AE35u;
        v ^= v >> 16;
        double u = (double)(v >> 8) * (1.0 / 16777216.0) - 0.5, val;
        if (ends_with(name, "running_var")) val = 1.0 + 0.5 * u;
        else if (ends_with(name, "running_mean")) val = 0.2 * u;
        else if (strcmp(name, "anomaly_head.center") == 0) val = 0.5 * u;
        else if (strcmp(name, "x") == 0) val = 4.0 * u;
        else if (ndim == 1 && ends_with(name, ".weight")) val = 1.0 + 0.4 * u;
        else if (ndim <= 1) val = 0.2 * u;
        else val = u * scale;
        out[i] = (float)val;
    }
}

/* ---------------------------------------------------------------- fixture access */

typedef struct Entry {
    const char *name;
    int ndim;
    int64_t shape[4];
    size_t numel;
    int kind; /* 0 param, 1 buffer, 2 ignored (num_batches_tracked) */
} Entry;

typedef struct Fix {
    char path[256], cname[64];
    StFile f;
    json_t *info, *sd;
    Entry *e;
    int ne;
    int B, T;
    double gain;
    bool norms_only;
    ModelConfig cfg;
} Fix;

static void fix_open(Fix *x, const char *cname) {
    memset(x, 0, sizeof *x);
    snprintf(x->cname, sizeof x->cname, "%s", cname);
    snprintf(x->path, sizeof x->path, "tests/fixtures/model_%s.safetensors", cname);
    cr_assert_eq(st_open(x->path, &x->f), VB_OK, "%s (regenerate with `make fixtures`)",
                 vb_errmsg());
    json_error_t err;
    const char *ci = st_meta(&x->f, "case"), *sd = st_meta(&x->f, "state_dict");
    cr_assert(ci && sd, "%s: metadata 'case' or 'state_dict' missing", x->path);
    x->info = json_loads(ci, 0, &err);
    x->sd = json_loads(sd, 0, &err);
    cr_assert(json_is_object(x->info) && json_is_array(x->sd), "%s: bad metadata", x->path);
    x->B = (int)json_integer_value(json_object_get(x->info, "B"));
    x->T = (int)json_integer_value(json_object_get(x->info, "T"));
    x->norms_only = json_is_true(json_object_get(x->info, "grad_norms_only"));
    x->gain = json_number_value(json_object_get(x->info, "weight_gain"));
    cr_assert(x->gain > 0, "%s: no weight_gain in the case metadata", x->path);
    x->ne = (int)json_array_size(x->sd);
    x->e = calloc((size_t)x->ne, sizeof *x->e);
    for (int i = 0; i < x->ne; i++) {
        json_t *it = json_array_get(x->sd, (size_t)i), *sh = json_array_get(it, 1);
        Entry *e = &x->e[i];
        e->name = json_string_value(json_array_get(it, 0));
        const char *kind = json_string_value(json_array_get(it, 2));
        e->kind = strcmp(kind, "param") == 0 ? 0 : strcmp(kind, "buffer") == 0 ? 1 : 2;
        e->ndim = (int)json_array_size(sh);
        cr_assert(e->name && e->ndim <= 4, "%s: bad state_dict entry %d", x->path, i);
        e->numel = 1;
        for (int d = 0; d < e->ndim; d++) {
            e->shape[d] = json_integer_value(json_array_get(sh, (size_t)d));
            e->numel *= (size_t)e->shape[d];
        }
    }
    char yaml[300];
    snprintf(yaml, sizeof yaml, "tests/fixtures/%s",
             json_string_value(json_object_get(x->info, "yaml")));
    cr_assert_eq(cfg_read_model_file(yaml, NULL, &x->cfg), VB_OK, "%s", vb_errmsg());
}

static void fix_close(Fix *x) {
    free(x->e);
    json_decref(x->info);
    json_decref(x->sd);
    st_close(&x->f);
}

/* Fixture tensor `name` as a new host array; n elements expected (n < 0: any). */
static float *fix_get(Fix *x, const char *name, int64_t n, int64_t *got_n) {
    const StTensor *t = st_find(&x->f, name);
    cr_assert_not_null(t, "%s: no tensor '%s'", x->path, name);
    cr_assert(n < 0 || t->numel == n, "%s: '%s' has %lld values, the C model gives %lld", x->path,
              name, (long long)t->numel, (long long)n);
    float *p = tu_alloc((size_t)t->numel);
    cr_assert_eq(st_read_f32(&x->f, t, p, t->numel), VB_OK, "%s", vb_errmsg());
    if (got_n) *got_n = t->numel;
    return p;
}

/* ---------------------------------------------------------------- comparison */

static bool report_on(void) {
    const char *e = getenv("VB_TORCH_REPORT");
    return e && *e && strcmp(e, "0") != 0;
}

/* Assert |got - want| <= max(tol * max|want|, NOISE_K * dev32) + atol
 * elementwise (dev32: PyTorch's own float32 deviation on this tensor);
 * returns max|got - want| and sets *ref = max|want| for the report. */
static double check(const char *label, const float *got, const float *want, size_t n, double tol,
                    double dev32, double atol, double *ref) {
    double mx = 0, md = 0;
    size_t worst = 0;
    for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs((double)want[i]));
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        if (isnan(d)) d = INFINITY;
        if (d > md) md = d, worst = i;
    }
    double lim = fmax(tol * mx, NOISE_K * dev32) + atol;
    if (getenv("VB_TORCH_DEBUG"))
        fprintf(stderr, "%s: maxref %.3e maxdiff %.3e rel %.2e f32dev %.3e ratio %.2f%s\n", label,
                mx, md, mx > 0 ? md / mx : md, dev32, dev32 > 0 ? md / dev32 : 0,
                md > tol * mx + atol ? " NOISE-BOUND" : "");
    cr_assert(md <= lim,
              "%s: element %zu of %zu: vadbench %.9g, PyTorch %.9g (|diff| %.3g > %.3g = max(%g * "
              "max|ref| %.4g, %g * PyTorch's float32 deviation %.3g) + %g)",
              label, worst, n, n ? (double)got[worst] : 0.0, n ? (double)want[worst] : 0.0, md, lim,
              tol, mx, NOISE_K, dev32, atol);
    *ref = mx;
    return md;
}

static float *down(const Hybrid *m, const float *dev, size_t n) {
    float *h = tu_alloc(n);
    m->net.k->sync();
    m->net.k->download(h, dev, n * sizeof(float));
    return h;
}

/* Report: per group of tensors, max|c - t| over the group / max|t| over the group. */
typedef struct Worst {
    char what[64];
    double diff, ref;
} Worst;

static void note(Worst *w, int *nw, const char *what, double diff, double ref) {
    for (int i = 0; i < *nw; i++)
        if (strcmp(w[i].what, what) == 0) {
            w[i].diff = fmax(w[i].diff, diff);
            w[i].ref = fmax(w[i].ref, ref);
            return;
        }
    snprintf(w[*nw].what, sizeof w[*nw].what, "%s", what);
    w[*nw].diff = diff, w[*nw].ref = ref;
    (*nw)++;
}

/* Group name of a parameter for the gradient report. */
static const char *group_of(const char *name) {
    static const char *g[] = {"backbone",          "temporal_encoder", "projection", "classifier",
                              "binary_classifier", "anomaly_head",     "vae"};
    for (size_t i = 0; i < sizeof g / sizeof *g; i++)
        if (strncmp(name, g[i], strlen(g[i])) == 0) return g[i];
    return "other";
}

/* ---------------------------------------------------------------- one case */

/* Formula weights of case `cname` under the twin's names (PyTorch's
 * state_dict, num_batches_tracked left out) written to `path`; returns the
 * number of tensors. Shared with test_torch_model_io.c. */
int tm_write_weights(const char *cname, const char *path);
int tm_write_weights(const char *cname, const char *path) {
    Fix x;
    fix_open(&x, cname);
    size_t total = 0;
    for (int i = 0; i < x.ne; i++) total += x.e[i].kind == 2 ? 0 : x.e[i].numel;
    float *vals = tu_alloc(total);
    StWriter *w = st_writer_new();
    size_t off = 0;
    int nw = 0;
    for (int i = 0; i < x.ne; i++) {
        const Entry *e = &x.e[i];
        if (e->kind == 2) continue;
        tm_formula(e->name, e->ndim, e->shape, x.gain, vals + off);
        st_writer_add(w, e->name, e->ndim, e->shape, vals + off);
        off += e->numel;
        nw++;
    }
    cr_assert_eq(st_writer_write(w, path), VB_OK, "%s", vb_errmsg());
    st_writer_free(w);
    free(vals);
    fix_close(&x);
    return nw;
}

/* The input x of case `cname` (formula, NCHW: (B,3,S,S) for frames,
 * (B,T,3,S,S) for clips) as a new host array; *n gets its size. */
float *tm_input_nchw(const char *cname, size_t *n, int64_t *shape, int *ndim);
float *tm_input_nchw(const char *cname, size_t *n, int64_t *shape, int *ndim) {
    Fix x;
    fix_open(&x, cname);
    int S = x.cfg.image;
    *ndim = x.T > 1 ? 5 : 4;
    int64_t s5[5] = {x.B, x.T, 3, S, S}, s4[4] = {x.B, 3, S, S};
    memcpy(shape, x.T > 1 ? s5 : s4, (size_t)*ndim * sizeof *shape);
    *n = (size_t)x.B * x.T * 3 * S * S;
    float *p = tu_alloc(*n);
    tm_formula("x", *ndim, shape, x.gain, p);
    fix_close(&x);
    return p;
}

/* Formula weights written to tests/tmp and loaded strictly: every name and
 * shape of PyTorch's state_dict must be the C model's, and nothing else. */
static void load_formula_weights(Fix *x, Hybrid *m, const char *tag) {
    char path[300];
    snprintf(path, sizeof path, "tests/tmp/torch_model_%s_%s.weights.safetensors", x->cname, tag);
    int nload = tm_write_weights(x->cname, path);
    WeightsReport rep;
    VbStatus s = weights_load(m, path, false, false, stderr, &rep);
    cr_assert_eq(s, VB_OK, "%s: the C model's tensors differ from PyTorch's state_dict: %s",
                 x->cname, vb_errmsg());
    cr_assert_eq(rep.loaded, nload);
    cr_assert_eq(rep.loaded, m->pt.n, "%s: the C model has %d tensors, PyTorch %d", x->cname,
                 m->pt.n, rep.loaded);
    remove(path);
    /* parameter vs buffer as in PyTorch */
    for (int i = 0; i < x->ne; i++) {
        if (x->e[i].kind == 2) continue;
        int pi = params_find(&m->pt, x->e[i].name);
        cr_assert_eq((int)m->pt.p[pi].kind, x->e[i].kind == 0 ? PARAM_TRAIN : PARAM_BUFFER,
                     "%s: %s is a %s in PyTorch", x->cname, x->e[i].name,
                     x->e[i].kind == 0 ? "parameter" : "buffer");
    }
}

/* x from the formula, NCHW -> NHWC, on the device. */
static float *make_input(Fix *x, const Hybrid *m) {
    int N = x->B * x->T, S = x->cfg.image, nd;
    int64_t shape[5];
    size_t n;
    float *nchw = tm_input_nchw(x->cname, &n, shape, &nd), *nhwc = tu_alloc(n);
    for (int i = 0; i < N; i++)
        for (int c = 0; c < 3; c++)
            for (int p = 0; p < S * S; p++)
                nhwc[((size_t)i * S * S + p) * 3 + c] = nchw[((size_t)i * 3 + c) * S * S + p];
    float *d = m->net.k->alloc(n * sizeof(float));
    m->net.k->upload(d, nhwc, n * sizeof(float));
    free(nchw);
    free(nhwc);
    return d;
}

static void check_output(Fix *x, const char *mode, const char *what, const float *got, size_t n,
                         double tol, double dev32, Worst *w, int *nw) {
    char name[128], label[200];
    snprintf(name, sizeof name, "%s.%s", mode, what);
    snprintf(label, sizeof label, "%s %s output %s", x->cname, mode, what);
    float *want = fix_get(x, name, (int64_t)n, NULL);
    double ref, d = check(label, got, want, n, tol, dev32, ATOL, &ref);
    note(w, nw, what, d, ref);
    free(want);
}

/* "<mode>.f32dev.<kind>" as a host array (NULL and n = 0 when absent). */
static float *fix_dev(Fix *x, const char *mode, const char *kind, int64_t *n) {
    char name[64];
    snprintf(name, sizeof name, "%s.f32dev.%s", mode, kind);
    *n = 0;
    return st_find(&x->f, name) ? fix_get(x, name, -1, n) : NULL;
}

static void run_case(const char *cname, bool train) {
    const char *mode = train ? "train" : "eval";
    Fix x;
    fix_open(&x, cname);
    const KOps *k = kops_cpu();
    int B = x.B, T = x.T, N = B * T;
    Hybrid m;
    cr_assert_eq(hybrid_build(&m, &x.cfg, k, B, T), VB_OK, "%s", vb_errmsg());
    load_formula_weights(&x, &m, mode);
    float *xin = make_input(&x, &m);
    hybrid_set_train(&m, train);
    if (train) {
        cr_assert_eq(weights_load_noise(&m, x.path, N), VB_OK, "%s", vb_errmsg());
        /* every mask PyTorch used is a dropout site of the C model */
        for (int i = 0; i < x.f.n; i++) {
            const char *nm = x.f.t[i].name;
            if (strncmp(nm, "train.", 6) && strncmp(nm, "eval.", 5) && strcmp(nm, "labels") &&
                strcmp(nm, "anomaly") && strcmp(nm, "vae.eps"))
                cr_assert_not_null(net_find_site(&m.net, nm), "%s: mask '%s' has no C dropout site",
                                   cname, nm);
        }
    }
    hybrid_forward(&m, B, T, xin);

    Worst w[32];
    int nw = 0;
    double ftol = FWD_TOL;
    const ModelConfig *c = &m.cfg;
    int F = m.bb.feat_dim, D = m.tdim, P = c->feature_dim, C = c->classes, E = c->embedding_dim;
    struct {
        const char *what;
        const float *dev;
        size_t n;
    } outs[] = {
        {"features", m.feat_mean, (size_t)B * F},
        {"temporal", m.has_temporal ? m.tmp.out : m.tin, (size_t)B * D},
        {"projection", m.proj.y, (size_t)B * P},
        {"class_logits", m.cls_logits, (size_t)B * C},
        {"binary_logits", m.bin_logits, (size_t)B * 2},
        {"svdd_embedding", m.emb_e, (size_t)B * E},
        {"svdd_score", m.svdd_score, (size_t)B},
    };
    int64_t n_odev, n_ldev, n_gdev, n_sdev;
    float *odev = fix_dev(&x, mode, "out", &n_odev), *ldev = fix_dev(&x, mode, "loss", &n_ldev);
    float *gdev = fix_dev(&x, mode, "grad", &n_gdev), *sdev = fix_dev(&x, mode, "state", &n_sdev);
    cr_assert_eq(n_odev, m.has_vae ? 11 : 7, "%s: %s.f32dev.out has %lld values", cname, mode,
                 (long long)n_odev);
    cr_assert_eq(n_ldev, 5);
    for (size_t i = 0; i < sizeof outs / sizeof *outs; i++) {
        float *h = down(&m, outs[i].dev, outs[i].n);
        check_output(&x, mode, outs[i].what, h, outs[i].n, ftol, odev[i], w, &nw);
        free(h);
    }
    if (m.has_vae) {
        int L = m.vae.latent, in = m.vae.in_dim;
        float *mu = down(&m, m.vae.mu, (size_t)N * L), *lv = down(&m, m.vae.logvar, (size_t)N * L);
        float *rec = down(&m, m.vae.recon, (size_t)N * in);
        float *mse = down(&m, m.vae.mse, (size_t)N), *kl = down(&m, m.vae.kl, (size_t)N);
        check_output(&x, mode, "vae_mu", mu, (size_t)N * L, ftol, odev[7], w, &nw);
        check_output(&x, mode, "vae_logvar", lv, (size_t)N * L, ftol, odev[8], w, &nw);
        if (m.vae.level == VAE_IMAGE) { /* NHWC -> NCHW */
            int S = c->image;
            float *r2 = tu_alloc((size_t)N * in);
            for (int i = 0; i < N; i++)
                for (int ch = 0; ch < 3; ch++)
                    for (int p = 0; p < S * S; p++)
                        r2[((size_t)i * 3 + ch) * S * S + p] =
                            rec[((size_t)i * S * S + p) * 3 + ch];
            free(rec);
            rec = r2;
        }
        check_output(&x, mode, "vae_reconstruction", rec, (size_t)N * in, ftol, odev[9], w, &nw);
        float score[64];
        cr_assert_leq(B, 64);
        for (int i = 0; i < B; i++) {
            double s = 0;
            for (int j = 0; j < T; j++) s += mse[i * T + j] + 0.1 * kl[i * T + j];
            score[i] = (float)(s / T);
        }
        check_output(&x, mode, "vae_score", score, (size_t)B, ftol, odev[10], w, &nw);
        free(mu), free(lv), free(rec), free(mse), free(kl);
    }

    /* running statistics after the training forward (state_dict order) */
    if (train && !x.norms_only) {
        int64_t ns;
        float *st = fix_get(&x, "train.state", -1, &ns);
        size_t off = 0;
        int si = 0;
        for (int i = 0; i < x.ne; i++) {
            const Entry *e = &x.e[i];
            if (e->kind != 1 ||
                !(ends_with(e->name, "running_mean") || ends_with(e->name, "running_var")))
                continue;
            cr_assert_leq(off + e->numel, (size_t)ns);
            cr_assert_lt(si, n_sdev);
            int pi = params_find(&m.pt, e->name);
            float *h = down(&m, params_data(&m.pt, pi), e->numel);
            char label[200];
            snprintf(label, sizeof label, "%s train running statistic %s", cname, e->name);
            double ref, d = check(label, h, st + off, e->numel, FWD_TOL, sdev[si++], ATOL, &ref);
            note(w, &nw, "running stats", d, ref);
            free(h);
            off += e->numel;
        }
        cr_assert_eq(off, (size_t)ns, "%s: train.state has %lld values, used %zu", cname,
                     (long long)ns, off);
        free(st);
    }

    /* evaluation leaves every buffer (running statistics, centre) as loaded */
    if (!train) {
        for (int i = 0; i < x.ne; i++) {
            const Entry *e = &x.e[i];
            if (e->kind != 1) continue;
            float *h = down(&m, params_data(&m.pt, params_find(&m.pt, e->name)), e->numel);
            float *f0 = tu_alloc(e->numel);
            tm_formula(e->name, e->ndim, e->shape, x.gain, f0);
            cr_assert(memcmp(h, f0, e->numel * sizeof(float)) == 0,
                      "%s: the evaluation forward changed buffer %s", cname, e->name);
            free(h), free(f0);
        }
    }

    /* loss (no mixing) */
    int ya[64], an[64];
    float lam[64];
    float *lab = fix_get(&x, "labels", B, NULL), *anom = fix_get(&x, "anomaly", B, NULL);
    for (int i = 0; i < B; i++) ya[i] = (int)lab[i], an[i] = (int)anom[i], lam[i] = 1.0f;
    free(lab), free(anom);
    LossTargets tg = {ya, ya, an, an, lam};
    LossConfig lc;
    loss_config_defaults(&lc);
    LossWork lw;
    loss_work_init(&lw, &m);
    LossParts lp;
    cr_assert_eq(loss_compute(&lc, &m, &lw, B, T, &tg, &lp), VB_OK, "%s", vb_errmsg());
    struct {
        const char *what;
        double v;
    } parts[] = {
        {"cls", lp.cls}, {"bin", lp.bin}, {"svdd", lp.svdd}, {"vae", lp.vae}, {"total", lp.total}};
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s.loss.%s", mode, parts[i].what);
        float *want = fix_get(&x, name, 1, NULL);
        double d = fabs(parts[i].v - want[0]);
        if (getenv("VB_TORCH_DEBUG"))
            fprintf(stderr, "%s %s loss %s: rel %.2e f32dev-ratio %.2f\n", cname, mode,
                    parts[i].what, want[0] ? d / fabs(want[0]) : d, ldev[i] > 0 ? d / ldev[i] : 0);
        cr_assert(d <= fmax(1e-4 * fabs(want[0]), NOISE_K * ldev[i]) + 1e-6,
                  "%s %s loss %s: vadbench %.9g, PyTorch %.9g (PyTorch's float32 deviation %.3g)",
                  cname, mode, parts[i].what, parts[i].v, (double)want[0], (double)ldev[i]);
        char lbl[64];
        snprintf(lbl, sizeof lbl, "loss.%s", parts[i].what);
        note(w, &nw, lbl, d, fabs(want[0]));
        free(want);
    }

    /* gradients of every trainable parameter */
    char gname[64];
    snprintf(gname, sizeof gname, "%s.%s", mode, x.norms_only ? "grad_norm" : "grad");
    if (st_find(&x.f, gname)) {
        optim_zero_grad(&m.pt);
        hybrid_backward(&m, B, T, xin);
        int64_t ng;
        float *g = fix_get(&x, gname, -1, &ng);
        size_t off = 0;
        int np = 0;
        double gmax = 0;
        for (int64_t i = 0; x.norms_only && i < ng; i++) gmax = fmax(gmax, g[i]);
        for (int i = 0; i < x.ne; i++) {
            const Entry *e = &x.e[i];
            if (e->kind != 0) continue;
            cr_assert_lt(np, n_gdev, "%s: %s.f32dev.grad is too short", cname, mode);
            int pi = params_find(&m.pt, e->name);
            float *h = down(&m, params_grad(&m.pt, pi), e->numel);
            char label[200], grp[64];
            snprintf(label, sizeof label, "%s %s gradient of %s", cname, mode, e->name);
            snprintf(grp, sizeof grp, "grad %s", group_of(e->name));
            if (x.norms_only) {
                double s = 0;
                for (size_t j = 0; j < e->numel; j++) s += (double)h[j] * h[j];
                /* gdev: |norm of PyTorch's float32 gradient - norm in float64| */
                double got = sqrt(s), want = g[np], d = fabs(got - want);
                if (getenv("VB_TORCH_DEBUG"))
                    fprintf(stderr, "%s: norm rel %.2e f32dev-ratio %.2f%s\n", label,
                            want > 0 ? d / want : 0, gdev[np] > 0 ? d / gdev[np] : 0,
                            d > GRAD_TOL * want + 1e-7 * gmax ? " NOISE-BOUND" : "");
                cr_assert(d <= fmax(GRAD_TOL * want, NOISE_K * gdev[np]) + 1e-7 * gmax,
                          "%s: norm %.9g, PyTorch %.9g (PyTorch's float32 norm deviates by %.3g)",
                          label, got, want, (double)gdev[np]);
                note(w, &nw, grp, fabs(got - want), want);
            } else {
                cr_assert_leq(off + e->numel, (size_t)ng);
                double ref, d = check(label, h, g + off, e->numel, GRAD_TOL, gdev[np], ATOL, &ref);
                note(w, &nw, grp, d, ref);
            }
            off += e->numel;
            np++;
            free(h);
        }
        cr_assert_eq(x.norms_only ? (size_t)np : off, (size_t)ng,
                     "%s: %s has %lld values, the C parameters %zu", cname, gname, (long long)ng,
                     x.norms_only ? (size_t)np : off);
        free(g);
    }
    if (report_on()) {
        fprintf(stderr, "torch_model %s %s:", cname, mode);
        for (int i = 0; i < nw; i++)
            fprintf(stderr, " %s=%.1e", w[i].what, w[i].ref > 0 ? w[i].diff / w[i].ref : w[i].diff);
        fprintf(stderr, "\n");
    }
    free(odev), free(ldev), free(gdev), free(sdev);
    loss_work_free(&lw);
    k->free(xin);
    hybrid_free(&m);
    fix_close(&x);
}

/* ---------------------------------------------------------------- tests */

/* Clips T=3, 2-layer bidirectional LSTM with dropout between layers, no VAE,
 * backbone width 0.1 (channels 8..32) at 64x64. */
Test(torch_model, lstm_bi_clip_train, .timeout = 60) { run_case("lstm_bi_clip", true); }
Test(torch_model, lstm_bi_clip_eval, .timeout = 60) { run_case("lstm_bi_clip", false); }
/* Frames, 2-layer unidirectional GRU, feature VAE (target detached). */
Test(torch_model, gru_frames_feature_vae_train, .timeout = 60) {
    run_case("gru_frames_fvae", true);
}
Test(torch_model, gru_frames_feature_vae_eval, .timeout = 60) {
    run_case("gru_frames_fvae", false);
}
/* Clips T=2 without temporal encoder (mean over T), image VAE. */
Test(torch_model, no_temporal_clip_image_vae_train, .timeout = 60) {
    run_case("none_ivae_clip", true);
}
Test(torch_model, no_temporal_clip_image_vae_eval, .timeout = 60) {
    run_case("none_ivae_clip", false);
}
/* Clips T=2, 1-layer bidirectional GRU, feature VAE with an undetached target. */
Test(torch_model, gru_bi_clip_feature_vae_train, .timeout = 60) {
    run_case("gru_bi_clip_fvae", true);
}
Test(torch_model, gru_bi_clip_feature_vae_eval, .timeout = 60) {
    run_case("gru_bi_clip_fvae", false);
}
/* Frames, 1-layer unidirectional LSTM (the end-to-end case of test_torch_model_io.c). */
Test(torch_model, lstm_frames_train, .timeout = 60) { run_case("lstm_frames", true); }
Test(torch_model, lstm_frames_eval, .timeout = 60) { run_case("lstm_frames", false); }
/* The seed's Option A at full size (EfficientNet-B0 at width = depth = 1), clips T=2. */
Test(torch_model, option_a_full_size_train, .timeout = 120) { run_case("option_a", true); }
Test(torch_model, option_a_full_size_eval, .timeout = 120) { run_case("option_a", false); }

/* The comparison can fail: one stem weight changed by 1%, or training-mode
 * dropout masks drawn by vadbench's own RNG instead of PyTorch's, move the
 * logits far outside the forward tolerance. */
static double max_rel(const float *a, const float *b, size_t n) {
    double mx = 0, md = 0;
    for (size_t i = 0; i < n; i++) {
        mx = fmax(mx, fabs((double)b[i]));
        md = fmax(md, fabs((double)a[i] - (double)b[i]));
    }
    return md / mx;
}

Test(torch_model, negative_controls, .timeout = 60) {
    Fix x;
    fix_open(&x, "lstm_frames");
    Hybrid m;
    cr_assert_eq(hybrid_build(&m, &x.cfg, kops_cpu(), x.B, x.T), VB_OK, "%s", vb_errmsg());
    load_formula_weights(&x, &m, "negative");
    float *xin = make_input(&x, &m);
    size_t nl = (size_t)x.B * m.cfg.classes;
    float *want_eval = fix_get(&x, "eval.class_logits", (int64_t)nl, NULL);
    float *want_train = fix_get(&x, "train.class_logits", (int64_t)nl, NULL);
    /* unchanged: within tolerance */
    hybrid_set_train(&m, false);
    hybrid_forward(&m, x.B, x.T, xin);
    float *got = down(&m, m.cls_logits, nl);
    cr_assert_leq(max_rel(got, want_eval, nl), FWD_TOL);
    free(got);
    /* one weight 1% off */
    int pi = params_find(&m.pt, "backbone.backbone.features.0.0.weight");
    float w0;
    m.net.k->download(&w0, params_data(&m.pt, pi), sizeof w0);
    float w1 = w0 * 1.01f;
    m.net.k->upload(params_data(&m.pt, pi), &w1, sizeof w1);
    hybrid_forward(&m, x.B, x.T, xin);
    got = down(&m, m.cls_logits, nl);
    double r = max_rel(got, want_eval, nl);
    cr_assert_gt(r, 10 * FWD_TOL, "a 1%% change of one stem weight moved the logits by only %.2e",
                 r);
    free(got);
    m.net.k->upload(params_data(&m.pt, pi), &w0, sizeof w0);
    /* training mode with vadbench's own masks instead of PyTorch's */
    hybrid_set_train(&m, true);
    hybrid_forward(&m, x.B, x.T, xin);
    got = down(&m, m.cls_logits, nl);
    r = max_rel(got, want_train, nl);
    cr_assert_gt(r, 10 * FWD_TOL, "other dropout masks moved the logits by only %.2e", r);
    free(got);
    free(want_eval), free(want_train);
    m.net.k->free(xin);
    hybrid_free(&m);
    fix_close(&x);
}
