/* Ruff et al.'s protocol through the real runner, in miniature (skipped
 * without Debian's dataset-fashion-mnist): a one-class LeNet cell on grey
 * 28x28 frames with autoencoder pretraining records the pretraining curve
 * (one point per epoch) and its finals next to the usual test metrics; the
 * same cell run again is skipped; stopped in the middle of Deep SVDD
 * training (after pretraining) and resumed, it ends with the same AUROC as
 * a run never stopped — a resumed cell does not pretrain again, its
 * checkpoint already holds the pretrained and trained weights. */
#include "testutil.h"

#include <sqlite3.h>

#include "datasets/fmnist.h"
#include "harness/run/run.h"

static const char *MINI =
    "experiment: %s\n"
    "dataset: {source: fashion_mnist, size: 28, channels: 1, preprocess: unit, protocol: "
    "one-class,\n"
    "          val_fraction: 0.1, limit: 800, normal_class: Trouser}\n"
    "base:\n"
    "  model: {backbone: {name: lenet, dropout: 0}, channels: 1, image: 28, temporal: none,\n"
    "          projection: false, svdd_head: none}\n"
    "  train: {epochs: 2, batch_size: 16, optimizer: adam, lr: 0.0001, weight_decay: 0.0000005,\n"
    "          schedule: step, milestones: [1], clip_norm: 0, sampler: none, augment: false,\n"
    "          loss: {classification: 0, binary: 0, svdd: 1},\n"
    "          svdd: {mode: one-class, center_floor: 0.1},\n"
    "          pretrain: {epochs: 2, milestones: [1]}}\n"
    "  eval: {latency_samples: 0, batch_size: 32}\n"
    "seeds: [0]\n";

/* Each database with its own checkpoint folder (the cells of both share a hash). */
/* The runner in this process (the stop hook needs it); every database in
 * its own folder, so each has its own checkpoints (the cells share a hash). */
static RunnerSummary run_file(const char *file, const char *db, int64_t stop_after) {
    RunnerOptions o = {0};
    o.db = db, o.quiet = true, o.backend = RUNNER_BACKEND_AS_WRITTEN;
    o.test_stop_after = stop_after;
    RunnerSummary sum;
    const char *files[] = {file};
    cr_assert_eq(runner_run(files, 1, &o, &sum), VB_OK, "%s", vb_errmsg());
    return sum;
}

static double q1(const char *db, const char *sql) {
    sqlite3 *h;
    cr_assert_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *q;
    cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &q, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
    double v = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_double(q, 0) : NAN;
    sqlite3_finalize(q);
    sqlite3_close(h);
    return v;
}

static void write_mini(const char *path, const char *name) {
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, MINI, name);
    fclose(f);
}

Test(validity_run, pretraining_cell_records_its_curve_and_resumes_without_pretraining,
     .timeout = 300) {
    if (!fmnist_available(NULL)) cr_skip_test("Fashion-MNIST is not installed");
    const char *file = "tests/tmp/vrun/mini.yaml", *db = "tests/tmp/vrun/a/db";
    const char *db2 = "tests/tmp/vrun/b/db";
    cr_assert_eq(system("rm -rf tests/tmp/vrun && mkdir -p tests/tmp/vrun/a tests/tmp/vrun/b"), 0);
    write_mini(file, "vrun");
    RunnerSummary s = run_file(file, db, -1);
    cr_assert_eq(s.ran, 1);
    cr_assert_eq(s.failed, 0);
    cr_assert_eq(q1(db, "SELECT count(*) FROM metrics m JOIN runs r ON r.id = m.run_id "
                        "WHERE m.split = 'pretrain' AND m.key = 'loss' AND m.step >= 0"),
                 2.0, "one pretraining point per epoch");
    double fl = q1(db, "SELECT value FROM final_metrics WHERE split = 'pretrain' AND "
                       "metric = 'final_loss'");
    cr_assert(fl > 0 && fl < 1, "pretraining final loss %g", fl);
    double auroc = q1(db, "SELECT value FROM final_metrics WHERE split = 'test' AND "
                          "metric = 'auroc.svdd.all'");
    cr_assert(auroc > 0.5 && auroc <= 1, "AUROC %g", auroc);
    s = run_file(file, db, -1);
    cr_assert_eq(s.ran, 0, "a done cell runs again");
    /* stopped after 5 Deep SVDD steps (pretraining done), then resumed */
    s = run_file(file, db2, 5);
    cr_assert_eq(s.interrupted, 1);
    const char *when = "SELECT max(wall_time) FROM metrics WHERE split = 'pretrain' AND key = "
                       "'loss' AND step >= 0";
    double t_first = q1(db2, when);
    cr_assert(t_first > 0, "the stopped cell pretrained first");
    /* resumed by the real binary (a stopped runner keeps its stop request) */
    cr_assert_eq(system("./vadbench run tests/tmp/vrun/mini.yaml --db tests/tmp/vrun/b/db --quiet"),
                 0);
    cr_assert_eq(q1(db2, when), t_first, "the resumed cell pretrained again");
    double auroc2 = q1(db2, "SELECT value FROM final_metrics WHERE split = 'test' AND "
                            "metric = 'auroc.svdd.all'");
    cr_assert_eq(auroc2, auroc, "resumed %.17g, straight %.17g", auroc2, auroc);
}
