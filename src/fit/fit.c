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
#include "rng.h"

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
    o->w_efel = 1;
}

nf_status nf_fit_weights_parse(const char *spec, nf_fit_options *o)
{
    if (!spec || !o)
        return nf__fail(NF_EINVAL, "weights: NULL argument");
    nf_score_weights w = o->weights;
    double extra[3] = {o->w_efel, o->w_fi, o->w_passive};
    static const char *const names[3] = {"efel", "fi", "passive"};
    char base[1024] = "";
    size_t len = 0;
    for (const char *p = spec; *p;) {
        const char *end = strchr(p, ',');
        end = end ? end : p + strlen(p);
        const char *eq = memchr(p, '=', (size_t)(end - p));
        int k = 3;
        for (int j = 0; j < 3 && eq; j++)
            if ((size_t)(eq - p) == strlen(names[j]) && !strncmp(p, names[j], (size_t)(eq - p)))
                k = j;
        if (k < 3) {
            char *stop = NULL;
            double v = strtod(eq + 1, &stop);
            if (stop != end || !isfinite(v) || v < 0)
                return nf__fail(NF_EINVAL, "weights \"%s\": \"%.*s\" is not a finite weight >= 0", spec,
                                (int)(end - eq - 1), eq + 1);
            extra[k] = v;
        } else { /* rmse, features, spikes (or an error naming all six) */
            if (len + (size_t)(end - p) + 2 > sizeof base)
                return nf__fail(NF_EINVAL, "weights \"%s\": too long", spec);
            len += (size_t)snprintf(base + len, sizeof base - len, "%s%.*s", len ? "," : "", (int)(end - p), p);
        }
        p = *end ? end + 1 : end;
    }
    if (len && nf_score_weights_parse(base, &w)) {
        if (strstr(nf_errmsg(), "unknown term"))
            return nf__fail(NF_EINVAL, "weights \"%s\": unknown term (known: rmse, features, spikes, efel, fi, passive)",
                            spec);
        return NF_EINVAL;
    }
    o->weights = w;
    o->w_efel = extra[0];
    o->w_fi = extra[1];
    o->w_passive = extra[2];
    return NF_OK;
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
    double we = o->efel && o->efel[0] ? o->w_efel : 0;
    if (!(w->rmse >= 0 && w->features >= 0 && w->spikes >= 0 && o->w_efel >= 0 && o->w_fi >= 0 &&
          o->w_passive >= 0) ||
        !isfinite(w->rmse + w->features + w->spikes + o->w_efel + o->w_fi + o->w_passive) ||
        w->rmse + w->features + w->spikes + we + o->w_fi + o->w_passive <= 0)
        return nf__fail(NF_EINVAL, "fit: weights must be finite, >= 0 and not all 0");
    if (!(o->rmse_cut_ms >= 0) || !isfinite(o->rmse_cut_ms))
        return nf__fail(NF_EINVAL, "fit: RMSE cut %g ms must be >= 0 (0: every sample)", o->rmse_cut_ms);
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
            return nf__fail(NF_EINVAL, "fit: starting point %d (%s) is for recording %d of %d (a group index)", k, st->model,
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

static double score_key(double x) { return isnan(x) ? INFINITY : x; }

/* The score that ranks a record: the held-out joint score when its group
 * holds sweeps out, else the fitted one. */
static double rank_key(const nf_fit_record *r, int on_test)
{
    return score_key(on_test ? r->test.combined : r->combined);
}

void nf__fit_rank(nf_fit_result *r, const uint8_t *on_test)
{
    for (int g = 0; g < r->n_groups; g++) {
        nf_fit_record *row = &r->records[(size_t)g * r->n_models];
        int t = on_test && on_test[g];
        for (int i = 1; i < r->n_models; i++) { /* insertion sort: stable, few models */
            nf_fit_record x = row[i];
            int j = i - 1;
            while (j >= 0 && (rank_key(&row[j], t) > rank_key(&x, t) ||
                              (rank_key(&row[j], t) == rank_key(&x, t) && row[j].model->id > x.model->id))) {
                row[j + 1] = row[j];
                j--;
            }
            row[j + 1] = x;
        }
        for (int k = 0; k < r->n_models; k++)
            row[k].rank = k + 1;
    }
}

/* Evaluations, generations and restarts add up, the convergence curves are
 * joined (best so far), and a takes b's fit when it is better. */
nf_status nf__fit_merge(nf_fit_record *a, nf_fit_record *b)
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
    int64_t evals = a->evals + b->evals, gens = a->generations + b->generations;
    int restarts = a->restarts + b->restarts, target = a->target, slot = a->model_slot;
    const char *stop = b->stop_reason; /* how the last search ended */
    if (score_key(b->combined) < score_key(a->combined)) { /* a takes b's fit; the refinement's result frees a's */
        nf_fit_record t = *a;
        *a = *b;
        *b = t;
    }
    free(a->convergence);
    a->convergence = conv;
    a->n_convergence = n;
    a->target = target;
    a->model_slot = slot;
    a->evals = evals;
    a->generations = gens;
    a->restarts = restarts;
    a->stop_reason = stop;
    return NF_OK;
}

/* ---- stages ------------------------------------------------------------------- */

int nf__fit_refines(const nf_fit_options *opt, int M) { return opt->refine_k > 0 && M > opt->refine_k; }

void nf__fit_stage_options(const nf_fit_options *opt, int M, int stage, nf_fit_options *out)
{
    *out = *opt;
    out->refine_k = 0;
    if (!nf__fit_refines(opt, M))
        return; /* one pass */
    int64_t b = stage == 0 ? (int64_t)llround((double)opt->budget * opt->survey_fraction)
                           : (int64_t)llround((double)opt->budget * (1 - opt->survey_fraction) * M / opt->refine_k);
    out->budget = b > 0 ? b : 1;
    if (stage == 1) {
        /* one seed for every refinement pass (the searches' own seeds mix in
         * their group and model), so that a group's refinement does not
         * depend on the sets the other groups form */
        out->seed = opt->seed ^ 0x9e3779b97f4a7c15ull;
        out->guess = 0; /* it starts where the survey ended */
        out->starts = NULL;
        out->n_starts = 0;
    }
}

void nf__fit_refine_start(const nf_model *m, const float *params, double *x)
{
    for (int q = 0; q < m->n_params; q++) /* float -> double: clamp the rounding into the box */
        x[q] = fmin(fmax((double)params[q], m->params[q].lo), m->params[q].hi);
}

static nf_fit_record *find_record(nf_fit_result *r, int g, const nf_model *m)
{
    nf_fit_record *row = &r->records[(size_t)g * r->n_models];
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

/* One refinement pass: the groups idx[0..n) whose leading models are
 * slots[0..K) of the survey r1, from where their survey ended; folds its
 * results into r1. */
static nf_status refine_group(const nf__fit_in *in, const nf_fit_options *opt, nf_fit_result *r1, const int *idx,
                              int n, const int *slots, int K, int gi)
{
    nf_status s = NF_OK;
    nf_fit_start *starts = calloc((size_t)n * K, sizeof *starts);
    double *x = calloc((size_t)n * K * 64, sizeof *x);
    const char **names = calloc((size_t)K, sizeof *names);
    const nf_model **models = calloc((size_t)K, sizeof *models);
    if (!starts || !x || !names || !models) {
        s = nf__fail(NF_ENOMEM, "fit: out of memory for the refinement");
        goto done;
    }
    for (int j = 0; j < K; j++) {
        models[j] = r1->models[slots[j]];
        names[j] = models[j]->name;
    }
    for (int a = 0; a < n; a++)
        for (int j = 0; j < K; j++) {
            const nf_model *m = models[j];
            const nf_fit_record *rec = find_record(r1, idx[a], m);
            double *p = x + ((size_t)a * K + j) * 64;
            nf__fit_refine_start(m, rec->params, p);
            starts[(size_t)a * K + j] = (nf_fit_start){.model = m->name, .target = idx[a], .params = p};
        }
    nf_fit_options o2;
    nf__fit_stage_options(opt, r1->n_models, 1, &o2);
    o2.models = names;
    o2.n_models = K;
    o2.starts = starts;
    o2.n_starts = n * K;
    char dir[4096], sub_name[32];
    snprintf(sub_name, sizeof sub_name, "refine%d", gi);
    if ((s = checkpoint_subdir(opt, sub_name, dir, sizeof dir, &o2.checkpoint_dir)))
        goto done;
    if (o2.resume && !nf__fit_ckpt_exists(dir))
        o2.resume = 0; /* interrupted before this pass began: it starts afresh */
    nf_fit_result *r2 = NULL;
    if ((s = nf__fit_pass(in, &o2, models, K, idx, n, &r2)))
        goto done;
    for (int a = 0; a < n && !s; a++)
        for (int j = 0; j < K && !s; j++)
            s = nf__fit_merge(find_record(r1, idx[a], models[j]), find_record(r2, a, models[j]));
    r1->sims += r2->sims;
    r1->neuron_steps += r2->neuron_steps;
    nf_fit_result_destroy(r2);
done:
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

/* One pass, or the survey and the refinement of each group's leading models
 * (opt->refine_k); the records ranked (by the fitted sweeps: the
 * refinement's choice never sees the held-out ones). */
static nf_status fit_passes(const nf__fit_in *in, const nf_model *const *models, int M, const nf_fit_options *opt,
                            nf_fit_result **out)
{
    nf_status s;
    const int R = in->G;
    int *all = malloc(sizeof(int) * (size_t)R);
    if (!all)
        return nf__fail(NF_ENOMEM, "fit: out of memory");
    for (int g = 0; g < R; g++)
        all[g] = g;
    if (!nf__fit_refines(opt, M)) {
        s = nf__fit_pass(in, opt, models, M, all, R, out);
        free(all);
        if (!s)
            nf__fit_rank(*out, NULL);
        return s;
    }
    const int K = opt->refine_k;
    nf_fit_options o1;
    nf__fit_stage_options(opt, M, 0, &o1);
    char dir[4096];
    s = checkpoint_subdir(opt, "survey", dir, sizeof dir, &o1.checkpoint_dir);
    nf_fit_result *r1 = NULL;
    if (s || (s = nf__fit_pass(in, &o1, models, M, all, R, &r1))) {
        free(all);
        return s;
    }
    nf__fit_rank(r1, NULL);

    /* groups grouped by the set of their K leading models */
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
        s = refine_group(in, opt, r1, idx, n, slots, K, g);
    }
    if (!s)
        nf__fit_rank(r1, NULL);
done:
    free(all);
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

/* ---- the fit's inputs ---------------------------------------------------------- */

/* Everything nf_fit_groups and nf_fit_score prepare once. */
typedef struct prepared {
    nf__fit_obj ob;
    nf__fit_tgt *prep, *prep_x;
    nf__fit_grp *groups;
    int G, R;
} prepared;

static void prepared_free(prepared *p)
{
    for (int r = 0; r < p->R; r++) {
        if (p->prep)
            nf__fit_tgt_free(&p->prep[r]);
        if (p->prep_x)
            nf__fit_tgt_free(&p->prep_x[r]);
    }
    for (int g = 0; p->groups && g < p->G; g++) {
        free(p->groups[g].sw);
        free(p->groups[g].pos);
    }
    free(p->prep);
    free(p->prep_x);
    free(p->groups);
    nf__fit_obj_free(&p->ob);
}

/* Check the groups and lay them out fitted sweeps first. */
static nf_status make_groups(const nf_fit_target *targets, int R, const nf_fit_group *groups, int G, prepared *p)
{
    if (!groups || G < 1)
        return nf__fail(NF_EINVAL, "fit: no groups of sweeps");
    if (!(p->groups = calloc((size_t)G, sizeof *p->groups)))
        return nf__fail(NF_ENOMEM, "fit: out of memory");
    p->G = G;
    for (int g = 0; g < G; g++) {
        const nf_fit_group *in = &groups[g];
        nf__fit_grp *out = &p->groups[g];
        const char *name = in->name ? in->name : "";
        if (in->n_sweeps < 1 || !in->sweeps)
            return nf__fail(NF_EINVAL, "fit: group %d (%s) has no sweeps", g, name);
        out->sw = malloc(sizeof(int) * (size_t)in->n_sweeps);
        out->pos = malloc(sizeof(int) * (size_t)in->n_sweeps);
        if (!out->sw || !out->pos)
            return nf__fail(NF_ENOMEM, "fit: out of memory");
        out->n = in->n_sweeps;
        out->name = in->name ? in->name : targets[in->sweeps[0] >= 0 && in->sweeps[0] < R ? in->sweeps[0] : 0].name;
        int k = 0;
        for (int pass = 0; pass < 2; pass++) /* fitted sweeps first */
            for (int j = 0; j < in->n_sweeps; j++) {
                int r = in->sweeps[j], test = in->test && in->test[j];
                if (r < 0 || r >= R)
                    return nf__fail(NF_EINVAL, "fit: group %d (%s): sweep %d is recording %d of %d", g, name, j, r, R);
                for (int q = 0; q < j && !pass; q++)
                    if (in->sweeps[q] == r)
                        return nf__fail(NF_EINVAL, "fit: group %d (%s) lists recording %d (%s) twice", g, name, r,
                                        targets[r].name ? targets[r].name : "");
                if (test != pass)
                    continue;
                out->sw[k] = r;
                out->pos[k++] = j;
                out->n_train += !test;
            }
        if (out->n_train < 1)
            return nf__fail(NF_EINVAL, "fit: group %d (%s): every sweep is held out; at least one must be fitted", g,
                            name);
    }
    return NF_OK;
}

/* Prepare every recording once, with spikes timed both ways (at the peak
 * for models that reset, at the crossing for the others). */
static nf_status prepare(const nf_fit_target *targets, int R, const nf_fit_options *opt, prepared *p)
{
    nf_status s = nf__fit_obj_init(opt, &p->ob);
    if (s)
        return s;
    p->R = R;
    p->prep = calloc((size_t)R, sizeof *p->prep);
    p->prep_x = calloc((size_t)R, sizeof *p->prep_x);
    if (!p->prep || !p->prep_x)
        return nf__fail(NF_ENOMEM, "fit: out of memory");
    nf_features *fx = NULL;
    if (p->ob.n_efel > 0 && (s = nf_features_create(NULL, &fx)))
        return s;
    for (int r = 0; r < R && !s; r++)
        if (!(s = nf__fit_prepare_target(&targets[r], r, opt->threshold_mV, 0, &p->ob, fx, &p->prep[r])))
            s = nf__fit_prepare_target(&targets[r], r, opt->threshold_mV, 1, &p->ob, fx, &p->prep_x[r]);
    nf_features_destroy(fx);
    for (int g = 0; g < p->G && !s; g++) {
        nf__fit_grp *pg = &p->groups[g];
        pg->key = p->prep[pg->sw[0]].key;
        if (pg->n > 1) { /* more sweeps: all keys and the roles */
            uint64_t h = nf__fnv1a(NF__FNV1A_INIT, &pg->n_train, sizeof pg->n_train);
            for (int k = 0; k < pg->n; k++)
                h = nf__fnv1a(h, &p->prep[pg->sw[k]].key, sizeof(uint64_t));
            pg->key = h;
        }
        nf__fit_efel_sigma_repeats(targets, p->prep, p->groups[g].sw, p->groups[g].n, p->ob.n_efel);
        nf__fit_efel_sigma_repeats(targets, p->prep_x, p->groups[g].sw, p->groups[g].n, p->ob.n_efel);
    }
    return s;
}

/* What the result says about the recordings, the groups and the objectives. */
static nf_status describe(nf_fit_result *res, const nf_fit_target *targets, const prepared *p, double window_ms)
{
    const int R = p->R, G = p->G, ne = p->ob.n_efel;
    res->n_targets = R;
    res->n_groups = G;
    if (!(res->targets = calloc((size_t)R, sizeof *res->targets)) || !(res->groups = calloc((size_t)G, sizeof *res->groups)) ||
        (ne && !(res->efel_ids = malloc(sizeof(int) * (size_t)ne))))
        return nf__fail(NF_ENOMEM, "fit: out of memory");
    res->n_efel = ne;
    if (ne)
        memcpy(res->efel_ids, p->ob.efel_ids, sizeof(int) * (size_t)ne);
    for (int r = 0; r < R; r++) {
        nf_fit_target_info *ti = &res->targets[r];
        const nf__fit_tgt *t = &p->prep[r];
        ti->stim_start_ms = t->s0;
        ti->stim_end_ms = t->s1;
        memcpy(ti->features, t->feat, sizeof ti->features);
        memcpy(ti->sigma, t->sigma, sizeof ti->sigma);
        memcpy(ti->has, t->has, sizeof ti->has);
        ti->spikes = t->n_spikes;
        ti->step_pA = t->step_pA;
        ti->rate_hz = t->rate_hz;
        memcpy(ti->passive, t->passive, sizeof ti->passive);
        memcpy(ti->passive_sigma, t->passive_sigma, sizeof ti->passive_sigma);
        memcpy(ti->has_passive, t->has_passive, sizeof ti->has_passive);
        if (ne) {
            if (!(ti->efel = malloc(sizeof(double) * 2 * (size_t)ne)))
                return nf__fail(NF_ENOMEM, "fit: out of memory");
            ti->efel_sigma = ti->efel + ne;
            memcpy(ti->efel, t->efel, sizeof(double) * (size_t)ne);
            memcpy(ti->efel_sigma, t->efel_sigma, sizeof(double) * (size_t)ne);
        }
    }
    for (int g = 0; g < G; g++) {
        nf_fit_group_info *gi = &res->groups[g];
        const nf__fit_grp *pg = &p->groups[g];
        const char *name = pg->name ? pg->name : "";
        gi->name = strdup(name);
        gi->sweeps = malloc(sizeof(int) * (size_t)pg->n);
        gi->test = malloc((size_t)pg->n);
        if (!gi->name || !gi->sweeps || !gi->test)
            return nf__fail(NF_ENOMEM, "fit: out of memory");
        gi->n_sweeps = pg->n;
        for (int k = 0; k < pg->n; k++) {
            gi->sweeps[pg->pos[k]] = pg->sw[k];
            gi->test[pg->pos[k]] = k >= pg->n_train;
        }
        gi->n_test = pg->n - pg->n_train;
        gi->gamma_int = nf__fit_gamma_int(targets, p->prep, pg->sw, pg->n, window_ms);
        gi->ranked_on_test = gi->n_test > 0;
    }
    return NF_OK;
}

nf_status nf__fit_plan(const nf_fit_target *targets, int n_targets, const nf_fit_group *groups, int n_groups,
                       const nf_fit_options *opt, const nf_model ***models, int *n_models, nf_fit_result *res)
{
    *models = NULL;
    *n_models = 0;
    if (targets && n_targets < 1)
        return nf__fail(NF_EINVAL, "fit: no recordings");
    prepared p = {0};
    nf_status s = check_options(opt);
    if (!s)
        s = resolve_models(opt, models, n_models);
    if (!s && targets && !(s = make_groups(targets, n_targets, groups, n_groups, &p)) &&
        !(s = check_starts(opt, *models, *n_models, n_groups)) && !(s = prepare(targets, n_targets, opt, &p)) && res)
        s = describe(res, targets, &p, opt->gamma_window_ms);
    prepared_free(&p);
    if (s) {
        free(*models);
        *models = NULL;
        *n_models = 0;
    }
    return s;
}

nf_status nf_fit_groups(const nf_fit_target *targets, int n_targets, const nf_fit_group *groups, int n_groups,
                        const nf_fit_options *opt, nf_fit_result **out)
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
    const double t0 = nf__now_s();
    const nf_model **models = NULL;
    int M = 0;
    prepared p = {0};
    nf_fit_start *starts = NULL;
    double *store = NULL;
    nf_engine *eng = NULL;
    nf_fit_result *res = NULL;
    if ((s = make_groups(targets, n_targets, groups, n_groups, &p)) || (s = resolve_models(opt, &models, &M)) ||
        (s = check_starts(opt, models, M, n_groups)) || (s = prepare(targets, n_targets, opt, &p)))
        goto done;
    nf__fit_in in = {.tg = targets, .prep = p.prep, .prep_x = p.prep_x, .R = n_targets, .groups = p.groups,
                     .G = p.G, .ob = &p.ob, .threads = opt->threads};
    nf_fit_options o = *opt;
    if (opt->guess) { /* starting points read off the recordings (nf_fit_guess), pooled per group */
        int ns = 0;
        if ((s = nf__fit_guess_starts(&in, opt, &starts, &store, &ns)))
            goto done;
        if (starts) {
            o.starts = starts;
            o.n_starts = ns;
        }
    }
    if ((s = nf_engine_create(opt->backend, opt->threads, &eng)) || (s = nf_engine_use_devices(eng, opt->devices)))
        goto done;
    in.eng = eng;
    if ((s = fit_passes(&in, models, M, &o, &res)) || (s = describe(res, targets, &p, opt->gamma_window_ms)))
        goto done;
    uint8_t *on_test = malloc((size_t)p.G);
    if (!on_test) {
        s = nf__fail(NF_ENOMEM, "fit: out of memory");
        goto done;
    }
    for (int g = 0; g < p.G; g++) {
        on_test[g] = (uint8_t)res->groups[g].ranked_on_test;
        for (int k = 0; k < M; k++)
            res->records[(size_t)g * M + k].target = g;
    }
    nf__fit_rank(res, on_test); /* groups with held-out sweeps: by them */
    free(on_test);
    res->seconds = nf__now_s() - t0;
done:
    nf_engine_destroy(eng);
    prepared_free(&p);
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

nf_status nf_fit(const nf_fit_target *targets, int n_targets, const nf_fit_options *opt, nf_fit_result **out)
{
    if (!out)
        return nf__fail(NF_EINVAL, "fit: NULL result pointer");
    *out = NULL;
    if (!targets || n_targets < 1)
        return nf__fail(NF_EINVAL, "fit: no recordings");
    nf_fit_group *g = calloc((size_t)n_targets, sizeof *g);
    int *idx = malloc(sizeof(int) * (size_t)n_targets);
    nf_status s = g && idx ? NF_OK : nf__fail(NF_ENOMEM, "fit: out of memory");
    for (int r = 0; r < n_targets && !s; r++) {
        idx[r] = r;
        g[r] = (nf_fit_group){.name = targets[r].name, .sweeps = &idx[r], .n_sweeps = 1};
    }
    if (!s)
        s = nf_fit_groups(targets, n_targets, g, n_targets, opt, out);
    free(g);
    free(idx);
    return s;
}

nf_status nf_fit_score(const nf_fit_target *targets, int n_targets, const nf_fit_candidate *cands, int n_cands,
                       const nf_fit_options *opt, nf_fit_result **out)
{
    if (!out)
        return nf__fail(NF_EINVAL, "fit score: NULL result pointer");
    *out = NULL;
    nf_fit_options defaults;
    if (!opt) {
        nf_fit_options_default(&defaults);
        opt = &defaults;
    }
    if (!targets || n_targets < 1)
        return nf__fail(NF_EINVAL, "fit score: no recordings");
    if (!cands || n_cands < 1)
        return nf__fail(NF_EINVAL, "fit score: no fitted models");
    nf_status s = check_options(opt);
    if (s)
        return s;
    const double t0 = nf__now_s();
    prepared p = {0};
    nf_engine *eng = NULL;
    nf_fit_result *res = calloc(1, sizeof *res);
    int *sw = malloc(sizeof(int) * (size_t)n_targets);
    double *x = calloc((size_t)n_cands * 64, sizeof *x);
    if (!res || !sw || !x || !(res->models = calloc((size_t)n_cands, sizeof *res->models)) ||
        !(res->records = calloc((size_t)n_cands, sizeof *res->records))) {
        s = nf__fail(NF_ENOMEM, "fit score: out of memory");
        goto done;
    }
    res->n_models = n_cands;
    res->n_groups = 1;
    for (int k = 0; k < n_cands && !s; k++) {
        const nf_model *m = cands[k].model ? nf_model_find(cands[k].model) : NULL;
        if (!m) {
            s = cands[k].model ? NF_ENOMODEL : nf__fail(NF_EINVAL, "fit score: fitted model %d has no name", k);
            break;
        }
        if (!cands[k].params) {
            s = nf__fail(NF_EINVAL, "fit score: fitted model %d (%s) has no parameters", k, m->name);
            break;
        }
        for (int j = 0; j < m->n_params && !s; j++) {
            /* fitted parameters are floats: a bound rounded to float may lie a hair outside */
            double v = cands[k].params[j], lo = m->params[j].lo, hi = m->params[j].hi;
            double tol = 1e-6 * fmax(hi - lo, fmax(fabs(lo), fabs(hi)));
            if (!isfinite(v) || v < lo - tol || v > hi + tol)
                s = nf__fail(NF_EINVAL, "fit score: fitted model %d: %s %s = %g %s is outside its bounds [%g, %g]", k,
                             m->name, m->params[j].name, v, m->params[j].unit, lo, hi);
            x[(size_t)k * 64 + j] = fmin(fmax(v, lo), hi);
        }
        res->models[k] = m;
    }
    for (int r = 0; r < n_targets && sw; r++)
        sw[r] = r;
    if (s)
        goto done;
    /* one group, every sweep held out (make_groups wants a fitted one: built here) */
    if (!(p.groups = calloc(1, sizeof *p.groups))) {
        s = nf__fail(NF_ENOMEM, "fit score: out of memory");
        goto done;
    }
    p.G = 1;
    p.groups[0] = (nf__fit_grp){.name = "predicted", .sw = sw, .pos = malloc(sizeof(int) * (size_t)n_targets),
                                .n = n_targets};
    sw = NULL; /* the group owns it */
    if (!p.groups[0].pos) {
        s = nf__fail(NF_ENOMEM, "fit score: out of memory");
        goto done;
    }
    for (int r = 0; r < n_targets; r++)
        p.groups[0].pos[r] = r;
    if ((s = prepare(targets, n_targets, opt, &p)) || (s = nf_engine_create(opt->backend, opt->threads, &eng)) ||
        (s = nf_engine_use_devices(eng, opt->devices)))
        goto done;
    nf__fit_in in = {.tg = targets, .prep = p.prep, .prep_x = p.prep_x, .R = n_targets, .groups = p.groups, .G = 1,
                     .ob = &p.ob, .eng = eng, .threads = opt->threads};
    int g0 = 0;
    for (int k = 0; k < n_cands && !s; k++) {
        s = nf__fit_evaluate(&in, opt, res->models[k], &g0, 1, x + (size_t)k * 64, &res->records[k], &res->sims,
                             &res->neuron_steps);
        res->records[k].model_slot = k;
        res->records[k].stop_reason = "";
    }
    if (s || (s = describe(res, targets, &p, opt->gamma_window_ms)))
        goto done;
    res->backend = nf_engine_backend(eng);
    uint8_t on_test = 1;
    nf__fit_rank(res, &on_test);
    res->seconds = nf__now_s() - t0;
done:
    nf_engine_destroy(eng);
    prepared_free(&p);
    free(sw);
    free(x);
    if (s) {
        nf_fit_result_destroy(res);
        return s;
    }
    *out = res;
    return NF_OK;
}
