/* Tests of models/safetensors: writer -> reader round trips, F16/BF16/F64
 * decoding from hand-made bytes, one generated file per malformed-header
 * case (each must give VB_ERR_INPUT naming the file), truncation at every
 * length and random header corruption (never a crash), writer errors, and
 * files written by the PyTorch side (tests/fixtures/). Scratch files go to
 * tests/tmp/ (made by `make test`, and here if missing). */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "models/safetensors.h"

#define TMPDIR "tests/tmp"

static void ensure_tmp(void) {
    if (mkdir("tests", 0777) != 0 && errno != EEXIST) cr_assert_fail("mkdir tests");
    if (mkdir(TMPDIR, 0777) != 0 && errno != EEXIST) cr_assert_fail("mkdir " TMPDIR);
}

static void write_bytes(const char *path, const void *bytes, size_t n) {
    ensure_tmp();
    FILE *fp = fopen(path, "wb");
    cr_assert_not_null(fp, "cannot create %s", path);
    if (n) cr_assert_eq(fwrite(bytes, 1, n, fp), n);
    cr_assert_eq(fclose(fp), 0);
}

/* A file with an explicit header length field, header text and data. */
static void write_raw_len(const char *path, uint64_t hlen, const char *header, size_t header_n,
                          const void *data, size_t data_n) {
    size_t n = 8 + header_n + data_n;
    unsigned char *buf = malloc(n);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)(hlen >> (8 * i));
    memcpy(buf + 8, header, header_n);
    if (data_n) memcpy(buf + 8 + header_n, data, data_n);
    write_bytes(path, buf, n);
    free(buf);
}

static void write_raw(const char *path, const char *header, const void *data, size_t data_n) {
    write_raw_len(path, strlen(header), header, strlen(header), data, data_n);
}

static unsigned char *read_bytes(const char *path, size_t *n) {
    FILE *fp = fopen(path, "rb");
    cr_assert_not_null(fp, "cannot open %s", path);
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *buf = malloc(len ? (size_t)len : 1);
    cr_assert_eq(fread(buf, 1, (size_t)len, fp), (size_t)len);
    fclose(fp);
    *n = (size_t)len;
    return buf;
}

/* st_open must fail with VB_ERR_INPUT, a message naming the file and
 * containing `what`, and leave the StFile empty. */
static void expect_bad(const char *path, const char *what) {
    StFile f;
    vb_clear_error();
    VbStatus s = st_open(path, &f);
    cr_assert_eq(s, VB_ERR_INPUT, "%s: expected VB_ERR_INPUT, got %s (%s)", path, vb_status_name(s),
                 vb_errmsg());
    cr_assert(strstr(vb_errmsg(), path) != NULL, "message does not name the file: '%s'",
              vb_errmsg());
    cr_assert(strstr(vb_errmsg(), what) != NULL, "message lacks '%s': '%s'", what, vb_errmsg());
    cr_assert_eq(f.n, 0);
    cr_assert_null(f.data);
    st_close(&f);
}

/* One test per malformed case: header text (length field = its length) and
 * `ndata` zero bytes of data. */
static const unsigned char k_zeros[64];
#define BAD_HEADER(tname, header, ndata, what)                      \
    Test(safetensors_malformed, tname) {                            \
        const char *path = TMPDIR "/st_bad_" #tname ".safetensors"; \
        write_raw(path, header, k_zeros, ndata);                    \
        expect_bad(path, what);                                     \
    }

/* ---------------------------------------------------------------- round trip */

