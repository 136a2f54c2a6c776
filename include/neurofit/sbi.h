/* Simulation-based-inference training sets: priors, stimuli, presets and the
 * streamed dataset writer behind `neurofit sbi simulate`.
 *
 *   prior (per parameter: uniform, log-uniform, normal, truncated normal,
 *   fixed; constraints by rejection or a named repair rule)
 *     -> theta [n][d] -> stimuli [n][T] pA -> engine -> x [n][T'] mV (+ summaries)
 *     -> DIR/theta.npy, x.npy, stimulus.npy, valid.npy, meta.json
 *
 * Reproducibility: every random number is a Philox4x32-10 value keyed by
 * (seed, stream, global simulation index, block) (kernels/nf_philox.h), so
 * simulation i of a seed is the same whatever the chunk size, thread count,
 * backend or the range [first, first+n) it is generated in. Prior draws use
 * stream NF_RNG_PRIOR (block = attempt * n_params + parameter), stimuli use
 * NF_RNG_SBI_STIMULUS (block k/4 holds the normals of samples 4k..4k+3; block
 * 0xFFFFFFFF holds per-simulation stimulus scalars such as an amplitude).
 *
 * Units: parameters in the model's units (mV, ms, pA, nS, pF), stimuli in pA,
 * traces in mV, time in ms.
 *
 * Ownership: nf_prior is an opaque handle (create/destroy, destroy accepts
 * NULL). nf_sbi_config borrows its model, prior and any file waveforms: the
 * caller keeps them alive while the config is used. Output arrays are caller
 * owned and written in place.
 */
#ifndef NEUROFIT_SBI_H
#define NEUROFIT_SBI_H

#include "neurofit/engine.h"
#include "neurofit/model.h"
#include "neurofit/status.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- priors -- */

typedef enum {
    NF_PRIOR_UNIFORM = 0, /* a = lo, b = hi (lo < hi) */
    NF_PRIOR_LOGUNIFORM,  /* a = lo, b = hi (0 < lo < hi); log x uniform */
    NF_PRIOR_NORMAL,      /* a = mean, b = sd (sd > 0) */
    NF_PRIOR_TRUNCNORMAL, /* a = mean, b = sd, restricted to [lo, hi] */
    NF_PRIOR_FIXED        /* a = value; not part of theta */
} nf_prior_family;

/* "uniform", "loguniform", "normal", "truncnormal", "fixed" */
const char *nf_prior_family_name(nf_prior_family f);
nf_status nf_prior_family_parse(const char *s, nf_prior_family *out);

typedef struct nf_prior_dim {
    nf_prior_family family;
    double a, b;   /* see nf_prior_family */
    double lo, hi; /* truncnormal bounds; for the others the support (+-inf for normal) */
} nf_prior_dim;

typedef enum { NF_CONSTRAINT_REJECT = 0, NF_CONSTRAINT_REPAIR } nf_constraint_mode;

typedef struct nf_prior nf_prior;

/* A prior over the parameters of model m: every parameter starts FIXED at the
 * model's default. */
nf_status nf_prior_create(const nf_model *m, nf_prior **out);
void nf_prior_destroy(nf_prior *p); /* NULL ok */

/* Set one parameter's distribution (checked: finite numbers, lo < hi, sd > 0,
 * loguniform lo > 0, a truncation interval with non-negligible mass). */
nf_status nf_prior_set(nf_prior *p, const char *param, const nf_prior_dim *dim);

/* Short form, one or more items separated by ';' or whitespace:
 *   C_m=uniform:100,200  g_L=loguniform:5,15  E_L=normal:-70,3
 *   t_ref=truncnormal:3,1,1,5 (mean, sd, lo, hi)  V_th=fixed:-55
 *   V_res<E_L   (a constraint: strict inequality between two parameters)
 *   repair=bayesflow-lif (a named repair rule instead of rejection) */
nf_status nf_prior_parse(nf_prior *p, const char *spec);

/* JSON form (a file's text):
 *   {"params": {"C_m": {"family": "uniform", "lo": 100, "hi": 200},
 *               "E_L": {"family": "normal", "mean": -70, "sd": 3},
 *               "t_ref": {"family": "truncnormal", "mean": 3, "sd": 1, "lo": 1, "hi": 5},
 *               "V_th": {"family": "fixed", "value": -55}},
 *    "constraints": ["V_res < E_L", "E_L < V_th"],
 *    "repair": "bayesflow-lif"}          (optional; default: rejection) */
nf_status nf_prior_parse_json(nf_prior *p, const char *json_text);

/* Add a constraint theta[lhs] < theta[rhs] (parameter names). */
nf_status nf_prior_add_constraint(nf_prior *p, const char *lhs, const char *rhs);

/* Use a named repair rule instead of rejection for the constraints.
 * Known: "bayesflow-lif" (lif6): if V_res >= E_L then V_res = E_L - 2 mV
 * clipped to V_res's prior interval; then if E_L >= V_th then E_L = V_th - 5 mV
 * clipped to E_L's prior interval. NULL or "reject": rejection (the default). */
