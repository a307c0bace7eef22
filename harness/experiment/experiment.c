/* experiment: parse, validate and expand experiment files. */
#include "harness/experiment/experiment.h"

#include <libfyaml.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/fmnist.h"
#include "datasets/synth.h"

int experiment_known_classes(const DataConfig *d, const char *const **names) {
    if (d->source == DATA_FASHION_MNIST) {
        *names = fmnist_class_names;
        return FMNIST_NCLASSES;
    }
    *names = synth_class_names;
    return SYNTH_NCLASSES;
}

/* Apply a mapping of section overrides: keys "section.a.b" or nested
 * "section: {a: {b: v}}". */
static VbStatus apply_overrides(const char *file, struct fy_node *map, RunConfig *rc,
                                bool allow_extends) {
    void *it = NULL;
    struct fy_node_pair *pair;
    while ((pair = fy_node_mapping_iterate(map, &it))) {
        struct fy_node *kn = fy_node_pair_key(pair), *vn = fy_node_pair_value(pair);
        const char *k = cfg_scalar(kn);
        if (!k) return cfg_fail_at(file, kn, "keys must be plain words");
        if (allow_extends && !strcmp(k, "extends")) continue;
        char sec[32];
        const char *dot = strchr(k, '.');
        snprintf(sec, sizeof sec, "%.*s", dot ? (int)(dot - k) : (int)strlen(k), k);
        void *obj;
        const CfgSchema *s = schema_section(sec, rc, &obj);
        if (!s)
            return cfg_fail_at(file, kn,
                               "unknown key '%s' (overrides start with model., train., eval. or "
                               "dataset.)",
                               k);
        if (dot) VB_TRY(cfg_set(s, file, kn, dot + 1, vn, obj));
        else if (vn && fy_node_is_mapping(vn)) VB_TRY(cfg_read(s, file, vn, obj));
        else return cfg_fail_at(file, kn, "'%s' needs a mapping of %s settings", k, sec);
    }
    return VB_OK;
}

static VbStatus resolve_variant(const char *file, struct fy_node *vars, const char *name,
                                const RunConfig *base, RunConfig *out, int depth,
                                struct fy_node *ref) {
    struct fy_node *v = fy_node_mapping_lookup_by_string(vars, name, FY_NT);
    if (!v) return cfg_fail_at(file, ref, "variant '%s' is not defined under `variants:`", name);
    if (depth > 32)
        return cfg_fail_at(file, ref, "`extends` forms a cycle through variant '%s'", name);
    if (fy_node_is_scalar(v) &&
        (!cfg_scalar(v)[0] || !strcmp(cfg_scalar(v), "~") || !strcmp(cfg_scalar(v), "null"))) {
        *out = *base; /* `name:` with no overrides */
        return VB_OK;
    }
    if (!fy_node_is_mapping(v))
        return cfg_fail_at(file, v, "variant '%s': expected a mapping", name);
    struct fy_node *ext = fy_node_mapping_lookup_by_string(v, "extends", FY_NT);
    if (ext) {
        if (!cfg_scalar(ext)) return cfg_fail_at(file, ext, "extends expects a variant name");
        VB_TRY(resolve_variant(file, vars, cfg_scalar(ext), base, out, depth + 1, ext));
    } else {
        *out = *base;
    }
    return apply_overrides(file, v, out, true);
}

