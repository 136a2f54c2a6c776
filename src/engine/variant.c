/* The variants of the simulate body (kernels/variant_list.h): their names
 * and the pick of one for a batch (nf__variant_pick, backend.h), shared by
 * the CPU backend and the launch plan. */
#include "backend.h"

#define NF__VNAME(name, rec, obs, noise, wave, spkt) #name,
static const char *const nf__variant_names[] = {NF_VARIANT_LIST(NF__VNAME)};

const char *nf__variant_name(int v) { return v >= 0 && v < NF__N_VARIANTS ? nf__variant_names[v] : "?"; }

/* Whether a variant setting (kernels/variant_list.h) accepts the batch's
 * case: 0 off, 1 on every sample, 2 on (every k-th sample, or on), 3 any. */
static int nf__accepts(int setting, int on, int every_sample)
{
    switch (setting) {
    case 0: return !on;
    case 1: return on && every_sample;
    case 2: return on;
    default: return 1;
    }
}

int nf__variant_pick(const nf__kargs *a)
{
    const int rec = a->rec != 0, obs = a->target != 0;
    const int obs_finite = obs && a->target_finite; /* the specialised scorers skip no NaN */
    const int obs_all = obs_finite && a->obs_every == 1 && a->n_obs == a->n_steps;
#define NF__TRY(name, r, o, n, w, t)                                                                                 \
    if (nf__accepts(r, rec, a->rec_every == 1) && (o == 3 ? 1 : o == 0 ? !obs : o == 1 ? obs_all : obs_finite) &&   \
        nf__accepts(n, a->ou_on != 0, 1) && nf__accepts(w, a->waves != 0, 1) && nf__accepts(t, a->spk_t != 0, 1))    \
        return NF__VARIANT_##name;
    NF_VARIANT_LIST(NF__TRY)
#undef NF__TRY
    return NF__N_VARIANTS - 1;
}
