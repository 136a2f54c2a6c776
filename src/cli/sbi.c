/* `neurofit sbi <subcommand>`: simulation-based inference.
 *
 *   neurofit sbi simulate --preset bayesflow-lif --n N [--seed S] --out DIR
 *   neurofit sbi simulate --model M --prior SPEC|@FILE.json [--prior ...]
 *       [--stimulus step:AMP_pA,START_ms,STOP_ms[,AMP_HI_pA] | ou:MEAN_pA,SD_pA,TAU_ms
 *                   | file:PATH.npy] --dt MS --duration MS --n N [--seed S] --out DIR
 *   common: [--x traces|summaries|both] [--record-every K] [--no-stimulus-file]
 *           [--chunk C] [--max-tries K] [--backend auto|cpu|cuda] [--threads N] [--quiet]
 *
 * Every subcommand is one row of the table at the bottom; each is a thin layer
 * over the library (include/neurofit/sbi.h). */
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "neurofit/engine.h"
#include "neurofit/npy.h"
#include "neurofit/sbi.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CMD "sbi simulate"

static void usage_simulate(FILE *fp)
{
    fprintf(fp,
            "usage: neurofit sbi simulate --preset bayesflow-lif --n N [--seed S] --out DIR [options]\n"
            "       neurofit sbi simulate --model M --prior SPEC [--prior SPEC ...] [--stimulus S]\n"
            "                             --dt MS --duration MS --n N [--seed S] --out DIR [options]\n\n"
            "  --preset bayesflow-lif  the BayesFlow LIF study's simulator: lif6, dt 0.1 ms, 501 samples,\n"
            "                          its uniform priors and repair rule, its coloured-noise stimulus\n"
            "  --prior SPEC            NAME=uniform:LO,HI | loguniform:LO,HI | normal:MEAN,SD |\n"
            "                          truncnormal:MEAN,SD,LO,HI | fixed:VALUE; A<B (constraint);\n"
            "                          repair=bayesflow-lif; or @FILE.json. Unlisted parameters stay fixed\n"
            "                          at the model default. Constraints reject by default.\n"
            "  --stimulus S            step:AMP_pA,START_ms,STOP_ms[,AMP_HI_pA] (AMP_HI: per-simulation\n"
            "                          amplitude ~ U(AMP, AMP_HI)) | ou:MEAN_pA,SD_pA,TAU_ms (a fresh\n"
            "                          realisation per simulation) | file:PATH.npy ([T] or [N][T] pA)\n"
            "  --x traces|summaries|both   what x.npy holds (both: traces in x.npy, summaries.npy)\n"
            "  --record-every K        keep every K-th trace sample (default 1)\n"
            "  --no-stimulus-file      do not write stimulus.npy\n"
            "  --chunk C               simulations per chunk (memory ~ C x samples x 12 bytes; 8192)\n"
            "  --max-tries K           prior draws per simulation before a constraint is an error (10000)\n"
            "  outputs in DIR: theta.npy [N][d] f4, x.npy [N][T] f4 mV (or [N][5] summaries),\n"
            "  stimulus.npy [N][T] f4 pA (when stimuli differ), valid.npy [N] bool, meta.json (written\n"
            "  last: a dataset is complete when meta.json exists)\n");
}

typedef struct {
    int quiet;
    time_t t0;
    int last_pct;
} progress_state;

/* Ctrl-C / SIGTERM: stop after the current chunk; the library then removes
 * its staging directory and commits nothing. */
static volatile sig_atomic_t nf__stop;
static void on_signal(int sig) { nf__stop = sig; }

static int progress(void *user, int64_t done, int64_t total)
{
    progress_state *p = user;
    if (nf__stop) {
        if (!p->quiet) fputc('\n', stderr);
        return 1;
    }
    int pct = (int)(100 * done / total);
    if (!p->quiet && pct / 10 != p->last_pct / 10) {
        fprintf(stderr, "\rneurofit sbi: %lld / %lld simulations (%d%%)", (long long)done, (long long)total, pct);
        if (done == total) fputc('\n', stderr);
    }
    p->last_pct = pct;
    return 0;
}

static char *read_text(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    char *buf = NULL;
    if (fseek(fp, 0, SEEK_END) == 0) {
        long n = ftell(fp);
        if (n >= 0 && n < (1L << 24) && fseek(fp, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1))) {
            if (fread(buf, 1, (size_t)n, fp) != (size_t)n) {
                free(buf);
                buf = NULL;
            } else
                buf[n] = '\0';
        }
    }
    fclose(fp);
    return buf;
}

