/* nf_fit_groups: one parameter set per cell across its sweeps (joint score,
 * population x sweeps), held-out sweeps scored apart and ranking by them,
 * nf_fit_score, pooled guesses, the passive, f-I and eFEL objectives,
 * determinism and resume, and bad groups. */
#include "neurofit/features.h"
#include "neurofit/fit.h"
#include "nf_test_util.h"
#include "fit/fit_internal.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { N = 4001, S = 5 }; /* samples per sweep (400 ms at 0.1 ms), sweeps per cell */
static const double AMP[S] = {-60, 150, 220, 300, 380}; /* pA, 50-350 ms */

/* One cell: model `name` with params under S steps of AMP, plus noise of sd
 * noise_mV from the tests' generator. */
typedef struct cell {
    float v[S][N], i[S][N];
    nf_fit_target t[S];
} cell;

static void make_cell(const char *name, const float *params, uint64_t seed, double noise_mV, cell *c)
{
    const nf_model *m = nf_model_find(name);
    cr_assert(m);
    nf_engine *e = NULL;
    cr_assert_eq(nf_engine_create(NF_BACKEND_CPU, 1, &e), NF_OK);
    int k = nf_fit_substeps(m, 0.1);
    static float Iu[(N - 1) * 4 + 1], vu[(N - 1) * 4 + 1];
    for (int s = 0; s < S; s++) {
        for (int j = 0; j < N; j++)
            c->i[s][j] = j * 0.1 >= 50 && j * 0.1 < 350 ? (float)AMP[s] : 0.0f;
        for (int j = 0; j < (N - 1) * k + 1; j++)
            Iu[j] = c->i[s][j / k];
        nf_batch b = {.model = m, .n_sims = 1, .n_steps = (N - 1) * k + 1, .dt_ms = 0.1 / k, .params = params,
                      .stim = {.waves = Iu, .n_waves = 1}, .voltage = vu, .record_every = k, .v_detect_mV = -20};
        cr_assert_eq(nf_engine_run(e, &b), NF_OK, "%s", nf_errmsg());
        memcpy(c->v[s], vu, sizeof c->v[s]);
        nft_add_noise(c->v[s], N, noise_mV, &seed);
        c->t[s] = (nf_fit_target){.name = "sweep", .v = c->v[s], .i = c->i[s], .n = N, .dt_ms = 0.1};
    }
    nf_engine_destroy(e);
}

static nf_fit_options opts(const char *const *models, int n_models, int64_t budget)
{
    return nft_fit_options(models, n_models, budget, 3);
}

static const float LIF[6] = {130.0f, 8.0f, -70.0f, -53.0f, -74.0f, 2.5f};
static const int ALL[S] = {0, 1, 2, 3, 4};
static const uint8_t MID_OUT[S] = {0, 0, 1, 0, 0}; /* the 220 pA step held out */

/* The joint score is per term the mean over the fitted sweeps, weighted and
 * summed; the held-out sweep is scored as nf_fit_score scores it. */
