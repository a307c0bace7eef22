/* cu_conv: 2-D convolution, depthwise convolution and transposed
 * convolution on the GPU. Activations NHWC, weights in PyTorch's layouts
 * (conv [cout, cin/groups, kh, kw], conv-transpose [cin, cout, kh, kw]),
 * the CPU reference's contracts (overwrite dx, accumulate dw and db).
 *
 * Strategy:
 *  - 1x1 / stride 1 / pad 0 / groups 1 (EfficientNet's pointwise convs): the
 *    activation is the GEMM operand: forward, data and filter gradients are
 *    one cuBLAS GEMM each, no workspace.
 *  - Depthwise (groups == cin == cout): own kernels, one thread per output
 *    element adding the taps in the CPU's order; the filter gradient is a
 *    deterministic column reduction over pixels (cu_reduce.cuh).
 *  - Every other convolution is planned as "conv C" (cu_plan.h): cuDNN with
 *    explicitly chosen deterministic algorithms (cu_dnn.cu), NHWC tensors
 *    and KRSC filters (bfloat16 copies in bf16 precision), per direction;
 *    a direction cuDNN has no deterministic algorithm for — or every
 *    direction with VADBENCH_CUDA_CONV=gemm — runs im2col + cuBLAS GEMM +
 *    a col2im gather (each output element sums its own taps in order).
 *  - A transposed convolution is conv C read backwards: its forward is C's
 *    data gradient, its data gradient C's forward, its filter gradient C's
 *    with the roles of input and output exchanged.
 * Plans (descriptors, algorithms) are cached per geometry and precision.
 * No floating-point atomics anywhere. */
#include <cuda_bf16.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernels/cuda/cu_dnn.h"
#include "kernels/cuda/cu_internal.h"
#include "kernels/cuda/cu_reduce.cuh"

/* ---------------------------------------------------------------- plans */

struct CuConvPlan {
    CuConvGeo g;
    bool bf16;
    CuConvWs ws;
    CuDnnConv *dnn; /* NULL: own kernels for every direction */
};

static bool geo_eq(const CuConvGeo *a, const CuConvGeo *b) { return !memcmp(a, b, sizeof *a); }

void cu_conv_plans_free(CuCtx *c) {
    for (int i = 0; i < c->nplans; i++) {
        cu_dnn_conv_free(c->plans[i]->dnn);
        free(c->plans[i]);
    }
    c->nplans = 0;
}

static CuConvPlan *plan_get(const CuConvGeo *g) {
    CuCtx *c = cu_ctx();
    bool bf16 = c->prec == K_PREC_BF16;
    for (int i = 0; i < c->nplans; i++)
        if (c->plans[i]->bf16 == bf16 && geo_eq(&c->plans[i]->g, g)) return c->plans[i];
    CuConvPlan *p = (CuConvPlan *)calloc(1, sizeof *p);
    if (!p) {
        cu_note(VB_ERR_NOMEM, __FILE__, __LINE__, "convolution plan: out of host memory");
        return NULL;
    }
    p->g = *g, p->bf16 = bf16;
    p->ws = cu_conv_ws(g, bf16);
    char why[256] = "";
    if (!c->conv_gemm_only && c->dnn)
        p->dnn = cu_dnn_conv_plan(c->dnn, g, bf16, p->ws.dnn_ws_bytes, why, sizeof why);
    if (c->verbose) {
        char desc[256];
        if (p->dnn) cu_dnn_conv_describe(p->dnn, desc, sizeof desc);
        else snprintf(desc, sizeof desc, "own kernels%s%s", why[0] ? ": " : "", why);
        fprintf(stderr,
                "vadbench cuda: conv n%d %dx%dx%d -> %dx%dx%d k%dx%d s%d p%d g%d %s: %s (ws %.1f "
                "MiB)\n",
                g->n, g->H, g->W, g->Cin, g->Hs, g->Ws, g->Cout, g->kh, g->kw, g->sh, g->ph,
                g->groups, bf16 ? "bf16" : "fp32", desc, (double)p->ws.total * 4 / 1048576.0);
    }
    if (c->nplans == c->cap_plans) {
        int cap = c->cap_plans ? 2 * c->cap_plans : 32;
        CuConvPlan **np = (CuConvPlan **)realloc(c->plans, (size_t)cap * sizeof *np);
        if (!np) {
            cu_dnn_conv_free(p->dnn);
            free(p);
            cu_note(VB_ERR_NOMEM, __FILE__, __LINE__, "convolution plan: out of host memory");
            return NULL;
        }
        c->plans = np, c->cap_plans = cap;
    }
    c->plans[c->nplans++] = p;
    return p;
}

