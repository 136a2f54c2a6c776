/* nf_fit_guess: a starting point for a model's search, read off the
 * recording by regression ("equation error" or dynamic I-V fitting: Badel et
 * al. 2008, J Neurophysiol 99:656; Huys, Ahrens & Paninski 2006, J
 * Neurophysiol 96:872).
 *
 * Why: the misses of model selection are searches that never find the basin
 * of the generating parameters (bench/results/fit.md), and that basin is
 * narrow. The models below are linear in most of their parameters once the
 * voltage is known: with the recorded v(t) on the right-hand side, the
 * increments v[i+w] - v[i] are a linear combination of sums of known
 * functions of v and of the recorded current. The nonlinear rest (a rate, a
 * slope factor, a voltage shift) is a small grid; each grid point is one
 * least-squares fit (normal equations, LAPACKE_dposv), and the grid point with
 * the smallest residual wins. Increments over w samples (4 ms; hh 1 ms)
 * rather than single steps: the measurement noise of v[i] appears both in the
 * increment and in the regressors, which biases single-step fits towards
 * fast leaks; summing w steps divides that bias by about w^2.
 *
 *  IF family   lif6, lapicque, slif, glif1-3, alpha_lif: the ARX fit of the
 *              free steps (glif3's after-spike currents and alpha_lif's
 *              current filter on grids), the reset and the refractory hold
 *              from the trace (guess_lif);
 *  quadratic   izhikevich (qif without u): C dv = k (v - v_r) v
 *              - k v_t (v - v_r) - u + I, u from the recursion with rate a
 *              (grid) on v - v_r and the resets (d); v_r = the baseline
 *              before the stimulus (the model's rest);
 *  exponential adex (eif without w): C dV = -g_L V + g_L E_L
 *              + theta exp((V - V_ref)/Delta_T) - w + I, w from the
 *              recursion with tau_w (grid) on V - rest and the resets;
 *              Delta_T on a grid; V_T from theta;
 *  hh          C dV = I - sum_x g_x G_x(t) (V - E_x): the gates m, h, n, p are
 *              integrated along the recorded V for each V_T and tau_max of a
 *              grid, which leaves C, the four conductances and three
 *              reversal potentials linear (g E as one coefficient).
 *
 * Resets (reset models) are one-sample drops of more than 10 mV; recordings
 * with spike shapes instead (real cells) exclude a few ms around each
 * threshold crossing. The result is clamped into the fitting bounds;
 * parameters the regression cannot see stay at the defaults. */
#include "neurofit/fit.h"

#include "fit_internal.h"
#include "engine/pool.h"
#include "internal.h"
#include "neurofit/model.h"

#include <lapacke.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GMAX 12 /* regressors at most */

typedef struct lsq {
    int p;
    double A[GMAX * GMAX], b[GMAX], yy;
    int64_t n;
} lsq;

static void lsq_init(lsq *q, int p)
{
    memset(q, 0, sizeof *q);
    q->p = p;
}

static void lsq_add(lsq *q, const double *x, double y)
{
    int p = q->p;
    for (int r = 0; r < p; r++) {
        q->b[r] += x[r] * y;
        for (int c = 0; c <= r; c++)
            q->A[r * p + c] += x[r] * x[c];
    }
    q->yy += y * y;
    q->n++;
}

/* Least squares from the normal equations, columns scaled to unit diagonal
 * and a 1e-10 ridge. Returns 0 and the residual sum of squares, or -1. */
static int lsq_solve(const lsq *q, double *theta, double *sse)
{
    int p = q->p;
    double A[GMAX * GMAX], b[GMAX], sc[GMAX];
    if (q->n <= p)
        return -1;
    for (int r = 0; r < p; r++) {
        double d = q->A[r * p + r];
        if (!(d > 0) || !isfinite(d))
            return -1;
        sc[r] = 1 / sqrt(d);
    }
    for (int r = 0; r < p; r++) {
        for (int c = 0; c < p; c++) {
            double a = r >= c ? q->A[r * p + c] : q->A[c * p + r];
            A[r * p + c] = a * sc[r] * sc[c] + (r == c ? 1e-10 : 0);
        }
        b[r] = q->b[r] * sc[r];
    }
    if (LAPACKE_dposv(LAPACK_ROW_MAJOR, 'L', p, 1, A, p, b, 1) != 0)
        return -1;
    double fit = 0;
    for (int r = 0; r < p; r++) {
        theta[r] = b[r] * sc[r];
        fit += theta[r] * q->b[r];
        if (!isfinite(theta[r]))
            return -1;
    }
    *sse = fmax(q->yy - fit, 0);
    return 0;
}

/* ---- the recording ---------------------------------------------------------- */

typedef struct trace {
    const float *v, *i;
    int64_t n;
    double dt;
    int w;               /* increment length in samples */
    uint8_t *skip;       /* [n] step i -> i+1 not in the regression */
    uint8_t *spike;      /* [n] a spike (reset) at step i -> i+1 */
    int n_spikes;
    double rest;         /* mean v before the stimulus */
    double reset;        /* mean v right after the spikes (NAN: none) */
    double peak_lo;      /* highest sample before a reset (NAN: none) */
    int64_t *last;       /* [n_spikes] sample before each reset */
    int resets;          /* spikes are one-sample resets (else spike shapes) */
    uint8_t *start;      /* [n] 1 at the first sample of each pooled sweep (recursions restart there) */
    float *own;          /* the pooled sweeps' v then i, [2][n] (NULL: one sweep, borrowed) */
} trace;

static void trace_free(trace *t)
{
    free(t->skip);
    free(t->spike);
    free(t->last);
    free(t->start);
    free(t->own);
}

/* At most this many samples pooled (the regressions' cost is linear in it). */
#define POOL_MAX_SAMPLES 4000000

