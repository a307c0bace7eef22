/* Tests of the CPU convolutions (kernels/cpu/cpu_conv.c): forwards on small
 * hand-computed cases; forwards against a naive double-precision reference
 * on edge shapes; every backward against central finite differences;
 * accumulate / overwrite / NULL semantics of the gradients; and bit-identical
 * results across thread counts on shapes that span several work tiles. */
#include "testutil.h"

typedef enum { OP_CONV, OP_DW, OP_CONVT } Op;

/* A test shape: conv and depthwise use kconv_init (depthwise: groups = cin),
 * conv-transpose uses kconvt_init. */
typedef struct Case {
    Op op;
    int n, h, w, cin, cout, k, s, p, g;
    bool bias;
    const char *name;
} Case;

/* Buffers of one case: x, w, b (NULL without bias), y, ws, and a fixed
 * random r used as dy and as the weights of the loss L = sum(y * r). */
typedef struct Bufs {
    const KOps *k;
    Op op;
    KConv c;
    size_t nx, nw, nb, ny, nws;
    float *x, *w, *b, *y, *ws, *r;
} Bufs;

static KConv case_geom(const Case *t) {
    if (t->op == OP_CONVT) return kconvt_init(t->n, t->h, t->w, t->cin, t->cout, t->k, t->s, t->p);
    return kconv_init(t->n, t->h, t->w, t->cin, t->cout, t->k, t->s, t->p,
                      t->op == OP_DW ? t->cin : t->g);
}

static Bufs bufs_make(const Case *t, uint64_t seed) {
    Bufs B = {.k = kops_cpu(), .op = t->op, .c = case_geom(t)};
    const KConv *c = &B.c;
    B.nx = (size_t)c->n * c->h * c->w * c->cin;
    B.ny = (size_t)c->n * c->oh * c->ow * c->cout;
    B.nw = t->op == OP_CONVT ? (size_t)c->cin * c->cout * c->kh * c->kw
                             : (size_t)c->cout * (c->cin / c->groups) * c->kh * c->kw;
    B.nb = (size_t)c->cout;
    B.nws = t->op == OP_CONV ? B.k->conv2d_ws(c) : t->op == OP_CONVT ? B.k->convt2d_ws(c) : 0;
    B.x = tu_rand(B.nx, seed, -1, 1);
    B.w = tu_rand(B.nw, seed + 1, -1, 1);
    B.b = t->bias ? tu_rand(B.nb, seed + 2, -1, 1) : NULL;
    B.r = tu_rand(B.ny, seed + 3, -1, 1);
    B.y = tu_alloc(B.ny);
    B.ws = tu_alloc(B.nws);
    return B;
}

static void bufs_free(Bufs *B) {
    free(B->x), free(B->w), free(B->b), free(B->r), free(B->y), free(B->ws);
}

static void run_fwd(const Bufs *B) {
    switch (B->op) {
    case OP_CONV: B->k->conv2d_fwd(&B->c, B->x, B->w, B->b, B->y, B->ws); break;
    case OP_DW: B->k->dwconv2d_fwd(&B->c, B->x, B->w, B->b, B->y); break;
    case OP_CONVT: B->k->convt2d_fwd(&B->c, B->x, B->w, B->b, B->y, B->ws); break;
    }
}

/* Backward with dy = r. */
static void run_bwd(const Bufs *B, float *dx, float *dw, float *db) {
    switch (B->op) {
    case OP_CONV: B->k->conv2d_bwd(&B->c, B->x, B->w, B->r, dx, dw, db, B->ws); break;
    case OP_DW: B->k->dwconv2d_bwd(&B->c, B->x, B->w, B->r, dx, dw, db); break;
    case OP_CONVT: B->k->convt2d_bwd(&B->c, B->x, B->w, B->r, dx, dw, db, B->ws); break;
    }
}

/* ---- naive references (double accumulation) ----
 * Both ops are sums over "connections" (output element, input element,
 * weight element). ref_visit enumerates them straight from the definitions:
 *   conv:  y[n,oy,ox,co] <- x[n, oy*s-p+ky, ox*s-p+kx, g*cg+ci] * w[co,ci,ky,kx]
 *   convT: y[n, iy*s-p+ky, ix*s-p+kx, co] <- x[n,iy,ix,ci] * w[ci,co,ky,kx]
 * and accumulates, per connection, whichever of y, dx, dw is requested. */
