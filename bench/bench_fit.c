/* bench_fit: parameter recovery and model selection with nf_fit (issue 5).
 *
 * For each chosen model, R synthetic recordings (default 20) from parameters
 * drawn uniformly inside the fitting bounds (nf_model_sample_uniform), under
 * one protocol: rest, a hyperpolarising step (-A/3 pA, 20-120 ms), a
 * depolarising step (A pA, 150-400 ms), and an Ornstein-Uhlenbeck stimulus
 * (mean 0.7 A, sd 0.3 A, tau 5 ms, 450-680 ms; frozen, part of the recorded
 * current), 700 ms at dt = 0.1 ms, plus 0.5 mV Gaussian measurement noise.
 * A is the model's drive_pA times 1, 1.5 or 2.5 (the first that makes >= 3
 * spikes in the step). Models whose dt_max is below 0.1 ms are simulated with
 * k sub-steps per sample, the current held over the sample, as nf_fit does.
 *
 * Parameter sets are rejected when the simulation is invalid, there are < 3
 * spikes in the step for every A, > 150 spikes (runaway), a spike before the
 * step (spontaneous firing), or when the spike count the fit will detect in
 * the noisy trace differs from the model's own count (the detection threshold
 * is chosen blind, see threshold_of).
 *
 * Two passes of nf_fit (CMA-ES with the fit's defaults), one call per
 * recording (the spike threshold is a per-call option and here the
 * recording's own):
 * - recovery: each recording fitted with its generating model, --budget
 *   evaluations (default 3000): per parameter the median relative error, the
 *   fraction within 2 %, and the fitted score over the truth's score (<= 1:
 *   the search did its job, remaining errors are the landscape's);
 * - selection: every chosen model on every recording, --select-budget
 *   evaluations each (default 1000, the same for every model, so the
 *   generating model has no head start): how often it ranks first, and the
 *   confusion table.
 * Throughput of each pass: fits per minute, neuron-steps per second, and the
 * engine's share (engine-only time of the same simulations, measured apart).
 *
 *   bench_fit [--models a,b,...|all] [--recordings R] [--budget B]
 *             [--select-budget B] [--seed S] [--threads T] [--quick] [--no-select]
 *             [--popsize P] [--optimizer cmaes|de|shade] [--per-recording]
 *             [--bounds reflect|resample|transform] [--refine K] [--survey F]
 *             [--no-recovery] [--guess 0|1] [--guess-sigma S] [--start-sigma S]
 *             [--guess-report]
 *
 * --guess-report prints nf_fit_guess's error against the generating
 * parameters for every recording (no fitting needed); --guess 0 fits from
 * the models' defaults. NF_BENCH_NOISE=mV in the environment replaces the
 * 0.5 mV measurement noise (e.g. 0 to separate noise bias from model error).
 *
 * Default models: lif6, adex, izhikevich, hh. --quick: 3 recordings of lif6
 * and izhikevich, budgets 600/300 (a smoke run, seconds). */
#include "neurofit/engine.h"
#include "neurofit/fit.h"
#include "neurofit/model.h"
#include "fit/fit_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DT 0.1
#define DURATION 700.0
#define MAX_MODELS 32
#define MAX_SPK 512


static int g_popsize = -1;                         /* --popsize (-1: nf_fit's default) */
static nf_optim_bounds g_bounds;                   /* --bounds, when g_bounds_set */
static int g_bounds_set = 0;
static int g_per_recording = 0;                    /* --per-recording: each fit's terms and parameters on stderr */
static double g_noise_mV = 0.5;   /* measurement noise (NF_BENCH_NOISE in the environment) */
static int g_guess = -1;          /* --guess 0|1 (nf_fit guess; -1: its default) */
static double g_start_sigma = 0; /* --start-sigma S (0: nf_fit's default) */
static double g_guess_sigma = 0; /* --guess-sigma S (0: nf_fit's default) */
static int g_refine_k = -1;    /* --refine K: the selection pass refines the K leading models (nf_fit refine_k;
                                  -1: nf_fit's default, 2; 0: one pass, as every run before 2026-12-02) */
