/* SBI training sets (include/neurofit/sbi.h): prior sampling statistics and
 * constraints, stimuli, the bayesflow-lif preset against an independent numpy
 * re-implementation of the study's simulator (tests/sbi_reference.py), .npy
 * outputs that numpy loads with the documented shapes, identical output for
 * any chunking and thread count, an interrupted run that commits nothing, and
 * bad input that fails fast with a message naming it. */
#include "neurofit/engine.h"
#include "neurofit/fileio.h"
#include "neurofit/npy.h"
#include "neurofit/sbi.h"
#include "nf_philox.h"

#include <criterion/criterion.h>
#include "nf_test_cli.h"
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define BIN NF_BINARY_DIR "/neurofit"
#define PY "/usr/bin/python3"

static char tmpdir[256];

static void setup(void) { nft_tmpdir(tmpdir, sizeof tmpdir, "sbi"); }

static void teardown(void) { nft_rmtree(tmpdir); }

TestSuite(sbi, .init = setup, .fini = teardown);

static int have_numpy(void)
{
    return system(PY " -c 'import numpy' >/dev/null 2>&1") == 0;
}

static nf_prior *lif6_prior(void)
{
    nf_prior *p = NULL;
    cr_assert_eq(nf_prior_create(nf_model_find("lif6"), &p), NF_OK, "%s", nf_errmsg());
    return p;
}

/* ---- priors ------------------------------------------------------------------ */

/* Sample mean and variance of theta column j. */
static void moments(const float *th, int64_t n, int d, int j, double *mean, double *var)
{
    double s = 0, ss = 0;
    for (int64_t i = 0; i < n; i++) s += th[i * d + j];
    *mean = s / (double)n;
    for (int64_t i = 0; i < n; i++) ss += (th[i * d + j] - *mean) * (th[i * d + j] - *mean);
    *var = ss / (double)(n - 1);
}

Test(sbi, every_family_matches_its_mean_variance_and_support)
{
    nf_prior *p = lif6_prior();
    cr_assert_eq(nf_prior_parse(p, "C_m=uniform:100,200 g_L=loguniform:1,100; E_L=normal:-70,3 "
                                   "V_th=truncnormal:-55,4,-58,-40 t_ref=fixed:2.5"),
                 NF_OK, "%s", nf_errmsg());
    const int d = nf_prior_dim_count(p), np_ = 6;
    cr_assert_eq(d, 4, "fixed t_ref and default-fixed V_res leave 4 free parameters, got %d", d);
    const int64_t n = 40000;
    float *th = malloc(sizeof(float) * n * d), *par = malloc(sizeof(float) * n * np_);
    cr_assert_eq(nf_prior_sample(p, 42, 0, n, th, par), NF_OK, "%s", nf_errmsg());
    for (int j = 0; j < d; j++) {
        double m, v, em = nf_prior_mean(p, j), ev = nf_prior_variance(p, j);
        moments(th, n, d, j, &m, &v);
        double se = sqrt(ev / (double)n);
        cr_expect(fabs(m - em) < 5 * se, "column %d: mean %g, expected %g (se %g)", j, m, em, se);
        /* the variance of a sample variance is < 3 var^2 / n for these families */
        cr_expect(fabs(v - ev) < 5 * ev * sqrt(3.0 / (double)n), "column %d: variance %g, expected %g", j, v, ev);
        nf_prior_dim dim = nf_prior_get(p, nf_prior_param_of(p, j));
        for (int64_t i = 0; i < n; i++)
            cr_assert(th[i * d + j] >= dim.lo && th[i * d + j] <= dim.hi, "column %d row %lld: %g outside [%g, %g]", j,
                      (long long)i, th[i * d + j], dim.lo, dim.hi);
    }
    /* log-uniform: log x is uniform, so half the mass lies below the geometric mid-point 10 */
    int64_t below = 0;
    for (int64_t i = 0; i < n; i++) below += th[i * d + 1] < 10.0f;
    cr_expect(fabs((double)below / (double)n - 0.5) < 0.01, "loguniform: %lld of %lld below 10", (long long)below,
              (long long)n);
    for (int64_t i = 0; i < n; i++) {
        cr_assert_eq(par[i * np_ + 5], 2.5f, "fixed t_ref in the full parameter rows");
        cr_assert_eq(par[i * np_ + 4], -75.0f, "unlisted V_res stays at the model default");
        cr_assert_eq(par[i * np_ + 0], th[i * d + 0]);
    }
    free(th);
    free(par);
    nf_prior_destroy(p);
}

Test(sbi, rejection_enforces_constraints_with_the_conditional_distribution)
{
    /* A, B ~ U(0, 1) given A < B: E[A] = 1/3, E[B] = 2/3. */
    nf_prior *p = lif6_prior();
    cr_assert_eq(nf_prior_parse(p, "V_res=uniform:-80,-70 E_L=uniform:-80,-70 V_res<E_L"), NF_OK, "%s", nf_errmsg());
    const int64_t n = 30000;
    float *th = malloc(sizeof(float) * n * 2);
    cr_assert_eq(nf_prior_sample(p, 3, 0, n, th, NULL), NF_OK, "%s", nf_errmsg());
    double sa = 0, sb = 0;
    for (int64_t i = 0; i < n; i++) {
        /* theta order is model order: E_L (index 2) before V_res (index 4) */
        float el = th[i * 2 + 0], vres = th[i * 2 + 1];
        cr_assert(vres < el, "row %lld: V_res %g >= E_L %g", (long long)i, vres, el);
        sa += vres;
        sb += el;
    }
    double se = 10.0 * sqrt(1.0 / 18.0 / (double)n);
    cr_expect(fabs(sa / n - (-80 + 10.0 / 3)) < 5 * se, "E[V_res | V_res < E_L] = %g", sa / n);
    cr_expect(fabs(sb / n - (-80 + 20.0 / 3)) < 5 * se, "E[E_L | V_res < E_L] = %g", sb / n);
    free(th);
    nf_prior_destroy(p);
}

