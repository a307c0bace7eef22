/* backend: choose a KOps table by name. The only place that knows whether
 * the CUDA backend was compiled in (VB_HAVE_CUDA, set by the Makefile). */
#include <string.h>

#include "kernels.h"

#ifdef VB_HAVE_CUDA
const KOps *kops_cuda(void); /* kernels/cuda/cu_backend.cu; NULL + message if no device */
#endif

KConv kconv_init(int n, int h, int w, int cin, int cout, int k, int stride, int pad, int groups) {
    KConv c = {n, h, w, cin, cout, k, k, stride, stride, pad, pad, groups, 0, 0};
    c.oh = (h + 2 * pad - k) / stride + 1;
    c.ow = (w + 2 * pad - k) / stride + 1;
    return c;
}

KConv kconvt_init(int n, int h, int w, int cin, int cout, int k, int stride, int pad) {
    KConv c = {n, h, w, cin, cout, k, k, stride, stride, pad, pad, 1, 0, 0};
    c.oh = (h - 1) * stride - 2 * pad + k;
    c.ow = (w - 1) * stride - 2 * pad + k;
    return c;
}

KPool kpool_init(int n, int h, int w, int c, int k) {
    KPool p = {n, h, w, c, k, h / k, w / k};
    return p;
}

/* Count the entries of KOPS_FIELDS and KOPS_OPTIONAL_FIELDS: with the name
 * first, the struct must be exactly that many function pointers long, so a
 * field left out of both lists fails the build instead of escaping the check. */
#define KOPS_ONE(f) +1
enum { KOPS_N = 0 KOPS_FIELDS(KOPS_ONE) KOPS_OPTIONAL_FIELDS(KOPS_ONE) };
_Static_assert(sizeof(KOps) == sizeof(const char *) + KOPS_N * sizeof(void (*)(void)),
               "KOPS_FIELDS + KOPS_OPTIONAL_FIELDS (kernels.h) do not list every op of KOps");

VbStatus kops_check_complete(const KOps *k) {
    if (!k->name) return VB_FAIL(VB_ERR_BACKEND, "a backend table has no name");
#define KOPS_CHECK(f) \
    if (!k->f)        \
        return VB_FAIL(VB_ERR_BACKEND, "backend '%s' is incomplete: op %s is missing", k->name, #f);
    KOPS_FIELDS(KOPS_CHECK)
#undef KOPS_CHECK
    return VB_OK;
}

bool kops_cuda_compiled(void) {
#ifdef VB_HAVE_CUDA
    return true;
#else
    return false;
#endif
}

const char *const kbackend_names[] = {"cpu", "cuda", NULL};
const char *const kprecision_names[] = {"fp32", "bf16", NULL};

const KOps *kops_get(KBackend b) {
    if (b == K_BACKEND_CPU) return kops_cpu();
    if (b == K_BACKEND_CUDA) {
#ifdef VB_HAVE_CUDA
        return kops_cuda();
#else
        vb_fail_plain(VB_ERR_BACKEND,
                      "backend 'cuda' is not compiled into this binary (rebuild with CUDA=1 on a "
                      "machine with nvcc and cuDNN)");
        return NULL;
#endif
    }
    vb_fail_plain(VB_ERR_USAGE, "unknown backend %d (expected cpu or cuda)", (int)b);
    return NULL;
}
