/* config: typed settings from YAML, with FILE:LINE:COL errors.
 *
 * A section of an experiment file (`model:`, and later `train:`, `eval:`)
 * is described by a schema: a table of dotted keys, each with a type, a
 * range or a set of choices, a default and a one-line meaning. Reading a
 * mapping against a schema fills a C struct (every field has a default),
 * and rejects unknown keys (with the nearest known key as a hint), wrong
 * types and impossible values, naming the file, line and column.
 * experiments/README.md documents the same tables (`vadbench help keys`
 * prints them). */
#ifndef VB_CONFIG_H
#define VB_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "kernels/status.h"
#include "models/hybrid.h"

struct fy_document;
struct fy_node;

typedef enum CfgKind { CFG_INT, CFG_FLOAT, CFG_BOOL, CFG_CHOICE, CFG_INT_LIST, CFG_STRING } CfgKind;

typedef struct CfgKey {
    const char *key; /* dotted path inside the section, e.g. "temporal.hidden" */
    CfgKind kind;
    size_t offset;       /* of the field in the section's struct */
    size_t size;         /* char[] size (STRING), list capacity (INT_LIST) */
    size_t count_offset; /* INT_LIST: offset of its int count */
    double min, max;     /* inclusive range for numbers (and list items) */
    /* CHOICE: the names of an int-sized enum, indexed by its value, NULL-terminated;
     * the field holds the enum and nothing after the schema sees the name */
    const char *const *choices;
    const char *doc;
} CfgKey;

typedef struct CfgSchema {
    const char *section; /* "model" */
    const CfgKey *keys;
    int nkeys;
} CfgSchema;

extern const CfgSchema cfg_model_schema;

/* VB_ERR_INPUT with "FILE:LINE:COL: message" at node n (FILE: message when
 * n has no position). */
VbStatus cfg_fail_at(const char *file, struct fy_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The text of a scalar node; NULL for anything else (or NULL). */
const char *cfg_scalar(struct fy_node *n);
/* A finite number spelled as YAML 1.2 writes it (validate.h: no nan, inf,
 * hex or leading zeros), the whole text; false otherwise. */
bool cfg_parse_number(const char *text, double *out);

/* Parse a YAML file; syntax errors come back as "FILE:LINE:COL: message". */
VbStatus cfg_load(const char *path, struct fy_document **out);
/* Read `node` (a mapping) into `obj` per schema. Fields not mentioned keep
 * their current values (callers fill defaults first). `file` names the
 * source in messages. */
VbStatus cfg_read(const CfgSchema *s, const char *file, struct fy_node *node, void *obj);
/* Set one key (dotted path inside the section) from a YAML value node;
 * `keynode` locates errors. Unknown keys get the nearest known key as hint. */
VbStatus cfg_set(const CfgSchema *s, const char *file, struct fy_node *keynode, const char *path,
                 struct fy_node *value, void *obj);
/* Every key of the section as a JSON object {"a": {"b": v}} (nested by the
 * dots), defaults included: the canonical form hashed into config hashes. */
struct json_t *cfg_to_json(const CfgSchema *s, const void *obj);
/* The inverse of cfg_to_json (for cells read back from the results store).
 * Keys the JSON lacks (added to the schema after it was stored) keep the
 * values `obj` holds: callers fill defaults first. */
VbStatus cfg_from_json(const CfgSchema *s, struct json_t *j, void *obj);
/* Print the schema as a Markdown table (key, type, default, meaning). */
void cfg_print_schema(const CfgSchema *s, const void *defaults, FILE *f);

#endif
