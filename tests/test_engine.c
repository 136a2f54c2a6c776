/* The batch simulation engine on the CPU backend: model behaviour, invariance
 * to threads and batch splits, outputs, fused scoring and bad input; the
 * thread pool's parallel_for under it. */
#include "engine/pool.h"
#include "internal.h"
#include "neurofit/engine.h"
#include "nf_test_util.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static nf_engine *cpu_engine(int threads)
{
    nf_engine *e;
    cr_assert_eq(nf_engine_create(NF_BACKEND_CPU, threads, &e), NF_OK, "%s", nf_errmsg());
    return e;
}

/* Simulate one neuron of model name with a constant current; returns the
 * spike count and fills up to max spike times. */
static int run_constant(const char *name, const float *params, double i_pA, double dt, int64_t n_steps,
                        float *spike_t, int max_spikes, float *voltage)
{
    const nf_model *m = nf_model_find(name);
    cr_assert_not_null(m, "%s", nf_errmsg());
    float *wave = nft_step(n_steps, dt, i_pA, 0.0, 1e12);
    int32_t count = -1;
    uint8_t valid = 0;
    nf_batch b = {0};
    b.model = m;
    b.n_sims = 1;
    b.n_steps = n_steps;
    b.dt_ms = dt;
    b.params = params;
    b.stim.waves = wave;
    b.stim.n_waves = 1;
    b.spike_times = spike_t;
    b.max_spikes = max_spikes;
    b.spike_counts = &count;
    b.valid = &valid;
    b.voltage = voltage;
    b.record_every = 1;
    nf_engine *e = cpu_engine(1);
    cr_assert_eq(nf_engine_run(e, &b), NF_OK, "%s", nf_errmsg());
    cr_assert_eq(valid, 1, "%s with %g pA flagged invalid", name, i_pA);
    nf_engine_destroy(e);
    free(wave);
    return count;
}

Test(registry, every_model_is_documented_with_sane_bounds)
{
    cr_assert_geq(nf_model_count(), 4);
    for (int i = 0; i < nf_model_count(); i++) {
        const nf_model *m = nf_model_at(i);
        cr_assert_eq(nf_model_find(m->name), m);
        cr_assert(m->description[0] && m->equations[0] && m->scheme[0] && m->reference[0]);
        cr_assert_gt(m->dt_max_ms, 0);
        cr_assert_eq(strcmp(m->state[0].name, "v"), 0, "%s: state 0 must be the voltage", m->name);
        for (int j = 0; j < m->n_params; j++) {
            const nf_param_info *p = &m->params[j];
            cr_assert(p->lo < p->hi, "%s.%s bounds", m->name, p->name);
            cr_assert(p->lo <= p->def && p->def <= p->hi, "%s.%s default outside bounds", m->name, p->name);
            cr_assert(p->valid_lo <= p->lo && p->hi <= p->valid_hi, "%s.%s fit bounds outside valid", m->name,
                      p->name);
            cr_assert(p->unit && p->description[0]);
        }
    }
    cr_assert_null(nf_model_find("lif7"));
    cr_assert(strstr(nf_errmsg(), "lif7") && strstr(nf_errmsg(), "adex"), "message lists models: %s",
              nf_errmsg());
}

Test(model_lif6, isi_matches_closed_form)
{
    /* tau ln((R I + E_L - V_res) / (R I + E_L - V_th)) + t_ref, for several currents */
    const float p[6] = {150.0f, 10.0f, -70.0f, -55.0f, -75.0f, 3.0f};
    const double dt = 0.01;
    const double currents[] = {200.0, 300.0, 600.0};
    for (size_t c = 0; c < 3; c++) {
        double I = currents[c];
        float t[64];
        int n = run_constant("lif6", p, I, dt, 100000, t, 64, NULL);
        cr_assert_geq(n, 5, "%g pA should fire", I);
        double tau = 150.0 / 10.0, RI = I / 10.0;
        double isi_ref = 3.0 + tau * log((RI - 70.0 + 75.0) / (RI - 70.0 + 55.0));
        double isi = (t[n < 64 ? n - 1 : 63] - t[1]) / ((n < 64 ? n - 1 : 63) - 1);
        /* Euler: the refractory hold ends up to one step early and each
         * threshold crossing lands on the grid: |error| <= 2 dt + O(dt) drift */
        cr_assert(fabs(isi - isi_ref) < 3 * dt + 0.01 * isi_ref * dt, "I=%g: ISI %g vs closed form %g", I,
                  isi, isi_ref);
    }
}

