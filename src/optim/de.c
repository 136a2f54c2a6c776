/* Differential evolution in the normalised cube [0, 1]^n.
 *
 * DE/rand/1/bin (Storn & Price 1997): v = x_r1 + F (x_r2 - x_r3) with r1, r2,
 * r3 distinct and different from i; binomial crossover with rate CR and one
 * forced coordinate; the trial replaces its parent when not worse.
 *
 * SHADE (Tanabe & Fukunaga, CEC 2013): current-to-pbest/1/bin,
 * v = x_i + F (x_pbest - x_i) + F (x_r1 - x~_r2), x_pbest one of the best
 * max(2, round(p NP)) members with p ~ U[2/NP, 0.2], x~_r2 drawn from the
 * population joined with an external archive of replaced parents (size NP,
 * random replacement when full). Each trial draws a memory slot r; CR ~
 * N(M_CR[r], 0.1) clipped to [0, 1], F ~ Cauchy(M_F[r], 0.1) redrawn while
 * <= 0 and cut at 1. After a generation with successes, slot k takes the
 * improvement-weighted mean of the successful CR and the weighted Lehmer mean
 * of the successful F; k cycles through H = NP slots.
 *
 * Bounds: a trial coordinate outside [0, 1] is put half-way between its
 * parent's coordinate and the violated bound, so every trial is in the box.
 *
 * The first ask hands out the initial population (uniform in the box; the
 * first member is x0 when the caller gave one); later asks hand out trials. */
#include "optim_internal.h"

#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

nf_status nf__de_alloc(nf_optim *o)
{
    nf__optim_scalars *s = &o->s;
    size_t n = (size_t)s->n, lam = (size_t)s->lambda;
    s->shade_h = s->kind == NF_OPTIM_SHADE ? s->lambda : 1;
    o->pop = nf__malloc_array(lam * n, sizeof(double));
    o->fit = nf__malloc_array(lam, sizeof(double));
    o->trial = nf__malloc_array(lam * n, sizeof(double));
    o->archive = nf__calloc(lam * n, sizeof(double));
    o->mf = nf__malloc_array((size_t)s->shade_h, sizeof(double));
    o->mcr = nf__malloc_array((size_t)s->shade_h, sizeof(double));
    o->tf = nf__calloc(lam, sizeof(double));
    o->tcr = nf__calloc(lam, sizeof(double));
    o->work_len = 3 * lam + 2 * n;
    o->work = nf__calloc(o->work_len, sizeof(double));
    o->idx = nf__calloc(lam, sizeof(int));
    if (!o->pop || !o->fit || !o->trial || !o->archive || !o->mf || !o->mcr || !o->tf ||
        !o->tcr || !o->work || !o->idx)
        return nf__fail(NF_ENOMEM, "%s: out of memory for n = %zu, lambda = %zu",
                        nf_optim_kind_str((nf_optim_kind)s->kind), n, lam);
    return NF_OK;
}

void nf__de_init(nf_optim *o)
{
    nf__optim_scalars *s = &o->s;
    size_t n = (size_t)s->n, lam = (size_t)s->lambda;
    for (size_t k = 0; k < lam * n; k++) o->pop[k] = nf__rng_uniform(&s->rng);
    if (s->x0_given) memcpy(o->pop, o->x0, n * sizeof(double));
    for (size_t k = 0; k < lam; k++) o->fit[k] = INFINITY;
    for (int64_t h = 0; h < s->shade_h; h++) o->mf[h] = o->mcr[h] = 0.5;
    s->shade_k = 0;
    s->archive_len = 0;
    s->de_ready = 0;
    s->run_best_f = INFINITY;
    s->stagnation = s->stagnation_cfg > 0 ? s->stagnation_cfg : 1000;
}

/* Distinct index in [0, m) different from the ones in avoid[0..na). */
static int64_t pick(nf__rng *rng, int64_t m, const int64_t *avoid, int na)
{
    for (;;) {
        int64_t r = nf__rng_below(rng, m);
        int clash = 0;
        for (int a = 0; a < na; a++) clash |= r == avoid[a];
        if (!clash) return r;
    }
}

