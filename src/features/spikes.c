/* The spike-train layer: detection, times, intervals and their statistics
 * (see spikes.h for what each module calls). */
#include "features/spikes.h"
#include "sbi_summary.h"

#include "internal.h"

#include <math.h>
#include <stdlib.h>

/* ---- detection ------------------------------------------------------------ */

int64_t nf__spk_peaks(const double *v, int64_t n, double thr, int64_t *up, int64_t *peaks, const char **reason)
{
    int64_t n_up = 0, n_dn = 0;
    /* peaks[] first holds the downward crossings: peak s is written after
     * downward crossing s was read, so the list can be reused in place */
    int64_t *dn = peaks;
    for (int64_t k = 1; k < n; k++) {
        if (v[k] > thr && v[k - 1] < thr)
            up[n_up++] = k;
        else if (v[k] < thr && v[k - 1] > thr && n_up > 0) /* none before the first upward one */
            dn[n_dn++] = k;
    }
    *reason = NULL;
    if (n_up == 0 || n_dn == 0) {
        /* eFEL: no crossing in one direction is a failure; a trace that
         * starts above threshold and only comes down has no peak */
        *reason = n_up == 0 && n_dn == 0 ? "voltage never crosses the threshold"
                  : n_up == 0            ? "voltage never goes above the threshold"
                                         : "voltage never comes back below the threshold";
        return 0;
    }
    if (n_up > n_dn) n_up = n_dn; /* a last spike still above threshold at the end is dropped */
    for (int64_t s = 0; s < n_up; s++) {
        int64_t best = up[s], end = dn[s];
        for (int64_t k = up[s]; k <= end; k++)
            if (v[k] > v[best]) best = k;
        peaks[s] = best;
    }
    return n_up;
}

int64_t nf__spk_rising(const double *v, int64_t n, double thr, int64_t *idx)
{
    int64_t m = 0;
    for (int64_t k = 0; k + 1 < n; k++)
        if (v[k] <= thr && v[k + 1] > thr) idx[m++] = k;
    return m;
}

int64_t nf__spk_drops_f(const float *v, int64_t n, double drop_mV, int64_t *idx)
{
    int64_t m = 0;
    for (int64_t k = 1; k < n; k++)
        if (v[k] - v[k - 1] < -drop_mV && (m == 0 || k > idx[m - 1] + 1)) idx[m++] = k;
    return m;
}

nf_status nf__spk_detect(const nf__spk_detect_opts *o, const float *v, const float *i, int64_t n, double dt_ms,
                         float **times, int *n_times)
{
    const double thr = o->threshold_mV, low = o->threshold_mV - o->hysteresis_mV;
    const int resets = o->reset_drop_mV > 0 && i;
    const int64_t quiet = (int64_t)ceil(o->quiet_ms / dt_ms);
    int64_t busy_until = 0; /* falls at or before this sample belong to a spike already found */
    int cap = 16, m = 0;
    float *out = malloc(sizeof(float) * (size_t)cap);
    *times = NULL;
    *n_times = 0;
    if (!out) return nf__fail(NF_ENOMEM, "spike detection: out of memory");
    for (int64_t k = 1; k < n; k++) {
        double when;
        if (v[k - 1] < thr && v[k] >= thr) {
            double frac = (thr - v[k - 1]) / (v[k] - v[k - 1]);
            double t_cross = ((double)(k - 1) + frac) * dt_ms;
            int64_t peak = k;
            while (k + 1 < n && v[k + 1] >= low) {
                k++;
                if (v[k] > v[peak]) peak = k;
            }
            when = o->at_crossing ? t_cross : (double)peak * dt_ms;
            busy_until = k + 1 + quiet;
        } else if (resets && k > busy_until && v[k - 1] - v[k] >= o->reset_drop_mV && i[k] == i[k - 1]) {
            when = (double)(k - 1) * dt_ms;
            busy_until = k;
        } else {
            continue;
        }
        if (m == cap) {
            cap *= 2;
            float *grown = realloc(out, sizeof(float) * (size_t)cap);
            if (!grown) {
                free(out);
                return nf__fail(NF_ENOMEM, "spike detection: out of memory");
            }
            out = grown;
        }
        out[m++] = (float)when;
    }
    *times = out;
    *n_times = m;
    return NF_OK;
}

/* ---- times and intervals ------------------------------------------------------- */

double nf__spk_time(const nf__spikes *s, int64_t k)
{
    if (s->t) return s->t[k];
    if (s->tf) return s->tf[k];
    return (double)s->idx[k] * s->dt_ms;
}

double nf__spk_span(const nf__spikes *s, int64_t a, int64_t b)
{
    if (s->t) return s->t[b] - s->t[a];
    if (s->tf) return s->tf[b] - s->tf[a];
    return (double)(s->idx[b] - s->idx[a]) * s->dt_ms;
}

void nf__spk_window(const nf__spikes *s, double t0, double t1, int64_t *a, int64_t *b)
{
    int64_t lo = 0, hi = s->n;
    while (lo < s->n && nf__spk_time(s, lo) < t0) lo++;
    while (hi > lo && nf__spk_time(s, hi - 1) > t1) hi--;
    *a = lo;
    *b = hi;
}

/* ---- statistics ------------------------------------------------------------------- */

double nf__spk_mean_isi(const nf__spikes *s, int64_t a, int64_t b)
{
    if (b - a < 2) return NAN;
    return nf__spk_span(s, a, b - 1) / (double)(b - a - 1);
}

double nf__spk_isi_sd(const nf__spikes *s, int64_t a, int64_t b, double mean, int ddof)
{
    int64_t dof = b - a - 1 - ddof;
    if (dof <= 0) return NAN;
    double sum2 = 0;
    for (int64_t k = a + 1; k < b; k++) {
        double d = nf__spk_span(s, k - 1, k) - mean;
        sum2 += d * d;
    }
    return sqrt(sum2 / (double)dof);
}

double nf__spk_isi_cv(const nf__spikes *s, int64_t a, int64_t b)
{
    if (b - a < 3) return NAN;
    double sum = 0;
    for (int64_t k = a + 1; k < b; k++) sum += nf__spk_span(s, k - 1, k);
    double mean = sum / (double)(b - a - 1);
    if (!(mean > 0)) return NAN;
    return nf__spk_isi_sd(s, a, b, mean, 1) / mean;
}

double nf__spk_adaptation(const nf__spikes *s, int64_t a, int64_t b)
{
    double acc = 0;
    int64_t cnt = 0;
    for (int64_t k = a + 2; k < b; k++) {
        double i0 = nf__spk_span(s, k - 2, k - 1), i1 = nf__spk_span(s, k - 1, k);
        if (i0 + i1 > 0) {
            acc += (i1 - i0) / (i1 + i0);
            cnt++;
        }
    }
    return cnt ? acc / (double)cnt : NAN;
}

double nf__spk_mean_frequency(const nf__spikes *s, int64_t a, int64_t b, double t0)
{
    return 1000.0 * (double)(b - a) / (nf__spk_time(s, b - 1) - t0);
}

/* ---- trace summaries ------------------------------------------------------------- */

void nf__trace_mean_sd_f(const float *v, int64_t n, double *mean, double *sd)
{
    nf__mean_sd_strided(v, 1, n, mean, sd); /* the device's too (kernels/sbi_summary.h) */
}
