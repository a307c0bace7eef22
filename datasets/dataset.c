/* dataset: class/video tables, frame store, finishing and digest. */
#include "dataset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

void dataset_init(Dataset *ds) {
    memset(ds, 0, sizeof *ds);
    ds->normal = -1;
    ds->frames.c = 3;
}

void dataset_free(Dataset *ds) {
    if (!ds) return;
    for (int c = 0; c < ds->nclasses; c++) free(ds->classes[c]);
    free(ds->classes);
    for (size_t v = 0; v < ds->nvideos; v++) free(ds->videos[v].id);
    free(ds->videos);
    if (ds->frames.map) munmap(ds->frames.map, ds->frames.map_len);
    else free(ds->frames.data);
    free(ds->source);
    dataset_init(ds);
}

int dataset_find_class(const Dataset *ds, const char *name) {
    for (int c = 0; c < ds->nclasses; c++)
        if (strcmp(ds->classes[c], name) == 0) return c;
    return -1;
}

int dataset_class_index(Dataset *ds, const char *name) {
    int c = dataset_find_class(ds, name);
    if (c >= 0) return c;
    if (!name[0]) {
        VB_FAIL(VB_ERR_INPUT, "empty class name");
        return -1;
    }
    if (ds->nclasses >= DS_MAX_CLASSES) {
        VB_FAIL(VB_ERR_INPUT, "more than %d classes (at '%s')", DS_MAX_CLASSES, name);
        return -1;
    }
    ds->classes = vb_xrealloc(ds->classes, sizeof(char *) * (size_t)(ds->nclasses + 1));
    ds->classes[ds->nclasses] = vb_xstrdup(name);
    return ds->nclasses++;
}

void dataset_add_video(Dataset *ds, const char *id, int cls, DsSplit split, uint32_t nframes,
                       uint64_t first) {
    VB_ASSERT(cls >= 0 && cls < ds->nclasses);
    if (ds->nvideos == ds->cap_videos) {
        ds->cap_videos = ds->cap_videos ? ds->cap_videos * 2 : 64;
        ds->videos = vb_xrealloc(ds->videos, sizeof(DsVideo) * ds->cap_videos);
    }
    DsVideo *v = &ds->videos[ds->nvideos++];
    v->id = vb_xstrdup(id);
    v->cls = cls;
    v->split = split;
    v->nframes = nframes;
    v->first = first;
}

VbStatus dataset_frames_alloc(Dataset *ds, uint64_t nframes, int h, int w) {
    return dataset_frames_alloc_c(ds, nframes, h, w, 3);
}

VbStatus dataset_frames_alloc_c(Dataset *ds, uint64_t nframes, int h, int w, int c) {
    VB_ASSERT(!ds->frames.data);
    if (h <= 0 || w <= 0 || h > 4096 || w > 4096)
        return VB_FAIL(VB_ERR_INPUT, "frame size %dx%d out of range", w, h);
    if (c != 1 && c != 3) return VB_FAIL(VB_ERR_INPUT, "frames have 1 or 3 channels, not %d", c);
    size_t fb = (size_t)h * (size_t)w * (size_t)c;
    if (nframes > SIZE_MAX / fb)
        return VB_FAIL(VB_ERR_NOMEM, "%llu frames do not fit in memory",
                       (unsigned long long)nframes);
    ds->frames.data = calloc(nframes ? nframes : 1, fb);
    if (!ds->frames.data)
        return VB_FAIL(VB_ERR_NOMEM, "cannot allocate %llu frames of %dx%d (%.1f GiB)",
                       (unsigned long long)nframes, w, h, (double)nframes * fb / 1073741824.0);
    ds->frames.nframes = nframes;
    ds->frames.h = h;
    ds->frames.w = w;
    ds->frames.c = c;
    return VB_OK;
}

uint64_t dataset_total_frames(const Dataset *ds) {
    uint64_t n = 0;
    for (size_t v = 0; v < ds->nvideos; v++) n += ds->videos[v].nframes;
    return n;
}

const char *dataset_split_name(DsSplit s) { return s == DS_TRAIN ? "Train" : "Test"; }

void dataset_counts(const Dataset *ds, DsSplit split, uint64_t *videos, uint64_t *frames) {
    for (int c = 0; c < ds->nclasses; c++) videos[c] = frames[c] = 0;
    for (size_t v = 0; v < ds->nvideos; v++) {
        const DsVideo *d = &ds->videos[v];
        if (d->split != split) continue;
        videos[d->cls]++;
        frames[d->cls] += d->nframes;
    }
}

/* ---- hash: 4 lanes of multiply-rotate over 32-byte blocks ---- */

#define H_P1 0x9E3779B185EBCA87ull
#define H_P2 0xC2B2AE3D27D4EB4Full
#define H_P3 0x165667B19E3779F9ull

static inline uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
static inline uint64_t h_round(uint64_t acc, uint64_t w) {
    return rotl64(acc + w * H_P2, 31) * H_P1;
}
static inline uint64_t h_final(uint64_t h) {
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDull;
    h ^= h >> 33;
    h *= 0xC4CEB9FE1A85EC53ull;
    return h ^ (h >> 33);
}

uint64_t dataset_hash(const void *p, size_t n, uint64_t seed) {
    const unsigned char *b = p;
    uint64_t v0 = seed + H_P1 + H_P2, v1 = seed + H_P2, v2 = seed, v3 = seed - H_P1;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        uint64_t w[4];
        memcpy(w, b + i, 32);
        v0 = h_round(v0, w[0]);
        v1 = h_round(v1, w[1]);
        v2 = h_round(v2, w[2]);
        v3 = h_round(v3, w[3]);
    }
    uint64_t h = rotl64(v0, 1) + rotl64(v1, 7) + rotl64(v2, 12) + rotl64(v3, 18) + (uint64_t)n;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        h = rotl64(h ^ h_round(0, w), 27) * H_P1 + H_P3;
    }
    for (; i < n; i++) h = rotl64(h ^ (b[i] * H_P3), 11) * H_P1;
    return h_final(h);
}