static inline double into_box(double v, double parent)
{
    if (v < 0) return 0.5 * parent;
    if (v > 1) return 0.5 * (parent + 1);
    return v;
}

static void make_trial_rand1(nf_optim *o, int64_t i)
{
    nf__optim_scalars *s = &o->s;
    int64_t n = s->n;
    int64_t av[3] = {i, -1, -1};
    int64_t r1 = pick(&s->rng, s->lambda, av, 1);
    av[1] = r1;
    int64_t r2 = pick(&s->rng, s->lambda, av, 2);
    av[2] = r2;
    int64_t r3 = pick(&s->rng, s->lambda, av, 3);
    const double *x = o->pop + i * n, *a = o->pop + r1 * n, *b = o->pop + r2 * n,
                 *c = o->pop + r3 * n;
    double *u = o->trial + i * n;
    int64_t jr = nf__rng_below(&s->rng, n);
    for (int64_t j = 0; j < n; j++) {
        int take = j == jr || nf__rng_uniform(&s->rng) < s->de_cr;
        u[j] = take ? into_box(a[j] + s->de_f * (b[j] - c[j]), x[j]) : x[j];
    }
}

static void make_trial_shade(nf_optim *o, int64_t i, const int *rank)
{
    nf__optim_scalars *s = &o->s;
    int64_t n = s->n, np = s->lambda;
    int64_t r = nf__rng_below(&s->rng, s->shade_h);
    double cr = o->mcr[r] + 0.1 * nf__rng_normal(&s->rng);
    cr = cr < 0 ? 0 : (cr > 1 ? 1 : cr);
    double f;
    do f = o->mf[r] + 0.1 * tan(3.141592653589793 * (nf__rng_uniform(&s->rng) - 0.5));
    while (!(f > 0));
    if (f > 1) f = 1;
    o->tf[i] = f;
    o->tcr[i] = cr;
    double p = 2.0 / (double)np + (0.2 - 2.0 / (double)np) * nf__rng_uniform(&s->rng);
    int64_t top = (int64_t)llround(p * (double)np);
    if (top < 2) top = 2;
    if (top > np) top = np;
    int64_t pb = rank[nf__rng_below(&s->rng, top)];
    int64_t av[2] = {i, -1};
    int64_t r1 = pick(&s->rng, np, av, 1);
    av[1] = r1;
    int64_t r2 = pick(&s->rng, np + s->archive_len, av, 2);
    const double *x = o->pop + i * n, *xb = o->pop + pb * n, *a = o->pop + r1 * n;
    const double *b = r2 < np ? o->pop + r2 * n : o->archive + (r2 - np) * n;
    double *u = o->trial + i * n;
    int64_t jr = nf__rng_below(&s->rng, n);
    for (int64_t j = 0; j < n; j++) {
        int take = j == jr || nf__rng_uniform(&s->rng) < cr;
        u[j] = take ? into_box(x[j] + f * (xb[j] - x[j]) + f * (a[j] - b[j]), x[j]) : x[j];
    }
}

nf_status nf__de_ask(nf_optim *o, double *x)
{
    nf__optim_scalars *s = &o->s;
    int64_t n = s->n, lam = s->lambda;
    if (!s->de_ready) {
        for (int64_t k = 0; k < lam; k++) nf__optim_to_user(o, o->pop + k * n, x + k * n);
        return NF_OK;
    }
    if (s->kind == NF_OPTIM_SHADE) nf__optim_rank(o->fit, o->idx, (int)lam);
    for (int64_t i = 0; i < lam; i++) {
        if (s->kind == NF_OPTIM_SHADE)
            make_trial_shade(o, i, o->idx);
        else
            make_trial_rand1(o, i);
        nf__optim_to_user(o, o->trial + i * n, x + i * n);
    }
    return NF_OK;
}