/* Parse --stimulus into cfg->stim; *waves receives a file's data (caller frees). */
static int parse_stimulus(const char *v, nf_sbi_config *cfg, float **waves, int64_t T)
{
    nf_sbi_stimulus *s = &cfg->stim;
    double a[4];
    if (!strncmp(v, "step:", 5)) {
        int n = nf_cli_parse_list(v + 5, a, 4);
        if (n != 3 && n != 4)
            return nf_cli_error(CMD, NF_EXIT_USAGE, "--stimulus %s: expected step:AMP_pA,START_ms,STOP_ms[,AMP_HI_pA]", v);
        s->kind = NF_SBI_STIM_STEP;
        s->amp_pA = a[0];
        s->start_ms = a[1];
        s->stop_ms = a[2];
        s->amp_hi_pA = n == 4 ? a[3] : 0;
        if (n == 4 && a[3] < a[0])
            return nf_cli_error(CMD, NF_EXIT_USAGE, "--stimulus %s: AMP_HI %g pA < AMP %g pA", v, a[3], a[0]);
    } else if (!strncmp(v, "ou:", 3)) {
        if (nf_cli_parse_list(v + 3, a, 4) != 3)
            return nf_cli_error(CMD, NF_EXIT_USAGE, "--stimulus %s: expected ou:MEAN_pA,SD_pA,TAU_ms", v);
        s->kind = NF_SBI_STIM_OU;
        s->mean_pA = a[0];
        s->sd_pA = a[1];
        s->tau_ms = a[2];
    } else if (!strncmp(v, "file:", 5)) {
        int ndim;
        int64_t shape[4];
        if (nf_npy_read_f32(v + 5, waves, &ndim, shape, 4))
            return nf_cli_error(CMD, NF_EXIT_USAGE, "--stimulus: %s", nf_errmsg());
        int64_t cols = ndim == 1 ? shape[0] : (ndim == 2 ? shape[1] : -1);
        if (cols != T)
            return nf_cli_error(CMD, NF_EXIT_USAGE, "--stimulus %s: %lld samples per waveform, the run has %lld",
                                v + 5, (long long)cols, (long long)T);
        s->kind = NF_SBI_STIM_FILE;
        s->waves = *waves;
        s->n_waves = ndim == 1 ? 1 : shape[0];
        snprintf(s->source, sizeof s->source, "%s", v + 5);
    } else {
        return nf_cli_error(CMD, NF_EXIT_USAGE, "--stimulus %s: expected step:..., ou:... or file:PATH", v);
    }
    return 0;
}

