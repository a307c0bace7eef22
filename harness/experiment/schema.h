/* schema: every setting of a run, as typed structs with defaults, and the
 * tables that map experiment-file keys onto them (config.c reads YAML and
 * JSON through these tables; `vadbench keys` and experiments/README.md
 * print them). One resolved RunConfig is what a cell of an experiment
 * matrix runs. */
#ifndef VB_SCHEMA_H
#define VB_SCHEMA_H

#include "datasets/loader.h"
#include "harness/experiment/config.h"
#include "models/losses.h"
#include "models/schedule.h"

/* Choices of the train, eval and dataset sections (the model's are in
 * models/hybrid.h), each with its names in experiment files, indexed by the
 * enum value and NULL-terminated. */
typedef enum ClassAlpha { CLASS_ALPHA_NONE = 0, CLASS_ALPHA_BALANCED } ClassAlpha;
typedef enum EsMetric { ES_METRIC_NONE = 0, ES_METRIC_VAL_LOSS, ES_METRIC_VAL_ACCURACY } EsMetric;
typedef enum TtaReduce { TTA_REDUCE_MEAN = 0, TTA_REDUCE_MAX } TtaReduce;
typedef enum DataSource { DATA_SYNTHETIC = 0, DATA_UCF_CRIME, DATA_FASHION_MNIST } DataSource;
typedef enum OptimKind { OPTIM_ADAMW = 0, OPTIM_ADAM } OptimKind;
extern const char *const class_alpha_names[],
    *const es_metric_names[], *const tta_reduce_names[], *const data_source_names[],
                                                             *const optim_kind_names[];

typedef struct TrainConfig {
    int epochs, batch_size;
    SchedKind schedule;
    double lr, warmup, div_factor, final_div_factor;
    bool cycle_momentum;
    int nmilestones, milestones[SCHED_MAX_MILESTONES]; /* step schedule, epochs */
    double gamma;                                      /* step schedule factor */
    OptimKind optimizer; /* adamw (decoupled decay) or adam (L2 added to the gradient) */
    double beta1, beta2, eps, weight_decay, clip_norm;
    /* losses */
    double focal_gamma, focal_alpha, label_smoothing;
    ClassAlpha class_alpha;
    double w_cls, w_bin, w_svdd, w_vae, vae_beta;
    SvddMode svdd_mode;
    double svdd_nu;
    int svdd_warmup_epochs, svdd_recenter_every;
    double svdd_center_floor; /* |c_i| below it pushed to ±floor (0.01; Ruff's code 0.1) */
    /* autoencoder pretraining of the backbone (LeNet only; 0 epochs = off) */
    int pretrain_epochs;
    double pretrain_lr, pretrain_weight_decay;
    int pretrain_nmilestones, pretrain_milestones[SCHED_MAX_MILESTONES];
    /* SAM */
    bool sam;
    double sam_rho;
    bool sam_adaptive;
    /* SWA */
    bool swa;
    double swa_start, swa_lr;
    int swa_anneal_epochs;
    /* Mixup / CutMix */
    double mix_p, mixup_alpha, cutmix_alpha, mix_switch;
    /* data */
    SamplerWeights sampler;
    bool augment;
    /* early stopping */
    EsMetric es_metric;
    int es_patience;
    double es_min_delta;
    int checkpoint_every; /* steps; 0 = at epoch ends only */
    KPrecision precision; /* bf16: convolutions and GEMMs in bfloat16 (backend cuda only) */
} TrainConfig;

void train_config_defaults(TrainConfig *c);

typedef struct DataConfig {
    DataSource source;
    char path[512]; /* archive or directory (ucf_crime, fashion_mnist) */
    char normal_class[64];
    int videos_per_class, test_videos_per_class, normal_factor, frames_per_video, size;
    int data_seed;
    double val_fraction;
    int clip_frames, clip_stride, clip_window;
    bool skip_bad;
    SplitProtocol protocol;
    int workers;
    int limit;             /* fashion_mnist: first N images of each split (0 = all) */
    int channels;          /* 3 (RGB; grey sources replicated) or 1 (grey, fashion_mnist) */
    Preprocess preprocess; /* imagenet (default), unit, gcn_l1_minmax */
} DataConfig;

typedef struct EvalConfig {
    double target_fpr;
    int tta; /* 0 = off, else number of views */
    TtaReduce tta_reduce;
    int batch_size;
    int latency_samples; /* timed runs at batch 1 */
    int latency_batch;   /* a second batch size for latency */
} EvalConfig;

typedef struct RunConfig {
    DataConfig data;
    ModelConfig model;
    TrainConfig train;
    EvalConfig eval;
} RunConfig;

void run_config_defaults(RunConfig *c);
void data_config_defaults(DataConfig *c);
void eval_config_defaults(EvalConfig *c);

extern const CfgSchema cfg_train_schema, cfg_eval_schema, cfg_data_schema;

/* The schema of a section name ("model", "train", "eval", "dataset") and
 * the address of that section inside a RunConfig; NULL if unknown. */
const CfgSchema *schema_section(const char *name, RunConfig *rc, void **obj);

#endif