/* ------------------------------------------------- layout conversions */

/* dst[(co*kk + t)*cg + ci] = w[(co*cg + ci)*kk + t]: KCRS -> KRSC, as float or bf16. */
template <class T>
__global__ static void k_to_krsc(int cout, int cg, int kk, const float *w, T *dst) {
    GRID_LOOP(i, (size_t)cout * cg * kk) {
        size_t ci = i % cg, t = i / cg % kk, co = i / cg / kk;
        dst[i] = (T)w[(co * cg + ci) * kk + t];
    }
}
/* dw[(co*cg + ci)*kk + t] += src[(co*kk + t)*cg + ci]: KRSC -> KCRS, accumulating. */
template <class T>
__global__ static void k_add_kcrs(int cout, int cg, int kk, const T *src, float *dw) {
    GRID_LOOP(i, (size_t)cout * cg * kk) {
        size_t t = i % kk, ci = i / kk % cg, co = i / kk / cg;
        dw[i] += (float)src[(co * kk + t) * cg + ci];
    }
}
__global__ static void k_to_bf16(size_t n, const float *x, __nv_bfloat16 *y) {
    GRID_LOOP(i, n) y[i] = __float2bfloat16_rn(x[i]);
}
__global__ static void k_from_bf16(size_t n, const __nv_bfloat16 *x, float *y) {
    GRID_LOOP(i, n) y[i] = __bfloat162float(x[i]);
}
__global__ static void k_add_bias(size_t total, int c, const float *b, float *y) {
    GRID_LOOP(i, total) y[i] += b[i % c];
}

static void to_krsc(const CuConvGeo *g, const float *w, void *dst, bool bf16) {
    int cg = g->Cin / g->groups, kk = g->kh * g->kw;
    size_t n = (size_t)g->Cout * cg * kk;
    if (bf16) k_to_krsc<__nv_bfloat16> LAUNCH(n)(g->Cout, cg, kk, w, (__nv_bfloat16 *)dst);
    else k_to_krsc<float> LAUNCH(n)(g->Cout, cg, kk, w, (float *)dst);
    CU_LAUNCHED();
}
static void add_kcrs(const CuConvGeo *g, const void *src, float *dw, bool bf16) {
    int cg = g->Cin / g->groups, kk = g->kh * g->kw;
    size_t n = (size_t)g->Cout * cg * kk;
    if (bf16) k_add_kcrs<__nv_bfloat16> LAUNCH(n)(g->Cout, cg, kk, (const __nv_bfloat16 *)src, dw);
    else k_add_kcrs<float> LAUNCH(n)(g->Cout, cg, kk, (const float *)src, dw);
    CU_LAUNCHED();
}
static void to_bf16(size_t n, const float *x, void *y) {
    if (!n) return;
    k_to_bf16 LAUNCH(n)(n, x, (__nv_bfloat16 *)y);
    CU_LAUNCHED();
}
static void from_bf16(size_t n, const void *x, float *y) {
    if (!n) return;
    k_from_bf16 LAUNCH(n)(n, (const __nv_bfloat16 *)x, y);
    CU_LAUNCHED();
}
static void add_bias(size_t rows, int c, const float *b, float *y) {
    if (!b || !rows) return;
    k_add_bias LAUNCH(rows * c)(rows * c, c, b, y);
    CU_LAUNCHED();
}

/* ------------------------------------------------------ im2col path */

