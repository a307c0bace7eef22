/* stats: distributions (regularised incomplete beta, Student t, normal),
 * per-seed summaries with t-intervals, percentile-bootstrap intervals from
 * the counter RNG, and the better/worse/no-difference verdict. Definitions
 * are in stats.h.
 *
 * The incomplete beta is the classic continued fraction evaluated with the
 * modified Lentz method, switched to the symmetric form I_x(a,b) =
 * 1 - I_{1-x}(b,a) where that converges faster; callers pass 1-x computed
 * without cancellation. The t quantile inverts the tail probability by
 * bisection, which is slow-ish (~60 CDF evaluations) but cannot diverge.
 *
 * Must not be asked to: compute quantiles of other distributions, or run a
 * bootstrap on data with NaN/Inf (rejected). */
#include "harness/stats/stats.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------- distributions */

/* Continued fraction for I_x(a, b) (converges fast for x < (a+1)/(a+b+2));
 * returns the fraction K with I = front / K. */
static double beta_cf(double a, double b, double x) {
    const double tiny = 1e-300, eps = 1e-16;
    double f = 1.0, c = 1.0, d = 0.0;
    for (int m = 0; m < 100000; m++) {
        /* two terms per m: d_{2m+1} then d_{2m+2} */
        for (int half = 0; half < 2; half++) {
            double num;
            if (half == 0) {
                num = -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0));
            } else {
                double mm = m + 1.0;
                num = mm * (b - mm) * x / ((a + 2.0 * mm - 1.0) * (a + 2.0 * mm));
            }
            d = 1.0 + num * d;
            if (fabs(d) < tiny) d = tiny;
            c = 1.0 + num / c;
            if (fabs(c) < tiny) c = tiny;
            d = 1.0 / d;
            double delta = c * d;
            f *= delta;
            if (fabs(delta - 1.0) < eps) return f;
        }
    }
    return f; /* not reached for the arguments used here */
}

/* I_x(a, b) with y = 1 - x supplied by the caller (no cancellation). */
static double betainc_xy(double a, double b, double x, double y) {
    if (x <= 0.0) return 0.0;
    if (y <= 0.0) return 1.0;
    double lbeta = lgamma(a) + lgamma(b) - lgamma(a + b);
    if (x < (a + 1.0) / (a + b + 2.0)) {
        double front = exp(a * log(x) + b * log(y) - lbeta) / a;
        return front / beta_cf(a, b, x);
    }
    double front = exp(b * log(y) + a * log(x) - lbeta) / b;
    return 1.0 - front / beta_cf(b, a, y);
}

double stats_betainc(double a, double b, double x) {
    if (!(a > 0.0) || !(b > 0.0) || !(x >= 0.0 && x <= 1.0)) return NAN;
    return betainc_xy(a, b, x, 1.0 - x);
}

/* P(T > |t|) for t of either sign. */
static double t_tail(double t, double df) {
    if (isinf(t)) return 0.0;
    double t2 = t * t;
    double denom = df + t2;
    return 0.5 * betainc_xy(0.5 * df, 0.5, df / denom, t2 / denom);
}

double stats_t_cdf(double t, double df) {
    if (isnan(t) || !(df > 0.0)) return NAN;
    double tail = t_tail(t, df);
    return t > 0 ? 1.0 - tail : tail;
}

double stats_t_quantile(double p, double df) {
    if (!(p > 0.0 && p < 1.0) || !(df > 0.0) || isinf(df)) return NAN;
    if (p == 0.5) return 0.0;
    double q = p < 0.5 ? p : 1.0 - p; /* target tail probability, < 0.5 */
    double lo = 0.0, hi = 1.0;
    while (t_tail(hi, df) > q) {
        lo = hi;
        hi *= 2.0;
        if (hi > 1e300) break;
    }
    for (int it = 0; it < 2000; it++) {
        double mid = 0.5 * (lo + hi);
        if (mid <= lo || mid >= hi) break;
        if (t_tail(mid, df) > q) lo = mid;
        else hi = mid;
    }
    double t = 0.5 * (lo + hi);
    return p < 0.5 ? -t : t;
}

double stats_normal_sf(double z) { return 0.5 * erfc(z / sqrt(2.0)); }

/* ---------------------------------------------------- summaries */

static Interval interval_undefined(const char *why) {
    return (Interval){.defined = false, .lo = NAN, .hi = NAN, .reason = why};
}

static VbStatus check_finite(const double *x, size_t n, const char *what) {
    VB_ASSERT(n == 0 || x);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return VB_FAIL(VB_ERR_NUMERIC, "%s %zu is %g", what, i, x[i]);
    return VB_OK;
}

