/* pretrain: autoencoder pretraining of a LeNet backbone before Deep SVDD
 * (train.pretrain.epochs > 0), as Ruff et al. describe it — and with the
 * pretrained encoder really loaded into the network, which the public
 * Deep-SAD-PyTorch code never does (its init_network_weights_from_pretraining
 * matches "encoder.*" names against unprefixed ones and copies nothing).
 *
 * Ruff's autoencoder (models/lenet_ae.h) with the model's LeNet settings is
 * trained for train.pretrain.epochs on the training loader's batches (MSE,
 * train.optimizer with train.pretrain.lr / weight_decay, epoch steps at
 * train.pretrain.milestones by train.gamma), then every encoder tensor
 * (weights and BatchNorm statistics) is copied onto the model's
 * backbone.lenet.* tensors. The loader is left at its start.
 *
 * Not checkpointed: a run stopped during pretraining pretrains again (the
 * same numbers: nothing in it is random but the initialisation, drawn from
 * the run seed). Must not be asked to: pretrain a backbone other than LeNet
 * (an error, as from the experiment file's check). */
#ifndef VB_PRETRAIN_H
#define VB_PRETRAIN_H

#include "datasets/loader.h"
#include "harness/experiment/experiment.h"
#include "models/hybrid.h"

/* Per epoch: the mean training loss; return false to stop (Ctrl-C). */
typedef bool (*PretrainLogFn)(void *ctx, int epoch, int epochs, double loss, double seconds);

typedef struct PretrainResult {
    int epochs_run;
    double final_loss, seconds;
    bool stopped;
} PretrainResult;

VbStatus pretrain_autoencoder(Hybrid *m, const TrainConfig *tc, Loader *train, uint64_t seed,
                              PretrainLogFn log, void *ctx, PretrainResult *res);

#endif