/* col[(row, gi, tap, ci)] = X at the tap of small-grid point row (0 outside). */
__global__ static void k_im2col(CuConvGeo g, const float *x, float *col) {
    int kk = g.kh * g.kw, cg = g.Cin / g.groups;
    size_t ldcol = (size_t)g.Cin * kk;
    GRID_LOOP(i, (size_t)g.n * g.Hs * g.Ws * ldcol) {
        size_t row = i / ldcol, cidx = i % ldcol;
        int ci = (int)(cidx % cg), tap = (int)(cidx / cg % kk), gi = (int)(cidx / cg / kk);
        int xs = (int)(row % g.Ws), ys = (int)(row / g.Ws % g.Hs), ni = (int)(row / g.Ws / g.Hs);
        int Y = ys * g.sh - g.ph + tap / g.kw, X = xs * g.sw - g.pw + tap % g.kw;
        bool in = Y >= 0 && Y < g.H && X >= 0 && X < g.W;
        col[i] = in ? x[(((size_t)ni * g.H + Y) * g.W + X) * g.Cin + (size_t)gi * cg + ci] : 0.0f;
    }
}

/* X[n, Y, X, c] = sum over the taps reaching it of col (tap order): the adjoint of im2col. */
__global__ static void k_col2im(CuConvGeo g, const float *col, float *x) {
    int kk = g.kh * g.kw, cg = g.Cin / g.groups;
    size_t ldcol = (size_t)g.Cin * kk;
    GRID_LOOP(i, (size_t)g.n * g.H * g.W * g.Cin) {
        int c = (int)(i % g.Cin), X = (int)(i / g.Cin % g.W), Y = (int)(i / g.Cin / g.W % g.H);
        size_t ni = i / g.Cin / g.W / g.H;
        int gi = c / cg, ci = c % cg;
        float s = 0.0f;
        for (int ky = 0; ky < g.kh; ky++) {
            int t = Y + g.ph - ky;
            if (t < 0 || t % g.sh) continue;
            int ys = t / g.sh;
            if (ys >= g.Hs) continue;
            for (int kx = 0; kx < g.kw; kx++) {
                int u = X + g.pw - kx;
                if (u < 0 || u % g.sw) continue;
                int xs = u / g.sw;
                if (xs >= g.Ws) continue;
                size_t row = (ni * g.Hs + ys) * g.Ws + xs;
                s += col[row * ldcol + ((size_t)gi * kk + ky * g.kw + kx) * cg + ci];
            }
        }
        x[i] = s;
    }
}

static size_t rows_small(const CuConvGeo *g) { return (size_t)g->n * g->Hs * g->Ws; }
static size_t big_len(const CuConvGeo *g) { return (size_t)g->n * g->H * g->W * g->Cin; }

/* ------------------------------------------------ conv C, per direction */

/* Y (small) = conv(X (large), w KCRS), overwrite. */
static void conv_c_fwd(CuConvPlan *p, const float *x, const float *w, float *y, float *ws) {
    const CuConvGeo *g = &p->g;
    const CuConvWs *l = &p->ws;
    CuCtx *c = cu_ctx();
    size_t small = rows_small(g) * g->Cout;
    if (cu_dnn_conv_has(p->dnn, 0)) {
        void *wk = ws + l->dnn, *wt = p->bf16 ? (void *)(ws + l->wb) : (void *)(ws + l->wt);
        to_krsc(g, w, wt, p->bf16);
        if (p->bf16) {
            to_bf16(big_len(g), x, ws + l->xb);
            if (cu_dnn_conv_fwd(c->dnn, p->dnn, ws + l->xb, wt, ws + l->yb, wk, l->dnn_ws_bytes))
                from_bf16(small, ws + l->yb, y);
        } else {
            cu_dnn_conv_fwd(c->dnn, p->dnn, x, wt, y, wk, l->dnn_ws_bytes);
        }
        return;
    }
    int cg = g->Cin / g->groups, cgo = g->Cout / g->groups, K = cg * g->kh * g->kw;
    float *wr = ws + l->wr, *col = ws + l->col;
    to_krsc(g, w, wr, false);
    size_t ncol = rows_small(g) * (size_t)g->Cin * g->kh * g->kw;
    k_im2col LAUNCH(ncol)(*g, x, col);
    CU_LAUNCHED();
    cu_gemm_strided(false, true, (int)rows_small(g), cgo, K, 1.0f, col, g->groups * K, K, wr, K,
                    (long long)cgo * K, 0.0f, y, g->Cout, cgo, g->groups, true);
}

