/* report_gnuplot: running gnuplot for the report. See report_gnuplot.h. */
#include "harness/report/report_gnuplot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int rep_gnuplot_run(const char *prog, const char *const *args, const char *dir) {
    char log[1200];
    snprintf(log, sizeof log, "%s/gnuplot.log", dir);
    fflush(stdout), fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) dup2(fd, 1), dup2(fd, 2), close(fd);
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0) dup2(nul, 0), close(nul);
        if (chdir(dir) != 0) _exit(126);
        char *argv[8];
        int n = 0;
        argv[n++] = (char *)prog;
        for (int i = 0; args[i] && n < 7; i++) argv[n++] = (char *)args[i];
        argv[n] = NULL;
        execvp(prog, argv);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

bool rep_file_nonempty(const char *dir, const char *name, const char *ext) {
    char path[1200];
    struct stat sb;
    snprintf(path, sizeof path, "%s/%s.%s", dir, name, ext);
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0;
}

void rep_gnuplot_log_tail(const char *dir, char *buf, size_t size) {
    char path[1200];
    snprintf(path, sizeof path, "%s/gnuplot.log", dir);
    buf[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f) return;
    char all[4096];
    size_t n = 0, got;
    while ((got = fread(all + n, 1, sizeof all - 1 - n, f)) > 0) {
        n += got;
        if (n >= sizeof all - 1) { /* keep the last half */
            memmove(all, all + n / 2, n - n / 2);
            n -= n / 2;
        }
    }
    fclose(f);
    all[n] = 0;
    const char *start = n > 300 ? all + n - 300 : all;
    snprintf(buf, size, "%s", start);
    for (char *p = buf; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t') *p = ' ';
}

bool rep_gnuplot_probe(const char *prog, const char *dir, char *terminal, size_t nterminal,
                       char *note, size_t nnote) {
    const char *cairo[] = {"-e", "set terminal pngcairo", NULL};
    int rc = rep_gnuplot_run(prog, cairo, dir);
    if (rc == 0) {
        snprintf(terminal, nterminal, "pngcairo");
        return true;
    }
    if (rc == 127 || rc == 126 || rc < 0) {
        snprintf(note, nnote,
                 "gnuplot could not be run (program '%s' not found or not executable; install "
                 "Debian's gnuplot-nox or set VADBENCH_GNUPLOT): the figures were not rendered. "
                 "Their scripts and data are in this directory; run `gnuplot NAME.gp` there once "
                 "gnuplot is installed.",
                 prog);
        return false;
    }
    const char *gd[] = {"-e", "set terminal png", NULL};
    if (rep_gnuplot_run(prog, gd, dir) == 0) {
        snprintf(terminal, nterminal, "png");
        return true;
    }
    snprintf(note, nnote,
             "gnuplot ('%s') has neither the pngcairo nor the png terminal: the figures were not "
             "rendered (scripts and data are in this directory).",
             prog);
    return false;
}
