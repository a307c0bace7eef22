/* slurm_sys: running Slurm's client programs (sbatch, squeue, scontrol,
 * scancel) as child processes — the stable interface to a Slurm cluster
 * (its C API changes between releases) — and small file helpers the
 * submission code shares.
 *
 * A program is looked up on PATH first, so that a machine without Slurm
 * gets one clear line ("sbatch not found: …") instead of an exec failure.
 * Output is captured whole (a few kilobytes from these programs); the
 * child's stdin is /dev/null. Nothing here knows what a submission is. */
#ifndef VB_SLURM_SYS_H
#define VB_SLURM_SYS_H

#include <stdbool.h>
#include <stddef.h>

#include "kernels/status.h"

/* The program `name` on PATH, as a malloc'ed path; VB_ERR_USAGE "NAME not
 * found: …" (exit 2) when PATH has none. */
VbStatus slurm_find_program(const char *name, char **path);

/* Run argv[0] (found on PATH) with argv, wait for it; *out receives its
 * stdout and *err its stderr (malloc'ed, NUL-terminated; either may be NULL
 * to discard), *rc its exit status (128 + signal when killed). A program
 * that is not on PATH is VB_ERR_USAGE as slurm_find_program says; failure to
 * start is VB_ERR_IO. */
VbStatus slurm_run(char *const argv[], char **out, char **err, int *rc);

/* Write `text` to `path` atomically (a temporary file renamed over it),
 * with mode `mode`. */
VbStatus slurm_write_file(const char *path, const char *text, int mode);
/* Read a whole (small) file; VB_ERR_IO naming it when it cannot be read. */
VbStatus slurm_read_file(const char *path, char **text);
/* mkdir -p. */
VbStatus slurm_mkdirs(const char *path);
/* `text` quoted for bash: '…' with ' written as '\'' (malloc'ed). */
char *slurm_shell_quote(const char *text);
/* A growing string: append printf-style. */
typedef struct SlurmBuf {
    char *s;
    size_t len, cap;
} SlurmBuf;
void slurm_buf_printf(SlurmBuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
