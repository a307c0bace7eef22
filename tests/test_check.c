/* Tests of `vadbench baseline` and `vadbench check` (harness/report/check.c,
 * harness/cli/cmd_check.c) on an experiment written straight through the store
 * API: a `base` variant and candidates derived from it — `same` (identical
 * values and samples), `drop` (accuracy 0.10 lower), `slow` (every latency
 * sample doubled), `noisy` (metric noise within tolerance, latency 10%
 * slower on every sample: significant but under the factor) — two seeds
 * each. Checked: identical runs pass, the planted accuracy drop and the 2x
 * slowdown fail with exit 1, noise within tolerance passes, the latency
 * rule needs both the factor and the test, tolerances come from the
 * experiment file and flags override them, --runs, JSON output (parsed
 * with jansson), and exit 2 for an unknown baseline, missing metric or bad
 * usage. Files live under tests/tmp/check/. */
#include "testutil.h"

#include <jansson.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness/report/check.h"
#include "harness/store/store.h"

#define TC_DIR "tests/tmp/check"
#define TC_NV 5

static const char *const TC_VARIANTS[TC_NV] = {"base", "same", "drop", "slow", "noisy"};

static void tc_log_run(Store *st, int64_t id, const char *variant, int s) {
    bool drop = !strcmp(variant, "drop"), slow = !strcmp(variant, "slow"),
         noisy = !strcmp(variant, "noisy");
    double noise = s ? -0.004 : 0.006;
    double acc = 0.80 + noise - (drop ? 0.10 : 0) + (noisy ? 0.01 * (s ? 1 : -1) : 0);
    double fpr = 0.05 + noise / 2 + (noisy ? 0.005 : 0);
    double det = 0.70 + noise + (noisy ? -0.02 : 0);
    cr_assert_eq(store_log_final(st, id, "test", "accuracy", -1, acc), VB_OK);
    cr_assert_eq(store_log_final(st, id, "test", "fpr.fused", -1, fpr), VB_OK);
    cr_assert_eq(store_log_final(st, id, "test", "detect.fused.unseen", -1, det), VB_OK);
    cr_assert_eq(store_log_final(st, id, "test", "auroc.fused.unseen", -1, 0.9 + noise), VB_OK);
    double x[60];
    double f = slow ? 2.0 : noisy ? 1.1 : 1.0;
    for (int i = 0; i < 60; i++) x[i] = f * 2.0 * (1.0 + 0.01 * ((i * 7 + s) % 11));
    cr_assert_eq(store_log_latency(st, id, "model", 1, x, 60), VB_OK);
    cr_assert_eq(store_log_latency(st, id, "backbone", 1, x, 60), VB_OK);
}

/* TC_DIR/NAME.db with experiment `synth` (file TC_DIR/NAME.yaml when
 * with_file: compare tolerances accuracy 0.05, fpr 0.02) and its runs done;
 * run ids are 1 + variant * 2 + seed. */
