/* safetensors: reader with full validation, atomic float32 writer.
 * See safetensors.h for the format and the guarantees. */
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "safetensors.c assumes a little-endian host");

/* A malformed-input failure: "PATH: problem". */
#define ST_BAD(path, fmt, ...) VB_FAIL(VB_ERR_INPUT, "%s: " fmt, (path), ##__VA_ARGS__)

/* ---------------------------------------------------------------- dtypes */

typedef struct DtypeInfo {
    const char *name;
    StDtype dtype;
    size_t size;
} DtypeInfo;

static const DtypeInfo k_dtypes[] = {
    {"F32", ST_F32, 4},    {"F16", ST_F16, 2},       {"BF16", ST_BF16, 2},     {"F64", ST_F64, 8},
    {"I64", ST_OTHER, 8},  {"I32", ST_OTHER, 4},     {"I16", ST_OTHER, 2},     {"I8", ST_OTHER, 1},
    {"U64", ST_OTHER, 8},  {"U32", ST_OTHER, 4},     {"U16", ST_OTHER, 2},     {"U8", ST_OTHER, 1},
    {"BOOL", ST_OTHER, 1}, {"F8_E4M3", ST_OTHER, 1}, {"F8_E5M2", ST_OTHER, 1},
};

static const DtypeInfo *dtype_lookup(const char *name) {
    for (size_t i = 0; i < sizeof k_dtypes / sizeof k_dtypes[0]; i++)
        if (strcmp(k_dtypes[i].name, name) == 0) return &k_dtypes[i];
    return NULL;
}

const char *st_dtype_str(StDtype d) {
    switch (d) {
    case ST_F32: return "F32";
    case ST_F16: return "F16";
    case ST_BF16: return "BF16";
    case ST_F64: return "F64";
    default: return "other";
    }
}

/* IEEE binary16 -> float32, exact for every input (subnormals, inf, NaN). */
static float half_to_float(uint16_t h) {
    unsigned exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
    float v;
    if (exp == 0) v = ldexpf((float)man, -24);
    else if (exp == 31) v = man ? NAN : INFINITY;
    else v = ldexpf((float)(man | 0x400u), (int)exp - 25);
    return (h & 0x8000u) ? -v : v;
}

