/* hybrid: the seed's HybridAnomalyDetector, composed from its parts.
 *
 *   x [b·t, s, s, ch] NHWC frames (clips are b videos × t frames; ch =
 *     model.channels, 3 by default)
 *   → backbone (EfficientNet, or Ruff's LeNet: lenet.h) → features [b·t, F]
 *     (output `features`: averaged over t, before dropout)
 *   → Dropout(backbone.dropout)
 *   → temporal encoder (LSTM/GRU + attention) [b, D], or the mean over t
 *   → projection: Linear → ReLU → BN1d → Dropout  [b, feature_dim]
 *     (model.projection false: none, the heads read [b, D] directly)
 *   → classifier [b, C], binary head [b, 2],
 *     Deep SVDD head: Linear → ReLU → BN1d → Dropout → Linear [b, E]
 *     (model.svdd_head linear: one Linear; none: the embedding is the
 *     projection's output itself), score ‖e − c‖²
 *   → optional VAE on the dropped-out features of every frame, or on the
 *     frames themselves.
 *
 * model.head_bias / model.head_bn_affine drop the biases / BN affine
 * parameters of the projection and the Deep SVDD head (the classifier and
 * binary head keep theirs); model.backbone.bn_affine those of the
 * EfficientNet's BatchNorms. Ruff et al.'s network is backbone lenet, no
 * projection, svdd_head none, temporal none, no dropout.
 *
 * Parameter names are the seed's PyTorch state_dict names
 * (../shared/reference/state_dict_names.txt). The model is built once for a
 * largest batch (max_b clips of max_t frames); every step runs without
 * allocation. Losses live in losses.c; this module takes their gradients. */
#ifndef VB_HYBRID_H
#define VB_HYBRID_H

#include "models/efficientnet.h"
#include "models/lenet.h"
#include "models/temporal.h"
#include "models/vae.h"

/* The choices of a model configuration, and their names in experiment files
 * (indexed by the enum value, NULL-terminated). */
typedef enum BackboneKind { BACKBONE_EFFICIENTNET_B0 = 0, BACKBONE_LENET } BackboneKind;
typedef enum TemporalKind { TEMPORAL_LSTM = 0, TEMPORAL_GRU, TEMPORAL_NONE } TemporalKind;
typedef enum VaeTarget { VAE_TARGET_RESCALED = 0, VAE_TARGET_NORMALIZED } VaeTarget;
typedef enum SvddHead { SVDD_HEAD_MLP = 0, SVDD_HEAD_LINEAR, SVDD_HEAD_NONE } SvddHead;
extern const char *const backbone_kind_names[],
    *const temporal_kind_names[], *const vae_level_names[], *const vae_target_names[],
                                                                *const svdd_head_names[];

typedef struct ModelConfig {
    BackboneKind backbone;
    double width, depth; /* backbone multipliers */
    double backbone_dropout, stochastic_depth;
    bool backbone_bn_affine; /* EfficientNet BN gamma/beta (default true) */
    /* LeNet backbone (lenet.h; defaults: Ruff's Fashion-MNIST network) */
    int lenet_nconv, lenet_channels[LENET_MAX_CONV];
    int lenet_kernel, lenet_hidden, lenet_out;
    bool lenet_bias, lenet_bn_affine;
    double lenet_bn_eps, lenet_slope;
    int channels; /* input channels per pixel (3 by default) */
    TemporalKind temporal;
    int hidden, layers;
    bool bidirectional;
    double temporal_dropout;
    int feature_dim, embedding_dim, svdd_hidden;
    double head_dropout;
    bool projection;     /* the projection block (default true) */
    SvddHead svdd_head;  /* mlp (default), linear, none */
    bool head_bias;      /* biases of projection and SVDD head (default true) */
    bool head_bn_affine; /* BN gamma/beta there (default true) */
    int classes;
    int image; /* frame size (square) */
    VaeLevel vae_level;
    int vae_latent;
    int vae_nhidden, vae_hidden[VAE_MAX_HIDDEN];     /* feature VAE MLP sizes */
    int vae_nchannels, vae_channels[VAE_MAX_HIDDEN]; /* image VAE conv channels */
    double vae_dropout;
    VaeTarget vae_target; /* rescaled (default) or normalized (the seed's) */
    bool vae_detach_target;
} ModelConfig;

/* The seed's Option A configuration (14 classes, LSTM 2×256 bidirectional,
 * 512, 128, no VAE) at 64×64. */
