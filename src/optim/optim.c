/* Population optimisers: configuration, validation, creation, the
 * ask/tell call order dispatched to the algorithms (cmaes.c, de.c) and
 * checkpoints. What the algorithms share lives below them in optim_common.c. */
#include "optim_internal.h"

#include "internal.h"
#include "neurofit/fileio.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- configuration ------------------------------------------------------ */

static int default_lambda(nf_optim_kind kind, int n)
{
    if (kind == NF_OPTIM_CMAES) return 4 + (int)floor(3.0 * log((double)n));
    int np = 10 * n;
    return np < 8 ? 8 : np;
}

void nf_optim_config_default(nf_optim_config *c, nf_optim_kind kind, int n, const double *lower,
                             const double *upper)
{
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->n = n;
    c->lower = lower;
    c->upper = upper;
    c->sigma0 = 0.3;
    c->seed = 1;
    c->restart = NF_OPTIM_RESTART_NONE;
    c->max_restarts = 9;
    c->max_evals = 0;
    c->target = -INFINITY;
    c->tolfun = 1e-11;
    c->tolx = 1e-11;
    c->de_f = 0.5;
    c->de_cr = 0.9;
}

static nf_status validate(const nf_optim_config *c)
{
    if (!c) return nf__fail(NF_EINVAL, "optimiser config is NULL");
    if ((int)c->kind < 0 || c->kind >= NF_OPTIM_KIND_COUNT)
        return nf__fail(NF_EINVAL, "optimiser kind %d is not cmaes (0), de (1) or shade (2)",
                        (int)c->kind);
    if (c->n < 1 || c->n > 100000)
        return nf__fail(NF_EINVAL, "dimension n = %d must be in [1, 100000]", c->n);
    if (!c->lower || !c->upper)
        return nf__fail(NF_EINVAL, "bounds: %s is NULL", !c->lower ? "lower" : "upper");
    for (int j = 0; j < c->n; j++) {
        double lo = c->lower[j], hi = c->upper[j];
        if (!isfinite(lo) || !isfinite(hi))
            return nf__fail(NF_EINVAL, "bounds[%d]: [%g, %g] must be finite", j, lo, hi);
        if (!(lo < hi))
            return nf__fail(NF_EINVAL, "bounds[%d]: lower %g >= upper %g", j, lo, hi);
        if (c->x0 && !(c->x0[j] >= lo && c->x0[j] <= hi))
            return nf__fail(NF_EINVAL, "x0[%d] = %g is outside the bounds [%g, %g]", j, c->x0[j],
                            lo, hi);
    }
    if (c->lambda != 0 && c->lambda < 2)
        return nf__fail(NF_EINVAL, "population size lambda = %d must be >= 2 (0: default)",
                        c->lambda);
    if (c->kind != NF_OPTIM_CMAES && c->lambda != 0 && c->lambda < 4)
        return nf__fail(NF_EINVAL, "%s needs population size lambda >= 4, got %d",
                        nf_optim_kind_str(c->kind), c->lambda);
    if (c->lambda > (1 << 22))
        return nf__fail(NF_EINVAL, "population size lambda = %d is above 4194304", c->lambda);
    if (c->kind == NF_OPTIM_CMAES && !(c->sigma0 > 0 && c->sigma0 <= 1))
        return nf__fail(NF_EINVAL, "sigma0 = %g must be in (0, 1] (fraction of the box width)",
                        c->sigma0);
    if ((int)c->bounds < 0 || c->bounds > NF_OPTIM_BOUNDS_RESAMPLE)
        return nf__fail(NF_EINVAL, "bounds = %d is not transform (0), reflect (1) or resample (2)",
                        (int)c->bounds);
    if ((int)c->restart < 0 || c->restart > NF_OPTIM_RESTART_BIPOP)
        return nf__fail(NF_EINVAL, "restart = %d is not none (0), ipop (1) or bipop (2)",
                        (int)c->restart);
    if (c->restart != NF_OPTIM_RESTART_NONE && c->kind != NF_OPTIM_CMAES)
        return nf__fail(NF_EINVAL, "restarts (ipop/bipop) are only available for cmaes");
    if (c->restart_local != 0 && c->restart_local != 1)
        return nf__fail(NF_EINVAL, "restart_local = %d must be 0 or 1", c->restart_local);
    if (c->max_restarts < 0 || c->max_restarts > 30)
        return nf__fail(NF_EINVAL, "max_restarts = %d must be in [0, 30]", c->max_restarts);
    if (isnan(c->target)) return nf__fail(NF_EINVAL, "target fitness is NaN");
    if (!(c->tolfun >= 0)) return nf__fail(NF_EINVAL, "tolfun = %g must be >= 0", c->tolfun);
    if (!(c->tolx >= 0)) return nf__fail(NF_EINVAL, "tolx = %g must be >= 0", c->tolx);
    if (c->stagnation < 0)
        return nf__fail(NF_EINVAL, "stagnation = %d generations must be >= 0", c->stagnation);
    if (c->kind == NF_OPTIM_DE) {
        if (!(c->de_f > 0 && c->de_f <= 2))
            return nf__fail(NF_EINVAL, "de_f = %g must be in (0, 2]", c->de_f);
        if (!(c->de_cr >= 0 && c->de_cr <= 1))
            return nf__fail(NF_EINVAL, "de_cr = %g must be in [0, 1]", c->de_cr);
    }
    return NF_OK;
}

