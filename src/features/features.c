/* Feature extractor: registry, context, input validation, result access and
 * JSON / CSV output (include/neurofit/features.h). It dispatches to the
 * computations in efel.c and simple.c; what they share (storing results)
 * lives below both in features_common.c. */
#include "features/features_internal.h"
#include "features/spikes.h"
#include "internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name, *unit, *def;
    int kind;
} feat_info;

static const feat_info FEATS[NF__F_COUNT] = {
#define NF__FEAT_INFO(id, name, unit, kind, def) {name, unit, def, kind},
    NF__FEATURE_LIST(NF__FEAT_INFO)
#undef NF__FEAT_INFO
};

/* The feature each deprecated name repeats. */
static int alias_target(int id)
{
    switch (id) {
    case NF__F_SPIKECOUNT: return NF__F_SPIKE_COUNT;
    case NF__F_SPIKECOUNT_STIMINT: return NF__F_SPIKE_COUNT_STIMINT;
    case NF__F_ISIS: return NF__F_ALL_ISI_VALUES;
    default: return id;
    }
}

static int valid_id(int id) { return id >= 0 && id < NF__F_COUNT; }
int nf_feature_count(void) { return NF__F_COUNT; }
const char *nf_feature_name(int id) { return valid_id(id) ? FEATS[id].name : NULL; }
const char *nf_feature_unit(int id) { return valid_id(id) ? FEATS[id].unit : NULL; }
const char *nf_feature_definition(int id) { return valid_id(id) ? FEATS[id].def : NULL; }
int nf_feature_alias_of(int id) { return valid_id(id) ? alias_target(id) : id; }

nf_feature_kind nf_feature_kind_of(int id)
{
    static const nf_feature_kind map[] = {NF_FEATURE_SCALAR, NF_FEATURE_VECTOR, NF_FEATURE_INDEX, NF_FEATURE_TRACE,
                                          NF_FEATURE_ALIAS};
    return valid_id(id) ? map[FEATS[id].kind] : NF_FEATURE_SCALAR;
}

int nf_feature_is_vector(int id)
{
    if (!valid_id(id)) return 0;
    return FEATS[alias_target(id)].kind != NF__SCALAR;
}

int nf_feature_id(const char *name)
{
    if (!name) return -1;
    for (int k = 0; k < NF__F_COUNT; k++)
        if (!strcmp(FEATS[k].name, name)) return k;
    return -1;
}

void nf_features_opts_default(nf_features_opts *o)
{
    o->threshold_mV = -20.0;
    o->deriv_threshold = 10.0;
    o->down_deriv_threshold = -12.0;
    o->deriv_window = 3;
    o->interp_step_ms = 0.1;
    o->ignore_first_isi = 1;
    o->strict_stiminterval = 0;
    o->spike_skipf = 0.1;
    o->max_spike_skip = 2;
    o->burst_factor = 1.5;
    o->strict_burst_factor = 2.0;
    o->voltage_base_start_perc = 0.9;
    o->voltage_base_end_perc = 1.0;
    o->voltage_base_mode = NF_FEATURES_BASE_MEAN;
    o->current_base_start_perc = 0.9;
    o->current_base_end_perc = 1.0;
    o->current_base_mode = NF_FEATURES_BASE_MEAN;
    o->precision_threshold = 1e-10;
    o->rise_start_perc = 0.0;
    o->rise_end_perc = 1.0;
    o->initial_perc = 0.1;
    o->sahp_start_ms = 5.0;
    o->initburst_freq_threshold = 50.0;
    o->initburst_sahp_start_ms = 5.0;
    o->initburst_sahp_end_ms = 100.0;
    o->impedance_max_freq = 50.0;
    o->ap_phaseslope_range = 2;
    o->inactivation_tc_end_skip = 10;
    o->decay_start_after_stim_ms = 1.0;
    o->decay_end_after_stim_ms = 10.0;
    o->adaptation_offset_ms = 0.0;
}

