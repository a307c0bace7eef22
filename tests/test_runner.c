/* The runner end to end, through the real binary (./vadbench, built by
 * `make test` before the suite runs): a finished file runs nothing again; a
 * run interrupted (Ctrl-C-like stop, and SIGKILL mid-epoch) and restarted
 * ends with final metrics and weights byte-identical to an uninterrupted
 * run; two concurrent processes on one database complete every cell exactly
 * once; a cell with a planted NaN is recorded as failed while the others
 * finish, and the exit status says so. */
#include "store_testutil.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "harness/run/run.h"

/* `vadbench run FILE --db DB --quiet [--only ONLY]` in this process, with the
 * runner's test hooks (RunnerOptions.test_*) set. Returns runner_run's status
 * (no Criterion assertion here: forked children call it too). */
static VbStatus run_hooked(const char *file, const char *db, const char *only, int64_t stop_after,
                           const char *nan_variant, RunnerSummary *sum) {
    RunnerOptions o = {0};
    o.db = db, o.only = only, o.quiet = true;
    o.backend = RUNNER_BACKEND_AS_WRITTEN;
    o.test_stop_after = stop_after, o.test_nan_variant = nan_variant;
    const char *files[] = {file};
    VbStatus s = runner_run(files, 1, &o, sum);
    if (s != VB_OK) fprintf(stderr, "runner_run: %s\n", vb_errmsg());
    return s;
}

static const char *TINY =
    "experiment: %s\n"
    "dataset: {source: synthetic, videos_per_class: 2, test_videos_per_class: 1, normal_factor: 2,\n"
    "          frames_per_video: 4, size: 32, val_fraction: 0.34, workers: 1,\n"
    "          clip: {frames: 2, stride: 1, window: 2}}\n"
    "holdouts:\n  - {name: h, classes: [Arson]}\n"
    "base:\n"
    "  model: {backbone: {width: 0.25, depth: 0.34}, temporal: {type: gru, hidden: 8, layers: 1},\n"
    "          feature_dim: 16, embedding_dim: 8, svdd_hidden: 8, image: 32}\n"
    "  train: {epochs: %d, batch_size: 4, checkpoint_every: 2}\n"
    "  eval: {latency_samples: 5, latency_batch: 2, batch_size: 4, tta: %d}\n"
    "variants:\n  a: {}\n  b: {train.sam.enabled: true, model.vae: {level: feature, latent: 8, hidden: [16]}}\n"
    "%s"
    "seeds: [0, 1]\n";

static void write_exp(const char *path, const char *name, int epochs, const char *extra) {
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    /* the concurrency experiment also exercises test-time augmentation */
    fprintf(f, TINY, name, epochs, strcmp(name, "conc") == 0 ? 3 : 0, extra);
    fclose(f);
}

/* Every final val/test metric as "split key value\n" lines, ordered, from db. */
static char *finals(const char *db) {
    sqlite3 *h;
    cr_assert_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *q;
    cr_assert_eq(
        sqlite3_prepare_v2(
            h,
            "SELECT r.variant, r.seed, m.split, m.key, quote(m.value) FROM metrics m "
            "JOIN runs r ON r.id = m.run_id WHERE m.step IS NULL AND m.split IN ('val','test') "
            "ORDER BY r.variant, r.seed, m.split, m.key",
            -1, &q, NULL),
        SQLITE_OK);
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    out[0] = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        char line[512];
        int n = snprintf(line, sizeof line, "%s %d %s %s %s\n", sqlite3_column_text(q, 0),
                         sqlite3_column_int(q, 1), sqlite3_column_text(q, 2),
                         sqlite3_column_text(q, 3), sqlite3_column_text(q, 4));
        if (len + (size_t)n + 1 > cap) out = realloc(out, cap *= 2);
        memcpy(out + len, line, (size_t)n + 1);
        len += (size_t)n;
    }
    sqlite3_finalize(q);
    sqlite3_close(h);
    return out;
}

