/* The whole model and training on the CUDA backend against the CPU (suite
 * cuda_model; skipped without a GPU):
 *  - forward outputs, loss parts, BN running statistics and every gradient
 *    on the configurations of the PyTorch model tests (test_torch_model.c's
 *    fixtures: formula weights, PyTorch's dropout masks), in training and
 *    evaluation mode: forward 1e-4 and gradients 1e-3 of the tensor's
 *    largest value, plus 1e-5 of the largest gradient overall for tensors
 *    whose gradient is zero in exact arithmetic (float cancellation noise);
 *  - a 10-step training trajectory (counter-RNG masks, the trainer's step:
 *    forward, loss, backward, clipping, AdamW) within 1e-3 of the CPU's loss
 *    at every step, and byte-identical when run twice on the GPU;
 *  - `backend: cuda` through the runner: a run interrupted (Ctrl-C-like,
 *    the runner's test hook) or killed with SIGKILL (the real program) and
 *    restarted saves the same weights, byte for byte, as a run that never
 *    stopped; a cell that does not fit on the device fails with its sizes;
 *  - bf16: the trajectory's losses stay within 5% of fp32's. */
#include "cuda_testutil.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness/experiment/experiment.h"
#include "harness/run/runner.h"
#include "models/losses.h"
#include "models/optim.h"
#include "models/weights.h"

/* test_torch_model.c */
int tm_write_weights(const char *cname, const char *path);
float *tm_input_nchw(const char *cname, size_t *n, int64_t *shape, int *ndim);

static float *down(const Hybrid *m, const float *d, size_t n) { return cu_get(m->net.k, d, n); }

/* |g - c| <= tol * max|c| + floor, reporting the worst element. */
static void close_to(const char *what, const float *g, const float *c, size_t n, double tol,
                     double floor) {
    double mx = 0, md = 0;
    size_t worst = 0;
    for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs((double)c[i]));
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)g[i] - c[i]);
        if (isnan(d)) d = INFINITY;
        if (d > md) md = d, worst = i;
    }
    cr_assert(md <= tol * mx + floor,
              "%s: element %zu of %zu: cuda %.9g cpu %.9g (|diff| %.3g > %g x %.3g + %.3g)", what,
              worst, n, (double)g[worst], (double)c[worst], md, tol, mx, floor);
}