Test(fit_groups, one_parameter_set_across_sweeps_with_a_held_out_sweep)
{
    static cell c;
    make_cell("lif6", LIF, 7, 0.5, &c);
    const char *models[] = {"lif6", "izhikevich"};
    nf_fit_options o = opts(models, 2, 2500);
    nf_fit_group g = {.name = "cell", .sweeps = ALL, .test = MID_OUT, .n_sweeps = S};
    nf_fit_result *r = NULL;
    cr_assert_eq(nf_fit_groups(c.t, S, &g, 1, &o, &r), NF_OK, "%s", nf_errmsg());
    cr_assert_eq(r->n_groups, 1);
    cr_assert_eq(r->groups[0].n_test, 1);
    cr_assert(r->groups[0].ranked_on_test);
    cr_assert_str_eq(r->groups[0].name, "cell");
    const nf_fit_record *best = &r->records[0], *second = &r->records[1];
    cr_assert_str_eq(best->model->name, "lif6", "ranked first: %s", best->model->name);
    cr_assert_leq(best->test.combined, second->test.combined, "ranked by the held-out score");
    cr_assert_eq(best->train.n_sweeps, 4);
    cr_assert_eq(best->test.n_sweeps, 1);
    cr_assert_eq(best->n_sweeps, S);
    /* one parameter set recovers the cell */
    for (int j = 0; j < 5; j++) /* t_ref acts in whole steps */
        cr_assert_lt(fabs(best->params[j] - LIF[j]) / fabs(LIF[j]), 0.05, "%s: %g, truth %g",
                     best->model->params[j].name, best->params[j], LIF[j]);
    cr_assert_gt(best->test.gamma, 0.9, "held-out Gamma %g (%g %g %g %g %g %g) evals %lld", best->test.gamma, best->params[0], best->params[1], best->params[2], best->params[3], best->params[4], best->params[5], (long long)best->evals);
    /* the joint score from the sweeps' terms */
    double nr = 0, fe = 0, sp = 0;
    for (int k = 0; k < S; k++) {
        const nf_fit_sweep *w = &best->sweeps[k];
        cr_assert_eq(w->test, k == 2);
        cr_assert_eq(w->target, k, "the sweeps in the group's order");
        if (w->test)
            continue;
        nr += w->nrmse;
        fe += w->n_features ? w->feature_error / w->n_features : 0;
        sp += 1 - w->gamma;
    }
    cr_assert_float_eq(best->combined, nr / 4 + fe / 4 + sp / 4, 1e-12, "%g", best->combined);
    cr_assert_eq(best->combined, best->train.combined);
    cr_assert_eq(best->test.combined, best->sweeps[2].combined, "one held-out sweep: its own score");
    /* neurofit predict's call: the same held-out score */
    double p[64];
    for (int j = 0; j < 6; j++)
        p[j] = best->params[j];
    nf_fit_candidate cand = {.model = "lif6", .params = p};
    nf_fit_result *q = NULL;
    cr_assert_eq(nf_fit_score(&c.t[2], 1, &cand, 1, &o, &q), NF_OK, "%s", nf_errmsg());
    cr_assert_eq(q->records[0].test.combined, best->test.combined);
    cr_assert_eq(q->records[0].sweeps[0].spikes, best->sweeps[2].spikes);
    cr_assert(isnan(q->records[0].combined), "nothing was fitted: no fitted score");
    nf_fit_result_destroy(q);
    nf_fit_result_destroy(r);
}

static void same(const nf_fit_result *x, const nf_fit_result *y)
{
    cr_assert_eq(x->n_groups * x->n_models, y->n_groups * y->n_models);
    for (int k = 0; k < x->n_groups * x->n_models; k++) {
        const nf_fit_record *a = &x->records[k], *b = &y->records[k];
        cr_assert_eq(a->model, b->model);
        cr_assert_eq(a->evals, b->evals);
        cr_assert_eq(memcmp(a->params, b->params, sizeof(float) * a->model->n_params), 0, "record %d differs", k);
        cr_assert_eq(a->combined, b->combined);
        cr_assert_eq(memcmp(&a->test.combined, &b->test.combined, sizeof(double)), 0); /* NaN without held-out sweeps */
    }
}

static int stop_at_7(const nf_fit_progress *p, void *user)
{
    (void)p;
    return ++*(int *)user == 7;
}

/* Two cells of different sweep counts and lengths, with the trace
 * objectives on (their features on the CPU threads): the same result for 1
 * and 2 threads, for a cell fitted alone or beside the other, and after an
 * interruption and --resume. */
