/* Tests of the CPU recurrent ops (kernels/cpu/cpu_rnn.c): LSTM and GRU in
 * both directions and attention pooling. Hand-checked one-step cases; forward
 * against naive double-precision references written here (PyTorch's nn.LSTM /
 * nn.GRU formulas) with strided, bidirectional layouts; every backward against
 * central differences; accumulate/overwrite/NULL semantics; bit-identical
 * results for 1, 2 and 5 threads on shapes that span several GEMM tiles. */
#include "testutil.h"

static const KOps *K(void) { return kops_cpu(); }
static double sigd(double v) { return 1.0 / (1.0 + exp(-v)); }

/* ------------------------------------------------------- references ---- */

/* y[b,t,H] (double, contiguous) of one direction of PyTorch's nn.LSTM
 * (gates i,f,g,o) or nn.GRU (gates r,z,n), h0 = c0 = 0; x [b,t,ldx]. */
static void ref_rnn(bool gru, const KRnn *r, const float *x, const float *wih, const float *whh,
                    const float *bih, const float *bhh, double *y) {
    const int H = r->hidden, T = r->t, ng = gru ? 3 : 4;
    double *h = calloc(H, sizeof(double)), *c = calloc(H, sizeof(double));
    double *ai = calloc((size_t)ng * H, sizeof(double)),
           *ah = calloc((size_t)ng * H, sizeof(double));
    cr_assert(h && c && ai && ah);
    for (int bi = 0; bi < r->b; bi++) {
        for (int j = 0; j < H; j++) h[j] = c[j] = 0;
        for (int s = 0; s < T; s++) {
            const int ti = r->reverse ? T - 1 - s : s;
            const float *xr = x + ((size_t)bi * T + ti) * r->ldx;
            for (int k = 0; k < ng * H; k++) {
                ai[k] = bih[k], ah[k] = bhh[k];
                for (int i = 0; i < r->in; i++) ai[k] += (double)wih[k * r->in + i] * xr[i];
                for (int j = 0; j < H; j++) ah[k] += (double)whh[k * H + j] * h[j];
            }
            for (int j = 0; j < H; j++) {
                if (gru) {
                    double rg = sigd(ai[j] + ah[j]), zg = sigd(ai[H + j] + ah[H + j]);
                    double n = tanh(ai[2 * H + j] + rg * ah[2 * H + j]);
                    h[j] = (1 - zg) * n + zg * h[j];
                } else {
                    double a[4];
                    for (int q = 0; q < 4; q++) a[q] = ai[q * H + j] + ah[q * H + j];
                    c[j] = sigd(a[1]) * c[j] + sigd(a[0]) * tanh(a[2]);
                    h[j] = sigd(a[3]) * tanh(c[j]);
                }
                y[((size_t)bi * T + ti) * H + j] = h[j];
            }
        }
    }
    free(h), free(c), free(ai), free(ah);
}

/* y[b,d] (double) of attention pooling over h [b,t,d]. */
static void ref_attn(int b, int t, int d, int a, const float *h, const float *w1, const float *b1,
                     const float *w2, const float *b2, double *y) {
    double *e = calloc(t, sizeof(double));
    cr_assert(e);
    for (int bi = 0; bi < b; bi++) {
        double mx = -INFINITY, sum = 0;
        for (int ti = 0; ti < t; ti++) {
            const float *hr = h + ((size_t)bi * t + ti) * d;
            e[ti] = b2[0];
            for (int k = 0; k < a; k++) {
                double u = b1[k];
                for (int i = 0; i < d; i++) u += (double)w1[k * d + i] * hr[i];
                e[ti] += tanh(u) * w2[k];
            }
            mx = e[ti] > mx ? e[ti] : mx;
        }
        for (int ti = 0; ti < t; ti++) sum += (e[ti] = exp(e[ti] - mx));
        for (int i = 0; i < d; i++) {
            y[bi * d + i] = 0;
            for (int ti = 0; ti < t; ti++)
                y[bi * d + i] += e[ti] / sum * h[((size_t)bi * t + ti) * d + i];
        }
    }
    free(e);
}

