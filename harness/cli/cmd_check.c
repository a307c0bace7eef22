/* cmd_check: `vadbench baseline pin|show` and `vadbench check`.
 *
 *   baseline pin NAME --experiment X [--variant V]   record X's done runs as NAME
 *   baseline show NAME                               list the runs NAME holds
 *   check --baseline NAME (--experiment X [--variant V] | --runs ID,ID,...)
 *         [--tolerance METRIC=ABS ...] [--latency-factor F] [--format table|json]
 *
 * check prints one line per checked quantity (metric, baseline, candidate,
 * change, limit, verdict) as an aligned table, or one JSON object for CI
 * systems (also on bad input: {"status": "error", "error": ...}). The rules
 * are in check.h. Exit status: 0 every check holds, 1 a regression, 2 bad
 * usage or input (unknown baseline, no runs, a missing metric). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness/cli/cli.h"
#include "harness/cli/commands.h"
#include "harness/experiment/experiment.h"
#include "harness/report/report.h"
#include "harness/store/store.h"

/* ---- baseline ------------------------------------------------------------------ */

int cmd_baseline(int argc, char **argv) {
    const CliCommand *cmd = cli_find("baseline");
    const char *db = NULL, *experiment = NULL, *variant = NULL;
    CliOpt opts[] = {{"db", CLI_STR, &db},
                     {"experiment", CLI_STR, &experiment},
                     {"variant", CLI_STR, &variant},
                     {NULL, CLI_FLAG, NULL}};
    char *pos[2];
    int npos;
    bool help;
    VbStatus s = cli_parse(cmd, argc, argv, opts, pos, 2, &npos, &help);
    if (s != VB_OK) return cli_usage_error(cmd, vb_errmsg());
    if (help) return 0;
    if (npos < 1) return cli_usage_error(cmd, "expected a subcommand: pin or show");
    bool pin = strcmp(pos[0], "pin") == 0, show = strcmp(pos[0], "show") == 0;
    if (!pin && !show) return cli_usage_error(cmd, "unknown subcommand (expected pin or show)");
    if (npos != 2 || !*pos[1]) return cli_usage_error(cmd, "which baseline? give its NAME");
    if (pin && !experiment) return cli_usage_error(cmd, "baseline pin needs --experiment X");
    if (show && (experiment || variant))
        return cli_usage_error(cmd, "baseline show takes only NAME (and --db)");
    Store *st;
    s = store_open(db ? db : store_default_path(), show ? STORE_READONLY : STORE_EXISTING, &st);
    if (s != VB_OK) return cli_fail(cmd->name, s);
    int64_t *ids = NULL;
    int n = 0;
    if (pin) {
        s = check_pin_baseline(st, pos[1], experiment, variant, &ids, &n);
        if (s == VB_OK) {
            printf("pinned baseline %s: %d run%s of experiment %s%s%s (runs", pos[1], n,
                   n == 1 ? "" : "s", experiment, variant ? " variant " : "",
                   variant ? variant : "");
            for (int i = 0; i < n; i++) printf("%s%lld", i ? "," : " ", (long long)ids[i]);
            printf(")\n");
        }
    } else {
        s = store_baseline_get(st, pos[1], &ids, &n);
        if (s == VB_OK && n == 0)
            s = VB_FAIL(VB_ERR_INPUT, "%s: no baseline named '%s'", store_path(st), pos[1]);
        for (int i = 0; s == VB_OK && i < n; i++) {
            StoreRun r;
            s = store_get_run(st, ids[i], &r);
            if (s != VB_OK) break;
            printf("%lld  %s  %s  %s  seed %lld  %s\n", (long long)r.id, r.experiment, r.variant,
                   r.holdout && *r.holdout ? r.holdout : "-", (long long)r.seed,
                   store_status_name(r.status));
            store_run_free(&r);
        }
    }
    free(ids);
    VbStatus c = store_close(st);
    if (s == VB_OK) s = c;
    return s == VB_OK ? 0 : cli_fail(cmd->name, s);
}

/* ---- check: options ------------------------------------------------------------------ */

