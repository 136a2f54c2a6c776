/* Counter-based Philox4x32-10 and the shared float maths (kernels/nf_philox.h,
 * kernels/nf_math.h), as compiled for the CPU backend; the host's seeded
 * generator and hash (src/core/rng.h). */
#include "nf_philox.h"
#include "rng.h"

#include <criterion/criterion.h>
#include <math.h>

static void kat(uint32_t c0, uint32_t c1, uint32_t c2, uint32_t c3, uint32_t k0, uint32_t k1, uint32_t r0,
                uint32_t r1, uint32_t r2, uint32_t r3)
{
    nf_u32x4 c = {c0, c1, c2, c3};
    nf_u32x4 r = nf_philox4x32_10(c, k0, k1);
    cr_assert(r.x == r0 && r.y == r1 && r.z == r2 && r.w == r3, "got %08x %08x %08x %08x", r.x, r.y, r.z, r.w);
}

Test(philox, random123_known_answers)
{
    /* Random123's kat_vectors for philox4x32-10 */
    kat(0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8);
    kat(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d, 0x41c83b0e,
        0xa20bc7c6, 0x6d5451fd);
    kat(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09, 0x94fdcceb,
        0x5001e420, 0x24126ea1);
}

Test(philox, uniforms_in_open_closed_unit_interval_and_distinct_streams)
{
    float u[4], v[4];
    nf_rng_uniform4(1, NF_RNG_STIMULUS, 0, 0, u);
    nf_rng_uniform4(1, NF_RNG_STIMULUS, 1, 0, v);
    cr_assert(u[0] != v[0], "different simulations give different numbers");
    nf_rng_uniform4(1, NF_RNG_INTRINSIC, 0, 0, v);
    cr_assert(u[0] != v[0], "different streams give different numbers");
    cr_assert(nf_u32_to_uniform(0) > 0.0f);
    cr_assert(nf_u32_to_uniform(0xffffffffu) <= 1.0f);
}

Test(philox, normals_have_unit_moments)
{
    /* 400k normals: mean within 5 sigma of 0, variance within 1 %, tails sane */
    double s1 = 0, s2 = 0, s4 = 0;
    int64_t n = 0, beyond3 = 0;
    for (uint64_t sim = 0; sim < 1000; sim++)
        for (uint32_t blk = 0; blk < 100; blk++) {
            float z[4];
            nf_rng_normal4(99, NF_RNG_STIMULUS, sim, blk, z);
            for (int k = 0; k < 4; k++) {
                cr_assert(isfinite(z[k]));
                s1 += z[k];
                s2 += (double)z[k] * z[k];
                s4 += (double)z[k] * z[k] * z[k] * z[k];
                beyond3 += fabsf(z[k]) > 3.0f;
                n++;
            }
        }
    double mean = s1 / n, var = s2 / n - mean * mean, kurt = s4 / n / (var * var);
    cr_assert(fabs(mean) < 5.0 / sqrt((double)n), "mean %g", mean);
    cr_assert(fabs(var - 1.0) < 0.01, "variance %g", var);
    cr_assert(fabs(kurt - 3.0) < 0.06, "kurtosis %g", kurt);
    double p3 = (double)beyond3 / n; /* 0.0027 */
    cr_assert(p3 > 0.0022 && p3 < 0.0032, "P(|z| > 3) = %g", p3);
}

static double ulp_diff(float a, float b)
{
    return fabs((double)a - (double)b) / (double)(nextafterf(fabsf(b), INFINITY) - fabsf(b));
}

Test(nfmath, expf_within_3_ulp_on_its_range)
{
    double worst = 0;
    for (float x = -80.0f; x < 80.0f; x += 0.00731f) {
        double d = ulp_diff(nf_expf(x), expf(x));
        worst = d > worst ? d : worst;
    }
    cr_assert(worst <= 3.0, "worst %g ulp", worst);
    cr_assert_eq(nf_expf(0.0f), 1.0f);
    cr_assert(isnan(nf_expf(NAN)));
    cr_assert(isfinite(nf_expf(1000.0f)) && nf_expf(1000.0f) > 1e38f);
}

Test(nfmath, logf_within_3_ulp_on_unit_interval)
{
    double worst = 0;
    for (uint32_t k = 1; k < 2000000; k += 7) {
        float x = nf_u32_to_uniform(k * 2147u);
        float r = logf(x);
        if (r == 0.0f) continue;
        double d = ulp_diff(nf_logf(x), r);
        worst = d > worst ? d : worst;
    }
    cr_assert(worst <= 3.0, "worst %g ulp", worst);
}

Test(nfmath, sincosf_within_3e7_on_0_to_2pi)
{
    double worst = 0;
    for (float t = 0.0f; t < 6.2831853f; t += 1e-4f) {
        float s, c;
        nf_sincosf(t, &s, &c);
        double e = fmax(fabs(s - sin((double)t)), fabs(c - cos((double)t)));
        worst = e > worst ? e : worst;
    }
    cr_assert(worst < 3e-7, "worst abs error %g", worst);
}

