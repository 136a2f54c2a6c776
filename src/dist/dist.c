/* The MPI layer's core (include/neurofit/dist.h): starting and ending MPI,
 * this rank's device and core share, nf_dist_agree, and the messages the
 * operations exchange with rank 0 (src/dist/dist_internal.h). A build
 * without MPI compiles the functions that say so. */
#include "neurofit/dist.h"

#include "dist/dist_internal.h"
#include "engine/pool.h"
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef NF_HAVE_MPI
#include <dirent.h>
#include <mpi.h>
#include <time.h>
#endif

int nf_dist_launched(void)
{
    /* Open MPI's mpirun; PMIx (Open MPI 4+, srun --mpi=pmix); PMI-1/2 (MPICH's
     * hydra, srun --mpi=pmi2) */
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        if (getenv(vars[i]))
            return 1;
    return 0;
}

#ifndef NF_HAVE_MPI

int nf_dist_built(void) { return 0; }
nf_status nf_dist_init(void) { return nf__fail(NF_EUNSUPPORTED, "MPI: this neurofit was built without MPI"); }
void nf_dist_finalize(void) {}
int nf_dist_rank(void) { return 0; }
int nf_dist_size(void) { return 1; }
const char *nf_dist_host(void) { return ""; }
int nf_dist_agree(int code, const char *message)
{
    (void)message;
    return code;
}

nf_status nf_dist_fit(const nf_fit_target *targets, int n_targets, const nf_fit_group *groups, int n_groups,
                      const nf_fit_options *opt, nf_dist_progress_fn progress, void *user, nf_fit_result **out,
                      nf_dist_stats *stats)
{
    (void)targets, (void)n_targets, (void)groups, (void)n_groups, (void)opt, (void)progress, (void)user, (void)stats;
    if (out)
        *out = NULL;
    return nf_dist_init();
}

nf_status nf_dist_sbi_write_dataset(nf_engine *e, const nf_sbi_config *cfg, const char *dir,
                                    const nf_sbi_write_opts *opts)
{
    (void)e, (void)cfg, (void)dir, (void)opts;
    return nf_dist_init();
}

nf_status nf_dist_sbc_lif_run(nf_engine *e, const nf_sbc_lif_opts *o, nf_sbc_result **out, nf_sbc_lif_times *times)
{
    (void)e, (void)o, (void)times;
    if (out)
        *out = NULL;
    return nf_dist_init();
}

#else

#define AGREE_MSG 1024

static struct {
    int on, finalized;
    int rank, size, local_rank, local_size;
    int ended, end_code; /* an nf_dist_agree returned a failure: the job is over */
    char host[MPI_MAX_PROCESSOR_NAME + 1];
    /* rank 0's receive buffers of nf_dist_agree, made by nf_dist_init */
    int32_t *codes;      /* [size] */
    char *msgs, *hosts;  /* [size][AGREE_MSG], [size][sizeof host] */
} g;

int nf_dist_built(void) { return 1; }
int nf_dist_rank(void) { return g.on ? g.rank : 0; }
int nf_dist_size(void) { return g.on ? g.size : 1; }
const char *nf_dist_host(void) { return g.on ? g.host : ""; }

nf_status nf__dist_need_init(const char *what)
{
    if (!g.on)
        return nf__fail(NF_ESTATE, "%s: MPI is not started (nf_dist_init)", what);
    return NF_OK;
}

static nf_status mpi_fail(int err, const char *fmt, ...)
{
    char what[256], text[MPI_MAX_ERROR_STRING + 1] = "";
    int len = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    MPI_Error_string(err, text, &len);
    return nf__fail(NF_EIO, "MPI: %s: %s", what, text);
}

/* The number of GPUs of this node, read from the NVIDIA driver's list
 * without starting CUDA (which must not start before CUDA_VISIBLE_DEVICES is
 * set): one entry per GPU in /proc/driver/nvidia/gpus. */
