/* Tests of the Fashion-MNIST reader: counts and labels of the installed
 * data (skipped when Debian's dataset-fashion-mnist is absent), padding and
 * resizing, and errors on damaged idx files (always run, on files made
 * here under tests/tmp/data_fmnist/). */
#include "testutil.h"

#include <archive.h>
#include <archive_entry.h>

#include "datasets/fmnist.h"
#include "datasets/split.h"

static void need_data(void) {
    if (!fmnist_available(NULL))
        cr_skip_test("Fashion-MNIST is not installed in %s", FMNIST_DEFAULT_DIR);
}

static int video_index(const Dataset *ds, const char *id) {
    for (size_t v = 0; v < ds->nvideos; v++)
        if (strcmp(ds->videos[v].id, id) == 0) return (int)v;
    return -1;
}

Test(data_fmnist, counts_and_labels) {
    need_data();
    FmnistOptions o;
    fmnist_defaults(&o);
    o.size = 28, o.fit = FMNIST_PAD; /* the original pixels */
    Dataset ds;
    cr_assert_eq(fmnist_read(&o, &ds), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(ds.nclasses, 10);
    uint64_t v[10], f[10];
    dataset_counts(&ds, DS_TRAIN, v, f);
    for (int k = 0; k < 10; k++) cr_assert_eq(v[k], 6000, "%s train", ds.classes[k]);
    dataset_counts(&ds, DS_TEST, v, f);
    for (int k = 0; k < 10; k++) cr_assert_eq(v[k], 1000, "%s test", ds.classes[k]);
    cr_assert_eq(ds.nvideos, 70000);
    cr_assert_eq(ds.frames.nframes, 70000);
    /* the files' first labels: train 9, 0, 0, 3; test 9, 2, 1 */
    struct {
        const char *id, *cls;
    } want[] = {{"train_00000", "Ankle_boot"}, {"train_00001", "T-shirt_top"},
                {"train_00003", "Dress"},      {"test_00000", "Ankle_boot"},
                {"test_00001", "Pullover"},    {"test_00002", "Trouser"}};
    for (int i = 0; i < 6; i++) {
        int k = video_index(&ds, want[i].id);
        cr_assert(k >= 0, "%s", want[i].id);
        cr_assert_str_eq(ds.classes[ds.videos[k].cls], want[i].cls, "%s", want[i].id);
        cr_assert_eq(ds.videos[k].nframes, 1);
    }
    /* row 14 of the first training image, replicated to 3 channels */
    static const uint8_t row14[28] = {0x00, 0x00, 0x01, 0x04, 0x06, 0x07, 0x02, 0x00, 0x00, 0x00,
                                      0x00, 0x00, 0xed, 0xe2, 0xd9, 0xdf, 0xde, 0xdb, 0xde, 0xdd,
                                      0xd8, 0xdf, 0xe5, 0xd7, 0xda, 0xff, 0x4d, 0x00};
    const uint8_t *img = dataset_frame(&ds, (size_t)video_index(&ds, "train_00000"), 0);
    for (int x = 0; x < 28; x++)
        for (int c = 0; c < 3; c++) cr_assert_eq(img[(14 * 28 + x) * 3 + c], row14[x], "x %d", x);
    cr_assert_str_eq(ds.classes[ds.normal], "T-shirt_top");
    dataset_free(&ds);
}

Test(data_fmnist, resize_pad_one_class_protocol) {
    need_data();
    FmnistOptions o;
    fmnist_defaults(&o);
    o.limit = 50, o.normal = "Bag";
    Dataset r, p;
    cr_assert_eq(fmnist_read(&o, &r), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(r.frames.h, 64);
    cr_assert_eq(r.nvideos, 100);
    cr_assert_str_eq(r.classes[r.normal], "Bag");
    o.size = 32, o.fit = FMNIST_PAD;
    cr_assert_eq(fmnist_read(&o, &p), VB_OK);
    const uint8_t *a = dataset_frame(&p, (size_t)video_index(&p, "train_00000"), 0);
    for (int x = 0; x < 32; x++) cr_assert_eq(a[x * 3], 0, "padding row is black");
    cr_assert_eq(a[((14 + 2) * 32 + 12 + 2) * 3], 0xed, "centred with 2 pixels of padding");
    /* resized: mean brightness close to the padded original's */
    const uint8_t *b = dataset_frame(&r, (size_t)video_index(&r, "train_00000"), 0);
    double ma = 0, mb = 0;
    for (int i = 0; i < 32 * 32 * 3; i++) ma += a[i];
    for (int i = 0; i < 64 * 64 * 3; i++) mb += b[i];
    ma /= 28.0 * 28 * 3, mb /= 64.0 * 64 * 3;
    cr_assert(fabs(ma - mb) < 3.0, "mean %f vs %f", ma, mb);
    SplitConfig sc;
    split_defaults(&sc);
    sc.protocol = SPLIT_ONE_CLASS;
    Split s;
    cr_assert_eq(split_make(&r, &sc, &s), VB_OK, "%s", vb_errmsg());
    for (size_t i = 0; i < s.n[SPLIT_TRAIN]; i++)
        cr_assert_str_eq(r.classes[r.videos[s.videos[SPLIT_TRAIN][i]].cls], "Bag");
    cr_assert_eq(s.n[SPLIT_TEST], 50);
    split_free(&s);
    dataset_free(&r), dataset_free(&p);
    o.size = 20;
    cr_assert_eq(fmnist_read(&o, &p), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "padded to 20"), "%s", vb_errmsg());
}

/* gzip-compressed raw file */
static void write_gz(const char *path, const void *data, size_t len) {
    struct archive *a = archive_write_new();
    archive_write_set_format_raw(a);
    archive_write_add_filter_gzip(a);
    cr_assert_eq(archive_write_open_filename(a, path), ARCHIVE_OK);
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, "data");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_size(e, (la_int64_t)len);
    cr_assert_eq(archive_write_header(a, e), ARCHIVE_OK);
    cr_assert_eq(archive_write_data(a, data, len), (la_ssize_t)len);
    archive_entry_free(e);
    archive_write_close(a);
    archive_write_free(a);
}

