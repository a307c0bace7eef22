/* cu_backend: the CUDA backend's context and table — device choice, the
 * stream, cuBLAS (deterministic settings: one stream, a fixed workspace set
 * with cublasSetWorkspace, atomics not allowed) and cuDNN handles, memory
 * ops (uploads through a ring of pinned staging buffers so that they never
 * wait for the device; downloads wait), timing marks (CUDA events), device
 * and library versions for provenance, the first asynchronous error, and
 * kops_cuda(), which builds all of it once and refuses to hand out a table
 * with a missing op.
 *
 * kops_cuda() on a machine without a driver or device returns NULL with
 * one plain line ("backend 'cuda': no usable CUDA device (...)"). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/cu_dnn.h"
#include "kernels/cuda/cu_internal.h"

static CuCtx *g_ctx; /* the backend's one context (see cu_internal.h) */

CuCtx *cu_ctx(void) { return g_ctx; }
double *cu_red_scratch(void) { return g_ctx->red; }

VbStatus cu_note(VbStatus code, const char *file, int line, const char *fmt, ...) {
    CuCtx *c = g_ctx;
    if (!c || c->err != VB_OK) return code;
    const char *base = strrchr(file, '/');
    int off = snprintf(c->errmsg, sizeof c->errmsg, "%s:%d: ", base ? base + 1 : file, line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errmsg + off, sizeof c->errmsg - (size_t)off, fmt, ap);
    va_end(ap);
    c->err = code;
    return code;
}

bool cu_check_rt(cudaError_t e, const char *what, const char *file, int line) {
    if (e == cudaSuccess) return true;
    cu_note(e == cudaErrorMemoryAllocation ? VB_ERR_NOMEM : VB_ERR_BACKEND, file, line,
            "CUDA: %s: %s", what, cudaGetErrorString(e));
    return false;
}

bool cu_check_blas(cublasStatus_t s, const char *what, const char *file, int line) {
    if (s == CUBLAS_STATUS_SUCCESS) return true;
    cu_note(s == CUBLAS_STATUS_ALLOC_FAILED ? VB_ERR_NOMEM : VB_ERR_BACKEND, file, line,
            "cuBLAS: %s: %s", what, cu_blas.status_string(s));
    return false;
}

/* ---- memory ---- */

static void *cu_alloc(size_t bytes) {
    void *p = NULL;
    size_t rounded = (bytes + 255) & ~(size_t)255;
    if (cudaMalloc(&p, rounded ? rounded : 256) != cudaSuccess) {
        (void)cudaGetLastError(); /* an out-of-memory is the caller's to report */
        return NULL;
    }
    CU_CHECK(cudaMemsetAsync(p, 0, rounded ? rounded : 256, g_ctx->stream));
    return p;
}

static void cu_free(void *p) {
    if (p) CU_CHECK(cudaFree(p));
}

/* Host -> device through the pinned ring: the caller's buffer is free again
 * on return, and the copy runs in stream order without the host waiting
 * (except for a slot still in use STAGE_SLOTS uploads later). */
#define STAGE_CHUNK ((size_t)32 << 20)
static void cu_upload(void *dst, const void *src, size_t bytes) {
    CuCtx *c = g_ctx;
    for (size_t off = 0; off < bytes; off += STAGE_CHUNK) {
        size_t len = bytes - off < STAGE_CHUNK ? bytes - off : STAGE_CHUNK;
        CuStage *s = &c->stage[c->stage_next];
        c->stage_next = (c->stage_next + 1) % CU_STAGE_SLOTS;
        if (s->used) CU_CHECK(cudaEventSynchronize(s->done));
        if (s->cap < len) {
            if (s->host) CU_CHECK(cudaFreeHost(s->host));
            s->host = NULL, s->cap = 0;
            size_t cap = cu_stage_capacity(len);
            if (!CU_CHECK(cudaHostAlloc(&s->host, cap, cudaHostAllocDefault))) return;
            s->cap = cap;
        }
        memcpy(s->host, (const char *)src + off, len);
        CU_CHECK(
            cudaMemcpyAsync((char *)dst + off, s->host, len, cudaMemcpyHostToDevice, c->stream));
        CU_CHECK(cudaEventRecord(s->done, c->stream));
        s->used = true;
    }
}

