/* Random batches over every index path of the engine, run two ways and
 * compared output by output (header-only; tests/test_engine_plan.c compares
 * the host replay of the CUDA plan with the CPU backend, tests/
 * test_engine_cuda.c the CUDA backend with the CPU backend).
 *
 * A batch: P simulations x T samples of one model, parameters drawn inside
 * its fitting bounds, a step waveform per row (amplitude and onset differ by
 * row) plus OU noise, targets with NaN gaps, and every output: voltage, spike
 * times and counts, final state, validity, SSE. Its index paths: waveforms
 * and targets none / shared / one per simulation / indexed rows, sim_offset,
 * and an initial state or the model's own. */
#ifndef NF_TEST_BATCHES_H
#define NF_TEST_BATCHES_H

#include "neurofit/engine.h"
#include "nf_test_util.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef enum { NFT_ROWS_NONE, NFT_ROWS_SHARED, NFT_ROWS_PER_SIM, NFT_ROWS_INDEXED } nft_rows;

static const char *const nft_rows_name[] = {"none", "shared", "per-sim", "indexed"};

typedef struct {
    nft_rows waves, targets;
    int64_t sim_offset;
    int init;         /* give an initial state */
    int record_every; /* 0: no voltage */
    /* the launch flags the body's variants specialise on (kernels/variant_list.h);
     * all 0: OU noise on, targets with NaN samples, every 4th sample scored */
    int no_noise;      /* 1: no OU noise (a waveform alone drives) */
    int finite;        /* 1: no NaN target samples */
    int obs_all;       /* 1: every sample scored (obs_every 1, n_obs = T) */
    int no_times;      /* 1: spike counts only, no spike times */
} nft_paths;

enum { NFT_K_SPK = 6, NFT_N_ROWS = 7 };

typedef struct {
    int64_t P, T, n_rec;
    int n_state;
    float *v, *spk, *fin;
    int32_t *cnt;
    uint8_t *valid;
    double *sse;
} nft_outs;

static inline void nft_outs_alloc(nft_outs *o, const nf_model *m, int64_t P, int64_t T)
{
    o->P = P;
    o->T = T;
    o->n_rec = 0;
    o->n_state = m->n_state;
    o->v = malloc(sizeof(float) * (size_t)(P * T));
    o->spk = malloc(sizeof(float) * (size_t)(P * NFT_K_SPK));
    o->fin = malloc(sizeof(float) * (size_t)(P * m->n_state));
    o->cnt = malloc(sizeof(int32_t) * (size_t)P);
    o->valid = malloc((size_t)P);
    o->sse = calloc((size_t)P, sizeof(double));
    memset(o->v, 0x7f, sizeof(float) * (size_t)(P * T));
}

static inline void nft_outs_free(nft_outs *o)
{
    free(o->v);
    free(o->spk);
    free(o->fin);
    free(o->cnt);
    free(o->valid);
    free(o->sse);
}

/* How a batch is run: the engine call under test. */
typedef nf_status (*nft_runner)(void *ctx, const nf_batch *b);

/* The CPU backend with two threads (the reference). */
static inline nf_status nft_run_cpu(void *ctx, const nf_batch *b)
{
    (void)ctx;
    nf_engine *e;
    nf_status s = nf_engine_create(NF_BACKEND_CPU, 2, &e);
    if (!s) s = nf_engine_run(e, b);
    nf_engine_destroy(e);
    return s;
}

static inline double nft_dt(const nf_model *m) { return m->dt_max_ms < 0.05 ? m->dt_max_ms : 0.05; }

