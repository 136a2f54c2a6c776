/* nf_fit (include/neurofit/fit.h): the orchestration of a fit, and the only
 * file of src/fit that the options enter. It checks them, resolves the
 * models, prepares every recording once (fit_target.c), reads starting
 * guesses off the recordings (fit_guess.c), creates the engine, and runs one
 * pass (fit_pass.c), or a survey of every model followed by a refinement of
 * each recording's leading models (refine_k); it ranks the models of each
 * recording and merges the refinements into the survey.
 *
 * Survey, then refine. Why: the misses of model selection are fits that did not converge, and a
 * fit's outcome depends a lot on its search (bench/results/fit.md). Giving the
 * evaluations that the trailing models would have used to the two leading
 * ones, started where their survey ended, ranked the generating model first
 * in 85.8 % of the synthetic recordings against 80.4 % for one pass with the
 * same number of evaluations (4 models, 12,000 evaluations per recording,
 * seeds 1-3).
 *
 * The refinement runs one pass per set of leading models (recordings that
 * share a set are one batch), each with its own checkpoint directory, so an
 * interrupted fit resumes like a single pass: the finished survey is
 * reloaded from its final optimiser states. */
#include "neurofit/fit.h"

#include "fit_internal.h"
#include "internal.h"
#include "neurofit/fileio.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void nf_fit_options_default(nf_fit_options *o)
{
    memset(o, 0, sizeof *o);
    o->optimizer = NF_OPTIM_CMAES;
    o->budget = 10000; /* a 700 ms recording: ~0.5 s per model on one core */
    o->restarts = 9;
    o->bounds = NF_OPTIM_BOUNDS_REFLECT;
    o->top_k = 3;
    o->seed = 1;
    o->backend = NF_BACKEND_AUTO;
    o->weights = nf_score_weights_default();
    o->threshold_mV = -20.0;
    o->gamma_window_ms = 2.0;
    o->start_sigma = 0.1;
    o->refine_k = 2; /* survey, then refine the two leading models (bench/results/fit.md) */
    o->survey_fraction = 0.5;
    o->guess = 1;
    o->guess_sigma = 0.03;
}

/* ---- checks --------------------------------------------------------------- */

/* The checks of nf_fit's options that need no recordings or models. */
static nf_status check_options(const nf_fit_options *o)
{
    if (o->budget < 1)
        return nf__fail(NF_EINVAL, "fit: budget %lld evaluations must be >= 1", (long long)o->budget);
    if (o->top_k < 1)
        return nf__fail(NF_EINVAL, "fit: top-k %d must be >= 1", o->top_k);
    if (o->popsize < 0 || o->popsize == 1)
        return nf__fail(NF_EINVAL, "fit: population size %d must be >= 2 (0: default)", o->popsize);
    if (o->restarts < 0)
        return nf__fail(NF_EINVAL, "fit: restarts %d must be >= 0", o->restarts);
    if ((int)o->bounds < 0 || o->bounds > NF_OPTIM_BOUNDS_RESAMPLE)
        return nf__fail(NF_EINVAL, "fit: bounds %d is not transform (0), reflect (1) or resample (2)",
                        (int)o->bounds);
    if ((int)o->optimizer < 0 || o->optimizer >= NF_OPTIM_KIND_COUNT)
        return nf__fail(NF_EINVAL, "fit: unknown optimiser %d", (int)o->optimizer);
    if (!isfinite(o->threshold_mV))
        return nf__fail(NF_EINVAL, "fit: threshold must be finite");
    if (!(o->gamma_window_ms > 0) || !isfinite(o->gamma_window_ms))
        return nf__fail(NF_EINVAL, "fit: coincidence window %g ms must be > 0", o->gamma_window_ms);
    const nf_score_weights *w = &o->weights;
    if (!(w->rmse >= 0 && w->features >= 0 && w->spikes >= 0) || !isfinite(w->rmse + w->features + w->spikes) ||
        w->rmse + w->features + w->spikes <= 0)
        return nf__fail(NF_EINVAL, "fit: weights must be finite, >= 0 and not all 0");
    if (o->resume && !o->checkpoint_dir)
        return nf__fail(NF_EINVAL, "fit: resume needs a checkpoint directory");
    if (o->n_starts < 0 || (o->n_starts > 0 && !o->starts))
        return nf__fail(NF_EINVAL, "fit: %d starting points but no array of them", o->n_starts);
    if (o->refine_k < 0)
        return nf__fail(NF_EINVAL, "fit: refine %d must be >= 0 (0: no refinement)", o->refine_k);
    if (o->guess != 0 && o->guess != 1)
        return nf__fail(NF_EINVAL, "fit: guess %d must be 0 or 1", o->guess);
    if (o->guess && !(o->guess_sigma > 0 && o->guess_sigma <= 1))
        return nf__fail(NF_EINVAL, "fit: guess_sigma %g must be in (0, 1]", o->guess_sigma);
    if (o->refine_k > 0 && !(o->survey_fraction > 0 && o->survey_fraction < 1))
        return nf__fail(NF_EINVAL, "fit: survey fraction %g must be in (0, 1)", o->survey_fraction);
    if ((o->n_starts > 0 || o->refine_k > 0) && !(o->start_sigma > 0 && o->start_sigma <= 1))
        return nf__fail(NF_EINVAL, "fit: start step size %g must be in (0, 1] (fraction of the box width)",
                        o->start_sigma);
    return NF_OK;
}

