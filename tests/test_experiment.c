/* Experiment files: every bad file in tests/bad_experiments/ gives its
 * expected FILE:LINE:COL message (the file's first line says "# expect:
 * LINE:COL: text" or "# expect: text"); a good file expands to the right
 * matrix; `extends` and dotted overrides resolve; config hashes are stable
 * under reformatting and key order and change with any value; the resolved
 * JSON round-trips into the same RunConfig. */
#include "testutil.h"

#include <dirent.h>

#include "harness/experiment/experiment.h"

Test(experiment, bad_files_give_located_messages) {
    DIR *d = opendir("tests/bad_experiments");
    cr_assert_not_null(d);
    struct dirent *e;
    int count = 0;
    while ((e = readdir(d))) {
        if (!strstr(e->d_name, ".yaml")) continue;
        char path[512], line[512];
        snprintf(path, sizeof path, "tests/bad_experiments/%s", e->d_name);
        FILE *f = fopen(path, "r");
        cr_assert_not_null(f);
        cr_assert_not_null(fgets(line, sizeof line, f));
        fclose(f);
        line[strcspn(line, "\n")] = 0;
        const char *want = strstr(line, "# expect: ");
        cr_assert_not_null(want, "%s: first line must be '# expect: ...'", path);
        want += 10;
        Experiment x;
        VbStatus s = experiment_load(path, &x);
        cr_assert_eq(s, VB_ERR_INPUT, "%s: expected an input error, got %d (%s)", path, s,
                     vb_errmsg());
        char expect[700];
        int l, c;
        if (sscanf(want, "%d:%d:", &l, &c) == 2)
            snprintf(expect, sizeof expect, "%s:%s", path, want);
        else snprintf(expect, sizeof expect, "%s", want);
        cr_assert(strstr(vb_errmsg(), expect) != NULL, "%s:\n  got:  %s\n  want: %s", path,
                  vb_errmsg(), expect);
        count++;
    }
    closedir(d);
    cr_assert(count >= 15, "only %d bad files", count);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static const char *GOOD =
    "experiment: good\n"
    "dataset: {source: synthetic, size: 64}\n"
    "holdouts:\n  - {name: h1, classes: [Arson]}\n  - {name: h2, classes: [Explosion, Robbery]}\n"
    "base:\n  model: {backbone: {width: 0.5}, temporal: {type: gru}}\n  train: {epochs: 3}\n"
    "variants:\n"
    "  a: {}\n"
    "  b:\n    model.vae: {level: feature, latent: 64}\n    train.sam.enabled: true\n"
    "  c:\n    extends: b\n    train.sam.rho: 0.1\n    model: {temporal: {hidden: 32}}\n"
    "seeds: [0, 1, 2]\n";

/* the same content, reformatted and reordered */
static const char *GOOD2 =
    "seeds: [0, 1, 2]\n"
    "experiment: good\n"
    "variants:\n"
    "  a:\n"
    "  b: {train.sam.enabled: True, model.vae.level: feature, model.vae.latent: 64}\n"
    "  c: {extends: b, model.temporal.hidden: 32, train: {sam: {rho: 0.10}}}\n"
    "base:\n  train:\n    epochs: 3\n  model:\n    temporal: {type: gru}\n    backbone:\n      width: 0.50\n"
    "holdouts: [{classes: [Arson], name: h1}, {name: h2, classes: [Explosion, Robbery]}]\n"
    "dataset: {size: 64, source: synthetic}\n";

Test(experiment, matrix_extends_overrides_and_hashes) {
    write_file("tests/tmp/good.yaml", GOOD);
    write_file("tests/tmp/good2.yaml", GOOD2);
    Experiment e, e2;
    cr_assert_eq(experiment_load("tests/tmp/good.yaml", &e), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(experiment_load("tests/tmp/good2.yaml", &e2), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(e.nvariants, 3);
    cr_assert_eq(e.nholdouts, 2);
    cr_assert_eq(e.nseeds, 3);
    /* variant c: extends b (VAE, SAM) and overrides rho and hidden */
    const RunConfig *c = &e.vcfg[2];
    cr_assert_eq(c->model.vae_level, VAE_FEATURE);
    cr_assert_eq(c->model.vae_latent, 64);
    cr_assert(c->train.sam);
    cr_assert_float_eq(c->train.sam_rho, 0.1, 1e-12);
    cr_assert_eq(c->model.hidden, 32);
    cr_assert_eq(c->model.temporal, TEMPORAL_GRU);
    cr_assert_float_eq(c->model.width, 0.5, 1e-12);
    cr_assert_eq(c->train.epochs, 3);
    cr_assert(!e.vcfg[0].train.sam);
    cr_assert_eq(e.vcfg[0].model.vae_level, VAE_NONE);
    const char *dig[3] = {"d1", "d1", "d1"};
    Cell *cells, *cells2;
    int n, n2;
    cr_assert_eq(experiment_cells(&e, dig, &cells, &n), VB_OK);
    cr_assert_eq(experiment_cells(&e2, dig, &cells2, &n2), VB_OK);
    cr_assert_eq(n, 18);
    cr_assert_eq(n2, 18);
    for (int i = 0; i < n; i++) {
        cr_assert_str_eq(cells[i].hash, cells2[i].hash, "cell %d: hash changed with formatting", i);
        for (int j = 0; j < i; j++) cr_assert_str_neq(cells[i].hash, cells[j].hash);
        /* the stored JSON reproduces the config */
        RunConfig back;
        cr_assert_eq(run_config_from_json(cells[i].config, &back), VB_OK, "%s", vb_errmsg());
        cr_assert(memcmp(&back.model, &cells[i].cfg.model, sizeof back.model) == 0,
                  "model config round trip");
        cr_assert(memcmp(&back.train, &cells[i].cfg.train, sizeof back.train) == 0,
                  "train config round trip");
    }
    /* another data digest changes every hash */
    const char *dig2[3] = {"d2", "d2", "d2"};
    Cell *cells3;
    int n3;
    cr_assert_eq(experiment_cells(&e, dig2, &cells3, &n3), VB_OK);
    for (int i = 0; i < n; i++) cr_assert_str_neq(cells[i].hash, cells3[i].hash);
    experiment_cells_free(cells, n);
    experiment_cells_free(cells2, n2);
    experiment_cells_free(cells3, n3);
    experiment_free(&e);
    experiment_free(&e2);
    /* any changed value changes the hash */
    char *changed = vb_xstrdup(GOOD);
    char *p = strstr(changed, "epochs: 3");
    p[8] = '4';
    write_file("tests/tmp/good3.yaml", changed);
    free(changed);
    Experiment e3;
    cr_assert_eq(experiment_load("tests/tmp/good3.yaml", &e3), VB_OK);
    cr_assert_eq(experiment_load("tests/tmp/good.yaml", &e), VB_OK);
    cr_assert_eq(experiment_cells(&e3, dig, &cells3, &n3), VB_OK);
    cr_assert_eq(experiment_cells(&e, dig, &cells, &n), VB_OK);
    for (int i = 0; i < n; i++) cr_assert_str_neq(cells[i].hash, cells3[i].hash);
    experiment_cells_free(cells, n);
    experiment_cells_free(cells3, n3);
    experiment_free(&e);
    experiment_free(&e3);
}

/* What the YAML guard lets through is read as written: quoted strings with
 * escapes ('' anywhere but twice in a row), CRLF line ends, comments
 * holding tabs and '?', and YAML 1.2 numbers. */
Test(experiment, quoted_strings_crlf_and_comments_pass_the_guard) {
    write_file("tests/tmp/guard_ok.yaml",
               "experiment: guard_ok # a\tcomment? with a tab\r\n"
               "description: '''it''s, it''s ''\"quoted\"'''\r\n"
               "variants: {a: {train.lr: 1.5e-3}, b: {train.epochs: 10}}\r\n");
    Experiment e;
    cr_assert_eq(experiment_load("tests/tmp/guard_ok.yaml", &e), VB_OK, "%s", vb_errmsg());
    cr_assert_str_eq(e.description, "'it's, it's '\"quoted\"'");
    cr_assert_eq(e.nvariants, 2);
    cr_assert_float_eq(e.vcfg[0].train.lr, 1.5e-3, 1e-12);
    cr_assert_eq(e.vcfg[1].train.epochs, 10);
    experiment_free(&e);
}

Test(experiment, leave_one_out_and_shipped_files_parse) {
    write_file("tests/tmp/loo.yaml", "experiment: loo\nholdouts: leave_one_out\n");
    Experiment e;
    cr_assert_eq(experiment_load("tests/tmp/loo.yaml", &e), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(e.nholdouts, 13);
    for (int i = 0; i < e.nholdouts; i++)
        cr_assert_str_neq(e.holdout[i].classes[0], "NormalVideos");
    experiment_free(&e);
    const char *shipped[] = {"experiments/quickstart.yaml", "experiments/seed_option_a_vs_b.yaml",
                             "experiments/seed_vae_feature_vs_image.yaml",
                             "experiments/seed_sam_swa_mixup_ablation.yaml",
                             "experiments/fmnist_one_class.yaml"};
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(experiment_load(shipped[i], &e), VB_OK, "%s: %s", shipped[i], vb_errmsg());
        experiment_free(&e);
    }
}

/* experiments/README.md carries `vadbench keys` verbatim: a key added to a
 * schema (or to compare) without its documentation fails here. */
Test(experiment, readme_documents_every_key) {
    FILE *p = popen("./vadbench keys", "r");
    cr_assert_not_null(p);
    FILE *r = fopen("experiments/README.md", "r");
    cr_assert_not_null(r);
    static char readme[1 << 18];
    size_t n = fread(readme, 1, sizeof readme - 1, r);
    readme[n] = 0;
    fclose(r);
    char line[2048];
    int lines = 0;
    while (fgets(line, sizeof line, p)) {
        if (line[0] == '\n') continue;
        cr_assert(strstr(readme, line),
                  "experiments/README.md lacks this line of `vadbench keys` "
                  "(regenerate the section tables): %s",
                  line);
        lines++;
    }
    cr_assert_eq(pclose(p), 0);
    cr_assert(lines > 100, "only %d lines from vadbench keys", lines);
}

/* The seed's section-7 claims live in the experiment files, as data. */
Test(experiment, shipped_files_carry_their_claims) {
    const char *files[] = {"experiments/quickstart.yaml", "experiments/seed_option_a_vs_b.yaml",
                           "experiments/seed_vae_feature_vs_image.yaml"};
    for (int i = 0; i < 3; i++) {
        Experiment e;
        cr_assert_eq(experiment_load(files[i], &e), VB_OK, "%s", vb_errmsg());
        int diff = 0, rel = 0;
        for (int c = 0; c < e.nclaims; c++) {
            cr_assert(strstr(e.claims[c].source, "seed"), "%s: %s", files[i],
                      e.claims[c].statement);
            diff += e.claims[c].expect == CLAIM_DIFFERENCE;
            rel += e.claims[c].expect == CLAIM_RELATIVE;
        }
        cr_assert(diff >= 7 && rel == 2, "%s: %d difference, %d relative claims", files[i], diff,
                  rel);
        experiment_free(&e);
    }
    Experiment e;
    cr_assert_eq(experiment_load("experiments/fmnist_one_class.yaml", &e), VB_OK, "%s",
                 vb_errmsg());
    cr_assert_eq(e.nclaims, 1);
    cr_assert_eq(e.claims[0].expect, CLAIM_LEVEL);
    cr_assert_float_eq(e.claims[0].value, 0.892, 1e-12);
    cr_assert_float_eq(e.claims[0].spread, 0.062, 1e-12);
    cr_assert_eq(e.claims[0].metric.kind, CLAIM_FINAL);
    cr_assert_str_eq(e.claims[0].metric.a, "test/auroc.svdd.all");
    experiment_free(&e);
}
