/* cmd_report: `vadbench report EXPERIMENT [--out DIR] [--templates DIR]
 * [--db PATH]` — write the experiment's report (report.md, a self-contained
 * report.html, the figures as PNG and SVG with the gnuplot scripts and data
 * that made them) and print where report.html is; --templates renders with
 * the template files of DIR in place of the built-in ones (for editing
 * reports/templates/ without rebuilding). The database must exist. Exit status: 0
 * written (also when gnuplot is missing: the report says so and a warning
 * goes to stderr), 2 bad usage, an unknown experiment, one without done
 * runs, or a database or file that cannot be read or written. */
#include <stdio.h>

#include "harness/cli/cli.h"
#include "harness/cli/commands.h"
#include "harness/report/report.h"
#include "harness/store/store.h"

int cmd_report(int argc, char **argv) {
    const CliCommand *cmd = cli_find("report");
    const char *db = NULL, *out = NULL, *templates = NULL;
    CliOpt opts[] = {{"db", CLI_STR, &db},
                     {"out", CLI_STR, &out},
                     {"templates", CLI_STR, &templates},
                     {NULL, CLI_FLAG, NULL}};
    char *pos[1];
    int npos;
    bool help;
    VbStatus s = cli_parse(cmd, argc, argv, opts, pos, 1, &npos, &help);
    if (s != VB_OK) return cli_usage_error(cmd, vb_errmsg());
    if (help) return 0;
    if (npos != 1)
        return cli_usage_error(cmd, "which experiment? give its name (see `vadbench runs`)");
    if (out && !*out) return cli_usage_error(cmd, "--out needs a directory");
    if (templates && !*templates) return cli_usage_error(cmd, "--templates needs a directory");
    Store *st;
    s = store_open(db ? db : store_default_path(), STORE_READONLY, &st);
    if (s != VB_OK) return cli_fail(cmd->name, s);
    ReportOptions o = {
        .experiment = pos[0], .out_dir = out, .gnuplot = NULL, .templates = templates};
    ReportResult res;
    s = report_write(st, &o, &res);
    VbStatus c = store_close(st);
    if (s == VB_OK) s = c;
    if (s != VB_OK) return cli_fail(cmd->name, s);
    if (*res.note) fprintf(stderr, "vadbench report: warning: %s\n", res.note);
    fprintf(stderr, "vadbench report: %s: %d of %d figures rendered; Markdown in %s\n", pos[0],
            res.nrendered, res.nfigures, res.markdown);
    printf("%s\n", res.html);
    return 0;
}
