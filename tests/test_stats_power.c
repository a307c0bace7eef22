/* Tests of the power analysis (harness/stats/stats_power.c): the exact
 * noncentral-t power against its limits, and the minimum detectable effect
 * and runs-needed figures against simulated experiments with known effects
 * (20000 simulated experiments each, normal data from the Philox streams,
 * the same two-sided t tests the figures assume; the rejection rate's
 * standard error at 0.8 is 0.003, the bands are 4 of them). */
#include <criterion/criterion.h>
#include <math.h>

#include "harness/stats/stats.h"

#define SIMS 20000

Test(stats_power, limits_of_the_exact_power) {
    /* no effect: the test's level */
    for (double df = 1; df <= 64; df *= 2)
        cr_assert_float_eq(stats_t_power(0, df, 0.05), 0.05, 2e-6, "df %g: %.8f", df,
                           stats_t_power(0, df, 0.05));
    /* many degrees of freedom: the normal test, power 0.8 at z_.975 + z_.8 */
    cr_assert_float_eq(stats_t_power(1.959964 + 0.841621, 1e5, 0.05), 0.80, 1e-4);
    /* rises with the effect, symmetric in its sign */
    cr_assert(stats_t_power(2, 4, 0.05) > stats_t_power(1, 4, 0.05));
    cr_assert_float_eq(stats_t_power(-2, 4, 0.05), stats_t_power(2, 4, 0.05), 1e-12);
    cr_assert(isnan(stats_t_power(1, 0.5, 0.05)) && isnan(stats_mde_paired(1, 1, 0.05, 0.8)));
    cr_assert(isnan(stats_mde_paired(NAN, 5, 0.05, 0.8)));
    cr_assert_eq(stats_mde_paired(0, 5, 0.05, 0.8), 0.0);
}

/* Share of SIMS paired experiments (n pairs, differences ~ N(delta, sd))
 * whose two-sided paired t test at 0.05 rejects "no difference". */
static double sim_paired(size_t n, double delta, double sd, const char *stream) {
    RngStream r = rng_stream(7, stream);
    double c = stats_t_quantile(0.975, (double)n - 1);
    int reject = 0;
    for (int e = 0; e < SIMS; e++) {
        double x[64], m = 0, v = 0;
        for (size_t i = 0; i < n; i++) m += x[i] = delta + sd * rng_normal(r, (uint64_t)e, i);
        m /= (double)n;
        for (size_t i = 0; i < n; i++) v += (x[i] - m) * (x[i] - m);
        double t = m / sqrt(v / ((double)n - 1) / (double)n);
        reject += fabs(t) > c;
    }
    return (double)reject / SIMS;
}

/* The same for two groups of n runs each (Student's pooled t test). */
static double sim_two(size_t n, double delta, double sd, const char *stream) {
    RngStream r = rng_stream(9, stream);
    double c = stats_t_quantile(0.975, 2.0 * (double)n - 2);
    int reject = 0;
    for (int e = 0; e < SIMS; e++) {
        double ma = 0, mb = 0, va = 0, vb = 0, a[64], b[64];
        for (size_t i = 0; i < n; i++) {
            ma += a[i] = sd * rng_normal(r, (uint64_t)e, 2 * i);
            mb += b[i] = delta + sd * rng_normal(r, (uint64_t)e, 2 * i + 1);
        }
        ma /= (double)n, mb /= (double)n;
        for (size_t i = 0; i < n; i++)
            va += (a[i] - ma) * (a[i] - ma), vb += (b[i] - mb) * (b[i] - mb);
        double sp = sqrt((va + vb) / (2.0 * (double)n - 2));
        double t = (mb - ma) / (sp * sqrt(2.0 / (double)n));
        reject += fabs(t) > c;
    }
    return (double)reject / SIMS;
}

Test(stats_power, the_minimum_detectable_effect_is_detected_80_percent_of_the_time) {
    size_t ns[] = {2, 3, 5, 10};
    for (int k = 0; k < 4; k++) {
        double mde = stats_mde_paired(1.5, ns[k], 0.05, 0.8);
        double p = sim_paired(ns[k], mde, 1.5, "paired");
        cr_assert(fabs(p - 0.80) < 0.012, "paired n=%zu: MDE %.4f detected in %.4f of runs", ns[k],
                  mde, p);
        /* half the effect is detected far less often */
        cr_assert(sim_paired(ns[k], mde / 2, 1.5, "half") < 0.5);
    }
    size_t gs[] = {2, 4, 8};
    for (int k = 0; k < 3; k++) {
        double mde = stats_mde_two_sample(0.2, gs[k], gs[k], 0.05, 0.8);
        double p = sim_two(gs[k], mde, 0.2, "two");
        cr_assert(fabs(p - 0.80) < 0.012, "two groups of %zu: MDE %.4f detected in %.4f", gs[k],
                  mde, p);
    }
    /* fewer runs, larger effects: 2 seeds detect only effects of about 10 sd */
    cr_assert(stats_mde_paired(1, 2, 0.05, 0.8) > 8 && stats_mde_paired(1, 2, 0.05, 0.8) < 12);
    cr_assert(stats_mde_paired(1, 10, 0.05, 0.8) < 1.1);
}

Test(stats_power, runs_needed_is_the_smallest_that_reaches_80_percent) {
    double sd = 1.0, effect = 0.6;
    size_t n = stats_n_paired(sd, effect, 0.05, 0.8, STATS_N_MAX);
    cr_assert(n > 5 && n < 40, "n = %zu", n);
    cr_assert(stats_mde_paired(sd, n, 0.05, 0.8) <= effect + 1e-12);
    cr_assert(stats_mde_paired(sd, n - 1, 0.05, 0.8) > effect);
    double p = sim_paired(n, effect, sd, "needed");
    cr_assert(p >= 0.79, "with %zu pairs the effect was detected in %.4f of runs", n, p);
    cr_assert(sim_paired(n / 2, effect, sd, "needed/2") < 0.6);
    size_t g = stats_n_two_sample(sd, effect, 0.05, 0.8, STATS_N_MAX);
    cr_assert(g > n, "two groups need more runs than pairs (%zu vs %zu)", g, n);
    cr_assert(sim_two(g, effect, sd, "g") >= 0.79);
    cr_assert(stats_mde_two_sample(sd, g - 1, g - 1, 0.05, 0.8) > effect);
    /* no spread: the minimum; an effect of 0 or beyond max: 0 */
    cr_assert_eq(stats_n_paired(0, 0.1, 0.05, 0.8, 100), 2);
    cr_assert_eq(stats_n_paired(1, 0, 0.05, 0.8, 100), 0);
    cr_assert_eq(stats_n_paired(1, 0.01, 0.05, 0.8, 100), 0);
    cr_assert_eq(stats_n_paired(1, -0.6, 0.05, 0.8, STATS_N_MAX), n);
}
