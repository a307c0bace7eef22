/* arena: bump allocator over one backend buffer, with a measuring mode. */
#include "arena.h"

#include <string.h>

#define ARENA_ALIGN 64

void arena_measure(Arena *a) { memset(a, 0, sizeof *a); }

VbStatus arena_init(Arena *a, const KOps *k, size_t bytes) {
    memset(a, 0, sizeof *a);
    a->k = k;
    a->cap = bytes;
    if (bytes == 0) return VB_OK;
    a->base = k->alloc(bytes);
    if (!a->base) {
        size_t fr, tot;
        k->mem_info(&fr, &tot);
        return VB_FAIL(
            VB_ERR_NOMEM, "cannot allocate %.1f MiB on backend %s (%.1f MiB free of %.1f)",
            (double)bytes / 1048576.0, k->name, (double)fr / 1048576.0, (double)tot / 1048576.0);
    }
    return VB_OK;
}

void arena_free(Arena *a) {
    if (a->base) a->k->free(a->base);
    memset(a, 0, sizeof *a);
}

float *arena_floats(Arena *a, size_t n) {
    size_t bytes = (n * sizeof(float) + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    size_t at = a->used;
    a->used += bytes;
    if (a->used > a->peak) a->peak = a->used;
    if (!a->base) return NULL;
    VB_ASSERT(a->used <= a->cap);
    return (float *)(a->base + at);
}

size_t arena_mark(const Arena *a) { return a->used; }
void arena_reset(Arena *a, size_t mark) {
    VB_ASSERT(mark <= a->used);
    a->used = mark;
}
