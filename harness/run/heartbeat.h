/* heartbeat: keeps a claimed cell's lease alive for as long as the cell
 * runs — training, evaluation, latency, probe, recording — from a thread of
 * its own, so that no phase, however long, lets the lease expire and hands
 * the cell to another runner (before, the lease was renewed only between
 * training steps: a 165 s evaluation lost its cell at 120 s).
 *
 * The thread opens its own connection (store_open_lease_keeper: same
 * database, same owner) and renews every quarter lease. When a renewal
 * finds the cell is no longer this runner's (it was taken over after a
 * stall longer than the lease, or given back), heartbeat_lost turns true:
 * the runner stops the cell and records nothing for it. A renewal that
 * fails (database busy beyond its timeout) is retried at the next beat.
 *
 * Must not be asked to: renew more than one cell, or share its connection
 * (the main thread keeps its own Store). */
#ifndef VB_HEARTBEAT_H
#define VB_HEARTBEAT_H

#include <stdbool.h>
#include <stdint.h>

#include "harness/store/store.h"

typedef struct Heartbeat Heartbeat;

/* Start renewing `run_id`'s lease (claimed by `main`, lease_s seconds; 0:
 * the store's default). */
VbStatus heartbeat_start(Store *main, int64_t run_id, double lease_s, Heartbeat **out);
/* True once a renewal found the cell taken over or released. */
bool heartbeat_lost(const Heartbeat *hb);
/* Renewals done so far (for tests and progress). */
int64_t heartbeat_beats(const Heartbeat *hb);
/* Stop the thread, close its connection, free. NULL is allowed. */
void heartbeat_stop(Heartbeat *hb);

#endif
