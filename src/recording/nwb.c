/* Neurodata Without Borders 2.x files through libhdf5 (1.10 API).
 *
 * Sweeps are the groups under /acquisition whose neurodata_type attribute is
 * "CurrentClampSeries"; their current is the "CurrentClampStimulusSeries"
 * under /stimulus/presentation with the same sweep_number attribute (or, when
 * the series carry no sweep numbers, the one at the same position in name
 * order). For each series (NWB schema, TimeSeries):
 *     value [data@unit] = data * data@conversion + data@offset
 *     t [s] = starting_time + k / starting_time@rate, or timestamps[k]
 * and units are converted to mV, pA and ms. Built without HDF5, opening an
 * NWB file fails with NF_EUNSUPPORTED. */
#include "rec_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef NF_HAVE_HDF5
nf_status nf__nwb_open(const char *path, const nf_recording_options *o, nf_recording **rec)
{
    (void)o;
    *rec = NULL;
    return nf__fail(NF_EUNSUPPORTED, "%s: this build has no HDF5, so cannot read NWB", path);
}
#else
#include <hdf5.h>

#define NWB_MAX_SERIES 100000

typedef struct {
    char name[NF_REC_NAME];
    int64_t sweep; /* sweep_number, -1 when absent */
} nwb_entry;

typedef struct {
    const char *type;
    nwb_entry *e;
    int n, cap;
    int too_many;
} nwb_list;

/* Read a string attribute (fixed or variable length) into dst. */
static int nwb_attr_str(hid_t obj, const char *name, char *dst, size_t cap)
{
    dst[0] = 0;
    if (H5Aexists(obj, name) <= 0) return 0;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return 0;
    hid_t ft = H5Aget_type(a), sp = H5Aget_space(a);
    int ok = 0;
    if (ft >= 0 && sp >= 0 && H5Tget_class(ft) == H5T_STRING && H5Sget_simple_extent_npoints(sp) == 1) {
        if (H5Tis_variable_str(ft) > 0) {
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, H5T_VARIABLE);
            char *s = NULL;
            if (H5Aread(a, mt, &s) >= 0 && s) {
                snprintf(dst, cap, "%s", s);
                ok = 1;
            }
            if (s) H5free_memory(s);
            H5Tclose(mt);
        } else {
            size_t sz = H5Tget_size(ft);
            if (sz > 0 && sz < 4096) {
                char *buf = calloc(1, sz + 1);
                hid_t mt = H5Tcopy(H5T_C_S1);
                H5Tset_size(mt, sz);
                if (buf && H5Aread(a, mt, buf) >= 0) {
                    snprintf(dst, cap, "%s", buf);
                    ok = 1;
                }
                H5Tclose(mt);
                free(buf);
            }
        }
    }
    if (ft >= 0) H5Tclose(ft);
    if (sp >= 0) H5Sclose(sp);
    H5Aclose(a);
    return ok;
}

/* Read a numeric scalar attribute; def when absent. */
static int nwb_attr_num(hid_t obj, const char *name, double def, double *out)
{
    *out = def;
    if (H5Aexists(obj, name) <= 0) return 1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return 0;
    hid_t ft = H5Aget_type(a), sp = H5Aget_space(a);
    int ok = ft >= 0 && sp >= 0 && (H5Tget_class(ft) == H5T_FLOAT || H5Tget_class(ft) == H5T_INTEGER) &&
             H5Sget_simple_extent_npoints(sp) == 1 && H5Aread(a, H5T_NATIVE_DOUBLE, out) >= 0;
    if (ft >= 0) H5Tclose(ft);
    if (sp >= 0) H5Sclose(sp);
    H5Aclose(a);
    return ok;
}

