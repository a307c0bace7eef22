/* validity_testutil: fixture access for the LeNet / Deep SVDD protocol tests
 * (tests/test_torch_lenet.c, tests/test_ruff_parity.c): tensors and JSON
 * metadata of a safetensors file in tests/fixtures_validity/ (made by
 * tests/reference/make_validity_fixtures.py), and the tolerance rule of
 * test_torch_kernels.c: element i passes when
 *     |r_i - e_i| <= tol * (|e_i| + 0.1 * max_j |e_j|),
 * reporting the worst element. */
#ifndef VB_VALIDITY_TESTUTIL_H
#define VB_VALIDITY_TESTUTIL_H

#include <jansson.h>

#include "models/safetensors.h"
#include "testutil.h"

#define VFX_DIR "tests/fixtures_validity/"

typedef struct Vfx {
    StFile f;
    const char *path;
    float *bufs[128];
    int nbufs;
} Vfx;

static inline void vfx_open(Vfx *v, const char *path) {
    memset(v, 0, sizeof *v);
    v->path = path;
    cr_assert_eq(st_open(path, &v->f), VB_OK,
                 "%s (regenerate with `make fixtures`, which needs python3-torch and "
                 "dataset-fashion-mnist)",
                 vb_errmsg());
}

static inline void vfx_close(Vfx *v) {
    for (int i = 0; i < v->nbufs; i++) free(v->bufs[i]);
    st_close(&v->f);
}

/* Tensor `name` as floats (its element count in *n when n is not NULL). */
static inline float *vfx_get(Vfx *v, const char *name, int64_t *n) {
    const StTensor *t = st_find(&v->f, name);
    cr_assert_not_null(t, "%s: no tensor '%s'", v->path, name);
    cr_assert_lt(v->nbufs, 128);
    float *p = tu_alloc((size_t)t->numel);
    cr_assert_eq(st_read_f32(&v->f, t, p, t->numel), VB_OK, "%s", vb_errmsg());
    v->bufs[v->nbufs++] = p;
    if (n) *n = t->numel;
    return p;
}

/* Tensor "<case>.<what>" with exactly `want` elements. */
static inline float *vfx_case(Vfx *v, const char *cname, const char *what, int64_t want) {
    char name[160];
    snprintf(name, sizeof name, "%s.%s", cname, what);
    int64_t n;
    float *p = vfx_get(v, name, &n);
    cr_assert_eq(n, want, "%s: %lld elements, the test expects %lld", name, (long long)n,
                 (long long)want);
    return p;
}

/* Metadata entry `key` parsed as JSON (caller decrefs). */
static inline json_t *vfx_meta(Vfx *v, const char *key) {
    const char *m = st_meta(&v->f, key);
    cr_assert_not_null(m, "%s: no metadata '%s'", v->path, key);
    json_error_t err;
    json_t *j = json_loads(m, JSON_DECODE_ANY, &err);
    cr_assert_not_null(j, "%s: metadata '%s' is not JSON: %s", v->path, key, err.text);
    return j;
}

static inline int vfx_geo_i(json_t *g, const char *k) {
    json_t *x = json_object_get(g, k);
    cr_assert(json_is_integer(x), "geometry lacks integer '%s'", k);
    return (int)json_integer_value(x);
}

static inline double vfx_geo_f(json_t *g, const char *k) {
    json_t *x = json_object_get(g, k);
    cr_assert(json_is_number(x), "geometry lacks number '%s'", k);
    return json_number_value(x);
}

static inline void vfx_close_to(const char *label, const float *got, const float *want, int64_t n,
                                double tol) {
    double scale = 0;
    for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs((double)want[i]));
    int64_t worst = 0;
    double worst_ratio = -1;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        double lim = tol * (fabs((double)want[i]) + 0.1 * scale);
        double r = isnan(d) ? INFINITY : (lim > 0 ? d / lim : (d > 0 ? INFINITY : 0));
        if (r > worst_ratio) worst_ratio = r, worst = i;
    }
    if (n == 0) return;
    cr_assert(worst_ratio <= 1.0,
              "%s: element %lld of %lld: got %.9g, PyTorch %.9g (tolerance %g of |ref| + 0.1 "
              "max|ref| %.3g)",
              label, (long long)worst, (long long)n, (double)got[worst], (double)want[worst], tol,
              scale);
}

#endif
