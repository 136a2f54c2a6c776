/* Helpers shared by the command implementations (src/cli/cli_util.h). */
#include "cli/cli_util.h"

#include "cli/cli_dist.h"
#include "neurofit/npy.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int nf_cli_error(const char *cmd, int code, const char *fmt, ...)
{
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!nf_cli_dist_keep_error(msg)) /* ranks > 0 of an MPI job: rank 0 says it */
        fprintf(stderr, "neurofit %s: %s\n", cmd, msg);
    return code;
}

const char *nf_cli_thousands(char *out, size_t cap, int64_t n)
{
    char d[32];
    int len = snprintf(d, sizeof d, "%lld", (long long)(n < 0 ? -n : n)), k = 0;
    char buf[48];
    if (n < 0)
        buf[k++] = '-';
    for (int i = 0; i < len; i++) {
        if (i && (len - i) % 3 == 0)
            buf[k++] = ',';
        buf[k++] = d[i];
    }
    buf[k] = 0;
    snprintf(out, cap, "%s", buf);
    return out;
}

int nf_cli_parse_double(const char *s, double *out)
{
    if (!s || !*s) return 0;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v)) return 0;
    *out = v;
    return 1;
}

int nf_cli_parse_i64(const char *s, int64_t *out)
{
    if (!s || !*s) return 0;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end) return 0;
    *out = v;
    return 1;
}

int nf_cli_parse_count(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    int64_t n;
    double d;
    if (nf_cli_parse_i64(s, &n)) {
        /* digits */
    } else if (nf_cli_parse_double(s, &d) && d == floor(d) && fabs(d) < 9.2e18) {
        n = (int64_t)d; /* 1e6 */
    } else
        return 0;
    if (n < lo || n > hi)
        return 0;
    *out = n;
    return 1;
}

double nf_cli_memory_bytes(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && size > 0 ? (double)pages * (double)size : 0;
}

int nf_cli_check_memory(const char *cmd, double bytes, const char *what, const char *hint)
{
    double mem = nf_cli_memory_bytes();
    if (mem <= 0 || bytes <= mem)
        return 0;
    return nf_cli_error(cmd, NF_EXIT_USAGE, "%s: needs %.3g GB of memory, more than this machine's %.3g GB (%s)", what,
                        bytes * 1e-9, mem * 1e-9, hint);
}

int nf_cli_parse_list(const char *s, double *out, int max)
{
    int n = 0;
    char buf[256];
    if (strlen(s) >= sizeof buf) return -1;
    strcpy(buf, s);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n >= max || !nf_cli_parse_double(tok, &out[n])) return -1;
        n++;
    }
    return n;
}

/* ---- dispatch ------------------------------------------------------------ */

void nf_cli_dispatch_usage(FILE *fp, const char *prog, const char *kind, const char *footer,
                           const nf_cli_command *cmds, int n_cmds)
{
    fprintf(fp, "usage: %s <%s> [options]\n\n%ss:\n", prog, kind, kind);
    for (int i = 0; i < n_cmds; i++)
        fprintf(fp, "  %-10s %s\n", cmds[i].name, cmds[i].help);
    fprintf(fp, "\n%s\n", footer);
}

int nf_cli_dispatch(const char *prog, const char *kind, const char *footer, const nf_cli_command *cmds, int n_cmds,
                    int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        nf_cli_dispatch_usage(argc < 2 ? stderr : stdout, prog, kind, footer, cmds, n_cmds);
        return argc < 2 ? NF_EXIT_USAGE : NF_EXIT_OK;
    }
    for (int i = 0; i < n_cmds; i++)
        if (!strcmp(argv[1], cmds[i].name))
            return cmds[i].run(argc - 1, argv + 1);
    fprintf(stderr, "%s: unknown %s '%s'\n\n", prog, kind, argv[1]);
    nf_cli_dispatch_usage(stderr, prog, kind, footer, cmds, n_cmds);
    return NF_EXIT_USAGE;
}

/* ---- output directory and signals ------------------------------------- */

static char lock_path[4096]; /* the lock file of this command's --out, for on_stop */

int nf_cli_out_begin(const char *cmd, const char *out, const char *marker, int force, nf_out_lock **lk)
{
    *lk = NULL;
    nf_status s = nf_out_lock_acquire(out, lk);
    if (s)
        return nf_cli_error(cmd, s == NF_EBUSY ? NF_EXIT_FAIL : NF_EXIT_USAGE, "--out %s: %s", out, nf_errmsg());
    const char *notes = nf_out_lock_notes(*lk);
    for (const char *line = notes; *line;) {
        size_t n = strcspn(line, "\n");
        fprintf(stderr, "neurofit %s: %.*s\n", cmd, (int)n, line);
        line += n + (line[n] == '\n');
    }
    char p[4096];
    if (!force && marker && nf_path_join(p, sizeof p, out, marker) == NF_OK && access(p, F_OK) == 0) {
        nf_out_lock_release(*lk);
        *lk = NULL;
        return nf_cli_error(cmd, NF_EXIT_USAGE,
                            "--out %s holds earlier results (%s): give another --out, or --force to replace them", out,
                            marker);
    }
    snprintf(lock_path, sizeof lock_path, "%s", nf_out_lock_path(*lk));
    return 0;
}

