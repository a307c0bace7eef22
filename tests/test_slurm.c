/* Slurm submission without a cluster (make test-slurm runs the real one):
 * the job scripts' sbatch lines for every option, their shell syntax, and
 * what job.sh does on its own with stand-ins for vadbench and scontrol (the
 * shard copied back, SIGUSR1 passed on, exit 75 → `scontrol requeue
 * ARRAYJOB_TASK`); the file's `slurm:` section as defaults under the
 * command line's options; `--dry-run` (no Slurm needed, only pending cells
 * listed); no sbatch on PATH → "sbatch not found", exit 2; `run --cell`
 * selecting one cell, reading only its own data set and registering only
 * it; and the USR1 path through the real binary: signal → checkpoint →
 * exit 75 → the same command resumes to the same bits as an uninterrupted
 * run. */
#include "testutil.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "harness/experiment/experiment.h"
#include "harness/run/run.h"

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    fclose(f);
}

static bool has_line(const char *text, const char *line) {
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)); p++)
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == 0)) return true;
    return false;
}

static const char *HASHES[] = {"0123456789abcdef0123456789abcdef",
                               "fedcba9876543210fedcba9876543210"};
static const char *LABELS[] = {"a/h/seed0", "b/h/seed1"};

static SlurmJob base_job(void) {
    SlurmJob j = {0};
    j.experiment = "exp", j.submission = "20260101-000000", j.command = "vadbench slurm submit x";
    j.vadbench = "/opt/vb/vadbench", j.subdir = "/shared/sub", j.file = "/shared/sub/e.yaml";
    j.db = "/shared/main.db", j.shard_dir = "/shared/sub/shards";
    j.checkpoint_dir = "/shared/ck", j.log_dir = "/shared/sub/logs";
    j.report_dir = "/shared/reports/exp", j.status_file = "/shared/sub/merge.status";
    j.grace_s = 120, j.ncells = 2, j.hashes = HASHES, j.labels = LABELS;
    return j;
}

