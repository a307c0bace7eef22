/* provenance: versions of the code, the build and the libraries, host and CPU,
 * and the CPU backend's instruction-set path and numerics version. */
#include "harness/store/provenance.h"

#include "kernels/kernels.h"

#include <archive.h>
#include <cblas.h>
#include <jansson.h>
#include <libfyaml.h>
#include <spng.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *g_version = "unknown", *g_sha = "unknown", *g_opts = "";
static int g_dirty;

void provenance_set_build(const char *version, const char *sha, int dirty, const char *opts) {
    g_version = version, g_sha = sha, g_dirty = dirty, g_opts = opts;
}
const char *provenance_version(void) { return g_version; }
const char *provenance_git_sha(void) { return g_sha; }
bool provenance_dirty(void) { return g_dirty != 0; }
const char *provenance_build_opts(void) { return g_opts; }

const char *provenance_libraries(void) {
    static char buf[512];
    if (!buf[0]) {
        char blas[128];
        snprintf(blas, sizeof blas, "%s", openblas_get_config());
        char *sp = strchr(blas, ' ');
        if (sp && (sp = strchr(sp + 1, ' '))) *sp = 0; /* "OpenBLAS 0.3.21" */
        snprintf(buf, sizeof buf, "%s, sqlite %s, %s, libfyaml %s, spng %d.%d.%d, jansson %s", blas,
                 sqlite3_libversion(), archive_version_string(), fy_library_version(),
                 SPNG_VERSION_MAJOR, SPNG_VERSION_MINOR, SPNG_VERSION_PATCH, jansson_version_str());
    }
    return buf;
}

const char *provenance_cpu_path(void) { return kisa_name(kisa_active()); }
int provenance_numerics(void) { return VB_NUMERICS_VERSION; }

const char *provenance_host(void) {
    static char buf[256];
    if (!buf[0] && gethostname(buf, sizeof buf - 1) != 0) snprintf(buf, sizeof buf, "unknown");
    return buf;
}

const char *provenance_cpu_model(void) {
    static char buf[256];
    if (buf[0]) return buf;
    snprintf(buf, sizeof buf, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return buf;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *p = strchr(line, ':');
            if (p) {
                p += 2;
                p[strcspn(p, "\n")] = 0;
                snprintf(buf, sizeof buf, "%s", p);
            }
            break;
        }
    }
    fclose(f);
    return buf;
}

void provenance_slurm(const char **job, int *task, const char **node) {
    static char buf[96];
    const char *id = getenv("SLURM_JOB_ID"), *arr = getenv("SLURM_ARRAY_JOB_ID");
    const char *tid = getenv("SLURM_ARRAY_TASK_ID"), *nd = getenv("SLURMD_NODENAME");
    *job = NULL, *task = -1, *node = nd && *nd ? nd : NULL;
    if (!id || !*id) return;
    char *end = NULL;
    long t = tid && *tid ? strtol(tid, &end, 10) : -1;
    if (arr && *arr && end && !*end && t >= 0 && t < 2147483647L) {
        snprintf(buf, sizeof buf, "%s_%ld", arr, t);
        *task = (int)t;
    } else {
        snprintf(buf, sizeof buf, "%s", id);
    }
    *job = buf;
}
