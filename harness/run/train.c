/* train: one run's training loop (see train.h). */
#include "harness/run/train.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness/run/checkpoint.h"
#include "kernels/clock.h"
#include "models/mixup.h"
#include "models/optim.h"

/* Per-step results (loss parts, gradient norm) stay in backend memory until
 * STAT_RING steps are pending or FLUSH_S seconds have passed, an epoch ends,
 * a checkpoint is written or the run stops; then one read brings them back
 * and the steps are checked and logged in order. On a GPU this keeps the
 * host from waiting for each step; results never depend on it. */
#define STAT_RING 64
#define STAT_W (K_LOSS_PARTS + 1) /* doubles per step: the parts, then the gradient norm */
#define FLUSH_S 0.5

typedef struct Pending {
    int64_t step;
    int epoch, n;
    double lr;
    bool swa_active;
} Pending;

struct Trainer {
    Hybrid *m;
    TrainConfig tc;
    TrainData d;
    uint64_t seed;
    char *ckpt, *hash;
    AdamW opt;
    Schedule sched;
    LossConfig lc;
    double *alpha; /* per-class focal α (balanced) */
    LossWork lw;
    int max_b, T, S;
    float *xhost, *xtmp, *xdev;
    int *ya, *yb, *aa, *ab, *perm;
    float *lam;
    float *swa, *sam_e, *sam_t, *lw_tmp; /* backend buffers */
    float *dist;
    size_t ndist, cap_dist; /* normal SVDD distances this epoch */
    double *stats;          /* backend [STAT_RING + 1, STAT_W]; the last row is scratch */
    double *stats_host;     /* [STAT_RING, STAT_W] */
    float *scores;          /* backend [STAT_RING, max_b]: SVDD scores (soft-boundary R²) */
    float *scores_host;
    unsigned char *normal; /* [STAT_RING, max_b]: sample counts towards R² */
    float *cls_host;       /* [max_b, C]: validation logits */
    Pending pend[STAT_RING];
    int npend;
    double flush_t0; /* wall time of the last read */
    CkptState s;
    int64_t spe;
    int swa_epoch;
    TrainLogFn log;
    void *log_ctx;
    volatile sig_atomic_t stop;
    int64_t stop_after;
    char discarded[1024]; /* why trainer_resume threw a checkpoint away ("" if it did not) */
    char *legacy_hash;    /* also accepted in a checkpoint to resume (NULL: none) */
};

