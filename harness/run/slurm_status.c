/* slurm_status: submission records, status, cancel and wait (slurm_status.h). */
#include "harness/run/slurm_status.h"

#include <dirent.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness/run/slurm_sys.h"
#include "harness/store/store.h"

/* ---- the record ---- */

typedef struct RecField {
    const char *key;
    char **val;
} RecField;
#define NFIELDS 15

/* The record's string fields with their JSON keys. */
static void fields(SlurmRecord *r, RecField f[NFIELDS]) {
    const RecField x[NFIELDS] = {{"experiment", &r->experiment},
                                 {"submission", &r->submission},
                                 {"created", &r->created},
                                 {"command", &r->command},
                                 {"directory", &r->subdir},
                                 {"source_file", &r->source_file},
                                 {"file", &r->file},
                                 {"db", &r->db},
                                 {"shard_dir", &r->shard_dir},
                                 {"checkpoint_dir", &r->checkpoint_dir},
                                 {"log_dir", &r->log_dir},
                                 {"report_dir", &r->report_dir},
                                 {"status_file", &r->status_file},
                                 {"array_job", &r->array_job},
                                 {"merge_job", &r->merge_job}};
    memcpy(f, x, sizeof x);
}

VbStatus slurm_record_write(const SlurmRecord *r) {
    RecField f[NFIELDS];
    fields((SlurmRecord *)r, f);
    json_t *j = json_object();
    for (size_t i = 0; i < NFIELDS; i++)
        json_object_set_new(j, f[i].key, *f[i].val ? json_string(*f[i].val) : json_null());
    json_t *cells = json_array();
    for (int i = 0; i < r->ncells; i++)
        json_array_append_new(cells, json_pack("{s:i, s:s, s:s}", "task", i, "hash", r->hashes[i],
                                               "label", r->labels[i]));
    json_object_set_new(j, "cells", cells);
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(j);
    char path[4200];
    snprintf(path, sizeof path, "%s/submission.json", r->subdir);
    SlurmBuf b = {0};
    slurm_buf_printf(&b, "%s\n", text);
    free(text);
    VbStatus s = slurm_write_file(path, b.s, 0644);
    free(b.s);
    return s;
}

VbStatus slurm_record_read(const char *subdir, SlurmRecord *r) {
    memset(r, 0, sizeof *r);
    char path[4200];
    snprintf(path, sizeof path, "%s/submission.json", subdir);
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    if (!j) return vb_fail_plain(VB_ERR_INPUT, "%s: not a submission record: %s", path, e.text);
    RecField f[NFIELDS];
    fields(r, f);
    for (size_t i = 0; i < NFIELDS; i++) {
        const char *v = json_string_value(json_object_get(j, f[i].key));
        *f[i].val = v ? vb_xstrdup(v) : NULL;
    }
    json_t *cells = json_object_get(j, "cells");
    size_t n = json_array_size(cells);
    VbStatus st = VB_OK;
    if (!r->experiment || !r->subdir || !r->db || !r->shard_dir || !r->status_file || n == 0) {
        st = vb_fail_plain(VB_ERR_INPUT, "%s: incomplete submission record", path);
        goto out;
    }
    r->hashes = vb_xcalloc(n, sizeof *r->hashes);
    r->labels = vb_xcalloc(n, sizeof *r->labels);
    for (size_t i = 0; i < n; i++) {
        const char *h = json_string_value(json_object_get(json_array_get(cells, i), "hash"));
        const char *l = json_string_value(json_object_get(json_array_get(cells, i), "label"));
        if (!h || !l) {
            st = vb_fail_plain(VB_ERR_INPUT, "%s: cell %zu has no hash or label", path, i);
            goto out;
        }
        r->hashes[i] = vb_xstrdup(h);
        r->labels[i] = vb_xstrdup(l);
        r->ncells++;
    }
out:
    json_decref(j);
    if (st != VB_OK) slurm_record_free(r);
    return st;
}

void slurm_record_free(SlurmRecord *r) {
    RecField f[NFIELDS];
    fields(r, f);
    for (size_t i = 0; i < NFIELDS; i++) free(*f[i].val);
    for (int i = 0; i < r->ncells; i++) free(r->hashes[i]), free(r->labels[i]);
    free(r->hashes), free(r->labels);
    memset(r, 0, sizeof *r);
}

/* ---- finding a submission ---- */

static bool is_submission(const char *dir) {
    char p[4200];
    snprintf(p, sizeof p, "%s/submission.json", dir);
    return access(p, R_OK) == 0;
}

