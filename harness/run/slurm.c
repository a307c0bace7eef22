/* slurm: plan, write and submit a Slurm job array per experiment file (slurm.h). */
#include "harness/run/slurm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness/run/plan.h"
#include "harness/run/slurm_sys.h"
#include "harness/store/store.h"
#include "kernels/kernels.h"

#define DEFAULT_GRACE_S 120

/* `path` made absolute against the working directory (no symlinks resolved,
 * so it need not exist yet). Malloc'ed. */
static char *absolute(const char *path) {
    if (path[0] == '/') return vb_xstrdup(path);
    char cwd[4096];
    if (!getcwd(cwd, sizeof cwd)) snprintf(cwd, sizeof cwd, ".");
    SlurmBuf b = {0};
    slurm_buf_printf(&b, "%s/%s", cwd, strncmp(path, "./", 2) == 0 ? path + 2 : path);
    return b.s;
}

static char *joinp(const char *a, const char *b) {
    SlurmBuf s = {0};
    slurm_buf_printf(&s, "%s/%s", a, b);
    return s.s;
}

/* The config hashes already done in the main database (none if it does not
 * exist yet). */
static VbStatus done_hashes(const char *db, const char *experiment, StoreRunList *done) {
    memset(done, 0, sizeof *done);
    if (access(db, F_OK) != 0) return VB_OK;
    Store *st;
    VB_TRY(store_open(db, STORE_EXISTING, &st));
    StoreRunFilter f = {experiment, true, STORE_DONE};
    VbStatus s = store_list_runs(st, &f, done);
    VbStatus c = store_close(st);
    return s != VB_OK ? s : c;
}

static bool is_done(const StoreRunList *done, const char *hash) {
    for (int i = 0; i < done->n; i++)
        if (done->runs[i].config_hash && !strcmp(done->runs[i].config_hash, hash)) return true;
    return false;
}

/* A new submission id under root/experiment: the UTC time, -N if taken. */
static void submission_id(const char *expdir, char *id, size_t n) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y%m%d-%H%M%S", &tm);
    snprintf(id, n, "%s", base);
    for (int k = 2;; k++) {
        char p[4400];
        snprintf(p, sizeof p, "%s/%s", expdir, id);
        if (access(p, F_OK) != 0) return;
        snprintf(id, n, "%s-%d", base, k);
    }
}

/* sbatch --parsable [extra] SCRIPT → the job id. */
static VbStatus sbatch(const char *script, const char *dependency, char **id) {
    *id = NULL;
    char dep[128];
    char *argv[5] = {"sbatch", "--parsable", (char *)script, NULL, NULL};
    if (dependency) {
        snprintf(dep, sizeof dep, "--dependency=afterany:%s", dependency);
        argv[2] = dep;
        argv[3] = (char *)script;
    }
    char *out = NULL, *err = NULL;
    int rc;
    VB_TRY(slurm_run(argv, &out, &err, &rc));
    VbStatus s = VB_OK;
    size_t n = strspn(out, "0123456789");
    if (rc != 0 || n == 0)
        s = vb_fail_plain(VB_ERR_IO, "sbatch %s failed (exit %d): %s", script, rc,
                          *err ? err : out);
    else *id = vb_xstrdup(out), (*id)[n] = 0; /* "12" or "12;cluster" */
    free(out), free(err);
    return s;
}

/* The sbatch settings: the command line over the file's `slurm:` section. */
static void resolve(SlurmJob *j, const SlurmOptions *o, const ExpSlurm *f, const char **args,
                    int *nargs) {
#define PICK(x) (o->x && *o->x ? o->x : f->x)
    j->partition = PICK(partition);
    j->time = PICK(time);
    j->mem = PICK(mem);
    j->account = PICK(account);
    j->qos = PICK(qos);
    j->gpus_per_task = PICK(gpus_per_task);
#undef PICK
    j->cpus_per_task = o->cpus_per_task > 0 ? o->cpus_per_task : f->cpus_per_task;
    j->array_parallelism = o->array_parallelism > 0 ? o->array_parallelism : f->array_parallelism;
    j->grace_s = o->grace_s > 0 ? o->grace_s : f->grace_s > 0 ? f->grace_s : DEFAULT_GRACE_S;
    *nargs = 0;
    for (int i = 0; i < f->nargs; i++) args[(*nargs)++] = f->args[i];
    for (int i = 0; i < o->nsbatch_args; i++) args[(*nargs)++] = o->sbatch_args[i];
    j->args = args;
    j->nargs = *nargs;
    j->backend = o->backend != RUNNER_BACKEND_AS_WRITTEN ? kbackend_names[o->backend] : NULL;
    j->threads = o->threads;
}

