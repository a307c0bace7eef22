/* cpu_rnn: recurrent layers (LSTM, GRU) and attention pooling over time for
 * the CPU reference backend.
 *
 * Each RNN op is ONE layer in ONE direction with PyTorch's semantics
 * (nn.LSTM gate order i,f,g,o; nn.GRU order r,z,n with n = tanh(W_in x + b_in
 * + r*(W_hn h + b_hn))), h0 = c0 = 0. Sequences are batch-major: x [b,t,ldx]
 * (the first `in` columns are used), y [b,t,ldy] (the `hidden` columns at the
 * y pointer are written, so the caller passes y+H for the reverse half of a
 * bidirectional [b,t,2H] output). reverse processes t = T-1..0 and writes each
 * output at its own time position. Stacking layers and directions is the
 * model's job.
 *
 * How it runs: the input projection of all timesteps is one GEMM (x seen as
 * [b*t, in] with row stride ldx, times W_ih^T); each step is a [b,H]x[H,nH]
 * GEMM against W_hh^T (packed once per call, or its registered packed copy)
 * followed by fused gate math. The backward is BPTT that
 * stores every step's gate gradients in `ws`, then does the weight-gradient
 * GEMMs once over all b*t rows (dW_ih += dG^T X, dW_hh += dG^T H_prev), the
 * input gradient as one GEMM (dx = dG W_ih) and the bias gradients as column
 * sums.
 *
 * Determinism: every GEMM is the own fixed-order SGEMM (gemm.h: one FMA
 * chain over K per output element, whatever the tiling or thread count),
 * its tiles shared out to the region's threads. Column sums run over fixed column tiles, rows in order, in double.
 * Elementwise work is split over (batch row, hidden chunk), each element
 * written by one thread. Results are therefore bit-identical for any thread
 * count. Nothing is allocated but the GEMM's grow-only packing scratch.
 *
 * Not for: multi-layer or bidirectional stacks in one call, non-zero initial
 * states, packed/variable-length sequences, x or y aliasing each other. */
#include "cpu_internal.h"
#include "kernels/kmath.h"

#include <math.h>
#include <string.h>

#define RNN_TS 32 /* hidden units per elementwise chunk */
#define RNN_TC 64 /* columns per column-sum tile */
/* Below this many multiply-adds an op runs on one thread: fork and per-step
 * barriers would cost more than they save. The tiling is the same either
 * way, so this changes speed only, never results. */
#define RNN_PAR_MIN (1.0 * (1 << 17))

/* Multiply-adds of one RNN direction (forward; the backward is ~2x). */
static double rnn_work(const KRnn *r, int gates) {
    return (double)r->b * r->t * gates * r->hidden * ((double)r->in + r->hidden);
}

static inline int imin(int a, int b) { return a < b ? a : b; }
static inline float bias_at(const float *bias, int j) { return bias ? bias[j] : 0.0f; }

/* C[m,n] = op(A) op(B) + beta*C (alpha = 1), row-major, op(A) is [m,k]:
 * the own GEMM shared among the current team (gemm_team: orphaned `omp
 * for`s ending with a barrier), so call it from every thread of a parallel
 * region, or serially. `weight`: B is a layer weight used as W^T (its packed
 * copy is used when registered). beta = 0 overwrites, 1 adds. */
static void gemm_tiles(bool ta, bool tb, int m, int n, int k, const float *a, int lda,
                       const float *b, int ldb, float beta, float *c, int ldc, bool weight) {
    gemm_team(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc, NULL, weight);
}

/* The packed op(B) of a recurrent weight used at every step: its registered
 * copy, or packed once per call into the team's shared scratch (`omp
 * single` + `omp for`, so every thread of the region must call this). */
static const float *g_step_P;
static const float *step_pack(bool tb, int k, int n, const float *w) {
    const float *reg = tb ? gemm_lookup(w, k, n) : NULL;
    if (reg) return reg;
#pragma omp single
    g_step_P = cpu_shared_scratch(0, gemm_pack_floats(k, n));
    gemm_pack_team(tb, k, n, w, tb ? k : n, (float *)g_step_P);
    return g_step_P;
}

/* out1[j] += s_j and out2[j] += s_j (either may be NULL) for j < n, where
 * s_j = sum over i < rows of wt[i]*a[i*lda + j] (wt NULL: weight 1), summed in
 * row order in double over fixed RNN_TC column tiles. Orphaned `omp for`. */
