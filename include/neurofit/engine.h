/* The batch simulation engine: P parameterised neurons x T samples in one
 * call, on every CPU core or on a CUDA GPU, from one definition of each model.
 *
 * Time grid: sample n is at t = n dt (ms), n = 0 .. n_steps-1. Sample 0 is the
 * initial state; sample n+1 follows from sample n and the stimulus I[n]
 * (forward schemes use the previous sample's current).
 *
 * Ownership: the engine owns its thread pool and device buffers (reused across
 * runs of the same shape; no allocation on the hot path of repeated runs).
 * nf_batch holds borrowed pointers only: the caller owns every array and
 * keeps it alive during nf_engine_run. Outputs are written in place.
 *
 * Results depend only on the inputs: the same for any thread count, any batch
 * split (set sim_offset) and, up to float rounding, either backend.
 */
#ifndef NEUROFIT_ENGINE_H
#define NEUROFIT_ENGINE_H

#include "neurofit/model.h"
#include "neurofit/status.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { NF_BACKEND_AUTO = 0, NF_BACKEND_CPU, NF_BACKEND_CUDA } nf_backend;

/* "auto", "cpu", "cuda" */
const char *nf_backend_name(nf_backend b);
nf_status nf_backend_parse(const char *s, nf_backend *out);

/* 1 when this build has the CUDA backend and a device is present. */
int nf_cuda_available(void);
/* Name of device 0 ("" when none) and its SM count. */
const char *nf_cuda_device_name(void);
/* CUDA devices on this machine (0 without a device or the CUDA backend). */
int nf_cuda_device_count(void);

/* Most devices one engine runs a batch on. */
#define NF_MAX_DEVICES 16
/* Parse a device list: "all" (every CUDA device of this machine, at most
 * NF_MAX_DEVICES; NF_ENODEV when it has none) or "0,1,..." (distinct
 * device numbers >= 0, at most max of them). Bad input: NF_EINVAL naming
 * the item. Whether the devices exist is checked by nf_engine_set_devices. */
nf_status nf_devices_parse(const char *spec, int *ids, int max, int *n);

typedef struct nf_stimulus {
    /* Waveforms, pA: sim i receives row wave_index[i] of waves; with
     * wave_index NULL, row 0 when n_waves == 1 (shared) or row i when
     * n_waves == n_sims (one per simulation). NULL waves: zero current. */
    const float *waves; /* [n_waves][n_steps] pA */
    int64_t n_waves;
    const int32_t *wave_index; /* [n_sims] or NULL */
    /* Ornstein-Uhlenbeck noise added on top (when noise_sd_pA > 0 or
     * noise_mean_pA != 0): mean + x, x stationary with sd and correlation time
     * tau (tau = 0: white). Drawn from Philox4x32-10 keyed by (seed, global
     * simulation index, step). The same seed keys the intrinsic noise of
     * stochastic models (slif) on its own stream, NF_RNG_INTRINSIC. */
    float noise_mean_pA;
    float noise_sd_pA;
    float noise_tau_ms;
    uint64_t seed;
} nf_stimulus;

typedef struct nf_batch {
    const nf_model *model;
    int64_t n_sims;
    int64_t n_steps; /* samples per simulation (>= 1) */
    double dt_ms;
    int64_t sim_offset; /* global index of sim 0, for RNG streams of split batches */

    const float *params;     /* [n_sims][n_params] model units (required) */
    const float *init_state; /* [n_sims][n_state] or NULL for the model's own */
    nf_stimulus stim;
    float v_detect_mV; /* spike detection level for models without reset (0) */
    float v_limit_mV;  /* |V| beyond this marks a simulation invalid (1e4 if 0) */

    /* ---- outputs: each NULL when not wanted ---- */
    float *voltage;        /* [n_sims][nf_batch_n_rec()] mV */
    int64_t record_every;  /* record samples n % record_every == 0 (>= 1 when voltage) */
    float *spike_times;    /* [n_sims][max_spikes] ms, first max_spikes spikes, NaN after the last */
    int32_t max_spikes;
    int32_t *spike_counts; /* [n_sims] all spikes, also beyond max_spikes */
    float *final_state;    /* [n_sims][n_state] */
    uint8_t *valid;        /* [n_sims] 1 = finite and |V| <= v_limit throughout */

    /* ---- fused trace scorer ---- */
    const float *target;          /* [n_targets][n_obs] mV; NaN samples skipped */
    int64_t n_targets;
    int64_t n_obs;
    int64_t obs_every;            /* target sample j is model sample j * obs_every */
    const int32_t *target_index;  /* [n_sims] or NULL (as wave_index) */
    double *sse;                  /* [n_sims] sum of squared errors, mV^2 */
} nf_batch;

/* Samples recorded per simulation: ceil(n_steps / record_every). */
int64_t nf_batch_n_rec(const nf_batch *b);

typedef struct nf_engine nf_engine;

