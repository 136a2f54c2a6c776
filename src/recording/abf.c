/* Axon Binary Format, ABF1 (fixed header, versions 1.x) and ABF2 (section
 * map, versions 2.x), as written by Clampex and AxoScope.
 *
 * Written from the format's public description (Axon's ABF File Support Pack
 * header documentation); pyABF and neo were read to confirm field offsets.
 *
 * Layout: data are int16 (scaled by the header) or float32 (already in user
 * units), channels interleaved, sweeps consecutive. For int16 data, channel c
 * (physical ADC number p) reads
 *     value = raw * fADCRange / lADCResolution
 *             / (fInstrumentScaleFactor[p] * fSignalGain[p] * fADCProgrammableGain[p]
 *                * (fTelegraphAdditGain[p] if nTelegraphEnable[p]))
 *             + fInstrumentOffset[p] - fSignalOffset[p].
 * Sampling: ABF2 fADCSequenceInterval is the per-channel interval in us; ABF1
 * fADCSampleInterval is the interval between consecutive samples of any
 * channel, so the per-channel interval is that times the channel count.
 *
 * Command waveform: Clampex plays a holding period of sweep length / 64
 * samples, then the epochs of the active DAC (level = init + sweep * inc,
 * duration = init + sweep * inc samples), then holding to the end of the
 * sweep. nInterEpisodeLevel set means "use the last level" instead of holding,
 * for the tail and for the next sweep's first holding period. Steps, ramps
 * (linear from the previous level) and pulse trains are rebuilt; any other
 * epoch type leaves I un-rebuilt (NF_CURRENT_NONE) unless an ADC records it. */
#include "rec_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ABF_BLOCK 512
#define ABF_MAX_EPOCHS 50

typedef struct {
    int phys; /* ADC number */
    char name[NF_REC_NAME], unit[16];
    double gain, offset; /* user = raw * gain + offset */
} abf_adc;

typedef struct {
    int type;
    double level, level_inc;
    int64_t dur, dur_inc, period, width;
} abf_epoch_def;

typedef struct {
    const char *path;
    nf__bytes b;
    int major;
    char version[16];
    int op_mode, n_ch, fmt;
    int64_t total, sweep_len;
    int n_sweeps;
    uint64_t data_off;
    double interval_us, start_to_start_s;
    double adc_range, adc_res;
    abf_adc adc[NF_REC_MAX_CHANNELS];
    /* command DAC */
    int dac;              /* DAC number or -1 */
    char dac_name[NF_REC_NAME], dac_unit[16];
    double holding;
    int inter_level, wf_enable, wf_source;
    int n_epochs;
    abf_epoch_def ep[ABF_MAX_EPOCHS];
} abf_info;

static int abf_bad_f(double x) { return !isfinite(x); }

/* ---- ABF1 ------------------------------------------------------------------- */

