/* clock: the one monotonic clock every timing in vadbench reads (training
 * and evaluation phases, latency samples, progress lines, benchmarks).
 * Seconds since an arbitrary start, never adjusted by the wall clock; use
 * differences only. Wall-clock dates (the store's timestamps) are not this. */
#ifndef VB_CLOCK_H
#define VB_CLOCK_H

#include <time.h>

static inline double vb_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif
