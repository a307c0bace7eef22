/* weights: safetensors <-> parameter table with name and shape checks. */
#include "weights.h"

#include <stdlib.h>
#include <string.h>

#include "models/safetensors.h"

#define BB_PREFIX "backbone.backbone."

void weights_canonical_name(const Hybrid *m, const char *name, char *out, size_t n) {
    size_t pl = strlen(BB_PREFIX);
    if (strncmp(name, BB_PREFIX, pl) == 0 && strncmp(name + pl, "features.", 9) != 0) {
        char tv[PARAM_NAME_MAX];
        if (effnet_timm_name(&m->bb, name + pl, tv, sizeof tv)) {
            snprintf(out, n, "%s%s", BB_PREFIX, tv);
            return;
        }
    }
    snprintf(out, n, "%s", name);
}

static bool ignored(const char *name) {
    const char *s = strstr(name, "num_batches_tracked");
    return s && s[strlen("num_batches_tracked")] == 0;
}

static void note(FILE *log, int count, const char *kind, const char *name, const char *extra) {
    if (!log) return;
    if (count <= 20) fprintf(log, "  %s: %s%s\n", kind, name, extra);
    else if (count == 21) fprintf(log, "  %s: ... (more not listed)\n", kind);
}

VbStatus weights_load(Hybrid *m, const char *path, bool allow_missing, bool allow_unused, FILE *log,
                      WeightsReport *rep) {
    memset(rep, 0, sizeof *rep);
    StFile f;
    VB_TRY(st_open(path, &f));
    ParamTable *pt = &m->pt;
    char *seen = vb_xcalloc((size_t)pt->n, 1);
    float *host = NULL;
    size_t host_n = 0;
    VbStatus st = VB_OK;
    for (int i = 0; i < f.n && st == VB_OK; i++) {
        const StTensor *t = &f.t[i];
        if (ignored(t->name)) continue;
        char name[PARAM_NAME_MAX];
        weights_canonical_name(m, t->name, name, sizeof name);
        int pi = params_find(pt, name);
        if (pi < 0) {
            rep->unexpected++;
            note(log, rep->unexpected, "unexpected", t->name, "");
            continue;
        }
        const Param *p = &pt->p[pi];
        bool same = t->ndim == p->ndim;
        for (int d = 0; same && d < p->ndim; d++) same = t->shape[d] == p->shape[d];
        if (!same) {
            char a[96], b[96] = "[";
            params_shape_str(p, a, sizeof a);
            size_t u = 1;
            for (int d = 0; d < t->ndim; d++)
                u += (size_t)snprintf(b + u, sizeof b - u, d ? ", %lld" : "%lld",
                                      (long long)t->shape[d]);
            snprintf(b + u, sizeof b - u, "]");
            char extra[256];
            snprintf(extra, sizeof extra, " (file %s, model %s)", b, a);
            rep->misshaped++;
            note(log, rep->misshaped, "wrong shape", t->name, extra);
            continue;
        }
        if (seen[pi]) {
            st =
                VB_FAIL(VB_ERR_INPUT,
                        "%s: tensor %s given twice (under timm and torchvision names)", path, name);
            break;
        }
        if (p->numel > host_n) {
            host_n = p->numel;
            host = vb_xrealloc(host, host_n * sizeof(float));
        }
        st = st_read_f32(&f, t, host, (int64_t)p->numel);
        if (st != VB_OK) break;
        m->net.k->upload(params_data(pt, pi), host, p->numel * sizeof(float));
        seen[pi] = 1;
        rep->loaded++;
    }
    for (int i = 0; i < pt->n && st == VB_OK; i++)
        if (!seen[i]) {
            rep->missing++;
            note(log, rep->missing, "missing", pt->p[i].name, "");
        }
    if (st == VB_OK && rep->misshaped)
        st = vb_fail_plain(VB_ERR_INPUT, "%s: %d tensor(s) have the wrong shape for this model",
                           path, rep->misshaped);
    else if (st == VB_OK && rep->missing && !allow_missing)
        st = vb_fail_plain(VB_ERR_INPUT,
                           "%s: %d tensor(s) of the model are missing from the file (listed "
                           "above; --allow-missing keeps their initial values)",
                           path, rep->missing);
    else if (st == VB_OK && rep->unexpected && !allow_unused)
        st = vb_fail_plain(VB_ERR_INPUT,
                           "%s: %d tensor(s) in the file are not part of this model (listed "
                           "above; --allow-unused ignores them)",
                           path, rep->unexpected);
    free(host);
    free(seen);
    st_close(&f);
    hybrid_weights_changed(m);
    return st;
}

VbStatus weights_save(const Hybrid *m, const char *path) {
    const ParamTable *pt = &m->pt;
    float *host = vb_xmalloc(pt->total * sizeof(float));
    m->net.k->download(host, pt->data, pt->total * sizeof(float));
    StWriter *w = st_writer_new();
    for (int i = 0; i < pt->n; i++) {
        const Param *p = &pt->p[i];
        st_writer_add(w, p->name, p->ndim, p->shape, host + p->offset);
    }
    st_writer_meta(w, "format", "pt");
    st_writer_meta(w, "producer", "vadbench");
    VbStatus s = st_writer_write(w, path);
    st_writer_free(w);
    free(host);
    return s;
}

/* Dropout masks and VAE noise from a file: tensors named as the model's
 * dropout sites (e.g. "backbone.dropout", "projection.3") and "vae.eps". */
VbStatus weights_load_noise(Hybrid *m, const char *path, int rows) {
    StFile f;
    VB_TRY(st_open(path, &f));
    VbStatus st = VB_OK;
    Net *n = &m->net;
    for (int i = 0; i < n->nsites && st == VB_OK; i++) {
        Dropout *d = n->sites[i];
        const StTensor *t = st_find(&f, d->name);
        if (!t) {
            if (d->p > 0)
                st =
                    vb_fail_plain(VB_ERR_INPUT, "%s: no mask for dropout site '%s'", path, d->name);
            continue;
        }
        float *host = vb_xmalloc((size_t)t->numel * sizeof(float) + 1);
        if ((size_t)t->numel > d->max_n)
            st = vb_fail_plain(VB_ERR_INPUT, "%s: mask '%s' has %lld values, the site holds %zu",
                               path, d->name, (long long)t->numel, d->max_n);
        else if ((st = st_read_f32(&f, t, host, t->numel)) == VB_OK)
            n->k->upload(d->mask, host, (size_t)t->numel * sizeof(float));
        free(host);
    }
    if (st == VB_OK && m->has_vae) {
        int64_t want = (int64_t)rows * m->vae.latent;
        float *host = vb_xmalloc((size_t)want * sizeof(float));
        st = st_read_f32_named(&f, "vae.eps", host, want);
        if (st == VB_OK) n->k->upload(m->vae.eps, host, (size_t)want * sizeof(float));
        free(host);
    }
    st_close(&f);
    if (st == VB_OK) n->external_noise = true;
    return st;
}
