/* confighash: canonical forms and config hashes (see confighash.h). */
#include "harness/experiment/confighash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const SECTIONS[] = {"dataset", "model", "train", "eval"};

json_t *run_config_json(const RunConfig *rc) {
    json_t *j = json_object();
    json_object_set_new(j, "dataset", cfg_to_json(&cfg_data_schema, &rc->data));
    json_object_set_new(j, "model", cfg_to_json(&cfg_model_schema, &rc->model));
    json_object_set_new(j, "train", cfg_to_json(&cfg_train_schema, &rc->train));
    json_object_set_new(j, "eval", cfg_to_json(&cfg_eval_schema, &rc->eval));
    return j;
}

char *config_canonical(json_t *config) {
    return json_dumps(config, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
}

/* Remove from `obj` (in place) every member equal to the same member of
 * `def`, recursing into objects; nested objects left empty go too. */
static void strip_defaults(json_t *obj, json_t *def) {
    const char *key;
    json_t *v, *tmp;
    json_object_foreach_safe(obj, tmp, key, v) {
        json_t *d = json_object_get(def, key);
        if (!d) continue;
        if (json_is_object(v) && json_is_object(d)) {
            strip_defaults(v, d);
            if (json_object_size(v) == 0) json_object_del(obj, key);
        } else if (json_equal(v, d)) {
            json_object_del(obj, key);
        }
    }
}

json_t *config_hashed_form(json_t *config, json_t *defaults) {
    json_t *h = json_deep_copy(config);
    for (size_t i = 0; i < sizeof SECTIONS / sizeof *SECTIONS; i++) {
        json_t *sec = json_object_get(h, SECTIONS[i]);
        json_t *def = json_object_get(defaults, SECTIONS[i]);
        if (!json_is_object(sec) || !json_is_object(def)) continue;
        strip_defaults(sec, def);
        if (json_object_size(sec) == 0) json_object_del(h, SECTIONS[i]);
    }
    return h;
}

/* Two independent 64-bit FNV-1a streams (different offsets) over parts. */
static void fnv2(const char *const *parts, int n, char out[33]) {
    uint64_t h1 = 0xCBF29CE484222325ull, h2 = 0x84222325CBF29CE4ull;
    for (int p = 0; p < n; p++)
        for (const unsigned char *c = (const unsigned char *)parts[p]; *c; c++) {
            h1 = (h1 ^ *c) * 0x100000001B3ull;
            h2 = (h2 ^ (*c + 0x9Eu)) * 0x100000001B3ull;
            h2 ^= h2 >> 29;
        }
    snprintf(out, 33, "%016llx%016llx", (unsigned long long)h1, (unsigned long long)h2);
}

void config_hash_with(json_t *config, json_t *defaults, const char *dataset_digest, char out[33]) {
    json_t *h = config_hashed_form(config, defaults);
    char *text = config_canonical(h);
    char epoch[48];
    snprintf(epoch, sizeof epoch, "vadbench-config/%d\n", CONFIG_HASH_EPOCH);
    const char *parts[4] = {epoch, text, "\n", dataset_digest ? dataset_digest : ""};
    fnv2(parts, 4, out);
    free(text);
    json_decref(h);
}

void config_hash(json_t *config, const char *dataset_digest, char out[33]) {
    RunConfig d;
    run_config_defaults(&d);
    json_t *defaults = run_config_json(&d);
    config_hash_with(config, defaults, dataset_digest, out);
    json_decref(defaults);
}

/* The schema keys of hash format 1, frozen: the legacy hash of a cell is
 * computed over its full form without the keys added since, when they hold
 * their default (a format-1 store cannot have had them; a cell that sets one
 * to another value keeps it, so that it never takes an old cell's name). */
static const char *const FORMAT1_KEYS[] = {
    "dataset.clip.frames",
    "dataset.clip.stride",
    "dataset.clip.window",
    "dataset.frames_per_video",
    "dataset.limit",
    "dataset.normal_class",
    "dataset.normal_factor",
    "dataset.path",
    "dataset.protocol",
    "dataset.seed",
    "dataset.size",
    "dataset.skip_bad",
    "dataset.source",
    "dataset.test_videos_per_class",
    "dataset.val_fraction",
    "dataset.videos_per_class",
    "dataset.workers",
    "eval.batch_size",
    "eval.latency_batch",
    "eval.latency_samples",
    "eval.target_fpr",
    "eval.tta",
    "eval.tta_reduce",
    "model.backbone.depth",
    "model.backbone.dropout",
    "model.backbone.name",
    "model.backbone.stochastic_depth",
    "model.backbone.width",
    "model.classes",
    "model.embedding_dim",
    "model.feature_dim",
    "model.head_dropout",
    "model.image",
    "model.svdd_hidden",
    "model.temporal.bidirectional",
    "model.temporal.dropout",
    "model.temporal.hidden",
    "model.temporal.layers",
    "model.temporal.type",
    "model.vae.channels",
    "model.vae.detach_target",
    "model.vae.dropout",
    "model.vae.hidden",
    "model.vae.latent",
    "model.vae.level",
    "model.vae.target",
    "train.augment",
    "train.batch_size",
    "train.beta1",
    "train.beta2",
    "train.checkpoint_every",
    "train.clip_norm",
    "train.cycle_momentum",
    "train.div_factor",
    "train.early_stopping.metric",
    "train.early_stopping.min_delta",
    "train.early_stopping.patience",
    "train.epochs",
    "train.eps",
    "train.final_div_factor",
    "train.loss.binary",
    "train.loss.class_alpha",
    "train.loss.classification",
    "train.loss.focal_alpha",
    "train.loss.focal_gamma",
    "train.loss.label_smoothing",
    "train.loss.svdd",
    "train.loss.vae",
    "train.loss.vae_beta",
    "train.lr",
    "train.mixup.alpha",
    "train.mixup.cutmix_alpha",
    "train.mixup.p",
    "train.mixup.switch_prob",
    "train.sam.adaptive",
    "train.sam.enabled",
    "train.sam.rho",
    "train.sampler",
    "train.schedule",
    "train.svdd.mode",
    "train.svdd.nu",
    "train.svdd.recenter_every",
    "train.svdd.warmup_epochs",
    "train.swa.anneal_epochs",
    "train.swa.enabled",
    "train.swa.lr",
    "train.swa.start",
    "train.warmup",
    "train.weight_decay",
};

static bool format1_key(const char *path) {
    for (size_t i = 0; i < sizeof FORMAT1_KEYS / sizeof *FORMAT1_KEYS; i++)
        if (!strcmp(FORMAT1_KEYS[i], path)) return true;
    return false;
}

/* Remove from obj (in place) the members under `prefix` that are not format-1
 * keys and equal their default in def; objects left empty go too. */
static void strip_new_keys(json_t *obj, json_t *def, const char *prefix) {
    const char *key;
    json_t *v, *tmp;
    json_object_foreach_safe(obj, tmp, key, v) {
        char path[256];
        snprintf(path, sizeof path, "%s.%s", prefix, key);
        json_t *d = json_object_get(def, key);
        if (json_is_object(v)) {
            strip_new_keys(v, d, path);
            if (json_object_size(v) == 0) json_object_del(obj, key);
        } else if (!format1_key(path) && d && json_equal(v, d)) {
            json_object_del(obj, key);
        }
    }
}

void config_hash_legacy(json_t *config, const char *dataset_digest, char out[33]) {
    RunConfig dc;
    run_config_defaults(&dc);
    json_t *defaults = run_config_json(&dc), *f = json_deep_copy(config);
    for (size_t i = 0; i < sizeof SECTIONS / sizeof *SECTIONS; i++) {
        json_t *sec = json_object_get(f, SECTIONS[i]);
        if (json_is_object(sec))
            strip_new_keys(sec, json_object_get(defaults, SECTIONS[i]), SECTIONS[i]);
    }
    char *text = config_canonical(f);
    json_decref(f), json_decref(defaults);
    const char *parts[3] = {text, "\n", dataset_digest ? dataset_digest : ""};
    fnv2(parts, 3, out);
    free(text);
}