static void tc_db(const char *name, bool with_file, char *db, size_t size) {
    mkdir("tests/tmp", 0777);
    mkdir(TC_DIR, 0777);
    snprintf(db, size, TC_DIR "/%s.db", name);
    const char *ext[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        char p[300];
        snprintf(p, sizeof p, "%s%s", db, ext[i]);
        unlink(p);
    }
    char file[300] = "";
    if (with_file) {
        snprintf(file, sizeof file, TC_DIR "/%s.yaml", name);
        FILE *f = fopen(file, "w");
        cr_assert_not_null(f);
        fputs("experiment: synth\nvariants:\n  base: {}\n  drop: {}\nseeds: [0, 1]\n"
              "compare:\n  baseline: base\n  metrics: [test.accuracy, test.auroc.fused.unseen]\n"
              "  tolerances: {test.accuracy: 0.05, test.fpr.fused: 0.02}\n  latency_factor: 1.5\n",
              f);
        fclose(f);
    }
    Store *st;
    cr_assert_eq(store_open(db, STORE_CREATE, &st), VB_OK, "%s", vb_errmsg());
    int64_t eid;
    cr_assert_eq(store_ensure_experiment(st, "synth", "", with_file ? file : NULL, &eid), VB_OK);
    StoreCell cells[2 * TC_NV];
    char json[2 * TC_NV][128], hash[2 * TC_NV][40];
    int n = 0;
    for (int v = 0; v < TC_NV; v++)
        for (int s = 0; s < 2; s++, n++) {
            snprintf(json[n], sizeof json[n], "{\"seed\":%d,\"variant\":\"%s\"}", s,
                     TC_VARIANTS[v]);
            snprintf(hash[n], sizeof hash[n], "%08x%024x", 0xc0de0000u + (unsigned)n, (unsigned)n);
            cells[n] = (StoreCell){TC_VARIANTS[v], s, "h", json[n], hash[n]};
        }
    cr_assert_eq(store_register_cells(st, eid, cells, n, NULL), VB_OK, "%s", vb_errmsg());
    for (;;) {
        bool claimed;
        StoreRun r;
        cr_assert_eq(store_claim(st, NULL, 0, &claimed, &r), VB_OK);
        if (!claimed) break;
        tc_log_run(st, r.id, r.variant, (int)r.seed);
        cr_assert_eq(store_mark_done(st, r.id), VB_OK, "%s", vb_errmsg());
        store_run_free(&r);
    }
    cr_assert_eq(store_close(st), VB_OK);
}

static int tc_system(const char *cmd) {
    int st = system(cmd);
    cr_assert(st != -1 && WIFEXITED(st), "could not run: %s", cmd);
    return WEXITSTATUS(st);
}

static char *tc_slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s is missing", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    buf[n] = 0;
    return buf;
}

/* Run `./vadbench ARGS --db DB` with output to OUT; its exit code. */
static int tc_run(const char *db, const char *args, const char *out) {
    char cmd[1500];
    snprintf(cmd, sizeof cmd, "./vadbench %s --db %s > %s 2> %s.err", args, db, out, out);
    return tc_system(cmd);
}

static void tc_pin(const char *db) {
    cr_assert_eq(
        tc_run(db, "baseline pin ref --experiment synth --variant base", TC_DIR "/pin.txt"), 0);
}

#define TC_TOL \
    "--tolerance test.accuracy=0.05 --tolerance=test.fpr.fused=0.02,test.detect.fused.unseen=0.05"

Test(check, identical_runs_pass) {
    char db[300];
    tc_db("identical", false, db, sizeof db);
    cr_assert_eq(tc_run(db, "baseline pin ref --experiment synth --variant base",
                        TC_DIR "/identical-pin.txt"),
                 0);
    char *t = tc_slurp(TC_DIR "/identical-pin.txt");
    cr_assert(strstr(t, "pinned baseline ref: 2 runs") && strstr(t, "runs 1,2"), "%s", t);
    free(t);
    const char *out = TC_DIR "/identical.txt";
    cr_assert_eq(tc_run(db, "check --baseline ref --experiment synth --variant same " TC_TOL, out),
                 0);
    t = tc_slurp(out);
    cr_assert(strstr(t, "metric") && strstr(t, "baseline") && strstr(t, "candidate") &&
                  strstr(t, "change") && strstr(t, "limit") && strstr(t, "verdict"),
              "%s", t);
    cr_assert(strstr(t, "test/accuracy") && strstr(t, "latency model batch 1 p50 ms") &&
                  strstr(t, "latency model batch 1 p99 ms") && strstr(t, "check: PASS") &&
                  !strstr(t, "REGRESSION"),
              "%s", t);
    cr_assert(!strstr(t, "warning"), "a warning where the runs agree: %s", t);
    free(t);
    /* the baseline against itself */
    cr_assert_eq(tc_run(db, "check --baseline ref --experiment synth --variant base", out), 0);
}

/* Baseline runs computed with another CPU numerics version: the check runs,
 * and says so (table and JSON). */
