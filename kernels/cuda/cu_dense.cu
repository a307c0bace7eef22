/* cu_dense: the CUDA backend's dense algebra (cuBLAS, row-major through the
 * transposed column-major call), linear layers, elementwise ops, the softmax
 * family, reductions, AdamW, gradient clipping and SAM's ascent.
 *
 * Shapes and conventions are the CPU reference's (kernels/kernels.h): gemm
 * on strided row-major views, linear layers on x [rows, in] with PyTorch
 * weights [out, in], softmax over the last dim of [rows, n], column sums
 * over [rows, c]. Elementwise math comes from kernels/kmath.h, the same
 * code the CPU runs. Reductions use cu_reduce.cuh (fixed tiles, fixed
 * order, no atomics); host-returning ones (sum, sumsq, all_finite) wait for
 * the device, everything else only enqueues. Softmax rows run one thread per
 * row, in the CPU's order (rows here are classes or time steps: short). */
#include <math.h>

#include "kernels/cuda/cu_internal.h"
#include "kernels/cuda/cu_reduce.cuh"

extern "C" {
#include "kernels/kmath.h"
}

static bool use_bf16(bool allow) { return allow && cu_ctx()->prec == K_PREC_BF16; }

/* ------------------------------------------------------------------ GEMM */

__global__ static void k_scale_mat(int m, int n, float beta, float *c, int ldc) {
    GRID_LOOP(i, (size_t)m * n) {
        size_t r = i / n, j = i % n;
        float *p = c + r * ldc + j;
        *p = beta == 0.0f ? 0.0f : beta * *p;
    }
}

void cu_gemm(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda,
             const float *b, int ldb, float beta, float *c, int ldc, bool allow_bf16) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
        k_scale_mat<<<cu_grid((size_t)m * n), CU_THREADS, 0, cu_stream()>>>(m, n, beta, c, ldc);
        CU_LAUNCHED();
        return;
    }
    /* row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T */
    cublasOperation_t ob = tb ? CUBLAS_OP_T : CUBLAS_OP_N, oa = ta ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasHandle_t h = cu_ctx()->blas;
    if (use_bf16(allow_bf16))
        CUBLAS_CHECK(cu_blas.gemm_ex(h, ob, oa, n, m, k, &alpha, b, CUDA_R_32F, ldb, a, CUDA_R_32F,
                                     lda, &beta, c, CUDA_R_32F, ldc, CUBLAS_COMPUTE_32F_FAST_16BF,
                                     CUBLAS_GEMM_DEFAULT));
    else CUBLAS_CHECK(cu_blas.sgemm(h, ob, oa, n, m, k, &alpha, b, ldb, a, lda, &beta, c, ldc));
}

void cu_gemm_strided(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda,
                     long long sa, const float *b, int ldb, long long sb, float beta, float *c,
                     int ldc, long long sc, int count, bool allow_bf16) {
    if (m <= 0 || n <= 0 || count <= 0) return;
    if (k <= 0 || count == 1) {
        for (int i = 0; i < count; i++)
            cu_gemm(ta, tb, m, n, k, alpha, a + i * sa, lda, b + i * sb, ldb, beta, c + i * sc, ldc,
                    allow_bf16);
        return;
    }
    cublasOperation_t ob = tb ? CUBLAS_OP_T : CUBLAS_OP_N, oa = ta ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasHandle_t h = cu_ctx()->blas;
    if (use_bf16(allow_bf16))
        CUBLAS_CHECK(cu_blas.gemm_strided_batched_ex(
            h, ob, oa, n, m, k, &alpha, b, CUDA_R_32F, ldb, sb, a, CUDA_R_32F, lda, sa, &beta, c,
            CUDA_R_32F, ldc, sc, count, CUBLAS_COMPUTE_32F_FAST_16BF, CUBLAS_GEMM_DEFAULT));
    else
        CUBLAS_CHECK(cu_blas.sgemm_strided_batched(h, ob, oa, n, m, k, &alpha, b, ldb, sb, a, lda,
                                                   sa, &beta, c, ldc, sc, count));
}

static void cu_gemm_op(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda,
                       const float *b, int ldb, float beta, float *c, int ldc) {
    cu_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, true);
}

/* ------------------------------------------------------- column sums */

struct ColSum {
    const float *x;
    int ld;
    size_t seg_rows;
    __device__ void operator()(int seg, int r, int col, double *acc) const {
        acc[0] += x[((size_t)seg * seg_rows + r) * ld + col];
    }
};
struct ColSumProd {
    const float *a, *b;
    int ld;
    size_t seg_rows;
    __device__ void operator()(int seg, int r, int col, double *acc) const {
        size_t i = ((size_t)seg * seg_rows + r) * ld + col;
        acc[0] += (double)a[i] * b[i];
    }
};