void nf_cli_out_end(nf_out_lock *lk)
{
    lock_path[0] = 0; /* before letting go: the file may be another writer's next */
    nf_out_lock_release(lk);
}

volatile sig_atomic_t nf_cli_stop;
static volatile sig_atomic_t stop_mode;
static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

static void on_stop(int sig)
{
    if (stop_mode == NF_CLI_STOP_EXIT) { /* nothing staged yet: only the lock file to remove */
        if (lock_path[0])
            unlink(lock_path);
        _exit(NF_EXIT_INTERRUPTED);
    }
    nf_cli_stop = sig;
}

void nf_cli_stop_mode(int mode)
{
    stop_mode = mode;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = mode == NF_CLI_STOP_DEFAULT ? SIG_DFL : on_stop;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof stop_signals / sizeof stop_signals[0]; i++)
        sigaction(stop_signals[i], &sa, NULL);
}

/* ---- options ------------------------------------------------------------ */

/* "all" or "0,2,5-7" -> mask over n sweeps; NF_EXIT_USAGE (the message
 * printed) on a bad spec. */
int nf_cli_parse_indices(const char *cmd, const char *opt, const char *spec, int n, unsigned char *mask,
                         const char *file)
{
    memset(mask, 0, (size_t)n);
    if (!strcmp(spec, "all")) {
        memset(mask, 1, (size_t)n);
        return 0;
    }
    char sq[128], rq[128]; /* the spec and its rest, quoted printable */
    nf_excerpt(sq, sizeof sq, spec, (size_t)-1);
    const char *p = spec;
    while (*p) {
        char *end;
        long a = strtol(p, &end, 10), b = a;
        if (end == p)
            return nf_cli_error(cmd, NF_EXIT_USAGE, "%s \"%s\": expected numbers like 0,2,5-7", opt, sq);
        if (*end == '-') {
            const char *q = end + 1;
            b = strtol(q, &end, 10);
            if (end == q) return nf_cli_error(cmd, NF_EXIT_USAGE, "%s \"%s\": bad range", opt, sq);
        }
        if (b < a)
            return nf_cli_error(cmd, NF_EXIT_USAGE, "%s \"%s\": the range %ld-%ld runs backwards (%ld-%ld?)", opt, sq,
                                a, b, b, a);
        if (a < 0 || b >= n)
            return nf_cli_error(cmd, NF_EXIT_USAGE, "%s \"%s\": %s has sweeps 0..%d", opt, sq, file, n - 1);
        for (long k = a; k <= b; k++) mask[k] = 1;
        if (*end == ',')
            end++;
        else if (*end)
            return nf_cli_error(cmd, NF_EXIT_USAGE, "%s \"%s\": unexpected \"%s\"", opt, sq,
                                nf_excerpt(rq, sizeof rq, end, (size_t)-1));
        p = end;
    }
    return 0;
}

int nf_cli_parse_sweeps(const char *cmd, const char *spec, int n, unsigned char *mask, const char *file)
{
    return nf_cli_parse_indices(cmd, "--sweeps", spec, n, mask, file);
}

int nf_cli_parse_time(const char *cmd, const char *v, double *t0, double *t1)
{
    const char *colon = strchr(v, ':');
    char a[64];
    if (!colon || (size_t)(colon - v) >= sizeof a)
        return nf_cli_error(cmd, NF_EXIT_USAGE, "--time %s: expected START:END in ms", v);
    snprintf(a, sizeof a, "%.*s", (int)(colon - v), v);
    if (!nf_cli_parse_double(a, t0) || !nf_cli_parse_double(colon + 1, t1) || *t0 < 0 || !(*t1 > *t0))
        return nf_cli_error(cmd, NF_EXIT_USAGE, "--time %s: expected START:END in ms, 0 <= START < END", v);
    return 0;
}

