/* .npy writer and reader (include/neurofit/npy.h).
 *
 * Format: magic "\x93NUMPY", version (1,0), uint16 LE header length, then a
 * Python dict literal padded with spaces and ending in '\n' so that the data
 * starts on a 64-byte boundary. We always write version 1.0 with a header of
 * NF__NPY_HDR bytes so the streaming writer can rewrite the shape in place. */
#include "neurofit/npy.h"

#include "internal.h"
#include "neurofit/fileio.h"
#include "npy_rows.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define NF__NPY_HDR NF__NPY_DATA_OFFSET /* total bytes before the data (256) */

size_t nf_dtype_size(nf_dtype t)
{
    switch (t) {
    case NF_DT_F32: return 4;
    case NF_DT_F64: return 8;
    case NF_DT_I32: return 4;
    case NF_DT_I64: return 8;
    case NF_DT_U8: return 1;
    case NF_DT_BOOL: return 1;
    }
    return 0;
}

static const char *nf__descr(nf_dtype t)
{
    switch (t) {
    case NF_DT_F32: return "<f4";
    case NF_DT_F64: return "<f8";
    case NF_DT_I32: return "<i4";
    case NF_DT_I64: return "<i8";
    case NF_DT_U8: return "|u1";
    case NF_DT_BOOL: return "|b1";
    }
    return "?";
}

static nf_status nf__npy_header(char *hdr, nf_dtype type, int ndim, const int64_t *shape)
{
    char dict[NF__NPY_HDR];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                     nf__descr(type));
    for (int i = 0; i < ndim; i++)
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%lld,%s", (long long)shape[i],
                      (i + 1 < ndim) ? " " : "");
    n += snprintf(dict + n, sizeof dict - (size_t)n, "), }");
    if (n + 11 > NF__NPY_HDR) return nf__fail(NF_ERANGE, "npy header too long");
    memcpy(hdr, "\x93NUMPY\x01\x00", 8);
    unsigned hl = NF__NPY_HDR - 10;
    hdr[8] = (char)(hl & 0xff);
    hdr[9] = (char)(hl >> 8);
    memset(hdr + 10, ' ', hl);
    memcpy(hdr + 10, dict, (size_t)n);
    hdr[NF__NPY_HDR - 1] = '\n';
    return NF_OK;
}

nf_status nf__npy_create(const char *path, nf_dtype type, int ndim, const int64_t *shape)
{
    if (ndim < 1 || ndim > 8) return nf__fail(NF_EINVAL, "%s: ndim %d out of range", path, ndim);
    int64_t bytes = (int64_t)nf_dtype_size(type);
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return nf__fail(NF_EINVAL, "%s: negative dimension", path);
        bytes *= shape[i];
    }
    char hdr[NF__NPY_HDR];
    nf_status s = nf__npy_header(hdr, type, ndim, shape);
    if (s) return s;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0) return nf__fail(NF_EIO, "cannot write %s: %s", path, strerror(errno));
    if (write(fd, hdr, sizeof hdr) != (ssize_t)sizeof hdr || ftruncate(fd, (off_t)(NF__NPY_HDR + bytes)) != 0)
        s = nf__fail(NF_EIO, "cannot write %s: %s", path, strerror(errno));
    if (close(fd) != 0 && !s) s = nf__fail(NF_EIO, "cannot write %s: %s", path, strerror(errno));
    return s;
}

nf_status nf_npy_write(const char *path, nf_dtype type, int ndim, const int64_t *shape,
                       const void *data)
{
    if (ndim < 0 || ndim > 8) return nf__fail(NF_EINVAL, "%s: ndim %d out of range", path, ndim);
    size_t count = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) return nf__fail(NF_EINVAL, "%s: negative dimension", path);
        count *= (size_t)shape[i];
    }
    char hdr[NF__NPY_HDR];
    nf_status s = nf__npy_header(hdr, type, ndim, shape);
    if (s) return s;
    nf_commit_file f;
    if ((s = nf_file_commit_open(&f, path))) return s;
    fwrite(hdr, 1, sizeof hdr, f.fp);
    if (count) fwrite(data, nf_dtype_size(type), count, f.fp);
    return nf_file_commit_close(&f, 1);
}

struct nf_npy_writer {
    nf_commit_file f;
    nf_dtype type;
    int ndim;
    int64_t shape[8];
    size_t row_elems;
};

