/* `neurofit features`: electrophysiology features of recorded traces.
 *
 *   neurofit features FILE... [--sweep N|all] [--stim-start MS --stim-end MS] [--threshold MV]
 *       [--features a,b,c] [--format json|csv] [--dt MS] [--interp-step MS] [--list]
 *
 * One record per trace: a text file is one trace (columns t[ms] V[mV] and an
 * optional I[pA]; whitespace or commas; an optional header line), a .npy file
 * is one trace (1-D V, needs --dt) or one per row (2-D [n_traces][n] V, --dt).
 * Without --stim-start/--stim-end the window is where the current column
 * departs from its first value.
 *
 * ABF, NWB and IBW recordings go through the recordings reader
 * (neurofit/recording.h), one record per sweep. Everything is read and
 * computed before anything is printed. */
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "neurofit/features.h"
#include "neurofit/npy.h"
#include "neurofit/recording.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD "features"

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: neurofit features FILE... [--sweep N|all] [--stim-start MS --stim-end MS] [--threshold MV]\n"
            "         [--features a,b,c] [--format json|csv] [--dt MS] [--interp-step MS] [--list]\n\n"
            "  FILE             ABF 1/2, NWB 2 or IBW recording (.abf, .nwb, .ibw): one record per sweep;\n"
            "  FILE             text: columns t[ms] V[mV] [I[pA]] (whitespace or CSV, optional header);\n"
            "                   .npy: 1-D V[mV] or 2-D [traces][samples] V[mV], with --dt\n"
            "  --stim-start/--stim-end  stimulus window in ms (default: where I departs from its first\n"
            "                   value; required for files without a current column)\n"
            "  --sweep N|all    sweeps of ABF/NWB/IBW recordings (default all)\n"
            "  --threshold MV   spike detection threshold (default -20 mV, eFEL's)\n"
            "  --features LIST  comma-separated names (default: all; --list prints them)\n"
            "  --format         json (default: an array, one object per trace) or csv (one row per trace)\n"
            "  --dt MS          sample interval for .npy files and one-column text files\n"
            "  --interp-step MS resampling step (default 0.1 ms, eFEL's; 0: use the samples as given)\n");
}

/* The traces of one file. t is NULL for a uniform axis (dt_ms); v and i are
 * [n_traces][n]; i may be NULL. */
typedef struct {
    double *t, *v, *i;
    int64_t n, n_traces;
    double dt_ms;
    int sweep;    /* sweep number of a recording file, -1 for text / .npy */
    int borrowed; /* arrays belong to an nf_recording */
} traces;

static void traces_free(traces *tr)
{
    if (tr->borrowed) {
        memset(tr, 0, sizeof *tr);
        return;
    }
    free(tr->t);
    free(tr->v);
    free(tr->i);
    memset(tr, 0, sizeof *tr);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

static int load_npy(const char *path, double dt_ms, traces *out)
{
    if (!(dt_ms > 0)) return nf_cli_error(CMD, NF_EXIT_USAGE, "%s: a .npy file holds V only: give --dt MS", path);
    float *data = NULL;
    int ndim;
    int64_t shape[4];
    if (nf_npy_read_f32(path, &data, &ndim, shape, 4)) return nf_cli_error(CMD, NF_EXIT_USAGE, "%s", nf_errmsg());
    if (ndim < 1 || ndim > 2) {
        free(data);
        return nf_cli_error(CMD, NF_EXIT_USAGE, "%s: %d dimensions; expected 1-D V or 2-D [traces][samples]", path,
                            ndim);
    }
    out->n_traces = ndim == 2 ? shape[0] : 1;
    out->n = ndim == 2 ? shape[1] : shape[0];
    size_t total = (size_t)out->n_traces * (size_t)out->n;
    out->v = malloc(sizeof(double) * (total ? total : 1));
    if (!out->v) {
        free(data);
        return nf_cli_error(CMD, NF_EXIT_FAIL, "%s: out of memory", path);
    }
    for (size_t k = 0; k < total; k++) out->v[k] = data[k];
    free(data);
    out->dt_ms = dt_ms;
    return 0;
}

/* Split a text line into numbers; returns the count, -1 when a token is not a
 * number (a header), -2 when there are more than cap. */
static int split_numbers(char *s, double *x, int cap)
{
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(s, ", \t\r\n;", &save); tok; tok = strtok_r(NULL, ", \t\r\n;", &save)) {
        if (n == cap) return -2;
        char *end;
        errno = 0;
        x[n] = strtod(tok, &end);
        if (*end || end == tok || errno == ERANGE) return -1;
        n++;
    }
    return n;
}