Test(safetensors, round_trip_values_shapes_metadata) {
    const char *path = TMPDIR "/st_roundtrip.safetensors";
    ensure_tmp();
    float a[2 * 3 * 4], b[5], scalar = -3.25f, big[1000];
    for (int i = 0; i < 24; i++) a[i] = (float)i * 0.5f - 3.0f;
    for (int i = 0; i < 5; i++) b[i] = 1e-30f * (float)(i + 1);
    b[4] = -0.0f;
    tu_fill(big, 1000, 42, -10, 10);
    int64_t sa[3] = {2, 3, 4}, sb[1] = {5}, s0[2] = {3, 0}, sbig[4] = {2, 5, 10, 10};
    StWriter *w = st_writer_new();
    st_writer_add(w, "layer.weight", 3, sa, a);
    st_writer_add(w, "b", 1, sb, b);
    st_writer_add(w, "scalar", 0, NULL, &scalar);
    st_writer_add(w, "empty", 2, s0, NULL);
    st_writer_add(w, "z.big", 4, sbig, big);
    st_writer_meta(w, "format", "pt");
    st_writer_meta(w, "note", "quote \" and unicode \xc3\xa9");
    st_writer_meta(w, "format", "pt2"); /* replaces */
    cr_assert_eq(st_writer_write(w, path), VB_OK, "%s", vb_errmsg());
    st_writer_free(w);

    StFile f;
    cr_assert_eq(st_open(path, &f), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(f.n, 5);
    cr_assert_eq(f.data_start % 8, 0, "data section not 8-byte aligned");
    for (int i = 1; i < f.n; i++) cr_assert(strcmp(f.t[i - 1].name, f.t[i].name) < 0);
    cr_assert_str_eq(st_meta(&f, "format"), "pt2");
    cr_assert_str_eq(st_meta(&f, "note"), "quote \" and unicode \xc3\xa9");
    cr_assert_null(st_meta(&f, "absent"));
    cr_assert_null(st_find(&f, "absent"));
    cr_assert_null(st_find(&f, "layer"));

    const StTensor *t = st_find(&f, "layer.weight");
    cr_assert_not_null(t);
    cr_assert_eq(t->dtype, ST_F32);
    cr_assert_str_eq(t->dtype_name, "F32");
    cr_assert_eq(t->ndim, 3);
    cr_assert(t->shape[0] == 2 && t->shape[1] == 3 && t->shape[2] == 4);
    cr_assert_eq(t->numel, 24);
    cr_assert_eq(t->nbytes, 96);
    float got[1000];
    cr_assert_eq(st_read_f32(&f, t, got, 24), VB_OK);
    tu_assert_bytes_equal(got, a, sizeof a, "layer.weight");

    cr_assert_eq(st_read_f32_named(&f, "b", got, 5), VB_OK);
    tu_assert_bytes_equal(got, b, sizeof b, "b (tiny and -0 values)");

    t = st_find(&f, "scalar");
    cr_assert(t && t->ndim == 0 && t->numel == 1 && t->nbytes == 4);
    cr_assert_eq(st_read_f32(&f, t, got, 1), VB_OK);
    cr_assert_eq(got[0], -3.25f);

    t = st_find(&f, "empty");
    cr_assert(t && t->ndim == 2 && t->shape[0] == 3 && t->shape[1] == 0 && t->numel == 0);
    cr_assert_eq(t->nbytes, 0);
    cr_assert_eq(st_read_f32(&f, t, got, 0), VB_OK);

    cr_assert_eq(st_read_f32_named(&f, "z.big", got, 1000), VB_OK);
    tu_assert_bytes_equal(got, big, sizeof big, "z.big");

    /* wrong element count and absent names are input errors naming the file */
    cr_assert_eq(st_read_f32_named(&f, "b", got, 4), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), path) && strstr(vb_errmsg(), "'b'"), "%s", vb_errmsg());
    cr_assert_eq(st_read_f32_named(&f, "nope", got, 1), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "nope"), "%s", vb_errmsg());
    st_close(&f);
    st_close(&f); /* idempotent */
}

Test(safetensors, write_replaces_atomically_and_leaves_no_temp_files) {
    const char *dir = TMPDIR "/st_atomic";
    const char *path = TMPDIR "/st_atomic/w.safetensors";
    ensure_tmp();
    mkdir(dir, 0777);
    float v1[3] = {1, 2, 3}, v2[2] = {7, 8};
    int64_t s1 = 3, s2 = 2;
    for (int round = 0; round < 2; round++) {
        StWriter *w = st_writer_new();
        st_writer_add(w, "v", 1, round ? &s2 : &s1, round ? v2 : v1);
        cr_assert_eq(st_writer_write(w, path), VB_OK, "%s", vb_errmsg());
        st_writer_free(w);
    }
    StFile f;
    cr_assert_eq(st_open(path, &f), VB_OK, "%s", vb_errmsg());
    float got[2];
    cr_assert_eq(st_read_f32_named(&f, "v", got, 2), VB_OK);
    cr_assert(got[0] == 7 && got[1] == 8);
    st_close(&f);
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    struct dirent *de;
    while ((de = readdir(d)))
        cr_assert(de->d_name[0] == '.' || strcmp(de->d_name, "w.safetensors") == 0,
                  "leftover file %s", de->d_name);
    closedir(d);
}