typedef struct Ref {
    const float *x, *w, *dy;
    double *y, *dx, *dw;
} Ref;

static void ref_connect(Ref *R, size_t yi, size_t xi, size_t wi) {
    if (R->y) R->y[yi] += (double)R->x[xi] * R->w[wi];
    if (R->dx) R->dx[xi] += (double)R->dy[yi] * R->w[wi];
    if (R->dw) R->dw[wi] += (double)R->dy[yi] * R->x[xi];
}

static void ref_visit(const Bufs *B, Ref *R) {
    const KConv *c = &B->c;
    if (B->op != OP_CONVT) {
        const int cg = c->cin / c->groups, cgo = c->cout / c->groups;
        for (int n = 0; n < c->n; n++)
            for (int oy = 0; oy < c->oh; oy++)
                for (int ox = 0; ox < c->ow; ox++)
                    for (int co = 0; co < c->cout; co++)
                        for (int ci = 0; ci < cg; ci++)
                            for (int ky = 0; ky < c->kh; ky++)
                                for (int kx = 0; kx < c->kw; kx++) {
                                    int iy = oy * c->sh - c->ph + ky, ix = ox * c->sw - c->pw + kx;
                                    if (iy < 0 || iy >= c->h || ix < 0 || ix >= c->w) continue;
                                    ref_connect(
                                        R, (((size_t)n * c->oh + oy) * c->ow + ox) * c->cout + co,
                                        (((size_t)n * c->h + iy) * c->w + ix) * c->cin +
                                            (size_t)(co / cgo) * cg + ci,
                                        (((size_t)co * cg + ci) * c->kh + ky) * c->kw + kx);
                                }
        return;
    }
    for (int n = 0; n < c->n; n++)
        for (int iy = 0; iy < c->h; iy++)
            for (int ix = 0; ix < c->w; ix++)
                for (int ci = 0; ci < c->cin; ci++)
                    for (int co = 0; co < c->cout; co++)
                        for (int ky = 0; ky < c->kh; ky++)
                            for (int kx = 0; kx < c->kw; kx++) {
                                int oy = iy * c->sh - c->ph + ky, ox = ix * c->sw - c->pw + kx;
                                if (oy < 0 || oy >= c->oh || ox < 0 || ox >= c->ow) continue;
                                ref_connect(
                                    R, (((size_t)n * c->oh + oy) * c->ow + ox) * c->cout + co,
                                    (((size_t)n * c->h + iy) * c->w + ix) * c->cin + ci,
                                    (((size_t)ci * c->cout + co) * c->kh + ky) * c->kw + kx);
                            }
}

static double *dalloc(size_t n) {
    double *p = calloc(n ? n : 1, sizeof(double));
    cr_assert(p != NULL);
    return p;
}
static void to_float(const double *d, size_t n, float *f) {
    for (size_t i = 0; i < n; i++) f[i] = (float)d[i];
}

/* want = the forward of B (bias included) */
static void ref_fwd(const Bufs *B, float *want) {
    double *y = dalloc(B->ny);
    for (size_t i = 0; i < B->ny; i++) y[i] = B->b ? B->b[i % B->nb] : 0.0;
    Ref R = {.x = B->x, .w = B->w, .y = y};
    ref_visit(B, &R);
    to_float(y, B->ny, want);
    free(y);
}

/* dx, dw, db of L = sum(y * r) */
static void ref_bwd(const Bufs *B, float *dx, float *dw, float *db) {
    double *gx = dalloc(B->nx), *gw = dalloc(B->nw), *gb = dalloc(B->nb);
    Ref R = {.x = B->x, .w = B->w, .dy = B->r, .dx = gx, .dw = gw};
    ref_visit(B, &R);
    for (size_t i = 0; i < B->ny; i++) gb[i % B->nb] += B->r[i];
    to_float(gx, B->nx, dx), to_float(gw, B->nw, dw), to_float(gb, B->nb, db);
    free(gx), free(gw), free(gb);
}

/* ---- (1) hand-checked forwards ---- */

