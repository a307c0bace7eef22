/* ucf_index: listing and layout rules of the UCF-Crime reader. */
#define _GNU_SOURCE /* qsort_r */
#include "ucf_index.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "datasets/safeio.h"

void ucf_index_free(Index *ix) {
    for (size_t i = 0; i < ix->n; i++) free(ix->e[i].raw);
    free(ix->e);
    for (int c = 0; c < ix->ncls; c++) free(ix->cls[c]);
    free(ix->cls);
    free(ix->order);
}

static Entry *index_add(Index *ix, const char *raw, uint64_t size, EntryKind kind) {
    if (ix->n == ix->cap) {
        ix->cap = ix->cap ? ix->cap * 2 : 1024;
        ix->e = vb_xrealloc(ix->e, ix->cap * sizeof(Entry));
    }
    Entry *e = &ix->e[ix->n++];
    memset(e, 0, sizeof *e);
    e->raw = vb_xstrdup(raw);
    e->size = size;
    e->kind = (uint8_t)kind;
    e->slot = UCF_NO_SLOT;
    return e;
}

/* A bad entry: an error, or with skip_bad a count. */
VbStatus ucf_index_bad(Index *ix, Entry *e, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (e->state != ES_BAD) ix->skipped++;
    e->state = ES_BAD;
    if (ix->skip_bad) return VB_OK;
    return vb_fail_plain(VB_ERR_INPUT, "%s: %s '%s': %s", ix->path, ucf_member_word(ix), e->raw,
                         msg);
}

/* ---- pass 1: listing ---- */

static uint64_t ts_ns(struct timespec t) {
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static int cmp_cstr(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static VbStatus list_dir(Index *ix, const char *root, const char *rel, int depth) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s%s%s", root, rel[0] ? "/" : "", rel);
    if (depth > 16) return vb_fail_plain(VB_ERR_INPUT, "%s: folders nested too deeply", dir);
    DIR *d = opendir(dir);
    if (!d) return vb_fail_plain(VB_ERR_IO, "cannot open directory %s: %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || strcmp(de->d_name, "__MACOSX") == 0) continue;
        if (n == cap) names = vb_xrealloc(names, (cap = cap ? cap * 2 : 64) * sizeof(char *));
        names[n++] = vb_xstrdup(de->d_name);
    }
    closedir(d);
    if (n > 1) qsort(names, n, sizeof(char *), cmp_cstr);
    VbStatus st = VB_OK;
    for (size_t i = 0; i < n; i++) {
        char sub[4096], full[8448];
        snprintf(sub, sizeof sub, "%s%s%s", rel, rel[0] ? "/" : "", names[i]);
        snprintf(full, sizeof full, "%s/%s", root, sub);
        struct stat s;
        if (st == VB_OK && stat(full, &s) != 0) {
            Entry *e = index_add(ix, sub, 0, EK_OTHER);
            st = ucf_index_bad(ix, e, "cannot stat: %s", strerror(errno));
        } else if (st == VB_OK) {
            uint64_t m = ts_ns(s.st_mtim);
            if (m > ix->key.mtime_ns) ix->key.mtime_ns = m;
            if (S_ISDIR(s.st_mode)) {
                index_add(ix, sub, 0, EK_DIR);
                st = list_dir(ix, root, sub, depth + 1);
            } else {
                index_add(ix, sub, (uint64_t)s.st_size, S_ISREG(s.st_mode) ? EK_FILE : EK_OTHER);
                ix->key.size += (uint64_t)s.st_size;
            }
        }
        free(names[i]);
    }
    free(names);
    return st;
}

VbStatus ucf_open_archive(const char *path, struct archive **out) {
    struct archive *a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_all(a);
    if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
        VbStatus st =
            vb_fail_plain(VB_ERR_INPUT, "%s: not a readable archive or directory: %s", path,
                          archive_error_string(a) ? archive_error_string(a) : "unknown format");
        archive_read_free(a);
        *out = NULL;
        return st;
    }
    *out = a;
    return VB_OK;
}

