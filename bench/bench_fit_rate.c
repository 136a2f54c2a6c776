/* Recordings fitted per minute (issue 5's benchmark): a set of synthetic
 * sweeps (AdEx cells with random parameters, 1 s at 0.1 ms, a hyperpolarising
 * then a depolarising step, 0.5 mV noise) fitted by 4 models with a fixed
 * budget, all recordings of a model in one engine call per generation.
 *
 * Under mpirun (a build with the MPI layer) the ranks share the fit out
 * (nf_dist_fit, neurofit/dist.h) and rank 0 prints the table with the ranks
 * and what the share-out cost: chunks, items, and the time ranks waited for
 * their next chunk while work remained, per item.
 *
 * usage: [mpirun -np N] bench_fit_rate [--recordings N] [--budget EVALS] [--models a,b,..]
 *                       [--refine K] [--backend cpu|cuda|auto] [--threads N] */
#include "neurofit/dist.h"
#include "neurofit/fit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

int main(int argc, char **argv)
{
    const int dist = nf_dist_launched() && nf_dist_built();
    if (dist && nf_dist_init()) {
        fprintf(stderr, "bench_fit_rate: %s\n", nf_errmsg());
        return 1;
    }
    int R = 100, threads = 0;
    int64_t budget = 1000;
    int refine = -1; /* --refine K: nf_fit's refine_k (-1: its default) */
    const char *models_s = "lif6,adex,izhikevich,hh", *backend_s = "auto";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--recordings")) R = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--budget")) budget = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--models")) models_s = argv[i + 1];
        else if (!strcmp(argv[i], "--backend")) backend_s = argv[i + 1];
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--refine")) refine = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "bench_fit_rate: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (R < 1 || budget < 1) {
        fprintf(stderr, "bench_fit_rate: need --recordings >= 1 and --budget >= 1\n");
        return 2;
    }
    nf_backend backend;
    if (nf_backend_parse(backend_s, &backend)) {
        fprintf(stderr, "bench_fit_rate: %s\n", nf_errmsg());
        return 2;
    }
    const nf_model *adex = nf_model_find("adex");
    enum { N = 10001 };
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
           "recordings/min | neuron-steps/s | adex ranked first |\n|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|\n");
    printf("| %d | %d | %d | %d | %s | %lld | %.1f | %.1f | %.3g | %d/%d |\n", nf_dist_size(), threads, R, N, models_s,
           (long long)budget, res->seconds, 60.0 * R / res->seconds, res->neuron_steps / res->seconds, adex_first, R);
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
