/* The `bayesflow-lif` preset (include/neurofit/sbi.h): the BayesFlow LIF
 * study's simulator as one definition. Its prior (uniform intervals, two
 * order constraints and the study's repair rule), its stimulus (the study's
 * coloured current, generated in stimulus.c), its grid (dt 0.1 ms, 501
 * samples) and the study's inputs row by row (nf_sbi_bayesflow_lif_generate);
 * the SBC problem of src/sbc reads its parameter box from here. */
#include "neurofit/sbi.h"

#include "internal.h"
#include "sbi/sbi_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The study's uniform priors (SI there, model units here), in lif6's order. */
static const struct {
    const char *name;
    double lo, hi;
} nf__bf_prior[NF_SBI_BAYESFLOW_D] = {{"C_m", 100, 200},  {"g_L", 5, 15},      {"E_L", -80, -65},
                                      {"V_th", -60, -50}, {"V_res", -80, -70}, {"t_ref", 1, 5}};

void nf_sbi_bayesflow_lif_box(double *lo, double *hi)
{
    for (int j = 0; j < NF_SBI_BAYESFLOW_D; j++) {
        if (lo) lo[j] = nf__bf_prior[j].lo;
        if (hi) hi[j] = nf__bf_prior[j].hi;
    }
}

nf_status nf_sbi_preset(const char *name, uint64_t seed, nf_sbi_config *cfg, nf_prior **prior)
{
    *prior = NULL;
    memset(cfg, 0, sizeof *cfg);
    if (!name || strcmp(name, "bayesflow-lif") != 0)
        return nf__fail(NF_EINVAL, "unknown preset '%s' (known: bayesflow-lif)", name ? name : "(null)");
    const nf_model *m = nf_model_find("lif6");
    if (!m) return NF_ENOMODEL;
    nf_prior *p;
    nf_status s = nf_prior_create(m, &p);
    if (s) return s;
    for (int i = 0; i < NF_SBI_BAYESFLOW_D && !s; i++) {
        nf_prior_dim d = {NF_PRIOR_UNIFORM, nf__bf_prior[i].lo, nf__bf_prior[i].hi, 0, 0};
        s = nf_prior_set(p, nf__bf_prior[i].name, &d);
    }
    if (!s) s = nf_prior_add_constraint(p, "V_res", "E_L");
    if (!s) s = nf_prior_add_constraint(p, "E_L", "V_th");
    if (!s) s = nf_prior_set_repair(p, "bayesflow-lif");
    if (s) {
        nf_prior_destroy(p);
        return s;
    }
    cfg->model = m;
    cfg->prior = p;
    cfg->stim.kind = NF_SBI_STIM_BAYESFLOW;
    cfg->stim.amp_pA = 300.0; /* 0.3 nA */
    cfg->stim.amp_hi_pA = 3000.0;
    cfg->dt_ms = NF_SBI_BAYESFLOW_DT_MS;
    cfg->n_steps = NF_SBI_BAYESFLOW_T;
    cfg->record_every = 1;
    cfg->x = NF_SBI_X_TRACES;
    cfg->seed = seed;
    snprintf(cfg->preset, sizeof cfg->preset, "%s", name);
    *prior = p;
    return NF_OK;
}

nf_status nf_sbi_bayesflow_lif_generate(uint64_t seed, int64_t first, int64_t n, float *theta, float *amp_pA,
                                        float *stimulus)
{
    nf_sbi_config cfg;
    nf_prior *prior = NULL;
    nf_status s = nf_sbi_preset("bayesflow-lif", seed, &cfg, &prior);
    if (!s && theta) s = nf_prior_sample(prior, seed, first, n, theta, NULL);
    nf_prior_destroy(prior);
    if (s || (!amp_pA && !stimulus)) return s;
    float *buf = stimulus ? stimulus : nf__malloc_array((size_t)n * NF_SBI_BAYESFLOW_T, sizeof(float));
    if (!buf) return nf__fail(NF_ENOMEM, "bayesflow stimulus: out of memory");
    s = nf__sbi_bayesflow_rows(seed, cfg.stim.amp_pA, cfg.stim.amp_hi_pA, cfg.dt_ms, NF_SBI_BAYESFLOW_T, first, n, buf,
                               amp_pA);
    if (buf != stimulus) free(buf);
    return s;
}
