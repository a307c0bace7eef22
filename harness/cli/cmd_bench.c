/* cmd_bench: `vadbench bench` — time a model configuration on random data:
 * the full training step (forward, MODEL_SPEC §4 losses with default
 * weights, backward, gradient clipping, AdamW) or inference, after warm-up;
 * or the training data loader alone (synthetic videos at the model's image
 * size, clips of --clip frames, augmentation and class-balanced sampling on,
 * --workers threads), whose batches/s must stay far above the training
 * step's; or the CPU backend's SGEMM peak (--mode gemm). Prints one JSON
 * line (images/s, median/p90/p99 milliseconds, peak RSS, arena bytes, GFLOP
 * per step and achieved GFLOP/s of the CPU products) so that runs can be
 * compared with the PyTorch twin (tests/reference/bench_torch.py) as
 * ratios and with the SGEMM peak. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "datasets/loader.h"
#include "datasets/synth.h"
#include "harness/cli/cli.h"
#include "harness/cli/commands.h"
#include "harness/experiment/experiment.h"
#include "kernels/clock.h"
#include "models/losses.h"
#include "models/optim.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Percentile by linear interpolation between order statistics (numpy's default). */
static double percentile(const double *sorted, int n, double q) {
    double pos = q * (n - 1);
    int lo = (int)pos;
    if (lo >= n - 1) return sorted[n - 1];
    return sorted[lo] + (pos - lo) * (sorted[lo + 1] - sorted[lo]);
}

typedef enum BenchMode { BENCH_TRAIN = 0, BENCH_INFER, BENCH_LOADER, BENCH_GEMM } BenchMode;
static const char *const bench_mode_names[] = {"train", "infer", "loader", "gemm", NULL};

typedef struct BenchOpts {
    const char *model, *variant;
    BenchMode mode;
    KBackend backend;
    KPrecision precision;
    int batch, clip, steps, warmup, threads, seed, workers;
} BenchOpts;

static void print_timing(json_t *j, double *t, int n, double per_step_images) {
    qsort(t, (size_t)n, sizeof(double), cmp_double);
    double sum = 0;
    for (int i = 0; i < n; i++) sum += t[i];
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    json_object_set_new(j, "steps", json_integer(n));
    json_object_set_new(j, "images_per_s", json_real(per_step_images * n / (sum / 1e3)));
    json_object_set_new(j, "median_ms", json_real(percentile(t, n, 0.5)));
    json_object_set_new(j, "p90_ms", json_real(percentile(t, n, 0.9)));
    json_object_set_new(j, "p99_ms", json_real(percentile(t, n, 0.99)));
    json_object_set_new(j, "peak_rss_mb", json_real(ru.ru_maxrss / 1024.0));
}

static void print_json(json_t *j) {
    char *txt = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6));
    printf("%s\n", txt);
    free(txt);
    json_decref(j);
}

/* --mode loader: batches/s of the training loader on synthetic videos. */
static VbStatus run_loader_bench(const BenchOpts *o, const ModelConfig *cfg) {
    SynthConfig sc;
    synth_defaults(&sc);
    sc.size = cfg->image;
    sc.frames = 16 > o->clip ? 16 : o->clip;
    Dataset ds;
    VB_TRY(synth_generate(&sc, &ds));
    VbStatus st = VB_OK;
    ClipSet cs = {0};
    Loader *l = NULL;
    double *ms = NULL;
    uint32_t *vids = vb_xmalloc(ds.nvideos * sizeof *vids);
    size_t nv = 0;
    for (size_t v = 0; v < ds.nvideos; v++)
        if (ds.videos[v].split == DS_TRAIN) vids[nv++] = (uint32_t)v;
    VB_CHECK(clips_build(&ds, vids, nv, clips_spec(o->clip), &cs));
    LoaderConfig lc;
    loader_defaults(&lc);
    lc.ds = &ds, lc.clips = &cs, lc.batch = o->batch, lc.seed = (uint64_t)o->seed;
    lc.workers = o->workers;
    VB_CHECK(loader_open(&lc, &l));
    int total = o->warmup + o->steps;
    ms = vb_xmalloc((size_t)total * sizeof(double));
    for (int s = 0; s < total; s++) {
        double t0 = (vb_now_s() * 1e3);
        if (!loader_next(l)) {
            st = VB_FAIL(VB_ERR_IO, "the loader stopped");
            goto out;
        }
        ms[s] = (vb_now_s() * 1e3) - t0;
    }
    json_t *j = json_object();
    json_object_set_new(j, "mode", json_string("loader"));
    json_object_set_new(j, "workers", json_integer(o->workers));
    json_object_set_new(j, "batch", json_integer(o->batch));
    json_object_set_new(j, "clip", json_integer(o->clip));
    json_object_set_new(j, "image", json_integer(cfg->image));
    json_object_set_new(j, "clips_per_epoch", json_integer((json_int_t)cs.n));
    double *t = ms + o->warmup;
    double sum = 0;
    for (int i = 0; i < o->steps; i++) sum += t[i];
    json_object_set_new(j, "batches_per_s", json_real(o->steps / (sum / 1e3)));
    print_timing(j, t, o->steps, (double)o->batch * o->clip);
    print_json(j);
out:
    free(ms), free(vids);
    loader_close(l);
    clips_free(&cs);
    dataset_free(&ds);
    return st;
}

