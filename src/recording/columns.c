/* Column maps of tables (text.c, npy_rec.c): which column is t, V and I,
 * from a spec or header ("t[s] I[pA] V[mV]", "time_s,V_mV") or by default
 * from the column count, with the unit scale of each; and a one-sweep
 * recording from column arrays. Below both readers, over recording_common.c. */
#include "rec_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

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
        while (*p && (nf__col_sep(*p) || *p == '#')) p++;
        if (!*p) break;
        char name[32] = {0}, unit[16] = {0};
        size_t k = 0;
        while (*p && !nf__col_sep(*p) && *p != '[' && *p != '(') {
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

nf_status nf__colmap_default(const char *path, int ncols, double dt_ms, nf__colmap *m)
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
