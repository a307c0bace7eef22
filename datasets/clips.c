/* clips: sliding windows over videos. */
#include "clips.h"

#include <stdlib.h>

ClipSpec clips_spec(int T) {
    ClipSpec s = {T, 1, T};
    return s;
}

void clips_free(ClipSet *cs) {
    free(cs->clips);
    cs->clips = NULL;
    cs->n = 0;
}

VbStatus clips_build(const Dataset *ds, const uint32_t *videos, size_t nvideos, ClipSpec spec,
                     ClipSet *out) {
    out->clips = NULL, out->n = 0, out->spec = spec;
    if (spec.T < 1 || spec.T > CLIPS_MAX_T || spec.stride < 1 || spec.window < 1)
        return VB_FAIL(VB_ERR_INPUT,
                       "clip T=%d stride=%d window=%d: need 1 <= T <= %d, stride "
                       ">= 1, window >= 1",
                       spec.T, spec.stride, spec.window, CLIPS_MAX_T);
    uint64_t span = (uint64_t)(spec.T - 1) * (uint64_t)spec.stride + 1;
    size_t total = 0;
    for (size_t i = 0; i < nvideos; i++) {
        VB_ASSERT(videos[i] < ds->nvideos);
        uint32_t n = ds->videos[videos[i]].nframes;
        total += n >= span ? (size_t)((n - span) / (uint64_t)spec.window + 1) : 1;
    }
    out->clips = vb_xmalloc(sizeof(Clip) * (total ? total : 1));
    for (size_t i = 0; i < nvideos; i++) {
        uint32_t n = ds->videos[videos[i]].nframes;
        if (n < span) {
            out->clips[out->n++] = (Clip){videos[i], 0};
            continue;
        }
        for (uint64_t s = 0; s + span <= n; s += (uint64_t)spec.window)
            out->clips[out->n++] = (Clip){videos[i], (uint32_t)s};
    }
    VB_ASSERT(out->n == total);
    return VB_OK;
}
