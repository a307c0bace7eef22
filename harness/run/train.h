/* train: the training loop of one run.
 *
 * epochs of batches from a shuffled, augmented loader → optional Mixup /
 * CutMix → forward → MODEL_SPEC §4 losses → backward → (SAM: perturb,
 * second forward/backward without touching BN statistics, restore) →
 * gradient clipping → AdamW (or Adam with an L2 gradient term) at the
 * scheduled learning rate (OneCycle, cosine, constant or epoch steps); SWA averaging
 * from a start epoch with its own learning rate; validation each epoch with
 * early stopping; a checkpoint every N steps and at every epoch end,
 * written atomically, from which a restarted run continues to the same bits.
 * NaN/Inf in the loss or the gradients stops the run with the reason.
 *
 * Progress goes to a logging callback (the runner connects it to SQLite):
 * per step the learning rate, loss parts and gradient norm; per epoch the
 * validation metrics. */
#ifndef VB_TRAIN_H
#define VB_TRAIN_H

#include "datasets/loader.h"
#include "harness/experiment/experiment.h"
#include "models/hybrid.h"
#include "models/losses.h"
#include "models/schedule.h"

typedef enum TrainEventKind { TRAIN_STEP, TRAIN_EPOCH } TrainEventKind;

typedef struct TrainEvent {
    TrainEventKind kind;
    int64_t step;
    int epoch, epochs;
    int64_t steps_per_epoch;
    double lr, grad_norm, images_per_s;
    LossParts loss;
    /* TRAIN_EPOCH: validation */
    double val_loss, val_accuracy, train_loss;
    double epoch_seconds;
    bool swa_active;
} TrainEvent;

typedef void (*TrainLogFn)(void *ctx, const TrainEvent *ev);

/* What a run trains on. class_map[d] is the model class of dataset class d
 * (-1 for classes held out of training). */
typedef struct TrainData {
    Loader *train;      /* shuffled, augmented, drop_last */
    Loader *train_eval; /* the training clips in order, unaugmented */
    Loader *val;        /* validation clips in order (NULL: no validation) */
    const int *class_map;
    int normal_class;        /* model class index of the normal class */
    const int *class_counts; /* training clips per model class (balanced α) */
} TrainData;

typedef struct TrainResult {
    int64_t steps;
    int epochs_run;
    bool early_stopped;
    double best_metric;
    double seconds, images_per_s;
    bool stopped; /* interrupted by a stop request (checkpoint written) */
} TrainResult;

typedef struct Trainer Trainer;

/* Set up training of `m` (built, initialised) for `tc`. ckpt_path may be
 * NULL (no checkpoints). `seed` drives dropout, mixup and VAE noise. */
VbStatus trainer_new(Hybrid *m, const TrainConfig *tc, const TrainData *d, uint64_t seed,
                     const char *ckpt_path, const char *config_hash, Trainer **out);
void trainer_free(Trainer *t);
/* Resume from the checkpoint at ckpt_path if it exists (VB_OK and *resumed
 * = false when there is none). A checkpoint that can never be resumed is
 * discarded (see trainer_discarded). */
VbStatus trainer_resume(Trainer *t, bool *resumed);
/* Why trainer_resume discarded the checkpoint it found (damaged, truncated,
 * another config or layout: VB_ERR_INPUT from ckpt_load; the file is
 * deleted and training starts from the beginning), or NULL when it did
 * not. An unreadable checkpoint (I/O error) is not discarded: trainer_resume
 * fails with it. */
const char *trainer_discarded(const Trainer *t);
/* Optimiser steps done (after trainer_resume: the step resumed from). */
int64_t trainer_step(const Trainer *t);
void trainer_set_logger(Trainer *t, TrainLogFn fn, void *ctx);
/* Also resume from a checkpoint written under the cell's legacy config hash
 * (a store migrated from hash format 1). */
void trainer_accept_legacy_hash(Trainer *t, const char *legacy_hash);
/* Stop cleanly at the next step boundary (e.g. from a SIGINT handler):
 * writes a checkpoint and returns with result.stopped. */
void trainer_request_stop(Trainer *t);
/* For tests: stop after this many optimiser steps, writing a checkpoint. */
void trainer_stop_after(Trainer *t, int64_t steps);
/* Run to the end (or the stop); on success the model holds the final
 * weights (the SWA average with recomputed BN statistics when SWA is on). */
VbStatus trainer_run(Trainer *t, TrainResult *res);

/* Deep SVDD centre: mean embedding of normal samples from `loader` (one
 * pass, evaluation mode), |c_i| < floor pushed to ±floor (train.svdd.
 * center_floor: 0.01 by default, 0.1 in Ruff et al.'s code). Written to the
 * model's anomaly_head.center. With train.svdd.warmup_epochs 0 this runs
 * before the first step: the untrained network's outputs, BatchNorm on its
 * initial running statistics (mean 0, variance 1), as Ruff's init_center_c. */
VbStatus train_svdd_center(Hybrid *m, Loader *loader, const int *class_map, int normal_class,
                           double floor);
/* Recompute BN running statistics with one pass over `loader` in training
 * mode (cumulative average, as torch.optim.swa_utils.update_bn). */
void train_bn_update(Hybrid *m, Loader *loader);
/* SAM / ASAM ascent of one training step (exposed for the PyTorch parity
 * test): with g the gradients in pt, e = ρ·g/‖g‖ (adaptive: ρ·p²·g/‖|p|·g‖)
 * over the trainable range, then p += e. e and tmp: backend buffers of
 * n_train floats. Returns false, leaving p alone, when the norm is zero. */
bool train_sam_perturb(ParamTable *pt, double rho, bool adaptive, float *e, float *tmp);

#endif