/* ------------------------------------------------------- RNN harness ---- */

typedef struct RnnCase {
    bool gru;
    KRnn r;
    int ng; /* gates: 4 (LSTM) or 3 (GRU) */
    float *x, *wih, *whh, *bih, *bhh, *y, *save, *ws, *rr;
    size_t nx, nwih, nwhh, nb, ny;
} RnnCase;

static RnnCase rnn_case(bool gru, int b, int t, int in, int hid, int ldx, int ldy, bool reverse,
                        uint64_t seed) {
    RnnCase c = {.gru = gru, .r = {b, t, in, hid, ldx, ldy, reverse}, .ng = gru ? 3 : 4};
    c.nx = (size_t)b * t * ldx, c.ny = (size_t)b * t * ldy;
    c.nwih = (size_t)c.ng * hid * in, c.nwhh = (size_t)c.ng * hid * hid, c.nb = (size_t)c.ng * hid;
    c.x = tu_rand(c.nx, seed, -1, 1);
    c.wih = tu_rand(c.nwih, seed + 1, -0.5f, 0.5f);
    c.whh = tu_rand(c.nwhh, seed + 2, -0.5f, 0.5f);
    c.bih = tu_rand(c.nb, seed + 3, -0.5f, 0.5f);
    c.bhh = tu_rand(c.nb, seed + 4, -0.5f, 0.5f);
    c.rr = tu_rand(c.ny, seed + 5, -1, 1);
    c.y = tu_alloc(c.ny);
    c.save = tu_alloc(gru ? K()->gru_save(&c.r) : K()->lstm_save(&c.r));
    c.ws = tu_alloc(gru ? K()->gru_ws(&c.r) : K()->lstm_ws(&c.r));
    return c;
}

static void rnn_free(RnnCase *c) {
    free(c->x), free(c->wih), free(c->whh), free(c->bih), free(c->bhh);
    free(c->rr), free(c->y), free(c->save), free(c->ws);
}

static void rnn_fwd(RnnCase *c, float *y, float *save) {
    (c->gru ? K()->gru_fwd : K()->lstm_fwd)(&c->r, c->x, c->wih, c->whh, c->bih, c->bhh, y, save,
                                            c->ws);
}

static void rnn_bwd(RnnCase *c, const float *dy, float *dx, float *dwih, float *dwhh, float *dbih,
                    float *dbhh) {
    (c->gru ? K()->gru_bwd : K()->lstm_bwd)(&c->r, c->x, c->wih, c->whh, c->y, c->save, dy, dx,
                                            dwih, dwhh, dbih, dbhh, c->ws);
}

/* L = sum over the H used columns of y * rr (double). */
static double rnn_loss(void *ctx) {
    RnnCase *c = ctx;
    rnn_fwd(c, c->y, c->save);
    double s = 0;
    for (size_t row = 0; row < (size_t)c->r.b * c->r.t; row++)
        s += tu_dot(c->y + row * c->r.ldy, c->rr + row * c->r.ldy, (size_t)c->r.hidden);
    return s;
}

/* dy = rr in the H used columns, NaN in the others (must never be read). */
static float *rnn_dy(const RnnCase *c) {
    float *dy = tu_alloc(c->ny);
    for (size_t i = 0; i < c->ny; i++) dy[i] = (int)(i % c->r.ldy) < c->r.hidden ? c->rr[i] : NAN;
    return dy;
}

typedef struct Grads {
    float *dx, *dwih, *dwhh, *dbih, *dbhh;
} Grads;

static Grads grads_alloc(const RnnCase *c) {
    return (Grads){tu_alloc(c->nx), tu_alloc(c->nwih), tu_alloc(c->nwhh), tu_alloc(c->nb),
                   tu_alloc(c->nb)};
}
static void grads_free(Grads *g) {
    free(g->dx), free(g->dwih), free(g->dwhh), free(g->dbih), free(g->dbhh);
}

/* ------------------------------------------------ hand-checked cases ---- */