VbStatus trainer_new(Hybrid *m, const TrainConfig *tc, const TrainData *d, uint64_t seed,
                     const char *ckpt_path, const char *config_hash, Trainer **out) {
    *out = NULL;
    if (tc->batch_size > m->max_b)
        return VB_FAIL(VB_ERR_INPUT, "train.batch_size %d exceeds the model's batch %d",
                       tc->batch_size, m->max_b);
    Trainer *t = vb_xcalloc(1, sizeof *t);
    t->m = m, t->tc = *tc, t->d = *d, t->seed = seed;
    t->ckpt = ckpt_path ? vb_xstrdup(ckpt_path) : NULL;
    t->hash = vb_xstrdup(config_hash ? config_hash : "");
    t->stop_after = -1;
    const KOps *k = m->net.k;
    VbStatus st = (tc->optimizer == OPTIM_ADAM ? adam_l2_init : adamw_init)(
        &t->opt, &m->pt, (float)tc->beta1, (float)tc->beta2, (float)tc->eps,
        (float)tc->weight_decay);
    t->flush_t0 = vb_now_s();
    if (st != VB_OK) {
        trainer_free(t);
        return st;
    }
    t->spe = (int64_t)loader_batches_per_epoch(d->train);
    if (t->spe < 1) {
        trainer_free(t);
        return VB_FAIL(VB_ERR_INPUT, "the training set has fewer clips than one batch (%d)",
                       tc->batch_size);
    }
    Schedule *s = &t->sched;
    s->kind = tc->schedule;
    s->max_lr = tc->lr, s->pct = tc->warmup, s->div = tc->div_factor;
    s->final_div = tc->final_div_factor, s->cycle_momentum = tc->cycle_momentum;
    s->base_m = 0.85, s->max_m = 0.95;
    s->total = t->spe * tc->epochs;
    s->steps_per_epoch = t->spe;
    s->nmilestones = tc->nmilestones;
    for (int i = 0; i < tc->nmilestones; i++) s->milestones[i] = tc->milestones[i];
    s->gamma = tc->gamma;
    t->swa_epoch = tc->swa ? (int)floor(tc->swa_start * tc->epochs) : -1;
    if (tc->swa && t->swa_epoch >= tc->epochs) t->swa_epoch = tc->epochs - 1;
    s->swa_start = tc->swa ? t->swa_epoch * t->spe : -1;
    s->swa_lr = tc->swa_lr, s->swa_anneal = (int64_t)tc->swa_anneal_epochs * t->spe;
    loss_config_defaults(&t->lc);
    LossConfig *lc = &t->lc;
    lc->gamma = tc->focal_gamma, lc->alpha = tc->focal_alpha, lc->smoothing = tc->label_smoothing;
    lc->w_cls = tc->w_cls, lc->w_bin = tc->w_bin, lc->w_svdd = tc->w_svdd, lc->w_vae = tc->w_vae;
    lc->vae_beta = tc->vae_beta;
    lc->svdd_mode = tc->svdd_mode;
    lc->svdd_nu = tc->svdd_nu;
    lc->svdd_on = false; /* until the centre is estimated */
    int C = m->cfg.classes;
    if (tc->class_alpha == CLASS_ALPHA_BALANCED && d->class_counts) {
        /* sklearn's "balanced": n / (C · count_c) */
        t->alpha = vb_xcalloc((size_t)C, sizeof(double));
        double n = 0;
        for (int c = 0; c < C; c++) n += d->class_counts[c];
        for (int c = 0; c < C; c++)
            t->alpha[c] = d->class_counts[c] > 0 ? n / ((double)C * d->class_counts[c]) : 0.0;
        lc->class_alpha = t->alpha;
    }
    st = loss_work_init(&t->lw, m);
    if (st != VB_OK) {
        trainer_free(t);
        return st;
    }
    t->max_b = m->max_b, t->T = m->max_t, t->S = m->cfg.image;
    size_t nx = (size_t)t->max_b * t->T * t->S * t->S * m->cfg.channels;
    t->xhost = vb_xmalloc(nx * sizeof(float));
    t->xtmp = vb_xmalloc(nx * sizeof(float));
    t->xdev = k->alloc(nx * sizeof(float));
    size_t b = (size_t)t->max_b;
    t->ya = vb_xcalloc(b, sizeof(int)), t->yb = vb_xcalloc(b, sizeof(int));
    t->aa = vb_xcalloc(b, sizeof(int)), t->ab = vb_xcalloc(b, sizeof(int));
    t->perm = vb_xcalloc(b, sizeof(int));
    t->lam = vb_xcalloc(b, sizeof(float));
    if (tc->swa) {
        t->swa = k->alloc(m->pt.total * sizeof(float));
        t->lw_tmp = k->alloc(m->pt.n_train * sizeof(float) + 64);
    }
    if (tc->sam) {
        t->sam_e = k->alloc(m->pt.n_train * sizeof(float) + 64);
        t->sam_t = k->alloc(m->pt.n_train * sizeof(float) + 64);
    }
    t->stats = k->alloc((size_t)(STAT_RING + 1) * STAT_W * sizeof(double));
    t->stats_host = vb_xcalloc((size_t)STAT_RING * STAT_W, sizeof(double));
    t->scores = k->alloc((size_t)STAT_RING * t->max_b * sizeof(float));
    t->scores_host = vb_xcalloc((size_t)STAT_RING * t->max_b, sizeof(float));
    t->normal = vb_xcalloc((size_t)STAT_RING * t->max_b, 1);
    t->cls_host = vb_xcalloc((size_t)t->max_b * C, sizeof(float));
    if (!t->xdev || (tc->swa && (!t->swa || !t->lw_tmp)) || (tc->sam && (!t->sam_e || !t->sam_t)) ||
        !t->stats || !t->scores) {
        size_t fr, tot;
        k->mem_info(&fr, &tot);
        trainer_free(t);
        return VB_FAIL(VB_ERR_NOMEM,
                       "cannot allocate training buffers on backend %s (input %.1f MiB, %s%s"
                       "%.1f MiB free of %.1f MiB)",
                       k->name, (double)nx * 4 / 1048576.0, tc->sam ? "SAM 2 x parameters, " : "",
                       tc->swa ? "SWA 2 x parameters, " : "", (double)fr / 1048576.0,
                       (double)tot / 1048576.0);
    }
    t->s.best_metric = NAN;
    m->net.dropout_rng = rng_stream(seed, "dropout");
    *out = t;
    return VB_OK;
}

