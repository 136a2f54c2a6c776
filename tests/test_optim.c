/* Population optimisers (src/optim/): pycma's parameter values, convergence,
 * bounds, determinism, checkpoints, NaN fitness, argument checking. */
#include "neurofit/optim.h"
#include "optim/optim_internal.h"
#include "nf_test_functions.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAXN 16

typedef double (*fun_t)(const double *, int);

static void box(double *lo, double *hi, int n, double a, double b)
{
    for (int j = 0; j < n; j++) lo[j] = a, hi[j] = b;
}

static nf_optim *make(nf_optim_kind kind, int n, const double *lo, const double *hi,
                      const double *x0, uint64_t seed)
{
    nf_optim_config c;
    nf_optim_config_default(&c, kind, n, lo, hi);
    c.x0 = x0;
    c.seed = seed;
    nf_optim *o;
    cr_assert_eq(nf_optim_create(&c, &o), NF_OK, "%s", nf_errmsg());
    return o;
}

/* Drive o on f until it stops or max_gens; checks every asked point lies in
 * [lo, hi]. Returns the number of generations. */
static int drive(nf_optim *o, fun_t f, const double *lo, const double *hi, int max_gens)
{
    int n = nf_optim_dim(o), g = 0;
    double *x = NULL, *fx = NULL;
    int cap = 0;
    while (nf_optim_stop(o) == NF_OPTIM_RUNNING && g < max_gens) {
        int lam = nf_optim_lambda(o);
        if (lam > cap) {
            cap = lam;
            x = realloc(x, sizeof(double) * (size_t)cap * n);
            fx = realloc(fx, sizeof(double) * (size_t)cap);
        }
        cr_assert_eq(nf_optim_ask(o, x), NF_OK, "%s", nf_errmsg());
        for (int k = 0; k < lam; k++) {
            for (int j = 0; j < n; j++)
                cr_assert(x[k * n + j] >= lo[j] && x[k * n + j] <= hi[j],
                          "point %d coordinate %d = %.17g outside [%g, %g]", k, j, x[k * n + j],
                          lo[j], hi[j]);
            fx[k] = f(x + (size_t)k * n, n);
        }
        cr_assert_eq(nf_optim_tell(o, fx), NF_OK, "%s", nf_errmsg());
        g++;
    }
    free(x);
    free(fx);
    return g;
}

/* ---- pycma's strategy parameters ----------------------------------------- */

Test(optim_cmaes, parameters_match_pycma_n20_lambda12)
{
    /* Values printed by pycma's CMAParameters docstring for
     * CMAEvolutionStrategy(20 * [0.1], 1): popsize 12. */
    double lo[20], hi[20];
    box(lo, hi, 20, -1, 1);
    nf_optim *o = make(NF_OPTIM_CMAES, 20, lo, hi, NULL, 1);
    cr_assert_eq(nf_optim_lambda(o), 12);
    cr_assert_eq(o->s.mu, 6);
    cr_assert_float_eq(o->s.c1, 0.00437235, 1e-8);
    cr_assert_float_eq(o->s.cc, 0.171767, 1e-6);
    cr_assert_float_eq(o->s.cmu, 0.00921656, 1e-8);
    static const double w[12] = {0.4024029428,  0.2533890840,  0.1662215645,  0.1043752252,
                                 0.05640347757, 0.01720770576, -0.05018713636, -0.1406167894,
                                 -0.2203813963, -0.2917332686, -0.3562788884, -0.4152044225};
    for (int i = 0; i < 12; i++) cr_assert_float_eq(o->w[i], w[i], 1e-9, "weight %d", i);
    nf_optim_destroy(o);
}

Test(optim_cmaes, csa_damping_matches_pycma_n4)
{
    /* pycma doctest: CMAEvolutionStrategy(4 * [1], 1).adapt_sigma.damps */
    double lo[4], hi[4];
    box(lo, hi, 4, -2, 2);
    nf_optim *o = make(NF_OPTIM_CMAES, 4, lo, hi, NULL, 1);
    cr_assert_float_eq(o->s.ds, 1.4791763684, 1e-9);
    nf_optim_destroy(o);
}

/* ---- pycma's boundary handling and restart bookkeeping ------------------- */

Test(optim_cmaes, bound_transform_matches_pycma_doctest)
{
    /* pycma BoxConstraintsLinQuadTransformation([[1, 2], [1, 11], [1, 11]])
     * ([1.52, -2.2, -0.2, 2, 4, 10.4]) == [1.52, 4.0, 2.0, 2.0, 4.0, 10.4] */
    const double g[6] = {1.52, -2.2, -0.2, 2, 4, 10.4}, want[6] = {1.52, 4, 2, 2, 4, 10.4};
    for (int i = 0; i < 6; i++) {
        double hi = i == 0 ? 2 : 11;
        cr_assert_float_eq(nf__cmaes_bound_tf(g[i], 1, hi), want[i], 1e-9, "value %d", i);
    }
    /* BoundTransform([0, 1]): quadratic within al = 0.05 below 0 and au = 0.1
     * above 1 (pycma: (1 + |bound|) / 20), continuous, inside, invertible */
    cr_assert_float_eq(nf__cmaes_bound_tf(-0.05, 0, 1), 0.0, 1e-12);
    cr_assert_float_eq(nf__cmaes_bound_tf(0.0, 0, 1), 0.0125, 1e-12);
    cr_assert_float_eq(nf__cmaes_bound_tf(1.1, 0, 1), 1.0, 1e-12);
    for (double x = -30; x <= 30; x += 0.01) {
        double y = nf__cmaes_bound_tf(x, 0, 1);
        cr_assert(y >= 0 && y <= 1, "tf(%g) = %g", x, y);
        cr_assert_float_eq(nf__cmaes_bound_tf(x + 2 * 1.15, 0, 1), y, 1e-9, "period at %g", x);
        cr_assert_float_eq(nf__cmaes_bound_tf(nf__cmaes_bound_tf_inverse(y, 0, 1), 0, 1), y, 1e-9);
    }
}

