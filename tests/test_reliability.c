/* No cell lost or hidden, through the real binary: a failed cell makes
 * every later run exit 1 until `run --retry-failed` (or `retry RUN`) queues
 * it again, from the beginning, without its stale checkpoint; a cell failed
 * by a passing cause (a file-size limit standing in for a full disk) is
 * retried by the next run by itself; a slow evaluation keeps its lease (a
 * second runner waits instead of taking the cell over); an absurd lease is
 * taken over with a message instead of waited on forever; Ctrl-C before the
 * first cell exits 130; temporary files of killed runs are removed; a
 * resume is recorded in the run's provenance; entries skipped from a damaged
 * archive are printed, stored with the run and shown in its report; a
 * database in a read-only directory serves `runs`, `show`, `export`,
 * `check`, `report` and the README's sqlite3 command; and the exit status
 * orders an interruption (130) before a requeue (75) before failed cells
 * (1). */
#include "store_testutil.h"

#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include "harness/run/run.h"

#define D "tests/tmp/rel"

/* The runner's test hooks (RunnerOptions.test_*) for one `vadbench run`. */
typedef struct Hooks {
    const char *only;
    double lease_s;
    int64_t stop_after;
    const char *nan_variant;
    double eval_delay_s;
} Hooks;

/* `vadbench run FILE --db DB` in a forked child with the hooks set, its
 * stderr to `log` (NULL: /dev/null); the child exits with the status
 * `vadbench run` would (runner_exit_status; 3 when runner_run fails). No
 * Criterion assertion runs in the child. */
static pid_t run_hooked_start(const char *file, const char *db, Hooks h, const char *log) {
    fflush(NULL);
    pid_t p = fork();
    if (p != 0) return p;
    int fd = open(log ? log : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) _exit(4);
    dup2(fd, 2);
    close(fd);
    RunnerOptions o = {0};
    o.db = db, o.only = h.only, o.backend = RUNNER_BACKEND_AS_WRITTEN, o.lease_s = h.lease_s;
    o.test_stop_after = h.stop_after, o.test_nan_variant = h.nan_variant;
    o.test_eval_delay_s = h.eval_delay_s;
    const char *files[] = {file};
    RunnerSummary sum;
    VbStatus s = runner_run(files, 1, &o, &sum);
    if (s != VB_OK) {
        fprintf(stderr, "runner_run: %s\n", vb_errmsg());
        _exit(3);
    }
    _exit(runner_exit_status(&sum));
}

static int wait_status(pid_t p) {
    int st;
    if (waitpid(p, &st, 0) != p) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int run_hooked(const char *file, const char *db, Hooks h, const char *log) {
    return wait_status(run_hooked_start(file, db, h, log));
}

/* The first column of the first row of `sql` as an integer; -1 when the
 * query cannot run (yet): no assertion, for polling a database another
 * process is creating. */
static int try_count(const char *db, const char *sql) {
    sqlite3 *h;
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        sqlite3_close(h);
        return -1;
    }
    sqlite3_busy_timeout(h, 10000);
    sqlite3_stmt *q;
    int v = -1;
    if (sqlite3_prepare_v2(h, sql, -1, &q, NULL) == SQLITE_OK) {
        v = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int(q, 0) : -1;
        sqlite3_finalize(q);
    }
    sqlite3_close(h);
    return v;
}

static void exec_sql(const char *db, const char *sql) {
    sqlite3 *h;
    cr_assert_eq(sqlite3_open(db, &h), SQLITE_OK);
    sqlite3_busy_timeout(h, 10000);
    cr_assert_eq(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
    sqlite3_close(h);
}

static bool file_has(const char *path, const char *text) {
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return strstr(buf, text) != NULL;
}

/* One or two tiny cells (variants a and, with two, c), 2 epochs. */
static void write_exp(const char *path, const char *name, bool two, const char *data) {
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f,
            "experiment: %s\n"
            "dataset: {%s, val_fraction: 0.34, workers: 1}\n"
            "base:\n"
            "  model: {backbone: {width: 0.25, depth: 0.34}, temporal: {type: none},\n"
            "          feature_dim: 16, embedding_dim: 8, svdd_hidden: 8, image: 32}\n"
            "  train: {epochs: 2, batch_size: 4, checkpoint_every: 1}\n"
            "  eval: {latency_samples: 3, latency_batch: 2, batch_size: 4}\n"
            "variants:\n  a: {}\n%s",
            name,
            data ? data
                 : "source: synthetic, videos_per_class: 2, test_videos_per_class: 1, "
                   "normal_factor: 2, frames_per_video: 2, size: 32",
            two ? "  c: {train.lr: 0.002}\n" : "");
    fclose(f);
}