/* dX (large) = the data gradient of conv C from dY (small), overwrite. */
static void conv_c_bwd_data(CuConvPlan *p, const float *w, const float *dy, float *dx, float *ws) {
    const CuConvGeo *g = &p->g;
    const CuConvWs *l = &p->ws;
    CuCtx *c = cu_ctx();
    if (cu_dnn_conv_has(p->dnn, 1)) {
        void *wk = ws + l->dnn, *wt = p->bf16 ? (void *)(ws + l->wb) : (void *)(ws + l->wt);
        to_krsc(g, w, wt, p->bf16);
        if (p->bf16) {
            to_bf16(rows_small(g) * g->Cout, dy, ws + l->yb);
            if (cu_dnn_conv_bwd_data(c->dnn, p->dnn, wt, ws + l->yb, ws + l->xb, wk,
                                     l->dnn_ws_bytes))
                from_bf16(big_len(g), ws + l->xb, dx);
        } else {
            cu_dnn_conv_bwd_data(c->dnn, p->dnn, wt, dy, dx, wk, l->dnn_ws_bytes);
        }
        return;
    }
    int cg = g->Cin / g->groups, cgo = g->Cout / g->groups, K = cg * g->kh * g->kw;
    float *wr = ws + l->wr, *col = ws + l->col;
    to_krsc(g, w, wr, false);
    cu_gemm_strided(false, false, (int)rows_small(g), K, cgo, 1.0f, dy, g->Cout, cgo, wr, K,
                    (long long)cgo * K, 0.0f, col, g->groups * K, K, g->groups, true);
    k_col2im LAUNCH(big_len(g))(*g, col, dx);
    CU_LAUNCHED();
}

/* dw (KCRS) += the filter gradient of conv C from X (large) and dY (small). */
static void conv_c_bwd_filter(CuConvPlan *p, const float *x, const float *dy, float *dw,
                              float *ws) {
    const CuConvGeo *g = &p->g;
    const CuConvWs *l = &p->ws;
    CuCtx *c = cu_ctx();
    if (cu_dnn_conv_has(p->dnn, 2)) {
        void *wk = ws + l->dnn;
        if (p->bf16) {
            to_bf16(big_len(g), x, ws + l->xb);
            to_bf16(rows_small(g) * g->Cout, dy, ws + l->yb);
            if (cu_dnn_conv_bwd_filter(c->dnn, p->dnn, ws + l->xb, ws + l->yb, ws + l->dwb, wk,
                                       l->dnn_ws_bytes))
                add_kcrs(g, ws + l->dwb, dw, true);
        } else if (cu_dnn_conv_bwd_filter(c->dnn, p->dnn, x, dy, ws + l->dwt, wk,
                                          l->dnn_ws_bytes)) {
            add_kcrs(g, ws + l->dwt, dw, false);
        }
        return;
    }
    int cg = g->Cin / g->groups, cgo = g->Cout / g->groups, K = cg * g->kh * g->kw;
    float *col = ws + l->col, *dwr = ws + l->dwr;
    size_t ncol = rows_small(g) * (size_t)g->Cin * g->kh * g->kw;
    k_im2col LAUNCH(ncol)(*g, x, col);
    CU_LAUNCHED();
    cu_gemm_strided(true, false, cgo, K, (int)rows_small(g), 1.0f, dy, g->Cout, cgo, col,
                    g->groups * K, K, 0.0f, dwr, K, (long long)cgo * K, g->groups, true);
    add_kcrs(g, dwr, dw, false);
}

/* db[c] += sum over rows of dy[rows, c] */
static void bias_grad(size_t rows, int c, const float *dy, float *db) {
    if (db) cu_ctx()->ops.col_sum((int)rows, c, dy, db, true);
}

/* ------------------------------------------------------------ depthwise */

__global__ static void k_dw_fwd(KConv p, const float *x, const float *w, const float *b, float *y) {
    int C = p.cin, kk = p.kh * p.kw;
    GRID_LOOP(i, (size_t)p.n * p.oh * p.ow * C) {
        int c = (int)(i % C), ox = (int)(i / C % p.ow), oy = (int)(i / C / p.ow % p.oh);
        size_t ni = i / C / p.ow / p.oh;
        float s = b ? b[c] : 0.0f;
        for (int ky = 0; ky < p.kh; ky++) {
            int iy = oy * p.sh - p.ph + ky;
            if (iy < 0 || iy >= p.h) continue;
            for (int kx = 0; kx < p.kw; kx++) {
                int ix = ox * p.sw - p.pw + kx;
                if (ix < 0 || ix >= p.w) continue;
                s += x[((ni * p.h + iy) * p.w + ix) * C + c] * w[(size_t)c * kk + ky * p.kw + kx];
            }
        }
        y[i] = s;
    }
}