/* Create an engine on a backend. n_threads <= 0: one per online CPU (CPU
 * backend). NF_BACKEND_AUTO picks CUDA when a device is present. CUDA when
 * unavailable: NF_ENODEV (device missing) or NF_EUNSUPPORTED (build). */
nf_status nf_engine_create(nf_backend backend, int n_threads, nf_engine **out);
void nf_engine_destroy(nf_engine *e); /* NULL ok */
/* Device memory the CUDA backend may hold per device for one batch, in
 * bytes; 0 (the default): the device's free memory less a margin. A batch
 * that does not fit runs in pieces (launches of fewer simulations); only a
 * single simulation larger than the limit fails (NF_ENOMEM). No effect on
 * the CPU backend, whose memory is the caller's arrays. */
nf_status nf_engine_set_memory_limit(nf_engine *e, size_t bytes);
nf_backend nf_engine_backend(const nf_engine *e);
/* Run the CUDA backend's batches on these n devices (default: device 0).
 * A batch is split into n contiguous ranges of its simulation index, range
 * k on ids[k]; results are identical for any list. Errors: NF_EINVAL on the
 * CPU backend (it runs on threads: nf_engine_create's n_threads) or for an
 * empty, too long or repeated list, NF_ERANGE for a device this machine
 * does not have. Not while batches are in flight (NF_EINVAL). */
nf_status nf_engine_set_devices(nf_engine *e, const int *ids, int n);
/* nf_devices_parse then nf_engine_set_devices; a NULL spec changes nothing. */
nf_status nf_engine_use_devices(nf_engine *e, const char *spec);
/* The engine's devices into ids (up to max); returns their count (0 on the
 * CPU backend). */
int nf_engine_devices(const nf_engine *e, int *ids, int max);
/* Seconds the device spent in the kernels of the batch last waited for
 * (nf_engine_run: the last run; cudaEvent time, without validation,
 * packing and copies; with several devices, the longest of their sums); 0
 * on the CPU. */
double nf_engine_kernel_seconds(const nf_engine *e);
int nf_engine_threads(const nf_engine *e);

/* Check a batch without running it: every misuse gets a status and an
 * nf_errmsg() naming the field (and for parameters the simulation, name and
 * value). */
nf_status nf_batch_validate(const nf_batch *b);

/* Validate and run a batch (nf_engine_submit then nf_engine_wait). */
nf_status nf_engine_run(nf_engine *e, const nf_batch *b);

/* ---- several batches in flight ----
 * nf_engine_submit validates b and starts it; nf_engine_wait(t) returns when
 * its outputs are written. Between the two, every array b points to (inputs
 * and outputs) and the models must stay alive and unchanged, and the outputs
 * must not be read; the nf_batch struct itself may go. Batches in flight are
 * independent: each gets the results nf_engine_run would give it, in any
 * order of waits. The CUDA backend returns from submit once the batch is
 * packed into pinned staging of its own and queued (copies and kernels on
 * its own streams, one per device): up to 16 batches run at once, and a
 * submit beyond that first waits for the oldest; wait synchronises the
 * batch and moves its outputs into the caller's arrays. The CPU backend
 * runs a batch at submit, on all its threads, and its wait only ends the
 * ticket.
 * Errors: submit returns validation errors and errors of starting the run
 * (no ticket is made then: *out = 0); wait returns a run's own errors
 * once. Every ticket must be waited for once (an unknown or already waited
 * ticket: NF_EINVAL); destroying an engine waits for all. */
typedef int64_t nf_engine_ticket; /* > 0 */
nf_status nf_engine_submit(nf_engine *e, const nf_batch *b, nf_engine_ticket *out);
nf_status nf_engine_wait(nf_engine *e, nf_engine_ticket t);
/* Simulations submitted and not yet waited for: the threads a GPU has in
 * flight. */
int64_t nf_engine_in_flight(const nf_engine *e);

/* ---- inputs kept on the device ----
 * nf_engine_keep declares the host array [ptr, ptr + bytes) constant until
 * nf_engine_forget(e, ptr): the caller keeps it alive and unchanged in
 * between. A batch whose whole waveform array (stim.waves: n_waves x
 * n_steps floats) or whole target array (target: n_targets x n_obs) lies
 * inside a kept array reads the CUDA backend's copy of it, uploaded once
 * per device on first use, instead of copying its rows per launch (a fit
 * keeps its recordings' waveforms and targets for the whole fit). Kept
 * arrays must not overlap (NF_EINVAL). The CPU backend accepts both calls
 * and reads the host arrays as always. nf_engine_forget frees the device
 * copies; NF_EINVAL for a pointer not kept, or while batches are in flight
 * (wait for them first). nf_engine_destroy forgets every kept array. */
nf_status nf_engine_keep(nf_engine *e, const void *ptr, size_t bytes);
nf_status nf_engine_forget(nf_engine *e, const void *ptr);

#ifdef __cplusplus
}
#endif
#endif
