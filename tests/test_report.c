/* Tests of `vadbench report` (harness/report/, harness/cli/cmd_report.c) on a
 * small experiment written straight through the store API — no training:
 * two variants (plain, with_vae) x three seeds x one holdout, with final
 * metrics carrying seed noise, ROC curves, training and validation curves,
 * confusion counts, timings, memory and latency samples. Checked: every
 * file is written, the HTML has every section and embeds its figures, the
 * PNGs are valid images (signature, IHDR, decoded by libspng), numbers in
 * the tables are the database's (a mean and interval recomputed here), the
 * report without gnuplot still has its tables and says why the figures are
 * missing, defaults without an experiment file, exit 2 for an unknown
 * or empty experiment, no output with an unexpanded {{placeholder}}, a
 * report rendered with `--templates DIR` taking DIR's templates (and
 * failing by name on a broken one), and the experiment named "templates"
 * kept out of reports/templates/. Files live under tests/tmp/report/, one
 * name per test (Criterion runs tests in parallel processes). */
#include "testutil.h"

#include <spng.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness/report/report.h"
#include "harness/stats/stats.h"
#include "harness/store/store.h"

#define TR_DIR "tests/tmp/report"

static const char *const TR_VARIANTS[2] = {"plain", "with_vae"};
static const double TR_NOISE[3] = {0.012, -0.021, 0.006};

/* Per-run value of a metric: base + shift for the VAE variant + seed noise. */
static double tr_val(double base, double vae_shift, int v, int s, double noise_scale) {
    return base + v * vae_shift + noise_scale * TR_NOISE[s];
}

