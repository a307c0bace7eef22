/* Tests of the SQLite results store (harness/store*.c): schema creation and
 * WAL mode, migration from a hand-made version-1 file, idempotent
 * registration, the atomic claim across forked processes, leases that
 * expire or whose owner died, release/requeue, metric batching, the views'
 * aggregates, latency percentiles, baselines, and lookups by id and hash
 * prefix (the browsing commands are in test_store_cmd.c). Files live under
 * tests/tmp/store/, one name per test (Criterion runs tests in parallel
 * processes). */
#include "store_testutil.h"

Test(store, fresh_schema_tables_views_version_and_wal) {
    char db[256];
    Store *st = tsu_fresh("fresh", db, sizeof db);
    int v;
    cr_assert_eq(store_schema_version(st, &v), VB_OK);
    cr_assert_eq(v, STORE_SCHEMA_VERSION);
    cr_assert_eq(v, STORE_SCHEMA_VERSION);
    const char *names[] = {"experiments", "runs",           "params",    "metrics",
                           "timings",     "latency",        "baselines", "final_metrics",
                           "run_summary", "variant_summary"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char sql[256];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM sqlite_schema WHERE name = '%s'", names[i]);
        cr_assert_eq(q1(db, sql), 1.0, "missing %s", names[i]);
    }
    /* WAL: persisted in the file, and the -wal file exists while open */
    char *mode = q1s(db, "PRAGMA journal_mode");
    cr_assert_str_eq(mode, "wal");
    free(mode);
    char wal[300];
    snprintf(wal, sizeof wal, "%s-wal", db);
    struct stat sb;
    cr_assert_eq(stat(wal, &sb), 0, "no %s", wal);
    /* foreign keys are on: a timing for a run that does not exist is refused */
    VbStatus s = store_log_timing(st, 999, "train", 1.0, 1);
    cr_assert_eq(s, VB_ERR_DB);
    cr_assert(strstr(vb_errmsg(), db) && strstr(vb_errmsg(), "FOREIGN KEY"), "%s", vb_errmsg());
    cr_assert_eq(store_close(st), VB_OK);
    /* reopening an existing file changes nothing */
    cr_assert_eq(store_open(db, STORE_EXISTING, &st), VB_OK);
    cr_assert_eq(store_schema_version(st, &v), VB_OK);
    cr_assert_eq(v, STORE_SCHEMA_VERSION);
    cr_assert_eq(store_close(st), VB_OK);
}

Test(store, default_path_follows_env) {
    unsetenv("VADBENCH_DB");
    cr_assert_str_eq(store_default_path(), "results/vadbench.db");
    setenv("VADBENCH_DB", "", 1);
    cr_assert_str_eq(store_default_path(), "results/vadbench.db");
    setenv("VADBENCH_DB", "/x/y.db", 1);
    cr_assert_str_eq(store_default_path(), "/x/y.db");
}

/* The version-1 schema as the first draft wrote it: no latency table, no
 * runs.attempts or runs.checkpoint, a smaller run_summary view. */
static const char V1_SCHEMA[] =
    "CREATE TABLE experiments (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    " description TEXT NOT NULL DEFAULT '', file TEXT NOT NULL DEFAULT '', created TEXT NOT NULL);"
    "CREATE TABLE runs (id INTEGER PRIMARY KEY,"
    " experiment_id INTEGER NOT NULL REFERENCES experiments(id), variant TEXT NOT NULL,"
    " seed INTEGER NOT NULL, holdout TEXT NOT NULL DEFAULT '',"
    " status TEXT NOT NULL DEFAULT 'queued'"
    "   CHECK (status IN ('queued', 'running', 'done', 'failed')),"
    " error TEXT, created TEXT NOT NULL, started TEXT, finished TEXT,"
    " config_json TEXT NOT NULL, config_hash TEXT NOT NULL UNIQUE, git_sha TEXT,"
    " git_dirty INTEGER, host TEXT, cpu_model TEXT, gpu TEXT, gpu_driver TEXT,"
    " build_opts TEXT, libraries TEXT, backend TEXT, threads INTEGER, dataset_digest TEXT,"
    " claim_owner TEXT, lease_expires REAL);"
    "CREATE INDEX runs_cell ON runs(experiment_id, variant, holdout, seed);"
    "CREATE INDEX runs_status ON runs(status);"
    "CREATE TABLE params (run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " key TEXT NOT NULL, value TEXT, PRIMARY KEY (run_id, key)) WITHOUT ROWID;"
    "CREATE TABLE metrics (run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " split TEXT NOT NULL DEFAULT '', key TEXT NOT NULL, step INTEGER, epoch INTEGER,"
    " value REAL, wall_time REAL NOT NULL);"
    "CREATE UNIQUE INDEX metrics_curve ON metrics(run_id, split, key, step)"
    " WHERE step IS NOT NULL;"
    "CREATE UNIQUE INDEX metrics_final ON metrics(run_id, split, key) WHERE step IS NULL;"
    "CREATE TABLE timings (run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
    " phase TEXT NOT NULL, seconds REAL NOT NULL, count INTEGER NOT NULL,"
    " PRIMARY KEY (run_id, phase)) WITHOUT ROWID;"
    "CREATE TABLE baselines (name TEXT NOT NULL,"
    " run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, pinned TEXT NOT NULL,"
    " PRIMARY KEY (name, run_id)) WITHOUT ROWID;"
    "CREATE VIEW run_summary AS SELECT r.id AS run_id, r.variant, r.seed, r.status"
    " FROM runs r;"
    "INSERT INTO experiments VALUES (1, 'old', 'from v1', 'old.yaml', '2024-01-01T00:00:00.000Z');"
    "INSERT INTO runs(id, experiment_id, variant, seed, holdout, status, created, started,"
    " finished, config_json, config_hash) VALUES"
    " (1, 1, 'a', 1, 'h', 'done', '2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z',"
    "  '2024-01-01T00:01:00.000Z', '{\"x\":1}', 'aaaa0001'),"
    " (2, 1, 'a', 2, 'h', 'queued', '2024-01-01T00:00:00.000Z', NULL, NULL,"
    "  '{\"x\":2}', 'aaaa0002');"
    "INSERT INTO metrics VALUES (1, 'test', 'auc', NULL, 3, 0.75, 0), (1, 'train', 'loss', 0,"
    " 0, 1.5, 0);"
    "INSERT INTO timings VALUES (1, 'train', 60.0, 10);"
    "PRAGMA user_version = 1;";

