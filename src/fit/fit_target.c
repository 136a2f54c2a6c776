/* Targets of a fit (include/neurofit/fit.h): a recording prepared for
 * scoring (its statistics, spikes timed as each model times its own, spike
 * features and their sigmas), and the score of one simulation against it.
 * The lowest floor of src/fit: it calls the score functions (score.c) and the
 * spike-train layer (src/features/spikes.c), and nothing else of the fit.
 *
 * A target is one sweep. A fit of a group of sweeps with one parameter set
 * (issue 19) prepares each sweep here and combines the scores of its sweeps
 * one floor up (fit_pass.c), before the optimiser is told. */
#include "neurofit/fit.h"

#include "features/spikes.h"
#include "fit_internal.h"
#include "internal.h"
#include "rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const feat_names[] = {
#define NF__FIT_FEAT_NAME(name, unit, floor) #name,
    NF_FIT_FEATURE_LIST(NF__FIT_FEAT_NAME)
#undef NF__FIT_FEAT_NAME
};
static const char *const feat_units[] = {
#define NF__FIT_FEAT_UNIT(name, unit, floor) unit,
    NF_FIT_FEATURE_LIST(NF__FIT_FEAT_UNIT)
#undef NF__FIT_FEAT_UNIT
};
static const double feat_floor[] = {
#define NF__FIT_FEAT_FLOOR(name, unit, floor) floor,
    NF_FIT_FEATURE_LIST(NF__FIT_FEAT_FLOOR)
#undef NF__FIT_FEAT_FLOOR
};

const char *nf_fit_feature_name(int f) { return f >= 0 && f < NF_FIT_N_FEATURES ? feat_names[f] : NULL; }
const char *nf_fit_feature_unit(int f) { return f >= 0 && f < NF_FIT_N_FEATURES ? feat_units[f] : NULL; }

/* ---- spike-time features ------------------------------------------------ */

void nf_fit_spike_features(const float *t, int n, double s0, double s1, double *val, uint8_t *has)
{
    memset(has, 0, NF_FIT_N_FEATURES);
    for (int f = 0; f < NF_FIT_N_FEATURES; f++)
        val[f] = 0;
    val[NF_FIT_F_spike_count] = n;
    has[NF_FIT_F_spike_count] = 1;
    nf__spikes s = nf__spikes_f(t, n);
    int64_t a, b; /* spikes inside the window: [a, b) */
    nf__spk_window(&s, s0, s1, &a, &b);
    int64_t m = b - a;
    if (m >= 1) {
        double last = nf__spk_time(&s, b - 1) - s0;
        val[NF_FIT_F_time_to_first_spike] = nf__spk_time(&s, a) - s0;
        val[NF_FIT_F_time_to_last_spike] = last;
        has[NF_FIT_F_time_to_first_spike] = has[NF_FIT_F_time_to_last_spike] = 1;
        if (last > 0) {
            val[NF_FIT_F_mean_frequency] = nf__spk_mean_frequency(&s, a, b, s0);
            has[NF_FIT_F_mean_frequency] = 1;
        }
    }
    /* ISI_CV from two ISIs on, the adaptation index from three */
    double cv = m >= 3 ? nf__spk_isi_cv(&s, a, b) : NAN, ai = m >= 4 ? nf__spk_adaptation(&s, a, b) : NAN;
    if (isfinite(cv)) {
        val[NF_FIT_F_ISI_CV] = cv;
        has[NF_FIT_F_ISI_CV] = 1;
    }
    if (isfinite(ai)) {
        val[NF_FIT_F_adaptation_index] = ai;
        has[NF_FIT_F_adaptation_index] = 1;
    }
}

#define NF__FIT_HYST_MV 5.0
#define NF__FIT_RESET_MV 10.0

/* ---- targets -------------------------------------------------------------- */

int nf_fit_substeps(const nf_model *m, double dt_ms)
{
    int k = (int)ceil(dt_ms / m->dt_max_ms - 1e-9);
    return k < 1 ? 1 : k;
}


int nf__fit_spikes_at_crossing(const nf_model *m)
{
    /* the models that detect spikes as upward crossings of v_detect say so in
     * their scheme ("spikes = upward crossings of ..."); the others report
     * their reset */
    return m && m->scheme && strstr(m->scheme, "crossings of") != NULL;
}

