/* Recordings fitted per minute (issue 5's benchmark): a set of synthetic
 * sweeps (AdEx cells with random parameters, 1 s at 0.1 ms, a hyperpolarising
 * then a depolarising step, 0.5 mV noise) fitted by 4 models with a fixed
 * budget, all recordings of a model in one engine call per generation.
 *
 * The table also says how many simulations the fit kept in flight at once
 * (nf_fit_progress.in_flight after each model submitted a generation: the
 * models of a pass search together), the largest and the mean over those
 * reports; on the CPU backend the count is exactly what a GPU would hold.
 *
 * --in-flight 1,4,9,17: instead of fitting, what a fit of --recordings
 * (default 1,000) sweeps of --samples (default 201: the count does not
 * depend on the length) holds in flight with the first K models of the
 * registry, for each K: the fit is stopped at its first report, when every
 * model's first generation is in flight; and the fewest models that reach
 * issue 18's 270,000 (a full H100).
 *
 * Under mpirun (a build with the MPI layer) the ranks share the fit out
 * (nf_dist_fit, neurofit/dist.h) and rank 0 prints the table with the ranks
 * and what the share-out cost: chunks, items, and the time ranks waited for
 * their next chunk while work remained, per item (the in-flight columns are
 * the ranks' own then: not shown).
 *
 * usage: [mpirun -np N] bench_fit_rate [--recordings N] [--budget EVALS] [--models a,b,..]
 *                       [--refine K] [--backend cpu|cuda|auto] [--threads N] [--samples S]
 *        bench_fit_rate --in-flight K1,K2,.. [--recordings N] [--samples S] [--backend ..] */
#include "neurofit/dist.h"
#include "neurofit/fit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

/* What the fit holds in flight, from its progress reports. */
typedef struct flight {
    int64_t first, max, n;
    double sum;
    int stop; /* stop at the first report */
} flight;

static int on_progress(const nf_fit_progress *p, void *user)
{
    flight *f = user;
    if (!f->n)
        f->first = p->in_flight;
    f->max = p->in_flight > f->max ? p->in_flight : f->max;
    f->sum += (double)p->in_flight;
    f->n++;
    return f->stop;
}

/* --in-flight: the simulations in flight at the first report of a fit of
 * the R targets t by the first K registry models, for each K of ks. */
static int in_flight_table(const nf_fit_target *t, int R, int64_t N, const char *ks, nf_backend backend, int threads)
{
    printf("## Simulations in flight (%d recordings of %lld samples, CMA-ES population %d; the fit stopped at its "
           "first report, when every model's first generation is in flight)\n\n",
           R, (long long)N, NF_FIT_CMAES_LAMBDA);
    printf("| models | in flight | per (recording, model) | >= 270,000 (a full H100) |\n|---:|---:|---:|---|\n");
    int fewest = 0;
    char *copy = strdup(ks);
    for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ",")) {
        int K = atoi(tok);
        if (K < 1 || K > nf_model_count()) {
            fprintf(stderr, "bench_fit_rate: --in-flight %s: a model count 1..%d\n", tok, nf_model_count());
            free(copy);
            return 2;
        }
        const char *names[64];
        for (int k = 0; k < K; k++)
            names[k] = nf_model_at(k)->name;
        nf_fit_options o;
        nf_fit_options_default(&o);
        o.models = names;
        o.n_models = K;
        o.guess = 0; /* the starts do not change what is in flight */
        o.backend = backend;
        o.threads = threads;
        flight f = {.stop = 1};
        o.progress = on_progress;
        o.progress_user = &f;
        nf_fit_result *res = NULL;
        nf_status s = nf_fit(t, R, &o, &res);
        nf_fit_result_destroy(res);
        if (s != NF_EINTERRUPTED) {
            fprintf(stderr, "bench_fit_rate: %s\n", s ? nf_errmsg() : "the fit was not stopped");
            free(copy);
            return 1;
        }
        if (f.first >= 270000 && (!fewest || K < fewest))
            fewest = K;
        printf("| %d (%s%s) | %lld | %.0f | %s |\n", K, names[0], K > 1 ? "..." : "", (long long)f.first,
               (double)f.first / ((double)R * K), f.first >= 270000 ? "yes" : "no");
    }
    free(copy);
    if (fewest)
        printf("\n270,000 simulations in flight are met from %d model(s) on, for %d recordings.\n", fewest, R);
    else
        printf("\n270,000 simulations in flight are not met by these model counts for %d recordings.\n", R);
    return 0;
}