Test(cpu_conv_hand, conv_2x2_kernel_on_3x3) {
    const KOps *k = kops_cpu();
    KConv c = kconv_init(1, 3, 3, 1, 1, 2, 1, 0, 1);
    cr_assert_eq(c.oh, 2);
    float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[4] = {1, 2, 3, 4}, b[1] = {0.5f}, y[4];
    float *ws = tu_alloc(k->conv2d_ws(&c));
    k->conv2d_fwd(&c, x, w, b, y, ws);
    /* y00 = 1*1+2*2+4*3+5*4 = 37; y01 = 2+6+15+24 = 47; y10 = 4+10+21+32 = 67; y11 = 77 */
    const float want[4] = {37.5f, 47.5f, 67.5f, 77.5f};
    tu_assert_close(y, want, 4, 0, 0, "conv 2x2");
    free(ws);
}

Test(cpu_conv_hand, conv_3x3_stride2_pad1) {
    const KOps *k = kops_cpu();
    KConv c = kconv_init(1, 3, 3, 1, 1, 3, 2, 1, 1);
    cr_assert(c.oh == 2 && c.ow == 2);
    float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[9], y[4];
    for (int i = 0; i < 9; i++) w[i] = 1;
    float *ws = tu_alloc(k->conv2d_ws(&c));
    k->conv2d_fwd(&c, x, w, NULL, y, ws);
    /* windows centred on (0,0), (0,2), (2,0), (2,2), cut by the padding */
    const float want[4] = {1 + 2 + 4 + 5, 2 + 3 + 5 + 6, 4 + 5 + 7 + 8, 5 + 6 + 8 + 9};
    tu_assert_close(y, want, 4, 0, 0, "conv 3x3 s2 p1");
    free(ws);
}

Test(cpu_conv_hand, conv_1x1_two_pixels) {
    const KOps *k = kops_cpu();
    KConv c = kconv_init(1, 1, 2, 2, 3, 1, 1, 0, 1);
    float x[4] = {1, 2, 3, 4}, w[6] = {1, 0, 0, 1, 1, -1}, b[3] = {0, 10, 0}, y[6];
    float *ws = tu_alloc(k->conv2d_ws(&c));
    k->conv2d_fwd(&c, x, w, b, y, ws);
    const float want[6] = {1, 12, -1, 3, 14, -1};
    tu_assert_close(y, want, 6, 0, 0, "conv 1x1");
    free(ws);
}

Test(cpu_conv_hand, depthwise_two_channels) {
    const KOps *k = kops_cpu();
    KConv c = kconv_init(1, 2, 2, 2, 2, 2, 1, 0, 2);
    /* NHWC: pixel (0,0) = [1,10], (0,1) = [2,20], (1,0) = [3,30], (1,1) = [4,40] */
    float x[8] = {1, 10, 2, 20, 3, 30, 4, 40}, w[8] = {1, 1, 1, 1, 1, 0, 0, -1}, b[2] = {0, 1};
    float y[2], y2[2];
    k->dwconv2d_fwd(&c, x, w, b, y);
    const float want[2] = {1 + 2 + 3 + 4, 10 - 40 + 1};
    tu_assert_close(y, want, 2, 0, 0, "depthwise");
    k->conv2d_fwd(&c, x, w, b, y2, NULL); /* routed to depthwise, needs no scratch */
    cr_assert_eq(k->conv2d_ws(&c), 0);
    tu_assert_close(y2, want, 2, 0, 0, "depthwise via conv2d");
}

Test(cpu_conv_hand, convt_k2_s2_tiles_the_kernel) {
    const KOps *k = kops_cpu();
    KConv c = kconvt_init(1, 2, 2, 1, 1, 2, 2, 0);
    cr_assert(c.oh == 4 && c.ow == 4);
    float x[4] = {1, 2, 3, 4}, w[4] = {1, 2, 3, 4}, b[1] = {1}, y[16], want[16];
    float *ws = tu_alloc(k->convt2d_ws(&c));
    k->convt2d_fwd(&c, x, w, b, y, ws);
    /* each input pixel (i,j) paints x[i][j] * w into the 2x2 block at (2i, 2j) */
    for (int oy = 0; oy < 4; oy++)
        for (int ox = 0; ox < 4; ox++)
            want[oy * 4 + ox] = x[(oy / 2) * 2 + ox / 2] * w[(oy % 2) * 2 + ox % 2] + 1;
    cr_assert_float_eq(want[5], 4 * 1 + 1, 0); /* (1,1): x[0][0] * w[1][1] */
    tu_assert_close(y, want, 16, 0, 0, "convT k2 s2");
    free(ws);
}

