/* cu_rnn: LSTM and GRU layers (one direction per call) and attention
 * pooling over time on the GPU, with the CPU reference's contracts and
 * layouts (kernels/cpu/cpu_rnn.c): batch-major sequences x [b,t,ldx] and
 * y [b,t,ldy] (the `hidden` columns at y), PyTorch gate orders (i,f,g,o) and
 * (r,z,n), h0 = c0 = 0, `reverse` walking t = T-1..0, the same `save` and
 * `ws` layouts.
 *
 * The input projection of every time step is one cuBLAS GEMM (X W_ih^T
 * written into the saved gate columns); each step adds h_{t-1} W_hh^T with
 * one GEMM and then runs ONE fused kernel for the gate math over (batch,
 * hidden) — kernels/kmath.h's LSTM/GRU cells, the CPU's code. The backward
 * is BPTT: one fused kernel per step for the gate gradients and one GEMM
 * for the carried dh, then whole-sequence GEMMs for dx and the weight
 * gradients and deterministic column sums for the biases. The recurrence
 * (h W_hh, dh) always runs in fp32; the input-side GEMMs follow the
 * precision. Attention pooling runs one thread per row or per sequence in
 * the CPU's order, its GEMMs through cuBLAS. */
#include <math.h>

#include "kernels/cuda/cu_internal.h"
#include "kernels/cuda/cu_reduce.cuh"

extern "C" {
#include "kernels/kmath.h"
}

__device__ static inline float bias_at(const float *b, int j) { return b ? b[j] : 0.0f; }
static inline int step_pos(const KRnn *r, int s) { return r->reverse ? r->t - 1 - s : s; }
static inline int prev_pos(const KRnn *r, int ti) { return r->reverse ? ti + 1 : ti - 1; }

/* g[row, j] += b1[j] + b2[j] for j < G (row stride S). */
__global__ static void k_add_bias2(int rows, int G, int S, const float *b1, const float *b2,
                                   float *g) {
    GRID_LOOP(i, (size_t)rows * G) {
        size_t row = i / G;
        int j = (int)(i % G);
        g[row * S + j] += bias_at(b1, j) + bias_at(b2, j);
    }
}

/* hp[row] = y at the previous position of the processing order (0 for the first). */
__global__ static void k_gather_hprev(int B, int T, int H, int ldy, bool reverse, const float *y,
                                      float *hp) {
    GRID_LOOP(i, (size_t)B * T * H) {
        int j = (int)(i % H), row = (int)(i / H), bi = row / T, ti = row % T;
        int tp = reverse ? ti + 1 : ti - 1;
        hp[i] = (tp >= 0 && tp < T) ? y[((size_t)bi * T + tp) * ldy + j] : 0.0f;
    }
}

/* out1[j] += (float)s[j], out2 likewise (the CPU's col_sums rounding). */
__global__ static void k_add_sums(int n, const double *s, float *o1, float *o2) {
    GRID_LOOP(j, n) {
        if (o1) o1[j] += (float)s[j];
        if (o2) o2[j] += (float)s[j];
    }
}

static void bias_sums(int rows, int n, const float *a, float *o1, float *o2) {
    if (!o1 && !o2) return;
    double *s = cu_red_out();
    cu_colsum((size_t)rows, n, 1, a, n, s);
    k_add_sums LAUNCH(n)(n, s, o1, o2);
    CU_LAUNCHED();
}

/* ---------------------------------------------------------------- LSTM */

static size_t cu_lstm_save_op(const KRnn *r) { return cu_lstm_save(r); }
static size_t cu_lstm_ws_op(const KRnn *r) { return cu_lstm_ws(r); }

__global__ static void k_lstm_step(int B, int T, int H, int ti, int tp, bool first, int ldy,
                                   float *save, float *y) {
    int G = 4 * H, S = 6 * H;
    GRID_LOOP(i, (size_t)B * H) {
        int bi = (int)(i / H), j = (int)(i % H);
        float *g = save + ((size_t)bi * T + ti) * S;
        float cp = first ? 0.0f : save[((size_t)bi * T + tp) * S + G + j];
        KLstmCell q = k_lstm_cell(g[j], g[H + j], g[2 * H + j], g[3 * H + j], cp);
        g[j] = q.i, g[H + j] = q.f, g[2 * H + j] = q.g, g[3 * H + j] = q.o;
        g[G + j] = q.c, g[5 * H + j] = q.tc;
        y[((size_t)bi * T + ti) * ldy + j] = q.h;
    }
}