/* One step, b=1, in=2, H=2: the pre-activation of gate q, unit j is
 * w_ih[q*2+j] . x + b_ih + b_hh (h0 = 0, so W_hh must not matter: it holds
 * large values). Also checks the documented save layout. */
Test(cpu_rnn, lstm_one_step_by_hand) {
    KRnn r = {1, 1, 2, 2, 2, 2, false};
    float x[2] = {0.5f, -1.0f};
    float wih[16] = {0.1f,  0.2f, -0.3f, 0.4f, 0.5f, -0.6f, 0.7f, 0.8f,
                     -0.9f, 1.0f, 0.3f,  0.1f, 0.2f, -0.2f, 0.6f, -0.5f};
    float bih[8] = {0.05f, -0.1f, 0.15f, 0.2f, -0.25f, 0.3f, 0.0f, 0.1f};
    float bhh[8] = {0.1f, 0.0f, -0.2f, 0.05f, 0.3f, -0.1f, 0.2f, -0.3f};
    float whh[16];
    for (int i = 0; i < 16; i++) whh[i] = 100.0f;
    float y[2], save[12], ws[64];
    cr_assert_leq(K()->lstm_save(&r), 12);
    cr_assert_leq(K()->lstm_ws(&r), 64);
    K()->lstm_fwd(&r, x, wih, whh, bih, bhh, y, save, ws);
    for (int j = 0; j < 2; j++) {
        double pre[4];
        for (int q = 0; q < 4; q++) {
            int k = q * 2 + j;
            pre[q] = wih[2 * k] * 0.5 - wih[2 * k + 1] * 1.0 + bih[k] + bhh[k];
        }
        double i = sigd(pre[0]), f = sigd(pre[1]), g = tanh(pre[2]), o = sigd(pre[3]);
        double c = f * 0.0 + i * g, h = o * tanh(c);
        cr_assert(fabs(y[j] - h) < 1e-6, "h[%d] = %.8g, expected %.8g", j, y[j], h);
        double want[6] = {i, f, g, o, c, tanh(c)};
        for (int q = 0; q < 6; q++)
            cr_assert(fabs(save[q * 2 + j] - want[q]) < 1e-6, "save slot %d unit %d: %.8g vs %.8g",
                      q, j, save[q * 2 + j], want[q]);
    }
}

/* One step, b=1, in=2, H=1: r and z see b_ih + b_hh, and n sees r * b_hn
 * (PyTorch's formula: r multiplies the hidden-side term including its bias). */
Test(cpu_rnn, gru_one_step_by_hand) {
    KRnn r = {1, 1, 2, 1, 2, 1, false};
    float x[2] = {0.8f, -0.4f};
    float wih[6] = {0.3f, -0.7f, 0.9f, 0.2f, -0.5f, 0.6f};
    float bih[3] = {0.1f, -0.2f, 0.3f}, bhh[3] = {-0.4f, 0.5f, 0.7f}, whh[3] = {50, 50, 50};
    float y[1], save[16], ws[64];
    cr_assert_leq(K()->gru_save(&r), 16);
    cr_assert_leq(K()->gru_ws(&r), 64);
    K()->gru_fwd(&r, x, wih, whh, bih, bhh, y, save, ws);
    double rg = sigd(0.3 * 0.8 + 0.7 * 0.4 + 0.1 - 0.4);
    double zg = sigd(0.9 * 0.8 - 0.2 * 0.4 - 0.2 + 0.5);
    double n = tanh(-0.5 * 0.8 - 0.6 * 0.4 + 0.3 + rg * 0.7);
    double h = (1 - zg) * n + zg * 0.0;
    cr_assert(fabs(y[0] - h) < 1e-6, "h = %.8g, expected %.8g", y[0], h);
    /* a wrong placement of r (r * (W_hn h) + b_hn) would give this instead */
    double wrong = (1 - zg) * tanh(-0.5 * 0.8 - 0.6 * 0.4 + 0.3 + 0.7);
    cr_assert(fabs(h - wrong) > 1e-2);
}

