/* cuda: the CUDA/cuDNN backend. This unit establishes the build and the
 * device probe; ops are added op by op, each tested against the CPU
 * reference (make test-cuda). Until an op is present, kops_cuda() refuses
 * to hand out a table, so no model silently runs half on the CPU. */
#include <cuda_runtime.h>
#include <cudnn.h>
#include <stdio.h>

extern "C" {
#include "kernels/kernels.h"

const KOps *kops_cuda(void) {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0) {
        VB_FAIL(VB_ERR_BACKEND, "backend 'cuda': no usable CUDA device (%s)",
                e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
        return NULL;
    }
    VB_FAIL(VB_ERR_BACKEND,
            "backend 'cuda': compiled (cuDNN %d) but its ops are not implemented yet; use "
            "--backend cpu",
            (int)CUDNN_VERSION);
    return NULL;
}

/* Device and library description for --version and run provenance. */
const char *vb_cuda_describe(void) {
    static char buf[256];
    int rt = 0;
    cudaRuntimeGetVersion(&rt);
    snprintf(buf, sizeof buf, "CUDA runtime %d.%d, cuDNN %d", rt / 1000, (rt % 1000) / 10,
             (int)CUDNN_VERSION);
    return buf;
}
}