void cu_colsum(size_t seg_rows, int cols, int nseg, const float *x, int ld, double *out) {
    cu_colred<1>(seg_rows, cols, nseg, ColSum{x, ld, seg_rows}, out);
}

void cu_colsum_prod(size_t seg_rows, int cols, int nseg, const float *a, const float *b, int ld,
                    double *out) {
    cu_colred<1>(seg_rows, cols, nseg, ColSumProd{a, b, ld, seg_rows}, out);
}

/* y[j] = s[j] (overwrite) or y[j] + s[j] in double, rounded once. */
__global__ static void k_store_sums(int n, const double *s, float *y, bool accumulate) {
    GRID_LOOP(j, n) y[j] = accumulate ? (float)((double)y[j] + s[j]) : (float)s[j];
}

static void cu_col_sum(int rows, int c, const float *x, float *y, bool accumulate) {
    if (c <= 0) return;
    double *s = cu_red_out();
    cu_colsum((size_t)(rows > 0 ? rows : 0), c, 1, x, c, s);
    k_store_sums<<<cu_grid(c), CU_THREADS, 0, cu_stream()>>>(c, s, y, accumulate);
    CU_LAUNCHED();
}

/* ------------------------------------------------------------- linear */

__global__ static void k_fill_rows(int rows, int n, const float *b, float *y) {
    GRID_LOOP(i, (size_t)rows * n) y[i] = b[i % n];
}

static void cu_linear_fwd(int rows, int in, int out, const float *x, const float *w, const float *b,
                          float *y) {
    if (rows <= 0 || out <= 0) return;
    if (b) {
        k_fill_rows<<<cu_grid((size_t)rows * out), CU_THREADS, 0, cu_stream()>>>(rows, out, b, y);
        CU_LAUNCHED();
    }
    cu_gemm(false, true, rows, out, in, 1.0f, x, in, w, in, b ? 1.0f : 0.0f, y, out, true);
}

static void cu_linear_bwd(int rows, int in, int out, const float *x, const float *w,
                          const float *dy, float *dx, float *dw, float *db) {
    if (dx) cu_gemm(false, false, rows, in, out, 1.0f, dy, out, w, in, 0.0f, dx, in, true);
    if (dw) cu_gemm(true, false, out, in, rows, 1.0f, dy, out, x, in, 1.0f, dw, in, true);
    if (db) cu_col_sum(rows, out, dy, db, true);
}

/* --------------------------------------------------------- elementwise */

__global__ static void k_act_fwd(KAct a, size_t n, const float *x, float *y) {
    GRID_LOOP(i, n) y[i] = act_value(a, x[i]);
}
__global__ static void k_act_bwd(KAct a, size_t n, const float *x, const float *dy, float *dx) {
    GRID_LOOP(i, n) dx[i] = dy[i] * act_slope(a, x[i]);
}
__global__ static void k_mul(size_t n, const float *x, const float *m, float *y) {
    GRID_LOOP(i, n) y[i] = x[i] * m[i];
}
__global__ static void k_axpy(size_t n, float a, const float *x, float *y) {
    GRID_LOOP(i, n) y[i] += a * x[i];
}
__global__ static void k_scale(size_t n, float a, float *x) { GRID_LOOP(i, n) x[i] *= a; }
__global__ static void k_add(size_t n, const float *a, const float *b, float *y) {
    GRID_LOOP(i, n) y[i] = a[i] + b[i];
}

static void cu_act_fwd(KAct act, size_t n, const float *x, float *y) {
    if (!n) return;
    if (act == K_ACT_NONE) {
        if (y != x) CU_CHECK(cudaMemcpyAsync(y, x, n * 4, cudaMemcpyDeviceToDevice, cu_stream()));
        return;
    }
    k_act_fwd<<<cu_grid(n), CU_THREADS, 0, cu_stream()>>>(act, n, x, y);
    CU_LAUNCHED();
}
static void cu_act_bwd(KAct act, size_t n, const float *x, const float *dy, float *dx) {
    if (!n) return;
    if (act == K_ACT_NONE) {
        if (dx != dy)
            CU_CHECK(cudaMemcpyAsync(dx, dy, n * 4, cudaMemcpyDeviceToDevice, cu_stream()));
        return;
    }
    k_act_bwd<<<cu_grid(n), CU_THREADS, 0, cu_stream()>>>(act, n, x, dy, dx);
    CU_LAUNCHED();
}
static void cu_mul(size_t n, const float *x, const float *m, float *y) {
    if (!n) return;
    k_mul<<<cu_grid(n), CU_THREADS, 0, cu_stream()>>>(n, x, m, y);
    CU_LAUNCHED();
}
static void cu_axpy(size_t n, float a, const float *x, float *y) {
    if (!n) return;
    k_axpy<<<cu_grid(n), CU_THREADS, 0, cu_stream()>>>(n, a, x, y);
    CU_LAUNCHED();
}
static void cu_scale(size_t n, float a, float *x) {
    if (!n) return;
    k_scale<<<cu_grid(n), CU_THREADS, 0, cu_stream()>>>(n, a, x);
    CU_LAUNCHED();
}
static void cu_add(size_t n, const float *a, const float *b, float *y) {
    if (!n) return;
    k_add<<<cu_grid(n), CU_THREADS, 0, cu_stream()>>>(n, a, b, y);
    CU_LAUNCHED();
}

