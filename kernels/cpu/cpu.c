/* cpu: the CPU reference backend's table, memory operations and threads.
 * The ops themselves live in cpu_dense.c, cpu_conv.c, cpu_norm.c, cpu_rnn.c,
 * cpu_glue.c and cpu_pool.c. */
#include "cpu_internal.h"

#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

static void *cpu_alloc(size_t bytes) {
    size_t rounded = (bytes + 63) & ~(size_t)63;
    void *p = aligned_alloc(64, rounded ? rounded : 64);
    if (p) memset(p, 0, rounded);
    return p;
}
static void cpu_free(void *p) { free(p); }
static void cpu_copy(void *dst, const void *src, size_t bytes) {
    if (bytes) memmove(dst, src, bytes);
}
static void cpu_zero(void *p, size_t bytes) {
    if (bytes) memset(p, 0, bytes);
}
static void cpu_sync(void) {}

void cpu_sgemm(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda,
               const float *b, int ldb, float beta, float *c, int ldc) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
                c[(size_t)i * ldc + j] = beta == 0 ? 0 : beta * c[(size_t)i * ldc + j];
        return;
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
                k, alpha, a, lda, b, ldb, beta, c, ldc);
}

static int g_threads;

void kthreads_set(int n) {
    if (n <= 0) {
        const char *env = getenv("VADBENCH_THREADS");
        n = env && atoi(env) > 0 ? atoi(env) : omp_get_num_procs();
    }
    g_threads = n;
    omp_set_num_threads(n);
    openblas_set_num_threads(1);
}

int kthreads_get(void) {
    if (!g_threads) kthreads_set(0);
    return g_threads;
}

const KOps *kops_cpu(void) {
    static KOps table;
    static int ready;
    if (!ready) {
        kthreads_get();
        table.name = "cpu";
        table.alloc = cpu_alloc;
        table.free = cpu_free;
        table.upload = cpu_copy;
        table.download = cpu_copy;
        table.copy = cpu_copy;
        table.zero = cpu_zero;
        table.sync = cpu_sync;
        cpu_register_dense(&table);
        cpu_register_conv(&table);
        cpu_register_norm(&table);
        cpu_register_rnn(&table);
        cpu_register_glue(&table);
        cpu_register_pool(&table);
        ready = 1;
    }
    return &table;
}
