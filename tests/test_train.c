/* Training machinery: schedules, AdamW, clipping and SWA against PyTorch
 * (tests/fixtures/train.json from tests/reference/make_train_fixtures.py),
 * and the real training loop (SAM, SWA, Mixup/CutMix and a feature VAE all
 * on) on a tiny synthetic data set: determinism across thread counts and
 * seeds, exact resume from a checkpoint, NaN detection, corrupt checkpoints. */
#include "model_testutil.h"
#include "testutil.h"

#include <jansson.h>
#include <sys/stat.h>

#include "harness/run/checkpoint.h"
#include "harness/run/rundata.h"
#include "harness/run/train.h"
#include "models/optim.h"
#include "models/schedule.h"

static json_t *fixture(void) {
    json_error_t e;
    json_t *j = json_load_file("tests/fixtures/train.json", 0, &e);
    cr_assert_not_null(j, "tests/fixtures/train.json: %s", e.text);
    return j;
}

static double num(json_t *a, size_t i) { return json_number_value(json_array_get(a, i)); }

Test(train_torch, onecycle_matches_torch) {
    json_t *j = fixture(), *cases = json_object_get(j, "onecycle");
    for (size_t c = 0; c < json_array_size(cases); c++) {
        json_t *o = json_array_get(cases, c);
        Schedule s = {SCHED_ONECYCLE,
                      json_number_value(json_object_get(o, "max_lr")),
                      json_number_value(json_object_get(o, "pct")),
                      json_number_value(json_object_get(o, "div")),
                      json_number_value(json_object_get(o, "final_div")),
                      json_is_true(json_object_get(o, "cycle")),
                      0.85,
                      0.95,
                      json_integer_value(json_object_get(o, "total")),
                      -1,
                      0,
                      0};
        json_t *lr = json_object_get(o, "lr"), *b1 = json_object_get(o, "beta1");
        for (size_t i = 0; i < json_array_size(lr); i++) {
            double want = num(lr, i), got = schedule_lr(&s, (int64_t)i);
            cr_assert(fabs(got - want) <= 1e-12 + 1e-9 * fabs(want),
                      "case %zu step %zu: lr %.17g vs torch %.17g", c, i, got, want);
            if (s.cycle_momentum) {
                double gb = schedule_beta1(&s, (int64_t)i);
                cr_assert(fabs(gb - num(b1, i)) < 1e-9, "case %zu step %zu: beta1 %.17g vs %.17g",
                          c, i, gb, num(b1, i));
            }
        }
    }
    json_decref(j);
}

Test(train_torch, adamw_five_steps_match_torch) {
    json_t *j = fixture(), *a = json_object_get(j, "adamw");
    json_t *p0 = json_object_get(a, "p0"), *grads = json_object_get(a, "grads"),
           *after = json_object_get(a, "after");
    size_t n = json_array_size(p0);
    float *p = tu_alloc(n), *g = tu_alloc(n), *m = tu_alloc(n), *v = tu_alloc(n),
          *want = tu_alloc(n);
    for (size_t i = 0; i < n; i++) p[i] = (float)num(p0, i);
    const KOps *k = kops_cpu();
    for (int s = 0; s < 5; s++) {
        for (size_t i = 0; i < n; i++) g[i] = (float)num(json_array_get(grads, (size_t)s), i);
        k->adamw(n, 1e-2f, 0.9f, 0.999f, 1e-8f, 0.01f, s + 1, NULL, 0, p, g, m, v);
        for (size_t i = 0; i < n; i++) want[i] = (float)num(json_array_get(after, (size_t)s), i);
        /* both sides in float32; a few ulps from operation order */
        tu_assert_close(p, want, n, 1e-6, 1e-7, "AdamW parameters");
    }
    free(p), free(g), free(m), free(v), free(want);
    json_decref(j);
}