Test(model_lif6, rheobase_bracket_and_reset_to_v_res)
{
    const float p[6] = {150.0f, 10.0f, -70.0f, -55.0f, -75.0f, 3.0f};
    double rheo = 10.0 * (-55.0 + 70.0); /* g_L (V_th - E_L) = 150 pA */
    float t[8];
    cr_assert_eq(run_constant("lif6", p, 0.97 * rheo, 0.1, 20000, t, 8, NULL), 0);
    static float v[20000];
    int n = run_constant("lif6", p, 1.05 * rheo, 0.1, 20000, t, 8, v);
    cr_assert_gt(n, 0);
    int64_t k = (int64_t)lround(t[0] / 0.1);
    cr_assert_float_eq(v[k], -75.0f, 1e-6, "sample at the spike is V_res");
    cr_assert_float_eq(v[0], -70.0f, 1e-6, "V[0] = E_L");
}

Test(model_izhikevich, rs_cell_rheobase_and_adaptation)
{
    const nf_model *m = nf_model_find("izhikevich");
    float p[9];
    nf_model_defaults(m, p);
    /* saddle-node rheobase (k (v_t - v_r) + b)^2 / (4 k) = 51.4 pA */
    float t[64];
    cr_assert_eq(run_constant("izhikevich", p, 48.0, 0.05, 40000, t, 64, NULL), 0);
    cr_assert_gt(run_constant("izhikevich", p, 60.0, 0.05, 40000, t, 64, NULL), 0, "fires above rheobase");
    int n = run_constant("izhikevich", p, 400.0, 0.05, 20000, t, 64, NULL);
    cr_assert_geq(n, 20, "RS cell fires tonically at 400 pA");
    n = n < 64 ? n : 64;
    double first = t[1] - t[0], last = t[n - 1] - t[n - 2];
    cr_assert_gt(last, 1.25 * first, "regular spiking adapts: first ISI %g, last %g", first, last);
}

Test(model_adex, silent_at_rest_and_adapting_under_step)
{
    const nf_model *m = nf_model_find("adex");
    float p[10];
    nf_model_defaults(m, p);
    float t[64];
    cr_assert_eq(run_constant("adex", p, 0.0, 0.05, 20000, t, 64, NULL), 0);
    int n = run_constant("adex", p, 1000.0, 0.05, 20000, t, 64, NULL);
    cr_assert_geq(n, 5, "1 nA drives the regular-spiking AdEx");
    n = n < 64 ? n : 64;
    double first = t[1] - t[0], last = t[n - 1] - t[n - 2];
    cr_assert_gt(last, first, "spike-triggered adaptation lengthens ISIs: %g -> %g", first, last);
}

Test(model_hh, silent_at_rest_spike_shape_sane)
{
    const nf_model *m = nf_model_find("hh");
    float p[10];
    nf_model_defaults(m, p);
    const double dt = 0.01;
    const int64_t T = 30000; /* 300 ms */
    static float v[30000];
    float t[64];
    cr_assert_eq(run_constant("hh", p, 0.0, dt, T, t, 64, v), 0);
    cr_assert(fabsf(v[T - 1] - p[7]) < 2.0f, "rests near E_L: %g", v[T - 1]);
    int n = run_constant("hh", p, 400.0, dt, T, t, 64, v);
    cr_assert_geq(n, 3, "400 pA makes the RS cell fire (%d spikes)", n);
    /* peak and width at half amplitude of the second spike */
    int64_t k = (int64_t)lround(t[1] / dt);
    int64_t pk = k;
    for (int64_t j = k; j < k + 200; j++)
        if (v[j] > v[pk]) pk = j;
    float base = v[k - 300 > 0 ? k - 300 : 0];
    for (int64_t j = k - 300; j < k; j++)
        if (v[j] < base) base = v[j];
    float half = 0.5f * (v[pk] + base);
    int64_t a = pk, b2 = pk;
    while (a > 0 && v[a] > half) a--;
    while (b2 < T - 1 && v[b2] > half) b2++;
    double width = (b2 - a) * dt;
    cr_assert(v[pk] > 20.0f && v[pk] < 60.0f, "peak %g mV", v[pk]);
    cr_assert(width > 0.2 && width < 3.0, "half width %g ms", width);
}