/* Builds the batch of model m on paths pa and runs it with run(ctx, batch). */
static inline nf_status nft_batch_run(const nf_model *m, const nft_paths *pa, nft_runner run, void *ctx, nft_outs *o)
{
    const int64_t P = o->P, T = o->T;
    const double dt = nft_dt(m);
    float *params = nft_random_params(m, P, 900 + (uint64_t)m->id);
    const int64_t n_wave_rows = pa->waves == NFT_ROWS_PER_SIM ? P : pa->waves == NFT_ROWS_INDEXED ? NFT_N_ROWS : 1;
    float *waves = malloc(sizeof(float) * (size_t)(n_wave_rows * T));
    for (int64_t r = 0; r < n_wave_rows; r++) {
        /* each row its own step: amplitude and onset differ by row */
        const double amp = m->drive_pA * (1.0 + 1.5 * (double)r / (double)n_wave_rows);
        const double on = 1.0 + 0.05 * (double)(r % 11);
        for (int64_t n = 0; n < T; n++) waves[r * T + n] = (double)n * dt >= on ? (float)amp : 0.0f;
    }
    const int64_t obs_every = pa->obs_all ? 1 : 4, n_obs = pa->obs_all ? T : T / 4;
    const int64_t n_tgt_rows = pa->targets == NFT_ROWS_PER_SIM ? P : pa->targets == NFT_ROWS_INDEXED ? NFT_N_ROWS : 1;
    float *targets = malloc(sizeof(float) * (size_t)(n_tgt_rows * n_obs));
    for (int64_t r = 0; r < n_tgt_rows; r++)
        for (int64_t j = 0; j < n_obs; j++)
            targets[r * n_obs + j] =
                (j % 37 == 5 && !pa->finite) ? NAN : (float)(-70.0 + 3.0 * (double)r + 0.01 * (double)j);
    int32_t *widx = malloc(sizeof(int32_t) * (size_t)P), *tidx = malloc(sizeof(int32_t) * (size_t)P);
    for (int64_t i = 0; i < P; i++) {
        widx[i] = (int32_t)((i * 5 + 3) % NFT_N_ROWS);
        tidx[i] = (int32_t)((i * 3 + 1) % NFT_N_ROWS);
    }
    float *init = NULL;
    if (pa->init) {
        /* the model's own initial state, nudged per simulation */
        nf_batch b0 = {0};
        b0.model = m;
        b0.n_sims = P;
        b0.n_steps = 1;
        b0.dt_ms = dt;
        b0.params = params;
        init = malloc(sizeof(float) * (size_t)(P * m->n_state));
        b0.final_state = init;
        cr_assert_eq(nft_run_cpu(NULL, &b0), NF_OK, "%s", nf_errmsg());
        for (int64_t i = 0; i < P; i++) init[i * m->n_state] += 0.01f * (float)(i % 13);
    }

    nf_batch b = {0};
    b.model = m;
    b.n_sims = P;
    b.n_steps = T;
    b.dt_ms = dt;
    b.sim_offset = pa->sim_offset;
    b.params = params;
    b.init_state = init;
    if (pa->waves != NFT_ROWS_NONE) {
        b.stim.waves = waves;
        b.stim.n_waves = n_wave_rows;
        b.stim.wave_index = pa->waves == NFT_ROWS_INDEXED ? widx : NULL;
    }
    if (!pa->no_noise) {
        b.stim.noise_mean_pA = pa->waves == NFT_ROWS_NONE ? (float)m->drive_pA : 10.0f;
        b.stim.noise_sd_pA = 40.0f;
        b.stim.noise_tau_ms = 2.0f;
    }
    b.stim.seed = 77;
    if (pa->record_every) {
        b.voltage = o->v;
        b.record_every = pa->record_every;
        o->n_rec = nf_batch_n_rec(&b);
    }
    if (!pa->no_times) {
        b.spike_times = o->spk;
        b.max_spikes = NFT_K_SPK;
    } else {
        for (int64_t i = 0; i < P * NFT_K_SPK; i++) o->spk[i] = NAN; /* as the engine leaves unused slots */
    }
    b.spike_counts = o->cnt;
    b.final_state = o->fin;
    b.valid = o->valid;
    if (pa->targets != NFT_ROWS_NONE) {
        b.target = targets;
        b.n_targets = n_tgt_rows;
        b.n_obs = n_obs;
        b.obs_every = obs_every;
        b.target_index = pa->targets == NFT_ROWS_INDEXED ? tidx : NULL;
        b.sse = o->sse;
    }
    nf_status s = run(ctx, &b);
    free(params);
    free(waves);
    free(targets);
    free(widx);
    free(tidx);
    free(init);
    return s;
}

