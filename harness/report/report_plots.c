/* report_plots: gnuplot scripts, data files and their rendering for the
 * report. See report_plots.h. The statistics shown come from report_table
 * (summaries across runs), so figures and tables agree. Each script is its
 * template in reports/templates/ (templates.h) filled with what depends on
 * the data: the plot lists (one series per variant or component), tic
 * labels, sizes that grow with the data, the score and subset. */
#include "harness/report/report_plots.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/report/report_gnuplot.h"
#include "harness/report/report_table.h"
#include "harness/report/templates.h"
#include "models/hybrid.h"

#define ROC_GRID 201

/* ---- files ------------------------------------------------------------------ */

/* A figure's files: NAME.dat, written as the numbers are computed, and
 * NAME.gp, its template NAME.gp expanded once the plot lists are known. */
typedef struct PlotFiles {
    FILE *dat;
    char dat_path[1200], gp_path[1200];
    char tpl[80];     /* NAME.gp, the template's name */
    const char *tdir; /* template override directory, NULL: the built-in templates */
} PlotFiles;

static VbStatus open_files(const char *dir, const char *name, const char *tdir, PlotFiles *f) {
    memset(f, 0, sizeof *f);
    snprintf(f->dat_path, sizeof f->dat_path, "%s/%s.dat", dir, name);
    snprintf(f->gp_path, sizeof f->gp_path, "%s/%s.gp", dir, name);
    snprintf(f->tpl, sizeof f->tpl, "%s.gp", name);
    f->tdir = tdir;
    f->dat = fopen(f->dat_path, "w");
    if (!f->dat) return VB_FAIL(VB_ERR_IO, "%s: cannot write: %s", f->dat_path, strerror(errno));
    return VB_OK;
}

static VbStatus close_one(FILE *f, const char *path) {
    bool bad = ferror(f) != 0;
    if (fclose(f) != 0 || bad)
        return VB_FAIL(VB_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    return VB_OK;
}

/* Close NAME.dat and write NAME.gp from its template with vars. */
static VbStatus close_files(PlotFiles *f, const RepTplVar *vars, int nvars) {
    VbStatus s = close_one(f->dat, f->dat_path);
    if (s == VB_OK) s = rep_tpl_write(f->tdir, f->tpl, vars, nvars, f->gp_path);
    return s;
}

/* Text built with stdio: the data-dependent parts of a script. */
typedef struct Str {
    char *s;
    size_t n;
    FILE *f;
} Str;

static FILE *str_open(Str *b) {
    b->s = NULL, b->n = 0;
    b->f = open_memstream(&b->s, &b->n);
    VB_ASSERT(b->f != NULL);
    return b->f;
}

/* The text (malloc'ed, caller frees); the stream is closed. */
static char *str_close(Str *b) {
    VB_ASSERT(fclose(b->f) == 0);
    b->f = NULL;
    return b->s;
}

/* The inside of a gnuplot single-quoted string ('' for ', newlines as spaces). */
static void gp_esc(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '\'') fputc('\'', f);
        fputc(*s == '\n' ? ' ' : *s, f);
    }
}

/* A gnuplot single-quoted string. */
static void gp_str(FILE *f, const char *s) {
    fputc('\'', f);
    gp_esc(f, s);
    fputc('\'', f);
}

/* A double-quoted label column of a data file (quotes become '). */
static void dat_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) fputc(*s == '"' ? '\'' : *s == '\n' ? ' ' : *s, f);
    fputc('"', f);
}

static void dat_num(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, " %.10g", v);
    else fputs(" NaN", f);
}

static VbStatus write_style(const char *dir, const char *terminal, const char *tdir) {
    char path[1200];
    snprintf(path, sizeof path, "%s/style.gp", dir);
    RepTplVar v[] = {{"png_term", terminal},
                     {"cairo", strcmp(terminal, "pngcairo") == 0 ? "1" : ""}};
    return rep_tpl_write(tdir, "style.gp", v, 2, path);
}

/* ---- data helpers ------------------------------------------------------------------ */

