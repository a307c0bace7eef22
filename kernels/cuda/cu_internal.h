/* cu_internal: what the CUDA backend's files share — the backend context
 * (device, one stream, cuBLAS and cuDNN handles, the pinned staging ring,
 * the reduction scratch, convolution plans, the first asynchronous error),
 * error recording, launch helpers, the row-major GEMM wrapper, and the
 * registration functions through which each file fills its part of the
 * KOps table.
 *
 * One context per process: the KOps functions take no context argument (the
 * table is shared with the CPU backend), so the ops reach the context through
 * cu_ctx(), the only process-wide state of the backend; everything it holds
 * is created at init and destroyed at exit. Every op is enqueued on the
 * context's stream; nothing waits for the device except download, sync,
 * the host-returning reductions (sum, sumsq, all_finite) and timer_ms.
 *
 * Errors never abort: the first failure (a CUDA, cuBLAS or cuDNN status) is
 * recorded with its location and returned by the status op; later ops keep
 * running (a sticky device error makes them fail too). Not for: several
 * devices or several host threads issuing ops at once. */
#ifndef VB_CU_INTERNAL_H
#define VB_CU_INTERNAL_H

#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kernels/cuda/cu_blas.h"

extern "C" {
#include "kernels/cuda/cu_plan.h"
#include "kernels/kernels.h"
}

struct CuConvPlan; /* cu_conv.cu */
struct CuDnn;      /* cu_dnn.cu: the cuDNN handle and its descriptors */

typedef struct CuStage {
    void *host; /* pinned */
    size_t cap;
    cudaEvent_t done; /* recorded after the copy that reads it */
    bool used;
} CuStage;

typedef struct CuCtx {
    int device;
    char name[256];
    int sm_count, cc_major, cc_minor;
    size_t mem_total;
    cudaStream_t stream;
    cublasHandle_t blas;
    void *blas_ws;
    size_t blas_ws_bytes;
    CuDnn *dnn;
    KPrecision prec;
    CuStage stage[CU_STAGE_SLOTS];
    int stage_next;
    double *red;      /* reduction scratch, CU_RED_CAP doubles */
    double *red_host; /* pinned, 64 doubles: results of host-returning reductions */
    float *scalar;    /* 64 floats of device scratch (clip factors, flags) */
    CuConvPlan **plans;
    int nplans, cap_plans;
    bool conv_gemm_only; /* VADBENCH_CUDA_CONV=gemm: never use cuDNN */
    bool verbose;        /* VADBENCH_CUDA_VERBOSE=1: print algorithm choices */
    VbStatus err;
    char errmsg[768];
    KOps ops;
} CuCtx;

CuCtx *cu_ctx(void);

/* Record a failure (the first one is kept); returns code. */
VbStatus cu_note(VbStatus code, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
bool cu_check_rt(cudaError_t e, const char *what, const char *file, int line);
bool cu_check_blas(cublasStatus_t s, const char *what, const char *file, int line);
#define CU_CHECK(call) cu_check_rt((call), #call, __FILE__, __LINE__)
#define CU_LAUNCHED() cu_check_rt(cudaGetLastError(), "kernel launch", __FILE__, __LINE__)
#define CUBLAS_CHECK(call) cu_check_blas((call), #call, __FILE__, __LINE__)

static inline int cu_grid(size_t n) { return cu_blocks(n, CU_THREADS); }
static inline cudaStream_t cu_stream(void) { return cu_ctx()->stream; }
/* A grid-stride loop over [0, n), and a launch of enough blocks for n
 * elements on the context's stream: `k_op LAUNCH(n)(args...)`. */
#define GRID_LOOP(i, n)                                                             \
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (size_t)(n); \
         i += (size_t)gridDim.x * blockDim.x)
#define LAUNCH(n) <<<cu_grid(n), CU_THREADS, 0, cu_stream()>>>

/* Row-major GEMM (the KOps gemm contract) on the context's stream. With
 * allow_bf16 and bf16 precision the inputs are rounded to bfloat16 inside
 * cuBLAS (fp32 accumulation and output). k <= 0 scales C by beta. */
void cu_gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda,
             const float *b, int ldb, float beta, float *c, int ldc, bool allow_bf16);
/* Batched over `count` independent problems at fixed strides (elements). */
void cu_gemm_strided(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda,
                     long long sa, const float *b, int ldb, long long sb, float beta, float *c,
                     int ldc, long long sc, int count, bool allow_bf16);

/* Deterministic column sums: out[seg, col] (double, overwrite) = sum over
 * the seg_rows rows of segment seg of x[(seg*seg_rows + r)*ld + col], x
 * float with row stride ld; tiles per cu_red_plan, combined in order. */
void cu_colsum(size_t seg_rows, int cols, int nseg, const float *x, int ld, double *out);
/* The same reduction of a product: sum of a*b (both [.., ld]). */
void cu_colsum_prod(size_t seg_rows, int cols, int nseg, const float *a, const float *b, int ld,
                    double *out);
/* Whole-array sums in double (fixed order) into out[0] (device): sum x or
 * sum x^2 (squares); returns false if n is too large for the scratch. */
void cu_reduce_to(size_t n, const float *x, bool squares, double *out);
/* Device scratch for reduction partials (CU_RED_CAP doubles) and for small
 * per-op results that follow them. */
double *cu_red_scratch(void);

/* Each file fills its part of the table. */
void cu_register_dense(KOps *k); /* gemm, linear, elementwise, softmax, reductions, optimiser */
void cu_register_conv(KOps *k);  /* conv2d, dwconv2d, convt2d */
void cu_register_norm(KOps *k);  /* batchnorm, pooling, squeeze-excitation */
void cu_register_rnn(KOps *k);   /* LSTM, GRU, attention pooling */
void cu_register_glue(KOps *k);  /* layout, VAE terms, noise, loss, small model glue */
void cu_register_pool(KOps *k);  /* max pooling, LeakyReLU slope, upsampling (LeNet) */

/* Convolution plans (cu_conv.cu) are freed with the context. */
void cu_conv_plans_free(CuCtx *c);

#endif
