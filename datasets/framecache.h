/* framecache: decoded frames on disk, memory-mapped, reused across runs.
 *
 * A cache file holds a data set decoded once: a 4096-byte header (magic,
 * version, the key of the source it was made from, frame size, offsets),
 * the frames as one uint8 block (nframes x H x W x 3, starting at byte
 * 4096, so the mapping is page-aligned), and the metadata as JSON (classes,
 * videos, skipped count, warning, content digest). Loading maps the file
 * read-only: a million 64x64 frames cost 12 GB of address space and only
 * the pages a run touches.
 *
 * The key identifies the source: its size, its modification time and a
 * digest of its index (member names and sizes), plus reader flags. The file
 * name is derived from the key, so a changed source gets a new file; a file
 * whose header does not match its key is treated as absent.
 *
 * Integrity: the header carries checksums (safeio.h) of itself, the frame
 * block and the metadata, all verified on every load (the frames in
 * parallel, ~1 s per 10 GB from the page cache). A file of this key that is
 * damaged — checksum, size or metadata wrong — is deleted and reported, so
 * the caller rebuilds it from the source instead of reusing bad bytes under
 * the original digest.
 *
 * Writing is atomic: frames are decoded into "<file>.tmp.<pid>" (mapped
 * read-write) and renamed into place by framecache_commit, so concurrent
 * runners and interrupted builds never see a half-written cache; such a
 * temporary file left by a killed process is removed by the next reader
 * (ucf_read, safeio_clean_orphans).
 *
 * Must not be asked to: share cache files between machines of different
 * endianness (the header is host-order), or hold frames of several sizes. */
#ifndef VB_FRAMECACHE_H
#define VB_FRAMECACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "datasets/dataset.h"

typedef struct CacheKey {
    uint64_t size;         /* bytes of the source */
    uint64_t mtime_ns;     /* newest modification time */
    uint64_t index_digest; /* names and sizes of its members */
    uint64_t flags;        /* reader options that change the result */
} CacheKey;

typedef struct CacheFile {
    char path[1024], tmp[1100];
    int fd;
    uint8_t *map; /* read-write mapping of the temporary file */
    size_t map_len;
    uint64_t nframes;
    int h, w;
} CacheFile;

/* The default cache directory: $VADBENCH_CACHE_DIR, else
 * $XDG_CACHE_HOME/vadbench, else $HOME/.cache/vadbench. */
VbStatus framecache_default_dir(char *out, size_t n);
/* "<dir>/<basename of source>-<hash of key>.vbcache"; creates dir. */
VbStatus framecache_path(const char *dir, const char *source, const CacheKey *key, char *out,
                         size_t n);

/* Load a cache file into ds (classes, videos, frames mapped read-only,
 * normal class resolved, digest from the file). *hit is false, with VB_OK,
 * when the file is absent, from another key, unreadable or damaged; errors
 * only for a valid cache whose normal class is missing. `warning` (may be
 * NULL) receives the warning recorded at build time; `note` (may be NULL)
 * says why a damaged file of this key was discarded ("" when none was). */
VbStatus framecache_load(const char *file, const CacheKey *key, const char *normal, Dataset *ds,
                         char *warning, size_t wn, char *note, size_t nn, bool *hit);

/* Create the temporary file for nframes frames of h x w x 3 and map it. */
VbStatus framecache_begin(CacheFile *cf, const char *file, uint64_t nframes, int h, int w);
static inline uint8_t *framecache_frames(CacheFile *cf) { return cf->map + 4096; }
/* Finish: `ds` went through dataset_finish (no normal class needed) and
 * its frames are the first ds->frames.nframes frames of the temporary file
 * (frames.map NULL; the caller clears frames.data before dataset_free).
 * Writes metadata and header, unmaps, renames into place. */
VbStatus framecache_commit(CacheFile *cf, const CacheKey *key, const Dataset *ds,
                           const char *warning);
/* Drop the temporary file (after an error). Safe to call twice. */
void framecache_abort(CacheFile *cf);

#endif
