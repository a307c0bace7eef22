/* Tests of the UCF-Crime reader and writer: round trips through every
 * container `data synth` writes, the frame cache, the layout rules, and
 * bad input (truncated archives, corrupt PNGs, wrong layout, empty class
 * folders, mixed frame sizes, damaged frame caches, control characters in
 * names), with and without skip_bad. Files live under
 * tests/tmp/data_ucf/<test>/. */
#include "testutil.h"

#include <archive.h>
#include <archive_entry.h>
#include <spng.h>
#include <sys/stat.h>
#include <utime.h>

#include "datasets/synth.h"
#include "datasets/ucf.h"

static char g_dir[256];

static void fresh_dir(const char *test) {
    snprintf(g_dir, sizeof g_dir, "tests/tmp/data_ucf/%s", test);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", g_dir, g_dir);
    cr_assert_eq(system(cmd), 0);
}

static const char *path_in(const char *name) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

static void small_set(Dataset *ds) {
    SynthConfig c;
    synth_defaults(&c);
    c.videos_per_class = 1, c.test_videos_per_class = 1, c.normal_factor = 1;
    c.frames = 3, c.size = 16, c.seed = 3;
    cr_assert_eq(synth_generate(&c, ds), VB_OK, "%s", vb_errmsg());
}

static VbStatus read_ucf(const char *path, bool skip_bad, Dataset *out, UcfReport *rep) {
    UcfOptions o;
    ucf_defaults(&o);
    o.skip_bad = skip_bad;
    o.cache_dir = path_in("cache");
    return ucf_read(path, &o, out, rep);
}

static void assert_same_dataset(const Dataset *a, const Dataset *b, const char *what) {
    cr_assert_eq(a->nclasses, b->nclasses, "%s: classes", what);
    for (int c = 0; c < a->nclasses; c++) cr_assert_str_eq(a->classes[c], b->classes[c]);
    cr_assert_eq(a->nvideos, b->nvideos, "%s: %zu vs %zu videos", what, a->nvideos, b->nvideos);
    for (size_t v = 0; v < a->nvideos; v++) {
        const DsVideo *x = &a->videos[v], *y = &b->videos[v];
        cr_assert_str_eq(x->id, y->id, "%s: video %zu", what, v);
        cr_assert(x->cls == y->cls && x->split == y->split && x->nframes == y->nframes,
                  "%s: video %s", what, x->id);
        tu_assert_bytes_equal(dataset_frame(a, v, 0), dataset_frame(b, v, 0),
                              x->nframes * dataset_frame_bytes(a), what);
    }
    cr_assert_str_eq(a->digest, b->digest, "%s: digest", what);
}

/* ---- helpers that build archives with chosen members ---- */

typedef struct Member {
    const char *name;
    const void *data;
    size_t len;
    bool dir;
} Member;

static void write_members(const char *path, const Member *m, int n) {
    struct archive *a = archive_write_new();
    if (strstr(path, ".zip")) archive_write_set_format_zip(a);
    else archive_write_set_format_pax_restricted(a);
    if (strstr(path, ".gz")) archive_write_add_filter_gzip(a);
    cr_assert_eq(archive_write_open_filename(a, path), ARCHIVE_OK);
    for (int i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, m[i].name);
        archive_entry_set_filetype(e, m[i].dir ? AE_IFDIR : AE_IFREG);
        archive_entry_set_perm(e, m[i].dir ? 0755 : 0644);
        archive_entry_set_size(e, m[i].dir ? 0 : (la_int64_t)m[i].len);
        cr_assert_eq(archive_write_header(a, e), ARCHIVE_OK);
        if (!m[i].dir)
            cr_assert_eq(archive_write_data(a, m[i].data, m[i].len), (la_ssize_t)m[i].len);
        archive_entry_free(e);
    }
    cr_assert_eq(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
}

