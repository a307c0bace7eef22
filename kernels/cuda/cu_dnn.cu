/* cu_dnn: cuDNN handle and convolution plans (see cu_dnn.h).
 *
 * DEPRECATED-API ALLOWLIST. The whole CUDA build treats deprecation warnings
 * as errors (-DCUDNN_WARN_DEPRECATED, nvcc -Werror all-warnings, gcc
 * -Werror); this file alone is exempt, for exactly these cuDNN 9 legacy
 * convolution symbols (tests/cuda_checks.sh fails the build's checks when
 * the file uses a cudnn symbol outside this list or the deprecated ones
 * appear elsewhere). They are kept because the legacy API reports each
 * algorithm's determinism and math type (cudnn*AlgoPerf_t), which is the
 * selection rule this backend needs, and the graph API's replacement would
 * need a frontend library Debian does not package.
 *   allow: cudnnFilterDescriptor_t
 *   allow: cudnnCreateFilterDescriptor
 *   allow: cudnnSetFilter4dDescriptor
 *   allow: cudnnDestroyFilterDescriptor
 *   allow: cudnnConvolutionDescriptor_t
 *   allow: cudnnCreateConvolutionDescriptor
 *   allow: cudnnSetConvolution2dDescriptor
 *   allow: cudnnSetConvolutionGroupCount
 *   allow: cudnnSetConvolutionMathType
 *   allow: cudnnDestroyConvolutionDescriptor
 *   allow: cudnnConvolutionFwdAlgoPerf_t
 *   allow: cudnnConvolutionBwdDataAlgoPerf_t
 *   allow: cudnnConvolutionBwdFilterAlgoPerf_t
 *   allow: cudnnGetConvolutionForwardAlgorithm_v7
 *   allow: cudnnGetConvolutionBackwardDataAlgorithm_v7
 *   allow: cudnnGetConvolutionBackwardFilterAlgorithm_v7
 *   allow: cudnnGetConvolutionForwardWorkspaceSize
 *   allow: cudnnGetConvolutionBackwardDataWorkspaceSize
 *   allow: cudnnGetConvolutionBackwardFilterWorkspaceSize
 *   allow: cudnnConvolutionForward
 *   allow: cudnnConvolutionBackwardData
 *   allow: cudnnConvolutionBackwardFilter
 * Not deprecated, also used: cudnnCreate, cudnnDestroy, cudnnSetStream,
 * cudnnGetVersion, cudnnGetErrorString, cudnnCreateTensorDescriptor,
 * cudnnSetTensor4dDescriptor, cudnnDestroyTensorDescriptor. */
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
#pragma nv_diag_suppress 1444 /* cudafe: "declared deprecated" (this file's allowlist) */
#pragma nv_diag_suppress 1215

#include "kernels/cuda/cu_dnn.h"

#include <cudnn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/cu_internal.h"

struct CuDnn {
    cudnnHandle_t h;
};

struct CuDnnConv {
    CuConvGeo g;
    bool bf16;
    cudnnTensorDescriptor_t x, y;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv;
    bool has[3];
    cudnnConvolutionFwdAlgo_t fwd;
    cudnnConvolutionBwdDataAlgo_t data;
    cudnnConvolutionBwdFilterAlgo_t filter;
    cudnnMathType_t math[3];
    size_t ws[3];
};

static bool dnn_ok(cudnnStatus_t s, const char *what, const char *file, int line) {
    if (s == CUDNN_STATUS_SUCCESS) return true;
    cu_note(VB_ERR_BACKEND, file, line, "cuDNN: %s: %s", what, cudnnGetErrorString(s));
    return false;
}
#define DNN_CHECK(call) dnn_ok((call), #call, __FILE__, __LINE__)

CuDnn *cu_dnn_create(cudaStream_t stream, char *why, size_t nwhy) {
    CuDnn *d = (CuDnn *)calloc(1, sizeof *d);
    cudnnStatus_t s = d ? cudnnCreate(&d->h) : CUDNN_STATUS_INTERNAL_ERROR_HOST_ALLOCATION_FAILED;
    if (s == CUDNN_STATUS_SUCCESS) s = cudnnSetStream(d->h, stream);
    if (s != CUDNN_STATUS_SUCCESS) {
        snprintf(why, nwhy, "%s", cudnnGetErrorString(s));
        free(d);
        return NULL;
    }
    return d;
}

void cu_dnn_destroy(CuDnn *d) {
    if (!d) return;
    cudnnDestroy(d->h);
    free(d);
}

