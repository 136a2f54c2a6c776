/* Text tables: one sample per line, columns separated by blanks, tabs, commas
 * or semicolons; '#' starts a comment line. The first line may be a header
 * naming the columns ("t[s] I[pA] V[mV]", "time,voltage"); options.columns
 * overrides it. Without names: "t V" for two columns, "V" for one (with
 * options.dt_ms); three or more columns must be named, because files differ in
 * where they put I and V (options.columns_by_position: three are t V I, and a
 * header is skipped). Column roles and units are shared with .npy tables. */
#include "rec_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int col_sep(char c) { return c == ' ' || c == '\t' || c == ',' || c == ';' || c == '\r'; }

static int col_role(const char *name)
{
    static const char *const t[] = {"t", "time", "times", "time_ms", "time_s", NULL};
    static const char *const v[] = {"v", "vm", "voltage", "v_m", "membrane_potential", NULL};
    static const char *const i[] = {"i", "im", "current", "i_inj", "stimulus", NULL};
    static const char *const skip[] = {"-", "x", "_", "skip", NULL};
    const char *const *lists[] = {t, v, i, skip};
    for (int r = 0; r < 4; r++)
        for (const char *const *p = lists[r]; *p; p++)
            if (!strcasecmp(name, *p)) return r;
    return -1;
}

/* "time_s", "t_ms", "V_mV", "I_nA": a column name whose last '_' part is a
 * unit of its role names both (the role from the whole name, else from the
 * part before the '_'). Writes the unit, strips it from name when the role
 * came from the prefix, returns the role (or `role` unchanged). */
static int unit_from_suffix(const char *path, char *name, char *unit, size_t cap, int role)
{
    char *us = strrchr(name, '_');
    if (!us || !us[1])
        return role;
    *us = 0;
    int r = role >= 0 ? role : col_role(name);
    double scale;
    nf_status ok = r == 0   ? nf__unit_t(path, name, us + 1, &scale)
                   : r == 1 ? nf__unit_v(path, name, us + 1, &scale)
                   : r == 2 ? nf__unit_i(path, name, us + 1, &scale)
                            : NF_EINVAL;
    if (ok != NF_OK || strlen(us + 1) >= cap) {
        *us = '_'; /* not a unit: the name stays whole ("v_m", "i_inj") */
        return role;
    }
    snprintf(unit, cap, "%s", us + 1);
    if (role >= 0)
        *us = '_';
    return r;
}

nf_status nf__colmap_parse(const char *path, const char *spec, int strict, nf__colmap *m)
{
    memset(m, 0, sizeof *m);
    m->t = m->v = m->i = -1;
    m->ts = m->vs = m->is = 1;
    const char *p = spec;
    int col = 0;
    while (*p) {
        while (*p && (col_sep(*p) || *p == '#')) p++;
        if (!*p) break;
        char name[32] = {0}, unit[16] = {0};
        size_t k = 0;
        while (*p && !col_sep(*p) && *p != '[' && *p != '(') {
            if (k + 1 < sizeof name) name[k++] = *p;
            p++;
        }
        const char *q = p; /* "time [s]": a unit may follow after blanks */
        while (*q == ' ' || *q == '\t') q++;
        if (*q == '[' || *q == '(') p = q;
        if (*p == '[' || *p == '(') {
            char close = *p == '[' ? ']' : ')';
            p++;
            k = 0;
            while (*p && *p != close) {
                if (k + 1 < sizeof unit) unit[k++] = *p;
                p++;
            }
            if (*p != close) return nf__fail(NF_EINVAL, "%s: columns '%s': unclosed unit bracket", path, spec);
            p++;
        }
        int r = col_role(name);
        if (!unit[0])
            r = unit_from_suffix(path, name, unit, sizeof unit, r);
        if (r < 0 && strict)
            return nf__fail(NF_EINVAL, "%s: column '%s' is not t, V, I or '-' (columns '%s')", path, name, spec);
        int *slot = r == 0 ? &m->t : r == 1 ? &m->v : r == 2 ? &m->i : NULL;
        if (slot) {
            if (*slot >= 0) return nf__fail(NF_EINVAL, "%s: columns '%s' name %s twice", path, spec, name);
            *slot = col;
            nf_status s = r == 0   ? nf__unit_t(path, name, unit, &m->ts)
                          : r == 1 ? nf__unit_v(path, name, unit, &m->vs)
                                   : nf__unit_i(path, name, unit, &m->is);
            if (s) return s;
            snprintf(r == 0 ? m->tu : r == 1 ? m->vu : m->iu, sizeof m->tu, "%s", unit);
        }
        col++;
        if (col > 4096) return nf__fail(NF_EINVAL, "%s: more than 4096 columns", path);
    }
    m->n_named = col;
    if (m->v < 0) return nf__fail(NF_EINVAL, "%s: no V column in '%s'", path, spec);
    return NF_OK;
}

