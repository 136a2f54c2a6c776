/* Scores that rank a simulated trace against a recorded one.
 *
 * - Trace error: RMSE of the simulation against the target, from the sum of
 *   squared errors the engine's fused scorer returns, normalised by the
 *   target's standard deviation (0 = perfect, 1 = as good as a flat line at the
 *   target's mean).
 * - Spike timing: Kistler et al. (1997) coincidence factor Gamma (as used by
 *   Jolivet et al. 2008): coincidences within +-window beyond what a Poisson
 *   train of the model's rate would reach by chance, normalised so that 1 is a
 *   perfect match and 0 chance level. The error is 1 - Gamma.
 * - Feature error (BluePyOpt/eFEL convention): sum over features of
 *   |f_model - f_target| / sigma; a feature the target has but the model
 *   cannot produce costs a fixed penalty (250 by default); features missing in
 *   the target are skipped.
 * - Combined score: w_rmse * nrmse + w_features * feature_error / n_features
 *   + w_spikes * (1 - Gamma); lower is better, non-finite inputs give +Inf.
 */
#ifndef NEUROFIT_SCORE_H
#define NEUROFIT_SCORE_H

#include "neurofit/status.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NF_FEATURE_PENALTY 250.0

/* RMSE normalised by target_sd: sqrt(sse / n) / target_sd. +Inf when sse is
 * not finite or n <= 0; target_sd <= 0 (flat target) returns the plain RMSE. */
double nf_score_nrmse(double sse, int64_t n, double target_sd);

/* Coincidence factor of two sorted spike-time lists (ms) over a recording of
 * duration_ms with half-window window_ms. Each data spike is matched to at
 * most one model spike and vice versa. Both empty: 1. Range: <= 1 (can be
 * negative, below chance). NaN when duration_ms or window_ms is not > 0. */
double nf_score_gamma(const float *t_data, int n_data, const float *t_model, int n_model,
                      double duration_ms, double window_ms);

/* Number of matched pairs within +-window_ms (the coincidence count used by
 * nf_score_gamma). */
int nf_score_coincidences(const float *t_data, int n_data, const float *t_model, int n_model,
                          double window_ms);

/* Feature error over n features. has_target[i] / has_model[i] say whether
 * each value exists (a missing eFEL feature is not 0). sigma[i] > 0 required
 * for features present in the target. Returns the sum; *n_used receives the
 * number of target features that entered it (may be NULL). */
double nf_score_features(const double *f_target, const uint8_t *has_target, const double *f_model,
                         const uint8_t *has_model, const double *sigma, int n, double penalty,
                         int *n_used);

typedef struct nf_score_weights {
    double rmse;     /* weight of the normalised RMSE (default 1) */
    double features; /* weight of the mean feature error in sigmas (default 1) */
    double spikes;   /* weight of 1 - Gamma (default 1) */
} nf_score_weights;

nf_score_weights nf_score_weights_default(void);

/* Parse "rmse=1,features=0.5,spikes=2" (any subset, any order) over *w.
 * Unknown names, negative or non-finite weights: NF_EINVAL with a message. */
nf_status nf_score_weights_parse(const char *spec, nf_score_weights *w);

/* Combined score (lower is better); +Inf when any weighted term is not finite. */
double nf_score_combined(const nf_score_weights *w, double nrmse, double feature_error,
                         int n_features, double gamma);

#ifdef __cplusplus
}
#endif
#endif
