/* cmd_keys: `vadbench keys [SECTION]` — print the documented experiment-file
 * keys of each section as Markdown tables (the source of the tables in
 * experiments/README.md). */
#include <stdio.h>
#include <string.h>

#include "harness/cli/cli.h"
#include "harness/cli/commands.h"
#include "harness/experiment/experiment.h"

int cmd_keys(int argc, char **argv) {
    const CliCommand *cmd = cli_find("keys");
    char *pos[1];
    int npos;
    bool help;
    VbStatus s = cli_parse(cmd, argc, argv, NULL, pos, 1, &npos, &help);
    if (s != VB_OK) return cli_usage_error(cmd, vb_errmsg());
    if (help) return 0;
    static const char *sections[] = {"dataset", "model", "train", "eval"};
    RunConfig d;
    run_config_defaults(&d);
    bool any = false;
    for (int i = 0; i < 4; i++) {
        if (npos && strcmp(pos[0], sections[i]) != 0) continue;
        void *obj;
        const CfgSchema *sc = schema_section(sections[i], &d, &obj);
        if (any) printf("\n");
        printf("### %s\n\n", sections[i]);
        cfg_print_schema(sc, obj, stdout);
        any = true;
    }
    if (!npos || !strcmp(pos[0], "compare")) {
        if (any) printf("\n");
        printf("### compare\n\n");
        claims_print_keys(stdout);
        any = true;
    }
    if (!any) {
        char msg[128];
        snprintf(msg, sizeof msg, "unknown section '%s' (dataset, model, train, eval, compare)",
                 pos[0]);
        return cli_usage_error(cmd, msg);
    }
    return 0;
}