Test(safetensors, empty_file_without_tensors) {
    const char *path = TMPDIR "/st_none.safetensors";
    ensure_tmp();
    StWriter *w = st_writer_new();
    cr_assert_eq(st_writer_write(w, path), VB_OK, "%s", vb_errmsg());
    st_writer_free(w);
    StFile f;
    cr_assert_eq(st_open(path, &f), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(f.n, 0);
    cr_assert_null(st_find(&f, "x"));
    cr_assert_null(st_meta(&f, "x"));
    st_close(&f);
}

Test(safetensors, writer_errors_name_the_path) {
    float v = 1;
    int64_t s = 1;
    StWriter *w = st_writer_new();
    st_writer_add(w, "v", 1, &s, &v);
    const char *bad = TMPDIR "/no_such_dir/x.safetensors";
    vb_clear_error();
    cr_assert_eq(st_writer_write(w, bad), VB_ERR_IO);
    cr_assert(strstr(vb_errmsg(), bad) != NULL, "%s", vb_errmsg());
    st_writer_free(w);

    w = st_writer_new();
    st_writer_add(w, "v", 1, &s, &v);
    st_writer_add(w, "v", 1, &s, &v);
    const char *dup = TMPDIR "/st_dup_write.safetensors";
    cr_assert_eq(st_writer_write(w, dup), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), dup) && strstr(vb_errmsg(), "twice"), "%s", vb_errmsg());
    st_writer_free(w);

    w = st_writer_new();
    int64_t neg = -2;
    st_writer_add(w, "n", 1, &neg, &v);
    cr_assert_eq(st_writer_write(w, dup), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "shape"), "%s", vb_errmsg());
    st_writer_free(w);
}

/* A failing write (here: the file-size limit, which fails write() with
 * EFBIG the way a full disk fails it with ENOSPC) is VB_ERR_IO naming the
 * path, leaves the previous file intact and no temporary file behind.
 * Criterion runs each test in its own process, so the limit stays here. */
