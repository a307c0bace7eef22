/* khd: the qualifier that lets one function body compile for the host (C,
 * gcc) and for the device (CUDA C++, nvcc), and the bit casts such bodies
 * need. Headers of per-element arithmetic (kmath.h, kloss.h, the Philox core
 * in rng.h) mark every function VB_HD, so the CPU backend and the CUDA
 * backend run the same expressions and the CPU tests cover the GPU's math.
 *
 * VB_HD functions must stay free of host-only calls (stdio, malloc, libm
 * extensions): the math they use (expf, tanhf, sqrtf, exp, log, pow) exists
 * under the same names in CUDA's device library. Not for: code with
 * side effects beyond the pointers it is given. */
#ifndef VB_KHD_H
#define VB_KHD_H

#include <stdint.h>
#include <string.h>

#if defined(__CUDACC__)
#define VB_HD static __host__ __device__ __forceinline__
#else
#define VB_HD static inline __attribute__((always_inline))
#endif

/* Float <-> bits without aliasing tricks (memcpy on the host; the device
 * intrinsics, which compile to nothing, on the GPU). */
VB_HD uint32_t vb_f2u(float f) {
#if defined(__CUDA_ARCH__)
    return __float_as_uint(f);
#else
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
#endif
}

VB_HD float vb_u2f(uint32_t u) {
#if defined(__CUDA_ARCH__)
    return __uint_as_float(u);
#else
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
#endif
}

#endif
