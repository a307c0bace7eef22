/* commands: the table of subcommands `vadbench` dispatches to. */
#include "cli.h"

const CliCommand cli_commands[] = {
    {"help", "describe the commands (`vadbench help CMD` for one)", "help [COMMAND]", NULL},
};
const int cli_ncommands = (int)(sizeof cli_commands / sizeof cli_commands[0]);