/* The sweeps idx[0..n_sw) of tg that share the first one's sample
 * interval, end to end: the step from one sweep's last sample to the next
 * one's first is never regressed on, and every recursion along the trace
 * restarts at a sweep's first sample. */
static nf_status trace_init(trace *t, const nf_fit_target *tg, const int *idx, int n_sw, double threshold_mV,
                            double drop_mV)
{
    memset(t, 0, sizeof *t);
    const nf_fit_target *t0 = &tg[idx[0]];
    int64_t total = 0;
    int used = 0;
    for (int k = 0; k < n_sw; k++) {
        const nf_fit_target *x = &tg[idx[k]];
        if (x->dt_ms != t0->dt_ms || (used && total + x->n > POOL_MAX_SAMPLES))
            continue;
        total += x->n;
        used++;
    }
    t->n = total;
    t->dt = t0->dt_ms;
    t->w = (int)fmax(1, lround(4.0 / t0->dt_ms)); /* measured: 4 ms beat 0.5-2 and 8-16 (adex, izhikevich) */
    t->skip = calloc((size_t)t->n, 1);
    t->spike = calloc((size_t)t->n, 1);
    t->start = calloc((size_t)t->n, 1);
    t->last = malloc(sizeof(int64_t) * (size_t)(t->n / 2 + 1));
    if (used > 1)
        t->own = malloc(sizeof(float) * 2 * (size_t)t->n);
    if (!t->skip || !t->spike || !t->start || !t->last || (used > 1 && !t->own)) {
        trace_free(t);
        return nf__fail(NF_ENOMEM, "fit: out of memory for a starting guess");
    }
    /* baseline of each sweep: until its current first changes (at least 10 samples) */
    double rest_sum = 0;
    int64_t rest_n = 0, at = 0;
    for (int k = 0, u = 0; k < n_sw && u < used; k++) {
        const nf_fit_target *x = &tg[idx[k]];
        if (x->dt_ms != t0->dt_ms || at + x->n > t->n)
            continue;
        u++;
        if (t->own) {
            memcpy(t->own + at, x->v, sizeof(float) * (size_t)x->n);
            memcpy(t->own + t->n + at, x->i, sizeof(float) * (size_t)x->n);
        }
        t->start[at] = 1;
        if (at > 0)
            t->skip[at - 1] = 1; /* the step between two sweeps */
        double imax = 0;
        for (int64_t j = 0; j < x->n; j++)
            imax = fmax(imax, fabs(x->i[j]));
        int64_t b = 0;
        while (b < x->n && fabs(x->i[b] - x->i[0]) <= 1e-6 * imax + 1e-9)
            b++;
        if (b < 10)
            b = x->n < 10 ? x->n : 10;
        for (int64_t j = 0; j < b; j++)
            rest_sum += x->v[j];
        rest_n += b;
        at += x->n;
    }
    t->v = t->own ? t->own : t0->v;
    t->i = t->own ? t->own + t->n : t0->i;
    t->rest = rest_sum / (double)rest_n;
    const float *v = t->v;
    int64_t n = t->n;

    for (int64_t j = 0; j + 1 < n; j++)
        if (v[j + 1] - v[j] < -drop_mV && !t->start[j + 1])
            t->resets = 1;
    double rs = 0, pk = -INFINITY;
    int nr = 0;
    if (t->resets) {
        for (int64_t j = 0; j + 1 < n; j++) {
            if (!(v[j + 1] - v[j] < -drop_mV) || t->start[j + 1])
                continue;
            if (j > 0 && t->skip[j - 1]) { /* a drop over several samples: one spike */
                t->skip[j] = 1;
                continue;
            }
            t->skip[j] = 1;
            t->spike[j] = 1;
            t->last[t->n_spikes++] = j;
        }
        for (int k = 0; k < t->n_spikes; k++) {
            int64_t j = t->last[k];
            pk = fmax(pk, v[j]);
            int64_t e = j + 1;
            while (e + 1 < n && t->skip[e])
                e++;
            rs += v[e];
            nr++;
        }
    } else { /* spike shapes: out from the crossing to the trough, at most 5 ms */
        int64_t win = (int64_t)ceil(5 / t->dt);
        for (int64_t j = 0; j + 1 < n; j++) {
            if (!(v[j] < threshold_mV && v[j + 1] >= threshold_mV) || t->start[j + 1])
                continue;
            int64_t e = j + 1, p = j + 1;
            while (e + 1 < n && e - j < win && v[e] >= threshold_mV)
                e++;
            for (int64_t q = j + 1; q < e; q++)
                if (v[q] > v[p])
                    p = q;
            int64_t tr = e;
            while (tr + 1 < n && tr - j < win && v[tr + 1] < v[tr])
                tr++;
            int64_t from = j > 0 ? j - 1 : 0;
            for (int64_t q = from; q < tr; q++)
                t->skip[q] = 1;
            t->spike[from] = 1;
            t->last[t->n_spikes++] = from;
            pk = fmax(pk, v[p]);
            rs += v[tr];
            nr++;
            j = tr;
        }
    }
    t->reset = nr ? rs / nr : NAN;
    t->peak_lo = nr ? pk : NAN;
    return NF_OK;
}

/* Prefix sums of a series x[0..n): S[j] = sum of x[0..j). */
static void prefix(const double *x, int64_t n, double *S)
{
    S[0] = 0;
    for (int64_t j = 0; j < n; j++)
        S[j + 1] = S[j] + x[j];
}

