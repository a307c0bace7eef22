/* config: schema-driven reading of YAML settings with precise errors. */
#include "harness/experiment/config.h"

#include <errno.h>
#include <jansson.h>
#include <libfyaml.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/safeio.h"
#include "harness/experiment/validate.h"
#include "harness/experiment/yaml_guard.h"

#define MC(f) offsetof(ModelConfig, f)
#define ANY 0, 0

static const CfgKey MODEL_KEYS[] = {
    {"backbone.name", CFG_CHOICE, MC(backbone), 0, 0, ANY, backbone_kind_names,
     "feature extractor"},
    {"backbone.width", CFG_FLOAT, MC(width), 0, 0, 0.05, 4, NULL,
     "channel multiplier (torchvision rounding to multiples of 8)"},
    {"backbone.depth", CFG_FLOAT, MC(depth), 0, 0, 0.05, 4, NULL, "block-repeat multiplier (ceil)"},
    {"backbone.dropout", CFG_FLOAT, MC(backbone_dropout), 0, 0, 0, 0.99, NULL,
     "dropout after global average pooling"},
    {"backbone.stochastic_depth", CFG_FLOAT, MC(stochastic_depth), 0, 0, 0, 0.99, NULL,
     "largest stochastic-depth drop probability (0 = off)"},
    {"backbone.bn_affine", CFG_BOOL, MC(backbone_bn_affine), 0, 0, ANY, NULL,
     "EfficientNet: BatchNorm with learned scale and shift (false: affine=False)"},
    {"lenet.channels", CFG_INT_LIST, MC(lenet_channels), LENET_MAX_CONV, MC(lenet_nconv), 1, 4096,
     NULL, "lenet: conv widths, one per conv -> BN -> LeakyReLU -> max-pool 2x2 level"},
    {"lenet.kernel", CFG_INT, MC(lenet_kernel), 0, 0, 1, 15, NULL,
     "lenet: conv kernel size (odd; padding k/2)"},
    {"lenet.hidden", CFG_INT, MC(lenet_hidden), 0, 0, 0, 65536, NULL,
     "lenet: width of the Linear -> BN1d -> LeakyReLU layer (0 = none)"},
    {"lenet.out", CFG_INT, MC(lenet_out), 0, 0, 1, 65536, NULL,
     "lenet: output (representation) width"},
    {"lenet.bias", CFG_BOOL, MC(lenet_bias), 0, 0, ANY, NULL, "lenet: biases in convs and linears"},
    {"lenet.bn_affine", CFG_BOOL, MC(lenet_bn_affine), 0, 0, ANY, NULL,
     "lenet: BatchNorm with learned scale and shift"},
    {"lenet.bn_eps", CFG_FLOAT, MC(lenet_bn_eps), 0, 0, 1e-12, 1, NULL, "lenet: BatchNorm epsilon"},
    {"lenet.leaky_slope", CFG_FLOAT, MC(lenet_slope), 0, 0, 0, 1, NULL,
     "lenet: LeakyReLU negative slope"},
    {"channels", CFG_INT, MC(channels), 0, 0, 1, 4, NULL,
     "input channels per pixel (must equal dataset.channels)"},
    {"temporal.type", CFG_CHOICE, MC(temporal), 0, 0, ANY, temporal_kind_names,
     "temporal encoder (`temporal: none` for frame models)"},
    {"temporal.hidden", CFG_INT, MC(hidden), 0, 0, 1, 65536, NULL, "hidden units per direction"},
    {"temporal.layers", CFG_INT, MC(layers), 0, 0, 1, 16, NULL, "stacked RNN layers"},
    {"temporal.bidirectional", CFG_BOOL, MC(bidirectional), 0, 0, ANY, NULL,
     "run a reverse direction too"},
    {"temporal.dropout", CFG_FLOAT, MC(temporal_dropout), 0, 0, 0, 0.99, NULL,
     "dropout between RNN layers"},
    {"feature_dim", CFG_INT, MC(feature_dim), 0, 0, 1, 65536, NULL, "projection width"},
    {"embedding_dim", CFG_INT, MC(embedding_dim), 0, 0, 1, 65536, NULL,
     "Deep SVDD embedding width"},
    {"svdd_hidden", CFG_INT, MC(svdd_hidden), 0, 0, 1, 65536, NULL, "Deep SVDD hidden layer width"},
    {"head_dropout", CFG_FLOAT, MC(head_dropout), 0, 0, 0, 0.99, NULL,
     "dropout in the projection and SVDD head"},
    {"projection", CFG_BOOL, MC(projection), 0, 0, ANY, NULL,
     "the Linear -> ReLU -> BN1d -> Dropout projection (false: heads read the temporal output)"},
    {"svdd_head", CFG_CHOICE, MC(svdd_head), 0, 0, ANY, svdd_head_names,
     "Deep SVDD head: MLP, one Linear, or none (the embedding is the projection output)"},
    {"head_bias", CFG_BOOL, MC(head_bias), 0, 0, ANY, NULL,
     "biases in the projection and Deep SVDD head"},
    {"head_bn_affine", CFG_BOOL, MC(head_bn_affine), 0, 0, ANY, NULL,
     "BatchNorm scale and shift in the projection and Deep SVDD head"},
    {"classes", CFG_INT, MC(classes), 0, 0, 2, 100000, NULL,
     "classifier outputs (runs take it from the data)"},
    {"image", CFG_INT, MC(image), 0, 0, 8, 4096, NULL,
     "frame size in pixels (square; a multiple of 32 for EfficientNet)"},
    {"vae.level", CFG_CHOICE, MC(vae_level), 0, 0, ANY, vae_level_names, "VAE branch"},
    {"vae.latent", CFG_INT, MC(vae_latent), 0, 0, 1, 65536, NULL, "latent size"},
    {"vae.hidden", CFG_INT_LIST, MC(vae_hidden), VAE_MAX_HIDDEN, MC(vae_nhidden), 1, 65536, NULL,
     "feature VAE hidden sizes (encoder order)"},
    {"vae.channels", CFG_INT_LIST, MC(vae_channels), VAE_MAX_HIDDEN, MC(vae_nchannels), 1, 4096,
     NULL, "image VAE conv channels (4 levels)"},
    {"vae.dropout", CFG_FLOAT, MC(vae_dropout), 0, 0, 0, 0.99, NULL, "feature VAE dropout"},
    {"vae.target", CFG_CHOICE, MC(vae_target), 0, 0, ANY, vae_target_names,
     "image VAE target: frame in [-1,1], or the seed's normalised frame"},
    {"vae.detach_target", CFG_BOOL, MC(vae_detach_target), 0, 0, ANY, NULL,
     "feature VAE: no gradient through the reconstruction target"},
};

