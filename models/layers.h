/* layers: the building blocks models are made of — linear, convolution,
 * batchnorm (with fused activation), dropout sites, and the Linear → ReLU →
 * BatchNorm1d → Dropout block the seed uses in its heads and feature VAE.
 *
 * A layer registers its parameters in the model's ParamTable under PyTorch
 * names and requests its activation buffers from an ActPlan while the model
 * is built for its largest batch; plan_commit then carves every buffer out
 * of one arena, so nothing is allocated during a step. Layers compute
 * through the Net's KOps table only (no backend code here).
 *
 * Backward temporaries come from Net.scratch, which callers reset to a mark
 * around each block; sizes are known at build time (net_scratch_need). */
#ifndef VB_LAYERS_H
#define VB_LAYERS_H

#include <stdbool.h>
#include <stddef.h>

#include "kernels/arena.h"
#include "kernels/kernels.h"
#include "models/params.h"

/* Requests for activation buffers, filled in by plan_commit. */
typedef struct ActPlan {
    float ***slot;
    size_t *size;
    int n, cap;
    size_t total; /* floats incl. alignment */
} ActPlan;

void plan_init(ActPlan *p);
void plan_req(ActPlan *p, float **slot, size_t floats);
/* Allocate one arena for all requests and point every slot into it. */
VbStatus plan_commit(ActPlan *p, Arena *arena, const KOps *k);
void plan_free(ActPlan *p);

/* Dropout site: a named mask buffer. In training the mask is drawn from the
 * counter RNG (stream "dropout", sub-stream = site index, step, element) unless
 * the caller set Net.external_noise and filled the mask itself (PyTorch
 * parity tests pass PyTorch's masks in). */
typedef struct Dropout {
    char name[64];
    int site; /* index among the model's dropout sites */
    float p;
    size_t max_n; /* floats of the mask at the largest batch */
    float *mask;
} Dropout;

#define NET_MAX_SITES 64

/* Shared state of one model during a step. */
typedef struct Net {
    const KOps *k;
    ParamTable *pt;
    ActPlan plan;
    Arena act;                  /* activations (plan) */
    Arena scratch;              /* backward temporaries, reset per block */
    size_t scratch_need;        /* floats, max over blocks, set while building */
    bool train;                 /* dropout on, BN batch statistics */
    bool update_bn;             /* update BN running statistics (off for SAM's second pass) */
    bool external_noise;        /* masks/eps were filled by the caller */
    float bn_momentum_override; /* >= 0: use instead of each BN's momentum (SWA BN update) */
    RngStream dropout_rng;
    uint64_t step;
    Dropout *sites[NET_MAX_SITES];
    int nsites;
    /* BatchNorm without affine parameters reads gamma = 1, beta = 0 from
     * these (backend memory, ones_n floats each, made by net_commit). */
    size_t ones_n;
    float *ones, *zeros;
} Net;

void net_init(Net *n, const KOps *k, ParamTable *pt);
/* Called after the model registered everything: allocate params, activations, scratch. */
VbStatus net_commit(Net *n);
void net_free(Net *n);
void net_need_scratch(Net *n, size_t floats);
Dropout *net_find_site(Net *n, const char *name);

typedef struct Linear {
    int in, out;
    int w, b; /* param indices; b = -1 without bias */
} Linear;
void linear_make(Linear *l, ParamTable *pt, const char *prefix, int in, int out, bool bias);
void lin_fwd(Net *n, const Linear *l, int rows, const float *x, float *y);
/* dx overwrite (may be NULL), parameter grads accumulate. */
void lin_bwd(Net *n, const Linear *l, int rows, const float *x, const float *dy, float *dx);

typedef struct Bn {
    int c;
    int gamma, beta, rmean, rvar; /* gamma = beta = -1 without affine parameters */
    KAct act;
    float eps, momentum;
    float *mean, *invstd; /* saved by the training forward */
} Bn;
void bn_make(Bn *b, Net *n, const char *prefix, int c, KAct act, float eps, float momentum);
/* BatchNorm with (affine) or without learned gamma/beta (PyTorch's
 * affine=False: only running_mean and running_var under the prefix; the
 * kernels see gamma = 1, beta = 0, which is the same arithmetic). */
void bn_make_affine(Bn *b, Net *n, const char *prefix, int c, KAct act, float eps, float momentum,
                    bool affine);
void bn_fwd(Net *n, Bn *b, int rows, const float *x, float *y);
void bn_bwd(Net *n, const Bn *b, int rows, const float *x, const float *dy, float *dx);

void dropout_make(Dropout *d, Net *n, const char *name, float p, size_t max_n);
/* y = x * mask in training (mask drawn unless external), y = x in eval.
 * y may alias x. */
void dropout_fwd(Net *n, Dropout *d, size_t count, const float *x, float *y);
void dropout_bwd(Net *n, const Dropout *d, size_t count, const float *dy, float *dx);

/* Linear → ReLU → BatchNorm1d → Dropout, named prefix.{i, i+2} as in a
 * PyTorch nn.Sequential starting at index i. */
typedef struct MlpBlock {
    Linear lin;
    Bn bn;
    Dropout drop;
    int max_rows;
    float *z;  /* linear output (pre-ReLU) [rows, out] */
    float *r;  /* ReLU output = BN input */
    float *y;  /* block output (after dropout) */
    float *dx; /* gradient w.r.t. the block input [rows, in] */
} MlpBlock;
void mlp_make(MlpBlock *m, Net *n, const char *prefix, int first_index, int in, int out,
              float dropout, int max_rows);
/* The same with the Linear's bias and the BN's affine parameters optional
 * (mlp_make: both on). */
void mlp_make_opts(MlpBlock *m, Net *n, const char *prefix, int first_index, int in, int out,
                   float dropout, int max_rows, bool bias, bool affine);
void mlp_fwd(Net *n, MlpBlock *m, int rows, const float *x);
/* dy is consumed (overwritten); writes m->dx. */
void mlp_bwd(Net *n, MlpBlock *m, int rows, const float *x, float *dy);

#endif