static nf_status abf1_header(abf_info *a)
{
    const nf__bytes *b = &a->b;
    if (!nf__has(b, 0, 2048)) return nf__fail(NF_EFORMAT, "%s: ABF1 header truncated (%zu bytes)", a->path, b->n);
    float ver = nf__f32(b, 4);
    if (!(ver > 0.0f && ver < 2.0f)) return nf__fail(NF_EFORMAT, "%s: ABF1 version %g is not 1.x", a->path, ver);
    a->major = 1;
    snprintf(a->version, sizeof a->version, "%.2f", ver);
    int ext = ver >= 1.6f && nf__has(b, 0, 6144); /* extended 6 KiB header */
    a->op_mode = nf__i16(b, 8);
    a->total = nf__i32(b, 10);
    a->n_sweeps = nf__i32(b, 16);
    a->data_off = (uint64_t)(uint32_t)nf__i32(b, 40) * ABF_BLOCK;
    if (nf__i32(b, 40) < 0) return nf__fail(NF_EFORMAT, "%s: negative data section pointer", a->path);
    a->fmt = nf__i16(b, 100);
    a->n_ch = nf__i16(b, 120);
    if (a->n_ch < 1 || a->n_ch > 16) return nf__fail(NF_EFORMAT, "%s: %d ADC channels (need 1..16)", a->path, a->n_ch);
    a->interval_us = (double)nf__f32(b, 122) * a->n_ch;
    a->sweep_len = nf__i32(b, 138);
    a->adc_range = nf__f32(b, 244);
    a->adc_res = nf__i32(b, 252);
    a->start_to_start_s = 0;
    for (int c = 0; c < a->n_ch; c++) {
        int p = nf__i16(b, 410 + 2 * (size_t)c);
        if (p < 0 || p > 15) return nf__fail(NF_EFORMAT, "%s: ADC sampling sequence[%d] = %d", a->path, c, p);
        abf_adc *d = &a->adc[c];
        d->phys = p;
        nf__field_str(d->name, sizeof d->name, b->p + 442 + 10 * (size_t)p, 10);
        nf__field_str(d->unit, sizeof d->unit, b->p + 602 + 8 * (size_t)p, 8);
        double den = (double)nf__f32(b, 922 + 4 * (size_t)p) * nf__f32(b, 1050 + 4 * (size_t)p) *
                     nf__f32(b, 730 + 4 * (size_t)p);
        if (ext && nf__i16(b, 4512 + 2 * (size_t)p) == 1) den *= nf__f32(b, 4576 + 4 * (size_t)p);
        if (den == 0 || abf_bad_f(den))
            return nf__fail(NF_EFORMAT, "%s: ADC %d (%s): zero or non-finite gain", a->path, p, d->name);
        d->gain = a->adc_range / a->adc_res / den;
        d->offset = (double)nf__f32(b, 986 + 4 * (size_t)p) - nf__f32(b, 1114 + 4 * (size_t)p);
    }
    /* Command: the active DAC's epoch table (extended header: 2 DACs x 10 epochs). */
    a->dac = -1;
    int dac = nf__i16(b, 1440);
    if (ext && dac >= 0 && dac < 2) {
        a->dac = dac;
        nf__field_str(a->dac_name, sizeof a->dac_name, b->p + 1306 + 10 * (size_t)dac, 10);
        nf__field_str(a->dac_unit, sizeof a->dac_unit, b->p + 1346 + 8 * (size_t)dac, 8);
        a->holding = nf__f32(b, 1394 + 4 * (size_t)dac);
        a->wf_enable = nf__i16(b, 2296 + 2 * (size_t)dac);
        a->wf_source = nf__i16(b, 2300 + 2 * (size_t)dac);
        a->inter_level = nf__i16(b, 2304 + 2 * (size_t)dac);
        for (int e = 0; e < 10; e++) {
            size_t k = (size_t)dac * 10 + (size_t)e;
            abf_epoch_def *ep = &a->ep[a->n_epochs++];
            ep->type = nf__i16(b, 2308 + 2 * k);
            ep->level = nf__f32(b, 2348 + 4 * k);
            ep->level_inc = nf__f32(b, 2428 + 4 * k);
            ep->dur = nf__i32(b, 2508 + 4 * k);
            ep->dur_inc = nf__i32(b, 2588 + 4 * k);
            ep->period = ep->width = 0;
        }
    }
    return NF_OK;
}

/* ---- ABF2 ------------------------------------------------------------------- */

typedef struct {
    uint64_t off, bytes, count;
} abf_section;

/* Section i of the map at 76 + 16 i: block index, entry bytes, entry count.
 * The strings section (i = 9) is one block of `bytes` holding `count` strings. */
