/* Electrophysiology features of current-clamp voltage traces.
 *
 * Two families, computed together in one call per trace:
 *  - every feature of eFEL (BlueBrain/eFEL 5.7), under eFEL's names and with
 *    eFEL's definitions and settings: the trace (and the current, when given)
 *    is first resampled by linear interpolation onto a 0.1 ms grid, spikes
 *    are eFEL's peaks (threshold crossings at -20 mV), an AP begins where
 *    dV/dt rises above 10 mV/ms and stays there for 3 samples, and many
 *    features look only at the stimulus window [stim_start, stim_end].
 *    eFEL's deprecated names (Spikecount, Spikecount_stimint, ISIs) are
 *    features of their own that repeat the current one.
 *  - the simple set of the Python auto-fit module (simple_spike_times,
 *    simple_spike_count, ...), on the samples as given (no interpolation).
 * docs/features.md defines every feature; `neurofit features --list` prints
 * them with units and a one-line definition.
 *
 * A feature is a vector of doubles (a scalar is a vector of length 1; index
 * features such as AP_begin_indices hold exact grid indices). A feature that
 * cannot be computed (ISI_CV with one spike, ...) is MISSING, with a reason;
 * missing is never reported as 0, and neither is a value that is not finite.
 * Where eFEL returns None, neurofit reports missing.
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

/* How voltage_base / current_base average their window. */
typedef enum nf_features_base_mode { NF_FEATURES_BASE_MEAN = 0, NF_FEATURES_BASE_MEDIAN = 1 } nf_features_base_mode;

/* Settings; nf_features_opts_default gives eFEL's defaults (eFEL's setting
 * names in brackets). */
typedef struct nf_features_opts {
    double threshold_mV;            /* spike detection threshold (Threshold, -20) */
    double deriv_threshold;         /* AP begin: dV/dt threshold, mV/ms (DerivativeThreshold, 10) */
    double down_deriv_threshold;    /* AP end: dV/dt threshold, mV/ms (DownDerivativeThreshold, -12) */
    int deriv_window;               /* AP begin: samples dV/dt must stay above (DerivativeWindow, 3) */
    double interp_step_ms;          /* resampling step (interp_step, 0.1); 0 = use the samples as given */
    int ignore_first_isi;           /* ISI_values and what uses them drop the first ISI (ignore_first_ISI, 1) */
    int strict_stiminterval;        /* peaks only inside [ss, se]; AHP searches end at se (0) */
    double spike_skipf;             /* adaptation_index, ISI_log_slope_skip: fraction skipped (0.1) */
    int max_spike_skip;             /* ... at most this many (2) */
    double burst_factor;            /* burst_ISI_indices (1.5) */
    double strict_burst_factor;     /* burst_begin/end_indices (2) */
    double voltage_base_start_perc; /* voltage_base window start, x stim_start (0.9) */
    double voltage_base_end_perc;   /* voltage_base window end, x stim_start (1.0) */
    nf_features_base_mode voltage_base_mode; /* mean (eFEL's "mean") or median */
    double current_base_start_perc; /* current_base window, x stim_start (0.9, 1.0) */
    double current_base_end_perc;
    nf_features_base_mode current_base_mode;
    double precision_threshold;     /* time tolerance of the base windows' end, ms (1e-10) */
    double rise_start_perc;         /* AP_rise_time from this fraction of the amplitude (0) */
    double rise_end_perc;           /* ... to this one (1) */
    double initial_perc;            /* number_initial_spikes: first fraction of the stimulus (0.1) */
    double sahp_start_ms;           /* slow AHP searches start this long after a peak (sahp_start, 5) */
    double initburst_freq_threshold; /* initburst_sahp: burst ISIs faster than this, Hz (50) */
    double initburst_sahp_start_ms; /* ... minimum searched from this long after the burst (5) */
    double initburst_sahp_end_ms;   /* ... to this long after it (100) */
    double impedance_max_freq;      /* impedance: highest frequency considered, Hz (50) */
    int ap_phaseslope_range;        /* AP_phaseslope: samples either side of the AP begin (2) */
    int inactivation_tc_end_skip;   /* inactivation_time_constant: samples dropped before se (10) */
    double decay_start_after_stim_ms; /* decay_time_constant_after_stim window after se (1) */
    double decay_end_after_stim_ms;   /* ... (10) */
    double adaptation_offset_ms;    /* adaptation_index(2) window widened by this each side (offset, 0) */
} nf_features_opts;

