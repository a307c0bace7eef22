/* Ruff et al.'s Deep SVDD protocol (experiments/ruff_fmnist.yaml) against
 * its PyTorch twin (tests/fixtures_validity/ruff_parity.safetensors, from
 * tests/reference/make_validity_fixtures.py), and the autoencoder
 * pretraining's encoder transfer.
 *
 * - a_short_run_follows_the_twin: the real trainer (trainer_run: the centre
 *   pass, the step schedule, Adam with an L2 gradient term, the one-class
 *   loss, LeNet without biases or BN affine parameters) on 16 Fashion-MNIST
 *   T-shirts from an in-memory data set through the real loaders (unit
 *   preprocessing, grey 28x28x1), from the twin's initial weights (the
 *   formula of test_torch_model.c, gain 1.0; BN statistics 0 and 1): batch
 *   16 = the whole set, so the loader's sample order inside a batch cannot
 *   matter; 12 epochs, lr 1e-3 x 0.1 from epoch 6, weight decay 1e-3, centre
 *   floor 0.1. Compared: the centre (1e-4, the forward tolerance), the loss
 *   of every step (1e-4 x (1 + step) relative: float32 gradients feed Adam's
 *   normalised update and the next loss, as in test_train_parity.c), the
 *   eval-mode scores after training (1e-3 relative to the largest).
 * - autoencoder_forward_backward_matches_the_twin: Ruff's autoencoder in
 *   training mode on the same images from formula weights: the loss and the
 *   reconstruction (1e-4), per-tensor gradient checksums (sum and sum of
 *   |g| within 1e-3 of sum |g|, sum of squares 2e-3 relative).
 * - pretraining_loads_the_encoder_it_trained: pretrain_autoencoder's result
 *   in the model's backbone.lenet.* tensors is, byte for byte, the encoder of
 *   an autoencoder trained alongside by the same steps, every tensor
 *   (weights and BN statistics), and differs from the model's own
 *   initialisation (the public code's copy, which matches no name, would
 *   leave it unchanged and fail here). */
#include "validity_testutil.h"

#include "datasets/clips.h"
#include "datasets/loader.h"
#include "harness/run/pretrain.h"
#include "harness/run/train.h"
#include "models/lenet_ae.h"
#include "models/optim.h"
#include "models/schedule.h"

#define PFX VFX_DIR "ruff_parity.safetensors"

/* From test_torch_model.c: make_fixtures.py's formula_tensor. */
void tm_formula(const char *name, int ndim, const int64_t *shape, double gain, float *out);

/* Ruff's network as the experiment file configures it. */
static void ruff_model(ModelConfig *c) {
    model_config_defaults(c);
    c->backbone = BACKBONE_LENET;
    c->backbone_dropout = 0;
    c->channels = 1, c->image = 28;
    c->temporal = TEMPORAL_NONE;
    c->projection = false, c->svdd_head = SVDD_HEAD_NONE;
    c->classes = 2;
}

/* Formula values for every tensor of a table (gain 1.0), BN statistics 0 and 1. */
static void formula_table(ParamTable *pt) {
    const KOps *k = pt->k;
    for (int i = 0; i < pt->n; i++) {
        const Param *p = &pt->p[i];
        float *h = tu_alloc(p->numel);
        size_t len = strlen(p->name);
        if (len > 13 && !strcmp(p->name + len - 13, ".running_mean")) {
            /* zeros */
        } else if (len > 12 && !strcmp(p->name + len - 12, ".running_var")) {
            for (size_t j = 0; j < p->numel; j++) h[j] = 1.0f;
        } else {
            tm_formula(p->name, p->ndim, p->shape, 1.0, h);
        }
        k->upload(params_data(pt, i), h, p->numel * sizeof(float));
        free(h);
    }
}

