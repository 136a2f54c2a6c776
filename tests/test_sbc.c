/* The sbc module: the SBC machinery on a conjugate Gaussian problem with an
 * exact posterior, the simultaneous ECDF band, the ABC estimator's
 * calibration, lif6 summaries and recovery on a small LIF set, outputs and
 * bad input. */
#include "neurofit/sbc.h"
#include "neurofit/sbi.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* splitmix64: a small seeded generator for the synthetic problems below. */
typedef struct nft_rng {
    uint64_t s;
} nft_rng;

static uint64_t nft_next(nft_rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double nft_unif(nft_rng *r) { return ((double)(nft_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0); }

static double nft_normal(nft_rng *r)
{
    double u = nft_unif(r), v = nft_unif(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* Conjugate model: theta_j ~ N(0, 1), x = n_obs samples N(theta_j, 1); the
 * posterior is N(sum x / (n + 1), 1 / (n + 1)). Draws from it with the
 * posterior sd multiplied by sd_scale (1: exact). */
static void gaussian_sbc(int64_t M, int64_t L, int d, int n_obs, double sd_scale, uint64_t seed, float *theta,
                         float *post)
{
    nft_rng r = {seed};
    for (int64_t m = 0; m < M; m++)
        for (int j = 0; j < d; j++) {
            double th = nft_normal(&r), sx = 0.0;
            for (int i = 0; i < n_obs; i++) sx += th + nft_normal(&r);
            double mu = sx / (n_obs + 1.0), sd = sd_scale / sqrt(n_obs + 1.0);
            theta[m * d + j] = (float)th;
            for (int64_t l = 0; l < L; l++) post[(m * L + l) * d + j] = (float)(mu + sd * nft_normal(&r));
        }
}

static nf_sbc_result *analyse(int64_t M, int64_t L, int d, const float *theta, const float *post)
{
    nf_sbc_input in = {0};
    in.M = M;
    in.L = L;
    in.d = d;
    in.theta = theta;
    in.post = post;
    in.seed = 11;
    in.n_band_sims = 1000;
    nf_sbc_result *r = NULL;
    cr_assert_eq(nf_sbc_analyse(&in, &r), NF_OK, "%s", nf_errmsg());
    return r;
}

Test(sbc_machinery, exact_gaussian_posterior_gives_uniform_ranks)
{
    const int64_t M = 400, L = 49;
    const int d = 3, n_obs = 4;
    float *theta = malloc(sizeof(float) * M * d), *post = malloc(sizeof(float) * M * L * d);
    gaussian_sbc(M, L, d, n_obs, 1.0, 5, theta, post);
    nf_sbc_result *r = analyse(M, L, d, theta, post);
    for (int j = 0; j < d; j++) {
        nf_sbc_param_stats s;
        cr_assert_eq(nf_sbc_result_param(r, j, &s), NF_OK);
        cr_expect_eq(s.violations, 0, "param %d: %d ECDF points outside the band", j, s.violations);
        cr_expect(fabs(s.z_mean) < 0.15 && fabs(s.z_sd - 1.0) < 0.12, "z %g +- %g", s.z_mean, s.z_sd);
        /* contraction 1 - (1/(n+1)) / 1 = 0.8; r = sqrt(n/(n+1)) = 0.894 */
        cr_expect(fabs(s.contraction - 0.8) < 0.05, "contraction %g", s.contraction);
        cr_expect(fabs(s.r - 0.894) < 0.05, "r %g", s.r);
    }
    nf_sbc_result_destroy(r);
    free(theta);
    free(post);
}

Test(sbc_machinery, overconfident_and_biased_posteriors_are_flagged)
{
    const int64_t M = 400, L = 49;
    const int d = 1;
    float *theta = malloc(sizeof(float) * M * d), *post = malloc(sizeof(float) * M * L * d);
    gaussian_sbc(M, L, d, 4, 0.5, 6, theta, post); /* half the true width */
    nf_sbc_result *r = analyse(M, L, d, theta, post);
    nf_sbc_param_stats s;
    nf_sbc_result_param(r, 0, &s);
    cr_expect_gt(s.violations, 0, "a too-narrow posterior passed the band");
    cr_expect_gt(s.z_sd, 1.5);
    nf_sbc_result_destroy(r);
    gaussian_sbc(M, L, d, 4, 1.0, 6, theta, post);
    for (int64_t i = 0; i < M * L; i++) post[i] += 0.3f; /* shifted */
    r = analyse(M, L, d, theta, post);
    nf_sbc_result_param(r, 0, &s);
    cr_expect_gt(s.violations, 0, "a biased posterior passed the band");
    nf_sbc_result_destroy(r);
    free(theta);
    free(post);
}

Test(sbc_machinery, ties_are_broken_uniformly)
{
    const int64_t M = 2000, L = 9;
    float *theta = calloc(M, sizeof(float)), *post = calloc(M * L, sizeof(float));
    int32_t *ranks = malloc(sizeof(int32_t) * M);
    cr_assert_eq(nf_sbc_ranks(theta, post, M, L, 1, 3, ranks), NF_OK, "%s", nf_errmsg());
    int hist[10] = {0};
    for (int64_t m = 0; m < M; m++) {
        cr_assert(ranks[m] >= 0 && ranks[m] <= L);
        hist[ranks[m]]++;
    }
    for (int b = 0; b <= L; b++) cr_expect(hist[b] > 140 && hist[b] < 260, "rank %d: %d of 2000", b, hist[b]);
    free(theta);
    free(post);
    free(ranks);
}

Test(sbc_band, simultaneous_band_has_its_coverage)
{
    const int64_t M = 200, L = 99;
    const int P = 50;
    int32_t j[50], lo[50], hi[50];
    double gamma = 0;
    cr_assert_eq(nf_sbc_ecdf_band(M, L, P, 0.95, 2000, 1, j, lo, hi, &gamma), NF_OK, "%s", nf_errmsg());
    cr_expect(gamma > 0.0005 && gamma < 0.05, "adjusted level %g must be below the pointwise 0.05", gamma);
    for (int p = 0; p < P; p++) {
        double expect = (double)M * j[p] / (L + 1.0);
        cr_assert(j[p] >= 1 && j[p] <= L && (p == 0 || j[p] > j[p - 1]));
        cr_expect(lo[p] <= expect && expect <= hi[p], "band [%d, %d] misses %g", lo[p], hi[p], expect);
    }
    /* fresh uniform rank sets: ~95 % lie wholly inside */
    nft_rng r = {99};
    int inside = 0, n_sets = 1000;
    int32_t *ranks = malloc(sizeof(int32_t) * M);
    for (int s = 0; s < n_sets; s++) {
        for (int64_t m = 0; m < M; m++) ranks[m] = (int32_t)(nft_unif(&r) * (L + 1));
        int ok = 1;
        for (int p = 0; p < P && ok; p++) {
            int c = 0;
            for (int64_t m = 0; m < M; m++) c += ranks[m] < j[p];
            ok = c >= lo[p] && c <= hi[p];
        }
        inside += ok;
    }
    cr_expect(inside > 925 && inside < 975, "%d of 1000 uniform sets inside the 95%% band", inside);
    free(ranks);
}

Test(sbc_band, predictive_coverage_of_a_matching_ensemble)
{
    const int64_t P = 200, T = 300;
    float *pred = malloc(sizeof(float) * P * T), obs[300];
    nft_rng r = {4};
    for (int64_t i = 0; i < P * T; i++) pred[i] = (float)nft_normal(&r);
    for (int t = 0; t < T; t++) obs[t] = (float)nft_normal(&r);
    double f = 0;
    cr_assert_eq(nf_sbc_band_coverage(pred, P, T, obs, 0.9, &f), NF_OK);
    cr_expect(f > 0.83 && f < 0.96, "coverage %g of a 90%% band", f);
    free(pred);
}

/* ABC on a problem with a known answer: theta ~ U(-5, 5), summary = mean of
 * 4 N(theta, 1) draws (sufficient); the posterior is N(xbar, 1/4) truncated. */
Test(sbc_abc, abc_posterior_is_calibrated_on_a_gaussian_mean)
{
    const int64_t N = 6000, M = 200, L = 49;
    float *th = malloc(sizeof(float) * N), *s = malloc(sizeof(float) * N * 2);
    double lo = -5, hi = 5;
    nft_rng r = {21};
    for (int64_t i = 0; i < N + M; i++) {
        double t = lo + (hi - lo) * nft_unif(&r), x = 0;
        for (int k = 0; k < 4; k++) x += t + nft_normal(&r);
        if (i < N) {
            th[i] = (float)t;
            s[2 * i] = (float)(x / 4);
            s[2 * i + 1] = (float)nft_normal(&r); /* an uninformative summary */
        }
    }
    nf_abc *abc = NULL;
    cr_assert_eq(nf_abc_create(th, s, N, 1, 2, &lo, &hi, NULL, &abc), NF_OK, "%s", nf_errmsg());
    cr_assert_eq(nf_abc_n_params(abc), 1);
    cr_assert_eq(nf_abc_n_summaries(abc), 2);
    float *tt = malloc(sizeof(float) * M), *post = malloc(sizeof(float) * M * L);
    for (int64_t m = 0; m < M; m++) {
        double t = lo + (hi - lo) * nft_unif(&r), x = 0;
        for (int k = 0; k < 4; k++) x += t + nft_normal(&r);
        float so[2] = {(float)(x / 4), (float)nft_normal(&r)};
        tt[m] = (float)t;
        cr_assert_eq(nf_abc_sample(abc, so, L, (uint64_t)m, post + m * L), NF_OK, "%s", nf_errmsg());
    }
    nf_sbc_result *res = analyse(M, L, 1, tt, post);
    nf_sbc_param_stats st;
    nf_sbc_result_param(res, 0, &st);
    cr_expect_eq(st.violations, 0, "ABC ranks outside the band at %d points", st.violations);
    cr_expect_gt(st.r, 0.98);
    cr_expect(st.z_sd > 0.8 && st.z_sd < 1.25, "z sd %g", st.z_sd);
    nf_sbc_result_destroy(res);
    nf_abc_destroy(abc);
    free(th);
    free(s);
    free(tt);
    free(post);
}

/* The regression correction must sharpen the rejection sample; every option
 * combination runs and stays near the truth. */
Test(sbc_abc, correction_sharpens_the_rejection_sample)
{
    const int64_t N = 4000, L = 400;
    float *th = malloc(sizeof(float) * N), *s = malloc(sizeof(float) * N);
    double lo = 0, hi = 10;
    nft_rng r = {31};
    for (int64_t i = 0; i < N; i++) {
        th[i] = (float)(lo + (hi - lo) * nft_unif(&r));
        s[i] = th[i] + (float)(0.05 * nft_normal(&r)); /* precise summary */
    }
    const float so = 4.0f;
    double sd[2] = {0, 0};
    for (int variant = 0; variant < 4; variant++) {
        nf_abc_opts o;
        nf_abc_opts_default(&o);
        o.adjust = variant != 0;
        o.hetero = variant == 2;
        o.refine = variant == 3 ? 1 : 2;
        o.linear_below = variant == 3 ? 0.0 : 0.05;
        nf_abc *abc = NULL;
        cr_assert_eq(nf_abc_create(th, s, N, 1, 1, &lo, &hi, &o, &abc), NF_OK, "%s", nf_errmsg());
        float post[400];
        cr_assert_eq(nf_abc_sample(abc, &so, L, 5, post), NF_OK, "%s", nf_errmsg());
        double m = 0, v = 0;
        for (int l = 0; l < L; l++) m += post[l];
        m /= L;
        for (int l = 0; l < L; l++) v += (post[l] - m) * (post[l] - m);
        v = sqrt(v / (L - 1));
        cr_expect(fabs(m - 4.0) < 0.05, "variant %d: posterior mean %g, summary 4.0", variant, m);
        if (variant < 2) sd[variant] = v;
        else cr_expect(v < 0.1, "variant %d: posterior sd %g, expected ~0.05", variant, v);
        nf_abc_destroy(abc);
    }
    cr_expect(sd[1] < 0.5 * sd[0], "adjusted sd %g not below half the rejection sd %g", sd[1], sd[0]);
    cr_expect(sd[1] > 0.03 && sd[1] < 0.08, "adjusted sd %g, posterior sd is 0.05", sd[1]);
    free(th);
    free(s);
}

Test(sbc_lif, summaries_are_exact_on_noise_free_traces)
{
    nf_engine *e = NULL;
    cr_assert_eq(nf_engine_create(NF_BACKEND_CPU, 1, &e), NF_OK);
    const int n = 60, k = nf_sbc_lif_n_summaries(1);
    float *th = malloc(sizeof(float) * n * 6), *s = malloc(sizeof(float) * n * k);
    cr_assert_eq(nf_sbc_lif_table(e, 3, 0, n, 0.0, th, NULL, NULL, s, NULL), NF_OK, "%s", nf_errmsg());
    int spiking = 0;
    for (int i = 0; i < n; i++) {
        const float *t = th + 6 * i, *x = s + k * i;
        cr_expect_eq(x[0], t[2], "v[0] is E_L");
        double a = NF_SBC_LIF_DT / t[0], b = a * t[1];
        cr_expect(fabs(x[1] / (1e3 * a) - 1) < 1e-3, "row %d: dt/C %g vs %g", i, x[1], 1e3 * a);
        cr_expect(fabs(x[2] / (1e2 * b) - 1) < 1e-2, "row %d: dt g_L/C %g vs %g", i, x[2], 1e2 * b);
        if (x[6] >= 1) {
            spiking++;
            cr_expect(fabs(x[7] - t[4]) < 1e-4, "row %d: V_res %g vs %g", i, x[7], t[4]);
            double tq = ceil(t[5] / NF_SBC_LIF_DT - 1e-4) * NF_SBC_LIF_DT; /* held samples x dt */
            cr_expect(fabs(x[8] - tq) < 1e-4, "row %d: t_ref %g vs %g", i, x[8], tq);
            cr_expect(x[9] < t[3] && x[10] >= t[3] - 1e-3, "row %d: V_th %g not in [%g, %g]", i, t[3], x[9], x[10]);
        }
    }
    cr_expect_gt(spiking, n / 2);
    nf_engine_destroy(e);
    free(th);
    free(s);
}

Test(sbc_lif, posterior_recovers_lif_parameters_with_the_stimulus_known)
{
    nf_engine *e = NULL;
    cr_assert_eq(nf_engine_create(NF_BACKEND_CPU, 0, &e), NF_OK);
    const int64_t N = 3000, M = 40, L = 30;
    const int k = nf_sbc_lif_n_summaries(1);
    float *th = malloc(sizeof(float) * N * 6), *s = malloc(sizeof(float) * N * k);
    float *tt = malloc(sizeof(float) * M * 6), *ts = malloc(sizeof(float) * M * k);
    float *post = malloc(sizeof(float) * M * L * 6);
    cr_assert_eq(nf_sbc_lif_table(e, 100, 0, N, 0.1, th, NULL, NULL, s, NULL), NF_OK, "%s", nf_errmsg());
    cr_assert_eq(nf_sbc_lif_table(e, 101, 0, M, 0.1, tt, NULL, NULL, ts, NULL), NF_OK, "%s", nf_errmsg());
    double lo[6], hi[6];
    nf_sbc_lif_bounds(lo, hi);
    nf_abc *abc = NULL;
    cr_assert_eq(nf_abc_create(th, s, N, 6, k, lo, hi, NULL, &abc), NF_OK, "%s", nf_errmsg());
    for (int64_t m = 0; m < M; m++)
        cr_assert_eq(nf_abc_sample(abc, ts + m * k, L, (uint64_t)m, post + m * L * 6), NF_OK, "%s", nf_errmsg());
    nf_sbc_result *r = analyse(M, L, 6, tt, post);
    const double min_r[6] = {0.85, 0.5, 0.99, 0.99, 0.99, 0.99};
    for (int j = 0; j < 6; j++) {
        nf_sbc_param_stats st;
        nf_sbc_result_param(r, j, &st);
        cr_expect_gt(st.r, min_r[j], "%s: r = %g", nf_sbc_lif_param_name(j), st.r);
    }
    nf_sbc_result_destroy(r);
    nf_abc_destroy(abc);
    nf_engine_destroy(e);
    free(th);
    free(s);
    free(tt);
    free(ts);
    free(post);
}

Test(sbc_output, json_and_svg_are_written)
{
    const int64_t M = 50, L = 19;
    float *theta = malloc(sizeof(float) * M * 2), *post = malloc(sizeof(float) * M * L * 2);
    gaussian_sbc(M, L, 2, 3, 1.0, 8, theta, post);
    double ppc[50];
    for (int m = 0; m < M; m++) ppc[m] = 0.9;
    const char *names[2] = {"a", "b"};
    nf_sbc_input in = {0};
    in.M = M;
    in.L = L;
    in.d = 2;
    in.names = names;
    in.theta = theta;
    in.post = post;
    in.ppc = ppc;
    in.ppc_level = 0.9;
    nf_sbc_result *r = NULL;
    cr_assert_eq(nf_sbc_analyse(&in, &r), NF_OK, "%s", nf_errmsg());
    cr_expect_float_eq(nf_sbc_result_ppc(r), 0.9, 1e-12);
    char dir[] = "/tmp/nf_test_sbc_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/sbc.json", dir);
    cr_assert_eq(nf_sbc_write_json(r, path), NF_OK, "%s", nf_errmsg());
    cr_assert_eq(nf_sbc_write_svg(r, dir), NF_OK, "%s", nf_errmsg());
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    static char buf[1 << 20];
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    buf[len] = 0;
    fclose(f);
    cJSON *root = cJSON_Parse(buf);
    cr_assert_not_null(root, "sbc.json does not parse");
    cJSON *ps = cJSON_GetObjectItem(root, "parameters");
    cr_assert_eq(cJSON_GetArraySize(ps), 2);
    cr_expect_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(ps, 1), "name")->valuestring, "b");
    cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetArrayItem(ps, 0), "ranks")), M);
    cJSON_Delete(root);
    const char *svgs[3] = {"sbc_ranks.svg", "sbc_ecdf.svg", "sbc_recovery.svg"};
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, svgs[i]);
        f = fopen(path, "rb");
        cr_assert_not_null(f, "%s missing", svgs[i]);
        len = fread(buf, 1, sizeof buf - 1, f);
        buf[len] = 0;
        fclose(f);
        cr_expect(strstr(buf, "<svg") && strstr(buf, "</svg>"), "%s is not an SVG document", svgs[i]);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/sbc.json", dir);
    unlink(path);
    rmdir(dir);
    nf_sbc_result_destroy(r);
    free(theta);
    free(post);
}

