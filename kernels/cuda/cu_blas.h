/* cu_blas: cuBLAS, loaded when the CUDA backend starts rather than when
 * vadbench starts.
 *
 * Linking libcublas (which pulls in libcublasLt) costs a process about
 * 215 MB of resident memory before main runs — measured: an empty program
 * linked with -lcublas peaks at 217 MB, 2.6 MB with -lcudnn alone — so a
 * CUDA-enabled build would charge every CPU run, benchmark and `runs`
 * command for a library it does not call. The backend therefore opens
 * libcublas.so.<major> of the toolkit it was compiled against with dlopen
 * at context creation (the usual library search: LD_LIBRARY_PATH, the
 * binary's run path, the system) and calls the few entry points it uses
 * through this table, typed from cuBLAS's own declarations.
 *
 * Must not be asked to: pick another major version than the headers', or
 * be used before cu_blas_load returned true. C++ (the CUDA files) only. */
#ifndef VB_CU_BLAS_H
#define VB_CU_BLAS_H

#include <cublas_v2.h>
#include <stddef.h>

/* The two GEMM entry points C++ sees overloaded (the header adds inline
 * variants taking cudaDataType as the compute type): the library's own. */
typedef cublasStatus_t (*CuGemmEx)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int, int,
                                   int, const void *, const void *, cudaDataType, int, const void *,
                                   cudaDataType, int, const void *, void *, cudaDataType, int,
                                   cublasComputeType_t, cublasGemmAlgo_t);
typedef cublasStatus_t (*CuGemmStridedBatchedEx)(cublasHandle_t, cublasOperation_t,
                                                 cublasOperation_t, int, int, int, const void *,
                                                 const void *, cudaDataType, int, long long,
                                                 const void *, cudaDataType, int, long long,
                                                 const void *, void *, cudaDataType, int, long long,
                                                 int, cublasComputeType_t, cublasGemmAlgo_t);

/* X(field, type, cuBLAS name as the header spells it) */
// clang-format off
#define CU_BLAS_FUNCS(X)                                                              \
    X(create, decltype(&cublasCreate), cublasCreate)                                  \
    X(destroy, decltype(&cublasDestroy), cublasDestroy)                               \
    X(get_version, decltype(&cublasGetVersion), cublasGetVersion)                     \
    X(set_stream, decltype(&cublasSetStream), cublasSetStream)                        \
    X(set_workspace, decltype(&cublasSetWorkspace), cublasSetWorkspace)               \
    X(set_atomics_mode, decltype(&cublasSetAtomicsMode), cublasSetAtomicsMode)        \
    X(set_math_mode, decltype(&cublasSetMathMode), cublasSetMathMode)                 \
    X(status_string, decltype(&cublasGetStatusString), cublasGetStatusString)         \
    X(sgemm, decltype(&cublasSgemm), cublasSgemm)                                     \
    X(sgemm_strided_batched, decltype(&cublasSgemmStridedBatched),                    \
      cublasSgemmStridedBatched)                                                      \
    X(gemm_ex, CuGemmEx, cublasGemmEx)                                                \
    X(gemm_strided_batched_ex, CuGemmStridedBatchedEx, cublasGemmStridedBatchedEx)
// clang-format on

typedef struct CuBlasApi {
#define CU_BLAS_FIELD(field, type, fn) type field;
    CU_BLAS_FUNCS(CU_BLAS_FIELD)
#undef CU_BLAS_FIELD
} CuBlasApi;

/* The loaded entry points: filled by cu_blas_load (declared in cu_plan.h,
 * plain C), valid once it returned true. */
extern CuBlasApi cu_blas;

#endif
