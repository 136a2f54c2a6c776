/* `neurofit sbi <subcommand>`: simulation-based inference.
 *
 *   neurofit sbi simulate --preset bayesflow-lif --n N [--seed S] --out DIR
 *   neurofit sbi simulate --model M --prior SPEC|@FILE.json [--prior ...]
 *       [--stimulus step:AMP_pA,START_ms,STOP_ms[,AMP_HI_pA] | ou:MEAN_pA,SD_pA,TAU_ms
 *                   | file:PATH.npy] --dt MS --duration MS --n N [--seed S] --out DIR
 *   common: [--x traces|summaries|both] [--record-every K] [--no-stimulus-file]
 *           [--chunk C] [--max-tries K] [--backend auto|cpu|cuda] [--threads N] [--quiet]
 *   neurofit sbi sbc --preset bayesflow-lif [--draws M] [--posterior-samples L] [--reference N]
 *       [--stimulus observed|unobserved] [--seed S] --out DIR
 *   neurofit sbi infer --reference DIR|bayesflow-lif --observed FILE.npy [--stimulus FILE.npy]
 *       [--samples L] --out DIR
 *
 * Every subcommand is one row of the table at the bottom; each is a thin layer
 * over the library (include/neurofit/sbi.h). */
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "neurofit/engine.h"
#include "neurofit/fileio.h"
#include "neurofit/npy.h"
#include "neurofit/sbc.h"
#include "neurofit/sbi.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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
                char *text = nf_cli_read_text(p + 1);
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

/* ---- sbi sbc / sbi infer ---------------------------------------------------
 * Both run the posterior estimator of src/sbc/ (include/neurofit/sbc.h) on the
 * bayesflow-lif problem. Outputs are written into DIR/.partial-<pid>/ and moved
 * into DIR only when all of them are complete (the JSON last), so a failed or
 * killed run leaves DIR as it was. */

/* Move the named files from stage into dir, in order (the last one is the
 * marker of a complete result), then remove stage. */
static int commit_stage(const char *cmd, const char *stage, const char *dir, const char *const *names, int n)
{
    char a[4096], b[4096];
    for (int i = 0; i < n; i++) {
        if (nf_path_join(a, sizeof a, stage, names[i]) || nf_path_join(b, sizeof b, dir, names[i]))
            return nf_cli_error(cmd, NF_EXIT_FAIL, "%s", nf_errmsg());
        if (rename(a, b) != 0) return nf_cli_error(cmd, NF_EXIT_FAIL, "cannot move %s to %s: %s", a, b, strerror(errno));
    }
    rmdir(stage);
    return NF_EXIT_OK;
}

/* Remove a staging directory and the named files in it (after a failure). */
static void drop_stage(const char *stage, const char *const *names, int n)
{
    char a[4096];
    for (int i = 0; i < n; i++)
        if (!nf_path_join(a, sizeof a, stage, names[i])) unlink(a);
    rmdir(stage);
}

static int make_stage(const char *cmd, const char *dir, char *stage, size_t cap)
{
    char name[64];
    snprintf(name, sizeof name, ".partial-%ld", (long)getpid());
    if (nf_mkdir_p(dir) || nf_path_join(stage, cap, dir, name) || nf_mkdir_p(stage))
        return nf_cli_error(cmd, NF_EXIT_FAIL, "--out %s: %s", dir, nf_errmsg());
    return NF_EXIT_OK;
}