static int node_gpus(void)
{
#ifdef NF_HAVE_CUDA
    int n = 0;
    DIR *d = opendir("/proc/driver/nvidia/gpus");
    if (!d)
        return 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
#else
    return 0;
#endif
}

/* One device per rank: CUDA_VISIBLE_DEVICES narrowed to the entry local_rank
 * modulo its length when it lists devices, else to local_rank modulo the
 * node's GPUs; nothing on a node without GPUs. */
static void choose_device(void)
{
    const char *vis = getenv("CUDA_VISIBLE_DEVICES");
    char pick[256] = "";
    if (vis && *vis) {
        char list[1024];
        snprintf(list, sizeof list, "%s", vis);
        int n = 0;
        for (char *t = strtok(list, ","); t; t = strtok(NULL, ","))
            n++;
        if (n <= 1)
            return;
        snprintf(list, sizeof list, "%s", vis);
        int k = 0, want = g.local_rank % n;
        for (char *t = strtok(list, ","); t; t = strtok(NULL, ","), k++)
            if (k == want)
                snprintf(pick, sizeof pick, "%s", t);
    } else {
        int n = node_gpus();
        if (n < 1)
            return;
        snprintf(pick, sizeof pick, "%d", g.local_rank % n);
    }
    if (pick[0])
        setenv("CUDA_VISIBLE_DEVICES", pick, 1);
}

nf_status nf_dist_init(void)
{
    if (g.on || g.finalized)
        return nf__fail(NF_ESTATE, "MPI: nf_dist_init called twice");
    int provided = 0, err = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    if (err != MPI_SUCCESS)
        return mpi_fail(err, "MPI_Init_thread");
    /* errors come back as codes: the library never aborts the job itself */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &g.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g.size);
    MPI_Comm local;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g.rank, MPI_INFO_NULL, &local) == MPI_SUCCESS) {
        MPI_Comm_rank(local, &g.local_rank);
        MPI_Comm_size(local, &g.local_size);
        MPI_Comm_free(&local);
    } else {
        g.local_rank = g.rank;
        g.local_size = g.size;
    }
    int len = 0;
    MPI_Get_processor_name(g.host, &len);
    g.host[len > 0 && len <= MPI_MAX_PROCESSOR_NAME ? len : 0] = 0;
    g.on = 1;
    nf_status s = NF_OK;
    if (provided < MPI_THREAD_FUNNELED)
        s = nf__fail(NF_EUNSUPPORTED, "MPI: the library offers thread level %d, neurofit needs MPI_THREAD_FUNNELED",
                     provided);
    if (!s && g.rank == 0) {
        g.codes = calloc((size_t)g.size, sizeof *g.codes);
        g.msgs = calloc((size_t)g.size, AGREE_MSG);
        g.hosts = calloc((size_t)g.size, sizeof g.host);
        if (!g.codes || !g.msgs || !g.hosts)
            s = nf__fail(NF_ENOMEM, "MPI: out of memory for %d ranks", g.size);
    }
    if (s) {
        nf_dist_finalize();
        return s;
    }
    choose_device();
    nf__pool_set_sharers(g.local_size);
    return NF_OK;
}

void nf_dist_finalize(void)
{
    if (!g.on)
        return;
    MPI_Finalize();
    free(g.codes);
    free(g.msgs);
    free(g.hosts);
    g.codes = NULL;
    g.msgs = g.hosts = NULL;
    g.on = 0;
    g.finalized = 1;
    nf__pool_set_sharers(1);
}

/* ---- agreement ---------------------------------------------------------------- */