Test(sbc_errors, bad_input_is_named)
{
    float th[100], s[100];
    for (int i = 0; i < 100; i++) {
        th[i] = 0.5f;
        s[i] = (float)i;
    }
    double lo = 0, hi = 1, bad_lo = 2;
    nf_abc *a = NULL;
    cr_expect_eq(nf_abc_create(th, s, 100, 1, 1, &bad_lo, &hi, NULL, &a), NF_EINVAL);
    cr_expect(strstr(nf_errmsg(), "bounds[0]"), "%s", nf_errmsg());
    cr_expect_eq(nf_abc_create(th, s, 10, 1, 1, &lo, &hi, NULL, &a), NF_EINVAL);
    cr_expect(strstr(nf_errmsg(), "rows"), "%s", nf_errmsg());
    th[7] = 3.0f;
    cr_expect_eq(nf_abc_create(th, s, 100, 1, 1, &lo, &hi, NULL, &a), NF_ERANGE);
    cr_expect(strstr(nf_errmsg(), "theta[7]"), "%s", nf_errmsg());
    th[7] = 0.5f;
    s[9] = NAN;
    cr_expect_eq(nf_abc_create(th, s, 100, 1, 1, &lo, &hi, NULL, &a), NF_ENAN);
    cr_expect(strstr(nf_errmsg(), "summ[9]"), "%s", nf_errmsg());
    s[9] = 9.0f;
    cr_assert_eq(nf_abc_create(th, s, 100, 1, 1, &lo, &hi, NULL, &a), NF_OK, "%s", nf_errmsg());
    float obs = NAN, out[4];
    cr_expect_eq(nf_abc_sample(a, &obs, 4, 1, out), NF_ENAN);
    obs = 1.0f;
    cr_expect_eq(nf_abc_sample(a, &obs, 0, 1, out), NF_EINVAL);
    nf_abc_destroy(a);
    nf_abc_destroy(NULL);

    float v[10] = {0};
    cr_expect_eq(nf_sbc_lif_summaries(v, NULL, 10, 0.1, 0, out), NF_EINVAL);
    float v2[30] = {0};
    v2[5] = INFINITY;
    cr_expect_eq(nf_sbc_lif_summaries(v2, NULL, 30, 0.1, 0, out), NF_ENAN);
    cr_expect(strstr(nf_errmsg(), "v[5]"), "%s", nf_errmsg());
    cr_expect_eq(nf_sbc_lif_summaries(v2, NULL, 30, 0.0, 0, out), NF_EINVAL);

    int32_t j[5], l5[5], u5[5];
    cr_expect_eq(nf_sbc_ecdf_band(100, 3, 5, 0.95, 1000, 1, j, l5, u5, NULL), NF_EINVAL);
    cr_expect_eq(nf_sbc_ecdf_band(100, 10, 5, 1.5, 1000, 1, j, l5, u5, NULL), NF_EINVAL);
    double f;
    cr_expect_eq(nf_sbc_band_coverage(v2, 1, 30, v2, 0.9, &f), NF_EINVAL);
    nf_sbc_input in = {0};
    in.M = 5;
    in.L = 10;
    in.d = 1;
    in.theta = th;
    in.post = s;
    nf_sbc_result *r = NULL;
    cr_expect_eq(nf_sbc_analyse(&in, &r), NF_EINVAL);
    cr_expect(strstr(nf_errmsg(), "M = 5"), "%s", nf_errmsg());
    cr_expect_null(r);
    nf_sbc_result_destroy(NULL);
}