Test(safetensors, failed_write_keeps_old_file) {
    const char *dir = TMPDIR "/st_fsize";
    const char *path = TMPDIR "/st_fsize/w.safetensors";
    ensure_tmp();
    mkdir(dir, 0777);
    float small = 1, big[4096];
    tu_fill(big, 4096, 1, -1, 1);
    int64_t s1 = 1, sbig = 4096;
    StWriter *w = st_writer_new();
    st_writer_add(w, "v", 1, &s1, &small);
    cr_assert_eq(st_writer_write(w, path), VB_OK, "%s", vb_errmsg());
    st_writer_free(w);

    signal(SIGXFSZ, SIG_IGN);
    struct rlimit old, lim;
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 4096;
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    w = st_writer_new();
    st_writer_add(w, "v", 1, &sbig, big);
    VbStatus s = st_writer_write(w, path);
    setrlimit(RLIMIT_FSIZE, &old);
    st_writer_free(w);
    cr_assert_eq(s, VB_ERR_IO, "got %s", vb_status_name(s));
    cr_assert(strstr(vb_errmsg(), path) && strstr(vb_errmsg(), "write failed"), "%s", vb_errmsg());

    StFile f;
    cr_assert_eq(st_open(path, &f), VB_OK, "%s", vb_errmsg());
    float got;
    cr_assert_eq(st_read_f32_named(&f, "v", &got, 1), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(got, 1.0f);
    st_close(&f);
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    struct dirent *de;
    while ((de = readdir(d)))
        cr_assert(de->d_name[0] == '.' || strcmp(de->d_name, "w.safetensors") == 0,
                  "leftover file %s", de->d_name);
    closedir(d);
}

/* ---------------------------------------------------------------- dtypes */

Test(safetensors, f16_decoding_including_subnormal_inf_nan) {
    static const uint16_t h[] = {0x3c00, 0xc000, 0x7bff, 0x0400, 0x0001, 0x03ff,
                                 0x7c00, 0xfc00, 0x7e00, 0x8000, 0x3555, 0x8001};
    const float want[] = {
        1.0f,      -2.0f, 65504.0f, 6.103515625e-05f, 5.9604645e-08f, 6.0975552e-05f, INFINITY,
        -INFINITY, NAN,   -0.0f,    0.33325195f,      -5.9604645e-08f};
    enum { N = sizeof h / sizeof h[0] };
    unsigned char data[2 * N];
    for (int i = 0; i < N; i++) data[2 * i] = h[i] & 0xff, data[2 * i + 1] = h[i] >> 8;
    const char *path = TMPDIR "/st_f16.safetensors";
    write_raw(path, "{\"h\":{\"dtype\":\"F16\",\"shape\":[3,4],\"data_offsets\":[0,24]}}", data,
              sizeof data);
    StFile f;
    cr_assert_eq(st_open(path, &f), VB_OK, "%s", vb_errmsg());
    const StTensor *t = st_find(&f, "h");
    cr_assert(t && t->dtype == ST_F16 && t->numel == N);
    float got[N];
    cr_assert_eq(st_read_f32(&f, t, got, N), VB_OK, "%s", vb_errmsg());
    for (int i = 0; i < N; i++) {
        if (isnan(want[i])) cr_assert(isnan(got[i]), "element %d", i);
        else
            cr_assert(got[i] == want[i] && signbit(got[i]) == signbit(want[i]),
                      "element %d (0x%04x): got %.9g want %.9g", i, h[i], got[i], want[i]);
    }
    st_close(&f);
}

/* All 65536 half values: finite ones strictly increasing from +0 to 65504,
 * 0x7c00 infinite, 0x7c01..0x7fff NaN, and the negatives mirror them. */
Test(safetensors, f16_all_values_monotone_and_mirrored) {
    enum { N = 65536 };
    unsigned char *data = malloc(2 * N);
    for (int i = 0; i < N; i++) data[2 * i] = i & 0xff, data[2 * i + 1] = (unsigned char)(i >> 8);
    const char *path = TMPDIR "/st_f16_all.safetensors";
    write_raw(path, "{\"all\":{\"dtype\":\"F16\",\"shape\":[256,256],\"data_offsets\":[0,131072]}}",
              data, 2 * N);
    free(data);
    StFile f;
    cr_assert_eq(st_open(path, &f), VB_OK, "%s", vb_errmsg());
    float *v = tu_alloc(N);
    cr_assert_eq(st_read_f32_named(&f, "all", v, N), VB_OK, "%s", vb_errmsg());
    cr_assert(v[0] == 0.0f && !signbit(v[0]));
    for (int i = 1; i < 0x7c00; i++) cr_assert(v[i] > v[i - 1], "0x%04x", i);
    cr_assert_eq(v[0x7bff], 65504.0f);
    cr_assert(isinf(v[0x7c00]) && v[0x7c00] > 0);
    for (int i = 0x7c01; i < 0x8000; i++) cr_assert(isnan(v[i]), "0x%04x", i);
    for (int i = 0; i < 0x8000; i++) {
        if (isnan(v[i])) cr_assert(isnan(v[i | 0x8000]));
        else cr_assert(v[i | 0x8000] == -v[i] && signbit(v[i | 0x8000]), "0x%04x", i | 0x8000);
    }
    free(v);
    st_close(&f);
}

Test(safetensors, bf16_and_f64_decoding) {
    static const uint16_t h[] = {0x3f80, 0xc040, 0x7f80, 0x0001, 0x4049, 0x7fc0, 0x8000, 0xff80};
    const float want[] = {1.0f, -3.0f, INFINITY, 9.18354962e-41f, 3.140625f, NAN, -0.0f, -INFINITY};
    const double d[] = {0.1, -1e300, 1e-310, 2.5};
    unsigned char data[16 + 32];
    for (int i = 0; i < 8; i++) data[2 * i] = h[i] & 0xff, data[2 * i + 1] = h[i] >> 8;
    memcpy(data + 16, d, sizeof d);
    const char *path = TMPDIR "/st_bf16.safetensors";
    write_raw(path,
              "{\"d\":{\"dtype\":\"F64\",\"shape\":[2,2],\"data_offsets\":[16,48]},"
              "\"b\":{\"dtype\":\"BF16\",\"shape\":[8],\"data_offsets\":[0,16]}}",
              data, sizeof data);
    StFile f;
    cr_assert_eq(st_open(path, &f), VB_OK, "%s", vb_errmsg());
    float got[8];
    cr_assert_eq(st_read_f32_named(&f, "b", got, 8), VB_OK, "%s", vb_errmsg());
    for (int i = 0; i < 8; i++) {
        if (isnan(want[i])) cr_assert(isnan(got[i]));
        else
            cr_assert(got[i] == want[i] && signbit(got[i]) == signbit(want[i]),
                      "element %d: got %.9g want %.9g", i, got[i], want[i]);
    }
    cr_assert_eq(st_find(&f, "d")->dtype, ST_F64);
    cr_assert_eq(st_read_f32_named(&f, "d", got, 4), VB_OK, "%s", vb_errmsg());
    cr_assert(got[0] == 0.1f && got[1] == -INFINITY && got[2] == 0.0f && got[3] == 2.5f);
    st_close(&f);
}

Test(safetensors, other_dtypes_listed_but_not_read_as_float) {
    unsigned char data[8 * 2 + 3] = {0};
    const char *path = TMPDIR "/st_i64.safetensors";
    write_raw(path,
              "{\"__metadata__\":{\"format\":\"pt\"},"
              "\"idx\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]},"
              "\"mask\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[16,19]}}",
              data, sizeof data);
    StFile f;
    cr_assert_eq(st_open(path, &f), VB_OK, "%s", vb_errmsg());
    const StTensor *t = st_find(&f, "idx");
    cr_assert(t && t->dtype == ST_OTHER && t->numel == 2);
    cr_assert_str_eq(t->dtype_name, "I64");
    cr_assert_str_eq(st_find(&f, "mask")->dtype_name, "BOOL");
    float got[2];
    cr_assert_eq(st_read_f32(&f, t, got, 2), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "I64") && strstr(vb_errmsg(), path) && strstr(vb_errmsg(), "idx"),
              "%s", vb_errmsg());
    st_close(&f);
}