static void cu_lstm_fwd(const KRnn *r, const float *x, const float *w_ih, const float *w_hh,
                        const float *b_ih, const float *b_hh, float *y, float *save, float *ws) {
    int B = r->b, T = r->t, H = r->hidden, G = 4 * H, S = 6 * H;
    if (B <= 0 || T <= 0 || H <= 0) return;
    cu_gemm(false, true, B * T, G, r->in, 1.0f, x, r->ldx, w_ih, r->in, 0.0f, save, S, true);
    k_add_bias2 LAUNCH((size_t)B * T * G)(B * T, G, S, b_ih, b_hh, save);
    CU_LAUNCHED();
    for (int s = 0; s < T; s++) {
        int ti = step_pos(r, s), tp = prev_pos(r, ti);
        if (s > 0)
            cu_gemm(false, true, B, G, H, 1.0f, y + (size_t)tp * r->ldy, T * r->ldy, w_hh, H, 1.0f,
                    save + (size_t)ti * S, T * S, false);
        k_lstm_step LAUNCH((size_t)B * H)(B, T, H, ti, tp, s == 0, r->ldy, save, y);
        CU_LAUNCHED();
    }
}

__global__ static void k_lstm_step_bwd(int B, int T, int H, int ti, int tp, bool first, int ldy,
                                       const float *save, const float *dy, float *dg, float *dh,
                                       float *dc) {
    int G = 4 * H, S = 6 * H;
    GRID_LOOP(i, (size_t)B * H) {
        int bi = (int)(i / H), j = (int)(i % H);
        size_t row = (size_t)bi * T + ti;
        const float *g = save + row * S;
        float cprev = first ? 0.0f : save[((size_t)bi * T + tp) * S + G + j];
        float dq[4];
        float *dcr = dc + (size_t)bi * H;
        dcr[j] = k_lstm_cell_bwd(g[j], g[H + j], g[2 * H + j], g[3 * H + j], g[5 * H + j], cprev,
                                 dy[row * ldy + j] + dh[(size_t)bi * H + j], dcr[j], dq);
        float *d = dg + row * G;
        d[j] = dq[0], d[H + j] = dq[1], d[2 * H + j] = dq[2], d[3 * H + j] = dq[3];
    }
}

static void cu_lstm_bwd(const KRnn *r, const float *x, const float *w_ih, const float *w_hh,
                        const float *y, const float *save, const float *dy, float *dx, float *dw_ih,
                        float *dw_hh, float *db_ih, float *db_hh, float *ws) {
    int B = r->b, T = r->t, H = r->hidden, G = 4 * H, R = B * T;
    if (B <= 0 || T <= 0 || H <= 0) return;
    float *dg = ws, *hp = dg + (size_t)R * G, *dh = hp + (size_t)R * H, *dc = dh + (size_t)B * H;
    CU_CHECK(cudaMemsetAsync(dh, 0, 2 * (size_t)B * H * sizeof(float), cu_stream()));
    for (int s = T - 1; s >= 0; s--) {
        int ti = step_pos(r, s), tp = prev_pos(r, ti);
        k_lstm_step_bwd LAUNCH((size_t)B * H)(B, T, H, ti, tp, s == 0, r->ldy, save, dy, dg, dh,
                                              dc);
        CU_LAUNCHED();
        if (s > 0) /* dh for the previous step = dG_t W_hh */
            cu_gemm(false, false, B, H, G, 1.0f, dg + (size_t)ti * G, T * G, w_hh, H, 0.0f, dh, H,
                    false);
    }
    if (dx) cu_gemm(false, false, R, r->in, G, 1.0f, dg, G, w_ih, r->in, 0.0f, dx, r->ldx, true);
    if (dw_ih) cu_gemm(true, false, G, r->in, R, 1.0f, dg, G, x, r->ldx, 1.0f, dw_ih, r->in, true);
    if (dw_hh) {
        k_gather_hprev LAUNCH((size_t)R * H)(B, T, H, r->ldy, r->reverse, y, hp);
        CU_LAUNCHED();
        cu_gemm(true, false, G, H, R, 1.0f, dg, G, hp, H, 1.0f, dw_hh, H, false);
    }
    bias_sums(R, G, dg, db_ih, db_hh);
}