Test(data_fmnist, damaged_idx_files_are_named) {
    cr_assert_eq(system("rm -rf tests/tmp/data_fmnist && mkdir -p tests/tmp/data_fmnist"), 0);
    const char *dir = "tests/tmp/data_fmnist";
    unsigned char img[16 + 2 * 784] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28};
    unsigned char lab[8 + 2] = {0, 0, 8, 1, 0, 0, 0, 2, 3, 11}; /* label 11 is no class */
    char p[256];
    const char *names[4] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                            "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        if (i % 2 == 0) write_gz(p, img, sizeof img);
        else write_gz(p, lab, sizeof lab);
    }
    FmnistOptions o;
    fmnist_defaults(&o);
    o.dir = dir, o.size = 28, o.fit = FMNIST_PAD;
    Dataset ds;
    cr_assert(fmnist_available(dir));
    cr_assert_eq(fmnist_read(&o, &ds), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "train-labels-idx1-ubyte.gz: label 11 of image 1"), "%s",
              vb_errmsg());
    lab[9] = 4;
    for (int i = 1; i < 4; i += 2) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        write_gz(p, lab, sizeof lab);
    }
    snprintf(p, sizeof p, "%s/%s", dir, names[0]);
    write_gz(p, img, sizeof img - 100); /* short image data */
    cr_assert_eq(fmnist_read(&o, &ds), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "train-images-idx3-ubyte.gz: 1468 bytes of data, the header "
                                  "announces 1568"),
              "%s", vb_errmsg());
    write_gz(p, img, sizeof img);
    o.normal = "Dress";
    cr_assert_eq(fmnist_read(&o, &ds), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(ds.nvideos, 4);
    dataset_free(&ds);
    o.dir = "tests/tmp/data_fmnist/none";
    cr_assert(!fmnist_available(o.dir));
    cr_assert_eq(fmnist_read(&o, &ds), VB_ERR_IO);
    cr_assert(strstr(vb_errmsg(), "Fashion-MNIST not found"), "%s", vb_errmsg());
}