static void model_case(const char *cname, bool train) {
    const KOps *k[2] = {kops_cpu(), cuda_or_skip()};
    size_t nx;
    int64_t shape[5];
    int nd;
    float *nchw = tm_input_nchw(cname, &nx, shape, &nd);
    int B = (int)shape[0], T = nd == 5 ? (int)shape[1] : 1, S = (int)shape[nd - 1], N = B * T;
    char yaml[256], fix[256], wpath[256];
    snprintf(yaml, sizeof yaml, "tests/fixtures/model_%s.yaml", cname);
    snprintf(fix, sizeof fix, "tests/fixtures/model_%s.safetensors", cname);
    snprintf(wpath, sizeof wpath, "tests/tmp/cuda_model_%s_%d.safetensors", cname, train);
    cr_assert_eq(system("mkdir -p tests/tmp"), 0);
    tm_write_weights(cname, wpath);
    ModelConfig cfg;
    cr_assert_eq(cfg_read_model_file(yaml, NULL, &cfg), VB_OK, "%s", vb_errmsg());
    float *nhwc = tu_alloc(nx);
    for (int i = 0; i < N; i++)
        for (int ch = 0; ch < 3; ch++)
            for (int p = 0; p < S * S; p++)
                nhwc[((size_t)i * S * S + p) * 3 + ch] = nchw[((size_t)i * 3 + ch) * S * S + p];
    Hybrid m[2];
    float *x[2];
    for (int b = 0; b < 2; b++) {
        cr_assert_eq(hybrid_build(&m[b], &cfg, k[b], B, T), VB_OK, "%s", vb_errmsg());
        WeightsReport rep;
        cr_assert_eq(weights_load(&m[b], wpath, false, false, stderr, &rep), VB_OK, "%s",
                     vb_errmsg());
        if (train) cr_assert_eq(weights_load_noise(&m[b], fix, N), VB_OK, "%s", vb_errmsg());
        hybrid_set_train(&m[b], train);
        x[b] = cu_put(k[b], nhwc, nx);
        hybrid_forward(&m[b], B, T, x[b]);
    }
    char what[256];
    const char *mode = train ? "train" : "eval";
    int F = m[0].bb.feat_dim, D = m[0].tdim, P = cfg.feature_dim, C = cfg.classes,
        E = cfg.embedding_dim;
    struct {
        const char *name;
        float *d[2];
        size_t n;
    } outs[] = {
        {"features", {m[0].feat_mean, m[1].feat_mean}, (size_t)B * F},
        {"temporal",
         {m[0].has_temporal ? m[0].tmp.out : m[0].tin, m[1].has_temporal ? m[1].tmp.out : m[1].tin},
         (size_t)B * D},
        {"projection", {m[0].proj.y, m[1].proj.y}, (size_t)B * P},
        {"class logits", {m[0].cls_logits, m[1].cls_logits}, (size_t)B * C},
        {"binary logits", {m[0].bin_logits, m[1].bin_logits}, (size_t)B * 2},
        {"svdd embedding", {m[0].emb_e, m[1].emb_e}, (size_t)B * E},
        {"svdd score", {m[0].svdd_score, m[1].svdd_score}, (size_t)B},
        {"vae mse", {m[0].vae.mse, m[1].vae.mse}, m[0].has_vae ? (size_t)N : 0},
        {"vae kl", {m[0].vae.kl, m[1].vae.kl}, m[0].has_vae ? (size_t)N : 0},
        {"vae reconstruction",
         {m[0].vae.recon, m[1].vae.recon},
         m[0].has_vae ? (size_t)N * m[0].vae.in_dim : 0},
    };
    for (size_t i = 0; i < sizeof outs / sizeof *outs; i++) {
        if (!outs[i].n) continue;
        float *hc = down(&m[0], outs[i].d[0], outs[i].n),
              *hg = down(&m[1], outs[i].d[1], outs[i].n);
        snprintf(what, sizeof what, "%s %s %s", cname, mode, outs[i].name);
        close_to(what, hg, hc, outs[i].n, CU_TOL_FWD, 1e-7);
        free(hc), free(hg);
    }
    /* BN running statistics after the forward */
    for (int i = 0; i < m[0].pt.n; i++) {
        if (!strstr(m[0].pt.p[i].name, ".running_")) continue;
        size_t n = m[0].pt.p[i].numel;
        float *hc = down(&m[0], params_data(&m[0].pt, i), n),
              *hg = down(&m[1], params_data(&m[1].pt, i), n);
        snprintf(what, sizeof what, "%s %s %s", cname, mode, m[0].pt.p[i].name);
        close_to(what, hg, hc, n, CU_TOL_FWD, 1e-7);
        free(hc), free(hg);
    }
    /* loss and gradients */
    int ya[64], an[64];
    float lam[64];
    cr_assert_leq(B, 64);
    for (int i = 0; i < B; i++) ya[i] = i % C, an[i] = i % 3 != 0, lam[i] = 1.0f;
    LossTargets tg = {ya, ya, an, an, lam};
    LossConfig lc;
    loss_config_defaults(&lc);
    LossParts lp[2];
    LossWork lw[2];
    for (int b = 0; b < 2; b++) {
        cr_assert_eq(loss_work_init(&lw[b], &m[b]), VB_OK);
        cr_assert_eq(loss_compute(&lc, &m[b], &lw[b], B, T, &tg, &lp[b]), VB_OK, "%s", vb_errmsg());
        optim_zero_grad(&m[b].pt);
        hybrid_backward(&m[b], B, T, x[b]);
    }
    const double pc[5] = {lp[0].total, lp[0].cls, lp[0].bin, lp[0].svdd, lp[0].vae};
    const double pg[5] = {lp[1].total, lp[1].cls, lp[1].bin, lp[1].svdd, lp[1].vae};
    for (int i = 0; i < 5; i++)
        cr_assert(fabs(pg[i] - pc[i]) <= CU_TOL_FWD * fabs(pc[i]) + 1e-6,
                  "%s %s loss part %d: cuda %.9g cpu %.9g", cname, mode, i, pg[i], pc[i]);
    size_t ng = m[0].pt.n_train;
    float *gc = down(&m[0], m[0].pt.grad, ng), *gg = down(&m[1], m[1].pt.grad, ng);
    double gmax = 0;
    for (size_t i = 0; i < ng; i++) gmax = fmax(gmax, fabs((double)gc[i]));
    for (int i = 0; i < m[0].pt.n; i++) {
        const Param *p = &m[0].pt.p[i];
        if (p->kind != PARAM_TRAIN) continue;
        snprintf(what, sizeof what, "%s %s gradient of %s", cname, mode, p->name);
        close_to(what, gg + p->offset, gc + p->offset, p->numel, CU_TOL_GRAD, 1e-5 * gmax);
    }
    free(gc), free(gg), free(nchw), free(nhwc);
    for (int b = 0; b < 2; b++) {
        loss_work_free(&lw[b]);
        k[b]->free(x[b]);
        hybrid_free(&m[b]);
    }
    remove(wpath);
}