/* Runs model with random params and OU noise; returns the voltage traces. */
static float *noisy_batch(const nf_model *m, int64_t n_sims, int threads, int64_t split, int32_t *counts,
                          double *sse)
{
    const int64_t T = 1500;
    float *params = nft_random_params(m, n_sims, 42);
    float *wave = nft_step(T, 0.05, 150.0, 10.0, 60.0);
    float *target = nft_step(T / 5, 0.25, -60.0, 0.0, 1e9);
    float *v = calloc((size_t)(n_sims * T), sizeof(float));
    nf_engine *e = cpu_engine(threads);
    for (int64_t s0 = 0; s0 < n_sims; s0 += split) {
        int64_t n = n_sims - s0 < split ? n_sims - s0 : split;
        nf_batch b = {0};
        b.model = m;
        b.n_sims = n;
        b.n_steps = T;
        b.dt_ms = 0.05;
        b.sim_offset = s0;
        b.params = params + s0 * m->n_params;
        b.stim.waves = wave;
        b.stim.n_waves = 1;
        b.stim.noise_mean_pA = 20.0f;
        b.stim.noise_sd_pA = 80.0f;
        b.stim.noise_tau_ms = 3.0f;
        b.stim.seed = 7;
        b.voltage = v + s0 * T;
        b.record_every = 1;
        b.spike_counts = counts + s0;
        b.target = target;
        b.n_targets = 1;
        b.n_obs = T / 5;
        b.obs_every = 5;
        b.sse = sse + s0;
        cr_assert_eq(nf_engine_run(e, &b), NF_OK, "%s", nf_errmsg());
    }
    nf_engine_destroy(e);
    free(params);
    free(wave);
    free(target);
    return v;
}

Test(engine, identical_for_any_thread_count_and_batch_split)
{
    for (int mi = 0; mi < nf_model_count(); mi++) {
        const nf_model *m = nf_model_at(mi);
        /* 77: not a multiple of the lane count; 1 thread runs 64-lane blocks,
         * 2 and 8 threads and the split batch run 16-lane blocks */
        const int64_t n = 77;
        int32_t c1[77], c2[77], c8[77], cs[77];
        double s1[77], s2[77], s8[77], ss[77];
        float *v1 = noisy_batch(m, n, 1, n, c1, s1);
        float *v2 = noisy_batch(m, n, 2, n, c2, s2);
        float *v8 = noisy_batch(m, n, 8, n, c8, s8);
        float *vs = noisy_batch(m, n, 2, 13, cs, ss);
        size_t bytes = sizeof(float) * (size_t)n * 1500;
        cr_assert_eq(memcmp(v1, v2, bytes), 0, "%s: 1 vs 2 threads", m->name);
        cr_assert_eq(memcmp(v1, v8, bytes), 0, "%s: 1 vs 8 threads", m->name);
        cr_assert_eq(memcmp(v1, vs, bytes), 0, "%s: whole vs split batch", m->name);
        cr_assert_eq(memcmp(c1, cs, sizeof c1), 0);
        cr_assert_eq(memcmp(s1, s8, sizeof s1), 0);
        int spiking = 0;
        for (int i = 0; i < n; i++) spiking += c1[i] > 0;
        cr_assert_gt(spiking, 0, "%s: the test batch must exercise spikes", m->name);
        free(v1);
        free(v2);
        free(v8);
        free(vs);
    }
}

Test(engine, fused_sse_matches_recorded_trace)
{
    const nf_model *m = nf_model_find("adex");
    int32_t c[40];
    double sse[40];
    float *v = noisy_batch(m, 40, 2, 40, c, sse);
    for (int i = 0; i < 40; i++) {
        double ref = 0;
        for (int j = 0; j < 1500 / 5; j++) {
            double d = (double)v[i * 1500 + j * 5] - (j * 0.25 < 1e9 ? -60.0 : 0.0);
            ref += d * d;
        }
        cr_assert(fabs(sse[i] - ref) <= 1e-4 * ref + 1e-6, "sim %d: fused %g vs %g", i, sse[i], ref);
    }
    free(v);
}

Test(engine, spike_outputs_consistent_and_counts_beyond_capacity)
{
    const nf_model *m = nf_model_find("lif6");
    const float p[6] = {100.0f, 5.0f, -70.0f, -60.0f, -75.0f, 1.0f};
    float t[3];
    int n = run_constant("lif6", p, 400.0, 0.1, 10000, t, 3, NULL);
    cr_assert_gt(n, 3, "count keeps going past max_spikes");
    cr_assert(t[0] < t[1] && t[1] < t[2]);
    (void)m;
}