static void mean_ci(const RepData *d, int v, const RepQuantity *q, double *mean, double *lo,
                    double *hi, int *n) {
    Summary s;
    *n = 0;
    *mean = *lo = *hi = NAN;
    if (!rep_q_summary(d, v, q, &s)) return;
    *n = (int)s.n;
    *mean = s.mean;
    *lo = s.ci.defined ? s.ci.lo : s.mean;
    *hi = s.ci.defined ? s.ci.hi : s.mean;
}

/* TPR of a ROC polyline (fpr fx[], tpr ty[], n points in curve order) at
 * FPR x: linear between points, the upper value on vertical segments. */
static double roc_at(const double *fx, const double *ty, int n, double x) {
    double best = NAN;
    for (int i = 0; i + 1 < n; i++) {
        double a = fx[i], b = fx[i + 1], v;
        if (x < a || x > b) continue;
        if (b == a) v = ty[i] > ty[i + 1] ? ty[i] : ty[i + 1];
        else v = ty[i] + (x - a) * (ty[i + 1] - ty[i]) / (b - a);
        if (isnan(best) || v > best) best = v;
    }
    if (n == 1 && fx[0] == x) best = ty[0];
    return best;
}

/* ---- ROC on the unseen holdout ------------------------------------------------------ */

static VbStatus plot_roc(const RepData *d, const char *dir, const char *tdir, RepPlot *p) {
    const char *subset = "unseen";
    char kx[REP_NAME], ky[REP_NAME];
    int with_curves = 0;
    for (int pass = 0; pass < 2 && !with_curves; pass++) {
        subset = pass ? "all" : "unseen";
        snprintf(kx, sizeof kx, "roc.%s.%s.fpr", d->score, subset);
        for (int i = 0; i < d->nruns; i++) {
            int64_t *steps;
            double *v;
            int n;
            rep_curve(&d->runs[i], "test", kx, &steps, &v, &n);
            with_curves += n > 1;
            free(steps), free(v);
        }
    }
    if (!with_curves) return VB_OK;
    VbStatus st = VB_OK;
    char *ser = NULL;
    snprintf(ky, sizeof ky, "roc.%s.%s.tpr", d->score, subset);
    double *mean = vb_xcalloc((size_t)d->nvariants * ROC_GRID, sizeof *mean);
    int *nruns = vb_xcalloc((size_t)d->nvariants, sizeof *nruns);
    for (int v = 0; v < d->nvariants; v++)
        for (int i = 0; i < d->variants[v].n; i++) {
            const RepRun *r = &d->runs[d->variants[v].idx[i]];
            int64_t *sx, *sy;
            double *fx, *ty;
            int nx, ny;
            rep_curve(r, "test", kx, &sx, &fx, &nx);
            rep_curve(r, "test", ky, &sy, &ty, &ny);
            bool ok = nx > 1 && nx == ny;
            for (int j = 0; ok && j < nx; j++)
                ok = sx[j] == sy[j] && isfinite(fx[j]) && isfinite(ty[j]);
            if (ok) {
                for (int g = 0; g < ROC_GRID; g++) {
                    double t = roc_at(fx, ty, nx, (double)g / (ROC_GRID - 1));
                    mean[(size_t)v * ROC_GRID + (size_t)g] += isnan(t) ? 0 : t;
                }
                nruns[v]++;
            }
            free(sx), free(sy), free(fx), free(ty);
        }
    PlotFiles f;
    VB_CHECK(open_files(dir, p->name, tdir, &f));
    fprintf(f.dat,
            "# ROC of the %s score on %s test anomalies vs test normals: TPR averaged over\n"
            "# each variant's runs at evenly spaced FPR (vertical averaging).\n# fpr",
            d->score, subset);
    for (int v = 0; v < d->nvariants; v++) fprintf(f.dat, " %s", d->variants[v].name);
    fputc('\n', f.dat);
    for (int g = 0; g < ROC_GRID; g++) {
        fprintf(f.dat, "%.6g", (double)g / (ROC_GRID - 1));
        for (int v = 0; v < d->nvariants; v++)
            dat_num(f.dat, nruns[v] ? mean[(size_t)v * ROC_GRID + (size_t)g] / nruns[v] : NAN);
        fputc('\n', f.dat);
    }
    Str series;
    FILE *gp = str_open(&series);
    char spec[REP_NAME];
    snprintf(spec, sizeof spec, "test/auroc.%s.%s", d->score, subset);
    RepQuantity auc = rep_q_final(d, spec, NULL);
    for (int v = 0; v < d->nvariants; v++) {
        if (!nruns[v]) continue;
        Summary s;
        char t[300], a[80] = "";
        if (rep_q_summary(d, v, &auc, &s)) rep_fmt_summary(&s, "", a, sizeof a);
        snprintf(t, sizeof t, "%s: AUROC %s (%d run%s)", d->variants[v].name, *a ? a : "n/a",
                 nruns[v], nruns[v] == 1 ? "" : "s");
        fprintf(gp, ", \\\n        '%s.dat' using 1:%d with lines lt %d title ", p->name, v + 2,
                v + 1);
        gp_str(gp, t);
    }
    ser = str_close(&series);
    p->written = true;
    snprintf(p->caption, sizeof p->caption,
             "ROC curves of the `%s` score on the %s test anomalies against the test normals, "
             "one line per variant. Seeds (and holdouts) are averaged, not pooled: each run's "
             "stored curve is interpolated at %d evenly spaced false-positive rates and the "
             "true-positive rates are averaged over the variant's runs; the legend gives the mean "
             "AUROC \xc2\xb1 95%% interval across runs. Dashed: chance.",
             d->score, strcmp(subset, "unseen") == 0 ? "unseen-class (held-out)" : "(all)",
             ROC_GRID);
    RepTplVar vars[] = {{"subset", subset}, {"score", d->score}, {"series", ser}};
    VB_CHECK(close_files(&f, vars, 3));
out:
    free(mean), free(nruns), free(ser);
    return st;
}

