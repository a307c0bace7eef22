/* probe: shortcut baselines for a data set — how far simple hand-made video
 * features get, so that a model's numbers can be read against them.
 *
 * Every video becomes four feature vectors, computed from its frames alone
 * (values in [0, 1]):
 *   colour  per-channel mean and standard deviation over all pixels and
 *           frames, and an 8-bin histogram per channel (30 values): what a
 *           "the scene is dark / orange / blue" shortcut can see;
 *   layout  the video's mean frame pooled to 8 x 8 cells x 3 channels (192):
 *           what a fixed scene layout or a static prop can give away;
 *   motion  the mean absolute frame difference (averaged over channels and
 *           time) pooled to 8 x 8 cells, plus its mean and standard deviation
 *           over the frame (66): where and how much things move; undefined
 *           for single-frame videos (Fashion-MNIST);
 *   all     the three concatenated.
 * Two probes per feature set, both fit on the Train videos and scored on the
 * Test videos, one sample per video:
 *   * closed-set classification by a ridge classifier (as scikit-learn's
 *     RidgeClassifier(alpha)): features standardised with the training
 *     mean and standard deviation, targets +-1 per class, intercepts by
 *     centring, (X'X + alpha I) W = X'Y solved by Cholesky (LAPACK dposv
 *     from OpenBLAS); prediction = the largest score. Reported as accuracy,
 *     balanced accuracy (mean recall over the classes present in Test) and
 *     recall per class;
 *   * "different from normal" without any anomaly in training: the mean
 *     squared z-score of a video's features against the Train normal
 *     videos' mean and standard deviation; AUROC of each anomaly class's
 *     Test videos against the Test normal videos, and of all anomalies.
 * A data set whose classes the colour probe already separates, or whose
 * anomalies the colour distance already finds, has a shortcut a model can
 * take without learning motion or shape.
 *
 * `vadbench data probe` runs it on a data set's Train/Test split; the runner
 * runs it on each cell's own training and test videos (probe_run_select,
 * holdout classes unseen) and stores it under split "probe", and reports set
 * the models against it.
 *
 * Everything is computed in double, in a fixed order (OpenMP only over
 * videos, each written to its own row), so results are the same for any
 * thread count.
 *
 * Must not be asked to: weigh classes or videos, tune alpha, or stand in
 * for a model (it is a floor to beat, not a detector). */
#ifndef VB_PROBE_H
#define VB_PROBE_H

#include <stdbool.h>

#include "datasets/dataset.h"
#include "kernels/status.h"

enum { PROBE_COLOUR, PROBE_LAYOUT, PROBE_MOTION, PROBE_ALL, PROBE_NSETS };

extern const char *const probe_set_names[PROBE_NSETS];

typedef struct ProbeSet {
    bool defined;       /* false: motion on single-frame videos */
    const char *reason; /* why not, when !defined */
    int dims;
    double accuracy, balanced_accuracy;
    double *recall;   /* [nclasses], NAN for classes without Test videos */
    double *auroc;    /* [nclasses] per anomaly class vs normal; NAN: normal or undefined */
    double auroc_all; /* every anomaly vs normal; NAN when undefined */
    double auroc_seen, auroc_unseen; /* the anomalies of seen / unseen classes vs normal */
} ProbeSet;

typedef struct ProbeResult {
    int nclasses;
    size_t train_videos, test_videos; /* fitted and scored videos */
    int test_classes;                 /* seen classes with scored videos */
    double majority_accuracy;         /* always predicting the largest fitted class */
    ProbeSet set[PROBE_NSETS];
} ProbeResult;

/* Run every probe on ds with ridge strength alpha (> 0; 1.0 is scikit-
 * learn's default), fit on the Train videos and scored on the Test videos.
 * Needs Test videos and Train videos of at least two classes or of the normal
 * class: with one fitted class (the one-class protocol) the classifier's
 * numbers are NAN and only the distance probe runs; without Train normal
 * videos the distance AUROCs are NAN. */
VbStatus probe_run(const Dataset *ds, double alpha, ProbeResult *out);

/* The same on a chosen set of videos, as a run with a holdout sees them:
 * fit on `fit` (e.g. a cell's training videos), score `score` (its test
 * videos; disjoint from fit); classes with unseen[c] are never fitted, not
 * classified (their recall is NAN, and balanced accuracy is over the seen
 * classes) and only scored by the distance from normal (auroc_unseen). */
typedef struct ProbeSelect {
    const uint32_t *fit;
    size_t nfit;
    const uint32_t *score;
    size_t nscore;
    const bool *unseen; /* [nclasses] or NULL: every class seen */
} ProbeSelect;
VbStatus probe_run_select(const Dataset *ds, const ProbeSelect *sel, double alpha,
                          ProbeResult *out);

/* The features of every video, computed once (malloc'ed; the only part of a
 * probe that reads frames), for many probe_run_features calls on the same
 * data set, e.g. one per cell of an experiment. */
double *probe_features(const Dataset *ds);
VbStatus probe_run_features(const Dataset *ds, const double *feat, const ProbeSelect *sel,
                            double alpha, ProbeResult *out);
void probe_free(ProbeResult *r);

/* The ridge classifier alone (exposed for tests against scikit-learn):
 * X[n x d] row-major (already standardised or not: it is fit as given,
 * intercepts by centring X and the +-1 targets), y[n] in [0, C). Writes
 * coef[C x d] and intercept[C]. VB_ERR_NUMERIC when the system is not
 * positive definite. */
VbStatus probe_ridge_fit(const double *X, const int *y, int n, int d, int C, double alpha,
                         double *coef, double *intercept);

#endif