#define RUN "./vadbench run "

Test(reliability, failed_cell_counts_on_every_run_until_retried, .timeout = 240) {
    tu_sh("rm -rf " D "/fail && mkdir -p " D "/fail");
    write_exp(D "/fail/e.yaml", "failexp", true, NULL);
    const char *db = D "/fail/db";
    cr_assert_eq(run_hooked(D "/fail/e.yaml", db, (Hooks){.nan_variant = "c"}, NULL), 1);
    cr_assert_eq(tsu_count(db, "SELECT count(*) FROM runs WHERE status = 'failed'"), 1);
    /* printed "0 failed" and exited 0 before */
    cr_assert_eq(tu_sh(RUN D "/fail/e.yaml --db %s 2> " D "/fail/log2", db), 1);
    cr_assert(file_has(D "/fail/log2", "0 ran, 1 already done, 1 failed"), "summary");
    cr_assert(file_has(D "/fail/log2", "--retry-failed"), "no hint how to retry");
    /* a stale checkpoint of the failed cell must not be resumed */
    char hash[64] = "";
    sqlite3 *h;
    sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL);
    sqlite3_stmt *q;
    sqlite3_prepare_v2(h, "SELECT config_hash FROM runs WHERE status = 'failed'", -1, &q, NULL);
    cr_assert_eq(sqlite3_step(q), SQLITE_ROW);
    snprintf(hash, sizeof hash, "%s", (const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    sqlite3_close(h);
    cr_assert_eq(tu_sh("echo stale > " D "/fail/checkpoints/%s.ckpt", hash), 0);
    cr_assert_eq(tu_sh(RUN D "/fail/e.yaml --db %s --retry-failed 2> " D "/fail/log3", db), 0);
    cr_assert(file_has(D "/fail/log3", "is queued again"), "the requeue is not said");
    cr_assert(!file_has(D "/fail/log3", "discarded"), "the stale checkpoint was still there");
    cr_assert_eq(tsu_count(db, "SELECT count(*) FROM runs WHERE status = 'done'"), 2);
    cr_assert_eq(tu_sh(RUN D "/fail/e.yaml --db %s --quiet 2>/dev/null", db), 0);
}

Test(reliability, retry_command_requeues_and_drops_the_checkpoint, .timeout = 240) {
    tu_sh("rm -rf " D "/retry && mkdir -p " D "/retry");
    write_exp(D "/retry/e.yaml", "retryexp", false, NULL);
    const char *db = D "/retry/db";
    /* interrupted after 2 steps: a valid checkpoint; then the cell "fails" */
    cr_assert_eq(run_hooked(D "/retry/e.yaml", db, (Hooks){.stop_after = 2}, NULL), 130);
    exec_sql(db, "UPDATE runs SET status = 'failed', error = 'disk trouble'");
    cr_assert_eq(tu_sh("ls " D "/retry/checkpoints/*.ckpt >/dev/null 2>&1"), 0);
    cr_assert_eq(tu_sh("./vadbench retry 1 --db %s > " D "/retry/out", db), 0);
    cr_assert(file_has(D "/retry/out", "run 1 (retryexp / a / none / seed 0) queued again"));
    cr_assert_eq(tu_sh("ls " D "/retry/checkpoints/*.ckpt >/dev/null 2>&1"), 2,
                 "the stale checkpoint is still there");
    cr_assert_eq(
        tsu_count(db, "SELECT count(*) FROM runs WHERE status = 'queued' AND error IS NULL"), 1);
    cr_assert_eq(tu_sh(RUN D "/retry/e.yaml --db %s 2> " D "/retry/log", db), 0);
    cr_assert(!file_has(D "/retry/log", "resuming from"), "resumed a requeued cell");
    cr_assert_eq(tsu_count(db, "SELECT count(*) FROM runs WHERE status = 'done'"), 1);
    /* only failed runs are retried */
    cr_assert_eq(tu_sh("./vadbench retry 1 --db %s 2>/dev/null", db), 2);
}

Test(reliability, transient_failure_is_retried_by_the_next_run, .timeout = 240) {
    tu_sh("rm -rf " D "/full && mkdir -p " D "/full");
    write_exp(D "/full/e.yaml", "fullexp", false, NULL);
    const char *db = D "/full/db";
    cr_assert_eq(tu_sh(RUN D "/full/e.yaml --db %s --dry-run > /dev/null", db), 0);
    /* files may not grow past 300 KB: the checkpoint cannot be written, as on
     * a full disk (EFBIG here, ENOSPC there; both pass) */
    int rc = tu_sh(
        "(trap '' XFSZ; ulimit -f 600; " RUN D "/full/e.yaml --db %s) 2> " D "/full/log1", db);
    cr_assert_eq(rc, 1, "exit %d", rc);
    cr_assert(file_has(D "/full/log1", "FAILED (transient: the next run retries it)"),
              "not marked transient");
    cr_assert_eq(
        tsu_count(db, "SELECT count(*) FROM runs WHERE status = 'failed' AND transient = 1"), 1);
    /* space again: the next plain run takes it up by itself */
    cr_assert_eq(tu_sh(RUN D "/full/e.yaml --db %s 2> " D "/full/log2", db), 0);
    cr_assert(file_has(D "/full/log2", "queued again (its failure was transient)"));
    cr_assert_eq(tsu_count(db, "SELECT count(*) FROM runs WHERE status = 'done'"), 1);
}

Test(reliability, slow_evaluation_keeps_its_lease, .timeout = 240) {
    tu_sh("rm -rf " D "/lease && mkdir -p " D "/lease");
    write_exp(D "/lease/e.yaml", "leaseexp", false, NULL);
    const char *db = D "/lease/db";
    cr_assert_eq(tu_sh(RUN D "/lease/e.yaml --db %s --dry-run > /dev/null", db), 0);
    /* a 2 s lease and an evaluation 5 s longer than it takes */
    pid_t a = run_hooked_start(D "/lease/e.yaml", db, (Hooks){.lease_s = 2, .eval_delay_s = 5},
                               D "/lease/a.log");
    cr_assert(a > 0);
    /* start the second runner once the first is evaluating */
    for (int i = 0; i < 600; i++) {
        usleep(50000);
        if (access(db, F_OK) == 0 &&
            try_count(db, "SELECT count(*) FROM timings WHERE phase = 'train'") > 0)
            break;
    }
    int rb = tu_sh(RUN D "/lease/e.yaml --db %s --lease 2 2> " D "/lease/b.log", db);
    cr_assert_eq(wait_status(a), 0, "the first runner failed");
    cr_assert_eq(rb, 0);
    cr_assert(!file_has(D "/lease/b.log", "taken over"), "the second runner took the cell");
    cr_assert_eq(tsu_count(db, "SELECT attempts FROM runs"), 1, "the cell ran twice");
    cr_assert_eq(tsu_count(db, "SELECT count(*) FROM runs WHERE status = 'done'"), 1);
}

Test(reliability, absurd_lease_is_taken_over_with_a_message, .timeout = 120) {
    tu_sh("rm -rf " D "/absurd && mkdir -p " D "/absurd");
    write_exp(D "/absurd/e.yaml", "absurdexp", false, NULL);
    const char *db = D "/absurd/db";
    /* the cell registered and stopped after a step, as on Ctrl-C */
    cr_assert_eq(run_hooked(D "/absurd/e.yaml", db, (Hooks){.stop_after = 1}, NULL), 130);
    /* a cell "running" on another host with a lease 30 years away */
    exec_sql(db, "UPDATE runs SET status = 'running', claim_owner = 'elsewhere:1',"
                 " lease_expires = strftime('%s', 'now') + 1e9, attempts = 1");
    cr_assert_eq(tu_sh("timeout 120 " RUN D "/absurd/e.yaml --db %s 2> " D "/absurd/log", db), 0);
    cr_assert(file_has(D "/absurd/log",
                       "taken over from elsewhere:1: its lease ran until 11574 days from now"),
              "no word about the lease");
    cr_assert_eq(tsu_count(db, "SELECT count(*) FROM runs WHERE status = 'done'"), 1);
}

Test(reliability, ctrl_c_before_the_first_cell_exits_130, .timeout = 120) {
    tu_sh("rm -rf " D "/sigint && mkdir -p " D "/sigint");
    /* a data set that takes seconds to generate: the signal comes first */
    write_exp(D "/sigint/e.yaml", "sigexp", false,
              "source: synthetic, videos_per_class: 400, test_videos_per_class: 50, "
              "frames_per_video: 16, size: 32");
    pid_t p = fork();
    if (p == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 2);
        execl("./vadbench", "vadbench", "run", D "/sigint/e.yaml", "--db", D "/sigint/db",
              (char *)NULL);
        _exit(127);
    }
    usleep(700000);
    kill(p, SIGINT);
    int st;
    waitpid(p, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 130, "exit %d", WEXITSTATUS(st));
}