nf_status nf_npy_writer_open(const char *path, nf_dtype type, int ndim, const int64_t *row_shape,
                             nf_npy_writer **out)
{
    *out = NULL;
    if (ndim < 1 || ndim > 8) return nf__fail(NF_EINVAL, "%s: ndim %d out of range", path, ndim);
    nf_npy_writer *w = calloc(1, sizeof *w);
    if (!w) return nf__fail(NF_ENOMEM, "out of memory");
    w->type = type;
    w->ndim = ndim;
    w->row_elems = 1;
    for (int i = 1; i < ndim; i++) {
        w->shape[i] = row_shape[i - 1];
        w->row_elems *= (size_t)row_shape[i - 1];
    }
    char hdr[NF__NPY_HDR];
    nf_status s = nf__npy_header(hdr, type, ndim, w->shape);
    if (!s) s = nf_file_commit_open(&w->f, path);
    if (s) {
        free(w);
        return s;
    }
    fwrite(hdr, 1, sizeof hdr, w->f.fp);
    *out = w;
    return NF_OK;
}

nf_status nf_npy_writer_append(nf_npy_writer *w, const void *rows, int64_t n_rows)
{
    if (n_rows <= 0) return NF_OK;
    size_t n = (size_t)n_rows * w->row_elems;
    if (fwrite(rows, nf_dtype_size(w->type), n, w->f.fp) != n)
        return nf__fail(NF_EIO, "error writing %s: %s", w->f.path, strerror(errno));
    w->shape[0] += n_rows;
    return NF_OK;
}

nf_status nf_npy_writer_close(nf_npy_writer *w)
{
    char hdr[NF__NPY_HDR];
    nf_status s = nf__npy_header(hdr, w->type, w->ndim, w->shape);
    if (!s && (fseek(w->f.fp, 0, SEEK_SET) != 0 || fwrite(hdr, 1, sizeof hdr, w->f.fp) != sizeof hdr))
        s = nf__fail(NF_EIO, "error writing %s", w->f.path);
    nf_status s2 = nf_file_commit_close(&w->f, s == NF_OK);
    free(w);
    return s ? s : s2;
}

void nf_npy_writer_abort(nf_npy_writer *w)
{
    if (!w) return;
    nf_file_commit_close(&w->f, 0);
    free(w);
}

/* ---- reader --------------------------------------------------------------- */

static const char *nf__skip_ws(const char *p)
{
    while (*p && isspace((unsigned char)*p)) p++;
    return p;
}

static nf_status nf__parse_header(const char *path, const char *h, nf_dtype *type, int *ndim,
                                  int64_t *shape, int max_ndim)
{
    const char *d = strstr(h, "'descr'");
    const char *fo = strstr(h, "'fortran_order'");
    const char *sh = strstr(h, "'shape'");
    if (!d || !fo || !sh) return nf__fail(NF_EFORMAT, "%s: npy header lacks descr/fortran_order/shape", path);
    d = strchr(d + 7, '\'');
    if (!d) return nf__fail(NF_EFORMAT, "%s: bad descr", path);
    d++;
    static const struct { const char *s; nf_dtype t; } map[] = {
        {"<f4'", NF_DT_F32}, {"<f8'", NF_DT_F64}, {"<i4'", NF_DT_I32}, {"<i8'", NF_DT_I64},
        {"|u1'", NF_DT_U8},  {"|i1'", NF_DT_U8},  {"|b1'", NF_DT_BOOL}, {"<u1'", NF_DT_U8},
    };
    int found = 0;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strncmp(d, map[i].s, strlen(map[i].s)) == 0) {
            *type = map[i].t;
            found = 1;
        }
    if (!found) {
        char buf[16] = {0};
        for (int i = 0; i < 15 && d[i] && d[i] != '\''; i++) buf[i] = d[i];
        return nf__fail(NF_EFORMAT, "%s: unsupported dtype '%s' (need little-endian f4/f8/i4/i8/u1/b1)", path, buf);
    }
    fo = nf__skip_ws(strchr(fo + 15, ':') ? strchr(fo + 15, ':') + 1 : fo + 15);
    if (strncmp(fo, "False", 5) != 0) return nf__fail(NF_EFORMAT, "%s: Fortran-ordered arrays are not supported", path);
    const char *p = strchr(sh + 7, '(');
    if (!p) return nf__fail(NF_EFORMAT, "%s: bad shape", path);
    p++;
    int n = 0;
    for (;;) {
        p = nf__skip_ws(p);
        if (*p == ')') break;
        if (!isdigit((unsigned char)*p)) return nf__fail(NF_EFORMAT, "%s: bad shape", path);
        if (n >= max_ndim) return nf__fail(NF_EFORMAT, "%s: more than %d dimensions", path, max_ndim);
        errno = 0;
        char *end;
        long long v = strtoll(p, &end, 10);
        if (errno || v < 0) return nf__fail(NF_EFORMAT, "%s: bad shape", path);
        shape[n++] = v;
        p = nf__skip_ws(end);
        if (*p == ',') p++;
    }
    *ndim = n;
    return NF_OK;
}