/* ---- allocation ---------------------------------------------------------- */

void nf_optim_destroy(nf_optim *o)
{
    if (!o) return;
    nf__optim_free_run(o);
    free(o->lo);
    free(o->hi);
    free(o->x0);
    free(o->best_u);
    free(o->hist);
    free(o);
}

static nf_status alloc_fixed(nf_optim *o)
{
    size_t n = (size_t)o->s.n;
    o->lo = nf__malloc_array(n, sizeof(double));
    o->hi = nf__malloc_array(n, sizeof(double));
    o->x0 = nf__malloc_array(n, sizeof(double));
    o->best_u = nf__calloc(n, sizeof(double));
    o->hist = nf__calloc((size_t)o->s.hist_cap, sizeof(double));
    if (!o->lo || !o->hi || !o->x0 || !o->best_u || !o->hist)
        return nf__fail(NF_ENOMEM, "optimiser: out of memory for n = %d", (int)n);
    return NF_OK;
}

static nf_status alloc_run(nf_optim *o)
{
    nf__optim_free_run(o);
    return o->s.kind == NF_OPTIM_CMAES ? nf__cmaes_alloc(o) : nf__de_alloc(o);
}

nf_status nf_optim_create(const nf_optim_config *c, nf_optim **out)
{
    if (!out) return nf__fail(NF_EINVAL, "nf_optim_create: out is NULL");
    *out = NULL;
    nf_status st = validate(c);
    if (st) return st;
    nf_optim *o = nf__calloc(1, sizeof *o);
    if (!o) return nf__fail(NF_ENOMEM, "optimiser: out of memory");
    nf__optim_scalars *s = &o->s;
    s->kind = c->kind;
    s->n = c->n;
    s->lambda = s->lambda0 = c->lambda ? c->lambda : default_lambda(c->kind, c->n);
    s->lambda0_real = c->lambda ? (double)c->lambda : 4.0 + 3.0 * log((double)c->n);
    s->maxiter0 = 100 + (int64_t)floor(150.0 * (c->n + 3.0) * (c->n + 3.0) / sqrt(s->lambda0_real));
    s->restart = c->restart;
    s->bounds = c->bounds;
    s->max_restarts = c->max_restarts;
    s->restart_local = c->restart_local;
    s->max_evals = c->max_evals > 0 ? c->max_evals : 0;
    s->stagnation_cfg = c->stagnation;
    s->hist_cap = 10 + 15 * (int64_t)c->n + 1;
    s->target = c->target;
    s->tolfun = c->tolfun;
    s->tolx = c->tolx;
    s->sigma0 = c->sigma0;
    s->best_f = INFINITY;
    s->de_f = c->de_f;
    s->de_cr = c->de_cr;
    s->stop = NF_OPTIM_RUNNING;
    s->x0_given = c->x0 != NULL;
    s->regime_small = 1; /* BIPOP: the first run's budget counts as small */
    nf__rng_seed(&s->rng, c->seed);
    if ((st = alloc_fixed(o)) != NF_OK) goto fail;
    for (int j = 0; j < c->n; j++) {
        o->lo[j] = c->lower[j];
        o->hi[j] = c->upper[j];
        o->x0[j] = c->x0 ? (c->x0[j] - c->lower[j]) / (c->upper[j] - c->lower[j]) : 0.5;
        o->best_u[j] = o->x0[j];
    }
    if ((st = alloc_run(o)) != NF_OK) goto fail;
    if (s->kind == NF_OPTIM_CMAES) {
        nf__cmaes_start_run(o, o->x0, s->sigma0);
        s->run_maxiter = s->maxiter0;
    } else {
        nf__de_init(o);
    }
    *out = o;
    return NF_OK;
fail:
    nf_optim_destroy(o);
    return st;
}