__global__ static void k_dw_dx(KConv p, const float *w, const float *dy, float *dx) {
    int C = p.cin, kk = p.kh * p.kw;
    GRID_LOOP(i, (size_t)p.n * p.h * p.w * C) {
        int c = (int)(i % C), ix = (int)(i / C % p.w), iy = (int)(i / C / p.w % p.h);
        size_t ni = i / C / p.w / p.h;
        float s = 0.0f;
        for (int ky = 0; ky < p.kh; ky++) {
            int t = iy + p.ph - ky;
            if (t < 0 || t % p.sh || t / p.sh >= p.oh) continue;
            for (int kx = 0; kx < p.kw; kx++) {
                int v = ix + p.pw - kx;
                if (v < 0 || v % p.sw || v / p.sw >= p.ow) continue;
                s += dy[((ni * p.oh + t / p.sh) * p.ow + v / p.sw) * C + c] *
                     w[(size_t)c * kk + ky * p.kw + kx];
            }
        }
        dx[i] = s;
    }
}

/* Column (tap, c) of the depthwise filter gradient; tap == kk is the bias. */
struct DwGrad {
    KConv p;
    const float *x, *dy;
    __device__ void operator()(int, int r, int col, double *acc) const {
        int C = p.cin, kk = p.kh * p.kw, tap = col / C, c = col % C;
        int ox = r % p.ow, oy = r / p.ow % p.oh, ni = r / p.ow / p.oh;
        float g = dy[(size_t)r * C + c];
        if (tap == kk) {
            acc[0] += g;
            return;
        }
        int iy = oy * p.sh - p.ph + tap / p.kw, ix = ox * p.sw - p.pw + tap % p.kw;
        if (iy < 0 || iy >= p.h || ix < 0 || ix >= p.w) return;
        acc[0] += (double)g * x[(((size_t)ni * p.h + iy) * p.w + ix) * C + c];
    }
};

__global__ static void k_dw_store(int C, int kk, const double *s, float *dw, float *db) {
    GRID_LOOP(i, (size_t)(kk + 1) * C) {
        int tap = (int)(i / C), c = (int)(i % C);
        if (tap < kk) {
            if (dw) dw[(size_t)c * kk + tap] += (float)s[i];
        } else if (db) {
            db[c] += (float)s[i];
        }
    }
}

static void cu_dwconv2d_fwd(const KConv *p, const float *x, const float *w, const float *b,
                            float *y) {
    size_t total = (size_t)p->n * p->oh * p->ow * p->cin;
    if (!total) return;
    k_dw_fwd LAUNCH(total)(*p, x, w, b, y);
    CU_LAUNCHED();
}

static void cu_dwconv2d_bwd(const KConv *p, const float *x, const float *w, const float *dy,
                            float *dx, float *dw, float *db) {
    if (dx) {
        size_t total = (size_t)p->n * p->h * p->w * p->cin;
        k_dw_dx LAUNCH(total)(*p, w, dy, dx);
        CU_LAUNCHED();
    }
    if (!dw && !db) return;
    int kk = p->kh * p->kw, cols = (kk + 1) * p->cin;
    size_t pixels = (size_t)p->n * p->oh * p->ow;
    double *s = cu_red_out();
    if (!cu_colred<1>(pixels, cols, 1, DwGrad{*p, x, dy}, s)) return;
    k_dw_store LAUNCH((size_t)cols)(p->cin, kk, s, dw, db);
    CU_LAUNCHED();
}

/* ------------------------------------------------------------ the ops */

static bool is_dw(const KConv *p) { return p->groups == p->cin && p->cin == p->cout; }
static bool is_1x1(const KConv *p) {
    return p->kh == 1 && p->kw == 1 && p->sh == 1 && p->sw == 1 && p->ph == 0 && p->pw == 0 &&
           p->groups == 1;
}

