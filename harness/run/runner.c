/* runner: claim cells, train, evaluate, measure, record. */
#include "harness/run/runner.h"

#include <libgen.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness/experiment/experiment.h"
#include "harness/run/evaluate.h"
#include "harness/run/heartbeat.h"
#include "harness/run/plan.h"
#include "harness/run/pretrain.h"
#include "harness/run/probe.h"
#include "harness/run/rundata.h"
#include "harness/run/train.h"
#include "harness/run/upkeep.h"
#include "harness/store/store.h"
#include "kernels/clock.h"
#include "models/weights.h"

static volatile sig_atomic_t g_stop, g_in_cell, g_interrupt, g_requeue;
/* In a cell the first signal asks it to stop at the next step (a checkpoint
 * is written). SIGINT/SIGTERM outside a cell, or any second signal, find
 * nothing to save: exit now (the store is transactional, checkpoints
 * atomic), 130 when SIGINT/SIGTERM came, else RUNNER_EXIT_REQUEUE. SIGUSR1
 * outside a cell lets the runner finish what it is doing and claim nothing
 * more (runner_exit_status says 75 when cells are left). */
static void on_signal(int sig) {
    if (sig == SIGUSR1) g_requeue = 1;
    else g_interrupt = 1;
    if (g_stop || (sig != SIGUSR1 && !g_in_cell)) _exit(g_interrupt ? 130 : RUNNER_EXIT_REQUEUE);
    g_stop = 1;
}

void runner_install_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
}

/* ---- preemption (SIGUSR1: Slurm's warning before a time limit or a
 * preemption, `sbatch --signal=B:USR1@GRACE`) ---- */

bool runner_requeue_requested(void) { return g_requeue != 0; }

int runner_requeue_exit(const RunnerSummary *sum) {
    if (!g_requeue) return 0;
    /* failed cells (this run's and earlier ones) are finished: a requeue
     * would not change them */
    int failed = sum->failed_total > sum->failed ? sum->failed_total : sum->failed;
    int unfinished = sum->cells - sum->ran - sum->skipped - failed;
    return sum->interrupted > 0 || unfinished > 0 ? RUNNER_EXIT_REQUEUE : 0;
}

int runner_exit_status(const RunnerSummary *sum) {
    if (sum->stopped) return 130;
    int rq = runner_requeue_exit(sum);
    if (rq) return rq;
    if (sum->interrupted) return 130;
    return sum->failed_total > 0 || sum->failed > 0 ? 1 : 0;
}

/* ---- one cell ---- */

typedef struct CellRun {
    Store *st;
    int64_t run_id;
    Trainer *tr;
    Heartbeat *hb;      /* renews the lease for the whole cell */
    VbStatus fail_code; /* why the cell failed (for upkeep_transient) */
    bool lost, quiet, tty;
    const char *label;
    const RunnerOptions *o;
    int index, total;
    double t0, last_print;
    int64_t steps_total;
    VbStatus log_status;
    const char *mirror; /* --mirror: copy the database here before each checkpoint */
    int checkpoint_every;
    bool mirror_warned;
} CellRun;

static void note_status(CellRun *c, VbStatus s) {
    if (s != VB_OK && c->log_status == VB_OK) c->log_status = s;
}

static void progress(CellRun *c, const TrainEvent *ev) {
    double t = vb_now_s();
    if (c->quiet || (!c->tty && t - c->last_print < 10.0) || (c->tty && t - c->last_print < 0.2))
        return;
    c->last_print = t;
    double done = (double)(ev->step + 1) / (double)(c->steps_total ? c->steps_total : 1);
    double eta = done > 0 ? (t - c->t0) * (1 - done) / done : 0;
    fprintf(stderr,
            "%s[cell %d/%d] %s epoch %d/%d step %lld/%lld loss %.4f %.0f img/s ETA %dm%02ds%s",
            c->tty ? "\r\033[K" : "", c->index, c->total, c->label, ev->epoch + 1, ev->epochs,
            (long long)ev->step + 1, (long long)c->steps_total, ev->loss.total, ev->images_per_s,
            (int)eta / 60, (int)eta % 60, c->tty ? "" : "\n");
}