Test(engine, runaway_parameters_flagged_invalid_not_crash)
{
    const nf_model *m = nf_model_find("izhikevich");
    float p[2][9];
    nf_model_defaults(m, p[0]);
    nf_model_defaults(m, p[1]);
    p[1][4] = 50.0f; /* a dt = 5: forward Euler on u is unstable and u runs away */
    float *w = nft_step(4000, 0.1, 100.0, 0.0, 1e9);
    uint8_t valid[2] = {9, 9};
    int32_t counts[2];
    nf_batch b = {0};
    b.model = m;
    b.n_sims = 2;
    b.n_steps = 4000;
    b.dt_ms = 0.1;
    b.params = &p[0][0];
    b.stim.waves = w;
    b.stim.n_waves = 1;
    b.valid = valid;
    b.spike_counts = counts;
    nf_engine *e = cpu_engine(2);
    cr_assert_eq(nf_engine_run(e, &b), NF_OK, "%s", nf_errmsg());
    cr_assert_eq(valid[0], 1);
    cr_assert_eq(valid[1], 0, "runaway simulation must be flagged invalid");
    nf_engine_destroy(e);
    free(w);
}

Test(engine, final_state_and_initial_state_round_trip)
{
    /* running T1 then T2 from the final state equals running T1 + T2 - 1 */
    const nf_model *m = nf_model_find("hh");
    float *p = nft_random_params(m, 5, 3);
    const int64_t T1 = 700, T2 = 900;
    float *w = nft_step(T1 + T2, 0.02, 300.0, 0.0, 1e9);
    float fin[5][5], v_a[5 * (T1 + T2 - 1)], v_b[5 * T2];
    nf_engine *e = cpu_engine(2);
    nf_batch b = {0};
    b.model = m;
    b.n_sims = 5;
    b.dt_ms = 0.02;
    b.params = p;
    b.stim.waves = w;
    b.stim.n_waves = 1;
    b.n_steps = T1 + T2 - 1;
    b.voltage = v_a;
    b.record_every = 1;
    cr_assert_eq(nf_engine_run(e, &b), NF_OK, "%s", nf_errmsg());
    b.n_steps = T1;
    b.voltage = NULL;
    b.final_state = &fin[0][0];
    cr_assert_eq(nf_engine_run(e, &b), NF_OK, "%s", nf_errmsg());
    nf_batch c = b;
    c.n_steps = T2;
    c.final_state = NULL;
    c.init_state = &fin[0][0];
    c.stim.waves = w + T1 - 1;
    c.voltage = v_b;
    cr_assert_eq(nf_engine_run(e, &c), NF_OK, "%s", nf_errmsg());
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < T2; j++)
            cr_assert_eq(v_a[i * (T1 + T2 - 1) + T1 - 1 + j], v_b[i * T2 + j], "sim %d sample %d", i, j);
    nf_engine_destroy(e);
    free(p);
    free(w);
}

Test(engine, record_every_k_keeps_every_kth_sample)
{
    const nf_model *m = nf_model_find("adex");
    float *p = nft_default_params(m, 3);
    float *w = nft_step(1001, 0.1, 800.0, 5.0, 80.0);
    float full[3 * 1001], dec[3 * 101];
    nf_engine *e = cpu_engine(1);
    nf_batch b = {0};
    b.model = m;
    b.n_sims = 3;
    b.n_steps = 1001;
    b.dt_ms = 0.1;
    b.params = p;
    b.stim.waves = w;
    b.stim.n_waves = 1;
    b.voltage = full;
    b.record_every = 1;
    cr_assert_eq(nf_engine_run(e, &b), NF_OK);
    b.voltage = dec;
    b.record_every = 10;
    cr_assert_eq(nf_batch_n_rec(&b), 101);
    cr_assert_eq(nf_engine_run(e, &b), NF_OK);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 101; j++) cr_assert_eq(dec[i * 101 + j], full[i * 1001 + j * 10]);
    nf_engine_destroy(e);
    free(p);
    free(w);
}