static int load_text(const char *path, double dt_ms, traces *out)
{
    FILE *fp = fopen(path, "r");
    if (!fp) return nf_cli_error(CMD, NF_EXIT_USAGE, "cannot open %s: %s", path, strerror(errno));
    int rc = 0, ncol = 0;
    size_t cap = 0, n = 0;
    double *col[3] = {NULL, NULL, NULL};
    char line[4096];
    long lineno = 0;
    while (fgets(line, sizeof line, fp)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(fp)) {
            rc = nf_cli_error(CMD, NF_EXIT_USAGE, "%s line %ld: longer than %zu characters", path, lineno,
                              sizeof line - 1);
            goto done;
        }
        char *s = line;
        while (isspace((unsigned char)*s)) s++;
        if (!*s || *s == '#') continue;
        double x[3];
        int k = split_numbers(s, x, 3);
        if (k == -1 && n == 0 && ncol == 0) continue; /* header line */
        if (k < 1) {
            rc = nf_cli_error(CMD, NF_EXIT_USAGE, "%s line %ld: %s", path, lineno,
                              k == -2 ? "more than 3 columns (expected t[ms] V[mV] [I[pA]])" : "not a number");
            goto done;
        }
        if (ncol == 0) ncol = k;
        if (k != ncol) {
            rc = nf_cli_error(CMD, NF_EXIT_USAGE, "%s line %ld: %d columns, earlier lines have %d", path, lineno, k,
                              ncol);
            goto done;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 4096;
            for (int c = 0; c < ncol; c++) {
                double *p = realloc(col[c], sizeof(double) * cap);
                if (!p) {
                    rc = nf_cli_error(CMD, NF_EXIT_FAIL, "%s: out of memory", path);
                    goto done;
                }
                col[c] = p;
            }
        }
        for (int c = 0; c < ncol; c++) col[c][n] = x[c];
        n++;
    }
    if (ferror(fp)) {
        rc = nf_cli_error(CMD, NF_EXIT_USAGE, "%s: read error", path);
        goto done;
    }
    if (n == 0) {
        rc = nf_cli_error(CMD, NF_EXIT_USAGE, "%s: no samples", path);
        goto done;
    }
    if (ncol == 1 && !(dt_ms > 0)) {
        rc = nf_cli_error(CMD, NF_EXIT_USAGE, "%s: one column (V): give --dt MS", path);
        goto done;
    }
    out->n = (int64_t)n;
    out->n_traces = 1;
    out->dt_ms = dt_ms;
    if (ncol == 1) {
        out->v = col[0];
    } else {
        out->t = col[0];
        out->v = col[1];
        out->i = ncol == 3 ? col[2] : NULL;
        if (ncol == 2) free(col[2]);
    }
    col[0] = col[1] = col[2] = NULL;
done:
    fclose(fp);
    for (int c = 0; c < 3; c++) free(col[c]);
    return rc;
}

/* The one place that reads files. */
static int load_traces(const char *path, double dt_ms, traces *out)
{
    memset(out, 0, sizeof *out);
    out->sweep = -1;
    return ends_with(path, ".npy") ? load_npy(path, dt_ms, out) : load_text(path, dt_ms, out);
}

/* Stimulus window from the current: the first and last samples that differ
 * from the holding value (the first sample) by more than 1% of the largest
 * departure. Returns 0 when there is no current step. */
static int window_from_current(const double *t, double dt, const double *i, int64_t n, double *ss, double *se)
{
    double hold = i[0], big = 0;
    for (int64_t k = 0; k < n; k++) big = fmax(big, fabs(i[k] - hold));
    if (!(big > 0)) return 0;
    int64_t a = -1, b = -1;
    for (int64_t k = 0; k < n; k++)
        if (fabs(i[k] - hold) > 0.01 * big) {
            if (a < 0) a = k;
            b = k;
        }
    *ss = t ? t[a] : (double)a * dt;
    *se = t ? t[b] : (double)b * dt;
    return *se > *ss;
}

