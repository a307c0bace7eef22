/* testutil: helpers shared by the Criterion tests — deterministic fills,
 * closeness checks with a report of the worst element, and central
 * finite-difference gradient checks.
 *
 * Finite differences in float32: the kernels compute in float32, so a
 * central difference with step h has truncation error O(h^2 |f'''|) and
 * rounding error about u*|L|/h (u = 6e-8). With L a sum of O(100..1000)
 * terms of size O(1), h = 1e-2 gives rounding ~1e-3 absolute on the
 * derivative and truncation ~1e-4 for the smooth ops here. Checks therefore
 * use |analytic - numeric| <= atol + rtol*|numeric| with atol = 2e-3,
 * rtol = 1e-2 unless a test says otherwise. The loss L = sum(y * r) with a
 * fixed random r is accumulated in double so it adds no rounding of its own. */
#ifndef VB_TESTUTIL_H
#define VB_TESTUTIL_H

#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "kernels/kernels.h"

/* Deterministic values in [lo, hi) from a seed (splitmix-based). */
static inline void tu_fill(float *x, size_t n, uint64_t seed, float lo, float hi) {
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        x[i] = lo + (hi - lo) * (float)((z >> 40) * (1.0 / 16777216.0));
    }
}

static inline float *tu_alloc(size_t n) {
    float *p = calloc(n ? n : 1, sizeof(float));
    cr_assert(p != NULL);
    return p;
}

static inline float *tu_rand(size_t n, uint64_t seed, float lo, float hi) {
    float *p = tu_alloc(n);
    tu_fill(p, n, seed, lo, hi);
    return p;
}

/* Assert |a-b| <= atol + rtol*|b| elementwise; reports the worst element. */
static inline void tu_assert_close(const float *a, const float *b, size_t n, double rtol,
                                   double atol, const char *what) {
    size_t worst = 0;
    double worst_excess = -1;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        double lim = atol + rtol * fabs((double)b[i]);
        if (!(d <= lim) && (d - lim > worst_excess || worst_excess < 0 || isnan(d))) {
            worst_excess = isnan(d) ? INFINITY : d - lim;
            worst = i;
        }
    }
    cr_assert(worst_excess < 0, "%s: element %zu: got %.8g, expected %.8g (rtol %g, atol %g)", what,
              worst, (double)a[worst], (double)b[worst], rtol, atol);
}

static inline void tu_assert_bytes_equal(const void *a, const void *b, size_t bytes,
                                         const char *what) {
    cr_assert(memcmp(a, b, bytes) == 0, "%s: outputs differ byte-wise", what);
}

/* L = sum_i y[i]*r[i] in double. */
static inline double tu_dot(const float *y, const float *r, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)y[i] * (double)r[i];
    return s;
}

/* Central-difference check of d(loss)/d(x[i]) against grad[i].
 * `loss` recomputes the forward and returns L for the current contents of
 * x. Checks every element when n <= max_checks, otherwise an evenly spaced
 * subset (always including the first and last). */
typedef double (*tu_loss_fn)(void *ctx);
static inline void tu_gradcheck(tu_loss_fn loss, void *ctx, float *x, const float *grad, size_t n,
                                float h, double rtol, double atol, size_t max_checks,
                                const char *what) {
    size_t step = n <= max_checks ? 1 : (n + max_checks - 1) / max_checks;
    for (size_t i = 0; i < n; i += step) {
        size_t j = (i + step >= n) ? n - 1 : i;
        float saved = x[j];
        x[j] = saved + h;
        double lp = loss(ctx);
        x[j] = saved - h;
        double lm = loss(ctx);
        x[j] = saved;
        double num = (lp - lm) / ((double)(saved + h) - (double)(saved - h));
        double d = fabs(num - (double)grad[j]);
        cr_assert(d <= atol + rtol * fabs(num),
                  "%s: gradient element %zu: analytic %.8g, numeric %.8g (rtol %g, atol %g)", what,
                  j, (double)grad[j], num, rtol, atol);
        if (j == n - 1) break;
    }
}

/* Run a shell command (printf-style); its exit status, or 128 + the signal
 * that ended it. */
static inline int tu_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int tu_sh(const char *fmt, ...) {
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
}

#endif