Test(cuda_model, lstm_bi_clip, .timeout = 120) {
    model_case("lstm_bi_clip", true);
    model_case("lstm_bi_clip", false);
}
Test(cuda_model, gru_frames_feature_vae, .timeout = 120) {
    model_case("gru_frames_fvae", true);
    model_case("gru_frames_fvae", false);
}
Test(cuda_model, no_temporal_clip_image_vae, .timeout = 120) {
    model_case("none_ivae_clip", true);
    model_case("none_ivae_clip", false);
}
Test(cuda_model, gru_bi_clip_feature_vae, .timeout = 120) {
    model_case("gru_bi_clip_fvae", true);
    model_case("gru_bi_clip_fvae", false);
}
Test(cuda_model, lstm_frames, .timeout = 120) {
    model_case("lstm_frames", true);
    model_case("lstm_frames", false);
}
Test(cuda_model, option_a_full_size, .timeout = 300) {
    model_case("option_a", true);
    model_case("option_a", false);
}

/* ------------------------------------------------- training trajectory */

#define STEPS 10

typedef struct Traj {
    double loss[STEPS], norm[STEPS];
    float *params;
    size_t n;
} Traj;

/* STEPS optimiser steps of the train_parity configuration on backend k
 * (counter-RNG dropout and VAE noise, OneCycle-free constant lr). */
static void trajectory(const KOps *k, KPrecision prec, Traj *out) {
    cr_assert_eq(k->set_precision(prec), VB_OK, "%s", vb_errmsg());
    ModelConfig cfg;
    cr_assert_eq(cfg_read_model_file("tests/fixtures/train_parity.yaml", NULL, &cfg), VB_OK, "%s",
                 vb_errmsg());
    int B = 4, T = 2, S = cfg.image;
    Hybrid m;
    cr_assert_eq(hybrid_build(&m, &cfg, k, B, T), VB_OK, "%s", vb_errmsg());
    hybrid_init(&m, 11);
    m.net.dropout_rng = rng_stream(11, "dropout");
    size_t nx = (size_t)B * T * S * S * 3;
    float *h = tu_rand(nx, 500, -2, 2), *x = cu_put(k, h, nx);
    AdamW opt;
    cr_assert_eq(adamw_init(&opt, &m.pt, 0.9f, 0.999f, 1e-8f, 0.01f), VB_OK);
    LossWork lw;
    cr_assert_eq(loss_work_init(&lw, &m), VB_OK);
    int ya[4] = {0, 1, 2, 3}, an[4] = {0, 1, 1, 0};
    float lam[4] = {1, 1, 1, 1};
    LossTargets tg = {ya, ya, an, an, lam};
    LossConfig lc;
    loss_config_defaults(&lc);
    hybrid_set_train(&m, true);
    for (int s = 0; s < STEPS; s++) {
        m.net.step = (uint64_t)s;
        optim_zero_grad(&m.pt);
        hybrid_forward(&m, B, T, x);
        LossParts lp;
        cr_assert_eq(loss_compute(&lc, &m, &lw, B, T, &tg, &lp), VB_OK, "%s", vb_errmsg());
        hybrid_backward(&m, B, T, x);
        out->norm[s] = optim_clip(&m.pt, 1.0);
        adamw_step(&opt, &m.pt, 1e-3f);
        out->loss[s] = lp.total;
    }
    out->n = m.pt.total;
    out->params = cu_get(k, m.pt.data, m.pt.total);
    cr_assert_eq(k->set_precision(K_PREC_FP32), VB_OK);
    loss_work_free(&lw);
    adamw_free(&opt);
    k->free(x);
    free(h);
    hybrid_free(&m);
}

