/* gemm: the driver of the CPU backend's SGEMM (numerics and contract in
 * gemm.h) — packing op(B) into panels, cutting C into tasks for threads and
 * each task into micro-tiles for the active path's kernel, K blocks, the
 * packed-weight registry and the grow-only scratch buffers.
 *
 * Blocking never changes results: a micro-tile continues each element's FMA
 * chain across K blocks through C (beta == 0) or takes all of K at once
 * (beta != 0, where the epilogue needs C's old value). Tasks are (row block,
 * column block) pairs; any assignment of tasks to threads gives the same
 * bits, so the schedule is dynamic (it balances when cores are shared).
 *
 * Not for: arguments gemm.h rules out; registry changes while ops run. */
#include "gemm.h"

#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum {
    GEMM_KC = 256,          /* depth of one K block (beta == 0) */
    GEMM_ROW_TILES = 8,     /* micro-tiles of rows per task */
    GEMM_NB_MAX = 512,      /* columns per task at most */
    GEMM_TASKS_PER = 4,     /* tasks per thread wanted when splitting columns */
    GEMM_PAR_MIN = 1 << 17, /* m*n*k below which a product stays on one thread */
    GEMM_ROWS_N = 64,       /* products at most this wide read A in place */
};

static inline int imin(int a, int b) { return a < b ? a : b; }
static inline int imax(int a, int b) { return a > b ? a : b; }
static inline int cdiv(int a, int b) { return (a + b - 1) / b; }

/* ---- scratch ---- */

static __thread float *tls_buf[2];
static __thread size_t tls_cap[2];
static float *shared_buf[2];
static size_t shared_cap[2];

static float *grow(float **buf, size_t *cap, size_t floats) {
    if (floats > *cap) {
        size_t want = floats + floats / 4 + 64;
        free(*buf);
        *buf = aligned_alloc(64, (want * sizeof(float) + 63) & ~(size_t)63);
        VB_ASSERT(*buf != NULL);
        *cap = want;
    }
    return *buf;
}

float *cpu_tls_scratch(int slot, size_t floats) {
    VB_ASSERT(slot >= 0 && slot < 2);
    return grow(&tls_buf[slot], &tls_cap[slot], floats);
}

float *cpu_shared_scratch(int slot, size_t floats) {
    VB_ASSERT(slot >= 0 && slot < 2);
    return grow(&shared_buf[slot], &shared_cap[slot], floats);
}

/* ---- packing ---- */

size_t gemm_pack_floats(int k, int n) {
    return (size_t)cdiv(n > 0 ? n : 0, GEMM_NR) * (size_t)(k > 0 ? k : 0) * GEMM_NR;
}

/* Panel q of op(B) into dst + q*k*GEMM_NR. */
static void pack_panel(bool tb, int k, int n, const float *b, int ldb, int q, float *dst) {
    const int j0 = q * GEMM_NR, w = imin(GEMM_NR, n - j0);
    float *d = dst + (size_t)q * k * GEMM_NR;
    if (!tb) {
        for (int p = 0; p < k; p++) {
            float *dp = d + (size_t)p * GEMM_NR;
            const float *s = b + (size_t)p * ldb + j0;
            if (w == GEMM_NR) {
                for (int jj = 0; jj < GEMM_NR; jj++) dp[jj] = s[jj];
            } else {
                for (int jj = 0; jj < w; jj++) dp[jj] = s[jj];
                for (int jj = w; jj < GEMM_NR; jj++) dp[jj] = 0.0f;
            }
        }
        return;
    }
    cpu_vec()->transpose(b + (size_t)j0 * ldb, (size_t)ldb, w, GEMM_NR, k, d, GEMM_NR);
}

void gemm_pack(bool tb, int k, int n, const float *b, int ldb, float *dst) {
    for (int q = 0; q < cdiv(n, GEMM_NR); q++) pack_panel(tb, k, n, b, ldb, q, dst);
}