/* bfloat16 is the top half of a float32. */
static float bf16_to_float(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

/* ---------------------------------------------------------------- reading */

static VbStatus read_whole_file(const char *path, unsigned char **data, size_t *size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return VB_FAIL(VB_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    VbStatus st = VB_OK;
    unsigned char *buf = NULL;
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        st = VB_FAIL(VB_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(sb.st_mode)) {
        st = ST_BAD(path, "not a regular file");
        goto out;
    }
    size_t n = (size_t)sb.st_size;
    buf = malloc(n ? n : 1);
    if (!buf) {
        st = VB_FAIL(VB_ERR_NOMEM, "%s: cannot allocate %zu bytes to read it", path, n);
        goto out;
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            st = VB_FAIL(VB_ERR_IO, "%s: read failed: %s", path, strerror(errno));
            goto out;
        }
        if (r == 0) break; /* shrank while reading: validate what we have */
        got += (size_t)r;
    }
    *data = buf;
    *size = got;
    buf = NULL; /* the caller's now */
out:
    close(fd);
    free(buf);
    return st;
}

/* A non-negative JSON integer, or false. */
static bool json_nonneg(const json_t *v, int64_t *out) {
    if (!json_is_integer(v)) return false;
    json_int_t x = json_integer_value(v);
    if (x < 0) return false;
    *out = (int64_t)x;
    return true;
}

/* Validate one header entry and fill *t (name excepted). data_size is the
 * size of the data section. */
static VbStatus parse_entry(const char *path, const char *name, const json_t *v, size_t data_size,
                            StTensor *t) {
    if (!json_is_object(v)) return ST_BAD(path, "tensor '%s': entry is not an object", name);

    const json_t *jd = json_object_get(v, "dtype");
    if (!jd) return ST_BAD(path, "tensor '%s': missing \"dtype\"", name);
    if (!json_is_string(jd)) return ST_BAD(path, "tensor '%s': \"dtype\" is not a string", name);
    const DtypeInfo *di = dtype_lookup(json_string_value(jd));
    if (!di)
        return ST_BAD(path, "tensor '%s': unknown dtype \"%.32s\"", name, json_string_value(jd));
    t->dtype = di->dtype;
    snprintf(t->dtype_name, sizeof t->dtype_name, "%s", di->name);

    const json_t *js = json_object_get(v, "shape");
    if (!js) return ST_BAD(path, "tensor '%s': missing \"shape\"", name);
    if (!json_is_array(js)) return ST_BAD(path, "tensor '%s': \"shape\" is not an array", name);
    size_t nd = json_array_size(js);
    if (nd > ST_MAX_DIMS)
        return ST_BAD(path, "tensor '%s': %zu dimensions (at most %d supported)", name, nd,
                      ST_MAX_DIMS);
    t->ndim = (int)nd;
    int64_t numel = 1;
    for (size_t i = 0; i < nd; i++) {
        int64_t d;
        if (!json_nonneg(json_array_get(js, i), &d))
            return ST_BAD(path, "tensor '%s': shape[%zu] is not a non-negative integer", name, i);
        t->shape[i] = d;
        if (__builtin_mul_overflow(numel, d, &numel))
            return ST_BAD(path, "tensor '%s': shape too large (element count overflows)", name);
    }
    t->numel = numel;
    size_t nbytes;
    if (__builtin_mul_overflow((uint64_t)numel, (uint64_t)di->size, &nbytes))
        return ST_BAD(path, "tensor '%s': shape too large (byte size overflows)", name);

    const json_t *jo = json_object_get(v, "data_offsets");
    if (!jo) return ST_BAD(path, "tensor '%s': missing \"data_offsets\"", name);
    int64_t b, e;
    if (!json_is_array(jo) || json_array_size(jo) != 2 || !json_nonneg(json_array_get(jo, 0), &b) ||
        !json_nonneg(json_array_get(jo, 1), &e))
        return ST_BAD(path,
                      "tensor '%s': \"data_offsets\" is not [begin, end] of non-negative "
                      "integers",
                      name);
    if (b > e)
        return ST_BAD(path, "tensor '%s': data_offsets begin %lld > end %lld", name, (long long)b,
                      (long long)e);
    if ((uint64_t)e > data_size)
        return ST_BAD(path,
                      "tensor '%s': data_offsets end %lld is beyond the data section (%zu bytes; "
                      "file truncated?)",
                      name, (long long)e, data_size);
    if ((uint64_t)(e - b) != nbytes)
        return ST_BAD(path,
                      "tensor '%s': data_offsets span %lld bytes but shape x dtype %s needs %zu",
                      name, (long long)(e - b), di->name, nbytes);
    t->offset = (size_t)b;
    t->nbytes = nbytes;
    return VB_OK;
}

static int cmp_by_name(const void *a, const void *b) {
    return strcmp(((const StTensor *)a)->name, ((const StTensor *)b)->name);
}

static int cmp_by_offset(const void *a, const void *b) {
    const StTensor *x = *(const StTensor *const *)a, *y = *(const StTensor *const *)b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    return x->nbytes < y->nbytes ? -1 : x->nbytes > y->nbytes;
}

/* Reject two non-empty tensors sharing bytes. */
static VbStatus check_overlap(const char *path, StTensor *t, int n) {
    if (n < 2) return VB_OK;
    const StTensor **p = vb_xmalloc((size_t)n * sizeof *p);
    for (int i = 0; i < n; i++) p[i] = &t[i];
    qsort(p, (size_t)n, sizeof *p, cmp_by_offset);
    VbStatus s = VB_OK;
    const StTensor *prev = NULL;
    for (int i = 0; i < n && s == VB_OK; i++) {
        if (p[i]->nbytes == 0) continue;
        if (prev && p[i]->offset < prev->offset + prev->nbytes)
            s = ST_BAD(path, "tensors '%s' and '%s' overlap (bytes %zu..%zu and %zu..%zu)",
                       prev->name, p[i]->name, prev->offset, prev->offset + prev->nbytes,
                       p[i]->offset, p[i]->offset + p[i]->nbytes);
        prev = p[i];
    }
    free(p);
    return s;
}

static VbStatus parse_header(StFile *f) {
    const char *path = f->path;
    if (f->size < 8)
        return ST_BAD(path,
                      "file is %zu bytes, too short for the 8-byte header length (truncated "
                      "or not a safetensors file)",
                      f->size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | f->data[i];
    if (hlen < 2)
        return ST_BAD(path, "header length %llu is too small (not a safetensors file?)",
                      (unsigned long long)hlen);
    if (hlen > ST_MAX_HEADER)
        return ST_BAD(path,
                      "header length %llu exceeds the limit of %u bytes (not a safetensors "
                      "file?)",
                      (unsigned long long)hlen, ST_MAX_HEADER);
    if (hlen > f->size - 8)
        return ST_BAD(path,
                      "header length %llu exceeds the file's remaining %zu bytes (truncated?)",
                      (unsigned long long)hlen, f->size - 8);
    f->data_start = 8 + (size_t)hlen;
    size_t data_size = f->size - f->data_start;

    json_error_t jerr;
    json_t *root =
        json_loadb((const char *)f->data + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return ST_BAD(path, "header is not valid JSON: %s (header byte %d)", jerr.text,
                      jerr.position);
    VbStatus st = VB_OK;
    if (!json_is_object(root)) {
        st = ST_BAD(path, "header is not a JSON object");
        goto out;
    }

    json_t *meta = json_object_get(root, "__metadata__");
    if (meta) {
        if (!json_is_object(meta)) {
            st = ST_BAD(path, "\"__metadata__\" is not an object");
            goto out;
        }
        const char *k;
        json_t *v;
        json_object_foreach(meta, k, v) {
            if (!json_is_string(v)) {
                st = ST_BAD(path, "__metadata__ value for '%s' is not a string", k);
                goto out;
            }
        }
        f->metadata = json_incref(meta);
    } else {
        f->metadata = json_object();
    }

    size_t cap = json_object_size(root);
    f->t = vb_xcalloc(cap ? cap : 1, sizeof *f->t);
    f->n = 0;
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (strcmp(key, "__metadata__") == 0) continue;
        StTensor *t = &f->t[f->n];
        memset(t, 0, sizeof *t);
        VB_CHECK(parse_entry(path, key, val, data_size, t));
        t->name = vb_xstrdup(key);
        f->n++;
    }
    VB_CHECK(check_overlap(path, f->t, f->n));
    qsort(f->t, (size_t)f->n, sizeof *f->t, cmp_by_name);
    for (int i = 1; i < f->n; i++) /* JSON_REJECT_DUPLICATES already ensures this */
        if (strcmp(f->t[i - 1].name, f->t[i].name) == 0) {
            st = ST_BAD(path, "duplicate tensor name '%s'", f->t[i].name);
            goto out;
        }
out:
    json_decref(root);
    return st;
}

VbStatus st_open(const char *path, StFile *f) {
    memset(f, 0, sizeof *f);
    VB_TRY(read_whole_file(path, &f->data, &f->size));
    f->path = vb_xstrdup(path);
    VbStatus st = parse_header(f);
    if (st != VB_OK) st_close(f);
    return st;
}

void st_close(StFile *f) {
    if (!f) return;
    for (int i = 0; i < f->n; i++) free(f->t[i].name);
    free(f->t);
    free(f->data);
    free(f->path);
    if (f->metadata) json_decref(f->metadata);
    memset(f, 0, sizeof *f);
}

const StTensor *st_find(const StFile *f, const char *name) {
    int lo = 0, hi = f->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int c = strcmp(f->t[mid].name, name);
        if (c == 0) return &f->t[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

VbStatus st_read_f32(const StFile *f, const StTensor *t, float *out, int64_t n) {
    if (n != t->numel)
        return ST_BAD(f->path, "tensor '%s' has %lld elements, expected %lld", t->name,
                      (long long)t->numel, (long long)n);
    const unsigned char *src = f->data + f->data_start + t->offset;
    VB_ASSERT(f->data_start + t->offset + t->nbytes <= f->size);
    switch (t->dtype) {
    case ST_F32:
        if (t->nbytes) memcpy(out, src, t->nbytes);
        return VB_OK;
    case ST_F16:
    case ST_BF16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h = (uint16_t)(src[2 * i] | (src[2 * i + 1] << 8));
            out[i] = t->dtype == ST_F16 ? half_to_float(h) : bf16_to_float(h);
        }
        return VB_OK;
    case ST_F64:
        for (int64_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, src + 8 * i, sizeof d);
            out[i] = (float)d;
        }
        return VB_OK;
    default:
        return ST_BAD(f->path,
                      "tensor '%s' has dtype %s; only F32, F16, BF16 and F64 can be read "
                      "as float32",
                      t->name, t->dtype_name);
    }
}

VbStatus st_read_f32_named(const StFile *f, const char *name, float *out, int64_t n) {
    const StTensor *t = st_find(f, name);
    if (!t) return ST_BAD(f->path, "no tensor named '%s'", name);
    return st_read_f32(f, t, out, n);
}

const char *st_meta(const StFile *f, const char *key) {
    if (!f->metadata) return NULL;
    return json_string_value(json_object_get(f->metadata, key)); /* NULL if absent */
}

/* ---------------------------------------------------------------- writing */

typedef struct WEntry {
    char *name;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const float *data;
    size_t nbytes;
} WEntry;

struct StWriter {
    WEntry *e;
    int n, cap;
    json_t *meta;
    char err[512]; /* first problem found by st_writer_add, reported on write */
};

StWriter *st_writer_new(void) {
    StWriter *w = vb_xcalloc(1, sizeof *w);
    w->meta = json_object();
    VB_ASSERT(w->meta != NULL);
    return w;
}

void st_writer_add(StWriter *w, const char *name, int ndim, const int64_t *shape,
                   const float *data) {
    if (w->err[0]) return;
    if (ndim < 0 || ndim > ST_MAX_DIMS) {
        snprintf(w->err, sizeof w->err, "tensor '%s': %d dimensions (0..%d allowed)", name, ndim,
                 ST_MAX_DIMS);
        return;
    }
    for (int i = 0; i < w->n; i++)
        if (strcmp(w->e[i].name, name) == 0) {
            snprintf(w->err, sizeof w->err, "tensor '%s' added twice", name);
            return;
        }
    json_t *probe = json_string(name);
    if (!probe) {
        snprintf(w->err, sizeof w->err, "a tensor name is not valid UTF-8");
        return;
    }
    json_decref(probe);
    if (strcmp(name, "__metadata__") == 0) {
        snprintf(w->err, sizeof w->err, "'__metadata__' is reserved, not a tensor name");
        return;
    }
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || __builtin_mul_overflow(numel, (size_t)shape[i], &numel) ||
            numel > SIZE_MAX / 8) {
            snprintf(w->err, sizeof w->err, "tensor '%s': invalid shape[%d] = %lld", name, i,
                     (long long)shape[i]);
            return;
        }
    }
    if (numel && !data) {
        snprintf(w->err, sizeof w->err, "tensor '%s': NULL data for %zu elements", name, numel);
        return;
    }
    if (w->n == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 16;
        w->e = vb_xrealloc(w->e, (size_t)w->cap * sizeof *w->e);
    }
    WEntry *e = &w->e[w->n++];
    memset(e, 0, sizeof *e);
    e->name = vb_xstrdup(name);
    e->ndim = ndim;
    for (int i = 0; i < ndim; i++) e->shape[i] = shape[i];
    e->data = data;
    e->nbytes = numel * sizeof(float);
}

