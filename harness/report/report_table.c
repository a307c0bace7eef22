/* report_table: quantities, summaries across seeds, paired differences and
 * the report's tables. See report_table.h; the seed's claims are quoted
 * from MODEL_SPEC.md §7. */
#include "harness/report/report_table.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/run/run.h"

#define REP_BOOT_B STATS_BOOTSTRAP_DEFAULT_B

/* ---- quantities ------------------------------------------------------------------ */

static void unit_for(const char *split, const char *key, char *unit, size_t n) {
    if (strcmp(split, "memory") == 0) snprintf(unit, n, "MB");
    else if (strcmp(split, "train") == 0 && strstr(key, "seconds")) snprintf(unit, n, "s");
    else snprintf(unit, n, "%s", "");
}

RepQuantity rep_q_final(const RepData *d, const char *spec, const char *label) {
    RepQuantity q;
    memset(&q, 0, sizeof q);
    q.kind = RQ_FINAL;
    rep_metric_split(d, spec, q.split, sizeof q.split, q.key, sizeof q.key);
    q.scale = 1.0;
    q.dir = rep_direction(q.split, q.key);
    snprintf(q.name, sizeof q.name, "%s/%s", q.split, q.key);
    snprintf(q.label, sizeof q.label, "%s", label ? label : q.name);
    unit_for(q.split, q.key, q.unit, sizeof q.unit);
    return q;
}

RepQuantity rep_q_latency(const char *component, int batch, bool per_frame, const char *label) {
    RepQuantity q;
    memset(&q, 0, sizeof q);
    q.kind = RQ_LATENCY;
    snprintf(q.component, sizeof q.component, "%s", component);
    q.batch = batch;
    q.per_frame = per_frame;
    q.scale = 1.0;
    q.dir = STATS_LOWER_IS_BETTER;
    snprintf(q.name, sizeof q.name, "latency %s batch %d p50%s", component, batch,
             per_frame ? " per frame" : "");
    if (label) snprintf(q.label, sizeof q.label, "%s", label);
    else
        snprintf(q.label, sizeof q.label, "latency `%s`, batch %d, median, ms per %s", component,
                 batch, per_frame ? "frame" : "clip");
    snprintf(q.unit, sizeof q.unit, "ms");
    return q;
}

bool rep_q_value(const RepRun *r, const RepQuantity *q, double *v) {
    double a, b;
    switch (q->kind) {
    case RQ_FINAL:
        if (!rep_final(r, q->split, q->key, &a)) return false;
        *v = a * q->scale;
        return true;
    case RQ_FINAL_SUM:
        if (!rep_final(r, q->split, q->key, &a) || !rep_final(r, q->split, q->key2, &b))
            return false;
        *v = (a + b) * q->scale;
        return true;
    case RQ_LATENCY: {
        const StoreLatency *l = rep_latency(r, q->component, q->batch);
        if (l) {
            a = l->p50;
        } else if (q->zero_if_absent && rep_latency(r, "model", q->batch)) {
            a = 0.0;
        } else {
            return false;
        }
        if (q->per_frame) {
            if (r->clip_frames <= 0) return false;
            a /= r->clip_frames;
        }
        *v = a * q->scale;
        return isfinite(*v);
    }
    }
    return false;
}

bool rep_q_summary(const RepData *d, int v, const RepQuantity *q, Summary *out) {
    const RepVariant *rv = &d->variants[v];
    double *x = vb_xmalloc((size_t)(rv->n ? rv->n : 1) * sizeof *x);
    size_t n = 0;
    for (int i = 0; i < rv->n; i++)
        if (rep_q_value(&d->runs[rv->idx[i]], q, &x[n])) n++;
    bool ok = n > 0 && stats_summary(x, n, REP_LEVEL, out) == VB_OK;
    if (n > 0 && !ok) vb_clear_error();
    free(x);
    return ok;
}

static uint64_t name_hash(const char *s) {
    uint64_t h = 0xCBF29CE484222325ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001B3ull;
    return h;
}

