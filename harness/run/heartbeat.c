/* heartbeat: a thread that renews one cell's lease (see heartbeat.h). */
#include "harness/run/heartbeat.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "kernels/clock.h"

struct Heartbeat {
    Store *st; /* the thread's own connection */
    int64_t run_id;
    double lease_s;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    atomic_bool lost;
    atomic_llong beats;
};

static void *beat(void *arg) {
    Heartbeat *hb = arg;
    double every = hb->lease_s / 4;
    pthread_mutex_lock(&hb->mu);
    while (!hb->stop) {
        /* vb_now_s is CLOCK_MONOTONIC, the condition variable's clock */
        double t = vb_now_s() + every;
        struct timespec until;
        until.tv_sec = (time_t)t;
        until.tv_nsec = (long)((t - (double)until.tv_sec) * 1e9);
        while (!hb->stop && pthread_cond_timedwait(&hb->cv, &hb->mu, &until) != ETIMEDOUT) {}
        if (hb->stop) break;
        pthread_mutex_unlock(&hb->mu);
        bool owned = true;
        VbStatus s = store_renew_lease(hb->st, hb->run_id, hb->lease_s, &owned);
        pthread_mutex_lock(&hb->mu);
        if (s == VB_OK) atomic_fetch_add(&hb->beats, 1);
        if (s == VB_OK && !owned) {
            atomic_store(&hb->lost, true);
            break;
        }
    }
    pthread_mutex_unlock(&hb->mu);
    return NULL;
}

VbStatus heartbeat_start(Store *main, int64_t run_id, double lease_s, Heartbeat **out) {
    *out = NULL;
    Heartbeat *hb = vb_xcalloc(1, sizeof *hb);
    hb->run_id = run_id;
    hb->lease_s = lease_s > 0 ? lease_s : STORE_LEASE_DEFAULT_S;
    atomic_init(&hb->lost, false);
    atomic_init(&hb->beats, 0);
    VbStatus s = store_open_lease_keeper(main, &hb->st);
    if (s != VB_OK) {
        free(hb);
        return s;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&hb->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&hb->mu, NULL);
    if (pthread_create(&hb->th, NULL, beat, hb) != 0) {
        store_close(hb->st);
        pthread_cond_destroy(&hb->cv);
        pthread_mutex_destroy(&hb->mu);
        free(hb);
        return VB_FAIL(VB_ERR_NOMEM, "cannot start the lease heartbeat thread");
    }
    *out = hb;
    return VB_OK;
}

bool heartbeat_lost(const Heartbeat *hb) { return hb && atomic_load(&hb->lost); }

int64_t heartbeat_beats(const Heartbeat *hb) { return hb ? atomic_load(&hb->beats) : 0; }

void heartbeat_stop(Heartbeat *hb) {
    if (!hb) return;
    pthread_mutex_lock(&hb->mu);
    hb->stop = true;
    pthread_cond_signal(&hb->cv);
    pthread_mutex_unlock(&hb->mu);
    pthread_join(hb->th, NULL);
    store_close(hb->st);
    pthread_cond_destroy(&hb->cv);
    pthread_mutex_destroy(&hb->mu);
    free(hb);
}
