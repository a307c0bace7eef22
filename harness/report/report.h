/* report: `vadbench report EXPERIMENT` — everything the store knows about
 * one experiment, as a directory a person can read and a script can redo:
 *
 *   report.md     Markdown: summary, the experiment's claims
 *                 (compare.claims) against measurements, metrics per variant
 *                 with 95% intervals, paired differences with the baseline
 *                 (bootstrap 95% intervals, verdicts, detectable
 *                 differences), scores, per-class detection, shortcut
 *                 baselines, figures, provenance
 *   report.html   the same page, self-contained (CSS inline, figures as
 *                 base64 PNG data URIs)
 *   NAME.png/.svg the figures; NAME.gp + NAME.dat + style.gp made them
 *
 * The static text of the scripts and of the HTML page comes from the
 * templates of reports/templates/, built into the program (templates.h);
 * reports/README.md says what every section, table and figure holds.
 *
 * Data gathering is report_data.c, numbers and tables report_table.c and
 * report_claims.c, figures report_plots.c, the document writers
 * report_doc.c, the templates templates.c; this file
 * assembles the page. Without gnuplot the page says so and still carries
 * every table. Must not be asked to run experiments or to judge which
 * metrics matter beyond the experiment's `compare:` section and the seed's
 * claims. */
#ifndef VB_REPORT_H
#define VB_REPORT_H

#include <stdbool.h>

#include "harness/report/check.h" /* the wing's other public module: vadbench check */
#include "harness/store/store.h"

typedef struct ReportOptions {
    const char *experiment; /* name in the store */
    const char *out_dir;    /* NULL: reports/<experiment> */
    const char *gnuplot;    /* NULL: $VADBENCH_GNUPLOT when set, else "gnuplot" */
    const char *templates;  /* NULL: the built-in templates; else a directory whose files
                               replace them by name (reports/templates/ while editing) */
} ReportOptions;

typedef struct ReportResult {
    char dir[1024];
    char markdown[1100], html[1100];
    int nfigures;    /* figures with data */
    int nrendered;   /* of which rendered to PNG and SVG */
    char note[1300]; /* why figures are missing ("" when none are) */
} ReportResult;

/* Write the report of o->experiment. An unknown experiment or one without
 * done runs, an experiment named "templates" without out_dir (its default
 * directory is the templates' own), a templates path that is not a
 * directory and a template that does not expand are VB_ERR_INPUT; I/O
 * failures are VB_ERR_IO naming the file. */
VbStatus report_write(Store *st, const ReportOptions *o, ReportResult *res);

#endif
