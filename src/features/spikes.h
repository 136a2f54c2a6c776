/* The spike-train layer (src/features/spikes.c): spike detection on voltage
 * traces, spike times, inter-spike intervals (ISIs) and the statistics
 * computed from them, written once for every module that needs them. It sits
 * below the features, the fit, the SBI summaries and SBC, and calls nothing
 * above src/core.
 *
 * What each call site uses (results identical to the code each replaces):
 *  - features (src/features): nf__spk_peaks (eFEL's peaks) and
 *    nf__spk_rising (the simple set's crossings); ISI_CV, adaptation_index(2),
 *    mean_frequency, simple_mean_isi and simple_cv_isi from the statistics
 *    below on an nf__spikes_d train.
 *  - fit (src/fit/fit.c): nf__fit_prepare_target's detection loop is
 *    nf__spk_detect (threshold crossings with hysteresis, peak or crossing
 *    time, resets at constant current; options: threshold, 5 mV hysteresis,
 *    10 mV reset drop, 3 ms quiet, at_crossing); nf_fit_spike_features is, on
 *    s = nf__spikes_f(t, n): nf__spk_window(&s, s0, s1, &a, &b); spike_count n;
 *    time_to_first/last_spike nf__spk_time(&s, a or b - 1) - s0 (m = b - a
 *    >= 1); mean_frequency nf__spk_mean_frequency(&s, a, b, s0) when the last
 *    time is > 0; ISI_CV nf__spk_isi_cv(&s, a, b) when m >= 3 and finite;
 *    adaptation_index nf__spk_adaptation(&s, a, b) when m >= 4 and finite.
 *  - SBI summaries: kernels/sbi_summary.h (nf__sbi_summary_one), the same
 *    rules written once for the host and the device: first spike t[0], mean
 *    ISI (t[kept-1] - t[0]) in float over kept - 1 in double (kept > 1),
 *    v_mean_mV and v_sd_mV as nf__trace_mean_sd_f (which calls it).
 *  - SBC (src/sbc/lif_summaries.c): spikes nf__spk_drops_f(v, n, drop, sp);
 *    on s = nf__spikes_idx(sp, S, dt_ms): t_first nf__spk_time(&s, 0), isi
 *    nf__spk_mean_isi(&s, 0, S); the voltage-only sd from nf__trace_mean_sd_f.
 *
 * A spike train is a view of n sorted spike times stored as doubles (ms),
 * floats (ms) or sample indices (x dt ms). Differences between two spikes
 * are taken in the stored type first (float - float, index - index) and then
 * converted to double, so each caller keeps its own arithmetic to the last
 * bit. Statistics that cannot be computed return NaN; callers decide what a
 * missing value means for them. Nothing here allocates except nf__spk_detect.
 */
#ifndef NEUROFIT_SPIKES_H
#define NEUROFIT_SPIKES_H

#include "neurofit/status.h"

#include <stdint.h>

typedef struct nf__spikes {
    const double *t;    /* [n] ms, or NULL */
    const float *tf;    /* [n] ms, or NULL */
    const int64_t *idx; /* [n] sample indices, or NULL */
    double dt_ms;       /* sample interval of idx */
    int64_t n;
} nf__spikes;

static inline nf__spikes nf__spikes_d(const double *t, int64_t n)
{
    nf__spikes s = {t, 0, 0, 0.0, n};
    return s;
}
static inline nf__spikes nf__spikes_f(const float *t, int64_t n)
{
    nf__spikes s = {0, t, 0, 0.0, n};
    return s;
}
static inline nf__spikes nf__spikes_idx(const int64_t *idx, int64_t n, double dt_ms)
{
    nf__spikes s = {0, 0, idx, dt_ms, n};
    return s;
}

/* ---- detection --------------------------------------------------------- */