Test(engine, per_simulation_waveforms_and_index)
{
    /* row i drives sim i; an index maps sims onto shared rows */
    const nf_model *m = nf_model_find("lif6");
    float *p = nft_default_params(m, 4);
    float w[2 * 500];
    for (int n = 0; n < 500; n++) {
        w[n] = 0.0f;
        w[500 + n] = 400.0f;
    }
    int32_t idx[4] = {1, 0, 1, 0}, counts[4];
    nf_engine *e = cpu_engine(2);
    nf_batch b = {0};
    b.model = m;
    b.n_sims = 4;
    b.n_steps = 500;
    b.dt_ms = 0.1;
    b.params = p;
    b.stim.waves = w;
    b.stim.n_waves = 2;
    b.stim.wave_index = idx;
    b.spike_counts = counts;
    cr_assert_eq(nf_engine_run(e, &b), NF_OK, "%s", nf_errmsg());
    cr_assert(counts[0] > 0 && counts[2] > 0 && counts[1] == 0 && counts[3] == 0);
    b.stim.wave_index = NULL; /* 2 rows for 4 sims and no index: error */
    cr_assert_eq(nf_engine_run(e, &b), NF_EINVAL);
    cr_assert(strstr(nf_errmsg(), "stimulus"), "%s", nf_errmsg());
    nf_engine_destroy(e);
    free(p);
}

Test(engine, bad_input_is_rejected_with_a_named_message)
{
    const nf_model *m = nf_model_find("lif6");
    float *p = nft_default_params(m, 3);
    nf_engine *e = cpu_engine(1);
    nf_batch good = {0};
    good.model = m;
    good.n_sims = 3;
    good.n_steps = 100;
    good.dt_ms = 0.1;
    good.params = p;
    cr_assert_eq(nf_engine_run(e, &good), NF_OK);

    nf_batch b = good;
    b.dt_ms = 0.0;
    cr_assert_eq(nf_engine_run(e, &b), NF_EINVAL);
    cr_assert(strstr(nf_errmsg(), "dt"), "%s", nf_errmsg());
    b = good;
    b.dt_ms = -1.0;
    cr_assert_eq(nf_engine_run(e, &b), NF_EINVAL);
    b = good;
    b.dt_ms = NAN;
    cr_assert_eq(nf_engine_run(e, &b), NF_EINVAL);
    b = good;
    b.n_steps = 0;
    cr_assert_eq(nf_engine_run(e, &b), NF_EINVAL);
    cr_assert(strstr(nf_errmsg(), "n_steps"), "%s", nf_errmsg());
    b = good;
    b.model = NULL;
    cr_assert_eq(nf_engine_run(e, &b), NF_ENOMODEL);

    p[1 * 6 + 1] = NAN;
    cr_assert_eq(nf_engine_run(e, &good), NF_ENAN);
    cr_assert(strstr(nf_errmsg(), "params[1][1]") && strstr(nf_errmsg(), "g_L"), "%s", nf_errmsg());
    p[1 * 6 + 1] = 10.0f;
    p[2 * 6 + 0] = -5.0f; /* negative capacitance */
    cr_assert_eq(nf_engine_run(e, &good), NF_ERANGE);
    cr_assert(strstr(nf_errmsg(), "C_m"), "%s", nf_errmsg());
    p[2 * 6 + 0] = 150.0f;

    float w[100] = {0};
    w[50] = INFINITY;
    b = good;
    b.stim.waves = w;
    b.stim.n_waves = 1;
    cr_assert_eq(nf_engine_run(e, &b), NF_ENAN);
    cr_assert(strstr(nf_errmsg(), "sample 50"), "%s", nf_errmsg());

    float tgt[200] = {0};
    double sse[3];
    b = good;
    b.target = tgt;
    b.n_targets = 1;
    b.n_obs = 200; /* longer than the simulation */
    b.obs_every = 1;
    b.sse = sse;
    cr_assert_eq(nf_engine_run(e, &b), NF_EINVAL);

    float v[300];
    b = good;
    b.voltage = v;
    b.record_every = 0;
    cr_assert_eq(nf_engine_run(e, &b), NF_EINVAL);
    cr_assert(strstr(nf_errmsg(), "record_every"), "%s", nf_errmsg());
    nf_engine_destroy(e);
    free(p);
}

Test(engine, cuda_backend_unavailable_is_a_clear_error)
{
    if (nf_cuda_available()) cr_skip_test("a CUDA device is present; covered by test_engine_cuda");
    nf_engine *e = NULL;
    nf_status s = nf_engine_create(NF_BACKEND_CUDA, 0, &e);
    cr_assert(s == NF_ENODEV || s == NF_EUNSUPPORTED);
    cr_assert_null(e);
    cr_assert(strstr(nf_errmsg(), "cuda"), "%s", nf_errmsg());
    cr_assert_eq(nf_engine_create(NF_BACKEND_AUTO, 1, &e), NF_OK);
    cr_assert_eq(nf_engine_backend(e), NF_BACKEND_CPU);
    nf_engine_destroy(e);
}

