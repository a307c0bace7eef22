/* stats_power: how large a difference a comparison could detect, and how
 * many runs it would take (see stats.h, "power").
 *
 * The power of a two-sided t test at level alpha against a true effect
 * delta is P(|T'| > c), with c = t_{1-alpha/2, df} and T' a noncentral t
 * with df degrees of freedom and noncentrality ncp = delta / se:
 *   T' = (Z + ncp) / S,  S = sqrt(V / df),  V ~ chi-square(df),
 *   power = E_S[ P(Z > c S - ncp) + P(Z < -c S - ncp) ],
 * integrated over the density of S, f(s) = 2 df s chi2pdf(df s^2; df),
 * which is finite at 0 for df >= 1, by composite Simpson on [0, s_max].
 * The minimum detectable effect solves power(ncp) = target for ncp by
 * bisection (power rises with ncp) and scales it by the standard error:
 *   paired (n pairs, sd of the differences):  se = sd / sqrt(n), df = n - 1
 *   two groups (pooled sd):  se = sd sqrt(1/n1 + 1/n2), df = n1 + n2 - 2. */
#include <math.h>

#include "harness/stats/stats.h"

#define POWER_STEPS 2000 /* Simpson intervals (even) */

/* Density of S = sqrt(V / df), V ~ chi-square(df). */
static double s_density(double s, double df) {
    if (s <= 0) return df == 1 ? sqrt(2.0 / M_PI) : 0.0;
    double v = df * s * s;
    double logchi = (df / 2 - 1) * log(v) - v / 2 - (df / 2) * log(2.0) - lgamma(df / 2);
    return 2 * df * s * exp(logchi);
}

double stats_t_power(double ncp, double df, double alpha) {
    if (!(df >= 1) || !(alpha > 0 && alpha < 1) || !isfinite(ncp)) return NAN;
    double c = stats_t_quantile(1 - alpha / 2, df);
    double smax = 1 + 12 / sqrt(2 * df) + 2;
    double h = smax / POWER_STEPS, sum = 0;
    for (int i = 0; i <= POWER_STEPS; i++) {
        double s = i * h;
        double g = (stats_normal_sf(c * s - ncp) + stats_normal_sf(c * s + ncp)) * s_density(s, df);
        sum += g * (i == 0 || i == POWER_STEPS ? 1 : i % 2 ? 4 : 2);
    }
    double p = sum * h / 3;
    return p < 0 ? 0 : p > 1 ? 1 : p;
}

/* The noncentrality at which the test has `power`. */
static double ncp_for_power(double df, double alpha, double power) {
    double lo = 0, hi = 1;
    while (stats_t_power(hi, df, alpha) < power && hi < 1e6) hi *= 2;
    for (int i = 0; i < 100 && hi - lo > 1e-12 * hi; i++) {
        double mid = (lo + hi) / 2;
        if (stats_t_power(mid, df, alpha) < power) lo = mid;
        else hi = mid;
    }
    return hi;
}

static bool valid(double sd, double alpha, double power) {
    return sd >= 0 && isfinite(sd) && alpha > 0 && alpha < 1 && power > alpha / 2 && power < 1;
}

double stats_mde_paired(double sd, size_t n, double alpha, double power) {
    if (n < 2 || !valid(sd, alpha, power)) return NAN;
    return ncp_for_power((double)n - 1, alpha, power) * sd / sqrt((double)n);
}

double stats_mde_two_sample(double sd, size_t n1, size_t n2, double alpha, double power) {
    if (n1 < 1 || n2 < 1 || n1 + n2 < 3 || !valid(sd, alpha, power)) return NAN;
    double se = sd * sqrt(1.0 / (double)n1 + 1.0 / (double)n2);
    return ncp_for_power((double)(n1 + n2 - 2), alpha, power) * se;
}

/* Smallest n in [lo, max] with enough(n), for a predicate that turns true
 * and stays true as n grows; 0 when none. */
static size_t smallest(size_t lo, size_t max, bool (*enough)(size_t, const double *),
                       const double *arg) {
    if (!enough(max, arg)) return 0;
    size_t hi = max;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (enough(mid, arg)) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

/* arg: sd, |effect|, alpha, power */
static bool paired_enough(size_t n, const double *a) {
    double ncp = a[1] / (a[0] / sqrt((double)n));
    return stats_t_power(ncp, (double)n - 1, a[2]) >= a[3];
}

static bool two_sample_enough(size_t n, const double *a) {
    double ncp = a[1] / (a[0] * sqrt(2.0 / (double)n));
    return stats_t_power(ncp, 2.0 * (double)n - 2, a[2]) >= a[3];
}

size_t stats_n_paired(double sd, double effect, double alpha, double power, size_t max) {
    if (!valid(sd, alpha, power) || !isfinite(effect) || effect == 0 || max < 2) return 0;
    if (sd == 0) return 2;
    double a[4] = {sd, fabs(effect), alpha, power};
    return smallest(2, max, paired_enough, a);
}

size_t stats_n_two_sample(double sd, double effect, double alpha, double power, size_t max) {
    if (!valid(sd, alpha, power) || !isfinite(effect) || effect == 0 || max < 2) return 0;
    if (sd == 0) return 2;
    double a[4] = {sd, fabs(effect), alpha, power};
    return smallest(2, max, two_sample_enough, a);
}
