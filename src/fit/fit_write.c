/* Outputs of a fit, one set: results.json, results.csv, best_traces.npy,
 * report.html and, when asked, model_traces.npy. */
#include "neurofit/fit.h"

#include "internal.h"
#include "neurofit/features.h"
#include "neurofit/fileio.h"
#include "neurofit/npy.h"
#include "neurofit/report.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* eFEL features reported (on full traces) for the target and each kept model */
static const char EFEL_SET[] = "Spikecount,mean_frequency,time_to_first_spike,ISI_CV,adaptation_index2,"
                               "AP_height,AP_width,AHP_depth,voltage_base,steady_state_voltage_stimend";

static cJSON *num(double x) { return isfinite(x) ? cJSON_CreateNumber(x) : cJSON_CreateNull(); }

static cJSON *spike_features_json(const double *v, const uint8_t *has)
{
    cJSON *o = cJSON_CreateObject();
    for (int f = 0; f < NF_FIT_N_FEATURES; f++)
        cJSON_AddItemToObject(o, nf_fit_feature_name(f), has[f] ? num(v[f]) : cJSON_CreateNull());
    return o;
}

/* eFEL features of one float trace; NULL (JSON null) when they cannot be computed. */
static cJSON *efel_json(nf_features *fx, const int *ids, int n_ids, const float *v, int64_t n, double dt,
                        double s0, double s1)
{
    double *d = malloc(sizeof(double) * (size_t)n);
    if (!d)
        return cJSON_CreateNull();
    for (int64_t k = 0; k < n; k++)
        d[k] = v[k];
    nf_trace tr = {.dt_ms = dt, .v = d, .n = n, .stim_start_ms = s0, .stim_end_ms = s1};
    cJSON *out = NULL;
    if (nf_features_compute(fx, &tr) == NF_OK)
        out = nf_features_to_json(fx, ids, n_ids);
    free(d);
    return out ? out : cJSON_CreateNull();
}

static void params_text(const nf_fit_record *rec, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = 0;
    for (int j = 0; j < rec->model->n_params && len + 1 < cap; j++) {
        const nf_param_info *p = &rec->model->params[j];
        int w = snprintf(buf + len, cap - len, "%s%s=%.4g %s", j ? ", " : "", p->name, rec->params[j], p->unit);
        if (w < 0)
            break;
        len += (size_t)w;
    }
}

static cJSON *scores_json(const nf_fit_scores *sc)
{
    if (sc->n_sweeps <= 0)
        return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "sweeps", sc->n_sweeps);
    cJSON_AddItemToObject(o, "combined_score", num(sc->combined));
    cJSON_AddItemToObject(o, "rmse_mV", num(sc->rmse_mV));
    cJSON_AddItemToObject(o, "sub_rmse_mV", num(sc->sub_rmse_mV));
    cJSON_AddItemToObject(o, "rmse_over_sd", num(sc->nrmse));
    cJSON_AddItemToObject(o, "feature_error", num(sc->feature_error));
    cJSON_AddItemToObject(o, "gamma", num(sc->gamma));
    cJSON_AddItemToObject(o, "gamma_over_gamma_int", num(sc->gamma_norm));
    cJSON_AddItemToObject(o, "spike_count_error", num(sc->count_error));
    cJSON_AddItemToObject(o, "efel_error", num(sc->efel_error));
    cJSON_AddItemToObject(o, "fi_error", num(sc->fi_error));
    cJSON_AddItemToObject(o, "passive_error", num(sc->passive_error));
    return o;
}

static cJSON *passive_json(const double *v, const uint8_t *has)
{
    cJSON *o = cJSON_CreateObject();
    for (int p = 0; p < NF_FIT_N_PASSIVE; p++)
        cJSON_AddItemToObject(o, nf_fit_passive_name(p), has[p] ? num(v[p]) : cJSON_CreateNull());
    return o;
}

static cJSON *efel_obj_json(const nf_fit_result *r, const double *v)
{
    cJSON *o = cJSON_CreateObject();
    for (int k = 0; k < r->n_efel; k++)
        cJSON_AddItemToObject(o, nf_feature_name(r->efel_ids[k]), v ? num(v[k]) : cJSON_CreateNull());
    return o;
}

/* One model on one sweep. */
static cJSON *sweep_score_json(const nf_fit_result *r, const nf_fit_target *t, const nf_fit_sweep *w)
{
    const nf_fit_target_info *ti = &r->targets[w->target];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", t[w->target].name ? t[w->target].name : "");
    cJSON_AddStringToObject(o, "role", w->test ? "test" : "train");
    cJSON_AddItemToObject(o, "combined_score", num(w->combined));
    cJSON_AddItemToObject(o, "rmse_mV", num(w->rmse_mV));
    cJSON_AddItemToObject(o, "sub_rmse_mV", num(w->sub_rmse_mV));
    cJSON_AddItemToObject(o, "rmse_over_sd", num(w->nrmse));
    cJSON_AddItemToObject(o, "feature_error", num(w->feature_error));
    cJSON_AddItemToObject(o, "gamma", num(w->gamma));
    cJSON_AddNumberToObject(o, "spikes", w->spikes);
    cJSON_AddNumberToObject(o, "spike_count_error", abs(w->spikes - ti->spikes));
    cJSON_AddItemToObject(o, "rate_hz", num(w->rate_hz));
    cJSON_AddItemToObject(o, "efel_error", num(w->efel_error));
    cJSON_AddItemToObject(o, "fi_error", num(w->fi_error));
    cJSON_AddItemToObject(o, "passive_error", num(w->passive_error));
    cJSON_AddItemToObject(o, "passive", passive_json(w->passive, w->has_passive));
    if (r->n_efel)
        cJSON_AddItemToObject(o, "efel_objectives", efel_obj_json(r, w->efel));
    cJSON_AddBoolToObject(o, "valid", w->valid);
    return o;
}

