/* cli: option parsing and error reporting for subcommands. */
#include "harness/cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static VbStatus set_value(const CliOpt *o, const char *val) {
    char *end = NULL;
    errno = 0;
    switch (o->kind) {
    case CLI_STR: *(const char **)o->out = val; return VB_OK;
    case CLI_INT: {
        long v = strtol(val, &end, 10);
        if (errno || end == val || *end || v < -2147483647L || v > 2147483647L)
            return VB_FAIL(VB_ERR_USAGE, "option --%s expects an integer, got '%s'", o->name, val);
        *(int *)o->out = (int)v;
        return VB_OK;
    }
    case CLI_DOUBLE: {
        double v = strtod(val, &end);
        if (errno || end == val || *end)
            return VB_FAIL(VB_ERR_USAGE, "option --%s expects a number, got '%s'", o->name, val);
        *(double *)o->out = v;
        return VB_OK;
    }
    case CLI_CHOICE: {
        char list[256] = "";
        size_t u = 0;
        for (int i = 0; o->choices[i]; i++) {
            if (!strcmp(o->choices[i], val)) {
                *(int *)o->out = i;
                return VB_OK;
            }
            u += (size_t)snprintf(list + u, u < sizeof list ? sizeof list - u : 0, "%s%s",
                                  i ? ", " : "", o->choices[i]);
        }
        return VB_FAIL(VB_ERR_USAGE, "option --%s expects one of %s, got '%s'", o->name, list, val);
    }
    case CLI_FLAG: break;
    }
    return VB_FAIL(VB_ERR_USAGE, "option --%s takes no value", o->name);
}

VbStatus cli_parse(const CliCommand *cmd, int argc, char **argv, const CliOpt *opts, char **pos,
                   int max_pos, int *npos, bool *help) {
    *npos = 0;
    *help = false;
    bool only_pos = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_pos || a[0] != '-' || a[1] == 0) {
            if (*npos >= max_pos) return VB_FAIL(VB_ERR_USAGE, "unexpected argument '%s'", a);
            pos[(*npos)++] = argv[i];
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_pos = true;
            continue;
        }
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            *help = true;
            printf("usage: vadbench %s\n", cmd->usage);
            return VB_OK;
        }
        if (a[1] != '-') return VB_FAIL(VB_ERR_USAGE, "unknown option '%s'", a);
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const CliOpt *o = NULL;
        for (const CliOpt *p = opts; p && p->name; p++)
            if (strlen(p->name) == len && strncmp(p->name, name, len) == 0) o = p;
        if (!o) return VB_FAIL(VB_ERR_USAGE, "unknown option '--%.*s'", (int)len, name);
        if (o->kind == CLI_FLAG) {
            if (eq) return VB_FAIL(VB_ERR_USAGE, "option --%s takes no value", o->name);
            *(bool *)o->out = true;
            continue;
        }
        const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!val) return VB_FAIL(VB_ERR_USAGE, "option --%s needs a value", o->name);
        VB_TRY(set_value(o, val));
    }
    return VB_OK;
}

/* Strip the "file:line: " location from messages meant for users of the CLI
 * only when it points into cli.c itself (usage errors); keep it otherwise. */
static const char *user_message(const char *msg) {
    if (strncmp(msg, "cli.c:", 6) == 0) {
        const char *p = strstr(msg, ": ");
        if (p) return p + 2;
    }
    return msg;
}

int cli_usage_error(const CliCommand *cmd, const char *msg) {
    fprintf(stderr, "vadbench %s: %s\n", cmd->name, user_message(msg));
    fprintf(stderr, "usage: vadbench %s\n", cmd->usage);
    return 2;
}

int cli_fail(const char *cmd, VbStatus s) {
    fprintf(stderr, "vadbench %s: %s\n", cmd, user_message(vb_errmsg()));
    return vb_exit_code(s);
}

const CliCommand *cli_find(const char *name) {
    for (int i = 0; i < cli_ncommands; i++)
        if (strcmp(cli_commands[i].name, name) == 0) return &cli_commands[i];
    return NULL;
}