/* The prefix series of the current, the voltage and 1 (tmp: [n] scratch). */
static void basic_series(const trace *t, double *tmp, double *SI, double *SV, double *S1)
{
    for (int64_t j = 0; j < t->n; j++)
        tmp[j] = t->i[j];
    prefix(tmp, t->n, SI);
    for (int64_t j = 0; j < t->n; j++)
        tmp[j] = t->v[j];
    prefix(tmp, t->n, SV);
    for (int64_t j = 0; j < t->n; j++)
        tmp[j] = 1;
    prefix(tmp, t->n, S1);
}

/* Does the window of steps [j, j + w) contain a skipped step? (prefix of skip) */
static int window_ok(const int64_t *K, int64_t j, int w) { return K[j + w] == K[j]; }

/* The recursion x[j+1] = x[j] + r (src[j] - x[j]) + jump[j], x = 0 at
 * each sweep's first sample (start). */
static void filter(const double *src, const uint8_t *jump, const uint8_t *start, int64_t n, double r, double *x)
{
    x[0] = 0;
    for (int64_t j = 0; j + 1 < n; j++)
        x[j + 1] = start[j + 1] ? 0 : x[j] + r * ((src ? src[j] : 0) - x[j]) + (jump ? jump[j] : 0);
}

static double clampd(double x, double lo, double hi) { return x < lo ? lo : (x > hi ? hi : x); }

/* Geometric grid of n points from lo to hi. */
static double geo(double lo, double hi, int k, int n) { return lo * pow(hi / lo, (double)k / (n - 1)); }

/* ---- models ----------------------------------------------------------------- */

/* Work arrays of the reset models: nseries prefix series of n + 1 samples,
 * two scratch series of n, and the prefix count of skipped steps. */
typedef struct work {
    double *buf, *tmp, *f;
    int64_t *K;
} work;

static void work_free(work *w)
{
    free(w->buf);
    free(w->tmp);
    free(w->f);
    free(w->K);
}

static nf_status work_init(work *w, const trace *t, int nseries)
{
    w->buf = malloc(sizeof(double) * (size_t)(t->n + 1) * (size_t)nseries);
    w->tmp = malloc(sizeof(double) * (size_t)t->n);
    w->f = malloc(sizeof(double) * (size_t)t->n);
    w->K = malloc(sizeof(int64_t) * (size_t)(t->n + 1));
    if (!w->buf || !w->tmp || !w->f || !w->K) {
        work_free(w);
        return nf__fail(NF_ENOMEM, "fit: out of memory for a starting guess");
    }
    w->K[0] = 0;
    for (int64_t j = 0; j < t->n; j++)
        w->K[j + 1] = w->K[j] + (j + 1 < t->n ? t->skip[j] : 1);
    return NF_OK;
}

static double *series(work *w, const trace *t, int k) { return w->buf + (size_t)k * (size_t)(t->n + 1); }

/* Accumulate the windows: y = v[j+w] - v[j], x = window sums of the prefix
 * series S[0..p) (each of n + 1). */
static void accumulate(lsq *q, const trace *t, const int64_t *K, double *const *S, int p)
{
    int w = t->w;
    double x[GMAX] = {0};
    for (int64_t j = 0; j + w < t->n; j++) {
        if (!window_ok(K, j, w))
            continue;
        for (int r = 0; r < p; r++)
            x[r] = S[r][j + w] - S[r][j];
        lsq_add(q, x, (double)t->v[j + w] - (double)t->v[j]);
    }
}

/* Index of model m's parameter named a (or b), -1 when it has none. */
static int pidx(const nf_model *m, const char *a, const char *b)
{
    for (int j = 0; j < m->n_params; j++)
        if (!strcmp(m->params[j].name, a) || (b && !strcmp(m->params[j].name, b)))
            return j;
    return -1;
}

/* p[j] = x when the model has that parameter (j >= 0). */
static void put(double *p, int j, double x)
{
    if (j >= 0)
        p[j] = x;
}

/* The longest refractory hold in steps (t_ref at its upper bound, plus one),
 * or 1 for a model without t_ref (iref < 0). */
static int64_t max_hold(const nf_model *m, int iref, double dt)
{
    return iref >= 0 ? (int64_t)ceil(m->params[iref].hi / dt) + 1 : 1;
}

/* Leave the refractory hold out of the regression: the hold_steps steps
 * after every reset. */
static void skip_holds(trace *t, int64_t hold_steps)
{
    for (int k = 0; k < t->n_spikes; k++)
        for (int64_t q = t->last[k]; q <= t->last[k] + hold_steps && q < t->n; q++)
            t->skip[q] = 1;
}

/* The refractory hold after the resets: the R in [1, Rmax] that fits the
 * samples after every reset best, the first R - 1 at the reset value vres,
 * the rest one-step predictions from the sample before, v + c0 I + c1 v + c2
 * + c3 exp((v - c5) / c4) (the regression's per-step coefficients). */
static int64_t hold_length(const trace *t, int64_t Rmax, double vres, const double *c)
{
    double bestE = INFINITY;
    int64_t bestR = 1;
    for (int64_t R = 1; R <= Rmax; R++) {
        double e = 0;
        for (int k = 0; k < t->n_spikes; k++) {
            int64_t s0 = t->last[k] + 1;
            int64_t end = k + 1 < t->n_spikes ? t->last[k + 1] : t->n - 1;
            for (int64_t q = 0; q <= Rmax && s0 + q < end && !t->start[s0 + q]; q++) {
                int64_t x = s0 + q;
                double v = t->v[x - 1];
                double pred = v + c[0] * t->i[x - 1] + c[1] * v + c[2] + (c[3] != 0 ? c[3] * exp((v - c[5]) / c[4]) : 0);
                double r = q < R ? t->v[x] - vres : t->v[x] - pred;
                e += r * r;
            }
        }
        if (e < bestE) {
            bestE = e;
            bestR = R;
        }
    }
    return bestR;
}

