/* evaluate: scores and metrics of a trained model on validation and test,
 * and latency per component.
 *
 * Scores (MODEL_SPEC §3, none privileged): binary = softmax(binary)[anomaly];
 * classifier = 1 − softmax(classifier)[normal]; svdd = ‖e − c‖²; vae = mean
 * over the clip's frames of (mse + 0.1·KL) at z = μ; fused = each score
 * standardised by the mean and std of validation normals, then averaged.
 * With eval.tta = K, each score is the mean (or max) over K views
 * (identity, horizontal flip, vertical flip, brightness/contrast +20%, 90°
 * rotation) and the metrics are stored again under keys prefixed "tta.".
 *
 * Metric keys (split "val" or "test"; see experiments/README.md):
 *   accuracy, macro_f1, weighted_f1, macro_/weighted_precision|recall,
 *   class.<C>.precision|recall|f1|support, confusion.<true>.<pred>,
 *   unseen_assigned.<true>.<pred> — closed-set over the classes seen in
 *   training (unseen-class samples excluded, then counted by assignment);
 *   video_accuracy, video_balanced_accuracy — the same per video (the class
 *   of the largest mean probability over its clips), labels being per video;
 *   auroc.<score>.<all|seen|unseen>, ap.<score>.<…>,
 *   video_auroc.<score>.<all|seen|unseen> (a video's score: max over its clips);
 *   threshold.<score> (set on validation normals at eval.target_fpr),
 *   fpr.<score> (test normals above it: "false positives"),
 *   detect.<score>.unseen ("unknown anomalies detected"), detect.<score>.seen,
 *   detect.<score>.class.<C> for each unseen class;
 *   roc.<score>.<all|unseen>.fpr / .tpr (curve points, step = index).
 * Undefined metrics (e.g. no unseen classes) are not stored. */
#ifndef VB_EVALUATE_H
#define VB_EVALUATE_H

#include "datasets/loader.h"
#include "models/hybrid.h"

enum { SC_BINARY = 0, SC_CLASSIFIER, SC_SVDD, SC_VAE, SC_FUSED, EVAL_NSCORES };
extern const char *const eval_score_names[EVAL_NSCORES];

typedef struct EvalScores {
    size_t n, cap;
    int nscores; /* SC_VAE present only with a VAE */
    double *s[EVAL_NSCORES];
    int *cls;     /* dataset class */
    int *pred;    /* predicted model class */
    int nprob;    /* model classes: the width of prob */
    double *prob; /* [n x nprob] softmax of the (view-averaged) class logits */
    int *anomaly;
    uint8_t *unseen;
    int64_t *video;
} EvalScores;

typedef struct EvalContext {
    const char *const *class_names; /* dataset classes */
    int nclasses;                   /* dataset classes */
    const int *class_map;           /* dataset → model class, −1 unseen */
    int model_classes;
    int normal_model; /* model index of the normal class */
    double target_fpr;
} EvalContext;

typedef void (*EvalLogFn)(void *ctx, const char *split, const char *key, int64_t step,
                          double value);

/* Score every clip of `l` (evaluation order) in evaluation mode. tta = 0
 * or 1: plain; K > 1: K views combined by mean (or max). */
VbStatus eval_collect(Hybrid *m, Loader *l, const EvalContext *ec, int tta, bool tta_max,
                      EvalScores *out);
void eval_scores_free(EvalScores *s);
/* Fill the fused score of val and test from val's normals. */
VbStatus eval_fuse(EvalScores *val, EvalScores *test);
/* Compute and log every metric of `split` ("val" or "test"); `val` sets the
 * thresholds. prefix ("" or "tta.") goes before every key. */
VbStatus eval_metrics(const EvalContext *ec, const EvalScores *val, const EvalScores *s,
                      const char *split, const char *prefix, EvalLogFn log, void *ctx);

/* Latency of each component (hybrid_part_names) and of the whole model in
 * evaluation mode at batch `batch` clips of the model's clip length:
 * `warmup` untimed passes, then `samples` timed ones, measured between the
 * backend's timing marks (CUDA events on a GPU, the clock on the CPU).
 * Calls back with the raw milliseconds of each component (then "model",
 * the whole forward from its first mark to its last). */
typedef void (*LatencyFn)(void *ctx, const char *component, int batch, const double *ms, int n);
VbStatus eval_latency(Hybrid *m, int batch, int warmup, int samples, LatencyFn cb, void *ctx);

#endif
