{{! training.gp template. Filled by harness/report/report_plots.c:
    width         420 pixels per panel
    panels        how many of the three panels have data (1 to 3)
    train_loss    the plot list of the training-loss panel (one line per variant), empty
                  when no run logged train/loss: the section then drops the panel
    val_loss      the same for val/loss
    val_accuracy  the same for val/accuracy }}
# training.gp: training and validation curves per variant.
# Written by `vadbench report`. Redraw with `gnuplot training.gp` in this directory;
# the numbers are in training.dat, the look shared by every figure in style.gp.
load 'style.gp'
set key top right
set grid
do for [fmt in "png svg"] {
    eval term(fmt, {{width}}, 440)
    set output 'training.'.fmt
    set multiplot layout 1,{{panels}} title 'Training and validation curves (mean over runs)'
{{#train_loss}}
    set xlabel 'optimiser step'
    set ylabel 'training loss'
    set autoscale y
    plot {{train_loss}}
{{/train_loss}}
{{#val_loss}}
    set xlabel 'epoch'
    set ylabel 'validation loss'
    set autoscale y
    plot {{val_loss}}
{{/val_loss}}
{{#val_accuracy}}
    set xlabel 'epoch'
    set ylabel 'validation accuracy'
    set yrange [0:1]
    plot {{val_accuracy}}
{{/val_accuracy}}
    unset multiplot
    unset output
}