/* The fixture's 16 images as a one-class, single-frame grey data set. */
static void images_dataset(Vfx *v, Dataset *ds, ClipSet *cs) {
    int64_t n;
    float *img = vfx_get(v, "images", &n);
    int N = (int)(n / 784);
    cr_assert_eq((int64_t)N * 784, n);
    dataset_init(ds);
    cr_assert_eq(dataset_class_index(ds, "T-shirt_top"), 0);
    cr_assert_eq(dataset_frames_alloc_c(ds, (uint64_t)N, 28, 28, 1), VB_OK);
    for (int64_t i = 0; i < n; i++) ds->frames.data[i] = (uint8_t)img[i];
    uint32_t *vid = vb_xmalloc((size_t)N * sizeof *vid);
    for (int i = 0; i < N; i++) {
        char id[16];
        snprintf(id, sizeof id, "i%02d", i);
        dataset_add_video(ds, id, 0, DS_TRAIN, 1, (uint64_t)i);
        vid[i] = (uint32_t)i;
    }
    cr_assert_eq(dataset_finish(ds, NULL), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(dataset_set_normal(ds, "T-shirt_top"), VB_OK);
    cr_assert_eq(clips_build(ds, vid, (size_t)N, clips_spec(1), cs), VB_OK);
    free(vid);
}

static Loader *open_loader(const Dataset *ds, const ClipSet *cs, int batch, bool train) {
    LoaderConfig lc;
    loader_defaults(&lc);
    lc.ds = ds, lc.clips = cs, lc.batch = batch, lc.train = train;
    lc.weights = SAMPLER_NONE, lc.drop_last = train, lc.seed = 7;
    lc.aug.enabled = false, lc.workers = 0;
    lc.prep.kind = PREP_UNIT;
    Loader *l;
    cr_assert_eq(loader_open(&lc, &l), VB_OK, "%s", vb_errmsg());
    return l;
}

typedef struct StepLog {
    double loss[64];
    int n;
} StepLog;

static void on_step(void *ctx, const TrainEvent *ev) {
    StepLog *s = ctx;
    if (ev->kind == TRAIN_STEP && s->n < 64) s->loss[s->n++] = ev->loss.total;
}

Test(ruff_parity, a_short_run_follows_the_twin, .timeout = 120) {
    Vfx v;
    vfx_open(&v, PFX);
    json_t *cs_meta = vfx_meta(&v, "case");
    int epochs = vfx_geo_i(cs_meta, "epochs"), N = vfx_geo_i(cs_meta, "images");
    Dataset ds;
    ClipSet cs;
    images_dataset(&v, &ds, &cs);
    Loader *tl = open_loader(&ds, &cs, N, true), *el = open_loader(&ds, &cs, N, false);
    ModelConfig mc;
    ruff_model(&mc);
    Hybrid m;
    cr_assert_eq(hybrid_build(&m, &mc, kops_cpu(), N, 1), VB_OK, "%s", vb_errmsg());
    hybrid_init(&m, 0);
    formula_table(&m.pt);
    TrainConfig tc;
    train_config_defaults(&tc);
    tc.epochs = epochs, tc.batch_size = N;
    tc.optimizer = OPTIM_ADAM;
    tc.lr = vfx_geo_f(cs_meta, "lr"), tc.weight_decay = vfx_geo_f(cs_meta, "weight_decay");
    tc.schedule = SCHED_STEP, tc.nmilestones = 1;
    tc.milestones[0] = vfx_geo_i(cs_meta, "milestone"), tc.gamma = 0.1;
    tc.clip_norm = 0, tc.w_cls = 0, tc.w_bin = 0, tc.w_svdd = 1, tc.w_vae = 0;
    tc.svdd_mode = SVDD_ONE_CLASS, tc.svdd_center_floor = vfx_geo_f(cs_meta, "center_floor");
    tc.sampler = SAMPLER_NONE, tc.augment = false;
    int class_map[1] = {0}, counts[2] = {N, 0};
    TrainData td = {tl, el, NULL, class_map, 0, counts};
    Trainer *tr;
    cr_assert_eq(trainer_new(&m, &tc, &td, 0, NULL, "", &tr), VB_OK, "%s", vb_errmsg());
    StepLog log = {{0}, 0};
    trainer_set_logger(tr, on_step, &log);
    TrainResult res;
    cr_assert_eq(trainer_run(tr, &res), VB_OK, "%s", vb_errmsg());
    /* the centre (computed before the first step) */
    int E = m.emb_dim;
    cr_assert_eq(E, 64);
    float c[64];
    m.net.k->download(c, params_data(&m.pt, m.center), sizeof c);
    vfx_close_to("centre", c, vfx_get(&v, "center", NULL), E, 1e-4);
    int floored = 0;
    for (int j = 0; j < E; j++) floored += fabsf(c[j]) == 0.1f;
    cr_assert(floored > 0, "no coordinate reached the 0.1 floor: the case does not test it");
    /* the loss of every step */
    int64_t ns;
    float *want = vfx_get(&v, "train.loss", &ns);
    cr_assert_eq(log.n, (int)ns, "%d steps logged, the twin made %lld", log.n, (long long)ns);
    double worst = 0, worst_rel = 0;
    for (int s = 0; s < log.n; s++) {
        double rel = fabs(log.loss[s] - want[s]) / fabs(want[s]);
        worst = fmax(worst, rel / (1e-4 * (1 + s))), worst_rel = fmax(worst_rel, rel);
        cr_assert(rel <= 1e-4 * (1 + s), "step %d: loss %.9g, twin %.9g (relative %.2e)", s,
                  log.loss[s], (double)want[s], rel);
    }
    cr_assert(want[log.n - 1] < 0.5 * want[0], "the case does not train (%g -> %g)", want[0],
              want[log.n - 1]);
    if (getenv("VB_PARITY_REPORT"))
        fprintf(stderr, "ruff parity: worst loss error %.2e relative, %.4f of its limit\n",
                worst_rel, worst);
    /* eval-mode scores after training */
    hybrid_set_train(&m, false);
    cr_assert_eq(loader_seek(el, (LoaderPos){0, 0}), VB_OK);
    const Batch *bt = loader_next(el);
    float *xd = m.net.k->alloc((size_t)N * 784 * sizeof(float));
    m.net.k->upload(xd, bt->x, (size_t)N * 784 * sizeof(float));
    hybrid_forward(&m, N, 1, xd);
    float sc[64];
    m.net.k->download(sc, m.svdd_score, (size_t)N * sizeof(float));
    vfx_close_to("final scores", sc, vfx_get(&v, "final.scores", NULL), N, 1e-3);
    m.net.k->free(xd);
    trainer_free(tr);
    hybrid_free(&m);
    loader_close(tl), loader_close(el);
    clips_free(&cs);
    dataset_free(&ds);
    json_decref(cs_meta);
    vfx_close(&v);
}

Test(ruff_parity, autoencoder_forward_backward_matches_the_twin, .timeout = 60) {
    Vfx v;
    vfx_open(&v, PFX);
    int64_t n;
    float *img = vfx_get(&v, "images", &n);
    int N = (int)(n / 784);
    const KOps *k = kops_cpu();
    LeNetConfig lc;
    lenet_config_ruff(&lc);
    LeNetAe ae;
    cr_assert_eq(lenet_ae_build(&ae, &lc, k, N), VB_OK, "%s", vb_errmsg());
    formula_table(&ae.pt);
    float *x = tu_alloc((size_t)n);
    for (int64_t i = 0; i < n; i++) x[i] = img[i] * (1.0f / 255.0f);
    float *xd = k->alloc((size_t)n * sizeof(float));
    k->upload(xd, x, (size_t)n * sizeof(float));
    ae.net.train = true;
    optim_zero_grad(&ae.pt);
    float loss = (float)lenet_ae_forward(&ae, N, xd);
    vfx_close_to("autoencoder loss", &loss, vfx_get(&v, "ae.loss", NULL), 1, 1e-4);
    float *rec = tu_alloc((size_t)n);
    k->download(rec, ae.rec, (size_t)n * sizeof(float));
    vfx_close_to("reconstruction", rec, vfx_get(&v, "ae.rec", NULL), n, 1e-4);
    lenet_ae_backward(&ae, N, xd);
    json_t *names = vfx_meta(&v, "ae_params");
    float *gs = vfx_get(&v, "ae.gsum", NULL), *gq = vfx_get(&v, "ae.gsq", NULL);
    float *ga = vfx_get(&v, "ae.gabs", NULL);
    int ntrain = 0;
    for (int i = 0; i < ae.pt.n; i++) ntrain += ae.pt.p[i].kind == PARAM_TRAIN;
    cr_assert_eq((int)json_array_size(names), ntrain, "the twin has %zu parameters, C %d",
                 json_array_size(names), ntrain);
    for (size_t i = 0; i < json_array_size(names); i++) {
        const char *nm = json_string_value(json_array_get(names, i));
        int pi = params_find(&ae.pt, nm);
        cr_assert(pi >= 0, "no C tensor named %s", nm);
        const Param *p = &ae.pt.p[pi];
        float *g = tu_alloc(p->numel);
        k->download(g, params_grad(&ae.pt, pi), p->numel * sizeof(float));
        double s = 0, q = 0, a = 0;
        for (size_t j = 0; j < p->numel; j++) s += g[j], q += (double)g[j] * g[j], a += fabs(g[j]);
        cr_assert(fabs(s - gs[i]) <= 1e-3 * ga[i] + 1e-12, "%s: sum %.9g, twin %.9g (sum|g| %g)",
                  nm, s, (double)gs[i], (double)ga[i]);
        cr_assert(fabs(a - ga[i]) <= 1e-3 * ga[i] + 1e-12, "%s: sum|g| %.9g, twin %.9g", nm, a,
                  (double)ga[i]);
        cr_assert(fabs(q - gq[i]) <= 2e-3 * gq[i] + 1e-20, "%s: sum g^2 %.9g, twin %.9g", nm, q,
                  (double)gq[i]);
        free(g);
    }
    json_decref(names);
    k->free(xd);
    free(x), free(rec);
    lenet_ae_free(&ae);
    vfx_close(&v);
}

Test(ruff_parity, pretraining_loads_the_encoder_it_trained, .timeout = 120) {
    Vfx v;
    vfx_open(&v, PFX);
    Dataset ds;
    ClipSet cs;
    images_dataset(&v, &ds, &cs);
    const int B = 8;
    Loader *tl = open_loader(&ds, &cs, B, true);
    ModelConfig mc;
    ruff_model(&mc);
    Hybrid m;
    const KOps *k = kops_cpu();
    cr_assert_eq(hybrid_build(&m, &mc, k, B, 1), VB_OK, "%s", vb_errmsg());
    hybrid_init(&m, 3);
    float *init = tu_alloc(m.pt.total);
    k->download(init, m.pt.data, m.pt.total * sizeof(float));
    TrainConfig tc;
    train_config_defaults(&tc);
    tc.batch_size = B, tc.optimizer = OPTIM_ADAM;
    tc.pretrain_epochs = 2, tc.pretrain_lr = 1e-3, tc.pretrain_weight_decay = 5e-4;
    tc.pretrain_nmilestones = 1, tc.pretrain_milestones[0] = 1, tc.gamma = 0.1;
    PretrainResult pr;
    cr_assert_eq(pretrain_autoencoder(&m, &tc, tl, 5, NULL, NULL, &pr), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(pr.epochs_run, 2);
    cr_assert(isfinite(pr.final_loss) && pr.final_loss > 0);
    LoaderPos pos = loader_position(tl);
    cr_assert(pos.epoch == 0 && pos.batch == 0, "pretraining leaves the loader at its start");
    /* the same training alongside: same seed, loader, optimiser and schedule */
    LeNetConfig lc;
    model_lenet_config(&mc, &lc);
    LeNetAe ae;
    cr_assert_eq(lenet_ae_build(&ae, &lc, k, B), VB_OK);
    params_init_values(&ae.pt, 5);
    float *ae0 = tu_alloc(ae.pt.total);
    k->download(ae0, ae.pt.data, ae.pt.total * sizeof(float));
    AdamW opt;
    cr_assert_eq(adam_l2_init(&opt, &ae.pt, 0.9f, 0.999f, 1e-8f, 5e-4f), VB_OK);
    Schedule s;
    memset(&s, 0, sizeof s);
    s.kind = SCHED_STEP, s.max_lr = 1e-3, s.gamma = 0.1, s.swa_start = -1;
    s.steps_per_epoch = (int64_t)loader_batches_per_epoch(tl);
    s.nmilestones = 1, s.milestones[0] = 1;
    float *xd = k->alloc((size_t)B * 784 * sizeof(float));
    ae.net.train = true;
    int64_t step = 0;
    for (int e = 0; e < 2; e++)
        for (int64_t b = 0; b < s.steps_per_epoch; b++, step++) {
            const Batch *bt = loader_next(tl);
            k->upload(xd, bt->x, (size_t)bt->n * 784 * sizeof(float));
            optim_zero_grad(&ae.pt);
            lenet_ae_forward(&ae, bt->n, xd);
            lenet_ae_backward(&ae, bt->n, xd);
            adamw_step(&opt, &ae.pt, (float)schedule_lr(&s, step));
        }
    int compared = 0, changed = 0;
    for (int i = 0; i < ae.pt.n; i++) {
        const Param *p = &ae.pt.p[i];
        if (strncmp(p->name, "encoder.", 8) != 0) continue;
        char name[PARAM_NAME_MAX];
        snprintf(name, sizeof name, "backbone.lenet.%s", p->name + 8);
        int j = params_find(&m.pt, name);
        cr_assert(j >= 0, "the model has no %s", name);
        float *a = tu_alloc(p->numel), *b = tu_alloc(p->numel);
        k->download(a, params_data(&ae.pt, i), p->numel * sizeof(float));
        k->download(b, params_data(&m.pt, j), p->numel * sizeof(float));
        cr_assert(memcmp(a, b, p->numel * sizeof(float)) == 0,
                  "%s after loading differs from the autoencoder's %s", name, p->name);
        cr_assert(memcmp(a, ae0 + p->offset, p->numel * sizeof(float)) != 0,
                  "%s: the autoencoder did not train it", p->name);
        changed += memcmp(b, init + m.pt.p[j].offset, p->numel * sizeof(float)) != 0;
        compared++;
        free(a), free(b);
    }
    /* conv1, bn2d1 (2 statistics), conv2, bn2d2 (2), fc1, bn1d1 (2), fc2 */
    cr_assert_eq(compared, 10, "%d encoder tensors", compared);
    cr_assert_eq(changed, compared, "loading left %d of the model's tensors as initialised",
                 compared - changed);
    k->free(xd);
    adamw_free(&opt);
    lenet_ae_free(&ae);
    free(init), free(ae0);
    hybrid_free(&m);
    loader_close(tl);
    clips_free(&cs);
    dataset_free(&ds);
    vfx_close(&v);
}
