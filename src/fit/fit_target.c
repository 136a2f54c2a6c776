/* Targets of a fit (include/neurofit/fit.h): a sweep prepared for scoring
 * (its statistics, spikes timed as each model times its own, spike features
 * and their sigmas, the RMSE term's target, the f-I point, the passive
 * responses and the eFEL objectives), the score of one simulation on one
 * sweep (every term), and the joint score over a group's sweeps. The lowest
 * floor of src/fit: it calls the score functions (score.c), the spike-train
 * layer (src/features/spikes.c) and the feature extractor, and nothing else
 * of the fit. */
#include "neurofit/fit.h"

#include "features/spikes.h"
#include "neurofit/features.h"
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


/* ---- passive responses ------------------------------------------------------ */

static const char *const passive_names[NF_FIT_N_PASSIVE] = {"input_resistance", "sag", "tau"};
static const char *const passive_units[NF_FIT_N_PASSIVE] = {"MOhm", "1", "ms"};

const char *nf_fit_passive_name(int p) { return p >= 0 && p < NF_FIT_N_PASSIVE ? passive_names[p] : NULL; }
const char *nf_fit_passive_unit(int p) { return p >= 0 && p < NF_FIT_N_PASSIVE ? passive_units[p] : NULL; }

/* Mean of v over samples [a, b) (clamped to [0, n)); NAN when empty. */
static double mean_range(const float *v, int64_t n, int64_t a, int64_t b)
{
    a = a < 0 ? 0 : a;
    b = b > n ? n : b;
    if (b <= a)
        return NAN;
    double s = 0;
    for (int64_t k = a; k < b; k++)
        s += v[k];
    return s / (double)(b - a);
}

void nf_fit_passive(const float *v, int64_t n, double dt, double s0, double s1, double step_pA, double *val,
                    uint8_t *has)
{
    for (int p = 0; p < NF_FIT_N_PASSIVE; p++) {
        val[p] = NAN;
        has[p] = 0;
    }
    if (!v || !(step_pA < 0) || !(dt > 0) || !(s1 > s0))
        return;
    int64_t k0 = (int64_t)ceil(s0 / dt - 1e-9), k1 = (int64_t)floor(s1 / dt + 1e-9);
    k1 = k1 > n ? n : k1;
    int64_t base = (int64_t)llround(fmin(100.0, s0) / dt); /* up to 100 ms before the step */
    if (k0 < 2 || k1 - k0 < 20 || base < 2)
        return;
    double vb = mean_range(v, n, k0 - base, k0);
    int64_t tail = (k1 - k0) / 10;
    double vss = mean_range(v, n, k1 - tail, k1);
    /* the minimum of the 1 ms running mean over the window */
    int64_t w = (int64_t)llround(1.0 / dt);
    w = w < 1 ? 1 : w;
    double run = 0, vmin = INFINITY;
    int64_t kmin = k0;
    for (int64_t k = k0; k < k1; k++) {
        run += v[k];
        if (k - k0 >= w)
            run -= v[k - w];
        if (k - k0 + 1 >= w && run / (double)w < vmin) {
            vmin = run / (double)w;
            kmin = k - w / 2;
        }
    }
    if (!isfinite(vb) || !isfinite(vss) || !isfinite(vmin))
        return;
    if (vb - vss > 0) {
        val[NF_FIT_P_input_resistance] = (vss - vb) / step_pA * 1000.0; /* mV / pA = GOhm */
        has[NF_FIT_P_input_resistance] = 1;
    }
    double depth = vb - vmin;
    if (depth > 0.5) { /* half a millivolt: below that, noise decides */
        val[NF_FIT_P_sag] = (vss - vmin) / depth;
        has[NF_FIT_P_sag] = 1;
        double level = vb - 0.632 * depth;
        run = 0;
        for (int64_t k = k0; k <= kmin + w && k < k1; k++) {
            run += v[k];
            if (k - k0 >= w)
                run -= v[k - w];
            int64_t m = k - k0 + 1 < w ? k - k0 + 1 : w;
            if (run / (double)m <= level) {
                /* the running mean's centre, from the step's first sample */
                val[NF_FIT_P_tau] = fmax(((double)k - 0.5 * (double)(m - 1) - (double)k0) * dt, dt);
                has[NF_FIT_P_tau] = 1;
                break;
            }
        }
    }
}

/* ---- objectives ---------------------------------------------------------------- */