Test(store, migrates_a_version_1_file) {
    char db[256];
    tsu_path("v1", db, sizeof db);
    raw_exec(db, V1_SCHEMA);
    cr_assert_eq(q1(db, "PRAGMA user_version"), 1.0);
    Store *st;
    cr_assert_eq(store_open(db, STORE_EXISTING, &st), VB_OK, "%s", vb_errmsg());
    int v;
    cr_assert_eq(store_schema_version(st, &v), VB_OK);
    cr_assert_eq(v, STORE_SCHEMA_VERSION);
    /* old rows kept; new columns filled sensibly */
    StoreRun r;
    cr_assert_eq(store_find_run(st, "1", &r), VB_OK);
    cr_assert_str_eq(r.experiment, "old");
    cr_assert_eq(r.status, STORE_DONE);
    cr_assert_eq(r.attempts, 1);
    cr_assert_null(r.checkpoint);
    cr_assert_null(r.cpu_path);
    cr_assert_eq(r.numerics, 0); /* unknown for runs recorded before version 5 */
    cr_assert(!r.transient);
    cr_assert_null(r.resumes);
    cr_assert_float_eq(r.wall_s, 60.0, 1e-3);
    /* version 4: the Slurm columns, NULL for runs made outside Slurm */
    cr_assert_null(r.slurm_job_id);
    cr_assert_eq(r.slurm_array_task_id, -1);
    cr_assert_null(r.slurm_node);
    store_run_free(&r);
    cr_assert_eq(q1(db, "SELECT attempts FROM runs WHERE id = 2"), 0.0);
    /* what version 2 added works on the migrated file */
    double samples[] = {3, 1, 2};
    cr_assert_eq(store_log_latency(st, 1, "infer", 1, samples, 3), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(store_set_checkpoint(st, 2, "ck/2.bin"), VB_OK);
    cr_assert_eq(q1(db, "SELECT p50 FROM latency WHERE run_id = 1"), 2.0);
    char *fin = q1s(db, "SELECT finals FROM run_summary WHERE run_id = 1");
    cr_assert_str_eq(fin, "{\"test/auc\":0.75}");
    free(fin);
    cr_assert_eq(q1(db, "SELECT count(*) FROM variant_summary"), 1.0);
    cr_assert_eq(q1(db, "SELECT mean FROM variant_summary WHERE metric = 'auc'"), 0.75);
    cr_assert_eq(q1(db, "SELECT seconds FROM timings WHERE run_id = 1"), 60.0);
    /* and what version 5 added */
    StoreProvenance pv;
    store_provenance_local(&pv);
    cr_assert_eq(store_set_provenance(st, 2, &pv), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(q1(db, "SELECT numerics FROM runs WHERE id = 2"), (double)VB_NUMERICS_VERSION);
    /* and what version 6 added */
    cr_assert_eq(store_note_resume(st, 1, "{\"step\": 7}"), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(store_note_resume(st, 1, "{\"step\": 9}"), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(q1(db, "SELECT json_extract(resumes, '$[1].step') FROM runs WHERE id = 1"), 9.0);
    cr_assert_eq(q1(db, "SELECT resumed FROM run_summary WHERE run_id = 1"), 2.0);
    cr_assert_eq(store_close(st), VB_OK);
    cr_assert_eq(q1(db, "PRAGMA user_version"), (double)STORE_SCHEMA_VERSION);
    /* version 3: runs without a data-set digest keep their hash, remembered as legacy */
    char *h = q1s(db, "SELECT config_hash || '/' || legacy_hash FROM runs WHERE id = 1");
    cr_assert_str_eq(h, "aaaa0001/aaaa0001");
    free(h);
}

Test(store, refuses_newer_schemas_and_foreign_databases) {
    char db[256];
    tsu_path("newer", db, sizeof db);
    raw_exec(db, "CREATE TABLE x(a); PRAGMA user_version = 99;");
    Store *st;
    cr_assert_eq(store_open(db, STORE_EXISTING, &st), VB_ERR_DB);
    cr_assert_null(st);
    cr_assert(strstr(vb_errmsg(), db) && strstr(vb_errmsg(), "newer"), "%s", vb_errmsg());
    tsu_path("foreign", db, sizeof db);
    raw_exec(db, "CREATE TABLE t(a);");
    cr_assert_eq(store_open(db, STORE_EXISTING, &st), VB_ERR_DB);
    cr_assert(strstr(vb_errmsg(), "not a vadbench results store"), "%s", vb_errmsg());
    /* a negative version indexed the migrations out of bounds (tests/fuzz) */
    tsu_path("negative", db, sizeof db);
    raw_exec(db, "CREATE TABLE t(a); PRAGMA user_version = -5;");
    StoreOpenMode modes[] = {STORE_EXISTING, STORE_READONLY};
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(store_open(db, modes[i], &st), VB_ERR_DB);
        cr_assert(strstr(vb_errmsg(), "schema version -5 is not one vadbench ever wrote"), "%s",
                  vb_errmsg());
    }
    cr_assert_eq(q1(db, "PRAGMA user_version"), -5.0, "the damaged file was changed");
}

Test(store, missing_directory_and_corrupt_files_name_the_path) {
    char db[256];
    tsu_path("missing", db, sizeof db);
    Store *st;
    cr_assert_eq(store_open(db, STORE_EXISTING, &st), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), db) && strstr(vb_errmsg(), "no such"), "%s", vb_errmsg());
    cr_assert_eq(store_open(TSU_DIR, STORE_CREATE, &st), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "is a directory"), "%s", vb_errmsg());
    tsu_path("corrupt", db, sizeof db);
    tsu_random_file(db, 8192, 7);
    cr_assert_eq(store_open(db, STORE_EXISTING, &st), VB_ERR_DB);
    cr_assert(strstr(vb_errmsg(), db) && strstr(vb_errmsg(), "not a database"), "%s", vb_errmsg());
    /* STORE_CREATE makes missing parent directories */
    char deep[300];
    snprintf(deep, sizeof deep, "%s/new/sub/x.db", TSU_DIR);
    cr_assert_eq(system("rm -rf " TSU_DIR "/new"), 0);
    cr_assert_eq(store_open(deep, STORE_CREATE, &st), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(store_close(st), VB_OK);
}

Test(store, register_is_idempotent_by_hash_and_flattens_params) {
    char db[256];
    Store *st = tsu_fresh("register", db, sizeof db);
    int64_t exp;
    cr_assert_eq(store_ensure_experiment(st, "e1", "first", "e1.yaml", &exp), VB_OK);
    int64_t again;
    cr_assert_eq(store_ensure_experiment(st, "e1", NULL, NULL, &again), VB_OK);
    cr_assert_eq(again, exp);
    char *desc = q1s(db, "SELECT description || '|' || file FROM experiments");
    cr_assert_str_eq(desc, "first|e1.yaml");
    free(desc);
    StoreRegistered reg[3];
    static TsuCells c;
    tsu_cells(&c, 3, "v");
    cr_assert_eq(store_register_cells(st, exp, c.cells, 3, reg), VB_OK, "%s", vb_errmsg());
    for (int i = 0; i < 3; i++) cr_assert(reg[i].created && reg[i].status == STORE_QUEUED);
    cr_assert_eq(q1(db, "SELECT count(*) FROM runs"), 3.0);
    /* a finished cell keeps its status when the matrix is registered again */
    StoreRun r;
    bool claimed;
    cr_assert_eq(store_claim(st, NULL, 0, &claimed, &r), VB_OK);
    cr_assert(claimed);
    cr_assert_eq(r.id, reg[0].run_id);
    cr_assert_eq(store_mark_done(st, r.id), VB_OK, "%s", vb_errmsg());
    store_run_free(&r);
    StoreRegistered reg2[3];
    cr_assert_eq(store_register_cells(st, exp, c.cells, 3, reg2), VB_OK);
    for (int i = 0; i < 3; i++) {
        cr_assert(!reg2[i].created);
        cr_assert_eq(reg2[i].run_id, reg[i].run_id);
    }
    cr_assert_eq(reg2[0].status, STORE_DONE);
    cr_assert_eq(reg2[1].status, STORE_QUEUED);
    cr_assert_eq(q1(db, "SELECT count(*) FROM runs"), 3.0);
    /* params: nested keys dotted, numbers in shortest form, arrays as JSON */
    char *p = q1s(db, "SELECT group_concat(key || '=' || value, ';') FROM"
                      " (SELECT key, value FROM params WHERE run_id = 1 ORDER BY key)");
    cr_assert_str_eq(p, "flags=[1,2];model.name=tiny;model.width=0.5;seed=0;train.lr=0.001;"
                        "train.sam.rho=0.05;train.swa=true");
    free(p);
    cr_assert_eq(q1(db, "SELECT count(*) FROM params"), 3.0 * 7);
    /* a bad config registers nothing */
    StoreCell bad[2] = {c.cells[0], {"w", 1, "", "[1, 2]", "beef0001"}};
    bad[0].config_hash = "beef0000";
    cr_assert_eq(store_register_cells(st, exp, bad, 2, NULL), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "not a JSON object"), "%s", vb_errmsg());
    bad[1].config_json = "{not json";
    cr_assert_eq(store_register_cells(st, exp, bad, 2, NULL), VB_ERR_INPUT);
    cr_assert_eq(q1(db, "SELECT count(*) FROM runs"), 3.0);
    cr_assert_eq(store_close(st), VB_OK);
}

