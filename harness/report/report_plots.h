/* report_plots: the report's figures as gnuplot scripts and data files,
 * rendered to PNG and SVG by running gnuplot as an external program.
 *
 * For every figure NAME the report directory receives NAME.dat (the numbers,
 * plain columns with a commented header), NAME.gp (the script; run
 * `gnuplot NAME.gp` in that directory to redraw it), NAME.png and NAME.svg;
 * style.gp holds the look shared by all scripts (terminals, fonts, colours)
 * so a user can restyle every figure in one place. Each script is its
 * template of reports/templates/ (built in, see templates.h) with the
 * data-dependent parts filled in. Figures:
 *   roc_unseen          ROC on the unseen-class holdout, one line per variant
 *   decision_metrics    decision metrics per variant, bars with 95% intervals
 *   training            training loss per step, validation loss and accuracy
 *                       per epoch, one line per variant
 *   latency_components  median latency per component at batch 1, stacked
 *   pareto              test accuracy against whole-model latency
 *   confusion           confusion matrix of the baseline variant, heat map
 *
 * The program is `gnuplot` unless $VADBENCH_GNUPLOT (or the caller) names
 * another. PNGs use the pngcairo terminal when gnuplot has it (Debian's
 * gnuplot-nox does), else the libgd png terminal. When gnuplot cannot be
 * run, scripts and data are still written and the result says why the
 * figures are missing; a failing script is reported with its log
 * (gnuplot.log in the report directory). Must not be asked to draw without
 * gnuplot or to make other image formats. */
#ifndef VB_REPORT_PLOTS_H
#define VB_REPORT_PLOTS_H

#include "harness/report/report_data.h"

#define REP_MAX_PLOTS 8

typedef struct RepPlot {
    char name[64];      /* file stem */
    char title[160];    /* section title in the report */
    char caption[1200]; /* what the figure shows, for the report */
    bool written;       /* NAME.gp and NAME.dat were written (there was data) */
    bool rendered;      /* NAME.png and NAME.svg exist */
} RepPlot;

typedef struct RepPlots {
    RepPlot p[REP_MAX_PLOTS];
    int n;
    char gnuplot[512]; /* the program used */
    bool have_gnuplot; /* it could be run */
    char terminal[16]; /* "pngcairo" or "png" */
    char note[1200];   /* why figures are missing ("" when all rendered) */
} RepPlots;

/* Write scripts and data of every figure into dir (which must exist) for
 * the runs of d, with variant vb as the baseline (confusion matrix), then
 * render them. gnuplot NULL: $VADBENCH_GNUPLOT when set and not empty,
 * else "gnuplot". templates: a directory whose NAME.gp files replace the
 * built-in templates (templates.h), NULL for the built-in ones. I/O
 * failures writing the files and a template that does not expand are
 * errors; a missing or failing gnuplot is not (see out->note). */
VbStatus rep_plots_make(const RepData *d, int vb, const char *dir, const char *gnuplot,
                        const char *templates, RepPlots *out);

#endif
