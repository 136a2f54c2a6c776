/* `neurofit sbi sbc`: simulation-based calibration of the posterior estimator
 * (src/sbc/, include/neurofit/sbc.h) on the bayesflow-lif problem.
 *
 *   neurofit sbi sbc --preset bayesflow-lif [--draws M] [--posterior-samples L] [--reference N]
 *       [--stimulus observed|unobserved] [--seed S] --out DIR
 *
 * Under mpirun (cli/cli_dist.h) the ranks share the reference table and the
 * draws out (nf_dist_sbc_lif_run) and rank 0 writes.
 * The outputs are one set (nf_sbc_write: staged, sbc.json committed last)
 * under DIR's lock, so a failed or killed run leaves DIR as it was; a DIR
 * that holds an sbc.json is refused unless --force. */
#include "cli/cli_dist.h"
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "neurofit/dist.h"
#include "neurofit/engine.h"
#include "neurofit/sbc.h"

#include <stdio.h>
#include <string.h>

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
            "  --force                       replace the results of an earlier run in DIR\n"
            "  outputs in DIR: sbc.json (written last), sbc_ranks.svg, sbc_ecdf.svg, sbc_recovery.svg\n");
}

enum { O_PRESET = NF_CLI_OWN, O_STIMULUS, O_DRAWS, O_POSTERIOR_SAMPLES, O_REFERENCE, O_PREDICTIVE, O_SIGMA };

static const struct option sbi_sbc_options[] = {
    NF_CLI_OPT_HELP, NF_CLI_OPT_OUT, NF_CLI_OPT_FORCE, NF_CLI_OPT_QUIET, NF_CLI_OPT_SEED, NF_CLI_OPT_BACKEND,
    NF_CLI_OPT_THREADS,
    {"preset", required_argument, NULL, O_PRESET},
    {"stimulus", required_argument, NULL, O_STIMULUS},
    {"draws", required_argument, NULL, O_DRAWS},
    {"posterior-samples", required_argument, NULL, O_POSTERIOR_SAMPLES},
    {"reference", required_argument, NULL, O_REFERENCE},
    {"predictive", required_argument, NULL, O_PREDICTIVE},
    {"sigma", required_argument, NULL, O_SIGMA},
    NF_CLI_OPT_END};

