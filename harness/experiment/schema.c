/* schema: the train, eval and dataset key tables (the model table lives
 * with the reader in config.c) and RunConfig defaults. */
#include "harness/experiment/schema.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define TC(f) offsetof(TrainConfig, f)
#define EC(f) offsetof(EvalConfig, f)
#define DC(f) offsetof(DataConfig, f)
#define STR(T, f) sizeof(((T *)0)->f)
#define ANY 0, 0
#define BIG 1e12

const char *const class_alpha_names[] = {"none", "balanced", NULL};
const char *const es_metric_names[] = {"none", "val_loss", "val_accuracy", NULL};
const char *const tta_reduce_names[] = {"mean", "max", NULL};
const char *const data_source_names[] = {"synthetic", "ucf_crime", "fashion_mnist", NULL};
const char *const optim_kind_names[] = {"adamw", "adam", NULL};

static const CfgKey TRAIN_KEYS[] = {
    {"epochs", CFG_INT, TC(epochs), 0, 0, 1, 100000, NULL, "training epochs"},
    {"batch_size", CFG_INT, TC(batch_size), 0, 0, 2, 100000, NULL, "clips per batch"},
    {"schedule", CFG_CHOICE, TC(schedule), 0, 0, ANY, sched_kind_names,
     "per-step learning-rate schedule"},
    {"lr", CFG_FLOAT, TC(lr), 0, 0, 1e-12, 10, NULL, "peak learning rate"},
    {"warmup", CFG_FLOAT, TC(warmup), 0, 0, 0, 0.99, NULL, "fraction of steps warming up"},
    {"div_factor", CFG_FLOAT, TC(div_factor), 0, 0, 1, 1e9, NULL, "OneCycle: initial lr = lr/div"},
    {"final_div_factor", CFG_FLOAT, TC(final_div_factor), 0, 0, 1, 1e12, NULL,
     "OneCycle: final lr = initial/final_div"},
    {"cycle_momentum", CFG_BOOL, TC(cycle_momentum), 0, 0, ANY, NULL,
     "OneCycle: cycle Adam's beta1 between 0.85 and 0.95"},
    {"milestones", CFG_INT_LIST, TC(milestones), SCHED_MAX_MILESTONES, TC(nmilestones), 0, 100000,
     NULL, "step schedule: epochs (from 0) from which lr is multiplied by gamma again"},
    {"gamma", CFG_FLOAT, TC(gamma), 0, 0, 1e-9, 1, NULL, "step schedule: lr factor per milestone"},
    {"optimizer", CFG_CHOICE, TC(optimizer), 0, 0, ANY, optim_kind_names,
     "adamw (decoupled weight decay) or adam (weight_decay * p added to the gradient, torch.optim.Adam)"},
    {"beta1", CFG_FLOAT, TC(beta1), 0, 0, 0, 0.9999, NULL, "AdamW beta1"},
    {"beta2", CFG_FLOAT, TC(beta2), 0, 0, 0, 0.999999, NULL, "AdamW beta2"},
    {"eps", CFG_FLOAT, TC(eps), 0, 0, 1e-20, 1, NULL, "AdamW epsilon"},
    {"weight_decay", CFG_FLOAT, TC(weight_decay), 0, 0, 0, 10, NULL,
     "weight decay (decoupled for adamw, an L2 gradient term for adam)"},
    {"clip_norm", CFG_FLOAT, TC(clip_norm), 0, 0, 0, BIG, NULL,
     "global gradient-norm clip (0 = off)"},
    {"loss.focal_gamma", CFG_FLOAT, TC(focal_gamma), 0, 0, 0, 20, NULL, "focal loss gamma"},
    {"loss.focal_alpha", CFG_FLOAT, TC(focal_alpha), 0, 0, 0, 1000, NULL, "focal loss alpha"},
    {"loss.class_alpha", CFG_CHOICE, TC(class_alpha), 0, 0, ANY, class_alpha_names,
     "per-class alpha n/(C*count_c) instead of focal_alpha"},
    {"loss.label_smoothing", CFG_FLOAT, TC(label_smoothing), 0, 0, 0, 0.99, NULL,
     "label smoothing"},
    {"loss.classification", CFG_FLOAT, TC(w_cls), 0, 0, 0, BIG, NULL, "weight of the focal loss"},
    {"loss.binary", CFG_FLOAT, TC(w_bin), 0, 0, 0, BIG, NULL, "weight of the binary loss"},
    {"loss.svdd", CFG_FLOAT, TC(w_svdd), 0, 0, 0, BIG, NULL, "weight of the Deep SVDD loss"},
    {"loss.vae", CFG_FLOAT, TC(w_vae), 0, 0, 0, BIG, NULL, "weight of the VAE loss"},
    {"loss.vae_beta", CFG_FLOAT, TC(vae_beta), 0, 0, 0, BIG, NULL, "beta of the VAE's KL term"},
    {"svdd.mode", CFG_CHOICE, TC(svdd_mode), 0, 0, ANY, svdd_mode_names, "Deep SVDD objective"},
    {"svdd.nu", CFG_FLOAT, TC(svdd_nu), 0, 0, 1e-6, 1, NULL, "soft-boundary nu"},
    {"svdd.warmup_epochs", CFG_INT, TC(svdd_warmup_epochs), 0, 0, 0, 100000, NULL,
     "epochs before the centre is estimated and the SVDD term starts"},
    {"svdd.recenter_every", CFG_INT, TC(svdd_recenter_every), 0, 0, 0, 100000, NULL,
     "re-estimate the centre every N epochs (0 = never)"},
    {"svdd.center_floor", CFG_FLOAT, TC(svdd_center_floor), 0, 0, 0, 1000, NULL,
     "centre coordinates with |c_i| below this are pushed to +-floor (Ruff's code: 0.1)"},
    {"pretrain.epochs", CFG_INT, TC(pretrain_epochs), 0, 0, 0, 100000, NULL,
     "autoencoder pretraining epochs before Deep SVDD (lenet backbone; 0 = off)"},
    {"pretrain.lr", CFG_FLOAT, TC(pretrain_lr), 0, 0, 1e-12, 10, NULL,
     "autoencoder pretraining learning rate"},
    {"pretrain.weight_decay", CFG_FLOAT, TC(pretrain_weight_decay), 0, 0, 0, 10, NULL,
     "autoencoder pretraining weight decay (as train.optimizer applies it)"},
    {"pretrain.milestones", CFG_INT_LIST, TC(pretrain_milestones), SCHED_MAX_MILESTONES,
     TC(pretrain_nmilestones), 0, 100000, NULL,
     "autoencoder pretraining: epochs from which lr is multiplied by train.gamma"},
    {"sam.enabled", CFG_BOOL, TC(sam), 0, 0, ANY, NULL, "sharpness-aware minimisation"},
    {"sam.rho", CFG_FLOAT, TC(sam_rho), 0, 0, 1e-9, 100, NULL, "SAM neighbourhood size"},
    {"sam.adaptive", CFG_BOOL, TC(sam_adaptive), 0, 0, ANY, NULL, "ASAM (scale by |p|)"},
    {"swa.enabled", CFG_BOOL, TC(swa), 0, 0, ANY, NULL, "stochastic weight averaging"},
    {"swa.start", CFG_FLOAT, TC(swa_start), 0, 0, 0, 1, NULL,
     "fraction of epochs after which averaging starts"},
    {"swa.lr", CFG_FLOAT, TC(swa_lr), 0, 0, 1e-12, 10, NULL, "SWA learning rate"},
    {"swa.anneal_epochs", CFG_INT, TC(swa_anneal_epochs), 0, 0, 0, 100000, NULL,
     "cosine anneal to swa.lr over N epochs (0 = constant)"},
    {"mixup.p", CFG_FLOAT, TC(mix_p), 0, 0, 0, 1, NULL, "probability a batch is mixed (0 = off)"},
    {"mixup.alpha", CFG_FLOAT, TC(mixup_alpha), 0, 0, 1e-6, 100, NULL, "Mixup Beta(a, a)"},
    {"mixup.cutmix_alpha", CFG_FLOAT, TC(cutmix_alpha), 0, 0, 1e-6, 100, NULL, "CutMix Beta(a, a)"},
    {"mixup.switch_prob", CFG_FLOAT, TC(mix_switch), 0, 0, 0, 1, NULL,
     "probability a mixed batch uses CutMix"},
    {"sampler", CFG_CHOICE, TC(sampler), 0, 0, ANY, sampler_weights_names,
     "class-balanced sampler weights 1/count, 1/sqrt(count), or plain shuffling"},
    {"augment", CFG_BOOL, TC(augment), 0, 0, ANY, NULL, "training augmentations (MODEL_SPEC 5)"},
    {"early_stopping.metric", CFG_CHOICE, TC(es_metric), 0, 0, ANY, es_metric_names,
     "metric early stopping watches"},
    {"early_stopping.patience", CFG_INT, TC(es_patience), 0, 0, 1, 100000, NULL,
     "epochs without improvement before stopping"},
    {"early_stopping.min_delta", CFG_FLOAT, TC(es_min_delta), 0, 0, 0, BIG, NULL,
     "smallest change that counts as improvement"},
    {"checkpoint_every", CFG_INT, TC(checkpoint_every), 0, 0, 0, 100000000, NULL,
     "checkpoint every N steps (epoch ends always)"},
    {"precision", CFG_CHOICE, TC(precision), 0, 0, ANY, kprecision_names,
     "bf16: convolutions and GEMMs in bfloat16 with fp32 master weights, BN statistics and "
     "losses (backend cuda only)"},
};