Test(optim_cmaes, coordinate_std_capped_at_a_third_of_the_box)
{
    /* a linear slope drives sigma up; pycma caps sigma sv_i sqrt(C_ii) at
     * maxstd = width / 3 (maxstd_boundrange) */
    double lo[3], hi[3];
    box(lo, hi, 3, -1, 1);
    nf_optim *o = make(NF_OPTIM_CMAES, 3, lo, hi, NULL, 5);
    double x[64 * 3], f[64];
    int capped = 0;
    for (int g = 0; g < 60 && nf_optim_stop(o) == NF_OPTIM_RUNNING; g++) {
        int lam = nf_optim_lambda(o);
        cr_assert_eq(nf_optim_ask(o, x), NF_OK, "%s", nf_errmsg());
        for (int k = 0; k < lam; k++) f[k] = -(x[3 * k] + 2 * x[3 * k + 1]); /* corner */
        cr_assert_eq(nf_optim_tell(o, f), NF_OK, "%s", nf_errmsg());
        for (int i = 0; i < 3; i++) {
            double sd = o->s.sigma * o->sv[i] * sqrt(o->C[i * 3 + i]);
            cr_assert(sd <= (1.0 / 3.0) * (1 + 1e-12), "gen %d: std[%d] = %g", g, i, sd);
            capped |= o->sv[i] < 1;
        }
    }
    cr_assert(capped, "the cap never acted");
    nf_optim_destroy(o);
}

Test(optim_cmaes, reflect_mode_mirrors_without_a_std_cap)
{
    /* NF_OPTIM_BOUNDS_REFLECT: the previous handling; sv stays 1, stds may
     * exceed a third of the box, points are mirror images inside the box */
    double lo[3], hi[3];
    box(lo, hi, 3, -1, 1);
    nf_optim_config c;
    nf_optim_config_default(&c, NF_OPTIM_CMAES, 3, lo, hi);
    c.seed = 5;
    c.bounds = NF_OPTIM_BOUNDS_REFLECT;
    nf_optim *o;
    cr_assert_eq(nf_optim_create(&c, &o), NF_OK, "%s", nf_errmsg());
    double x[64 * 3], f[64], sdmax = 0;
    for (int g = 0; g < 60 && nf_optim_stop(o) == NF_OPTIM_RUNNING; g++) {
        int lam = nf_optim_lambda(o);
        cr_assert_eq(nf_optim_ask(o, x), NF_OK, "%s", nf_errmsg());
        for (int k = 0; k < lam; k++) {
            for (int j = 0; j < 3; j++) {
                /* the genotype's mirror image, in the caller's units */
                double u = o->pop[k * 3 + j], t = fmod(u, 2.0);
                t = t < 0 ? t + 2 : t;
                cr_assert_float_eq(x[3 * k + j], -1 + 2 * (t <= 1 ? t : 2 - t), 1e-12);
            }
            f[k] = -(x[3 * k] + 2 * x[3 * k + 1]);
        }
        cr_assert_eq(nf_optim_tell(o, f), NF_OK, "%s", nf_errmsg());
        for (int i = 0; i < 3; i++) {
            cr_assert_eq(o->sv[i], 1.0);
            sdmax = fmax(sdmax, o->s.sigma * sqrt(o->C[i * 3 + i]));
        }
    }
    cr_assert_gt(sdmax, 1.0 / 3.0, "the slope should push a std above the cap");
    nf_optim_destroy(o);
}

static double flat(const double *x, int n)
{
    (void)x, (void)n;
    return 1.0;
}

Test(optim_cmaes, ipop_populations_grow_from_the_unrounded_default)
{
    /* pycma's fmin doubles the evaluated option 4 + 3 ln n (10.907 for
     * n = 10): 10, 21, 43, 87, 174 */
    double lo[10], hi[10];
    box(lo, hi, 10, -5, 5);
    nf_optim_config c;
    nf_optim_config_default(&c, NF_OPTIM_CMAES, 10, lo, hi);
    c.restart = NF_OPTIM_RESTART_IPOP;
    c.max_restarts = 4;
    nf_optim *o;
    cr_assert_eq(nf_optim_create(&c, &o), NF_OK, "%s", nf_errmsg());
    const int want[5] = {10, 21, 43, 87, 174};
    int seen = 0, last = 0;
    static double x[174 * 10], f[174];
    while (nf_optim_stop(o) == NF_OPTIM_RUNNING) {
        int lam = nf_optim_lambda(o);
        if (lam != last) {
            cr_assert_lt(seen, 5);
            cr_assert_eq(lam, want[seen], "run %d: lambda %d", seen, lam);
            seen++, last = lam;
        }
        cr_assert_eq(nf_optim_ask(o, x), NF_OK, "%s", nf_errmsg());
        for (int k = 0; k < lam; k++) f[k] = flat(x + 10 * k, 10);
        cr_assert_eq(nf_optim_tell(o, f), NF_OK, "%s", nf_errmsg());
    }
    cr_assert_eq(seen, 5);
    cr_assert_eq(nf_optim_stop(o), NF_OPTIM_STOP_TOLFUN);
    nf_optim_destroy(o);
}

/* restart_local: a restart starts at the best point so far with the step
 * doubled per restart; without it, at a uniformly random mean. */
