/* The spike-train layer (src/features/spikes.h): detection and statistics on
 * hand-made trains, and, bit for bit, the same results as the code of the
 * fit that it replaced (nf__fit_prepare_target's detection and
 * nf_fit_spike_features, now written on the layer; the old code is kept here
 * as the reference), on random traces and trains. */
#include "features/spikes.h"
#include "fit/fit_internal.h"
#include "neurofit/fit.h"
#include "nf_test_util.h" /* nft_uniform */

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

Test(spikes, efel_peaks_need_both_crossings_and_drop_an_unfinished_spike)
{
    /* starts above threshold, two complete spikes, one cut by the end */
    const double v[] = {0, -30, -10, 5, -5, -30, -25, 10, -40, -60, 3, 4};
    int64_t up[12], pk[12];
    const char *why;
    int64_t np = nf__spk_peaks(v, 12, -20, up, pk, &why);
    cr_assert_null(why);
    cr_assert_eq(np, 2);
    cr_assert_eq(pk[0], 3);
    cr_assert_eq(pk[1], 7);
    const double flat[] = {-70, -70, -70};
    cr_assert_eq(nf__spk_peaks(flat, 3, -20, up, pk, &why), 0);
    cr_assert_str_eq(why, "voltage never crosses the threshold");
    const double up_only[] = {-70, -70, 0};
    cr_assert_eq(nf__spk_peaks(up_only, 3, -20, up, pk, &why), 0);
    cr_assert_str_eq(why, "voltage never comes back below the threshold");
}

Test(spikes, rising_crossings_and_drops)
{
    const double v[] = {-70, -20, -10, -30, -20, -19};
    int64_t idx[6];
    cr_assert_eq(nf__spk_rising(v, 6, -20, idx), 2);
    cr_assert_eq(idx[0], 1); /* v[1] = -20 <= thr < v[2] */
    cr_assert_eq(idx[1], 4);
    const float f[] = {-50, -40, -70, -71, -60, -50, -75};
    cr_assert_eq(nf__spk_drops_f(f, 7, 3, idx), 2);
    cr_assert_eq(idx[0], 2);
    cr_assert_eq(idx[1], 6); /* 3 follows the drop at 2 directly: not a new one */
}

Test(spikes, statistics_on_a_known_train)
{
    const double t[] = {10, 20, 40, 80, 160};
    nf__spikes s = nf__spikes_d(t, 5);
    int64_t a, b;
    nf__spk_window(&s, 15, 80, &a, &b);
    cr_assert_eq(a, 1);
    cr_assert_eq(b, 4);
    cr_assert_float_eq(nf__spk_mean_isi(&s, 0, 5), 37.5, 1e-12);
    /* ISIs 10 20 40 80: every pair doubles, (2x - x) / 3x = 1/3 */
    cr_assert_float_eq(nf__spk_adaptation(&s, 0, 5), 1.0 / 3.0, 1e-15);
    double sd = sqrt(((10 - 37.5) * (10 - 37.5) + (20 - 37.5) * (20 - 37.5) + (40 - 37.5) * (40 - 37.5) +
                      (80 - 37.5) * (80 - 37.5)) / 3);
    cr_assert_float_eq(nf__spk_isi_cv(&s, 0, 5), sd / 37.5, 1e-15);
    cr_assert_float_eq(nf__spk_mean_frequency(&s, 1, 4, 0), 3000.0 / 80, 1e-12);
    cr_assert(isnan(nf__spk_isi_cv(&s, 0, 2)));
    cr_assert(isnan(nf__spk_mean_isi(&s, 0, 1)));
    cr_assert(isnan(nf__spk_adaptation(&s, 0, 2)));
    /* sample indices: differences in samples, then x dt */
    const int64_t idx[] = {3, 7, 12};
    nf__spikes si = nf__spikes_idx(idx, 3, 0.1);
    cr_assert_eq(nf__spk_time(&si, 1), 7 * 0.1);
    cr_assert_eq(nf__spk_mean_isi(&si, 0, 3), (double)(12 - 3) * 0.1 / 2.0);
    const float vf[] = {1, 2, 3, 4};
    double mean, sdv;
    nf__trace_mean_sd_f(vf, 4, &mean, &sdv);
    cr_assert_eq(mean, 2.5);
    cr_assert_float_eq(sdv, sqrt(1.25), 1e-15);
}

