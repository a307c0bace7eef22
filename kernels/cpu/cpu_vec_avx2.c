/* cpu_vec_avx2: the avx2 path's table of vector kernels — the bodies of
 * cpu_vec_body.h compiled with this path's flags (see cpu_isa.h), and its
 * GEMM micro-kernels (gemm_avx2.c). */
#define VEC_ISA K_ISA_AVX2
#define VEC_NAME(x) x##_avx2
#include "cpu_vec_body.h"
