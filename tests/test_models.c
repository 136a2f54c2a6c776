/* The model zoo (kernels/model_*.h): a documented behaviour of each model
 * reproduced on the CPU backend, plus checks every model must pass. */
#include "neurofit/engine.h"
#include "nf_test_util.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

typedef struct {
    int64_t n_sims, n_steps;
    double dt;
    const float *params;
    const float *wave; /* one shared waveform, or NULL */
    int64_t n_waves;   /* 0: one shared; n_sims: one per simulation */
    float noise_sd;
    uint64_t seed;
    int threads;
    float v_limit;
    /* outputs (may be NULL) */
    float *v;
    float *spk_t;
    int32_t max_spikes;
    int32_t *counts;
    uint8_t *valid;
    float *fin;
} sim_io;

static void sim(const char *name, sim_io *io)
{
    const nf_model *m = nf_model_find(name);
    cr_assert_not_null(m, "%s", nf_errmsg());
    nf_batch b = {0};
    b.model = m;
    b.n_sims = io->n_sims;
    b.n_steps = io->n_steps;
    b.dt_ms = io->dt;
    b.params = io->params;
    b.stim.waves = io->wave;
    b.stim.n_waves = io->wave ? (io->n_waves ? io->n_waves : 1) : 0;
    b.stim.noise_sd_pA = io->noise_sd;
    b.stim.noise_tau_ms = 2.0f;
    b.stim.seed = io->seed;
    b.v_limit_mV = io->v_limit;
    b.voltage = io->v;
    b.record_every = 1;
    b.spike_times = io->spk_t;
    b.max_spikes = io->max_spikes;
    b.spike_counts = io->counts;
    b.valid = io->valid;
    b.final_state = io->fin;
    nf_engine *e;
    cr_assert_eq(nf_engine_create(NF_BACKEND_CPU, io->threads ? io->threads : 1, &e), NF_OK, "%s", nf_errmsg());
    cr_assert_eq(nf_engine_run(e, &b), NF_OK, "%s: %s", name, nf_errmsg());
    nf_engine_destroy(e);
}

/* One neuron under a constant current: spike count, first max spike times. */
static int fire(const char *name, const float *p, double i_pA, double dt, int64_t T, float *t, int max)
{
    float *w = nft_step(T, dt, i_pA, 0.0, 1e12);
    int32_t count = -1;
    uint8_t valid = 0;
    float dummy[1];
    sim_io io = {.n_sims = 1, .n_steps = T, .dt = dt, .params = p, .wave = w, .spk_t = t ? t : dummy,
                 .max_spikes = t ? max : 1, .counts = &count, .valid = &valid};
    sim(name, &io);
    cr_assert_eq(valid, 1, "%s at %g pA flagged invalid", name, i_pA);
    free(w);
    return count;
}

/* Mean inter-spike interval of spikes k0..n-1 (ms). */
static double mean_isi(const float *t, int n, int k0)
{
    cr_assert_geq(n - k0, 2, "need two spikes after %d (have %d)", k0, n);
    return (t[n - 1] - t[k0]) / (n - 1 - k0);
}

static float *defaults(const char *name)
{
    const nf_model *m = nf_model_find(name);
    cr_assert_not_null(m);
    return nft_default_params(m, 1);
}

static void set(const char *name, float *p, const char *param, float value)
{
    const nf_model *m = nf_model_find(name);
    int k = nf_model_param_index(m, param);
    cr_assert_geq(k, 0, "%s has no parameter %s", name, param);
    p[k] = value;
}

/* ---- every model ---------------------------------------------------------- */

/* The refractory rule (kernels/nf_refractory.h): a spike is followed by
 * exactly round(t_ref / dt) samples at its reset value when t_ref is a
 * multiple of dt, and ceil(t_ref / dt) when it lies between grid points, in
 * all eight models with a refractory period. The float32 rounding of t_ref
 * and dt used to add a step to many grid multiples (dt 0.01: t_ref 0.3 ms
 * held 31 samples). Each simulation gets its own t_ref; held samples are the
 * run of equal values starting at the first spike's sample. */
