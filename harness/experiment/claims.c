/* claims: parsing `compare.claims` (see claims.h). */
#include "harness/experiment/claims.h"

#include <libfyaml.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/experiment/config.h"
#include "models/hybrid.h"

static const char *const CLAIM_KEYS[] = {
    "statement", "source",     "figure",   "metric", "unit",   "missing_is_zero", "baseline",
    "variants",  "difference", "relative", "value",  "spread", "tolerance",       NULL};

/* A "split/key" or "split.key" name: one separator, no spaces, both parts. */
static bool final_name(const char *s, char *out, size_t size) {
    size_t n = strlen(s);
    while (n && s[n - 1] == ' ') n--;
    while (*s == ' ') s++, n--;
    if (!n || n >= size) return false;
    size_t sep = strcspn(s, "/.");
    if (sep == 0 || sep >= n - 1) return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] == ' ' || s[i] == '\t') return false;
    snprintf(out, size, "%.*s", (int)n, s);
    out[sep] = '/';
    return true;
}

bool claim_metric_parse(const char *spec, ClaimMetric *m, char *why, size_t nwhy) {
    memset(m, 0, sizeof *m);
    if (strlen(spec) >= sizeof m->spec) {
        snprintf(why, nwhy, "longer than %zu characters", sizeof m->spec - 1);
        return false;
    }
    snprintf(m->spec, sizeof m->spec, "%s", spec);
    if (!strncmp(spec, "latency/", 8)) {
        m->kind = CLAIM_LATENCY;
        const char *p = spec + 8, *slash = strchr(p, '/');
        if (!slash || slash == p || (size_t)(slash - p) >= sizeof m->component) {
            snprintf(why, nwhy, "latency metrics read latency/COMPONENT/bN[/frame]");
            return false;
        }
        snprintf(m->component, sizeof m->component, "%.*s", (int)(slash - p), p);
        bool known = !strcmp(m->component, "model");
        for (int k = 0; k < HPART_N; k++) known |= !strcmp(m->component, hybrid_part_names[k]);
        if (!known) {
            snprintf(why, nwhy,
                     "unknown latency component '%s' (model, backbone, temporal, "
                     "heads, svdd, vae)",
                     m->component);
            return false;
        }
        char *end;
        long b = slash[1] == 'b' ? strtol(slash + 2, &end, 10) : 0;
        if (b < 1 || b > 1000000 || (*end && strcmp(end, "/frame"))) {
            snprintf(why, nwhy,
                     "latency metrics read latency/COMPONENT/bN[/frame], e.g. "
                     "latency/vae/b1/frame");
            return false;
        }
        m->batch = (int)b;
        m->per_frame = *end != 0;
        return true;
    }
    const char *plus = strstr(spec, " + ");
    char first[2 * CLAIM_NAME];
    snprintf(first, sizeof first, "%.*s", plus ? (int)(plus - spec) : (int)strlen(spec), spec);
    if (!final_name(first, m->a, sizeof m->a) ||
        (plus && !final_name(plus + 3, m->b, sizeof m->b))) {
        snprintf(why, nwhy,
                 "expected SPLIT/KEY (e.g. test/accuracy), A + B, or latency/COMPONENT/bN");
        return false;
    }
    if (plus && (strcspn(m->a, "/") != strcspn(m->b, "/") ||
                 strncmp(m->a, m->b, strcspn(m->a, "/")) != 0)) {
        snprintf(why, nwhy, "both parts of a sum come from one split (e.g. memory/a + memory/b)");
        return false;
    }
    m->kind = plus ? CLAIM_FINAL_SUM : CLAIM_FINAL;
    return true;
}

void claim_metric_name(const char *name, const char *score, char *out, size_t size) {
    size_t u = 0;
    out[0] = 0;
    for (const char *p = name; *p && u + 1 < size;) {
        if (!strncmp(p, "{score}", 7)) {
            u += (size_t)snprintf(out + u, size - u, "%s", score);
            p += 7;
        } else {
            out[u++] = *p++;
            out[u] = 0;
        }
    }
    if (u >= size) out[size - 1] = 0;
}

bool claim_covers(const Claim *c, const char *variant) {
    if (c->nvariants == 0) return true;
    for (int i = 0; i < c->nvariants; i++)
        if (!strcmp(c->variants[i], variant)) return true;
    return false;
}

/* A number or a [lo, hi] pair. */
static VbStatus range(const char *file, struct fy_node *key, struct fy_node *v, double *lo,
                      double *hi) {
    const char *t = cfg_scalar(v);
    if (t) {
        if (!cfg_parse_number(t, lo)) return cfg_fail_at(file, v, "expected a number, got '%s'", t);
        *hi = *lo;
        return VB_OK;
    }
    if (!v || !fy_node_is_sequence(v) || fy_node_sequence_item_count(v) != 2)
        return cfg_fail_at(file, v ? v : key, "expected a number or [low, high]");
    const char *a = cfg_scalar(fy_node_sequence_get_by_index(v, 0));
    const char *b = cfg_scalar(fy_node_sequence_get_by_index(v, 1));
    if (!a || !b || !cfg_parse_number(a, lo) || !cfg_parse_number(b, hi) || *lo > *hi)
        return cfg_fail_at(file, v, "expected [low, high] with two numbers, low <= high");
    return VB_OK;
}

