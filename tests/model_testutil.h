/* model_testutil: helpers for tests that inspect a built model. */
#ifndef VB_MODEL_TESTUTIL_H
#define VB_MODEL_TESTUTIL_H

#include "testutil.h"

#include "models/hybrid.h"

/* BN running statistics of the model (its table's order), host copy. */
static inline float *bn_copy(const Hybrid *m, size_t *n) {
    *n = 0;
    for (int i = 0; i < m->pt.n; i++)
        if (strstr(m->pt.p[i].name, ".running_")) *n += m->pt.p[i].numel;
    float *v = tu_alloc(*n), *o = v;
    for (int i = 0; i < m->pt.n; i++)
        if (strstr(m->pt.p[i].name, ".running_")) {
            m->net.k->download(o, params_data(&m->pt, i), m->pt.p[i].numel * sizeof(float));
            o += m->pt.p[i].numel;
        }
    return v;
}

#endif