Test(nfmath, acosf_within_3e7_on_minus_1_to_1)
{
    double worst = 0;
    for (float x = -1.0f; x <= 1.0f; x += 1e-4f) {
        double e = fabs(nf_acosf(x) - acos((double)x));
        worst = e > worst ? e : worst;
    }
    const float ends[] = {-1.0f, -0.5f, 0.0f, 0.5f, 1.0f};
    for (int k = 0; k < 5; k++) {
        double e = fabs(nf_acosf(ends[k]) - acos((double)ends[k]));
        worst = e > worst ? e : worst;
    }
    cr_assert(worst < 3e-7, "worst abs error %g", worst);
    cr_assert_eq(nf_acosf(1.0f), 0.0f);
}

Test(host_rng, splitmix64_known_answers)
{
    /* Vigna's splitmix64.c seeded with 1234567: its first five outputs */
    static const uint64_t want[5] = {6457827717110365317ull, 3203168211198807973ull,
                                     9817491932198370423ull, 4593380528125082431ull,
                                     16408922859458223821ull};
    uint64_t x = 1234567;
    for (int i = 0; i < 5; i++) {
        uint64_t got = nf__splitmix64(&x);
        cr_assert(got == want[i], "output %d: %llu, expected %llu", i, (unsigned long long)got,
                  (unsigned long long)want[i]);
    }
    cr_assert(nf__mix64(1234567) == want[0], "mix64 is splitmix64's output for the state");
}

Test(host_rng, xoshiro256starstar_known_answers)
{
    /* state {1, 2, 3, 4}: the first by hand (rotl(2 * 5, 7) * 9 = 11520), the
     * rest from a separate transcription of Vigna's xoshiro256starstar.c */
    nf__rng r = {{1, 2, 3, 4}};
    static const uint64_t want[6] = {11520ull, 0ull, 1509978240ull, 1215971899390074240ull,
                                     1216172134540287360ull, 607988272756665600ull};
    for (int i = 0; i < 6; i++) {
        uint64_t got = nf__rng_u64(&r);
        cr_assert(got == want[i], "output %d: %llu, expected %llu", i, (unsigned long long)got,
                  (unsigned long long)want[i]);
    }
}

Test(host_rng, seeding_uniform_below_and_normal)
{
    nf__rng a, b;
    nf__rng_seed(&a, 42);
    uint64_t x = 42;
    for (int i = 0; i < 4; i++) cr_assert(a.s[i] == nf__splitmix64(&x), "word %d from splitmix64", i);
    nf__rng_seed(&b, 42);
    cr_assert(nf__rng_u64(&a) == nf__rng_u64(&b), "same seed, same stream");
    nf__rng_seed(&b, 43);
    cr_assert(nf__rng_u64(&a) != nf__rng_u64(&b), "other seed, other stream");

    /* below(k) is uniform: 7 bins of 70,000 draws within 5 sigma, never out of range */
    int64_t hist[7] = {0};
    for (int i = 0; i < 70000; i++) {
        int64_t v = nf__rng_below(&a, 7);
        cr_assert(v >= 0 && v < 7, "below(7) gave %lld", (long long)v);
        hist[v]++;
    }
    for (int k = 0; k < 7; k++)
        cr_assert(fabs((double)hist[k] - 10000.0) < 5 * sqrt(10000.0 * 6 / 7), "bin %d: %lld", k,
                  (long long)hist[k]);
    cr_assert(nf__rng_below(&a, 1) == 0);

    /* uniforms in [0, 1) with mean 1/2; normals (an odd count too) with unit moments */
    double su = 0, sz = 0, szz = 0;
    enum { M = 200001 };
    static double z[M];
    for (int i = 0; i < M; i++) {
        double u = nf__rng_uniform(&a);
        cr_assert(u >= 0 && u < 1);
        su += u;
    }
    nf__rng_normal_fill(&a, z, M);
    for (int i = 0; i < M; i++) sz += z[i], szz += z[i] * z[i];
    cr_assert(fabs(su / M - 0.5) < 5 * sqrt(1.0 / 12 / M), "uniform mean %g", su / M);
    cr_assert(fabs(sz / M) < 5 / sqrt((double)M), "normal mean %g", sz / M);
    cr_assert(fabs(szz / M - 1) < 0.01, "normal variance %g", szz / M);
    double one = nf__rng_normal(&a);
    cr_assert(isfinite(one));
}

Test(host_hash, fnv1a_64_known_answers)
{
    cr_assert(nf__fnv1a(NF__FNV1A_INIT, "", 0) == 0xcbf29ce484222325ull);
    cr_assert(nf__fnv1a(NF__FNV1A_INIT, "a", 1) == 0xaf63dc4c8601ec8cull);
    cr_assert(nf__fnv1a(NF__FNV1A_INIT, "foobar", 6) == 0x85944171f73967e8ull);
    /* chained pieces hash as one */
    uint64_t h = nf__fnv1a(nf__fnv1a(NF__FNV1A_INIT, "foo", 3), "bar", 3);
    cr_assert(h == 0x85944171f73967e8ull);
}
