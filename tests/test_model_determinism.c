/* Whole-model determinism: a training step (forward, losses, backward,
 * clipping, AdamW) of a reduced hybrid model with every branch (GRU,
 * feature VAE) gives byte-identical parameters and gradients with 1 and 2
 * threads, on every instruction-set path, and across reruns, and a
 * different seed gives different ones. */
#include "testutil.h"

#include "models/hybrid.h"
#include "models/losses.h"
#include "models/optim.h"

static void tiny_config(ModelConfig *c, VaeLevel vae) {
    model_config_defaults(c);
    c->width = 0.25, c->depth = 0.34;
    c->temporal = TEMPORAL_GRU;
    c->hidden = 8, c->layers = 2;
    c->feature_dim = 16, c->embedding_dim = 8, c->svdd_hidden = 8, c->classes = 4;
    c->image = 32;
    c->vae_level = vae;
    c->vae_latent = 8, c->vae_nhidden = 2, c->vae_hidden[0] = 32, c->vae_hidden[1] = 16;
    c->vae_channels[0] = 4, c->vae_channels[1] = 4, c->vae_channels[2] = 8, c->vae_channels[3] = 8;
}

/* Two training steps; returns parameters and gradients (host copies). */
static void train_steps(int threads, uint64_t seed, VaeLevel vae, float **params, float **grads,
                        size_t *n, size_t *ng) {
    kthreads_set(threads);
    ModelConfig cfg;
    tiny_config(&cfg, vae);
    const KOps *k = kops_cpu();
    Hybrid m;
    int B = 3, T = 2, S = cfg.image;
    cr_assert_eq(hybrid_build(&m, &cfg, k, B, T), VB_OK, "%s", vb_errmsg());
    hybrid_init(&m, seed);
    hybrid_set_train(&m, true);
    m.net.dropout_rng = rng_stream(seed, "dropout");
    AdamW opt;
    cr_assert_eq(adamw_init(&opt, &m.pt, 0.9f, 0.999f, 1e-8f, 0.01f), VB_OK);
    size_t nx = (size_t)B * T * S * S * 3;
    float *x = tu_rand(nx, 42, -2, 2);
    int ya[3] = {0, 1, 3}, an[3] = {0, 1, 1};
    float lam[3] = {1, 1, 1};
    LossTargets tg = {ya, ya, an, an, lam};
    LossConfig lc;
    loss_config_defaults(&lc);
    LossWork lw;
    loss_work_init(&lw, &m);
    for (int s = 0; s < 2; s++) {
        m.net.step = (uint64_t)s;
        optim_zero_grad(&m.pt);
        hybrid_forward(&m, B, T, x);
        LossParts lp;
        cr_assert_eq(loss_compute(&lc, &m, &lw, B, T, &tg, &lp), VB_OK, "%s", vb_errmsg());
        cr_assert(isfinite(lp.total) && lp.total > 0);
        hybrid_backward(&m, B, T, x);
        optim_clip(&m.pt, 1.0);
        adamw_step(&opt, &m.pt, 1e-3f);
    }
    *n = m.pt.total;
    *ng = m.pt.n_train;
    *params = tu_alloc(m.pt.total);
    *grads = tu_alloc(m.pt.n_train);
    memcpy(*params, m.pt.data, m.pt.total * sizeof(float));
    memcpy(*grads, m.pt.grad, m.pt.n_train * sizeof(float));
    loss_work_free(&lw);
    adamw_free(&opt);
    hybrid_free(&m);
    free(x);
}

/* On every instruction-set path this CPU supports: 1 vs 2 threads give the
 * same parameters and gradients, and so does every path (the first path's
 * run is the reference); a different seed gives different parameters. */
static void check_threads(VaeLevel vae) {
    float *p0 = NULL, *g0 = NULL;
    size_t n0 = 0, ng = 0;
    for (int isa = 0; isa < K_ISA_N; isa++) {
        if (!kisa_supported((KIsa)isa)) continue;
        cr_assert_eq(kisa_set((KIsa)isa), VB_OK);
        float *p1, *g1, *p2, *g2;
        size_t n1, n2;
        train_steps(1, 5, vae, &p1, &g1, &n1, &ng);
        train_steps(2, 5, vae, &p2, &g2, &n2, &ng);
        cr_assert_eq(n1, n2);
        cr_assert(memcmp(p1, p2, n1 * sizeof(float)) == 0, "%s: parameters, 1 vs 2 threads",
                  kisa_name((KIsa)isa));
        cr_assert(memcmp(g1, g2, ng * sizeof(float)) == 0, "%s: gradients, 1 vs 2 threads",
                  kisa_name((KIsa)isa));
        if (!p0) {
            p0 = p1, g0 = g1, n0 = n1;
        } else {
            cr_assert(memcmp(p0, p1, n0 * sizeof(float)) == 0, "%s: parameters differ from %s's",
                      kisa_name((KIsa)isa), kisa_name(K_ISA_GENERIC));
            cr_assert(memcmp(g0, g1, ng * sizeof(float)) == 0, "%s: gradients differ from %s's",
                      kisa_name((KIsa)isa), kisa_name(K_ISA_GENERIC));
            free(p1), free(g1);
        }
        free(p2), free(g2);
    }
    float *p3, *g3;
    size_t n3;
    train_steps(2, 6, vae, &p3, &g3, &n3, &ng);
    cr_assert(memcmp(p0, p3, n0 * sizeof(float)) != 0, "a different seed gave the same parameters");
    free(p0), free(g0), free(p3), free(g3);
}

Test(model_determinism, feature_vae_1_vs_2_threads) { check_threads(VAE_FEATURE); }
Test(model_determinism, image_vae_1_vs_2_threads) { check_threads(VAE_IMAGE); }

Test(model_determinism, rerun_is_identical) {
    float *p1, *g1, *p2, *g2;
    size_t n1, n2, ng;
    train_steps(2, 9, VAE_NONE, &p1, &g1, &n1, &ng);
    train_steps(2, 9, VAE_NONE, &p2, &g2, &n2, &ng);
    tu_assert_bytes_equal(p1, p2, n1 * sizeof(float), "parameters, rerun");
    free(p1), free(g1), free(p2), free(g2);
}
