/* checkpoint: save and restore a training run's complete state. */
#include "harness/run/checkpoint.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/safeio.h"
#include "models/safetensors.h"

/* Version 2 adds "checksum": safeio_checksum of every tensor's bytes, the
 * state, the config hash and the layout, chained in that order. */
#define CKPT_VERSION "2"
#define SUM_SEED 0x564243484B505431ull /* "VBCHKPT1" */

static uint64_t ckpt_sum(const float *p, size_t np, const float *m, const float *v, size_t nt,
                         const float *swa, const char *state, const char *hash,
                         const char *layout) {
    uint64_t h = safeio_checksum(p, np * sizeof(float), SUM_SEED);
    h = safeio_checksum(m, nt * sizeof(float), h);
    h = safeio_checksum(v, nt * sizeof(float), h);
    if (swa) h = safeio_checksum(swa, np * sizeof(float), h);
    h = safeio_checksum(state, strlen(state), h);
    h = safeio_checksum(hash, strlen(hash), h);
    return safeio_checksum(layout, strlen(layout), h);
}

void ckpt_layout_digest(const ParamTable *pt, char out[17]) {
    uint64_t h = 0xCBF29CE484222325ull;
    for (int i = 0; i < pt->n; i++) {
        const Param *p = &pt->p[i];
        for (const char *c = p->name; *c; c++) h = (h ^ (unsigned char)*c) * 0x100000001B3ull;
        for (int d = 0; d < p->ndim; d++) h = (h ^ (uint64_t)p->shape[d]) * 0x100000001B3ull;
        h = (h ^ (uint64_t)p->kind) * 0x100000001B3ull;
    }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
}

static float *to_host(const KOps *k, const float *src, size_t n) {
    float *h = vb_xmalloc(n * sizeof(float) + 4);
    k->download(h, src, n * sizeof(float));
    return h;
}

VbStatus ckpt_save(const char *path, const Hybrid *m, const AdamW *o, const float *swa,
                   const CkptState *s, const char *config_hash) {
    const ParamTable *pt = &m->pt;
    const KOps *k = m->net.k;
    float *p = to_host(k, pt->data, pt->total);
    float *mm = to_host(k, o->m, o->n), *vv = to_host(k, o->v, o->n);
    float *sw = swa ? to_host(k, swa, pt->total) : NULL;
    StWriter *w = st_writer_new();
    int64_t tot = (int64_t)pt->total, nt = (int64_t)o->n;
    st_writer_add(w, "params", 1, &tot, p);
    st_writer_add(w, "adam.m", 1, &nt, mm);
    st_writer_add(w, "adam.v", 1, &nt, vv);
    if (sw) st_writer_add(w, "swa", 1, &tot, sw);
    json_t *j = json_pack(
        "{sI sI sI sI sI si sb sf si si sf sb}", "step", (json_int_t)s->step, "epoch",
        (json_int_t)s->epoch, "loader_epoch", (json_int_t)s->loader_epoch, "loader_batch",
        (json_int_t)s->loader_batch, "adam_step", (json_int_t)s->adam_step, "swa_n", s->swa_n,
        "svdd_on", s->svdd_on, "svdd_r2", s->svdd_r2, "bad_epochs", s->bad_epochs, "best_epoch",
        s->best_epoch, "seconds", s->seconds, "finished", s->finished);
    /* best_metric may be ±inf before the first validation: store as text */
    char best[64];
    snprintf(best, sizeof best, "%.17g", s->best_metric);
    json_object_set_new(j, "best_metric", json_string(best));
    json_object_set_new(j, "epoch_loss_sum", json_real(s->epoch_loss_sum));
    json_object_set_new(j, "epoch_loss_n", json_integer((json_int_t)s->epoch_loss_n));
    char *state = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    char layout[17];
    ckpt_layout_digest(pt, layout);
    const char *hash = config_hash ? config_hash : "";
    char sum[17];
    snprintf(sum, sizeof sum, "%016llx",
             (unsigned long long)ckpt_sum(p, pt->total, mm, vv, o->n, sw, state, hash, layout));
    st_writer_meta(w, "vadbench.checkpoint", CKPT_VERSION);
    st_writer_meta(w, "config_hash", hash);
    st_writer_meta(w, "layout", layout);
    st_writer_meta(w, "state", state);
    st_writer_meta(w, "checksum", sum);
    VbStatus st = st_writer_write(w, path);
    st_writer_free(w);
    free(state), free(p), free(mm), free(vv), free(sw);
    return st;
}

/* A named tensor of exactly n floats into a new host buffer. */
static VbStatus read_host(const StFile *f, const char *name, size_t n, float **out) {
    *out = malloc(n * sizeof(float) + 4);
    if (!*out) return vb_fail_plain(VB_ERR_NOMEM, "%s: out of memory reading '%s'", f->path, name);
    return st_read_f32_named(f, name, *out, (int64_t)n);
}