nf_status nf_prior_set_repair(nf_prior *p, const char *rule);

/* Most prior draws tried per simulation under rejection (default 10000);
 * sampling fails with NF_ERANGE naming the constraint when exceeded. */
nf_status nf_prior_set_max_tries(nf_prior *p, int64_t max_tries);

const nf_model *nf_prior_model(const nf_prior *p);
/* Number of free (non-fixed) parameters d: the columns of theta. */
int nf_prior_dim_count(const nf_prior *p);
/* Model parameter index of theta column j (0 <= j < d). */
int nf_prior_param_of(const nf_prior *p, int j);
/* Distribution of model parameter i. */
nf_prior_dim nf_prior_get(const nf_prior *p, int i);
/* Mean and variance of theta column j before constraints (truncnormal exact). */
double nf_prior_mean(const nf_prior *p, int j);
double nf_prior_variance(const nf_prior *p, int j);
/* The prior as JSON text (the nf_prior_parse_json format plus "order"); malloc'd. */
char *nf_prior_to_json(const nf_prior *p);

/* Draw simulations [first, first+n): theta [n][d] (free parameters in model
 * order) and, when params is not NULL, the full model rows [n][n_params]
 * (fixed parameters filled in). Constraints applied by rejection or repair. */
nf_status nf_prior_sample(const nf_prior *p, uint64_t seed, int64_t first, int64_t n, float *theta,
                          float *params);

/* --------------------------------------------------------------- stimuli -- */

typedef enum {
    NF_SBI_STIM_NONE = 0, /* zero current */
    NF_SBI_STIM_STEP,     /* amp pA from start_ms to stop_ms (per-sim amp ~ U(amp, amp_hi) when amp_hi > amp) */
    NF_SBI_STIM_OU,       /* stationary Ornstein-Uhlenbeck noise, a fresh realisation per simulation */
    NF_SBI_STIM_FILE,     /* waveforms [n_waves][T] pA: shared (1) or one per simulation */
    NF_SBI_STIM_BAYESFLOW /* the BayesFlow LIF study's coloured current (see the preset) */
} nf_sbi_stim_kind;

typedef struct nf_sbi_stimulus {
    nf_sbi_stim_kind kind;
    double amp_pA, amp_hi_pA;     /* STEP; BAYESFLOW: amplitude range [amp_pA, amp_hi_pA] */
    double start_ms, stop_ms;     /* STEP */
    double mean_pA, sd_pA, tau_ms; /* OU (tau > 0) */
    const float *waves;            /* FILE: [n_waves][n_steps] pA, borrowed */
    int64_t n_waves;
    char source[512];              /* FILE: where the waves came from (for meta.json) */
} nf_sbi_stimulus;

/* 1 when simulations receive different waveforms (stimulus.npy is useful). */
int nf_sbi_stimulus_varies(const nf_sbi_stimulus *s);

/* ---------------------------------------------------------------- config -- */

typedef enum { NF_SBI_X_TRACES = 1, NF_SBI_X_SUMMARIES = 2, NF_SBI_X_BOTH = 3 } nf_sbi_x;

/* Summary statistics (k = NF_SBI_N_SUMMARIES), in this column order:
 * spike count; first spike time ms (duration when none); mean ISI ms
 * (duration when < 2 spikes); mean V mV; sd V mV. */
#define NF_SBI_N_SUMMARIES 5
const char *nf_sbi_summary_name(int k);

typedef struct nf_sbi_config {
    const nf_model *model; /* borrowed */
    const nf_prior *prior; /* borrowed */
    nf_sbi_stimulus stim;
    double dt_ms;
    int64_t n_steps;      /* samples per trace (t = 0 .. (n_steps-1) dt) */
    int64_t record_every; /* trace decimation (>= 1) */
    nf_sbi_x x;
    uint64_t seed;
    char preset[64]; /* "" or the preset's name (for meta.json) */
} nf_sbi_config;

/* Fill cfg with a named preset ("bayesflow-lif"). The preset's prior is
 * created into *prior (caller destroys it) and cfg->prior points to it. */
nf_status nf_sbi_preset(const char *name, uint64_t seed, nf_sbi_config *cfg, nf_prior **prior);

/* Check a config (model/prior match, dt, n_steps, stimulus shape). */
nf_status nf_sbi_config_validate(const nf_sbi_config *cfg);

/* Stimulus waveforms of simulations [first, first+n): out [n][n_steps] pA.
 * For a shared waveform every row is the same. */
nf_status nf_sbi_stimuli(const nf_sbi_config *cfg, int64_t first, int64_t n, float *out);