const char *ucf_entry_name(struct archive_entry *ent) {
    const char *n = archive_entry_pathname_utf8(ent);
    if (!n) n = archive_entry_pathname(ent);
    return n ? n : "";
}

/* A fatal archive error in member `raw`, or after it when `after`. */
VbStatus ucf_archive_fatal(Index *ix, struct archive *a, const char *raw, bool after) {
    const char *msg = archive_error_string(a) ? archive_error_string(a) : "read error";
    char where[600];
    if (raw) snprintf(where, sizeof where, "%s member '%s'", after ? "after" : "in", raw);
    else snprintf(where, sizeof where, "at its start");
    if (!ix->skip_bad)
        return vb_fail_plain(VB_ERR_INPUT, "%s: damaged %s: %s", ix->path, where, msg);
    if (after) ix->skipped++; /* the unreadable rest counts as one skipped entry */
    if (!ix->warning[0])      /* the first damage found is the one to report */
        snprintf(ix->warning, sizeof ix->warning,
                 "%s is damaged %s (%s); the members before it were kept", ix->path, where, msg);
    return VB_OK;
}

static VbStatus list_archive(Index *ix) {
    struct stat s;
    if (stat(ix->path, &s) != 0)
        return vb_fail_plain(VB_ERR_IO, "cannot open %s: %s", ix->path, strerror(errno));
    ix->key.size = (uint64_t)s.st_size;
    ix->key.mtime_ns = ts_ns(s.st_mtim);
    struct archive *a;
    VB_TRY(ucf_open_archive(ix->path, &a));
    VbStatus st = VB_OK;
    for (int retries = 0;;) {
        struct archive_entry *ent;
        int r = archive_read_next_header(a, &ent);
        if (r == ARCHIVE_EOF) break;
        if (r == ARCHIVE_RETRY && ++retries < 8) continue;
        if (r == ARCHIVE_RETRY || r < ARCHIVE_WARN) {
            st = ucf_archive_fatal(ix, a, ix->n ? ix->e[ix->n - 1].raw : NULL, true);
            break;
        }
        retries = 0;
        mode_t type = archive_entry_filetype(ent);
        EntryKind kind = type == AE_IFREG ? EK_FILE : type == AE_IFDIR ? EK_DIR : EK_OTHER;
        uint64_t size = archive_entry_size_is_set(ent) ? (uint64_t)archive_entry_size(ent) : 0;
        Entry *e = index_add(ix, ucf_entry_name(ent), size, kind);
        if (archive_read_data_skip(a) == ARCHIVE_FATAL) {
            st = ucf_archive_fatal(ix, a, e->raw, false);
            if (st == VB_OK) ucf_index_bad(ix, e, "truncated");
            break;
        }
    }
    archive_read_free(a);
    return st;
}

/* ---- layout rules ---- */

/* Components of a member name, leading "./" and "/" dropped. */
static int split_path(const char *raw, const char **comp, size_t *len, int max) {
    const char *p = raw;
    while (*p == '/' || (p[0] == '.' && p[1] == '/')) p += *p == '/' ? 1 : 2;
    int n = 0;
    while (*p) {
        const char *q = strchr(p, '/');
        size_t l = q ? (size_t)(q - p) : strlen(p);
        if (l > 0) {
            if (n < max) comp[n] = p, len[n] = l;
            n++;
        }
        if (!q) break;
        p = q + 1;
    }
    return n;
}

static bool is_hidden(const char *raw) {
    const char *comp[64];
    size_t len[64];
    int n = split_path(raw, comp, len, 64);
    for (int i = 0; i < n && i < 64; i++)
        if (comp[i][0] == '.' || (len[i] == 8 && strncmp(comp[i], "__MACOSX", 8) == 0)) return true;
    return false;
}

