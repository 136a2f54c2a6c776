/* CUDA side of the SBI device path (issue 18): the bayesflow-lif simulations
 * with their stimulus generated in the simulate loop (kernels/sbi_cuda.h:
 * nf__thread_lif6_sbi, the shared body with wave 2 / rec 4), traces written
 * step-major (a warp's 32 stores of a sample are one line), and the
 * stimulus rows alone when a dataset asks for stimulus.npy (nf__sbi_stim_thread).
 *
 * A batch runs on the engine's first device (nf_engine_devices; a split over
 * several is not done here yet) as the pieces of src/sbi/device_plan.c: two buffer slots,
 * each with its stream, device buffers and pinned host staging; piece k+1 is
 * launched before piece k's outputs are taken out of the staging buffers, so
 * piece k's copy to the host overlaps piece k+1's simulation. What is
 * computed, where each piece's arguments point and how its outputs land are
 * the pure-C bookkeeping's (nf__sbi_piece_*), replayed on the CPU by
 * tests/test_sbi_device.c; this file only allocates, copies and launches.
 * Every CUDA call is checked; errors come back as NF_ECUDA with file and
 * line. */
#include <cuda_runtime.h>

#include "engine/backend.h"
#include "internal.h"
#include "sbi/sbi_internal.h"
#include "sbi_cuda.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NF__SCK(call)                                                                         \
    do {                                                                                      \
        cudaError_t err_ = (call);                                                            \
        if (err_ != cudaSuccess) {                                                            \
            s = nf__fail(NF_ECUDA, "%s:%d: %s: %s", __FILE__, __LINE__, #call,                \
                         cudaGetErrorString(err_));                                           \
            goto done;                                                                        \
        }                                                                                     \
    } while (0)

enum { NF__SBI_THREADS = 128, NF__SLOTS = 2 };

__global__ void __launch_bounds__(NF__SBI_THREADS) nf__k_sbi_stim(nf__bf_const c, int64_t first, int64_t n, float *out)
{
    nf__sbi_stim_thread(&c, first, n, out, blockIdx.x, blockDim.x, threadIdx.x);
}

__global__ void __launch_bounds__(NF__SBI_THREADS) nf__k_sbi_sum(const float *rec, const float *spk_t,
                                                                 const int32_t *spk_n, int64_t n, int64_t T,
                                                                 double dur_ms, float *out)
{
    nf__sbi_sum_thread(rec, spk_t, spk_n, n, T, dur_ms, out, blockIdx.x, blockDim.x, threadIdx.x);
}

__global__ void __launch_bounds__(NF__SBI_THREADS) nf__k_lif6_sbi(nf__kargs a)
{
    nf__thread_lif6_sbi(&a, blockIdx.x, blockDim.x, threadIdx.x);
}

/* One slot: a stream, device buffers and pinned staging of one piece. */
typedef struct {
    cudaStream_t st;
    nf__sbi_bufs dev, host;
    size_t cap; /* simulations the buffers hold */
} nf__sbi_slot;

typedef struct {
    nf__sbi_slot slot[NF__SLOTS];
    double *sinw;   /* [T] on the device */
    int64_t T, n_params, max_spikes;
    int device; /* where the buffers are */
    int ready;
} nf__sbi_dev;

static void nf__bufs_free(nf__sbi_bufs *b, int pinned)
{
    void *p[7] = {b->params, b->rec, b->spk_t, b->stim, b->spk_n, b->valid, b->sum};
    for (int k = 0; k < 7; k++) {
        if (pinned)
            cudaFreeHost(p[k]);
        else
            cudaFree(p[k]);
    }
    memset(b, 0, sizeof *b);
}

static nf_status nf__bufs_alloc(nf__sbi_bufs *b, int pinned, size_t n, size_t T, size_t np, size_t ms)
{
    nf_status s = NF_OK;
    size_t bytes[7] = {sizeof(float) * np * n, sizeof(float) * T * n, sizeof(float) * ms * n,
                       sizeof(float) * T * n, sizeof(int32_t) * n, n, sizeof(float) * NF_SBI_N_SUMMARIES * n};
    void *p[7] = {0};
    for (int k = 0; k < 7; k++) {
        if (pinned)
            NF__SCK(cudaMallocHost(&p[k], bytes[k]));
        else
            NF__SCK(cudaMalloc(&p[k], bytes[k]));
    }
done:
    b->params = (float *)p[0];
    b->rec = (float *)p[1];
    b->spk_t = (float *)p[2];
    b->stim = (float *)p[3];
    b->spk_n = (int32_t *)p[4];
    b->valid = (uint8_t *)p[5];
    b->sum = (float *)p[6];
    return s;
}

