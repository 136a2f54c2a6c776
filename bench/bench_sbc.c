/* Simulation-based calibration of the regression-adjusted ABC posterior on the
 * BayesFlow LIF problem (six lif6 parameters, 501 samples at 0.1 ms), with the
 * stimulus observed and from the voltage alone.
 *
 *   bench_sbc [--ref N] [--M M] [--L L] [--ppc P] [--sigma mV] [--k K]
 *             [--margin W] [--hetero 0|1] [--refine R] [--linear F] [--classes 0|1]
 *             [--seed S] [--variant both|stim|volt] [--out DIR]
 *
 * N reference simulations build the estimator; M fresh prior draws are then
 * simulated, inferred (L posterior draws each) and ranked. P posterior draws
 * per test case are re-simulated for the predictive check: the fraction of a
 * held-out replicate trace (same parameters and stimulus, new measurement
 * noise) inside the pointwise 90 % predictive band. Prints markdown tables and
 * writes DIR/{stim,volt}/sbc.json and the SVG plots. */
#include "neurofit/engine.h"
#include "neurofit/sbc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int die(const char *what)
{
    fprintf(stderr, "bench_sbc: %s: %s\n", what, nf_errmsg());
    return 1;
}

/* One variant (stimulus observed or voltage only): the library's whole SBC
 * run (nf_sbc_lif_run), reported as a markdown table. */
static int run_variant(nf_sbc_lif_opts o, nf_engine *e, int with_stim, const char *out)
{
    o.with_stimulus = with_stim;
    const char *tag = with_stim ? "stim" : "volt";
    nf_sbc_result *r = NULL;
    nf_sbc_lif_times tm;
    if (nf_sbc_lif_run(e, &o, &r, &tm) != NF_OK) return die("sbc_lif_run");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", out, tag);
    if (nf_sbc_write(r, dir) != NF_OK) return die(dir);
    printf("\n### %s (N = %lld reference, M = %lld, L = %lld, K = %lld, sigma = %g mV, repair classes %s)\n\n",
           with_stim ? "stimulus observed" : "voltage only", (long long)o.n_ref, (long long)o.M, (long long)o.L,
           (long long)o.abc.n_neighbors, o.sigma_mV, o.repair_classes ? "on" : "off");
    printf("| parameter | Pearson r | contraction | z mean | z sd | RMSE | ECDF points outside 95%% band | max abs ECDF diff |\n");
    printf("|---|---|---|---|---|---|---|---|\n");
    for (int j = 0; j < NF_SBC_LIF_D; j++) {
        nf_sbc_param_stats s;
        nf_sbc_result_param(r, j, &s);
        printf("| %s [%s] | %.4f | %.3f | %+.3f | %.3f | %.4g | %d | %.4f |\n", nf_sbc_lif_param_name(j),
               nf_sbc_lif_param_unit(j), s.r, s.contraction, s.z_mean, s.z_sd, s.rmse, s.violations,
               s.max_ecdf_diff);
    }
    printf("\npredictive check: mean fraction of held-out samples inside the 90%% band = %.3f\n",
           nf_sbc_result_ppc(r));
    printf("times: reference + test tables %.2f s (%.1f us per simulation + summaries), build %.2f s, %lld posteriors "
           "%.2f s (%.2f ms each), predictive %.2f s; output %s\n",
           tm.table_s, 1e6 * tm.table_s / (double)(o.n_ref + o.M), tm.build_s, (long long)o.M, tm.infer_s,
           1e3 * tm.infer_s / (double)o.M, tm.ppc_s, dir);
    nf_sbc_result_destroy(r);
    return 0;
}

int main(int argc, char **argv)
{
    nf_sbc_lif_opts o;
    nf_sbc_lif_opts_default(&o);
    const char *out = "sbc_out";
    const char *variant = "both";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) {
            fprintf(stderr, "bench_sbc: %s needs a value\n", a);
            return 2;
        }
        const char *val = argv[++i];
        if (!strcmp(a, "--ref")) o.n_ref = atoll(val);
        else if (!strcmp(a, "--M")) o.M = atoll(val);
        else if (!strcmp(a, "--L")) o.L = atoll(val);
        else if (!strcmp(a, "--ppc")) o.P = atoll(val);
        else if (!strcmp(a, "--k")) o.abc.n_neighbors = atoll(val);
        else if (!strcmp(a, "--sigma")) o.sigma_mV = atof(val);
        else if (!strcmp(a, "--margin")) o.abc.margin = atof(val);
        else if (!strcmp(a, "--hetero")) o.abc.hetero = atoi(val);
        else if (!strcmp(a, "--refine")) o.abc.refine = atoi(val);
        else if (!strcmp(a, "--linear")) o.abc.linear_below = atof(val);
        else if (!strcmp(a, "--var-match")) o.abc.var_match = atof(val);
        else if (!strcmp(a, "--local-quadratic")) o.abc.local_quadratic = atoi(val);
        else if (!strcmp(a, "--classes")) o.repair_classes = atoi(val);
        else if (!strcmp(a, "--seed")) o.seed = (uint64_t)atoll(val);
        else if (!strcmp(a, "--out")) out = val;
        else if (!strcmp(a, "--variant") && (!strcmp(val, "both") || !strcmp(val, "stim") || !strcmp(val, "volt")))
            variant = val;
        else {
            fprintf(stderr, "bench_sbc: unknown option %s\n", a);
            return 2;
        }
    }
    nf_engine *e = NULL;
    if (nf_engine_create(NF_BACKEND_CPU, 0, &e) != NF_OK) return die("engine");
    printf("# SBC of regression-adjusted ABC on the LIF problem (%d CPU threads)\n\n", nf_engine_threads(e));
    double t0 = now_s();
    int rc = 0;
    if (strcmp(variant, "volt")) rc = run_variant(o, e, 1, out);
    if (rc == 0 && strcmp(variant, "stim")) rc = run_variant(o, e, 0, out);
    printf("\ntotal %.1f s\n", now_s() - t0);
    nf_engine_destroy(e);
    return rc;
}
