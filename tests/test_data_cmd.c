/* Tests of `vadbench data synth|inspect|cache` through cmd_data: exit
 * codes, the archive it writes, and inspect's JSON (parsed with jansson).
 * stdout is redirected to a file under tests/tmp/data_cmd/ (each Criterion
 * test runs in its own process). */
#include "testutil.h"

#include <jansson.h>
#include <sys/stat.h>
#include <unistd.h>

int cmd_data(int argc, char **argv);

#define DIR "tests/tmp/data_cmd"

/* This test process's stderr file (tests run in parallel processes). */
static const char *err_file(void) {
    static char path[96];
    snprintf(path, sizeof path, DIR "/stderr.%d.out", (int)getpid());
    return path;
}

/* Run cmd_data with stdout to out_file and stderr to err_file(). */
static int run(const char *out_file, int argc, const char **argv) {
    fflush(stdout), fflush(stderr);
    cr_assert_not_null(freopen(out_file, "w", stdout));
    cr_assert_not_null(freopen(err_file(), "w", stderr));
    int rc = cmd_data(argc, (char **)argv);
    fflush(stdout), fflush(stderr);
    return rc;
}

/* The start of a text file as a string ("" when it cannot be read). */
static void read_text(const char *path, char *buf, size_t size) {
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, size - 1, f) : 0;
    buf[n] = 0;
    if (f) fclose(f);
}

static bool stderr_has(const char *text) {
    char buf[8192];
    read_text(err_file(), buf, sizeof buf);
    return strstr(buf, text) != NULL;
}

static json_t *load_json(const char *file) {
    json_error_t e;
    json_t *j = json_load_file(file, 0, &e);
    cr_assert_not_null(j, "%s:%d: %s", file, e.line, e.text);
    return j;
}

static long long geti(json_t *o, const char *a, const char *b) {
    json_t *x = json_object_get(o, a);
    if (b) x = json_object_get(x, b);
    cr_assert(json_is_integer(x), "%s.%s", a, b ? b : "");
    return (long long)json_integer_value(x);
}

Test(data_cmd, synth_then_inspect_json_then_cache_reuse) {
    cr_assert_eq(system("mkdir -p " DIR " && rm -rf " DIR "/cache " DIR "/s.tar.gz"), 0);
    const char *synth[] = {"data",
                           "synth",
                           "--out",
                           DIR "/s.tar.gz",
                           "--videos",
                           "2",
                           "--test-videos",
                           "1",
                           "--normal-factor",
                           "3",
                           "--frames",
                           "3",
                           "--size",
                           "16",
                           "--seed",
                           "4",
                           "--top",
                           "UCF"};
    cr_assert_eq(run(DIR "/synth.out", 18, synth), 0);
    struct stat st;
    cr_assert_eq(stat(DIR "/s.tar.gz", &st), 0);
    const char *insp[] = {"data", "inspect",     DIR "/s.tar.gz", "--format",
                          "json", "--cache-dir", DIR "/cache"};
    for (int pass = 0; pass < 2; pass++) {
        cr_assert_eq(run(DIR "/inspect.json", 7, insp), 0);
        json_t *j = load_json(DIR "/inspect.json");
        cr_assert_eq(json_array_size(json_object_get(j, "classes")), 14);
        cr_assert_str_eq(json_string_value(json_object_get(j, "normal")), "NormalVideos");
        cr_assert_eq(geti(json_object_get(j, "totals"), "train", "videos"), 13 * 2 + 6);
        cr_assert_eq(geti(json_object_get(j, "totals"), "test", "frames"), (13 + 3) * 3);
        json_t *ab = json_array_get(json_object_get(j, "classes"), 0);
        cr_assert_str_eq(json_string_value(json_object_get(ab, "name")), "Abuse");
        cr_assert_eq(geti(ab, "train", "frames"), 6);
        cr_assert_eq(geti(j, "skipped", NULL), 0);
        cr_assert_eq(json_integer_value(json_array_get(json_object_get(j, "frame_size"), 0)), 16);
        cr_assert(json_is_true(json_object_get(json_object_get(j, "cache"), "hit")) == (pass == 1));
        json_decref(j);
    }
    const char *cache[] = {"data", "cache", DIR "/s.tar.gz", "--cache-dir", DIR "/cache"};
    cr_assert_eq(run(DIR "/cache.out", 5, cache), 0);
    FILE *f = fopen(DIR "/cache.out", "r");
    char line[512] = "";
    cr_assert_not_null(fgets(line, sizeof line, f));
    fclose(f);
    cr_assert(strncmp(line, "reused " DIR "/cache/s.tar.gz-", 20) == 0, "%s", line);
    cr_assert(strstr(line, "144 frames of 16x16"), "%s", line);
    /* the same data described by the generator directly: same digest */
    const char *gen[] = {
        "data",          "inspect", "--source",        "synthetic", "--videos", "2",
        "--test-videos", "1",       "--normal-factor", "3",         "--frames", "3",
        "--size",        "16",      "--seed",          "4",         "--format", "json"};
    cr_assert_eq(run(DIR "/gen.json", 18, gen), 0);
    json_t *a = load_json(DIR "/gen.json"), *b = load_json(DIR "/inspect.json");
    cr_assert_str_eq(json_string_value(json_object_get(a, "digest")),
                     json_string_value(json_object_get(b, "digest")));
    json_decref(a), json_decref(b);
}