static cJSON *record_json(const nf_fit_result *r, const nf_fit_target *t, const nf_fit_record *rec, cJSON *efel_model)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "rank", rec->rank);
    cJSON_AddStringToObject(o, "model", rec->model->name);
    cJSON *ps = cJSON_AddObjectToObject(o, "params");
    for (int j = 0; j < rec->model->n_params; j++) {
        cJSON *p = cJSON_AddObjectToObject(ps, rec->model->params[j].name);
        cJSON_AddItemToObject(p, "value", num(rec->params[j]));
        cJSON_AddStringToObject(p, "unit", rec->model->params[j].unit);
    }
    cJSON_AddItemToObject(o, "rmse_mV", num(rec->rmse_mV));
    cJSON_AddItemToObject(o, "rmse_over_sd", num(rec->nrmse));
    cJSON_AddItemToObject(o, "feature_error", num(rec->feature_error));
    cJSON_AddNumberToObject(o, "n_features", rec->n_features);
    cJSON_AddItemToObject(o, "gamma", num(rec->gamma));
    cJSON_AddItemToObject(o, "spike_timing_error", num(1.0 - rec->gamma));
    cJSON_AddItemToObject(o, "combined_score", num(rec->combined));
    cJSON_AddItemToObject(o, "test_combined_score", num(rec->test.combined));
    cJSON_AddNumberToObject(o, "evaluations", (double)rec->evals);
    cJSON_AddNumberToObject(o, "generations", (double)rec->generations);
    cJSON_AddNumberToObject(o, "restarts", rec->restarts);
    cJSON_AddStringToObject(o, "stop_reason", rec->stop_reason ? rec->stop_reason : "");
    cJSON_AddBoolToObject(o, "valid", rec->valid);
    cJSON_AddItemToObject(o, "spike_features", spike_features_json(rec->features_model, rec->has_model));
    if (efel_model)
        cJSON_AddItemToObject(o, "efel_features", efel_model);
    cJSON_AddItemToObject(o, "train", scores_json(&rec->train));
    cJSON_AddItemToObject(o, "test", scores_json(&rec->test));
    cJSON *sw = cJSON_AddArrayToObject(o, "sweeps");
    for (int k = 0; k < rec->n_sweeps; k++)
        cJSON_AddItemToArray(sw, sweep_score_json(r, t, &rec->sweeps[k]));
    return o;
}

/* The group's first fitted sweep: the one the record's own fields describe. */
static int first_fitted(const nf_fit_group_info *g)
{
    for (int k = 0; k < g->n_sweeps; k++)
        if (!g->test[k])
            return k;
    return 0;
}