bool rep_q_paired(const RepData *d, int vb, int vc, const RepQuantity *q, RepPaired *out) {
    memset(out, 0, sizeof *out);
    const RepVariant *B = &d->variants[vb], *C = &d->variants[vc];
    double *xb = vb_xmalloc((size_t)(C->n ? C->n : 1) * sizeof *xb);
    double *xc = vb_xmalloc((size_t)(C->n ? C->n : 1) * sizeof *xc);
    size_t n = 0;
    for (int i = 0; i < C->n; i++) {
        const RepRun *rc = &d->runs[C->idx[i]];
        for (int j = 0; j < B->n; j++) {
            const RepRun *rb = &d->runs[B->idx[j]];
            if (rb->run.seed != rc->run.seed || strcmp(rb->run.holdout ? rb->run.holdout : "",
                                                       rc->run.holdout ? rc->run.holdout : ""))
                continue;
            if (rep_q_value(rb, q, &xb[n]) && rep_q_value(rc, q, &xc[n])) n++;
            break;
        }
    }
    bool ok = n > 0;
    if (ok) {
        RngStream rng = rng_substream(rng_stream(0, "report.bootstrap"), name_hash(q->name));
        if (stats_bootstrap_paired_diff(xb, xc, n, REP_BOOT_B, REP_LEVEL, rng, &out->ci,
                                        &out->mean_diff) != VB_OK) {
            vb_clear_error();
            ok = false;
        }
        double s = 0;
        for (size_t i = 0; i < n; i++) s += xb[i];
        out->base_mean = s / (double)n;
        out->npairs = (int)n;
        /* A verdict needs the bootstrap interval AND the Student-t interval of
         * the paired differences to exclude zero: with few seeds the
         * percentile bootstrap alone is far too narrow (with 2 pairs it is
         * just the range of the two differences). */
        StatsVerdict vboot = stats_verdict(out->ci, q->dir);
        double *dd = vb_xmalloc(n * sizeof *dd);
        for (size_t i = 0; i < n; i++) dd[i] = xc[i] - xb[i];
        Summary sm;
        StatsVerdict vt = STATS_NO_DIFFERENCE;
        if (stats_summary(dd, n, REP_LEVEL, &sm) == VB_OK) vt = stats_verdict(sm.ci, q->dir);
        else vb_clear_error();
        free(dd);
        out->verdict = vboot == vt ? vboot : STATS_NO_DIFFERENCE;
        out->sd_diff = n >= 2 ? sm.sd : NAN;
        out->mde = stats_mde_paired(out->sd_diff, n, STATS_POWER_ALPHA, STATS_POWER);
    }
    free(xb);
    free(xc);
    return ok;
}

/* ---- formatting ------------------------------------------------------------------ */

static void with_unit(char *buf, size_t size, const char *unit) {
    if (unit && *unit) {
        size_t n = strlen(buf);
        snprintf(buf + n, size - n, " %s", unit);
    }
}

/* Prefix '+' to a formatted number that is positive and not zero. */
static void signed_text(const char *num, char *buf, size_t size) {
    bool nonzero = strpbrk(num, "123456789") != NULL;
    snprintf(buf, size, "%s%s", num[0] != '-' && nonzero ? "+" : "", num);
}

/* A half-width that is only rounding noise next to `ref` (identical values
 * across runs summed in a different order) is no interval at all. */
double rep_real_width(double hw, double ref) { return hw > 1e-9 * fabs(ref) ? hw : 0.0; }

void rep_fmt_summary(const Summary *s, const char *unit, char *buf, size_t size) {
    if (s->n >= 2 && s->ci.defined)
        stats_format_pm(s->mean, rep_real_width(s->half_width, s->mean), buf, size);
    else stats_format_value(s->mean, NAN, buf, size);
    with_unit(buf, size, unit);
}

void rep_fmt_paired(const RepPaired *p, const char *unit, char *buf, size_t size) {
    const char *u = unit && strcmp(unit, "%") == 0 ? "pp" : unit;
    char m[64], lo[64], hi[64], sm[80];
    if (p->ci.defined) {
        double ref = fmax(fabs(p->mean_diff), fmax(fabs(p->ci.lo), fabs(p->ci.hi)));
        double hw = rep_real_width((p->ci.hi - p->ci.lo) / 2, ref);
        if (!(hw > 0)) hw = NAN;
        stats_format_value(p->mean_diff, hw, m, sizeof m);
        stats_format_value(p->ci.lo, hw, lo, sizeof lo);
        stats_format_value(p->ci.hi, hw, hi, sizeof hi);
        signed_text(m, sm, sizeof sm);
        snprintf(buf, size, "%s", sm);
        with_unit(buf, size, u);
        size_t n = strlen(buf);
        snprintf(buf + n, size - n, " [%s, %s]", lo, hi);
    } else {
        stats_format_value(p->mean_diff, NAN, m, sizeof m);
        signed_text(m, sm, sizeof sm);
        snprintf(buf, size, "%s", sm);
        with_unit(buf, size, u);
        size_t n = strlen(buf);
        snprintf(buf + n, size - n, " (%d pair%s: no interval)", p->npairs,
                 p->npairs == 1 ? "" : "s");
    }
}