static int cmd_simulate(int argc, char **argv)
{
    const char *preset = NULL, *model_s = NULL, *out = NULL, *backend_s = "auto", *stim_s = NULL, *x_s = "traces";
    const char *priors[64];
    int n_priors = 0, quiet = 0, write_stim = 1;
    int64_t n = 0, seed = 0, chunk = 8192, threads = 0, every = 1, max_tries = 0;
    double dt = 0, duration = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage_simulate(stdout);
            return NF_EXIT_OK;
        }
        if (!strcmp(a, "--quiet")) {
            quiet = 1;
            continue;
        }
        if (!strcmp(a, "--no-stimulus-file")) {
            write_stim = 0;
            continue;
        }
        if (!(v = nf_cli_value(argc, argv, &i))) return nf_cli_error(CMD, NF_EXIT_USAGE, "%s needs a value", a);
        if (!strcmp(a, "--preset")) preset = v;
        else if (!strcmp(a, "--model")) model_s = v;
        else if (!strcmp(a, "--prior")) {
            if (n_priors == 64) return nf_cli_error(CMD, NF_EXIT_USAGE, "too many --prior options (max 64)");
            priors[n_priors++] = v;
        } else if (!strcmp(a, "--stimulus")) stim_s = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--backend")) backend_s = v;
        else if (!strcmp(a, "--x")) x_s = v;
        else if (!strcmp(a, "--dt")) {
            if (!nf_cli_parse_double(v, &dt) || dt <= 0) return nf_cli_error(CMD, NF_EXIT_USAGE, "--dt %s: need ms > 0", v);
        } else if (!strcmp(a, "--duration")) {
            if (!nf_cli_parse_double(v, &duration) || duration <= 0)
                return nf_cli_error(CMD, NF_EXIT_USAGE, "--duration %s: need ms > 0", v);
        } else if (!strcmp(a, "--n")) {
            if (!nf_cli_parse_i64(v, &n) || n < 1) return nf_cli_error(CMD, NF_EXIT_USAGE, "--n %s: need an integer >= 1", v);
        } else if (!strcmp(a, "--seed")) {
            if (!nf_cli_parse_i64(v, &seed) || seed < 0)
                return nf_cli_error(CMD, NF_EXIT_USAGE, "--seed %s: need an integer >= 0", v);
        } else if (!strcmp(a, "--chunk")) {
            if (!nf_cli_parse_i64(v, &chunk) || chunk < 1 || chunk > (1 << 24))
                return nf_cli_error(CMD, NF_EXIT_USAGE, "--chunk %s: need 1..16777216", v);
        } else if (!strcmp(a, "--record-every")) {
            if (!nf_cli_parse_i64(v, &every) || every < 1)
                return nf_cli_error(CMD, NF_EXIT_USAGE, "--record-every %s: need an integer >= 1", v);
        } else if (!strcmp(a, "--max-tries")) {
            if (!nf_cli_parse_i64(v, &max_tries) || max_tries < 1)
                return nf_cli_error(CMD, NF_EXIT_USAGE, "--max-tries %s: need an integer >= 1", v);
        } else if (!strcmp(a, "--threads")) {
            if (!nf_cli_parse_i64(v, &threads) || threads < 0 || threads > 4096)
                return nf_cli_error(CMD, NF_EXIT_USAGE, "--threads %s: need 0..4096 (0 = all cores)", v);
        } else
            return nf_cli_error(CMD, NF_EXIT_USAGE, "unknown option %s (see --help)", a);
    }
    if (!out) return nf_cli_error(CMD, NF_EXIT_USAGE, "--out DIR is required");
    if (n < 1) return nf_cli_error(CMD, NF_EXIT_USAGE, "--n N is required");
    nf_sbi_x xk;
    if (!strcmp(x_s, "traces")) xk = NF_SBI_X_TRACES;
    else if (!strcmp(x_s, "summaries")) xk = NF_SBI_X_SUMMARIES;
    else if (!strcmp(x_s, "both")) xk = NF_SBI_X_BOTH;
    else return nf_cli_error(CMD, NF_EXIT_USAGE, "--x %s: expected traces, summaries or both", x_s);
    nf_backend backend;
    if (nf_backend_parse(backend_s, &backend)) return nf_cli_error(CMD, NF_EXIT_USAGE, "--backend: %s", nf_errmsg());

    nf_sbi_config cfg;
    nf_prior *prior = NULL;
    float *waves = NULL;
    int rc = NF_EXIT_OK;
    if (preset) {
        if (model_s || n_priors || stim_s || dt > 0 || duration > 0)
            return nf_cli_error(CMD, NF_EXIT_USAGE,
                                "--preset fixes the model, prior, stimulus, dt and duration; drop --model/--prior/"
                                "--stimulus/--dt/--duration");
        if (nf_sbi_preset(preset, (uint64_t)seed, &cfg, &prior))
            return nf_cli_error(CMD, NF_EXIT_USAGE, "--preset: %s", nf_errmsg());
    } else {
        if (!model_s) return nf_cli_error(CMD, NF_EXIT_USAGE, "give --preset NAME or --model M with --prior");
        if (!n_priors) return nf_cli_error(CMD, NF_EXIT_USAGE, "--prior is required with --model");
        if (!(dt > 0) || !(duration > 0)) return nf_cli_error(CMD, NF_EXIT_USAGE, "--dt and --duration are required");
        memset(&cfg, 0, sizeof cfg);
        cfg.model = nf_model_find(model_s);
        if (!cfg.model) return nf_cli_error(CMD, NF_EXIT_USAGE, "--model: %s", nf_errmsg());
        if (nf_prior_create(cfg.model, &prior)) return nf_cli_error(CMD, NF_EXIT_FAIL, "%s", nf_errmsg());
        cfg.prior = prior;
        cfg.dt_ms = dt;
        cfg.n_steps = (int64_t)(duration / dt + 0.5) + 1;
        cfg.seed = (uint64_t)seed;
        for (int k = 0; k < n_priors && rc == NF_EXIT_OK; k++) {
            const char *p = priors[k];
            if (p[0] == '@') {
                char *text = read_text(p + 1);
                if (!text) rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--prior: cannot read %s", p + 1);
                else if (nf_prior_parse_json(prior, text))
                    rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--prior %s: %s", p + 1, nf_errmsg());
                free(text);
            } else if (nf_prior_parse(prior, p))
                rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--prior %s: %s", p, nf_errmsg());
        }
        if (rc == NF_EXIT_OK && stim_s) rc = parse_stimulus(stim_s, &cfg, &waves, cfg.n_steps);
    }
    cfg.x = xk;
    cfg.record_every = every;
    if (rc == NF_EXIT_OK && max_tries > 0 && nf_prior_set_max_tries(prior, max_tries))
        rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--max-tries: %s", nf_errmsg());
    if (rc == NF_EXIT_OK && nf_sbi_config_validate(&cfg)) rc = nf_cli_error(CMD, NF_EXIT_USAGE, "%s", nf_errmsg());
    /* Draw the first simulation now: a prior that its constraints exclude is
     * a usage error, reported before any directory is touched. */
    if (rc == NF_EXIT_OK) {
        float theta[64];
        if (nf_prior_dim_count(prior) <= 64 && nf_prior_sample(prior, cfg.seed, 0, 1, theta, NULL))
            rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--prior: %s", nf_errmsg());
    }
    nf_engine *e = NULL;
    if (rc == NF_EXIT_OK && nf_engine_create(backend, (int)threads, &e))
        rc = nf_cli_error(CMD, NF_EXIT_FAIL, "%s", nf_errmsg());
    if (rc == NF_EXIT_OK) {
        char cmdline[2048] = "neurofit sbi";
        size_t len = strlen(cmdline);
        for (int i = 0; i < argc; i++) {
            int k = snprintf(cmdline + len, sizeof cmdline - len, " %s", argv[i]);
            if (k < 0 || (size_t)k >= sizeof cmdline - len) break;
            len += (size_t)k;
        }
        progress_state ps = {quiet, time(NULL), -10};
        nf_sbi_write_opts o = {n, chunk, write_stim, progress, &ps, cmdline};
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (nf_sbi_write_dataset(e, &cfg, out, &o)) rc = nf_cli_error(CMD, NF_EXIT_FAIL, "%s", nf_errmsg());
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double sec = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        if (rc == NF_EXIT_OK && !quiet)
            fprintf(stderr, "neurofit sbi: wrote %lld simulations of %s to %s in %.2f s (%s backend)\n",
                    (long long)n, cfg.model->name, out, sec, nf_backend_name(nf_engine_backend(e)));
    }
    nf_engine_destroy(e);
    nf_prior_destroy(prior);
    free(waves);
    return rc;
}