/* ------------------------------------------------------ softmax family */

__global__ static void k_softmax(int rows, int n, const float *x, float *y, bool log_) {
    GRID_LOOP(r, rows) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        float mx = -INFINITY;
        for (int i = 0; i < n; i++) mx = xr[i] > mx ? xr[i] : mx;
        double s = 0;
        if (log_) {
            for (int i = 0; i < n; i++) s += expf(xr[i] - mx);
            float lse = (float)log(s);
            for (int i = 0; i < n; i++) yr[i] = (xr[i] - mx) - lse;
        } else {
            for (int i = 0; i < n; i++) {
                yr[i] = expf(xr[i] - mx);
                s += yr[i];
            }
            float inv = (float)(1.0 / s);
            for (int i = 0; i < n; i++) yr[i] *= inv;
        }
    }
}

__global__ static void k_softmax_bwd(int rows, int n, const float *y, const float *dy, float *dx,
                                     bool log_) {
    GRID_LOOP(r, rows) {
        const float *yr = y + r * n, *gr = dy + r * n;
        float *dr = dx + r * n;
        double s = 0;
        if (log_) {
            for (int i = 0; i < n; i++) s += gr[i];
            float sf = (float)s;
            for (int i = 0; i < n; i++) dr[i] = gr[i] - expf(yr[i]) * sf;
        } else {
            for (int i = 0; i < n; i++) s += (double)gr[i] * yr[i];
            float d = (float)s;
            for (int i = 0; i < n; i++) dr[i] = yr[i] * (gr[i] - d);
        }
    }
}

static void softmax_launch(int rows, int n, const float *x, float *y, bool log_) {
    if (rows <= 0 || n <= 0) return;
    k_softmax<<<cu_grid(rows), 128, 0, cu_stream()>>>(rows, n, x, y, log_);
    CU_LAUNCHED();
}
static void softmax_bwd_launch(int rows, int n, const float *y, const float *dy, float *dx,
                               bool log_) {
    if (rows <= 0 || n <= 0) return;
    k_softmax_bwd<<<cu_grid(rows), 128, 0, cu_stream()>>>(rows, n, y, dy, dx, log_);
    CU_LAUNCHED();
}
static void cu_softmax_fwd(int rows, int n, const float *x, float *y) {
    softmax_launch(rows, n, x, y, false);
}
static void cu_softmax_bwd(int rows, int n, const float *y, const float *dy, float *dx) {
    softmax_bwd_launch(rows, n, y, dy, dx, false);
}
static void cu_log_softmax_fwd(int rows, int n, const float *x, float *y) {
    softmax_launch(rows, n, x, y, true);
}
static void cu_log_softmax_bwd(int rows, int n, const float *y, const float *dy, float *dx) {
    softmax_bwd_launch(rows, n, y, dy, dx, true);
}

/* ---------------------------------------------------- whole reductions */

struct SumOf {
    const float *x;
    int kind; /* 0 sum, 1 sum of squares, 2 count of non-finite values */
    __device__ double operator()(size_t i) const {
        float v = x[i];
        return kind == 0 ? (double)v : kind == 1 ? (double)v * v : (isfinite(v) ? 0.0 : 1.0);
    }
};

void cu_reduce_to(size_t n, const float *x, bool squares, double *out) {
    cu_sumred(n, SumOf{x, squares ? 1 : 0}, out);
}

static double reduce_host(size_t n, const float *x, int kind) {
    CuCtx *c = cu_ctx();
    double *d = cu_red_out();
    if (!n) return 0.0;
    if (!cu_sumred(n, SumOf{x, kind}, d)) return NAN;
    CU_CHECK(cudaMemcpyAsync(c->red_host, d, sizeof(double), cudaMemcpyDeviceToHost, c->stream));
    CU_CHECK(cudaStreamSynchronize(c->stream));
    return c->red_host[0];
}

static double cu_sum(size_t n, const float *x) { return reduce_host(n, x, 0); }
static double cu_sumsq(size_t n, const float *x) { return reduce_host(n, x, 1); }
static bool cu_all_finite(size_t n, const float *x) { return reduce_host(n, x, 2) == 0.0; }

