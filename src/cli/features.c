/* `neurofit features`: electrophysiology features of recorded traces.
 *
 *   neurofit features FILE... [--sweep N|all] [--stim-start MS --stim-end MS] [--threshold MV]
 *       [--features a,b,c] [--setting NAME=VALUE]... [--format json|csv] [--interp-step MS] [--list]
 *       [--columns SPEC] [--dt MS] [--channel N] [--current recorded|protocol] [--current-file IBW]
 *
 * Every file goes through the recordings reader (neurofit/recording.h), read
 * as every command reads it (the shared recording options of cli_util.h):
 * ABF, NWB and IBW give one record per sweep, a text file one trace, a .npy
 * file one trace (1-D V, needs --dt) or one per row (2-D [n_traces][n] V,
 * --dt). Without --stim-start/--stim-end each sweep's window is found by
 * nf_stim_window_find (a protocol epoch, or a step in the current); the
 * choice is in the output and ambiguous ones are warned about on stderr. A
 * sweep whose window cannot be found is named on stderr and skipped (with
 * --strict it fails the command); a window given must lie inside each sweep.
 * Everything is read and computed before anything is printed. */
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "neurofit/features.h"
#include "neurofit/recording.h"
#include "neurofit/stim_window.h"

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
            "         [--features a,b,c] [--setting NAME=VALUE]... [--format json|csv] [--interp-step MS] [--list]\n"
            "         [--columns SPEC] [--dt MS] [--channel N] [--current recorded|protocol] [--current-file IBW]\n\n"
            "  FILE             ABF 1/2, NWB 2 or IBW recording: one record per sweep; a text table (t V,\n"
            "                   or named columns); .npy: 1-D V[mV] or 2-D [traces][samples] V[mV], with --dt\n"
            "  --stim-start/--stim-end  stimulus window in ms (default: each sweep's protocol epoch whose\n"
            "                   level changes across sweeps, or the step in its current; printed with why;\n"
            "                   a sweep without one is skipped, named on stderr)\n"
            "  --strict         a sweep whose stimulus window cannot be found fails the command (exit 2)\n"
            "  --sweep N|all    sweeps of ABF/NWB/IBW recordings (default all)\n"
            "  --threshold MV   spike detection threshold (default -20 mV, eFEL's; = --setting Threshold=MV)\n"
            "  --features LIST  comma-separated names, `all` for the default set (every feature but the traces\n"
            "                   time, voltage, current and the deprecated names); --list prints them\n"
            "  --setting N=V    an eFEL setting by its eFEL name, e.g. strict_stiminterval=1,\n"
            "                   DerivativeThreshold=12, voltage_base_mode=median (repeatable)\n"
            "  --format         json (default: an array, one object per trace) or csv (one row per trace)\n"
            "  --interp-step MS resampling step (default 0.1 ms, eFEL's; 0: use the samples as given)\n"
            "  --list           every feature: name, unit, kind and definition\n" NF_CLI_HELP_RECORDING
            "                   (a 2-D .npy with --columns is one [samples][columns] table)\n");
}

/* One warning per distinct message of a file: sweeps usually share their window. */
static void note_window(const char *file, const nf_stim_window *w, char *last, size_t cap)
{
    if (!w->ambiguous || !strcmp(last, w->why)) return;
    snprintf(last, cap, "%s", w->why);
    fprintf(stderr, "neurofit features: warning: %s: stimulus window %g-%g ms from %s\n", file, w->start_ms, w->end_ms,
            w->why);
}

/* Features of one sweep, appended to the CSV text and the JSON array. A table
 * (text, .npy) keeps the times the file gave and is labelled FILE or FILE#row;
 * a recording sweep on a regular grid goes in as dt and is labelled by sweep. */
#define SKIPPED (-1) /* process(): the sweep has no stimulus window */

