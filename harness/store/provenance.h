/* provenance: what produced a result — code version, build, libraries,
 * host and CPU. Recorded with every run and printed by --version. */
#ifndef VB_PROVENANCE_H
#define VB_PROVENANCE_H

#include <stdbool.h>

void provenance_set_build(const char *version, const char *sha, int dirty, const char *opts);
const char *provenance_version(void);
const char *provenance_git_sha(void);
bool provenance_dirty(void);
const char *provenance_build_opts(void);
/* "openblas 0.3.21, sqlite 3.40.1, libarchive 3.6.2, ..." */
const char *provenance_libraries(void);
const char *provenance_host(void);
const char *provenance_cpu_model(void);
/* The CPU backend's active instruction-set path ("generic", "avx2",
 * "avx512") and its numerics version (VB_NUMERICS_VERSION). */
const char *provenance_cpu_path(void);
int provenance_numerics(void);

#endif