static void on_train_log(CellRun *c, const TrainEvent *ev) {
    if (ev->kind == TRAIN_STEP) {
        const char *keys[] = {
            "loss",     "loss.classification", "loss.binary", "loss.svdd", "loss.vae", "lr",
            "grad_norm"};
        double vals[] = {ev->loss.total, ev->loss.cls, ev->loss.bin, ev->loss.svdd,
                         ev->loss.vae,   ev->lr,       ev->grad_norm};
        for (int i = 0; i < 7; i++)
            note_status(c, store_log_metric(c->st, c->run_id, "train", keys[i], ev->step, ev->epoch,
                                            vals[i]));
        bool owned = !heartbeat_lost(c->hb);
        if (!owned) c->lost = true;
        if (g_stop || !owned) trainer_request_stop(c->tr);
        progress(c, ev);
    } else {
        note_status(c, store_log_metric(c->st, c->run_id, "val", "loss", ev->epoch, ev->epoch,
                                        ev->val_loss));
        note_status(c, store_log_metric(c->st, c->run_id, "val", "accuracy", ev->epoch, ev->epoch,
                                        ev->val_accuracy));
        note_status(c, store_log_metric(c->st, c->run_id, "train", "epoch_loss", ev->epoch,
                                        ev->epoch, ev->train_loss));
        note_status(c, store_log_metric(c->st, c->run_id, "train", "epoch_seconds", ev->epoch,
                                        ev->epoch, ev->epoch_seconds));
        if (!c->quiet && !c->tty)
            fprintf(stderr, "[cell %d/%d] %s epoch %d/%d: val loss %.4f, val accuracy %.3f\n",
                    c->index, c->total, c->label, ev->epoch + 1, ev->epochs, ev->val_loss,
                    ev->val_accuracy);
    }
}

/* --mirror: a consistent copy of the database, written just before each
 * checkpoint (the trainer logs a step or an epoch, then saves). Whatever
 * checkpoint a task killed outright resumes from, the copy holds every metric
 * logged up to it, and the steps after it are logged again: a node-local
 * shard lost with its node costs no curve point. A failed copy is a warning:
 * the job script copies the shard when the task ends anyway. */
static void mirror_before_checkpoint(CellRun *c, const TrainEvent *ev) {
    if (!c->mirror) return;
    bool ckpt = ev->kind == TRAIN_EPOCH ||
                (c->checkpoint_every > 0 && (ev->step + 1) % c->checkpoint_every == 0);
    if (!ckpt) return;
    if (store_backup(c->st, c->mirror) != VB_OK && !c->mirror_warned) {
        fprintf(stderr, "[cell %d/%d] %s: warning: cannot mirror the database: %s\n", c->index,
                c->total, c->label, vb_errmsg());
        c->mirror_warned = true;
    }
    vb_clear_error();
}

static void on_train(void *ctx, const TrainEvent *ev) {
    CellRun *c = ctx;
    on_train_log(c, ev);
    mirror_before_checkpoint(c, ev);
}

/* Autoencoder pretraining epochs: curve under pretrain/loss; false stops. */
static bool on_pretrain(void *ctx, int epoch, int epochs, double loss, double seconds) {
    CellRun *c = ctx;
    note_status(c, store_log_metric(c->st, c->run_id, "pretrain", "loss", epoch, epoch, loss));
    bool owned = !heartbeat_lost(c->hb); /* the heartbeat thread renews the lease */
    if (!owned) c->lost = true;
    if (!c->quiet && (!c->tty || epoch + 1 == epochs))
        fprintf(stderr, "%s[cell %d/%d] %s pretraining epoch %d/%d: loss %.6f (%.1f s)\n",
                c->tty ? "\r\033[K" : "", c->index, c->total, c->label, epoch + 1, epochs, loss,
                seconds);
    return !g_stop && owned;
}

static void on_metric(void *ctx, const char *split, const char *key, int64_t step, double v) {
    CellRun *c = ctx;
    if (step < 0) note_status(c, store_log_final(c->st, c->run_id, split, key, -1, v));
    else note_status(c, store_log_metric(c->st, c->run_id, split, key, step, -1, v));
}

static void on_latency(void *ctx, const char *component, int batch, const double *ms, int n) {
    CellRun *c = ctx;
    note_status(c, store_log_latency(c->st, c->run_id, component, batch, ms, n));
}

typedef enum CellOutcome { CELL_DONE, CELL_FAILED, CELL_STOPPED, CELL_LOST } CellOutcome;