/* A store with experiment "e" and n queued cells of variant v; *exp set. */
static Store *tsu_queued(const char *name, char *db, size_t size, int n, int64_t *exp) {
    Store *st = tsu_fresh(name, db, size);
    static TsuCells c;
    tsu_cells(&c, n, "v");
    cr_assert_eq(store_ensure_experiment(st, "e", "", "", exp), VB_OK);
    cr_assert_eq(store_register_cells(st, *exp, c.cells, n, NULL), VB_OK, "%s", vb_errmsg());
    return st;
}

/* Child of the claim test: claim and finish cells until none is left; the
 * exit status is the number of cells this process completed. */
static void claim_worker(const char *db, int idx) {
    Store *st;
    if (store_open(db, STORE_EXISTING, &st) != VB_OK) _exit(200);
    int done = 0;
    for (;;) {
        StoreRun r;
        bool claimed;
        if (store_claim(st, NULL, 60, &claimed, &r) != VB_OK) _exit(201);
        if (!claimed) break;
        if (store_log_timing(st, r.id, "claims", 0.0, 1) != VB_OK) _exit(202);
        if (store_log_final(st, r.id, "test", "worker", -1, idx) != VB_OK) _exit(203);
        bool owned;
        if (store_heartbeat(st, r.id, &owned) != VB_OK || !owned) _exit(204);
        if (store_mark_done(st, r.id) != VB_OK) _exit(205);
        store_run_free(&r);
        done++;
    }
    _exit(store_close(st) == VB_OK ? done : 206);
}

