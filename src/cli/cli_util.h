/* Helpers shared by the command implementations in src/cli/: exit codes,
 * messages, number parsing, and the option parser every command uses.
 *
 * Options: each command lists its options in one `struct option` table
 * (getopt_long's), ending in NF_CLI_OPT_END. The options several commands
 * share are defined once here (NF_CLI_OPT_BACKEND ... NF_CLI_OPT_FORCE) and
 * parsed by nf_cli_next into an nf_cli_common; a command's own options come
 * back to its switch with their value:
 *
 *   static const struct option opts[] = {NF_CLI_OPT_HELP, NF_CLI_OPT_OUT,
 *       {"budget", required_argument, NULL, O_BUDGET}, NF_CLI_OPT_END};
 *   nf_cli_common c = {0};
 *   nf_cli_parser p;
 *   nf_cli_parser_init(&p, "fit", argc, argv, opts, &c);
 *   for (int k; (k = nf_cli_next(&p)) != NF_CLI_END;)
 *       switch (k) {
 *       case NF_CLI_HELP: usage(stdout); return NF_EXIT_OK;
 *       case NF_CLI_ERROR: return p.rc;            (the message is printed)
 *       case NF_CLI_ARG: file = p.arg; break;      (a positional argument)
 *       case O_BUDGET: ... p.arg ...; break;
 *       }
 */
#ifndef NEUROFIT_CLI_UTIL_H
#define NEUROFIT_CLI_UTIL_H

#include "neurofit/engine.h"
#include "neurofit/fileio.h"
#include "neurofit/recording.h"

#include <getopt.h>
#include <stdio.h>
#include <signal.h>
#include <stdint.h>

/* Exit codes (README's table): 0 success; 1 the run failed (I/O error, disk
 * full, out of memory, --out in use by another neurofit); 2 bad usage or
 * input (a message names it); 130 interrupted (SIGINT, SIGTERM, SIGHUP or
 * SIGQUIT). */
enum { NF_EXIT_OK = 0, NF_EXIT_FAIL = 1, NF_EXIT_USAGE = 2, NF_EXIT_INTERRUPTED = 130 };