/* Every start names a fitted model and a recording, and lies inside the
 * model's fitting bounds. */
static nf_status check_starts(const nf_fit_options *o, const nf_model *const *models, int M, int R)
{
    for (int k = 0; k < o->n_starts; k++) {
        const nf_fit_start *st = &o->starts[k];
        if (!st->model || !st->params)
            return nf__fail(NF_EINVAL, "fit: starting point %d has no %s", k, !st->model ? "model name" : "parameters");
        const nf_model *m = NULL;
        for (int i = 0; i < M && !m; i++)
            if (!strcmp(models[i]->name, st->model))
                m = models[i];
        if (!m)
            return nf__fail(NF_EINVAL, "fit: starting point %d is for model \"%s\", which is not among the fitted models",
                            k, st->model);
        if (!(st->sigma >= 0 && st->sigma <= 1))
            return nf__fail(NF_EINVAL, "fit: starting point %d (%s): step size %g must be in (0, 1] (0: start_sigma)", k,
                            st->model, st->sigma);
        if (st->target < -1 || st->target >= R)
            return nf__fail(NF_EINVAL, "fit: starting point %d (%s) is for recording %d of %d", k, st->model,
                            st->target, R);
        for (int j = 0; j < m->n_params; j++) {
            const nf_param_info *p = &m->params[j];
            double x = st->params[j];
            if (!(x >= p->lo && x <= p->hi))
                return nf__fail(NF_EINVAL, "fit: starting point %d: %s %s = %g %s is outside its bounds [%g, %g]", k,
                                st->model, p->name, x, p->unit, p->lo, p->hi);
        }
    }
    return NF_OK;
}

/* The candidate models: opt's names, or every registered model. */
static nf_status resolve_models(const nf_fit_options *o, const nf_model ***models, int *n_models)
{
    int M = o->models ? o->n_models : nf_model_count();
    if (M < 1)
        return nf__fail(NF_EINVAL, "fit: no candidate models");
    const nf_model **ms = calloc((size_t)M, sizeof *ms);
    if (!ms)
        return nf__fail(NF_ENOMEM, "fit: out of memory");
    *models = ms;
    *n_models = M;
    for (int i = 0; i < M; i++) {
        const nf_model *m = o->models ? nf_model_find(o->models[i]) : nf_model_at(i);
        if (!m)
            return NF_ENOMODEL; /* nf_model_find named the known models */
        if (m->n_params > 64)
            return nf__fail(NF_EUNSUPPORTED, "fit: model %s has %d parameters (at most 64)", m->name,
                            m->n_params);
        for (int j = 0; j < i; j++)
            if (ms[j] == m)
                return nf__fail(NF_EINVAL, "fit: model %s is listed twice", m->name);
        ms[i] = m;
    }
    return NF_OK;
}

/* ---- ranking and merging ---------------------------------------------------- */

static int cmp_rec(const void *pa, const void *pb)
{
    const nf_fit_record *a = pa, *b = pb;
    double x = isnan(a->combined) ? INFINITY : a->combined, y = isnan(b->combined) ? INFINITY : b->combined;
    if (x < y)
        return -1;
    if (x > y)
        return 1;
    return a->model->id - b->model->id;
}