/* eFEL's setting names and where they live in the options. */
enum { SET_DOUBLE, SET_INT, SET_FLAG, SET_MODE };
static const struct {
    const char *name;
    int type;
    size_t off;
} SETTINGS[] = {
#define NF__SET(name, type, field) {name, type, offsetof(nf_features_opts, field)}
    NF__SET("Threshold", SET_DOUBLE, threshold_mV),
    NF__SET("DerivativeThreshold", SET_DOUBLE, deriv_threshold),
    NF__SET("DownDerivativeThreshold", SET_DOUBLE, down_deriv_threshold),
    NF__SET("DerivativeWindow", SET_INT, deriv_window),
    NF__SET("interp_step", SET_DOUBLE, interp_step_ms),
    NF__SET("ignore_first_ISI", SET_FLAG, ignore_first_isi),
    NF__SET("strict_stiminterval", SET_FLAG, strict_stiminterval),
    NF__SET("spike_skipf", SET_DOUBLE, spike_skipf),
    NF__SET("max_spike_skip", SET_INT, max_spike_skip),
    NF__SET("burst_factor", SET_DOUBLE, burst_factor),
    NF__SET("strict_burst_factor", SET_DOUBLE, strict_burst_factor),
    NF__SET("voltage_base_start_perc", SET_DOUBLE, voltage_base_start_perc),
    NF__SET("voltage_base_end_perc", SET_DOUBLE, voltage_base_end_perc),
    NF__SET("voltage_base_mode", SET_MODE, voltage_base_mode),
    NF__SET("current_base_start_perc", SET_DOUBLE, current_base_start_perc),
    NF__SET("current_base_end_perc", SET_DOUBLE, current_base_end_perc),
    NF__SET("current_base_mode", SET_MODE, current_base_mode),
    NF__SET("precision_threshold", SET_DOUBLE, precision_threshold),
    NF__SET("rise_start_perc", SET_DOUBLE, rise_start_perc),
    NF__SET("rise_end_perc", SET_DOUBLE, rise_end_perc),
    NF__SET("initial_perc", SET_DOUBLE, initial_perc),
    NF__SET("sahp_start", SET_DOUBLE, sahp_start_ms),
    NF__SET("initburst_freq_threshold", SET_DOUBLE, initburst_freq_threshold),
    NF__SET("initburst_sahp_start", SET_DOUBLE, initburst_sahp_start_ms),
    NF__SET("initburst_sahp_end", SET_DOUBLE, initburst_sahp_end_ms),
    NF__SET("impedance_max_freq", SET_DOUBLE, impedance_max_freq),
    NF__SET("AP_phaseslope_range", SET_INT, ap_phaseslope_range),
    NF__SET("inactivation_tc_end_skip", SET_INT, inactivation_tc_end_skip),
    NF__SET("decay_start_after_stim", SET_DOUBLE, decay_start_after_stim_ms),
    NF__SET("decay_end_after_stim", SET_DOUBLE, decay_end_after_stim_ms),
    NF__SET("offset", SET_DOUBLE, adaptation_offset_ms),
#undef NF__SET
};