typedef struct CheckArgs {
    const char *db, *baseline, *experiment, *variant, *runs, *format;
    double factor;
    RepTol *tols;
    int ntols;
    int64_t *ids;
    int nids;
} CheckArgs;

/* Take every --tolerance out of argv (cli_parse keeps only the last value
 * of an option) into a->tols; the rest goes to rest[] (argc returned). */
static int take_tolerances(int argc, char **argv, char **rest, CheckArgs *a) {
    int n = 0;
    for (int i = 0; i < argc; i++) {
        const char *v = NULL;
        if (i > 0 && strcmp(argv[i], "--tolerance") == 0) {
            if (i + 1 >= argc) return -1;
            v = argv[++i];
        } else if (i > 0 && strncmp(argv[i], "--tolerance=", 12) == 0) {
            v = argv[i] + 12;
        }
        if (!v) {
            rest[n++] = argv[i];
            continue;
        }
        char *copy = vb_xstrdup(v), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            a->tols = vb_xrealloc(a->tols, (size_t)(a->ntols + 1) * sizeof *a->tols);
            if (check_parse_tolerance(t, &a->tols[a->ntols]) != VB_OK) {
                free(copy);
                return -2;
            }
            a->ntols++;
        }
        free(copy);
    }
    rest[n] = NULL;
    return n;
}

static bool parse_ids(const char *text, CheckArgs *a) {
    char *copy = vb_xstrdup(text), *save = NULL;
    bool ok = true;
    for (char *t = strtok_r(copy, ",", &save); t && ok; t = strtok_r(NULL, ",", &save)) {
        char *end;
        long long v = strtoll(t, &end, 10);
        ok = *t && !*end && v > 0;
        if (ok) {
            a->ids = vb_xrealloc(a->ids, (size_t)(a->nids + 1) * sizeof *a->ids);
            a->ids[a->nids++] = v;
        }
    }
    free(copy);
    return ok && a->nids > 0;
}

/* ---- check: output ------------------------------------------------------------------ */

static void row_texts(const CheckRow *r, char cell[7][160]) {
    snprintf(cell[0], 160, "%s", r->metric);
    snprintf(cell[1], 160, "%.4g", r->base);
    snprintf(cell[2], 160, "%.4g", r->cand);
    if (r->latency) {
        snprintf(cell[3], 160, "x%.3g (p=%.2g)", r->change, r->p);
        snprintf(cell[4], 160, "x%g and p<%g", r->limit, CHECK_ALPHA);
    } else {
        snprintf(cell[3], 160, "%+.4g", r->change);
        if (r->has_limit)
            snprintf(cell[4], 160, "%s <= %g", r->dir == STATS_HIGHER_IS_BETTER ? "drop" : "rise",
                     r->limit);
        else snprintf(cell[4], 160, "-");
    }
    snprintf(cell[5], 160, "%s", check_verdict_name(r->verdict));
    if (r->latency) snprintf(cell[6], 160, "-");
    else if (!isfinite(r->mde)) snprintf(cell[6], 160, "n/a (too few runs)");
    else if (r->runs_needed)
        snprintf(cell[6], 160, "+-%.3g (%zu runs/side for +-%g)", r->mde, r->runs_needed, r->limit);
    else if (r->has_limit && r->mde > r->limit)
        snprintf(cell[6], 160, "+-%.3g (>%d runs/side for +-%g)", r->mde, STATS_N_MAX, r->limit);
    else snprintf(cell[6], 160, "+-%.3g", r->mde);
}

