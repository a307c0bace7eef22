/* report_doc: a small document model for the report — headings,
 * paragraphs, bullet lists, tables and figures — written out twice: as
 * Markdown (report.md, figures referenced as files next to it) and as one
 * self-contained HTML page (report.html: inline CSS, figures embedded as
 * base64 PNG data URIs, every text HTML-escaped; the page shell and the
 * stylesheet are the templates report.html and report.css).
 *
 * Text is plain UTF-8; the only inline markup is `code` between backticks,
 * which Markdown keeps and HTML turns into <code>. Table cells must not
 * hold line breaks ('|' is escaped for Markdown). The document owns copies
 * of everything added to it. Must not be asked to render arbitrary Markdown
 * or to fetch anything: a figure is a PNG file in the report's directory. */
#ifndef VB_REPORT_DOC_H
#define VB_REPORT_DOC_H

#include <stdbool.h>
#include <stddef.h>

#include "kernels/status.h"

typedef struct RepTable {
    int ncols, nrows; /* nrows excludes the header */
    char **head;      /* [ncols] */
    char **cells;     /* [nrows * ncols], row-major */
    bool *right;      /* [ncols] right-aligned (numbers) */
} RepTable;

/* A table with ncols columns and these headers (copied). */
RepTable *rep_table_new(int ncols, const char *const *head);
/* Append a row of ncols cells (copied; NULL cells print as "–"). */
void rep_table_row(RepTable *t, const char *const *cells);
void rep_table_align_right(RepTable *t, int col);
void rep_table_free(RepTable *t);

typedef enum RepBlockKind { RB_HEADING, RB_PARA, RB_LIST, RB_TABLE, RB_FIGURE } RepBlockKind;

typedef struct RepBlock {
    RepBlockKind kind;
    int level;     /* heading level 1..3 */
    char *text;    /* heading, paragraph, figure caption; list: items joined by '\n' */
    char *file;    /* figure: PNG file name in the report directory */
    char *svg;     /* figure: its SVG (may be NULL) */
    bool rendered; /* figure: the PNG exists */
    RepTable *table;
} RepBlock;

typedef struct RepDoc {
    char *title;
    RepBlock *b;
    int n, cap;
} RepDoc;

void rep_doc_init(RepDoc *d, const char *title);
void rep_doc_free(RepDoc *d);
void rep_doc_heading(RepDoc *d, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void rep_doc_para(RepDoc *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A bullet list; items separated by '\n'. */
void rep_doc_list(RepDoc *d, const char *items);
/* Takes ownership of t. */
void rep_doc_table(RepDoc *d, RepTable *t);
/* A figure: png (and svg, may be NULL) are file names in the report
 * directory; rendered says whether the PNG was made; caption describes it. */
void rep_doc_figure(RepDoc *d, const char *png, const char *svg, bool rendered,
                    const char *caption);

/* Write the Markdown to path. */
VbStatus rep_doc_write_markdown(const RepDoc *d, const char *path);
/* Write the HTML page to path: the template report.html with the
 * stylesheet report.css inlined (templates.h; templates: an override
 * directory, NULL for the built-in ones). Figures are read from dir. */
VbStatus rep_doc_write_html(const RepDoc *d, const char *dir, const char *templates,
                            const char *path);

/* Standard base64 (RFC 4648, with padding) of n bytes; caller frees. */
char *rep_base64(const unsigned char *data, size_t n);

#endif
