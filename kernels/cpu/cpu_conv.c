/* cpu_conv: 2-D convolution, depthwise convolution and transposed
 * convolution for the CPU backend. Activations are NHWC, weights use the
 * PyTorch layouts (conv [cout, cin/groups, kh, kw], conv-transpose
 * [cin, cout, kh, kw]).
 *
 * Strategy:
 *  - 1x1 / stride 1 / pad 0 / groups 1 (EfficientNet's pointwise convs): the
 *    activation IS the GEMM operand, so forward and data-gradient are one GEMM
 *    over all n*h*w rows, no im2col.
 *  - General conv: im2col in NHWC order (columns ordered (group, ky, kx, ci),
 *    so each copy is a contiguous channel run) + GEMM against the weights
 *    reordered to [cout, ky, kx, ci]. The data-gradient is GEMM + col2im.
 *  - Depthwise (groups == cin == cout): direct loops whose innermost loop runs
 *    over contiguous channels in 64-byte vectors (the active path's kernels).
 *  - Conv-transpose is the data-gradient of a conv: forward is GEMM + col2im,
 *    its data-gradient is im2col + GEMM (a conv forward).
 *
 * Determinism: GEMMs are the own fixed-order SGEMM (gemm.h); every other
 * parallel loop runs over work units whose boundaries come from the shapes
 * only (the constants below), never from the thread count. Output elements have exactly one writer;
 * col2im is a gather (each output pixel sums its own contributions in tap
 * order). Reductions over rows (weight and bias gradients) are computed per
 * fixed row chunk into partial buffers that are then summed in chunk order. */
#include "cpu_internal.h"

#include <string.h>

/* Fixed work-unit sizes. Changing them changes rounding, never correctness;
 * none of them may depend on the thread count. */
enum {
    RED_ROWS = 2048,  /* rows per reduction chunk (weight and bias gradients) */
    RED_MAX = 16,     /* at most this many chunks (bounds the partial buffers) */
    SUM_BLOCK = 4096, /* elements per unit when summing partials */
    DW_WBUF = 4096,   /* floats of stack for one block's weights (kh*kw*block) */
    DW_MAXTAP = 64,   /* depthwise kernels up to 8x8 */
    DW_UNIT_PIX = 64, /* output pixels (at least) per depthwise fwd/dx unit */
    DW_PART = 16384,  /* floats of caller stack for depthwise gradient partials */
};
/* Loops with less work than this (multiply-adds or copies) run on the
 * calling thread: same units in the same order, so the same bits, without
 * the cost of waking the team for a few microseconds of work. */
#define PAR_MIN ((size_t)32768)

static inline int imin(int a, int b) { return a < b ? a : b; }
static inline size_t zmin(size_t a, size_t b) { return a < b ? a : b; }

/* Channel-strip kernels of the active instruction-set path (cpu_vec_body.h):
 * acc[j] += sum_i a[i*sa+j]*b[i*sb+j] and acc[j] += sum_i a[i*sa+j], i in
 * order, lane-wise (the same bits on every path). */
static inline void strip_dot(int cnt, const float *a, size_t sa, const float *b, size_t sb, int cn,
                             float *acc) {
    cpu_vec()->strip_dot(cnt, a, sa, b, sb, cn, acc);
}
static inline void strip_sum(int cnt, const float *a, size_t sa, int cn, float *acc) {
    cpu_vec()->strip_sum(cnt, a, sa, cn, acc);
}

/* Number of reduction chunks for `rows` rows: ceil(rows / RED_ROWS) capped
 * at RED_MAX, at least 1. Chunk ch covers rows [ch*per, min(rows,(ch+1)*per)). */
static int red_chunks(size_t rows) {
    size_t c = (rows + RED_ROWS - 1) / RED_ROWS;
    return c < 1 ? 1 : c > RED_MAX ? RED_MAX : (int)c;
}
static void chunk_range(size_t rows, int nch, int ch, size_t *r0, size_t *r1) {
    size_t per = (rows + (size_t)nch - 1) / (size_t)nch;
    *r0 = zmin(rows, (size_t)ch * per);
    *r1 = zmin(rows, *r0 + per);
}

/* part[0][e] = sum over chunks of part[ch][e] (chunk order), e < len.
 * part is [nch][len]; only part[0] is meaningful afterwards. */
static void sum_partials(int nch, size_t len, float *part) {
    if (nch <= 1) return;
    const size_t nblk = (len + SUM_BLOCK - 1) / SUM_BLOCK;
#pragma omp parallel for schedule(static) if (len * (size_t)nch >= PAR_MIN)
    for (size_t b = 0; b < nblk; b++) {
        const size_t e0 = b * SUM_BLOCK, e1 = zmin(len, e0 + SUM_BLOCK);
        for (int ch = 1; ch < nch; ch++) {
            const float *src = part + (size_t)ch * len;
            for (size_t e = e0; e < e1; e++) part[e] += src[e];
        }
    }
}