static VbStatus parse_holdouts(Experiment *e, const char *file, struct fy_node *h,
                               const DataConfig *d) {
    const char *const *names;
    int nn = experiment_known_classes(d, &names);
    bool ucf_like = d->source != DATA_FASHION_MNIST;
    const char *normal = d->normal_class;
    if (!ucf_like && !strcmp(normal, "NormalVideos")) normal = "T-shirt_top";
    if (!h) {
        e->nholdouts = 1;
        e->holdout = vb_xcalloc(1, sizeof *e->holdout);
        snprintf(e->holdout[0].name, EXP_NAME, "none");
        return VB_OK;
    }
    if (cfg_scalar(h) && !strcmp(cfg_scalar(h), "leave_one_out")) {
        e->holdout = vb_xcalloc((size_t)nn, sizeof *e->holdout);
        for (int i = 0; i < nn; i++) {
            if (!strcmp(names[i], normal)) continue;
            Holdout *o = &e->holdout[e->nholdouts++];
            snprintf(o->name, EXP_NAME, "without_%s", names[i]);
            o->n = 1;
            snprintf(o->classes[0], EXP_NAME, "%s", names[i]);
        }
        return VB_OK;
    }
    if (!fy_node_is_sequence(h))
        return cfg_fail_at(file, h,
                           "holdouts: expected a list of {name, classes} or leave_one_out");
    int cnt = fy_node_sequence_item_count(h);
    e->holdout = vb_xcalloc((size_t)(cnt ? cnt : 1), sizeof *e->holdout);
    void *it = NULL;
    struct fy_node *item;
    while ((item = fy_node_sequence_iterate(h, &it))) {
        Holdout *o = &e->holdout[e->nholdouts];
        if (!fy_node_is_mapping(item))
            return cfg_fail_at(file, item, "holdouts: each entry is {name: ..., classes: [...]}");
        struct fy_node *nm = fy_node_mapping_lookup_by_string(item, "name", FY_NT);
        struct fy_node *cl = fy_node_mapping_lookup_by_string(item, "classes", FY_NT);
        void *it2 = NULL;
        struct fy_node_pair *pr;
        while ((pr = fy_node_mapping_iterate(item, &it2))) {
            const char *k = cfg_scalar(fy_node_pair_key(pr));
            if (!k || (strcmp(k, "name") && strcmp(k, "classes")))
                return cfg_fail_at(file, fy_node_pair_key(pr),
                                   "holdouts: unknown key '%s' (name, classes)", k ? k : "?");
        }
        if (!cfg_scalar(nm)) return cfg_fail_at(file, item, "holdouts: a holdout needs a `name`");
        if (!vb_valid_name(cfg_scalar(nm)))
            return cfg_fail_at(file, nm,
                               "holdouts: a name is 1-%d letters, digits, _ - or . (it names "
                               "cells and report rows)",
                               VB_NAME_MAX);
        snprintf(o->name, EXP_NAME, "%s", cfg_scalar(nm));
        for (int j = 0; j < e->nholdouts; j++)
            if (!strcmp(e->holdout[j].name, o->name))
                return cfg_fail_at(file, nm, "holdouts: name '%s' is used twice", o->name);
        if (!cl || !fy_node_is_sequence(cl) || fy_node_sequence_item_count(cl) == 0)
            return cfg_fail_at(file, nm, "holdout '%s': `classes` must be a non-empty list",
                               o->name);
        void *it3 = NULL;
        struct fy_node *c;
        while ((c = fy_node_sequence_iterate(cl, &it3))) {
            const char *cn = cfg_scalar(c);
            bool known = false;
            for (int j = 0; cn && j < nn; j++) known |= !strcmp(names[j], cn);
            if (!known) {
                char list[1024] = "";
                for (int j = 0; j < nn; j++)
                    if (strcmp(names[j], normal)) {
                        strncat(list, names[j], sizeof list - strlen(list) - 3);
                        strncat(list, j + 1 < nn ? ", " : "", sizeof list - strlen(list) - 1);
                    }
                return cfg_fail_at(file, c,
                                   "holdout '%s': unknown class '%s' (anomaly classes: %s)",
                                   o->name, cn ? cn : "?", list);
            }
            if (!strcmp(cn, normal))
                return cfg_fail_at(file, c, "holdout '%s': the normal class %s cannot be held out",
                                   o->name, cn);
            if (o->n >= EXP_MAX_CLASSES)
                return cfg_fail_at(file, c, "holdout '%s': too many classes", o->name);
            snprintf(o->classes[o->n++], EXP_NAME, "%s", cn);
        }
        e->nholdouts++;
    }
    if (e->nholdouts == 0) {
        e->nholdouts = 1;
        snprintf(e->holdout[0].name, EXP_NAME, "none");
    }
    return VB_OK;
}