/* ------------------------------------------------ forward vs reference ---- */

/* For b in {1,3}, t in {1,5}: forward direction into columns [0,H) and reverse
 * into [H,2H) of one y [b,t,2H+1] buffer; x has 3 NaN padding columns (never
 * read); column 2H keeps its sentinel. float32 vs double over O(10)-term dot
 * products of O(1) values through saturating nonlinearities: errors are a few
 * ulps of O(1), so 1e-5 absolute is a wide margin that still catches any
 * wrong formula. */
static void check_forward(bool gru) {
    const int in = 7, H = 5, ldx = in + 3, ldy = 2 * H + 1;
    const int bs[2] = {1, 3}, ts[2] = {1, 5};
    for (int bk = 0; bk < 2; bk++)
        for (int tk = 0; tk < 2; tk++) {
            const int b = bs[bk], t = ts[tk];
            RnnCase c = rnn_case(gru, b, t, in, H, ldx, ldy, false, 100 + bk * 10 + tk);
            for (size_t i = 0; i < c.nx; i++)
                if ((int)(i % ldx) >= in) c.x[i] = NAN;
            for (size_t i = 0; i < c.ny; i++) c.y[i] = -7.0f;
            KRnn rr = c.r;
            rr.reverse = true;
            float *save2 = tu_alloc(gru ? K()->gru_save(&rr) : K()->lstm_save(&rr));
            rnn_fwd(&c, c.y, c.save);
            c.r = rr;
            rnn_fwd(&c, c.y + H, save2);
            double *ref = calloc((size_t)b * t * H, sizeof(double));
            float *got = tu_alloc((size_t)b * t * H), *want = tu_alloc((size_t)b * t * H);
            for (int dir = 0; dir < 2; dir++) {
                c.r.reverse = dir == 1;
                ref_rnn(gru, &c.r, c.x, c.wih, c.whh, c.bih, c.bhh, ref);
                for (int row = 0; row < b * t; row++)
                    for (int j = 0; j < H; j++) {
                        got[row * H + j] = c.y[(size_t)row * ldy + dir * H + j];
                        want[row * H + j] = (float)ref[row * H + j];
                    }
                char what[96];
                snprintf(what, sizeof what, "%s %s b=%d t=%d", gru ? "gru" : "lstm",
                         dir ? "reverse" : "forward", b, t);
                tu_assert_close(got, want, (size_t)b * t * H, 0, 1e-5, what);
            }
            for (int row = 0; row < b * t; row++)
                cr_assert_eq(c.y[(size_t)row * ldy + 2 * H], -7.0f, "padding column written");
            free(ref), free(got), free(want), free(save2);
            rnn_free(&c);
        }
}

Test(cpu_rnn, lstm_matches_reference) { check_forward(false); }
Test(cpu_rnn, gru_matches_reference) { check_forward(true); }

/* Reverse of a sequence processed in reverse = forward of the time-flipped
 * sequence, exactly (same arithmetic in the same order). */
Test(cpu_rnn, reverse_is_forward_of_flipped) {
    for (int gru = 0; gru < 2; gru++) {
        RnnCase c = rnn_case(gru, 2, 6, 4, 3, 4, 3, true, 7);
        RnnCase f = rnn_case(gru, 2, 6, 4, 3, 4, 3, false, 7);
        for (int bi = 0; bi < 2; bi++)
            for (int ti = 0; ti < 6; ti++)
                memcpy(f.x + (bi * 6 + ti) * 4, c.x + (bi * 6 + 5 - ti) * 4, 4 * sizeof(float));
        rnn_fwd(&c, c.y, c.save);
        rnn_fwd(&f, f.y, f.save);
        for (int bi = 0; bi < 2; bi++)
            for (int ti = 0; ti < 6; ti++)
                tu_assert_bytes_equal(c.y + (bi * 6 + ti) * 3, f.y + (bi * 6 + 5 - ti) * 3,
                                      3 * sizeof(float), "reverse vs flipped");
        rnn_free(&c), rnn_free(&f);
    }
}

/* ------------------------------------------------------ gradient checks ---- */

