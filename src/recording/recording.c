/* nf_recording_open: reading the file (or pipe) into memory, format
 * detection and dispatch to the readers (abf.c, nwb.c through isolate.c,
 * ibw.c, text.c, npy_rec.c), then the final validation. What the readers
 * share lives below them in recording_common.c and columns.c. */
#include "rec_internal.h"

#include <errno.h>
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

static nf_status nf__slurp(const char *path, size_t max_bytes, uint8_t **data, size_t *n)
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

/* The voltage channel and the current a caller asked for, where the reader
 * had no choice to make. */
static nf_status check_choices(const nf_recording_options *o, const nf_recording *r)
{
    if (o->v_channel > 0 && r->format != NF_FORMAT_ABF)
        return nf__fail(NF_EINVAL, "%s: voltage channel %d requested; a %s file has one voltage (channel 0)", r->path,
                        o->v_channel, nf_format_name(r->format));
    if (o->current == NF_CURRENT_PROTOCOL && r->format != NF_FORMAT_ABF)
        return nf__fail(NF_EINVAL, "%s: the current cannot be rebuilt from a protocol (%s files hold none; ABF files do)",
                        r->path, nf_format_name(r->format));
    if (o->current_path && r->format != NF_FORMAT_IBW)
        return nf__fail(NF_EINVAL, "%s: a current file (%s) goes with IBW voltage waves; a %s file is read with its own "
                        "current", r->path, o->current_path, nf_format_name(r->format));
    if (o->current == NF_CURRENT_NONE) return NF_OK;
    for (int k = 0; k < r->n_sweeps; k++)
        if (r->sweeps[k].i_source != o->current)
            return nf__fail(NF_EINVAL, "%s sweep %d: no %s current (%s)", r->path, k,
                            o->current == NF_CURRENT_RECORDED ? "recorded" : "protocol",
                            o->current == NF_CURRENT_RECORDED ? "no channel records one"
                                                              : "its protocol plays no epochs in a current unit");
    return NF_OK;
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
    case NF_FORMAT_NWB: s = nf__open_isolated(nf__nwb_open, path, o, rec); break;
    default: s = nf__fail(NF_EINVAL, "%s: unknown format %d", path, (int)f);
    }
    free(d);
    if (!s && *rec) s = nf__rec_validate(*rec);
    if (!s && *rec) s = check_choices(o, *rec);
    if (s) {
        nf_recording_destroy(*rec);
        *rec = NULL;
    }
    return s;
}
