/* validate: strict scalar spellings and the shared value rules. */
#define _GNU_SOURCE /* strcasestr */
#include "harness/experiment/validate.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* Hints for integer-looking spellings YAML 1.1 (or C) reads differently. */
static const char *int_hint(const char *t) {
    const char *p = t + (*t == '-' || *t == '+');
    if (p[0] == '0' && is_digit(p[1]))
        return "a leading zero: YAML 1.1 and C read it as octal; write the decimal value";
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X' || p[1] == 'o' || p[1] == 'b'))
        return "write the decimal value";
    if (strchr(t, '_')) return "YAML 1.1 digit separators; write the digits alone";
    if (strchr(t, ':')) return "YAML 1.1 reads it as base 60; write the value";
    return "";
}

bool vb_text_integer(const char *text, long *out, const char **why) {
    if (why) *why = "";
    if (!text || !*text) return false;
    const char *p = text + (*text == '-' || *text == '+');
    if (!is_digit(*p) || (p[0] == '0' && p[1])) {
        if (why) *why = int_hint(text);
        return false;
    }
    for (const char *q = p; *q; q++)
        if (!is_digit(*q)) {
            if (why) *why = int_hint(text);
            return false;
        }
    errno = 0;
    char *end;
    long v = strtol(text, &end, 10);
    if (errno || *end) {
        if (why) *why = "too large";
        return false;
    }
    *out = v;
    return true;
}

bool vb_text_number(const char *text, double *out, const char **why) {
    if (why) *why = "";
    if (!text || !*text) return false;
    const char *p = text + (*text == '-' || *text == '+');
    /* [0-9]* ( . [0-9]* )? ( [eE] [-+]? [0-9]+ )?, with at least one digit
     * before the exponent; no leading zero before another digit */
    const char *q = p;
    int digits = 0;
    while (is_digit(*q)) q++, digits++;
    if (digits > 1 && p[0] == '0') {
        if (why) *why = "a leading zero: YAML 1.1 and C read 010 as octal; write the decimal value";
        return false;
    }
    if (*q == '.') {
        q++;
        while (is_digit(*q)) q++, digits++;
    }
    if (digits == 0) {
        if (why)
            *why = strcasestr(text, "nan") || strcasestr(text, "inf") ? "the value must be finite"
                                                                      : "";
        return false;
    }
    if (*q == 'e' || *q == 'E') {
        q++;
        if (*q == '-' || *q == '+') q++;
        if (!is_digit(*q)) return false;
        while (is_digit(*q)) q++;
    }
    if (*q) {
        if (why) *why = int_hint(text);
        return false;
    }
    errno = 0;
    char *end;
    double v = strtod(text, &end);
    if (*end || !isfinite(v)) {
        if (why) *why = "the value must be finite";
        return false;
    }
    *out = v;
    return true;
}

bool vb_text_bool(const char *text, bool *out, const char **why) {
    if (why) *why = "";
    if (!text) return false;
    static const char *const yes[] = {"true", "True", "TRUE"}, *const no[] = {"false", "False",
                                                                              "FALSE"};
    for (int i = 0; i < 3; i++) {
        if (!strcmp(text, yes[i])) return *out = true, true;
        if (!strcmp(text, no[i])) return *out = false, true;
    }
    static const char *const old[] = {"yes", "no", "on", "off", "y", "n"};
    for (int i = 0; i < 6; i++)
        if (!strcasecmp(text, old[i]) && why)
            *why = "YAML 1.1 reads it as a boolean, YAML 1.2 as text; write true or false";
    return false;
}

bool vb_valid_tolerance(double v) { return isfinite(v) && v >= 0; }

bool vb_valid_latency_factor(double v) { return isfinite(v) && v > 1.0; }

bool vb_valid_name(const char *s) {
    if (!s || !*s || strlen(s) > VB_NAME_MAX) return false;
    for (; *s; s++)
        if (!(*s == '_' || *s == '-' || *s == '.' || is_digit(*s) || (*s >= 'a' && *s <= 'z') ||
              (*s >= 'A' && *s <= 'Z')))
            return false;
    return true;
}
