/* Golden fingerprints: the same bits on every x86-64 CPU.
 *
 * tests/fixtures/golden.json holds, for the CPU backend's numerics version
 * (VB_NUMERICS_VERSION), the FNV-1a 64-bit hash of
 *  - the parameters of two small models after a few training steps
 *    (forward, losses, backward, fused clip + AdamW; GRU + feature VAE,
 *    bidirectional LSTM + image VAE), and
 *  - the final val/test metrics of a tiny experiment run by the real
 *    binary (train, evaluate, probe; two variants, SAM in one).
 * Every instruction-set path this CPU supports must reproduce them, with 1,
 * 2 and 3 threads for the models — so a machine of another kind checks bits
 * that were produced elsewhere. When a kernel's bits change on purpose, bump
 * VB_NUMERICS_VERSION and put the hashes this test prints into the file.
 *
 * Also here: evaluation with packed weights gives the bits of evaluation
 * without them, on every path. */
#include <jansson.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include "models/hybrid.h"
#include "models/losses.h"
#include "models/optim.h"
#include "testutil.h"

#define GOLDEN "tests/fixtures/golden.json"

static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001B3ull;
    return h;
}
#define FNV_INIT 0xCBF29CE484222325ull

/* The committed hash `key` (a "0x..." string under the file's numerics
 * version). */
static uint64_t golden(const char *key) {
    json_error_t e;
    json_t *j = json_load_file(GOLDEN, 0, &e);
    cr_assert_not_null(j, "%s: %s", GOLDEN, e.text);
    cr_assert_eq(json_integer_value(json_object_get(j, "numerics_version")), VB_NUMERICS_VERSION,
                 "%s is for numerics version %lld, the code is at %d: a kernel's bits changed; "
                 "update the file with the hashes this test prints",
                 GOLDEN, (long long)json_integer_value(json_object_get(j, "numerics_version")),
                 VB_NUMERICS_VERSION);
    const char *s = json_string_value(json_object_get(j, key));
    cr_assert_not_null(s, "%s has no \"%s\"", GOLDEN, key);
    uint64_t v = strtoull(s, NULL, 16);
    json_decref(j);
    return v;
}

static void tiny_config(ModelConfig *c, TemporalKind temporal, bool bidir, VaeLevel vae) {
    model_config_defaults(c);
    c->width = 0.25, c->depth = 0.34;
    c->temporal = temporal;
    c->hidden = 8, c->layers = 2, c->bidirectional = bidir;
    c->feature_dim = 16, c->embedding_dim = 8, c->svdd_hidden = 8, c->classes = 4;
    c->image = 32;
    c->vae_level = vae;
    c->vae_latent = 8, c->vae_nhidden = 2, c->vae_hidden[0] = 32, c->vae_hidden[1] = 16;
    c->vae_nchannels = 4, c->vae_channels[0] = 4, c->vae_channels[1] = 4, c->vae_channels[2] = 8;
    c->vae_channels[3] = 8;
}

/* Hash of the parameters (and BN statistics) after `steps` training steps
 * at `threads` threads on path `isa`. */
static uint64_t train_hash(KIsa isa, int threads, TemporalKind temporal, bool bidir, VaeLevel vae,
                           int steps) {
    cr_assert_eq(kisa_set(isa), VB_OK, "%s", vb_errmsg());
    kthreads_set(threads);
    ModelConfig cfg;
    tiny_config(&cfg, temporal, bidir, vae);
    Hybrid m;
    const int B = 3, T = 2, S = cfg.image;
    cr_assert_eq(hybrid_build(&m, &cfg, kops_cpu(), B, T), VB_OK, "%s", vb_errmsg());
    hybrid_init(&m, 11);
    hybrid_set_train(&m, true);
    m.net.dropout_rng = rng_stream(11, "dropout");
    AdamW opt;
    cr_assert_eq(adamw_init(&opt, &m.pt, 0.9f, 0.999f, 1e-8f, 0.01f), VB_OK);
    float *x = tu_rand((size_t)B * T * S * S * 3, 42, -2, 2);
    int ya[3] = {0, 1, 3}, an[3] = {0, 1, 1};
    float lam[3] = {1, 1, 1};
    LossTargets tg = {ya, ya, an, an, lam};
    LossConfig lc;
    loss_config_defaults(&lc);
    LossWork lw;
    loss_work_init(&lw, &m);
    for (int s = 0; s < steps; s++) {
        m.net.step = (uint64_t)s;
        optim_zero_grad(&m.pt);
        hybrid_forward(&m, B, T, x);
        LossParts lp;
        cr_assert_eq(loss_compute(&lc, &m, &lw, B, T, &tg, &lp), VB_OK, "%s", vb_errmsg());
        hybrid_backward(&m, B, T, x);
        double norm;
        optim_clip_adamw(&opt, &m.pt, 1.0, 3e-3f, &norm);
        cr_assert(isfinite(norm));
    }
    uint64_t h = fnv1a(FNV_INIT, m.pt.data, m.pt.total * sizeof(float));
    loss_work_free(&lw);
    adamw_free(&opt);
    hybrid_free(&m);
    free(x);
    return h;
}