static VbStatus evaluate_cell(CellRun *c, Hybrid *m, const RunConfig *rc, CellData *cd,
                              const Dataset *ds) {
    EvalContext ec = {(const char *const *)ds->classes,
                      ds->nclasses,
                      cd->class_map,
                      m->cfg.classes,
                      cd->normal_model,
                      rc->eval.target_fpr};
    double t0 = vb_now_s();
    /* test hook: an evaluation that takes this much longer (the lease must
     * survive it) */
    if (c->o->test_eval_delay_s > 0) usleep((useconds_t)(c->o->test_eval_delay_s * 1e6));
    for (int pass = 0; pass < (rc->eval.tta > 1 ? 2 : 1); pass++) {
        int tta = pass ? rc->eval.tta : 0;
        bool mx = rc->eval.tta_reduce == TTA_REDUCE_MAX;
        EvalScores val, test;
        VB_TRY(eval_collect(m, cd->val, &ec, tta, mx, &val));
        VbStatus st = eval_collect(m, cd->test, &ec, tta, mx, &test);
        if (st == VB_OK) st = eval_fuse(&val, &test);
        const char *prefix = pass ? "tta." : "";
        if (st == VB_OK) st = eval_metrics(&ec, &val, &val, "val", prefix, on_metric, c);
        if (st == VB_OK) st = eval_metrics(&ec, &val, &test, "test", prefix, on_metric, c);
        eval_scores_free(&val);
        eval_scores_free(&test);
        VB_TRY(st);
    }
    note_status(c, store_log_timing(c->st, c->run_id, "evaluate", vb_now_s() - t0, 1));
    if (rc->eval.latency_samples > 0) {
        t0 = vb_now_s();
        VB_TRY(eval_latency(m, 1, 10, rc->eval.latency_samples, on_latency, c));
        int lb = rc->eval.latency_batch, ns = rc->eval.latency_samples / 10;
        if (lb > 1 && lb <= m->max_b)
            VB_TRY(eval_latency(m, lb, 3, ns < 20 ? 20 : ns, on_latency, c));
        note_status(c, store_log_timing(c->st, c->run_id, "latency", vb_now_s() - t0, 1));
    }
    return c->log_status;
}

/* The shortcut probe on this cell's videos (probe.h): fit on its training
 * videos, scored on its test videos, holdout classes unseen; final metrics
 * under split "probe" so that reports can set the model against them. */
static VbStatus probe_cell(CellRun *c, const CellData *cd, DataEntry *de) {
    double t0 = vb_now_s();
    ProbeSelect sel = {cd->split.videos[SPLIT_TRAIN], cd->split.n[SPLIT_TRAIN],
                       cd->split.videos[SPLIT_TEST], cd->split.n[SPLIT_TEST], cd->split.unseen};
    if (!de->probe_feat) de->probe_feat = probe_features(&de->ds); /* once per data set */
    ProbeResult r;
    VbStatus st = probe_run_features(&de->ds, de->probe_feat, &sel, 1.0, &r);
    if (st != VB_OK) {
        /* a data set the probe cannot fit (e.g. one class) costs the report a
         * table, not the run its results */
        if (!c->quiet)
            fprintf(stderr, "[cell %d/%d] %s: no shortcut probe: %s\n", c->index, c->total,
                    c->label, vb_errmsg());
        vb_clear_error();
        return VB_OK;
    }
    for (int s = 0; s < PROBE_NSETS; s++) {
        const ProbeSet *p = &r.set[s];
        if (!p->defined) continue;
        const char *keys[5] = {"video_accuracy", "video_balanced_accuracy", "video_auroc.all",
                               "video_auroc.seen", "video_auroc.unseen"};
        const double vals[5] = {p->accuracy, p->balanced_accuracy, p->auroc_all, p->auroc_seen,
                                p->auroc_unseen};
        for (int k = 0; k < 5; k++) {
            if (isnan(vals[k])) continue;
            char key[96];
            snprintf(key, sizeof key, "%s.%s", probe_set_names[s], keys[k]);
            on_metric(c, "probe", key, -1, vals[k]);
        }
    }
    probe_free(&r);
    note_status(c, store_log_timing(c->st, c->run_id, "probe", vb_now_s() - t0, 1));
    return c->log_status;
}

