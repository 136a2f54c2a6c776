/* Igor Pro binary waves (.ibw), versions 2 and 5, either byte order
 * (WaveMetrics Technical Note 003).
 *
 * v2: BinHeader2 (16 bytes) + WaveHeader2 (110 bytes before wData); the
 *     checksum (16-bit sum) covers the first 142 bytes.
 * v5: BinHeader5 (64 bytes) + WaveHeader5 (320 bytes); the checksum covers
 *     those 384 bytes. Extended data/x units follow data, formula and note.
 * The byte order is that in which the version field reads 2 or 5.
 * One 1-D numeric wave per file: x = x0 + k dx (dimension units "s" or empty:
 * seconds, as Igor stores time). A voltage wave can be paired with a current
 * wave of the same length and step (BluePyEfe's _Ch3_/_Ch0_ naming). */
#include "rec_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int version;
    int64_t n;
    int type;
    size_t data_off;
    double dx, x0;
    char dunit[16], xunit[16];
    char name[NF_REC_NAME];
    nf__bytes b;
} ibw_wave;

static size_t ibw_type_size(int type)
{
    switch (type & ~0x40) {
    case 0x02: return 4; /* float32 */
    case 0x04: return 8; /* float64 */
    case 0x08: return 1; /* int8 */
    case 0x10: return 2; /* int16 */
    case 0x20: return 4; /* int32 */
    }
    return 0;
}

static double ibw_sample(const ibw_wave *w, int64_t k)
{
    size_t at = w->data_off + (size_t)k * ibw_type_size(w->type);
    int u = w->type & 0x40;
    switch (w->type & ~0x40) {
    case 0x02: return nf__f32(&w->b, at);
    case 0x04: return nf__f64(&w->b, at);
    case 0x08: return u ? (double)w->b.p[at] : (double)(int8_t)w->b.p[at];
    case 0x10: return u ? (double)nf__u16(&w->b, at) : (double)nf__i16(&w->b, at);
    case 0x20: return u ? (double)nf__u32(&w->b, at) : (double)nf__i32(&w->b, at);
    }
    return NAN;
}

/* The extended unit string of v5 (dataEUnits or dimEUnits[0]) when the short
 * field is empty; off is where that block starts. */
static void ibw_eunit(const nf__bytes *b, uint64_t off, int32_t len, char *dst, size_t cap)
{
    if (len > 0 && nf__has(b, off, (uint64_t)len)) nf__field_str(dst, cap, b->p + off, (size_t)len);
}

static nf_status ibw_wave_parse(const char *path, const uint8_t *p, size_t n, ibw_wave *w)
{
    memset(w, 0, sizeof *w);
    w->b = (nf__bytes){p, n, 0};
    if (n < 2) return nf__fail(NF_EFORMAT, "%s: not an Igor binary wave (%zu bytes)", path, n);
    int v = nf__u16(&w->b, 0);
    if (v != 2 && v != 5) {
        w->b.be = 1;
        v = nf__u16(&w->b, 0);
    }
    if (v != 2 && v != 5)
        return nf__fail(NF_EFORMAT, "%s: not an Igor binary wave of version 2 or 5 (version field %02x %02x)", path, p[0], p[1]);
    w->version = v;
    size_t hdr = v == 2 ? 142 : 384; /* bytes under the checksum */
    if (n < hdr) return nf__fail(NF_EFORMAT, "%s: IBW v%d header truncated (%zu bytes)", path, v, n);
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
    uint16_t sum = 0;
    for (size_t k = 0; k < hdr; k += 2) sum = (uint16_t)(sum + nf__u16(&w->b, k));
    if (sum != 0) return nf__fail(NF_EFORMAT, "%s: IBW header checksum mismatch (corrupt file)", path);
#endif
    const nf__bytes *b = &w->b;
    if (v == 2) {
        w->type = nf__i16(b, 16);
        nf__field_str(w->name, sizeof w->name, p + 22, 20);
        nf__field_str(w->dunit, sizeof w->dunit, p + 50, 4);
        nf__field_str(w->xunit, sizeof w->xunit, p + 54, 4);
        w->n = nf__i32(b, 58);
        w->dx = nf__f64(b, 64);
        w->x0 = nf__f64(b, 72);
        w->data_off = 126;
    } else {
        w->n = nf__i32(b, 64 + 12);
        w->type = nf__i16(b, 64 + 16);
        nf__field_str(w->name, sizeof w->name, p + 64 + 28, 32);
        if (nf__i32(b, 64 + 72) > 0)
            return nf__fail(NF_EFORMAT, "%s: wave '%s' has %d columns; only 1-D waves hold a trace", path, w->name,
                            nf__i32(b, 64 + 72));
        w->dx = nf__f64(b, 64 + 84);
        w->x0 = nf__f64(b, 64 + 116);
        nf__field_str(w->dunit, sizeof w->dunit, p + 64 + 148, 4);
        nf__field_str(w->xunit, sizeof w->xunit, p + 64 + 152, 4);
        w->data_off = 384;
    }
    size_t es = ibw_type_size(w->type);
    if (es == 0 || (w->type & 1))
        return nf__fail(NF_EFORMAT, "%s: wave type 0x%x is not a real numeric wave", path, (unsigned)w->type);
    if (w->n <= 0) return nf__fail(NF_EFORMAT, "%s: wave '%s' has %lld points", path, w->name, (long long)w->n);
    if ((uint64_t)w->n > n / es || !nf__has(b, w->data_off, (uint64_t)w->n * es))
        return nf__fail(NF_EFORMAT, "%s: wave '%s' claims %lld points but the file ends first (truncated?)", path,
                        w->name, (long long)w->n);
    if (!isfinite(w->dx) || !(w->dx > 0) || !isfinite(w->x0))
        return nf__fail(NF_EFORMAT, "%s: wave '%s' has x step %g (need a finite step > 0)", path, w->name, w->dx);
    if (v == 5 && (!w->dunit[0] || !w->xunit[0])) {
        /* Extended units follow data, formula and note. */
        uint64_t off = w->data_off + (uint64_t)w->n * es + (uint32_t)nf__i32(b, 8) + (uint32_t)nf__i32(b, 12);
        int32_t du = nf__i32(b, 16), xu = nf__i32(b, 20);
        if (!w->dunit[0]) ibw_eunit(b, off, du, w->dunit, sizeof w->dunit);
        if (!w->xunit[0] && du >= 0) ibw_eunit(b, off + (uint64_t)du, xu, w->xunit, sizeof w->xunit);
    }
    return NF_OK;
}

