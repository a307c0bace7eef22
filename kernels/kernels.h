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

/* Numeric mode of a backend (train.precision): fp32 everywhere, or bf16
 * convolutions and GEMMs (inputs rounded to bfloat16, fp32 accumulation and
 * outputs) while parameters (the master weights), BatchNorm statistics,
 * losses, RNN state and softmax stay fp32. */
typedef enum KPrecision { K_PREC_FP32 = 0, K_PREC_BF16 } KPrecision;
extern const char *const kprecision_names[]; /* "fp32", "bf16", NULL */

/* The training objective of one batch (MODEL_SPEC §4; models/losses.h has
 * the formulas): focal loss on the class logits, binary cross-entropy, Deep
 * SVDD on the scores, VAE terms per frame. Targets are per-sample rows of
 * K_TGT floats: class a, class b, anomaly a, anomaly b (0/1), lambda (the
 * sample is lambda*(a) + (1-lambda)*(b); no mixing: b = a, lambda = 1). */
#define K_TGT 5
#define K_LOSS_PARTS 5 /* parts[]: total, classification, binary, svdd, vae */
typedef struct KLoss {
    int b, classes;
    int rows; /* VAE frames (b*t) */
    bool has_vae;
    double gamma, alpha, smoothing;
    double w_cls, w_bin, w_svdd, w_vae, vae_beta;
    int svdd_mode; /* 0 supervised, 1 one-class, 2 soft-boundary */
    double svdd_nu, svdd_r2;
    bool svdd_on; /* the SVDD term counts (centre set, weight > 0) */
} KLoss;

