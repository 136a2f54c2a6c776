/* CUDA side of the SBI device path (issue 18): the BayesFlow stimulus
 * generated on the device, one thread per simulation (kernels/sbi_cuda.h's
 * nf__sbi_stim_thread, the function the host replay runs), written in
 * step-major tiles (coalesced) and turned into rows on the host.
 *
 * Only allocation, copies and the launch live here; what is computed, and
 * its layout, is the shared header's, proven on the CPU by
 * tests/test_sbi_device.c. Every CUDA call is checked; errors come back as
 * NF_ECUDA with file and line. */
#include <cuda_runtime.h>

#include "internal.h"
#include "sbi/sbi_internal.h"
#include "sbi_cuda.h"

#include <stdio.h>
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

enum { NF__SBI_THREADS = 128 };

__global__ void __launch_bounds__(NF__SBI_THREADS) nf__k_sbi_stim(nf__bf_const c, int64_t first, int64_t n, float *out)
{
    nf__sbi_stim_thread(&c, first, n, out, blockIdx.x, blockDim.x, threadIdx.x);
}

extern "C" nf_status nf__sbi_cuda_stimuli(const nf__bf_const *c, int64_t first, int64_t n, float *out)
{
    nf_status s = NF_OK;
    double *d_sinw = NULL;
    float *d_out = NULL, *h_tile = NULL;
    const size_t T = (size_t)c->T, bytes = sizeof(float) * T * (size_t)n;
    nf__bf_const dc = *c;
    if (n <= 0) return NF_OK;
    NF__SCK(cudaSetDevice(0));
    NF__SCK(cudaMalloc(&d_sinw, sizeof(double) * T));
    NF__SCK(cudaMalloc(&d_out, bytes));
    NF__SCK(cudaMallocHost(&h_tile, bytes));
    NF__SCK(cudaMemcpy(d_sinw, c->sinw, sizeof(double) * T, cudaMemcpyHostToDevice));
    dc.sinw = d_sinw;
    nf__k_sbi_stim<<<(unsigned)((n + NF__SBI_THREADS - 1) / NF__SBI_THREADS), NF__SBI_THREADS>>>(dc, first, n, d_out);
    NF__SCK(cudaGetLastError());
    NF__SCK(cudaMemcpy(h_tile, d_out, bytes, cudaMemcpyDeviceToHost));
    nf__sbi_transpose(h_tile, (int64_t)T, n, out);
done:
    cudaFree(d_sinw);
    cudaFree(d_out);
    cudaFreeHost(h_tile);
    return s;
}
