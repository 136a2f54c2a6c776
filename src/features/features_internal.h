/* Internals of the feature extractor (src/features/): the feature list, the
 * context layout, the result store (features_common.c) and the computation
 * passes: efel_sub.c (subthreshold levels, the traces, impedance and the
 * voltage-clamp fits), efel_events.c (spike times, intervals, bursts),
 * efel_shape.c (action-potential shape, AHP, ADP) and simple.c (the simple
 * set). features.c validates, resamples and dispatches to them in that order.
 *
 * Notation in the definitions: t, V, I the trace on the interpolation grid;
 * ss, se the stimulus start and end; "peaks" eFEL's peak_indices; ISIs the
 * intervals between consecutive peak times. */
#ifndef NEUROFIT_FEATURES_INTERNAL_H
#define NEUROFIT_FEATURES_INTERNAL_H

#include "neurofit/features.h"

#include <stdint.h>

/* Kinds: a scalar, a vector (one value per spike, interval, burst, ...), a
 * vector of grid indices (exact integers), a whole trace (time, voltage,
 * current: not in "all"), or a deprecated eFEL name of another feature. */
enum { NF__SCALAR, NF__VECTOR, NF__INDEX, NF__TRACE, NF__ALIAS };

/* X(id, name, unit, kind, one-line definition). The order is the public id
 * order: eFEL's features grouped by topic, its deprecated names, then the
 * simple set. */