static void usage_sbc(FILE *fp)
{
    fprintf(fp,
            "usage: neurofit sbi sbc --preset bayesflow-lif --out DIR [options]\n\n"
            "Simulation-based calibration (Talts et al. 2018) of neurofit's posterior estimator\n"
            "(physics-informed summaries + regression-adjusted ABC, docs/sbc.md), all in C:\n"
            "a reference table of N simulations, M fresh prior draws simulated and inferred with\n"
            "L posterior draws each, ranks, ECDF bands, recovery, contraction, z-scores and a\n"
            "posterior predictive check. Traces carry Gaussian measurement noise (--sigma).\n\n"
            "  --preset bayesflow-lif        the problem (the only one so far)\n"
            "  --draws M                     SBC prior draws (500; >= 10)\n"
            "  --posterior-samples L         posterior draws per case (99)\n"
            "  --reference N                 reference simulations (100000; >= 1000)\n"
            "  --stimulus observed|unobserved  the injected current is known (default) or not\n"
            "  --predictive P                predictive draws per case (50; >= 2)\n"
            "  --sigma MV                    measurement noise sd (0.1 mV)\n"
            "  --seed S                      reference seed S, test cases seed S+1 (2026)\n"
            "  --threads N, --backend auto|cpu|cuda, --quiet\n"
            "  outputs in DIR: sbc.json (written last), sbc_ranks.svg, sbc_ecdf.svg, sbc_recovery.svg\n");
}

static int cmd_sbc(int argc, char **argv)
{
    static const char *C = "sbi sbc";
    const char *preset = NULL, *out = NULL, *stim_s = "observed", *backend_s = "auto";
    nf_sbc_lif_opts o;
    nf_sbc_lif_opts_default(&o);
    int64_t threads = 0, i64;
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage_sbc(stdout);
            return NF_EXIT_OK;
        }
        if (!strcmp(a, "--quiet")) {
            quiet = 1;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) return nf_cli_error(C, NF_EXIT_USAGE, "unexpected argument %s (see --help)", a);
        if (!(v = nf_cli_value(argc, argv, &i))) return nf_cli_error(C, NF_EXIT_USAGE, "%s needs a value", a);
        if (!strcmp(a, "--preset")) preset = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--stimulus")) stim_s = v;
        else if (!strcmp(a, "--backend")) backend_s = v;
        else if (!strcmp(a, "--draws")) {
            if (!nf_cli_parse_i64(v, &o.M) || o.M < 10 || o.M > 10000000)
                return nf_cli_error(C, NF_EXIT_USAGE, "--draws %s: need an integer in 10..1e7", v);
        } else if (!strcmp(a, "--posterior-samples")) {
            if (!nf_cli_parse_i64(v, &o.L) || o.L < 1 || o.L > 100000)
                return nf_cli_error(C, NF_EXIT_USAGE, "--posterior-samples %s: need an integer in 1..100000", v);
        } else if (!strcmp(a, "--reference")) {
            if (!nf_cli_parse_i64(v, &o.n_ref) || o.n_ref < 1000 || o.n_ref > 100000000)
                return nf_cli_error(C, NF_EXIT_USAGE, "--reference %s: need an integer in 1000..1e8", v);
        } else if (!strcmp(a, "--predictive")) {
            if (!nf_cli_parse_i64(v, &o.P) || o.P < 2 || o.P > 100000)
                return nf_cli_error(C, NF_EXIT_USAGE, "--predictive %s: need an integer in 2..100000", v);
        } else if (!strcmp(a, "--sigma")) {
            if (!nf_cli_parse_double(v, &o.sigma_mV) || o.sigma_mV < 0)
                return nf_cli_error(C, NF_EXIT_USAGE, "--sigma %s: need mV >= 0", v);
        } else if (!strcmp(a, "--seed")) {
            if (!nf_cli_parse_i64(v, &i64) || i64 < 0) return nf_cli_error(C, NF_EXIT_USAGE, "--seed %s: need an integer >= 0", v);
            o.seed = (uint64_t)i64;
        } else if (!strcmp(a, "--threads")) {
            if (!nf_cli_parse_i64(v, &threads) || threads < 0 || threads > 4096)
                return nf_cli_error(C, NF_EXIT_USAGE, "--threads %s: need 0..4096 (0 = all cores)", v);
        } else
            return nf_cli_error(C, NF_EXIT_USAGE, "unknown option %s (see --help)", a);
    }
    if (!preset) return nf_cli_error(C, NF_EXIT_USAGE, "--preset bayesflow-lif is required");
    if (strcmp(preset, "bayesflow-lif") != 0)
        return nf_cli_error(C, NF_EXIT_USAGE, "--preset %s: unknown (known: bayesflow-lif)", preset);
    if (!out) return nf_cli_error(C, NF_EXIT_USAGE, "--out DIR is required");
    if (!strcmp(stim_s, "observed")) o.with_stimulus = 1;
    else if (!strcmp(stim_s, "unobserved")) o.with_stimulus = 0;
    else return nf_cli_error(C, NF_EXIT_USAGE, "--stimulus %s: expected observed or unobserved", stim_s);
    nf_backend backend;
    if (nf_backend_parse(backend_s, &backend)) return nf_cli_error(C, NF_EXIT_USAGE, "--backend: %s", nf_errmsg());

    nf_engine *e = NULL;
    if (nf_engine_create(backend, (int)threads, &e)) return nf_cli_error(C, NF_EXIT_FAIL, "%s", nf_errmsg());
    if (!quiet)
        fprintf(stderr, "neurofit sbi sbc: %lld reference simulations, %lld draws x %lld posterior samples (%s)...\n",
                (long long)o.n_ref, (long long)o.M, (long long)o.L, o.with_stimulus ? "stimulus observed" : "voltage only");
    nf_sbc_result *r = NULL;
    nf_sbc_lif_times tm;
    int rc = NF_EXIT_OK;
    if (nf_sbc_lif_run(e, &o, &r, &tm)) rc = nf_cli_error(C, NF_EXIT_FAIL, "%s", nf_errmsg());
    nf_engine_destroy(e);
    static const char *const files[4] = {"sbc_ranks.svg", "sbc_ecdf.svg", "sbc_recovery.svg", "sbc.json"};
    char stage[4096], path[4200];
    if (rc == NF_EXIT_OK) rc = make_stage(C, out, stage, sizeof stage);
    if (rc == NF_EXIT_OK) {
        snprintf(path, sizeof path, "%s/sbc.json", stage);
        if (nf_sbc_write_svg(r, stage) || nf_sbc_write_json(r, path)) {
            rc = nf_cli_error(C, NF_EXIT_FAIL, "%s", nf_errmsg());
            drop_stage(stage, files, 4);
        } else
            rc = commit_stage(C, stage, out, files, 4);
    }
    if (rc == NF_EXIT_OK && !quiet) {
        fprintf(stderr, "neurofit sbi sbc: tables %.1f s, %lld posteriors %.1f s, predictive %.1f s\n", tm.table_s,
                (long long)o.M, tm.infer_s, tm.ppc_s);
        printf("| parameter | Pearson r | contraction | z mean | z sd | ECDF points outside 95%% band |\n|---|---|---|---|---|---|\n");
        for (int j = 0; j < NF_SBC_LIF_D; j++) {
            nf_sbc_param_stats s;
            nf_sbc_result_param(r, j, &s);
            printf("| %s [%s] | %.4f | %.3f | %+.3f | %.3f | %d |\n", nf_sbc_lif_param_name(j), nf_sbc_lif_param_unit(j),
                   s.r, s.contraction, s.z_mean, s.z_sd, s.violations);
        }
        printf("\npredictive check (90%% band): %.3f; outputs in %s\n", nf_sbc_result_ppc(r), out);
    }
    nf_sbc_result_destroy(r);
    return rc;
}

