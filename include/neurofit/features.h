/* Electrophysiology features of current-clamp voltage traces.
 *
 * Two families, computed together in one call per trace:
 *  - eFEL-compatible features (peak_time, AP_begin_indices, voltage_base, ...)
 *    with eFEL's default conventions: the trace is first resampled by linear
 *    interpolation onto a 0.1 ms grid, spikes are threshold crossings at
 *    -20 mV, an AP begins where dV/dt rises above 10 mV/ms and stays there for
 *    3 samples, and several features look only at the stimulus window
 *    [stim_start, stim_end]. docs/features.md defines every feature.
 *  - the simple set of the Python auto-fit module (spike_times, spike_count,
 *    mean_isi, cv_isi, firing_rate, v_rest, v_max, v_min, ap_height, ap_width),
 *    computed on the samples as given (no interpolation).
 *
 * A feature is a vector of doubles (a scalar is a vector of length 1; index
 * features such as AP_begin_indices hold exact integers). A feature that
 * cannot be computed (ISI_CV with one spike, ...) is MISSING, with a reason;
 * missing is never reported as 0.
 *
 * Ownership: an nf_features context owns its work buffers and its results.
 * The buffers grow to the longest trace seen and are reused, so repeated calls
 * on traces of similar length allocate nothing. Results (values and reason
 * strings) stay valid until the next nf_features_compute on the same context
 * or its destruction. The input trace is borrowed for the duration of the call.
 * A context is not thread-safe; use one per thread.
 */
#ifndef NEUROFIT_FEATURES_H
#define NEUROFIT_FEATURES_H

#include "neurofit/status.h"

#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Settings; nf_features_opts_default gives eFEL's defaults. */
typedef struct nf_features_opts {
    double threshold_mV;        /* spike detection threshold (-20) */
    double deriv_threshold;     /* AP begin: dV/dt threshold, mV/ms (10) */
    int deriv_window;           /* AP begin: samples dV/dt must stay above (3) */
    double interp_step_ms;      /* resampling step (0.1); 0 = use the samples as given */
    int ignore_first_isi;       /* ISI_values drop the first ISI (1) */
    double spike_skipf;         /* adaptation_index: fraction of spikes skipped (0.1) */
    int max_spike_skip;         /* adaptation_index: at most this many (2) */
    double burst_factor;        /* burst detection factor (1.5) */
    double voltage_base_start_perc; /* voltage_base window start, x stim_start (0.9) */
    double voltage_base_end_perc;   /* voltage_base window end, x stim_start (1.0) */
    double decay_start_after_stim_ms; /* decay_time_constant_after_stim window (1) */
    double decay_end_after_stim_ms;   /* ... (10) */
} nf_features_opts;

void nf_features_opts_default(nf_features_opts *o);

/* One trace. Either t (increasing sample times; with resampling a time may
 * repeat, as in text files printed with few decimals) or dt_ms > 0 (sample k
 * at k * dt_ms). Every sample must be finite. */
typedef struct nf_trace {
    const double *t;    /* [n] ms, or NULL */
    double dt_ms;       /* used when t is NULL */
    const double *v;    /* [n] mV */
    const double *i;    /* [n] pA or NULL (not used by the features listed here) */
    int64_t n;          /* samples, >= 3 */
    double stim_start_ms;
    double stim_end_ms; /* > stim_start_ms */
} nf_trace;

/* Feature registry: ids 0 .. nf_feature_count()-1 in a fixed order (eFEL
 * features first, then the simple set). */
int nf_feature_count(void);
const char *nf_feature_name(int id);        /* NULL when out of range */
const char *nf_feature_unit(int id);        /* "mV", "ms", "Hz", "1" (count or ratio), "index" */
int nf_feature_is_vector(int id);           /* 0: scalar, 1: one value per spike/ISI */
int nf_feature_id(const char *name);        /* -1 when unknown */

typedef struct nf_features nf_features;

/* opts NULL: defaults. Fails with NF_EINVAL naming a bad option. */
nf_status nf_features_create(const nf_features_opts *opts, nf_features **out);
void nf_features_destroy(nf_features *f); /* NULL ok */
const nf_features_opts *nf_features_get_opts(const nf_features *f);

/* Compute every feature of one trace. Fails (NF_EINVAL / NF_ENAN) on bad input,
 * naming it; then no result is available. */
nf_status nf_features_compute(nf_features *f, const nf_trace *tr);

/* One feature's result. values is NULL and n 0 when missing. */
typedef struct nf_feature_value {
    int missing;
    const char *reason;   /* why it is missing; "" otherwise */
    const double *values; /* [n] */
    int64_t n;
} nf_feature_value;

/* By id or name; NF_ENOTFOUND for an unknown name or id, NF_ESTATE before a
 * successful nf_features_compute. */
nf_status nf_features_get(const nf_features *f, int id, nf_feature_value *out);
nf_status nf_features_lookup(const nf_features *f, const char *name, nf_feature_value *out);

/* Parse "a,b,c" into ids (at most cap); returns the count, or -1 with a
 * message naming the unknown feature (nf_errmsg). NULL or "" or "all": every
 * feature. */
int nf_features_parse_list(const char *list, int *ids, int cap);

/* Serialisation of the features ids[0..n_ids) of the last computed trace.
 * JSON: an object {"name": number | [numbers] | null, ...} plus, when any is
 * missing, "missing": {"name": "reason"}. Caller frees with cJSON_Delete.
 * Returned as void * so that this header does not need cJSON's. */
void *nf_features_to_json(const nf_features *f, const int *ids, int n_ids);

/* CSV: one header line "label,<names...>" and one row per trace; a vector is
 * written as values separated by ';', a missing feature as an empty cell. */
nf_status nf_features_write_csv_header(FILE *fp, const int *ids, int n_ids);
nf_status nf_features_write_csv_row(FILE *fp, const nf_features *f, const char *label, const int *ids,
                                    int n_ids);

#ifdef __cplusplus
}
#endif
#endif