Test(zoo, refractory_hold_is_round_t_ref_over_dt_on_the_grid)
{
    const char *names[] = {"lif6", "slif", "lapicque", "eif", "alpha_lif", "glif1", "glif2", "glif3"};
    const double dts[] = {0.01, 0.02, 0.025, 0.05, 0.1};
    enum { K = 1000 }; /* multiples 1..K, and K half-way points */
    const int64_t P = 2 * K, T = K + 1600;
    float *v = malloc(sizeof(float) * P * T), *spk = malloc(sizeof(float) * P);
    int32_t *counts = malloc(sizeof(int32_t) * P);
    for (size_t mi = 0; mi < sizeof names / sizeof names[0]; mi++) {
        const nf_model *m = nf_model_find(names[mi]);
        const int kt = nf_model_param_index(m, "t_ref");
        cr_assert_geq(kt, 0);
        for (size_t di = 0; di < sizeof dts / sizeof dts[0]; di++) {
            const double dt = dts[di];
            float *params = nft_default_params(m, P);
            for (int64_t i = 0; i < P; i++) {
                const int k = (int)(i % K) + 1;
                params[i * m->n_params + kt] = (float)(i < K ? k * dt : (k - 0.5) * dt);
                const int ks = nf_model_param_index(m, "sigma");
                if (ks >= 0) params[i * m->n_params + ks] = 0.0f; /* slif: no noise */
            }
            /* a drive that reaches threshold within a few hundred steps */
            float *w = nft_step(T, dt, 4.0 * m->drive_pA, 0.0, 1e12);
            sim_io io = {.n_sims = P, .n_steps = T, .dt = dt, .params = params, .wave = w, .v = v, .spk_t = spk,
                         .max_spikes = 1, .counts = counts, .threads = 2};
            sim(names[mi], &io);
            int wrong = 0;
            for (int64_t i = 0; i < P; i++) {
                const int k = (int)(i % K) + 1;
                const int want = k; /* round(k) on the grid, ceil(k - 0.5) between */
                cr_assert_gt(counts[i], 0, "%s dt %g: sim %lld did not spike", names[mi], dt, (long long)i);
                const int64_t n0 = (int64_t)llround(spk[i] / dt);
                cr_assert_lt(n0 + k + 1, T, "%s dt %g: first spike too late (%g ms)", names[mi], dt, spk[i]);
                int64_t n = n0;
                while (n + 1 < T && v[i * T + n + 1] == v[i * T + n0]) n++;
                const int held = (int)(n - n0 + 1);
                if (held != want && wrong++ < 5)
                    cr_log_error("%s dt %g t_ref %.9g ms: %d samples held, want %d", names[mi], dt,
                                 (double)params[i * m->n_params + kt], held, want);
            }
            cr_expect_eq(wrong, 0, "%s dt %g: %d of %lld refractory holds wrong", names[mi], dt, wrong,
                         (long long)P);
            free(params);
            free(w);
        }
    }
    free(v);
    free(spk);
    free(counts);
}

Test(zoo, default_cell_fires_at_its_drive_and_rests_without_input)
{
    for (int mi = 0; mi < nf_model_count(); mi++) {
        const nf_model *m = nf_model_at(mi);
        float *p = nft_default_params(m, 1);
        const double dt = m->dt_max_ms;
        const int64_t T = (int64_t)(1000.0 / dt);
        cr_assert_gt(m->drive_pA, 0, "%s has a drive current", m->name);
        int n = fire(m->name, p, m->drive_pA, dt, T, NULL, 0);
        cr_assert_geq(n, 3, "%s: default cell fires at %g pA (%d spikes in 1 s)", m->name, m->drive_pA, n);
        cr_assert_eq(fire(m->name, p, 0.0, dt, T, NULL, 0), 0, "%s: default cell silent at 0 pA", m->name);
        free(p);
    }
}

/* ---- slif ----------------------------------------------------------------- */

