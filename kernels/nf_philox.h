/* Counter-based random numbers: Philox4x32-10 (Salmon et al. 2011, "Parallel
 * random numbers: as easy as 1, 2, 3"), the generator behind cuRAND's
 * curand_Philox4x32_10.
 *
 * On the GPU the block function is cuRAND's own device function; in C it is
 * the portable implementation below, which reproduces cuRAND bit for bit for
 * the same key and counter (tests/test_rng.c checks the Random123 known-answer
 * vectors; tests/test_engine_cuda.c compares the two on a device).
 *
 * neurofit's streams: key = (seed low 32, seed high 32); counter =
 * (block, stream, sim low 32, sim high 32), where block = step / 4 and stream
 * names the use (NF_RNG_STIMULUS, NF_RNG_INTRINSIC, NF_RNG_PRIOR,
 * NF_RNG_SBI_STIMULUS: SBI training-set stimuli, src/sbi/). One call
 * gives four uniforms and, through two Box-Muller transforms, four normals for
 * steps 4*block .. 4*block+3. A value therefore depends only on (seed, stream,
 * simulation, step): the same on both backends, any thread count or batch split.
 */
#ifndef NEUROFIT_PHILOX_H
#define NEUROFIT_PHILOX_H

#include "nf_kernel.h"
#include "nf_math.h"

#if defined(__CUDACC__)
#include <curand_kernel.h>
#endif

enum { NF_RNG_STIMULUS = 0, NF_RNG_INTRINSIC = 1, NF_RNG_PRIOR = 2, NF_RNG_SBI_STIMULUS = 3 };

typedef struct nf_u32x4 {
    uint32_t x, y, z, w;
} nf_u32x4;

NF_HD uint32_t nf__mulhilo(uint32_t a, uint32_t b, uint32_t *hi)
{
    uint64_t p = (uint64_t)a * (uint64_t)b;
    *hi = (uint32_t)(p >> 32);
    return (uint32_t)p;
}

/* Philox4x32-10 of counter c under key (k0, k1). */
NF_HD nf_u32x4 nf_philox4x32_10(nf_u32x4 c, uint32_t k0, uint32_t k1)
{
#if defined(__CUDA_ARCH__)
    uint4 cc = make_uint4(c.x, c.y, c.z, c.w);
    uint2 kk = make_uint2(k0, k1);
    uint4 r = curand_Philox4x32_10(cc, kk);
    nf_u32x4 o;
    o.x = r.x;
    o.y = r.y;
    o.z = r.z;
    o.w = r.w;
    return o;
#else
    for (int round = 0; round < 10; round++) {
        uint32_t hi0, hi1;
        uint32_t lo0 = nf__mulhilo(0xD2511F53u, c.x, &hi0);
        uint32_t lo1 = nf__mulhilo(0xCD9E8D57u, c.z, &hi1);
        nf_u32x4 n;
        n.x = hi1 ^ c.y ^ k0;
        n.y = lo1;
        n.z = hi0 ^ c.w ^ k1;
        n.w = lo0;
        c = n;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return c;
#endif
}

/* Uniform in (0, 1] from 32 random bits, as cuRAND's curand_uniform. */
NF_HD float nf_u32_to_uniform(uint32_t x)
{
    return (float)x * 2.3283064365386963e-10f + 1.1641532182693481e-10f;
}

/* Four uniforms in (0, 1] for (seed, stream, sim, block). */
NF_HD void nf_rng_uniform4(uint64_t seed, uint32_t stream, uint64_t sim, uint32_t block, float *u)
{
    nf_u32x4 c;
    c.x = block;
    c.y = stream;
    c.z = (uint32_t)sim;
    c.w = (uint32_t)(sim >> 32);
    nf_u32x4 r = nf_philox4x32_10(c, (uint32_t)seed, (uint32_t)(seed >> 32));
    u[0] = nf_u32_to_uniform(r.x);
    u[1] = nf_u32_to_uniform(r.y);
    u[2] = nf_u32_to_uniform(r.z);
    u[3] = nf_u32_to_uniform(r.w);
}

/* Two standard normals from two uniforms in (0, 1] (Box-Muller). */
NF_HD void nf_box_muller(float u0, float u1, float *n0, float *n1)
{
    float r = sqrtf(-2.0f * nf_logf(u0));
    float s, c;
    nf_sincosf(6.28318530717958648f * u1 - 1.0e-7f * (u1 == 1.0f), &s, &c);
    *n0 = r * s;
    *n1 = r * c;
}

/* Four standard normals for (seed, stream, sim, block). */
NF_HD void nf_rng_normal4(uint64_t seed, uint32_t stream, uint64_t sim, uint32_t block, float *z)
{
    float u[4];
    nf_rng_uniform4(seed, stream, sim, block, u);
    nf_box_muller(u[0], u[1], &z[0], &z[1]);
    nf_box_muller(u[2], u[3], &z[2], &z[3]);
}

#endif