/* ---- ask / tell ----------------------------------------------------------- */

int nf_optim_lambda(const nf_optim *o) { return o ? (int)o->s.lambda : 0; }
int nf_optim_dim(const nf_optim *o) { return o ? (int)o->s.n : 0; }
nf_optim_stop_reason nf_optim_stop(const nf_optim *o)
{
    return o ? (nf_optim_stop_reason)o->s.stop : NF_OPTIM_RUNNING;
}
int64_t nf_optim_evals(const nf_optim *o) { return o ? o->s.evals : 0; }
int64_t nf_optim_generation(const nf_optim *o) { return o ? o->s.gen : 0; }
int nf_optim_restarts(const nf_optim *o) { return o ? (int)o->s.restarts : 0; }
double nf_optim_sigma(const nf_optim *o)
{
    return o && o->s.kind == NF_OPTIM_CMAES ? o->s.sigma : 0.0;
}

void nf_optim_best(const nf_optim *o, double *x, double *f)
{
    if (!o) return;
    if (x) nf__optim_to_user(o, o->best_u, x);
    if (f) *f = o->s.best_f;
}

nf_status nf_optim_ask(nf_optim *o, double *x)
{
    if (!o || !x) return nf__fail(NF_EINVAL, "nf_optim_ask: %s is NULL", !o ? "optimiser" : "x");
    if (o->s.stop != NF_OPTIM_RUNNING)
        return nf__fail(NF_ESTATE, "nf_optim_ask: optimiser has stopped (%s)",
                        nf_optim_stop_str((nf_optim_stop_reason)o->s.stop));
    if (o->s.phase != 0)
        return nf__fail(NF_ESTATE, "nf_optim_ask: the previous population was not told yet");
    nf_status st = o->s.kind == NF_OPTIM_CMAES ? nf__cmaes_ask(o, x) : nf__de_ask(o, x);
    if (st == NF_OK) o->s.phase = 1;
    return st;
}

nf_status nf_optim_tell(nf_optim *o, const double *fitness)
{
    if (!o || !fitness)
        return nf__fail(NF_EINVAL, "nf_optim_tell: %s is NULL", !o ? "optimiser" : "fitness");
    if (o->s.phase != 1)
        return nf__fail(NF_ESTATE, "nf_optim_tell: no population was asked since the last tell");
    o->s.phase = 0;
    o->s.evals += o->s.lambda;
    o->s.gen++;
    o->s.run_gen++;
    return o->s.kind == NF_OPTIM_CMAES ? nf__cmaes_tell(o, fitness) : nf__de_tell(o, fitness);
}

/* ---- checkpoints ------------------------------------------------------------ */

#define NF__OPTIM_MAGIC "NFOPTIM1"
#define NF__OPTIM_VERSION 2u
#define NF__OPTIM_MAX_ARRAYS 24

typedef struct {
    double **p;
    size_t count;
} state_array;

