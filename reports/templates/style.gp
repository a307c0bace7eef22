{{! style.gp template: the look every figure loads. Filled by harness/report/report_plots.c:
    png_term  the PNG terminal gnuplot has ("pngcairo", else "png")
    cairo     non-empty when that is pngcairo (the libgd png terminal takes no font option) }}
# style.gp: the look shared by every figure of this report (loaded by each
# NAME.gp). Edit the terminals, fonts and colours here and rerun the scripts.
png_term = '{{png_term}}'
term(fmt, w, h) = fmt eq 'png' ? \
    sprintf("set terminal %s size %d,%d noenhanced{{#cairo}} font 'sans,10'{{/cairo}}", png_term, w, h) : \
    sprintf("set terminal svg size %d,%d dynamic noenhanced font 'sans,11' background rgb 'white'", w, h)
set linetype 1 lc rgb '#1b9e77' lw 2 pt 7 ps 1.3
set linetype 2 lc rgb '#d95f02' lw 2 pt 5 ps 1.3
set linetype 3 lc rgb '#7570b3' lw 2 pt 9 ps 1.3
set linetype 4 lc rgb '#e7298a' lw 2 pt 11 ps 1.3
set linetype 5 lc rgb '#66a61e' lw 2 pt 13 ps 1.3
set linetype 6 lc rgb '#e6ab02' lw 2 pt 15 ps 1.3
set linetype 7 lc rgb '#a6761d' lw 2 pt 4 ps 1.3
set linetype 8 lc rgb '#666666' lw 2 pt 6 ps 1.3
set linetype cycle 8
set border lc rgb '#444444'
set grid lc rgb '#dddddd' lt 1 lw 1
set key noenhanced box opaque