/* --mode gemm: the CPU SGEMM's peak on a cache-friendly product (A 2016 x
 * 256, B 256 x 512: 144 micro-tiles of 14 rows on AVX-512), best of --steps
 * repetitions after --warmup, on the backend's threads. */
static VbStatus run_gemm_bench(const BenchOpts *o) {
    const int m = 2016, n = 512, k = 256;
    const KOps *kk = kops_cpu();
    float *a = kk->alloc((size_t)m * k * sizeof(float)),
          *b = kk->alloc((size_t)k * n * sizeof(float));
    float *c = kk->alloc((size_t)m * n * sizeof(float));
    if (!a || !b || !c) {
        if (a) kk->free(a);
        if (b) kk->free(b);
        if (c) kk->free(c);
        return VB_FAIL(VB_ERR_NOMEM, "cannot allocate the SGEMM benchmark's matrices");
    }
    for (size_t i = 0; i < (size_t)m * k; i++) a[i] = (float)(i % 13) * 0.1f - 0.6f;
    for (size_t i = 0; i < (size_t)k * n; i++) b[i] = (float)(i % 7) * 0.1f - 0.3f;
    double best = 1e30, sum = 0;
    for (int s = 0; s < o->warmup + o->steps; s++) {
        double t0 = vb_now_s();
        kk->gemm(false, false, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
        double t = vb_now_s() - t0;
        if (s >= o->warmup) best = t < best ? t : best, sum += t;
    }
    json_t *j = json_object();
    json_object_set_new(j, "mode", json_string("gemm"));
    json_object_set_new(j, "cpu_path", json_string(kisa_name(kisa_active())));
    json_object_set_new(j, "threads", json_integer(kthreads_get()));
    json_object_set_new(j, "shape", json_pack("[i,i,i]", m, n, k));
    json_object_set_new(j, "steps", json_integer(o->steps));
    json_object_set_new(j, "peak_gflops", json_real(2.0 * m * n * k / best * 1e-9));
    json_object_set_new(j, "mean_gflops", json_real(2.0 * m * n * k * o->steps / sum * 1e-9));
    print_json(j);
    kk->free(a), kk->free(b), kk->free(c);
    return VB_OK;
}

static VbStatus run_bench(const BenchOpts *o) {
    if (o->mode == BENCH_GEMM) return run_gemm_bench(o);
    ModelConfig cfg;
    VB_TRY(cfg_read_model_file(o->model, o->variant, &cfg));
    if (o->mode == BENCH_LOADER) return run_loader_bench(o, &cfg);
    bool train = o->mode == BENCH_TRAIN;
    const KOps *k = kops_get(o->backend);
    if (!k) return VB_ERR_BACKEND;
    VB_TRY(k->set_precision(o->precision));
    int B = o->batch, T = o->clip, nimg = B * T, S = cfg.image;
    size_t px = (size_t)nimg * S * S * cfg.channels;
    Hybrid m;
    VB_TRY(hybrid_build(&m, &cfg, k, B, T));
    VbStatus st = VB_OK;
    AdamW opt = {0};
    Arena xa = {0};
    LossWork lw = {0};
    int *ya = NULL, *an = NULL;
    float *lam = NULL;
    double *ms = NULL;
    hybrid_init(&m, (uint64_t)o->seed);
    hybrid_set_train(&m, train);
    VB_CHECK(adamw_init(&opt, &m.pt, 0.9f, 0.999f, 1e-8f, 0.01f));
    VB_CHECK(arena_init(&xa, k, px * sizeof(float) + 64 + 8 * sizeof(double)));
    float *x = arena_floats(&xa, px);
    double *stats = (double *)arena_floats(&xa, 2 * K_LOSS_PARTS + 2); /* parts, grad norm */
    float *host = vb_xmalloc(px * sizeof(float));
    rng_fill_normal(rng_stream((uint64_t)o->seed, "bench"), 0, 0, px, 0, 1, host);
    k->upload(x, host, px * sizeof(float));
    free(host);
    /* labels: a fixed mix of classes, class 7 (NormalVideos) counts as normal */
    ya = vb_xmalloc((size_t)B * sizeof(int)), an = vb_xmalloc((size_t)B * sizeof(int));
    lam = vb_xmalloc((size_t)B * sizeof(float));
    for (int i = 0; i < B; i++) {
        ya[i] = i % cfg.classes;
        an[i] = ya[i] != 7 % cfg.classes;
        lam[i] = 1.0f;
    }
    LossTargets tg = {ya, ya, an, an, lam};
    LossConfig lc;
    loss_config_defaults(&lc);
    VB_CHECK(loss_work_init(&lw, &m));
    int total = o->warmup + o->steps;
    ms = vb_xmalloc((size_t)total * sizeof(double));
    double last_loss = 0;
    uint64_t flops0 = 0;
    for (int s = 0; s < total; s++) {
        if (s == o->warmup) flops0 = kcpu_flops();
        double t0 = (vb_now_s() * 1e3);
        m.net.step = (uint64_t)s;
        if (train) { /* the trainer's step: nothing read back inside it */
            optim_zero_grad(&m.pt);
            hybrid_forward(&m, B, T, x);
            loss_enqueue(&lc, &m, &lw, B, T, &tg, stats);
            hybrid_backward(&m, B, T, x);
            optim_clip_adamw(&opt, &m.pt, 1.0, 1e-4f, stats + K_LOSS_PARTS);
        } else {
            hybrid_forward(&m, B, T, x);
        }
        k->sync();
        ms[s] = (vb_now_s() * 1e3) - t0;
        VB_CHECK(k->status());
    }
    if (train) {
        double parts[K_LOSS_PARTS];
        k->download(parts, stats, sizeof parts);
        LossParts lp = loss_parts_from(parts);
        VB_CHECK(loss_parts_check(&lp));
        last_loss = lp.total;
    }
    json_t *j = json_object();
    json_object_set_new(j, "mode", json_string(bench_mode_names[o->mode]));
    json_object_set_new(j, "backend", json_string(k->name));
    json_object_set_new(j, "precision", json_string(kprecision_names[o->precision]));
    KInfo ki;
    k->info(&ki);
    if (ki.device[0]) json_object_set_new(j, "device", json_string(ki.device));
    json_object_set_new(j, "threads", json_integer(kthreads_get()));
    json_object_set_new(j, "batch", json_integer(B));
    json_object_set_new(j, "clip", json_integer(T));
    print_timing(j, ms + o->warmup, o->steps, nimg);
    if (k == kops_cpu()) {
        /* products of the measured steps; GFLOP/s at the median step */
        double gflop = (double)(kcpu_flops() - flops0) / o->steps * 1e-9;
        double med = json_real_value(json_object_get(j, "median_ms"));
        json_object_set_new(j, "cpu_path", json_string(kisa_name(kisa_active())));
        json_object_set_new(j, "gflop_per_step", json_real(gflop));
        json_object_set_new(j, "gflops", json_real(med > 0 ? gflop / (med * 1e-3) : 0));
    }
    json_object_set_new(j, "param_bytes", json_integer((json_int_t)(m.pt.total * 4)));
    json_object_set_new(j, "activation_arena_bytes", json_integer((json_int_t)m.net.act.cap));
    json_object_set_new(j, "scratch_arena_bytes", json_integer((json_int_t)m.net.scratch.cap));
    json_object_set_new(j, "trainable_params",
                        json_integer((json_int_t)params_count(&m.pt, PARAM_TRAIN)));
    if (train) json_object_set_new(j, "last_loss", json_real(last_loss));
    print_json(j);
out:
    free(ms), free(ya), free(an), free(lam);
    loss_work_free(&lw);
    adamw_free(&opt);
    arena_free(&xa);
    hybrid_free(&m);
    return st;
}

int cmd_bench(int argc, char **argv) {
    const CliCommand *cmd = cli_find("bench");
    BenchOpts o = {.mode = BENCH_TRAIN,
                   .backend = K_BACKEND_CPU,
                   .precision = K_PREC_FP32,
                   .batch = 32,
                   .clip = 1,
                   .steps = 20,
                   .warmup = 3,
                   .workers = 2};
    CliOpt opts[] = {{"model", CLI_STR, &o.model},
                     {"variant", CLI_STR, &o.variant},
                     {"mode", CLI_CHOICE, &o.mode, bench_mode_names},
                     {"batch", CLI_INT, &o.batch},
                     {"clip", CLI_INT, &o.clip},
                     {"steps", CLI_INT, &o.steps},
                     {"warmup", CLI_INT, &o.warmup},
                     {"threads", CLI_INT, &o.threads},
                     {"backend", CLI_CHOICE, &o.backend, kbackend_names},
                     {"seed", CLI_INT, &o.seed},
                     {"workers", CLI_INT, &o.workers},
                     {"precision", CLI_CHOICE, &o.precision, kprecision_names},
                     {NULL, 0, NULL}};
    char *pos[1];
    int npos;
    bool help;
    VbStatus s = cli_parse(cmd, argc, argv, opts, pos, 0, &npos, &help);
    if (s != VB_OK) return cli_usage_error(cmd, vb_errmsg());
    if (help) return 0;
    if (!o.model && o.mode != BENCH_GEMM) return cli_usage_error(cmd, "--model is required");
    if (o.batch < 1 || o.clip < 1 || o.steps < 1 || o.warmup < 0 || o.threads < 0 || o.workers < 0)
        return cli_usage_error(cmd, "--batch, --clip and --steps must be >= 1, --warmup and "
                                    "--workers >= 0");
    if (o.threads > 0) kthreads_set(o.threads);
    s = run_bench(&o);
    return s == VB_OK ? 0 : cli_fail("bench", s);
}