static VbStatus check_run_config(const char *file, struct fy_node *where, const char *variant,
                                 const RunConfig *rc) {
    if (rc->data.size != rc->model.image)
        return cfg_fail_at(file, where, "variant '%s': dataset.size %d differs from model.image %d",
                           variant, rc->data.size, rc->model.image);
    if (model_config_check(&rc->model) != VB_OK) {
        const char *m = strstr(vb_errmsg(), ": ");
        return cfg_fail_at(file, where, "variant '%s': %s", variant, m ? m + 2 : vb_errmsg());
    }
    if (rc->train.batch_size < 2)
        return cfg_fail_at(file, where, "variant '%s': train.batch_size must be >= 2 (BatchNorm)",
                           variant);
    const DataConfig *d = &rc->data;
    if (d->channels != 1 && d->channels != 3)
        return cfg_fail_at(file, where, "variant '%s': dataset.channels must be 1 or 3", variant);
    if (d->channels != rc->model.channels)
        return cfg_fail_at(file, where,
                           "variant '%s': dataset.channels %d differs from model.channels %d",
                           variant, d->channels, rc->model.channels);
    if (d->channels == 1 && d->source != DATA_FASHION_MNIST)
        return cfg_fail_at(file, where,
                           "variant '%s': dataset.channels 1 (grey frames) needs dataset.source "
                           "fashion_mnist",
                           variant);
    if (d->preprocess == PREP_IMAGENET && d->channels != 3)
        return cfg_fail_at(
            file, where,
            "variant '%s': dataset.preprocess imagenet needs 3 channels (use unit or "
            "gcn_l1_minmax for grey frames)",
            variant);
    if (d->preprocess != PREP_IMAGENET && rc->train.augment)
        return cfg_fail_at(file, where,
                           "variant '%s': train.augment works on ImageNet-normalised frames only; "
                           "set train.augment: false with dataset.preprocess %s",
                           variant, preprocess_names[d->preprocess]);
    if (d->preprocess != PREP_IMAGENET && rc->eval.tta > 0)
        return cfg_fail_at(
            file, where, "variant '%s': eval.tta views work on ImageNet-normalised RGB frames only",
            variant);
    if (rc->train.pretrain_epochs > 0 && rc->model.backbone != BACKBONE_LENET)
        return cfg_fail_at(file, where,
                           "variant '%s': train.pretrain needs model.backbone.name lenet (its "
                           "autoencoder is Ruff's LeNet decoder)",
                           variant);
    return VB_OK;
}