static VbStatus text(const char *file, struct fy_node *k, struct fy_node *v, char *out,
                     size_t size) {
    const char *t = cfg_scalar(v);
    const char *name = cfg_scalar(k);
    if (!t || !*t) return cfg_fail_at(file, v ? v : k, "%s: expected text", name);
    if (strlen(t) >= size)
        return cfg_fail_at(file, v, "%s: longer than %zu characters", name, size - 1);
    snprintf(out, size, "%s", t);
    return VB_OK;
}

static bool known_variant(const char (*variants)[64], int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(variants[i], name)) return true;
    return false;
}

static VbStatus parse_variants(const char *file, struct fy_node *v, const char (*variants)[64],
                               int nvariants, Claim *c) {
    const char *t = cfg_scalar(v);
    if (t && !strcmp(t, "all")) return VB_OK;
    if (!v || !fy_node_is_sequence(v) || fy_node_sequence_item_count(v) == 0)
        return cfg_fail_at(file, v, "variants: expected `all` or a list of variant names");
    void *it = NULL;
    struct fy_node *item;
    while ((item = fy_node_sequence_iterate(v, &it))) {
        const char *name = cfg_scalar(item);
        if (!name || !known_variant(variants, nvariants, name))
            return cfg_fail_at(file, item, "variants: no variant named '%s'", name ? name : "?");
        if (c->nvariants >= CLAIM_MAX_VARIANTS)
            return cfg_fail_at(file, item, "variants: at most %d", CLAIM_MAX_VARIANTS);
        snprintf(c->variants[c->nvariants++], CLAIM_NAME, "%s", name);
    }
    return VB_OK;
}

static VbStatus parse_one(const char *file, struct fy_node *map, const char (*variants)[64],
                          int nvariants, Claim *c) {
    memset(c, 0, sizeof *c);
    c->spread = c->tolerance = NAN;
    if (!fy_node_is_mapping(map))
        return cfg_fail_at(file, map,
                           "compare.claims: each claim is a mapping (statement, "
                           "source, metric, and difference, relative or value)");
    struct fy_node *metric = NULL, *expect = NULL, *first = NULL;
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(map, &it))) {
        struct fy_node *k = fy_node_pair_key(p), *v = fy_node_pair_value(p);
        const char *key = cfg_scalar(k);
        int idx = -1;
        for (int i = 0; key && CLAIM_KEYS[i]; i++)
            if (!strcmp(key, CLAIM_KEYS[i])) idx = i;
        if (!first) first = k;
        if (idx < 0)
            return cfg_fail_at(file, k,
                               "compare.claims: unknown key '%s' (statement, source, figure, "
                               "metric, unit, missing_is_zero, baseline, variants, difference, "
                               "relative, value, spread, tolerance)",
                               key ? key : "?");
        const char *name = CLAIM_KEYS[idx];
        if (!strcmp(name, "statement")) VB_TRY(text(file, k, v, c->statement, sizeof c->statement));
        else if (!strcmp(name, "source")) VB_TRY(text(file, k, v, c->source, sizeof c->source));
        else if (!strcmp(name, "figure")) VB_TRY(text(file, k, v, c->figure, sizeof c->figure));
        else if (!strcmp(name, "unit")) VB_TRY(text(file, k, v, c->unit, sizeof c->unit));
        else if (!strcmp(name, "baseline")) {
            VB_TRY(text(file, k, v, c->baseline, sizeof c->baseline));
            if (!known_variant(variants, nvariants, c->baseline))
                return cfg_fail_at(file, v, "baseline: no variant named '%s'", c->baseline);
        } else if (!strcmp(name, "missing_is_zero")) {
            const char *t = cfg_scalar(v);
            if (!t || (strcmp(t, "true") && strcmp(t, "false")))
                return cfg_fail_at(file, v ? v : k, "missing_is_zero: expected true or false");
            c->missing_is_zero = !strcmp(t, "true");
        } else if (!strcmp(name, "metric")) {
            metric = v;
            char why[200];
            const char *t = cfg_scalar(v);
            if (!t) return cfg_fail_at(file, k, "metric: expected a metric name");
            if (!claim_metric_parse(t, &c->metric, why, sizeof why))
                return cfg_fail_at(file, v, "metric '%s': %s", t, why);
        } else if (!strcmp(name, "variants")) {
            VB_TRY(parse_variants(file, v, variants, nvariants, c));
        } else if (!strcmp(name, "spread") || !strcmp(name, "tolerance")) {
            double x;
            const char *t = cfg_scalar(v);
            if (!t || !cfg_parse_number(t, &x) || x < 0)
                return cfg_fail_at(file, v ? v : k, "%s: expected a non-negative number", name);
            *(!strcmp(name, "spread") ? &c->spread : &c->tolerance) = x;
        } else { /* difference, relative, value: the expectation */
            if (expect)
                return cfg_fail_at(file, k,
                                   "compare.claims: one expectation per claim (difference, "
                                   "relative or value), not both '%s' and '%s'",
                                   cfg_scalar(expect), name);
            expect = k;
            if (!strcmp(name, "value")) {
                const char *t = cfg_scalar(v);
                if (!t || !cfg_parse_number(t, &c->value))
                    return cfg_fail_at(file, v ? v : k, "value: expected a number");
                c->expect = CLAIM_LEVEL;
            } else {
                VB_TRY(range(file, k, v, &c->lo, &c->hi));
                c->expect = !strcmp(name, "difference") ? CLAIM_DIFFERENCE : CLAIM_RELATIVE;
            }
        }
    }
    if (!*c->statement)
        return cfg_fail_at(file, first, "compare.claims: a claim needs a `statement`");
    if (!*c->source)
        return cfg_fail_at(file, first, "compare.claims: claim '%s' needs a `source`",
                           c->statement);
    if (!metric)
        return cfg_fail_at(file, first, "compare.claims: claim '%s' needs a `metric`",
                           c->statement);
    if (c->expect != CLAIM_LEVEL && (!isnan(c->spread) || !isnan(c->tolerance)))
        return cfg_fail_at(file, first, "claim '%s': spread and tolerance go with `value`",
                           c->statement);
    if (c->expect == CLAIM_LEVEL && *c->baseline)
        return cfg_fail_at(file, first, "claim '%s': a `value` claim has no baseline",
                           c->statement);
    if (c->missing_is_zero && c->metric.kind != CLAIM_LATENCY)
        return cfg_fail_at(file, first, "claim '%s': missing_is_zero applies to latency metrics",
                           c->statement);
    return VB_OK;
}