Test(optim_cmaes, local_restarts_start_at_the_best_point_with_a_growing_step)
{
    enum { N = 10 };
    double lo[N], hi[N], x0[N];
    box(lo, hi, N, -5, 5);
    for (int j = 0; j < N; j++)
        x0[j] = 2.5;
    for (int local = 0; local <= 1; local++) {
        nf_optim_config c;
        nf_optim_config_default(&c, NF_OPTIM_CMAES, N, lo, hi);
        c.x0 = x0;
        c.sigma0 = 0.01;
        c.restart = NF_OPTIM_RESTART_IPOP;
        c.max_restarts = 2;
        c.restart_local = local;
        c.tolfun = 1e3; /* every run stops after its first generations */
        c.seed = 5;
        nf_optim *o;
        cr_assert_eq(nf_optim_create(&c, &o), NF_OK, "%s", nf_errmsg());
        static double x[64 * N], f[64];
        int restarts = 0, far = 0;
        double best[N], fb;
        while (nf_optim_stop(o) == NF_OPTIM_RUNNING) {
            int lam = nf_optim_lambda(o);
            nf_optim_best(o, best, &fb);
            cr_assert_eq(nf_optim_ask(o, x), NF_OK, "%s", nf_errmsg());
            if (nf_optim_restarts(o) > restarts) { /* the first ask of a new run */
                restarts = nf_optim_restarts(o);
                if (local)
                    cr_assert_float_eq(nf_optim_sigma(o), 0.01 * (1 << restarts), 1e-12, "restart %d: sigma %g",
                                       restarts, nf_optim_sigma(o));
                for (int k = 0; k < lam; k++)
                    for (int j = 0; j < N; j++)
                        far += fabs(x[k * N + j] - best[j]) > 1.5;
                if (local)
                    cr_assert_eq(far, 0, "restart %d: samples away from the best point", restarts);
            }
            for (int k = 0; k < lam; k++) {
                f[k] = 0;
                for (int j = 0; j < N; j++)
                    f[k] += (x[k * N + j] - 2) * (x[k * N + j] - 2);
            }
            cr_assert_eq(nf_optim_tell(o, f), NF_OK, "%s", nf_errmsg());
        }
        cr_assert_eq(restarts, 2);
        if (!local)
            cr_assert_gt(far, 0, "random restarts stayed at the best point");
        nf_optim_destroy(o);
    }
    nf_optim_config c;
    double l1[1] = {0}, h1[1] = {1};
    nf_optim_config_default(&c, NF_OPTIM_CMAES, 1, l1, h1);
    c.restart_local = 2;
    nf_optim *o = NULL;
    cr_assert_eq(nf_optim_create(&c, &o), NF_EINVAL);
    cr_assert(strstr(nf_errmsg(), "restart_local"), "%s", nf_errmsg());
}

static double noise(const double *x, int n)
{
    /* deterministic pseudo-random values: never flat, never converging */
    uint64_t h = 1469598103934665603ull;
    for (int j = 0; j < n; j++) {
        uint64_t b;
        memcpy(&b, &x[j], 8);
        h = (h ^ b) * 1099511628211ull;
    }
    return (double)(h >> 11) * 0x1.0p-53;
}

Test(optim_cmaes, every_run_stops_at_pycmas_default_maxiter)
{
    /* maxiter = 100 + 150 (n+3)^2 // sqrt(popsize), popsize = 4 + 3 ln 2 */
    double lo[2], hi[2];
    box(lo, hi, 2, 0, 1);
    nf_optim_config c;
    nf_optim_config_default(&c, NF_OPTIM_CMAES, 2, lo, hi);
    c.tolfun = c.tolx = 0;
    c.stagnation = 1 << 30;
    nf_optim *o;
    cr_assert_eq(nf_optim_create(&c, &o), NF_OK, "%s", nf_errmsg());
    drive(o, noise, lo, hi, 1 << 20);
    int64_t want = 100 + (int64_t)floor(150.0 * 25 / sqrt(4 + 3 * log(2.0)));
    cr_assert_eq(nf_optim_stop(o), NF_OPTIM_STOP_MAXITER, "%s",
                 nf_optim_stop_str(nf_optim_stop(o)));
    cr_assert_eq(nf_optim_generation(o), want);
    nf_optim_destroy(o);
}

/* ---- convergence ---------------------------------------------------------- */

static int64_t solve(nf_optim_kind kind, nf_optim_restart rs, fun_t f, int n, double a, double b,
                     double target, int64_t max_evals, uint64_t seed, double *fbest)
{
    double lo[MAXN], hi[MAXN], x0[MAXN];
    box(lo, hi, n, a, b);
    for (int j = 0; j < n; j++) x0[j] = a + (b - a) * (0.2 + 0.05 * j);
    nf_optim_config c;
    nf_optim_config_default(&c, kind, n, lo, hi);
    c.x0 = x0;
    c.seed = seed;
    c.restart = rs;
    c.target = target;
    c.max_evals = max_evals;
    nf_optim *o;
    cr_assert_eq(nf_optim_create(&c, &o), NF_OK, "%s", nf_errmsg());
    drive(o, f, lo, hi, 1 << 30);
    nf_optim_best(o, NULL, fbest);
    int64_t ev = nf_optim_evals(o);
    nf_optim_destroy(o);
    return ev;
}

Test(optim_cmaes, sphere_5d_within_1500_evals)
{
    for (uint64_t seed = 1; seed <= 3; seed++) {
        double fb;
        int64_t ev = solve(NF_OPTIM_CMAES, NF_OPTIM_RESTART_NONE, nf_tf_sphere, 5, -5, 5, 1e-10, 20000,
                           seed, &fb);
        cr_assert(fb <= 1e-10, "seed %d: f = %g after %ld evals", (int)seed, fb, (long)ev);
        cr_assert(ev <= 1500, "seed %d: %ld evals", (int)seed, (long)ev);
    }
}

