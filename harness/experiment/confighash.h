/* confighash: the identity of a cell — the config hash that names it in the
 * results store and lets a re-run skip what is done.
 *
 * A cell's resolved configuration is canonical JSON (sorted keys, compact,
 * reals with 17 significant digits): the four schema sections (dataset,
 * model, train, eval) with every key, plus experiment, variant, seed,
 * backend and holdout. That full form is what the store keeps.
 *
 * The hash covers less: the hashed form leaves out every schema key whose
 * value equals its default (and a section that becomes empty), so adding a
 * key to the schema with a default that keeps the old behaviour leaves
 * every existing hash unchanged. The price is a rule: an existing key's
 * default must never change meaning; if one must, bump CONFIG_HASH_EPOCH,
 * which renames every cell (tests/fixtures/schema_defaults.json guards it).
 * hash = two 64-bit FNV-1a streams over "vadbench-config/<epoch>\n" +
 * hashed form + "\n" + the data set's content digest, as 32 hex digits. Not
 * a cryptographic hash: it names configurations, it does not protect them.
 *
 * The legacy hash (hash format 1, before the epoch existed) is the same
 * function over the full form without the epoch line, restricted to the
 * keys format 1 had (keys added since are left out while at their default);
 * the store keeps it beside migrated runs so old cells are still found. */
#ifndef VB_CONFIGHASH_H
#define VB_CONFIGHASH_H

#include <jansson.h>

#include "harness/experiment/schema.h"

#define CONFIG_HASH_EPOCH 2

/* The four schema sections of a RunConfig as JSON (every key). Caller owns. */
json_t *run_config_json(const RunConfig *rc);
/* The full form as canonical text. Caller frees. */
char *config_canonical(json_t *config);
/* The hashed form of a full config: keys equal to `defaults` (the four
 * sections as run_config_json of the defaults) removed. New reference. */
json_t *config_hashed_form(json_t *config, json_t *defaults);
/* The config hash of a full config (current epoch, defaults of this build). */
void config_hash(json_t *config, const char *dataset_digest, char out[33]);
/* The same with explicit defaults (tests extend the schema this way). */
void config_hash_with(json_t *config, json_t *defaults, const char *dataset_digest, char out[33]);
/* Hash format 1: the full canonical form of format 1's keys, no epoch. */
void config_hash_legacy(json_t *config, const char *dataset_digest, char out[33]);

#endif
