/* Simulation-based calibration (SBC) in C, and the BayesFlow LIF problem it
 * is run on. The posterior estimator itself (regression-adjusted ABC) is the
 * inference module's: neurofit/infer.h.
 *
 * Three parts, each usable alone:
 *
 *  1. nf_sbc_lif_summaries: physics-informed summaries of one lif6 voltage
 *     trace, with the stimulus known (ARX least squares of dV on V and I over
 *     subthreshold steps gives dt/C_m, dt g_L/C_m, E_L; spike resets, clamped
 *     runs and pre-spike samples give V_res, t_ref, V_th) or voltage only.
 *
 *  2. nf_sbc_*: SBC (Talts et al. 2018) analysis of M true parameter vectors
 *     with L posterior draws each: ranks (ties broken at random), rank
 *     histograms, ECDF differences with simultaneous bands computed by
 *     simulation (Saeilynoja, Buerkner & Vehtari 2022), posterior-mean
 *     recovery (Pearson r), contraction, z-scores, posterior predictive
 *     coverage; written as JSON and self-contained SVG plots.
 *
 *  3. nf_sbc_lif_*: the BayesFlow LIF problem on the training-set generator's
 *     `bayesflow-lif` preset (sbi.h) with measurement noise, the estimator of
 *     infer.h on it, a whole SBC run (behind `neurofit sbi sbc` and
 *     bench_sbc) and the posterior of observed traces (`neurofit sbi infer`).
 *
 * Ownership: every array argument is borrowed for the call only; handles
 * (nf_sbc_result) are created by the library and released with their
 * destroy function (NULL accepted). Functions never keep caller pointers.
 * Randomness comes from an explicit seed: the same inputs and seed give the
 * same outputs. const handles may be used from several threads at once.
 */
#ifndef NEUROFIT_SBC_H
#define NEUROFIT_SBC_H

#include "neurofit/engine.h"
#include "neurofit/infer.h"
#include "neurofit/sbi.h"
#include "neurofit/status.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------
 * 1. lif6 summaries
 * ------------------------------------------------------------------------- */

/* Number of summaries: with the stimulus known (with_stimulus = 1) or from the
 * voltage alone (0). */
int nf_sbc_lif_n_summaries(int with_stimulus);

/* Summaries of one trace.
 *   v:    [n] mV, sample i at t = i dt (sample 0 = E_L for lif6), possibly noisy
 *   stim: [n] pA, the current driving step i -> i+1, or NULL (voltage only)
 *   out:  [nf_sbc_lif_n_summaries(stim != NULL)]
 * A spike is a drop v[i] - v[i-1] < -spike_drop_mV (3 mV when <= 0). Missing
 * quantities (no spike) get fixed fallbacks, so out is always finite.
 * Errors: n < 20, dt <= 0, non-finite samples. */
nf_status nf_sbc_lif_summaries(const float *v, const float *stim, int64_t n, double dt_ms,
                               double spike_drop_mV, float *out);

/* ---------------------------------------------------------------------------
 * 2. SBC analysis
 * ------------------------------------------------------------------------- */

/* Ranks of the true values among the draws: ranks[m][j] = #{l: post < true}
 * plus a uniform share of ties, in 0..L.
 *   theta: [M][d], post: [M][L][d], ranks: [M][d] out. */
nf_status nf_sbc_ranks(const float *theta, const float *post, int64_t M, int64_t L, int d,
                       uint64_t seed, int32_t *ranks);

/* Simultaneous band for the ECDF of M ranks uniform on 0..L, at the points
 * z_p = j_p / (L + 1) with j_p = 1..L spread evenly (n_points of them, at most
 * L): counts #{rank < j_p} inside [lower[p], upper[p]] for all p at once with
 * probability ~level. gamma is the adjusted pointwise level (simulation
 * method of Saeilynoja et al. 2022, n_sims Monte Carlo sets).
 *   j: [n_points] out; lower, upper: [n_points] out, counts. */
nf_status nf_sbc_ecdf_band(int64_t M, int64_t L, int n_points, double level, int n_sims,
                           uint64_t seed, int32_t *j, int32_t *lower, int32_t *upper,
                           double *gamma);

/* Fraction of obs[t] inside the pointwise central `level` band of the
 * predictive traces pred [P][T] (P >= 2). NaN observations are skipped. */
nf_status nf_sbc_band_coverage(const float *pred, int64_t P, int64_t T, const float *obs,
                               double level, double *frac);

