/* `neurofit predict`: score fitted models on recordings they were not fitted
 * to, as a fit scores its held-out sweeps (nf_fit_score), and write the same
 * outputs as `neurofit fit` (results.json, results.csv, sweeps.csv,
 * best_traces.npy, report.html) for them.
 *
 *   neurofit predict RESULTS.json RECORDING... --out DIR [--cell NAME] [--rank K]
 *       [--sweeps all|LIST] [--time START:END] [--current FILE] [--weights SPEC]
 *       [--threshold MV] [--window MS] [--stim-start MS --stim-end MS]
 *       [--backend B] [--threads N] [--all-traces] [--force] [--quiet]
 *
 * The fitted models are those of one cell (group) of RESULTS.json: its only
 * one, or --cell NAME; all its listed models, or the one of rank K. The
 * scores use the fit's own options (weights, objectives, threshold,
 * coincidence window) unless given here. */
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "cli/fit_load.h"
#include "neurofit/fileio.h"
#include "neurofit/fit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD "predict"

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: neurofit predict RESULTS.json RECORDING... --out DIR [options]\n\n"
            "  RESULTS.json         a fit's results (neurofit fit --out DIR: DIR/results.json)\n"
            "  RECORDING...         recordings to predict (as neurofit fit reads them); every selected\n"
            "                       sweep is scored as a held-out sweep\n"
            "  --cell NAME          the cell (recording entry) of RESULTS.json whose models to use\n"
            "                       (needed when it holds several)\n"
            "  --rank K             only its model of rank K (default: every model it lists)\n"
            "  --sweeps all|LIST    sweeps of each recording (default all)\n"
            "  --time START:END     only this window of every sweep, ms\n"
            "  --current FILE       the injected current from FILE (as neurofit fit --current)\n"
            "  --weights SPEC       score weights (default: the fit's)\n"
            "  --threshold MV       spike detection (default: the fit's)\n"
            "  --window MS          spike coincidence window (default: the fit's)\n"
            "  --stim-start MS --stim-end MS   feature window (default: each sweep's, as neurofit fit)\n"
            "  --out DIR            output directory (required)\n"
            "  --all-traces         also model_traces.npy, every model's trace\n"
            "  --force              replace earlier results in DIR\n"
            "  --backend B, --threads N, --quiet\n"
            "How the recordings are read:\n" NF_CLI_HELP_RECORDING);
}

enum { O_CELL = NF_CLI_OWN, O_RANK, O_SWEEPS, O_TIME, O_WEIGHTS, O_THRESHOLD, O_WINDOW, O_STIM_START, O_STIM_END,
       O_ALL_TRACES };

static const struct option predict_options[] = {
    NF_CLI_OPT_HELP, NF_CLI_OPT_OUT, NF_CLI_OPT_FORCE, NF_CLI_OPT_QUIET, NF_CLI_OPT_BACKEND, NF_CLI_OPT_THREADS,
    {"cell", required_argument, NULL, O_CELL},
    {"rank", required_argument, NULL, O_RANK},
    {"sweeps", required_argument, NULL, O_SWEEPS},
    {"time", required_argument, NULL, O_TIME},
    {"weights", required_argument, NULL, O_WEIGHTS},
    {"threshold", required_argument, NULL, O_THRESHOLD},
    {"window", required_argument, NULL, O_WINDOW},
    {"stim-start", required_argument, NULL, O_STIM_START},
    {"stim-end", required_argument, NULL, O_STIM_END},
    {"all-traces", no_argument, NULL, O_ALL_TRACES},
    NF_CLI_OPTS_RECORDING,
    NF_CLI_OPT_END};

/* The cells of a results.json when --cell is missing: the only one, or an
 * error naming them. */
static int one_cell(const nf_fit_candidates *fc, const char *path)
{
    for (int k = 1; k < fc->n; k++) {
        size_t a = strcspn(fc->labels[0], ":"), b = strcspn(fc->labels[k], ":");
        if (a != b || strncmp(fc->labels[0], fc->labels[k], a))
            return nf_cli_error(CMD, NF_EXIT_USAGE, "%s holds several cells (\"%.*s\", \"%.*s\", ...): choose one "
                                "with --cell NAME", path, (int)a, fc->labels[0], (int)b, fc->labels[k]);
    }
    return 0;
}

