/* Engine throughput benchmark: neuron-steps per second for each model x
 * backend x batch size, simulate-only and with the fused trace-RMSE scorer;
 * on the CPU, lif6, izhikevich and adex against their plain-loop reference
 * (bench/plain_loop.c: the model as a bare vectorisable C loop on all
 * threads, spike counts only), timed in the same run, with neurofit's ratio
 * to it (the spike counts must agree first); and, where Debian's
 * python3-brian is installed, Brian2's cpp_standalone binary on the same
 * batch (bench/brian2_reference.py) for the speed-up. Prints markdown tables
 * with machine and date; never asserts timings.
 *
 * usage: bench_engine [--models a,b|all (default)] [--backend cpu|cuda|all] [--sims P,P,..]
 *                     [--steps T] [--threads N] [--reps R] [--brian2 on|off]
 *                     [--brian2-sims P] [--plain on|off|only] (only: the plain-loop table alone) */
#include "cli/bench_run.h"
#include "plain_loop.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static double brian2_rate(const char *model, int64_t P, int64_t T, double dt, double amp)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 %s/bench/brian2_reference.py %s %lld %lld %g %g 2>/dev/null | tail -n 1",
             NF_SOURCE_DIR, model, (long long)P, (long long)T, dt, amp);
    FILE *p = popen(cmd, "r");
    if (!p) return NAN;
    double rate = NAN, sec;
    if (fscanf(p, "%lf %lf", &rate, &sec) != 2) rate = NAN;
    pclose(p);
    return rate;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* the process's CPU time, all threads (s) */
static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* neurofit's CPU backend against the plain loop of model m on the same batch
 * (P x T, the bench batch without scorer), both on every thread, best of
 * reps, alternating, in wall time and in the process's CPU time (which other
 * load on the machine changes less); prints one row. */