nf_status nf__fit_obj_init(const nf_fit_options *o, nf__fit_obj *ob)
{
    memset(ob, 0, sizeof *ob);
    ob->w[NF__T_RMSE] = o->weights.rmse;
    ob->w[NF__T_FEAT] = o->weights.features;
    ob->w[NF__T_SPIKES] = o->weights.spikes;
    ob->w[NF__T_FI] = o->w_fi;
    ob->w[NF__T_PASSIVE] = o->w_passive;
    ob->window_ms = o->gamma_window_ms;
    ob->cut_ms = o->rmse_cut_ms;
    ob->report_cut_ms = o->rmse_cut_ms > 0 ? o->rmse_cut_ms : NF_FIT_REPORT_CUT_MS;
    if (o->efel && o->efel[0]) {
        int ids[256];
        int n = nf_features_parse_list(o->efel, ids, 256);
        if (n < 0)
            return nf__fail(NF_EINVAL, "fit: eFEL objectives \"%s\": %s", o->efel, nf_errmsg());
        for (int k = 0; k < n; k++) {
            nf_feature_kind kind = nf_feature_kind_of(ids[k]);
            if (kind == NF_FEATURE_TRACE || kind == NF_FEATURE_INDEX)
                return nf__fail(NF_EINVAL, "fit: eFEL objective %s is %s, not a value to compare",
                                nf_feature_name(ids[k]), kind == NF_FEATURE_TRACE ? "a trace" : "a list of indices");
        }
        ob->efel_ids = malloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
        if (!ob->efel_ids)
            return nf__fail(NF_ENOMEM, "fit: out of memory");
        memcpy(ob->efel_ids, ids, sizeof(int) * (size_t)n);
        ob->n_efel = n;
        ob->w[NF__T_EFEL] = o->w_efel;
    }
    ob->traces = (ob->n_efel > 0 && ob->w[NF__T_EFEL] > 0) || ob->w[NF__T_PASSIVE] > 0;
    return NF_OK;
}

void nf__fit_obj_free(nf__fit_obj *ob)
{
    free(ob->efel_ids);
    ob->efel_ids = NULL;
}

/* The default sigma of an eFEL objective: 10 % of the value, at least a
 * floor by unit. */
static double efel_default_sigma(int id, double x)
{
    const char *u = nf_feature_unit(id);
    double floor = 1e-3;
    if (!strcmp(u, "mV") || !strcmp(u, "ms"))
        floor = 0.5;
    else if (!strcmp(u, "Hz") || !strcmp(u, "mV/ms") || !strcmp(u, "MOhm") || !strcmp(u, "pA"))
        floor = 1.0;
    else if (!strcmp(u, "1"))
        floor = 0.02;
    return fmax(floor, 0.1 * fabs(x));
}

/* eFEL objective values of a float trace (a vector by its mean), NAN when
 * missing or when the trace cannot be computed. */
static void efel_values(nf_features *fx, const nf__fit_obj *ob, const float *v, const float *i, int64_t n, double dt,
                        double s0, double s1, double *out)
{
    for (int k = 0; k < ob->n_efel; k++)
        out[k] = NAN;
    double *d = malloc(sizeof(double) * 2 * (size_t)n);
    if (!d)
        return;
    for (int64_t k = 0; k < n; k++) {
        d[k] = v[k];
        d[n + k] = i[k];
    }
    nf_trace tr = {.dt_ms = dt, .v = d, .i = d + n, .n = n, .stim_start_ms = s0, .stim_end_ms = s1};
    if (nf_features_compute(fx, &tr) == NF_OK)
        for (int k = 0; k < ob->n_efel; k++) {
            nf_feature_value fv;
            if (nf_features_get(fx, ob->efel_ids[k], &fv) || fv.missing || fv.n < 1)
                continue;
            double sum = 0;
            for (int64_t j = 0; j < fv.n; j++)
                sum += fv.values[j];
            out[k] = sum / (double)fv.n;
        }
    free(d);
}

/* ---- targets (continued) ---------------------------------------------------- */

void nf__fit_tgt_free(nf__fit_tgt *t)
{
    free(t->spikes);
    free(t->v_obs);
    free(t->efel);
    memset(t, 0, sizeof *t);
}