static nf_status abf2_section(abf_info *a, int i, const char *name, size_t min_bytes, abf_section *s)
{
    const nf__bytes *b = &a->b;
    size_t at = 76 + 16 * (size_t)i;
    s->off = (uint64_t)nf__u32(b, at) * ABF_BLOCK;
    s->bytes = nf__u32(b, at + 4);
    s->count = nf__u64(b, at + 8);
    if (s->count == 0) return NF_OK;
    if (s->bytes < min_bytes)
        return nf__fail(NF_EFORMAT, "%s: %s section entries of %llu bytes (need >= %zu)", a->path, name,
                        (unsigned long long)s->bytes, min_bytes);
    uint64_t span = i == 9 ? s->bytes : s->bytes * s->count;
    if (s->count > b->n || s->bytes > b->n || !nf__has(b, s->off, span))
        return nf__fail(NF_EFORMAT, "%s: %s section (%llu x %llu bytes at %llu) lies beyond the end of the file (truncated?)",
                        a->path, name, (unsigned long long)s->count, (unsigned long long)s->bytes,
                        (unsigned long long)s->off);
    return NF_OK;
}

/* The indexed strings: in the first strings entry, after its last "\0\0",
 * NUL-separated, index 1 is the first. */
static void abf2_string(const abf_info *a, const abf_section *str, int64_t idx, char *dst, size_t cap)
{
    dst[0] = 0;
    if (str->count == 0 || idx <= 0) return;
    const uint8_t *p = a->b.p + str->off;
    size_t n = (size_t)str->bytes, start = 0;
    for (size_t k = 0; k + 1 < n; k++)
        if (p[k] == 0 && p[k + 1] == 0) start = k + 2;
    if (start == 0) return;
    int64_t cur = 1;
    size_t k = start;
    while (k < n && cur < idx) {
        if (p[k] == 0) cur++;
        k++;
    }
    if (k >= n || cur != idx) return;
    nf__field_str(dst, cap, p + k, n - k);
}