/* What a backend runs on, for run provenance ("" where it does not apply). */
typedef struct KInfo {
    char device[320];    /* e.g. "NVIDIA H200 (sm_90, 132 SMs, 140.4 GiB)" */
    char driver[64];     /* e.g. "580.159.04 (CUDA 13.0)" */
    char libraries[256]; /* e.g. "CUDA runtime 13.0, cuBLAS 13.1.0, cuDNN 9.19.0" */
} KInfo;

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

    /* ---- packed weights (optional: NULL on backends without them) ----
     * While weights stay fixed (evaluation, inference) a model can hand each
     * weight W [rows, cols] (PyTorch's [out, in]) to the backend once:
     * pack_weight keeps W^T in the backend's GEMM layout in `dst`
     * (pack_floats(rows, cols) floats of backend memory, 64-byte aligned,
     * owned by the caller), and every later forward op that multiplies by W
     * (linear, 1x1 conv, SE, LSTM/GRU, attention; same pointer and shape)
     * uses that copy instead of packing W per call. The weight must not
     * change while packed: unpack_weights forgets every packed weight whose
     * address lies in [lo, hi) — call it before changing or freeing them. */
    size_t (*pack_floats)(int rows, int cols);
    void (*pack_weight)(const float *w, int rows, int cols, float *dst);
    void (*unpack_weights)(const void *lo, const void *hi);

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
    /* y = x * g again from se_fwd's `save` (bit for bit its y), so a model need
     * not keep y for its backward. y must not alias x. */
    void (*se_scale)(int n, int hw, int c, int cr, const float *x, const float *save, float *y);
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
    /* PyTorch's AdamW on n values with clip_grad_norm_ fused: g' = g*c, where
     * c = k_clip_coef(grad_norm[0], max_norm) (kmath.h: max_norm/(norm + 1e-6)
     * rounded to float when max_norm > 0 and that is < 1, else 1) and
     * grad_norm is backend memory holding ||g|| as grad_norm() computes it
     * (NULL: c = 1); g itself is left alone, and g*c is the product a separate
     * scale would have stored. p -= lr*wd*p; m = b1 m + (1-b1) g';
     * v = b2 v + (1-b2) g'^2; p -= (lr/bc1) * m / (sqrt(v)/sqrt(bc2) + eps),
     * bc_i = 1 - b_i^step. */
    void (*adamw)(size_t n, float lr, float b1, float b2, float eps, float wd, int64_t step,
                  const double *grad_norm, double max_norm, float *p, const float *g, float *m,
                  float *v);

    /* ---- noise (counter RNG: identical numbers on every backend) ---- */
    /* mask[i] = 0 with probability p else 1/(1-p), element index i. */
    void (*fill_dropout)(RngStream s, uint64_t step, size_t n, float p, float *mask);
    /* x[i] = standard normal, element index i. */
    void (*fill_normal)(RngStream s, uint64_t step, size_t n, float *x);

    /* ---- training-step helpers whose results stay in backend memory ----
     * (so that a step needs no host round trip; `parts`, `norm` are backend
     * arrays of doubles) */
    /* Loss of one batch (KLoss): tgt [b, K_TGT], class_alpha [classes]
     * (per-class focal alpha; NULL: c->alpha), logits cls [b, classes], bin
     * [b, 2], SVDD scores [b], VAE terms mse, kl [rows]. OVERWRITES the
     * gradients g_cls [b, classes], g_bin [b, 2], g_w [b] (d loss / d score),
     * g_wm, g_wk [rows] (d loss / d mse, d kl; zero without VAE) and
     * parts [K_LOSS_PARTS]. Accumulates in double in sample order; a
     * non-finite part is left for the caller to report. */
    void (*loss)(const KLoss *c, const float *tgt, const double *class_alpha, const float *cls,
                 const float *bin, const float *score, const float *mse, const float *kl,
                 float *g_cls, float *g_bin, float *g_w, float *g_wm, float *g_wk, double *parts);
    /* norm[0] = ||g|| over g [n] (fixed-order sum of squares in double), the
     * norm adamw's fused clip reads. */
    void (*grad_norm)(size_t n, const float *g, double *norm);
    /* SAM's ascent: e = rho * g / ||g|| (adaptive, ASAM: rho * p^2 g / ||p g||,
     * tmp holds p*g), norm[0] = that norm, then p += e. A zero or non-finite
     * norm leaves e = 0 and p unchanged. p, g, e, tmp [n]. */
    void (*sam_perturb)(size_t n, double rho, bool adaptive, float *p, const float *g, float *e,
                        float *tmp, double *norm);

    /* ---- reductions (fixed-order, results in double on the host) ---- */
    double (*sum)(size_t n, const float *x);
    double (*sumsq)(size_t n, const float *x);
    /* y[c] = sum over rows of x[rows,c] (overwrite, or += when accumulate). */
    void (*col_sum)(int rows, int c, const float *x, float *y, bool accumulate);
    /* true when every value is finite */
    bool (*all_finite)(size_t n, const float *x);

    /* ---- backend state ---- */
    /* Numeric mode of the ops that follow (set before a model is built:
     * workspace sizes depend on it). VB_ERR_USAGE where unsupported (the CPU
     * backend computes in fp32 only). */
    VbStatus (*set_precision)(KPrecision p);
    /* The first failure of an asynchronous op since the last call (device
     * error, out of memory inside an op), with its message; VB_OK when none.
     * Ops never fail on the CPU. */
    VbStatus (*status)(void);
    void (*info)(KInfo *out);
    /* Free and total bytes of the backend's memory (0, 0 when unknown). */
    void (*mem_info)(size_t *free_bytes, size_t *total_bytes);
    /* Timing marks in the order of the ops (CUDA events; a clock read on the
     * CPU): timer_ms waits for mark b and returns the milliseconds from a to b. */
    void *(*timer_new)(void); /* NULL on failure */
    void (*timer_free)(void *t);
    void (*timer_mark)(void *t);
    double (*timer_ms)(void *a, void *b);
} KOps;

/* Every required function pointer of KOps, for the completeness check (a
 * backend whose table misses one is refused at init). The static assertion
 * in backend.c catches a field missing from both lists. */
