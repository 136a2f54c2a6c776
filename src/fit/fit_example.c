/* The embedded example recording of `neurofit fit --example` (and of the
 * Python package's neurofit.example()), built here so that every caller gets
 * the same samples: see nf_fit_example in neurofit/fit.h. */
#include "neurofit/fit.h"

#include "internal.h"
#include "rng.h"

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
        /* the noise from the library's seeded generator: the same on every machine */
        nf__rng r;
        nf__rng_seed(&r, 0x5eed);
        nf__rng_normal_fill(&r, v_mV, N);
        for (int k = 0; k < N; k++) {
            v_mV[k] = fv[k] + 0.5 * v_mV[k];
            i_pA[k] = fi[k];
        }
    }
    nf_engine_destroy(e);
    free(fv), free(fi);
    return st;
}