/* Classes as a latent variable: rows of class 1 satisfy theta1 = theta0 - 2
 * exactly (a point mass of the prior, like the LIF repair rule). With the
 * classes set, the per-class correction keeps that relation in the draws;
 * the pooled correction alone blurs it. */
/* A point mass reproduced through float/double arithmetic lands a few ulp
 * off the true value; those draws are ties, not strictly above or below. */
Test(sbc_machinery, near_ties_within_two_ulp_are_ties)
{
    const int64_t M = 2000, L = 9;
    float *theta = malloc(sizeof(float) * M), *post = malloc(sizeof(float) * M * L);
    int32_t *ranks = malloc(sizeof(int32_t) * M);
    for (int64_t m = 0; m < M; m++) {
        theta[m] = -80.0f;
        for (int64_t l = 0; l < L; l++) post[m * L + l] = l % 2 ? nextafterf(-80.0f, 0.0f) : nextafterf(-80.0f, -INFINITY);
    }
    cr_assert_eq(nf_sbc_ranks(theta, post, M, L, 1, 5, ranks), NF_OK, "%s", nf_errmsg());
    int hist[10] = {0};
    for (int64_t m = 0; m < M; m++) hist[ranks[m]]++;
    for (int b = 0; b <= L; b++) cr_expect(hist[b] > 140 && hist[b] < 260, "rank %d: %d of 2000", b, hist[b]);
    /* 4 ulp away is not a tie */
    for (int64_t i = 0; i < M * L; i++) post[i] = nextafterf(nextafterf(nextafterf(nextafterf(-80.0f, 0.0f), 0.0f), 0.0f), 0.0f);
    cr_assert_eq(nf_sbc_ranks(theta, post, M, L, 1, 5, ranks), NF_OK);
    for (int64_t m = 0; m < M; m++) cr_assert_eq(ranks[m], 0);
    free(theta);
    free(post);
    free(ranks);
}

