/* The hybrid model's weights in and out, against what PyTorch writes, and
 * `vadbench forward` end to end.
 *
 * - Parameter counts: Option A has 9,302,541 trainable values plus the
 *   128-value SVDD centre, its backbone (EfficientNet-B0 at width = depth =
 *   1) 4,007,548 = torchvision's efficientnet_b0().features parameter count
 *   (trainable parameters only; BN running statistics are buffers) — and
 *   the same numbers are what PyTorch's state_dict in
 *   tests/fixtures/model_option_a.safetensors adds up to.
 * - tests/fixtures/model_lstm_frames.weights.safetensors is the twin's
 *   state_dict exported by PyTorch (F32, num_batches_tracked as I64): it
 *   holds exactly the formula values (so both formula implementations agree
 *   bit for bit) and loads strictly.
 * - timm ↔ torchvision: the same file with the backbone renamed to timm's
 *   names (the mapping of ../shared/reference/README.md, written by
 *   make_fixtures.py into the file's metadata, independent of the C
 *   translation) loads to identical parameters, also with the two naming
 *   schemes mixed; one tensor under both names is refused.
 * - Load errors: missing, unexpected and mis-shaped tensors are refused with
 *   a log line naming each; --allow-missing / --allow-unused (the
 *   weights_load flags) accept the first two, never the third; truncated
 *   files give an error naming the file, never a crash.
 * - `./vadbench forward` (built by `make test` before the tests run) on the
 *   exported weights, in eval and train mode (masks via --noise), and on a
 *   clip case with the image VAE: every tensor of the output file equals the
 *   fixture's within 1e-4 of the tensor's largest magnitude.
 * Scratch files go to tests/tmp/. */
#include "testutil.h"

#include <errno.h>
#include <jansson.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "harness/experiment/experiment.h"
#include "models/safetensors.h"
#include "models/weights.h"

#define FIX "tests/fixtures/"
#define TMP "tests/tmp/"
#define EXPORTED FIX "model_lstm_frames.weights.safetensors"

/* From test_torch_model.c. */
void tm_formula(const char *name, int ndim, const int64_t *shape, double gain, float *out);
int tm_write_weights(const char *cname, const char *path);
float *tm_input_nchw(const char *cname, size_t *n, int64_t *shape, int *ndim);

static void ensure_tmp(void) {
    if (mkdir("tests/tmp", 0777) != 0 && errno != EEXIST) cr_assert_fail("mkdir tests/tmp");
}

