/* fuzz: what the fuzz targets in tests/fuzz/ share.
 *
 * Each target is one file, fuzz_NAME.c, with an entry point
 * `int fuzz_NAME(const uint8_t *data, size_t size)` that feeds the bytes to
 * one of the program's input paths exactly as the program does (most of
 * them read files, so the bytes are written to a file first). Built with
 * -DVB_LIBFUZZER, the file also defines LLVMFuzzerTestOneInput and is a
 * libFuzzer target (`make fuzz`); built without, it is linked into the test
 * suite, whose fuzz_replay tests run every committed corpus input and every
 * past finding through the same entry point (tests/test_fuzz_replay.c).
 *
 * An entry point must return 0 for every input, leave nothing allocated or
 * open, and write nothing to stdout or stderr: a crash, a sanitizer report,
 * a leak or a hang is a finding.
 *
 * Must not be asked to: check what a parser returns (the unit tests do);
 * the targets only drive the code. */
#ifndef VB_FUZZ_H
#define VB_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* A private scratch directory for this process ($TMPDIR or /tmp, made on
 * first use); `name` inside it, as a path in a static buffer per call site
 * (copy it if it must outlive the next call). */
const char *fuzz_path(const char *name);
/* Write data to `path` (truncating); 0 on success. */
int fuzz_write(const char *path, const uint8_t *data, size_t size);
/* Append data to `path`; 0 on success. */
int fuzz_append(const char *path, const uint8_t *data, size_t size);
/* Remove every file in the scratch directory (not the directory). */
void fuzz_clean(void);
/* Remove the scratch directory with its files (end of a replay). */
void fuzz_remove_scratch(void);

/* Inputs the program's reader accepted so far (each target counts its own):
 * the replay checks that the seeds reach past the first refusal. */
extern int fuzz_accepted;

int fuzz_experiment(const uint8_t *data, size_t size);
int fuzz_safetensors(const uint8_t *data, size_t size);
int fuzz_checkpoint(const uint8_t *data, size_t size);
int fuzz_archive(const uint8_t *data, size_t size);
int fuzz_idx(const uint8_t *data, size_t size);
int fuzz_framecache(const uint8_t *data, size_t size);
int fuzz_store(const uint8_t *data, size_t size);

#ifdef VB_LIBFUZZER
#define FUZZ_TARGET(fn)                                           \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fn(data, size); }
#else
#define FUZZ_TARGET(fn)
#endif

#endif