static void print_table(const CheckResult *r) {
    printf("%s\n%s\n", r->base_desc, r->cand_desc);
    if (*r->warning) printf("warning: %s\n", r->warning);
    const char *head[7] = {
        "metric", "baseline", "candidate", "change", "limit", "verdict", "detectable (80% power)"};
    int w[7];
    for (int c = 0; c < 7; c++) w[c] = (int)strlen(head[c]);
    char cell[7][160];
    for (int i = 0; i < r->nrows; i++) {
        row_texts(&r->rows[i], cell);
        for (int c = 0; c < 7; c++)
            if ((int)strlen(cell[c]) > w[c]) w[c] = (int)strlen(cell[c]);
    }
    for (int i = -1; i < r->nrows; i++) {
        if (i >= 0) row_texts(&r->rows[i], cell);
        for (int c = 0; c < 7; c++) {
            const char *t = i < 0 ? head[c] : cell[c];
            bool num = c >= 1 && c <= 3;
            if (c == 6) printf("%s", t);
            else if (num) printf("%*s  ", w[c], t);
            else printf("%-*s  ", w[c], t);
        }
        fputc('\n', stdout);
    }
    printf("detectable: the smallest difference of means these runs detect 80%% of the time "
           "(two-sample t test, 5%% two-sided), from the between-run spread; when it exceeds the "
           "tolerance, the runs per side that would see a tolerance-sized change\n");
    printf("latency: regression when the ratio exceeds x%g AND a one-sided Mann-Whitney U test "
           "(candidate slower) gives p < %g\n",
           r->latency_factor, r->alpha);
    if (r->regressions) {
        printf("check: FAIL: %d regression%s:", r->regressions, r->regressions == 1 ? "" : "s");
        for (int i = 0; i < r->nrows; i++)
            if (r->rows[i].verdict == CHECK_REGRESSION) printf(" %s;", r->rows[i].metric);
        fputc('\n', stdout);
    } else {
        printf("check: PASS: %d check%s hold\n", r->nrows, r->nrows == 1 ? "" : "s");
    }
}