static void nf__sbi_dev_free(nf__sbi_dev *d)
{
    for (int k = 0; k < NF__SLOTS; k++) {
        nf__bufs_free(&d->slot[k].dev, 0);
        nf__bufs_free(&d->slot[k].host, 1);
        if (d->slot[k].st) cudaStreamDestroy(d->slot[k].st);
    }
    cudaFree(d->sinw);
    memset(d, 0, sizeof *d);
}

/* Buffers for pieces of up to n simulations of this shape (spike times: the
 * batch's max_spikes, or the summaries' NF_SBI_SUMMARY_SPIKES). */
static nf_status nf__sbi_dev_reserve(nf__sbi_dev *d, int device, const nf__bf_const *bf, size_t n, int64_t n_params,
                                     int64_t max_spikes)
{
    if (max_spikes < NF_SBI_SUMMARY_SPIKES) max_spikes = NF_SBI_SUMMARY_SPIKES;
    nf_status s = NF_OK;
    NF__SCK(cudaSetDevice(device));
    if (d->ready && d->device == device && d->T == bf->T && d->n_params == n_params && d->max_spikes == max_spikes &&
        d->slot[0].cap >= n)
        return NF_OK;
    if (d->ready) NF__SCK(cudaSetDevice(d->device)); /* free where they were made */
    nf__sbi_dev_free(d);
    NF__SCK(cudaSetDevice(device));
    d->device = device;
    for (int k = 0; k < NF__SLOTS; k++) {
        NF__SCK(cudaStreamCreateWithFlags(&d->slot[k].st, cudaStreamNonBlocking));
        if ((s = nf__bufs_alloc(&d->slot[k].dev, 0, n, (size_t)bf->T, (size_t)n_params, (size_t)max_spikes))) goto done;
        if ((s = nf__bufs_alloc(&d->slot[k].host, 1, n, (size_t)bf->T, (size_t)n_params, (size_t)max_spikes))) goto done;
        d->slot[k].cap = n;
    }
    NF__SCK(cudaMalloc(&d->sinw, sizeof(double) * (size_t)bf->T));
    NF__SCK(cudaMemcpy(d->sinw, bf->sinw, sizeof(double) * (size_t)bf->T, cudaMemcpyHostToDevice));
    /* pageable source: the copy may still be in flight on the legacy stream,
     * which the slots' non-blocking streams do not wait for */
    NF__SCK(cudaStreamSynchronize(cudaStreamLegacy));
    d->T = bf->T;
    d->n_params = n_params;
    d->max_spikes = max_spikes;
    d->ready = 1;
done:
    if (s) nf__sbi_dev_free(d);
    return s;
}

typedef struct {
    nf__sbi_dev *d;
    int device; /* the engine's first device */
    const nf__bf_const *bf;
    float *stim_rows, *sums;
    double dur_ms; /* the summaries' duration, (T - 1) dt */
} nf__sbi_call;

/* Launch piece pc from slot x: parameters in, the kernels, outputs out to
 * the pinned staging (all on the slot's stream). */
static nf_status nf__piece_issue(nf__sbi_dev *d, const nf__kargs *h, const nf__sbi_call *c, nf__sbi_piece pc,
                                 int n_params)
{
    nf_status s = NF_OK;
    nf__sbi_slot *x = &d->slot[pc.slot];
    nf__bf_const dbf = *c->bf;
    dbf.sinw = d->sinw;
    nf__kargs a;
    nf__sbi_piece_bind(h, &dbf, pc, &x->dev, c->sums != NULL, &a);
    const unsigned blocks = (unsigned)((pc.n + NF__SBI_THREADS - 1) / NF__SBI_THREADS);
    const size_t n = (size_t)pc.n, T = (size_t)h->n_steps;
    /* parameters [n_params][stride] -> the piece's [n_params][n] (the slot's
     * previous piece was synchronised before this one is issued) */
    for (int p = 0; p < n_params; p++)
        memcpy(x->host.params + (size_t)p * n, h->params + (size_t)p * (size_t)h->stride + pc.first, n * sizeof(float));
    NF__SCK(cudaMemcpyAsync(x->dev.params, x->host.params, sizeof(float) * n * (size_t)n_params,
                            cudaMemcpyHostToDevice, x->st));
    nf__k_lif6_sbi<<<blocks, NF__SBI_THREADS, 0, x->st>>>(a);
    NF__SCK(cudaGetLastError());
    if (c->sums) { /* the trace and spike times stay here: 20 bytes per simulation go back */
        nf__k_sbi_sum<<<blocks, NF__SBI_THREADS, 0, x->st>>>(x->dev.rec, x->dev.spk_t, x->dev.spk_n, pc.n, (int64_t)T,
                                                             c->dur_ms, x->dev.sum);
        NF__SCK(cudaGetLastError());
        NF__SCK(cudaMemcpyAsync(x->host.sum, x->dev.sum, sizeof(float) * NF_SBI_N_SUMMARIES * n,
                                cudaMemcpyDeviceToHost, x->st));
    }
    if (c->stim_rows) {
        nf__k_sbi_stim<<<blocks, NF__SBI_THREADS, 0, x->st>>>(dbf, a.sim_offset, pc.n, x->dev.stim);
        NF__SCK(cudaGetLastError());
        NF__SCK(cudaMemcpyAsync(x->host.stim, x->dev.stim, sizeof(float) * T * n, cudaMemcpyDeviceToHost, x->st));
    }
    if (h->rec)
        NF__SCK(cudaMemcpyAsync(x->host.rec, x->dev.rec, sizeof(float) * (size_t)h->n_rec * n, cudaMemcpyDeviceToHost,
                                x->st));
    if (h->spk_t)
        NF__SCK(cudaMemcpyAsync(x->host.spk_t, x->dev.spk_t, sizeof(float) * (size_t)h->max_spikes * n,
                                cudaMemcpyDeviceToHost, x->st));
    if (h->spk_n)
        NF__SCK(cudaMemcpyAsync(x->host.spk_n, x->dev.spk_n, sizeof(int32_t) * n, cudaMemcpyDeviceToHost, x->st));
    if (h->valid) NF__SCK(cudaMemcpyAsync(x->host.valid, x->dev.valid, n, cudaMemcpyDeviceToHost, x->st));
done:
    return s;
}