Test(check, different_numerics_versions_warn) {
    char db[300], cmd[800];
    tc_db("numerics", false, db, sizeof db);
    tc_pin(db);
    snprintf(cmd, sizeof cmd,
             "sqlite3 %s \"UPDATE runs SET numerics = 2; UPDATE runs SET numerics = 1 WHERE "
             "variant = 'base'\"",
             db);
    cr_assert_eq(tc_system(cmd), 0, "%s", cmd);
    const char *out = TC_DIR "/numerics.txt";
    cr_assert_eq(tc_run(db, "check --baseline ref --experiment synth --variant same " TC_TOL, out),
                 0);
    char *t = tc_slurp(out);
    cr_assert(strstr(t, "warning: the runs compared were computed with different CPU numerics "
                        "versions") &&
                  strstr(t, "version 1 (runs 1 2)") && strstr(t, "version 2 (runs 3 4)") &&
                  strstr(t, "check: PASS"),
              "%s", t);
    free(t);
    out = TC_DIR "/numerics.json";
    cr_assert_eq(
        tc_run(db, "check --baseline ref --experiment synth --variant same --format json " TC_TOL,
               out),
        0);
    json_error_t e;
    json_t *j = json_load_file(out, 0, &e);
    cr_assert_not_null(j, "%s", e.text);
    json_t *w = json_object_get(j, "warnings");
    cr_assert(json_array_size(w) == 1 &&
              strstr(json_string_value(json_array_get(w, 0)), "numerics"));
    json_decref(j);
}

Test(check, planted_accuracy_drop_fails) {
    char db[300];
    tc_db("drop", false, db, sizeof db);
    tc_pin(db);
    const char *out = TC_DIR "/drop.txt";
    cr_assert_eq(tc_run(db, "check --baseline ref --experiment synth --variant drop " TC_TOL, out),
                 1);
    char *t = tc_slurp(out);
    char *line = strstr(t, "test/accuracy");
    cr_assert_not_null(line, "%s", t);
    cr_assert(strstr(line, "REGRESSION") && strstr(t, "check: FAIL: 1 regression"), "%s", t);
    cr_assert(strstr(line, "-0.1") && strstr(line, "drop <= 0.05"), "%s", t);
    free(t);
    /* a looser tolerance from the flag lets it pass */
    cr_assert_eq(tc_run(db,
                        "check --baseline ref --experiment synth --variant drop "
                        "--tolerance test.accuracy=0.15",
                        out),
                 0);
}

Test(check, planted_2x_latency_slowdown_fails) {
    char db[300];
    tc_db("slow", false, db, sizeof db);
    tc_pin(db);
    const char *out = TC_DIR "/slow.json";
    cr_assert_eq(
        tc_run(db, "check --baseline ref --experiment synth --variant slow --format json " TC_TOL,
               out),
        1);
    json_error_t e;
    json_t *j = json_load_file(out, 0, &e);
    cr_assert_not_null(j, "%s:%d: %s", out, e.line, e.text);
    cr_assert_str_eq(json_string_value(json_object_get(j, "status")), "fail");
    cr_assert_eq(json_integer_value(json_object_get(j, "regressions")), 2); /* p50 and p99 */
    size_t i;
    json_t *c;
    int latency_rows = 0;
    json_array_foreach(json_object_get(j, "checks"), i, c) {
        const char *kind = json_string_value(json_object_get(c, "kind"));
        bool reg = json_is_true(json_object_get(c, "regression"));
        if (!strcmp(kind, "latency")) {
            latency_rows++;
            cr_assert(reg, "latency row not a regression");
            double ratio = json_real_value(json_object_get(c, "ratio"));
            cr_assert(fabs(ratio - 2.0) < 1e-9, "ratio %g", ratio);
            cr_assert(json_real_value(json_object_get(c, "p_slower")) < 0.01);
            cr_assert(json_real_value(json_object_get(c, "factor")) == 1.5);
        } else {
            cr_assert(!reg, "%s", json_string_value(json_object_get(c, "metric")));
        }
    }
    cr_assert_eq(latency_rows, 2);
    json_decref(j);
    /* a factor above 2 lets it pass: a regression needs the factor AND the test */
    cr_assert_eq(
        tc_run(db, "check --baseline ref --experiment synth --variant slow --latency-factor 2.5",
               TC_DIR "/slow25.txt"),
        0);
}

