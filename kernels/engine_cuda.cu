/* CUDA backend: one thread per simulation running the whole time loop of the
 * shared body (kernels/sim_body.h) with NF_LANES = 1; stimulus, targets and
 * parameters read through the read-only cache (__ldg); no per-step launches.
 *
 * Host side: device buffers are kept per engine and only grow, so repeated
 * runs of one batch shape (a fit's generations) allocate nothing. Every CUDA
 * call is checked; errors come back as NF_ECUDA with file and line. Batches
 * whose recorded voltage would not fit are run in slices of simulations (the
 * RNG is keyed by the global simulation index, so slicing changes nothing). */
#include <cuda_runtime.h>

#include "engine/backend.h"
#include "internal.h"
#include "sim_all.h"

#include <stdio.h>
#include <string.h>

#define NF__KERNEL(m)                                                             \
    __global__ void __launch_bounds__(128) nf__k_##m(nf__kargs a)                 \
    {                                                                             \
        int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;              \
        if (i < a.n_sims) nf__sim_##m(&a, i, 1);                                  \
    }
NF_MODEL_LIST(NF__KERNEL)

typedef void (*nf__kernel_fn)(nf__kargs);
#define NF__KPTR(m) nf__k_##m,
static const nf__kernel_fn nf__kernels[] = {NF_MODEL_LIST(NF__KPTR)};

#define NF__CK(call)                                                                          \
    do {                                                                                      \
        cudaError_t err_ = (call);                                                            \
        if (err_ != cudaSuccess)                                                              \
            return nf__fail(NF_ECUDA, "%s:%d: %s: %s", __FILE__, __LINE__, #call,             \
                            cudaGetErrorString(err_));                                        \
    } while (0)

enum { B_PAR, B_INIT, B_WAVES, B_WIDX, B_TARGET, B_TIDX, B_REC, B_SPKT, B_SPKN, B_FIN, B_VALID, B_SSE, B_COUNT };

struct nf__cuda {
    void *buf[B_COUNT];
    size_t cap[B_COUNT];
    char name[256];
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
    for (int i = 0; i < B_COUNT; i++) cudaFree(c->buf[i]);
    free(c);
}

static nf_status nf__dev(nf__cuda *c, int slot, size_t bytes, void **out)
{
    if (bytes == 0) bytes = 1;
    if (bytes > c->cap[slot]) {
        cudaFree(c->buf[slot]);
        c->buf[slot] = NULL;
        c->cap[slot] = 0;
        NF__CK(cudaMalloc(&c->buf[slot], bytes));
        c->cap[slot] = bytes;
    }
    *out = c->buf[slot];
    return NF_OK;
}

/* Upload host array h (bytes) into slot; *d = device pointer or NULL. */
static nf_status nf__up(nf__cuda *c, int slot, const void *h, size_t bytes, const void **d)
{
    *d = NULL;
    if (!h) return NF_OK;
    void *p = NULL;
    nf_status s = nf__dev(c, slot, bytes, &p);
    if (s) return s;
    NF__CK(cudaMemcpy(p, h, bytes, cudaMemcpyHostToDevice));
    *d = p;
    return NF_OK;
}

