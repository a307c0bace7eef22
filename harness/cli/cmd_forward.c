/* cmd_forward: `vadbench forward` — run the model on a safetensors input
 * with safetensors weights and write every output as safetensors. The bridge
 * to PyTorch for users migrating checkpoints and for our parity checks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/cli/cli.h"
#include "harness/cli/commands.h"
#include "harness/experiment/experiment.h"
#include "models/safetensors.h"
#include "models/weights.h"

typedef struct FwdOpts {
    const char *model, *variant, *weights, *input, *output, *mode, *noise;
    int seed, threads;
    bool allow_missing, allow_unused;
} FwdOpts;

static float *download(const Hybrid *m, const float *src, size_t n) {
    float *h = vb_xmalloc(n * sizeof(float) + 4);
    m->net.k->download(h, src, n * sizeof(float));
    return h;
}

static VbStatus run_forward(const FwdOpts *o) {
    ModelConfig cfg;
    VB_TRY(cfg_read_model_file(o->model, o->variant, &cfg));
    bool train = strcmp(o->mode, "train") == 0;
    if (!train && strcmp(o->mode, "eval") != 0)
        return VB_FAIL(VB_ERR_USAGE, "--mode must be eval or train, got '%s'", o->mode);

    StFile in;
    VB_TRY(st_open(o->input, &in));
    VbStatus st = VB_OK;
    float *x_nchw = NULL, *vscore = NULL, *bufs[12];
    int nb = 0;
    Hybrid m = {0};
    Arena xa = {0};
    StWriter *w = NULL;
    const StTensor *xt = st_find(&in, "x");
    int B = 0, T = 1, H = 0, W = 0;
    if (!xt) {
        st = vb_fail_plain(VB_ERR_INPUT, "%s: no tensor named 'x'", o->input);
        goto out;
    }
    if (xt->ndim == 4) B = (int)xt->shape[0], H = (int)xt->shape[2], W = (int)xt->shape[3];
    else if (xt->ndim == 5)
        B = (int)xt->shape[0], T = (int)xt->shape[1], H = (int)xt->shape[3], W = (int)xt->shape[4];
    else {
        st = vb_fail_plain(VB_ERR_INPUT, "%s: x must be (B,C,H,W) or (B,T,C,H,W), got %d dims",
                           o->input, xt->ndim);
        goto out;
    }
    int Ch = cfg.channels;
    if (xt->shape[xt->ndim - 3] != Ch || H != cfg.image || W != cfg.image || B < 1 || T < 1) {
        st = vb_fail_plain(VB_ERR_INPUT,
                           "%s: x must have %d channel(s) (model.channels) of %dx%d pixels "
                           "(model.image), got %lldx%dx%d",
                           o->input, Ch, cfg.image, cfg.image, (long long)xt->shape[xt->ndim - 3],
                           H, W);
        goto out;
    }
    size_t npix = (size_t)B * T * Ch * H * W;
    x_nchw = vb_xmalloc(npix * sizeof(float));
    VB_CHECK(st_read_f32(&in, xt, x_nchw, (int64_t)npix));
    st_close(&in); /* read: the file's bytes are not needed any more */

    const KOps *k = kops_cpu();
    VB_CHECK(hybrid_build(&m, &cfg, k, B, T));
    hybrid_init(&m, (uint64_t)o->seed);
    if (o->weights) {
        WeightsReport rep;
        VB_CHECK(weights_load(&m, o->weights, o->allow_missing, o->allow_unused, stderr, &rep));
        fprintf(stderr, "vadbench forward: loaded %d tensors from %s (%d missing, %d unused)\n",
                rep.loaded, o->weights, rep.missing, rep.unexpected);
    }
    int nimg = B * T;
    VB_CHECK(arena_init(&xa, k, npix * sizeof(float) * 2 + 256));
    float *xin = arena_floats(&xa, npix), *x = arena_floats(&xa, npix);
    k->upload(xin, x_nchw, npix * sizeof(float));
    k->nchw_to_nhwc(nimg, H, W, Ch, xin, x);
    hybrid_set_train(&m, train);
    if (train && o->noise) VB_CHECK(weights_load_noise(&m, o->noise, nimg));

    hybrid_forward(&m, B, T, x);
    int F = m.feat_dim, C = cfg.classes, E = m.emb_dim, P = m.proj_dim;
    w = st_writer_new();
    int64_t s_bf[2] = {B, F}, s_bd[2] = {B, m.tdim}, s_bp[2] = {B, cfg.feature_dim};
    int64_t s_bc[2] = {B, C}, s_b2[2] = {B, 2}, s_be[2] = {B, E}, s_b[1] = {B};
    st_writer_add(w, "features", 2, s_bf, bufs[nb++] = download(&m, m.feat_mean, (size_t)B * F));
    const float *tout = m.has_temporal ? m.tmp.out : m.tin;
    st_writer_add(w, "temporal", 2, s_bd, bufs[nb++] = download(&m, tout, (size_t)B * m.tdim));
    st_writer_add(w, "projection", 2, s_bp, bufs[nb++] = download(&m, m.proj_out, (size_t)B * P));
    st_writer_add(w, "class_logits", 2, s_bc,
                  bufs[nb++] = download(&m, m.cls_logits, (size_t)B * C));
    st_writer_add(w, "binary_logits", 2, s_b2,
                  bufs[nb++] = download(&m, m.bin_logits, (size_t)B * 2));
    st_writer_add(w, "svdd_embedding", 2, s_be, bufs[nb++] = download(&m, m.emb_e, (size_t)B * E));
    st_writer_add(w, "svdd_score", 1, s_b, bufs[nb++] = download(&m, m.svdd_score, (size_t)B));
    if (m.has_vae) {
        int L = m.vae.latent;
        int64_t s_lat[3] = {B, T, L}, s_lat2[2] = {B, L};
        int64_t *sl = T > 1 ? s_lat : s_lat2;
        int nd = T > 1 ? 3 : 2;
        st_writer_add(w, "vae_mu", nd, sl, bufs[nb++] = download(&m, m.vae.mu, (size_t)nimg * L));
        st_writer_add(w, "vae_logvar", nd, sl,
                      bufs[nb++] = download(&m, m.vae.logvar, (size_t)nimg * L));
        float *rec = download(&m, m.vae.recon, (size_t)nimg * m.vae.in_dim);
        bufs[nb++] = rec;
        if (m.vae.level == VAE_IMAGE) {
            /* NHWC -> NCHW on the host */
            float *r2 = vb_xmalloc((size_t)nimg * m.vae.in_dim * sizeof(float));
            for (int i = 0; i < nimg; i++)
                for (int c = 0; c < 3; c++)
                    for (int p = 0; p < H * W; p++)
                        r2[((size_t)i * 3 + c) * H * W + p] = rec[((size_t)i * H * W + p) * 3 + c];
            memcpy(rec, r2, (size_t)nimg * m.vae.in_dim * sizeof(float));
            free(r2);
            int64_t s5[5] = {B, T, 3, H, W}, s4[4] = {B, 3, H, W};
            st_writer_add(w, "vae_reconstruction", T > 1 ? 5 : 4, T > 1 ? s5 : s4, rec);
        } else {
            int64_t s3[3] = {B, T, F}, s2[2] = {B, F};
            st_writer_add(w, "vae_reconstruction", T > 1 ? 3 : 2, T > 1 ? s3 : s2, rec);
        }
        float *mse = download(&m, m.vae.mse, (size_t)nimg),
              *kl = download(&m, m.vae.kl, (size_t)nimg);
        vscore = vb_xcalloc((size_t)B, sizeof(float));
        for (int i = 0; i < B; i++) {
            double s = 0;
            for (int j = 0; j < T; j++) s += mse[i * T + j] + 0.1 * kl[i * T + j];
            vscore[i] = (float)(s / T);
        }
        free(mse), free(kl);
        st_writer_add(w, "vae_score", 1, s_b, vscore);
    }
    st_writer_meta(w, "producer", "vadbench forward");
    st_writer_meta(w, "mode", o->mode);
    VB_CHECK(st_writer_write(w, o->output));
