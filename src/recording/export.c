/* nf_recording_export: the sweeps a reader returned, as files numpy (and
 * `neurofit info`) read back exactly. One output set per directory (staged,
 * committed with meta.json last):
 *
 *   sweeps/sweep_<index>.csv  "t[ms],V[mV],I[pA]" header, one sample a line
 *                             (%.17g: every double read back to the bit);
 *                             I only when the sweep has a current
 *   sweeps/sweep_<index>.npy  float64 [samples][2 or 3]: t ms, V mV, I pA
 *   epochs.csv / epochs.npy   one row per epoch of each exported sweep:
 *                             sweep, epoch (letter; .npy: 0 = A), type
 *                             (step/ramp/pulse/other; .npy: 1/2/3/9), first,
 *                             end (samples, end exclusive), start_ms, end_ms,
 *                             level_pA (only when the file has epochs)
 *   meta.json                 the source file, format, rate, channels, which
 *                             is V and where I comes from, the sweeps and the
 *                             layout of each file */
#include "rec_internal.h"

#include "neurofit/fileio.h"
#include "neurofit/npy.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>

static const char *current_name(nf_current_source s)
{
    return s == NF_CURRENT_RECORDED ? "recorded" : s == NF_CURRENT_PROTOCOL ? "protocol" : "none";
}

/* A float64 [rows][cols] table (freed here) as path. */
static nf_status npy_table(const char *path, double *tab, int64_t rows, int64_t cols)
{
    int64_t shape[2] = {rows, cols};
    nf_status s = nf_npy_write(path, NF_DT_F64, 2, shape, tab);
    free(tab);
    return s;
}

/* A CSV file under a temporary name with its header line written. */
static nf_status csv_open(nf_commit_file *cf, const char *path, const char *header)
{
    nf_status s = nf_file_commit_open(cf, path);
    if (!s) fputs(header, cf->fp);
    return s;
}

static nf_status write_sweep(const char *path, const nf_sweep *sw, nf_export_format fmt)
{
    int nc = sw->i ? 3 : 2;
    if (fmt == NF_EXPORT_NPY) {
        double *tab = nf__malloc_array((size_t)sw->n * (size_t)nc, sizeof(double));
        if (!tab) return nf__fail(NF_ENOMEM, "%s: out of memory", path);
        for (int64_t k = 0; k < sw->n; k++) {
            tab[k * nc] = sw->t[k];
            tab[k * nc + 1] = sw->v[k];
            if (sw->i) tab[k * nc + 2] = sw->i[k];
        }
        return npy_table(path, tab, sw->n, nc);
    }
    nf_commit_file cf;
    nf_status s = csv_open(&cf, path, sw->i ? "t[ms],V[mV],I[pA]\n" : "t[ms],V[mV]\n");
    if (s) return s;
    for (int64_t k = 0; k < sw->n; k++)
        if (sw->i)
            fprintf(cf.fp, "%.17g,%.17g,%.17g\n", sw->t[k], sw->v[k], sw->i[k]);
        else
            fprintf(cf.fp, "%.17g,%.17g\n", sw->t[k], sw->v[k]);
    return nf_file_commit_close(&cf, 1); /* a write error (disk full) fails it */
}

static nf_status write_epochs(const char *path, const nf_recording *rec, const unsigned char *sel, nf_export_format fmt,
                              int64_t rows)
{
    if (fmt == NF_EXPORT_NPY) {
        double *tab = nf__malloc_array((size_t)rows * 8, sizeof(double));
        if (!tab) return nf__fail(NF_ENOMEM, "%s: out of memory", path);
        int64_t r = 0;
        for (int k = 0; k < rec->n_sweeps; k++)
            for (int e = 0; (!sel || sel[k]) && e < rec->sweeps[k].n_epochs; e++, r++) {
                const nf_epoch *ep = &rec->sweeps[k].epochs[e];
                double row[8] = {rec->sweeps[k].index, ep->name[0] - 'A', ep->type, (double)ep->first,
                                 (double)ep->end, ep->start_ms, ep->end_ms, ep->level_pA};
                for (int c = 0; c < 8; c++) tab[r * 8 + c] = row[c];
            }
        return npy_table(path, tab, rows, 8);
    }
    nf_commit_file cf;
    nf_status s = csv_open(&cf, path, "sweep,epoch,type,first,end,start_ms,end_ms,level_pA\n");
    if (s) return s;
    for (int k = 0; k < rec->n_sweeps; k++)
        for (int e = 0; (!sel || sel[k]) && e < rec->sweeps[k].n_epochs; e++) {
            const nf_epoch *ep = &rec->sweeps[k].epochs[e];
            fprintf(cf.fp, "%d,%s,%s,%lld,%lld,%.17g,%.17g,%.17g\n", rec->sweeps[k].index, ep->name,
                    nf_epoch_type_name(ep->type), (long long)ep->first, (long long)ep->end, ep->start_ms, ep->end_ms,
                    ep->level_pA);
        }
    return nf_file_commit_close(&cf, 1); /* a write error (disk full) fails it */
}