typedef struct nf_sbc_input {
    int64_t M;                /* prior draws (>= 10) */
    int64_t L;                /* posterior draws each (>= 1) */
    int d;                    /* parameters */
    const char *const *names; /* [d] or NULL (p0, p1, ...) */
    const char *const *units; /* [d] or NULL */
    const float *theta;       /* [M][d] true values */
    const float *post;        /* [M][L][d] posterior draws */
    const double *prior_var;  /* [d] or NULL: sample variance of theta */
    const double *ppc;        /* [M] predictive coverage per draw or NULL */
    double ppc_level;         /* level of that band (e.g. 0.9) */
    double level;             /* simultaneous band level (0.95 when 0) */
    int n_band_sims;          /* Monte Carlo sets for the band (2000 when 0) */
    int n_points;             /* ECDF points (min(L, 99) when 0) */
    uint64_t seed;
} nf_sbc_input;

typedef struct nf_sbc_param_stats {
    double r;            /* Pearson r of posterior mean vs truth */
    double contraction;  /* 1 - mean posterior variance / prior variance */
    double z_mean, z_sd; /* (posterior mean - truth) / posterior sd */
    double rmse;         /* of the posterior mean */
    int violations;      /* ECDF points outside the simultaneous band */
    double max_ecdf_diff; /* max |ECDF(z) - z| */
} nf_sbc_param_stats;

typedef struct nf_sbc_result nf_sbc_result;

nf_status nf_sbc_analyse(const nf_sbc_input *in, nf_sbc_result **out);
void nf_sbc_result_destroy(nf_sbc_result *r);
nf_status nf_sbc_result_param(const nf_sbc_result *r, int j, nf_sbc_param_stats *out);
/* Mean predictive coverage (NaN without ppc). */
double nf_sbc_result_ppc(const nf_sbc_result *r);

/* result JSON (cJSON): settings, per-parameter statistics, rank histogram,
 * ECDF band, ranks and posterior means. Written atomically. */
nf_status nf_sbc_write_json(const nf_sbc_result *r, const char *path);
/* dir/sbc_ranks.svg, dir/sbc_ecdf.svg, dir/sbc_recovery.svg (dir created). */
nf_status nf_sbc_write_svg(const nf_sbc_result *r, const char *dir);
/* The three SVGs and sbc.json (the marker, last) as one output set in dir
 * (staged and committed: nf_stage, neurofit/fileio.h). */
nf_status nf_sbc_write(const nf_sbc_result *r, const char *dir);

/* ---------------------------------------------------------------------------
 * 3. The BayesFlow LIF problem (the `bayesflow-lif` preset of sbi.h)
 * ------------------------------------------------------------------------- */

#define NF_SBC_LIF_D NF_SBI_BAYESFLOW_D /* C_m pF, g_L nS, E_L mV, V_th mV, V_res mV, t_ref ms */
#define NF_SBC_LIF_T NF_SBI_BAYESFLOW_T /* samples at dt 0.1 ms */
#define NF_SBC_LIF_DT NF_SBI_BAYESFLOW_DT_MS

/* Name, unit and prior interval of parameter j (0..5), the preset's (sbi.h);
 * NULL when out of range. */
const char *nf_sbc_lif_param_name(int j);
const char *nf_sbc_lif_param_unit(int j);
void nf_sbc_lif_bounds(double *lo, double *hi); /* [6] each */

/* Simulate n lif6 traces: theta [n][6], stimulus [n][501] pA -> v [n][501] mV,
 * plus independent Gaussian measurement noise of sd sigma_mV (0: none) keyed
 * by (noise_seed, first + i, sample), so a row is the same in any chunking. */
nf_status nf_sbc_lif_simulate(nf_engine *e, const float *theta, const float *stimulus, int64_t n,
                              double sigma_mV, uint64_t noise_seed, int64_t first, float *v);

/* Add that measurement noise to traces v [n][501] in place: sample t of row i
 * gets sigma_mV x a standard normal keyed by (noise_seed, first + i, t). */
nf_status nf_sbc_lif_add_noise(float *v, int64_t n, double sigma_mV, uint64_t noise_seed, int64_t first);

/* Rows [first, first+n) of the preset under seed (nf_sbi_bayesflow_lif_generate:
 * prior with its repair rule, coloured-noise stimulus), simulated with noise
 * of sd sigma_mV (noise keyed by seed). Outputs, each NULL when not wanted:
 * theta [n][6], stimulus [n][501] pA, traces [n][501] mV, summaries with the
 * stimulus s_stim [n][nf_sbc_lif_n_summaries(1)] and voltage only
 * s_volt [n][nf_sbc_lif_n_summaries(0)]. Works in chunks: scratch memory is
 * independent of n. */
nf_status nf_sbc_lif_table(nf_engine *e, uint64_t seed, int64_t first, int64_t n, double sigma_mV,
                           float *theta, float *stimulus, float *traces, float *s_stim, float *s_volt);

/* Branch of the preset's repair rule that made each row: 0 = V_res drawn
 * below E_L (continuous), 1 = V_res = E_L - 2 mV, 2 = V_res = -80 mV (clipped).
 * theta [n][6] in; cls [n] out. */
void nf_sbc_lif_classes(const float *theta, int64_t n, int32_t *cls);