nf_status nf_features_opts_set(nf_features_opts *o, const char *name, const char *value)
{
    if (!o || !name || !value) return nf__fail(NF_EINVAL, "nf_features_opts_set: NULL argument");
    for (size_t k = 0; k < sizeof SETTINGS / sizeof SETTINGS[0]; k++) {
        if (strcmp(SETTINGS[k].name, name)) continue;
        char *at = (char *)o + SETTINGS[k].off, *end = NULL;
        switch (SETTINGS[k].type) {
        case SET_MODE:
            if (!strcmp(value, "mean") || !strcmp(value, "median")) {
                nf_features_base_mode m = strcmp(value, "mean") ? NF_FEATURES_BASE_MEDIAN : NF_FEATURES_BASE_MEAN;
                memcpy(at, &m, sizeof m);
                return NF_OK;
            }
            return nf__fail(NF_EINVAL, "features: setting %s = '%s': use mean or median", name, value);
        case SET_FLAG:
            if (!strcmp(value, "true") || !strcmp(value, "false")) {
                int x = value[0] == 't';
                memcpy(at, &x, sizeof x);
                return NF_OK;
            }
            /* fall through */
        case SET_INT: {
            long x = strtol(value, &end, 10);
            if (end == value || *end || x < INT32_MIN || x > INT32_MAX ||
                (SETTINGS[k].type == SET_FLAG && x != 0 && x != 1))
                return nf__fail(NF_EINVAL, "features: setting %s = '%s' is not %s", name, value,
                                SETTINGS[k].type == SET_FLAG ? "0, 1, true or false" : "an integer");
            int xi = (int)x;
            memcpy(at, &xi, sizeof xi);
            return NF_OK;
        }
        default: {
            double x = strtod(value, &end);
            if (end == value || *end || !isfinite(x))
                return nf__fail(NF_EINVAL, "features: setting %s = '%s' is not a finite number", name, value);
            memcpy(at, &x, sizeof x);
            return NF_OK;
        }
        }
    }
    return nf__fail(NF_ENOTFOUND, "features: unknown setting '%s' (eFEL's names: Threshold, DerivativeThreshold, "
                                  "interp_step, strict_stiminterval, ...; docs/features.md lists them)",
                    name);
}

static nf_status check_opts(const nf_features_opts *o)
{
    const struct {
        const char *name;
        double x;
    } finite[] = {{"threshold", o->threshold_mV},
                  {"deriv_threshold", o->deriv_threshold},
                  {"down_deriv_threshold", o->down_deriv_threshold},
                  {"voltage_base_start_perc", o->voltage_base_start_perc},
                  {"voltage_base_end_perc", o->voltage_base_end_perc},
                  {"current_base_start_perc", o->current_base_start_perc},
                  {"current_base_end_perc", o->current_base_end_perc},
                  {"precision_threshold", o->precision_threshold},
                  {"rise_start_perc", o->rise_start_perc},
                  {"rise_end_perc", o->rise_end_perc},
                  {"sahp_start_ms", o->sahp_start_ms},
                  {"initburst_freq_threshold", o->initburst_freq_threshold},
                  {"initburst_sahp_start_ms", o->initburst_sahp_start_ms},
                  {"initburst_sahp_end_ms", o->initburst_sahp_end_ms},
                  {"impedance_max_freq", o->impedance_max_freq},
                  {"adaptation_offset_ms", o->adaptation_offset_ms}};
    for (size_t k = 0; k < sizeof finite / sizeof finite[0]; k++)
        if (!isfinite(finite[k].x))
            return nf__fail(NF_EINVAL, "features: %s = %g is not finite", finite[k].name, finite[k].x);
    if (o->deriv_window < 1 || o->deriv_window > 1000)
        return nf__fail(NF_EINVAL, "features: derivative window %d samples is not in [1, 1000]", o->deriv_window);
    if (!(o->interp_step_ms >= 0) || !isfinite(o->interp_step_ms))
        return nf__fail(NF_EINVAL, "features: interpolation step %g ms must be >= 0 (0: no resampling)",
                        o->interp_step_ms);
    if (!(o->spike_skipf >= 0 && o->spike_skipf < 1))
        return nf__fail(NF_EINVAL, "features: spike_skipf %g is not in [0, 1)", o->spike_skipf);
    if (o->max_spike_skip < 0) return nf__fail(NF_EINVAL, "features: max_spike_skip %d < 0", o->max_spike_skip);
    if (!(o->burst_factor > 0) || !isfinite(o->burst_factor))
        return nf__fail(NF_EINVAL, "features: burst_factor %g must be > 0", o->burst_factor);
    if (!(o->strict_burst_factor > 0) || !isfinite(o->strict_burst_factor))
        return nf__fail(NF_EINVAL, "features: strict_burst_factor %g must be > 0", o->strict_burst_factor);
    if (!(o->initial_perc >= 0 && o->initial_perc < 1))
        return nf__fail(NF_EINVAL, "features: initial_perc %g is not in [0, 1)", o->initial_perc);
    if ((unsigned)o->voltage_base_mode > NF_FEATURES_BASE_MEDIAN ||
        (unsigned)o->current_base_mode > NF_FEATURES_BASE_MEDIAN)
        return nf__fail(NF_EINVAL, "features: base mode must be mean or median");
    if (o->ap_phaseslope_range < 0 || o->ap_phaseslope_range > 1000)
        return nf__fail(NF_EINVAL, "features: AP_phaseslope_range %d is not in [0, 1000]", o->ap_phaseslope_range);
    if (o->inactivation_tc_end_skip < 0)
        return nf__fail(NF_EINVAL, "features: inactivation_tc_end_skip %d < 0", o->inactivation_tc_end_skip);
    if (!(o->decay_start_after_stim_ms < o->decay_end_after_stim_ms) || !isfinite(o->decay_start_after_stim_ms) ||
        !isfinite(o->decay_end_after_stim_ms))
        return nf__fail(NF_EINVAL, "features: decay window [%g, %g] ms after the stimulus is empty",
                        o->decay_start_after_stim_ms, o->decay_end_after_stim_ms);
    return NF_OK;
}

