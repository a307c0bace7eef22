/* Tests of the browsing commands over the results store: `vadbench runs`
 * (table, CSV with quoting, JSON), `show` (by id, hash prefix, ambiguous
 * prefix; text and JSON), `export` (CSV and JSON), and their errors on
 * missing, corrupt and empty databases. */
#include "store_testutil.h"

/* ---- the browsing commands ------------------------------------------------ */

/* Run a command with stdout to `out` and stderr to `out`.err; its exit code. */
static int run_cmd(int (*fn)(int, char **), const char *out, int argc, const char **argv) {
    char err[300];
    snprintf(err, sizeof err, "%s.err", out);
    fflush(stdout), fflush(stderr);
    cr_assert_not_null(freopen(out, "w", stdout));
    cr_assert_not_null(freopen(err, "w", stderr));
    int rc = fn(argc, (char **)argv);
    fflush(stdout), fflush(stderr);
    return rc;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *buf = malloc((size_t)n + 1);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    buf[n] = 0;
    return buf;
}

static json_t *load_json(const char *file) {
    json_error_t e;
    json_t *j = json_load_file(file, 0, &e);
    cr_assert_not_null(j, "%s:%d: %s", file, e.line, e.text);
    return j;
}

/* The element of a JSON array whose `key` is the integer v. */
static json_t *by_id(json_t *arr, const char *key, int v) {
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) if (json_integer_value(json_object_get(o, key)) == v) return o;
    cr_assert_fail("no element with %s = %d", key, v);
    return NULL;
}

#define OUT TSU_DIR "/cmd-"

Test(store_cmd, runs_as_table_csv_and_json) {
    char db[256];
    cr_assert_eq(store_close(results_db("cmd_runs", db, sizeof db)), VB_OK);
    const char *a[] = {"runs", "--db", db};
    cr_assert_eq(run_cmd(cmd_runs, OUT "runs.txt", 3, a), 0);
    char *t = slurp(OUT "runs.txt");
    cr_assert(strstr(t, "id  experiment  variant  holdout  seed  status  test/auc  val/loss") &&
                  strstr(t, "0.7") && strstr(t, "bad, \"NaN\" loss") && strstr(t, "queued") &&
                  strstr(t, "abcd2222"),
              "%s", t);
    free(t);
    const char *b[] = {"runs",     "--experiment", "exp",  "--status", "done",
                       "--format", "csv",          "--db", db};
    cr_assert_eq(run_cmd(cmd_runs, OUT "runs.csv", 9, b), 0);
    t = slurp(OUT "runs.csv");
    cr_assert(strstr(t, "run_id,experiment,variant,holdout,seed,status,test/auc,val/loss,"
                        "wall_s,config_hash,error\n1,exp,A,h1,1,done,0.1,0.9,") == t,
              "%s", t);
    cr_assert(strstr(t, "\n3,exp,A,h1,2,done,0.8,0.19999999999999996,"), "%s", t);
    int lines = 0;
    for (char *p = t; *p; p++) lines += *p == '\n';
    cr_assert_eq(lines, 6, "%s", t);
    free(t);
    const char *c[] = {"runs", "--status", "failed", "--format", "csv"};
    setenv("VADBENCH_DB", db, 1);
    cr_assert_eq(run_cmd(cmd_runs, OUT "failed.csv", 5, c), 0);
    t = slurp(OUT "failed.csv");
    cr_assert(strstr(t, ",dead0006,\"bad, \"\"NaN\"\"\nloss\"\n"), "%s", t);
    free(t);
    const char *d[] = {"runs", "--format", "json"};
    cr_assert_eq(run_cmd(cmd_runs, OUT "runs.json", 3, d), 0);
    json_t *j = load_json(OUT "runs.json");
    cr_assert_eq(json_array_size(j), 7);
    cr_assert_str_eq(json_string_value(json_object_get(by_id(j, "run_id", 6), "error")), BAD_ERROR);
    cr_assert_eq(json_real_value(json_object_get(by_id(j, "run_id", 2), "test/auc")), 0.7);
    cr_assert(json_is_null(json_object_get(by_id(j, "run_id", 7), "test/auc")));
    cr_assert_str_eq(json_string_value(json_object_get(by_id(j, "run_id", 7), "status")), "queued");
    json_decref(j);
    const char *e[] = {"runs", "--status", "finished"};
    cr_assert_eq(run_cmd(cmd_runs, OUT "bad.txt", 3, e), 2);
    const char *f[] = {"runs", "--experiment", "nope"};
    cr_assert_eq(run_cmd(cmd_runs, OUT "none.txt", 3, f), 0);
    t = slurp(OUT "none.txt");
    cr_assert(strstr(t, "no runs of experiment 'nope' in "), "%s", t);
    free(t);
}