/* Features of every trace of tr, appended to the CSV text and the JSON array. */
static int process(nf_features *f, const traces *tr, const char *file, double ss, double se, const int *ids,
                   int n_ids, FILE *csv_fp, cJSON *records)
{
    int rc = 0;
    for (int64_t k = 0; k < tr->n_traces && !rc; k++) {
        nf_trace x = {.t = tr->t, .dt_ms = tr->dt_ms, .v = tr->v + k * tr->n, .i = tr->i, .n = tr->n,
                      .stim_start_ms = ss, .stim_end_ms = se};
        if (isnan(ss) && !(tr->i && window_from_current(tr->t, tr->dt_ms, tr->i, tr->n, &x.stim_start_ms,
                                                       &x.stim_end_ms))) {
            rc = nf_cli_error(CMD, NF_EXIT_USAGE,
                              "%s: no current step to find the stimulus window: give --stim-start and --stim-end",
                              file);
            return rc;
        }
        if (nf_features_compute(f, &x)) {
            rc = nf_cli_error(CMD, NF_EXIT_USAGE, "%s trace %lld: %s", file, (long long)k, nf_errmsg());
            return rc;
        }
        char label[4200];
        if (tr->sweep >= 0)
            snprintf(label, sizeof label, "%s sweep %d", file, tr->sweep);
        else if (tr->n_traces > 1)
            snprintf(label, sizeof label, "%s#%lld", file, (long long)k);
        else
            snprintf(label, sizeof label, "%s", file);
        nf_features_write_csv_row(csv_fp, f, label, ids, n_ids);
        cJSON *rec = cJSON_CreateObject(), *feat = nf_features_to_json(f, ids, n_ids);
        if (!rec || !feat) {
            cJSON_Delete(rec);
            cJSON_Delete(feat);
            rc = nf_cli_error(CMD, NF_EXIT_FAIL, "out of memory");
            return rc;
        }
        cJSON_AddStringToObject(rec, "file", file);
        cJSON_AddNumberToObject(rec, "trace", (double)k);
        if (tr->sweep >= 0)
            cJSON_AddNumberToObject(rec, "sweep", tr->sweep);
        cJSON_AddNumberToObject(rec, "stim_start_ms", x.stim_start_ms);
        cJSON_AddNumberToObject(rec, "stim_end_ms", x.stim_end_ms);
        cJSON_AddItemToObject(rec, "features", feat);
        cJSON_AddItemToArray(records, rec);
    }
    return rc;
}

static int is_recording_file(const char *path)
{
    static const char *const ext[] = {".abf", ".ABF", ".nwb", ".NWB", ".ibw", ".IBW", ".h5", ".hdf5"};
    for (size_t k = 0; k < sizeof ext / sizeof ext[0]; k++)
        if (ends_with(path, ext[k]))
            return 1;
    return 0;
}

