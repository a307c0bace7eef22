/* fuzz_store: a results database file through the store's open path —
 * read-only (with its immutable fallback and version checks) and writing
 * (WAL switch, schema creation or migration) — then the queries the
 * browsing commands run on it (runs, export, counts, one run by spec). */
#include <stdio.h>
#include <stdlib.h>

#include "harness/store/store.h"
#include "tests/fuzz/fuzz.h"

static void browse(Store *st) {
    StoreRunList l;
    if (store_list_runs(st, NULL, &l) == VB_OK) {
        for (int i = 0; i < l.n && i < 4; i++) {
            StoreMetricList m;
            if (store_run_metrics(st, l.runs[i].id, false, &m) == VB_OK) store_metric_list_free(&m);
        }
        store_run_list_free(&l);
    }
    StoreTable t;
    if (store_export(st, NULL, &t) == VB_OK) store_table_free(&t);
    StoreCounts c;
    store_counts(st, NULL, &c);
    StoreRun r;
    if (store_find_run(st, "1", &r) == VB_OK) store_run_free(&r);
    char *names;
    if (store_experiment_names(st, &names) == VB_OK) free(names);
}

int fuzz_store(const uint8_t *data, size_t size) {
    fuzz_clean(); /* no -wal or -shm of the previous input */
    const char *path = fuzz_path("input.db");
    if (fuzz_write(path, data, size) != 0) return 0;
    /* the last byte picks the open (both are the program's): read-only, as
     * the browsing commands open it, or writing, as `vadbench run` does */
    bool ro = size == 0 || !(data[size - 1] & 1);
    Store *st;
    if (store_open(path, ro ? STORE_READONLY : STORE_EXISTING, &st) == VB_OK) {
        fuzz_accepted++;
        browse(st);
        store_close(st);
    }
    vb_clear_error();
    return 0;
}

FUZZ_TARGET(fuzz_store)
