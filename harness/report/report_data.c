/* report_data: gathering an experiment's (or a run list's) results from the
 * store for the report and check commands. See report_data.h. */
#include "harness/report/report_data.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/experiment/experiment.h"
#include "harness/run/run.h"

/* ---- runs ------------------------------------------------------------------ */

/* Settings the report needs from a run's resolved config. */
static void read_config(RepRun *r) {
    r->clip_frames = 0;
    r->has_vae = false;
    snprintf(r->normal_class, sizeof r->normal_class, "%s", "");
    json_error_t e;
    json_t *c = r->run.config_json ? json_loads(r->run.config_json, 0, &e) : NULL;
    if (!c) return;
    json_t *fr = json_object_get(json_object_get(json_object_get(c, "dataset"), "clip"), "frames");
    if (json_is_integer(fr)) r->clip_frames = (int)json_integer_value(fr);
    const char *lvl = json_string_value(
        json_object_get(json_object_get(json_object_get(c, "model"), "vae"), "level"));
    r->has_vae = lvl && strcmp(lvl, "none") != 0;
    const char *nc =
        json_string_value(json_object_get(json_object_get(c, "dataset"), "normal_class"));
    if (nc) snprintf(r->normal_class, sizeof r->normal_class, "%s", nc);
    json_decref(c);
}

/* Load metrics, timings and latency of r->run. */
static VbStatus load_run(Store *st, RepRun *r, bool curves) {
    VB_TRY(store_run_metrics(st, r->run.id, !curves, &r->metrics));
    VB_TRY(store_run_timings(st, r->run.id, &r->timings, &r->ntimings));
    VB_TRY(store_run_latency(st, r->run.id, &r->latency, &r->nlatency));
    read_config(r);
    return VB_OK;
}

static void add_to_variant(RepData *d, int run_index) {
    const char *name = d->runs[run_index].run.variant ? d->runs[run_index].run.variant : "";
    int v = rep_variant_index(d, name);
    if (v < 0) {
        d->variants = vb_xrealloc(d->variants, (size_t)(d->nvariants + 1) * sizeof *d->variants);
        v = d->nvariants++;
        memset(&d->variants[v], 0, sizeof d->variants[v]);
        snprintf(d->variants[v].name, REP_NAME, "%s", name);
    }
    RepVariant *rv = &d->variants[v];
    rv->idx = vb_xrealloc(rv->idx, (size_t)(rv->n + 1) * sizeof *rv->idx);
    rv->idx[rv->n++] = run_index;
}

static bool same_cell(const StoreRun *a, const StoreRun *b) {
    return a->seed == b->seed &&
           strcmp(a->variant ? a->variant : "", b->variant ? b->variant : "") == 0 &&
           strcmp(a->holdout ? a->holdout : "", b->holdout ? b->holdout : "") == 0;
}

/* Move done runs of `l` (of `variant` when set) into d->runs, newest per cell. */
static void take_runs(RepData *d, StoreRunList *l, const char *variant) {
    d->runs = vb_xcalloc((size_t)(l->n ? l->n : 1), sizeof *d->runs);
    for (int i = 0; i < l->n; i++) {
        StoreRun *r = &l->runs[i];
        if (variant && strcmp(r->variant ? r->variant : "", variant) != 0) continue;
        if (r->status != STORE_DONE) {
            d->n_not_done++;
            continue;
        }
        int slot = d->nruns;
        for (int j = 0; j < d->nruns; j++)
            if (same_cell(&d->runs[j].run, r)) slot = j;
        if (slot < d->nruns) {
            store_run_free(&d->runs[slot].run);
            d->n_superseded++;
        } else {
            d->nruns++;
        }
        d->runs[slot].run = *r;
        memset(r, 0, sizeof *r);
    }
}

/* Group runs by variant (baseline first when it has runs). */
static void group(RepData *d) {
    int b = -1;
    for (int i = 0; i < d->nruns && *d->cmp.baseline; i++)
        if (strcmp(d->runs[i].run.variant ? d->runs[i].run.variant : "", d->cmp.baseline) == 0) {
            b = i;
            break;
        }
    if (b >= 0) add_to_variant(d, b);
    for (int i = 0; i < d->nruns; i++)
        if (i != b) add_to_variant(d, i);
}

