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
    b.stim.n_waves = io->wave ? 1 : 0;
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