/* ----------------------------------------------------------------- GRU */

static size_t cu_gru_save_op(const KRnn *r) { return cu_gru_save(r); }
static size_t cu_gru_ws_op(const KRnn *r) { return cu_gru_ws(r); }

__global__ static void k_gru_step(int B, int T, int H, int ti, int tp, bool first, int ldy,
                                  const float *b_hh, const float *gh, float *save, float *y) {
    int G = 3 * H, S = 4 * H;
    GRID_LOOP(i, (size_t)B * H) {
        int bi = (int)(i / H), j = (int)(i % H);
        float *g = save + ((size_t)bi * T + ti) * S;
        const float *q = first ? NULL : gh + (size_t)bi * G;
        float hr = (q ? q[j] : 0.0f) + bias_at(b_hh, j);
        float hz = (q ? q[H + j] : 0.0f) + bias_at(b_hh, H + j);
        float hn = (q ? q[2 * H + j] : 0.0f) + bias_at(b_hh, 2 * H + j);
        float hprev = first ? 0.0f : y[((size_t)bi * T + tp) * ldy + j];
        KGruCell c = k_gru_cell(g[j], g[H + j], g[2 * H + j], hr, hz, hn, hprev);
        g[j] = c.r, g[H + j] = c.z, g[2 * H + j] = c.n, g[3 * H + j] = hn;
        y[((size_t)bi * T + ti) * ldy + j] = c.h;
    }
}

static void cu_gru_fwd(const KRnn *r, const float *x, const float *w_ih, const float *w_hh,
                       const float *b_ih, const float *b_hh, float *y, float *save, float *ws) {
    int B = r->b, T = r->t, H = r->hidden, G = 3 * H, S = 4 * H;
    if (B <= 0 || T <= 0 || H <= 0) return;
    float *gh = ws; /* [B, 3H] */
    cu_gemm(false, true, B * T, G, r->in, 1.0f, x, r->ldx, w_ih, r->in, 0.0f, save, S, true);
    k_add_bias2 LAUNCH((size_t)B * T * G)(B * T, G, S, b_ih, NULL, save);
    CU_LAUNCHED();
    for (int s = 0; s < T; s++) {
        int ti = step_pos(r, s), tp = prev_pos(r, ti);
        if (s > 0)
            cu_gemm(false, true, B, G, H, 1.0f, y + (size_t)tp * r->ldy, T * r->ldy, w_hh, H, 0.0f,
                    gh, G, false);
        k_gru_step LAUNCH((size_t)B * H)(B, T, H, ti, tp, s == 0, r->ldy, b_hh, gh, save, y);
        CU_LAUNCHED();
    }
}

__global__ static void k_gru_step_bwd(int B, int T, int H, int ti, int tp, bool first, int ldy,
                                      const float *save, const float *y, const float *dy,
                                      float *dgi, float *dgh, float *dh) {
    int G = 3 * H, S = 4 * H;
    GRID_LOOP(i, (size_t)B * H) {
        int bi = (int)(i / H), j = (int)(i % H);
        size_t row = (size_t)bi * T + ti;
        const float *g = save + row * S;
        float hprev = first ? 0.0f : y[((size_t)bi * T + tp) * ldy + j];
        float a[3], b[3];
        float *dhr = dh + (size_t)bi * H;
        /* the direct path; dGh W_hh is added below */
        dhr[j] = k_gru_cell_bwd(g[j], g[H + j], g[2 * H + j], g[3 * H + j], hprev,
                                dy[row * ldy + j] + dhr[j], a, b);
        float *di = dgi + row * G, *dq = dgh + row * G;
        di[j] = a[0], di[H + j] = a[1], di[2 * H + j] = a[2];
        dq[j] = b[0], dq[H + j] = b[1], dq[2 * H + j] = b[2];
    }
}