/* izhikevich: C, k, v_r, v_t, a, b, c, d, v_peak; qif (no recovery variable): C, k, V_r,
 * V_t, V_reset, V_peak */
static int guess_quad(const nf_model *m, const trace *t, double *p)
{
    int64_t n = t->n;
    int ia = pidx(m, "a", NULL), ib = pidx(m, "b", NULL), id = pidx(m, "d", NULL);
    int recov = ia >= 0 && ib >= 0 && id >= 0;
    work wk;
    if (work_init(&wk, t, 5))
        return -1;
    double *tmp = wk.tmp, *f = wk.f;
    double dt = t->dt, vr = t->rest;
    double *SI = series(&wk, t, 0), *SQ = series(&wk, t, 1), *SL = series(&wk, t, 2);
    double *SU = series(&wk, t, 3), *SS = series(&wk, t, 4);
    for (int64_t j = 0; j < n; j++)
        tmp[j] = t->i[j];
    prefix(tmp, n, SI);
    for (int64_t j = 0; j < n; j++)
        tmp[j] = ((double)t->v[j] - vr) * t->v[j];
    prefix(tmp, n, SQ);
    for (int64_t j = 0; j < n; j++)
        tmp[j] = (double)t->v[j] - vr;
    prefix(tmp, n, SL);
    double best = INFINITY, bt[5] = {0}, ba = NAN;
    const int NA = recov ? 28 : 1;
    for (int ka = 0; ka < NA; ka++) {
        double a = recov ? geo(m->params[ia].lo, m->params[ia].hi, ka, NA) : 0;
        if (recov) {
            filter(tmp, NULL, t->start, n, a * dt, f); /* u / b */
            prefix(f, n, SU);
            filter(NULL, t->spike, t->start, n, a * dt, f); /* u / d */
            prefix(f, n, SS);
        }
        double *S[5] = {SI, SQ, SL, SU, SS};
        lsq q;
        lsq_init(&q, !recov ? 3 : t->n_spikes ? 5 : 4);
        accumulate(&q, t, wk.K, S, q.p);
        double th[5] = {0}, sse;
        if (lsq_solve(&q, th, &sse) || !(th[0] > 0) || !(th[1] > 0))
            continue;
        if (sse < best) {
            best = sse;
            memcpy(bt, th, sizeof bt);
            ba = a;
        }
    }
    work_free(&wk);
    if (!isfinite(best))
        return -1;
    put(p, pidx(m, "C", NULL), dt / bt[0]);
    put(p, pidx(m, "k", NULL), bt[1] / bt[0]);
    put(p, pidx(m, "v_r", "V_r"), vr);
    put(p, pidx(m, "v_t", "V_t"), -bt[2] / bt[1]);
    if (recov) {
        p[ia] = ba;
        p[ib] = -bt[3] / bt[0];
    }
    if (t->n_spikes) {
        put(p, pidx(m, "c", "V_reset"), t->reset);
        if (recov)
            p[id] = -bt[4] / bt[0];
        /* reset traces: v_peak above the last sample before each reset */
        put(p, pidx(m, "v_peak", "V_peak"), t->resets ? t->peak_lo + 0.5 : t->peak_lo);
    }
    return 0;
}

/* adex: C, g_L, E_L, V_T, Delta_T, tau_w, a, b, V_r, V_peak; eif (no adaptation,
 * a refractory hold t_ref): C, g_L, E_L, V_T, Delta_T, V_r, V_peak, t_ref */
static int guess_exp(const nf_model *m, trace *t, double *p)
{
    int64_t n = t->n;
    int iD = pidx(m, "Delta_T", NULL), itau = pidx(m, "tau_w", NULL), iref = pidx(m, "t_ref", NULL);
    if (iD < 0)
        return -1;
    if (iref >= 0)
        skip_holds(t, max_hold(m, iref, t->dt));
    work wk;
    if (work_init(&wk, t, 3))
        return -1;
    double *tmp = wk.tmp, *f = wk.f;
    const int ND = 16, NT = itau >= 0 ? 12 : 1;
    double *SX = malloc(sizeof(double) * (size_t)(n + 1) * ND);
    double *SW = malloc(sizeof(double) * (size_t)(n + 1) * NT * 2);
    if (!SX || !SW) {
        free(SX);
        free(SW);
        work_free(&wk);
        return -1;
    }
    double dt = t->dt;
    double *SI = series(&wk, t, 0), *SV = series(&wk, t, 1), *S1 = series(&wk, t, 2);
    double vref = -INFINITY;
    for (int64_t j = 0; j + 1 < n; j++)
        if (!t->skip[j])
            vref = fmax(vref, t->v[j]);
    basic_series(t, tmp, SI, SV, S1);
    for (int kd = 0; kd < ND; kd++) {
        double D = geo(m->params[iD].lo, m->params[iD].hi, kd, ND);
        for (int64_t j = 0; j < n; j++)
            tmp[j] = t->skip[j] ? 0 : exp(((double)t->v[j] - vref) / D);
        prefix(tmp, n, SX + (size_t)kd * (n + 1));
    }
    for (int64_t j = 0; j < n; j++)
        tmp[j] = (double)t->v[j] - t->rest;
    for (int kt = 0; kt < NT && itau >= 0; kt++) {
        double tau = geo(m->params[itau].lo, m->params[itau].hi, kt, NT);
        filter(tmp, NULL, t->start, n, dt / tau, f);
        prefix(f, n, SW + (size_t)(2 * kt) * (n + 1));
        filter(NULL, t->spike, t->start, n, dt / tau, f);
        prefix(f, n, SW + (size_t)(2 * kt + 1) * (n + 1));
    }
    double best = INFINITY, bt[6] = {0}, bD = NAN, btau = NAN;
    int P = itau < 0 ? 4 : t->n_spikes ? 6 : 5;
    for (int kd = 0; kd < ND; kd++)
        for (int kt = 0; kt < NT; kt++) {
            double *S[6] = {SI, SV, S1, SX + (size_t)kd * (n + 1), SW + (size_t)(2 * kt) * (n + 1),
                            SW + (size_t)(2 * kt + 1) * (n + 1)};
            lsq q;
            lsq_init(&q, P);
            accumulate(&q, t, wk.K, S, P);
            double th[6] = {0}, sse;
            if (lsq_solve(&q, th, &sse) || !(th[0] > 0) || !(th[1] < 0) || !(th[3] > 0))
                continue;
            if (sse < best) {
                best = sse;
                memcpy(bt, th, sizeof bt);
                bD = geo(m->params[iD].lo, m->params[iD].hi, kd, ND);
                if (itau >= 0)
                    btau = geo(m->params[itau].lo, m->params[itau].hi, kt, NT);
            }
        }
    free(SX);
    free(SW);
    work_free(&wk);
    if (!isfinite(best))
        return -1;
    double gL = -bt[1] / bt[0];
    put(p, pidx(m, "C", NULL), dt / bt[0]);
    put(p, pidx(m, "g_L", NULL), gL);
    put(p, pidx(m, "E_L", NULL), bt[2] / bt[0] / gL);
    put(p, pidx(m, "V_T", NULL), vref - bD * log(bt[3] / bt[0] / (gL * bD)));
    p[iD] = bD;
    if (itau >= 0) {
        p[itau] = btau;
        put(p, pidx(m, "a", NULL), -bt[4] / bt[0]);
    }
    if (t->n_spikes) {
        if (itau >= 0)
            put(p, pidx(m, "b", NULL), -bt[5] / bt[0]);
        put(p, pidx(m, "V_r", NULL), t->reset);
        put(p, pidx(m, "V_peak", NULL), t->resets ? t->peak_lo + 0.5 : t->peak_lo);
        if (iref >= 0 && t->resets && itau < 0) {
            double c[6] = {bt[0], bt[1], bt[2], bt[3], bD, vref};
            int64_t R = hold_length(t, max_hold(m, iref, t->dt), t->reset, c);
            p[iref] = ((double)R - 0.5) * t->dt;
        }
    }
    return 0;
}


