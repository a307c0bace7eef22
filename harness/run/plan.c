/* plan: select a file's cells and read the data sets they need (plan.h). */
#include "harness/run/plan.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/run/rundata.h"

/* ---- data sets shared by cells ---- */

VbStatus data_get(DataCache *c, const DataConfig *d, bool quiet, DataEntry **out) {
    char *id = rundata_identity(d);
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->e[i]->identity, id)) {
            free(id);
            *out = c->e[i];
            return VB_OK;
        }
    if (!quiet) fprintf(stderr, "vadbench run: loading data set %s\n", id);
    DataEntry *e = vb_xcalloc(1, sizeof *e);
    VbStatus st = rundata_load(d, &e->ds);
    if (st != VB_OK) {
        free(id);
        free(e);
        return st;
    }
    e->identity = id;
    c->e = vb_xrealloc(c->e, (size_t)(c->n + 1) * sizeof *c->e);
    c->e[c->n++] = e;
    *out = e;
    return VB_OK;
}

void data_free(DataCache *c) {
    for (int i = 0; i < c->n; i++) {
        free(c->e[i]->identity);
        free(c->e[i]->probe_feat);
        dataset_free(&c->e[i]->ds);
        free(c->e[i]);
    }
    free(c->e);
}

/* ---- one file ---- */

void runplan_label(const Experiment *e, const Cell *c, char *buf, size_t n) {
    snprintf(buf, n, "%s/%s/seed%d", e->variant[c->variant], e->holdout[c->holdout].name,
             e->seeds[c->seed]);
}

/* Holdout classes must exist in the data actually read. */
static VbStatus check_holdouts(const char *file, const Experiment *e, const Dataset *ds) {
    for (int h = 0; h < e->nholdouts; h++)
        for (int i = 0; i < e->holdout[h].n; i++) {
            bool found = false;
            for (int c = 0; c < ds->nclasses; c++)
                found |= !strcmp(ds->classes[c], e->holdout[h].classes[i]);
            if (!found)
                return vb_fail_plain(VB_ERR_INPUT,
                                     "%s: holdout '%s': the data set has no class '%s'", file,
                                     e->holdout[h].name, e->holdout[h].classes[i]);
        }
    return VB_OK;
}

/* The cells --only and --shard select (no data needed for either). */
static void select_by_label(const RunnerOptions *o, const Plan *p, bool *sel) {
    for (int i = 0; i < p->ncells; i++) {
        char label[256];
        runplan_label(&p->e, &p->cells[i], label, sizeof label);
        bool ok = !o->only || fnmatch(o->only, label, 0) == 0;
        if (o->shard_n > 0 && i % o->shard_n != o->shard_i) ok = false;
        sel[i] = ok;
    }
}

/* Re-expand the matrix with the digests known so far (NULL: not read). */
static VbStatus expand(Plan *p, const char **dig) {
    experiment_cells_free(p->cells, p->ncells);
    p->cells = NULL;
    p->ncells = 0;
    return experiment_cells(&p->e, dig, &p->cells, &p->ncells);
}

/* Mark the requested hashes that cells with a read data set carry. */
static void mark_found(const RunnerOptions *o, const Plan *p, const bool *sel, const char **dig,
                       bool *found) {
    for (int i = 0; i < p->ncells; i++) {
        if (!sel[i] || !dig[p->cells[i].variant]) continue;
        for (int j = 0; j < o->ncells; j++)
            if (!found[j] && !strcmp(p->cells[i].hash, o->cells[j])) found[j] = true;
    }
}

static bool all_found(const RunnerOptions *o, const bool *found) {
    for (int j = 0; j < o->ncells; j++)
        if (!found[j]) return false;
    return true;
}

/* Read the data set of variant v (and hand it to the wanted variants that
 * share its setting). */
static VbStatus read_variant(const RunnerOptions *o, DataCache *dc, Plan *p, const bool *want,
                             const char **dig, int v) {
    DataEntry *de;
    VB_TRY(data_get(dc, &p->e.vcfg[v].data, o->quiet, &de));
    VB_TRY(check_holdouts(p->e.file, &p->e, &de->ds));
    dig[v] = de->ds.digest;
    char *id = rundata_identity(&p->e.vcfg[v].data);
    for (int w = v + 1; w < p->e.nvariants; w++) {
        if (!want[w] || dig[w]) continue;
        char *idw = rundata_identity(&p->e.vcfg[w].data);
        if (!strcmp(id, idw)) dig[w] = de->ds.digest;
        free(idw);
    }
    free(id);
    return VB_OK;
}

