/* The embedded example recording of `neurofit fit --example` (and of the
 * Python package's neurofit.example()), built here so that every caller gets
 * the same samples: see nf_fit_example in neurofit/fit.h. */
#include "neurofit/fit.h"

#include "internal.h"

#include <math.h>
#include <stdlib.h>

nf_status nf_fit_example(double *v_mV, double *i_pA)
{
    if (!v_mV || !i_pA)
        return nf__fail(NF_EINVAL, "nf_fit_example: v_mV and i_pA must not be NULL");
    const nf_model *m = nf_model_find("adex");
    if (!m)
        return NF_ENOMODEL;
    enum { N = NF_FIT_EXAMPLE_N };
    float *fv = malloc(sizeof(float) * N), *fi = malloc(sizeof(float) * N);
    float p[64];
    nf_engine *e = NULL;
    nf_status st = fv && fi ? NF_OK : nf__fail(NF_ENOMEM, "nf_fit_example: out of memory");
    if (!st) {
        nf_model_defaults(m, p);
        for (int k = 0; k < N; k++) {
            double t = NF_FIT_EXAMPLE_DT_MS * k;
            fi[k] = t >= 50 && t < 200 ? -0.25f * (float)m->drive_pA
                                       : (t >= 250 && t < 650 ? (float)m->drive_pA : 0.0f);
        }
        st = nf_engine_create(NF_BACKEND_CPU, 1, &e);
    }
    if (!st) {
        nf_batch b = {.model = m, .n_sims = 1, .n_steps = N, .dt_ms = NF_FIT_EXAMPLE_DT_MS, .params = p,
                      .stim = {.waves = fi, .n_waves = 1}, .voltage = fv, .record_every = 1};
        st = nf_engine_run(e, &b);
    }
    if (!st) {
        uint64_t s = 0x5eed;
        for (int k = 0; k < N; k++) {
            /* Box-Muller from a small LCG: the example is the same on every machine */
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            double u1 = ((s >> 11) + 0.5) / 9007199254740992.0;
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            double u2 = (s >> 11) / 9007199254740992.0;
            v_mV[k] = fv[k] + 0.5 * sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
            i_pA[k] = fi[k];
        }
    }
    nf_engine_destroy(e);
    free(fv), free(fi);
    return st;
}
