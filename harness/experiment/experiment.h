/* experiment: experiment files and their matrix.
 *
 * A file names a data set, holdouts (anomaly classes kept out of training;
 * an axis), base settings (model, train, eval), variants (named dotted-key
 * overrides, `extends:` for inheritance), seeds (an axis), a backend, and
 * what a comparison decides on. experiment_load validates the whole file —
 * unknown keys, wrong types, impossible values, unknown class names, a
 * `extends` cycle — and reports the first problem as FILE:LINE:COL with a
 * hint; nothing runs until the file is valid. experiment_cells expands
 * variants × holdouts × seeds into fully resolved run configurations, each
 * with canonical JSON and a config hash (config + dataset digest; the code
 * version is recorded beside it, not in it). An optional `slurm:` section
 * holds defaults for `vadbench slurm submit` (outside every hash). Keys are
 * documented in experiments/README.md. */
#ifndef VB_EXPERIMENT_H
#define VB_EXPERIMENT_H

#include <jansson.h>

#include "harness/experiment/claims.h"
#include "harness/experiment/confighash.h"
#include "harness/experiment/schema.h"
#include "harness/experiment/validate.h"

#define EXP_MAX_CLASSES 64
#define EXP_MAX_CELLS 100000 /* variants x holdouts x seeds of one file */
#define EXP_NAME 64

typedef struct Holdout {
    char name[EXP_NAME];
    int n;
    char classes[EXP_MAX_CLASSES][EXP_NAME];
} Holdout;

typedef struct CompareTol {
    char metric[96];
    double tol;
} CompareTol;

/* Defaults for `vadbench slurm submit` from the file's optional `slurm:`
 * section (command-line options override them). Not part of any cell's
 * config or hash: where a cell runs does not change what it computes.
 * Empty strings and 0 mean "not set" (Slurm's own default applies). */
#define EXP_SLURM_MAX_ARGS 32
typedef struct ExpSlurm {
    char partition[128], time[32], mem[32], account[128], qos[128], gpus_per_task[32];
    int cpus_per_task;
    int array_parallelism; /* at most this many array tasks at once (%K) */
    int grace_s;           /* seconds of SIGUSR1 warning before the time limit */
    int nargs;             /* extra sbatch arguments, one token each */
    char args[EXP_SLURM_MAX_ARGS][256];
} ExpSlurm;

typedef struct Experiment {
    char *file;
    char name[128];
    char *description;
    int nvariants;
    char (*variant)[EXP_NAME];
    RunConfig *vcfg; /* resolved per variant */
    int nholdouts;   /* at least 1 (a "none" holdout when the file lists none) */
    Holdout *holdout;
    int nseeds;
    int *seeds;
    KBackend backend;
    int threads; /* 0 = all cores */
    char baseline[EXP_NAME];
    int nmetrics;
    char (*metrics)[96];
    int ntol;
    CompareTol *tol;
    double latency_factor;
    int nclaims; /* compare.claims (claims.h) */
    Claim *claims;
    ExpSlurm slurm;
} Experiment;

typedef struct Cell {
    int variant, holdout, seed;
    RunConfig cfg;
    json_t *config;       /* the full resolved form (owned) */
    char hash[33];        /* config hash (confighash.h) */
    char legacy_hash[33]; /* the same cell's hash format 1 (older stores) */
} Cell;

VbStatus experiment_load(const char *path, Experiment *e);
void experiment_free(Experiment *e);
/* Class names a data source knows before reading it (for holdout checks):
 * the 14 UCF-Crime classes for synthetic and ucf_crime, Fashion-MNIST's 10. */
int experiment_known_classes(const DataConfig *d, const char *const **names);
/* Expand the matrix (variant-major, then holdout, then seed). digests[v] is
 * the content digest of variant v's data set; it goes into the hash. */
VbStatus experiment_cells(const Experiment *e, const char *const *digests, Cell **cells, int *n);
void experiment_cells_free(Cell *cells, int n);
/* Rebuild a RunConfig from a cell's stored JSON. */
VbStatus run_config_from_json(json_t *config, RunConfig *rc);

/* Read a model configuration from a file holding a top-level `model:`
 * mapping (or, for an experiment file, from `base.model` plus the variant's
 * `model.*` overrides when variant is not NULL). Defaults first. */
VbStatus cfg_read_model_file(const char *path, const char *variant, ModelConfig *out);

#endif
