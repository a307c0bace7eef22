/* cmd_runs: the browsing commands of the results store.
 *
 *   runs    one line per run (id, experiment, variant, holdout, seed,
 *           status, key final metrics, wall time, hash, error) as an aligned
 *           table, or CSV / JSON carrying every final metric
 *   show    one run: config, provenance, final metrics, curves, timings,
 *           latency percentiles (text or JSON); RUN is an id or a hash prefix
 *   export  one row per run with provenance and every final metric as its
 *           own column, CSV or JSON, for pandas and spreadsheets
 *
 * They only read (a store at an older schema version is migrated on open);
 * the database must exist. CSV follows RFC 4180 quoting; JSON is written by
 * jansson. Exit status: 0 ok (also when nothing matches: a friendly line),
 * 2 bad usage, a missing or unreadable database. */
#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/cli/cli.h"
#include "harness/cli/commands.h"
#include "harness/store/store.h"

#define KEY_METRICS 4 /* metric columns of the `runs` table */

typedef enum OutFormat { FMT_TABLE, FMT_CSV, FMT_JSON } OutFormat;

static bool parse_format(const char *s, bool allow_table, OutFormat *f) {
    if (allow_table && (strcmp(s, "table") == 0 || strcmp(s, "text") == 0)) *f = FMT_TABLE;
    else if (strcmp(s, "csv") == 0) *f = FMT_CSV;
    else if (strcmp(s, "json") == 0) *f = FMT_JSON;
    else return false;
    return true;
}

/* ---- cells to text and JSON ----------------------------------------------- */

/* Text of a cell for CSV (full precision) or the table (`brief`). NULL -> "". */
static void cell_text(const StoreValue *v, bool brief, char *buf, size_t size) {
    switch (v->type) {
    case STORE_NULL: buf[0] = 0; break;
    case STORE_INT: snprintf(buf, size, "%lld", (long long)v->i); break;
    case STORE_REAL:
        if (brief && isfinite(v->r)) snprintf(buf, size, "%.4g", v->r);
        else store_format_real(v->r, buf, (int)size);
        break;
    case STORE_TEXT: snprintf(buf, size, "%s", v->s); break;
    }
}

/* A JSON string, or null for NULL (and for text that is not UTF-8). */
static json_t *jstr(const char *s) {
    json_t *j = s ? json_string(s) : NULL;
    return j ? j : json_null();
}

static json_t *cell_json(const StoreValue *v) {
    switch (v->type) {
    case STORE_INT: return json_integer((json_int_t)v->i);
    case STORE_REAL: return isfinite(v->r) ? json_real(v->r) : json_null();
    case STORE_TEXT: return jstr(v->s);
    default: return json_null();
    }
}

/* One CSV field, quoted when it holds a separator, quote, line break or
 * surrounding blanks (RFC 4180: quotes doubled). */
static void csv_field(FILE *f, const char *s) {
    size_t n = strlen(s);
    bool quote = n > 0 && (isspace((unsigned char)s[0]) || isspace((unsigned char)s[n - 1]));
    for (const char *p = s; *p && !quote; p++) quote = strchr(",\"\r\n", *p) != NULL;
    if (!quote) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (const char *p = s; *p; p++) {
        if (*p == '"') fputc('"', f);
        fputc(*p, f);
    }
    fputc('"', f);
}

/* Print columns cols[0..ncols) of table t as CSV or JSON. */
static void print_machine(const StoreTable *t, const int *cols, int ncols, OutFormat fmt) {
    if (fmt == FMT_CSV) {
        for (int c = 0; c < ncols; c++) {
            if (c) fputc(',', stdout);
            csv_field(stdout, t->columns[cols[c]]);
        }
        fputc('\n', stdout);
        char buf[4096];
        for (int r = 0; r < t->nrows; r++) {
            for (int c = 0; c < ncols; c++) {
                if (c) fputc(',', stdout);
                const StoreValue *v = store_cell(t, r, cols[c]);
                if (v->type == STORE_TEXT) csv_field(stdout, v->s);
                else cell_text(v, false, buf, sizeof buf), csv_field(stdout, buf);
            }
            fputc('\n', stdout);
        }
        return;
    }
    json_t *arr = json_array();
    for (int r = 0; r < t->nrows; r++) {
        json_t *o = json_object();
        for (int c = 0; c < ncols; c++)
            json_object_set_new(o, t->columns[cols[c]], cell_json(store_cell(t, r, cols[c])));
        json_array_append_new(arr, o);
    }
    char *txt = json_dumps(arr, JSON_INDENT(2));
    printf("%s\n", txt ? txt : "[]");
    free(txt);
    json_decref(arr);
}

