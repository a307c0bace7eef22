/* yaml_guard: bounded, checked input to libfyaml (see yaml_guard.h). */
#include "harness/experiment/yaml_guard.h"

#include <libfyaml.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datasets/safeio.h"

/* ---- bytes ---- */

static VbStatus bad_byte(const char *name, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static VbStatus bad_byte(const char *name, int line, int col, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return vb_fail_plain(VB_ERR_INPUT, "%s:%d:%d: %s", name, line, col, msg);
}

/* Where a scalar may start: after these (the last byte on the line that was
 * not a space), a quote opens a quoted scalar and '? ' is an explicit key. */
static bool node_start(unsigned prev) {
    return prev == '\n' || prev == ':' || prev == '-' || prev == '{' || prev == '[' ||
           prev == ',' || prev == '?';
}

/* Everything the parser must never see, located by line and column
 * (columns count characters). A light lexer follows quoted scalars and
 * comments, where tabs and '?' are text. */
static VbStatus check_bytes(const char *name, const unsigned char *t, size_t len) {
    int line = 1, col = 1;
    unsigned prev = '\n'; /* the last byte that was not a space, on this line */
    unsigned quote = 0;   /* inside a '...' or "..." scalar */
    bool escaped = false, comment = false;
    bool sq_escape = false; /* the last thing read in a '...' scalar was a '' escape */
    for (size_t i = 0; i < len;) {
        unsigned c = t[i];
        if (c == 0)
            return bad_byte(name, line, col,
                            "a NUL byte: the file is binary or damaged (a YAML reader would "
                            "silently drop everything after it)");
        if (quote == '"') {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') quote = 0, prev = c;
        } else if (quote == '\'') {
            /* '' is a quote. libfyaml 0.7.12 decodes two or more in a row
             * wrongly ('a''''b' reads as a''' instead of a''b, longer runs as
             * NUL bytes) and leaks memory on some (found by tests/fuzz);
             * single ones, anywhere, it reads right. */
            if (c == '\'' && i + 1 < len && t[i + 1] == '\'') {
                if (sq_escape)
                    return bad_byte(name, line, col,
                                    "two '' escapes in a row in a single-quoted string "
                                    "(libfyaml 0.7.12 reads them wrong): write the string in "
                                    "double quotes");
                sq_escape = true;
                i++, col++;
            } else {
                sq_escape = false;
                if (c == '\'') quote = 0, prev = c;
            }
        } else if (!comment) {
            if (col == 1 && c == '%')
                return bad_byte(name, line, col,
                                "a YAML directive (%%YAML, %%TAG): experiment files use none; "
                                "remove the line");
            if (c == '\t')
                return bad_byte(name, line, col,
                                "a tab character: indent and separate with spaces (libfyaml "
                                "0.7.12 crashes on some tabs)");
            /* YAML's explicit key: experiment keys are plain words, and the
             * library crashes on some explicit keys */
            if (c == '?' && node_start(prev) &&
                (i + 1 >= len || t[i + 1] == ' ' || t[i + 1] == '\n' || t[i + 1] == '\r'))
                return bad_byte(name, line, col,
                                "an explicit key ('? '): write `key: value` (keys are plain "
                                "words)");
            if ((c == '"' || c == '\'') && node_start(prev)) quote = c, sq_escape = false;
            else if (c == '#' && (i == 0 || t[i - 1] == ' ' || t[i - 1] == '\n')) comment = true;
            if (c != ' ' && c != '\r' && c != '\n') prev = c;
        }
        if (c == '\n' || (c == '\r' && (i + 1 >= len || t[i + 1] != '\n'))) {
            line++, col = 1, i++;
            comment = false;
            if (!quote) prev = '\n';
            continue;
        }
        if ((c < 0x20 && c != '\r' && c != '\t') || c == 0x7f)
            return bad_byte(name, line, col, "control character 0x%02x", c);
        size_t k = safeio_utf8_char(t + i, len - i);
        if (k == 0) return bad_byte(name, line, col, "not valid UTF-8 (byte 0x%02x)", c);
        if (k == 2 && c == 0xC2 && t[i + 1] < 0xA0)
            return bad_byte(name, line, col, "control character U+%04X", t[i + 1]);
        if (k == 3 && c == 0xEF && t[i + 1] == 0xBF && t[i + 2] >= 0xBE)
            return bad_byte(name, line, col, "U+FFF%c is not a character",
                            t[i + 2] == 0xBE ? 'E' : 'F');
        i += k;
        if (c != '\r') col++;
    }
    return VB_OK;
}

/* ---- locations ---- */

static bool token_pos(struct fy_token *t, int *line, int *col) {
    const struct fy_mark *m = t ? fy_token_start_mark(t) : NULL;
    if (!m) return false;
    *line = m->line + 1, *col = m->column + 1;
    return true;
}

/* The first position inside a node (its own token, else its first child's). */
static bool node_pos(struct fy_node *n, int depth, int *line, int *col) {
    if (!n || depth > 128) return false;
    if (token_pos(fy_node_get_tag_token(n), line, col)) return true;
    if (token_pos(fy_node_get_scalar_token(n), line, col)) return true;
    void *it = NULL;
    if (fy_node_is_mapping(n)) {
        struct fy_node_pair *p = fy_node_mapping_iterate(n, &it);
        return p && (node_pos(fy_node_pair_key(p), depth + 1, line, col) ||
                     node_pos(fy_node_pair_value(p), depth + 1, line, col));
    }
    if (fy_node_is_sequence(n))
        return node_pos(fy_node_sequence_iterate(n, &it), depth + 1, line, col);
    return false;
}

typedef struct Where {
    int line, col; /* of the nearest enclosing key, for nodes without a token */
} Where;

static VbStatus at(const char *name, struct fy_node *n, Where w, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static VbStatus at(const char *name, struct fy_node *n, Where w, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int line = w.line, col = w.col;
    node_pos(n, 0, &line, &col);
    if (line) return vb_fail_plain(VB_ERR_INPUT, "%s:%d:%d: %s", name, line, col, msg);
    return vb_fail_plain(VB_ERR_INPUT, "%s: %s", name, msg);
}

/* ---- the document ---- */

static uint64_t text_hash(const char *s, size_t n) {
    uint64_t h = 0xCBF29CE484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001B3ull;
    return h;
}

/* Duplicate keys of one mapping, in linear time. */
static VbStatus check_keys(const char *name, struct fy_node *map, Where w) {
    int n = fy_node_mapping_item_count(map);
    if (n < 2) return VB_OK;
    size_t cap = 4;
    while (cap < 2 * (size_t)n) cap *= 2;
    struct fy_node **slot = vb_xcalloc(cap, sizeof *slot);
    VbStatus st = VB_OK;
    void *it = NULL;
    struct fy_node_pair *p;
    while (st == VB_OK && (p = fy_node_mapping_iterate(map, &it))) {
        struct fy_node *k = fy_node_pair_key(p);
        size_t len = 0;
        const char *txt = k ? fy_node_get_scalar(k, &len) : NULL;
        if (!txt) continue; /* reported by the walk */
        for (size_t h = text_hash(txt, len) & (cap - 1);; h = (h + 1) & (cap - 1)) {
            if (!slot[h]) {
                slot[h] = k;
                break;
            }
            size_t l2 = 0;
            const char *t2 = fy_node_get_scalar(slot[h], &l2);
            if (l2 == len && memcmp(t2, txt, len) == 0) {
                int l0 = 0, c0 = 0;
                node_pos(slot[h], 0, &l0, &c0);
                st = at(name, k, w, "duplicate key '%.*s' (first at line %d)",
                        (int)(len > 80 ? 80 : len), txt, l0);
                break;
            }
        }
    }
    free(slot);
    return st;
}

/* Tags, anchors, aliases, non-scalar keys and duplicate keys anywhere. */
static VbStatus walk(const char *name, struct fy_node *n, Where w, int depth) {
    if (!n) return VB_OK;
    if (depth > 256) return at(name, n, w, "nested too deeply");
    if (fy_node_get_tag_token(n))
        return at(name, n, w,
                  "a YAML tag (!!str, !name): experiment files do not use tags; write the plain "
                  "value");
    if (fy_node_is_alias(n))
        return at(name, n, w,
                  "an alias (*name): aliases are not supported here; write the value out in "
                  "full");
    if (fy_node_get_anchor(n))
        return at(name, n, w,
                  "an anchor (&name): anchors and aliases are not supported here; write values "
                  "out in full");
    if (fy_node_is_scalar(n)) {
        size_t len = 0;
        const char *txt = fy_node_get_scalar(n, &len);
        if (txt && memchr(txt, 0, len))
            return at(name, n, w, "a \\0 escape: text after it would be lost");
        return VB_OK;
    }
    void *it = NULL;
    if (fy_node_is_mapping(n)) {
        VB_TRY(check_keys(name, n, w));
        struct fy_node_pair *p;
        while ((p = fy_node_mapping_iterate(n, &it))) {
            struct fy_node *k = fy_node_pair_key(p), *v = fy_node_pair_value(p);
            Where kw = w;
            node_pos(k, 0, &kw.line, &kw.col);
            if (k && (fy_node_get_tag_token(k) || fy_node_is_alias(k) || fy_node_get_anchor(k)))
                VB_TRY(walk(name, k, kw, depth + 1));
            if (!k || !fy_node_is_scalar(k))
                return at(name, k, kw, "a mapping key must be a plain word, not a %s",
                          !k                      ? "missing key"
                          : fy_node_is_mapping(k) ? "mapping"
                                                  : "list");
            VB_TRY(walk(name, k, kw, depth + 1));
            if (!safeio_printable_name(fy_node_get_scalar0(k)))
                return at(name, k, kw, "a mapping key holds a control character");
            VB_TRY(walk(name, v, kw, depth + 1));
        }
    } else if (fy_node_is_sequence(n)) {
        struct fy_node *item;
        while ((item = fy_node_sequence_iterate(n, &it))) VB_TRY(walk(name, item, w, depth + 1));
    }
    return VB_OK;
}

/* ---- parsing ---- */

/* libfyaml reports errors through a diagnostic object; keep its first
 * error (with its position) instead of letting it print. */
typedef struct DiagCapture {
    char text[1024];
    bool have;
} DiagCapture;

static void diag_capture(struct fy_diag *diag, void *user, const char *buf, size_t len) {
    (void)diag;
    DiagCapture *c = user;
    if (c->have) return;
    size_t n = len < sizeof c->text - 1 ? len : sizeof c->text - 1;
    memcpy(c->text, buf, n);
    c->text[n] = 0;
    c->text[strcspn(c->text, "\n")] = 0;
    c->have = n > 0;
}

/* The library's first error as "NAME:LINE:COL: YAML syntax: message". */
static VbStatus syntax_error(const char *name, const DiagCapture *cap) {
    /* libfyaml's text is "[SOURCE:]LINE:COL: error: message" (1-based) */
    int line = 0, col = 0, used = 0;
    const char *t = cap->text;
    while (*t == ' ') t++;
    const char *colon = strchr(t, ':');
    if (colon && (colon == t || colon[1] < '0' || colon[1] > '9' || t[0] < '0' || t[0] > '9'))
        t = colon + 1; /* skip a source name libfyaml may print */
    if (cap->have && sscanf(t, "%d:%d:%n", &line, &col, &used) == 2 && used > 0) {
        const char *msg = t + used;
        while (*msg == ' ') msg++;
        if (strncmp(msg, "error: ", 7) == 0) msg += 7;
        return vb_fail_plain(VB_ERR_INPUT, "%s:%d:%d: YAML syntax: %s", name, line, col, msg);
    }
    return vb_fail_plain(VB_ERR_INPUT, "%s: not valid YAML%s%s", name, cap->have ? ": " : "",
                         cap->text);
}

VbStatus yaml_guard_parse(const char *name, const char *text, size_t len,
                          struct fy_document **out) {
    *out = NULL;
    if (len > YAML_GUARD_MAX_BYTES)
        return vb_fail_plain(VB_ERR_INPUT,
                             "%s: %zu bytes, more than the %u accepted for a YAML file", name, len,
                             YAML_GUARD_MAX_BYTES);
    VB_TRY(check_bytes(name, (const unsigned char *)text, len));
    DiagCapture cap = {{0}, false};
    struct fy_diag_cfg dcfg;
    fy_diag_cfg_default(&dcfg);
    dcfg.fp = NULL;
    dcfg.output_fn = diag_capture;
    dcfg.user = &cap;
    dcfg.level = FYET_ERROR;
    dcfg.colorize = false;
    dcfg.show_source = false;
    dcfg.show_position = true;
    dcfg.show_type = false;
    dcfg.show_module = false;
    struct fy_diag *diag = fy_diag_create(&dcfg);
    struct fy_parse_cfg pcfg = {0};
    /* the duplicate-key check is ours (check_keys): the library's is quadratic */
    pcfg.flags = FYPCF_QUIET | FYPCF_ALLOW_DUPLICATE_KEYS | FYPCF_DISABLE_RECYCLING;
    pcfg.diag = diag;
    struct fy_parser *fyp = diag ? fy_parser_create(&pcfg) : NULL;
    char *copy = malloc(len + 1);
    VbStatus st = VB_OK;
    struct fy_document *doc = NULL, *second = NULL;
    if (!fyp || !copy) {
        free(copy);
        VB_CHECK(vb_fail_plain(VB_ERR_NOMEM, "%s: out of memory starting the YAML parser", name));
    }
    memcpy(copy, text, len);
    copy[len] = 0;
    if (fy_parser_set_malloc_string(fyp, copy, len) != 0) {
        free(copy);
        VB_CHECK(vb_fail_plain(VB_ERR_NOMEM, "%s: out of memory starting the YAML parser", name));
    }
    doc = fy_parse_load_document(fyp);
    if (!doc && (cap.have || fy_parser_get_stream_error(fyp))) {
        VB_CHECK(syntax_error(name, &cap));
    }
    if (doc) {
        second = fy_parse_load_document(fyp);
        if (second) {
            Where w = {0, 0};
            VB_CHECK(at(name, fy_document_root(second), w,
                        "a second YAML document (after --- or ...): an experiment file holds one"));
        }
        if (cap.have || fy_parser_get_stream_error(fyp)) { VB_CHECK(syntax_error(name, &cap)); }
        Where w = {0, 0};
        st = walk(name, fy_document_root(doc), w, 0);
    } else {
        doc = fy_document_create(&pcfg); /* an empty stream: a document without a root */
        if (!doc) st = vb_fail_plain(VB_ERR_NOMEM, "%s: out of memory", name);
    }
out:
    if (second) fy_document_destroy(second);
    if (st != VB_OK && doc) {
        fy_document_destroy(doc);
        doc = NULL;
    }
    if (fyp) fy_parser_destroy(fyp);
    if (diag) fy_diag_destroy(diag);
    *out = doc;
    return st;
}

VbStatus yaml_guard_load(const char *path, struct fy_document **out) {
    *out = NULL;
    unsigned char *buf;
    size_t len;
    VbStatus st = safeio_read_file(path, YAML_GUARD_MAX_BYTES, &buf, &len);
    if (st == VB_ERR_INPUT && strstr(vb_errmsg(), "the limit"))
        return vb_fail_plain(VB_ERR_INPUT,
                             "%s: more than %u bytes; experiment files are a few KB (is this the "
                             "right file?)",
                             path, YAML_GUARD_MAX_BYTES);
    VB_TRY(st);
    st = yaml_guard_parse(path, (const char *)buf, len, out);
    free(buf);
    return st;
}