Test(sbi, normal_draws_outside_the_models_valid_range_are_redrawn)
{
    /* C_m must be >= 1e-3 pF; N(1, 10^2) puts ~46 % of its mass below */
    nf_prior *p = lif6_prior();
    cr_assert_eq(nf_prior_parse(p, "C_m=normal:1,10"), NF_OK, "%s", nf_errmsg());
    float th[2000];
    cr_assert_eq(nf_prior_sample(p, 8, 0, 2000, th, NULL), NF_OK, "%s", nf_errmsg());
    for (int i = 0; i < 2000; i++) cr_assert(th[i] >= 1e-3f, "row %d: C_m %g", i, th[i]);
    nf_prior_destroy(p);
    /* a prior entirely outside the valid range is an error, not a hang */
    p = lif6_prior();
    cr_assert_eq(nf_prior_parse(p, "C_m=normal:-1e6,1"), NF_OK);
    cr_assert_eq(nf_prior_set_max_tries(p, 500), NF_OK);
    cr_expect_eq(nf_prior_sample(p, 8, 0, 1, th, NULL), NF_ERANGE);
    cr_expect(strstr(nf_errmsg(), "valid parameter range") != NULL, "%s", nf_errmsg());
    cr_expect_eq(nf_prior_set_max_tries(p, 0), NF_EINVAL);
    nf_prior_destroy(p);
}

Test(sbi, preset_priors_stay_in_bounds_and_the_repair_rule_acts)
{
    const int64_t n = 20000;
    float *th = malloc(sizeof(float) * n * 6);
    cr_assert_eq(nf_sbi_bayesflow_lif_generate(9, 0, n, th, NULL, NULL), NF_OK, "%s", nf_errmsg());
    static const double lo[] = {100, 5, -80, -60, -80, 1}, hi[] = {200, 15, -65, -50, -70, 5};
    int64_t repaired = 0;
    for (int64_t i = 0; i < n; i++) {
        const float *t = th + i * 6;
        for (int j = 0; j < 6; j++)
            cr_assert(t[j] >= lo[j] && t[j] <= hi[j], "row %lld col %d: %g outside [%g, %g]", (long long)i, j, t[j],
                      lo[j], hi[j]);
        cr_assert(t[4] < t[2] && t[2] < t[3], "row %lld: V_res %g < E_L %g < V_th %g violated", (long long)i, t[4],
                  t[2], t[3]);
        double want = t[2] - 2.0 < -80 ? -80 : (t[2] - 2.0 > -70 ? -70 : t[2] - 2.0);
        repaired += fabs(t[4] - want) < 1e-4;
    }
    /* P(V_res >= E_L) under the independent uniforms: E_L < -70 (2/3) times 1/2 */
    double f = (double)repaired / (double)n;
    cr_expect(fabs(f - 1.0 / 3.0) < 0.015, "repaired fraction %g, expected 1/3", f);
    free(th);
}

Test(sbi, json_and_short_forms_give_the_same_draws)
{
    nf_prior *a = lif6_prior(), *b = lif6_prior();
    cr_assert_eq(nf_prior_parse(a, "C_m=uniform:100,200 E_L=truncnormal:-70,5,-80,-65 V_th=normal:-55,2 E_L<V_th"),
                 NF_OK, "%s", nf_errmsg());
    cr_assert_eq(nf_prior_parse_json(b, "{\"params\": {\"C_m\": {\"family\": \"uniform\", \"lo\": 100, \"hi\": 200},"
                                        "\"E_L\": {\"family\": \"truncnormal\", \"mean\": -70, \"sd\": 5, \"lo\": -80, "
                                        "\"hi\": -65}, \"V_th\": {\"family\": \"normal\", \"mean\": -55, \"sd\": 2}},"
                                        "\"constraints\": [\"E_L < V_th\"]}"),
                 NF_OK, "%s", nf_errmsg());
    float ta[300], tb[300];
    cr_assert_eq(nf_prior_sample(a, 5, 0, 100, ta, NULL), NF_OK);
    cr_assert_eq(nf_prior_sample(b, 5, 0, 100, tb, NULL), NF_OK);
    cr_assert_eq(memcmp(ta, tb, sizeof ta), 0);
    /* and the JSON it prints parses back to the same prior */
    char *js = nf_prior_to_json(a);
    nf_prior *c = lif6_prior();
    cr_assert_eq(nf_prior_parse_json(c, js), NF_OK, "%s\n%s", nf_errmsg(), js);
    float tc[300];
    cr_assert_eq(nf_prior_sample(c, 5, 0, 100, tc, NULL), NF_OK);
    cr_assert_eq(memcmp(ta, tc, sizeof ta), 0);
    free(js);
    nf_prior_destroy(a);
    nf_prior_destroy(b);
    nf_prior_destroy(c);
}

/* ---- bad input ---------------------------------------------------------------- */

static void expect_parse_error(const char *spec, nf_status want, const char *needle)
{
    nf_prior *p = lif6_prior();
    nf_status s = nf_prior_parse(p, spec);
    cr_expect_eq(s, want, "'%s': status %d, expected %d (%s)", spec, s, want, nf_errmsg());
    cr_expect(strstr(nf_errmsg(), needle) != NULL, "'%s': message '%s' lacks '%s'", spec, nf_errmsg(), needle);
    nf_prior_destroy(p);
}