Test(store, claim_is_atomic_across_processes) {
    char db[256];
    int64_t exp;
    enum { CELLS = 20, WORKERS = 4 };
    Store *st = tsu_queued("claim", db, sizeof db, CELLS, &exp);
    cr_assert_eq(store_close(st), VB_OK);
    fflush(NULL);
    pid_t pids[WORKERS];
    for (int w = 0; w < WORKERS; w++) {
        pids[w] = fork();
        cr_assert(pids[w] >= 0);
        if (pids[w] == 0) claim_worker(db, w);
    }
    int total = 0;
    for (int w = 0; w < WORKERS; w++) {
        int status;
        cr_assert_eq(waitpid(pids[w], &status, 0), pids[w]);
        cr_assert(WIFEXITED(status), "worker %d did not exit", w);
        cr_assert(WEXITSTATUS(status) <= CELLS, "worker %d failed with %d", w, WEXITSTATUS(status));
        total += WEXITSTATUS(status);
    }
    cr_assert_eq(total, CELLS, "cells completed by the workers: %d", total);
    cr_assert_eq(q1(db, "SELECT count(*) FROM runs WHERE status = 'done'"), CELLS);
    cr_assert_eq(q1(db, "SELECT count(*) FROM runs WHERE attempts = 1"), CELLS);
    cr_assert_eq(q1(db, "SELECT count(*) FROM timings WHERE phase = 'claims' AND count = 1"),
                 CELLS);
    cr_assert_eq(q1(db, "SELECT sum(count) FROM timings"), CELLS);
    cr_assert_eq(q1(db, "SELECT count(*) FROM runs WHERE claim_owner IS NOT NULL"), 0);
    cr_assert_eq(q1(db, "SELECT count(*) FROM final_metrics WHERE metric = 'worker'"), CELLS);
}

Test(store, processes_creating_one_file_together_all_succeed) {
    enum { ROUNDS = 10, WORKERS = 6 };
    for (int round = 0; round < ROUNDS; round++) {
        char db[256], name[32];
        snprintf(name, sizeof name, "together%d", round);
        tsu_path(name, db, sizeof db);
        int gate[2];
        cr_assert_eq(pipe(gate), 0);
        fflush(NULL);
        pid_t pids[WORKERS];
        for (int w = 0; w < WORKERS; w++)
            if ((pids[w] = fork()) == 0) {
                char c;
                close(gate[1]);
                if (read(gate[0], &c, 1) != 0) _exit(4); /* wait for the gate to open */
                Store *st;
                int64_t e;
                if (store_open(db, STORE_CREATE, &st) != VB_OK) _exit(1);
                if (store_ensure_experiment(st, "e", "", "", &e) != VB_OK) _exit(2);
                _exit(store_close(st) == VB_OK ? 0 : 3);
            }
        close(gate[0]);
        close(gate[1]); /* all workers start at once */
        for (int w = 0; w < WORKERS; w++) {
            int status;
            cr_assert_eq(waitpid(pids[w], &status, 0), pids[w]);
            cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "round %d worker %d: %d",
                      round, w, WEXITSTATUS(status));
        }
        cr_assert_eq(q1(db, "SELECT count(*) FROM experiments"), 1.0);
    }
}

