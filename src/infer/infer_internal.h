/* Internals of the inference module (src/infer), also used by the SBC
 * problem's summaries (src/sbc/lif_summaries.c). Not installed. */
#ifndef NEUROFIT_INFER_INTERNAL_H
#define NEUROFIT_INFER_INTERNAL_H

/* Solve the symmetric positive (semi)definite system A x = b in place with a
 * relative ridge (A += ridge * mean diag). A: [p][p] (overwritten), B:
 * [p][nrhs] overwritten with the solution. Returns 0 on success, -1 when A is
 * not positive definite. */
int nf__spd_solve(double *A, double *B, int p, int nrhs, double ridge);

/* The same with a ridge scaled per column (A[i][i] *= 1 + ridge): invariant to
 * the scale of each regressor, so a summary that varies little inside a
 * narrow neighbourhood is not shrunk more than one that varies a lot (the
 * local fits of the ABC correction). */
int nf__spd_solve_scaled(double *A, double *B, int p, int nrhs, double ridge);

#endif
