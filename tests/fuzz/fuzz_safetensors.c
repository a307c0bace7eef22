/* fuzz_safetensors: safetensors files through st_open (the header's JSON,
 * dtypes, shapes, offsets, overlaps, metadata) and every tensor's
 * conversion to float32, as `forward` and the weight loader read them. */
#include <stdlib.h>

#include "models/safetensors.h"
#include "tests/fuzz/fuzz.h"

int fuzz_safetensors(const uint8_t *data, size_t size) {
    const char *path = fuzz_path("input.safetensors");
    if (fuzz_write(path, data, size) != 0) return 0;
    StFile f;
    if (st_open(path, &f) == VB_OK) {
        fuzz_accepted++;
        for (int i = 0; i < f.n; i++) {
            const StTensor *t = st_find(&f, f.t[i].name);
            if (!t || t->numel > (1 << 20)) continue;
            float *out = malloc((size_t)(t->numel ? t->numel : 1) * sizeof(float));
            if (out) st_read_f32(&f, t, out, t->numel);
            free(out);
        }
        st_meta(&f, "format");
        st_close(&f);
    }
    vb_clear_error();
    return 0;
}

FUZZ_TARGET(fuzz_safetensors)
