/* `neurofit sbi simulate`: an SBI training set from a prior or a preset.
 *
 *   neurofit sbi simulate --preset bayesflow-lif --n N [--seed S] --out DIR
 *   neurofit sbi simulate --model M --prior SPEC|@FILE.json [--prior ...]
 *       [--stimulus step:AMP_pA,START_ms,STOP_ms[,AMP_HI_pA] | ou:MEAN_pA,SD_pA,TAU_ms
 *                   | file:PATH.npy] --dt MS --duration MS --n N [--seed S] --out DIR
 *   common: [--x traces|summaries|both | --summaries-only] [--record-every K] [--no-stimulus-file]
 *           [--chunk C] [--max-tries K] [--backend auto|cpu|cuda] [--threads N]
 *           [--devices all|0,1,...] [--quiet] [--force]
 *
 * A thin layer over nf_sbi_write_dataset (include/neurofit/sbi.h); under
 * mpirun (cli/cli_dist.h) every rank writes its range of simulations into the
 * same files (nf_dist_sbi_write_dataset, neurofit/dist.h). Sizes are
 * checked before anything is allocated (samples at most 1e9; a chunk that
 * would not fit in memory is made smaller, or refused when given); a DIR
 * that holds a complete dataset (meta.json) is refused unless --force; DIR
 * has one writer at a time. */
#include "cli/cli_dist.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "neurofit/dist.h"
#include "neurofit/engine.h"
#include "neurofit/fileio.h"
#include "neurofit/npy.h"
#include "neurofit/sbi.h"

#include <math.h>
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
            "  --summaries-only        no traces and no stimulus rows: theta.npy, x.npy [N][5] summaries,\n"
            "                          valid.npy, stimulus_params.npy [N][1] pA (each simulation's amplitude,\n"
            "                          when the stimulus has one; the rest follows from --seed)\n"
            "  --chunk C               simulations per chunk (memory ~ C x samples x 12 bytes; 8192)\n"
            "  --max-tries K           prior draws per simulation before a constraint is an error (10000)\n"
            "  --force                 replace a complete dataset in DIR\n"
            "  --devices all|0,1,...   CUDA devices a chunk is split over (default 0; cuda backend only)\n"
            "  outputs in DIR: theta.npy [N][d] f4, x.npy [N][T] f4 mV (or [N][5] summaries),\n"
            "  stimulus.npy [N][T] f4 pA (when stimuli differ), valid.npy [N] bool, meta.json (written\n"
            "  last: a dataset is complete when meta.json exists)\n");
}

typedef struct {
    int quiet;
    time_t t0;
    int last_pct;
} progress_state;