static void tr_log_run(Store *st, int64_t id, int v, int s) {
    struct {
        const char *split, *key;
        double base, shift, noise;
    } fin[] = {
        {"test", "accuracy", 0.80, 0.05, 1.0},
        {"test", "fpr.fused", 0.08, -0.02, 0.5},
        {"test", "detect.fused.unseen", 0.60, 0.15, 2.0},
        {"test", "auroc.fused.unseen", 0.85, 0.04, 1.0},
        {"test", "auroc.fused.all", 0.88, 0.03, 1.0},
        {"test", "auroc.binary.unseen", 0.70, 0.0, 1.0},
        {"test", "detect.binary.unseen", 0.40, 0.0, 1.0},
        {"test", "macro_f1", 0.70, 0.04, 1.0},
        {"test", "detect.fused.class.Arson", 0.55, 0.1, 2.0},
        {"test", "detect.fused.class.Explosion", 0.65, 0.2, 2.0},
        {"memory", "activation_mb", 100.0, 50.0, 0.0},
        {"memory", "param_mb", 2.0, 1.0, 0.0},
        {"memory", "peak_rss_mb", 300.0, 80.0, 100.0},
        {"train", "seconds", 10.0, 3.0, 20.0},
        {"train", "seconds_per_epoch", 5.0, 1.5, 10.0},
        {"model", "trainable_params", 1000, 200, 0},
        {"test", "video_balanced_accuracy", 0.75, 0.05, 1.0},
        {"test", "video_auroc.fused.unseen", 0.90, 0.02, 1.0},
        {"probe", "all.video_balanced_accuracy", 0.50, 0.0, 1.0},
        {"probe", "colour.video_auroc.unseen", 0.55, 0.0, 1.0},
    };
    for (size_t i = 0; i < sizeof fin / sizeof fin[0]; i++)
        cr_assert_eq(store_log_final(st, id, fin[i].split, fin[i].key, -1,
                                     tr_val(fin[i].base, fin[i].shift, v, s, fin[i].noise)),
                     VB_OK, "%s", vb_errmsg());
    /* confusion over two seen classes: Normal (the normal class) and Abuse */
    const char *cls[2] = {"Abuse", "Normal"};
    for (int a = 0; a < 2; a++) {
        char key[64];
        snprintf(key, sizeof key, "class.%s.support", cls[a]);
        cr_assert_eq(store_log_final(st, id, "test", key, -1, 10), VB_OK);
        for (int b = 0; b < 2; b++) {
            snprintf(key, sizeof key, "confusion.%s.%s", cls[a], cls[b]);
            cr_assert_eq(store_log_final(st, id, "test", key, -1, a == b ? 8 + v : 2 - v), VB_OK);
        }
    }
    const double fpr[4] = {0, 0.1, 0.5, 1}, tpr[4] = {0, 0.5 + 0.1 * v, 0.8, 1};
    for (int k = 0; k < 4; k++) {
        cr_assert_eq(store_log_metric(st, id, "test", "roc.fused.unseen.fpr", k, -1, fpr[k]),
                     VB_OK);
        cr_assert_eq(store_log_metric(st, id, "test", "roc.fused.unseen.tpr", k, -1, tpr[k]),
                     VB_OK);
    }
    for (int step = 0; step < 10; step++)
        cr_assert_eq(store_log_metric(st, id, "train", "loss", step, step / 5,
                                      2.0 - 0.1 * step + 0.05 * v + 0.01 * s),
                     VB_OK);
    for (int e = 0; e < 2; e++) {
        cr_assert_eq(store_log_metric(st, id, "val", "loss", e, e, 1.5 - 0.2 * e), VB_OK);
        cr_assert_eq(store_log_metric(st, id, "val", "accuracy", e, e, 0.6 + 0.1 * e + 0.02 * v),
                     VB_OK);
    }
    cr_assert_eq(store_log_timing(st, id, "train", 10.0 + s, 10), VB_OK);
    const char *comp[] = {"backbone", "temporal", "heads", "svdd", "vae", "model"};
    const double ms[] = {1.5, 0.3, 0.05, 0.02, 0.1, 2.0};
    double x[40];
    for (int c = 0; c < 6; c++) {
        if (c == 4 && v == 0) continue; /* no VAE in the plain variant */
        for (int i = 0; i < 40; i++)
            x[i] = (ms[c] + (c == 5 ? 0.1 * v : 0)) * (1.0 + 0.01 * ((i * 7 + s) % 11));
        cr_assert_eq(store_log_latency(st, id, comp[c], 1, x, 40), VB_OK, "%s", vb_errmsg());
    }
    StoreProvenance p = {.git_sha = "abc123def456",
                         .host = "testhost",
                         .cpu_model = "Test CPU",
                         .build_opts = "CUDA=0 SAN=0 DEBUG=0 CC=gcc 12",
                         .libraries = "testlibs 1.0",
                         .backend = "cpu",
                         .threads = 2,
                         .dataset_digest = "digest42",
                         .slurm_array_task_id = -1,
                         .cpu_path = "avx512",
                         .numerics = VB_NUMERICS_VERSION};
    cr_assert_eq(store_set_provenance(st, id, &p), VB_OK);
}

/* TR_DIR/NAME.db holding experiment `synth` (file TR_DIR/NAME.yaml when
 * with_file) with nseeds seeds of both variants, all done; `queued` more
 * cells stay queued. */