const CfgSchema cfg_model_schema = {"model", MODEL_KEYS,
                                    (int)(sizeof MODEL_KEYS / sizeof MODEL_KEYS[0])};

/* ---- locations and messages ---- */

const char *cfg_scalar(struct fy_node *n) {
    return n && fy_node_is_scalar(n) ? fy_node_get_scalar0(n) : NULL;
}

/* The position of a node: its scalar token, or for a collection the first
 * scalar inside it (libfyaml keeps no mark on collection nodes). */
static void node_pos(struct fy_node *n, int *line, int *col) {
    *line = *col = 0;
    for (int depth = 0; n && depth < 64; depth++) {
        struct fy_token *t = fy_node_get_scalar_token(n);
        if (t) {
            const struct fy_mark *m = fy_token_start_mark(t);
            if (m) *line = m->line + 1, *col = m->column + 1;
            return;
        }
        void *it = NULL;
        if (fy_node_is_sequence(n)) n = fy_node_sequence_iterate(n, &it);
        else if (fy_node_is_mapping(n)) {
            struct fy_node_pair *p = fy_node_mapping_iterate(n, &it);
            n = p ? fy_node_pair_key(p) : NULL;
        } else n = NULL;
    }
}

VbStatus cfg_fail_at(const char *file, struct fy_node *n, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int line, col;
    node_pos(n, &line, &col);
    if (line) return vb_fail_plain(VB_ERR_INPUT, "%s:%d:%d: %s", file, line, col, msg);
    return vb_fail_plain(VB_ERR_INPUT, "%s: %s", file, msg);
}

