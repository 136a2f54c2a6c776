/* The simple feature set of the Python auto-fit module (simple_spike_times,
 * simple_spike_count, simple_mean_isi, simple_cv_isi, simple_firing_rate,
 * simple_v_rest, simple_v_max, simple_v_min, simple_ap_height,
 * simple_ap_width: the module's names with a prefix, since eFEL uses
 * spike_count for its own), on the samples as given. Differences from that module,
 * on purpose: firing_rate is in Hz (it divided by a duration in ms), ap_width
 * measures the first spike (its loop started on the sample below threshold and
 * always gave 0), and what cannot be computed is missing instead of 0. */
#include "features/features_internal.h"
#include "features/spikes.h"

#include <math.h>

void nf__simple_features(struct nf_features *f, const double *t, const double *v, int64_t n)
{
    double thr = f->o.threshold_mV;
    double dt = (t[n - 1] - t[0]) / (double)(n - 1); /* mean sample interval, ms */

    /* spikes: upward crossings, at the time of the last sample not above thr */
    int64_t *up = f->iw;
    int64_t ns = nf__spk_rising(v, n, thr, up);
    *nf__put(f, NF__F_SIMPLE_SPIKE_COUNT, 1) = (double)ns;
    *nf__put(f, NF__F_SIMPLE_FIRING_RATE, 1) = (double)ns / ((double)n * dt) * 1000.0;
    if (ns == 0) {
        nf__missing(f, NF__F_SIMPLE_SPIKE_TIMES, "no threshold crossing");
        nf__missing(f, NF__F_SIMPLE_AP_WIDTH, "no threshold crossing");
    } else {
        double *st = nf__put(f, NF__F_SIMPLE_SPIKE_TIMES, ns);
        for (int64_t s = 0; s < ns; s++) st[s] = t[up[s]];
        /* ap_width: how long the first spike stays above threshold */
        int64_t above = 0;
        for (int64_t k = up[0] + 1; k < n && v[k] > thr; k++) above++;
        *nf__put(f, NF__F_SIMPLE_AP_WIDTH, 1) = (double)above * dt;
    }
    if (ns < 2) {
        nf__missing(f, NF__F_SIMPLE_MEAN_ISI, "needs at least 2 threshold crossings");
        nf__missing(f, NF__F_SIMPLE_CV_ISI, "needs at least 2 threshold crossings");
    } else {
        nf__spikes train = nf__spikes_d(nf__res(f, NF__F_SIMPLE_SPIKE_TIMES)->vals, ns);
        double mean = nf__spk_mean_isi(&train, 0, ns);
        *nf__put(f, NF__F_SIMPLE_MEAN_ISI, 1) = mean;
        /* population sd (ddof 0), as numpy.std */
        *nf__put(f, NF__F_SIMPLE_CV_ISI, 1) = nf__spk_isi_sd(&train, 0, ns, mean, 0) / mean;
    }

    /* v_rest: median of the samples not above threshold (v[0] when none) */
    double vmax = v[0], vmin = v[0], *sub = f->scratch;
    int64_t m = 0;
    for (int64_t k = 0; k < n; k++) {
        if (v[k] > vmax) vmax = v[k];
        if (v[k] < vmin) vmin = v[k];
        if (v[k] <= thr) sub[m++] = v[k];
    }
    double vrest = m > 0 ? nf__median(sub, m) : v[0];
    *nf__put(f, NF__F_SIMPLE_V_REST, 1) = vrest;
    *nf__put(f, NF__F_SIMPLE_V_MAX, 1) = vmax;
    *nf__put(f, NF__F_SIMPLE_V_MIN, 1) = vmin;
    *nf__put(f, NF__F_SIMPLE_AP_HEIGHT, 1) = vmax - vrest;
}