static int progress(void *user, int64_t done, int64_t total)
{
    progress_state *p = user;
    if (nf_cli_stop) { /* stop after the current chunk: the library removes its stage, commits nothing */
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

#define MAX_SAMPLES 1e9

/* The chunk size: memory for a chunk (the runner's buffers and the two
 * chunks in flight: parameters, stimuli, traces, summaries, at most ~4
 * floats per sample) within half of this machine's memory. A chunk given
 * (*chunk > 0) that does not fit is a range error; the default 8192 shrinks.
 * Outputs are the same for any chunk size. */
static int fit_chunk(const nf_sbi_config *cfg, int64_t n, int write_stim, int64_t *chunk)
{
    const double T = (double)cfg->n_steps, rec = ceil(T / (double)cfg->record_every);
    const double per_sim = 4.0 * (T * (write_stim ? 3 : 1) + 3 * rec + 256);
    const double budget = 0.5 * nf_cli_memory_bytes();
    if (budget <= 0) {
        if (!*chunk) *chunk = 8192;
        return 0;
    }
    if (per_sim > budget)
        return nf_cli_error(CMD, NF_EXIT_USAGE, "%.0f samples per simulation need %.3g GB for one simulation, more "
                            "than half of this machine's memory (%.3g GB): a shorter --duration or a larger --dt",
                            T, per_sim * 1e-9, 2 * budget * 1e-9);
    if (*chunk && *chunk * per_sim > budget)
        return nf_cli_error(CMD, NF_EXIT_USAGE, "--chunk %lld: %.3g GB for a chunk of %.0f-sample simulations, more "
                            "than half of this machine's memory (%.3g GB): at most --chunk %lld",
                            (long long)*chunk, *chunk * per_sim * 1e-9, T, 2 * budget * 1e-9,
                            (long long)(budget / per_sim));
    if (!*chunk) {
        *chunk = 8192;
        if (*chunk * per_sim > budget) *chunk = (int64_t)(budget / per_sim);
    }
    if (*chunk > n) *chunk = n;
    return 0;
}

enum {
    O_PRESET = NF_CLI_OWN, O_MODEL, O_PRIOR, O_STIMULUS, O_X, O_DT, O_DURATION, O_N, O_CHUNK, O_RECORD_EVERY,
    O_MAX_TRIES, O_NO_STIMULUS_FILE, O_SUMMARIES_ONLY
};

static const struct option sbi_simulate_options[] = {
    NF_CLI_OPT_HELP, NF_CLI_OPT_OUT, NF_CLI_OPT_FORCE, NF_CLI_OPT_QUIET, NF_CLI_OPT_SEED, NF_CLI_OPT_BACKEND,
    NF_CLI_OPT_THREADS, NF_CLI_OPT_DEVICES,
    {"preset", required_argument, NULL, O_PRESET},
    {"model", required_argument, NULL, O_MODEL},
    {"prior", required_argument, NULL, O_PRIOR},
    {"stimulus", required_argument, NULL, O_STIMULUS},
    {"x", required_argument, NULL, O_X},
    {"dt", required_argument, NULL, O_DT},
    {"duration", required_argument, NULL, O_DURATION},
    {"n", required_argument, NULL, O_N},
    {"chunk", required_argument, NULL, O_CHUNK},
    {"record-every", required_argument, NULL, O_RECORD_EVERY},
    {"max-tries", required_argument, NULL, O_MAX_TRIES},
    {"no-stimulus-file", no_argument, NULL, O_NO_STIMULUS_FILE},
    {"summaries-only", no_argument, NULL, O_SUMMARIES_ONLY},
    NF_CLI_OPT_END};

int nf_cli_sbi_simulate(int argc, char **argv)
{
    const char *preset = NULL, *model_s = NULL, *stim_s = NULL, *x_s = NULL;
    const char *priors[64];
    int n_priors = 0, write_stim = 1, sum_only = 0;
    int64_t n = 0, chunk = 0, every = 1, max_tries = 0; /* chunk 0: 8192, or fewer to fit in memory */
    double dt = 0, duration = 0;
    nf_cli_common c = {0};
    nf_cli_parser p;
    nf_cli_parser_init(&p, CMD, argc, argv, sbi_simulate_options, &c);
    for (int k; (k = nf_cli_next(&p)) != NF_CLI_END;) {
        const char *v = p.arg;
        switch (k) {
        case NF_CLI_HELP: usage_simulate(stdout); return NF_EXIT_OK;
        case NF_CLI_ERROR: return p.rc;
        case NF_CLI_ARG: return nf_cli_unexpected(&p);
        case O_NO_STIMULUS_FILE: write_stim = 0; break;
        case O_SUMMARIES_ONLY: sum_only = 1; break;
        case O_PRESET: preset = v; break;
        case O_MODEL: model_s = v; break;
        case O_PRIOR:
            if (n_priors == 64) return nf_cli_error(CMD, NF_EXIT_USAGE, "too many --prior options (max 64)");
            priors[n_priors++] = v;
            break;
        case O_STIMULUS: stim_s = v; break;
        case O_X: x_s = v; break;
        case O_DT:
            if (!nf_cli_parse_double(v, &dt) || dt <= 0) return nf_cli_error(CMD, NF_EXIT_USAGE, "--dt %s: need ms > 0", v);
            break;
        case O_DURATION:
            if (!nf_cli_parse_double(v, &duration) || duration <= 0)
                return nf_cli_error(CMD, NF_EXIT_USAGE, "--duration %s: need ms > 0", v);
            break;
        case O_N:
            if (!nf_cli_parse_count(v, 1, (int64_t)1 << 40, &n))
                return nf_cli_error(CMD, NF_EXIT_USAGE, "--n %s: need a whole number of simulations in 1..%lld", v,
                                    (long long)1 << 40);
            break;
        case O_CHUNK:
            if (!nf_cli_parse_count(v, 1, 1 << 24, &chunk))
                return nf_cli_error(CMD, NF_EXIT_USAGE, "--chunk %s: need 1..16777216", v);
            break;
        case O_RECORD_EVERY:
            if (!nf_cli_parse_count(v, 1, (int64_t)1 << 40, &every))
                return nf_cli_error(CMD, NF_EXIT_USAGE, "--record-every %s: need a whole number >= 1", v);
            break;
        case O_MAX_TRIES:
            if (!nf_cli_parse_count(v, 1, (int64_t)1 << 40, &max_tries))
                return nf_cli_error(CMD, NF_EXIT_USAGE, "--max-tries %s: need a whole number >= 1", v);
            break;
        }
    }
    int rc_dev = nf_cli_check_devices(CMD, &c);
    if (rc_dev) return rc_dev;
    const char *out = c.out;
    const int worker = nf_cli_dist_worker(), quiet = c.quiet || worker; /* under mpirun rank 0 reports */
    const uint64_t seed = c.seed;
    if (!out) return nf_cli_error(CMD, NF_EXIT_USAGE, "--out DIR is required");
    if (n < 1) return nf_cli_error(CMD, NF_EXIT_USAGE, "--n N is required");
    if (sum_only && x_s && strcmp(x_s, "summaries") != 0)
        return nf_cli_error(CMD, NF_EXIT_USAGE, "--summaries-only writes no traces: drop --x %s", x_s);
    if (!x_s) x_s = sum_only ? "summaries" : "traces";
    if (sum_only) write_stim = 0;
    nf_sbi_x xk;
    if (!strcmp(x_s, "traces")) xk = NF_SBI_X_TRACES;
    else if (!strcmp(x_s, "summaries")) xk = NF_SBI_X_SUMMARIES;
    else if (!strcmp(x_s, "both")) xk = NF_SBI_X_BOTH;
    else return nf_cli_error(CMD, NF_EXIT_USAGE, "--x %s: expected traces, summaries or both", x_s);

    nf_sbi_config cfg;
    nf_prior *prior = NULL;
    float *waves = NULL;
    int rc = NF_EXIT_OK;
    if (preset) {
        if (model_s || n_priors || stim_s || dt > 0 || duration > 0)
            return nf_cli_error(CMD, NF_EXIT_USAGE,
                                "--preset fixes the model, prior, stimulus, dt and duration; drop --model/--prior/"
                                "--stimulus/--dt/--duration");
        if (nf_sbi_preset(preset, seed, &cfg, &prior))
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
        double steps = floor(duration / dt + 0.5) + 1;
        if (!(steps <= MAX_SAMPLES)) {
            nf_prior_destroy(prior);
            return nf_cli_error(CMD, NF_EXIT_USAGE, "--duration %g / --dt %g = %.3g samples: at most 1e9", duration,
                                dt, steps);
        }
        cfg.n_steps = (int64_t)steps;
        cfg.seed = seed;
        for (int k = 0; k < n_priors && rc == NF_EXIT_OK; k++) {
            const char *spec = priors[k];
            if (spec[0] == '@') {
                char *text = NULL;
                if (nf_file_read_string(spec + 1, (size_t)1 << 28, &text))
                    rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--prior: %s", nf_errmsg());
                else if (nf_prior_parse_json(prior, text))
                    rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--prior %s: %s", spec + 1, nf_errmsg());
                free(text);
            } else if (nf_prior_parse(prior, spec))
                rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--prior %s: %s", spec, nf_errmsg());
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
    if (rc == NF_EXIT_OK) rc = fit_chunk(&cfg, n, write_stim, &chunk);
    nf_out_lock *lock = NULL;
    if (rc == NF_EXIT_OK && !worker) rc = nf_cli_out_begin(CMD, out, "meta.json", c.force, &lock); /* rank 0 writes it */
    nf_engine *e = NULL;
    if (rc == NF_EXIT_OK) rc = nf_cli_engine_create(CMD, &c, NF_BACKEND_AUTO, &e);
    if (rc == NF_EXIT_OK) {
        char cmdline[2048] = "neurofit sbi";
        size_t len = strlen(cmdline);
        for (int i = 0; i < argc; i++) {
            int k = snprintf(cmdline + len, sizeof cmdline - len, " %s", argv[i]);
            if (k < 0 || (size_t)k >= sizeof cmdline - len) break;
            len += (size_t)k;
        }
        progress_state ps = {quiet, time(NULL), -10};
        nf_sbi_write_opts o = {n, chunk, write_stim, progress, &ps, cmdline, sum_only};
        nf_cli_stop_mode(NF_CLI_STOP_FLAG);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        nf_status st = NF_OK;
        if (!nf_cli_dist())
            st = nf_sbi_write_dataset(e, &cfg, out, &o);
        else if (!(rc = nf_cli_dist_agree(CMD, NF_EXIT_OK))) /* else a rank failed before: rank 0 said which */
            st = nf_dist_sbi_write_dataset(e, &cfg, out, &o);
        nf_cli_stop_mode(NF_CLI_STOP_DEFAULT);
        if (st == NF_EINTERRUPTED)
            rc = nf_cli_error(CMD, NF_EXIT_INTERRUPTED, "interrupted: %s", nf_errmsg());
        else if (st)
            rc = nf_cli_error(CMD, NF_EXIT_FAIL, "%s", nf_errmsg());
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double sec = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        if (rc == NF_EXIT_OK && !quiet)
            fprintf(stderr, "neurofit sbi: wrote %lld simulations of %s to %s in %.2f s (%s backend)\n",
                    (long long)n, cfg.model->name, out, sec, nf_backend_name(nf_engine_backend(e)));
    }
    nf_engine_destroy(e);
    nf_cli_out_end(lock);
    nf_prior_destroy(prior);
    free(waves);
    return rc;
}