size_t cu_dnn_version(void) { return cudnnGetVersion(); }
size_t cu_dnn_header_version(void) { return CUDNN_VERSION; }

void cu_dnn_conv_free(CuDnnConv *c) {
    if (!c) return;
    if (c->x) cudnnDestroyTensorDescriptor(c->x);
    if (c->y) cudnnDestroyTensorDescriptor(c->y);
    if (c->w) cudnnDestroyFilterDescriptor(c->w);
    if (c->conv) cudnnDestroyConvolutionDescriptor(c->conv);
    free(c);
}

/* The math types a precision accepts: fp32 never lets cuDNN convert to
 * TF32 (CUDNN_DEFAULT_MATH may on Ampere and later); bf16 data runs on
 * tensor cores. */
static bool math_ok(cudnnMathType_t m, bool bf16) {
    return bf16 ? (m == CUDNN_TENSOR_OP_MATH || m == CUDNN_DEFAULT_MATH) : m == CUDNN_FMA_MATH;
}

#define MAX_ALGOS 16

CuDnnConv *cu_dnn_conv_plan(CuDnn *d, const CuConvGeo *g, bool bf16, size_t ws_limit, char *why,
                            size_t nwhy) {
    CuDnnConv *c = (CuDnnConv *)calloc(1, sizeof *c);
    if (!c) {
        snprintf(why, nwhy, "out of host memory");
        return NULL;
    }
    c->g = *g, c->bf16 = bf16;
    cudnnDataType_t dt = bf16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
    cudnnStatus_t s = cudnnCreateTensorDescriptor(&c->x);
    if (!s) s = cudnnCreateTensorDescriptor(&c->y);
    if (!s) s = cudnnCreateFilterDescriptor(&c->w);
    if (!s) s = cudnnCreateConvolutionDescriptor(&c->conv);
    if (!s) s = cudnnSetTensor4dDescriptor(c->x, CUDNN_TENSOR_NHWC, dt, g->n, g->Cin, g->H, g->W);
    if (!s)
        s = cudnnSetTensor4dDescriptor(c->y, CUDNN_TENSOR_NHWC, dt, g->n, g->Cout, g->Hs, g->Ws);
    if (!s)
        s = cudnnSetFilter4dDescriptor(c->w, dt, CUDNN_TENSOR_NHWC, g->Cout, g->Cin / g->groups,
                                       g->kh, g->kw);
    if (!s)
        s = cudnnSetConvolution2dDescriptor(c->conv, g->ph, g->pw, g->sh, g->sw, 1, 1,
                                            CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT);
    if (!s) s = cudnnSetConvolutionGroupCount(c->conv, g->groups);
    if (!s) s = cudnnSetConvolutionMathType(c->conv, bf16 ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH);
    if (s) {
        snprintf(why, nwhy, "descriptors: %s", cudnnGetErrorString(s));
        cu_dnn_conv_free(c);
        return NULL;
    }
    int n = 0;
    cudnnConvolutionFwdAlgoPerf_t pf[MAX_ALGOS];
    if (cudnnGetConvolutionForwardAlgorithm_v7(d->h, c->x, c->w, c->conv, c->y, MAX_ALGOS, &n,
                                               pf) == CUDNN_STATUS_SUCCESS)
        for (int i = 0; i < n && !c->has[0]; i++)
            if (pf[i].status == CUDNN_STATUS_SUCCESS && pf[i].determinism == CUDNN_DETERMINISTIC &&
                math_ok(pf[i].mathType, bf16) && pf[i].memory <= ws_limit)
                c->has[0] = true, c->fwd = pf[i].algo, c->math[0] = pf[i].mathType,
                c->ws[0] = pf[i].memory;
    cudnnConvolutionBwdDataAlgoPerf_t pd[MAX_ALGOS];
    n = 0;
    if (cudnnGetConvolutionBackwardDataAlgorithm_v7(d->h, c->w, c->y, c->conv, c->x, MAX_ALGOS, &n,
                                                    pd) == CUDNN_STATUS_SUCCESS)
        for (int i = 0; i < n && !c->has[1]; i++)
            if (pd[i].status == CUDNN_STATUS_SUCCESS && pd[i].determinism == CUDNN_DETERMINISTIC &&
                math_ok(pd[i].mathType, bf16) && pd[i].memory <= ws_limit)
                c->has[1] = true, c->data = pd[i].algo, c->math[1] = pd[i].mathType,
                c->ws[1] = pd[i].memory;
    cudnnConvolutionBwdFilterAlgoPerf_t pw[MAX_ALGOS];
    n = 0;
    if (cudnnGetConvolutionBackwardFilterAlgorithm_v7(d->h, c->x, c->y, c->conv, c->w, MAX_ALGOS,
                                                      &n, pw) == CUDNN_STATUS_SUCCESS)
        for (int i = 0; i < n && !c->has[2]; i++)
            if (pw[i].status == CUDNN_STATUS_SUCCESS && pw[i].determinism == CUDNN_DETERMINISTIC &&
                math_ok(pw[i].mathType, bf16) && pw[i].memory <= ws_limit)
                c->has[2] = true, c->filter = pw[i].algo, c->math[2] = pw[i].mathType,
                c->ws[2] = pw[i].memory;
    /* the workspace an algorithm needs, asked for the math type it runs with */
    for (int dir = 0; dir < 3; dir++) {
        if (!c->has[dir]) continue;
        size_t need = 0;
        s = cudnnSetConvolutionMathType(c->conv, c->math[dir]);
        if (!s && dir == 0)
            s = cudnnGetConvolutionForwardWorkspaceSize(d->h, c->x, c->w, c->conv, c->y, c->fwd,
                                                        &need);
        if (!s && dir == 1)
            s = cudnnGetConvolutionBackwardDataWorkspaceSize(d->h, c->w, c->y, c->conv, c->x,
                                                             c->data, &need);
        if (!s && dir == 2)
            s = cudnnGetConvolutionBackwardFilterWorkspaceSize(d->h, c->x, c->y, c->conv, c->w,
                                                               c->filter, &need);
        if (s || need > ws_limit) c->has[dir] = false;
        else c->ws[dir] = need;
    }
    return c;
}