static void archive_add(nf_optim *o, const double *x)
{
    nf__optim_scalars *s = &o->s;
    int64_t slot = s->archive_len < s->lambda ? s->archive_len++
                                              : nf__rng_below(&s->rng, s->lambda);
    memcpy(o->archive + slot * s->n, x, sizeof(double) * (size_t)s->n);
}

/* Selection, SHADE memory update; returns nothing, stopping is in the caller. */
static void select_trials(nf_optim *o, const double *fin)
{
    nf__optim_scalars *s = &o->s;
    int64_t n = s->n, lam = s->lambda;
    double *sf = o->work, *scr = o->work + lam, *dw = o->work + 2 * lam;
    int64_t ns = 0;
    for (int64_t i = 0; i < lam; i++) {
        double fu = nf__optim_clean(fin[i]);
        if (!(fu <= o->fit[i])) continue;
        if (s->kind == NF_OPTIM_SHADE && fu < o->fit[i]) {
            sf[ns] = o->tf[i];
            scr[ns] = o->tcr[i];
            dw[ns] = isfinite(o->fit[i]) ? o->fit[i] - fu : 1.0;
            ns++;
            archive_add(o, o->pop + i * n);
        }
        memcpy(o->pop + i * n, o->trial + i * n, sizeof(double) * (size_t)n);
        o->fit[i] = fu;
    }
    if (s->kind != NF_OPTIM_SHADE || ns == 0) return;
    double wsum = 0, f1 = 0, f2 = 0, cr = 0;
    for (int64_t k = 0; k < ns; k++) wsum += dw[k];
    if (!(wsum > 0) || !isfinite(wsum)) return;
    for (int64_t k = 0; k < ns; k++) {
        double wk = dw[k] / wsum;
        f1 += wk * sf[k];
        f2 += wk * sf[k] * sf[k];
        cr += wk * scr[k];
    }
    o->mf[s->shade_k] = f2 / f1;
    o->mcr[s->shade_k] = cr;
    s->shade_k = (s->shade_k + 1) % s->shade_h;
}

nf_status nf__de_tell(nf_optim *o, const double *fin)
{
    nf__optim_scalars *s = &o->s;
    int64_t n = s->n, lam = s->lambda;
    if (!s->de_ready) {
        for (int64_t i = 0; i < lam; i++) o->fit[i] = nf__optim_clean(fin[i]);
        s->de_ready = 1;
    } else {
        select_trials(o, fin);
    }
    int64_t b = 0;
    double flo = o->fit[0], fhi = o->fit[0];
    for (int64_t i = 1; i < lam; i++) {
        if (o->fit[i] < o->fit[b]) b = i;
        flo = fmin(flo, o->fit[i]);
        fhi = fmax(fhi, o->fit[i]);
    }
    nf__optim_record(o, o->fit[b], o->pop + b * n);

    if (s->best_f <= s->target)
        s->stop = NF_OPTIM_STOP_TARGET;
    else if (s->max_evals > 0 && s->evals >= s->max_evals)
        s->stop = NF_OPTIM_STOP_MAXEVALS;
    else if (s->run_gen > 1 && isfinite(fhi) && fhi - flo < s->tolfun)
        s->stop = NF_OPTIM_STOP_TOLFUN;
    else if (s->run_gen - s->last_improve_gen > s->stagnation)
        s->stop = NF_OPTIM_STOP_STAGNATION;
    else {
        double spread = 0;
        for (int64_t j = 0; j < n; j++) {
            double lo = INFINITY, hi = -INFINITY;
            for (int64_t i = 0; i < lam; i++) {
                lo = fmin(lo, o->pop[i * n + j]);
                hi = fmax(hi, o->pop[i * n + j]);
            }
            spread = fmax(spread, hi - lo);
        }
        if (spread < s->tolx) s->stop = NF_OPTIM_STOP_TOLX;
    }
    return NF_OK;
}
