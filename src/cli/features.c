/* `neurofit features`: electrophysiology features of recorded traces.
 *
 *   neurofit features FILE... [--sweep N|all] [--stim-start MS --stim-end MS] [--threshold MV]
 *       [--features a,b,c] [--format json|csv] [--columns SPEC] [--dt MS] [--interp-step MS] [--list]
 *
 * Every file goes through the recordings reader (neurofit/recording.h): ABF,
 * NWB and IBW give one record per sweep; a text file is one trace (columns by
 * position t[ms] V[mV] and an optional I[pA], a header line skipped, or named
 * by --columns), a .npy file one trace (1-D V, needs --dt) or one per row
 * (2-D [n_traces][n] V, --dt). Without --stim-start/--stim-end the window is
 * where the current departs from its first value. Everything is read and
 * computed before anything is printed. */
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "neurofit/features.h"
#include "neurofit/recording.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD "features"

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: neurofit features FILE... [--sweep N|all] [--stim-start MS --stim-end MS] [--threshold MV]\n"
            "         [--features a,b,c] [--format json|csv] [--columns SPEC] [--dt MS] [--interp-step MS] [--list]\n\n"
            "  FILE             ABF 1/2, NWB 2 or IBW recording (.abf, .nwb, .ibw): one record per sweep;\n"
            "  FILE             text: columns t[ms] V[mV] [I[pA]] by position (whitespace or CSV, a header skipped);\n"
            "                   .npy: 1-D V[mV] or 2-D [traces][samples] V[mV], with --dt\n"
            "  --stim-start/--stim-end  stimulus window in ms (default: where I departs from its first\n"
            "                   value; required for files without a current column)\n"
            "  --sweep N|all    sweeps of ABF/NWB/IBW recordings (default all)\n"
            "  --threshold MV   spike detection threshold (default -20 mV, eFEL's)\n"
            "  --features LIST  comma-separated names (default: all; --list prints them)\n"
            "  --format         json (default: an array, one object per trace) or csv (one row per trace)\n"
            "  --columns SPEC   name the columns of a text file or 2-D .npy table instead, as for\n"
            "                   `neurofit info` (e.g. \"t[s] I[pA] V[mV]\"; a .npy is then [samples][columns])\n"
            "  --dt MS          sample interval for .npy files and one-column text files\n"
            "  --interp-step MS resampling step (default 0.1 ms, eFEL's; 0: use the samples as given)\n");
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

/* Features of one sweep, appended to the CSV text and the JSON array. A table
 * (text, .npy) keeps the times the file gave and is labelled FILE or FILE#row;
 * a recording sweep on a regular grid goes in as dt and is labelled by sweep. */
static int process(nf_features *f, const nf_recording *rec, const nf_sweep *S, double ss, double se, const int *ids,
                   int n_ids, FILE *csv_fp, cJSON *records)
{
    const char *file = rec->path;
    int table = rec->format == NF_FORMAT_TEXT || rec->format == NF_FORMAT_NPY;
    int k = table ? S->index : 0; /* the record's "trace" */
    const double *t = table || !(S->dt_ms > 0) ? S->t : NULL;
    nf_trace x = {.t = t, .dt_ms = S->dt_ms, .v = S->v, .i = S->i, .n = S->n, .stim_start_ms = ss,
                  .stim_end_ms = se};
    if (isnan(ss) && !(S->i && window_from_current(t, S->dt_ms, S->i, S->n, &x.stim_start_ms, &x.stim_end_ms)))
        return nf_cli_error(CMD, NF_EXIT_USAGE,
                            "%s: no current step to find the stimulus window: give --stim-start and --stim-end", file);
    if (nf_features_compute(f, &x)) return nf_cli_error(CMD, NF_EXIT_USAGE, "%s trace %d: %s", file, k, nf_errmsg());
    char label[4200];
    if (!table)
        snprintf(label, sizeof label, "%s sweep %d", file, S->index);
    else if (rec->n_sweeps > 1)
        snprintf(label, sizeof label, "%s#%d", file, k);
    else
        snprintf(label, sizeof label, "%s", file);
    nf_features_write_csv_row(csv_fp, f, label, ids, n_ids);
    cJSON *r = cJSON_CreateObject(), *feat = nf_features_to_json(f, ids, n_ids);
    if (!r || !feat) {
        cJSON_Delete(r);
        cJSON_Delete(feat);
        return nf_cli_error(CMD, NF_EXIT_FAIL, "out of memory");
    }
    cJSON_AddStringToObject(r, "file", file);
    cJSON_AddNumberToObject(r, "trace", k);
    if (!table) cJSON_AddNumberToObject(r, "sweep", S->index);
    cJSON_AddNumberToObject(r, "stim_start_ms", x.stim_start_ms);
    cJSON_AddNumberToObject(r, "stim_end_ms", x.stim_end_ms);
    cJSON_AddItemToObject(r, "features", feat);
    cJSON_AddItemToArray(records, r);
    return 0;
}

enum { O_LIST = NF_CLI_OWN, O_STIM_START, O_STIM_END, O_THRESHOLD, O_DT, O_INTERP_STEP, O_SWEEP, O_FEATURES,
       O_COLUMNS, O_FORMAT };