/* Sort each recording's records best first and number their ranks. */
static void rank(nf_fit_result *r)
{
    for (int t = 0; t < r->n_targets; t++) {
        nf_fit_record *row = &r->records[(size_t)t * r->n_models];
        qsort(row, (size_t)r->n_models, sizeof *row, cmp_rec);
        for (int k = 0; k < r->n_models; k++)
            row[k].rank = k + 1;
    }
}

static double score_key(double x) { return isnan(x) ? INFINITY : x; }

/* Fold refinement record b into survey record a (same recording and model):
 * evaluations, generations and restarts add up, the convergence curves are
 * joined (best so far), and a takes b's fit when it is better. */
static nf_status merge_record(nf_fit_record *a, nf_fit_record *b)
{
    int n = a->n_convergence + b->n_convergence;
    double *conv = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    if (!conv)
        return nf__fail(NF_ENOMEM, "fit: out of memory merging the refinement");
    double last = a->n_convergence > 0 ? a->convergence[a->n_convergence - 1] : INFINITY;
    if (a->n_convergence > 0)
        memcpy(conv, a->convergence, sizeof(double) * (size_t)a->n_convergence);
    for (int i = 0; i < b->n_convergence; i++)
        conv[a->n_convergence + i] = fmin(b->convergence[i], last);
    free(a->convergence);
    a->convergence = conv;
    a->n_convergence = n;
    if (score_key(b->combined) < score_key(a->combined)) {
        float *p = a->params, *tr = a->trace; /* the refinement's result frees these */
        a->params = b->params;
        a->trace = b->trace;
        b->params = p;
        b->trace = tr;
        a->rmse_mV = b->rmse_mV;
        a->nrmse = b->nrmse;
        a->feature_error = b->feature_error;
        a->gamma = b->gamma;
        a->combined = b->combined;
        a->n_features = b->n_features;
        memcpy(a->features_model, b->features_model, sizeof a->features_model);
        memcpy(a->has_model, b->has_model, sizeof a->has_model);
        a->valid = b->valid;
    }
    a->evals += b->evals;
    a->generations += b->generations;
    a->restarts += b->restarts;
    a->stop_reason = b->stop_reason; /* how the last search ended */
    return NF_OK;
}

static nf_fit_record *find_record(nf_fit_result *r, int t, const nf_model *m)
{
    nf_fit_record *row = &r->records[(size_t)t * r->n_models];
    for (int k = 0; k < r->n_models; k++)
        if (row[k].model == m)
            return &row[k];
    return NULL;
}

/* The checkpoint directory of one pass: opt's own / name, or none. */
static nf_status checkpoint_subdir(const nf_fit_options *opt, const char *name, char *buf, size_t cap,
                                   const char **dir)
{
    *dir = NULL;
    if (!opt->checkpoint_dir)
        return NF_OK;
    nf_status s = nf_path_join(buf, cap, opt->checkpoint_dir, name);
    if (!s)
        *dir = buf;
    return s;
}

/* ---- passes ------------------------------------------------------------------ */

/* What every pass shares: the recordings prepared once, the models, the engine. */
typedef struct fit_in {
    const nf_fit_target *tg;
    const nf__fit_tgt *prep, *prep_x;
    int R;
    const nf_model *const *models;
    int M;
    nf_engine *eng;
} fit_in;

/* One refinement pass: the recordings idx[0..n) whose leading models are
 * slots[0..K) of the survey r1, from where their survey ended; folds its
 * results into r1. */