static CellOutcome run_cell(CellRun *c, const Experiment *e, const Cell *cell, DataEntry *de,
                            const char *ckpt_dir, KBackend backend, char *why, size_t nwhy) {
    Dataset *ds = &de->ds;
    RunConfig rc = cell->cfg;
    uint64_t seed = (uint64_t)e->seeds[cell->seed];
    CellData cd;
    Hybrid m;
    Trainer *tr = NULL;
    bool have_cd = false, have_m = false;
    CellOutcome out = CELL_FAILED;
    /* what the reader skipped stays with the run (and shows in its report) */
    on_metric(c, "data", "skipped_entries", -1, (double)ds->skipped);
    on_metric(c, "data", "classes_missing_a_split", -1, rundata_classes_missing_a_split(ds));
    VbStatus st = celldata_open(ds, &rc, &e->holdout[cell->holdout], seed, &cd);
    have_cd = st == VB_OK;
    const KOps *k = NULL;
    if (st == VB_OK && !(k = kops_get(backend))) st = VB_ERR_BACKEND;
    if (st == VB_OK) st = k->set_precision(rc.train.precision);
    if (st == VB_OK) {
        rc.model.classes = cd.nmodel < 2 ? 2 : cd.nmodel;
        int maxb = rc.train.batch_size;
        if (rc.eval.latency_batch > maxb) maxb = rc.eval.latency_batch;
        st = hybrid_build(&m, &rc.model, k, maxb, rc.data.clip_frames);
        have_m = st == VB_OK;
    }
    char ckpt[1200], legacy[1200];
    snprintf(ckpt, sizeof ckpt, "%s/%s.ckpt", ckpt_dir, cell->hash);
    /* a checkpoint left under the cell's legacy hash (a store of hash format 1) */
    snprintf(legacy, sizeof legacy, "%s/%s.ckpt", ckpt_dir, cell->legacy_hash);
    if (access(ckpt, F_OK) != 0 && access(legacy, F_OK) == 0) rename(legacy, ckpt);
    if (st == VB_OK) {
        hybrid_init(&m, seed);
        /* test hook: plant a NaN in this variant's weights (a cell that must fail) */
        if (c->o->test_nan_variant && !strcmp(c->o->test_nan_variant, e->variant[cell->variant])) {
            float nan = NAN;
            k->upload(params_data(&m.pt, 0), &nan, sizeof nan);
        }
        TrainData td = {cd.train, cd.train_eval, cd.val, cd.class_map, cd.normal_model, cd.counts};
        st = trainer_new(&m, &rc.train, &td, seed, ckpt, cell->hash, &tr);
        if (st == VB_OK) trainer_accept_legacy_hash(tr, cell->legacy_hash);
    }
    bool resumed = false, pre_stopped = false;
    if (st == VB_OK) st = trainer_resume(tr, &resumed);
    if (st == VB_OK && trainer_discarded(tr))
        fprintf(stderr, "[cell %d/%d] %s: warning: %s\n", c->index, c->total, c->label,
                trainer_discarded(tr));
    if (st == VB_OK && resumed)
        note_status(c, upkeep_note_resume(c->st, c->run_id, trainer_step(tr), ckpt));
    if (st == VB_OK && !resumed && rc.train.pretrain_epochs > 0) {
        /* a resumed run already holds its pretrained (and trained) weights */
        PretrainResult pr;
        st = pretrain_autoencoder(&m, &rc.train, cd.train, seed, on_pretrain, c, &pr);
        if (st == VB_OK && pr.stopped) {
            pre_stopped = true;
            out = c->lost ? CELL_LOST : CELL_STOPPED;
        } else if (st == VB_OK) {
            note_status(c,
                        store_log_timing(c->st, c->run_id, "pretrain", pr.seconds, pr.epochs_run));
            on_metric(c, "pretrain", "final_loss", -1, pr.final_loss);
            on_metric(c, "pretrain", "seconds", -1, pr.seconds);
        }
    }
    if (st == VB_OK && !pre_stopped) {
        note_status(c, store_set_checkpoint(c->st, c->run_id, ckpt));
        if (resumed && !c->quiet)
            fprintf(stderr, "[cell %d/%d] %s: resuming from %s\n", c->index, c->total, c->label,
                    ckpt);
        c->tr = tr;
        c->steps_total = (int64_t)loader_batches_per_epoch(cd.train) * rc.train.epochs;
        c->t0 = vb_now_s();
        trainer_set_logger(tr, on_train, c);
        /* test hook: behave as if Ctrl-C came after N optimiser steps */
        if (c->o->test_stop_after > 0) trainer_stop_after(tr, c->o->test_stop_after);
        TrainResult res;
        st = trainer_run(tr, &res);
        if (c->tty && !c->quiet) fprintf(stderr, "\r\033[K");
        if (st == VB_OK && res.stopped) {
            out = c->lost ? CELL_LOST : CELL_STOPPED;
        } else if (st == VB_OK) {
            note_status(c, store_log_timing(c->st, c->run_id, "train", res.seconds, res.steps));
            on_metric(c, "train", "images_per_s", -1, res.images_per_s);
            on_metric(c, "train", "seconds", -1, res.seconds);
            on_metric(c, "train", "steps", -1, (double)res.steps);
            on_metric(c, "train", "epochs", -1, (double)res.epochs_run);
            on_metric(c, "train", "seconds_per_epoch", -1,
                      res.epochs_run ? res.seconds / res.epochs_run : NAN);
            on_metric(c, "train", "early_stopped", -1, res.early_stopped);
            st = evaluate_cell(c, &m, &rc, &cd, ds);
            if (st == VB_OK) st = k->status(); /* a failure inside an asynchronous op */
            if (st == VB_OK) st = probe_cell(c, &cd, de);
            struct rusage ru;
            getrusage(RUSAGE_SELF, &ru);
            on_metric(c, "memory", "peak_rss_mb", -1, ru.ru_maxrss / 1024.0);
            on_metric(c, "memory", "activation_mb", -1, m.net.act.cap / 1048576.0);
            on_metric(c, "memory", "scratch_mb", -1, m.net.scratch.cap / 1048576.0);
            on_metric(c, "memory", "param_mb", -1, m.pt.total * 4.0 / 1048576.0);
            on_metric(c, "model", "trainable_params", -1, (double)params_count(&m.pt, PARAM_TRAIN));
            if (st == VB_OK) {
                /* the final (SWA-averaged when on) weights, for `vadbench forward` */
                char wpath[1300];
                snprintf(wpath, sizeof wpath, "%s/%s.safetensors", ckpt_dir, cell->hash);
                st = weights_save(&m, wpath);
            }
            if (st == VB_OK) out = CELL_DONE;
        }
    }
    if (out == CELL_DONE && heartbeat_lost(c->hb)) out = CELL_LOST;
    if (out == CELL_FAILED) {
        snprintf(why, nwhy, "%s", vb_errmsg());
        c->fail_code = st != VB_OK ? st : c->log_status;
    }
    trainer_free(tr);
    if (have_m) hybrid_free(&m);
    if (have_cd) celldata_close(&cd);
    if (out == CELL_DONE) remove(ckpt); /* the results are in the store */
    return out;
}