/* hh gates along the recorded voltage (steps of dt / k, v linear in between,
 * the model's exponential-Euler updates): per sample the integrals over its
 * sub-steps of G and G v for G = m^3 h and n^4 (V_T given), or p (tau_max
 * given), as prefix sums. */
static void hh_rates(double u, double *am, double *bm, double *ah, double *bh, double *an, double *bn)
{
    /* x / (exp(x) - 1), continuous at 0 */
#define VTRAP(x) (fabs(x) < 1e-4 ? 1 - 0.5 * (x) : (x) / expm1(x))
    *am = 1.28 * VTRAP(-(u - 13) * 0.25);
    *bm = 1.4 * VTRAP((u - 40) * 0.2);
    *ah = 0.128 * exp(-(u - 17) / 18);
    *bh = 4 / (1 + exp(-(u - 40) * 0.2));
    *an = 0.16 * VTRAP(-(u - 15) * 0.2);
    *bn = 0.5 * exp(-(u - 10) * 0.025);
#undef VTRAP
}

static void hh_fast_gates(const trace *t, int k, double VT, double *tmp, double *SNa, double *SNaV, double *SK,
                          double *SKV)
{
    int64_t n = t->n;
    double h = t->dt / k, am, bm, ah, bh, an, bn;
    hh_rates(t->v[0] - VT, &am, &bm, &ah, &bh, &an, &bn);
    double m = am / (am + bm), hg = ah / (ah + bh), nn = an / (an + bn);
    double *a = tmp, *b = tmp + n, *c = tmp + 2 * n, *d = tmp + 3 * n;
    for (int64_t j = 0; j < n; j++) {
        double v0 = t->v[j], v1 = j + 1 < n && !t->start[j + 1] ? t->v[j + 1] : v0;
        double sa = 0, sb = 0, sc = 0, sd = 0;
        if (t->start[j] && j > 0) { /* a new sweep: the gates at rest at its first sample */
            hh_rates(v0 - VT, &am, &bm, &ah, &bh, &an, &bn);
            m = am / (am + bm);
            hg = ah / (ah + bh);
            nn = an / (an + bn);
        }
        for (int q = 0; q < k; q++) {
            double vs = v0 + (v1 - v0) * q / k, vm = v0 + (v1 - v0) * (q + 0.5) / k;
            hh_rates(vs - VT, &am, &bm, &ah, &bh, &an, &bn);
            double sm = am + bm, sh = ah + bh, sn = an + bn;
            m = am / sm + (m - am / sm) * exp(-h * sm);
            hg = ah / sh + (hg - ah / sh) * exp(-h * sh);
            nn = an / sn + (nn - an / sn) * exp(-h * sn);
            double gna = m * m * m * hg, n2 = nn * nn, gk = n2 * n2;
            sa += gna;
            sb += gna * vm;
            sc += gk;
            sd += gk * vm;
        }
        a[j] = sa * h;
        b[j] = sb * h;
        c[j] = sc * h;
        d[j] = sd * h;
    }
    prefix(a, n, SNa);
    prefix(b, n, SNaV);
    prefix(c, n, SK);
    prefix(d, n, SKV);
}