static VbStatus parse_compare(Experiment *e, const char *file, struct fy_node *c) {
    e->latency_factor = 1.5;
    if (!c) return VB_OK;
    if (!fy_node_is_mapping(c)) return cfg_fail_at(file, c, "compare: expected a mapping");
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(c, &it))) {
        struct fy_node *kn = fy_node_pair_key(p), *vn = fy_node_pair_value(p);
        const char *k = cfg_scalar(kn);
        if (k && !strcmp(k, "baseline")) {
            if (!cfg_scalar(vn))
                return cfg_fail_at(file, kn, "compare.baseline: expected a variant name");
            snprintf(e->baseline, EXP_NAME, "%s", cfg_scalar(vn));
            bool found = false;
            for (int i = 0; i < e->nvariants; i++) found |= !strcmp(e->variant[i], e->baseline);
            if (!found)
                return cfg_fail_at(file, vn, "compare.baseline: no variant named '%s'",
                                   e->baseline);
        } else if (k && !strcmp(k, "metrics")) {
            if (!vn || !fy_node_is_sequence(vn))
                return cfg_fail_at(file, kn, "compare.metrics: expected a list");
            int n = fy_node_sequence_item_count(vn);
            e->metrics = vb_xcalloc((size_t)(n ? n : 1), sizeof *e->metrics);
            void *i2 = NULL;
            struct fy_node *m;
            while ((m = fy_node_sequence_iterate(vn, &i2))) {
                if (!cfg_scalar(m))
                    return cfg_fail_at(file, m, "compare.metrics: expected metric names");
                if (strlen(cfg_scalar(m)) >= 96)
                    return cfg_fail_at(file, m, "compare.metrics: metric name too long");
                snprintf(e->metrics[e->nmetrics++], 96, "%s", cfg_scalar(m));
            }
        } else if (k && !strcmp(k, "tolerances")) {
            if (!vn || !fy_node_is_mapping(vn))
                return cfg_fail_at(file, kn, "compare.tolerances: expected {metric: tolerance}");
            int n = fy_node_mapping_item_count(vn);
            e->tol = vb_xcalloc((size_t)(n ? n : 1), sizeof *e->tol);
            void *i2 = NULL;
            struct fy_node_pair *q;
            while ((q = fy_node_mapping_iterate(vn, &i2))) {
                const char *mk = cfg_scalar(fy_node_pair_key(q)),
                           *mv = cfg_scalar(fy_node_pair_value(q));
                double v = -1;
                if (!mk || !mv || !vb_text_number(mv, &v, NULL) || !vb_valid_tolerance(v))
                    return cfg_fail_at(
                        file, fy_node_pair_value(q) ? fy_node_pair_value(q) : fy_node_pair_key(q),
                        "compare.tolerances: expected a finite non-negative number");
                if (strlen(mk) >= sizeof e->tol[0].metric)
                    return cfg_fail_at(file, fy_node_pair_key(q),
                                       "compare.tolerances: metric name too long");
                snprintf(e->tol[e->ntol].metric, 96, "%s", mk);
                e->tol[e->ntol++].tol = v;
            }
        } else if (k && !strcmp(k, "claims")) {
            VB_TRY(claims_parse(file, vn, (const char(*)[64])e->variant, e->nvariants, &e->claims,
                                &e->nclaims));
        } else if (k && !strcmp(k, "latency_factor")) {
            double v = 0;
            if (!cfg_scalar(vn) || !vb_text_number(cfg_scalar(vn), &v, NULL) ||
                !vb_valid_latency_factor(v))
                return cfg_fail_at(file, vn ? vn : kn,
                                   "compare.latency_factor: expected a finite number > 1");
            e->latency_factor = v;
        } else {
            return cfg_fail_at(
                file, kn,
                "compare: unknown key '%s' (baseline, metrics, tolerances, latency_factor, claims)",
                k ? k : "?");
        }
    }
    return VB_OK;
}

/* Bounded expansion: a short file cannot ask for millions of cells. */
static VbStatus check_matrix_size(const Experiment *e, const char *file) {
    uint64_t cells = (uint64_t)e->nvariants * (uint64_t)e->nholdouts * (uint64_t)e->nseeds;
    if (cells > EXP_MAX_CELLS)
        return vb_fail_plain(VB_ERR_INPUT,
                             "%s: %d variants x %d holdouts x %d seeds = %llu cells, more than the "
                             "%d one file may hold; split it",
                             file, e->nvariants, e->nholdouts, e->nseeds, (unsigned long long)cells,
                             EXP_MAX_CELLS);
    return VB_OK;
}

/* A string of `allowed` characters that fits `size`, into out. */
static VbStatus slurm_word(const char *file, struct fy_node *kn, struct fy_node *vn,
                           const char *key, const char *allowed, const char *what, char *out,
                           size_t size) {
    const char *v = cfg_scalar(vn);
    if (!v || !*v || strlen(v) >= size || strspn(v, allowed) != strlen(v))
        return cfg_fail_at(file, vn ? vn : kn, "slurm.%s: expected %s", key, what);
    snprintf(out, size, "%s", v);
    return VB_OK;
}

