/* check: candidate runs against a pinned baseline. See check.h. */
#include "harness/report/check.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/experiment/experiment.h"

const char *check_verdict_name(CheckVerdict v) {
    switch (v) {
    case CHECK_OK: return "ok";
    case CHECK_IMPROVED: return "improved";
    case CHECK_REGRESSION: return "REGRESSION";
    case CHECK_UNGATED: return "not gated";
    }
    return "?";
}

VbStatus check_parse_tolerance(const char *text, RepTol *out) {
    const char *eq = strrchr(text, '=');
    if (!eq || eq == text)
        return VB_FAIL(VB_ERR_USAGE,
                       "--tolerance expects METRIC=ABS (e.g. test.accuracy=0.02), "
                       "got '%s'",
                       text);
    double v = -1;
    if (!vb_text_number(eq + 1, &v, NULL) || !vb_valid_tolerance(v))
        return VB_FAIL(VB_ERR_USAGE,
                       "--tolerance %s: the tolerance must be a non-negative "
                       "number",
                       text);
    if ((size_t)(eq - text) >= sizeof out->metric)
        return VB_FAIL(VB_ERR_USAGE, "--tolerance: metric name too long in '%s'", text);
    snprintf(out->metric, sizeof out->metric, "%.*s", (int)(eq - text), text);
    out->tol = v;
    return VB_OK;
}

static CheckRow *new_row(CheckResult *r) {
    r->rows = vb_xrealloc(r->rows, (size_t)(r->nrows + 1) * sizeof *r->rows);
    CheckRow *row = &r->rows[r->nrows++];
    memset(row, 0, sizeof *row);
    row->p = row->p_faster = row->sd = row->mde = NAN;
    return row;
}

/* Mean of (split, key) over all runs of d; every run must have it. The sum
 * of squared deviations goes to *ss. */
static VbStatus mean_over(const RepData *d, const char *side, const char *split, const char *key,
                          double *mean, double *ss) {
    double s = 0, q = 0;
    for (int i = 0; i < d->nruns; i++) {
        double v;
        if (!rep_final(&d->runs[i], split, key, &v)) {
            char label[300];
            rep_run_label(&d->runs[i], label, sizeof label);
            return VB_FAIL(VB_ERR_INPUT, "%s: %s run %lld (%s) has no final metric %s/%s",
                           d->db_path, side, (long long)d->runs[i].run.id, label, split, key);
        }
        s += v, q += v * v;
    }
    *mean = s / d->nruns;
    double dev = q - s * s / d->nruns;
    *ss = dev > 0 ? dev : 0;
    return VB_OK;
}

/* The tolerance of (split, key): a command-line one first, then the file's. */
static bool find_tol(const CheckOptions *o, const RepData *c, const char *split, const char *key,
                     double *tol) {
    for (int i = 0; i < o->ntols; i++) {
        char s[32], k[REP_NAME];
        rep_metric_split(c, o->tols[i].metric, s, sizeof s, k, sizeof k);
        if (!strcmp(s, split) && !strcmp(k, key)) {
            *tol = o->tols[i].tol;
            return true;
        }
    }
    char spec[REP_NAME + 40];
    snprintf(spec, sizeof spec, "%s/%s", split, key);
    return rep_tolerance(c, spec, tol);
}

typedef struct MetricList {
    char (*spec)[REP_NAME + 40];
    int n;
} MetricList;

static void add_metric(const RepData *c, MetricList *l, const char *spec) {
    char s[32], k[REP_NAME], full[REP_NAME + 40];
    rep_metric_split(c, spec, s, sizeof s, k, sizeof k);
    snprintf(full, sizeof full, "%s/%s", s, k);
    for (int i = 0; i < l->n; i++)
        if (!strcmp(l->spec[i], full)) return;
    l->spec = vb_xrealloc(l->spec, (size_t)(l->n + 1) * sizeof *l->spec);
    snprintf(l->spec[l->n++], sizeof *l->spec, "%s", full);
}

