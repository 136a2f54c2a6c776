/* What the optimisers share (src/optim/optim_internal.h): the names of
 * kinds, bounds and stop reasons, ranking, clean fitness, the normalised-to-
 * user mapping, best-point and history bookkeeping, and freeing the per-run
 * arrays. Below optim.c, cmaes.c and de.c; calls none of them. */
#include "optim_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- names ------------------------------------------------------------- */

const char *nf_optim_stop_str(nf_optim_stop_reason r)
{
    static const char *const names[] = {
#define NF__OPTIM_STOP_STR(name, str) str,
        NF_OPTIM_STOP_LIST(NF__OPTIM_STOP_STR)
#undef NF__OPTIM_STOP_STR
    };
    if ((int)r < 0 || r >= NF_OPTIM_STOP_COUNT) return "unknown stop reason";
    return names[r];
}

const char *nf_optim_kind_str(nf_optim_kind k)
{
    switch (k) {
    case NF_OPTIM_CMAES: return "cmaes";
    case NF_OPTIM_DE: return "de";
    case NF_OPTIM_SHADE: return "shade";
    default: return "unknown";
    }
}

static const char *const BOUNDS_NAMES[] = {"transform", "reflect", "resample"};

const char *nf_optim_bounds_str(nf_optim_bounds b)
{
    return (int)b >= 0 && b <= NF_OPTIM_BOUNDS_RESAMPLE ? BOUNDS_NAMES[b] : "unknown";
}

int nf_optim_bounds_parse(const char *s, nf_optim_bounds *b)
{
    for (int k = 0; s && k <= NF_OPTIM_BOUNDS_RESAMPLE; k++)
        if (!strcmp(s, BOUNDS_NAMES[k])) {
            *b = (nf_optim_bounds)k;
            return 0;
        }
    return -1;
}

/* ---- ranking and bookkeeping ------------------------------------------- */

double nf__optim_clean(double f) { return isfinite(f) ? f : INFINITY; }

/* qsort has no context pointer in C17; thread-local keeps ranking reentrant
 * across threads that each drive their own optimiser. */
static _Thread_local const double *g_rank_f;

static int rank_cmp(const void *a, const void *b)
{
    int i = *(const int *)a, j = *(const int *)b;
    double fi = nf__optim_clean(g_rank_f[i]), fj = nf__optim_clean(g_rank_f[j]);
    if (fi < fj) return -1;
    if (fi > fj) return 1;
    return (i > j) - (i < j); /* total order: deterministic for ties */
}

void nf__optim_rank(const double *f, int *idx, int m)
{
    for (int i = 0; i < m; i++) idx[i] = i;
    g_rank_f = f;
    qsort(idx, (size_t)m, sizeof *idx, rank_cmp);
    g_rank_f = NULL;
}

void nf__optim_to_user(const nf_optim *o, const double *u, double *x)
{
    for (int64_t j = 0; j < o->s.n; j++) {
        double v = o->lo[j] + (o->hi[j] - o->lo[j]) * u[j];
        /* rounding can leave lo + w*1 a hair above hi */
        x[j] = v < o->lo[j] ? o->lo[j] : (v > o->hi[j] ? o->hi[j] : v);
    }
}

void nf__optim_record(nf_optim *o, double gen_best_f, const double *gen_best_u)
{
    nf__optim_scalars *s = &o->s;
    if (gen_best_f < s->run_best_f) {
        s->run_best_f = gen_best_f;
        s->last_improve_gen = s->run_gen;
    }
    if (gen_best_f < s->best_f) {
        s->best_f = gen_best_f;
        memcpy(o->best_u, gen_best_u, sizeof(double) * (size_t)s->n);
    }
    int64_t window = 10 + (30 * s->n + s->lambda - 1) / s->lambda;
    if (window > s->hist_cap) window = s->hist_cap;
    o->hist[s->hist_pos] = gen_best_f;
    s->hist_pos = (s->hist_pos + 1) % window;
    if (s->hist_len < window) s->hist_len++;
}

double nf__optim_hist_range(const nf_optim *o, const double *f, int m)
{
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < o->s.hist_len; i++) {
        double v = o->hist[i];
        if (!isfinite(v)) return INFINITY;
        lo = fmin(lo, v);
        hi = fmax(hi, v);
    }
    for (int i = 0; i < m; i++) {
        if (!isfinite(f[i])) return INFINITY;
        lo = fmin(lo, f[i]);
        hi = fmax(hi, f[i]);
    }
    return hi - lo;
}

void nf__optim_free_run(nf_optim *o)
{
    double **a[] = {&o->pop, &o->fit, &o->mean, &o->ps, &o->pc, &o->C, &o->B, &o->D, &o->w, &o->sv,
                    &o->trial, &o->archive, &o->mf, &o->mcr, &o->tf, &o->tcr, &o->work};
    for (size_t i = 0; i < sizeof a / sizeof a[0]; i++) {
        free(*a[i]);
        *a[i] = NULL;
    }
    free(o->idx);
    o->idx = NULL;
}
