/* params: the named parameter table.
 *
 * Every tensor of a model — trainable weights, BatchNorm running statistics,
 * the SVDD centre — is an entry with its PyTorch state_dict name, shape and
 * an offset into ONE backend buffer. Gradients and the optimiser's moments
 * use the same offsets in buffers of their own, so the optimiser, clipping,
 * SWA, checkpoints and safetensors I/O are flat loops.
 *
 * Layout: offsets are assigned by params_alloc, trainable entries first
 * (floats [0, n_train)), then buffers (running stats, centre), each entry
 * aligned to 16 floats. Entries are registered while a model is built and
 * never removed. */
#ifndef VB_PARAMS_H
#define VB_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/kernels.h"

typedef enum ParamKind {
    PARAM_TRAIN = 0, /* learned by the optimiser */
    PARAM_BUFFER, /* state saved with the weights but not trained (BN running stats, SVDD centre) */
} ParamKind;

/* How hybrid_init fills a tensor (set by the layer that registers it). */
typedef enum ParamInit {
    INIT_ZEROS = 0,
    INIT_ONES,
    INIT_UNIFORM,    /* U(-1/sqrt(fan), 1/sqrt(fan)): PyTorch's Linear/Conv/RNN default */
    INIT_KAIMING_OUT /* N(0, 2/fan): torchvision's conv init with fan = fan_out */
} ParamInit;

#define PARAM_NAME_MAX 128
#define PARAM_MAX_DIMS 4

/* What a buffer is, for code that must treat it specially (SWA's BatchNorm
 * update): set by the layer that registers it, never guessed from names. */
typedef enum ParamRole {
    PARAM_ROLE_NONE = 0,
    PARAM_ROLE_BN_MEAN, /* BatchNorm running mean (reset to 0) */
    PARAM_ROLE_BN_VAR,  /* BatchNorm running variance (reset to 1) */
} ParamRole;

typedef struct Param {
    char name[PARAM_NAME_MAX];
    ParamKind kind;
    ParamRole role;
    int ndim;
    int64_t shape[PARAM_MAX_DIMS];
    size_t numel;
    size_t offset; /* floats from the start of data/grad/m/v; set by params_alloc */
    ParamInit init;
    double fan;
    bool packable;      /* a weight [shape0, numel/shape0] used as W^T in forward ops */
    size_t pack_offset; /* floats into ParamTable.packed */
} Param;

typedef struct ParamTable {
    Param *p;
    int n, cap;
    const KOps *k;
    size_t n_train; /* floats of the trainable range (incl. alignment) */
    size_t total;   /* floats of the whole buffer */
    float *data;    /* backend memory */
    float *grad;    /* same layout; only the trainable range is used */
    float *packed;  /* packed copies of the packable weights (params_pack), or NULL */
} ParamTable;

void params_init(ParamTable *t);
/* Register a tensor (dims beyond ndim ignored). Returns its index.
 * Names must be unique (asserted). Only before params_alloc. */
int params_add(ParamTable *t, const char *name, ParamKind kind, int ndim, int64_t d0, int64_t d1,
               int64_t d2, int64_t d3);
void params_set_init(ParamTable *t, int i, ParamInit init, double fan);
void params_set_role(ParamTable *t, int i, ParamRole role);
/* Mark a weight W [shape0, numel/shape0] that forward ops multiply as W^T
 * (linear, 1x1 conv, SE, RNN, attention weights): params_pack packs it. */
void params_set_packable(ParamTable *t, int i);
/* Hand every packable weight to the backend in its GEMM layout (kops
 * pack_weight), repacking when already packed; forward ops then use the
 * packed copies. Only while the weights stay fixed (evaluation): call
 * params_unpack before changing them, params_pack again after. No-op on a
 * backend without packed weights. VB_ERR_NOMEM when the copies do not fit. */
VbStatus params_pack(ParamTable *t);
void params_unpack(ParamTable *t);
/* Fill every tensor per its ParamInit from the counter RNG stream "init" of
 * `seed`, one sub-stream per parameter name (adding a tensor never shifts
 * another's values). */
void params_init_values(ParamTable *t, uint64_t seed);
/* Assign offsets and allocate data and grad on backend k (zeroed). */
VbStatus params_alloc(ParamTable *t, const KOps *k);
void params_free(ParamTable *t);

int params_find(const ParamTable *t, const char *name); /* -1 if absent */
static inline float *params_data(const ParamTable *t, int i) { return t->data + t->p[i].offset; }
static inline float *params_grad(const ParamTable *t, int i) { return t->grad + t->p[i].offset; }
/* Number of values (not counting padding) of the given kind. */
size_t params_count(const ParamTable *t, ParamKind kind);
/* "[a, b, c]" */
void params_shape_str(const Param *p, char *buf, size_t n);

#endif