/* A size x size PNG filled with `value`; *len set; free() the result. */
static void *png_of(int size, uint8_t value, size_t *len) {
    uint8_t *img = malloc((size_t)size * size * 3);
    memset(img, value, (size_t)size * size * 3);
    spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
    struct spng_ihdr ih = {(uint32_t)size, (uint32_t)size, 8, SPNG_COLOR_TYPE_TRUECOLOR, 0, 0, 0};
    spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);
    spng_set_ihdr(ctx, &ih);
    cr_assert_eq(
        spng_encode_image(ctx, img, (size_t)size * size * 3, SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE),
        0);
    int err;
    void *out = spng_get_png_buffer(ctx, len, &err);
    spng_ctx_free(ctx);
    free(img);
    return out;
}

static void truncate_file(const char *path, double keep) {
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(truncate(path, (off_t)((double)st.st_size * keep)), 0);
}

/* ---- round trips ---- */

Test(data_ucf, roundtrip_every_container_and_cache_reuse) {
    fresh_dir("roundtrip");
    Dataset src;
    small_set(&src);
    const char *names[] = {"dir", "a.zip", "a.tar", "a.tar.gz", "a.tar.zst", "a.7z"};
    for (int i = 0; i < 6; i++) {
        const char *p = path_in(names[i]);
        cr_assert_eq(ucf_write(&src, p, i == 2 ? "UCF_Crime_64" : NULL), VB_OK, "%s: %s", p,
                     vb_errmsg());
        for (int pass = 0; pass < 2; pass++) {
            Dataset r;
            UcfReport rep;
            cr_assert_eq(read_ucf(p, false, &r, &rep), VB_OK, "%s: %s", p, vb_errmsg());
            cr_assert_eq(rep.cache_hit, pass == 1, "%s pass %d", p, pass);
            cr_assert(rep.cache_bytes > r.frames.nframes * 16 * 16 * 3);
            cr_assert_not_null(r.frames.map, "frames are mapped from the cache");
            assert_same_dataset(&src, &r, p);
            cr_assert_eq(r.skipped, 0);
            cr_assert_str_eq(r.classes[r.normal], "NormalVideos");
            dataset_free(&r);
        }
    }
    dataset_free(&src);
}

Test(data_ucf, cache_is_rebuilt_when_the_source_changes_and_no_cache_decodes_to_memory) {
    fresh_dir("cache");
    Dataset src, r;
    small_set(&src);
    const char *p = path_in("a.tar");
    cr_assert_eq(ucf_write(&src, p, NULL), VB_OK);
    UcfReport r1, r2, r3;
    cr_assert_eq(read_ucf(p, false, &r, &r1), VB_OK);
    dataset_free(&r);
    struct utimbuf t = {1600000000, 1600000000};
    cr_assert_eq(utime(p, &t), 0);
    cr_assert_eq(read_ucf(p, false, &r, &r2), VB_OK);
    dataset_free(&r);
    cr_assert(!r1.cache_hit && !r2.cache_hit, "a new mtime is a new key");
    cr_assert_str_neq(r1.cache_file, r2.cache_file);
    cr_assert_eq(read_ucf(p, true, &r, &r3), VB_OK); /* skip_bad is part of the key too */
    cr_assert(!r3.cache_hit);
    dataset_free(&r);
    UcfOptions o;
    ucf_defaults(&o);
    o.no_cache = true;
    cr_assert_eq(ucf_read(p, &o, &r, &r3), VB_OK);
    cr_assert_null(r.frames.map);
    cr_assert_str_eq(r3.cache_file, "");
    assert_same_dataset(&src, &r, "no cache");
    dataset_free(&r);
    dataset_free(&src);
}

/* A cache whose frame bytes were damaged after it was written (a flipped
 * bit on disk) was reused under the source's digest: the frames checksum
 * catches it, the file is discarded with a note, and the data come from the
 * source again, identical to a fresh read. */
