{{! confusion.gp template. Filled by harness/report/report_plots.c:
    variant  the baseline variant's name (quotes doubled for gnuplot)
    runs     how many of its runs are summed
    last     the index of the last class (classes are 0 to last)
    tics     the class names with their indices: 'Normal' 0, 'Abuse' 1, ...
    width, height  the image size: 260 + 46 pixels per class, plus 120 for the colour box }}
# confusion.gp: confusion matrix heat map of the baseline variant.
# Written by `vadbench report`. Redraw with `gnuplot confusion.gp` in this directory;
# the numbers are in confusion.dat, the look shared by every figure in style.gp.
load 'style.gp'
set title 'Confusion matrix of {{variant}} (test, summed over {{runs}} runs)'
set xrange [-0.5:{{last}}.5]
set yrange [{{last}}.5:-0.5]
set size ratio -1
set palette defined (0 '#ffffff', 1 '#08519c')
set cbrange [0:1]
set cblabel 'fraction of the true class'
set xlabel 'predicted class'
set ylabel 'true class'
unset grid
unset key
set tics scale 0
set xtics ({{tics}}) rotate by 45 right
set ytics ({{tics}})
do for [fmt in "png svg"] {
    eval term(fmt, {{width}}, {{height}})
    set output 'confusion.'.fmt
    plot 'confusion.dat' using 1:2:3 with image notitle, \
        '' using 1:2:(sprintf('%d', $4)):($3 > 0.6 ? 0xffffff : 0x222222) with labels tc rgb variable notitle
    unset output
}