void trainer_free(Trainer *t) {
    if (!t) return;
    const KOps *k = t->m->net.k;
    adamw_free(&t->opt);
    loss_work_free(&t->lw);
    free(t->alpha), free(t->xhost), free(t->xtmp), free(t->ya), free(t->yb), free(t->aa);
    free(t->ab), free(t->perm), free(t->lam), free(t->dist), free(t->ckpt), free(t->hash);
    free(t->legacy_hash);
    if (t->xdev) k->free(t->xdev);
    if (t->swa) k->free(t->swa);
    if (t->lw_tmp) k->free(t->lw_tmp);
    if (t->sam_e) k->free(t->sam_e);
    if (t->sam_t) k->free(t->sam_t);
    if (t->stats) k->free(t->stats);
    if (t->scores) k->free(t->scores);
    free(t->stats_host), free(t->scores_host), free(t->normal), free(t->cls_host);
    free(t);
}

void trainer_set_logger(Trainer *t, TrainLogFn fn, void *ctx) { t->log = fn, t->log_ctx = ctx; }
void trainer_request_stop(Trainer *t) { t->stop = 1; }
void trainer_stop_after(Trainer *t, int64_t steps) { t->stop_after = steps; }
const char *trainer_discarded(const Trainer *t) { return t->discarded[0] ? t->discarded : NULL; }
int64_t trainer_step(const Trainer *t) { return t->s.step; }

static VbStatus flush(Trainer *t);

static VbStatus save(Trainer *t) {
    VB_TRY(flush(t));
    if (!t->ckpt) return VB_OK;
    LoaderPos p = loader_position(t->d.train);
    t->s.loader_epoch = p.epoch, t->s.loader_batch = p.batch;
    t->s.adam_step = t->opt.step;
    t->s.svdd_on = t->lc.svdd_on, t->s.svdd_r2 = t->lc.svdd_r2;
    return ckpt_save(t->ckpt, t->m, &t->opt, t->swa, &t->s, t->hash);
}

void trainer_accept_legacy_hash(Trainer *t, const char *legacy_hash) {
    free(t->legacy_hash);
    t->legacy_hash = legacy_hash ? vb_xstrdup(legacy_hash) : NULL;
}

VbStatus trainer_resume(Trainer *t, bool *resumed) {
    *resumed = false;
    struct stat sb;
    if (!t->ckpt || stat(t->ckpt, &sb) != 0) return VB_OK;
    VbStatus st = ckpt_load(t->ckpt, t->m, &t->opt, t->swa, &t->s, t->hash, t->legacy_hash);
    if (st == VB_ERR_INPUT) {
        /* damaged, truncated or from another model: it can never be resumed, and
         * ckpt_load left the model untouched, so start over without it */
        char why[900];
        snprintf(why, sizeof why, "%s", vb_errmsg());
        bool gone = unlink(t->ckpt) == 0;
        snprintf(t->discarded, sizeof t->discarded,
                 "checkpoint discarded, the cell starts over: %s%s", why,
                 gone ? "" : " (the file could not be removed)");
        vb_clear_error();
        return VB_OK;
    }
    VB_TRY(st); /* an unreadable file (I/O) is not proof of damage: fail, keep it */
    t->lc.svdd_on = t->s.svdd_on, t->lc.svdd_r2 = t->s.svdd_r2;
    LoaderPos p = {t->s.loader_epoch, t->s.loader_batch};
    VB_TRY(loader_seek(t->d.train, p));
    *resumed = true;
    return VB_OK;
}

