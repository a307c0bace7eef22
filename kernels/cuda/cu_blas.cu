/* cu_blas: dlopen of cuBLAS at backend start (see cu_blas.h for why). The
 * symbols are looked up by the names the header's macros give them
 * (cublasCreate is cublasCreate_v2), so the table calls exactly what a
 * linked build would. */
#include "kernels/cuda/cu_blas.h"

extern "C" {
#include "kernels/cuda/cu_plan.h"
}

#include <dlfcn.h>
#include <stdio.h>

#define CU_STR2(x) #x
#define CU_STR(x) CU_STR2(x) /* expands the header's name macros first */

CuBlasApi cu_blas;

bool cu_blas_load(char *why, size_t nwhy) {
    static bool loaded;
    if (loaded) return true;
    const char *lib = "libcublas.so." CU_STR(CUBLAS_VER_MAJOR);
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(why, nwhy, "cannot load %s: %s", lib, dlerror());
        return false;
    }
    CuBlasApi api;
#define CU_BLAS_SYM(field, type, fn)                                                      \
    api.field = (type)dlsym(h, CU_STR(fn));                                               \
    if (!api.field) {                                                                     \
        snprintf(why, nwhy, "%s lacks %s (a cuBLAS %d build is needed)", lib, CU_STR(fn), \
                 CUBLAS_VER_MAJOR);                                                       \
        dlclose(h);                                                                       \
        return false;                                                                     \
    }
    CU_BLAS_FUNCS(CU_BLAS_SYM)
#undef CU_BLAS_SYM
    cu_blas = api;
    loaded = true; /* the library stays loaded for the process */
    return true;
}