void rep_fmt_power(const RepPaired *p, const char *unit, double effect, bool either_sign, char *buf,
                   size_t size) {
    const char *u = unit && strcmp(unit, "%") == 0 ? "pp" : unit;
    if (p->npairs < 2 || !isfinite(p->mde)) {
        snprintf(buf, size, "n/a (%d pair%s)", p->npairs, p->npairs == 1 ? "" : "s");
        return;
    }
    char m[64];
    stats_format_value(p->mde, p->mde / 20, m, sizeof m);
    snprintf(buf, size, "\xc2\xb1%s", m);
    with_unit(buf, size, u);
    if (p->verdict != STATS_NO_DIFFERENCE || !isfinite(effect) || effect == 0) return;
    size_t need = stats_n_paired(p->sd_diff, effect, STATS_POWER_ALPHA, STATS_POWER, STATS_N_MAX);
    char es[80];
    if (either_sign) snprintf(es, sizeof es, "\xc2\xb1%g", fabs(effect));
    else snprintf(es, sizeof es, "%+g", effect);
    size_t n = strlen(buf);
    if (need) snprintf(buf + n, size - n, "; %zu pairs for %s", need, es);
    else snprintf(buf + n, size - n, "; more than %d pairs for %s", STATS_N_MAX, es);
    with_unit(buf, size, u);
}

/* ---- quantity lists ------------------------------------------------------------------ */

static bool any_run_has(const RepData *d, const RepQuantity *q) {
    double v;
    for (int i = 0; i < d->nruns; i++)
        if (rep_q_value(&d->runs[i], q, &v)) return true;
    return false;
}

static bool same_quantity(const RepQuantity *a, const RepQuantity *b) {
    return strcmp(a->name, b->name) == 0;
}

/* Append q to the list when some run has it and it is not there yet. */
static void add_q(const RepData *d, RepQuantity **l, int *n, RepQuantity q) {
    for (int i = 0; i < *n; i++)
        if (same_quantity(&(*l)[i], &q)) return;
    if (!any_run_has(d, &q)) return;
    *l = vb_xrealloc(*l, (size_t)(*n + 1) * sizeof **l);
    (*l)[(*n)++] = q;
}

int rep_quantities_default(const RepData *d, RepQuantity **out) {
    RepQuantity *l = NULL;
    int n = 0;
    for (int m = 0; m < d->cmp.nmetrics; m++)
        add_q(d, &l, &n, rep_q_final(d, d->cmp.metrics[m], NULL));
    const char *S = d->score;
    char spec[REP_NAME + 32];
    const char *plain[] = {"test/accuracy", "test/video_accuracy", "test/video_balanced_accuracy",
                           "test/macro_f1", "test/weighted_f1"};
    for (int i = 0; i < 5; i++) add_q(d, &l, &n, rep_q_final(d, plain[i], NULL));
    const char *scored[] = {
        "auroc.%s.all", "auroc.%s.seen",  "auroc.%s.unseen",  "ap.%s.unseen",
        "fpr.%s",       "detect.%s.seen", "detect.%s.unseen", "video_auroc.%s.all"};
    for (int i = 0; i < 8; i++) {
        char key[REP_NAME];
        snprintf(key, sizeof key, scored[i], S);
        snprintf(spec, sizeof spec, "test/%s", key);
        add_q(d, &l, &n, rep_q_final(d, spec, NULL));
    }
    add_q(d, &l, &n, rep_q_latency("model", 1, false, NULL));
    add_q(d, &l, &n, rep_q_latency("model", 1, true, NULL));
    add_q(d, &l, &n, rep_q_latency("vae", 1, false, NULL));
    const char *costs[] = {"memory/activation_mb",   "memory/param_mb", "memory/peak_rss_mb",
                           "model/trainable_params", "train/seconds",   "train/seconds_per_epoch",
                           "train/images_per_s"};
    for (int i = 0; i < 7; i++) add_q(d, &l, &n, rep_q_final(d, costs[i], NULL));
    *out = l;
    return n;
}

int rep_quantities_scores(const RepData *d, RepQuantity **out) {
    RepQuantity *l = NULL;
    int n = 0;
    const char *fmt[] = {"test/auroc.%s.unseen", "test/detect.%s.unseen"};
    for (int f = 0; f < 2; f++)
        for (int k = 0; k < EVAL_NSCORES; k++) {
            char spec[REP_NAME];
            snprintf(spec, sizeof spec, fmt[f], eval_score_names[k]);
            add_q(d, &l, &n, rep_q_final(d, spec, NULL));
        }
    *out = l;
    return n;
}

