/* bench_optim: evaluations to reach f < 1e-8 in 10-D (median over seeds and
 * success count) for cmaes, cmaes-ipop, cmaes-bipop, de and shade on sphere,
 * ellipsoid (condition 1e6), Rosenbrock and Rastrigin; then the optimiser's
 * own time per generation (ask + tell, objective excluded) for n = 4..30 and
 * lambda up to 4096. Prints markdown tables.
 *
 * Definitions (the pycma/scipy references do not state theirs):
 * box [-5, 5]^10 for every function; x0 uniform in the box, drawn from the
 * run's seed; CMA-ES sigma0 = 2 (0.2 of the box width); evaluations counted
 * per generation (lambda each) up to the one that first reaches f < 1e-8.
 * The median is over the successful runs.
 *
 *   bench_optim [--quick] [--seeds K] [--no-timing] [--box B] [--sigma0 S] [--x0 V]
 *               [--bounds transform|reflect|resample]
 *
 * --box B: search box [-B, B]^n (B >= 5; x0 stays uniform in [-5, 5]^n);
 * --sigma0 S: CMA-ES initial step in the function's units; --x0 V: fixed
 * initial mean (every coordinate V) instead of the random one; --bounds:
 * CMA-ES boundary handling (nf_optim_bounds; default transform, pycma's). */
#include "neurofit/optim.h"
#include "../tests/nf_test_functions.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DIM 10
#define TARGET 1e-8

/* Benchmark definition, changeable from the command line to see how much the
 * medians depend on it: box [-g_box, g_box]^n, x0 uniform in [-5, 5]^n (or
 * every coordinate g_x0 when set), CMA-ES sigma0 in the function's units. */
static double g_box = 5, g_sigma0 = 2, g_x0 = NAN;
static nf_optim_bounds g_bounds = NF_OPTIM_BOUNDS_TRANSFORM;

typedef double (*fun_t)(const double *x, int n);

typedef struct {
    const char *name;
    fun_t f;
} fun_entry;

typedef struct {
    const char *name;
    nf_optim_kind kind;
    nf_optim_restart restart;
    int64_t budget;
} opt_entry;

static const fun_entry FUNS[] = {{"sphere", nf_tf_sphere},
                                 {"ellipsoid", nf_tf_ellipsoid},
                                 {"rosenbrock", nf_tf_rosenbrock},
                                 {"rastrigin", nf_tf_rastrigin}};
static const opt_entry OPTS[] = {
    {"cmaes", NF_OPTIM_CMAES, NF_OPTIM_RESTART_NONE, 100000},
    {"cmaes-ipop", NF_OPTIM_CMAES, NF_OPTIM_RESTART_IPOP, 400000},
    {"cmaes-bipop", NF_OPTIM_CMAES, NF_OPTIM_RESTART_BIPOP, 400000},
    {"de", NF_OPTIM_DE, NF_OPTIM_RESTART_NONE, 400000},
    {"shade", NF_OPTIM_SHADE, NF_OPTIM_RESTART_NONE, 400000},
};