/* theta ~ 0.3 point mass at the lower bound 0, else U(0, 1); s = theta +
 * N(0, 0.01). For s_obs = 0 the posterior mass on the atom is ~0.97; draws
 * must sit exactly on it (not smeared around it by the correction) and
 * never leave the prior box. */
Test(sbc_abc, point_mass_at_a_bound_stays_exact_and_draws_stay_in_the_box)
{
    const int64_t N = 8000, L = 400;
    float *th = malloc(sizeof(float) * N), *s = malloc(sizeof(float) * N * 2);
    double lo = 0.0, hi = 1.0;
    nft_rng r = {77};
    for (int64_t i = 0; i < N; i++) {
        double t = nft_unif(&r) < 0.3 ? 0.0 : nft_unif(&r);
        th[i] = (float)t;
        s[2 * i] = (float)(t + 0.01 * nft_normal(&r));
        s[2 * i + 1] = (float)nft_normal(&r);
    }
    nf_abc *abc = NULL;
    cr_assert_eq(nf_abc_create(th, s, N, 1, 2, &lo, &hi, NULL, &abc), NF_OK, "%s", nf_errmsg());
    float post[400];
    const float at[2] = {0.0f, 0.0f}, edge[2] = {1.0f, 0.0f}, mid[2] = {0.5f, 0.0f};
    cr_assert_eq(nf_abc_sample(abc, at, L, 3, post), NF_OK, "%s", nf_errmsg());
    int exact = 0;
    for (int l = 0; l < L; l++) {
        cr_assert(post[l] >= 0.0f && post[l] <= 1.0f, "draw %g outside [0, 1]", post[l]);
        exact += post[l] == 0.0f;
    }
    cr_expect_gt(exact, (int)(0.8 * L), "%d of %d draws on the atom at 0", exact, (int)L);
    /* at the upper bound (no atom there): inside the box, none exactly on 0 */
    cr_assert_eq(nf_abc_sample(abc, edge, L, 3, post), NF_OK);
    for (int l = 0; l < L; l++) {
        cr_assert(post[l] >= 0.0f && post[l] <= 1.0f, "draw %g outside [0, 1]", post[l]);
        cr_assert_neq(post[l], 0.0f);
    }
    /* far from the atom: no draw on it */
    cr_assert_eq(nf_abc_sample(abc, mid, L, 3, post), NF_OK);
    for (int l = 0; l < L; l++) cr_expect(fabsf(post[l] - 0.5f) < 0.06f, "draw %g for s_obs 0.5", post[l]);
    nf_abc_destroy(abc);
    free(th);
    free(s);
}