Test(cuda_model, ten_step_trajectory_matches_cpu_and_repeats_exactly, .timeout = 180) {
    const KOps *g = cuda_or_skip();
    Traj c, a, b;
    trajectory(kops_cpu(), K_PREC_FP32, &c);
    trajectory(g, K_PREC_FP32, &a);
    trajectory(g, K_PREC_FP32, &b);
    for (int s = 0; s < STEPS; s++) {
        cr_assert(fabs(a.loss[s] - c.loss[s]) <= 1e-3 * fabs(c.loss[s]),
                  "step %d: loss cuda %.9g cpu %.9g", s, a.loss[s], c.loss[s]);
        cr_assert(fabs(a.norm[s] - c.norm[s]) <= 1e-3 * (1 + s) * c.norm[s],
                  "step %d: gradient norm cuda %.9g cpu %.9g", s, a.norm[s], c.norm[s]);
        cr_assert(a.loss[s] == b.loss[s] && a.norm[s] == b.norm[s], "step %d: two GPU runs differ",
                  s);
    }
    tu_assert_bytes_equal(a.params, b.params, a.n * sizeof(float), "parameters of two GPU runs");
    free(a.params), free(b.params), free(c.params);
}

Test(cuda_model, bf16_trajectory_stays_near_fp32, .timeout = 180) {
    const KOps *g = cuda_bf16_or_skip();
    Traj f, h;
    trajectory(g, K_PREC_FP32, &f);
    trajectory(g, K_PREC_BF16, &h);
    for (int s = 0; s < STEPS; s++)
        cr_assert(fabs(h.loss[s] - f.loss[s]) <= 5e-2 * fabs(f.loss[s]),
                  "step %d: bf16 loss %.6g, fp32 %.6g", s, h.loss[s], f.loss[s]);
    bool differ = memcmp(f.params, h.params, f.n * sizeof(float)) != 0;
    cr_assert(differ, "bf16 training gave fp32's exact parameters: precision not applied");
    free(f.params), free(h.params);
}

/* ------------------------------------------- the real program, resumed */

static int sh(const char *cmd) {
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
}

static void write_exp(const char *path, const char *name, int epochs) {
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(
        f,
        "experiment: %s\nbackend: cuda\n"
        "dataset: {source: synthetic, videos_per_class: 2, test_videos_per_class: 1,\n"
        "          normal_factor: 2, frames_per_video: 4, size: 32, val_fraction: 0.34,\n"
        "          workers: 1, clip: {frames: 2, stride: 1, window: 2}}\n"
        "holdouts:\n  - {name: h, classes: [Arson]}\n"
        "base:\n"
        "  model: {backbone: {width: 0.25, depth: 0.34}, temporal: {type: gru, hidden: 8, layers: 1},\n"
        "          feature_dim: 16, embedding_dim: 8, svdd_hidden: 8, image: 32,\n"
        "          vae: {level: feature, latent: 8, hidden: [16]}}\n"
        "  train: {epochs: %d, batch_size: 4, checkpoint_every: 2, sam: {enabled: true},\n"
        "          swa: {enabled: true}, mixup: {p: 0.5}}\n"
        "  eval: {latency_samples: 5, latency_batch: 2, batch_size: 4}\n"
        "seeds: [3]\n",
        name, epochs);
    fclose(f);
}

