/* bench_sbi: the bayesflow-lif preset at scale.
 *
 *   bench_sbi [N (1e6)] [DIR (/tmp/nf_bench_sbi)] [threads (0 = all)] [backend cpu|cuda|auto (cpu)]
 *             [chunk (8192)] [memory-only]
 *
 * Validates first (a chunk of the runner equals the stand-alone preset
 * generator and every simulation is valid), then times:
 *   1. the preset's inputs alone (prior + stimulus, one thread, 1e5 sims);
 *   2. N simulations through the chunk runner into memory (no disk);
 *   3. N simulations written to DIR as .npy (nf_sbi_write_dataset, with
 *      stimulus.npy; fsync included);
 * and the peak RSS of a child process per N (fork + wait4) for growing N
 * without stimulus.npy: memory bounded by the chunk, not by N, shows as a
 * constant RSS. With memory-only, steps 1 and 2 alone (scripts/gpu-check.sh).
 * Prints markdown tables; asserts nothing about time. */
#include "neurofit/engine.h"
#include "neurofit/sbi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double cpu_seconds(void)
{
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return (double)r.ru_utime.tv_sec + 1e-6 * (double)r.ru_utime.tv_usec + (double)r.ru_stime.tv_sec +
           1e-6 * (double)r.ru_stime.tv_usec;
}

static int die(const char *what)
{
    fprintf(stderr, "bench_sbi: %s: %s\n", what, nf_errmsg());
    return 1;
}

