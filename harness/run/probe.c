/* probe: shortcut baselines (colour, layout, motion features; ridge
 * classifier; distance from normal). See probe.h. */
#include "harness/run/probe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness/stats/stats.h"

/* LAPACK's Cholesky solve, from OpenBLAS (the trailing argument is the
 * hidden length of the character argument in the Fortran ABI). */
void dposv_(const char *uplo, const int *n, const int *nrhs, double *a, const int *lda, double *b,
            const int *ldb, int *info, size_t uplo_len);

const char *const probe_set_names[PROBE_NSETS] = {"colour", "layout", "motion", "all"};

#define CELLS 8
#define BINS 8
#define N_COLOUR (3 * 2 + 3 * BINS)
#define N_LAYOUT (CELLS * CELLS * 3)
#define N_MOTION (CELLS * CELLS + 2)
#define N_FEAT (N_COLOUR + N_LAYOUT + N_MOTION)

/* Offsets of each set's features inside a video's row of N_FEAT values. */
static const int set_off[3] = {0, N_COLOUR, N_COLOUR + N_LAYOUT};
static const int set_dim[3] = {N_COLOUR, N_LAYOUT, N_MOTION};

/* The N_FEAT features of video v into f (motion left 0 for one frame). */
static void video_features(const Dataset *ds, size_t v, double *f, double *map) {
    const DsVideo *dv = &ds->videos[v];
    int h = ds->frames.h, w = ds->frames.w, ch = ds->frames.c; /* grey frames: R = G = B */
    size_t npx = (size_t)h * w;
    double sum[3] = {0}, sq[3] = {0}, hist[3][BINS] = {{0}}, cell[N_LAYOUT] = {0};
    double cell_n[CELLS * CELLS] = {0};
    memset(map, 0, npx * sizeof *map);
    for (uint32_t t = 0; t < dv->nframes; t++) {
        const uint8_t *p = dataset_frame(ds, v, t), *q = t ? dataset_frame(ds, v, t - 1) : NULL;
        for (int y = 0; y < h; y++) {
            int cy = y * CELLS / h;
            for (int x = 0; x < w; x++) {
                int k = cy * CELLS + x * CELLS / w;
                size_t i = (size_t)y * w + x;
                const uint8_t *px = p + i * ch;
                double diff = 0;
                for (int c = 0; c < 3; c++) {
                    int cc = c < ch ? c : 0;
                    double val = px[cc] / 255.0;
                    sum[c] += val, sq[c] += val * val;
                    hist[c][px[cc] * BINS / 256] += 1;
                    cell[k * 3 + c] += val;
                    if (q) diff += fabs(val - q[i * ch + cc] / 255.0);
                }
                cell_n[k] += 1;
                map[i] += diff / 3.0;
            }
        }
    }
    double n = (double)npx * dv->nframes;
    for (int c = 0; c < 3; c++) {
        double m = sum[c] / n;
        f[c] = m;
        f[3 + c] = sqrt(fmax(0.0, sq[c] / n - m * m));
        for (int b = 0; b < BINS; b++) f[6 + c * BINS + b] = hist[c][b] / n;
    }
    for (int k = 0; k < CELLS * CELLS; k++)
        for (int c = 0; c < 3; c++) f[N_COLOUR + k * 3 + c] = cell[k * 3 + c] / cell_n[k];
    double *mo = f + N_COLOUR + N_LAYOUT;
    memset(mo, 0, N_MOTION * sizeof *mo);
    if (dv->nframes < 2) return;
    double ms = 0, mq = 0, mcell[CELLS * CELLS] = {0};
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double m = map[(size_t)y * w + x] / (double)(dv->nframes - 1);
            ms += m, mq += m * m;
            mcell[(y * CELLS / h) * CELLS + x * CELLS / w] += m;
        }
    for (int k = 0; k < CELLS * CELLS; k++) mo[k] = mcell[k] / (cell_n[k] / dv->nframes);
    mo[CELLS * CELLS] = ms / (double)npx;
    mo[CELLS * CELLS + 1] = sqrt(fmax(0.0, mq / (double)npx - (ms / npx) * (ms / npx)));
}