/* b=2, t=4, in=5, H=3 with padded strides (ldx 7, ldy 8). dx's valid columns
 * start as garbage (overwrite), its padding as 0 (must stay 0: the numeric
 * derivative w.r.t. x's padding is 0). Default tolerances of testutil.h. */
static void check_rnn_grads(bool gru, bool reverse) {
    RnnCase c = rnn_case(gru, 2, 4, 5, 3, 7, 8, reverse, gru * 2 + reverse + 40);
    rnn_fwd(&c, c.y, c.save);
    float *dy = rnn_dy(&c);
    Grads g = grads_alloc(&c);
    for (size_t i = 0; i < c.nx; i++) g.dx[i] = (int)(i % 7) < 5 ? 123.0f : 0.0f;
    rnn_bwd(&c, dy, g.dx, g.dwih, g.dwhh, g.dbih, g.dbhh);
    const float h = 1e-2f;
    tu_gradcheck(rnn_loss, &c, c.x, g.dx, c.nx, h, 1e-2, 2e-3, 1000, "dx");
    tu_gradcheck(rnn_loss, &c, c.wih, g.dwih, c.nwih, h, 1e-2, 2e-3, 1000, "dw_ih");
    tu_gradcheck(rnn_loss, &c, c.whh, g.dwhh, c.nwhh, h, 1e-2, 2e-3, 1000, "dw_hh");
    tu_gradcheck(rnn_loss, &c, c.bih, g.dbih, c.nb, h, 1e-2, 2e-3, 1000, "db_ih");
    tu_gradcheck(rnn_loss, &c, c.bhh, g.dbhh, c.nb, h, 1e-2, 2e-3, 1000, "db_hh");
    free(dy), grads_free(&g), rnn_free(&c);
}

Test(cpu_rnn_grad, lstm_forward) { check_rnn_grads(false, false); }
Test(cpu_rnn_grad, lstm_reverse) { check_rnn_grads(false, true); }
Test(cpu_rnn_grad, gru_forward) { check_rnn_grads(true, false); }
Test(cpu_rnn_grad, gru_reverse) { check_rnn_grads(true, true); }

/* Parameter gradients accumulate onto what is there, dx is overwritten (its
 * padding untouched), and NULL gradients leave the others bit-identical. The
 * accumulated result may differ from p + g in the last ulp (BLAS adds C per
 * K-block), hence 1e-6 relative. */