Test(data_cmd, text_output_lists_every_class) {
    cr_assert_eq(system("mkdir -p " DIR), 0);
    const char *gen[] = {"data",          "inspect", "--source", "synthetic", "--videos", "1",
                         "--test-videos", "0",       "--frames", "2",         "--size",   "16"};
    cr_assert_eq(run(DIR "/text.out", 12, gen), 0);
    char buf[8192];
    read_text(DIR "/text.out", buf, sizeof buf);
    cr_assert(strstr(buf, "frames:   16x16 RGB") &&
                  strstr(buf, "classes:  14 (normal: NormalVideos)"),
              "%s", buf);
    cr_assert(strstr(buf, "NormalVideos *") && strstr(buf, "Vandalism "), "%s", buf);
    cr_assert(strstr(buf, "total                      17"), "%s", buf);
}

Test(data_cmd, probe_json_and_text) {
    cr_assert_eq(system("mkdir -p " DIR), 0);
    const char *probe[] = {"data",     "probe",    "--source", "synthetic", "--videos",
                           "6",        "--frames", "4",        "--size",    "32",
                           "--format", "json",     "--alpha",  "2"};
    cr_assert_eq(run(DIR "/probe.json", 14, probe), 0);
    json_t *j = load_json(DIR "/probe.json");
    cr_assert_eq(geti(j, "train_videos", NULL), 13 * 6 + 4 * 6);
    cr_assert_eq(geti(j, "test_videos", NULL), 13 * 4 + 4 * 4);
    cr_assert_float_eq(json_number_value(json_object_get(j, "alpha")), 2.0, 0);
    json_t *sets = json_object_get(j, "probes");
    const char *names[] = {"colour", "layout", "motion", "all"};
    const long long dims[] = {30, 192, 66, 288};
    for (int s = 0; s < 4; s++) {
        json_t *p = json_object_get(sets, names[s]);
        cr_assert_eq(geti(p, "dims", NULL), dims[s], "%s", names[s]);
        double b = json_number_value(json_object_get(p, "balanced_accuracy"));
        cr_assert(b >= 0 && b <= 1, "%s %g", names[s], b);
        cr_assert_eq(json_object_size(json_object_get(p, "recall")), 14);
        cr_assert_eq(json_object_size(json_object_get(p, "auroc_vs_normal_by_class")), 13);
    }
    json_decref(j);
    probe[10] = "--alpha", probe[11] = "1";
    cr_assert_eq(run(DIR "/probe.txt", 12, probe), 0);
    char buf[8192];
    read_text(DIR "/probe.txt", buf, sizeof buf);
    cr_assert(strstr(buf, "balanced acc.") && strstr(buf, "NormalVideos") &&
                  strstr(buf, "(normal)") && strstr(buf, "ridge classifier (alpha 1)"),
              "%s", buf);
    const char *held[] = {"data",      "probe",          "--source", "synthetic", "--videos",
                          "6",         "--frames",       "4",        "--size",    "32",
                          "--holdout", "Arson, Robbery", "--format", "json"};
    cr_assert_eq(run(DIR "/probe_held.json", 14, held), 0);
    j = load_json(DIR "/probe_held.json");
    json_t *h = json_object_get(j, "holdout");
    cr_assert_eq(json_array_size(h), 2);
    cr_assert_str_eq(json_string_value(json_array_get(h, 0)), "Arson");
    cr_assert_eq(geti(j, "train_videos", NULL), 11 * 6 + 4 * 6); /* held-out classes not fitted */
    json_t *all = json_object_get(json_object_get(j, "probes"), "all");
    cr_assert(json_is_null(json_object_get(json_object_get(all, "recall"), "Robbery")));
    cr_assert(json_is_number(json_object_get(all, "auroc_vs_normal_unseen")));
    json_decref(j);
    /* every anomaly class held out: one fitted class, the distance probe only */
    held[11] = "Abuse,Arrest,Arson,Assault,Burglary,Explosion,Fighting,RoadAccidents,Robbery,"
               "Shooting,Shoplifting,Stealing,Vandalism";
    cr_assert_eq(run(DIR "/probe_one.json", 14, held), 0);
    j = load_json(DIR "/probe_one.json");
    cr_assert(json_is_null(json_object_get(j, "chance_balanced_accuracy")));
    all = json_object_get(json_object_get(j, "probes"), "all");
    cr_assert(json_is_null(json_object_get(all, "balanced_accuracy")));
    cr_assert(json_is_number(json_object_get(all, "auroc_vs_normal_unseen")));
    json_decref(j);
    held[11] = "Nope";
    cr_assert_eq(run(DIR "/probe_bad.out", 12, held), 2);
    cr_assert(stderr_has("'Nope' is not an anomaly class"));
    const char *bad[] = {"data", "probe", "--source", "synthetic", "--alpha", "0"};
    cr_assert_eq(run(DIR "/probe_bad.out", 6, bad), 2);
    cr_assert(stderr_has("--alpha must be > 0"));
    const char *one[] = {"data", "probe", "--source", "synthetic", "--test-videos", "0"};
    cr_assert_eq(run(DIR "/probe_bad.out", 6, one), 2);
    cr_assert(stderr_has("needs Test videos"));
}

