/* The BayesFlow LIF problem for SBC (include/neurofit/sbc.h, part 4): the
 * training-set generator's `bayesflow-lif` preset (nf_sbi_bayesflow_lif_generate),
 * simulated on the engine with Gaussian measurement noise, summarised, and a
 * whole SBC run of the ABC posterior on it. The CLI (`neurofit sbi sbc`,
 * `sbi infer`), bench_sbc and the tests share this one implementation. */
#include "internal.h"
#include "neurofit/sbi.h"
#include "neurofit/sbc.h"
#include "nf_philox.h"
#include "sbc/sbc_lif.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Philox stream of the measurement noise (the engine's streams are 0..3,
 * kernels/nf_philox.h). */
#define NF__RNG_SBC_NOISE 4u

/* The problem's parameters are the preset's (src/sbi/preset.c): lif6's
 * first six, their prior box from the preset. */
static const nf_param_info *lif_param(int j)
{
    const nf_model *m = j >= 0 && j < NF_SBC_LIF_D ? nf_model_find("lif6") : NULL;
    return m && j < m->n_params ? &m->params[j] : NULL;
}

const char *nf_sbc_lif_param_name(int j)
{
    const nf_param_info *p = lif_param(j);
    return p ? p->name : NULL;
}

const char *nf_sbc_lif_param_unit(int j)
{
    const nf_param_info *p = lif_param(j);
    return p ? p->unit : NULL;
}

void nf_sbc_lif_bounds(double *lo, double *hi) { nf_sbi_bayesflow_lif_box(lo, hi); }

nf_status nf_sbc_lif_add_noise(float *v, int64_t n, double sigma_mV, uint64_t noise_seed, int64_t first)
{
    if (!v || n < 0 || first < 0) return nf__fail(NF_EINVAL, "sbc_lif_add_noise: bad argument");
    if (!(sigma_mV >= 0.0) || !isfinite(sigma_mV))
        return nf__fail(NF_EINVAL, "sbc_lif_add_noise: sigma = %g mV must be >= 0", sigma_mV);
    if (sigma_mV == 0.0) return NF_OK;
    for (int64_t i = 0; i < n; i++) {
        float *row = v + i * NF_SBC_LIF_T;
        for (uint32_t blk = 0; blk * 4 < NF_SBC_LIF_T; blk++) {
            float z[4];
            nf_rng_normal4(noise_seed, NF__RNG_SBC_NOISE, (uint64_t)(first + i), blk, z);
            for (uint32_t q = 0; q < 4 && blk * 4 + q < NF_SBC_LIF_T; q++) row[blk * 4 + q] += (float)(sigma_mV * z[q]);
        }
    }
    return NF_OK;
}

nf_status nf_sbc_lif_simulate(nf_engine *e, const float *theta, const float *stimulus, int64_t n, double sigma_mV,
                              uint64_t noise_seed, int64_t first, float *v)
{
    if (!e || !theta || !stimulus || !v || n < 1) return nf__fail(NF_EINVAL, "sbc_lif_simulate: bad argument");
    if (!(sigma_mV >= 0.0) || !isfinite(sigma_mV))
        return nf__fail(NF_EINVAL, "sbc_lif_simulate: sigma = %g mV must be >= 0", sigma_mV);
    nf_batch b;
    memset(&b, 0, sizeof b);
    b.model = nf_model_find("lif6");
    if (!b.model) return nf__fail(NF_EINVAL, "sbc_lif_simulate: model lif6 missing");
    b.n_sims = n;
    b.n_steps = NF_SBC_LIF_T;
    b.dt_ms = NF_SBC_LIF_DT;
    b.params = theta;
    b.stim.waves = stimulus;
    b.stim.n_waves = n;
    b.voltage = v;
    b.record_every = 1;
    nf_status st = nf_engine_run(e, &b);
    return st == NF_OK ? nf_sbc_lif_add_noise(v, n, sigma_mV, noise_seed, first) : st;
}

