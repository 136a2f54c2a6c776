/* Engine throughput measurement (src/cli/bench_run.h). */
#include "cli/bench_run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double nf_cli_h100_ceiling(const nf_model *m)
{
    return m->instr_per_step > 0 ? NF_CLI_H100_ISSUE_PER_S / m->instr_per_step : 0;
}

double nf_cli_bench_dt(const nf_model *m) { return m->dt_max_ms < 0.1 ? m->dt_max_ms : 0.1; }

void nf_cli_bench_inputs(const nf_model *m, int64_t P, int64_t T, float *par, float *wave)
{
    /* parameters within +-5 % of the fitting range around the defaults */
    uint64_t st = 12345;
    for (int64_t i = 0; i < P; i++)
        for (int j = 0; j < m->n_params; j++) {
            st = st * 6364136223846793005ull + 1442695040888963407ull;
            double u = (double)(st >> 11) / 9007199254740992.0;
            const nf_param_info *pi = &m->params[j];
            double v = pi->def + 0.1 * (u - 0.5) * (pi->hi - pi->lo);
            v = v < pi->lo ? pi->lo : v > pi->hi ? pi->hi : v;
            par[i * m->n_params + j] = (float)v;
        }
    const double dt = nf_cli_bench_dt(m), amp = m->drive_pA; /* makes the default cell fire */
    for (int64_t n = 0; n < T; n++) wave[n] = (n * dt > 10.0) ? (float)amp : 0.0f;
}

nf_status nf_cli_bench_engine(nf_engine *e, const nf_model *m, int64_t P, int64_t T, int scored, int reps,
                              int batches, nf_cli_bench_result *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    if (P < 1 || T < 2 || reps < 1 || batches < 1 || batches > P || batches > 4096) {
        snprintf(err, err_len, "bench: need sims >= 1, steps >= 2, reps >= 1, 1 <= batches <= min(sims, 4096)");
        return NF_EINVAL;
    }
    nf_engine_ticket tk[4096];
    const double dt = nf_cli_bench_dt(m);
    float *par = malloc(sizeof(float) * (size_t)P * m->n_params);
    float *wave = malloc(sizeof(float) * (size_t)T);
    float *target = malloc(sizeof(float) * (size_t)T);
    int32_t *cnt = malloc(sizeof(int32_t) * (size_t)P);
    double *sse = malloc(sizeof(double) * (size_t)P);
    uint8_t *valid = malloc((size_t)P);
    nf_status s = NF_OK;
    if (!par || !wave || !target || !cnt || !sse || !valid) {
        snprintf(err, err_len, "bench: out of memory for %lld simulations", (long long)P);
        s = NF_ENOMEM;
        goto done;
    }
    nf_cli_bench_inputs(m, P, T, par, wave);
    for (int64_t n = 0; n < T; n++) target[n] = -65.0f;
    nf_batch b = {0};
    b.model = m;
    b.n_sims = P;
    b.n_steps = T;
    b.dt_ms = dt;
    b.params = par;
    b.stim.waves = wave;
    b.stim.n_waves = 1;
    b.spike_counts = cnt;
    b.valid = valid;
    if (scored) {
        b.target = target;
        b.n_targets = 1;
        b.n_obs = T;
        b.obs_every = 1;
        b.sse = sse;
    }
    out->seconds = 1e300;
    for (int r = 0; r < reps; r++) {
        /* the batch as `batches` contiguous pieces, all submitted, then waited for */
        double w0 = now_s(CLOCK_MONOTONIC), c0 = now_s(CLOCK_PROCESS_CPUTIME_ID), ks = 0;
        int n_sub = 0;
        for (int k = 0; k < batches && !s; k++) {
            const int64_t lo = P * k / batches, hi = P * (k + 1) / batches;
            nf_batch bk = b;
            bk.n_sims = hi - lo;
            bk.sim_offset = lo;
            bk.params = par + lo * m->n_params;
            bk.spike_counts = cnt + lo;
            bk.valid = valid + lo;
            bk.sse = scored ? sse + lo : NULL;
            if (!(s = nf_engine_submit(e, &bk, &tk[k]))) n_sub++;
        }
        const int64_t flying = nf_engine_in_flight(e);
        for (int k = 0; k < n_sub; k++) {
            nf_status sw = nf_engine_wait(e, tk[k]);
            if (!s && sw) s = sw;
            ks += nf_engine_kernel_seconds(e);
        }
        if (n_sub > 1) ks = 0; /* batches overlap on a GPU: their kernel times do not add up to the run's ("-") */
        if (s) {
            snprintf(err, err_len, "%s", nf_errmsg());
            goto done;
        }
        double w = now_s(CLOCK_MONOTONIC) - w0, c = now_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
        if (w < out->seconds) {
            out->seconds = w;
            out->cpu_seconds = c;
            out->kernel_seconds = ks;
            out->in_flight = flying;
        }
    }
    int64_t fired = 0;
    for (int64_t i = 0; i < P; i++) fired += cnt[i] > 0;
    out->fired = (double)fired / (double)P;
    out->steps_per_s = (double)P * (double)T / out->seconds;
    out->kernel_steps_per_s = out->kernel_seconds > 0 ? (double)P * (double)T / out->kernel_seconds : 0;
    out->dt_ms = dt;
done:
    free(par);
    free(wave);
    free(target);
    free(cnt);
    free(sse);
    free(valid);
    return s;
}