/* Copy a loader batch into the model's input, with targets. */
static int prepare_batch(Trainer *t, const Batch *bt, bool mix) {
    int n = bt->n;
    VB_ASSERT(bt->c == t->m->cfg.channels && bt->h == t->S);
    size_t nx = (size_t)n * bt->T * bt->h * bt->w * bt->c;
    memcpy(t->xhost, bt->x, nx * sizeof(float));
    for (int i = 0; i < n; i++) {
        int c = t->d.class_map[bt->cls[i]];
        VB_ASSERT(c >= 0); /* held-out classes never reach training */
        t->ya[i] = c, t->aa[i] = bt->anomaly[i];
    }
    MixResult r = {false, false, 1.0f, {0}};
    if (mix) {
        MixConfig mc = {t->tc.mix_p, t->tc.mixup_alpha, t->tc.cutmix_alpha, t->tc.mix_switch};
        r = mix_batch(&mc, rng_stream(t->seed, "mixup"), (uint64_t)t->s.step, n, bt->T, bt->h,
                      bt->w, t->xhost, t->xtmp, t->perm);
    } else {
        for (int i = 0; i < n; i++) t->perm[i] = i;
    }
    for (int i = 0; i < n; i++) {
        t->yb[i] = t->ya[t->perm[i]], t->ab[i] = t->aa[t->perm[i]];
        t->lam[i] = r.lam;
    }
    t->m->net.k->upload(t->xdev, t->xhost, nx * sizeof(float));
    return n;
}

static void record_distance(Trainer *t, float d) {
    if (t->ndist == t->cap_dist) {
        t->cap_dist = t->cap_dist ? 2 * t->cap_dist : 1024;
        t->dist = vb_xrealloc(t->dist, t->cap_dist * sizeof(float));
    }
    t->dist[t->ndist++] = d;
}

/* Read the pending steps' results back, check them and log them in order. */
static VbStatus flush(Trainer *t) {
    if (t->npend == 0) return VB_OK;
    const KOps *k = t->m->net.k;
    int np = t->npend;
    t->npend = 0;
    bool soft = t->lc.svdd_mode == SVDD_SOFT_BOUNDARY;
    k->download(t->stats_host, t->stats, (size_t)np * STAT_W * sizeof(double));
    if (soft) k->download(t->scores_host, t->scores, (size_t)np * t->max_b * sizeof(float));
    VB_TRY(k->status());
    double now = vb_now_s(), dt = now - t->flush_t0;
    t->flush_t0 = now;
    long images = 0;
    for (int i = 0; i < np; i++) images += (long)t->pend[i].n * t->T;
    for (int i = 0; i < np; i++) {
        const Pending *p = &t->pend[i];
        const double *row = t->stats_host + (size_t)i * STAT_W;
        LossParts lp = loss_parts_from(row);
        VB_TRY(loss_parts_check(&lp));
        double gn = row[K_LOSS_PARTS];
        if (!isfinite(gn))
            return VB_FAIL(VB_ERR_NUMERIC, "the gradient norm is %g at step %lld (epoch %d)", gn,
                           (long long)p->step, p->epoch);
        for (int j = 0; soft && j < p->n; j++)
            if (t->normal[(size_t)i * t->max_b + j])
                record_distance(t, t->scores_host[(size_t)i * t->max_b + j]);
        t->s.epoch_loss_sum += lp.total, t->s.epoch_loss_n++;
        TrainEvent ev;
        memset(&ev, 0, sizeof ev);
        ev.kind = TRAIN_STEP;
        ev.step = p->step, ev.epoch = p->epoch, ev.epochs = t->tc.epochs;
        ev.steps_per_epoch = t->spe;
        ev.lr = p->lr, ev.grad_norm = gn, ev.loss = lp;
        ev.swa_active = p->swa_active;
        ev.images_per_s = dt > 0 ? (double)images / dt : 0;
        if (t->log) t->log(t->log_ctx, &ev);
    }
    return VB_OK;
}