/* The score named by the compare metrics (fpr.S, detect.S.*, auroc.S.*). */
static void pick_score(RepData *d) {
    snprintf(d->score, sizeof d->score, "fused");
    for (int m = 0; m < d->cmp.nmetrics; m++) {
        char split[32], key[REP_NAME];
        rep_metric_split(d, d->cmp.metrics[m], split, sizeof split, key, sizeof key);
        const char *pre[] = {"fpr.", "detect.", "auroc.", "ap."};
        for (int p = 0; p < 4; p++) {
            if (strncmp(key, pre[p], strlen(pre[p])) != 0) continue;
            const char *s = key + strlen(pre[p]);
            for (int k = 0; k < EVAL_NSCORES; k++) {
                size_t n = strlen(eval_score_names[k]);
                if (strncmp(s, eval_score_names[k], n) == 0 && (s[n] == 0 || s[n] == '.')) {
                    snprintf(d->score, sizeof d->score, "%s", eval_score_names[k]);
                    return;
                }
            }
        }
    }
}

/* Compare settings from the recorded experiment file, else defaults. */
static void load_compare(RepData *d) {
    RepCompare *c = &d->cmp;
    c->latency_factor = 1.5;
    if (!d->file || !*d->file) {
        snprintf(c->note, sizeof c->note,
                 "the store records no experiment file for '%s': default compare settings",
                 d->experiment);
        return;
    }
    if (access(d->file, R_OK) != 0) {
        snprintf(c->note, sizeof c->note,
                 "experiment file %s (recorded in the store) is not readable from here: default "
                 "compare settings",
                 d->file);
        return;
    }
    Experiment e;
    if (experiment_load(d->file, &e) != VB_OK) {
        snprintf(c->note, sizeof c->note,
                 "experiment file %s no longer loads (%s): default "
                 "compare settings",
                 d->file, vb_errmsg());
        vb_clear_error();
        return;
    }
    if (strcmp(e.name, d->experiment) != 0) {
        snprintf(c->note, sizeof c->note,
                 "experiment file %s now names experiment '%s', not "
                 "'%s': default compare settings",
                 d->file, e.name, d->experiment);
        experiment_free(&e);
        return;
    }
    snprintf(c->baseline, sizeof c->baseline, "%s", e.baseline);
    c->nmetrics = e.nmetrics;
    c->metrics = vb_xcalloc((size_t)(e.nmetrics ? e.nmetrics : 1), sizeof *c->metrics);
    for (int i = 0; i < e.nmetrics; i++) snprintf(c->metrics[i], REP_NAME, "%s", e.metrics[i]);
    c->nclaims = e.nclaims;
    c->claims = vb_xcalloc((size_t)(e.nclaims ? e.nclaims : 1), sizeof *c->claims);
    if (e.nclaims) /* e.claims is NULL without compare.claims: memcpy may not be given NULL */
        memcpy(c->claims, e.claims, (size_t)e.nclaims * sizeof *c->claims);
    c->ntol = e.ntol;
    c->tol = vb_xcalloc((size_t)(e.ntol ? e.ntol : 1), sizeof *c->tol);
    for (int i = 0; i < e.ntol; i++) {
        snprintf(c->tol[i].metric, REP_NAME, "%s", e.tol[i].metric);
        c->tol[i].tol = e.tol[i].tol;
    }
    c->latency_factor = e.latency_factor;
    c->from_file = true;
    experiment_free(&e);
}

static VbStatus finish_load(Store *st, RepData *d, bool curves) {
    for (int i = 0; i < d->nruns; i++) VB_TRY(load_run(st, &d->runs[i], curves));
    group(d);
    if (!*d->cmp.baseline && d->nvariants > 0)
        snprintf(d->cmp.baseline, sizeof d->cmp.baseline, "%s", d->variants[0].name);
    pick_score(d);
    return VB_OK;
}

