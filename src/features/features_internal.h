/* Internals of the feature extractor (src/features/): the feature list, the
 * context layout and the two computation passes (eFEL-compatible, simple). */
#ifndef NEUROFIT_FEATURES_INTERNAL_H
#define NEUROFIT_FEATURES_INTERNAL_H

#include "neurofit/features.h"

#include <stdint.h>

/* X(id, name, unit, is_vector). The order is the public id order. */
#define NF__FEATURE_LIST(X)                                   \
    X(PEAK_TIME, "peak_time", "ms", 1)                        \
    X(PEAK_VOLTAGE, "peak_voltage", "mV", 1)                  \
    X(SPIKECOUNT, "Spikecount", "1", 0)                       \
    X(MEAN_FREQUENCY, "mean_frequency", "Hz", 0)              \
    X(ISI_VALUES, "ISI_values", "ms", 1)                      \
    X(ALL_ISI_VALUES, "all_ISI_values", "ms", 1)              \
    X(ISI_CV, "ISI_CV", "1", 0)                               \
    X(INV_FIRST_ISI, "inv_first_ISI", "Hz", 0)                \
    X(TIME_TO_FIRST_SPIKE, "time_to_first_spike", "ms", 0)    \
    X(TIME_TO_LAST_SPIKE, "time_to_last_spike", "ms", 0)      \
    X(AP_BEGIN_INDICES, "AP_begin_indices", "index", 1)       \
    X(AP_AMPLITUDE, "AP_amplitude", "mV", 1)                  \
    X(AP_HEIGHT, "AP_height", "mV", 1)                        \
    X(AP_WIDTH, "AP_width", "ms", 1)                          \
    X(SPIKE_HALF_WIDTH, "spike_half_width", "ms", 1)          \
    X(AHP_DEPTH, "AHP_depth", "mV", 1)                        \
    X(MIN_AHP_VALUES, "min_AHP_values", "mV", 1)              \
    X(VOLTAGE_BASE, "voltage_base", "mV", 0)                  \
    X(STEADY_STATE_VOLTAGE, "steady_state_voltage", "mV", 0)  \
    X(STEADY_STATE_VOLTAGE_STIMEND, "steady_state_voltage_stimend", "mV", 0) \
    X(VOLTAGE_DEFLECTION, "voltage_deflection", "mV", 0)      \
    X(ADAPTATION_INDEX, "adaptation_index", "1", 0)           \
    X(ADAPTATION_INDEX2, "adaptation_index2", "1", 0)         \
    X(DECAY_TIME_CONSTANT_AFTER_STIM, "decay_time_constant_after_stim", "ms", 0) \
    X(BURST_NUMBER, "burst_number", "1", 0)                   \
    X(ISI_LOG_SLOPE, "ISI_log_slope", "1", 0)                 \
    X(SPIKE_TIMES, "spike_times", "ms", 1)                    \
    X(SPIKE_COUNT, "spike_count", "1", 0)                     \
    X(MEAN_ISI, "mean_isi", "ms", 0)                          \
    X(CV_ISI, "cv_isi", "1", 0)                               \
    X(FIRING_RATE, "firing_rate", "Hz", 0)                    \
    X(V_REST, "v_rest", "mV", 0)                              \
    X(V_MAX, "v_max", "mV", 0)                                \
    X(V_MIN, "v_min", "mV", 0)                                \
    X(AP_HEIGHT_SIMPLE, "ap_height", "mV", 0)                 \
    X(AP_WIDTH_SIMPLE, "ap_width", "ms", 0)

enum {
#define NF__FEAT_ENUM(id, name, unit, vec) NF__F_##id,
    NF__FEATURE_LIST(NF__FEAT_ENUM)
#undef NF__FEAT_ENUM
        NF__F_COUNT
};

typedef struct nf__result {
    int64_t off, n; /* slice of the value pool */
    int missing;
    const char *reason;
} nf__result;

struct nf_features {
    nf_features_opts o;
    int have_result;

    /* Work buffers, grown to the longest trace and reused. */
    int64_t cap;     /* samples the buffers below can hold */
    double *t, *v;   /* the (resampled) trace, [N] ms, mV */
    double *dvdt;    /* [N] mV/ms */
    double *scratch; /* [N] per-feature scratch */
    double *traw;    /* [n] ms, the time axis when the trace gives dt only */
    int64_t *ia, *ib, *ic, *id; /* [N] index lists: crossings, peaks, AHP minima, AP begins */

    /* Values of every feature, back to back. */
    double *pool;
    int64_t pool_cap, pool_n;
    nf__result res[NF__F_COUNT];
};

/* Storing results (features.c). nf__put reserves n values for feature id and
 * returns where to write them (the pool never moves during a compute: it is
 * sized before). */
double *nf__put(struct nf_features *f, int id, int64_t n);
void nf__missing(struct nf_features *f, int id, const char *reason);

/* The two passes. The trace is validated; buffers hold at least n (resampled:
 * N) samples. */
void nf__efel_features(struct nf_features *f, const double *t_ms, const double *v_mV, int64_t n, double stim_start,
                       double stim_end);
void nf__simple_features(struct nf_features *f, const double *t_ms, const double *v_mV, int64_t n);

#endif