static int plain_ratio(const nf_model *m, int64_t P, int64_t T, int threads, int reps, int *header)
{
    nf_engine *e;
    if (nf_engine_create(NF_BACKEND_CPU, threads, &e)) {
        fprintf(stderr, "bench_engine: %s\n", nf_errmsg());
        return 1;
    }
    const int nt = nf_engine_threads(e);
    float *par = malloc(sizeof(float) * (size_t)P * m->n_params), *wave = malloc(sizeof(float) * (size_t)T);
    int32_t *c_nf = malloc(sizeof(int32_t) * (size_t)P), *c_pl = malloc(sizeof(int32_t) * (size_t)P);
    uint8_t *valid = malloc((size_t)P);
    if (!par || !wave || !c_nf || !c_pl || !valid) {
        fprintf(stderr, "bench_engine: out of memory for the plain-loop batch\n");
        return 1;
    }
    nf_cli_bench_inputs(m, P, T, par, wave);
    nf_batch b = {0};
    b.model = m;
    b.n_sims = P;
    b.n_steps = T;
    b.dt_ms = nf_cli_bench_dt(m);
    b.params = par;
    b.stim.waves = wave;
    b.stim.n_waves = 1;
    b.spike_counts = c_nf;
    b.valid = valid;
    double t_nf = 1e300, t_pl = 1e300, c_nf_s = 1e300, c_pl_s = 1e300;
    for (int r = 0; r < (reps > 1 ? reps : 2); r++) {
        double t0 = now_s(), c0 = cpu_s();
        if (nf_engine_run(e, &b)) {
            fprintf(stderr, "bench_engine: %s\n", nf_errmsg());
            return 1;
        }
        double t = now_s() - t0, c = cpu_s() - c0;
        t_nf = t < t_nf ? t : t_nf;
        c_nf_s = c < c_nf_s ? c : c_nf_s;
        c0 = cpu_s();
        t = nf_plain_loop_run(m->name, par, m->n_params, wave, P, T, b.dt_ms, nt, c_pl);
        c = cpu_s() - c0;
        if (t < 0) {
            fprintf(stderr, "bench_engine: plain loop of %s failed to start\n", m->name);
            return 1;
        }
        t_pl = t < t_pl ? t : t_pl;
        c_pl_s = c < c_pl_s ? c : c_pl_s;
    }
    int64_t differ = 0, spiking = 0;
    for (int64_t i = 0; i < P; i++) {
        differ += c_nf[i] != c_pl[i];
        spiking += c_pl[i] > 0;
    }
    if (!*header) {
        printf("\n## Against the plain loop (CPU, %d threads; bench/plain_loop.c: the model as a bare vectorisable C "
               "loop, spike counts only)\n\n",
               nt);
        printf("| model | sims | steps | neurofit s | plain loop s | neurofit neuron-steps/s | plain loop neuron-steps/s "
               "| ratio (neurofit / plain) | ratio per CPU-second | spike counts |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
        *header = 1;
    }
    char counts[96];
    if (differ)
        snprintf(counts, sizeof counts, "DIFFER in %lld of %lld: no ratio", (long long)differ, (long long)P);
    else
        snprintf(counts, sizeof counts, "equal (%lld of %lld spiking)", (long long)spiking, (long long)P);
    const double steps = (double)P * (double)T;
    char ratio[32] = "-", cratio[32] = "-";
    if (!differ) {
        snprintf(ratio, sizeof ratio, "%.2fx", t_pl / t_nf);
        snprintf(cratio, sizeof cratio, "%.2fx", c_pl_s / c_nf_s);
    }
    printf("| %s | %lld | %lld | %.3f | %.3f | %.3g | %.3g | %s | %s | %s |\n", m->name, (long long)P, (long long)T,
           t_nf, t_pl, steps / t_nf, steps / t_pl, ratio, cratio, counts);
    fflush(stdout);
    nf_engine_destroy(e);
    free(par), free(wave), free(c_nf), free(c_pl), free(valid);
    return differ ? 1 : 0;
}

int main(int argc, char **argv)
{
    const char *models = "all", *backend = "all", *sims = "1000,100000,1000000";
    const char *brian = "on", *plain = "on";
    int64_t T = 10000, brian_sims = 100000;
    int threads = 0, reps = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--models")) models = argv[i + 1];
        else if (!strcmp(argv[i], "--backend")) backend = argv[i + 1];
        else if (!strcmp(argv[i], "--sims")) sims = argv[i + 1];
        else if (!strcmp(argv[i], "--steps")) T = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--brian2")) brian = argv[i + 1];
        else if (!strcmp(argv[i], "--brian2-sims")) brian_sims = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--plain")) plain = argv[i + 1];
        else {
            fprintf(stderr, "bench_engine: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (strcmp(plain, "on") && strcmp(plain, "off") && strcmp(plain, "only")) {
        fprintf(stderr, "bench_engine: --plain %s: expected on, off or only\n", plain);
        return 2;
    }
    if (!strcmp(plain, "only")) brian = "off"; /* the plain-loop table alone */
    int use_brian = !strcmp(brian, "on") &&
                    system("/usr/bin/python3 -c 'import brian2' >/dev/null 2>&1") == 0;
    struct utsname u;
    uname(&u);
    time_t t0 = time(NULL);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%d", gmtime(&t0));
    char cpu[256] = "?";
    FILE *ci = fopen("/proc/cpuinfo", "r");
    if (ci) {
        char line[512];
        while (fgets(line, sizeof line, ci))
            if (!strncmp(line, "model name", 10)) {
                char *c = strchr(line, ':');
                if (c) snprintf(cpu, sizeof cpu, "%s", c + 2);
                cpu[strcspn(cpu, "\n")] = 0;
                break;
            }
        fclose(ci);
    }
    printf("# bench_engine %s: %s, %ld CPUs (%s); CUDA: %s\n\n", date, u.machine, sysconf(_SC_NPROCESSORS_ONLN), cpu,
           nf_cuda_available() ? nf_cuda_device_name() : "none");
    if (strcmp(plain, "only")) {
        printf("Whole call: nf_engine_run (validation, packing, copies, kernels); kernel: the CUDA kernels alone\n"
               "(cudaEvent). Fraction of the H100 ceiling: the model's instructions per step (nf_model.instr_per_step)\n"
               "at 3.35e13 instructions/s, from the kernel time (and from the whole call).\n\n");
        printf("| model | backend | sims | steps | scorer | seconds | neuron-steps/s | kernel seconds | kernel neuron-steps/s "
               "| per CPU-second | fraction of H100 ceiling, kernel (whole call) |\n");
        printf("|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|\n");
    }

    nf_backend backends[2] = {NF_BACKEND_CPU, NF_BACKEND_CUDA};
    double cpu_rate[64] = {0};
    char mlist[1024] = "";
    if (!strcmp(models, "all")) {
        /* every registered model */
        for (int k = 0; k < nf_model_count(); k++) {
            size_t len = strlen(mlist);
            snprintf(mlist + len, sizeof mlist - len, "%s%s", k ? "," : "", nf_model_at(k)->name);
        }
    } else {
        snprintf(mlist, sizeof mlist, "%s", models);
    }
    int mi = 0;
    const nf_model *ms[64];
    for (char *mn = strtok(mlist, ","); mn && mi < 64; mn = strtok(NULL, ","), mi++) {
        const nf_model *m = nf_model_find(mn);
        if (!m) {
            fprintf(stderr, "bench_engine: %s\n", nf_errmsg());
            return 2;
        }
        ms[mi] = m;
        for (int bi = 0; bi < 2 && strcmp(plain, "only"); bi++) {
            if (strcmp(backend, "all") && strcmp(backend, nf_backend_name(backends[bi]))) continue;
            if (backends[bi] == NF_BACKEND_CUDA && !nf_cuda_available()) {
                printf("| %s | cuda | - | - | - | - | skipped: no CUDA device | - | - | - | - |\n", m->name);
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
                for (int scored = 0; scored < 2; scored++) {
                    nf_cli_bench_result r;
                    char err[512];
                    if (nf_cli_bench_engine(e, m, P, T, scored, reps, 1, &r, err, sizeof err)) {
                        fprintf(stderr, "bench_engine: %s\n", err);
                        return 1;
                    }
                    const int gpu = backends[bi] == NF_BACKEND_CUDA;
                    double ceil = gpu ? nf_cli_h100_ceiling(m) : 0;
                    char frac[64] = "-", ksec[32] = "-", krate[32] = "-", percpu[32] = "-";
                    if (ceil > 0)
                        snprintf(frac, sizeof frac, "%.2f (%.2f)", r.kernel_steps_per_s / ceil, r.steps_per_s / ceil);
                    else if (gpu)
                        snprintf(frac, sizeof frac, "cost not estimated");
                    if (gpu) {
                        snprintf(ksec, sizeof ksec, "%.4f", r.kernel_seconds);
                        snprintf(krate, sizeof krate, "%.3g", r.kernel_steps_per_s);
                    } else {
                        snprintf(percpu, sizeof percpu, "%.3g", (double)P * T / r.cpu_seconds);
                    }
                    printf("| %s | %s | %lld | %lld | %s | %.3f | %.3g | %s | %s | %s | %s |\n", m->name,
                           nf_backend_name(backends[bi]), (long long)P, (long long)T, scored ? "rmse" : "none",
                           r.seconds, r.steps_per_s, ksec, krate, percpu, frac);
                    fflush(stdout);
                    if (backends[bi] == NF_BACKEND_CPU && !scored && P == brian_sims) cpu_rate[mi] = r.steps_per_s;
                    if (r.fired == 0) fprintf(stderr, "bench_engine: warning: %s: no simulation spiked\n", m->name);
                }
            }
            nf_engine_destroy(e);
        }
    }
    if (strcmp(plain, "off") && (!strcmp(backend, "all") || !strcmp(backend, "cpu"))) {
        /* the largest batch of --sims */
        int64_t P = 0;
        char slist[256];
        snprintf(slist, sizeof slist, "%s", sims);
        for (char *ps = strtok(slist, ","); ps; ps = strtok(NULL, ",")) P = atoll(ps) > P ? atoll(ps) : P;
        int header = 0;
        for (int k = 0; k < mi; k++) {
            if (!nf_plain_loop_has(ms[k]->name)) continue;
            if (plain_ratio(ms[k], P, T, threads, reps, &header)) return 1;
        }
    }
    if (use_brian) {
        printf("\n## Against Brian2 %s cpp_standalone (single thread, same batch: %lld sims x %lld steps)\n\n",
               "2.5", (long long)brian_sims, (long long)T);
        printf("| model | Brian2 neuron-steps/s | neurofit cpu neuron-steps/s | speed-up |\n|---|---:|---:|---:|\n");
        for (int k = 0; k < mi; k++) {
            const char *known[] = {"lif6", "adex", "izhikevich", "hh"}; /* in brian2_reference.py */
            int in_script = 0;
            for (int j = 0; j < 4; j++) in_script |= !strcmp(ms[k]->name, known[j]);
            if (!in_script) continue;
            double dt = ms[k]->dt_max_ms < 0.1 ? ms[k]->dt_max_ms : 0.1;
            double br = brian2_rate(ms[k]->name, brian_sims, T, dt, ms[k]->drive_pA);
            printf("| %s | %.3g | %.3g | %.1fx |\n", ms[k]->name, br, cpu_rate[k],
                   cpu_rate[k] > 0 ? cpu_rate[k] / br : NAN);
            fflush(stdout);
        }
    } else if (!strcmp(brian, "on")) {
        printf("\nBrian2 comparison skipped: /usr/bin/python3 cannot import brian2 (apt-get install python3-brian)\n");
    }
    return 0;
}