Test(train_torch, clip_and_swa_match_torch) {
    json_t *j = fixture();
    json_t *c = json_object_get(j, "clip"), *gr = json_object_get(c, "grad");
    ParamTable pt;
    params_init(&pt);
    params_add(&pt, "w", PARAM_TRAIN, 1, 20, 0, 0, 0);
    cr_assert_eq(params_alloc(&pt, kops_cpu()), VB_OK);
    for (int i = 0; i < 20; i++) pt.grad[i] = (float)num(gr, (size_t)i);
    double norm = optim_clip(&pt, 1.0);
    cr_assert(fabs(norm - json_number_value(json_object_get(c, "norm"))) < 1e-5, "norm %g", norm);
    for (int i = 0; i < 20; i++)
        cr_assert(fabs(pt.grad[i] - num(json_object_get(c, "clipped"), (size_t)i)) < 1e-6);
    params_free(&pt);

    json_t *s = json_object_get(j, "swa"), *snaps = json_object_get(s, "snaps");
    float swa[11], tmp[11], p[11];
    for (int q = 0; q < 3; q++) {
        for (int i = 0; i < 11; i++) p[i] = (float)num(json_array_get(snaps, (size_t)q), (size_t)i);
        swa_accumulate(kops_cpu(), 11, p, swa, tmp, q);
    }
    for (int i = 0; i < 11; i++)
        cr_assert(fabs(swa[i] - num(json_object_get(s, "average"), (size_t)i)) < 1e-6, "swa[%d]",
                  i);
    /* update_bn: reset, then momentum 1/(k+1) per batch = cumulative average */
    float rm[4] = {0, 0, 0, 0}, rv[4] = {1, 1, 1, 1}, g4[4] = {1, 1, 1, 1}, b4[4] = {0}, mean[4],
          inv[4], y[24], x[24];
    json_t *bb = json_object_get(s, "bn_batches");
    for (int b = 0; b < 3; b++) {
        json_t *rows = json_array_get(bb, (size_t)b);
        for (int r = 0; r < 6; r++)
            for (int q = 0; q < 4; q++)
                x[r * 4 + q] = (float)num(json_array_get(rows, (size_t)r), (size_t)q);
        KBn d = {6, 4, 1e-5f, 1.0f / (float)(b + 1), K_ACT_NONE};
        kops_cpu()->bn_train_fwd(&d, x, g4, b4, rm, rv, true, mean, inv, y);
    }
    for (int q = 0; q < 4; q++) {
        cr_assert(fabs(rm[q] - num(json_object_get(s, "bn_mean"), (size_t)q)) < 1e-5, "bn mean %d",
                  q);
        cr_assert(fabs(rv[q] - num(json_object_get(s, "bn_var"), (size_t)q)) < 1e-4 * (1 + rv[q]),
                  "bn var %d", q);
    }
    json_decref(j);
}

/* ---- the real loop on a tiny data set ---- */

typedef struct Tiny {
    Dataset ds;
    RunConfig rc;
    Holdout h;
} Tiny;

static void tiny_setup(Tiny *t) {
    run_config_defaults(&t->rc);
    DataConfig *d = &t->rc.data;
    d->videos_per_class = 2, d->test_videos_per_class = 1, d->normal_factor = 2;
    d->frames_per_video = 4, d->size = 32, d->val_fraction = 0.34;
    d->clip_frames = 2, d->clip_stride = 1, d->clip_window = 2;
    d->workers = 1;
    ModelConfig *m = &t->rc.model;
    m->width = 0.25, m->depth = 0.34, m->image = 32;
    m->temporal = TEMPORAL_GRU;
    m->hidden = 8, m->layers = 1;
    m->feature_dim = 16, m->embedding_dim = 8, m->svdd_hidden = 8;
    m->vae_level = VAE_FEATURE;
    m->vae_latent = 8, m->vae_nhidden = 1, m->vae_hidden[0] = 16;
    TrainConfig *tc = &t->rc.train;
    tc->epochs = 2, tc->batch_size = 4;
    tc->mix_p = 0.5;
    tc->sam = true;
    tc->swa = true, tc->swa_start = 0.5;
    tc->checkpoint_every = 3;
    memset(&t->h, 0, sizeof t->h);
    snprintf(t->h.name, sizeof t->h.name, "unseen");
    t->h.n = 1;
    snprintf(t->h.classes[0], sizeof t->h.classes[0], "Arson");
    cr_assert_eq(rundata_load(d, &t->ds), VB_OK, "%s", vb_errmsg());
}