int rep_quantities_unseen_classes(const RepData *d, RepQuantity **out) {
    RepQuantity *l = NULL;
    int n = 0;
    char prefix[64];
    snprintf(prefix, sizeof prefix, "detect.%s.class.", d->score);
    for (int i = 0; i < d->nruns; i++)
        for (int j = 0; j < d->runs[i].metrics.n; j++) {
            const StoreMetric *m = &d->runs[i].metrics.rows[j];
            if (m->has_step || strcmp(m->split, "test") != 0 ||
                strncmp(m->key, prefix, strlen(prefix)) != 0)
                continue;
            char spec[REP_NAME + 8], label[160];
            snprintf(spec, sizeof spec, "test/%s", m->key);
            snprintf(label, sizeof label, "%s (`test/%s`)", m->key + strlen(prefix), m->key);
            add_q(d, &l, &n, rep_q_final(d, spec, label));
        }
    *out = l;
    return n;
}

/* ---- tables ------------------------------------------------------------------ */

RepTable *rep_table_per_variant(const RepData *d, const RepQuantity *q, int nq) {
    int nc = d->nvariants + 1;
    const char **head = vb_xcalloc((size_t)nc, sizeof *head);
    char(*hbuf)[REP_NAME + 32] = vb_xcalloc((size_t)nc, sizeof *hbuf);
    head[0] = "metric";
    for (int v = 0; v < d->nvariants; v++) {
        snprintf(hbuf[v + 1], sizeof hbuf[v + 1], "%s (%d run%s)", d->variants[v].name,
                 d->variants[v].n, d->variants[v].n == 1 ? "" : "s");
        head[v + 1] = hbuf[v + 1];
    }
    RepTable *t = rep_table_new(nc, head);
    for (int v = 1; v < nc; v++) rep_table_align_right(t, v);
    char(*cell)[160] = vb_xcalloc((size_t)nc, sizeof *cell);
    const char **row = vb_xcalloc((size_t)nc, sizeof *row);
    for (int i = 0; i < nq; i++) {
        if (q[i].kind == RQ_LATENCY || strcmp(q[i].label, q[i].name) != 0)
            snprintf(cell[0], sizeof cell[0], "%s", q[i].label);
        else snprintf(cell[0], sizeof cell[0], "`%s`", q[i].name);
        row[0] = cell[0];
        for (int v = 0; v < d->nvariants; v++) {
            Summary s;
            row[v + 1] = NULL;
            if (!rep_q_summary(d, v, &q[i], &s)) continue;
            rep_fmt_summary(&s, q[i].unit, cell[v + 1], sizeof cell[v + 1]);
            if ((int)s.n != d->variants[v].n) {
                size_t len = strlen(cell[v + 1]);
                snprintf(cell[v + 1] + len, sizeof cell[v + 1] - len, " (n=%zu)", s.n);
            }
            row[v + 1] = cell[v + 1];
        }
        rep_table_row(t, row);
    }
    free(head);
    free(hbuf);
    free(cell);
    free(row);
    return t;
}

static const char *const SC_SETS[4] = {"colour", "layout", "motion", "all"};
static const char *const SC_PROBE_KEYS[3] = {"video_balanced_accuracy", "video_auroc.unseen",
                                             "video_auroc.all"};

/* The metric of column k (0..2) for a model row (set < 0) or probe set `set`. */
static void shortcut_spec(const RepData *d, int set, int k, char *spec, size_t size) {
    if (set < 0 && k == 0) snprintf(spec, size, "test/video_balanced_accuracy");
    else if (set < 0)
        snprintf(spec, size, "test/video_auroc.%s.%s", d->score, k == 1 ? "unseen" : "all");
    else snprintf(spec, size, "probe/%s.%s", SC_SETS[set], SC_PROBE_KEYS[k]);
}

/* One row of the shortcut table; false (and nothing added) when empty. */
static bool shortcut_row(RepTable *t, const RepData *d, int v, int set, const char *label) {
    char cell[4][160], spec[REP_NAME + 64];
    const char *row[4] = {label, NULL, NULL, NULL};
    bool any = false;
    for (int k = 0; k < 3; k++) {
        shortcut_spec(d, set, k, spec, sizeof spec);
        RepQuantity q = rep_q_final(d, spec, NULL);
        Summary sm;
        if (!rep_q_summary(d, v, &q, &sm)) continue;
        rep_fmt_summary(&sm, q.unit, cell[k + 1], sizeof cell[k + 1]);
        row[k + 1] = cell[k + 1];
        any = true;
    }
    if (any) rep_table_row(t, row);
    return any;
}