static int find_col(const StoreTable *t, const char *name) {
    for (int c = 0; c < t->ncols; c++)
        if (strcmp(t->columns[c], name) == 0) return c;
    VB_ASSERT(!"export column missing");
    return -1;
}

/* ---- runs ------------------------------------------------------------------ */

/* Lower is more important: the decision metrics the runner stores (test
 * accuracy, unseen-class AUROC, false positives and unknown anomalies
 * detected of the fused score) first; then test before val before the rest
 * before train; within a split AUC, AP, accuracy, F1, FPR, loss, then the rest. */
static int metric_rank(const char *name) {
    static const char *const decision[] = {"test/accuracy", "test/auroc.fused.unseen",
                                           "test/fpr.fused", "test/detect.fused.unseen"};
    for (int i = 0; i < 4; i++)
        if (strcmp(name, decision[i]) == 0) return -4 + i;
    const char *slash = strchr(name, '/');
    size_t sl = slash ? (size_t)(slash - name) : 0;
    const char *key = slash ? slash + 1 : name;
    int split = 3;
    if (sl == 4 && strncmp(name, "test", 4) == 0) split = 0;
    else if ((sl == 3 && strncmp(name, "val", 3) == 0) ||
             (sl == 5 && strncmp(name, "valid", 5) == 0))
        split = 1;
    else if (sl == 0) split = 2;
    else if (sl == 5 && strncmp(name, "train", 5) == 0) split = 4;
    static const char *const keys[] = {"auroc", "ap", "acc", "f1", "fpr", "loss"};
    int k = 6;
    for (int i = 0; i < 6 && k == 6; i++)
        if (strstr(key, keys[i])) k = i;
    return split * 10 + k;
}

/* Up to `max` metric columns that hold a value in some row, most important
 * first (ties by name). */
static int key_metrics(const StoreTable *t, int *out, int max) {
    int n = 0;
    for (int c = STORE_EXPORT_FIXED_COLUMNS; c < t->ncols; c++) {
        bool any = false;
        for (int r = 0; r < t->nrows && !any; r++) any = store_cell(t, r, c)->type != STORE_NULL;
        if (!any) continue;
        int rank = metric_rank(t->columns[c]), pos = n < max ? n : max;
        while (pos > 0) {
            int prev = out[pos - 1], pr = metric_rank(t->columns[prev]);
            if (pr < rank || (pr == rank && strcmp(t->columns[prev], t->columns[c]) <= 0)) break;
            if (pos < max) out[pos] = prev;
            pos--;
        }
        if (pos < max) {
            out[pos] = c;
            if (n < max) n++;
        }
    }
    return n;
}

/* Table text of a cell: brief numbers, "-" for NULL, text on one line and
 * cut to maxw bytes (0: whole; `ellipsis` marks a cut) at a UTF-8 boundary. */