/* The newest submission id (ids sort by time) in root/exp, or under every
 * experiment of root when exp is NULL; "" when there is none. */
static void newest(const char *root, const char *exp, char *best, size_t n) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s%s%s", root, exp ? "/" : "", exp ? exp : "");
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char sub[4400];
        snprintf(sub, sizeof sub, "%s/%s", dir, de->d_name);
        if (exp) {
            const char *cur = strrchr(best, '/');
            if (is_submission(sub) && (!*best || strcmp(de->d_name, cur ? cur + 1 : best) > 0))
                snprintf(best, n, "%s", sub);
        } else {
            newest(root, de->d_name, best, n);
        }
    }
    closedir(d);
}

VbStatus slurm_find_submission(const char *root, const char *spec, char **subdir) {
    *subdir = NULL;
    if (!root) root = "results/slurm";
    char cand[4400] = "";
    if (!spec) {
        newest(root, NULL, cand, sizeof cand);
        if (!*cand)
            return vb_fail_plain(VB_ERR_INPUT,
                                 "%s: no submissions here (`vadbench slurm submit` "
                                 "makes them; --dir names another place)",
                                 root);
    } else if (is_submission(spec)) {
        snprintf(cand, sizeof cand, "%s", spec);
    } else {
        char p[4400];
        snprintf(p, sizeof p, "%s/%s", root, spec);
        if (is_submission(p)) snprintf(cand, sizeof cand, "%s", p);
        else newest(root, spec, cand, sizeof cand); /* an experiment name */
        if (!*cand && !strchr(spec, '/')) {         /* an id under any experiment */
            DIR *d = opendir(root);
            struct dirent *de;
            while (d && (de = readdir(d)) && !*cand) {
                snprintf(p, sizeof p, "%s/%s/%s", root, de->d_name, spec);
                if (de->d_name[0] != '.' && is_submission(p)) snprintf(cand, sizeof cand, "%s", p);
            }
            if (d) closedir(d);
        }
        if (!*cand)
            return vb_fail_plain(VB_ERR_INPUT,
                                 "no submission '%s' under %s (give EXPERIMENT, EXPERIMENT/ID, an "
                                 "ID or a submission directory)",
                                 spec, root);
    }
    *subdir = vb_xstrdup(cand);
    return VB_OK;
}

/* ---- squeue ---- */

typedef struct QTask {
    int task;
    char state[32], reason[64], node[128], job[64];
    int restarts;
} QTask;

/* Array tasks of job `id` still known to squeue (*n = -1 when squeue failed). */
static void squeue_tasks(const char *id, QTask **out, int *n, char **why) {
    *out = NULL;
    *n = 0;
    char *argv[] = {"squeue",
                    "-h",
                    "-r",
                    "-j",
                    (char *)id,
                    "-O",
                    "JobArrayID:|,ArrayTaskID:|,State:|,Reason:|,NodeList:|,RestartCnt:|",
                    NULL};
    char *text = NULL, *err = NULL;
    int rc;
    if (slurm_run(argv, &text, &err, &rc) != VB_OK) {
        *n = -1;
        *why = vb_xstrdup(vb_errmsg());
        vb_clear_error();
        return;
    }
    if (rc != 0) {
        /* a job that left the controller's memory is "Invalid job id": gone */
        if (!strstr(err, "Invalid job id")) {
            *n = -1;
            *why = vb_xstrdup(err);
        }
        free(text), free(err);
        return;
    }
    int cap = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *f[6] = {0};
        int k = 0;
        for (char *p = line; k < 6; k++) {
            f[k] = p;
            char *bar = strchr(p, '|');
            if (!bar) break;
            *bar = 0;
            p = bar + 1;
        }
        if (k < 5) continue;
        if (*n == cap) *out = vb_xrealloc(*out, (size_t)(cap = cap ? 2 * cap : 16) * sizeof **out);
        QTask *q = &(*out)[(*n)++];
        memset(q, 0, sizeof *q);
        snprintf(q->job, sizeof q->job, "%s", f[0]);
        q->task = strcmp(f[1], "N/A") ? atoi(f[1]) : -1;
        snprintf(q->state, sizeof q->state, "%s", f[2]);
        snprintf(q->reason, sizeof q->reason, "%s", f[3]);
        snprintf(q->node, sizeof q->node, "%s", f[4]);
        q->restarts = atoi(f[5]);
    }
    free(text), free(err);
}