/* The BayesFlow LIF study's simulator inputs for simulations [first, first+n)
 * of seed: theta [n][6] in lif6 order (C_m pF, g_L nS, E_L mV, V_th mV,
 * V_res mV, t_ref ms; uniform priors, the study's repair rule), amp_pA [n]
 * (U(300, 3000) pA) and stimulus [n][501] pA on t = 0, 0.1, .., 50 ms:
 *   I(t) = amp (1 + 0.25 sin(2 pi 10 Hz t) + 0.15 c(t)),
 * c = numpy.convolve(w, exp(-k dt / 10 ms), mode="same") / max|.|, w white
 * normal noise. Any of theta, amp_pA, stimulus may be NULL. Identical to what
 * `neurofit sbi simulate --preset bayesflow-lif --seed SEED` writes. */
#define NF_SBI_BAYESFLOW_T 501
#define NF_SBI_BAYESFLOW_DT_MS 0.1
#define NF_SBI_BAYESFLOW_D 6
nf_status nf_sbi_bayesflow_lif_generate(uint64_t seed, int64_t first, int64_t n, float *theta,
                                        float *amp_pA, float *stimulus);

/* The preset's uniform prior intervals in theta order: lo, hi [6] (either
 * may be NULL), model units; names and units are lif6's parameters 0..5. */
void nf_sbi_bayesflow_lif_box(double *lo, double *hi);

/* Simulate [first, first+n) of a config on an engine. Outputs (NULL when not
 * wanted): theta [n][d]; stimulus [n][n_steps] pA; traces [n][n_rec] mV with
 * n_rec = ceil(n_steps / record_every); summaries [n][NF_SBI_N_SUMMARIES];
 * valid [n] (1 = finite, bounded voltage). Scratch is allocated per call;
 * loops should use nf_sbi_runner below. */
nf_status nf_sbi_simulate(nf_engine *e, const nf_sbi_config *cfg, int64_t first, int64_t n,
                          float *theta, float *stimulus, float *traces, float *summaries,
                          uint8_t *valid);

/* A reusable chunk runner: buffers sized once for up to max_n simulations. */
typedef struct nf_sbi_runner nf_sbi_runner;
nf_status nf_sbi_runner_create(nf_engine *e, const nf_sbi_config *cfg, int64_t max_n,
                               nf_sbi_runner **out);
void nf_sbi_runner_destroy(nf_sbi_runner *r); /* NULL ok */
/* Run [first, first+n), n <= max_n; arguments as nf_sbi_simulate. */
nf_status nf_sbi_runner_run(nf_sbi_runner *r, int64_t first, int64_t n, float *theta,
                            float *stimulus, float *traces, float *summaries, uint8_t *valid);
/* The same with the caller's parameters instead of prior draws (a simulator
 * called with proposal samples, as sbi's simulate_for_sbi does): theta
 * [n][d] in the prior's column order, the fixed parameters from the prior;
 * simulation first+i gets stimulus first+i. The engine checks the values
 * (a NaN or one outside the model's valid range fails naming it). */
nf_status nf_sbi_runner_run_theta(nf_sbi_runner *r, int64_t first, int64_t n, const float *theta,
                                  float *stimulus, float *traces, float *summaries, uint8_t *valid);

/* --------------------------------------------------------------- dataset -- */

typedef struct nf_sbi_write_opts {
    int64_t n_sims;
    int64_t chunk;         /* simulations per chunk (<= 0: 8192) */
    int write_stimulus;    /* write stimulus.npy when stimuli vary (1) */
    /* progress after each chunk; return non-zero to stop (NF_EINTERRUPTED) */
    int (*progress)(void *user, int64_t done, int64_t total);
    void *user;
    const char *command_line; /* recorded in meta.json, may be NULL */
    /* 1: a set without traces or stimulus rows (needs cfg->x ==
     * NF_SBI_X_SUMMARIES; write_stimulus is ignored): theta.npy, x.npy
     * [N][k] summaries, valid.npy, and stimulus_params.npy [N][1] pA (each
     * simulation's amplitude) when the stimulus has one; the stimulus itself
     * follows from (seed, simulation index) and meta.json's description */
    int summaries_only;
} nf_sbi_write_opts;

/* Generate a dataset into dir: theta.npy [N][d] f4, x.npy [N][n_rec] f4
 * (traces) or [N][k] (summaries only), summaries.npy [N][k] f4 (with both),
 * stimulus.npy [N][n_steps] f4 pA (when stimuli vary and asked for),
 * valid.npy [N] b1, stimulus_params.npy [N][1] f4 pA (summaries_only, see
 * above), meta.json. Memory is bounded by the chunk size, not N.
 * The files are one output set (nf_stage, neurofit/fileio.h): streamed into
 * dir/.neurofit.partial-<pid>/ under dir's lock (NF_EBUSY when another
 * process writes dir), committed when complete with meta.json (the marker
 * of a complete dataset) last; until then an older dataset in dir stays
 * whole. */
nf_status nf_sbi_write_dataset(nf_engine *e, const nf_sbi_config *cfg, const char *dir,
                               const nf_sbi_write_opts *opts);

#ifdef __cplusplus
}
#endif
#endif
