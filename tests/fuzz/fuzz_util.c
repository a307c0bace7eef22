/* fuzz_util: the scratch directory of the fuzz targets. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/fuzz/fuzz.h"

int fuzz_accepted;

static char g_dir[512];
static pid_t g_pid;

static const char *scratch(void) {
    if (g_pid != getpid()) { /* a forked child gets its own */
        g_pid = getpid();
        const char *t = getenv("TMPDIR");
        snprintf(g_dir, sizeof g_dir, "%s/vbfuzz.%ld", t && *t ? t : "/tmp", (long)g_pid);
        mkdir(g_dir, 0700);
    }
    return g_dir;
}

const char *fuzz_path(const char *name) {
    static _Thread_local char buf[4][640];
    static _Thread_local int next;
    char *p = buf[next++ & 3];
    snprintf(p, sizeof buf[0], "%s/%s", scratch(), name);
    return p;
}

static int write_to(const char *path, int flags, const uint8_t *data, size_t size) {
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0600);
    if (fd < 0) return -1;
    size_t done = 0;
    while (done < size) {
        ssize_t r = write(fd, data + done, size - done);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        done += (size_t)r;
    }
    close(fd);
    return done == size ? 0 : -1;
}

int fuzz_write(const char *path, const uint8_t *data, size_t size) {
    return write_to(path, O_TRUNC, data, size);
}

int fuzz_append(const char *path, const uint8_t *data, size_t size) {
    return write_to(path, O_APPEND, data, size);
}

void fuzz_clean(void) {
    DIR *d = opendir(scratch());
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char p[1200];
        snprintf(p, sizeof p, "%s/%s", g_dir, de->d_name);
        unlink(p);
    }
    closedir(d);
}

void fuzz_remove_scratch(void) {
    fuzz_clean();
    rmdir(scratch());
}