/* ---------------------------------------------------------------- malformed */

Test(safetensors_malformed, missing_file_is_io_error) {
    StFile f;
    const char *path = TMPDIR "/st_does_not_exist.safetensors";
    cr_assert_eq(st_open(path, &f), VB_ERR_IO);
    cr_assert(strstr(vb_errmsg(), path) != NULL, "%s", vb_errmsg());
    st_close(&f);
}

Test(safetensors_malformed, directory) {
    ensure_tmp();
    expect_bad(TMPDIR, "not a regular file");
}

Test(safetensors_malformed, empty_file) {
    const char *path = TMPDIR "/st_bad_empty.safetensors";
    write_bytes(path, "", 0);
    expect_bad(path, "too short");
}

Test(safetensors_malformed, shorter_than_length_field) {
    const char *path = TMPDIR "/st_bad_short.safetensors";
    write_bytes(path, "\x10\0\0", 3);
    expect_bad(path, "too short");
}

Test(safetensors_malformed, header_length_beyond_file) {
    const char *path = TMPDIR "/st_bad_hlen_beyond.safetensors";
    write_raw_len(path, 1000, "{}", 2, NULL, 0);
    expect_bad(path, "exceeds the file");
}

Test(safetensors_malformed, huge_header_length) {
    const char *path = TMPDIR "/st_bad_hlen_huge.safetensors";
    write_raw_len(path, UINT64_MAX, "{}", 2, NULL, 0);
    expect_bad(path, "exceeds the limit");
    write_raw_len(path, (uint64_t)ST_MAX_HEADER + 1, "{}", 2, NULL, 0);
    expect_bad(path, "exceeds the limit");
}

