/* The library's one seeded generator on the host, and its one hash (prefix
 * nf__, not installed).
 *
 * - nf__rng: xoshiro256** (Blackman & Vigna 2018), its four words seeded by
 *   splitmix64 from one 64-bit seed. For sequential draws owned by one
 *   object (an optimiser, a resampler); the state is plain data, so it is
 *   saved and restored with its owner. Not thread safe: one owner per state.
 *   The engine's per-simulation streams are Philox (kernels/nf_philox.h),
 *   keyed by (seed, simulation, step), not this.
 * - nf__mix64 / nf__splitmix64: splitmix64 (Steele, Lea & Flood 2014) as a
 *   mixer (derive a well-spread seed from a seed and an index) and as a
 *   stream.
 * - nf__fnv1a: FNV-1a 64 (checksums, fingerprints, name keys).
 *
 * The sequences are part of the results: changing any function here changes
 * optimiser runs and invalidates checkpoints. */
#ifndef NEUROFIT_RNG_H
#define NEUROFIT_RNG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- splitmix64 ------------------------------------------------------------- */

/* splitmix64's output for state x: (x + golden gamma), then the finaliser. */
uint64_t nf__mix64(uint64_t x);

/* One step of the splitmix64 stream: the next value of state *x. */
static inline uint64_t nf__splitmix64(uint64_t *x)
{
    uint64_t z = nf__mix64(*x);
    *x += 0x9E3779B97F4A7C15ull;
    return z;
}

/* ---- xoshiro256** ----------------------------------------------------------- */

/* 32 bytes, 8-byte words, no padding: embeddable in checkpointed state. */
typedef struct nf__rng {
    uint64_t s[4];
} nf__rng;

/* State from one seed: four consecutive splitmix64 values of the seed. */
void nf__rng_seed(nf__rng *r, uint64_t seed);
uint64_t nf__rng_u64(nf__rng *r);
/* Uniform in [0, 1): the top 53 bits of one draw. */
double nf__rng_uniform(nf__rng *r);
/* m values N(0, 1) (Marsaglia's polar method, a pair per accepted point; an
 * odd tail drops its partner, so nothing is cached between calls). */
void nf__rng_normal_fill(nf__rng *r, double *z, int64_t m);
/* One N(0, 1) value (nf__rng_normal_fill of one). */
double nf__rng_normal(nf__rng *r);
/* Uniform integer in [0, k), k >= 1, unbiased (rejection of the top
 * remainder of 2^64). */
int64_t nf__rng_below(nf__rng *r, int64_t k);

/* ---- FNV-1a 64 -------------------------------------------------------------- */

#define NF__FNV1A_INIT 0xcbf29ce484222325ull

/* Hash n bytes of p into h (start from NF__FNV1A_INIT; chain calls to hash
 * several pieces as one). */
uint64_t nf__fnv1a(uint64_t h, const void *p, size_t n);

#ifdef __cplusplus
}
#endif
#endif