/* A float trace with threshold spikes, noise around the threshold, current
 * steps with bridge jumps, and integrate-and-fire resets. */
/* a fit's objectives with nothing beyond the three weights (prepare_target reads the cut and eFEL list) */
static const nf__fit_obj nft_ob0;

static void random_trace(uint64_t seed, int64_t n, float *v, float *i)
{
    double x = -70;
    float cur = 0;
    for (int64_t k = 0; k < n; k++) {
        double u = nft_uniform(&seed);
        if (u < 0.002) cur = (float)(400 * nft_uniform(&seed) - 100);
        if (u > 0.995) x = 20 + 20 * nft_uniform(&seed);             /* a spike */
        else if (u > 0.99) x = -20 + 4 * (nft_uniform(&seed) - 0.5); /* near the threshold */
        else if (u > 0.985) x -= 12 + 10 * nft_uniform(&seed);       /* a reset-like fall */
        else x += 0.1 * (-70 - x) + 2 * (nft_uniform(&seed) - 0.5);
        v[k] = (float)x;
        i[k] = cur;
    }
}

/* The fit's detection loop as it was before it used the layer: the
 * reference nf__spk_detect (now behind nf__fit_prepare_target) must equal. */
static int reference_detect(const float *v, const float *cur, int64_t n, double dt, double threshold, int at_crossing,
                            float *out)
{
    const int64_t quiet = (int64_t)ceil(3.0 / dt);
    int64_t busy_until = 0;
    int m = 0;
    for (int64_t k = 1; k < n; k++) {
        double when;
        if (v[k - 1] < threshold && v[k] >= threshold) {
            double frac = (threshold - v[k - 1]) / (v[k] - v[k - 1]);
            double t_cross = ((double)(k - 1) + frac) * dt;
            int64_t peak = k;
            while (k + 1 < n && v[k + 1] >= threshold - 5.0) {
                k++;
                if (v[k] > v[peak])
                    peak = k;
            }
            when = at_crossing ? t_cross : (double)peak * dt;
            busy_until = k + 1 + quiet;
        } else if (k > busy_until && v[k - 1] - v[k] >= 10.0 && cur[k] == cur[k - 1]) {
            when = (double)(k - 1) * dt;
            busy_until = k;
        } else {
            continue;
        }
        out[m++] = (float)when;
    }
    return m;
}

Test(spikes, detection_equals_the_fit_targets_bit_for_bit)
{
    enum { N = 20000 };
    float *v = malloc(sizeof(float) * N), *cur = malloc(sizeof(float) * N);
    for (uint64_t seed = 1; seed <= 12; seed++) {
        random_trace(seed, N, v, cur);
        for (int at_crossing = 0; at_crossing <= 1; at_crossing++) {
            double dt = seed % 2 ? 0.05 : 0.1;
            nf_fit_target t = {.name = "r", .v = v, .i = cur, .n = N, .dt_ms = dt, .stim_start_ms = 10,
                               .stim_end_ms = 900};
            nf__fit_tgt tg;
            cr_assert_eq(nf__fit_prepare_target(&t, 0, -20.0, at_crossing, &nft_ob0, NULL, &tg), NF_OK, "%s", nf_errmsg());
            float *sp = malloc(sizeof(float) * N);
            int ns = reference_detect(v, cur, N, dt, -20.0, at_crossing, sp);
            cr_assert_gt(ns, 10);
            cr_assert_eq(ns, tg.n_spikes, "seed %llu: %d spikes, the fit found %d", (unsigned long long)seed, ns,
                         tg.n_spikes);
            cr_assert_eq(memcmp(sp, tg.spikes, sizeof(float) * (size_t)ns), 0);
            free(sp);
            nf__fit_tgt_free(&tg);
        }
    }
    free(v);
    free(cur);
}