/* What the last train() call's trainer_resume discarded ("" when nothing). */
static char g_discarded[1024];

/* Train to the end (or stop after `stop` steps); returns host params. */
static float *train(Tiny *t, int threads, uint64_t seed, const char *ckpt, int64_t stop, size_t *n,
                    VbStatus *status, bool *stopped) {
    kthreads_set(threads);
    CellData cd;
    cr_assert_eq(celldata_open(&t->ds, &t->rc, &t->h, seed, &cd), VB_OK, "%s", vb_errmsg());
    ModelConfig mc = t->rc.model;
    mc.classes = cd.nmodel;
    Hybrid m;
    cr_assert_eq(hybrid_build(&m, &mc, kops_cpu(), t->rc.train.batch_size, t->rc.data.clip_frames),
                 VB_OK, "%s", vb_errmsg());
    hybrid_init(&m, seed);
    TrainData td = {cd.train, cd.train_eval, cd.val, cd.class_map, cd.normal_model, cd.counts};
    Trainer *tr;
    cr_assert_eq(trainer_new(&m, &t->rc.train, &td, seed, ckpt, "testhash", &tr), VB_OK, "%s",
                 vb_errmsg());
    bool resumed;
    cr_assert_eq(trainer_resume(tr, &resumed), VB_OK, "%s", vb_errmsg());
    snprintf(g_discarded, sizeof g_discarded, "%s",
             trainer_discarded(tr) ? trainer_discarded(tr) : "");
    if (stop >= 0) trainer_stop_after(tr, stop);
    TrainResult res;
    *status = trainer_run(tr, &res);
    if (stopped) *stopped = res.stopped;
    *n = m.pt.total;
    float *p = tu_alloc(m.pt.total);
    memcpy(p, m.pt.data, m.pt.total * sizeof(float));
    trainer_free(tr);
    hybrid_free(&m);
    celldata_close(&cd);
    return p;
}

Test(train_loop, deterministic_threads_seeds_and_resume, .timeout = 600) {
    Tiny t;
    tiny_setup(&t);
    size_t n1, n2, n3, n4;
    VbStatus s;
    float *a = train(&t, 1, 7, NULL, -1, &n1, &s, NULL);
    cr_assert_eq(s, VB_OK, "%s", vb_errmsg());
    float *b = train(&t, 2, 7, NULL, -1, &n2, &s, NULL);
    cr_assert_eq(s, VB_OK, "%s", vb_errmsg());
    tu_assert_bytes_equal(a, b, n1 * sizeof(float), "final parameters, 1 vs 2 threads");
    float *c = train(&t, 2, 8, NULL, -1, &n3, &s, NULL);
    cr_assert(memcmp(a, c, n1 * sizeof(float)) != 0, "seed 8 gave seed 7's parameters");
    /* stop after 5 steps (checkpoint), then a fresh trainer resumes */
    const char *ck = "tests/tmp/train_resume.ckpt";
    remove(ck);
    bool stopped = false;
    float *d = train(&t, 2, 7, ck, 5, &n4, &s, &stopped);
    cr_assert(s == VB_OK && stopped, "the run did not stop at step 5: %s", vb_errmsg());
    struct stat sb;
    cr_assert_eq(stat(ck, &sb), 0, "no checkpoint written");
    free(d);
    float *e = train(&t, 1, 7, ck, -1, &n4, &s, NULL);
    cr_assert_eq(s, VB_OK, "%s", vb_errmsg());
    tu_assert_bytes_equal(a, e, n1 * sizeof(float), "straight vs 5 steps + checkpoint + resume");
    free(a), free(b), free(c), free(e);
    dataset_free(&t.ds);
}

