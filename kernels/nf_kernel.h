/* Common definitions for code compiled both as C17 (CPU backend, gcc/clang)
 * and as CUDA C++ device code (nvcc). Everything under kernels/ sticks to the
 * common subset of the two languages: no compound literals, no VLAs,
 * f-suffixed float literals, restrict spelled NF_RESTRICT.
 *
 * NF_HD      marks a function __host__ __device__ under nvcc, nothing in C.
 * NF_LANES   how many neurons one call of a simulate-block body advances side
 *            by side: 1 on the GPU (one thread per neuron), NF_CPU_LANES on
 *            the CPU so that the inner loop over lanes vectorises.
 */
#ifndef NEUROFIT_KERNEL_H
#define NEUROFIT_KERNEL_H

#include <stdint.h>

#if defined(__CUDACC__)
#define NF_HD __host__ __device__ __forceinline__
#define NF_RESTRICT __restrict__
#define NF_LANES 1
#elif defined(__cplusplus)
#define NF_HD inline
#define NF_RESTRICT __restrict__
#define NF_LANES NF_CPU_LANES
#define NF_LDG(p) (*(p))
#else
#define NF_HD static inline
#define NF_RESTRICT restrict
#define NF_LANES NF_CPU_LANES
#define NF_LDG(p) (*(p))
#endif

/* 64 lanes: four AVX-512 vectors per state variable, enough to amortise the
 * per-step bookkeeping (measured: 16 lanes 1.1e9, 32 1.8e9, 64 2.1e9, 128 2.0e9
 * LIF neuron-steps/s per core). */
#ifndef NF_CPU_LANES
#define NF_CPU_LANES 64
#endif

#define NF_CAT_(a, b) a##b
#define NF_CAT(a, b) NF_CAT_(a, b)
#define NF_CAT3(a, b, c) NF_CAT(NF_CAT(a, b), c)

/* Field generators for the X-macro lists of a model header:
 *   PARAMS(X): X(name, unit, default, fit_lo, fit_hi, valid_lo, valid_hi, "description")
 *   STATE(X):  X(name, unit, "description")
 *   CONST(X):  X(name)   derived per-neuron constants used by the step */
#define NF_PAR_FIELD(name, unit, def, lo, hi, vlo, vhi, doc) float name;
#define NF_STATE_FIELD(name, unit, doc) float name;
#define NF_CONST_FIELD(name) float name;

/* Read-only-cache loads on the device; plain loads elsewhere (also in the
 * host pass of nvcc, which compiles the shared functions for the host too). */
#if defined(__CUDA_ARCH__)
#define NF_LDG(p) __ldg(p)
#elif defined(__CUDACC__)
#define NF_LDG(p) (*(p))
#endif

/* Bit casts between float and 32-bit integers. */
#if defined(__CUDA_ARCH__)
#define NF_F2I(x) __float_as_int(x)
#define NF_I2F(x) __int_as_float(x)
#else
NF_HD int32_t nf__f2i(float x)
{
    union {
        float f;
        int32_t i;
    } u;
    u.f = x;
    return u.i;
}
NF_HD float nf__i2f(int32_t x)
{
    union {
        float f;
        int32_t i;
    } u;
    u.i = x;
    return u.f;
}
#define NF_F2I(x) nf__f2i(x)
#define NF_I2F(x) nf__i2f(x)
#endif

/* (double)n for 0 <= n < 2^31, from the bits of 2^52 + n: exact, and not an
 * int-to-float conversion that a compiler may turn into a floating-point
 * induction variable of the time loop (an f64 add on every step). */
#if defined(__CUDA_ARCH__)
#define NF_I2D(n) (__longlong_as_double(0x4330000000000000LL + (long long)(uint32_t)(n)) - 4503599627370496.0)
#else
NF_HD double nf__i2d(int32_t n)
{
    union {
        double d;
        uint64_t u;
    } x;
    x.u = 0x4330000000000000ull + (uint64_t)(uint32_t)n;
    return x.d - 4503599627370496.0;
}
#define NF_I2D(n) nf__i2d(n)
#endif

/* Before a loop that must stay rolled on the GPU: the time loop, whose
 * instructions per step scripts/ptx-count reads from the PTX. */
#if defined(__CUDA_ARCH__)
#define NF_ROLLED _Pragma("unroll 1")
#else
#define NF_ROLLED
#endif

/* Validity of a simulation: every sample finite and |V| <= v_limit. The
 * body keeps one running value per lane: on the GPU the NaN-propagating
 * maximum of |V| (one max.NaN per step; sm_80 and later), on the CPU the
 * or of !(|V| <= v_limit) (vector compare and or). Both answer the same
 * predicate, so the flag is the same on either backend.
 *   NF_VALID_T                  the running value's type
 *   NF_VALID_INIT(v, lim)       after sample 0 (voltage v)
 *   NF_VALID_ACC(x, v, lim)     after each further sample
 *   NF_VALID_END(x, lim)        1 when valid */
#if defined(__CUDA_ARCH__)
__device__ __forceinline__ float nf__max_nan(float a, float b)
{
    float r;
    asm("max.NaN.f32 %0, %1, %2;" : "=f"(r) : "f"(a), "f"(b));
    return r;
}
#define NF_VALID_T float
#define NF_VALID_INIT(v, lim) fabsf(v)
#define NF_VALID_ACC(x, v, lim) nf__max_nan((x), fabsf(v))
#define NF_VALID_END(x, lim) ((x) <= (lim))
#else
/* -1 once a sample was out (a vector compare's mask, or-ed as it is) */
#define NF_VALID_T int32_t
#define NF_VALID_INIT(v, lim) (fabsf(v) <= (lim) ? 0 : -1)
#define NF_VALID_ACC(x, v, lim) ((x) | (fabsf(v) <= (lim) ? 0 : -1))
#define NF_VALID_END(x, lim) ((x) == 0)
#endif

/* Per-batch constants every model may use when preparing a neuron. */
typedef struct nf__env {
    float dt;       /* ms */
    float v_detect; /* mV: spike detection level for models without a reset */
} nf__env;

#endif
