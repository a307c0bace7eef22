/* cpu: the CPU reference backend's table, memory operations, threads and
 * packed weights. The ops themselves live in cpu_dense.c, cpu_conv.c,
 * cpu_norm.c, cpu_rnn.c, cpu_glue.c and cpu_pool.c; the GEMM in gemm*.c; the
 * per-path vector kernels in cpu_vec_*.c (isa.c picks the path). OpenBLAS is
 * linked for LAPACK only (the probe's solver) and kept on one thread. */
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

/* Packed weights: W [rows, cols] registered as W^T for the forward ops. */
static size_t cpu_pack_floats(int rows, int cols) { return gemm_pack_floats(cols, rows); }
static void cpu_pack_weight(const float *w, int rows, int cols, float *dst) {
    gemm_register(w, rows, cols, dst);
}
static void cpu_unpack_weights(const void *lo, const void *hi) { gemm_unregister_range(lo, hi); }

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
        cpu_vec(); /* choose the instruction-set path */
        table.name = "cpu";
        table.alloc = cpu_alloc;
        table.free = cpu_free;
        table.upload = cpu_copy;
        table.download = cpu_copy;
        table.copy = cpu_copy;
        table.zero = cpu_zero;
        table.sync = cpu_sync;
        table.pack_floats = cpu_pack_floats;
        table.pack_weight = cpu_pack_weight;
        table.unpack_weights = cpu_unpack_weights;
        cpu_register_dense(&table);
        cpu_register_conv(&table);
        cpu_register_norm(&table);
        cpu_register_rnn(&table);
        cpu_register_glue(&table);
        cpu_register_train(&table);
        cpu_register_pool(&table);
        if (kops_check_complete(&table) != VB_OK) vb_assert_fail(vb_errmsg(), __FILE__, __LINE__);
        ready = 1;
    }
    return &table;
}