static VbStatus slurm_int(const char *file, struct fy_node *kn, struct fy_node *vn, const char *key,
                          int lo, int hi, int *out) {
    const char *v = cfg_scalar(vn);
    long x = 0;
    if (!v || !vb_text_integer(v, &x, NULL) || x < lo || x > hi)
        return cfg_fail_at(file, vn ? vn : kn, "slurm.%s: expected an integer from %d to %d", key,
                           lo, hi);
    *out = (int)x;
    return VB_OK;
}

#define SLURM_NAME_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-,"

/* The optional `slurm:` section: defaults for `vadbench slurm submit`. */
static VbStatus parse_slurm(Experiment *e, const char *file, struct fy_node *c) {
    ExpSlurm *o = &e->slurm;
    if (!c) return VB_OK;
    if (!fy_node_is_mapping(c)) return cfg_fail_at(file, c, "slurm: expected a mapping");
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(c, &it))) {
        struct fy_node *kn = fy_node_pair_key(p), *vn = fy_node_pair_value(p);
        const char *k = cfg_scalar(kn) ? cfg_scalar(kn) : "?";
        if (!strcmp(k, "partition"))
            VB_TRY(slurm_word(file, kn, vn, k, SLURM_NAME_CHARS, "a partition name (or a list)",
                              o->partition, sizeof o->partition));
        else if (!strcmp(k, "account"))
            VB_TRY(slurm_word(file, kn, vn, k, SLURM_NAME_CHARS, "an account name", o->account,
                              sizeof o->account));
        else if (!strcmp(k, "qos"))
            VB_TRY(
                slurm_word(file, kn, vn, k, SLURM_NAME_CHARS, "a QOS name", o->qos, sizeof o->qos));
        else if (!strcmp(k, "time"))
            VB_TRY(slurm_word(file, kn, vn, k, "0123456789:-",
                              "a time limit (minutes, HH:MM:SS or D-HH:MM:SS)", o->time,
                              sizeof o->time));
        else if (!strcmp(k, "mem"))
            VB_TRY(slurm_word(file, kn, vn, k, "0123456789KMGT",
                              "memory per node, e.g. 16G or 4000M", o->mem, sizeof o->mem));
        else if (!strcmp(k, "gpus_per_task"))
            VB_TRY(slurm_word(file, kn, vn, k, SLURM_NAME_CHARS ":",
                              "a GPU count, optionally typed (1 or a100:1)", o->gpus_per_task,
                              sizeof o->gpus_per_task));
        else if (!strcmp(k, "cpus_per_task"))
            VB_TRY(slurm_int(file, kn, vn, k, 1, 4096, &o->cpus_per_task));
        else if (!strcmp(k, "array_parallelism"))
            VB_TRY(slurm_int(file, kn, vn, k, 1, 1000000, &o->array_parallelism));
        else if (!strcmp(k, "grace")) VB_TRY(slurm_int(file, kn, vn, k, 1, 65535, &o->grace_s));
        else if (!strcmp(k, "sbatch_args")) {
            if (!vn || !fy_node_is_sequence(vn))
                return cfg_fail_at(file, kn,
                                   "slurm.sbatch_args: expected a list of sbatch arguments");
            void *i2 = NULL;
            struct fy_node *a;
            while ((a = fy_node_sequence_iterate(vn, &i2))) {
                const char *v = cfg_scalar(a);
                if (!v || !*v || strlen(v) >= sizeof o->args[0] || strpbrk(v, "\n\r") ||
                    v[0] != '-')
                    return cfg_fail_at(file, a,
                                       "slurm.sbatch_args: each entry is one sbatch option, e.g. "
                                       "--constraint=a100");
                if (o->nargs >= EXP_SLURM_MAX_ARGS)
                    return cfg_fail_at(file, a, "slurm.sbatch_args: more than %d entries",
                                       EXP_SLURM_MAX_ARGS);
                snprintf(o->args[o->nargs++], sizeof o->args[0], "%s", v);
            }
        } else
            return cfg_fail_at(file, kn,
                               "slurm: unknown key '%s' (partition, time, cpus_per_task, "
                               "gpus_per_task, mem, array_parallelism, account, qos, grace, "
                               "sbatch_args)",
                               k);
    }
    return VB_OK;
}