static nf_status write_json(const nf_fit_result *r, const nf_fit_target *t, int top_k, const nf_fit_options *opt,
                            const char *path)
{
    nf_features *fx = NULL;
    int ids[64];
    int n_ids = nf_features_parse_list(EFEL_SET, ids, 64);
    if (n_ids < 0 || nf_features_create(NULL, &fx))
        return nf__fail(NF_EINVAL, "fit: feature set: %s", nf_errmsg());
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "format", "neurofit-fit-results");
    cJSON_AddNumberToObject(root, "version", 2);
    cJSON_AddStringToObject(root, "backend", nf_backend_name(r->backend));
    cJSON_AddNumberToObject(root, "seconds", r->seconds);
    cJSON_AddNumberToObject(root, "simulations", (double)r->sims);
    cJSON_AddNumberToObject(root, "neuron_steps", r->neuron_steps);
    cJSON *o = cJSON_AddObjectToObject(root, "options");
    cJSON_AddStringToObject(o, "optimizer", nf_optim_kind_str(opt->optimizer));
    cJSON_AddNumberToObject(o, "budget", (double)opt->budget);
    cJSON_AddNumberToObject(o, "popsize", opt->popsize);
    cJSON_AddNumberToObject(o, "restarts", opt->restarts);
    cJSON_AddNumberToObject(o, "refine", opt->refine_k);
    if (opt->refine_k > 0)
        cJSON_AddNumberToObject(o, "survey_fraction", opt->survey_fraction);
    cJSON_AddBoolToObject(o, "guess", opt->guess != 0);
    if (opt->refine_k > 0 || opt->n_starts > 0 || opt->guess)
        cJSON_AddNumberToObject(o, "start_sigma", opt->start_sigma);
    cJSON_AddStringToObject(o, "bounds", nf_optim_bounds_str(opt->bounds));
    cJSON_AddNumberToObject(o, "seed", (double)opt->seed);
    cJSON_AddNumberToObject(o, "top_k", top_k);
    cJSON_AddNumberToObject(o, "threshold_mV", opt->threshold_mV);
    cJSON_AddNumberToObject(o, "gamma_window_ms", opt->gamma_window_ms);
    cJSON_AddNumberToObject(o, "rmse_cut_ms", opt->rmse_cut_ms);
    cJSON *w = cJSON_AddObjectToObject(o, "weights");
    cJSON_AddNumberToObject(w, "rmse", opt->weights.rmse);
    cJSON_AddNumberToObject(w, "features", opt->weights.features);
    cJSON_AddNumberToObject(w, "spikes", opt->weights.spikes);
    cJSON_AddNumberToObject(w, "efel", r->n_efel ? opt->w_efel : 0);
    cJSON_AddNumberToObject(w, "fi", opt->w_fi);
    cJSON_AddNumberToObject(w, "passive", opt->w_passive);
    cJSON *eo = cJSON_AddArrayToObject(o, "efel_objectives");
    for (int k = 0; k < r->n_efel; k++)
        cJSON_AddItemToArray(eo, cJSON_CreateString(nf_feature_name(r->efel_ids[k])));
    cJSON *models = cJSON_AddArrayToObject(root, "models");
    for (int m = 0; m < r->n_models; m++)
        cJSON_AddItemToArray(models, cJSON_CreateString(r->models[m]->name));
    /* one entry per group (nf_fit: per recording); its own fields describe
     * its first fitted sweep, "sweeps" every sweep */
    cJSON *recs = cJSON_AddArrayToObject(root, "recordings");
    for (int g = 0; g < r->n_groups; g++) {
        const nf_fit_record *row = &r->records[(size_t)g * r->n_models];
        const nf_fit_group_info *gi = &r->groups[g];
        int i = gi->sweeps[first_fitted(gi)];
        const nf_fit_target_info *tg = &r->targets[i];
        cJSON *ro = cJSON_CreateObject();
        cJSON_AddStringToObject(ro, "name", gi->name ? gi->name : "");
        cJSON_AddNumberToObject(ro, "samples", (double)t[i].n);
        cJSON_AddNumberToObject(ro, "dt_ms", t[i].dt_ms);
        cJSON_AddNumberToObject(ro, "stim_start_ms", tg->stim_start_ms);
        cJSON_AddNumberToObject(ro, "stim_end_ms", tg->stim_end_ms);
        if (t[i].stim_window) cJSON_AddStringToObject(ro, "stim_window", t[i].stim_window);
        cJSON_AddItemToObject(ro, "target_spike_features", spike_features_json(tg->features, tg->has));
        cJSON *sig = cJSON_AddObjectToObject(ro, "feature_sigmas");
        for (int f = 0; f < NF_FIT_N_FEATURES; f++)
            cJSON_AddItemToObject(sig, nf_fit_feature_name(f), num(tg->sigma[f]));
        cJSON_AddItemToObject(ro, "target_efel_features",
                              efel_json(fx, ids, n_ids, t[i].v, t[i].n, t[i].dt_ms, tg->stim_start_ms, tg->stim_end_ms));
        cJSON_AddItemToObject(ro, "gamma_int", num(gi->gamma_int));
        cJSON_AddStringToObject(ro, "ranked_by", gi->ranked_on_test ? "test" : "train");
        cJSON *sws = cJSON_AddArrayToObject(ro, "sweeps");
        for (int k = 0; k < gi->n_sweeps; k++) {
            int x = gi->sweeps[k];
            const nf_fit_target_info *ti = &r->targets[x];
            cJSON *so = cJSON_CreateObject();
            cJSON_AddStringToObject(so, "name", t[x].name ? t[x].name : "");
            cJSON_AddStringToObject(so, "role", gi->test[k] ? "test" : "train");
            cJSON_AddNumberToObject(so, "samples", (double)t[x].n);
            cJSON_AddNumberToObject(so, "dt_ms", t[x].dt_ms);
            cJSON_AddNumberToObject(so, "stim_start_ms", ti->stim_start_ms);
            cJSON_AddNumberToObject(so, "stim_end_ms", ti->stim_end_ms);
            if (t[x].stim_window)
                cJSON_AddStringToObject(so, "stim_window", t[x].stim_window);
            cJSON_AddItemToObject(so, "step_pA", num(ti->step_pA));
            cJSON_AddNumberToObject(so, "spikes", ti->spikes);
            cJSON_AddItemToObject(so, "rate_hz", num(ti->rate_hz));
            cJSON_AddItemToObject(so, "passive", passive_json(ti->passive, ti->has_passive));
            if (r->n_efel) {
                cJSON_AddItemToObject(so, "efel_objectives", efel_obj_json(r, ti->efel));
                cJSON_AddItemToObject(so, "efel_sigmas", efel_obj_json(r, ti->efel_sigma));
            }
            cJSON_AddItemToArray(sws, so);
        }
        cJSON *top = cJSON_AddArrayToObject(ro, "top");
        int k = top_k < r->n_models ? top_k : r->n_models;
        for (int j = 0; j < k; j++) {
            cJSON *ef = row[j].trace ? efel_json(fx, ids, n_ids, row[j].trace, t[i].n, t[i].dt_ms, tg->stim_start_ms,
                                                 tg->stim_end_ms)
                                     : cJSON_CreateNull();
            cJSON_AddItemToArray(top, record_json(r, t, &row[j], ef));
        }
        cJSON_AddItemToArray(recs, ro);
    }
    nf_features_destroy(fx);
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text)
        return nf__fail(NF_ENOMEM, "fit: out of memory writing %s", path);
    nf_status s = nf_file_write_string(path, text);
    cJSON_free(text);
    return s;
}