VbStatus claims_parse(const char *file, struct fy_node *seq, const char (*variants)[64],
                      int nvariants, Claim **out, int *n) {
    *out = NULL, *n = 0;
    if (!seq || !fy_node_is_sequence(seq))
        return cfg_fail_at(file, seq, "compare.claims: expected a list of claims");
    int cnt = fy_node_sequence_item_count(seq);
    Claim *c = vb_xcalloc((size_t)(cnt ? cnt : 1), sizeof *c);
    void *it = NULL;
    struct fy_node *item;
    VbStatus st = VB_OK;
    while (st == VB_OK && (item = fy_node_sequence_iterate(seq, &it)))
        st = parse_one(file, item, variants, nvariants, &c[(*n)++]);
    if (st != VB_OK) {
        free(c);
        *n = 0;
        return st;
    }
    *out = c;
    return VB_OK;
}

void claims_print_keys(FILE *f) {
    static const char *const rows[][3] = {
        {"compare.baseline", "variant name",
         "the variant others are compared with (reports, "
         "`check`, difference claims)"},
        {"compare.metrics", "list of `split.key`", "the metrics reports compare first"},
        {"compare.tolerances", "`{split.key: number}`",
         "largest allowed regression per metric (`vadbench check`)"},
        {"compare.latency_factor", "number > 1", "largest allowed latency ratio (`check`)"},
        {"compare.claims", "list of claims", "the claims the report tests (keys below)"},
        {"claim: statement", "text (required)", "what is claimed"},
        {"claim: source", "text (required)", "who claims it (paper, table, document)"},
        {"claim: figure", "text", "the source's own figure, verbatim"},
        {"claim: metric", "metric (required)",
         "`split/key` (`{score}` = the report's decision score), `a + b` (one split), or "
         "`latency/COMPONENT/bN[/frame]` (COMPONENT: model, backbone, temporal, heads, svdd, "
         "vae)"},
        {"claim: unit", "text",
         "`%` shows fractions as percentages (differences in points); "
         "other units are labels"},
        {"claim: missing_is_zero", "boolean", "latency of a component a variant lacks counts 0"},
        {"claim: baseline", "variant name", "difference claims: default `compare.baseline`"},
        {"claim: variants", "`all` or list",
         "difference claims: the variants compared with the "
         "baseline (default: all others); value claims: the "
         "variants averaged (default: all)"},
        {"claim: difference", "number or [low, high]",
         "claimed variant − baseline, in the displayed unit"},
        {"claim: relative", "number or [low, high]",
         "claimed variant − baseline, in percent of the baseline"},
        {"claim: value", "number", "a published level of the metric (stored units)"},
        {"claim: spread", "number", "the source's ± around `value`"},
        {"claim: tolerance", "number", "`value` reads as reproduced within ± this"},
    };
    fprintf(f, "| key | type | meaning |\n|---|---|---|\n");
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        fprintf(f, "| `%s` | %s | %s |\n", rows[i][0], rows[i][1], rows[i][2]);
    fprintf(f, "\nA claim has at most one of `difference`, `relative` and `value`; with none "
               "it is measured and shown only.\n");
}