/* How two runs of a batch differ. */
typedef struct {
    int64_t n_diff;        /* simulations with any output not bit-identical */
    int64_t count_same;    /* simulations with equal spike counts */
    int64_t spike_time_diff; /* simulations with equal counts but different spike times */
    int64_t valid_diff;
    int64_t spiking;       /* simulations of the reference that spiked */
    double max_dv;         /* mV, over the recorded voltage of valid simulations */
    double max_dfin;       /* over the final state of valid simulations */
    double max_dsse_rel;   /* |dSSE| / SSE */
} nft_diff;

/* Compares run b with reference a; logs the first few differing
 * simulations unless quiet. */
static inline nft_diff nft_compare(const nf_model *m, const nft_outs *a, const nft_outs *b, const char *what, int quiet)
{
    nft_diff d;
    memset(&d, 0, sizeof d);
    const int64_t K = NFT_K_SPK;
    for (int64_t i = 0; i < a->P; i++) {
        const char *diff = NULL;
        d.spiking += a->cnt[i] > 0;
        if (a->cnt[i] == b->cnt[i]) {
            d.count_same++;
            int64_t k = a->cnt[i] < K ? a->cnt[i] : K;
            if (memcmp(a->spk + i * K, b->spk + i * K, sizeof(float) * (size_t)k)) {
                d.spike_time_diff++;
                diff = "spike times";
            }
        } else diff = "spike count";
        if (a->valid[i] != b->valid[i]) {
            d.valid_diff++;
            diff = "validity";
        }
        if (memcmp(a->fin + i * a->n_state, b->fin + i * a->n_state, sizeof(float) * (size_t)a->n_state)) {
            diff = diff ? diff : "final state";
            for (int k = 0; k < a->n_state && a->valid[i]; k++) {
                double x = fabs((double)a->fin[i * a->n_state + k] - b->fin[i * a->n_state + k]);
                d.max_dfin = x > d.max_dfin ? x : d.max_dfin;
            }
        }
        if (memcmp(&a->sse[i], &b->sse[i], sizeof(double))) {
            diff = diff ? diff : "SSE";
            double x = fabs(a->sse[i] - b->sse[i]) / (fabs(a->sse[i]) > 1e-30 ? fabs(a->sse[i]) : 1.0);
            if (a->valid[i]) d.max_dsse_rel = x > d.max_dsse_rel ? x : d.max_dsse_rel;
        }
        if (a->n_rec && memcmp(a->v + i * a->n_rec, b->v + i * a->n_rec, sizeof(float) * (size_t)a->n_rec)) {
            diff = diff ? diff : "voltage";
            for (int64_t n = 0; n < a->n_rec && a->valid[i]; n++) {
                double x = fabs((double)a->v[i * a->n_rec + n] - b->v[i * a->n_rec + n]);
                d.max_dv = x > d.max_dv ? x : d.max_dv;
            }
        }
        if (diff && d.n_diff++ < 4 && !quiet)
            cr_log_error("%s %s: simulation %lld: %s differs (counts %d and %d; SSE %.9g and %.9g)", m->name, what,
                         (long long)i, diff, a->cnt[i], b->cnt[i], a->sse[i], b->sse[i]);
    }
    return d;
}

/* ---- a chain of batches in flight (nf_engine_submit / nf_engine_wait) ----
 * Batch k's runner submits it and builds batch k+1 inside, so every batch's
 * arrays stay alive; the last one waits for all of them in the order given. */