Test(optim_cmaes, rosenbrock_6d_with_ipop_within_12000_evals)
{
    for (uint64_t seed = 1; seed <= 3; seed++) {
        double fb;
        int64_t ev = solve(NF_OPTIM_CMAES, NF_OPTIM_RESTART_IPOP, nf_tf_rosenbrock, 6, -5, 5, 1e-8,
                           100000, seed, &fb);
        cr_assert(fb <= 1e-8, "seed %d: f = %g after %ld evals", (int)seed, fb, (long)ev);
        cr_assert(ev <= 12000, "seed %d: %ld evals", (int)seed, (long)ev);
    }
}

Test(optim_cmaes, bipop_solves_rastrigin_4d)
{
    double fb;
    int64_t ev = solve(NF_OPTIM_CMAES, NF_OPTIM_RESTART_BIPOP, nf_tf_rastrigin, 4, -5, 5, 1e-8, 200000,
                       7, &fb);
    cr_assert(fb <= 1e-8, "f = %g after %ld evals", fb, (long)ev);
}

Test(optim_de, shade_and_de_solve_sphere_5d)
{
    double fb;
    int64_t ev = solve(NF_OPTIM_SHADE, NF_OPTIM_RESTART_NONE, nf_tf_sphere, 5, -5, 5, 1e-8, 30000, 3,
                       &fb);
    cr_assert(fb <= 1e-8, "shade: f = %g after %ld evals", fb, (long)ev);
    ev = solve(NF_OPTIM_DE, NF_OPTIM_RESTART_NONE, nf_tf_sphere, 5, -5, 5, 1e-8, 60000, 3, &fb);
    cr_assert(fb <= 1e-8, "de: f = %g after %ld evals", fb, (long)ev);
}

Test(optim_de, shade_solves_rosenbrock_4d)
{
    double fb;
    int64_t ev = solve(NF_OPTIM_SHADE, NF_OPTIM_RESTART_NONE, nf_tf_rosenbrock, 4, -5, 5, 1e-8, 60000,
                       5, &fb);
    cr_assert(fb <= 1e-8, "f = %g after %ld evals", fb, (long)ev);
}

/* ---- bounds ---------------------------------------------------------------- */

/* Optimum (0,..,0) outside the box [1, 3] x [-4, -2] x ...: the search presses
 * against the bounds; every asked point must stay inside, and the best point
 * must approach the nearest corner. */
Test(optim, bounds_never_violated_with_optimum_outside)
{
    const int n = 4;
    double lo[4] = {1, -4, 0.5, -1e-3}, hi[4] = {3, -2, 0.75, 1e-3};
    for (int kind = 0; kind < NF_OPTIM_KIND_COUNT; kind++) {
        nf_optim_config c;
        nf_optim_config_default(&c, (nf_optim_kind)kind, n, lo, hi);
        c.sigma0 = 0.9; /* large steps hit the bounds often */
        c.seed = 11;
        c.max_evals = 6000;
        nf_optim *o;
        cr_assert_eq(nf_optim_create(&c, &o), NF_OK, "%s", nf_errmsg());
        drive(o, nf_tf_sphere, lo, hi, 1 << 30);
        double xb[4], fb;
        nf_optim_best(o, xb, &fb);
        cr_assert_float_eq(xb[0], 1.0, 1e-3, "%s: x0 = %g", nf_optim_kind_str(kind), xb[0]);
        cr_assert_float_eq(xb[1], -2.0, 1e-3, "%s: x1 = %g", nf_optim_kind_str(kind), xb[1]);
        cr_assert_float_eq(xb[2], 0.5, 1e-3, "%s: x2 = %g", nf_optim_kind_str(kind), xb[2]);
        nf_optim_destroy(o);
    }
}

/* ---- determinism and checkpoints --------------------------------------------- */

/* Record the next gens populations of o on f into rec (gens * lambda * n). */
static size_t record(nf_optim *o, fun_t f, int gens, double *rec, size_t cap)
{
    int n = nf_optim_dim(o);
    size_t used = 0;
    double fx[4096];
    for (int g = 0; g < gens && nf_optim_stop(o) == NF_OPTIM_RUNNING; g++) {
        int lam = nf_optim_lambda(o);
        cr_assert(used + (size_t)lam * n <= cap && lam <= 4096);
        cr_assert_eq(nf_optim_ask(o, rec + used), NF_OK, "%s", nf_errmsg());
        for (int k = 0; k < lam; k++) fx[k] = f(rec + used + (size_t)k * n, n);
        cr_assert_eq(nf_optim_tell(o, fx), NF_OK, "%s", nf_errmsg());
        used += (size_t)lam * n;
    }
    return used;
}

typedef struct {
    nf_optim_kind kind;
    nf_optim_restart rs;
} variant;

static const variant VARIANTS[] = {{NF_OPTIM_CMAES, NF_OPTIM_RESTART_NONE},
                                   {NF_OPTIM_CMAES, NF_OPTIM_RESTART_IPOP},
                                   {NF_OPTIM_CMAES, NF_OPTIM_RESTART_BIPOP},
                                   {NF_OPTIM_DE, NF_OPTIM_RESTART_NONE},
                                   {NF_OPTIM_SHADE, NF_OPTIM_RESTART_NONE}};

static nf_optim *make_variant(const variant *v, uint64_t seed, const double *lo, const double *hi)
{
    nf_optim_config c;
    nf_optim_config_default(&c, v->kind, 5, lo, hi);
    c.seed = seed;
    c.restart = v->rs;
    c.tolfun = 1e-3; /* restarts happen early on Rastrigin */
    nf_optim *o;
    cr_assert_eq(nf_optim_create(&c, &o), NF_OK, "%s", nf_errmsg());
    return o;
}

#define REC_CAP (1u << 21)