Test(runner, rerun_skips_and_interrupt_resumes_exactly, .timeout = 240) {
    tu_sh("rm -rf tests/tmp/run_a tests/tmp/run_b");
    write_exp("tests/tmp/run_tiny.yaml", "tiny", 2, "");
    /* uninterrupted reference */
    cr_assert_eq(
        tu_sh(
            "./vadbench run tests/tmp/run_tiny.yaml --only 'b/*/seed0' --db tests/tmp/run_a/db --quiet"),
        0);
    /* interrupted after 3 steps (a checkpoint exists), then resumed */
    RunnerSummary sum;
    cr_assert_eq(
        run_hooked("tests/tmp/run_tiny.yaml", "tests/tmp/run_b/db", "b/*/seed0", 3, NULL, &sum),
        VB_OK, "%s", vb_errmsg());
    cr_assert_eq(sum.interrupted, 1, "the cell was not interrupted");
    cr_assert_eq(sum.ran, 0);
    cr_assert_eq(
        tsu_count(
            "tests/tmp/run_b/db",
            "SELECT count(*) FROM runs WHERE status='queued' AND variant='b' AND seed=0 AND attempts=1"),
        1);
    cr_assert_eq(
        tu_sh(
            "./vadbench run tests/tmp/run_tiny.yaml --only 'b/*/seed0' --db tests/tmp/run_b/db --quiet"),
        0);
    char *fa = finals("tests/tmp/run_a/db"), *fb = finals("tests/tmp/run_b/db");
    cr_assert(strlen(fa) > 1000, "too few final metrics:\n%s", fa);
    cr_assert_str_eq(fa, fb, "final metrics differ after interrupt + resume");
    cr_assert_eq(
        tsu_count("tests/tmp/run_b/db", "SELECT attempts FROM runs WHERE variant='b' AND seed=0"),
        2);
    /* the saved final weights are identical too */
    cr_assert_eq(
        tu_sh(
            "cmp -s tests/tmp/run_a/checkpoints/*.safetensors tests/tmp/run_b/checkpoints/*.safetensors"),
        0);
    /* a finished file runs nothing the second time */
    cr_assert_eq(
        tu_sh(
            "./vadbench run tests/tmp/run_tiny.yaml --only 'b/*/seed0' --db tests/tmp/run_b/db 2> tests/tmp/run_b/log"),
        0);
    cr_assert_eq(tu_sh("grep -q '0 ran, 1 already done' tests/tmp/run_b/log"), 0);
    free(fa), free(fb);
}

/* Run a/seed1 straight into db `dir`_a; run it again into `dir`_b on path
 * `kill_isa` (NULL: the default), SIGKILL it after its first checkpoint,
 * restart it on path `resume_isa`; the final metrics must match. */
static void kill_and_resume(const char *dir, const char *kill_isa, const char *resume_isa) {
    char da[256], db[256], cmd[1024];
    snprintf(da, sizeof da, "tests/tmp/%s_a", dir);
    snprintf(db, sizeof db, "tests/tmp/%s_b", dir);
    tu_sh("rm -rf %s %s", da, db);
    write_exp("tests/tmp/kill_tiny.yaml", "killtiny", 6, "");
    cr_assert_eq(
        tu_sh("./vadbench run tests/tmp/kill_tiny.yaml --only 'a/*/seed1' --db %s/db --quiet", da),
        0);
    snprintf(cmd, sizeof cmd, "%s/db", db);
    pid_t pid = fork();
    if (pid == 0) {
        if (kill_isa) setenv("VADBENCH_ISA", kill_isa, 1);
        execl("./vadbench", "vadbench", "run", "tests/tmp/kill_tiny.yaml", "--only", "a/*/seed1",
              "--db", cmd, "--quiet", (char *)NULL);
        _exit(127);
    }
    /* wait for a checkpoint, then kill without warning */
    bool killed = false;
    for (int i = 0; i < 3000 && !killed; i++) {
        usleep(10000);
        if (tu_sh("ls %s/checkpoints/*.ckpt >/dev/null 2>&1", db) == 0) {
            usleep(30000);
            kill(pid, SIGKILL);
            killed = true;
        }
    }
    int status;
    waitpid(pid, &status, 0);
    cr_assert(killed && WIFSIGNALED(status), "the run finished before it could be killed");
    cr_assert_eq(tsu_count(cmd, "SELECT count(*) FROM runs WHERE status='running'"), 1);
    /* the dead owner's cell is claimed again at once and resumed */
    cr_assert_eq(tu_sh("%s%s ./vadbench run tests/tmp/kill_tiny.yaml --only 'a/*/seed1' --db %s "
                       "--quiet",
                       resume_isa ? "VADBENCH_ISA=" : "", resume_isa ? resume_isa : "", cmd),
                 0);
    snprintf(cmd, sizeof cmd, "%s/db", da);
    char *fa = finals(cmd);
    snprintf(cmd, sizeof cmd, "%s/db", db);
    char *fb = finals(cmd);
    cr_assert_str_eq(fa, fb, "final metrics differ after SIGKILL + restart (paths %s -> %s)",
                     kill_isa ? kill_isa : "default", resume_isa ? resume_isa : "default");
    free(fa), free(fb);
}