static void cu_gru_bwd(const KRnn *r, const float *x, const float *w_ih, const float *w_hh,
                       const float *y, const float *save, const float *dy, float *dx, float *dw_ih,
                       float *dw_hh, float *db_ih, float *db_hh, float *ws) {
    int B = r->b, T = r->t, H = r->hidden, G = 3 * H, R = B * T;
    if (B <= 0 || T <= 0 || H <= 0) return;
    float *dgi = ws, *dgh = dgi + (size_t)R * G, *hp = dgh + (size_t)R * G,
          *dh = hp + (size_t)R * H;
    CU_CHECK(cudaMemsetAsync(dh, 0, (size_t)B * H * sizeof(float), cu_stream()));
    for (int s = T - 1; s >= 0; s--) {
        int ti = step_pos(r, s), tp = prev_pos(r, ti);
        k_gru_step_bwd LAUNCH((size_t)B * H)(B, T, H, ti, tp, s == 0, r->ldy, save, y, dy, dgi, dgh,
                                             dh);
        CU_LAUNCHED();
        if (s > 0)
            cu_gemm(false, false, B, H, G, 1.0f, dgh + (size_t)ti * G, T * G, w_hh, H, 1.0f, dh, H,
                    false);
    }
    if (dx) cu_gemm(false, false, R, r->in, G, 1.0f, dgi, G, w_ih, r->in, 0.0f, dx, r->ldx, true);
    if (dw_ih) cu_gemm(true, false, G, r->in, R, 1.0f, dgi, G, x, r->ldx, 1.0f, dw_ih, r->in, true);
    if (dw_hh) {
        k_gather_hprev LAUNCH((size_t)R * H)(B, T, H, r->ldy, r->reverse, y, hp);
        CU_LAUNCHED();
        cu_gemm(true, false, G, H, R, 1.0f, dgh, G, hp, H, 1.0f, dw_hh, H, false);
    }
    bias_sums(R, G, dgi, db_ih, NULL);
    bias_sums(R, G, dgh, db_hh, NULL);
}

/* ------------------------------------------------- attention pooling */

/* Per row: u = tanh(u + b1), logit = b2 + u . w2 (double, in k order). */
__global__ static void k_attn_rows(int R, int a, const float *b1, const float *w2, const float *b2,
                                   float *u, float *alpha) {
    GRID_LOOP(row, R) {
        float *ur = u + row * a;
        double e = b2 ? (double)b2[0] : 0.0;
        for (int k = 0; k < a; k++) {
            ur[k] = tanhf(ur[k] + bias_at(b1, k));
            e += (double)ur[k] * (double)w2[k];
        }
        alpha[row] = (float)e;
    }
}
/* Per sequence: softmax over t of the logits, in place. */
__global__ static void k_attn_softmax(int b, int t, float *alpha) {
    GRID_LOOP(bi, b) {
        float *al = alpha + bi * t, mx = al[0];
        double sum = 0;
        for (int ti = 1; ti < t; ti++) mx = al[ti] > mx ? al[ti] : mx;
        for (int ti = 0; ti < t; ti++) sum += (double)(al[ti] = expf(al[ti] - mx));
        for (int ti = 0; ti < t; ti++) al[ti] = (float)((double)al[ti] / sum);
    }
}
__global__ static void k_attn_pool(int b, int t, int d, const float *alpha, const float *h,
                                   float *y) {
    GRID_LOOP(i, (size_t)b * d) {
        size_t bi = i / d, k = i % d;
        float s = 0.0f;
        for (int ti = 0; ti < t; ti++) s += alpha[bi * t + ti] * h[(bi * t + ti) * d + k];
        y[i] = s;
    }
}

static void cu_attn_fwd(int b, int t, int d, int a, const float *h, const float *w1,
                        const float *b1, const float *w2, const float *b2, float *save, float *y) {
    int R = b * t;
    float *u = save, *alpha = save + (size_t)R * a;
    if (b <= 0) return;
    if (t <= 0) { /* an empty sequence pools to zero */
        CU_CHECK(cudaMemsetAsync(y, 0, (size_t)b * d * sizeof(float), cu_stream()));
        return;
    }
    cu_gemm(false, true, R, a, d, 1.0f, h, d, w1, d, 0.0f, u, a, true);
    k_attn_rows LAUNCH(R)(R, a, b1, w2, b2, u, alpha);
    CU_LAUNCHED();
    k_attn_softmax LAUNCH(b)(b, t, alpha);
    CU_LAUNCHED();
    k_attn_pool LAUNCH((size_t)b * d)(b, t, d, alpha, h, y);
    CU_LAUNCHED();
}

