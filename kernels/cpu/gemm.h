/* gemm: the CPU backend's own SGEMM with a fixed reduction order.
 *
 *   C[m,n] = alpha * op(A) op(B) (+ beta * C) (+ bias[j]), row-major,
 *   op(A) [m,k] (ta: A stored [k,m]), op(B) [k,n] (tb: B stored [n,k]).
 *
 * Numerics (the same on every instruction-set path, for any blocking and any
 * thread count): each output element is
 *   acc = +0; for p = 0..k-1: acc = fmaf(op(A)[i,p], op(B)[p,j], acc);
 *   out = alpha * acc; if beta != 0: out = fmaf(beta, C_old, out);
 *   if bias: out = out + bias[j].
 * gemm_ref (gemm_ref.c) is that definition as a scalar loop; tests hold every
 * path to it bit for bit.
 *
 * op(B) is packed into panels of GEMM_NR columns (gemm_pack: the layout is
 * the same on every path). A weight used as W^T in a forward op can be
 * registered once while the weights are fixed (kops pack_weight), and then
 * the forward ops use its packed copy instead of packing it per call.
 *
 * Threads: gemm_par shares tiles of C among the backend's threads (one
 * writer per element); gemm_st runs on the calling thread and may be called
 * from inside a parallel region; gemm_team is the orphaned form (every
 * thread of the current team calls it with the same arguments).
 *
 * Memory: per-call packing buffers are the backend's grow-only scratch (the
 * first call of a shape may allocate; later calls of that shape do not).
 *
 * Not for: C aliasing A, B or bias; k < 0. */
#ifndef VB_CPU_GEMM_H
#define VB_CPU_GEMM_H

#include <stdbool.h>
#include <stddef.h>

#include "cpu_isa.h"

/* Floats of a packed op(B) [k,n] (panels of GEMM_NR columns, zero padded). */
size_t gemm_pack_floats(int k, int n);
/* dst = op(B) packed: dst[(q*k + p)*GEMM_NR + jj] = op(B)[p, q*GEMM_NR + jj],
 * zero beyond n. Single-threaded. */
void gemm_pack(bool tb, int k, int n, const float *b, int ldb, float *dst);
/* The same, panels shared among the current team (orphaned `omp for`). */
void gemm_pack_team(bool tb, int k, int n, const float *b, int ldb, float *dst);

/* C = alpha op(A) P (+ beta C) (+ bias), P a packed op(B) [k,n]. */
void gemm_packed_st(bool ta, int m, int n, int k, float alpha, const float *a, int lda,
                    const float *P, float beta, float *c, int ldc, const float *bias);
void gemm_packed_team(bool ta, int m, int n, int k, float alpha, const float *a, int lda,
                      const float *P, float beta, float *c, int ldc, const float *bias);

/* Whole products: op(B) packed into scratch first, unless `weight` says B
 * is a weight W [n,k] used as W^T (tb, ldb == k) that is registered as
 * packed. */
void gemm_st(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda,
             const float *b, int ldb, float beta, float *c, int ldc, const float *bias,
             bool weight);
void gemm_team(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda,
               const float *b, int ldb, float beta, float *c, int ldc, const float *bias,
               bool weight);
void gemm_par(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc, const float *bias,
              bool weight);

/* Add to the kcpu_flops counter (thread-safe). */
void cpu_count_flops(double flops);

/* The scalar definition (see above). */
void gemm_ref(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc, const float *bias);

/* Packed-weight registry: W [rows, cols] (PyTorch's [out, in]) used as W^T
 * [cols, rows]; dst holds gemm_pack_floats(cols, rows) floats. Lookup gives
 * the packed copy or NULL. */
void gemm_register(const float *w, int rows, int cols, float *dst);
void gemm_unregister_range(const void *lo, const void *hi);
const float *gemm_lookup(const float *w, int k, int n);

/* Grow-only scratch of the calling thread (slot < 2) or, for the host
 * thread outside parallel regions and for `omp single` sections, of the
 * backend (shared slots). Never freed; contents undefined. */
float *cpu_tls_scratch(int slot, size_t floats);
float *cpu_shared_scratch(int slot, size_t floats);

#endif