static void table_text(const StoreValue *v, int maxw, bool ellipsis, char *buf, size_t size) {
    if (v->type == STORE_NULL) {
        snprintf(buf, size, "-");
        return;
    }
    cell_text(v, true, buf, size);
    for (char *p = buf; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t') *p = ' ';
    size_t n = strlen(buf);
    if (maxw <= 0 || n <= (size_t)maxw) return;
    size_t cut = (size_t)maxw - (ellipsis ? 3 : 0);
    while (cut > 0 && ((unsigned char)buf[cut] & 0xC0) == 0x80) cut--;
    snprintf(buf + cut, size - cut, "%s", ellipsis ? "..." : "");
}

typedef struct TableCol {
    int col;          /* column of the StoreTable */
    const char *head; /* header */
    int maxw;         /* cut longer text (0: never) */
    bool ellipsis;    /* mark the cut */
} TableCol;

static void print_table(const StoreTable *t, const TableCol *cols, int ncols) {
    int *width = vb_xcalloc((size_t)ncols, sizeof *width);
    bool *right = vb_xcalloc((size_t)ncols, sizeof *right);
    char buf[512];
    for (int c = 0; c < ncols; c++) {
        width[c] = (int)strlen(cols[c].head);
        right[c] = true;
        for (int r = 0; r < t->nrows; r++) {
            const StoreValue *v = store_cell(t, r, cols[c].col);
            table_text(v, cols[c].maxw, cols[c].ellipsis, buf, sizeof buf);
            int n = (int)strlen(buf);
            if (n > width[c]) width[c] = n;
            if (v->type == STORE_TEXT) right[c] = false;
        }
    }
    for (int r = -1; r < t->nrows; r++) {
        for (int c = 0; c < ncols; c++) {
            if (r < 0) snprintf(buf, sizeof buf, "%s", cols[c].head);
            else
                table_text(store_cell(t, r, cols[c].col), cols[c].maxw, cols[c].ellipsis, buf,
                           sizeof buf);
            int pad = width[c] - (int)strlen(buf);
            bool last = c == ncols - 1;
            if (right[c]) printf("%*s%s", pad, "", buf);
            else printf("%s%*s", buf, last ? 0 : pad, "");
            if (!last) fputs("  ", stdout);
        }
        fputc('\n', stdout);
    }
    free(width);
    free(right);
}

/* Describe the filter for "nothing matched" lines. */
static void describe_filter(const StoreRunFilter *f, const char *path, char *buf, size_t size) {
    int n = snprintf(buf, size, "no runs");
    if (f->experiment)
        n += snprintf(buf + n, size - (size_t)n, " of experiment '%s'", f->experiment);
    if (f->has_status)
        n += snprintf(buf + n, size - (size_t)n, " with status %s", store_status_name(f->status));
    snprintf(buf + n, size - (size_t)n, " in %s", path);
}

typedef struct BrowseOpts {
    const char *db, *experiment, *status, *format;
} BrowseOpts;

/* Parse the shared options; returns -1 to go on, else the exit code. */
static int browse_parse(const CliCommand *cmd, int argc, char **argv, BrowseOpts *o, char **pos,
                        int max_pos, int *npos, StoreRunFilter *f) {
    bool filters = strcmp(cmd->name, "show") != 0;
    CliOpt opts[] = {{"db", CLI_STR, &o->db},
                     {"format", CLI_STR, &o->format},
                     {filters ? "experiment" : NULL, CLI_STR, &o->experiment},
                     {"status", CLI_STR, &o->status},
                     {NULL, CLI_FLAG, NULL}};
    bool help;
    VbStatus s = cli_parse(cmd, argc, argv, opts, pos, max_pos, npos, &help);
    if (s != VB_OK) return cli_usage_error(cmd, vb_errmsg());
    if (help) return 0;
    memset(f, 0, sizeof *f);
    f->experiment = o->experiment;
    if (o->status) {
        if (!store_status_parse(o->status, &f->status))
            return cli_usage_error(cmd, "--status must be queued, running, done or failed");
        f->has_status = true;
    }
    return -1;
}

static int open_store(const CliCommand *cmd, const BrowseOpts *o, Store **st) {
    VbStatus s = store_open(o->db ? o->db : store_default_path(), STORE_READONLY, st);
    return s == VB_OK ? -1 : cli_fail(cmd->name, s);
}

int cmd_runs(int argc, char **argv) {
    const CliCommand *cmd = cli_find("runs");
    BrowseOpts o = {.format = "table"};
    StoreRunFilter f;
    int npos, rc = browse_parse(cmd, argc, argv, &o, NULL, 0, &npos, &f);
    if (rc >= 0) return rc;
    OutFormat fmt;
    if (!parse_format(o.format, true, &fmt))
        return cli_usage_error(cmd, "--format must be table, csv or json");
    Store *st;
    if ((rc = open_store(cmd, &o, &st)) >= 0) return rc;
    StoreTable t;
    VbStatus s = store_export(st, &f, &t);
    if (s != VB_OK) {
        store_close(st);
        return cli_fail(cmd->name, s);
    }
    int *cols = vb_xmalloc((size_t)(t.ncols + 3) * sizeof *cols), n = 0;
    const char *first[] = {"run_id", "experiment", "variant", "holdout", "seed", "status"};
    for (int i = 0; i < 6; i++) cols[n++] = find_col(&t, first[i]);
    if (t.nrows == 0) {
        char msg[512];
        describe_filter(&f, store_path(st), msg, sizeof msg);
        fprintf(fmt == FMT_TABLE ? stdout : stderr, "%s\n", msg);
        if (fmt != FMT_TABLE) print_machine(&t, cols, n, fmt);
    } else if (fmt == FMT_TABLE) {
        TableCol tc[6 + KEY_METRICS + 3];
        const char *heads[] = {"id", "experiment", "variant", "holdout", "seed", "status"};
        int m = 0;
        for (int i = 0; i < 6; i++) tc[m++] = (TableCol){cols[i], heads[i], 0, false};
        int km[KEY_METRICS], nk = key_metrics(&t, km, KEY_METRICS);
        for (int i = 0; i < nk; i++) tc[m++] = (TableCol){km[i], t.columns[km[i]], 0, false};
        tc[m++] = (TableCol){find_col(&t, "wall_s"), "wall_s", 0, false};
        tc[m++] = (TableCol){find_col(&t, "config_hash"), "hash", 12, false};
        tc[m++] = (TableCol){find_col(&t, "error"), "error", 60, true};
        print_table(&t, tc, m);
    } else {
        for (int c = STORE_EXPORT_FIXED_COLUMNS; c < t.ncols; c++) cols[n++] = c;
        cols[n++] = find_col(&t, "wall_s");
        cols[n++] = find_col(&t, "config_hash");
        cols[n++] = find_col(&t, "error");
        print_machine(&t, cols, n, fmt);
    }
    free(cols);
    store_table_free(&t);
    s = store_close(st);
    return s == VB_OK ? 0 : cli_fail(cmd->name, s);
}

int cmd_export(int argc, char **argv) {
    const CliCommand *cmd = cli_find("export");
    BrowseOpts o = {0};
    StoreRunFilter f;
    int npos, rc = browse_parse(cmd, argc, argv, &o, NULL, 0, &npos, &f);
    if (rc >= 0) return rc;
    OutFormat fmt;
    if (!o.format) return cli_usage_error(cmd, "--format csv|json is required");
    if (!parse_format(o.format, false, &fmt))
        return cli_usage_error(cmd, "--format must be csv or json");
    Store *st;
    if ((rc = open_store(cmd, &o, &st)) >= 0) return rc;
    StoreTable t;
    VbStatus s = store_export(st, &f, &t);
    if (s != VB_OK) {
        store_close(st);
        return cli_fail(cmd->name, s);
    }
    if (t.nrows == 0) {
        char msg[512];
        describe_filter(&f, store_path(st), msg, sizeof msg);
        fprintf(stderr, "%s\n", msg);
    }
    int *cols = vb_xmalloc((size_t)t.ncols * sizeof *cols);
    for (int c = 0; c < t.ncols; c++) cols[c] = c;
    print_machine(&t, cols, t.ncols, fmt);
    free(cols);
    store_table_free(&t);
    s = store_close(st);
    return s == VB_OK ? 0 : cli_fail(cmd->name, s);
}

/* ---- show ------------------------------------------------------------------- */

static void metric_name(const StoreMetric *m, char *buf, size_t size) {
    snprintf(buf, size, "%s%s%s", m->split, *m->split ? "/" : "", m->key);
}

static void real_text(double v, char *buf, size_t size) { store_format_real(v, buf, (int)size); }

/* Everything `show` prints, read in one go. */
typedef struct ShowData {
    StoreRun run;
    StoreMetricList metrics; /* finals first within each (split, key) */
    StoreTiming *timings;
    int ntimings;
    StoreLatency *latency;
    int nlatency;
} ShowData;

static VbStatus show_load(Store *st, const char *spec, ShowData *d) {
    memset(d, 0, sizeof *d);
    VB_TRY(store_find_run(st, spec, &d->run));
    VbStatus s = store_run_metrics(st, d->run.id, false, &d->metrics);
    if (s == VB_OK) s = store_run_timings(st, d->run.id, &d->timings, &d->ntimings);
    if (s == VB_OK) s = store_run_latency(st, d->run.id, &d->latency, &d->nlatency);
    return s;
}

static void show_free(ShowData *d) {
    store_run_free(&d->run);
    store_metric_list_free(&d->metrics);
    store_timings_free(d->timings, d->ntimings);
    store_latency_free(d->latency, d->nlatency);
}

/* Curves: consecutive non-final rows with one (split, key); *end = past the last. */
static int curve_end(const StoreMetricList *l, int i) {
    int j = i;
    while (j < l->n && l->rows[j].has_step && strcmp(l->rows[j].split, l->rows[i].split) == 0 &&
           strcmp(l->rows[j].key, l->rows[i].key) == 0)
        j++;
    return j;
}

static void kv(const char *k, const char *v) { printf("  %-12s %s\n", k, v && *v ? v : "-"); }

/* "resumed  2 times: from step 40 at T on HOST (git SHA); ..." */
static void show_resumes(const StoreRun *r) {
    json_t *a = r->resumes ? json_loads(r->resumes, 0, NULL) : NULL;
    size_t n = json_array_size(a);
    if (n > 0) {
        printf("  %-12s %zu time%s:", "resumed", n, n == 1 ? "" : "s");
        for (size_t i = 0; i < n; i++) {
            json_t *e = json_array_get(a, i);
            const char *at = json_string_value(json_object_get(e, "at"));
            const char *host = json_string_value(json_object_get(e, "host"));
            const char *sha = json_string_value(json_object_get(e, "git_sha"));
            printf("%s from step %lld at %s on %s (git %s)", i ? ";" : "",
                   (long long)json_integer_value(json_object_get(e, "step")), at ? at : "?",
                   host ? host : "?", sha ? sha : "?");
        }
        putchar('\n');
    }
    json_decref(a);
}

static void show_text(const ShowData *d) {
    const StoreRun *r = &d->run;
    char buf[1024], name[512];
    printf("run %lld: %s / %s%s%s / seed %lld\n", (long long)r->id, r->experiment, r->variant,
           *r->holdout ? " / holdout " : "", r->holdout, (long long)r->seed);
    snprintf(buf, sizeof buf, "%s (attempts %d)", store_status_name(r->status), r->attempts);
    kv("status", buf);
    kv("config hash", r->config_hash);
    kv("created", r->created);
    kv("started", r->started);
    kv("finished", r->finished);
    if (r->wall_s >= 0) snprintf(buf, sizeof buf, "%.3f s", r->wall_s), kv("wall time", buf);
    if (r->error) kv("error", r->error);
    if (r->checkpoint) kv("checkpoint", r->checkpoint);
    if (r->claim_owner) kv("owner", r->claim_owner);
    printf("\nprovenance\n");
    snprintf(buf, sizeof buf, "%s%s", r->git_sha ? r->git_sha : "-",
             r->git_dirty == 1 ? " (dirty)" : "");
    kv("git", buf);
    kv("host", r->host);
    kv("cpu", r->cpu_model);
    if (r->numerics > 0)
        snprintf(buf, sizeof buf, "%s path, numerics version %d", r->cpu_path ? r->cpu_path : "-",
                 r->numerics);
    else snprintf(buf, sizeof buf, "- (recorded before numerics versions)");
    kv("cpu kernels", buf);
    snprintf(buf, sizeof buf, "%s%s%s%s", r->gpu ? r->gpu : "-", r->gpu_driver ? " (driver " : "",
             r->gpu_driver ? r->gpu_driver : "", r->gpu_driver ? ")" : "");
    kv("gpu", buf);
    kv("build", r->build_opts);
    kv("libraries", r->libraries);
    if (r->threads > 0)
        snprintf(buf, sizeof buf, "%s, %d threads", r->backend ? r->backend : "-", r->threads);
    else snprintf(buf, sizeof buf, "%s", r->backend ? r->backend : "-");
    kv("backend", buf);
    kv("dataset", r->dataset_digest);
    if (r->slurm_job_id) {
        snprintf(buf, sizeof buf, "job %s on %s", r->slurm_job_id,
                 r->slurm_node ? r->slurm_node : "-");
        kv("slurm", buf);
    }
    show_resumes(r);
    printf("\nfinal metrics\n");
    int nf = 0;
    for (int i = 0; i < d->metrics.n; i++) {
        const StoreMetric *m = &d->metrics.rows[i];
        if (m->has_step) continue;
        metric_name(m, name, sizeof name);
        real_text(m->value, buf, sizeof buf);
        printf("  %-24s %s", name, buf);
        if (m->has_epoch) printf("  (epoch %lld)", (long long)m->epoch);
        fputc('\n', stdout);
        nf++;
    }
    if (!nf) printf("  (none)\n");
    bool head = false;
    for (int i = 0; i < d->metrics.n;) {
        if (!d->metrics.rows[i].has_step) {
            i++;
            continue;
        }
        int j = curve_end(&d->metrics, i);
        const StoreMetric *a = &d->metrics.rows[i], *b = &d->metrics.rows[j - 1];
        if (!head) printf("\ncurves\n"), head = true;
        metric_name(a, name, sizeof name);
        real_text(b->value, buf, sizeof buf);
        printf("  %-24s %d points, steps %lld..%lld, last %s\n", name, j - i, (long long)a->step,
               (long long)b->step, buf);
        i = j;
    }
    if (d->ntimings) {
        printf("\ntimings\n  %-20s %12s %10s %12s\n", "phase", "seconds", "count", "mean s");
        for (int i = 0; i < d->ntimings; i++) {
            const StoreTiming *t = &d->timings[i];
            printf("  %-20s %12.3f %10lld", t->phase, t->seconds, (long long)t->count);
            if (t->count > 0) printf(" %12.6f", t->seconds / (double)t->count);
            fputc('\n', stdout);
        }
    }
    if (d->nlatency) {
        printf("\nlatency (ms)\n  %-16s %6s %6s %10s %10s %10s %10s\n", "component", "batch", "n",
               "p50", "p90", "p99", "mean");
        for (int i = 0; i < d->nlatency; i++) {
            const StoreLatency *l = &d->latency[i];
            printf("  %-16s %6d %6d %10.4g %10.4g %10.4g %10.4g\n", l->component, l->batch, l->n,
                   l->p50, l->p90, l->p99, l->mean);
        }
    }
    printf("\nconfig\n");
    json_error_t e;
    json_t *cfg = json_loads(r->config_json, 0, &e);
    char *txt = cfg ? json_dumps(cfg, JSON_INDENT(2)) : NULL;
    printf("%s\n", txt ? txt : r->config_json);
    free(txt);
    json_decref(cfg);
}

static json_t *jreal(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static void show_json(const ShowData *d) {
    const StoreRun *r = &d->run;
    json_t *o = json_object(), *p = json_object(), *fin = json_object(), *cur = json_object();
    json_object_set_new(o, "id", json_integer((json_int_t)r->id));
    json_object_set_new(o, "experiment", jstr(r->experiment));
    json_object_set_new(o, "variant", jstr(r->variant));
    json_object_set_new(o, "holdout", jstr(r->holdout));
    json_object_set_new(o, "seed", json_integer((json_int_t)r->seed));
    json_object_set_new(o, "status", json_string(store_status_name(r->status)));
    json_object_set_new(o, "attempts", json_integer(r->attempts));
    json_t *resumes = r->resumes ? json_loads(r->resumes, 0, NULL) : NULL;
    json_object_set_new(o, "resumes", resumes ? resumes : json_array());
    json_object_set_new(o, "transient", json_boolean(r->transient));
    json_object_set_new(o, "config_hash", jstr(r->config_hash));
    json_object_set_new(o, "created", jstr(r->created));
    json_object_set_new(o, "started", jstr(r->started));
    json_object_set_new(o, "finished", jstr(r->finished));
    json_object_set_new(o, "wall_s", r->wall_s >= 0 ? json_real(r->wall_s) : json_null());
    json_object_set_new(o, "error", jstr(r->error));
    json_object_set_new(o, "checkpoint", jstr(r->checkpoint));
    json_object_set_new(o, "claim_owner", jstr(r->claim_owner));
    json_object_set_new(p, "git_sha", jstr(r->git_sha));
    json_object_set_new(p, "git_dirty",
                        r->git_dirty < 0 ? json_null() : json_boolean(r->git_dirty));
    const char *keys[] = {"host",       "cpu_model", "gpu",    "gpu_driver",
                          "build_opts", "libraries", "backend"};
    const char *vals[] = {r->host,       r->cpu_model, r->gpu,    r->gpu_driver,
                          r->build_opts, r->libraries, r->backend};
    for (int i = 0; i < 7; i++) json_object_set_new(p, keys[i], jstr(vals[i]));
    json_object_set_new(p, "threads", r->threads > 0 ? json_integer(r->threads) : json_null());
    json_object_set_new(p, "dataset_digest", jstr(r->dataset_digest));
    json_object_set_new(p, "slurm_job_id", jstr(r->slurm_job_id));
    json_object_set_new(p, "slurm_array_task_id",
                        r->slurm_array_task_id >= 0 ? json_integer(r->slurm_array_task_id)
                                                    : json_null());
    json_object_set_new(p, "slurm_node", jstr(r->slurm_node));
    json_object_set_new(p, "cpu_path", jstr(r->cpu_path));
    json_object_set_new(p, "numerics", r->numerics > 0 ? json_integer(r->numerics) : json_null());
    json_object_set_new(o, "provenance", p);
    json_error_t e;
    json_t *cfg = json_loads(r->config_json, 0, &e);
    json_object_set_new(o, "config", cfg ? cfg : jstr(r->config_json));
    char name[512];
    for (int i = 0; i < d->metrics.n;) {
        const StoreMetric *m = &d->metrics.rows[i];
        metric_name(m, name, sizeof name);
        if (!m->has_step) {
            json_object_set_new(fin, name, jreal(m->value));
            i++;
            continue;
        }
        int j = curve_end(&d->metrics, i);
        const StoreMetric *b = &d->metrics.rows[j - 1];
        json_object_set_new(cur, name,
                            json_pack("{s:i, s:I, s:I, s:o}", "points", j - i, "first_step",
                                      (json_int_t)m->step, "last_step", (json_int_t)b->step, "last",
                                      jreal(b->value)));
        i = j;
    }
    json_object_set_new(o, "finals", fin);
    json_object_set_new(o, "curves", cur);
    json_t *ta = json_array(), *la = json_array();
    for (int i = 0; i < d->ntimings; i++)
        json_array_append_new(ta, json_pack("{s:o, s:o, s:I}", "phase", jstr(d->timings[i].phase),
                                            "seconds", jreal(d->timings[i].seconds), "count",
                                            (json_int_t)d->timings[i].count));
    for (int i = 0; i < d->nlatency; i++) {
        const StoreLatency *l = &d->latency[i];
        json_array_append_new(la, json_pack("{s:o, s:i, s:i, s:o, s:o, s:o, s:o, s:o, s:o}",
                                            "component", jstr(l->component), "batch", l->batch, "n",
                                            l->n, "p50", jreal(l->p50), "p90", jreal(l->p90), "p99",
                                            jreal(l->p99), "mean", jreal(l->mean), "min",
                                            jreal(l->min), "max", jreal(l->max)));
    }
    json_object_set_new(o, "timings", ta);
    json_object_set_new(o, "latency_ms", la);
    char *txt = json_dumps(o, JSON_INDENT(2));
    VB_ASSERT(txt != NULL);
    printf("%s\n", txt);
    free(txt);
    json_decref(o);
}

int cmd_show(int argc, char **argv) {
    const CliCommand *cmd = cli_find("show");
    BrowseOpts o = {.format = "text"};
    StoreRunFilter f;
    char *pos[1];
    int npos, rc = browse_parse(cmd, argc, argv, &o, pos, 1, &npos, &f);
    if (rc >= 0) return rc;
    OutFormat fmt;
    if (!parse_format(o.format, true, &fmt) || fmt == FMT_CSV)
        return cli_usage_error(cmd, "--format must be text or json");
    if (npos != 1) return cli_usage_error(cmd, "which run? give its id or a config hash prefix");
    Store *st;
    if ((rc = open_store(cmd, &o, &st)) >= 0) return rc;
    ShowData d;
    VbStatus s = show_load(st, pos[0], &d);
    if (s == VB_OK) {
        if (fmt == FMT_JSON) show_json(&d);
        else show_text(&d);
    }
    show_free(&d);
    VbStatus c = store_close(st);
    if (s == VB_OK) s = c;
    return s == VB_OK ? 0 : cli_fail(cmd->name, s);
}