Test(reliability, orphans_removed_and_resume_recorded, .timeout = 240) {
    tu_sh("rm -rf " D "/orphan && mkdir -p " D "/orphan/checkpoints");
    write_exp(D "/orphan/e.yaml", "orphanexp", false, NULL);
    const char *db = D "/orphan/db";
    /* what a kill -9 during a checkpoint write leaves: an old temporary file
     * of a process that is gone */
    const char *tmp = D "/orphan/checkpoints/abc.ckpt.tmp.999999999.0";
    cr_assert_eq(tu_sh("echo partial > %s", tmp), 0);
    struct utimbuf old = {time(NULL) - 3600, time(NULL) - 3600};
    utime(tmp, &old);
    cr_assert_eq(run_hooked(D "/orphan/e.yaml", db, (Hooks){.stop_after = 2}, D "/orphan/l1"), 130);
    cr_assert(access(tmp, F_OK) != 0, "the orphaned temporary file is still there");
    cr_assert(file_has(D "/orphan/l1", "removed 1 temporary file"));
    cr_assert_eq(tsu_count(db, "SELECT count(*) FROM runs WHERE resumes IS NULL"), 1);
    cr_assert_eq(tu_sh(RUN D "/orphan/e.yaml --db %s --quiet 2>/dev/null", db), 0);
    /* the resume is in the run's provenance, with the step it resumed from */
    cr_assert_eq(tsu_count(db, "SELECT json_array_length(resumes) FROM runs"), 1);
    cr_assert_eq(tsu_count(db, "SELECT json_extract(resumes, '$[0].step') FROM runs"), 2);
    cr_assert_eq(tu_sh("./vadbench show 1 --db %s | grep -q 'resumed  *1 time: from step 2'", db),
                 0);
}

