/* cpu_vec_generic: the generic path's table of vector kernels — the bodies of
 * cpu_vec_body.h compiled with this path's flags (see cpu_isa.h), and its
 * GEMM micro-kernels (gemm_generic.c). */
#define VEC_ISA K_ISA_GENERIC
#define VEC_NAME(x) x##_generic
#include "cpu_vec_body.h"