/* Per sequence: de = alpha * (dalpha - sum alpha dalpha), dalpha_t = dy . h_t. */
__global__ static void k_attn_de(int b, int t, int d, const float *alpha, const float *h,
                                 const float *dy, float *de) {
    GRID_LOOP(bi, b) {
        const float *dyr = dy + bi * d;
        double dot = 0;
        for (int ti = 0; ti < t; ti++) {
            size_t row = bi * t + ti;
            const float *hr = h + row * d;
            double da = 0;
            for (int k = 0; k < d; k++) da += (double)dyr[k] * (double)hr[k];
            de[row] = (float)da; /* dalpha, rounded once so that T = 1 gives de = 0 */
            dot += (double)alpha[row] * (double)de[row];
        }
        for (int ti = 0; ti < t; ti++) {
            size_t row = bi * t + ti;
            de[row] = (float)((double)alpha[row] * ((double)de[row] - dot));
        }
    }
}
__global__ static void k_attn_dpre(int R, int a, const float *de, const float *w2, const float *u,
                                   float *dpre) {
    GRID_LOOP(i, (size_t)R * a) {
        size_t row = i / a, k = i % a;
        dpre[i] = de[row] * w2[k] * (1.0f - u[i] * u[i]);
    }
}
__global__ static void k_attn_dh(int R, int t, int d, const float *alpha, const float *dy,
                                 float *dh) {
    GRID_LOOP(i, (size_t)R * d) {
        size_t row = i / d, k = i % d;
        dh[i] = alpha[row] * dy[(row / t) * d + k];
    }
}

struct WeightedCols { /* sum over rows of wt[row] * a[row, col] */
    const float *a, *wt;
    int ld;
    __device__ void operator()(int, int r, int col, double *acc) const {
        acc[0] += (double)wt[r] * (double)a[(size_t)r * ld + col];
    }
};

static void cu_attn_bwd(int b, int t, int d, int a, const float *h, const float *w1,
                        const float *w2, const float *save, const float *dy, float *dh, float *dw1,
                        float *db1, float *dw2, float *db2, float *ws) {
    int R = b * t;
    if (R <= 0) return;
    const float *u = save, *alpha = save + (size_t)R * a;
    float *dpre = ws, *de = ws + (size_t)R * a;
    k_attn_de LAUNCH(b)(b, t, d, alpha, h, dy, de);
    CU_LAUNCHED();
    k_attn_dpre LAUNCH((size_t)R * a)(R, a, de, w2, u, dpre);
    CU_LAUNCHED();
    if (dh) {
        k_attn_dh LAUNCH((size_t)R * d)(R, t, d, alpha, dy, dh);
        CU_LAUNCHED();
        cu_gemm(false, false, R, d, a, 1.0f, dpre, a, w1, d, 1.0f, dh, d, true);
    }
    if (dw1) cu_gemm(true, false, a, d, R, 1.0f, dpre, a, h, d, 1.0f, dw1, d, true);
    if (db1) bias_sums(R, a, dpre, db1, NULL);
    if (dw2) {
        double *s = cu_red_out();
        cu_colred<1>((size_t)R, a, 1, WeightedCols{u, de, a}, s);
        k_add_sums LAUNCH(a)(a, s, dw2, NULL);
        CU_LAUNCHED();
    }
    if (db2) bias_sums(R, 1, de, db2, NULL);
}

void cu_register_rnn(KOps *k) {
    k->lstm_save = cu_lstm_save_op;
    k->lstm_ws = cu_lstm_ws_op;
    k->lstm_fwd = cu_lstm_fwd;
    k->lstm_bwd = cu_lstm_bwd;
    k->gru_save = cu_gru_save_op;
    k->gru_ws = cu_gru_ws_op;
    k->gru_fwd = cu_gru_fwd;
    k->gru_bwd = cu_gru_bwd;
    k->attn_fwd = cu_attn_fwd;
    k->attn_bwd = cu_attn_bwd;
}