/* ---- decision metrics as bars ------------------------------------------------------ */

static VbStatus plot_decision(const RepData *d, const char *dir, const char *tdir, RepPlot *p) {
    RepQuantity q[32];
    int nq = 0;
    char def[4][REP_NAME];
    snprintf(def[0], REP_NAME, "test/accuracy");
    snprintf(def[1], REP_NAME, "test/fpr.%s", d->score);
    snprintf(def[2], REP_NAME, "test/detect.%s.unseen", d->score);
    snprintf(def[3], REP_NAME, "test/auroc.%s.unseen", d->score);
    int nm = d->cmp.nmetrics + 4;
    for (int m = 0; m < nm && nq < 32; m++) {
        const char *spec = m < d->cmp.nmetrics ? d->cmp.metrics[m] : def[m - d->cmp.nmetrics];
        RepQuantity c = rep_q_final(d, spec, NULL);
        bool dup = false, any = false, rate = true;
        for (int j = 0; j < nq; j++) dup = dup || strcmp(q[j].name, c.name) == 0;
        for (int i = 0; i < d->nruns && !dup; i++) {
            double v;
            if (!rep_q_value(&d->runs[i], &c, &v)) continue;
            any = true;
            rate = rate && v >= 0 && v <= 1;
        }
        if (!dup && any && rate) q[nq++] = c;
    }
    if (!nq) return VB_OK;
    PlotFiles f;
    VB_TRY(open_files(dir, p->name, tdir, &f));
    fputs("# decision metrics: per variant mean, lower and upper end of the Student-t 95% "
          "interval across runs\n# metric",
          f.dat);
    for (int v = 0; v < d->nvariants; v++)
        fprintf(f.dat, " %s_mean %s_lo %s_hi", d->variants[v].name, d->variants[v].name,
                d->variants[v].name);
    fputc('\n', f.dat);
    for (int i = 0; i < nq; i++) {
        dat_str(f.dat, q[i].name);
        for (int v = 0; v < d->nvariants; v++) {
            double m, lo, hi;
            int n;
            mean_ci(d, v, &q[i], &m, &lo, &hi, &n);
            dat_num(f.dat, m), dat_num(f.dat, lo), dat_num(f.dat, hi);
        }
        fputc('\n', f.dat);
    }
    Str series;
    FILE *gp = str_open(&series);
    for (int v = 0; v < d->nvariants; v++) {
        if (v) fputs(", \\\n        ", gp);
        fprintf(gp, "'%s.dat' using %d:%d:%d%s lt %d title ", p->name, 2 + 3 * v, 3 + 3 * v,
                4 + 3 * v, v == 0 ? ":xtic(1)" : "", v + 1);
        gp_str(gp, d->variants[v].name);
    }
    char *ser = str_close(&series);
    p->written = true;
    int len = snprintf(p->caption, sizeof p->caption,
                       "Decision metrics per variant: bars are means across each variant's runs "
                       "(seeds \xc3\x97 holdouts), whiskers the Student-t 95%% interval. Metrics:");
    for (int i = 0; i < nq && len < (int)sizeof p->caption; i++)
        len += snprintf(p->caption + len, sizeof p->caption - (size_t)len, "%s `%s`", i ? "," : "",
                        q[i].name);
    if (len < (int)sizeof p->caption)
        snprintf(p->caption + len, sizeof p->caption - (size_t)len,
                 " (for false-positive rates lower is better, for the others higher).");
    RepTplVar vars[] = {{"series", ser}};
    VbStatus st = close_files(&f, vars, 1);
    free(ser);
    return st;
}

