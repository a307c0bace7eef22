/* ucf: the UCF-Crime reader — pass 2 (member data read in archive order,
 * PNGs decoded in parallel batches straight into their frame-store slots),
 * compaction of skipped frames, the Dataset, and the frame cache. */
#include "ucf.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <omp.h>
#include <spng.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "datasets/framecache.h"
#include "datasets/safeio.h"
#include "datasets/ucf_index.h"
#include "kernels/clock.h"

#define BATCH_JOBS 256
#define BATCH_BYTES (64u << 20)

typedef struct Job {
    size_t entry;
    unsigned char *buf;
    size_t len, cap;
    bool fail;
    char msg[256];
} Job;

typedef struct Store {
    bool use_cache, ready;
    char file[1024];
    CacheFile cf;
    uint8_t *mem, *frames;
    int h, w;
} Store;

typedef struct Pass {
    Index *ix;
    Store *st;
    const UcfOptions *o;
    Job *jobs;
    size_t nj, bytes;
    uint64_t done;
} Pass;

void ucf_defaults(UcfOptions *o) { memset(o, 0, sizeof *o); }

/* ---- PNG ---- */

static spng_ctx *png_open(Job *j) {
    spng_ctx *ctx = spng_ctx_new(0);
    if (!ctx) {
        snprintf(j->msg, sizeof j->msg, "out of memory decoding PNG");
        j->fail = true;
        return NULL;
    }
    /* frames larger than the frame store accepts are refused by the header */
    spng_set_image_limits(ctx, UCF_MAX_SIDE, UCF_MAX_SIDE);
    spng_set_chunk_limits(ctx, 1u << 26, 1u << 26);
    int r = spng_set_png_buffer(ctx, j->buf, j->len);
    struct spng_ihdr ih;
    if (!r) r = spng_get_ihdr(ctx, &ih);
    if (r) {
        snprintf(j->msg, sizeof j->msg, "corrupt PNG (%s)", spng_strerror(r));
        j->fail = true;
        spng_ctx_free(ctx);
        return NULL;
    }
    return ctx;
}

static bool png_size(Job *j, int *h, int *w) {
    spng_ctx *ctx = png_open(j);
    if (!ctx) return false;
    struct spng_ihdr ih;
    spng_get_ihdr(ctx, &ih);
    spng_ctx_free(ctx);
    *h = (int)ih.height, *w = (int)ih.width;
    return true;
}

static void png_decode(Job *j, int h, int w, bool asked, uint8_t *out) {
    spng_ctx *ctx = png_open(j);
    if (!ctx) return;
    struct spng_ihdr ih;
    spng_get_ihdr(ctx, &ih);
    size_t need = 0;
    int r = 0;
    if ((int)ih.width != w || (int)ih.height != h) {
        snprintf(j->msg, sizeof j->msg, "frame is %ux%u, expected %dx%d %s", ih.width, ih.height, w,
                 h, asked ? "(the size asked for)" : "like the first frame");
        j->fail = true;
    } else if ((r = spng_decoded_image_size(ctx, SPNG_FMT_RGB8, &need)) != 0 ||
               need != (size_t)h * (size_t)w * 3 ||
               (r = spng_decode_image(ctx, out, need, SPNG_FMT_RGB8, 0)) != 0) {
        snprintf(j->msg, sizeof j->msg, "corrupt PNG (%s)", r ? spng_strerror(r) : "bad size");
        j->fail = true;
    }
    spng_ctx_free(ctx);
}

/* ---- frame store ---- */

static VbStatus store_open(Store *s, const Index *ix, int h, int w) {
    if (h <= 0 || w <= 0 || h > UCF_MAX_SIDE || w > UCF_MAX_SIDE)
        return vb_fail_plain(VB_ERR_INPUT, "%s: frame size %dx%d is not supported", ix->path, w, h);
    s->h = h, s->w = w;
    size_t fb = (size_t)h * (size_t)w * 3;
    /* the budget is checked before anything is allocated or reserved */
    double need = (double)ix->nframes * (double)fb;
    uint64_t budget = safeio_decoded_budget(ix->key.size);
    if (need > (double)budget)
        return vb_fail_plain(VB_ERR_INPUT,
                             "%s: %zu frames of %dx%d would decode to %.2f GiB, more than the "
                             "budget of %.2f GiB for a source of %.1f MB (set %s to allow more)",
                             ix->path, ix->nframes, w, h, need / 1073741824.0,
                             (double)budget / 1073741824.0, (double)ix->key.size / 1e6,
                             SAFEIO_DECODED_ENV);
    if (s->use_cache) {
        VB_TRY(framecache_begin(&s->cf, s->file, ix->nframes, h, w));
        s->frames = framecache_frames(&s->cf);
    } else {
        s->mem = calloc(ix->nframes, fb);
        if (!s->mem)
            return vb_fail_plain(VB_ERR_NOMEM,
                                 "cannot hold %zu frames of %dx%d in memory (%.1f GiB); "
                                 "use the frame cache",
                                 ix->nframes, w, h,
                                 (double)ix->nframes * (double)fb / 1073741824.0);
        s->frames = s->mem;
    }
    s->ready = true;
    return VB_OK;
}