#define NF__FEATURE_LIST(X)                                                                                         \
    /* spike detection and timing */                                                                                \
    X(PEAK_INDICES, "peak_indices", "index", NF__INDEX,                                                             \
      "highest sample between each upward threshold crossing and the next downward one")                           \
    X(PEAK_TIME, "peak_time", "ms", NF__VECTOR, "t at each peak")                                                   \
    X(PEAK_VOLTAGE, "peak_voltage", "mV", NF__VECTOR, "V at each peak")                                             \
    X(SPIKE_COUNT, "spike_count", "1", NF__SCALAR, "number of peaks (0 when none)")                                 \
    X(SPIKE_COUNT_STIMINT, "spike_count_stimint", "1", NF__SCALAR, "number of peaks with ss <= t <= se")            \
    X(TIME_TO_FIRST_SPIKE, "time_to_first_spike", "ms", NF__SCALAR, "first peak time - ss")                        \
    X(TIME_TO_SECOND_SPIKE, "time_to_second_spike", "ms", NF__SCALAR, "second peak time - ss")                     \
    X(TIME_TO_LAST_SPIKE, "time_to_last_spike", "ms", NF__SCALAR, "last peak time - ss")                           \
    X(INV_TIME_TO_FIRST_SPIKE, "inv_time_to_first_spike", "Hz", NF__SCALAR, "1000 / time_to_first_spike")          \
    X(MEAN_FREQUENCY, "mean_frequency", "Hz", NF__SCALAR,                                                           \
      "1000 x peaks in [ss, se] / (last of them - ss); 0 when spikes exist but none is in the window")             \
    X(NUMBER_INITIAL_SPIKES, "number_initial_spikes", "1", NF__SCALAR,                                              \
      "peaks with ss <= t < ss + initial_perc x (se - ss)")                                                         \
    X(IS_NOT_STUCK, "is_not_stuck", "1", NF__SCALAR, "1 when a peak lies in (0.5 se, se); missing otherwise")       \
    X(TRACE_CHECK, "trace_check", "1", NF__SCALAR,                                                                  \
      "0 when every peak lies in [ss, 1.05 se] (or there is none); missing otherwise")                             \
    /* inter-spike intervals */                                                                                     \
    X(ALL_ISI_VALUES, "all_ISI_values", "ms", NF__VECTOR, "intervals between consecutive peak times")               \
    X(ISI_VALUES, "ISI_values", "ms", NF__VECTOR, "all_ISI_values without the first (ignore_first_ISI)")            \
    X(DOUBLET_ISI, "doublet_ISI", "ms", NF__SCALAR, "first ISI")                                                    \
    X(INV_ISI_VALUES, "inv_ISI_values", "Hz", NF__VECTOR, "1000 / all_ISI_values")                                  \
    X(INV_FIRST_ISI, "inv_first_ISI", "Hz", NF__SCALAR, "1000 / first ISI")                                         \
    X(INV_SECOND_ISI, "inv_second_ISI", "Hz", NF__SCALAR, "1000 / second ISI")                                      \
    X(INV_THIRD_ISI, "inv_third_ISI", "Hz", NF__SCALAR, "1000 / third ISI")                                         \
    X(INV_FOURTH_ISI, "inv_fourth_ISI", "Hz", NF__SCALAR, "1000 / fourth ISI")                                      \
    X(INV_FIFTH_ISI, "inv_fifth_ISI", "Hz", NF__SCALAR, "1000 / fifth ISI")                                         \
    X(INV_LAST_ISI, "inv_last_ISI", "Hz", NF__SCALAR, "1000 / last ISI")                                            \
    X(ISI_CV, "ISI_CV", "1", NF__SCALAR, "sample standard deviation of ISI_values / their mean")                    \
    X(IRREGULARITY_INDEX, "irregularity_index", "ms", NF__SCALAR,                                                   \
      "mean absolute difference of consecutive ISI_values")                                                         \
    X(SINGLE_BURST_RATIO, "single_burst_ratio", "1", NF__SCALAR, "first of ISI_values / their mean")                \
    X(ISI_LOG_SLOPE, "ISI_log_slope", "1", NF__SCALAR, "slope of ln(ISI_values) against ln(1, 2, ...)")             \
    X(ISI_SEMILOG_SLOPE, "ISI_semilog_slope", "1", NF__SCALAR,                                             \
      "slope of ln(ISI_values) against 1, 2, ...")                                                                  \
    X(ISI_LOG_SLOPE_SKIP, "ISI_log_slope_skip", "1", NF__SCALAR,                                                    \
      "ISI_log_slope after skipping min(max_spike_skip, round((n + 1) spike_skipf)) ISI_values")                    \
    X(ADAPTATION_INDEX, "adaptation_index", "1", NF__SCALAR,                                                        \
      "mean (ISI[k] - ISI[k-1]) / (ISI[k] + ISI[k-1]) over the peaks in [ss, se] after skipping the first "        \
      "min(round(spike_skipf N), max_spike_skip)")                                                                  \
    X(ADAPTATION_INDEX2, "adaptation_index2", "1", NF__SCALAR, "adaptation_index skipping exactly the first peak")  \
    /* bursts */                                                                                                    \
    X(BURST_ISI_INDICES, "burst_ISI_indices", "index", NF__INDEX,                                                   \
      "ISI_values indices + 1 where an ISI > burst_factor x the median since the last burst is followed by one "   \
      "< it / burst_factor")                                                                                        \
    X(BURST_MEAN_FREQ, "burst_mean_freq", "Hz", NF__VECTOR,                                                         \
      "spikes per second within each burst of burst_ISI_indices")                                                  \
    X(BURST_NUMBER, "burst_number", "1", NF__SCALAR, "number of burst_mean_freq values (0 when none)")              \
    X(INTERBURST_VOLTAGE, "interburst_voltage", "mV", NF__VECTOR,                                                   \
      "mean V from 5 ms after the last peak of a burst to 5 ms before the next peak")                              \
    X(BURST_BEGIN_INDICES, "burst_begin_indices", "index", NF__INDEX,                                               \
      "first ISI of each strict burst (ISI < previous / strict_burst_factor starts one)")                           \
    X(BURST_END_INDICES, "burst_end_indices", "index", NF__INDEX,                                                   \
      "end of each strict burst (ISI > strict_burst_factor x median of the burst ends it)")                         \
    X(STRICT_BURST_MEAN_FREQ, "strict_burst_mean_freq", "Hz", NF__VECTOR,                                           \
      "1000 x spikes / span of each strict burst of two or more spikes")                                           \
    X(STRICT_BURST_NUMBER, "strict_burst_number", "1", NF__SCALAR, "number of strict_burst_mean_freq values")       \
    X(STRICT_INTERBURST_VOLTAGE, "strict_interburst_voltage", "mV", NF__VECTOR,                                     \
      "mean V from 5 ms after the peak before a strict burst to 5 ms before its first peak")                        \
    X(SPIKES_PER_BURST, "spikes_per_burst", "1", NF__VECTOR, "burst_end_indices - burst_begin_indices + 1")         \
    X(SPIKES_PER_BURST_DIFF, "spikes_per_burst_diff", "1", NF__VECTOR, "spikes_per_burst[k] - spikes_per_burst[k+1]") \
    X(SPIKES_IN_BURST1_BURST2_DIFF, "spikes_in_burst1_burst2_diff", "1", NF__SCALAR, "first spikes_per_burst_diff") \
    X(SPIKES_IN_BURST1_BURSTLAST_DIFF, "spikes_in_burst1_burstlast_diff", "1", NF__SCALAR,                          \
      "first - last spikes_per_burst")                                                                              \
    X(INTERBURST_MIN_INDICES, "interburst_min_indices", "index", NF__INDEX,                                         \
      "lowest sample between a strict burst's last peak and the next peak")                                        \
    X(INTERBURST_MIN_VALUES, "interburst_min_values", "mV", NF__VECTOR, "V at interburst_min_indices")              \
    X(POSTBURST_MIN_INDICES, "postburst_min_indices", "index", NF__INDEX,                                           \
      "lowest sample after a strict burst's last peak, up to the next peak (or se, or the end)")                   \
    X(POSTBURST_MIN_VALUES, "postburst_min_values", "mV", NF__VECTOR, "V at postburst_min_indices")                 \
    X(POSTBURST_SLOW_AHP_INDICES, "postburst_slow_ahp_indices", "index", NF__INDEX,                                 \
      "postburst minimum searched from sahp_start ms after the last peak")                                         \
    X(POSTBURST_SLOW_AHP_VALUES, "postburst_slow_ahp_values", "mV", NF__VECTOR, "V at postburst_slow_ahp_indices")  \
    X(POSTBURST_FAST_AHP_INDICES, "postburst_fast_ahp_indices", "index", NF__INDEX,                                 \
      "first local minimum after a strict burst's last peak")                                                       \
    X(POSTBURST_FAST_AHP_VALUES, "postburst_fast_ahp_values", "mV", NF__VECTOR, "V at postburst_fast_ahp_indices")  \
    X(POSTBURST_ADP_PEAK_INDICES, "postburst_adp_peak_indices", "index", NF__INDEX,                                 \
      "highest sample between the postburst fast and slow AHP")                                                     \
    X(POSTBURST_ADP_PEAK_VALUES, "postburst_adp_peak_values", "mV", NF__VECTOR, "V at postburst_adp_peak_indices")  \
    X(TIME_TO_INTERBURST_MIN, "time_to_interburst_min", "ms", NF__VECTOR,                                           \
      "t of interburst_min_indices - the burst's last peak time")                                                   \
    X(TIME_TO_POSTBURST_SLOW_AHP, "time_to_postburst_slow_ahp", "ms", NF__VECTOR,                                   \
      "t of postburst_slow_ahp_indices - the burst's last peak time")                                               \
    X(TIME_TO_POSTBURST_FAST_AHP, "time_to_postburst_fast_ahp", "ms", NF__VECTOR,                                   \
      "t of postburst_fast_ahp_indices - the burst's last peak time")                                               \
    X(TIME_TO_POSTBURST_ADP_PEAK, "time_to_postburst_adp_peak", "ms", NF__VECTOR,                                   \
      "t of postburst_adp_peak_indices - the last peak before it")                                                  \
    X(INTERBURST_15PERCENT_INDICES, "interburst_15percent_indices", "index", NF__INDEX,                             \
      "first sample 15% of the way from the postburst fast AHP to the next peak")                                  \
    X(INTERBURST_15PERCENT_VALUES, "interburst_15percent_values", "mV", NF__VECTOR, "V there")                      \
    X(INTERBURST_20PERCENT_INDICES, "interburst_20percent_indices", "index", NF__INDEX, "the same at 20%")          \
    X(INTERBURST_20PERCENT_VALUES, "interburst_20percent_values", "mV", NF__VECTOR, "V there")                      \
    X(INTERBURST_25PERCENT_INDICES, "interburst_25percent_indices", "index", NF__INDEX, "the same at 25%")          \
    X(INTERBURST_25PERCENT_VALUES, "interburst_25percent_values", "mV", NF__VECTOR, "V there")                      \
    X(INTERBURST_30PERCENT_INDICES, "interburst_30percent_indices", "index", NF__INDEX, "the same at 30%")          \
    X(INTERBURST_30PERCENT_VALUES, "interburst_30percent_values", "mV", NF__VECTOR, "V there")                      \
    X(INTERBURST_40PERCENT_INDICES, "interburst_40percent_indices", "index", NF__INDEX, "the same at 40%")          \
    X(INTERBURST_40PERCENT_VALUES, "interburst_40percent_values", "mV", NF__VECTOR, "V there")                      \
    X(INTERBURST_60PERCENT_INDICES, "interburst_60percent_indices", "index", NF__INDEX, "the same at 60%")          \
    X(INTERBURST_60PERCENT_VALUES, "interburst_60percent_values", "mV", NF__VECTOR, "V there")                      \
    X(INTERBURST_DURATION, "interburst_duration", "ms", NF__VECTOR,                                                 \
      "time from a strict burst's last peak to the next peak")                                                     \
    X(INITBURST_SAHP, "initburst_sahp", "mV", NF__SCALAR,                                                           \
      "lowest V from initburst_sahp_start to initburst_sahp_end ms after the initial burst (ISIs faster than "      \
      "initburst_freq_threshold)")                                                                                  \
    X(INITBURST_SAHP_VB, "initburst_sahp_vb", "mV", NF__SCALAR, "initburst_sahp - voltage_base")                    \
    X(INITBURST_SAHP_SSSE, "initburst_sahp_ssse", "mV", NF__SCALAR, "initburst_sahp - steady_state_voltage_stimend") \
    /* action potential shape */                                                                                    \
    X(AP_BEGIN_INDICES, "AP_begin_indices", "index", NF__INDEX,                                                     \
      "per peak after ss: where dV/dt rises through DerivativeThreshold and stays above it DerivativeWindow samples") \
    X(AP_END_INDICES, "AP_end_indices", "index", NF__INDEX,                                                         \
      "per peak after ss: first sample after the steepest fall where dV/dt >= DownDerivativeThreshold")            \
    X(AP_RISE_INDICES, "AP_rise_indices", "index", NF__INDEX,                                                       \
      "sample nearest to half height between AP begin and peak")                                                   \
    X(AP_FALL_INDICES, "AP_fall_indices", "index", NF__INDEX, "sample nearest to half height between peak and AP end") \
    X(AP_BEGIN_VOLTAGE, "AP_begin_voltage", "mV", NF__VECTOR, "V at AP_begin_indices")                              \
    X(AP_BEGIN_TIME, "AP_begin_time", "ms", NF__VECTOR, "t at AP_begin_indices")                                    \
    X(AP1_BEGIN_VOLTAGE, "AP1_begin_voltage", "mV", NF__SCALAR, "first AP_begin_voltage")                           \
    X(AP2_BEGIN_VOLTAGE, "AP2_begin_voltage", "mV", NF__SCALAR, "second AP_begin_voltage")                          \
    X(AP_BEGIN_WIDTH, "AP_begin_width", "ms", NF__VECTOR,                                                           \
      "time from the AP begin until V falls back to its level (before the AHP minimum)")                            \
    X(AP1_BEGIN_WIDTH, "AP1_begin_width", "ms", NF__SCALAR, "first AP_begin_width")                                 \
    X(AP2_BEGIN_WIDTH, "AP2_begin_width", "ms", NF__SCALAR, "second AP_begin_width")                                \
    X(AP2_AP1_BEGIN_WIDTH_DIFF, "AP2_AP1_begin_width_diff", "ms", NF__SCALAR, "AP2_begin_width - AP1_begin_width") \
    X(AP_AMPLITUDE, "AP_amplitude", "mV", NF__VECTOR, "peak V - V at the AP begin, peaks in [ss, se]")              \
    X(AP1_AMP, "AP1_amp", "mV", NF__SCALAR, "first AP_amplitude")                                                   \
    X(AP2_AMP, "AP2_amp", "mV", NF__SCALAR, "second AP_amplitude")                                                  \
    X(APLAST_AMP, "APlast_amp", "mV", NF__SCALAR, "last AP_amplitude")                                              \
    X(MEAN_AP_AMPLITUDE, "mean_AP_amplitude", "mV", NF__SCALAR, "mean AP_amplitude")                                \
    X(AP_AMPLITUDE_CHANGE, "AP_amplitude_change", "1", NF__VECTOR, "(AP_amplitude[k] - first) / first, k >= 1")      \
    X(AP_AMPLITUDE_DIFF, "AP_amplitude_diff", "mV", NF__VECTOR, "AP_amplitude[k+1] - AP_amplitude[k]")              \
    X(AP2_AP1_DIFF, "AP2_AP1_diff", "mV", NF__SCALAR, "AP2_amp - AP1_amp")                                          \
    X(AP_AMPLITUDE_FROM_VOLTAGEBASE, "AP_amplitude_from_voltagebase", "mV", NF__VECTOR, "peak V - voltage_base")    \
    X(AP_HEIGHT, "AP_height", "mV", NF__VECTOR, "= peak_voltage")                                                   \
    X(AP1_PEAK, "AP1_peak", "mV", NF__SCALAR, "first peak V")                                                       \
    X(AP2_PEAK, "AP2_peak", "mV", NF__SCALAR, "second peak V")                                                      \
    X(AP2_AP1_PEAK_DIFF, "AP2_AP1_peak_diff", "mV", NF__SCALAR, "AP2_peak - AP1_peak")                              \
    X(AMP_DROP_FIRST_SECOND, "amp_drop_first_second", "mV", NF__SCALAR, "first - second peak V")                    \
    X(AMP_DROP_FIRST_LAST, "amp_drop_first_last", "mV", NF__SCALAR, "first - last peak V")                          \
    X(AMP_DROP_SECOND_LAST, "amp_drop_second_last", "mV", NF__SCALAR, "second - last peak V (3 spikes or more)")    \
    X(MAX_AMP_DIFFERENCE, "max_amp_difference", "mV", NF__SCALAR, "largest drop of peak V from one spike to the next") \
    X(AP_WIDTH, "AP_width", "ms", NF__VECTOR,                                                                       \
      "time V stays at or above threshold, searched between consecutive AHP minima (the first from sample 0)")     \
    X(AP_WIDTH_BETWEEN_THRESHOLD, "AP_width_between_threshold", "ms", NF__VECTOR,                                   \
      "time V stays at or above threshold, between consecutive min_between_peaks (the first from ss)")             \
    X(SPIKE_HALF_WIDTH, "spike_half_width", "ms", NF__VECTOR,                                                       \
      "width at the V halfway between a peak and its AHP minimum, both crossings interpolated")                     \
    X(AP1_WIDTH, "AP1_width", "ms", NF__SCALAR, "first spike_half_width")                                           \
    X(AP2_WIDTH, "AP2_width", "ms", NF__SCALAR, "second spike_half_width")                                          \
    X(APLAST_WIDTH, "APlast_width", "ms", NF__SCALAR, "last spike_half_width")                                      \
    X(SPIKE_WIDTH2, "spike_width2", "ms", NF__VECTOR,                                                               \
      "width at half height above the max of d2V/dt2 between an AHP minimum and the next peak")                     \
    X(AP_DURATION, "AP_duration", "ms", NF__VECTOR, "t of AP end - t of AP begin")                                  \
    X(AP_DURATION_CHANGE, "AP_duration_change", "1", NF__VECTOR, "(AP_duration[k] - first) / first, k >= 1")        \
    X(AP_DURATION_HALF_WIDTH, "AP_duration_half_width", "ms", NF__VECTOR, "t of AP fall - t of AP rise indices")    \
    X(AP_DURATION_HALF_WIDTH_CHANGE, "AP_duration_half_width_change", "1", NF__VECTOR,                              \
      "(AP_duration_half_width[k] - first) / first, k >= 1")                                                        \
    X(AP_RISE_TIME, "AP_rise_time", "ms", NF__VECTOR,                                                               \
      "time from rise_start_perc to rise_end_perc of the amplitude between AP begin and peak")                      \
    X(AP_FALL_TIME, "AP_fall_time", "ms", NF__VECTOR, "t of AP end - peak time (peaks after ss)")                   \
    X(AP_RISE_RATE, "AP_rise_rate", "mV/ms", NF__VECTOR, "(peak V - begin V) / (peak t - begin t)")                 \
    X(AP_FALL_RATE, "AP_fall_rate", "mV/ms", NF__VECTOR, "(end V - peak V) / (end t - peak t)")                     \
    X(AP_RISE_RATE_CHANGE, "AP_rise_rate_change", "1", NF__VECTOR, "(AP_rise_rate[k] - first) / first, k >= 1")     \
    X(AP_FALL_RATE_CHANGE, "AP_fall_rate_change", "1", NF__VECTOR, "(AP_fall_rate[k] - first) / first, k >= 1")     \
    X(AP_PEAK_UPSTROKE, "AP_peak_upstroke", "mV/ms", NF__VECTOR, "largest dV/dt from AP begin to peak")            \
    X(AP_PEAK_DOWNSTROKE, "AP_peak_downstroke", "mV/ms", NF__VECTOR, "lowest dV/dt from peak to AHP minimum")      \
    X(AP_PHASESLOPE, "AP_phaseslope", "1/ms", NF__VECTOR,                                                           \
      "slope of dV/dt against V across AP begin +- AP_phaseslope_range samples")                                    \
    X(PHASESLOPE_MAX, "phaseslope_max", "mV/ms", NF__SCALAR, "largest forward difference dV/dt of the trace")       \
    /* AHP and ADP */                                                                                               \
    X(MIN_AHP_INDICES, "min_AHP_indices", "index", NF__INDEX,                                                       \
      "first local minimum after each peak, up to the next peak (the end after the last)")                         \
    X(MIN_AHP_VALUES, "min_AHP_values", "mV", NF__VECTOR, "V at min_AHP_indices")                                  \
    X(AHP_DEPTH_ABS, "AHP_depth_abs", "mV", NF__VECTOR, "= min_AHP_values")                                         \
    X(AHP_DEPTH, "AHP_depth", "mV", NF__VECTOR, "min_AHP_values - voltage_base")                                    \
    X(AHP_DEPTH_DIFF, "AHP_depth_diff", "mV", NF__VECTOR, "AHP_depth[k+1] - AHP_depth[k]")                          \
    X(AHP_DEPTH_FROM_PEAK, "AHP_depth_from_peak", "mV", NF__VECTOR, "peak V - V at its AHP minimum")                \
    X(AHP1_DEPTH_FROM_PEAK, "AHP1_depth_from_peak", "mV", NF__SCALAR, "first AHP_depth_from_peak")                  \
    X(AHP2_DEPTH_FROM_PEAK, "AHP2_depth_from_peak", "mV", NF__SCALAR, "second AHP_depth_from_peak")                 \
    X(AHP_TIME_FROM_PEAK, "AHP_time_from_peak", "ms", NF__VECTOR, "t of AHP minimum - peak time")                   \
    X(AHP_DEPTH_ABS_SLOW, "AHP_depth_abs_slow", "mV", NF__VECTOR,                                                   \
      "lowest V from sahp_start ms after a peak to the next, from the second peak on")                             \
    X(AHP_DEPTH_SLOW, "AHP_depth_slow", "mV", NF__VECTOR, "AHP_depth_abs_slow - voltage_base")                      \
    X(AHP_SLOW_TIME, "AHP_slow_time", "1", NF__VECTOR, "time of that minimum after its peak / the ISI")             \
    X(FAST_AHP, "fast_AHP", "mV", NF__VECTOR, "V at AP begin - V at the AHP minimum after it")                      \
    X(FAST_AHP_CHANGE, "fast_AHP_change", "1", NF__VECTOR, "(fast_AHP[k] - first) / first, k >= 1")                \
    X(MIN_BETWEEN_PEAKS_INDICES, "min_between_peaks_indices", "index", NF__INDEX,                                   \
      "lowest sample between consecutive peaks (after the last: to the end)")                                      \
    X(MIN_BETWEEN_PEAKS_VALUES, "min_between_peaks_values", "mV", NF__VECTOR, "V at min_between_peaks_indices")     \
    X(MIN_VOLTAGE_BETWEEN_SPIKES, "min_voltage_between_spikes", "mV", NF__VECTOR,                                   \
      "lowest V between consecutive peaks")                                                                         \
    X(DEPOLARIZED_BASE, "depolarized_base", "mV", NF__VECTOR, "mean V from an AP end to the next AP begin")         \
    X(ADP_PEAK_INDICES, "ADP_peak_indices", "index", NF__INDEX,                                                     \
      "highest sample from an AHP minimum to the next min_between_peaks")                                           \
    X(ADP_PEAK_VALUES, "ADP_peak_values", "mV", NF__VECTOR, "V at ADP_peak_indices")                                \
    X(ADP_PEAK_AMPLITUDE, "ADP_peak_amplitude", "mV", NF__VECTOR, "ADP_peak_values - min_AHP_values")               \
    /* subthreshold levels */                                                                                       \
    X(VOLTAGE_BASE, "voltage_base", "mV", NF__SCALAR,                                                               \
      "mean (or median) V over [voltage_base_start_perc, voltage_base_end_perc] x ss")                              \
    X(STEADY_STATE_VOLTAGE, "steady_state_voltage", "mV", NF__SCALAR, "mean V after se")                            \
    X(STEADY_STATE_VOLTAGE_STIMEND, "steady_state_voltage_stimend", "mV", NF__SCALAR,                               \
      "mean V over the last 10% of the stimulus")                                                                   \
    X(STEADY_STATE_HYPER, "steady_state_hyper", "mV", NF__SCALAR, "mean V of the 30 samples ending 5 before se")    \
    X(VOLTAGE_AFTER_STIM, "voltage_after_stim", "mV", NF__SCALAR,                                                   \
      "mean V from 25% to 75% of the time between se and the end")                                                 \
    X(MAXIMUM_VOLTAGE, "maximum_voltage", "mV", NF__SCALAR, "highest V in [ss, se)")                                \
    X(MINIMUM_VOLTAGE, "minimum_voltage", "mV", NF__SCALAR, "lowest V in [ss, se)")                                 \
    X(MAXIMUM_VOLTAGE_FROM_VOLTAGEBASE, "maximum_voltage_from_voltagebase", "mV", NF__SCALAR,                       \
      "maximum_voltage - voltage_base")                                                                             \
    X(VOLTAGE_DEFLECTION, "voltage_deflection", "mV", NF__SCALAR,                                                   \
      "mean of the 5 samples ending 5 before the first after se - mean V before ss")                               \
    X(VOLTAGE_DEFLECTION_BEGIN, "voltage_deflection_begin", "mV", NF__SCALAR,                                       \
      "mean V from 5% to 15% into the stimulus - mean V before ss")                                                 \
    X(VOLTAGE_DEFLECTION_VB_SSSE, "voltage_deflection_vb_ssse", "mV", NF__SCALAR,                                   \
      "steady_state_voltage_stimend - voltage_base")                                                                \
    X(OHMIC_INPUT_RESISTANCE, "ohmic_input_resistance", "MOhm", NF__SCALAR, "voltage_deflection / stimulus current") \
    X(OHMIC_INPUT_RESISTANCE_VB_SSSE, "ohmic_input_resistance_vb_ssse", "MOhm", NF__SCALAR,                         \
      "voltage_deflection_vb_ssse / stimulus current")                                                              \
    X(SAG_AMPLITUDE, "sag_amplitude", "mV", NF__SCALAR,                                                             \
      "steady_state_voltage_stimend - minimum_voltage (hyperpolarising steps only)")                                \
    X(SAG_RATIO1, "sag_ratio1", "1", NF__SCALAR, "sag_amplitude / (voltage_base - minimum_voltage)")                \
    X(SAG_RATIO2, "sag_ratio2", "1", NF__SCALAR,                                                                    \
      "(voltage_base - steady_state_voltage_stimend) / (voltage_base - minimum_voltage)")                           \
    X(SAG_TIME_CONSTANT, "sag_time_constant", "ms", NF__SCALAR,                                                     \
      "exponential decay from the minimum until 90% of the sag has recovered")                                     \
    X(TIME_CONSTANT, "time_constant", "ms", NF__SCALAR,                                                             \
      "membrane time constant of the decay at the stimulus start (exponential fit, golden-section offset)")         \
    X(DECAY_TIME_CONSTANT_AFTER_STIM, "decay_time_constant_after_stim", "ms", NF__SCALAR,                           \
      "|1/slope| of ln|V - V(ss)| from decay_start_after_stim to decay_end_after_stim ms after se")                 \
    X(MULTIPLE_DECAY_TIME_CONSTANT_AFTER_STIM, "multiple_decay_time_constant_after_stim", "ms", NF__VECTOR,         \
      "decay_time_constant_after_stim after each of the trace's multi-stimulus steps")                              \
    X(DEPOL_BLOCK, "depol_block", "1", NF__SCALAR,                                                                  \
      "1 unless V stays above the mean AP begin, or below -75 mV, for more than 50 ms (then missing)")              \
    X(DEPOL_BLOCK_BOOL, "depol_block_bool", "1", NF__SCALAR, "1 when depol_block is missing, else 0")              \
    /* the current, impedance, voltage clamp */                                                                     \
    X(CURRENT_BASE, "current_base", "pA", NF__SCALAR,                                                               \
      "mean (or median) I over [current_base_start_perc, current_base_end_perc] x ss")                              \
    X(STEADY_STATE_CURRENT_STIMEND, "steady_state_current_stimend", "pA", NF__SCALAR,                               \
      "mean I over the last 10% of the stimulus")                                                                   \
    X(IMPEDANCE, "impedance", "Hz", NF__SCALAR,                                                                     \
      "frequency of the largest smoothed |FFT(V)/FFT(I)| up to impedance_max_freq (no spike)")                      \
    X(ACTIVATION_TIME_CONSTANT, "activation_time_constant", "ms", NF__SCALAR,                                       \
      "tau of A0 + A1 exp(-t/tau), A1 <= 0, fitted from ss to the maximum")                                         \
    X(DEACTIVATION_TIME_CONSTANT, "deactivation_time_constant", "ms", NF__SCALAR,                                   \
      "tau of A0 + A1 exp(-t/tau), A1 >= 0, fitted over [ss, se)")                                                  \
    X(INACTIVATION_TIME_CONSTANT, "inactivation_time_constant", "ms", NF__SCALAR,                                   \
      "tau of A0 + A1 exp(-t/tau), A1 >= 0, fitted from the maximum to inactivation_tc_end_skip samples before se") \
    /* the traces on the interpolation grid */                                                                      \
    X(TIME, "time", "ms", NF__TRACE, "the time grid")                                                               \
    X(VOLTAGE, "voltage", "mV", NF__TRACE, "V on the grid")                                                         \
    X(CURRENT, "current", "pA", NF__TRACE, "I on the grid")                                                         \
    /* deprecated eFEL names */                                                                                     \
    X(SPIKECOUNT, "Spikecount", "1", NF__ALIAS, "deprecated eFEL name of spike_count")                              \
    X(SPIKECOUNT_STIMINT, "Spikecount_stimint", "1", NF__ALIAS, "deprecated eFEL name of spike_count_stimint")      \
    X(ISIS, "ISIs", "ms", NF__ALIAS, "deprecated eFEL name of all_ISI_values")                                      \
    /* the simple set of the Python auto-fit module (the samples as given) */                                       \
    X(SIMPLE_SPIKE_TIMES, "simple_spike_times", "ms", NF__VECTOR,                                                   \
      "t of the sample just before each upward crossing (V[k] <= thr < V[k+1])")                                    \
    X(SIMPLE_SPIKE_COUNT, "simple_spike_count", "1", NF__SCALAR, "number of those crossings")                       \
    X(SIMPLE_MEAN_ISI, "simple_mean_isi", "ms", NF__SCALAR, "mean interval between simple_spike_times")             \
    X(SIMPLE_CV_ISI, "simple_cv_isi", "1", NF__SCALAR, "population sd of those intervals / simple_mean_isi")        \
    X(SIMPLE_FIRING_RATE, "simple_firing_rate", "Hz", NF__SCALAR, "simple_spike_count / (samples x mean dt)")       \
    X(SIMPLE_V_REST, "simple_v_rest", "mV", NF__SCALAR, "median of the samples <= thr")                             \
    X(SIMPLE_V_MAX, "simple_v_max", "mV", NF__SCALAR, "highest sample")                                             \
    X(SIMPLE_V_MIN, "simple_v_min", "mV", NF__SCALAR, "lowest sample")                                              \
    X(SIMPLE_AP_HEIGHT, "simple_ap_height", "mV", NF__SCALAR, "simple_v_max - simple_v_rest")                       \
    X(SIMPLE_AP_WIDTH, "simple_ap_width", "ms", NF__SCALAR, "time the first crossing stays above thr")