Test(slif, free_membrane_variance_matches_the_scheme)
{
    /* below threshold V is a discrete OU process: mean E_L + I/g_L and
     * variance sigma^2 / (1 - dt / (2 tau_m)) */
    const int64_t P = 1024, T = 3000, skip = 1000;
    const double dt = 0.1, C = 150, gL = 10, EL = -70, sigma = 3, I = 50;
    float *p = nft_default_params(nf_model_find("slif"), P);
    for (int64_t i = 0; i < P; i++) {
        float *r = p + i * 7;
        r[0] = (float)C, r[1] = (float)gL, r[2] = (float)EL, r[3] = 500.0f, r[6] = (float)sigma;
    }
    float *w = nft_step(T, dt, I, 0.0, 1e12);
    float *v = malloc(sizeof(float) * P * T);
    sim_io io = {.n_sims = P, .n_steps = T, .dt = dt, .params = p, .wave = w, .seed = 11, .v = v, .threads = 2};
    sim("slif", &io);
    double s = 0, s2 = 0, n = 0;
    for (int64_t i = 0; i < P; i++)
        for (int64_t k = skip; k < T; k++) {
            double x = v[i * T + k];
            s += x, s2 += x * x, n++;
        }
    double mean = s / n, var = s2 / n - mean * mean;
    double var_ref = sigma * sigma / (1.0 - dt / (2.0 * C / gL));
    printf("slif: mean %.4f mV (ref %.4f), variance %.4f mV^2 (ref %.4f)\n", mean, EL + I / gL, var, var_ref);
    cr_assert(fabs(mean - (EL + I / gL)) < 0.12, "mean %g", mean); /* ~4 standard errors */
    cr_assert(fabs(var / var_ref - 1.0) < 0.05, "variance %g vs %g", var, var_ref);
    free(p);
    free(w);
    free(v);
}

Test(slif, noise_seeded_per_simulation_and_same_for_any_thread_count)
{
    const nf_model *m = nf_model_find("slif");
    const int64_t P = 77, T = 2000;
    float *p = nft_random_params(m, P, 5);
    float *w = nft_step(T, 0.1, 200.0, 20.0, 150.0);
    float *v[4];
    int32_t c[4][77];
    const int threads[4] = {1, 2, 7, 2};
    const uint64_t seeds[4] = {3, 3, 3, 4};
    for (int r = 0; r < 4; r++) {
        v[r] = malloc(sizeof(float) * P * T);
        sim_io io = {.n_sims = P, .n_steps = T, .dt = 0.1, .params = p, .wave = w, .seed = seeds[r], .v = v[r],
                     .counts = c[r], .threads = threads[r]};
        sim("slif", &io);
    }
    cr_assert_eq(memcmp(v[0], v[1], sizeof(float) * P * T), 0, "1 vs 2 threads");
    cr_assert_eq(memcmp(v[0], v[2], sizeof(float) * P * T), 0, "1 vs 7 threads");
    cr_assert_eq(memcmp(c[0], c[2], sizeof c[0]), 0);
    cr_assert_neq(memcmp(v[0], v[3], sizeof(float) * P * T), 0, "another seed, other noise");
    /* every simulation has its own stream: neighbours differ */
    cr_assert_neq(memcmp(v[0] + 100, v[0] + T + 100, sizeof(float) * 100), 0);
    for (int r = 0; r < 4; r++) free(v[r]);
    free(p);
    free(w);
}

Test(slif, without_noise_identical_to_lif6)
{
    const int64_t T = 5000;
    float ps[7] = {150, 10, -70, -55, -75, 3, 0};
    float pl[6] = {150, 10, -70, -55, -75, 3};
    float *w = nft_step(T, 0.1, 250.0, 50.0, 400.0);
    float *vs = malloc(sizeof(float) * T), *vl = malloc(sizeof(float) * T);
    sim_io io = {.n_sims = 1, .n_steps = T, .dt = 0.1, .params = ps, .wave = w, .seed = 9, .v = vs};
    sim("slif", &io);
    io.params = pl;
    io.v = vl;
    sim("lif6", &io);
    cr_assert_eq(memcmp(vs, vl, sizeof(float) * T), 0);
    free(w);
    free(vs);
    free(vl);
}

/* ---- lapicque ------------------------------------------------------------- */

Test(lapicque, isi_matches_closed_form_leaky_and_perfect)
{
    const double dt = 0.05;
    const double gls[2] = {10.0, 0.0};
    const double currents[3] = {250.0, 400.0, 800.0};
    for (int g = 0; g < 2; g++)
        for (int c = 0; c < 3; c++) {
            float p[6] = {150, (float)gls[g], -70, -50, -70, 2};
            float t[64];
            double I = currents[c];
            int n = fire("lapicque", p, I, dt, 40000, t, 64);
            cr_assert_geq(n, 5);
            double ref;
            if (gls[g] > 0) {
                double vinf = -70 + I / gls[g];
                ref = 2.0 + 150.0 / gls[g] * log((vinf + 70) / (vinf + 50));
            } else {
                ref = 2.0 + 150.0 * 20.0 / I;
            }
            double isi = mean_isi(t, n < 64 ? n : 64, 1);
            /* exact integration: only the grid (threshold crossing and end of
             * the refractory hold land on samples) separates them */
            cr_assert(fabs(isi - ref) <= 1.001 * dt, "g_L %g, I %g: ISI %g vs %g", gls[g], I, isi, ref);
        }
}

