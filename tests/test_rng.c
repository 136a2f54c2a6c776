/* Counter-based Philox4x32-10 and the shared float maths (kernels/nf_philox.h,
 * kernels/nf_math.h), as compiled for the CPU backend. */
#include "nf_philox.h"

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