Test(sbi, bad_prior_specs_fail_with_a_message_naming_them)
{
    expect_parse_error("C_m=gamma:1,2", NF_EINVAL, "unknown prior family 'gamma'");
    expect_parse_error("C_m=uniform:200,100", NF_EINVAL, "lower bound 200 must be < upper bound 100");
    expect_parse_error("g_L=loguniform:0,10", NF_EINVAL, "must be > 0");
    expect_parse_error("E_L=normal:-70,0", NF_EINVAL, "sd 0");
    expect_parse_error("E_L=truncnormal:-70,1,-60,-80", NF_EINVAL, "lower bound -60 must be < upper bound -80");
    expect_parse_error("E_L=truncnormal:0,1,60,70", NF_ERANGE, "holds");
    expect_parse_error("C_m=uniform:100", NF_EINVAL, "takes 2 numbers");
    expect_parse_error("C_x=uniform:1,2", NF_EINVAL, "no parameter 'C_x'");
    expect_parse_error("C_m=uniform:1,abc", NF_EINVAL, "not a number");
    expect_parse_error("repair=magic", NF_EINVAL, "unknown repair rule 'magic'");
    expect_parse_error("V_res<V_res", NF_EINVAL, "can never hold");
    nf_prior *p = lif6_prior();
    cr_expect_eq(nf_prior_parse_json(p, "{\"params\": {\"C_m\": {\"family\": \"beta\"}}}"), NF_EINVAL);
    cr_expect(strstr(nf_errmsg(), "beta") != NULL, "%s", nf_errmsg());
    cr_expect_eq(nf_prior_parse_json(p, "{\"params\": {"), NF_EFORMAT);
    cr_expect_eq(nf_prior_parse_json(p, "{\"params\": {\"C_m\": {\"family\": \"uniform\", \"lo\": 1}}}"), NF_EINVAL);
    cr_expect(strstr(nf_errmsg(), "\"hi\"") != NULL, "%s", nf_errmsg());
    nf_prior_destroy(p);
}

Test(sbi, a_constraint_that_rejects_everything_fails_fast, .timeout = 20)
{
    /* disjoint supports: detected before any draw */
    nf_prior *p = lif6_prior();
    cr_assert_eq(nf_prior_parse(p, "E_L=uniform:-80,-70 V_th=uniform:-100,-90 E_L<V_th"), NF_OK, "%s", nf_errmsg());
    float th[2];
    cr_expect_eq(nf_prior_sample(p, 1, 0, 1, th, NULL), NF_ERANGE);
    cr_expect(strstr(nf_errmsg(), "E_L < V_th can never hold") != NULL, "%s", nf_errmsg());
    nf_prior_destroy(p);
    /* a cycle: every draw is rejected; the try limit ends it */
    p = lif6_prior();
    cr_assert_eq(nf_prior_parse(p, "E_L=uniform:-80,-70 V_th=uniform:-80,-70 E_L<V_th V_th<E_L"), NF_OK);
    cr_expect_eq(nf_prior_sample(p, 1, 0, 1, th, NULL), NF_ERANGE);
    cr_expect(strstr(nf_errmsg(), "rejected 10000 consecutive prior draws") != NULL, "%s", nf_errmsg());
    nf_prior_destroy(p);
}

Test(sbi, cli_rejects_bad_input_and_writes_nothing)
{
    char out[8192];
    struct {
        const char *args, *needle;
    } cases[] = {
        {"--model lif6 --prior C_m=gamma:1,2 --dt 0.1 --duration 10 --n 5", "unknown prior family 'gamma'"},
        {"--model lif6 --prior C_m=uniform:200,100 --dt 0.1 --duration 10 --n 5", "lower bound 200"},
        {"--model lif6 --prior 'E_L=uniform:-80,-70 V_th=uniform:-100,-90 E_L<V_th' --dt 0.1 --duration 10 --n 5",
         "can never hold"},
        {"--preset bayesflow-lif --model adex --n 5", "--preset fixes"},
        {"--preset nope --n 5", "unknown preset 'nope'"},
        {"--model lif6 --prior C_m=uniform:100,200 --stimulus ou:0,10,0 --dt 0.1 --duration 10 --n 5", "tau"},
        {"--model lif6 --prior C_m=uniform:100,200 --dt 0.1 --duration 10 --n 0", "--n 0"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        int rc = nft_run(out, sizeof out, BIN " sbi simulate %s --out %s/bad", cases[k].args, tmpdir);
        cr_expect_eq(rc, 2, "%s: exit %d\n%s", cases[k].args, rc, out);
        cr_expect(strstr(out, cases[k].needle) != NULL, "%s: output lacks '%s':\n%s", cases[k].args, cases[k].needle,
                  out);
    }
    char path[512];
    snprintf(path, sizeof path, "%s/bad", tmpdir);
    cr_expect_neq(access(path, F_OK), 0, "a rejected run created its output directory");
    cr_expect_neq(nft_run(out, sizeof out, BIN " sbi frobnicate"), 0);
    cr_expect(strstr(out, "unknown subcommand 'frobnicate'") != NULL, "%s", out);
}

/* ---- stimuli ------------------------------------------------------------------ */

/* A lif6 config with one free parameter (stimulus tests), n_steps at 0.1 ms. */
static nf_sbi_config lif6_config(nf_prior **p, int64_t n_steps, uint64_t seed)
{
    *p = lif6_prior();
    cr_assert_eq(nf_prior_parse(*p, "C_m=uniform:100,200"), NF_OK);
    nf_sbi_config c = {0};
    c.model = nf_model_find("lif6");
    c.prior = *p;
    c.dt_ms = 0.1;
    c.n_steps = n_steps;
    c.record_every = 1;
    c.x = NF_SBI_X_TRACES;
    c.seed = seed;
    return c;
}

Test(sbi, a_step_above_the_models_max_dt_is_refused)
{
    nf_prior *p;
    nf_sbi_config c = lif6_config(&p, 100, 1);
    c.dt_ms = 0.2; /* lif6's max dt is 0.1 ms */
    cr_assert_eq(nf_sbi_config_validate(&c), NF_EINVAL);
    cr_expect(strstr(nf_errmsg(), "above lif6's largest stable step, 0.1 ms") != NULL, "%s", nf_errmsg());
    c.dt_ms = 0.1;
    cr_expect_eq(nf_sbi_config_validate(&c), NF_OK, "%s", nf_errmsg());
    nf_prior_destroy(p);
}

Test(sbi, ou_and_step_stimuli_have_their_statistics_and_shape)
{
    nf_prior *p;
    nf_sbi_config c = lif6_config(&p, 2000, 77);
    c.stim.kind = NF_SBI_STIM_OU;
    c.stim.mean_pA = 50;
    c.stim.sd_pA = 20;
    c.stim.tau_ms = 5;
    const int64_t n = 64, T = c.n_steps;
    float *w = malloc(sizeof(float) * n * T);
    cr_assert_eq(nf_sbi_stimuli(&c, 0, n, w), NF_OK, "%s", nf_errmsg());
    double s = 0, ss = 0, lag = 0;
    for (int64_t i = 0; i < n * T; i++) s += w[i];
    double m = s / (double)(n * T);
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = 0; k < T; k++) {
            double x = w[i * T + k] - m;
            ss += x * x;
            if (k + 50 < T) lag += x * (w[i * T + k + 50] - m);
        }
    double var = ss / (double)(n * T), rho = lag / (double)(n * (T - 50)) / var;
    cr_expect(fabs(m - 50) < 2.0, "OU mean %g pA, expected 50", m);
    cr_expect(fabs(sqrt(var) - 20) < 1.5, "OU sd %g pA, expected 20", sqrt(var));
    cr_expect(fabs(rho - exp(-5.0 / 5.0)) < 0.08, "OU autocorrelation at 5 ms %g, expected %g", rho, exp(-1.0));
    /* rows are per simulation: simulation 3 alone is row 3 of the batch */
    float *one = malloc(sizeof(float) * T);
    cr_assert_eq(nf_sbi_stimuli(&c, 3, 1, one), NF_OK);
    cr_expect_eq(memcmp(one, w + 3 * T, sizeof(float) * T), 0);

    c.stim = (nf_sbi_stimulus){.kind = NF_SBI_STIM_STEP, .amp_pA = 100, .amp_hi_pA = 300, .start_ms = 10, .stop_ms = 30};
    cr_assert_eq(nf_sbi_stimuli(&c, 0, n, w), NF_OK);
    for (int64_t i = 0; i < n; i++) {
        float a = w[i * T + 150];
        cr_expect(a >= 100 && a <= 300, "step amplitude %g outside [100, 300]", a);
        for (int64_t k = 0; k < T; k++) {
            double t = k * 0.1;
            float want = (t >= 10 && t < 30) ? a : 0.0f;
            cr_assert_eq(w[i * T + k], want, "sim %lld sample %lld", (long long)i, (long long)k);
        }
    }
    cr_expect_neq(w[150], w[T + 150], "amplitudes differ between simulations");
    free(w);
    free(one);
    nf_prior_destroy(p);
}