static int split_of(const char *c, size_t l) {
    if (l == 5 && strncasecmp(c, "Train", 5) == 0) return DS_TRAIN;
    if (l == 4 && strncasecmp(c, "Test", 4) == 0) return DS_TEST;
    return -1;
}

static int class_id(Index *ix, const char *c, size_t l) {
    for (int i = 0; i < ix->ncls; i++)
        if (strlen(ix->cls[i]) == l && strncmp(ix->cls[i], c, l) == 0) return i;
    ix->cls = vb_xrealloc(ix->cls, sizeof(char *) * (size_t)(ix->ncls + 1));
    ix->cls[ix->ncls] = vb_xmalloc(l + 1);
    memcpy(ix->cls[ix->ncls], c, l);
    ix->cls[ix->ncls][l] = 0;
    return ix->ncls++;
}

static int cmp_frames(const void *pa, const void *pb, void *ctx) {
    const Index *ix = ctx;
    const Entry *a = &ix->e[*(const size_t *)pa], *b = &ix->e[*(const size_t *)pb];
    if (a->split != b->split) return (int)a->split - (int)b->split;
    if (a->cls != b->cls) return strcmp(ix->cls[a->cls], ix->cls[b->cls]);
    size_t l = a->vid_len < b->vid_len ? a->vid_len : b->vid_len;
    int c = memcmp(a->raw + a->vid_off, b->raw + b->vid_off, l);
    if (c) return c;
    if (a->vid_len != b->vid_len) return a->vid_len < b->vid_len ? -1 : 1;
    return a->frame < b->frame ? -1 : a->frame > b->frame;
}

bool ucf_same_video(const Entry *a, const Entry *b) {
    return a->split == b->split && a->cls == b->cls && a->vid_len == b->vid_len &&
           memcmp(a->raw + a->vid_off, b->raw + b->vid_off, a->vid_len) == 0;
}

