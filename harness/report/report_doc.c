/* report_doc: the report's document model and its Markdown and HTML
 * writers. See report_doc.h; the HTML page shell and its stylesheet are the
 * templates report.html and report.css (templates.h). */
#include "harness/report/report_doc.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/report/templates.h"

/* ---- tables ------------------------------------------------------------------ */

RepTable *rep_table_new(int ncols, const char *const *head) {
    VB_ASSERT(ncols > 0);
    RepTable *t = vb_xcalloc(1, sizeof *t);
    t->ncols = ncols;
    t->head = vb_xcalloc((size_t)ncols, sizeof *t->head);
    t->right = vb_xcalloc((size_t)ncols, sizeof *t->right);
    for (int c = 0; c < ncols; c++) t->head[c] = vb_xstrdup(head[c] ? head[c] : "");
    return t;
}

void rep_table_row(RepTable *t, const char *const *cells) {
    t->cells = vb_xrealloc(t->cells, (size_t)(t->nrows + 1) * (size_t)t->ncols * sizeof *t->cells);
    for (int c = 0; c < t->ncols; c++)
        t->cells[(size_t)t->nrows * (size_t)t->ncols + (size_t)c] =
            vb_xstrdup(cells[c] ? cells[c] : "\xe2\x80\x93");
    t->nrows++;
}

void rep_table_align_right(RepTable *t, int col) {
    VB_ASSERT(col >= 0 && col < t->ncols);
    t->right[col] = true;
}

void rep_table_free(RepTable *t) {
    if (!t) return;
    for (int c = 0; c < t->ncols; c++) free(t->head[c]);
    for (size_t i = 0; i < (size_t)t->nrows * (size_t)t->ncols; i++) free(t->cells[i]);
    free(t->head);
    free(t->cells);
    free(t->right);
    free(t);
}

/* ---- building ------------------------------------------------------------------ */

void rep_doc_init(RepDoc *d, const char *title) {
    memset(d, 0, sizeof *d);
    d->title = vb_xstrdup(title);
}

void rep_doc_free(RepDoc *d) {
    for (int i = 0; i < d->n; i++) {
        free(d->b[i].text);
        free(d->b[i].file);
        free(d->b[i].svg);
        rep_table_free(d->b[i].table);
    }
    free(d->b);
    free(d->title);
    memset(d, 0, sizeof *d);
}

static RepBlock *push(RepDoc *d, RepBlockKind kind) {
    if (d->n == d->cap)
        d->b = vb_xrealloc(d->b, (size_t)(d->cap = d->cap ? 2 * d->cap : 32) * sizeof *d->b);
    RepBlock *b = &d->b[d->n++];
    memset(b, 0, sizeof *b);
    b->kind = kind;
    return b;
}

static char *vfmt(const char *fmt, va_list ap) {
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(NULL, 0, fmt, aq);
    va_end(aq);
    char *s = vb_xmalloc((size_t)n + 1);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

void rep_doc_heading(RepDoc *d, int level, const char *fmt, ...) {
    RepBlock *b = push(d, RB_HEADING);
    b->level = level < 1 ? 1 : level > 3 ? 3 : level;
    va_list ap;
    va_start(ap, fmt);
    b->text = vfmt(fmt, ap);
    va_end(ap);
}

void rep_doc_para(RepDoc *d, const char *fmt, ...) {
    RepBlock *b = push(d, RB_PARA);
    va_list ap;
    va_start(ap, fmt);
    b->text = vfmt(fmt, ap);
    va_end(ap);
}

void rep_doc_list(RepDoc *d, const char *items) { push(d, RB_LIST)->text = vb_xstrdup(items); }

void rep_doc_table(RepDoc *d, RepTable *t) { push(d, RB_TABLE)->table = t; }

void rep_doc_figure(RepDoc *d, const char *png, const char *svg, bool rendered,
                    const char *caption) {
    RepBlock *b = push(d, RB_FIGURE);
    b->file = vb_xstrdup(png);
    b->svg = svg ? vb_xstrdup(svg) : NULL;
    b->rendered = rendered;
    b->text = vb_xstrdup(caption);
}

/* ---- Markdown ------------------------------------------------------------------ */

static void md_cell(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '|') fputc('\\', f);
        fputc(*s == '\n' ? ' ' : *s, f);
    }
}