static herr_t nwb_visit(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    nwb_list *l = data;
    (void)info;
    if (H5Oexists_by_name(g, name, H5P_DEFAULT) <= 0) return 0;
    hid_t o = H5Oopen(g, name, H5P_DEFAULT);
    if (o < 0) return 0;
    char type[64];
    if (H5Iget_type(o) == H5I_GROUP && nwb_attr_str(o, "neurodata_type", type, sizeof type) && !strcmp(type, l->type)) {
        if (l->n == NWB_MAX_SERIES) {
            l->too_many = 1;
            H5Oclose(o);
            return 1;
        }
        if (l->n == l->cap) {
            int nc = l->cap ? 2 * l->cap : 16;
            nwb_entry *ne = realloc(l->e, (size_t)nc * sizeof *ne);
            if (!ne) {
                H5Oclose(o);
                return -1;
            }
            l->e = ne;
            l->cap = nc;
        }
        nwb_entry *e = &l->e[l->n++];
        snprintf(e->name, sizeof e->name, "%s", name);
        double sn;
        e->sweep = (H5Aexists(o, "sweep_number") > 0 && nwb_attr_num(o, "sweep_number", -1, &sn) && sn >= 0 && sn < 1e15)
                       ? (int64_t)sn : -1;
    }
    H5Oclose(o);
    return 0;
}

static nf_status nwb_list_group(const char *path, hid_t f, const char *group, nwb_list *l)
{
    /* H5Lexists needs every intermediate group to exist. */
    if (!strncmp(group, "/stimulus/", 10) && H5Lexists(f, "/stimulus", H5P_DEFAULT) <= 0) return NF_OK;
    if (H5Lexists(f, group, H5P_DEFAULT) <= 0) return NF_OK;
    hid_t g = H5Gopen2(f, group, H5P_DEFAULT);
    if (g < 0) return nf__fail(NF_EFORMAT, "%s: %s is not a group", path, group);
    hsize_t idx = 0;
    herr_t r = H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, nwb_visit, l);
    H5Gclose(g);
    if (l->too_many) return nf__fail(NF_ERANGE, "%s: more than %d series in %s", path, NWB_MAX_SERIES, group);
    if (r < 0) return nf__fail(NF_EFORMAT, "%s: cannot list %s (corrupt file?)", path, group);
    return NF_OK;
}

/* Read series group/name: values scaled to the target unit, times in ms. */
typedef struct {
    double *x, *t;
    int64_t n;
    double dt_ms, t0_ms;
    char unit[32];
} nwb_series;

