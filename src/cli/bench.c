/* `neurofit bench`: the user-facing throughput benchmark.
 *
 *   neurofit bench [--models a,b|all] [--backend auto|cpu|cuda|all] [--sims P]
 *                  [--steps T] [--threads N] [--devices all|0,1,...] [--reps R]
 *                  [--scorer none|rmse|both] [--batches K]
 *
 * Prints a markdown table: model | backend | sims | steps | scorer |
 * neuron-steps/s (whole call) | kernel neuron-steps/s (CUDA; "-" with several
 * batches, whose kernels overlap) | fraction of the
 * H100 ceiling from the kernel time (models whose instructions per step are
 * in the registry; as many H100s as devices) | batches | threads in flight
 * (the simulations submitted before the first wait). */
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/bench_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD "bench"

enum { O_MODELS = NF_CLI_OWN, O_SCORER, O_SIMS, O_STEPS, O_REPS, O_BATCHES };

static const struct option bench_options[] = {
    NF_CLI_OPT_HELP, NF_CLI_OPT_BACKEND, NF_CLI_OPT_THREADS, NF_CLI_OPT_DEVICES,
    {"models", required_argument, NULL, O_MODELS},
    {"scorer", required_argument, NULL, O_SCORER},
    {"sims", required_argument, NULL, O_SIMS},
    {"steps", required_argument, NULL, O_STEPS},
    {"reps", required_argument, NULL, O_REPS},
    {"batches", required_argument, NULL, O_BATCHES},
    NF_CLI_OPT_END};