static void hh_slow_gate(const trace *t, int k, double tau_max, double *tmp, double *SM, double *SMV)
{
    int64_t n = t->n;
    double h = t->dt / k;
    double p = 1 / (1 + exp(-(t->v[0] + 35) * 0.1));
    double *a = tmp, *b = tmp + n;
    for (int64_t j = 0; j < n; j++) {
        double v0 = t->v[j], v1 = j + 1 < n && !t->start[j + 1] ? t->v[j + 1] : v0;
        double sa = 0, sb = 0;
        if (t->start[j] && j > 0)
            p = 1 / (1 + exp(-(v0 + 35) * 0.1));
        for (int q = 0; q < k; q++) {
            double vs = v0 + (v1 - v0) * q / k, vm = v0 + (v1 - v0) * (q + 0.5) / k;
            double pinf = 1 / (1 + exp(-(vs + 35) * 0.1)), e = exp((vs + 35) * 0.05);
            double ip = (3.3 * e + 1 / e) / tau_max;
            p = pinf + (p - pinf) * exp(-h * ip);
            sa += p;
            sb += p * vm;
        }
        a[j] = sa * h;
        b[j] = sb * h;
    }
    prefix(a, n, SM);
    prefix(b, n, SMV);
}

/* hh: C, g_Na, g_K, g_M, g_L, E_Na, E_K, E_L, V_T, tau_max */
static int guess_hh(const nf_model *m, const trace *t, double *p)
{
    int64_t n = t->n, N1 = n + 1;
    int k = nf_fit_substeps(m, t->dt);
    const int NTAU = 5;
    double *buf = malloc(sizeof(double) * (size_t)N1 * (7 + 2 * NTAU));
    double *tmp = malloc(sizeof(double) * (size_t)n * 4);
    int64_t *K = calloc((size_t)N1, sizeof *K); /* no skipped steps: spikes are part of the model */
    if (!buf || !tmp || !K) {
        free(buf);
        free(tmp);
        free(K);
        return -1;
    }
    double *SI = buf, *SV = buf + N1, *S1 = buf + 2 * N1, *SNa = buf + 3 * N1, *SNaV = buf + 4 * N1;
    double *SK = buf + 5 * N1, *SKV = buf + 6 * N1, *SM = buf + 7 * N1;
    for (int64_t j = 0; j < n; j++) /* only the steps between pooled sweeps are left out */
        K[j + 1] = K[j] + (j + 1 < n ? t->start[j + 1] : 1); /* the last sample starts no step */
    for (int64_t j = 0; j < n; j++)
        tmp[j] = t->dt * t->i[j];
    prefix(tmp, n, SI);
    for (int64_t j = 0; j < n; j++)
        tmp[j] = 0.5 * t->dt * ((double)t->v[j] + (j + 1 < n && !t->start[j + 1] ? t->v[j + 1] : t->v[j]));
    prefix(tmp, n, SV);
    for (int64_t j = 0; j < n; j++)
        tmp[j] = t->dt;
    prefix(tmp, n, S1);
    for (int q = 0; q < NTAU; q++)
        hh_slow_gate(t, k, geo(m->params[9].lo, m->params[9].hi, q, NTAU), tmp, SM + (size_t)(2 * q) * N1,
                     SM + (size_t)(2 * q + 1) * N1);
    double best = INFINITY, bt[9] = {0}, bvt = NAN, btau = NAN;
    double vlo = m->params[8].lo, vhi = m->params[8].hi;
    for (int pass = 0; pass < 2; pass++) {
        double c0 = pass ? fmax(vlo, bvt - 1) : vlo, c1 = pass ? fmin(vhi, bvt + 1) : vhi;
        double step = pass ? 0.2 : 1.0;
        if (pass && !isfinite(bvt))
            break;
        for (double VT = c0; VT <= c1 + 1e-9; VT += step) {
            hh_fast_gates(t, k, VT, tmp, SNa, SNaV, SK, SKV);
            for (int q = 0; q < NTAU; q++) {
                double *SMq = SM + (size_t)(2 * q) * N1, *SMVq = SM + (size_t)(2 * q + 1) * N1;
                double *S[9] = {SI, SNaV, SNa, SKV, SK, SMVq, SMq, SV, S1};
                lsq qq;
                lsq_init(&qq, 9);
                accumulate(&qq, t, K, S, 9);
                double th[9], sse;
                if (lsq_solve(&qq, th, &sse) || !(th[0] > 0) || !(th[1] < 0) || !(th[3] < 0) || !(th[7] < 0))
                    continue;
                if (sse < best) {
                    best = sse;
                    memcpy(bt, th, sizeof bt);
                    bvt = VT;
                    btau = geo(m->params[9].lo, m->params[9].hi, q, NTAU);
                }
            }
        }
    }
    free(buf);
    free(tmp);
    free(K);
    if (!isfinite(best))
        return -1;
    double C = 1 / bt[0];
    p[0] = C;
    p[1] = -bt[1] * C;
    p[2] = -bt[3] * C;
    p[3] = fmax(0, -bt[5] * C);
    p[4] = -bt[7] * C;
    p[5] = bt[2] / -bt[1];
    p[6] = (bt[4] + bt[6]) / (-bt[3] - bt[5]);
    p[7] = bt[8] / -bt[7];
    p[8] = bvt;
    p[9] = btau;
    return 0;
}

/* The leaky integrate-and-fire family (lif6, lapicque, slif, glif1-3,
 * alpha_lif): C, g,
 * E_L, V_th, the reset (V_res; glif: E_L) and t_ref. The trace is held at
 * the reset for R = ceil(t_ref / dt) samples after each spike: the ARX fit
 * leaves out the longest hold after every reset, and R is the change point
 * that fits best over all spikes (held samples at the reset, then free
 * one-step predictions). lapicque integrates exactly: its per-step gain on
 * the current is (1 - exp(-g dt / C)) / g rather than dt / C. */