nf_status nf_features_create(const nf_features_opts *opts, nf_features **out)
{
    if (!out) return nf__fail(NF_EINVAL, "nf_features_create: out is NULL");
    *out = NULL;
    nf_features_opts o;
    if (opts)
        o = *opts;
    else
        nf_features_opts_default(&o);
    nf_status st = check_opts(&o);
    if (st) return st;
    nf_features *f = nf__calloc(1, sizeof *f);
    if (!f) return nf__fail(NF_ENOMEM, "nf_features_create: out of memory");
    f->o = o;
    *out = f;
    return NF_OK;
}

/* The work buffers, in one list for allocation and release. */
#define NF__DBL_BUFS(f) {&(f)->t, &(f)->v, &(f)->i, &(f)->dvdt, &(f)->traw}
#define NF__IDX_BUFS(f) {&(f)->pk, &(f)->ahp, &(f)->apb, &(f)->ape, &(f)->mbp, &(f)->iw}

static void free_buffers(nf_features *f)
{
    double **dbl[] = NF__DBL_BUFS(f);
    int64_t **idx[] = NF__IDX_BUFS(f);
    for (size_t k = 0; k < sizeof dbl / sizeof dbl[0]; k++) {
        free(*dbl[k]);
        *dbl[k] = NULL;
    }
    for (size_t k = 0; k < sizeof idx / sizeof idx[0]; k++) {
        free(*idx[k]);
        *idx[k] = NULL;
    }
    free(f->scratch);
    f->scratch = NULL;
    f->cap = 0;
}

void nf_features_destroy(nf_features *f)
{
    if (!f) return;
    free_buffers(f);
    free(f->pool);
    free(f);
}

const nf_features_opts *nf_features_get_opts(const nf_features *f) { return f ? &f->o : NULL; }

/* Grow the work buffers to hold cap samples (never shrinks). */
static nf_status reserve(nf_features *f, int64_t cap)
{
    if (cap <= f->cap) return NF_OK;
    cap += cap / 4; /* room for slightly longer traces later */
    free_buffers(f);
    size_t c = (size_t)cap;
    double **dbl[] = NF__DBL_BUFS(f);
    int64_t **idx[] = NF__IDX_BUFS(f);
    int ok = 1;
    for (size_t k = 0; k < sizeof dbl / sizeof dbl[0]; k++) ok = (*dbl[k] = nf__malloc_array(c, sizeof(double))) && ok;
    for (size_t k = 0; k < sizeof idx / sizeof idx[0]; k++) ok = (*idx[k] = nf__malloc_array(c, sizeof(int64_t))) && ok;
    ok = (f->scratch = nf__malloc_array(2 * c + 8, sizeof(double))) && ok; /* + padding, efel_sub.c */
    if (!ok) {
        free_buffers(f);
        return nf__fail(NF_ENOMEM, "features: out of memory for a trace of %lld samples", (long long)cap);
    }
    f->cap = cap;
    return NF_OK;
}

/* Room in the pool for every feature of a trace with np peaks: no eFEL
 * vector holds more than one value per peak plus two, or one per
 * multi-stimulus step; the simple set's spike times one per crossing. */
