/* Fitting neuron models to current-clamp recordings (the main job).
 *
 * nf_fit takes recordings (voltage + injected current on a time grid) and
 * candidate models, optimises every model's parameters on every recording
 * with a population optimiser (CMA-ES with IPOP restarts, DE or SHADE), and
 * ranks the models per recording. Its shape follows the Python auto-fit
 * module that inspired neurofit, fit(voltage, current, dt, threshold,
 * candidates, top_k) -> ranked records, generalised to many recordings and
 * with real optimisation. nf_fit_groups fits groups of sweeps (a cell: one
 * parameter set per model across its sweeps, some of them held out and
 * scored apart); nf_fit is nf_fit_groups with one group per recording.
 *
 * Batch-first: in each generation, the populations of every still-running
 * group of one model are one engine call per sweep shape (sample count and
 * interval): groups x population x the group's fitted sweeps simulations;
 * models with different state sizes are separate calls. The engine scores
 * each simulation in the same pass (sum of squared errors against the
 * target, spike times); full traces are simulated only once at the end for
 * the best parameters, unless an objective needs them (eFEL, passive).
 *
 * Score of a candidate on one sweep (lower is better), see neurofit/score.h:
 *   combined = w_rmse * RMSE / sd(target)   (rmse_cut_ms: without +-cut around recorded spikes)
 *            + w_features * mean over target features of |f_model - f_target| / sigma
 *              (250 for a feature the target has and the model cannot produce)
 *            + w_spikes * (1 - Gamma)   (coincidence factor, window 2 ms)
 *            + w_efel * mean |eFEL objective - target| / sigma   (options.efel)
 *            + w_fi * |spike rate in the window - target's| / max(2 Hz, 10 %)
 *            + w_passive * mean |passive response - target's| / sigma (hyperpolarising sweeps)
 * Joint score of a group: for each term its mean over the group's fitted
 * sweeps that define it (eFEL: the target has one of the features; passive:
 * a hyperpolarising sweep with a response), weighted and summed; +Inf when
 * any simulation is invalid. One sweep: its own score.
 * The features of the search are computed from spike times (spike count,
 * mean frequency, time to first and last spike, ISI CV, adaptation index) with
 * sigma = max(floor, 10 % of the target value), except the spike count's
 * NF_FIT_COUNT_SIGMA in the reported score (documented in README.md). The
 * optimiser minimises the same score with the relaxed count sigma; every
 * evaluated point is also scored with the reported one, and the best by that
 * is the fit's result.
 * Invalid simulations (NaN, runaway) score +Inf.
 *
 * Sub-stepping: when a recording's sample interval is larger than the model's
 * largest stable step (nf_model.dt_max_ms), the model runs k sub-steps per
 * sample (the current held over the sample) and is compared at every k-th step.
 *
 * Determinism: the result depends on the inputs and the seed only (not on the
 * thread count), and a recording's records on that recording only: fitted
 * alone or with others, in any order, it gets the same records bit for bit
 * (its searches are seeded by its samples and the model, not its place). Checkpoints (options.checkpoint_dir) save the optimisers
 * after every generation; a resumed run ends with the same result as an
 * uninterrupted one.
 */
#ifndef NEUROFIT_FIT_H
#define NEUROFIT_FIT_H

#include "neurofit/engine.h"
#include "neurofit/optim.h"
#include "neurofit/score.h"
#include "neurofit/status.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One recording (one sweep) to fit. Arrays are borrowed during nf_fit. */
typedef struct nf_fit_target {
    const char *name;   /* label, e.g. "cell1.abf sweep 3" */
    const float *v;     /* [n] membrane potential, mV (finite) */
    const float *i;     /* [n] injected current, pA (finite) */
    int64_t n;          /* samples (>= 10) */
    double dt_ms;       /* sample interval, > 0 */
    double stim_start_ms, stim_end_ms; /* feature window; both 0: found from the current */
    const char *stim_window;           /* optional: how the window was chosen (results.json says it) */
} nf_fit_target;

/* A group of sweeps fitted with one parameter set per model: a cell
 * (nf_fit_groups). Its sweeps may differ in length and sample interval. The
 * fitted ("train") sweeps make the joint score the optimiser minimises; the
 * held-out ("test") ones are simulated with each model's best parameters
 * after the fit and scored the same way. Arrays are borrowed during the call. */