static void csv_field(FILE *fp, const char *s)
{
    fputc('"', fp);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', fp);
        fputc(*s, fp);
    }
    fputc('"', fp);
}

static void csv_num(FILE *fp, double x)
{
    if (isfinite(x))
        fprintf(fp, ",%.9g", x);
    else
        fputs(",", fp);
}

static void csv_scores(FILE *fp, const nf_fit_scores *sc)
{
    fprintf(fp, ",%d", sc->n_sweeps);
    csv_num(fp, sc->combined);
    csv_num(fp, sc->count_error);
    csv_num(fp, sc->gamma);
    csv_num(fp, sc->gamma_norm);
    csv_num(fp, sc->sub_rmse_mV);
    csv_num(fp, sc->feature_error);
}

/* results.csv: one row per group and model, the fitted and held-out scores
 * side by side after the columns of a single-recording fit. */
static nf_status write_csv(const nf_fit_result *r, const char *path)
{
    nf_commit_file cf;
    nf_status s = nf_file_commit_open(&cf, path);
    if (s)
        return s;
    FILE *fp = cf.fp;
    fputs("recording,rank,model,combined_score,rmse_mV,rmse_over_sd,feature_error,gamma,evaluations,"
          "generations,restarts,stop_reason,valid,params,"
          "train_sweeps,train_combined,train_count_error,train_gamma,train_gamma_norm,train_sub_rmse_mV,"
          "train_feature_error,test_sweeps,test_combined,test_count_error,test_gamma,test_gamma_norm,"
          "test_sub_rmse_mV,test_feature_error\n", fp);
    for (int i = 0; i < r->n_groups; i++)
        for (int j = 0; j < r->n_models; j++) {
            const nf_fit_record *rec = &r->records[(size_t)i * r->n_models + j];
            csv_field(fp, r->groups[i].name ? r->groups[i].name : "");
            fprintf(fp, ",%d,%s", rec->rank, rec->model->name);
            csv_num(fp, rec->combined);
            csv_num(fp, rec->rmse_mV);
            csv_num(fp, rec->nrmse);
            csv_num(fp, rec->feature_error);
            csv_num(fp, rec->gamma);
            fprintf(fp, ",%lld,%lld,%d,", (long long)rec->evals, (long long)rec->generations, rec->restarts);
            csv_field(fp, rec->stop_reason ? rec->stop_reason : "");
            fprintf(fp, ",%d,", rec->valid);
            char p[2048];
            params_text(rec, p, sizeof p);
            csv_field(fp, p);
            csv_scores(fp, &rec->train);
            csv_scores(fp, &rec->test);
            fputc('\n', fp);
        }
    int ok = !ferror(fp);
    s = nf_file_commit_close(&cf, ok);
    if (!s && !ok)
        s = nf__fail(NF_EIO, "%s: write failed", path);
    return s;
}

/* sweeps.csv: one row per group, model and sweep. */
static nf_status write_sweeps_csv(const nf_fit_result *r, const nf_fit_target *t, const char *path)
{
    nf_commit_file cf;
    nf_status s = nf_file_commit_open(&cf, path);
    if (s)
        return s;
    FILE *fp = cf.fp;
    fputs("recording,rank,model,sweep,role,step_pA,spikes_recorded,spikes,spike_count_error,gamma,combined_score,"
          "rmse_mV,sub_rmse_mV,feature_error,rate_hz_recorded,rate_hz,efel_error,fi_error,passive_error,valid\n", fp);
    for (int i = 0; i < r->n_groups; i++)
        for (int j = 0; j < r->n_models; j++) {
            const nf_fit_record *rec = &r->records[(size_t)i * r->n_models + j];
            for (int k = 0; k < rec->n_sweeps; k++) {
                const nf_fit_sweep *w = &rec->sweeps[k];
                const nf_fit_target_info *ti = &r->targets[w->target];
                csv_field(fp, r->groups[i].name ? r->groups[i].name : "");
                fprintf(fp, ",%d,%s,", rec->rank, rec->model->name);
                csv_field(fp, t[w->target].name ? t[w->target].name : "");
                fprintf(fp, ",%s", w->test ? "test" : "train");
                csv_num(fp, ti->step_pA);
                fprintf(fp, ",%d,%d,%d", ti->spikes, w->spikes, abs(w->spikes - ti->spikes));
                csv_num(fp, w->gamma);
                csv_num(fp, w->combined);
                csv_num(fp, w->rmse_mV);
                csv_num(fp, w->sub_rmse_mV);
                csv_num(fp, w->feature_error);
                csv_num(fp, ti->rate_hz);
                csv_num(fp, w->rate_hz);
                csv_num(fp, w->efel_error);
                csv_num(fp, w->fi_error);
                csv_num(fp, w->passive_error);
                fprintf(fp, ",%d\n", w->valid);
            }
        }
    int ok = !ferror(fp);
    s = nf_file_commit_close(&cf, ok);
    if (!s && !ok)
        s = nf__fail(NF_EIO, "%s: write failed", path);
    return s;
}