/* Print "neurofit <cmd>: <message>\n" to stderr; returns code. */
int nf_cli_error(const char *cmd, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* n with a comma between groups of three digits ("8,704") into out; returns out. */
const char *nf_cli_thousands(char *out, size_t cap, int64_t n);

/* Strict number parsing: the whole string must be a finite number. */
int nf_cli_parse_double(const char *s, double *out);
int nf_cli_parse_i64(const char *s, int64_t *out);

/* "all" or "0,2,5-7" -> mask[0..n) of a file's sweeps; 0, or NF_EXIT_USAGE
 * with the message printed (naming option opt; nf_cli_parse_sweeps: --sweeps). */
int nf_cli_parse_indices(const char *cmd, const char *opt, const char *spec, int n, unsigned char *mask,
                         const char *file);
int nf_cli_parse_sweeps(const char *cmd, const char *spec, int n, unsigned char *mask, const char *file);
/* A size-like count: digits, or a number like 1e6 that is whole; 1 when it
 * is one and lies in [lo, hi], else 0 (the caller names the range). */
int nf_cli_parse_count(const char *s, int64_t lo, int64_t hi, int64_t *out);

/* This machine's memory in bytes (0 when unknown): size-like options whose
 * buffers would not fit are range errors before anything is allocated. */
double nf_cli_memory_bytes(void);

/* 0 when bytes fit in this machine's memory, else the message "<what>:
 * needs X GB of memory, more than this machine's Y GB (<hint>)" and exit 2. */
int nf_cli_check_memory(const char *cmd, double bytes, const char *what, const char *hint);

/* --time START:END (ms, 0 <= START < END): 0, or NF_EXIT_USAGE with the message printed. */
int nf_cli_parse_time(const char *cmd, const char *v, double *t0, double *t1);

/* A waveform file (pA): .npy [T] (one row) or [P][T] (P rows), or one number
 * per line: *w [*n_waves][T], the caller's to free. 0, or an exit code with
 * the message printed (naming option opt and the file). */
int nf_cli_read_waves(const char *cmd, const char *opt, const char *path, int64_t T, int64_t P, float **w,
                      int64_t *n_waves);

/* Split "a,b,c" numbers after a prefix like "step:"; returns count or -1. */
int nf_cli_parse_list(const char *s, double *out, int max);

/* ---- dispatch ------------------------------------------------------------ */

/* A command of a dispatch table (the command table of `neurofit`, the
 * subcommands of `neurofit sbi`). */
typedef struct nf_cli_command {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the name */
    const char *help;
} nf_cli_command;

/* Run the command named by argv[1]: with none, the usage on stderr and exit
 * 2; --help or -h, the usage on stdout and 0; an unknown name, "<prog>:
 * unknown <kind> 'X'" and the usage, exit 2. The usage is "usage: <prog>
 * <kind> [options]", the table, and footer. */
int nf_cli_dispatch(const char *prog, const char *kind, const char *footer, const nf_cli_command *cmds, int n_cmds,
                    int argc, char **argv);
void nf_cli_dispatch_usage(FILE *fp, const char *prog, const char *kind, const char *footer,
                           const nf_cli_command *cmds, int n_cmds);
/* ---- output directory and signals ------------------------------------- */

/* The start of a command that writes an output set into out: takes the
 * writer's lock (another writer: exit 1 naming its pid; an unusable
 * directory: exit 2), says on stderr what the lock cleaned up after dead
 * writers, and refuses a directory whose complete earlier set has marker
 * (results.json, meta.json, ...) unless force (exit 2). Returns 0 with *lk
 * held (nf_cli_out_end it), or the exit code with a message printed. */
int nf_cli_out_begin(const char *cmd, const char *out, const char *marker, int force, nf_out_lock **lk);
/* Let go of it (NULL is accepted). */
void nf_cli_out_end(nf_out_lock *lk);

/* The signals that end a run: SIGINT, SIGTERM, SIGHUP, SIGQUIT. While a
 * command computes with nothing staged they end it at once with exit 130
 * (NF_CLI_STOP_EXIT; the lock file goes with the process); while it writes, or
 * where it can stop cleanly, they only set nf_cli_stop (NF_CLI_STOP_FLAG),
 * which it polls where it can (an output set is never cut short: the
 * stage is removed, or the commit completes); NF_CLI_STOP_DEFAULT puts back
 * the defaults. */
enum { NF_CLI_STOP_DEFAULT, NF_CLI_STOP_EXIT, NF_CLI_STOP_FLAG };
extern volatile sig_atomic_t nf_cli_stop; /* the signal caught in NF_CLI_STOP_FLAG mode, else 0 */
void nf_cli_stop_mode(int mode);

/* ---- options ------------------------------------------------------------ */

/* What nf_cli_next returns besides a command's own option keys (which start
 * at NF_CLI_OWN). The shared options never come back: they fill the
 * nf_cli_common. */
enum {
    NF_CLI_END = -1,   /* no more arguments */
    NF_CLI_ARG = 1,    /* a positional argument in p->arg */
    NF_CLI_ERROR = 2,  /* a message was printed; p->rc is the exit code */
    NF_CLI_HELP = 'h', /* --help or -h */
    NF_CLI_BACKEND = 0x100, NF_CLI_THREADS, NF_CLI_SEED, NF_CLI_QUIET, NF_CLI_OUT, NF_CLI_FORCE,
    NF_CLI_COLUMNS, NF_CLI_DT, NF_CLI_CHANNEL, NF_CLI_CURRENT, NF_CLI_CURRENT_FILE, NF_CLI_DEVICES,
    NF_CLI_OWN = 0x200 /* a command's own keys: NF_CLI_OWN, NF_CLI_OWN + 1, ... */
};

/* The shared options, each defined here once. */
#define NF_CLI_OPT_HELP {"help", no_argument, NULL, NF_CLI_HELP}
#define NF_CLI_OPT_BACKEND {"backend", required_argument, NULL, NF_CLI_BACKEND}
#define NF_CLI_OPT_THREADS {"threads", required_argument, NULL, NF_CLI_THREADS}
/* --devices all|0,1,...: the CUDA devices a batch is split over (simulate,
 * fit, sbi simulate, bench); with the cpu backend it is a usage error (exit
 * 2, naming --devices: the CPU runs on --threads). */
#define NF_CLI_OPT_DEVICES {"devices", required_argument, NULL, NF_CLI_DEVICES}
#define NF_CLI_HELP_DEVICES                                                                                        \
    "  --devices all|0,1,...  CUDA devices a batch is split over (default 0; cuda backend only)\n"
#define NF_CLI_OPT_SEED {"seed", required_argument, NULL, NF_CLI_SEED}
#define NF_CLI_OPT_QUIET {"quiet", no_argument, NULL, NF_CLI_QUIET}
#define NF_CLI_OPT_OUT {"out", required_argument, NULL, NF_CLI_OUT}
#define NF_CLI_OPT_FORCE {"force", no_argument, NULL, NF_CLI_FORCE}
/* How the commands that read recordings (info, features, fit, export) read
 * them: filled into the parser's nf_recording_options (p->recording). */
#define NF_CLI_OPT_COLUMNS {"columns", required_argument, NULL, NF_CLI_COLUMNS}
#define NF_CLI_OPT_DT {"dt", required_argument, NULL, NF_CLI_DT}
#define NF_CLI_OPT_CHANNEL {"channel", required_argument, NULL, NF_CLI_CHANNEL}
#define NF_CLI_OPT_CURRENT {"current", required_argument, NULL, NF_CLI_CURRENT}
#define NF_CLI_OPT_CURRENT_FILE {"current-file", required_argument, NULL, NF_CLI_CURRENT_FILE}
#define NF_CLI_OPTS_RECORDING                                                                                      \
    NF_CLI_OPT_COLUMNS, NF_CLI_OPT_DT, NF_CLI_OPT_CHANNEL, NF_CLI_OPT_CURRENT, NF_CLI_OPT_CURRENT_FILE
/* Their --help lines. */
#define NF_CLI_HELP_RECORDING                                                                                      \
    "  --columns SPEC   name the columns of a text file or a 2-D .npy table, e.g. \"t[s] I[pA] V[mV]\"\n"           \
    "                   (without it: a header line names them; unnamed, two are t V, one is V with --dt;\n"      \
    "                   three or more unnamed columns are refused)\n"                                            \
    "  --dt MS          sample interval for a table without a time column\n"                                   \
    "  --channel N      ABF: the ADC channel of the voltage (default: the first in mV)\n"                       \
    "  --current recorded|protocol|FILE  the recorded current, the one rebuilt from the ABF protocol, or\n"   \
    "                   a file's (default: the recorded one when a channel records it)\n"                       \
    "  --current-file F IBW: the current wave paired with a voltage wave (default: its _Ch0_ twin)\n"
#define NF_CLI_OPT_END {NULL, 0, NULL, 0}

/* The shared options' values; set the command's defaults before parsing
 * (zero: backend auto, all cores, seed 0, not quiet, no --out, no --force). */
typedef struct nf_cli_common {
    nf_backend backend; /* --backend auto|cpu|cuda */
    int backend_all;    /* --backend all (only where the parser allows it) */
    int threads;        /* --threads N: 0..4096, 0 = all cores */
    const char *devices; /* --devices all|0,1,... (checked by nf_cli_check_devices), NULL: device 0 */
    uint64_t seed;      /* --seed S >= 0 */
    int quiet;          /* --quiet: no progress output */
    const char *out;    /* --out DIR */
    int force;          /* --force: replace earlier results */
} nf_cli_common;

typedef struct nf_cli_parser {
    const char *cmd;            /* for messages: "neurofit <cmd>: ..." */
    int argc;
    char **argv;
    const struct option *opts;  /* the command's table, NF_CLI_OPT_END last */
    nf_cli_common *common;      /* filled by the shared options */
    nf_recording_options *recording; /* filled by NF_CLI_OPTS_RECORDING */
    int allow_backend_all;      /* accept --backend all (bench) */
    const char *arg;            /* the value of the option just returned, or the positional argument */
    char name[64];              /* that option as it is spelled ("--budget"), for messages */
    int rc;                     /* the exit code after NF_CLI_ERROR */
    int rest;                   /* arguments after "--": all positional */
} nf_cli_parser;

void nf_cli_parser_init(nf_cli_parser *p, const char *cmd, int argc, char **argv, const struct option *opts,
                        nf_cli_common *common);

/* The next option or argument of p->argv (from argv[1]); see the keys above.
 * Unknown options, missing values and bad shared values print a message and
 * return NF_CLI_ERROR with p->rc = NF_EXIT_USAGE. */
int nf_cli_next(nf_cli_parser *p);

/* After parsing: --devices against the backend and this machine's devices.
 * 0, or NF_EXIT_USAGE with a message naming --devices (the cpu backend, or
 * auto without a CUDA device; a device this machine does not have). */
int nf_cli_check_devices(const char *cmd, const nf_cli_common *c);

/* The engine of backend b (NF_BACKEND_AUTO: c's) with c's threads and, on
 * CUDA, c's devices. 0, or NF_EXIT_FAIL with the message printed. */
int nf_cli_engine_create(const char *cmd, const nf_cli_common *c, nf_backend b, nf_engine **e);

/* "unexpected argument X (see --help)" for a command without positional
 * arguments; returns NF_EXIT_USAGE. */
int nf_cli_unexpected(const nf_cli_parser *p);

#endif