nf_status nf__fit_prepare_target(const nf_fit_target *t, int idx, double threshold, int at_crossing,
                                 nf__fit_tgt *out)
{
    memset(out, 0, sizeof *out);
    const char *name = t->name ? t->name : "recording";
    if (!t->v || !t->i)
        return nf__fail(NF_EINVAL, "recording %d (%s): voltage and current are required", idx, name);
    if (t->n < 10)
        return nf__fail(NF_EINVAL, "recording %d (%s): %lld samples, need at least 10", idx, name,
                        (long long)t->n);
    if (!(t->dt_ms > 0) || !isfinite(t->dt_ms))
        return nf__fail(NF_EINVAL, "recording %d (%s): dt = %g ms must be > 0", idx, name, t->dt_ms);
    double sum = 0, sum2 = 0;
    for (int64_t k = 0; k < t->n; k++) {
        if (!isfinite(t->v[k]))
            return nf__fail(NF_ENAN, "recording %d (%s): voltage sample %lld is %g", idx, name,
                            (long long)k, t->v[k]);
        if (!isfinite(t->i[k]))
            return nf__fail(NF_ENAN, "recording %d (%s): current sample %lld is %g", idx, name,
                            (long long)k, t->i[k]);
        sum += t->v[k];
    }
    double mean = sum / t->n;
    for (int64_t k = 0; k < t->n; k++)
        sum2 += (t->v[k] - mean) * (t->v[k] - mean);
    out->sd = sqrt(sum2 / t->n);
    out->duration = (double)(t->n - 1) * t->dt_ms;
    uint64_t h = nf__fnv1a(NF__FNV1A_INIT, &t->n, sizeof t->n);
    h = nf__fnv1a(h, &t->dt_ms, sizeof t->dt_ms);
    h = nf__fnv1a(h, t->v, sizeof(float) * (size_t)t->n);
    out->key = nf__fnv1a(h, t->i, sizeof(float) * (size_t)t->n);

    out->s0 = t->stim_start_ms;
    out->s1 = t->stim_end_ms;
    if (out->s0 == 0 && out->s1 == 0) {
        /* the window where the current differs from its first sample */
        float base = t->i[0];
        double amp = 0;
        for (int64_t k = 0; k < t->n; k++)
            amp = fmax(amp, fabs(t->i[k] - base));
        int64_t a = -1, b = -1;
        for (int64_t k = 0; k < t->n; k++)
            if (fabs(t->i[k] - base) > 1e-3 * amp && amp > 0) {
                if (a < 0)
                    a = k;
                b = k;
            }
        out->s0 = a < 0 ? 0 : (double)a * t->dt_ms;
        out->s1 = a < 0 ? out->duration : (double)b * t->dt_ms;
    }
    if (!(out->s1 > out->s0))
        return nf__fail(NF_EINVAL, "recording %d (%s): stimulus window [%g, %g] ms is empty", idx, name,
                        out->s0, out->s1);

    /* Spike times follow the model's own convention, so that the truth scores
     * Gamma = 1 on its own recording:
     * - models that reset (LIF family, AdEx, Izhikevich, ...) report the reset,
     *   the sample after their peak: the recording's spike is the peak after
     *   each upward crossing of the threshold (eFEL's peak_time);
     * - models that detect upward crossings of v_detect (hh, fhn, ...) report
     *   the crossing: the recording's spike is its crossing, interpolated.
     * A spike lasts until V falls NF__FIT_HYST_MV below the threshold, so
     * recording noise around the threshold does not split one spike in two. */
    /* Integrate-and-fire cells (and their simulations) often show spikes only
     * as resets: no sample reaches the threshold, V just falls by
     * NF__FIT_RESET_MV or more within one sample. Such a fall, with the
     * injected current unchanged (a bridge-balance jump at a current step is
     * not a spike) and not within 3 ms after a threshold spike (the fast
     * repolarisation of a real spike), is a spike too, timed at the sample
     * before the fall. */
    const nf__spk_detect_opts so = {.threshold_mV = threshold, .hysteresis_mV = NF__FIT_HYST_MV,
                                    .reset_drop_mV = NF__FIT_RESET_MV, .quiet_ms = 3.0, .at_crossing = at_crossing};
    nf_status s = nf__spk_detect(&so, t->v, t->i, t->n, t->dt_ms, &out->spikes, &out->n_spikes);
    if (s)
        return s;
    nf_fit_spike_features(out->spikes, out->n_spikes, out->s0, out->s1, out->feat, out->has);
    for (int f = 0; f < NF_FIT_N_FEATURES; f++)
        out->sigma[f] = out->sigma_search[f] = fmax(feat_floor[f], 0.1 * fabs(out->feat[f]));
    out->sigma[NF_FIT_F_spike_count] = NF_FIT_COUNT_SIGMA; /* the reported score's strict count */
    return NF_OK;
}

void nf__fit_score(const nf__fit_tgt *tg, const nf_score_weights *w, double window, double sse,
                   int64_t n_obs, int valid, const float *spk, int n_spk, int n_total,
                   nf__fit_score_out *o)
{
    memset(o, 0, sizeof *o);
    if (!valid || !isfinite(sse)) {
        o->rmse = o->nrmse = o->fe = o->combined = o->search = INFINITY;
        o->gamma = NAN;
        return;
    }
    o->rmse = sqrt(sse / (double)n_obs);
    o->nrmse = nf_score_nrmse(sse, n_obs, tg->sd);
    nf_fit_spike_features(spk, n_spk, tg->s0, tg->s1, o->feat, o->has);
    o->feat[NF_FIT_F_spike_count] = n_total; /* spikes beyond the stored ones count too */
    o->fe = nf_score_features(tg->feat, tg->has, o->feat, o->has, tg->sigma, NF_FIT_N_FEATURES,
                              NF_FEATURE_PENALTY, &o->n_used);
    o->gamma = nf_score_gamma(tg->spikes, tg->n_spikes, spk, n_spk, tg->duration, window);
    o->combined = nf_score_combined(w, o->nrmse, o->fe, o->n_used, o->gamma);
    double fs = nf_score_features(tg->feat, tg->has, o->feat, o->has, tg->sigma_search, NF_FIT_N_FEATURES,
                                  NF_FEATURE_PENALTY, NULL);
    o->search = nf_score_combined(w, o->nrmse, fs, o->n_used, o->gamma);
}