static VbStatus copy_file(const char *from, const char *to) {
    char *text;
    VB_TRY(slurm_read_file(from, &text));
    VbStatus s = slurm_write_file(to, text, 0644);
    free(text);
    return s;
}

/* Write the submission's files and submit its two jobs; r->array_job and
 * r->merge_job are set on success. */
static VbStatus write_and_submit(SlurmRecord *r, const char *job_sh, const char *merge_sh) {
    const char *dirs[] = {r->subdir, r->log_dir, r->shard_dir, r->checkpoint_dir};
    for (int i = 0; i < 4; i++) VB_TRY(slurm_mkdirs(dirs[i]));
    VB_TRY(copy_file(r->source_file, r->file));
    VbStatus st = VB_OK;
    char *jp = joinp(r->subdir, "job.sh"), *mp = joinp(r->subdir, "merge.sh");
    VB_CHECK(slurm_write_file(jp, job_sh, 0755));
    VB_CHECK(slurm_write_file(mp, merge_sh, 0755));
    VB_CHECK(slurm_record_write(r));
    VB_CHECK(sbatch(jp, NULL, &r->array_job));
    if (sbatch(mp, r->array_job, &r->merge_job) != VB_OK) {
        /* no merge job: do not leave the array running unmerged */
        char *argv[] = {"scancel", r->array_job, NULL};
        int rc;
        char msg[2048];
        snprintf(msg, sizeof msg, "%s", vb_errmsg());
        slurm_run(argv, NULL, NULL, &rc);
        st = vb_fail_plain(VB_ERR_IO, "%s (array job %s cancelled)", msg, r->array_job);
        goto out;
    }
    VB_CHECK(slurm_record_write(r));
out:
    free(jp), free(mp);
    return st;
}