/* dst[e] += src[e], e < n. */
static void add_to(size_t n, const float *src, float *dst) {
    const size_t nblk = (n + SUM_BLOCK - 1) / SUM_BLOCK;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t b = 0; b < nblk; b++)
        for (size_t e = b * SUM_BLOCK; e < zmin(n, (b + 1) * SUM_BLOCK); e++) dst[e] += src[e];
}

/* db[c] += sum over rows of dy[rows, c]. Row chunks write partials to
 * part [red_chunks(rows) * c], combined in chunk order. */
static void bias_grad(size_t rows, int c, const float *dy, float *db, float *part) {
    const int nch = red_chunks(rows);
#pragma omp parallel for schedule(static) if (rows * (size_t)c >= PAR_MIN)
    for (int ch = 0; ch < nch; ch++) {
        size_t r0, r1;
        chunk_range(rows, nch, ch, &r0, &r1);
        float *p = part + (size_t)ch * c;
        memset(p, 0, (size_t)c * sizeof(float));
        strip_sum((int)(r1 - r0), dy + r0 * c, (size_t)c, c, p);
    }
    sum_partials(nch, (size_t)c, part);
    for (int j = 0; j < c; j++) db[j] += part[j];
}

/* Grouped GEMM, overwrite: for g < groups,
 *   C_g[m,n] = A_g[m,k] op(B_g) (+ bias_g broadcast over rows)
 * with A_g at a + g*ga (row stride lda), B_g at b + g*gb ([n,k] when tb,
 * else [k,n]; row stride ldb), C_g at c + g*n (row stride ldc), bias_g at
 * bias + g*n. One own-GEMM call per group (threads over tiles of C);
 * `weight`: B is the layer's weight W [n,k] used as W^T (packed copy used
 * when registered). */
static void par_gemm(bool tb, int groups, int m, int n, int k, const float *a, int lda, size_t ga,
                     const float *b, int ldb, size_t gb, const float *bias, float *c, int ldc,
                     bool weight) {
    for (int g = 0; g < groups; g++)
        gemm_par(false, tb, m, n, k, 1.0f, a + g * ga, lda, b + g * gb, ldb, 0.0f,
                 c + (size_t)g * n, ldc, bias ? bias + (size_t)g * n : NULL, weight && groups == 1);
}

/* Weight-gradient partials, overwrite: for each fixed row chunk ch and g,
 *   P[ch][g*mi + i][j] = sum_{r in chunk} A[r, g*ga + i] * B[r, g*gb + j]
 * (A_g^T B_g), i < mi, j < nj; P is [nch][groups*mi][nj] with
 * nch = red_chunks(rows). Afterwards P[0] holds the sum over all rows
 * (chunks combined in order). One chunk: threads share the tiles of each
 * group's product; several: one unit per (chunk, group). */
static void par_wgrad(int groups, size_t rows, int mi, int nj, const float *a, int lda, size_t ga,
                      const float *b, int ldb, size_t gb, float *part) {
    const int nch = red_chunks(rows);
    const size_t plen = (size_t)groups * mi * nj;
    if (nch == 1) {
        for (int g = 0; g < groups; g++)
            gemm_par(true, false, mi, nj, (int)rows, 1.0f, a + g * ga, lda, b + g * gb, ldb, 0.0f,
                     part + (size_t)g * mi * nj, nj, NULL, false);
        return;
    }
    const int units = nch * groups;
#pragma omp parallel for schedule(dynamic, 1) if (rows * groups * mi * nj >= PAR_MIN)
    for (int u = 0; u < units; u++) {
        const int ch = u / groups, g = u % groups;
        size_t r0, r1;
        chunk_range(rows, nch, ch, &r0, &r1);
        gemm_st(true, false, mi, nj, (int)(r1 - r0), 1.0f, a + r0 * lda + g * ga, lda,
                b + r0 * ldb + g * gb, ldb, 0.0f, part + (size_t)ch * plen + (size_t)g * mi * nj,
                nj, NULL, false);
    }
    sum_partials(nch, plen, part);
}

/* dst[a][tap][b] = src[a][b][tap] for a < na, b < nb, tap < kk: turns PyTorch
 * weights [cout][cin_g][kh*kw] (or conv-transpose [cin][cout][kh*kw]) into
 * GEMM rows matching the NHWC column order. Overwrites dst. */