static bool alive_state(const char *s) {
    return !strcmp(s, "PENDING") || !strcmp(s, "RUNNING") || !strcmp(s, "CONFIGURING") ||
           !strcmp(s, "COMPLETING") || !strcmp(s, "SUSPENDED") || !strcmp(s, "REQUEUED") ||
           !strcmp(s, "REQUEUE_HOLD") || !strcmp(s, "REQUEUE_FED") || !strcmp(s, "RESIZING") ||
           !strcmp(s, "SIGNALING") || !strcmp(s, "STAGE_OUT");
}

/* ---- status ---- */

typedef struct ShardInfo {
    bool have;
    StoreStatus status;
    int attempts;
    char node[128], error[160];
} ShardInfo;

static void shard_info(const SlurmRecord *r, int i, ShardInfo *si) {
    memset(si, 0, sizeof *si);
    char path[4400];
    snprintf(path, sizeof path, "%s/%s.db", r->shard_dir, r->hashes[i]);
    if (access(path, R_OK) != 0) return;
    Store *st;
    if (store_open(path, STORE_EXISTING, &st) != VB_OK) {
        snprintf(si->error, sizeof si->error, "unreadable shard: %s", vb_errmsg());
        vb_clear_error();
        return;
    }
    StoreRunList l;
    if (store_list_runs(st, NULL, &l) == VB_OK) {
        for (int k = 0; k < l.n; k++) {
            const StoreRun *x = &l.runs[k];
            if (!x->config_hash || strcmp(x->config_hash, r->hashes[i])) continue;
            si->have = true;
            si->status = x->status;
            si->attempts = x->attempts;
            snprintf(si->node, sizeof si->node, "%s",
                     x->slurm_node ? x->slurm_node
                     : x->host     ? x->host
                                   : "");
            if (x->error) snprintf(si->error, sizeof si->error, "%s", x->error);
        }
        store_run_list_free(&l);
    }
    vb_clear_error();
    store_close(st);
}

static void merge_line(const SlurmRecord *r, FILE *out) {
    char *text = NULL;
    if (slurm_read_file(r->status_file, &text) == VB_OK) {
        fprintf(out, "merge job %s: ended, exit %d%s\n", r->merge_job ? r->merge_job : "-",
                atoi(text), atoi(text) == 0 ? " (every cell done and merged)" : "");
        free(text);
        return;
    }
    vb_clear_error();
    if (!r->merge_job) {
        fprintf(out, "merge job: not submitted\n");
        return;
    }
    QTask *q;
    int n;
    char *why = NULL;
    squeue_tasks(r->merge_job, &q, &n, &why);
    if (n < 0) fprintf(out, "merge job %s: unknown (squeue: %s)\n", r->merge_job, why);
    else if (n == 0)
        fprintf(out, "merge job %s: ended without a status (cancelled?)\n", r->merge_job);
    else
        fprintf(out, "merge job %s: %s%s%s%s\n", r->merge_job, q[0].state, *q[0].reason ? " (" : "",
                q[0].reason, *q[0].reason ? ")" : "");
    free(q), free(why);
}

VbStatus slurm_print_status(const char *subdir, FILE *out) {
    SlurmRecord r;
    VB_TRY(slurm_record_read(subdir, &r));
    QTask *q = NULL;
    int nq = 0;
    char *why = NULL;
    if (r.array_job) squeue_tasks(r.array_job, &q, &nq, &why);
    fprintf(out, "submission %s/%s (%s), %d cells, array job %s\n", r.experiment, r.submission,
            r.subdir, r.ncells, r.array_job ? r.array_job : "not submitted");
    if (nq < 0) fprintf(out, "squeue failed (%s): queue states unknown\n", why);
    fprintf(out, "%-5s %-36s %-12s %-10s %-9s %-12s %s\n", "task", "cell", "hash", "state", "job",
            "node", "attempts / note");
    int count[6] = {0}; /* pending running done failed requeued unknown */
    static const char *names[6] = {"pending", "running", "done", "failed", "requeued", "unknown"};
    for (int i = 0; i < r.ncells; i++) {
        const QTask *t = NULL;
        for (int k = 0; k < nq; k++)
            if (q[k].task == i) t = &q[k];
        ShardInfo si;
        shard_info(&r, i, &si);
        int s;
        char note[256] = "", job[80], node[128];
        snprintf(job, sizeof job, "%s_%d", r.array_job ? r.array_job : "-", i);
        snprintf(node, sizeof node, "%s", si.node);
        if (t && alive_state(t->state)) {
            bool run = strcmp(t->state, "PENDING") != 0;
            s = run ? 1 : t->restarts > 0 ? 4 : 0;
            snprintf(note, sizeof note, "attempt %d, %s", t->restarts + 1,
                     run ? t->state : t->reason);
            if (run) snprintf(node, sizeof node, "%s", t->node);
        } else if (si.have && si.status == STORE_DONE) {
            s = 2;
            snprintf(note, sizeof note, "%d", si.attempts);
        } else if (si.have && si.status == STORE_FAILED) {
            s = 3;
            snprintf(note, sizeof note, "%d: %s", si.attempts, si.error);
        } else if (nq < 0) {
            s = 5;
        } else {
            s = 3;
            snprintf(note, sizeof note, "task ended, cell %s (see %s/%s_%d.out)%s%s",
                     si.have ? store_status_name(si.status) : "has no shard", r.log_dir,
                     r.array_job ? r.array_job : "-", i, *si.error ? ": " : "", si.error);
        }
        count[s]++;
        fprintf(out, "%-5d %-36s %-12.12s %-10s %-9s %-12s %s\n", i, r.labels[i], r.hashes[i],
                names[s], job, *node ? node : "-", note);
    }
    fprintf(out, "cells: %d done, %d running, %d pending, %d requeued, %d failed%s\n", count[2],
            count[1], count[0], count[4], count[3], count[5] ? ", some unknown" : "");
    merge_line(&r, out);
    free(q), free(why);
    slurm_record_free(&r);
    return VB_OK;
}

