/* nf_fit: recovery of known parameters, model ranking, determinism,
 * checkpoint/resume equivalence, outputs, bad input. */
#include "neurofit/fit.h"
#include "neurofit/npy.h"
#include "nf_test_util.h"
#include "fit/fit_internal.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* a fit's objectives with nothing beyond the three weights (prepare_target reads the cut and eFEL list) */
static const nf__fit_obj nft_ob0;

/* A synthetic recording: model `name` with params under a current protocol
 * (a -amp/3 pA hyperpolarising step from 20 to 120 ms, which shows the passive
 * properties, then amp pA from 150 ms to 20 ms before the end), dt ms, n
 * samples, plus Gaussian noise of sd noise_mV. */
static void synth(const char *name, const float *params, double amp, double dt, int64_t n, double noise_mV,
                  uint64_t seed, float *v, float *I)
{
    const nf_model *m = nf_model_find(name);
    cr_assert(m);
    for (int64_t k = 0; k < n; k++)
        I[k] = k * dt >= 20.0 && k * dt < 120.0                       ? (float)(-amp / 3)
               : (k * dt >= 150.0 && k * dt < (n - 1) * dt - 20.0) ? (float)amp
                                                                     : 0.0f;
    nf_engine *e = NULL;
    cr_assert_eq(nf_engine_create(NF_BACKEND_CPU, 1, &e), NF_OK);
    nf_batch b = {.model = m, .n_sims = 1, .n_steps = n, .dt_ms = dt, .params = params,
                  .stim = {.waves = I, .n_waves = 1}, .voltage = v, .record_every = 1};
    cr_assert_eq(nf_engine_run(e, &b), NF_OK, "%s", nf_errmsg());
    nf_engine_destroy(e);
    nft_add_noise(v, n, noise_mV, &seed);
}

/* Combined score of one parameter set against a target, as nf_fit scores it
 * (nf_fit_score: the fit's own scorer on a held-out sweep). */
static double score_of(const char *name, const float *params, const nf_fit_target *t, const nf_fit_options *o)
{
    const nf_model *m = nf_model_find(name);
    double p[64];
    for (int j = 0; j < m->n_params; j++)
        p[j] = params[j];
    nf_fit_candidate c = {.model = name, .params = p};
    nf_fit_result *r = NULL;
    cr_assert_eq(nf_fit_score(t, 1, &c, 1, o, &r), NF_OK, "%s", nf_errmsg());
    double sc = r->records[0].sweeps[0].combined;
    cr_assert_eq(sc, r->records[0].test.combined, "one sweep: its score is the joint score");
    nf_fit_result_destroy(r);
    return sc;
}

/* lif6 traces never peak (the sample that crosses V_th is set to V_res):
 * the default threshold finds their spikes as resets. A threshold below
 * V_th would count the subthreshold approach after the step's end as a
 * spike that the generating parameters never fire. */
static nf_fit_options opts(const char *const *models, int n_models, int64_t budget)
{
    return nft_fit_options(models, n_models, budget, 11);
}

Test(fit, recovers_lif6_parameters_from_a_noisy_step_recording)
{
    enum { N = 4001 };
    static float v[N], I[N];
    const float truth[6] = {130.0f, 8.0f, -70.0f, -53.0f, -74.0f, 2.5f};
    synth("lif6", truth, 300.0, 0.1, N, 0.5, 3, v, I);
    nf_fit_target t = {.name = "synthetic lif6", .v = v, .i = I, .n = N, .dt_ms = 0.1};
    const char *models[] = {"lif6"};
    nf_fit_options o = opts(models, 1, 20000);
    nf_fit_result *r = NULL;
    cr_assert_eq(nf_fit(&t, 1, &o, &r), NF_OK, "%s", nf_errmsg());
    const nf_fit_record *rec = &r->records[0];
    cr_assert(rec->valid);
    /* the optimiser did its job: it scores at least as well as the truth */
    double s_true = score_of("lif6", truth, &t, &o);
    cr_assert_leq(rec->combined, s_true * 1.02, "fit %g, truth %g", rec->combined, s_true);
    cr_assert_gt(rec->gamma, 0.95, "gamma %g, rmse %g, %lld evals, stop: %s, C=%g gL=%g EL=%g Vth=%g Vres=%g tref=%g", rec->gamma, rec->rmse_mV, (long long)rec->evals, rec->stop_reason, rec->params[0], rec->params[1], rec->params[2], rec->params[3], rec->params[4], rec->params[5]);
    cr_assert_lt(rec->rmse_mV, 1.0, "rmse %g mV (noise 0.5 mV), %lld evals, stop: %s, C=%g gL=%g EL=%g Vth=%g Vres=%g tref=%g", rec->rmse_mV, (long long)rec->evals, rec->stop_reason, rec->params[0], rec->params[1], rec->params[2], rec->params[3], rec->params[4], rec->params[5]);
    /* t_ref acts in whole 0.1 ms steps, so it is known to a few per cent only:
     * median error over the parameters < 3 %, every parameter < 20 % */
    double rel[6];
    for (int j = 0; j < 6; j++) {
        rel[j] = fabs(rec->params[j] - truth[j]) / fabs(truth[j]);
        cr_assert_lt(rel[j], 0.20, "%s: fitted %g, true %g (combined %g, %lld evals, %d restarts, %s)", rec->model->params[j].name, rec->params[j], truth[j], rec->combined, (long long)rec->evals, rec->restarts, rec->stop_reason);
    }
    for (int a = 0; a < 6; a++)
        for (int b = a + 1; b < 6; b++)
            if (rel[b] < rel[a]) {
                double x = rel[a];
                rel[a] = rel[b];
                rel[b] = x;
            }
    cr_assert_lt(0.5 * (rel[2] + rel[3]), 0.03, "median relative error %g", 0.5 * (rel[2] + rel[3]));
    cr_assert_gt(rec->evals, 100);
    cr_assert_leq(rec->evals, 20000 + 400);
    cr_assert(rec->n_convergence > 5 && rec->convergence[rec->n_convergence - 1] <= rec->convergence[0]);
    nf_fit_result_destroy(r);
}

Test(fit, adapting_cell_ranks_adapting_model_above_lif)
{
    enum { N = 5001 };
    static float v[N], I[N];
    /* Izhikevich regular-spiking cell: strong spike-frequency adaptation */
    const nf_model *izh = nf_model_find("izhikevich");
    float p[16];
    nf_model_defaults(izh, p);
    synth("izhikevich", p, 200.0, 0.1, N, 0.3, 5, v, I);
    nf_fit_target t = {.name = "rs cell", .v = v, .i = I, .n = N, .dt_ms = 0.1};
    const char *models[] = {"lif6", "izhikevich"};
    nf_fit_options o = opts(models, 2, 2500);
    o.threshold_mV = -20.0; /* Izhikevich spikes peak at v_peak */
    nf_fit_result *r = NULL;
    cr_assert_eq(nf_fit(&t, 1, &o, &r), NF_OK, "%s", nf_errmsg());
    cr_assert_str_eq(r->records[0].model->name, "izhikevich", "ranked first: %s (%g vs %g)",
                     r->records[0].model->name, r->records[0].combined, r->records[1].combined);
    cr_assert_eq(r->records[0].rank, 1);
    cr_assert_eq(r->records[1].rank, 2);
    cr_assert_lt(r->records[0].combined, r->records[1].combined);
    nf_fit_result_destroy(r);
}