int nf_cli_predict(int argc, char **argv)
{
    nf_recording_options ro;
    nf_recording_options_default(&ro);
    const char *args[1024], *cell = NULL, *sweeps = "all", *weights = NULL;
    int n_args = 0, all_traces = 0;
    int64_t rank = 0;
    double t0 = 0, t1 = 0, threshold = NAN, window = NAN, stim_start = NAN, stim_end = NAN;
    nf_cli_common c = {.backend = NF_BACKEND_AUTO};
    nf_cli_parser p;
    nf_cli_parser_init(&p, CMD, argc, argv, predict_options, &c);
    p.recording = &ro;
    for (int k; (k = nf_cli_next(&p)) != NF_CLI_END;) {
        const char *v = p.arg;
        double d;
        int rc;
        switch (k) {
        case NF_CLI_HELP: usage(stdout); return NF_EXIT_OK;
        case NF_CLI_ERROR: return p.rc;
        case NF_CLI_ARG:
            if (n_args == 1024)
                return nf_cli_error(CMD, NF_EXIT_USAGE, "more than 1023 recordings");
            args[n_args++] = v;
            break;
        case O_CELL: cell = v; break;
        case O_SWEEPS: sweeps = v; break;
        case O_WEIGHTS: weights = v; break;
        case O_ALL_TRACES: all_traces = 1; break;
        case O_RANK:
            if (!nf_cli_parse_i64(v, &rank) || rank < 1 || rank > 1000)
                return nf_cli_error(CMD, NF_EXIT_USAGE, "--rank %s: expected a rank >= 1", v);
            break;
        case O_TIME:
            if ((rc = nf_cli_parse_time(CMD, v, &t0, &t1)))
                return rc;
            break;
        case O_THRESHOLD: case O_WINDOW: case O_STIM_START: case O_STIM_END:
            if (!nf_cli_parse_double(v, &d))
                return nf_cli_error(CMD, NF_EXIT_USAGE, "%s %s: expected a number", p.name, v);
            if (k == O_THRESHOLD) threshold = d;
            else if (k == O_WINDOW) window = d;
            else if (k == O_STIM_START) stim_start = d;
            else stim_end = d;
            break;
        }
    }
    if (!c.out)
        return nf_cli_error(CMD, NF_EXIT_USAGE, "--out DIR is required");
    if (n_args < 2)
        return nf_cli_error(CMD, NF_EXIT_USAGE, "give a fit's results.json and at least one recording");
    if (isnan(stim_start) != isnan(stim_end) || (!isnan(stim_start) && !(stim_end > stim_start)))
        return nf_cli_error(CMD, NF_EXIT_USAGE, "--stim-start and --stim-end go together, end after start");
    const char *results = args[0];
    nf_fit_candidates fc;
    nf_status st = nf_fit_candidates_read(results, cell, (int)rank, &fc);
    if (st)
        return nf_cli_error(CMD, st == NF_ENOMEM ? NF_EXIT_FAIL : NF_EXIT_USAGE, "%s", nf_errmsg());
    int rc = cell ? 0 : one_cell(&fc, results);
    nf_fit_options o = fc.options;
    o.backend = c.backend;
    o.threads = c.threads;
    o.top_k = fc.n;
    if (!isnan(threshold)) o.threshold_mV = threshold;
    if (!isnan(window)) o.gamma_window_ms = window;
    if (!rc && weights && nf_fit_weights_parse(weights, &o))
        rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--weights: %s", nf_errmsg());
    nf_cli_loaded L = {.cmd = CMD};
    nf_cli_load_opts lo = {.ro = &ro, .sweeps = sweeps, .t0 = t0, .t1 = t1, .find_window = isnan(stim_start),
                           .quiet = c.quiet};
    for (int f = 1; f < n_args && !rc; f++)
        rc = nf_cli_load_file(&L, args[f], &lo, "predicted", 1, NULL);
    for (int k = 0; k < L.n && !rc && !isnan(stim_start); k++) {
        L.t[k].stim_start_ms = stim_start - (t1 > t0 ? t0 : 0);
        L.t[k].stim_end_ms = stim_end - (t1 > t0 ? t0 : 0);
    }
    nf_out_lock *lock = NULL; /* one writer of --out; earlier results kept unless --force */
    if (!rc)
        rc = nf_cli_out_begin(CMD, c.out, "results.json", c.force, &lock);
    nf_cli_stop_mode(NF_CLI_STOP_EXIT); /* nothing staged while scoring: a signal just ends the run */
    nf_fit_result *res = NULL;
    if (!rc && (st = nf_fit_score(L.t, L.n, fc.c, fc.n, &o, &res)))
        rc = nf_cli_error(CMD, st == NF_ENOMEM || st == NF_EIO ? NF_EXIT_FAIL : NF_EXIT_USAGE, "%s", nf_errmsg());
    if (!rc) { /* the group: the cell whose models these are */
        size_t a = strcspn(fc.labels[0], ":");
        char name[1024];
        snprintf(name, sizeof name, "%.*s: predicted", (int)a, fc.labels[0]);
        char *nm = strdup(name);
        if (nm) {
            free(res->groups[0].name);
            res->groups[0].name = nm;
        }
        nf_cli_stop_mode(NF_CLI_STOP_FLAG); /* the set is written whole or not at all */
        if (nf_fit_write(res, L.t, &o, all_traces, c.out))
            rc = nf_cli_error(CMD, NF_EXIT_FAIL, "%s", nf_errmsg());
    }
    nf_cli_stop_mode(NF_CLI_STOP_DEFAULT);
    nf_cli_out_end(lock);
    if (!rc) {
        printf("| rank | model | held-out combined | Gamma | spike-count error | sub-RMSE (mV) |\n"
               "|---:|---|---:|---:|---:|---:|\n");
        for (int k = 0; k < res->n_models; k++) {
            const nf_fit_record *r = &res->records[k];
            printf("| %d | %s | %.4g | %.3f | %.3g | %.3g |\n", r->rank, r->model->name, r->test.combined,
                   r->test.gamma, r->test.count_error, r->test.sub_rmse_mV);
        }
        printf("\n%d model(s) of %s on %d sweep(s); wrote %s/results.json, results.csv, sweeps.csv, best_traces.npy, "
               "report.html%s\n", res->n_models, results, L.n, c.out, all_traces ? ", model_traces.npy" : "");
    }
    nf_fit_result_destroy(res);
    nf_cli_loaded_free(&L);
    nf_fit_candidates_free(&fc);
    return rc;
}