/* ---- qif and eif: rheobase ------------------------------------------------ */

Test(qif, rheobase_is_k_dv_squared_over_4)
{
    float *p = defaults("qif"); /* C 100, k 0.7, V_r -65, V_t -45 */
    double rh = 0.7 * 20.0 * 20.0 / 4.0;
    cr_assert_eq(fire("qif", p, 0.98 * rh, 0.1, 30000, NULL, 0), 0, "below rheobase %g pA", rh);
    cr_assert_gt(fire("qif", p, 1.02 * rh, 0.1, 30000, NULL, 0), 0, "above rheobase %g pA", rh);
    set("qif", p, "k", 2.0f);
    set("qif", p, "V_t", -55.0f);
    rh = 2.0 * 10.0 * 10.0 / 4.0;
    cr_assert_eq(fire("qif", p, 0.98 * rh, 0.1, 30000, NULL, 0), 0);
    cr_assert_gt(fire("qif", p, 1.02 * rh, 0.1, 30000, NULL, 0), 0);
    free(p);
}

Test(eif, rheobase_is_g_L_times_V_T_minus_E_L_minus_Delta_T)
{
    float *p = defaults("eif"); /* g_L 10, E_L -70, V_T -50, Delta_T 2 */
    double rh = 10.0 * (-50.0 + 70.0 - 2.0);
    cr_assert_eq(fire("eif", p, 0.98 * rh, 0.1, 30000, NULL, 0), 0, "below rheobase %g pA", rh);
    cr_assert_gt(fire("eif", p, 1.02 * rh, 0.1, 30000, NULL, 0), 0, "above rheobase %g pA", rh);
    set("eif", p, "Delta_T", 0.5f);
    set("eif", p, "g_L", 25.0f);
    rh = 25.0 * (20.0 - 0.5);
    cr_assert_eq(fire("eif", p, 0.98 * rh, 0.1, 30000, NULL, 0), 0);
    cr_assert_gt(fire("eif", p, 1.02 * rh, 0.1, 30000, NULL, 0), 0);
    free(p);
}

/* ---- fhn ------------------------------------------------------------------ */

Test(fhn, repetitive_firing_starts_at_the_hopf_current)
{
    /* a = 0.7, b = 0.8, eps = 0.08: Hopf where 1 - v^2 = eps b, I_m = 0.3312 */
    float *p = defaults("fhn");
    const double gain = 0.004, dt = 0.05;
    const int64_t T = 60000; /* 3 s */
    float t[512];
    int n_lo = fire("fhn", p, 0.31 / gain, dt, T, t, 512);
    int late_lo = 0;
    for (int k = 0; k < n_lo && k < 512; k++) late_lo += t[k] > 1000.0f;
    cr_assert_eq(late_lo, 0, "I_m = 0.31: no repetitive firing (%d late spikes)", late_lo);
    int n_hi = fire("fhn", p, 0.36 / gain, dt, T, t, 512);
    cr_assert_geq(n_hi, 20, "I_m = 0.36 fires repetitively (%d spikes)", n_hi);
    free(p);
}

/* ---- morris_lecar: class I vs class II ------------------------------------ */

/* Lowest sustained firing rate (Hz, over the last 2 s of 3 s) when the
 * current is scanned from lo to hi pA in steps of d; 0 when none fires. */
static double ml_onset_rate(const float *p1, double lo, double hi, double d, double *onset)
{
    const int64_t P = (int64_t)((hi - lo) / d) + 1, T = 60000;
    const double dt = 0.05;
    float *p = malloc(sizeof(float) * 12 * P);
    float *w = malloc(sizeof(float) * P * T);
    for (int64_t i = 0; i < P; i++) {
        memcpy(p + 12 * i, p1, sizeof(float) * 12);
        for (int64_t n = 0; n < T; n++) w[i * T + n] = (float)(lo + d * i);
    }
    float *t = malloc(sizeof(float) * P * 256);
    int32_t *cnt = malloc(sizeof(int32_t) * P);
    sim_io io = {.n_sims = P, .n_steps = T, .dt = dt, .params = p, .wave = w, .n_waves = P, .spk_t = t,
                 .max_spikes = 256, .counts = cnt, .threads = 2};
    sim("morris_lecar", &io);
    double rate = 0;
    *onset = -1;
    for (int64_t i = 0; i < P && rate == 0; i++) {
        int late = 0;
        for (int k = 0; k < cnt[i] && k < 256; k++) late += t[i * 256 + k] > 1000.0f;
        if (late >= 2) {
            rate = late / 2.0;
            *onset = lo + d * i;
        }
    }
    free(p);
    free(w);
    free(t);
    free(cnt);
    return rate;
}