Test(store_cmd, show_by_id_and_hash_prefix) {
    char db[256];
    Store *st = results_db("cmd_show", db, sizeof db);
    double ms[] = {2, 4, 6, 8};
    cr_assert_eq(store_log_latency(st, 3, "infer", 4, ms, 4), VB_OK);
    cr_assert_eq(store_close(st), VB_OK);
    const char *a[] = {"show", "2", "--db", db};
    cr_assert_eq(run_cmd(cmd_show, OUT "show.txt", 4, a), 0);
    char *t = slurp(OUT "show.txt");
    const char *want[] = {"run 2: exp / A / holdout h1 / seed 1",
                          "done (attempts 1)",
                          "abcd1111",
                          "provenance",
                          "cpu, 2 threads",
                          "sha256:feed",
                          "test/auc",
                          "0.7  (epoch 3)",
                          "train/loss",
                          "3 points, steps 0..2",
                          "timings",
                          "cpu kernels",
                          "numerics version",
                          "\"variant\": \"A\""};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert(strstr(t, want[i]), "missing '%s' in:\n%s", want[i], t);
    free(t);
    const char *b[] = {"show", "abcd2", "--format", "json", "--db", db};
    cr_assert_eq(run_cmd(cmd_show, OUT "show.json", 6, b), 0);
    json_t *j = load_json(OUT "show.json");
    cr_assert_eq(json_integer_value(json_object_get(j, "id")), 3);
    cr_assert_eq(json_real_value(json_object_get(json_object_get(j, "finals"), "test/auc")), 0.8);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(j, "config"), "seed")), 2);
    json_t *p = json_object_get(j, "provenance");
    cr_assert_str_eq(json_string_value(json_object_get(p, "backend")), "cpu");
    cr_assert_eq(json_integer_value(json_object_get(p, "numerics")), VB_NUMERICS_VERSION);
    cr_assert_not_null(json_string_value(json_object_get(p, "cpu_path")));
    json_t *lat = json_array_get(json_object_get(j, "latency_ms"), 0);
    cr_assert_eq(json_real_value(json_object_get(lat, "p50")), 5.0);
    cr_assert_eq(json_integer_value(
                     json_object_get(json_array_get(json_object_get(j, "timings"), 0), "count")),
                 4);
    json_t *cur = json_object_get(json_object_get(j, "curves"), "train/loss");
    cr_assert_eq(json_integer_value(json_object_get(cur, "points")), 3);
    json_decref(j);
    const char *c[] = {"show", "abcd", "--db", db};
    cr_assert_eq(run_cmd(cmd_show, OUT "amb.txt", 4, c), 2);
    t = slurp(OUT "amb.txt.err");
    cr_assert(strstr(t, "ambiguous") && strstr(t, "run 2") && strstr(t, "run 3"), "%s", t);
    free(t);
    const char *d[] = {"show", "--db", db};
    cr_assert_eq(run_cmd(cmd_show, OUT "noarg.txt", 3, d), 2);
}

