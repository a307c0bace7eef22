/* templates: looking up the report's templates (built in, or from an
 * override directory) and expanding their {{placeholders}}. See
 * templates.h; the embedded table is generated at build time. */
#include "harness/report/templates.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- a growing string ------------------------------------------------------------ */

typedef struct Buf {
    char *s;
    size_t n, cap;
} Buf;

static void buf_add(Buf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        b->cap = 2 * (b->n + n + 1);
        b->s = vb_xrealloc(b->s, b->cap);
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

/* ---- lookup ------------------------------------------------------------------ */

const RepTplFile *rep_tpl_find(const char *name) {
    for (int i = 0; i < rep_tpl_nembedded; i++)
        if (strcmp(rep_tpl_embedded[i].name, name) == 0) return &rep_tpl_embedded[i];
    return NULL;
}

VbStatus rep_tpl_check_dir(const char *dir) {
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return vb_fail_plain(VB_ERR_INPUT, "template directory %s: %s", dir, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return vb_fail_plain(VB_ERR_INPUT, "template directory %s: not a directory", dir);
    return VB_OK;
}

/* The whole file at path into *text; *missing when it does not exist. */
static VbStatus read_whole(const char *path, char **text, bool *missing) {
    *text = NULL;
    *missing = false;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) {
            *missing = true;
            return VB_OK;
        }
        return vb_fail_plain(VB_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    }
    Buf b = {0};
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) buf_add(&b, chunk, got);
    bool bad = ferror(f) != 0;
    fclose(f);
    VbStatus s = VB_OK;
    if (bad) s = vb_fail_plain(VB_ERR_IO, "%s: read failed", path);
    else if (b.s && strlen(b.s) != b.n)
        s = vb_fail_plain(VB_ERR_INPUT, "%s: holds a NUL byte: a template is text", path);
    if (s != VB_OK) {
        free(b.s);
        return s;
    }
    *text = b.s ? b.s : vb_xstrdup("");
    return VB_OK;
}

VbStatus rep_tpl_load(const char *dir, const char *name, char **text, char *origin,
                      size_t norigin) {
    *text = NULL;
    const RepTplFile *t = rep_tpl_find(name);
    if (!t) {
        Buf l = {0};
        for (int i = 0; i < rep_tpl_nembedded; i++) {
            if (i) buf_add(&l, ", ", 2);
            buf_add(&l, rep_tpl_embedded[i].name, strlen(rep_tpl_embedded[i].name));
        }
        VbStatus s = vb_fail_plain(VB_ERR_INPUT, "no report template named '%s' (templates: %s)",
                                   name, l.s ? l.s : "none");
        free(l.s);
        return s;
    }
    if (dir) {
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        bool missing;
        VB_TRY(read_whole(path, text, &missing));
        if (!missing) {
            if (origin) snprintf(origin, norigin, "%s", path);
            return VB_OK;
        }
    }
    VB_ASSERT(strlen(t->text) == t->len); /* embed_templates.sh refuses NUL bytes */
    *text = vb_xstrdup(t->text);
    if (origin) snprintf(origin, norigin, "reports/templates/%s (built in)", name);
    return VB_OK;
}

/* ---- expansion ------------------------------------------------------------------ */

typedef struct Ctx {
    const char *origin;
    const char *base, *end; /* the whole template */
    const RepTplVar *vars;
    int nvars;
} Ctx;

static int line_of(const Ctx *c, const char *p) {
    int line = 1;
    for (const char *q = c->base; q < p; q++) line += *q == '\n';
    return line;
}

/* "a, b, c": the keys the caller gave, for messages. */
static void keys_given(const Ctx *c, char *buf, size_t size) {
    size_t len = 0;
    buf[0] = 0;
    for (int i = 0; i < c->nvars && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? ", " : "", c->vars[i].key);
    if (!c->nvars) snprintf(buf, size, "none");
}

static VbStatus fail_at(const Ctx *c, const char *p, const char *fmt, const char *name,
                        size_t nlen) {
    char what[300];
    snprintf(what, sizeof what, fmt, (int)nlen, name);
    return vb_fail_plain(VB_ERR_INPUT, "%s:%d: %s", c->origin, line_of(c, p), what);
}

static const char *value_of(const Ctx *c, const char *name, size_t n) {
    for (int i = 0; i < c->nvars; i++)
        if (c->vars[i].key && strlen(c->vars[i].key) == n && memcmp(c->vars[i].key, name, n) == 0)
            return c->vars[i].value;
    return NULL;
}

static VbStatus fail_missing(const Ctx *c, const char *p, const char *name, size_t n,
                             bool section) {
    char keys[600];
    keys_given(c, keys, sizeof keys);
    return vb_fail_plain(VB_ERR_INPUT,
                         "%s:%d: %s {{%s%.*s}} has no value (the report gives this template: %s)",
                         c->origin, line_of(c, p), section ? "section" : "placeholder",
                         section ? "#" : "", (int)n, name, keys);
}

/* A tag at p ("{{..."): kind 0 (value), '#', '/' or '!'; the key; *after
 * just past its "}}". false when it is not a well-formed tag. */