/* Stop (checkpoint) on the portable path, resume on another: the bits of a
 * straight run on the best path — every path computes the same numbers. */
Test(train_loop, resume_across_instruction_set_paths, .timeout = 120) {
    Tiny t;
    tiny_setup(&t);
    size_t n1, n2;
    VbStatus s;
    KIsa best = K_ISA_GENERIC, mid = K_ISA_GENERIC;
    for (int i = 0; i < K_ISA_N; i++)
        if (kisa_supported((KIsa)i)) mid = best, best = (KIsa)i;
    cr_assert_eq(kisa_set(best), VB_OK);
    float *a = train(&t, 2, 7, NULL, -1, &n1, &s, NULL);
    cr_assert_eq(s, VB_OK, "%s", vb_errmsg());
    const char *ck = "tests/tmp/train_resume_isa.ckpt";
    remove(ck);
    bool stopped = false;
    cr_assert_eq(kisa_set(K_ISA_GENERIC), VB_OK);
    free(train(&t, 2, 7, ck, 5, &n2, &s, &stopped));
    cr_assert(s == VB_OK && stopped, "the run did not stop at step 5: %s", vb_errmsg());
    cr_assert_eq(kisa_set(mid), VB_OK);
    float *b = train(&t, 1, 7, ck, -1, &n2, &s, NULL);
    cr_assert_eq(s, VB_OK, "%s", vb_errmsg());
    cr_assert(memcmp(a, b, n1 * sizeof(float)) == 0,
              "%s straight vs generic 5 steps + checkpoint + %s resume", kisa_name(best),
              kisa_name(mid));
    free(a), free(b);
    dataset_free(&t.ds);
}

Test(train_loop, planted_nan_stops_with_reason, .timeout = 60) {
    Tiny t;
    tiny_setup(&t);
    t.rc.train.lr = 1e30; /* drives the weights to inf within a few steps */
    t.rc.train.clip_norm = 0;
    t.rc.train.sam = false;
    size_t n;
    VbStatus s;
    float *p = train(&t, 1, 1, NULL, -1, &n, &s, NULL);
    cr_assert_eq(s, VB_ERR_NUMERIC, "expected a numeric failure, got %d: %s", s, vb_errmsg());
    cr_assert(strstr(vb_errmsg(), "not finite") || strstr(vb_errmsg(), "gradient norm"),
              "message: %s", vb_errmsg());
    free(p);
    dataset_free(&t.ds);
}

/* A checkpoint that can never be resumed — not a checkpoint at all, or one
 * with a flipped parameter bit (the checksum) — is discarded with a message
 * naming it, and the cell starts over: its result is the uninterrupted
 * run's, not one computed from damaged weights (which resumed silently
 * before checkpoints carried a checksum). */