static void cu_download(void *dst, const void *src, size_t bytes) {
    if (!bytes) return;
    CU_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, g_ctx->stream));
    CU_CHECK(cudaStreamSynchronize(g_ctx->stream));
}

static void cu_copy(void *dst, const void *src, size_t bytes) {
    if (bytes && dst != src)
        CU_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, g_ctx->stream));
}

static void cu_zero(void *p, size_t bytes) {
    if (bytes) CU_CHECK(cudaMemsetAsync(p, 0, bytes, g_ctx->stream));
}

static void cu_sync(void) { CU_CHECK(cudaStreamSynchronize(g_ctx->stream)); }

/* ---- state ---- */

static VbStatus cu_set_precision(KPrecision p) {
    if (p != K_PREC_FP32 && p != K_PREC_BF16)
        return vb_fail_plain(VB_ERR_USAGE, "backend 'cuda': unknown precision %d", (int)p);
    g_ctx->prec = p;
    return VB_OK;
}

static VbStatus cu_status(void) {
    CuCtx *c = g_ctx;
    cudaError_t e = cudaStreamQuery(c->stream); /* reports a failed kernel without waiting */
    if (e != cudaSuccess && e != cudaErrorNotReady) CU_CHECK(e);
    if (c->err == VB_OK) return VB_OK;
    VbStatus s = vb_fail_plain(c->err, "backend 'cuda': %s", c->errmsg);
    c->err = VB_OK;
    c->errmsg[0] = 0;
    return s;
}

/* The kernel module's version line, where the driver exposes it. */
static void driver_version(char *buf, size_t n) {
    buf[0] = 0;
    FILE *f = fopen("/proc/driver/nvidia/version", "r");
    if (!f) return;
    char line[256];
    if (fgets(line, sizeof line, f)) {
        const char *p = strstr(line, "Kernel Module");
        if (p) {
            p += strlen("Kernel Module");
            while (*p == ' ' || *p == '\t') p++;
            size_t len = strcspn(p, " \t\n");
            snprintf(buf, n, "%.*s", (int)len, p);
        }
    }
    fclose(f);
}

static void cu_info(KInfo *out) {
    CuCtx *c = g_ctx;
    memset(out, 0, sizeof *out);
    snprintf(out->device, sizeof out->device, "%s (sm_%d%d, %d SMs, %.1f GiB)", c->name,
             c->cc_major, c->cc_minor, c->sm_count, (double)c->mem_total / 1073741824.0);
    int drv = 0, rt = 0, bl = 0;
    cudaDriverGetVersion(&drv);
    cudaRuntimeGetVersion(&rt);
    cu_blas.get_version(c->blas, &bl);
    char kmod[64];
    driver_version(kmod, sizeof kmod);
    snprintf(out->driver, sizeof out->driver, "%s%sCUDA %d.%d", kmod, kmod[0] ? " " : "",
             drv / 1000, (drv % 1000) / 10);
    size_t dv = cu_dnn_version(), dh = cu_dnn_header_version();
    snprintf(out->libraries, sizeof out->libraries,
             "CUDA runtime %d.%d (static), cuBLAS %d.%d.%d, cuDNN %zu.%zu.%zu (built with "
             "%zu.%zu.%zu)%s",
             rt / 1000, (rt % 1000) / 10, bl / 10000, (bl % 10000) / 100, bl % 100, dv / 10000,
             (dv % 10000) / 100, dv % 100, dh / 10000, (dh % 10000) / 100, dh % 100,
             c->conv_gemm_only ? ", convolutions without cuDNN (VADBENCH_CUDA_CONV=gemm)" : "");
}