static void check_train(const char *key, TemporalKind temporal, bool bidir, VaeLevel vae) {
    const uint64_t want = golden(key);
    int paths = 0;
    for (int isa = 0; isa < K_ISA_N; isa++) {
        if (!kisa_supported((KIsa)isa)) {
            cr_log_info("%s: path %s not supported here, skipped", key, kisa_name((KIsa)isa));
            continue;
        }
        paths++;
        for (int th = 1; th <= 3; th++) {
            uint64_t h = train_hash((KIsa)isa, th, temporal, bidir, vae, 3);
            cr_assert_eq(h, want,
                         "%s on the %s path with %d thread(s): parameters hash 0x%016llx, golden "
                         "0x%016llx",
                         key, kisa_name((KIsa)isa), th, (unsigned long long)h,
                         (unsigned long long)want);
        }
    }
    cr_assert_geq(paths, 1);
    kthreads_set(0);
}

Test(golden, gru_feature_vae_training_on_every_path, .timeout = 120) {
    check_train("train_gru_feature_vae", TEMPORAL_GRU, false, VAE_FEATURE);
}
Test(golden, bilstm_image_vae_training_on_every_path, .timeout = 120) {
    check_train("train_bilstm_image_vae", TEMPORAL_LSTM, true, VAE_IMAGE);
}

/* The hash must move when the training does: a different step count. */
Test(golden, fingerprint_sees_one_more_step) {
    uint64_t a = train_hash(K_ISA_GENERIC, 2, TEMPORAL_GRU, false, VAE_FEATURE, 3);
    uint64_t b = train_hash(K_ISA_GENERIC, 2, TEMPORAL_GRU, false, VAE_FEATURE, 4);
    cr_assert_neq(a, b);
}

/* Evaluation with packed weights = without, on every path. */
Test(golden, packed_evaluation_equals_unpacked) {
    ModelConfig cfg;
    tiny_config(&cfg, TEMPORAL_LSTM, true, VAE_FEATURE);
    for (int isa = 0; isa < K_ISA_N; isa++) {
        if (!kisa_supported((KIsa)isa)) continue;
        cr_assert_eq(kisa_set((KIsa)isa), VB_OK);
        Hybrid m;
        const int B = 2, T = 3, S = cfg.image;
        cr_assert_eq(hybrid_build(&m, &cfg, kops_cpu(), B, T), VB_OK, "%s", vb_errmsg());
        hybrid_init(&m, 5);
        float *x = tu_rand((size_t)B * T * S * S * 3, 9, -2, 2);
        for (int b = 1; b <= B; b++) {
            hybrid_set_train(&m, false); /* packs */
            cr_assert_not_null(m.pt.packed);
            hybrid_forward(&m, b, T, x);
            size_t ne = (size_t)b * cfg.embedding_dim, nc = (size_t)b * cfg.classes;
            float *e1 = tu_alloc(ne), *c1 = tu_alloc(nc);
            memcpy(e1, m.emb_e, ne * sizeof(float)), memcpy(c1, m.cls_logits, nc * sizeof(float));
            params_unpack(&m.pt);
            hybrid_forward(&m, b, T, x);
            tu_assert_bytes_equal(e1, m.emb_e, ne * sizeof(float), "embedding, packed vs not");
            tu_assert_bytes_equal(c1, m.cls_logits, nc * sizeof(float), "logits, packed vs not");
            free(e1), free(c1);
        }
        hybrid_free(&m);
        free(x);
    }
    kisa_set(K_ISA_GENERIC);
}

/* ---- the tiny experiment through the real binary ---- */