Test(runner, sigkill_mid_epoch_then_restart_matches, .timeout = 300) {
    kill_and_resume("kill", NULL, NULL);
}

/* Killed on the portable path, resumed on the best vector path (the
 * default): the same bits as an uninterrupted run on the default path. */
Test(runner, sigkill_on_one_isa_path_resume_on_another, .timeout = 300) {
    kill_and_resume("killisa", "generic", NULL);
}

Test(runner, two_processes_share_cells_and_failures_are_recorded, .timeout = 300) {
    tu_sh("rm -rf tests/tmp/conc");
    /* two runner processes share the database; variant c gets a NaN planted in its
     * weights (RunnerOptions.test_nan_variant) */
    write_exp("tests/tmp/conc.yaml", "conc", 1, "  c: {train.lr: 0.002}\n");
    pid_t pid[2];
    for (int i = 0; i < 2; i++) {
        fflush(NULL);
        pid[i] = fork();
        cr_assert(pid[i] >= 0);
        if (pid[i] == 0) {
            RunnerSummary sum;
            if (run_hooked("tests/tmp/conc.yaml", "tests/tmp/conc/db", NULL, 0, "c", &sum) != VB_OK)
                _exit(3);
            _exit(sum.failed ? 1 : 0);
        }
    }
    int failed = 0;
    for (int i = 0; i < 2; i++) {
        int st;
        cr_assert_eq(waitpid(pid[i], &st, 0), pid[i]);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) <= 1, "runner %d died or failed (status %d)", i,
                  st);
        failed += WEXITSTATUS(st) == 1;
    }
    cr_assert(failed >= 1, "one of the runners must report the failed cells");
    cr_assert_eq(tsu_count("tests/tmp/conc/db", "SELECT count(*) FROM runs"), 6);
    cr_assert_eq(tsu_count("tests/tmp/conc/db", "SELECT count(*) FROM runs WHERE status='done'"),
                 4);
    cr_assert_eq(tsu_count("tests/tmp/conc/db",
                           "SELECT count(*) FROM runs WHERE status='failed' AND variant='c'"),
                 2);
    cr_assert_eq(tsu_count("tests/tmp/conc/db", "SELECT max(attempts) FROM runs"), 1,
                 "a cell ran twice");
    cr_assert_eq(
        tsu_count(
            "tests/tmp/conc/db",
            "SELECT count(*) FROM runs WHERE status='failed' AND (error LIKE '%not finite%' OR error LIKE '%gradient norm%')"),
        2);
    cr_assert_eq(tsu_count("tests/tmp/conc/db",
                           "SELECT count(DISTINCT claim_owner) FROM runs WHERE status='done'"),
                 0);
    /* TTA metrics are stored beside the plain ones */
    cr_assert_eq(
        tsu_count(
            "tests/tmp/conc/db",
            "SELECT count(DISTINCT run_id) FROM metrics WHERE step IS NULL AND key = 'tta.accuracy'"),
        4);
    /* the experiment file is recorded as an absolute path (reports run anywhere) */
    cr_assert_eq(
        tsu_count("tests/tmp/conc/db",
                  "SELECT count(*) FROM experiments WHERE file LIKE '/%/tests/tmp/conc.yaml'"),
        1);
    /* the shortcut probe of each done cell; it sees the data and the split, not the
     * variant, so a and b agree seed by seed */
    cr_assert_eq(tsu_count("tests/tmp/conc/db",
                           "SELECT count(DISTINCT run_id) FROM metrics WHERE split = 'probe' AND "
                           "key = 'all.video_balanced_accuracy'"),
                 4);
    cr_assert_eq(
        tsu_count("tests/tmp/conc/db",
                  "SELECT count(*) FROM metrics ma JOIN runs ra ON ra.id = ma.run_id "
                  "JOIN runs rb ON rb.seed = ra.seed AND rb.variant = 'b' "
                  "JOIN metrics mb ON mb.run_id = rb.id AND mb.split = 'probe' AND mb.key = ma.key "
                  "WHERE ra.variant = 'a' AND ma.split = 'probe' AND ma.value = mb.value"),
        tsu_count("tests/tmp/conc/db",
                  "SELECT count(*) FROM metrics m JOIN runs r ON r.id = m.run_id "
                  "WHERE r.variant = 'a' AND m.split = 'probe'"));
    cr_assert_eq(tsu_count("tests/tmp/conc/db",
                           "SELECT count(DISTINCT run_id) FROM metrics WHERE split = 'test' AND "
                           "key = 'video_auroc.fused.unseen'"),
                 4);
}