static void col_sums(int rows, int n, const float *a, int lda, const float *wt, float *out1,
                     float *out2) {
    int nt = (n + RNN_TC - 1) / RNN_TC;
#pragma omp for schedule(static)
    for (int tile = 0; tile < nt; tile++) {
        int j0 = tile * RNN_TC, nj = imin(RNN_TC, n - j0);
        double acc[RNN_TC] = {0};
        for (int i = 0; i < rows; i++) {
            const float *ar = a + (size_t)i * lda + j0;
            double w = wt ? (double)wt[i] : 1.0;
            for (int j = 0; j < nj; j++) acc[j] += w * (double)ar[j];
        }
        for (int j = 0; j < nj; j++) {
            if (out1) out1[j0 + j] += (float)acc[j];
            if (out2) out2[j0 + j] += (float)acc[j];
        }
    }
}

/* Time position processed at step s (0-based in processing order), and the
 * position of the previous step (the one whose h feeds step s). */
static inline int step_pos(const KRnn *r, int s) { return r->reverse ? r->t - 1 - s : s; }
static inline int prev_pos(const KRnn *r, int ti) { return r->reverse ? ti + 1 : ti - 1; }

/* hp[b*t, H] (overwrite): row (bi,ti) = y at the previous time position of
 * the processing order, zeros for the first processed step. y [b,t,ldy].
 * Orphaned `omp for`. */
static void gather_hprev(const KRnn *r, const float *y, float *hp) {
    const int T = r->t, H = r->hidden;
#pragma omp for schedule(static)
    for (int row = 0; row < r->b * T; row++) {
        int bi = row / T, tp = prev_pos(r, row % T);
        float *dst = hp + (size_t)row * H;
        if (tp >= 0 && tp < T)
            memcpy(dst, y + ((size_t)bi * T + tp) * r->ldy, (size_t)H * sizeof(float));
        else memset(dst, 0, (size_t)H * sizeof(float));
    }
}

/* ---------------------------------------------------------------- LSTM ---
 * save [b*t, 6H], row (bi,ti): i, f, g, o (after activation), c_t, tanh(c_t).
 * ws: forward none; backward dG [b*t,4H] (pre-activation gate gradients),
 *     Hprev [b*t,H], dh carry [b,H], dc carry [b,H]. */

static size_t lstm_save(const KRnn *r) { return (size_t)r->b * r->t * 6 * r->hidden; }
static size_t lstm_ws(const KRnn *r) {
    return (size_t)r->b * r->t * 5 * r->hidden + (size_t)2 * r->b * r->hidden;
}

/* y[b,t,ldy] (overwrite the H columns) = LSTM(x[b,t,ldx]); save overwritten
 * (layout above). w_ih [4H,in], w_hh [4H,H], b_ih, b_hh [4H] (may be NULL).
 * The gate pre-activations are built in place in save's gate columns. */
static void lstm_fwd(const KRnn *r, const float *x, const float *w_ih, const float *w_hh,
                     const float *b_ih, const float *b_hh, float *y, float *save, float *ws) {
    (void)ws;
    const int B = r->b, T = r->t, H = r->hidden, G = 4 * H, S = 6 * H;
    const int nch = (H + RNN_TS - 1) / RNN_TS;
#pragma omp parallel if (rnn_work(r, 4) >= RNN_PAR_MIN)
    {
        /* pre-activations of all steps: X W_ih^T + b_ih + b_hh */
        gemm_tiles(false, true, B * T, G, r->in, x, r->ldx, w_ih, r->in, 0.0f, save, S, true);
#pragma omp for schedule(static)
        for (int row = 0; row < B * T; row++) {
            float *g = save + (size_t)row * S;
            for (int j = 0; j < G; j++) g[j] += bias_at(b_ih, j) + bias_at(b_hh, j);
        }
        const float *Phh = T > 1 ? step_pack(true, H, G, w_hh) : NULL;
        for (int s = 0; s < T; s++) {
            const int ti = step_pos(r, s), tp = prev_pos(r, ti);
            /* rows (bi,ti) of the gates += h_prev W_hh^T, h_prev = y at tp */
            if (s > 0)
                gemm_packed_team(false, B, G, H, 1.0f, y + (size_t)tp * r->ldy, T * r->ldy, Phh,
                                 1.0f, save + (size_t)ti * S, T * S, NULL);
#pragma omp for schedule(static)
            for (int task = 0; task < B * nch; task++) {
                const int bi = task / nch, j0 = (task % nch) * RNN_TS, j1 = imin(H, j0 + RNN_TS);
                float *g = save + ((size_t)bi * T + ti) * S;
                const float *cp = s > 0 ? save + ((size_t)bi * T + tp) * S + G : NULL;
                float *h = y + ((size_t)bi * T + ti) * r->ldy;
                for (int j = j0; j < j1; j++) {
                    KLstmCell q =
                        k_lstm_cell(g[j], g[H + j], g[2 * H + j], g[3 * H + j], cp ? cp[j] : 0.0f);
                    g[j] = q.i, g[H + j] = q.f, g[2 * H + j] = q.g, g[3 * H + j] = q.o;
                    g[G + j] = q.c, g[5 * H + j] = q.tc;
                    h[j] = q.h;
                }
            }
        }
    }
}

