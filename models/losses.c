/* losses: focal, binary CE, Deep SVDD and VAE terms with their gradients. */
#include "losses.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

void loss_work_init(LossWork *w, const Hybrid *m) {
    memset(w, 0, sizeof *w);
    w->max_b = m->max_b, w->max_rows = m->max_b * m->max_t, w->classes = m->cfg.classes;
    size_t b = (size_t)w->max_b, r = (size_t)w->max_rows, c = (size_t)w->classes;
    w->cls = vb_xcalloc(b * c, sizeof(float));
    w->g_cls = vb_xcalloc(b * c, sizeof(float));
    w->bin = vb_xcalloc(b * 2, sizeof(float));
    w->g_bin = vb_xcalloc(b * 2, sizeof(float));
    w->score = vb_xcalloc(b, sizeof(float));
    w->g_w = vb_xcalloc(b, sizeof(float));
    w->mse = vb_xcalloc(r, sizeof(float));
    w->kl = vb_xcalloc(r, sizeof(float));
    w->g_wm = vb_xcalloc(r, sizeof(float));
    w->g_wk = vb_xcalloc(r, sizeof(float));
}

void loss_work_free(LossWork *w) {
    free(w->cls), free(w->g_cls), free(w->bin), free(w->g_bin), free(w->score);
    free(w->g_w), free(w->mse), free(w->kl), free(w->g_wm), free(w->g_wk);
    memset(w, 0, sizeof *w);
}

/* log-softmax of one row in double */
static void log_softmax_row(const float *z, int C, double *lp) {
    double mx = z[0];
    for (int j = 1; j < C; j++) mx = z[j] > mx ? z[j] : mx;
    double s = 0;
    for (int j = 0; j < C; j++) s += exp((double)z[j] - mx);
    double lse = mx + log(s);
    for (int j = 0; j < C; j++) lp[j] = (double)z[j] - lse;
}

double loss_focal_row(const float *z, int C, int y, double gamma, double alpha, double eps,
                      double scale, float *dz) {
    double lp[1024];
    VB_ASSERT(C <= 1024 && y >= 0 && y < C);
    log_softmax_row(z, C, lp);
    double ce = 0;
    for (int j = 0; j < C; j++) {
        double q = (j == y ? 1.0 - eps : 0.0) + eps / C;
        ce -= q * lp[j];
    }
    double py = exp(lp[y]), om = 1.0 - py;
    double f = gamma == 0 ? 1.0 : pow(om, gamma);
    double loss = alpha * f * ce;
    if (dz) {
        /* d/dz_j [f·ce] = f·(p_j − q_j) − γ(1−p_y)^{γ−1}·p_y·(δ_jy − p_j)·ce */
        double fprime = gamma == 0 ? 0.0 : gamma * pow(om, gamma - 1.0);
        for (int j = 0; j < C; j++) {
            double pj = exp(lp[j]);
            double q = (j == y ? 1.0 - eps : 0.0) + eps / C;
            double g = f * (pj - q) - fprime * py * ((j == y) - pj) * ce;
            dz[j] += (float)(scale * alpha * g);
        }
    }
    return loss;
}

double loss_ce_row(const float *z, int C, const double *q, double scale, float *dz) {
    double lp[1024];
    VB_ASSERT(C <= 1024);
    log_softmax_row(z, C, lp);
    double ce = 0, qs = 0;
    for (int j = 0; j < C; j++) ce -= q[j] * lp[j], qs += q[j];
    if (dz)
        for (int j = 0; j < C; j++) dz[j] += (float)(scale * (exp(lp[j]) * qs - q[j]));
    return ce;
}

/* Deep SVDD term over the batch. Sample i contributes to its two sources
 * with weights λ_i and 1−λ_i; a source is normal or anomalous. Writes
 * d loss / d score into gw (scaled by the term's weight). */
static double svdd_term(const LossConfig *c, int b, const float *d, const LossTargets *tg,
                        double weight, float *gw) {
    double wn = 0, dn = 0, wa = 0;
    for (int i = 0; i < b; i++) {
        double l = tg->lam[i];
        if (!tg->anom_a[i]) wn += l, dn += l * d[i];
        else wa += l;
        if (!tg->anom_b[i]) wn += 1 - l, dn += (1 - l) * d[i];
        else wa += 1 - l;
    }
    double loss = 0;
    switch (c->svdd_mode) {
    case SVDD_ONE_CLASS:
        if (wn > 0) {
            loss = dn / wn;
            for (int i = 0; i < b; i++) {
                double wi =
                    (!tg->anom_a[i] ? tg->lam[i] : 0) + (!tg->anom_b[i] ? 1 - tg->lam[i] : 0);
                gw[i] += (float)(weight * wi / wn);
            }
        }
        break;
    case SVDD_SUPERVISED: {
        /* margin m = mean normal distance + 1, detached (the seed let
         * gradient through it); 1 when the batch has no normal sample */
        double mrg = (wn > 0 ? dn / wn : 0.0) + 1.0;
        double la = 0;
        for (int i = 0; i < b; i++) {
            double l = tg->lam[i];
            double wi_n = (!tg->anom_a[i] ? l : 0) + (!tg->anom_b[i] ? 1 - l : 0);
            double wi_a = (tg->anom_a[i] ? l : 0) + (tg->anom_b[i] ? 1 - l : 0);
            if (wn > 0) gw[i] += (float)(weight * wi_n / wn);
            if (wa > 0 && mrg - d[i] > 0) {
                la += wi_a * (mrg - d[i]);
                gw[i] -= (float)(weight * wi_a / wa);
            }
        }
        loss = (wn > 0 ? dn / wn : 0) + (wa > 0 ? la / wa : 0);
        break;
    }
    case SVDD_SOFT_BOUNDARY: {
        double s = 0;
        if (wn > 0) {
            for (int i = 0; i < b; i++) {
                double wi =
                    (!tg->anom_a[i] ? tg->lam[i] : 0) + (!tg->anom_b[i] ? 1 - tg->lam[i] : 0);
                if (d[i] > c->svdd_r2) {
                    s += wi * (d[i] - c->svdd_r2);
                    gw[i] += (float)(weight * wi / (c->svdd_nu * wn));
                }
            }
            loss = c->svdd_r2 + s / (c->svdd_nu * wn);
        }
        break;
    }
    }
    return loss;
}

