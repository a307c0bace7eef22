/* cuda_testutil: what the GPU tests (tests/test_cuda_*.c, suites cuda_*)
 * share — the CUDA table or a clean skip, moving arrays between the host and
 * a backend, and the comparison of a CUDA result with the CPU reference's.
 *
 * cuda_or_skip() skips the test when no CUDA backend can run here (not
 * compiled in, no driver, no device); with VADBENCH_REQUIRE_CUDA=1 (the
 * device script sets it) that is a failure instead. With
 * VADBENCH_TEST_CUDA_AS_CPU=1 it hands out the CPU table in place of the
 * CUDA one: the GPU tests then compare the CPU with itself, which checks
 * the tests' own plumbing (sizes, buffers, contracts) on a machine without
 * a GPU; tests that need a real device (bf16) skip in that mode.
 *
 * Tolerances (cu_assert_close): |gpu - cpu| <= tol * (|cpu| + 0.1 * max|cpu|)
 * + 1e-30, elementwise: 1e-4 for forward outputs, 1e-3 for gradients (the
 * PyTorch parity tests' figures), bf16 results against the fp32 CPU with
 * CU_TOL_BF16 of the tensor's largest value. */
#ifndef VB_CUDA_TESTUTIL_H
#define VB_CUDA_TESTUTIL_H

#include "testutil.h"

#define CU_TOL_FWD 1e-4
#define CU_TOL_GRAD 1e-3
#define CU_TOL_BF16 3e-2

static inline bool cu_as_cpu(void) {
    const char *e = getenv("VADBENCH_TEST_CUDA_AS_CPU");
    return e && *e && strcmp(e, "0") != 0;
}

static inline const KOps *cuda_or_skip(void) {
    if (cu_as_cpu()) return kops_cpu();
    const KOps *k = kops_get(K_BACKEND_CUDA);
    if (k) return k;
    const char *req = getenv("VADBENCH_REQUIRE_CUDA");
    if (req && *req && strcmp(req, "0") != 0)
        cr_assert_fail("VADBENCH_REQUIRE_CUDA is set, but: %s", vb_errmsg());
    cr_skip_test("no CUDA backend here: %s", vb_errmsg());
    return NULL;
}

/* The CUDA table in bf16 precision, or a skip (also in CPU-as-CUDA mode). */
static inline const KOps *cuda_bf16_or_skip(void) {
    if (cu_as_cpu()) cr_skip_test("bf16 needs a real CUDA device");
    const KOps *k = cuda_or_skip();
    cr_assert_eq(k->set_precision(K_PREC_BF16), VB_OK, "%s", vb_errmsg());
    return k;
}

/* A backend copy of host array h [n]. */
static inline float *cu_put(const KOps *k, const float *h, size_t n) {
    float *d = (float *)k->alloc((n ? n : 1) * sizeof(float));
    cr_assert_not_null(d, "%s: cannot allocate %zu floats", k->name, n);
    if (n) k->upload(d, h, n * sizeof(float));
    return d;
}

/* A host copy of backend array d [n] (after the backend's pending work). */
static inline float *cu_get(const KOps *k, const float *d, size_t n) {
    float *h = tu_alloc(n);
    k->sync();
    if (n) k->download(h, d, n * sizeof(float));
    cr_assert_eq(k->status(), VB_OK, "%s backend: %s", k->name, vb_errmsg());
    return h;
}

/* A backend array of n NaNs: an output the op must overwrite. */
static inline float *cu_nan(const KOps *k, size_t n) {
    float *h = tu_alloc(n);
    for (size_t i = 0; i < n; i++) h[i] = NAN;
    float *d = cu_put(k, h, n);
    free(h);
    return d;
}

/* Random host array [n] in [lo, hi) and its backend copy. */
static inline float *cu_rand_pair(const KOps *k, size_t n, uint64_t seed, float lo, float hi,
                                  float **dev) {
    float *h = tu_rand(n, seed, lo, hi);
    *dev = cu_put(k, h, n);
    return h;
}

static inline void cu_assert_close(const char *what, const float *got, const float *want, size_t n,
                                   double tol) {
    double mx = 0;
    for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs((double)want[i]));
    size_t worst = 0;
    double wr = -1;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        double lim = tol * (fabs((double)want[i]) + 0.1 * mx) + 1e-30;
        double r = isnan(d) ? INFINITY : d / lim;
        if (r > wr) wr = r, worst = i;
    }
    if (n == 0) return;
    cr_assert(
        wr <= 1.0,
        "%s: element %zu of %zu: cuda %.9g, cpu %.9g (|diff| %.3g; allowed %g x (|cpu| + 0.1 max|cpu| %.3g))",
        what, worst, n, (double)got[worst], (double)want[worst],
        fabs((double)got[worst] - (double)want[worst]), tol, mx);
}

/* bf16 band: |gpu - cpu| <= CU_TOL_BF16 * max|cpu| (+ a floor). */
static inline void cu_assert_bf16(const char *what, const float *got, const float *want, size_t n) {
    double mx = 0, md = 0;
    size_t worst = 0;
    for (size_t i = 0; i < n; i++) mx = fmax(mx, fabs((double)want[i]));
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        if (isnan(d)) d = INFINITY;
        if (d > md) md = d, worst = i;
    }
    cr_assert(md <= CU_TOL_BF16 * mx + 1e-6,
              "%s (bf16): element %zu: cuda %.7g, cpu %.7g (|diff| %.3g > %g x max %.3g)", what,
              worst, (double)got[worst], (double)want[worst], md, CU_TOL_BF16, mx);
}

/* Compare backend array d [n] with host reference want. */
static inline void cu_check(const KOps *k, const char *what, const float *d, const float *want,
                            size_t n, double tol) {
    float *h = cu_get(k, d, n);
    cu_assert_close(what, h, want, n, tol);
    free(h);
}

/* The same bits as the host reference (NaNs included): for ops that compute
 * every element in the CPU's order. */
static inline void cu_check_bits(const KOps *k, const char *what, const float *d, const float *want,
                                 size_t n) {
    float *h = cu_get(k, d, n);
    for (size_t i = 0; i < n; i++)
        cr_assert(!memcmp(&h[i], &want[i], sizeof(float)),
                  "%s: element %zu of %zu: cuda %.9g, cpu %.9g (bits differ)", what, i, n,
                  (double)h[i], (double)want[i]);
    free(h);
}

#endif