VbStatus probe_ridge_fit(const double *X, const int *y, int n, int d, int C, double alpha,
                         double *coef, double *intercept) {
    VB_ASSERT(n >= 1 && d >= 1 && C >= 1 && alpha > 0);
    double *xm = vb_xcalloc((size_t)d, sizeof *xm), *ym = vb_xcalloc((size_t)C, sizeof *ym);
    double *A = vb_xcalloc((size_t)d * d, sizeof *A), *B = vb_xcalloc((size_t)d * C, sizeof *B);
    double *xc = vb_xmalloc((size_t)d * sizeof *xc);
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < d; j++) xm[j] += X[(size_t)i * d + j];
        ym[y[i]] += 2.0;
    }
    for (int j = 0; j < d; j++) xm[j] /= n;
    for (int c = 0; c < C; c++) ym[c] = ym[c] / n - 1.0; /* mean of the +-1 targets */
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < d; j++) xc[j] = X[(size_t)i * d + j] - xm[j];
        /* column-major A (upper triangle: row j <= column k) and B[d x C] */
        for (int k = 0; k < d; k++)
            for (int j = 0; j <= k; j++) A[(size_t)k * d + j] += xc[j] * xc[k];
        for (int c = 0; c < C; c++) {
            double yc = (y[i] == c ? 1.0 : -1.0) - ym[c];
            for (int j = 0; j < d; j++) B[(size_t)c * d + j] += xc[j] * yc;
        }
    }
    for (int j = 0; j < d; j++) A[(size_t)j * d + j] += alpha;
    int info = 0;
    dposv_("U", &d, &C, A, &d, B, &d, &info, 1);
    VbStatus st = VB_OK;
    if (info != 0) {
        st = VB_FAIL(VB_ERR_NUMERIC,
                     "ridge probe: the normal equations are not positive definite "
                     "(LAPACK dposv info %d)",
                     info);
    } else {
        for (int c = 0; c < C; c++) {
            double b = ym[c];
            for (int j = 0; j < d; j++) {
                coef[(size_t)c * d + j] = B[(size_t)c * d + j];
                b -= xm[j] * B[(size_t)c * d + j];
            }
            intercept[c] = b;
        }
    }
    free(xm), free(ym), free(A), free(B), free(xc);
    return st;
}

/* Columns [off, off+dim) of the feature table as a standardised n x dim
 * matrix (mean and standard deviation from the rows with use[i]; a constant
 * column gets scale 1, as scikit-learn's StandardScaler). */
static void standardise(const double *feat, size_t nv, const bool *use, const int *cols, int dim,
                        double *out) {
    for (int j = 0; j < dim; j++) {
        double s = 0, q = 0, m = 0;
        size_t k = 0;
        for (size_t v = 0; v < nv; v++)
            if (use[v]) s += feat[v * N_FEAT + cols[j]], k++;
        m = k ? s / (double)k : 0.0;
        for (size_t v = 0; v < nv; v++)
            if (use[v]) {
                double e = feat[v * N_FEAT + cols[j]] - m;
                q += e * e;
            }
        double sd = k ? sqrt(q / (double)k) : 0.0;
        if (!(sd > 1e-12)) sd = 1.0;
        for (size_t v = 0; v < nv; v++) out[v * dim + j] = (feat[v * N_FEAT + cols[j]] - m) / sd;
    }
}

/* Roles of the videos in a probe. */
enum { ROLE_NONE = 0, ROLE_FIT = 1, ROLE_SCORE = 2 };