enum {
#define NF__FEAT_ENUM(id, name, unit, kind, def) NF__F_##id,
    NF__FEATURE_LIST(NF__FEAT_ENUM)
#undef NF__FEAT_ENUM
        NF__F_COUNT
};

typedef struct nf__result {
    const double *vals; /* [n]: in the pool, or a work buffer (the traces) */
    int64_t n;
    int missing;
    const char *reason; /* static text */
} nf__result;

struct nf_features {
    nf_features_opts o;
    int have_result;

    /* Work buffers, grown to the longest trace and reused. */
    int64_t cap;          /* samples the buffers below can hold */
    double *t, *v, *i;    /* the (resampled) trace, [N] ms, mV, pA */
    double *dvdt;         /* [N] mV/ms, central differences */
    double *scratch;      /* [2N + 8] per-feature scratch */
    double *traw;         /* [n] ms, the time axis when the trace gives dt only */
    int64_t *pk, *ahp, *apb, *ape, *mbp, *iw; /* [N] peaks, AHP minima, AP begins, AP ends,
                                                 minima between peaks, scratch */

    /* The trace being computed. */
    int64_t n;            /* samples on the grid */
    int has_i;
    double ss, se;
    const nf_trace *tr;   /* borrowed during a compute */
    int64_t np, nahp, napb, nape, nmbp;
    const char *peak_reason; /* why there is no peak */

