/* Hostile inputs through the real binary (./vadbench): each failure class a
 * probe found is refused with exit 2, quickly and within bounded memory —
 * a 2-byte file that made the YAML scanner loop forever, a NUL byte that
 * silently dropped the rest of a file, NaN and infinite compare settings,
 * 40,000 keys (libfyaml's duplicate-key check took ~100 s), a gzip'd idx
 * file and a zip member that expand to hundreds of MB under a memory limit
 * (the reader aborted with "realloc returned NULL"), a small zip of
 * 4096x4096 frames that asked for gigabytes of frame store, a file past the
 * size cap, and every bad experiment file exiting 2 without a leak (under
 * `make test SAN=1` LeakSanitizer is on for these runs: YAML errors leaked
 * before). */
#include "testutil.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <spng.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "kernels/clock.h"

#define DIR_ "tests/tmp/inputs"

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fwrite(p, 1, n, f), n);
    fclose(f);
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = 0;
    fclose(f);
    return s;
}

/* ./vadbench ARGS under `limits` (shell commands run first: a memory limit, may be ""), with
 * stderr in DIR_/NAME.err; returns the exit status and the seconds taken. */
static int vb(const char *name, const char *limits, const char *args, double *secs) {
    double t0 = vb_now_s();
    int rc = tu_sh("(%s timeout -k 2 60 ./vadbench %s) > " DIR_ "/%s.out 2> " DIR_ "/%s.err",
                   limits, args, name, name);
    if (secs) *secs = vb_now_s() - t0;
    return rc;
}

/* The shell prefix that caps what ./vadbench may allocate at `mb` MiB. The
 * data-segment limit (ulimit -d: heap and private anonymous mappings), not
 * the address-space one (ulimit -v), which also counts the file mappings of
 * the shared libraries: the CUDA build maps ~700 MB of cuBLAS before main().
 * Under AddressSanitizer (whose shadow memory no rlimit allows) its own
 * allocator cap does the same: a larger allocation returns NULL. */
static const char *mem_limit(char *buf, size_t n, int mb) {
#if defined(__SANITIZE_ADDRESS__)
    snprintf(buf, n, "export ASAN_OPTIONS=allocator_may_return_null=1:max_allocation_size_mb=%d;",
             mb);
#else
    snprintf(buf, n, "ulimit -d %d;", mb * 1024);
#endif
    return buf;
}

static void assert_err_has(const char *name, const char *text) {
    char p[256];
    snprintf(p, sizeof p, DIR_ "/%s.err", name);
    char *e = slurp(p);
    cr_assert(strstr(e, text), "%s: '%s' not in:\n%s", name, text, e);
    free(e);
}

Test(inputs, two_byte_directive_and_nul_files_exit_2_at_once, .timeout = 60) {
    tu_sh("mkdir -p " DIR_);
    write_bytes(DIR_ "/hang.yaml", "%\xff", 2); /* looped forever, deaf to Ctrl-C */
    double t;
    cr_assert_eq(vb("hang", "", "run " DIR_ "/hang.yaml --dry-run", &t), 2);
    cr_assert(t < 1.0, "took %.2f s", t);
    assert_err_has("hang", DIR_ "/hang.yaml:1:1: a YAML directive");
    /* 4 cells became 1 `base` cell on defaults, exit 0 */
    const char nul[] = "experiment: nul\nvariants: {a: {}, b: {}}\n\0seeds: [0, 1]\n";
    write_bytes(DIR_ "/nul.yaml", nul, sizeof nul - 1);
    cr_assert_eq(vb("nul", "", "run " DIR_ "/nul.yaml --dry-run", &t), 2);
    assert_err_has("nul", DIR_ "/nul.yaml:3:1: a NUL byte");
    /* accepted from the file although the command line refuses them */
    const char *nan = "experiment: nantol\ncompare: {tolerances: {test.accuracy: nan}}\n";
    write_bytes(DIR_ "/nan.yaml", nan, strlen(nan));
    cr_assert_eq(vb("nan", "", "run " DIR_ "/nan.yaml --dry-run", NULL), 2);
    assert_err_has("nan", "compare.tolerances: expected a finite non-negative number");
    const char *inf = "experiment: inflat\ncompare: {latency_factor: .inf}\n";
    write_bytes(DIR_ "/inf.yaml", inf, strlen(inf));
    cr_assert_eq(vb("inf", "", "run " DIR_ "/inf.yaml --dry-run", NULL), 2);
    assert_err_has("inf", "compare.latency_factor: expected a finite number > 1");
    const char *oct = "experiment: octal\nbase: {train: {epochs: 010}}\n";
    write_bytes(DIR_ "/oct.yaml", oct, strlen(oct));
    cr_assert_eq(vb("oct", "", "run " DIR_ "/oct.yaml --dry-run", NULL), 2);
    assert_err_has("oct", "got '010' (a leading zero");
}

