{{! decision_metrics.gp template. Filled by harness/report/report_plots.c:
    series  the plot list: per variant, mean:lo:hi columns of decision_metrics.dat as
            error bars (the first with the metric names as x tics), separated by ", \ NEWLINE" }}
# decision_metrics.gp: decision metrics per variant with 95% intervals.
# Written by `vadbench report`. Redraw with `gnuplot decision_metrics.gp` in this directory;
# the numbers are in decision_metrics.dat, the look shared by every figure in style.gp.
load 'style.gp'
set title 'Decision metrics per variant (mean, 95% interval across runs)'
set style data histogram
set style histogram errorbars gap 1.5 lw 1.2
set style fill solid 0.85 border -1
set yrange [0:1.05]
set ylabel 'rate'
unset grid
set grid ytics
set key top right
do for [fmt in "png svg"] {
    eval term(fmt, 960, 560)
    set output 'decision_metrics.'.fmt
    plot {{series}}
    unset output
}