static void cu_mem_info(size_t *free_bytes, size_t *total_bytes) {
    if (cudaMemGetInfo(free_bytes, total_bytes) != cudaSuccess) {
        (void)cudaGetLastError();
        *free_bytes = *total_bytes = 0;
    }
}

static void *cu_timer_new(void) {
    cudaEvent_t e;
    if (!CU_CHECK(cudaEventCreate(&e))) return NULL;
    return (void *)e;
}
static void cu_timer_free(void *t) { CU_CHECK(cudaEventDestroy((cudaEvent_t)t)); }
static void cu_timer_mark(void *t) { CU_CHECK(cudaEventRecord((cudaEvent_t)t, g_ctx->stream)); }
static double cu_timer_ms(void *a, void *b) {
    float ms = 0;
    if (!CU_CHECK(cudaEventSynchronize((cudaEvent_t)b))) return 0;
    if (!CU_CHECK(cudaEventElapsedTime(&ms, (cudaEvent_t)a, (cudaEvent_t)b))) return 0;
    return ms;
}

/* ---- context ---- */

static void ctx_destroy(void) {
    CuCtx *c = g_ctx;
    if (!c) return;
    cudaStreamSynchronize(c->stream);
    cu_conv_plans_free(c);
    for (int i = 0; i < CU_STAGE_SLOTS; i++) {
        if (c->stage[i].host) cudaFreeHost(c->stage[i].host);
        if (c->stage[i].done) cudaEventDestroy(c->stage[i].done);
    }
    if (c->red) cudaFree(c->red);
    if (c->scalar) cudaFree(c->scalar);
    if (c->red_host) cudaFreeHost(c->red_host);
    cu_dnn_destroy(c->dnn);
    if (c->blas) cu_blas.destroy(c->blas);
    if (c->blas_ws) cudaFree(c->blas_ws);
    if (c->stream) cudaStreamDestroy(c->stream);
    free(c->plans);
    free(c);
    g_ctx = NULL;
}