static void check_rnn_accumulate(bool gru, bool reverse) {
    RnnCase c = rnn_case(gru, 3, 5, 6, 4, 9, 4, reverse, 60 + gru * 2 + reverse);
    rnn_fwd(&c, c.y, c.save);
    float *dy = rnn_dy(&c);
    Grads g = grads_alloc(&c), a = grads_alloc(&c), n = grads_alloc(&c);
    rnn_bwd(&c, dy, g.dx, g.dwih, g.dwhh, g.dbih, g.dbhh);
    tu_fill(a.dx, c.nx, 1, -5, 5);
    tu_fill(a.dwih, c.nwih, 2, -1, 1), tu_fill(a.dwhh, c.nwhh, 3, -1, 1);
    tu_fill(a.dbih, c.nb, 4, -1, 1), tu_fill(a.dbhh, c.nb, 5, -1, 1);
    Grads p = grads_alloc(&c);
    memcpy(p.dx, a.dx, c.nx * 4), memcpy(p.dwih, a.dwih, c.nwih * 4);
    memcpy(p.dwhh, a.dwhh, c.nwhh * 4), memcpy(p.dbih, a.dbih, c.nb * 4);
    memcpy(p.dbhh, a.dbhh, c.nb * 4);
    rnn_bwd(&c, dy, a.dx, a.dwih, a.dwhh, a.dbih, a.dbhh);
    for (size_t i = 0; i < c.nx; i++) {
        if ((int)(i % 9) < 6) cr_assert_eq(a.dx[i], g.dx[i], "dx not overwritten at %zu", i);
        else cr_assert_eq(a.dx[i], p.dx[i], "dx padding written at %zu", i);
    }
    for (size_t i = 0; i < c.nwih; i++) p.dwih[i] += g.dwih[i];
    for (size_t i = 0; i < c.nwhh; i++) p.dwhh[i] += g.dwhh[i];
    for (size_t i = 0; i < c.nb; i++) p.dbih[i] += g.dbih[i], p.dbhh[i] += g.dbhh[i];
    tu_assert_close(a.dwih, p.dwih, c.nwih, 1e-6, 1e-6, "dw_ih accumulates");
    tu_assert_close(a.dwhh, p.dwhh, c.nwhh, 1e-6, 1e-6, "dw_hh accumulates");
    tu_assert_close(a.dbih, p.dbih, c.nb, 1e-6, 1e-6, "db_ih accumulates");
    tu_assert_close(a.dbhh, p.dbhh, c.nb, 1e-6, 1e-6, "db_hh accumulates");
    /* NULL patterns: only dx; then everything but dx, dw_ih, db_hh */
    rnn_bwd(&c, dy, n.dx, NULL, NULL, NULL, NULL);
    tu_assert_bytes_equal(n.dx, g.dx, c.nx * 4, "dx alone");
    rnn_bwd(&c, dy, NULL, NULL, n.dwhh, n.dbih, NULL);
    tu_assert_bytes_equal(n.dwhh, g.dwhh, c.nwhh * 4, "dw_hh with NULLs");
    tu_assert_bytes_equal(n.dbih, g.dbih, c.nb * 4, "db_ih with NULLs");
    rnn_bwd(&c, dy, NULL, n.dwih, NULL, NULL, n.dbhh);
    tu_assert_bytes_equal(n.dwih, g.dwih, c.nwih * 4, "dw_ih with NULLs");
    tu_assert_bytes_equal(n.dbhh, g.dbhh, c.nb * 4, "db_hh with NULLs");
    free(dy), grads_free(&g), grads_free(&a), grads_free(&n), grads_free(&p), rnn_free(&c);
}

Test(cpu_rnn, lstm_accumulate_and_null) {
    check_rnn_accumulate(false, false);
    check_rnn_accumulate(false, true);
}
Test(cpu_rnn, gru_accumulate_and_null) {
    check_rnn_accumulate(true, false);
    check_rnn_accumulate(true, true);
}

/* ------------------------------------------------------------ attention ---- */

typedef struct AttnCase {
    int b, t, d, a;
    float *h, *w1, *b1, *w2, *b2, *save, *y, *ws, *rr;
} AttnCase;

static AttnCase attn_case(int b, int t, int d, int a, uint64_t seed) {
    AttnCase c = {.b = b, .t = t, .d = d, .a = a};
    c.h = tu_rand((size_t)b * t * d, seed, -1, 1);
    c.w1 = tu_rand((size_t)a * d, seed + 1, -0.6f, 0.6f);
    c.b1 = tu_rand(a, seed + 2, -0.5f, 0.5f);
    c.w2 = tu_rand(a, seed + 3, -1, 1);
    c.b2 = tu_rand(1, seed + 4, -0.5f, 0.5f);
    c.save = tu_alloc((size_t)b * t * (a + 1));
    c.ws = tu_alloc((size_t)b * t * (a + 1));
    c.y = tu_alloc((size_t)b * d);
    c.rr = tu_rand((size_t)b * d, seed + 5, -1, 1);
    return c;
}
static void attn_free(AttnCase *c) {
    free(c->h), free(c->w1), free(c->b1), free(c->w2), free(c->b2);
    free(c->save), free(c->ws), free(c->y), free(c->rr);
}
static void attn_run(AttnCase *c) {
    K()->attn_fwd(c->b, c->t, c->d, c->a, c->h, c->w1, c->b1, c->w2, c->b2, c->save, c->y);
}
static double attn_loss(void *ctx) {
    AttnCase *c = ctx;
    attn_run(c);
    return tu_dot(c->y, c->rr, (size_t)c->b * c->d);
}
static void attn_grad(AttnCase *c, float *dh, float *dw1, float *db1, float *dw2, float *db2) {
    K()->attn_bwd(c->b, c->t, c->d, c->a, c->h, c->w1, c->w2, c->save, c->rr, dh, dw1, db1, dw2,
                  db2, c->ws);
}