/* The arrays of the state, in file order, with lengths from the scalars. */
static int state_arrays(nf_optim *o, state_array *a)
{
    const nf__optim_scalars *s = &o->s;
    size_t n = (size_t)s->n, lam = (size_t)s->lambda;
    int k = 0;
#define ARR(ptr, cnt) (a[k].p = &(ptr), a[k].count = (cnt), k++)
    ARR(o->lo, n);
    ARR(o->hi, n);
    ARR(o->x0, n);
    ARR(o->best_u, n);
    ARR(o->hist, (size_t)s->hist_cap);
    ARR(o->pop, lam * n);
    if (s->kind == NF_OPTIM_CMAES) {
        ARR(o->mean, n);
        ARR(o->ps, n);
        ARR(o->pc, n);
        ARR(o->C, n * n);
        ARR(o->B, n * n);
        ARR(o->D, n);
        ARR(o->w, lam);
        ARR(o->sv, n);
    } else {
        ARR(o->fit, lam);
        ARR(o->trial, lam * n);
        ARR(o->archive, lam * n);
        ARR(o->mf, (size_t)s->shade_h);
        ARR(o->mcr, (size_t)s->shade_h);
        ARR(o->tf, lam);
        ARR(o->tcr, lam);
    }
#undef ARR
    return k;
}

nf_status nf_optim_save(const nf_optim *o, const char *path)
{
    if (!o || !path)
        return nf__fail(NF_EINVAL, "nf_optim_save: %s is NULL", !o ? "optimiser" : "path");
    state_array a[NF__OPTIM_MAX_ARRAYS];
    int na = state_arrays((nf_optim *)o, a);
    size_t len = 8 + 4 + 4 + sizeof o->s;
    for (int i = 0; i < na; i++) len += a[i].count * sizeof(double);
    unsigned char *buf = nf__malloc_array(len + 8, 1);
    if (!buf) return nf__fail(NF_ENOMEM, "nf_optim_save: out of memory (%zu bytes)", len);
    unsigned char *p = buf;
    uint32_t ver = NF__OPTIM_VERSION, ssz = (uint32_t)sizeof o->s;
    memcpy(p, NF__OPTIM_MAGIC, 8), p += 8;
    memcpy(p, &ver, 4), p += 4;
    memcpy(p, &ssz, 4), p += 4;
    memcpy(p, &o->s, sizeof o->s), p += sizeof o->s;
    for (int i = 0; i < na; i++) {
        memcpy(p, *a[i].p, a[i].count * sizeof(double));
        p += a[i].count * sizeof(double);
    }
    uint64_t h = nf__fnv1a(NF__FNV1A_INIT, buf, len);
    memcpy(p, &h, 8);
    nf_commit_file f;
    nf_status st = nf_file_commit_open(&f, path);
    if (st) {
        free(buf);
        return st;
    }
    int ok = fwrite(buf, 1, len + 8, f.fp) == len + 8;
    free(buf);
    st = nf_file_commit_close(&f, ok);
    if (st) return st;
    return ok ? NF_OK : nf__fail(NF_EIO, "cannot write checkpoint %s", path);
}

