/* No cell lost or hidden, through the real binary: a failed cell makes
 * every later run exit 1 until `run --retry-failed` (or `retry RUN`) queues
 * it again, from the beginning, without its stale checkpoint; a cell failed
 * by a passing cause (a file-size limit standing in for a full disk) is
 * retried by the next run by itself; a slow evaluation keeps its lease (a
 * second runner waits instead of taking the cell over); an absurd lease is
 * taken over with a message instead of waited on forever; Ctrl-C before the
 * first cell exits 130; temporary files of killed runs are removed; a
 * resume is recorded in the run's provenance; entries skipped from a damaged
 * archive are printed, stored with the run and shown in its report; and a
 * database in a read-only directory serves `runs`. */
#include "testutil.h"

#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#define D "tests/tmp/rel"

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...) {
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
}

static int count(const char *db, const char *sql) {
    sqlite3 *h;
    cr_assert_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(h, 10000);
    sqlite3_stmt *q;
    cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &q, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
    int v = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int(q, 0) : -1;
    sqlite3_finalize(q);
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
    sh("rm -rf " D "/fail && mkdir -p " D "/fail");
    write_exp(D "/fail/e.yaml", "failexp", true, NULL);
    const char *db = D "/fail/db";
    cr_assert_eq(sh("VADBENCH_TEST_NAN_VARIANT=c " RUN D "/fail/e.yaml --db %s --quiet 2>/dev/null",
                    db),
                 1);
    cr_assert_eq(count(db, "SELECT count(*) FROM runs WHERE status = 'failed'"), 1);
    /* printed "0 failed" and exited 0 before */
    cr_assert_eq(sh(RUN D "/fail/e.yaml --db %s 2> " D "/fail/log2", db), 1);
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
    cr_assert_eq(sh("echo stale > " D "/fail/checkpoints/%s.ckpt", hash), 0);
    cr_assert_eq(sh(RUN D "/fail/e.yaml --db %s --retry-failed 2> " D "/fail/log3", db), 0);
    cr_assert(file_has(D "/fail/log3", "is queued again"), "the requeue is not said");
    cr_assert(!file_has(D "/fail/log3", "discarded"), "the stale checkpoint was still there");
    cr_assert_eq(count(db, "SELECT count(*) FROM runs WHERE status = 'done'"), 2);
    cr_assert_eq(sh(RUN D "/fail/e.yaml --db %s --quiet 2>/dev/null", db), 0);
}

Test(reliability, retry_command_requeues_and_drops_the_checkpoint, .timeout = 240) {
    sh("rm -rf " D "/retry && mkdir -p " D "/retry");
    write_exp(D "/retry/e.yaml", "retryexp", false, NULL);
    const char *db = D "/retry/db";
    /* interrupted after 2 steps: a valid checkpoint; then the cell "fails" */
    cr_assert_eq(sh("VADBENCH_TEST_STOP_AFTER=2 " RUN D "/retry/e.yaml --db %s --quiet 2>/dev/null",
                    db),
                 130);
    exec_sql(db, "UPDATE runs SET status = 'failed', error = 'disk trouble'");
    cr_assert_eq(sh("ls " D "/retry/checkpoints/*.ckpt >/dev/null 2>&1"), 0);
    cr_assert_eq(sh("./vadbench retry 1 --db %s > " D "/retry/out", db), 0);
    cr_assert(file_has(D "/retry/out", "run 1 (retryexp / a / none / seed 0) queued again"));
    cr_assert_eq(sh("ls " D "/retry/checkpoints/*.ckpt >/dev/null 2>&1"), 2,
                 "the stale checkpoint is still there");
    cr_assert_eq(count(db, "SELECT count(*) FROM runs WHERE status = 'queued' AND error IS NULL"),
                 1);
    cr_assert_eq(sh(RUN D "/retry/e.yaml --db %s 2> " D "/retry/log", db), 0);
    cr_assert(!file_has(D "/retry/log", "resuming from"), "resumed a requeued cell");
    cr_assert_eq(count(db, "SELECT count(*) FROM runs WHERE status = 'done'"), 1);
    /* only failed runs are retried */
    cr_assert_eq(sh("./vadbench retry 1 --db %s 2>/dev/null", db), 2);
}