/* Build the context; VB_OK or VB_ERR_BACKEND with a plain message. */
static VbStatus ctx_create(void) {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0) {
        (void)cudaGetLastError();
        int drv = 0, rt = 0;
        cudaDriverGetVersion(&drv);
        cudaRuntimeGetVersion(&rt);
        char why[160];
        if (e == cudaErrorInsufficientDriver && drv == 0)
            snprintf(why, sizeof why, "no NVIDIA driver is loaded");
        else if (e == cudaErrorInsufficientDriver)
            snprintf(why, sizeof why, "the driver supports CUDA %d.%d, this build needs %d.%d",
                     drv / 1000, (drv % 1000) / 10, rt / 1000, (rt % 1000) / 10);
        else if (e != cudaSuccess) snprintf(why, sizeof why, "%s", cudaGetErrorString(e));
        else snprintf(why, sizeof why, "the driver reports 0 devices");
        return vb_fail_plain(VB_ERR_BACKEND, "backend 'cuda': no usable CUDA device (%s)", why);
    }
    CuCtx *c = (CuCtx *)calloc(1, sizeof *c);
    if (!c) return vb_fail_plain(VB_ERR_NOMEM, "backend 'cuda': out of host memory");
    g_ctx = c;
    const char *dev = getenv("VADBENCH_CUDA_DEVICE");
    c->device = dev ? atoi(dev) : 0;
    const char *conv = getenv("VADBENCH_CUDA_CONV");
    c->conv_gemm_only = conv && !strcmp(conv, "gemm");
    const char *verb = getenv("VADBENCH_CUDA_VERBOSE");
    c->verbose = verb && *verb && strcmp(verb, "0") != 0;
    cudaDeviceProp p;
    char why[256] = "";
    bool ok = c->device >= 0 && c->device < count;
    if (!ok) snprintf(why, sizeof why, "VADBENCH_CUDA_DEVICE=%d of %d devices", c->device, count);
    if (ok && (e = cudaSetDevice(c->device)) == cudaSuccess)
        e = cudaGetDeviceProperties(&p, c->device);
    if (ok && e != cudaSuccess) ok = false, snprintf(why, sizeof why, "%s", cudaGetErrorString(e));
    if (ok) {
        snprintf(c->name, sizeof c->name, "%s", p.name);
        c->sm_count = p.multiProcessorCount;
        c->cc_major = p.major, c->cc_minor = p.minor;
        c->mem_total = p.totalGlobalMem;
        e = cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking);
        if (e != cudaSuccess) ok = false, snprintf(why, sizeof why, "%s", cudaGetErrorString(e));
    }
    c->blas_ws_bytes = (size_t)32 << 20;
    if (ok && !cu_blas_load(why, sizeof why)) ok = false;
    if (ok &&
        (cu_blas.create(&c->blas) != CUBLAS_STATUS_SUCCESS ||
         cu_blas.set_stream(c->blas, c->stream) != CUBLAS_STATUS_SUCCESS ||
         cudaMalloc(&c->blas_ws, c->blas_ws_bytes) != cudaSuccess ||
         cu_blas.set_workspace(c->blas, c->blas_ws, c->blas_ws_bytes) != CUBLAS_STATUS_SUCCESS ||
         cu_blas.set_atomics_mode(c->blas, CUBLAS_ATOMICS_NOT_ALLOWED) != CUBLAS_STATUS_SUCCESS ||
         cu_blas.set_math_mode(c->blas, CUBLAS_DEFAULT_MATH) != CUBLAS_STATUS_SUCCESS))
        ok = false, snprintf(why, sizeof why, "cuBLAS could not be set up");
    if (ok && !c->conv_gemm_only) {
        char dw[160] = "";
        c->dnn = cu_dnn_create(c->stream, dw, sizeof dw);
        if (!c->dnn) ok = false, snprintf(why, sizeof why, "cuDNN: %s", dw);
    }
    for (int i = 0; ok && i < CU_STAGE_SLOTS; i++)
        if (cudaEventCreateWithFlags(&c->stage[i].done, cudaEventDisableTiming) != cudaSuccess)
            ok = false, snprintf(why, sizeof why, "cannot create events");
    if (ok &&
        (cudaMalloc(&c->red, CU_RED_CAP * sizeof(double)) != cudaSuccess ||
         cudaMalloc(&c->scalar, 64 * sizeof(float)) != cudaSuccess ||
         cudaHostAlloc(&c->red_host, 64 * sizeof(double), cudaHostAllocDefault) != cudaSuccess))
        ok = false, snprintf(why, sizeof why, "cannot allocate the reduction scratch");
    if (!ok) {
        int devid = c->device;
        (void)cudaGetLastError();
        ctx_destroy();
        return vb_fail_plain(VB_ERR_BACKEND, "backend 'cuda': cannot use device %d: %s", devid,
                             why);
    }
    KOps *k = &c->ops;
    k->name = "cuda";
    k->alloc = cu_alloc;
    k->free = cu_free;
    k->upload = cu_upload;
    k->download = cu_download;
    k->copy = cu_copy;
    k->zero = cu_zero;
    k->sync = cu_sync;
    k->set_precision = cu_set_precision;
    k->status = cu_status;
    k->info = cu_info;
    k->mem_info = cu_mem_info;
    k->timer_new = cu_timer_new;
    k->timer_free = cu_timer_free;
    k->timer_mark = cu_timer_mark;
    k->timer_ms = cu_timer_ms;
    cu_register_dense(k);
    cu_register_conv(k);
    cu_register_norm(k);
    cu_register_rnn(k);
    cu_register_glue(k);
    cu_register_pool(k);
    VbStatus st = kops_check_complete(k);
    if (st != VB_OK) {
        ctx_destroy();
        return st;
    }
    atexit(ctx_destroy);
    return VB_OK;
}

extern "C" const KOps *kops_cuda(void) {
    if (!g_ctx && ctx_create() != VB_OK) return NULL;
    return &g_ctx->ops;
}
