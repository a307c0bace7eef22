/* upkeep: the runner's care for cells around the work itself, so that no
 * cell is lost or hidden.
 *
 * Before cells are claimed: temporary files that killed processes left in
 * the checkpoint directory are removed; failed cells of the selection are
 * requeued — all of them with --retry-failed (`vadbench retry RUN...` does
 * the same for chosen runs), otherwise those whose failure was transient
 * (disk full, out of memory: upkeep_transient) — and their stale checkpoint
 * files deleted, so a retry starts from the beginning instead of reusing a
 * checkpoint written by the failed attempt. While claiming: a takeover says
 * whose cell it took and why; waiting for other runners says for whom, once
 * a minute. A resume is recorded in the run's provenance (runs.resumes).
 * After the work: how many cells of the selection are failed, whichever run
 * failed them, for the exit status.
 *
 * Must not be asked to: decide what runs (the runner claims) or touch cells
 * outside the hashes it is given. */
#ifndef VB_UPKEEP_H
#define VB_UPKEEP_H

#include <stdbool.h>
#include <stdint.h>

#include "harness/store/store.h"

/* Whether a failure may pass on its own: out of memory, a full disk or
 * quota, too many open files, a full database. */
bool upkeep_transient(VbStatus code, const char *message);

/* Remove orphaned "*.tmp.<pid>" files in the checkpoint directory (and
 * say so on stderr unless quiet); returns how many. */
int upkeep_clean_tmp(const char *ckpt_dir, bool quiet);

/* Requeue failed run `r` from scratch and delete its checkpoint files (the
 * recorded one and <ckpt_dir>/<hash>.ckpt when ckpt_dir is not NULL). */
VbStatus upkeep_requeue_run(Store *st, const StoreRun *r, const char *ckpt_dir);

/* Requeue the failed cells among run_ids[0..n): every one when `all`, else
 * the transient ones; *requeued counts them. Each is named on stderr. */
VbStatus upkeep_requeue_failed(Store *st, const int64_t *run_ids, int n, bool all,
                               const char *ckpt_dir, int *requeued);

/* One line on stderr when `run` was taken over from another owner. */
void upkeep_report_takeover(const StoreRun *run, const char *label);

/* Record in the run's provenance that it resumed from `ckpt` at `step`. */
VbStatus upkeep_note_resume(Store *st, int64_t run_id, int64_t step, const char *ckpt);

/* While waiting for other runners: at most once a minute (*last_print
 * keeps the time), which cells of `hashes` they hold and until when. */
void upkeep_report_waiting(Store *st, int64_t experiment_id, const char *const *hashes, int n,
                           double *last_print);

/* How many cells among `hashes` of `experiment_id` are failed now. */
VbStatus upkeep_failed_count(Store *st, int64_t experiment_id, const char *const *hashes, int n,
                             int *failed);

#endif