/* Device lists: "0,1,..." parsed strictly (each bad item named, repeats
 * refused), "all" is every device and a clear error where there is none;
 * the CPU backend refuses a device list and reports none. */
Test(engine, device_lists_are_parsed_strictly_and_need_the_cuda_backend)
{
    int ids[NF_MAX_DEVICES], n = -1;
    cr_assert_eq(nf_devices_parse("0", ids, NF_MAX_DEVICES, &n), NF_OK, "%s", nf_errmsg());
    cr_assert(n == 1 && ids[0] == 0);
    cr_assert_eq(nf_devices_parse("3,0,12", ids, NF_MAX_DEVICES, &n), NF_OK, "%s", nf_errmsg());
    cr_assert(n == 3 && ids[0] == 3 && ids[1] == 0 && ids[2] == 12, "%d: %d %d %d", n, ids[0], ids[1], ids[2]);
    static const struct {
        const char *spec, *msg;
    } bad[] = {{"", "empty list"},
               {"0,x", "item 'x' is not a device number"},
               {"1,", "item '' is not a device number"},
               {",1", "item '' is not a device number"},
               {"-1", "item '-1' is not a device number"},
               {"0 ,1", "item '0 ' is not a device number"},
               {"1.5", "item '1.5' is not a device number"},
               {"99999999999", "item '99999999999' is not a device number"},
               {"2,0,2", "device 2 is listed twice"},
               {"0,1,2", "more than 2 devices"}};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        n = -1;
        cr_expect_eq(nf_devices_parse(bad[k].spec, ids, k + 1 == sizeof bad / sizeof *bad ? 2 : NF_MAX_DEVICES, &n),
                     NF_EINVAL, "'%s' was accepted", bad[k].spec);
        cr_expect(strstr(nf_errmsg(), bad[k].msg), "'%s': %s", bad[k].spec, nf_errmsg());
        cr_expect_eq(n, 0);
    }
    const int count = nf_cuda_device_count();
    if (count == 0) {
        cr_assert_eq(nf_devices_parse("all", ids, NF_MAX_DEVICES, &n), NF_ENODEV);
        cr_assert(strstr(nf_errmsg(), "devices all: this machine has no CUDA device"), "%s", nf_errmsg());
    } else {
        cr_assert_eq(nf_devices_parse("all", ids, NF_MAX_DEVICES, &n), NF_OK, "%s", nf_errmsg());
        cr_assert_eq(n, count < NF_MAX_DEVICES ? count : NF_MAX_DEVICES);
        for (int k = 0; k < n; k++) cr_assert_eq(ids[k], k);
    }
    nf_engine *e;
    cr_assert_eq(nf_engine_create(NF_BACKEND_CPU, 1, &e), NF_OK);
    cr_assert_eq(nf_engine_devices(e, ids, NF_MAX_DEVICES), 0);
    const int zero = 0;
    cr_assert_eq(nf_engine_set_devices(e, &zero, 1), NF_EINVAL);
    cr_assert(strstr(nf_errmsg(), "cpu backend runs on CPU threads"), "%s", nf_errmsg());
    cr_assert_eq(nf_engine_use_devices(e, "0"), NF_EINVAL);
    cr_assert_eq(nf_engine_use_devices(e, NULL), NF_OK); /* no list: nothing to do */
    nf_engine_destroy(e);
    if (count > 0) {
        cr_assert_eq(nf_engine_create(NF_BACKEND_CUDA, 0, &e), NF_OK, "%s", nf_errmsg());
        cr_assert(nf_engine_devices(e, ids, NF_MAX_DEVICES) == 1 && ids[0] == 0);
        const int missing = count;
        cr_assert_eq(nf_engine_set_devices(e, &missing, 1), NF_ERANGE);
        cr_assert(strstr(nf_errmsg(), "this machine has"), "%s", nf_errmsg());
        const int twice[2] = {0, 0};
        cr_assert_eq(nf_engine_set_devices(e, twice, 2), NF_EINVAL);
        cr_assert_eq(nf_engine_use_devices(e, "all"), NF_OK, "%s", nf_errmsg());
        cr_assert_eq(nf_engine_devices(e, ids, NF_MAX_DEVICES), count < NF_MAX_DEVICES ? count : NF_MAX_DEVICES);
        nf_engine_destroy(e);
    }
}

