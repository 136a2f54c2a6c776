/* A program that uses neurofit as an installed library (examples/consumer):
 * it simulates a batch of AdEx neurons, then fits one recording with two
 * candidate models and prints the ranking.
 *
 *   consumer            fit the embedded example recording (an AdEx cell);
 *                       exit 1 unless adex ranks first
 *   consumer FILE       fit sweep 0 of a recording (ABF, NWB, IBW, text, .npy)
 *
 * Exit status 0 on success, 2 on bad input (the message names it), 1 when the
 * library fails. Build it against an installation with CMake
 * (find_package(neurofit)) or pkg-config; see README.md here. */
#include <neurofit/engine.h>
#include <neurofit/fit.h>
#include <neurofit/model.h>
#include <neurofit/recording.h>
#include <neurofit/version.h>

#include <stdio.h>
#include <stdlib.h>

/* 1,000 AdEx neurons drawn inside the fitting bounds, 500 ms of a step current. */
static int simulate_batch(void)
{
    enum { P = 1000, T = 5001 };
    const nf_model *m = nf_model_find("adex");
    if (!m) {
        fprintf(stderr, "consumer: %s\n", nf_errmsg());
        return 1;
    }
    float *params = malloc(sizeof(float) * P * (size_t)m->n_params);
    float *wave = malloc(sizeof(float) * T);
    int32_t *counts = malloc(sizeof(int32_t) * P);
    uint8_t *valid = malloc(P);
    nf_engine *e = NULL;
    int rc = 1;
    if (!params || !wave || !counts || !valid)
        goto done;
    nf_model_sample_uniform(m, 1, 0, P, params);
    for (int k = 0; k < T; k++)
        wave[k] = k >= 1000 && k < 4000 ? (float)m->drive_pA : 0.0f; /* 100-400 ms */
    if (nf_engine_create(NF_BACKEND_AUTO, 0, &e) != NF_OK) {
        fprintf(stderr, "consumer: %s\n", nf_errmsg());
        goto done;
    }
    nf_batch b = {0};
    b.model = m;
    b.n_sims = P;
    b.n_steps = T;
    b.dt_ms = 0.1;
    b.params = params;
    b.stim.waves = wave;
    b.stim.n_waves = 1;
    b.spike_counts = counts;
    b.valid = valid;
    if (nf_engine_run(e, &b) != NF_OK) {
        fprintf(stderr, "consumer: %s\n", nf_errmsg());
        goto done;
    }
    int fired = 0, ok = 0;
    long spikes = 0;
    for (int k = 0; k < P; k++) {
        ok += valid[k];
        fired += counts[k] > 0;
        spikes += counts[k];
    }
    printf("simulated %d adex neurons x %d steps on %s: %d valid, %d fired, %.1f spikes each\n", P, T,
           nf_backend_name(nf_engine_backend(e)), ok, fired, (double)spikes / P);
    rc = ok > 0 && fired > 0 ? 0 : 1;
done:
    nf_engine_destroy(e);
    free(params), free(wave), free(counts), free(valid);
    return rc;
}

int main(int argc, char **argv)
{
    printf("neurofit %s (headers %s)\n", nf_version(), NF_VERSION_STRING);
    if (simulate_batch())
        return 1;

    /* one recording: the embedded example, or sweep 0 of a file */
    nf_fit_target t = {0};
    nf_recording *rec = NULL;
    float *v = malloc(sizeof(float) * NF_FIT_EXAMPLE_N), *i = malloc(sizeof(float) * NF_FIT_EXAMPLE_N);
    if (!v || !i)
        return 1;
    if (argc < 2) {
        double *vd = malloc(sizeof(double) * NF_FIT_EXAMPLE_N), *id = malloc(sizeof(double) * NF_FIT_EXAMPLE_N);
        if (!vd || !id || nf_fit_example(vd, id) != NF_OK)
            return 1;
        for (int k = 0; k < NF_FIT_EXAMPLE_N; k++)
            v[k] = (float)vd[k], i[k] = (float)id[k];
        free(vd), free(id);
        t = (nf_fit_target){.name = NF_FIT_EXAMPLE_NAME, .v = v, .i = i, .n = NF_FIT_EXAMPLE_N,
                            .dt_ms = NF_FIT_EXAMPLE_DT_MS};
    } else {
        if (nf_recording_open(argv[1], NULL, &rec) != NF_OK) {
            fprintf(stderr, "consumer: %s\n", nf_errmsg());
            return 2;
        }
        const nf_sweep *s = &rec->sweeps[0];
        if (!s->i || !(s->dt_ms > 0)) {
            fprintf(stderr, "consumer: %s sweep 0: a fit needs the injected current and a fixed sample interval\n",
                    argv[1]);
            return 2;
        }
        free(v), free(i);
        v = malloc(sizeof(float) * (size_t)s->n), i = malloc(sizeof(float) * (size_t)s->n);
        if (!v || !i)
            return 1;
        for (int64_t k = 0; k < s->n; k++)
            v[k] = (float)s->v[k], i[k] = (float)s->i[k];
        t = (nf_fit_target){.name = argv[1], .v = v, .i = i, .n = s->n, .dt_ms = s->dt_ms};
    }

    static const char *const models[] = {"adex", "lif6"};
    nf_fit_options o;
    nf_fit_options_default(&o);
    o.models = models;
    o.n_models = 2;
    o.budget = 2000;
    nf_fit_result *r = NULL;
    if (nf_fit(&t, 1, &o, &r) != NF_OK) {
        fprintf(stderr, "consumer: %s\n", nf_errmsg());
        return 1;
    }
    printf("fit of %s (%lld samples, %d models, %.2f s):\n", t.name, (long long)t.n, r->n_models, r->seconds);
    for (int k = 0; k < r->n_models; k++) {
        const nf_fit_record *f = &r->records[k];
        printf("  %d. %-5s combined %.4g, RMSE %.3g mV, Gamma %.3f\n", f->rank, f->model->name, f->combined,
               f->rmse_mV, f->gamma);
    }
    int rc = argc < 2 && r->records[0].model != nf_model_find("adex") ? 1 : 0;
    if (rc)
        fprintf(stderr, "consumer: the example's best model is %s, not adex\n", r->records[0].model->name);
    nf_fit_result_destroy(r);
    nf_recording_destroy(rec);
    free(v), free(i);
    return rc;
}
