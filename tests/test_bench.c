/* `vadbench bench` through the real binary (built by `make test` before the
 * tests): each mode prints one JSON line with its fields (training step,
 * inference, the data loader), and bad options exit 2. Timings themselves
 * are never asserted here (see `make bench`). */
#include "testutil.h"

#include <jansson.h>
#include <sys/wait.h>

static const char *MODEL = "tests/tmp/bench_tiny.yaml";

/* Each test writes its own copy (tests run in parallel processes). */
static void write_model(const char *path) {
    cr_assert_eq(system("mkdir -p tests/tmp"), 0);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, "model:\n  backbone: {width: 0.25, depth: 0.34}\n"
               "  temporal: {type: gru, hidden: 8, layers: 1}\n"
               "  feature_dim: 16\n  embedding_dim: 8\n  svdd_hidden: 8\n  image: 32\n");
    fclose(f);
}

/* Run `./vadbench bench --model MODEL ARGS`, parse its one JSON line. */
static json_t *bench(const char *args, const char *out) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "./vadbench bench --model %s %s > %s 2>/dev/null", MODEL, args, out);
    int rc = system(cmd);
    cr_assert(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "%s: exit %d", cmd, WEXITSTATUS(rc));
    json_error_t e;
    json_t *j = json_load_file(out, 0, &e);
    cr_assert_not_null(j, "%s: %s", out, e.text);
    return j;
}

static double num(json_t *j, const char *k) {
    json_t *x = json_object_get(j, k);
    cr_assert(json_is_number(x), "field %s missing", k);
    return json_number_value(x);
}

Test(bench, train_infer_and_loader_print_their_fields, .timeout = 120) {
    write_model(MODEL);
    json_t *t = bench("--mode train --batch 2 --clip 2 --steps 2 --warmup 1 --threads 1",
                      "tests/tmp/bench_train.json");
    cr_assert_str_eq(json_string_value(json_object_get(t, "mode")), "train");
    cr_assert_eq(num(t, "steps"), 2);
    cr_assert(num(t, "images_per_s") > 0 && num(t, "median_ms") > 0 && num(t, "peak_rss_mb") > 0);
    cr_assert(isfinite(num(t, "last_loss")));
    cr_assert(num(t, "trainable_params") > 1000);
    json_decref(t);
    json_t *i = bench("--mode infer --batch 1 --steps 3 --warmup 0", "tests/tmp/bench_infer.json");
    cr_assert_str_eq(json_string_value(json_object_get(i, "mode")), "infer");
    cr_assert(num(i, "p99_ms") >= num(i, "median_ms"));
    cr_assert_null(json_object_get(i, "last_loss"));
    /* the CPU products: GFLOP per step and the achieved rate, and the path */
    cr_assert(num(i, "gflop_per_step") > 1e-4 && num(i, "gflops") > 0);
    cr_assert_str_eq(json_string_value(json_object_get(i, "cpu_path")), kisa_name(kisa_active()));
    json_decref(i);
    /* the SGEMM peak (no model needed) */
    json_t *g = bench("--mode gemm --steps 3 --warmup 1 --threads 1", "tests/tmp/bench_gemm.json");
    cr_assert_str_eq(json_string_value(json_object_get(g, "mode")), "gemm");
    cr_assert(num(g, "peak_gflops") >= num(g, "mean_gflops") && num(g, "mean_gflops") > 0);
    json_decref(g);
    json_t *l = bench("--mode loader --batch 4 --clip 2 --steps 5 --warmup 1 --workers 1",
                      "tests/tmp/bench_loader.json");
    cr_assert_str_eq(json_string_value(json_object_get(l, "mode")), "loader");
    cr_assert_eq(num(l, "workers"), 1);
    cr_assert_eq(num(l, "image"), 32);
    /* default synthetic set: 13 x 8 + 32 Train videos of 16 frames, clips of 2 */
    cr_assert_eq(num(l, "clips_per_epoch"), (13 * 8 + 32) * 8);
    cr_assert(num(l, "batches_per_s") > 0);
    /* both printed to 6 significant digits */
    cr_assert_float_eq(num(l, "images_per_s"), num(l, "batches_per_s") * 8,
                       2e-5 * num(l, "images_per_s"));
    json_decref(l);
}

Test(bench, bad_options_exit_2) {
    write_model("tests/tmp/bench_bad.yaml");
    cr_assert_eq(system("./vadbench bench --model tests/tmp/bench_bad.yaml --mode fast "
                        "> /dev/null 2> tests/tmp/bench_bad.err"),
                 2 << 8);
    cr_assert_eq(system("grep -q 'expects one of train, infer, loader' tests/tmp/bench_bad.err"),
                 0);
    cr_assert_eq(system("./vadbench bench --model tests/tmp/bench_bad.yaml --workers -1 "
                        "> /dev/null 2>&1"),
                 2 << 8);
}