static void usage_infer(FILE *fp)
{
    fprintf(fp,
            "usage: neurofit sbi infer --reference DIR|bayesflow-lif --observed FILE.npy [--stimulus FILE.npy]\n"
            "                          [--samples L] --out DIR [options]\n\n"
            "Posterior draws of the six lif6 parameters (C_m pF, g_L nS, E_L mV, V_th mV, V_res mV,\n"
            "t_ref ms) for observed traces, by neurofit's estimator (summaries + regression-adjusted\n"
            "ABC, docs/sbc.md).\n\n"
            "  --reference bayesflow-lif  simulate the reference table here (--reference-n N, --seed S)\n"
            "  --reference DIR            a `neurofit sbi simulate --preset bayesflow-lif` dataset (traces\n"
            "                             in x.npy; with --stimulus its stimulus.npy is needed too)\n"
            "  --observed FILE.npy        traces [K][501] or [501] mV, sample i at t = 0.1 i ms\n"
            "  --stimulus FILE.npy        the injected currents [K][501] or one shared [501] pA; without\n"
            "                             it the posterior uses the voltage alone\n"
            "  --samples L                posterior draws per trace (1000)\n"
            "  --reference-n N            reference simulations for a preset (100000; >= 1000)\n"
            "  --sigma MV                 measurement noise added to the reference traces (0.1 mV): the\n"
            "                             posterior is the one under that noise model\n"
            "  --seed S                   (2026), --threads N, --backend auto|cpu|cuda, --quiet\n"
            "  outputs in DIR: posterior.npy [K][L][6] f4 (model units), posterior.json (per trace mean,\n"
            "  sd, 5/50/95 %% quantiles; written last)\n");
}