Test(sbi, stimulus_normals_are_the_documented_philox_stream)
{
    /* OU with tau -> 0 is white: sample k is exactly normal k of stream
     * NF_RNG_SBI_STIMULUS (the vectorised generator must give the same bits). */
    nf_prior *p;
    /* 1003 samples: not a multiple of 4 or of the 256-sample pass */
    nf_sbi_config c = lif6_config(&p, 1003, 0x123456789abcull);
    c.stim = (nf_sbi_stimulus){.kind = NF_SBI_STIM_OU, .sd_pA = 1, .tau_ms = 1e-30};
    float *w = malloc(sizeof(float) * 3 * 1003);
    cr_assert_eq(nf_sbi_stimuli(&c, 1ull << 33, 3, w), NF_OK, "%s", nf_errmsg());
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 1003; k++) {
            float z[4];
            nf_rng_normal4(c.seed, NF_RNG_SBI_STIMULUS, (1ull << 33) + (uint64_t)i, (uint32_t)(k / 4), z);
            cr_assert_eq(w[i * 1003 + k], z[k % 4], "sim %d sample %d: %.9g vs %.9g", i, k, w[i * 1003 + k], z[k % 4]);
        }
    free(w);
    nf_prior_destroy(p);
}

Test(sbi, preset_generator_is_the_same_for_any_range)
{
    const int64_t n = 40;
    float *th = malloc(sizeof(float) * n * 6), *st = malloc(sizeof(float) * n * 501), amp[40];
    float *th2 = malloc(sizeof(float) * 13 * 6), *st2 = malloc(sizeof(float) * 13 * 501), amp2[13];
    cr_assert_eq(nf_sbi_bayesflow_lif_generate(123, 0, n, th, amp, st), NF_OK, "%s", nf_errmsg());
    cr_assert_eq(nf_sbi_bayesflow_lif_generate(123, 17, 13, th2, amp2, st2), NF_OK);
    cr_expect_eq(memcmp(th + 17 * 6, th2, sizeof(float) * 13 * 6), 0);
    cr_expect_eq(memcmp(st + 17 * 501, st2, sizeof(float) * 13 * 501), 0);
    cr_expect_eq(memcmp(amp + 17, amp2, sizeof amp2), 0);
    for (int64_t i = 0; i < n; i++) {
        cr_expect(amp[i] >= 300 && amp[i] <= 3000, "amp %g pA outside [300, 3000]", amp[i]);
        /* |0.25 sin + 0.15 c| <= 0.4 with max|c| = 1 reached somewhere */
        float lo = 1e30f, hi = -1e30f;
        for (int k = 0; k < 501; k++) {
            float r = st[i * 501 + k] / amp[i];
            lo = r < lo ? r : lo;
            hi = r > hi ? r : hi;
        }
        cr_expect(lo >= 0.6f - 1e-5f && hi <= 1.4f + 1e-5f, "I/amp in [%g, %g]", lo, hi);
    }
    free(th);
    free(st);
    free(th2);
    free(st2);
}

/* ---- datasets ----------------------------------------------------------------- */