/* ---- finishing ---- */

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_video(const void *a, const void *b) {
    const DsVideo *x = a, *y = b;
    if (x->split != y->split) return (int)x->split - (int)y->split;
    if (x->cls != y->cls) return x->cls - y->cls;
    return strcmp(x->id, y->id);
}

typedef struct MetaBuf {
    unsigned char *p;
    size_t n, cap;
} MetaBuf;

static void meta_put(MetaBuf *m, const void *src, size_t n) {
    if (m->n + n > m->cap) {
        m->cap = (m->n + n) * 2 + 256;
        m->p = vb_xrealloc(m->p, m->cap);
    }
    memcpy(m->p + m->n, src, n);
    m->n += n;
}

static void meta_u64(MetaBuf *m, uint64_t x) {
    unsigned char b[8];
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(x >> (8 * i));
    meta_put(m, b, 8);
}

static void compute_digest(Dataset *ds) {
    MetaBuf m = {0};
    meta_u64(&m, (uint64_t)ds->nclasses);
    for (int c = 0; c < ds->nclasses; c++) meta_put(&m, ds->classes[c], strlen(ds->classes[c]) + 1);
    meta_u64(&m, (uint64_t)ds->frames.h);
    meta_u64(&m, (uint64_t)ds->frames.w);
    if (ds->frames.c != 3) meta_u64(&m, 0x43u << 8 | (uint64_t)ds->frames.c); /* RGB: as before */
    meta_u64(&m, ds->nvideos);
    uint64_t *vh = vb_xcalloc(ds->nvideos, sizeof(uint64_t));
    size_t fb = dataset_frame_bytes(ds);
#pragma omp parallel for schedule(dynamic, 4)
    for (size_t v = 0; v < ds->nvideos; v++)
        vh[v] = dataset_hash(ds->frames.data + ds->videos[v].first * fb,
                             (size_t)ds->videos[v].nframes * fb, v);
    for (size_t v = 0; v < ds->nvideos; v++) {
        const DsVideo *d = &ds->videos[v];
        meta_put(&m, d->id, strlen(d->id) + 1);
        meta_u64(&m, (uint64_t)d->cls);
        meta_u64(&m, (uint64_t)d->split);
        meta_u64(&m, d->nframes);
        meta_u64(&m, vh[v]);
    }
    uint64_t a = dataset_hash(m.p, m.n, 0x5644424E43485331ull); /* "VDBNCHS1" */
    uint64_t b = dataset_hash(m.p, m.n, a ^ 0x243F6A8885A308D3ull);
    snprintf(ds->digest, sizeof ds->digest, "%016llx%016llx", (unsigned long long)a,
             (unsigned long long)b);
    free(vh);
    free(m.p);
}

VbStatus dataset_finish(Dataset *ds, const char *digest) {
    /* sort classes; remap the videos' provisional indices */
    int n = ds->nclasses;
    char **sorted = vb_xmalloc(sizeof(char *) * (size_t)(n ? n : 1));
    if (n > 0) memcpy(sorted, ds->classes, sizeof(char *) * (size_t)n);
    if (n > 1) qsort(sorted, (size_t)n, sizeof(char *), cmp_str);
    int remap[DS_MAX_CLASSES];
    for (int c = 0; c < n; c++)
        for (int k = 0; k < n; k++)
            if (sorted[k] == ds->classes[c]) remap[c] = k;
    free(ds->classes);
    ds->classes = sorted;
    for (size_t v = 0; v < ds->nvideos; v++) ds->videos[v].cls = remap[ds->videos[v].cls];
    if (ds->nvideos > 1) qsort(ds->videos, ds->nvideos, sizeof(DsVideo), cmp_video);
    ds->normal = -1;

    if (ds->nvideos == 0) return VB_FAIL(VB_ERR_INPUT, "no videos in the data set");
    for (size_t v = 0; v < ds->nvideos; v++) {
        const DsVideo *d = &ds->videos[v];
        if (d->nframes == 0 || d->first + d->nframes > ds->frames.nframes)
            return VB_FAIL(VB_ERR_INPUT,
                           "video %s/%s/%s: frames [%llu, +%u) outside the store of "
                           "%llu frames",
                           dataset_split_name(d->split), ds->classes[d->cls], d->id,
                           (unsigned long long)d->first, d->nframes,
                           (unsigned long long)ds->frames.nframes);
        if (v > 0 && cmp_video(&ds->videos[v - 1], d) == 0)
            return VB_FAIL(VB_ERR_INPUT, "video %s/%s/%s appears twice",
                           dataset_split_name(d->split), ds->classes[d->cls], d->id);
    }
    if (digest) snprintf(ds->digest, sizeof ds->digest, "%s", digest);
    else compute_digest(ds);
    return VB_OK;
}

VbStatus dataset_set_normal(Dataset *ds, const char *name) {
    if (!name || !name[0]) name = DS_DEFAULT_NORMAL;
    ds->normal = dataset_find_class(ds, name);
    if (ds->normal >= 0) return VB_OK;
    char list[1024] = "";
    size_t len = 0;
    for (int c = 0; c < ds->nclasses && len + 4 < sizeof list; c++)
        len +=
            (size_t)snprintf(list + len, sizeof list - len, "%s%s", c ? ", " : "", ds->classes[c]);
    return vb_fail_plain(VB_ERR_INPUT, "normal class '%s' not found; the data has %d classes: %s",
                         name, ds->nclasses, list);
}