Test(slurm, options_become_sbatch_lines) {
    SlurmJob j = base_job();
    const char *args[] = {"--constraint=a100", "--exclusive"};
    j.partition = "gpu", j.time = "1-00:00:00", j.mem = "16G", j.account = "proj";
    j.qos = "high", j.gpus_per_task = "a100:1", j.cpus_per_task = 4, j.array_parallelism = 3;
    j.grace_s = 90, j.args = args, j.nargs = 2, j.backend = "cuda";
    char *s = slurm_array_script(&j);
    const char *want[] = {"#SBATCH --job-name=vb-exp",
                          "#SBATCH --array=0-1%3",
                          "#SBATCH --output=/shared/sub/logs/%A_%a.out",
                          "#SBATCH --open-mode=append",
                          "#SBATCH --requeue",
                          "#SBATCH --signal=B:USR1@90",
                          "#SBATCH --partition=gpu",
                          "#SBATCH --account=proj",
                          "#SBATCH --qos=high",
                          "#SBATCH --time=1-00:00:00",
                          "#SBATCH --cpus-per-task=4",
                          "#SBATCH --gpus-per-task=a100:1",
                          "#SBATCH --mem=16G",
                          "#SBATCH --constraint=a100",
                          "#SBATCH --exclusive",
                          "VADBENCH='/opt/vb/vadbench'",
                          "CHECKPOINTS='/shared/ck'",
                          "    0123456789abcdef0123456789abcdef # 0: a/h/seed0",
                          "    'b/h/seed1'"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        cr_assert(has_line(s, want[i]), "job.sh lacks the line '%s':\n%s", want[i], s);
    cr_assert(strstr(s, "\"$VADBENCH\" run \"$FILE\" --cell \"$HASH\" --only \"$LABEL\" --db "
                        "\"$DB\" --mirror \"$SHARD\" --checkpoint-dir \"$CHECKPOINTS\" --threads 4 "
                        "--backend cuda &"),
              "%s", s);
    /* every #SBATCH line comes before the first command (sbatch stops reading there) */
    const char *last = s, *p = s;
    while ((p = strstr(p, "\n#SBATCH"))) last = ++p;
    cr_assert(last < strstr(s, "set -u"));
    char *m = slurm_merge_script(&j);
    cr_assert(has_line(m, "#SBATCH --partition=gpu") && has_line(m, "#SBATCH --account=proj") &&
              has_line(m, "#SBATCH --qos=high"));
    cr_assert(!strstr(m, "--gpus-per-task") && !strstr(m, "--constraint") &&
                  !strstr(m, "--array") && !strstr(m, "--time"),
              "the merge job asks only for a place to run:\n%s", m);
    cr_assert(strstr(m, "\"$VADBENCH\" merge \"$DB\" \"${shards[@]}\""));
    cr_assert(strstr(m, "\"$VADBENCH\" report 'exp' --db \"$DB\" --out \"$REPORT\""));
    free(s), free(m);

    /* nothing set: no placement lines, one task, the file's threads */
    SlurmJob k = base_job();
    k.ncells = 1;
    s = slurm_array_script(&k);
    cr_assert(has_line(s, "#SBATCH --array=0-0") && has_line(s, "#SBATCH --signal=B:USR1@120"));
    cr_assert(!strstr(s, "--partition") && !strstr(s, "--mem") && !strstr(s, "--cpus-per-task") &&
                  !strstr(s, "--threads") && !strstr(s, "--backend"),
              "%s", s);
    free(s);

    /* paths are quoted for bash */
    k.shard_dir = "/shared/it's";
    s = slurm_array_script(&k);
    cr_assert(has_line(s, "SHARDS='/shared/it'\\''s'"), "%s", s);
    free(s);
}

Test(slurm, scripts_are_valid_bash) {
    mkdir("tests/tmp", 0777);
    SlurmJob j = base_job();
    j.partition = "p";
    char *s = slurm_array_script(&j), *m = slurm_merge_script(&j);
    write_text("tests/tmp/slurm_job.sh", s);
    write_text("tests/tmp/slurm_merge.sh", m);
    cr_assert_eq(tu_sh("bash -n tests/tmp/slurm_job.sh && bash -n tests/tmp/slurm_merge.sh"), 0);
    free(s), free(m);
}

/* job.sh run as Slurm would run array task 1 of job 7, with stand-ins:
 * vadbench records its arguments, writes its --db, and on SIGUSR1 exits 75
 * (or ends with 0 by itself); scontrol records its arguments. */
static int run_job_sh(const char *dir, bool signal_it) {
    char cmd[2048];
    tu_sh("rm -rf %s && mkdir -p %s/bin %s/tmp", dir, dir, dir);
    snprintf(cmd, sizeof cmd, "%s/bin/vadbench", dir);
    char fake[1024];
    snprintf(fake, sizeof fake,
             "#!/bin/bash\n"
             "echo \"$@\" > %s/args\n"
             "while [ $# -gt 0 ]; do [ \"$1\" = --db ] && db=$2; shift; done\n"
             "echo shard-content > \"$db\"\n"
             "trap 'exit 75' USR1\n"
             "touch %s/started\n"
             "for i in $(seq 1 %d); do sleep 0.02; done\n"
             "exit 0\n",
             dir, dir, signal_it ? 1000 : 5);
    write_text(cmd, fake);
    snprintf(cmd, sizeof cmd, "%s/bin/scontrol", dir);
    snprintf(fake, sizeof fake, "#!/bin/sh\necho \"$@\" >> %s/scontrol.log\n", dir);
    write_text(cmd, fake);
    tu_sh("chmod +x %s/bin/vadbench %s/bin/scontrol", dir, dir);
    SlurmJob j = base_job();
    char vb[512], shards[512], ck[512], logs[512];
    snprintf(vb, sizeof vb, "%s/bin/vadbench", dir);
    snprintf(shards, sizeof shards, "%s/shards", dir);
    snprintf(ck, sizeof ck, "%s/ck", dir);
    snprintf(logs, sizeof logs, "%s/logs", dir);
    j.vadbench = vb, j.shard_dir = shards, j.checkpoint_dir = ck, j.log_dir = logs;
    j.cpus_per_task = 2;
    char *s = slurm_array_script(&j);
    snprintf(cmd, sizeof cmd, "%s/job.sh", dir);
    write_text(cmd, s);
    free(s);
    pid_t pid = fork();
    if (pid == 0) {
        char path[4096], tmp[600];
        snprintf(path, sizeof path, "PATH=%s/bin:%s", dir, getenv("PATH"));
        snprintf(tmp, sizeof tmp, "TMPDIR=%s/tmp", dir);
        char *env[] = {path, tmp, "SLURM_ARRAY_TASK_ID=1", "SLURM_ARRAY_JOB_ID=7", "SLURM_JOB_ID=9",
                       NULL};
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        execle("/bin/bash", "bash", cmd, (char *)NULL, env);
        _exit(127);
    }
    if (signal_it) {
        char started[600];
        snprintf(started, sizeof started, "%s/started", dir);
        for (int i = 0; i < 500 && access(started, F_OK) != 0; i++) usleep(10000);
        cr_assert_eq(access(started, F_OK), 0, "the stand-in never started");
        usleep(100000);
        kill(pid, SIGUSR1); /* to the batch shell, as --signal=B:USR1 does */
    }
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

Test(slurm, job_script_passes_usr1_on_and_requeues_itself, .timeout = 60) {
    const char *d = "tests/tmp/slurm_jobsh";
    int rc = run_job_sh(d, true);
    cr_assert_eq(rc, RUNNER_EXIT_REQUEUE, "job.sh exited %d", rc);
    cr_assert_eq(tu_sh("grep -qx 'requeue 7_1' %s/scontrol.log", d), 0, "no requeue of 7_1");
    cr_assert_eq(tu_sh("grep -qx shard-content %s/shards/%s.db", d, HASHES[1]), 0,
                 "the shard was not copied back");
    cr_assert_eq(
        tu_sh("grep -q -- '--cell %s --only b/h/seed1 --db %s/tmp/vadbench-%s-[0-9]*/shard.db "
              "--mirror %s/shards/%s.db --checkpoint-dir %s/ck --threads 2$' %s/args",
              HASHES[1], d, HASHES[1], d, HASHES[1], d, d),
        0, "the task's vadbench command");
    cr_assert_eq(tu_sh("test -z \"$(ls %s/tmp)\"", d), 0, "the node-local copy was left behind");
    /* a task that ends by itself is not requeued */
    rc = run_job_sh(d, false);
    cr_assert_eq(rc, 0);
    cr_assert_eq(tu_sh("test ! -e %s/scontrol.log", d), 0);
    cr_assert_eq(tu_sh("test -s %s/shards/%s.db", d, HASHES[1]), 0);
}

static const char *TINY =
    "experiment: %s\n"
    "dataset: {source: synthetic, videos_per_class: 2, test_videos_per_class: 1, normal_factor: 2,\n"
    "          frames_per_video: 4, size: 32, val_fraction: 0.34, workers: 1,\n"
    "          clip: {frames: 2, stride: 1, window: 2}}\n"
    "holdouts:\n  - {name: h, classes: [Arson]}\n"
    "base:\n"
    "  model: {backbone: {width: 0.25, depth: 0.34}, temporal: {type: gru, hidden: 8, layers: 1},\n"
    "          feature_dim: 16, embedding_dim: 8, svdd_hidden: 8, image: 32}\n"
    "  train: {epochs: %d, batch_size: 4, checkpoint_every: 2}\n"
    "  eval: {latency_samples: 5, latency_batch: 2, batch_size: 4}\n"
    "variants:\n  a: {}\n  c: {dataset.videos_per_class: 3}\n"
    "seeds: [0, 1]\n"
    "%s";

static void write_exp(const char *path, const char *name, int epochs, const char *extra) {
    mkdir("tests/tmp", 0777);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, TINY, name, epochs, extra);
    fclose(f);
}

/* The hash `vadbench run --dry-run` prints for `label`. */
static void hash_of(const char *file, const char *label, char out[64]) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "./vadbench run %s --dry-run 2>/dev/null | grep ' %s ' | awk '{print $3}'", file,
             label);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    out[0] = 0;
    cr_assert_not_null(fgets(out, 64, p), "no hash for %s", label);
    out[strcspn(out, "\n")] = 0;
    pclose(p);
    cr_assert_eq(strlen(out), 32, "hash '%s'", out);
}

