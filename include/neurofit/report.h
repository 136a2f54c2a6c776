/* A self-contained HTML report of fits: per recording (or group of sweeps:
 * a cell), the target trace against the best model's trace (whole and zoomed
 * on a spike), the stimulus, convergence curves per model, and the ranking
 * table; for a group of several sweeps also every sweep recorded against
 * the best model (a small-multiples grid), the f-I curve (spike rate in the
 * stimulus window against the step) recorded and of each model, and the
 * fitted against the held-out scores. Plots are inline SVG: the page needs
 * no scripts, fonts or network. Written atomically. */
#ifndef NEUROFIT_REPORT_H
#define NEUROFIT_REPORT_H

#include "neurofit/status.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One model on one sweep of a group. */
typedef struct nf_report_fit_sweep {
    const float *trace; /* model voltage on the sweep's grid, or NULL */
    double combined, gamma, rate_hz;
    int spikes;
} nf_report_fit_sweep;

/* Scores of one model over a group's fitted or held-out sweeps (n_sweeps 0: none). */
typedef struct nf_report_scores {
    int n_sweeps;
    double combined, count_error, gamma, gamma_norm, sub_rmse_mV;
} nf_report_scores;

typedef struct nf_report_fit {
    const char *model;
    double combined, nrmse, feature_error, gamma; /* scores (lower combined is better) */
    int64_t evals;
    const char *stop_reason;  /* may be NULL */
    const char *params_text;  /* e.g. "C_m=151 pF, g_L=9.8 nS"; may be NULL */
    const float *trace;       /* model voltage on the recording's grid, or NULL */
    const double *convergence; /* best combined score after each generation, or NULL */
    int n_convergence;
    const nf_report_fit_sweep *sweeps; /* [the recording's n_sweeps] or NULL */
    nf_report_scores train, test;
} nf_report_fit;

/* One sweep of a group. */
typedef struct nf_report_sweep {
    const char *name;
    double dt_ms;
    int64_t n;
    const float *v_target; /* mV */
    int test;              /* 1: held out */
    double step_pA;        /* the step: mean current in the stimulus window less the baseline */
    double rate_hz;        /* recorded spikes in the window per second */
    int spikes;            /* recorded spikes in the sweep */
} nf_report_sweep;

typedef struct nf_report_recording {
    const char *name;     /* file and sweep, shown as the section title */
    double dt_ms;
    int64_t n;            /* samples of v_target (and of each fit's trace) */
    const float *v_target; /* mV */
    const float *i_stim;   /* pA, or NULL */
    const nf_report_fit *fits; /* ranked, best first */
    int n_fits;
    const nf_report_sweep *sweeps; /* [n_sweeps] a group's sweeps, or NULL (one recording) */
    int n_sweeps;
    int ranked_on_test;    /* the fits are ranked by their held-out scores */
    double gamma_int;      /* the group's intrinsic reliability (NaN: no repeated sweeps) */
} nf_report_recording;

nf_status nf_report_write_html(const char *path, const char *title, const nf_report_recording *recs,
                               int n_recs);

#ifdef __cplusplus
}
#endif
#endif