/* ---- training and validation curves ------------------------------------------------ */

/* Mean over the variant's runs of curve (split, key) at each step present
 * in any run; *n points (steps ascending). */
static void mean_curve(const RepData *d, int v, const char *split, const char *key, int64_t **steps,
                       double **mean, int *n) {
    *steps = NULL, *mean = NULL, *n = 0;
    int *cnt = NULL, cap = 0;
    for (int i = 0; i < d->variants[v].n; i++) {
        int64_t *s;
        double *x;
        int m;
        rep_curve(&d->runs[d->variants[v].idx[i]], split, key, &s, &x, &m);
        for (int j = 0; j < m; j++) {
            if (!isfinite(x[j])) continue;
            int k = 0;
            while (k < *n && (*steps)[k] < s[j]) k++;
            if (k == *n || (*steps)[k] != s[j]) {
                if (*n == cap) {
                    cap = cap ? 2 * cap : 64;
                    *steps = vb_xrealloc(*steps, (size_t)cap * sizeof **steps);
                    *mean = vb_xrealloc(*mean, (size_t)cap * sizeof **mean);
                    cnt = vb_xrealloc(cnt, (size_t)cap * sizeof *cnt);
                }
                memmove(*steps + k + 1, *steps + k, (size_t)(*n - k) * sizeof **steps);
                memmove(*mean + k + 1, *mean + k, (size_t)(*n - k) * sizeof **mean);
                memmove(cnt + k + 1, cnt + k, (size_t)(*n - k) * sizeof *cnt);
                (*steps)[k] = s[j], (*mean)[k] = 0, cnt[k] = 0, (*n)++;
            }
            (*mean)[k] += x[j];
            cnt[k]++;
        }
        free(s), free(x);
    }
    for (int k = 0; k < *n; k++) (*mean)[k] /= cnt[k];
    free(cnt);
}

