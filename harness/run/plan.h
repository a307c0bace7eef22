/* plan: which cells of an experiment file a process runs, and the data sets
 * it reads for them.
 *
 * A plan is one experiment file expanded into its matrix, with the cells
 * this process takes selected: by --only (an fnmatch pattern on
 * "variant/holdout/seedN"), --shard i/n (every n-th cell from the i-th, in
 * matrix order) and --cell HASH (exact config hashes). The first two need no
 * data; a data set is read only for variants that have a selected cell, so a
 * shard or a one-cell Slurm task reads its own data and nothing else. A
 * config hash covers the data set's content digest, so --cell reads the
 * candidates' data sets one distinct `dataset:` setting at a time, in the
 * file's variant order, and stops as soon as every requested hash is found;
 * with --only naming the cell as well (what `vadbench slurm submit` writes)
 * exactly the cell's own data set is read. Cells whose data set was not read
 * have no hash and are never selected.
 *
 * Data sets are shared across the files of one process through a DataCache
 * (one entry per distinct data setting; entries never move). This module
 * does not touch the results store: the runner registers and claims. */
#ifndef VB_PLAN_H
#define VB_PLAN_H

#include <stdbool.h>

#include "datasets/dataset.h"
#include "harness/experiment/experiment.h"
#include "harness/run/runner.h"

typedef struct DataEntry {
    char *identity;
    Dataset ds;
    double *probe_feat; /* per-video probe features, computed at the first probe */
} DataEntry;

/* Entries are allocated one by one so that a Dataset (and its digest) never
 * moves while plans and cells hold pointers to it. */
typedef struct DataCache {
    DataEntry **e;
    int n;
} DataCache;

/* The entry for data setting `d`, read on first use (a line on stderr unless
 * quiet). */
VbStatus data_get(DataCache *c, const DataConfig *d, bool quiet, DataEntry **out);
void data_free(DataCache *c);

typedef struct Plan {
    Experiment e;
    Cell *cells;
    int ncells;
    bool *selected; /* this process runs the cell */
    bool *hashed;   /* the cell's data set was read and its hash is real */
    int64_t exp_id;
} Plan;

/* Plan every file (plans[0..nfiles) filled on success; free each with
 * runplan_free). Every --cell hash of `o` must name exactly one cell of the
 * files: one that names none is VB_ERR_INPUT ("the file or its data changed
 * since the hash was taken"). Holdout classes are checked against each data
 * set read. */
VbStatus runplan_files(const char *const *files, int nfiles, const RunnerOptions *o, DataCache *dc,
                       Plan *plans);
void runplan_free(Plan *p);

/* "variant/holdout/seedN" */
void runplan_label(const Experiment *e, const Cell *c, char *buf, size_t n);
/* The dry-run listing: the matrix with run/skip and the hash of each cell. */
void runplan_print(const Plan *p);

#endif