Test(sbc_abc, per_class_correction_keeps_a_point_mass)
{
    const int64_t N = 6000, L = 400;
    float *th = malloc(sizeof(float) * N * 2), *s = malloc(sizeof(float) * N * 2);
    int32_t *cls = malloc(sizeof(int32_t) * N);
    double lo[2] = {0, -2}, hi[2] = {10, 8};
    nft_rng r = {41};
    for (int64_t i = 0; i < N; i++) {
        double t0 = 10 * nft_unif(&r);
        int c = nft_unif(&r) < 0.4 && t0 >= 0.0;
        double t1 = c ? t0 - 2.0 : -2.0 + 10.0 * nft_unif(&r);
        th[2 * i] = (float)t0;
        th[2 * i + 1] = (float)t1;
        cls[i] = c;
        s[2 * i] = (float)(t0 + 0.05 * nft_normal(&r));
        s[2 * i + 1] = (float)(t1 + 0.05 * nft_normal(&r));
    }
    const float so[2] = {5.0f, 3.0f}; /* consistent with both classes */
    float post[800];
    double frac[2];
    for (int with = 0; with < 2; with++) {
        nf_abc *abc = NULL;
        cr_assert_eq(nf_abc_create(th, s, N, 2, 2, lo, hi, NULL, &abc), NF_OK, "%s", nf_errmsg());
        if (with) cr_assert_eq(nf_abc_set_classes(abc, cls, 2, 0), NF_OK, "%s", nf_errmsg());
        cr_assert_eq(nf_abc_sample(abc, so, L, 9, post), NF_OK, "%s", nf_errmsg());
        int exact = 0;
        for (int l = 0; l < L; l++) {
            exact += fabsf(post[2 * l + 1] - (post[2 * l] - 2.0f)) < 1e-3f;
            cr_expect(fabsf(post[2 * l] - 5.0f) < 0.5f && fabsf(post[2 * l + 1] - 3.0f) < 0.5f, "draw %g %g",
                      post[2 * l], post[2 * l + 1]);
        }
        frac[with] = exact / (double)L;
        nf_abc_destroy(abc);
    }
    cr_expect_gt(frac[1], 0.2, "with classes only %g of the draws keep theta1 = theta0 - 2", frac[1]);
    cr_expect_lt(frac[0], 0.5 * frac[1], "pooled %g vs per-class %g exact draws", frac[0], frac[1]);
    /* off the atom's line (theta1 = theta0 - 1.4: 12 noise sds away), the
     * class's density at the observation is ~0: no draw lands on the atom */
    nf_abc *abc = NULL;
    cr_assert_eq(nf_abc_create(th, s, N, 2, 2, lo, hi, NULL, &abc), NF_OK);
    cr_assert_eq(nf_abc_set_classes(abc, cls, 2, 0), NF_OK, "%s", nf_errmsg());
    const float off[2] = {5.0f, 3.6f};
    cr_assert_eq(nf_abc_sample(abc, off, L, 9, post), NF_OK, "%s", nf_errmsg());
    int on_atom = 0;
    for (int l = 0; l < L; l++) on_atom += fabsf(post[2 * l + 1] - (post[2 * l] - 2.0f)) < 1e-3f;
    cr_expect_lt(on_atom, L / 50, "%d of %d draws on the atom for an observation off it", on_atom, (int)L);
    nf_abc_destroy(abc);
    cr_assert_eq(nf_abc_create(th, s, N, 2, 2, lo, hi, NULL, &abc), NF_OK);
    cls[17] = 2;
    cr_expect_eq(nf_abc_set_classes(abc, cls, 2, 0), NF_ERANGE);
    cr_expect(strstr(nf_errmsg(), "cls[17]"), "%s", nf_errmsg());
    cr_expect_eq(nf_abc_set_classes(abc, cls, 0, 0), NF_EINVAL);
    nf_abc_destroy(abc);
    free(th);
    free(s);
    free(cls);
}

