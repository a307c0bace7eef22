/* safeio: bounds on what an input may make the program allocate, reads
 * that stop at those bounds, checksums of stored bytes, and the removal of
 * temporary files left behind by killed processes.
 *
 * Limits (read once from the environment, documented in README.md):
 *   VADBENCH_MAX_MEMBER_MB   largest single decompressed input: an archive
 *                            member, a (gzip'd) idx file, a whole file read
 *                            into memory. Default 256 (MiB).
 *   VADBENCH_MAX_DECODED_GB  largest decoded frame store a data set may ask
 *                            for. Default: 256 x the source's size on disk,
 *                            at least 1 GiB — a few KB of archive cannot ask
 *                            for gigabytes of frames.
 * A value that is not a positive number is ignored (the default holds).
 *
 * SafeBuf is a growable byte buffer whose growth fails (false) instead of
 * aborting, so an allocation driven by input sizes becomes an error that
 * names the input. safeio_checksum hashes a block of any size in parallel
 * (fixed 1 MiB blocks, combined in order: the same value for any thread
 * count). safeio_clean_orphans removes "<name>.tmp.<pid>[.<n>]" files in a
 * directory whose process is gone.
 *
 * Must not be asked to: protect against a deliberate forger (the checksum
 * is not cryptographic), or decide policy (callers say what a limit means
 * for their input and name it in their messages). */
#ifndef VB_SAFEIO_H
#define VB_SAFEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/status.h"

/* VADBENCH_MAX_MEMBER_MB in bytes (default 256 MiB). */
uint64_t safeio_member_cap(void);
/* The decoded-frame budget for a source of `source_bytes` on disk. */
uint64_t safeio_decoded_budget(uint64_t source_bytes);
/* "VADBENCH_MAX_MEMBER_MB" / "VADBENCH_MAX_DECODED_GB", for messages. */
#define SAFEIO_MEMBER_ENV "VADBENCH_MAX_MEMBER_MB"
#define SAFEIO_DECODED_ENV "VADBENCH_MAX_DECODED_GB"

typedef struct SafeBuf {
    unsigned char *p;
    size_t len, cap;
} SafeBuf;

/* Make room for `extra` more bytes after len (amortised doubling); false
 * when the allocation fails (the buffer is unchanged then). */
bool safebuf_reserve(SafeBuf *b, size_t extra);
void safebuf_free(SafeBuf *b);

/* Read a whole regular file of at most `max` bytes. A larger file is
 * VB_ERR_INPUT ("PATH: N bytes, more than the limit of M"), an unreadable
 * one VB_ERR_IO, a failed allocation VB_ERR_NOMEM; each names the path.
 * *out is NUL-terminated (one byte past *len) and malloc'd. */
VbStatus safeio_read_file(const char *path, size_t max, unsigned char **out, size_t *len);

/* Length of the well-formed UTF-8 sequence at p (1-4), 0 when the bytes
 * there are not one (or n is 0). */
size_t safeio_utf8_char(const unsigned char *p, size_t n);
/* Length of the longest prefix of p[0..n) that is well-formed UTF-8 (no
 * overlong forms, surrogates or code points above U+10FFFF): n when all
 * of it is. */
size_t safeio_utf8_prefix(const unsigned char *p, size_t n);
/* True when s (NUL-terminated) is valid UTF-8 without control characters
 * (bytes below 0x20, and 0x7f): fit for a name shown in tables and JSON. */
bool safeio_printable_name(const char *s);

/* 64-bit checksum of n bytes (any n, p may be NULL when n is 0). */
uint64_t safeio_checksum(const void *p, size_t n, uint64_t seed);

/* Remove "<name>.tmp.<pid>" and "<name>.tmp.<pid>.<n>" files directly in
 * `dir` whose pid is not a live process on this host and whose last change
 * is at least min_age_s old. Returns how many were removed (0 when the
 * directory cannot be read); `removed_bytes` (may be NULL) gets their size. */
int safeio_clean_orphans(const char *dir, double min_age_s, uint64_t *removed_bytes);

#endif