nf_status nf_sbc_lif_table(nf_engine *e, uint64_t seed, int64_t first, int64_t n, double sigma_mV, float *theta,
                           float *stimulus, float *traces, float *s_stim, float *s_volt)
{
    if (!e || n < 1 || first < 0) return nf__fail(NF_EINVAL, "sbc_lif_table: n = %lld must be >= 1", (long long)n);
    const int64_t CH = 2048, T = NF_SBC_LIF_T, D = NF_SBC_LIF_D;
    const int k1 = nf_sbc_lif_n_summaries(1), k0 = nf_sbc_lif_n_summaries(0);
    float *th = nf__malloc_array((size_t)CH * D, sizeof(float));
    float *I = nf__malloc_array((size_t)CH * T, sizeof(float));
    float *v = nf__malloc_array((size_t)CH * T, sizeof(float));
    nf_status st = th && I && v ? NF_OK : nf__fail(NF_ENOMEM, "sbc_lif_table: out of memory");
    for (int64_t c0 = 0; st == NF_OK && c0 < n; c0 += CH) {
        int64_t m = n - c0 < CH ? n - c0 : CH;
        st = nf_sbi_bayesflow_lif_generate(seed, first + c0, m, th, NULL, I);
        if (st == NF_OK) st = nf_sbc_lif_simulate(e, th, I, m, sigma_mV, seed, first + c0, v);
        for (int64_t i = 0; st == NF_OK && i < m; i++) {
            if (s_stim) st = nf_sbc_lif_summaries(v + i * T, I + i * T, T, NF_SBC_LIF_DT, 0.0, s_stim + (c0 + i) * k1);
            if (st == NF_OK && s_volt)
                st = nf_sbc_lif_summaries(v + i * T, NULL, T, NF_SBC_LIF_DT, 0.0, s_volt + (c0 + i) * k0);
        }
        if (st != NF_OK) break;
        if (theta) memcpy(theta + c0 * D, th, sizeof(float) * (size_t)(m * D));
        if (stimulus) memcpy(stimulus + c0 * T, I, sizeof(float) * (size_t)(m * T));
        if (traces) memcpy(traces + c0 * T, v, sizeof(float) * (size_t)(m * T));
    }
    free(th);
    free(I);
    free(v);
    return st;
}

void nf_sbc_lif_classes(const float *theta, int64_t n, int32_t *cls)
{
    for (int64_t i = 0; i < n; i++) {
        const float *t = theta + i * NF_SBC_LIF_D;
        double el = t[2], vr = t[4];
        /* the repair computes E_L - 2 in double and stores floats: compare
         * within float rounding of values near -80 mV */
        if (vr <= -80.0 + 1e-4 && el - 2.0 < -80.0 + 1e-4) cls[i] = 2;
        else if (fabs(vr - (el - 2.0)) < 1e-4) cls[i] = 1;
        else cls[i] = 0;
    }
}

nf_status nf_sbc_lif_abc_create(const float *theta, const float *summ, int64_t n, int with_stimulus,
                                const nf_abc_opts *opts, int repair_classes, nf_abc **out)
{
    *out = NULL;
    if (repair_classes < 0 || repair_classes > 2)
        return nf__fail(NF_EINVAL, "sbc_lif: repair_classes %d must be 0, 1 or 2", repair_classes);
    nf_abc *abc = NULL;
    double lo[NF_SBC_LIF_D], hi[NF_SBC_LIF_D];
    nf_sbc_lif_bounds(lo, hi);
    nf_status st = nf_abc_create(theta, summ, n, NF_SBC_LIF_D, nf_sbc_lif_n_summaries(with_stimulus != 0), lo, hi,
                                 opts, &abc);
    if (st == NF_OK && repair_classes) {
        int32_t *cls = nf__malloc_array((size_t)n, sizeof(int32_t));
        st = cls ? NF_OK : nf__fail(NF_ENOMEM, "sbc_lif: out of memory for %lld classes", (long long)n);
        if (cls) nf_sbc_lif_classes(theta, n, cls);
        if (st == NF_OK) st = nf_abc_set_classes(abc, cls, 3, repair_classes == 1 ? 1u << 4 : 0u);
        free(cls);
    }
    if (st != NF_OK) {
        nf_abc_destroy(abc);
        return st;
    }
    *out = abc;
    return NF_OK;
}

nf_status nf_sbc_lif_posterior(const nf_abc *a, const float *s_obs, int64_t K, int64_t L, uint64_t seed, float *post)
{
    const int k = nf_abc_n_summaries(a);
    nf_status st = NF_OK;
    for (int64_t m = 0; st == NF_OK && m < K; m++)
        if ((st = nf_abc_sample(a, s_obs + m * k, L, seed + 1000 + (uint64_t)m, post + m * L * NF_SBC_LIF_D))) {
            char why[512];
            snprintf(why, sizeof why, "%s", nf_errmsg());
            st = nf__fail(st, "trace %lld: %s", (long long)m, why);
        }
    return st;
}