static void md_table(FILE *f, const RepTable *t) {
    fputc('|', f);
    for (int c = 0; c < t->ncols; c++) fputc(' ', f), md_cell(f, t->head[c]), fputs(" |", f);
    fputs("\n|", f);
    for (int c = 0; c < t->ncols; c++) fputs(t->right[c] ? "---:|" : "---|", f);
    fputc('\n', f);
    for (int r = 0; r < t->nrows; r++) {
        fputc('|', f);
        for (int c = 0; c < t->ncols; c++)
            fputc(' ', f), md_cell(f, t->cells[(size_t)r * (size_t)t->ncols + (size_t)c]),
                fputs(" |", f);
        fputc('\n', f);
    }
}

static VbStatus close_checked(FILE *f, const char *path) {
    bool bad = ferror(f) != 0;
    if (fclose(f) != 0 || bad)
        return VB_FAIL(VB_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    return VB_OK;
}

VbStatus rep_doc_write_markdown(const RepDoc *d, const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) return VB_FAIL(VB_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    fprintf(f, "# %s\n\n", d->title);
    for (int i = 0; i < d->n; i++) {
        const RepBlock *b = &d->b[i];
        switch (b->kind) {
        case RB_HEADING: fprintf(f, "%.*s %s\n\n", b->level + 1, "####", b->text); break;
        case RB_PARA: fprintf(f, "%s\n\n", b->text); break;
        case RB_LIST:
            for (const char *p = b->text; *p;) {
                const char *e = strchr(p, '\n');
                size_t n = e ? (size_t)(e - p) : strlen(p);
                if (n) fprintf(f, "* %.*s\n", (int)n, p);
                p += n + (e ? 1 : 0);
            }
            fputc('\n', f);
            break;
        case RB_TABLE: md_table(f, b->table), fputc('\n', f); break;
        case RB_FIGURE:
            if (b->rendered) fprintf(f, "![%s](%s)\n\n", b->file, b->file);
            else fprintf(f, "*(figure %s not rendered)*\n\n", b->file);
            fprintf(f, "%s", b->text);
            if (b->svg) fprintf(f, " (SVG: [%s](%s))", b->svg, b->svg);
            fputs("\n\n", f);
            break;
        }
    }
    return close_checked(f, path);
}

/* ---- HTML ------------------------------------------------------------------ */

static void html_text(FILE *f, const char *s, size_t n) {
    for (size_t i = 0; i < n && s[i]; i++) {
        switch (s[i]) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(s[i], f);
        }
    }
}

/* Text with `code` spans. */
static void html_inline(FILE *f, const char *s, size_t n) {
    bool code = false;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == 0 || s[i] == '`') {
            html_text(f, s + start, i - start);
            if (i == n || s[i] == 0) break;
            fputs(code ? "</code>" : "<code>", f);
            code = !code;
            start = i + 1;
        }
    }
    if (code) fputs("</code>", f);
}

static void html_table(FILE *f, const RepTable *t) {
    fputs("<table>\n<thead><tr>", f);
    for (int c = 0; c < t->ncols; c++) {
        fputs(t->right[c] ? "<th class=\"num\">" : "<th>", f);
        html_inline(f, t->head[c], strlen(t->head[c]));
        fputs("</th>", f);
    }
    fputs("</tr></thead>\n<tbody>\n", f);
    for (int r = 0; r < t->nrows; r++) {
        fputs("<tr>", f);
        for (int c = 0; c < t->ncols; c++) {
            const char *s = t->cells[(size_t)r * (size_t)t->ncols + (size_t)c];
            fputs(t->right[c] ? "<td class=\"num\">" : "<td>", f);
            html_inline(f, s, strlen(s));
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</tbody>\n</table>\n", f);
}

char *rep_base64(const unsigned char *data, size_t n) {
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = vb_xmalloc(4 * ((n + 2) / 3) + 1), *o = out;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)data[i] << 16;
        if (i + 1 < n) v |= (unsigned)data[i + 1] << 8;
        if (i + 2 < n) v |= data[i + 2];
        *o++ = al[(v >> 18) & 63];
        *o++ = al[(v >> 12) & 63];
        *o++ = i + 1 < n ? al[(v >> 6) & 63] : '=';
        *o++ = i + 2 < n ? al[v & 63] : '=';
    }
    *o = 0;
    return out;
}