Test(engine, ou_noise_drives_passive_membrane_to_theoretical_variance)
{
    /* A passive LIF (threshold out of reach) filtering OU current of SD s and
     * correlation time tau_x has stationary Var(V) = (s / g_L)^2 tau_x / (tau_x + tau_m)
     * and mean E_L + mean / g_L: checks the noise scale, its correlation time
     * and its mean in one go. */
    const nf_model *m = nf_model_find("lif6");
    const int64_t P = 4000, T = 4001;
    float *p = nft_default_params(m, P);
    for (int64_t i = 0; i < P; i++) {
        p[i * 6 + 0] = 100.0f; /* C_m: tau_m = 10 ms */
        p[i * 6 + 1] = 10.0f;
        p[i * 6 + 2] = -70.0f;
        p[i * 6 + 3] = 500.0f;
    }
    float *fin = malloc(sizeof(float) * P * 2);
    nf_engine *e = cpu_engine(2);
    nf_batch b = {0};
    b.model = m;
    b.n_sims = P;
    b.n_steps = T;
    b.dt_ms = 0.05;
    b.params = p;
    b.stim.noise_mean_pA = 50.0f;
    b.stim.noise_sd_pA = 100.0f;
    b.stim.noise_tau_ms = 5.0f;
    b.stim.seed = 11;
    b.final_state = fin;
    cr_assert_eq(nf_engine_run(e, &b), NF_OK, "%s", nf_errmsg());
    double s1 = 0, s2 = 0;
    for (int64_t i = 0; i < P; i++) {
        s1 += fin[i * 2];
        s2 += (double)fin[i * 2] * fin[i * 2];
    }
    double mean = s1 / P, var = s2 / P - mean * mean;
    double var_ref = (100.0 / 10.0) * (100.0 / 10.0) * 5.0 / (5.0 + 10.0);
    cr_assert(fabs(mean - (-70.0 + 5.0)) < 0.5, "mean %g mV", mean);
    cr_assert(fabs(var / var_ref - 1.0) < 0.1, "Var(V) %g vs %g mV^2", var, var_ref);
    nf_engine_destroy(e);
    free(p);
    free(fin);
}

/* ---- the thread pool (src/engine/pool.h) ------------------------------------ */

typedef struct {
    int *hits;   /* [n] times each item ran */
    int fail_at; /* the item whose chunk fails (-1: none) */
} pool_ctx;

static nf_status count_items(void *ctx, int64_t b, int64_t e)
{
    pool_ctx *c = ctx;
    for (int64_t k = b; k < e; k++) __atomic_fetch_add(&c->hits[k], 1, __ATOMIC_RELAXED);
    if (c->fail_at >= b && c->fail_at < e)
        return nf__fail(NF_EINVAL, "item %d failed (chunk %lld..%lld)", c->fail_at, (long long)b, (long long)e);
    if (c->fail_at >= 0 && b > c->fail_at) /* later chunks fail too: the first one is reported */
        return nf__fail(NF_ERANGE, "a later chunk at %lld", (long long)b);
    return NF_OK;
}

Test(pool, parallel_for_runs_every_item_once_for_any_threads_and_grain)
{
    enum { N = 1001 };
    static int hits[N];
    const int threads[] = {1, 2, 3, 8};
    const int64_t grains[] = {1, 2, 7, 64, 5000};
    for (size_t t = 0; t < sizeof threads / sizeof threads[0]; t++) {
        nf__pool *p = NULL;
        cr_assert_eq(nf__pool_create(threads[t], &p), NF_OK, "%s", nf_errmsg());
        cr_assert_eq(nf__pool_threads(p), threads[t]);
        for (size_t g = 0; g < sizeof grains / sizeof grains[0]; g++)
            for (int rep = 0; rep < 3; rep++) { /* the pool is reused across calls */
                memset(hits, 0, sizeof hits);
                pool_ctx c = {hits, -1};
                cr_assert_eq(nf__parallel_for(p, N, grains[g], count_items, &c), NF_OK);
                for (int k = 0; k < N; k++)
                    cr_assert_eq(hits[k], 1, "threads %d grain %lld: item %d ran %d times", threads[t],
                                 (long long)grains[g], k, hits[k]);
            }
        cr_assert_eq(nf__parallel_for(p, 0, 4, count_items, NULL), NF_OK, "no items: nothing runs");
        nf__pool_destroy(p);
    }
    nf__pool_destroy(NULL);
}

