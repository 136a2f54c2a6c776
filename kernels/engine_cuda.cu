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
 * for the runtime), capped by nf_engine_set_memory_limit. Every CUDA call is
 * checked; errors come back as NF_ECUDA with file and line. */
#include <cuda_runtime.h>

#include "engine/backend.h"
#include "engine/plan.h"
#include "internal.h"
#include "sim_all.h"

#include <stdio.h>
#include <string.h>

#define NF__KERNEL(m, v)                                                            \
    __global__ void __launch_bounds__(128) nf__k_##m##_##v(nf__kargs a)             \
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

enum { NF__THREADS = 128, NF__MAX_DEV = 16, NF__STREAMS = 1 };

typedef struct nf__cuda_dev {
    void *buf[NF__STREAMS][NF__B_COUNT];
    size_t cap[NF__STREAMS][NF__B_COUNT];
    cudaEvent_t ev[2];
    int ready; /* events created */
} nf__cuda_dev;

struct nf__cuda {
    int n_devices;
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
    c->n_devices = 1; /* device 0; issue 18 spreads a batch over several */
    cudaError_t err = cudaSetDevice(0);
    if (err != cudaSuccess) {
        free(c);
        return nf__fail(NF_ECUDA, "cudaSetDevice(0): %s", cudaGetErrorString(err));
    }
    *out = c;
    return NF_OK;
}

extern "C" void nf__cuda_destroy(nf__cuda *c)
{
    if (!c) return;
    for (int d = 0; d < c->n_devices; d++) {
        cudaSetDevice(d);
        for (int s = 0; s < NF__STREAMS; s++)
            for (int k = 0; k < NF__B_COUNT; k++) cudaFree(c->dev[d].buf[s][k]);
        if (c->dev[d].ready) {
            cudaEventDestroy(c->dev[d].ev[0]);
            cudaEventDestroy(c->dev[d].ev[1]);
        }
    }
    free(c);
}

extern "C" void nf__cuda_set_limit(nf__cuda *c, size_t bytes) { c->limit = bytes; }

/* Bytes device d may hold for a batch: free memory plus what the engine holds
 * there, less a margin for the runtime, capped by the limit. */
static nf_status nf__budget(nf__cuda *c, int d, size_t *out)
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

/* Grow the buffers of (device, stream) to the plan's sizes. */
static nf_status nf__reserve(nf__cuda *c, const nf__plan *p, int d, int s)
{
    nf__cuda_dev *v = &c->dev[d];
    for (int k = 0; k < NF__B_COUNT; k++) {
        size_t need = nf__plan_slot_bytes(p, d, s, k);
        if (need <= v->cap[s][k]) continue;
        cudaFree(v->buf[s][k]);
        v->buf[s][k] = NULL;
        v->cap[s][k] = 0;
        NF__CK(cudaMalloc(&v->buf[s][k], need));
        v->cap[s][k] = need;
    }
    if (!v->ready) {
        NF__CK(cudaEventCreate(&v->ev[0]));
        NF__CK(cudaEventCreate(&v->ev[1]));
        v->ready = 1;
    }
    return NF_OK;
}

static nf_status nf__copy_run(nf__cuda_dev *v, int stream, const nf__copy *x)
{
    char *dev = (char *)v->buf[stream][x->slot] + x->dev_off;
    if (x->to_device)
        NF__CK(cudaMemcpy2D(dev, x->dev_pitch, x->src, x->host_pitch, x->width, x->rows, cudaMemcpyHostToDevice));
    else
        NF__CK(cudaMemcpy2D(x->dst, x->host_pitch, dev, x->dev_pitch, x->width, x->rows, cudaMemcpyDeviceToHost));
    return NF_OK;
}

extern "C" nf_status nf__cuda_run(nf__cuda *c, int model_id, int n_params, int n_state, const nf__kargs *h,
                                  double *kernel_s)
{
    *kernel_s = 0;
    size_t budget[NF__MAX_DEV];
    nf_status s;
    for (int d = 0; d < c->n_devices; d++)
        if ((s = nf__budget(c, d, &budget[d]))) return s;
    nf__plan_opts o;
    o.n_devices = c->n_devices;
    o.n_streams = NF__STREAMS;
    o.budget = budget;
    o.threads_per_block = NF__THREADS;
    nf__plan p;
    if ((s = nf__plan_make(h, n_params, n_state, &o, &p))) return s;
    for (int d = 0; d < p.n_devices && !s; d++) {
        cudaError_t err = cudaSetDevice(d);
        if (err != cudaSuccess) s = nf__fail(NF_ECUDA, "cudaSetDevice(%d): %s", d, cudaGetErrorString(err));
        for (int q = 0; q < p.n_streams && !s; q++) s = nf__reserve(c, &p, d, q);
    }
    double ms_total = 0;
    for (int64_t li = 0; li < p.n_launches && !s; li++) {
        const nf__launch *L = &p.launches[li];
        nf__cuda_dev *v = &c->dev[L->device];
        cudaError_t err = cudaSetDevice(L->device);
        if (err != cudaSuccess) {
            s = nf__fail(NF_ECUDA, "cudaSetDevice(%d): %s", L->device, cudaGetErrorString(err));
            break;
        }
        for (int64_t k = 0; k < L->n_in && !s; k++) s = nf__copy_run(v, L->stream, &p.copies[L->copy_in + k]);
        if (s) break;
        nf__kargs a;
        nf__plan_bind(&p, li, h, v->buf[L->stream], &a);
        cudaEventRecord(v->ev[0]);
        nf__kernels[L->variant * NF__N_MODELS + model_id]<<<L->blocks, L->threads>>>(a);
        err = cudaGetLastError();
        cudaEventRecord(v->ev[1]);
        if (err == cudaSuccess) err = cudaEventSynchronize(v->ev[1]);
        if (err != cudaSuccess) {
            s = nf__fail(NF_ECUDA, "%s:%d: kernel %d (launch %lld of %lld): %s", __FILE__, __LINE__, model_id,
                         (long long)li, (long long)p.n_launches, cudaGetErrorString(err));
            break;
        }
        float ms = 0;
        cudaEventElapsedTime(&ms, v->ev[0], v->ev[1]);
        ms_total += ms;
        for (int64_t k = 0; k < L->n_out && !s; k++) s = nf__copy_run(v, L->stream, &p.copies[L->copy_out + k]);
    }
    nf__plan_free(&p);
    *kernel_s = ms_total * 1e-3;
    return s;
}
