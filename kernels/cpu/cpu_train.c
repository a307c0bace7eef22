/* cpu_train: the CPU backend's training-step helpers whose results stay in
 * backend memory (the batch loss of kernels/kloss.h, gradient clipping,
 * SAM's ascent), and its state queries: precision (fp32 only), status
 * (ops cannot fail here), device information (none), memory, and timing
 * marks (a monotonic clock read; CPU ops are synchronous).
 *
 * The loss runs kloss_sample per sample, then kloss_finish, on one thread:
 * the batch is tens of rows and the CUDA backend sums in the same order. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cpu_internal.h"
#include "kernels/kloss.h"

static void cpu_loss(const KLoss *c, const float *tgt, const double *class_alpha, const float *cls,
                     const float *bin, const float *score, const float *mse, const float *kl,
                     float *g_cls, float *g_bin, float *g_w, float *g_wm, float *g_wk,
                     double *parts) {
    VB_ASSERT(c->b >= 1 && c->classes >= 2 && c->classes <= KLOSS_MAX_C && c->rows >= 1);
    double *contrib = vb_xmalloc((size_t)c->b * 3 * sizeof(double));
    for (int i = 0; i < c->b; i++)
        kloss_sample(c, tgt + (size_t)i * K_TGT, class_alpha, cls + (size_t)i * c->classes,
                     bin + 2 * (size_t)i, g_cls + (size_t)i * c->classes, g_bin + 2 * (size_t)i,
                     contrib + 3 * (size_t)i);
    kloss_finish(c, tgt, contrib, score, mse, kl, g_w, g_wm, g_wk, parts);
    free(contrib);
}

static void cpu_grad_norm(size_t n, const float *g, double *norm) {
    norm[0] = sqrt(kops_cpu()->sumsq(n, g));
}

static void cpu_sam_perturb(size_t n, double rho, bool adaptive, float *p, const float *g, float *e,
                            float *tmp, double *norm) {
    const KOps *k = kops_cpu();
    double nv;
    if (adaptive) {
        k->mul(n, p, g, tmp); /* |p|·g up to sign: p·g */
        nv = sqrt(k->sumsq(n, tmp));
    } else {
        nv = sqrt(k->sumsq(n, g));
    }
    norm[0] = nv;
    if (!(nv > 0) || !isfinite(nv)) {
        k->zero(e, n * sizeof(float));
        return;
    }
    if (adaptive) k->mul(n, p, tmp, e); /* p²·g */
    else k->copy(e, g, n * sizeof(float));
    k->scale(n, (float)(rho / (nv + 1e-12)), e);
    k->axpy(n, 1.0f, e, p);
}

static VbStatus cpu_set_precision(KPrecision p) {
    if (p == K_PREC_FP32) return VB_OK;
    return vb_fail_plain(VB_ERR_USAGE, "train.precision bf16 needs the cuda backend (the cpu "
                                       "backend computes in fp32 only)");
}

static VbStatus cpu_status(void) { return VB_OK; }

static void cpu_info(KInfo *out) { memset(out, 0, sizeof *out); }

static void cpu_mem_info(size_t *free_bytes, size_t *total_bytes) {
    long page = sysconf(_SC_PAGESIZE), avail = sysconf(_SC_AVPHYS_PAGES),
         total = sysconf(_SC_PHYS_PAGES);
    *free_bytes = page > 0 && avail > 0 ? (size_t)page * (size_t)avail : 0;
    *total_bytes = page > 0 && total > 0 ? (size_t)page * (size_t)total : 0;
}

static void *cpu_timer_new(void) { return calloc(1, sizeof(struct timespec)); }
static void cpu_timer_free(void *t) { free(t); }
static void cpu_timer_mark(void *t) { clock_gettime(CLOCK_MONOTONIC, (struct timespec *)t); }
static double cpu_timer_ms(void *a, void *b) {
    const struct timespec *x = a, *y = b;
    return (double)(y->tv_sec - x->tv_sec) * 1e3 + (double)(y->tv_nsec - x->tv_nsec) / 1e6;
}

void cpu_register_train(KOps *k) {
    k->loss = cpu_loss;
    k->grad_norm = cpu_grad_norm;
    k->sam_perturb = cpu_sam_perturb;
    k->set_precision = cpu_set_precision;
    k->status = cpu_status;
    k->info = cpu_info;
    k->mem_info = cpu_mem_info;
    k->timer_new = cpu_timer_new;
    k->timer_free = cpu_timer_free;
    k->timer_mark = cpu_timer_mark;
    k->timer_ms = cpu_timer_ms;
}