Test(morris_lecar, class_I_fires_arbitrarily_slowly_class_II_jumps_to_a_finite_rate)
{
    float *p = defaults("morris_lecar"); /* class I set */
    double on1, on2;
    double r1 = ml_onset_rate(p, 300, 600, 5, &on1);
    set("morris_lecar", p, "g_Ca", 44.0f); /* class II set */
    set("morris_lecar", p, "V3", 2.0f);
    set("morris_lecar", p, "V4", 30.0f);
    set("morris_lecar", p, "phi", 0.04f);
    double r2 = ml_onset_rate(p, 700, 1000, 5, &on2);
    printf("morris_lecar: class I onset %g pA at %g Hz; class II onset %g pA at %g Hz\n", on1, r1, on2, r2);
    cr_assert(on1 > 0 && on2 > 0, "both sets fire in the scanned range");
    cr_assert_lt(r1, 4.0, "class I: onset rate %g Hz should be near zero", r1);
    cr_assert_gt(r2, 7.0, "class II: onset rate %g Hz should be finite", r2);
    free(p);
}

/* ---- hindmarsh_rose ------------------------------------------------------- */

Test(hindmarsh_rose, bursts_at_moderate_current_and_rests_without)
{
    float *p = defaults("hindmarsh_rose"); /* gain 0.01/pA: 250 pA is I_m = 2.5 */
    float t[512];
    int n = fire("hindmarsh_rose", p, 250.0, 0.05, 60000, t, 512);
    n = n < 512 ? n : 512;
    /* after the 1 s transient: ISIs fall in two groups (within and between
     * bursts) and every long ISI is followed by short ones */
    int k0 = 0;
    while (k0 < n && t[k0] < 1000.0f) k0++;
    cr_assert_geq(n - k0, 10, "fires after the transient");
    double lo = 1e9, hi = 0;
    for (int k = k0 + 1; k < n; k++) {
        double isi = t[k] - t[k - 1];
        lo = isi < lo ? isi : lo;
        hi = isi > hi ? isi : hi;
    }
    int bursts = 0, in_burst = 0, longest_burst = 0, run = 0;
    for (int k = k0 + 1; k < n; k++) {
        double isi = t[k] - t[k - 1];
        if (isi > 2.5 * lo) {
            bursts++;
            run = 0;
        } else {
            in_burst++;
            run++;
            longest_burst = run > longest_burst ? run : longest_burst;
        }
    }
    printf("hindmarsh_rose: ISIs %.1f .. %.1f ms, %d bursts, %d intra-burst ISIs\n", lo, hi, bursts, in_burst);
    cr_assert_gt(hi, 3.0 * lo, "bimodal ISIs: %g vs %g", hi, lo);
    cr_assert_geq(bursts, 5);
    cr_assert_geq(in_burst, bursts, "at least two spikes per burst");
    cr_assert_eq(fire("hindmarsh_rose", p, 0.0, 0.05, 20000, NULL, 0), 0, "rests at 0 pA");
    free(p);
}

/* ---- theta ---------------------------------------------------------------- */

Test(theta, rate_is_sqrt_I_over_pi)
{
    float *p = defaults("theta");
    set("theta", p, "I_0", 0.0f);
    set("theta", p, "tau", 2.0f);
    const double gain = 1e-4, tau = 2.0, dt = 0.05;
    const double currents[3] = {50.0, 200.0, 800.0};
    for (int c = 0; c < 3; c++) {
        float t[512];
        int n = fire("theta", p, currents[c], dt, 100000, t, 512);
        double isi = mean_isi(t, n < 512 ? n : 512, 1);
        double rate = 1000.0 / isi, ref = 1000.0 * sqrt(gain * currents[c]) / (M_PI * tau);
        printf("theta: %g pA: %.4f Hz, sqrt(I)/pi %.4f Hz (%+.2e)\n", currents[c], rate, ref, rate / ref - 1.0);
        cr_assert(fabs(rate / ref - 1.0) < 1e-3, "I %g: rate %g Hz vs sqrt(I)/pi %g Hz", currents[c],
                  rate, ref);
    }
    /* excitable with I_0 < 0: rheobase -I_0 / gain */
    set("theta", p, "I_0", -0.005f);
    cr_assert_eq(fire("theta", p, 0.97 * 50.0, dt, 100000, NULL, 0), 0);
    cr_assert_gt(fire("theta", p, 1.03 * 50.0, dt, 100000, NULL, 0), 0);
    free(p);
}

