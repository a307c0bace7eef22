/* stats_format: numbers for reports, rounded to the digits their interval
 * supports ("0.83 ± 0.02"). The rule is in stats.h. Rounding goes through
 * printf's correctly rounded conversions ("%.1e" to find the half-width's
 * leading digit and exponent, "%.*f" for the value), so results do not
 * depend on log10 landing exactly on powers of ten.
 *
 * Must not be asked to: localise (always '.' as decimal point), or format
 * asymmetric intervals (pass the larger half-width if one must). */
#include "harness/stats/stats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Decimal position of the last kept digit of the rounded half-width (the
 * value is rounded to 10^pos) and the rounded half-width itself. */
static void rounding_position(double hw, int *pos, double *hw_rounded) {
    char e[40];
    snprintf(e, sizeof e, "%.1e", hw);
    int exp10 = atoi(strchr(e, 'e') + 1);
    if (e[0] == '1') {
        *pos = exp10 - 1;
        *hw_rounded = strtod(e, NULL);
        return;
    }
    snprintf(e, sizeof e, "%.0e", hw);
    *pos = atoi(strchr(e, 'e') + 1);
    *hw_rounded = strtod(e, NULL);
}

/* Print v rounded to 10^pos into buf; "-0.00" becomes "0.00". */
static void print_rounded(double v, int pos, char *buf, size_t cap) {
    if (pos <= 0) {
        snprintf(buf, cap, "%.*f", -pos, v);
    } else {
        double scale = pow(10.0, pos);
        snprintf(buf, cap, "%.0f", round(v / scale) * scale);
    }
    if (buf[0] == '-' && strspn(buf + 1, "0.") == strlen(buf + 1))
        memmove(buf, buf + 1, strlen(buf));
}

static bool has_interval(double hw) { return hw > 0.0 && isfinite(hw); }

int stats_format_value(double value, double half_width, char *buf, size_t cap) {
    if (isnan(value)) return snprintf(buf, cap, "n/a");
    if (!has_interval(half_width) || !isfinite(value)) return snprintf(buf, cap, "%.3g", value);
    int pos;
    double hw_r;
    rounding_position(half_width, &pos, &hw_r);
    char v[400];
    print_rounded(value, pos, v, sizeof v);
    return snprintf(buf, cap, "%s", v);
}

int stats_format_pm(double value, double half_width, char *buf, size_t cap) {
    if (isnan(value) || !has_interval(half_width) || !isfinite(value))
        return stats_format_value(value, half_width, buf, cap);
    int pos;
    double hw_r;
    rounding_position(half_width, &pos, &hw_r);
    char v[400], h[400];
    print_rounded(value, pos, v, sizeof v);
    print_rounded(hw_r, pos, h, sizeof h);
    return snprintf(buf, cap, "%s \xc2\xb1 %s", v, h);
}
