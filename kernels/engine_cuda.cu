/* CUDA backend: the kernels and the executor of a launch plan.
 *
 * Kernels: one thread per simulation running the whole time loop of the
 * shared body (kernels/sim_body.h, NF_LANES = 1) through nf__thread_<model>,
 * the same per-thread function the host replay runs; stimulus, targets and
 * parameters are read through the read-only cache (__ldg); no per-step
 * launches.
 *
 * Executor: everything is decided by the plan (src/engine/plan.h: device
 * split, launches that fit the memory budget, buffer sizes, copies, kernel
 * arguments) and by the engine's job slots (src/engine/backend.h: which
 * batch runs in which slot, staging, order); this file only allocates,
 * copies, launches and waits. Each slot has its own pinned host staging
 * and, on each device, its own buffers, non-blocking stream and events:
 * start queues a job's copies and kernels on its slot's streams and
 * returns, finish synchronises them. Buffers and staging only grow, so
 * repeated runs of one batch shape (a fit's generations) allocate nothing.
 * The budget of each device is its free memory (cudaMemGetInfo, plus what
 * the slot already holds, less a margin for the runtime; half of it while
 * other slots are in flight), capped by nf_engine_set_memory_limit. Plan
 * device k runs on the engine's k-th CUDA device (nf_engine_set_devices). Every CUDA call is
 * checked; errors come back as NF_ECUDA with file and line. */
#include <cuda_runtime.h>

#include "engine/backend.h"
#include "engine/plan.h"
#include "internal.h"
#include "sim_all.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define NF__KERNEL(m, v)                                                            \
    __global__ void __launch_bounds__(NF__THREADS_PER_BLOCK) nf__k_##m##_##v(nf__kargs a)             \
    {                                                                               \
        nf__thread_##m##_##v(&a, blockIdx.x, blockDim.x, threadIdx.x);              \
    }
NF_MODEL_VARIANT_LIST(NF__KERNEL)

/* [variant][model] */
typedef void (*nf__kernel_fn)(nf__kargs);
#define NF__KPTR(m, v) nf__k_##m##_##v,
static const nf__kernel_fn nf__kernels[] = {NF_MODEL_VARIANT_LIST(NF__KPTR)};

#define NF__CK(call)                                                                          \
    do {                                                                                      \
        cudaError_t err_ = (call);                                                            \
        if (err_ != cudaSuccess)                                                              \
            return nf__fail(NF_ECUDA, "%s:%d: %s: %s", __FILE__, __LINE__, #call,             \
                            cudaGetErrorString(err_));                                        \
    } while (0)

enum { NF__MAX_DEV = NF_MAX_DEVICES };
static_assert(NF__STREAMS_PER_DEVICE == 1, "a slot has one stream per device");

/* What one job slot holds on one CUDA device: its buffers (grow-only), its
 * stream, and a start/end event pair per launch of its job. */
typedef struct nf__slot_dev {
    void *buf[NF__B_COUNT];
    size_t cap[NF__B_COUNT];
    cudaStream_t stream;
    cudaEvent_t *ev; /* [cap_ev][2] */
    int cap_ev, n_ev; /* pairs created; pairs recorded by the current job */
    int ready;        /* stream created */
    int used;         /* the current job runs here */
} nf__slot_dev;

typedef struct nf__cuda_slot {
    void *host[2]; /* pinned staging: NF__STAGE_SOA, NF__STAGE_COPIES */
    size_t host_cap[2];
    nf__slot_dev dev[NF__MAX_DEV];
} nf__cuda_slot;

struct nf__cuda {
    size_t limit; /* bytes per device and batch, 0: free memory */
    nf__cuda_slot slot[NF__JOB_SLOTS];
};

extern "C" int nf__cuda_device_count(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return n;
}

extern "C" const char *nf__cuda_name(void)
{
    static char name[512];
    cudaDeviceProp prop;
    if (nf__cuda_device_count() < 1 || cudaGetDeviceProperties(&prop, 0) != cudaSuccess) return "";
    snprintf(name, sizeof name, "%s (%d SMs)", prop.name, prop.multiProcessorCount);
    return name;
}