static const CfgKey EVAL_KEYS[] = {
    {"target_fpr", CFG_FLOAT, EC(target_fpr), 0, 0, 1e-6, 0.5, NULL,
     "false-positive rate on validation normals that sets the threshold"},
    {"tta", CFG_INT, EC(tta), 0, 0, 0, 5, NULL, "test-time augmentation views (0 = off)"},
    {"tta_reduce", CFG_CHOICE, EC(tta_reduce), 0, 0, ANY, tta_reduce_names,
     "how TTA views combine"},
    {"batch_size", CFG_INT, EC(batch_size), 0, 0, 1, 100000, NULL, "evaluation batch"},
    {"latency_samples", CFG_INT, EC(latency_samples), 0, 0, 0, 1000000, NULL,
     "timed forward passes per component at batch 1 (0 = no latency)"},
    {"latency_batch", CFG_INT, EC(latency_batch), 0, 0, 1, 100000, NULL,
     "second batch size for latency"},
};

static const CfgKey DATA_KEYS[] = {
    {"source", CFG_CHOICE, DC(source), 0, 0, ANY, data_source_names, "where the frames come from"},
    {"path", CFG_STRING, DC(path), STR(DataConfig, path), 0, ANY, NULL,
     "archive or directory (ucf_crime: else $VADBENCH_UCF_CRIME; fashion_mnist: idx dir)"},
    {"normal_class", CFG_STRING, DC(normal_class), STR(DataConfig, normal_class), 0, ANY, NULL,
     "name of the normal class"},
    {"videos_per_class", CFG_INT, DC(videos_per_class), 0, 0, 1, 100000, NULL,
     "synthetic: training videos per anomaly class"},
    {"test_videos_per_class", CFG_INT, DC(test_videos_per_class), 0, 0, 1, 100000, NULL,
     "synthetic: test videos per anomaly class"},
    {"normal_factor", CFG_INT, DC(normal_factor), 0, 0, 1, 1000, NULL,
     "synthetic: normal videos = factor x per-class count"},
    {"frames_per_video", CFG_INT, DC(frames_per_video), 0, 0, 1, 100000, NULL,
     "synthetic: frames per video"},
    {"size", CFG_INT, DC(size), 0, 0, 16, 4096, NULL, "frame size (must equal model.image)"},
    {"seed", CFG_INT, DC(data_seed), 0, 0, 0, 2147483647, NULL, "synthetic: generator seed"},
    {"val_fraction", CFG_FLOAT, DC(val_fraction), 0, 0, 0.01, 0.9, NULL,
     "fraction of each class's training videos used for validation"},
    {"clip.frames", CFG_INT, DC(clip_frames), 0, 0, 1, 1024, NULL, "frames per clip (1 = frames)"},
    {"clip.stride", CFG_INT, DC(clip_stride), 0, 0, 1, 1024, NULL, "frame step inside a clip"},
    {"clip.window", CFG_INT, DC(clip_window), 0, 0, 1, 100000, NULL, "frames between clip starts"},
    {"skip_bad", CFG_BOOL, DC(skip_bad), 0, 0, ANY, NULL,
     "skip (and count) corrupt archive members instead of failing"},
    {"protocol", CFG_CHOICE, DC(protocol), 0, 0, ANY, split_protocol_names,
     "one-class: one normal class, every other class anomalous"},
    {"workers", CFG_INT, DC(workers), 0, 0, 0, 256, NULL, "loader threads"},
    {"limit", CFG_INT, DC(limit), 0, 0, 0, 100000000, NULL,
     "fashion_mnist: only the first N images of each split (0 = all)"},
    {"channels", CFG_INT, DC(channels), 0, 0, 1, 3, NULL,
     "3: RGB (grey sources replicated), 1: grey (fashion_mnist only)"},
    {"preprocess", CFG_CHOICE, DC(preprocess), 0, 0, ANY, preprocess_names,
     "imagenet: (x/255-mean)/std; unit: x/255; gcn_l1_minmax: Ruff's global contrast "
     "normalisation + min-max over the normal training images"},
};