nf_status nf_npy_read(const char *path, void **data, nf_dtype *type, int *ndim, int64_t *shape,
                      int max_ndim)
{
    *data = NULL;
    FILE *fp = fopen(path, "rb");
    if (!fp) return nf__fail(NF_EIO, "cannot open %s: %s", path, strerror(errno));
    unsigned char pre[12];
    nf_status s = NF_OK;
    char *hdr = NULL;
    size_t hlen = 0, pre_len = 10;
    if (fread(pre, 1, 10, fp) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) {
        s = nf__fail(NF_EFORMAT, "%s: not a .npy file (bad magic)", path);
        goto done;
    }
    if (pre[6] == 1) {
        hlen = (size_t)pre[8] | ((size_t)pre[9] << 8);
    } else if (pre[6] == 2 || pre[6] == 3) {
        if (fread(pre + 10, 1, 2, fp) != 2) {
            s = nf__fail(NF_EFORMAT, "%s: truncated header", path);
            goto done;
        }
        hlen = (size_t)pre[8] | ((size_t)pre[9] << 8) | ((size_t)pre[10] << 16) | ((size_t)pre[11] << 24);
        pre_len = 12;
    } else {
        s = nf__fail(NF_EFORMAT, "%s: unsupported npy version %d", path, pre[6]);
        goto done;
    }
    if (hlen > (1u << 20)) {
        s = nf__fail(NF_EFORMAT, "%s: header length %zu is implausible", path, hlen);
        goto done;
    }
    hdr = calloc(1, hlen + 1);
    if (!hdr || fread(hdr, 1, hlen, fp) != hlen) {
        s = nf__fail(NF_EFORMAT, "%s: truncated header", path);
        goto done;
    }
    if ((s = nf__parse_header(path, hdr, type, ndim, shape, max_ndim))) goto done;
    size_t count = 1;
    for (int i = 0; i < *ndim; i++) {
        if (shape[i] != 0 && count > (size_t)INT64_MAX / (size_t)shape[i]) {
            s = nf__fail(NF_EFORMAT, "%s: shape overflows", path);
            goto done;
        }
        count *= (size_t)shape[i];
    }
    struct stat st;
    size_t esz = nf_dtype_size(*type);
    if (fstat(fileno(fp), &st) != 0 || (uint64_t)st.st_size < pre_len + hlen ||
        count > ((uint64_t)st.st_size - pre_len - hlen) / esz) {
        s = nf__fail(NF_EFORMAT, "%s: file is shorter than its shape says (truncated?)", path);
        goto done;
    }
    *data = malloc(count * esz + 1);
    if (!*data) {
        s = nf__fail(NF_ENOMEM, "%s: out of memory", path);
        goto done;
    }
    if (fread(*data, esz, count, fp) != count) {
        free(*data);
        *data = NULL;
        s = nf__fail(NF_EFORMAT, "%s: truncated data", path);
    }
done:
    free(hdr);
    fclose(fp);
    return s;
}

nf_status nf_npy_read_f32(const char *path, float **out, int *ndim, int64_t *shape, int max_ndim)
{
    void *raw;
    nf_dtype t;
    nf_status s = nf_npy_read(path, &raw, &t, ndim, shape, max_ndim);
    if (s) return s;
    size_t count = 1;
    for (int i = 0; i < *ndim; i++) count *= (size_t)shape[i];
    if (t == NF_DT_F32) {
        *out = raw;
        return NF_OK;
    }
    float *f = nf__malloc_array(count, sizeof *f);
    if (!f) {
        free(raw);
        return nf__fail(NF_ENOMEM, "%s: out of memory", path);
    }
    for (size_t i = 0; i < count; i++) {
        switch (t) {
        case NF_DT_F64: f[i] = (float)((double *)raw)[i]; break;
        case NF_DT_I32: f[i] = (float)((int32_t *)raw)[i]; break;
        case NF_DT_I64: f[i] = (float)((int64_t *)raw)[i]; break;
        default: f[i] = (float)((unsigned char *)raw)[i]; break;
        }
    }
    free(raw);
    *out = f;
    return NF_OK;
}