Test(train_loop, corrupt_checkpoint_is_discarded_and_recomputed, .timeout = 120) {
    Tiny t;
    tiny_setup(&t);
    t.rc.train.epochs = 1;
    const char *ck = "tests/tmp/train_corrupt.ckpt";
    FILE *f = fopen(ck, "wb");
    cr_assert_not_null(f);
    fputs("not a checkpoint at all", f);
    fclose(f);
    size_t n, n2;
    VbStatus s;
    float *a = train(&t, 1, 3, NULL, -1, &n, &s, NULL);
    cr_assert_eq(s, VB_OK, "%s", vb_errmsg());
    float *b = train(&t, 1, 3, ck, -1, &n2, &s, NULL);
    cr_assert_eq(s, VB_OK, "%s", vb_errmsg());
    cr_assert(strstr(g_discarded, ck) && strstr(g_discarded, "discarded"), "%s", g_discarded);
    tu_assert_bytes_equal(a, b, n * sizeof(float), "after a garbage checkpoint");
    free(b);
    /* a real checkpoint after 1 step, one bit of its parameters flipped */
    bool stopped = false;
    remove(ck); /* the run above finished and left its final checkpoint */
    b = train(&t, 1, 3, ck, 1, &n2, &s, &stopped);
    cr_assert(s == VB_OK && stopped, "%s", vb_errmsg());
    free(b);
    f = fopen(ck, "r+b");
    cr_assert_not_null(f);
    unsigned char len8[8];
    cr_assert_eq(fread(len8, 1, 8, f), 8);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | len8[i];
    cr_assert_eq(fseek(f, (long)(8 + hlen + 40), SEEK_SET), 0);
    int byte = fgetc(f);
    cr_assert_eq(fseek(f, (long)(8 + hlen + 40), SEEK_SET), 0);
    fputc(byte ^ 0x10, f);
    fclose(f);
    b = train(&t, 1, 3, ck, -1, &n2, &s, NULL);
    cr_assert_eq(s, VB_OK, "%s", vb_errmsg());
    cr_assert(strstr(g_discarded, "checksum"), "a flipped bit was not noticed: '%s'", g_discarded);
    tu_assert_bytes_equal(a, b, n * sizeof(float), "after a damaged checkpoint");
    free(a), free(b);
    dataset_free(&t.ds);
}

Test(train_loop, early_stopping_stops_after_patience, .timeout = 60) {
    Tiny t;
    tiny_setup(&t);
    t.rc.train.epochs = 5;
    t.rc.train.sam = false, t.rc.train.swa = false, t.rc.train.mix_p = 0;
    t.rc.train.es_metric = ES_METRIC_VAL_LOSS;
    t.rc.train.es_patience = 2;
    t.rc.train.es_min_delta = 1e9; /* nothing counts as an improvement after the first epoch */
    kthreads_set(1);
    CellData cd;
    cr_assert_eq(celldata_open(&t.ds, &t.rc, &t.h, 3, &cd), VB_OK, "%s", vb_errmsg());
    ModelConfig mc = t.rc.model;
    mc.classes = cd.nmodel;
    Hybrid m;
    cr_assert_eq(hybrid_build(&m, &mc, kops_cpu(), 4, 2), VB_OK);
    hybrid_init(&m, 3);
    TrainData td = {cd.train, cd.train_eval, cd.val, cd.class_map, cd.normal_model, cd.counts};
    Trainer *tr;
    cr_assert_eq(trainer_new(&m, &t.rc.train, &td, 3, NULL, "h", &tr), VB_OK);
    TrainResult res;
    cr_assert_eq(trainer_run(tr, &res), VB_OK, "%s", vb_errmsg());
    /* epoch 1 sets the best; epochs 2 and 3 do not improve: stop after 3 of 5 */
    cr_assert(res.early_stopped, "early stopping did not trigger");
    cr_assert_eq(res.epochs_run, 3, "ran %d epochs", res.epochs_run);
    cr_assert(isfinite(res.best_metric));
    trainer_free(tr);
    hybrid_free(&m);
    celldata_close(&cd);
    dataset_free(&t.ds);
}

/* The PyTorch parity tests (test_train_parity.c) mirror train_step; this drives harness/run/train.c's own loop
 * (trainer_run, one step, on a tiny synthetic data set with counter-RNG
 * masks): with SAM or ASAM on, the BN running statistics after the step are
 * byte for byte those of the same step without SAM (the second pass leaves
 * them alone), while the parameters differ (the perturbation happened). */
typedef struct Stepped {
    float *bn, *params;
    size_t nbn, np;
} Stepped;