Test(cpu_conv_hand, convt_k3_s2_p1_overlap) {
    const KOps *k = kops_cpu();
    /* 1x2 input, 1 channel: oh = 0*2-2+3 = 1, ow = 1*2-2+3 = 3. Output column X
     * gets x[j] * w[1][X+1-2j]: X=0 <- x0*w11; X=1 <- x0*w12 + x1*w10; X=2 <- x1*w11 */
    KConv c = kconvt_init(1, 1, 2, 1, 1, 3, 2, 1);
    cr_assert(c.oh == 1 && c.ow == 3);
    float x[2] = {2, 3}, w[9] = {0, 0, 0, 5, 7, 11, 0, 0, 0}, y[3];
    float *ws = tu_alloc(k->convt2d_ws(&c));
    k->convt2d_fwd(&c, x, w, NULL, y, ws);
    const float want[3] = {2 * 7, 2 * 11 + 3 * 5, 3 * 7};
    tu_assert_close(y, want, 3, 0, 0, "convT k3 s2 p1");
    free(ws);
}

/* ---- (2) forwards against the naive reference ---- */

static const Case fwd_cases[] = {
    {OP_CONV, 1, 5, 5, 3, 4, 3, 1, 1, 1, true, "k3 s1 p1 batch 1"},
    {OP_CONV, 2, 7, 5, 4, 6, 3, 2, 1, 2, false, "k3 s2 p1 groups 2 odd input"},
    {OP_CONV, 2, 6, 6, 6, 9, 3, 1, 0, 3, true, "k3 groups 3 no padding"},
    {OP_CONV, 1, 6, 6, 2, 3, 4, 2, 1, 1, true, "k4 s2 p1 (VAE encoder)"},
    {OP_CONV, 2, 9, 9, 3, 8, 3, 2, 1, 1, true, "stem-like k3 s2 odd input"},
    {OP_CONV, 1, 8, 7, 3, 2, 5, 1, 2, 1, false, "k5 p2"},
    {OP_CONV, 3, 4, 5, 7, 5, 1, 1, 0, 1, true, "1x1 fast path"},
    {OP_CONV, 2, 12, 12, 8, 260, 1, 1, 0, 1, false, "1x1 over several GEMM tiles"},
    {OP_CONV, 1, 7, 7, 6, 4, 1, 2, 0, 1, true, "1x1 stride 2 (im2col path)"},
    {OP_CONV, 1, 5, 5, 4, 4, 3, 1, 1, 4, true, "depthwise routed through conv2d"},
    {OP_DW, 1, 5, 5, 5, 5, 3, 1, 1, 0, true, "dw k3 s1"},
    {OP_DW, 1, 7, 7, 4, 4, 3, 2, 1, 0, false, "dw k3 s2 odd input"},
    {OP_DW, 1, 6, 6, 3, 3, 5, 1, 2, 0, true, "dw k5 s1"},
    {OP_DW, 2, 9, 7, 7, 7, 5, 2, 2, 0, false, "dw k5 s2 odd input"},
    {OP_DW, 1, 6, 5, 70, 70, 3, 2, 1, 0, true, "dw 70 channels (16-wide strips and tails)"},
    {OP_DW, 1, 5, 6, 170, 170, 5, 1, 2, 0, true, "dw k5 170 channels (two channel blocks)"},
    {OP_CONVT, 2, 3, 4, 3, 5, 4, 2, 1, 1, true, "convT k4 s2 p1"},
    {OP_CONVT, 1, 3, 2, 2, 3, 3, 2, 0, 1, false, "convT k3 s2 p0 odd"},
    {OP_CONVT, 1, 4, 4, 3, 2, 3, 1, 1, 1, true, "convT k3 s1 p1"},
};

/* Reference sums have at most 75 products of values in [-1,1]; float
 * accumulation error is a few ulps of the running sum (|sum| <~ 10), far
 * below atol 1e-4, while any indexing mistake moves outputs by O(0.1). */
Test(cpu_conv_ref, forward_matches_naive_loops) {
    for (size_t i = 0; i < sizeof fwd_cases / sizeof fwd_cases[0]; i++) {
        const Case *t = &fwd_cases[i];
        Bufs B = bufs_make(t, 100 + i);
        float *want = tu_alloc(B.ny);
        for (size_t j = 0; j < B.ny; j++) B.y[j] = NAN; /* must be overwritten */
        run_fwd(&B);
        ref_fwd(&B, want);
        tu_assert_close(B.y, want, B.ny, 1e-5, 1e-4, t->name);
        free(want);
        bufs_free(&B);
    }
}

