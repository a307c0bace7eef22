/* framecache: header, JSON metadata (jansson) and the mapped frame block. */
#include "framecache.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datasets/safeio.h"

#define CACHE_MAGIC "VBFRAMES"
#define CACHE_VERSION 2u /* 2: checksums of the frames and the metadata */
#define CACHE_HEADER 4096u

typedef struct CacheHeader {
    char magic[8];
    uint32_t version, header_bytes;
    CacheKey key;
    uint32_t h, w;
    uint64_t nframes, frames_offset, meta_offset, meta_len;
    uint64_t frames_sum, meta_sum; /* safeio_checksum of each part */
    uint64_t header_sum;           /* of the fields above */
} CacheHeader;

#define SUM_SEED 0x5642434143484531ull /* "VBCACHE1" */

static uint64_t header_sum(const CacheHeader *h) {
    return safeio_checksum(h, offsetof(CacheHeader, header_sum), SUM_SEED);
}

static VbStatus mkdir_p(const char *dir) {
    char buf[1024];
    if (snprintf(buf, sizeof buf, "%s", dir) >= (int)sizeof buf)
        return vb_fail_plain(VB_ERR_IO, "cache directory name too long: %s", dir);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == 0) {
            char c = *p;
            *p = 0;
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return vb_fail_plain(VB_ERR_IO, "cannot create cache directory %s: %s", buf,
                                     strerror(errno));
            *p = c;
            if (!c) break;
        }
    }
    return VB_OK;
}

VbStatus framecache_default_dir(char *out, size_t n) {
    const char *e = getenv("VADBENCH_CACHE_DIR");
    int k;
    if (e && e[0]) k = snprintf(out, n, "%s", e);
    else if ((e = getenv("XDG_CACHE_HOME")) && e[0]) k = snprintf(out, n, "%s/vadbench", e);
    else if ((e = getenv("HOME")) && e[0]) k = snprintf(out, n, "%s/.cache/vadbench", e);
    else
        return vb_fail_plain(VB_ERR_IO, "no cache directory: set VADBENCH_CACHE_DIR (or HOME), or "
                                        "give a cache directory / disable the cache");
    if (k < 0 || (size_t)k >= n) return vb_fail_plain(VB_ERR_IO, "cache directory name too long");
    return VB_OK;
}