typedef struct Tag {
    char kind;
    const char *name;
    size_t n;
    const char *after;
} Tag;

static bool parse_tag(const Ctx *c, const char *p, Tag *t) {
    const char *q = p + 2;
    t->kind = 0;
    t->name = q;
    t->n = 0;
    if (q < c->end && *q == '!') {
        const char *e = strstr(q, "}}");
        if (!e) return false;
        t->kind = '!';
        t->after = e + 2;
        return true;
    }
    if (q < c->end && (*q == '#' || *q == '/')) t->kind = *q++;
    t->name = q;
    while (q < c->end && ((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '_')) q++;
    t->n = (size_t)(q - t->name);
    if (t->n == 0 || q + 1 >= c->end || q[0] != '}' || q[1] != '}') return false;
    t->after = q + 2;
    return true;
}

/* Does the tag from p to t->after stand alone on its line? */
static bool standalone(const Ctx *c, const char *p, const Tag *t) {
    return (p == c->base || p[-1] == '\n') && (t->after == c->end || *t->after == '\n');
}

static const char *past_line(const Ctx *c, const char *p, const Tag *t) {
    return standalone(c, p, t) && t->after < c->end ? t->after + 1 : t->after;
}

/* The {{/name}} closing the section whose content starts at p (same-name
 * sections may nest), or NULL. */
static const char *find_close(const Ctx *c, const char *p, const char *lim, const char *name,
                              size_t n, Tag *close) {
    int depth = 0;
    while (p < lim) {
        const char *q = strstr(p, "{{");
        if (!q || q >= lim) return NULL;
        Tag t;
        if (!parse_tag(c, q, &t)) {
            p = q + 2;
            continue;
        }
        if ((t.kind == '#' || t.kind == '/') && t.n == n && memcmp(t.name, name, n) == 0) {
            if (t.kind == '#') depth++;
            else if (depth-- == 0) {
                *close = t;
                return q;
            }
        }
        p = t.after;
    }
    return NULL;
}

static VbStatus expand(const Ctx *c, const char *p, const char *lim, Buf *out) {
    while (p < lim) {
        const char *q = strstr(p, "{{");
        if (!q || q >= lim) q = lim;
        buf_add(out, p, (size_t)(q - p));
        if (q == lim) break;
        Tag t;
        if (!parse_tag(c, q, &t))
            return fail_at(c, q,
                           "\"%.*s\" is not a placeholder: write {{key}}, {{#key}}...{{/key}} or "
                           "{{! comment }} with a key of a-z, 0-9 and _",
                           q, (size_t)(strcspn(q, "\n") < 24 ? strcspn(q, "\n") : 24));
        if (t.kind == '!') {
            p = past_line(c, q, &t);
            continue;
        }
        if (t.kind == '/') return fail_at(c, q, "{{/%.*s}} closes no open section", t.name, t.n);
        const char *v = value_of(c, t.name, t.n);
        if (!v) return fail_missing(c, q, t.name, t.n, t.kind == '#');
        if (t.kind == 0) {
            buf_add(out, v, strlen(v));
            p = t.after;
            continue;
        }
        Tag ct;
        const char *cq = find_close(c, t.after, lim, t.name, t.n, &ct);
        if (!cq) return fail_at(c, q, "section {{#%.*s}} is never closed", t.name, t.n);
        /* the content is checked even when the section is off */
        Buf scratch = {0};
        VbStatus s = expand(c, past_line(c, q, &t), cq, *v ? out : &scratch);
        free(scratch.s);
        VB_TRY(s);
        p = past_line(c, cq, &ct);
    }
    return VB_OK;
}

VbStatus rep_tpl_expand(const char *origin, const char *text, const RepTplVar *vars, int nvars,
                        char **out) {
    *out = NULL;
    Ctx c = {origin, text, text + strlen(text), vars, nvars};
    Buf b = {0};
    VbStatus s = expand(&c, text, c.end, &b);
    if (s != VB_OK) {
        free(b.s);
        return s;
    }
    *out = b.s ? b.s : vb_xstrdup("");
    return VB_OK;
}

VbStatus rep_tpl_render(const char *dir, const char *name, const RepTplVar *vars, int nvars,
                        char **out) {
    char origin[2100], *text;
    *out = NULL;
    VB_TRY(rep_tpl_load(dir, name, &text, origin, sizeof origin));
    VbStatus s = rep_tpl_expand(origin, text, vars, nvars, out);
    free(text);
    return s;
}

VbStatus rep_tpl_write(const char *dir, const char *name, const RepTplVar *vars, int nvars,
                       const char *path) {
    char *text;
    VB_TRY(rep_tpl_render(dir, name, vars, nvars, &text));
    VbStatus s = VB_OK;
    FILE *f = fopen(path, "w");
    if (!f) {
        s = VB_FAIL(VB_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        goto done;
    }
    size_t n = strlen(text);
    bool bad = fwrite(text, 1, n, f) != n;
    if (fclose(f) != 0 || bad)
        s = VB_FAIL(VB_ERR_IO, "%s: write failed: %s", path, strerror(errno));
done:
    free(text);
    return s;
}
