/* gemm_generic: the GEMM micro-kernel of the portable path (x86-64-v2, no
 * FMA instructions assumed): plain C with fmaf, which C defines as correctly
 * rounded — the same result as the vector FMA instructions of the other
 * paths (glibc uses the FMA instruction where the CPU has one and an exact
 * software fallback where it does not). Slower than the vector paths; there
 * for CPUs without AVX2 and as a readable twin of the fast kernels.
 *
 * Micro-tiles of up to GEN_MR rows x nv <= GEN_NV panels. Not for larger. */
#include <math.h>

#include "cpu_isa.h"

enum { GEN_MR = 4, GEN_NV = 1, GEN_W = GEN_NV * GEMM_NR };

void gemm_tile_generic(const GemmTile *t, int nv) {
    VB_ASSERT(t->mr >= 1 && t->mr <= GEN_MR && nv >= 1 && nv <= GEN_NV);
    float acc[GEN_MR][GEN_W];
    const int mr = t->mr, nr = t->nr, ncol = nv * GEMM_NR;
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < ncol; j++)
            acc[i][j] = t->first || j >= nr ? 0.0f : t->c[(size_t)i * t->ldc + j];
    const float *a = t->a;
    const ptrdiff_t ai = t->rows ? t->as : 1, ap = t->rows ? 1 : t->as; /* strides of i, p */
    for (int p = 0; p < t->kc; p++, a += ap)
        for (int i = 0; i < mr; i++) {
            const float av = a[i * ai];
            for (int q = 0; q < nv; q++) {
                const float *bp = t->b + q * t->bps + (size_t)p * GEMM_NR;
                float *ac = acc[i] + q * GEMM_NR;
                for (int jj = 0; jj < GEMM_NR; jj++) ac[jj] = fmaf(av, bp[jj], ac[jj]);
            }
        }
    for (int i = 0; i < mr; i++) {
        float *cr = t->c + (size_t)i * t->ldc;
        for (int j = 0; j < nr; j++) {
            if (!t->last) {
                cr[j] = acc[i][j];
                continue;
            }
            float o = t->alpha * acc[i][j];
            if (t->beta != 0.0f) o = fmaf(t->beta, cr[j], o);
            if (t->bias) o = o + t->bias[j];
            cr[j] = o;
        }
    }
}

void gemm_plan_generic(int m, int *mr, int *nv) {
    *mr = m < 1 ? 1 : m < GEN_MR ? m : GEN_MR;
    *nv = 1;
}

void gemm_plan_rows_generic(int m, int n, int *mr, int *nv) {
    (void)n;
    gemm_plan_generic(m, mr, nv);
}