static nf_status nwb_read_series(const char *path, hid_t f, const char *group, const char *name, int sweep,
                                 int is_current, uint64_t max_elems, nwb_series *s)
{
    memset(s, 0, sizeof *s);
    char full[512];
    snprintf(full, sizeof full, "%s/%s", group, name);
    hid_t g = H5Gopen2(f, full, H5P_DEFAULT);
    if (g < 0) return nf__fail(NF_EFORMAT, "%s: sweep %d: cannot open %s", path, sweep, full);
    nf_status st = NF_OK;
    hid_t d = -1, sp = -1, ts = -1, tsp = -1;
    if (H5Lexists(g, "data", H5P_DEFAULT) <= 0 || (d = H5Dopen2(g, "data", H5P_DEFAULT)) < 0) {
        st = nf__fail(NF_EFORMAT, "%s: sweep %d: %s has no data dataset", path, sweep, full);
        goto done;
    }
    sp = H5Dget_space(d);
    hsize_t dims[2] = {0, 0};
    int nd = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    if (nd != 1 || H5Sget_simple_extent_dims(sp, dims, NULL) != 1) {
        st = nf__fail(NF_EFORMAT, "%s: sweep %d: %s/data has %d dimensions (need 1)", path, sweep, full, nd);
        goto done;
    }
    hid_t dt = H5Dget_type(d);
    H5T_class_t cls = dt >= 0 ? H5Tget_class(dt) : H5T_NO_CLASS;
    if (dt >= 0) H5Tclose(dt);
    if (cls != H5T_FLOAT && cls != H5T_INTEGER) {
        st = nf__fail(NF_EFORMAT, "%s: sweep %d: %s/data is not numeric", path, sweep, full);
        goto done;
    }
    if (dims[0] == 0 || dims[0] > max_elems) {
        st = nf__fail(NF_EFORMAT, "%s: sweep %d: %s/data has %llu samples (file allows 1..%llu)", path, sweep, full,
                      (unsigned long long)dims[0], (unsigned long long)max_elems);
        goto done;
    }
    /* Storage must back the samples: no fill-value-only datasets, and no
     * more than gzip's ~1000x expansion from what is stored. */
    hsize_t stored = H5Dget_storage_size(d);
    if (stored == 0 || dims[0] / 1032 > stored) {
        st = nf__fail(NF_EFORMAT, "%s: sweep %d: %s/data declares %llu samples but stores %llu bytes", path, sweep,
                      full, (unsigned long long)dims[0], (unsigned long long)stored);
        goto done;
    }
    s->n = (int64_t)dims[0];
    s->x = nf__malloc_array((size_t)s->n, sizeof(double));
    if (!s->x) {
        st = nf__fail(NF_ENOMEM, "%s: sweep %d: out of memory", path, sweep);
        goto done;
    }
    if (H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, s->x) < 0) {
        st = nf__fail(NF_EFORMAT, "%s: sweep %d: cannot read %s/data (corrupt?)", path, sweep, full);
        goto done;
    }
    double conv, off, scale;
    if (!nwb_attr_num(d, "conversion", 1.0, &conv) || !nwb_attr_num(d, "offset", 0.0, &off) || !isfinite(conv) ||
        !isfinite(off)) {
        st = nf__fail(NF_EFORMAT, "%s: sweep %d: %s/data has a bad conversion or offset", path, sweep, full);
        goto done;
    }
    nwb_attr_str(d, "unit", s->unit, sizeof s->unit);
    if ((st = is_current ? nf__unit_i(path, full, s->unit, &scale) : nf__unit_v(path, full, s->unit, &scale)))
        goto done;
    if (!s->unit[0]) scale = is_current ? 1e12 : 1e3; /* NWB's units are SI */
    for (int64_t k = 0; k < s->n; k++) s->x[k] = (s->x[k] * conv + off) * scale;

    /* Time: starting_time + rate, or timestamps. */
    if (H5Lexists(g, "timestamps", H5P_DEFAULT) > 0) {
        hsize_t tdims[1] = {0};
        if ((ts = H5Dopen2(g, "timestamps", H5P_DEFAULT)) < 0 || (tsp = H5Dget_space(ts)) < 0 ||
            H5Sget_simple_extent_ndims(tsp) != 1 || H5Sget_simple_extent_dims(tsp, tdims, NULL) != 1 ||
            tdims[0] != dims[0]) {
            st = nf__fail(NF_EFORMAT, "%s: sweep %d: %s/timestamps has %llu entries for %lld samples", path, sweep,
                          full, (unsigned long long)tdims[0], (long long)s->n);
            goto done;
        }
        s->t = nf__malloc_array((size_t)s->n, sizeof(double));
        if (!s->t || H5Dread(ts, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, s->t) < 0) {
            st = nf__fail(NF_EFORMAT, "%s: sweep %d: cannot read %s/timestamps", path, sweep, full);
            goto done;
        }
        double tsc = 1e3;
        char tu[32];
        if (nwb_attr_str(ts, "unit", tu, sizeof tu) && (st = nf__unit_t(path, full, tu, &tsc))) goto done;
        if (!tu[0]) tsc = 1e3;
        for (int64_t k = 0; k < s->n; k++) s->t[k] *= tsc;
        s->t0_ms = s->t[0];
    } else if (H5Lexists(g, "starting_time", H5P_DEFAULT) > 0) {
        double t0 = 0, rate = 0;
        hsize_t one = 0;
        if ((ts = H5Dopen2(g, "starting_time", H5P_DEFAULT)) < 0 || (tsp = H5Dget_space(ts)) < 0 ||
            (one = (hsize_t)H5Sget_simple_extent_npoints(tsp)) != 1 ||
            H5Dread(ts, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &t0) < 0 ||
            !nwb_attr_num(ts, "rate", 0, &rate)) {
            st = nf__fail(NF_EFORMAT, "%s: sweep %d: %s/starting_time is not a scalar with a rate", path, sweep, full);
            goto done;
        }
        if (!(rate > 0) || !isfinite(rate) || !isfinite(t0)) {
            st = nf__fail(NF_EFORMAT, "%s: sweep %d: %s/starting_time rate %g Hz (need > 0)", path, sweep, full, rate);
            goto done;
        }
        s->dt_ms = 1e3 / rate;
        s->t0_ms = t0 * 1e3;
    } else {
        st = nf__fail(NF_EFORMAT, "%s: sweep %d: %s has neither starting_time nor timestamps", path, sweep, full);
    }