static VbStatus run_set(const Dataset *ds, const double *feat, const uint8_t *role,
                        const bool *unseen, const int *cols, int dim, double alpha, ProbeSet *ps) {
    size_t nv = ds->nvideos;
    int C = ds->nclasses;
    bool *fit = vb_xmalloc(nv * sizeof *fit), *normal = vb_xmalloc(nv * sizeof *normal);
    bool *fitted = vb_xcalloc((size_t)C, sizeof *fitted);
    size_t ntr = 0, nnorm = 0;
    int nfitted = 0;
    for (size_t v = 0; v < nv; v++) {
        fit[v] = role[v] == ROLE_FIT;
        normal[v] = fit[v] && ds->videos[v].cls == ds->normal;
        if (fit[v] && !fitted[ds->videos[v].cls]) fitted[ds->videos[v].cls] = true, nfitted++;
        ntr += fit[v], nnorm += normal[v];
    }
    double *Z = vb_xmalloc(nv * (size_t)dim * sizeof *Z);
    double *Xtr = vb_xmalloc(ntr * (size_t)dim * sizeof *Xtr);
    int *ytr = vb_xmalloc(ntr * sizeof *ytr);
    double *coef = vb_xmalloc((size_t)C * dim * sizeof *coef), *icpt = vb_xmalloc(C * sizeof *icpt);
    standardise(feat, nv, fit, cols, dim, Z);
    for (size_t v = 0, i = 0; v < nv; v++)
        if (fit[v]) {
            memcpy(Xtr + i * dim, Z + v * dim, (size_t)dim * sizeof *Z);
            ytr[i++] = ds->videos[v].cls;
        }
    VbStatus st = VB_OK;
    size_t *hit = NULL, *cnt = NULL;
    double *score = NULL;
    int *label = NULL;
    ps->dims = dim;
    ps->recall = vb_xmalloc((size_t)C * sizeof(double));
    ps->auroc = vb_xmalloc((size_t)C * sizeof(double));
    ps->accuracy = ps->balanced_accuracy = NAN;
    for (int c = 0; c < C; c++) ps->recall[c] = NAN;
    for (int c = 0; c < C; c++) ps->auroc[c] = NAN;
    ps->auroc_all = ps->auroc_seen = ps->auroc_unseen = NAN;
    /* one fitted class (the one-class protocol): nothing to classify */
    if (nfitted >= 2) {
        VB_CHECK(probe_ridge_fit(Xtr, ytr, (int)ntr, dim, C, alpha, coef, icpt));
        /* classification of the scored videos of seen classes, among the fitted classes */
        hit = vb_xcalloc((size_t)C, sizeof *hit), cnt = vb_xcalloc((size_t)C, sizeof *cnt);
        size_t nte = 0, right = 0;
        for (size_t v = 0; v < nv; v++) {
            int truth = ds->videos[v].cls;
            if (role[v] != ROLE_SCORE || (unseen && unseen[truth])) continue;
            int best = -1;
            double bs = -INFINITY;
            for (int c = 0; c < C; c++) {
                if (!fitted[c]) continue;
                double sc = icpt[c];
                for (int j = 0; j < dim; j++) sc += coef[(size_t)c * dim + j] * Z[v * dim + j];
                if (best < 0 || sc > bs) bs = sc, best = c;
            }
            cnt[truth]++, nte++;
            if (best == truth) hit[truth]++, right++;
        }
        double bal = 0;
        int present = 0;
        for (int c = 0; c < C; c++) {
            ps->recall[c] = cnt[c] ? (double)hit[c] / (double)cnt[c] : NAN;
            if (cnt[c]) bal += ps->recall[c], present++;
        }
        ps->accuracy = nte ? (double)right / (double)nte : NAN;
        ps->balanced_accuracy = present ? bal / present : NAN;
    }
    /* distance from the fitted normal videos; AUROC per anomaly class and
     * for every, the seen and the unseen anomalies, against scored normals */
    if (nnorm > 0) {
        standardise(feat, nv, normal, cols, dim, Z);
        score = vb_xmalloc(nv * sizeof *score);
        label = vb_xmalloc(nv * sizeof *label);
        for (int c = -3; c < C; c++) { /* -3 all, -2 seen, -1 unseen */
            if (c == ds->normal) continue;
            size_t m = 0;
            for (size_t v = 0; v < nv; v++) {
                int k = ds->videos[v].cls;
                if (role[v] != ROLE_SCORE) continue;
                bool un = unseen && unseen[k];
                if (k != ds->normal && ((c >= 0 && k != c) || (c == -2 && un) || (c == -1 && !un)))
                    continue;
                double sc = 0;
                for (int j = 0; j < dim; j++) sc += Z[v * dim + j] * Z[v * dim + j];
                score[m] = sc / dim;
                label[m++] = k != ds->normal;
            }
            MetricResult r;
            VB_CHECK(metrics_auroc(score, label, m, &r));
            double *dst = c == -3   ? &ps->auroc_all
                          : c == -2 ? &ps->auroc_seen
                          : c == -1 ? &ps->auroc_unseen
                                    : &ps->auroc[c];
            if (r.defined) *dst = r.value;
        }
    }
out:
    ps->defined = st == VB_OK;
    free(hit), free(cnt), free(score), free(label);
    free(fit), free(normal), free(fitted), free(Z), free(Xtr), free(ytr), free(coef), free(icpt);
    return st;
}

static const char *ds_name(const Dataset *ds) { return ds->source ? ds->source : "data set"; }

/* Per-video features of the videos with want[v] (all when want is NULL)
 * into feat[v * N_FEAT ...]; the others are left as they are. */
static void features_into(const Dataset *ds, const uint8_t *want, double *feat) {
    size_t nv = ds->nvideos, npx = (size_t)ds->frames.h * ds->frames.w;
#pragma omp parallel
    {
        double *map = vb_xmalloc(npx * sizeof *map);
#pragma omp for schedule(dynamic, 4)
        for (long v = 0; v < (long)nv; v++)
            if (!want || want[v]) video_features(ds, (size_t)v, feat + v * N_FEAT, map);
        free(map);
    }
}

double *probe_features(const Dataset *ds) {
    double *feat = vb_xmalloc((ds->nvideos ? ds->nvideos : 1) * N_FEAT * sizeof *feat);
    features_into(ds, NULL, feat);
    return feat;
}