    /* Values of every feature, back to back; sized before each compute so
     * that it never moves while features are stored. */
    double *pool;
    int64_t pool_cap, pool_n;
    nf__result res[NF__F_COUNT];
};

/* ---- the result store (features_common.c) -------------------------------- */

/* Reserve n values for feature id and return where to write them. */
double *nf__put(struct nf_features *f, int id, int64_t n);
/* Store one value; a value that is not finite makes the feature missing
 * with `why_not_finite`. */
void nf__put1(struct nf_features *f, int id, double x, const char *why_not_finite);
/* Store the finite ones of n values copied from x (a vector keeps its
 * defined entries); missing with `why_empty` when n is 0, and when none is
 * finite. */
void nf__put_vec(struct nf_features *f, int id, const double *x, int64_t n, const char *why_empty);
void nf__missing(struct nf_features *f, int id, const char *reason);
/* 1 when feature id has a value; else mark `out` missing with its reason. */
int nf__need(struct nf_features *f, int out, int id);
static inline const nf__result *nf__res(const struct nf_features *f, int id) { return &f->res[id]; }
static inline int nf__has(const struct nf_features *f, int id) { return !f->res[id].missing; }

/* ---- shared numerics (features_common.c) ---------------------------------- */

/* First k in [a, b) with t[k] >= x; b when none. */
int64_t nf__first_ge(const double *t, int64_t a, int64_t b, double x);
/* eFEL's first minimum in [a, b): walking forward, the running minimum is
 * taken once two later samples are not below it, else the lowest sample; b
 * when the range is empty. */