static int guess_lif(const nf_model *m, trace *t, double *p)
{
    int64_t n = t->n;
    int iref = pidx(m, "t_ref", NULL);
    int64_t Rmax = max_hold(m, iref, t->dt);
    skip_holds(t, Rmax);
    work wk;
    if (work_init(&wk, t, 5))
        return -1;
    double *SI = series(&wk, t, 0), *SV = series(&wk, t, 1), *S1 = series(&wk, t, 2);
    double *SU1 = series(&wk, t, 3), *SU2 = series(&wk, t, 4);
    basic_series(t, wk.tmp, SI, SV, S1);
    /* alpha_lif: the membrane sees the current through a two-stage filter
     * with time constant tau_s (a grid); glif3: two after-spike currents
     * that jump by dI_j at each spike and decay at rates k_j (a grid each),
     * linear in dI_j; the others: the current itself */
    int itau = pidx(m, "tau_s", NULL), ik1 = pidx(m, "k_1", NULL), ik2 = pidx(m, "k_2", NULL);
    int asc = ik1 >= 0 && ik2 >= 0 && pidx(m, "dI_1", NULL) >= 0 && pidx(m, "dI_2", NULL) >= 0 && t->n_spikes;
    const int NK = 10, NT = itau >= 0 ? 16 : asc ? NK * NK : 1, P = asc ? 5 : 3;
    double best = INFINITY, bt[5] = {0}, btau = NAN, bk1 = NAN, bk2 = NAN;
    int w0 = t->w;
    for (int kt = 0; kt < NT; kt++) {
        double tau = itau >= 0 ? geo(m->params[itau].lo, m->params[itau].hi, kt, NT) : 0;
        double k1 = asc ? geo(m->params[ik1].lo, m->params[ik1].hi, kt / NK, NK) : 0;
        double k2 = asc ? geo(m->params[ik2].lo, m->params[ik2].hi, kt % NK, NK) : 0;
        if (itau >= 0) {
            double q = t->dt / tau, E = exp(-q), h = 0, f = 0;
            for (int64_t j = 0; j < n; j++) {
                if (t->start[j])
                    f = h = 0;
                wk.tmp[j] = f;
                f = E * f + q * E * h + (1 - E - q * E) * t->i[j];
                h = E * h + (1 - E) * t->i[j];
            }
            prefix(wk.tmp, n, SI);
        }
        if (asc) {
            if (kt % NK == 0) { /* k_1 changed */
                filter(NULL, t->spike, t->start, n, 1 - exp(-k1 * t->dt), wk.f);
                prefix(wk.f, n, SU1);
            }
            filter(NULL, t->spike, t->start, n, 1 - exp(-k2 * t->dt), wk.f);
            prefix(wk.f, n, SU2);
        }
        double th[5] = {0}, sse = INFINITY;
        t->w = w0;
        for (int tries = 0; tries < 3; tries++) { /* shorter increments when spikes leave too few */
            lsq q;
            lsq_init(&q, P);
            double *S[5] = {SI, SV, S1, SU1, SU2};
            accumulate(&q, t, wk.K, S, P);
            if (q.n >= 50 && !lsq_solve(&q, th, &sse) && th[0] > 0 && th[1] < 0)
                break;
            th[0] = 0;
            t->w = t->w / 4 > 0 ? t->w / 4 : 1;
        }
        if (th[0] > 0 && th[1] < 0 && sse < best) {
            best = sse;
            memcpy(bt, th, sizeof bt);
            btau = tau;
            bk1 = k1;
            bk2 = k2;
        }
    }
    work_free(&wk);
    if (!isfinite(best))
        return -1;
    double a = bt[0], gL = -bt[1] / bt[0], EL = bt[2] / bt[0] / gL;
    double C = t->dt / a;
    int exact = !strcmp(m->name, "lapicque") || !strcmp(m->name, "alpha_lif"); /* exponential Euler */
    if (exact && a * gL < 1)
        C = -gL * t->dt / log(1 - a * gL);
    put(p, itau, btau);
    if (asc) {
        p[ik1] = bk1;
        p[ik2] = bk2;
        put(p, pidx(m, "dI_1", NULL), bt[3] / bt[0]);
        put(p, pidx(m, "dI_2", NULL), bt[4] / bt[0]);
    }
    put(p, pidx(m, "C_m", "C"), C);
    put(p, pidx(m, "g_L", "g"), gL);
    put(p, pidx(m, "E_L", NULL), EL);
    int isg = pidx(m, "sigma", NULL); /* slif's intrinsic noise: the fits' optimum is near none */
    if (isg >= 0)
        p[isg] = m->params[isg].lo;
    if (t->n_spikes && t->resets) {
        double vres = t->reset, vth = 0;
        for (int k = 0; k < t->n_spikes; k++) {
            int64_t j = t->last[k];
            vth += t->v[j] + 0.5 * a * (t->i[j] - gL * (t->v[j] - EL));
        }
        double c[6] = {bt[0], bt[1], bt[2], 0, 1, 0};
        int64_t bestR = hold_length(t, Rmax, vres, c);
        put(p, pidx(m, "V_th", NULL), vth / t->n_spikes);
        put(p, pidx(m, "V_res", "V_r"), vres);
        put(p, iref, ((double)bestR - 0.5) * t->dt);
    }
    return 0;
}

int nf__fit_guess_has(const nf_model *m) { return m->guess != NF_GUESS_NONE; }

