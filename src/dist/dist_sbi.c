/* nf_dist_sbi_write_dataset and nf_dist_sbc_lif_run (include/neurofit/dist.h):
 * contiguous ranges of global indices, rank r taking [N r / size,
 * N (r + 1) / size). A simulation depends on its global index only (prior
 * draws, stimuli and noise are Philox streams keyed by it), so the rows are
 * the one-process run's whatever the split.
 *
 * The dataset: rank 0 opens the output set's stage and creates its .npy files
 * with their final headers and sizes (core/npy_rows.h); every rank writes its
 * rows at their offsets (pwrite, on a file system all ranks share) and syncs
 * them; after every rank said it is done, rank 0 writes meta.json, the set's
 * marker, and commits the set, as nf_sbi_write_dataset does. Workers report
 * the simulations they finished to rank 0, which reports the job's progress.
 *
 * SBC: the reference table in ranges, gathered on every rank (each builds
 * the same estimator), then the test cases in ranges, gathered on rank 0,
 * which analyses them. */
#include "neurofit/dist.h"

#include "dist/dist_internal.h"
#include "internal.h"

#ifdef NF_HAVE_MPI

#include "neurofit/fileio.h"
#include "npy_rows.h"
#include "sbc/sbc_lif.h"
#include "sbi/sbi_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void my_range(int64_t N, int64_t *lo, int64_t *hi)
{
    const int r = nf_dist_rank(), size = nf_dist_size();
    *lo = N * r / size;
    *hi = N * (r + 1) / size;
}

/* Every rank's own code and message into the agreement: a status on every
 * rank (rank 0: the failing rank's message). */
static nf_status agree(nf_status s)
{
    char why[1024];
    snprintf(why, sizeof why, "%s", s ? nf_errmsg() : "");
    int code = nf_dist_agree(s, why);
    if (!code)
        return NF_OK;
    if (nf_dist_rank() == 0)
        return (nf_status)code; /* the message is set */
    return nf__fail((nf_status)code, "stopped: another rank failed (rank 0 says which)");
}

/* ---- the dataset ------------------------------------------------------------------ */

/* Rows [first, first+n) of one file (row_bytes each) at their offset. */
static nf_status put_rows(int fd, const char *name, const void *rows, int64_t first, int64_t n, size_t row_bytes)
{
    const char *p = rows;
    size_t left = (size_t)n * row_bytes;
    off_t at = (off_t)NF__NPY_DATA_OFFSET + (off_t)first * (off_t)row_bytes;
    while (left > 0) {
        ssize_t w = pwrite(fd, p, left, at);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return nf__fail(NF_EIO, "error writing %s: %s", name, w < 0 ? strerror(errno) : "no space");
        p += w;
        at += w;
        left -= (size_t)w;
    }
    return NF_OK;
}

/* Rank 0: simulations done by every rank, from their PROGRESS messages. */
typedef struct sbi_progress {
    int64_t *done; /* [size] */
    int *over;     /* [size]: sent its last message (its range, or -1: failed) */
} sbi_progress;

static void take_progress(sbi_progress *pr, int wait_all)
{
    const int size = nf_dist_size();
    for (;;) {
        int src, tag;
        size_t len;
        int any = nf__dist_poll(-1, NF__TAG_PROGRESS, &src, &tag, &len);
        if (!any) {
            int open = 0;
            for (int k = 1; k < size; k++)
                open += !pr->over[k];
            if (!wait_all || !open)
                return;
            nf__dist_wait(-1, NF__TAG_PROGRESS, &src, &tag, &len);
        }
        int64_t v[2] = {0, 0}; /* done, 1 when it is the rank's last message */
        nf__dist_recv(src, NF__TAG_PROGRESS, v, sizeof v);
        if (v[0] >= 0)
            pr->done[src] = v[0];
        if (v[1])
            pr->over[src] = 1;
    }
}