/* nf_fit_spike_features as the fit computed it before it used the layer
 * (the reference the layer must reproduce). */
static void reference_fit_features(const float *t, int n, double s0, double s1, double *val, uint8_t *has)
{
    memset(has, 0, NF_FIT_N_FEATURES);
    for (int f = 0; f < NF_FIT_N_FEATURES; f++)
        val[f] = 0;
    val[NF_FIT_F_spike_count] = n;
    has[NF_FIT_F_spike_count] = 1;
    int a = 0, b = n; /* spikes inside the window: [a, b) */
    while (a < n && t[a] < s0)
        a++;
    while (b > a && t[b - 1] > s1)
        b--;
    int m = b - a;
    if (m >= 1) {
        double first = t[a] - s0, last = t[b - 1] - s0;
        val[NF_FIT_F_time_to_first_spike] = first;
        val[NF_FIT_F_time_to_last_spike] = last;
        has[NF_FIT_F_time_to_first_spike] = has[NF_FIT_F_time_to_last_spike] = 1;
        if (last > 0) {
            val[NF_FIT_F_mean_frequency] = 1000.0 * m / last;
            has[NF_FIT_F_mean_frequency] = 1;
        }
    }
    if (m >= 3) { /* two or more ISIs */
        double sum = 0, sum2 = 0;
        for (int k = a + 1; k < b; k++)
            sum += t[k] - t[k - 1];
        double mean = sum / (m - 1);
        for (int k = a + 1; k < b; k++)
            sum2 += (t[k] - t[k - 1] - mean) * (t[k] - t[k - 1] - mean);
        if (mean > 0) {
            val[NF_FIT_F_ISI_CV] = sqrt(sum2 / (m - 2)) / mean;
            has[NF_FIT_F_ISI_CV] = 1;
        }
    }
    if (m >= 4) { /* three or more ISIs: mean normalised difference of consecutive ISIs */
        double acc = 0;
        int cnt = 0;
        for (int k = a + 2; k < b; k++) {
            double i0 = t[k - 1] - t[k - 2], i1 = t[k] - t[k - 1];
            if (i0 + i1 > 0) {
                acc += (i1 - i0) / (i1 + i0);
                cnt++;
            }
        }
        if (cnt) {
            val[NF_FIT_F_adaptation_index] = acc / cnt;
            has[NF_FIT_F_adaptation_index] = 1;
        }
    }
}

Test(spikes, statistics_equal_nf_fit_spike_features_bit_for_bit)
{
    enum { K = 64 };
    float t[K];
    uint64_t seed = 7;
    for (int trial = 0; trial < 2000; trial++) {
        int n = (int)(nft_uniform(&seed) * K);
        double x = 100 * nft_uniform(&seed);
        for (int k = 0; k < n; k++) {
            /* repeated times now and then (a zero ISI) */
            if (nft_uniform(&seed) > 0.05) x += 0.1 + 300 * nft_uniform(&seed) * nft_uniform(&seed);
            t[k] = (float)x;
        }
        double s0 = 200 * nft_uniform(&seed), s1 = s0 + 3000 * nft_uniform(&seed);
        double want[NF_FIT_N_FEATURES], got[NF_FIT_N_FEATURES];
        uint8_t hw[NF_FIT_N_FEATURES], hg[NF_FIT_N_FEATURES];
        nf_fit_spike_features(t, n, s0, s1, want, hw);
        reference_fit_features(t, n, s0, s1, got, hg);
        cr_assert_eq(memcmp(hw, hg, sizeof hw), 0, "trial %d", trial);
        for (int f = 0; f < NF_FIT_N_FEATURES; f++)
            cr_assert_eq(memcmp(&want[f], &got[f], sizeof(double)), 0, "trial %d feature %d: %.17g vs %.17g", trial,
                         f, want[f], got[f]);
    }
}