static void store_drop(Store *s) {
    if (s->use_cache) framecache_abort(&s->cf);
    free(s->mem);
    s->mem = s->frames = NULL;
}

/* ---- pass 2 ---- */

/* Room for `extra` more bytes in a job's buffer; false (with the job
 * failed) when the allocation fails. */
static bool job_reserve(Job *j, size_t extra) {
    SafeBuf b = {j->buf, j->len, j->cap};
    if (!safebuf_reserve(&b, extra)) {
        snprintf(j->msg, sizeof j->msg, "out of memory holding %zu bytes", j->len + extra);
        j->fail = true;
        return false;
    }
    j->buf = b.p, j->cap = b.cap;
    return true;
}

static void read_file(const Index *ix, Job *j) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", ix->path, ix->e[j->entry].raw);
    FILE *f = fopen(path, "rb");
    j->len = 0;
    if (!f) {
        snprintf(j->msg, sizeof j->msg, "cannot open: %s", strerror(errno));
        j->fail = true;
        return;
    }
    uint64_t cap = safeio_member_cap();
    for (;;) {
        if (j->len > cap) {
            snprintf(j->msg, sizeof j->msg, "larger than %llu MiB (%s)",
                     (unsigned long long)(cap >> 20), SAFEIO_MEMBER_ENV);
            j->fail = true;
            break;
        }
        if (j->len == j->cap && !job_reserve(j, 1 << 15)) break;
        size_t r = fread(j->buf + j->len, 1, j->cap - j->len, f);
        j->len += r;
        if (r == 0) break;
    }
    if (ferror(f)) {
        snprintf(j->msg, sizeof j->msg, "read error: %s", strerror(errno));
        j->fail = true;
    }
    fclose(f);
}

/* Decode the queued jobs into their slots, then report failures in order. */
static VbStatus run_batch(Pass *p) {
    Index *ix = p->ix;
    Store *s = p->st;
    long nj = (long)p->nj;
    if (ix->is_dir) {
#pragma omp parallel for schedule(dynamic, 4)
        for (long i = 0; i < nj; i++) read_file(ix, &p->jobs[i]);
    }
    if (!s->ready && p->o->expect_size > 0)
        VB_TRY(store_open(s, ix, p->o->expect_size, p->o->expect_size));
    for (long i = 0; i < nj && !s->ready; i++) {
        int h, w;
        if (!p->jobs[i].fail && png_size(&p->jobs[i], &h, &w)) VB_TRY(store_open(s, ix, h, w));
    }
    size_t fb = (size_t)s->h * (size_t)s->w * 3;
#pragma omp parallel for schedule(dynamic, 4)
    for (long i = 0; i < nj; i++) {
        Job *j = &p->jobs[i];
        if (!j->fail && s->ready)
            png_decode(j, s->h, s->w, p->o->expect_size > 0, s->frames + ix->e[j->entry].slot * fb);
    }
    for (long i = 0; i < nj; i++) {
        Job *j = &p->jobs[i];
        if (j->fail) VB_TRY(ucf_index_bad(ix, &ix->e[j->entry], "%s", j->msg));
        j->fail = false;
        j->len = 0;
    }
    p->done += p->nj;
    p->nj = p->bytes = 0;
    if (p->o->progress) p->o->progress(p->o->progress_ctx, p->done, ix->nframes);
    return VB_OK;
}

static VbStatus queue(Pass *p, size_t entry) {
    p->jobs[p->nj].entry = entry;
    p->bytes += p->jobs[p->nj].len;
    if (++p->nj == BATCH_JOBS || p->bytes > BATCH_BYTES) return run_batch(p);
    return VB_OK;
}

/* Read one member's data into the next job; false on a fatal error. The
 * data stops at the size the member declares, and at the member cap: a
 * member that expands further is a bad entry, never an allocation. */