/* ---- rf ------------------------------------------------------------------- */

Test(rf, subthreshold_resonance_at_sqrt_omega2_minus_b2)
{
    const double b = -0.02, f = 10.0, dt = 0.1;
    const double om = 2 * M_PI * f / 1000.0, f_res = 1000.0 * sqrt(om * om - b * b) / (2 * M_PI);
    const int64_t P = 61, T = 20000; /* 2 s; transients decay as exp(b t) */
    float *p = nft_default_params(nf_model_find("rf"), P);
    float *w = malloc(sizeof(float) * P * T);
    for (int64_t i = 0; i < P; i++) {
        p[i * 6 + 1] = (float)b, p[i * 6 + 2] = (float)f, p[i * 6 + 4] = 500.0f; /* no spikes */
        double fi = 5.0 + 0.25 * i;
        for (int64_t n = 0; n < T; n++) w[i * T + n] = (float)(20.0 * sin(2 * M_PI * fi * n * dt / 1000.0));
    }
    float *v = malloc(sizeof(float) * P * T);
    sim_io io = {.n_sims = P, .n_steps = T, .dt = dt, .params = p, .wave = w, .n_waves = P, .v = v, .threads = 2};
    sim("rf", &io);
    double amp[61];
    int best = 0;
    for (int64_t i = 0; i < P; i++) {
        float lo = 1e9f, hi = -1e9f;
        for (int64_t n = T / 2; n < T; n++) {
            lo = v[i * T + n] < lo ? v[i * T + n] : lo;
            hi = v[i * T + n] > hi ? v[i * T + n] : hi;
        }
        amp[i] = hi - lo;
        if (amp[i] > amp[best]) best = (int)i;
    }
    cr_assert(best > 0 && best < P - 1, "peak inside the scan");
    /* parabola through the three samples around the peak */
    double y0 = amp[best - 1], y1 = amp[best], y2 = amp[best + 1];
    double peak = 5.0 + 0.25 * (best + 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2));
    printf("rf: amplitude peak at %.3f Hz, closed form %.3f Hz (natural %g Hz)\n", peak, f_res, f);
    cr_assert(fabs(peak - f_res) < 0.1, "resonance at %g Hz, expected %g", peak, f_res);
    free(p);
    free(w);
    free(v);
}

/* ---- runaway parameter sets ----------------------------------------------- */

Test(zoo, runaway_parameter_sets_flagged_invalid)
{
    /* fhn: the explicit recovery step diverges when h eps b is far beyond 2
     * (400 here). (hindmarsh_rose's linearly implicit step, the exact or
     * exponential schemes and the reset models stay bounded in the valid
     * ranges: checked below and in the CUDA test's random batches.) */
    struct {
        const char *model, *p1;
        float v1;
        const char *p2;
        float v2;
    } cases[1] = {{"fhn", "tau", 0.01f, "eps", 100.0f}};
    for (int k = 0; k < 1; k++) {
        const nf_model *m = nf_model_find(cases[k].model);
        float *p = nft_default_params(m, 2);
        set(cases[k].model, p + m->n_params, cases[k].p1, cases[k].v1);
        set(cases[k].model, p + m->n_params, cases[k].p2, cases[k].v2);
        float *w = nft_step(2000, 0.05, 250.0, 0.0, 1e9);
        uint8_t valid[2] = {9, 9};
        sim_io io = {.n_sims = 2, .n_steps = 2000, .dt = 0.05, .params = p, .wave = w, .valid = valid};
        sim(cases[k].model, &io);
        cr_assert_eq(valid[0], 1, "%s defaults valid", cases[k].model);
        cr_assert_eq(valid[1], 0, "%s with %s = %g, %s = %g must be flagged invalid", cases[k].model, cases[k].p1,
                     cases[k].v1, cases[k].p2, cases[k].v2);
        free(p);
        free(w);
    }
    /* the (semi-)implicit cubic keeps the strongest drive at the smallest tau
     * of the bounds valid (plain Euler diverged there) */
    const char *names[2] = {"fhn", "hindmarsh_rose"};
    for (int k = 0; k < 2; k++) {
        const nf_model *m = nf_model_find(names[k]);
        float *p = nft_default_params(m, 1);
        set(names[k], p, "tau", (float)m->params[nf_model_param_index(m, "tau")].lo);
        set(names[k], p, "gain", (float)m->params[nf_model_param_index(m, "gain")].hi);
        cr_assert_gt(fire(names[k], p, 3000.0, m->dt_max_ms, 4000, NULL, 0), 0, "%s fires and stays valid", names[k]);
        free(p);
    }
}

