/* .npy arrays as recordings: a 1-D array is V [mV] sampled every
 * options.dt_ms; a 2-D array [n_samples][n_columns] is a table whose columns
 * are named as for text (options.columns; default "t V" for two columns), or
 * with options.npy_rows_are_sweeps [n_sweeps][n_samples] of V, a sweep a row.
 * Header parsing and size checks are those of nf_npy_read (src/core/npy.c). */
#include "rec_internal.h"

#include "neurofit/npy.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double npy_at(const void *d, nf_dtype t, size_t k)
{
    switch (t) {
    case NF_DT_F32: return ((const float *)d)[k];
    case NF_DT_F64: return ((const double *)d)[k];
    case NF_DT_I32: return ((const int32_t *)d)[k];
    case NF_DT_I64: return (double)((const int64_t *)d)[k];
    case NF_DT_U8:
    case NF_DT_BOOL: return ((const uint8_t *)d)[k];
    }
    return 0;
}

/* [sweeps][samples] of V [mV] every dt_ms: one sweep per row. */
static nf_status npy_rows(const char *path, const void *data, nf_dtype type, int64_t rows, int64_t n, double dt_ms,
                          nf_recording **rec)
{
    if (!(dt_ms > 0) || !isfinite(dt_ms))
        return nf__fail(NF_EINVAL, "%s: rows of V (shape (%lld, %lld)) and no time step: give dt (--dt MS)", path,
                        (long long)rows, (long long)n);
    if (rows > INT_MAX) return nf__fail(NF_ERANGE, "%s: %lld rows (sweeps)", path, (long long)rows);
    nf_status s = nf__rec_new(path, NF_FORMAT_NPY, rec);
    if (!s) s = nf__rec_sweeps(*rec, (int)rows);
    for (int64_t r = 0; r < rows && !s; r++) {
        nf_sweep *sw = &(*rec)->sweeps[r];
        if ((s = nf__sweep_alloc(*rec, sw, n, 0))) break;
        nf__sweep_grid(sw, dt_ms);
        for (int64_t j = 0; j < n; j++) sw->v[j] = npy_at(data, type, (size_t)(r * n + j));
        sw->i_source = NF_CURRENT_NONE;
    }
    if (s) return s;
    nf_recording *R = *rec;
    R->rate_hz = 1e3 / dt_ms;
    R->n_channels = 1;
    snprintf(R->channels[0].name, sizeof R->channels[0].name, "V (rows)");
    snprintf(R->channels[0].unit, sizeof R->channels[0].unit, "mV");
    snprintf(R->i_origin, sizeof R->i_origin, "none");
    snprintf(R->format_detail, sizeof R->format_detail, "npy, shape (%lld, %lld), a sweep per row", (long long)rows,
             (long long)n);
    return NF_OK;
}

nf_status nf__npy_open(const char *path, const nf_recording_options *o, nf_recording **rec)
{
    *rec = NULL;
    void *data = NULL;
    nf_dtype type;
    int ndim = 0;
    int64_t shape[2];
    nf_status s = nf_npy_read(path, &data, &type, &ndim, shape, 2);
    if (s) return s;
    int64_t n = ndim >= 1 ? shape[0] : 0, k = ndim == 2 ? shape[1] : 1;
    double *col[3] = {NULL, NULL, NULL};
    nf__colmap m;
    if (ndim < 1 || n <= 0 || k <= 0) {
        s = nf__fail(NF_EFORMAT, "%s: empty array (need [samples] or [samples][columns])", path);
        goto done;
    }
    if (ndim == 2 && o->npy_rows_are_sweeps && !o->columns) {
        s = npy_rows(path, data, type, n, k, o->dt_ms, rec);
        goto done;
    }
    if (o->columns)
        s = nf__colmap_parse(path, o->columns, 1, &m);
    else
        s = nf__colmap_default(path, (int)(k > 4096 ? 4096 : k), o->dt_ms, &m);
    if (s) goto done;
    if (m.n_named > k) {
        s = nf__fail(NF_EINVAL, "%s: columns name %d columns but the array has %lld", path, m.n_named, (long long)k);
        goto done;
    }
    if (m.t < 0 && !(o->dt_ms > 0)) {
        s = nf__fail(NF_EINVAL, "%s: no time column and no time step: give dt (--dt MS)", path);
        goto done;
    }
    const int idx[3] = {m.t, m.v, m.i};
    for (int c = 0; c < 3; c++) {
        if (idx[c] < 0) continue;
        if (!(col[c] = nf__malloc_array((size_t)n, sizeof(double)))) {
            s = nf__fail(NF_ENOMEM, "%s: out of memory", path);
            goto done;
        }
        for (int64_t j = 0; j < n; j++) col[c][j] = npy_at(data, type, (size_t)(j * k + idx[c]));
    }
    s = nf__rec_from_columns(path, NF_FORMAT_NPY, &m, col[0], col[1], col[2], n, o->dt_ms, rec);
    if (!s)
        snprintf((*rec)->format_detail, sizeof (*rec)->format_detail, "npy, shape (%lld, %lld)", (long long)n,
                 (long long)k);
done:
    free(data);
    for (int c = 0; c < 3; c++) free(col[c]);
    if (s) {
        nf_recording_destroy(*rec);
        *rec = NULL;
    }
    return s;
}