static VbStatus plot_training(const RepData *d, const char *dir, const char *tdir, RepPlot *p) {
    const char *split[3] = {"train", "val", "val"}, *key[3] = {"loss", "loss", "accuracy"};
    /* the template's sections, one per panel (its labels and ranges are there) */
    const char *panel[3] = {"train_loss", "val_loss", "val_accuracy"};
    bool have[3] = {false, false, false};
    VbStatus st = VB_OK;
    /* which variants have each curve: block index in the data file, -1 none */
    int *block = vb_xmalloc((size_t)(3 * d->nvariants) * sizeof *block), nblocks = 0;
    char *lists[3] = {NULL, NULL, NULL}; /* each panel's plot list, "" when it has no data */
    int64_t *steps = NULL;
    double *m = NULL;
    PlotFiles f;
    bool opened = false;
    for (int c = 0; c < 3; c++)
        for (int v = 0; v < d->nvariants; v++) {
            int n;
            mean_curve(d, v, split[c], key[c], &steps, &m, &n);
            block[c * d->nvariants + v] = -1;
            if (n > 0) {
                if (!opened) {
                    VB_CHECK(open_files(dir, p->name, tdir, &f));
                    opened = true;
                    fputs("# curves averaged over each variant's runs, one block per (curve, "
                          "variant); x = step (train) or epoch counted from 1 (val)\n",
                          f.dat);
                }
                if (nblocks) fputs("\n\n", f.dat);
                fprintf(f.dat, "# block %d: %s/%s of %s\n", nblocks, split[c], key[c],
                        d->variants[v].name);
                for (int k = 0; k < n; k++)
                    fprintf(f.dat, "%lld %.10g\n", (long long)(c ? steps[k] + 1 : steps[k]), m[k]);
                block[c * d->nvariants + v] = nblocks++;
                have[c] = true;
            }
            free(steps), free(m);
            steps = NULL, m = NULL;
        }
    if (!opened) goto out;
    int panels = have[0] + have[1] + have[2];
    for (int c = 0; c < 3; c++) {
        Str series;
        FILE *gp = str_open(&series);
        bool first = true;
        for (int v = 0; v < d->nvariants && have[c]; v++) {
            int b = block[c * d->nvariants + v];
            if (b < 0) continue;
            if (!first) fputs(", \\\n        ", gp);
            first = false;
            fprintf(gp, "'%s.dat' index %d using 1:2 with %s lt %d title ", p->name, b,
                    c ? "linespoints" : "lines", v + 1);
            gp_str(gp, d->variants[v].name);
        }
        lists[c] = str_close(&series);
    }
    p->written = true;
    snprintf(
        p->caption, sizeof p->caption,
        "Training and validation curves, one line per variant, each the mean over the "
        "variant's runs at every step or epoch:%s%s%s.",
        have[0] ? " training loss (`train/loss`, total of the MODEL_SPEC losses) per optimiser step"
                : "",
        have[1] ? "; validation loss (`val/loss`) per epoch" : "",
        have[2] ? "; validation accuracy (`val/accuracy`) per epoch" : "");
    char width[16], npanels[16];
    snprintf(width, sizeof width, "%d", 420 * panels);
    snprintf(npanels, sizeof npanels, "%d", panels);
    RepTplVar vars[] = {{"width", width},
                        {"panels", npanels},
                        {panel[0], lists[0]},
                        {panel[1], lists[1]},
                        {panel[2], lists[2]}};
    VB_CHECK(close_files(&f, vars, 5));
out:
    free(steps), free(m), free(block);
    for (int c = 0; c < 3; c++) free(lists[c]);
    return st;
}

/* ---- latency per component -------------------------------------------------------- */

static VbStatus plot_latency(const RepData *d, const char *dir, const char *tdir, RepPlot *p) {
    const char *comp[HPART_N];
    int nc = 0;
    for (int k = 0; k < HPART_N; k++) {
        RepQuantity q = rep_q_latency(hybrid_part_names[k], 1, false, NULL);
        double v;
        bool any = false;
        for (int i = 0; i < d->nruns && !any; i++) any = rep_q_value(&d->runs[i], &q, &v);
        if (any) comp[nc++] = hybrid_part_names[k];
    }
    if (!nc) return VB_OK;
    PlotFiles f;
    VB_TRY(open_files(dir, p->name, tdir, &f));
    fputs("# median latency at batch 1, ms per clip, mean over each variant's runs (0: the "
          "variant has no such component)\n# variant",
          f.dat);
    for (int k = 0; k < nc; k++) fprintf(f.dat, " %s", comp[k]);
    fputs(" model\n", f.dat);
    for (int v = 0; v < d->nvariants; v++) {
        dat_str(f.dat, d->variants[v].name);
        for (int k = 0; k <= nc; k++) {
            RepQuantity q = rep_q_latency(k < nc ? comp[k] : "model", 1, false, NULL);
            q.zero_if_absent = k < nc;
            double m, lo, hi;
            int n;
            mean_ci(d, v, &q, &m, &lo, &hi, &n);
            dat_num(f.dat, m);
        }
        fputc('\n', f.dat);
    }
    Str series;
    FILE *gp = str_open(&series);
    for (int k = 0; k < nc; k++) {
        if (k) fputs(", \\\n        ", gp);
        fprintf(gp, "'%s.dat' using %d%s lt %d title ", p->name, k + 2, k ? "" : ":xtic(1)", k + 1);
        gp_str(gp, comp[k]);
    }
    char *ser = str_close(&series), model_column[16];
    snprintf(model_column, sizeof model_column, "%d", nc + 2);
    p->written = true;
    snprintf(p->caption, sizeof p->caption,
             "Inference latency per component at batch 1: each run's median over its timed "
             "passes, averaged over the variant's runs, stacked per variant (ms per clip; a "
             "component a variant lacks counts 0). The black dot is the whole model timed end to "
             "end; it differs from the stack by the work between the parts.");
    RepTplVar vars[] = {{"series", ser}, {"model_column", model_column}};
    VbStatus st = close_files(&f, vars, 2);
    free(ser);
    return st;
}