/* Against the double reference (tolerance as for the RNN forward), and
 * alpha sums to 1 per batch row. */
Test(cpu_rnn, attention_matches_reference) {
    AttnCase c = attn_case(3, 5, 6, 4, 80);
    attn_run(&c);
    double *ref = calloc(3 * 6, sizeof(double));
    float want[18];
    ref_attn(3, 5, 6, 4, c.h, c.w1, c.b1, c.w2, c.b2, ref);
    for (int i = 0; i < 18; i++) want[i] = (float)ref[i];
    tu_assert_close(c.y, want, 18, 0, 1e-5, "attention y");
    for (int bi = 0; bi < 3; bi++) {
        double s = 0;
        for (int ti = 0; ti < 5; ti++) s += c.save[3 * 5 * 4 + bi * 5 + ti];
        cr_assert(fabs(s - 1) < 1e-6, "alpha row %d sums to %.8g", bi, s);
    }
    free(ref), attn_free(&c);
}

/* T = 1: alpha = 1 exactly, y = h, dh = dy, and the scoring parameters get
 * no gradient (the softmax of one element is constant). */
Test(cpu_rnn, attention_single_step) {
    AttnCase c = attn_case(2, 1, 5, 3, 90);
    attn_run(&c);
    tu_assert_bytes_equal(c.y, c.h, 10 * sizeof(float), "y = h");
    float dh[10], dw1[15] = {0}, db1[3] = {0}, dw2[3] = {0}, db2[1] = {0};
    attn_grad(&c, dh, dw1, db1, dw2, db2);
    tu_assert_bytes_equal(dh, c.rr, sizeof dh, "dh = dy");
    for (int i = 0; i < 15; i++) cr_assert_eq(fabsf(dw1[i]), 0.0f);
    for (int i = 0; i < 3; i++) cr_assert(db1[i] == 0 && dw2[i] == 0);
    cr_assert_eq(db2[0], 0.0f);
    attn_free(&c);
}

/* Every attention gradient by central differences (default tolerances). */
Test(cpu_rnn_grad, attention) {
    AttnCase c = attn_case(2, 5, 6, 4, 70);
    attn_run(&c);
    float *dh = tu_rand(2 * 5 * 6, 9, -3, 3); /* overwritten */
    float *dw1 = tu_alloc(24), *db1 = tu_alloc(4), *dw2 = tu_alloc(4), *db2 = tu_alloc(1);
    attn_grad(&c, dh, dw1, db1, dw2, db2);
    tu_gradcheck(attn_loss, &c, c.h, dh, 60, 1e-2f, 1e-2, 2e-3, 1000, "attn dh");
    tu_gradcheck(attn_loss, &c, c.w1, dw1, 24, 1e-2f, 1e-2, 2e-3, 1000, "attn dw1");
    tu_gradcheck(attn_loss, &c, c.b1, db1, 4, 1e-2f, 1e-2, 2e-3, 1000, "attn db1");
    tu_gradcheck(attn_loss, &c, c.w2, dw2, 4, 1e-2f, 1e-2, 2e-3, 1000, "attn dw2");
    tu_gradcheck(attn_loss, &c, c.b2, db2, 1, 1e-2f, 1e-2, 2e-3, 1000, "attn db2");
    /* db2 is the sum of de = alpha*(dalpha - E[dalpha]), i.e. 0 up to rounding */
    cr_assert(fabsf(db2[0]) < 1e-5f);
    free(dh), free(dw1), free(db1), free(dw2), free(db2), attn_free(&c);
}

