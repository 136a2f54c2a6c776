/* Text tables: one sample per line, columns separated by blanks, tabs, commas
 * or semicolons; '#' starts a comment line. The first line may be a header
 * naming the columns ("t[s] I[pA] V[mV]", "time,voltage"); options.columns
 * overrides it. Without names: "t V" for two columns, "V" for one (with
 * options.dt_ms); three or more columns must be named, because files differ in
 * where they put I and V (eFEL's current.txt is "t[s] I[pA] V[mV]"); every
 * data line has the columns of the first. Every command reads text by this
 * one rule. Column roles and units (columns.c) are shared with .npy tables. */
#include "rec_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Next line [*b, *e) from p (bounded by end); returns the start of the following one. */
static const char *text_line(const char *p, const char *end, const char **b, const char **e)
{
    *b = p;
    while (p < end && *p != '\n') p++;
    *e = p;
    return p < end ? p + 1 : p;
}

static int text_blank(const char *b, const char *e)
{
    while (b < e && (nf__col_sep(*b) || *b == ' ')) b++;
    return b == e || *b == '#';
}

/* Count the fields of a line and tell whether the first is a number. */
static int text_fields(const char *b, const char *e, int *first_numeric)
{
    int n = 0;
    *first_numeric = 0;
    while (b < e) {
        while (b < e && nf__col_sep(*b)) b++;
        if (b == e) break;
        if (n == 0) *first_numeric = isdigit((unsigned char)*b) || *b == '-' || *b == '+' || *b == '.' ||
                                     !strncasecmp(b, "nan", 3) || !strncasecmp(b, "inf", 3);
        n++;
        while (b < e && !nf__col_sep(*b)) b++;
    }
    return n;
}

nf_status nf__text_parse(const char *path, const char *text, size_t n, const nf_recording_options *o,
                         nf_recording **rec)
{
    *rec = NULL;
    const char *end = text + n, *p = text, *b, *e;
    /* The header: first non-comment line, when its first field is not a number. */
    char header[1024] = {0};
    int ncols = 0, line = 0;
    const char *data = NULL;
    int data_line = 0;
    while (p < end) {
        const char *next = text_line(p, end, &b, &e);
        line++;
        if (!text_blank(b, e)) {
            int num;
            ncols = text_fields(b, e, &num);
            if (!num) {
                size_t len = (size_t)(e - b) < sizeof header - 1 ? (size_t)(e - b) : sizeof header - 1;
                memcpy(header, b, len);
                for (size_t k = 0; k < len; k++)
                    if (!header[k]) header[k] = ' ';
                data = next;
                data_line = line;
            } else {
                data = p;
                data_line = line - 1;
            }
            break;
        }
        p = next;
    }
    if (!data) return nf__fail(NF_EFORMAT, "%s: no data lines", path);

    nf__colmap m;
    nf_status s;
    if (o->columns) {
        s = nf__colmap_parse(path, o->columns, 1, &m);
    } else if (header[0]) {
        s = nf__colmap_parse(path, header, 0, &m);
    } else {
        s = nf__colmap_default(path, ncols, o->dt_ms, &m);
    }
    if (s) return s;
    int need = m.v;
    if (m.t > need) need = m.t;
    if (m.i > need) need = m.i;
    need++;
    if (m.t < 0 && (!(o->dt_ms > 0) || !isfinite(o->dt_ms)))
        return nf__fail(NF_EINVAL, "%s: no time column and no time step: give dt (--dt MS)", path);

    /* Samples are at most one per line; lines are bounded by the file size. */
    size_t cap = 1;
    for (const char *q = data; q < end; q++) cap += (*q == '\n');
    double *col[3] = {nf__malloc_array(cap, sizeof(double)), nf__malloc_array(cap, sizeof(double)),
                      m.i >= 0 ? nf__malloc_array(cap, sizeof(double)) : NULL};
    if (!col[0] || !col[1] || (m.i >= 0 && !col[2])) {
        s = nf__fail(NF_ENOMEM, "%s: out of memory for %zu lines", path, cap);
        goto done;
    }
    int64_t ns = 0;
    int width = 0; /* fields of the first data line: every line has as many */
    line = data_line;
    for (p = data; p < end;) {
        p = text_line(p, end, &b, &e);
        line++;
        if (text_blank(b, e)) continue;
        int c = 0;
        const char *q = b;
        while (q < e) {
            while (q < e && nf__col_sep(*q)) q++;
            if (q == e) break;
            const char *f = q;
            while (q < e && !nf__col_sep(*q)) q++;
            double x = 0;
            int role = c == m.t ? 0 : c == m.v ? 1 : c == m.i ? 2 : -1;
            if (role >= 0) {
                char num[64], quoted[128];
                size_t len = (size_t)(q - f);
                char *stop = num;
                /* the whole field is the number: a NUL inside or more than fits is junk, not a shorter number */
                if (len < sizeof num && !memchr(f, 0, len)) {
                    memcpy(num, f, len);
                    num[len] = 0;
                    x = strtod(num, &stop);
                }
                if (stop == num || *stop) {
                    s = nf__fail(NF_EFORMAT, "%s: line %d, column %d: '%s' is not a number", path, line, c + 1,
                                 nf_excerpt(quoted, sizeof quoted, f, len));
                    goto done;
                }
                col[role][ns] = x;
            }
            c++;
        }
        if (c < need) {
            s = nf__fail(NF_EFORMAT, "%s: line %d has %d columns, need %d", path, line, c, need);
            goto done;
        }
        if (!width) width = c;
        if (c != width) {
            s = nf__fail(NF_EFORMAT, "%s: line %d has %d columns, the first data line %d", path, line, c, width);
            goto done;
        }
        ns++;
    }
    if (ns == 0) {
        s = nf__fail(NF_EFORMAT, "%s: no data lines", path);
        goto done;
    }
    s = nf__rec_from_columns(path, NF_FORMAT_TEXT, &m, m.t >= 0 ? col[0] : NULL, col[1], col[2], ns, o->dt_ms, rec);
    if (!s) snprintf((*rec)->format_detail, sizeof (*rec)->format_detail, "text, %d columns", ncols);
done:
    free(col[0]);
    free(col[1]);
    free(col[2]);
    if (s) {
        nf_recording_destroy(*rec);
        *rec = NULL;
    }
    return s;
}
