/* The host's seeded generator (xoshiro256** seeded by splitmix64) and FNV-1a
 * (src/core/rng.h). */
#include "rng.h"

#include <math.h>

uint64_t nf__mix64(uint64_t x)
{
    uint64_t z = x + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void nf__rng_seed(nf__rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = nf__splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t nf__rng_u64(nf__rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

double nf__rng_uniform(nf__rng *r) { return (double)(nf__rng_u64(r) >> 11) * 0x1.0p-53; }

void nf__rng_normal_fill(nf__rng *r, double *z, int64_t m)
{
    /* Marsaglia's polar method: one log and one sqrt per pair, no trigonometry. */
    for (int64_t i = 0; i < m; i += 2) {
        double a, b, q;
        do {
            a = 2.0 * nf__rng_uniform(r) - 1.0;
            b = 2.0 * nf__rng_uniform(r) - 1.0;
            q = a * a + b * b;
        } while (q >= 1.0 || q == 0.0);
        double f = sqrt(-2.0 * log(q) / q);
        z[i] = a * f;
        if (i + 1 < m) z[i + 1] = b * f;
    }
}

double nf__rng_normal(nf__rng *r)
{
    double z;
    nf__rng_normal_fill(r, &z, 1);
    return z;
}

int64_t nf__rng_below(nf__rng *r, int64_t k)
{
    uint64_t lim = UINT64_MAX - UINT64_MAX % (uint64_t)k;
    uint64_t x;
    do x = nf__rng_u64(r);
    while (x >= lim);
    return (int64_t)(x % (uint64_t)k);
}

uint64_t nf__fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}
