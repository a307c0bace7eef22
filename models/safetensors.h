/* safetensors: read and write the safetensors tensor-file format, the way
 * weights, fixtures and `vadbench forward` inputs/outputs travel between
 * vadbench and PyTorch.
 *
 * The format: an 8-byte little-endian unsigned header length N, then N bytes
 * of UTF-8 JSON, then the raw little-endian tensor data. The JSON is an object
 * mapping each tensor name to {"dtype": "F32", "shape": [d0, d1, ...],
 * "data_offsets": [begin, end]} (offsets in bytes, relative to the start of
 * the data section, i.e. file offset 8 + N), plus an optional "__metadata__"
 * object of string -> string.
 *
 * Reading (st_open) loads the whole file into memory and validates all of it
 * before returning: header length within the file and at most
 * ST_MAX_HEADER bytes, valid JSON object without duplicate keys, every entry
 * an object with a known dtype string, a shape of at most 8 non-negative
 * integer dimensions (an empty shape is a scalar with one element), and
 * data_offsets [begin, end] inside the data section with end - begin equal to
 * numel * element size and no two non-empty tensors overlapping. Gaps between
 * tensors are tolerated. Any violation is VB_ERR_INPUT with the message
 * "PATH: what is wrong"; an unreadable file is VB_ERR_IO. Nothing is ever read
 * outside the buffer, whatever the file contains.
 *
 * Tensors of every standard dtype are listed; st_read_f32 converts F32, F16,
 * BF16 and F64 to float32 and refuses the others (integers, booleans, 8-bit
 * floats: dtype ST_OTHER, dtype_name tells which).
 *
 * Writing (StWriter) produces float32 tensors only, in the order they were
 * added, with the header padded by spaces so the data section starts on an
 * 8-byte boundary (what the reference implementation does). The file is
 * written to a temporary name in the same directory, fsync'd and renamed over
 * the target, so a crash or a full disk never leaves a half-written file under
 * the final name.
 *
 * Must not be asked to: handle files larger than memory (the file is read
 * whole), or run on a big-endian host (rejected at compile time). */
#ifndef VB_SAFETENSORS_H
#define VB_SAFETENSORS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/status.h"

/* Largest header accepted, in bytes (the reference implementation's limit). */
#define ST_MAX_HEADER (100u * 1024u * 1024u)
#define ST_MAX_DIMS 8

typedef enum StDtype { ST_F32, ST_F16, ST_BF16, ST_F64, ST_OTHER } StDtype;

typedef struct StTensor {
    char *name;
    StDtype dtype;
    char dtype_name[16]; /* as written in the file: "F32", "I64", ... */
    int ndim;            /* 0 for a scalar */
    int64_t shape[ST_MAX_DIMS];
    size_t offset, nbytes; /* relative to the data section */
    int64_t numel;         /* product of shape (1 for a scalar, 0 if a dim is 0) */
} StTensor;

typedef struct StFile {
    char *path;
    unsigned char *data; /* the whole file */
    size_t size;
    size_t data_start; /* 8 + header length */
    StTensor *t;       /* sorted by name (strcmp order) */
    int n;
    json_t *metadata; /* the "__metadata__" object (never NULL after st_open) */
} StFile;

/* Open and validate `path`. On failure *f is left empty (st_close is safe). */
VbStatus st_open(const char *path, StFile *f);
/* Release everything st_open allocated; safe on a zeroed or closed StFile. */
void st_close(StFile *f);
/* The tensor called `name`, or NULL (binary search). */
const StTensor *st_find(const StFile *f, const char *name);
/* Convert tensor `t` of file `f` to float32 into out[n]; n must equal
 * t->numel. VB_ERR_INPUT for a non-float dtype or a size mismatch. */
VbStatus st_read_f32(const StFile *f, const StTensor *t, float *out, int64_t n);
/* Convenience: find `name`, check it has exactly `n` elements, read it.
 * VB_ERR_INPUT naming the file and the tensor when absent or mis-sized. */
VbStatus st_read_f32_named(const StFile *f, const char *name, float *out, int64_t n);
/* Metadata value for `key`, or NULL when absent. */
const char *st_meta(const StFile *f, const char *key);
/* Short text for a dtype enum value ("F32", ..., "other"). */
const char *st_dtype_str(StDtype d);

/* Writer: collect tensors (by pointer; the data must stay valid until
 * st_writer_write) and metadata, then write the file atomically. */
typedef struct StWriter StWriter;
StWriter *st_writer_new(void);
/* Add a float32 tensor with `ndim` (0..8) dims `shape` (each >= 0); `data`
 * holds the product of shape floats (may be NULL when that is 0). A duplicate
 * name or a bad shape is reported by st_writer_write as VB_ERR_INPUT. */
void st_writer_add(StWriter *w, const char *name, int ndim, const int64_t *shape,
                   const float *data);
/* Set a metadata entry (a later call with the same key replaces it). */
void st_writer_meta(StWriter *w, const char *key, const char *value);
/* Write everything to `path` (temp file + fsync + rename). VB_ERR_IO with the
 * path and the system's reason on any failure; the target is untouched then. */
VbStatus st_writer_write(StWriter *w, const char *path);
void st_writer_free(StWriter *w);

#endif