static VbStatus classify(Index *ix) {
    /* an optional single top folder */
    const char *top = NULL;
    size_t top_len = 0;
    bool single = true, deeper = false;
    for (size_t i = 0; i < ix->n && single; i++) {
        Entry *e = &ix->e[i];
        if (e->state == ES_BAD) continue;
        if (is_hidden(e->raw)) {
            e->state = ES_IGNORED;
            continue;
        }
        const char *comp[2];
        size_t len[2];
        int nc = split_path(e->raw, comp, len, 2);
        if (nc == 0) continue;
        if (nc > 1) deeper = true;
        if (!top) top = comp[0], top_len = len[0];
        else if (len[0] != top_len || strncmp(comp[0], top, top_len) != 0) single = false;
    }
    bool strip = top && single && deeper && split_of(top, top_len) < 0;
    for (size_t i = 0; i < ix->n; i++) {
        Entry *e = &ix->e[i];
        if (e->state == ES_BAD) continue;
        if (is_hidden(e->raw)) {
            e->state = ES_IGNORED;
            continue;
        }
        const char *comp[4];
        size_t len[4];
        int nc = split_path(e->raw, comp, len, 4);
        int k = strip ? 1 : 0; /* first component inside the top folder */
        int depth = nc - k;
        if (depth <= 0) {
            e->state = ES_IGNORED;
            continue;
        }
        int sp = split_of(comp[k], len[k]);
        /* a newline or other control byte in a folder name would make a class
         * of its own (and break every table and JSON file that names it) */
        if (!safeio_printable_name(e->raw)) {
            VB_TRY(ucf_index_bad(ix, e, "the name holds a control character or is not UTF-8"));
            continue;
        }
        if (e->kind == EK_DIR) {
            e->state = ES_IGNORED;
            if (depth == 2 && sp >= 0) {
                e->state = ES_CLASSDIR, e->split = (uint8_t)sp;
                e->cls = class_id(ix, comp[k + 1], len[k + 1]);
            }
            continue;
        }
        if (e->kind == EK_OTHER) {
            VB_TRY(ucf_index_bad(ix, e, "not a regular file"));
            continue;
        }
        const char *f = depth == 3 ? comp[k + 2] : NULL;
        size_t fl = depth == 3 ? len[k + 2] : 0;
        const char *us = NULL;
        for (const char *p = f; p && p < f + fl; p++)
            if (*p == '_') us = p;
        bool ok = sp >= 0 && f && fl > 4 && strncasecmp(f + fl - 4, ".png", 4) == 0 && us &&
                  us > f && us + 1 < f + fl - 4 && us + 1 + 18 > f + fl - 4;
        for (const char *p = us ? us + 1 : NULL; ok && p < f + fl - 4; p++)
            if (*p < '0' || *p > '9') ok = false;
        if (!ok) {
            VB_TRY(
                ucf_index_bad(ix, e, "not in the layout Train|Test/<Class>/<Video>_<frame>.png"));
            continue;
        }
        e->state = ES_FRAME;
        e->split = (uint8_t)sp;
        e->cls = class_id(ix, comp[k + 1], len[k + 1]);
        e->vid_off = (uint32_t)(f - e->raw);
        e->vid_len = (uint32_t)(us - f);
        e->frame = strtoull(us + 1, NULL, 10);
    }
    /* sort frames; duplicates are bad entries */
    ix->order = vb_xmalloc(sizeof(size_t) * (ix->n ? ix->n : 1));
    size_t nf = 0;
    for (size_t i = 0; i < ix->n; i++)
        if (ix->e[i].state == ES_FRAME) ix->order[nf++] = i;
    qsort_r(ix->order, nf, sizeof(size_t), cmp_frames, ix);
    size_t m = 0;
    for (size_t j = 0; j < nf; j++) {
        Entry *e = &ix->e[ix->order[j]];
        if (m > 0) {
            Entry *p = &ix->e[ix->order[m - 1]];
            if (ucf_same_video(p, e) && p->frame == e->frame) {
                VB_TRY(ucf_index_bad(ix, e, "duplicate of frame %llu (also in '%s')",
                                     (unsigned long long)e->frame, p->raw));
                continue;
            }
        }
        ix->order[m++] = ix->order[j];
    }
    ix->nframes = m;
    /* empty class folders */
    for (size_t i = 0; i < ix->n; i++) {
        Entry *e = &ix->e[i];
        if (e->state != ES_CLASSDIR) continue;
        bool found = false;
        for (size_t j = 0; j < m && !found; j++) {
            const Entry *f = &ix->e[ix->order[j]];
            found = f->split == e->split && f->cls == e->cls;
        }
        if (!found) VB_TRY(ucf_index_bad(ix, e, "class folder has no frames"));
    }
    for (size_t j = 0; j < m; j++) ix->e[ix->order[j]].slot = j;
    if (m == 0)
        return vb_fail_plain(VB_ERR_INPUT,
                             "%s: no frames in the layout Train|Test/<Class>/"
                             "<Video>_<frame>.png (%zu members, %llu skipped)",
                             ix->path, ix->n, (unsigned long long)ix->skipped);
    uint64_t h = 0x55434649444Bull + UCF_FORMAT_VERSION;
    for (size_t i = 0; i < ix->n; i++)
        h = dataset_hash(ix->e[i].raw, strlen(ix->e[i].raw) + 1,
                         h * 31 + ix->e[i].size * 7 + ix->e[i].kind);
    ix->key.index_digest = h;
    ix->key.flags = (ix->skip_bad ? 1u : 0u) | (UCF_FORMAT_VERSION << 8);
    return VB_OK;
}

VbStatus ucf_index_build(Index *ix, const char *path, bool is_dir, bool skip_bad) {
    memset(ix, 0, sizeof *ix);
    ix->path = path;
    ix->is_dir = is_dir;
    ix->skip_bad = skip_bad;
    VbStatus st = is_dir ? list_dir(ix, path, "", 0) : list_archive(ix);
    if (st == VB_OK) st = classify(ix);
    return st;
}