static VbStatus parse_state(const char *path, const char *state, CkptState *s) {
    json_error_t err;
    json_t *j = json_loads(state, 0, &err);
    json_int_t step, epoch, le, lb, as;
    int swan, bad, be, svdd_on, fin;
    double r2, secs;
    const char *best;
    VbStatus st = VB_OK;
    if (!j ||
        json_unpack(j, "{sI sI sI sI sI si sb sf si si sf sb ss}", "step", &step, "epoch", &epoch,
                    "loader_epoch", &le, "loader_batch", &lb, "adam_step", &as, "swa_n", &swan,
                    "svdd_on", &svdd_on, "svdd_r2", &r2, "bad_epochs", &bad, "best_epoch", &be,
                    "seconds", &secs, "finished", &fin, "best_metric", &best) != 0) {
        st = vb_fail_plain(VB_ERR_INPUT, "%s: checkpoint state is malformed", path);
    } else if (step < 0 || epoch < 0 || epoch > 100000000 || le < 0 || lb < 0 || as < 0 ||
               swan < 0 || bad < 0 ||
               (json_is_integer(json_object_get(j, "epoch_loss_n")) &&
                json_integer_value(json_object_get(j, "epoch_loss_n")) < 0)) {
        st = vb_fail_plain(VB_ERR_INPUT, "%s: checkpoint state holds impossible values", path);
    } else {
        memset(s, 0, sizeof *s);
        s->step = step, s->epoch = (int)epoch, s->loader_epoch = (uint64_t)le;
        s->loader_batch = (uint64_t)lb, s->adam_step = as, s->swa_n = swan;
        s->svdd_on = svdd_on, s->svdd_r2 = r2, s->bad_epochs = bad, s->best_epoch = be;
        s->seconds = secs, s->finished = fin;
        s->best_metric = strtod(best, NULL);
        /* files written before these existed read as 0 */
        json_t *ls = json_object_get(j, "epoch_loss_sum"), *ln = json_object_get(j, "epoch_loss_n");
        s->epoch_loss_sum = json_is_number(ls) ? json_number_value(ls) : 0;
        s->epoch_loss_n = json_is_integer(ln) ? json_integer_value(ln) : 0;
    }
    json_decref(j);
    return st;
}

VbStatus ckpt_load(const char *path, Hybrid *m, AdamW *o, float *swa, CkptState *s,
                   const char *config_hash, const char *alias_hash) {
    StFile f;
    VB_TRY(st_open(path, &f));
    VbStatus st = VB_OK;
    const char *magic = st_meta(&f, "vadbench.checkpoint"), *hash = st_meta(&f, "config_hash");
    const char *layout = st_meta(&f, "layout"), *state = st_meta(&f, "state");
    const char *sum = st_meta(&f, "checksum");
    char mine[17];
    ckpt_layout_digest(&m->pt, mine);
    if (!magic || !hash || !layout || !state)
        st = vb_fail_plain(VB_ERR_INPUT, "%s: not a vadbench checkpoint (metadata missing)", path);
    else if (strcmp(magic, "1") != 0 && strcmp(magic, CKPT_VERSION) != 0)
        st = vb_fail_plain(VB_ERR_INPUT,
                           "%s: checkpoint format '%.16s' is not one this vadbench reads", path,
                           magic);
    else if (strcmp(magic, "1") != 0 && !sum)
        st = vb_fail_plain(VB_ERR_INPUT, "%s: checkpoint has no checksum", path);
    else if (config_hash && strcmp(hash, config_hash) != 0 &&
             !(alias_hash && strcmp(hash, alias_hash) == 0))
        st =
            vb_fail_plain(VB_ERR_INPUT, "%s: checkpoint belongs to config %s, not to this run's %s",
                          path, hash, config_hash);
    else if (strcmp(layout, mine) != 0)
        st = vb_fail_plain(VB_ERR_INPUT,
                           "%s: checkpoint's parameter layout %s does not match this model's %s",
                           path, layout, mine);
    /* everything is read and verified on the host before the model is touched,
     * so a refused checkpoint leaves the model as it was */
    CkptState got;
    if (st == VB_OK) st = parse_state(path, state, &got);
    float *hp = NULL, *hm = NULL, *hv = NULL, *hs = NULL;
    if (st == VB_OK) st = read_host(&f, "params", m->pt.total, &hp);
    if (st == VB_OK) st = read_host(&f, "adam.m", o->n, &hm);
    if (st == VB_OK) st = read_host(&f, "adam.v", o->n, &hv);
    if (st == VB_OK && st_find(&f, "swa")) st = read_host(&f, "swa", m->pt.total, &hs);
    if (st == VB_OK && sum) {
        char want[17];
        snprintf(
            want, sizeof want, "%016llx",
            (unsigned long long)ckpt_sum(hp, m->pt.total, hm, hv, o->n, hs, state, hash, layout));
        if (strcmp(sum, want) != 0)
            st =
                vb_fail_plain(VB_ERR_INPUT,
                              "%s: checkpoint checksum %.16s does not match its contents (%s): the "
                              "file is damaged",
                              path, sum, want);
    }
    if (st == VB_OK) {
        const KOps *k = m->net.k;
        k->upload(m->pt.data, hp, m->pt.total * sizeof(float));
        hybrid_weights_changed(m); /* packed copies of the weights are stale */
        k->upload(o->m, hm, o->n * sizeof(float));
        k->upload(o->v, hv, o->n * sizeof(float));
        if (swa && hs) k->upload(swa, hs, m->pt.total * sizeof(float));
        else if (swa) k->zero(swa, m->pt.total * sizeof(float));
        *s = got;
        o->step = s->adam_step;
    }
    free(hp), free(hm), free(hv), free(hs);
    if (st != VB_OK && strncmp(vb_errmsg(), path, strlen(path)) != 0) vb_wrap(st, "%s", path);
    st_close(&f);
    return st;
}