static nf_status abf2_header(abf_info *a)
{
    const nf__bytes *b = &a->b;
    if (!nf__has(b, 0, 76 + 16 * 18)) return nf__fail(NF_EFORMAT, "%s: ABF2 header truncated (%zu bytes)", a->path, b->n);
    a->major = b->p[7];
    if (a->major != 2) return nf__fail(NF_EFORMAT, "%s: ABF2 file with version %d.x", a->path, a->major);
    snprintf(a->version, sizeof a->version, "%d.%d.%d.%d", b->p[7], b->p[6], b->p[5], b->p[4]);
    a->n_sweeps = (int)nf__u32(b, 12);
    if (nf__u32(b, 12) > INT32_MAX) return nf__fail(NF_EFORMAT, "%s: %u sweeps", a->path, nf__u32(b, 12));
    a->fmt = nf__i16(b, 30);

    abf_section prot, adc, dac, epd, str, data;
    nf_status s;
    if ((s = abf2_section(a, 0, "protocol", 128, &prot)) || (s = abf2_section(a, 1, "ADC", 82, &adc)) ||
        (s = abf2_section(a, 2, "DAC", 46, &dac)) || (s = abf2_section(a, 5, "epoch-per-DAC", 30, &epd)) ||
        (s = abf2_section(a, 9, "strings", 1, &str)) || (s = abf2_section(a, 10, "data", 1, &data)))
        return s;
    if (prot.count == 0) return nf__fail(NF_EFORMAT, "%s: no protocol section", a->path);
    size_t P = (size_t)prot.off;
    a->op_mode = nf__i16(b, P);
    a->interval_us = nf__f32(b, P + 2);
    a->sweep_len = nf__i32(b, P + 22);
    a->start_to_start_s = nf__f32(b, P + 62);
    a->adc_range = nf__f32(b, P + 110);
    a->adc_res = nf__i32(b, P + 118);
    int active_dac = prot.bytes >= 144 ? nf__i16(b, P + 142) : 0;

    a->n_ch = (int)adc.count;
    if (adc.count < 1 || adc.count > 16)
        return nf__fail(NF_EFORMAT, "%s: %llu ADC channels (need 1..16)", a->path, (unsigned long long)adc.count);
    for (int c = 0; c < a->n_ch; c++) {
        size_t o = (size_t)(adc.off + adc.bytes * (uint64_t)c);
        abf_adc *d = &a->adc[c];
        d->phys = nf__i16(b, o);
        abf2_string(a, &str, nf__i32(b, o + 74), d->name, sizeof d->name);
        abf2_string(a, &str, nf__i32(b, o + 78), d->unit, sizeof d->unit);
        double den = (double)nf__f32(b, o + 40) * nf__f32(b, o + 48) * nf__f32(b, o + 28);
        if (nf__i16(b, o + 2) == 1) den *= nf__f32(b, o + 6);
        if (den == 0 || abf_bad_f(den))
            return nf__fail(NF_EFORMAT, "%s: ADC %d (%s): zero or non-finite gain", a->path, d->phys, d->name);
        d->gain = a->adc_range / a->adc_res / den;
        d->offset = (double)nf__f32(b, o + 44) - nf__f32(b, o + 52);
    }
    a->total = (int64_t)data.count;
    a->data_off = data.off;
    if (data.count && data.bytes != (a->fmt == 1 ? 4u : 2u))
        return nf__fail(NF_EFORMAT, "%s: data section has %llu-byte samples but the header says %s", a->path,
                        (unsigned long long)data.bytes, a->fmt == 1 ? "float32" : "int16");

    /* The command DAC: the active one, read with its epochs. */
    a->dac = -1;
    for (uint64_t k = 0; k < dac.count; k++) {
        size_t o = (size_t)(dac.off + dac.bytes * k);
        if (nf__i16(b, o) != active_dac) continue;
        a->dac = active_dac;
        abf2_string(a, &str, nf__i32(b, o + 24), a->dac_name, sizeof a->dac_name);
        abf2_string(a, &str, nf__i32(b, o + 28), a->dac_unit, sizeof a->dac_unit);
        a->holding = nf__f32(b, o + 12);
        a->wf_enable = nf__i16(b, o + 40);
        a->wf_source = nf__i16(b, o + 42);
        a->inter_level = nf__i16(b, o + 44);
        break;
    }
    for (uint64_t k = 0; a->dac >= 0 && k < epd.count; k++) {
        size_t o = (size_t)(epd.off + epd.bytes * k);
        if (nf__i16(b, o + 2) != a->dac) continue;
        if (a->n_epochs == ABF_MAX_EPOCHS)
            return nf__fail(NF_EFORMAT, "%s: DAC %d has more than %d epochs", a->path, a->dac, ABF_MAX_EPOCHS);
        abf_epoch_def *ep = &a->ep[a->n_epochs++];
        ep->type = nf__i16(b, o + 4);
        ep->level = nf__f32(b, o + 6);
        ep->level_inc = nf__f32(b, o + 10);
        ep->dur = nf__i32(b, o + 14);
        ep->dur_inc = nf__i32(b, o + 18);
        ep->period = nf__i32(b, o + 22);
        ep->width = nf__i32(b, o + 26);
    }
    return NF_OK;
}

/* ---- common ---------------------------------------------------------------- */

