/* What the feature passes share, below all of them: storing a feature's
 * values in the context's pool (or marking it missing), and the small
 * numerics eFEL's definitions are written in (searches on the grid, minima,
 * means, line fits). */
#include "features/features_internal.h"
#include "internal.h"

#include <math.h>

/* ---- the result store ----------------------------------------------------------- */

double *nf__put(struct nf_features *f, int id, int64_t n)
{
    nf__result *r = &f->res[id];
    double *out = f->pool + f->pool_n;
    r->vals = out;
    r->n = n;
    r->missing = 0;
    r->reason = "";
    f->pool_n += n;
    return out;
}

void nf__missing(struct nf_features *f, int id, const char *reason)
{
    nf__result *r = &f->res[id];
    r->vals = NULL;
    r->n = 0;
    r->missing = 1;
    r->reason = reason;
}

void nf__put1(struct nf_features *f, int id, double x, const char *why_not_finite)
{
    if (isfinite(x))
        *nf__put(f, id, 1) = x;
    else
        nf__missing(f, id, why_not_finite);
}

void nf__put_vec(struct nf_features *f, int id, const double *x, int64_t n, const char *why_empty)
{
    int64_t m = 0;
    for (int64_t k = 0; k < n; k++) m += isfinite(x[k]) != 0;
    if (m == 0) {
        nf__missing(f, id, n ? "no value is finite (degenerate trace)" : why_empty);
        return;
    }
    double *out = nf__put(f, id, m);
    for (int64_t k = 0, j = 0; k < n; k++)
        if (isfinite(x[k])) out[j++] = x[k];
}

int nf__need(struct nf_features *f, int out, int id)
{
    if (!f->res[id].missing) return 1;
    nf__missing(f, out, f->res[id].reason);
    return 0;
}

/* ---- numerics --------------------------------------------------------------------- */

int64_t nf__first_ge(const double *t, int64_t a, int64_t b, double x)
{
    /* t is increasing (repeats allowed): binary search */
    int64_t lo = a, hi = b;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (t[mid] >= x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

int64_t nf__first_min(const double *v, int64_t a, int64_t b)
{
    if (a >= b) return b;
    int64_t lowest = a, run_min = a;
    int count = 0;
    for (int64_t k = a + 1; k < b; k++) {
        if (v[k] < v[lowest]) lowest = k;
        if (v[k] >= v[run_min]) {
            count++;
        } else {
            count = 0;
            run_min = k;
        }
        if (count == 2) return run_min;
    }
    return lowest;
}

int64_t nf__argmin(const double *v, int64_t a, int64_t b)
{
    if (a >= b) return b;
    int64_t best = a;
    for (int64_t k = a + 1; k < b; k++)
        if (v[k] < v[best]) best = k;
    return best;
}

int64_t nf__argmax(const double *v, int64_t a, int64_t b)
{
    if (a >= b) return b;
    int64_t best = a;
    for (int64_t k = a + 1; k < b; k++)
        if (v[k] > v[best]) best = k;
    return best;
}

double nf__mean(const double *v, int64_t a, int64_t b)
{
    if (b <= a) return NAN;
    double s = 0;
    for (int64_t k = a; k < b; k++) s += v[k];
    return s / (double)(b - a);
}

double nf__median(double *v, int64_t n)
{
    if (n <= 0) return NAN;
    double hi = nf__kth_d(v, n, n / 2);
    if (n % 2) return hi;
    /* the lower middle value is the largest of the lower half */
    double lo = v[0];
    for (int64_t k = 1; k < n / 2; k++)
        if (v[k] > lo) lo = v[k];
    return (lo + hi) / 2;
}

double nf__line_slope(const double *x, const double *y, int64_t n, double *rss_norm)
{
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (int64_t k = 0; k < n; k++) {
        sx += x[k];
        sy += y[k];
        sxx += x[k] * x[k];
        sxy += x[k] * y[k];
    }
    double dn = (double)n, delta = dn * sxx - sx * sx;
    double slope = (dn * sxy - sx * sy) / delta;
    if (rss_norm) {
        double icpt = (sy - slope * sx) / dn, rss = 0, lo = y[0], hi = y[0];
        for (int64_t k = 0; k < n; k++) {
            double r = y[k] - icpt - slope * x[k];
            rss += r * r;
            if (y[k] < lo) lo = y[k];
            if (y[k] > hi) hi = y[k];
        }
        *rss_norm = rss / ((hi - lo) * (hi - lo));
    }
    return slope;
}

void nf__time_window(const double *t, int64_t n, double t0, double t1, double prec, int64_t *a, int64_t *b)
{
    int64_t lo = nf__first_ge(t, 0, n, t0);
    *a = lo == n ? 0 : lo;
    *b = n;
    for (int64_t k = n - 1; k > 0; k--)
        if (t[k] - t1 < prec) {
            *b = k + 1;
            break;
        }
}
