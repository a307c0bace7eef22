/* ucf_write: store a Dataset in UCF-Crime's PNG layout — directory or
 * archive through libarchive's write API, PNGs encoded with libspng in
 * parallel (per chunk of frames, written in order). */
#include "ucf.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <spng.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define FIXED_MTIME 1577836800 /* 2020-01-01: reproducible member times */
#define CHUNK 256

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && strcasecmp(s + n - m, suffix) == 0;
}

UcfContainer ucf_container_for(const char *path) {
    if (ends_with(path, ".zip")) return UCF_ZIP;
    if (ends_with(path, ".tar")) return UCF_TAR;
    if (ends_with(path, ".tar.gz") || ends_with(path, ".tgz")) return UCF_TAR_GZ;
    if (ends_with(path, ".tar.zst") || ends_with(path, ".tzst")) return UCF_TAR_ZST;
    if (ends_with(path, ".7z")) return UCF_7Z;
    return UCF_DIR;
}

typedef struct Writer {
    const char *path;
    UcfContainer kind;
    struct archive *a;
    char tmp[1100];
} Writer;

static VbStatus mkdir_one(const char *dir) {
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return vb_fail_plain(VB_ERR_IO, "cannot create directory %s: %s", dir, strerror(errno));
    return VB_OK;
}

static VbStatus archive_err(Writer *w, const char *what) {
    return vb_fail_plain(VB_ERR_IO, "%s: %s: %s", w->path, what,
                         archive_error_string(w->a) ? archive_error_string(w->a) : "write error");
}

static VbStatus writer_open(Writer *w) {
    if (w->kind == UCF_DIR) {
        char buf[1024];
        snprintf(buf, sizeof buf, "%s", w->path);
        for (char *p = buf + 1; *p; p++)
            if (*p == '/') {
                *p = 0;
                VB_TRY(mkdir_one(buf));
                *p = '/';
            }
        VB_TRY(mkdir_one(buf));
        DIR *d = opendir(buf);
        if (!d)
            return vb_fail_plain(VB_ERR_IO, "cannot open directory %s: %s", buf, strerror(errno));
        struct dirent *de;
        bool empty = true;
        while ((de = readdir(d)))
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) empty = false;
        closedir(d);
        if (!empty)
            return vb_fail_plain(VB_ERR_IO, "%s is not empty; refusing to mix data sets", w->path);
        return VB_OK;
    }
    w->a = archive_write_new();
    int r = ARCHIVE_OK;
    switch (w->kind) {
    case UCF_ZIP:
        r = archive_write_set_format_zip(w->a);
        if (r == ARCHIVE_OK)
            r = archive_write_set_format_option(w->a, "zip", "compression", "store");
        break;
    case UCF_7Z:
        r = archive_write_set_format_7zip(w->a);
        if (r == ARCHIVE_OK)
            r = archive_write_set_format_option(w->a, "7zip", "compression", "copy");
        break;
    default:
        r = archive_write_set_format_pax_restricted(w->a);
        if (r == ARCHIVE_OK && w->kind == UCF_TAR_GZ) r = archive_write_add_filter_gzip(w->a);
        if (r == ARCHIVE_OK && w->kind == UCF_TAR_ZST) r = archive_write_add_filter_zstd(w->a);
        break;
    }
    snprintf(w->tmp, sizeof w->tmp, "%s.tmp.%ld", w->path, (long)getpid());
    if (r != ARCHIVE_OK || archive_write_open_filename(w->a, w->tmp) != ARCHIVE_OK) {
        VbStatus st = archive_err(w, "cannot create archive");
        archive_write_free(w->a);
        w->a = NULL;
        unlink(w->tmp);
        return st;
    }
    return VB_OK;
}

static VbStatus writer_close(Writer *w, bool ok) {
    if (w->kind == UCF_DIR) return VB_OK;
    VbStatus st = VB_OK;
    if (archive_write_close(w->a) != ARCHIVE_OK && ok) st = archive_err(w, "cannot finish archive");
    archive_write_free(w->a);
    w->a = NULL;
    if (ok && st == VB_OK && rename(w->tmp, w->path) != 0)
        st = vb_fail_plain(VB_ERR_IO, "cannot rename %s to %s: %s", w->tmp, w->path,
                           strerror(errno));
    if (!ok || st != VB_OK) unlink(w->tmp);
    return st;
}

static VbStatus writer_dir(Writer *w, const char *name) {
    if (w->kind == UCF_DIR) {
        char full[2048];
        snprintf(full, sizeof full, "%s/%s", w->path, name);
        return mkdir_one(full);
    }
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFDIR);
    archive_entry_set_perm(e, 0755);
    archive_entry_set_mtime(e, FIXED_MTIME, 0);
    int r = archive_write_header(w->a, e);
    archive_entry_free(e);
    return r == ARCHIVE_OK ? VB_OK : archive_err(w, name);
}