void nf_features_opts_default(nf_features_opts *o);

/* Set one option by its eFEL setting name ("Threshold", "DerivativeThreshold",
 * "interp_step", "strict_stiminterval", "voltage_base_mode", ...: the names in
 * brackets above, and "offset") from text: a number, 0/1/true/false for a
 * flag, mean/median for a mode. NF_ENOTFOUND for an unknown name, NF_EINVAL
 * for a bad value (the message names both); the ranges are checked by
 * nf_features_create. */
nf_status nf_features_opts_set(nf_features_opts *o, const char *name, const char *value);

/* One trace. Either t (increasing sample times; with resampling a time may
 * repeat, as in text files printed with few decimals) or dt_ms > 0 (sample k
 * at k * dt_ms). Every sample must be finite. */
typedef struct nf_trace {
    const double *t;    /* [n] ms, or NULL */
    double dt_ms;       /* used when t is NULL */
    const double *v;    /* [n] mV */
    const double *i;    /* [n] pA or NULL (current, current_base, impedance, ... need it) */
    int64_t n;          /* samples, >= 3 */
    double stim_start_ms;
    double stim_end_ms; /* > stim_start_ms */
    /* Optional, eFEL's per-trace data (0 / NULL: not given, the features
     * that need them are missing): */
    double stimulus_current_pA; /* ohmic_input_resistance(_vb_ssse) divide by it */
    const double *multi_stim_start_ms, *multi_stim_end_ms; /* [n_multi_stim] steps of
                                                              multiple_decay_time_constant_after_stim */
    int n_multi_stim;
} nf_trace;

/* Feature registry: ids 0 .. nf_feature_count()-1 in a fixed order (eFEL's
 * features grouped by topic, its deprecated names, then the simple set). */
typedef enum nf_feature_kind {
    NF_FEATURE_SCALAR = 0, /* one value */
    NF_FEATURE_VECTOR = 1, /* one value per spike, interval, burst, ... */
    NF_FEATURE_INDEX = 2,  /* grid indices (exact integers) */
    NF_FEATURE_TRACE = 3,  /* a whole trace on the grid (time, voltage, current) */
    NF_FEATURE_ALIAS = 4   /* a deprecated eFEL name: the values of nf_feature_alias_of */
} nf_feature_kind;

int nf_feature_count(void);
const char *nf_feature_name(int id);        /* NULL when out of range */
const char *nf_feature_unit(int id);        /* "mV", "ms", "Hz", "pA", "mV/ms", "MOhm", "1", "index" */
const char *nf_feature_definition(int id);  /* one line */
nf_feature_kind nf_feature_kind_of(int id); /* NF_FEATURE_SCALAR when out of range */
int nf_feature_is_vector(int id);           /* 0: scalar, 1: a vector (of any kind) */
int nf_feature_alias_of(int id);            /* the id an alias repeats; id itself otherwise */
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
 * message naming the unknown feature (nf_errmsg). NULL, "" or "all": every
 * feature except the traces (time, voltage, current) and the deprecated
 * names, which are listed only when named. */
int nf_features_parse_list(const char *list, int *ids, int cap);

/* Serialisation of the features ids[0..n_ids) of the last computed trace.
 * JSON: an object {"name": number | [numbers] | null, ...} plus, when any is
 * missing, "missing": {"name": "reason"}. Caller frees with cJSON_Delete.
 * Returned as void * so that this header does not need cJSON's. */
void *nf_features_to_json(const nf_features *f, const int *ids, int n_ids);

/* CSV: one header line "label,stim_start_ms,stim_end_ms,<names...>" and one
 * row per trace (its label, its stimulus window, its features); a vector is
 * written as values separated by ';', a missing feature as an empty cell. */
nf_status nf_features_write_csv_header(FILE *fp, const int *ids, int n_ids);
nf_status nf_features_write_csv_row(FILE *fp, const nf_features *f, const char *label, const int *ids,
                                    int n_ids);

#ifdef __cplusplus
}
#endif
#endif