Test(data_ucf, damaged_cache_is_discarded_and_rebuilt) {
    fresh_dir("cachedmg");
    Dataset src, r;
    small_set(&src);
    const char *p = path_in("a.tar");
    cr_assert_eq(ucf_write(&src, p, NULL), VB_OK);
    UcfReport r1, r2, r3;
    cr_assert_eq(read_ucf(p, false, &r, &r1), VB_OK, "%s", vb_errmsg());
    cr_assert(!r1.cache_hit && r1.cache_file[0]);
    dataset_free(&r);
    /* flip one bit of a frame (the frames follow the 4 KB header) */
    FILE *f = fopen(r1.cache_file, "r+b");
    cr_assert_not_null(f, "%s", r1.cache_file);
    cr_assert_eq(fseek(f, 4096 + 100, SEEK_SET), 0);
    int c = fgetc(f);
    cr_assert_eq(fseek(f, 4096 + 100, SEEK_SET), 0);
    fputc(c ^ 0x40, f);
    fclose(f);
    cr_assert_eq(read_ucf(p, false, &r, &r2), VB_OK, "%s", vb_errmsg());
    cr_assert(!r2.cache_hit, "the damaged cache was used");
    cr_assert(strstr(r2.cache_note, "was discarded because") &&
                  strstr(r2.cache_note, "frames checksum does not match"),
              "note: '%s'", r2.cache_note);
    assert_same_dataset(&src, &r, "after a damaged cache");
    dataset_free(&r);
    /* the rebuilt cache is whole again */
    cr_assert_eq(read_ucf(p, false, &r, &r3), VB_OK, "%s", vb_errmsg());
    cr_assert(r3.cache_hit && !r3.cache_note[0], "note: '%s'", r3.cache_note);
    assert_same_dataset(&src, &r, "rebuilt cache");
    dataset_free(&r);
    dataset_free(&src);
}

/* ---- layout rules ---- */

/* A line break (or any control byte) in a member's name made a class of its
 * own ("Arson\nX" beside "Arson"): refused, with skip_bad skipped. */
Test(data_ucf, control_characters_in_names_are_refused) {
    fresh_dir("ctrl");
    size_t len;
    void *png = png_of(16, 40, &len);
    Member m[] = {
        {"Train/NormalVideos/N001_x264_0.png", png, len, false},
        {"Train/Arson/A001_x264_0.png", png, len, false},
        {"Train/Arson\nX/A002_x264_0.png", png, len, false},
        {"Test/NormalVideos/N002_x264_0.png", png, len, false},
        {"Test/Arson/A003_x264_0.png", png, len, false},
    };
    const char *p = path_in("a.tar");
    write_members(p, m, 5);
    Dataset r;
    cr_assert_eq(read_ucf(p, false, &r, NULL), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "a.tar") && strstr(vb_errmsg(), "control character"), "%s",
              vb_errmsg());
    cr_assert_eq(read_ucf(p, true, &r, NULL), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(r.nclasses, 2, "%d classes", r.nclasses);
    for (int i = 0; i < r.nclasses; i++) cr_assert_null(strchr(r.classes[i], '\n'));
    cr_assert_eq(r.skipped, 1);
    dataset_free(&r);
    free(png);
}

