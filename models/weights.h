/* weights: a model's parameter table in and out of safetensors files, under
 * the seed's PyTorch state_dict names (backbone in torchvision names; timm
 * names under "backbone.backbone." are accepted on reading).
 *
 * Loading checks every name: tensors the model has but the file lacks
 * (missing), tensors the file has but the model lacks (unexpected), and
 * tensors whose shape differs (always an error) are listed by name; missing
 * or unexpected ones are refused unless allowed. `num_batches_tracked`
 * entries are ignored. */
#ifndef VB_WEIGHTS_H
#define VB_WEIGHTS_H

#include <stdbool.h>
#include <stdio.h>

#include "models/hybrid.h"

typedef struct WeightsReport {
    int loaded, missing, unexpected, misshaped;
} WeightsReport;

/* Load `path` into the model's parameters. Problems are listed on `log`
 * (one line each, at most 20 per kind, then a count). */
VbStatus weights_load(Hybrid *m, const char *path, bool allow_missing, bool allow_unused, FILE *log,
                      WeightsReport *rep);
/* Write every parameter and buffer (F32) with metadata (format, version). */
VbStatus weights_save(const Hybrid *m, const char *path);
/* Training-mode noise from a file, for parity with PyTorch: one mask per
 * dropout site, named as the site (e.g. "backbone.dropout", "projection.3",
 * "temporal_encoder.rnn.dropout_l0"; values 0 or 1/(1-p), model layout), and
 * "vae.eps" [rows, latent]. Sets the model to use them (external_noise). */
VbStatus weights_load_noise(Hybrid *m, const char *path, int rows);
/* Map a file name to the model's name: timm backbone names are translated,
 * others returned unchanged. */
void weights_canonical_name(const Hybrid *m, const char *file_name, char *out, size_t n);

#endif