void gemm_pack_team(bool tb, int k, int n, const float *b, int ldb, float *dst) {
    const int np = cdiv(n, GEMM_NR);
#pragma omp for schedule(static)
    for (int q = 0; q < np; q++) pack_panel(tb, k, n, b, ldb, q, dst);
}

/* ---- FLOP counter (kcpu_flops) ---- */

static uint64_t g_flops;
void cpu_count_flops(double flops) {
    __atomic_fetch_add(&g_flops, (uint64_t)flops, __ATOMIC_RELAXED);
}
uint64_t kcpu_flops(void) { return __atomic_load_n(&g_flops, __ATOMIC_RELAXED); }

/* ---- the packed product ---- */

typedef struct GemmJob {
    const CpuVec *v;
    bool ta;
    int m, n, k, lda, ldc;
    float alpha, beta;
    const float *a, *P, *bias;
    float *c;
    int mr, nv, kc; /* micro-tile rows, panels; K block */
    bool rows;      /* narrow product: A read in place row by row, never packed */
    int mb, nb;     /* task rows and columns */
} GemmJob;

static GemmJob job_make(bool ta, int m, int n, int k, float alpha, const float *a, int lda,
                        const float *P, float beta, float *c, int ldc, const float *bias, int nth) {
    GemmJob g = {cpu_vec(), ta,   m, n, k, lda, ldc,   alpha, beta, a,
                 P,         bias, c, 0, 0, 0,   false, 0,     0};
    /* at most GEMM_ROWS_N columns each element of A is used by at most four
     * panels: packing it would cost as much as the arithmetic */
    g.rows = !ta && n <= GEMM_ROWS_N;
    if (g.rows) g.v->gemm_plan_rows(m, n, &g.mr, &g.nv);
    else g.v->gemm_plan(m, &g.mr, &g.nv);
    g.kc = beta != 0.0f ? imax(k, 1) : imin(GEMM_KC, imax(k, 1));
    const int ncol = GEMM_NR * g.nv;
    g.mb = g.mr * GEMM_ROW_TILES;
    int rb = cdiv(m, g.mb), cb = cdiv(n, GEMM_NB_MAX);
    if (nth > 1 && rb * cb < GEMM_TASKS_PER * nth) cb = imax(cb, cdiv(GEMM_TASKS_PER * nth, rb));
    g.nb = imax(ncol, cdiv(cdiv(n, cb), ncol) * ncol);
    return g;
}

static int job_tasks(const GemmJob *g) { return cdiv(g->m, g->mb) * cdiv(g->n, g->nb); }

/* k == 0: every chain is +0, then the epilogue. */
static void job_k0(const GemmJob *g, int i0, int i1, int j0, int j1) {
    for (int i = i0; i < i1; i++)
        for (int j = j0; j < j1; j++) {
            float *cp = g->c + (size_t)i * g->ldc + j;
            float o = g->alpha * 0.0f;
            if (g->beta != 0.0f) o = fmaf(g->beta, *cp, o);
            if (g->bias) o = o + g->bias[j];
            *cp = o;
        }
}