/* The group and position of each recording (its first group), -1 when in none. */
static nf_status sweep_owner(const nf_fit_result *r, int **group, int **pos)
{
    *group = malloc(sizeof(int) * (size_t)r->n_targets);
    *pos = malloc(sizeof(int) * (size_t)r->n_targets);
    if (!*group || !*pos) {
        free(*group);
        free(*pos);
        return nf__fail(NF_ENOMEM, "fit: out of memory");
    }
    for (int i = 0; i < r->n_targets; i++)
        (*group)[i] = (*pos)[i] = -1;
    for (int g = r->n_groups - 1; g >= 0; g--)
        for (int k = 0; k < r->groups[g].n_sweeps; k++) {
            (*group)[r->groups[g].sweeps[k]] = g;
            (*pos)[r->groups[g].sweeps[k]] = k;
        }
    return NF_OK;
}

/* The fitted traces, NaN padded to the longest recording:
 * best_traces.npy (all 0): float32 [n_targets][max n], each recording's trace
 * of the best model of its group; model_traces.npy (all 1): float32
 * [n_targets][n_models][max n], every model's best trace of the recording's
 * group in the order of results.json's "models", not the ranking. */
static nf_status write_traces(const nf_fit_result *r, const nf_fit_target *t, int all, const char *path)
{
    int64_t nmax = 0;
    for (int i = 0; i < r->n_targets; i++)
        nmax = t[i].n > nmax ? t[i].n : nmax;
    int *grp, *pos;
    nf_status s = sweep_owner(r, &grp, &pos);
    if (s)
        return s;
    const int per_rec = all ? r->n_models : 1;
    size_t per = (size_t)per_rec * (size_t)nmax;
    float *buf = nf__malloc_array((size_t)r->n_targets * per, sizeof(float));
    if (!buf) {
        free(grp);
        free(pos);
        return nf__fail(NF_ENOMEM, "%s: out of memory for %d x %d x %lld samples", path, r->n_targets, per_rec,
                        (long long)nmax);
    }
    for (size_t k = 0; k < (size_t)r->n_targets * per; k++)
        buf[k] = NAN;
    for (int i = 0; i < r->n_targets; i++)
        for (int j = 0; grp[i] >= 0 && j < per_rec; j++) {
            const nf_fit_record *rec = &r->records[(size_t)grp[i] * r->n_models + j];
            const float *tr = rec->sweeps ? rec->sweeps[pos[i]].trace : NULL;
            float *row = buf + (size_t)i * per + (size_t)(all ? rec->model_slot : 0) * nmax;
            for (int64_t k = 0; tr && k < t[i].n; k++)
                row[k] = tr[k];
        }
    int64_t shape[3] = {r->n_targets, per_rec, nmax};
    if (!all)
        shape[1] = nmax;
    s = nf_npy_write(path, NF_DT_F32, all ? 3 : 2, shape, buf);
    free(buf);
    free(grp);
    free(pos);
    return s;
}