static const char *TOP_KEYS[] = {"experiment", "description", "dataset", "holdouts",
                                 "base",       "variants",    "seeds",   "backend",
                                 "threads",    "compare",     "slurm"};

VbStatus experiment_load(const char *path, Experiment *e) {
    memset(e, 0, sizeof *e);
    struct fy_document *doc;
    VB_TRY(cfg_load(path, &doc)); /* before anything is allocated: nothing leaks */
    e->file = vb_xstrdup(path);
    struct fy_node *root = fy_document_root(doc);
    VbStatus st = VB_OK;
    if (!root || !fy_node_is_mapping(root)) {
        st = vb_fail_plain(VB_ERR_INPUT, "%s: expected a mapping with `experiment:` at the top",
                           path);
        goto out;
    }
    void *it = NULL;
    struct fy_node_pair *pair;
    while ((pair = fy_node_mapping_iterate(root, &it))) {
        const char *k = cfg_scalar(fy_node_pair_key(pair));
        bool ok = false;
        for (size_t i = 0; k && i < sizeof TOP_KEYS / sizeof *TOP_KEYS; i++)
            ok |= !strcmp(k, TOP_KEYS[i]);
        if (!ok) {
            const char *hint = k && !strcmp(k, "variant")   ? " (did you mean 'variants'?)"
                               : k && !strcmp(k, "seed")    ? " (did you mean 'seeds'?)"
                               : k && !strcmp(k, "holdout") ? " (did you mean 'holdouts'?)"
                                                            : "";
            VB_CHECK(cfg_fail_at(
                path, fy_node_pair_key(pair),
                "unknown top-level key '%s'%s (known: experiment, description, dataset, "
                "holdouts, base, variants, seeds, backend, threads, compare, slurm)",
                k ? k : "?", hint));
        }
    }
    struct fy_node *name = fy_node_mapping_lookup_by_string(root, "experiment", FY_NT);
    if (!vb_valid_name(cfg_scalar(name))) {
        VB_CHECK(cfg_fail_at(path, name,
                             "`experiment:` must name the experiment (letters, digits, _ - .)"));
    }
    snprintf(e->name, sizeof e->name, "%s", cfg_scalar(name));
    struct fy_node *desc = fy_node_mapping_lookup_by_string(root, "description", FY_NT);
    e->description = vb_xstrdup(cfg_scalar(desc) ? cfg_scalar(desc) : "");
    RunConfig base;
    run_config_defaults(&base);
    struct fy_node *ds = fy_node_mapping_lookup_by_string(root, "dataset", FY_NT);
    if (ds) VB_CHECK(cfg_read(&cfg_data_schema, path, ds, &base.data));
    struct fy_node *bn = fy_node_mapping_lookup_by_string(root, "base", FY_NT);
    if (bn) {
        if (!fy_node_is_mapping(bn))
            VB_CHECK(cfg_fail_at(path, bn, "base: expected {model, train, eval}"));
        VB_CHECK(apply_overrides(path, bn, &base, false));
    }
    VB_CHECK(parse_holdouts(e, path, fy_node_mapping_lookup_by_string(root, "holdouts", FY_NT),
                            &base.data));
    struct fy_node *vars = fy_node_mapping_lookup_by_string(root, "variants", FY_NT);
    if (vars && !fy_node_is_mapping(vars))
        VB_CHECK(cfg_fail_at(path, vars, "variants: expected a mapping of name: overrides"));
    int nv = vars ? fy_node_mapping_item_count(vars) : 0;
    e->variant = vb_xcalloc((size_t)(nv ? nv : 1), sizeof *e->variant);
    e->vcfg = vb_xcalloc((size_t)(nv ? nv : 1), sizeof *e->vcfg);
    if (nv == 0) {
        snprintf(e->variant[0], EXP_NAME, "base");
        e->vcfg[0] = base;
        e->nvariants = 1;
        VB_CHECK(check_run_config(path, bn ? bn : root, "base", &base));
    }
    it = NULL;
    while (vars && (pair = fy_node_mapping_iterate(vars, &it))) {
        struct fy_node *kn = fy_node_pair_key(pair);
        const char *vname = cfg_scalar(kn);
        if (!vb_valid_name(vname))
            VB_CHECK(cfg_fail_at(path, kn, "variant names use letters, digits, _ - ."));
        snprintf(e->variant[e->nvariants], EXP_NAME, "%s", vname);
        VB_CHECK(resolve_variant(path, vars, vname, &base, &e->vcfg[e->nvariants], 0, kn));
        VB_CHECK(check_run_config(path, kn, vname, &e->vcfg[e->nvariants]));
        e->nvariants++;
    }
    struct fy_node *seeds = fy_node_mapping_lookup_by_string(root, "seeds", FY_NT);
    if (seeds && !fy_node_is_sequence(seeds))
        VB_CHECK(cfg_fail_at(path, seeds, "seeds: expected a list like [0, 1, 2]"));
    int ns = seeds ? fy_node_sequence_item_count(seeds) : 0;
    e->seeds = vb_xcalloc((size_t)(ns ? ns : 1), sizeof *e->seeds);
    if (!ns) e->seeds[e->nseeds++] = 0;
    void *is = NULL;
    struct fy_node *sn;
    while (seeds && (sn = fy_node_sequence_iterate(seeds, &is))) {
        long v = -1;
        const char *why = "";
        if (!cfg_scalar(sn) || !vb_text_integer(cfg_scalar(sn), &v, &why) || v < 0 ||
            v > 2147483647L)
            VB_CHECK(cfg_fail_at(path, sn, "seeds: expected non-negative integers%s%s%s",
                                 *why ? " (" : "", why, *why ? ")" : ""));
        for (int i = 0; i < e->nseeds; i++)
            if (e->seeds[i] == (int)v)
                VB_CHECK(cfg_fail_at(path, sn, "seeds: %ld is listed twice", v));
        e->seeds[e->nseeds++] = (int)v;
    }
    struct fy_node *be = fy_node_mapping_lookup_by_string(root, "backend", FY_NT);
    e->backend = K_BACKEND_CPU;
    if (be) {
        int b = -1;
        for (int i = 0; cfg_scalar(be) && kbackend_names[i]; i++)
            if (!strcmp(cfg_scalar(be), kbackend_names[i])) b = i;
        if (b < 0) VB_CHECK(cfg_fail_at(path, be, "backend: expected cpu or cuda"));
        e->backend = (KBackend)b;
    }
    struct fy_node *th = fy_node_mapping_lookup_by_string(root, "threads", FY_NT);
    if (th) {
        long v = -1;
        if (!cfg_scalar(th) || !vb_text_integer(cfg_scalar(th), &v, NULL) || v < 0 || v > 4096)
            VB_CHECK(
                cfg_fail_at(path, th, "threads: expected a non-negative integer (0 = all cores)"));
        e->threads = (int)v;
    }
    VB_CHECK(parse_compare(e, path, fy_node_mapping_lookup_by_string(root, "compare", FY_NT)));
    VB_CHECK(parse_slurm(e, path, fy_node_mapping_lookup_by_string(root, "slurm", FY_NT)));
    VB_CHECK(check_matrix_size(e, path));
out:
    fy_document_destroy(doc);
    if (st != VB_OK) {
        char msg[2048];
        snprintf(msg, sizeof msg, "%s", vb_errmsg());
        experiment_free(e);
        vb_fail_plain(st, "%s", msg);
    }
    return st;
}