static void build(Hybrid *m, const char *cname) {
    char yaml[200];
    snprintf(yaml, sizeof yaml, FIX "model_%s.yaml", cname);
    ModelConfig cfg;
    cr_assert_eq(cfg_read_model_file(yaml, NULL, &cfg), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(hybrid_build(m, &cfg, kops_cpu(), 4, 1), VB_OK, "%s", vb_errmsg());
    hybrid_init(m, 0);
}

static float *all_params(const Hybrid *m) {
    float *h = tu_alloc(m->pt.total);
    m->net.k->download(h, m->pt.data, m->pt.total * sizeof(float));
    return h;
}

/* Copy of a file's tensors for rewriting: names (owned), shapes, data. */
typedef struct Tens {
    char *name;
    int ndim;
    int64_t shape[8];
    float *data;
    bool f32;
} Tens;

static int read_all(const char *path, Tens **out, json_t **meta) {
    StFile f;
    cr_assert_eq(st_open(path, &f), VB_OK, "%s", vb_errmsg());
    Tens *t = calloc((size_t)f.n, sizeof *t);
    int n = 0;
    for (int i = 0; i < f.n; i++) {
        const StTensor *s = &f.t[i];
        if (s->dtype != ST_F32) continue; /* num_batches_tracked (I64) */
        t[n].name = strdup(s->name);
        t[n].ndim = s->ndim;
        memcpy(t[n].shape, s->shape, sizeof t[n].shape);
        t[n].data = tu_alloc((size_t)s->numel);
        cr_assert_eq(st_read_f32(&f, s, t[n].data, s->numel), VB_OK);
        t[n].f32 = true;
        n++;
    }
    if (meta) *meta = json_incref(f.metadata);
    st_close(&f);
    *out = t;
    return n;
}

static void free_all(Tens *t, int n) {
    for (int i = 0; i < n; i++) free(t[i].name), free(t[i].data);
    free(t);
}

static void write_all(const char *path, const Tens *t, int n) {
    ensure_tmp();
    StWriter *w = st_writer_new();
    for (int i = 0; i < n; i++) st_writer_add(w, t[i].name, t[i].ndim, t[i].shape, t[i].data);
    cr_assert_eq(st_writer_write(w, path), VB_OK, "%s", vb_errmsg());
    st_writer_free(w);
}

/* weights_load with its log captured in *log (caller frees). */
static VbStatus load_logged(Hybrid *m, const char *path, bool am, bool au, WeightsReport *rep,
                            char **log) {
    size_t len;
    FILE *f = open_memstream(log, &len);
    VbStatus s = weights_load(m, path, am, au, f, rep);
    fclose(f);
    return s;
}

/* ---------------------------------------------------------------- counts */

Test(torch_model_io, parameter_counts_match_pytorch) {
    ModelConfig cfg;
    cr_assert_eq(cfg_read_model_file("experiments/models/option_a.yaml", NULL, &cfg), VB_OK, "%s",
                 vb_errmsg());
    Hybrid m;
    cr_assert_eq(hybrid_build(&m, &cfg, kops_cpu(), 1, 1), VB_OK, "%s", vb_errmsg());
    size_t train = params_count(&m.pt, PARAM_TRAIN), bb = 0;
    for (int i = 0; i < m.pt.n; i++)
        if (m.pt.p[i].kind == PARAM_TRAIN && strncmp(m.pt.p[i].name, "backbone.backbone.", 18) == 0)
            bb += m.pt.p[i].numel;
    int c = params_find(&m.pt, "anomaly_head.center");
    cr_assert_geq(c, 0);
    cr_assert_eq(m.pt.p[c].kind, PARAM_BUFFER, "the SVDD centre is a buffer, not trained");
    cr_assert_eq(train, 9302541u, "Option A: %zu trainable values", train);
    cr_assert_eq(m.pt.p[c].numel, 128u);
    cr_assert_eq(train + m.pt.p[c].numel, 9302669u);
    cr_assert_eq(bb, 4007548u, "EfficientNet-B0 backbone: %zu trainable values", bb);
    /* the same sums over PyTorch's state_dict (the fixture's listing) */
    StFile f;
    cr_assert_eq(st_open(FIX "model_option_a.safetensors", &f), VB_OK, "%s", vb_errmsg());
    json_error_t err;
    json_t *sd = json_loads(st_meta(&f, "state_dict"), 0, &err);
    cr_assert(json_is_array(sd));
    size_t pt_train = 0, pt_bb = 0;
    for (size_t i = 0; i < json_array_size(sd); i++) {
        json_t *e = json_array_get(sd, i), *sh = json_array_get(e, 1);
        if (strcmp(json_string_value(json_array_get(e, 2)), "param")) continue;
        size_t n = 1;
        for (size_t d = 0; d < json_array_size(sh); d++)
            n *= (size_t)json_integer_value(json_array_get(sh, d));
        pt_train += n;
        if (strncmp(json_string_value(json_array_get(e, 0)), "backbone.backbone.", 18) == 0)
            pt_bb += n;
    }
    cr_assert_eq(pt_train, train, "PyTorch counts %zu trainable values, vadbench %zu", pt_train,
                 train);
    cr_assert_eq(pt_bb, bb);
    json_decref(sd);
    st_close(&f);
    hybrid_free(&m);
}

/* ---------------------------------------------------------------- PyTorch's export */

Test(torch_model_io, pytorch_export_is_the_formula_and_loads_strictly) {
    StFile f, c;
    cr_assert_eq(st_open(EXPORTED, &f), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(st_open(FIX "model_lstm_frames.safetensors", &c), VB_OK, "%s", vb_errmsg());
    json_error_t err;
    json_t *info = json_loads(st_meta(&c, "case"), 0, &err);
    double gain = json_number_value(json_object_get(info, "weight_gain"));
    int nf32 = 0, nother = 0;
    for (int i = 0; i < f.n; i++) {
        const StTensor *t = &f.t[i];
        if (t->dtype != ST_F32) {
            cr_assert(strstr(t->name, "num_batches_tracked"), "%s: %s", t->name, t->dtype_name);
            nother++;
            continue;
        }
        float *a = tu_alloc((size_t)t->numel), *b = tu_alloc((size_t)t->numel);
        cr_assert_eq(st_read_f32(&f, t, a, t->numel), VB_OK);
        tm_formula(t->name, t->ndim, t->shape, gain, b);
        cr_assert(memcmp(a, b, (size_t)t->numel * sizeof(float)) == 0,
                  "%s: PyTorch's values differ from the C formula", t->name);
        free(a), free(b);
        nf32++;
    }
    cr_assert_gt(nother, 0, "the export should carry num_batches_tracked (I64) entries");
    Hybrid m;
    build(&m, "lstm_frames");
    WeightsReport rep;
    cr_assert_eq(weights_load(&m, EXPORTED, false, false, stderr, &rep), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(rep.loaded, nf32);
    cr_assert_eq(rep.loaded, m.pt.n);
    cr_assert_eq(rep.missing + rep.unexpected + rep.misshaped, 0);
    hybrid_free(&m);
    json_decref(info);
    st_close(&c);
    st_close(&f);
}

/* ---------------------------------------------------------------- timm names */

/* The exported file with the backbone renamed to timm names: all of them
 * (which = 0), every second one (1), or every tensor twice (2). */
static int timm_variant(Tens **out, int which) {
    json_t *meta;
    Tens *t;
    int n = read_all(EXPORTED, &t, &meta);
    json_error_t err;
    json_t *map = json_loads(json_string_value(json_object_get(meta, "timm_names")), 0, &err);
    cr_assert(json_is_object(map) && json_object_size(map) > 20, "no timm_names in " EXPORTED);
    Tens *o = calloc((size_t)n * 2, sizeof *o);
    int no = 0, renamed = 0;
    for (int i = 0; i < n; i++) {
        json_t *tn = json_object_get(map, t[i].name);
        if (strncmp(t[i].name, "backbone.backbone.", 18) == 0 && !strstr(t[i].name, "num_batches"))
            cr_assert_not_null(tn, "no timm name for %s", t[i].name);
        o[no] = t[i];
        if (tn && (which == 0 || (which == 1 && i % 2 == 0) || which == 2)) {
            o[no].name = strdup(json_string_value(tn));
            cr_assert_str_neq(o[no].name, t[i].name);
            renamed++;
            if (which == 2) { /* also keep the torchvision name (own copy of the data) */
                size_t cnt = 1;
                for (int d = 0; d < t[i].ndim; d++) cnt *= (size_t)t[i].shape[d];
                o[++no] = t[i];
                o[no].name = strdup(t[i].name);
                o[no].data = tu_alloc(cnt);
                memcpy(o[no].data, t[i].data, cnt * sizeof(float));
            }
        } else {
            o[no].name = strdup(t[i].name);
        }
        no++;
    }
    cr_assert_gt(renamed, 10);
    for (int i = 0; i < n; i++) free(t[i].name);
    free(t);
    json_decref(map);
    json_decref(meta);
    *out = o;
    return no;
}

Test(torch_model_io, timm_and_torchvision_names_load_the_same_weights) {
    Hybrid ref;
    build(&ref, "lstm_frames");
    WeightsReport rep;
    cr_assert_eq(weights_load(&ref, EXPORTED, false, false, stderr, &rep), VB_OK, "%s",
                 vb_errmsg());
    float *want = all_params(&ref);
    const char *paths[2] = {TMP "torch_model_timm_all.safetensors",
                            TMP "torch_model_timm_mixed.safetensors"};
    for (int which = 0; which < 2; which++) {
        Tens *o;
        int no = timm_variant(&o, which);
        write_all(paths[which], o, no);
        Hybrid m;
        build(&m, "lstm_frames"); /* initialised from seed 0: every value must be replaced */
        cr_assert_eq(weights_load(&m, paths[which], false, false, stderr, &rep), VB_OK, "%s: %s",
                     paths[which], vb_errmsg());
        cr_assert_eq(rep.loaded, ref.pt.n);
        float *got = all_params(&m);
        cr_assert(memcmp(got, want, ref.pt.total * sizeof(float)) == 0,
                  "%s: parameters differ from the torchvision-named load", paths[which]);
        free(got);
        hybrid_free(&m);
        free_all(o, no);
        remove(paths[which]);
    }
    free(want);
    hybrid_free(&ref);
}

Test(torch_model_io, a_tensor_under_both_names_is_refused) {
    Tens *o;
    int no = timm_variant(&o, 2);
    const char *path = TMP "torch_model_timm_twice.safetensors";
    write_all(path, o, no);
    Hybrid m;
    build(&m, "lstm_frames");
    WeightsReport rep;
    VbStatus s = weights_load(&m, path, true, true, NULL, &rep);
    cr_assert_eq(s, VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "given twice") && strstr(vb_errmsg(), "backbone.backbone."),
              "message: %s", vb_errmsg());
    hybrid_free(&m);
    free_all(o, no);
    remove(path);
}

/* ---------------------------------------------------------------- load errors */

/* The exported file with `drop` left out, `extra` added and `reshape`
 * given one more row. */
static void write_variant(const char *path, const char *drop, const char *extra,
                          const char *reshape) {
    Tens *t;
    int n = read_all(EXPORTED, &t, NULL);
    Tens *o = calloc((size_t)n + 1, sizeof *o);
    int no = 0;
    float *big = NULL;
    for (int i = 0; i < n; i++) {
        if (drop && strcmp(t[i].name, drop) == 0) continue;
        o[no] = t[i];
        if (reshape && strcmp(t[i].name, reshape) == 0) {
            size_t per = 1, cnt;
            for (int d = 1; d < t[i].ndim; d++) per *= (size_t)t[i].shape[d];
            cnt = (size_t)t[i].shape[0] * per;
            big = tu_alloc(cnt + per);
            memcpy(big, t[i].data, cnt * sizeof(float));
            o[no].data = big;
            o[no].shape[0]++;
        }
        no++;
    }
    static float extra_val[3] = {1, 2, 3};
    if (extra) o[no++] = (Tens){(char *)extra, 1, {3}, extra_val, true};
    write_all(path, o, no);
    free(big);
    free(o);
    free_all(t, n);
}

Test(torch_model_io, missing_unexpected_and_misshaped_tensors_are_named) {
    Hybrid m;
    build(&m, "lstm_frames");
    WeightsReport rep;
    char *log = NULL;
    const char *p1 = TMP "torch_model_missing.safetensors";
    write_variant(p1, "classifier.bias", NULL, NULL);
    cr_assert_eq(load_logged(&m, p1, false, false, &rep, &log), VB_ERR_INPUT);
    cr_assert(strstr(log, "missing: classifier.bias"), "log: %s", log);
    cr_assert(strstr(vb_errmsg(), "--allow-missing"), "message: %s", vb_errmsg());
    cr_assert_eq(rep.missing, 1);
    free(log);
    cr_assert_eq(load_logged(&m, p1, true, false, &rep, &log), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(rep.missing, 1);
    free(log);

    const char *p2 = TMP "torch_model_unexpected.safetensors";
    write_variant(p2, NULL, "anomaly_head.extra.weight", NULL);
    cr_assert_eq(load_logged(&m, p2, false, false, &rep, &log), VB_ERR_INPUT);
    cr_assert(strstr(log, "unexpected: anomaly_head.extra.weight"), "log: %s", log);
    cr_assert(strstr(vb_errmsg(), "--allow-unused"), "message: %s", vb_errmsg());
    free(log);
    cr_assert_eq(load_logged(&m, p2, false, true, &rep, &log), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(rep.unexpected, 1);
    free(log);

    const char *p3 = TMP "torch_model_misshaped.safetensors";
    write_variant(p3, NULL, NULL, "classifier.weight");
    char want[160];
    snprintf(want, sizeof want, "wrong shape: classifier.weight (file [%d, %d], model [%d, %d])",
             m.cfg.classes + 1, m.cfg.feature_dim, m.cfg.classes, m.cfg.feature_dim);
    cr_assert_eq(load_logged(&m, p3, true, true, &rep, &log), VB_ERR_INPUT,
                 "a mis-shaped tensor must be refused even with both allow flags");
    cr_assert(strstr(log, want), "log lacks '%s': %s", want, log);
    cr_assert_eq(rep.misshaped, 1);
    free(log);
    remove(p1), remove(p2), remove(p3);
    hybrid_free(&m);
}

Test(torch_model_io, truncated_weights_file_is_an_error_not_a_crash) {
    FILE *fp = fopen(EXPORTED, "rb");
    cr_assert_not_null(fp);
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)len);
    cr_assert_eq(fread(buf, 1, (size_t)len, fp), (size_t)len);
    fclose(fp);
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++) hlen |= (uint64_t)buf[i] << (8 * i);
    long cuts[] = {0,
                   4,
                   8,
                   9,
                   (long)(8 + hlen / 2),
                   (long)(8 + hlen) - 1,
                   (long)(8 + hlen),
                   (long)(8 + hlen) + 1,
                   len / 2,
                   len - 4,
                   len - 1};
    Hybrid m;
    build(&m, "lstm_frames");
    const char *path = TMP "torch_model_truncated.safetensors";
    ensure_tmp();
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        FILE *o = fopen(path, "wb");
        cr_assert_not_null(o);
        if (cuts[i]) cr_assert_eq(fwrite(buf, 1, (size_t)cuts[i], o), (size_t)cuts[i]);
        fclose(o);
        WeightsReport rep;
        VbStatus s = weights_load(&m, path, true, true, NULL, &rep);
        cr_assert_neq(s, VB_OK, "a file cut to %ld of %ld bytes was accepted", cuts[i], len);
        cr_assert(strstr(vb_errmsg(), path), "cut %ld: message does not name the file: %s", cuts[i],
                  vb_errmsg());
    }
    remove(path);
    free(buf);
    hybrid_free(&m);
}