/* The plan's backend can run here, in every variant's precision: checked
 * before any data is read or anything is recorded (a missing GPU is one line
 * and exit status 2, not a failed cell). */
static VbStatus check_backend(const Experiment *e) {
    const KOps *k = kops_get(e->backend);
    if (!k) return VB_ERR_BACKEND;
    for (int v = 0; v < e->nvariants; v++) {
        VbStatus st = k->set_precision(e->vcfg[v].train.precision);
        if (st != VB_OK) {
            char why[512];
            snprintf(why, sizeof why, "%s", vb_errmsg());
            return vb_fail_plain(st, "%s: variant '%s': %s", e->file, e->variant[v], why);
        }
    }
    return k->set_precision(K_PREC_FP32);
}

static VbStatus runplan_one(const char *file, const RunnerOptions *o, DataCache *dc, bool *found,
                            Plan *p) {
    memset(p, 0, sizeof *p);
    VB_TRY(experiment_load(file, &p->e));
    VbStatus st = VB_OK;
    const char **dig = NULL;
    bool *want = NULL, *sel = NULL;
    if (o->backend != RUNNER_BACKEND_AS_WRITTEN) p->e.backend = (KBackend)o->backend;
    if (!o->dry_run) VB_CHECK(check_backend(&p->e));
    int nv = p->e.nvariants;
    dig = vb_xcalloc((size_t)nv, sizeof *dig);
    want = vb_xcalloc((size_t)nv, sizeof *want);
    VB_CHECK(expand(p, dig)); /* the layout; hashes come once data is read */
    sel = vb_xcalloc((size_t)p->ncells, sizeof *sel);
    select_by_label(o, p, sel);
    for (int i = 0; i < p->ncells; i++)
        if (sel[i]) want[p->cells[i].variant] = true;
    for (int v = 0; v < nv; v++) {
        if (!want[v] || dig[v]) continue;
        if (o->ncells > 0 && all_found(o, found)) break;
        VB_CHECK(read_variant(o, dc, p, want, dig, v));
        if (o->ncells > 0) {
            VB_CHECK(expand(p, dig));
            mark_found(o, p, sel, dig, found);
        }
    }
    VB_CHECK(expand(p, dig));
    p->selected = vb_xcalloc((size_t)p->ncells, sizeof(bool));
    p->hashed = vb_xcalloc((size_t)p->ncells, sizeof(bool));
    for (int i = 0; i < p->ncells; i++) {
        p->hashed[i] = dig[p->cells[i].variant] != NULL;
        bool ok = sel[i] && p->hashed[i];
        if (ok && o->ncells > 0) {
            bool match = false;
            for (int j = 0; j < o->ncells; j++) match |= !strcmp(p->cells[i].hash, o->cells[j]);
            ok = match;
        }
        p->selected[i] = ok;
    }
out:
    free(dig), free(want), free(sel);
    if (st != VB_OK) runplan_free(p);
    return st;
}

VbStatus runplan_files(const char *const *files, int nfiles, const RunnerOptions *o, DataCache *dc,
                       Plan *plans) {
    bool *found = vb_xcalloc((size_t)(o->ncells > 0 ? o->ncells : 1), sizeof *found);
    VbStatus st = VB_OK;
    int np = 0;
    for (; np < nfiles; np++) VB_CHECK(runplan_one(files[np], o, dc, found, &plans[np]));
    for (int j = 0; j < o->ncells; j++)
        if (!found[j]) {
            st = vb_fail_plain(VB_ERR_INPUT,
                               "--cell %s: no cell of %s%s has this config hash (the file or its "
                               "data changed since the hash was taken, or --only/--shard leave "
                               "it out)",
                               o->cells[j], files[0], nfiles > 1 ? " and the other files" : "");
            goto out;
        }
out:
    if (st != VB_OK)
        for (int i = 0; i < np; i++) runplan_free(&plans[i]);
    free(found);
    return st;
}

void runplan_free(Plan *p) {
    experiment_cells_free(p->cells, p->ncells);
    free(p->selected);
    free(p->hashed);
    experiment_free(&p->e);
    memset(p, 0, sizeof *p);
}

void runplan_print(const Plan *p) {
    printf("experiment %s (%s): %d variants x %d holdouts x %d seeds = %d cells\n", p->e.name,
           p->e.file, p->e.nvariants, p->e.nholdouts, p->e.nseeds, p->ncells);
    for (int i = 0; i < p->ncells; i++) {
        char label[256];
        runplan_label(&p->e, &p->cells[i], label, sizeof label);
        printf("  %s %-40s %s\n", p->selected[i] ? "run " : "skip", label,
               p->hashed[i] ? p->cells[i].hash : "- (data set not read)");
    }
}
