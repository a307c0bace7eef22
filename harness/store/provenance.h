/* provenance: what produced a result — code version, build, libraries,
 * host and CPU, and the Slurm job (job id, array task id, node) when the
 * process runs as a Slurm job. Recorded with every run and printed by
 * --version. */
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
/* The Slurm job this process runs in, from the environment Slurm gives a job
 * (SLURM_JOB_ID, SLURM_ARRAY_JOB_ID, SLURM_ARRAY_TASK_ID, SLURMD_NODENAME):
 * *job is "ARRAYJOB_TASK" for an array task (as squeue shows it), the job id
 * otherwise, NULL outside Slurm; *task the array task id (-1: not an array
 * task); *node the node's name (NULL when unknown). */
void provenance_slurm(const char **job, int *task, const char **node);
/* The CPU backend's active instruction-set path ("generic", "avx2",
 * "avx512") and its numerics version (VB_NUMERICS_VERSION). */
const char *provenance_cpu_path(void);
int provenance_numerics(void);

#endif