static nf_status reserve_pool(nf_features *f, int64_t np, int64_t n_multi, int64_t n_crossings)
{
    int64_t per = (np > n_multi ? np : n_multi) + 2;
    int64_t need = (int64_t)NF__F_COUNT * per + n_crossings + 64;
    f->pool_n = 0;
    if (need <= f->pool_cap) return NF_OK;
    need += need / 4;
    free(f->pool);
    f->pool = nf__malloc_array((size_t)need, sizeof(double));
    if (!f->pool) {
        f->pool_cap = 0;
        return nf__fail(NF_ENOMEM, "features: out of memory for %lld spikes", (long long)np);
    }
    f->pool_cap = need;
    return NF_OK;
}

/* Largest resampled trace accepted: bounds the memory a bad time axis
 * (seconds read as ms, a stray huge time) can ask for. */
#define NF__MAX_SAMPLES ((int64_t)1 << 30)

/* resampling: time may repeat a value (text files printed with few
 * decimals), as eFEL accepts; without resampling it must increase. */
static nf_status check_trace(const nf_trace *tr, int resampling)
{
    if (!tr) return nf__fail(NF_EINVAL, "features: trace is NULL");
    if (!tr->v) return nf__fail(NF_EINVAL, "features: trace has no voltage (v is NULL)");
    if (tr->n < 3) return nf__fail(NF_EINVAL, "features: trace has %lld samples, needs at least 3", (long long)tr->n);
    if (tr->n > NF__MAX_SAMPLES)
        return nf__fail(NF_ERANGE, "features: trace has %lld samples, more than %lld", (long long)tr->n,
                        (long long)NF__MAX_SAMPLES);
    if (!tr->t && !(tr->dt_ms > 0 && isfinite(tr->dt_ms)))
        return nf__fail(NF_EINVAL, "features: no time axis: t is NULL and dt = %g ms is not > 0", tr->dt_ms);
    if (!isfinite(tr->stim_start_ms) || !isfinite(tr->stim_end_ms))
        return nf__fail(NF_EINVAL, "features: stimulus window [%g, %g] ms is not finite", tr->stim_start_ms,
                        tr->stim_end_ms);
    if (!(tr->stim_end_ms > tr->stim_start_ms))
        return nf__fail(NF_EINVAL, "features: stimulus end %g ms is not after its start %g ms", tr->stim_end_ms,
                        tr->stim_start_ms);
    if (!isfinite(tr->stimulus_current_pA))
        return nf__fail(NF_EINVAL, "features: stimulus current %g pA is not finite", tr->stimulus_current_pA);
    if (tr->n_multi_stim < 0 || (tr->n_multi_stim > 0 && (!tr->multi_stim_start_ms || !tr->multi_stim_end_ms)))
        return nf__fail(NF_EINVAL, "features: %d multi-stimulus steps without their start and end times",
                        tr->n_multi_stim);
    for (int k = 0; k < tr->n_multi_stim; k++)
        if (!(tr->multi_stim_end_ms[k] > tr->multi_stim_start_ms[k]) || !isfinite(tr->multi_stim_end_ms[k]) ||
            !isfinite(tr->multi_stim_start_ms[k]))
            return nf__fail(NF_EINVAL, "features: multi-stimulus step %d [%g, %g] ms is empty or not finite", k,
                            tr->multi_stim_start_ms[k], tr->multi_stim_end_ms[k]);
    for (int64_t k = 0; k < tr->n; k++)
        if (!isfinite(tr->v[k]))
            return nf__fail(NF_ENAN, "features: v[%lld] = %g mV is not finite", (long long)k, tr->v[k]);
    if (tr->t) {
        if (!isfinite(tr->t[0])) return nf__fail(NF_ENAN, "features: t[0] = %g ms is not finite", tr->t[0]);
        for (int64_t k = 1; k < tr->n; k++) {
            if (!isfinite(tr->t[k]))
                return nf__fail(NF_ENAN, "features: t[%lld] = %g ms is not finite", (long long)k, tr->t[k]);
            if (!(tr->t[k] > tr->t[k - 1] || (resampling && tr->t[k] == tr->t[k - 1])))
                return nf__fail(NF_EINVAL, "features: time is not increasing: t[%lld] = %.17g ms after t[%lld] = %.17g ms",
                                (long long)k, tr->t[k], (long long)k - 1, tr->t[k - 1]);
        }
        if (!(tr->t[tr->n - 1] > tr->t[0]))
            return nf__fail(NF_EINVAL, "features: the trace spans no time (t[0] = t[%lld] = %g ms)",
                            (long long)tr->n - 1, tr->t[0]);
    }
    if (tr->i)
        for (int64_t k = 0; k < tr->n; k++)
            if (!isfinite(tr->i[k]))
                return nf__fail(NF_ENAN, "features: i[%lld] = %g pA is not finite", (long long)k, tr->i[k]);
    return NF_OK;
}