void experiment_free(Experiment *e) {
    free(e->file), free(e->description), free(e->variant), free(e->vcfg), free(e->holdout);
    free(e->seeds), free(e->metrics), free(e->tol), free(e->claims);
    memset(e, 0, sizeof *e);
}

VbStatus run_config_from_json(json_t *config, RunConfig *rc) {
    run_config_defaults(rc);
    VB_TRY(cfg_from_json(&cfg_data_schema, json_object_get(config, "dataset"), &rc->data));
    VB_TRY(cfg_from_json(&cfg_model_schema, json_object_get(config, "model"), &rc->model));
    VB_TRY(cfg_from_json(&cfg_train_schema, json_object_get(config, "train"), &rc->train));
    VB_TRY(cfg_from_json(&cfg_eval_schema, json_object_get(config, "eval"), &rc->eval));
    return VB_OK;
}

VbStatus experiment_cells(const Experiment *e, const char *const *digests, Cell **cells, int *n) {
    int total = e->nvariants * e->nholdouts * e->nseeds, k = 0;
    Cell *c = vb_xcalloc((size_t)total, sizeof *c);
    for (int v = 0; v < e->nvariants; v++)
        for (int h = 0; h < e->nholdouts; h++)
            for (int s = 0; s < e->nseeds; s++, k++) {
                Cell *x = &c[k];
                x->variant = v, x->holdout = h, x->seed = s;
                x->cfg = e->vcfg[v];
                json_t *j = run_config_json(&x->cfg);
                json_object_set_new(j, "experiment", json_string(e->name));
                json_object_set_new(j, "variant", json_string(e->variant[v]));
                json_object_set_new(j, "seed", json_integer(e->seeds[s]));
                json_object_set_new(j, "backend", json_string(kbackend_names[e->backend]));
                json_t *ho = json_array();
                for (int i = 0; i < e->holdout[h].n; i++)
                    json_array_append_new(ho, json_string(e->holdout[h].classes[i]));
                json_object_set_new(
                    j, "holdout",
                    json_pack("{s:s, s:o}", "name", e->holdout[h].name, "classes", ho));
                x->config = j;
                config_hash(j, digests[v], x->hash);
                config_hash_legacy(j, digests[v], x->legacy_hash);
            }
    *cells = c;
    *n = total;
    return VB_OK;
}

