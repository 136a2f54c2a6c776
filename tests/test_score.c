/* Scores used to rank fits: normalised RMSE, coincidence factor, feature error. */
#include "neurofit/score.h"
#include "nf_test_util.h"

#include <criterion/criterion.h>
#include <math.h>

Test(score, nrmse_normalises_by_target_sd)
{
    /* 100 samples each off by 2 mV against a target of sd 4 mV: 0.5 */
    cr_assert_float_eq(nf_score_nrmse(100 * 4.0, 100, 4.0), 0.5, 1e-12);
    cr_assert_float_eq(nf_score_nrmse(100 * 4.0, 100, 0.0), 2.0, 1e-12, "flat target: plain RMSE");
    cr_assert(isinf(nf_score_nrmse(NAN, 100, 1.0)));
    cr_assert(isinf(nf_score_nrmse(1.0, 0, 1.0)));
}

Test(score, gamma_identical_trains_is_one)
{
    float t[] = {12.0f, 40.5f, 77.0f, 130.25f, 199.0f};
    cr_assert_float_eq(nf_score_gamma(t, 5, t, 5, 1000.0, 2.0), 1.0, 1e-12);
    /* every spike moved by less than the window: still perfect */
    float u[] = {13.5f, 39.0f, 78.9f, 131.0f, 197.5f};
    cr_assert_float_eq(nf_score_gamma(t, 5, u, 5, 1000.0, 2.0), 1.0, 1e-12);
}

Test(score, gamma_edge_cases)
{
    float t[] = {10.0f, 20.0f};
    cr_assert_float_eq(nf_score_gamma(NULL, 0, NULL, 0, 100.0, 2.0), 1.0, 0, "both silent agree");
    cr_assert_float_eq(nf_score_gamma(t, 2, NULL, 0, 100.0, 2.0), 0.0, 0, "silent model");
    cr_assert(nf_score_gamma(NULL, 0, t, 2, 100.0, 2.0) <= 0.0, "spurious model spikes");
    cr_assert(isnan(nf_score_gamma(t, 2, t, 2, 0.0, 2.0)), "duration must be > 0");
    cr_assert(isnan(nf_score_gamma(t, 2, t, 2, 100.0, 0.0)), "window must be > 0");
    /* spikes all 5 ms late with a 2 ms window: no coincidence, below chance */
    float late[] = {15.0f, 25.0f};
    cr_assert_eq(nf_score_coincidences(t, 2, late, 2, 2.0), 0);
    cr_assert(nf_score_gamma(t, 2, late, 2, 100.0, 2.0) < 0.0);
}

Test(score, coincidences_are_one_to_one)
{
    float data[] = {10.0f};
    float model[] = {9.5f, 10.5f};
    cr_assert_eq(nf_score_coincidences(data, 1, model, 2, 2.0), 1);
    cr_assert_eq(nf_score_coincidences(model, 2, data, 1, 2.0), 1);
    /* a greedy match that takes the nearer spike could strand the next one:
     * data 10, 12; model 11, 13.5 (window 2) -> two pairs (10-11, 12-13.5) */
    float d2[] = {10.0f, 12.0f};
    float m2[] = {11.0f, 13.5f};
    cr_assert_eq(nf_score_coincidences(d2, 2, m2, 2, 2.0), 2);
}

static int poisson_train(uint64_t *s, float *out, int cap, double rate_per_ms, double T)
{
    int n = 0;
    double t = 0;
    for (;;) {
        t += -log(1.0 - nft_uniform(s)) / rate_per_ms;
        if (t >= T || n == cap)
            return n;
        out[n++] = (float)t;
    }
}

Test(score, gamma_of_independent_poisson_trains_is_near_zero)
{
    /* Gamma subtracts the chance coincidences: independent trains average 0. */
    enum { CAP = 512 };
    float a[CAP], b[CAP];
    uint64_t s = 7;
    double sum = 0;
    const int reps = 400;
    for (int r = 0; r < reps; r++) {
        int na = poisson_train(&s, a, CAP, 0.02, 5000.0); /* 20 Hz, 5 s */
        int nb = poisson_train(&s, b, CAP, 0.02, 5000.0);
        sum += nf_score_gamma(a, na, b, nb, 5000.0, 2.0);
    }
    double mean = sum / reps;
    cr_assert(fabs(mean) < 0.02, "mean Gamma of independent trains %g", mean);
}

Test(score, feature_error_sigma_units_and_penalty)
{
    double tgt[] = {10.0, 5.0, 1.0, 3.0};
    uint8_t ht[] = {1, 1, 0, 1};
    double mod[] = {12.0, 5.5, 99.0, 0.0};
    uint8_t hm[] = {1, 1, 1, 0};
    double sig[] = {1.0, 0.25, 1.0, 1.0};
    int used = -1;
    double e = nf_score_features(tgt, ht, mod, hm, sig, 4, NF_FEATURE_PENALTY, &used);
    /* |12-10|/1 + |5.5-5|/0.25 + (target missing: skipped) + penalty */
    cr_assert_float_eq(e, 2.0 + 2.0 + 250.0, 1e-12);
    cr_assert_eq(used, 3);
}

Test(score, weights_parse_and_combine)
{
    nf_score_weights w = nf_score_weights_default();
    cr_assert_eq(nf_score_weights_parse("features=0.5,rmse=2", &w), NF_OK, "%s", nf_errmsg());
    cr_assert_float_eq(w.rmse, 2.0, 0);
    cr_assert_float_eq(w.features, 0.5, 0);
    cr_assert_float_eq(w.spikes, 1.0, 0);
    cr_assert_float_eq(nf_score_combined(&w, 0.25, 10.0, 5, 0.75), 2 * 0.25 + 0.5 * 2.0 + 0.25, 1e-12);
    cr_assert(isinf(nf_score_combined(&w, INFINITY, 0, 0, 1.0)));
    w.rmse = 0;
    cr_assert(isfinite(nf_score_combined(&w, INFINITY, 0, 0, 1.0)), "a zero weight ignores its term");

    nf_score_weights keep = w;
    cr_assert_eq(nf_score_weights_parse("rmse=1,voltage=3", &w), NF_EINVAL);
    cr_assert(strstr(nf_errmsg(), "voltage"), "%s", nf_errmsg());
    cr_assert_eq(nf_score_weights_parse("rmse=-1", &w), NF_EINVAL);
    cr_assert_eq(nf_score_weights_parse("rmse=abc", &w), NF_EINVAL);
    cr_assert_eq(nf_score_weights_parse("rmse", &w), NF_EINVAL);
    cr_assert_eq(nf_score_weights_parse("rmse=nan", &w), NF_EINVAL);
    cr_assert_float_eq(w.spikes, keep.spikes, 0, "a failed parse leaves the weights alone");
    cr_assert_float_eq(w.rmse, keep.rmse, 0);
}