VbStatus rep_load_experiment(Store *st, const char *name, const char *variant, bool curves,
                             RepData *d) {
    memset(d, 0, sizeof *d);
    snprintf(d->experiment, sizeof d->experiment, "%s", name);
    snprintf(d->db_path, sizeof d->db_path, "%s", store_path(st));
    int64_t eid;
    VB_TRY(store_find_experiment(st, name, &eid));
    if (!eid) {
        char *names;
        VB_TRY(store_experiment_names(st, &names));
        VbStatus s =
            VB_FAIL(VB_ERR_INPUT, "%s: no experiment named '%s' (%s%s)", d->db_path, name,
                    *names ? "experiments here: " : "the database holds no experiments", names);
        free(names);
        return s;
    }
    bool found;
    VB_TRY(store_experiment_info(st, name, &d->description, &d->file, &found));
    StoreRunFilter f = {.experiment = name};
    StoreRunList l;
    VB_TRY(store_list_runs(st, &f, &l));
    int counts[4] = {0};
    for (int i = 0; i < l.n; i++)
        if (!variant || strcmp(l.runs[i].variant ? l.runs[i].variant : "", variant) == 0)
            counts[l.runs[i].status]++;
    take_runs(d, &l, variant);
    store_run_list_free(&l);
    if (d->nruns == 0) {
        char what[REP_NAME * 2 + 16];
        snprintf(what, sizeof what, "'%s'%s%s", name, variant ? " variant " : "",
                 variant ? variant : "");
        return VB_FAIL(VB_ERR_INPUT,
                       "%s: experiment %s has no done runs (%d queued, %d running, %d failed): "
                       "run it first with `vadbench run FILE`",
                       d->db_path, what, counts[STORE_QUEUED], counts[STORE_RUNNING],
                       counts[STORE_FAILED]);
    }
    load_compare(d);
    return finish_load(st, d, curves);
}

VbStatus rep_load_runs(Store *st, const int64_t *ids, int n, bool curves, RepData *d) {
    memset(d, 0, sizeof *d);
    snprintf(d->db_path, sizeof d->db_path, "%s", store_path(st));
    d->description = vb_xstrdup("");
    d->file = vb_xstrdup("");
    d->cmp.latency_factor = 1.5;
    if (n <= 0) return VB_FAIL(VB_ERR_INPUT, "%s: no runs given", d->db_path);
    d->runs = vb_xcalloc((size_t)n, sizeof *d->runs);
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < i; j++)
            if (ids[j] == ids[i])
                return VB_FAIL(VB_ERR_INPUT, "%s: run %lld is listed twice", d->db_path,
                               (long long)ids[i]);
        StoreRun r;
        VbStatus s = store_get_run(st, ids[i], &r);
        if (s != VB_OK) return vb_wrap(s, "%s: ", d->db_path);
        if (r.status != STORE_DONE) {
            s = VB_FAIL(VB_ERR_INPUT, "%s: run %lld is %s, not done", d->db_path, (long long)ids[i],
                        store_status_name(r.status));
            store_run_free(&r);
            return s;
        }
        d->runs[d->nruns++].run = r;
    }
    return finish_load(st, d, curves);
}

void rep_free(RepData *d) {
    for (int i = 0; i < d->nruns; i++) {
        RepRun *r = &d->runs[i];
        store_run_free(&r->run);
        store_metric_list_free(&r->metrics);
        store_timings_free(r->timings, r->ntimings);
        store_latency_free(r->latency, r->nlatency);
    }
    free(d->runs);
    for (int v = 0; v < d->nvariants; v++) free(d->variants[v].idx);
    free(d->variants);
    free(d->cmp.metrics);
    free(d->cmp.tol);
    free(d->cmp.claims);
    free(d->description);
    free(d->file);
    memset(d, 0, sizeof *d);
}

/* ---- lookups ------------------------------------------------------------------ */

static bool is_split(const RepData *d, const char *s) {
    const char *known[] = {"test", "val", "train", "memory", "model"};
    for (int i = 0; i < 5; i++)
        if (strcmp(s, known[i]) == 0) return true;
    for (int i = 0; d && i < d->nruns; i++)
        for (int j = 0; j < d->runs[i].metrics.n; j++)
            if (strcmp(d->runs[i].metrics.rows[j].split, s) == 0) return true;
    return false;
}

void rep_metric_split(const RepData *d, const char *spec, char *split, size_t nsplit, char *key,
                      size_t nkey) {
    const char *slash = strchr(spec, '/');
    if (slash) {
        snprintf(split, nsplit, "%.*s", (int)(slash - spec), spec);
        snprintf(key, nkey, "%s", slash + 1);
        return;
    }
    const char *dot = strchr(spec, '.');
    if (dot) {
        char first[64];
        snprintf(first, sizeof first, "%.*s", (int)(dot - spec), spec);
        if (is_split(d, first)) {
            snprintf(split, nsplit, "%s", first);
            snprintf(key, nkey, "%s", dot + 1);
            return;
        }
    }
    snprintf(split, nsplit, "test");
    snprintf(key, nkey, "%s", spec);
}

bool rep_final(const RepRun *r, const char *split, const char *key, double *v) {
    for (int i = 0; i < r->metrics.n; i++) {
        const StoreMetric *m = &r->metrics.rows[i];
        if (m->has_step || strcmp(m->key, key) != 0 || strcmp(m->split, split) != 0) continue;
        if (isnan(m->value)) return false;
        *v = m->value;
        return true;
    }
    return false;
}

