/* temporal: the seed's TemporalEncoder — a stack of LSTM or GRU layers, uni-
 * or bidirectional, dropout between layers (training only, as PyTorch), then
 * attention pooling over time: Linear(D→hidden) → tanh → Linear(hidden→1) →
 * softmax over T → weighted sum. Input [b, t, in] batch-major, output [b, D]
 * with D = hidden × directions. Works for t = 1.
 *
 * Names: <prefix>.rnn.{weight,bias}_{ih,hh}_l<k>[_reverse],
 * <prefix>.attention.{0,2}.{weight,bias}. */
#ifndef VB_TEMPORAL_H
#define VB_TEMPORAL_H

#include "models/layers.h"

typedef enum RnnType { RNN_LSTM = 0, RNN_GRU } RnnType;

typedef struct RnnDir {
    int w_ih, w_hh, b_ih, b_hh;
    float *save; /* kernel's saved values */
} RnnDir;

typedef struct Temporal {
    RnnType type;
    int in, hidden, layers, dirs, max_b, max_t, out_dim;
    float dropout;
    RnnDir *dir;   /* layers × dirs */
    float **y;     /* per layer output [b, t, D] (after inter-layer dropout for l < L-1) */
    float **yraw;  /* per layer output before dropout */
    Dropout *drop; /* per layer (l < L-1) */
    float *rnn_ws;
    int a_w1, a_b1, a_w2, a_b2;
    float *attn_save;
    float *out;   /* [b, D] */
    float *gy[2]; /* gradient buffers [b, t, D] */
    float *dx;    /* gradient w.r.t. the input [b, t, in] */
} Temporal;

void temporal_make(Temporal *m, Net *n, const char *prefix, RnnType type, int in, int hidden,
                   int layers, bool bidirectional, float dropout, int max_b, int max_t);
/* Free what temporal_make allocated (its per-layer tables). */
void temporal_free(Temporal *m);
void temporal_fwd(Net *n, Temporal *m, int b, int t, const float *x);
/* dout [b, D] → m->dx [b, t, in], parameter grads accumulate. */
void temporal_bwd(Net *n, Temporal *m, int b, int t, const float *x, const float *dout);

#endif