Test(slurm, experiment_slurm_section_and_command_line, .timeout = 60) {
    write_exp("tests/tmp/sl_def.yaml", "sl_def", 1,
              "slurm:\n  partition: cpu\n  time: \"2:00:00\"\n  cpus_per_task: 2\n  mem: 8G\n"
              "  array_parallelism: 1\n  grace: 60\n  sbatch_args: [--exclusive]\n");
    Experiment e;
    cr_assert_eq(experiment_load("tests/tmp/sl_def.yaml", &e), VB_OK, "%s", vb_errmsg());
    cr_assert_str_eq(e.slurm.partition, "cpu");
    cr_assert_str_eq(e.slurm.time, "2:00:00");
    cr_assert_eq(e.slurm.cpus_per_task, 2);
    cr_assert_eq(e.slurm.array_parallelism, 1);
    cr_assert_eq(e.slurm.grace_s, 60);
    cr_assert(e.slurm.nargs == 1 && !strcmp(e.slurm.args[0], "--exclusive"));
    experiment_free(&e);
    /* the section stays out of every hash */
    write_exp("tests/tmp/sl_nodef.yaml", "sl_def", 1, "");
    char h1[64], h2[64];
    hash_of("tests/tmp/sl_def.yaml", "a/h/seed0", h1);
    hash_of("tests/tmp/sl_nodef.yaml", "a/h/seed0", h2);
    cr_assert_str_eq(h1, h2);
    /* defaults from the file, the command line over them; no Slurm needed */
    tu_sh("rm -rf tests/tmp/sl_dry");
    cr_assert_eq(
        tu_sh("PATH=/nonexistent ./vadbench slurm submit tests/tmp/sl_def.yaml --dry-run --db "
              "tests/tmp/sl_dry/db --dir tests/tmp/sl_dry/subs --partition gpu "
              "--sbatch-arg=--constraint=x > tests/tmp/sl_dry.out 2>/dev/null"),
        0);
    char *out = NULL;
    size_t n = 0;
    FILE *f = fopen("tests/tmp/sl_dry.out", "r");
    cr_assert_not_null(f);
    cr_assert(getdelim(&out, &n, 0, f) > 0);
    fclose(f);
    const char *want[] = {"#SBATCH --partition=gpu",   "#SBATCH --time=2:00:00",
                          "#SBATCH --cpus-per-task=2", "#SBATCH --mem=8G",
                          "#SBATCH --array=0-3%1",     "#SBATCH --signal=B:USR1@60",
                          "#SBATCH --exclusive",       "#SBATCH --constraint=x"};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++)
        cr_assert(has_line(out, want[i]), "dry run lacks '%s':\n%s", want[i], out);
    cr_assert(strstr(out, "--threads 2 &"), "cpus_per_task is the task's thread count");
    cr_assert(strstr(out, "4 cells selected, 0 done in"));
    free(out);
    cr_assert_eq(tu_sh("test ! -e tests/tmp/sl_dry"), 0, "--dry-run wrote files");
}