Test(cuda_model, interrupted_and_killed_runs_resume_to_the_same_weights, .timeout = 600) {
    cuda_or_skip();
    if (cu_as_cpu()) cr_skip_test("the program's cuda backend needs a real device");
    sh("rm -rf tests/tmp/cuda_run_a tests/tmp/cuda_run_b tests/tmp/cuda_run_c");
    write_exp("tests/tmp/cuda_run.yaml", "cudarun", 4);
    cr_assert_eq(sh("./vadbench run tests/tmp/cuda_run.yaml --db tests/tmp/cuda_run_a/db --quiet"),
                 0);
    /* Ctrl-C-like stop after 3 steps (the runner's test hook, in this process), then the
     * rest through the program */
    RunnerOptions o = {0};
    o.db = "tests/tmp/cuda_run_b/db", o.quiet = true, o.backend = RUNNER_BACKEND_AS_WRITTEN;
    o.test_stop_after = 3;
    const char *files[] = {"tests/tmp/cuda_run.yaml"};
    RunnerSummary sum;
    cr_assert_eq(runner_run(files, 1, &o, &sum), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(sum.interrupted, 1, "the cell was not interrupted");
    cr_assert_eq(sh("./vadbench run tests/tmp/cuda_run.yaml --db tests/tmp/cuda_run_b/db --quiet"),
                 0);
    cr_assert_eq(sh("cmp -s tests/tmp/cuda_run_a/checkpoints/*.safetensors "
                    "tests/tmp/cuda_run_b/checkpoints/*.safetensors"),
                 0, "weights differ after an interrupt and resume on the GPU");
    /* SIGKILL once a checkpoint exists, then restart */
    pid_t pid = fork();
    if (pid == 0) {
        execl("./vadbench", "vadbench", "run", "tests/tmp/cuda_run.yaml", "--db",
              "tests/tmp/cuda_run_c/db", "--quiet", (char *)NULL);
        _exit(127);
    }
    bool killed = false;
    for (int i = 0; i < 6000 && !killed; i++) {
        usleep(10000);
        if (sh("ls tests/tmp/cuda_run_c/checkpoints/*.ckpt >/dev/null 2>&1") == 0) {
            usleep(20000);
            kill(pid, SIGKILL);
            killed = true;
        }
    }
    int status;
    waitpid(pid, &status, 0);
    cr_assert(killed && WIFSIGNALED(status), "the run finished before it could be killed");
    cr_assert_eq(sh("./vadbench run tests/tmp/cuda_run.yaml --db tests/tmp/cuda_run_c/db --quiet"),
                 0);
    cr_assert_eq(sh("cmp -s tests/tmp/cuda_run_a/checkpoints/*.safetensors "
                    "tests/tmp/cuda_run_c/checkpoints/*.safetensors"),
                 0, "weights differ after SIGKILL and restart on the GPU");
}

/* A cell that does not fit on the device fails with the sizes it tried;
 * the matrix goes on with the next cell. (The model is built for its
 * largest batch, here the latency batch: 100000 clips at width 4.) */
Test(cuda_model, out_of_device_memory_fails_the_cell_and_the_matrix_continues, .timeout = 300) {
    cuda_or_skip();
    if (cu_as_cpu()) cr_skip_test("needs a real device to run out of");
    sh("rm -rf tests/tmp/cuda_oom");
    FILE *f = fopen("tests/tmp/cuda_oom.yaml", "w");
    cr_assert_not_null(f);
    fprintf(f, "experiment: cudaoom\nbackend: cuda\n"
               "dataset: {source: synthetic, videos_per_class: 2, test_videos_per_class: 1,\n"
               "          normal_factor: 2, frames_per_video: 4, size: 32, val_fraction: 0.34,\n"
               "          workers: 1}\n"
               "base:\n"
               "  model: {backbone: {width: 0.25, depth: 0.34}, temporal: {type: none},\n"
               "          feature_dim: 16, embedding_dim: 8, svdd_hidden: 8, image: 32}\n"
               "  train: {epochs: 1, batch_size: 4}\n"
               "  eval: {latency_samples: 5, latency_batch: 2, batch_size: 4}\n"
               "variants:\n"
               "  huge: {model.backbone.width: 4.0, eval.latency_batch: 100000}\n"
               "  small: {}\n"
               "seeds: [0]\n");
    fclose(f);
    int rc = sh("./vadbench run tests/tmp/cuda_oom.yaml --db tests/tmp/cuda_oom/db --quiet "
                "2> tests/tmp/cuda_oom.err");
    cr_assert_eq(rc, 1, "exit %d: a failed cell exits 1", rc);
    cr_assert_eq(sh("grep -q 'huge.*FAILED.*cannot allocate.*MiB' tests/tmp/cuda_oom.err"), 0,
                 "no out-of-memory message with sizes on stderr");
    cr_assert_eq(sh("grep -q '1 ran, 0 already done, 1 failed' tests/tmp/cuda_oom.err"), 0,
                 "the small cell did not run after the failed one");
}