nf_status nf__fit_prepare_target(const nf_fit_target *t, int idx, double threshold, int at_crossing,
                                 const nf__fit_obj *ob, nf_features *fx, nf__fit_tgt *out)
{
    memset(out, 0, sizeof *out);
    out->src = t;
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

    /* the RMSE term's target: every sample, or those farther than the cut
     * from every recorded spike (a subthreshold RMSE) */
    out->n_obs = t->n;
    out->sd_obs = out->sd;
    if (ob->cut_ms > 0) {
        if (!(out->v_obs = nf__malloc_array((size_t)t->n, sizeof(float))))
            return nf__fail(NF_ENOMEM, "recording %d (%s): out of memory", idx, name);
        memcpy(out->v_obs, t->v, sizeof(float) * (size_t)t->n);
        for (int k = 0; k < out->n_spikes; k++) {
            int64_t a = (int64_t)ceil((out->spikes[k] - ob->cut_ms) / t->dt_ms);
            int64_t b = (int64_t)floor((out->spikes[k] + ob->cut_ms) / t->dt_ms);
            for (int64_t j = a < 0 ? 0 : a; j <= b && j < t->n; j++)
                out->v_obs[j] = NAN;
        }
        double s1 = 0, s2 = 0;
        int64_t m = 0;
        for (int64_t k = 0; k < t->n; k++)
            if (out->v_obs[k] == out->v_obs[k]) {
                s1 += out->v_obs[k];
                m++;
            }
        double mu = m ? s1 / (double)m : 0;
        for (int64_t k = 0; k < t->n; k++)
            if (out->v_obs[k] == out->v_obs[k])
                s2 += (out->v_obs[k] - mu) * (out->v_obs[k] - mu);
        if (m < 10)
            return nf__fail(NF_EINVAL, "recording %d (%s): %lld samples are farther than the RMSE cut (%g ms) from "
                            "its spikes, need at least 10", idx, name, (long long)m, ob->cut_ms);
        out->n_obs = m;
        out->sd_obs = sqrt(s2 / (double)m);
    }

    /* the f-I point and the passive responses */
    int64_t k0 = (int64_t)ceil(out->s0 / t->dt_ms - 1e-9), k1 = (int64_t)floor(out->s1 / t->dt_ms + 1e-9);
    double i_on = 0, i_base = 0;
    int64_t n_on = 0, n_base = 0;
    for (int64_t k = 0; k < t->n; k++) {
        if (k >= k0 && k < k1) {
            i_on += t->i[k];
            n_on++;
        } else if (k < k0) {
            i_base += t->i[k];
            n_base++;
        }
    }
    out->step_pA = (n_on ? i_on / (double)n_on : 0) - (n_base ? i_base / (double)n_base : t->i[0]);
    nf__spikes st = nf__spikes_f(out->spikes, out->n_spikes);
    int64_t sa, sb;
    nf__spk_window(&st, out->s0, out->s1, &sa, &sb);
    out->rate_hz = (double)(sb - sa) / (out->s1 - out->s0) * 1000.0;
    nf_fit_passive(t->v, t->n, t->dt_ms, out->s0, out->s1, out->step_pA, out->passive, out->has_passive);
    static const double passive_floor[NF_FIT_N_PASSIVE] = {1.0, 0.05, 1.0};
    for (int p = 0; p < NF_FIT_N_PASSIVE; p++)
        out->passive_sigma[p] = fmax(passive_floor[p], 0.1 * fabs(out->passive[p]));

    if (ob->n_efel > 0) {
        if (!(out->efel = malloc(sizeof(double) * 2 * (size_t)ob->n_efel)))
            return nf__fail(NF_ENOMEM, "recording %d (%s): out of memory", idx, name);
        out->efel_sigma = out->efel + ob->n_efel;
        efel_values(fx, ob, t->v, t->i, t->n, t->dt_ms, out->s0, out->s1, out->efel);
        for (int k = 0; k < ob->n_efel; k++)
            out->efel_sigma[k] = efel_default_sigma(ob->efel_ids[k], out->efel[k]);
    }
    return NF_OK;
}