int main(int argc, char **argv)
{
    const int dist = nf_dist_launched() && nf_dist_built();
    if (dist && nf_dist_init()) {
        fprintf(stderr, "bench_fit_rate: %s\n", nf_errmsg());
        return 1;
    }
    int R = 0, threads = 0;
    int64_t budget = 1000, N = 0;
    const char *in_flight = NULL;
    int refine = -1; /* --refine K: nf_fit's refine_k (-1: its default) */
    const char *models_s = "lif6,adex,izhikevich,hh", *backend_s = "auto";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--recordings")) R = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--budget")) budget = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--models")) models_s = argv[i + 1];
        else if (!strcmp(argv[i], "--backend")) backend_s = argv[i + 1];
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--refine")) refine = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--samples")) N = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--in-flight")) in_flight = argv[i + 1];
        else {
            fprintf(stderr, "bench_fit_rate: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    R = R ? R : in_flight ? 1000 : 100;
    N = N ? N : in_flight ? 201 : 10001;
    if (R < 1 || budget < 1 || N < 2) {
        fprintf(stderr, "bench_fit_rate: need --recordings >= 1, --budget >= 1 and --samples >= 2\n");
        return 2;
    }
    nf_backend backend;
    if (nf_backend_parse(backend_s, &backend)) {
        fprintf(stderr, "bench_fit_rate: %s\n", nf_errmsg());
        return 2;
    }
    const nf_model *adex = nf_model_find("adex");
    float *v = malloc(sizeof(float) * (size_t)R * N), *I = malloc(sizeof(float) * N);
    float *par = malloc(sizeof(float) * (size_t)R * adex->n_params);
    nf_fit_target *t = calloc((size_t)R, sizeof *t);
    char (*names)[32] = calloc((size_t)R, 32);
    if (!v || !I || !par || !t || !names) return 1;
    for (int k = 0; k < N; k++) {
        double ms = 0.1 * k;
        I[k] = ms >= 100 && ms < 300 ? -0.25f * (float)adex->drive_pA
                                     : (ms >= 400 && ms < 900 ? (float)adex->drive_pA : 0.0f);
    }
    /* random cells near the defaults (+-20 % of each range) so that they spike */
    nf_model_sample_uniform(adex, 7, 0, R, par);
    for (int r = 0; r < R; r++)
        for (int j = 0; j < adex->n_params; j++) {
            const nf_param_info *p = &adex->params[j];
            float u = (par[r * adex->n_params + j] - (float)p->lo) / (float)(p->hi - p->lo);
            par[r * adex->n_params + j] = (float)(p->def + 0.2 * (u - 0.5) * (p->hi - p->lo));
        }
    nf_engine *e;
    if (nf_engine_create(NF_BACKEND_CPU, 0, &e)) return 1;
    nf_batch b = {.model = adex, .n_sims = R, .n_steps = N, .dt_ms = 0.1, .params = par,
                  .stim = {.waves = I, .n_waves = 1}, .voltage = v, .record_every = 1};
    if (nf_engine_run(e, &b)) {
        fprintf(stderr, "bench_fit_rate: %s\n", nf_errmsg());
        return 1;
    }
    nf_engine_destroy(e);
    uint64_t s = 99;
    for (size_t k = 0; k < (size_t)R * N; k += 2) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        double u1 = ((s >> 11) + 0.5) / 9007199254740992.0;
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        double u2 = (s >> 11) / 9007199254740992.0, rr = 0.5 * sqrt(-2 * log(u1));
        v[k] += (float)(rr * cos(2 * M_PI * u2));
        if (k + 1 < (size_t)R * N) v[k + 1] += (float)(rr * sin(2 * M_PI * u2));
    }
    for (int r = 0; r < R; r++) {
        snprintf(names[r], 32, "cell %d", r);
        t[r] = (nf_fit_target){.name = names[r], .v = v + (size_t)r * N, .i = I, .n = N, .dt_ms = 0.1};
    }
    if (in_flight) {
        int rc = dist ? 2 : in_flight_table(t, R, N, in_flight, backend, threads);
        if (dist)
            fprintf(stderr, "bench_fit_rate: --in-flight runs in one process\n");
        nf_dist_finalize();
        free(v), free(I), free(par), free(t), free(names);
        return rc;
    }
    char *ms = strdup(models_s);
    const char *mv[64];
    int nm = 0;
    for (char *tok = strtok(ms, ","); tok && nm < 64; tok = strtok(NULL, ",")) mv[nm++] = tok;
    nf_fit_options o;
    nf_fit_options_default(&o);
    o.models = mv;
    o.n_models = nm;
    o.budget = budget;
    if (refine >= 0)
        o.refine_k = refine;
    o.backend = backend;
    o.threads = threads;
    o.threshold_mV = -45.0; /* AdEx recordings: the sample at V_peak is the reset */
    flight f = {0};
    if (!dist) {
        o.progress = on_progress;
        o.progress_user = &f;
    }
    nf_fit_result *res = NULL;
    nf_dist_stats st = {0};
    const int rank = nf_dist_rank();
    nf_status fs = dist ? nf_dist_fit(rank ? NULL : t, rank ? 0 : R, NULL, 0, &o, NULL, NULL, &res, &st)
                        : nf_fit(t, R, &o, &res);
    if (fs) {
        if (rank == 0)
            fprintf(stderr, "bench_fit_rate: %s\n", nf_errmsg());
        nf_dist_finalize();
        return 1;
    }
    if (rank > 0) {
        nf_dist_finalize();
        free(ms), free(v), free(I), free(par), free(t), free(names);
        return 0;
    }
    int adex_first = 0;
    for (int r = 0; r < R; r++) adex_first += !strcmp(res->records[(size_t)r * nm].model->name, "adex");
    struct utsname u;
    uname(&u);
    char date[32];
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d", gmtime(&now));
    printf("## Recordings fitted per minute (%s, %s, backend %s)\n\n", date, u.machine,
           nf_backend_name(res->backend));
    printf("| ranks | threads | recordings | samples | models | budget per (recording, model) | seconds | "
           "recordings/min | neuron-steps/s | adex ranked first | max in flight | mean in flight |\n"
           "|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|\n");
    char fmax[32] = "-", fmean[32] = "-";
    if (f.n) {
        snprintf(fmax, sizeof fmax, "%lld", (long long)f.max);
        snprintf(fmean, sizeof fmean, "%.0f", f.sum / (double)f.n);
    }
    printf("| %d | %d | %d | %lld | %s | %lld | %.1f | %.1f | %.3g | %d/%d | %s | %s |\n", nf_dist_size(), threads, R,
           (long long)N, models_s, (long long)budget, res->seconds, 60.0 * R / res->seconds,
           res->neuron_steps / res->seconds, adex_first, R, fmax, fmean);
    if (dist)
        printf("\nshare-out: %lld chunks, %lld (recording, model) items; ranks waited %.3f s for %lld chunks while "
               "work remained: %.3f ms per chunk, %.3f ms per item\n", (long long)st.chunks, (long long)st.items,
               st.wait_s, (long long)st.waits, st.waits ? 1e3 * st.wait_s / (double)st.waits : 0.0,
               st.items ? 1e3 * st.wait_s / (double)st.items : 0.0);
    nf_fit_result_destroy(res);
    free(ms), free(v), free(I), free(par), free(t), free(names);
    nf_dist_finalize();
    return 0;
}
