/* stats: statistics across seeds and samples for reports and regression
 * checks — summaries with Student-t intervals, percentile-bootstrap
 * intervals from the counter RNG, the better/worse/no-difference verdict,
 * the Mann-Whitney U test, and rounding of numbers to the digits their
 * interval supports.
 *
 * stats.c holds the distributions (regularised incomplete beta, Student t,
 * normal), summaries, bootstrap and verdict; stats_mwu.c the Mann-Whitney
 * test; stats_format.c the report formatting. All numeric work is double,
 * all randomness comes from kernels/rng.h (a bootstrap is a pure function
 * of its data, B, level and RngStream), and nothing here does I/O.
 *
 * Must not be asked to: decide which metric improves in which direction
 * (the caller says), correct for multiple comparisons, or give intervals
 * with good coverage from one or two seeds (they are honest but wide, and
 * a percentile bootstrap of very few values is known to be too narrow; the
 * t-interval is the one to print next to means). */
#ifndef VB_STATS_H
#define VB_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness/stats/metrics.h" /* the wing's other module: classification and ranking metrics */
#include "kernels/rng.h"
#include "kernels/status.h"

#define STATS_BOOTSTRAP_DEFAULT_B 10000
#define STATS_DEFAULT_LEVEL 0.95

/* A two-sided interval that may be undefined (too few values). */
typedef struct Interval {
    bool defined;
    double lo, hi;      /* NAN when !defined */
    const char *reason; /* static text when !defined, "" otherwise */
} Interval;

/* ---------------------------------------------------- distributions */

/* Regularised incomplete beta I_x(a, b), a, b > 0, x in [0, 1] (continued
 * fraction, relative accuracy ~1e-14). NAN for invalid arguments. */
double stats_betainc(double a, double b, double x);
/* Student t with df > 0 degrees of freedom (df need not be an integer):
 * CDF, and the quantile (inverse CDF) for p in (0, 1), found by bisection on
 * the tail probability 0.5 * I_{df/(df+t^2)}(df/2, 1/2). Relative error
 * ~1e-15 for df <= 1e4 (checked against closed forms and 40-digit mpmath;
 * scipy.stats.t.ppf itself is off by up to ~5e-9), degrading to ~1e-8 at
 * df = 1e8 through lgamma cancellation. NAN when invalid. */
double stats_t_cdf(double t, double df);
double stats_t_quantile(double p, double df);
/* Standard normal survival function P(Z > z) = erfc(z / sqrt 2) / 2. */
double stats_normal_sf(double z);

/* ---------------------------------------------------- summaries */

/* Mean, sample standard deviation (divisor n - 1) and the Student-t
 * interval mean +- t_{(1+level)/2, n-1} * sd / sqrt(n) of n values (one per
 * seed). n = 1: mean only, sd and ci undefined. A zero sd gives the
 * degenerate interval [mean, mean]. n = 0, a level outside (0, 1) or a
 * non-finite value is an error. half_width = (hi - lo) / 2, NAN when
 * undefined. */
typedef struct Summary {
    size_t n;
    double mean;
    double sd; /* NAN when n < 2 */
    Interval ci;
    double half_width;
} Summary;

VbStatus stats_summary(const double *x, size_t n, double level, Summary *out);

/* ---------------------------------------------------- bootstrap */

/* Percentile bootstrap interval of the mean of x[0..n): B resamples, each
 * of n indices drawn with replacement as rng_below(rng, b, i, n) (resample
 * b = the RNG step, draw i = the element), so the result is a pure function
 * of (x, B, level, rng) and identical across runs and machines. The
 * interval is the (1-level)/2 and (1+level)/2 quantiles of the B resample
 * means, with numpy's default linear interpolation: at h = (B-1) q,
 * sorted[floor h] + (h - floor h) * (sorted[floor h + 1] - sorted[floor h]).
 * n = 1 gives an undefined interval (every resample is the same value).
 * B >= 2 and level in (0, 1), else VB_ERR_INPUT. Use
 * rng_stream(seed, "bootstrap") or a substream per metric. */
VbStatus stats_bootstrap_mean(const double *x, size_t n, size_t B, double level, RngStream rng,
                              Interval *out);

/* The same for a paired difference: d_i = candidate[i] - baseline[i] (pair
 * i = the same seed and holdout), resampling pairs. *mean_diff (optional)
 * receives the mean of d. */
VbStatus stats_bootstrap_paired_diff(const double *baseline, const double *candidate, size_t n,
                                     size_t B, double level, RngStream rng, Interval *out,
                                     double *mean_diff);

/* ---------------------------------------------------- verdict */

typedef enum StatsDirection {
    STATS_HIGHER_IS_BETTER, /* accuracy, AUROC, detection rate */
    STATS_LOWER_IS_BETTER,  /* false-positive rate, latency, memory, time */
} StatsDirection;

typedef enum StatsVerdict {
    STATS_NO_DIFFERENCE, /* "no detectable difference" */
    STATS_BETTER,
    STATS_WORSE,
} StatsVerdict;

/* Verdict for an interval of the paired difference candidate - baseline:
 * lo > 0 (the whole interval above zero) means the candidate's metric is
 * larger: better when higher is better, worse when lower is better;
 * hi < 0 the reverse; an interval containing or touching 0, or an undefined
 * interval, is "no detectable difference". */