int nf_cli_read_waves(const char *cmd, const char *opt, const char *path, int64_t T, int64_t P, float **w,
                      int64_t *n_waves)
{
    *w = NULL;
    size_t len = strlen(path);
    if (len > 4 && !strcmp(path + len - 4, ".npy")) {
        int ndim;
        int64_t shape[4];
        if (nf_npy_read_f32(path, w, &ndim, shape, 4))
            return nf_cli_error(cmd, NF_EXIT_USAGE, "%s: %s", opt, nf_errmsg());
        int64_t rows = ndim == 2 ? shape[0] : 1, cols = ndim == 2 ? shape[1] : shape[0];
        if (ndim > 2 || cols != T || (rows != 1 && rows != P)) {
            free(*w);
            *w = NULL;
            return nf_cli_error(cmd, NF_EXIT_USAGE, "%s %s: shape %lldx%lld does not match %lld samples for 1 or %lld "
                                "rows", opt, path, (long long)rows, (long long)cols, (long long)T, (long long)P);
        }
        for (int64_t k = 0; k < rows * cols; k++)
            if (!isfinite((*w)[k])) {
                free(*w);
                *w = NULL;
                return nf_cli_error(cmd, NF_EXIT_USAGE, "%s %s: sample %lld is not finite", opt, path, (long long)k);
            }
        *n_waves = rows;
        return 0;
    }
    FILE *fp = fopen(path, "r");
    if (!fp) return nf_cli_error(cmd, NF_EXIT_USAGE, "%s: cannot open %s", opt, path);
    float *buf = malloc(sizeof(float) * (size_t)(T > 0 ? T : 1));
    int64_t n = 0;
    char *line = NULL, q[128];
    size_t line_cap = 0;
    long lineno = 0;
    for (ssize_t got; buf && (got = getline(&line, &line_cap, fp)) >= 0;) {
        lineno++;
        size_t used = (size_t)got;
        while (used && (line[used - 1] == '\n' || line[used - 1] == '\r')) used--;
        int nul = strlen(line) < used; /* a NUL would end the number early */
        line[used] = 0;
        char *s = line;
        while (isspace((unsigned char)*s)) s++;
        if (!nul && (!*s || *s == '#')) continue;
        double v;
        if (nul || !nf_cli_parse_double(s, &v)) {
            fclose(fp);
            free(buf);
            int rc = nf_cli_error(cmd, NF_EXIT_USAGE, "%s %s line %ld: '%s' is not a finite number (pA)", opt, path,
                                  lineno, nf_excerpt(q, sizeof q, line, used));
            free(line);
            return rc;
        }
        if (n < T) buf[n] = (float)v;
        n++;
    }
    free(line);
    fclose(fp);
    if (!buf) return nf_cli_error(cmd, NF_EXIT_FAIL, "out of memory");
    if (n != T) {
        free(buf);
        return nf_cli_error(cmd, NF_EXIT_USAGE, "%s %s: %lld samples, expected %lld", opt, path, (long long)n,
                            (long long)T);
    }
    *w = buf;
    *n_waves = 1;
    return 0;
}

void nf_cli_parser_init(nf_cli_parser *p, const char *cmd, int argc, char **argv, const struct option *opts,
                        nf_cli_common *common)
{
    *p = (nf_cli_parser){.cmd = cmd, .argc = argc, .argv = argv, .opts = opts, .common = common};
    optind = 0; /* glibc: a full reinitialisation, argv[0] is the command name */
    opterr = 0; /* the messages are ours */
}

/* Print a usage error for p and return NF_CLI_ERROR. */
#define FAIL(p, ...) ((p)->rc = nf_cli_error((p)->cmd, NF_EXIT_USAGE, __VA_ARGS__), NF_CLI_ERROR)

/* Shared options: store the value; NF_CLI_ERROR on a bad one, else 0. */
static int shared(nf_cli_parser *p, int key)
{
    nf_cli_common *c = p->common;
    int64_t n;
    switch (key) {
    case NF_CLI_BACKEND:
        c->backend_all = p->allow_backend_all && !strcmp(p->arg, "all");
        if (!c->backend_all && nf_backend_parse(p->arg, &c->backend))
            return FAIL(p, "--backend: %s", nf_errmsg());
        return 0;
    case NF_CLI_THREADS:
        if (!nf_cli_parse_i64(p->arg, &n) || n < 0 || n > 4096)
            return FAIL(p, "--threads %s: need 0..4096 (0 = all cores)", p->arg);
        c->threads = (int)n;
        return 0;
    case NF_CLI_DEVICES: {
        int ids[NF_MAX_DEVICES], nd;
        if (nf_devices_parse(p->arg, ids, NF_MAX_DEVICES, &nd)) return FAIL(p, "--devices: %s", nf_errmsg());
        c->devices = p->arg;
        return 0;
    }
    case NF_CLI_SEED:
        if (!nf_cli_parse_i64(p->arg, &n) || n < 0)
            return FAIL(p, "--seed %s: need an integer >= 0", p->arg);
        c->seed = (uint64_t)n;
        return 0;
    case NF_CLI_QUIET: c->quiet = 1; return 0;
    case NF_CLI_OUT: c->out = p->arg; return 0;
    case NF_CLI_FORCE: c->force = 1; return 0;
    }
    nf_recording_options *r = p->recording;
    switch (key) {
    case NF_CLI_COLUMNS: r->columns = p->arg; return 0;
    case NF_CLI_DT:
        if (!nf_cli_parse_double(p->arg, &r->dt_ms) || !(r->dt_ms > 0))
            return FAIL(p, "--dt %s: need a sample interval > 0 ms", p->arg);
        return 0;
    case NF_CLI_CHANNEL:
        if (!nf_cli_parse_i64(p->arg, &n) || n < 0 || n > 255)
            return FAIL(p, "--channel %s: need a channel 0..255", p->arg);
        r->v_channel = (int)n;
        return 0;
    case NF_CLI_CURRENT:
        if (!strcmp(p->arg, "recorded"))
            r->current = NF_CURRENT_RECORDED;
        else if (!strcmp(p->arg, "protocol"))
            r->current = NF_CURRENT_PROTOCOL;
        else if (access(p->arg, R_OK) == 0) /* a file: the IBW current wave (fit also takes any waveform file) */
            r->current_path = p->arg;
        else
            return FAIL(p, "--current %s: use recorded or protocol, or name a current file (%s)", p->arg,
                        strerror(errno));
        return 0;
    case NF_CLI_CURRENT_FILE: r->current_path = p->arg; return 0;
    }
    return 0;
}