static int read_file(const char *dir, const char *name, char **buf, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "rb");
    if (!fp) return -1;
    fseek(fp, 0, SEEK_END);
    *len = (size_t)ftell(fp);
    fseek(fp, 0, SEEK_SET);
    *buf = malloc(*len + 1);
    size_t got = fread(*buf, 1, *len, fp);
    fclose(fp);
    return got == *len ? 0 : -1;
}

static void write_preset(const char *dir, uint64_t seed, int64_t n, int64_t chunk, int threads)
{
    nf_sbi_config c;
    nf_prior *p;
    nf_engine *e;
    cr_assert_eq(nf_sbi_preset("bayesflow-lif", seed, &c, &p), NF_OK, "%s", nf_errmsg());
    cr_assert_eq(nf_engine_create(NF_BACKEND_CPU, threads, &e), NF_OK, "%s", nf_errmsg());
    nf_sbi_write_opts o = {.n_sims = n, .chunk = chunk, .write_stimulus = 1};
    cr_assert_eq(nf_sbi_write_dataset(e, &c, dir, &o), NF_OK, "%s", nf_errmsg());
    nf_engine_destroy(e);
    nf_prior_destroy(p);
}

Test(sbi, datasets_are_identical_for_any_chunk_size_and_thread_count)
{
    char a[300], b[300];
    snprintf(a, sizeof a, "%s/a", tmpdir);
    snprintf(b, sizeof b, "%s/b", tmpdir);
    write_preset(a, 5, 333, 7, 1);
    write_preset(b, 5, 333, 1000, 2);
    const char *files[] = {"theta.npy", "x.npy", "stimulus.npy", "valid.npy"};
    for (int f = 0; f < 4; f++) {
        char *ba, *bb;
        size_t la, lb;
        cr_assert_eq(read_file(a, files[f], &ba, &la), 0, "%s/%s", a, files[f]);
        cr_assert_eq(read_file(b, files[f], &bb, &lb), 0, "%s/%s", b, files[f]);
        cr_expect(la == lb && memcmp(ba, bb, la) == 0, "%s differs between chunkings", files[f]);
        free(ba);
        free(bb);
    }
}

Test(sbi, preset_matches_an_independent_numpy_reimplementation_of_the_study, .timeout = 120)
{
    if (!have_numpy()) cr_skip_test("needs " PY " with numpy (Debian python3-numpy)");
    static const uint64_t seeds[] = {11, 4000000007ull, 1099511627779ull};
    char out[4096];
    for (int k = 0; k < 3; k++) {
        char dir[300];
        snprintf(dir, sizeof dir, "%s/ref%d", tmpdir, k);
        write_preset(dir, seeds[k], 400, 128, 2);
        int rc = nft_run(out, sizeof out, PY " " NF_SOURCE_DIR "/tests/sbi_reference.py %s %llu", dir,
                     (unsigned long long)seeds[k]);
        cr_expect_eq(rc, 0, "seed %llu:\n%s", (unsigned long long)seeds[k], out);
    }
}

Test(sbi, custom_prior_dataset_loads_in_numpy_with_documented_shapes)
{
    if (!have_numpy()) cr_skip_test("needs " PY " with numpy (Debian python3-numpy)");
    char out[8192];
    int rc = nft_run(out, sizeof out,
                 BIN " sbi simulate --model lif6 --prior 'C_m=uniform:100,200 g_L=loguniform:5,15 "
                     "E_L=normal:-70,2 t_ref=truncnormal:3,1,1,5 V_res<E_L' --stimulus ou:150,60,5 --dt 0.1 "
                     "--duration 30 --record-every 3 --x both --n 250 --chunk 64 --seed 3 --quiet --out %s/c",
                 tmpdir);
    cr_assert_eq(rc, 0, "%s", out);
    rc = nft_run(out, sizeof out,
             PY " -c \"import numpy as np, json; d='%s/c/'; m=json.load(open(d+'meta.json')); "
                "t=np.load(d+'theta.npy'); x=np.load(d+'x.npy'); s=np.load(d+'summaries.npy'); "
                "i=np.load(d+'stimulus.npy'); v=np.load(d+'valid.npy'); "
                "assert m['theta_order']==['C_m','g_L','E_L','t_ref'], m['theta_order']; "
                "assert t.shape==(250,4) and t.dtype==np.float32, t.shape; "
                "assert x.shape==(250,101) and x.dtype==np.float32, x.shape; "
                "assert s.shape==(250,5) and len(m['summary_names'])==5, s.shape; "
                "assert i.shape==(250,301) and i.dtype==np.float32, i.shape; "
                "assert v.shape==(250,) and v.dtype==np.bool_ and v.all(); "
                "assert m['n_sims']==250 and m['files']['x.npy']['shape']==[250,101]; "
                "assert (t[:,1]>=5).all() and (t[:,1]<=15).all() and (t[:,3]>=1).all() and (t[:,3]<=5).all(); "
                "assert abs(i.mean()-150)<10 and abs(i.std()-60)<10, (i.mean(), i.std()); "
                "assert (s[:,3]<0).all() and (s[:,4]>=0).all(); "
                "print('ok')\"",
             tmpdir);
    cr_expect_eq(rc, 0, "%s", out);
}

static int stop_after_two(void *user, int64_t done, int64_t total)
{
    int *calls = user;
    return ++*calls >= 2;
}

