/* arena: bump allocation in one backend buffer.
 *
 * Models size their activation and scratch memory once, when built for the
 * largest batch: a first pass runs with a measuring arena (no buffer, only
 * counting), the second allocates exactly that much. Nothing is allocated
 * inside a training step; the scratch arena is reset to a mark each step. */
#ifndef VB_ARENA_H
#define VB_ARENA_H

#include <stddef.h>

#include "kernels.h"

typedef struct Arena {
    const KOps *k; /* backend owning the buffer (NULL while measuring) */
    char *base;    /* NULL while measuring */
    size_t cap, used, peak;
} Arena;

/* A measuring arena: allocations return NULL and only count bytes. */
void arena_measure(Arena *a);
/* Allocate `bytes` of backend memory (zeroed). VB_ERR_NOMEM on failure. */
VbStatus arena_init(Arena *a, const KOps *k, size_t bytes);
void arena_free(Arena *a);
/* `n` floats, 64-byte aligned. Aborts if a sized arena overflows (a sizing
 * bug, not a user error). Returns NULL in measuring mode. */
float *arena_floats(Arena *a, size_t n);
size_t arena_mark(const Arena *a);
void arena_reset(Arena *a, size_t mark);

#endif
