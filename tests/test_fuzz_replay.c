/* Fuzz replay: every committed corpus input (tests/fuzz/corpus/T/) and every
 * past finding (tests/fuzz/regressions/T/: crashes, hangs, leaks, each named
 * for what it found) goes through fuzz target T's entry point in this plain
 * build (the sanitizer build with `make test SAN=1`), so CI replays what the
 * fuzzers learnt without fuzzing. Each input must finish within 5 s (they
 * take milliseconds; the hang inputs looped forever before their fix, and
 * a loaded CI machine under the sanitizers is slow), the corpus must not
 * be empty, and some of it must be accepted by the reader (else the target
 * would fuzz nothing past the first check). */
#include "testutil.h"

#include <dirent.h>
#include <sys/stat.h>
#include <time.h>

#include "kernels/clock.h"
#include "tests/fuzz/fuzz.h"

typedef int (*FuzzFn)(const uint8_t *, size_t);

/* Run every file of dir through fn; returns how many there were. */
static int replay_dir(const char *dir, FuzzFn fn) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, "README.md")) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) continue;
        FILE *f = fopen(path, "rb");
        cr_assert_not_null(f, "%s", path);
        uint8_t *buf = malloc((size_t)sb.st_size + 1);
        cr_assert_eq(fread(buf, 1, (size_t)sb.st_size, f), (size_t)sb.st_size, "%s", path);
        fclose(f);
        double t0 = vb_now_s();
        cr_assert_eq(fn(buf, (size_t)sb.st_size), 0, "%s", path);
        double dt = vb_now_s() - t0;
        cr_assert(dt < 5.0, "%s took %.2f s (a hang?)", path, dt);
        free(buf);
        n++;
    }
    closedir(d);
    return n;
}

static void replay(const char *name, FuzzFn fn) {
    char dir[256];
    snprintf(dir, sizeof dir, "tests/fuzz/corpus/%s", name);
    fn((const uint8_t *)"", 0); /* a target's one-time set-up is not an input's time */
    fuzz_accepted = 0;
    int seeds = replay_dir(dir, fn);
    cr_assert(seeds >= 2, "%s: %d corpus inputs (the seed corpus is missing?)", dir, seeds);
    cr_assert(fuzz_accepted > 0,
              "%s: no corpus input was accepted: the target stops at the first "
              "check and fuzzes nothing behind it",
              dir);
    snprintf(dir, sizeof dir, "tests/fuzz/regressions/%s", name);
    replay_dir(dir, fn);
    fuzz_remove_scratch();
}

Test(fuzz_replay, experiment, .timeout = 120) { replay("experiment", fuzz_experiment); }
Test(fuzz_replay, safetensors, .timeout = 120) { replay("safetensors", fuzz_safetensors); }
Test(fuzz_replay, checkpoint, .timeout = 120) { replay("checkpoint", fuzz_checkpoint); }
Test(fuzz_replay, archive, .timeout = 120) { replay("archive", fuzz_archive); }
Test(fuzz_replay, idx, .timeout = 120) { replay("idx", fuzz_idx); }
Test(fuzz_replay, framecache, .timeout = 120) { replay("framecache", fuzz_framecache); }
Test(fuzz_replay, store, .timeout = 120) { replay("store", fuzz_store); }