Test(store_cmd, export_has_a_column_per_final_metric) {
    char db[256];
    cr_assert_eq(store_close(results_db("cmd_export", db, sizeof db)), VB_OK);
    const char *a[] = {"export", "--format", "csv", "--db", db};
    cr_assert_eq(run_cmd(cmd_export, OUT "export.csv", 5, a), 0);
    char *t = slurp(OUT "export.csv");
    cr_assert(strstr(t, "run_id,experiment,variant,holdout,seed,status,error,config_hash,"
                        "created,started,finished,wall_s,attempts,git_sha,git_dirty,host,"
                        "cpu_model,gpu,gpu_driver,build_opts,libraries,backend,threads,"
                        "dataset_digest,cpu_path,numerics,test/auc,val/loss\n") == t,
              "%s", t);
    char want[80];
    snprintf(want, sizeof want, ",cpu,2,sha256:feed,%s,%d,0.6,0.4\n", kisa_name(kisa_active()),
             VB_NUMERICS_VERSION);
    cr_assert(strstr(t, want), "%s", t);
    cr_assert(strstr(t, "\n7,other,Z,,9,queued,,e0e0e0e0,"), "%s", t);
    free(t);
    const char *b[] = {"export", "--format", "json", "--db", db, "--experiment", "exp"};
    cr_assert_eq(run_cmd(cmd_export, OUT "export.json", 7, b), 0);
    json_t *j = load_json(OUT "export.json");
    cr_assert_eq(json_array_size(j), 6);
    json_t *r6 = by_id(j, "run_id", 6), *r5 = by_id(j, "run_id", 5);
    cr_assert_eq(json_object_size(r6), STORE_EXPORT_FIXED_COLUMNS + 2);
    cr_assert(json_is_null(json_object_get(r6, "test/auc")));
    cr_assert_eq(json_real_value(json_object_get(r5, "test/auc")), 0.6);
    cr_assert_eq(json_integer_value(json_object_get(r5, "threads")), 2);
    cr_assert(json_real_value(json_object_get(r5, "wall_s")) >= 0);
    json_decref(j);
    const char *c[] = {"export", "--db", db};
    cr_assert_eq(run_cmd(cmd_export, OUT "nofmt.csv", 3, c), 2);
    const char *d[] = {"export", "--format", "table", "--db", db};
    cr_assert_eq(run_cmd(cmd_export, OUT "table.csv", 5, d), 2);
}

Test(store_cmd, missing_corrupt_and_empty_databases) {
    char db[256], bad[256];
    tsu_path("cmd_missing", db, sizeof db);
    const char *a[] = {"runs", "--db", db};
    cr_assert_eq(run_cmd(cmd_runs, OUT "missing.txt", 3, a), 2);
    char *t = slurp(OUT "missing.txt.err");
    cr_assert(strstr(t, db) && strstr(t, "no such results database"), "%s", t);
    free(t);
    tsu_path("cmd_corrupt", bad, sizeof bad);
    tsu_random_file(bad, 4096, 11);
    const char *b[] = {"show", "1", "--db", bad};
    cr_assert_eq(run_cmd(cmd_show, OUT "corrupt.txt", 4, b), 2);
    t = slurp(OUT "corrupt.txt.err");
    cr_assert(strstr(t, bad) && strstr(t, "not a database"), "%s", t);
    free(t);
    const char *b2[] = {"export", "--format", "json", "--db", bad};
    cr_assert_eq(run_cmd(cmd_export, OUT "corrupt.json", 5, b2), 2);
    cr_assert_eq(store_close(tsu_fresh("cmd_empty", db, sizeof db)), VB_OK);
    cr_assert_eq(run_cmd(cmd_runs, OUT "empty.txt", 3, a), 0);
    t = slurp(OUT "empty.txt");
    char want[300];
    snprintf(want, sizeof want, "no runs in %s\n", db);
    cr_assert_str_eq(t, want);
    free(t);
    const char *c[] = {"runs", "--format", "json", "--db", db};
    cr_assert_eq(run_cmd(cmd_runs, OUT "empty.json", 5, c), 0);
    t = slurp(OUT "empty.json");
    cr_assert_str_eq(t, "[]\n");
    free(t);
    const char *d[] = {"export", "--format", "csv", "--db", db};
    cr_assert_eq(run_cmd(cmd_export, OUT "empty.csv", 5, d), 0);
    t = slurp(OUT "empty.csv");
    cr_assert(strncmp(t, "run_id,experiment,", 18) == 0 && strchr(t, '\n') == t + strlen(t) - 1,
              "%s", t);
    free(t);
}