int nf_cli_bench(int argc, char **argv)
{
    const char *models = "all", *scorer = "none";
    int64_t P = 100000, T = 10000, reps = 1, batches = 1;
    nf_cli_common c = {0};
    nf_cli_parser p;
    nf_cli_parser_init(&p, CMD, argc, argv, bench_options, &c);
    p.allow_backend_all = 1;
    for (int k; (k = nf_cli_next(&p)) != NF_CLI_END;) {
        const char *v = p.arg;
        switch (k) {
        case NF_CLI_HELP:
            printf("usage: neurofit bench [--models a,b|all] [--backend auto|cpu|cuda|all] [--sims P]\n"
                   "                      [--steps T] [--threads N] [--devices all|0,1,...] [--reps R]\n"
                   "                      [--scorer none|rmse|both] [--batches K]\n"
                   NF_CLI_HELP_DEVICES
                   "  --batches K      submit the sims as K batches, all in flight at once, then wait\n"
                   "                   (nf_engine_submit / nf_engine_wait; default 1)\n");
            return NF_EXIT_OK;
        case NF_CLI_ERROR: return p.rc;
        case NF_CLI_ARG: return nf_cli_unexpected(&p);
        case O_MODELS: models = v; break;
        case O_SCORER: scorer = v; break;
        case O_SIMS:
            if (!nf_cli_parse_count(v, 1, (int64_t)1 << 40, &P))
                return nf_cli_error(CMD, NF_EXIT_USAGE, "--sims %s: need a whole number in 1..%lld", v, (long long)1 << 40);
            break;
        case O_STEPS:
            if (!nf_cli_parse_count(v, 2, 1000000000, &T))
                return nf_cli_error(CMD, NF_EXIT_USAGE, "--steps %s: need a whole number in 2..1e9", v);
            break;
        case O_BATCHES:
            if (!nf_cli_parse_count(v, 1, 4096, &batches))
                return nf_cli_error(CMD, NF_EXIT_USAGE, "--batches %s: need a whole number in 1..4096", v);
            break;
        case O_REPS:
            if (!nf_cli_parse_count(v, 1, 1000000, &reps))
                return nf_cli_error(CMD, NF_EXIT_USAGE, "--reps %s: need a whole number in 1..1e6", v);
            break;
        }
    }
    int rc_dev = nf_cli_check_devices(CMD, &c);
    if (rc_dev) return rc_dev;
    char what[128]; /* per simulation: parameters (<= 64), count, score, validity; the shared waveform and target */
    snprintf(what, sizeof what, "--sims %lld x --steps %lld", (long long)P, (long long)T);
    int rc = nf_cli_check_memory(CMD, (double)P * (4.0 * 64 + 13) + 8.0 * (double)T, what, "fewer --sims or --steps");
    if (rc) return rc;
    int sc_lo = 0, sc_hi = 0;
    if (!strcmp(scorer, "rmse")) sc_lo = sc_hi = 1;
    else if (!strcmp(scorer, "both")) sc_hi = 1;
    else if (strcmp(scorer, "none")) return nf_cli_error(CMD, NF_EXIT_USAGE, "--scorer %s: none, rmse or both", scorer);

    nf_backend list[2];
    int nb = 0;
    if (c.backend_all) {
        list[nb++] = NF_BACKEND_CPU;
        if (nf_cuda_available()) list[nb++] = NF_BACKEND_CUDA;
    } else {
        list[nb++] = c.backend == NF_BACKEND_AUTO ? (nf_cuda_available() ? NF_BACKEND_CUDA : NF_BACKEND_CPU) : c.backend;
    }
    /* validate the model list first */
    char buf[512];
    snprintf(buf, sizeof buf, "%s", models);
    const nf_model *ms[64];
    int nm = 0;
    if (!strcmp(models, "all")) {
        for (int i = 0; i < nf_model_count() && nm < 64; i++) ms[nm++] = nf_model_at(i);
    } else {
        char *save = NULL;
        for (char *t = strtok_r(buf, ",", &save); t && nm < 64; t = strtok_r(NULL, ",", &save)) {
            if (!(ms[nm++] = nf_model_find(t))) return nf_cli_error(CMD, NF_EXIT_USAGE, "--models: %s", nf_errmsg());
        }
    }
    printf("| model | backend | sims | steps | scorer | neuron-steps/s | kernel neuron-steps/s | fraction of H100 ceiling "
           "| batches | threads in flight |\n");
    printf("|---|---|---:|---:|---|---:|---:|---:|---:|---:|\n");
    for (int bi = 0; bi < nb; bi++) {
        nf_engine *e;
        if ((rc = nf_cli_engine_create(CMD, &c, list[bi], &e))) return rc;
        /* the backend column; the ceiling is that of as many H100s as devices */
        int ids[NF_MAX_DEVICES], nd = nf_engine_devices(e, ids, NF_MAX_DEVICES);
        char bname[48];
        snprintf(bname, sizeof bname, nd > 1 ? "%s x%d" : "%s", nf_backend_name(list[bi]), nd);
        for (int k = 0; k < nm; k++)
            for (int sc = sc_lo; sc <= sc_hi; sc++) {
                nf_cli_bench_result r;
                char err[512];
                if (nf_cli_bench_engine(e, ms[k], P, T, sc, (int)reps, (int)batches, &r, err, sizeof err)) {
                    nf_engine_destroy(e);
                    return nf_cli_error(CMD, NF_EXIT_FAIL, "%s", err);
                }
                double ceil = list[bi] == NF_BACKEND_CUDA ? nf_cli_h100_ceiling(ms[k]) * nd : 0;
                char frac[32] = "-", krate[32] = "-";
                if (ceil > 0) snprintf(frac, sizeof frac, "%.2f", r.kernel_steps_per_s / ceil);
                if (r.kernel_seconds > 0) snprintf(krate, sizeof krate, "%.3g", r.kernel_steps_per_s);
                printf("| %s | %s | %lld | %lld | %s | %.3g | %s | %s | %lld | %lld |\n", ms[k]->name, bname,
                       (long long)P, (long long)T, sc ? "rmse" : "none", r.steps_per_s, krate, frac, (long long)batches,
                       (long long)r.in_flight);
                fflush(stdout);
            }
        nf_engine_destroy(e);
    }
    return NF_EXIT_OK;
}