bool train_sam_perturb(ParamTable *pt, double rho, bool adaptive, float *e, float *tmp) {
    const KOps *k = pt->k;
    size_t n = pt->n_train;
    double norm;
    if (adaptive) {
        k->mul(n, pt->data, pt->grad, tmp); /* |p|·g up to sign: p·g */
        norm = sqrt(k->sumsq(n, tmp));
        if (!(norm > 0)) return false;
        k->mul(n, pt->data, tmp, e); /* p²·g */
    } else {
        norm = sqrt(k->sumsq(n, pt->grad));
        if (!(norm > 0)) return false;
        k->copy(e, pt->grad, n * sizeof(float));
    }
    k->scale(n, (float)(rho / (norm + 1e-12)), e);
    k->axpy(n, 1.0f, e, pt->data);
    return true;
}

/* One forward, loss and backward; the loss parts land in `parts` (backend). */
static void forward_backward(Trainer *t, int n, double *parts) {
    Hybrid *m = t->m;
    LossTargets tg = {t->ya, t->yb, t->aa, t->ab, t->lam};
    optim_zero_grad(&m->pt);
    hybrid_forward(m, n, t->T, t->xdev);
    loss_enqueue(&t->lc, m, &t->lw, n, t->T, &tg, parts);
    hybrid_backward(m, n, t->T, t->xdev);
}

/* Enqueue one optimiser step; its results join the pending ones. */
static void train_step(Trainer *t, const Batch *bt) {
    Hybrid *m = t->m;
    const KOps *k = m->net.k;
    int n = prepare_batch(t, bt, t->tc.mix_p > 0);
    double lr = schedule_lr(&t->sched, t->s.step), b1 = schedule_beta1(&t->sched, t->s.step);
    if (b1 >= 0) t->opt.b1 = (float)b1;
    m->net.step = (uint64_t)t->s.step;
    hybrid_set_train(m, true);
    m->net.update_bn = true;
    int slot = t->npend;
    double *row = t->stats + (size_t)slot * STAT_W,
           *scratch = t->stats + (size_t)STAT_RING * STAT_W;
    forward_backward(t, n, row);
    if (t->lc.svdd_mode == SVDD_SOFT_BOUNDARY) {
        k->copy(t->scores + (size_t)slot * t->max_b, m->svdd_score, (size_t)n * sizeof(float));
        for (int i = 0; i < n; i++)
            t->normal[(size_t)slot * t->max_b + i] = !t->aa[i] && t->lam[i] == 1.0f;
    }
    if (t->tc.sam) {
        /* a zero norm gives e = 0: the second pass then repeats the first */
        k->sam_perturb(m->pt.n_train, t->tc.sam_rho, t->tc.sam_adaptive, m->pt.data, m->pt.grad,
                       t->sam_e, t->sam_t, scratch + K_LOSS_PARTS);
        m->net.update_bn = false; /* the second pass leaves BN running statistics alone */
        forward_backward(t, n, scratch);
        m->net.update_bn = true;
        k->axpy(m->pt.n_train, -1.0f, t->sam_e, m->pt.data);
    }
    optim_clip_adamw(&t->opt, &m->pt, t->tc.clip_norm, (float)lr, row + K_LOSS_PARTS);
    Pending *p = &t->pend[t->npend++];
    p->step = t->s.step, p->epoch = t->s.epoch, p->n = n, p->lr = lr;
    p->swa_active = t->sched.swa_start >= 0 && t->s.step >= t->sched.swa_start;
}