Test(reliability, skipped_bad_data_is_printed_stored_and_reported, .timeout = 240) {
    tu_sh("rm -rf " D "/skip && mkdir -p " D "/skip/data");
    cr_assert_eq(tu_sh("./vadbench data synth --out " D "/skip/data/set --videos 2 --test-videos 1 "
                       "--normal-factor 2 --frames 2 --size 32 > /dev/null 2>&1"),
                 0);
    /* both frames of Arson's only test video damaged: the class loses its
     * test videos (two classes lost theirs silently before) */
    cr_assert_eq(tu_sh("for f in " D "/skip/data/set/Test/Arson/*.png; do echo broken > $f; done"),
                 0);
    write_exp(D "/skip/e.yaml", "skipexp", false,
              "source: ucf_crime, path: " D "/skip/data/set, size: 32, skip_bad: true");
    const char *db = D "/skip/db";
    cr_assert_eq(tu_sh("VADBENCH_CACHE_DIR=" D "/skip/cache " RUN D "/skip/e.yaml --db %s 2> " D
                       "/skip/log",
                       db),
                 0);
    cr_assert(file_has(D "/skip/log", "2 bad entries skipped (dataset.skip_bad)"), "not printed");
    cr_assert(file_has(D "/skip/log", "class Arson has no Test videos"), "not printed");
    cr_assert_eq(tsu_count(db, "SELECT value FROM metrics WHERE split = 'data' AND "
                               "key = 'skipped_entries' AND step IS NULL"),
                 2);
    cr_assert_eq(tsu_count(db, "SELECT value FROM metrics WHERE split = 'data' AND "
                               "key = 'classes_missing_a_split' AND step IS NULL"),
                 1);
    cr_assert_eq(
        tu_sh("./vadbench report skipexp --db %s --out " D "/skip/report > /dev/null 2>&1", db), 0);
    cr_assert(file_has(D "/skip/report/report.md", "from which 2 bad data entries were skipped"),
              "not in the report");
    cr_assert(
        file_has(D "/skip/report/report.md", "1 class has videos in only one of Train and Test"),
        "not in the report");
}