/* Whether every variant's runs have the same probe values as the baseline's
 * (variants that change only the model or training share their data and
 * splits; a variant with another normal class or data set does not). */
static bool probes_shared(const RepData *d, int vb) {
    char spec[REP_NAME + 64];
    for (int v = 0; v < d->nvariants; v++)
        for (int set = 0; set < 4; set++)
            for (int k = 0; k < 3; k++) {
                shortcut_spec(d, set, k, spec, sizeof spec);
                RepQuantity q = rep_q_final(d, spec, NULL);
                Summary a, b;
                bool ha = rep_q_summary(d, vb, &q, &a), hb = rep_q_summary(d, v, &q, &b);
                if (ha != hb || (ha && (a.n != b.n || a.mean != b.mean))) return false;
            }
    return true;
}

RepTable *rep_table_shortcuts(const RepData *d, int vb) {
    static const char *const head[4] = {"", "balanced accuracy, seen classes",
                                        "AUROC unseen anomalies", "AUROC all anomalies"};
    RepTable *t = rep_table_new(4, head);
    for (int c = 1; c < 4; c++) rep_table_align_right(t, c);
    char label[REP_NAME + 80];
    int rows = 0;
    bool shared = probes_shared(d, vb);
    for (int v = 0; v < d->nvariants; v++) {
        snprintf(label, sizeof label, "%s (model, `%s` score)", d->variants[v].name, d->score);
        rows += shortcut_row(t, d, v, -1, label);
        for (int set = 0; set < 4 && !shared; set++) {
            snprintf(label, sizeof label, "\xe2\x80\x83probe on %s's videos: %s features",
                     d->variants[v].name, SC_SETS[set]);
            rows += shortcut_row(t, d, v, set, label);
        }
    }
    for (int set = 0; set < 4 && shared; set++) {
        snprintf(label, sizeof label, "probe: %s features", SC_SETS[set]);
        rows += shortcut_row(t, d, vb, set, label);
    }
    if (rows == 0) {
        rep_table_free(t);
        return NULL;
    }
    return t;
}

void rep_cell_summary(const RepData *d, int v, const RepQuantity *q, char *buf, size_t size) {
    Summary s;
    if (rep_q_summary(d, v, q, &s)) rep_fmt_summary(&s, q->unit, buf, size);
    else snprintf(buf, size, "n/a");
}

RepTable *rep_table_paired(const RepData *d, int vb, int vc, const RepQuantity *q, int nq) {
    char hb[REP_NAME + 8], hc[REP_NAME + 8], hd[2 * REP_NAME + 40];
    snprintf(hb, sizeof hb, "%s", d->variants[vb].name);
    snprintf(hc, sizeof hc, "%s", d->variants[vc].name);
    snprintf(hd, sizeof hd, "%s \xe2\x88\x92 %s [95%% CI]", d->variants[vc].name,
             d->variants[vb].name);
    const char *head[] = {"metric",
                          hb,
                          hc,
                          hd,
                          "pairs",
                          "verdict",
                          "detectable \xce\x94 (80% power); pairs to detect the tolerance"};
    RepTable *t = rep_table_new(7, head);
    for (int c = 1; c <= 4; c++) rep_table_align_right(t, c);
    for (int i = 0; i < nq; i++) {
        char name[200], b[160], c[160], df[200], np[16], pw[200];
        if (q[i].kind == RQ_LATENCY || strcmp(q[i].label, q[i].name) != 0)
            snprintf(name, sizeof name, "%s", q[i].label);
        else snprintf(name, sizeof name, "`%s`", q[i].name);
        rep_cell_summary(d, vb, &q[i], b, sizeof b);
        rep_cell_summary(d, vc, &q[i], c, sizeof c);
        RepPaired p;
        bool ok = rep_q_paired(d, vb, vc, &q[i], &p);
        double tol = NAN;
        if (q[i].kind != RQ_LATENCY && rep_tolerance(d, q[i].name, &tol)) tol *= q[i].scale;
        if (ok) {
            rep_fmt_paired(&p, q[i].unit, df, sizeof df);
            rep_fmt_power(&p, q[i].unit, tol, true, pw, sizeof pw);
        }
        snprintf(np, sizeof np, "%d", ok ? p.npairs : 0);
        const char *row[] = {name,
                             b,
                             c,
                             ok ? df : "n/a (no pairs)",
                             np,
                             ok ? stats_verdict_name(p.verdict) : "n/a",
                             ok ? pw : "n/a"};
        rep_table_row(t, row);
    }
    return t;
}