VbStatus slurm_cancel(const char *subdir, FILE *out) {
    SlurmRecord r;
    VB_TRY(slurm_record_read(subdir, &r));
    VbStatus st = VB_OK;
    if (!r.array_job && !r.merge_job) {
        fprintf(out, "submission %s/%s: no jobs were submitted\n", r.experiment, r.submission);
    } else {
        char *argv[4] = {"scancel", r.array_job ? r.array_job : r.merge_job,
                         r.array_job ? r.merge_job : NULL, NULL};
        char *err = NULL;
        int rc;
        st = slurm_run(argv, NULL, &err, &rc);
        if (st == VB_OK && rc != 0 && !strstr(err, "Invalid job id"))
            st = vb_fail_plain(VB_ERR_IO, "scancel %s %s failed: %s", argv[1],
                               argv[2] ? argv[2] : "", err);
        if (st == VB_OK)
            fprintf(out, "submission %s/%s: cancelled array job %s and merge job %s\n",
                    r.experiment, r.submission, r.array_job ? r.array_job : "-",
                    r.merge_job ? r.merge_job : "-");
        free(err);
    }
    slurm_record_free(&r);
    return st;
}

VbStatus slurm_wait(const SlurmRecord *r, double poll_s, double timeout_s, int *exit_code) {
    *exit_code = 1;
    time_t t0 = time(NULL), failing_since = 0;
    for (;;) {
        char *text = NULL;
        if (slurm_read_file(r->status_file, &text) == VB_OK) {
            *exit_code = atoi(text);
            free(text);
            return VB_OK;
        }
        vb_clear_error();
        QTask *q;
        int n;
        char *why = NULL;
        squeue_tasks(r->merge_job, &q, &n, &why);
        bool alive = false;
        for (int k = 0; k < n; k++) alive |= alive_state(q[k].state);
        free(q);
        if (n < 0) {
            if (!failing_since) failing_since = time(NULL);
            if (time(NULL) - failing_since > 60) {
                VbStatus s = vb_fail_plain(VB_ERR_IO,
                                           "squeue has failed for a minute while waiting for merge "
                                           "job %s: %s",
                                           r->merge_job, why);
                free(why);
                return s;
            }
        } else {
            failing_since = 0;
        }
        free(why);
        if (n >= 0 && !alive) {
            /* it may have written its status just before leaving the queue */
            if (slurm_read_file(r->status_file, &text) == VB_OK) {
                *exit_code = atoi(text);
                free(text);
                return VB_OK;
            }
            vb_clear_error();
            fprintf(stderr,
                    "vadbench slurm: merge job %s ended without writing %s (cancelled, or its "
                    "dependency could not be met); see %s\n",
                    r->merge_job, r->status_file, r->log_dir);
            *exit_code = 1;
            return VB_OK;
        }
        if (timeout_s > 0 && difftime(time(NULL), t0) > timeout_s)
            return vb_fail_plain(VB_ERR_IO, "gave up waiting for merge job %s after %.0f s",
                                 r->merge_job, timeout_s);
        struct timespec ts = {(time_t)poll_s, (long)((poll_s - (time_t)poll_s) * 1e9)};
        nanosleep(&ts, NULL);
    }
}