Test(reliability, readonly_directory_serves_the_browsing_commands, .timeout = 240) {
    tu_sh("rm -rf " D "/ro && mkdir -p " D "/ro/w " D "/ro/out && chmod 777 " D "/ro/out");
    write_exp(D "/ro/e.yaml", "roexp", false, NULL);
    cr_assert_eq(tu_sh(RUN D "/ro/e.yaml --db " D "/ro/w/db --quiet 2>/dev/null"), 0);
    cr_assert_eq(
        tu_sh("./vadbench baseline pin b --experiment roexp --db " D "/ro/w/db > /dev/null"), 0);
    /* read-only for whoever reads it: as root, read as nobody */
    cr_assert_eq(
        tu_sh("chmod 755 " D " " D "/ro && chmod 555 " D "/ro/w && chmod 444 " D "/ro/w/db"), 0);
    const char *as = getuid() == 0 ? "setpriv --reuid=65534 --regid=65534 --clear-groups " : "";
    int rc[6];
    rc[0] = tu_sh("%s./vadbench runs --db " D "/ro/w/db > " D "/ro/out/runs 2>&1", as);
    rc[1] = tu_sh("%s./vadbench show 1 --db " D "/ro/w/db > " D "/ro/out/show 2>&1", as);
    rc[2] =
        tu_sh("%s./vadbench export --format csv --db " D "/ro/w/db > " D "/ro/out/csv 2>&1", as);
    rc[3] = tu_sh("%s./vadbench check --baseline b --experiment roexp --db " D "/ro/w/db > " D
                  "/ro/out/check 2>&1",
                  as);
    rc[4] = tu_sh("%s./vadbench report roexp --db " D "/ro/w/db --out " D "/ro/out/report > " D
                  "/ro/out/report.log 2>&1",
                  as);
    /* the README's advice for the sqlite3 shell there */
    rc[5] =
        tu_sh("%ssqlite3 'file:" D "/ro/w/db?immutable=1' 'SELECT count(*) FROM run_summary' > " D
              "/ro/out/sqlite 2>&1",
              as);
    tu_sh("chmod 755 " D "/ro/w && chmod 644 " D "/ro/w/db");
    const char *what[] = {"runs", "show", "export", "check", "report", "sqlite3 immutable"};
    for (int i = 0; i < 6; i++)
        cr_assert_eq(rc[i], 0, "%s failed on a read-only directory", what[i]);
    cr_assert(file_has(D "/ro/out/runs", "roexp"), "no run listed");
    cr_assert(file_has(D "/ro/out/csv", "roexp"), "no run exported");
    cr_assert(file_has(D "/ro/out/report/report.md", "roexp"), "no report");
    cr_assert(file_has(D "/ro/out/sqlite", "1"), "sqlite3 read nothing");
    cr_assert_eq(access(D "/ro/w/db-shm", F_OK), -1, "a reader created the -shm file");
}

