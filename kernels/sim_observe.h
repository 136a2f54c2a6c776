/* Observing a sample in the simulate body (kernels/sim_body.h): recording
 * the voltage and feeding the fused trace scorer, for one variant of the
 * body (kernels/variant_list.h).
 *
 * Included once per variant with NF_V (its name) and NF_V_REC, NF_V_OBS,
 * NF_V_NOISE, NF_V_WAVE (its settings) defined; defines
 *     void nf__observe_<variant>(nf__obs *o, const nf__kargs *a, const float *vo, int64_t nl, int32_t n)
 * which records and scores sample n of the lanes' voltages vo. What a
 * variant fixes is decided here by #if, so a kernel tests none of it per
 * step; what it leaves to run time (value 3) is tested per sample.
 *
 * The scorer sums squared differences in float over at most 64 samples
 * (the partial sum ssef) and adds each partial sum to sse in double, after
 * every 64th scored sample and after the last one: the same grouping in
 * every variant, so every variant gives the same sse bit for bit.
 *
 * Tags in comments (nf:every, nf:when, nf:rare) mark branches taken on some
 * steps only, for scripts/ptx-count. */
#ifndef NF_V
#error "define NF_V (the variant) before including sim_observe.h"
#endif

#ifndef NEUROFIT_SIM_OBSERVE_STATE
#define NEUROFIT_SIM_OBSERVE_STATE
/* The address of element n of lane l's row, for rows read or written at n =
 * 0, 1, 2, ... in order: on the GPU the row pointer advances (one 64-bit add
 * per step, where a 32-bit index would be widened and scaled), on the CPU the
 * lanes share the index. */
#if NF_LANES == 1
#define NF__SEQ(rows, l, n) ((rows)[l]++)
#else
#define NF__SEQ(rows, l, n) ((rows)[l] + (n))
#endif
/* The observation state of one block of lanes. */
typedef struct nf__obs {
    int32_t rec_on, obs_on;      /* variant any: whether the batch records, scores */
    int32_t rec_next, rec_j;     /* next recorded sample and its column */
    int32_t obs_next, obs_j;     /* next scored sample (-1: none left) and its target column */
    int32_t flush_at;            /* obs 1: the sample after which ssef goes into sse */
    int32_t last;                /* the last sample, n_steps - 1 */
    float *rrow[NF_LANES];       /* each lane's row of the recorded voltage */
    const float *trow[NF_LANES]; /* each lane's target row */
    const float *tshared;        /* the target row when every lane has the same (NF_LANES > 1) */
    float ssef[NF_LANES];        /* float partial sums, mV^2 */
    double sse[NF_LANES];        /* mV^2 */
} nf__obs;
#endif

NF_HD NF_BODY_ATTR void NF_CAT(nf__observe_, NF_V)(nf__obs *o, const nf__kargs *NF_RESTRICT a, const float *vo,
                                                   int64_t nl, int32_t n)
{
    (void)a;
    (void)vo;
    (void)nl;
    (void)n;
    (void)o;
    /* ---- record ---- */
#if NF_V_REC == 1
    for (int l = 0; l < NF_LANES; l++)
        if (l < nl) *NF__SEQ(o->rrow, l, n) = vo[l];
#elif NF_V_REC == 4 /* every sample, step-major (one lane) */
    if (nl > 0) {
        *o->rrow[0] = vo[0];
        o->rrow[0] += a->n_sims;
    }
#elif NF_V_REC == 2
    if (n == o->rec_next) { /* nf:every k */
        for (int l = 0; l < NF_LANES; l++)
            if (l < nl) o->rrow[l][o->rec_j] = vo[l];
        o->rec_j++;
        o->rec_next += (int32_t)a->rec_every;
    }
#elif NF_V_REC == 3
    if (o->rec_on) {                /* nf:when rec */
        if (n == o->rec_next) {     /* nf:every k */
            for (int l = 0; l < NF_LANES; l++)
                if (l < nl) o->rrow[l][o->rec_j] = vo[l];
            o->rec_j++;
            o->rec_next += (int32_t)a->rec_every;
        }
    }
#endif

    /* ---- score ---- */
#if NF_V_OBS == 1
    /* every sample is scored: target column n; targets finite */
#if NF_LANES > 1
    if (o->tshared) {
        const float t = NF_LDG(o->tshared + n);
        for (int l = 0; l < NF_LANES; l++) {
            float d = vo[l] - t;
            o->ssef[l] += d * d;
        }
    } else
#endif
    {
        for (int l = 0; l < NF_LANES; l++) {
            float d = vo[l] - NF_LDG(NF__SEQ(o->trow, l, n));
            o->ssef[l] += d * d;
        }
    }
    if (n == o->flush_at) { /* nf:every 64 */
        for (int l = 0; l < NF_LANES; l++) {
            o->sse[l] += (double)o->ssef[l];
            o->ssef[l] = 0.0f;
        }
        o->flush_at = o->last - n > 64 ? n + 64 : o->last;
    }
#elif NF_V_OBS == 2 || NF_V_OBS == 3
#if NF_V_OBS == 3
    if (o->obs_on) /* nf:when score */
#endif
    if (n == o->obs_next) { /* nf:every k */
        const int32_t j = o->obs_j;
#if NF_LANES > 1
        if (o->tshared) {
            const float t = NF_LDG(o->tshared + j);
            for (int l = 0; l < NF_LANES; l++) {
#if NF_V_OBS == 2
                float d = vo[l] - t;
#else
                float d = (t == t) ? vo[l] - t : 0.0f; /* NaN target samples are skipped */
#endif
                o->ssef[l] += d * d;
            }
        } else
#endif
        {
            for (int l = 0; l < NF_LANES; l++) {
                const float t = NF_LDG(o->trow[l] + j);
#if NF_V_OBS == 2
                float d = vo[l] - t;
#else
                float d = (t == t) ? vo[l] - t : 0.0f;
#endif
                o->ssef[l] += d * d;
            }
        }
        o->obs_j = j + 1;
        o->obs_next = j + 1 < (int32_t)a->n_obs ? o->obs_next + (int32_t)a->obs_every : -1;
        if (((j + 1) & 63) == 0 || j + 1 == (int32_t)a->n_obs) { /* nf:every 64 */
            for (int l = 0; l < NF_LANES; l++) {
                o->sse[l] += (double)o->ssef[l];
                o->ssef[l] = 0.0f;
            }
        }
    }
#endif
}