/* Read an [K][501] or [501] float array with finite values; *rows = K (1 for 1-D). */
static int read_traces(const char *cmd, const char *opt, const char *path, float **data, int64_t *rows)
{
    int ndim = 0;
    int64_t shape[4] = {0};
    if (nf_npy_read_f32(path, data, &ndim, shape, 4)) return nf_cli_error(cmd, NF_EXIT_USAGE, "%s: %s", opt, nf_errmsg());
    int64_t cols = ndim == 1 ? shape[0] : (ndim == 2 ? shape[1] : -1);
    if (cols != NF_SBC_LIF_T || (ndim == 2 && shape[0] < 1)) {
        free(*data);
        *data = NULL;
        return nf_cli_error(cmd, NF_EXIT_USAGE, "%s %s: shape must be [K][%d] or [%d] (%d-dimensional, %lld columns)", opt,
                            path, NF_SBC_LIF_T, NF_SBC_LIF_T, ndim, (long long)cols);
    }
    *rows = ndim == 1 ? 1 : shape[0];
    for (int64_t i = 0; i < *rows * NF_SBC_LIF_T; i++)
        if (!isfinite((*data)[i])) {
            free(*data);
            *data = NULL;
            return nf_cli_error(cmd, NF_EXIT_USAGE, "%s %s: value [%lld][%lld] is not finite", opt, path,
                                (long long)(i / NF_SBC_LIF_T), (long long)(i % NF_SBC_LIF_T));
        }
    return NF_EXIT_OK;
}