// clang-format off
#define KOPS_FIELDS(X)                                                                      \
    X(alloc) X(free) X(upload) X(download) X(copy) X(zero) X(sync)                          \
    X(gemm) X(linear_fwd) X(linear_bwd)                                                     \
    X(conv2d_ws) X(conv2d_fwd) X(conv2d_bwd) X(dwconv2d_fwd) X(dwconv2d_bwd)                \
    X(convt2d_ws) X(convt2d_fwd) X(convt2d_bwd)                                             \
    X(bn_train_fwd) X(bn_eval_fwd) X(bn_train_bwd) X(bn_eval_bwd)                           \
    X(act_fwd) X(act_bwd) X(mul) X(axpy) X(scale) X(add) X(row_scale)                       \
    X(group_mean_fwd) X(group_mean_bwd) X(gap_fwd) X(gap_bwd) X(se_fwd) X(se_scale) X(se_bwd)           \
    X(maxpool_fwd) X(maxpool_bwd) X(leaky_fwd) X(leaky_bwd) X(upsample_fwd) X(upsample_bwd)  \
    X(lstm_save) X(lstm_ws) X(lstm_fwd) X(lstm_bwd) X(gru_save) X(gru_ws) X(gru_fwd)        \
    X(gru_bwd) X(attn_fwd) X(attn_bwd)                                                      \
    X(softmax_fwd) X(softmax_bwd) X(log_softmax_fwd) X(log_softmax_bwd)                     \
    X(nhwc_to_nchw) X(nchw_to_nhwc) X(chan_affine) X(reparam_fwd) X(reparam_bwd)           \
    X(vae_terms) X(vae_terms_bwd) X(sqdist_fwd) X(sqdist_bwd) X(adamw)                      \
    X(fill_dropout) X(fill_normal) X(loss) X(grad_norm) X(sam_perturb)                      \
    X(sum) X(sumsq) X(col_sum) X(all_finite)                                                \
    X(set_precision) X(status) X(info) X(mem_info)                                          \
    X(timer_new) X(timer_free) X(timer_mark) X(timer_ms)
/* The optional ones (NULL where a backend has no such thing). */
#define KOPS_OPTIONAL_FIELDS(X) X(pack_floats) X(pack_weight) X(unpack_weights)
// clang-format on

/* VB_OK when every entry of `k` is set; otherwise VB_ERR_BACKEND naming the
 * first missing op. */
VbStatus kops_check_complete(const KOps *k);

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

/* ---- the CPU backend's instruction-set paths ----
 * Its vector kernels (GEMM micro-kernels, batchnorm, depthwise, AdamW, ...)
 * exist for several instruction sets and give identical bits on every one;
 * the path changes speed only. Default: the best the CPU supports;
 * VADBENCH_ISA=generic|avx2|avx512 (kisa_from_env) or kisa_set force one. */
typedef enum KIsa { K_ISA_GENERIC = 0, K_ISA_AVX2, K_ISA_AVX512, K_ISA_N } KIsa;
const char *kisa_name(KIsa isa);
bool kisa_supported(KIsa isa);
/* "generic", "avx2" or "avx512"; VB_ERR_USAGE with a message otherwise. */
VbStatus kisa_parse(const char *s, KIsa *out);
/* Force a path; VB_ERR_USAGE when this CPU lacks it. */
VbStatus kisa_set(KIsa isa);
/* Apply VADBENCH_ISA (unset or empty: the best path); VB_ERR_USAGE when it
 * names an unknown path or one this CPU lacks. */
VbStatus kisa_from_env(void);
KIsa kisa_active(void);

/* Floating-point operations the CPU backend's products have done since the
 * program started (2 per multiply-add: every GEMM, and the depthwise
 * convolutions); for achieved-GFLOP/s figures. */
uint64_t kcpu_flops(void);

/* The numerics version of the CPU backend: bumped whenever any kernel's
 * results change in a single bit (a new summation order, a new
 * approximation). Runs with the same config hash and numerics version give
 * the same bits on any x86-64 CPU (tests/test_golden.c checks committed
 * fingerprints on every instruction-set path); recorded with every run.
 * History: 1 OpenBLAS SGEMM (bits depended on the CPU's BLAS kernel);
 * 2 own SGEMM (one FMA chain over K per element, alpha/beta/bias after
 * it), batch-norm sums in float over 16-row sub-tiles added in double,
 * pooling/SE sums divided by hw instead of multiplied by 1/hw. */
#define VB_NUMERICS_VERSION 2

#endif
