{{! roc_unseen.gp template. Filled by harness/report/report_plots.c:
    subset  "unseen" (held-out classes), or "all" when no run stored an unseen-class ROC
    score   the decision score ("fused", ...)
    series  one ", \ NEWLINE 'roc_unseen.dat' using 1:COLUMN with lines lt N title '...'" per variant }}
# roc_unseen.gp: ROC curves per variant.
# Written by `vadbench report`. Redraw with `gnuplot roc_unseen.gp` in this directory;
# the numbers are in roc_unseen.dat, the look shared by every figure in style.gp.
load 'style.gp'
set title 'ROC on {{subset}} anomalies ({{score}} score), TPR averaged over runs'
set xlabel 'false-positive rate (test normals)'
set ylabel 'true-positive rate ({{subset}} test anomalies)'
set xrange [0:1]
set yrange [0:1]
set size ratio -1
set key bottom right
do for [fmt in "png svg"] {
    eval term(fmt, 760, 700)
    set output 'roc_unseen.'.fmt
    plot x with lines dt 2 lc rgb '#999999' lw 1 title 'chance'{{series}}
    unset output
}