static bool read_member(struct archive *a, struct archive_entry *ent, Job *j) {
    j->len = 0;
    uint64_t cap = safeio_member_cap(), limit = cap;
    bool declared = archive_entry_size_is_set(ent) && archive_entry_size(ent) >= 0;
    if (declared && (uint64_t)archive_entry_size(ent) < limit)
        limit = (uint64_t)archive_entry_size(ent);
    if (declared && (uint64_t)archive_entry_size(ent) > cap) {
        snprintf(j->msg, sizeof j->msg, "declares %lld bytes, more than the limit of %llu MiB (%s)",
                 (long long)archive_entry_size(ent), (unsigned long long)(cap >> 20),
                 SAFEIO_MEMBER_ENV);
        j->fail = true;
        return true;
    }
    for (;;) {
        if (j->len > limit) {
            if (declared && limit < cap)
                snprintf(j->msg, sizeof j->msg, "holds more data than the %llu bytes it declares",
                         (unsigned long long)limit);
            else
                snprintf(j->msg, sizeof j->msg, "expands to more than %llu MiB (%s)",
                         (unsigned long long)(cap >> 20), SAFEIO_MEMBER_ENV);
            j->fail = true;
            return true;
        }
        if (j->len == j->cap && !job_reserve(j, j->cap ? j->cap : 1 << 15)) return true;
        size_t room = j->cap - j->len;
        if (room > limit + 1 - j->len) room = (size_t)(limit + 1 - j->len);
        la_ssize_t r = archive_read_data(a, j->buf + j->len, room);
        if (r == 0) return true;
        if (r < 0) {
            if (r == ARCHIVE_FATAL) return false;
            snprintf(j->msg, sizeof j->msg, "unreadable entry (%s)",
                     archive_error_string(a) ? archive_error_string(a) : "read error");
            j->fail = true;
            return true;
        }
        j->len += (size_t)r;
    }
}

/* Fatal error in pass 2 at entry k: with skip_bad, k and every later frame
 * are skipped. */
static VbStatus fatal_at(Pass *p, struct archive *a, size_t k) {
    Index *ix = p->ix;
    if (k >= ix->n) return VB_OK; /* past the last listed member: nothing lost */
    VB_TRY(ucf_archive_fatal(ix, a, ix->e[k].raw, false));
    for (size_t i = k; i < ix->n; i++)
        if (ix->e[i].state == ES_FRAME) ucf_index_bad(ix, &ix->e[i], "not reached");
    return VB_OK;
}

static VbStatus decode_archive(Pass *p) {
    Index *ix = p->ix;
    struct archive *a;
    VB_TRY(ucf_open_archive(ix->path, &a));
    VbStatus st = VB_OK;
    size_t k = 0;
    int retries = 0;
    while (st == VB_OK && k < ix->n) {
        struct archive_entry *ent;
        int r = archive_read_next_header(a, &ent);
        if (r == ARCHIVE_RETRY && ++retries < 8) continue;
        retries = 0;
        if (r == ARCHIVE_EOF || r == ARCHIVE_RETRY || r < ARCHIVE_WARN) {
            if (r == ARCHIVE_EOF) archive_set_error(a, EIO, "archive ended early");
            st = fatal_at(p, a, k);
            break;
        }
        Entry *e = &ix->e[k];
        if (strcmp(ucf_entry_name(ent), e->raw) != 0) {
            st = vb_fail_plain(VB_ERR_IO,
                               "%s changed while being read (member %zu is '%s', was '%s')",
                               ix->path, k, ucf_entry_name(ent), e->raw);
            break;
        }
        if (e->state != ES_FRAME) {
            if (archive_read_data_skip(a) == ARCHIVE_FATAL) st = fatal_at(p, a, k + 1);
            k++;
            continue;
        }
        Job *j = &p->jobs[p->nj];
        if (!read_member(a, ent, j)) {
            st = fatal_at(p, a, k);
            break;
        }
        st = queue(p, k++);
    }
    if (st == VB_OK && p->nj) st = run_batch(p);
    archive_read_free(a);
    return st;
}

static VbStatus decode_dir(Pass *p) {
    for (size_t j = 0; j < p->ix->nframes; j++) VB_TRY(queue(p, p->ix->order[j]));
    return p->nj ? run_batch(p) : VB_OK;
}

/* ---- the Dataset ---- */

/* Compact the surviving frames to the front of the store, in sorted order,
 * and list the videos. */
static VbStatus build_dataset(Index *ix, Store *s, Dataset *ds) {
    dataset_init(ds);
    ds->source = vb_xstrdup(ix->path);
    ds->skipped = ix->skipped;
    size_t fb = (size_t)s->h * (size_t)s->w * 3;
    uint64_t next = 0;
    for (size_t j = 0; j < ix->nframes;) {
        const Entry *e = &ix->e[ix->order[j]];
        if (e->state != ES_FRAME) {
            j++;
            continue;
        }
        uint64_t first = next;
        size_t k = j;
        for (; k < ix->nframes && ucf_same_video(&ix->e[ix->order[k]], e); k++) {
            const Entry *f = &ix->e[ix->order[k]];
            if (f->state != ES_FRAME) continue;
            if (f->slot != next) memmove(s->frames + next * fb, s->frames + f->slot * fb, fb);
            next++;
        }
        char id[512];
        snprintf(id, sizeof id, "%.*s", (int)e->vid_len, e->raw + e->vid_off);
        int cls = dataset_class_index(ds, ix->cls[e->cls]);
        if (cls < 0) return vb_wrap(VB_ERR_INPUT, "%s", ix->path);
        dataset_add_video(ds, id, cls, (DsSplit)e->split, (uint32_t)(next - first), first);
        j = k;
    }
    ds->frames.nframes = next;
    ds->frames.h = s->h, ds->frames.w = s->w;
    ds->frames.data = s->frames;
    return dataset_finish(ds, NULL);
}

