/* cmd_keys: `vadbench keys` — print the documented experiment-file keys
 * (the source of experiments/README.md's tables). */
#include <stdio.h>
#include <string.h>

#include "harness/cli.h"
#include "harness/commands.h"
#include "harness/config.h"

int cmd_keys(int argc, char **argv) {
    const CliCommand *cmd = cli_find("keys");
    char *pos[1];
    int npos;
    bool help;
    VbStatus s = cli_parse(cmd, argc, argv, NULL, pos, 1, &npos, &help);
    if (s != VB_OK) return cli_usage_error(cmd, vb_errmsg());
    if (help) return 0;
    if (npos && strcmp(pos[0], "model") != 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "unknown section '%s' (known: model)", pos[0]);
        return cli_usage_error(cmd, msg);
    }
    ModelConfig d;
    model_config_defaults(&d);
    cfg_print_schema(&cfg_model_schema, &d, stdout);
    return 0;
}