static nf_status refine_group(const fit_in *in, const nf_fit_options *opt, nf_fit_result *r1, const int *idx, int n,
                              const int *slots, int K, int64_t budget, int gi)
{
    nf_status s = NF_OK;
    nf_fit_target *sub = calloc((size_t)n, sizeof *sub);
    nf__fit_tgt *sp = calloc((size_t)n, sizeof *sp), *sx = calloc((size_t)n, sizeof *sx);
    nf_fit_start *starts = calloc((size_t)n * K, sizeof *starts);
    double *x = calloc((size_t)n * K * 64, sizeof *x);
    const char **names = calloc((size_t)K, sizeof *names);
    const nf_model **models = calloc((size_t)K, sizeof *models);
    if (!sub || !sp || !sx || !starts || !x || !names || !models) {
        s = nf__fail(NF_ENOMEM, "fit: out of memory for the refinement");
        goto done;
    }
    for (int j = 0; j < K; j++) {
        models[j] = r1->models[slots[j]];
        names[j] = models[j]->name;
    }
    for (int a = 0; a < n; a++) {
        sub[a] = in->tg[idx[a]];
        sp[a] = in->prep[idx[a]]; /* borrowed: the spike arrays stay nf_fit's */
        sx[a] = in->prep_x[idx[a]];
        for (int j = 0; j < K; j++) {
            const nf_model *m = models[j];
            const nf_fit_record *rec = find_record(r1, idx[a], m);
            double *p = x + ((size_t)a * K + j) * 64;
            for (int q = 0; q < m->n_params; q++) /* float -> double: clamp the rounding into the box */
                p[q] = fmin(fmax((double)rec->params[q], m->params[q].lo), m->params[q].hi);
            starts[(size_t)a * K + j] = (nf_fit_start){.model = m->name, .target = a, .params = p};
        }
    }
    nf_fit_options o2 = *opt;
    o2.refine_k = 0;
    o2.models = names;
    o2.n_models = K;
    o2.budget = budget;
    o2.starts = starts;
    o2.n_starts = n * K;
    /* one seed for every refinement pass (the searches' own seeds mix in their
     * recording and model), so that a recording's refinement does not depend
     * on the groups the other recordings form */
    o2.seed = opt->seed ^ 0x9e3779b97f4a7c15ull;
    char dir[4096], sub_name[32];
    snprintf(sub_name, sizeof sub_name, "refine%d", gi);
    if ((s = checkpoint_subdir(opt, sub_name, dir, sizeof dir, &o2.checkpoint_dir)))
        goto done;
    if (o2.resume && !nf__fit_ckpt_exists(dir))
        o2.resume = 0; /* interrupted before this pass began: it starts afresh */
    nf_fit_result *r2 = NULL;
    if ((s = nf__fit_pass(in->eng, &o2, models, K, sub, sp, sx, n, &r2)))
        goto done;
    for (int a = 0; a < n && !s; a++)
        for (int j = 0; j < K && !s; j++)
            s = merge_record(find_record(r1, idx[a], models[j]), find_record(r2, a, models[j]));
    r1->sims += r2->sims;
    r1->neuron_steps += r2->neuron_steps;
    nf_fit_result_destroy(r2);
done:
    free(sub);
    free(sp);
    free(sx);
    free(starts);
    free(x);
    free(names);
    free(models);
    return s;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* One pass, or the survey and the refinement of each recording's leading
 * models (opt->refine_k); the records ranked. */
static nf_status fit_passes(const fit_in *in, const nf_fit_options *opt, nf_fit_result **out)
{
    const int M = in->M;
    nf_status s;
    if (opt->refine_k <= 0 || M <= opt->refine_k) {
        if ((s = nf__fit_pass(in->eng, opt, in->models, M, in->tg, in->prep, in->prep_x, in->R, out)))
            return s;
        rank(*out);
        return NF_OK;
    }
    const int K = opt->refine_k, R = in->R;
    int64_t b1 = (int64_t)llround((double)opt->budget * opt->survey_fraction);
    int64_t b2 = (int64_t)llround((double)opt->budget * (1 - opt->survey_fraction) * M / K);
    nf_fit_options o1 = *opt;
    o1.refine_k = 0;
    o1.budget = b1 > 0 ? b1 : 1;
    char dir[4096];
    s = checkpoint_subdir(opt, "survey", dir, sizeof dir, &o1.checkpoint_dir);
    nf_fit_result *r1 = NULL;
    if (s || (s = nf__fit_pass(in->eng, &o1, in->models, M, in->tg, in->prep, in->prep_x, R, &r1)))
        return s;
    rank(r1);

    /* recordings grouped by the set of their K leading models */
    int *keys = malloc(sizeof(int) * (size_t)R * K);
    int *group = malloc(sizeof(int) * (size_t)R);
    int *idx = malloc(sizeof(int) * (size_t)R);
    int ng = 0;
    if (!keys || !group || !idx) {
        s = nf__fail(NF_ENOMEM, "fit: out of memory for the refinement");
        goto done;
    }
    for (int t = 0; t < R; t++) {
        int *k = keys + (size_t)t * K;
        for (int j = 0; j < K; j++)
            k[j] = r1->records[(size_t)t * r1->n_models + j].model_slot;
        qsort(k, (size_t)K, sizeof *k, cmp_int);
        group[t] = -1;
        for (int u = 0; u < t && group[t] < 0; u++)
            if (!memcmp(keys + (size_t)u * K, k, sizeof(int) * (size_t)K))
                group[t] = group[u];
        if (group[t] < 0)
            group[t] = ng++;
    }
    for (int g = 0; g < ng && !s; g++) {
        int n = 0;
        const int *slots = NULL;
        for (int t = 0; t < R; t++)
            if (group[t] == g) {
                if (!slots)
                    slots = keys + (size_t)t * K;
                idx[n++] = t;
            }
        s = refine_group(in, opt, r1, idx, n, slots, K, b2 > 0 ? b2 : 1, g);
    }
    if (!s)
        rank(r1);
done:
    free(keys);
    free(group);
    free(idx);
    if (s) {
        nf_fit_result_destroy(r1);
        return s;
    }
    *out = r1;
    return NF_OK;
}

nf_status nf_fit(const nf_fit_target *targets, int n_targets, const nf_fit_options *opt, nf_fit_result **out)
{
    if (!out)
        return nf__fail(NF_EINVAL, "fit: NULL result pointer");
    *out = NULL;
    nf_fit_options defaults;
    if (!opt) {
        nf_fit_options_default(&defaults);
        opt = &defaults;
    }
    if (!targets || n_targets < 1)
        return nf__fail(NF_EINVAL, "fit: no recordings");
    nf_status s = check_options(opt);
    if (s)
        return s;
    const double t0 = nf__fit_now_s();
    const nf_model **models = NULL;
    int M = 0;
    nf__fit_tgt *prep = calloc((size_t)n_targets, sizeof *prep), *prep_x = calloc((size_t)n_targets, sizeof *prep_x);
    nf_fit_start *starts = NULL;
    double *store = NULL;
    nf_engine *eng = NULL;
    nf_fit_result *res = NULL;
    if (!prep || !prep_x) {
        s = nf__fail(NF_ENOMEM, "fit: out of memory");
        goto done;
    }
    if ((s = resolve_models(opt, &models, &M)) || (s = check_starts(opt, models, M, n_targets)))
        goto done;
    /* every recording prepared once, with spikes timed both ways (at the
     * peak for models that reset, at the crossing for the others) */
    for (int r = 0; r < n_targets && !s; r++)
        if (!(s = nf__fit_prepare_target(&targets[r], r, opt->threshold_mV, 0, &prep[r])))
            s = nf__fit_prepare_target(&targets[r], r, opt->threshold_mV, 1, &prep_x[r]);
    if (s)
        goto done;
    nf_fit_options o = *opt;
    if (opt->guess) { /* starting points read off the recordings (nf_fit_guess) */
        int ns = 0;
        if ((s = nf__fit_guess_starts(targets, n_targets, opt, &starts, &store, &ns)))
            goto done;
        if (starts) {
            o.starts = starts;
            o.n_starts = ns;
        }
    }
    if ((s = nf_engine_create(opt->backend, opt->threads, &eng)))
        goto done;
    fit_in in = {.tg = targets, .prep = prep, .prep_x = prep_x, .R = n_targets, .models = models, .M = M, .eng = eng};
    if ((s = fit_passes(&in, &o, &res)))
        goto done;
    if (!(res->targets = calloc((size_t)n_targets, sizeof *res->targets))) {
        s = nf__fail(NF_ENOMEM, "fit: out of memory");
        goto done;
    }
    for (int r = 0; r < n_targets; r++) {
        nf_fit_target_info *ti = &res->targets[r];
        ti->stim_start_ms = prep[r].s0;
        ti->stim_end_ms = prep[r].s1;
        memcpy(ti->features, prep[r].feat, sizeof ti->features);
        memcpy(ti->sigma, prep[r].sigma, sizeof ti->sigma);
        memcpy(ti->has, prep[r].has, sizeof ti->has);
    }
    res->seconds = nf__fit_now_s() - t0;
done:
    nf_engine_destroy(eng);
    for (int r = 0; r < n_targets && prep; r++)
        free(prep[r].spikes);
    for (int r = 0; r < n_targets && prep_x; r++)
        free(prep_x[r].spikes);
    free(prep);
    free(prep_x);
    free(models);
    free(starts);
    free(store);
    if (s) {
        nf_fit_result_destroy(res);
        return s;
    }
    *out = res;
    return NF_OK;
}