Test(safetensors_malformed, zero_header_length) {
    const char *path = TMPDIR "/st_bad_hlen_zero.safetensors";
    write_raw_len(path, 0, "", 0, NULL, 0);
    expect_bad(path, "too small");
}

BAD_HEADER(invalid_json, "{\"a\":{\"dtype\":\"F32\",", 0, "not valid JSON")
BAD_HEADER(trailing_garbage, "{}  xyz", 0, "not valid JSON")
BAD_HEADER(invalid_utf8, "{\"a\xff\":{}}", 0, "not valid JSON")
BAD_HEADER(header_not_object, "[1,2,3]", 0, "not a JSON object")
BAD_HEADER(entry_not_object, "{\"a\":5}", 0, "not an object")
BAD_HEADER(entry_is_array, "{\"a\":[\"F32\",[1],[0,4]]}", 4, "not an object")
BAD_HEADER(missing_dtype, "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "missing \"dtype\"")
BAD_HEADER(dtype_not_string, "{\"a\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
           "not a string")
BAD_HEADER(unknown_dtype, "{\"a\":{\"dtype\":\"F31\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
           "unknown dtype")
BAD_HEADER(missing_shape, "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4,
           "missing \"shape\"")
BAD_HEADER(shape_not_array, "{\"a\":{\"dtype\":\"F32\",\"shape\":4,\"data_offsets\":[0,16]}}", 16,
           "not an array")
BAD_HEADER(negative_dim, "{\"a\":{\"dtype\":\"F32\",\"shape\":[-1,2],\"data_offsets\":[0,0]}}", 0,
           "shape[0]")
BAD_HEADER(fractional_dim, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8,
           "shape[0]")
BAD_HEADER(string_dim, "{\"a\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", 8,
           "shape[0]")
BAD_HEADER(too_many_dims,
           "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4,
           "9 dimensions")
BAD_HEADER(shape_overflow,
           "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4],\"data_offsets\":[0,4]}}",
           4, "overflows")
BAD_HEADER(bytes_overflow,
           "{\"a\":{\"dtype\":\"F64\",\"shape\":[2305843009213693952],\"data_offsets\":[0,4]}}", 4,
           "overflows")
BAD_HEADER(integer_beyond_int64,
           "{\"a\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,4]}}", 4,
           "not valid JSON")
BAD_HEADER(missing_offsets, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4,
           "missing \"data_offsets\"")