/* Validation loss (λ = 1, no mixing) and closed-set accuracy. */
static VbStatus validate(Trainer *t, double *loss, double *acc) {
    *loss = NAN, *acc = NAN;
    if (!t->d.val) return VB_OK;
    Hybrid *m = t->m;
    hybrid_set_train(m, false);
    Loader *l = t->d.val;
    VB_TRY(loader_seek(l, (LoaderPos){0, 0}));
    uint64_t nb = loader_batches_per_epoch(l);
    double sum = 0;
    long correct = 0, total = 0;
    int C = m->cfg.classes;
    for (uint64_t b = 0; b < nb; b++) {
        const Batch *bt = loader_next(l);
        if (!bt) return VB_FAIL(VB_ERR_IO, "validation loader stopped early");
        int n = prepare_batch(t, bt, false);
        hybrid_forward(m, n, t->T, t->xdev);
        LossTargets tg = {t->ya, t->yb, t->aa, t->ab, t->lam};
        LossParts lp;
        VB_TRY(loss_compute(&t->lc, m, &t->lw, n, t->T, &tg, &lp));
        sum += lp.total * n;
        m->net.k->download(t->cls_host, m->cls_logits, (size_t)n * C * sizeof(float));
        for (int i = 0; i < n; i++) {
            const float *z = t->cls_host + (size_t)i * C;
            int best = 0;
            for (int c = 1; c < C; c++)
                if (z[c] > z[best]) best = c;
            correct += best == t->ya[i];
        }
        total += n;
    }
    hybrid_set_train(m, true);
    if (total) *loss = sum / total, *acc = (double)correct / total;
    return VB_OK;
}

