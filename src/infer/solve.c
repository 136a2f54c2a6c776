/* Ridge-regularised solves of symmetric positive definite systems for the
 * estimators of src/infer and the summaries of src/sbc (infer_internal.h):
 * the ridge here, the Cholesky factorisation and solve by LAPACK (dposv). */
#include "infer/infer_internal.h"

#include <lapacke.h>

/* A [p][p] row-major, B [p][nrhs] row-major; A holds its lower triangle's
 * factor afterwards. */
static int spd_solve(double *A, double *B, int p, int nrhs)
{
    return LAPACKE_dposv(LAPACK_ROW_MAJOR, 'L', p, nrhs, A, p, B, nrhs) == 0 ? 0 : -1;
}

int nf__spd_solve(double *A, double *B, int p, int nrhs, double ridge)
{
    double tr = 0.0;
    for (int i = 0; i < p; i++) tr += A[i * p + i];
    double add = ridge * (tr > 0.0 ? tr / p : 1.0);
    for (int i = 0; i < p; i++) A[i * p + i] += add;
    return spd_solve(A, B, p, nrhs);
}

int nf__spd_solve_scaled(double *A, double *B, int p, int nrhs, double ridge)
{
    for (int i = 0; i < p; i++) A[i * p + i] += ridge * (A[i * p + i] > 0.0 ? A[i * p + i] : 1.0);
    return spd_solve(A, B, p, nrhs);
}