/* ---- accuracy against latency ------------------------------------------------------ */

static VbStatus plot_pareto(const RepData *d, const char *dir, const char *tdir, RepPlot *p) {
    RepQuantity lat = rep_q_latency("model", 1, false, NULL);
    RepQuantity acc = rep_q_final(d, "test/accuracy", NULL);
    double *x = vb_xcalloc((size_t)d->nvariants, sizeof *x),
           *y = vb_xcalloc((size_t)d->nvariants, sizeof *y);
    int npts = 0;
    for (int v = 0; v < d->nvariants; v++) {
        double lo, hi;
        int n1, n2;
        mean_ci(d, v, &lat, &x[v], &lo, &hi, &n1);
        mean_ci(d, v, &acc, &y[v], &lo, &hi, &n2);
        if (n1 && n2) npts++;
    }
    VbStatus st = VB_OK;
    int *blk = NULL;
    bool *used = NULL;
    char *ser = NULL;
    PlotFiles f;
    if (!npts) goto out;
    VB_CHECK(open_files(dir, p->name, tdir, &f));
    fputs("# one block per variant: name, latency mean lo hi (ms per clip, batch 1 median), "
          "test accuracy mean lo hi; the last block is the Pareto front\n",
          f.dat);
    blk = vb_xmalloc((size_t)d->nvariants * sizeof *blk);
    int nblk = 0;
    for (int v = 0; v < d->nvariants; v++) {
        double m1, l1, h1, m2, l2, h2;
        int n1, n2;
        mean_ci(d, v, &lat, &m1, &l1, &h1, &n1);
        mean_ci(d, v, &acc, &m2, &l2, &h2, &n2);
        blk[v] = -1;
        if (!n1 || !n2) continue;
        fprintf(f.dat, "%s# block %d: %s\n", nblk ? "\n\n" : "", nblk, d->variants[v].name);
        dat_str(f.dat, d->variants[v].name);
        dat_num(f.dat, m1), dat_num(f.dat, l1), dat_num(f.dat, h1);
        dat_num(f.dat, m2), dat_num(f.dat, l2), dat_num(f.dat, h2);
        fputc('\n', f.dat);
        blk[v] = nblk++;
    }
    fprintf(f.dat,
            "\n\n# block %d: the Pareto front (no other variant is faster and more "
            "accurate), by latency\n",
            nblk);
    used = vb_xcalloc((size_t)d->nvariants, sizeof *used);
    double best = -INFINITY;
    for (;;) { /* variants by increasing latency; keep those more accurate than all faster ones */
        int k = -1;
        for (int v = 0; v < d->nvariants; v++)
            if (!used[v] && isfinite(x[v]) && isfinite(y[v]) && (k < 0 || x[v] < x[k])) k = v;
        if (k < 0) break;
        used[k] = true;
        if (y[k] > best) {
            best = y[k];
            fprintf(f.dat, "%.10g %.10g\n", x[k], y[k]);
        }
    }
    Str series;
    FILE *gp = str_open(&series);
    for (int v = 0; v < d->nvariants; v++) {
        if (blk[v] < 0) continue;
        fprintf(gp, ", \\\n        '' index %d using 2:5:3:4:6:7 with xyerrorbars lt %d title ",
                blk[v], v + 1);
        gp_str(gp, d->variants[v].name);
        fprintf(gp,
                ", \\\n        '' index %d using 2:5:1 with labels offset char 1,1 left "
                "notitle",
                blk[v]);
    }
    ser = str_close(&series);
    char front[16];
    snprintf(front, sizeof front, "%d", nblk);
    p->written = true;
    snprintf(p->caption, sizeof p->caption,
             "Test accuracy (`test/accuracy`) against whole-model latency (batch 1, median ms "
             "per clip) per variant: points are means over the variant's runs, whiskers 95%% "
             "intervals in both directions; the dashed line joins the Pareto-optimal variants "
             "(no other variant is both faster and more accurate).");
    RepTplVar vars[] = {{"front_block", front}, {"series", ser}};
    VB_CHECK(close_files(&f, vars, 2));
out:
    free(x), free(y), free(blk), free(used), free(ser);
    return st;
}