static size_t cu_conv2d_ws(const KConv *c) {
    if (is_dw(c) || is_1x1(c)) return 0;
    CuConvGeo g = cu_conv_geo(c);
    CuConvPlan *p = plan_get(&g);
    return p ? p->ws.total : cu_conv_ws(&g, cu_ctx()->prec == K_PREC_BF16).total;
}

static void cu_conv2d_fwd(const KConv *c, const float *x, const float *w, const float *b, float *y,
                          float *ws) {
    if (is_dw(c)) return cu_dwconv2d_fwd(c, x, w, b, y);
    size_t rows = (size_t)c->n * c->oh * c->ow;
    if (is_1x1(c)) { /* y[rows,cout] = x[rows,cin] W^T + b */
        cu_gemm(false, true, (int)rows, c->cout, c->cin, 1.0f, x, c->cin, w, c->cin, 0.0f, y,
                c->cout, true);
        add_bias(rows, c->cout, b, y);
        return;
    }
    CuConvGeo g = cu_conv_geo(c);
    CuConvPlan *p = plan_get(&g);
    if (!p) return;
    conv_c_fwd(p, x, w, y, ws);
    add_bias(rows, c->cout, b, y);
}

static void cu_conv2d_bwd(const KConv *c, const float *x, const float *w, const float *dy,
                          float *dx, float *dw, float *db, float *ws) {
    if (is_dw(c)) return cu_dwconv2d_bwd(c, x, w, dy, dx, dw, db);
    size_t rows = (size_t)c->n * c->oh * c->ow;
    bias_grad(rows, c->cout, dy, db);
    if (is_1x1(c)) {
        if (dw) /* dw[cout,cin] += dy^T x */
            cu_gemm(true, false, c->cout, c->cin, (int)rows, 1.0f, dy, c->cout, x, c->cin, 1.0f, dw,
                    c->cin, true);
        if (dx) /* dx[rows,cin] = dy W */
            cu_gemm(false, false, (int)rows, c->cin, c->cout, 1.0f, dy, c->cout, w, c->cin, 0.0f,
                    dx, c->cin, true);
        return;
    }
    CuConvGeo g = cu_conv_geo(c);
    CuConvPlan *p = plan_get(&g);
    if (!p) return;
    if (dw) conv_c_bwd_filter(p, x, dy, dw, ws);
    if (dx) conv_c_bwd_data(p, w, dy, dx, ws);
}

static size_t cu_convt2d_ws(const KConv *c) {
    CuConvGeo g = cu_convt_geo(c);
    CuConvPlan *p = plan_get(&g);
    return p ? p->ws.total : cu_conv_ws(&g, cu_ctx()->prec == K_PREC_BF16).total;
}

/* y = conv C's data gradient of x (+ b): x [n,h,w,cin] is C's output grid. */
static void cu_convt2d_fwd(const KConv *c, const float *x, const float *w, const float *b, float *y,
                           float *ws) {
    CuConvGeo g = cu_convt_geo(c);
    CuConvPlan *p = plan_get(&g);
    if (!p) return;
    conv_c_bwd_data(p, w, x, y, ws);
    add_bias((size_t)c->n * c->oh * c->ow, c->cout, b, y);
}

static void cu_convt2d_bwd(const KConv *c, const float *x, const float *w, const float *dy,
                           float *dx, float *dw, float *db, float *ws) {
    bias_grad((size_t)c->n * c->oh * c->ow, c->cout, dy, db);
    if (!dx && !dw) return;
    CuConvGeo g = cu_convt_geo(c);
    CuConvPlan *p = plan_get(&g);
    if (!p) return;
    if (dw) conv_c_bwd_filter(p, dy, x, dw, ws); /* C's input is dy, its output gradient x */
    if (dx) conv_c_fwd(p, dy, w, dx, ws);
}

void cu_register_conv(KOps *k) {
    k->conv2d_ws = cu_conv2d_ws;
    k->conv2d_fwd = cu_conv2d_fwd;
    k->conv2d_bwd = cu_conv2d_bwd;
    k->dwconv2d_fwd = cu_dwconv2d_fwd;
    k->dwconv2d_bwd = cu_dwconv2d_bwd;
    k->convt2d_ws = cu_convt2d_ws;
    k->convt2d_fwd = cu_convt2d_fwd;
    k->convt2d_bwd = cu_convt2d_bwd;
}
