/* The command line's hook into the MPI layer (neurofit/dist.h): `mpirun -np N
 * neurofit COMMAND ...` starts N copies; main() starts MPI in them
 * (nf_cli_dist_begin) and ends it (nf_cli_dist_end: every rank's exit code
 * meets rank 0's, which names a failing rank). Only rank 0 prints: the other
 * ranks' standard output goes nowhere and their error messages
 * (nf_cli_error) are kept for the agreement instead of printed. A command
 * with a distributed form calls nf_cli_dist_agree(CMD, 0) just before it,
 * so that a rank that failed earlier stops it everywhere. */
#ifndef NEUROFIT_CLI_DIST_H
#define NEUROFIT_CLI_DIST_H

/* Start MPI when an MPI launcher started this process and the library has
 * the MPI layer. Returns an exit code (0: go on). */
int nf_cli_dist_begin(void);
/* The job's exit code from this rank's rc (collective), then MPI ends. */
int nf_cli_dist_end(int rc);
/* 1 on a rank > 0 for a command without a distributed form (only fit, sbi
 * simulate and sbi sbc have one): rank 0 runs it alone, the others exit 0.
 * argv as main's. */
int nf_cli_dist_skip(int argc, char **argv);
/* 1 when this process is one rank of an MPI job (any number of ranks). */
int nf_cli_dist(void);
/* 1 on the ranks other than 0 of a job. */
int nf_cli_dist_worker(void);
/* Collective: this rank's rc against every other rank's; rank 0 prints a
 * failing rank's message (rank, host) unless it failed itself. Returns the
 * agreed code (0: every rank is fine). Without MPI: rc. */
int nf_cli_dist_agree(const char *cmd, int rc);
/* nf_cli_error's message: kept (returns 1: not to be printed) on ranks > 0. */
int nf_cli_dist_keep_error(const char *msg);

#endif