/* Linear interpolation of y onto the grid ti[0..m) built from t (see
 * make_grid); returns the number of grid points filled (the grid stops at
 * the last sample). A repeated time (x == t[j] == t[j+1]) takes the first
 * sample. */
static int64_t interpolate(const double *t, const double *y, int64_t n, const double *ti, int64_t m, double *yi)
{
    int64_t j = 0;
    for (int64_t k = 0; k < m; k++) {
        double x = ti[k];
        while (t[j + 1] < x) {
            j++;
            if (j + 1 >= n) {
                j = n - 1;
                break;
            }
        }
        if (j == n - 1) { /* past the last sample: hold it, and stop */
            yi[k] = y[j];
            return k + 1;
        }
        yi[k] = t[j + 1] > t[j] ? y[j] + (y[j + 1] - y[j]) / (t[j + 1] - t[j]) * (x - t[j]) : y[j];
    }
    return m;
}

/* eFEL's grid: t0, t0 + step, ... accumulated by repeated addition (so that
 * grid times agree with eFEL's to the last bit), covering the last sample. */
static int64_t make_grid(const double *t, int64_t n, double step, double *ti)
{
    int64_t m = (int64_t)ceil((t[n - 1] - t[0]) / step);
    double x = t[0];
    for (int64_t k = 0; k < m; k++) {
        ti[k] = x;
        x += step;
    }
    if (ti[m - 1] < t[n - 1]) ti[m++] = x;
    return m;
}

/* dV/dt: central differences of V over central differences of t (eFEL's
 * form), one-sided at the ends. */
static void derivative(const double *t, const double *v, int64_t n, double *d)
{
    d[0] = (v[1] - v[0]) / (t[1] - t[0]);
    for (int64_t k = 1; k < n - 1; k++) d[k] = ((v[k + 1] - v[k - 1]) / 2) / ((t[k + 1] - t[k - 1]) / 2);
    d[n - 1] = (v[n - 1] - v[n - 2]) / (t[n - 1] - t[n - 2]);
}

/* The trace on the grid (or as given) in f->t, f->v, f->i; f->n samples. */
static void prepare(nf_features *f, const double *t, const nf_trace *tr)
{
    int64_t n = tr->n;
    f->has_i = tr->i != NULL;
    if (f->o.interp_step_ms > 0) {
        int64_t m = make_grid(t, n, f->o.interp_step_ms, f->t);
        f->n = interpolate(t, tr->v, n, f->t, m, f->v);
        if (f->has_i) interpolate(t, tr->i, n, f->t, f->n, f->i);
    } else {
        f->n = n;
        for (int64_t k = 0; k < n; k++) {
            f->t[k] = t[k];
            f->v[k] = tr->v[k];
            if (f->has_i) f->i[k] = tr->i[k];
        }
    }
    if (f->n < 3) { /* a grid coarser than the trace: keep three points */
        f->n = 3;
        for (int64_t k = 0; k < 3; k++) {
            f->t[k] = t[k];
            f->v[k] = tr->v[k];
            if (f->has_i) f->i[k] = tr->i[k];
        }
    }
    derivative(f->t, f->v, f->n, f->dvdt);
}

