/* Feature extractor: registry, context, input validation, result access and
 * JSON / CSV output (include/neurofit/features.h). It dispatches to the
 * computations in efel.c and simple.c; what they share (storing results)
 * lives below both in features_common.c. */
#include "features/features_internal.h"
#include "internal.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name, *unit;
    int vec;
} feat_info;

static const feat_info FEATS[NF__F_COUNT] = {
#define NF__FEAT_INFO(id, name, unit, vec) {name, unit, vec},
    NF__FEATURE_LIST(NF__FEAT_INFO)
#undef NF__FEAT_INFO
};

int nf_feature_count(void) { return NF__F_COUNT; }
const char *nf_feature_name(int id) { return id >= 0 && id < NF__F_COUNT ? FEATS[id].name : NULL; }
const char *nf_feature_unit(int id) { return id >= 0 && id < NF__F_COUNT ? FEATS[id].unit : NULL; }
int nf_feature_is_vector(int id) { return id >= 0 && id < NF__F_COUNT ? FEATS[id].vec : 0; }

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
    o->deriv_window = 3;
    o->interp_step_ms = 0.1;
    o->ignore_first_isi = 1;
    o->spike_skipf = 0.1;
    o->max_spike_skip = 2;
    o->burst_factor = 1.5;
    o->voltage_base_start_perc = 0.9;
    o->voltage_base_end_perc = 1.0;
    o->decay_start_after_stim_ms = 1.0;
    o->decay_end_after_stim_ms = 10.0;
}

static nf_status check_opts(const nf_features_opts *o)
{
    if (!isfinite(o->threshold_mV)) return nf__fail(NF_EINVAL, "features: threshold %g mV is not finite", o->threshold_mV);
    if (!isfinite(o->deriv_threshold))
        return nf__fail(NF_EINVAL, "features: derivative threshold %g mV/ms is not finite", o->deriv_threshold);
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
    if (!isfinite(o->voltage_base_start_perc) || !isfinite(o->voltage_base_end_perc))
        return nf__fail(NF_EINVAL, "features: voltage_base percentages must be finite");
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

static void free_buffers(nf_features *f)
{
    free(f->t);
    free(f->v);
    free(f->dvdt);
    free(f->scratch);
    free(f->traw);
    free(f->ia);
    free(f->ib);
    free(f->ic);
    free(f->id);
    free(f->pool);
}

void nf_features_destroy(nf_features *f)
{
    if (!f) return;
    free_buffers(f);
    free(f);
}

const nf_features_opts *nf_features_get_opts(const nf_features *f) { return f ? &f->o : NULL; }

/* Grow the work buffers to hold cap samples (never shrinks). */
static nf_status reserve(nf_features *f, int64_t cap)
{
    if (cap <= f->cap) return NF_OK;
    cap += cap / 4; /* room for slightly longer traces later */
    size_t c = (size_t)cap;
    double **dbl[] = {&f->t, &f->v, &f->dvdt, &f->scratch, &f->traw};
    int64_t **idx[] = {&f->ia, &f->ib, &f->ic, &f->id};
    for (size_t k = 0; k < 5; k++) {
        free(*dbl[k]);
        *dbl[k] = nf__malloc_array(c, sizeof(double));
    }
    for (size_t k = 0; k < 4; k++) {
        free(*idx[k]);
        *idx[k] = nf__malloc_array(c, sizeof(int64_t));
    }
    /* every per-spike vector holds at most one value per two samples */
    free(f->pool);
    f->pool_cap = 6 * cap + 128;
    f->pool = nf__malloc_array((size_t)f->pool_cap, sizeof(double));
    int ok = f->pool != NULL;
    for (size_t k = 0; k < 5; k++) ok = ok && *dbl[k];
    for (size_t k = 0; k < 4; k++) ok = ok && *idx[k];
    if (!ok) {
        free_buffers(f);
        f->t = f->v = f->dvdt = f->scratch = f->traw = f->pool = NULL;
        f->ia = f->ib = f->ic = f->id = NULL;
        f->cap = f->pool_cap = 0;
        return nf__fail(NF_ENOMEM, "features: out of memory for a trace of %lld samples", (long long)cap);
    }
    f->cap = cap;
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
                            "features: trace spans %g ms, %.0f samples at the %g ms interpolation step (limit %lld)",
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
    f->pool_n = 0;
    for (int k = 0; k < NF__F_COUNT; k++) nf__missing(f, k, "not computed");
    nf__efel_features(f, t, tr->v, n, tr->stim_start_ms, tr->stim_end_ms);
    nf__simple_features(f, t, tr->v, n);
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
    out->values = r->missing ? NULL : f->pool + r->off;
    out->n = r->missing ? 0 : r->n;
    return NF_OK;
}

nf_status nf_features_lookup(const nf_features *f, const char *name, nf_feature_value *out)
{
    int id = nf_feature_id(name);
    if (id < 0) return nf__fail(NF_ENOTFOUND, "features: unknown feature '%s'", name ? name : "(null)");
    return nf_features_get(f, id, out);
}

int nf_features_parse_list(const char *list, int *ids, int cap)
{
    if (!list || !*list || !strcmp(list, "all")) {
        int n = NF__F_COUNT < cap ? NF__F_COUNT : cap;
        for (int k = 0; k < n; k++) ids[k] = k;
        return n;
    }
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
        int id = nf_feature_id(name);
        if (id < 0) {
            nf__fail(NF_ENOTFOUND, "unknown feature '%s' (`neurofit features --list` names them)", name);
            return -1;
        }
        if (n >= cap) {
            nf__fail(NF_ERANGE, "features: more than %d features listed", cap);
            return -1;
        }
        ids[n++] = id;
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
        } else if (!FEATS[id].vec) {
            item = cJSON_CreateNumber(f->pool[r->off]);
        } else {
            item = cJSON_CreateDoubleArray(f->pool + r->off, (int)r->n);
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
    fputs("label", fp);
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
    for (int k = 0; k < n_ids; k++) {
        fputc(',', fp);
        if (ids[k] < 0 || ids[k] >= NF__F_COUNT) continue;
        const nf__result *r = &f->res[ids[k]];
        if (r->missing) continue;
        for (int64_t j = 0; j < r->n; j++) fprintf(fp, j ? ";%.17g" : "%.17g", f->pool[r->off + j]);
    }
    fputc('\n', fp);
    return ferror(fp) ? nf__fail(NF_EIO, "features: writing a CSV row failed") : NF_OK;
}