Test(optim, same_seed_same_sequence_other_seed_differs)
{
    double lo[5], hi[5];
    box(lo, hi, 5, -5, 5);
    double *a = malloc(sizeof(double) * REC_CAP), *b = malloc(sizeof(double) * REC_CAP);
    for (size_t v = 0; v < sizeof VARIANTS / sizeof VARIANTS[0]; v++) {
        nf_optim *o1 = make_variant(&VARIANTS[v], 42, lo, hi);
        nf_optim *o2 = make_variant(&VARIANTS[v], 42, lo, hi);
        nf_optim *o3 = make_variant(&VARIANTS[v], 43, lo, hi);
        size_t na = record(o1, nf_tf_rastrigin, 400, a, REC_CAP);
        size_t nb = record(o2, nf_tf_rastrigin, 400, b, REC_CAP);
        cr_assert_eq(na, nb);
        if (VARIANTS[v].rs != NF_OPTIM_RESTART_NONE) /* the restarts are covered too */
            cr_assert_gt(nf_optim_restarts(o1), 0, "variant %zu never restarted", v);
        cr_assert_eq(memcmp(a, b, na * sizeof(double)), 0, "variant %zu differs", v);
        nb = record(o3, nf_tf_rastrigin, 1, b, REC_CAP);
        cr_assert_neq(memcmp(a, b, nb * sizeof(double)), 0, "variant %zu ignores seed", v);
        nf_optim_destroy(o1);
        nf_optim_destroy(o2);
        nf_optim_destroy(o3);
    }
    free(a);
    free(b);
}

static void tmpname(char *buf, size_t cap, const char *tag)
{
    snprintf(buf, cap, "/tmp/nf_test_optim_%ld_%s.ckpt", (long)getpid(), tag);
}

Test(optim_cmaes, resample_mode_keeps_genotypes_inside_and_finds_a_bound_optimum)
{
    /* NF_OPTIM_BOUNDS_RESAMPLE: candidates outside the box are redrawn, so
     * every genotype is inside [0, 1] and the caller sees exactly it; the
     * optimum on a bound is still reached; a checkpoint continues exactly */
    const int n = 4;
    double lo[4] = {1, -4, 0.5, -1e-3}, hi[4] = {3, -2, 0.75, 1e-3};
    nf_optim_config c;
    nf_optim_config_default(&c, NF_OPTIM_CMAES, n, lo, hi);
    c.sigma0 = 0.9;
    c.seed = 8;
    c.max_evals = 6000;
    c.bounds = NF_OPTIM_BOUNDS_RESAMPLE;
    nf_optim *o;
    cr_assert_eq(nf_optim_create(&c, &o), NF_OK, "%s", nf_errmsg());
    double x[64 * 4], f[64];
    char path[256];
    tmpname(path, sizeof path, "resample");
    for (int g = 0; nf_optim_stop(o) == NF_OPTIM_RUNNING; g++) {
        int lam = nf_optim_lambda(o);
        cr_assert_eq(nf_optim_ask(o, x), NF_OK, "%s", nf_errmsg());
        for (int k = 0; k < lam; k++) {
            for (int j = 0; j < n; j++) {
                double u = o->pop[k * n + j];
                cr_assert(u >= 0.0 && u <= 1.0, "genotype %g outside [0, 1]", u);
                cr_assert_float_eq(x[n * k + j], lo[j] + (hi[j] - lo[j]) * u, 1e-12);
            }
            f[k] = nf_tf_sphere(x + n * k, n);
        }
        cr_assert_eq(nf_optim_tell(o, f), NF_OK, "%s", nf_errmsg());
        if (g == 20) cr_assert_eq(nf_optim_save(o, path), NF_OK, "%s", nf_errmsg());
    }
    double xb[4], fb;
    nf_optim_best(o, xb, &fb);
    cr_assert_float_eq(xb[0], 1.0, 1e-3, "x0 = %g", xb[0]);
    cr_assert_float_eq(xb[1], -2.0, 1e-3, "x1 = %g", xb[1]);
    cr_assert_float_eq(xb[2], 0.5, 1e-3, "x2 = %g", xb[2]);
    /* the checkpoint of generation 20 replays the rest bit-identically */
    nf_optim *r;
    cr_assert_eq(nf_optim_load(&r, path), NF_OK, "%s", nf_errmsg());
    while (nf_optim_stop(r) == NF_OPTIM_RUNNING) {
        int lam = nf_optim_lambda(r);
        cr_assert_eq(nf_optim_ask(r, x), NF_OK, "%s", nf_errmsg());
        for (int k = 0; k < lam; k++) f[k] = nf_tf_sphere(x + n * k, n);
        cr_assert_eq(nf_optim_tell(r, f), NF_OK, "%s", nf_errmsg());
    }
    double xr[4], fr;
    nf_optim_best(r, xr, &fr);
    cr_assert_eq(memcmp(xb, xr, sizeof xb), 0);
    cr_assert_eq(nf_optim_evals(o), nf_optim_evals(r));
    remove(path);
    nf_optim_destroy(o);
    nf_optim_destroy(r);
}

