/* safeio: input limits, bounded reads, block checksums, orphan cleanup. */
#include "safeio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "datasets/dataset.h"

#define MIB (1024.0 * 1024.0)
#define GIB (1024.0 * 1024.0 * 1024.0)

/* A positive number from the environment, or 0. */
static double env_positive(const char *name) {
    const char *v = getenv(name);
    if (!v || !*v) return 0;
    char *end;
    double x = strtod(v, &end);
    return *end == 0 && x > 0 && x < 1e12 ? x : 0;
}

uint64_t safeio_member_cap(void) {
    double mb = env_positive(SAFEIO_MEMBER_ENV);
    return (uint64_t)((mb > 0 ? mb : 256.0) * MIB);
}

uint64_t safeio_decoded_budget(uint64_t source_bytes) {
    double gb = env_positive(SAFEIO_DECODED_ENV);
    if (gb > 0) return (uint64_t)(gb * GIB);
    double b = 256.0 * (double)source_bytes;
    if (b < GIB) b = GIB;
    return b > 1.8e19 ? UINT64_MAX : (uint64_t)b;
}

bool safebuf_reserve(SafeBuf *b, size_t extra) {
    if (b->cap - b->len >= extra) return true;
    if (extra > SIZE_MAX / 2 - b->len) return false;
    size_t need = b->len + extra, cap = b->cap ? b->cap : 4096;
    while (cap < need) cap *= 2;
    unsigned char *p = realloc(b->p, cap);
    if (!p) return false;
    b->p = p, b->cap = cap;
    return true;
}

void safebuf_free(SafeBuf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

VbStatus safeio_read_file(const char *path, size_t max, unsigned char **out, size_t *len) {
    *out = NULL, *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return vb_fail_plain(VB_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    VbStatus st = VB_OK;
    SafeBuf b = {0};
    if (fstat(fd, &sb) != 0) {
        VB_CHECK(vb_fail_plain(VB_ERR_IO, "%s: cannot stat: %s", path, strerror(errno)));
    }
    if (S_ISDIR(sb.st_mode)) {
        VB_CHECK(vb_fail_plain(VB_ERR_INPUT, "%s: is a directory, not a file", path));
    }
    /* read until EOF (pipes and /proc files report no size), one byte past
     * the limit so that "exactly max" and "more" differ */
    for (;;) {
        if (b.len > max) {
            VB_CHECK(vb_fail_plain(VB_ERR_INPUT, "%s: more than %zu bytes, the limit for this file",
                                   path, max));
        }
        size_t want = 1 << 16;
        if (want > max + 1 - b.len) want = max + 1 - b.len;
        if (!safebuf_reserve(&b, want + 1)) {
            VB_CHECK(vb_fail_plain(VB_ERR_NOMEM, "%s: out of memory reading %zu bytes", path,
                                   b.len + want));
        }
        ssize_t r = read(fd, b.p + b.len, want);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            VB_CHECK(vb_fail_plain(VB_ERR_IO, "%s: read failed: %s", path, strerror(errno)));
        }
        if (r == 0) break;
        b.len += (size_t)r;
    }
    if (!safebuf_reserve(&b, 1)) {
        VB_CHECK(vb_fail_plain(VB_ERR_NOMEM, "%s: out of memory", path));
    }
    b.p[b.len] = 0;
    *out = b.p, *len = b.len;
    b.p = NULL;
out:
    close(fd);
    safebuf_free(&b);
    return st;
}

size_t safeio_utf8_char(const unsigned char *p, size_t n) {
    if (n == 0) return 0;
    unsigned c = p[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c == 0xE0) len = 3, lo = 0xA0;
    else if (c >= 0xE1 && c <= 0xEC) len = 3;
    else if (c == 0xED) len = 3, hi = 0x9F; /* no surrogates */
    else if (c >= 0xEE && c <= 0xEF) len = 3;
    else if (c == 0xF0) len = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3) len = 4;
    else if (c == 0xF4) len = 4, hi = 0x8F; /* up to U+10FFFF */
    else return 0;
    if (n < len || p[1] < lo || p[1] > hi) return 0;
    for (size_t k = 2; k < len; k++)
        if ((p[k] & 0xC0) != 0x80) return 0;
    return len;
}

size_t safeio_utf8_prefix(const unsigned char *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        size_t k = safeio_utf8_char(p + i, n - i);
        if (!k) return i;
        i += k;
    }
    return n;
}

bool safeio_printable_name(const char *s) {
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return false;
    return safeio_utf8_prefix((const unsigned char *)s, n) == n;
}

#define BLOCK ((size_t)1 << 20)

uint64_t safeio_checksum(const void *p, size_t n, uint64_t seed) {
    if (n <= BLOCK) return dataset_hash(p, n, seed);
    size_t nb = (n + BLOCK - 1) / BLOCK;
    uint64_t *h = malloc(nb * sizeof *h);
    if (!h) { /* no room for the block table: the same value, one thread */
        uint64_t acc = seed ^ (uint64_t)n;
        for (size_t i = 0; i < nb; i++) {
            size_t len = i + 1 < nb ? BLOCK : n - i * BLOCK;
            uint64_t v = dataset_hash((const unsigned char *)p + i * BLOCK, len, seed + i);
            acc = dataset_hash(&v, sizeof v, acc);
        }
        return acc;
    }
    long lnb = (long)nb;
#pragma omp parallel for schedule(static)
    for (long i = 0; i < lnb; i++) {
        size_t len = (size_t)i + 1 < nb ? BLOCK : n - (size_t)i * BLOCK;
        h[i] = dataset_hash((const unsigned char *)p + (size_t)i * BLOCK, len, seed + (uint64_t)i);
    }
    uint64_t acc = seed ^ (uint64_t)n;
    for (size_t i = 0; i < nb; i++) acc = dataset_hash(&h[i], sizeof h[i], acc);
    free(h);
    return acc;
}

/* "<...>.tmp.<digits>" or "<...>.tmp.<digits>.<digits>": the pid, else 0. */
static long tmp_pid(const char *name) {
    const char *t = NULL;
    for (const char *p = strstr(name, ".tmp."); p; p = strstr(p + 1, ".tmp.")) t = p;
    if (!t || t == name) return 0;
    const char *d = t + 5;
    char *end;
    errno = 0;
    long pid = strtol(d, &end, 10);
    if (errno || end == d || pid <= 0 || *d < '0' || *d > '9') return 0;
    if (*end == '.') {
        const char *m = end + 1;
        if (*m < '0' || *m > '9') return 0;
        while (*m >= '0' && *m <= '9') m++;
        end = (char *)m;
    }
    return *end == 0 ? pid : 0;
}

int safeio_clean_orphans(const char *dir, double min_age_s, uint64_t *removed_bytes) {
    if (removed_bytes) *removed_bytes = 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    int removed = 0;
    time_t now = time(NULL);
    struct dirent *de;
    while ((de = readdir(d))) {
        long pid = tmp_pid(de->d_name);
        if (pid <= 0) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* alive, or not ours to know */
        char path[4096];
        if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path) continue;
        struct stat sb;
        if (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) continue;
        if (difftime(now, sb.st_mtime) < min_age_s) continue;
        if (unlink(path) == 0) {
            removed++;
            if (removed_bytes) *removed_bytes += (uint64_t)sb.st_size;
        }
    }
    closedir(d);
    return removed;
}