extern "C" nf_status nf__cuda_create(nf__cuda **out)
{
    *out = NULL;
    nf__cuda *c = (nf__cuda *)calloc(1, sizeof *c);
    if (!c) return nf__fail(NF_ENOMEM, "cuda: out of memory");
    *out = c;
    return NF_OK;
}

extern "C" void nf__cuda_destroy(nf__cuda *c)
{
    if (!c) return;
    for (int k = 0; k < NF__JOB_SLOTS; k++) {
        nf__cuda_slot *sl = &c->slot[k];
        for (int d = 0; d < NF__MAX_DEV; d++) {
            nf__slot_dev *v = &sl->dev[d];
            if (!v->ready) continue;
            cudaSetDevice(d);
            for (int b = 0; b < NF__B_COUNT; b++) cudaFree(v->buf[b]);
            for (int e = 0; e < 2 * v->cap_ev; e++) cudaEventDestroy(v->ev[e]);
            free(v->ev);
            cudaStreamDestroy(v->stream);
        }
        for (int h = 0; h < 2; h++) cudaFreeHost(sl->host[h]);
    }
    free(c);
}

extern "C" void nf__cuda_set_limit(nf__cuda *c, size_t bytes) { c->limit = bytes; }

/* Pinned staging of (slot, kind), grow-only (cudaHostAllocPortable: pinned
 * for every device). */
static nf_status nf__stage(void *ctx, int slot, int kind, size_t bytes, void **out)
{
    nf__cuda_slot *sl = &((nf__cuda *)ctx)->slot[slot];
    if (bytes > sl->host_cap[kind]) {
        cudaFreeHost(sl->host[kind]);
        sl->host[kind] = NULL;
        sl->host_cap[kind] = 0;
        NF__CK(cudaHostAlloc(&sl->host[kind], bytes, cudaHostAllocPortable));
        sl->host_cap[kind] = bytes;
    }
    *out = sl->host[kind];
    return NF_OK;
}

/* Bytes the slot's job may hold on device d: the free memory plus what the
 * slot holds there already, less a margin for the runtime; half of that
 * while other slots are in flight (room for the jobs to come); capped by
 * the limit. */
static nf_status nf__budget(void *ctx, int slot, int d, int busy, size_t *out)
{
    nf__cuda *c = (nf__cuda *)ctx;
    size_t free_b = 0, total_b = 0, held = 0;
    NF__CK(cudaSetDevice(d));
    NF__CK(cudaMemGetInfo(&free_b, &total_b));
    for (int k = 0; k < NF__B_COUNT; k++) held += c->slot[slot].dev[d].cap[k];
    size_t margin = total_b / 32 > ((size_t)64 << 20) ? total_b / 32 : ((size_t)64 << 20);
    size_t avail = free_b + held > margin ? free_b + held - margin : 0;
    if (busy) avail /= 2;
    *out = c->limit && c->limit < avail ? c->limit : avail;
    return NF_OK;
}

/* The slot's stream on device d and its buffers at plan device pd's sizes;
 * event pairs for n launches. */
static nf_status nf__reserve(nf__slot_dev *v, const nf__plan *p, int pd, int d, int n)
{
    NF__CK(cudaSetDevice(d));
    if (!v->ready) {
        NF__CK(cudaStreamCreateWithFlags(&v->stream, cudaStreamNonBlocking));
        v->ready = 1;
    }
    for (int k = 0; k < NF__B_COUNT; k++) {
        size_t need = nf__plan_slot_bytes(p, pd, 0, k);
        if (need <= v->cap[k]) continue;
        cudaFree(v->buf[k]);
        v->buf[k] = NULL;
        v->cap[k] = 0;
        NF__CK(cudaMalloc(&v->buf[k], need));
        v->cap[k] = need;
    }
    if (n > v->cap_ev) {
        cudaEvent_t *ev = (cudaEvent_t *)realloc(v->ev, sizeof *ev * 2 * (size_t)n);
        if (!ev) return nf__fail(NF_ENOMEM, "cuda: out of memory for events");
        v->ev = ev;
        for (; v->cap_ev < n; v->cap_ev++) {
            NF__CK(cudaEventCreate(&v->ev[2 * v->cap_ev]));
            NF__CK(cudaEventCreate(&v->ev[2 * v->cap_ev + 1]));
        }
    }
    v->n_ev = 0;
    v->used = 1;
    return NF_OK;
}