done:
    if (tsp >= 0) H5Sclose(tsp);
    if (ts >= 0) H5Dclose(ts);
    if (sp >= 0) H5Sclose(sp);
    if (d >= 0) H5Dclose(d);
    H5Gclose(g);
    return st;
}

static int nwb_by_sweep(const void *a, const void *b)
{
    const nwb_entry *x = a, *y = b;
    return (x->sweep > y->sweep) - (x->sweep < y->sweep);
}

static nf_status nwb_read(const char *path, hid_t f, uint64_t max_elems, nf_recording *r)
{
    uint64_t total = 0; /* samples over all series: hard links can repeat one dataset */
    nwb_list acq = {"CurrentClampSeries", NULL, 0, 0, 0}, stim = {"CurrentClampStimulusSeries", NULL, 0, 0, 0};
    nf_status s = nwb_list_group(path, f, "/acquisition", &acq);
    if (!s) s = nwb_list_group(path, f, "/stimulus/presentation", &stim);
    if (s) goto done;
    if (acq.n == 0) {
        s = nf__fail(NF_EFORMAT, "%s: no CurrentClampSeries under /acquisition", path);
        goto done;
    }
    int numbered = 1;
    for (int k = 0; k < acq.n; k++) numbered &= acq.e[k].sweep >= 0;
    for (int k = 0; k < stim.n; k++) numbered &= stim.e[k].sweep >= 0;
    if (numbered) {
        /* qsort must not see the NULL list of an empty group (fuzz finding) */
        if (acq.n > 1) qsort(acq.e, (size_t)acq.n, sizeof *acq.e, nwb_by_sweep);
        if (stim.n > 1) qsort(stim.e, (size_t)stim.n, sizeof *stim.e, nwb_by_sweep);
    } else if (stim.n && stim.n != acq.n) {
        s = nf__fail(NF_EFORMAT, "%s: %d CurrentClampSeries but %d stimulus series and no sweep numbers to pair them",
                     path, acq.n, stim.n);
        goto done;
    }
    if ((s = nf__rec_sweeps(r, acq.n))) goto done;
    snprintf(r->format_detail, sizeof r->format_detail, "NWB 2.x (HDF5)");
    int with_i = 0;
    for (int k = 0; k < acq.n; k++) {
        nf_sweep *sw = &r->sweeps[k];
        const nwb_entry *st = NULL;
        if (numbered) {
            for (int j = 0; j < stim.n && !st; j++)
                if (stim.e[j].sweep == acq.e[k].sweep) st = &stim.e[j];
        } else if (stim.n) {
            st = &stim.e[k];
        }
        nwb_series v, c = {0};
        if ((s = nwb_read_series(path, f, "/acquisition", acq.e[k].name, k, 0, max_elems, &v))) {
            free(v.x);
            free(v.t);
            goto done;
        }
        if (st && (s = nwb_read_series(path, f, "/stimulus/presentation", st->name, k, 1, max_elems, &c))) {
            free(v.x), free(v.t), free(c.x), free(c.t);
            goto done;
        }
        total += (uint64_t)v.n + (uint64_t)c.n;
        if (total > max_elems)
            s = nf__fail(NF_ERANGE, "%s: sweep %d: more samples in all than the file size allows (%llu)", path, k,
                         (unsigned long long)max_elems);
        else if (st && c.n != v.n)
            s = nf__fail(NF_EFORMAT, "%s: sweep %d: V (%s) has %lld samples but I (%s) has %lld", path, k,
                         acq.e[k].name, (long long)v.n, st->name, (long long)c.n);
        if (!s) s = nf__sweep_alloc(r, sw, v.n, st != NULL);
        if (!s) {
            memcpy(sw->v, v.x, (size_t)v.n * sizeof(double));
            if (st) memcpy(sw->i, c.x, (size_t)v.n * sizeof(double));
            if (v.t) {
                for (int64_t j = 0; j < v.n; j++) sw->t[j] = v.t[j] - v.t[0];
                nf__sweep_detect_dt(sw);
            } else {
                nf__sweep_grid(sw, v.dt_ms);
            }
            sw->start_ms = v.t0_ms;
            sw->index = numbered ? (int)acq.e[k].sweep : k;
            sw->i_source = st ? NF_CURRENT_RECORDED : NF_CURRENT_NONE;
            with_i |= st != NULL;
            if (k == 0) {
                r->rate_hz = sw->dt_ms > 0 ? 1e3 / sw->dt_ms : 0;
                r->n_channels = st ? 2 : 1;
                snprintf(r->channels[0].name, sizeof r->channels[0].name, "%s", acq.e[k].name);
                snprintf(r->channels[0].unit, sizeof r->channels[0].unit, "%.15s", v.unit);
                if (st) {
                    snprintf(r->channels[1].name, sizeof r->channels[1].name, "%s", st->name);
                    snprintf(r->channels[1].unit, sizeof r->channels[1].unit, "%.15s", c.unit);
                    r->i_channel = 1;
                }
            } else if (r->rate_hz > 0 && (!(sw->dt_ms > 0) || fabs(1e3 / sw->dt_ms - r->rate_hz) > 1e-6 * r->rate_hz)) {
                r->rate_hz = 0; /* sweeps differ: no single rate */
            }
        }
        free(v.x), free(v.t), free(c.x), free(c.t);
        if (s) goto done;
    }
    snprintf(r->i_origin, sizeof r->i_origin, with_i ? "/stimulus/presentation" : "none");
done:
    free(acq.e);
    free(stim.e);
    return s;
}