static VbStatus decode_all(Index *ix, Store *s, const UcfOptions *o, Dataset *out, UcfReport *rep) {
    Pass p = {ix, s, o, vb_xcalloc(BATCH_JOBS, sizeof(Job)), 0, 0, 0};
    VbStatus st = ix->is_dir ? decode_dir(&p) : decode_archive(&p);
    for (int i = 0; i < BATCH_JOBS; i++) free(p.jobs[i].buf);
    free(p.jobs);
    if (st == VB_OK && !s->ready)
        st = vb_fail_plain(VB_ERR_INPUT, "%s: no frame could be decoded (%llu entries skipped)",
                           ix->path, (unsigned long long)ix->skipped);
    if (st != VB_OK) {
        store_drop(s);
        return st;
    }
    Dataset ds;
    st = build_dataset(ix, s, &ds);
    snprintf(rep->warning, sizeof rep->warning, "%s", ix->warning);
    if (st != VB_OK) {
        ds.frames.data = NULL;
        dataset_free(&ds);
        store_drop(s);
        return vb_wrap(st, "%s", ix->path);
    }
    if (!s->use_cache) {
        s->mem = NULL; /* owned by ds now */
        st = dataset_set_normal(&ds, o->normal);
        if (st != VB_OK) dataset_free(&ds);
        else *out = ds;
        return st;
    }
    st = framecache_commit(&s->cf, &ix->key, &ds, ix->warning);
    ds.frames.data = NULL;
    dataset_free(&ds);
    if (st != VB_OK) return st;
    bool hit;
    st = framecache_load(s->file, &ix->key, o->normal, out, NULL, 0, NULL, 0, &hit);
    if (st == VB_OK && !hit)
        st =
            vb_fail_plain(VB_ERR_IO, "cache file %s cannot be read back after writing it", s->file);
    return st;
}

VbStatus ucf_read(const char *path, const UcfOptions *o, Dataset *out, UcfReport *rep) {
    double t0 = vb_now_s();
    UcfReport dummy;
    if (!rep) rep = &dummy;
    memset(rep, 0, sizeof *rep);
    dataset_init(out);
    struct stat sb;
    if (stat(path, &sb) != 0)
        return vb_fail_plain(VB_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    Index ix;
    VbStatus st = ucf_index_build(&ix, path, S_ISDIR(sb.st_mode), o->skip_bad);
    rep->members = ix.n;
    Store s;
    memset(&s, 0, sizeof s);
    s.use_cache = !o->no_cache;
    if (st == VB_OK && s.use_cache) {
        char dir[1024];
        if (o->cache_dir && o->cache_dir[0]) snprintf(dir, sizeof dir, "%s", o->cache_dir);
        else st = framecache_default_dir(dir, sizeof dir);
        if (st == VB_OK) st = framecache_path(dir, path, &ix.key, s.file, sizeof s.file);
        /* decodes of killed processes leave "<file>.tmp.<pid>" behind */
        if (st == VB_OK) rep->orphans_removed = safeio_clean_orphans(dir, 60.0, NULL);
        bool hit = false;
        if (st == VB_OK)
            st = framecache_load(s.file, &ix.key, o->normal, out, rep->warning, sizeof rep->warning,
                                 rep->cache_note, sizeof rep->cache_note, &hit);
        rep->cache_hit = hit;
        snprintf(rep->cache_file, sizeof rep->cache_file, "%s", s.file);
        if (st == VB_OK && hit) {
            snprintf(out->warning, sizeof out->warning, "%s", rep->warning);
            ucf_index_free(&ix);
            rep->cache_bytes = out->frames.map_len;
            rep->seconds = vb_now_s() - t0;
            return VB_OK;
        }
    }
    if (st == VB_OK) st = decode_all(&ix, &s, o, out, rep);
    if (st == VB_OK) snprintf(out->warning, sizeof out->warning, "%s", rep->warning);
    ucf_index_free(&ix);
    if (st == VB_OK && s.use_cache && stat(s.file, &sb) == 0)
        rep->cache_bytes = (uint64_t)sb.st_size;
    rep->seconds = vb_now_s() - t0;
    if (st == VB_ERR_INPUT && strncmp(vb_errmsg(), "normal class", 12) == 0)
        vb_wrap(st, "%s", path);
    return st;
}