typedef struct nf_fit_group {
    const char *name;     /* e.g. "cell1.abf"; NULL: the first sweep's name */
    const int *sweeps;    /* [n_sweeps] indices into the targets (each at most once) */
    const uint8_t *test;  /* [n_sweeps] 1: held out; NULL: every sweep fitted */
    int n_sweeps;         /* >= 1, at least one fitted */
} nf_fit_group;

typedef struct nf_fit_progress {
    int model_index, n_models;
    const char *model;
    int64_t generation;
    int targets_running, n_targets;
    double best_score;    /* best combined score of this model over the running targets */
    int64_t sims_done;    /* simulations so far, all models */
    double neuron_steps;  /* neuron-steps so far */
    double elapsed_s;
    /* The pass runs all its models at once: in each of its generations
     * (round) every running model has one generation in flight, and each
     * model's next one is submitted as soon as its last is told. */
    int64_t round;        /* generations of the pass so far (of the current pass: survey or refinement) */
    int models_running;   /* models of the pass still searching */
    int64_t in_flight;    /* simulations submitted to the engine and not yet waited for, after this model
                             submitted its next generation: what a GPU holds at once (nf_engine_in_flight) */
} nf_fit_progress;

/* Return non-zero to stop the fit (it then returns NF_EINTERRUPTED after
 * writing a checkpoint when checkpoints are on). */
typedef int (*nf_fit_progress_fn)(const nf_fit_progress *p, void *user);

/* A starting point for one model's search, e.g. an earlier fit's best
 * parameters: the CMA-ES mean, also evaluated as a member of the first
 * generation (DE and SHADE: the first member of the population), so the fit
 * ends at least as good as its start. Searches without one start at the
 * model's defaults. */
typedef struct nf_fit_start {
    const char *model;    /* one of the fit's models */
    int target;           /* index of the recording; -1: every recording without its own */
    const double *params; /* [model n_params] in model units, inside the fitting bounds */
    double sigma;         /* CMA-ES step around it, fraction of the box, (0, 1]; 0: the
                             options' start_sigma */
} nf_fit_start;

typedef struct nf_fit_options {
    const char *const *models; /* model names; NULL: every registered model */
    int n_models;
    nf_optim_kind optimizer;   /* NF_OPTIM_CMAES (default), NF_OPTIM_DE, NF_OPTIM_SHADE */
    int64_t budget;            /* evaluations per (recording, model); default 10000 */
    int popsize;               /* 0: CMA-ES NF_FIT_CMAES_LAMBDA, DE/SHADE their own default */
    int restarts;              /* CMA-ES IPOP restarts at most (default 9; the budget also ends them) */
    nf_optim_bounds bounds;    /* CMA-ES box handling: NF_OPTIM_BOUNDS_REFLECT (default: real
                                  fits often press against the bounds), _RESAMPLE (better when
                                  the optimum lies inside the box), _TRANSFORM (pycma's) */
    int top_k;                 /* models kept per recording in results.json (default 3) */
    uint64_t seed;
    nf_backend backend;
    int threads;               /* CPU threads, <= 0: all */
    nf_score_weights weights;
    double threshold_mV;       /* spike detection in the recording (-20) */
    double gamma_window_ms;    /* coincidence window (2) */
    const nf_fit_start *starts; /* n_starts starting points (NULL: every search at the defaults) */
    int n_starts;
    double start_sigma;        /* CMA-ES step size around a given start, fraction of the box
                                  width, (0, 1] (default 0.1: refine; 0.3 is a fresh search) */
    /* Survey, then refine: with refine_k > 0 (and more models than that),
     * every model is first fitted with survey_fraction x budget evaluations,
     * then each recording's refine_k leading models again from their survey
     * best (step start_sigma) with the rest of the recording's evaluations
     * shared among them: (1 - survey_fraction) x budget x n_models / refine_k
     * each. Each model keeps the better of its two fits. The total per
     * recording stays n_models x budget. Default 2; 0: one pass. */
    int refine_k;
    double survey_fraction;    /* (0, 1), default 0.5 */
    /* 1 (default): the first search of every model that nf_fit_guess can
     * read off a recording (and that has no caller start) begins at that
     * guess, step guess_sigma; 0: at the model's defaults. */
    int guess;
    double guess_sigma;        /* (0, 1], default 0.03 */
    const char *checkpoint_dir; /* NULL: no checkpoints */
    int resume;                /* continue from checkpoint_dir */
    nf_fit_progress_fn progress;
    void *progress_user;
    /* ---- objectives beyond the three weights (see "Score" above) ---- */
    double rmse_cut_ms;        /* > 0: the RMSE term leaves out the samples within +-rmse_cut_ms of
                                  every recorded spike (a subthreshold RMSE); 0 (default): all */
    const char *efel;          /* eFEL features as objectives, e.g. "AP_amplitude,AHP_depth_abs"
                                  (a vector feature by its mean); NULL (default): none */
    double w_efel;             /* weight of their mean z-score (default 1; used when efel is set) */
    double w_fi;               /* weight of the f-I error (default 0) */
    double w_passive;          /* weight of the passive responses' error (default 0) */
    const char *devices;       /* CUDA devices each batch is split over, "all" or "0,1,..."
                                  (nf_engine_use_devices); NULL (default): device 0. With the
                                  cpu backend (or auto without a GPU): NF_EINVAL */
} nf_fit_options;