/* ---- the matrix ---- */

static VbStatus ensure_dir(const char *path) {
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(tmp, 0777);
            *p = '/';
        }
    if (mkdir(tmp, 0777) != 0) {
        struct stat sb;
        if (stat(tmp, &sb) != 0 || !S_ISDIR(sb.st_mode))
            return vb_fail_plain(VB_ERR_IO, "%s: cannot create directory", path);
    }
    return VB_OK;
}

/* Failed cells of the selection queued again before claiming: all of them
 * with --retry-failed, else those that failed for a transient cause. */
static VbStatus requeue_failed(Store *st, const StoreRegistered *reg, int nreg,
                               const RunnerOptions *o, const char *ckpt_dir, RunnerSummary *sum) {
    int64_t *ids = vb_xcalloc((size_t)(nreg ? nreg : 1), sizeof *ids);
    int n = 0, requeued = 0;
    for (int i = 0; i < nreg; i++)
        if (reg[i].status == STORE_FAILED) ids[n++] = reg[i].run_id;
    VbStatus s = upkeep_requeue_failed(st, ids, n, o->retry_failed, ckpt_dir, &requeued);
    sum->requeued += requeued;
    free(ids);
    return s;
}

static VbStatus run_plan(Plan *p, Store *st, const RunnerOptions *o, DataCache *dc,
                         const char *ckpt_dir, RunnerSummary *sum) {
    Experiment *e = &p->e;
    /* the file as an absolute path, so that `vadbench report` finds its compare
     * settings from any directory */
    char *abs = realpath(e->file, NULL);
    VbStatus es =
        store_ensure_experiment(st, e->name, e->description, abs ? abs : e->file, &p->exp_id);
    free(abs);
    VB_TRY(es);
    /* only this process's own cells are registered (all of them without
     * --only, --shard or --cell) */
    StoreCell *sc = vb_xcalloc((size_t)p->ncells, sizeof *sc);
    char **canon = vb_xcalloc((size_t)p->ncells, sizeof *canon);
    const char **hashes = vb_xcalloc((size_t)p->ncells, sizeof *hashes);
    int nsel = 0;
    for (int i = 0; i < p->ncells; i++) {
        if (!p->selected[i]) continue;
        canon[nsel] = config_canonical(p->cells[i].config);
        sc[nsel].variant = e->variant[p->cells[i].variant];
        sc[nsel].seed = e->seeds[p->cells[i].seed];
        sc[nsel].holdout = e->holdout[p->cells[i].holdout].name;
        sc[nsel].config_json = canon[nsel];
        sc[nsel].config_hash = p->cells[i].hash;
        sc[nsel].legacy_hash = p->cells[i].legacy_hash;
        hashes[nsel++] = p->cells[i].hash;
    }
    StoreRegistered *reg = vb_xcalloc((size_t)(nsel ? nsel : 1), sizeof *reg);
    VbStatus s = nsel ? store_register_cells(st, p->exp_id, sc, nsel, reg) : VB_OK;
    for (int i = 0; i < nsel && s == VB_OK; i++)
        if (reg[i].status == STORE_DONE) sum->skipped++;
    sum->cells += nsel;
    if (s == VB_OK) s = requeue_failed(st, reg, nsel, o, ckpt_dir, sum);
    StoreClaimFilter f = {p->exp_id, hashes, nsel};
    int index = 0;
    double waited_print = 0;
    while (s == VB_OK && nsel > 0 && !g_stop) {
        bool claimed = false;
        StoreRun run;
        s = store_claim(st, &f, o->lease_s, &claimed, &run);
        if (s != VB_OK) break;
        if (!claimed) {
            StoreCounts cnt;
            s = store_counts(st, &f, &cnt);
            if (s != VB_OK || cnt.n[STORE_RUNNING] == 0) break;
            upkeep_report_waiting(st, p->exp_id, hashes, nsel, &waited_print);
            sleep(2); /* another runner works on the rest; wait for its lease or its end */
            continue;
        }
        int ci = -1;
        for (int i = 0; i < p->ncells; i++)
            if (!strcmp(p->cells[i].hash, run.config_hash)) ci = i;
        index++;
        if (ci < 0) {
            store_mark_failed(st, run.id, "cell no longer in the experiment file");
            store_run_free(&run);
            continue;
        }
        Cell *cell = &p->cells[ci];
        char label[256], why[2048] = "";
        runplan_label(e, cell, label, sizeof label);
        upkeep_report_takeover(&run, label);
        StoreProvenance pv;
        store_provenance_local(&pv);
        pv.backend = kbackend_names[e->backend];
        pv.threads = kthreads_get();
        /* the device and its libraries, and the cell's arithmetic */
        KInfo ki;
        memset(&ki, 0, sizeof ki);
        const KOps *kb = kops_get(e->backend);
        if (kb) kb->info(&ki);
        else vb_clear_error(); /* run_cell reports it as the cell's failure */
        char libs[1024];
        snprintf(libs, sizeof libs, "%s%s%s; compute %s", pv.libraries ? pv.libraries : "",
                 ki.libraries[0] ? ", " : "", ki.libraries,
                 cell->cfg.train.precision == K_PREC_BF16
                     ? "bf16 convolutions/GEMMs, fp32 master weights"
                     : "fp32");
        pv.libraries = libs;
        if (ki.device[0]) pv.gpu = ki.device;
        if (ki.driver[0]) pv.gpu_driver = ki.driver;
        DataEntry *de;
        s = data_get(dc, &cell->cfg.data, o->quiet, &de);
        if (s != VB_OK) break;
        pv.dataset_digest = de->ds.digest;
        s = store_set_provenance(st, run.id, &pv);
        if (s != VB_OK) break;
        CellRun c = {.st = st,
                     .run_id = run.id,
                     .quiet = o->quiet,
                     .tty = isatty(2) != 0,
                     .label = label,
                     .o = o,
                     .index = index,
                     .total = nsel,
                     .log_status = VB_OK};
        c.mirror = o->mirror, c.checkpoint_every = cell->cfg.train.checkpoint_every;
        s = heartbeat_start(st, run.id, o->lease_s, &c.hb);
        if (s != VB_OK) break;
        if (!o->quiet)
            fprintf(stderr, "[cell %d/%d] %s (run %lld, %s)\n", index, nsel, label,
                    (long long)run.id, cell->hash);
        double t0 = vb_now_s();
        g_in_cell = 1;
        CellOutcome out = run_cell(&c, e, cell, de, ckpt_dir, e->backend, why, sizeof why);
        heartbeat_stop(c.hb);
        c.hb = NULL;
        bool transient = out == CELL_FAILED && upkeep_transient(c.fail_code, why);
        switch (out) {
        case CELL_DONE:
            s = store_mark_done(st, run.id);
            sum->ran++;
            if (!o->quiet)
                fprintf(stderr, "[cell %d/%d] %s: done in %.1f s\n", index, nsel, label,
                        vb_now_s() - t0);
            break;
        case CELL_FAILED:
            s = store_mark_failed_as(st, run.id, why, transient);
            sum->failed++;
            fprintf(stderr, "[cell %d/%d] %s: FAILED%s: %s\n", index, nsel, label,
                    transient ? " (transient: the next run retries it)" : "", why);
            break;
        case CELL_STOPPED:
            s = store_release(st, run.id);
            sum->interrupted++;
            g_stop = 1; /* an interruption stops the whole run, as Ctrl-C does */
            fprintf(
                stderr,
                "[cell %d/%d] %s: interrupted; checkpoint kept, the cell resumes on the next run\n",
                index, nsel, label);
            break;
        case CELL_LOST:
            fprintf(stderr, "[cell %d/%d] %s: another runner took the cell over (lease expired)\n",
                    index, nsel, label);
            break;
        }
        g_in_cell = 0;
        store_run_free(&run);
    }
    /* every failed cell of the selection counts, whichever run failed it */
    int failed = 0;
    if (s == VB_OK && nsel > 0) s = upkeep_failed_count(st, p->exp_id, hashes, nsel, &failed);
    sum->failed_total += failed;
    for (int i = 0; i < nsel; i++) free(canon[i]);
    free(canon), free(sc), free(hashes), free(reg);
    return s;
}