void nf__fit_efel_sigma_repeats(const nf_fit_target *tg, nf__fit_tgt *prep, const int *sw, int n, int n_efel)
{
    if (n_efel <= 0)
        return;
    uint8_t *done = calloc((size_t)n, 1);
    int *cls = malloc(sizeof(int) * (size_t)n);
    if (!done || !cls) {
        free(done);
        free(cls);
        return; /* the defaults stay */
    }
    for (int a = 0; a < n; a++) {
        if (done[a])
            continue;
        int m = 0;
        for (int b = a; b < n; b++)
            if (!done[b] && (b == a || nf__fit_same_current(&tg[sw[a]], &tg[sw[b]]))) {
                cls[m++] = sw[b];
                done[b] = 1;
            }
        if (m < 3)
            continue;
        for (int k = 0; k < n_efel; k++) {
            double s1 = 0, s2 = 0;
            int c = 0;
            for (int j = 0; j < m; j++) {
                double x = prep[cls[j]].efel[k];
                if (isfinite(x)) {
                    s1 += x;
                    c++;
                }
            }
            if (c < 3)
                continue;
            double mu = s1 / c;
            for (int j = 0; j < m; j++) {
                double x = prep[cls[j]].efel[k];
                if (isfinite(x))
                    s2 += (x - mu) * (x - mu);
            }
            double sd = sqrt(s2 / (c - 1));
            if (sd > 0)
                for (int j = 0; j < m; j++)
                    prep[cls[j]].efel_sigma[k] = sd;
        }
    }
    free(done);
    free(cls);
}

int nf__fit_same_current(const nf_fit_target *a, const nf_fit_target *b)
{
    if (a->n != b->n || a->dt_ms != b->dt_ms)
        return 0;
    double amp = 0;
    for (int64_t k = 0; k < a->n; k++)
        amp = fmax(amp, fmax(fabs(a->i[k]), fabs(b->i[k])));
    for (int64_t k = 0; k < a->n; k++)
        if (fabs(a->i[k] - b->i[k]) > 1e-3 * amp + 1e-6)
            return 0;
    return 1;
}

double nf__fit_gamma_int(const nf_fit_target *tg, const nf__fit_tgt *prep, const int *sw, int n, double window_ms)
{
    double sum = 0;
    int c = 0;
    for (int a = 0; a < n; a++)
        for (int b = a + 1; b < n; b++) {
            const nf__fit_tgt *x = &prep[sw[a]], *y = &prep[sw[b]];
            if ((x->n_spikes == 0 && y->n_spikes == 0) || !nf__fit_same_current(&tg[sw[a]], &tg[sw[b]]))
                continue;
            sum += nf_score_gamma(x->spikes, x->n_spikes, y->spikes, y->n_spikes, x->duration, window_ms);
            sum += nf_score_gamma(y->spikes, y->n_spikes, x->spikes, x->n_spikes, y->duration, window_ms);
            c += 2;
        }
    return c ? sum / c : NAN;
}

/* ---- scores ------------------------------------------------------------------- */

void nf__fit_rmse(const float *v, const float *trace, int64_t n, double dt, const float *spk, int n_spk,
                  double cut_ms, double *rmse, double *sub_rmse, int64_t *kept)
{
    double all = 0, sub = 0;
    int64_t m = 0;
    int k = 0;
    for (int64_t j = 0; j < n; j++) {
        double d = (double)trace[j] - (double)v[j];
        all += d * d;
        double t = (double)j * dt;
        while (k < n_spk && spk[k] + cut_ms < t)
            k++;
        if (k < n_spk && spk[k] - cut_ms <= t)
            continue;
        sub += d * d;
        m++;
    }
    *rmse = sqrt(all / (double)n);
    *sub_rmse = m ? sqrt(sub / (double)m) : NAN;
    *kept = m;
}

/* Mean |model - target| / sigma over the objectives the target has (the
 * penalty for one the model lacks); NAN when the target has none. */
static double z_error(const double *t, const double *sig, const uint8_t *t_has, const double *m, const uint8_t *m_has,
                      int n)
{
    double s = 0;
    int c = 0;
    for (int k = 0; k < n; k++) {
        int th = t_has ? t_has[k] : isfinite(t[k]);
        if (!th)
            continue;
        int mh = m_has ? m_has[k] : isfinite(m[k]);
        s += mh ? fabs(m[k] - t[k]) / sig[k] : NF_FEATURE_PENALTY;
        c++;
    }
    return c ? s / c : NAN;
}

