/* cli: command table and option parsing shared by every subcommand.
 *
 * A command is a function taking argc/argv (argv[0] = command name) and
 * returning an exit code (0 ok, 1 check failed, 2 bad usage or input).
 * Options are parsed with cli_parse from a table of CliOpt; unknown options
 * and missing values give a one-line error plus the command's usage. */
#ifndef VB_CLI_H
#define VB_CLI_H

#include <stdbool.h>

#include "kernels/status.h"

typedef struct CliCommand {
    const char *name;
    const char *summary;
    const char *usage; /* full --help text (after "usage: vadbench ") */
    int (*fn)(int argc, char **argv);
} CliCommand;

typedef enum CliKind { CLI_FLAG, CLI_STR, CLI_INT, CLI_DOUBLE, CLI_CHOICE } CliKind;

typedef struct CliOpt {
    const char *name; /* long name without "--" */
    CliKind kind;
    void *out;                  /* bool*, const char**, int*, double*, int* (an enum, CLI_CHOICE) */
    const char *const *choices; /* CLI_CHOICE: the enum's names by value, NULL-terminated */
} CliOpt;

/* Parse argv[1..] against `opts`; positional arguments are collected into
 * pos (up to max_pos; *npos set). Handles --help (prints usage, returns
 * VB_ERR_CHECK as "stop with exit 0" marker via *help). Returns VB_ERR_USAGE
 * with a message on any error. --opt=value and --opt value both work. */
VbStatus cli_parse(const CliCommand *cmd, int argc, char **argv, const CliOpt *opts, char **pos,
                   int max_pos, int *npos, bool *help);

/* Print "vadbench CMD: message" and the usage line to stderr; returns 2. */
int cli_usage_error(const CliCommand *cmd, const char *msg);
/* Print the failing status' message prefixed by the command; returns its exit code. */
int cli_fail(const char *cmd, VbStatus s);

const CliCommand *cli_find(const char *name);
extern const CliCommand cli_commands[];
extern const int cli_ncommands;

#endif