static VbStatus submit_file(const char *file, const SlurmOptions *o, DataCache *dc, SlurmRecord *r,
                            bool *submitted) {
    *submitted = false;
    memset(r, 0, sizeof *r);
    RunnerOptions ro = {0};
    ro.only = o->only, ro.backend = o->backend, ro.quiet = o->quiet;
    Plan p;
    VB_TRY(runplan_files(&file, 1, &ro, dc, &p));
    VbStatus st = VB_OK;
    int n = 0, nsel = 0;
    const char **hashes = NULL;
    char **labels = NULL, *root = NULL, *expdir = NULL, *job_sh = NULL, *merge_sh = NULL;
    char *db = absolute(o->db ? o->db : store_default_path());
    StoreRunList done;
    VB_CHECK(done_hashes(db, p.e.name, &done));
    hashes = vb_xcalloc((size_t)p.ncells, sizeof *hashes);
    labels = vb_xcalloc((size_t)p.ncells, sizeof *labels);
    for (int i = 0; i < p.ncells; i++) {
        if (!p.selected[i]) continue;
        nsel++;
        if (is_done(&done, p.cells[i].hash)) continue;
        labels[n] = vb_xmalloc(256);
        runplan_label(&p.e, &p.cells[i], labels[n], 256);
        hashes[n++] = p.cells[i].hash;
    }
    if (n == 0) {
        fprintf(stderr,
                "vadbench slurm: %s: all %d selected cells are done in %s; nothing to "
                "submit\n",
                p.e.name, nsel, db);
        goto out;
    }
    root = absolute(o->dir ? o->dir : "results/slurm");
    expdir = joinp(root, p.e.name);
    char id[64];
    submission_id(expdir, id, sizeof id);
    char self[4096];
    ssize_t k = readlink("/proc/self/exe", self, sizeof self - 1);
    self[k > 0 ? k : 0] = 0;
    r->experiment = vb_xstrdup(p.e.name);
    r->submission = vb_xstrdup(id);
    r->command = vb_xstrdup(o->command ? o->command : "vadbench slurm submit");
    r->subdir = joinp(expdir, id);
    r->source_file = absolute(file);
    r->file = joinp(r->subdir, "experiment.yaml");
    r->db = vb_xstrdup(db);
    r->shard_dir = joinp(r->subdir, "shards");
    r->log_dir = joinp(r->subdir, "logs");
    r->checkpoint_dir =
        o->checkpoint_dir ? absolute(o->checkpoint_dir) : joinp(r->subdir, "checkpoints");
    if (o->report_dir) r->report_dir = absolute(o->report_dir);
    else {
        char rel[256];
        snprintf(rel, sizeof rel, "reports/%s", p.e.name);
        r->report_dir = absolute(rel);
    }
    r->status_file = joinp(r->subdir, "merge.status");
    /* #SBATCH lines are split at white space */
    if (strpbrk(r->subdir, " \t\n'\"\\")) {
        st = vb_fail_plain(VB_ERR_USAGE,
                           "%s: the submission directory's path must not contain white space "
                           "or quotes (#SBATCH lines cannot hold them); choose --dir",
                           r->subdir);
        goto out;
    }
    char created[32];
    time_t t = time(NULL);
    strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    r->created = vb_xstrdup(created);
    r->ncells = n;
    r->hashes = vb_xcalloc((size_t)n, sizeof *r->hashes);
    r->labels = vb_xcalloc((size_t)n, sizeof *r->labels);
    for (int i = 0; i < n; i++)
        r->hashes[i] = vb_xstrdup(hashes[i]), r->labels[i] = vb_xstrdup(labels[i]);
    const char *args[2 * EXP_SLURM_MAX_ARGS + 64];
    int nargs;
    SlurmJob j = {0};
    VB_ASSERT(o->nsbatch_args <= 64);
    resolve(&j, o, &p.e.slurm, args, &nargs);
    j.experiment = r->experiment, j.submission = r->submission, j.command = r->command;
    j.vadbench = k > 0 ? self : "vadbench";
    j.subdir = r->subdir, j.file = r->file, j.db = r->db, j.shard_dir = r->shard_dir;
    j.checkpoint_dir = r->checkpoint_dir, j.log_dir = r->log_dir;
    j.report_dir = r->report_dir, j.status_file = r->status_file;
    j.ncells = n, j.hashes = (const char *const *)r->hashes;
    j.labels = (const char *const *)r->labels;
    job_sh = slurm_array_script(&j), merge_sh = slurm_merge_script(&j);
    if (o->dry_run) {
        printf("# ---- %s/job.sh ----\n%s\n# ---- %s/merge.sh ----\n%s\n", r->subdir, job_sh,
               r->subdir, merge_sh);
        printf("experiment %s: %d cells selected, %d done in %s, %d to submit "
               "(dry run: nothing submitted)\n",
               p.e.name, nsel, nsel - n, db, n);
        for (int i = 0; i < n; i++) printf("  task %-4d %-40s %s\n", i, labels[i], hashes[i]);
    } else {
        VB_CHECK(write_and_submit(r, job_sh, merge_sh));
        *submitted = true;
        if (!o->quiet) {
            printf("vadbench slurm: submitted %s/%s: array job %s (%d tasks: %d of %d "
                   "selected cells; %d already done), merge job %s (afterany:%s)\n",
                   r->experiment, r->submission, r->array_job, n, n, nsel, nsel - n, r->merge_job,
                   r->array_job);
            printf("  directory %s\n  watch     vadbench slurm status %s/%s%s%s\n", r->subdir,
                   r->experiment, r->submission, o->dir ? " --dir " : "", o->dir ? o->dir : "");
        }
    }
out:
    free(job_sh), free(merge_sh), free(root), free(expdir);
    for (int i = 0; i < n; i++) free(labels[i]);
    free(labels), free(hashes), free(db);
    store_run_list_free(&done);
    runplan_free(&p);
    return st;
}

VbStatus slurm_submit(const char *const *files, int nfiles, const SlurmOptions *o, int *exit_code) {
    *exit_code = 0;
    if (!o->dry_run) {
        char *path;
        VB_TRY(slurm_find_program("sbatch", &path));
        free(path);
    }
    VbStatus st = VB_OK;
    DataCache dc = {0};
    SlurmRecord *recs = vb_xcalloc((size_t)nfiles, sizeof *recs);
    bool *sub = vb_xcalloc((size_t)nfiles, sizeof *sub);
    for (int i = 0; i < nfiles && st == VB_OK; i++)
        st = submit_file(files[i], o, &dc, &recs[i], &sub[i]);
    data_free(&dc); /* before any waiting: the data sets are not needed any more */
    if (st != VB_OK) goto out;
    for (int i = 0; i < nfiles && o->wait; i++) {
        if (!sub[i]) continue;
        if (!o->quiet)
            fprintf(stderr, "vadbench slurm: waiting for merge job %s of %s/%s\n",
                    recs[i].merge_job, recs[i].experiment, recs[i].submission);
        int rc;
        VB_CHECK(slurm_wait(&recs[i], 2.0, o->wait_timeout_s, &rc));
        if (!o->quiet)
            fprintf(stderr, "vadbench slurm: merge job %s of %s/%s ended with exit %d\n",
                    recs[i].merge_job, recs[i].experiment, recs[i].submission, rc);
        if (rc > *exit_code) *exit_code = rc;
    }
out:
    for (int i = 0; i < nfiles; i++) slurm_record_free(&recs[i]);
    free(recs), free(sub);
    return st;
}
