/* cu_reduce: the deterministic reductions of the CUDA backend, as templates
 * the backend's files instantiate with their own per-element functors.
 *
 * Column reduction (the workhorse: BN statistics and gradient sums, bias
 * gradients, pooling, SE): x seen as nseg segments of seg_rows rows and
 * `cols` columns; a functor adds row r's contribution to N double
 * accumulators of column `col`. Rows are cut into tiles (cu_red_plan: a
 * function of the shape and the scratch's fixed capacity only); in a tile,
 * thread (tx, ty) of a 32x8 block takes column tx and rows ty, ty+8, ... in
 * order, the 8 row-threads are added in order, and the tile's partial goes
 * to its own slot of the scratch; a second kernel adds the slots in tile
 * order. No atomics, no dependence on scheduling: the same bits on every
 * run on the same GPU.
 *
 * Whole-array reduction: blocks of CU_SUM_CHUNK elements, each summed by
 * 256 threads with a fixed shared-memory tree, partials added by one block
 * in the same fixed way.
 *
 * The scratch (cu_red_scratch(), CU_RED_CAP doubles) holds the partials in
 * its front and the results in its last CU_RED_OUT doubles: a result stays
 * valid until the next reduction is enqueued. */
#ifndef VB_CU_REDUCE_CUH
#define VB_CU_REDUCE_CUH

#include "kernels/cuda/cu_internal.h"

#define CU_RED_OUT ((size_t)1 << 20) /* doubles reserved for results */

static inline double *cu_red_out(void) { return cu_red_scratch() + (CU_RED_CAP - CU_RED_OUT); }

template <int N, class F>
__global__ void k_colred_part(int seg_rows, int cols, int tile_rows, int ntiles, F f,
                              double *part) {
    __shared__ double sm[N][8][33];
    int col = blockIdx.x * 32 + threadIdx.x, tile = blockIdx.y, seg = blockIdx.z;
    double acc[N];
    for (int a = 0; a < N; a++) acc[a] = 0.0;
    if (col < cols) {
        int r0 = tile * tile_rows, r1 = min(seg_rows, r0 + tile_rows);
        for (int r = r0 + (int)threadIdx.y; r < r1; r += 8) f(seg, r, col, acc);
    }
    for (int a = 0; a < N; a++) sm[a][threadIdx.y][threadIdx.x] = acc[a];
    __syncthreads();
    if (threadIdx.y == 0 && col < cols)
        for (int a = 0; a < N; a++) {
            double s = 0.0;
            for (int y = 0; y < 8; y++) s += sm[a][y][threadIdx.x];
            part[(((size_t)seg * ntiles + tile) * cols + col) * N + a] = s;
        }
}

template <int N>
__global__ void k_colred_final(int ntiles, int cols, int nseg, const double *part, double *out) {
    size_t total = (size_t)nseg * cols * N;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t seg = i / ((size_t)cols * N), rem = i % ((size_t)cols * N);
        double s = 0.0;
        for (int t = 0; t < ntiles; t++) s += part[((size_t)seg * ntiles + t) * cols * N + rem];
        out[i] = s;
    }
}

/* out[(seg*cols + col)*N + a] (device doubles, overwrite) = the sums of the
 * functor over each segment's rows. out must not lie in the partials'
 * part of the scratch (cu_red_out() is safe). False when the shape cannot
 * be planned (recorded as a backend error). */
template <int N, class F> bool cu_colred(size_t seg_rows, int cols, int nseg, F f, double *out) {
    if (cols <= 0 || nseg <= 0) return true;
    CuRedPlan pl;
    if (!cu_red_plan(seg_rows, cols, nseg, N, CU_RED_CAP - CU_RED_OUT, &pl) ||
        seg_rows > (size_t)0x7FFFFFFF) {
        cu_note(VB_ERR_BACKEND, __FILE__, __LINE__,
                "reduction of %zu rows x %d columns x %d segments does not fit the scratch",
                seg_rows, cols, nseg);
        return false;
    }
    double *part = cu_red_scratch();
    dim3 grid((unsigned)((cols + 31) / 32), (unsigned)pl.ntiles, (unsigned)nseg), block(32, 8);
    k_colred_part<N, F><<<grid, block, 0, cu_ctx()->stream>>>((int)seg_rows, cols, pl.tile_rows,
                                                              pl.ntiles, f, part);
    CU_LAUNCHED();
    size_t total = (size_t)nseg * cols * N;
    k_colred_final<N>
        <<<cu_grid(total), CU_THREADS, 0, cu_ctx()->stream>>>(pl.ntiles, cols, nseg, part, out);
    return CU_LAUNCHED();
}

/* Whole-array reduction of f(i) over i < n into out[0] (device double). */
template <class F> __global__ void k_sum_part(size_t n, F f, double *part) {
    __shared__ double sm[CU_THREADS];
    size_t b = blockIdx.x, start = b * CU_SUM_CHUNK;
    size_t end = start + CU_SUM_CHUNK < n ? start + CU_SUM_CHUNK : n;
    double acc = 0.0;
    for (size_t i = start + threadIdx.x; i < end; i += CU_THREADS) acc += f(i);
    sm[threadIdx.x] = acc;
    __syncthreads();
    for (int s = CU_THREADS / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s) sm[threadIdx.x] += sm[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0) part[b] = sm[0];
}

__global__ static void k_sum_final(size_t nparts, const double *part, double *out) {
    __shared__ double sm[CU_THREADS];
    double acc = 0.0;
    for (size_t i = threadIdx.x; i < nparts; i += CU_THREADS) acc += part[i];
    sm[threadIdx.x] = acc;
    __syncthreads();
    for (int s = CU_THREADS / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s) sm[threadIdx.x] += sm[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0) out[0] = sm[0];
}

template <class F> bool cu_sumred(size_t n, F f, double *out) {
    size_t nb = cu_sum_blocks(n);
    if (nb > CU_RED_CAP - CU_RED_OUT || nb > 0x7FFFFFFF) {
        cu_note(VB_ERR_BACKEND, __FILE__, __LINE__, "a sum over %zu values exceeds the scratch", n);
        return false;
    }
    double *part = cu_red_scratch();
    k_sum_part<F><<<(unsigned)nb, CU_THREADS, 0, cu_ctx()->stream>>>(n, f, part);
    CU_LAUNCHED();
    k_sum_final<<<1, CU_THREADS, 0, cu_ctx()->stream>>>(nb, part, out);
    return CU_LAUNCHED();
}

#endif