out:
    st_writer_free(w);
    for (int i = 0; i < nb; i++) free(bufs[i]);
    free(vscore);
    arena_free(&xa);
    hybrid_free(&m);
    free(x_nchw);
    st_close(&in);
    return st;
}

int cmd_forward(int argc, char **argv) {
    const CliCommand *cmd = cli_find("forward");
    FwdOpts o = {.mode = "eval"};
    CliOpt opts[] = {{"model", CLI_STR, &o.model},
                     {"variant", CLI_STR, &o.variant},
                     {"weights", CLI_STR, &o.weights},
                     {"input", CLI_STR, &o.input},
                     {"output", CLI_STR, &o.output},
                     {"mode", CLI_STR, &o.mode},
                     {"noise", CLI_STR, &o.noise},
                     {"seed", CLI_INT, &o.seed},
                     {"threads", CLI_INT, &o.threads},
                     {"allow-missing", CLI_FLAG, &o.allow_missing},
                     {"allow-unused", CLI_FLAG, &o.allow_unused},
                     {NULL, 0, NULL}};
    char *pos[1];
    int npos;
    bool help;
    VbStatus s = cli_parse(cmd, argc, argv, opts, pos, 0, &npos, &help);
    if (s != VB_OK) return cli_usage_error(cmd, vb_errmsg());
    if (help) return 0;
    if (!o.model || !o.input || !o.output)
        return cli_usage_error(cmd, "--model, --input and --output are required");
    if (o.threads < 0) return cli_usage_error(cmd, "--threads must be positive");
    if (o.threads > 0) kthreads_set(o.threads);
    s = run_forward(&o);
    if (s != VB_OK) return cli_fail("forward", s);
    fprintf(stderr, "vadbench forward: wrote %s\n", o.output);
    return 0;
}