static void taps_inner_to_mid(int na, int nb, int kk, const float *src, float *dst) {
#pragma omp parallel for schedule(static) if ((size_t)na * nb * kk >= PAR_MIN)
    for (int a = 0; a < na; a++)
        for (int b = 0; b < nb; b++)
            for (int t = 0; t < kk; t++)
                dst[((size_t)a * kk + t) * nb + b] = src[((size_t)a * nb + b) * kk + t];
}
/* The inverse, accumulating: dst[a][b][tap] += src[a][tap][b]. */
static void taps_mid_add_inner(int na, int nb, int kk, const float *src, float *dst) {
#pragma omp parallel for schedule(static) if ((size_t)na * nb * kk >= PAR_MIN)
    for (int a = 0; a < na; a++)
        for (int b = 0; b < nb; b++)
            for (int t = 0; t < kk; t++)
                dst[((size_t)a * nb + b) * kk + t] += src[((size_t)a * kk + t) * nb + b];
}

/* ---- im2col / col2im ----
 * A conv relates a large image (conv input, conv-transpose output) to a
 * small grid (conv output, conv-transpose input): large position
 * (Y, X) = (ys*sh - ph + ky, xs*sw - pw + kx). */
typedef struct Geo {
    int n;         /* batch */
    int H, W;      /* the large image */
    int Hs, Ws;    /* the small grid */
    int C, groups; /* channels of the large image and their groups */
    int kh, kw, sh, sw, ph, pw;
} Geo;

static Geo geo_conv(const KConv *p) {
    return (Geo){p->n,  p->h,  p->w,  p->oh, p->ow, p->cin, p->groups,
                 p->kh, p->kw, p->sh, p->sw, p->ph, p->pw};
}
static Geo geo_convt(const KConv *p) {
    return (Geo){p->n,  p->oh, p->ow, p->h,  p->w,  p->cout, 1,
                 p->kh, p->kw, p->sh, p->sw, p->ph, p->pw};
}

/* col [n*Hs*Ws, C*kh*kw], overwrite: row (n,ys,xs), column
 * g*kk*cg + (ky*kw + kx)*cg + ci holds src[n, Y, X, g*cg + ci] (0 outside the
 * image). src is the large image [n, H, W, C]. Parallel over grid rows. */
static void im2col(const Geo *g, const float *src, float *col) {
    const int kk = g->kh * g->kw, cg = g->C / g->groups;
    const size_t ldcol = (size_t)g->C * kk, nrows = (size_t)g->n * g->Hs;
#pragma omp parallel for schedule(static) if (nrows * g->Ws * ldcol >= PAR_MIN)
    for (size_t r = 0; r < nrows; r++) {
        const size_t ni = r / g->Hs;
        const int ys = (int)(r % g->Hs);
        for (int xs = 0; xs < g->Ws; xs++) {
            float *crow = col + (r * g->Ws + xs) * ldcol;
            const int X0 = xs * g->sw - g->pw;
            for (int ky = 0; ky < g->kh; ky++) {
                const int Y = ys * g->sh - g->ph + ky;
                if (g->groups == 1 && Y >= 0 && Y < g->H && X0 >= 0 && X0 + g->kw <= g->W) {
                    /* one group, a whole row of taps inside the image: the kw*C values are
                     * contiguous in NHWC and in the column layout alike */
                    memcpy(crow + (size_t)ky * g->kw * cg,
                           src + ((ni * g->H + Y) * g->W + X0) * g->C,
                           (size_t)g->kw * cg * sizeof(float));
                    continue;
                }
                for (int kx = 0; kx < g->kw; kx++) {
                    const int X = xs * g->sw - g->pw + kx, tap = ky * g->kw + kx;
                    const bool in = Y >= 0 && Y < g->H && X >= 0 && X < g->W;
                    for (int gi = 0; gi < g->groups; gi++) {
                        float *d = crow + ((size_t)gi * kk + tap) * cg;
                        const float *sp =
                            src + ((ni * g->H + Y) * g->W + X) * g->C + (size_t)gi * cg;
                        if (cg < 16) { /* a call per few floats costs more than the copy */
                            for (int c = 0; c < cg; c++) d[c] = in ? sp[c] : 0.0f;
                        } else if (in) {
                            memcpy(d, sp, (size_t)cg * sizeof(float));
                        } else {
                            memset(d, 0, (size_t)cg * sizeof(float));
                        }
                    }
                }
            }
        }
    }
}

/* The adjoint of im2col as a gather, overwrite:
 *   out[n, Y, X, c] = bias[c] (or 0) + sum over taps (ky, kx) that reach
 *   (Y, X) from a grid point of col[(n,ys,xs), column of (tap, c)],
 * in tap order. out is the large image [n, H, W, C]; parallel over its rows,
 * so every element has one writer. */
