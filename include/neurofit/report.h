/* A self-contained HTML report of fits: per recording, the target trace
 * against the best model's trace (whole and zoomed on a spike), the stimulus,
 * convergence curves per model, and the ranking table. Plots are inline SVG:
 * the page needs no scripts, fonts or network. Written atomically. */
#ifndef NEUROFIT_REPORT_H
#define NEUROFIT_REPORT_H

#include "neurofit/status.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nf_report_fit {
    const char *model;
    double combined, nrmse, feature_error, gamma; /* scores (lower combined is better) */
    int64_t evals;
    const char *stop_reason;  /* may be NULL */
    const char *params_text;  /* e.g. "C_m=151 pF, g_L=9.8 nS"; may be NULL */
    const float *trace;       /* model voltage on the recording's grid, or NULL */
    const double *convergence; /* best combined score after each generation, or NULL */
    int n_convergence;
} nf_report_fit;

typedef struct nf_report_recording {
    const char *name;     /* file and sweep, shown as the section title */
    double dt_ms;
    int64_t n;            /* samples of v_target (and of each fit's trace) */
    const float *v_target; /* mV */
    const float *i_stim;   /* pA, or NULL */
    const nf_report_fit *fits; /* ranked, best first */
    int n_fits;
} nf_report_recording;

nf_status nf_report_write_html(const char *path, const char *title, const nf_report_recording *recs,
                               int n_recs);

#ifdef __cplusplus
}
#endif
#endif