Test(data_cmd, usage_and_input_errors_exit_2) {
    cr_assert_eq(system("mkdir -p " DIR), 0);
    const char *a[] = {"data"};
    cr_assert_eq(run(DIR "/e.out", 1, a), 2);
    cr_assert(stderr_has("a subcommand is required"));
    const char *b[] = {"data", "frobnicate"};
    cr_assert_eq(run(DIR "/e.out", 2, b), 2);
    cr_assert(stderr_has("unknown subcommand 'frobnicate'"));
    const char *c[] = {"data", "synth", "--videos", "2"};
    cr_assert_eq(run(DIR "/e.out", 4, c), 2);
    cr_assert(stderr_has("--out PATH is required"));
    const char *d[] = {"data", "inspect", "x.tar", "--format", "xml"};
    cr_assert_eq(run(DIR "/e.out", 5, d), 2);
    const char *e[] = {"data", "inspect", DIR "/does-not-exist.tar", "--no-cache"};
    cr_assert_eq(run(DIR "/e.out", 4, e), 2);
    cr_assert(stderr_has("cannot open " DIR "/does-not-exist.tar"));
    const char *g[] = {"data", "synth", "--out", DIR "/x.zip", "--size", "4"};
    cr_assert_eq(run(DIR "/e.out", 6, g), 2);
    cr_assert(stderr_has("size 4 is outside"));
    const char *h[] = {"data", "inspect", "--source", "synthetic", "--bogus"};
    cr_assert_eq(run(DIR "/e.out", 5, h), 2);
    cr_assert(stderr_has("unknown option '--bogus'"));
    const char *i[] = {"data", "--help"};
    cr_assert_eq(run(DIR "/e.out", 2, i), 0);
}