Test(reliability, transient_failure_is_retried_by_the_next_run, .timeout = 240) {
    sh("rm -rf " D "/full && mkdir -p " D "/full");
    write_exp(D "/full/e.yaml", "fullexp", false, NULL);
    const char *db = D "/full/db";
    cr_assert_eq(sh(RUN D "/full/e.yaml --db %s --dry-run > /dev/null", db), 0);
    /* files may not grow past 300 KB: the checkpoint cannot be written, as on
     * a full disk (EFBIG here, ENOSPC there; both pass) */
    int rc = sh("(trap '' XFSZ; ulimit -f 600; " RUN D "/full/e.yaml --db %s) 2> " D "/full/log1",
                db);
    cr_assert_eq(rc, 1, "exit %d", rc);
    cr_assert(file_has(D "/full/log1", "FAILED (transient: the next run retries it)"),
              "not marked transient");
    cr_assert_eq(count(db, "SELECT count(*) FROM runs WHERE status = 'failed' AND transient = 1"),
                 1);
    /* space again: the next plain run takes it up by itself */
    cr_assert_eq(sh(RUN D "/full/e.yaml --db %s 2> " D "/full/log2", db), 0);
    cr_assert(file_has(D "/full/log2", "queued again (its failure was transient)"));
    cr_assert_eq(count(db, "SELECT count(*) FROM runs WHERE status = 'done'"), 1);
}

