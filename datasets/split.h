/* split: video-level train/validation/test splits and unseen-anomaly
 * holdouts.
 *
 * Validation is a seeded, class-stratified fraction of the whole training
 * videos of each class (never frames of one video on two sides); test is
 * the data set's own Test split. A holdout lists anomaly classes removed
 * from training and validation and kept in test, where they are flagged
 * unseen; split_leave_one_out gives one holdout per anomaly class. The
 * one-class protocol (e.g. Fashion-MNIST) trains and validates on the
 * normal class only and treats every anomaly class as unseen.
 *
 * The validation draw for a class depends only on (seed, class name, that
 * class's training videos), so adding a holdout or another class never
 * moves another class's videos. Parts list video indices in dataset order.
 *
 * Must not be asked to: hold out the normal class or a class the data does
 * not have (errors naming it), or take a validation fraction outside [0,1). */
#ifndef VB_SPLIT_H
#define VB_SPLIT_H

#include <stdbool.h>
#include <stdint.h>

#include "datasets/dataset.h"

typedef enum SplitPart { SPLIT_TRAIN = 0, SPLIT_VAL = 1, SPLIT_TEST = 2 } SplitPart;
typedef enum SplitProtocol { SPLIT_SUPERVISED, SPLIT_ONE_CLASS } SplitProtocol;
/* `dataset.protocol` names, indexed by SplitProtocol. */
extern const char *const split_protocol_names[];

typedef struct SplitConfig {
    double val_fraction;        /* of each class's training videos (default 0.2) */
    uint64_t seed;              /* run seed; the draw uses its "split" stream */
    const char *const *holdout; /* anomaly class names held out of train/val */
    int nholdout;
    SplitProtocol protocol;
} SplitConfig;

typedef struct Split {
    uint32_t *videos[3]; /* per part, dataset video indices, ascending */
    size_t n[3];
    bool unseen[DS_MAX_CLASSES]; /* class absent from train and validation */
    int nclasses;
} Split;

void split_defaults(SplitConfig *c);
VbStatus split_make(const Dataset *ds, const SplitConfig *c, Split *out);
void split_free(Split *s);
static inline bool split_is_unseen(const Split *s, int cls) {
    return cls >= 0 && cls < s->nclasses && s->unseen[cls];
}
const char *split_part_name(SplitPart p);
/* leave_one_out: the anomaly class names, one holdout each, in class
 * order; returns how many (at most max); names point into ds. */
int split_leave_one_out(const Dataset *ds, const char **names, int max);

#endif
