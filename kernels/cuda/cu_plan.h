/* cu_plan: host-side planning for the CUDA backend, in plain C so that the
 * CPU-only build compiles it and the CPU tests check it (tests/test_cuda_plan.c):
 *
 *  - launch geometry of elementwise kernels (grid-stride loops over n items);
 *  - the tiling of the deterministic reductions: rows are cut into tiles of
 *    a size that depends only on the shape and on the fixed capacity of the
 *    backend's reduction scratch, never on the device or on timing; each
 *    tile's partial sum lands in its own slot and the slots are added in
 *    tile order, so the GPU needs no floating-point atomics;
 *  - the workspace layout of a convolution, for both of its paths (cuDNN
 *    with NHWC filters and optional bfloat16 copies, or im2col + cuBLAS
 *    GEMM), sized so that the same convolution with a smaller batch always
 *    fits in the workspace sized for the larger one;
 *  - the workspaces of the RNN ops (the CPU backend's layouts).
 *
 * Sizes are in floats unless a name says bytes. Not for: geometry checks
 * (kconv_init fills KConv; the ops assert what they need). */
#ifndef VB_CU_PLAN_H
#define VB_CU_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "kernels/kernels.h"

/* Threads per block of the elementwise and reduction kernels. */
#define CU_THREADS 256
/* Blocks of a grid-stride loop never exceed this (enough to fill any GPU
 * several times over; the loop covers the rest). */
#define CU_MAX_BLOCKS 65535
/* Rows of one reduction tile at the smallest (the size grows only when the
 * partials would not fit the scratch). */
#define CU_RED_TILE 256
/* Largest grid dimension y/z of a CUDA launch. */
#define CU_MAX_GRID_YZ 65535
/* Doubles of the backend's reduction scratch (64 MiB). */
#define CU_RED_CAP ((size_t)8 << 20)
/* Elements summed by one block of a whole-array reduction. */
#define CU_SUM_CHUNK ((size_t)CU_THREADS * 32)

/* Blocks for a grid-stride loop over n items with `threads` per block. */
int cu_blocks(size_t n, int threads);

/* A column reduction over `nseg` segments of `seg_rows` rows and `cols`
 * columns, `nacc` sums per column: rows are cut into `ntiles` tiles of
 * `tile_rows`; partials take ntiles*nseg*cols*nacc doubles (<= cap). */
typedef struct CuRedPlan {
    int tile_rows, ntiles;
    size_t partials; /* doubles */
} CuRedPlan;
/* false when even one tile per segment cannot fit `cap` doubles. */
bool cu_red_plan(size_t seg_rows, int cols, int nseg, int nacc, size_t cap, CuRedPlan *out);

/* A whole-array reduction of n values: blocks of CU_SUM_CHUNK elements,
 * one partial each (ceil(n / CU_SUM_CHUNK), at least 1). */
size_t cu_sum_blocks(size_t n);

/* Convolution workspace. A convolution is planned as "conv C": input the
 * large image [n, H, W, Cin], output the small grid [n, Hs, Ws, Cout],
 * filter [Cout, Cin/groups, kh, kw] (a transposed convolution is conv C
 * read backwards: its output is C's input). Layout of the cuDNN path: the
 * filter as NHWC (KRSC) floats, its gradient in KRSC floats, with bf16 the
 * bfloat16 copies of the large image, the small grid and the filter and
 * filter gradient (2 per float), then cuDNN's own workspace. The im2col
 * path: the filter reordered [Cout, kh*kw*Cin/g], the column matrix
 * [n*Hs*Ws, Cin*kh*kw] and the filter gradient [Cout, kh*kw*Cin/g]. */
typedef struct CuConvGeo {
    int n, H, W, Cin, Hs, Ws, Cout, kh, kw, sh, sw, ph, pw, groups;
} CuConvGeo;
CuConvGeo cu_conv_geo(const KConv *c);  /* a convolution */
CuConvGeo cu_convt_geo(const KConv *c); /* a transposed convolution (groups 1) */

typedef struct CuConvWs {
    /* cuDNN path offsets (floats) */
    size_t wt, dwt, xb, yb, wb, dwb, dnn;
    size_t dnn_fixed; /* floats before cuDNN's workspace */
    /* im2col path offsets */
    size_t wr, col, dwr;
    size_t fallback;     /* floats of the im2col path */
    size_t total;        /* floats to provide: max of both paths */
    size_t dnn_ws_bytes; /* the most cuDNN's workspace may take */
} CuConvWs;
CuConvWs cu_conv_ws(const CuConvGeo *g, bool bf16);

/* Floats of the RNN ops' saved activations and workspaces (the CPU
 * backend's layouts: LSTM save 6H, ws 5H per row + 2 carries; GRU save 4H,
 * ws max(3H per batch row, 7H per row + a carry)). */
size_t cu_lstm_save(const KRnn *r);
size_t cu_lstm_ws(const KRnn *r);
size_t cu_gru_save(const KRnn *r);
size_t cu_gru_ws(const KRnn *r);

/* Pinned staging ring for uploads: slot `i` of CU_STAGE_SLOTS, capacity to
 * hold `bytes` rounded up to a whole MiB (so slots grow rarely). */
#define CU_STAGE_SLOTS 4
size_t cu_stage_capacity(size_t bytes);

/* Open cuBLAS (libcublas.so.<major> of the build's toolkit) and look up
 * every entry point the backend calls (kernels/cuda/cu_blas.h says why it is
 * not linked); once per process. false with the reason in why. Defined in
 * cu_blas.cu; plain C so that the tests check it without a GPU. */
bool cu_blas_load(char *why, size_t nwhy);

#endif