/* Backward against the naive reference on shapes with several reduction
 * chunks (> 2048 rows), several GEMM tiles, full 16-channel strips and two
 * depthwise channel blocks: the thread tests below only show that these
 * results do not change, this shows they are right. Gradients here are sums
 * of up to ~4000 products of values in [-1,1] (|sum| ~ 20-40); float
 * accumulation error grows like sqrt(terms) ulps of that, ~1e-4, so
 * atol 1e-3 / rtol 1e-4; a lost or doubled chunk moves values by O(10). */
static const Case bwd_cases[] = {
    {OP_CONV, 4, 32, 32, 8, 16, 3, 1, 1, 2, true, "conv k3 g2"},
    {OP_CONV, 4, 32, 32, 8, 20, 1, 1, 0, 1, true, "conv 1x1"},
    {OP_CONV, 4, 31, 31, 3, 16, 3, 2, 1, 1, true, "stem-like conv k3 s2"},
    {OP_DW, 4, 32, 32, 21, 21, 3, 1, 1, 0, true, "dw k3 21 channels"},
    {OP_DW, 2, 9, 9, 170, 170, 5, 2, 2, 0, true, "dw k5 s2 two channel blocks"},
    {OP_CONVT, 4, 24, 24, 6, 5, 4, 2, 1, 1, true, "convT k4 s2 p1"},
};

Test(cpu_conv_ref, backward_matches_naive_loops) {
    for (size_t i = 0; i < sizeof bwd_cases / sizeof bwd_cases[0]; i++) {
        const Case *t = &bwd_cases[i];
        Bufs B = bufs_make(t, 300 + i);
        float *dx = tu_alloc(B.nx), *dw = tu_alloc(B.nw), *db = tu_alloc(B.nb);
        float *wx = tu_alloc(B.nx), *ww = tu_alloc(B.nw), *wb = tu_alloc(B.nb);
        run_bwd(&B, dx, dw, db);
        ref_bwd(&B, wx, ww, wb);
        char what[160];
        snprintf(what, sizeof what, "%s: dx", t->name);
        tu_assert_close(dx, wx, B.nx, 1e-4, 1e-3, what);
        snprintf(what, sizeof what, "%s: dw", t->name);
        tu_assert_close(dw, ww, B.nw, 1e-4, 1e-3, what);
        snprintf(what, sizeof what, "%s: db", t->name);
        tu_assert_close(db, wb, B.nb, 1e-4, 1e-3, what);
        free(dx), free(dw), free(db), free(wx), free(ww), free(wb);
        bufs_free(&B);
    }
}

/* ---- (3) backward against finite differences ---- */

static double loss_of(void *ctx) {
    const Bufs *B = ctx;
    run_fwd(B);
    return tu_dot(B->y, B->r, B->ny);
}

/* dx, dw, db from the backward with dy = r against central differences of
 * L = sum(y*r). The op is linear in x, w and b, so the difference has no
 * truncation error; testutil's default tolerances cover the rounding. */
static void check_grads(const Case *t) {
    Bufs B = bufs_make(t, 7);
    float *dx = tu_alloc(B.nx), *dw = tu_alloc(B.nw), *db = tu_alloc(B.nb);
    run_bwd(&B, dx, dw, t->bias ? db : NULL);
    char what[160];
    snprintf(what, sizeof what, "%s: dx", t->name);
    tu_gradcheck(loss_of, &B, B.x, dx, B.nx, 1e-2f, 1e-2, 2e-3, 80, what);
    snprintf(what, sizeof what, "%s: dw", t->name);
    tu_gradcheck(loss_of, &B, B.w, dw, B.nw, 1e-2f, 1e-2, 2e-3, 80, what);
    if (t->bias) {
        snprintf(what, sizeof what, "%s: db", t->name);
        tu_gradcheck(loss_of, &B, B.b, db, B.nb, 1e-2f, 1e-2, 2e-3, 80, what);
    }
    free(dx), free(dw), free(db);
    bufs_free(&B);
}