/* The base64 of file dir/name, NULL (and a message) when it cannot be read. */
static char *file_base64(const char *dir, const char *name) {
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = vb_xmalloc(cap);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) buf = vb_xrealloc(buf, cap *= 2);
    }
    bool bad = ferror(f) != 0;
    fclose(f);
    char *b64 = bad ? NULL : rep_base64(buf, n);
    free(buf);
    return b64;
}

/* The stylesheet: template report.css with its line breaks deleted. */
static VbStatus load_css(const char *templates, char **css) {
    VB_TRY(rep_tpl_render(templates, "report.css", NULL, 0, css));
    char *o = *css;
    for (const char *p = *css; *p; p++)
        if (*p != '\n' && *p != '\r') *o++ = *p;
    *o = 0;
    return VB_OK;
}

/* The page's sections, HTML, into f. */
static void html_body(FILE *f, const RepDoc *d, const char *dir) {
    for (int i = 0; i < d->n; i++) {
        const RepBlock *b = &d->b[i];
        switch (b->kind) {
        case RB_HEADING:
            fprintf(f, "<h%d>", b->level + 1);
            html_inline(f, b->text, strlen(b->text));
            fprintf(f, "</h%d>\n", b->level + 1);
            break;
        case RB_PARA:
            fputs("<p>", f);
            html_inline(f, b->text, strlen(b->text));
            fputs("</p>\n", f);
            break;
        case RB_LIST:
            fputs("<ul>\n", f);
            for (const char *p = b->text; *p;) {
                const char *e = strchr(p, '\n');
                size_t n = e ? (size_t)(e - p) : strlen(p);
                if (n) fputs("<li>", f), html_inline(f, p, n), fputs("</li>\n", f);
                p += n + (e ? 1 : 0);
            }
            fputs("</ul>\n", f);
            break;
        case RB_TABLE: html_table(f, b->table); break;
        case RB_FIGURE: {
            fputs("<figure>\n", f);
            char *b64 = b->rendered ? file_base64(dir, b->file) : NULL;
            if (b64) {
                fputs("<img src=\"data:image/png;base64,", f);
                fputs(b64, f);
                fputs("\" alt=\"", f);
                html_text(f, b->file, strlen(b->file));
                fputs("\">\n", f);
                free(b64);
            } else {
                fputs("<p class=\"missing\">figure ", f);
                html_text(f, b->file, strlen(b->file));
                fputs(" not rendered</p>\n", f);
            }
            fputs("<figcaption>", f);
            html_inline(f, b->text, strlen(b->text));
            if (b->svg) {
                fputs(" (SVG: <a href=\"", f);
                html_text(f, b->svg, strlen(b->svg));
                fputs("\">", f);
                html_text(f, b->svg, strlen(b->svg));
                fputs("</a>)", f);
            }
            fputs("</figcaption>\n</figure>\n", f);
            break;
        }
        }
    }
}

VbStatus rep_doc_write_html(const RepDoc *d, const char *dir, const char *templates,
                            const char *path) {
    char *css;
    VB_TRY(load_css(templates, &css));
    char *title = NULL, *heading = NULL, *body = NULL;
    size_t n;
    FILE *f = open_memstream(&title, &n);
    VB_ASSERT(f != NULL);
    html_text(f, d->title, strlen(d->title));
    VB_ASSERT(fclose(f) == 0);
    f = open_memstream(&heading, &n);
    VB_ASSERT(f != NULL);
    html_inline(f, d->title, strlen(d->title));
    VB_ASSERT(fclose(f) == 0);
    f = open_memstream(&body, &n);
    VB_ASSERT(f != NULL);
    html_body(f, d, dir);
    VB_ASSERT(fclose(f) == 0);
    RepTplVar vars[] = {{"title", title}, {"css", css}, {"heading", heading}, {"body", body}};
    VbStatus s = rep_tpl_write(templates, "report.html", vars, 4, path);
    free(css), free(title), free(heading), free(body);
    return s;
}
