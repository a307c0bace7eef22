/* The training recipe and model options as configuration: the step schedule
 * (torch's MultiStepLR stepped at epoch ends), Adam with an L2 gradient term
 * against torch.optim.Adam's update written out, experiments/ruff_fmnist.yaml
 * resolving to Ruff et al.'s setup, configurations stored before the new keys
 * existed reading back with their defaults, the LeNet's weight count, and
 * the hybrid's projection / SVDD head options. */
#include "testutil.h"

#include "harness/experiment/experiment.h"
#include "models/hybrid.h"
#include "models/optim.h"
#include "models/schedule.h"

Test(recipe, step_schedule_is_multisteplr_at_epoch_ends) {
    Schedule s;
    memset(&s, 0, sizeof s);
    s.kind = SCHED_STEP, s.max_lr = 1e-4, s.gamma = 0.1, s.swa_start = -1;
    s.steps_per_epoch = 46, s.total = 46 * 150;
    s.nmilestones = 2, s.milestones[0] = 49, s.milestones[1] = 100;
    for (int64_t step = 0; step < s.total; step++) {
        int64_t e = step / 46;
        double want = 1e-4 * (e >= 49 ? 0.1 : 1.0) * (e >= 100 ? 0.1 : 1.0);
        cr_assert(fabs(schedule_lr(&s, step) - want) <= 1e-18, "step %lld: %g vs %g",
                  (long long)step, schedule_lr(&s, step), want);
    }
    s.nmilestones = 0; /* no milestones: constant */
    cr_assert_eq(schedule_lr(&s, 5000), 1e-4);
}

/* Adam with L2 as torch.optim.Adam(weight_decay) computes it, in double on
 * the host, against adamw_step with l2 on the CPU backend (float). */
Test(recipe, adam_l2_matches_torch_adam_update) {
    ParamTable pt;
    params_init(&pt);
    int i = params_add(&pt, "w", PARAM_TRAIN, 1, 5, 0, 0, 0);
    cr_assert_eq(params_alloc(&pt, kops_cpu()), VB_OK);
    float p0[5] = {0.5f, -1.0f, 2.0f, 0.0f, -0.25f};
    memcpy(params_data(&pt, i), p0, sizeof p0);
    AdamW o;
    const double wd = 0.1, lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8;
    cr_assert_eq(adam_l2_init(&o, &pt, (float)b1, (float)b2, (float)eps, (float)wd), VB_OK);
    double p[5], m[5] = {0}, v[5] = {0};
    for (int j = 0; j < 5; j++) p[j] = p0[j];
    for (int t = 1; t <= 4; t++) {
        float g[5];
        for (int j = 0; j < 5; j++) g[j] = (float)(0.3 * (j - 2) + 0.1 * t);
        memcpy(params_grad(&pt, i), g, sizeof g);
        adamw_step(&o, &pt, (float)lr);
        for (int j = 0; j < 5; j++) {
            double gj = g[j] + wd * p[j]; /* grad.add(param, alpha=weight_decay) */
            m[j] = b1 * m[j] + (1 - b1) * gj;
            v[j] = b2 * v[j] + (1 - b2) * gj * gj;
            double bc1 = 1 - pow(b1, t), bc2 = 1 - pow(b2, t);
            p[j] -= lr / bc1 * m[j] / (sqrt(v[j]) / sqrt(bc2) + eps);
        }
        for (int j = 0; j < 5; j++)
            cr_assert(fabs(params_data(&pt, i)[j] - p[j]) < 1e-6, "step %d, value %d: %g vs %g", t,
                      j, params_data(&pt, i)[j], p[j]);
    }
    adamw_free(&o);
    params_free(&pt);
}