static double g_survey = 0.5;  /* --survey F: the survey's share of the budget */
static nf_optim_kind g_optimizer = NF_OPTIM_CMAES; /* --optimizer cmaes|de|shade */
static double clock_s(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* splitmix64: the bench's own noise, independent of the engine's streams */
static uint64_t next_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double uniform01(uint64_t *s) { return ((double)(next_u64(s) >> 11) + 0.5) * 0x1.0p-53; }
static double gauss(uint64_t *s) { return sqrt(-2 * log(uniform01(s))) * cos(2 * M_PI * uniform01(s)); }

typedef struct {
    const nf_model *m;
    int gen;           /* index of the generating model in the chosen list */
    float params[32];
    double amp, thr;
    float *v, *i;
    int64_t n;
    int spikes;
} rec_t;

/* The protocol's current for amplitude amp: steps plus a frozen OU stretch. */
static void protocol(double amp, uint64_t seed, float *I, int64_t n)
{
    const double tau = 5.0, mean = 0.7 * amp, sd = 0.3 * amp;
    const double a = exp(-DT / tau), b = sd * sqrt(1 - a * a);
    double x = sd * gauss(&seed);
    for (int64_t k = 0; k < n; k++) {
        double t = k * DT;
        double c = 0;
        if (t >= 20 && t < 120)
            c = -amp / 3;
        else if (t >= 150 && t < 400)
            c = amp;
        else if (t >= 450 && t < 680) {
            c = mean + x;
            x = a * x + b * gauss(&seed);
        }
        I[k] = (float)c;
    }
}

static int cmp_f(const void *x, const void *y)
{
    float a = *(const float *)x, b = *(const float *)y;
    return (a > b) - (a < b);
}

/* Spike detection threshold, chosen from the trace alone (the same rule for
 * every recording, whatever generated it). A trace with spike peaks (maximum
 * above -10 mV) uses halfway between its median and its maximum, at most
 * -20 mV. Reset models without a spike shape (lif6 and kin) never show a peak
 * in the sampled trace: the sample that crosses V_th is already the reset
 * value, so their last sample before a reset is just below V_th and the
 * threshold is the maximum minus 3 mV (6 sd of the measurement noise). */
static double threshold_of(const float *v, int64_t n)
{
    float *c = malloc(sizeof(float) * n);
    memcpy(c, v, sizeof(float) * n);
    qsort(c, n, sizeof(float), cmp_f);
    double med = c[n / 2], mx = c[n - 1];
    free(c);
    if (mx < -10)
        return mx - 3.0;
    double thr = med + 0.5 * (mx - med);
    return thr < -20 ? thr : -20;
}

/* Spikes the fit will see in a trace: upward crossings of thr, one per
 * excursion above thr - 5 mV (the hysteresis of nf_fit's target preparation). */
static int count_spikes(const float *v, int64_t n, double thr, double before_ms, int *n_before)
{
    int c = 0;
    *n_before = 0;
    for (int64_t k = 1; k < n; k++) {
        if (!(v[k - 1] < thr && v[k] >= thr))
            continue;
        if (k * DT < before_ms)
            (*n_before)++;
        c++;
        while (k + 1 < n && v[k + 1] >= thr - 5.0)
            k++;
    }
    return c;
}

typedef struct {
    int invalid, silent, runaway, spontaneous, detect;
} reject_t;

/* Count a rejected draw: why 1 silent, 2 invalid, 3 runaway, 4 spontaneous. */
static void reject(reject_t *rej, int why)
{
    if (why == 1)
        rej->silent++;
    else if (why == 2)
        rej->invalid++;
    else if (why == 3)
        rej->runaway++;
    else
        rej->spontaneous++;
}

/* Simulate model m with params p under amplitude amp; fills v (n samples). */
static int simulate(nf_engine *e, const nf_model *m, const float *p, const float *I, int64_t n, float *v,
                    int *spikes, uint8_t *valid)
{
    int k = nf_fit_substeps(m, DT);
    int64_t nf = (n - 1) * k + 1;
    float *If = malloc(sizeof(float) * nf);
    for (int64_t s = 0; s < nf; s++)
        If[s] = I[s / k];
    float spk[MAX_SPK];
    int32_t cnt = 0;
    nf_batch b = {.model = m, .n_sims = 1, .n_steps = nf, .dt_ms = DT / k, .params = p,
                  .stim = {.waves = If, .n_waves = 1}, .v_detect_mV = -20.0f, .voltage = v,
                  .record_every = k, .spike_times = spk, .max_spikes = MAX_SPK, .spike_counts = &cnt,
                  .valid = valid};
    nf_status st = nf_engine_run(e, &b);
    free(If);
    if (st) {
        fprintf(stderr, "bench_fit: engine: %s\n", nf_errmsg());
        exit(1);
    }
    *spikes = cnt;
    int in_step = 0, before = 0;
    for (int j = 0; j < cnt && j < MAX_SPK; j++) {
        in_step += spk[j] >= 150 && spk[j] < 400;
        before += spk[j] < 150;
    }
    return before > 0 ? -1 : in_step;
}

/* Draw parameters until a recording passes the checks; returns draws used. */
static int make_recording(nf_engine *e, const nf_model *m, uint64_t seed, int64_t *draw, rec_t *r,
                          reject_t *rej)
{
    const int64_t n = (int64_t)(DURATION / DT) + 1;
    r->m = m;
    r->n = n;
    r->v = malloc(sizeof(float) * n);
    r->i = malloc(sizeof(float) * n);
    static const double amps[] = {1.0, 1.5, 2.5};
    for (int tries = 0; tries < 2000; tries++) {
        int64_t d = (*draw)++;
        nf_model_sample_uniform(m, seed, d, 1, r->params);
        int ok = 0, why = 1; /* 1 silent, 2 invalid, 3 runaway, 4 spontaneous */
        for (int ai = 0; ai < 3 && !ok; ai++) {
            double amp = m->drive_pA * amps[ai];
            protocol(amp, seed ^ (uint64_t)(d * 7919 + ai), r->i, n);
            uint8_t valid = 0;
            int total = 0;
            int in_step = simulate(e, m, r->params, r->i, n, r->v, &total, &valid);
            if (!valid) {
                why = 2;
                break;
            }
            if (in_step < 0) {
                why = 4;
                break;
            }
            if (total > 150) {
                why = 3;
                break;
            }
            if (in_step >= 3) {
                ok = 1;
                r->amp = amp;
                r->spikes = total;
            }
        }
        if (!ok) {
            reject(rej, why);
            continue;
        }
        uint64_t ns = seed * 31 + (uint64_t)d;
        for (int64_t k = 0; k < n; k++)
            r->v[k] += (float)(g_noise_mV * gauss(&ns));
        r->thr = threshold_of(r->v, n);
        int before;
        int seen = count_spikes(r->v, n, r->thr, 0, &before);
        if (seen != r->spikes) {
            rej->detect++;
            continue;
        }
        return tries + 1;
    }
    free(r->v);
    free(r->i);
    r->v = r->i = NULL;
    return -1;
}

/* Engine seconds per simulation of model m on recording r, as nf_fit runs
 * it: batches of 16 (about a CMA-ES population), sub-steps, fused scorer
 * against the recording and spike capture; repeated for at least 0.3 s of
 * wall time. Multiplied by the evaluations of the fits, it estimates the
 * engine's share of the pipeline. */
static double engine_s_per_sim(const nf_model *m, const rec_t *r, int threads)
{
    enum { B = 16 };
    nf_engine *e = NULL;
    if (nf_engine_create(NF_BACKEND_CPU, threads, &e))
        return NAN;
    int k = nf_fit_substeps(m, DT);
    int64_t nf = (r->n - 1) * k + 1;
    float *If = malloc(sizeof(float) * nf), *p = malloc(sizeof(float) * B * m->n_params);
    float *spk = malloc(sizeof(float) * B * 256);
    double sse[B];
    int32_t cnt[B];
    uint8_t valid[B];
    for (int64_t s = 0; s < nf; s++)
        If[s] = r->i[s / k];
    nf_model_sample_uniform(m, 99, 0, B, p);
    nf_batch b = {.model = m, .n_sims = B, .n_steps = nf, .dt_ms = DT / k, .params = p,
                  .stim = {.waves = If, .n_waves = 1}, .v_detect_mV = (float)r->thr, .target = r->v,
                  .n_targets = 1, .n_obs = r->n, .obs_every = k, .sse = sse, .spike_times = spk,
                  .max_spikes = 256, .spike_counts = cnt, .valid = valid};
    double t0 = clock_s(CLOCK_MONOTONIC), t;
    int reps = 0;
    do {
        if (nf_engine_run(e, &b))
            break;
        reps++;
    } while ((t = clock_s(CLOCK_MONOTONIC) - t0) < 0.3);
    nf_engine_destroy(e);
    free(If);
    free(p);
    free(spk);
    return reps ? t / (reps * (double)B) : NAN;
}

static int cmp_d(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static double median(double *x, int n)
{
    qsort(x, n, sizeof(double), cmp_d);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

/* ---- the fit passes ------------------------------------------------------ */

typedef struct {
    double *err, *errw;   /* [M*R][32] relative error, error / bound width (generating model) */
    double *ratio;        /* [M*R] generating model's fitted score / the truth's score */
    const char **stop;    /* [M*R] the generating model's optimiser stop reason (static strings) */
    int *restarts;        /* [M*R] its IPOP restarts */
    double *terms;        /* [M*R][6] fit nrmse, feature term, 1 - Gamma; then the truth's */
    int *confusion;       /* [M][M] generating model x ranked first */
    double *model_wall;   /* [M] wall time of the fits of each generating model's recordings */
    int64_t *model_evals; /* [M] evaluations spent on each fitted model */
    double wall, cpu, neuron_steps;
    int64_t sims, fits;
} fit_stats;

static void stats_free(fit_stats *s)
{
    free(s->err);
    free(s->errw);
    free(s->ratio);
    free(s->terms);
    free(s->stop);
    free(s->restarts);
    free(s->confusion);
    free(s->model_wall);
    free(s->model_evals);
}

/* The truth's combined score on its own recording, scored as nf_fit scores
 * a candidate (nf_fit_score: the same scorer, the same sub-stepping). */
static double truth_score(const rec_t *r, const nf_fit_options *o, double *terms)
{
    const nf_model *m = r->m;
    nf_fit_target t = {.name = m->name, .v = r->v, .i = r->i, .n = r->n, .dt_ms = DT};
    double p[64];
    for (int j = 0; j < m->n_params; j++)
        p[j] = r->params[j];
    nf_fit_candidate c = {.model = m->name, .params = p};
    nf_fit_options so = *o;
    so.backend = NF_BACKEND_CPU;
    so.threads = 1;
    nf_fit_result *res = NULL;
    if (nf_fit_score(&t, 1, &c, 1, &so, &res))
        return NAN;
    const nf_fit_sweep *w = &res->records[0].sweeps[0];
    double score = w->combined;
    terms[0] = w->nrmse;
    terms[1] = w->n_features ? w->feature_error / w->n_features : 0;
    terms[2] = 1 - w->gamma;
    nf_fit_result_destroy(res);
    return score;
}

/* Fit every recording: with its generating model (select 0) or with all
 * models (select 1). One nf_fit call per recording: the spike detection
 * threshold is a per-call option, and here it is the recording's own. */
static void run_pass(const rec_t *recs, int M, int R, const nf_model *const *mods, int64_t budget, int select,
                     uint64_t seed, int threads, fit_stats *st)
{
    const char *names[MAX_MODELS];
    for (int g = 0; g < M; g++)
        names[g] = mods[g]->name;
    memset(st, 0, sizeof *st);
    st->err = calloc((size_t)M * R * 32, sizeof(double));
    st->errw = calloc((size_t)M * R * 32, sizeof(double));
    st->ratio = calloc((size_t)M * R, sizeof(double));
    st->terms = calloc((size_t)M * R * 6, sizeof(double));
    st->stop = calloc((size_t)M * R, sizeof(char *));
    st->restarts = calloc((size_t)M * R, sizeof(int));
    st->confusion = calloc((size_t)M * M, sizeof(int));
    st->model_wall = calloc((size_t)M, sizeof(double));
    st->model_evals = calloc((size_t)M, sizeof(int64_t));
    double wall0 = clock_s(CLOCK_MONOTONIC), cpu0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    for (int x = 0; x < M * R; x++) {
        const rec_t *rc = &recs[x];
        nf_fit_target t = {.name = rc->m->name, .v = rc->v, .i = rc->i, .n = rc->n, .dt_ms = DT};
        nf_fit_options o;
        nf_fit_options_default(&o);
        const char *one[1] = {rc->m->name};
        o.models = select ? names : one;
        o.n_models = select ? M : 1;
        o.budget = budget;
        o.backend = NF_BACKEND_CPU;
        o.threads = threads;
        o.seed = seed + (uint64_t)x;
        o.threshold_mV = rc->thr;
        if (g_popsize >= 0)
            o.popsize = g_popsize;
        if (g_bounds_set)
            o.bounds = g_bounds;
        o.optimizer = g_optimizer;
        if (select && g_refine_k >= 0)
            o.refine_k = g_refine_k;
        if (g_guess >= 0)
            o.guess = g_guess;
        if (g_start_sigma > 0)
            o.start_sigma = g_start_sigma;
        if (g_guess_sigma > 0)
            o.guess_sigma = g_guess_sigma;
        o.survey_fraction = g_survey;
        nf_fit_result *res = NULL;
        double w0 = clock_s(CLOCK_MONOTONIC);
        if (nf_fit(&t, 1, &o, &res)) {
            fprintf(stderr, "bench_fit: nf_fit on %s recording %d: %s\n", rc->m->name, x % R, nf_errmsg());
            exit(1);
        }
        st->model_wall[rc->gen] += clock_s(CLOCK_MONOTONIC) - w0;
        st->neuron_steps += res->neuron_steps;
        st->sims += res->sims;
        st->fits += res->n_models;
        const nf_fit_record *gen = NULL;
        int winner = 0;
        for (int k = 0; k < res->n_models; k++)
            for (int g = 0; g < M; g++)
                if (mods[g] == res->records[k].model) {
                    st->model_evals[g] += res->records[k].evals;
                    if (g == rc->gen)
                        gen = &res->records[k];
                    if (k == 0)
                        winner = g;
                }
        st->confusion[rc->gen * M + winner]++;
        double *tm = st->terms + x * 6;
        double truth = truth_score(rc, &o, tm + 3);
        st->ratio[x] = gen->combined / truth;
        if (g_per_recording && select && winner != rc->gen)
            fprintf(stderr, "miss %s #%d won by %s: winner %.4f, generating fit %.4f, truth %.4f\n", rc->m->name,
                    x % R, mods[winner]->name, res->records[0].combined, gen->combined, truth);
        st->stop[x] = gen->stop_reason;
        st->restarts[x] = gen->restarts;
        tm[0] = gen->nrmse;
        tm[1] = gen->n_features ? gen->feature_error / gen->n_features : 0;
        tm[2] = 1 - gen->gamma;
        for (int j = 0; j < rc->m->n_params; j++) {
            const nf_param_info *pi = &rc->m->params[j];
            double d = fabs((double)gen->params[j] - rc->params[j]);
            st->err[x * 32 + j] = d / fmax(fabs(rc->params[j]), 1e-12);
            st->errw[x * 32 + j] = d / (pi->hi - pi->lo);
        }
        if (g_per_recording && !select) {
            fprintf(stderr, "%s #%d ratio %.3f fit nrmse %.4f fe %.4f g %.3f | truth %.4f %.4f %.3f | restarts %d evals %lld\n",
                    rc->m->name, x % R, st->ratio[x], tm[0], tm[1], tm[2], tm[3], tm[4], tm[5], gen->restarts, (long long)gen->evals);
            for (int j = 0; j < rc->m->n_params; j++)
                fprintf(stderr, "   %-8s truth %10.4f fit %10.4f\n", rc->m->params[j].name, rc->params[j], gen->params[j]);
        }
        nf_fit_result_destroy(res);
        if (isatty(2))
            fprintf(stderr, "\rbench_fit: %s pass %d/%d recordings", select ? "selection" : "recovery", x + 1, M * R);
    }
    if (isatty(2))
        fprintf(stderr, "\n");
    st->wall = clock_s(CLOCK_MONOTONIC) - wall0;
    st->cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
}

static void print_recovery(const fit_stats *st, const rec_t *recs, int M, int R, const nf_model *const *mods)
{
    (void)recs;
    printf("\n## Parameter recovery (fit with the generating model)\n\n");
    printf("Fitted score / truth's score: <= 1 means the optimiser found parameters at least as good as "
           "the generating ones (errors then come from the landscape, not the search).\n\n");
    for (int g = 0; g < M; g++) {
        const nf_model *m = mods[g];
        double rt[1024];
        int reached = 0;
        for (int r = 0; r < R; r++) {
            rt[r] = st->ratio[g * R + r];
            reached += rt[r] <= 1.0 + 1e-6;
        }
        double mr = median(rt, R);
        printf("### %s: fit wall time %.1f s for %d recordings; fitted/truth score: median %.3f, max %.3f, "
               "<= 1 in %d/%d\n\n",
               m->name, st->model_wall[g], R, mr, rt[R - 1], reached, R);
        double tt[6][1024];
        for (int q = 0; q < 6; q++)
            for (int r = 0; r < R; r++)
                tt[q][r] = st->terms[(g * R + r) * 6 + q];
        printf("Score terms, median over the recordings (fit / truth): RMSE/sd %.3f / %.3f, "
               "feature error per feature %.3f / %.3f, 1 - Gamma %.3f / %.3f.\n\n",
               median(tt[0], R), median(tt[3], R), median(tt[1], R), median(tt[4], R), median(tt[2], R),
               median(tt[5], R));
        /* how the searches ended: budget, or a stop rule of the last restart */
        const char *seen[16];
        int cnt[16], ns = 0;
        double rs[1024];
        for (int r = 0; r < R; r++) {
            const char *why = st->stop[g * R + r] ? st->stop[g * R + r] : "?";
            rs[r] = st->restarts[g * R + r];
            int k = 0;
            while (k < ns && strcmp(seen[k], why))
                k++;
            if (k == ns && ns < 16) {
                seen[ns] = why;
                cnt[ns++] = 0;
            }
            if (k < ns)
                cnt[k]++;
        }
        printf("Stop reasons:");
        for (int k = 0; k < ns; k++)
            printf("%s %s %d", k ? "," : "", seen[k], cnt[k]);
        printf("; median IPOP restarts %.1f.\n\n", median(rs, R));
        printf("| parameter | unit | bounds | median rel. error | within 2 %% | median error / bound width |\n"
               "|---|---|---|---:|---:|---:|\n");
        for (int j = 0; j < m->n_params; j++) {
            double e1[1024], e2[1024];
            int within = 0;
            for (int r = 0; r < R; r++) {
                e1[r] = st->err[(g * R + r) * 32 + j];
                e2[r] = st->errw[(g * R + r) * 32 + j];
                within += e1[r] <= 0.02;
            }
            double me = median(e1, R), mw = median(e2, R);
            printf("| %s | %s | [%g, %g] | %.2f %% | %d/%d | %.2f %% |\n", m->params[j].name, m->params[j].unit,
                   m->params[j].lo, m->params[j].hi, 100 * me, within, R, 100 * mw);
        }
        printf("\n");
    }
    fflush(stdout);
}

static void print_selection(const fit_stats *st, int M, int R, const nf_model *const *mods, int64_t budget)
{
    int hit = 0;
    printf("\n## Model selection (all %d models compete, budget %lld each; rows: generating model, columns: "
           "ranked first)\n\n| generating \\ first |",
           M, (long long)budget);
    for (int g = 0; g < M; g++)
        printf(" %s |", mods[g]->name);
    printf(" correct |\n|---|");
    for (int g = 0; g <= M; g++)
        printf("---:|");
    printf("\n");
    for (int g = 0; g < M; g++) {
        printf("| %s |", mods[g]->name);
        for (int h = 0; h < M; h++)
            printf(" %d |", st->confusion[g * M + h]);
        printf(" %d/%d |\n", st->confusion[g * M + g], R);
        hit += st->confusion[g * M + g];
    }
    printf("\nGenerating model ranked first: %d/%d = %.1f %% (target >= 90 %%).\n", hit, M * R, 100.0 * hit / (M * R));
    fflush(stdout);
}

static void print_throughput(const fit_stats *st, const char *what, const rec_t *recs, int M, int R,
                             const nf_model *const *mods, int threads)
{
    printf("\n## Throughput, %s (CPU backend)\n\n", what);
    printf("| fits (recording x model) | wall s | process CPU s | fits/min (wall) | simulations | "
           "neuron-steps | neuron-steps/s (wall) | per CPU-second |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    printf("| %lld | %.1f | %.1f | %.1f | %lld | %.3g | %.3g | %.3g |\n", (long long)st->fits, st->wall, st->cpu,
           60.0 * st->fits / st->wall, (long long)st->sims, st->neuron_steps, st->neuron_steps / st->wall,
           st->neuron_steps / st->cpu);
    double eng_s = 0;
    printf("\n| model | evaluations | engine s per simulation | engine s (estimate) |\n|---|---:|---:|---:|\n");
    for (int g = 0; g < M; g++) {
        double per = engine_s_per_sim(mods[g], &recs[g * R], threads);
        eng_s += per * (double)st->model_evals[g];
        printf("| %s | %lld | %.3g | %.1f |\n", mods[g]->name, (long long)st->model_evals[g], per,
               per * (double)st->model_evals[g]);
    }
    printf("\nEngine (simulation + fused scorer, batches of 16, timed apart): about %.0f %% of the fit wall "
           "time; the rest (optimiser, spike features and scores, target preparation, final traces, "
           "batching) about %.0f %%.\n",
           100 * eng_s / st->wall, 100 - 100 * eng_s / st->wall);
    fflush(stdout);
}

/* --guess-report: nf_fit_guess on every recording against the generating
 * parameters: per parameter the median |guess - truth| / bound width and how
 * many are within 5 % of the width. */
static void guess_report(const rec_t *recs, int M, int R, const nf_model *const *mods)
{
    printf("\n## Starting guesses (nf_fit_guess) against the truth\n\n");
    for (int g = 0; g < M; g++) {
        const nf_model *m = mods[g];
        int np = m->n_params, found_n = 0;
        double err[32][1024];
        double t0 = clock_s(CLOCK_MONOTONIC);
        for (int r = 0; r < R && r < 1024; r++) {
            const rec_t *x = &recs[g * R + r];
            nf_fit_target t = {.name = "guess", .v = x->v, .i = x->i, .n = x->n, .dt_ms = DT};
            double p[64];
            int found = 0;
            if (nf_fit_guess(m, &t, x->thr, p, &found)) {
                fprintf(stderr, "bench_fit: guess: %s\n", nf_errmsg());
                exit(1);
            }
            found_n += found;
            for (int j = 0; j < np; j++)
                err[j][r] = fabs(p[j] - x->params[j]) / (m->params[j].hi - m->params[j].lo);
            if (g_per_recording) {
                fprintf(stderr, "%s #%d found %d:", m->name, r, found);
                for (int j = 0; j < np; j++)
                    fprintf(stderr, " %s %.4g/%.4g", m->params[j].name, p[j], x->params[j]);
                fprintf(stderr, "\n");
            }
        }
        double el = clock_s(CLOCK_MONOTONIC) - t0;
        int RR = R < 1024 ? R : 1024;
        printf("%s: found %d/%d, %.1f ms per recording\n\n| parameter | median err / width | within 5 %% |\n|---|---:|---:|\n",
               m->name, found_n, RR, 1e3 * el / RR);
        for (int j = 0; j < np; j++) {
            int in = 0;
            for (int r = 0; r < RR; r++)
                in += err[j][r] <= 0.05;
            printf("| %s | %.4f | %d/%d |\n", m->params[j].name, median(err[j], RR), in, RR);
        }
        printf("\n");
    }
    fflush(stdout);
}

/* ---- cell mode (--cells R): one parameter set per cell across 8 sweeps --------------------- */

/* A synthetic cell: one parameter set of its model under CELL_SW sweeps of
 * 500 ms at dt 0.1 ms (0.5 mV noise each): steps of CELL_AMP x A pA from 50
 * to 350 ms (two hyperpolarising, five depolarising) and a frozen
 * Ornstein-Uhlenbeck current (mean A, sd 0.5 A, tau 5 ms, 50-450 ms). A is
 * the model's drive_pA times 1, 1.5 or 2.5: the first that makes >= 3 spikes
 * in the A step. Fitted on 6 sweeps; the 0.75 A step and the noise sweep
 * (CELL_TEST) held out. Rejected as the recordings mode rejects: invalid,
 * silent, > 150 spikes in a sweep, a spike before 50 ms, or a sweep whose
 * spike count the fit's own detection (at the blind threshold of the 2 A
 * step's trace, and resets) does not see. */
#define CELL_SW 8
#define CELL_N 5001
static const double CELL_AMP[CELL_SW - 1] = {-0.5, -0.25, 0.5, 0.75, 1.0, 1.5, 2.0};
static const uint8_t CELL_TEST[CELL_SW] = {0, 0, 0, 1, 0, 0, 0, 1};

static const char *g_weights = NULL; /* --weights SPEC (nf_fit_weights_parse) */
static double g_window = 0;          /* --window MS (0: nf_fit's default) */
static double g_cut = -1;            /* --rmse-cut MS (-1: nf_fit's default) */
static const char *g_efel = NULL;    /* --efel NAMES */

typedef struct {
    const nf_model *m;
    int gen;
    float params[32];
    double A, thr;
    float *v, *i; /* [CELL_SW][CELL_N] */
    int spikes[CELL_SW];
} cell_t;

static void cell_currents(double A, uint64_t seed, float *I)
{
    for (int s = 0; s < CELL_SW; s++) {
        float *c = I + (size_t)s * CELL_N;
        double x = 0.5 * A * gauss(&seed);
        const double a = exp(-DT / 5.0), b = 0.5 * A * sqrt(1 - a * a);
        for (int k = 0; k < CELL_N; k++) {
            double t = k * DT;
            if (s < CELL_SW - 1)
                c[k] = t >= 50 && t < 350 ? (float)(CELL_AMP[s] * A) : 0.0f;
            else if (t >= 50 && t < 450) {
                c[k] = (float)(A + x);
                x = a * x + b * gauss(&seed);
            } else
                c[k] = 0.0f;
        }
    }
}

static void apply_fit_options(nf_fit_options *o)
{
    if (g_popsize >= 0)
        o->popsize = g_popsize;
    if (g_bounds_set)
        o->bounds = g_bounds;
    o->optimizer = g_optimizer;
    if (g_guess >= 0)
        o->guess = g_guess;
    if (g_start_sigma > 0)
        o->start_sigma = g_start_sigma;
    if (g_guess_sigma > 0)
        o->guess_sigma = g_guess_sigma;
    o->survey_fraction = g_survey;
    if (g_weights && nf_fit_weights_parse(g_weights, o)) {
        fprintf(stderr, "bench_fit: --weights: %s\n", nf_errmsg());
        exit(2);
    }
    if (g_window > 0)
        o->gamma_window_ms = g_window;
    if (g_cut >= 0)
        o->rmse_cut_ms = g_cut;
    if (g_efel)
        o->efel = g_efel;
}

static int make_cell(nf_engine *e, const nf_model *m, uint64_t seed, int64_t *draw, cell_t *c, reject_t *rej)
{
    c->m = m;
    c->v = malloc(sizeof(float) * CELL_SW * CELL_N);
    c->i = malloc(sizeof(float) * CELL_SW * CELL_N);
    static const double amps[] = {1.0, 1.5, 2.5};
    for (int tries = 0; tries < 2000; tries++) {
        int64_t d = (*draw)++;
        nf_model_sample_uniform(m, seed, d, 1, c->params);
        int ok = 0, why = 1;
        for (int ai = 0; ai < 3 && !ok; ai++) {
            c->A = m->drive_pA * amps[ai];
            cell_currents(c->A, seed ^ (uint64_t)(d * 7919 + ai), c->i);
            int bad = 0, total = 0;
            for (int s = 0; s < CELL_SW && !bad; s++) {
                uint8_t valid = 0;
                float *v = c->v + (size_t)s * CELL_N, *I = c->i + (size_t)s * CELL_N;
                simulate(e, m, c->params, I, CELL_N, v, &total, &valid);
                c->spikes[s] = total;
                if (!valid)
                    bad = 2;
                else if (total > 150)
                    bad = 3;
                else {
                    /* spontaneous: a spike before the current starts (50 ms) */
                    int sp = 0;
                    for (int k = 1; k < (int)(50 / DT); k++)
                        sp |= v[k] < v[k - 1] - 10 || v[k] > -20;
                    if (sp)
                        bad = 4;
                }
            }
            if (bad) {
                why = bad;
                break;
            }
            if (c->spikes[4] >= 3)
                ok = 1;
        }
        if (!ok) {
            reject(rej, why);
            continue;
        }
        uint64_t ns = seed * 31 + (uint64_t)d;
        for (int64_t k = 0; k < (int64_t)CELL_SW * CELL_N; k++)
            c->v[k] += (float)(g_noise_mV * gauss(&ns));
        c->thr = threshold_of(c->v + (size_t)6 * CELL_N, CELL_N); /* the sweep with the most spikes */
        int seen_ok = 1;
        for (int s = 0; s < CELL_SW && seen_ok; s++) { /* the fit's own detection sees the model's spikes */
            static const nf__fit_obj ob0;
            nf_fit_target t = {.name = "cell", .v = c->v + (size_t)s * CELL_N, .i = c->i + (size_t)s * CELL_N,
                               .n = CELL_N, .dt_ms = DT};
            nf__fit_tgt tg;
            seen_ok = !nf__fit_prepare_target(&t, s, c->thr, nf__fit_spikes_at_crossing(m), &ob0, NULL, &tg) &&
                      tg.n_spikes == c->spikes[s];
            nf__fit_tgt_free(&tg);
        }
        if (!seen_ok) {
            rej->detect++;
            continue;
        }
        return tries + 1;
    }
    return -1;
}

typedef struct {
    double *err;       /* [M*R][32] relative parameter error (recovery) */
    double *g_ratio;   /* [M*R] held-out Gamma of the fit / the truth's (recovery) */
    double *g_fit, *g_truth;
    double *sel_ratio; /* [M*R] the generating model's held-out Gamma / the truth's in the selection */
    double *sub_rmse;  /* [M*R] held-out subthreshold RMSE of the winner */
    int *first_test, *first_train; /* [M*R] winner by the held-out / fitted score */
    int *confusion;    /* [M][M] */
    double wall_rec, wall_sel, steps_rec, steps_sel;
} cell_stats;

static nf_fit_result *fit_cell(const cell_t *c, const nf_model *const *mods, int M, int64_t budget, uint64_t seed,
                               int threads, int refine)
{
    nf_fit_target t[CELL_SW];
    for (int s = 0; s < CELL_SW; s++)
        t[s] = (nf_fit_target){.name = c->m->name, .v = c->v + (size_t)s * CELL_N, .i = c->i + (size_t)s * CELL_N,
                               .n = CELL_N, .dt_ms = DT};
    static const int idx[CELL_SW] = {0, 1, 2, 3, 4, 5, 6, 7};
    nf_fit_group g = {.name = "cell", .sweeps = idx, .test = CELL_TEST, .n_sweeps = CELL_SW};
    const char *names[MAX_MODELS];
    for (int k = 0; k < M; k++)
        names[k] = mods[k]->name;
    nf_fit_options o;
    nf_fit_options_default(&o);
    o.models = names;
    o.n_models = M;
    o.budget = budget;
    o.backend = NF_BACKEND_CPU;
    o.threads = threads;
    o.seed = seed;
    o.threshold_mV = c->thr;
    apply_fit_options(&o);
    if (refine >= 0)
        o.refine_k = refine;
    nf_fit_result *res = NULL;
    if (nf_fit_groups(t, CELL_SW, &g, 1, &o, &res)) {
        fprintf(stderr, "bench_fit: nf_fit_groups on a %s cell: %s\n", c->m->name, nf_errmsg());
        exit(1);
    }
    return res;
}

/* The held-out sweeps' Gamma of model m with parameters p, measured the same
 * way for every fit whatever its objective: coincidence window EVAL_WINDOW_MS
 * (4 ms, the field's competition standard), over the held-out sweeps with
 * recorded spikes; and their subthreshold RMSE (+-5 ms around recorded
 * spikes cut out). */
#define EVAL_WINDOW_MS 4.0
static double held_out_gamma(const cell_t *c, const nf_model *m, const double *p, double *sub_rmse)
{
    nf_fit_target t[2];
    int k = 0;
    for (int s = 0; s < CELL_SW; s++)
        if (CELL_TEST[s])
            t[k++] = (nf_fit_target){.name = "held out", .v = c->v + (size_t)s * CELL_N,
                                     .i = c->i + (size_t)s * CELL_N, .n = CELL_N, .dt_ms = DT};
    nf_fit_candidate cand = {.model = m->name, .params = p};
    nf_fit_options o;
    nf_fit_options_default(&o);
    o.backend = NF_BACKEND_CPU;
    o.threads = 1;
    o.threshold_mV = c->thr;
    o.gamma_window_ms = EVAL_WINDOW_MS;
    nf_fit_result *r = NULL;
    if (nf_fit_score(t, k, &cand, 1, &o, &r)) {
        fprintf(stderr, "bench_fit: held-out score: %s\n", nf_errmsg());
        exit(1);
    }
    double g = r->records[0].test.gamma;
    if (sub_rmse)
        *sub_rmse = r->records[0].test.sub_rmse_mV;
    nf_fit_result_destroy(r);
    return g;
}

static double truth_test_gamma(const cell_t *c)
{
    double p[64];
    for (int j = 0; j < c->m->n_params; j++)
        p[j] = c->params[j];
    return held_out_gamma(c, c->m, p, NULL);
}

static double record_test_gamma(const cell_t *c, const nf_fit_record *rec, double *sub_rmse)
{
    double p[64];
    for (int j = 0; j < rec->model->n_params; j++)
        p[j] = rec->params[j];
    return held_out_gamma(c, rec->model, p, sub_rmse);
}

/* A fit's held-out Gamma over the truth's; a fit without one (its held-out
 * simulation invalid) predicts nothing: 0. */
static double gamma_ratio(double g, double truth)
{
    return isfinite(g) ? g / truth : 0.0;
}

static void run_cells(const cell_t *cells, int M, int R, const nf_model *const *mods, int64_t budget,
                      int64_t sel_budget, int recover, int select, uint64_t seed, int threads)
{
    cell_stats st = {0};
    st.err = calloc((size_t)M * R * 32, sizeof(double));
    st.g_ratio = calloc((size_t)M * R, sizeof(double));
    st.g_fit = calloc((size_t)M * R, sizeof(double));
    st.g_truth = calloc((size_t)M * R, sizeof(double));
    st.sel_ratio = calloc((size_t)M * R, sizeof(double));
    st.sub_rmse = calloc((size_t)M * R, sizeof(double));
    st.first_test = calloc((size_t)M * R, sizeof(int));
    st.first_train = calloc((size_t)M * R, sizeof(int));
    st.confusion = calloc((size_t)M * M, sizeof(int));
    for (int x = 0; x < M * R; x++) {
        const cell_t *c = &cells[x];
        st.g_truth[x] = truth_test_gamma(c);
        if (recover) {
            double w0 = clock_s(CLOCK_MONOTONIC);
            nf_fit_result *r = fit_cell(c, &c->m, 1, budget, seed + (uint64_t)x, threads, -1);
            st.wall_rec += clock_s(CLOCK_MONOTONIC) - w0;
            st.steps_rec += r->neuron_steps;
            const nf_fit_record *rec = &r->records[0];
            for (int j = 0; j < c->m->n_params; j++)
                st.err[x * 32 + j] = fabs((double)rec->params[j] - c->params[j]) / fmax(fabs(c->params[j]), 1e-12);
            st.g_fit[x] = record_test_gamma(c, rec, NULL);
            st.g_ratio[x] = gamma_ratio(st.g_fit[x], st.g_truth[x]);
            if (g_per_recording)
                fprintf(stderr, "%s cell %d: held-out Gamma %.3f (truth %.3f), train %.4f test %.4f\n", c->m->name,
                        x % R, st.g_fit[x], st.g_truth[x], rec->combined, rec->test.combined);
            nf_fit_result_destroy(r);
        }
        if (select) {
            double w0 = clock_s(CLOCK_MONOTONIC);
            nf_fit_result *r = fit_cell(c, mods, M, sel_budget, seed + 7777 + (uint64_t)x, threads, g_refine_k);
            st.wall_sel += clock_s(CLOCK_MONOTONIC) - w0;
            st.steps_sel += r->neuron_steps;
            int win = 0, win_train = 0;
            double best_train = INFINITY;
            for (int k = 0; k < r->n_models; k++) {
                const nf_fit_record *rec = &r->records[k];
                int g = 0;
                while (g < M && mods[g] != rec->model)
                    g++;
                if (k == 0)
                    win = g;
                if (rec->combined < best_train) {
                    best_train = rec->combined;
                    win_train = g;
                }
                if (g == c->gen)
                    st.sel_ratio[x] = gamma_ratio(record_test_gamma(c, rec, NULL), st.g_truth[x]);
            }
            st.first_test[x] = win == c->gen;
            st.first_train[x] = win_train == c->gen;
            st.confusion[c->gen * M + win]++;
            record_test_gamma(c, &r->records[0], &st.sub_rmse[x]);
            if (g_per_recording && win != c->gen)
                fprintf(stderr, "miss: %s cell %d won by %s (held-out %.4f vs %.4f)\n", c->m->name, x % R,
                        mods[win]->name, r->records[0].test.combined, NAN);
            nf_fit_result_destroy(r);
        }
        if (isatty(2))
            fprintf(stderr, "\rbench_fit: cell %d/%d", x + 1, M * R);
    }
    if (isatty(2))
        fprintf(stderr, "\n");
    if (recover) {
        printf("\n## Cells: parameter recovery (the generating model, budget %lld per cell)\n\n", (long long)budget);
        for (int g = 0; g < M; g++) {
            const nf_model *m = mods[g];
            double gr[1024], gt[1024];
            int ok = 0;
            for (int r = 0; r < R; r++) {
                gr[r] = st.g_ratio[g * R + r];
                gt[r] = st.g_truth[g * R + r];
                ok += gr[r] >= 0.9;
            }
            printf("%s: held-out Gamma of the fit / the truth's: median %.3f, >= 0.9 in %d/%d (the truth's own "
                   "held-out Gamma: median %.3f)\n\n| parameter | median rel. error | within 2 %% |\n|---|---:|---:|\n",
                   m->name, median(gr, R), ok, R, median(gt, R));
            for (int j = 0; j < m->n_params; j++) {
                double e[1024];
                int in = 0;
                for (int r = 0; r < R; r++) {
                    e[r] = st.err[(g * R + r) * 32 + j];
                    in += e[r] <= 0.02;
                }
                printf("| %s | %.4f | %d/%d |\n", m->params[j].name, median(e, R), in, R);
            }
            printf("\n");
        }
        printf("Recovery: %.0f s wall, %.3g neuron-steps/s, %.2f cells/min.\n", st.wall_rec,
               st.steps_rec / st.wall_rec, 60.0 * M * R / st.wall_rec);
    }
    if (select) {
        printf("\n## Cells: model selection judged on the held-out sweeps (budget %lld per cell and model)\n\n",
               (long long)sel_budget);
        printf("| generating model | first (held-out) | first (fitted score) | gen. model's held-out Gamma / truth's, "
               "median | >= 0.9 | winner's held-out sub-RMSE (mV), median |\n|---|---:|---:|---:|---:|---:|\n");
        int tot = 0, tot_tr = 0;
        for (int g = 0; g < M; g++) {
            int ft = 0, fr = 0, ok = 0;
            double sr[1024], sub[1024];
            for (int r = 0; r < R; r++) {
                ft += st.first_test[g * R + r];
                fr += st.first_train[g * R + r];
                sr[r] = st.sel_ratio[g * R + r];
                ok += sr[r] >= 0.9;
                sub[r] = st.sub_rmse[g * R + r];
            }
            tot += ft;
            tot_tr += fr;
            printf("| %s | %d/%d | %d/%d | %.3f | %d/%d | %.2f |\n", mods[g]->name, ft, R, fr, R, median(sr, R), ok, R,
                   median(sub, R));
        }
        printf("| all | %d/%d (%.1f %%) | %d/%d | | | |\n\n", tot, M * R, 100.0 * tot / (M * R), tot_tr, M * R);
        printf("Confusion (rows: generating model, columns: ranked first on the held-out sweeps):\n\n| |");
        for (int g = 0; g < M; g++)
            printf(" %s |", mods[g]->name);
        printf("\n|---|");
        for (int g = 0; g < M; g++)
            printf("---:|");
        printf("\n");
        for (int g = 0; g < M; g++) {
            printf("| %s |", mods[g]->name);
            for (int h = 0; h < M; h++)
                printf(" %d |", st.confusion[g * M + h]);
            printf("\n");
        }
        printf("\nSelection: %.0f s wall, %.3g neuron-steps/s, %.2f cells/min (%d models each).\n", st.wall_sel,
               st.steps_sel / st.wall_sel, 60.0 * M * R / st.wall_sel, M);
    }
    fflush(stdout);
    free(st.err), free(st.g_ratio), free(st.g_fit), free(st.g_truth), free(st.sel_ratio), free(st.sub_rmse);
    free(st.first_test), free(st.first_train), free(st.confusion);
}

static int cells_main(const nf_model *const *mods_in, int M_in, int R, int64_t budget, int64_t sel_budget, int recover,
                      int select, uint64_t seed, int threads)
{
    nf_engine *eng = NULL;
    if (nf_engine_create(NF_BACKEND_CPU, 1, &eng)) {
        fprintf(stderr, "bench_fit: %s\n", nf_errmsg());
        return 1;
    }
    const nf_model *mods[MAX_MODELS];
    int M = 0;
    cell_t *cells = calloc((size_t)M_in * R, sizeof(cell_t));
    reject_t rej[MAX_MODELS] = {{0}};
    int draws[MAX_MODELS] = {0};
    for (int g = 0; g < M_in; g++) {
        int64_t draw = 0;
        int ok = 1;
        for (int r = 0; r < R && ok; r++) {
            cell_t *c = &cells[M * R + r];
            int d = make_cell(eng, mods_in[g], seed * 1000003u + (uint64_t)g, &draw, c, &rej[M]);
            ok = d > 0;
            draws[M] += d;
            c->gen = M;
        }
        if (ok)
            mods[M++] = mods_in[g];
    }
    nf_engine_destroy(eng);
    printf("# bench_fit --cells: one parameter set per cell across %d sweeps\n\n", CELL_SW);
    printf("%d cells per model, %d sweeps of %.0f ms at dt %.1f ms (steps of -0.5, -0.25, 0.5, 0.75, 1, 1.5, 2 x A "
           "from 50 to 350 ms and a frozen OU current of mean A, sd 0.5 A, tau 5 ms), %.1f mV noise; fitted on 6, "
           "the 0.75 A step and the noise sweep held out; held-out Gamma measured with a %g ms window whatever the fit's; "
           "seed %llu, %d threads%s%s.\n\n",
           R, CELL_SW, (CELL_N - 1) * DT, DT, g_noise_mV, EVAL_WINDOW_MS, (unsigned long long)seed, threads,
           g_weights ? ", weights " : "", g_weights ? g_weights : "");
    printf("Fit options: window %g ms, RMSE cut %g ms%s%s.\n\n", g_window > 0 ? g_window : 2.0, g_cut > 0 ? g_cut : 0.0,
           g_efel ? ", eFEL objectives " : "", g_efel ? g_efel : "");
    printf("| model | cells | draws | invalid | silent | runaway | spontaneous | detection mismatch |\n"
           "|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int g = 0; g < M; g++)
        printf("| %s | %d | %d | %d | %d | %d | %d | %d |\n", mods[g]->name, R, draws[g], rej[g].invalid,
               rej[g].silent, rej[g].runaway, rej[g].spontaneous, rej[g].detect);
    fflush(stdout);
    run_cells(cells, M, R, mods, budget, sel_budget, recover, select, seed, threads);
    for (int x = 0; x < M * R; x++) {
        free(cells[x].v);
        free(cells[x].i);
    }
    free(cells);
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_fit [--models a,b,...|all] [--recordings R] [--budget B]\n"
                    "                 [--select-budget B] [--seed S] [--threads T] [--quick] [--no-select]\n"
                    "                 [--refine K] [--survey F] [--no-recovery] [--guess 0|1] [--guess-sigma S] [--guess-report] [--popsize P] [--optimizer cmaes|de|shade] [--per-recording]\n"
                    "                 [--bounds reflect|resample|transform]\n"
                    "                 [--cells R [--weights SPEC] [--window MS] [--rmse-cut MS] [--efel NAMES]]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *models_arg = "lif6,adex,izhikevich,hh";
    int R = 20, threads = 0, select = 1, recover = 1, quick = 0, guess_rep = 0, cells = 0;
    int64_t budget = 3000, select_budget = 1000;
    uint64_t seed = 1;
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--models") && a + 1 < argc)
            models_arg = argv[++a];
        else if (!strcmp(argv[a], "--recordings") && a + 1 < argc)
            R = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--budget") && a + 1 < argc)
            budget = atoll(argv[++a]);
        else if (!strcmp(argv[a], "--select-budget") && a + 1 < argc)
            select_budget = atoll(argv[++a]);
        else if (!strcmp(argv[a], "--seed") && a + 1 < argc)
            seed = strtoull(argv[++a], NULL, 10);
        else if (!strcmp(argv[a], "--threads") && a + 1 < argc)
            threads = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--popsize") && a + 1 < argc)
            g_popsize = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--bounds") && a + 1 < argc) {
            const char *v = argv[++a];
            g_bounds_set = 1;
            if (nf_optim_bounds_parse(v, &g_bounds)) {
                fprintf(stderr, "bench_fit: --bounds %s: expected transform, reflect or resample\n", v);
                return 2;
            }
        }
        else if (!strcmp(argv[a], "--optimizer") && a + 1 < argc) {
            const char *v = argv[++a];
            g_optimizer = !strcmp(v, "de") ? NF_OPTIM_DE : !strcmp(v, "shade") ? NF_OPTIM_SHADE : NF_OPTIM_CMAES;
        } else if (!strcmp(argv[a], "--no-select"))
            select = 0;
        else if (!strcmp(argv[a], "--refine") && a + 1 < argc)
            g_refine_k = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--survey") && a + 1 < argc)
            g_survey = atof(argv[++a]);
        else if (!strcmp(argv[a], "--no-recovery"))
            recover = 0;
        else if (!strcmp(argv[a], "--per-recording"))
            g_per_recording = 1;
        else if (!strcmp(argv[a], "--guess") && a + 1 < argc)
            g_guess = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--guess-sigma") && a + 1 < argc)
            g_guess_sigma = atof(argv[++a]);
        else if (!strcmp(argv[a], "--start-sigma") && a + 1 < argc)
            g_start_sigma = atof(argv[++a]);
        else if (!strcmp(argv[a], "--guess-report"))
            guess_rep = 1;
        else if (!strcmp(argv[a], "--quick"))
            quick = 1;
        else if (!strcmp(argv[a], "--cells") && a + 1 < argc)
            cells = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--weights") && a + 1 < argc)
            g_weights = argv[++a];
        else if (!strcmp(argv[a], "--window") && a + 1 < argc)
            g_window = atof(argv[++a]);
        else if (!strcmp(argv[a], "--rmse-cut") && a + 1 < argc)
            g_cut = atof(argv[++a]);
        else if (!strcmp(argv[a], "--efel") && a + 1 < argc)
            g_efel = argv[++a];
        else
            usage();
    }
    if (getenv("NF_BENCH_NOISE"))
        g_noise_mV = atof(getenv("NF_BENCH_NOISE"));
    if (quick) {
        models_arg = "lif6,izhikevich";
        R = 3;
        budget = 600;
        select_budget = 300;
    }
    if (R < 1 || R > 1024 || budget < 1 || select_budget < 1)
        usage();

    /* the chosen models */
    const nf_model *mods[MAX_MODELS];
    const char *names[MAX_MODELS];
    int M = 0;
    if (!strcmp(models_arg, "all")) {
        for (int k = 0; k < nf_model_count() && M < MAX_MODELS; k++)
            mods[M++] = nf_model_at(k);
    } else {
        char buf[1024];
        snprintf(buf, sizeof buf, "%s", models_arg);
        for (char *tok = strtok(buf, ","); tok && M < MAX_MODELS; tok = strtok(NULL, ",")) {
            if (!(mods[M] = nf_model_find(tok))) {
                fprintf(stderr, "bench_fit: --models: %s\n", nf_errmsg());
                return 2;
            }
            M++;
        }
    }
    if (M == 0)
        usage();
    for (int k = 0; k < M; k++)
        names[k] = mods[k]->name;
    if (cells > 0)
        return cells_main(mods, M, cells > 1024 ? 1024 : cells, budget, select_budget, recover, select, seed, threads);

    nf_engine *eng = NULL;
    if (nf_engine_create(NF_BACKEND_CPU, 1, &eng)) {
        fprintf(stderr, "bench_fit: %s\n", nf_errmsg());
        return 1;
    }

    /* ---- synthetic recordings ---- */
    rec_t *recs = calloc((size_t)M * R, sizeof(rec_t));
    reject_t *rej = calloc((size_t)M, sizeof(reject_t));
    int *draws = calloc((size_t)M, sizeof(int));
    /* a model for which 2000 draws give no usable recording is dropped */
    char dropped[1024] = "";
    int kept = 0;
    for (int g = 0; g < M; g++) {
        int64_t draw = 0;
        int ok = 1;
        memset(&rej[kept], 0, sizeof rej[kept]);
        draws[kept] = 0;
        for (int r = 0; r < R && ok; r++) {
            rec_t *x = &recs[kept * R + r];
            int d = make_recording(eng, mods[g], seed * 1000003u + (uint64_t)g, &draw, x, &rej[kept]);
            ok = d > 0;
            draws[kept] += d;
            x->gen = kept;
        }
        if (!ok) {
            for (int r = 0; r < R; r++) {
                free(recs[kept * R + r].v);
                free(recs[kept * R + r].i);
                memset(&recs[kept * R + r], 0, sizeof(rec_t));
            }
            size_t l = strlen(dropped);
            snprintf(dropped + l, sizeof dropped - l, "%s%s", l ? ", " : "", mods[g]->name);
            continue;
        }
        mods[kept] = mods[g];
        names[kept++] = mods[g]->name;
    }
    M = kept;
    nf_engine_destroy(eng);

    printf("# bench_fit: parameter recovery and model selection\n\n");
    printf("%d recordings per model, %.0f ms at dt %.1f ms, 0.5 mV noise; CMA-ES (nf_fit defaults), seed %llu; "
           "recovery pass: budget %lld per recording with the generating model; selection pass: %s.\n\n",
           R, DURATION, DT, (unsigned long long)seed, (long long)budget,
           select ? "every chosen model on every recording" : "off");
    printf("## Recordings\n\n| model | accepted | draws | invalid | silent | runaway | spontaneous | "
           "detection mismatch | median spikes |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int g = 0; g < M; g++) {
        double sp[1024];
        for (int r = 0; r < R && r < 1024; r++)
            sp[r] = recs[g * R + r].spikes;
        printf("| %s | %d | %d | %d | %d | %d | %d | %d | %.0f |\n", names[g], R, draws[g], rej[g].invalid,
               rej[g].silent, rej[g].runaway, rej[g].spontaneous, rej[g].detect, median(sp, R < 1024 ? R : 1024));
    }
    if (dropped[0])
        printf("\nDropped (no usable recording in 2000 draws): %s.\n", dropped);
    fflush(stdout);
    if (M == 0)
        return 1;

    if (guess_rep)
        guess_report(recs, M, R, mods);
    fit_stats rec_pass, sel_pass;
    if (recover) {
        run_pass(recs, M, R, mods, budget, 0, seed, threads, &rec_pass);
        print_recovery(&rec_pass, recs, M, R, mods);
        print_throughput(&rec_pass, "recovery pass: each recording fitted with its generating model", recs, M, R,
                         mods, threads);
        stats_free(&rec_pass);
    }
    if (select) {
        run_pass(recs, M, R, mods, select_budget, 1, seed, threads, &sel_pass);
        print_selection(&sel_pass, M, R, mods, select_budget);
        print_throughput(&sel_pass, "selection pass: every chosen model on every recording", recs, M, R, mods,
                         threads);
        stats_free(&sel_pass);
    }

    for (int x = 0; x < M * R; x++) {
        free(recs[x].v);
        free(recs[x].i);
    }
    free(recs);
    free(rej);
    free(draws);
    return 0;
}