/* Reference table from a preset dataset directory: theta [N][6] and summaries. */
static int reference_from_dir(const char *C, const char *dir, int with_stim, double sigma, uint64_t seed, float **theta,
                              float **summ, int64_t *n_out)
{
    char path[4096];
    int rc = NF_EXIT_OK;
    if (nf_path_join(path, sizeof path, dir, "meta.json")) return nf_cli_error(C, NF_EXIT_USAGE, "--reference: %s", nf_errmsg());
    char *text = nf_cli_read_text(path);
    if (!text) return nf_cli_error(C, NF_EXIT_USAGE, "--reference %s: no meta.json (not a complete `sbi simulate` dataset)", dir);
    cJSON *meta = cJSON_Parse(text);
    free(text);
    const cJSON *pr = cJSON_GetObjectItemCaseSensitive(meta, "preset");
    if (!cJSON_IsString(pr) || strcmp(pr->valuestring, "bayesflow-lif") != 0)
        rc = nf_cli_error(C, NF_EXIT_USAGE, "--reference %s: meta.json has no \"preset\": \"bayesflow-lif\" (only that preset's"
                          " datasets can serve as a reference)", dir);
    cJSON_Delete(meta);
    if (rc) return rc;
    float *th = NULL, *x = NULL, *stim = NULL;
    int ndim = 0;
    int64_t sh[4] = {0}, n = 0;
    if (nf_path_join(path, sizeof path, dir, "theta.npy") || nf_npy_read_f32(path, &th, &ndim, sh, 4))
        rc = nf_cli_error(C, NF_EXIT_USAGE, "--reference: %s", nf_errmsg());
    else if (ndim != 2 || sh[1] != NF_SBC_LIF_D || sh[0] < 1000)
        rc = nf_cli_error(C, NF_EXIT_USAGE, "--reference %s: theta.npy must be [N][6] with N >= 1000", path);
    n = sh[0];
    if (!rc) {
        int64_t rows = 0;
        if (nf_path_join(path, sizeof path, dir, "x.npy")) rc = nf_cli_error(C, NF_EXIT_USAGE, "%s", nf_errmsg());
        else if (!(rc = read_traces(C, "--reference", path, &x, &rows)) && rows != n)
            rc = nf_cli_error(C, NF_EXIT_USAGE, "--reference %s: %lld traces for %lld parameter rows (need traces:"
                              " `sbi simulate --x traces`)", path, (long long)rows, (long long)n);
    }
    if (!rc && with_stim) {
        int64_t rows = 0;
        if (nf_path_join(path, sizeof path, dir, "stimulus.npy")) rc = nf_cli_error(C, NF_EXIT_USAGE, "%s", nf_errmsg());
        else if (!(rc = read_traces(C, "--reference", path, &stim, &rows)) && rows != n)
            rc = nf_cli_error(C, NF_EXIT_USAGE, "--reference %s: %lld stimuli for %lld simulations", path, (long long)rows,
                              (long long)n);
    }
    const int k = nf_sbc_lif_n_summaries(with_stim);
    float *s = rc ? NULL : malloc(sizeof(float) * (size_t)n * (size_t)k);
    if (!rc && !s) rc = nf_cli_error(C, NF_EXIT_FAIL, "out of memory for %lld reference rows", (long long)n);
    if (!rc && nf_sbc_lif_add_noise(x, n, sigma, seed, 0)) rc = nf_cli_error(C, NF_EXIT_FAIL, "%s", nf_errmsg());
    for (int64_t i = 0; !rc && i < n; i++)
        if (nf_sbc_lif_summaries(x + i * NF_SBC_LIF_T, with_stim ? stim + i * NF_SBC_LIF_T : NULL, NF_SBC_LIF_T,
                                 NF_SBC_LIF_DT, 0.0, s + i * k))
            rc = nf_cli_error(C, NF_EXIT_USAGE, "--reference %s: trace %lld: %s", dir, (long long)i, nf_errmsg());
    free(x);
    free(stim);
    if (rc) {
        free(th);
        free(s);
        return rc;
    }
    *theta = th;
    *summ = s;
    *n_out = n;
    return NF_EXIT_OK;
}