Test(slurm, submit_without_slurm_is_a_clear_error) {
    write_exp("tests/tmp/sl_nosl.yaml", "sl_nosl", 1, "");
    cr_assert_eq(tu_sh("PATH=/nonexistent ./vadbench slurm submit tests/tmp/sl_nosl.yaml --db "
                       "tests/tmp/sl_nosl.db 2> tests/tmp/sl_nosl.err"),
                 2);
    cr_assert_eq(tu_sh("head -n 1 tests/tmp/sl_nosl.err | grep -q '^vadbench slurm submit: sbatch "
                       "not found: '"),
                 0);
    cr_assert_eq(tu_sh("test $(wc -l < tests/tmp/sl_nosl.err) -eq 1"), 0, "one line");
    cr_assert_eq(tu_sh("test ! -e tests/tmp/sl_nosl.db"), 0);
    /* status and cancel without submissions: exit 2 */
    cr_assert_eq(tu_sh("./vadbench slurm status --dir tests/tmp/no_subs 2>/dev/null"), 2);
    cr_assert_eq(tu_sh("./vadbench slurm 2>/dev/null"), 2);
}

Test(slurm, cell_reads_and_registers_only_its_own, .timeout = 120) {
    write_exp("tests/tmp/sl_cell.yaml", "sl_cell", 1, "");
    char hc[64];
    hash_of("tests/tmp/sl_cell.yaml", "c/h/seed1", hc);
    /* --cell with --only: one data set read (c's: 3 videos per class), one cell */
    cr_assert_eq(tu_sh("./vadbench run tests/tmp/sl_cell.yaml --cell %s --only c/h/seed1 --dry-run "
                       "> tests/tmp/sl_cell.out 2> tests/tmp/sl_cell.err",
                       hc),
                 0);
    cr_assert_eq(tu_sh("test $(grep -c 'loading data set' tests/tmp/sl_cell.err) -eq 1 && "
                       "grep -q '\"videos\":3' tests/tmp/sl_cell.err"),
                 0, "read another cell's data set");
    cr_assert_eq(tu_sh("test $(grep -c '^  run ' tests/tmp/sl_cell.out) -eq 1 && "
                       "grep -q '^  run  c/h/seed1 *%s' tests/tmp/sl_cell.out",
                       hc),
                 0);
    /* --only and --shard alone read only their variants' data sets */
    cr_assert_eq(
        tu_sh("./vadbench run tests/tmp/sl_cell.yaml --only 'a/*' --dry-run 2>&1 >/dev/null "
              "| grep -c 'loading data set' | grep -qx 1"),
        0);
    /* an unknown hash is an error naming it */
    cr_assert_eq(tu_sh("./vadbench run tests/tmp/sl_cell.yaml --cell 0000aaaa --dry-run 2> "
                       "tests/tmp/sl_cell.err2"),
                 2);
    cr_assert_eq(tu_sh("grep -q -- '--cell 0000aaaa: no cell of tests/tmp/sl_cell.yaml' "
                       "tests/tmp/sl_cell.err2"),
                 0);
    cr_assert_eq(tu_sh("./vadbench run tests/tmp/sl_cell.yaml --cell XYZ 2>/dev/null"), 2);
    /* running it registers that cell and nothing else */
    tu_sh("rm -rf tests/tmp/sl_cell_db");
    cr_assert_eq(
        tu_sh("./vadbench run tests/tmp/sl_cell.yaml --cell %s --db tests/tmp/sl_cell_db/db "
              "--quiet 2>/dev/null",
              hc),
        0);
    cr_assert_eq(
        tu_sh("test \"$(sqlite3 tests/tmp/sl_cell_db/db 'SELECT count(*), min(config_hash), "
              "min(status) FROM runs')\" = '1|%s|done'",
              hc),
        0);
    /* submit leaves the done cell out */
    cr_assert_eq(
        tu_sh("./vadbench slurm submit tests/tmp/sl_cell.yaml --dry-run --db "
              "tests/tmp/sl_cell_db/db 2>/dev/null | grep -q '4 cells selected, 1 done in'"),
        0);
}