nf_status nf__colmap_default(const char *path, int ncols, double dt_ms, int by_position, nf__colmap *m)
{
    memset(m, 0, sizeof *m);
    m->t = m->v = m->i = -1;
    m->ts = m->vs = m->is = 1;
    if (ncols == 1) {
        if (!(dt_ms > 0) || !isfinite(dt_ms))
            return nf__fail(NF_EINVAL, "%s: one column (V) and no time step: give dt (--dt MS)", path);
        m->v = 0;
    } else if (ncols == 2) {
        m->t = 0;
        m->v = 1;
    } else if (ncols == 3 && by_position) {
        m->t = 0;
        m->v = 1;
        m->i = 2;
    } else if (by_position) {
        return nf__fail(NF_EINVAL, "%s: %d columns; by position there are 1 to 3 (V, t V or t V I): name them "
                        "(columns, e.g. \"t V I -\")", path, ncols);
    } else {
        return nf__fail(NF_EINVAL, "%s: %d columns without names: say which is which (e.g. columns \"t[s] I[pA] V[mV]\")",
                        path, ncols);
    }
    m->n_named = ncols;
    return NF_OK;
}

nf_status nf__rec_from_columns(const char *path, nf_format f, const nf__colmap *m, const double *t, const double *v,
                               const double *i, int64_t n, double dt_ms, nf_recording **rec)
{
    nf_status s = nf__rec_new(path, f, rec);
    if (s) return s;
    nf_recording *r = *rec;
    if ((s = nf__rec_sweeps(r, 1))) return s;
    nf_sweep *sw = &r->sweeps[0];
    if ((s = nf__sweep_alloc(r, sw, n, i != NULL))) return s;
    if (t) {
        for (int64_t k = 0; k < n; k++) sw->t[k] = t[k] * m->ts;
        sw->start_ms = sw->t[0];
        nf__sweep_detect_dt(sw);
    } else {
        nf__sweep_grid(sw, dt_ms);
    }
    for (int64_t k = 0; k < n; k++) sw->v[k] = v[k] * m->vs;
    if (i)
        for (int64_t k = 0; k < n; k++) sw->i[k] = i[k] * m->is;
    sw->i_source = i ? NF_CURRENT_RECORDED : NF_CURRENT_NONE;
    r->rate_hz = sw->dt_ms > 0 ? 1e3 / sw->dt_ms : 0;
    r->n_channels = 0;
    const char *names[3] = {"t", "V", "I"};
    const int idx[3] = {m->t, m->v, m->i};
    const char *units[3] = {m->tu[0] ? m->tu : "ms", m->vu[0] ? m->vu : "mV", m->iu[0] ? m->iu : "pA"};
    for (int c = 0; c < 3; c++) {
        if (idx[c] < 0) continue;
        nf_channel *ch = &r->channels[r->n_channels];
        snprintf(ch->name, sizeof ch->name, "%s (column %d)", names[c], idx[c] + 1);
        snprintf(ch->unit, sizeof ch->unit, "%s", units[c]);
        if (c == 1) r->v_channel = r->n_channels;
        if (c == 2) r->i_channel = r->n_channels;
        r->n_channels++;
    }
    snprintf(r->i_origin, sizeof r->i_origin, i ? "column %d" : "none", m->i + 1);
    return NF_OK;
}

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
    while (b < e && (col_sep(*b) || *b == ' ')) b++;
    return b == e || *b == '#';
}

/* Count the fields of a line and tell whether the first is a number. */
static int text_fields(const char *b, const char *e, int *first_numeric)
{
    int n = 0;
    *first_numeric = 0;
    while (b < e) {
        while (b < e && col_sep(*b)) b++;
        if (b == e) break;
        if (n == 0) *first_numeric = isdigit((unsigned char)*b) || *b == '-' || *b == '+' || *b == '.' ||
                                     !strncasecmp(b, "nan", 3) || !strncasecmp(b, "inf", 3);
        n++;
        while (b < e && !col_sep(*b)) b++;
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
    } else if (header[0] && !o->columns_by_position) {
        s = nf__colmap_parse(path, header, 0, &m);
    } else {
        if (header[0]) { /* a skipped header: the first data line says how many columns */
            int num;
            ncols = 0;
            for (p = data; p < end && !ncols;) {
                p = text_line(p, end, &b, &e);
                if (!text_blank(b, e)) ncols = text_fields(b, e, &num);
            }
            if (!ncols) return nf__fail(NF_EFORMAT, "%s: no data lines", path);
        }
        s = nf__colmap_default(path, ncols, o->dt_ms, o->columns_by_position, &m);
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
    /* by position every line has the columns of the first: a ragged table is refused */
    const int exact = o->columns_by_position && !o->columns;
    line = data_line;
    for (p = data; p < end;) {
        p = text_line(p, end, &b, &e);
        line++;
        if (text_blank(b, e)) continue;
        int c = 0;
        const char *q = b;
        while (q < e && (c < need || exact)) {
            while (q < e && col_sep(*q)) q++;
            if (q == e) break;
            const char *f = q;
            while (q < e && !col_sep(*q)) q++;
            double x = 0;
            int role = c == m.t ? 0 : c == m.v ? 1 : c == m.i ? 2 : -1;
            if (role >= 0) {
                char num[64];
                size_t len = (size_t)(q - f);
                char *stop;
                if (len >= sizeof num) len = sizeof num - 1;
                memcpy(num, f, len);
                num[len] = 0;
                errno = 0;
                x = strtod(num, &stop);
                if (stop == num || *stop) {
                    s = nf__fail(NF_EFORMAT, "%s: line %d, column %d: '%s' is not a number", path, line, c + 1, num);
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
        if (c > need) {
            s = nf__fail(NF_EFORMAT, "%s: line %d has %d columns, the first data line %d", path, line, c, need);
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