/* One copy of the plan on the slot's stream. cudaMemcpy2DAsync refuses a
 * pitch above the device's maximum (cudaDevAttrMaxPitch, 2^31 - 1 bytes on
 * current GPUs), and a plain copy (rows = 1) has pitch = width, which is
 * past it for a launch's recorded voltage of 2 GiB or more: plain copies,
 * and rows of a wider pitch, go as cudaMemcpyAsync of each row. */
static nf_status nf__copy_run(nf__slot_dev *v, const nf__copy *x)
{
    char *dev = (char *)v->buf[x->slot] + x->dev_off;
    const size_t max_pitch = (size_t)INT32_MAX;
    const int by_rows = x->rows == 1 || x->dev_pitch > max_pitch || x->host_pitch > max_pitch;
    for (size_t r = 0; by_rows && r < x->rows; r++) {
        if (x->to_device)
            NF__CK(cudaMemcpyAsync(dev + r * x->dev_pitch, (const char *)x->src + r * x->host_pitch, x->width,
                                   cudaMemcpyHostToDevice, v->stream));
        else
            NF__CK(cudaMemcpyAsync((char *)x->dst + r * x->host_pitch, dev + r * x->dev_pitch, x->width,
                                   cudaMemcpyDeviceToHost, v->stream));
    }
    if (by_rows) return NF_OK;
    if (x->to_device)
        NF__CK(cudaMemcpy2DAsync(dev, x->dev_pitch, x->src, x->host_pitch, x->width, x->rows, cudaMemcpyHostToDevice,
                                 v->stream));
    else
        NF__CK(cudaMemcpy2DAsync(x->dst, x->host_pitch, dev, x->dev_pitch, x->width, x->rows, cudaMemcpyDeviceToHost,
                                 v->stream));
    return NF_OK;
}

/* Queue every launch of the plan on the slot's stream of its device: uploads
 * (from the pinned staging), the kernel between two events, downloads (to
 * the pinned staging). Nothing is waited for. */
static nf_status nf__start(void *ctx, int slot, const nf__plan *p, const int *ids, int model_id, const nf__kargs *h)
{
    nf__cuda_slot *sl = &((nf__cuda *)ctx)->slot[slot];
    nf_status s = NF_OK;
    for (int pd = 0; pd < p->n_devices && !s; pd++) {
        int n = 0;
        for (int64_t li = 0; li < p->n_launches; li++) n += p->launches[li].device == pd;
        s = nf__reserve(&sl->dev[ids[pd]], p, pd, ids[pd], n);
    }
    for (int64_t li = 0; li < p->n_launches && !s; li++) {
        const nf__launch *L = &p->launches[li];
        const int d = ids[L->device];
        nf__slot_dev *v = &sl->dev[d];
        NF__CK(cudaSetDevice(d));
        for (int64_t k = 0; k < L->n_in && !s; k++) s = nf__copy_run(v, &p->copies[L->copy_in + k]);
        if (s) break;
        nf__kargs a;
        nf__plan_bind(p, li, h, v->buf, &a);
        cudaEvent_t *ev = &v->ev[2 * v->n_ev++];
        NF__CK(cudaEventRecord(ev[0], v->stream));
        nf__kernels[L->variant * NF__N_MODELS + model_id]<<<L->blocks, L->threads, 0, v->stream>>>(a);
        cudaError_t err = cudaGetLastError();
        if (err != cudaSuccess)
            return nf__fail(NF_ECUDA, "%s:%d: kernel of model %d (launch %lld of %lld, device %d): %s", __FILE__,
                            __LINE__, model_id, (long long)li, (long long)p->n_launches, d, cudaGetErrorString(err));
        NF__CK(cudaEventRecord(ev[1], v->stream));
        for (int64_t k = 0; k < L->n_out && !s; k++) s = nf__copy_run(v, &p->copies[L->copy_out + k]);
    }
    return s;
}

