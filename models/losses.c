/* losses: the objective's configuration and its staging on the backend
 * (the arithmetic is kernels/kloss.h, run by the backend's loss op). */
#include "losses.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kloss.h"

const char *const svdd_mode_names[] = {"supervised", "one-class", "soft-boundary", NULL};

void loss_config_defaults(LossConfig *c) {
    memset(c, 0, sizeof *c);
    c->gamma = 2.5, c->alpha = 0.25, c->smoothing = 0.1;
    c->w_cls = 1.0, c->w_bin = 0.5, c->w_svdd = 0.3, c->w_vae = 0.2;
    c->vae_beta = 1.0;
    c->svdd_mode = SVDD_SUPERVISED;
    c->svdd_nu = 0.1;
    c->svdd_on = true;
}

/* Floats of the target rows, rounded up so that the α doubles that follow
 * them are 8-byte aligned. */
static size_t tgt_floats(int max_b) { return ((size_t)max_b * K_TGT + 1) / 2 * 2; }

VbStatus loss_work_init(LossWork *w, const Hybrid *m) {
    memset(w, 0, sizeof *w);
    w->k = m->net.k;
    w->max_b = m->max_b, w->max_rows = m->max_b * m->max_t, w->classes = m->cfg.classes;
    w->bytes = tgt_floats(w->max_b) * sizeof(float) + (size_t)w->classes * sizeof(double);
    w->host = vb_xcalloc(1, w->bytes);
    w->dev = w->k->alloc(w->bytes);
    w->parts = w->k->alloc(K_LOSS_PARTS * sizeof(double));
    if (!w->dev || !w->parts) {
        loss_work_free(w);
        return VB_FAIL(VB_ERR_NOMEM, "cannot allocate the loss buffers on backend %s",
                       m->net.k->name);
    }
    return VB_OK;
}

void loss_work_free(LossWork *w) {
    if (w->k) {
        if (w->dev) w->k->free(w->dev);
        if (w->parts) w->k->free(w->parts);
    }
    free(w->host);
    memset(w, 0, sizeof *w);
}

double loss_focal_row(const float *z, int C, int y, double gamma, double alpha, double eps,
                      double scale, float *dz) {
    VB_ASSERT(C <= KLOSS_MAX_C && y >= 0 && y < C);
    return kloss_focal_row(z, C, y, gamma, alpha, eps, scale, dz);
}

double loss_ce_row(const float *z, int C, const double *q, double scale, float *dz) {
    VB_ASSERT(C <= KLOSS_MAX_C);
    return kloss_ce_row(z, C, q, scale, dz);
}

void loss_enqueue(const LossConfig *c, Hybrid *m, LossWork *w, int b, int t, const LossTargets *tg,
                  double *parts) {
    const KOps *k = m->net.k;
    int C = m->cfg.classes;
    VB_ASSERT(b >= 1 && b <= w->max_b && b * t <= w->max_rows && C == w->classes);
    for (int i = 0; i < b; i++) {
        VB_ASSERT(tg->ya[i] >= 0 && tg->ya[i] < C && tg->yb[i] >= 0 && tg->yb[i] < C);
        float *r = w->host + (size_t)i * K_TGT;
        r[0] = (float)tg->ya[i], r[1] = (float)tg->yb[i];
        r[2] = tg->anom_a[i] ? 1.0f : 0.0f, r[3] = tg->anom_b[i] ? 1.0f : 0.0f;
        r[4] = tg->lam[i];
    }
    double *alpha_host = (double *)(w->host + tgt_floats(w->max_b));
    if (c->class_alpha) memcpy(alpha_host, c->class_alpha, (size_t)C * sizeof(double));
    k->upload(w->dev, w->host, c->class_alpha ? w->bytes : (size_t)b * K_TGT * sizeof(float));
    KLoss kl = {.b = b,
                .classes = C,
                .rows = b * t,
                .has_vae = m->has_vae,
                .gamma = c->gamma,
                .alpha = c->alpha,
                .smoothing = c->smoothing,
                .w_cls = c->w_cls,
                .w_bin = c->w_bin,
                .w_svdd = c->w_svdd,
                .w_vae = c->w_vae,
                .vae_beta = c->vae_beta,
                .svdd_mode = (int)c->svdd_mode,
                .svdd_nu = c->svdd_nu,
                .svdd_r2 = c->svdd_r2,
                .svdd_on = c->svdd_on};
    const double *alpha_dev =
        c->class_alpha ? (const double *)(w->dev + tgt_floats(w->max_b)) : NULL;
    k->loss(&kl, w->dev, alpha_dev, m->cls_logits, m->bin_logits, m->svdd_score,
            m->has_vae ? m->vae.mse : NULL, m->has_vae ? m->vae.kl : NULL, m->g_cls, m->g_bin,
            m->g_svdd_w, m->g_vae_wm, m->g_vae_wk, parts ? parts : w->parts);
}

LossParts loss_parts_from(const double *parts) {
    LossParts p = {parts[0], parts[1], parts[2], parts[3], parts[4]};
    return p;
}

VbStatus loss_parts_check(const LossParts *p) {
    const char *names[4] = {"classification", "binary", "svdd", "vae"};
    const double v[4] = {p->cls, p->bin, p->svdd, p->vae};
    for (int i = 0; i < 4; i++)
        if (!isfinite(v[i]))
            return VB_FAIL(VB_ERR_NUMERIC, "the %s loss is %g (not finite)", names[i], v[i]);
    if (!isfinite(p->total))
        return VB_FAIL(VB_ERR_NUMERIC, "the total loss is %g (not finite)", p->total);
    return VB_OK;
}

VbStatus loss_compute(const LossConfig *c, Hybrid *m, LossWork *w, int b, int t,
                      const LossTargets *tg, LossParts *out) {
    loss_enqueue(c, m, w, b, t, tg, w->parts);
    double h[K_LOSS_PARTS];
    m->net.k->download(h, w->parts, sizeof h);
    *out = loss_parts_from(h);
    VB_TRY(m->net.k->status());
    return loss_parts_check(out);
}