/* Backward of lstm_fwd. Inputs: x, weights, y and save from the forward,
 * dy [b,t,ldy] (H columns read). dx [b,t,ldx]: the `in` columns are
 * OVERWRITTEN (other columns untouched). dw_ih [4H,in], dw_hh [4H,H],
 * db_ih, db_hh [4H] ACCUMULATE. Any gradient may be NULL. ws: lstm_ws. */
static void lstm_bwd(const KRnn *r, const float *x, const float *w_ih, const float *w_hh,
                     const float *y, const float *save, const float *dy, float *dx, float *dw_ih,
                     float *dw_hh, float *db_ih, float *db_hh, float *ws) {
    const int B = r->b, T = r->t, H = r->hidden, G = 4 * H, S = 6 * H, R = B * T;
    const int nch = (H + RNN_TS - 1) / RNN_TS;
    float *dg = ws;                 /* [R, 4H] */
    float *hp = dg + (size_t)R * G; /* [R, H] */
    float *dh = hp + (size_t)R * H; /* [B, H]: dL/dh_prev from the step after */
    float *dc = dh + (size_t)B * H; /* [B, H]: dL/dc_prev from the step after */
#pragma omp parallel if (rnn_work(r, 4) >= RNN_PAR_MIN)
    {
#pragma omp for schedule(static)
        for (int i = 0; i < 2 * B * H; i++) dh[i] = 0.0f; /* dh and dc are adjacent */
        const float *Phh = T > 1 ? step_pack(false, G, H, w_hh) : NULL;
        for (int s = T - 1; s >= 0; s--) {
            const int ti = step_pos(r, s), tp = prev_pos(r, ti);
#pragma omp for schedule(static)
            for (int task = 0; task < B * nch; task++) {
                const int bi = task / nch, j0 = (task % nch) * RNN_TS, j1 = imin(H, j0 + RNN_TS);
                const size_t row = (size_t)bi * T + ti;
                const float *g = save + row * S;
                const float *cp = s > 0 ? save + ((size_t)bi * T + tp) * S + G : NULL;
                const float *dyr = dy + row * r->ldy;
                float *d = dg + row * G, *dhr = dh + (size_t)bi * H, *dcr = dc + (size_t)bi * H;
                for (int j = j0; j < j1; j++) {
                    float dq[4];
                    dcr[j] =
                        k_lstm_cell_bwd(g[j], g[H + j], g[2 * H + j], g[3 * H + j], g[5 * H + j],
                                        cp ? cp[j] : 0.0f, dyr[j] + dhr[j], dcr[j], dq);
                    d[j] = dq[0], d[H + j] = dq[1], d[2 * H + j] = dq[2], d[3 * H + j] = dq[3];
                }
            }
            /* dh for the previous step = dG_t W_hh (not needed after the first step) */
            if (s > 0)
                gemm_packed_team(false, B, H, G, 1.0f, dg + (size_t)ti * G, T * G, Phh, 0.0f, dh, H,
                                 NULL);
        }
        if (dx) gemm_tiles(false, false, R, r->in, G, dg, G, w_ih, r->in, 0.0f, dx, r->ldx, false);
        if (dw_ih)
            gemm_tiles(true, false, G, r->in, R, dg, G, x, r->ldx, 1.0f, dw_ih, r->in, false);
        if (dw_hh) {
            gather_hprev(r, y, hp);
            gemm_tiles(true, false, G, H, R, dg, G, hp, H, 1.0f, dw_hh, H, false);
        }
        if (db_ih || db_hh) col_sums(R, G, dg, G, NULL, db_ih, db_hh);
    }
}

