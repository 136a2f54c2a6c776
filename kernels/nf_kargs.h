/* The arguments of one simulate launch, as both backends see them. Plain
 * data with device-or-host pointers; built by src/engine/engine.c from an
 * nf_batch. Arrays are structure-of-arrays where noted: [field][stride]. */
#ifndef NEUROFIT_KARGS_H
#define NEUROFIT_KARGS_H

#include "nf_kernel.h"
#include "sbi_stim.h"

typedef struct nf__kargs {
    int64_t n_sims;     /* simulations in this launch */
    int64_t sim_offset; /* global index of local simulation 0 (RNG key) */
    int64_t row0;       /* batch index of local simulation 0: its per-simulation waveform and
                         * target row (a launch of the CUDA plan starts mid-batch) */
    int64_t n_steps;    /* samples per simulation, sample 0 = initial state */
    nf__env env;

    const float *params; /* [n_params][stride] model units */
    const float *init;   /* [n_state][stride] or NULL (model's own init) */
    int64_t stride;      /* = n_sims of the launch */

    /* stimulus: I[n] = waves[row][n] (if waves) + OU noise (if ou_on), pA */
    const float *waves;      /* [rows][n_steps]: batch rows wave_lo .. (the launch's window) */
    int64_t wave_lo;         /* batch row of waves' row 0 */
    const int32_t *wave_idx; /* [n_sims] rows, or NULL: row 0 if n_waves == 1, else row row0 + i */
    int64_t n_waves;
    int32_t ou_on;
    float ou_mean; /* pA */
    float ou_sd;   /* pA, stationary standard deviation */
    float ou_a;    /* exp(-dt / tau) */
    float ou_b;    /* sqrt(1 - a^2) */
    uint64_t seed;
    /* generated stimulus (variant wave 2 only, kernels/sbi_cuda.cu): the
     * BayesFlow current of simulation sim_offset + i, made in the loop */
    nf__bf_const bf;

    /* outputs (each may be NULL) */
    float *rec;        /* [n_sims][n_rec] mV, samples n % rec_every == 0; variant rec 4:
                        * [n_rec][n_sims] (step-major, a warp's stores coalesce) */
    int64_t rec_every; /* 0: record nothing */
    int64_t n_rec;
    float *spk_t;       /* [n_sims][max_spikes] ms (first max_spikes spikes) */
    int32_t *spk_n;     /* [n_sims] total spike count */
    int32_t max_spikes;
    float *final_state; /* [n_state][stride] */
    uint8_t *valid;     /* [n_sims] 1 = finite and |V| <= v_limit throughout */
    float v_limit;      /* mV */

    /* fused trace scorer: sse[i] = sum_j (V[j * obs_every] - target[row][j])^2
     * over j < n_obs, skipping NaN target samples */
    const float *target;       /* [rows][n_obs] mV: batch rows target_lo .. */
    int64_t target_lo;         /* batch row of target's row 0 */
    const int32_t *target_idx; /* [n_sims] or NULL (as wave_idx) */
    int64_t n_targets;
    int64_t n_obs;
    int64_t obs_every;
    double *sse; /* [n_sims] mV^2 */
    int32_t target_finite; /* 1: every target sample is finite (the engine front checked) */
} nf__kargs;

#endif