static cJSON *meta_json(const nf_recording *rec, const unsigned char *sel, nf_export_format fmt, int64_t epoch_rows)
{
    const char *ext = fmt == NF_EXPORT_NPY ? "npy" : "csv";
    cJSON *m = cJSON_CreateObject(), *ch = cJSON_AddArrayToObject(m, "channels"), *sw = NULL;
    cJSON_AddStringToObject(m, "source", rec->path);
    cJSON_AddStringToObject(m, "format", nf_format_name(rec->format));
    cJSON_AddStringToObject(m, "format_detail", rec->format_detail);
    cJSON_AddNumberToObject(m, "rate_hz", rec->rate_hz);
    for (int c = 0; c < rec->n_channels; c++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "index", c);
        cJSON_AddStringToObject(o, "name", rec->channels[c].name);
        cJSON_AddStringToObject(o, "unit", rec->channels[c].unit);
        cJSON_AddItemToArray(ch, o);
    }
    cJSON_AddNumberToObject(m, "v_channel", rec->v_channel);
    cJSON_AddNumberToObject(m, "i_channel", rec->i_channel);
    cJSON_AddStringToObject(m, "current_origin", rec->i_origin);
    cJSON_AddStringToObject(m, "units", "t ms, V mV, I pA");
    cJSON_AddStringToObject(m, "sweep_files",
                            fmt == NF_EXPORT_NPY ? "sweeps/sweep_<index>.npy: float64 [samples][columns], columns t V (I)"
                                                 : "sweeps/sweep_<index>.csv: header t[ms],V[mV](,I[pA]), a sample a line");
    if (epoch_rows > 0)
        cJSON_AddStringToObject(
            m, "epochs",
            fmt == NF_EXPORT_NPY ? "epochs.npy: float64 [rows][8]: sweep, epoch (0 = A), type (1 step, 2 ramp, 3 pulse, "
                                   "9 other), first, end (samples, end exclusive), start_ms, end_ms, level_pA"
                                 : "epochs.csv: sweep,epoch,type,first,end,start_ms,end_ms,level_pA (end exclusive)");
    sw = cJSON_AddArrayToObject(m, "sweeps");
    for (int k = 0; k < rec->n_sweeps; k++) {
        if (sel && !sel[k]) continue;
        const nf_sweep *s = &rec->sweeps[k];
        char file[64];
        snprintf(file, sizeof file, "sweeps/sweep_%04d.%s", s->index, ext);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "index", s->index);
        cJSON_AddStringToObject(o, "file", file);
        cJSON_AddNumberToObject(o, "samples", (double)s->n);
        cJSON_AddNumberToObject(o, "dt_ms", s->dt_ms);
        cJSON_AddNumberToObject(o, "start_ms", s->start_ms);
        cJSON_AddStringToObject(o, "current", current_name(s->i_source));
        cJSON_AddNumberToObject(o, "epochs", s->n_epochs);
        cJSON_AddItemToArray(sw, o);
    }
    return m;
}

nf_status nf_recording_export(const nf_recording *rec, const unsigned char *sweeps, nf_export_format fmt,
                              const char *dir)
{
    if (!rec || !dir) return nf__fail(NF_EINVAL, "nf_recording_export: NULL argument");
    if (fmt != NF_EXPORT_NPY && fmt != NF_EXPORT_CSV) return nf__fail(NF_EINVAL, "export: unknown format %d", (int)fmt);
    int n_sel = 0;
    int64_t epoch_rows = 0;
    for (int k = 0; k < rec->n_sweeps; k++)
        if (!sweeps || sweeps[k]) {
            n_sel++;
            epoch_rows += rec->sweeps[k].n_epochs;
        }
    if (n_sel == 0) return nf__fail(NF_EINVAL, "export: %s: no sweep selected", rec->path);
    const char *ext = fmt == NF_EXPORT_NPY ? "npy" : "csv";
    nf_stage *st = NULL;
    nf_status s = nf_stage_open(dir, &st);
    char path[4096], sub[4096], name[64];
    if (!s) s = nf_path_join(sub, sizeof sub, nf_stage_path(st), "sweeps");
    if (!s) s = nf_mkdir_p(sub);
    for (int k = 0; k < rec->n_sweeps && !s; k++) {
        if (sweeps && !sweeps[k]) continue;
        snprintf(name, sizeof name, "sweep_%04d.%s", rec->sweeps[k].index, ext);
        s = nf_path_join(path, sizeof path, sub, name);
        if (!s) s = write_sweep(path, &rec->sweeps[k], fmt);
    }
    snprintf(name, sizeof name, "epochs.%s", ext);
    if (!s && epoch_rows > 0) s = nf_path_join(path, sizeof path, nf_stage_path(st), name);
    if (!s && epoch_rows > 0) s = write_epochs(path, rec, sweeps, fmt, epoch_rows);
    if (!s) {
        cJSON *m = meta_json(rec, sweeps, fmt, epoch_rows);
        char *text = m ? cJSON_Print(m) : NULL;
        cJSON_Delete(m);
        s = text ? nf_path_join(path, sizeof path, nf_stage_path(st), "meta.json")
                 : nf__fail(NF_ENOMEM, "export: out of memory");
        if (!s) s = nf_file_write_string(path, text);
        free(text);
    }
    static const char *const set[] = {"sweeps", "epochs.csv", "epochs.npy", "meta.json"};
    if (!s) s = nf_stage_commit(st, set, 4);
    nf_stage_destroy(st);
    return s;
}