VbStatus stats_summary(const double *x, size_t n, double level, Summary *out) {
    memset(out, 0, sizeof *out);
    if (n == 0) return VB_FAIL(VB_ERR_INPUT, "a summary needs at least one value");
    if (!(level > 0.0 && level < 1.0))
        return VB_FAIL(VB_ERR_INPUT, "interval level %g is outside (0, 1)", level);
    VB_TRY(check_finite(x, n, "value"));
    double s = 0;
    for (size_t i = 0; i < n; i++) s += x[i];
    out->n = n;
    out->mean = s / (double)n;
    if (n < 2) {
        out->sd = NAN;
        out->ci = interval_undefined("one value: no spread to estimate");
        out->half_width = NAN;
        return VB_OK;
    }
    double ss = 0;
    for (size_t i = 0; i < n; i++) ss += (x[i] - out->mean) * (x[i] - out->mean);
    out->sd = sqrt(ss / (double)(n - 1));
    double t = stats_t_quantile(0.5 * (1.0 + level), (double)(n - 1));
    double hw = t * out->sd / sqrt((double)n);
    out->ci = (Interval){.defined = true, .lo = out->mean - hw, .hi = out->mean + hw, .reason = ""};
    out->half_width = hw;
    return VB_OK;
}

/* ---------------------------------------------------- bootstrap */

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* numpy's default (linear) quantile of sorted v[0..n). */
static double sorted_quantile(const double *v, size_t n, double q) {
    double h = (double)(n - 1) * q;
    size_t i = (size_t)floor(h);
    if (i + 1 >= n) return v[n - 1];
    double frac = h - (double)i;
    return v[i] + frac * (v[i + 1] - v[i]);
}

static VbStatus bootstrap_core(const double *d, size_t n, size_t B, double level, RngStream rng,
                               Interval *out) {
    if (B < 2) return VB_FAIL(VB_ERR_INPUT, "a bootstrap needs at least 2 resamples, got %zu", B);
    if (!(level > 0.0 && level < 1.0))
        return VB_FAIL(VB_ERR_INPUT, "interval level %g is outside (0, 1)", level);
    if (n == 0) return VB_FAIL(VB_ERR_INPUT, "a bootstrap needs at least one value");
    if (n == 1) {
        *out = interval_undefined("one value: every resample is the same");
        return VB_OK;
    }
    double *means = malloc(B * sizeof *means);
    if (!means) return VB_FAIL(VB_ERR_NOMEM, "out of memory for %zu bootstrap means", B);
    for (size_t b = 0; b < B; b++) {
        double s = 0;
        for (size_t i = 0; i < n; i++) s += d[rng_below(rng, (uint64_t)b, (uint64_t)i, n)];
        means[b] = s / (double)n;
    }
    qsort(means, B, sizeof *means, cmp_double);
    double alpha = 1.0 - level;
    *out = (Interval){.defined = true,
                      .lo = sorted_quantile(means, B, 0.5 * alpha),
                      .hi = sorted_quantile(means, B, 1.0 - 0.5 * alpha),
                      .reason = ""};
    free(means);
    return VB_OK;
}

VbStatus stats_bootstrap_mean(const double *x, size_t n, size_t B, double level, RngStream rng,
                              Interval *out) {
    *out = interval_undefined("not computed");
    VB_TRY(check_finite(x, n, "value"));
    return bootstrap_core(x, n, B, level, rng, out);
}

VbStatus stats_bootstrap_paired_diff(const double *baseline, const double *candidate, size_t n,
                                     size_t B, double level, RngStream rng, Interval *out,
                                     double *mean_diff) {
    *out = interval_undefined("not computed");
    if (mean_diff) *mean_diff = NAN;
    VB_TRY(check_finite(baseline, n, "baseline value"));
    VB_TRY(check_finite(candidate, n, "candidate value"));
    if (n == 0) return VB_FAIL(VB_ERR_INPUT, "a paired difference needs at least one pair");
    double *d = malloc(n * sizeof *d);
    if (!d) return VB_FAIL(VB_ERR_NOMEM, "out of memory for %zu differences", n);
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        d[i] = candidate[i] - baseline[i];
        s += d[i];
    }
    if (mean_diff) *mean_diff = s / (double)n;
    VbStatus st = bootstrap_core(d, n, B, level, rng, out);
    free(d);
    return st;
}

/* ---------------------------------------------------- verdict */

StatsVerdict stats_verdict(Interval diff, StatsDirection dir) {
    if (!diff.defined || isnan(diff.lo) || isnan(diff.hi)) return STATS_NO_DIFFERENCE;
    int sign = diff.lo > 0.0 ? 1 : diff.hi < 0.0 ? -1 : 0;
    if (sign == 0) return STATS_NO_DIFFERENCE;
    if (dir == STATS_LOWER_IS_BETTER) sign = -sign;
    return sign > 0 ? STATS_BETTER : STATS_WORSE;
}

const char *stats_verdict_name(StatsVerdict v) {
    switch (v) {
    case STATS_BETTER: return "better";
    case STATS_WORSE: return "worse";
    case STATS_NO_DIFFERENCE: return "no detectable difference";
    }
    return "?";
}