static void col2im(const Geo *g, const float *col, const float *bias, float *out) {
    const int kk = g->kh * g->kw, cg = g->C / g->groups;
    const size_t ldcol = (size_t)g->C * kk, nrows = (size_t)g->n * g->H;
#pragma omp parallel for schedule(static) if (nrows * g->W * ldcol >= PAR_MIN)
    for (size_t r = 0; r < nrows; r++) {
        const size_t ni = r / g->H;
        const int Y = (int)(r % g->H);
        for (int X = 0; X < g->W; X++) {
            float *o = out + (r * g->W + X) * g->C;
            if (bias) memcpy(o, bias, (size_t)g->C * sizeof(float));
            else memset(o, 0, (size_t)g->C * sizeof(float));
            for (int ky = 0; ky < g->kh; ky++) {
                const int t = Y + g->ph - ky;
                if (t < 0 || t % g->sh) continue;
                const int ys = t / g->sh;
                if (ys >= g->Hs) continue;
                for (int kx = 0; kx < g->kw; kx++) {
                    const int u = X + g->pw - kx;
                    if (u < 0 || u % g->sw) continue;
                    const int xs = u / g->sw;
                    if (xs >= g->Ws) continue;
                    const float *crow = col + ((ni * g->Hs + ys) * g->Ws + xs) * ldcol;
                    for (int gi = 0; gi < g->groups; gi++) {
                        const float *s = crow + ((size_t)gi * kk + ky * g->kw + kx) * cg;
                        strip_sum(1, s, 0, cg, o + (size_t)gi * cg);
                    }
                }
            }
        }
    }
}

/* ---- depthwise ----
 * Channels are innermost in NHWC, so every inner loop runs over a strip of
 * contiguous channels: 64 at a time in four 64-byte vectors, then 16, 8 and
 * a scalar tail (cpu_vec_body.h; lane-wise arithmetic, so each channel gets
 * exactly the scalar loop's operations in the same order on every path).
 * Weights [c][kh*kw] are transposed per channel block to [tap][channel] on
 * the stack (these ops take no scratch). */

/* Channels per depthwise block: the block's kh*kw weights fit in DW_WBUF
 * floats; a multiple of 16 when there is room. */
static int dw_block(const KConv *p) {
    const int kk = p->kh * p->kw;
    VB_ASSERT(kk <= DW_MAXTAP);
    const int cb = DW_WBUF / kk;
    return imin(p->cin, cb >= 16 ? cb / 16 * 16 : cb);
}
/* wt[tap*cb + j] = w[(c0+j)*kk + tap], j < cn: weights with channels innermost. */
static void dw_block_weights(const float *w, int kk, int c0, int cn, int cb, float *wt) {
    for (int t = 0; t < kk; t++)
        for (int j = 0; j < cn; j++) wt[t * cb + j] = w[(size_t)(c0 + j) * kk + t];
}
/* Output rows per forward / data-gradient unit: at least DW_UNIT_PIX pixels. */
static size_t dw_rows_per_unit(int width) { return (size_t)((DW_UNIT_PIX + width - 1) / width); }

/* out[j] = (init ? init[j] : 0) + sum_{t < nt} a[t][j] * b[t][j] for j < cn,
 * taps added in list order (the active path's 64-byte-vector kernel).
 * Overwrites out. */
static inline void taps_dot(int nt, const float *const *a, const float *const *b, int cn,
                            const float *init, float *out) {
    cpu_vec()->dw_taps(nt, a, b, cn, init, out);
}

/* y[n,oh,ow,c] = b[c] + sum_{ky,kx} x[n, oy*sh-ph+ky, ox*sw-pw+kx, c] * w[c,0,ky,kx]
 * (overwrite; b may be NULL; taps outside the image skipped). x [n,h,w,c],
 * w [c,1,kh,kw]. Units: (group of output rows, channel block). */
