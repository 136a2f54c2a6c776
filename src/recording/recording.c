/* nf_recording_open: format detection and dispatch, plus the helpers every
 * reader shares (allocation capped by the file size, unit conversion and the
 * final validation of every sweep). The formats live in abf.c, nwb.c, ibw.c,
 * text.c and npy_rec.c. */
#include "rec_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

const char *nf_format_name(nf_format f)
{
    switch (f) {
    case NF_FORMAT_AUTO: return "auto";
    case NF_FORMAT_ABF: return "abf";
    case NF_FORMAT_NWB: return "nwb";
    case NF_FORMAT_IBW: return "ibw";
    case NF_FORMAT_TEXT: return "text";
    case NF_FORMAT_NPY: return "npy";
    }
    return "?";
}

void nf_recording_options_default(nf_recording_options *o)
{
    memset(o, 0, sizeof *o);
    o->format = NF_FORMAT_AUTO;
    o->v_channel = -1;
    o->i_channel = -1;
}

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

/* A pipe (`cat x.txt | neurofit ... /dev/stdin`, `<(...)`): read to the end,
 * still at most max_bytes. */
static nf_status nf__slurp_stream(FILE *fp, const char *path, size_t max_bytes, uint8_t **data, size_t *n)
{
    size_t cap = 1 << 16, got = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        if (got + 1 == cap) { /* full, but for the NUL */
            if (got >= max_bytes) {
                free(buf);
                return nf__fail(NF_ERANGE, "%s: at least %zu bytes, the most this reader accepts", path, max_bytes);
            }
            size_t grow = cap > max_bytes / 2 ? max_bytes + 1 : 2 * cap;
            uint8_t *b = realloc(buf, grow);
            if (!b) break;
            buf = b;
            cap = grow;
        }
        size_t k = fread(buf + got, 1, cap - 1 - got, fp);
        got += k;
        if (k == 0) {
            if (ferror(fp)) {
                free(buf);
                return nf__fail(NF_EIO, "%s: read error after %zu bytes", path, got);
            }
            buf[got] = 0; /* text parsers get a terminating NUL */
            *data = buf;
            *n = got;
            return NF_OK;
        }
    }
    free(buf);
    return nf__fail(NF_ENOMEM, "%s: out of memory after %zu bytes", path, got);
}

nf_status nf__slurp(const char *path, size_t max_bytes, uint8_t **data, size_t *n)
{
    *data = NULL;
    *n = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) return nf__fail(NF_EIO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(fp), &st) == 0 && S_ISFIFO(st.st_mode)) {
        nf_status s = nf__slurp_stream(fp, path, max_bytes, data, n);
        fclose(fp);
        return s;
    }
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(fp);
        return nf__fail(NF_EIO, "%s: not a regular file", path);
    }
    if ((uint64_t)st.st_size > max_bytes) {
        fclose(fp);
        return nf__fail(NF_ERANGE, "%s: %lld bytes is more than the %zu this reader accepts", path,
                        (long long)st.st_size, max_bytes);
    }
    size_t sz = (size_t)st.st_size;
    uint8_t *buf = malloc(sz + 1); /* +1: text parsers get a terminating NUL */
    if (!buf) {
        fclose(fp);
        return nf__fail(NF_ENOMEM, "%s: out of memory for %zu bytes", path, sz);
    }
    size_t got = fread(buf, 1, sz, fp);
    fclose(fp);
    if (got != sz) {
        free(buf);
        return nf__fail(NF_EIO, "%s: short read (%zu of %zu bytes)", path, got, sz);
    }
    buf[sz] = 0;
    *data = buf;
    *n = sz;
    return NF_OK;
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

static int nf__ext_is(const char *path, const char *ext)
{
    size_t n = strlen(path), e = strlen(ext);
    return n > e && !strcasecmp(path + n - e, ext);
}