Test(sbi, an_interrupted_run_commits_nothing_and_keeps_the_old_dataset)
{
    char dir[300], *before, *after;
    size_t lb, la;
    snprintf(dir, sizeof dir, "%s/d", tmpdir);
    write_preset(dir, 1, 100, 50, 1);
    cr_assert_eq(read_file(dir, "theta.npy", &before, &lb), 0);

    nf_sbi_config c;
    nf_prior *p;
    nf_engine *e;
    cr_assert_eq(nf_sbi_preset("bayesflow-lif", 2, &c, &p), NF_OK);
    cr_assert_eq(nf_engine_create(NF_BACKEND_CPU, 1, &e), NF_OK);
    int calls = 0;
    nf_sbi_write_opts o = {.n_sims = 500, .chunk = 50, .write_stimulus = 0, .progress = stop_after_two, .user = &calls};
    cr_expect_eq(nf_sbi_write_dataset(e, &c, dir, &o), NF_EINTERRUPTED);
    cr_expect(strstr(nf_errmsg(), "nothing was committed") != NULL, "%s", nf_errmsg());
    cr_assert_eq(read_file(dir, "theta.npy", &after, &la), 0);
    cr_expect(la == lb && memcmp(before, after, la) == 0, "the old theta.npy was changed");
    char out[4096];
    nft_run(out, sizeof out, "ls -A %s; ls -A %s", dir, tmpdir); /* the stage is beside the directory */
    cr_expect(strstr(out, "partial") == NULL && strstr(out, "tmp") == NULL, "left behind: %s", out);
    /* a complete run without stimulus.npy removes the older one */
    o.progress = NULL;
    o.n_sims = 60;
    cr_assert_eq(nf_sbi_write_dataset(e, &c, dir, &o), NF_OK, "%s", nf_errmsg());
    nft_run(out, sizeof out, "ls -A %s", dir);
    cr_expect(strstr(out, "stimulus.npy") == NULL && strstr(out, "meta.json") != NULL, "%s", out);
    free(before);
    free(after);
    nf_engine_destroy(e);
    nf_prior_destroy(p);
}

/* 1 when dir has an entry whose name starts with prefix and ends with suffix. */
static int has_entry(const char *dir, const char *prefix, const char *suffix)
{
    DIR *dp = opendir(dir);
    if (!dp) return 0;
    struct dirent *de;
    int found = 0;
    while (!found && (de = readdir(dp))) {
        size_t n = strlen(de->d_name), k = strlen(suffix);
        found = !strncmp(de->d_name, prefix, strlen(prefix)) && n >= k && !strcmp(de->d_name + n - k, suffix);
    }
    closedir(dp);
    return found;
}

Test(sbi, a_killed_run_leaves_no_file_that_looks_complete, .timeout = 60)
{
    char dir[300];
    snprintf(dir, sizeof dir, "%s/killed", tmpdir);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        execl(BIN, BIN, "sbi", "simulate", "--preset", "bayesflow-lif", "--n", "5000000", "--chunk", "1024",
              "--no-stimulus-file", "--quiet", "--out", dir, (char *)NULL);
        _exit(127);
    }
    /* wait until the run is streaming into its staging directory (in dir) */
    for (int i = 0; i < 500 && !has_entry(dir, ".neurofit" NF_STAGE_TAG, ""); i++) usleep(10000);
    usleep(300000);
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFSIGNALED(st), "the run ended before it was killed (status %d)", st);
    cr_expect(has_entry(dir, ".neurofit" NF_STAGE_TAG, ""), "no staging directory: was the run killed before it started?");
    cr_expect(!has_entry(dir, "meta.json", ""), "meta.json exists after a killed run");
    cr_expect(!has_entry(dir, "", ".npy"), "a .npy file under its final name after a killed run");
    /* the next run into dir removes what the killed one left, and says so */
    char out[4096], pidtext[32];
    int rc = nft_run(out, sizeof out, BIN " sbi simulate --preset bayesflow-lif --n 20 --quiet --out %s", dir);
    cr_assert_eq(rc, 0, "%s", out);
    snprintf(pidtext, sizeof pidtext, "process %ld", (long)pid);
    cr_expect(strstr(out, "removed .neurofit" NF_STAGE_TAG) && strstr(out, pidtext), "%s", out);
    cr_expect(!has_entry(dir, ".neurofit", ""), "a stage or lock file is left: %s", out);
    cr_expect(has_entry(dir, "meta.json", ""));
}

Test(sbi, ctrl_c_stops_cleanly_and_removes_the_staging_directory, .timeout = 60)
{
    char dir[300];
    snprintf(dir, sizeof dir, "%s/interrupted", tmpdir);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        execl(BIN, BIN, "sbi", "simulate", "--preset", "bayesflow-lif", "--n", "5000000", "--chunk", "1024",
              "--no-stimulus-file", "--quiet", "--out", dir, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 500 && !has_entry(dir, ".neurofit" NF_STAGE_TAG, ""); i++) usleep(10000);
    usleep(200000);
    kill(pid, SIGINT);
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 130, "expected exit 130 after Ctrl-C (status %d)", st);
    cr_expect(access(dir, F_OK) != 0, "a run that committed nothing created %s", dir);
}

/* SIGHUP and SIGQUIT (a closed terminal, Ctrl-\) stop a run as Ctrl-C does:
 * the stage is removed, an earlier dataset is kept, exit 130. (No .timeout:
 * with one, libcriterion 2.4's runner leaks 48 bytes under --jobs 2, which
 * fails the ASan suite; ctest's TIMEOUT bounds it.) */
Test(sbi, sighup_and_sigquit_stop_like_ctrl_c)
{
    const int sigs[2] = {SIGHUP, SIGQUIT};
    for (int k = 0; k < 2; k++) {
        char dir[300], out[4096];
        snprintf(dir, sizeof dir, "%s/hup%d", tmpdir, k);
        cr_assert_eq(nft_run(out, sizeof out, BIN " sbi simulate --preset bayesflow-lif --n 10 --quiet --out %s", dir),
                     0, "%s", out);
        pid_t pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0) {
            execl(BIN, BIN, "sbi", "simulate", "--preset", "bayesflow-lif", "--n", "5000000", "--chunk", "1024",
                  "--no-stimulus-file", "--quiet", "--force", "--out", dir, (char *)NULL);
            _exit(127);
        }
        for (int i = 0; i < 3000 && !has_entry(dir, ".neurofit" NF_STAGE_TAG, ""); i++) usleep(10000);
        if (!has_entry(dir, ".neurofit" NF_STAGE_TAG, "")) { /* never signal a child that has not become neurofit */
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            cr_assert_fail("signal %d: the run never started streaming", sigs[k]);
        }
        usleep(200000);
        kill(pid, sigs[k]);
        int st;
        waitpid(pid, &st, 0);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 130, "signal %d: expected exit 130 (status %d)", sigs[k], st);
        cr_expect(!has_entry(dir, ".neurofit", ""), "signal %d: a stage or lock file is left behind", sigs[k]);
        cr_expect(nft_run(out, sizeof out, "grep -q '\"n_sims\":.*10,' %s/meta.json && test -s %s/stimulus.npy", dir,
                          dir) == 0, "signal %d: the earlier dataset is gone", sigs[k]);
    }
}

