/* What every recording reader shares (src/recording/rec_internal.h): float
 * loads from bytes, fixed string fields, recording and sweep allocation,
 * time grids, unit scales, the final validation, and freeing a recording.
 * Below the dispatcher (recording.c) and the readers; calls none of them. */
#include "rec_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

float nf__f32(const nf__bytes *b, size_t off)
{
    uint32_t u = nf__u32(b, off);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

double nf__f64(const nf__bytes *b, size_t off)
{
    uint64_t u = nf__u64(b, off);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

void nf__field_str(char *dst, size_t cap, const uint8_t *src, size_t len)
{
    size_t k = 0;
    for (size_t j = 0; j < len && src[j] && k + 1 < cap; j++)
        dst[k++] = (src[j] == 0xb5) ? 'u' : (isprint(src[j]) ? (char)src[j] : '?');
    while (k > 0 && dst[k - 1] == ' ') k--;
    dst[k] = 0;
}

nf_status nf__rec_new(const char *path, nf_format f, nf_recording **rec)
{
    nf_recording *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        free(r);
        return nf__fail(NF_ENOMEM, "%s: out of memory", path);
    }
    r->format = f;
    r->v_channel = 0;
    r->i_channel = -1;
    *rec = r;
    return NF_OK;
}

nf_status nf__rec_sweeps(nf_recording *rec, int n_sweeps)
{
    if (n_sweeps <= 0) return nf__fail(NF_EFORMAT, "%s: no sweeps", rec->path);
    rec->sweeps = nf__calloc((size_t)n_sweeps, sizeof *rec->sweeps);
    if (!rec->sweeps) return nf__fail(NF_ENOMEM, "%s: out of memory for %d sweeps", rec->path, n_sweeps);
    rec->n_sweeps = n_sweeps;
    for (int k = 0; k < n_sweeps; k++) rec->sweeps[k].index = k;
    return NF_OK;
}

nf_status nf__sweep_alloc(const nf_recording *rec, nf_sweep *s, int64_t n, int with_i)
{
    if (n <= 0) return nf__fail(NF_EFORMAT, "%s: sweep %d: no samples", rec->path, s->index);
    if ((uint64_t)n > SIZE_MAX / 8 / 3) return nf__fail(NF_ERANGE, "%s: sweep %d: %lld samples", rec->path, s->index, (long long)n);
    s->n = n;
    s->t = nf__malloc_array((size_t)n, sizeof(double));
    s->v = nf__malloc_array((size_t)n, sizeof(double));
    if (with_i) s->i = nf__malloc_array((size_t)n, sizeof(double));
    if (!s->t || !s->v || (with_i && !s->i))
        return nf__fail(NF_ENOMEM, "%s: sweep %d: out of memory for %lld samples", rec->path, s->index, (long long)n);
    return NF_OK;
}

void nf__sweep_grid(nf_sweep *s, double dt_ms)
{
    s->dt_ms = dt_ms;
    for (int64_t k = 0; k < s->n; k++) s->t[k] = (double)k * dt_ms;
}

void nf__sweep_detect_dt(nf_sweep *s)
{
    int64_t n = s->n;
    double dt = n > 1 ? (s->t[n - 1] - s->t[0]) / (double)(n - 1) : 0;
    int regular = n > 1 && dt > 0;
    for (int64_t k = 1; k < n && regular; k++)
        if (fabs(s->t[k] - s->t[k - 1] - dt) > 1e-3 * dt) regular = 0;
    s->dt_ms = regular ? dt : 0;
}

typedef struct {
    const char *name;
    double scale;
} nf__unit;

static nf_status nf__unit_find(const char *file, const char *what, const char *unit,
                               const nf__unit *tab, size_t n, const char *kind, double *scale)
{
    char u[32];
    size_t k = 0;
    for (const char *p = unit; *p && k + 1 < sizeof u; p++)
        if (!isspace((unsigned char)*p)) u[k++] = *p;
    u[k] = 0;
    for (size_t j = 0; j < n; j++)
        if (!strcasecmp(u, tab[j].name)) {
            *scale = tab[j].scale;
            return NF_OK;
        }
    return nf__fail(NF_EFORMAT, "%s: %s: unit '%s' is not a %s unit", file, what, unit, kind);
}

nf_status nf__unit_v(const char *file, const char *what, const char *unit, double *scale)
{
    static const nf__unit tab[] = {{"", 1},       {"mV", 1},    {"V", 1e3},    {"volt", 1e3},
                                   {"volts", 1e3}, {"uV", 1e-3}, {"microvolts", 1e-3},
                                   {"millivolts", 1}};
    return nf__unit_find(file, what, unit, tab, sizeof tab / sizeof tab[0], "voltage", scale);
}

nf_status nf__unit_i(const char *file, const char *what, const char *unit, double *scale)
{
    static const nf__unit tab[] = {{"", 1},         {"pA", 1},     {"nA", 1e3},   {"uA", 1e6},
                                   {"mA", 1e9},     {"A", 1e12},   {"amp", 1e12}, {"amps", 1e12},
                                   {"ampere", 1e12}, {"amperes", 1e12}, {"fA", 1e-3},
                                   {"picoamperes", 1}, {"nanoamperes", 1e3}};
    return nf__unit_find(file, what, unit, tab, sizeof tab / sizeof tab[0], "current", scale);
}

nf_status nf__unit_t(const char *file, const char *what, const char *unit, double *scale)
{
    static const nf__unit tab[] = {{"", 1},        {"ms", 1},      {"s", 1e3},
                                   {"sec", 1e3},   {"second", 1e3}, {"seconds", 1e3},
                                   {"us", 1e-3},   {"min", 6e4}};
    return nf__unit_find(file, what, unit, tab, sizeof tab / sizeof tab[0], "time", scale);
}

nf_status nf__rec_validate(const nf_recording *rec)
{
    if (rec->n_sweeps <= 0) return nf__fail(NF_EFORMAT, "%s: no sweeps", rec->path);
    for (int k = 0; k < rec->n_sweeps; k++) {
        const nf_sweep *s = &rec->sweeps[k];
        if (s->n <= 0) return nf__fail(NF_EFORMAT, "%s: sweep %d: no samples", rec->path, s->index);
        for (int64_t j = 0; j < s->n; j++) {
            if (!isfinite(s->v[j]))
                return nf__fail(NF_ENAN, "%s: sweep %d: V sample %lld is not finite", rec->path, s->index, (long long)j);
            if (s->i && !isfinite(s->i[j]))
                return nf__fail(NF_ENAN, "%s: sweep %d: I sample %lld is not finite", rec->path, s->index, (long long)j);
            if (!isfinite(s->t[j]))
                return nf__fail(NF_ENAN, "%s: sweep %d: time sample %lld is not finite", rec->path, s->index, (long long)j);
            if (j > 0 && !(s->t[j] >= s->t[j - 1]))
                return nf__fail(NF_EFORMAT, "%s: sweep %d: time goes back in time at sample %lld (%g ms after %g ms)",
                                rec->path, s->index, (long long)j, s->t[j], s->t[j - 1]);
        }
    }
    return NF_OK;
}

double nf_sweep_duration_ms(const nf_sweep *s)
{
    if (!s || s->n <= 0) return 0;
    double dt = s->dt_ms > 0 ? s->dt_ms : (s->n > 1 ? (s->t[s->n - 1] - s->t[0]) / (double)(s->n - 1) : 0);
    return s->t[s->n - 1] - s->t[0] + dt;
}

void nf_recording_destroy(nf_recording *rec)
{
    if (!rec) return;
    for (int k = 0; k < rec->n_sweeps; k++) {
        free(rec->sweeps[k].t);
        free(rec->sweeps[k].v);
        free(rec->sweeps[k].i);
        free(rec->sweeps[k].epochs);
    }
    free(rec->sweeps);
    free(rec->path);
    free(rec);
}

const char *nf_epoch_type_name(nf_epoch_type t)
{
    switch (t) {
    case NF_EPOCH_STEP: return "step";
    case NF_EPOCH_RAMP: return "ramp";
    case NF_EPOCH_PULSE: return "pulse";
    default: return "other";
    }
}