void experiment_cells_free(Cell *cells, int n) {
    for (int i = 0; i < n; i++) json_decref(cells[i].config);
    free(cells);
}

VbStatus cfg_read_model_file(const char *path, const char *variant, ModelConfig *out) {
    model_config_defaults(out);
    struct fy_document *doc;
    VB_TRY(cfg_load(path, &doc));
    struct fy_node *root = fy_document_root(doc);
    struct fy_node *model = root && fy_node_is_mapping(root)
                                ? fy_node_mapping_lookup_by_string(root, "model", FY_NT)
                                : NULL;
    bool is_experiment = root && fy_node_is_mapping(root) &&
                         fy_node_mapping_lookup_by_string(root, "experiment", FY_NT);
    VbStatus st = VB_OK;
    if (model && !is_experiment) {
        if (variant)
            st = vb_fail_plain(VB_ERR_USAGE, "%s: --variant needs an experiment file", path);
        else st = cfg_read(&cfg_model_schema, path, model, out);
        if (st == VB_OK && model_config_check(out) != VB_OK) {
            const char *m = strstr(vb_errmsg(), ": ");
            st = vb_fail_plain(VB_ERR_INPUT, "%s: %s", path, m ? m + 2 : vb_errmsg());
        }
        fy_document_destroy(doc);
        return st;
    }
    fy_document_destroy(doc);
    if (!is_experiment)
        return vb_fail_plain(VB_ERR_INPUT, "%s: no `model:` mapping and not an experiment file",
                             path);
    Experiment e;
    VB_TRY(experiment_load(path, &e));
    int vi = -1;
    for (int i = 0; i < e.nvariants; i++)
        if (!variant ? i == 0 && e.nvariants == 1 : !strcmp(e.variant[i], variant)) vi = i;
    if (vi < 0)
        st = vb_fail_plain(VB_ERR_USAGE, "%s: %s", path,
                           variant
                               ? "no such variant (see `variants:`)"
                               : "the experiment has several variants: choose one with --variant");
    else *out = e.vcfg[vi].model;
    experiment_free(&e);
    return st;
}