void rep_curve(const RepRun *r, const char *split, const char *key, int64_t **steps,
               double **values, int *n) {
    *steps = NULL;
    *values = NULL;
    *n = 0;
    int cap = 0;
    for (int i = 0; i < r->metrics.n; i++) {
        const StoreMetric *m = &r->metrics.rows[i];
        if (!m->has_step || strcmp(m->key, key) != 0 || strcmp(m->split, split) != 0) continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            *steps = vb_xrealloc(*steps, (size_t)cap * sizeof **steps);
            *values = vb_xrealloc(*values, (size_t)cap * sizeof **values);
        }
        (*steps)[*n] = m->step;
        (*values)[(*n)++] = m->value;
    }
}

const StoreLatency *rep_latency(const RepRun *r, const char *component, int batch) {
    for (int i = 0; i < r->nlatency; i++)
        if (r->latency[i].batch == batch && strcmp(r->latency[i].component, component) == 0)
            return &r->latency[i];
    return NULL;
}

int rep_variant_index(const RepData *d, const char *name) {
    for (int v = 0; v < d->nvariants; v++)
        if (strcmp(d->variants[v].name, name) == 0) return v;
    return -1;
}

StatsDirection rep_direction(const char *split, const char *key) {
    if (strcmp(split, "memory") == 0 || strcmp(split, "model") == 0) return STATS_LOWER_IS_BETTER;
    if (strstr(key, "loss") || strstr(key, "seconds") || strstr(key, "latency"))
        return STATS_LOWER_IS_BETTER;
    const char *k = strncmp(key, "tta.", 4) == 0 ? key + 4 : key;
    if (strncmp(k, "fpr", 3) == 0) return STATS_LOWER_IS_BETTER;
    return STATS_HIGHER_IS_BETTER;
}

bool rep_tolerance(const RepData *d, const char *spec, double *tol) {
    char s1[32], k1[REP_NAME], s2[32], k2[REP_NAME];
    rep_metric_split(d, spec, s1, sizeof s1, k1, sizeof k1);
    for (int i = 0; i < d->cmp.ntol; i++) {
        rep_metric_split(d, d->cmp.tol[i].metric, s2, sizeof s2, k2, sizeof k2);
        if (strcmp(s1, s2) == 0 && strcmp(k1, k2) == 0) {
            *tol = d->cmp.tol[i].tol;
            return true;
        }
    }
    return false;
}

void rep_run_label(const RepRun *r, char *buf, size_t size) {
    const StoreRun *x = &r->run;
    snprintf(buf, size, "%s seed %lld%s%s", x->variant ? x->variant : "?", (long long)x->seed,
             x->holdout && *x->holdout ? " holdout " : "", x->holdout ? x->holdout : "");
}

bool rep_numerics_warning(const RepData *const *sets, int nsets, char *msg, size_t size) {
    enum { MAXV = 16 };
    int vers[MAXV], nv = 0;
    msg[0] = 0;
    for (int s = 0; s < nsets; s++)
        for (int i = 0; i < sets[s]->nruns; i++) {
            int v = sets[s]->runs[i].run.numerics, k = 0;
            while (k < nv && vers[k] != v) k++;
            if (k == nv && nv < MAXV) vers[nv++] = v;
        }
    if (nv <= 1) return false;
    int len = snprintf(msg, size,
                       "the runs compared were computed with different CPU numerics versions "
                       "(their differences may be numerical, not experimental):");
    for (int k = 0; k < nv && len < (int)size; k++) {
        if (vers[k] > 0)
            len += snprintf(msg + len, size - (size_t)len, " %sversion %d (runs", k ? ";" : "",
                            vers[k]);
        else len += snprintf(msg + len, size - (size_t)len, " %sunrecorded (runs", k ? ";" : "");
        int shown = 0;
        for (int s = 0; s < nsets; s++)
            for (int i = 0; i < sets[s]->nruns && len < (int)size; i++)
                if (sets[s]->runs[i].run.numerics == vers[k] && shown++ < 8)
                    len += snprintf(msg + len, size - (size_t)len, " %lld",
                                    (long long)sets[s]->runs[i].run.id);
        if (shown > 8 && len < (int)size)
            len += snprintf(msg + len, size - (size_t)len, " and %d more", shown - 8);
        if (len < (int)size) len += snprintf(msg + len, size - (size_t)len, ")");
    }
    return true;
}