Test(cpu_conv_grad, conv_k3_s2_groups2) {
    check_grads(&(Case){OP_CONV, 2, 5, 6, 4, 6, 3, 2, 1, 2, true, "conv k3 s2 p1 g2"});
}
Test(cpu_conv_grad, conv_k4_s2_p1) {
    check_grads(&(Case){OP_CONV, 1, 6, 6, 3, 4, 4, 2, 1, 1, true, "conv k4 s2 p1"});
}
Test(cpu_conv_grad, conv_k5_p2_odd) {
    check_grads(&(Case){OP_CONV, 1, 5, 3, 2, 3, 5, 1, 2, 1, true, "conv k5 p2 odd"});
}
Test(cpu_conv_grad, conv_1x1) {
    check_grads(&(Case){OP_CONV, 2, 3, 3, 5, 4, 1, 1, 0, 1, true, "conv 1x1"});
}
Test(cpu_conv_grad, conv_routed_depthwise) {
    check_grads(&(Case){OP_CONV, 1, 5, 5, 3, 3, 3, 1, 1, 3, true, "conv2d depthwise"});
}
Test(cpu_conv_grad, dw_k3_s2) {
    check_grads(&(Case){OP_DW, 2, 5, 5, 5, 5, 3, 2, 1, 0, true, "dw k3 s2 p1"});
}
Test(cpu_conv_grad, dw_k5_s1) {
    check_grads(&(Case){OP_DW, 1, 6, 7, 3, 3, 5, 1, 2, 0, true, "dw k5 s1 p2"});
}
Test(cpu_conv_grad, dw_k3_21_channels) {
    check_grads(&(Case){OP_DW, 1, 4, 5, 21, 21, 3, 1, 1, 0, true, "dw k3 21 channels"});
}
Test(cpu_conv_grad, dw_k5_s2_odd) {
    check_grads(&(Case){OP_DW, 1, 7, 5, 2, 2, 5, 2, 2, 0, false, "dw k5 s2 p2 odd"});
}
Test(cpu_conv_grad, convt_k4_s2_p1) {
    check_grads(&(Case){OP_CONVT, 2, 3, 3, 3, 4, 4, 2, 1, 1, true, "convT k4 s2 p1"});
}
Test(cpu_conv_grad, convt_k3_s2_odd) {
    check_grads(&(Case){OP_CONVT, 1, 3, 2, 2, 3, 3, 2, 0, 1, true, "convT k3 s2 p0"});
}

/* dw/db accumulate onto what they hold, dx is overwritten, and any subset of
 * gradients may be NULL without changing the others. The accumulated values
 * are pre + fresh computed exactly as the op does (one float add), so the
 * comparison needs only an ulp-level tolerance. */
static void check_semantics(const Case *t) {
    Bufs B = bufs_make(t, 21);
    float *dx0 = tu_alloc(B.nx), *dw0 = tu_alloc(B.nw), *db0 = tu_alloc(B.nb);
    float *dx = tu_alloc(B.nx), *dw = tu_alloc(B.nw), *db = tu_alloc(B.nb);
    float *want = tu_alloc(B.nw > B.nb ? B.nw : B.nb);
    run_bwd(&B, dx0, dw0, db0);
    double norm = 0;
    for (size_t i = 0; i < B.nw; i++) norm += fabs(dw0[i]);
    cr_assert(norm > 0, "%s: dw is all zero", t->name);

    for (size_t i = 0; i < B.nx; i++) dx[i] = 1e30f;
    for (size_t i = 0; i < B.nw; i++) dw[i] = 0.25f, want[i] = 0.25f + dw0[i];
    for (size_t i = 0; i < B.nb; i++) db[i] = -0.5f;
    run_bwd(&B, dx, dw, db);
    tu_assert_bytes_equal(dx, dx0, B.nx * sizeof(float), "dx is overwritten");
    tu_assert_close(dw, want, B.nw, 1e-6, 1e-7, "dw accumulates");
    for (size_t i = 0; i < B.nb; i++) want[i] = -0.5f + db0[i];
    tu_assert_close(db, want, B.nb, 1e-6, 1e-7, "db accumulates");

    /* NULL subsets */
    memset(dx, 0, B.nx * sizeof(float));
    run_bwd(&B, dx, NULL, NULL);
    tu_assert_bytes_equal(dx, dx0, B.nx * sizeof(float), "dx alone");
    memset(dw, 0, B.nw * sizeof(float));
    run_bwd(&B, NULL, dw, NULL);
    tu_assert_bytes_equal(dw, dw0, B.nw * sizeof(float), "dw alone");
    memset(db, 0, B.nb * sizeof(float));
    run_bwd(&B, NULL, NULL, db);
    tu_assert_bytes_equal(db, db0, B.nb * sizeof(float), "db alone");
    run_bwd(&B, NULL, NULL, NULL);

    free(dx0), free(dw0), free(db0), free(dx), free(dw), free(db), free(want);
    bufs_free(&B);
}