Test(recipe, ruff_fmnist_resolves_to_the_published_setup) {
    Experiment e;
    cr_assert_eq(experiment_load("experiments/ruff_fmnist.yaml", &e), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(e.nvariants, 10);
    cr_assert_eq(e.nseeds, 3);
    for (int v = 0; v < e.nvariants; v++) {
        cr_assert(strncmp(e.variant[v], "normal_", 7) == 0);
        const RunConfig *rc = &e.vcfg[v];
        const ModelConfig *m = &rc->model;
        cr_assert_eq(m->backbone, BACKBONE_LENET);
        cr_assert(!m->lenet_bias && !m->lenet_bn_affine && m->lenet_nconv == 2);
        cr_assert(m->lenet_channels[0] == 16 && m->lenet_channels[1] == 32);
        cr_assert(m->lenet_kernel == 5 && m->lenet_hidden == 128 && m->lenet_out == 64);
        cr_assert(fabs(m->lenet_bn_eps - 1e-4) < 1e-12 && fabs(m->lenet_slope - 0.01) < 1e-12);
        cr_assert(!m->projection && m->svdd_head == SVDD_HEAD_NONE && m->backbone_dropout == 0);
        cr_assert(m->channels == 1 && m->image == 28 && rc->data.size == 28);
        cr_assert(rc->data.channels == 1 && rc->data.preprocess == PREP_UNIT);
        const TrainConfig *t = &rc->train;
        cr_assert(t->optimizer == OPTIM_ADAM && t->lr == 1e-4 &&
                  fabs(t->weight_decay - 5e-7) < 1e-15);
        cr_assert(t->schedule == SCHED_STEP && t->nmilestones == 1 && t->milestones[0] == 49);
        cr_assert(t->epochs == 150 && t->batch_size == 128 && t->clip_norm == 0);
        cr_assert(t->svdd_mode == SVDD_ONE_CLASS && t->svdd_center_floor == 0.1);
        cr_assert(t->w_svdd == 1 && t->w_cls == 0 && t->w_bin == 0 && t->svdd_warmup_epochs == 0);
        cr_assert(!t->augment && t->sampler == SAMPLER_NONE && t->pretrain_epochs == 0);
    }
    experiment_free(&e);
}

/* A configuration stored before this schema's new keys existed (its JSON
 * lacks them) reads back with their defaults. */
Test(recipe, configs_stored_before_the_new_keys_read_back_with_defaults) {
    RunConfig d;
    run_config_defaults(&d);
    d.train.epochs = 7;
    json_t *j = run_config_json(&d);
    json_t *model = json_object_get(j, "model"), *train = json_object_get(j, "train");
    const char *gone_model[] = {"lenet",     "channels",  "projection",
                                "svdd_head", "head_bias", "head_bn_affine"};
    for (size_t i = 0; i < sizeof gone_model / sizeof *gone_model; i++)
        json_object_del(model, gone_model[i]);
    json_object_del(json_object_get(model, "backbone"), "bn_affine");
    json_object_del(train, "optimizer"), json_object_del(train, "milestones");
    json_object_del(train, "gamma"), json_object_del(train, "pretrain");
    json_object_del(json_object_get(train, "svdd"), "center_floor");
    json_object_del(json_object_get(j, "dataset"), "channels");
    json_object_del(json_object_get(j, "dataset"), "preprocess");
    RunConfig back;
    cr_assert_eq(run_config_from_json(j, &back), VB_OK, "%s", vb_errmsg());
    RunConfig want;
    run_config_defaults(&want);
    want.train.epochs = 7;
    json_t *a = run_config_json(&back), *b = run_config_json(&want);
    cr_assert(json_equal(a, b), "read back differs from the defaults");
    json_decref(a), json_decref(b), json_decref(j);
}

Test(recipe, ruffs_lenet_has_222096_weights) {
    ModelConfig c;
    model_config_defaults(&c);
    c.backbone = BACKBONE_LENET, c.channels = 1, c.image = 28, c.temporal = TEMPORAL_NONE;
    c.projection = false, c.svdd_head = SVDD_HEAD_NONE, c.classes = 2;
    Hybrid m;
    cr_assert_eq(hybrid_build(&m, &c, kops_cpu(), 4, 1), VB_OK, "%s", vb_errmsg());
    size_t lenet = 0;
    for (int i = 0; i < m.pt.n; i++) {
        const Param *p = &m.pt.p[i];
        if (strncmp(p->name, "backbone.lenet.", 15) == 0 && p->kind == PARAM_TRAIN)
            lenet += p->numel;
        cr_assert(strstr(p->name, ".bias") == NULL || strncmp(p->name, "backbone.", 9) != 0,
                  "%s: Ruff's network has no biases", p->name);
    }
    cr_assert_eq(lenet, 222096);
    cr_assert_eq(m.emb_dim, 64, "the embedding is the LeNet's 64-d output");
    cr_assert_eq(params_find(&m.pt, "projection.0.weight"), -1);
    cr_assert_eq(params_find(&m.pt, "anomaly_head.embedding.0.weight"), -1);
    hybrid_free(&m);
}

/* The hybrid's head options change its tensors as documented. */
Test(recipe, head_options_shape_the_hybrid) {
    ModelConfig c;
    model_config_defaults(&c);
    c.width = c.depth = 0.25, c.image = 32, c.temporal = TEMPORAL_NONE;
    c.feature_dim = 16, c.embedding_dim = 8, c.svdd_hidden = 12;
    c.head_bias = false, c.head_bn_affine = false, c.backbone_bn_affine = false;
    c.svdd_head = SVDD_HEAD_LINEAR;
    Hybrid m;
    cr_assert_eq(hybrid_build(&m, &c, kops_cpu(), 4, 1), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(params_find(&m.pt, "projection.0.bias"), -1);
    cr_assert_eq(params_find(&m.pt, "projection.2.weight"), -1);
    cr_assert(params_find(&m.pt, "projection.2.running_var") >= 0);
    cr_assert(params_find(&m.pt, "anomaly_head.embedding.0.weight") >= 0);
    cr_assert_eq(params_find(&m.pt, "anomaly_head.embedding.0.bias"), -1);
    cr_assert_eq(params_find(&m.pt, "backbone.backbone.features.0.1.weight"), -1);
    cr_assert(params_find(&m.pt, "classifier.bias") >= 0, "the classifier keeps its bias");
    cr_assert_eq(m.emb_dim, 8);
    hybrid_free(&m);
    c.projection = false, c.svdd_head = SVDD_HEAD_NONE;
    cr_assert_eq(hybrid_build(&m, &c, kops_cpu(), 4, 1), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(m.emb_dim, m.feat_dim, "no projection, no head: the backbone's features");
    cr_assert_eq(params_find(&m.pt, "projection.0.weight"), -1);
    hybrid_free(&m);
}

/* The backward of the head options by central differences: L = sum of the
 * SVDD scores of a batch in training mode (no dropout), so every path from
 * the embedding back to the first convolution is exercised. */
typedef struct HeadFd {
    Hybrid m;
    float *x, *ones;
    int b;
} HeadFd;

static double head_loss(void *ctx) {
    HeadFd *f = ctx;
    hybrid_forward(&f->m, f->b, 1, f->x);
    float s[8];
    f->m.net.k->download(s, f->m.svdd_score, (size_t)f->b * sizeof(float));
    double l = 0;
    for (int i = 0; i < f->b; i++) l += s[i];
    return l;
}

static void head_gradcheck(ModelConfig *c, const char *const *tensors, int nt, float h) {
    HeadFd f;
    f.b = 4;
    cr_assert_eq(hybrid_build(&f.m, c, kops_cpu(), f.b, 1), VB_OK, "%s", vb_errmsg());
    hybrid_init(&f.m, 1);
    /* a centre away from the embeddings, so that scores are not near 0 */
    float cen[64];
    for (int j = 0; j < f.m.emb_dim; j++) cen[j] = 0.5f * (float)((j % 3) - 1);
    memcpy(params_data(&f.m.pt, f.m.center), cen, (size_t)f.m.emb_dim * sizeof(float));
    size_t nx = (size_t)f.b * c->image * c->image * c->channels;
    f.x = tu_rand(nx, 5, -1.5f, 1.5f);
    hybrid_set_train(&f.m, true);
    f.m.net.update_bn = false; /* the running statistics stay put between evaluations */
    head_loss(&f);
    float ones[8] = {1, 1, 1, 1, 1, 1, 1, 1}, zeros[64] = {0};
    memcpy(f.m.g_svdd_w, ones, (size_t)f.b * sizeof(float));
    memcpy(f.m.g_cls, zeros, (size_t)f.b * c->classes * sizeof(float));
    memcpy(f.m.g_bin, zeros, (size_t)f.b * 2 * sizeof(float));
    memset(f.m.pt.grad, 0, f.m.pt.n_train * sizeof(float));
    hybrid_backward(&f.m, f.b, 1, f.x);
    for (int t = 0; t < nt; t++) {
        int i = params_find(&f.m.pt, tensors[t]);
        cr_assert(i >= 0, "no tensor %s", tensors[t]);
        const Param *p = &f.m.pt.p[i];
        float *g = params_grad(&f.m.pt, i), gmax = 0;
        for (size_t j = 0; j < p->numel; j++) gmax = fmaxf(gmax, fabsf(g[j]));
        cr_assert(gmax > 0, "%s: no gradient at all", tensors[t]);
        tu_gradcheck(head_loss, &f, params_data(&f.m.pt, i), g, p->numel, h, 5e-2, 2e-2 * gmax, 12,
                     tensors[t]);
    }
    free(f.x);
    hybrid_free(&f.m);
}

static void tiny_hybrid(ModelConfig *c) {
    model_config_defaults(c);
    c->width = c->depth = 0.25, c->image = 32, c->temporal = TEMPORAL_NONE;
    c->backbone_dropout = 0, c->head_dropout = 0;
    c->feature_dim = 16, c->embedding_dim = 8, c->svdd_hidden = 12, c->classes = 2;
}

Test(recipe, linear_head_without_projection_gradients, .timeout = 60) {
    ModelConfig c;
    tiny_hybrid(&c);
    c.projection = false, c.svdd_head = SVDD_HEAD_LINEAR;
    const char *t[] = {"anomaly_head.embedding.0.weight", "anomaly_head.embedding.0.bias",
                       "backbone.backbone.features.8.0.weight"};
    head_gradcheck(&c, t, 3, 1e-2f);
}

Test(recipe, no_head_no_bias_no_affine_gradients, .timeout = 60) {
    ModelConfig c;
    tiny_hybrid(&c);
    c.svdd_head = SVDD_HEAD_NONE, c.head_bias = false, c.head_bn_affine = false;
    c.backbone_bn_affine = false;
    const char *t[] = {"projection.0.weight", "backbone.backbone.features.8.0.weight"};
    head_gradcheck(&c, t, 2, 1e-2f);
}

Test(recipe, lenet_hybrid_heads_gradients, .timeout = 60) {
    ModelConfig c;
    tiny_hybrid(&c);
    c.backbone = BACKBONE_LENET, c.channels = 1, c.image = 12;
    c.lenet_channels[0] = 3, c.lenet_channels[1] = 4, c.lenet_hidden = 6, c.lenet_out = 5;
    c.lenet_bias = true, c.lenet_bn_affine = true;
    /* (a conv bias before a training-mode BN has no gradient: not checked) */
    const char *t[] = {"backbone.lenet.conv1.weight", "backbone.lenet.bn2d2.weight",
                       "backbone.lenet.bn2d2.bias",   "backbone.lenet.fc1.weight",
                       "backbone.lenet.fc2.bias",     "anomaly_head.embedding.4.weight"};
    head_gradcheck(&c, t, 6, 1e-3f); /* max pooling: a smaller step stays in one window order */
}
