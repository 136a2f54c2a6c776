/* `neurofit sbi infer`: posterior draws of the lif6 parameters for observed
 * traces, by the estimator of src/sbc/ against a bayesflow-lif reference
 * table (simulated here, or a `sbi simulate --preset bayesflow-lif` dataset).
 *
 *   neurofit sbi infer --reference DIR|bayesflow-lif --observed FILE.npy [--stimulus FILE.npy]
 *       [--samples L] --out DIR
 *
 * All computing is the library's (include/neurofit/sbc.h, part 4); the
 * outputs are one set (nf_sbc_lif_posterior_write, posterior.json last),
 * under DIR's lock; a DIR that holds a posterior.json is refused unless
 * --force. */
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "neurofit/engine.h"
#include "neurofit/sbc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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
            "  --force                    replace the results of an earlier run in DIR\n"
            "  outputs in DIR: posterior.npy [K][L][6] f4 (model units), posterior.json (per trace mean,\n"
            "  sd, 5/50/95 %% quantiles; written last)\n");
}

enum { O_REFERENCE = NF_CLI_OWN, O_OBSERVED, O_STIMULUS, O_SAMPLES, O_REFERENCE_N, O_SIGMA };

static const struct option sbi_infer_options[] = {
    NF_CLI_OPT_HELP, NF_CLI_OPT_OUT, NF_CLI_OPT_FORCE, NF_CLI_OPT_QUIET, NF_CLI_OPT_SEED, NF_CLI_OPT_BACKEND,
    NF_CLI_OPT_THREADS,
    {"reference", required_argument, NULL, O_REFERENCE},
    {"observed", required_argument, NULL, O_OBSERVED},
    {"stimulus", required_argument, NULL, O_STIMULUS},
    {"samples", required_argument, NULL, O_SAMPLES},
    {"reference-n", required_argument, NULL, O_REFERENCE_N},
    {"sigma", required_argument, NULL, O_SIGMA},
    NF_CLI_OPT_END};