static nf_status write_report(const nf_fit_result *r, const nf_fit_target *t, int top_k, const char *path)
{
    int k = top_k < r->n_models ? top_k : r->n_models;
    const int G = r->n_groups;
    int n_sw = 0;
    for (int g = 0; g < G; g++)
        n_sw += r->groups[g].n_sweeps;
    nf_report_recording *rr = calloc((size_t)G, sizeof *rr);
    nf_report_fit *rf = calloc((size_t)G * (size_t)k, sizeof *rf);
    nf_report_sweep *rs = calloc((size_t)n_sw, sizeof *rs);
    nf_report_fit_sweep *rfs = calloc((size_t)n_sw * (size_t)k, sizeof *rfs);
    char *ptext = calloc((size_t)G * (size_t)k, 1024);
    nf_status s = NF_OK;
    if (!rr || !rf || !rs || !rfs || !ptext) {
        s = nf__fail(NF_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    int at = 0;
    for (int g = 0; g < G; g++) {
        const nf_fit_group_info *gi = &r->groups[g];
        nf_report_sweep *sw = rs + at;
        for (int q = 0; q < gi->n_sweeps; q++) {
            int x = gi->sweeps[q];
            const nf_fit_target_info *ti = &r->targets[x];
            sw[q] = (nf_report_sweep){.name = t[x].name, .dt_ms = t[x].dt_ms, .n = t[x].n, .v_target = t[x].v,
                                      .test = gi->test[q], .step_pA = ti->step_pA, .rate_hz = ti->rate_hz,
                                      .spikes = ti->spikes};
        }
        for (int j = 0; j < k; j++) {
            const nf_fit_record *rec = &r->records[(size_t)g * r->n_models + j];
            nf_report_fit *f = &rf[(size_t)g * k + j];
            char *pt = ptext + ((size_t)g * k + j) * 1024;
            nf_report_fit_sweep *fs = rfs + (size_t)at * k + (size_t)j * gi->n_sweeps;
            for (int q = 0; q < gi->n_sweeps && q < rec->n_sweeps; q++) {
                const nf_fit_sweep *w = &rec->sweeps[q];
                fs[q] = (nf_report_fit_sweep){.trace = w->trace, .combined = w->combined, .gamma = w->gamma,
                                              .rate_hz = w->rate_hz, .spikes = w->spikes};
            }
            params_text(rec, pt, 1024);
            *f = (nf_report_fit){.model = rec->model->name, .combined = rec->combined, .nrmse = rec->nrmse,
                                 .feature_error = rec->feature_error, .gamma = rec->gamma, .evals = rec->evals,
                                 .stop_reason = rec->stop_reason, .params_text = pt, .trace = rec->trace,
                                 .convergence = rec->convergence, .n_convergence = rec->n_convergence,
                                 .sweeps = fs,
                                 .train = {rec->train.n_sweeps, rec->train.combined, rec->train.count_error,
                                           rec->train.gamma, rec->train.gamma_norm, rec->train.sub_rmse_mV},
                                 .test = {rec->test.n_sweeps, rec->test.combined, rec->test.count_error,
                                          rec->test.gamma, rec->test.gamma_norm, rec->test.sub_rmse_mV}};
        }
        int i = gi->sweeps[first_fitted(gi)];
        rr[g] = (nf_report_recording){.name = gi->name, .dt_ms = t[i].dt_ms, .n = t[i].n, .v_target = t[i].v,
                                      .i_stim = t[i].i, .fits = rf + (size_t)g * k, .n_fits = k, .sweeps = sw,
                                      .n_sweeps = gi->n_sweeps, .ranked_on_test = gi->ranked_on_test,
                                      .gamma_int = gi->gamma_int};
        at += gi->n_sweeps;
    }
    s = nf_report_write_html(path, "neurofit fit report", rr, G);
done:
    free(rr);
    free(rf);
    free(rs);
    free(rfs);
    free(ptext);
    return s;
}

/* A fit's output set, results.json (the marker) last; the checkpoint
 * directory that `neurofit fit` keeps in its output directory while it runs
 * belongs to it, so a committed set ends it. */
static const char *const fit_set[] = {"results.csv", "sweeps.csv", "best_traces.npy", "report.html",
                                      "model_traces.npy", NF_FIT_CHECKPOINT_DIR, "results.json"};
enum { N_FIT_SET = sizeof fit_set / sizeof fit_set[0] };

nf_status nf_fit_write(const nf_fit_result *r, const nf_fit_target *targets, const nf_fit_options *opt, int all_traces,
                       const char *dir)
{
    if (!r || !targets || !dir || !opt)
        return nf__fail(NF_EINVAL, "fit write: NULL argument");
    if (opt->top_k < 1)
        return nf__fail(NF_EINVAL, "fit write: top-k %d must be >= 1", opt->top_k);
    nf_stage *st = NULL;
    char p[4096];
    nf_status s = nf_stage_open(dir, &st);
    const char *sd = s ? NULL : nf_stage_path(st);
    if (!s && !(s = nf_path_join(p, sizeof p, sd, "results.csv")))
        s = write_csv(r, p);
    if (!s && !(s = nf_path_join(p, sizeof p, sd, "sweeps.csv")))
        s = write_sweeps_csv(r, targets, p);
    if (!s && !(s = nf_path_join(p, sizeof p, sd, "best_traces.npy")))
        s = write_traces(r, targets, 0, p);
    if (!s && !(s = nf_path_join(p, sizeof p, sd, "report.html")))
        s = write_report(r, targets, opt->top_k, p);
    if (!s && all_traces && !(s = nf_path_join(p, sizeof p, sd, "model_traces.npy")))
        s = write_traces(r, targets, 1, p);
    if (!s && !(s = nf_path_join(p, sizeof p, sd, "results.json")))
        s = write_json(r, targets, opt->top_k, opt, p);
    if (!s)
        s = nf_stage_commit(st, fit_set, N_FIT_SET);
    nf_stage_destroy(st);
    return s;
}

/* ---- results.json read back: starting points ------------------------------ */

/* Is m one of the models opt fits? */
static int fitted_here(const nf_fit_options *o, const nf_model *m)
{
    if (!o->models)
        return 1;
    for (int i = 0; i < o->n_models; i++)
        if (!strcmp(o->models[i], m->name))
            return 1;
    return 0;
}

/* Model m's parameters from one "top" row of a results.json into x. */
static nf_status row_params(const char *path, const char *rec_name, const cJSON *row, const nf_model *m, double *x)
{
    const cJSON *ps = cJSON_GetObjectItemCaseSensitive(row, "params");
    for (int j = 0; j < m->n_params; j++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ps, m->params[j].name), "value");
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
            return nf__fail(NF_EINVAL, "%s: recording \"%s\", model %s: no finite value for parameter %s", path,
                            rec_name, m->name, m->params[j].name);
        x[j] = v->valuedouble;
    }
    return NF_OK;
}

