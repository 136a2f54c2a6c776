/* The model registry (include/neurofit/model.h), generated from the model list
 * (kernels/model_list.h) and the X lists and data of the kernels/model_*.h
 * headers: names, units, defaults, bounds, documentation, fit-guess family and
 * GPU cost are written once, next to the equations. */
#include "neurofit/model.h"

#include "engine/registry.h"
#include "internal.h"
#include "models.h"
#include "nf_philox.h"

#include <stdio.h>
#include <string.h>

#define NF__PINFO(name, unit, def, lo, hi, vlo, vhi, doc) {#name, unit, doc, def, lo, hi, vlo, vhi},
#define NF__SINFO(name, unit, doc) {#name, unit, doc},
#define NF__TABLES(m)                                                        \
    static const nf_param_info nf__par_##m[] = {NF_##m##_PARAMS(NF__PINFO)}; \
    static const nf_state_info nf__st_##m[] = {NF_##m##_STATE(NF__SINFO)};
NF_MODEL_LIST(NF__TABLES)

#define NF__COUNT(arr) ((int)(sizeof(arr) / sizeof((arr)[0])))
#define NF__ENTRY(m)                                                                                 \
    {NF_##m##_INFO,  NF__COUNT(nf__par_##m), nf__par_##m,   NF__COUNT(nf__st_##m), nf__st_##m, NF_##m##_GUESS, \
     NF_##m##_INSTR, NF_##m##_NOTES,         0},
static nf_model nf__models[] = {NF_MODEL_LIST(NF__ENTRY)};
#define NF__NMODELS NF__COUNT(nf__models)

int nf_model_count(void) { return NF__NMODELS; }

/* NF__DEFINED_1(NF_<model>_NOISE): 1 when the header defines it to 1, else 0
 * (an undefined name pastes into a token that is not NF__ONE_1, so the
 * second argument of NF__SECOND is the trailing 0). */
#define NF__ONE_1 0,
#define NF__SECOND(a, b, ...) b
#define NF__DEFINED_1(x) NF__DEFINED_1_(x)
#define NF__DEFINED_1_(v) NF__DEFINED_1__(NF__ONE_##v)
#define NF__DEFINED_1__(junk) NF__SECOND(junk 1, 0, 0)
#define NF__NOISY(m) NF__DEFINED_1(NF_##m##_NOISE),
static const unsigned char nf__noisy[] = {NF_MODEL_LIST(NF__NOISY)};

int nf__model_noisy(const nf_model *m)
{
    for (int i = 0; i < NF__NMODELS; i++)
        if (m == &nf__models[i]) return nf__noisy[i];
    return 0;
}

const nf_model *nf_model_at(int i)
{
    if (i < 0 || i >= NF__NMODELS) return NULL;
    nf__models[i].id = i; /* ids follow NF_MODEL_LIST order */
    return &nf__models[i];
}

const nf_model *nf_model_find(const char *name)
{
    char known[512] = "";
    size_t len = 0;
    for (int i = 0; i < NF__NMODELS; i++) {
        if (name && strcmp(nf__models[i].name, name) == 0) return nf_model_at(i);
        int n = snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "", nf__models[i].name);
        if (n > 0 && (size_t)n < sizeof known - len) len += (size_t)n;
    }
    nf__fail(NF_ENOMODEL, "unknown model '%s' (known: %s)", name ? name : "(null)", known);
    return NULL;
}

int nf_model_param_index(const nf_model *m, const char *name)
{
    for (int i = 0; i < m->n_params; i++)
        if (strcmp(m->params[i].name, name) == 0) return i;
    return -1;
}

int nf_model_state_index(const nf_model *m, const char *name)
{
    for (int i = 0; i < m->n_state; i++)
        if (strcmp(m->state[i].name, name) == 0) return i;
    return -1;
}

void nf_model_defaults(const nf_model *m, float *out)
{
    for (int i = 0; i < m->n_params; i++) out[i] = (float)m->params[i].def;
}

void nf_model_sample_uniform(const nf_model *m, uint64_t seed, int64_t first, int64_t n, float *out)
{
    for (int64_t i = 0; i < n; i++) {
        float u[4];
        for (int j = 0; j < m->n_params; j++) {
            if (j % 4 == 0) nf_rng_uniform4(seed, NF_RNG_PRIOR, (uint64_t)(first + i), (uint32_t)(j / 4), u);
            const nf_param_info *p = &m->params[j];
            /* u in (0, 1]: map to [lo, hi] */
            double v = p->lo + (p->hi - p->lo) * (1.0 - (double)u[j % 4]);
            out[i * m->n_params + j] = (float)v;
        }
    }
}