bool cu_dnn_conv_has(const CuDnnConv *c, int dir) {
    return c && dir >= 0 && dir < 3 && c->has[dir];
}

static const char *math_name(cudnnMathType_t m) {
    return m == CUDNN_FMA_MATH         ? "fma"
           : m == CUDNN_TENSOR_OP_MATH ? "tensor-op"
           : m == CUDNN_DEFAULT_MATH   ? "default"
                                       : "tensor-op-conversion";
}

void cu_dnn_conv_describe(const CuDnnConv *c, char *buf, size_t n) {
    char part[3][48];
    const int algo[3] = {(int)c->fwd, (int)c->data, (int)c->filter};
    for (int d = 0; d < 3; d++) {
        if (c->has[d])
            snprintf(part[d], sizeof part[d], "%d %s %zuB", algo[d], math_name(c->math[d]),
                     c->ws[d]);
        else snprintf(part[d], sizeof part[d], "none (own kernels)");
    }
    snprintf(buf, n, "fwd %s, data %s, filter %s", part[0], part[1], part[2]);
}

bool cu_dnn_conv_fwd(CuDnn *d, CuDnnConv *c, const void *x, const void *w, void *y, void *ws,
                     size_t ws_bytes) {
    const float one = 1.0f, zero = 0.0f;
    return DNN_CHECK(cudnnSetConvolutionMathType(c->conv, c->math[0])) &&
           DNN_CHECK(cudnnConvolutionForward(d->h, &one, c->x, x, c->w, w, c->conv, c->fwd, ws,
                                             ws_bytes, &zero, c->y, y));
}

bool cu_dnn_conv_bwd_data(CuDnn *d, CuDnnConv *c, const void *w, const void *dy, void *dx, void *ws,
                          size_t ws_bytes) {
    const float one = 1.0f, zero = 0.0f;
    return DNN_CHECK(cudnnSetConvolutionMathType(c->conv, c->math[1])) &&
           DNN_CHECK(cudnnConvolutionBackwardData(d->h, &one, c->w, w, c->y, dy, c->conv, c->data,
                                                  ws, ws_bytes, &zero, c->x, dx));
}

bool cu_dnn_conv_bwd_filter(CuDnn *d, CuDnnConv *c, const void *x, const void *dy, void *dw,
                            void *ws, size_t ws_bytes) {
    const float one = 1.0f, zero = 0.0f;
    return DNN_CHECK(cudnnSetConvolutionMathType(c->conv, c->math[2])) &&
           DNN_CHECK(cudnnConvolutionBackwardFilter(d->h, &one, c->x, x, c->y, dy, c->conv,
                                                    c->filter, ws, ws_bytes, &zero, c->w, dw));
}

#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
