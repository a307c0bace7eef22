/* kernels: the compute interface. One table of operations (KOps), one CPU
 * reference backend (kernels/cpu/) and a CUDA/cuDNN twin (kernels/cuda/).
 * models/ and harness/ only ever call through a KOps table; the backend is
 * chosen at run time (kops_get) and a missing backend is an error.
 *
 * Conventions for every op:
 *  - float32 everywhere; pointers are backend memory (host memory on CPU).
 *  - Image activations are NHWC (channels innermost): x[((n*H + h)*W + w)*C + c].
 *    Sequences are batch-major: x[(b*T + t)*ld + i] with a row stride ld >= width,
 *    so the two directions of a bidirectional RNN write halves of one buffer.
 *  - Weights use PyTorch layouts: linear (out,in); conv (cout, cin/groups, kh, kw);
 *    conv-transpose (cin, cout, kh, kw); LSTM gates stacked (i,f,g,o), GRU (r,z,n).
 *  - Forward ops OVERWRITE their outputs. Backward ops OVERWRITE activation
 *    gradients (dx) and ACCUMULATE (+=) parameter gradients (dw, db).
 *    Any gradient pointer may be NULL when it is not wanted.
 *  - Results are bit-identical for any thread count: every output element is
 *    written by one thread, and reductions run over fixed-size tiles combined
 *    in a fixed order.
 *  - Ops that need scratch memory take `ws`, sized by the matching *_ws query
 *    (in floats); nothing is allocated inside an op. */
#ifndef VB_KERNELS_H
#define VB_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rng.h"
#include "status.h"

typedef enum KAct {
    K_ACT_NONE = 0,
    K_ACT_RELU,
    K_ACT_SILU,
    K_ACT_LEAKY,
    K_ACT_SIGMOID,
    K_ACT_TANH
} KAct;
#define K_LEAKY_SLOPE 0.2f /* LeakyReLU slope used by the image VAE */

/* 2-D convolution geometry. Output size follows PyTorch:
 * oh = (h + 2*ph - kh)/sh + 1. For conv-transpose, (h,w) is the INPUT
 * size and oh = (h-1)*sh - 2*ph + kh. Filled by kconv_init/kconvt_init. */
typedef struct KConv {
    int n, h, w, cin;   /* input */
    int cout, kh, kw;   /* filter */
    int sh, sw, ph, pw; /* stride, padding */
    int groups;         /* cin and cout divisible by groups */
    int oh, ow;         /* output (derived) */
} KConv;
KConv kconv_init(int n, int h, int w, int cin, int cout, int k, int stride, int pad, int groups);
KConv kconvt_init(int n, int h, int w, int cin, int cout, int k, int stride, int pad);

/* Batch normalisation over `rows` rows of `c` channels (NHWC: rows = N*H*W;
 * BatchNorm1d: rows = batch). `mean`/`invstd` [c] are saved by the forward
 * for the backward. Activation `act` is fused after the affine transform. */
typedef struct KBn {
    int rows, c;
    float eps, momentum; /* running = (1-momentum)*running + momentum*batch;
                            running_var uses the unbiased batch variance */
    KAct act;
} KBn;

/* Max pooling over non-overlapping k×k windows with stride k, NHWC, no
 * padding, floor mode (PyTorch's MaxPool2d(k, k)): oh = h / k, ow = w / k.
 * Filled by kpool_init. */
typedef struct KPool {
    int n, h, w, c; /* input */
    int k;          /* window side = stride */
    int oh, ow;     /* output (derived) */
} KPool;
KPool kpool_init(int n, int h, int w, int c, int k);

/* Recurrent layer over a batch-major sequence, one direction. */
typedef struct KRnn {
    int b, t, in, hidden;
    int ldx, ldy; /* row strides (floats) of x [b,t,ldx] and y [b,t,ldy] */
    bool reverse; /* process t = T-1 .. 0 (PyTorch's *_reverse direction) */
} KRnn;