/* Every file of tests/bad_experiments, and every past finding of the
 * experiment fuzz target, through the real binary: exit 2 and, in the
 * sanitizer build, no leak (ASAN_OPTIONS is ignored by a plain build; the
 * fuzz replay runs in-process with leak detection off). */
static int run_bad_dir(const char *dir) {
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "%s", dir);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char args[512];
        snprintf(args, sizeof args, "run %s/%s --dry-run --db " DIR_ "/none.db", dir, e->d_name);
        int rc = vb("bad", "export ASAN_OPTIONS=detect_leaks=1;", args, NULL);
        char *err = slurp(DIR_ "/bad.err");
        cr_assert(!strstr(err, "LeakSanitizer"), "%s leaks:\n%s", e->d_name, err);
        cr_assert_eq(rc, 2, "%s: exit %d:\n%s", e->d_name, rc, err);
        free(err);
        n++;
    }
    closedir(d);
    return n;
}

Test(inputs, bad_experiment_files_exit_2_and_leak_nothing, .timeout = 300) {
    tu_sh("mkdir -p " DIR_);
    int n = run_bad_dir("tests/bad_experiments");
    cr_assert(n >= 40, "%d bad files", n);
    n = run_bad_dir("tests/fuzz/regressions/experiment");
    cr_assert(n >= 3, "%d past findings", n);
    cr_assert_eq(access(DIR_ "/none.db", F_OK), -1, "a refused file created a database");
}

Test(inputs, files_past_the_size_cap_are_refused_unread, .timeout = 60) {
    tu_sh("mkdir -p " DIR_);
    /* 48 MB of keys ran for more than 6 minutes; anything past 1 MiB is refused */
    FILE *f = fopen(DIR_ "/big.yaml", "w");
    cr_assert_not_null(f);
    fprintf(f, "experiment: big\nbase:\n");
    for (int i = 0; i < 200000; i++) fprintf(f, "  key%d: 1\n", i);
    fclose(f);
    double t;
    cr_assert_eq(vb("big", "", "run " DIR_ "/big.yaml --dry-run", &t), 2);
    cr_assert(t < 2.0, "took %.2f s", t);
    assert_err_has("big", DIR_ "/big.yaml: more than 1048576 bytes");
}

Test(inputs, forty_thousand_keys_take_linear_time, .timeout = 60) {
    tu_sh("mkdir -p " DIR_);
    FILE *f = fopen(DIR_ "/keys.yaml", "w");
    cr_assert_not_null(f);
    fprintf(f, "experiment: keys\nbase:\n");
    for (int i = 0; i < 40000; i++) fprintf(f, "  k%d: 1\n", i);
    fclose(f);
    double t;
    cr_assert_eq(vb("keys", "", "run " DIR_ "/keys.yaml --dry-run", &t), 2);
    cr_assert(t < 2.0, "40,000 keys took %.2f s", t);
    assert_err_has("keys", "unknown key 'k0'");
    /* and a duplicate among them is found, in linear time too */
    f = fopen(DIR_ "/dups.yaml", "w");
    fprintf(f, "experiment: dups\nvariants:\n");
    for (int i = 0; i < 40000; i++) fprintf(f, "  v%d: {}\n", i);
    fprintf(f, "  v17: {}\n");
    fclose(f);
    cr_assert_eq(vb("dups", "", "run " DIR_ "/dups.yaml --dry-run", &t), 2);
    cr_assert(t < 2.0, "took %.2f s", t);
    assert_err_has("dups", "duplicate key 'v17' (first at line 20)");
}

/* A gzip'd (or plain, when !gz) file holding `head` then `zeros` zero bytes. */
static void write_gz(const char *path, const void *head, size_t nhead, size_t zeros, bool zip,
                     const char *member) {
    struct archive *a = archive_write_new();
    if (zip) {
        archive_write_set_format_zip(a);
    } else {
        archive_write_set_format_raw(a);
        archive_write_add_filter_gzip(a);
    }
    cr_assert_eq(archive_write_open_filename(a, path), ARCHIVE_OK);
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, member);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)(nhead + zeros));
    cr_assert_eq(archive_write_header(a, e), ARCHIVE_OK);
    archive_write_data(a, head, nhead);
    static char z[1 << 20];
    for (size_t left = zeros; left > 0;) {
        size_t k = left < sizeof z ? left : sizeof z;
        archive_write_data(a, z, k);
        left -= k;
    }
    archive_entry_free(e);
    archive_write_close(a);
    archive_write_free(a);
}

/* A valid idx file of `n` unsigned bytes with one dimension (labels) or
 * three (n images of 28x28). */
static size_t idx_bytes(uint8_t *b, uint32_t n, bool images) {
    size_t k = 0;
    b[k++] = 0, b[k++] = 0, b[k++] = 8, b[k++] = images ? 3 : 1;
    uint32_t d[3] = {n, 28, 28};
    for (int i = 0; i < (images ? 3 : 1); i++)
        for (int s = 3; s >= 0; s--) b[k++] = (uint8_t)(d[i] >> (8 * s));
    size_t body = images ? (size_t)n * 784 : n;
    memset(b + k, 1, body);
    return k + body;
}