Test(sbi, file_stimuli_are_used_row_by_row_or_shared)
{
    if (!have_numpy()) cr_skip_test("needs " PY " with numpy (Debian python3-numpy)");
    char out[8192];
    int rc = nft_run(out, sizeof out,
                 PY " -c \"import numpy as np; d='%s/'; "
                 "np.save(d+'w.npy', (np.arange(4*201).reshape(4,201) %% 50 * 10).astype(np.float32)); "
                 "np.save(d+'s.npy', np.full(201, 250, np.float32)); "
                 "np.save(d+'bad.npy', np.zeros((4, 7), np.float32))\"",
                 tmpdir);
    cr_assert_eq(rc, 0, "%s", out);
    rc = nft_run(out, sizeof out,
             BIN " sbi simulate --model lif6 --prior C_m=uniform:100,200 --stimulus file:%s/w.npy --dt 0.1 "
                 "--duration 20 --n 4 --quiet --out %s/fw && " BIN
                 " sbi simulate --model lif6 --prior C_m=uniform:100,200 --stimulus file:%s/s.npy --dt 0.1 "
                 "--duration 20 --n 4 --quiet --out %s/fs",
             tmpdir, tmpdir, tmpdir, tmpdir);
    cr_assert_eq(rc, 0, "%s", out);
    rc = nft_run(out, sizeof out,
             PY " -c \"import numpy as np, os; d='%s/'; "
                "assert (np.load(d+'fw/stimulus.npy') == np.load(d+'w.npy')).all(); "
                "assert not os.path.exists(d+'fs/stimulus.npy'); "
                "x = np.load(d+'fs/x.npy'); assert x.shape == (4, 201) and (x[:, 50] > x[:, 0] + 5).all()\"",
             tmpdir);
    cr_expect_eq(rc, 0, "%s", out);
    /* wrong length, and fewer waveforms than simulations */
    rc = nft_run(out, sizeof out,
             BIN " sbi simulate --model lif6 --prior C_m=uniform:100,200 --stimulus file:%s/bad.npy --dt 0.1 "
                 "--duration 20 --n 4 --out %s/fb",
             tmpdir, tmpdir);
    cr_expect_eq(rc, 2, "%s", out);
    cr_expect(strstr(out, "7 samples per waveform, the run has 201") != NULL, "%s", out);
    rc = nft_run(out, sizeof out,
             BIN " sbi simulate --model lif6 --prior C_m=uniform:100,200 --stimulus file:%s/w.npy --dt 0.1 "
                 "--duration 20 --n 5 --out %s/fb",
             tmpdir, tmpdir);
    cr_expect_neq(rc, 0, "%s", out);
    cr_expect(strstr(out, "fewer than the 5 simulations") != NULL, "%s", out);
}

/* nf_sbi_runner_run_theta with the prior's own draws reproduces the prior run
 * bit for bit (stimuli, traces, summaries, validity); fixed parameters come
 * from the prior; a bad theta fails naming it. */
Test(sbi, runner_with_given_theta_equals_the_prior_run)
{
    const nf_model *m = nf_model_find("adex");
    nf_prior *p;
    cr_assert_eq(nf_prior_create(m, &p), NF_OK);
    cr_assert_eq(nf_prior_parse(p, "C=uniform:100,300 g_L=uniform:5,15 b=loguniform:10,100"), NF_OK, "%s",
                 nf_errmsg());
    nf_sbi_config c = {.model = m, .prior = p, .dt_ms = 0.1, .n_steps = 2001, .record_every = 2,
                       .x = NF_SBI_X_BOTH, .seed = 7};
    c.stim.kind = NF_SBI_STIM_OU;
    c.stim.mean_pA = 300;
    c.stim.sd_pA = 100;
    c.stim.tau_ms = 5;
    nf_engine *e;
    cr_assert_eq(nf_engine_create(NF_BACKEND_CPU, 2, &e), NF_OK);
    nf_sbi_runner *r;
    const int64_t n = 24, T = 2001, R = 1001, first = 5;
    cr_assert_eq(nf_sbi_runner_create(e, &c, n, &r), NF_OK, "%s", nf_errmsg());
    float *th = malloc(sizeof(float) * n * 3), *st = malloc(sizeof(float) * n * T), *x = malloc(sizeof(float) * n * R);
    float *st2 = malloc(sizeof(float) * n * T), *x2 = malloc(sizeof(float) * n * R);
    float sum[24 * NF_SBI_N_SUMMARIES], sum2[24 * NF_SBI_N_SUMMARIES];
    uint8_t ok[24], ok2[24];
    cr_assert_eq(nf_sbi_runner_run(r, first, n, th, st, x, sum, ok), NF_OK, "%s", nf_errmsg());
    cr_assert_eq(nf_sbi_runner_run_theta(r, first, n, th, st2, x2, sum2, ok2), NF_OK, "%s", nf_errmsg());
    cr_expect_eq(memcmp(st, st2, sizeof(float) * n * T), 0);
    cr_expect_eq(memcmp(x, x2, sizeof(float) * n * R), 0);
    cr_expect_eq(memcmp(sum, sum2, sizeof sum), 0);
    cr_expect_eq(memcmp(ok, ok2, sizeof ok), 0);
    /* another theta gives another trace; the stimulus stays that of the index */
    for (int64_t i = 0; i < n; i++) th[i * 3 + 1] = 14.5f;
    cr_assert_eq(nf_sbi_runner_run_theta(r, first, n, th, st2, x2, NULL, NULL), NF_OK, "%s", nf_errmsg());
    cr_expect_eq(memcmp(st, st2, sizeof(float) * n * T), 0);
    cr_expect_neq(memcmp(x, x2, sizeof(float) * n * R), 0);
    th[2 * 3] = NAN;
    cr_expect_eq(nf_sbi_runner_run_theta(r, first, n, th, NULL, x2, NULL, NULL), NF_ENAN);
    cr_expect(strstr(nf_errmsg(), "adex.C") && strstr(nf_errmsg(), "nan"), "%s", nf_errmsg());
    cr_expect_eq(nf_sbi_runner_run_theta(r, first, n, NULL, NULL, x2, NULL, NULL), NF_EINVAL);
    nf_sbi_runner_destroy(r);
    nf_engine_destroy(e);
    nf_prior_destroy(p);
    free(th), free(st), free(x), free(st2), free(x2);
}

