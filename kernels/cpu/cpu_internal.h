/* cpu_internal: how the CPU backend's files put their ops into the table,
 * and the tiling rule that makes reductions independent of thread count. */
#ifndef VB_CPU_INTERNAL_H
#define VB_CPU_INTERNAL_H

#include "cpu_isa.h"
#include "gemm.h"
#include "kernels/kernels.h"

/* Each file of the CPU backend fills in its part of the table. */
void cpu_register_dense(KOps *k); /* gemm, linear, elementwise, softmax, reductions */
void cpu_register_conv(KOps *k);  /* conv2d, dwconv2d, convt2d */
void cpu_register_norm(KOps *k);  /* batchnorm, pooling, squeeze-excitation */
void cpu_register_rnn(KOps *k);   /* LSTM, GRU, attention pooling */
void cpu_register_glue(KOps *k);  /* layout, VAE terms, noise, small model glue */
void cpu_register_train(KOps *k); /* loss, clipping, SAM, state queries, timers */
void cpu_register_pool(KOps *k);  /* max pooling, LeakyReLU slope, upsampling */

/* Reductions are split into tiles of this many rows/elements regardless of
 * the thread count; tile partials are combined in tile order. */
#define CPU_TILE 1024

#endif