/* ----------------------------------------------------------------- GRU ---
 * save [b*t, 4H], row (bi,ti): r, z, n (after activation), hn = W_hn h_prev + b_hn.
 * ws: forward Gh [b,3H] (h_prev W_hh^T of one step); backward dGi [b*t,3H]
 *     (gradients of the input-side pre-activations), dGh [b*t,3H] (of the
 *     hidden-side ones: equal to dGi for r,z; r*dGi for n), Hprev [b*t,H],
 *     dh carry [b,H]. */

static size_t gru_save(const KRnn *r) { return (size_t)r->b * r->t * 4 * r->hidden; }
static size_t gru_ws(const KRnn *r) {
    size_t fwd = (size_t)r->b * 3 * r->hidden;
    size_t bwd = (size_t)r->b * r->t * 7 * r->hidden + (size_t)r->b * r->hidden;
    return fwd > bwd ? fwd : bwd;
}

/* y[b,t,ldy] (overwrite the H columns) = GRU(x[b,t,ldx]); save overwritten
 * (layout above). w_ih [3H,in], w_hh [3H,H], b_ih, b_hh [3H] (may be NULL).
 * The input pre-activations X W_ih^T + b_ih are built in save's r,z,n columns. */
static void gru_fwd(const KRnn *r, const float *x, const float *w_ih, const float *w_hh,
                    const float *b_ih, const float *b_hh, float *y, float *save, float *ws) {
    const int B = r->b, T = r->t, H = r->hidden, G = 3 * H, S = 4 * H;
    const int nch = (H + RNN_TS - 1) / RNN_TS;
    float *gh = ws; /* [B, 3H] */
#pragma omp parallel if (rnn_work(r, 3) >= RNN_PAR_MIN)
    {
        gemm_tiles(false, true, B * T, G, r->in, x, r->ldx, w_ih, r->in, 0.0f, save, S, true);
#pragma omp for schedule(static)
        for (int row = 0; row < B * T; row++) {
            float *g = save + (size_t)row * S;
            for (int j = 0; j < G; j++) g[j] += bias_at(b_ih, j);
        }
        const float *Phh = T > 1 ? step_pack(true, H, G, w_hh) : NULL;
        for (int s = 0; s < T; s++) {
            const int ti = step_pos(r, s), tp = prev_pos(r, ti);
            if (s > 0)
                gemm_packed_team(false, B, G, H, 1.0f, y + (size_t)tp * r->ldy, T * r->ldy, Phh,
                                 0.0f, gh, G, NULL);
#pragma omp for schedule(static)
            for (int task = 0; task < B * nch; task++) {
                const int bi = task / nch, j0 = (task % nch) * RNN_TS, j1 = imin(H, j0 + RNN_TS);
                float *g = save + ((size_t)bi * T + ti) * S;
                const float *q = s > 0 ? gh + (size_t)bi * G : NULL;
                const float *hprev = s > 0 ? y + ((size_t)bi * T + tp) * r->ldy : NULL;
                float *h = y + ((size_t)bi * T + ti) * r->ldy;
                for (int j = j0; j < j1; j++) {
                    float hr = (q ? q[j] : 0.0f) + bias_at(b_hh, j);
                    float hz = (q ? q[H + j] : 0.0f) + bias_at(b_hh, H + j);
                    float hn = (q ? q[2 * H + j] : 0.0f) + bias_at(b_hh, 2 * H + j);
                    KGruCell c = k_gru_cell(g[j], g[H + j], g[2 * H + j], hr, hz, hn,
                                            hprev ? hprev[j] : 0.0f);
                    g[j] = c.r, g[H + j] = c.z, g[2 * H + j] = c.n, g[3 * H + j] = hn;
                    h[j] = c.h;
                }
            }
        }
    }
}

/* Backward of gru_fwd. Same contract as lstm_bwd: dx's `in` columns
 * OVERWRITTEN, dw_ih [3H,in], dw_hh [3H,H], db_ih, db_hh [3H] ACCUMULATE, any
 * gradient may be NULL. ws: gru_ws. */