/* ---------------------------------------------------------------- vadbench forward */

static void run_forward(const char *cname, const char *weights, const char *mode, const char *out) {
    char in[200], cmd[1400], log[220];
    snprintf(in, sizeof in, TMP "torch_model_e2e_%s_x.safetensors", cname);
    snprintf(log, sizeof log, "%s.log", out);
    size_t n;
    int64_t shape[5];
    int nd;
    float *x = tm_input_nchw(cname, &n, shape, &nd);
    ensure_tmp();
    StWriter *w = st_writer_new();
    st_writer_add(w, "x", nd, shape, x);
    cr_assert_eq(st_writer_write(w, in), VB_OK, "%s", vb_errmsg());
    st_writer_free(w);
    free(x);
    struct stat sb;
    cr_assert(stat("./vadbench", &sb) == 0,
              "./vadbench is missing (run `make test`, which builds it)");
    char noise[200] = "";
    if (strcmp(mode, "train") == 0) /* PyTorch's masks: the case fixture itself */
        snprintf(noise, sizeof noise, " --noise " FIX "model_%s.safetensors", cname);
    /* LeakSanitizer on (in the sanitizer build): forward leaked before */
    snprintf(cmd, sizeof cmd,
             "ASAN_OPTIONS=detect_leaks=1 ./vadbench forward --model " FIX
             "model_%s.yaml --weights %s --input %s --output %s "
             "--mode %s%s --threads 1 >%s 2>&1",
             cname, weights, in, out, mode, noise, log);
    int rc = system(cmd);
    char msg[2000] = "";
    FILE *lf = fopen(log, "r");
    if (lf) {
        size_t r = fread(msg, 1, sizeof msg - 1, lf);
        msg[r] = 0;
        fclose(lf);
    }
    cr_assert(rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "`%s` failed (%d): %s", cmd, rc,
              msg);
    remove(in);
    remove(log);
}