/* ---- confusion matrix -------------------------------------------------------------- */

static VbStatus plot_confusion(const RepData *d, int vb, const char *dir, const char *tdir,
                               RepPlot *p) {
    const RepVariant *V = &d->variants[vb];
    char(*cls)[REP_NAME] = NULL;
    int nc = 0;
    for (int i = 0; i < V->n; i++) {
        const RepRun *r = &d->runs[V->idx[i]];
        for (int j = 0; j < r->metrics.n; j++) {
            const StoreMetric *m = &r->metrics.rows[j];
            size_t kl = strlen(m->key);
            if (m->has_step || strcmp(m->split, "test") || strncmp(m->key, "class.", 6) ||
                kl < 15 || strcmp(m->key + kl - 8, ".support"))
                continue;
            char name[REP_NAME];
            snprintf(name, sizeof name, "%.*s", (int)(kl - 14), m->key + 6);
            bool dup = false;
            for (int k = 0; k < nc; k++) dup = dup || strcmp(cls[k], name) == 0;
            if (dup) continue;
            cls = vb_xrealloc(cls, (size_t)(nc + 1) * sizeof *cls);
            /* the normal class first, the others in stored (alphabetical) order */
            int at = strcmp(name, r->normal_class) == 0 ? 0 : nc;
            memmove(cls + at + 1, cls + at, (size_t)(nc - at) * sizeof *cls);
            snprintf(cls[at], REP_NAME, "%s", name);
            nc++;
        }
    }
    double *cnt = vb_xcalloc((size_t)(nc * nc + 1), sizeof *cnt);
    bool any = false;
    for (int i = 0; i < V->n; i++)
        for (int a = 0; a < nc; a++)
            for (int b = 0; b < nc; b++) {
                char key[3 * REP_NAME];
                double v;
                snprintf(key, sizeof key, "confusion.%s.%s", cls[a], cls[b]);
                if (rep_final(&d->runs[V->idx[i]], "test", key, &v))
                    cnt[a * nc + b] += v, any = true;
            }
    VbStatus st = VB_OK;
    char *variant = NULL, *tic = NULL;
    PlotFiles f;
    if (!any) goto out;
    VB_CHECK(open_files(dir, p->name, tdir, &f));
    fprintf(f.dat,
            "# confusion matrix of %s on the test split, summed over %d runs\n"
            "# predicted_index true_index fraction_of_true_class count\n",
            V->name, V->n);
    for (int a = 0; a < nc; a++) {
        double row = 0;
        for (int b = 0; b < nc; b++) row += cnt[a * nc + b];
        for (int b = 0; b < nc; b++)
            fprintf(f.dat, "%d %d %.6g %.0f\n", b, a, row > 0 ? cnt[a * nc + b] / row : 0.0,
                    cnt[a * nc + b]);
        fputc('\n', f.dat);
    }
    Str vname, tics;
    gp_esc(str_open(&vname), V->name);
    FILE *gp = str_open(&tics);
    for (int k = 0; k < nc; k++) {
        if (k) fputs(", ", gp);
        gp_str(gp, cls[k]);
        fprintf(gp, " %d", k);
    }
    variant = str_close(&vname), tic = str_close(&tics);
    int side = 260 + 46 * nc;
    char runs[16], last[16], width[16], height[16];
    snprintf(runs, sizeof runs, "%d", V->n);
    snprintf(last, sizeof last, "%d", nc - 1);
    snprintf(width, sizeof width, "%d", side + 120);
    snprintf(height, sizeof height, "%d", side);
    p->written = true;
    snprintf(p->caption, sizeof p->caption,
             "Confusion matrix of the baseline variant `%s` on the test split (closed set: the "
             "classes seen in training; unseen-class clips are excluded), clip counts summed over "
             "its %d runs. Colour is the fraction of each true class (row) predicted as each "
             "class; numbers are counts.",
             V->name, V->n);
    RepTplVar vars[] = {{"variant", variant}, {"runs", runs},   {"last", last},
                        {"tics", tic},        {"width", width}, {"height", height}};
    VB_CHECK(close_files(&f, vars, 6));
out:
    free(cls), free(cnt), free(variant), free(tic);
    return st;
}

