/* cu_plan: launch geometry, reduction tiling and workspace layouts of the
 * CUDA backend (see cu_plan.h). Plain C, built with or without CUDA. */
#include "kernels/cuda/cu_plan.h"

#include <limits.h>

static size_t zmax(size_t a, size_t b) { return a > b ? a : b; }
static size_t ceil_div(size_t a, size_t b) { return (a + b - 1) / b; }
/* Offsets in floats are kept 256-byte aligned (cuDNN, vector loads). */
static size_t align64(size_t f) { return (f + 63) / 64 * 64; }

int cu_blocks(size_t n, int threads) {
    size_t b = ceil_div(n ? n : 1, (size_t)threads);
    return (int)(b > CU_MAX_BLOCKS ? CU_MAX_BLOCKS : b);
}

bool cu_red_plan(size_t seg_rows, int cols, int nseg, int nacc, size_t cap, CuRedPlan *out) {
    if (cols < 1 || nseg < 1 || nacc < 1 || nseg > CU_MAX_GRID_YZ) return false;
    size_t per_tile = (size_t)nseg * (size_t)cols * (size_t)nacc;
    size_t max_tiles = cap / per_tile;
    if (max_tiles > CU_MAX_GRID_YZ) max_tiles = CU_MAX_GRID_YZ;
    if (max_tiles < 1) return false;
    size_t rows = seg_rows ? seg_rows : 1;
    size_t tile = CU_RED_TILE, nt = ceil_div(rows, tile);
    if (nt > max_tiles) {
        tile = ceil_div(ceil_div(rows, max_tiles), CU_RED_TILE) * CU_RED_TILE;
        nt = ceil_div(rows, tile);
    }
    if (tile > INT_MAX) return false;
    out->tile_rows = (int)tile;
    out->ntiles = (int)nt;
    out->partials = nt * per_tile;
    return true;
}

size_t cu_sum_blocks(size_t n) { return n ? ceil_div(n, CU_SUM_CHUNK) : 1; }

CuConvGeo cu_conv_geo(const KConv *c) {
    CuConvGeo g = {c->n,  c->h,  c->w,  c->cin, c->oh, c->ow, c->cout,
                   c->kh, c->kw, c->sh, c->sw,  c->ph, c->pw, c->groups};
    return g;
}

CuConvGeo cu_convt_geo(const KConv *c) {
    /* conv C of a transposed convolution: its input is the transposed
     * convolution's output [n, oh, ow, cout], its output the transposed
     * convolution's input [n, h, w, cin], its filter [cin, cout, kh, kw]. */
    CuConvGeo g = {c->n,  c->oh, c->ow, c->cout, c->h,  c->w,  c->cin,
                   c->kh, c->kw, c->sh, c->sw,   c->ph, c->pw, 1};
    return g;
}

CuConvWs cu_conv_ws(const CuConvGeo *g, bool bf16) {
    CuConvWs w = {0};
    size_t kk = (size_t)g->kh * g->kw;
    size_t wlen = (size_t)g->Cout * kk * (size_t)(g->Cin / g->groups);
    size_t big = (size_t)g->n * g->H * g->W * g->Cin;
    size_t small = (size_t)g->n * g->Hs * g->Ws * g->Cout;
    size_t col = (size_t)g->n * g->Hs * g->Ws * (size_t)g->Cin * kk;
    /* im2col path */
    w.wr = 0;
    w.col = align64(wlen);
    w.dwr = w.col + align64(col);
    w.fallback = w.dwr + align64(wlen);
    /* cuDNN path */
    w.wt = 0;
    w.dwt = align64(wlen);
    size_t at = w.dwt + align64(wlen);
    if (bf16) { /* two bfloat16 per float */
        w.xb = at, at += align64(ceil_div(big, 2));
        w.yb = at, at += align64(ceil_div(small, 2));
        w.wb = at, at += align64(ceil_div(wlen, 2));
        w.dwb = at, at += align64(ceil_div(wlen, 2));
    } else {
        w.xb = w.yb = w.wb = w.dwb = at;
    }
    w.dnn_fixed = at;
    w.dnn = at;
    /* cuDNN may use as much as the column matrix would: both paths then
     * grow with the batch, so a smaller batch fits a larger one's space */
    w.total = zmax(w.fallback, w.dnn_fixed + align64(col));
    w.dnn_ws_bytes = (w.total - w.dnn_fixed) * sizeof(float);
    return w;
}

size_t cu_lstm_save(const KRnn *r) { return (size_t)r->b * r->t * 6 * r->hidden; }
size_t cu_lstm_ws(const KRnn *r) {
    return (size_t)r->b * r->t * 5 * r->hidden + (size_t)2 * r->b * r->hidden;
}
size_t cu_gru_save(const KRnn *r) { return (size_t)r->b * r->t * 4 * r->hidden; }
size_t cu_gru_ws(const KRnn *r) {
    size_t fwd = (size_t)r->b * 3 * r->hidden;
    size_t bwd = (size_t)r->b * r->t * 7 * r->hidden + (size_t)r->b * r->hidden;
    return zmax(fwd, bwd);
}

size_t cu_stage_capacity(size_t bytes) {
    size_t mib = (size_t)1 << 20;
    return ceil_div(bytes ? bytes : 1, mib) * mib;
}