int nf_dist_agree(int code, const char *message)
{
    if (!g.on)
        return code;
    if (g.ended)
        return g.end_code;
    char mine[AGREE_MSG] = "";
    snprintf(mine, sizeof mine, "%s", code && message ? message : "");
    int32_t c32 = code;
    MPI_Gather(&c32, 1, MPI_INT32_T, g.codes, 1, MPI_INT32_T, 0, MPI_COMM_WORLD);
    MPI_Gather(mine, AGREE_MSG, MPI_CHAR, g.msgs, AGREE_MSG, MPI_CHAR, 0, MPI_COMM_WORLD);
    MPI_Gather(g.host, (int)sizeof g.host, MPI_CHAR, g.hosts, (int)sizeof g.host, MPI_CHAR, 0, MPI_COMM_WORLD);
    int32_t result = 0;
    for (int r = 0; g.rank == 0 && r < g.size && !result; r++)
        if ((result = g.codes[r])) {
            char *msg = g.msgs + (size_t)r * AGREE_MSG, *host = g.hosts + (size_t)r * sizeof g.host;
            msg[AGREE_MSG - 1] = 0;
            host[sizeof g.host - 1] = 0;
            nf__fail(NF_EIO, "rank %d (host %s): %s", r, host, msg); /* the message; result is the code */
        }
    MPI_Bcast(&result, 1, MPI_INT32_T, 0, MPI_COMM_WORLD);
    if (result) {
        g.ended = 1;
        g.end_code = result;
    }
    return result;
}

/* ---- messages -------------------------------------------------------------------- */

nf_status nf__dist_send(int dest, int tag, const void *buf, size_t len)
{
    if (len > (size_t)INT32_MAX)
        return nf__fail(NF_ERANGE, "MPI: a message of %zu bytes is too large", len);
    int err = MPI_Send(buf, (int)len, MPI_BYTE, dest, tag, MPI_COMM_WORLD);
    return err == MPI_SUCCESS ? NF_OK : mpi_fail(err, "send to rank %d", dest);
}

int nf__dist_poll(int source, int tag, int *src, int *tg, size_t *len)
{
    int flag = 0;
    MPI_Status st;
    if (MPI_Iprobe(source < 0 ? MPI_ANY_SOURCE : source, tag < 0 ? MPI_ANY_TAG : tag, MPI_COMM_WORLD, &flag, &st) !=
            MPI_SUCCESS ||
        !flag)
        return 0;
    int n = 0;
    MPI_Get_count(&st, MPI_BYTE, &n);
    *src = st.MPI_SOURCE;
    *tg = st.MPI_TAG;
    *len = (size_t)(n > 0 ? n : 0);
    return 1;
}

void nf__dist_wait(int source, int tag, int *src, int *tg, size_t *len)
{
    /* poll, first briefly without sleeping (a reply is usually on its way),
     * then every 100 us: a waiting rank leaves the cores to the working ones */
    for (int k = 0; !nf__dist_poll(source, tag, src, tg, len); k++)
        if (k >= 64) {
            struct timespec ts = {0, 100000};
            nanosleep(&ts, NULL);
        }
}

nf_status nf__dist_recv(int src, int tag, void *buf, size_t cap)
{
    int err = MPI_Recv(buf, (int)cap, MPI_BYTE, src, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    return err == MPI_SUCCESS ? NF_OK : mpi_fail(err, "receive from rank %d", src);
}

/* ---- pack buffers ------------------------------------------------------------------ */

void nf__buf_put(nf__buf *b, const void *x, size_t n)
{
    if (b->bad)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        if (!p) {
            b->bad = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->len, x, n);
    b->len += n;
}

void nf__buf_get(nf__buf *b, void *x, size_t n)
{
    if (b->bad || b->pos + n > b->len) {
        b->bad = 1;
        memset(x, 0, n);
        return;
    }
    if (n)
        memcpy(x, b->p + b->pos, n);
    b->pos += n;
}

void nf__buf_put_str(nf__buf *b, const char *s)
{
    s = s ? s : "";
    nf__buf_put(b, s, strlen(s) + 1);
}

const char *nf__buf_get_str(nf__buf *b)
{
    if (b->bad)
        return "";
    const unsigned char *s = b->p + b->pos, *end = memchr(s, 0, b->len - b->pos);
    if (!end) {
        b->bad = 1;
        return "";
    }
    b->pos += (size_t)(end - s) + 1;
    return (const char *)s;
}

void nf__buf_free(nf__buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

#endif
