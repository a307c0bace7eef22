/* params: named parameter table with offsets into one buffer. */
#include "params.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PARAM_ALIGN 16 /* floats: 64 bytes */

void params_init(ParamTable *t) { memset(t, 0, sizeof *t); }

int params_add(ParamTable *t, const char *name, ParamKind kind, int ndim, int64_t d0, int64_t d1,
               int64_t d2, int64_t d3) {
    VB_ASSERT(t->data == NULL);
    VB_ASSERT(ndim >= 0 && ndim <= PARAM_MAX_DIMS);
    VB_ASSERT(strlen(name) < PARAM_NAME_MAX);
    VB_ASSERT(params_find(t, name) < 0);
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 64;
        t->p = vb_xrealloc(t->p, (size_t)t->cap * sizeof *t->p);
    }
    Param *p = &t->p[t->n];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->kind = kind;
    p->ndim = ndim;
    int64_t d[4] = {d0, d1, d2, d3};
    p->numel = 1;
    for (int i = 0; i < ndim; i++) {
        VB_ASSERT(d[i] > 0);
        p->shape[i] = d[i];
        p->numel *= (size_t)d[i];
    }
    return t->n++;
}

VbStatus params_alloc(ParamTable *t, const KOps *k) {
    size_t off = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < t->n; i++) {
            Param *p = &t->p[i];
            if ((pass == 0) != (p->kind == PARAM_TRAIN)) continue;
            p->offset = off;
            off += (p->numel + PARAM_ALIGN - 1) / PARAM_ALIGN * PARAM_ALIGN;
        }
        if (pass == 0) t->n_train = off;
    }
    t->total = off;
    t->k = k;
    t->data = k->alloc(t->total * sizeof(float));
    t->grad = k->alloc((t->n_train ? t->n_train : 1) * sizeof(float));
    if (!t->data || !t->grad) {
        size_t fr, tot;
        k->mem_info(&fr, &tot);
        return VB_FAIL(VB_ERR_NOMEM,
                       "cannot allocate %.1f MiB of parameters on %s (%.1f MiB free of %.1f)",
                       (double)(t->total + t->n_train) * 4 / 1048576.0, k->name,
                       (double)fr / 1048576.0, (double)tot / 1048576.0);
    }
    return VB_OK;
}

void params_set_packable(ParamTable *t, int i) {
    VB_ASSERT(i >= 0 && i < t->n && t->p[i].ndim >= 2);
    t->p[i].packable = true;
}

static size_t pack_floats(const ParamTable *t, const Param *p) {
    int rows = (int)p->shape[0], cols = (int)(p->numel / (size_t)p->shape[0]);
    return (t->k->pack_floats(rows, cols) + PARAM_ALIGN - 1) / PARAM_ALIGN * PARAM_ALIGN;
}

void params_unpack(ParamTable *t) {
    if (!t->packed) return;
    t->k->unpack_weights(t->data, t->data + t->total);
    t->k->free(t->packed);
    t->packed = NULL;
}

VbStatus params_pack(ParamTable *t) {
    params_unpack(t);
    if (!t->k || !t->k->pack_weight) return VB_OK;
    size_t total = 0;
    for (int i = 0; i < t->n; i++)
        if (t->p[i].packable) t->p[i].pack_offset = total, total += pack_floats(t, &t->p[i]);
    if (!total) return VB_OK;
    t->packed = t->k->alloc(total * sizeof(float));
    if (!t->packed)
        return VB_FAIL(VB_ERR_NOMEM, "cannot allocate %.1f MiB of packed weights",
                       (double)total * 4 / 1048576.0);
    for (int i = 0; i < t->n; i++) {
        const Param *p = &t->p[i];
        if (p->packable)
            t->k->pack_weight(params_data(t, i), (int)p->shape[0],
                              (int)(p->numel / (size_t)p->shape[0]), t->packed + p->pack_offset);
    }
    return VB_OK;
}

void params_free(ParamTable *t) {
    params_unpack(t);
    if (t->k) {
        if (t->data) t->k->free(t->data);
        if (t->grad) t->k->free(t->grad);
    }
    free(t->p);
    memset(t, 0, sizeof *t);
}

int params_find(const ParamTable *t, const char *name) {
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->p[i].name, name) == 0) return i;
    return -1;
}

size_t params_count(const ParamTable *t, ParamKind kind) {
    size_t s = 0;
    for (int i = 0; i < t->n; i++)
        if (t->p[i].kind == kind) s += t->p[i].numel;
    return s;
}

void params_shape_str(const Param *p, char *buf, size_t n) {
    size_t used = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < p->ndim && used < n; i++)
        used +=
            (size_t)snprintf(buf + used, n - used, i ? ", %lld" : "%lld", (long long)p->shape[i]);
    if (used < n) snprintf(buf + used, n - used, "]");
}

void params_set_init(ParamTable *t, int i, ParamInit init, double fan) {
    VB_ASSERT(i >= 0 && i < t->n);
    t->p[i].init = init;
    t->p[i].fan = fan;
}

void params_set_role(ParamTable *t, int i, ParamRole role) {
    VB_ASSERT(i >= 0 && i < t->n);
    t->p[i].role = role;
}

static uint64_t name_hash(const char *s) {
    uint64_t h = 0xCBF29CE484222325ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001B3ull;
    return h;
}

void params_init_values(ParamTable *t, uint64_t seed) {
    RngStream init = rng_stream(seed, "init");
    size_t maxn = 1;
    for (int i = 0; i < t->n; i++)
        if (t->p[i].numel > maxn) maxn = t->p[i].numel;
    float *host = vb_xmalloc(maxn * sizeof(float));
    for (int i = 0; i < t->n; i++) {
        const Param *p = &t->p[i];
        RngStream s = rng_substream(init, name_hash(p->name));
        switch (p->init) {
        case INIT_ZEROS: memset(host, 0, p->numel * sizeof(float)); break;
        case INIT_ONES:
            for (size_t j = 0; j < p->numel; j++) host[j] = 1.0f;
            break;
        case INIT_UNIFORM: {
            float b = (float)(1.0 / sqrt(p->fan));
            rng_fill_uniform(s, 0, 0, p->numel, -b, b, host);
            break;
        }
        case INIT_KAIMING_OUT:
            rng_fill_normal(s, 0, 0, p->numel, 0.0f, (float)sqrt(2.0 / p->fan), host);
            break;
        }
        t->k->upload(params_data(t, i), host, p->numel * sizeof(float));
    }
    free(host);
}