/* Write N simulations in a child; its peak RSS in MiB (-1 on failure). */
static double child_peak_rss(const char *dir, int64_t n, int threads, double *sec)
{
    double t0 = now();
    pid_t pid = fork();
    if (pid == 0) {
        nf_sbi_config c;
        nf_prior *p;
        nf_engine *e;
        if (nf_sbi_preset("bayesflow-lif", 1, &c, &p) || nf_engine_create(NF_BACKEND_CPU, threads, &e)) _exit(1);
        nf_sbi_write_opts o = {.n_sims = n, .chunk = 8192, .write_stimulus = 0};
        _exit(nf_sbi_write_dataset(e, &c, dir, &o) ? 1 : 0);
    }
    int st;
    struct rusage ru;
    if (pid < 0 || wait4(pid, &st, 0, &ru) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return -1;
    *sec = now() - t0;
    return (double)ru.ru_maxrss / 1024.0;
}

/* The table's header and its first two rows (inputs; simulation into memory). */
static void print_steps(int64_t n_in, double t_in, int threads, int64_t N, double t_mem, double cpu_mem)
{
    printf("| step | N | wall s | per simulation | note |\n|---|---:|---:|---:|---|\n");
    printf("| preset inputs (prior + stimulus), 1 thread | %lld | %.2f | %.2f us | |\n", (long long)n_in, t_in,
           1e6 * t_in / (double)n_in);
    printf("| simulate, excluding disk (%d threads) | %lld | %.2f | %.2f us | CPU %.2f s |\n", threads, (long long)N,
           t_mem, 1e6 * t_mem / (double)N, cpu_mem);
}

int main(int argc, char **argv)
{
    int64_t N = argc > 1 ? (int64_t)atof(argv[1]) : 1000000;
    const char *dir = argc > 2 ? argv[2] : "/tmp/nf_bench_sbi";
    int threads = argc > 3 ? atoi(argv[3]) : 0;
    nf_backend backend = NF_BACKEND_CPU;
    if (argc > 4 && nf_backend_parse(argv[4], &backend)) return die("backend (cpu, cuda or auto)");
    const int64_t chunk = argc > 5 ? (int64_t)atof(argv[5]) : 8192, T = NF_SBI_BAYESFLOW_T;
    if (chunk < 1000) return die("chunk must be >= 1000");
    const int memory_only = argc > 6 && !strcmp(argv[6], "memory-only");

    nf_sbi_config c;
    nf_prior *p;
    nf_engine *e;
    if (nf_sbi_preset("bayesflow-lif", 1, &c, &p)) return die("preset");
    if (nf_engine_create(backend, threads, &e)) return die("engine");
    nf_sbi_runner *r;
    if (nf_sbi_runner_create(e, &c, chunk, &r)) return die("runner");
    float *theta = malloc(sizeof(float) * chunk * 6), *x = malloc(sizeof(float) * chunk * T);
    float *stim = malloc(sizeof(float) * chunk * T), *theta2 = malloc(sizeof(float) * 1000 * 6);
    float *stim2 = malloc(sizeof(float) * 1000 * T);
    uint8_t *valid = malloc(chunk);

    /* ---- validate ---- */
    if (nf_sbi_runner_run(r, 5000, 1000, theta, stim, x, NULL, valid)) return die("runner run");
    if (nf_sbi_bayesflow_lif_generate(1, 5000, 1000, theta2, NULL, stim2)) return die("generate");
    int ok = !memcmp(theta, theta2, sizeof(float) * 1000 * 6) && !memcmp(stim, stim2, sizeof(float) * 1000 * T);
    for (int i = 0; i < 1000; i++) ok &= valid[i] == 1;
    double load[3] = {0, 0, 0};
    getloadavg(load, 3);
    printf("## bench_sbi: bayesflow-lif preset (lif6, 501 samples, dt 0.1 ms)\n\n");
    printf("machine: %ld online CPUs, load average at start %.1f; engine backend %s, chunk %lld\n\n",
           sysconf(_SC_NPROCESSORS_ONLN), load[0], nf_backend_name(nf_engine_backend(e)), (long long)chunk);
    printf("validation: runner chunk == stand-alone generator, all valid: %s\n\n", ok ? "yes" : "NO");
    if (!ok) return 1;

    /* ---- 1. inputs alone ---- */
    const int64_t n_in = 100000;
    float *bth = malloc(sizeof(float) * 1000 * 6), *bst = malloc(sizeof(float) * 1000 * T);
    double t0 = now();
    for (int64_t f = 0; f < n_in; f += 1000)
        if (nf_sbi_bayesflow_lif_generate(1, f, 1000, bth, NULL, bst)) return die("generate");
    double t_in = now() - t0;

    /* ---- 2. simulate into memory ---- */
    double c0 = cpu_seconds();
    t0 = now();
    for (int64_t f = 0; f < N; f += chunk) {
        int64_t n = N - f < chunk ? N - f : chunk;
        if (nf_sbi_runner_run(r, f, n, theta, NULL, x, NULL, valid)) return die("runner run");
    }
    double t_mem = now() - t0, cpu_mem = cpu_seconds() - c0;

    if (memory_only) {
        print_steps(n_in, t_in, nf_engine_threads(e), N, t_mem, cpu_mem);
        return 0;
    }

    /* ---- 3. to disk ---- */
    nf_sbi_write_opts o = {.n_sims = N, .chunk = chunk, .write_stimulus = 1};
    c0 = cpu_seconds();
    t0 = now();
    if (nf_sbi_write_dataset(e, &c, dir, &o)) return die("write dataset");
    double t_disk = now() - t0, cpu_disk = cpu_seconds() - c0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);

    print_steps(n_in, t_in, nf_engine_threads(e), N, t_mem, cpu_mem);
    printf("| simulate + write theta, x, stimulus, valid .npy | %lld | %.2f | %.2f us | CPU %.2f s, %.2f GB written |\n",
           (long long)N, t_disk, 1e6 * t_disk / (double)N, cpu_disk,
           (double)N * (2 * T + 6) * 4 / 1e9 + (double)N / 1e9);
    printf("\npeak RSS of this process: %.1f MiB (chunk %lld)\n\n", (double)ru.ru_maxrss / 1024.0, (long long)chunk);

    /* ---- memory bound: peak RSS of a fresh process per N ---- */
    printf("| N (no stimulus.npy) | wall s | peak RSS MiB |\n|---:|---:|---:|\n");
    for (int64_t n = 10000; n <= N; n *= 10) {
        double sec = 0, rss = child_peak_rss(dir, n, threads, &sec);
        if (rss < 0) return die("child");
        printf("| %lld | %.2f | %.1f |\n", (long long)n, sec, rss);
    }
    getloadavg(load, 3);
    printf("\nload average at the end: %.1f\n", load[0]);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "bench_sbi: could not remove %s\n", dir);

    nf_sbi_runner_destroy(r);
    nf_engine_destroy(e);
    nf_prior_destroy(p);
    free(theta);
    free(x);
    free(stim);
    free(theta2);
    free(stim2);
    free(valid);
    free(bth);
    free(bst);
    return 0;
}