static void run_task(const GemmJob *g, int task) {
    const int ncb = cdiv(g->n, g->nb);
    const int i0 = task / ncb * g->mb, i1 = imin(g->m, i0 + g->mb);
    const int j0 = task % ncb * g->nb, j1 = imin(g->n, j0 + g->nb);
    if (g->k == 0) {
        job_k0(g, i0, i1, j0, j1);
        return;
    }
    float *abuf = NULL;
    GemmTile t = {.ldc = g->ldc, .alpha = g->alpha, .beta = g->beta, .bps = (size_t)g->k * GEMM_NR};
    for (int p0 = 0; p0 < g->k; p0 += g->kc) {
        t.kc = imin(g->kc, g->k - p0);
        t.first = p0 == 0;
        t.last = p0 + t.kc == g->k;
        for (int i = i0; i < i1; i += g->mr) {
            t.mr = imin(g->mr, i1 - i);
            t.rows = false;
            if (g->ta) { /* op(A)[i,p] = a[p*lda + i]: used in place */
                t.a = g->a + (size_t)p0 * g->lda + i;
                t.as = g->lda;
            } else if (g->rows) { /* op(A)[i,p] = a[i*lda + p], row by row in place */
                t.a = g->a + (size_t)i * g->lda + p0;
                t.as = g->lda;
                t.rows = true;
            } else if (t.mr == 1) {
                t.a = g->a + (size_t)i * g->lda + p0;
                t.as = 1;
            } else {
                if (!abuf) abuf = cpu_tls_scratch(0, (size_t)g->mr * g->kc);
                const float *s = g->a + (size_t)i * g->lda + p0;
                for (int r0 = 0; r0 < t.mr; r0 += 16) { /* 16 rows per transpose */
                    const int rr = imin(16, t.mr - r0);
                    g->v->transpose(s + (size_t)r0 * g->lda, (size_t)g->lda, rr, rr, t.kc,
                                    abuf + r0, t.mr);
                }
                t.a = abuf, t.as = t.mr;
            }
            for (int j = j0; j < j1;) {
                int nv = g->nv, left = j1 - j;
                while (nv > 1 && nv > cdiv(left, GEMM_NR)) nv /= 2; /* read no panel past n */
                t.nr = imin(nv * GEMM_NR, left);
                t.b = g->P + (size_t)(j / GEMM_NR) * t.bps + (size_t)p0 * GEMM_NR;
                t.c = g->c + (size_t)i * g->ldc + j;
                t.bias = g->bias ? g->bias + j : NULL;
                g->v->gemm_tile(&t, nv);
                j += nv * GEMM_NR;
            }
        }
    }
}

void gemm_packed_st(bool ta, int m, int n, int k, float alpha, const float *a, int lda,
                    const float *P, float beta, float *c, int ldc, const float *bias) {
    if (m <= 0 || n <= 0) return;
    cpu_count_flops(2.0 * m * n * k);
    GemmJob g = job_make(ta, m, n, k, alpha, a, lda, P, beta, c, ldc, bias, 1);
    const int nt = job_tasks(&g);
    for (int t = 0; t < nt; t++) run_task(&g, t);
}

void gemm_packed_team(bool ta, int m, int n, int k, float alpha, const float *a, int lda,
                      const float *P, float beta, float *c, int ldc, const float *bias) {
    if (m <= 0 || n <= 0) return;
    if (omp_get_thread_num() == 0) cpu_count_flops(2.0 * m * n * k);
    GemmJob g = job_make(ta, m, n, k, alpha, a, lda, P, beta, c, ldc, bias, omp_get_num_threads());
    const int nt = job_tasks(&g);
#pragma omp for schedule(dynamic, 1)
    for (int t = 0; t < nt; t++) run_task(&g, t);
}

/* ---- whole products ---- */

static const float *weight_pack(bool tb, int k, int n, const float *b, int ldb, bool weight) {
    return weight && tb && ldb == k ? gemm_lookup(b, k, n) : NULL;
}

void gemm_st(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda,
             const float *b, int ldb, float beta, float *c, int ldc, const float *bias,
             bool weight) {
    if (m <= 0 || n <= 0) return;
    const float *P = weight_pack(tb, k, n, b, ldb, weight);
    if (!P && k > 0) {
        float *buf = cpu_tls_scratch(1, gemm_pack_floats(k, n));
        gemm_pack(tb, k, n, b, ldb, buf);
        P = buf;
    }
    gemm_packed_st(ta, m, n, k, alpha, a, lda, P, beta, c, ldc, bias);
}

static float *g_team_P; /* the team's packed B (set in `omp single`) */