StatsVerdict stats_verdict(Interval diff, StatsDirection dir);
/* "better", "worse", "no detectable difference". */
const char *stats_verdict_name(StatsVerdict v);

/* ---------------------------------------------------- Mann-Whitney U */

typedef enum MwuAlternative {
    MWU_TWO_SIDED,
    MWU_GREATER, /* x tends to be larger than y */
    MWU_LESS,    /* x tends to be smaller than y */
} MwuAlternative;

typedef struct MwuResult {
    double u1;  /* U of x: #pairs x > y + 0.5 #pairs x == y (= R1 - n1(n1+1)/2) */
    double p;   /* p-value in [0, 1] */
    bool exact; /* exact null distribution (else normal approximation) */
} MwuResult;

/* Mann-Whitney U test as scipy.stats.mannwhitneyu(x, y, alternative,
 * method='auto', use_continuity=True) (SciPy 1.10):
 *   * ranks are midranks of the pooled sample;
 *   * exact when min(n1, n2) <= 8 and there are no ties in the pooled
 *     sample: the null distribution of U is counted exactly (coefficients of
 *     the Gaussian binomial [n1+n2 choose n1]_q in 128-bit integers). One
 *     deviation: when max(n1, n2) > 10000 the normal approximation is used
 *     instead (SciPy would still count; the difference is negligible there);
 *   * otherwise the normal approximation with tie correction,
 *     sd = sqrt(n1 n2 / 12 * ((n + 1) - sum(t^3 - t) / (n (n - 1)))), and
 *     continuity correction z = (U - n1 n2 / 2 - 0.5) / sd, p = P(Z > z);
 *     an all-tied sample (sd = 0) gives p = 1;
 *   * U = max(U1, U2) and p doubled for two-sided, U1 for greater, U2 for
 *     less; p is clipped to [0, 1].
 * n1, n2 >= 1 and no NaN, else an error. */
VbStatus stats_mann_whitney(const double *x, size_t n1, const double *y, size_t n2,
                            MwuAlternative alt, MwuResult *out);

/* Latency regression test "candidate is slower than baseline": the
 * one-sided test stats_mann_whitney(candidate, baseline, MWU_GREATER). A
 * small p says the candidate's samples tend to be larger (slower). */
VbStatus stats_latency_slower(const double *baseline, size_t n_base, const double *candidate,
                              size_t n_cand, MwuResult *out);

/* ---------------------------------------------------- power */

/* How large a difference a comparison can detect, and how many runs a
 * given difference needs (stats_power.c; two-sided t tests, exact
 * noncentral-t power by numerical integration, checked against simulation
 * in tests/test_stats_power.c). */
#define STATS_POWER_ALPHA 0.05 /* the level the reports' intervals use (95%) */
#define STATS_POWER 0.80       /* the power minimum detectable effects are quoted at */
#define STATS_N_MAX 100000     /* runs (pairs) searched for stats_n_* */

/* Power of a two-sided t test at level alpha, df degrees of freedom (>= 1),
 * against noncentrality ncp = effect / standard error. NAN when invalid. */
double stats_t_power(double ncp, double df, double alpha);
/* Minimum detectable effect of a paired comparison of n pairs whose
 * differences have standard deviation sd (the observed between-seed spread
 * of the paired differences): the true mean difference a two-sided paired t
 * test at alpha detects with the given power. NAN when n < 2 or sd is not a
 * finite non-negative number. */
double stats_mde_paired(double sd, size_t n, double alpha, double power);
/* The same for two independent groups of n1 and n2 runs with pooled
 * standard deviation sd (Student's two-sample t test, df = n1 + n2 - 2). */
double stats_mde_two_sample(double sd, size_t n1, size_t n2, double alpha, double power);
/* The smallest number of pairs (paired) or of runs per group (two groups of
 * equal size) at which the test detects `effect` with `power`, given the
 * spread sd; 0 when more than max would be needed or the input is invalid
 * (effect 0, NaN). sd = 0 needs the minimum, 2. */
size_t stats_n_paired(double sd, double effect, double alpha, double power, size_t max);
size_t stats_n_two_sample(double sd, double effect, double alpha, double power, size_t max);

/* ---------------------------------------------------- report rounding */

/* Format "value ± half_width" with the digits the interval supports:
 *   1. the half-width is rounded to one significant digit, or to two when
 *      its leading digit is 1 (so 0.014 stays 0.014 rather than 0.01);
 *      rounding may carry (0.096 -> 0.1);
 *   2. the value is rounded to the same decimal position as the last digit
 *      of the rounded half-width;
 *   3. positions left of the decimal point are rounded too (1234.5 ± 56 ->
 *      "1230 ± 60"); a rounded zero prints without a minus sign.
 * Examples: (0.83456, 0.021) -> "0.83 ± 0.02"; (0.83456, 0.0149) ->
 * "0.835 ± 0.015"; (12.3456, 2.7) -> "12 ± 3". A half-width that is 0,
 * negative, NaN or infinite (no interval) prints the value alone with 3
 * significant digits ("%.3g"); a NaN value prints "n/a". The separator is
 * " ± " (UTF-8). Returns what snprintf returns (the length wanted). */
int stats_format_pm(double value, double half_width, char *buf, size_t cap);
/* Only the value, rounded by the same rule ("0.83"). */
int stats_format_value(double value, double half_width, char *buf, size_t cap);

#endif