/* ---- parsing ---- */

/* Every YAML file goes through the guard: bounded, checked bytes, one
 * document, no tags, anchors, aliases or duplicate keys (yaml_guard.h). */
VbStatus cfg_load(const char *path, struct fy_document **out) { return yaml_guard_load(path, out); }

static int edit_distance(const char *a, const char *b) {
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 63 || lb > 63) return 99;
    int d[64][64];
    for (int i = 0; i <= la; i++) d[i][0] = i;
    for (int j = 0; j <= lb; j++) d[0][j] = j;
    for (int i = 1; i <= la; i++)
        for (int j = 1; j <= lb; j++) {
            int c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < c) c = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < c) c = d[i][j - 1] + 1;
            d[i][j] = c;
        }
    return d[la][lb];
}

static const CfgKey *find_key(const CfgSchema *s, const char *path) {
    for (int i = 0; i < s->nkeys; i++)
        if (strcmp(s->keys[i].key, path) == 0) return &s->keys[i];
    return NULL;
}

static bool is_prefix(const CfgSchema *s, const char *path) {
    size_t n = strlen(path);
    for (int i = 0; i < s->nkeys; i++)
        if (strncmp(s->keys[i].key, path, n) == 0 && s->keys[i].key[n] == '.') return true;
    return false;
}

static const char *nearest(const CfgSchema *s, const char *path) {
    const char *best = NULL;
    int bd = 1 << 30;
    for (int i = 0; i < s->nkeys; i++) {
        int d = edit_distance(path, s->keys[i].key);
        const char *dot = strrchr(s->keys[i].key, '.');
        if (dot) { /* also compare with the last component */
            int d2 = edit_distance(path, dot + 1) + 1;
            if (d2 < d) d = d2;
        }
        if (d < bd) bd = d, best = s->keys[i].key;
    }
    return bd <= 3 ? best : NULL;
}

/* Index of `txt` among a CHOICE key's names, -1 if absent. */
static int choice_index(const char *const *names, const char *txt) {
    for (int i = 0; names[i]; i++)
        if (!strcmp(names[i], txt)) return i;
    return -1;
}

/* "a|b|c" for messages and the key table. */
static void choice_list(const char *const *names, char *out, size_t n) {
    size_t u = 0;
    out[0] = 0;
    for (int i = 0; names[i] && u < n; i++)
        u += (size_t)snprintf(out + u, n - u, "%s%s", i ? "|" : "", names[i]);
}

const char *cfg_choice_name(const CfgKey *k, int value) {
    int n = 0;
    while (k->choices[n]) n++;
    VB_ASSERT(value >= 0 && value < n);
    return k->choices[value];
}

/* Scalars are spelled as YAML 1.2 writes them (validate.h); *why gets a
 * hint for spellings that other readers take differently. */
static bool parse_int(const char *v, long *out, const char **why) {
    return vb_text_integer(v, out, why);
}

bool cfg_parse_number(const char *v, double *out) { return vb_text_number(v, out, NULL); }

static bool parse_double(const char *v, double *out, const char **why) {
    return vb_text_number(v, out, why);
}

static VbStatus read_scalar_int(const CfgSchema *s, const CfgKey *k, const char *file,
                                struct fy_node *v, long *out) {
    const char *txt = fy_node_is_scalar(v) ? fy_node_get_scalar0(v) : NULL, *why = "";
    if (!txt || !parse_int(txt, out, &why))
        return cfg_fail_at(file, v, "%s.%s: expected an integer%s%s%s%s%s%s", s->section, k->key,
                           txt ? ", got '" : "", txt ? txt : "", txt ? "'" : "", *why ? " (" : "",
                           why, *why ? ")" : "");
    if (*out < k->min || *out > k->max)
        return cfg_fail_at(file, v, "%s.%s: %ld is out of range [%g, %g]", s->section, k->key, *out,
                           k->min, k->max);
    return VB_OK;
}