const CfgSchema cfg_train_schema = {"train", TRAIN_KEYS,
                                    (int)(sizeof TRAIN_KEYS / sizeof TRAIN_KEYS[0])};
const CfgSchema cfg_eval_schema = {"eval", EVAL_KEYS,
                                   (int)(sizeof EVAL_KEYS / sizeof EVAL_KEYS[0])};
const CfgSchema cfg_data_schema = {"dataset", DATA_KEYS,
                                   (int)(sizeof DATA_KEYS / sizeof DATA_KEYS[0])};

void train_config_defaults(TrainConfig *c) {
    memset(c, 0, sizeof *c);
    c->epochs = 10, c->batch_size = 32;
    c->schedule = SCHED_ONECYCLE;
    c->lr = 1e-3, c->warmup = 0.2, c->div_factor = 25, c->final_div_factor = 1e4;
    c->gamma = 0.1;
    c->optimizer = OPTIM_ADAMW;
    c->beta1 = 0.9, c->beta2 = 0.999, c->eps = 1e-8, c->weight_decay = 0.01, c->clip_norm = 1.0;
    c->focal_gamma = 2.5, c->focal_alpha = 0.25, c->label_smoothing = 0.1;
    c->class_alpha = CLASS_ALPHA_NONE;
    c->w_cls = 1.0, c->w_bin = 0.5, c->w_svdd = 0.3, c->w_vae = 0.2, c->vae_beta = 1.0;
    c->svdd_mode = SVDD_SUPERVISED;
    c->svdd_nu = 0.1;
    c->svdd_center_floor = 0.01;
    c->pretrain_epochs = 0, c->pretrain_lr = 1e-4, c->pretrain_weight_decay = 0.5e-3;
    c->sam_rho = 0.05;
    c->swa_start = 0.75, c->swa_lr = 5e-5;
    c->mix_p = 0.0, c->mixup_alpha = 0.2, c->cutmix_alpha = 1.0, c->mix_switch = 0.5;
    c->sampler = SAMPLER_INV_COUNT;
    c->augment = true;
    c->es_metric = ES_METRIC_NONE;
    c->es_patience = 5;
    c->precision = K_PREC_FP32;
}