static const struct option features_options[] = {
    NF_CLI_OPT_HELP,
    {"list", no_argument, NULL, O_LIST},
    {"stim-start", required_argument, NULL, O_STIM_START},
    {"stim-end", required_argument, NULL, O_STIM_END},
    {"threshold", required_argument, NULL, O_THRESHOLD},
    {"dt", required_argument, NULL, O_DT},
    {"interp-step", required_argument, NULL, O_INTERP_STEP},
    {"sweep", required_argument, NULL, O_SWEEP},
    {"features", required_argument, NULL, O_FEATURES},
    {"columns", required_argument, NULL, O_COLUMNS},
    {"format", required_argument, NULL, O_FORMAT},
    NF_CLI_OPT_END};

static void print_list(void)
{
    printf("| feature | unit | kind |\n|---|---|---|\n");
    for (int k = 0; k < nf_feature_count(); k++)
        printf("| %s | %s | %s |\n", nf_feature_name(k), nf_feature_unit(k), nf_feature_is_vector(k) ? "vector" : "scalar");
}

int nf_cli_features(int argc, char **argv)
{
    double ss = NAN, se = NAN, dt = 0;
    int sweep_sel = -1; /* -1: all sweeps */
    const char *list = NULL, *format = "json", *columns = NULL;
    nf_features_opts opts;
    nf_features_opts_default(&opts);
    const char **files = calloc((size_t)argc, sizeof *files);
    int n_files = 0;
    if (!files) return nf_cli_error(CMD, NF_EXIT_FAIL, "out of memory");
    nf_cli_parser p;
    nf_cli_parser_init(&p, CMD, argc, argv, features_options, NULL);
    for (int k; (k = nf_cli_next(&p)) != NF_CLI_END;) {
        const char *v = p.arg;
        int rc = 0;
        int64_t sv;
        switch (k) {
        case NF_CLI_HELP: usage(stdout); free(files); return NF_EXIT_OK;
        case O_LIST: print_list(); free(files); return NF_EXIT_OK;
        case NF_CLI_ERROR: rc = p.rc; break;
        case NF_CLI_ARG: files[n_files++] = v; break;
        case O_STIM_START:
            if (!nf_cli_parse_double(v, &ss)) rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--stim-start %s: not a time in ms", v);
            break;
        case O_STIM_END:
            if (!nf_cli_parse_double(v, &se)) rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--stim-end %s: not a time in ms", v);
            break;
        case O_THRESHOLD:
            if (!nf_cli_parse_double(v, &opts.threshold_mV))
                rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--threshold %s: not a voltage in mV", v);
            break;
        case O_DT:
            if (!nf_cli_parse_double(v, &dt) || dt <= 0)
                rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--dt %s: need a sample interval > 0 ms", v);
            break;
        case O_INTERP_STEP:
            if (!nf_cli_parse_double(v, &opts.interp_step_ms) || opts.interp_step_ms < 0)
                rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--interp-step %s: need a step >= 0 ms", v);
            break;
        case O_SWEEP:
            if (!strcmp(v, "all"))
                sweep_sel = -1;
            else if (nf_cli_parse_i64(v, &sv) && sv >= 0 && sv < 1000000)
                sweep_sel = (int)sv;
            else
                rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--sweep %s: a sweep number or all", v);
            break;
        case O_FEATURES: list = v; break;
        case O_COLUMNS: columns = v; break;
        case O_FORMAT:
            format = v;
            if (strcmp(v, "json") && strcmp(v, "csv")) rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--format %s: use json or csv", v);
            break;
        }
        if (rc) {
            free(files);
            return rc;
        }
    }
    int rc = NF_EXIT_OK;
    int ids[1024];
    int n_ids = nf_features_parse_list(list, ids, 1024);
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
    if (nf_features_create(&opts, &f)) {
        rc = nf_cli_error(CMD, NF_EXIT_USAGE, "%s", nf_errmsg());
        goto done;
    }
    csv_fp = open_memstream(&csv, &csv_len);
    if (!records || !csv_fp) {
        rc = nf_cli_error(CMD, NF_EXIT_FAIL, "out of memory");
        goto done;
    }
    nf_features_write_csv_header(csv_fp, ids, n_ids);
    /* Tables as this command has always read them, unless --columns names them. */
    nf_recording_options ro;
    nf_recording_options_default(&ro);
    ro.columns = columns;
    ro.dt_ms = dt;
    ro.columns_by_position = 1;
    ro.npy_rows_are_sweeps = 1;
    for (int fi = 0; fi < n_files && !rc; fi++) {
        nf_recording *rec = NULL;
        if (nf_recording_open(files[fi], &ro, &rec)) {
            rc = nf_cli_error(CMD, NF_EXIT_USAGE, "%s", nf_errmsg());
            break;
        }
        /* --sweep selects sweeps of ABF/NWB/IBW recordings; every row of a table counts */
        int sel = rec->format == NF_FORMAT_TEXT || rec->format == NF_FORMAT_NPY ? -1 : sweep_sel;
        if (sel >= rec->n_sweeps)
            rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--sweep %d: %s has sweeps 0..%d", sel, files[fi], rec->n_sweeps - 1);
        for (int sw = 0; sw < rec->n_sweeps && !rc; sw++)
            if (sel < 0 || sw == sel) rc = process(f, rec, &rec->sweeps[sw], ss, se, ids, n_ids, csv_fp, records);
        nf_recording_destroy(rec);
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