static VbStatus read_value(const CfgSchema *s, const CfgKey *k, const char *file, struct fy_node *v,
                           void *obj) {
    char *field = (char *)obj + k->offset;
    const char *txt = fy_node_is_scalar(v) ? fy_node_get_scalar0(v) : NULL;
    switch (k->kind) {
    case CFG_INT: {
        long x;
        VB_TRY(read_scalar_int(s, k, file, v, &x));
        *(int *)field = (int)x;
        return VB_OK;
    }
    case CFG_FLOAT: {
        double x;
        const char *why = "";
        if (!txt || !parse_double(txt, &x, &why))
            return cfg_fail_at(file, v, "%s.%s: expected a number%s%s%s%s%s%s", s->section, k->key,
                               txt ? ", got '" : "", txt ? txt : "", txt ? "'" : "",
                               *why ? " (" : "", why, *why ? ")" : "");
        if (x < k->min || x > k->max)
            return cfg_fail_at(file, v, "%s.%s: %g is out of range [%g, %g]", s->section, k->key, x,
                               k->min, k->max);
        *(double *)field = x;
        return VB_OK;
    }
    case CFG_BOOL: {
        const char *why = "";
        if (!vb_text_bool(txt, (bool *)field, &why))
            return cfg_fail_at(file, v, "%s.%s: expected true or false%s%s%s", s->section, k->key,
                               *why ? " (" : "", why, *why ? ")" : "");
        return VB_OK;
    }
    case CFG_CHOICE: {
        char list[256];
        choice_list(k->choices, list, sizeof list);
        if (!txt)
            return cfg_fail_at(file, v, "%s.%s: expected one of %s", s->section, k->key, list);
        int idx = choice_index(k->choices, txt);
        if (idx < 0)
            return cfg_fail_at(file, v, "%s.%s: '%s' is not one of %s", s->section, k->key, txt,
                               list);
        *(int *)field = idx;
        return VB_OK;
    }
    case CFG_STRING:
        if (!txt) return cfg_fail_at(file, v, "%s.%s: expected a string", s->section, k->key);
        if (!safeio_printable_name(txt))
            return cfg_fail_at(file, v,
                               "%s.%s: holds a control character (a line break, tab or \\0)",
                               s->section, k->key);
        if (strlen(txt) >= k->size)
            return cfg_fail_at(file, v, "%s.%s: longer than %zu characters", s->section, k->key,
                               k->size - 1);
        snprintf(field, k->size, "%s", txt);
        return VB_OK;
    case CFG_INT_LIST: {
        if (!fy_node_is_sequence(v))
            return cfg_fail_at(file, v, "%s.%s: expected a list of integers like [512, 256]",
                               s->section, k->key);
        int *arr = (int *)field, cnt = 0;
        void *it = NULL;
        struct fy_node *item;
        while ((item = fy_node_sequence_iterate(v, &it))) {
            if ((size_t)cnt >= k->size)
                return cfg_fail_at(file, item, "%s.%s: at most %zu entries", s->section, k->key,
                                   k->size);
            long x;
            VB_TRY(read_scalar_int(s, k, file, item, &x));
            arr[cnt++] = (int)x;
        }
        if (cnt == 0) return cfg_fail_at(file, v, "%s.%s: the list is empty", s->section, k->key);
        *(int *)((char *)obj + k->count_offset) = cnt;
        return VB_OK;
    }
    }
    return VB_OK;
}