Test(optim, save_restore_continues_bit_identically)
{
    double lo[5], hi[5];
    box(lo, hi, 5, -5, 5);
    double *a = malloc(sizeof(double) * REC_CAP), *b = malloc(sizeof(double) * REC_CAP);
    char path[256];
    tmpname(path, sizeof path, "cont");
    for (size_t v = 0; v < sizeof VARIANTS / sizeof VARIANTS[0]; v++) {
        nf_optim *o = make_variant(&VARIANTS[v], 5, lo, hi);
        record(o, nf_tf_rastrigin, 30, a, REC_CAP);
        /* with restarts, save inside a later run so the restart state is covered */
        for (int g = 0; g < 3000 && VARIANTS[v].rs != NF_OPTIM_RESTART_NONE &&
                        nf_optim_restarts(o) == 0;
             g++)
            record(o, nf_tf_rastrigin, 1, a, REC_CAP);
        if (VARIANTS[v].rs != NF_OPTIM_RESTART_NONE)
            cr_assert_gt(nf_optim_restarts(o), 0, "variant %zu never restarted", v);
        record(o, nf_tf_rastrigin, 5, a, REC_CAP);
        cr_assert_eq(nf_optim_save(o, path), NF_OK, "%s", nf_errmsg());
        size_t na = record(o, nf_tf_rastrigin, 80, a, REC_CAP);
        nf_optim *r;
        cr_assert_eq(nf_optim_load(&r, path), NF_OK, "%s", nf_errmsg());
        size_t nb = record(r, nf_tf_rastrigin, 80, b, REC_CAP);
        cr_assert_eq(na, nb, "variant %zu", v);
        cr_assert_eq(memcmp(a, b, na * sizeof(double)), 0, "variant %zu diverged", v);
        cr_assert_eq(nf_optim_evals(o), nf_optim_evals(r));
        cr_assert_eq(nf_optim_restarts(o), nf_optim_restarts(r));
        double f1, f2;
        nf_optim_best(o, NULL, &f1);
        nf_optim_best(r, NULL, &f2);
        cr_assert_eq(memcmp(&f1, &f2, sizeof f1), 0);
        nf_optim_destroy(o);
        nf_optim_destroy(r);
    }
    remove(path);
    free(a);
    free(b);
}

Test(optim, save_between_ask_and_tell_resumes_the_pending_population)
{
    double lo[3], hi[3], x[3 * 64], y[3 * 64], f[64];
    box(lo, hi, 3, 0, 1);
    char path[256];
    tmpname(path, sizeof path, "pending");
    nf_optim *o = make(NF_OPTIM_SHADE, 3, lo, hi, NULL, 9);
    int lam = nf_optim_lambda(o);
    cr_assert(lam <= 64);
    cr_assert_eq(nf_optim_ask(o, x), NF_OK);
    cr_assert_eq(nf_optim_save(o, path), NF_OK, "%s", nf_errmsg());
    nf_optim *r;
    cr_assert_eq(nf_optim_load(&r, path), NF_OK, "%s", nf_errmsg());
    cr_assert_eq(nf_optim_ask(r, y), NF_ESTATE, "restored optimiser must wait for tell");
    for (int k = 0; k < lam; k++) f[k] = nf_tf_sphere(x + 3 * k, 3);
    cr_assert_eq(nf_optim_tell(o, f), NF_OK);
    cr_assert_eq(nf_optim_tell(r, f), NF_OK);
    cr_assert_eq(nf_optim_ask(o, x), NF_OK);
    cr_assert_eq(nf_optim_ask(r, y), NF_OK);
    cr_assert_eq(memcmp(x, y, sizeof(double) * 3 * lam), 0);
    nf_optim_destroy(o);
    nf_optim_destroy(r);
    remove(path);
}

static void write_bytes(const char *path, const unsigned char *p, size_t n)
{
    FILE *fp = fopen(path, "wb");
    cr_assert(fp);
    cr_assert_eq(fwrite(p, 1, n, fp), n);
    fclose(fp);
}

static unsigned char *read_bytes(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    cr_assert(fp);
    fseek(fp, 0, SEEK_END);
    *n = (size_t)ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *p = malloc(*n);
    cr_assert_eq(fread(p, 1, *n, fp), *n);
    fclose(fp);
    return p;
}

static void expect_reject(const char *path, const char *needle)
{
    nf_optim *r = (nf_optim *)0x1;
    cr_assert_eq(nf_optim_load(&r, path), NF_EFORMAT, "%s", nf_errmsg());
    cr_assert_null(r);
    cr_assert(strstr(nf_errmsg(), needle), "message '%s' lacks '%s'", nf_errmsg(), needle);
}

Test(optim, corrupt_checkpoints_are_rejected)
{
    double lo[4], hi[4];
    box(lo, hi, 4, -1, 1);
    char good[256], bad[256];
    tmpname(good, sizeof good, "good");
    tmpname(bad, sizeof bad, "bad");
    nf_optim *o = make(NF_OPTIM_CMAES, 4, lo, hi, NULL, 3);
    record(o, nf_tf_sphere, 3, (double[512]){0}, 512);
    cr_assert_eq(nf_optim_save(o, good), NF_OK, "%s", nf_errmsg());
    nf_optim_destroy(o);
    size_t n;
    unsigned char *p = read_bytes(good, &n);

    write_bytes(bad, p, n / 2);
    expect_reject(bad, "truncated");
    write_bytes(bad, p, 10);
    expect_reject(bad, "truncated");
    unsigned char *q = malloc(n);
    memcpy(q, p, n);
    q[n / 2] ^= 0x40; /* inside an array: only the checksum can tell */
    write_bytes(bad, q, n);
    expect_reject(bad, "checksum");
    memcpy(q, p, n);
    q[0] = 'X';
    write_bytes(bad, q, n);
    expect_reject(bad, "magic");
    memcpy(q, p, n);
    q[8] = 99; /* version */
    write_bytes(bad, q, n);
    expect_reject(bad, "version");
    write_bytes(bad, p, 0);
    expect_reject(bad, "magic");

    nf_optim *r;
    cr_assert_eq(nf_optim_load(&r, "/nonexistent/dir/ckpt"), NF_EIO);
    cr_assert(strstr(nf_errmsg(), "/nonexistent/dir/ckpt"));
    free(p);
    free(q);
    remove(good);
    remove(bad);
}

/* ---- NaN / Inf fitness -------------------------------------------------------- */

static double sphere_with_holes(const double *x, int n)
{
    /* undefined (NaN) or diverging (Inf) in parts of the box, minimum at 0.3 */
    if (x[0] > 2) return NAN;
    if (x[1] < -2) return INFINITY;
    if (x[1] > 3) return -INFINITY; /* not a real minimum: must rank as worst */
    double s = 0;
    for (int i = 0; i < n; i++) s += (x[i] - 0.3) * (x[i] - 0.3);
    return s;
}