static void tr_db(const char *name, bool with_file, int nseeds, char *db, size_t size) {
    mkdir("tests/tmp", 0777);
    mkdir(TR_DIR, 0777);
    snprintf(db, size, TR_DIR "/%s.db", name);
    const char *ext[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        char p[300];
        snprintf(p, sizeof p, "%s%s", db, ext[i]);
        unlink(p);
    }
    char file[300] = "";
    if (with_file) {
        snprintf(file, sizeof file, TR_DIR "/%s.yaml", name);
        FILE *f = fopen(file, "w");
        cr_assert_not_null(f);
        fputs(
            "experiment: synth\ndescription: synthetic report test\n"
            "variants:\n  plain: {}\n  with_vae:\n    model.vae: {level: feature, latent: 16, "
            "hidden: [32]}\n"
            "seeds: [0, 1, 2]\n"
            "compare:\n  baseline: plain\n"
            "  metrics: [test.accuracy, test.fpr.fused, test.detect.fused.unseen]\n"
            "  tolerances: {test.accuracy: 0.05}\n  latency_factor: 1.4\n"
            "  claims:\n"
            "    - {statement: \"test accuracy, Option A \xe2\x86\x92 with VAE\", source: the seed,\n"
            "       figure: \"90% \xe2\x86\x92 93\xe2\x80\x93"
            "95%\", metric: test/accuracy,\n"
            "       unit: \"%\", difference: [3, 5]}\n"
            "    - {statement: false positives, source: the seed, figure: \"8% \xe2\x86\x92 "
            "5%\",\n"
            "       metric: \"test/fpr.{score}\", unit: \"%\", difference: -3}\n"
            "    - {statement: unknown anomaly types detected, source: the seed,\n"
            "       metric: \"test/detect.{score}.unseen\", unit: \"%\", difference: 15}\n"
            "    - {statement: VAE inference cost, source: the seed,\n"
            "       figure: \"+5\xe2\x80\x93"
            "10 ms per frame\", metric: latency/vae/b1/frame,\n"
            "       missing_is_zero: true, difference: [5, 10]}\n"
            "    - {statement: VAE memory, source: the seed, metric: memory/peak_rss_mb, unit: MB,\n"
            "       difference: [200, 500]}\n"
            "    - {statement: VAE training time, source: the seed, metric: train/seconds,\n"
            "       relative: [20, 30]}\n"
            "    - {statement: published accuracy, source: a paper, metric: test/accuracy,\n"
            "       variants: [plain], unit: \"%\", value: 0.8, spread: 0.01, tolerance: 0.05}\n",
            f);
        fclose(f);
    }
    Store *st;
    cr_assert_eq(store_open(db, STORE_CREATE, &st), VB_OK, "%s", vb_errmsg());
    int64_t eid;
    cr_assert_eq(store_ensure_experiment(st, "synth", "synthetic <report> & \"test\"",
                                         with_file ? file : NULL, &eid),
                 VB_OK);
    StoreCell cells[8];
    char json[8][256], hash[8][40];
    int n = 0;
    for (int v = 0; v < 2; v++)
        for (int s = 0; s < nseeds; s++, n++) {
            snprintf(json[n], sizeof json[n],
                     "{\"dataset\":{\"clip\":{\"frames\":4},\"normal_class\":\"Normal\"},"
                     "\"model\":{\"vae\":{\"level\":\"%s\"}},\"seed\":%d,\"variant\":\"%s\"}",
                     v ? "feature" : "none", s, TR_VARIANTS[v]);
            snprintf(hash[n], sizeof hash[n], "%08x%024x", 0xabc00000u + (unsigned)n, (unsigned)n);
            cells[n] = (StoreCell){TR_VARIANTS[v], s, "unseen2", json[n], hash[n]};
        }
    cr_assert_eq(store_register_cells(st, eid, cells, n, NULL), VB_OK, "%s", vb_errmsg());
    for (;;) {
        bool claimed;
        StoreRun r;
        cr_assert_eq(store_claim(st, NULL, 0, &claimed, &r), VB_OK);
        if (!claimed) break;
        tr_log_run(st, r.id, strcmp(r.variant, "plain") != 0, (int)r.seed);
        cr_assert_eq(store_mark_done(st, r.id), VB_OK, "%s", vb_errmsg());
        store_run_free(&r);
    }
    cr_assert_eq(store_close(st), VB_OK);
}