/* Variants on different data sets: each cell's hash takes its own data set's
 * digest (the data cache must not move a data set while the plan points into
 * it; the ASan build catches a dangling pointer here). */
Test(runner, variants_on_different_data_sets_hash_their_own_digest, .timeout = 60) {
    write_exp("tests/tmp/two_ds.yaml", "two_ds", 1, "  c: {dataset.videos_per_class: 3}\n");
    write_exp("tests/tmp/one_ds.yaml", "two_ds", 1, "");
    cr_assert_eq(tu_sh("./vadbench run tests/tmp/two_ds.yaml --dry-run --db tests/tmp/two_ds.db "
                       "2>/dev/null | grep '^  run  a/h/seed0' > tests/tmp/two_ds.a"),
                 0);
    cr_assert_eq(tu_sh("./vadbench run tests/tmp/one_ds.yaml --dry-run --db tests/tmp/one_ds.db "
                       "2>/dev/null | grep '^  run  a/h/seed0' > tests/tmp/one_ds.a"),
                 0);
    cr_assert_eq(
        tu_sh("test -s tests/tmp/two_ds.a && cmp -s tests/tmp/two_ds.a tests/tmp/one_ds.a"), 0,
        "variant a's hash changed when another variant read another data set");
}

Test(runner, only_and_shard_select_cells, .timeout = 60) {
    write_exp("tests/tmp/sel.yaml", "sel", 1, "");
    /* 2 variants x 1 holdout x 2 seeds = 4 cells, listed in matrix order */
    cr_assert_eq(
        tu_sh("./vadbench run tests/tmp/sel.yaml --dry-run > tests/tmp/sel.all 2>/dev/null"), 0);
    cr_assert_eq(tu_sh("test $(grep -c '^  run ' tests/tmp/sel.all) -eq 4"), 0);
    cr_assert_eq(
        tu_sh(
            "./vadbench run tests/tmp/sel.yaml --dry-run --only 'b/*' > tests/tmp/sel.only 2>/dev/null"),
        0);
    cr_assert_eq(tu_sh("test $(grep -c '^  run  b/h/seed' tests/tmp/sel.only) -eq 2 && "
                       "test $(grep -c '^  run ' tests/tmp/sel.only) -eq 2"),
                 0);
    /* shards 0/2 and 1/2 partition the cells */
    cr_assert_eq(
        tu_sh(
            "./vadbench run tests/tmp/sel.yaml --dry-run --shard 0/2 | grep '^  run ' > tests/tmp/sel.s0"),
        0);
    cr_assert_eq(
        tu_sh(
            "./vadbench run tests/tmp/sel.yaml --dry-run --shard 1/2 | grep '^  run ' > tests/tmp/sel.s1"),
        0);
    cr_assert_eq(tu_sh("test $(cat tests/tmp/sel.s0 tests/tmp/sel.s1 | sort -u | wc -l) -eq 4 && "
                       "test $(wc -l < tests/tmp/sel.s0) -eq 2"),
                 0);
    cr_assert_eq(tu_sh("./vadbench run tests/tmp/sel.yaml --shard 2/2 2>/dev/null"), 2,
                 "a bad shard is a usage error");
}