/* Wait for the slot's streams; the kernel time is the longest device's sum. */
static nf_status nf__finish(void *ctx, int slot, double *kernel_s)
{
    nf__cuda_slot *sl = &((nf__cuda *)ctx)->slot[slot];
    nf_status s = NF_OK;
    *kernel_s = 0;
    for (int d = 0; d < NF__MAX_DEV; d++) {
        nf__slot_dev *v = &sl->dev[d];
        if (!v->used) continue;
        v->used = 0;
        cudaError_t err = cudaSetDevice(d);
        if (err == cudaSuccess) err = cudaStreamSynchronize(v->stream);
        if (err != cudaSuccess) {
            if (!s) s = nf__fail(NF_ECUDA, "%s:%d: device %d: %s", __FILE__, __LINE__, d, cudaGetErrorString(err));
            continue;
        }
        double sum = 0;
        for (int k = 0; k < v->n_ev; k++) {
            float ms = 0;
            if (cudaEventElapsedTime(&ms, v->ev[2 * k], v->ev[2 * k + 1]) == cudaSuccess) sum += ms * 1e-3;
        }
        *kernel_s = sum > *kernel_s ? sum : *kernel_s;
    }
    return s;
}

/* A kept array onto device d: its own allocation, copied and landed before
 * returning (so before any later job's kernels). */
static nf_status nf__upload(void *ctx, int d, const void *host, size_t bytes, void **dev)
{
    (void)ctx;
    *dev = NULL;
    NF__CK(cudaSetDevice(d));
    NF__CK(cudaMalloc(dev, bytes));
    /* from pageable memory cudaMemcpy may return before its DMA has landed
     * (CUDA runtime, "API synchronization behavior"), and the jobs' streams
     * are non-blocking, not ordered after the legacy stream: wait for it */
    cudaError_t err = cudaMemcpy(*dev, host, bytes, cudaMemcpyHostToDevice);
    if (err == cudaSuccess) err = cudaStreamSynchronize(cudaStreamLegacy);
    if (err != cudaSuccess) {
        cudaFree(*dev);
        *dev = NULL;
        return nf__fail(NF_ECUDA, "%s:%d: kept array of %zu bytes onto device %d: %s", __FILE__, __LINE__, bytes, d,
                        cudaGetErrorString(err));
    }
    return NF_OK;
}

static void nf__drop(void *ctx, int d, void *dev)
{
    (void)ctx;
    cudaSetDevice(d);
    cudaFree(dev);
}

/* The device buffers of the idle slots back to the devices (their streams
 * hold no work: no job in flight). */
static void nf__trim(void *ctx, const unsigned char *idle)
{
    nf__cuda *c = (nf__cuda *)ctx;
    for (int k = 0; k < NF__JOB_SLOTS; k++) {
        if (!idle[k]) continue;
        for (int d = 0; d < NF__MAX_DEV; d++) {
            nf__slot_dev *v = &c->slot[k].dev[d];
            if (!v->ready) continue;
            cudaSetDevice(d);
            for (int b = 0; b < NF__B_COUNT; b++) {
                cudaFree(v->buf[b]);
                v->buf[b] = NULL;
                v->cap[b] = 0;
            }
        }
    }
}

extern "C" void nf__cuda_executor(nf__cuda *c, nf__executor *out)
{
    out->upload = nf__upload;
    out->drop = nf__drop;
    out->ctx = c;
    out->stage = nf__stage;
    out->budget = nf__budget;
    out->start = nf__start;
    out->finish = nf__finish;
    out->trim = nf__trim;
}