static char *tr_slurp(const char *path) {
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

static bool tr_exists(const char *dir, const char *file) {
    char p[600];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", dir, file);
    return stat(p, &sb) == 0 && sb.st_size > 0;
}

static int tr_system(const char *cmd) {
    int st = system(cmd);
    cr_assert(st != -1 && WIFEXITED(st), "could not run: %s", cmd);
    return WEXITSTATUS(st);
}

/* A valid PNG: signature, IHDR first, decodes with libspng to w x h RGBA8. */
static void tr_assert_png(const char *path) {
    char *data = tr_slurp(path);
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    size_t n = (size_t)ftell(f);
    fclose(f);
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    cr_assert(n > 33 && memcmp(data, sig, 8) == 0, "%s: no PNG signature", path);
    cr_assert(memcmp(data + 12, "IHDR", 4) == 0, "%s: IHDR is not the first chunk", path);
    spng_ctx *ctx = spng_ctx_new(0);
    cr_assert_not_null(ctx);
    cr_assert_eq(spng_set_png_buffer(ctx, data, n), 0);
    struct spng_ihdr ihdr;
    cr_assert_eq(spng_get_ihdr(ctx, &ihdr), 0, "%s: bad IHDR", path);
    cr_assert(ihdr.width >= 100 && ihdr.height >= 100, "%s: %ux%u", path, ihdr.width, ihdr.height);
    size_t out;
    cr_assert_eq(spng_decoded_image_size(ctx, SPNG_FMT_RGBA8, &out), 0);
    unsigned char *img = malloc(out);
    int rc = spng_decode_image(ctx, img, out, SPNG_FMT_RGBA8, 0);
    cr_assert_eq(rc, 0, "%s: does not decode: %s", path, spng_strerror(rc));
    free(img);
    spng_ctx_free(ctx);
    free(data);
}

/* The formatted mean +- half-width of a metric over one variant's seeds. */
static void tr_expected(double base, double shift, int v, double noise, int nseeds, double scale,
                        char *buf, size_t size) {
    double x[3];
    for (int s = 0; s < nseeds; s++) x[s] = scale * tr_val(base, shift, v, s, noise);
    Summary sm;
    cr_assert_eq(stats_summary(x, (size_t)nseeds, 0.95, &sm), VB_OK);
    stats_format_pm(sm.mean, sm.half_width, buf, size);
}

#define TR_OUT TR_DIR "/out-"

Test(report, end_to_end_files_sections_images_numbers) {
    char db[300], cmd[1200];
    tr_db("e2e", true, 3, db, sizeof db);
    const char *out = TR_OUT "e2e";
    snprintf(cmd, sizeof cmd,
             "rm -rf %s && ./vadbench report synth --db %s --out %s > %s.stdout 2> %s.stderr", out,
             db, out, out, out);
    cr_assert_eq(tr_system(cmd), 0, "%s", cmd);
    char path[400];
    snprintf(path, sizeof path, "%s.stdout", out);
    char *printed = tr_slurp(path);
    cr_assert(strstr(printed, "report.html") != NULL, "the command prints report.html: %s",
              printed);
    free(printed);
    const char *figs[] = {"roc_unseen",         "decision_metrics", "training",
                          "latency_components", "pareto",           "confusion"};
    const char *ext[] = {"png", "svg", "gp", "dat"};
    for (int i = 0; i < 6; i++)
        for (int e = 0; e < 4; e++) {
            char f[100];
            snprintf(f, sizeof f, "%s.%s", figs[i], ext[e]);
            cr_assert(tr_exists(out, f), "%s/%s missing", out, f);
        }
    cr_assert(tr_exists(out, "style.gp") && tr_exists(out, "report.md") &&
              tr_exists(out, "report.html"));
    for (int i = 0; i < 6; i++) {
        snprintf(path, sizeof path, "%s/%s.png", out, figs[i]);
        tr_assert_png(path);
    }
    /* every template was expanded in full */
    for (int i = 0; i < 8; i++) {
        snprintf(path, sizeof path, "%s/%s", out,
                 i < 6    ? figs[i]
                 : i == 6 ? "style"
                          : "report.html");
        if (i < 7) strcat(path, ".gp");
        char *text = tr_slurp(path);
        cr_assert(!strstr(text, "{{"), "%s holds an unexpanded placeholder", path);
        free(text);
    }
    snprintf(path, sizeof path, "%s/report.html", out);
    char *html = tr_slurp(path);
    const char *sections[] = {"<h2>Claims</h2>",
                              "<h2>Metrics per variant</h2>",
                              "<h2>Comparison with the baseline</h2>",
                              "<h2>Anomaly scores on unseen classes</h2>",
                              "<h2>Unknown anomalies detected per unseen class</h2>",
                              "<h2>Figures</h2>",
                              "<h2>Provenance</h2>",
                              "<h3>with_vae vs plain</h3>",
                              "<h2>Against shortcut baselines</h2>"};
    for (int i = 0; i < 9; i++) cr_assert(strstr(html, sections[i]), "HTML lacks %s", sections[i]);
    int imgs = 0;
    for (const char *p = html; (p = strstr(p, "src=\"data:image/png;base64,iVBORw0KGgo")); p++)
        imgs++;
    cr_assert_eq(imgs, 6, "%d embedded PNGs", imgs);
    cr_assert(!strstr(html, "src=\"roc_unseen.png"), "the HTML must not reference image files");
    cr_assert(strstr(html, "synthetic &lt;report&gt; &amp; &quot;test&quot;") &&
                  !strstr(html, "<report>"),
              "text is HTML-escaped");
    free(html);
    snprintf(path, sizeof path, "%s/report.md", out);
    char *md = tr_slurp(path);
    /* numbers: mean +- t half-width of test/accuracy per variant, as fractions in the
     * metrics table and as percentages in the decision table */
    char want[80];
    for (int v = 0; v < 2; v++) {
        tr_expected(0.80, 0.05, v, 1.0, 3, 1.0, want, sizeof want);
        char cell[120];
        snprintf(cell, sizeof cell, "| %s |", want);
        cr_assert(strstr(md, cell), "metrics table lacks accuracy %s of %s", want, TR_VARIANTS[v]);
        tr_expected(0.80, 0.05, v, 1.0, 3, 100.0, want, sizeof want);
        snprintf(cell, sizeof cell, "| %s %% |", want);
        cr_assert(strstr(md, cell), "decision table lacks accuracy %s", cell);
    }
    tr_expected(300.0, 80.0, 1, 100.0, 3, 1.0, want, sizeof want);
    cr_assert(strstr(md, want), "peak RSS %s missing", want);
    /* shortcut table: each variant's video-level numbers, the probe's from the baseline */
    char line[300], v0[80], v1[80];
    tr_expected(0.75, 0.05, 1, 1.0, 3, 1.0, v0, sizeof v0);
    tr_expected(0.90, 0.02, 1, 1.0, 3, 1.0, v1, sizeof v1);
    snprintf(line, sizeof line, "| with_vae (model, `fused` score) | %s | %s |", v0, v1);
    cr_assert(strstr(md, line), "shortcut table lacks '%s'", line);
    tr_expected(0.50, 0.0, 0, 1.0, 3, 1.0, v0, sizeof v0);
    snprintf(line, sizeof line, "| probe: all features | %s | \xe2\x80\x93 | \xe2\x80\x93 |", v0);
    cr_assert(strstr(md, line), "shortcut table lacks '%s'", line);
    tr_expected(0.55, 0.0, 0, 1.0, 3, 1.0, v1, sizeof v1);
    snprintf(line, sizeof line, "| probe: colour features | \xe2\x80\x93 | %s | \xe2\x80\x93 |",
             v1);
    cr_assert(strstr(md, line), "shortcut table lacks '%s'", line);
    /* the decision rows, the seed's figures, verdicts in the right direction */
    const char *rows[] = {"test accuracy, Option A",
                          "90% \xe2\x86\x92 93\xe2\x80\x93"
                          "95%",
                          "false positives",
                          "8% \xe2\x86\x92 5%",
                          "unknown anomaly types detected",
                          "VAE inference cost",
                          "+5\xe2\x80\x93"
                          "10 ms per frame",
                          "VAE memory",
                          "VAE training time",
                          "Compare settings from"};
    for (int i = 0; i < 10; i++) cr_assert(strstr(md, rows[i]), "report.md lacks '%s'", rows[i]);
    char *acc = strstr(md, "| test accuracy, Option A");
    cr_assert_not_null(acc);
    char *eol = strchr(acc, '\n');
    *eol = 0;
    cr_assert(strstr(acc, "| better |"), "accuracy +5 points on every seed is better: %s", acc);
    *eol = '\n';
    char *fp = strstr(md, "| false positives |");
    cr_assert_not_null(fp);
    eol = strchr(fp, '\n');
    *eol = 0;
    cr_assert(strstr(fp, "| better |"), "a lower false-positive rate is better: %s", fp);
    *eol = '\n';
    cr_assert(strstr(md, "CPU kernels: avx512 path, numerics version") &&
                  !strstr(md, "different CPU numerics versions"),
              "CPU kernels line missing or a numerics warning where all runs agree");
    /* power columns: what the runs can detect, in the comparison and the claims tables */
    cr_assert(strstr(md, "| detectable \xce\x94 (80% power); pairs to detect the tolerance |") &&
                  strstr(md, "| detectable \xce\x94 (80% power); pairs to detect the claim |"),
              "power columns missing");
    /* the level claim: plain's accuracy (80% on average) against the published 80 +- 1 */
    char *lv = strstr(md, "| published accuracy | a paper | 80.0 \xc2\xb1 1.0 % |");
    cr_assert_not_null(lv, "level claim row missing");
    eol = strchr(lv, '\n');
    *eol = 0;
    cr_assert(strstr(lv, "1 variant, 3 runs") && strstr(lv, "| reproduced (tolerance \xc2\xb1"
                                                            "5)"),
              "%s", lv);
    *eol = '\n';
    cr_assert(strstr(md, "abc123def456") && strstr(md, "testhost") && strstr(md, "digest42") &&
                  strstr(md, "Test CPU") && strstr(md, "abc00000"),
              "provenance missing");
    free(md);
}

Test(report, without_gnuplot_tables_and_a_note) {
    char db[300], cmd[1200];
    tr_db("nognuplot", true, 2, db, sizeof db);
    /* one run computed with an older CPU numerics version: the report warns */
    snprintf(cmd, sizeof cmd, "sqlite3 %s 'UPDATE runs SET numerics = 1 WHERE id = 1'", db);
    cr_assert_eq(tr_system(cmd), 0, "%s", cmd);
    const char *out = TR_OUT "nognuplot";
    snprintf(cmd, sizeof cmd,
             "rm -rf %s && VADBENCH_GNUPLOT=/nonexistent/gnuplot ./vadbench report synth --db %s "
             "--out %s > %s.stdout 2> %s.stderr",
             out, db, out, out, out);
    cr_assert_eq(tr_system(cmd), 0, "%s", cmd);
    char path[400];
    snprintf(path, sizeof path, "%s.stderr", out);
    char *err = tr_slurp(path);
    cr_assert(strstr(err, "warning") && strstr(err, "gnuplot"), "%s", err);
    free(err);
    cr_assert(!tr_exists(out, "roc_unseen.png") && tr_exists(out, "roc_unseen.gp") &&
              tr_exists(out, "roc_unseen.dat"));
    snprintf(path, sizeof path, "%s/report.md", out);
    char *md = tr_slurp(path);
    cr_assert(strstr(md, "gnuplot could not be run") && strstr(md, "/nonexistent/gnuplot"), "%s",
              md);
    cr_assert(strstr(md, "Warning: the runs compared were computed with different CPU numerics "
                         "versions") &&
                  strstr(md, "version 1 (runs 1)"),
              "no numerics warning in:\n%s", md);
    cr_assert(strstr(md, "## Claims") && strstr(md, "| VAE memory |"), "tables missing");
    char want[80];
    tr_expected(0.60, 0.15, 1, 2.0, 2, 1.0, want, sizeof want);
    cr_assert(strstr(md, want), "detect.fused.unseen %s missing", want);
    free(md);
    snprintf(path, sizeof path, "%s/report.html", out);
    char *html = tr_slurp(path);
    cr_assert(strstr(html, "not rendered") && !strstr(html, "data:image/png"));
    free(html);
}

Test(report, defaults_without_experiment_file_direct_call) {
    char db[300];
    tr_db("nofile", false, 3, db, sizeof db);
    Store *st;
    cr_assert_eq(store_open(db, STORE_EXISTING, &st), VB_OK);
    ReportOptions o = {"synth", TR_OUT "nofile", "/nonexistent/gnuplot"};
    ReportResult res;
    cr_assert_eq(report_write(st, &o, &res), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(store_close(st), VB_OK);
    cr_assert_eq(res.nrendered, 0);
    cr_assert_eq(res.nfigures, 6);
    cr_assert(strstr(res.html, "report.html") && strstr(res.note, "gnuplot"));
    char *md = tr_slurp(res.markdown);
    cr_assert(strstr(md, "no experiment file") && strstr(md, "Baseline variant: `plain`"), "%s",
              md);
    cr_assert(strstr(md, "### with_vae vs plain"));
    free(md);
}

Test(report, unknown_or_empty_experiment_exits_2) {
    char db[300], cmd[1200];
    tr_db("unknown", false, 1, db, sizeof db);
    snprintf(cmd, sizeof cmd,
             "./vadbench report nosuch --db %s --out " TR_OUT "unknown > " TR_OUT
             "unknown.txt 2>&1",
             db);
    cr_assert_eq(tr_system(cmd), 2);
    char *t = tr_slurp(TR_OUT "unknown.txt");
    cr_assert(strstr(t, "no experiment named 'nosuch'") && strstr(t, "synth"), "%s", t);
    free(t);
    /* an experiment whose cells are all queued */
    Store *st;
    cr_assert_eq(store_open(db, STORE_EXISTING, &st), VB_OK);
    int64_t eid;
    cr_assert_eq(store_ensure_experiment(st, "empty", "", NULL, &eid), VB_OK);
    StoreCell c = {"v", 0, "", "{\"a\":1}", "ffff0000ffff0000ffff0000ffff0000"};
    cr_assert_eq(store_register_cells(st, eid, &c, 1, NULL), VB_OK);
    cr_assert_eq(store_close(st), VB_OK);
    snprintf(cmd, sizeof cmd,
             "./vadbench report empty --db %s --out " TR_OUT "empty > " TR_OUT "empty.txt 2>&1",
             db);
    cr_assert_eq(tr_system(cmd), 2);
    t = tr_slurp(TR_OUT "empty.txt");
    cr_assert(strstr(t, "no done runs") && strstr(t, "1 queued"), "%s", t);
    free(t);
    snprintf(cmd, sizeof cmd, "./vadbench report > " TR_OUT "noarg.txt 2>&1");
    cr_assert_eq(tr_system(cmd), 2);
    cr_assert_eq(tr_system("./vadbench report synth --db " TR_DIR "/missing.db > /dev/null 2>&1"),
                 2);
}

/* Variants whose probes differ (e.g. other normal classes) get their own
 * probe rows; variants sharing data and splits share one set of rows. */
Test(report, shortcut_rows_per_variant_when_the_probes_differ) {
    char db[300];
    tr_db("probes_differ", true, 3, db, sizeof db);
    Store *st;
    cr_assert_eq(store_open(db, STORE_EXISTING, &st), VB_OK, "%s", vb_errmsg());
    StoreRunFilter f = {.experiment = "synth"};
    StoreRunList l;
    cr_assert_eq(store_list_runs(st, &f, &l), VB_OK);
    for (int i = 0; i < l.n; i++)
        if (strcmp(l.runs[i].variant, "with_vae") == 0)
            cr_assert_eq(
                store_log_final(st, l.runs[i].id, "probe", "all.video_balanced_accuracy", -1, 0.9),
                VB_OK);
    store_run_list_free(&l);
    cr_assert_eq(store_close(st), VB_OK);
    char cmd[900];
    snprintf(cmd, sizeof cmd,
             "./vadbench report synth --db %s --out " TR_OUT "differ > /dev/null 2>&1", db);
    cr_assert_eq(tr_system(cmd), 0, "%s", cmd);
    char *md = tr_slurp(TR_OUT "differ/report.md");
    cr_assert(strstr(md, "probe on with_vae's videos: all features | 0.9 |") &&
                  strstr(md, "probe on plain's videos: all features") &&
                  !strstr(md, "| probe: all features"),
              "%s", strstr(md, "Against shortcut") ? strstr(md, "Against shortcut") : md);
    free(md);
}

/* Write file dir/name with text. */
static void tr_write(const char *dir, const char *name, const char *text) {
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f, "%s", p);
    fputs(text, f);
    fclose(f);
}

/* `--templates DIR`: DIR's templates replace the built-in ones by name, the
 * others stay built in; a broken template is an error naming its file,
 * line and placeholder, never a half-expanded script. */
Test(report, templates_override_directory) {
    char db[300], cmd[1400];
    tr_db("tploverride", true, 2, db, sizeof db);
    const char *tdir = TR_DIR "/tpl-override", *out = TR_OUT "tploverride";
    snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir %s", tdir, tdir);
    cr_assert_eq(tr_system(cmd), 0, "%s", cmd);
    tr_write(tdir, "report.css", "body{color:#123456}\n.marker-css{}\n");
    tr_write(tdir, "roc_unseen.gp",
             "# my ROC ({{subset}}, {{score}})\nload 'style.gp'\nset title 'MINE'\n"
             "do for [fmt in \"png svg\"] {\n    eval term(fmt, 500, 500)\n"
             "    set output 'roc_unseen.'.fmt\n    plot x title 'chance'{{series}}\n"
             "    unset output\n}\n");
    /* the reference: the same report with the built-in templates */
    snprintf(cmd, sizeof cmd,
             "rm -rf %s-ref && VADBENCH_GNUPLOT=/nonexistent ./vadbench report synth --db %s "
             "--out %s-ref > /dev/null 2>&1",
             out, db, out);
    cr_assert_eq(tr_system(cmd), 0, "%s", cmd);
    snprintf(cmd, sizeof cmd,
             "rm -rf %s && ./vadbench report synth --db %s --out %s --templates %s > %s.stdout "
             "2> %s.stderr",
             out, db, out, tdir, out, out);
    cr_assert_eq(tr_system(cmd), 0, "%s", cmd);
    char path[600];
    snprintf(path, sizeof path, "%s/roc_unseen.gp", out);
    char *gp = tr_slurp(path);
    cr_assert(strncmp(gp, "# my ROC (unseen, fused)\n", 25) == 0 &&
                  strstr(gp, "set title 'MINE'") &&
                  strstr(gp, "'roc_unseen.dat' using 1:3 with lines lt 2 title 'with_vae: AUROC"),
              "the override's script, with the report's series: %s", gp);
    free(gp);
    cr_assert(tr_exists(out, "roc_unseen.png"), "the override's script renders");
    snprintf(path, sizeof path, "%s/report.html", out);
    char *html = tr_slurp(path);
    cr_assert(strstr(html, "<style>body{color:#123456}.marker-css{}</style>"),
              "the override's CSS");
    free(html);
    /* the templates the directory lacks are the built-in ones */
    const char *same[] = {"pareto.gp", "confusion.gp", "training.gp", "style.gp"};
    for (int i = 0; i < 4; i++) {
        char a[600], b[600];
        snprintf(a, sizeof a, "%s/%s", out, same[i]);
        snprintf(b, sizeof b, "%s-ref/%s", out, same[i]);
        char *x = tr_slurp(a), *y = tr_slurp(b);
        cr_assert_str_eq(x, y, "%s differs from the built-in template's", same[i]);
        free(x), free(y);
    }
    /* a template with a placeholder the report does not fill */
    tr_write(tdir, "pareto.gp", "plot {{series}}\nset title '{{no_such_key}}'\n");
    snprintf(cmd, sizeof cmd,
             "./vadbench report synth --db %s --out %s --templates %s > %s.stdout 2> %s.stderr", db,
             out, tdir, out, out);
    cr_assert_eq(tr_system(cmd), 2, "%s", cmd);
    snprintf(path, sizeof path, "%s.stderr", out);
    char *err = tr_slurp(path);
    cr_assert(strstr(err, "tpl-override/pareto.gp:2: placeholder {{no_such_key}} has no value") &&
                  strstr(err, "front_block, series"),
              "%s", err);
    free(err);
    /* not a directory */
    snprintf(cmd, sizeof cmd,
             "./vadbench report synth --db %s --out %s --templates %s/nosuch > %s.stdout "
             "2> %s.stderr",
             db, out, tdir, out, out);
    cr_assert_eq(tr_system(cmd), 2, "%s", cmd);
    err = tr_slurp(path);
    cr_assert(strstr(err, "template directory") && strstr(err, "nosuch"), "%s", err);
    free(err);
}

/* reports/templates/ holds the templates: the report of an experiment named
 * "templates" must not land there by default. */
Test(report, experiment_named_templates_needs_out) {
    char db[300];
    tr_db("named_templates", false, 1, db, sizeof db);
    Store *st;
    cr_assert_eq(store_open(db, STORE_EXISTING, &st), VB_OK);
    ReportOptions o = {.experiment = "templates"};
    ReportResult res;
    cr_assert_eq(report_write(st, &o, &res), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "reports/templates/") && strstr(vb_errmsg(), "--out"), "%s",
              vb_errmsg());
    cr_assert_eq(store_close(st), VB_OK);
}