/* Format from the first bytes, then from the extension. */
static nf_format nf__detect(const char *path, const uint8_t *head, size_t n)
{
    if (n >= 4 && (!memcmp(head, "ABF ", 4) || !memcmp(head, "ABF2", 4))) return NF_FORMAT_ABF;
    if (n >= 8 && !memcmp(head, "\x89HDF\r\n\x1a\n", 8)) return NF_FORMAT_NWB;
    if (n >= 6 && !memcmp(head, "\x93NUMPY", 6)) return NF_FORMAT_NPY;
    if (nf__ext_is(path, ".ibw") || nf__ext_is(path, ".bwav")) return NF_FORMAT_IBW;
    if (nf__ext_is(path, ".abf")) return NF_FORMAT_ABF;
    if (nf__ext_is(path, ".nwb") || nf__ext_is(path, ".h5")) return NF_FORMAT_NWB;
    if (nf__ext_is(path, ".npy")) return NF_FORMAT_NPY;
    return NF_FORMAT_TEXT;
}

/* "<dir>/X_Ch3_Y" -> "<dir>/X_Ch0_Y" when that file exists. */
static int nf__ibw_partner(const char *path, char *out, size_t cap)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *m = strstr(base, "_Ch3_");
    if (!m || strlen(path) + 1 > cap) return 0;
    strcpy(out, path);
    out[m - path + 3] = '0';
    struct stat st;
    return stat(out, &st) == 0 && S_ISREG(st.st_mode);
}

static nf_status nf__open_ibw(const char *path, const nf_recording_options *o, nf_recording **rec)
{
    uint8_t *d = NULL, *c = NULL;
    size_t n = 0, nc = 0;
    char partner[4096];
    const char *cpath = o->current_path;
    if (!cpath && nf__ibw_partner(path, partner, sizeof partner)) cpath = partner;
    nf_status s = nf__slurp(path, NF__REC_MAX_FILE, &d, &n);
    if (!s && cpath) s = nf__slurp(cpath, NF__REC_MAX_FILE, &c, &nc);
    if (!s) s = nf__ibw_parse(path, d, n, c, nc, cpath, rec);
    free(d);
    free(c);
    return s;
}

nf_status nf_recording_open(const char *path, const nf_recording_options *opts, nf_recording **rec)
{
    if (!rec) return nf__fail(NF_EINVAL, "nf_recording_open: rec is NULL");
    *rec = NULL;
    if (!path) return nf__fail(NF_EINVAL, "nf_recording_open: path is NULL");
    nf_recording_options def;
    nf_recording_options_default(&def);
    const nf_recording_options *o = opts ? opts : &def;

    nf_status s;
    uint8_t *d = NULL;
    size_t n = 0;
    nf_format f = o->format;
    struct stat st;
    if (stat(path, &st) == 0 && S_ISFIFO(st.st_mode)) {
        /* a stream can be read once: read it now, then detect from its bytes */
        if ((s = nf__slurp(path, NF__REC_MAX_FILE, &d, &n))) return s;
        if (f == NF_FORMAT_AUTO) f = nf__detect(path, d, n);
        if (f != NF_FORMAT_TEXT && f != NF_FORMAT_ABF) {
            free(d);
            return nf__fail(NF_EINVAL, "%s: a pipe holds text or ABF; %s needs a file", path, nf_format_name(f));
        }
    } else if (f == NF_FORMAT_AUTO) {
        FILE *fp = fopen(path, "rb");
        if (!fp) return nf__fail(NF_EIO, "cannot open %s: %s", path, strerror(errno));
        uint8_t head[8] = {0};
        size_t got = fread(head, 1, sizeof head, fp);
        fclose(fp);
        f = nf__detect(path, head, got);
    }

    switch (f) {
    case NF_FORMAT_ABF:
        s = d ? NF_OK : nf__slurp(path, NF__REC_MAX_FILE, &d, &n);
        if (!s) s = nf__abf_parse(path, d, n, o, rec);
        break;
    case NF_FORMAT_TEXT:
        s = d ? NF_OK : nf__slurp(path, NF__REC_MAX_FILE, &d, &n);
        if (!s) s = nf__text_parse(path, (const char *)d, n, o, rec);
        break;
    case NF_FORMAT_IBW: s = nf__open_ibw(path, o, rec); break;
    case NF_FORMAT_NPY: s = nf__npy_open(path, o, rec); break;
    case NF_FORMAT_NWB: s = nf__nwb_open_isolated(path, o, rec); break;
    default: s = nf__fail(NF_EINVAL, "%s: unknown format %d", path, (int)f);
    }
    free(d);
    if (!s && *rec) s = nf__rec_validate(*rec);
    if (s) {
        nf_recording_destroy(*rec);
        *rec = NULL;
    }
    return s;
}