/* eFEL's peaks; with strict_stiminterval only those inside [ss, se]. */
static void find_peaks(nf_features *f)
{
    const char *why = NULL;
    int64_t np = nf__spk_peaks(f->v, f->n, f->o.threshold_mV, f->iw, f->pk, &why);
    if (f->o.strict_stiminterval) {
        int64_t m = 0;
        for (int64_t s = 0; s < np; s++)
            if (f->t[f->pk[s]] >= f->ss && f->t[f->pk[s]] <= f->se) f->pk[m++] = f->pk[s];
        if (np > 0 && m == 0) why = "no peak inside the stimulus window (strict_stiminterval)";
        np = m;
    }
    f->np = np;
    f->peak_reason = why ? why : "no spike detected";
}

nf_status nf_features_compute(nf_features *f, const nf_trace *tr)
{
    if (!f) return nf__fail(NF_EINVAL, "nf_features_compute: context is NULL");
    f->have_result = 0;
    nf_status st = check_trace(tr, f->o.interp_step_ms > 0);
    if (st) return st;
    int64_t n = tr->n, need = n;
    double t_last = tr->t ? tr->t[n - 1] : (double)(n - 1) * tr->dt_ms;
    double t_first = tr->t ? tr->t[0] : 0.0;
    if (f->o.interp_step_ms > 0) {
        double m = ceil((t_last - t_first) / f->o.interp_step_ms) + 2;
        if (!(m <= (double)NF__MAX_SAMPLES))
            return nf__fail(NF_ERANGE,
                            "features: trace spans %g ms, %.4g samples at the %g ms interpolation step (limit %lld)",
                            t_last - t_first, m, f->o.interp_step_ms, (long long)NF__MAX_SAMPLES);
        if ((int64_t)m > need) need = (int64_t)m;
    }
    st = reserve(f, need);
    if (st) return st;
    const double *t = tr->t;
    if (!t) { /* a uniform axis, materialised once per call */
        for (int64_t k = 0; k < n; k++) f->traw[k] = (double)k * tr->dt_ms;
        t = f->traw;
    }
    f->tr = tr;
    f->ss = tr->stim_start_ms;
    f->se = tr->stim_end_ms;
    prepare(f, t, tr);
    find_peaks(f);
    st = reserve_pool(f, f->np, tr->n_multi_stim, nf__spk_rising(tr->v, n, f->o.threshold_mV, f->iw));
    if (st) return st;
    for (int k = 0; k < NF__F_COUNT; k++) nf__missing(f, k, "not computed");
    nf__efel_sub(f);
    nf__efel_events(f);
    nf__efel_shape(f);
    nf__efel_late(f);
    nf__simple_features(f, t, tr->v, n);
    for (int k = 0; k < NF__F_COUNT; k++)
        if (FEATS[k].kind == NF__ALIAS) f->res[k] = f->res[alias_target(k)];
    f->tr = NULL;
    f->have_result = 1;
    return NF_OK;
}

/* ---- results ------------------------------------------------------------------ */

nf_status nf_features_get(const nf_features *f, int id, nf_feature_value *out)
{
    if (!f || !out) return nf__fail(NF_EINVAL, "nf_features_get: NULL argument");
    if (id < 0 || id >= NF__F_COUNT) return nf__fail(NF_ENOTFOUND, "features: no feature with id %d", id);
    if (!f->have_result) return nf__fail(NF_ESTATE, "features: no trace computed yet (or the last one failed)");
    const nf__result *r = &f->res[id];
    out->missing = r->missing;
    out->reason = r->missing ? r->reason : "";
    out->values = r->missing ? NULL : r->vals;
    out->n = r->missing ? 0 : r->n;
    return NF_OK;
}

nf_status nf_features_lookup(const nf_features *f, const char *name, nf_feature_value *out)
{
    int id = nf_feature_id(name);
    if (id < 0) return nf__fail(NF_ENOTFOUND, "features: unknown feature '%s'", name ? name : "(null)");
    return nf_features_get(f, id, out);
}

