/* main: the vadbench command. Global options (--version, --threads, help),
 * the CPU backend's instruction-set path (VADBENCH_ISA, checked before
 * anything runs), then dispatch to a subcommand from the table in
 * commands.c.
 * Built with -include version.h (VB_GIT_SHA, VB_GIT_DIRTY, VB_BUILD_OPTS). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness/cli/cli.h"
#include "harness/store/store.h"
#include "kernels/kernels.h"

static void print_usage(FILE *f) {
    fprintf(f, "usage: vadbench [--version] [--threads N] <command> [options]\n\ncommands:\n");
    for (int i = 0; i < cli_ncommands; i++)
        fprintf(f, "  %-10s %s\n", cli_commands[i].name, cli_commands[i].summary);
    fprintf(f, "\n`vadbench <command> --help` describes a command. Exit status: 0 ok, 1 a check "
               "failed,\n2 bad usage or input.\n");
}

static void print_version(void) {
    printf("vadbench %s (git %s%s)\n", VB_VERSION, VB_GIT_SHA, VB_GIT_DIRTY ? "-dirty" : "");
    printf("build: %s\n", VB_BUILD_OPTS);
    printf("backends: cpu%s\n", kops_cuda_compiled() ? ", cuda" : "");
    printf("cpu path: %s (this CPU:", kisa_name(kisa_active()));
    for (int i = 0; i < K_ISA_N; i++)
        if (kisa_supported((KIsa)i)) printf(" %s", kisa_name((KIsa)i));
    printf("); numerics version %d\n", VB_NUMERICS_VERSION);
    printf("libraries: %s\n", provenance_libraries());
}

/* libgomp's idle threads spin for 300,000 iterations at each barrier before
 * sleeping. When the cores are shared (the loader's own worker threads,
 * other processes) a spinning thread holds the core its partner needs, and
 * a training step measured 10x slower (16 vs 131 images/s at load 4.5 on 2
 * cores). Too short a spin costs the other way: every one of the few hundred
 * barriers of a step then sleeps and is woken through the kernel. Measured
 * with the own CPU engine (Option A, 2 threads, this 2-core machine,
 * 2026-12-03 session 5): quiet, GOMP_SPINCOUNT=1000 198 images/s training
 * and 2.89 ms batch-1 inference; 3000 222 and 2.14 ms; 10000 to 300000 no
 * better (226-230, 2.09-2.18). With two busy processes on the cores (3
 * interleaved rounds): 1000 82-123 images/s and 6.0-9.4 ms; 3000 87-101 and
 * 6.0-11.9 ms; 10000 67-99 and 6.0-28.7 ms; 30000 36-108 and 71-73 ms (the
 * collapse). So 3000. Measured again in session 6 (2 interleaved rounds):
 * quiet, 3000 243-255 images/s and 2.02-2.26 ms, the default 259-275 and
 * 1.94-2.07 ms; with two busy loops, 3000 99-115 images/s and 6.3-11.3 ms,
 * the default 5.3-87 images/s (6.7 s a step) and p99 664 ms: the default
 * still collapses. libgomp reads its settings when it is loaded, so set
 * the spin count and re-execute once, unless the user chose a policy. */
static void tune_openmp(char **argv) {
    if (getenv("GOMP_SPINCOUNT") || getenv("OMP_WAIT_POLICY")) return;
    setenv("GOMP_SPINCOUNT", "3000", 1);
    execv("/proc/self/exe", argv); /* returns only on failure: run with the defaults */
}

int main(int argc, char **argv) {
    tune_openmp(argv);
    provenance_set_build(VB_VERSION, VB_GIT_SHA, VB_GIT_DIRTY, VB_BUILD_OPTS);
    if (kisa_from_env() != VB_OK) {
        fprintf(stderr, "vadbench: %s\n", vb_errmsg());
        return 2;
    }
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-V") == 0) {
            print_version();
            return 0;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
            char *end;
            long n = strtol(argv[++i], &end, 10);
            if (*end || n <= 0 || n > 4096) {
                fprintf(stderr, "vadbench: --threads expects a positive integer, got '%s'\n",
                        argv[i]);
                return 2;
            }
            kthreads_set((int)n);
        } else {
            fprintf(stderr, "vadbench: unknown option '%s'\n", argv[i]);
            print_usage(stderr);
            return 2;
        }
    }
    if (i >= argc) {
        print_usage(stderr);
        return 2;
    }
    if (strcmp(argv[i], "help") == 0) {
        if (i + 1 < argc) {
            const CliCommand *c = cli_find(argv[i + 1]);
            if (!c) {
                fprintf(stderr, "vadbench: unknown command '%s'\n", argv[i + 1]);
                print_usage(stderr);
                return 2;
            }
            printf("usage: vadbench %s\n", c->usage);
            return 0;
        }
        print_usage(stdout);
        return 0;
    }
    const CliCommand *c = cli_find(argv[i]);
    if (!c) {
        fprintf(stderr, "vadbench: unknown command '%s'\n", argv[i]);
        print_usage(stderr);
        return 2;
    }
    return c->fn(argc - i, argv + i);
}
