/* pretrain: the autoencoder pretraining loop and the encoder transfer
 * (see pretrain.h). */
#include "harness/run/pretrain.h"

#include <math.h>
#include <string.h>

#include "kernels/clock.h"
#include "models/lenet_ae.h"
#include "models/optim.h"
#include "models/schedule.h"

VbStatus pretrain_autoencoder(Hybrid *m, const TrainConfig *tc, Loader *train, uint64_t seed,
                              PretrainLogFn log, void *ctx, PretrainResult *res) {
    memset(res, 0, sizeof *res);
    if (m->cfg.backbone != BACKBONE_LENET)
        return VB_FAIL(VB_ERR_INPUT, "train.pretrain needs model.backbone.name lenet");
    const KOps *k = m->net.k;
    LeNetConfig lc;
    model_lenet_config(&m->cfg, &lc);
    LeNetAe ae;
    VB_TRY(lenet_ae_build(&ae, &lc, k, tc->batch_size));
    params_init_values(&ae.pt, seed);
    AdamW opt;
    VbStatus st = (tc->optimizer == OPTIM_ADAM ? adam_l2_init : adamw_init)(
        &opt, &ae.pt, (float)tc->beta1, (float)tc->beta2, (float)tc->eps,
        (float)tc->pretrain_weight_decay);
    if (st != VB_OK) {
        lenet_ae_free(&ae);
        return st;
    }
    Schedule s;
    memset(&s, 0, sizeof s);
    s.kind = SCHED_STEP, s.max_lr = tc->pretrain_lr, s.gamma = tc->gamma, s.swa_start = -1;
    s.steps_per_epoch = (int64_t)loader_batches_per_epoch(train);
    s.nmilestones = tc->pretrain_nmilestones;
    for (int i = 0; i < s.nmilestones; i++) s.milestones[i] = tc->pretrain_milestones[i];
    s.total = s.steps_per_epoch * tc->pretrain_epochs;
    int S = m->cfg.image, Ch = m->cfg.channels;
    float *xdev = k->alloc((size_t)tc->batch_size * S * S * Ch * sizeof(float));
    if (!xdev) st = VB_FAIL(VB_ERR_NOMEM, "cannot allocate the pretraining input");
    if (st == VB_OK) st = loader_seek(train, (LoaderPos){0, 0});
    ae.net.train = true;
    double t0 = vb_now_s();
    int64_t step = 0;
    for (int e = 0; e < tc->pretrain_epochs && st == VB_OK && !res->stopped; e++) {
        double e0 = vb_now_s(), sum = 0;
        for (int64_t b = 0; b < s.steps_per_epoch && st == VB_OK; b++, step++) {
            const Batch *bt = loader_next(train);
            if (!bt) {
                st = VB_FAIL(VB_ERR_IO, "the training loader stopped during pretraining");
                break;
            }
            k->upload(xdev, bt->x, (size_t)bt->n * S * S * Ch * sizeof(float));
            optim_zero_grad(&ae.pt);
            double loss = lenet_ae_forward(&ae, bt->n, xdev);
            if (!isfinite(loss)) {
                st = VB_FAIL(VB_ERR_NUMERIC,
                             "the autoencoder's loss is %g at pretraining step %lld (epoch %d)",
                             loss, (long long)step, e);
                break;
            }
            lenet_ae_backward(&ae, bt->n, xdev);
            adamw_step(&opt, &ae.pt, (float)schedule_lr(&s, step));
            sum += loss;
        }
        if (st != VB_OK) break;
        res->epochs_run = e + 1;
        res->final_loss = sum / (double)s.steps_per_epoch;
        if (log && !log(ctx, e, tc->pretrain_epochs, res->final_loss, vb_now_s() - e0))
            res->stopped = true;
    }
    res->seconds = vb_now_s() - t0;
    if (st == VB_OK && !res->stopped) st = lenet_ae_load_encoder(&ae, &m->pt, "backbone.lenet.");
    if (st == VB_OK) st = loader_seek(train, (LoaderPos){0, 0});
    if (xdev) k->free(xdev);
    adamw_free(&opt);
    lenet_ae_free(&ae);
    return st;
}