extern "C" nf_status nf__cuda_run(nf__cuda *c, int model_id, int n_params, int n_state, const nf__kargs *h)
{
    nf_status s;
    const int64_t n = h->n_sims;
    nf__kargs d = *h;
    const void *p = NULL;
    /* inputs shared by all slices */
    if ((s = nf__up(c, B_WAVES, h->waves, sizeof(float) * h->n_waves * h->n_steps, &p))) return s;
    d.waves = (const float *)p;
    if ((s = nf__up(c, B_TARGET, h->target, sizeof(float) * h->n_targets * h->n_obs, &p))) return s;
    d.target = (const float *)p;

    /* slice so the voltage buffer stays below 4 GiB */
    int64_t slice = n;
    const double rec_bytes = (double)h->n_rec * sizeof(float);
    if (h->rec && rec_bytes * n > 4.0 * (1 << 30)) slice = (int64_t)(4.0 * (1 << 30) / rec_bytes);
    if (slice < 1) slice = 1;

    float *par_h = (float *)malloc(sizeof(float) * (size_t)slice * (n_params + 2 * n_state) + 1);
    if (!par_h) return nf__fail(NF_ENOMEM, "cuda: out of memory");
    float *init_h = par_h + (size_t)slice * n_params;
    float *fin_h = init_h + (size_t)slice * n_state;

    s = NF_OK;
    for (int64_t s0 = 0; s0 < n && !s; s0 += slice) {
        int64_t m = n - s0 < slice ? n - s0 : slice;
        /* SoA slice [k][m] from the host's [k][n] */
        for (int k = 0; k < n_params; k++)
            memcpy(par_h + (size_t)k * m, h->params + (size_t)k * n + s0, sizeof(float) * m);
        if (h->init)
            for (int k = 0; k < n_state; k++)
                memcpy(init_h + (size_t)k * m, h->init + (size_t)k * n + s0, sizeof(float) * m);
        nf__kargs a = d;
        a.n_sims = m;
        a.sim_offset = h->sim_offset + s0;
        a.stride = m;
        void *q = NULL;
        if ((s = nf__up(c, B_PAR, par_h, sizeof(float) * m * n_params, &p))) break;
        a.params = (const float *)p;
        if ((s = nf__up(c, B_INIT, h->init ? init_h : NULL, sizeof(float) * m * n_state, &p))) break;
        a.init = (const float *)p;
        if ((s = nf__up(c, B_WIDX, h->wave_idx ? h->wave_idx + s0 : NULL, sizeof(int32_t) * m, &p))) break;
        a.wave_idx = (const int32_t *)p;
        if ((s = nf__up(c, B_TIDX, h->target_idx ? h->target_idx + s0 : NULL, sizeof(int32_t) * m, &p))) break;
        a.target_idx = (const int32_t *)p;
#define NF__OUT(slot, field, type, per)                                            \
    if (h->field) {                                                                \
        if ((s = nf__dev(c, slot, sizeof(type) * (size_t)m * (per), &q))) break;   \
        a.field = (type *)q;                                                       \
    }
        NF__OUT(B_REC, rec, float, h->n_rec)
        NF__OUT(B_SPKT, spk_t, float, h->max_spikes)
        NF__OUT(B_SPKN, spk_n, int32_t, 1)
        NF__OUT(B_FIN, final_state, float, n_state)
        NF__OUT(B_VALID, valid, uint8_t, 1)
        NF__OUT(B_SSE, sse, double, 1)
#undef NF__OUT
        const int threads = 128;
        const int64_t blocks = (m + threads - 1) / threads;
        nf__kernels[model_id]<<<(unsigned)blocks, threads>>>(a);
        cudaError_t err = cudaGetLastError();
        if (err == cudaSuccess) err = cudaDeviceSynchronize();
        if (err != cudaSuccess) {
            s = nf__fail(NF_ECUDA, "%s:%d: kernel %d: %s", __FILE__, __LINE__, model_id, cudaGetErrorString(err));
            break;
        }
#define NF__DOWN(field, type, per)                                                               \
    if (h->field) {                                                                              \
        err = cudaMemcpy(h->field + (size_t)s0 * (per), a.field, sizeof(type) * (size_t)m * (per), \
                         cudaMemcpyDeviceToHost);                                                \
        if (err != cudaSuccess) {                                                                \
            s = nf__fail(NF_ECUDA, "%s:%d: copy " #field ": %s", __FILE__, __LINE__,             \
                         cudaGetErrorString(err));                                               \
            break;                                                                               \
        }                                                                                        \
    }
        NF__DOWN(rec, float, h->n_rec)
        NF__DOWN(spk_t, float, h->max_spikes)
        NF__DOWN(spk_n, int32_t, 1)
        NF__DOWN(valid, uint8_t, 1)
        NF__DOWN(sse, double, 1)
#undef NF__DOWN
        if (h->final_state) {
            err = cudaMemcpy(fin_h, a.final_state, sizeof(float) * (size_t)m * n_state, cudaMemcpyDeviceToHost);
            if (err != cudaSuccess) {
                s = nf__fail(NF_ECUDA, "copy final_state: %s", cudaGetErrorString(err));
                break;
            }
            for (int k = 0; k < n_state; k++)
                memcpy(h->final_state + (size_t)k * n + s0, fin_h + (size_t)k * m, sizeof(float) * m);
        }
    }
    free(par_h);
    return s;
}
