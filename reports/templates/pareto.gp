{{! pareto.gp template. Filled by harness/report/report_plots.c:
    front_block  the index of pareto.dat's last block, the Pareto front
    series       per variant, ", \ NEWLINE" then its point with error bars in both
                 directions and its name as a label }}
# pareto.gp: test accuracy against latency per variant (Pareto view).
# Written by `vadbench report`. Redraw with `gnuplot pareto.gp` in this directory;
# the numbers are in pareto.dat, the look shared by every figure in style.gp.
load 'style.gp'
set title 'Accuracy against latency (mean, 95% interval across runs)'
set xlabel 'whole-model latency, batch 1, median ms per clip'
set ylabel 'test accuracy'
set grid
set key bottom right
set offsets graph 0.1, graph 0.1, graph 0.1, graph 0.1
do for [fmt in "png svg"] {
    eval term(fmt, 800, 600)
    set output 'pareto.'.fmt
    plot 'pareto.dat' index {{front_block}} using 1:2 with lines dt 2 lw 1.5 lc rgb '#888888' title 'Pareto front'{{series}}
    unset output
}
