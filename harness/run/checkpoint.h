/* checkpoint: everything a run needs to continue to the same bits, in one
 * safetensors file written atomically (temp file + fsync + rename):
 * parameters and buffers (flat), AdamW moments, the SWA average, and a JSON
 * state (step, epoch, loader position, Adam step, SWA count, SVDD state,
 * early-stopping state, elapsed time, the running epoch loss) in the
 * metadata, with the run's config hash, a digest of the parameter layout
 * and a checksum of all of it. Loading reads and verifies everything on the
 * host first and refuses (VB_ERR_INPUT, naming the file) one whose hash or
 * layout differs, whose checksum does not match its bytes, or that is
 * truncated or malformed; the model and optimiser are left untouched then.
 * Checkpoints of format 1 (before checksums) are still read. */
#ifndef VB_CHECKPOINT_H
#define VB_CHECKPOINT_H

#include <stdbool.h>
#include <stdint.h>

#include "models/hybrid.h"
#include "models/optim.h"

typedef struct CkptState {
    int64_t step; /* optimiser steps done */
    int epoch;    /* epoch in progress (or next) */
    uint64_t loader_epoch, loader_batch;
    int64_t adam_step;
    int swa_n; /* models averaged so far */
    bool svdd_on;
    double svdd_r2;
    double best_metric;
    int bad_epochs, best_epoch;
    double seconds; /* training time so far */
    bool finished;  /* training complete (weights are final) */
    /* the epoch in progress: sum and count of its step losses so far (a run
     * resumed mid-epoch reports the same epoch mean as one that never
     * stopped); files written before these existed read as 0 */
    double epoch_loss_sum;
    int64_t epoch_loss_n;
} CkptState;

/* swa may be NULL (no SWA state); it is backend memory of pt.total floats. */
VbStatus ckpt_save(const char *path, const Hybrid *m, const AdamW *o, const float *swa,
                   const CkptState *s, const char *config_hash);
/* The checkpoint must belong to config_hash, or to alias_hash when that is
 * not NULL (the same cell's legacy hash, for checkpoints of older stores). */
VbStatus ckpt_load(const char *path, Hybrid *m, AdamW *o, float *swa, CkptState *s,
                   const char *config_hash, const char *alias_hash);
/* Digest of parameter names and shapes (hex). */
void ckpt_layout_digest(const ParamTable *pt, char out[17]);

#endif