static bool es_improved(const TrainConfig *tc, double best, double v) {
    if (isnan(v)) return false;
    if (isnan(best)) return true;
    bool higher = tc->es_metric == ES_METRIC_VAL_ACCURACY;
    return higher ? v > best + tc->es_min_delta : v < best - tc->es_min_delta;
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static void swa_update(Trainer *t) {
    ParamTable *pt = &t->m->pt;
    swa_accumulate(t->m->net.k, pt->n_train, pt->data, t->swa, t->lw_tmp, t->s.swa_n);
    t->s.swa_n++;
}

VbStatus train_svdd_center(Hybrid *m, Loader *l, const int *class_map, int normal_class,
                           double floor) {
    const KOps *k = m->net.k;
    int E = m->emb_dim, T = m->max_t, S = m->cfg.image, Ch = m->cfg.channels;
    bool was_train = m->net.train;
    hybrid_set_train(m, false);
    VB_TRY(loader_seek(l, (LoaderPos){0, 0}));
    uint64_t nb = loader_batches_per_epoch(l);
    double *sum = vb_xcalloc((size_t)E, sizeof(double));
    float *e = vb_xmalloc((size_t)m->max_b * E * sizeof(float));
    float *xdev = k->alloc((size_t)m->max_b * T * S * S * Ch * sizeof(float));
    long count = 0;
    VbStatus st = xdev ? VB_OK : VB_FAIL(VB_ERR_NOMEM, "cannot allocate the centre pass input");
    for (uint64_t b = 0; b < nb && st == VB_OK; b++) {
        const Batch *bt = loader_next(l);
        if (!bt) {
            st = VB_FAIL(VB_ERR_IO, "loader stopped during the SVDD centre pass");
            break;
        }
        k->upload(xdev, bt->x, (size_t)bt->n * T * S * S * Ch * sizeof(float));
        hybrid_forward(m, bt->n, T, xdev);
        k->download(e, m->emb_e, (size_t)bt->n * E * sizeof(float));
        for (int i = 0; i < bt->n; i++) {
            if (class_map[bt->cls[i]] != normal_class) continue;
            for (int j = 0; j < E; j++) sum[j] += e[(size_t)i * E + j];
            count++;
        }
    }
    if (st == VB_OK && count == 0)
        st = VB_FAIL(VB_ERR_INPUT, "no normal training samples for the Deep SVDD centre");
    if (st == VB_OK) {
        for (int j = 0; j < E; j++) {
            double c = sum[j] / count;
            if (fabs(c) < floor) c = c < 0 ? -floor : floor; /* Ruff et al.'s guard */
            e[j] = (float)c;
        }
        k->upload(params_data(&m->pt, m->center), e, (size_t)E * sizeof(float));
    }
    if (xdev) k->free(xdev);
    free(sum), free(e);
    hybrid_set_train(m, was_train);
    return st;
}

void train_bn_update(Hybrid *m, Loader *l) {
    const KOps *k = m->net.k;
    ParamTable *pt = &m->pt;
    int T = m->max_t, S = m->cfg.image, Ch = m->cfg.channels;
    /* reset running statistics: mean 0, var 1 */
    for (int i = 0; i < pt->n; i++) {
        const Param *p = &pt->p[i];
        bool var = p->role == PARAM_ROLE_BN_VAR;
        if (p->role != PARAM_ROLE_BN_MEAN && !var) continue;
        float *h = vb_xmalloc(p->numel * sizeof(float));
        for (size_t j = 0; j < p->numel; j++) h[j] = var ? 1.0f : 0.0f;
        k->upload(params_data(pt, i), h, p->numel * sizeof(float));
        free(h);
    }
    bool was_train = m->net.train;
    hybrid_set_train(m, true);
    m->net.update_bn = true;
    float *xdev = k->alloc((size_t)m->max_b * T * S * S * Ch * sizeof(float));
    VB_ASSERT(xdev != NULL);
    if (loader_seek(l, (LoaderPos){0, 0}) == VB_OK) {
        uint64_t nb = loader_batches_per_epoch(l);
        for (uint64_t b = 0; b < nb; b++) {
            const Batch *bt = loader_next(l);
            if (!bt) break;
            /* cumulative average: momentum 1/(k+1) at the k-th batch */
            m->net.bn_momentum_override = 1.0f / (float)(b + 1);
            k->upload(xdev, bt->x, (size_t)bt->n * T * S * S * Ch * sizeof(float));
            hybrid_forward(m, bt->n, T, xdev);
        }
    }
    m->net.bn_momentum_override = -1.0f;
    k->free(xdev);
    hybrid_set_train(m, was_train);
}

static bool should_center(const Trainer *t) {
    const TrainConfig *tc = &t->tc;
    if (tc->w_svdd <= 0) return false;
    if (t->s.loader_batch != 0) return false;
    if (!t->lc.svdd_on) return t->s.epoch >= tc->svdd_warmup_epochs;
    return tc->svdd_recenter_every > 0 && t->s.epoch > tc->svdd_warmup_epochs &&
           (t->s.epoch - tc->svdd_warmup_epochs) % tc->svdd_recenter_every == 0;
}

static VbStatus end_epoch(Trainer *t, double epoch_seconds, double train_loss, bool *stop_early) {
    *stop_early = false;
    const TrainConfig *tc = &t->tc;
    if (tc->swa && t->s.epoch >= t->swa_epoch) swa_update(t);
    if (t->lc.svdd_mode == SVDD_SOFT_BOUNDARY && t->ndist > 0) {
        /* R² ← (1−ν) quantile of this epoch's normal distances */
        qsort(t->dist, t->ndist, sizeof(float), cmp_float);
        size_t q = (size_t)floor((1.0 - tc->svdd_nu) * (double)(t->ndist - 1));
        t->lc.svdd_r2 = t->dist[q];
    }
    t->ndist = 0;
    double vl, va;
    VB_TRY(validate(t, &vl, &va));
    TrainEvent ev;
    memset(&ev, 0, sizeof ev);
    ev.kind = TRAIN_EPOCH;
    ev.step = t->s.step, ev.epoch = t->s.epoch, ev.epochs = tc->epochs;
    ev.val_loss = vl, ev.val_accuracy = va, ev.train_loss = train_loss;
    ev.epoch_seconds = epoch_seconds;
    if (t->log) t->log(t->log_ctx, &ev);
    if (tc->es_metric != ES_METRIC_NONE) {
        double v = tc->es_metric == ES_METRIC_VAL_ACCURACY ? va : vl;
        if (es_improved(tc, t->s.best_metric, v)) {
            t->s.best_metric = v, t->s.bad_epochs = 0, t->s.best_epoch = t->s.epoch;
        } else if (++t->s.bad_epochs >= tc->es_patience) {
            *stop_early = true;
        }
    }
    return VB_OK;
}

static VbStatus finish(Trainer *t) {
    Hybrid *m = t->m;
    if (t->tc.swa && t->s.swa_n > 0) {
        m->net.k->copy(m->pt.data, t->swa, m->pt.n_train * sizeof(float));
        train_bn_update(m, t->d.train_eval);
    }
    t->s.finished = true;
    return save(t);
}

VbStatus trainer_run(Trainer *t, TrainResult *res) {
    memset(res, 0, sizeof *res);
    Hybrid *m = t->m;
    const TrainConfig *tc = &t->tc;
    if (t->s.finished) {
        res->steps = t->s.step, res->epochs_run = t->s.epoch, res->seconds = t->s.seconds;
        return VB_OK;
    }
    double t_start = vb_now_s() - t->s.seconds;
    bool early = false;
    while (t->s.epoch < tc->epochs && !early) {
        if (should_center(t)) {
            VB_TRY(train_svdd_center(m, t->d.train_eval, t->d.class_map, t->d.normal_class,
                                     tc->svdd_center_floor));
            t->lc.svdd_on = true;
            hybrid_set_train(m, true);
        }
        double e0 = vb_now_s();
        if (t->s.loader_batch == 0) t->s.epoch_loss_sum = 0, t->s.epoch_loss_n = 0;
        while (t->s.loader_batch < (uint64_t)t->spe) {
            if (t->stop || (t->stop_after >= 0 && t->s.step >= t->stop_after)) {
                t->s.seconds = vb_now_s() - t_start;
                VB_TRY(save(t));
                res->stopped = true;
                res->steps = t->s.step, res->epochs_run = t->s.epoch;
                return VB_OK;
            }
            const Batch *bt = loader_next(t->d.train);
            if (!bt) return VB_FAIL(VB_ERR_IO, "the training loader stopped");
            train_step(t, bt);
            t->s.step++;
            t->s.loader_batch++;
            if (t->npend == STAT_RING || vb_now_s() - t->flush_t0 >= FLUSH_S) VB_TRY(flush(t));
            if (tc->checkpoint_every > 0 && t->s.step % tc->checkpoint_every == 0 &&
                t->s.loader_batch < (uint64_t)t->spe) {
                t->s.seconds = vb_now_s() - t_start;
                VB_TRY(save(t));
            }
        }
        VB_TRY(flush(t));
        VB_TRY(end_epoch(t, vb_now_s() - e0,
                         t->s.epoch_loss_n ? t->s.epoch_loss_sum / t->s.epoch_loss_n : NAN,
                         &early));
        t->s.epoch++;
        t->s.loader_batch = 0;
        t->s.seconds = vb_now_s() - t_start;
        if (t->s.epoch < tc->epochs && !early) VB_TRY(save(t));
    }
    t->s.seconds = vb_now_s() - t_start;
    VB_TRY(finish(t));
    res->steps = t->s.step, res->epochs_run = t->s.epoch, res->early_stopped = early;
    res->best_metric = t->s.best_metric, res->seconds = t->s.seconds;
    res->images_per_s =
        res->seconds > 0 ? (double)t->s.step * tc->batch_size * t->T / res->seconds : 0;
    return VB_OK;
}