Test(check, noise_within_tolerance_passes) {
    char db[300];
    tc_db("noisy", false, db, sizeof db);
    tc_pin(db);
    const char *out = TC_DIR "/noisy.json";
    cr_assert_eq(
        tc_run(db, "check --baseline ref --experiment synth --variant noisy --format=json " TC_TOL,
               out),
        0);
    json_error_t e;
    json_t *j = json_load_file(out, 0, &e);
    cr_assert_not_null(j, "%s:%d: %s", out, e.line, e.text);
    cr_assert_str_eq(json_string_value(json_object_get(j, "status")), "pass");
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(j, "checks"), i, c) {
        cr_assert(!json_is_true(json_object_get(c, "regression")));
        if (!strcmp(json_string_value(json_object_get(c, "kind")), "latency")) {
            /* consistently 10% slower: significant, but under the factor */
            cr_assert(json_real_value(json_object_get(c, "p_slower")) < 0.01);
            cr_assert(fabs(json_real_value(json_object_get(c, "ratio")) - 1.1) < 1e-9);
            cr_assert_str_eq(json_string_value(json_object_get(c, "verdict")), "ok");
        }
    }
    cr_assert_eq(json_array_size(json_object_get(j, "checks")), 5); /* 3 metrics, p50, p99 */
    json_decref(j);
    /* power: accuracy 0.806/0.796 on both sides, pooled sd 0.005 sqrt 2; with 2 runs a side the
     * smallest detectable difference is about 0.03, so a 0.05 tolerance is visible and a 0.01
     * one needs more runs */
    cr_assert_eq(tc_run(db,
                        "check --baseline ref --experiment synth --variant noisy --format=json "
                        "--tolerance test.accuracy=0.01",
                        out),
                 0);
    j = json_load_file(out, 0, &e);
    cr_assert_not_null(j);
    json_t *acc = json_array_get(json_object_get(j, "checks"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(acc, "metric")), "test/accuracy");
    double sd = json_real_value(json_object_get(acc, "sd"));
    cr_assert_float_eq(sd, 0.005 * sqrt(2.0), 1e-9);
    double mde = json_real_value(json_object_get(acc, "mde"));
    cr_assert_float_eq(mde, stats_mde_two_sample(sd, 2, 2, 0.05, 0.8), 1e-12);
    cr_assert(mde > 0.01 && mde < 0.05, "mde %g", mde);
    json_int_t need = json_integer_value(json_object_get(acc, "runs_needed_per_side"));
    cr_assert_eq(need, (json_int_t)stats_n_two_sample(sd, 0.01, 0.05, 0.8, STATS_N_MAX));
    cr_assert(need > 2 && stats_mde_two_sample(sd, (size_t)need, (size_t)need, 0.05, 0.8) <= 0.01);
    json_decref(j);
    cr_assert_eq(tc_run(db,
                        "check --baseline ref --experiment synth --variant noisy "
                        "--tolerance test.accuracy=0.01",
                        TC_DIR "/noisy.txt"),
                 0);
    char *txt = tc_slurp(TC_DIR "/noisy.txt");
    char want[80];
    snprintf(want, sizeof want, "runs/side for +-0.01)");
    cr_assert(strstr(txt, want) && strstr(txt, "detectable (80% power)"), "%s", txt);
    free(txt);
}