static VbStatus walk(const CfgSchema *s, const char *file, struct fy_node *map, const char *prefix,
                     void *obj) {
    if (!fy_node_is_mapping(map))
        return cfg_fail_at(file, map, "%s%s%s: expected a mapping", s->section, *prefix ? "." : "",
                           prefix);
    void *it = NULL;
    struct fy_node_pair *pair;
    while ((pair = fy_node_mapping_iterate(map, &it))) {
        struct fy_node *kn = fy_node_pair_key(pair), *vn = fy_node_pair_value(pair);
        const char *k = kn && fy_node_is_scalar(kn) ? fy_node_get_scalar0(kn) : NULL;
        if (!k) return cfg_fail_at(file, kn, "%s: keys must be plain words", s->section);
        char path[256];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", k);
        const CfgKey *key = find_key(s, path);
        if (key) {
            if (!vn) return cfg_fail_at(file, kn, "%s.%s: missing value", s->section, path);
            VB_TRY(read_value(s, key, file, vn, obj));
            continue;
        }
        /* `temporal: none` (a scalar where a mapping may stand) */
        char tpath[300];
        snprintf(tpath, sizeof tpath, "%s.type", path);
        if (vn && fy_node_is_scalar(vn) && (key = find_key(s, tpath)) != NULL) {
            VB_TRY(read_value(s, key, file, vn, obj));
            continue;
        }
        if (is_prefix(s, path) && vn) {
            VB_TRY(walk(s, file, vn, path, obj));
            continue;
        }
        const char *hint = nearest(s, path);
        return cfg_fail_at(file, kn, "unknown key '%s.%s'%s%s%s%s%s", s->section, path,
                           hint ? " (did you mean '" : "", hint ? s->section : "", hint ? "." : "",
                           hint ? hint : "", hint ? "'?)" : "");
    }
    return VB_OK;
}

VbStatus cfg_read(const CfgSchema *s, const char *file, struct fy_node *node, void *obj) {
    return walk(s, file, node, "", obj);
}

VbStatus cfg_set(const CfgSchema *s, const char *file, struct fy_node *keynode, const char *path,
                 struct fy_node *value, void *obj) {
    const CfgKey *key = find_key(s, path);
    if (key) {
        if (!value) return cfg_fail_at(file, keynode, "%s.%s: missing value", s->section, path);
        return read_value(s, key, file, value, obj);
    }
    if (value && fy_node_is_mapping(value) && is_prefix(s, path))
        return walk(s, file, value, path, obj);
    char tpath[300];
    snprintf(tpath, sizeof tpath, "%s.type", path);
    if (value && fy_node_is_scalar(value) && (key = find_key(s, tpath)) != NULL)
        return read_value(s, key, file, value, obj);
    const char *hint = nearest(s, path);
    return cfg_fail_at(file, keynode, "unknown key '%s.%s'%s%s.%s%s", s->section, path,
                       hint ? " (did you mean '" : "", hint ? s->section : "", hint ? hint : "",
                       hint ? "'?)" : "");
}

/* Nested object for a dotted path, created on demand. */
static json_t *json_path_parent(json_t *root, const char *path, const char **leaf) {
    json_t *cur = root;
    const char *p = path, *dot;
    while ((dot = strchr(p, '.')) != NULL) {
        char part[128];
        snprintf(part, sizeof part, "%.*s", (int)(dot - p), p);
        json_t *next = json_object_get(cur, part);
        if (!next) {
            next = json_object();
            json_object_set_new(cur, part, next);
        }
        cur = next;
        p = dot + 1;
    }
    *leaf = p;
    return cur;
}

json_t *cfg_to_json(const CfgSchema *s, const void *obj) {
    json_t *root = json_object();
    for (int i = 0; i < s->nkeys; i++) {
        const CfgKey *k = &s->keys[i];
        const char *field = (const char *)obj + k->offset, *leaf;
        json_t *parent = json_path_parent(root, k->key, &leaf), *v = NULL;
        switch (k->kind) {
        case CFG_INT: v = json_integer(*(const int *)field); break;
        case CFG_FLOAT: v = json_real(*(const double *)field); break;
        case CFG_BOOL: v = json_boolean(*(const bool *)field); break;
        case CFG_CHOICE: v = json_string(cfg_choice_name(k, *(const int *)field)); break;
        case CFG_STRING: v = json_string(field); break;
        case CFG_INT_LIST: {
            v = json_array();
            int cnt = *(const int *)((const char *)obj + k->count_offset);
            for (int j = 0; j < cnt; j++)
                json_array_append_new(v, json_integer(((const int *)field)[j]));
            break;
        }
        }
        json_object_set_new(parent, leaf, v);
    }
    return root;
}