/* A neurofit results.json, parsed (*root, the caller's to cJSON_Delete) with
 * its "recordings" array. */
static nf_status results_open(const char *path, cJSON **root, const cJSON **recs)
{
    char *text = NULL;
    nf_status rs = nf_file_read_string(path, (size_t)1 << 28, &text);
    if (rs) { /* the reason, as bad input (exit 2) */
        char why[1024];
        snprintf(why, sizeof why, "%s", nf_errmsg());
        return nf__fail(NF_EINVAL, "%s%s", rs == NF_EFORMAT ? "not a neurofit results.json: " : "", why);
    }
    *root = cJSON_Parse(text);
    free(text);
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(*root, "format");
    *recs = cJSON_GetObjectItemCaseSensitive(*root, "recordings");
    if (!*root || !cJSON_IsString(fmt) || strcmp(fmt->valuestring, "neurofit-fit-results") || !cJSON_IsArray(*recs)) {
        cJSON_Delete(*root);
        *root = NULL;
        return nf__fail(NF_EINVAL, "%s: not a neurofit results.json (no \"format\": \"neurofit-fit-results\" with "
                        "\"recordings\")", path);
    }
    return NF_OK;
}

nf_status nf_fit_starts_read(const char *path, const nf_fit_target *targets, int n_targets, const nf_fit_options *opt,
                             nf_fit_start **starts, double **store, int *n_starts)
{
    *starts = NULL;
    *store = NULL;
    *n_starts = 0;
    const cJSON *recs;
    cJSON *root;
    nf_status rs = results_open(path, &root, &recs);
    if (rs)
        return rs;
    int cap = 0, n = 0;
    nf_fit_start *st = NULL;
    double *vals = NULL;
    nf_status s = NF_OK;
    const cJSON *rec, *row;
    cJSON_ArrayForEach(rec, recs) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(rec, "name");
        const cJSON *top = cJSON_GetObjectItemCaseSensitive(rec, "top");
        if (!cJSON_IsString(name) || !cJSON_IsArray(top))
            continue;
        for (int k = 0; k < n_targets && !s; k++) {
            if (!targets[k].name || strcmp(targets[k].name, name->valuestring))
                continue;
            cJSON_ArrayForEach(row, top) {
                const cJSON *mn = cJSON_GetObjectItemCaseSensitive(row, "model");
                const nf_model *m = cJSON_IsString(mn) ? nf_model_find(mn->valuestring) : NULL;
                if (!m || !fitted_here(opt, m))
                    continue;
                if (n == cap) {
                    cap = cap ? 2 * cap : 64;
                    nf_fit_start *ns = realloc(st, sizeof *st * (size_t)cap);
                    if (ns)
                        st = ns;
                    double *nv = ns ? realloc(vals, sizeof *vals * 64 * (size_t)cap) : NULL;
                    if (!nv) {
                        s = nf__fail(NF_ENOMEM, "%s: out of memory", path);
                        break;
                    }
                    vals = nv;
                }
                if ((s = row_params(path, name->valuestring, row, m, vals + 64 * (size_t)n)))
                    break;
                st[n++] = (nf_fit_start){.model = m->name, .target = k}; /* params set below */
            }
        }
        if (s)
            break;
    }
    cJSON_Delete(root);
    for (int k = 0; k < n; k++) /* the values array may have moved while growing */
        st[k].params = vals + 64 * (size_t)k;
    if (!s && n == 0)
        s = nf__fail(NF_ENOTFOUND, "%s: no recording there has the name of one fitted here, or none of its models "
                     "is fitted here", path);
    if (s) {
        free(st);
        free(vals);
        return s;
    }
    *starts = st;
    *store = vals;
    *n_starts = n;
    return NF_OK;
}

/* ---- results.json read back: fitted models ------------------------------- */

void nf_fit_candidates_free(nf_fit_candidates *c)
{
    if (!c)
        return;
    for (int k = 0; c->labels && k < c->n; k++)
        free(c->labels[k]);
    free(c->labels);
    free(c->c);
    free(c->store);
    free(c->efel);
    memset(c, 0, sizeof *c);
}