Test(store, lease_expiry_makes_a_cell_claimable_again) {
    char db[256];
    int64_t exp;
    Store *a = tsu_queued("lease", db, sizeof db, 1, &exp), *b;
    cr_assert_eq(store_open(db, STORE_EXISTING, &b), VB_OK);
    StoreRun ra, rb;
    bool claimed;
    cr_assert_eq(store_claim(a, NULL, 0.3, &claimed, &ra), VB_OK);
    cr_assert(claimed);
    cr_assert_eq(ra.attempts, 1);
    cr_assert_str_eq(ra.claim_owner, store_owner(a));
    /* unexpired and its owner (this process) alive: nothing to claim */
    cr_assert_eq(store_claim(b, NULL, 60, &claimed, &rb), VB_OK);
    cr_assert(!claimed);
    StoreCounts n;
    cr_assert_eq(store_counts(b, NULL, &n), VB_OK);
    cr_assert(n.n[STORE_RUNNING] == 1 && n.running_expired == 0 && n.n[STORE_QUEUED] == 0);
    usleep(400 * 1000);
    cr_assert_eq(store_counts(b, NULL, &n), VB_OK);
    cr_assert_eq(n.running_expired, 1);
    cr_assert_eq(store_claim(b, NULL, 60, &claimed, &rb), VB_OK);
    cr_assert(claimed);
    cr_assert_eq(rb.id, ra.id);
    cr_assert_eq(rb.attempts, 2);
    cr_assert_str_eq(rb.started, ra.started);
    /* the first owner lost it: renewing says so, marking is refused */
    bool owned;
    cr_assert_eq(store_log_metric(a, ra.id, "train", "loss", 0, 0, 5.0), VB_OK);
    cr_assert_eq(store_renew_lease(a, ra.id, 0, &owned), VB_OK);
    cr_assert(!owned);
    cr_assert_eq(store_log_final(a, ra.id, "test", "auc", -1, 0.1), VB_OK);
    cr_assert_eq(store_mark_done(a, ra.id), VB_ERR_DB);
    cr_assert(strstr(vb_errmsg(), "not claimed by"), "%s", vb_errmsg());
    cr_assert_eq(store_log_final(b, rb.id, "test", "auc", -1, 0.9), VB_OK);
    cr_assert_eq(store_renew_lease(b, rb.id, 0, &owned), VB_OK);
    cr_assert(owned);
    cr_assert_eq(store_mark_done(b, rb.id), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(store_close(a), VB_OK); /* a's rows for the lost cell were dropped */
    cr_assert_eq(q1(db, "SELECT value FROM final_metrics WHERE metric = 'auc'"), 0.9);
    cr_assert_eq(q1(db, "SELECT count(*) FROM metrics WHERE key = 'loss'"), 0.0);
    cr_assert_eq(q1(db, "SELECT status = 'done' FROM runs"), 1.0);
    store_run_free(&ra), store_run_free(&rb);
    cr_assert_eq(store_close(b), VB_OK);
}

Test(store, a_dead_owner_on_this_host_releases_its_cell_at_once) {
    char db[256];
    int64_t exp;
    Store *st = tsu_queued("dead", db, sizeof db, 2, &exp);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        Store *c;
        StoreRun r;
        bool claimed;
        if (store_open(db, STORE_EXISTING, &c) != VB_OK) _exit(1);
        if (store_claim(c, NULL, 600, &claimed, &r) != VB_OK || !claimed) _exit(2);
        if (store_set_checkpoint(c, r.id, "ck/1.bin") != VB_OK) _exit(3);
        _exit(0); /* killed mid-cell: no mark, no close */
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    StoreRun r;
    bool claimed;
    cr_assert_eq(store_claim(st, NULL, 60, &claimed, &r), VB_OK);
    cr_assert(claimed);
    cr_assert_eq(r.id, 1, "the interrupted cell is taken first");
    cr_assert_str_eq(r.checkpoint, "ck/1.bin");
    cr_assert_eq(r.attempts, 2);
    store_run_free(&r);
    cr_assert_eq(store_close(st), VB_OK);
}

Test(store, release_keeps_the_checkpoint_and_requeue_starts_over) {
    char db[256];
    int64_t exp;
    Store *st = tsu_queued("release", db, sizeof db, 1, &exp);
    StoreRun r;
    bool claimed;
    cr_assert_eq(store_claim(st, NULL, 0, &claimed, &r), VB_OK);
    cr_assert_eq(store_set_checkpoint(st, r.id, "ck/a.bin"), VB_OK);
    cr_assert_eq(store_log_metric(st, r.id, "train", "loss", 0, 0, 2.0), VB_OK);
    cr_assert_eq(store_release(st, r.id), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(q1(db, "SELECT count(*) FROM runs WHERE status = 'queued' AND claim_owner IS"
                        " NULL AND checkpoint = 'ck/a.bin' AND started IS NOT NULL"),
                 1.0);
    cr_assert_eq(q1(db, "SELECT count(*) FROM metrics"), 1.0);
    store_run_free(&r);
    cr_assert_eq(store_claim(st, NULL, 0, &claimed, &r), VB_OK);
    cr_assert(claimed);
    cr_assert_str_eq(r.checkpoint, "ck/a.bin");
    cr_assert_eq(store_requeue(st, r.id), VB_ERR_INPUT); /* only failed runs */
    cr_assert_eq(store_mark_failed(st, r.id, "NaN loss at step 3, epoch 0"), VB_OK);
    char *e = q1s(db, "SELECT status || ': ' || error FROM runs");
    cr_assert_str_eq(e, "failed: NaN loss at step 3, epoch 0");
    free(e);
    cr_assert_eq(store_mark_done(st, r.id), VB_ERR_DB);
    cr_assert(strstr(vb_errmsg(), "run 1 is failed"), "%s", vb_errmsg());
    cr_assert_eq(store_requeue(st, r.id), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(q1(db, "SELECT count(*) FROM runs WHERE status = 'queued' AND error IS NULL AND"
                        " checkpoint IS NULL AND started IS NULL"),
                 1.0);
    cr_assert_eq(q1(db, "SELECT count(*) FROM metrics"), 0.0);
    store_run_free(&r);
    cr_assert_eq(store_close(st), VB_OK);
}

Test(store, claim_filter_by_experiment_and_hashes) {
    char db[256];
    int64_t e1, e2;
    Store *st = tsu_queued("filter", db, sizeof db, 3, &e1);
    static TsuCells c;
    tsu_cells(&c, 2, "w");
    cr_assert_eq(store_ensure_experiment(st, "other", "", "", &e2), VB_OK);
    cr_assert_eq(store_register_cells(st, e2, c.cells, 2, NULL), VB_OK);
    const char *only[] = {c.hash[1], "0000ffff"};
    StoreClaimFilter f = {e2, only, 2};
    StoreCounts n;
    cr_assert_eq(store_counts(st, &f, &n), VB_OK);
    cr_assert_eq(n.n[STORE_QUEUED], 1);
    StoreRun r;
    bool claimed;
    cr_assert_eq(store_claim(st, &f, 0, &claimed, &r), VB_OK);
    cr_assert(claimed);
    cr_assert_str_eq(r.config_hash, c.hash[1]);
    cr_assert_str_eq(r.experiment, "other");
    store_run_free(&r);
    cr_assert_eq(store_claim(st, &f, 0, &claimed, &r), VB_OK);
    cr_assert(!claimed);
    StoreClaimFilter g = {e1, NULL, 0};
    cr_assert_eq(store_counts(st, &g, &n), VB_OK);
    cr_assert(n.n[STORE_QUEUED] == 3 && n.n[STORE_RUNNING] == 0);
    cr_assert_eq(store_close(st), VB_OK);
}

Test(store, metrics_are_batched_and_replaced_on_relog) {
    char db[256];
    int64_t exp;
    Store *st = tsu_queued("metrics", db, sizeof db, 1, &exp);
    store_set_batch(st, 1000);
    for (int i = 0; i < 600; i++)
        cr_assert_eq(store_log_metric(st, 1, "train", "loss", i, i / 100, 1.0 / (i + 1)), VB_OK);
    cr_assert_eq(store_log_final(st, 1, "test", "auc", 5, 0.875), VB_OK);
    cr_assert_eq(store_log_final(st, 1, "", "nan_metric", -1, NAN), VB_OK);
    cr_assert_eq(q1(db, "SELECT count(*) FROM metrics"), 0.0, "nothing written before a flush");
    cr_assert_eq(store_flush(st), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(q1(db, "SELECT count(*) FROM metrics"), 602.0);
    cr_assert_eq(q1(db, "SELECT count(*) FROM metrics WHERE step IS NULL"), 2.0);
    cr_assert(isnan(q1(db, "SELECT value FROM metrics WHERE key = 'nan_metric'")));
    cr_assert_eq(q1(db, "SELECT epoch FROM metrics WHERE key = 'loss' AND step = 250"), 2.0);
    /* a resumed run logs steps again: replaced, not duplicated */
    cr_assert_eq(store_log_metric(st, 1, "train", "loss", 250, 2, 7.0), VB_OK);
    cr_assert_eq(store_log_final(st, 1, "test", "auc", 5, 0.5), VB_OK);
    cr_assert_eq(store_flush(st), VB_OK);
    cr_assert_eq(q1(db, "SELECT count(*) FROM metrics"), 602.0);
    cr_assert_eq(q1(db, "SELECT value FROM metrics WHERE key = 'loss' AND step = 250"), 7.0);
    cr_assert_eq(q1(db, "SELECT value FROM final_metrics WHERE metric = 'auc'"), 0.5);
    /* automatic flush every `batch` rows */
    store_set_batch(st, 100);
    for (int i = 0; i < 250; i++)
        cr_assert_eq(store_log_metric(st, 1, "val", "loss", i, -1, i), VB_OK);
    cr_assert_eq(q1(db, "SELECT count(*) FROM metrics WHERE split = 'val'"), 200.0);
    StoreMetricList l;
    cr_assert_eq(store_run_metrics(st, 1, true, &l), VB_OK);
    cr_assert_eq(l.n, 2);
    cr_assert_str_eq(l.rows[0].key, "nan_metric");
    cr_assert(isnan(l.rows[0].value) && !l.rows[0].has_step && !l.rows[0].has_epoch);
    cr_assert(l.rows[1].value == 0.5 && l.rows[1].has_epoch && l.rows[1].epoch == 5);
    store_metric_list_free(&l);
    cr_assert_eq(store_close(st), VB_OK); /* flushes the last 50 */
    cr_assert_eq(q1(db, "SELECT count(*) FROM metrics WHERE split = 'val'"), 250.0);
    cr_assert(q1(db, "SELECT min(wall_time) FROM metrics") > 1.6e9);
}

Test(store, views_aggregate_final_metrics_across_seeds) {
    char db[256];
    Store *st = results_db("views", db, sizeof db);
    const char *w = "FROM variant_summary WHERE experiment = 'exp' AND variant = 'A' AND"
                    " holdout = 'h1' AND split = 'test' AND metric = 'auc'";
    char sql[512];
#define VS(col) (snprintf(sql, sizeof sql, "SELECT %s %s", col, w), q1(db, sql))
    cr_assert_eq(VS("count(*)"), 1.0);
    cr_assert_eq(VS("n_seeds"), 3.0, "the superseded run of seed 1 is left out");
    cr_assert_float_eq(VS("mean"), 0.8, 1e-12);
    cr_assert_float_eq(VS("std"), 0.1, 1e-12);
    cr_assert_float_eq(VS("min"), 0.7, 1e-12);
    cr_assert_float_eq(VS("max"), 0.9, 1e-12);
    cr_assert(isnan(q1(db, "SELECT std FROM variant_summary WHERE variant = 'B' AND metric ="
                           " 'auc'")),
              "one seed: no spread");
    cr_assert_eq(q1(db, "SELECT count(*) FROM variant_summary"), 4.0); /* A,B x auc,loss */
    /* run_summary: one row per run, finals pivoted into JSON */
    cr_assert_eq(q1(db, "SELECT count(*) FROM run_summary"), 7.0);
    char *fin = q1s(db, "SELECT finals FROM run_summary WHERE run_id = 3");
    cr_assert_str_eq(fin, "{\"test/auc\":0.8,\"val/loss\":0.2}");
    free(fin);
    cr_assert_eq(q1(db, "SELECT json_extract(finals, '$.\"test/auc\"') FROM run_summary WHERE"
                        " run_id = 4"),
                 0.9);
    cr_assert_eq(q1(db, "SELECT finals = '{}' FROM run_summary WHERE run_id = 7"), 1.0);
    cr_assert(q1(db, "SELECT wall_s FROM run_summary WHERE run_id = 2") >= 0);
    cr_assert_eq(q1(db, "SELECT count(*) FROM final_metrics"), 10.0);
    cr_assert_eq(store_close(st), VB_OK);
}

Test(store, timings_accumulate_and_latency_percentiles) {
    char db[256];
    Store *st = results_db("latency", db, sizeof db);
    double ms[100];
    for (int i = 0; i < 100; i++) ms[i] = 100 - i; /* 100..1, unsorted on purpose */
    cr_assert_eq(store_log_latency(st, 2, "infer", 8, ms, 100), VB_OK, "%s", vb_errmsg());
    double one = 4.25;
    cr_assert_eq(store_log_latency(st, 2, "infer", 1, &one, 1), VB_OK);
    cr_assert_eq(store_log_latency(st, 2, "infer", 1, ms, 0), VB_ERR_INPUT);
    StoreLatency *l;
    int n;
    cr_assert_eq(store_run_latency(st, 2, &l, &n), VB_OK);
    cr_assert_eq(n, 2);
    cr_assert(l[0].batch == 1 && l[0].p50 == 4.25 && l[0].p99 == 4.25 && l[0].n == 1);
    cr_assert(l[1].batch == 8 && l[1].n == 100);
    cr_assert_float_eq(l[1].p50, 50.5, 1e-12);
    cr_assert_float_eq(l[1].p90, 90.1, 1e-12);
    cr_assert_float_eq(l[1].p99, 99.01, 1e-12);
    cr_assert_float_eq(l[1].mean, 50.5, 1e-12);
    cr_assert(l[1].min == 1 && l[1].max == 100);
    store_latency_free(l, n);
    /* the raw samples come back in the order they were logged */
    double *raw;
    int m;
    cr_assert_eq(store_latency_samples(st, 2, "infer", 8, &raw, &m), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(m, 100);
    for (int i = 0; i < 100; i++) cr_assert_eq(raw[i], 100 - i);
    free(raw);
    cr_assert_eq(store_latency_samples(st, 2, "infer", 4, &raw, &m), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "no latency samples of 'infer' at batch 4") &&
                  strstr(vb_errmsg(), db),
              "%s", vb_errmsg());
    cr_assert_null(raw);
    cr_assert_eq(q1(db, "SELECT json_array_length(samples_ms) FROM latency WHERE batch = 8"),
                 100.0);
    cr_assert_eq(q1(db, "SELECT json_extract(samples_ms, '$[0]') FROM latency WHERE batch = 8"),
                 100.0);
    StoreTiming *t;
    cr_assert_eq(store_run_timings(st, 2, &t, &n), VB_OK);
    cr_assert(n == 1 && strcmp(t[0].phase, "train") == 0 && t[0].seconds == 2.0 && t[0].count == 4);
    store_timings_free(t, n);
    cr_assert_eq(store_close(st), VB_OK);
}

Test(store, experiments_by_name_and_corrupt_latency_samples) {
    char db[256];
    Store *st = results_db("experiments", db, sizeof db);
    char *desc, *file, *names;
    bool found;
    cr_assert_eq(store_experiment_info(st, "exp", &desc, &file, &found), VB_OK);
    cr_assert(found);
    cr_assert_str_eq(desc, "demo");
    cr_assert_str_eq(file, "exp.yaml");
    free(desc), free(file);
    cr_assert_eq(store_experiment_info(st, "nosuch", &desc, &file, &found), VB_OK);
    cr_assert(!found && !*desc && !*file);
    free(desc), free(file);
    cr_assert_eq(store_experiment_names(st, &names), VB_OK);
    cr_assert_str_eq(names, "exp, other");
    free(names);
    double ms[2] = {1, 2};
    cr_assert_eq(store_log_latency(st, 2, "model", 1, ms, 2), VB_OK);
    cr_assert_eq(store_flush(st), VB_OK);
    sqlite3 *h;
    cr_assert_eq(sqlite3_open(db, &h), SQLITE_OK);
    cr_assert_eq(sqlite3_exec(h, "UPDATE latency SET samples_ms = '[1, \"x\"]'", NULL, NULL, NULL),
                 SQLITE_OK);
    sqlite3_close(h);
    double *raw;
    int m;
    cr_assert_eq(store_latency_samples(st, 2, "model", 1, &raw, &m), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "latency sample 1 of 'model' is not a number"), "%s",
              vb_errmsg());
    cr_assert(raw == NULL && m == 0);
    cr_assert_eq(store_close(st), VB_OK);
}

Test(store, baselines_pin_replace_and_refuse_unknown_runs) {
    char db[256];
    Store *st = results_db("baseline", db, sizeof db);
    int64_t ids[] = {4, 2, 3, 2}, *got;
    int n;
    cr_assert_eq(store_baseline_pin(st, "main", ids, 4), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(store_baseline_get(st, "main", &got, &n), VB_OK);
    cr_assert(n == 3 && got[0] == 2 && got[1] == 3 && got[2] == 4);
    free(got);
    int64_t bad[] = {5, 99};
    cr_assert_eq(store_baseline_pin(st, "main", bad, 2), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "no run 99"), "%s", vb_errmsg());
    cr_assert_eq(store_baseline_get(st, "main", &got, &n), VB_OK);
    cr_assert_eq(n, 3, "a failed pin leaves the baseline as it was");
    free(got);
    cr_assert_eq(store_baseline_pin(st, "main", bad, 1), VB_OK);
    cr_assert_eq(store_baseline_get(st, "main", &got, &n), VB_OK);
    cr_assert(n == 1 && got[0] == 5);
    free(got);
    cr_assert_eq(store_baseline_get(st, "none", &got, &n), VB_OK);
    cr_assert(n == 0 && got == NULL);
    cr_assert_eq(store_close(st), VB_OK);
}

Test(store, find_run_by_id_or_unique_hash_prefix) {
    char db[256];
    Store *st = results_db("find", db, sizeof db);
    StoreRun r;
    cr_assert_eq(store_find_run(st, "3", &r), VB_OK);
    cr_assert_str_eq(r.config_hash, "abcd2222");
    cr_assert_str_eq(r.status == STORE_DONE ? "done" : "?", "done");
    cr_assert_str_eq(r.backend, "cpu");
    cr_assert_eq(r.threads, 2);
    store_run_free(&r);
    cr_assert_eq(store_find_run(st, "abcd1", &r), VB_OK);
    cr_assert_eq(r.id, 2);
    store_run_free(&r);
    cr_assert_eq(store_find_run(st, "C0FFEE", &r), VB_OK);
    cr_assert_eq(r.id, 4);
    store_run_free(&r);
    cr_assert_eq(store_find_run(st, "9876", &r), VB_OK, "no run 9876: read as a hash prefix");
    cr_assert_eq(r.id, 5);
    store_run_free(&r);
    cr_assert_eq(store_find_run(st, "abcd", &r), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "ambiguous") && strstr(vb_errmsg(), "run 2") &&
                  strstr(vb_errmsg(), "run 3") && !strstr(vb_errmsg(), "run 4"),
              "%s", vb_errmsg());
    cr_assert_eq(store_find_run(st, "abc", &r), VB_ERR_INPUT); /* too short */
    cr_assert_eq(store_find_run(st, "ffff", &r), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "no run") && strstr(vb_errmsg(), db), "%s", vb_errmsg());
    cr_assert_eq(store_find_run(st, "x'; DROP TABLE runs; --", &r), VB_ERR_INPUT);
    cr_assert_eq(store_find_run(st, "", &r), VB_ERR_INPUT);
    StoreRunList list;
    StoreRunFilter f = {"exp", true, STORE_DONE};
    cr_assert_eq(store_list_runs(st, &f, &list), VB_OK);
    cr_assert_eq(list.n, 5);
    cr_assert(list.runs[0].id == 1 && list.runs[4].id == 5);
    store_run_list_free(&list);
    cr_assert_eq(store_close(st), VB_OK);
}

/* A read-only handle changes nothing (not even the journal mode's files
 * when it can avoid them) and every write through it fails cleanly; a
 * version-5 file is migrated (5 -> 6) first by a writing open. */
Test(store, readonly_open_reads_and_refuses_writes) {
    char db[256];
    Store *st = tsu_fresh("ro", db, sizeof db);
    int64_t exp;
    cr_assert_eq(store_ensure_experiment(st, "e", "", "", &exp), VB_OK);
    cr_assert_eq(store_close(st), VB_OK);
    cr_assert_eq(store_open(db, STORE_READONLY, &st), VB_OK, "%s", vb_errmsg());
    int64_t id;
    cr_assert_eq(store_find_experiment(st, "e", &id), VB_OK);
    cr_assert_eq(id, exp);
    VbStatus s = store_ensure_experiment(st, "f", "", "", &id);
    cr_assert_eq(s, VB_ERR_DB);
    cr_assert(strstr(vb_errmsg(), db), "%s", vb_errmsg());
    cr_assert_eq(store_close(st), VB_OK);
    cr_assert_eq(q1(db, "SELECT count(*) FROM experiments"), 1.0);
    /* an older file (version 5: before runs.transient and runs.resumes) is
     * migrated through a writing open, then read */
    StoreCell c = {"a", 0, "", "{\"x\":1}", "00112233445566778899aabbccddeeff"};
    cr_assert_eq(store_open(db, STORE_EXISTING, &st), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(store_register_cells(st, exp, &c, 1, NULL), VB_OK, "%s", vb_errmsg());
    cr_assert_eq(store_close(st), VB_OK);
    raw_exec(db, "DROP VIEW run_summary; ALTER TABLE runs DROP COLUMN resumes;"
                 "ALTER TABLE runs DROP COLUMN transient; PRAGMA user_version = 5;");
    cr_assert_eq(store_open(db, STORE_READONLY, &st), VB_OK, "%s", vb_errmsg());
    StoreRun r;
    cr_assert_eq(store_find_run(st, "0011", &r), VB_OK, "%s", vb_errmsg());
    cr_assert(!r.transient);
    cr_assert_null(r.resumes);
    store_run_free(&r);
    cr_assert_eq(store_close(st), VB_OK);
    cr_assert_eq(q1(db, "PRAGMA user_version"), (double)STORE_SCHEMA_VERSION);
    cr_assert_eq(q1(db, "SELECT count(*) FROM runs WHERE transient = 0 AND resumes IS NULL"), 1.0);
    cr_assert_eq(q1(db, "SELECT resumed IS NULL FROM run_summary"), 1.0);
    /* an empty file is not a store */
    char empty[256];
    tsu_path("ro_empty", empty, sizeof empty);
    FILE *f = fopen(empty, "w");
    fclose(f);
    cr_assert_eq(store_open(empty, STORE_READONLY, &st), VB_ERR_INPUT);
    cr_assert(strstr(vb_errmsg(), "an empty database"), "%s", vb_errmsg());
}

/* A lease that ends further away than any runner asks for is taken over at
 * once, and the claim says from whom. */
Test(store, absurd_lease_is_taken_over) {
    char db[256];
    Store *st = tsu_fresh("absurd", db, sizeof db);
    int64_t exp;
    cr_assert_eq(store_ensure_experiment(st, "e", "", "", &exp), VB_OK);
    StoreCell c = {"a", 0, "", "{\"x\":1}", "00112233445566778899aabbccddeeff"};
    cr_assert_eq(store_register_cells(st, exp, &c, 1, NULL), VB_OK);
    raw_exec(db, "UPDATE runs SET status = 'running', claim_owner = 'far:1',"
                 " lease_expires = 1e12");
    bool claimed;
    StoreRun r;
    cr_assert_eq(store_claim(st, NULL, 10, &claimed, &r), VB_OK, "%s", vb_errmsg());
    cr_assert(claimed, "the absurd lease was waited on");
    cr_assert_str_eq(r.prev_owner, "far:1");
    cr_assert_float_eq(r.prev_lease_expires, 1e12, 1);
    store_run_free(&r);
    /* a normal lease of another owner is respected */
    raw_exec(db, "UPDATE runs SET status = 'running', claim_owner = 'far:1',"
                 " lease_expires = strftime('%s', 'now') + 600");
    cr_assert_eq(store_claim(st, NULL, 10, &claimed, &r), VB_OK);
    cr_assert(!claimed);
    cr_assert_eq(store_close(st), VB_OK);
}