static void gru_bwd(const KRnn *r, const float *x, const float *w_ih, const float *w_hh,
                    const float *y, const float *save, const float *dy, float *dx, float *dw_ih,
                    float *dw_hh, float *db_ih, float *db_hh, float *ws) {
    const int B = r->b, T = r->t, H = r->hidden, G = 3 * H, S = 4 * H, R = B * T;
    const int nch = (H + RNN_TS - 1) / RNN_TS;
    float *dgi = ws;                  /* [R, 3H] */
    float *dgh = dgi + (size_t)R * G; /* [R, 3H] */
    float *hp = dgh + (size_t)R * G;  /* [R, H] */
    float *dh = hp + (size_t)R * H;   /* [B, H]: dL/dh_prev from the step after */
#pragma omp parallel if (rnn_work(r, 3) >= RNN_PAR_MIN)
    {
#pragma omp for schedule(static)
        for (int i = 0; i < B * H; i++) dh[i] = 0.0f;
        const float *Phh = T > 1 ? step_pack(false, G, H, w_hh) : NULL;
        for (int s = T - 1; s >= 0; s--) {
            const int ti = step_pos(r, s), tp = prev_pos(r, ti);
#pragma omp for schedule(static)
            for (int task = 0; task < B * nch; task++) {
                const int bi = task / nch, j0 = (task % nch) * RNN_TS, j1 = imin(H, j0 + RNN_TS);
                const size_t row = (size_t)bi * T + ti;
                const float *g = save + row * S;
                const float *hprev = s > 0 ? y + ((size_t)bi * T + tp) * r->ldy : NULL;
                const float *dyr = dy + row * r->ldy;
                float *di = dgi + row * G, *dhh = dgh + row * G, *dhr = dh + (size_t)bi * H;
                for (int j = j0; j < j1; j++) {
                    float a[3], b[3];
                    /* the direct path; dGh W_hh is added below */
                    dhr[j] = k_gru_cell_bwd(g[j], g[H + j], g[2 * H + j], g[3 * H + j],
                                            hprev ? hprev[j] : 0.0f, dyr[j] + dhr[j], a, b);
                    di[j] = a[0], di[H + j] = a[1], di[2 * H + j] = a[2];
                    dhh[j] = b[0], dhh[H + j] = b[1], dhh[2 * H + j] = b[2];
                }
            }
            if (s > 0)
                gemm_packed_team(false, B, H, G, 1.0f, dgh + (size_t)ti * G, T * G, Phh, 1.0f, dh,
                                 H, NULL);
        }
        if (dx) gemm_tiles(false, false, R, r->in, G, dgi, G, w_ih, r->in, 0.0f, dx, r->ldx, false);
        if (dw_ih)
            gemm_tiles(true, false, G, r->in, R, dgi, G, x, r->ldx, 1.0f, dw_ih, r->in, false);
        if (dw_hh) {
            gather_hprev(r, y, hp);
            gemm_tiles(true, false, G, H, R, dgh, G, hp, H, 1.0f, dw_hh, H, false);
        }
        if (db_ih) col_sums(R, G, dgi, G, NULL, db_ih, NULL);
        if (db_hh) col_sums(R, G, dgh, G, NULL, db_hh, NULL);
    }
}

/* ----------------------------------------------------- attention pooling ---
 * h [b,t,d] contiguous; u = tanh(h W1^T + b1) [b,t,a]; e = u w2^T + b2;
 * alpha = softmax over t of e; y[b,d] = sum_t alpha_t h_t.
 * save [b*t*a + b*t]: u, then alpha. ws (backward) [b*t*a + b*t]: dpre
 * (gradient of u's pre-activation), then de (gradient of e). */

/* y [b,d] and save OVERWRITTEN. w1 [a,d], b1 [a], w2 [1,a], b2 [1] (b1, b2
 * may be NULL). t = 1 gives alpha = 1, y = h. */
static void attn_fwd(int b, int t, int d, int a, const float *h, const float *w1, const float *b1,
                     const float *w2, const float *b2, float *save, float *y) {
    const int R = b * t, nd = (d + RNN_TC - 1) / RNN_TC;
    float *u = save, *alpha = save + (size_t)R * a;
    if (t <= 0) { /* an empty sequence pools to zero */
        memset(y, 0, (size_t)b * d * sizeof(float));
        return;
    }
#pragma omp parallel if ((double)R * a * d >= RNN_PAR_MIN)
    {
        gemm_tiles(false, true, R, a, d, h, d, w1, d, 0.0f, u, a, true);
#pragma omp for schedule(static)
        for (int row = 0; row < R; row++) {
            float *ur = u + (size_t)row * a;
            double e = b2 ? (double)b2[0] : 0.0;
            for (int k = 0; k < a; k++) {
                ur[k] = tanhf(ur[k] + bias_at(b1, k));
                e += (double)ur[k] * (double)w2[k];
            }
            alpha[row] = (float)e; /* logits for now */
        }
#pragma omp for schedule(static)
        for (int bi = 0; bi < b; bi++) {
            float *al = alpha + (size_t)bi * t, mx = al[0];
            double sum = 0;
            for (int ti = 1; ti < t; ti++) mx = al[ti] > mx ? al[ti] : mx;
            for (int ti = 0; ti < t; ti++) sum += (double)(al[ti] = expf(al[ti] - mx));
            for (int ti = 0; ti < t; ti++) al[ti] = (float)((double)al[ti] / sum);
        }
#pragma omp for schedule(static)
        for (int task = 0; task < b * nd; task++) {
            const int bi = task / nd, k0 = (task % nd) * RNN_TC, k1 = imin(d, k0 + RNN_TC);
            float *yr = y + (size_t)bi * d;
            for (int k = k0; k < k1; k++) yr[k] = 0.0f;
            for (int ti = 0; ti < t; ti++) {
                const float al = alpha[(size_t)bi * t + ti];
                const float *hr = h + ((size_t)bi * t + ti) * d;
                for (int k = k0; k < k1; k++) yr[k] += al * hr[k];
            }
        }
    }
}

