/* Simulation-based calibration of the regression-adjusted ABC posterior on the
 * BayesFlow LIF problem (six lif6 parameters, 501 samples at 0.1 ms), with the
 * stimulus observed and from the voltage alone.
 *
 *   bench_sbc [--ref N] [--M M] [--L L] [--ppc P] [--sigma mV] [--k K]
 *             [--margin W] [--hetero 0|1] [--refine R] [--linear F] [--seed S]
 *             [--out DIR]
 *
 * N reference simulations build the estimator; M fresh prior draws are then
 * simulated, inferred (L posterior draws each) and ranked. P posterior draws
 * per test case are re-simulated for the predictive check: the fraction of a
 * held-out replicate trace (same parameters and stimulus, new measurement
 * noise) inside the pointwise 90 % predictive band. Prints markdown tables and
 * writes DIR/{stim,volt}/sbc.json and the SVG plots. */
#include "../tests/nf_sbc_lif.h"
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

typedef struct cfg {
    int64_t n_ref, M, L, P, K;
    double sigma, margin, linear;
    int hetero, refine;
    uint64_t seed;
    const char *out;
} cfg;

static int die(const char *what)
{
    fprintf(stderr, "bench_sbc: %s: %s\n", what, nf_errmsg());
    return 1;
}

/* One variant: infer every test case, predictive check, analyse, report. */
static int run_variant(const cfg *c, nf_engine *e, int with_stim, const float *ref_theta, const float *ref_s,
                       const float *test_theta, const float *test_s)
{
    const int d = NFT_LIF_D, k = nf_sbc_lif_n_summaries(with_stim);
    const char *tag = with_stim ? "stim" : "volt";
    double t0 = now_s();
    nf_abc_opts o;
    nf_abc_opts_default(&o);
    o.n_neighbors = c->K;
    if (c->margin > 0) o.margin = c->margin;
    o.hetero = c->hetero;
    if (c->refine >= 0) o.refine = c->refine;
    if (c->linear >= 0) o.linear_below = c->linear;
    nf_abc *abc = NULL;
    if (nf_abc_create(ref_theta, ref_s, c->n_ref, d, k, nft_lif_lo, nft_lif_hi, &o, &abc) != NF_OK)
        return die("abc_create");
    double t1 = now_s();
    float *post = malloc(sizeof(float) * (size_t)(c->M * c->L * d));
    double *ppc = malloc(sizeof(double) * (size_t)c->M);
    float *I = malloc(sizeof(float) * (size_t)(c->P + 1) * NFT_LIF_T);
    float *v = malloc(sizeof(float) * (size_t)(c->P + 1) * NFT_LIF_T);
    float *th = malloc(sizeof(float) * (size_t)(c->P + 1) * d);
    if (!post || !ppc || !I || !v || !th) return die("out of memory");
    for (int64_t m = 0; m < c->M; m++)
        if (nf_abc_sample(abc, test_s + m * k, c->L, c->seed + 1000 + (uint64_t)m, post + m * c->L * d) != NF_OK)
            return die("abc_sample");
    double t2 = now_s();
    /* predictive check: rows 0..P-1 posterior draws, row P the held-out replicate */
    const uint64_t test_seed = c->seed + 1;
    for (int64_t m = 0; m < c->M; m++) {
        for (int64_t p = 0; p <= c->P; p++) {
            const float *src = p < c->P ? post + (m * c->L + p % c->L) * d : test_theta + m * d;
            /* draws may leave the prior box slightly (see docs/sbc.md);
             * simulate them inside it so every parameter is physical */
            for (int j = 0; j < d; j++) {
                float t = src[j];
                th[p * d + j] = t < nft_lif_lo[j] ? (float)nft_lif_lo[j] : (t > nft_lif_hi[j] ? (float)nft_lif_hi[j] : t);
            }
            /* stimulus known: the observed one; voltage only: a fresh prior stimulus per draw */
            if (with_stim || p == c->P) nft_lif_stimulus(test_seed, m, I + p * NFT_LIF_T);
            else nft_lif_stimulus(c->seed + 77, m * (c->P + 1) + p, I + p * NFT_LIF_T);
        }
        if (nft_lif_simulate(e, th, I, c->P + 1, c->sigma, c->seed + 99 + (uint64_t)m, 0, v) != 0)
            return die("simulate");
        if (nf_sbc_band_coverage(v, c->P, NFT_LIF_T, v + c->P * NFT_LIF_T, 0.9, &ppc[m]) != NF_OK)
            return die("coverage");
    }
    double t3 = now_s();
    nf_sbc_input in;
    memset(&in, 0, sizeof in);
    in.M = c->M;
    in.L = c->L;
    in.d = d;
    in.names = nft_lif_names;
    in.units = nft_lif_units;
    in.theta = test_theta;
    in.post = post;
    in.ppc = ppc;
    in.ppc_level = 0.9;
    in.seed = c->seed + 5;
    nf_sbc_result *r = NULL;
    if (nf_sbc_analyse(&in, &r) != NF_OK) return die("sbc_analyse");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s", c->out, tag);
    char path[4200];
    snprintf(path, sizeof path, "%s/sbc.json", dir);
    if (nf_sbc_write_svg(r, dir) != NF_OK || nf_sbc_write_json(r, path) != NF_OK) return die(dir);
    printf("\n### %s (N = %lld reference, M = %lld, L = %lld, K = %lld, sigma = %g mV)\n\n",
           with_stim ? "stimulus observed" : "voltage only", (long long)c->n_ref, (long long)c->M, (long long)c->L,
           (long long)(c->K ? c->K : 0), c->sigma);
    printf("| parameter | Pearson r | contraction | z mean | z sd | RMSE | ECDF points outside 95%% band | max abs ECDF diff |\n");
    printf("|---|---|---|---|---|---|---|---|\n");
    for (int j = 0; j < d; j++) {
        nf_sbc_param_stats s;
        nf_sbc_result_param(r, j, &s);
        printf("| %s [%s] | %.4f | %.3f | %+.3f | %.3f | %.4g | %d | %.4f |\n", nft_lif_names[j], nft_lif_units[j], s.r,
               s.contraction, s.z_mean, s.z_sd, s.rmse, s.violations, s.max_ecdf_diff);
    }
    printf("\npredictive check: mean fraction of held-out samples inside the 90%% band = %.3f\n",
           nf_sbc_result_ppc(r));
    printf("times: build %.2f s, %lld posteriors %.2f s (%.2f ms each), predictive %.2f s; output %s\n", t1 - t0,
           (long long)c->M, t2 - t1, 1e3 * (t2 - t1) / (double)c->M, t3 - t2, dir);
    nf_sbc_result_destroy(r);
    nf_abc_destroy(abc);
    free(post);
    free(ppc);
    free(I);
    free(v);
    free(th);
    return 0;
}