/* The final val/test metrics and every curve point but epoch durations, as
 * lines, from a run database. */
static char *results(const char *db) {
    sqlite3 *h;
    cr_assert_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *q;
    cr_assert_eq(sqlite3_prepare_v2(
                     h,
                     "SELECT m.split, m.key, coalesce(m.step, -1), quote(m.value) FROM metrics m "
                     "WHERE (m.step IS NULL AND m.split IN ('val', 'test')) OR (m.step IS NOT "
                     "NULL AND m.key <> 'epoch_seconds') ORDER BY 1, 2, 3",
                     -1, &q, NULL),
                 SQLITE_OK);
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    out[0] = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        char line[512];
        int n = snprintf(line, sizeof line, "%s %s %lld %s\n", sqlite3_column_text(q, 0),
                         sqlite3_column_text(q, 1), (long long)sqlite3_column_int64(q, 2),
                         sqlite3_column_text(q, 3));
        if (len + (size_t)n + 1 > cap) out = realloc(out, cap *= 2);
        memcpy(out + len, line, (size_t)n + 1);
        len += (size_t)n;
    }
    sqlite3_finalize(q);
    sqlite3_close(h);
    return out;
}

Test(slurm, usr1_checkpoints_exits_75_and_resumes_to_the_same_bits, .timeout = 240) {
    write_exp("tests/tmp/sl_usr1.yaml", "sl_usr1", 6, "");
    tu_sh("rm -rf tests/tmp/sl_usr1_a tests/tmp/sl_usr1_b");
    char h[64];
    hash_of("tests/tmp/sl_usr1.yaml", "a/h/seed1", h);
    cr_assert_eq(
        tu_sh("./vadbench run tests/tmp/sl_usr1.yaml --cell %s --db tests/tmp/sl_usr1_a/db "
              "--quiet 2>/dev/null",
              h),
        0);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 2);
        execl("./vadbench", "vadbench", "run", "tests/tmp/sl_usr1.yaml", "--cell", h, "--only",
              "a/h/seed1", "--db", "tests/tmp/sl_usr1_b/db", (char *)NULL);
        _exit(127);
    }
    char ck[256];
    snprintf(ck, sizeof ck, "tests/tmp/sl_usr1_b/checkpoints/%s.ckpt", h);
    bool sent = false;
    for (int i = 0; i < 3000 && !sent; i++) {
        usleep(10000);
        if (access(ck, F_OK) == 0) {
            kill(pid, SIGUSR1); /* Slurm's warning before the time limit */
            sent = true;
        }
    }
    int status;
    waitpid(pid, &status, 0);
    cr_assert(sent, "no checkpoint appeared");
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == RUNNER_EXIT_REQUEUE,
              "after SIGUSR1 the run must exit %d (requeue), got status %d", RUNNER_EXIT_REQUEUE,
              status);
    cr_assert_eq(access(ck, F_OK), 0, "the checkpoint is kept");
    cr_assert_eq(tu_sh("test \"$(sqlite3 tests/tmp/sl_usr1_b/db 'SELECT status, attempts, "
                       "checkpoint IS NOT NULL FROM runs')\" = 'queued|1|1'"),
                 0, "the cell is given back, resumable");
    /* the requeued task: the same command */
    cr_assert_eq(tu_sh("./vadbench run tests/tmp/sl_usr1.yaml --cell %s --only a/h/seed1 --db "
                       "tests/tmp/sl_usr1_b/db 2> tests/tmp/sl_usr1_b/log",
                       h),
                 0);
    cr_assert_eq(tu_sh("grep -q 'resuming from' tests/tmp/sl_usr1_b/log"), 0);
    cr_assert_eq(tu_sh("test \"$(sqlite3 tests/tmp/sl_usr1_b/db 'SELECT status, attempts FROM "
                       "runs')\" = 'done|2'"),
                 0);
    char *a = results("tests/tmp/sl_usr1_a/db"), *b = results("tests/tmp/sl_usr1_b/db");
    cr_assert(strlen(a) > 2000, "too few metrics:\n%s", a);
    cr_assert_str_eq(a, b, "metrics differ after SIGUSR1 + resume");
    free(a), free(b);
    cr_assert_eq(tu_sh("cmp -s tests/tmp/sl_usr1_a/checkpoints/%s.safetensors "
                       "tests/tmp/sl_usr1_b/checkpoints/%s.safetensors",
                       h, h),
                 0, "final weights differ");
}