/* Bytes of a file (malloc'd; *len its size). */
static unsigned char *file_bytes(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    cr_assert(b);
    *len = fread(b, 1, (size_t)n, f);
    fclose(f);
    return b;
}

static void expect_same_file(const char *a, const char *b)
{
    size_t na, nb;
    unsigned char *x = file_bytes(a, &na), *y = file_bytes(b, &nb);
    cr_assert(na == nb && memcmp(x, y, na) == 0, "%s and %s differ", a, b);
    free(x);
    free(y);
}

Test(sbi, summaries_only_writes_no_traces_and_the_full_runs_values, .timeout = 120)
{
    char out[4096], full[512], only[512], a[600], b[600];
    snprintf(full, sizeof full, "%s/full", tmpdir);
    snprintf(only, sizeof only, "%s/only", tmpdir);
    const int64_t N = 2500;
    /* several chunks, the CPU backend on two threads */
    cr_assert_eq(nft_run(out, sizeof out, BIN " sbi simulate --preset bayesflow-lif --n %lld --seed 4 --chunk 1000 "
                         "--x both --backend cpu --threads 2 --quiet --out %s", (long long)N, full), 0, "%s", out);
    cr_assert_eq(nft_run(out, sizeof out, BIN " sbi simulate --preset bayesflow-lif --n %lld --seed 4 --chunk 700 "
                         "--summaries-only --backend cpu --threads 2 --quiet --out %s", (long long)N, only), 0, "%s", out);
    /* no traces, no stimulus rows */
    cr_assert(!nft_exists(only, "stimulus.npy") && !nft_exists(only, "summaries.npy"));
    cr_assert(nft_exists(only, "meta.json") && nft_exists(full, "stimulus.npy"));
    int ndim;
    int64_t shape[2];
    float *x = NULL, *amp = NULL;
    snprintf(a, sizeof a, "%s/x.npy", only);
    cr_assert_eq(nf_npy_read_f32(a, &x, &ndim, shape, 2), NF_OK, "%s", nf_errmsg());
    cr_assert(ndim == 2 && shape[0] == N && shape[1] == NF_SBI_N_SUMMARIES, "x.npy is [%lld][%lld], not summaries",
              (long long)shape[0], (long long)shape[1]);
    free(x);
    /* the full run's values, to the byte */
    snprintf(a, sizeof a, "%s/summaries.npy", full);
    snprintf(b, sizeof b, "%s/x.npy", only);
    expect_same_file(a, b);
    snprintf(a, sizeof a, "%s/theta.npy", full);
    snprintf(b, sizeof b, "%s/theta.npy", only);
    expect_same_file(a, b);
    snprintf(a, sizeof a, "%s/valid.npy", full);
    snprintf(b, sizeof b, "%s/valid.npy", only);
    expect_same_file(a, b);
    /* the amplitudes the full run's stimulus rows were made with */
    snprintf(a, sizeof a, "%s/stimulus_params.npy", only);
    cr_assert_eq(nf_npy_read_f32(a, &amp, &ndim, shape, 2), NF_OK, "%s", nf_errmsg());
    cr_assert(ndim == 2 && shape[0] == N && shape[1] == 1);
    float *want = malloc(sizeof(float) * (size_t)N);
    cr_assert(want);
    cr_assert_eq(nf_sbi_bayesflow_lif_generate(4, 0, N, NULL, want, NULL), NF_OK, "%s", nf_errmsg());
    cr_assert_eq(memcmp(amp, want, sizeof(float) * (size_t)N), 0, "stimulus_params.npy differs from the amplitudes");
    for (int64_t i = 0; i < N; i++) cr_assert(amp[i] >= 300.0f && amp[i] <= 3000.0f, "amp[%lld] = %g", (long long)i, amp[i]);
    free(amp);
    free(want);
    snprintf(a, sizeof a, "%s/meta.json", only);
    size_t n;
    char *meta = (char *)file_bytes(a, &n);
    meta[n] = 0;
    cr_assert(strstr(meta, "\"summaries_only\"") && strstr(meta, "stimulus_params.npy"), "%s", meta);
    free(meta);
    /* traces asked for with it: a usage error naming --x, nothing written */
    snprintf(b, sizeof b, "%s/bad", tmpdir);
    int rc = nft_run(out, sizeof out, BIN " sbi simulate --preset bayesflow-lif --n 10 --summaries-only --x both "
                     "--quiet --out %s", b);
    cr_assert(rc == 2 && strstr(out, "--x both"), "rc %d: %s", rc, out);
    cr_assert(!nft_exists(b, "meta.json"));
}