BAD_HEADER(offsets_wrong_arity,
           "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8, "data_offsets")
BAD_HEADER(offsets_not_array, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":4}}", 8,
           "data_offsets")
BAD_HEADER(offsets_negative, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 8,
           "data_offsets")
BAD_HEADER(offsets_reversed, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 8,
           "begin 4 > end 0")
BAD_HEADER(offsets_beyond_data, "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}",
           12, "beyond the data section")
BAD_HEADER(offsets_huge,
           "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[9223372036854775800,"
           "9223372036854775804]}}",
           8, "beyond the data section")
BAD_HEADER(size_mismatch_shape,
           "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", 24, "needs 24")
BAD_HEADER(size_mismatch_dtype, "{\"a\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,16]}}",
           16, "needs 8")
BAD_HEADER(scalar_size_mismatch, "{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,8]}}",
           8, "needs 4")
BAD_HEADER(overlapping_tensors,
           "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
           "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}",
           20, "overlap")
BAD_HEADER(identical_offsets,
           "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
           "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
           8, "overlap")
BAD_HEADER(duplicate_names,
           "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
           "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
           8, "duplicate")
BAD_HEADER(metadata_not_object, "{\"__metadata__\":[\"x\"]}", 0, "__metadata__")
BAD_HEADER(metadata_value_not_string, "{\"__metadata__\":{\"stride\":2}}", 0, "'stride'")

Test(safetensors_malformed, valid_edge_cases_are_accepted) {
    /* the counterparts of the cases above that ARE valid: gaps between
     * tensors, a zero-size tensor at an occupied offset, extra entry keys,
     * header padded with spaces, empty metadata */
    const char *path = TMPDIR "/st_edge_ok.safetensors";
    float data[4] = {1, 2, 3, 4};
    write_raw(path,
              "{\"__metadata__\":{},"
              "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16],\"extra\":1},"
              "\"e\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[12,12]},"
              "\"b\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}     ",
              data, sizeof data);
    StFile f;
    cr_assert_eq(st_open(path, &f), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(f.n, 3);
    float v;
    cr_assert_eq(st_read_f32_named(&f, "a", &v, 1), VB_OK);
    cr_assert_eq(v, 4.0f);
    cr_assert_eq(st_read_f32_named(&f, "b", &v, 1), VB_OK);
    cr_assert_eq(v, 1.0f);
    st_close(&f);
}

/* A valid file cut at every shorter length is an input error, never a crash
 * (every byte of a writer's output is needed: no trailing padding). */
Test(safetensors_malformed, truncated_at_every_length) {
    const char *src = TMPDIR "/st_trunc_src.safetensors";
    const char *cut = TMPDIR "/st_trunc_cut.safetensors";
    ensure_tmp();
    float a[6] = {1, 2, 3, 4, 5, 6}, s = 9;
    int64_t sa[2] = {2, 3};
    StWriter *w = st_writer_new();
    st_writer_add(w, "a", 2, sa, a);
    st_writer_add(w, "s", 0, NULL, &s);
    st_writer_meta(w, "k", "v");
    cr_assert_eq(st_writer_write(w, src), VB_OK, "%s", vb_errmsg());
    st_writer_free(w);
    size_t n;
    unsigned char *buf = read_bytes(src, &n);
    for (size_t len = 0; len < n; len++) {
        write_bytes(cut, buf, len);
        StFile f;
        VbStatus st = st_open(cut, &f);
        cr_assert_eq(st, VB_ERR_INPUT, "cut at %zu of %zu: %s", len, n, vb_errmsg());
        cr_assert(strstr(vb_errmsg(), cut) != NULL, "%s", vb_errmsg());
        st_close(&f);
    }
    free(buf);
}

/* Random byte corruption of a valid file: st_open either accepts it (a
 * data byte changed) or reports VB_ERR_INPUT; reading every accepted
 * float tensor stays inside the buffer (ASan checks that). */
Test(safetensors_malformed, random_corruption_never_crashes) {
    const char *src = TMPDIR "/st_fuzz_src.safetensors";
    const char *bad = TMPDIR "/st_fuzz_bad.safetensors";
    ensure_tmp();
    float a[12];
    tu_fill(a, 12, 3, -1, 1);
    int64_t sa[3] = {2, 2, 3}, sb = 4;
    StWriter *w = st_writer_new();
    st_writer_add(w, "x.weight", 3, sa, a);
    st_writer_add(w, "x.bias", 1, &sb, a);
    st_writer_meta(w, "stride", "2");
    cr_assert_eq(st_writer_write(w, src), VB_OK, "%s", vb_errmsg());
    st_writer_free(w);
    size_t n;
    unsigned char *buf = read_bytes(src, &n);
    unsigned char *mut = malloc(n);
    uint64_t rng = 12345;
    for (int iter = 0; iter < 600; iter++) {
        memcpy(mut, buf, n);
        int flips = 1 + iter % 3;
        for (int k = 0; k < flips; k++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            size_t pos = (size_t)(rng >> 33) % n;
            /* favour bytes that matter: digits, quotes, brackets, the length */
            static const char subs[] = "0123456789\"[]{},:- \xff";
            mut[pos] = (iter & 1) ? (unsigned char)subs[(rng >> 20) % (sizeof subs - 1)]
                                  : (unsigned char)(rng >> 45);
        }
        write_bytes(bad, mut, n);
        StFile f;
        VbStatus st = st_open(bad, &f);
        cr_assert(st == VB_OK || st == VB_ERR_INPUT, "iteration %d: %s", iter, vb_errmsg());
        if (st == VB_OK) {
            for (int i = 0; i < f.n; i++) {
                float *out = malloc((size_t)(f.t[i].numel ? f.t[i].numel : 1) * sizeof(float));
                (void)st_read_f32(&f, &f.t[i], out, f.t[i].numel);
                free(out);
            }
        }
        st_close(&f);
    }
    free(mut);
    free(buf);
}

/* ---------------------------------------------------------------- interop */

/* tests/fixtures/interop.safetensors comes from make_fixtures.py: the same
 * values stored by PyTorch in F32, F16, BF16, F64 and I64. */
Test(safetensors, reads_pytorch_written_file) {
    const char *path = "tests/fixtures/interop.safetensors";
    StFile f;
    cr_assert_eq(st_open(path, &f), VB_OK, "%s", vb_errmsg());
    cr_assert_str_eq(st_meta(&f, "format"), "pt");
    cr_assert_not_null(st_meta(&f, "generator"));
    const StTensor *t = st_find(&f, "arange_f32");
    cr_assert(t && t->dtype == ST_F32 && t->ndim == 3);
    cr_assert(t->shape[0] == 2 && t->shape[1] == 3 && t->shape[2] == 4);
    float v[24];
    cr_assert_eq(st_read_f32(&f, t, v, 24), VB_OK);
    for (int i = 0; i < 24; i++) cr_assert_eq(v[i], (float)i - 11.5f, "arange_f32[%d]", i);

    /* torch's own rounding of `values` to each dtype, against the F64 copy
     * decoded here and rounded by the C compiler's conversions where exact */
    const StTensor *t64 = st_find(&f, "values_f64");
    cr_assert(t64 && t64->dtype == ST_F64);
    int64_t n = t64->numel;
    float *ref = tu_alloc((size_t)n), *got = tu_alloc((size_t)n), *f32 = tu_alloc((size_t)n);
    cr_assert_eq(st_read_f32(&f, t64, ref, n), VB_OK);
    cr_assert_eq(st_read_f32_named(&f, "values_f32", f32, n), VB_OK, "%s", vb_errmsg());
    tu_assert_bytes_equal(f32, ref, (size_t)n * sizeof(float), "F64->F32 matches torch's");
    /* F16 and BF16: torch rounds to nearest; decoded values are within half
     * an ulp of the F32 value (ulp 2^-10 and 2^-7 relative). */
    cr_assert_eq(st_read_f32_named(&f, "values_f16", got, n), VB_OK, "%s", vb_errmsg());
    float f16want[] = {1.0f, -2.0f, 65504.0f, 5.9604645e-08f, INFINITY, -0.0f};
    for (int i = 0; i < 6; i++) cr_assert_eq(got[i], f16want[i], "values_f16[%d] = %g", i, got[i]);
    for (int64_t i = 6; i < n; i++)
        cr_assert(fabsf(got[i] - f32[i]) <= ldexpf(fabsf(f32[i]), -11) + 3e-8f,
                  "values_f16[%lld]: %g vs %g", (long long)i, got[i], f32[i]);
    cr_assert_eq(st_read_f32_named(&f, "values_bf16", got, n), VB_OK, "%s", vb_errmsg());
    for (int64_t i = 6; i < n; i++)
        cr_assert(fabsf(got[i] - f32[i]) <= ldexpf(fabsf(f32[i]), -8),
                  "values_bf16[%lld]: %g vs %g", (long long)i, got[i], f32[i]);
    t = st_find(&f, "index_i64");
    cr_assert(t && t->dtype == ST_OTHER && strcmp(t->dtype_name, "I64") == 0);
    t = st_find(&f, "scalar");
    cr_assert(t && t->ndim == 0 && t->numel == 1);
    cr_assert_eq(st_read_f32(&f, t, v, 1), VB_OK);
    cr_assert_eq(v[0], 0.5f);
    t = st_find(&f, "empty");
    cr_assert(t && t->numel == 0 && t->ndim == 2);
    free(ref), free(got), free(f32);
    st_close(&f);
}

Test(safetensors, reads_kernel_fixture_file) {
    StFile f;
    cr_assert_eq(st_open("tests/fixtures/kernels.safetensors", &f), VB_OK, "%s", vb_errmsg());
    cr_assert_gt(f.n, 50);
    for (int i = 0; i < f.n; i++) cr_assert_eq(f.t[i].dtype, ST_F32, "%s", f.t[i].name);
    cr_assert_not_null(st_meta(&f, "conv2d_s2"));
    st_close(&f);
}
