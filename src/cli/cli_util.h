/* Helpers shared by the command implementations in src/cli/. */
#ifndef NEUROFIT_CLI_UTIL_H
#define NEUROFIT_CLI_UTIL_H

#include <stdint.h>

/* Exit codes: 0 success, 1 failure while running, 2 bad usage or input. */
enum { NF_EXIT_OK = 0, NF_EXIT_FAIL = 1, NF_EXIT_USAGE = 2 };

/* Print "neurofit <cmd>: <message>\n" to stderr; returns code. */
int nf_cli_error(const char *cmd, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Strict number parsing: the whole string must be a finite number. */
int nf_cli_parse_double(const char *s, double *out);
int nf_cli_parse_i64(const char *s, int64_t *out);

/* Split "a,b,c" numbers after a prefix like "step:"; returns count or -1. */
int nf_cli_parse_list(const char *s, double *out, int max);

/* A whole text file (at most 256 MiB) as a NUL-terminated string to free();
 * NULL when it cannot be read. */
char *nf_cli_read_text(const char *path);

/* Value of an option "--name VALUE" at argv[*i]; advances *i. NULL if missing. */
const char *nf_cli_value(int argc, char **argv, int *i);

#endif
