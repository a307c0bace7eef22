/* fuzz_framecache: frame-cache files through framecache_load — the header
 * and its consistency rules, the JSON metadata (classes, videos, skipped
 * count, warning, digest), the video table against the frames, and the
 * checksums — for the key the target's seed files were made with. A file
 * that is damaged is deleted by the loader; the next input writes it
 * again. */
#include <string.h>

#include "datasets/framecache.h"
#include "tests/fuzz/fuzz.h"

/* The key of every seed file (tests/fuzz/corpus/framecache). */
const CacheKey fuzz_cache_key = {123456, 7890, 0x1122334455667788ull, 1u << 8};

int fuzz_framecache(const uint8_t *data, size_t size) {
    const char *path = fuzz_path("input.vbcache");
    if (fuzz_write(path, data, size) != 0) return 0;
    for (int i = 0; i < 2; i++) {
        Dataset ds;
        char warning[512], note[512];
        bool hit;
        if (framecache_load(path, &fuzz_cache_key, i ? "Arson" : NULL, &ds, warning, sizeof warning,
                            note, sizeof note, &hit) == VB_OK &&
            hit) {
            fuzz_accepted++;
            dataset_free(&ds);
        }
        if (i == 0 && fuzz_write(path, data, size) != 0) return 0;
    }
    vb_clear_error();
    return 0;
}

FUZZ_TARGET(fuzz_framecache)