static void cpu_dwconv2d_fwd(const KConv *p, const float *x, const float *w, const float *b,
                             float *y) {
    VB_ASSERT(p->groups == p->cin && p->cin == p->cout);
    cpu_count_flops(2.0 * p->n * p->oh * p->ow * p->cin * p->kh * p->kw);
    const int C = p->cin, kk = p->kh * p->kw, cb = dw_block(p), nblk = (C + cb - 1) / cb;
    const size_t nrows = (size_t)p->n * p->oh, rpu = dw_rows_per_unit(p->ow);
    const int units = (int)((nrows + rpu - 1) / rpu) * nblk;
#pragma omp parallel for schedule(static) if (nrows * p->ow * C * kk >= PAR_MIN)
    for (int u = 0; u < units; u++) {
        float wt[DW_WBUF];
        const float *xs[DW_MAXTAP], *wl[DW_MAXTAP];
        const int c0 = u % nblk * cb, cn = imin(cb, C - c0);
        const size_t r0 = (size_t)(u / nblk) * rpu, r1 = zmin(nrows, r0 + rpu);
        dw_block_weights(w, kk, c0, cn, cb, wt);
        for (size_t r = r0; r < r1; r++) {
            const size_t ni = r / p->oh;
            const int iy0 = (int)(r % p->oh) * p->sh - p->ph;
            for (int ox = 0; ox < p->ow; ox++) {
                const int ix0 = ox * p->sw - p->pw;
                int nt = 0;
                for (int ky = 0; ky < p->kh; ky++) {
                    const int iy = iy0 + ky;
                    if (iy < 0 || iy >= p->h) continue;
                    for (int kx = 0; kx < p->kw; kx++) {
                        const int ix = ix0 + kx;
                        if (ix < 0 || ix >= p->w) continue;
                        xs[nt] = x + ((ni * p->h + iy) * p->w + ix) * C + c0;
                        wl[nt++] = wt + (ky * p->kw + kx) * cb;
                    }
                }
                taps_dot(nt, xs, wl, cn, b ? b + c0 : NULL, y + (r * p->ow + ox) * C + c0);
            }
        }
    }
}

/* dx[n,iy,ix,c] = sum over taps reaching (iy,ix) of dy[n,oy,ox,c] * w[c,ky,kx]
 * (overwrite). A gather: units are (group of input rows, channel block), so
 * each dx element has one writer. */
static void dw_dx(const KConv *p, const float *w, const float *dy, float *dx) {
    const int C = p->cin, kk = p->kh * p->kw, cb = dw_block(p), nblk = (C + cb - 1) / cb;
    const size_t nrows = (size_t)p->n * p->h, rpu = dw_rows_per_unit(p->w);
    const int units = (int)((nrows + rpu - 1) / rpu) * nblk;
#pragma omp parallel for schedule(static) if (nrows * p->w * C * kk >= PAR_MIN)
    for (int u = 0; u < units; u++) {
        float wt[DW_WBUF];
        const float *ds[DW_MAXTAP], *wl[DW_MAXTAP];
        const int c0 = u % nblk * cb, cn = imin(cb, C - c0);
        const size_t r0 = (size_t)(u / nblk) * rpu, r1 = zmin(nrows, r0 + rpu);
        dw_block_weights(w, kk, c0, cn, cb, wt);
        for (size_t r = r0; r < r1; r++) {
            const size_t ni = r / p->h;
            const int iy = (int)(r % p->h);
            for (int ix = 0; ix < p->w; ix++) {
                int nt = 0;
                for (int ky = 0; ky < p->kh; ky++) {
                    const int t = iy + p->ph - ky;
                    if (t < 0 || t % p->sh || t / p->sh >= p->oh) continue;
                    for (int kx = 0; kx < p->kw; kx++) {
                        const int v = ix + p->pw - kx;
                        if (v < 0 || v % p->sw || v / p->sw >= p->ow) continue;
                        ds[nt] = dy + ((ni * p->oh + t / p->sh) * p->ow + v / p->sw) * C + c0;
                        wl[nt++] = wt + (ky * p->kw + kx) * cb;
                    }
                }
                taps_dot(nt, ds, wl, cn, NULL, dx + (r * p->w + ix) * C + c0);
            }
        }
    }
}

/* dw[c,ky,kx] += sum_{n,oy,ox} dy[n,oy,ox,c] * x[n, oy*sh-ph+ky, ox*sw-pw+kx, c],
 * db[c] += sum dy[...,c] (either may be NULL). Units are (fixed chunk of
 * output rows, channel block); per row and tap the sum over ox runs in
 * registers. With several chunks the unit results go to partials on this
 * function's stack (at most DW_PART floats, which bounds the chunk count by
 * shape) and are summed in chunk order. */