/* ---- subcommand table ------------------------------------------------------
 * One row per subcommand. Room for the inference side (library in src/sbc/):
 *   {"infer", cmd_infer, "posterior draws for observed traces from a training set"},
 *   {"sbc",   cmd_sbc,   "simulation-based calibration: ranks, ECDF bands, recovery"},
 * are added here when that library lands. */
typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} sbi_subcommand;

static const sbi_subcommand nf__sbi_commands[] = {
    {"simulate", cmd_simulate, "generate a training set (theta.npy, x.npy, ...) from a prior or a preset"},
    /* {"infer", ...}, {"sbc", ...}: see above */
};

static void usage(FILE *fp)
{
    fprintf(fp, "usage: neurofit sbi <subcommand> [options]\n\nsubcommands:\n");
    for (size_t i = 0; i < sizeof nf__sbi_commands / sizeof nf__sbi_commands[0]; i++)
        fprintf(fp, "  %-10s %s\n", nf__sbi_commands[i].name, nf__sbi_commands[i].help);
    fprintf(fp, "\n`neurofit sbi <subcommand> --help` describes its options.\n");
}

int nf_cli_sbi(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? NF_EXIT_USAGE : NF_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof nf__sbi_commands / sizeof nf__sbi_commands[0]; i++)
        if (!strcmp(argv[1], nf__sbi_commands[i].name)) return nf__sbi_commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "neurofit sbi: unknown subcommand '%s'\n\n", argv[1]);
    usage(stderr);
    return NF_EXIT_USAGE;
}