static cJSON *json_row(const double *x, int d)
{
    cJSON *a = cJSON_CreateArray();
    for (int j = 0; a && j < d; j++) cJSON_AddItemToArray(a, cJSON_CreateNumber(x[j]));
    return a;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* posterior.json: settings and per-trace mean, sd, 5/50/95 % quantiles. */
static char *infer_json(const float *post, int64_t K, int64_t L, const char *reference, int64_t n_ref, double sigma,
                        int with_stim, uint64_t seed, const char *observed, const char *stim_path)
{
    const int D = NF_SBC_LIF_D;
    cJSON *root = cJSON_CreateObject(), *names = cJSON_CreateArray(), *units = cJSON_CreateArray();
    cJSON_AddStringToObject(root, "format", "neurofit-sbi-posterior-1");
    cJSON_AddStringToObject(root, "method", "physics-informed lif6 summaries + regression-adjusted ABC (docs/sbc.md)");
    cJSON_AddStringToObject(root, "model", "lif6");
    for (int j = 0; j < D; j++) {
        cJSON_AddItemToArray(names, cJSON_CreateString(nf_sbc_lif_param_name(j)));
        cJSON_AddItemToArray(units, cJSON_CreateString(nf_sbc_lif_param_unit(j)));
    }
    cJSON_AddItemToObject(root, "parameters", names);
    cJSON_AddItemToObject(root, "units", units);
    cJSON_AddStringToObject(root, "reference", reference);
    cJSON_AddNumberToObject(root, "n_reference", (double)n_ref);
    cJSON_AddNumberToObject(root, "sigma_mV", sigma);
    cJSON_AddStringToObject(root, "stimulus", with_stim ? "observed" : "unobserved");
    if (stim_path) cJSON_AddStringToObject(root, "stimulus_file", stim_path);
    cJSON_AddStringToObject(root, "observed", observed);
    cJSON_AddNumberToObject(root, "seed", (double)seed);
    cJSON_AddNumberToObject(root, "n_traces", (double)K);
    cJSON_AddNumberToObject(root, "samples", (double)L);
    cJSON_AddStringToObject(root, "samples_file", "posterior.npy [n_traces][samples][6] float32, model units");
    cJSON *obs = cJSON_CreateArray();
    cJSON_AddItemToObject(root, "traces", obs);
    float *col = malloc(sizeof(float) * (size_t)L);
    for (int64_t m = 0; col && m < K; m++) {
        double mean[NF_SBC_LIF_D], sd[NF_SBC_LIF_D], q[3][NF_SBC_LIF_D];
        for (int j = 0; j < D; j++) {
            double s1 = 0, s2 = 0;
            for (int64_t l = 0; l < L; l++) {
                col[l] = post[(m * L + l) * D + j];
                s1 += col[l];
            }
            mean[j] = s1 / (double)L;
            for (int64_t l = 0; l < L; l++) s2 += (col[l] - mean[j]) * (col[l] - mean[j]);
            sd[j] = L > 1 ? sqrt(s2 / (double)(L - 1)) : 0.0;
            qsort(col, (size_t)L, sizeof(float), cmp_float);
            const double p[3] = {0.05, 0.5, 0.95};
            for (int a = 0; a < 3; a++) {
                double h = p[a] * (double)(L - 1);
                int64_t lo = (int64_t)h, hi = lo + 1 < L ? lo + 1 : lo;
                q[a][j] = col[lo] + (h - (double)lo) * (col[hi] - col[lo]);
            }
        }
        cJSON *t = cJSON_CreateObject();
        cJSON_AddNumberToObject(t, "index", (double)m);
        cJSON_AddItemToObject(t, "mean", json_row(mean, D));
        cJSON_AddItemToObject(t, "sd", json_row(sd, D));
        cJSON_AddItemToObject(t, "q05", json_row(q[0], D));
        cJSON_AddItemToObject(t, "q50", json_row(q[1], D));
        cJSON_AddItemToObject(t, "q95", json_row(q[2], D));
        cJSON_AddItemToArray(obs, t);
    }
    char *text = col ? cJSON_Print(root) : NULL;
    free(col);
    cJSON_Delete(root);
    return text;
}

static int cmd_infer(int argc, char **argv)
{
    static const char *C = "sbi infer";
    const char *ref = NULL, *obs_path = NULL, *stim_path = NULL, *out = NULL, *backend_s = "auto";
    int64_t L = 1000, n_ref = 100000, seed = 2026, threads = 0;
    double sigma = 0.1;
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage_infer(stdout);
            return NF_EXIT_OK;
        }
        if (!strcmp(a, "--quiet")) {
            quiet = 1;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) return nf_cli_error(C, NF_EXIT_USAGE, "unexpected argument %s (see --help)", a);
        if (!(v = nf_cli_value(argc, argv, &i))) return nf_cli_error(C, NF_EXIT_USAGE, "%s needs a value", a);
        if (!strcmp(a, "--reference")) ref = v;
        else if (!strcmp(a, "--observed")) obs_path = v;
        else if (!strcmp(a, "--stimulus")) stim_path = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--backend")) backend_s = v;
        else if (!strcmp(a, "--samples")) {
            if (!nf_cli_parse_i64(v, &L) || L < 1 || L > 1000000)
                return nf_cli_error(C, NF_EXIT_USAGE, "--samples %s: need an integer in 1..1e6", v);
        } else if (!strcmp(a, "--reference-n")) {
            if (!nf_cli_parse_i64(v, &n_ref) || n_ref < 1000 || n_ref > 100000000)
                return nf_cli_error(C, NF_EXIT_USAGE, "--reference-n %s: need an integer in 1000..1e8", v);
        } else if (!strcmp(a, "--sigma")) {
            if (!nf_cli_parse_double(v, &sigma) || sigma < 0) return nf_cli_error(C, NF_EXIT_USAGE, "--sigma %s: need mV >= 0", v);
        } else if (!strcmp(a, "--seed")) {
            if (!nf_cli_parse_i64(v, &seed) || seed < 0) return nf_cli_error(C, NF_EXIT_USAGE, "--seed %s: need an integer >= 0", v);
        } else if (!strcmp(a, "--threads")) {
            if (!nf_cli_parse_i64(v, &threads) || threads < 0 || threads > 4096)
                return nf_cli_error(C, NF_EXIT_USAGE, "--threads %s: need 0..4096 (0 = all cores)", v);
        } else
            return nf_cli_error(C, NF_EXIT_USAGE, "unknown option %s (see --help)", a);
    }
    if (!ref) return nf_cli_error(C, NF_EXIT_USAGE, "--reference DIR|bayesflow-lif is required");
    if (!obs_path) return nf_cli_error(C, NF_EXIT_USAGE, "--observed FILE.npy is required");
    if (!out) return nf_cli_error(C, NF_EXIT_USAGE, "--out DIR is required");
    nf_backend backend;
    if (nf_backend_parse(backend_s, &backend)) return nf_cli_error(C, NF_EXIT_USAGE, "--backend: %s", nf_errmsg());

    /* all input is read and checked before any simulation or output */
    float *obs = NULL, *stim = NULL, *rt = NULL, *rs = NULL, *post = NULL, *s_obs = NULL;
    int64_t K = 0, n_stim = 0;
    int rc = read_traces(C, "--observed", obs_path, &obs, &K);
    if (!rc && stim_path) {
        rc = read_traces(C, "--stimulus", stim_path, &stim, &n_stim);
        if (!rc && n_stim != 1 && n_stim != K)
            rc = nf_cli_error(C, NF_EXIT_USAGE, "--stimulus %s: %lld stimuli for %lld observed traces (need 1 or %lld)",
                              stim_path, (long long)n_stim, (long long)K, (long long)K);
    }
    const int ws = stim_path != NULL, k = nf_sbc_lif_n_summaries(ws);
    if (!rc && !(s_obs = malloc(sizeof(float) * (size_t)K * (size_t)k)))
        rc = nf_cli_error(C, NF_EXIT_FAIL, "out of memory");
    for (int64_t m = 0; !rc && m < K; m++)
        if (nf_sbc_lif_summaries(obs + m * NF_SBC_LIF_T, ws ? stim + (n_stim == 1 ? 0 : m) * NF_SBC_LIF_T : NULL,
                                 NF_SBC_LIF_T, NF_SBC_LIF_DT, 0.0, s_obs + m * k))
            rc = nf_cli_error(C, NF_EXIT_USAGE, "--observed %s: trace %lld: %s", obs_path, (long long)m, nf_errmsg());
    int is_preset = !strcmp(ref, "bayesflow-lif");
    struct stat sb;
    if (!rc && !is_preset && (stat(ref, &sb) != 0 || !S_ISDIR(sb.st_mode)))
        rc = nf_cli_error(C, NF_EXIT_USAGE, "--reference %s: neither a preset (bayesflow-lif) nor a dataset directory", ref);
    if (!rc && !is_preset) rc = reference_from_dir(C, ref, ws, sigma, (uint64_t)seed, &rt, &rs, &n_ref);
    nf_engine *e = NULL;
    if (!rc && is_preset) {
        if (!quiet) fprintf(stderr, "neurofit sbi infer: simulating %lld reference traces...\n", (long long)n_ref);
        rt = malloc(sizeof(float) * (size_t)n_ref * NF_SBC_LIF_D);
        rs = malloc(sizeof(float) * (size_t)n_ref * (size_t)k);
        if (!rt || !rs) rc = nf_cli_error(C, NF_EXIT_FAIL, "out of memory for %lld reference rows", (long long)n_ref);
        else if (nf_engine_create(backend, (int)threads, &e) ||
                 nf_sbc_lif_table(e, (uint64_t)seed, 0, n_ref, sigma, rt, NULL, NULL, ws ? rs : NULL, ws ? NULL : rs))
            rc = nf_cli_error(C, NF_EXIT_FAIL, "%s", nf_errmsg());
        nf_engine_destroy(e);
    }
    double lo[NF_SBC_LIF_D], hi[NF_SBC_LIF_D];
    nf_sbc_lif_bounds(lo, hi);
    nf_abc *abc = NULL;
    if (!rc && nf_abc_create(rt, rs, n_ref, NF_SBC_LIF_D, k, lo, hi, NULL, &abc))
        rc = nf_cli_error(C, NF_EXIT_USAGE, "--reference %s: %s", ref, nf_errmsg());
    if (!rc) { /* the repair rule's branch as a latent class for V_res, as `sbi sbc` does by default */
        int32_t *cls = malloc(sizeof(int32_t) * (size_t)n_ref);
        if (!cls) rc = nf_cli_error(C, NF_EXIT_FAIL, "out of memory");
        else {
            nf_sbc_lif_classes(rt, n_ref, cls);
            if (nf_abc_set_classes(abc, cls, 3, 1u << 4)) rc = nf_cli_error(C, NF_EXIT_FAIL, "%s", nf_errmsg());
            free(cls);
        }
    }
    if (!rc && (K > ((int64_t)1 << 40) / L || !(post = malloc(sizeof(float) * (size_t)(K * L) * NF_SBC_LIF_D))))
        rc = nf_cli_error(C, NF_EXIT_FAIL, "out of memory for %lld x %lld posterior draws", (long long)K, (long long)L);
    for (int64_t m = 0; !rc && m < K; m++)
        if (nf_abc_sample(abc, s_obs + m * k, L, (uint64_t)seed + 1000 + (uint64_t)m, post + m * L * NF_SBC_LIF_D))
            rc = nf_cli_error(C, NF_EXIT_FAIL, "trace %lld: %s", (long long)m, nf_errmsg());
    static const char *const files[2] = {"posterior.npy", "posterior.json"};
    char stage[4096], path[4200];
    if (!rc) rc = make_stage(C, out, stage, sizeof stage);
    if (!rc) {
        int64_t shape[3] = {K, L, NF_SBC_LIF_D};
        char *text = infer_json(post, K, L, ref, n_ref, sigma, ws, (uint64_t)seed, obs_path, stim_path);
        snprintf(path, sizeof path, "%s/posterior.npy", stage);
        int bad = !text || nf_npy_write(path, NF_DT_F32, 3, shape, post);
        snprintf(path, sizeof path, "%s/posterior.json", stage);
        if (!bad) bad = nf_file_write_string(path, text) != NF_OK;
        const char *why = text ? nf_errmsg() : "out of memory";
        if (bad) {
            rc = nf_cli_error(C, NF_EXIT_FAIL, "--out %s: %s", out, why);
            drop_stage(stage, files, 2);
        } else
            rc = commit_stage(C, stage, out, files, 2);
        free(text);
    }
    if (!rc && !quiet)
        fprintf(stderr, "neurofit sbi infer: %lld traces x %lld posterior draws (%s) -> %s/posterior.npy, posterior.json\n",
                (long long)K, (long long)L, ws ? "stimulus observed" : "voltage only", out);
    nf_abc_destroy(abc);
    free(obs);
    free(stim);
    free(rt);
    free(rs);
    free(post);
    free(s_obs);
    return rc;
}

/* ---- subcommand table ------------------------------------------------------
 * One row per subcommand. */
typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} sbi_subcommand;

static const sbi_subcommand nf__sbi_commands[] = {
    {"simulate", cmd_simulate, "generate a training set (theta.npy, x.npy, ...) from a prior or a preset"},
    {"infer", cmd_infer, "posterior draws of the lif6 parameters for observed traces (bayesflow-lif reference)"},
    {"sbc", cmd_sbc, "simulation-based calibration: ranks, ECDF bands, recovery, predictive check (JSON + SVG)"},
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
