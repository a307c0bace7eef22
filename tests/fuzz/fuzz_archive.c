/* fuzz_archive: a UCF-Crime archive (any format libarchive reads) through
 * both passes of the reader — the member index with its layout rules, then
 * member data with its size limits and the PNG decoder — into memory, as
 * `vadbench run` and `data inspect` read one. */
#include <stdlib.h>

#include "datasets/ucf.h"
#include "tests/fuzz/fuzz.h"

int fuzz_archive(const uint8_t *data, size_t size) {
    const char *path = fuzz_path("input.archive");
    if (fuzz_write(path, data, size) != 0) return 0;
    /* the last byte picks the mode (both are the program's): fail on the
     * first bad member, or skip and count bad members */
    UcfOptions o;
    ucf_defaults(&o);
    o.no_cache = true;
    o.skip_bad = size > 0 && (data[size - 1] & 1);
    Dataset ds;
    UcfReport rep;
    if (ucf_read(path, &o, &ds, &rep) == VB_OK) {
        fuzz_accepted++;
        dataset_free(&ds);
    }
    vb_clear_error();
    return 0;
}

FUZZ_TARGET(fuzz_archive)