/* The exit-status decision itself: 75 only when SIGUSR1 came and work is left. */
Test(slurm, requeue_exit_needs_the_signal_and_unfinished_work) {
    RunnerSummary done = {1, 1, 0, 0, 0}, left = {2, 1, 0, 0, 0}, cut = {1, 0, 0, 0, 1};
    runner_install_signals();
    cr_assert_eq(runner_requeue_exit(&left), 0, "no signal yet");
    raise(SIGUSR1);
    cr_assert(runner_requeue_requested());
    cr_assert_eq(runner_requeue_exit(&done), 0, "everything finished: nothing to requeue");
    cr_assert_eq(runner_requeue_exit(&left), RUNNER_EXIT_REQUEUE, "a cell never started");
    cr_assert_eq(runner_requeue_exit(&cut), RUNNER_EXIT_REQUEUE, "a cell was interrupted");
}

/* A task killed outright with its node: the node-local database is lost, the
 * mirror (--mirror, written before every checkpoint) and the checkpoint on
 * shared storage remain. The requeued task starts from the mirror and ends
 * with the same metrics, curves included, as an uninterrupted run. */
Test(slurm, sigkill_with_the_local_database_lost_resumes_from_the_mirror, .timeout = 240) {
    write_exp("tests/tmp/sl_kill.yaml", "sl_kill", 6, "");
    tu_sh("rm -rf tests/tmp/sl_kill_a tests/tmp/sl_kill_b && mkdir -p tests/tmp/sl_kill_b/shared");
    char h[64];
    hash_of("tests/tmp/sl_kill.yaml", "c/h/seed0", h);
    cr_assert_eq(tu_sh("./vadbench run tests/tmp/sl_kill.yaml --cell %s --only c/h/seed0 --db "
                       "tests/tmp/sl_kill_a/db --quiet 2>/dev/null",
                       h),
                 0);
    const char *mirror = "tests/tmp/sl_kill_b/shared/shard.db";
    const char *ckdir = "tests/tmp/sl_kill_b/shared/ck";
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 2);
        execl("./vadbench", "vadbench", "run", "tests/tmp/sl_kill.yaml", "--cell", h, "--only",
              "c/h/seed0", "--db", "tests/tmp/sl_kill_b/local/db", "--mirror", mirror,
              "--checkpoint-dir", ckdir, (char *)NULL);
        _exit(127);
    }
    /* kill once the second epoch's checkpoint exists (the mirror is older
     * than the running epoch's steps, which the resumed run logs again) */
    char ck[256];
    snprintf(ck, sizeof ck, "%s/%s.ckpt", ckdir, h);
    bool killed = false;
    for (int i = 0; i < 3000 && !killed; i++) {
        usleep(10000);
        if (tu_sh("n=$(sqlite3 %s \"SELECT count(*) FROM metrics WHERE key = 'epoch_loss'\" "
                  "2>/dev/null); test \"${n:-0}\" -ge 2",
                  mirror) == 0 &&
            access(ck, F_OK) == 0) {
            usleep(50000);
            kill(pid, SIGKILL);
            killed = true;
        }
    }
    int status;
    waitpid(pid, &status, 0);
    cr_assert(killed && WIFSIGNALED(status), "the run ended before it could be killed");
    /* the node is gone: its database with it */
    tu_sh("rm -rf tests/tmp/sl_kill_b/local && mkdir -p tests/tmp/sl_kill_b/local && cp %s "
          "tests/tmp/sl_kill_b/local/db",
          mirror);
    cr_assert_eq(tu_sh("./vadbench run tests/tmp/sl_kill.yaml --cell %s --only c/h/seed0 --db "
                       "tests/tmp/sl_kill_b/local/db --mirror %s --checkpoint-dir %s 2> "
                       "tests/tmp/sl_kill_b/log",
                       h, mirror, ckdir),
                 0);
    cr_assert_eq(tu_sh("grep -q 'resuming from' tests/tmp/sl_kill_b/log"), 0);
    char *a = results("tests/tmp/sl_kill_a/db"), *b = results("tests/tmp/sl_kill_b/local/db");
    cr_assert(strlen(a) > 2000);
    cr_assert_str_eq(a, b, "metrics differ after SIGKILL + resume from the mirror");
    free(a), free(b);
    cr_assert_eq(
        tu_sh("test \"$(sqlite3 tests/tmp/sl_kill_b/local/db 'SELECT status, attempts FROM "
              "runs')\" = 'done|2'"),
        0);
}