Test(inputs, decompression_bombs_under_a_memory_limit_exit_2, .timeout = 120) {
    tu_sh("rm -rf " DIR_ "/fm && mkdir -p " DIR_ "/fm");
    static uint8_t b[16 + 10 * 784];
    /* train images: the header says 10 images, the stream holds 400 MB more */
    write_gz(DIR_ "/fm/train-images-idx3-ubyte.gz", b, idx_bytes(b, 10, true), 400u << 20, false,
             "idx");
    write_bytes(DIR_ "/fm/train-labels-idx1-ubyte", b, idx_bytes(b, 10, false));
    write_bytes(DIR_ "/fm/t10k-images-idx3-ubyte", b, idx_bytes(b, 10, true));
    write_bytes(DIR_ "/fm/t10k-labels-idx1-ubyte", b, idx_bytes(b, 10, false));
    struct stat sb;
    cr_assert_eq(stat(DIR_ "/fm/train-images-idx3-ubyte.gz", &sb), 0);
    cr_assert(sb.st_size < 1000000, "the bomb is %lld bytes", (long long)sb.st_size);
    char lim[160];
    mem_limit(lim, sizeof lim, 700);
    cr_assert_eq(vb("idxbomb", lim, "data inspect " DIR_ "/fm --source fmnist --size 28", NULL), 2);
    assert_err_has("idxbomb", "train-images-idx3-ubyte.gz: more data than the idx header declares");
    /* a header that declares the 400 MB itself: refused before anything is read */
    idx_bytes(b, 10, true);
    b[4] = 0x00, b[5] = 0x08, b[6] = 0x00, b[7] = 0x00; /* 524288 images */
    write_gz(DIR_ "/fm/train-images-idx3-ubyte.gz", b, 16, 0, false, "idx");
    cr_assert_eq(vb("idxdecl", lim, "data inspect " DIR_ "/fm --source fmnist --size 28", NULL), 2);
    assert_err_has("idxdecl", "the idx header declares 411041808 bytes, more than the limit");
    /* a zip member of 400 MB of zeros named like a frame */
    write_gz(DIR_ "/bomb.zip", "x", 1, 400u << 20, true, "Train/Arson/Arson001_x264_10.png");
    cr_assert_eq(vb("zipbomb", lim, "data inspect " DIR_ "/bomb.zip --no-cache", NULL), 2);
    assert_err_has("zipbomb", "member 'Train/Arson/Arson001_x264_10.png': declares 419430401 "
                              "bytes, more than the limit of 256 MiB");
}

/* One PNG of side x side RGB (a flat colour: it compresses to a few KB). */
static void *flat_png(int side, size_t *len) {
    size_t n = (size_t)side * side * 3;
    uint8_t *img = malloc(n);
    memset(img, 90, n);
    spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
    spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);
    struct spng_ihdr ih = {(uint32_t)side, (uint32_t)side, 8, SPNG_COLOR_TYPE_TRUECOLOR, 0, 0, 0};
    spng_set_ihdr(ctx, &ih);
    cr_assert_eq(spng_encode_image(ctx, img, n, SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE), 0);
    int err = 0;
    void *png = spng_get_png_buffer(ctx, len, &err);
    cr_assert_not_null(png);
    spng_ctx_free(ctx);
    free(img);
    return png;
}

Test(inputs, small_zip_of_huge_frames_is_refused_before_allocating, .timeout = 120) {
    tu_sh("mkdir -p " DIR_);
    size_t len;
    void *png = flat_png(4096, &len);
    struct archive *a = archive_write_new();
    archive_write_set_format_zip(a);
    cr_assert_eq(archive_write_open_filename(a, DIR_ "/huge.zip"), ARCHIVE_OK);
    for (int i = 0; i < 70; i++) { /* 70 frames of 4096x4096: 3.3 GiB decoded */
        char name[128];
        snprintf(name, sizeof name, "%s/%s/%s%03d_x264_%d.png", i % 2 ? "Train" : "Test",
                 i % 3 ? "Arson" : "NormalVideos", i % 3 ? "Arson" : "Normal", i / 10, i * 10);
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, name);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, (la_int64_t)len);
        archive_write_header(a, e);
        archive_write_data(a, png, len);
        archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
    free(png);
    double t;
    char lim[160];
    cr_assert_eq(vb("huge", mem_limit(lim, sizeof lim, 2000),
                    "data inspect " DIR_ "/huge.zip --no-cache", &t),
                 2);
    assert_err_has("huge", "70 frames of 4096x4096 would decode to 3.28 GiB, more than the "
                           "budget of 1.00 GiB");
    cr_assert(t < 10, "took %.1f s", t);
}