int nf_cli_next(nf_cli_parser *p)
{
    for (;;) {
        p->arg = NULL;
        p->name[0] = 0;
        if (p->rest) { /* after "--" every argument is positional */
            if (optind >= p->argc) return NF_CLI_END;
            p->arg = p->argv[optind++];
            return NF_CLI_ARG;
        }
        int idx = -1;
        /* "-": positional arguments come back in order as 1; ":": a missing value is ':' */
        int k = getopt_long(p->argc, p->argv, "-:h", p->opts, &idx);
        if (k == -1) {
            p->rest = 1;
            continue;
        }
        const char *as_written = p->argv[optind - 1];
        if (k == '?' || k == ':') {
            char shortopt[3] = {'-', (char)optopt, 0};
            /* a long option is named as written; an unknown short one by its letter */
            const char *what = strncmp(as_written, "--", 2) && optopt > 0 && optopt < 128 ? shortopt : as_written;
            return k == '?' ? FAIL(p, "unknown option %s (see --help)", what) : FAIL(p, "%s needs a value", what);
        }
        if (k == NF_CLI_ARG) {
            p->arg = optarg;
            return NF_CLI_ARG;
        }
        if (idx >= 0)
            snprintf(p->name, sizeof p->name, "--%s", p->opts[idx].name);
        else
            snprintf(p->name, sizeof p->name, "-%c", k);
        p->arg = optarg;
        if (k >= NF_CLI_BACKEND && k < NF_CLI_OWN) {
            if (shared(p, k)) return NF_CLI_ERROR;
            continue;
        }
        return k;
    }
}

int nf_cli_unexpected(const nf_cli_parser *p)
{
    return nf_cli_error(p->cmd, NF_EXIT_USAGE, "unexpected argument %s (see --help)", p->arg);
}

int nf_cli_check_devices(const char *cmd, const nf_cli_common *c)
{
    if (!c->devices) return 0;
    if (!c->backend_all && c->backend == NF_BACKEND_CPU)
        return nf_cli_error(cmd, NF_EXIT_USAGE,
                            "--devices %s: the cpu backend runs on CPU threads, not devices (use --threads, or "
                            "--backend cuda)",
                            c->devices);
    int ids[NF_MAX_DEVICES], n, count = nf_cuda_device_count();
    if (nf_devices_parse(c->devices, ids, NF_MAX_DEVICES, &n))
        return nf_cli_error(cmd, NF_EXIT_USAGE, "--devices: %s", nf_errmsg());
    for (int k = 0; k < n; k++)
        if (ids[k] >= count)
            return nf_cli_error(cmd, NF_EXIT_USAGE, "--devices %s: device %d does not exist (this machine has %d CUDA device%s)",
                                c->devices, ids[k], count, count == 1 ? "" : "s");
    return 0;
}

int nf_cli_engine_create(const char *cmd, const nf_cli_common *c, nf_backend b, nf_engine **e)
{
    nf_status s = nf_engine_create(b == NF_BACKEND_AUTO ? c->backend : b, c->threads, e);
    if (!s && nf_engine_backend(*e) == NF_BACKEND_CUDA) s = nf_engine_use_devices(*e, c->devices);
    if (!s) return 0;
    nf_engine_destroy(*e);
    *e = NULL;
    return nf_cli_error(cmd, NF_EXIT_FAIL, "%s", nf_errmsg());
}