Test(data_ucf, layout_top_folder_hidden_files_case_and_frame_order) {
    fresh_dir("layout");
    size_t len[6];
    void *png[6];
    for (int i = 0; i < 6; i++) png[i] = png_of(16, (uint8_t)(10 * i), &len[i]);
    Member m[] = {
        {"UCF/", NULL, 0, true},
        {"UCF/Train/Abuse/Abuse001_x264_100.png", png[3], len[3], false},
        {"UCF/Train/Abuse/Abuse001_x264_9.png", png[1], len[1], false},
        {"UCF/Train/Abuse/Abuse001_x264_10.PNG", png[2], len[2], false},
        {"UCF/__MACOSX/UCF/Train/Abuse/._Abuse001_x264_9.png", "junk", 4, false},
        {"UCF/Train/.DS_Store", "junk", 4, false},
        {"UCF/train/NormalVideos/Normal_Videos_003_x264_0.png", png[4], len[4], false},
        {"UCF/Test/NormalVideos/Normal_Videos_007_x264_20.png", png[5], len[5], false},
        {"UCF/Test/Abuse/Abuse028_x264_0.png", png[0], len[0], false},
    };
    const char *p = path_in("a.zip");
    write_members(p, m, (int)(sizeof m / sizeof m[0]));
    Dataset r;
    cr_assert_eq(read_ucf(p, false, &r, NULL), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(r.nclasses, 2);
    cr_assert_str_eq(r.classes[0], "Abuse");
    cr_assert_eq(r.nvideos, 4);
    cr_assert_str_eq(r.videos[0].id, "Abuse001_x264");
    cr_assert_eq(r.videos[0].nframes, 3);
    for (uint32_t t = 0; t < 3; t++) /* frames 9, 10, 100 in numeric order */
        cr_assert_eq(dataset_frame(&r, 0, t)[0], 10 * (t + 1), "frame %u", t);
    cr_assert_str_eq(r.videos[1].id, "Normal_Videos_003_x264");
    cr_assert_eq(r.videos[1].split, DS_TRAIN);
    cr_assert_str_eq(r.videos[2].id, "Abuse028_x264");
    cr_assert_eq(r.videos[2].split, DS_TEST);
    cr_assert_eq(r.skipped, 0);
    dataset_free(&r);
    for (int i = 0; i < 6; i++) free(png[i]);
}

Test(data_ucf, directory_source_ignores_hidden_and_rejects_stray_files) {
    fresh_dir("dirsrc");
    Dataset src, r;
    small_set(&src);
    const char *p = path_in("d");
    cr_assert_eq(ucf_write(&src, p, NULL), VB_OK);
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s/__MACOSX/Train' && echo x > '%s/.hidden' && "
             "echo x > '%s/Train/Abuse/._Abuse001_x264_0.png'",
             p, p, p);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(read_ucf(p, false, &r, NULL), VB_OK, "%s", vb_errmsg());
    assert_same_dataset(&src, &r, "directory with hidden files");
    dataset_free(&r);
    snprintf(cmd, sizeof cmd, "echo x > '%s/Train/Abuse/notes.txt'", p);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(read_ucf(p, false, &r, NULL), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "file 'Train/Abuse/notes.txt'") && strstr(vb_errmsg(), "layout"),
              "%s", vb_errmsg());
    cr_assert_eq(read_ucf(p, true, &r, NULL), VB_OK);
    cr_assert_eq(r.skipped, 1);
    dataset_free(&r);
    dataset_free(&src);
}

/* ---- bad input ---- */