void nf_fit_options_default(nf_fit_options *o);

/* Parse score weights "rmse=1,features=1,spikes=1,efel=1,fi=0.5,passive=1"
 * (any subset, any order) into o: rmse, features and spikes into o->weights
 * (nf_score_weights_parse), efel, fi and passive into o->w_efel, w_fi and
 * w_passive. Unknown names, negative or non-finite weights: NF_EINVAL, o
 * unchanged. */
nf_status nf_fit_weights_parse(const char *spec, nf_fit_options *o);

/* Starting points from an earlier fit's results.json (path): for each of
 * targets[0..n_targets) whose name matches a recording there, the parameters
 * of each of that recording's top models that opt fits (opt->models; NULL:
 * every model). *starts [*n_starts] and the parameters they point into
 * (*store) are the caller's to free(). Errors: a file that is not a
 * neurofit results.json, a parameter without a finite value (NF_EINVAL), no
 * matching recording or model (NF_ENOTFOUND); messages name the file. */
nf_status nf_fit_starts_read(const char *path, const nf_fit_target *targets, int n_targets,
                             const nf_fit_options *opt, nf_fit_start **starts, double **store,
                             int *n_starts);

/* A starting point for model m's search read off recording t by regression
 * (the voltage on the right-hand side makes most parameters linear; the
 * rest is a small grid; src/fit/fit_guess.c): *found = 1 and params
 * [m->n_params] inside the fitting bounds, or *found = 0 and the defaults
 * when m has no such regression (it has for lif6, lapicque, slif, glif1-3,
 * alpha_lif, izhikevich, qif, adex, eif and hh) or the
 * recording does not support it. threshold_mV: spike detection for
 * recordings with spike shapes (resets are found as one-sample drops). */
nf_status nf_fit_guess(const nf_model *m, const nf_fit_target *t, double threshold_mV, double *params,
                       int *found);

/* Model steps per recording sample: ceil(dt_ms / m->dt_max_ms), at least 1. */
int nf_fit_substeps(const nf_model *m, double dt_ms);

/* CMA-ES population of a fit unless popsize says otherwise (IPOP doubles it at
 * each restart). Measured (bench/results/fit.md): 32 converges further per
 * evaluation than CMA-ES's own 4 + 3 ln n on these piecewise-flat scores and
 * fills the CPU lanes better; 64 was worse. */
#define NF_FIT_CMAES_LAMBDA 32

/* Sigma of the spike-count feature in the reported (combined) score: one
 * spike too many or too few costs 10 sigma, so a model that gets the count
 * right wins unless its trace is much worse. The optimiser itself searches
 * with the relaxed sigma max(1, 10 % of the count) of the list below: the
 * strict count turns the landscape into a staircase that CMA-ES crosses
 * badly (measured: adex/izhikevich fits 2x further from the truth's score),
 * while the best point is kept by the reported score, so the strictness costs
 * the search nothing. Measured on the shared 17o05028 ABF (16 sweeps, lif6 /
 * adex / izhikevich): the best model's spike count is exact in 16/16 sweeps
 * (10/16 with the relaxed sigma), median RMSE 20.9 mV instead of 19.9. */