/* Backward of attn_fwd from dy [b,d]. dh [b,t,d] OVERWRITTEN; dw1 [a,d],
 * db1 [a], dw2 [1,a], db2 [1] ACCUMULATE; any gradient may be NULL.
 * ws: b*t*(a+1) floats. */
static void attn_bwd(int b, int t, int d, int a, const float *h, const float *w1, const float *w2,
                     const float *save, const float *dy, float *dh, float *dw1, float *db1,
                     float *dw2, float *db2, float *ws) {
    const int R = b * t;
    const float *u = save, *alpha = save + (size_t)R * a;
    float *dpre = ws, *de = ws + (size_t)R * a;
#pragma omp parallel if ((double)R * a * d >= RNN_PAR_MIN)
    {
        /* de = alpha * (dalpha - sum_t alpha dalpha), dalpha_t = dy . h_t */
#pragma omp for schedule(static)
        for (int bi = 0; bi < b; bi++) {
            const float *dyr = dy + (size_t)bi * d;
            double dot = 0;
            for (int ti = 0; ti < t; ti++) {
                const size_t row = (size_t)bi * t + ti;
                const float *hr = h + row * d;
                double da = 0;
                for (int k = 0; k < d; k++) da += (double)dyr[k] * (double)hr[k];
                de[row] = (float)da; /* dalpha, rounded once so that T = 1 gives de = 0 */
                dot += (double)alpha[row] * (double)de[row];
            }
            for (int ti = 0; ti < t; ti++) {
                const size_t row = (size_t)bi * t + ti;
                de[row] = (float)((double)alpha[row] * ((double)de[row] - dot));
            }
        }
#pragma omp for schedule(static)
        for (int row = 0; row < R; row++) {
            const float *ur = u + (size_t)row * a;
            float *dp = dpre + (size_t)row * a;
            for (int k = 0; k < a; k++) dp[k] = de[row] * w2[k] * (1.0f - ur[k] * ur[k]);
        }
        if (dh) {
#pragma omp for schedule(static)
            for (int row = 0; row < R; row++) {
                const float al = alpha[row], *dyr = dy + (size_t)(row / t) * d;
                float *dhr = dh + (size_t)row * d;
                for (int k = 0; k < d; k++) dhr[k] = al * dyr[k];
            }
            gemm_tiles(false, false, R, d, a, dpre, a, w1, d, 1.0f, dh, d, false);
        }
        if (dw1) gemm_tiles(true, false, a, d, R, dpre, a, h, d, 1.0f, dw1, d, false);
        if (db1) col_sums(R, a, dpre, a, NULL, db1, NULL);
        if (dw2) col_sums(R, a, u, a, de, dw2, NULL);
        if (db2) {
#pragma omp single
            {
                double sum = 0;
                for (int row = 0; row < R; row++) sum += (double)de[row];
                db2[0] += (float)sum;
            }
        }
    }
}

/* Fills the recurrent and attention entries of the CPU table. */
void cpu_register_rnn(KOps *k) {
    k->lstm_save = lstm_save;
    k->lstm_ws = lstm_ws;
    k->lstm_fwd = lstm_fwd;
    k->lstm_bwd = lstm_bwd;
    k->gru_save = gru_save;
    k->gru_ws = gru_ws;
    k->gru_fwd = gru_fwd;
    k->gru_bwd = gru_bwd;
    k->attn_fwd = attn_fwd;
    k->attn_bwd = attn_bwd;
}