enum { NFT_CHAIN = 37 }; /* more batches than the engine's job slots (32) */
typedef struct {
    nf_engine *e;
    const nf_model *m[NFT_CHAIN];
    nft_paths pa[NFT_CHAIN];
    nft_outs *outs;              /* [NFT_CHAIN], allocated by the caller */
    nf_engine_ticket t[NFT_CHAIN];
    int order[NFT_CHAIN];        /* wait order */
    nf_status st[NFT_CHAIN];     /* each wait's status */
    char msg[NFT_CHAIN][160];    /* and its message */
    int64_t peak_in_flight;
    int depth;
    /* keep: each batch's waveforms and targets are kept on the device
     * (nf_engine_keep) before its submit, overwritten on the host right
     * after it (the batch must read its device copy, made at submit), and
     * forgotten once every batch was waited for */
    int keep;
    int64_t kept; /* arrays kept */
} nft_chain;

static inline nf_status nft_chain_step(void *ctx, const nf_batch *b)
{
    nft_chain *c = (nft_chain *)ctx;
    const int k = c->depth++;
    const size_t wb = b->stim.waves ? sizeof(float) * (size_t)(b->stim.n_waves * b->n_steps) : 0;
    const size_t tb = b->target ? sizeof(float) * (size_t)(b->n_targets * b->n_obs) : 0;
    if (c->keep && wb) cr_assert_eq(nf_engine_keep(c->e, b->stim.waves, wb), NF_OK, "%s", nf_errmsg());
    if (c->keep && tb) cr_assert_eq(nf_engine_keep(c->e, b->target, tb), NF_OK, "%s", nf_errmsg());
    c->kept += c->keep ? (wb > 0) + (tb > 0) : 0;
    nf_status s = nf_engine_submit(c->e, b, &c->t[k]);
    if (s) return s;
    if (c->keep) { /* finite garbage: only the device copies hold the data now */
        for (size_t i = 0; i < wb / sizeof(float); i++) ((float *)b->stim.waves)[i] = 1234.5f;
        for (size_t i = 0; i < tb / sizeof(float); i++) ((float *)b->target)[i] = -432.1f;
    }
    c->peak_in_flight = nf_engine_in_flight(c->e) > c->peak_in_flight ? nf_engine_in_flight(c->e) : c->peak_in_flight;
    if (k + 1 < NFT_CHAIN) {
        s = nft_batch_run(c->m[k + 1], &c->pa[k + 1], nft_chain_step, c, &c->outs[k + 1]);
    } else {
        for (int w = 0; w < NFT_CHAIN; w++) {
            const int q = c->order[w];
            c->st[q] = nf_engine_wait(c->e, c->t[q]);
            snprintf(c->msg[q], sizeof c->msg[q], "%s", c->st[q] ? nf_errmsg() : "");
        }
    }
    if (c->keep && wb) cr_assert_eq(nf_engine_forget(c->e, b->stim.waves), NF_OK, "%s", nf_errmsg());
    if (c->keep && tb) cr_assert_eq(nf_engine_forget(c->e, b->target), NF_OK, "%s", nf_errmsg());
    return s;
}

/* The chain's batches: seven models in turn, every waveform and target path,
 * with and without sim_offset, initial state, recording, noise and NaN
 * targets; waits in a mixed order (neither submit order nor its reverse).
 * outs[k] are allocated for P x T. */
static inline void nft_chain_cases(nft_chain *c, nft_outs *outs, int64_t P, int64_t T)
{
    static const char *names[] = {"lif6", "adex", "izhikevich", "hh", "slif", "glif3", "morris_lecar"};
    memset(c, 0, sizeof *c);
    c->outs = outs;
    for (int k = 0; k < NFT_CHAIN; k++) {
        c->m[k] = nf_model_find(names[k % 7]);
        cr_assert_not_null(c->m[k], "%s", names[k % 7]);
        const nft_rows w = (nft_rows)(1 + k % 3), t = (nft_rows)(k % 4);
        nft_paths pa = {w, t, k % 2 ? 1000003 * (int64_t)k : 0, k % 3 == 0, k % 4 ? 3 : 0, k % 5 == 1, k % 6 == 2, 0, 0};
        c->pa[k] = pa;
        c->order[k] = (k * 8 + 5) % NFT_CHAIN;
        nft_outs_alloc(&outs[k], c->m[k], P, T);
    }
}

#endif