void gemm_team(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda,
               const float *b, int ldb, float beta, float *c, int ldc, const float *bias,
               bool weight) {
    if (m <= 0 || n <= 0) return;
    const float *P = weight_pack(tb, k, n, b, ldb, weight);
    if (!P && k > 0) {
#pragma omp single
        g_team_P = cpu_shared_scratch(1, gemm_pack_floats(k, n));
        gemm_pack_team(tb, k, n, b, ldb, g_team_P);
        P = g_team_P;
    }
    gemm_packed_team(ta, m, n, k, alpha, a, lda, P, beta, c, ldc, bias);
}

void gemm_par(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda,
              const float *b, int ldb, float beta, float *c, int ldc, const float *bias,
              bool weight) {
    if (m <= 0 || n <= 0) return;
    const int nth = kthreads_get();
    if (nth <= 1 || (double)m * n * (k > 0 ? k : 1) < GEMM_PAR_MIN || omp_in_parallel()) {
        gemm_st(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, bias, weight);
        return;
    }
    const float *P = weight_pack(tb, k, n, b, ldb, weight);
    float *buf = P || k <= 0 ? NULL : cpu_shared_scratch(0, gemm_pack_floats(k, n));
#pragma omp parallel num_threads(nth)
    {
        if (buf) gemm_pack_team(tb, k, n, b, ldb, buf);
        gemm_packed_team(ta, m, n, k, alpha, a, lda, buf ? buf : P, beta, c, ldc, bias);
    }
}

/* ---- packed-weight registry: open addressing on the weight's address ---- */

typedef struct RegEntry {
    const float *w;
    int k, n;
    float *dst;
} RegEntry;

static RegEntry *g_reg;
static int g_reg_cap, g_reg_n;

static size_t reg_slot(const float *w, int cap) {
    uint64_t h = (uint64_t)(uintptr_t)w * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 20) & (size_t)(cap - 1);
}

static void reg_insert(RegEntry e) {
    size_t s = reg_slot(e.w, g_reg_cap);
    while (g_reg[s].w && g_reg[s].w != e.w) s = (s + 1) & (size_t)(g_reg_cap - 1);
    if (!g_reg[s].w) g_reg_n++;
    g_reg[s] = e;
}

static void reg_rebuild(int cap) {
    RegEntry *old = g_reg;
    int oldcap = g_reg_cap;
    g_reg = vb_xcalloc((size_t)cap, sizeof *g_reg);
    g_reg_cap = cap, g_reg_n = 0;
    for (int i = 0; i < oldcap; i++)
        if (old[i].w) reg_insert(old[i]);
    free(old);
}

void gemm_register(const float *w, int rows, int cols, float *dst) {
    VB_ASSERT(!omp_in_parallel());
    if (2 * (g_reg_n + 1) > g_reg_cap) reg_rebuild(g_reg_cap ? 2 * g_reg_cap : 256);
    gemm_pack(true, cols, rows, w, cols, dst);
    reg_insert((RegEntry){w, cols, rows, dst});
}

void gemm_unregister_range(const void *lo, const void *hi) {
    VB_ASSERT(!omp_in_parallel());
    bool any = false;
    for (int i = 0; i < g_reg_cap; i++)
        if (g_reg[i].w && (const void *)g_reg[i].w >= lo && (const void *)g_reg[i].w < hi) {
            g_reg[i].w = NULL;
            any = true;
        }
    if (any) reg_rebuild(g_reg_cap);
}

const float *gemm_lookup(const float *w, int k, int n) {
    if (!g_reg_n) return NULL;
    size_t s = reg_slot(w, g_reg_cap);
    while (g_reg[s].w) {
        if (g_reg[s].w == w) return g_reg[s].k == k && g_reg[s].n == n ? g_reg[s].dst : NULL;
        s = (s + 1) & (size_t)(g_reg_cap - 1);
    }
    return NULL;
}