/* The scoring options of a results.json's "options" over the defaults. */
static nf_status read_scoring(const char *path, const cJSON *o, nf_fit_candidates *out)
{
    nf_fit_options *opt = &out->options;
    nf_fit_options_default(opt);
    const cJSON *x;
#define NUM(obj, key, dst)                                                                                     \
    if (cJSON_IsNumber(x = cJSON_GetObjectItemCaseSensitive(obj, key)) && isfinite(x->valuedouble)) \
    dst = x->valuedouble
    NUM(o, "threshold_mV", opt->threshold_mV);
    NUM(o, "gamma_window_ms", opt->gamma_window_ms);
    NUM(o, "rmse_cut_ms", opt->rmse_cut_ms);
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "weights");
    NUM(w, "rmse", opt->weights.rmse);
    NUM(w, "features", opt->weights.features);
    NUM(w, "spikes", opt->weights.spikes);
    NUM(w, "efel", opt->w_efel);
    NUM(w, "fi", opt->w_fi);
    NUM(w, "passive", opt->w_passive);
#undef NUM
    const cJSON *eo = cJSON_GetObjectItemCaseSensitive(o, "efel_objectives"), *e;
    size_t len = 1;
    cJSON_ArrayForEach(e, eo) if (cJSON_IsString(e)) len += strlen(e->valuestring) + 1;
    if (len > 1) {
        if (!(out->efel = malloc(len)))
            return nf__fail(NF_ENOMEM, "%s: out of memory", path);
        out->efel[0] = 0;
        cJSON_ArrayForEach(e, eo) if (cJSON_IsString(e)) {
            if (out->efel[0])
                strcat(out->efel, ",");
            strcat(out->efel, e->valuestring);
        }
        opt->efel = out->efel;
    }
    return NF_OK;
}

nf_status nf_fit_candidates_read(const char *path, const char *cell, int rank, nf_fit_candidates *out)
{
    memset(out, 0, sizeof *out);
    if (!path)
        return nf__fail(NF_EINVAL, "fitted models: NULL path");
    if (rank < 0)
        return nf__fail(NF_EINVAL, "%s: rank %d must be >= 1 (0: every model listed)", path, rank);
    const cJSON *recs;
    cJSON *root;
    nf_status rs = results_open(path, &root, &recs);
    if (rs)
        return rs;
    int cap = 0, n = 0, cells = 0;
    nf_status s = read_scoring(path, cJSON_GetObjectItemCaseSensitive(root, "options"), out);
    const cJSON *rec, *row;
    cJSON_ArrayForEach(rec, recs) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(rec, "name");
        const cJSON *top = cJSON_GetObjectItemCaseSensitive(rec, "top");
        if (s)
            break;
        if (!cJSON_IsString(name) || !cJSON_IsArray(top) || (cell && strcmp(cell, name->valuestring)))
            continue;
        cells++;
        cJSON_ArrayForEach(row, top) {
            const cJSON *mn = cJSON_GetObjectItemCaseSensitive(row, "model");
            const cJSON *rk = cJSON_GetObjectItemCaseSensitive(row, "rank");
            if (rank > 0 && !(cJSON_IsNumber(rk) && rk->valueint == rank))
                continue;
            const nf_model *m = cJSON_IsString(mn) ? nf_model_find(mn->valuestring) : NULL;
            if (!m) {
                s = nf__fail(NF_EINVAL, "%s: recording \"%s\": unknown model %s", path, name->valuestring,
                             cJSON_IsString(mn) ? mn->valuestring : "(none)");
                break;
            }
            if (n == cap) {
                cap = cap ? 2 * cap : 16;
                nf_fit_candidate *nc = realloc(out->c, sizeof *nc * (size_t)cap);
                if (nc)
                    out->c = nc;
                char **nl = nc ? realloc(out->labels, sizeof *nl * (size_t)cap) : NULL;
                if (nl)
                    out->labels = nl;
                double *nv = nl ? realloc(out->store, sizeof *nv * 64 * (size_t)cap) : NULL;
                if (!nv) {
                    s = nf__fail(NF_ENOMEM, "%s: out of memory", path);
                    break;
                }
                out->store = nv;
            }
            if ((s = row_params(path, name->valuestring, row, m, out->store + 64 * (size_t)n)))
                break;
            size_t len = strlen(name->valuestring) + strlen(m->name) + 32;
            if (!(out->labels[n] = malloc(len))) {
                s = nf__fail(NF_ENOMEM, "%s: out of memory", path);
                break;
            }
            snprintf(out->labels[n], len, "%s: %s (rank %d)", name->valuestring, m->name,
                     cJSON_IsNumber(rk) ? rk->valueint : 0);
            out->c[n] = (nf_fit_candidate){.model = m->name};
            out->n = ++n;
        }
        if (s)
            break;
    }
    cJSON_Delete(root);
    for (int k = 0; k < n; k++) /* the values array may have moved while growing */
        out->c[k].params = out->store + 64 * (size_t)k;
    if (!s && n == 0)
        s = nf__fail(NF_ENOTFOUND, "%s: %s", path,
                     cells == 0 && cell ? "no recording (cell) of that name" : "no fitted model of that rank");
    if (s)
        nf_fit_candidates_free(out);
    return s;
}