static nf_status abf_check(abf_info *a)
{
    if (a->fmt != 0 && a->fmt != 1)
        return nf__fail(NF_EFORMAT, "%s: data format %d (need 0 = int16 or 1 = float32)", a->path, a->fmt);
    if (!(a->interval_us > 0.01 && a->interval_us < 1e8))
        return nf__fail(NF_EFORMAT, "%s: sample interval %g us is not plausible", a->path, a->interval_us);
    if (a->fmt == 0 && (!(a->adc_range > 0) || !(a->adc_res > 0) || abf_bad_f(a->adc_range)))
        return nf__fail(NF_EFORMAT, "%s: ADC range %g / resolution %g", a->path, a->adc_range, a->adc_res);
    if (a->total <= 0) return nf__fail(NF_EFORMAT, "%s: no samples", a->path);
    size_t ss = a->fmt == 1 ? 4 : 2;
    if ((uint64_t)a->total > a->b.n / ss || !nf__has(&a->b, a->data_off, (uint64_t)a->total * ss))
        return nf__fail(NF_EFORMAT, "%s: data section (%lld samples at byte %llu) runs past the end of the file (%zu bytes; truncated?)",
                        a->path, (long long)a->total, (unsigned long long)a->data_off, a->b.n);
    if (a->op_mode == 3) { /* gap-free: one sweep of everything */
        a->n_sweeps = 1;
        a->sweep_len = a->total;
    }
    if (a->n_sweeps <= 0) return nf__fail(NF_EFORMAT, "%s: %d sweeps", a->path, a->n_sweeps);
    if (a->sweep_len <= 0 || a->sweep_len % a->n_ch)
        return nf__fail(NF_EFORMAT, "%s: %lld samples per sweep is not a positive multiple of %d channels",
                        a->path, (long long)a->sweep_len, a->n_ch);
    if ((uint64_t)a->sweep_len * (uint64_t)a->n_sweeps > (uint64_t)a->total)
        return nf__fail(NF_EFORMAT, "%s: %d sweeps of %lld samples need more than the %lld in the file (truncated?)",
                        a->path, a->n_sweeps, (long long)a->sweep_len, (long long)a->total);
    a->sweep_len /= a->n_ch;
    return NF_OK;
}

static int abf_unit_is(const char *u, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(u, *list)) return 1;
    return 0;
}
static const char *const abf_v_units[] = {"mV", "V", "uV", NULL};
static const char *const abf_i_units[] = {"pA", "nA", "uA", "A", "fA", NULL};

static nf_status abf_pick(const abf_info *a, const nf_recording_options *o, int *vc, int *ic)
{
    *vc = -1;
    *ic = -1;
    for (int c = 0; c < a->n_ch; c++) {
        if (*vc < 0 && abf_unit_is(a->adc[c].unit, abf_v_units)) *vc = c;
        if (*ic < 0 && abf_unit_is(a->adc[c].unit, abf_i_units)) *ic = c;
    }
    if (o->v_channel >= 0) {
        if (o->v_channel >= a->n_ch)
            return nf__fail(NF_EINVAL, "%s: V channel %d requested, the file has %d", a->path, o->v_channel, a->n_ch);
        *vc = o->v_channel;
    }
    if (o->i_channel >= 0) {
        if (o->i_channel >= a->n_ch)
            return nf__fail(NF_EINVAL, "%s: I channel %d requested, the file has %d", a->path, o->i_channel, a->n_ch);
        *ic = o->i_channel;
    }
    if (*vc < 0)
        return nf__fail(NF_EFORMAT, "%s: no ADC channel records a voltage (units: %s%s%s...)", a->path,
                        a->adc[0].unit, a->n_ch > 1 ? ", " : "", a->n_ch > 1 ? a->adc[1].unit : "");
    return NF_OK;
}

/* Rebuild the command of sweep k into s->i (pA scale applied); sets epochs.
 * *last carries the level into the next sweep (nInterEpisodeLevel). Returns
 * 0 when the table holds an epoch type that is not rebuilt. */