/* Several recordings in one batch, different lengths (two engine groups). */
static void two_recordings(float *v1, float *i1, float *v2, float *i2, nf_fit_target *t)
{
    const float a[6] = {160.0f, 12.0f, -68.0f, -55.0f, -72.0f, 3.0f};
    const float b[6] = {110.0f, 6.0f, -75.0f, -52.0f, -78.0f, 1.5f};
    synth("lif6", a, 350.0, 0.1, 2001, 0.5, 1, v1, i1);
    synth("lif6", b, 250.0, 0.2, 1501, 0.5, 2, v2, i2);
    t[0] = (nf_fit_target){.name = "a", .v = v1, .i = i1, .n = 2001, .dt_ms = 0.1};
    t[1] = (nf_fit_target){.name = "b", .v = v2, .i = i2, .n = 1501, .dt_ms = 0.2};
}

static void same_results(const nf_fit_result *x, const nf_fit_result *y)
{
    cr_assert_eq(x->n_targets * x->n_models, y->n_targets * y->n_models);
    for (int k = 0; k < x->n_targets * x->n_models; k++) {
        const nf_fit_record *a = &x->records[k], *b = &y->records[k];
        cr_assert_eq(a->model, b->model);
        cr_assert_eq(a->evals, b->evals);
        cr_assert_eq(memcmp(a->params, b->params, sizeof(float) * a->model->n_params), 0,
                     "record %d (%s) differs", k, a->model->name);
        cr_assert_eq(a->combined, b->combined);
        cr_assert_eq(a->n_convergence, b->n_convergence);
    }
    /* the counts too: a resumed fit reports the whole fit's, as an uninterrupted one */
    cr_assert_eq(x->sims, y->sims, "simulations %lld against %lld", (long long)x->sims, (long long)y->sims);
    cr_assert_eq(x->neuron_steps, y->neuron_steps, "neuron-steps %g against %g", x->neuron_steps, y->neuron_steps);
}

/* Every field of two records of the same (recording, model) fit, bit for bit. */
static void same_record(const nf_fit_record *a, const nf_fit_record *b, int64_t n)
{
    const char *m = a->model->name;
    cr_assert_eq(a->model, b->model, "%s vs %s", m, b->model->name);
    cr_assert_eq(a->rank, b->rank, "%s: rank %d vs %d", m, a->rank, b->rank);
    cr_assert_eq(memcmp(a->params, b->params, sizeof(float) * (size_t)a->model->n_params), 0, "%s: parameters", m);
    const double x[] = {a->rmse_mV, a->nrmse, a->feature_error, a->gamma, a->combined};
    const double y[] = {b->rmse_mV, b->nrmse, b->feature_error, b->gamma, b->combined};
    cr_assert_eq(memcmp(x, y, sizeof x), 0, "%s: scores (combined %.17g vs %.17g)", m, a->combined, b->combined);
    cr_assert_eq(a->n_features, b->n_features, "%s", m);
    cr_assert_eq(memcmp(a->features_model, b->features_model, sizeof a->features_model), 0, "%s", m);
    cr_assert_eq(memcmp(a->features_target, b->features_target, sizeof a->features_target), 0, "%s", m);
    cr_assert_eq(memcmp(a->has_model, b->has_model, sizeof a->has_model), 0, "%s", m);
    cr_assert_eq(a->evals, b->evals, "%s: %lld vs %lld evaluations", m, (long long)a->evals, (long long)b->evals);
    cr_assert_eq(a->generations, b->generations, "%s", m);
    cr_assert_eq(a->restarts, b->restarts, "%s", m);
    cr_assert_str_eq(a->stop_reason, b->stop_reason, "%s", m);
    cr_assert_eq(a->n_convergence, b->n_convergence, "%s", m);
    cr_assert_eq(memcmp(a->convergence, b->convergence, sizeof(double) * (size_t)a->n_convergence), 0, "%s", m);
    cr_assert_eq(memcmp(a->trace, b->trace, sizeof(float) * (size_t)n), 0, "%s: trace", m);
    cr_assert_eq(a->valid, b->valid, "%s", m);
}

/* A recording's fit depends on that recording alone, not on the others that
 * share its batch (which the MPI layer relies on when it shares recordings
 * out across ranks): A fitted alone and A fitted between B (same grid, many
 * more spikes, so a larger spike buffer) and C (another grid) give A the same
 * records bit for bit, through the survey and a refinement whose groups of
 * leading models differ, with the stochastic slif among the models (its
 * noise is keyed by the simulation's index in an engine call; from the
 * defaults, so that every candidate has noise). */
Test(fit, a_recordings_fit_is_independent_of_the_other_recordings)
{
    enum { NA = 8001, NC = 1501 };
    static float va[NA], ia[NA], vb[NA], ib[NA], vc[NC], ic[NC];
    const float pa[6] = {160.0f, 12.0f, -68.0f, -55.0f, -72.0f, 3.0f};
    const float pb[6] = {90.0f, 5.0f, -62.0f, -50.0f, -75.0f, 1.0f};
    const float pc[6] = {110.0f, 6.0f, -75.0f, -52.0f, -78.0f, 1.5f};
    synth("lif6", pa, 250.0, 0.1, NA, 0.5, 1, va, ia);
    synth("lif6", pb, 900.0, 0.1, NA, 0.5, 2, vb, ib);
    synth("lif6", pc, 250.0, 0.2, NC, 0.5, 3, vc, ic);
    nf_fit_target a = {.name = "a", .v = va, .i = ia, .n = NA, .dt_ms = 0.1};
    nf_fit_target three[3] = {{.name = "b", .v = vb, .i = ib, .n = NA, .dt_ms = 0.1}, a,
                              {.name = "c", .v = vc, .i = ic, .n = NC, .dt_ms = 0.2}};
    const char *models[] = {"lif6", "slif", "adex"};
    nf_fit_options o = opts(models, 3, 300);
    o.refine_k = 1;
    o.guess = 0; /* from the defaults: slif's noise (sigma 2 mV) is in every candidate */
    nf_fit_result *alone = NULL, *among = NULL;
    cr_assert_eq(nf_fit(&a, 1, &o, &alone), NF_OK, "%s", nf_errmsg());
    cr_assert_eq(nf_fit(three, 3, &o, &among), NF_OK, "%s", nf_errmsg());
    /* the leading models differ between the recordings: more than one refinement group */
    int lead_differs = among->records[0].model != among->records[3].model ||
                       among->records[0].model != among->records[6].model;
    cr_assert(lead_differs, "every recording led by %s: the refinement groups are not exercised",
              among->records[0].model->name);
    cr_assert_eq(memcmp(&alone->targets[0], &among->targets[1], sizeof alone->targets[0]), 0);
    for (int k = 0; k < 3; k++)
        same_record(&alone->records[k], &among->records[3 + k], NA);
    nf_fit_result_destroy(alone);
    nf_fit_result_destroy(among);
}

Test(fit, deterministic_for_a_seed_and_any_thread_count)
{
    static float v1[2001], i1[2001], v2[1501], i2[1501];
    nf_fit_target t[2];
    two_recordings(v1, i1, v2, i2, t);
    const char *models[] = {"lif6", "adex"};
    nf_fit_options o = opts(models, 2, 600);
    nf_fit_result *r1 = NULL, *r2 = NULL;
    o.threads = 1;
    cr_assert_eq(nf_fit(t, 2, &o, &r1), NF_OK, "%s", nf_errmsg());
    o.threads = 2;
    cr_assert_eq(nf_fit(t, 2, &o, &r2), NF_OK, "%s", nf_errmsg());
    same_results(r1, r2);
    nf_fit_result_destroy(r1);
    nf_fit_result_destroy(r2);
}

