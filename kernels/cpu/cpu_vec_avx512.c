/* cpu_vec_avx512: the avx512 path's table of vector kernels — the bodies of
 * cpu_vec_body.h compiled with this path's flags (see cpu_isa.h), and its
 * GEMM micro-kernels (gemm_avx512.c). */
#define VEC_ISA K_ISA_AVX512
#define VEC_NAME(x) x##_avx512
#include "cpu_vec_body.h"
