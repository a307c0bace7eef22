/* cu_dnn: the CUDA backend's interface to cuDNN — a handle on the
 * backend's stream and, per convolution, descriptors with explicitly chosen
 * algorithms. The choice reads cuDNN's heuristics (cudnnGet*Algorithm_v7:
 * no timing search, no data touched) and takes, in cuDNN's preference order,
 * the first algorithm that reports CUDNN_DETERMINISTIC, the wanted math type
 * (fp32: CUDNN_FMA_MATH, so no TF32; bf16: tensor-core math) and a
 * workspace within the limit. A direction without such an algorithm is
 * left to the caller's own kernels (cu_conv.cu's im2col + GEMM path).
 *
 * Tensors are NHWC, filters KRSC ([K, R, S, C/groups]); data type float or
 * bfloat16 (compute type float). Convolution C here is the forward
 * direction of a convolution; cu_conv.cu maps transposed convolutions onto
 * it. Not for: dilation, more than 2 spatial dimensions, in-place calls. */
#ifndef VB_CU_DNN_H
#define VB_CU_DNN_H

#include <cuda_runtime.h>
#include <stddef.h>

extern "C" {
#include "kernels/cuda/cu_plan.h"
#include "kernels/kernels.h"
}

struct CuDnn;
struct CuDnnConv;

/* A handle bound to `stream`; NULL with the reason in why on failure. */
CuDnn *cu_dnn_create(cudaStream_t stream, char *why, size_t nwhy);
void cu_dnn_destroy(CuDnn *d);
/* cuDNN's version at run time (e.g. 91900) and the one compiled against. */
size_t cu_dnn_version(void);
size_t cu_dnn_header_version(void);

/* Plan convolution `g`: descriptors and, per direction, an algorithm or
 * none (see the header). NULL when even descriptors cannot be built (the
 * reason in why). */
CuDnnConv *cu_dnn_conv_plan(CuDnn *d, const CuConvGeo *g, bool bf16, size_t ws_limit, char *why,
                            size_t nwhy);
void cu_dnn_conv_free(CuDnnConv *c);
/* Which directions have an algorithm: forward, backward data, backward filter. */
bool cu_dnn_conv_has(const CuDnnConv *c, int dir);
/* "fwd 1 fma, data 1 fma, filter none" */
void cu_dnn_conv_describe(const CuDnnConv *c, char *buf, size_t n);

/* Run a direction with beta 0 (overwrite). x: the large image, y: the
 * small grid, w: the KRSC filter, all in the plan's data type. False (and
 * the status recorded in the backend) on failure. */
bool cu_dnn_conv_fwd(CuDnn *d, CuDnnConv *c, const void *x, const void *w, void *y, void *ws,
                     size_t ws_bytes);
bool cu_dnn_conv_bwd_data(CuDnn *d, CuDnnConv *c, const void *w, const void *dy, void *dx, void *ws,
                          size_t ws_bytes);
bool cu_dnn_conv_bwd_filter(CuDnn *d, CuDnnConv *c, const void *x, const void *dy, void *dw,
                            void *ws, size_t ws_bytes);

#endif