static double clock_s(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double now_s(void) { return clock_s(CLOCK_MONOTONIC); }

/* The optimiser timing uses this thread's CPU time: the benchmark machine is
 * shared, and wall time would mostly measure the neighbours. */
static double cpu_s(void) { return clock_s(CLOCK_THREAD_CPUTIME_ID); }

static uint64_t mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* One run; returns evaluations used, sets *ok when f < TARGET was reached. */
static int64_t run_one(const fun_entry *fe, const opt_entry *oe, uint64_t seed, int64_t budget,
                       int *ok)
{
    double lo[DIM], hi[DIM], x0[DIM];
    uint64_t r = mix(seed * 0x9E3779B97F4A7C15ull + 12345);
    for (int j = 0; j < DIM; j++) {
        lo[j] = -g_box;
        hi[j] = g_box;
        r = mix(r + 0x9E3779B97F4A7C15ull);
        x0[j] = isnan(g_x0) ? -5 + 10 * (double)(r >> 11) * 0x1.0p-53 : g_x0;
    }
    nf_optim_config c;
    nf_optim_config_default(&c, oe->kind, DIM, lo, hi);
    c.x0 = oe->kind == NF_OPTIM_CMAES ? x0 : NULL; /* DE: uniform initial population */
    c.sigma0 = g_sigma0 / (2 * g_box);
    c.seed = seed;
    c.restart = oe->restart;
    c.bounds = g_bounds;
    c.max_evals = budget;
    c.target = TARGET * (1 - 1e-12);
    nf_optim *o;
    if (nf_optim_create(&c, &o) != NF_OK) {
        fprintf(stderr, "bench_optim: %s\n", nf_errmsg());
        exit(1);
    }
    double *x = NULL, *f = NULL;
    int cap = 0;
    while (nf_optim_stop(o) == NF_OPTIM_RUNNING) {
        int lam = nf_optim_lambda(o);
        if (lam > cap) {
            cap = lam;
            x = realloc(x, sizeof(double) * (size_t)cap * DIM);
            f = realloc(f, sizeof(double) * (size_t)cap);
        }
        if (nf_optim_ask(o, x) != NF_OK) {
            fprintf(stderr, "bench_optim: %s\n", nf_errmsg());
            exit(1);
        }
        for (int k = 0; k < lam; k++) f[k] = fe->f(x + (size_t)k * DIM, DIM);
        nf_optim_tell(o, f);
    }
    double fb;
    nf_optim_best(o, NULL, &fb);
    *ok = fb < TARGET;
    int64_t ev = nf_optim_evals(o);
    nf_optim_destroy(o);
    free(x);
    free(f);
    return ev;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void convergence_table(int seeds, int quick)
{
    printf("| function | optimiser | median evals | successes |\n");
    printf("|---|---|---:|---:|\n");
    for (size_t fi = 0; fi < sizeof FUNS / sizeof FUNS[0]; fi++)
        for (size_t oi = 0; oi < sizeof OPTS / sizeof OPTS[0]; oi++) {
            int64_t ev[64];
            int nok = 0;
            int64_t budget = quick ? OPTS[oi].budget / 4 : OPTS[oi].budget;
            for (int s = 0; s < seeds; s++) {
                int ok;
                int64_t e = run_one(&FUNS[fi], &OPTS[oi], (uint64_t)s + 1, budget, &ok);
                if (ok) ev[nok++] = e;
            }
            qsort(ev, (size_t)nok, sizeof ev[0], cmp_i64);
            double med = nok == 0 ? NAN
                                  : (nok % 2 ? (double)ev[nok / 2]
                                             : 0.5 * (double)(ev[nok / 2 - 1] + ev[nok / 2]));
            if (nok)
                printf("| %s | %s | %.0f | %d/%d |\n", FUNS[fi].name, OPTS[oi].name, med, nok,
                       seeds);
            else
                printf("| %s | %s | - | 0/%d |\n", FUNS[fi].name, OPTS[oi].name, seeds);
            fflush(stdout);
        }
}

/* Optimiser time per generation, objective excluded. */
static void timing_table(int quick)
{
    static const int dims[] = {4, 10, 20, 30};
    static const int lams[] = {0, 64, 512, 4096};
    static const nf_optim_kind kinds[] = {NF_OPTIM_CMAES, NF_OPTIM_DE, NF_OPTIM_SHADE};
    printf("\n## Optimiser CPU time per generation (ask + tell, objective excluded)\n\n");
    printf("| optimiser | n | lambda | us per generation | us per point |\n");
    printf("|---|---:|---:|---:|---:|\n");
    for (size_t ki = 0; ki < 3; ki++)
        for (size_t di = 0; di < 4; di++)
            for (size_t li = 0; li < 4; li++) {
                int n = dims[di];
                double lo[30], hi[30];
                for (int j = 0; j < n; j++) lo[j] = -5, hi[j] = 5;
                nf_optim_config c;
                nf_optim_config_default(&c, kinds[ki], n, lo, hi);
                c.lambda = lams[li];
                c.tolfun = c.tolx = 0;
                c.stagnation = 1 << 30;
                nf_optim *o;
                if (nf_optim_create(&c, &o) != NF_OK) {
                    fprintf(stderr, "bench_optim: %s\n", nf_errmsg());
                    exit(1);
                }
                int lam = nf_optim_lambda(o);
                double *x = malloc(sizeof(double) * (size_t)lam * n);
                double *f = malloc(sizeof(double) * (size_t)lam);
                double spent = 0, budget = quick ? 0.02 : 0.1;
                int gens = 0;
                while (spent < budget && gens < 100000 && nf_optim_stop(o) == NF_OPTIM_RUNNING) {
                    double t0 = cpu_s();
                    nf_optim_ask(o, x);
                    double t1 = cpu_s();
                    for (int k = 0; k < lam; k++) f[k] = nf_tf_ellipsoid(x + (size_t)k * n, n);
                    double t2 = cpu_s();
                    nf_optim_tell(o, f);
                    spent += (t1 - t0) + (cpu_s() - t2);
                    gens++;
                }
                double us = 1e6 * spent / gens;
                printf("| %s | %d | %d | %.1f | %.3f |\n", nf_optim_kind_str(kinds[ki]), n, lam,
                       us, us / lam);
                fflush(stdout);
                free(x);
                free(f);
                nf_optim_destroy(o);
            }
}

int main(int argc, char **argv)
{
    int quick = 0, seeds = 11, timing = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            quick = 1;
        else if (!strcmp(argv[i], "--seeds") && i + 1 < argc)
            seeds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-timing"))
            timing = 0;
        else if (!strcmp(argv[i], "--box") && i + 1 < argc)
            g_box = atof(argv[++i]);
        else if (!strcmp(argv[i], "--sigma0") && i + 1 < argc)
            g_sigma0 = atof(argv[++i]);
        else if (!strcmp(argv[i], "--x0") && i + 1 < argc)
            g_x0 = atof(argv[++i]);
        else if (!strcmp(argv[i], "--bounds") && i + 1 < argc) {
            const char *v = argv[++i];
            if (nf_optim_bounds_parse(v, &g_bounds)) {
                fprintf(stderr, "bench_optim: --bounds %s: not transform, reflect or resample\n", v);
                return 2;
            }
        } else {
            fprintf(stderr, "usage: bench_optim [--quick] [--seeds K] [--no-timing] [--box B] "
                            "[--sigma0 S] [--x0 V] [--bounds transform|reflect|resample]\n");
            return 2;
        }
    }
    if (quick && seeds == 11) seeds = 3;
    if (!(g_box >= 5) || !(g_sigma0 > 0 && g_sigma0 <= 2 * g_box) ||
        (!isnan(g_x0) && !(fabs(g_x0) <= g_box))) {
        fprintf(stderr, "bench_optim: need --box >= 5, 0 < --sigma0 <= 2 box, |--x0| <= box\n");
        return 2;
    }
    if (seeds < 1 || seeds > 64) {
        fprintf(stderr, "bench_optim: --seeds must be in [1, 64]\n");
        return 2;
    }
    double t0 = now_s();
    printf("## Evaluations to f < 1e-8, n = %d, %d seeds (median over successes)\n\n", DIM,
           seeds);
    printf("box [-%g, %g]^%d, x0 %s, cmaes sigma0 %g, cmaes bounds %s\n\n", g_box, g_box, DIM,
           isnan(g_x0) ? "uniform in [-5, 5]" : "fixed", g_sigma0, nf_optim_bounds_str(g_bounds));
    convergence_table(seeds, quick);
    if (timing) timing_table(quick);
    printf("\ntotal: wall %.1f s, CPU %.1f s\n", now_s() - t0, clock_s(CLOCK_PROCESS_CPUTIME_ID));
    return 0;
}