Test(check, tolerances_from_experiment_file_and_runs_list) {
    char db[300];
    tc_db("file", true, db, sizeof db);
    tc_pin(db);
    const char *out = TC_DIR "/file.txt";
    /* compare.tolerances: accuracy 0.05 -> the 0.10 drop fails; auroc listed, not gated */
    cr_assert_eq(tc_run(db, "check --baseline ref --experiment synth --variant drop", out), 1);
    char *t = tc_slurp(out);
    cr_assert(strstr(t, "test/accuracy") && strstr(t, "test/fpr.fused") &&
                  strstr(t, "test/auroc.fused.unseen") && strstr(t, "not gated"),
              "%s", t);
    free(t);
    /* a flag overrides the file's tolerance */
    cr_assert_eq(tc_run(db,
                        "check --baseline ref --experiment synth --variant drop --tolerance "
                        "test.accuracy=0.2",
                        out),
                 0);
    /* --runs: only flag tolerances; runs 7,8 are `slow` */
    cr_assert_eq(tc_run(db, "check --baseline ref --runs 3,4 --tolerance test.accuracy=0.01", out),
                 0);
    cr_assert_eq(tc_run(db, "check --baseline ref --runs 7,8", out), 1);
    t = tc_slurp(out);
    cr_assert(strstr(t, "candidate: runs 7,8 (slow)") && strstr(t, "REGRESSION"), "%s", t);
    free(t);
    /* the direct API agrees */
    Store *st;
    cr_assert_eq(store_open(db, STORE_EXISTING, &st), VB_OK);
    CheckOptions o = {.baseline = "ref", .experiment = "synth", .variant = "drop"};
    CheckResult r;
    cr_assert_eq(check_run(st, &o, &r), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(r.regressions, 1);
    cr_assert_str_eq(r.rows[0].metric, "test/accuracy");
    cr_assert_eq(r.rows[0].verdict, CHECK_REGRESSION);
    cr_assert(fabs(r.rows[0].change + 0.10) < 1e-12 && r.rows[0].limit == 0.05);
    cr_assert_eq(r.latency_factor, 1.5);
    check_result_free(&r);
    cr_assert_eq(store_close(st), VB_OK);
}

Test(check, bad_input_exits_2) {
    char db[300];
    tc_db("bad", false, db, sizeof db);
    tc_pin(db);
    const char *out = TC_DIR "/bad.txt";
    cr_assert_eq(tc_run(db, "check --baseline nosuch --experiment synth", out), 2);
    char *t = tc_slurp(TC_DIR "/bad.txt.err");
    cr_assert(strstr(t, "no baseline named 'nosuch'"), "%s", t);
    free(t);
    cr_assert_eq(tc_run(db, "check --baseline nosuch --runs 1 --format json", out), 2);
    json_error_t e;
    json_t *j = json_load_file(out, 0, &e);
    cr_assert_not_null(j, "error output is JSON too: %s", e.text);
    cr_assert_str_eq(json_string_value(json_object_get(j, "status")), "error");
    json_decref(j);
    /* a metric the runs do not have */
    cr_assert_eq(
        tc_run(db, "check --baseline ref --experiment synth --tolerance test.nosuch=0.1", out), 2);
    t = tc_slurp(TC_DIR "/bad.txt.err");
    cr_assert(strstr(t, "has no final metric test/nosuch"), "%s", t);
    free(t);
    cr_assert_eq(tc_run(db, "check --baseline ref --experiment nosuch", out), 2);
    cr_assert_eq(tc_run(db, "check --baseline ref --experiment synth --variant nosuch", out), 2);
    cr_assert_eq(tc_run(db, "check --baseline ref --runs 99", out), 2);
    cr_assert_eq(tc_run(db, "check --baseline ref", out), 2);
    cr_assert_eq(tc_run(db, "check --baseline ref --runs 1 --experiment synth", out), 2);
    cr_assert_eq(tc_run(db, "check --baseline ref --runs x", out), 2);
    cr_assert_eq(tc_run(db, "check --baseline ref --runs 3 --tolerance test.accuracy", out), 2);
    cr_assert_eq(tc_run(db, "check --baseline ref --runs 3 --latency-factor 0.5", out), 2);
    cr_assert_eq(tc_run(db, "check --baseline ref --runs 3 --format xml", out), 2);
    cr_assert_eq(tc_run(db, "baseline pin x --experiment nosuch", out), 2);
    cr_assert_eq(tc_run(db, "baseline pin x", out), 2);
    cr_assert_eq(tc_run(db, "baseline frob x", out), 2);
    cr_assert_eq(tc_run(db, "baseline show nosuch", out), 2);
    cr_assert_eq(tc_run(db, "baseline show ref", out), 0);
    t = tc_slurp(out);
    cr_assert(strstr(t, "1  synth  base  h  seed 0  done"), "%s", t);
    free(t);
}