/* Every tensor of `out` against "<mode>.<name>" of the case fixture. */
static void compare_outputs(const char *cname, const char *mode, const char *out, int expect_n) {
    StFile o, c;
    char fx[200];
    snprintf(fx, sizeof fx, FIX "model_%s.safetensors", cname);
    cr_assert_eq(st_open(out, &o), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(st_open(fx, &c), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(o.n, expect_n, "%s: %d tensors, expected %d", out, o.n, expect_n);
    for (int i = 0; i < o.n; i++) {
        char name[160];
        snprintf(name, sizeof name, "%s.%s", mode, o.t[i].name);
        const StTensor *r = st_find(&c, name);
        cr_assert_not_null(r, "output '%s' has no reference %s", o.t[i].name, name);
        cr_assert_eq(o.t[i].ndim, r->ndim, "%s: rank %d, PyTorch %d", o.t[i].name, o.t[i].ndim,
                     r->ndim);
        for (int d = 0; d < r->ndim; d++)
            cr_assert_eq(o.t[i].shape[d], r->shape[d], "%s: dim %d", o.t[i].name, d);
        float *a = tu_alloc((size_t)r->numel), *b = tu_alloc((size_t)r->numel);
        cr_assert_eq(st_read_f32(&o, &o.t[i], a, r->numel), VB_OK);
        cr_assert_eq(st_read_f32(&c, r, b, r->numel), VB_OK);
        double mx = 0, md = 0;
        for (int64_t j = 0; j < r->numel; j++) {
            mx = fmax(mx, fabs((double)b[j]));
            md = fmax(md, fabs((double)a[j] - (double)b[j]));
        }
        cr_assert(md <= 1e-4 * mx + 1e-7, "%s %s %s: max |diff| %.3g, max |ref| %.3g", cname, mode,
                  o.t[i].name, md, mx);
        if (getenv("VB_TORCH_REPORT"))
            fprintf(stderr, "vadbench forward %s %s %s: max|diff|/max|ref| %.1e\n", cname, mode,
                    o.t[i].name, md / mx);
        free(a), free(b);
    }
    st_close(&c);
    st_close(&o);
}

/* PyTorch-exported weights, frames, no VAE: eval and train (--noise). */
Test(torch_model_io, vadbench_forward_on_pytorch_weights, .timeout = 60) {
    const char *modes[2] = {"eval", "train"};
    for (int i = 0; i < 2; i++) {
        char out[200];
        snprintf(out, sizeof out, TMP "torch_model_e2e_lstm_frames_%s.safetensors", modes[i]);
        run_forward("lstm_frames", EXPORTED, modes[i], out);
        compare_outputs("lstm_frames", modes[i], out, 7);
        remove(out);
    }
}

/* Clips (B,T,3,H,W) with the image VAE: the VAE outputs, 5-D reconstruction. */
Test(torch_model_io, vadbench_forward_clips_image_vae, .timeout = 60) {
    const char *wpath = TMP "torch_model_e2e_none_ivae_clip.weights.safetensors";
    ensure_tmp();
    tm_write_weights("none_ivae_clip", wpath);
    const char *modes[2] = {"eval", "train"};
    for (int i = 0; i < 2; i++) {
        char out[200];
        snprintf(out, sizeof out, TMP "torch_model_e2e_none_ivae_clip_%s.safetensors", modes[i]);
        run_forward("none_ivae_clip", wpath, modes[i], out);
        compare_outputs("none_ivae_clip", modes[i], out, 11);
        remove(out);
    }
    remove(wpath);
}