int nf_cli_sbi_infer(int argc, char **argv)
{
    static const char *C = "sbi infer";
    const char *ref = NULL, *obs_path = NULL, *stim_path = NULL;
    int64_t L = 1000, n_ref = 100000;
    double sigma = 0.1;
    nf_cli_common c = {.seed = 2026};
    nf_cli_parser p;
    nf_cli_parser_init(&p, C, argc, argv, sbi_infer_options, &c);
    for (int k; (k = nf_cli_next(&p)) != NF_CLI_END;) {
        const char *v = p.arg;
        switch (k) {
        case NF_CLI_HELP: usage_infer(stdout); return NF_EXIT_OK;
        case NF_CLI_ERROR: return p.rc;
        case NF_CLI_ARG: return nf_cli_unexpected(&p);
        case O_REFERENCE: ref = v; break;
        case O_OBSERVED: obs_path = v; break;
        case O_STIMULUS: stim_path = v; break;
        case O_SAMPLES:
            if (!nf_cli_parse_count(v, 1, 1000000, &L))
                return nf_cli_error(C, NF_EXIT_USAGE, "--samples %s: need an integer in 1..1e6", v);
            break;
        case O_REFERENCE_N:
            if (!nf_cli_parse_count(v, 1000, 100000000, &n_ref))
                return nf_cli_error(C, NF_EXIT_USAGE, "--reference-n %s: need an integer in 1000..1e8", v);
            break;
        case O_SIGMA:
            if (!nf_cli_parse_double(v, &sigma) || sigma < 0) return nf_cli_error(C, NF_EXIT_USAGE, "--sigma %s: need mV >= 0", v);
            break;
        }
    }
    const char *out = c.out;
    const int quiet = c.quiet;
    const uint64_t seed = c.seed;
    if (!ref) return nf_cli_error(C, NF_EXIT_USAGE, "--reference DIR|bayesflow-lif is required");
    if (!obs_path) return nf_cli_error(C, NF_EXIT_USAGE, "--observed FILE.npy is required");
    if (!out) return nf_cli_error(C, NF_EXIT_USAGE, "--out DIR is required");

    /* all input is read and checked before any simulation or output */
    float *obs = NULL, *stim = NULL, *rt = NULL, *rs = NULL, *post = NULL, *s_obs = NULL;
    int64_t K = 0, n_stim = 0;
    int rc = NF_EXIT_OK;
    if (nf_sbc_lif_traces_read(obs_path, &obs, &K))
        rc = nf_cli_error(C, NF_EXIT_USAGE, "--observed: %s", nf_errmsg());
    if (!rc && stim_path && nf_sbc_lif_traces_read(stim_path, &stim, &n_stim))
        rc = nf_cli_error(C, NF_EXIT_USAGE, "--stimulus: %s", nf_errmsg());
    if (!rc && stim_path && n_stim != 1 && n_stim != K)
        rc = nf_cli_error(C, NF_EXIT_USAGE, "--stimulus %s: %lld stimuli for %lld observed traces (need 1 or %lld)",
                          stim_path, (long long)n_stim, (long long)K, (long long)K);
    const int ws = stim_path != NULL, k = nf_sbc_lif_n_summaries(ws);
    if (!rc && !(s_obs = malloc(sizeof(float) * (size_t)K * (size_t)k)))
        rc = nf_cli_error(C, NF_EXIT_FAIL, "out of memory");
    if (!rc && nf_sbc_lif_summaries_rows(obs, K, stim, n_stim, s_obs))
        rc = nf_cli_error(C, NF_EXIT_USAGE, "--observed %s: %s", obs_path, nf_errmsg());
    int is_preset = !strcmp(ref, "bayesflow-lif");
    struct stat sb;
    if (!rc && !is_preset && (stat(ref, &sb) != 0 || !S_ISDIR(sb.st_mode)))
        rc = nf_cli_error(C, NF_EXIT_USAGE, "--reference %s: neither a preset (bayesflow-lif) nor a dataset directory", ref);
    if (!rc && !is_preset && nf_sbc_lif_reference_read(ref, ws, sigma, seed, &rt, &rs, &n_ref))
        rc = nf_cli_error(C, NF_EXIT_USAGE, "--reference: %s", nf_errmsg());
    /* sizes against memory, then one writer of --out, before any simulation */
    char what[256];
    snprintf(what, sizeof what, "%lld observed traces x --samples %lld, --reference-n %lld", (long long)K,
             (long long)L, (long long)n_ref);
    if (!rc)
        rc = nf_cli_check_memory(C, 4.0 * (double)K * (double)L * NF_SBC_LIF_D + 512.0 * (double)n_ref, what,
                                 "fewer --samples or reference simulations");
    nf_out_lock *lock = NULL;
    if (!rc) rc = nf_cli_out_begin(C, out, "posterior.json", c.force, &lock);
    nf_cli_stop_mode(NF_CLI_STOP_EXIT); /* nothing staged while computing: a signal just ends the run */
    nf_engine *e = NULL;
    if (!rc && is_preset) {
        if (!quiet) fprintf(stderr, "neurofit sbi infer: simulating %lld reference traces...\n", (long long)n_ref);
        rt = malloc(sizeof(float) * (size_t)n_ref * NF_SBC_LIF_D);
        rs = malloc(sizeof(float) * (size_t)n_ref * (size_t)k);
        if (!rt || !rs) rc = nf_cli_error(C, NF_EXIT_FAIL, "out of memory for %lld reference rows", (long long)n_ref);
        else if (nf_engine_create(c.backend, c.threads, &e) ||
                 nf_sbc_lif_table(e, seed, 0, n_ref, sigma, rt, NULL, NULL, ws ? rs : NULL, ws ? NULL : rs))
            rc = nf_cli_error(C, NF_EXIT_FAIL, "%s", nf_errmsg());
        nf_engine_destroy(e);
    }
    /* the repair rule's branch as a latent class for V_res, as `sbi sbc` does by default */
    nf_abc *abc = NULL;
    if (!rc && nf_sbc_lif_abc_create(rt, rs, n_ref, ws, NULL, 1, &abc))
        rc = nf_cli_error(C, NF_EXIT_USAGE, "--reference %s: %s", ref, nf_errmsg());
    if (!rc && !(post = malloc(sizeof(float) * (size_t)(K * L) * NF_SBC_LIF_D)))
        rc = nf_cli_error(C, NF_EXIT_FAIL, "out of memory for %lld x %lld posterior draws", (long long)K, (long long)L);
    if (!rc && nf_sbc_lif_posterior(abc, s_obs, K, L, seed, post)) rc = nf_cli_error(C, NF_EXIT_FAIL, "%s", nf_errmsg());
    nf_sbc_lif_posterior_info info = {.reference = ref, .n_reference = n_ref, .sigma_mV = sigma, .with_stimulus = ws,
                                      .seed = seed, .observed = obs_path, .stimulus_file = stim_path};
    nf_cli_stop_mode(NF_CLI_STOP_FLAG); /* the set is written whole or not at all */
    if (!rc && nf_sbc_lif_posterior_write(out, post, K, L, &info))
        rc = nf_cli_error(C, NF_EXIT_FAIL, "--out %s: %s", out, nf_errmsg());
    nf_cli_stop_mode(NF_CLI_STOP_DEFAULT);
    nf_cli_out_end(lock);
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
