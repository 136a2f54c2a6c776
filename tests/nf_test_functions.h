/* Classic test functions for the optimiser tests (test_optim.c) and
 * bench/bench_optim.c; header only, test code, not part of the library.
 * Minimum 0: sphere, ellipsoid and Rastrigin at x = 0, Rosenbrock at x = 1. */
#ifndef NF_TEST_FUNCTIONS_H
#define NF_TEST_FUNCTIONS_H

#include <math.h>

static inline double nf_tf_sphere(const double *x, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += x[i] * x[i];
    return s;
}

/* condition 1e6: coefficients 10^(6 i / (n - 1)) */
static inline double nf_tf_ellipsoid(const double *x, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++) s += pow(1e6, n > 1 ? (double)i / (n - 1) : 0) * x[i] * x[i];
    return s;
}

static inline double nf_tf_rosenbrock(const double *x, int n)
{
    double s = 0;
    for (int i = 0; i + 1 < n; i++) {
        double a = x[i + 1] - x[i] * x[i], b = 1 - x[i];
        s += 100 * a * a + b * b;
    }
    return s;
}

static inline double nf_tf_rastrigin(const double *x, int n)
{
    double s = 10.0 * n;
    for (int i = 0; i < n; i++) s += x[i] * x[i] - 10 * cos(2 * 3.141592653589793 * x[i]);
    return s;
}

#endif