Test(optim, nan_and_inf_fitness_rank_as_worst)
{
    double lo[4], hi[4];
    box(lo, hi, 4, -5, 5);
    double x0[4] = {4, 0, 0, 0}; /* start inside the NaN region */
    for (int kind = 0; kind < NF_OPTIM_KIND_COUNT; kind++) {
        nf_optim_config c;
        nf_optim_config_default(&c, (nf_optim_kind)kind, 4, lo, hi);
        c.x0 = x0;
        c.seed = 2;
        c.target = 1e-10;
        c.max_evals = 60000;
        nf_optim *o;
        cr_assert_eq(nf_optim_create(&c, &o), NF_OK, "%s", nf_errmsg());
        drive(o, sphere_with_holes, lo, hi, 1 << 30);
        double xb[4], fb;
        nf_optim_best(o, xb, &fb);
        cr_assert(fb <= 1e-10, "%s: f = %g (%s)", nf_optim_kind_str(kind), fb,
                  nf_optim_stop_str(nf_optim_stop(o)));
        cr_assert_float_eq(xb[0], 0.3, 1e-4);
        nf_optim_destroy(o);
    }
}

Test(optim, all_nan_generations_do_not_crash)
{
    double lo[3], hi[3], x[3 * 64], f[64];
    box(lo, hi, 3, 0, 1);
    for (int kind = 0; kind < NF_OPTIM_KIND_COUNT; kind++) {
        nf_optim *o = make((nf_optim_kind)kind, 3, lo, hi, NULL, 1);
        for (int g = 0; g < 30 && nf_optim_stop(o) == NF_OPTIM_RUNNING; g++) {
            int lam = nf_optim_lambda(o);
            cr_assert(lam <= 64);
            cr_assert_eq(nf_optim_ask(o, x), NF_OK, "%s", nf_errmsg());
            for (int k = 0; k < lam; k++) {
                f[k] = NAN;
                for (int j = 0; j < 3; j++) cr_assert(isfinite(x[3 * k + j]));
            }
            cr_assert_eq(nf_optim_tell(o, f), NF_OK, "%s", nf_errmsg());
        }
        double fb;
        nf_optim_best(o, NULL, &fb);
        cr_assert(isinf(fb) && fb > 0);
        nf_optim_destroy(o);
    }
}

/* ---- stopping ------------------------------------------------------------------- */

Test(optim, stop_reasons_are_reported)
{
    double lo[3], hi[3];
    box(lo, hi, 3, -1, 1);
    nf_optim_config c;
    nf_optim_config_default(&c, NF_OPTIM_CMAES, 3, lo, hi);
    c.max_evals = 70;
    nf_optim *o;
    cr_assert_eq(nf_optim_create(&c, &o), NF_OK);
    drive(o, nf_tf_sphere, lo, hi, 1000);
    cr_assert_eq(nf_optim_stop(o), NF_OPTIM_STOP_MAXEVALS);
    cr_assert_geq(nf_optim_evals(o), 70);
    cr_assert_str_eq(nf_optim_stop_str(nf_optim_stop(o)), "maximum number of evaluations reached");
    double x[64];
    cr_assert_eq(nf_optim_ask(o, x), NF_ESTATE);
    cr_assert(strstr(nf_errmsg(), "stopped"));
    nf_optim_destroy(o);

    /* no target, no budget: a local criterion must end a run on the sphere */
    nf_optim_config_default(&c, NF_OPTIM_CMAES, 3, lo, hi);
    c.tolx = 1e-9;
    c.tolfun = 0;
    cr_assert_eq(nf_optim_create(&c, &o), NF_OK);
    drive(o, nf_tf_sphere, lo, hi, 100000);
    cr_assert_eq(nf_optim_stop(o), NF_OPTIM_STOP_TOLX, "%s", nf_optim_stop_str(nf_optim_stop(o)));
    nf_optim_destroy(o);

    nf_optim_config_default(&c, NF_OPTIM_CMAES, 3, lo, hi);
    c.tolfun = 1e-6;
    cr_assert_eq(nf_optim_create(&c, &o), NF_OK);
    drive(o, nf_tf_sphere, lo, hi, 100000);
    cr_assert_eq(nf_optim_stop(o), NF_OPTIM_STOP_TOLFUN, "%s", nf_optim_stop_str(nf_optim_stop(o)));
    nf_optim_destroy(o);

    /* constant fitness: never improves after the first generation */
    nf_optim_config_default(&c, NF_OPTIM_DE, 3, lo, hi);
    c.tolfun = 0;
    c.stagnation = 20;
    cr_assert_eq(nf_optim_create(&c, &o), NF_OK);
    double xs[3 * 64], fs[64];
    while (nf_optim_stop(o) == NF_OPTIM_RUNNING) {
        cr_assert_eq(nf_optim_ask(o, xs), NF_OK);
        for (int k = 0; k < nf_optim_lambda(o); k++) fs[k] = 1.0;
        cr_assert_eq(nf_optim_tell(o, fs), NF_OK);
    }
    cr_assert_eq(nf_optim_stop(o), NF_OPTIM_STOP_STAGNATION);
    cr_assert_leq(nf_optim_generation(o), 23);
    nf_optim_destroy(o);
}

/* ---- argument checking ----------------------------------------------------------- */

static void expect_invalid(const nf_optim_config *c, const char *needle)
{
    nf_optim *o = (nf_optim *)0x1;
    cr_assert_eq(nf_optim_create(c, &o), NF_EINVAL, "expected NF_EINVAL for '%s'", needle);
    cr_assert_null(o);
    cr_assert(strstr(nf_errmsg(), needle), "message '%s' lacks '%s'", nf_errmsg(), needle);
}

