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
 * arguments); this file only allocates, copies and launches. Device buffers
 * are kept per engine and only grow, so repeated runs of one batch shape (a
 * fit's generations) allocate nothing. The budget of each device is its free
 * memory (cudaMemGetInfo, plus what the engine already holds, less a margin
 * for the runtime), capped by nf_engine_set_memory_limit. Plan device k runs
 * on the engine's k-th CUDA device (nf_engine_set_devices), each on its own
 * non-blocking streams. Every CUDA call is
 * checked; errors come back as NF_ECUDA with file and line. */
#include <cuda_runtime.h>

#include "engine/backend.h"
#include "engine/plan.h"
#include "internal.h"
#include "sim_all.h"

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

enum { NF__MAX_DEV = NF_MAX_DEVICES, NF__STREAMS = NF__STREAMS_PER_DEVICE };

/* What the engine holds on one CUDA device (indexed by device number). */
typedef struct nf__cuda_dev {
    void *buf[NF__STREAMS][NF__B_COUNT];
    size_t cap[NF__STREAMS][NF__B_COUNT];
    cudaStream_t stream[NF__STREAMS];
    cudaEvent_t ev[NF__STREAMS][2];
    int ready; /* streams and events created */
    float kernel_ms; /* kernel time of the current run */
} nf__cuda_dev;

struct nf__cuda {
    size_t limit; /* bytes per device, 0: free memory */
    nf__cuda_dev dev[NF__MAX_DEV];
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
    for (int d = 0; d < NF__MAX_DEV; d++) {
        nf__cuda_dev *v = &c->dev[d];
        if (!v->ready) continue;
        cudaSetDevice(d);
        for (int s = 0; s < NF__STREAMS; s++) {
            for (int k = 0; k < NF__B_COUNT; k++) cudaFree(v->buf[s][k]);
            cudaEventDestroy(v->ev[s][0]);
            cudaEventDestroy(v->ev[s][1]);
            cudaStreamDestroy(v->stream[s]);
        }
    }
    free(c);
}

extern "C" void nf__cuda_set_limit(nf__cuda *c, size_t bytes) { c->limit = bytes; }

/* Streams and events of device d, once. */
static nf_status nf__dev_ready(nf__cuda *c, int d)
{
    nf__cuda_dev *v = &c->dev[d];
    if (v->ready) return NF_OK;
    NF__CK(cudaSetDevice(d));
    for (int s = 0; s < NF__STREAMS; s++) {
        NF__CK(cudaStreamCreateWithFlags(&v->stream[s], cudaStreamNonBlocking));
        NF__CK(cudaEventCreate(&v->ev[s][0]));
        NF__CK(cudaEventCreate(&v->ev[s][1]));
    }
    v->ready = 1;
    return NF_OK;
}

/* Bytes device d may hold for a batch: free memory plus what the engine holds
 * there, less a margin for the runtime, capped by the limit. */
extern "C" nf_status nf__cuda_budget(nf__cuda *c, int d, size_t *out)
{
    size_t free_b = 0, total_b = 0, held = 0;
    NF__CK(cudaSetDevice(d));
    NF__CK(cudaMemGetInfo(&free_b, &total_b));
    for (int s = 0; s < NF__STREAMS; s++)
        for (int k = 0; k < NF__B_COUNT; k++) held += c->dev[d].cap[s][k];
    size_t margin = total_b / 32 > ((size_t)64 << 20) ? total_b / 32 : ((size_t)64 << 20);
    size_t avail = free_b + held > margin ? free_b + held - margin : 0;
    *out = c->limit && c->limit < avail ? c->limit : avail;
    return NF_OK;
}

/* Grow the buffers of plan device pd (CUDA device d), stream s to the plan's sizes. */
static nf_status nf__reserve(nf__cuda *c, const nf__plan *p, int pd, int d, int s)
{
    nf__cuda_dev *v = &c->dev[d];
    for (int k = 0; k < NF__B_COUNT; k++) {
        size_t need = nf__plan_slot_bytes(p, pd, s, k);
        if (need <= v->cap[s][k]) continue;
        cudaFree(v->buf[s][k]);
        v->buf[s][k] = NULL;
        v->cap[s][k] = 0;
        NF__CK(cudaMalloc(&v->buf[s][k], need));
        v->cap[s][k] = need;
    }
    return NF_OK;
}

static nf_status nf__copy_run(nf__cuda_dev *v, int stream, const nf__copy *x)
{
    char *dev = (char *)v->buf[stream][x->slot] + x->dev_off;
    cudaStream_t st = v->stream[stream];
    if (x->to_device)
        NF__CK(cudaMemcpy2DAsync(dev, x->dev_pitch, x->src, x->host_pitch, x->width, x->rows, cudaMemcpyHostToDevice, st));
    else
        NF__CK(cudaMemcpy2DAsync(x->dst, x->host_pitch, dev, x->dev_pitch, x->width, x->rows, cudaMemcpyDeviceToHost, st));
    return NF_OK;
}

/* Uploads and the kernel of launch li on its device's stream, not waited for. */
static nf_status nf__launch_start(nf__cuda *c, const nf__plan *p, int64_t li, const int *ids, int model_id,
                                  const nf__kargs *h)
{
    const nf__launch *L = &p->launches[li];
    nf__cuda_dev *v = &c->dev[ids[L->device]];
    NF__CK(cudaSetDevice(ids[L->device]));
    nf_status s = NF_OK;
    for (int64_t k = 0; k < L->n_in && !s; k++) s = nf__copy_run(v, L->stream, &p->copies[L->copy_in + k]);
    if (s) return s;
    nf__kargs a;
    nf__plan_bind(p, li, h, v->buf[L->stream], &a);
    cudaStream_t st = v->stream[L->stream];
    NF__CK(cudaEventRecord(v->ev[L->stream][0], st));
    nf__kernels[L->variant * NF__N_MODELS + model_id]<<<L->blocks, L->threads, 0, st>>>(a);
    cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess)
        return nf__fail(NF_ECUDA, "%s:%d: kernel of model %d (launch %lld of %lld, device %d): %s", __FILE__, __LINE__,
                        model_id, (long long)li, (long long)p->n_launches, ids[L->device], cudaGetErrorString(err));
    NF__CK(cudaEventRecord(v->ev[L->stream][1], st));
    return NF_OK;
}