VbStatus rep_plots_make(const RepData *d, int vb, const char *dir, const char *gnuplot,
                        const char *templates, RepPlots *out) {
    memset(out, 0, sizeof *out);
    const char *env = getenv("VADBENCH_GNUPLOT");
    snprintf(out->gnuplot, sizeof out->gnuplot, "%s",
             gnuplot       ? gnuplot
             : env && *env ? env
                           : "gnuplot");
    char log[1200];
    snprintf(log, sizeof log, "%s/gnuplot.log", dir);
    unlink(log);
    out->have_gnuplot = rep_gnuplot_probe(out->gnuplot, dir, out->terminal, sizeof out->terminal,
                                          out->note, sizeof out->note);
    VB_TRY(write_style(dir, out->have_gnuplot ? out->terminal : "pngcairo", templates));
    static const struct {
        const char *name, *title;
    } spec[] = {
        {"roc_unseen", "ROC curves on the unseen holdout"},
        {"decision_metrics", "Decision metrics per variant"},
        {"training", "Training and validation curves"},
        {"latency_components", "Latency per component"},
        {"pareto", "Accuracy against latency"},
        {"confusion", "Confusion matrix of the baseline"},
    };
    int ns = (int)(sizeof spec / sizeof spec[0]);
    for (int i = 0; i < ns; i++) {
        RepPlot *p = &out->p[out->n++];
        snprintf(p->name, sizeof p->name, "%s", spec[i].name);
        snprintf(p->title, sizeof p->title, "%s", spec[i].title);
        VbStatus s;
        switch (i) {
        case 0: s = plot_roc(d, dir, templates, p); break;
        case 1: s = plot_decision(d, dir, templates, p); break;
        case 2: s = plot_training(d, dir, templates, p); break;
        case 3: s = plot_latency(d, dir, templates, p); break;
        case 4: s = plot_pareto(d, dir, templates, p); break;
        default: s = plot_confusion(d, vb, dir, templates, p); break;
        }
        VB_TRY(s);
    }
    if (!out->have_gnuplot) return VB_OK;
    char failed[600] = "";
    for (int i = 0; i < out->n; i++) {
        RepPlot *p = &out->p[i];
        if (!p->written) continue;
        char script[80];
        snprintf(script, sizeof script, "%s.gp", p->name);
        const char *args[] = {script, NULL};
        int rc = rep_gnuplot_run(out->gnuplot, args, dir);
        p->rendered = rc == 0 && rep_file_nonempty(dir, p->name, "png") &&
                      rep_file_nonempty(dir, p->name, "svg");
        if (!p->rendered) {
            size_t len = strlen(failed);
            snprintf(failed + len, sizeof failed - len, "%s%s.gp (exit %d)", len ? ", " : "",
                     p->name, rc);
        }
    }
    if (*failed) {
        char tail[400];
        rep_gnuplot_log_tail(dir, tail, sizeof tail);
        snprintf(out->note, sizeof out->note,
                 "gnuplot ('%s') failed on %s; see gnuplot.log in this directory (ends: %s)",
                 out->gnuplot, failed, tail);
    } else {
        struct stat sb;
        if (stat(log, &sb) == 0 && sb.st_size == 0) unlink(log);
    }
    return VB_OK;
}