/* The engine's runner: a holds the batch with host pointers. */
static nf_status nf__sbi_cuda_runner(void *ctx, const nf_model *m, const nf__kargs *h)
{
    nf__sbi_call *c = (nf__sbi_call *)ctx;
    nf__sbi_dev *d = c->d;
    nf_status s = NF_OK;
    const int64_t ms = h->spk_t ? h->max_spikes : 0;
    const int64_t piece = nf__sbi_piece_size(h->n_steps, m->n_params, ms);
    const int64_t K = nf__sbi_piece_count(h->n_sims, piece);
    const int64_t cap = h->n_sims < piece ? h->n_sims : piece;
    if (K == 0) return NF_OK;
    if (h->rec && h->rec_every != 1) return nf__fail(NF_EINVAL, "sbi device path: records every sample only");
    if ((s = nf__sbi_dev_reserve(d, c->device, c->bf, (size_t)cap, m->n_params, ms)))
        return s;
    if ((s = nf__piece_issue(d, h, c, nf__sbi_piece_at(h->n_sims, piece, 0), m->n_params))) return s;
    for (int64_t k = 0; k < K && !s; k++) {
        nf__sbi_piece pc = nf__sbi_piece_at(h->n_sims, piece, k);
        /* the next piece runs in the other slot while this one's outputs come out */
        if (k + 1 < K)
            s = nf__piece_issue(d, h, c, nf__sbi_piece_at(h->n_sims, piece, k + 1), m->n_params);
        cudaError_t err = cudaStreamSynchronize(d->slot[pc.slot].st);
        if (err != cudaSuccess && !s)
            s = nf__fail(NF_ECUDA, "%s:%d: sbi piece %lld of %lld: %s", __FILE__, __LINE__, (long long)k,
                         (long long)K, cudaGetErrorString(err));
        if (!s) nf__sbi_piece_unpack(h, pc, &d->slot[pc.slot].host, c->stim_rows, c->sums);
    }
    for (int k = 0; k < NF__SLOTS; k++) cudaStreamSynchronize(d->slot[k].st);
    return s;
}

extern "C" nf_status nf__sbi_cuda_create(void **ctx)
{
    *ctx = calloc(1, sizeof(nf__sbi_dev));
    return *ctx ? NF_OK : nf__fail(NF_ENOMEM, "sbi: out of memory");
}

extern "C" void nf__sbi_cuda_destroy(void *ctx)
{
    if (!ctx) return;
    nf__sbi_dev *d = (nf__sbi_dev *)ctx;
    if (d->ready) cudaSetDevice(d->device);
    nf__sbi_dev_free(d);
    free(ctx);
}

extern "C" nf_status nf__sbi_cuda_exec(void *ctx, nf_engine *e, const nf_batch *b, const nf__bf_const *bf,
                                       float *stim_rows, float *sums)
{
    int ids[16];
    const int n_dev = nf_engine_devices(e, ids, 16);
    nf__sbi_call c = {(nf__sbi_dev *)ctx, n_dev > 0 ? ids[0] : 0, bf, stim_rows, sums,
                      (double)(b->n_steps - 1) * b->dt_ms};
    return nf__engine_run_via(e, b, nf__sbi_cuda_runner, &c);
}