Test(fit_groups, deterministic_and_resumable)
{
    static cell a, b;
    make_cell("lif6", LIF, 1, 0.5, &a);
    const float adex[10] = {200, 10, -70, -50, 2, 100, 2, 40, -58, 0};
    const nf_model *ad = nf_model_find("adex");
    float pa[10];
    for (int j = 0; j < 10; j++)
        pa[j] = j == 9 ? (float)ad->params[9].def : adex[j];
    make_cell("adex", pa, 2, 0.5, &b);
    for (int s = 0; s < S; s++)
        b.t[s].n = 3001; /* cell b's sweeps are shorter: two shapes */
    const int ia[3] = {0, 1, 3}, ib[4] = {0, 2, 3, 4};
    const uint8_t tb[4] = {0, 0, 0, 1};
    nf_fit_target t[S + S];
    memcpy(t, a.t, sizeof a.t);
    memcpy(t + S, b.t, sizeof b.t);
    const int ib2[4] = {S + ib[0], S + ib[1], S + ib[2], S + ib[3]};
    nf_fit_group g[2] = {{.name = "a", .sweeps = ia, .n_sweeps = 3}, {.name = "b", .sweeps = ib2, .test = tb, .n_sweeps = 4}};
    (void)ib;
    const char *models[] = {"lif6", "adex"};
    nf_fit_options o = opts(models, 2, 300);
    o.w_passive = 1;
    o.w_fi = 0.5;
    o.efel = "mean_frequency,voltage_base";
    o.rmse_cut_ms = 3;
    nf_fit_result *r1 = NULL, *r2 = NULL, *r3 = NULL;
    o.threads = 1;
    cr_assert_eq(nf_fit_groups(t, 2 * S, g, 2, &o, &r1), NF_OK, "%s", nf_errmsg());
    o.threads = 2;
    cr_assert_eq(nf_fit_groups(t, 2 * S, g, 2, &o, &r2), NF_OK, "%s", nf_errmsg());
    same(r1, r2);
    /* a group's fit does not depend on the other groups of the call */
    nf_fit_result *alone = NULL;
    cr_assert_eq(nf_fit_groups(t, 2 * S, &g[1], 1, &o, &alone), NF_OK, "%s", nf_errmsg());
    for (int k = 0; k < 2; k++) {
        const nf_fit_record *x = &alone->records[k], *b2 = &r1->records[2 + k];
        cr_assert_eq(x->model, b2->model);
        cr_assert_eq(memcmp(x->params, b2->params, sizeof(float) * x->model->n_params), 0, "%s", x->model->name);
        cr_assert_eq(x->test.combined, b2->test.combined);
    }
    nf_fit_result_destroy(alone);
    cr_assert_eq(r1->n_efel, 2);
    const nf_fit_record *rb = &r1->records[1 * 2];
    cr_assert(isfinite(rb->train.passive_error), "cell b's sweep 0 is hyperpolarising");
    cr_assert(isfinite(rb->train.efel_error) && isfinite(rb->train.fi_error));
    cr_assert(isnan(rb->sweeps[1].passive_error), "a depolarising sweep has no passive term");
    cr_assert(isfinite(rb->sweeps[0].passive_error));
    char dir[] = "/tmp/nf_fit_groups_ckpt_XXXXXX";
    cr_assert(mkdtemp(dir));
    int calls = 0;
    o.checkpoint_dir = dir;
    o.progress = stop_at_7;
    o.progress_user = &calls;
    cr_assert_eq(nf_fit_groups(t, 2 * S, g, 2, &o, &r3), NF_EINTERRUPTED);
    o.progress = NULL;
    o.resume = 1;
    cr_assert_eq(nf_fit_groups(t, 2 * S, g, 2, &o, &r3), NF_OK, "%s", nf_errmsg());
    same(r1, r3);
    /* the checkpoint belongs to its groups: other roles are another run */
    nf_fit_result *r4 = NULL;
    const uint8_t tb2[4] = {0, 0, 1, 1};
    g[1].test = tb2;
    cr_assert_eq(nf_fit_groups(t, 2 * S, g, 2, &o, &r4), NF_EINVAL);
    cr_assert(strstr(nf_errmsg(), "different run"), "%s", nf_errmsg());
    nf_fit_result_destroy(r1);
    nf_fit_result_destroy(r2);
    nf_fit_result_destroy(r3);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

/* The record of model name in group g of r (records are ranked). */
static const nf_fit_record *record_of(const nf_fit_result *r, int g, const char *name)
{
    for (int k = 0; k < r->n_models; k++)
        if (!strcmp(r->records[(size_t)g * r->n_models + k].model->name, name))
            return &r->records[(size_t)g * r->n_models + k];
    cr_assert_fail("no record of %s in group %d", name, g);
    return NULL;
}

/* Every result of one (group, model) search, bit for bit (n: samples per sweep). */
static void same_search(const nf_fit_record *a, const nf_fit_record *b, int n)
{
    const char *m = a->model->name;
    cr_assert_eq(a->model, b->model);
    cr_assert_eq(memcmp(a->params, b->params, sizeof(float) * (size_t)a->model->n_params), 0, "%s: parameters", m);
    cr_assert_eq(a->evals, b->evals, "%s", m);
    cr_assert_eq(a->generations, b->generations, "%s", m);
    cr_assert_eq(a->restarts, b->restarts, "%s", m);
    cr_assert_eq(memcmp(&a->train, &b->train, sizeof a->train), 0, "%s: fitted scores", m);
    cr_assert_eq(memcmp(&a->test, &b->test, sizeof a->test), 0, "%s: held-out scores", m);
    cr_assert_eq(a->n_convergence, b->n_convergence, "%s", m);
    cr_assert_eq(memcmp(a->convergence, b->convergence, sizeof(double) * (size_t)a->n_convergence), 0, "%s", m);
    cr_assert_eq(a->n_sweeps, b->n_sweeps);
    for (int k = 0; k < a->n_sweeps; k++)
        cr_assert_eq(memcmp(a->sweeps[k].trace, b->sweeps[k].trace, sizeof(float) * (size_t)n), 0, "%s: sweep %d", m, k);
}

/* stop the fit when a model has finished while others still search */
static int stop_when_one_finished(const nf_fit_progress *p, void *user)
{
    (void)user;
    return p->models_running < p->n_models;
}

/* The pass runs its models at once (every model's generation in flight,
 * each told and submitted again at its own pace): each model's records are
 * those of the model fitted alone, which is how models were fitted one after
 * another, bit for bit, for two cells of two shapes with a held-out sweep,
 * models of different sub-steps (hh) and the stochastic slif (its noise keyed
 * by the simulation's index in an engine call); the counts add up. Stopped
 * when the first model has finished (the checkpoint then holds finished,
 * running and their places) and resumed: the same result. */
Test(fit_groups, models_at_once_equal_each_model_fitted_alone)
{
    static cell a, b;
    make_cell("lif6", LIF, 4, 0.5, &a);
    make_cell("lif6", LIF, 5, 0.5, &b);
    for (int s = 0; s < S; s++)
        b.t[s].n = 3001;
    nf_fit_target t[S + S];
    memcpy(t, a.t, sizeof a.t);
    memcpy(t + S, b.t, sizeof b.t);
    const int ia[3] = {0, 1, 3}, ib[3] = {S + 1, S + 2, S + 4};
    const uint8_t tb[3] = {0, 1, 0};
    nf_fit_group g[2] = {{.name = "a", .sweeps = ia, .n_sweeps = 3}, {.name = "b", .sweeps = ib, .test = tb, .n_sweeps = 3}};
    const char *models[] = {"lif6", "slif", "adex", "hh"};
    enum { M = 4 };
    nf_fit_options o = opts(models, M, 160);
    o.refine_k = 0; /* one pass: a refinement's models depend on the others' scores */
    o.guess = 0;    /* slif from its defaults: noise in every candidate */
    o.restarts = 0;
    /* lif6 from its truth with a tiny step: it stops (tolx) generations before the others */
    const double lif_x[6] = {LIF[0], LIF[1], LIF[2], LIF[3], LIF[4], LIF[5]};
    const nf_fit_start st = {.model = "lif6", .target = -1, .params = lif_x, .sigma = 1e-9};
    o.starts = &st;
    o.n_starts = 1;
    nf_fit_result *all = NULL;
    cr_assert_eq(nf_fit_groups(t, 2 * S, g, 2, &o, &all), NF_OK, "%s", nf_errmsg());
    int64_t sims = 0;
    double steps = 0;
    for (int mi = 0; mi < M; mi++) {
        nf_fit_options o1 = o;
        o1.models = &models[mi];
        o1.n_models = 1;
        o1.n_starts = !strcmp(models[mi], "lif6");
        nf_fit_result *one = NULL;
        cr_assert_eq(nf_fit_groups(t, 2 * S, g, 2, &o1, &one), NF_OK, "%s", nf_errmsg());
        for (int u = 0; u < 2; u++)
            same_search(record_of(all, u, models[mi]), record_of(one, u, models[mi]), u ? 3001 : N);
        sims += one->sims;
        steps += one->neuron_steps;
        nf_fit_result_destroy(one);
    }
    cr_assert_lt(record_of(all, 0, "lif6")->generations * 3, record_of(all, 0, "adex")->generations,
                 "lif6 stops early");
    cr_assert_eq(all->sims, sims, "%lld simulations, %lld alone", (long long)all->sims, (long long)sims);
    cr_assert_eq(all->neuron_steps, steps);

    char dir[] = "/tmp/nf_fit_at_once_XXXXXX", path[600], text[4096];
    cr_assert(mkdtemp(dir));
    o.checkpoint_dir = dir;
    o.progress = stop_when_one_finished;
    nf_fit_result *res = NULL;
    cr_assert_eq(nf_fit_groups(t, 2 * S, g, 2, &o, &res), NF_EINTERRUPTED, "%s", nf_errmsg());
    snprintf(path, sizeof path, "%s/state.json", dir);
    FILE *fp = fopen(path, "r");
    cr_assert_not_null(fp);
    size_t len = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    text[len] = 0;
    cr_assert(strstr(text, "\"final\"") && strstr(text, "\"snapshot\", ") && strstr(text, "\"version\": 3"), "%s",
              text);
    o.progress = NULL;
    o.resume = 1;
    cr_assert_eq(nf_fit_groups(t, 2 * S, g, 2, &o, &res), NF_OK, "%s", nf_errmsg());
    for (int u = 0; u < 2; u++)
        for (int mi = 0; mi < M; mi++)
            same_search(record_of(all, u, models[mi]), record_of(res, u, models[mi]), u ? 3001 : N);
    cr_assert_eq(res->sims, all->sims);
    cr_assert_eq(res->neuron_steps, all->neuron_steps);
    nf_fit_result_destroy(res);
    nf_fit_result_destroy(all);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

typedef struct flight_seen {
    int calls;
    int64_t first, max;
    int models_running;
} flight_seen;

static int see_flight(const nf_fit_progress *p, void *user)
{
    flight_seen *f = user;
    if (!f->calls++) {
        f->first = p->in_flight;
        f->models_running = p->models_running;
    }
    f->max = p->in_flight > f->max ? p->in_flight : f->max;
    return p->round >= 3; /* the first generations are enough */
}

/* Issue 18's target: a 16-sweep cell fitted by all 17 models keeps >= 8,000
 * simulations in flight (every model's population x the sweeps; the CPU
 * backend counts submitted-not-waited simulations as a GPU holds them). */
Test(fit_groups, a_16_sweep_17_model_fit_keeps_8000_simulations_in_flight)
{
    enum { T = 601, W = 16 };
    static float v[W][T], I[W][T];
    nf_fit_target t[W];
    int idx[W];
    for (int w = 0; w < W; w++) {
        for (int k = 0; k < T; k++) {
            I[w][k] = k >= 100 && k < 500 ? (float)(20 * w - 60) : 0.0f;
            v[w][k] = -70.0f + 0.02f * I[w][k];
        }
        t[w] = (nf_fit_target){.name = "sweep", .v = v[w], .i = I[w], .n = T, .dt_ms = 0.1};
        idx[w] = w;
    }
    nf_fit_group g = {.name = "cell", .sweeps = idx, .n_sweeps = W};
    nf_fit_options o = opts(NULL, 0, 100000);
    o.models = NULL; /* every model */
    o.guess = 0;
    flight_seen f = {0};
    o.progress = see_flight;
    o.progress_user = &f;
    nf_fit_result *r = NULL;
    cr_assert_eq(nf_fit_groups(t, W, &g, 1, &o, &r), NF_EINTERRUPTED, "%s", nf_errmsg());
    cr_assert_eq(nf_model_count(), 17);
    cr_assert_eq(f.models_running, 17);
    cr_assert_eq(f.first, 17 * NF_FIT_CMAES_LAMBDA * W, "%lld in flight", (long long)f.first);
    cr_assert_geq(f.first, 8000);
    cr_assert_eq(f.max, f.first);
}

Test(fit_groups, bad_groups_are_clear_errors)
{
    static cell c;
    make_cell("lif6", LIF, 1, 0.5, &c);
    const char *models[] = {"lif6"};
    nf_fit_options o = opts(models, 1, 10);
    nf_fit_result *r = NULL;
    const int bad[2] = {0, 7}, twice[2] = {1, 1};
    const uint8_t all_out[2] = {1, 1};
    nf_fit_group g = {.name = "x", .sweeps = bad, .n_sweeps = 2};
    cr_assert_eq(nf_fit_groups(c.t, S, &g, 1, &o, &r), NF_EINVAL);
    cr_assert(strstr(nf_errmsg(), "recording 7 of 5"), "%s", nf_errmsg());
    g.sweeps = twice;
    cr_assert_eq(nf_fit_groups(c.t, S, &g, 1, &o, &r), NF_EINVAL);
    cr_assert(strstr(nf_errmsg(), "twice"), "%s", nf_errmsg());
    g.sweeps = ALL;
    g.test = all_out;
    g.n_sweeps = 2;
    cr_assert_eq(nf_fit_groups(c.t, S, &g, 1, &o, &r), NF_EINVAL);
    cr_assert(strstr(nf_errmsg(), "held out"), "%s", nf_errmsg());
    g.n_sweeps = 0;
    cr_assert_eq(nf_fit_groups(c.t, S, &g, 1, &o, &r), NF_EINVAL);
    cr_assert(strstr(nf_errmsg(), "no sweeps"), "%s", nf_errmsg());
    cr_assert_eq(nf_fit_groups(c.t, S, NULL, 0, &o, &r), NF_EINVAL);
    cr_assert_null(r);
    o.efel = "no_such_feature";
    g.n_sweeps = 1;
    g.test = NULL;
    cr_assert_eq(nf_fit_groups(c.t, S, &g, 1, &o, &r), NF_EINVAL);
    cr_assert(strstr(nf_errmsg(), "no_such_feature"), "%s", nf_errmsg());
    o.efel = NULL;
    o.rmse_cut_ms = -1;
    cr_assert_eq(nf_fit_groups(c.t, S, &g, 1, &o, &r), NF_EINVAL);
    o.rmse_cut_ms = 0;
    double p[6] = {130, 8, -70, -53, -74, 1e9};
    nf_fit_candidate cand = {.model = "lif6", .params = p};
    cr_assert_eq(nf_fit_score(c.t, 1, &cand, 1, &o, &r), NF_EINVAL);
    cr_assert(strstr(nf_errmsg(), "t_ref") && strstr(nf_errmsg(), "outside"), "%s", nf_errmsg());
    cand.model = "nope";
    cr_assert_neq(nf_fit_score(c.t, 1, &cand, 1, &o, &r), NF_OK);
    cr_assert_null(r);
}

/* An RC cell (lif6 below threshold): input resistance 1 / g_L, membrane time
 * constant C / g_L, no sag. */
Test(fit_groups, passive_responses_of_an_rc_cell)
{
    static cell c;
    make_cell("lif6", LIF, 1, 0.0, &c);
    double val[NF_FIT_N_PASSIVE];
    uint8_t has[NF_FIT_N_PASSIVE];
    nf_fit_passive(c.v[0], N, 0.1, 50, 350, AMP[0], val, has);
    cr_assert(has[0] && has[1] && has[2]);
    cr_assert_float_eq(val[NF_FIT_P_input_resistance], 1000.0 / LIF[1], 0.01 * 1000.0 / LIF[1], "R_in %g MOhm",
                       val[NF_FIT_P_input_resistance]);
    cr_assert_float_eq(val[NF_FIT_P_tau], LIF[0] / LIF[1], 0.05 * LIF[0] / LIF[1], "tau %g ms", val[NF_FIT_P_tau]);
    cr_assert_lt(val[NF_FIT_P_sag], 0.01, "sag %g", val[NF_FIT_P_sag]);
    nf_fit_passive(c.v[1], N, 0.1, 50, 350, AMP[1], val, has);
    cr_assert(!has[0] && !has[1] && !has[2], "a depolarising step has no passive response");
    cr_assert_str_eq(nf_fit_passive_name(NF_FIT_P_input_resistance), "input_resistance");
    cr_assert_str_eq(nf_fit_passive_unit(NF_FIT_P_tau), "ms");
}

/* The guess pooled over a cell's sweeps is near the truth, and the eFEL
 * objectives of a target are its eFEL features (a vector by its mean). */
Test(fit_groups, pooled_guess_and_efel_targets)
{
    static cell c;
    make_cell("lif6", LIF, 5, 0.5, &c);
    const nf_model *m = nf_model_find("lif6");
    double p[64];
    int found = 0;
    cr_assert_eq(nf__fit_guess_pooled(m, c.t, ALL, 4, -20, p, &found), NF_OK, "%s", nf_errmsg());
    cr_assert(found);
    for (int j = 0; j < 5; j++)
        cr_assert_lt(fabs(p[j] - LIF[j]) / (m->params[j].hi - m->params[j].lo), 0.03, "%s %g, truth %g",
                     m->params[j].name, p[j], LIF[j]);
    nf_fit_options o = opts(NULL, 0, 1);
    o.efel = "ISI_values,voltage_base";
    nf__fit_obj ob;
    cr_assert_eq(nf__fit_obj_init(&o, &ob), NF_OK, "%s", nf_errmsg());
    nf_features *fx = NULL;
    cr_assert_eq(nf_features_create(NULL, &fx), NF_OK);
    nf__fit_tgt tg;
    /* spikes with shapes (eFEL's ISIs): triangles to +20 mV, 13-33 ms apart */
    static float sv[N], si[N];
    for (int k = 0; k < N; k++) {
        double t = k * 0.1;
        si[k] = t >= 50 && t < 350 ? 200.0f : 0.0f;
        sv[k] = t >= 50 && t < 350 ? -60.0f : -70.0f;
    }
    for (double ts = 60, gap = 13; ts < 340; ts += gap, gap += 1)
        for (int q = -5; q <= 5; q++)
            sv[(int)lround(ts / 0.1) + q] = (float)(20 - 16 * abs(q));
    nf_fit_target st = {.name = "spiky", .v = sv, .i = si, .n = N, .dt_ms = 0.1};
    cr_assert_eq(nf__fit_prepare_target(&st, 0, -20, 0, &ob, fx, &tg), NF_OK, "%s", nf_errmsg());
    static double v[N], i[N];
    for (int k = 0; k < N; k++) {
        v[k] = sv[k];
        i[k] = si[k];
    }
    nf_trace tr = {.dt_ms = 0.1, .v = v, .i = i, .n = N, .stim_start_ms = tg.s0, .stim_end_ms = tg.s1};
    cr_assert_eq(nf_features_compute(fx, &tr), NF_OK);
    nf_feature_value isi, vb;
    cr_assert_eq(nf_features_lookup(fx, "ISI_values", &isi), NF_OK);
    cr_assert_eq(nf_features_lookup(fx, "voltage_base", &vb), NF_OK);
    cr_assert(!isi.missing && isi.n > 2);
    double mean = 0;
    for (int64_t k = 0; k < isi.n; k++)
        mean += isi.values[k] / (double)isi.n;
    cr_assert_float_eq(tg.efel[0], mean, 1e-9 * fabs(mean));
    cr_assert_float_eq(tg.efel[1], vb.values[0], 1e-9);
    cr_assert_float_eq(tg.efel_sigma[0], fmax(0.5, 0.1 * mean), 1e-12, "the default sigma: 10 %%, floor 0.5 ms");
    nf__fit_tgt_free(&tg);
    nf_features_destroy(fx);
    nf__fit_obj_free(&ob);
}

/* A cell whose sweeps differ in length and sample interval: one engine call
 * per shape in each generation, one parameter set, every sweep scored on its
 * own grid. */
Test(fit_groups, sweeps_of_different_lengths_and_intervals)
{
    static cell c;
    make_cell("lif6", LIF, 9, 0.5, &c);
    static float v2[(N + 1) / 2], i2[(N + 1) / 2];
    for (int k = 0; k < (N + 1) / 2; k++) { /* sweep 4 at 0.2 ms */
        v2[k] = c.v[4][2 * k];
        i2[k] = c.i[4][2 * k];
    }
    nf_fit_target t[S];
    memcpy(t, c.t, sizeof t);
    t[3].n = 3001;
    t[4] = (nf_fit_target){.name = "coarse", .v = v2, .i = i2, .n = (N + 1) / 2, .dt_ms = 0.2};
    const char *models[] = {"lif6"};
    nf_fit_options o = opts(models, 1, 1500);
    nf_fit_group g = {.name = "mixed", .sweeps = ALL, .test = MID_OUT, .n_sweeps = S};
    nf_fit_result *r = NULL;
    cr_assert_eq(nf_fit_groups(t, S, &g, 1, &o, &r), NF_OK, "%s", nf_errmsg());
    const nf_fit_record *rec = &r->records[0];
    cr_assert(rec->valid);
    cr_assert_eq(rec->n_sweeps, S);
    for (int j = 0; j < 5; j++)
        cr_assert_lt(fabs(rec->params[j] - LIF[j]) / fabs(LIF[j]), 0.1, "%s: %g, truth %g", rec->model->params[j].name,
                     rec->params[j], LIF[j]);
    cr_assert_gt(rec->sweeps[4].gamma, 0.8, "the coarse sweep: Gamma %g", rec->sweeps[4].gamma);
    cr_assert_gt(rec->test.gamma, 0.8, "held out: Gamma %g", rec->test.gamma);
    /* each sweep's trace on its own grid: the coarse one follows its recording */
    double d = 0;
    for (int k = 1000; k < 1200; k++)
        d += fabs(rec->sweeps[4].trace[k] - v2[k]) / 200;
    cr_assert_lt(d, 5.0, "mean |V - recording| %g mV", d);
    nf_fit_result_destroy(r);
}

/* Repeated sweeps (the same current, other noise): the intrinsic
 * reliability Gamma_int is the Gamma between their recorded spikes, and the
 * held-out Gamma is also reported over it. */
Test(fit_groups, intrinsic_reliability_of_repeated_sweeps)
{
    static cell a, b;
    make_cell("lif6", LIF, 11, 0.5, &a);
    make_cell("lif6", LIF, 12, 3.0, &b); /* noisier repeats: some spikes move */
    nf_fit_target t[4] = {a.t[1], a.t[3], b.t[1], b.t[3]};
    const int sw[4] = {0, 1, 2, 3};
    const uint8_t test[4] = {0, 0, 0, 1};
    const char *models[] = {"lif6"};
    nf_fit_options o = opts(models, 1, 300);
    nf_fit_group g = {.name = "repeats", .sweeps = sw, .test = test, .n_sweeps = 4};
    nf_fit_result *r = NULL;
    cr_assert_eq(nf_fit_groups(t, 4, &g, 1, &o, &r), NF_OK, "%s", nf_errmsg());
    nf__fit_obj ob;
    cr_assert_eq(nf__fit_obj_init(&o, &ob), NF_OK);
    nf__fit_tgt p[4];
    for (int k = 0; k < 4; k++)
        cr_assert_eq(nf__fit_prepare_target(&t[k], k, o.threshold_mV, 0, &ob, NULL, &p[k]), NF_OK);
    double g13 = nf_score_gamma(p[1].spikes, p[1].n_spikes, p[3].spikes, p[3].n_spikes, p[1].duration, 2.0);
    double g31 = nf_score_gamma(p[3].spikes, p[3].n_spikes, p[1].spikes, p[1].n_spikes, p[3].duration, 2.0);
    double g02 = nf_score_gamma(p[0].spikes, p[0].n_spikes, p[2].spikes, p[2].n_spikes, p[0].duration, 2.0);
    double g20 = nf_score_gamma(p[2].spikes, p[2].n_spikes, p[0].spikes, p[0].n_spikes, p[2].duration, 2.0);
    double want = (g02 + g20 + g13 + g31) / 4;
    cr_assert(isfinite(r->groups[0].gamma_int));
    cr_assert_float_eq(r->groups[0].gamma_int, want, 1e-12, "Gamma_int %g, the pairs' mean %g", r->groups[0].gamma_int,
                       want);
    const nf_fit_scores *ts = &r->records[0].test;
    cr_assert_float_eq(ts->gamma_norm, ts->gamma / want, 1e-12);
    for (int k = 0; k < 4; k++)
        nf__fit_tgt_free(&p[k]);
    nf__fit_obj_free(&ob);
    nf_fit_result_destroy(r);
    /* without repeats there is none */
    nf_fit_result *r2 = NULL;
    nf_fit_group g2 = {.name = "steps", .sweeps = ALL, .n_sweeps = 3};
    cr_assert_eq(nf_fit_groups(a.t, S, &g2, 1, &o, &r2), NF_OK, "%s", nf_errmsg());
    cr_assert(isnan(r2->groups[0].gamma_int));
    cr_assert(isnan(r2->records[0].train.gamma_norm));
    nf_fit_result_destroy(r2);
}
