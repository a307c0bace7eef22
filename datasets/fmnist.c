/* fmnist: idx parsing, resize/pad, and the single-frame Dataset. */
#include "fmnist.h"

#include <archive.h>
#include <archive_entry.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "datasets/safeio.h"

const char *const fmnist_class_names[FMNIST_NCLASSES] = {
    "T-shirt_top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle_boot"};

static const char *const file_stem[2][2] = {{"train-images-idx3-ubyte", "train-labels-idx1-ubyte"},
                                            {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"}};

void fmnist_defaults(FmnistOptions *o) {
    memset(o, 0, sizeof *o);
    o->size = 64;
    o->fit = FMNIST_RESIZE;
    o->channels = 3;
}

/* Path of an idx file: the .gz if present, else the plain file. */
static bool find_file(const char *dir, const char *stem, char *out, size_t n) {
    snprintf(out, n, "%s/%s.gz", dir, stem);
    if (access(out, R_OK) == 0) return true;
    snprintf(out, n, "%s/%s", dir, stem);
    return access(out, R_OK) == 0;
}

bool fmnist_available(const char *dir) {
    char p[1024];
    if (!dir) dir = FMNIST_DEFAULT_DIR;
    for (int s = 0; s < 2; s++)
        for (int k = 0; k < 2; k++)
            if (!find_file(dir, file_stem[s][k], p, sizeof p)) return false;
    return true;
}

static uint32_t be32(const unsigned char *p);

/* Bytes an idx file declares (header + data) from its first 4 + 4*ndims
 * bytes; 0 when the header is not one of unsigned bytes with `ndims`. */
static uint64_t idx_declared(const unsigned char *b, size_t len, int ndims) {
    if (len < 4 + 4 * (size_t)ndims || b[0] != 0 || b[1] != 0 || b[2] != 0x08 || b[3] != ndims)
        return 0;
    uint64_t total = 1;
    for (int i = 0; i < ndims; i++)
        if (__builtin_mul_overflow(total, (uint64_t)be32(b + 4 + 4 * i), &total)) return 0;
    return total > UINT64_MAX - 64 ? 0 : 4 + 4 * (uint64_t)ndims + total;
}

/* A whole idx file, decompressed when it is gzip (or any filter libarchive
 * knows). Decompression stops at the size the header declares (one byte
 * more shows a file longer than declared) and never passes the member cap
 * (safeio.h), so a small bomb cannot fill the memory; a failed allocation
 * is an error naming the file. */
static VbStatus read_all(const char *path, int ndims, unsigned char **out, size_t *len) {
    struct archive *a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_raw(a);
    struct archive_entry *ent;
    VbStatus st = VB_OK;
    SafeBuf b = {0};
    uint64_t cap = safeio_member_cap(), limit = cap;
    size_t head = 4 + 4 * (size_t)ndims;
    if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK ||
        archive_read_next_header(a, &ent) != ARCHIVE_OK) {
        st = vb_fail_plain(VB_ERR_INPUT, "%s: %s", path,
                           archive_error_string(a) ? archive_error_string(a) : "cannot read");
        goto done;
    }
    for (;;) {
        if (b.len >= head && limit == cap) { /* the header is in: size the rest by it */
            uint64_t d = idx_declared(b.p, b.len, ndims);
            if (d == 0) break; /* not an idx header: idx_header names the problem */
            if (d > cap) {
                st = vb_fail_plain(VB_ERR_INPUT,
                                   "%s: the idx header declares %llu bytes, more than the limit "
                                   "of %llu MiB (%s)",
                                   path, (unsigned long long)d, (unsigned long long)(cap >> 20),
                                   SAFEIO_MEMBER_ENV);
                goto done;
            }
            limit = d;
        }
        if (b.len > limit) {
            st = vb_fail_plain(VB_ERR_INPUT,
                               limit < cap ? "%s: more data than the idx header declares (%llu "
                                             "bytes)"
                                           : "%s: expands to more than %llu bytes",
                               path, (unsigned long long)limit);
            goto done;
        }
        size_t want = 1 << 20;
        if (b.len < head) want = head - b.len;
        else if (want > limit + 1 - b.len) want = (size_t)(limit + 1 - b.len);
        if (!safebuf_reserve(&b, want)) {
            st = vb_fail_plain(VB_ERR_NOMEM, "%s: out of memory holding %zu bytes", path,
                               b.len + want);
            goto done;
        }
        la_ssize_t r = archive_read_data(a, b.p + b.len, want);
        if (r == 0) break;
        if (r < 0) {
            st = vb_fail_plain(VB_ERR_INPUT, "%s: %s", path,
                               archive_error_string(a) ? archive_error_string(a) : "read error");
            goto done;
        }
        b.len += (size_t)r;
    }
done:
    archive_read_free(a);
    if (st != VB_OK) {
        safebuf_free(&b);
        return st;
    }
    if (!b.p && !safebuf_reserve(&b, 1))
        return vb_fail_plain(VB_ERR_NOMEM, "%s: out of memory", path);
    *out = b.p, *len = b.len;
    return VB_OK;
}

static uint32_t be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Check an idx header: unsigned bytes, `ndims` dimensions; dims out. */
static VbStatus idx_header(const char *path, const unsigned char *b, size_t len, int ndims,
                           uint32_t *dims) {
    if (len < 4 + 4 * (size_t)ndims || b[0] != 0 || b[1] != 0 || b[2] != 0x08 || b[3] != ndims)
        return vb_fail_plain(
            VB_ERR_INPUT, "%s: not an idx file of unsigned bytes with %d dimensions", path, ndims);
    uint64_t total = 1;
    bool overflow = false;
    for (int i = 0; i < ndims; i++)
        overflow |=
            __builtin_mul_overflow(total, (uint64_t)(dims[i] = be32(b + 4 + 4 * i)), &total);
    if (overflow || total > SIZE_MAX - 64)
        return vb_fail_plain(VB_ERR_INPUT, "%s: the header announces an impossible size", path);
    if (len != 4 + 4 * (size_t)ndims + total)
        return vb_fail_plain(VB_ERR_INPUT, "%s: %zu bytes of data, the header announces %zu", path,
                             len - 4 - 4 * (size_t)ndims, (size_t)total);
    return VB_OK;
}

/* 28x28 grey -> size x size x ch (ch 3: the grey value in every channel). */
static void fit_image(const unsigned char *src, int n, int size, FmnistFit fit, int ch,
                      uint8_t *dst) {
    if (fit == FMNIST_PAD) {
        int off = (size - n) / 2;
        memset(dst, 0, (size_t)size * size * ch);
        for (int y = 0; y < n; y++)
            for (int x = 0; x < n; x++)
                memset(dst + ((size_t)(y + off) * size + (x + off)) * ch, src[y * n + x],
                       (size_t)ch);
        return;
    }
    float scale = (float)n / (float)size;
    for (int y = 0; y < size; y++) {
        float sy = fmaxf(((float)y + 0.5f) * scale - 0.5f, 0.0f);
        int y0 = (int)sy, y1 = y0 + 1 < n ? y0 + 1 : n - 1;
        float fy = sy - (float)y0;
        for (int x = 0; x < size; x++) {
            float sx = fmaxf(((float)x + 0.5f) * scale - 0.5f, 0.0f);
            int x0 = (int)sx, x1 = x0 + 1 < n ? x0 + 1 : n - 1;
            float fx = sx - (float)x0;
            float v = (1 - fy) * ((1 - fx) * src[y0 * n + x0] + fx * src[y0 * n + x1]) +
                      fy * ((1 - fx) * src[y1 * n + x0] + fx * src[y1 * n + x1]);
            memset(dst + ((size_t)y * size + x) * ch, (int)lrintf(v), (size_t)ch);
        }
    }
}

typedef struct IdxPair {
    unsigned char *img, *lab;
    size_t img_len, lab_len;
    uint32_t n, rows, cols;
} IdxPair;

static VbStatus load_split(const char *dir, int s, IdxPair *out) {
    char ip[1024], lp[1024];
    memset(out, 0, sizeof *out);
    if (!find_file(dir, file_stem[s][0], ip, sizeof ip) ||
        !find_file(dir, file_stem[s][1], lp, sizeof lp))
        return vb_fail_plain(VB_ERR_IO,
                             "Fashion-MNIST not found in %s (expected %s.gz and %s.gz; "
                             "Debian: apt-get install dataset-fashion-mnist)",
                             dir, file_stem[s][0], file_stem[s][1]);
    VB_TRY(read_all(ip, 3, &out->img, &out->img_len));
    VbStatus st = read_all(lp, 1, &out->lab, &out->lab_len);
    uint32_t d3[3], d1[1];
    if (st == VB_OK) st = idx_header(ip, out->img, out->img_len, 3, d3);
    if (st == VB_OK) st = idx_header(lp, out->lab, out->lab_len, 1, d1);
    if (st == VB_OK && (d3[0] != d1[0] || d3[1] != 28 || d3[2] != 28))
        st = vb_fail_plain(VB_ERR_INPUT,
                           "%s: %u images of %ux%u for %u labels in %s; expected 28x28 "
                           "images, one per label",
                           ip, d3[0], d3[1], d3[2], d1[0], lp);
    for (uint32_t i = 0; st == VB_OK && i < d1[0]; i++)
        if (out->lab[8 + i] >= FMNIST_NCLASSES)
            st = vb_fail_plain(VB_ERR_INPUT, "%s: label %u of image %u is not a class 0..9", lp,
                               out->lab[8 + i], i);
    if (st != VB_OK) {
        free(out->img), free(out->lab);
        return st;
    }
    out->n = d3[0], out->rows = d3[1], out->cols = d3[2];
    return VB_OK;
}

VbStatus fmnist_read(const FmnistOptions *o, Dataset *ds) {
    const char *dir = o->dir && o->dir[0] ? o->dir : FMNIST_DEFAULT_DIR;
    dataset_init(ds);
    if (o->size < 8 || o->size > 1024)
        return vb_fail_plain(VB_ERR_INPUT, "Fashion-MNIST size %d is outside [8, 1024]", o->size);
    if (o->channels != 1 && o->channels != 3)
        return vb_fail_plain(VB_ERR_INPUT, "Fashion-MNIST channels %d: 1 (grey) or 3 (replicated)",
                             o->channels);
    if (o->fit == FMNIST_PAD && o->size < 28)
        return vb_fail_plain(VB_ERR_INPUT,
                             "Fashion-MNIST cannot be padded to %d < 28 pixels; resize "
                             "instead",
                             o->size);
    IdxPair sp[2];
    VB_TRY(load_split(dir, 0, &sp[0]));
    VbStatus st = load_split(dir, 1, &sp[1]);
    if (st != VB_OK) {
        free(sp[0].img), free(sp[0].lab);
        return st;
    }
    uint32_t n[2];
    for (int s = 0; s < 2; s++)
        n[s] = o->limit > 0 && (uint32_t)o->limit < sp[s].n ? (uint32_t)o->limit : sp[s].n;
    ds->source = vb_xstrdup(dir);
    for (int c = 0; c < FMNIST_NCLASSES; c++) dataset_class_index(ds, fmnist_class_names[c]);
    /* the decoded frames against the budget for what was read */
    double need = ((double)n[0] + n[1]) * o->size * o->size * (double)o->channels;
    uint64_t budget = safeio_decoded_budget(sp[0].img_len + sp[1].img_len);
    if (need > (double)budget)
        st = vb_fail_plain(VB_ERR_INPUT,
                           "%s: %u images at %dx%d would take %.2f GiB, more than the budget of "
                           "%.2f GiB (set %s to allow more, or dataset.limit / a smaller size)",
                           dir, n[0] + n[1], o->size, o->size, need / 1073741824.0,
                           (double)budget / 1073741824.0, SAFEIO_DECODED_ENV);
    if (st == VB_OK)
        st = dataset_frames_alloc_c(ds, (uint64_t)n[0] + n[1], o->size, o->size, o->channels);
    uint64_t slot = 0;
    for (int s = 0; s < 2 && st == VB_OK; s++) {
        for (uint32_t i = 0; i < n[s]; i++) {
            char id[32];
            snprintf(id, sizeof id, "%s_%05u", s == 0 ? "train" : "test", i);
            dataset_add_video(ds, id, sp[s].lab[8 + i], s == 0 ? DS_TRAIN : DS_TEST, 1, slot + i);
        }
        size_t fb = dataset_frame_bytes(ds);
        long cnt = (long)n[s];
#pragma omp parallel for schedule(static)
        for (long i = 0; i < cnt; i++)
            fit_image(sp[s].img + 16 + (size_t)i * 784, 28, o->size, o->fit, o->channels,
                      ds->frames.data + (slot + (uint64_t)i) * fb);
        slot += n[s];
    }
    for (int s = 0; s < 2; s++) free(sp[s].img), free(sp[s].lab);
    if (st == VB_OK) st = dataset_finish(ds, NULL);
    if (st == VB_OK)
        st = dataset_set_normal(ds, o->normal && o->normal[0] ? o->normal : "T-shirt_top");
    if (st != VB_OK) dataset_free(ds);
    return st;
}
