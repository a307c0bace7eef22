{{! latency_components.gp template. Filled by harness/report/report_plots.c:
    series        the stacked bars: one column of latency_components.dat per component
                  (the first with the variant names as x tics), separated by ", \ NEWLINE"
    model_column  the column of the whole model's latency (after the components) }}
# latency_components.gp: latency per component, stacked, per variant.
# Written by `vadbench report`. Redraw with `gnuplot latency_components.gp` in this directory;
# the numbers are in latency_components.dat, the look shared by every figure in style.gp.
load 'style.gp'
set title 'Median latency per component at batch 1 (mean over runs)'
set style data histogram
set style histogram rowstacked
set style fill solid 0.85 border -1
set boxwidth 0.55
unset grid
set grid ytics
set ylabel 'ms per clip'
set yrange [0:*]
set key outside right top
do for [fmt in "png svg"] {
    eval term(fmt, 900, 520)
    set output 'latency_components.'.fmt
    plot {{series}}, \
        'latency_components.dat' using 0:{{model_column}} with points pt 7 ps 1.6 lc rgb 'black' title 'whole model (timed end to end)'
    unset output
}