static VbStatus check_metrics(const CheckOptions *o, const RepData *b, const RepData *c,
                              CheckResult *r) {
    MetricList l = {0};
    if (c->cmp.from_file) {
        for (int i = 0; i < c->cmp.nmetrics; i++) add_metric(c, &l, c->cmp.metrics[i]);
        for (int i = 0; i < c->cmp.ntol; i++) add_metric(c, &l, c->cmp.tol[i].metric);
    }
    for (int i = 0; i < o->ntols; i++) add_metric(c, &l, o->tols[i].metric);
    VbStatus s = VB_OK;
    for (int i = 0; i < l.n && s == VB_OK; i++) {
        char split[32], key[REP_NAME];
        rep_metric_split(c, l.spec[i], split, sizeof split, key, sizeof key);
        CheckRow *row = new_row(r);
        snprintf(row->metric, sizeof row->metric, "%s", l.spec[i]);
        row->dir = rep_direction(split, key);
        double ssb, ssc;
        if ((s = mean_over(b, "baseline", split, key, &row->base, &ssb)) != VB_OK) break;
        if ((s = mean_over(c, "candidate", split, key, &row->cand, &ssc)) != VB_OK) break;
        row->nbase = b->nruns, row->ncand = c->nruns;
        row->change = row->cand - row->base;
        int df = row->nbase + row->ncand - 2;
        row->sd = df > 0 ? sqrt((ssb + ssc) / df) : NAN;
        row->mde = stats_mde_two_sample(row->sd, (size_t)row->nbase, (size_t)row->ncand,
                                        STATS_POWER_ALPHA, STATS_POWER);
        row->has_limit = find_tol(o, c, split, key, &row->limit);
        if (row->has_limit && row->limit > 0 && !(row->mde <= row->limit))
            row->runs_needed = stats_n_two_sample(row->sd, row->limit, STATS_POWER_ALPHA,
                                                  STATS_POWER, STATS_N_MAX);
        if (!row->has_limit) {
            row->verdict = CHECK_UNGATED;
            continue;
        }
        double worse = row->dir == STATS_HIGHER_IS_BETTER ? -row->change : row->change;
        row->verdict = worse > row->limit + CHECK_EPS    ? CHECK_REGRESSION
                       : -worse > row->limit + CHECK_EPS ? CHECK_IMPROVED
                                                         : CHECK_OK;
    }
    free(l.spec);
    return s;
}