static void one_trainer_step(Dataset *ds, const RunConfig *rc, bool sam, bool adaptive,
                             Stepped *out) {
    Holdout h;
    memset(&h, 0, sizeof h);
    CellData cd;
    cr_assert_eq(celldata_open(ds, rc, &h, 3, &cd), VB_OK, "%s", vb_errmsg());
    ModelConfig mc = rc->model;
    mc.classes = cd.nmodel;
    Hybrid m;
    cr_assert_eq(hybrid_build(&m, &mc, kops_cpu(), rc->train.batch_size, rc->data.clip_frames),
                 VB_OK, "%s", vb_errmsg());
    hybrid_init(&m, 3);
    TrainConfig tc = rc->train;
    tc.sam = sam, tc.sam_adaptive = adaptive, tc.sam_rho = adaptive ? 2.0 : 0.05;
    TrainData td = {cd.train, cd.train_eval, cd.val, cd.class_map, cd.normal_model, cd.counts};
    Trainer *tr;
    cr_assert_eq(trainer_new(&m, &tc, &td, 3, NULL, "parity", &tr), VB_OK, "%s", vb_errmsg());
    trainer_stop_after(tr, 1);
    TrainResult res;
    cr_assert_eq(trainer_run(tr, &res), VB_OK, "%s", vb_errmsg());
    cr_assert(res.stopped && res.steps == 1);
    size_t nb;
    float *bn = bn_copy(&m, &nb);
    out->bn = bn, out->nbn = nb, out->np = m.pt.n_train;
    out->params = tu_alloc(out->np);
    m.net.k->download(out->params, m.pt.data, out->np * sizeof(float));
    trainer_free(tr);
    hybrid_free(&m);
    celldata_close(&cd);
}

Test(train_loop, sam_leaves_bn_statistics_to_the_first_pass, .timeout = 60) {
    RunConfig rc;
    run_config_defaults(&rc);
    DataConfig *d = &rc.data;
    d->videos_per_class = 2, d->test_videos_per_class = 1, d->normal_factor = 2;
    d->frames_per_video = 4, d->size = 32, d->val_fraction = 0.34;
    d->clip_frames = 2, d->clip_stride = 1, d->clip_window = 2, d->workers = 1;
    ModelConfig *m = &rc.model;
    m->width = 0.1, m->depth = 0.1, m->image = 32;
    m->temporal = TEMPORAL_GRU;
    m->hidden = 8, m->layers = 1;
    m->feature_dim = 16, m->embedding_dim = 8, m->svdd_hidden = 8;
    m->vae_level = VAE_FEATURE;
    m->vae_latent = 4, m->vae_nhidden = 1, m->vae_hidden[0] = 8;
    rc.train.epochs = 1, rc.train.batch_size = 4, rc.train.mix_p = 0;
    kthreads_set(1);
    Dataset ds;
    cr_assert_eq(rundata_load(d, &ds), VB_OK, "%s", vb_errmsg());
    Stepped r[3];
    one_trainer_step(&ds, &rc, false, false, &r[0]);
    one_trainer_step(&ds, &rc, true, false, &r[1]);
    one_trainer_step(&ds, &rc, true, true, &r[2]);
    static const char *const name[3] = {"plain", "SAM", "ASAM"};
    bool moved = false; /* the step did update them (initial values are 0 and 1) */
    for (size_t i = 0; i < r[0].nbn; i++) moved |= r[0].bn[i] != 0.0f && r[0].bn[i] != 1.0f;
    cr_assert(moved, "one training step left every BN running statistic at its initial value");
    for (int i = 1; i < 3; i++) {
        cr_assert(r[i].nbn == r[0].nbn && r[i].np == r[0].np);
        cr_assert(memcmp(r[0].bn, r[i].bn, r[0].nbn * sizeof(float)) == 0,
                  "%s: BN running statistics differ from a plain step's (the second pass "
                  "updated them)",
                  name[i]);
        cr_assert(memcmp(r[0].params, r[i].params, r[0].np * sizeof(float)) != 0,
                  "%s took the plain step", name[i]);
    }
    cr_assert(memcmp(r[1].params, r[2].params, r[0].np * sizeof(float)) != 0,
              "SAM and ASAM took the same step");
    for (int i = 0; i < 3; i++) free(r[i].bn), free(r[i].params);
    dataset_free(&ds);
}