#define NF_FIT_COUNT_SIGMA 0.1

/* The spike-time features of the search, in this order. */
#define NF_FIT_FEATURE_LIST(X)                                                 \
    X(spike_count, "1", 1.0)                                                   \
    X(mean_frequency, "Hz", 1.0)                                               \
    X(time_to_first_spike, "ms", 2.0)                                          \
    X(time_to_last_spike, "ms", 2.0)                                           \
    X(ISI_CV, "1", 0.05)                                                       \
    X(adaptation_index, "1", 0.02)
enum {
#define NF__FIT_FEAT_ENUM(name, unit, floor) NF_FIT_F_##name,
    NF_FIT_FEATURE_LIST(NF__FIT_FEAT_ENUM)
#undef NF__FIT_FEAT_ENUM
    NF_FIT_N_FEATURES
};
const char *nf_fit_feature_name(int f);
const char *nf_fit_feature_unit(int f);

/* Spike-time features of one train (sorted, ms) for a stimulus window:
 * values[f] and has[f] (0 when the feature does not exist, e.g. ISI_CV with
 * fewer than 3 spikes). */
void nf_fit_spike_features(const float *t, int n, double stim_start, double stim_end, double *values,
                           uint8_t *has);

/* The cut around each recorded spike of the reported subthreshold RMSE
 * (sub_rmse_mV) when the fit's RMSE term has none (rmse_cut_ms 0): +-5 ms. */
#define NF_FIT_REPORT_CUT_MS 5.0

/* The passive responses of a hyperpolarising step (the stimulus window's
 * mean current below the baseline's): input resistance (steady-state
 * deflection / step, MOhm), sag ((V_ss - V_min) / (V_base - V_min), 0 none)
 * and membrane time constant (ms from the step's start to 63 % of the way to
 * V_min), on a 1 ms running mean. */
#define NF_FIT_N_PASSIVE 3
enum { NF_FIT_P_input_resistance, NF_FIT_P_sag, NF_FIT_P_tau };
const char *nf_fit_passive_name(int p); /* "input_resistance", "sag", "tau"; NULL out of range */
const char *nf_fit_passive_unit(int p); /* "MOhm", "1", "ms" */
/* The passive responses of trace v [n] (mV, sample interval dt_ms) to a step
 * of step_pA (< 0) over [s0, s1] ms: values[p] and has[p] (0 when the step is
 * not hyperpolarising or the trace does not show the response). */
void nf_fit_passive(const float *v, int64_t n, double dt_ms, double s0, double s1, double step_pA,
                    double *values, uint8_t *has);

/* Scores over a set of sweeps (the fitted or the held-out ones of a group),
 * with one model's parameters. NaN where no sweep defines the value. */
typedef struct nf_fit_scores {
    int n_sweeps;           /* 0: no such sweeps (then every value is NaN) */
    double combined;        /* the joint score (see "Score" above) */
    double rmse_mV;         /* over all their samples */
    double sub_rmse_mV;     /* over their samples farther than the cut from a recorded spike */
    double nrmse;           /* mean of the sweeps' RMSE term (RMSE / sd, with rmse_cut_ms) */
    double feature_error;   /* mean of the sweeps' spike-feature errors (sums in sigmas) */
    double gamma;           /* mean coincidence factor over the sweeps with recorded spikes */
    double gamma_norm;      /* gamma / the group's intrinsic reliability (NaN without repeats) */
    double count_error;     /* mean |spikes - recorded spikes| per sweep */
    double efel_error, fi_error, passive_error; /* mean z-scores of those objectives */
} nf_fit_scores;

/* One sweep of a group scored with a record's parameters. */
typedef struct nf_fit_sweep {
    int target;             /* index into the targets */
    int test;               /* 1: held out */
    double combined;        /* this sweep's weighted terms */
    double rmse_mV, sub_rmse_mV, nrmse, feature_error, gamma;
    int n_features;
    int spikes;             /* the model's spikes in the whole sweep */
    double rate_hz;         /* its spikes in the stimulus window per second (the f-I point) */
    double efel_error, fi_error, passive_error; /* NaN when the sweep has no such term */
    double *efel;           /* [nf_fit_result.n_efel] the model's objective features (NaN: missing) */
    double passive[NF_FIT_N_PASSIVE];
    uint8_t has_passive[NF_FIT_N_PASSIVE];
    float *trace;           /* [target n] simulated voltage on the sweep's grid */
    int valid;
} nf_fit_sweep;

