/* Ridge-regularised solves of symmetric positive definite systems for the
 * estimators of src/infer and the summaries of src/sbc (infer_internal.h). */
#include "infer/infer_internal.h"

#include <math.h>

static int chol_factor_solve(double *A, double *B, int p, int nrhs);

int nf__spd_solve(double *A, double *B, int p, int nrhs, double ridge)
{
    double tr = 0.0;
    for (int i = 0; i < p; i++) tr += A[i * p + i];
    double add = ridge * (tr > 0.0 ? tr / p : 1.0);
    for (int i = 0; i < p; i++) A[i * p + i] += add;
    return chol_factor_solve(A, B, p, nrhs);
}

int nf__spd_solve_scaled(double *A, double *B, int p, int nrhs, double ridge)
{
    for (int i = 0; i < p; i++) A[i * p + i] += ridge * (A[i * p + i] > 0.0 ? A[i * p + i] : 1.0);
    return chol_factor_solve(A, B, p, nrhs);
}

static int chol_factor_solve(double *A, double *B, int p, int nrhs)
{
    for (int j = 0; j < p; j++) {
        double s = A[j * p + j];
        for (int m = 0; m < j; m++) s -= A[j * p + m] * A[j * p + m];
        if (!(s > 0.0)) return -1;
        double l = sqrt(s);
        A[j * p + j] = l;
        for (int i = j + 1; i < p; i++) {
            double t = A[i * p + j];
            for (int m = 0; m < j; m++) t -= A[i * p + m] * A[j * p + m];
            A[i * p + j] = t / l;
        }
    }
    for (int r = 0; r < nrhs; r++) {
        for (int i = 0; i < p; i++) { /* L y = b */
            double t = B[i * nrhs + r];
            for (int m = 0; m < i; m++) t -= A[i * p + m] * B[m * nrhs + r];
            B[i * nrhs + r] = t / A[i * p + i];
        }
        for (int i = p - 1; i >= 0; i--) { /* L^T x = y */
            double t = B[i * nrhs + r];
            for (int m = i + 1; m < p; m++) t -= A[m * p + i] * B[m * nrhs + r];
            B[i * nrhs + r] = t / A[i * p + i];
        }
    }
    return 0;
}