Test(data_ucf, truncated_archives_name_the_member_and_skip_bad_keeps_the_rest) {
    fresh_dir("truncated");
    Dataset src, r;
    small_set(&src);
    const char *names[] = {"a.tar.gz", "a.tar", "a.zip"};
    for (int i = 0; i < 3; i++) {
        const char *p = path_in(names[i]);
        cr_assert_eq(ucf_write(&src, p, NULL), VB_OK);
        truncate_file(p, 0.6);
        cr_assert_eq(read_ucf(p, false, &r, NULL), VB_ERR_INPUT, "%s", p);
        cr_assert(strstr(vb_errmsg(), p) && strstr(vb_errmsg(), "member '"), "%s", vb_errmsg());
        UcfReport rep;
        cr_assert_eq(read_ucf(p, true, &r, &rep), VB_OK, "%s: %s", p, vb_errmsg());
        cr_assert(r.skipped >= 1, "%s", p);
        cr_assert(strstr(rep.warning, "damaged ") && strstr(rep.warning, "member '"), "%s",
                  rep.warning);
        cr_assert(r.frames.nframes < src.frames.nframes && r.frames.nframes > 0);
        dataset_free(&r);
        cr_assert_eq(read_ucf(p, true, &r, &rep), VB_OK); /* the cache keeps the warning */
        cr_assert(rep.cache_hit && strstr(rep.warning, "damaged "), "%s", rep.warning);
        dataset_free(&r);
    }
    /* 7z keeps its index at the end, and this small zstd stream is one block:
     * nothing is readable, and the error names the archive */
    const char *p = path_in("a.7z");
    cr_assert_eq(ucf_write(&src, p, NULL), VB_OK);
    truncate_file(p, 0.6);
    cr_assert_eq(read_ucf(p, true, &r, NULL), VB_ERR_INPUT);
    cr_assert_eq(read_ucf(p, false, &r, NULL), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "a.7z: damaged"), "%s", vb_errmsg());
    p = path_in("a.tar.zst");
    cr_assert_eq(ucf_write(&src, p, NULL), VB_OK);
    truncate_file(p, 0.6);
    cr_assert_eq(read_ucf(p, false, &r, NULL), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "a.tar.zst") && strstr(vb_errmsg(), "runcated"), "%s",
              vb_errmsg());
    dataset_free(&src);
}

Test(data_ucf, corrupt_png_names_the_member_and_skip_bad_counts_it) {
    fresh_dir("corrupt");
    size_t len[3];
    void *png[3];
    for (int i = 0; i < 3; i++) png[i] = png_of(16, (uint8_t)(50 * i), &len[i]);
    ((uint8_t *)png[1])[len[1] / 2] ^= 0xFF; /* inside IDAT: CRC and zlib fail */
    Member m[] = {
        {"Train/NormalVideos/N001_x264_0.png", png[0], len[0], false},
        {"Train/NormalVideos/N001_x264_10.png", png[1], len[1], false},
        {"Train/NormalVideos/N001_x264_20.png", png[2], len[2], false},
        {"Test/NormalVideos/N002_x264_0.png", "not a png at all", 16, false},
    };
    const char *p = path_in("a.tar.gz");
    write_members(p, m, 4);
    Dataset r;
    cr_assert_eq(read_ucf(p, false, &r, NULL), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "member 'Train/NormalVideos/N001_x264_10.png'") &&
                  strstr(vb_errmsg(), "corrupt PNG"),
              "%s", vb_errmsg());
    cr_assert_eq(read_ucf(p, true, &r, NULL), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(r.skipped, 2);
    cr_assert_eq(r.nvideos, 1, "the test video lost its only frame");
    cr_assert_eq(r.videos[0].nframes, 2);
    cr_assert_eq(dataset_frame(&r, 0, 0)[0], 0);
    cr_assert_eq(dataset_frame(&r, 0, 1)[0], 100, "frames after the hole are compacted");
    dataset_free(&r);
    for (int i = 0; i < 3; i++) free(png[i]);
}

Test(data_ucf, wrong_layout_and_empty_class_folder) {
    fresh_dir("wrong");
    size_t len;
    void *png = png_of(16, 7, &len);
    Member m[] = {
        {"Train/", NULL, 0, true},
        {"Train/Arson/", NULL, 0, true},
        {"Train/NormalVideos/N001_x264_0.png", png, len, false},
        {"Train/N005_x264_0.png", png, len, false},
        {"Train/NormalVideos/noframe.png", png, len, false},
    };
    const char *p = path_in("a.tar");
    write_members(p, m, 5);
    Dataset r;
    cr_assert_eq(read_ucf(p, false, &r, NULL), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "member 'Train/N005_x264_0.png'") &&
                  strstr(vb_errmsg(), "Train|Test/<Class>/<Video>_<frame>.png"),
              "%s", vb_errmsg());
    cr_assert_eq(read_ucf(p, true, &r, NULL), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(r.skipped, 3, "two stray files and the empty folder");
    cr_assert_eq(r.nclasses, 1, "the empty Arson folder is no class");
    dataset_free(&r);
    /* only the empty folder is wrong: it is named */
    write_members(path_in("b.tar"), m, 3);
    cr_assert_eq(read_ucf(path_in("b.tar"), false, &r, NULL), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "member 'Train/Arson/'") && strstr(vb_errmsg(), "no frames"),
              "%s", vb_errmsg());
    /* no Train/Test at all */
    Member flat[] = {{"Abuse/Abuse001_x264_0.png", png, len, false},
                     {"Abuse/Abuse001_x264_1.png", png, len, false}};
    write_members(path_in("c.zip"), flat, 2);
    cr_assert_eq(read_ucf(path_in("c.zip"), false, &r, NULL), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "member 'Abuse/Abuse001_x264_0.png'"), "%s", vb_errmsg());
    cr_assert_eq(read_ucf(path_in("c.zip"), true, &r, NULL), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "no frames"), "%s", vb_errmsg());
    free(png);
}