/* One fitted (group, model) pair; nf_fit: one (recording, model) pair. */
typedef struct nf_fit_record {
    int target;                /* index of the group (nf_fit: of the recording) */
    const nf_model *model;
    int rank;                  /* 1 = best model of this group */
    int model_slot;            /* index of the model in nf_fit_result.models */
    float *params;             /* [model->n_params] */
    /* the fitted sweeps' scores (one sweep: that sweep's): rmse_mV over all
     * their samples, nrmse, feature_error and gamma their means, combined the
     * joint score (train.combined) */
    double rmse_mV, nrmse, feature_error, gamma, combined;
    int n_features;            /* target features that entered feature_error (first fitted sweep) */
    double features_model[NF_FIT_N_FEATURES], features_target[NF_FIT_N_FEATURES]; /* first fitted sweep */
    uint8_t has_model[NF_FIT_N_FEATURES], has_target[NF_FIT_N_FEATURES];
    int64_t evals, generations;
    int restarts;
    const char *stop_reason;
    double *convergence;       /* best combined score after each generation */
    int n_convergence;
    float *trace;              /* the first fitted sweep's simulated voltage (sweeps[k].trace, not separately owned) */
    int valid;                 /* every simulation of the best parameters was finite */
    nf_fit_sweep *sweeps;      /* [n_sweeps] every sweep of the group, in the group's order */
    int n_sweeps;
    nf_fit_scores train, test; /* fitted and held-out sweeps (test.n_sweeps 0: none held out) */
} nf_fit_record;

/* What the fit found in each recording (spikes timed at their peaks). */
typedef struct nf_fit_target_info {
    double stim_start_ms, stim_end_ms;     /* the feature window used */
    double features[NF_FIT_N_FEATURES];    /* its spike-time features */
    double sigma[NF_FIT_N_FEATURES];       /* the sigma of each feature */
    uint8_t has[NF_FIT_N_FEATURES];
    int spikes;                            /* recorded spikes in the whole sweep */
    double step_pA;                        /* mean current in the window less the baseline before it */
    double rate_hz;                        /* spikes in the window per second */
    double passive[NF_FIT_N_PASSIVE], passive_sigma[NF_FIT_N_PASSIVE];
    uint8_t has_passive[NF_FIT_N_PASSIVE];
    double *efel, *efel_sigma;             /* [nf_fit_result.n_efel] objective features and their sigmas (NaN: missing) */
} nf_fit_target_info;

/* A group as fitted. */
typedef struct nf_fit_group_info {
    char *name;
    int *sweeps;               /* [n_sweeps] target indices */
    uint8_t *test;             /* [n_sweeps] */
    int n_sweeps, n_test;
    double gamma_int;          /* intrinsic reliability: mean Gamma between the recorded spike trains of
                                  sweeps with the same current (both orders); NaN without such repeats */
    int ranked_on_test;        /* 1: the records are ranked by the held-out joint score */
} nf_fit_group_info;

typedef struct nf_fit_result {
    int n_targets, n_models;
    nf_fit_target_info *targets; /* [n_targets] */
    const nf_model **models;   /* [n_models] */
    nf_fit_record *records;    /* [n_groups][n_models], each group's row ranked best first
                                  (nf_fit: n_groups == n_targets, group r is recording r) */
    double seconds;
    int64_t sims;              /* simulations run */
    double neuron_steps;
    nf_backend backend;
    int n_groups;
    nf_fit_group_info *groups; /* [n_groups] */
    int n_efel;                /* eFEL objectives (nf_fit_options.efel) */
    int *efel_ids;             /* [n_efel] their ids (neurofit/features.h) */
} nf_fit_result;

/* Fit every recording on its own: one group per recording, every sweep
 * fitted (the shape of the Python auto-fit module's fit()). */
nf_status nf_fit(const nf_fit_target *targets, int n_targets, const nf_fit_options *opt,
                 nf_fit_result **out);