/* The default set: every feature but the traces and the deprecated names. */
static int in_all(int id) { return FEATS[id].kind != NF__TRACE && FEATS[id].kind != NF__ALIAS; }

int nf_features_parse_list(const char *list, int *ids, int cap)
{
    if (!list || !*list) list = "all";
    int n = 0;
    const char *s = list;
    while (*s) {
        size_t len = strcspn(s, ",");
        char name[64];
        if (len == 0 || len >= sizeof name) {
            nf__fail(NF_EINVAL, "features: bad feature list '%s' (empty or too long name)", list);
            return -1;
        }
        memcpy(name, s, len);
        name[len] = 0;
        int id = strcmp(name, "all") ? nf_feature_id(name) : NF__F_COUNT;
        if (id < 0) {
            nf__fail(NF_ENOTFOUND, "unknown feature '%s' (`neurofit features --list` names them)", name);
            return -1;
        }
        for (int k = id == NF__F_COUNT ? 0 : id; k < (id == NF__F_COUNT ? NF__F_COUNT : id + 1); k++) {
            if (id == NF__F_COUNT && !in_all(k)) continue;
            if (n >= cap) {
                nf__fail(NF_ERANGE, "features: more than %d features listed", cap);
                return -1;
            }
            ids[n++] = k;
        }
        s += len;
        if (*s == ',') s++;
    }
    return n;
}

void *nf_features_to_json(const nf_features *f, const int *ids, int n_ids)
{
    if (!f || !f->have_result) return NULL;
    cJSON *o = cJSON_CreateObject(), *miss = NULL;
    if (!o) return NULL;
    for (int k = 0; k < n_ids; k++) {
        int id = ids[k];
        if (id < 0 || id >= NF__F_COUNT) continue;
        const nf__result *r = &f->res[id];
        cJSON *item;
        if (r->missing) {
            item = cJSON_CreateNull();
            if (!miss) miss = cJSON_CreateObject();
            if (miss) cJSON_AddStringToObject(miss, FEATS[id].name, r->reason);
        } else if (!nf_feature_is_vector(id)) {
            item = cJSON_CreateNumber(r->vals[0]);
        } else {
            item = cJSON_CreateDoubleArray(r->vals, (int)r->n);
        }
        if (!item) {
            cJSON_Delete(o);
            cJSON_Delete(miss);
            return NULL;
        }
        cJSON_AddItemToObject(o, FEATS[id].name, item);
    }
    if (miss) cJSON_AddItemToObject(o, "missing", miss);
    return o;
}

nf_status nf_features_write_csv_header(FILE *fp, const int *ids, int n_ids)
{
    fputs("label,stim_start_ms,stim_end_ms", fp);
    for (int k = 0; k < n_ids; k++) fprintf(fp, ",%s", nf_feature_name(ids[k]) ? nf_feature_name(ids[k]) : "?");
    fputc('\n', fp);
    return ferror(fp) ? nf__fail(NF_EIO, "features: writing the CSV header failed") : NF_OK;
}

nf_status nf_features_write_csv_row(FILE *fp, const nf_features *f, const char *label, const int *ids, int n_ids)
{
    if (!f || !f->have_result) return nf__fail(NF_ESTATE, "features: no trace computed yet");
    /* quote the label: file names may hold commas */
    fputc('"', fp);
    for (const char *c = label ? label : ""; *c; c++) {
        if (*c == '"') fputc('"', fp);
        fputc(*c, fp);
    }
    fputc('"', fp);
    fprintf(fp, ",%.17g,%.17g", f->ss, f->se);
    for (int k = 0; k < n_ids; k++) {
        fputc(',', fp);
        if (ids[k] < 0 || ids[k] >= NF__F_COUNT) continue;
        const nf__result *r = &f->res[ids[k]];
        if (r->missing) continue;
        for (int64_t j = 0; j < r->n; j++) fprintf(fp, j ? ";%.17g" : "%.17g", r->vals[j]);
    }
    fputc('\n', fp);
    return ferror(fp) ? nf__fail(NF_EIO, "features: writing a CSV row failed") : NF_OK;
}