static void dw_dwdb(const KConv *p, const float *x, const float *dy, float *dw, float *db) {
    const int C = p->cin, kk = p->kh * p->kw, cb = dw_block(p), nblk = (C + cb - 1) / cb;
    const size_t nrows = (size_t)p->n * p->oh, plen = (size_t)C * (kk + 1);
    size_t nch = (size_t)red_chunks(nrows * p->ow);
    nch = zmin(nch, zmin(nrows, DW_PART / plen));
    if (nch < 1) nch = 1;
    float part[nch > 1 ? nch * plen : 1]; /* [chunk][dw c*kk | db c] */
    const int units = (int)nch * nblk;
#pragma omp parallel for schedule(static) if (nrows * p->ow * C * kk >= PAR_MIN)
    for (int un = 0; un < units; un++) {
        float accw[DW_WBUF], accb[DW_WBUF];
        const int ch = un / nblk, c0 = un % nblk * cb, cn = imin(cb, C - c0);
        size_t r0, r1;
        chunk_range(nrows, (int)nch, ch, &r0, &r1);
        memset(accw, 0, (size_t)kk * cb * sizeof(float));
        memset(accb, 0, (size_t)cb * sizeof(float));
        for (size_t r = r0; r < r1; r++) {
            const size_t ni = r / p->oh;
            const int iy0 = (int)(r % p->oh) * p->sh - p->ph;
            const float *dyrow = dy + r * p->ow * C + c0;
            strip_sum(p->ow, dyrow, (size_t)C, cn, accb);
            if (!dw) continue;
            for (int ky = 0; ky < p->kh; ky++) {
                const int iy = iy0 + ky;
                if (iy < 0 || iy >= p->h) continue;
                for (int kx = 0; kx < p->kw; kx++) {
                    /* output columns whose input column ox*sw - pw + kx is inside */
                    const int lo = p->pw - kx, hi = p->w - 1 + p->pw - kx;
                    const int oxa = lo > 0 ? (lo + p->sw - 1) / p->sw : 0;
                    const int oxb = hi < 0 ? 0 : imin(p->ow, hi / p->sw + 1);
                    if (oxa >= oxb) continue;
                    const float *xp = x + ((ni * p->h + iy) * p->w + (oxa * p->sw - lo)) * C + c0;
                    strip_dot(oxb - oxa, dyrow + (size_t)oxa * C, (size_t)C, xp, (size_t)p->sw * C,
                              cn, accw + (ky * p->kw + kx) * cb);
                }
            }
        }
        /* one chunk: this unit owns dw/db of its channels; else a partial */
        float *pdst = nch > 1 ? part + ch * plen : NULL;
        for (int j = 0; j < cn; j++) {
            const size_t c = (size_t)(c0 + j);
            for (int t = 0; t < kk; t++) {
                if (pdst) pdst[c * kk + t] = accw[t * cb + j];
                else if (dw) dw[c * kk + t] += accw[t * cb + j];
            }
            if (pdst) pdst[(size_t)C * kk + c] = accb[j];
            else if (db) db[c] += accb[j];
        }
    }
    if (nch > 1) {
        sum_partials((int)nch, plen, part);
        if (dw) add_to((size_t)C * kk, part, dw);
        if (db)
            for (int c = 0; c < C; c++) db[c] += part[(size_t)C * kk + c];
    }
}

/* Backward of cpu_dwconv2d_fwd: dx overwrite, dw/db accumulate; any may be NULL. */
static void cpu_dwconv2d_bwd(const KConv *p, const float *x, const float *w, const float *dy,
                             float *dx, float *dw, float *db) {
    VB_ASSERT(p->groups == p->cin && p->cin == p->cout);
    const double macs = (double)p->n * p->oh * p->ow * p->cin * p->kh * p->kw;
    cpu_count_flops(2.0 * macs * ((dx != NULL) + (dw != NULL)));
    if (dx) dw_dx(p, w, dy, dx);
    if (dw || db) dw_dwdb(p, x, dy, dw, db);
}

/* ---- conv2d ---- */

static bool conv_is_dw(const KConv *p) { return p->groups == p->cin && p->cin == p->cout; }
static bool conv_is_1x1(const KConv *p) {
    return p->kh == 1 && p->kw == 1 && p->sh == 1 && p->sw == 1 && p->ph == 0 && p->pw == 0 &&
           p->groups == 1;
}

/* Scratch layout (float offsets into ws) shared by the _ws query and the ops. */
typedef struct WsLayout {
    size_t wr, col, part, partb, total;
} WsLayout;

static WsLayout ws_layout(size_t wr, size_t col, size_t part, size_t partb) {
    WsLayout l;
    l.wr = 0;
    l.col = l.wr + wr;
    l.part = l.col + col;
    l.partb = l.part + part;
    l.total = l.partb + partb;
    return l;
}

/* conv2d (non-depthwise): reordered weights [cout, kk*cg], im2col
 * [rows, cin*kk] (reused for the column gradient), weight-gradient partials
 * [chunks, cout, kk*cg], bias partials [chunks, cout]. 1x1 needs only the
 * partials. */
static WsLayout conv_ws_layout(const KConv *p) {
    const size_t rows = (size_t)p->n * p->oh * p->ow, kk = (size_t)p->kh * p->kw;
    const size_t K = (size_t)(p->cin / p->groups) * kk, nch = (size_t)red_chunks(rows);
    if (conv_is_1x1(p)) return ws_layout(0, 0, nch * p->cout * p->cin, nch * p->cout);
    return ws_layout((size_t)p->cout * K, rows * p->cin * kk, nch * p->cout * K, nch * p->cout);
}