int nf_cli_sbi_sbc(int argc, char **argv)
{
    static const char *C = "sbi sbc";
    const char *preset = NULL, *stim_s = "observed";
    nf_sbc_lif_opts o;
    nf_sbc_lif_opts_default(&o);
    nf_cli_common c = {.seed = o.seed};
    nf_cli_parser p;
    nf_cli_parser_init(&p, C, argc, argv, sbi_sbc_options, &c);
    for (int k; (k = nf_cli_next(&p)) != NF_CLI_END;) {
        const char *v = p.arg;
        switch (k) {
        case NF_CLI_HELP: usage_sbc(stdout); return NF_EXIT_OK;
        case NF_CLI_ERROR: return p.rc;
        case NF_CLI_ARG: return nf_cli_unexpected(&p);
        case O_PRESET: preset = v; break;
        case O_STIMULUS: stim_s = v; break;
        case O_DRAWS:
            if (!nf_cli_parse_count(v, 10, 10000000, &o.M))
                return nf_cli_error(C, NF_EXIT_USAGE, "--draws %s: need an integer in 10..1e7", v);
            break;
        case O_POSTERIOR_SAMPLES:
            if (!nf_cli_parse_count(v, 1, 100000, &o.L))
                return nf_cli_error(C, NF_EXIT_USAGE, "--posterior-samples %s: need an integer in 1..100000", v);
            break;
        case O_REFERENCE:
            if (!nf_cli_parse_count(v, 1000, 100000000, &o.n_ref))
                return nf_cli_error(C, NF_EXIT_USAGE, "--reference %s: need an integer in 1000..1e8", v);
            break;
        case O_PREDICTIVE:
            if (!nf_cli_parse_count(v, 2, 100000, &o.P))
                return nf_cli_error(C, NF_EXIT_USAGE, "--predictive %s: need an integer in 2..100000", v);
            break;
        case O_SIGMA:
            if (!nf_cli_parse_double(v, &o.sigma_mV) || o.sigma_mV < 0)
                return nf_cli_error(C, NF_EXIT_USAGE, "--sigma %s: need mV >= 0", v);
            break;
        }
    }
    o.seed = c.seed;
    const char *out = c.out;
    const int worker = nf_cli_dist_worker(), quiet = c.quiet || worker; /* under mpirun rank 0 reports and writes */
    if (!preset) return nf_cli_error(C, NF_EXIT_USAGE, "--preset bayesflow-lif is required");
    if (strcmp(preset, "bayesflow-lif") != 0)
        return nf_cli_error(C, NF_EXIT_USAGE, "--preset %s: unknown (known: bayesflow-lif)", preset);
    if (!out) return nf_cli_error(C, NF_EXIT_USAGE, "--out DIR is required");
    if (!strcmp(stim_s, "observed")) o.with_stimulus = 1;
    else if (!strcmp(stim_s, "unobserved")) o.with_stimulus = 0;
    else return nf_cli_error(C, NF_EXIT_USAGE, "--stimulus %s: expected observed or unobserved", stim_s);

    /* sizes against memory (the reference table and the ABC's copies of it, the
     * test cases and their traces, the posterior draws), then one writer of --out */
    char what[256];
    snprintf(what, sizeof what, "--reference %lld, --draws %lld x --posterior-samples %lld", (long long)o.n_ref,
             (long long)o.M, (long long)o.L);
    int rc = nf_cli_check_memory(C, 512.0 * (double)o.n_ref + 4.0 * (double)o.M * (1024 + 12.0 * (double)o.L) +
                                        8.0 * 1024 * (double)o.P, what, "fewer draws, posterior samples or reference simulations");
    nf_out_lock *lock = NULL;
    if (!rc && !worker) rc = nf_cli_out_begin(C, out, "sbc.json", c.force, &lock);
    if (rc) return rc;
    nf_cli_stop_mode(NF_CLI_STOP_EXIT); /* nothing staged while computing: a signal just ends the run */
    nf_engine *e = NULL;
    if (nf_engine_create(c.backend, c.threads, &e)) {
        nf_cli_out_end(lock);
        return nf_cli_error(C, NF_EXIT_FAIL, "%s", nf_errmsg());
    }
    if (!quiet)
        fprintf(stderr, "neurofit sbi sbc: %lld reference simulations, %lld draws x %lld posterior samples (%s)...\n",
                (long long)o.n_ref, (long long)o.M, (long long)o.L, o.with_stimulus ? "stimulus observed" : "voltage only");
    nf_sbc_result *r = NULL;
    nf_sbc_lif_times tm;
    if (!nf_cli_dist()) {
        if (nf_sbc_lif_run(e, &o, &r, &tm))
            rc = nf_cli_error(C, NF_EXIT_FAIL, "%s", nf_errmsg());
    } else if (!(rc = nf_cli_dist_agree(C, NF_EXIT_OK)) && nf_dist_sbc_lif_run(e, &o, &r, &tm))
        rc = nf_cli_error(C, NF_EXIT_FAIL, "%s", nf_errmsg());
    nf_engine_destroy(e);
    nf_cli_stop_mode(NF_CLI_STOP_FLAG); /* the set is written whole or not at all */
    if (rc == NF_EXIT_OK && !worker && nf_sbc_write(r, out))
        rc = nf_cli_error(C, NF_EXIT_FAIL, "--out %s: %s", out, nf_errmsg());
    nf_cli_stop_mode(NF_CLI_STOP_DEFAULT);
    nf_cli_out_end(lock);
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