void nf_sbc_lif_opts_default(nf_sbc_lif_opts *o)
{
    memset(o, 0, sizeof *o);
    o->n_ref = 100000;
    o->M = 500;
    o->L = 99;
    o->P = 50;
    o->sigma_mV = 0.1;
    o->with_stimulus = 1;
    o->seed = 2026;
    o->repair_classes = 1;
    nf_abc_opts_default(&o->abc);
}

/* Predictive check of test case m: P posterior draws (clamped into the prior
 * box; nf_abc_sample already does, this guards other estimators) and the held-out
 * replicate in row P, simulated together; coverage of the replicate. */
static nf_status ppc_case(nf_engine *e, const nf_sbc_lif_opts *o, int64_t m, const float *post, const float *truth,
                          const float *stim_obs, float *th, float *I, float *v, double *cov)
{
    const int64_t P = o->P, T = NF_SBC_LIF_T, D = NF_SBC_LIF_D;
    double lif_lo[NF_SBC_LIF_D], lif_hi[NF_SBC_LIF_D];
    nf_sbc_lif_bounds(lif_lo, lif_hi);
    for (int64_t p = 0; p <= P; p++) {
        const float *src = p < P ? post + (p % o->L) * D : truth;
        for (int j = 0; j < D; j++) {
            float t = src[j];
            th[p * D + j] = t < lif_lo[j] ? (float)lif_lo[j] : (t > lif_hi[j] ? (float)lif_hi[j] : t);
        }
        if (o->with_stimulus || p == P) memcpy(I + p * T, stim_obs, sizeof(float) * (size_t)T);
    }
    nf_status st = NF_OK;
    /* voltage only: the stimulus is unknown, each predictive draw gets a fresh one */
    if (!o->with_stimulus) st = nf_sbi_bayesflow_lif_generate(o->seed + 77, m * (P + 1), P, NULL, NULL, I);
    if (st == NF_OK) st = nf_sbc_lif_simulate(e, th, I, P + 1, o->sigma_mV, o->seed + 99 + (uint64_t)m, 0, v);
    if (st == NF_OK) st = nf_sbc_band_coverage(v, P, T, v + P * T, 0.9, cov);
    return st;
}

nf_status nf__sbc_lif_check(const nf_sbc_lif_opts *o)
{
    if (o->n_ref < 1000) return nf__fail(NF_EINVAL, "sbc_lif_run: n_ref = %lld must be >= 1000", (long long)o->n_ref);
    if (o->M < 10) return nf__fail(NF_EINVAL, "sbc_lif_run: M = %lld must be >= 10", (long long)o->M);
    if (o->L < 1) return nf__fail(NF_EINVAL, "sbc_lif_run: L = %lld must be >= 1", (long long)o->L);
    if (o->P < 2) return nf__fail(NF_EINVAL, "sbc_lif_run: P = %lld must be >= 2", (long long)o->P);
    if (!(o->sigma_mV >= 0.0) || !isfinite(o->sigma_mV))
        return nf__fail(NF_EINVAL, "sbc_lif_run: sigma = %g mV must be >= 0", o->sigma_mV);
    return NF_OK;
}

nf_status nf__sbc_lif_reference(nf_engine *e, const nf_sbc_lif_opts *o, int64_t first, int64_t n, float *rt,
                                 float *rs)
{
    const int ws = o->with_stimulus != 0;
    return nf_sbc_lif_table(e, o->seed, first, n, o->sigma_mV, rt, NULL, NULL, ws ? rs : NULL, ws ? NULL : rs);
}

