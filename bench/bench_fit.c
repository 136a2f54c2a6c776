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
 * Every recording is then fitted with nf_fit against all chosen models at once
 * (CMA-ES, the fit's defaults, --budget evaluations per (recording, model)):
 * the record of the generating model gives the parameter recovery, the
 * ranking gives model selection.
 *
 *   bench_fit [--models a,b,...|all] [--recordings R] [--budget B] [--seed S]
 *             [--threads T] [--quick] [--no-select]
 *
 * --no-select fits each recording with its generating model only. --quick:
 * 3 recordings of lif6 and izhikevich, budget 600 (a smoke run, seconds). */
#include "neurofit/engine.h"
#include "neurofit/fit.h"
#include "neurofit/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DT 0.1
#define DURATION 700.0
#define NOISE_MV 0.5
#define MAX_MODELS 32
#define MAX_SPK 512

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

/* Simulate model m with params p under amplitude amp; fills v (n samples). */
static int simulate(nf_engine *e, const nf_model *m, const float *p, const float *I, int64_t n, float *v,
                    int *spikes, uint8_t *valid)
{
    int k = (int)ceil(DT / m->dt_max_ms - 1e-9);
    if (k < 1)
        k = 1;
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
            if (why == 1)
                rej->silent++;
            else if (why == 2)
                rej->invalid++;
            else if (why == 3)
                rej->runaway++;
            else
                rej->spontaneous++;
            continue;
        }
        uint64_t ns = seed * 31 + (uint64_t)d;
        for (int64_t k = 0; k < n; k++)
            r->v[k] += (float)(NOISE_MV * gauss(&ns));
        r->thr = threshold_of(r->v, n);
        int before;
        int seen = count_spikes(r->v, n, r->thr, 0, &before);
        if (seen != r->spikes) {
            rej->detect++;
            continue;
        }
        return tries + 1;
    }
    fprintf(stderr, "bench_fit: %s: no acceptable parameter set in 2000 draws\n", m->name);
    exit(1);
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