/* Fit groups of sweeps: for each group and model one parameter set that
 * minimises the joint score over the group's fitted sweeps; every candidate
 * is simulated on all of them in the same engine call (population x sweeps
 * per shape of sweeps), and each group's guesses pool its fitted sweeps.
 * Held-out sweeps are scored afterwards; a group with any is ranked by its
 * held-out joint score. Starting points (opt->starts) name groups by index. */
nf_status nf_fit_groups(const nf_fit_target *targets, int n_targets, const nf_fit_group *groups, int n_groups,
                        const nf_fit_options *opt, nf_fit_result **out);

/* A fitted model to score on recordings it was not fitted to. */
typedef struct nf_fit_candidate {
    const char *model;     /* model name */
    const double *params;  /* [n_params] model units, inside the fitting bounds */
} nf_fit_candidate;

/* Score fitted models on recordings (neurofit predict): one group holding
 * every target as a held-out sweep, one record per candidate (ranked by the
 * held-out joint score), scored exactly as a fit scores held-out sweeps with
 * opt's weights, objectives, threshold and window (its search options are
 * not used). A model may appear more than once (e.g. two cells' fits). */
nf_status nf_fit_score(const nf_fit_target *targets, int n_targets, const nf_fit_candidate *candidates,
                       int n_candidates, const nf_fit_options *opt, nf_fit_result **out);
void nf_fit_result_destroy(nf_fit_result *r);

/* Fitted models from a results.json (path): for each group (recording entry)
 * whose name matches cell (NULL: every group), its model of rank `rank`
 * (1-based; 0: every model listed), and the fit's scoring options (weights,
 * objectives, threshold, window; the defaults for what the file lacks), so
 * that nf_fit_score scores as the fit did. Release with
 * nf_fit_candidates_free. */
typedef struct nf_fit_candidates {
    nf_fit_candidate *c; /* [n], params pointing into store */
    char **labels;       /* [n] "group name: model (rank K)" */
    double *store;
    int n;
    nf_fit_options options; /* options.efel points into efel */
    char *efel;
} nf_fit_candidates;
nf_status nf_fit_candidates_read(const char *path, const char *cell, int rank, nf_fit_candidates *out);
void nf_fit_candidates_free(nf_fit_candidates *c);

/* The embedded example recording (`neurofit fit --example`, Python's
 * neurofit.example()): an adapting AdEx cell (the adex defaults, simulated on
 * the CPU) under a hyperpolarising step (-0.25 x drive, 50-200 ms) and a
 * depolarising one (drive_pA, 250-650 ms), NF_FIT_EXAMPLE_N samples every
 * NF_FIT_EXAMPLE_DT_MS (700 ms), plus 0.5 mV of Gaussian measurement noise
 * from a fixed generator: the same samples on every machine. Most of its
 * spikes never show a sample above -20 mV (the sample that reaches V_peak is
 * the reset); a fit finds them as resets. v_mV, i_pA: [NF_FIT_EXAMPLE_N],
 * caller-owned. */
#define NF_FIT_EXAMPLE_N 7001
#define NF_FIT_EXAMPLE_DT_MS 0.1
#define NF_FIT_EXAMPLE_NAME "example: AdEx cell (adex defaults) + 0.5 mV noise"
nf_status nf_fit_example(double *v_mV, double *i_pA);

/* The directory `neurofit fit` keeps its checkpoints in, inside the output
 * directory (nf_fit_options.checkpoint_dir = DIR/NF_FIT_CHECKPOINT_DIR): part
 * of the fit's output set, so nf_fit_write's commit removes it. */
#define NF_FIT_CHECKPOINT_DIR "checkpoint"

/* Write a fit's outputs into dir as one set (staged inside dir, committed
 * with results.json last, nf_stage in neurofit/fileio.h): results.json (the
 * top opt->top_k models per recording), results.csv, best_traces.npy
 * ([n_targets][max n] f4, NaN padded), report.html and, with all_traces,
 * model_traces.npy (float32 [n_targets][n_models][max n], every model's best
 * trace in the order of results.json's "models", NaN padded). A
 * model_traces.npy or checkpoint directory of an earlier fit in dir is
 * removed. */
nf_status nf_fit_write(const nf_fit_result *r, const nf_fit_target *targets, const nf_fit_options *opt,
                       int all_traces, const char *dir);

#ifdef __cplusplus
}
#endif
#endif