static nf_status read_all(const char *path, unsigned char **out, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return nf__fail(NF_EIO, "cannot open checkpoint %s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    unsigned char *b = malloc(cap);
    while (b) {
        n += fread(b + n, 1, cap - n, fp);
        if (n < cap) break;
        if (cap > ((size_t)1 << 34)) { /* 16 GiB: not a checkpoint of ours */
            free(b);
            fclose(fp);
            return nf__fail(NF_EFORMAT, "checkpoint %s is implausibly large", path);
        }
        unsigned char *nb = realloc(b, cap * 2);
        if (!nb) {
            free(b);
            b = NULL;
            break;
        }
        b = nb;
        cap *= 2;
    }
    int err = ferror(fp);
    fclose(fp);
    if (!b) return nf__fail(NF_ENOMEM, "out of memory reading checkpoint %s", path);
    if (err) {
        free(b);
        return nf__fail(NF_EIO, "error reading checkpoint %s", path);
    }
    *out = b;
    *len = n;
    return NF_OK;
}

static nf_status check_scalars(const nf__optim_scalars *s, const char *path)
{
    int ok = s->kind >= 0 && s->kind < NF_OPTIM_KIND_COUNT && s->n >= 1 && s->n <= 100000 &&
             s->lambda >= 2 && s->lambda <= (1 << 22) && s->hist_cap == 10 + 15 * s->n + 1 &&
             s->hist_len >= 0 && s->hist_len <= s->hist_cap && s->hist_pos >= 0 &&
             s->hist_pos < s->hist_cap && s->phase >= 0 && s->phase <= 1 && s->stop >= 0 &&
             s->stop < NF_OPTIM_STOP_COUNT && s->shade_h >= 0 && s->shade_h <= (1 << 22) &&
             s->mu >= 0 && s->mu <= s->lambda && s->archive_len >= 0 &&
             s->archive_len <= s->lambda && s->shade_k >= 0 &&
             (s->shade_h == 0 || s->shade_k < s->shade_h) && s->bounds >= 0 &&
             s->bounds <= NF_OPTIM_BOUNDS_RESAMPLE;
    if (!ok) return nf__fail(NF_EFORMAT, "checkpoint %s: inconsistent optimiser state", path);
    return NF_OK;
}

nf_status nf_optim_load(nf_optim **out, const char *path)
{
    if (!out || !path)
        return nf__fail(NF_EINVAL, "nf_optim_load: %s is NULL", !out ? "out" : "path");
    *out = NULL;
    unsigned char *buf = NULL;
    size_t len = 0;
    nf_status st = read_all(path, &buf, &len);
    if (st) return st;
    nf_optim *o = NULL;
    const size_t head = 8 + 4 + 4;
    uint32_t ver, ssz;
    if (len < 8 || memcmp(buf, NF__OPTIM_MAGIC, 8) != 0) {
        st = nf__fail(NF_EFORMAT, "%s is not a neurofit optimiser checkpoint (bad magic)", path);
        goto done;
    }
    if (len < head + sizeof(nf__optim_scalars) + 8) {
        st = nf__fail(NF_EFORMAT, "checkpoint %s is truncated (%zu bytes)", path, len);
        goto done;
    }
    memcpy(&ver, buf + 8, 4);
    memcpy(&ssz, buf + 12, 4);
    if (ver != NF__OPTIM_VERSION || ssz != sizeof(nf__optim_scalars)) {
        st = nf__fail(NF_EFORMAT, "checkpoint %s: version %u (state %u bytes) unsupported, "
                      "expected version %u (%zu bytes)", path, ver, ssz, NF__OPTIM_VERSION,
                      sizeof(nf__optim_scalars));
        goto done;
    }
    o = nf__calloc(1, sizeof *o);
    if (!o) {
        st = nf__fail(NF_ENOMEM, "out of memory loading %s", path);
        goto done;
    }
    memcpy(&o->s, buf + head, sizeof o->s);
    if ((st = check_scalars(&o->s, path)) != NF_OK) goto done;
    /* Size check before the checksum so a truncated file says "truncated". */
    state_array a[NF__OPTIM_MAX_ARRAYS];
    if ((st = alloc_fixed(o)) != NF_OK || (st = alloc_run(o)) != NF_OK) goto done;
    int na = state_arrays(o, a);
    size_t need = head + sizeof o->s;
    for (int i = 0; i < na; i++) need += a[i].count * sizeof(double);
    if (len != need + 8) {
        st = nf__fail(NF_EFORMAT, "checkpoint %s is %s: %zu bytes, expected %zu", path,
                      len < need + 8 ? "truncated" : "too long", len, need + 8);
        goto done;
    }
    uint64_t h;
    memcpy(&h, buf + need, 8);
    if (h != nf__fnv1a(NF__FNV1A_INIT, buf, need)) {
        st = nf__fail(NF_EFORMAT, "checkpoint %s is corrupt (checksum mismatch)", path);
        goto done;
    }
    const unsigned char *p = buf + head + sizeof o->s;
    for (int i = 0; i < na; i++) {
        memcpy(*a[i].p, p, a[i].count * sizeof(double));
        p += a[i].count * sizeof(double);
    }
    *out = o;
    o = NULL;
    st = NF_OK;
done:
    nf_optim_destroy(o);
    free(buf);
    return st;
}