VbStatus runner_run(const char *const *files, int nfiles, const RunnerOptions *o,
                    RunnerSummary *sum) {
    memset(sum, 0, sizeof *sum);
    DataCache dc = {0};
    Plan *plans = vb_xcalloc((size_t)nfiles, sizeof *plans);
    VbStatus s = runplan_files(files, nfiles, o, &dc, plans);
    int np = s == VB_OK ? nfiles : 0;
    if (s == VB_OK && o->dry_run)
        for (int i = 0; i < np; i++) runplan_print(&plans[i]);
    if (s == VB_OK && !o->dry_run) {
        if (o->threads > 0) kthreads_set(o->threads);
        else if (plans[0].e.threads > 0) kthreads_set(plans[0].e.threads);
        const char *db = o->db ? o->db : store_default_path();
        char dbdir[1024], ckdir[1100];
        snprintf(dbdir, sizeof dbdir, "%s", db);
        snprintf(ckdir, sizeof ckdir, "%s/checkpoints", dirname(dbdir));
        const char *ck = o->checkpoint_dir ? o->checkpoint_dir : ckdir;
        Store *st = NULL;
        s = ensure_dir(ck);
        /* absolute, so that the checkpoint paths recorded with the runs (and
         * deleted by `vadbench retry`) mean the same file from anywhere */
        char *ck_abs = s == VB_OK ? realpath(ck, NULL) : NULL;
        if (ck_abs) ck = ck_abs;
        if (s == VB_OK) upkeep_clean_tmp(ck, o->quiet);
        if (s == VB_OK) s = store_open(db, STORE_CREATE, &st);
        for (int i = 0; i < np && s == VB_OK && !g_stop; i++)
            s = run_plan(&plans[i], st, o, &dc, ck, sum);
        VbStatus c = store_close(st);
        if (s == VB_OK) s = c;
        free(ck_abs);
    }
    for (int i = 0; i < np; i++) runplan_free(&plans[i]);
    free(plans);
    data_free(&dc);
    sum->stopped = g_interrupt != 0;
    return s;
}
