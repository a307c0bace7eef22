/* slurm_sys: child processes and small files for the Slurm submission. */
#include "harness/run/slurm_sys.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

VbStatus slurm_find_program(const char *name, char **path) {
    *path = NULL;
    const char *env = getenv("PATH");
    const char *p = env && *env ? env : "/usr/bin:/bin";
    while (*p) {
        size_t n = strcspn(p, ":");
        char cand[4096];
        snprintf(cand, sizeof cand, "%.*s%s%s", (int)n, p, n ? "/" : "", name);
        struct stat sb;
        if (n && stat(cand, &sb) == 0 && S_ISREG(sb.st_mode) && access(cand, X_OK) == 0) {
            *path = vb_xstrdup(cand);
            return VB_OK;
        }
        p += n;
        if (*p == ':') p++;
    }
    return vb_fail_plain(VB_ERR_USAGE,
                         "%s not found: Slurm's client programs are not on PATH (%s); run this "
                         "on a Slurm login node, or install them (harness/deps.sh --slurm)",
                         name, env && *env ? env : "empty");
}

/* Read everything from two pipes until both close. */
static void drain(int fo, int fe, SlurmBuf *out, SlurmBuf *err) {
    struct pollfd pf[2] = {{fo, POLLIN, 0}, {fe, POLLIN, 0}};
    int open_ = 2;
    while (open_ > 0) {
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            char buf[4096];
            ssize_t n = read(pf[i].fd, buf, sizeof buf);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                close(pf[i].fd);
                pf[i].fd = -1;
                open_--;
                continue;
            }
            slurm_buf_printf(i ? err : out, "%.*s", (int)n, buf);
        }
    }
}

VbStatus slurm_run(char *const argv[], char **out, char **err, int *rc) {
    if (out) *out = NULL;
    if (err) *err = NULL;
    *rc = -1;
    char *prog;
    VB_TRY(slurm_find_program(argv[0], &prog));
    int po[2], pe[2];
    if (pipe(po) != 0) {
        free(prog);
        return VB_FAIL(VB_ERR_IO, "pipe: %s", strerror(errno));
    }
    if (pipe(pe) != 0) {
        close(po[0]), close(po[1]), free(prog);
        return VB_FAIL(VB_ERR_IO, "pipe: %s", strerror(errno));
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, po[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
    posix_spawn_file_actions_addclose(&fa, po[0]);
    posix_spawn_file_actions_addclose(&fa, pe[0]);
    pid_t pid;
    int e = posix_spawn(&pid, prog, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(po[1]), close(pe[1]);
    if (e != 0) {
        close(po[0]), close(pe[0]);
        VbStatus s = VB_FAIL(VB_ERR_IO, "cannot run %s: %s", prog, strerror(e));
        free(prog);
        return s;
    }
    free(prog);
    SlurmBuf bo = {0}, be = {0};
    slurm_buf_printf(&bo, "%s", "");
    slurm_buf_printf(&be, "%s", "");
    drain(po[0], pe[0], &bo, &be);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return VB_FAIL(VB_ERR_IO, "waiting for %s: %s", argv[0], strerror(errno));
    *rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (out) *out = bo.s;
    else free(bo.s);
    if (err) *err = be.s;
    else free(be.s);
    return VB_OK;
}

VbStatus slurm_write_file(const char *path, const char *text, int mode) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) return vb_fail_plain(VB_ERR_IO, "%s: cannot write: %s", tmp, strerror(errno));
    size_t n = strlen(text);
    bool ok = fwrite(text, 1, n, f) == n;
    ok &= fclose(f) == 0;
    ok = ok && chmod(tmp, (mode_t)mode) == 0 && rename(tmp, path) == 0;
    if (!ok) {
        VbStatus s = vb_fail_plain(VB_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        remove(tmp);
        return s;
    }
    return VB_OK;
}

VbStatus slurm_read_file(const char *path, char **text) {
    *text = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return vb_fail_plain(VB_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    SlurmBuf b = {0};
    slurm_buf_printf(&b, "%s", "");
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) slurm_buf_printf(&b, "%.*s", (int)n, buf);
    bool bad = ferror(f);
    fclose(f);
    if (bad) {
        free(b.s);
        return vb_fail_plain(VB_ERR_IO, "%s: read error", path);
    }
    *text = b.s;
    return VB_OK;
}

VbStatus slurm_mkdirs(const char *path) {
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(tmp, 0777);
            *p = '/';
        }
    struct stat sb;
    if (mkdir(tmp, 0777) != 0 && (stat(tmp, &sb) != 0 || !S_ISDIR(sb.st_mode)))
        return vb_fail_plain(VB_ERR_IO, "%s: cannot create directory: %s", path, strerror(errno));
    return VB_OK;
}

char *slurm_shell_quote(const char *text) {
    SlurmBuf b = {0};
    slurm_buf_printf(&b, "'");
    for (const char *p = text; *p; p++) {
        if (*p == '\'') slurm_buf_printf(&b, "'\\''");
        else slurm_buf_printf(&b, "%c", *p);
    }
    slurm_buf_printf(&b, "'");
    return b.s;
}

void slurm_buf_printf(SlurmBuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    VB_ASSERT(n >= 0);
    if (b->len + (size_t)n + 1 > b->cap) {
        b->cap = 2 * b->cap + (size_t)n + 256;
        b->s = vb_xrealloc(b->s, b->cap);
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}