static void usage(void)
{
    fprintf(stderr, "usage: bench_fit [--models a,b,...|all] [--recordings R] [--budget B] [--seed S]\n"
                    "                 [--threads T] [--quick] [--no-select]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *models_arg = "lif6,adex,izhikevich,hh";
    int R = 20, threads = 0, select = 1, quick = 0;
    int64_t budget = 3000;
    uint64_t seed = 1;
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--models") && a + 1 < argc)
            models_arg = argv[++a];
        else if (!strcmp(argv[a], "--recordings") && a + 1 < argc)
            R = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--budget") && a + 1 < argc)
            budget = atoll(argv[++a]);
        else if (!strcmp(argv[a], "--seed") && a + 1 < argc)
            seed = strtoull(argv[++a], NULL, 10);
        else if (!strcmp(argv[a], "--threads") && a + 1 < argc)
            threads = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--no-select"))
            select = 0;
        else if (!strcmp(argv[a], "--quick"))
            quick = 1;
        else
            usage();
    }
    if (quick) {
        models_arg = "lif6,izhikevich";
        R = 3;
        budget = 600;
    }
    if (R < 1 || budget < 1)
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

    nf_engine *eng = NULL;
    if (nf_engine_create(NF_BACKEND_CPU, 1, &eng)) {
        fprintf(stderr, "bench_fit: %s\n", nf_errmsg());
        return 1;
    }

    /* ---- synthetic recordings ---- */
    rec_t *recs = calloc((size_t)M * R, sizeof(rec_t));
    reject_t *rej = calloc((size_t)M, sizeof(reject_t));
    int *draws = calloc((size_t)M, sizeof(int));
    for (int g = 0; g < M; g++) {
        int64_t draw = 0;
        for (int r = 0; r < R; r++) {
            rec_t *x = &recs[g * R + r];
            draws[g] += make_recording(eng, mods[g], seed * 1000003u + (uint64_t)g, &draw, x, &rej[g]);
            x->gen = g;
        }
    }
    nf_engine_destroy(eng);

    printf("# bench_fit: parameter recovery and model selection\n\n");
    printf("%d recordings per model, %.0f ms at dt %.1f ms, 0.5 mV noise; CMA-ES, budget %lld per "
           "(recording, model), seed %llu, %s.\n\n",
           R, DURATION, DT, (long long)budget, (unsigned long long)seed,
           select ? "all chosen models compete on every recording" : "generating model only");
    printf("## Recordings\n\n| model | accepted | draws | invalid | silent | runaway | spontaneous | "
           "detection mismatch | median spikes |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int g = 0; g < M; g++) {
        double sp[1024];
        for (int r = 0; r < R && r < 1024; r++)
            sp[r] = recs[g * R + r].spikes;
        printf("| %s | %d | %d | %d | %d | %d | %d | %d | %.0f |\n", names[g], R, draws[g], rej[g].invalid,
               rej[g].silent, rej[g].runaway, rej[g].spontaneous, rej[g].detect, median(sp, R < 1024 ? R : 1024));
    }
    fflush(stdout);

    /* ---- fits: one nf_fit call per recording (the detection threshold is
     * a per-call option, and it is the recording's) ---- */
    double *err = calloc((size_t)M * R * 32, sizeof(double));   /* relative error */
    double *errw = calloc((size_t)M * R * 32, sizeof(double));  /* error / bound width */
    double *scorefit = calloc((size_t)M * R, sizeof(double));
    int *first = calloc((size_t)M * R, sizeof(int));
    int *confusion = calloc((size_t)M * M, sizeof(int));
    int *worse = calloc((size_t)M, sizeof(int));
    double wall0 = clock_s(CLOCK_MONOTONIC), cpu0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    double neuron_steps = 0, *model_wall = calloc((size_t)M, sizeof(double));
    int64_t sims = 0, fits = 0;
    for (int x = 0; x < M * R; x++) {
        rec_t *rc = &recs[x];
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
        nf_fit_result *res = NULL;
        double w0 = clock_s(CLOCK_MONOTONIC);
        if (nf_fit(&t, 1, &o, &res)) {
            fprintf(stderr, "bench_fit: nf_fit on %s recording %d: %s\n", rc->m->name, x % R, nf_errmsg());
            return 1;
        }
        model_wall[rc->gen] += clock_s(CLOCK_MONOTONIC) - w0;
        neuron_steps += res->neuron_steps;
        sims += res->sims;
        fits += res->n_models;
        const nf_fit_record *gen = NULL;
        for (int k = 0; k < res->n_models; k++)
            if (res->records[k].model == rc->m)
                gen = &res->records[k];
        int winner = 0;
        for (int g = 0; g < M; g++)
            if (mods[g] == res->records[0].model)
                winner = g;
        first[x] = winner == rc->gen;
        confusion[rc->gen * M + winner]++;
        scorefit[x] = gen->combined;
        for (int j = 0; j < rc->m->n_params; j++) {
            const nf_param_info *pi = &rc->m->params[j];
            double d = fabs((double)gen->params[j] - rc->params[j]);
            err[x * 32 + j] = d / fmax(fabs(rc->params[j]), 1e-12);
            errw[x * 32 + j] = d / (pi->hi - pi->lo);
        }
        (void)worse;
        nf_fit_result_free(res);
        fprintf(stderr, "\rbench_fit: %d/%d recordings", x + 1, M * R);
    }
    fprintf(stderr, "\n");
    double wall = clock_s(CLOCK_MONOTONIC) - wall0, cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - cpu0;

    /* ---- recovery tables ---- */
    printf("\n## Parameter recovery (fit with the generating model)\n\n");
    for (int g = 0; g < M; g++) {
        const nf_model *m = mods[g];
        printf("### %s (fit wall time %.1f s for %d recordings)\n\n", m->name, model_wall[g], R);
        printf("| parameter | unit | bounds | median rel. error | within 2 %% | median error / bound width |\n"
               "|---|---|---|---:|---:|---:|\n");
        for (int j = 0; j < m->n_params; j++) {
            double e1[1024], e2[1024];
            int within = 0;
            for (int r = 0; r < R && r < 1024; r++) {
                e1[r] = err[(g * R + r) * 32 + j];
                e2[r] = errw[(g * R + r) * 32 + j];
                within += e1[r] <= 0.02;
            }
            double me = median(e1, R), mw = median(e2, R);
            printf("| %s | %s | [%g, %g] | %.2f %% | %d/%d | %.2f %% |\n", m->params[j].name, m->params[j].unit,
                   m->params[j].lo, m->params[j].hi, 100 * me, within, R, 100 * mw);
        }
        printf("\n");
    }

    if (select) {
        int hit = 0;
        printf("## Model selection (all %d models compete; rows: generating model, columns: ranked first)\n\n", M);
        printf("| generating \\ first |");
        for (int g = 0; g < M; g++)
            printf(" %s |", names[g]);
        printf(" correct |\n|---|");
        for (int g = 0; g <= M; g++)
            printf("---:|");
        printf("\n");
        for (int g = 0; g < M; g++) {
            printf("| %s |", names[g]);
            for (int h = 0; h < M; h++)
                printf(" %d |", confusion[g * M + h]);
            printf(" %d/%d |\n", confusion[g * M + g], R);
            hit += confusion[g * M + g];
        }
        printf("\nGenerating model ranked first: %d/%d = %.1f %% (target >= 90 %%).\n", hit, M * R,
               100.0 * hit / (M * R));
    }

    printf("\n## Throughput (whole pipeline: nf_fit calls, CPU backend)\n\n");
    printf("| fits (recording x model) | wall s | process CPU s | fits/min (wall) | simulations | "
           "neuron-steps | neuron-steps/s (wall) | per CPU-second |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    printf("| %lld | %.1f | %.1f | %.1f | %lld | %.3g | %.3g | %.3g |\n", (long long)fits, wall, cpu,
           60.0 * fits / wall, (long long)sims, neuron_steps, neuron_steps / wall, neuron_steps / cpu);

    for (int x = 0; x < M * R; x++) {
        free(recs[x].v);
        free(recs[x].i);
    }
    free(recs);
    free(rej);
    free(draws);
    free(err);
    free(errw);
    free(scorefit);
    free(first);
    free(confusion);
    free(worse);
    free(model_wall);
    return 0;
}