/* The problem's estimator for a reference table theta [n][6], summ [n][k]
 * (k = nf_sbc_lif_n_summaries(with_stimulus)): nf_abc with opts (NULL:
 * defaults) and, unless repair_classes is 0, the repair rule's branch
 * (nf_sbc_lif_classes) as a latent class: 1 for V_res alone, 2 for every
 * parameter (nf_abc_set_classes). */
nf_status nf_sbc_lif_abc_create(const float *theta, const float *summ, int64_t n, int with_stimulus,
                                const nf_abc_opts *opts, int repair_classes, nf_abc **out);

/* L posterior draws for each of K observations s_obs [K][k]: post [K][L][6];
 * observation m is drawn with seed + 1000 + m. Errors name the observation. */
nf_status nf_sbc_lif_posterior(const nf_abc *a, const float *s_obs, int64_t K, int64_t L, uint64_t seed,
                               float *post);

/* ---- the posterior of observed traces (`neurofit sbi infer`) ---- */

/* Traces of the problem from a .npy file: float32 [K][501] or [501] (K = 1),
 * every value finite; *data [*rows][501] to free(). Errors name the file and
 * the first bad value. */
nf_status nf_sbc_lif_traces_read(const char *path, float **data, int64_t *rows);

/* Summaries of K traces v [K][501] mV, each with its stimulus (stim
 * [n_stim][501] pA, n_stim 1: one for all, or K) or from the voltage alone
 * (stim NULL): out [K][nf_sbc_lif_n_summaries(stim != NULL)]. */
nf_status nf_sbc_lif_summaries_rows(const float *v, int64_t K, const float *stim, int64_t n_stim, float *out);

/* The reference table of a dataset directory written by `neurofit sbi
 * simulate --preset bayesflow-lif` (nf_sbi_write_dataset with traces):
 * *theta [n][6] and *summaries [n][nf_sbc_lif_n_summaries(with_stimulus)] of
 * its traces after measurement noise of sd sigma_mV keyed by seed
 * (nf_sbc_lif_add_noise), with its stimulus.npy when with_stimulus; n >= 1000.
 * Both arrays are the caller's to free(). */
nf_status nf_sbc_lif_reference_read(const char *dir, int with_stimulus, double sigma_mV, uint64_t seed,
                                    float **theta, float **summaries, int64_t *n);

/* What posterior.json records besides the draws. */
typedef struct nf_sbc_lif_posterior_info {
    const char *reference;     /* "bayesflow-lif" or the dataset directory */
    int64_t n_reference;       /* its rows */
    double sigma_mV;           /* the noise model of the reference traces */
    int with_stimulus;         /* the stimulus was observed */
    uint64_t seed;
    const char *observed;      /* the observed traces' file */
    const char *stimulus_file; /* the stimulus file or NULL */
} nf_sbc_lif_posterior_info;

/* posterior.npy (float32 [K][L][6], model units) and posterior.json (the
 * settings, per trace the mean, sd and 5/50/95 % quantiles; the marker) as
 * one output set in dir (nf_stage, neurofit/fileio.h). */
nf_status nf_sbc_lif_posterior_write(const char *dir, const float *post, int64_t K, int64_t L,
                                     const nf_sbc_lif_posterior_info *info);

/* A whole SBC of the ABC posterior on the problem: an n_ref reference table
 * (seed), M test cases (seed + 1) with L posterior draws each, and a
 * predictive check with P posterior draws per case re-simulated against a
 * held-out replicate (same parameters and stimulus, fresh noise). Stimulus
 * observed: summaries with the stimulus, predictive draws driven by the
 * observed stimulus; otherwise voltage-only summaries and a fresh prior
 * stimulus per predictive draw. */
typedef struct nf_sbc_lif_opts {
    int64_t n_ref;      /* reference simulations (>= 1000; 100000 by default) */
    int64_t M, L, P;    /* SBC draws (500), posterior draws (99), predictive draws (50; >= 2) */
    double sigma_mV;    /* measurement noise (0.1) */
    int with_stimulus;  /* 1 (default): the stimulus is observed */
    int repair_classes; /* the repair rule's branch as a latent class (nf_sbc_lif_classes):
                           0 off, 1 per-class correction of V_res only, 2 of all parameters */
    uint64_t seed;      /* 2026 */
    nf_abc_opts abc;
} nf_sbc_lif_opts;

void nf_sbc_lif_opts_default(nf_sbc_lif_opts *o);

typedef struct nf_sbc_lif_times {
    double table_s, build_s, infer_s, ppc_s; /* wall seconds of each stage */
} nf_sbc_lif_times;

/* Runs it; *out is analysed and ready for nf_sbc_write. times may be NULL. */
nf_status nf_sbc_lif_run(nf_engine *e, const nf_sbc_lif_opts *o, nf_sbc_result **out, nf_sbc_lif_times *times);

#ifdef __cplusplus
}
#endif
#endif
