/* templates: the report's static text — the gnuplot scripts, the HTML page
 * shell and its stylesheet — as named templates with {{placeholders}} that
 * the report code fills with what depends on the data.
 *
 * The templates are the files of reports/templates/ (style.gp, one NAME.gp
 * per figure, report.html, report.css), embedded into the program at build
 * time: harness/report/embed_templates.sh turns them into the generated
 * source $(VARIANT)/gen/harness/report/templates_embedded.c, which defines
 * rep_tpl_embedded[] below, and the Makefile regenerates it whenever a
 * template changes, so vadbench needs no file at run time. A directory
 * given as an override (`vadbench report --templates DIR`) is looked in
 * first: DIR/NAME replaces the built-in NAME; a template DIR lacks comes
 * from the program.
 *
 * Syntax (keys are [a-z0-9_]+):
 *   {{key}}               key's value, verbatim (the caller escapes it for
 *                         gnuplot or HTML)
 *   {{#key}}TEXT{{/key}}  TEXT (itself expanded) when key's value is not
 *                         empty, nothing when it is
 *   {{! comment }}        nothing (a note for whoever edits the template;
 *                         it must not contain "}}")
 * A section tag or comment standing alone on its line (from the line's
 * first column to its newline) takes the newline with it. Every key must
 * have a value, also inside a section that is off: a key without one, a
 * section never closed, a stray {{/key}} or any other "{{" is an error
 * naming the template file, its line and the key (and listing the keys the
 * caller gave), so no output ever carries an unexpanded placeholder. There
 * is no escape for a literal "{{".
 *
 * Must not be asked to: escape values, loop, include one template in
 * another, or know which keys a template needs (each caller documents its
 * own; reports/README.md lists them). */
#ifndef VB_REPORT_TEMPLATES_H
#define VB_REPORT_TEMPLATES_H

#include <stddef.h>

#include "kernels/status.h"

/* One template file as embedded at build time: text[len] is its bytes
 * (text[len] == 0; no NUL inside). */
typedef struct RepTplFile {
    const char *name; /* file name in reports/templates/, e.g. "roc_unseen.gp" */
    const char *text;
    size_t len;
} RepTplFile;

/* Defined in the generated templates_embedded.c, in file-name order. */
extern const RepTplFile rep_tpl_embedded[];
extern const int rep_tpl_nembedded;

/* The embedded template `name`; NULL when there is none. */
const RepTplFile *rep_tpl_find(const char *name);

typedef struct RepTplVar {
    const char *key, *value; /* value NULL counts as missing */
} RepTplVar;

/* dir is usable as an override directory: it exists and is a directory.
 * VB_ERR_INPUT naming it otherwise. */
VbStatus rep_tpl_check_dir(const char *dir);

/* The text of template `name` (an embedded template's name, else
 * VB_ERR_INPUT listing them): dir/name when dir is not NULL and holds that
 * file, else the embedded one. *text is malloc'ed; origin (size norigin,
 * may be NULL) receives the file it came from, for messages:
 * "DIR/NAME" or "reports/templates/NAME (built in)". A file that cannot be
 * read (other than not existing) is VB_ERR_IO, one holding a NUL byte
 * VB_ERR_INPUT. */
VbStatus rep_tpl_load(const char *dir, const char *name, char **text, char *origin, size_t norigin);

/* Expand `text` (read from `origin`, which messages name) with vars[0..n)
 * (the first of a repeated key wins). *out is malloc'ed, NULL on error. */
VbStatus rep_tpl_expand(const char *origin, const char *text, const RepTplVar *vars, int nvars,
                        char **out);

/* rep_tpl_load, then rep_tpl_expand. */
VbStatus rep_tpl_render(const char *dir, const char *name, const RepTplVar *vars, int nvars,
                        char **out);

/* rep_tpl_render written to the file `path` (replaced). */
VbStatus rep_tpl_write(const char *dir, const char *name, const RepTplVar *vars, int nvars,
                       const char *path);

#endif