void st_writer_meta(StWriter *w, const char *key, const char *value) {
    json_t *v = json_string(value);
    if (!v || json_object_set_new(w->meta, key, v) != 0) /* set_new frees v on failure */
        if (!w->err[0])
            snprintf(w->err, sizeof w->err, "metadata '%.64s' is not valid UTF-8 text", key);
}

void st_writer_free(StWriter *w) {
    if (!w) return;
    for (int i = 0; i < w->n; i++) free(w->e[i].name);
    free(w->e);
    json_decref(w->meta);
    free(w);
}

/* The header JSON, padded with spaces to make 8 + length a multiple of 8. */
static char *build_header(const StWriter *w, size_t *len) {
    json_t *root = json_object();
    VB_ASSERT(root != NULL);
    if (json_object_size(w->meta)) json_object_set(root, "__metadata__", w->meta);
    size_t off = 0;
    for (int i = 0; i < w->n; i++) {
        const WEntry *e = &w->e[i];
        json_t *shape = json_array();
        for (int d = 0; d < e->ndim; d++) json_array_append_new(shape, json_integer(e->shape[d]));
        json_t *ent = json_pack("{s:s, s:o, s:[I,I]}", "dtype", "F32", "shape", shape,
                                "data_offsets", (json_int_t)off, (json_int_t)(off + e->nbytes));
        VB_ASSERT(ent != NULL);
        json_object_set_new(root, e->name, ent);
        off += e->nbytes;
    }
    char *text = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    VB_ASSERT(text != NULL);
    size_t n = strlen(text), padded = (n + 7) & ~(size_t)7;
    char *h = vb_xmalloc(padded);
    memcpy(h, text, n);
    memset(h + n, ' ', padded - n);
    free(text);
    *len = padded;
    return h;
}