static int stop_after(const nf_fit_progress *p, void *user)
{
    int *calls = user;
    return ++*calls == 7; /* interrupt in the middle of the second model */
}

static int stop_at; /* stop_after_n: interrupt at this call (-1: never, count only) */
static int stop_after_n(const nf_fit_progress *p, void *user)
{
    (void)p;
    int *calls = user;
    return ++*calls == stop_at;
}

Test(fit, resume_after_interruption_gives_the_uninterrupted_result)
{
    static float v1[2001], i1[2001], v2[1501], i2[1501];
    nf_fit_target t[2];
    two_recordings(v1, i1, v2, i2, t);
    const char *models[] = {"izhikevich", "lif6"};
    nf_fit_options o = opts(models, 2, 300);
    nf_fit_result *ref = NULL, *res = NULL;
    cr_assert_eq(nf_fit(t, 2, &o, &ref), NF_OK, "%s", nf_errmsg());

    char dir[] = "/tmp/nf_fit_ckpt_XXXXXX";
    cr_assert(mkdtemp(dir));
    int calls = 0;
    o.checkpoint_dir = dir;
    o.progress = stop_after;
    o.progress_user = &calls;
    cr_assert_eq(nf_fit(t, 2, &o, &res), NF_EINTERRUPTED);
    cr_assert_null(res);
    cr_assert(strstr(nf_errmsg(), "resume"), "%s", nf_errmsg());
    o.progress = NULL;
    o.resume = 1;
    cr_assert_eq(nf_fit(t, 2, &o, &res), NF_OK, "%s", nf_errmsg());
    same_results(ref, res);
    nf_fit_result_destroy(res);

    /* a state.json whose snapshot names anything but a snapshot of this fit
     * (here a directory outside the checkpoint) is refused, and nothing is
     * removed */
    o.progress = stop_after;
    o.resume = 0;
    calls = 0;
    cr_assert_eq(nf_fit(t, 2, &o, &res), NF_EINTERRUPTED);
    char state[600], victim[600], keep[700], text[4096];
    snprintf(state, sizeof state, "%s/state.json", dir);
    snprintf(victim, sizeof victim, "%s_victim", dir);
    snprintf(keep, sizeof keep, "%s/keep.txt", victim);
    cr_assert_eq(mkdir(victim, 0777), 0);
    FILE *fp = fopen(keep, "w");
    cr_assert_not_null(fp);
    fclose(fp);
    fp = fopen(state, "r");
    cr_assert_not_null(fp);
    size_t len = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    text[len] = 0;
    char *sn = strstr(text, "\"snapshot\": \"");
    cr_assert_not_null(sn, "%s", text);
    sn += strlen("\"snapshot\": \"");
    char crafted[4096];
    snprintf(crafted, sizeof crafted, "%.*s../%s\"}\n", (int)(sn - text), text, strrchr(victim, '/') + 1);
    fp = fopen(state, "w");
    fputs(crafted, fp);
    fclose(fp);
    o.progress = NULL;
    o.resume = 1;
    cr_assert_eq(nf_fit(t, 2, &o, &res), NF_EFORMAT, "%s", nf_errmsg());
    cr_assert(strstr(nf_errmsg(), "not a snapshot name"), "%s", nf_errmsg());
    cr_assert_eq(access(keep, F_OK), 0, "a file outside the checkpoint was removed");
    unlink(keep);
    rmdir(victim);
    /* the name is quoted printable */
    snprintf(crafted, sizeof crafted, "%.*sm0_g\\u001b[2J\"}\n", (int)(sn - text), text);
    fp = fopen(state, "w");
    fputs(crafted, fp);
    fclose(fp);
    cr_assert_eq(nf_fit(t, 2, &o, &res), NF_EFORMAT, "%s", nf_errmsg());
    cr_assert(strstr(nf_errmsg(), "\"m0_g\\x1b[2J\" is not a snapshot name"), "%s", nf_errmsg());

    /* a checkpoint of another run is refused */
    o.seed = 12;
    cr_assert_eq(nf_fit(t, 2, &o, &res), NF_EINVAL);
    cr_assert(strstr(nf_errmsg(), "different run"), "%s", nf_errmsg());
    nf_fit_result_destroy(ref);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

/* A checkpoint of neurofit's earlier format (version 2: one model at a
 * time, its snapshot m<model>_g<generations>) cannot say where the other
 * models' searches were: --resume refuses it, saying so, and removes nothing. */
Test(fit, a_checkpoint_of_the_earlier_format_is_refused)
{
    static float v1[2001], i1[2001], v2[1501], i2[1501];
    nf_fit_target t[2];
    two_recordings(v1, i1, v2, i2, t);
    const char *models[] = {"lif6", "adex"};
    nf_fit_options o = opts(models, 2, 300);
    o.refine_k = 0;
    char dir[] = "/tmp/nf_fit_v2_XXXXXX", path[600], snap[600];
    cr_assert(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/state.json", dir);
    snprintf(snap, sizeof snap, "%s/m1_g12", dir);
    cr_assert_eq(mkdir(snap, 0777), 0);
    FILE *fp = fopen(path, "w");
    cr_assert_not_null(fp);
    fputs("{\"format\": \"neurofit-fit-checkpoint\", \"version\": 2, \"fingerprint\": \"0123456789abcdef\",\n"
          " \"model_index\": 1, \"snapshot\": \"m1_g12\", \"simulations\": 100, \"neuron_steps\": 1e5}\n",
          fp);
    fclose(fp);
    o.checkpoint_dir = dir;
    o.resume = 1;
    nf_fit_result *r = NULL;
    cr_assert_eq(nf_fit(t, 2, &o, &r), NF_EFORMAT, "%s", nf_errmsg());
    cr_assert(strstr(nf_errmsg(), "earlier neurofit (checkpoint version 2") && strstr(nf_errmsg(), "--force"), "%s",
              nf_errmsg());
    cr_assert_eq(access(path, F_OK), 0);
    cr_assert_eq(access(snap, F_OK), 0);
    /* without --resume the fit starts afresh */
    o.resume = 0;
    cr_assert_eq(nf_fit(t, 2, &o, &r), NF_OK, "%s", nf_errmsg());
    nf_fit_result_destroy(r);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

/* Survey then refine: the survey is the one-pass fit with the survey's
 * budget; each recording's two leading models get the rest of the budget and
 * keep the better fit, the trailing model keeps its survey. */
Test(fit, survey_then_refine_the_leading_models)
{
    static float v1[2001], i1[2001], v2[1501], i2[1501];
    nf_fit_target t[2];
    two_recordings(v1, i1, v2, i2, t);
    const char *models[] = {"lif6", "adex", "izhikevich"};
    nf_fit_options o = opts(models, 3, 400);
    o.refine_k = 2;
    nf_fit_result *r = NULL, *again = NULL, *survey = NULL;
    cr_assert_eq(nf_fit(t, 2, &o, &r), NF_OK, "%s", nf_errmsg());
    o.threads = 1;
    cr_assert_eq(nf_fit(t, 2, &o, &again), NF_OK, "%s", nf_errmsg());
    same_results(r, again);
    nf_fit_options os = o;
    os.refine_k = 0;
    os.budget = 200;
    cr_assert_eq(nf_fit(t, 2, &os, &survey), NF_OK, "%s", nf_errmsg());
    for (int tg = 0; tg < 2; tg++) {
        const nf_fit_record *row = &r->records[tg * 3], *srow = &survey->records[tg * 3];
        for (int k = 0; k < 3; k++) {
            cr_assert_eq(row[k].rank, k + 1);
            if (k > 0)
                cr_assert_leq(row[k - 1].combined, row[k].combined);
            const nf_fit_record *sv = NULL;
            int lead = 0;
            for (int j = 0; j < 3; j++)
                if (srow[j].model == row[k].model) {
                    sv = &srow[j];
                    lead = j < 2;
                }
            cr_assert(sv);
            if (lead) { /* 200 + 200 * 3 / 2 more evaluations, at least as good */
                cr_assert_geq(row[k].evals, sv->evals + 300, "%s: %lld evaluations", row[k].model->name,
                              (long long)row[k].evals);
                cr_assert_leq(row[k].combined, sv->combined);
                cr_assert_gt(row[k].n_convergence, sv->n_convergence);
            } else {
                cr_assert_eq(row[k].evals, sv->evals);
                cr_assert_eq(row[k].combined, sv->combined);
            }
        }
    }
    nf_fit_result_destroy(again);
    nf_fit_result_destroy(survey);

    /* interrupted in the survey or in the refinement, resumed: the same result */
    int total = 0;
    o.progress = stop_after_n;
    stop_at = -1;
    o.progress_user = &total;
    cr_assert_eq(nf_fit(t, 2, &o, &again), NF_OK, "%s", nf_errmsg());
    nf_fit_result_destroy(again);
    int at[2] = {3, total - 2};
    for (int c = 0; c < 2; c++) {
        char dir[] = "/tmp/nf_fit_refine_XXXXXX";
        cr_assert(mkdtemp(dir));
        int calls = 0;
        stop_at = at[c];
        o.progress_user = &calls;
        o.checkpoint_dir = dir;
        o.resume = 0;
        cr_assert_eq(nf_fit(t, 2, &o, &again), NF_EINTERRUPTED, "stop at call %d of %d", at[c], total);
        o.progress = NULL;
        o.resume = 1;
        cr_assert_eq(nf_fit(t, 2, &o, &again), NF_OK, "%s", nf_errmsg());
        same_results(r, again);
        nf_fit_result_destroy(again);
        o.progress = stop_after_n;
        char cmd[512];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        cr_assert_eq(system(cmd), 0);
    }
    nf_fit_result_destroy(r);

    o.survey_fraction = 1.0;
    cr_assert_eq(nf_fit(t, 2, &o, &r), NF_EINVAL);
    cr_assert(strstr(nf_errmsg(), "survey"), "%s", nf_errmsg());
    o.survey_fraction = 0.5;
    o.refine_k = -1;
    cr_assert_eq(nf_fit(t, 2, &o, &r), NF_EINVAL);
}

Test(fit, substeps_when_the_recording_is_coarser_than_the_model_step)
{
    /* hh needs steps <= its dt_max; a 0.2 ms recording runs several substeps */
    const nf_model *hh = nf_model_find("hh");
    cr_assert_lt(hh->dt_max_ms, 0.2);
    enum { N = 1001 };
    static float v[N], I[N];
    float p[32];
    nf_model_defaults(hh, p);
    /* ground truth on a fine grid, sampled every 0.2 ms */
    const int k = nf_fit_substeps(hh, 0.2);
    int64_t nf = (N - 1) * k + 1;
    float *vf = malloc(sizeof(float) * nf), *If = malloc(sizeof(float) * nf);
    synth("hh", p, 0.0, 0.2 / k, nf, 0.0, 1, vf, If);
    for (int64_t s = 0; s < nf; s++)
        If[s] = (s / k) * 0.2 >= 20.0 && (s / k) * 0.2 < 180.0 ? 400.0f : 0.0f;
    nf_engine *e = NULL;
    cr_assert_eq(nf_engine_create(NF_BACKEND_CPU, 1, &e), NF_OK);
    nf_batch b = {.model = hh, .n_sims = 1, .n_steps = nf, .dt_ms = 0.2 / k, .params = p,
                  .stim = {.waves = If, .n_waves = 1}, .voltage = vf, .record_every = 1};
    cr_assert_eq(nf_engine_run(e, &b), NF_OK, "%s", nf_errmsg());
    nf_engine_destroy(e);
    for (int j = 0; j < N; j++) {
        v[j] = vf[(int64_t)j * k];
        I[j] = If[(int64_t)j * k];
    }
    nf_fit_target t = {.name = "hh coarse", .v = v, .i = I, .n = N, .dt_ms = 0.2};
    const char *models[] = {"hh"};
    /* 15,000 evaluations: at seeds 1-20 every fit then ends within 5.2 mV
     * RMSE; at 6,000, 2-3 of 20 seeds stopped at 9-17 mV (with gamma 1) */
    nf_fit_options o = opts(models, 1, 15000);
    o.threshold_mV = -20.0;
    nf_fit_result *r = NULL;
    cr_assert_eq(nf_fit(&t, 1, &o, &r), NF_OK, "%s", nf_errmsg());
    /* the sub-stepped model reproduces the coarse recording: spikes matched,
     * the voltage within a few mV (a spike that is off by one sample costs
     * tens of mV at one sample, so the RMSE bound is loose) */
    const nf_fit_record *rec = &r->records[0];
    cr_assert(rec->valid);
    cr_assert_gt(rec->gamma, 0.8, "gamma %g, rmse %g mV, combined %g", rec->gamma, rec->rmse_mV, rec->combined);
    cr_assert_lt(rec->rmse_mV, 8.0, "rmse %g mV", rec->rmse_mV);
    for (int j = 0; j < N; j++)
        cr_assert(isfinite(rec->trace[j]));
    nf_fit_result_destroy(r);
    free(vf);
    free(If);
}

Test(fit, writes_json_csv_npy_and_report)
{
    static float v1[2001], i1[2001], v2[1501], i2[1501];
    nf_fit_target t[2];
    two_recordings(v1, i1, v2, i2, t);
    const char *models[] = {"lif6", "adex", "izhikevich"};
    nf_fit_options o = opts(models, 3, 200);
    nf_fit_result *r = NULL;
    cr_assert_eq(nf_fit(t, 2, &o, &r), NF_OK, "%s", nf_errmsg());
    char dir[] = "/tmp/nf_fit_out_XXXXXX";
    cr_assert(mkdtemp(dir));
    o.top_k = 2;
    cr_assert_eq(nf_fit_write(r, t, &o, 1, dir), NF_OK, "%s", nf_errmsg());
    char path[256];
    snprintf(path, sizeof path, "%s/model_traces.npy", dir);
    cr_assert_eq(access(path, F_OK), 0, "all_traces writes model_traces.npy");
    /* a later set without it leaves no stale model_traces.npy, and a file
     * that is not the fit's stays */
    snprintf(path, sizeof path, "%s/notes.txt", dir);
    FILE *fp = fopen(path, "w");
    cr_assert_not_null(fp);
    fputs("mine", fp);
    fclose(fp);
    cr_assert_eq(nf_fit_write(r, t, &o, 0, dir), NF_OK, "%s", nf_errmsg());
    cr_assert_eq(access(path, F_OK), 0, "a file that is not the fit's is kept");
    snprintf(path, sizeof path, "%s/model_traces.npy", dir);
    cr_assert_neq(access(path, F_OK), 0, "a stale model_traces.npy survived");
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import json,csv,numpy as np; d='%s'; j=json.load(open(d+'/results.json')); "
             "assert len(j['recordings'])==2; assert all(len(r['top'])==2 for r in j['recordings']); "
             "t=j['recordings'][0]['top'][0]; assert t['rank']==1 and 'C_m' in t['params'] or t['model']!='lif6'; "
             "assert t['combined_score'] <= j['recordings'][0]['top'][1]['combined_score']; "
             "rows=list(csv.DictReader(open(d+'/results.csv'))); assert len(rows)==6, len(rows); "
             "a=np.load(d+'/best_traces.npy'); assert a.shape==(2,2001), a.shape; "
             "assert np.isnan(a[1,1501:]).all() and np.isfinite(a[1,:1501]).all(); "
             "h=open(d+'/report.html').read(); assert h.count('<svg')>=6\"",
             dir);
    cr_assert_eq(system(cmd), 0, "outputs do not load as documented");
    nf_fit_result_destroy(r);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

Test(fit, bad_input_is_a_clear_error)
{
    static float v[100], I[100];
    for (int k = 0; k < 100; k++)
        v[k] = -70.0f;
    nf_fit_target t = {.name = "cell7", .v = v, .i = I, .n = 100, .dt_ms = 0.1};
    const char *models[] = {"lif6"};
    nf_fit_options o = opts(models, 1, 100);
    nf_fit_result *r = NULL;

    v[42] = NAN;
    cr_assert_eq(nf_fit(&t, 1, &o, &r), NF_ENAN);
    cr_assert(strstr(nf_errmsg(), "cell7") && strstr(nf_errmsg(), "42"), "%s", nf_errmsg());
    v[42] = -70.0f;

    t.dt_ms = 0;
    cr_assert_eq(nf_fit(&t, 1, &o, &r), NF_EINVAL);
    cr_assert(strstr(nf_errmsg(), "dt"), "%s", nf_errmsg());
    t.dt_ms = 0.1;

    const char *bad[] = {"lif6", "nosuchmodel"};
    o.models = bad;
    o.n_models = 2;
    cr_assert_eq(nf_fit(&t, 1, &o, &r), NF_ENOMODEL);
    cr_assert(strstr(nf_errmsg(), "nosuchmodel"), "%s", nf_errmsg());
    const char *twice[] = {"lif6", "lif6"};
    o.models = twice;
    cr_assert_eq(nf_fit(&t, 1, &o, &r), NF_EINVAL);
    o.models = models;
    o.n_models = 1;

    o.budget = 0;
    cr_assert_eq(nf_fit(&t, 1, &o, &r), NF_EINVAL);
    o.budget = 100;
    o.popsize = 1;
    cr_assert_eq(nf_fit(&t, 1, &o, &r), NF_EINVAL);
    o.popsize = 0;
    o.bounds = (nf_optim_bounds)3;
    cr_assert_eq(nf_fit(&t, 1, &o, &r), NF_EINVAL);
    cr_assert(strstr(nf_errmsg(), "bounds 3"), "%s", nf_errmsg());
    o.bounds = NF_OPTIM_BOUNDS_REFLECT;
    o.resume = 1;
    cr_assert_eq(nf_fit(&t, 1, &o, &r), NF_EINVAL, "resume without a checkpoint directory");
    o.checkpoint_dir = "/tmp/nf_fit_no_such_ckpt_dir_for_test";
    cr_assert_eq(nf_fit(&t, 1, &o, &r), NF_ENOTFOUND);
    rmdir(o.checkpoint_dir);
    o.resume = 0;
    o.checkpoint_dir = NULL;
    t.n = 5;
    cr_assert_eq(nf_fit(&t, 1, &o, &r), NF_EINVAL);
    cr_assert_null(r);
}

/* A start at the generating parameters with a small step keeps a short
 * search next to the truth and far better than the same search from the
 * defaults; a recording's own start wins over the one for every recording. */
Test(fit, a_start_point_steers_the_search)
{
    enum { N = 5001 };
    static float v[N], I[N];
    const nf_model *adex = nf_model_find("adex");
    float p[16];
    nf_model_defaults(adex, p);
    p[0] = 200.0f;  /* C */
    p[1] = 12.0f;   /* g_L */
    p[5] = 300.0f;  /* tau_w */
    p[7] = 150.0f;  /* b */
    synth("adex", p, 500.0, 0.1, N, 0.5, 3, v, I);
    nf_fit_target t = {.name = "adex cell", .v = v, .i = I, .n = N, .dt_ms = 0.1};
    const char *models[] = {"adex"};
    nf_fit_options o = opts(models, 1, 320);
    double truth = score_of("adex", p, &t, &o);

    nf_fit_result *r0 = NULL, *r1 = NULL, *r2 = NULL;
    o.guess = 0; /* from the model's defaults */
    cr_assert_eq(nf_fit(&t, 1, &o, &r0), NF_OK, "%s", nf_errmsg());

    double at[16], away[16];
    for (int j = 0; j < adex->n_params; j++) {
        at[j] = p[j];
        away[j] = adex->params[j].lo + 0.9 * (adex->params[j].hi - adex->params[j].lo);
    }
    nf_fit_start st = {.model = "adex", .target = -1, .params = at};
    o.starts = &st;
    o.n_starts = 1;
    o.start_sigma = 0.01;
    cr_assert_eq(nf_fit(&t, 1, &o, &r1), NF_OK, "%s", nf_errmsg());
    /* a small step keeps the search at its start; the defaults are far away */
    for (int j = 0; j < adex->n_params; j++) {
        double w = adex->params[j].hi - adex->params[j].lo;
        cr_assert_lt(fabs(r1->records[0].params[j] - p[j]), 0.05 * w, "%s: %g from the truth %g",
                     adex->params[j].name, r1->records[0].params[j], p[j]);
    }
    cr_assert_lt(r1->records[0].combined, 0.5 * r0->records[0].combined, "from the truth %g, from the defaults %g",
                 r1->records[0].combined, r0->records[0].combined);
    cr_assert_gt(r1->records[0].combined, 0.5 * truth, "%g against the truth's %g", r1->records[0].combined, truth);

    nf_fit_start two[2] = {{.model = "adex", .target = -1, .params = away},
                           {.model = "adex", .target = 0, .params = at}};
    o.starts = two;
    o.n_starts = 2;
    cr_assert_eq(nf_fit(&t, 1, &o, &r2), NF_OK, "%s", nf_errmsg());
    cr_assert_eq(r2->records[0].combined, r1->records[0].combined, "the recording's own start");
    for (int j = 0; j < adex->n_params; j++)
        cr_assert_eq(r2->records[0].params[j], r1->records[0].params[j]);
    nf_fit_result_destroy(r0);
    nf_fit_result_destroy(r1);
    nf_fit_result_destroy(r2);
}

Test(fit, bad_start_points_are_a_clear_error)
{
    enum { N = 2001 };
    static float v[N], I[N];
    const nf_model *lif = nf_model_find("lif6");
    float p[8];
    nf_model_defaults(lif, p);
    synth("lif6", p, 300.0, 0.1, N, 0.5, 4, v, I);
    nf_fit_target t = {.name = "cell", .v = v, .i = I, .n = N, .dt_ms = 0.1};
    const char *models[] = {"lif6"};
    nf_fit_options o = opts(models, 1, 64);
    double x[8];
    for (int j = 0; j < lif->n_params; j++)
        x[j] = p[j];
    nf_fit_start st = {.model = "adex", .target = -1, .params = x};
    o.starts = &st;
    o.n_starts = 1;
    nf_fit_result *r = NULL;
    cr_assert_eq(nf_fit(&t, 1, &o, &r), NF_EINVAL);
    cr_assert(strstr(nf_errmsg(), "\"adex\"") && strstr(nf_errmsg(), "not among"), "%s", nf_errmsg());
    st.model = "lif6";
    st.target = 1;
    cr_assert_eq(nf_fit(&t, 1, &o, &r), NF_EINVAL);
    cr_assert(strstr(nf_errmsg(), "recording 1 of 1"), "%s", nf_errmsg());
    st.target = 0;
    x[1] = 1e6; /* g_L */
    cr_assert_eq(nf_fit(&t, 1, &o, &r), NF_EINVAL);
    cr_assert(strstr(nf_errmsg(), "g_L") && strstr(nf_errmsg(), "outside"), "%s", nf_errmsg());
    x[1] = NAN;
    cr_assert_eq(nf_fit(&t, 1, &o, &r), NF_EINVAL);
    x[1] = p[1];
    o.start_sigma = 0;
    cr_assert_eq(nf_fit(&t, 1, &o, &r), NF_EINVAL);
    cr_assert(strstr(nf_errmsg(), "step size"), "%s", nf_errmsg());
    o.start_sigma = 0.1;
    st.sigma = 1.5; /* a start's own step */
    cr_assert_eq(nf_fit(&t, 1, &o, &r), NF_EINVAL);
    cr_assert(strstr(nf_errmsg(), "step size 1.5"), "%s", nf_errmsg());
    st.sigma = 0;
    st.params = NULL;
    cr_assert_eq(nf_fit(&t, 1, &o, &r), NF_EINVAL);
    st.params = x;
    o.starts = NULL;
    cr_assert_eq(nf_fit(&t, 1, &o, &r), NF_EINVAL);
    cr_assert_null(r);
    o.starts = &st;
    cr_assert_eq(nf_fit(&t, 1, &o, &r), NF_OK, "%s", nf_errmsg());
    nf_fit_result_destroy(r);
}

/* Models that report threshold crossings (hh, fhn, morris_lecar,
 * hindmarsh_rose) are timed against the recording's crossings, models that
 * reset against its peaks: either way the truth matches its own spikes. */
Test(fit, the_truth_matches_its_own_spikes_for_both_spike_conventions)
{
    const char *names[] = {"morris_lecar", "fhn", "hindmarsh_rose", "hh", "izhikevich"};
    for (size_t q = 0; q < sizeof names / sizeof names[0]; q++) {
        const nf_model *m = nf_model_find(names[q]);
        cr_assert(m);
        cr_assert_eq(nf__fit_spikes_at_crossing(m), q < 4, "%s", names[q]);
        /* simulate at the model's own step, a long depolarising step */
        const double dt = m->dt_max_ms;
        const int64_t n = (int64_t)(1500.0 / dt) + 1;
        float *v = malloc(sizeof(float) * n), *I = malloc(sizeof(float) * n), p[64];
        nf_model_defaults(m, p);
        for (int64_t k = 0; k < n; k++)
            I[k] = k * dt >= 100 && k * dt < 1400 ? (float)(1.2 * m->drive_pA) : 0.0f;
        nf_engine *e = NULL;
        cr_assert_eq(nf_engine_create(NF_BACKEND_CPU, 1, &e), NF_OK);
        nf_batch b = {.model = m, .n_sims = 1, .n_steps = n, .dt_ms = dt, .params = p,
                      .stim = {.waves = I, .n_waves = 1}, .voltage = v, .record_every = 1, .v_detect_mV = -20};
        cr_assert_eq(nf_engine_run(e, &b), NF_OK, "%s", nf_errmsg());
        nf_engine_destroy(e);
        nf_fit_target t = {.name = names[q], .v = v, .i = I, .n = n, .dt_ms = dt};
        nf_fit_options o = opts(NULL, 0, 1);
        o.threshold_mV = -20;
        const nf_model *mm = m;
        nf__fit_tgt tg;
        cr_assert_eq(nf__fit_prepare_target(&t, 0, -20, nf__fit_spikes_at_crossing(mm), &nft_ob0, NULL, &tg), NF_OK);
        cr_assert_geq(tg.n_spikes, 3, "%s fires %d spikes", names[q], tg.n_spikes);
        nf__fit_tgt_free(&tg);
        double sc = score_of(names[q], p, &t, &o);
        cr_assert_lt(sc, 0.05, "%s: the truth scores %g on its own recording", names[q], sc);
        free(v);
        free(I);
    }
}

/* lif6 recordings never show a sample above V_th: at the default -20 mV
 * threshold their spikes are found as resets, one per model spike. */
Test(fit, resets_count_as_spikes_when_no_sample_reaches_the_threshold)
{
    enum { N = 4001 };
    static float v[N], I[N];
    const float truth[6] = {130.0f, 8.0f, -70.0f, -53.0f, -74.0f, 2.5f};
    synth("lif6", truth, 300.0, 0.1, N, 0.5, 3, v, I);
    nf_fit_target t = {.name = "lif6", .v = v, .i = I, .n = N, .dt_ms = 0.1};
    nf__fit_tgt tg;
    cr_assert_eq(nf__fit_prepare_target(&t, 0, -20.0, 0, &nft_ob0, NULL, &tg), NF_OK);
    /* the model's own count, from the engine */
    int32_t cnt = 0;
    nf_engine *e = NULL;
    cr_assert_eq(nf_engine_create(NF_BACKEND_CPU, 1, &e), NF_OK);
    nf_batch b = {.model = nf_model_find("lif6"), .n_sims = 1, .n_steps = N, .dt_ms = 0.1, .params = truth,
                  .stim = {.waves = I, .n_waves = 1}, .spike_counts = &cnt};
    cr_assert_eq(nf_engine_run(e, &b), NF_OK);
    nf_engine_destroy(e);
    cr_assert_gt(cnt, 10);
    cr_assert_eq(tg.n_spikes, cnt, "found %d resets, the model spiked %d times", tg.n_spikes, cnt);
    nf__fit_tgt_free(&tg);
    nf_fit_options o = opts(NULL, 0, 1);
    o.threshold_mV = -20.0;
    double sc = score_of("lif6", truth, &t, &o);
    cr_assert_lt(sc, 0.2, "the truth scores %g", sc);
    /* a jump of V at a current step is not a spike */
    static float vj[N], Ij[N];
    for (int k = 0; k < N; k++) {
        Ij[k] = k >= 1000 && k < 3000 ? 500.0f : 0.0f;
        vj[k] = -70.0f + (k >= 1000 && k < 3000 ? 15.0f : 0.0f); /* bridge error, 30 MOhm */
    }
    nf_fit_target tj = {.name = "jump", .v = vj, .i = Ij, .n = N, .dt_ms = 0.1};
    cr_assert_eq(nf__fit_prepare_target(&tj, 0, -20.0, 0, &nft_ob0, NULL, &tg), NF_OK);
    cr_assert_eq(tg.n_spikes, 0);
    nf__fit_tgt_free(&tg);
}

Test(fit, spike_features_and_missing_values)
{
    double val[NF_FIT_N_FEATURES];
    uint8_t has[NF_FIT_N_FEATURES];
    const float t[] = {5.0f, 110.0f, 130.0f, 160.0f, 200.0f, 400.0f};
    nf_fit_spike_features(t, 6, 100.0, 300.0, val, has);
    cr_assert_eq(val[NF_FIT_F_spike_count], 6);
    cr_assert_float_eq(val[NF_FIT_F_time_to_first_spike], 10.0, 1e-9);
    cr_assert_float_eq(val[NF_FIT_F_time_to_last_spike], 100.0, 1e-9);
    cr_assert_float_eq(val[NF_FIT_F_mean_frequency], 1000.0 * 4 / 100.0, 1e-9);
    /* ISIs in the window 20, 30, 40: mean 30, sd 10 */
    cr_assert_float_eq(val[NF_FIT_F_ISI_CV], 10.0 / 30.0, 1e-9);
    cr_assert_float_eq(val[NF_FIT_F_adaptation_index], ((30.0 - 20) / 50 + (40.0 - 30) / 70) / 2, 1e-9);
    nf_fit_spike_features(t, 1, 0.0, 300.0, val, has);
    cr_assert(has[NF_FIT_F_spike_count] && has[NF_FIT_F_time_to_first_spike]);
    cr_assert(!has[NF_FIT_F_ISI_CV] && !has[NF_FIT_F_adaptation_index], "one spike: no ISI statistics");
    nf_fit_spike_features(NULL, 0, 0.0, 300.0, val, has);
    cr_assert(has[NF_FIT_F_spike_count] && val[NF_FIT_F_spike_count] == 0);
    cr_assert(!has[NF_FIT_F_time_to_first_spike]);
}

/* synth() for any model: sub-steps of dt / nf_fit_substeps with the current
 * held over each sample, as nf_fit simulates. */
static void synth_sampled(const char *name, const float *params, double amp, double dt, int64_t n, double noise_mV,
                          uint64_t seed, float *v, float *I)
{
    const nf_model *m = nf_model_find(name);
    int k = nf_fit_substeps(m, dt);
    if (k == 1) {
        synth(name, params, amp, dt, n, noise_mV, seed, v, I);
        return;
    }
    synth(name, params, amp, dt, n, 0.0, seed, v, I); /* the protocol into I */
    int64_t nf = (n - 1) * k + 1;
    float *If = malloc(sizeof(float) * nf);
    cr_assert(If);
    for (int64_t q = 0; q < nf; q++)
        If[q] = I[q / k];
    nf_engine *e = NULL;
    cr_assert_eq(nf_engine_create(NF_BACKEND_CPU, 1, &e), NF_OK);
    nf_batch b = {.model = m, .n_sims = 1, .n_steps = nf, .dt_ms = dt / k, .params = params,
                  .stim = {.waves = If, .n_waves = 1}, .voltage = v, .record_every = k};
    cr_assert_eq(nf_engine_run(e, &b), NF_OK, "%s", nf_errmsg());
    nf_engine_destroy(e);
    free(If);
    for (int64_t q = 0; q < n; q += 2) {
        double u1 = nft_uniform(&seed), u2 = nft_uniform(&seed);
        double r = sqrt(-2 * log(1 - u1)) * noise_mV;
        v[q] += (float)(r * cos(2 * M_PI * u2));
        if (q + 1 < n)
            v[q + 1] += (float)(r * sin(2 * M_PI * u2));
    }
}

/* nf_fit_guess reads the parameters that shape the subthreshold trace off a
 * noisy recording (0.5 mV): within a few per cent of their range. */
Test(fit, guesses_read_the_parameters_off_the_recording)
{
    enum { N = 7001 };
    static float v[N], I[N];
    static const struct {
        const char *model;
        double amp_x;        /* x the model's drive */
        const char *set[4];  /* parameters moved off their defaults */
        double to[4];
        const char *checked; /* within tol of the bound width */
        double tol;
    } cases[] = {
        {"lif6", 1.5, {"C_m", "g_L", "t_ref"}, {170, 8, 2.0}, "C_m g_L E_L V_th V_res", 0.03},
        {"adex", 1.5, {"C", "g_L", "b"}, {200, 12, 150}, "C g_L E_L V_T b V_r", 0.05},
        {"izhikevich", 1.5, {"C", "k", "d"}, {150, 1.2, 60}, "C k v_r c", 0.05},
        {"hh", 1.5, {"C", "g_L", "V_T"}, {150, 20, -60}, "C g_L E_L V_T", 0.05},
        {"eif", 1.5, {"C", "g_L"}, {200, 15}, "C g_L E_L V_T V_r", 0.05},
        {"qif", 1.5, {"C", "k"}, {150, 1.2}, "C k V_r V_t V_reset", 0.05},
        {"lapicque", 1.5, {"C", "g_L"}, {200, 15}, "C g_L E_L V_th V_res", 0.05},
        {"glif1", 1.5, {"C", "g"}, {150, 8}, "C g E_L V_th", 0.05},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const nf_model *m = nf_model_find(cases[c].model);
        float p[32];
        nf_model_defaults(m, p);
        for (int q = 0; q < 4 && cases[c].set[q]; q++)
            for (int j = 0; j < m->n_params; j++)
                if (!strcmp(m->params[j].name, cases[c].set[q]))
                    p[j] = (float)cases[c].to[q];
        synth_sampled(m->name, p, m->drive_pA * cases[c].amp_x, 0.1, N, 0.5, 21 + c, v, I);
        nf_fit_target t = {.name = "guess", .v = v, .i = I, .n = N, .dt_ms = 0.1};
        double g[32];
        int found = 0;
        cr_assert_eq(nf_fit_guess(m, &t, -20.0, g, &found), NF_OK, "%s", nf_errmsg());
        cr_assert_eq(found, 1, "%s: no guess", m->name);
        for (int j = 0; j < m->n_params; j++) {
            const nf_param_info *pi = &m->params[j];
            cr_assert(g[j] >= pi->lo && g[j] <= pi->hi, "%s %s = %g outside the bounds", m->name, pi->name, g[j]);
            char key[40];
            snprintf(key, sizeof key, " %s ", pi->name);
            char list[120];
            snprintf(list, sizeof list, " %s ", cases[c].checked);
            if (strstr(list, key))
                cr_assert_lt(fabs(g[j] - p[j]), cases[c].tol * (pi->hi - pi->lo), "%s %s: guess %g, truth %g",
                             m->name, pi->name, g[j], p[j]);
        }
    }
    /* lif6's refractory period: the change point after each reset, to a sample or two */
    const nf_model *lif = nf_model_find("lif6");
    float p[8];
    nf_model_defaults(lif, p);
    p[5] = 2.0f;
    synth("lif6", p, lif->drive_pA * 1.5, 0.1, N, 0.5, 5, v, I);
    nf_fit_target t = {.name = "lif", .v = v, .i = I, .n = N, .dt_ms = 0.1};
    double g[8];
    int found = 0;
    cr_assert_eq(nf_fit_guess(lif, &t, -20.0, g, &found), NF_OK);
    cr_assert(found);
    cr_assert_lt(fabs(g[5] - 2.0), 0.25, "t_ref %g", g[5]);
}

Test(fit, a_model_or_recording_without_a_guess_keeps_the_defaults)
{
    enum { N = 3001 };
    static float v[N], I[N];
    const nf_model *adex = nf_model_find("adex"), *qif = nf_model_find("morris_lecar");
    cr_assert(adex && qif); /* (morris_lecar: no regression guess) */
    float p[16];
    nf_model_defaults(adex, p);
    synth("adex", p, adex->drive_pA * 1.5, 0.1, N, 0.5, 7, v, I);
    nf_fit_target t = {.name = "cell", .v = v, .i = I, .n = N, .dt_ms = 0.1};
    double g[32];
    int found = -1;
    cr_assert_eq(nf_fit_guess(qif, &t, -20.0, g, &found), NF_OK);
    cr_assert_eq(found, 0);
    for (int j = 0; j < qif->n_params; j++)
        cr_assert_eq(g[j], fmin(fmax(qif->params[j].def, qif->params[j].lo), qif->params[j].hi));
    /* a NaN sample: no guess (nf_fit itself rejects the recording), never a crash */
    v[100] = NAN;
    cr_assert_eq(nf_fit_guess(adex, &t, -20.0, g, &found), NF_OK);
    cr_assert_eq(found, 0);
    v[100] = -70.0f;
    /* a flat trace with no current: nothing to regress on */
    for (int k = 0; k < N; k++) {
        v[k] = -70.0f;
        I[k] = 0.0f;
    }
    cr_assert_eq(nf_fit_guess(adex, &t, -20.0, g, &found), NF_OK);
    cr_assert_eq(found, 0);
    cr_assert_eq(nf_fit_guess(NULL, &t, -20.0, g, &found), NF_EINVAL);
    cr_assert_eq(nf_fit_guess(adex, &t, -20.0, NULL, &found), NF_EINVAL);
}

/* With the guess (the default) a short search begins where the recording
 * points, and the start itself is evaluated: the fit is at least as good as
 * the guess and far better than the same search from the defaults. */
Test(fit, the_guess_starts_the_search_near_the_truth)
{
    enum { N = 7001 };
    static float v[N], I[N];
    const nf_model *izh = nf_model_find("izhikevich");
    float p[16];
    nf_model_defaults(izh, p);
    p[0] = 150.0f; /* C */
    p[1] = 1.2f;   /* k */
    p[7] = 60.0f;  /* d */
    synth("izhikevich", p, izh->drive_pA * 1.5, 0.1, N, 0.5, 9, v, I);
    nf_fit_target t = {.name = "izh", .v = v, .i = I, .n = N, .dt_ms = 0.1};
    const char *models[] = {"izhikevich"};
    nf_fit_options o = opts(models, 1, 64);
    double g[16];
    int found = 0;
    cr_assert_eq(nf_fit_guess(izh, &t, o.threshold_mV, g, &found), NF_OK);
    cr_assert(found);
    float gf[16];
    for (int j = 0; j < izh->n_params; j++)
        gf[j] = (float)g[j];
    double at_guess = score_of("izhikevich", gf, &t, &o);
    nf_fit_result *r1 = NULL, *r0 = NULL;
    cr_assert_eq(nf_fit(&t, 1, &o, &r1), NF_OK, "%s", nf_errmsg());
    o.guess = 0;
    cr_assert_eq(nf_fit(&t, 1, &o, &r0), NF_OK, "%s", nf_errmsg());
    double s1 = r1->records[0].combined, s0 = r0->records[0].combined;
    cr_assert_leq(s1, at_guess * (1 + 1e-6), "fit %g, the guess itself %g", s1, at_guess);
    cr_assert_lt(s1, 0.5 * s0, "from the guess %g, from the defaults %g", s1, s0);
    o.guess = 2;
    nf_fit_result *r2 = NULL;
    cr_assert_eq(nf_fit(&t, 1, &o, &r2), NF_EINVAL);
    cr_assert(strstr(nf_errmsg(), "guess"), "%s", nf_errmsg());
    o.guess = 1;
    o.guess_sigma = 0;
    cr_assert_eq(nf_fit(&t, 1, &o, &r2), NF_EINVAL);
    cr_assert(strstr(nf_errmsg(), "guess_sigma"), "%s", nf_errmsg());
    cr_assert_null(r2);
    nf_fit_result_destroy(r0);
    nf_fit_result_destroy(r1);
}

/* The CUDA backend fits like the CPU one (issue 5: "CPU and CUDA give the
 * same ranking"): float arithmetic differs in the last bits, so the searches
 * drift apart, but on recordings whose models are well separated the
 * ranking is the same and the best scores are close. Skipped without a
 * device. */
Test(fit, cuda_and_cpu_rank_the_models_alike)
{
    if (!nf_cuda_available())
        cr_skip_test("no CUDA device (build without nvcc, or no GPU on this machine)");
    enum { N = 7001 };
    static float v[2][N], I[2][N];
    const nf_model *adex = nf_model_find("adex"), *lif = nf_model_find("lif6");
    float pa[16], pl[8];
    nf_model_defaults(adex, pa);
    nf_model_defaults(lif, pl);
    synth("adex", pa, adex->drive_pA * 1.5, 0.1, N, 0.5, 31, v[0], I[0]);
    synth("lif6", pl, lif->drive_pA * 1.5, 0.1, N, 0.5, 32, v[1], I[1]);
    nf_fit_target t[2] = {{.name = "adex", .v = v[0], .i = I[0], .n = N, .dt_ms = 0.1},
                          {.name = "lif6", .v = v[1], .i = I[1], .n = N, .dt_ms = 0.1}};
    const char *models[] = {"lif6", "adex", "izhikevich"};
    nf_fit_options o = opts(models, 3, 3000);
    nf_fit_result *rc = NULL, *rg = NULL;
    cr_assert_eq(nf_fit(t, 2, &o, &rc), NF_OK, "%s", nf_errmsg());
    o.backend = NF_BACKEND_CUDA;
    cr_assert_eq(nf_fit(t, 2, &o, &rg), NF_OK, "%s", nf_errmsg());
    cr_assert_eq(rg->backend, NF_BACKEND_CUDA);
    for (int r = 0; r < 2; r++) {
        const nf_fit_record *a = &rc->records[(size_t)r * 3], *b = &rg->records[(size_t)r * 3];
        cr_assert_str_eq(a[0].model->name, t[r].name, "cpu: %s first on the %s recording", a[0].model->name, t[r].name);
        cr_assert_str_eq(b[0].model->name, t[r].name, "cuda: %s first on the %s recording", b[0].model->name, t[r].name);
        cr_assert_lt(fabs(a[0].combined - b[0].combined), 0.25 * a[0].combined + 0.01, "best %g (cpu) against %g (cuda)",
                     a[0].combined, b[0].combined);
    }
    nf_fit_result_destroy(rc);
    nf_fit_result_destroy(rg);
}

/* nf_fit_guess on arbitrary traces (noise, spikes every sample, flat
 * stretches, coarse and fine grids) for every model: never a crash or a
 * non-finite value; a guess, when there is one, inside the bounds. */
Test(fit, guesses_survive_arbitrary_traces)
{
    enum { N = 3000 };
    static float v[N], I[N];
    uint64_t seed = 77;
    const double dts[] = {0.02, 0.1, 1.0};
    for (int c = 0; c < 12; c++) {
        for (int k = 0; k < N; k++) {
            double u = nft_uniform(&seed);
            switch (c % 4) {
            case 0: v[k] = (float)(-100 + 150 * u); break;                   /* noise */
            case 1: v[k] = (k % 2) ? 20.0f : -70.0f; break;                  /* a spike every other sample */
            case 2: v[k] = k < N / 2 ? -65.0f : (float)(-65 + 30 * u); break; /* flat, then noise */
            default: v[k] = (float)(-60 + 5 * sin(k * 0.01) + (k % 300 == 0 ? -40 : 0)); break;
            }
            I[k] = (float)((c & 1) ? 100 * (nft_uniform(&seed) - 0.5) : (k > N / 3 ? 200 : 0));
        }
        nf_fit_target t = {.name = "junk", .v = v, .i = I, .n = N, .dt_ms = dts[c % 3]};
        for (int mi = 0; mi < nf_model_count(); mi++) {
            const nf_model *m = nf_model_at(mi);
            double g[64];
            int found = -1;
            cr_assert_eq(nf_fit_guess(m, &t, -20.0, g, &found), NF_OK, "%s: %s", m->name, nf_errmsg());
            cr_assert(found == 0 || found == 1);
            for (int j = 0; j < m->n_params; j++)
                cr_assert(isfinite(g[j]) && g[j] >= m->params[j].lo && g[j] <= m->params[j].hi,
                          "case %d, %s %s = %g", c, m->name, m->params[j].name, g[j]);
        }
    }
}
