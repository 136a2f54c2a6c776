/* Internals of the fit module shared by its source files. */
#ifndef NEUROFIT_FIT_INTERNAL_H
#define NEUROFIT_FIT_INTERNAL_H

#include "neurofit/fit.h"

/* A prepared recording: statistics and spike features of the target. */
typedef struct nf__fit_tgt {
    double sd, duration, s0, s1;
    float *spikes;
    int n_spikes;
    double feat[NF_FIT_N_FEATURES], sigma[NF_FIT_N_FEATURES];
    double sigma_search[NF_FIT_N_FEATURES]; /* the optimiser's relaxed sigmas */
    uint8_t has[NF_FIT_N_FEATURES];
} nf__fit_tgt;

typedef struct nf__fit_score_out {
    double rmse, nrmse, fe, gamma, combined;
    double search; /* the optimiser's objective (relaxed spike count) */
    int n_used;
    double feat[NF_FIT_N_FEATURES];
    uint8_t has[NF_FIT_N_FEATURES];
} nf__fit_score_out;

/* 1 when model m reports spikes as upward crossings of v_detect (hh, fhn,
 * morris_lecar, hindmarsh_rose), 0 when it reports its reset. */
int nf__fit_spikes_at_crossing(const nf_model *m);

/* Prepare a recording; spike times at the threshold crossing (at_crossing)
 * or at the peak after it, to match the model's convention. */
nf_status nf__fit_prepare_target(const nf_fit_target *t, int idx, double threshold, int at_crossing,
                                 nf__fit_tgt *out);

/* Score one simulation: spk holds n_spk stored spike times of n_total. */
void nf__fit_score(const nf__fit_tgt *tg, const nf_score_weights *w, double window, double sse,
                   int64_t n_obs, int valid, const float *spk, int n_spk, int n_total,
                   nf__fit_score_out *o);

/* Monotonic seconds. */
double nf__fit_now_s(void);
/* The checks of nf_fit's options that need no recordings or models. */
nf_status nf__fit_check_options(const nf_fit_options *o);
/* One pass of nf_fit (no survey / refine); fit_refine.c builds on it. */
nf_status nf__fit_once(const nf_fit_target *targets, int n_targets, const nf_fit_options *opt, nf_fit_result **out);
/* Sort each recording's records best first and number their ranks. */
void nf__fit_rank(nf_fit_result *r);

/* 1 when nf_fit_guess has a regression for model m. */
int nf__fit_guess_has(const nf_model *m);
/* opt's starts plus nf_fit_guess's for every (model, recording) whose model
 * has a regression and no caller start; *starts and *store (the parameter
 * vectors) are the caller's to free; both NULL when nothing was added. */
nf_status nf__fit_guess_starts(const nf_fit_target *targets, int n_targets, const nf_fit_options *opt,
                               nf_fit_start **starts, double **store, int *n_starts);

#endif
