/* Scores for ranking simulated traces against recordings: see neurofit/score.h. */
#include "neurofit/score.h"

#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

double nf_score_nrmse(double sse, int64_t n, double target_sd)
{
    if (!(n > 0) || !isfinite(sse) || sse < 0)
        return INFINITY;
    double rmse = sqrt(sse / (double)n);
    return target_sd > 0 && isfinite(target_sd) ? rmse / target_sd : rmse;
}

int nf_score_coincidences(const float *t_data, int n_data, const float *t_model, int n_model,
                          double window_ms)
{
    /* Greedy in time order: each data spike takes the earliest unused model
     * spike inside its window. For points on a line with one window width this
     * maximises the number of disjoint pairs. */
    int matched = 0, j = 0;
    for (int i = 0; i < n_data; i++) {
        double t = t_data[i];
        while (j < n_model && t_model[j] < t - window_ms)
            j++;
        if (j < n_model && t_model[j] <= t + window_ms) {
            matched++;
            j++;
        }
    }
    return matched;
}

double nf_score_gamma(const float *t_data, int n_data, const float *t_model, int n_model,
                      double duration_ms, double window_ms)
{
    if (!(duration_ms > 0) || !(window_ms > 0) || n_data < 0 || n_model < 0)
        return NAN;
    if (n_data == 0 && n_model == 0)
        return 1.0;
    double rate = n_model / duration_ms;           /* model rate, spikes per ms */
    double norm = 1.0 - 2.0 * rate * window_ms;     /* 1 - 2 nu Delta */
    if (!(norm > 0))
        return 0.0; /* the model fires so often that every spike coincides by chance */
    double chance = 2.0 * rate * window_ms * n_data;
    int coinc = nf_score_coincidences(t_data, n_data, t_model, n_model, window_ms);
    return (coinc - chance) / (0.5 * (n_data + n_model)) / norm;
}

double nf_score_features(const double *f_target, const uint8_t *has_target, const double *f_model,
                         const uint8_t *has_model, const double *sigma, int n, double penalty,
                         int *n_used)
{
    double sum = 0.0;
    int used = 0;
    for (int i = 0; i < n; i++) {
        if (!has_target[i] || !isfinite(f_target[i]))
            continue;
        used++;
        if (!has_model[i] || !isfinite(f_model[i]) || !(sigma[i] > 0))
            sum += penalty;
        else
            sum += fabs(f_model[i] - f_target[i]) / sigma[i];
    }
    if (n_used)
        *n_used = used;
    return sum;
}

nf_score_weights nf_score_weights_default(void)
{
    nf_score_weights w = {1.0, 1.0, 1.0};
    return w;
}

nf_status nf_score_weights_parse(const char *spec, nf_score_weights *w)
{
    if (!spec || !w)
        return nf__fail(NF_EINVAL, "weights: NULL argument");
    nf_score_weights out = *w;
    const char *p = spec;
    while (*p) {
        const char *eq = strchr(p, '=');
        const char *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        if (!eq || eq > end)
            return nf__fail(NF_EINVAL, "weights \"%s\": expected name=value at \"%.*s\"", spec,
                            (int)(end - p), p);
        size_t klen = (size_t)(eq - p);
        char *stop = NULL;
        errno = 0;
        double v = strtod(eq + 1, &stop);
        if (stop != end || errno || !isfinite(v) || v < 0)
            return nf__fail(NF_EINVAL, "weights \"%s\": \"%.*s\" is not a finite weight >= 0", spec,
                            (int)(end - eq - 1), eq + 1);
        if (klen == 4 && !strncmp(p, "rmse", 4))
            out.rmse = v;
        else if (klen == 8 && !strncmp(p, "features", 8))
            out.features = v;
        else if (klen == 6 && !strncmp(p, "spikes", 6))
            out.spikes = v;
        else
            return nf__fail(NF_EINVAL, "weights \"%s\": unknown term \"%.*s\" (known: rmse, features, spikes)",
                            spec, (int)klen, p);
        p = *end ? end + 1 : end;
    }
    *w = out;
    return NF_OK;
}

static double term(double weight, double value)
{
    if (weight == 0)
        return 0.0; /* a switched-off term never poisons the sum */
    return isfinite(value) ? weight * value : INFINITY;
}

double nf_score_combined(const nf_score_weights *w, double nrmse, double feature_error,
                         int n_features, double gamma)
{
    double fe = n_features > 0 ? feature_error / n_features : 0.0;
    double s = term(w->rmse, nrmse) + term(w->features, fe) + term(w->spikes, 1.0 - gamma);
    return isfinite(s) ? s : INFINITY;
}