VbStatus loss_compute(const LossConfig *c, Hybrid *m, LossWork *w, int b, int t,
                      const LossTargets *tg, LossParts *out) {
    const KOps *k = m->net.k;
    int C = m->cfg.classes, rows = b * t;
    k->download(w->cls, m->cls_logits, (size_t)b * C * sizeof(float));
    k->download(w->bin, m->bin_logits, (size_t)b * 2 * sizeof(float));
    k->download(w->score, m->svdd_score, (size_t)b * sizeof(float));
    memset(w->g_cls, 0, (size_t)b * C * sizeof(float));
    memset(w->g_bin, 0, (size_t)b * 2 * sizeof(float));
    memset(w->g_w, 0, (size_t)b * sizeof(float));
    memset(w->g_wm, 0, (size_t)rows * sizeof(float));
    memset(w->g_wk, 0, (size_t)rows * sizeof(float));
    memset(out, 0, sizeof *out);
    double inv_b = 1.0 / b;
    for (int i = 0; i < b; i++) {
        double l = tg->lam[i];
        int ys[2] = {tg->ya[i], tg->yb[i]};
        int as[2] = {tg->anom_a[i], tg->anom_b[i]};
        double ls[2] = {l, 1 - l};
        for (int s = 0; s < 2; s++) {
            if (ls[s] == 0) continue;
            double a = c->class_alpha ? c->class_alpha[ys[s]] : c->alpha;
            out->cls += ls[s] * inv_b *
                        loss_focal_row(w->cls + (size_t)i * C, C, ys[s], c->gamma, a, c->smoothing,
                                       c->w_cls * ls[s] * inv_b, w->g_cls + (size_t)i * C);
        }
        double q[2] = {0, 0};
        for (int s = 0; s < 2; s++) q[as[s]] += ls[s];
        out->bin += inv_b * loss_ce_row(w->bin + 2 * i, 2, q, c->w_bin * inv_b, w->g_bin + 2 * i);
    }
    if (c->svdd_on && c->w_svdd > 0) out->svdd = svdd_term(c, b, w->score, tg, c->w_svdd, w->g_w);
    if (m->has_vae) {
        k->download(w->mse, m->vae.mse, (size_t)rows * sizeof(float));
        k->download(w->kl, m->vae.kl, (size_t)rows * sizeof(float));
        /* MSE mean over all elements (= mean of per-frame means) + β·KL
         * (summed over the latent, averaged over frames); a frame's terms
         * weigh with its sample's λ sources, which share the frame. */
        double inv_r = 1.0 / rows;
        for (int r = 0; r < rows; r++) {
            out->vae += inv_r * (w->mse[r] + c->vae_beta * w->kl[r]);
            w->g_wm[r] = (float)(c->w_vae * inv_r);
            w->g_wk[r] = (float)(c->w_vae * c->vae_beta * inv_r);
        }
    }
    out->total = c->w_cls * out->cls + c->w_bin * out->bin + c->w_svdd * out->svdd +
                 (m->has_vae ? c->w_vae * out->vae : 0);
    const char *bad = !isfinite(out->cls)    ? "classification"
                      : !isfinite(out->bin)  ? "binary"
                      : !isfinite(out->svdd) ? "svdd"
                      : !isfinite(out->vae)  ? "vae"
                                             : NULL;
    if (bad)
        return VB_FAIL(VB_ERR_NUMERIC, "the %s loss is %g (not finite)", bad,
                       !isfinite(out->cls)    ? out->cls
                       : !isfinite(out->bin)  ? out->bin
                       : !isfinite(out->svdd) ? out->svdd
                                              : out->vae);
    k->upload(m->g_cls, w->g_cls, (size_t)b * C * sizeof(float));
    k->upload(m->g_bin, w->g_bin, (size_t)b * 2 * sizeof(float));
    k->upload(m->g_svdd_w, w->g_w, (size_t)b * sizeof(float));
    k->upload(m->g_vae_wm, w->g_wm, (size_t)rows * sizeof(float));
    k->upload(m->g_vae_wk, w->g_wk, (size_t)rows * sizeof(float));
    return VB_OK;
}