Test(data_ucf, mixed_frame_sizes_duplicates_missing_normal_and_non_archives) {
    fresh_dir("misc");
    size_t l16, l8;
    void *p16 = png_of(16, 1, &l16), *p8 = png_of(8, 1, &l8);
    Member m[] = {
        {"Train/NormalVideos/N001_x264_0.png", p16, l16, false},
        {"Train/NormalVideos/N001_x264_10.png", p8, l8, false},
    };
    write_members(path_in("sizes.tar"), m, 2);
    Dataset r;
    cr_assert_eq(read_ucf(path_in("sizes.tar"), false, &r, NULL), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "N001_x264_10.png") && strstr(vb_errmsg(), "8x8, expected 16x16"),
              "%s", vb_errmsg());
    Member dup[] = {
        {"Train/NormalVideos/N001_x264_10.png", p16, l16, false},
        {"Train/NormalVideos/N001_x264_010.png", p16, l16, false},
    };
    write_members(path_in("dup.tar"), dup, 2);
    cr_assert_eq(read_ucf(path_in("dup.tar"), false, &r, NULL), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "duplicate of frame 10"), "%s", vb_errmsg());
    Member abn[] = {{"Train/Abuse/A001_x264_0.png", p16, l16, false}};
    write_members(path_in("abn.tar"), abn, 1);
    cr_assert_eq(read_ucf(path_in("abn.tar"), false, &r, NULL), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "normal class 'NormalVideos' not found"), "%s", vb_errmsg());
    UcfOptions o;
    ucf_defaults(&o);
    o.normal = "Abuse", o.no_cache = true;
    cr_assert_eq(ucf_read(path_in("abn.tar"), &o, &r, NULL), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(r.normal, 0);
    dataset_free(&r);
    FILE *f = fopen(path_in("junk.zip"), "wb");
    fputs("this is not an archive, just text", f);
    fclose(f);
    cr_assert_eq(read_ucf(path_in("junk.zip"), false, &r, NULL), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "not a readable archive"), "%s", vb_errmsg());
    cr_assert_eq(read_ucf(path_in("missing.tar"), false, &r, NULL), VB_ERR_IO);
    free(p16), free(p8);
}

Test(data_ucf, writer_refuses_a_non_empty_directory) {
    fresh_dir("writer");
    Dataset src;
    small_set(&src);
    cr_assert_eq(ucf_write(&src, path_in("d"), NULL), VB_OK);
    cr_assert_eq(ucf_write(&src, path_in("d"), NULL), VB_ERR_IO);
    cr_assert(strstr(vb_errmsg(), "not empty"), "%s", vb_errmsg());
    cr_assert_eq(ucf_container_for("x.TAR.ZST"), UCF_TAR_ZST);
    cr_assert_eq(ucf_container_for("x.tgz"), UCF_TAR_GZ);
    cr_assert_eq(ucf_container_for("out/data"), UCF_DIR);
    dataset_free(&src);
}