Test(cpu_conv_grad, accumulate_and_null_conv) {
    check_semantics(&(Case){OP_CONV, 2, 6, 5, 4, 6, 3, 2, 1, 2, true, "conv k3 g2"});
}
Test(cpu_conv_grad, accumulate_and_null_conv_1x1) {
    check_semantics(&(Case){OP_CONV, 2, 4, 4, 6, 5, 1, 1, 0, 1, true, "conv 1x1"});
}
Test(cpu_conv_grad, accumulate_and_null_dw) {
    check_semantics(&(Case){OP_DW, 2, 6, 6, 7, 7, 3, 1, 1, 0, true, "dw k3"});
}
Test(cpu_conv_grad, accumulate_and_null_convt) {
    check_semantics(&(Case){OP_CONVT, 2, 3, 3, 3, 4, 4, 2, 1, 1, true, "convT k4"});
}

/* ---- (4) bit-identical across thread counts ---- */

/* Shapes with several reduction chunks (> 2048 rows) and GEMM tiles. */
static void check_threads(const Case *t) {
    Bufs B = bufs_make(t, 99);
    float *y[3], *dx[3], *dw[3], *db[3];
    const int threads[3] = {1, 2, 3};
    for (int i = 0; i < 3; i++) {
        kthreads_set(threads[i]);
        y[i] = tu_alloc(B.ny), dx[i] = tu_alloc(B.nx), dw[i] = tu_alloc(B.nw);
        db[i] = tu_alloc(B.nb);
        for (size_t j = 0; j < B.nw; j++) dw[i][j] = 0.125f; /* exercise the += too */
        run_fwd(&B);
        memcpy(y[i], B.y, B.ny * sizeof(float));
        run_bwd(&B, dx[i], dw[i], db[i]);
    }
    kthreads_set(0);
    for (int i = 1; i < 3; i++) {
        char what[160];
        snprintf(what, sizeof what, "%s: y, 1 vs %d threads", t->name, threads[i]);
        tu_assert_bytes_equal(y[0], y[i], B.ny * sizeof(float), what);
        snprintf(what, sizeof what, "%s: dx, 1 vs %d threads", t->name, threads[i]);
        tu_assert_bytes_equal(dx[0], dx[i], B.nx * sizeof(float), what);
        snprintf(what, sizeof what, "%s: dw, 1 vs %d threads", t->name, threads[i]);
        tu_assert_bytes_equal(dw[0], dw[i], B.nw * sizeof(float), what);
        snprintf(what, sizeof what, "%s: db, 1 vs %d threads", t->name, threads[i]);
        tu_assert_bytes_equal(db[0], db[i], B.nb * sizeof(float), what);
    }
    for (int i = 0; i < 3; i++) free(y[i]), free(dx[i]), free(dw[i]), free(db[i]);
    bufs_free(&B);
}

Test(cpu_conv_threads, conv_k3_bit_identical) {
    check_threads(&(Case){OP_CONV, 8, 32, 32, 8, 16, 3, 1, 1, 1, true, "conv k3"});
}
Test(cpu_conv_threads, conv_groups_s2_bit_identical) {
    check_threads(&(Case){OP_CONV, 8, 33, 33, 8, 12, 3, 2, 1, 2, true, "conv k3 s2 g2"});
}
Test(cpu_conv_threads, conv_1x1_bit_identical) {
    check_threads(&(Case){OP_CONV, 8, 32, 32, 24, 80, 1, 1, 0, 1, true, "conv 1x1"});
}
Test(cpu_conv_threads, dw_bit_identical) {
    check_threads(&(Case){OP_DW, 8, 32, 32, 40, 40, 3, 1, 1, 0, true, "dw k3"});
    check_threads(&(Case){OP_DW, 16, 32, 32, 96, 96, 5, 2, 2, 0, true, "dw k5 s2"});
}
Test(cpu_conv_threads, convt_bit_identical) {
    check_threads(&(Case){OP_CONVT, 16, 16, 16, 16, 8, 4, 2, 1, 1, true, "convT k4 s2 p1"});
}
