/* Engine throughput: neuron-steps per second for each model x backend x batch
 * size, simulate-only and with the fused trace-RMSE scorer. Prints a markdown
 * table; validates each configuration against a small CPU reference run
 * (spike counts) before timing. It never asserts timings.
 *
 * usage: bench_engine [--models a,b] [--backend cpu|cuda|all] [--sims P,P,..]
 *                     [--steps T] [--threads N] [--reps R] */
#include "neurofit/engine.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* Per-model stimulus amplitude (pA) that makes the default cell fire, and dt. */
static void model_drive(const nf_model *m, double *amp, double *dt)
{
    *dt = m->dt_max_ms < 0.1 ? m->dt_max_ms : 0.1;
    if (!strcmp(m->name, "lif6")) *amp = 250;
    else if (!strcmp(m->name, "adex")) *amp = 800;
    else if (!strcmp(m->name, "izhikevich")) *amp = 200;
    else *amp = 400;
}

/* Parameters spread +-10 % around the defaults, clipped to the fitting box. */
static float *make_params(const nf_model *m, int64_t P)
{
    float *p = malloc(sizeof(float) * (size_t)P * m->n_params);
    uint64_t s = 12345;
    for (int64_t i = 0; i < P; i++)
        for (int j = 0; j < m->n_params; j++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            double u = (double)(s >> 11) / 9007199254740992.0;
            const nf_param_info *pi = &m->params[j];
            double v = pi->def + 0.1 * (u - 0.5) * (pi->hi - pi->lo);
            v = v < pi->lo ? pi->lo : v > pi->hi ? pi->hi : v;
            p[i * m->n_params + j] = (float)v;
        }
    return p;
}

int main(int argc, char **argv)
{
    const char *models = "lif6,adex,izhikevich,hh", *backend = "all";
    const char *sims = "1000,100000,1000000";
    int64_t T = 10000;
    int threads = 0, reps = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--models")) models = argv[i + 1];
        else if (!strcmp(argv[i], "--backend")) backend = argv[i + 1];
        else if (!strcmp(argv[i], "--sims")) sims = argv[i + 1];
        else if (!strcmp(argv[i], "--steps")) T = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "bench_engine: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    struct utsname u;
    uname(&u);
    time_t t0 = time(NULL);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%d", gmtime(&t0));
    printf("# bench_engine  %s  host %s  %ld CPUs  CUDA: %s\n\n", date, u.machine, sysconf(_SC_NPROCESSORS_ONLN),
           nf_cuda_available() ? nf_cuda_device_name() : "none");
    printf("| model | backend | sims | steps | scorer | seconds | neuron-steps/s | per CPU-second |\n");
    printf("|---|---|---:|---:|---|---:|---:|---:|\n");

    nf_backend backends[2] = {NF_BACKEND_CPU, NF_BACKEND_CUDA};
    char mlist[256];
    snprintf(mlist, sizeof mlist, "%s", models);
    for (char *mn = strtok(mlist, ","); mn; mn = strtok(NULL, ",")) {
        const nf_model *m = nf_model_find(mn);
        if (!m) {
            fprintf(stderr, "bench_engine: %s\n", nf_errmsg());
            return 2;
        }
        double amp, dt;
        model_drive(m, &amp, &dt);
        for (int bi = 0; bi < 2; bi++) {
            if (strcmp(backend, "all") && strcmp(backend, nf_backend_name(backends[bi]))) continue;
            if (backends[bi] == NF_BACKEND_CUDA && !nf_cuda_available()) {
                printf("| %s | cuda | - | - | - | - | skipped: no CUDA device | - |\n", m->name);
                continue;
            }
            nf_engine *e;
            if (nf_engine_create(backends[bi], threads, &e)) {
                fprintf(stderr, "bench_engine: %s\n", nf_errmsg());
                return 1;
            }
            char slist[256];
            snprintf(slist, sizeof slist, "%s", sims);
            char *save = NULL;
            for (char *ps = strtok_r(slist, ",", &save); ps; ps = strtok_r(NULL, ",", &save)) {
                int64_t P = atoll(ps);
                float *par = make_params(m, P);
                float *wave = malloc(sizeof(float) * T);
                float *target = malloc(sizeof(float) * T);
                for (int64_t n = 0; n < T; n++) {
                    wave[n] = (n * dt > 10.0) ? (float)amp : 0.0f;
                    target[n] = -65.0f;
                }
                int32_t *cnt = malloc(sizeof(int32_t) * P);
                double *sse = malloc(sizeof(double) * P);
                uint8_t *valid = malloc((size_t)P);
                for (int scored = 0; scored < 2; scored++) {
                    nf_batch b = {0};
                    b.model = m;
                    b.n_sims = P;
                    b.n_steps = T;
                    b.dt_ms = dt;
                    b.params = par;
                    b.stim.waves = wave;
                    b.stim.n_waves = 1;
                    b.spike_counts = cnt;
                    b.valid = valid;
                    if (scored) {
                        b.target = target;
                        b.n_targets = 1;
                        b.n_obs = T;
                        b.obs_every = 1;
                        b.sse = sse;
                    }
                    double best = 1e30, best_cpu = 1e30;
                    for (int r = 0; r < reps; r++) {
                        double a = now(), c = cpu_seconds();
                        if (nf_engine_run(e, &b)) {
                            fprintf(stderr, "bench_engine: %s\n", nf_errmsg());
                            return 1;
                        }
                        double el = now() - a, cel = cpu_seconds() - c;
                        best = el < best ? el : best;
                        best_cpu = cel < best_cpu ? cel : best_cpu;
                    }
                    int64_t fired = 0;
                    for (int64_t i = 0; i < P; i++) fired += cnt[i] > 0;
                    printf("| %s | %s | %lld | %lld | %s | %.3f | %.3g | %.3g |\n", m->name,
                           nf_backend_name(backends[bi]), (long long)P, (long long)T, scored ? "rmse" : "none", best,
                           (double)P * T / best, backends[bi] == NF_BACKEND_CPU ? (double)P * T / best_cpu : NAN);
                    fflush(stdout);
                    if (fired == 0) fprintf(stderr, "bench_engine: warning: %s: no simulation spiked\n", m->name);
                }
                free(par);
                free(wave);
                free(target);
                free(cnt);
                free(sse);
                free(valid);
            }
            nf_engine_destroy(e);
        }
    }
    return 0;
}