static void conv_check(const KConv *p) {
    VB_ASSERT(p->groups >= 1 && p->cin % p->groups == 0 && p->cout % p->groups == 0);
    VB_ASSERT(p->oh >= 1 && p->ow >= 1 && p->sh >= 1 && p->sw >= 1);
}

/* Floats of scratch for cpu_conv2d_fwd and cpu_conv2d_bwd (0 for depthwise). */
static size_t cpu_conv2d_ws(const KConv *p) {
    conv_check(p);
    return conv_is_dw(p) ? 0 : conv_ws_layout(p).total;
}

/* y[n,oh,ow,cout] = conv(x [n,h,w,cin], w [cout,cin/g,kh,kw]) + b (b may be
 * NULL). Overwrites y. Depthwise goes to cpu_dwconv2d_fwd (ws unused). */
static void cpu_conv2d_fwd(const KConv *p, const float *x, const float *w, const float *b, float *y,
                           float *ws) {
    conv_check(p);
    if (conv_is_dw(p)) {
        cpu_dwconv2d_fwd(p, x, w, b, y);
        return;
    }
    const int rows = p->n * p->oh * p->ow;
    if (conv_is_1x1(p)) { /* y[rows,cout] = x[rows,cin] W^T + b */
        par_gemm(true, 1, rows, p->cout, p->cin, x, p->cin, 0, w, p->cin, 0, b, y, p->cout, true);
        return;
    }
    const WsLayout l = conv_ws_layout(p);
    const int kk = p->kh * p->kw, cg = p->cin / p->groups, cgo = p->cout / p->groups, K = cg * kk;
    const Geo g = geo_conv(p);
    float *wr = ws + l.wr, *col = ws + l.col;
    taps_inner_to_mid(p->cout, cg, kk, w, wr);
    im2col(&g, x, col);
    /* y_g[rows, cgo] = col_g[rows, K] wr_g[cgo, K]^T + b_g */
    par_gemm(true, p->groups, rows, cgo, K, col, p->groups * K, (size_t)K, wr, K, (size_t)cgo * K,
             b, y, p->cout, false);
}

/* Backward of cpu_conv2d_fwd given dy [n,oh,ow,cout]: dx [n,h,w,cin]
 * overwrite, dw [cout,cin/g,kh,kw] and db [cout] accumulate; any may be NULL. */
static void cpu_conv2d_bwd(const KConv *p, const float *x, const float *w, const float *dy,
                           float *dx, float *dw, float *db, float *ws) {
    conv_check(p);
    if (conv_is_dw(p)) {
        cpu_dwconv2d_bwd(p, x, w, dy, dx, dw, db);
        return;
    }
    const WsLayout l = conv_ws_layout(p);
    const size_t rows = (size_t)p->n * p->oh * p->ow;
    if (db) bias_grad(rows, p->cout, dy, db, ws + l.partb);
    if (conv_is_1x1(p)) {
        if (dw && red_chunks(rows) == 1) { /* dw[cout,cin] += dy^T x: one chain, then + */
            gemm_par(true, false, p->cout, p->cin, (int)rows, 1.0f, dy, p->cout, x, p->cin, 1.0f,
                     dw, p->cin, NULL, false);
        } else if (dw) { /* chunk partials summed in order, then added */
            float *part = ws + l.part;
            par_wgrad(1, rows, p->cout, p->cin, dy, p->cout, 0, x, p->cin, 0, part);
            add_to((size_t)p->cout * p->cin, part, dw);
        }
        if (dx) /* dx[rows,cin] = dy[rows,cout] W[cout,cin] */
            par_gemm(false, 1, (int)rows, p->cin, p->cout, dy, p->cout, 0, w, p->cin, 0, NULL, dx,
                     p->cin, false);
        return;
    }
    const int kk = p->kh * p->kw, cg = p->cin / p->groups, cgo = p->cout / p->groups, K = cg * kk;
    const Geo g = geo_conv(p);
    float *wr = ws + l.wr, *col = ws + l.col, *part = ws + l.part;
    if (dw) { /* dwr_g[cgo, K] += dy_g^T col_g, then back to PyTorch layout */
        im2col(&g, x, col);
        par_wgrad(p->groups, rows, cgo, K, dy, p->cout, (size_t)cgo, col, p->groups * K, (size_t)K,
                  part);
        taps_mid_add_inner(p->cout, cg, kk, part, dw);
    }
    if (dx) { /* dcol_g[rows, K] = dy_g[rows, cgo] wr_g[cgo, K]; dx = col2im(dcol) */
        taps_inner_to_mid(p->cout, cg, kk, w, wr);
        par_gemm(false, p->groups, (int)rows, K, cgo, dy, p->cout, (size_t)cgo, wr, K,
                 (size_t)cgo * K, NULL, col, p->groups * K, false);
        col2im(&g, col, NULL, dx);
    }
}