/* Wait for launch li's kernel, add its time, copy its outputs back. */
static nf_status nf__launch_finish(nf__cuda *c, const nf__plan *p, int64_t li, const int *ids)
{
    const nf__launch *L = &p->launches[li];
    nf__cuda_dev *v = &c->dev[ids[L->device]];
    NF__CK(cudaSetDevice(ids[L->device]));
    cudaError_t err = cudaEventSynchronize(v->ev[L->stream][1]);
    if (err != cudaSuccess)
        return nf__fail(NF_ECUDA, "%s:%d: launch %lld of %lld on device %d: %s", __FILE__, __LINE__, (long long)li,
                        (long long)p->n_launches, ids[L->device], cudaGetErrorString(err));
    float ms = 0;
    NF__CK(cudaEventElapsedTime(&ms, v->ev[L->stream][0], v->ev[L->stream][1]));
    v->kernel_ms += ms;
    nf_status s = NF_OK;
    for (int64_t k = 0; k < L->n_out && !s; k++) s = nf__copy_run(v, L->stream, &p->copies[L->copy_out + k]);
    if (!s) NF__CK(cudaStreamSynchronize(v->stream[L->stream]));
    return s;
}

/* The plan in rounds: round r starts the r-th launch of every (device,
 * stream) and then finishes them, so the devices compute side by side. */
extern "C" nf_status nf__cuda_exec(nf__cuda *c, const nf__plan *p, const int *ids, int model_id, const nf__kargs *h,
                                   double *kernel_s)
{
    *kernel_s = 0;
    nf_status s = NF_OK;
    for (int d = 0; d < p->n_devices && !s; d++) {
        if (!(s = nf__dev_ready(c, ids[d]))) c->dev[ids[d]].kernel_ms = 0;
        for (int q = 0; q < p->n_streams && !s; q++) s = nf__reserve(c, p, d, ids[d], q);
    }
    const int nq = p->n_devices * p->n_streams;
    int64_t *next = (int64_t *)calloc((size_t)nq, sizeof *next), *cur = (int64_t *)malloc(sizeof(int64_t) * (size_t)nq);
    if (!s && (!next || !cur)) s = nf__fail(NF_ENOMEM, "cuda: out of memory");
    for (int more = 1; more && !s;) {
        more = 0;
        for (int q = 0; q < nq; q++) { /* the next launch of each (device, stream) */
            cur[q] = -1;
            int64_t li = next[q];
            while (li < p->n_launches && p->launches[li].device * p->n_streams + p->launches[li].stream != q) li++;
            if (li < p->n_launches) {
                cur[q] = li;
                next[q] = li + 1;
                more = 1;
            }
        }
        for (int q = 0; q < nq && !s; q++)
            if (cur[q] >= 0) s = nf__launch_start(c, p, cur[q], ids, model_id, h);
        for (int q = 0; q < nq && !s; q++)
            if (cur[q] >= 0) s = nf__launch_finish(c, p, cur[q], ids);
    }
    free(next);
    free(cur);
    for (int d = 0; d < p->n_devices; d++)
        *kernel_s = c->dev[ids[d]].kernel_ms * 1e-3 > *kernel_s ? c->dev[ids[d]].kernel_ms * 1e-3 : *kernel_s;
    return s;
}