/* eFEL's peaks: upward crossings (v[k-1] < thr < v[k]) and downward ones
 * (v[k-1] > thr > v[k]); downward crossings before the first upward one are
 * dropped, and so is an upward crossing with no downward one after it. The
 * peak is the first highest sample from an upward crossing to its downward
 * one. up, peaks: scratch and output, [n]. Returns the count; *reason is set
 * (and the count 0) when eFEL reports detection as failed: no crossing at
 * all, or none in one of the two directions. */
int64_t nf__spk_peaks(const double *v, int64_t n, double thr, int64_t *up, int64_t *peaks, const char **reason);

/* Upward crossings v[k] <= thr < v[k + 1]; idx[] (at most n - 1) receives k.
 * Returns the count. */
int64_t nf__spk_rising(const double *v, int64_t n, double thr, int64_t *idx);

/* One-sample drops v[k] - v[k-1] < -drop_mV, not on the sample right after
 * the previous drop; idx[] (at most n - 1) receives k. Returns the count. */
int64_t nf__spk_drops_f(const float *v, int64_t n, double drop_mV, int64_t *idx);

/* Spikes of a recording as the fit compares them with its models. A spike
 * starts at an upward crossing (v[k-1] < threshold <= v[k]) and lasts until V
 * falls hysteresis_mV below the threshold; it is timed at the crossing,
 * interpolated (at_crossing), or at its highest sample. A fall of
 * reset_drop_mV or more within one sample, with the current unchanged and not
 * within quiet_ms after a threshold spike's end, is a spike too (a reset),
 * timed at the sample before the fall (reset_drop_mV 0: off). */
typedef struct nf__spk_detect_opts {
    double threshold_mV, hysteresis_mV, reset_drop_mV, quiet_ms;
    int at_crossing;
} nf__spk_detect_opts;

/* v, i: [n] mV, pA (i may be NULL when reset_drop_mV is 0). *times
 * (malloc'd, caller frees; NULL when there is none) receives *n_times spike
 * times in ms. */
nf_status nf__spk_detect(const nf__spk_detect_opts *o, const float *v, const float *i, int64_t n, double dt_ms,
                         float **times, int *n_times);

/* ---- times and intervals ---------------------------------------------- */

/* Time of spike k, ms. */
double nf__spk_time(const nf__spikes *s, int64_t k);
/* t[b] - t[a], the difference taken in the stored type. */
double nf__spk_span(const nf__spikes *s, int64_t a, int64_t b);
/* The spikes with t0 <= t <= t1 are [*a, *b). */
void nf__spk_window(const nf__spikes *s, double t0, double t1, int64_t *a, int64_t *b);

/* ---- statistics of spikes [a, b) -------------------------------------- */

/* Mean ISI from the span: (t[b-1] - t[a]) / (b - a - 1); NaN below 2 spikes. */
double nf__spk_mean_isi(const nf__spikes *s, int64_t a, int64_t b);
/* Standard deviation of the ISIs about `mean`, sum of squares over
 * (ISIs - ddof); NaN when that is not positive. */
double nf__spk_isi_sd(const nf__spikes *s, int64_t a, int64_t b, double mean, int ddof);
/* Coefficient of variation: sample standard deviation (ddof 1) of the ISIs
 * over their mean (the sum of the ISIs over their count). NaN below 3 spikes
 * or for a zero mean. */
double nf__spk_isi_cv(const nf__spikes *s, int64_t a, int64_t b);
/* Adaptation index: the mean of (ISI[k] - ISI[k-1]) / (ISI[k] + ISI[k-1])
 * over consecutive ISI pairs (pairs with a sum <= 0 skipped); NaN when there
 * is no pair. */
double nf__spk_adaptation(const nf__spikes *s, int64_t a, int64_t b);
/* 1000 (b - a) / (t[b-1] - t0): spikes per second from t0 to the last one. */
double nf__spk_mean_frequency(const nf__spikes *s, int64_t a, int64_t b, double t0);

/* ---- trace summaries ---------------------------------------------------- */

/* Mean and population standard deviation of v[0..n), accumulated in double. */
void nf__trace_mean_sd_f(const float *v, int64_t n, double *mean, double *sd);

#endif
