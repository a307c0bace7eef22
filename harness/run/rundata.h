/* rundata: the data a run trains and is evaluated on — the data set (read
 * once per distinct `dataset:` setting and shared by the cells that use
 * it), then per cell the video-level split with the cell's holdout, clips,
 * and the four loaders (training, training in order, validation, test),
 * with the map from data-set classes to the model's classes (the classes
 * seen in training, in data-set order). */
#ifndef VB_RUNDATA_H
#define VB_RUNDATA_H

#include "datasets/loader.h"
#include "harness/experiment/experiment.h"

/* Read or generate the data set `d` describes. ucf_crime takes its path
 * from dataset.path or $VADBENCH_UCF_CRIME. Frames of another size than
 * dataset.size are an error (before a UCF-Crime archive is decoded); what
 * the reader skipped or discarded is printed (rundata_print_notes). */
VbStatus rundata_load(const DataConfig *d, Dataset *ds);
/* Print to stderr what a reader skipped (ds->skipped), its warning, a
 * discarded cache (`cache_note`, may be NULL), removed temporary files, and
 * each class that has videos in one split only. */
void rundata_print_notes(const Dataset *ds, const char *cache_note, int orphans);
/* How many classes have videos in one split only (Train without Test or
 * the reverse): stored with each run as data/classes_missing_a_split. */
int rundata_classes_missing_a_split(const Dataset *ds);
/* Canonical text of the settings that decide a data set's content (cells
 * whose texts are equal share one Dataset). Caller frees. */
char *rundata_identity(const DataConfig *d);

typedef struct CellData {
    Split split;
    ClipSet clips[3]; /* train, val, test */
    Loader *train, *train_eval, *val, *test;
    int class_map[DS_MAX_CLASSES];
    int nmodel;                 /* model classes */
    int normal_model;           /* model index of the normal class */
    int counts[DS_MAX_CLASSES]; /* training clips per model class */
    uint64_t train_clips;
    PrepConfig prep; /* the loaders' preprocessing (gcn_l1_minmax: its range) */
} CellData;

VbStatus celldata_open(const Dataset *ds, const RunConfig *rc, const Holdout *h, uint64_t seed,
                       CellData *cd);
void celldata_close(CellData *cd);

#endif