static nf_status abf_command(const abf_info *a, const nf_recording *rec, nf_sweep *s, int k, double scale,
                             double *last, int *rebuilt)
{
    int64_t n = s->n, pos = n / 64;
    double level = *last;
    *rebuilt = 1;
    if (s->i)
        for (int64_t j = 0; j < (pos < n ? pos : n); j++) s->i[j] = level * scale;
    s->epochs = nf__calloc(ABF_MAX_EPOCHS, sizeof *s->epochs);
    if (!s->epochs) return nf__fail(NF_ENOMEM, "%s: out of memory", rec->path);
    double prev = level;
    for (int e = 0; e < a->n_epochs; e++) {
        const abf_epoch_def *d = &a->ep[e];
        if (d->type == 0) continue; /* off */
        int64_t dur = d->dur + d->dur_inc * (int64_t)k;
        if (dur < 0)
            return nf__fail(NF_EFORMAT, "%s: sweep %d: epoch %c has a negative duration (%lld samples)", rec->path, k,
                            'A' + e, (long long)dur);
        double lv = d->level + d->level_inc * k;
        int64_t p1 = pos < n ? pos : n, p2 = (dur > n - p1) ? n : p1 + dur;
        nf_epoch *ep = &s->epochs[s->n_epochs++];
        snprintf(ep->name, sizeof ep->name, "%c", 'A' + e % 26);
        ep->type = d->type == 1 ? NF_EPOCH_STEP : d->type == 2 ? NF_EPOCH_RAMP : d->type == 3 ? NF_EPOCH_PULSE : NF_EPOCH_OTHER;
        ep->first = p1;
        ep->end = p2;
        ep->start_ms = p1 * s->dt_ms;
        ep->end_ms = p2 * s->dt_ms;
        ep->level_pA = lv * scale;
        if (ep->type == NF_EPOCH_OTHER) *rebuilt = 0;
        if (s->i && *rebuilt) {
            for (int64_t j = p1; j < p2; j++) {
                double x = lv;
                if (ep->type == NF_EPOCH_RAMP) {
                    x = (p2 - p1 > 1) ? prev + (lv - prev) * (double)(j - p1) / (double)(p2 - p1 - 1) : lv;
                } else if (ep->type == NF_EPOCH_PULSE) {
                    int64_t r = d->period > 0 ? (j - p1) % d->period : 0;
                    x = (d->period > 0 && r < d->width) ? lv : prev;
                }
                s->i[j] = x * scale;
            }
        }
        prev = lv;
        pos = p2; /* clamped to the sweep: long tables cannot overflow */
        level = lv;
    }
    double tail = a->inter_level ? level : a->holding;
    if (s->i)
        for (int64_t j = pos < n ? pos : n; j < n; j++) s->i[j] = tail * scale;
    *last = tail;
    return NF_OK;
}

