/* A minimal lif6 simulation driver for the SBC test and benchmark (header
 * only; shared by tests/test_sbc.c and bench/bench_sbc.c).
 *
 * It follows the BayesFlow LIF study's setting privately, so the sbc module
 * can be tested without the training-set generator: dt 0.1 ms, 501 samples,
 * uniform priors C_m 100-200 pF, g_L 5-15 nS, E_L -80..-65 mV, V_th -60..-50
 * mV, V_res -80..-70 mV (if V_res >= E_L then V_res = E_L - 2 clipped to
 * [-80, -70]), t_ref 1-5 ms; stimulus per simulation
 *   I(t) = amp (1 + 0.25 sin(2 pi 10 Hz t) + 0.15 c(t)),  amp ~ U(0.3, 3) nA,
 * c = white noise convolved with exp(-k dt / 10 ms), k = 0..T-1, as numpy's
 * convolve(mode="same"), divided by its maximum absolute value. The trace is
 * simulated by the engine (model lif6) and observed with independent Gaussian
 * measurement noise of sd sigma_mV.
 *
 * Random numbers: splitmix64 keyed by (seed, row), so row i is the same in any
 * chunking. Returns 0 on success; failures are reported by the caller. */
#ifndef NF_SBC_LIF_H
#define NF_SBC_LIF_H

#include "neurofit/engine.h"
#include "neurofit/sbc.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { NFT_LIF_D = 6, NFT_LIF_T = 501 };
#define NFT_LIF_DT 0.1

static const double nft_lif_lo[NFT_LIF_D] = {100.0, 5.0, -80.0, -60.0, -80.0, 1.0};
static const double nft_lif_hi[NFT_LIF_D] = {200.0, 15.0, -65.0, -50.0, -70.0, 5.0};
static const char *const nft_lif_names[NFT_LIF_D] = {"C_m", "g_L", "E_L", "V_th", "V_res", "t_ref"};
static const char *const nft_lif_units[NFT_LIF_D] = {"pF", "nS", "mV", "mV", "mV", "ms"};

typedef struct nft_rng {
    uint64_t s;
} nft_rng;