VbStatus framecache_path(const char *dir, const char *source, const CacheKey *key, char *out,
                         size_t n) {
    VB_TRY(mkdir_p(dir));
    char base[128];
    size_t len = strlen(source);
    while (len > 1 && source[len - 1] == '/') len--;
    size_t start = len;
    while (start > 0 && source[start - 1] != '/') start--;
    size_t bl = 0;
    for (size_t i = start; i < len && bl + 1 < sizeof base; i++) {
        char c = source[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '-' || c == '_';
        base[bl++] = ok ? c : '_';
    }
    base[bl] = 0;
    uint64_t h = dataset_hash(key, sizeof *key, 0x4B45594B4559ull);
    int k =
        snprintf(out, n, "%s/%s-%016llx.vbcache", dir, bl ? base : "data", (unsigned long long)h);
    if (k < 0 || (size_t)k >= n) return vb_fail_plain(VB_ERR_IO, "cache file name too long");
    return VB_OK;
}

/* ---- load ---- */

static bool read_full(int fd, void *buf, size_t n, uint64_t off) {
    char *p = buf;
    while (n > 0) {
        ssize_t r = pread(fd, p, n, (off_t)off);
        if (r <= 0) {
            if (r < 0 && errno == EINTR) continue;
            return false;
        }
        p += r, n -= (size_t)r, off += (uint64_t)r;
    }
    return true;
}

static bool write_full(int fd, const void *buf, size_t n, uint64_t off) {
    const char *p = buf;
    while (n > 0) {
        ssize_t r = pwrite(fd, p, n, (off_t)off);
        if (r <= 0) {
            if (r < 0 && errno == EINTR) continue;
            return false;
        }
        p += r, n -= (size_t)r, off += (uint64_t)r;
    }
    return true;
}

/* Fill ds from the JSON metadata; false when anything is malformed. */
static bool parse_meta(json_t *root, Dataset *ds, const char **digest, char *warning, size_t wn) {
    json_t *classes = json_object_get(root, "classes"), *videos = json_object_get(root, "videos");
    json_t *dg = json_object_get(root, "digest"), *src = json_object_get(root, "source");
    json_t *sk = json_object_get(root, "skipped"), *wa = json_object_get(root, "warning");
    if (!json_is_array(classes) || !json_is_array(videos) || !json_is_string(dg) ||
        !json_is_string(src) || !json_is_integer(sk) || !json_is_string(wa))
        return false;
    size_t i;
    json_t *v;
    json_array_foreach(classes, i, v) {
        if (!json_is_string(v) || dataset_class_index(ds, json_string_value(v)) != (int)i)
            return false;
    }
    json_array_foreach(videos, i, v) {
        json_t *id = json_array_get(v, 0), *c = json_array_get(v, 1), *s = json_array_get(v, 2);
        json_t *nf = json_array_get(v, 3), *first = json_array_get(v, 4);
        if (!json_is_string(id) || !json_is_integer(c) || !json_is_integer(s) ||
            !json_is_integer(nf) || !json_is_integer(first))
            return false;
        json_int_t ci = json_integer_value(c), si = json_integer_value(s);
        json_int_t ni = json_integer_value(nf), fi = json_integer_value(first);
        if (ci < 0 || ci >= ds->nclasses || (si != DS_TRAIN && si != DS_TEST) || ni <= 0 ||
            ni > (json_int_t)UINT32_MAX || fi < 0)
            return false;
        dataset_add_video(ds, json_string_value(id), (int)ci, (DsSplit)si, (uint32_t)ni,
                          (uint64_t)fi);
    }
    ds->skipped = (uint64_t)json_integer_value(sk);
    ds->source = vb_xstrdup(json_string_value(src));
    *digest = json_string_value(dg);
    if (warning) snprintf(warning, wn, "%s", json_string_value(wa));
    return strlen(*digest) == 32;
}

VbStatus framecache_load(const char *file, const CacheKey *key, const char *normal, Dataset *ds,
                         char *warning, size_t wn, char *note, size_t nn, bool *hit) {
    *hit = false;
    if (note && nn) note[0] = 0;
    dataset_init(ds);
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return VB_OK;
    CacheHeader hd;
    struct stat st;
    char *meta = NULL;
    json_t *root = NULL;
    VbStatus status = VB_OK;
    const char *corrupt = NULL; /* set: the file is ours but damaged */
    if (fstat(fd, &st) != 0 || !read_full(fd, &hd, sizeof hd, 0)) goto miss;
    if (memcmp(hd.magic, CACHE_MAGIC, 8) != 0 || hd.version != CACHE_VERSION ||
        memcmp(&hd.key, key, sizeof *key) != 0)
        goto miss; /* another format or another source: not this file's business */
    /* the checksums are verified last, after everything was parsed safely */
    corrupt = "its header is inconsistent";
    if (hd.header_bytes != CACHE_HEADER || hd.h == 0 || hd.w == 0 || hd.h > 4096 || hd.w > 4096 ||
        hd.frames_offset != CACHE_HEADER)
        goto miss;
    uint64_t fb = (uint64_t)hd.h * hd.w * 3;
    if (hd.nframes == 0 || hd.nframes > (UINT64_MAX - CACHE_HEADER) / fb ||
        hd.meta_offset != CACHE_HEADER + hd.nframes * fb || hd.meta_len == 0 ||
        hd.meta_len > (1u << 30))
        goto miss;
    if (hd.meta_offset + hd.meta_len != (uint64_t)st.st_size) {
        corrupt = "its size differs from what its header says (truncated?)";
        goto miss;
    }
    corrupt = NULL;
    meta = malloc(hd.meta_len);
    if (!meta || !read_full(fd, meta, hd.meta_len, hd.meta_offset)) goto miss;
    root = json_loadb(meta, hd.meta_len, 0, NULL);
    const char *digest = NULL;
    if (!root || !parse_meta(root, ds, &digest, warning, wn)) {
        corrupt = "its metadata is malformed";
        goto miss;
    }
    void *map = mmap(NULL, hd.meta_offset, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) goto miss;
    ds->frames.map = map;
    ds->frames.map_len = hd.meta_offset;
    ds->frames.data = (uint8_t *)map + CACHE_HEADER;
    ds->frames.nframes = hd.nframes;
    ds->frames.h = (int)hd.h;
    ds->frames.w = (int)hd.w;
    if (dataset_finish(ds, digest) != VB_OK) { /* inconsistent file: rebuild it */
        corrupt = "its video table does not fit its frames";
        goto miss;
    }
    if (hd.header_sum != header_sum(&hd)) {
        corrupt = "its header checksum does not match";
        goto miss;
    }
    if (safeio_checksum(meta, hd.meta_len, SUM_SEED) != hd.meta_sum) {
        corrupt = "its metadata checksum does not match";
        goto miss;
    }
    if (safeio_checksum(ds->frames.data, hd.nframes * fb, SUM_SEED) != hd.frames_sum) {
        corrupt = "its frames checksum does not match (damaged frame bytes)";
        goto miss;
    }
    status = dataset_set_normal(ds, normal);
    if (status != VB_OK) dataset_free(ds);
    else *hit = true;
    json_decref(root);
    free(meta);
    close(fd);
    return status;
miss:
    dataset_free(ds);
    json_decref(root);
    free(meta);
    close(fd);
    if (corrupt) {
        /* a damaged cache of this very source: drop it so that it is rebuilt */
        bool gone = unlink(file) == 0 || errno == ENOENT;
        if (note && nn)
            snprintf(note, nn, "frame cache %s was discarded because %s%s", file, corrupt,
                     gone ? "; it is rebuilt from the source" : " (and it cannot be removed)");
        vb_clear_error();
    }
    return VB_OK;
}

/* ---- build ---- */

VbStatus framecache_begin(CacheFile *cf, const char *file, uint64_t nframes, int h, int w) {
    memset(cf, 0, sizeof *cf);
    cf->fd = -1;
    snprintf(cf->path, sizeof cf->path, "%s", file);
    snprintf(cf->tmp, sizeof cf->tmp, "%s.tmp.%ld", file, (long)getpid());
    uint64_t fb = (uint64_t)h * (uint64_t)w * 3;
    if (nframes > (UINT64_MAX - CACHE_HEADER) / fb)
        return vb_fail_plain(VB_ERR_INPUT, "cache for %llu frames is too large",
                             (unsigned long long)nframes);
    cf->map_len = CACHE_HEADER + nframes * fb;
    cf->fd = open(cf->tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (cf->fd < 0)
        return vb_fail_plain(VB_ERR_IO, "cannot create cache file %s: %s", cf->tmp,
                             strerror(errno));
    /* reserve the blocks now: a full disk is an error here, not a SIGBUS later */
    int e = posix_fallocate(cf->fd, 0, (off_t)cf->map_len);
    if (e != 0) {
        framecache_abort(cf);
        return vb_fail_plain(VB_ERR_IO, "cannot reserve %.2f GiB for cache file %s: %s",
                             (double)cf->map_len / 1073741824.0, cf->tmp, strerror(e));
    }
    void *map = mmap(NULL, cf->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, cf->fd, 0);
    if (map == MAP_FAILED) {
        e = errno;
        framecache_abort(cf);
        return vb_fail_plain(VB_ERR_IO, "cannot map cache file %s: %s", cf->tmp, strerror(e));
    }
    cf->map = map;
    cf->nframes = nframes;
    cf->h = h, cf->w = w;
    return VB_OK;
}

void framecache_abort(CacheFile *cf) {
    if (cf->map) munmap(cf->map, cf->map_len);
    cf->map = NULL;
    if (cf->fd >= 0) {
        close(cf->fd);
        unlink(cf->tmp);
    }
    cf->fd = -1;
}

static json_t *make_meta(const Dataset *ds, const char *warning) {
    json_t *root = json_object(), *classes = json_array(), *videos = json_array();
    for (int c = 0; c < ds->nclasses; c++)
        json_array_append_new(classes, json_string(ds->classes[c]));
    for (size_t v = 0; v < ds->nvideos; v++) {
        const DsVideo *d = &ds->videos[v];
        json_array_append_new(videos, json_pack("[s,i,i,I,I]", d->id, d->cls, (int)d->split,
                                                (json_int_t)d->nframes, (json_int_t)d->first));
    }
    json_object_set_new(root, "version", json_integer(CACHE_VERSION));
    json_object_set_new(root, "source", json_string(ds->source ? ds->source : ""));
    json_object_set_new(root, "digest", json_string(ds->digest));
    json_object_set_new(root, "skipped", json_integer((json_int_t)ds->skipped));
    json_object_set_new(root, "warning", json_string(warning ? warning : ""));
    json_object_set_new(root, "classes", classes);
    json_object_set_new(root, "videos", videos);
    return root;
}

VbStatus framecache_commit(CacheFile *cf, const CacheKey *key, const Dataset *ds,
                           const char *warning) {
    VB_ASSERT(cf->map && ds->frames.map == NULL && ds->frames.nframes <= cf->nframes);
    uint64_t fb = (uint64_t)cf->h * (uint64_t)cf->w * 3;
    uint64_t meta_off = CACHE_HEADER + ds->frames.nframes * fb;
    uint64_t frames_sum =
        safeio_checksum(cf->map + CACHE_HEADER, ds->frames.nframes * fb, SUM_SEED);
    munmap(cf->map, cf->map_len);
    cf->map = NULL;
    json_t *root = make_meta(ds, warning);
    char *meta = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    CacheHeader hd;
    char block[CACHE_HEADER];
    memset(&hd, 0, sizeof hd);
    memcpy(hd.magic, CACHE_MAGIC, 8);
    hd.version = CACHE_VERSION;
    hd.header_bytes = CACHE_HEADER;
    hd.key = *key;
    hd.h = (uint32_t)cf->h, hd.w = (uint32_t)cf->w;
    hd.nframes = ds->frames.nframes;
    hd.frames_offset = CACHE_HEADER;
    hd.meta_offset = meta_off;
    hd.meta_len = meta ? strlen(meta) : 0;
    hd.frames_sum = frames_sum;
    hd.meta_sum = meta ? safeio_checksum(meta, hd.meta_len, SUM_SEED) : 0;
    hd.header_sum = header_sum(&hd);
    memset(block, 0, sizeof block);
    memcpy(block, &hd, sizeof hd);
    bool ok = meta && ftruncate(cf->fd, (off_t)meta_off) == 0 &&
              write_full(cf->fd, meta, hd.meta_len, meta_off) &&
              write_full(cf->fd, block, sizeof block, 0) && fsync(cf->fd) == 0;
    int e = errno;
    free(meta);
    if (!ok) {
        framecache_abort(cf);
        return vb_fail_plain(VB_ERR_IO, "cannot write cache file %s: %s", cf->tmp, strerror(e));
    }
    close(cf->fd);
    cf->fd = -1;
    if (rename(cf->tmp, cf->path) != 0) {
        e = errno;
        unlink(cf->tmp);
        return vb_fail_plain(VB_ERR_IO, "cannot rename %s to %s: %s", cf->tmp, cf->path,
                             strerror(e));
    }
    return VB_OK;
}