void data_config_defaults(DataConfig *c) {
    memset(c, 0, sizeof *c);
    c->source = DATA_SYNTHETIC;
    snprintf(c->normal_class, sizeof c->normal_class, "NormalVideos");
    c->videos_per_class = 8, c->test_videos_per_class = 4, c->normal_factor = 4;
    c->frames_per_video = 16, c->size = 64, c->data_seed = 0;
    c->val_fraction = 0.2;
    c->clip_frames = 1, c->clip_stride = 1, c->clip_window = 1;
    c->protocol = SPLIT_SUPERVISED;
    c->workers = 2;
    c->channels = 3;
    c->preprocess = PREP_IMAGENET;
}

void eval_config_defaults(EvalConfig *c) {
    memset(c, 0, sizeof *c);
    c->target_fpr = 0.05;
    c->tta_reduce = TTA_REDUCE_MEAN;
    c->batch_size = 64;
    c->latency_samples = 200;
    c->latency_batch = 32;
}

void run_config_defaults(RunConfig *c) {
    data_config_defaults(&c->data);
    model_config_defaults(&c->model);
    train_config_defaults(&c->train);
    eval_config_defaults(&c->eval);
}

const CfgSchema *schema_section(const char *name, RunConfig *rc, void **obj) {
    if (!strcmp(name, "model")) return *obj = &rc->model, &cfg_model_schema;
    if (!strcmp(name, "train")) return *obj = &rc->train, &cfg_train_schema;
    if (!strcmp(name, "eval")) return *obj = &rc->eval, &cfg_eval_schema;
    if (!strcmp(name, "dataset")) return *obj = &rc->data, &cfg_data_schema;
    return NULL;
}
