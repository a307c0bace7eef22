/* validate: the one set of rules for values that come from users, shared
 * by the experiment-file reader and the command line, so that anything the
 * command line refuses is refused in a file too.
 *
 * Scalars are read as YAML 1.2's core schema writes them, and spellings
 * that YAML 1.1 reads differently are refused with a hint instead of being
 * guessed: an integer is [-+]?(0|[1-9][0-9]*) (so `010`, which YAML 1.1 and
 * C read as octal 8, is an error, as are 0x10, 0o10, 1_000 and 1:30); a
 * number is a decimal with an optional exponent, finite (nan, inf, .inf,
 * hex floats refused); a boolean is true or false (True/TRUE/False/FALSE
 * too; yes/no/on/off/y/n, YAML 1.1's booleans, refused). Names (experiment,
 * variant, holdout) are 1-63 characters of letters, digits, _ - and . .
 *
 * Must not be asked to: locate errors (callers own FILE:LINE:COL) or read
 * YAML (config.c and yaml_guard.c do). */
#ifndef VB_VALIDATE_H
#define VB_VALIDATE_H

#include <stdbool.h>

/* Longest name (without the terminating NUL) of an experiment, variant or
 * holdout. */
#define VB_NAME_MAX 63

/* The text as an integer; false when it is not one. *why (may be NULL)
 * then gets a hint for spellings that mean something else elsewhere
 * ("" when there is none). */
bool vb_text_integer(const char *text, long *out, const char **why);
/* The text as a finite decimal number (integers included). */
bool vb_text_number(const char *text, double *out, const char **why);
/* The text as a boolean. */
bool vb_text_bool(const char *text, bool *out, const char **why);

/* A check tolerance: a finite number >= 0. */
bool vb_valid_tolerance(double v);
/* A latency factor: a finite number > 1. */
bool vb_valid_latency_factor(double v);
/* An experiment, variant or holdout name (see above). */
bool vb_valid_name(const char *s);

#endif