Test(reliability, slow_evaluation_keeps_its_lease, .timeout = 240) {
    sh("rm -rf " D "/lease && mkdir -p " D "/lease");
    write_exp(D "/lease/e.yaml", "leaseexp", false, NULL);
    const char *db = D "/lease/db";
    cr_assert_eq(sh(RUN D "/lease/e.yaml --db %s --dry-run > /dev/null", db), 0);
    /* a 2 s lease and an evaluation 5 s longer than it takes */
    pid_t a = fork();
    if (a == 0) {
        setenv("VADBENCH_TEST_EVAL_DELAY_S", "5", 1);
        execl("/bin/sh", "sh", "-c",
              RUN D "/lease/e.yaml --db " D "/lease/db --lease 2 --quiet 2> " D "/lease/a.log",
              (char *)NULL);
        _exit(127);
    }
    /* start the second runner once the first is evaluating */
    for (int i = 0; i < 600; i++) {
        usleep(50000);
        if (access(db, F_OK) == 0 &&
            count(db, "SELECT count(*) FROM timings WHERE phase = 'train'") > 0)
            break;
    }
    int rb = sh(RUN D "/lease/e.yaml --db %s --lease 2 2> " D "/lease/b.log", db);
    int st;
    waitpid(a, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the first runner failed");
    cr_assert_eq(rb, 0);
    cr_assert(!file_has(D "/lease/b.log", "taken over"), "the second runner took the cell");
    cr_assert_eq(count(db, "SELECT attempts FROM runs"), 1, "the cell ran twice");
    cr_assert_eq(count(db, "SELECT count(*) FROM runs WHERE status = 'done'"), 1);
}

Test(reliability, absurd_lease_is_taken_over_with_a_message, .timeout = 120) {
    sh("rm -rf " D "/absurd && mkdir -p " D "/absurd");
    write_exp(D "/absurd/e.yaml", "absurdexp", false, NULL);
    const char *db = D "/absurd/db";
    cr_assert_eq(sh(RUN D "/absurd/e.yaml --db %s --dry-run > /dev/null && "
                    "./vadbench run " D "/absurd/e.yaml --db %s --quiet --only 'none' 2>/dev/null",
                    db, db),
                 0);
    /* a cell "running" on another host with a lease 30 years away */
    exec_sql(db, "UPDATE runs SET status = 'running', claim_owner = 'elsewhere:1',"
                 " lease_expires = strftime('%s', 'now') + 1e9, attempts = 1");
    cr_assert_eq(sh("timeout 120 " RUN D "/absurd/e.yaml --db %s 2> " D "/absurd/log", db), 0);
    cr_assert(file_has(D "/absurd/log", "taken over from elsewhere:1: its lease ended"),
              "no word about the lease");
    cr_assert_eq(count(db, "SELECT count(*) FROM runs WHERE status = 'done'"), 1);
}

Test(reliability, ctrl_c_before_the_first_cell_exits_130, .timeout = 120) {
    sh("rm -rf " D "/sigint && mkdir -p " D "/sigint");
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
    sh("rm -rf " D "/orphan && mkdir -p " D "/orphan/checkpoints");
    write_exp(D "/orphan/e.yaml", "orphanexp", false, NULL);
    const char *db = D "/orphan/db";
    /* what a kill -9 during a checkpoint write leaves: an old temporary file
     * of a process that is gone */
    const char *tmp = D "/orphan/checkpoints/abc.ckpt.tmp.999999999.0";
    cr_assert_eq(sh("echo partial > %s", tmp), 0);
    struct utimbuf old = {time(NULL) - 3600, time(NULL) - 3600};
    utime(tmp, &old);
    cr_assert_eq(sh("VADBENCH_TEST_STOP_AFTER=2 " RUN D "/orphan/e.yaml --db %s 2> " D "/orphan/l1",
                    db),
                 130);
    cr_assert(access(tmp, F_OK) != 0, "the orphaned temporary file is still there");
    cr_assert(file_has(D "/orphan/l1", "removed 1 temporary file"));
    cr_assert_eq(count(db, "SELECT count(*) FROM runs WHERE resumes IS NULL"), 1);
    cr_assert_eq(sh(RUN D "/orphan/e.yaml --db %s --quiet 2>/dev/null", db), 0);
    /* the resume is in the run's provenance, with the step it resumed from */
    cr_assert_eq(count(db, "SELECT json_array_length(resumes) FROM runs"), 1);
    cr_assert_eq(count(db, "SELECT json_extract(resumes, '$[0].step') FROM runs"), 2);
    cr_assert_eq(sh("./vadbench show 1 --db %s | grep -q 'resumed  *1 time: from step 2'", db),
                 0);
}

Test(reliability, skipped_bad_data_is_printed_stored_and_reported, .timeout = 240) {
    sh("rm -rf " D "/skip && mkdir -p " D "/skip/data");
    cr_assert_eq(sh("./vadbench data synth --out " D "/skip/data/set --videos 2 --test-videos 1 "
                    "--normal-factor 2 --frames 2 --size 32 > /dev/null 2>&1"),
                 0);
    /* one damaged frame */
    cr_assert_eq(sh("f=$(ls " D "/skip/data/set/Test/Arson/*.png | head -1); echo broken > $f"), 0);
    write_exp(D "/skip/e.yaml", "skipexp", false,
              "source: ucf_crime, path: " D "/skip/data/set, size: 32, skip_bad: true");
    const char *db = D "/skip/db";
    cr_assert_eq(sh("VADBENCH_CACHE_DIR=" D "/skip/cache " RUN D "/skip/e.yaml --db %s 2> " D
                    "/skip/log",
                    db),
                 0);
    cr_assert(file_has(D "/skip/log", "1 bad entry skipped (dataset.skip_bad)"), "not printed");
    cr_assert_eq(count(db, "SELECT value FROM metrics WHERE split = 'data' AND "
                           "key = 'skipped_entries' AND step IS NULL"),
                 1);
    cr_assert_eq(sh("./vadbench report skipexp --db %s --out " D "/skip/report > /dev/null 2>&1",
                    db),
                 0);
    cr_assert(file_has(D "/skip/report/report.md", "from which 1 bad data entry was skipped"),
              "not in the report");
}

Test(reliability, readonly_directory_serves_runs, .timeout = 240) {
    sh("rm -rf " D "/ro && mkdir -p " D "/ro/w");
    write_exp(D "/ro/e.yaml", "roexp", false, NULL);
    cr_assert_eq(sh(RUN D "/ro/e.yaml --db " D "/ro/w/db --quiet 2>/dev/null"), 0);
    /* read-only for whoever reads it: as root, read as nobody */
    cr_assert_eq(sh("chmod 755 " D " " D "/ro && chmod 555 " D "/ro/w && chmod 444 " D
                    "/ro/w/db"),
                 0);
    const char *as = getuid() == 0 ? "setpriv --reuid=65534 --regid=65534 --clear-groups " : "";
    int rc = sh("%s./vadbench runs --db " D "/ro/w/db > " D "/ro/out 2>&1", as);
    sh("chmod 755 " D "/ro/w");
    cr_assert_eq(rc, 0, "runs failed on a read-only directory");
    cr_assert(file_has(D "/ro/out", "roexp"), "no run listed");
    cr_assert_eq(sh("%s./vadbench show 1 --db " D "/ro/w/db > /dev/null 2>&1", as), 0);
}