static json_t *jnum(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static json_t *jids(const int64_t *ids, int n) {
    json_t *a = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(a, json_integer((json_int_t)ids[i]));
    return a;
}

static void print_json(const CheckResult *r) {
    json_t *o = json_object(), *rows = json_array();
    json_object_set_new(o, "status", json_string(r->regressions ? "fail" : "pass"));
    json_object_set_new(o, "baseline", json_string(r->baseline));
    json_object_set_new(o, "baseline_runs", jids(r->base_ids, r->nbase));
    json_object_set_new(o, "candidate_runs", jids(r->cand_ids, r->ncand));
    json_object_set_new(o, "latency_factor", json_real(r->latency_factor));
    json_object_set_new(o, "alpha", json_real(r->alpha));
    json_object_set_new(o, "regressions", json_integer(r->regressions));
    json_object_set_new(o, "warnings", json_array());
    if (*r->warning) json_array_append_new(json_object_get(o, "warnings"), json_string(r->warning));
    for (int i = 0; i < r->nrows; i++) {
        const CheckRow *x = &r->rows[i];
        json_t *j = json_object();
        json_object_set_new(j, "metric", json_string(x->metric));
        json_object_set_new(j, "kind", json_string(x->latency ? "latency" : "metric"));
        json_object_set_new(
            j, "direction",
            json_string(x->dir == STATS_HIGHER_IS_BETTER ? "higher_is_better" : "lower_is_better"));
        json_object_set_new(j, "baseline", jnum(x->base));
        json_object_set_new(j, "candidate", jnum(x->cand));
        json_object_set_new(j, "n_baseline", json_integer(x->nbase));
        json_object_set_new(j, "n_candidate", json_integer(x->ncand));
        json_object_set_new(j, x->latency ? "ratio" : "change", jnum(x->change));
        json_object_set_new(j, x->latency ? "factor" : "tolerance",
                            x->has_limit ? jnum(x->limit) : json_null());
        if (!x->latency) {
            json_object_set_new(j, "sd", jnum(x->sd));
            json_object_set_new(j, "mde", jnum(x->mde));
            json_object_set_new(j, "runs_needed_per_side",
                                x->runs_needed ? json_integer((json_int_t)x->runs_needed)
                                               : json_null());
        }
        if (x->latency) {
            json_object_set_new(j, "p_slower", jnum(x->p));
            json_object_set_new(j, "p_faster", jnum(x->p_faster));
        }
        json_object_set_new(j, "verdict", json_string(check_verdict_name(x->verdict)));
        json_object_set_new(j, "regression", json_boolean(x->verdict == CHECK_REGRESSION));
        json_array_append_new(rows, j);
    }
    json_object_set_new(o, "checks", rows);
    char *txt = json_dumps(o, JSON_INDENT(2));
    VB_ASSERT(txt != NULL);
    printf("%s\n", txt);
    free(txt);
    json_decref(o);
}

/* A failure: the message on stderr, and for --format json also as JSON. */
static int check_error(const CliCommand *cmd, bool json, VbStatus s, bool usage) {
    if (json) {
        json_t *o = json_pack("{s:s, s:s}", "status", "error", "error", vb_errmsg());
        char *txt = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
        if (txt) printf("%s\n", txt);
        free(txt);
        json_decref(o);
    }
    return usage ? cli_usage_error(cmd, vb_errmsg()) : cli_fail(cmd->name, s);
}

int cmd_check(int argc, char **argv) {
    const CliCommand *cmd = cli_find("check");
    CheckArgs a = {.format = "table", .factor = 0};
    char **rest = vb_xcalloc((size_t)argc + 1, sizeof *rest);
    bool json = false;
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--format") == 0 && strcmp(argv[i + 1], "json") == 0) json = true;
    for (int i = 1; i < argc; i++) json = json || strcmp(argv[i], "--format=json") == 0;
    int rc = 2, nrest = take_tolerances(argc, argv, rest, &a);
    CliOpt opts[] = {{"db", CLI_STR, &a.db},
                     {"baseline", CLI_STR, &a.baseline},
                     {"experiment", CLI_STR, &a.experiment},
                     {"variant", CLI_STR, &a.variant},
                     {"runs", CLI_STR, &a.runs},
                     {"format", CLI_STR, &a.format},
                     {"latency-factor", CLI_DOUBLE, &a.factor},
                     {NULL, CLI_FLAG, NULL}};
    bool help = false;
    int npos;
    VbStatus s;
    if (nrest == -1) s = VB_FAIL(VB_ERR_USAGE, "option --tolerance needs a value");
    else if (nrest == -2) s = VB_ERR_USAGE; /* check_parse_tolerance left the message */
    else s = cli_parse(cmd, nrest, rest, opts, NULL, 0, &npos, &help);
    if (s == VB_OK && !help) {
        if (strcmp(a.format, "table") != 0 && strcmp(a.format, "json") != 0)
            s = VB_FAIL(VB_ERR_USAGE, "--format must be table or json");
        else if (!a.baseline || !*a.baseline)
            s = VB_FAIL(VB_ERR_USAGE, "--baseline NAME is required");
        else if (!a.experiment == !a.runs)
            s = VB_FAIL(VB_ERR_USAGE, "give exactly one of --experiment X or --runs ID,ID,...");
        else if (a.variant && !a.experiment)
            s = VB_FAIL(VB_ERR_USAGE, "--variant goes with --experiment");
        else if (a.runs && !parse_ids(a.runs, &a))
            s = VB_FAIL(VB_ERR_USAGE, "--runs expects run ids separated by commas, got '%s'",
                        a.runs);
        else if (a.factor != 0 && !vb_valid_latency_factor(a.factor))
            s = VB_FAIL(VB_ERR_USAGE, "--latency-factor must be a number > 1, got %g", a.factor);
    }
    if (s != VB_OK) {
        rc = check_error(cmd, json, s, true);
    } else if (help) {
        rc = 0;
    } else {
        Store *st;
        s = store_open(a.db ? a.db : store_default_path(), STORE_READONLY, &st);
        if (s != VB_OK) {
            rc = check_error(cmd, json, s, false);
        } else {
            CheckOptions o = {a.baseline, a.experiment, a.variant, a.ids,
                              a.nids,     a.tols,       a.ntols,   a.factor};
            CheckResult r;
            s = check_run(st, &o, &r);
            store_close(st);
            if (s != VB_OK) {
                rc = check_error(cmd, json, s, false);
            } else {
                if (json) print_json(&r);
                else print_table(&r);
                rc = r.regressions ? 1 : 0;
                check_result_free(&r);
            }
        }
    }
    free(rest);
    free(a.tols);
    free(a.ids);
    return rc;
}
