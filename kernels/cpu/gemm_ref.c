/* gemm_ref: the scalar definition of the CPU backend's SGEMM (gemm.h):
 * one fmaf chain over K per output element, then alpha, beta and bias.
 * Every path's fast GEMM must equal it bit for bit (tests/test_gemm.c);
 * kept beside them as the reference and for debugging. Slow: not for
 * production use. Shapes: any m, n, k >= 0, both transposes, any strides. */
#include <math.h>

#include "gemm.h"

void gemm_ref(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc, const float *bias) {
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            float acc = 0.0f;
            for (int p = 0; p < k; p++) {
                float av = ta ? a[(size_t)p * lda + i] : a[(size_t)i * lda + p];
                float bv = tb ? b[(size_t)j * ldb + p] : b[(size_t)p * ldb + j];
                acc = fmaf(av, bv, acc);
            }
            float *cp = c + (size_t)i * ldc + j;
            float o = alpha * acc;
            if (beta != 0.0f) o = fmaf(beta, *cp, o);
            if (bias) o = o + bias[j];
            *cp = o;
        }
}
