/* preprocess: unit scaling, ImageNet normalisation and Ruff's GCN-L1 +
 * min-max scaling of frames (see preprocess.h). */
#include "preprocess.h"

#include <math.h>
#include <stdlib.h>

#include "kernels/status.h"

const char *const preprocess_names[] = {"imagenet", "unit", "gcn_l1_minmax", NULL};

static const float MEAN[3] = {0.485f, 0.456f, 0.406f}, STD[3] = {0.229f, 0.224f, 0.225f};

void prep_gcn_l1(float *x, size_t n) {
    double mean = 0, scale = 0;
    for (size_t i = 0; i < n; i++) mean += x[i];
    mean /= (double)n;
    for (size_t i = 0; i < n; i++) scale += fabs(x[i] - mean);
    scale /= (double)n;
    for (size_t i = 0; i < n; i++) x[i] = scale > 0 ? (float)((x[i] - mean) / scale) : 0.0f;
}

void prep_frame(const PrepConfig *p, const uint8_t *src, int h, int w, int c, float *out) {
    size_t n = (size_t)h * (size_t)w * (size_t)c;
    switch (p->kind) {
    case PREP_IMAGENET:
        VB_ASSERT(c == 3);
        for (size_t i = 0; i < n; i++)
            out[i] = ((float)src[i] * (1.0f / 255.0f) - MEAN[i % 3]) / STD[i % 3];
        return;
    case PREP_UNIT:
        for (size_t i = 0; i < n; i++) out[i] = (float)src[i] * (1.0f / 255.0f);
        return;
    case PREP_GCN_L1_MINMAX: {
        for (size_t i = 0; i < n; i++) out[i] = (float)src[i] * (1.0f / 255.0f);
        prep_gcn_l1(out, n);
        float span = p->hi > p->lo ? p->hi - p->lo : 1.0f;
        for (size_t i = 0; i < n; i++) out[i] = (out[i] - p->lo) / span;
        return;
    }
    }
}

size_t prep_gcn_range(const Dataset *ds, const ClipSet *cs, int cls, float *lo, float *hi) {
    int h = ds->frames.h, w = ds->frames.w, c = ds->frames.c;
    size_t n = (size_t)h * w * c, seen = 0;
    float *buf = vb_xmalloc(n * sizeof(float));
    float mn = INFINITY, mx = -INFINITY;
    for (size_t i = 0; i < cs->n; i++) {
        if (cls >= 0 && ds->videos[cs->clips[i].video].cls != cls) continue;
        for (int t = 0; t < cs->spec.T; t++) {
            const uint8_t *f = clips_frame(ds, cs, i, t);
            for (size_t j = 0; j < n; j++) buf[j] = (float)f[j] * (1.0f / 255.0f);
            prep_gcn_l1(buf, n);
            for (size_t j = 0; j < n; j++)
                mn = buf[j] < mn ? buf[j] : mn, mx = buf[j] > mx ? buf[j] : mx;
            seen++;
        }
    }
    free(buf);
    *lo = seen ? mn : 0.0f, *hi = seen ? mx : 1.0f;
    return seen;
}
