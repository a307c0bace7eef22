/* report: assembling the report page of one experiment. See report.h. */
#include "harness/report/report.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "harness/report/report_claims.h"
#include "harness/report/report_data.h"
#include "harness/report/report_doc.h"
#include "harness/report/report_plots.h"
#include "harness/report/report_table.h"
#include "harness/report/templates.h"
#include "harness/store/store.h"

/* mkdir -p */
static VbStatus make_dirs(const char *path) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != 0) continue;
        char c = *p;
        *p = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return VB_FAIL(VB_ERR_IO, "%s: cannot create directory: %s", buf, strerror(errno));
        *p = c;
        if (!c) break;
    }
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return VB_FAIL(VB_ERR_IO, "%s: not a directory", path);
    return VB_OK;
}

/* An experiment name made safe as one path component. */
static void safe_component(const char *name, char *buf, size_t size) {
    size_t i = 0;
    for (; name[i] && i + 1 < size; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || (c == '.' && i > 0);
        buf[i] = ok ? c : '_';
    }
    buf[i] = 0;
}

/* ---- text helpers ------------------------------------------------------------------ */

typedef struct Text {
    char *s;
    size_t n, cap;
} Text;

static void text_add(Text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_add(Text *t, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (t->n + (size_t)need + 1 > t->cap) {
        t->cap = 2 * (t->n + (size_t)need + 1);
        t->s = vb_xrealloc(t->s, t->cap);
    }
    va_start(ap, fmt);
    vsnprintf(t->s + t->n, t->cap - t->n, fmt, ap);
    va_end(ap);
    t->n += (size_t)need;
}

static const char *nz(const char *s) { return s && *s ? s : "unknown"; }

/* What the data reader skipped or could not use, per run (the runner stores
 * it as data/skipped_entries and data/classes_missing_a_split): numbers
 * from fewer videos than the source holds must say so. */
static void report_data_notes(Text *notes, const RepData *d) {
    double skipped = 0, missing = 0;
    int runs_skipping = 0, runs_missing = 0, resumed = 0;
    for (int i = 0; i < d->nruns; i++) {
        double v;
        if (rep_final(&d->runs[i], "data", "skipped_entries", &v) && v > 0)
            runs_skipping++, skipped = v > skipped ? v : skipped;
        if (rep_final(&d->runs[i], "data", "classes_missing_a_split", &v) && v > 0)
            runs_missing++, missing = v > missing ? v : missing;
        resumed += d->runs[i].run.resumes != NULL;
    }
    if (runs_skipping)
        text_add(notes,
                 "Warning: %d run%s read data from which %.0f bad data entr%s skipped "
                 "(`dataset.skip_bad`): their numbers come from fewer videos than the source "
                 "holds (`vadbench data inspect --skip-bad` lists them).\n",
                 runs_skipping, runs_skipping == 1 ? "" : "s", skipped,
                 skipped == 1 ? "y was" : "ies were");
    if (runs_missing)
        text_add(notes,
                 "Warning: in the data of %d run%s, %.0f class%s videos in only one of Train and "
                 "Test.\n",
                 runs_missing, runs_missing == 1 ? "" : "s", missing,
                 missing == 1 ? " has" : "es have");
    if (resumed)
        text_add(notes,
                 "%d run%s resumed from a checkpoint (bit-identical to an uninterrupted run; "
                 "`vadbench show` lists when and where).\n",
                 resumed, resumed == 1 ? " was" : "s were");
}

/* ---- sections ------------------------------------------------------------------ */

static void section_overview(RepDoc *doc, const RepData *d, int vb, const RepPlots *pl,
                             const char *baseline_note) {
    int holdouts = 0, seeds = 0;
    for (int i = 0; i < d->nruns; i++) {
        bool nh = true, ns = true;
        for (int j = 0; j < i; j++) {
            if (strcmp(nz(d->runs[j].run.holdout), nz(d->runs[i].run.holdout)) == 0) nh = false;
            if (d->runs[j].run.seed == d->runs[i].run.seed) ns = false;
        }
        holdouts += nh, seeds += ns;
    }
    if (d->description && *d->description) rep_doc_para(doc, "%s", d->description);
    char now[64];
    time_t t = time(NULL);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    rep_doc_para(
        doc,
        "%d done runs: %d variant%s \xc3\x97 %d holdout%s \xc3\x97 %d seed%s, from `%s`. "
        "Baseline variant: `%s`; decision score: `%s`. Written %s by vadbench %s (git %s%s).",
        d->nruns, d->nvariants, d->nvariants == 1 ? "" : "s", holdouts, holdouts == 1 ? "" : "s",
        seeds, seeds == 1 ? "" : "s", d->db_path, d->variants[vb].name, d->score, now,
        provenance_version(), provenance_git_sha(), provenance_dirty() ? "-dirty" : "");
    Text notes = {0};
    if (d->cmp.from_file)
        text_add(&notes, "Compare settings from `%s`: baseline `%s`, latency factor %g.\n", d->file,
                 d->cmp.baseline, d->cmp.latency_factor);
    else text_add(&notes, "Note: %s.\n", d->cmp.note);
    if (*baseline_note) text_add(&notes, "Note: %s\n", baseline_note);
    char numerics[1024];
    const RepData *sets[1] = {d};
    if (rep_numerics_warning(sets, 1, numerics, sizeof numerics))
        text_add(&notes, "Warning: %s.\n", numerics);
    if (d->n_not_done)
        text_add(&notes, "%d run%s of the experiment %s not done and %s left out.\n", d->n_not_done,
                 d->n_not_done == 1 ? "" : "s", d->n_not_done == 1 ? "is" : "are",
                 d->n_not_done == 1 ? "is" : "are");
    if (d->n_superseded)
        text_add(&notes,
                 "%d done run%s replaced by a newer run of the same cell (the experiment "
                 "file changed); only the newest counts.\n",
                 d->n_superseded, d->n_superseded == 1 ? " was" : "s were");
    report_data_notes(&notes, d);
    if (*pl->note) text_add(&notes, "Figures: %s\n", pl->note);
    if (notes.s) rep_doc_list(doc, notes.s);
    free(notes.s);
    rep_doc_para(
        doc,
        "How to read the numbers: a value is the mean over a variant's runs (seeds "
        "\xc3\x97 holdouts) \xc2\xb1 the half-width of its Student-t 95%% interval; a "
        "difference pairs runs by seed and holdout and gives the mean paired difference "
        "with a percentile-bootstrap 95%% interval (10000 resamples). The verdict is "
        "\"better\" or \"worse\" only when both that interval and the Student-t 95%% "
        "interval of the paired differences exclude 0 (in the metric's own direction: "
        "lower is better for false positives, latency, memory and time), else \"no "
        "detectable difference\" (so a bootstrap interval that excludes 0 can stand "
        "beside that verdict when the t-interval does not). Numbers carry only the digits their interval "
        "supports; with one run there is no interval. Intervals from 2\xe2\x80\x93"
        "3 seeds "
        "are wide, and a bootstrap over so few pairs is too narrow: treat verdicts from "
        "few seeds as indications.");
}

/* The experiment's claims (compare.claims) against the measurements. */
static void section_claims(RepDoc *doc, const RepData *d, int vb) {
    rep_doc_heading(doc, 1, "Claims");
    if (d->cmp.nclaims == 0) {
        rep_doc_para(doc,
                     "The experiment states no claims (`compare.claims` in its file): there is "
                     "nothing to test here. The tables below still compare every variant with "
                     "the baseline `%s`.",
                     d->variants[vb].name);
        return;
    }
    rep_doc_para(doc,
                 "The claims the experiment file states (`compare.claims` in `%s`), each with its "
                 "source, against measurements. A difference claim sets a variant against its "
                 "baseline: both means, the paired difference (variant \xe2\x88\x92 baseline, "
                 "pairs = same seed and holdout) with its bootstrap 95%% interval, the verdict "
                 "(better or worse only when both that interval and the Student-t interval of "
                 "the paired differences exclude zero: with few seeds the bootstrap alone is too "
                 "narrow), whether the claimed difference lies inside the measured interval, and "
                 "what these runs can detect: the minimum detectable difference (80%% power, "
                 "two-sided 5%%, from the spread of the paired differences) and, when nothing "
                 "was detected, the pairs (seeds \xc3\x97 holdouts) that would detect the "
                 "smallest claimed change. "
                 "Rates shown in %% have differences in percentage points (pp). A source's "
                 "figures may come from another setting (the seed's are for the full UCF-Crime "
                 "model).",
                 d->file);
    bool any = false;
    for (int b = 0; b < d->nvariants; b++)
        for (int v = 0; v < d->nvariants; v++) {
            if (v == b) continue;
            RepTable *t = rep_table_claims(d, b, v);
            if (!t) continue;
            rep_doc_heading(doc, 2, "%s vs %s", d->variants[v].name, d->variants[b].name);
            rep_doc_table(doc, t);
            any = true;
        }
    RepTable *lv = rep_table_levels(d);
    if (lv) {
        rep_doc_heading(doc, 2, "Published figures");
        rep_doc_para(doc,
                     "Each level claim against the mean over its variants' runs: each variant's "
                     "mean over its runs, then their mean, with a Student-t 95%% interval across "
                     "variants (across runs when one variant is listed). \"Reproduced\" means "
                     "within the claim's tolerance of the published value.");
        rep_doc_table(doc, lv);
    } else if (!any) {
        rep_doc_para(doc, "No variant pair of these runs is covered by a difference claim.");
    }
}

static void section_metrics(RepDoc *doc, const RepData *d, int vb) {
    rep_doc_heading(doc, 1, "Metrics per variant");
    RepQuantity *q;
    int nq = rep_quantities_default(d, &q);
    rep_doc_para(
        doc, "Mean \xc2\xb1 95%% interval across runs (Student t) for the experiment's "
             "`compare.metrics` and a default set; (n=k) marks a metric only k runs have. Rates "
             "are fractions; latency is the median of each run's timed passes, ms.");
    rep_doc_table(doc, rep_table_per_variant(d, q, nq));
    free(q);
    if (d->nvariants >= 2) {
        rep_doc_heading(doc, 1, "Comparison with the baseline");
        RepQuantity *c = NULL;
        int nc = 0;
        for (int m = 0; m < d->cmp.nmetrics; m++) {
            c = vb_xrealloc(c, (size_t)(nc + 1) * sizeof *c);
            c[nc++] = rep_q_final(d, d->cmp.metrics[m], NULL);
        }
        if (!nc) {
            char spec[3][REP_NAME];
            snprintf(spec[0], REP_NAME, "test/accuracy");
            snprintf(spec[1], REP_NAME, "test/fpr.%s", d->score);
            snprintf(spec[2], REP_NAME, "test/detect.%s.unseen", d->score);
            c = vb_xcalloc(3, sizeof *c);
            for (int i = 0; i < 3; i++) c[nc++] = rep_q_final(d, spec[i], NULL);
        }
        rep_doc_para(doc,
                     "Paired differences on the experiment's `compare.metrics`%s. The last column "
                     "says what these runs can see: the minimum detectable difference (the true "
                     "difference a two-sided paired t test at 5%% finds 80%% of the time, from the "
                     "observed spread of the paired differences at this many pairs) and, when the "
                     "verdict is \"no detectable difference\", the number of pairs (seeds "
                     "\xc3\x97 holdouts) that would detect a difference of the metric's tolerance "
                     "(`compare.tolerances`).",
                     d->cmp.nmetrics ? ""
                                     : " (none given: accuracy, false positives, unknown "
                                       "anomalies detected)");
        for (int v = 0; v < d->nvariants; v++) {
            if (v == vb) continue;
            rep_doc_heading(doc, 2, "%s vs %s", d->variants[v].name, d->variants[vb].name);
            rep_doc_table(doc, rep_table_paired(d, vb, v, c, nc));
        }
        free(c);
    }
    nq = rep_quantities_scores(d, &q);
    if (nq) {
        rep_doc_heading(doc, 1, "Anomaly scores on unseen classes");
        rep_doc_para(doc,
                     "AUROC of test normals against unseen-class anomalies, and the share of "
                     "unseen-class clips above each score's threshold (set on validation normals "
                     "at the target false-positive rate), for every score.");
        rep_doc_table(doc, rep_table_per_variant(d, q, nq));
    }
    free(q);
    nq = rep_quantities_unseen_classes(d, &q);
    if (nq) {
        rep_doc_heading(doc, 1, "Unknown anomalies detected per unseen class");
        rep_doc_para(doc, "Detection rate of the `%s` score for each class held out of training.",
                     d->score);
        rep_doc_table(doc, rep_table_per_variant(d, q, nq));
    }
    free(q);
}

static void section_shortcuts(RepDoc *doc, const RepData *d, int vb) {
    RepTable *t = rep_table_shortcuts(d, vb);
    if (!t) return;
    rep_doc_heading(doc, 1, "Against shortcut baselines");
    rep_doc_para(doc,
                 "What simple features of the same videos achieve (`vadbench data probe`): a "
                 "ridge classifier on colour statistics, the mean frame's 8x8 layout, the 8x8 map "
                 "of frame-to-frame change, or all three, fit on each run's training videos; and "
                 "for anomalies, the distance from the training normal videos, no anomaly seen. "
                 "Per video (a model's video class is the largest mean probability over its "
                 "clips, its video score the largest clip score); mean \xc2\xb1 95%% interval "
                 "across runs. A model that does not beat these has learned a shortcut or "
                 "nothing.");
    rep_doc_table(doc, t);
}

static void section_figures(RepDoc *doc, const RepPlots *pl) {
    rep_doc_heading(doc, 1, "Figures");
    if (*pl->note) rep_doc_para(doc, "%s", pl->note);
    for (int i = 0; i < pl->n; i++) {
        const RepPlot *p = &pl->p[i];
        rep_doc_heading(doc, 2, "%s", p->title);
        if (!p->written) {
            rep_doc_para(doc, "No data for this figure in these runs.");
            continue;
        }
        char png[80], svg[80];
        snprintf(png, sizeof png, "%s.png", p->name);
        snprintf(svg, sizeof svg, "%s.svg", p->name);
        char cap[1400];
        snprintf(cap, sizeof cap, "%s Script: `%s.gp`, data: `%s.dat`.", p->caption, p->name,
                 p->name);
        rep_doc_figure(doc, png, p->rendered ? svg : NULL, p->rendered, cap);
    }
}

/* One provenance field: its value when all runs agree, else each value with its runs. */
typedef const char *(*FieldFn)(const StoreRun *r, char *buf, size_t size);

static const char *f_git(const StoreRun *r, char *b, size_t n) {
    snprintf(b, n, "%s%s", nz(r->git_sha),
             r->git_dirty == 1  ? " (dirty)"
             : r->git_dirty < 0 ? " (dirty: unknown)"
                                : "");
    return b;
}
static const char *f_host(const StoreRun *r, char *b, size_t n) {
    (void)b, (void)n;
    return nz(r->host);
}
static const char *f_cpu(const StoreRun *r, char *b, size_t n) {
    (void)b, (void)n;
    return nz(r->cpu_model);
}
static const char *f_gpu(const StoreRun *r, char *b, size_t n) {
    snprintf(b, n, "%s%s%s%s", r->gpu ? r->gpu : "none", r->gpu_driver ? " (driver " : "",
             r->gpu_driver ? r->gpu_driver : "", r->gpu_driver ? ")" : "");
    return b;
}
static const char *f_backend(const StoreRun *r, char *b, size_t n) {
    if (r->threads > 0) snprintf(b, n, "%s, %d threads", nz(r->backend), r->threads);
    else snprintf(b, n, "%s", nz(r->backend));
    return b;
}
static const char *f_build(const StoreRun *r, char *b, size_t n) {
    (void)b, (void)n;
    return nz(r->build_opts);
}
static const char *f_libs(const StoreRun *r, char *b, size_t n) {
    (void)b, (void)n;
    return nz(r->libraries);
}
static const char *f_kernels(const StoreRun *r, char *b, size_t n) {
    if (r->numerics > 0)
        snprintf(b, n, "%s path, numerics version %d", nz(r->cpu_path), r->numerics);
    else snprintf(b, n, "not recorded");
    return b;
}
static const char *f_data(const StoreRun *r, char *b, size_t n) {
    (void)b, (void)n;
    return nz(r->dataset_digest);
}

static void field_line(Text *t, const RepData *d, const char *label, FieldFn fn) {
    char a[1024], b[1024];
    bool same = true;
    const char *first = fn(&d->runs[0].run, a, sizeof a);
    char firstbuf[1024];
    snprintf(firstbuf, sizeof firstbuf, "%s", first);
    for (int i = 1; i < d->nruns && same; i++)
        same = strcmp(fn(&d->runs[i].run, b, sizeof b), firstbuf) == 0;
    if (same) {
        text_add(t, "%s: %s\n", label, firstbuf);
        return;
    }
    text_add(t, "%s: differs between runs \xe2\x80\x94", label);
    bool *done = vb_xcalloc((size_t)d->nruns, sizeof *done);
    for (int i = 0; i < d->nruns; i++) {
        if (done[i]) continue;
        snprintf(firstbuf, sizeof firstbuf, "%s", fn(&d->runs[i].run, a, sizeof a));
        text_add(t, "%s %s (runs", i ? ";" : "", firstbuf);
        for (int j = i; j < d->nruns; j++)
            if (!done[j] && strcmp(fn(&d->runs[j].run, b, sizeof b), firstbuf) == 0) {
                done[j] = true;
                text_add(t, " %lld", (long long)d->runs[j].run.id);
            }
        text_add(t, ")");
    }
    free(done);
    text_add(t, "\n");
}

static void section_provenance(RepDoc *doc, const RepData *d) {
    rep_doc_heading(doc, 1, "Provenance");
    Text t = {0};
    text_add(&t, "experiment: `%s`%s%s%s\n", d->experiment, *d->file ? " from `" : "", d->file,
             *d->file ? "`" : "");
    text_add(&t, "database: `%s`\n", d->db_path);
    field_line(&t, d, "code (git SHA)", f_git);
    field_line(&t, d, "host", f_host);
    field_line(&t, d, "CPU", f_cpu);
    field_line(&t, d, "GPU", f_gpu);
    field_line(&t, d, "backend", f_backend);
    field_line(&t, d, "compiler and build", f_build);
    field_line(&t, d, "libraries", f_libs);
    field_line(&t, d, "CPU kernels", f_kernels);
    field_line(&t, d, "dataset digest", f_data);
    text_add(&t, "report written by: vadbench %s (git %s%s), build %s, on %s\n",
             provenance_version(), provenance_git_sha(), provenance_dirty() ? "-dirty" : "",
             nz(provenance_build_opts()), provenance_host());
    rep_doc_list(doc, t.s);
    free(t.s);
    const char *head[] = {"run", "variant",       "holdout", "seed",    "config hash",
                          "git", "started (UTC)", "wall s",  "attempts"};
    RepTable *tab = rep_table_new(9, head);
    rep_table_align_right(tab, 0), rep_table_align_right(tab, 3), rep_table_align_right(tab, 7);
    for (int i = 0; i < d->nruns; i++) {
        const StoreRun *r = &d->runs[i].run;
        char id[32], seed[32], git[96], wall[32], att[16];
        snprintf(id, sizeof id, "%lld", (long long)r->id);
        snprintf(seed, sizeof seed, "%lld", (long long)r->seed);
        f_git(r, git, sizeof git);
        if (r->wall_s >= 0) snprintf(wall, sizeof wall, "%.1f", r->wall_s);
        else snprintf(wall, sizeof wall, "\xe2\x80\x93");
        snprintf(att, sizeof att, "%d", r->attempts);
        const char *row[] = {
            id,         r->variant,     r->holdout && *r->holdout ? r->holdout : "\xe2\x80\x93",
            seed,       r->config_hash, git,
            r->started, wall,           att};
        rep_table_row(tab, row);
    }
    rep_doc_table(doc, tab);
}

/* ---- the report ------------------------------------------------------------------ */

VbStatus report_write(Store *st, const ReportOptions *o, ReportResult *res) {
    memset(res, 0, sizeof *res);
    char comp[REP_NAME];
    safe_component(o->experiment, comp, sizeof comp);
    if (!o->out_dir && strcmp(comp, "templates") == 0)
        return vb_fail_plain(VB_ERR_INPUT,
                             "experiment '%s': its default report directory, reports/templates/, "
                             "holds the report templates; give another directory with --out",
                             o->experiment);
    if (o->templates) VB_TRY(rep_tpl_check_dir(o->templates));
    RepData d;
    VbStatus s = rep_load_experiment(st, o->experiment, NULL, true, &d);
    if (s != VB_OK) {
        rep_free(&d);
        return s;
    }
    char baseline_note[400] = "";
    int vb = rep_variant_index(&d, d.cmp.baseline);
    if (vb < 0) {
        snprintf(
            baseline_note, sizeof baseline_note,
            "the baseline variant `%s` has no done runs; `%s` is used as the baseline instead.",
            d.cmp.baseline, d.variants[0].name);
        vb = 0;
    }
    if (o->out_dir) {
        snprintf(res->dir, sizeof res->dir, "%s", o->out_dir);
    } else {
        snprintf(res->dir, sizeof res->dir, "reports/%s", comp);
    }
    snprintf(res->markdown, sizeof res->markdown, "%s/report.md", res->dir);
    snprintf(res->html, sizeof res->html, "%s/report.html", res->dir);
    RepPlots pl;
    s = make_dirs(res->dir);
    if (s == VB_OK) s = rep_plots_make(&d, vb, res->dir, o->gnuplot, o->templates, &pl);
    if (s != VB_OK) {
        rep_free(&d);
        return s;
    }
    for (int i = 0; i < pl.n; i++)
        res->nfigures += pl.p[i].written, res->nrendered += pl.p[i].rendered;
    snprintf(res->note, sizeof res->note, "%s", pl.note);
    char title[REP_NAME + 32];
    snprintf(title, sizeof title, "vadbench report: %s", d.experiment);
    RepDoc doc;
    rep_doc_init(&doc, title);
    section_overview(&doc, &d, vb, &pl, baseline_note);
    section_claims(&doc, &d, vb);
    section_metrics(&doc, &d, vb);
    section_shortcuts(&doc, &d, vb);
    section_figures(&doc, &pl);
    section_provenance(&doc, &d);
    s = rep_doc_write_markdown(&doc, res->markdown);
    if (s == VB_OK) s = rep_doc_write_html(&doc, res->dir, o->templates, res->html);
    rep_doc_free(&doc);
    rep_free(&d);
    return s;
}
