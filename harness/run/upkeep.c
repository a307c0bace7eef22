/* upkeep: requeues, temporary files, takeover and waiting reports. */
#include "harness/run/upkeep.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "datasets/safeio.h"

bool upkeep_transient(VbStatus code, const char *m) {
    if (code == VB_ERR_NOMEM) return true;
    static const char *const words[] = {
        "No space left on device", "Disk quota exceeded", "Cannot allocate memory",
        "out of memory",           "Too many open files", "database or disk is full",
        "File too large",
    };
    for (size_t i = 0; m && i < sizeof words / sizeof words[0]; i++)
        if (strstr(m, words[i]))
            return code == VB_ERR_IO || code == VB_ERR_DB || code == VB_ERR_NOMEM;
    return false;
}

int upkeep_clean_tmp(const char *ckpt_dir, bool quiet) {
    uint64_t bytes = 0;
    int n = safeio_clean_orphans(ckpt_dir, 60.0, &bytes);
    if (n > 0 && !quiet)
        fprintf(stderr,
                "vadbench run: removed %d temporary file%s (%.1f MB) that killed runs left in %s\n",
                n, n == 1 ? "" : "s", (double)bytes / 1e6, ckpt_dir);
    return n;
}

static void remove_file(const char *path) {
    if (path && *path && remove(path) != 0 && errno != ENOENT)
        fprintf(stderr, "vadbench: warning: cannot remove the stale checkpoint %s: %s\n", path,
                strerror(errno));
}

VbStatus upkeep_requeue_run(Store *st, const StoreRun *r, const char *ckpt_dir) {
    VB_TRY(store_requeue(st, r->id));
    remove_file(r->checkpoint);
    if (ckpt_dir && r->config_hash) {
        size_t n = strlen(ckpt_dir) + strlen(r->config_hash) + 8;
        char *p = vb_xmalloc(n);
        snprintf(p, n, "%s/%s.ckpt", ckpt_dir, r->config_hash);
        if (!r->checkpoint || strcmp(p, r->checkpoint) != 0) remove_file(p);
        free(p);
    }
    return VB_OK;
}

VbStatus upkeep_requeue_failed(Store *st, const int64_t *run_ids, int n, bool all,
                               const char *ckpt_dir, int *requeued) {
    *requeued = 0;
    for (int i = 0; i < n; i++) {
        StoreRun r;
        VB_TRY(store_get_run(st, run_ids[i], &r));
        VbStatus s = VB_OK;
        if (r.status == STORE_FAILED && (all || r.transient)) {
            s = upkeep_requeue_run(st, &r, ckpt_dir);
            if (s == VB_OK) {
                (*requeued)++;
                fprintf(stderr, "vadbench run: run %lld (%s/%s/seed%lld) is queued again%s: %s\n",
                        (long long)r.id, r.variant, r.holdout && *r.holdout ? r.holdout : "none",
                        (long long)r.seed, all ? "" : " (its failure was transient)",
                        r.error ? r.error : "");
            }
        }
        store_run_free(&r);
        VB_TRY(s);
    }
    return VB_OK;
}

void upkeep_report_takeover(const StoreRun *run, const char *label) {
    if (!run->prev_owner) return;
    double now = (double)time(NULL), le = run->prev_lease_expires;
    char why[160];
    if (le <= 0) snprintf(why, sizeof why, "it had no lease");
    else if (le > now + STORE_LEASE_MAX_S)
        snprintf(why, sizeof why,
                 "its lease ran until %.0f %s from now, longer than any runner asks for (a clock "
                 "gone wrong?)",
                 le - now > 172800 ? (le - now) / 86400.0 : le - now,
                 le - now > 172800 ? "days" : "s");
    else if (le < now) snprintf(why, sizeof why, "its lease expired %.0f s ago", now - le);
    else snprintf(why, sizeof why, "its owner process is gone");
    fprintf(stderr, "vadbench run: %s (run %lld): taken over from %s: %s\n", label,
            (long long)run->id, run->prev_owner, why);
}

VbStatus upkeep_note_resume(Store *st, int64_t run_id, int64_t step, const char *ckpt) {
    char at[40];
    time_t t = time(NULL);
    strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    json_t *j = json_pack("{s:s, s:I, s:s, s:s, s:s, s:b}", "at", at, "step", (json_int_t)step,
                          "owner", store_owner(st), "git_sha", provenance_git_sha(), "host",
                          provenance_host(), "git_dirty", provenance_dirty());
    if (ckpt && j) json_object_set_new(j, "checkpoint", json_string(ckpt));
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    VbStatus s = text ? store_note_resume(st, run_id, text) : VB_OK;
    free(text);
    return s;
}

void upkeep_report_waiting(Store *st, int64_t experiment_id, const char *const *hashes, int n,
                           double *last_print) {
    double now = (double)time(NULL);
    if (*last_print && now - *last_print < 60) return;
    *last_print = now;
    StoreRunFilter f = {NULL, true, STORE_RUNNING};
    StoreRunList l;
    if (store_list_runs(st, &f, &l) != VB_OK) return;
    int shown = 0, held = 0;
    for (int i = 0; i < l.n; i++) {
        const StoreRun *r = &l.runs[i];
        bool selected = false;
        for (int k = 0; k < n && !selected; k++)
            selected = r->config_hash && strcmp(hashes[k], r->config_hash) == 0;
        if (r->experiment_id != experiment_id || !selected) continue;
        held++;
        if (shown++ < 3)
            fprintf(stderr,
                    "vadbench run: waiting for run %lld (%s/%s/seed%lld), held by %s, lease "
                    "ends in %.0f s\n",
                    (long long)r->id, r->variant, r->holdout && *r->holdout ? r->holdout : "none",
                    (long long)r->seed, r->claim_owner ? r->claim_owner : "?",
                    r->lease_expires - now);
    }
    if (held > 3)
        fprintf(stderr, "vadbench run: ... and %d more cells held by other runners\n", held - 3);
    store_run_list_free(&l);
}

VbStatus upkeep_failed_count(Store *st, int64_t experiment_id, const char *const *hashes, int n,
                             int *failed) {
    StoreClaimFilter f = {experiment_id, hashes, n};
    StoreCounts c;
    VB_TRY(store_counts(st, &f, &c));
    *failed = c.n[STORE_FAILED];
    return VB_OK;
}