/* ---- alpha_lif ------------------------------------------------------------ */

Test(alpha_lif, filter_response_to_a_pulse_is_the_alpha_kernel)
{
    /* a pulse of I0 pA for one step dt: I_f(t) = I0 (K(t) - K(t - dt)) with
     * K(t) = 1 - exp(-t/tau)(1 + t/tau), the integral of t/tau^2 exp(-t/tau) */
    const double dt = 0.1, tau = 2.0, I0 = 1000.0;
    float *p = defaults("alpha_lif");
    set("alpha_lif", p, "tau_s", (float)tau);
    set("alpha_lif", p, "V_th", 500.0f);
    const int64_t lens[4] = {5, 21, 41, 101}; /* t = (len - 1) dt after the pulse onset */
    double peak_seen = 0;
    for (int k = 0; k < 4; k++) {
        int64_t T = lens[k];
        float *w = nft_step(T, dt, I0, 0.0, 0.5 * dt);
        float fin[4];
        sim_io io = {.n_sims = 1, .n_steps = T, .dt = dt, .params = p, .wave = w, .fin = fin};
        sim("alpha_lif", &io);
        double t = (T - 1) * dt;
        double K1 = 1 - exp(-t / tau) * (1 + t / tau), K0 = 1 - exp(-(t - dt) / tau) * (1 + (t - dt) / tau);
        double ref = I0 * (K1 - K0);
        cr_assert(fabs(fin[2] - ref) < 1e-4 * I0, "t %g: I_f %g vs %g pA", t, fin[2], ref);
        peak_seen = fin[2] > peak_seen ? fin[2] : peak_seen;
        free(w);
    }
    /* the kernel peaks at tau with height Q / (e tau), Q = I0 dt */
    cr_assert(fabs(peak_seen - I0 * dt / (M_E * tau)) < 0.01 * I0 * dt / tau, "peak %g", peak_seen);
    /* a constant current passes unchanged (unit area) */
    float *w = nft_step(2000, dt, 123.0, 0.0, 1e9);
    float fin[4];
    sim_io io = {.n_sims = 1, .n_steps = 2000, .dt = dt, .params = p, .wave = w, .fin = fin};
    sim("alpha_lif", &io);
    cr_assert(fabsf(fin[2] - 123.0f) < 1e-3f, "DC %g", fin[2]);
    free(w);
    free(p);
}

/* ---- GLIF 1-3 ------------------------------------------------------------- */

static float *glif_trace(const char *name, const float *p, double I, int64_t T, float *t, int32_t *n, float *fin)
{
    float *w = nft_step(T, 0.05, I, 10.0, 1e9);
    float *v = malloc(sizeof(float) * T);
    sim_io io = {.n_sims = 1, .n_steps = T, .dt = 0.05, .params = p, .wave = w, .v = v, .spk_t = t,
                 .max_spikes = 64, .counts = n, .fin = fin};
    sim(name, &io);
    free(w);
    return v;
}