VbStatus cfg_from_json(const CfgSchema *s, json_t *j, void *obj) {
    for (int i = 0; i < s->nkeys; i++) {
        const CfgKey *k = &s->keys[i];
        char *field = (char *)obj + k->offset;
        json_t *v = j;
        const char *p = k->key, *dot;
        while (v && (dot = strchr(p, '.')) != NULL) {
            char part[128];
            snprintf(part, sizeof part, "%.*s", (int)(dot - p), p);
            v = json_object_get(v, part);
            p = dot + 1;
        }
        v = v ? json_object_get(v, p) : NULL;
        /* a key added to the schema after the config was stored: its default
         * (which keeps the old behaviour, as the config hash assumes) stands */
        if (!v) continue;
        switch (k->kind) {
        case CFG_INT: *(int *)field = (int)json_integer_value(v); break;
        case CFG_FLOAT: *(double *)field = json_number_value(v); break;
        case CFG_BOOL: *(bool *)field = json_is_true(v); break;
        case CFG_CHOICE: {
            int idx = json_string_value(v) ? choice_index(k->choices, json_string_value(v)) : -1;
            if (idx < 0)
                return VB_FAIL(VB_ERR_INPUT, "stored %s.%s: '%s' is not a known choice", s->section,
                               k->key, json_string_value(v) ? json_string_value(v) : "?");
            *(int *)field = idx;
            break;
        }
        case CFG_STRING:
            snprintf(field, k->size, "%s", json_string_value(v) ? json_string_value(v) : "");
            break;
        case CFG_INT_LIST: {
            size_t n = json_array_size(v);
            if (n > k->size)
                return VB_FAIL(VB_ERR_INPUT, "stored %s.%s has too many items", s->section, k->key);
            for (size_t q = 0; q < n; q++)
                ((int *)field)[q] = (int)json_integer_value(json_array_get(v, q));
            *(int *)((char *)obj + k->count_offset) = (int)n;
            break;
        }
        }
    }
    return VB_OK;
}

void cfg_print_schema(const CfgSchema *s, const void *defaults, FILE *f) {
    fprintf(f, "| key | type | default | meaning |\n|---|---|---|---|\n");
    for (int i = 0; i < s->nkeys; i++) {
        const CfgKey *k = &s->keys[i];
        const char *field = (const char *)defaults + k->offset;
        char def[128] = "", choices[256];
        const char *type = "";
        switch (k->kind) {
        case CFG_INT:
            type = "integer";
            snprintf(def, sizeof def, "%d", *(const int *)field);
            break;
        case CFG_FLOAT:
            type = "number";
            snprintf(def, sizeof def, "%g", *(const double *)field);
            break;
        case CFG_BOOL:
            type = "boolean";
            snprintf(def, sizeof def, "%s", *(const bool *)field ? "true" : "false");
            break;
        case CFG_CHOICE:
            choice_list(k->choices, choices, sizeof choices);
            type = choices;
            snprintf(def, sizeof def, "%s", cfg_choice_name(k, *(const int *)field));
            break;
        case CFG_STRING:
            type = "string";
            snprintf(def, sizeof def, "%s", field);
            break;
        case CFG_INT_LIST: {
            type = "list of integers";
            int cnt = *(const int *)((const char *)defaults + k->count_offset);
            size_t u = (size_t)snprintf(def, sizeof def, "[");
            for (int j = 0; j < cnt; j++)
                u += (size_t)snprintf(def + u, sizeof def - u, j ? ", %d" : "%d",
                                      ((const int *)field)[j]);
            snprintf(def + u, sizeof def - u, "]");
            break;
        }
        }
        fprintf(f, "| `%s.%s` | %s | `%s` | %s |\n", s->section, k->key, type, def, k->doc);
    }
}