int main(int argc, char **argv)
{
    cfg c = {.n_ref = 100000, .M = 500, .L = 99, .P = 50, .K = 0, .sigma = 0.1, .hetero = 1, .refine = -1, .linear = -1, .seed = 2026, .out = "sbc_out"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) {
            fprintf(stderr, "bench_sbc: %s needs a value\n", a);
            return 2;
        }
        const char *val = argv[++i];
        if (!strcmp(a, "--ref")) c.n_ref = atoll(val);
        else if (!strcmp(a, "--M")) c.M = atoll(val);
        else if (!strcmp(a, "--L")) c.L = atoll(val);
        else if (!strcmp(a, "--ppc")) c.P = atoll(val);
        else if (!strcmp(a, "--k")) c.K = atoll(val);
        else if (!strcmp(a, "--sigma")) c.sigma = atof(val);
        else if (!strcmp(a, "--margin")) c.margin = atof(val);
        else if (!strcmp(a, "--hetero")) c.hetero = atoi(val);
        else if (!strcmp(a, "--refine")) c.refine = atoi(val);
        else if (!strcmp(a, "--linear")) c.linear = atof(val);
        else if (!strcmp(a, "--seed")) c.seed = (uint64_t)atoll(val);
        else if (!strcmp(a, "--out")) c.out = val;
        else {
            fprintf(stderr, "bench_sbc: unknown option %s\n", a);
            return 2;
        }
    }
    if (c.n_ref < 1000 || c.M < 10 || c.L < 1 || c.P < 2 || c.K < 0 || !(c.sigma >= 0.0)) {
        fprintf(stderr, "bench_sbc: need --ref >= 1000, --M >= 10, --L >= 1, --ppc >= 2, --k >= 0, --sigma >= 0\n");
        return 2;
    }
    nf_engine *e = NULL;
    if (nf_engine_create(NF_BACKEND_CPU, 0, &e) != NF_OK) return die("engine");
    const int d = NFT_LIF_D, k1 = nf_sbc_lif_n_summaries(1), k0 = nf_sbc_lif_n_summaries(0);
    float *rt = malloc(sizeof(float) * (size_t)(c.n_ref * d));
    float *rs1 = malloc(sizeof(float) * (size_t)(c.n_ref * k1));
    float *rs0 = malloc(sizeof(float) * (size_t)(c.n_ref * k0));
    float *tt = malloc(sizeof(float) * (size_t)(c.M * d));
    float *ts1 = malloc(sizeof(float) * (size_t)(c.M * k1));
    float *ts0 = malloc(sizeof(float) * (size_t)(c.M * k0));
    if (!rt || !rs1 || !rs0 || !tt || !ts1 || !ts0) return die("out of memory");
    printf("# SBC of regression-adjusted ABC on the LIF problem\n\n");
    double t0 = now_s();
    if (nft_lif_table(e, c.seed, 0, c.n_ref, c.sigma, rt, rs1, rs0) != 0) return die("reference table");
    double t1 = now_s();
    if (nft_lif_table(e, c.seed + 1, 0, c.M, c.sigma, tt, ts1, ts0) != 0) return die("test set");
    printf("reference table: %lld simulations + summaries in %.2f s (%.1f us each, %d CPU threads)\n",
           (long long)c.n_ref, t1 - t0, 1e6 * (t1 - t0) / (double)c.n_ref, nf_engine_threads(e));
    int rc = run_variant(&c, e, 1, rt, rs1, tt, ts1);
    if (rc == 0) rc = run_variant(&c, e, 0, rt, rs0, tt, ts0);
    printf("\ntotal %.1f s\n", now_s() - t0);
    nf_engine_destroy(e);
    free(rt);
    free(rs1);
    free(rs0);
    free(tt);
    free(ts1);
    free(ts0);
    return rc;
}