nf_status nf__sbc_lif_cases(nf_engine *e, const nf_sbc_lif_opts *o, const nf_abc *abc, int64_t first, int64_t n,
                            float *tt, float *post, double *ppc, nf_sbc_lif_times *tm)
{
    const int64_t T = NF_SBC_LIF_T, D = NF_SBC_LIF_D, L = o->L, P = o->P;
    const int ws = o->with_stimulus != 0, k = nf_sbc_lif_n_summaries(ws);
    float *ts = nf__malloc_array((size_t)n, sizeof(float) * (size_t)k);
    float *tI = nf__malloc_array((size_t)n, sizeof(float) * T);
    float *th = nf__malloc_array((size_t)(P + 1), sizeof(float) * D);
    float *I = nf__malloc_array((size_t)(P + 1), sizeof(float) * T);
    float *v = nf__malloc_array((size_t)(P + 1), sizeof(float) * T);
    nf_status st = ts && tI && th && I && v ? NF_OK
                                           : nf__fail(NF_ENOMEM, "sbc_lif_run: out of memory (%lld cases, P %lld)",
                                                      (long long)n, (long long)P);
    double t0 = nf__now_s();
    if (st == NF_OK) st = nf_sbc_lif_table(e, o->seed + 1, first, n, o->sigma_mV, tt, tI, NULL, ws ? ts : NULL, ws ? NULL : ts);
    double t1 = nf__now_s();
    /* case m draws with seed + 1000 + m (nf_sbc_lif_posterior counts from 0) */
    if (st == NF_OK) st = nf_sbc_lif_posterior(abc, ts, n, L, o->seed + (uint64_t)first, post);
    double t2 = nf__now_s();
    for (int64_t m = 0; st == NF_OK && m < n; m++)
        st = ppc_case(e, o, first + m, post + m * L * D, tt + m * D, tI + m * T, th, I, v, &ppc[m]);
    double t3 = nf__now_s();
    if (tm) {
        tm->table_s += t1 - t0;
        tm->infer_s += t2 - t1;
        tm->ppc_s += t3 - t2;
    }
    free(ts);
    free(tI);
    free(th);
    free(I);
    free(v);
    return st;
}

nf_status nf__sbc_lif_analyse(const nf_sbc_lif_opts *o, const float *tt, const float *post, const double *ppc,
                              nf_sbc_result **out)
{
    nf_sbc_input in;
    memset(&in, 0, sizeof in);
    in.M = o->M;
    in.L = o->L;
    in.d = NF_SBC_LIF_D;
    const char *names[NF_SBC_LIF_D], *units[NF_SBC_LIF_D];
    for (int j = 0; j < NF_SBC_LIF_D; j++) {
        names[j] = nf_sbc_lif_param_name(j);
        units[j] = nf_sbc_lif_param_unit(j);
    }
    in.names = names;
    in.units = units;
    in.theta = tt;
    in.post = post;
    in.ppc = ppc;
    in.ppc_level = 0.9;
    in.seed = o->seed + 5;
    return nf_sbc_analyse(&in, out);
}

nf_status nf_sbc_lif_run(nf_engine *e, const nf_sbc_lif_opts *o, nf_sbc_result **out, nf_sbc_lif_times *times)
{
    if (!e || !o || !out) return nf__fail(NF_EINVAL, "sbc_lif_run: NULL argument");
    *out = NULL;
    nf_status st = nf__sbc_lif_check(o);
    if (st) return st;
    const int64_t D = NF_SBC_LIF_D, M = o->M, L = o->L;
    const int ws = o->with_stimulus != 0, k = nf_sbc_lif_n_summaries(ws);
    nf_sbc_lif_times tm = {0, 0, 0, 0};
    double t0 = nf__now_s();
    float *rt = nf__malloc_array((size_t)o->n_ref, sizeof(float) * D);
    float *rs = nf__malloc_array((size_t)o->n_ref, sizeof(float) * (size_t)k);
    float *tt = nf__malloc_array((size_t)M, sizeof(float) * D);
    float *post = nf__malloc_array((size_t)(M * L), sizeof(float) * D);
    double *ppc = nf__malloc_array((size_t)M, sizeof(double));
    nf_abc *abc = NULL;
    st = rt && rs && tt && post && ppc ? NF_OK
                                       : nf__fail(NF_ENOMEM, "sbc_lif_run: out of memory (n_ref %lld, M %lld, L %lld)",
                                                  (long long)o->n_ref, (long long)M, (long long)L);
    if (st == NF_OK) st = nf__sbc_lif_reference(e, o, 0, o->n_ref, rt, rs);
    double t1 = nf__now_s();
    if (st == NF_OK) st = nf_sbc_lif_abc_create(rt, rs, o->n_ref, ws, &o->abc, o->repair_classes, &abc);
    double t2 = nf__now_s();
    tm.table_s = t1 - t0;
    tm.build_s = t2 - t1;
    if (st == NF_OK) st = nf__sbc_lif_cases(e, o, abc, 0, M, tt, post, ppc, &tm);
    if (st == NF_OK) st = nf__sbc_lif_analyse(o, tt, post, ppc, out);
    if (times) *times = tm;
    nf_abc_destroy(abc);
    free(rt);
    free(rs);
    free(tt);
    free(post);
    free(ppc);
    return st;
}