/* The LIF table is the training-set generator's preset plus keyed noise: its
 * parameters and stimuli are nf_sbi_bayesflow_lif_generate's, and a row is
 * the same whether generated alone or inside a larger range. */
Test(sbc_lif, table_is_the_generator_preset_with_keyed_noise)
{
    nf_engine *e = NULL;
    cr_assert_eq(nf_engine_create(NF_BACKEND_CPU, 1, &e), NF_OK);
    enum { N = 60, T = NF_SBC_LIF_T };
    static float th[N * 6], I[N * T], v[N * T], th_g[N * 6], I_g[N * T], v1[T], th1[6];
    cr_assert_eq(nf_sbc_lif_table(e, 77, 0, N, 0.1, th, I, v, NULL, NULL), NF_OK, "%s", nf_errmsg());
    cr_assert_eq(nf_sbi_bayesflow_lif_generate(77, 0, N, th_g, NULL, I_g), NF_OK, "%s", nf_errmsg());
    cr_expect_eq(memcmp(th, th_g, sizeof th), 0, "parameters differ from the generator's");
    cr_expect_eq(memcmp(I, I_g, sizeof I), 0, "stimuli differ from the generator's");
    cr_assert_eq(nf_sbc_lif_table(e, 77, 5, 1, 0.1, th1, NULL, v1, NULL, NULL), NF_OK);
    cr_expect_eq(memcmp(th1, th + 5 * 6, sizeof th1), 0);
    cr_expect_eq(memcmp(v1, v + 5 * T, sizeof v1), 0, "row 5 depends on the range it is generated in");
    /* noise: the difference to the noise-free trace has sd ~0.1 mV */
    static float v0[N * T];
    cr_assert_eq(nf_sbc_lif_table(e, 77, 0, N, 0.0, NULL, NULL, v0, NULL, NULL), NF_OK);
    double s2 = 0;
    for (int i = 0; i < N * T; i++) s2 += (double)(v[i] - v0[i]) * (v[i] - v0[i]);
    double sd = sqrt(s2 / (N * T));
    cr_expect(sd > 0.095 && sd < 0.105, "noise sd %g mV, expected 0.1", sd);
    int32_t cls[N];
    int n_atoms = 0;
    nf_sbc_lif_classes(th, N, cls);
    for (int i = 0; i < N; i++) {
        n_atoms += cls[i] != 0;
        const float *t = th + 6 * i;
        int want = t[4] == -80.0f && t[2] < -78.0f ? 2 : (fabsf(t[4] - (t[2] - 2.0f)) < 1e-4f ? 1 : 0);
        cr_expect_eq(cls[i], want, "row %d: E_L %g V_res %g class %d", i, t[2], t[4], cls[i]);
    }
    cr_expect(n_atoms >= 6 && n_atoms <= 35, "%d of %d rows on the repair rule's atoms (a third expected)", n_atoms, N);
    nf_engine_destroy(e);
}