Test(optim, invalid_arguments_are_rejected_with_clear_messages)
{
    double lo[3] = {0, 0, 0}, hi[3] = {1, 1, 1}, bad_hi[3] = {1, 0, 1}, x0[3] = {0.5, 2, 0.5};
    nf_optim_config c;
    nf_optim_config_default(&c, NF_OPTIM_CMAES, 0, lo, hi);
    expect_invalid(&c, "dimension n = 0");
    nf_optim_config_default(&c, NF_OPTIM_CMAES, 3, lo, bad_hi);
    expect_invalid(&c, "bounds[1]: lower 0 >= upper 0");
    nf_optim_config_default(&c, NF_OPTIM_CMAES, 3, NULL, hi);
    expect_invalid(&c, "lower is NULL");
    nf_optim_config_default(&c, NF_OPTIM_CMAES, 3, lo, hi);
    c.lambda = 1;
    expect_invalid(&c, "lambda = 1 must be >= 2");
    nf_optim_config_default(&c, NF_OPTIM_DE, 3, lo, hi);
    c.lambda = 3;
    expect_invalid(&c, "lambda >= 4");
    nf_optim_config_default(&c, NF_OPTIM_CMAES, 3, lo, hi);
    c.sigma0 = 0;
    expect_invalid(&c, "sigma0");
    nf_optim_config_default(&c, NF_OPTIM_CMAES, 3, lo, hi);
    c.x0 = x0;
    expect_invalid(&c, "x0[1] = 2 is outside");
    nf_optim_config_default(&c, NF_OPTIM_SHADE, 3, lo, hi);
    c.restart = NF_OPTIM_RESTART_IPOP;
    expect_invalid(&c, "only available for cmaes");
    nf_optim_config_default(&c, NF_OPTIM_CMAES, 3, lo, hi);
    c.target = NAN;
    expect_invalid(&c, "target");
    nf_optim_config_default(&c, NF_OPTIM_CMAES, 3, lo, hi);
    c.bounds = (nf_optim_bounds)3;
    expect_invalid(&c, "bounds = 3 is not transform (0), reflect (1) or resample (2)");
    /* the names of the bound modes go both ways; an unknown name is refused */
    for (int b = 0; b <= NF_OPTIM_BOUNDS_RESAMPLE; b++) {
        nf_optim_bounds back = (nf_optim_bounds)7;
        cr_assert_eq(nf_optim_bounds_parse(nf_optim_bounds_str((nf_optim_bounds)b), &back), 0);
        cr_assert_eq(back, b);
    }
    nf_optim_bounds keep = NF_OPTIM_BOUNDS_REFLECT;
    cr_assert_neq(nf_optim_bounds_parse("clip", &keep), 0);
    cr_assert_eq(keep, NF_OPTIM_BOUNDS_REFLECT);
    cr_assert_str_eq(nf_optim_bounds_str((nf_optim_bounds)3), "unknown");
    double nan_lo[3] = {0, NAN, 0};
    nf_optim_config_default(&c, NF_OPTIM_CMAES, 3, nan_lo, hi);
    expect_invalid(&c, "bounds[1]");
    expect_invalid(NULL, "config is NULL");
    nf_optim_config_default(&c, NF_OPTIM_CMAES, 3, lo, hi);
    cr_assert_eq(nf_optim_create(&c, NULL), NF_EINVAL);

    /* call order and NULL buffers */
    nf_optim *o;
    cr_assert_eq(nf_optim_create(&c, &o), NF_OK);
    double x[64], f[64] = {0};
    cr_assert_eq(nf_optim_tell(o, f), NF_ESTATE);
    cr_assert(strstr(nf_errmsg(), "no population was asked"));
    cr_assert_eq(nf_optim_ask(o, NULL), NF_EINVAL);
    cr_assert_eq(nf_optim_ask(o, x), NF_OK);
    cr_assert_eq(nf_optim_ask(o, x), NF_ESTATE);
    cr_assert(strstr(nf_errmsg(), "not told yet"));
    cr_assert_eq(nf_optim_tell(o, NULL), NF_EINVAL);
    cr_assert_eq(nf_optim_tell(o, f), NF_OK);
    cr_assert_eq(nf_optim_save(o, NULL), NF_EINVAL);
    cr_assert_eq(nf_optim_save(o, "/nonexistent/dir/ckpt"), NF_EIO);
    nf_optim_destroy(o);
    nf_optim_destroy(NULL);
}

/* ---- smallest sizes ---------------------------------------------------------------- */

Test(optim, one_dimension_and_smallest_populations_work)
{
    double lo[1] = {-1}, hi[1] = {2};
    static const struct {
        nf_optim_kind kind;
        int lambda;
    } cases[] = {{NF_OPTIM_CMAES, 0}, {NF_OPTIM_CMAES, 2}, {NF_OPTIM_DE, 4}, {NF_OPTIM_SHADE, 4}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nf_optim_config c;
        nf_optim_config_default(&c, cases[i].kind, 1, lo, hi);
        c.lambda = cases[i].lambda;
        c.target = 1e-12;
        c.max_evals = 20000;
        nf_optim *o;
        cr_assert_eq(nf_optim_create(&c, &o), NF_OK, "%s", nf_errmsg());
        drive(o, nf_tf_sphere, lo, hi, 1 << 30);
        double fb;
        nf_optim_best(o, NULL, &fb);
        cr_assert(fb <= 1e-12, "case %zu (%s, lambda %d): f = %g, %s", i,
                  nf_optim_kind_str(cases[i].kind), nf_optim_lambda(o), fb,
                  nf_optim_stop_str(nf_optim_stop(o)));
        nf_optim_destroy(o);
    }
}