/* ---- conv-transpose ---- */

/* Reordered weights [cin, kk*cout], columns [n*h*w, kk*cout] (forward: the
 * GEMM result before col2im; backward: im2col of dy), weight-gradient
 * partials [chunks(n*h*w), cin, kk*cout], bias partials [chunks(n*oh*ow), cout]. */
static WsLayout convt_ws_layout(const KConv *p) {
    const size_t rows_in = (size_t)p->n * p->h * p->w, rows_out = (size_t)p->n * p->oh * p->ow;
    const size_t wlen = (size_t)p->cin * p->kh * p->kw * p->cout;
    return ws_layout(wlen, rows_in * p->kh * p->kw * p->cout, (size_t)red_chunks(rows_in) * wlen,
                     (size_t)red_chunks(rows_out) * p->cout);
}

static void convt_check(const KConv *p) {
    VB_ASSERT(p->groups == 1 && p->sh >= 1 && p->sw >= 1 && p->oh >= 1 && p->ow >= 1);
}

/* Floats of scratch for cpu_convt2d_fwd and cpu_convt2d_bwd. */
static size_t cpu_convt2d_ws(const KConv *p) {
    convt_check(p);
    return convt_ws_layout(p).total;
}

/* y[n, iy*sh-ph+ky, ix*sw-pw+kx, co] = b[co] + sum x[n,iy,ix,ci] * w[ci,co,ky,kx]
 * with x [n,h,w,cin], w [cin,cout,kh,kw], y [n,oh,ow,cout] (overwrite; b may
 * be NULL). col = x Wr (one GEMM), then y = col2im(col) + b. */
static void cpu_convt2d_fwd(const KConv *p, const float *x, const float *w, const float *b,
                            float *y, float *ws) {
    convt_check(p);
    const WsLayout l = convt_ws_layout(p);
    const int kk = p->kh * p->kw, nc = kk * p->cout, rows_in = p->n * p->h * p->w;
    const Geo g = geo_convt(p);
    float *wr = ws + l.wr, *col = ws + l.col;
    taps_inner_to_mid(p->cin, p->cout, kk, w, wr);
    par_gemm(false, 1, rows_in, nc, p->cin, x, p->cin, 0, wr, nc, 0, NULL, col, nc, false);
    col2im(&g, col, b, y);
}

/* Backward of cpu_convt2d_fwd given dy [n,oh,ow,cout]: dx [n,h,w,cin]
 * overwrite (a conv of dy: im2col + GEMM), dw [cin,cout,kh,kw] and db [cout]
 * accumulate; any may be NULL. */
static void cpu_convt2d_bwd(const KConv *p, const float *x, const float *w, const float *dy,
                            float *dx, float *dw, float *db, float *ws) {
    convt_check(p);
    const WsLayout l = convt_ws_layout(p);
    const int kk = p->kh * p->kw, nc = kk * p->cout;
    const size_t rows_in = (size_t)p->n * p->h * p->w;
    const Geo g = geo_convt(p);
    float *wr = ws + l.wr, *col = ws + l.col, *part = ws + l.part;
    if (db) bias_grad((size_t)p->n * p->oh * p->ow, p->cout, dy, db, ws + l.partb);
    if (!dx && !dw) return;
    im2col(&g, dy, col); /* col[rows_in, kk*cout] */
    if (dx) {            /* dx[rows_in, cin] = col Wr^T */
        taps_inner_to_mid(p->cin, p->cout, kk, w, wr);
        par_gemm(true, 1, (int)rows_in, p->cin, nc, col, nc, 0, wr, nc, 0, NULL, dx, p->cin, false);
    }
    if (dw) { /* dWr[cin, kk*cout] += x^T col, then back to PyTorch layout */
        par_wgrad(1, rows_in, p->cin, nc, x, p->cin, 0, col, nc, 0, part);
        taps_mid_add_inner(p->cin, p->cout, kk, part, dw);
    }
}

void cpu_register_conv(KOps *k) {
    k->conv2d_ws = cpu_conv2d_ws;
    k->conv2d_fwd = cpu_conv2d_fwd;
    k->conv2d_bwd = cpu_conv2d_bwd;
    k->dwconv2d_fwd = cpu_dwconv2d_fwd;
    k->dwconv2d_bwd = cpu_dwconv2d_bwd;
    k->convt2d_ws = cpu_convt2d_ws;
    k->convt2d_fwd = cpu_convt2d_fwd;
    k->convt2d_bwd = cpu_convt2d_bwd;
}