/* Accumulate (1e-6 relative, as for the RNN) and NULL gradients. */
Test(cpu_rnn, attention_accumulate_and_null) {
    AttnCase c = attn_case(2, 4, 5, 3, 75);
    attn_run(&c);
    float g[15 + 3 + 3 + 1] = {0}, a[22], p[22], dh[40], dh2[40];
    tu_fill(a, 22, 3, -1, 1);
    memcpy(p, a, sizeof a);
    attn_grad(&c, dh, g, g + 15, g + 18, g + 21);
    attn_grad(&c, NULL, a, a + 15, a + 18, a + 21);
    for (int i = 0; i < 22; i++) p[i] += g[i];
    tu_assert_close(a, p, 22, 1e-6, 1e-6, "attention parameter grads accumulate");
    attn_grad(&c, dh2, NULL, NULL, NULL, NULL);
    tu_assert_bytes_equal(dh2, dh, sizeof dh, "dh alone");
    attn_free(&c);
}

/* ---------------------------------------------------------- determinism ---- */

/* Shapes spanning several 64x64 GEMM tiles (b*t = 75 rows, 4H = 160 and
 * 3H = 120 gate columns, in = 70): every output and gradient must be
 * byte-identical for 1, 2 and 5 threads. */
typedef struct DetOut {
    float *buf;
    size_t n;
} DetOut;

static DetOut det_run(int threads) {
    kthreads_set(threads);
    const int b = 3, t = 25, in = 70, H = 40, ldx = 73, ldy = 2 * H;
    size_t n = 0, cap = 400000;
    float *out = tu_alloc(cap);
    for (int gru = 0; gru < 2; gru++)
        for (int rev = 0; rev < 2; rev++) {
            RnnCase c = rnn_case(gru, b, t, in, H, ldx, ldy, rev, 500 + gru * 2 + rev);
            float *dy = tu_rand(c.ny, 9, -1, 1);
            Grads g = grads_alloc(&c);
            rnn_fwd(&c, c.y, c.save);
            rnn_bwd(&c, dy, g.dx, g.dwih, g.dwhh, g.dbih, g.dbhh);
            size_t ns = gru ? K()->gru_save(&c.r) : K()->lstm_save(&c.r);
            const float *parts[7] = {c.y, c.save, g.dx, g.dwih, g.dwhh, g.dbih, g.dbhh};
            size_t sizes[7] = {c.ny, ns, c.nx, c.nwih, c.nwhh, c.nb, c.nb};
            for (int q = 0; q < 7; q++) {
                cr_assert_leq(n + sizes[q], cap);
                memcpy(out + n, parts[q], sizes[q] * sizeof(float));
                n += sizes[q];
            }
            free(dy), grads_free(&g), rnn_free(&c);
        }
    AttnCase c = attn_case(b, t, 80, 70, 600);
    attn_run(&c);
    float *dh = tu_alloc((size_t)b * t * 80), *dw1 = tu_alloc(70 * 80), *db1 = tu_alloc(70);
    float *dw2 = tu_alloc(70), db2[1] = {0};
    attn_grad(&c, dh, dw1, db1, dw2, db2);
    const float *parts[7] = {c.y, c.save, dh, dw1, db1, dw2, db2};
    size_t sizes[7] = {(size_t)b * 80, (size_t)b * t * 71, (size_t)b * t * 80, 70 * 80, 70, 70, 1};
    for (int q = 0; q < 7; q++) {
        cr_assert_leq(n + sizes[q], cap);
        memcpy(out + n, parts[q], sizes[q] * sizeof(float));
        n += sizes[q];
    }
    free(dh), free(dw1), free(db1), free(dw2), attn_free(&c);
    return (DetOut){out, n};
}

Test(cpu_rnn_det, threads_1_2_5_bit_identical) {
    DetOut one = det_run(1), two = det_run(2), five = det_run(5);
    cr_assert_eq(one.n, two.n);
    cr_assert_eq(one.n, five.n);
    tu_assert_bytes_equal(one.buf, two.buf, one.n * sizeof(float), "1 vs 2 threads");
    tu_assert_bytes_equal(one.buf, five.buf, one.n * sizeof(float), "1 vs 5 threads");
    free(one.buf), free(two.buf), free(five.buf);
}