nf_status nf__nwb_open(const char *path, const nf_recording_options *o, nf_recording **rec)
{
    (void)o;
    *rec = NULL;
    struct stat stb;
    if (stat(path, &stb) != 0) return nf__fail(NF_EIO, "cannot open %s", path);
    /* Cheap pre-validation before libhdf5 sees the file: the signature at 0
     * (we do not accept user blocks) and room for a superblock. */
    FILE *fp = fopen(path, "rb");
    uint8_t sig[8] = {0};
    size_t got = fp ? fread(sig, 1, 8, fp) : 0;
    if (fp) fclose(fp);
    if (got != 8 || memcmp(sig, "\x89HDF\r\n\x1a\n", 8) != 0 || stb.st_size < 96)
        return nf__fail(NF_EFORMAT, "%s: not an HDF5/NWB file (bad signature or too short)", path);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* the library never prints */
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return nf__fail(NF_EFORMAT, "%s: libhdf5 cannot open it (corrupt or not HDF5)", path);
    nf_status s = nf__rec_new(path, NF_FORMAT_NWB, rec);
    /* Compressed data can exceed the file size; 1000x is gzip's ceiling. */
    uint64_t max_elems = (uint64_t)stb.st_size * 1000 / sizeof(double) + 1;
    if (!s) s = nwb_read(path, f, max_elems, *rec);
    H5Fclose(f);
    if (s) {
        nf_recording_destroy(*rec);
        *rec = NULL;
    }
    return s;
}
#endif