static const char *EXP =
    "experiment: golden\n"
    "dataset: {source: synthetic, videos_per_class: 2, test_videos_per_class: 1, normal_factor: 2,\n"
    "          frames_per_video: 4, size: 32, val_fraction: 0.34, workers: 2,\n"
    "          clip: {frames: 2, stride: 1, window: 2}}\n"
    "holdouts:\n  - {name: h, classes: [Arson]}\n"
    "base:\n"
    "  model: {backbone: {width: 0.25, depth: 0.34}, temporal: {type: lstm, hidden: 8, layers: 1,\n"
    "          bidirectional: true}, feature_dim: 16, embedding_dim: 8, svdd_hidden: 8, image: 32}\n"
    "  train: {epochs: 2, batch_size: 4}\n"
    "  eval: {latency_samples: 2, latency_batch: 2, batch_size: 4, tta: 2}\n"
    "variants:\n  a: {}\n"
    "  b: {train.sam.enabled: true, train.mixup.p: 0.5, model.vae: {level: feature, latent: 8,\n"
    "      hidden: [16]}}\n"
    "seeds: [3]\n";

/* Hash of every final val/test metric (names and the doubles' bytes). */
static uint64_t finals_hash(const char *db, int *count) {
    sqlite3 *h;
    cr_assert_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *q;
    cr_assert_eq(
        sqlite3_prepare_v2(h,
                           "SELECT r.variant, r.seed, m.split, m.key, m.value FROM metrics m"
                           " JOIN runs r ON r.id = m.run_id WHERE m.step IS NULL AND"
                           " m.split IN ('val','test') ORDER BY r.variant, r.seed,"
                           " m.split, m.key",
                           -1, &q, NULL),
        SQLITE_OK);
    uint64_t hash = FNV_INIT;
    *count = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        for (int c = 0; c < 4; c++) {
            const char *t = (const char *)sqlite3_column_text(q, c);
            hash = fnv1a(hash, t, strlen(t) + 1);
        }
        double v = sqlite3_column_type(q, 4) == SQLITE_NULL ? NAN : sqlite3_column_double(q, 4);
        hash = fnv1a(hash, &v, sizeof v);
        ++*count;
    }
    sqlite3_finalize(q);
    sqlite3_close(h);
    return hash;
}

Test(golden, tiny_experiment_metrics_on_every_path, .timeout = 300) {
    const uint64_t want = golden("experiment_finals");
    const char *yaml = "tests/tmp/golden.yaml";
    FILE *f = fopen(yaml, "w");
    cr_assert_not_null(f);
    fputs(EXP, f);
    fclose(f);
    for (int isa = 0; isa < K_ISA_N; isa++) {
        if (!kisa_supported((KIsa)isa)) continue;
        char db[256], cmd[1024];
        snprintf(db, sizeof db, "tests/tmp/golden_%s.db", kisa_name((KIsa)isa));
        remove(db);
        snprintf(cmd, sizeof cmd,
                 "VADBENCH_ISA=%s ./vadbench --threads 2 run %s --db %s > tests/tmp/golden_%s.log "
                 "2>&1",
                 kisa_name((KIsa)isa), yaml, db, kisa_name((KIsa)isa));
        int rc = system(cmd);
        cr_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "%s failed (see tests/tmp/golden_%s.log)",
                  cmd, kisa_name((KIsa)isa));
        int n;
        uint64_t h = finals_hash(db, &n);
        cr_assert_gt(n, 50, "only %d final metrics", n);
        cr_assert_eq(h, want,
                     "tiny experiment on the %s path: %d final metrics hash 0x%016llx, golden "
                     "0x%016llx",
                     kisa_name((KIsa)isa), n, (unsigned long long)h, (unsigned long long)want);
    }
}

/* VADBENCH_ISA naming a path this binary does not know is a usage error. */
Test(golden, bad_isa_environment_is_refused) {
    int rc = system("VADBENCH_ISA=sse9 ./vadbench --version > tests/tmp/golden_bad.log 2>&1");
    cr_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 2, "exit %d", WEXITSTATUS(rc));
    FILE *f = fopen("tests/tmp/golden_bad.log", "r");
    char buf[512] = {0};
    cr_assert(fread(buf, 1, sizeof buf - 1, f) > 0);
    fclose(f);
    cr_assert(strstr(buf, "VADBENCH_ISA") && strstr(buf, "sse9"), "message: %s", buf);
}