/* ------------------------------------------------------------ optimiser */

__global__ static void k_adamw(size_t n, float b1, float b2, float eps, float decay,
                               float step_size, float bc2_sqrt, const double *grad_norm,
                               double max_norm, float *p, const float *g, float *m, float *v) {
    const float gs = grad_norm ? k_clip_coef(grad_norm[0], max_norm) : 1.0f;
    GRID_LOOP(i, n)
    k_adamw(&p[i], g[i] * gs, &m[i], &v[i], b1, b2, eps, decay, step_size, bc2_sqrt);
}

static void cu_adamw(size_t n, float lr, float b1, float b2, float eps, float wd, int64_t step,
                     const double *grad_norm, double max_norm, float *p, const float *g, float *m,
                     float *v) {
    if (!n) return;
    /* the step's scalars exactly as the CPU backend forms them */
    double bc1 = 1.0 - pow((double)b1, (double)step), bc2 = 1.0 - pow((double)b2, (double)step);
    float step_size = (float)(lr / bc1), bc2_sqrt = (float)sqrt(bc2);
    float decay = 1.0f - lr * wd;
    k_adamw<<<cu_grid(n), CU_THREADS, 0, cu_stream()>>>(n, b1, b2, eps, decay, step_size, bc2_sqrt,
                                                        grad_norm, max_norm, p, g, m, v);
    CU_LAUNCHED();
}

__global__ static void k_norm_final(const double *sum, double *norm) { norm[0] = sqrt(sum[0]); }

static void cu_grad_norm(size_t n, const float *g, double *norm) {
    CuCtx *c = cu_ctx();
    double *s = cu_red_out();
    if (n) cu_reduce_to(n, g, true, s);
    else CU_CHECK(cudaMemsetAsync(s, 0, sizeof(double), c->stream));
    k_norm_final<<<1, 1, 0, c->stream>>>(s, norm);
    CU_LAUNCHED();
}

/* norm = sqrt(sum); scalar[2] = rho/(norm + 1e-12) as float, scalar[3] = 1
 * when the norm is positive and finite. */
__global__ static void k_sam_final(const double *sum, double rho, double *norm, float *sc) {
    double nv = sqrt(sum[0]);
    norm[0] = nv;
    bool ok = nv > 0 && isfinite(nv);
    sc[2] = ok ? (float)(rho / (nv + 1e-12)) : 0.0f;
    sc[3] = ok ? 1.0f : 0.0f;
}
__global__ static void k_sam_apply(size_t n, bool adaptive, float *p, const float *g,
                                   const float *tmp, float *e, const float *sc) {
    bool ok = sc[3] != 0.0f;
    float s = sc[2];
    GRID_LOOP(i, n) {
        if (!ok) {
            e[i] = 0.0f;
            continue;
        }
        float ev = (adaptive ? p[i] * tmp[i] : g[i]) * s; /* p²·g or g, scaled */
        e[i] = ev;
        p[i] += 1.0f * ev;
    }
}

static void cu_sam_perturb(size_t n, double rho, bool adaptive, float *p, const float *g, float *e,
                           float *tmp, double *norm) {
    CuCtx *c = cu_ctx();
    double *s = cu_red_out();
    if (adaptive) cu_mul(n, p, g, tmp); /* |p|·g up to sign: p·g */
    if (n) cu_reduce_to(n, adaptive ? tmp : g, true, s);
    else CU_CHECK(cudaMemsetAsync(s, 0, sizeof(double), c->stream));
    k_sam_final<<<1, 1, 0, c->stream>>>(s, rho, norm, c->scalar);
    CU_LAUNCHED();
    if (!n) return;
    k_sam_apply<<<cu_grid(n), CU_THREADS, 0, c->stream>>>(n, adaptive, p, g, tmp, e, c->scalar);
    CU_LAUNCHED();
}

void cu_register_dense(KOps *k) {
    k->gemm = cu_gemm_op;
    k->linear_fwd = cu_linear_fwd;
    k->linear_bwd = cu_linear_bwd;
    k->act_fwd = cu_act_fwd;
    k->act_bwd = cu_act_bwd;
    k->mul = cu_mul;
    k->axpy = cu_axpy;
    k->scale = cu_scale;
    k->add = cu_add;
    k->softmax_fwd = cu_softmax_fwd;
    k->softmax_bwd = cu_softmax_bwd;
    k->log_softmax_fwd = cu_log_softmax_fwd;
    k->log_softmax_bwd = cu_log_softmax_bwd;
    k->sum = cu_sum;
    k->sumsq = cu_sumsq;
    k->col_sum = cu_col_sum;
    k->all_finite = cu_all_finite;
    k->adamw = cu_adamw;
    k->grad_norm = cu_grad_norm;
    k->sam_perturb = cu_sam_perturb;
}
