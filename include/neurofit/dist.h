/* One job across MPI ranks: `mpirun -np N neurofit fit | sbi simulate | sbi sbc`.
 *
 * The MPI layer (src/dist/, Open MPI; optional: nf_dist_built() says whether
 * this library has it) sits above the fit and SBI drivers and below the
 * command line: the drivers know nothing of ranks, and a job's outputs are
 * the one-process run's, byte for byte but for timings.
 *
 *  - fit: rank 0 reads the recordings and shares out (group, model) work
 *    items (a group: a cell's sweeps, or one sweep; nf_fit_groups) as a
 *    dynamic queue weighted by cost (the fitted sweeps' samples x sub-steps x
 *    budget x the model's cost per step), in chunks of items of one model that
 *    shrink as the queue empties (guided scheduling); each chunk is one
 *    nf_fit_groups of its groups with that model on the rank that takes it,
 *    checkpointed in its own directory, so that --resume continues with any
 *    number of ranks. Rank 0 gathers the records, ranks them as
 *    nf_fit_groups does and returns the result nf_fit_groups returns
 *    (nf_fit_write then writes it).
 *  - sbi simulate: each rank simulates a contiguous range of global indices
 *    and writes its rows at their offsets into the .npy files that rank 0
 *    created (headers first) in the output set's stage; rank 0 writes
 *    meta.json last and commits the set.
 *  - sbi sbc: the reference table and the SBC draws in contiguous ranges,
 *    gathered; rank 0 analyses and writes.
 *
 * One device per rank: nf_dist_init makes the CUDA device of a rank its local
 * rank (its index among the ranks of its node) modulo the node's GPUs, or
 * modulo the devices CUDA_VISIBLE_DEVICES lists, by narrowing
 * CUDA_VISIBLE_DEVICES to that one device before CUDA starts; a CPU rank
 * takes its share of the node's cores (engines created with n_threads <= 0).
 *
 * Failures: every rank's status meets in nf_dist_agree; a failing rank is
 * named on rank 0 with its host and message, and every rank returns the
 * failure. The library never prints and never exits (nor calls MPI_Abort).
 *
 * Without MPI (a build without Open MPI, or a process not started by
 * mpirun / srun) nothing here is used: nf_dist_rank() is 0, nf_dist_size()
 * 1, nf_dist_agree returns its code, and the operations return
 * NF_EUNSUPPORTED. */
#ifndef NEUROFIT_DIST_H
#define NEUROFIT_DIST_H

#include "neurofit/fit.h"
#include "neurofit/sbc.h"
#include "neurofit/sbi.h"
#include "neurofit/status.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when this library was built with the MPI layer. */
int nf_dist_built(void);

/* 1 when an MPI launcher started this process (mpirun, or srun with PMI/PMIx:
 * its environment says so), whether or not the library has MPI. */
int nf_dist_launched(void);

/* MPI_Init (thread level funneled: only the calling thread makes MPI calls),
 * this rank's device and core share (above). Call once, before any engine
 * exists. NF_EUNSUPPORTED without the MPI layer; NF_ESTATE when called twice. */
nf_status nf_dist_init(void);

/* MPI_Finalize after nf_dist_init; nothing otherwise. */
void nf_dist_finalize(void);

/* This rank, the number of ranks and this rank's host (0, 1 and "" before
 * nf_dist_init or without MPI). */
int nf_dist_rank(void);
int nf_dist_size(void);
const char *nf_dist_host(void);

/* Collective (every rank calls it, with its own code: 0 fine, anything else
 * a failure, and message saying why, may be NULL): returns on every rank the
 * code of the lowest-numbered failing rank, 0 when none failed. On rank 0
 * nf_errmsg() then reads "rank R (host H): message". Once it has returned a
 * failure the job is over: later calls return that code at once, without
 * communicating. Without nf_dist_init: returns code. The operations below
 * begin with nf_dist_agree(0, NULL), so that a rank that failed before them
 * (and calls nf_dist_agree with its failure instead) stops them everywhere. */
int nf_dist_agree(int code, const char *message);

/* A fit job's progress, on rank 0. */
typedef struct nf_dist_progress {
    int64_t done, total;          /* (group, model) items: the survey's, then the refinements' */
    int groups_done, n_groups;    /* groups with every item done */
    double work_done, work_total; /* estimated work (model steps x the model's cost per step) */
    int ranks, ranks_busy;
    double elapsed_s;
} nf_dist_progress;

/* Called on every rank: on rank 0 with the job's progress, on the others
 * with p NULL. Return non-zero to stop the job (checkpoints are saved; the
 * operation returns NF_EINTERRUPTED). */
typedef int (*nf_dist_progress_fn)(const nf_dist_progress *p, void *user);

/* What a job's share-out cost, for measurements (rank 0). */
typedef struct nf_dist_stats {
    int64_t chunks, items;     /* chunks handed out, (group, model) items in them */
    double wait_s;             /* time the ranks waited for their next chunk while work remained */
    int64_t waits;             /* the waits counted in wait_s */
    double seconds;            /* wall time of the job */
} nf_dist_stats;

/* nf_fit_groups across the ranks. Rank 0 passes the recordings, the groups
 * (NULL: every recording a group of its own, as nf_fit) and the options (its
 * starts, checkpoint_dir, resume); the other ranks pass targets and groups
 * NULL and the same options otherwise (the command line parsed alike: a rank
 * whose options differ from rank 0's fails the job). opt->progress is not
 * called (progress is); opt->threads <= 0: the rank's share of its node's
 * cores. Checkpoints go below opt->checkpoint_dir/dist (one directory per
 * chunk: any number of ranks resumes them). On rank 0 *out receives what
 * nf_fit_groups returns, record for record (seconds aside); on the others
 * NULL. stats (rank 0) may be NULL. */
nf_status nf_dist_fit(const nf_fit_target *targets, int n_targets, const nf_fit_group *groups, int n_groups,
                      const nf_fit_options *opt, nf_dist_progress_fn progress, void *user, nf_fit_result **out,
                      nf_dist_stats *stats);

/* nf_sbi_write_dataset across the ranks, every rank with the same config and
 * options and its own engine: the dataset in dir is byte for byte the one a
 * single process writes. opts->progress is called on rank 0 with the
 * simulations done by all ranks, on the others with their own. */
nf_status nf_dist_sbi_write_dataset(nf_engine *e, const nf_sbi_config *cfg, const char *dir,
                                    const nf_sbi_write_opts *opts);

/* nf_sbc_lif_run across the ranks (same options on every rank, each with its
 * own engine): *out on rank 0 is what nf_sbc_lif_run returns, NULL on the
 * others. times (wall seconds of rank 0's share) may be NULL. */
nf_status nf_dist_sbc_lif_run(nf_engine *e, const nf_sbc_lif_opts *o, nf_sbc_result **out, nf_sbc_lif_times *times);

#ifdef __cplusplus
}
#endif
#endif
