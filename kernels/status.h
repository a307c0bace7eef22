/* status: the error convention shared by every module.
 *
 * Recoverable errors (I/O, user input, SQLite, out of memory at setup) return
 * a VbStatus and leave a message "file:line: text" in a thread-local buffer
 * that the caller can read with vb_errmsg() and extend with vb_wrap().
 * Broken invariants abort through VB_ASSERT, which is always on (also in
 * release builds) and prints the expression with its location.
 *
 * Exit codes of the program follow from the status: 0 ok, 1 a check failed,
 * 2 bad usage or input (see vb_exit_code).
 *
 * Cleanup, one style everywhere: a function that owns nothing propagates
 * with VB_TRY; a function that must release what it acquired keeps one
 * status variable `st` and one exit label `out`, reached by VB_CHECK on
 * failure and by falling through on success:
 *
 *     VbStatus st = VB_OK;
 *     char *buf = NULL;
 *     FILE *f = NULL;
 *     VB_CHECK(open_it(path, &f));
 *     VB_CHECK(read_it(f, &buf));
 *     ...
 *   out:
 *     if (f) fclose(f);
 *     free(buf);
 *     return st;
 *
 * Resources start NULL so that `out` can release whatever was acquired. */
#ifndef VB_STATUS_H
#define VB_STATUS_H

#include <stdarg.h>
#include <stddef.h>

typedef enum VbStatus {
    VB_OK = 0,
    VB_ERR_USAGE,   /* bad command line */
    VB_ERR_INPUT,   /* bad input file or value */
    VB_ERR_IO,      /* read/write failure, full disk */
    VB_ERR_NOMEM,   /* allocation failed at setup */
    VB_ERR_DB,      /* SQLite */
    VB_ERR_NUMERIC, /* NaN/Inf detected */
    VB_ERR_BACKEND, /* backend missing or failed */
    VB_ERR_CHECK,   /* a regression check failed */
} VbStatus;

/* Record a message (printf-style) with its source location; returns code. */
VbStatus vb_fail_at(VbStatus code, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define VB_FAIL(code, ...) vb_fail_at((code), __FILE__, __LINE__, __VA_ARGS__)

/* Record a message verbatim, for errors located in a user's file
 * ("experiment.yaml:3:7: ..."), where a source location would only confuse. */
VbStatus vb_fail_plain(VbStatus code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefix the current message with more context ("reading X: " + old). */
VbStatus vb_wrap(VbStatus code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The last message recorded on this thread ("" if none). */
const char *vb_errmsg(void);
void vb_clear_error(void);

/* Map a status to the program's exit code (0, 1 or 2). */
int vb_exit_code(VbStatus s);
const char *vb_status_name(VbStatus s);

/* Propagate a failing status. */
#define VB_TRY(expr)                      \
    do {                                  \
        VbStatus vb_s_ = (expr);          \
        if (vb_s_ != VB_OK) return vb_s_; \
    } while (0)

/* Inside a function with `VbStatus st` and an `out:` label: on failure,
 * keep the status and jump to the cleanup. */
#define VB_CHECK(expr)                        \
    do {                                      \
        if ((st = (expr)) != VB_OK) goto out; \
    } while (0)

__attribute__((noreturn)) void vb_assert_fail(const char *expr, const char *file, int line);
#define VB_ASSERT(cond) ((cond) ? (void)0 : vb_assert_fail(#cond, __FILE__, __LINE__))

/* Allocation that aborts on failure: for small bookkeeping only. Large
 * buffers go through arenas and report VB_ERR_NOMEM instead. */
void *vb_xmalloc(size_t n);
void *vb_xcalloc(size_t n, size_t size);
void *vb_xrealloc(void *p, size_t n);
char *vb_xstrdup(const char *s);

#endif