/* `./vadbench run FILE --db DB` in the background, stderr to `log`. */
static pid_t spawn_run(const char *file, const char *db, const char *log) {
    fflush(NULL);
    pid_t p = fork();
    if (p == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) dup2(fd, 2);
        execl("./vadbench", "vadbench", "run", file, "--db", db, (char *)NULL);
        _exit(127);
    }
    return p;
}

/* Wait until cell `a` is claimed for the attempt-th time (the runner is
 * in it, or about to be); false after a minute. */
static bool wait_claimed(const char *db, int attempt) {
    char sql[200];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM runs WHERE variant = 'a' AND status = 'running' AND "
             "attempts = %d",
             attempt);
    for (int i = 0; i < 1200; i++) {
        if (try_count(db, sql) == 1) {
            usleep(300000);
            return true;
        }
        usleep(50000);
    }
    return false;
}

/* With a cell failed earlier, an interrupted run exits 130, a run stopped
 * by SIGUSR1 for a requeue 75 (Slurm requeues only on 75), SIGUSR1 then
 * Ctrl-C 130, and a run that finishes the rest 1. */
Test(reliability, exit_status_orders_interrupt_requeue_failure, .timeout = 300) {
    tu_sh("rm -rf " D "/prec && mkdir -p " D "/prec");
    FILE *f = fopen(D "/prec/e.yaml", "w");
    cr_assert_not_null(f);
    fprintf(f, "experiment: precexp\n"
               "dataset: {source: synthetic, videos_per_class: 2, test_videos_per_class: 1,\n"
               "          normal_factor: 2, frames_per_video: 2, size: 32, val_fraction: 0.34,\n"
               "          workers: 1}\n"
               "base:\n"
               "  model: {backbone: {width: 0.25, depth: 0.34}, temporal: {type: none},\n"
               "          feature_dim: 16, embedding_dim: 8, svdd_hidden: 8, image: 32}\n"
               "  train: {epochs: 60, batch_size: 4, checkpoint_every: 5}\n"
               "  eval: {latency_samples: 3, latency_batch: 2, batch_size: 4}\n"
               "variants:\n  a: {}\n  c: {train.epochs: 1}\n");
    fclose(f);
    const char *db = D "/prec/db", *file = D "/prec/e.yaml";
    cr_assert_eq(run_hooked(file, db, (Hooks){.only = "c/*", .nan_variant = "c"}, NULL), 1);
    cr_assert_eq(tsu_count(db, "SELECT count(*) FROM runs WHERE status = 'failed'"), 1);
    struct {
        int first, second; /* signals, in order (0: none) */
        int want;
    } cases[] = {{SIGUSR1, 0, 75}, {SIGINT, 0, 130}, {SIGUSR1, SIGINT, 130}};
    for (int k = 0; k < 3; k++) {
        char log[128];
        snprintf(log, sizeof log, D "/prec/log%d", k);
        pid_t p = spawn_run(file, db, log);
        cr_assert(p > 0);
        bool in = wait_claimed(db, k + 1);
        if (in) kill(p, cases[k].first);
        /* the second signal at once: a tiny cell stops, checkpoints and exits
         * within milliseconds of the first, after which a late SIGINT finds no
         * process (an exit 75 that is right, but not the case under test) */
        if (in && cases[k].second) kill(p, cases[k].second);
        int rc = wait_status(p);
        cr_assert(in, "case %d: the cell was never claimed (exit %d)", k, rc);
        cr_assert_eq(rc, cases[k].want, "case %d: exit %d, want %d", k, rc, cases[k].want);
        /* one signal: the cell is given back with its checkpoint; a second one
         * exits at once, and the dead owner's cell is taken over next time */
        if (!cases[k].second)
            cr_assert_eq(tsu_count(db, "SELECT count(*) FROM runs WHERE variant = 'a' AND "
                                       "status = 'queued'"),
                         1, "case %d: the interrupted cell was not given back", k);
    }
    /* the rest runs to the end; the earlier failure still counts */
    cr_assert_eq(tu_sh(RUN "%s --db %s 2> " D "/prec/log_end", file, db), 1);
    cr_assert_eq(tsu_count(db, "SELECT count(*) FROM runs WHERE status = 'done'"), 1);
}
