/* make_seeds: writes the seed corpora of the fuzz targets that need files
 * only the program itself can make (`make fuzz-seeds`; the outputs are
 * committed under tests/fuzz/corpus/): small UCF-Crime archives in every
 * container, frame-cache files for the framecache target's key, real
 * checkpoints of the checkpoint target's model, safetensors files of every
 * float dtype and a few others, idx files (plain and gzip'd) and a results
 * database with 512-byte pages (small, so that mutations stay fast).
 * Experiment files need no maker: the seeds are the shipped and test files.
 *
 * Must not be asked to: overwrite a non-empty corpus it did not make (it
 * only writes the names below). */
#include <archive.h>
#include <archive_entry.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datasets/framecache.h"
#include "datasets/ucf.h"
#include "harness/store/store.h"
#include "models/safetensors.h"
#include "tests/fuzz/fuzz.h"

int fuzz_checkpoint_make_seeds(const char *dir);
extern const CacheKey fuzz_cache_key;

static int fail(const char *what) {
    fprintf(stderr, "make_seeds: %s: %s\n", what, vb_errmsg());
    return 1;
}

/* Two classes, four videos, six frames of 8x8. */
static VbStatus tiny_dataset(Dataset *ds, uint8_t *frames) {
    dataset_init(ds);
    ds->source = vb_xstrdup("fuzz seeds");
    int a = dataset_class_index(ds, "Arson"), n = dataset_class_index(ds, "NormalVideos");
    dataset_add_video(ds, "Arson001_x264", a, DS_TRAIN, 2, 0);
    dataset_add_video(ds, "Normal001_x264", n, DS_TRAIN, 2, 2);
    dataset_add_video(ds, "Arson002_x264", a, DS_TEST, 1, 4);
    dataset_add_video(ds, "Normal002_x264", n, DS_TEST, 1, 5);
    for (int i = 0; i < 6 * 8 * 8 * 3; i++) frames[i] = (uint8_t)(i * 37 + i / 192 * 11);
    ds->frames.data = frames;
    ds->frames.nframes = 6;
    ds->frames.h = ds->frames.w = 8;
    return dataset_finish(ds, NULL);
}

static int archives(const char *dir) {
    static uint8_t frames[6 * 8 * 8 * 3];
    Dataset ds;
    if (tiny_dataset(&ds, frames) != VB_OK) return fail("dataset");
    const char *names[] = {"tiny.zip", "tiny.tar", "tiny.tar.gz", "tiny.tar.zst", "tiny.7z"};
    for (int i = 0; i < 5; i++) {
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        if (ucf_write(&ds, p, i == 1 ? "top" : NULL) != VB_OK) return fail(p);
    }
    ds.frames.data = NULL;
    dataset_free(&ds);
    return 0;
}

static int framecaches(const char *dir) {
    for (int k = 0; k < 2; k++) {
        char p[1024];
        snprintf(p, sizeof p, "%s/cache%d.vbcache", dir, k);
        CacheFile cf;
        if (framecache_begin(&cf, p, 6, 8, 8) != VB_OK) return fail("framecache_begin");
        Dataset ds;
        if (tiny_dataset(&ds, framecache_frames(&cf)) != VB_OK) return fail("dataset");
        ds.skipped = (uint64_t)k * 3;
        VbStatus s = framecache_commit(&cf, &fuzz_cache_key, &ds, k ? "damaged after 'x'" : "");
        ds.frames.data = NULL;
        dataset_free(&ds);
        if (s != VB_OK) return fail("framecache_commit");
    }
    return 0;
}

/* A safetensors file with a hand-written header and data. */
static int raw_safetensors(const char *path, const char *header, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return 1;
    uint64_t len = strlen(header);
    for (int i = 0; i < 8; i++) fputc((int)(len >> (8 * i)) & 0xff, f);
    fwrite(header, 1, len, f);
    fwrite(data, 1, n, f);
    return fclose(f) != 0;
}

static int safetensors(const char *dir) {
    char p[1024];
    float x[6] = {1, -2, 3.5f, 0, 1e-3f, -7};
    int64_t shape[2] = {2, 3}, one = 1;
    StWriter *w = st_writer_new();
    st_writer_add(w, "weight", 2, shape, x);
    st_writer_add(w, "bias", 1, &one, x);
    st_writer_add(w, "scalar", 0, NULL, x + 2);
    st_writer_meta(w, "format", "pt");
    snprintf(p, sizeof p, "%s/f32.safetensors", dir);
    if (st_writer_write(w, p) != VB_OK) return fail(p);
    st_writer_free(w);
    uint8_t bytes[64];
    for (int i = 0; i < 64; i++) bytes[i] = (uint8_t)(i * 29 + 3);
    struct {
        const char *name, *header;
        size_t n;
    } raw[] = {
        {"f16", "{\"a\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,8]}}", 8},
        {"bf16", "{\"a\":{\"dtype\":\"BF16\",\"shape\":[4],\"data_offsets\":[0,8]}}", 8},
        {"f64",
         "{\"a\":{\"dtype\":\"F64\",\"shape\":[1,2],\"data_offsets\":[0,16]},"
         "\"__metadata__\":{\"k\":\"v\"}}",
         16},
        {"mixed",
         "{\"i\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]},"
         "\"u\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[8,11]},"
         "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[11,11]}}",
         11},
    };
    for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++) {
        snprintf(p, sizeof p, "%s/%s.safetensors", dir, raw[i].name);
        if (raw_safetensors(p, raw[i].header, bytes, raw[i].n)) return fail(p);
    }
    return 0;
}