static inline uint64_t nft_next(nft_rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline double nft_unif(nft_rng *r) { return ((double)(nft_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0); }

static inline double nft_normal(nft_rng *r)
{
    double u = nft_unif(r), v = nft_unif(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* Generator of row `row` of stream `stream` under seed. */
static inline nft_rng nft_rng_for(uint64_t seed, uint64_t stream, int64_t row)
{
    nft_rng r = {seed * 0xD1B54A32D192ED03ull ^ (stream << 56) ^ (uint64_t)row * 0x9E3779B97F4A7C15ull};
    nft_next(&r);
    return r;
}

/* Prior draw with the repair rule: theta [6]. */
static inline void nft_lif_prior(uint64_t seed, int64_t row, float *theta)
{
    nft_rng r = nft_rng_for(seed, 1, row);
    double th[NFT_LIF_D];
    for (int j = 0; j < NFT_LIF_D; j++) th[j] = nft_lif_lo[j] + (nft_lif_hi[j] - nft_lif_lo[j]) * nft_unif(&r);
    if (th[4] >= th[2]) {
        double v = th[2] - 2.0;
        th[4] = v < -80.0 ? -80.0 : (v > -70.0 ? -70.0 : v);
    }
    for (int j = 0; j < NFT_LIF_D; j++) theta[j] = (float)th[j];
}

/* Stimulus of row `row`: I [T] pA. */
static inline void nft_lif_stimulus(uint64_t seed, int64_t row, float *I)
{
    const int T = NFT_LIF_T;
    nft_rng r = nft_rng_for(seed, 2, row);
    double amp_pA = 1000.0 * (0.3 + 2.7 * nft_unif(&r));
    double w[NFT_LIF_T], full[2 * NFT_LIF_T - 1];
    for (int k = 0; k < T; k++) w[k] = nft_normal(&r);
    /* full[m] = sum_{k} w[k] q^(m-k), 0 <= m-k < T, by recursion: the term
     * with lag T leaves the kernel's support */
    const double q = exp(-NFT_LIF_DT / 10.0), qT = pow(q, T);
    double y = 0.0;
    for (int m = 0; m < 2 * T - 1; m++) {
        y = q * y + (m < T ? w[m] : 0.0) - (m >= T ? w[m - T] * qT : 0.0);
        full[m] = y;
    }
    const int off = (T - 1) / 2; /* numpy "same": centre T samples of the full output */
    double mx = 0.0;
    for (int n = 0; n < T; n++) mx = fmax(mx, fabs(full[off + n]));
    for (int n = 0; n < T; n++) {
        double t_s = n * NFT_LIF_DT * 1e-3;
        double c = full[off + n] / mx;
        I[n] = (float)(amp_pA * (1.0 + 0.25 * sin(6.283185307179586 * 10.0 * t_s) + 0.15 * c));
    }
}

/* Simulate n rows (theta [n][6], I [n][T]) into v [n][T] mV and add
 * measurement noise of sd sigma_mV from stream (seed, 3, first + i). */
static inline int nft_lif_simulate(nf_engine *e, const float *theta, const float *I, int64_t n, double sigma_mV,
                                   uint64_t noise_seed, int64_t first, float *v)
{
    nf_batch b;
    memset(&b, 0, sizeof b);
    b.model = nf_model_find("lif6");
    if (!b.model) return -1;
    b.n_sims = n;
    b.n_steps = NFT_LIF_T;
    b.dt_ms = NFT_LIF_DT;
    b.params = theta;
    b.stim.waves = I;
    b.stim.n_waves = n;
    b.voltage = v;
    b.record_every = 1;
    if (nf_engine_run(e, &b) != NF_OK) return -1;
    if (sigma_mV > 0.0)
        for (int64_t i = 0; i < n; i++) {
            nft_rng r = nft_rng_for(noise_seed, 3, first + i);
            for (int t = 0; t < NFT_LIF_T; t++) v[i * NFT_LIF_T + t] += (float)(sigma_mV * nft_normal(&r));
        }
    return 0;
}

/* Rows first .. first+n-1 of a data set: theta [n][6], summaries with the
 * stimulus s_stim [n][k1] and without s_volt [n][k0] (either may be NULL).
 * Chunked: memory independent of n. */
static inline int nft_lif_table(nf_engine *e, uint64_t seed, int64_t first, int64_t n, double sigma_mV,
                                float *theta, float *s_stim, float *s_volt)
{
    const int64_t CH = 2048;
    const int k1 = nf_sbc_lif_n_summaries(1), k0 = nf_sbc_lif_n_summaries(0);
    float *I = malloc(sizeof(float) * (size_t)CH * NFT_LIF_T);
    float *v = malloc(sizeof(float) * (size_t)CH * NFT_LIF_T);
    int rc = I && v ? 0 : -1;
    for (int64_t c0 = 0; rc == 0 && c0 < n; c0 += CH) {
        int64_t m = n - c0 < CH ? n - c0 : CH;
        for (int64_t i = 0; i < m; i++) {
            nft_lif_prior(seed, first + c0 + i, theta + (c0 + i) * NFT_LIF_D);
            nft_lif_stimulus(seed, first + c0 + i, I + i * NFT_LIF_T);
        }
        rc = nft_lif_simulate(e, theta + c0 * NFT_LIF_D, I, m, sigma_mV, seed, first + c0, v);
        for (int64_t i = 0; rc == 0 && i < m; i++) {
            if (s_stim && nf_sbc_lif_summaries(v + i * NFT_LIF_T, I + i * NFT_LIF_T, NFT_LIF_T, NFT_LIF_DT, 0.0,
                                               s_stim + (c0 + i) * k1) != NF_OK)
                rc = -1;
            if (s_volt && nf_sbc_lif_summaries(v + i * NFT_LIF_T, NULL, NFT_LIF_T, NFT_LIF_DT, 0.0,
                                               s_volt + (c0 + i) * k0) != NF_OK)
                rc = -1;
        }
    }
    free(I);
    free(v);
    return rc;
}

#endif
