/* stats_mwu: the Mann-Whitney U test (two-sided and one-sided), matching
 * scipy.stats.mannwhitneyu(method='auto') — see stats.h for the exact rule.
 *
 * Ranks are midranks of the pooled sample. The exact null distribution of U
 * for sizes (m, n) has counts equal to the coefficients of the Gaussian
 * binomial [m+n choose m]_q = prod_{i=1..m} (1 - q^{n+i}) / (1 - q^i); only
 * the lower tail up to the needed degree is built, as a truncated power
 * series in signed 128-bit integers, so the counts are exact (the total
 * C(m+n, m) stays below 2^127 for m <= 8 and n <= 10000).
 *
 * Must not be asked to: test paired samples (that is Wilcoxon's signed-rank
 * test), or take NaN values (rejected). */
#include "harness/stats/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MWU_EXACT_MAX_SMALL 8
#define MWU_EXACT_MAX_LARGE 10000

typedef __int128 i128;

typedef struct Pooled {
    double v;
    size_t from_x; /* 1 when the value came from x */
} Pooled;

static int cmp_pooled(const void *a, const void *b) {
    double x = ((const Pooled *)a)->v, y = ((const Pooled *)b)->v;
    return (x > y) - (x < y);
}

/* P(U <= u) under the null for sizes m (small) and n, 0 <= u <= m n. */
static VbStatus exact_cdf(size_t m, size_t n, size_t u, double *cdf) {
    i128 *c = calloc(u + 1, sizeof *c);
    if (!c) return VB_FAIL(VB_ERR_NOMEM, "out of memory for the exact U distribution");
    c[0] = 1;
    i128 total = 1; /* C(n + i, i) after step i */
    for (size_t i = 1; i <= m; i++) {
        size_t up = n + i;
        for (size_t k = u; k >= up && k <= u; k--) c[k] -= c[k - up]; /* * (1 - q^{n+i}) */
        for (size_t k = i; k <= u; k++) c[k] += c[k - i];             /* / (1 - q^i) */
        total = total * (i128)(n + i) / (i128)i;
    }
    i128 s = 0;
    for (size_t k = 0; k <= u; k++) s += c[k];
    free(c);
    *cdf = (double)s / (double)total;
    return VB_OK;
}

VbStatus stats_mann_whitney(const double *x, size_t n1, const double *y, size_t n2,
                            MwuAlternative alt, MwuResult *out) {
    memset(out, 0, sizeof *out);
    out->u1 = NAN, out->p = NAN;
    if (n1 == 0 || n2 == 0)
        return VB_FAIL(VB_ERR_INPUT, "Mann-Whitney needs two non-empty samples (%zu, %zu)", n1, n2);
    VB_ASSERT(x && y);
    size_t n = n1 + n2;
    Pooled *p = malloc(n * sizeof *p);
    if (!p) return VB_FAIL(VB_ERR_NOMEM, "out of memory pooling %zu samples", n);
    for (size_t i = 0; i < n1; i++) p[i] = (Pooled){x[i], 1};
    for (size_t i = 0; i < n2; i++) p[n1 + i] = (Pooled){y[i], 0};
    for (size_t i = 0; i < n; i++)
        if (isnan(p[i].v)) {
            free(p);
            return VB_FAIL(VB_ERR_NUMERIC, "Mann-Whitney sample value is NaN");
        }
    qsort(p, n, sizeof *p, cmp_pooled);
    /* rank sum of x with midranks, and the tie term sum(t^3 - t) */
    double r1 = 0, tie_term = 0;
    bool ties = false;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && p[j + 1].v == p[i].v) j++;
        double t = (double)(j - i + 1);
        double rank = 0.5 * (double)(i + j) + 1.0;
        for (size_t k = i; k <= j; k++)
            if (p[k].from_x) r1 += rank;
        if (j > i) ties = true;
        tie_term += t * t * t - t;
        i = j + 1;
    }
    free(p);
    double nn1 = (double)n1, nn2 = (double)n2, nn = (double)n;
    double u1 = r1 - nn1 * (nn1 + 1.0) / 2.0;
    double u2 = nn1 * nn2 - u1;
    double u, f = 1.0;
    if (alt == MWU_GREATER) u = u1;
    else if (alt == MWU_LESS) u = u2;
    else u = u1 > u2 ? u1 : u2, f = 2.0;
    size_t small = n1 < n2 ? n1 : n2, large = n1 < n2 ? n2 : n1;
    bool exact = small <= MWU_EXACT_MAX_SMALL && !ties && large <= MWU_EXACT_MAX_LARGE;
    double pv;
    if (exact) {
        /* without ties U is an integer; P(U >= u) = P(U <= m n - u) by symmetry */
        size_t ui = (size_t)llround(u);
        size_t mn = n1 * n2;
        double cdf = 1.0;
        if (ui == 0) {
            cdf = 1.0;
        } else {
            VB_TRY(exact_cdf(small, large, mn - ui, &cdf));
        }
        pv = cdf;
    } else {
        double mu = nn1 * nn2 / 2.0;
        double sd = sqrt(nn1 * nn2 / 12.0 * ((nn + 1.0) - tie_term / (nn * (nn - 1.0))));
        pv = sd > 0.0 ? stats_normal_sf((u - mu - 0.5) / sd) : 1.0;
    }
    pv *= f;
    if (pv > 1.0) pv = 1.0;
    if (pv < 0.0) pv = 0.0;
    out->u1 = u1;
    out->p = pv;
    out->exact = exact;
    return VB_OK;
}

VbStatus stats_latency_slower(const double *baseline, size_t n_base, const double *candidate,
                              size_t n_cand, MwuResult *out) {
    return stats_mann_whitney(candidate, n_cand, baseline, n_base, MWU_GREATER, out);
}