static nf_status abf_read(abf_info *a, const nf_recording_options *o, nf_recording *rec)
{
    int vc, ic;
    nf_status s = abf_pick(a, o, &vc, &ic);
    if (s) return s;
    if (o->current == NF_CURRENT_PROTOCOL) { /* the command from the epoch table, not the recorded current */
        if (o->i_channel >= 0)
            return nf__fail(NF_EINVAL, "%s: both a current channel (%d) and the protocol's current requested", a->path,
                            o->i_channel);
        ic = -1;
    }
    double vs, is = 1, cs = 1;
    if ((s = nf__unit_v(a->path, a->adc[vc].name, a->adc[vc].unit, &vs))) return s;
    if (ic >= 0 && (s = nf__unit_i(a->path, a->adc[ic].name, a->adc[ic].unit, &is))) return s;
    /* The protocol gives I when the DAC plays epochs in a current unit. */
    int proto = ic < 0 && a->dac >= 0 && a->wf_enable && a->wf_source == 1 && a->n_epochs > 0 &&
                abf_unit_is(a->dac_unit, abf_i_units) && !nf__unit_i(a->path, a->dac_name, a->dac_unit, &cs);
    int epochs = a->dac >= 0 && a->wf_enable && a->wf_source == 1 && a->n_epochs > 0;
    if (epochs && !proto && abf_unit_is(a->dac_unit, abf_i_units)) nf__unit_i(a->path, a->dac_name, a->dac_unit, &cs);

    rec->format = NF_FORMAT_ABF;
    snprintf(rec->format_detail, sizeof rec->format_detail, "ABF %s", a->version);
    rec->rate_hz = 1e6 / a->interval_us;
    rec->n_channels = a->n_ch;
    for (int c = 0; c < a->n_ch; c++) {
        snprintf(rec->channels[c].name, sizeof rec->channels[c].name, "%s", a->adc[c].name);
        snprintf(rec->channels[c].unit, sizeof rec->channels[c].unit, "%s", a->adc[c].unit);
    }
    rec->v_channel = vc;
    rec->i_channel = ic;
    if (ic >= 0)
        snprintf(rec->i_origin, sizeof rec->i_origin, "ADC %d (%.32s)", a->adc[ic].phys, a->adc[ic].name);
    else if (proto)
        snprintf(rec->i_origin, sizeof rec->i_origin, "protocol, DAC %d (%.32s)", a->dac, a->dac_name);
    else if (a->dac >= 0 && a->wf_enable && a->wf_source == 2) /* Clampex plays the file, not the epoch table */
        snprintf(rec->i_origin, sizeof rec->i_origin, "DAC %d plays a stimulus file, not read", a->dac);
    else
        snprintf(rec->i_origin, sizeof rec->i_origin, "none");
    if ((s = nf__rec_sweeps(rec, a->n_sweeps))) return s;

    double dt_ms = a->interval_us * 1e-3, last = a->holding;
    size_t ss = a->fmt == 1 ? 4 : 2;
    for (int k = 0; k < a->n_sweeps; k++) {
        nf_sweep *sw = &rec->sweeps[k];
        if ((s = nf__sweep_alloc(rec, sw, a->sweep_len, ic >= 0 || proto))) return s;
        nf__sweep_grid(sw, dt_ms);
        sw->start_ms = k * (a->start_to_start_s > 0 ? a->start_to_start_s * 1e3 : a->sweep_len * dt_ms);
        const uint8_t *base = a->b.p + a->data_off + (size_t)k * (size_t)a->sweep_len * (size_t)a->n_ch * ss;
        nf__bytes d = {base, (size_t)a->sweep_len * (size_t)a->n_ch * ss, 0};
        for (int64_t j = 0; j < a->sweep_len; j++) {
            size_t at = ((size_t)j * (size_t)a->n_ch + (size_t)vc) * ss;
            double raw = ss == 4 ? nf__f32(&d, at) : nf__i16(&d, at);
            sw->v[j] = (ss == 4 ? raw : raw * a->adc[vc].gain + a->adc[vc].offset) * vs;
            if (ic >= 0) {
                at = ((size_t)j * (size_t)a->n_ch + (size_t)ic) * ss;
                raw = ss == 4 ? nf__f32(&d, at) : nf__i16(&d, at);
                sw->i[j] = (ss == 4 ? raw : raw * a->adc[ic].gain + a->adc[ic].offset) * is;
            }
        }
        if (epochs) {
            int rebuilt = 1;
            nf_sweep tmp = *sw;
            if (!proto) tmp.i = NULL; /* epochs only: keep the recorded I */
            if ((s = abf_command(a, rec, &tmp, k, cs, &last, &rebuilt))) {
                sw->epochs = tmp.epochs;
                return s;
            }
            sw->epochs = tmp.epochs;
            sw->n_epochs = tmp.n_epochs;
            if (proto && !rebuilt) {
                free(sw->i);
                sw->i = NULL;
            }
        }
        sw->i_source = sw->i ? (ic >= 0 ? NF_CURRENT_RECORDED : NF_CURRENT_PROTOCOL) : NF_CURRENT_NONE;
    }
    return NF_OK;
}

nf_status nf__abf_parse(const char *path, const uint8_t *data, size_t n, const nf_recording_options *o,
                        nf_recording **rec)
{
    *rec = NULL;
    abf_info *a = calloc(1, sizeof *a);
    if (!a) return nf__fail(NF_ENOMEM, "%s: out of memory", path);
    a->path = path;
    a->b = (nf__bytes){data, n, 0};
    nf_status s;
    if (n >= 4 && !memcmp(data, "ABF ", 4))
        s = abf1_header(a);
    else if (n >= 4 && !memcmp(data, "ABF2", 4))
        s = abf2_header(a);
    else
        s = nf__fail(NF_EFORMAT, "%s: not an ABF file (magic is not \"ABF \" or \"ABF2\")", path);
    if (!s) s = abf_check(a);
    if (!s) s = nf__rec_new(path, NF_FORMAT_ABF, rec);
    if (!s) s = abf_read(a, o, *rec);
    if (s) {
        nf_recording_destroy(*rec);
        *rec = NULL;
    }
    free(a);
    return s;
}
