/* status: thread-local error messages and the always-on assert. */
#include "status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char g_msg[2048];

VbStatus vb_fail_at(VbStatus code, const char *file, int line, const char *fmt, ...) {
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    int n = snprintf(g_msg, sizeof g_msg, "%s:%d: ", base, line);
    if (n < 0 || (size_t)n >= sizeof g_msg) n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_msg + n, sizeof g_msg - (size_t)n, fmt, ap);
    va_end(ap);
    return code;
}

VbStatus vb_fail_plain(VbStatus code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_msg, sizeof g_msg, fmt, ap);
    va_end(ap);
    return code;
}

VbStatus vb_wrap(VbStatus code, const char *fmt, ...) {
    char prefix[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char old[sizeof g_msg];
    memcpy(old, g_msg, sizeof old);
    size_t n = strlen(prefix);
    if (n > sizeof g_msg - 3) n = sizeof g_msg - 3;
    memcpy(g_msg, prefix, n);
    memcpy(g_msg + n, ": ", 2);
    size_t rest = sizeof g_msg - n - 3;
    size_t ol = strnlen(old, rest);
    memcpy(g_msg + n + 2, old, ol);
    g_msg[n + 2 + ol] = 0;
    return code;
}

const char *vb_errmsg(void) { return g_msg; }
void vb_clear_error(void) { g_msg[0] = 0; }

int vb_exit_code(VbStatus s) {
    switch (s) {
    case VB_OK: return 0;
    case VB_ERR_CHECK: return 1;
    case VB_ERR_USAGE:
    case VB_ERR_INPUT: return 2;
    default: return 2;
    }
}

const char *vb_status_name(VbStatus s) {
    static const char *names[] = {"ok",       "usage",   "input",   "io",          "out of memory",
                                  "database", "numeric", "backend", "check failed"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "unknown";
}

__attribute__((noreturn)) void vb_assert_fail(const char *expr, const char *file, int line) {
    fprintf(stderr, "vadbench: internal error at %s:%d: assertion failed: %s\n", file, line, expr);
    fflush(stderr);
    abort();
}

void *vb_xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) vb_assert_fail("malloc returned NULL", __FILE__, __LINE__);
    return p;
}
void *vb_xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) vb_assert_fail("calloc returned NULL", __FILE__, __LINE__);
    return p;
}
void *vb_xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) vb_assert_fail("realloc returned NULL", __FILE__, __LINE__);
    return q;
}
char *vb_xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = vb_xmalloc(n);
    memcpy(d, s, n);
    return d;
}