static int ibw_is_current(const ibw_wave *w)
{
    double sc;
    return w->dunit[0] && !nf__unit_i("", "", w->dunit, &sc);
}

nf_status nf__ibw_parse(const char *path, const uint8_t *data, size_t n, const uint8_t *cur, size_t ncur,
                        const char *cur_path, nf_recording **rec)
{
    *rec = NULL;
    ibw_wave v, c;
    nf_status s = ibw_wave_parse(path, data, n, &v);
    if (s) return s;
    if (ibw_is_current(&v))
        return nf__fail(NF_EFORMAT, "%s: wave '%s' holds a current (%s); open the voltage wave (e.g. the _Ch3_ file)", path,
                        v.name, v.dunit);
    double vs, ts, cs = 1;
    if ((s = nf__unit_v(path, v.name, v.dunit, &vs))) return s;
    if ((s = nf__unit_t(path, "x", v.xunit, &ts))) return s;
    if (!v.xunit[0]) ts = 1e3; /* Igor's time unit is the second */
    if (cur) {
        if ((s = ibw_wave_parse(cur_path, cur, ncur, &c))) return s;
        if ((s = nf__unit_i(cur_path, c.name, c.dunit, &cs))) return s;
        if (c.n != v.n)
            return nf__fail(NF_EFORMAT, "%s: sweep 0: V has %lld samples but I (%s) has %lld", path, (long long)v.n,
                            cur_path, (long long)c.n);
        if (fabs(c.dx - v.dx) > 1e-9 * v.dx)
            return nf__fail(NF_EFORMAT, "%s: sweep 0: V step %g differs from I step %g (%s)", path, v.dx, c.dx, cur_path);
    }
    if ((s = nf__rec_new(path, NF_FORMAT_IBW, rec))) return s;
    nf_recording *r = *rec;
    snprintf(r->format_detail, sizeof r->format_detail, "IBW v%d (%s-endian)", v.version, v.b.be ? "big" : "little");
    r->rate_hz = 1e3 / (v.dx * ts);
    r->n_channels = cur ? 2 : 1;
    snprintf(r->channels[0].name, sizeof r->channels[0].name, "%s", v.name);
    snprintf(r->channels[0].unit, sizeof r->channels[0].unit, "%s", v.dunit);
    if (cur) {
        snprintf(r->channels[1].name, sizeof r->channels[1].name, "%s", c.name);
        snprintf(r->channels[1].unit, sizeof r->channels[1].unit, "%s", c.dunit);
        r->i_channel = 1;
        snprintf(r->i_origin, sizeof r->i_origin, "wave %.48s", c.name);
    } else {
        snprintf(r->i_origin, sizeof r->i_origin, "none");
    }
    if ((s = nf__rec_sweeps(r, 1))) return s;
    nf_sweep *sw = &r->sweeps[0];
    if ((s = nf__sweep_alloc(r, sw, v.n, cur != NULL))) return s;
    nf__sweep_grid(sw, v.dx * ts);
    sw->start_ms = v.x0 * ts;
    for (int64_t k = 0; k < v.n; k++) sw->v[k] = ibw_sample(&v, k) * vs;
    if (cur)
        for (int64_t k = 0; k < v.n; k++) sw->i[k] = ibw_sample(&c, k) * cs;
    sw->i_source = cur ? NF_CURRENT_RECORDED : NF_CURRENT_NONE;
    return NF_OK;
}