void nf__fit_score(const nf__fit_tgt *tg, const nf__fit_obj *ob, double sse, int valid, const float *spk, int n_spk,
                   int n_total, const float *trace, nf_features *fx, double *efel, nf__fit_score_out *o)
{
    memset(o, 0, sizeof *o);
    o->rate_hz = NAN;
    for (int p = 0; p < NF_FIT_N_PASSIVE; p++)
        o->passive[p] = NAN;
    if (efel)
        for (int k = 0; k < ob->n_efel; k++)
            efel[k] = NAN;
    if (!valid || !isfinite(sse)) {
        o->rmse = o->nrmse = o->fe = o->combined = o->search = INFINITY;
        o->gamma = NAN;
        return;
    }
    o->valid = 1;
    o->rmse = sqrt(sse / (double)tg->n_obs);
    o->nrmse = nf_score_nrmse(sse, tg->n_obs, tg->sd_obs);
    nf_fit_spike_features(spk, n_spk, tg->s0, tg->s1, o->feat, o->has);
    o->feat[NF_FIT_F_spike_count] = n_total; /* spikes beyond the stored ones count too */
    o->fe = nf_score_features(tg->feat, tg->has, o->feat, o->has, tg->sigma, NF_FIT_N_FEATURES,
                              NF_FEATURE_PENALTY, &o->n_used);
    o->gamma = nf_score_gamma(tg->spikes, tg->n_spikes, spk, n_spk, tg->duration, ob->window_ms);
    double fs = nf_score_features(tg->feat, tg->has, o->feat, o->has, tg->sigma_search, NF_FIT_N_FEATURES,
                                  NF_FEATURE_PENALTY, NULL);
    o->term[NF__T_RMSE] = o->nrmse;
    o->term[NF__T_FEAT] = o->n_used > 0 ? o->fe / o->n_used : 0.0;
    o->fe_search = o->n_used > 0 ? fs / o->n_used : 0.0;
    o->term[NF__T_SPIKES] = 1.0 - o->gamma;
    o->has_term[NF__T_RMSE] = o->has_term[NF__T_FEAT] = o->has_term[NF__T_SPIKES] = 1;
    /* the f-I point: spikes in the window per second */
    nf__spikes st = nf__spikes_f(spk, n_spk);
    int64_t a, b;
    nf__spk_window(&st, tg->s0, tg->s1, &a, &b);
    o->rate_hz = (double)(b - a) / (tg->s1 - tg->s0) * 1000.0;
    o->term[NF__T_FI] = fabs(o->rate_hz - tg->rate_hz) / fmax(2.0, 0.1 * tg->rate_hz);
    o->has_term[NF__T_FI] = 1;
    if (trace) {
        const nf_fit_target *t = tg->src;
        nf_fit_passive(trace, t->n, t->dt_ms, tg->s0, tg->s1, tg->step_pA, o->passive, o->has_passive);
        double pe = z_error(tg->passive, tg->passive_sigma, tg->has_passive, o->passive, o->has_passive,
                            NF_FIT_N_PASSIVE);
        if (isfinite(pe)) {
            o->term[NF__T_PASSIVE] = pe;
            o->has_term[NF__T_PASSIVE] = 1;
        }
        if (ob->n_efel > 0 && fx && efel) {
            efel_values(fx, ob, trace, t->i, t->n, t->dt_ms, tg->s0, tg->s1, efel);
            double ee = z_error(tg->efel, tg->efel_sigma, NULL, efel, NULL, ob->n_efel);
            if (isfinite(ee)) {
                o->term[NF__T_EFEL] = ee;
                o->has_term[NF__T_EFEL] = 1;
            }
        }
    }
    nf__fit_acc one = {0};
    nf__fit_acc_add(&one, o);
    o->combined = nf__fit_acc_joint(&one, ob, 0);
    o->search = nf__fit_acc_joint(&one, ob, 1);
}

void nf__fit_acc_add(nf__fit_acc *a, const nf__fit_score_out *so)
{
    if (!so->valid) {
        a->invalid = 1;
        return;
    }
    for (int t = 0; t < NF__T_COUNT; t++)
        if (so->has_term[t]) {
            a->sum[t] += so->term[t];
            a->n[t]++;
        }
    a->sum_fs += so->fe_search;
}

double nf__fit_acc_joint(const nf__fit_acc *a, const nf__fit_obj *ob, int search)
{
    if (a->invalid)
        return INFINITY;
    double s = 0;
    for (int t = 0; t < NF__T_COUNT; t++) {
        if (ob->w[t] == 0 || a->n[t] == 0)
            continue; /* a switched-off term never poisons the sum; an absent one adds nothing */
        double x = (search && t == NF__T_FEAT ? a->sum_fs : a->sum[t]) / a->n[t];
        if (!isfinite(x))
            return INFINITY;
        s += ob->w[t] * x;
    }
    return isfinite(s) ? s : INFINITY;
}