nf_status nf__fit_guess_pooled(const nf_model *m, const nf_fit_target *targets, const int *idx, int n_sw,
                               double threshold_mV, double *params, int *found)
{
    if (!m || !targets || !idx || n_sw < 1 || !params || !found)
        return nf__fail(NF_EINVAL, "fit_guess: NULL argument");
    *found = 0;
    for (int j = 0; j < m->n_params; j++)
        params[j] = clampd(m->params[j].def, m->params[j].lo, m->params[j].hi);
    nf_guess_family fam = m->guess; /* the registry's data, include/neurofit/model.h */
    const nf_fit_target *tg = &targets[idx[0]];
    if (fam == NF_GUESS_NONE || !tg->v || !tg->i || tg->n < 100 || !(tg->dt_ms > 0))
        return NF_OK;
    for (int k = 1; k < n_sw; k++)
        if (!targets[idx[k]].v || !targets[idx[k]].i)
            return NF_OK;
    trace t;
    /* integrate-and-fire resets may lie only ~10 mV below the threshold */
    nf_status s = trace_init(&t, targets, idx, n_sw, threshold_mV, fam == NF_GUESS_IF ? 5.0 : 10.0);
    if (s)
        return s;
    double p[64];
    for (int j = 0; j < m->n_params; j++)
        p[j] = params[j];
    int rc = -1;
    if (fam == NF_GUESS_IF)
        rc = guess_lif(m, &t, p);
    else if (fam == NF_GUESS_QUADRATIC)
        rc = guess_quad(m, &t, p);
    else if (fam == NF_GUESS_EXPONENTIAL)
        rc = guess_exp(m, &t, p);
    else {
        t.w = (int)fmax(1, lround(1.0 / t.dt)); /* spikes of ~1 ms: shorter increments */
        rc = guess_hh(m, &t, p);
    }
    trace_free(&t);
    if (rc)
        return NF_OK;
    for (int j = 0; j < m->n_params; j++)
        if (isfinite(p[j]))
            params[j] = clampd(p[j], m->params[j].lo, m->params[j].hi);
    *found = 1;
    return NF_OK;
}

nf_status nf_fit_guess(const nf_model *m, const nf_fit_target *tg, double threshold_mV, double *params,
                       int *found)
{
    const int zero = 0;
    if (!m || !tg || !params || !found)
        return nf__fail(NF_EINVAL, "fit_guess: NULL argument");
    return nf__fit_guess_pooled(m, tg, &zero, 1, threshold_mV, params, found);
}

/* The guesses of nf__fit_guess_starts, spread over threads (pairs k = u *
 * n_groups + g taken in turn; each guess is independent, so the result does
 * not depend on the thread count). */
typedef struct guess_job {
    const nf__fit_in *in;
    const nf_model *const *use;
    double threshold;
    double *x;
    int *found;
    nf_status *status;
} guess_job;

static nf_status guess_range(void *ctx, int64_t k0, int64_t k1)
{
    guess_job *j = ctx;
    for (int64_t k = k0; k < k1; k++) {
        int u = (int)(k / j->in->G), g = (int)(k % j->in->G);
        const nf__fit_grp *grp = &j->in->groups[g];
        j->status[k] = nf__fit_guess_pooled(j->use[u], j->in->tg, grp->sw, grp->n_train, j->threshold,
                                            j->x + (size_t)k * 64, &j->found[k]);
    }
    return NF_OK;
}

nf_status nf__fit_guess_starts(const nf__fit_in *in, const nf_fit_options *opt, nf_fit_start **starts, double **store,
                               int *n_starts)
{
    *starts = NULL;
    *store = NULL;
    *n_starts = 0;
    int M = opt->models ? opt->n_models : nf_model_count();
    const nf_model *use[256];
    int U = 0;
    for (int k = 0; k < M && U < 256; k++) {
        const nf_model *m = opt->models ? nf_model_find(opt->models[k]) : nf_model_at(k);
        if (!m || !nf__fit_guess_has(m))
            continue; /* unknown names: nf_fit's own checks report them */
        int given = 0;
        for (int q = 0; q < opt->n_starts && !given; q++)
            given = opt->starts && opt->starts[q].model && !strcmp(opt->starts[q].model, m->name);
        if (!given)
            use[U++] = m;
    }
    if (U == 0)
        return NF_OK;
    const int G = in->G;
    int pairs = U * G;
    nf_fit_start *st = calloc((size_t)(opt->n_starts + pairs), sizeof *st);
    double *x = calloc((size_t)pairs * 64, sizeof *x);
    int *found = calloc((size_t)pairs, sizeof *found);
    nf_status *status = calloc((size_t)pairs, sizeof *status);
    if (!st || !x || !found || !status) {
        free(st);
        free(x);
        free(found);
        free(status);
        return nf__fail(NF_ENOMEM, "fit: out of memory for the starting guesses");
    }
    guess_job job = {.in = in, .use = use, .threshold = opt->threshold_mV, .x = x, .found = found, .status = status};
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int T = opt->threads > 0 ? opt->threads : (int)(cores > 0 ? cores : 1);
    T = T > pairs ? pairs : T;
    nf__pool *pool = NULL;
    nf_status ps = nf__pool_create(T, &pool);
    if (!ps)
        ps = nf__parallel_for(pool, pairs, 1, guess_range, &job);
    nf__pool_destroy(pool);
    if (ps) {
        free(st);
        free(x);
        free(found);
        free(status);
        return ps;
    }
    nf_status s = NF_OK;
    int ns = 0;
    for (int q = 0; q < opt->n_starts; q++)
        st[ns++] = opt->starts[q];
    for (int k = 0; k < pairs && !s; k++) {
        s = status[k];
        if (!s && found[k])
            st[ns++] = (nf_fit_start){.model = use[k / G]->name, .target = k % G, .params = x + (size_t)k * 64,
                                      .sigma = opt->guess_sigma};
    }
    free(found);
    free(status);
    if (s) { /* the worker's message is its thread's */
        free(st);
        free(x);
        return nf__fail(s, "fit: a starting guess failed (%s)", nf_status_str(s));
    }
    *starts = st;
    *store = x;
    *n_starts = ns;
    return NF_OK;
}