/* Pool the raw samples of component at batch over all runs of d. */
static VbStatus pool(Store *st, const RepData *d, const char *component, int batch, double **x,
                     size_t *n) {
    *x = NULL;
    *n = 0;
    for (int i = 0; i < d->nruns; i++) {
        double *ms;
        int m;
        VB_TRY(store_latency_samples(st, d->runs[i].run.id, component, batch, &ms, &m));
        *x = vb_xrealloc(*x, (*n + (size_t)m) * sizeof **x);
        memcpy(*x + *n, ms, (size_t)m * sizeof *ms);
        *n += (size_t)m;
        free(ms);
    }
    return VB_OK;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Batch sizes of `model` latency that every run of both sides has. */
static int common_batches(const RepData *b, const RepData *c, int *out, int cap) {
    int n = 0;
    const RepRun *r0 = &b->runs[0];
    for (int i = 0; i < r0->nlatency && n < cap; i++) {
        const StoreLatency *l = &r0->latency[i];
        if (strcmp(l->component, "model") != 0) continue;
        bool all = true;
        for (int k = 0; k < b->nruns && all; k++)
            all = rep_latency(&b->runs[k], "model", l->batch) != NULL;
        for (int k = 0; k < c->nruns && all; k++)
            all = rep_latency(&c->runs[k], "model", l->batch) != NULL;
        if (all) out[n++] = l->batch;
    }
    for (int i = 1; i < n; i++) /* ascending */
        for (int j = i; j > 0 && out[j] < out[j - 1]; j--) {
            int t = out[j];
            out[j] = out[j - 1], out[j - 1] = t;
        }
    return n;
}

static VbStatus missing_model_latency(const RepData *b, const RepData *c) {
    for (int side = 0; side < 2; side++) {
        const RepData *d = side ? c : b;
        for (int i = 0; i < d->nruns; i++)
            if (!rep_latency(&d->runs[i], "model", 1)) {
                char label[300];
                rep_run_label(&d->runs[i], label, sizeof label);
                return VB_FAIL(VB_ERR_INPUT,
                               "%s: %s run %lld (%s) has no latency samples of the whole model "
                               "(`model`) at batch 1 (eval.latency_samples was 0?)",
                               d->db_path, side ? "candidate" : "baseline",
                               (long long)d->runs[i].run.id, label);
            }
    }
    return VB_OK;
}

static VbStatus check_latency(Store *st, const RepData *b, const RepData *c, CheckResult *r) {
    VB_TRY(missing_model_latency(b, c));
    int batches[16], nb = common_batches(b, c, batches, 16);
    for (int k = 0; k < nb; k++) {
        double *xb, *xc;
        size_t nxb, nxc;
        VB_TRY(pool(st, b, "model", batches[k], &xb, &nxb));
        VbStatus s = pool(st, c, "model", batches[k], &xc, &nxc);
        MwuResult slower, faster;
        if (s == VB_OK) s = stats_latency_slower(xb, nxb, xc, nxc, &slower);
        if (s == VB_OK) s = stats_mann_whitney(xc, nxc, xb, nxb, MWU_LESS, &faster);
        if (s == VB_OK) {
            qsort(xb, nxb, sizeof *xb, cmp_double);
            qsort(xc, nxc, sizeof *xc, cmp_double);
            const double q[2] = {0.5, 0.99};
            for (int j = 0; j < 2; j++) {
                CheckRow *row = new_row(r);
                snprintf(row->metric, sizeof row->metric, "latency model batch %d p%s ms",
                         batches[k], j ? "99" : "50");
                row->latency = true;
                row->dir = STATS_LOWER_IS_BETTER;
                row->base = store_percentile(xb, (int)nxb, q[j]);
                row->cand = store_percentile(xc, (int)nxc, q[j]);
                row->nbase = (int)nxb, row->ncand = (int)nxc;
                row->change = row->base > 0 ? row->cand / row->base : INFINITY;
                row->has_limit = true;
                row->limit = r->latency_factor;
                row->p = slower.p;
                row->p_faster = faster.p;
                if (row->change > r->latency_factor && slower.p < r->alpha)
                    row->verdict = CHECK_REGRESSION;
                else if (row->change * r->latency_factor < 1.0 && faster.p < r->alpha)
                    row->verdict = CHECK_IMPROVED;
                else row->verdict = CHECK_OK;
            }
        }
        free(xb), free(xc);
        VB_TRY(s);
    }
    return VB_OK;
}

static void describe(const RepData *d, const char *what, char *buf, size_t size, int64_t **ids,
                     int *n) {
    *ids = vb_xmalloc((size_t)(d->nruns ? d->nruns : 1) * sizeof **ids);
    *n = d->nruns;
    int len = snprintf(buf, size, "%s", what);
    for (int i = 0; i < d->nruns; i++) {
        (*ids)[i] = d->runs[i].run.id;
        if (len < (int)size)
            len += snprintf(buf + len, size - (size_t)len, "%s%lld", i ? "," : " runs ",
                            (long long)d->runs[i].run.id);
    }
    if (len < (int)size) len += snprintf(buf + len, size - (size_t)len, " (");
    for (int v = 0; v < d->nvariants && len < (int)size; v++)
        len += snprintf(buf + len, size - (size_t)len, "%s%s", v ? ", " : "", d->variants[v].name);
    if (len < (int)size) snprintf(buf + len, size - (size_t)len, ")");
}

VbStatus check_run(Store *st, const CheckOptions *o, CheckResult *r) {
    memset(r, 0, sizeof *r);
    snprintf(r->baseline, sizeof r->baseline, "%s", o->baseline);
    r->alpha = CHECK_ALPHA;
    int64_t *ids;
    int n;
    VB_TRY(store_baseline_get(st, o->baseline, &ids, &n));
    if (n == 0)
        return VB_FAIL(VB_ERR_INPUT,
                       "%s: no baseline named '%s' (pin one with `vadbench baseline "
                       "pin %s --experiment X`)",
                       store_path(st), o->baseline, o->baseline);
    RepData b, c;
    memset(&c, 0, sizeof c);
    VbStatus s = rep_load_runs(st, ids, n, false, &b);
    free(ids);
    if (s != VB_OK) {
        s = vb_wrap(s, "baseline '%s': ", o->baseline);
        rep_free(&b);
        return s;
    }
    if (o->experiment) s = rep_load_experiment(st, o->experiment, o->variant, false, &c);
    else s = rep_load_runs(st, o->runs, o->nruns, false, &c);
    if (s == VB_OK) {
        r->latency_factor = o->latency_factor > 0 ? o->latency_factor
                            : c.cmp.from_file     ? c.cmp.latency_factor
                                                  : CHECK_DEFAULT_FACTOR;
        char what[400];
        snprintf(what, sizeof what, "baseline '%s':", o->baseline);
        describe(&b, what, r->base_desc, sizeof r->base_desc, &r->base_ids, &r->nbase);
        if (o->experiment)
            snprintf(what, sizeof what, "candidate: experiment %s%s%s:", o->experiment,
                     o->variant ? " variant " : "", o->variant ? o->variant : "");
        else snprintf(what, sizeof what, "candidate:");
        describe(&c, what, r->cand_desc, sizeof r->cand_desc, &r->cand_ids, &r->ncand);
        const RepData *sides[2] = {&b, &c};
        rep_numerics_warning(sides, 2, r->warning, sizeof r->warning);
        s = check_metrics(o, &b, &c, r);
    }
    if (s == VB_OK) s = check_latency(st, &b, &c, r);
    for (int i = 0; i < r->nrows; i++) r->regressions += r->rows[i].verdict == CHECK_REGRESSION;
    rep_free(&b);
    rep_free(&c);
    if (s != VB_OK) check_result_free(r);
    return s;
}

void check_result_free(CheckResult *r) {
    free(r->rows);
    free(r->base_ids);
    free(r->cand_ids);
    r->rows = NULL, r->base_ids = r->cand_ids = NULL;
    r->nrows = r->nbase = r->ncand = 0;
}

VbStatus check_pin_baseline(Store *st, const char *name, const char *experiment,
                            const char *variant, int64_t **ids, int *n) {
    if (ids) *ids = NULL;
    *n = 0;
    if (!name || !*name) return VB_FAIL(VB_ERR_INPUT, "a baseline needs a name");
    RepData d;
    VbStatus s = rep_load_experiment(st, experiment, variant, false, &d);
    if (s == VB_OK) {
        int64_t *x = vb_xmalloc((size_t)d.nruns * sizeof *x);
        for (int i = 0; i < d.nruns; i++) x[i] = d.runs[i].run.id;
        s = store_baseline_pin(st, name, x, d.nruns);
        if (s == VB_OK) *n = d.nruns;
        if (s == VB_OK && ids) *ids = x;
        else free(x);
    }
    rep_free(&d);
    return s;
}