nf_status nf_dist_sbi_write_dataset(nf_engine *e, const nf_sbi_config *cfg, const char *dir,
                                    const nf_sbi_write_opts *o)
{
    nf_status s = nf__dist_need_init("sbi (MPI)");
    if (s)
        return s;
    const int rank = nf_dist_rank(), size = nf_dist_size();
    nf__sbi_layout lay;
    s = nf__sbi_layout_make(cfg, o, &lay);
    /* rank 0: the stage and the files, headers and sizes final */
    nf_stage *stage = NULL;
    char stage_path[4096] = "", path[4096];
    if (!s && rank == 0 && !(s = nf_stage_open(dir, &stage))) {
        snprintf(stage_path, sizeof stage_path, "%s", nf_stage_path(stage));
        for (int f = 0; f < NF__SBI_FILES && !s; f++) {
            if (!lay.wrote[f])
                continue;
            int64_t shape[2] = {o->n_sims, lay.cols[f]};
            if (!(s = nf_path_join(path, sizeof path, stage_path, nf__sbi_file_names[f])))
                s = nf__npy_create(path, lay.type[f], f == NF__SBI_VALID ? 1 : 2, shape);
        }
    }
    if ((s = agree(s))) {
        nf_stage_destroy(stage);
        return s;
    }
    MPI_Bcast(stage_path, (int)sizeof stage_path, MPI_CHAR, 0, MPI_COMM_WORLD);

    int64_t lo, hi;
    my_range(o->n_sims, &lo, &hi);
    const int64_t chunk = lay.chunk;
    int fd[NF__SBI_FILES];
    for (int f = 0; f < NF__SBI_FILES; f++)
        fd[f] = -1;
    for (int f = 0; f < NF__SBI_FILES && !s && hi > lo; f++)
        if (lay.wrote[f]) {
            if (!(s = nf_path_join(path, sizeof path, stage_path, nf__sbi_file_names[f])) &&
                (fd[f] = open(path, O_WRONLY)) < 0)
                s = nf__fail(NF_EIO, "cannot write %s: %s", path, strerror(errno));
        }
    nf_sbi_runner *r = NULL;
    float *buf[NF__SBI_FILES] = {0};
    if (!s && hi > lo)
        s = nf_sbi_runner_create(e, cfg, chunk, &r);
    for (int f = 0; f < NF__SBI_FILES && !s && hi > lo; f++)
        if (lay.wrote[f] && !(buf[f] = nf__malloc_array((size_t)chunk * (size_t)lay.cols[f], sizeof(float))))
            s = nf__fail(NF_ENOMEM, "sbi (MPI): out of memory for chunks of %lld simulations", (long long)chunk);
    sbi_progress pr = {0};
    if (rank == 0) {
        pr.done = calloc((size_t)size, sizeof *pr.done);
        pr.over = calloc((size_t)size, sizeof *pr.over);
        if (!pr.done || !pr.over)
            s = nf__fail(NF_ENOMEM, "sbi (MPI): out of memory");
    }
    int64_t n_valid = 0, done = 0;
    int sent_last = rank == 0; /* a worker's last PROGRESS message (its range done, or -1: failed) */
    for (int64_t first = lo; first < hi && !s; first += chunk) {
        int64_t n = hi - first < chunk ? hi - first : chunk;
        float *traces = (cfg->x & NF_SBI_X_TRACES) ? buf[NF__SBI_X] : NULL;
        float *sums = cfg->x == NF_SBI_X_SUMMARIES ? buf[NF__SBI_X] : buf[NF__SBI_SUM];
        uint8_t *valid = (uint8_t *)buf[NF__SBI_VALID];
        s = nf_sbi_runner_run(r, first, n, buf[NF__SBI_THETA], buf[NF__SBI_STIM], traces, sums, valid);
        if (!s && lay.wrote[NF__SBI_SPAR]) nf__sbi_stim_params(cfg, first, n, buf[NF__SBI_SPAR]);
        for (int f = 0; f < NF__SBI_FILES && !s; f++)
            if (lay.wrote[f])
                s = put_rows(fd[f], nf__sbi_file_names[f], buf[f], first, n,
                             (size_t)lay.cols[f] * nf_dtype_size(lay.type[f]));
        if (s)
            break;
        for (int64_t i = 0; i < n; i++)
            n_valid += valid[i] != 0;
        done += n;
        int64_t total = done;
        if (rank == 0) {
            take_progress(&pr, 0);
            for (int k = 1; k < size; k++)
                total += pr.done[k];
        }
        if (o->progress && o->progress(o->user, rank == 0 ? total : done, rank == 0 ? o->n_sims : hi - lo))
            s = nf__fail(NF_EINTERRUPTED, "sbi: stopped after %lld of %lld simulations; nothing was committed",
                         (long long)total, (long long)o->n_sims);
        if (!s && rank > 0) {
            int64_t v[2] = {done, first + n >= hi};
            sent_last = first + n >= hi;
            nf__dist_send(0, NF__TAG_PROGRESS, v, sizeof v);
        }
    }
    if (!sent_last) { /* a worker that failed, or had nothing to do */
        int64_t v[2] = {s ? -1 : 0, 1};
        nf__dist_send(0, NF__TAG_PROGRESS, v, sizeof v);
    }
    for (int f = 0; f < NF__SBI_FILES; f++) {
        if (fd[f] >= 0 && (fsync(fd[f]) != 0 && errno != EINVAL) && !s)
            s = nf__fail(NF_EIO, "cannot sync %s: %s", nf__sbi_file_names[f], strerror(errno));
        if (fd[f] >= 0 && close(fd[f]) != 0 && !s)
            s = nf__fail(NF_EIO, "error writing %s: %s", nf__sbi_file_names[f], strerror(errno));
        free(buf[f]);
    }
    nf_sbi_runner_destroy(r);
    if (rank == 0 && pr.over) {
        take_progress(&pr, 1); /* every worker's last message */
        if (!s && o->progress) {
            int64_t total = done;
            for (int k = 1; k < size; k++)
                total += pr.done[k];
            o->progress(o->user, total, o->n_sims);
        }
    }
    free(pr.done);
    free(pr.over);
    s = agree(s);
    int64_t all_valid = 0;
    if (!s)
        MPI_Reduce(&n_valid, &all_valid, 1, MPI_INT64_T, MPI_SUM, 0, MPI_COMM_WORLD);
    if (!s && rank == 0) { /* meta.json, the set's marker, last */
        char *meta = nf__sbi_meta(cfg, o, &lay, all_valid);
        if (!meta)
            s = nf__fail(NF_ENOMEM, "sbi: out of memory for meta.json");
        else if (!(s = nf_path_join(path, sizeof path, stage_path, nf__sbi_file_names[NF__SBI_FILES])) &&
                 !(s = nf_file_write_string(path, meta)))
            s = nf_stage_commit(stage, nf__sbi_file_names, NF__SBI_FILES + 1);
        free(meta);
    }
    nf_stage_destroy(stage);
    return s;
}

