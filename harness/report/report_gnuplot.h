/* report_gnuplot: running gnuplot as an external program for the report's
 * figures (the scripts themselves are written by report_plots.c).
 *
 * A program runs in the report directory (scripts use relative file
 * names), with stdin from /dev/null and stdout and stderr appended to
 * DIR/gnuplot.log, by fork + execvp: no shell, so odd characters in paths
 * are harmless. Must not be asked to time out a hung gnuplot or to run
 * anything but gnuplot-like programs taking a script argument. */
#ifndef VB_REPORT_GNUPLOT_H
#define VB_REPORT_GNUPLOT_H

#include <stdbool.h>
#include <stddef.h>

/* Run prog with args (NULL-terminated, at most 6) in dir. Returns its exit
 * status, 127 when it could not be executed, 126 when dir could not be
 * entered, -1 when fork failed, 128 + signal when it was killed. */
int rep_gnuplot_run(const char *prog, const char *const *args, const char *dir);

/* Can prog be run, and which PNG terminal does it have? true with
 * terminal = "pngcairo" (preferred) or "png"; false with note saying why
 * (not found, or no PNG terminal), worded for the report. */
bool rep_gnuplot_probe(const char *prog, const char *dir, char *terminal, size_t nterminal,
                       char *note, size_t nnote);

/* The last ~300 bytes of dir/gnuplot.log on one line ("" if none). */
void rep_gnuplot_log_tail(const char *dir, char *buf, size_t size);

/* dir/name.ext exists, is a regular file and is not empty. */
bool rep_file_nonempty(const char *dir, const char *name, const char *ext);

#endif