int64_t nf__first_min(const double *v, int64_t a, int64_t b);
/* Lowest / highest sample in [a, b) (the first when tied); b when empty. */
int64_t nf__argmin(const double *v, int64_t a, int64_t b);
int64_t nf__argmax(const double *v, int64_t a, int64_t b);
double nf__mean(const double *v, int64_t a, int64_t b);
/* Median of v[0..n) (reorders v). */
double nf__median(double *v, int64_t n);
/* Least-squares line through (x, y): slope, and the residual sum of squares
 * over the squared range of y when rss is not NULL. */
double nf__line_slope(const double *x, const double *y, int64_t n, double *rss_norm);
/* eFEL's index window of a time range: first t >= t0 (0 when none) to one
 * past the last t within `prec` above t1 (n when none). */
void nf__time_window(const double *t, int64_t n, double t0, double t1, double prec, int64_t *a, int64_t *b);

/* ---- the passes ------------------------------------------------------------ */

void nf__efel_sub(struct nf_features *f);
void nf__efel_events(struct nf_features *f);
void nf__efel_shape(struct nf_features *f);
void nf__efel_late(struct nf_features *f); /* features of both shape and events */
void nf__simple_features(struct nf_features *f, const double *t_ms, const double *v_mV, int64_t n);

#endif