static VbStatus writer_file(Writer *w, const char *name, const void *data, size_t len) {
    if (w->kind == UCF_DIR) {
        char full[2048];
        snprintf(full, sizeof full, "%s/%s", w->path, name);
        FILE *f = fopen(full, "wb");
        if (!f) return vb_fail_plain(VB_ERR_IO, "cannot create %s: %s", full, strerror(errno));
        bool ok = fwrite(data, 1, len, f) == len;
        ok = (fclose(f) == 0) && ok;
        return ok ? VB_OK : vb_fail_plain(VB_ERR_IO, "cannot write %s: %s", full, strerror(errno));
    }
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)len);
    archive_entry_set_mtime(e, FIXED_MTIME, 0);
    int r = archive_write_header(w->a, e);
    archive_entry_free(e);
    if (r != ARCHIVE_OK) return archive_err(w, name);
    if (archive_write_data(w->a, data, len) != (la_ssize_t)len) return archive_err(w, name);
    return VB_OK;
}

/* Encode an RGB frame; *out is malloc'd (free()), NULL with a message on error. */
static void png_encode(const uint8_t *rgb, int h, int w, void **out, size_t *len, char *msg,
                       size_t mn) {
    *out = NULL;
    spng_ctx *ctx = spng_ctx_new(SPNG_CTX_ENCODER);
    if (!ctx) {
        snprintf(msg, mn, "out of memory");
        return;
    }
    struct spng_ihdr ih = {(uint32_t)w, (uint32_t)h, 8, SPNG_COLOR_TYPE_TRUECOLOR, 0, 0, 0};
    int r = spng_set_option(ctx, SPNG_ENCODE_TO_BUFFER, 1);
    if (!r) r = spng_set_ihdr(ctx, &ih);
    if (!r)
        r = spng_encode_image(ctx, rgb, (size_t)h * (size_t)w * 3, SPNG_FMT_PNG,
                              SPNG_ENCODE_FINALIZE);
    if (!r) *out = spng_get_png_buffer(ctx, len, &r);
    if (r || !*out) {
        snprintf(msg, mn, "PNG encoding failed: %s", spng_strerror(r));
        free(*out);
        *out = NULL;
    }
    spng_ctx_free(ctx);
}

static VbStatus write_video(Writer *w, const Dataset *ds, size_t v, const char *prefix) {
    const DsVideo *dv = &ds->videos[v];
    void *png[CHUNK];
    size_t len[CHUNK];
    char msg[CHUNK][128];
    VbStatus st = VB_OK;
    for (uint32_t c0 = 0; c0 < dv->nframes && st == VB_OK; c0 += CHUNK) {
        int n = (int)(dv->nframes - c0 < CHUNK ? dv->nframes - c0 : CHUNK);
#pragma omp parallel for schedule(dynamic, 8)
        for (int i = 0; i < n; i++)
            png_encode(dataset_frame(ds, v, c0 + (uint32_t)i), ds->frames.h, ds->frames.w, &png[i],
                       &len[i], msg[i], sizeof msg[i]);
        for (int i = 0; i < n; i++) {
            char name[1024];
            snprintf(name, sizeof name, "%s%s_%u.png", prefix, dv->id, 10u * (c0 + (uint32_t)i));
            if (st == VB_OK && !png[i]) st = vb_fail_plain(VB_ERR_IO, "%s: %s", name, msg[i]);
            if (st == VB_OK) st = writer_file(w, name, png[i], len[i]);
            free(png[i]);
        }
    }
    return st;
}

VbStatus ucf_write(const Dataset *ds, const char *path, const char *top) {
    Writer w = {path, ucf_container_for(path), NULL, ""};
    VB_TRY(writer_open(&w));
    char pre[512] = "";
    VbStatus st = VB_OK;
    if (top && top[0]) {
        snprintf(pre, sizeof pre, "%s/", top);
        st = writer_dir(&w, top);
    }
    for (int sp = 0; sp < 2 && st == VB_OK; sp++) {
        char sdir[600];
        snprintf(sdir, sizeof sdir, "%s%s", pre, dataset_split_name((DsSplit)sp));
        bool any = false;
        for (size_t v = 0; v < ds->nvideos; v++) any = any || ds->videos[v].split == (DsSplit)sp;
        if (!any) continue;
        st = writer_dir(&w, sdir);
        for (int c = 0; c < ds->nclasses && st == VB_OK; c++) {
            char cdir[900];
            snprintf(cdir, sizeof cdir, "%s/%s", sdir, ds->classes[c]);
            bool made = false;
            for (size_t v = 0; v < ds->nvideos && st == VB_OK; v++) {
                if (ds->videos[v].split != (DsSplit)sp || ds->videos[v].cls != c) continue;
                if (!made) st = writer_dir(&w, cdir), made = true;
                char prefix[1000];
                snprintf(prefix, sizeof prefix, "%s/", cdir);
                if (st == VB_OK) st = write_video(&w, ds, v, prefix);
            }
        }
    }
    VbStatus cst = writer_close(&w, st == VB_OK);
    return st != VB_OK ? st : cst;
}