int nf_cli_features(int argc, char **argv)
{
    double ss = NAN, se = NAN, dt = 0;
    int sweep_sel = -1; /* -1: all sweeps */
    const char *list = NULL, *format = "json";
    nf_features_opts opts;
    nf_features_opts_default(&opts);
    const char **files = calloc((size_t)argc, sizeof *files);
    int n_files = 0;
    if (!files) return nf_cli_error(CMD, NF_EXIT_FAIL, "out of memory");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            free(files);
            return NF_EXIT_OK;
        }
        if (!strcmp(a, "--list")) {
            printf("| feature | unit | kind |\n|---|---|---|\n");
            for (int k = 0; k < nf_feature_count(); k++)
                printf("| %s | %s | %s |\n", nf_feature_name(k), nf_feature_unit(k),
                       nf_feature_is_vector(k) ? "vector" : "scalar");
            free(files);
            return NF_EXIT_OK;
        }
        if (strncmp(a, "--", 2) != 0) {
            files[n_files++] = a;
            continue;
        }
        int rc = 0;
        if (!(v = nf_cli_value(argc, argv, &i))) {
            rc = nf_cli_error(CMD, NF_EXIT_USAGE, "%s needs a value", a);
        } else if (!strcmp(a, "--stim-start")) {
            if (!nf_cli_parse_double(v, &ss)) rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--stim-start %s: not a time in ms", v);
        } else if (!strcmp(a, "--stim-end")) {
            if (!nf_cli_parse_double(v, &se)) rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--stim-end %s: not a time in ms", v);
        } else if (!strcmp(a, "--threshold")) {
            if (!nf_cli_parse_double(v, &opts.threshold_mV))
                rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--threshold %s: not a voltage in mV", v);
        } else if (!strcmp(a, "--dt")) {
            if (!nf_cli_parse_double(v, &dt) || dt <= 0)
                rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--dt %s: need a sample interval > 0 ms", v);
        } else if (!strcmp(a, "--interp-step")) {
            if (!nf_cli_parse_double(v, &opts.interp_step_ms) || opts.interp_step_ms < 0)
                rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--interp-step %s: need a step >= 0 ms", v);
        } else if (!strcmp(a, "--sweep")) {
            int64_t sv;
            if (!strcmp(v, "all"))
                sweep_sel = -1;
            else if (nf_cli_parse_i64(v, &sv) && sv >= 0 && sv < 1000000)
                sweep_sel = (int)sv;
            else
                rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--sweep %s: a sweep number or all", v);
        } else if (!strcmp(a, "--features")) {
            list = v;
        } else if (!strcmp(a, "--format")) {
            format = v;
            if (strcmp(v, "json") && strcmp(v, "csv"))
                rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--format %s: use json or csv", v);
        } else {
            rc = nf_cli_error(CMD, NF_EXIT_USAGE, "unknown option %s (see --help)", a);
        }
        if (rc) {
            free(files);
            return rc;
        }
    }
    int rc = NF_EXIT_OK;
    int ids[256];
    int n_ids = nf_features_parse_list(list, ids, 256);
    nf_features *f = NULL;
    cJSON *records = cJSON_CreateArray();
    char *csv = NULL;
    size_t csv_len = 0;
    FILE *csv_fp = NULL;
    if (n_ids < 0) {
        rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--features: %s", nf_errmsg());
        goto done;
    }
    if (n_files == 0) {
        rc = nf_cli_error(CMD, NF_EXIT_USAGE, "no input file (see --help)");
        goto done;
    }
    if (isnan(ss) != isnan(se)) {
        rc = nf_cli_error(CMD, NF_EXIT_USAGE, "give both --stim-start and --stim-end, or neither");
        goto done;
    }
    if (nf_features_create(&f, &opts)) {
        rc = nf_cli_error(CMD, NF_EXIT_USAGE, "%s", nf_errmsg());
        goto done;
    }
    csv_fp = open_memstream(&csv, &csv_len);
    if (!records || !csv_fp) {
        rc = nf_cli_error(CMD, NF_EXIT_FAIL, "out of memory");
        goto done;
    }
    nf_features_write_csv_header(csv_fp, ids, n_ids);
    for (int fi = 0; fi < n_files && !rc; fi++) {
        if (is_recording_file(files[fi])) {
            /* ABF / NWB / IBW: every selected sweep through the recordings reader */
            nf_recording *recd = NULL;
            nf_recording_options ro;
            nf_recording_options_init(&ro);
            if (nf_recording_open(files[fi], &ro, &recd)) {
                rc = nf_cli_error(CMD, NF_EXIT_USAGE, "%s", nf_errmsg());
                break;
            }
            if (sweep_sel >= recd->n_sweeps) {
                rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--sweep %d: %s has sweeps 0..%d", sweep_sel, files[fi],
                                  recd->n_sweeps - 1);
            }
            for (int sw = 0; sw < recd->n_sweeps && !rc; sw++) {
                if (sweep_sel >= 0 && sw != sweep_sel)
                    continue;
                const nf_sweep *S = &recd->sweeps[sw];
                traces tr = {.t = S->dt_ms > 0 ? NULL : S->t, .v = S->v, .i = S->i, .n = S->n, .n_traces = 1,
                             .dt_ms = S->dt_ms, .sweep = S->index, .borrowed = 1};
                rc = process(f, &tr, files[fi], ss, se, ids, n_ids, csv_fp, records);
            }
            nf_recording_free(recd);
            continue;
        }
        traces tr;
        if ((rc = load_traces(files[fi], dt, &tr))) break;
        rc = process(f, &tr, files[fi], ss, se, ids, n_ids, csv_fp, records);
        traces_free(&tr);
    }
    if (fclose(csv_fp)) rc = rc ? rc : nf_cli_error(CMD, NF_EXIT_FAIL, "out of memory");
    csv_fp = NULL;
    if (!rc) {
        if (!strcmp(format, "csv")) {
            fwrite(csv, 1, csv_len, stdout);
        } else {
            char *text = cJSON_Print(records);
            if (!text) {
                rc = nf_cli_error(CMD, NF_EXIT_FAIL, "out of memory");
            } else {
                puts(text);
                free(text);
            }
        }
        if (fflush(stdout)) rc = nf_cli_error(CMD, NF_EXIT_FAIL, "writing the output failed");
    }
done:
    if (csv_fp) fclose(csv_fp);
    free(csv);
    cJSON_Delete(records);
    nf_features_destroy(f);
    free(files);
    return rc;
}