static bool write_all(int fd, const void *buf, size_t n) {
    const unsigned char *p = buf;
    while (n) {
        ssize_t r = write(fd, p, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            if (r == 0) errno = ENOSPC;
            return false;
        }
        p += r;
        n -= (size_t)r;
    }
    return true;
}

VbStatus st_writer_write(StWriter *w, const char *path) {
    if (w->err[0]) return ST_BAD(path, "%s", w->err);
    VbStatus st = VB_OK;
    size_t hlen;
    char *header = build_header(w, &hlen);

    static _Atomic unsigned counter;
    size_t tlen = strlen(path) + 48;
    char *tmp = vb_xmalloc(tlen);
    int fd = -1;
    for (int tries = 0; tries < 100 && fd < 0; tries++) {
        snprintf(tmp, tlen, "%s.tmp.%ld.%u", path, (long)getpid(), counter++);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        st = VB_FAIL(VB_ERR_IO, "%s: cannot create a temporary file next to it: %s", path,
                     strerror(errno));
        goto out;
    }

    const char *what = "write failed";
    unsigned char lenbuf[8];
    for (int i = 0; i < 8; i++) lenbuf[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    bool ok = write_all(fd, lenbuf, 8) && write_all(fd, header, hlen);
    for (int i = 0; ok && i < w->n; i++) ok = write_all(fd, w->e[i].data, w->e[i].nbytes);
    if (ok && fsync(fd) != 0) ok = false, what = "fsync failed";
    int e = errno;
    if (close(fd) != 0 && ok) ok = false, what = "close failed", e = errno;
    if (ok && rename(tmp, path) != 0) ok = false, what = "rename failed", e = errno;
    if (!ok) {
        unlink(tmp);
        st = VB_FAIL(VB_ERR_IO, "%s: %s: %s", path, what, strerror(e));
        goto out;
    }
    /* Make the rename durable (best effort: not every file system allows
     * fsync on a directory). */
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, (size_t)(slash - path) + (slash == path)) : strdup(".");
    if (dir) {
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            (void)fsync(dfd);
            close(dfd);
        }
        free(dir);
    }
out:
    free(tmp);
    free(header);
    return st;
}