static int process(nf_features *f, const nf_recording *rec, int sweep, double ss, double se, int strict,
                   const int *ids, int n_ids, FILE *csv_fp, cJSON *records, char *last_note, size_t note_cap)
{
    const nf_sweep *S = &rec->sweeps[sweep];
    const char *file = rec->path;
    int table = rec->format == NF_FORMAT_TEXT || rec->format == NF_FORMAT_NPY;
    int k = table ? S->index : 0; /* the record's "trace" */
    const double *t = table || !(S->dt_ms > 0) ? S->t : NULL;
    char which[4200];
    if (table)
        snprintf(which, sizeof which, rec->n_sweeps > 1 ? "%s trace %d" : "%s", file, k);
    else
        snprintf(which, sizeof which, "%s sweep %d", file, S->index);
    nf_stim_window w = {.start_ms = ss, .end_ms = se};
    if (isnan(ss)) {
        if (nf_stim_window_find(rec, sweep, &w)) {
            if (strict)
                return nf_cli_error(CMD, NF_EXIT_USAGE, "%s: %s; give --stim-start and --stim-end", which, nf_errmsg());
            fprintf(stderr, "neurofit features: %s skipped: %s (give --stim-start and --stim-end, or --strict to "
                    "fail)\n", which, nf_errmsg());
            return SKIPPED;
        }
        note_window(file, &w, last_note, note_cap);
    } else { /* a window given must lie inside the sweep */
        double t0 = t ? t[0] : 0, t1 = t ? t[S->n - 1] : (double)(S->n - 1) * S->dt_ms;
        if (ss < t0 || se > t1)
            return nf_cli_error(CMD, NF_EXIT_USAGE, "%s: --stim-start %g --stim-end %g ms is outside the sweep (%g to "
                                "%g ms)", which, ss, se, t0, t1);
    }
    nf_trace x = {.t = t, .dt_ms = S->dt_ms, .v = S->v, .i = S->i, .n = S->n, .stim_start_ms = w.start_ms,
                  .stim_end_ms = w.end_ms};
    if (nf_features_compute(f, &x)) return nf_cli_error(CMD, NF_EXIT_USAGE, "%s: %s", which, nf_errmsg());
    char label[4200];
    if (!table)
        snprintf(label, sizeof label, "%s sweep %d", file, S->index);
    else if (rec->n_sweeps > 1)
        snprintf(label, sizeof label, "%s#%d", file, k);
    else
        snprintf(label, sizeof label, "%s", file);
    nf_features_write_csv_row(csv_fp, f, label, ids, n_ids);
    cJSON *r = cJSON_CreateObject(), *feat = nf_features_to_json(f, ids, n_ids), *win = cJSON_CreateObject();
    if (!r || !feat || !win) {
        cJSON_Delete(r);
        cJSON_Delete(feat);
        cJSON_Delete(win);
        return nf_cli_error(CMD, NF_EXIT_FAIL, "out of memory");
    }
    cJSON_AddStringToObject(r, "file", file);
    cJSON_AddNumberToObject(r, "trace", k);
    if (!table) cJSON_AddNumberToObject(r, "sweep", S->index);
    cJSON_AddNumberToObject(r, "stim_start_ms", x.stim_start_ms);
    cJSON_AddNumberToObject(r, "stim_end_ms", x.stim_end_ms);
    const char *source = !isnan(ss) ? "given" : w.source == NF_STIM_WINDOW_EPOCH ? "epoch" : "current";
    cJSON_AddStringToObject(win, "source", source);
    if (w.epoch[0]) cJSON_AddStringToObject(win, "epoch", w.epoch);
    cJSON_AddStringToObject(win, "why", isnan(ss) ? w.why : "--stim-start and --stim-end");
    cJSON_AddBoolToObject(win, "ambiguous", w.ambiguous);
    cJSON_AddItemToObject(r, "stim_window", win);
    cJSON_AddItemToObject(r, "features", feat);
    cJSON_AddItemToArray(records, r);
    return 0;
}

enum { O_LIST = NF_CLI_OWN, O_STIM_START, O_STIM_END, O_THRESHOLD, O_INTERP_STEP, O_SWEEP, O_FEATURES, O_FORMAT,
       O_SETTING, O_STRICT };

static const struct option features_options[] = {
    NF_CLI_OPT_HELP,
    {"list", no_argument, NULL, O_LIST},
    {"stim-start", required_argument, NULL, O_STIM_START},
    {"stim-end", required_argument, NULL, O_STIM_END},
    {"threshold", required_argument, NULL, O_THRESHOLD},
    {"interp-step", required_argument, NULL, O_INTERP_STEP},
    {"sweep", required_argument, NULL, O_SWEEP},
    {"features", required_argument, NULL, O_FEATURES},
    {"format", required_argument, NULL, O_FORMAT},
    {"setting", required_argument, NULL, O_SETTING},
    {"strict", no_argument, NULL, O_STRICT},
    NF_CLI_OPTS_RECORDING,
    NF_CLI_OPT_END};

static void print_list(void)
{
    static const char *const kinds[] = {"scalar", "vector", "indices", "trace", "alias"};
    printf("| feature | unit | kind | definition |\n|---|---|---|---|\n");
    for (int k = 0; k < nf_feature_count(); k++)
        printf("| %s | %s | %s | %s |\n", nf_feature_name(k), nf_feature_unit(k), kinds[nf_feature_kind_of(k)],
               nf_feature_definition(k));
}

int nf_cli_features(int argc, char **argv)
{
    double ss = NAN, se = NAN;
    int sweep_sel = -1, strict = 0, n_done = 0, n_skipped = 0; /* sweep -1: all sweeps */
    const char *list = NULL, *format = "json";
    nf_features_opts opts;
    nf_features_opts_default(&opts);
    const char **files = calloc((size_t)argc, sizeof *files);
    int n_files = 0;
    if (!files) return nf_cli_error(CMD, NF_EXIT_FAIL, "out of memory");
    nf_cli_parser p;
    nf_recording_options ro;
    nf_recording_options_default(&ro);
    nf_cli_parser_init(&p, CMD, argc, argv, features_options, NULL);
    p.recording = &ro;
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
        case O_STRICT: strict = 1; break;
        case O_SETTING: {
            char name[64];
            const char *eq = strchr(v, '=');
            if (!eq || eq == v || (size_t)(eq - v) >= sizeof name) {
                rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--setting %s: use NAME=VALUE (eFEL's setting names)", v);
                break;
            }
            memcpy(name, v, (size_t)(eq - v));
            name[eq - v] = 0;
            if (nf_features_opts_set(&opts, name, eq + 1))
                rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--setting: %s", nf_errmsg());
            break;
        }
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
    /* Text as every command reads it; a 2-D .npy as rows of V unless --columns names its columns. */
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
        char last_note[256] = "";
        for (int sw = 0; sw < rec->n_sweeps && !rc; sw++)
            if (sel < 0 || sw == sel) {
                rc = process(f, rec, sw, ss, se, strict, ids, n_ids, csv_fp, records, last_note, sizeof last_note);
                if (rc == SKIPPED) n_skipped++, rc = 0;
                else if (!rc) n_done++;
            }
        nf_recording_destroy(rec);
    }
    if (!rc && !n_done && n_skipped)
        rc = nf_cli_error(CMD, NF_EXIT_USAGE, "no sweep had a stimulus window (%d skipped): give --stim-start and "
                          "--stim-end", n_skipped);
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