/* idx seeds: the selector byte, then the file (gzip'd when gz). */
static int idx_seed(const char *dir, const char *name, uint8_t pick, bool images, bool gz) {
    uint8_t file[16 + 2 * 784]; /* 2 images or labels, as fuzz_idx's other files */
    size_t n = 0;
    file[n++] = 0, file[n++] = 0, file[n++] = 8, file[n++] = images ? 3 : 1;
    uint32_t dims[3] = {2, 28, 28};
    for (int d = 0; d < (images ? 3 : 1); d++)
        for (int b = 3; b >= 0; b--) file[n++] = (uint8_t)(dims[d] >> (8 * b));
    for (size_t i = 0; i < (images ? 2 * 784u : 2u); i++)
        file[n++] = (uint8_t)(images ? (i * 13) & 0xff : i % 10);
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    if (!gz) {
        FILE *f = fopen(p, "wb");
        if (!f) return 1;
        fputc(pick, f);
        fwrite(file, 1, n, f);
        return fclose(f) != 0;
    }
    static uint8_t out[8192];
    size_t used = 0;
    struct archive *a = archive_write_new();
    archive_write_set_format_raw(a);
    archive_write_add_filter_gzip(a);
    out[0] = pick;
    if (archive_write_open_memory(a, out + 1, sizeof out - 1, &used) != ARCHIVE_OK) return 1;
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, "idx");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_size(e, (la_int64_t)n);
    archive_write_header(a, e);
    archive_write_data(a, file, n);
    archive_entry_free(e);
    archive_write_close(a);
    archive_write_free(a);
    FILE *f = fopen(p, "wb");
    if (!f) return 1;
    fwrite(out, 1, used + 1, f);
    return fclose(f) != 0;
}

static int idx(const char *dir) {
    return idx_seed(dir, "train_images", 0, true, false) ||
           idx_seed(dir, "train_labels", 1, false, false) ||
           idx_seed(dir, "test_images_gz", 2, true, true) ||
           idx_seed(dir, "test_labels_gz", 3, false, true);
}

static int database(const char *dir) {
    char p[1024];
    snprintf(p, sizeof p, "%s/small.db", dir);
    unlink(p);
    sqlite3 *db;
    if (sqlite3_open(p, &db) != SQLITE_OK ||
        sqlite3_exec(db, "PRAGMA page_size = 512; VACUUM;", NULL, NULL, NULL) != SQLITE_OK)
        return 1;
    sqlite3_close(db);
    Store *st;
    if (store_open(p, STORE_CREATE, &st) != VB_OK) return fail(p);
    int64_t exp;
    if (store_ensure_experiment(st, "seed", "fuzz seed", "/x.yaml", &exp) != VB_OK)
        return fail("experiment");
    StoreCell cells[2] = {{"a", 0, "h", "{\"x\":1}", "0123456789abcdef0123456789abcdef"},
                          {"b", 1, "", "{\"x\":2}", "fedcba9876543210fedcba9876543210"}};
    if (store_register_cells(st, exp, cells, 2, NULL) != VB_OK) return fail("register");
    bool claimed;
    StoreRun r;
    if (store_claim(st, NULL, 0, &claimed, &r) != VB_OK || !claimed) return fail("claim");
    store_log_metric(st, r.id, "train", "loss", 0, 0, 1.5);
    store_log_final(st, r.id, "test", "accuracy", -1, 0.75);
    double ms[3] = {1, 2, 3};
    store_log_latency(st, r.id, "model", 1, ms, 3);
    store_log_timing(st, r.id, "train", 1.0, 2);
    if (store_mark_done(st, r.id) != VB_OK) return fail("done");
    store_run_free(&r);
    int64_t ids[1] = {1};
    store_baseline_pin(st, "main", ids, 1);
    if (store_close(st) != VB_OK) return fail("close");
    /* fold the write-ahead log into the file: the seed is the file alone */
    if (sqlite3_open(p, &db) != SQLITE_OK ||
        sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode = DELETE;", NULL,
                     NULL, NULL) != SQLITE_OK)
        return 1;
    sqlite3_close(db);
    snprintf(p, sizeof p, "%s/empty.db", dir);
    FILE *f = fopen(p, "wb");
    if (f) fclose(f);
    snprintf(p, sizeof p, "%s/not_sqlite.db", dir);
    f = fopen(p, "wb");
    if (f) fputs("SQLite format 3\nbut not really", f), fclose(f);
    return 0;
}

int main(int argc, char **argv) {
    const char *root = argc > 1 ? argv[1] : "tests/fuzz/corpus";
    const char *names[] = {"archive", "framecache", "checkpoint", "safetensors", "idx", "store"};
    int (*makers[])(const char *) = {archives,    framecaches, fuzz_checkpoint_make_seeds,
                                     safetensors, idx,         database};
    for (int i = 0; i < 6; i++) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/%s", root, names[i]);
        mkdir(root, 0755);
        mkdir(dir, 0755);
        if (makers[i](dir)) return fail(names[i]);
        printf("make_seeds: %s\n", dir);
    }
    return 0;
}