void model_config_defaults(ModelConfig *c);

/* Components timed when Hybrid.time_parts is set (latency measurement). */
typedef enum HybridPart {
    HPART_BACKBONE = 0, /* EfficientNet + pooling + dropout */
    HPART_TEMPORAL,     /* RNN + attention (or the mean over time) */
    HPART_HEADS,        /* projection, classifier, binary head */
    HPART_SVDD,         /* Deep SVDD head and distance */
    HPART_VAE,          /* VAE branch */
    HPART_N
} HybridPart;
extern const char *const hybrid_part_names[HPART_N];

typedef struct Hybrid {
    ModelConfig cfg;
    bool time_parts;
    double part_ms[HPART_N];  /* of the last forward, when time_parts */
    double forward_ms;        /* the whole last forward, when time_parts */
    void *marks[HPART_N + 1]; /* backend timing marks between the parts */
    ParamTable pt;
    Net net;
    int max_b, max_t;
    Backbone bb; /* EfficientNet */
    LeNet ln;    /* LeNet */
    int feat_dim;
    float *bfeat;          /* the backbone's features [b·t, F] (bb.feat or ln.feat) */
    int proj_dim, emb_dim; /* width of the projection output and of the SVDD embedding */
    Dropout feat_drop;
    float *feat_mean; /* [b, F] output `features` */
    float *feat_d;    /* [b·t, F] after dropout */
    bool has_temporal;
    Temporal tmp;
    float *tin; /* [b, F] mean over t when there is no temporal encoder */
    int tdim;   /* width of the temporal output */
    MlpBlock proj, emb;
    Linear cls, bin, emb_out;
    int center;      /* param index of anomaly_head.center */
    float *proj_out; /* proj.y, or the temporal output without a projection */
    float *cls_logits, *bin_logits, *emb_e, *svdd_score; /* emb_e: proj_out when svdd_head none */
    bool has_vae;
    Vae vae;
    /* gradients the losses write (backend memory) */
    float *g_cls, *g_bin, *g_svdd_w, *g_vae_wm, *g_vae_wk;
    /* internal gradient buffers */
    float *d_emb_e, *d_emb, *d_proj, *d_proj2, *d_tin, *d_feat, *d_head;
} Hybrid;

/* Validate a configuration; VB_ERR_INPUT with a message on impossible values. */
VbStatus model_config_check(const ModelConfig *c);
/* The LeNet settings of a model configuration (frame size and channels included). */
void model_lenet_config(const ModelConfig *c, LeNetConfig *out);
/* Width of the backbone's features for a configuration. */
int model_feature_width(const ModelConfig *c);
VbStatus hybrid_build(Hybrid *m, const ModelConfig *cfg, const KOps *k, int max_b, int max_t);
void hybrid_free(Hybrid *m);
/* PyTorch's default initialisation (torchvision's for the backbone), drawn
 * from the counter RNG stream "init" of `seed`, one sub-stream per parameter
 * name. BN: weight 1, bias 0, running mean 0, var 1. Centre 0. */
void hybrid_init(Hybrid *m, uint64_t seed);
/* Training mode on/off (dropout, BN batch statistics). Evaluation mode packs
 * the weights for the backend's GEMM once (params_pack; forward results are
 * the same bits either way); training mode drops the packed copies. */
void hybrid_set_train(Hybrid *m, bool train);
/* Call after writing weights directly (loading, SWA averages, ...): in
 * evaluation mode the packed copies are rebuilt. */
void hybrid_weights_changed(Hybrid *m);
/* Forward for b clips of t frames, x [b·t, s, s, channels] backend
 * memory. With
 * time_parts, the backend's timing marks (CUDA events on a GPU) bracket the
 * parts and the call waits for the forward to finish to fill part_ms and
 * forward_ms; without, it only enqueues the work. */
void hybrid_forward(Hybrid *m, int b, int t, const float *x);
/* Backward from the gradients in g_cls [b,C], g_bin [b,2], g_svdd_w [b]
 * (d loss / d score), g_vae_wm/g_vae_wk [b·t] (d loss / d mse, d kl per
 * frame). Parameter gradients accumulate into m->pt.grad. */
void hybrid_backward(Hybrid *m, int b, int t, const float *x);
/* Width of the temporal output and of the backbone features. */
static inline int hybrid_feat_dim(const Hybrid *m) { return m->feat_dim; }

#endif