Test(glif, reset_rules_and_after_spike_currents_reduce_to_glif1)
{
    const int64_t T = 8000;
    float p1[5] = {100, 5, -70, -50, 2};
    float p2[9] = {100, 5, -70, -50, 2, 0, 0.05f, 0, 0};
    float p3[9] = {100, 5, -70, -50, 2, 0, 0.1f, 0, 0.01f};
    float t[64], fin[4];
    int32_t n1, n2, n3;
    float *v1 = glif_trace("glif1", p1, 200, T, t, &n1, fin);
    float *v2 = glif_trace("glif2", p2, 200, T, t, &n2, fin);
    float *v3 = glif_trace("glif3", p3, 200, T, t, &n3, fin);
    cr_assert_gt(n1, 3);
    cr_assert_eq(memcmp(v1, v2, sizeof(float) * T), 0, "GLIF2 with no reset rules is GLIF1");
    cr_assert_eq(memcmp(v1, v3, sizeof(float) * T), 0, "GLIF3 with no after-spike currents is GLIF1");
    free(v1);
    free(v2);
    free(v3);
}

Test(glif, glif2_voltage_and_threshold_reset_rules)
{
    float *p = defaults("glif2"); /* E_L -70, V_th -50, dTh 5, b_s 0.05, f_v 0.4, dV 2 */
    float p1[5] = {p[0], p[1], p[2], p[3], p[4]};
    const int64_t T = 8000;
    float t[64], t1[64], fin[3], fin1[2];
    int32_t n, n1;
    float *v = glif_trace("glif2", p, 300, T, t, &n, fin);
    float *v1 = glif_trace("glif1", p1, 300, T, t1, &n1, fin1);
    cr_assert_geq(n, 3);
    /* the sample at the first spike: E_L + f_v (V- - E_L) - dV, V- the value
     * that crossed V_th = -50 (within one Euler step above it) */
    int64_t k = (int64_t)lround(t[0] / 0.05);
    double lo = -70 + 0.4 * 20 - 2, hi = lo + 0.4 * 0.05 / 100.0 * (300 + 5 * 20);
    cr_assert(v[k] >= lo - 1e-4 && v[k] <= hi + 1e-4, "reset to %g, expected in [%g, %g]", v[k], lo, hi);
    cr_assert(v[k - 1] < -50.0f, "below threshold before the spike");
    /* the raised threshold lengthens the ISIs against GLIF1, though the
     * voltage reset starts nearer threshold */
    cr_assert_eq(t[0], t1[0], "first spike unchanged");
    double isi2 = t[n - 1 < 63 ? n - 1 : 63] - t[0], isi1 = t1[n - 1 < 63 ? n - 1 : 63] - t1[0];
    cr_assert_gt(isi2, isi1, "threshold adaptation: %g vs %g ms for the same spike count", isi2, isi1);
    /* the threshold component decays exactly: th_s at the end equals the sum
     * of dTh exp(-b_s (t_end - t_spike)) over the spikes */
    double th = 0, t_end = (T - 1) * 0.05;
    for (int j = 0; j < n && j < 64; j++) th += 5.0 * exp(-0.05 * (t_end - t[j]));
    cr_assert(fabs(fin[1] - th) < 1e-3 * 5.0 + 1e-5, "th_s %g vs %g", fin[1], th);
    free(v);
    free(v1);
    free(p);
}

Test(glif, glif3_after_spike_currents_decay_exactly_and_adapt)
{
    float *p = defaults("glif3"); /* dI_1 -30 pA, k_1 0.1; dI_2 -10 pA, k_2 0.01 */
    float p1[5] = {p[0], p[1], p[2], p[3], p[4]};
    const int64_t T = 8000;
    float t[64], t1[64], fin[4], fin1[2];
    int32_t n, n1;
    float *v = glif_trace("glif3", p, 300, T, t, &n, fin);
    float *v1 = glif_trace("glif1", p1, 300, T, t1, &n1, fin1);
    cr_assert_geq(n, 3);
    cr_assert_lt(n, n1, "hyperpolarising after-spike currents slow firing: %d vs %d spikes", n, n1);
    double a1 = 0, a2 = 0, t_end = (T - 1) * 0.05;
    for (int j = 0; j < n && j < 64; j++) {
        a1 += -30.0 * exp(-0.1 * (t_end - t[j]));
        a2 += -10.0 * exp(-0.01 * (t_end - t[j]));
    }
    cr_assert(fabs(fin[1] - a1) < 1e-3 * 30, "I_1 %g vs %g pA", fin[1], a1);
    cr_assert(fabs(fin[2] - a2) < 1e-3 * 10 * n, "I_2 %g vs %g pA", fin[2], a2);
    /* adaptation: the ISIs lengthen as the slow current builds up */
    cr_assert_gt(t[n - 1] - t[n - 2], t[1] - t[0]);
    free(v);
    free(v1);
    free(p);
}