/* ---- SBC -------------------------------------------------------------------------- */

/* counts and displacements (elements) of every rank's range of N rows of k */
static nf_status ranges(int64_t N, int64_t k, int **counts, int **displs)
{
    const int size = nf_dist_size();
    *counts = malloc(sizeof(int) * (size_t)size);
    *displs = malloc(sizeof(int) * (size_t)size);
    if (!*counts || !*displs)
        return nf__fail(NF_ENOMEM, "sbc (MPI): out of memory");
    if ((double)N * (double)k > 2147483647.0)
        return nf__fail(NF_ERANGE, "sbc (MPI): %lld rows of %lld values are too many to gather", (long long)N,
                        (long long)k);
    for (int r = 0; r < size; r++) {
        int64_t lo = N * r / size, hi = N * (r + 1) / size;
        (*counts)[r] = (int)((hi - lo) * k);
        (*displs)[r] = (int)(lo * k);
    }
    return NF_OK;
}

nf_status nf_dist_sbc_lif_run(nf_engine *e, const nf_sbc_lif_opts *o, nf_sbc_result **out, nf_sbc_lif_times *times)
{
    if (out)
        *out = NULL;
    nf_status s = nf__dist_need_init("sbc (MPI)");
    if (s)
        return s;
    if (!e || !o || !out)
        return nf__fail(NF_EINVAL, "sbc_lif_run (MPI): NULL argument");
    const int rank = nf_dist_rank();
    const int64_t D = NF_SBC_LIF_D, M = o->M, L = o->L;
    const int k = nf_sbc_lif_n_summaries(o->with_stimulus != 0);
    nf_sbc_lif_times tm = {0, 0, 0, 0};
    s = nf__sbc_lif_check(o);
    int *c1 = NULL, *d1 = NULL, *c2 = NULL, *d2 = NULL, *c3 = NULL, *d3 = NULL, *c4 = NULL, *d4 = NULL;
    if (!s && !(s = ranges(o->n_ref, D, &c1, &d1)) && !(s = ranges(o->n_ref, k, &c2, &d2)))
        if (!(s = ranges(M, D, &c3, &d3)))
            s = ranges(M, L * D, &c4, &d4);
    float *rt = NULL, *rs = NULL, *tt = NULL, *post = NULL;
    double *ppc = NULL;
    nf_abc *abc = NULL;
    int64_t lo, hi;
    my_range(o->n_ref, &lo, &hi);
    double t0 = nf__now_s();
    if (!s) {
        rt = nf__malloc_array((size_t)o->n_ref, sizeof(float) * D);
        rs = nf__malloc_array((size_t)o->n_ref, sizeof(float) * (size_t)k);
        if (!rt || !rs)
            s = nf__fail(NF_ENOMEM, "sbc (MPI): out of memory for %lld reference rows", (long long)o->n_ref);
    }
    if (!s && hi > lo)
        s = nf__sbc_lif_reference(e, o, lo, hi - lo, rt + lo * D, rs + lo * k);
    if (!(s = agree(s))) {
        MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_FLOAT, rt, c1, d1, MPI_FLOAT, MPI_COMM_WORLD);
        MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_FLOAT, rs, c2, d2, MPI_FLOAT, MPI_COMM_WORLD);
    }
    double t1 = nf__now_s();
    if (!s)
        s = nf_sbc_lif_abc_create(rt, rs, o->n_ref, o->with_stimulus != 0, &o->abc, o->repair_classes, &abc);
    double t2 = nf__now_s();
    tm.table_s = t1 - t0;
    tm.build_s = t2 - t1;
    my_range(M, &lo, &hi);
    if (!s) {
        tt = nf__malloc_array((size_t)M, sizeof(float) * D);
        post = nf__malloc_array((size_t)(M * L), sizeof(float) * D);
        ppc = nf__malloc_array((size_t)M, sizeof(double));
        if (!tt || !post || !ppc)
            s = nf__fail(NF_ENOMEM, "sbc (MPI): out of memory for %lld cases", (long long)M);
    }
    if (!s && hi > lo)
        s = nf__sbc_lif_cases(e, o, abc, lo, hi - lo, tt + lo * D, post + lo * L * D, ppc + lo, &tm);
    if (!(s = agree(s))) {
        int size = nf_dist_size(), *c5 = malloc(sizeof(int) * (size_t)size), *d5 = malloc(sizeof(int) * (size_t)size);
        for (int r = 0; c5 && d5 && r < size; r++) {
            c5[r] = c3[r] / (int)D;
            d5[r] = d3[r] / (int)D;
        }
        if (!c5 || !d5)
            s = nf__fail(NF_ENOMEM, "sbc (MPI): out of memory");
        else {
            void *in_tt = rank == 0 ? MPI_IN_PLACE : tt + lo * D, *in_post = rank == 0 ? MPI_IN_PLACE : post + lo * L * D;
            void *in_ppc = rank == 0 ? MPI_IN_PLACE : ppc + lo;
            MPI_Gatherv(in_tt, c3[rank], MPI_FLOAT, tt, c3, d3, MPI_FLOAT, 0, MPI_COMM_WORLD);
            MPI_Gatherv(in_post, c4[rank], MPI_FLOAT, post, c4, d4, MPI_FLOAT, 0, MPI_COMM_WORLD);
            MPI_Gatherv(in_ppc, c5[rank], MPI_DOUBLE, ppc, c5, d5, MPI_DOUBLE, 0, MPI_COMM_WORLD);
        }
        free(c5);
        free(d5);
    }
    if (!s && rank == 0)
        s = nf__sbc_lif_analyse(o, tt, post, ppc, out);
    if (times)
        *times = tm;
    nf_abc_destroy(abc);
    free(rt);
    free(rs);
    free(tt);
    free(post);
    free(ppc);
    free(c1), free(d1), free(c2), free(d2), free(c3), free(d3), free(c4), free(d4);
    return s;
}

#endif