Test(pool, parallel_for_reports_the_first_failed_chunk_with_its_message)
{
    enum { N = 500 };
    static int hits[N];
    for (int threads = 1; threads <= 4; threads++) {
        nf__pool *p = NULL;
        cr_assert_eq(nf__pool_create(threads, &p), NF_OK, "%s", nf_errmsg());
        memset(hits, 0, sizeof hits);
        pool_ctx c = {hits, 123};
        nf_errclear();
        nf_status s = nf__parallel_for(p, N, 10, count_items, &c);
        cr_assert_eq(s, NF_EINVAL, "threads %d: status %s", threads, nf_status_str(s));
        cr_assert_str_eq(nf_errmsg(), "item 123 failed (chunk 120..130)", "threads %d", threads);
        for (int k = 0; k < N; k++) cr_assert_eq(hits[k], 1, "every chunk runs, also after a failure");
        nf__pool_destroy(p);
    }
}

/* Batches in flight: each gets nf_engine_run's results whatever the order of
 * waits; the in-flight count is the simulations not yet waited for; a ticket
 * is waited for once; a batch that fails validation makes no ticket. */
Test(engine, submitted_batches_match_run_and_tickets_are_single_use)
{
    const nf_model *m = nf_model_find("adex");
    cr_assert_not_null(m);
    enum { N = 37, T = 4000, J = 3 };
    const double dt = 0.05;
    float *wave = nft_step(T, dt, 500.0, 20.0, 150.0);
    float *par = malloc(sizeof(float) * N * (size_t)m->n_params);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < m->n_params; j++)
            par[i * m->n_params + j] = (float)fmax(fmin(m->params[j].def * (1.0 + 0.01 * ((i * 7 + j) % 11)), m->params[j].valid_hi),
                                                  m->params[j].valid_lo);
    float v_ref[N * 200], v_job[J][N * 200];
    int32_t n_ref[N], n_job[J][N];
    nf_engine *e = cpu_engine(2);
    nf_batch b = {0};
    b.model = m;
    b.n_sims = N;
    b.n_steps = T;
    b.dt_ms = dt;
    b.params = par;
    b.stim.waves = wave;
    b.stim.n_waves = 1;
    b.record_every = 20;
    b.voltage = v_ref;
    b.spike_counts = n_ref;
    cr_assert_eq(nf_engine_run(e, &b), NF_OK, "%s", nf_errmsg());
    cr_assert_eq(nf_engine_in_flight(e), 0);
    nf_engine_ticket t[J];
    for (int k = 0; k < J; k++) {
        nf_batch c = b; /* the struct may go after submit */
        c.voltage = v_job[k];
        c.spike_counts = n_job[k];
        c.n_sims = N - k;
        cr_assert_eq(nf_engine_submit(e, &c, &t[k]), NF_OK, "%s", nf_errmsg());
        cr_assert_gt(t[k], 0);
    }
    cr_assert_eq(nf_engine_in_flight(e), 3 * N - 3);
    for (int k = J - 1; k >= 0; k--) {
        cr_assert_eq(nf_engine_wait(e, t[k]), NF_OK, "%s", nf_errmsg());
        cr_assert_eq(memcmp(v_job[k], v_ref, sizeof(float) * (size_t)(N - k) * 200), 0, "batch %d's voltage", k);
        cr_assert_eq(memcmp(n_job[k], n_ref, sizeof(int32_t) * (size_t)(N - k)), 0, "batch %d's spike counts", k);
    }
    cr_assert_eq(nf_engine_in_flight(e), 0);
    cr_assert_eq(nf_engine_wait(e, t[0]), NF_EINVAL);
    cr_assert(strstr(nf_errmsg(), "not in flight"), "%s", nf_errmsg());
    nf_batch bad = b;
    bad.n_steps = 0;
    nf_engine_ticket tb = 99;
    cr_assert_eq(nf_engine_submit(e, &bad, &tb), NF_EINVAL);
    cr_assert_eq(tb, 0);
    cr_assert_eq(nf_engine_in_flight(e), 0);
    /* one left in flight: destroy waits for it (ASan: nothing leaks) */
    cr_assert_eq(nf_engine_submit(e, &b, &tb), NF_OK, "%s", nf_errmsg());
    cr_assert_eq(nf_engine_in_flight(e), N);
    nf_engine_destroy(e);
    free(par);
    free(wave);
}