/* The probes on features `feat` (NULL: computed here for the selected videos). */
static VbStatus probe_core(const Dataset *ds, const double *given, const ProbeSelect *sel,
                           double alpha, ProbeResult *out) {
    memset(out, 0, sizeof *out);
    if (!(alpha > 0)) return VB_FAIL(VB_ERR_INPUT, "ridge alpha must be > 0 (got %g)", alpha);
    VbStatus st = VB_OK;
    double *own = NULL;
    size_t nv = ds->nvideos;
    int C = ds->nclasses;
    uint8_t *role = vb_xcalloc(nv ? nv : 1, 1);
    for (size_t i = 0; i < sel->nfit; i++) role[sel->fit[i]] = ROLE_FIT;
    for (size_t i = 0; i < sel->nscore; i++) {
        VB_ASSERT(role[sel->score[i]] != ROLE_FIT);
        role[sel->score[i]] = ROLE_SCORE;
    }
    size_t *vfit = vb_xcalloc((size_t)C, sizeof *vfit), *vsc = vb_xcalloc((size_t)C, sizeof *vsc);
    uint32_t min_frames = UINT32_MAX;
    for (size_t v = 0; v < nv; v++) {
        if (role[v] == ROLE_NONE) continue;
        (role[v] == ROLE_FIT ? vfit : vsc)[ds->videos[v].cls]++;
        if (ds->videos[v].nframes < min_frames) min_frames = ds->videos[v].nframes;
    }
    int fit_classes = 0, big = 0;
    out->nclasses = C;
    for (int c = 0; c < C; c++) {
        fit_classes += vfit[c] > 0;
        out->train_videos += vfit[c], out->test_videos += vsc[c];
        if (vfit[c] > vfit[big]) big = c;
        if (vsc[c] && !(sel->unseen && sel->unseen[c])) out->test_classes++;
    }
    /* one class is enough for the distance probe when it is the normal one */
    if (fit_classes < 2 && !(fit_classes == 1 && vfit[ds->normal] > 0)) {
        st = VB_FAIL(VB_ERR_INPUT,
                     "%s: the probe needs Train videos of at least two classes, or of the normal "
                     "class",
                     ds_name(ds));
        goto out;
    }
    if (out->test_videos == 0) {
        st = VB_FAIL(VB_ERR_INPUT, "%s: the probe needs Test videos", ds_name(ds));
        goto out;
    }
    size_t seen_scored = 0;
    for (int c = 0; c < C; c++)
        if (!(sel->unseen && sel->unseen[c])) seen_scored += vsc[c];
    out->majority_accuracy = seen_scored ? (double)vsc[big] / (double)seen_scored : NAN;

    if (!given) {
        own = vb_xcalloc((nv ? nv : 1) * N_FEAT, sizeof *own);
        features_into(ds, role, own); /* role != 0: fitted or scored */
    }
    const double *feat = given ? given : own;
    int cols[N_FEAT];
    for (int s = 0; s < PROBE_NSETS; s++) {
        ProbeSet *ps = &out->set[s];
        int dim = 0;
        for (int k = 0; k < 3; k++) {
            if (!(s == PROBE_ALL || s == k)) continue;
            if (k == PROBE_MOTION && min_frames < 2) continue;
            for (int j = 0; j < set_dim[k]; j++) cols[dim++] = set_off[k] + j;
        }
        if (s == PROBE_MOTION && min_frames < 2) {
            ps->reason = "some videos have a single frame";
            continue;
        }
        VB_CHECK(run_set(ds, feat, role, sel->unseen, cols, dim, alpha, ps));
    }
out:
    free(own), free(role), free(vfit), free(vsc);
    if (st != VB_OK) probe_free(out);
    return st;
}

VbStatus probe_run_select(const Dataset *ds, const ProbeSelect *sel, double alpha,
                          ProbeResult *out) {
    return probe_core(ds, NULL, sel, alpha, out);
}

VbStatus probe_run_features(const Dataset *ds, const double *feat, const ProbeSelect *sel,
                            double alpha, ProbeResult *out) {
    VB_ASSERT(feat != NULL);
    return probe_core(ds, feat, sel, alpha, out);
}

VbStatus probe_run(const Dataset *ds, double alpha, ProbeResult *out) {
    size_t nv = ds->nvideos, nf = 0, ns = 0;
    uint32_t *fit = vb_xmalloc((nv ? nv : 1) * sizeof *fit);
    uint32_t *score = vb_xmalloc((nv ? nv : 1) * sizeof *score);
    for (size_t v = 0; v < nv; v++) {
        if (ds->videos[v].split == DS_TRAIN) fit[nf++] = (uint32_t)v;
        else score[ns++] = (uint32_t)v;
    }
    ProbeSelect sel = {fit, nf, score, ns, NULL};
    VbStatus st = probe_run_select(ds, &sel, alpha, out);
    free(fit), free(score);
    return st;
}

void probe_free(ProbeResult *r) {
    for (int s = 0; s < PROBE_NSETS; s++) {
        free(r->set[s].recall);
        free(r->set[s].auroc);
        r->set[s].recall = r->set[s].auroc = NULL;
    }
}