typedef struct KOps {
    const char *name; /* "cpu", "cuda" */

    /* ---- memory ---- */
    void *(*alloc)(size_t bytes); /* zero-filled, 64-byte aligned; NULL on failure */
    void (*free)(void *p);
    void (*upload)(void *dst, const void *host_src, size_t bytes);
    void (*download)(void *host_dst, const void *src, size_t bytes);
    void (*copy)(void *dst, const void *src, size_t bytes);
    void (*zero)(void *p, size_t bytes);
    void (*sync)(void);

    /* ---- dense algebra ---- */
    /* C[m,n] = alpha * op(A) op(B) + beta * C, row-major; op(A) is [m,k]. */
    void (*gemm)(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda,
                 const float *b, int ldb, float beta, float *c, int ldc);
    /* y[rows,out] = x[rows,in] W^T + b (b may be NULL). */
    void (*linear_fwd)(int rows, int in, int out, const float *x, const float *w, const float *b,
                       float *y);
    /* dx = dy W (overwrite), dw += dy^T x, db += sum_rows dy. */
    void (*linear_bwd)(int rows, int in, int out, const float *x, const float *w, const float *dy,
                       float *dx, float *dw, float *db);

    /* ---- convolution (NHWC) ---- */
    size_t (*conv2d_ws)(const KConv *c); /* floats of scratch for fwd and bwd */
    /* y[n,oh,ow,cout] = conv(x, w) + b. Any stride/padding/groups; depthwise
     * (groups == cin == cout) is routed to dwconv2d. */
    void (*conv2d_fwd)(const KConv *c, const float *x, const float *w, const float *b, float *y,
                       float *ws);
    void (*conv2d_bwd)(const KConv *c, const float *x, const float *w, const float *dy, float *dx,
                       float *dw, float *db, float *ws);
    /* Depthwise: w [c,1,kh,kw], vectorised over channels. No scratch. */
    void (*dwconv2d_fwd)(const KConv *c, const float *x, const float *w, const float *b, float *y);
    void (*dwconv2d_bwd)(const KConv *c, const float *x, const float *w, const float *dy, float *dx,
                         float *dw, float *db);
    /* Transposed conv (groups 1): x [n,h,w,cin], w [cin,cout,kh,kw],
     * y [n,oh,ow,cout]. */
    size_t (*convt2d_ws)(const KConv *c);
    void (*convt2d_fwd)(const KConv *c, const float *x, const float *w, const float *b, float *y,
                        float *ws);
    void (*convt2d_bwd)(const KConv *c, const float *x, const float *w, const float *dy, float *dx,
                        float *dw, float *db, float *ws);

    /* ---- normalisation ---- */
    /* Training: batch statistics; saves mean/invstd [c]; updates running
     * stats when update_running (SAM's second pass leaves them alone). */
    void (*bn_train_fwd)(const KBn *p, const float *x, const float *gamma, const float *beta,
                         float *run_mean, float *run_var, bool update_running, float *mean,
                         float *invstd, float *y);
    /* Evaluation: running statistics. */
    void (*bn_eval_fwd)(const KBn *p, const float *x, const float *gamma, const float *beta,
                        const float *run_mean, const float *run_var, float *y);
    /* Backward of bn_train_fwd (with its fused activation, recomputed from
     * x): dx overwrite, dgamma/dbeta accumulate. dx may alias dy. */
    void (*bn_train_bwd)(const KBn *p, const float *x, const float *gamma, const float *beta,
                         const float *mean, const float *invstd, const float *dy, float *dx,
                         float *dgamma, float *dbeta);
    /* Backward of bn_eval_fwd (frozen statistics). */
    void (*bn_eval_bwd)(const KBn *p, const float *x, const float *gamma, const float *beta,
                        const float *run_mean, const float *run_var, const float *dy, float *dx,
                        float *dgamma, float *dbeta);

    /* ---- elementwise ---- */
    /* y = act(x), y may alias x. */
    void (*act_fwd)(KAct act, size_t n, const float *x, float *y);
    /* dx = dy * act'(x); x is the activation's INPUT. dx may alias dy. */
    void (*act_bwd)(KAct act, size_t n, const float *x, const float *dy, float *dx);
    /* y = x * mask (mask from rng_fill_dropout: 0 or 1/(1-p)); y may alias x.
     * The backward is the same call on gradients. */
    void (*mul)(size_t n, const float *x, const float *mask, float *y);
    void (*axpy)(size_t n, float a, const float *x, float *y);       /* y += a x */
    void (*scale)(size_t n, float a, float *x);                      /* x *= a */
    void (*add)(size_t n, const float *a, const float *b, float *y); /* y = a + b */
    /* y[r, :] = s[r] * x[r, :] for rows x cols; y may alias x. */
    void (*row_scale)(int rows, int cols, const float *s, const float *x, float *y);
    /* y[r, :] = mean over g consecutive rows of x (x [rows*g, cols] -> y [rows, cols]). */
    void (*group_mean_fwd)(int rows, int g, int cols, const float *x, float *y);
    /* dx[r*g + j, :] = dy[r, :] / g (overwrite). */
    void (*group_mean_bwd)(int rows, int g, int cols, const float *dy, float *dx);

    /* ---- pooling and squeeze-excitation (NHWC, x [n,hw,c]) ---- */
    void (*gap_fwd)(int n, int hw, int c, const float *x, float *y);   /* y[n,c] = mean */
    void (*gap_bwd)(int n, int hw, int c, const float *dy, float *dx); /* dx = dy/hw */
    /* SE: s = gap(x); r = silu(s W1^T + b1) [n,cr]; g = sigmoid(r W2^T + b2);
     * y = x * g. Saves s [n,c], r_pre [n,cr], g [n,c] in `save`
     * (size n*(2c+cr) floats). w1 [cr,c], w2 [c,cr]. y must not alias x. */
    void (*se_fwd)(int n, int hw, int c, int cr, const float *x, const float *w1, const float *b1,
                   const float *w2, const float *b2, float *save, float *y);
    /* dx overwrite (must not alias dy); dw*, db* accumulate. `ws`: n*(c+cr) floats. */
    void (*se_bwd)(int n, int hw, int c, int cr, const float *x, const float *w1, const float *b1,
                   const float *w2, const float *b2, const float *save, const float *dy, float *dx,
                   float *dw1, float *db1, float *dw2, float *db2, float *ws);

    /* ---- max pooling, LeakyReLU slope, upsampling (LeNet and its decoder) ---- */
    /* y [n,oh,ow,c] = max over each k×k window of x [n,h,w,c]; the first
     * maximum in row-major window order wins (a NaN wins, as in PyTorch). */
    void (*maxpool_fwd)(const KPool *p, const float *x, float *y);
    /* dx [n,h,w,c] (overwrite): dy routed to each window's maximum (found
     * again from x), 0 elsewhere. */
    void (*maxpool_bwd)(const KPool *p, const float *x, const float *dy, float *dx);
    /* y = x < 0 ? slope*x : x on n values; y may alias x. (K_ACT_LEAKY is
     * the fixed slope K_LEAKY_SLOPE fused into BN; this is any slope.) */
    void (*leaky_fwd)(size_t n, float slope, const float *x, float *y);
    /* dx = dy * (x > 0 ? 1 : slope), x the activation's input; dx may alias dy. */
    void (*leaky_bwd)(size_t n, float slope, const float *x, const float *dy, float *dx);
    /* Nearest upsampling by an integer factor s (F.interpolate(scale_factor=s)):
     * x [n,h,w,c] -> y [n,h*s,w*s,c]. */
    void (*upsample_fwd)(int n, int h, int w, int c, int s, const float *x, float *y);
    /* dx [n,h,w,c] = sum of dy [n,h*s,w*s,c] over each pixel's s×s copies (overwrite). */
    void (*upsample_bwd)(int n, int h, int w, int c, int s, const float *dy, float *dx);

    /* ---- recurrent layers (one direction) ---- */
    /* LSTM: w_ih [4H,in], w_hh [4H,H], b_ih, b_hh [4H]; h0 = c0 = 0.
     * save: b*t*6H floats (gates i,f,g,o after activation, c_t, tanh(c_t)). */
    size_t (*lstm_save)(const KRnn *r);
    size_t (*lstm_ws)(const KRnn *r);
    void (*lstm_fwd)(const KRnn *r, const float *x, const float *w_ih, const float *w_hh,
                     const float *b_ih, const float *b_hh, float *y, float *save, float *ws);
    /* dy [b,t,ldy] -> dx [b,t,ldx] (overwrite the `in` columns), weight grads accumulate. */
    void (*lstm_bwd)(const KRnn *r, const float *x, const float *w_ih, const float *w_hh,
                     const float *y, const float *save, const float *dy, float *dx, float *dw_ih,
                     float *dw_hh, float *db_ih, float *db_hh, float *ws);
    /* GRU: gates (r,z,n), w_ih [3H,in], w_hh [3H,H]; h0 = 0. */
    size_t (*gru_save)(const KRnn *r);
    size_t (*gru_ws)(const KRnn *r);
    void (*gru_fwd)(const KRnn *r, const float *x, const float *w_ih, const float *w_hh,
                    const float *b_ih, const float *b_hh, float *y, float *save, float *ws);
    void (*gru_bwd)(const KRnn *r, const float *x, const float *w_ih, const float *w_hh,
                    const float *y, const float *save, const float *dy, float *dx, float *dw_ih,
                    float *dw_hh, float *db_ih, float *db_hh, float *ws);

    /* ---- attention pooling over time ----
     * h [b,t,d]; u = tanh(h W1^T + b1) [b,t,a]; e = u w2^T + b2 [b,t];
     * alpha = softmax_t(e); y[b,d] = sum_t alpha h. save: b*t*(a+1) floats
     * (u, alpha). w1 [a,d], w2 [1,a], b2 [1]. ws: b*t*(a+1) floats. */
    void (*attn_fwd)(int b, int t, int d, int a, const float *h, const float *w1, const float *b1,
                     const float *w2, const float *b2, float *save, float *y);
    void (*attn_bwd)(int b, int t, int d, int a, const float *h, const float *w1, const float *w2,
                     const float *save, const float *dy, float *dh, float *dw1, float *db1,
                     float *dw2, float *db2, float *ws);

    /* ---- softmax family over the last dim of [rows, n] ---- */
    void (*softmax_fwd)(int rows, int n, const float *x, float *y);
    void (*softmax_bwd)(int rows, int n, const float *y, const float *dy, float *dx);
    void (*log_softmax_fwd)(int rows, int n, const float *x, float *y);
    void (*log_softmax_bwd)(int rows, int n, const float *y, const float *dy, float *dx);

    /* ---- layout and VAE helpers ---- */
    /* y [n,c,h,w] = x [n,h,w,c] and the inverse (for PyTorch-ordered flattening). */
    void (*nhwc_to_nchw)(int n, int h, int w, int c, const float *x, float *y);
    void (*nchw_to_nhwc)(int n, int h, int w, int c, const float *x, float *y);
    /* y[r, j] = a[j] * x[r, j] + b[j] for rows x c (a, b backend arrays [c]). */
    void (*chan_affine)(int rows, int c, const float *a, const float *b, const float *x, float *y);
    /* z = mu + eps * exp(logvar / 2) */
    void (*reparam_fwd)(size_t n, const float *mu, const float *logvar, const float *eps, float *z);
    /* dmu = dz, dlogvar = dz * eps * exp(logvar/2) / 2 (overwrite) */
    void (*reparam_bwd)(size_t n, const float *logvar, const float *eps, const float *dz,
                        float *dmu, float *dlogvar);
    /* Per row r of [rows, d] / [rows, latent]: mse[r] = mean_j (recon - target)^2,
     * kl[r] = -1/2 sum_j (1 + logvar - mu^2 - exp(logvar)). Overwrite. */
    void (*vae_terms)(int rows, int d, int latent, const float *recon, const float *target,
                      const float *mu, const float *logvar, float *mse, float *kl);
    /* Gradients of sum_r (wm[r] * mse[r] + wk[r] * kl[r]): drecon overwrite,
     * dmu and dlogvar ACCUMULATE. wm, wk are backend arrays [rows]. */
    void (*vae_terms_bwd)(int rows, int d, int latent, const float *recon, const float *target,
                          const float *mu, const float *logvar, const float *wm, const float *wk,
                          float *drecon, float *dmu, float *dlogvar);

    /* out[r] = ||x[r,:] - c||^2 for x [rows, d], c [d] (Deep SVDD score). */
    void (*sqdist_fwd)(int rows, int d, const float *x, const float *c, float *out);
    /* dx[r,:] = 2 w[r] (x[r,:] - c) (overwrite). */
    void (*sqdist_bwd)(int rows, int d, const float *x, const float *c, const float *w, float *dx);

    /* ---- optimiser ---- */
    /* PyTorch's AdamW on n values: p -= lr*wd*p; m = b1 m + (1-b1) g;
     * v = b2 v + (1-b2) g^2; p -= (lr/bc1) * m / (sqrt(v)/sqrt(bc2) + eps),
     * bc_i = 1 - b_i^step. */
    void (*adamw)(size_t n, float lr, float b1, float b2, float eps, float wd, int64_t step,
                  float *p, const float *g, float *m, float *v);

    /* ---- noise (counter RNG: identical numbers on every backend) ---- */
    /* mask[i] = 0 with probability p else 1/(1-p), element index i. */
    void (*fill_dropout)(RngStream s, uint64_t step, size_t n, float p, float *mask);
    /* x[i] = standard normal, element index i. */
    void (*fill_normal)(RngStream s, uint64_t step, size_t n, float *x);

    /* ---- reductions (fixed-order, results in double on the host) ---- */
    double (*sum)(size_t n, const float *x);
    double (*sumsq)(size_t n, const float *x);
    /* y[c] = sum over rows of x[rows,c] (overwrite, or += when accumulate). */
    void (*col_sum)(int rows, int c, const float *x, float *y, bool accumulate);
    /* true when every value is finite */
    bool (*all_finite)(size_t n, const float *x);
} KOps;

/* The CPU backend (always built). */
const KOps *kops_cpu(void);
/* The backends, and their names on the command line and in experiment files
 * (indexed by KBackend, NULL-terminated). */
typedef enum KBackend { K_BACKEND_CPU = 0, K_BACKEND_CUDA } KBackend;
extern const char *const kbackend_names[];
/* The backend's table; NULL with a message (vb_errmsg) when it was not
 * compiled in or no device is usable. */
const KOps *kops_get(KBackend b);
/* Whether the CUDA backend was compiled into this binary. */
bool kops_cuda_compiled(void);

/* Threads used by the CPU backend: --threads / VADBENCH_THREADS, default all
 * cores. Results never depend on it. */
void kthreads_set(int n);
int kthreads_get(void);

#endif
