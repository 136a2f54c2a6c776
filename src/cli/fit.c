/* `neurofit fit`: fit candidate models to recordings, rank them, write
 * results.json, results.csv, best_traces.npy and report.html.
 *
 *   neurofit fit FILE... | --example  [--sweeps all|LIST] [--models all|a,b,..]
 *       [--optimizer cmaes|de|shade] [--budget EVALS] [--popsize N] [--restarts N]
 *       [--top-k K] [--seed S] [--backend auto|cpu|cuda] [--threads N]
 *       [--weights rmse=W,features=W,spikes=W] [--threshold MV] [--window MS]
 *       [--stim-start MS --stim-end MS] [--columns SPEC] [--dt MS]
 *       [--init RESULTS.json [--init-sigma S]] [--refine K [--survey F]] [--no-guess]
 *       --out DIR [--resume] [--force] [--quiet] [--all-traces]
 *
 * A DIR that holds results.json is refused unless --force (or --resume).
 *
 * Checkpoints go to DIR/checkpoint while the fit runs; Ctrl-C saves one and
 * exits with 130, and --resume continues to the same result as an
 * uninterrupted run. The results are written as one set (nf_fit_write),
 * whose commit also removes the checkpoint. */
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "neurofit/engine.h"
#include "neurofit/fileio.h"
#include "neurofit/fit.h"
#include "neurofit/recording.h"
#include "neurofit/stim_window.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CMD "fit"
#define MAX_FILES 1024
#define MAX_TARGETS 65536

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: neurofit fit FILE... | --example  --out DIR [options]\n\n"
            "  FILE...              ABF 1/2, NWB 2, IBW, text or .npy recordings (see `neurofit info`)\n"
            "  --example            fit the embedded example (a synthetic AdEx cell, 0.5 mV noise)\n"
            "  --sweeps all|LIST    sweeps of each file, e.g. 0,2,5-7 (default all)\n"
            "  --models all|a,b     candidate models (default all; `neurofit models` lists them)\n"
            "  --optimizer NAME     cmaes (default, IPOP restarts), de or shade\n"
            "  --budget EVALS       evaluations per recording and model (default 10000)\n"
            "  --popsize N          population size (default: 32 for cmaes, the optimiser's own for de/shade)\n"
            "  --restarts N         CMA-ES restarts at most (default 9; the budget also ends them)\n"
            "  --refine K           survey every model with part of the budget, then refine each\n"
            "                       recording's K leading models with the rest (0: one pass)\n"
            "  --survey F           the survey's share of the budget with --refine (0.5)\n"
            "  --no-guess           start every search at the model's defaults, not at the\n"
            "                       regression guess read off the recording (12 of the\n"
            "                       models: the integrate-and-fire ones, izhikevich, qif,\n"
            "                       adex, eif, hh)\n"
            "  --bounds MODE        CMA-ES at the parameter bounds: reflect (default), resample\n"
            "                       (redraw; better when the optimum is inside the box) or transform\n"
            "  --top-k K            models kept per recording in results.json and the report (3)\n"
            "  --seed S             random seed (1)\n"
            "  --backend B          auto (default), cpu or cuda;  --threads N  CPU threads\n"
            "  --weights SPEC       score weights, e.g. rmse=1,features=1,spikes=1 (the default)\n"
            "  --threshold MV       spike detection in the recordings (-20)\n"
            "  --window MS          spike coincidence window (2)\n"
            "  --stim-start MS --stim-end MS   feature window (default: each sweep's protocol epoch whose level\n"
            "                       changes across sweeps, or the step in its current; stated on stderr)\n"
            "  --init FILE          start each model's search at its parameters in an earlier\n"
            "                       results.json (recordings matched by name, its top-k models)\n"
            "  --init-sigma S       CMA-ES step size around those starts, fraction of the box (0.1)\n"
            "  --out DIR            output directory (required)\n"
            "  --all-traces         also model_traces.npy [recordings][models][samples], every model\n"
            "  --resume             continue an interrupted fit in DIR\n"
            "  --force              replace the results of an earlier fit in DIR\n"
            "  --quiet              no progress output\n"
            "How the recordings are read (as `neurofit info` and `features` read them):\n" NF_CLI_HELP_RECORDING);
}

static volatile sig_atomic_t g_interrupted;
static void on_sigint(int sig)
{
    (void)sig;
    g_interrupted = 1;
}

typedef struct progress_state {
    int quiet, tty;
    double last_print, total_steps; /* neuron-steps the budget allows, all models */
    int last_model;
} progress_state;

static int on_progress(const nf_fit_progress *p, void *user)
{
    progress_state *ps = user;
    if (g_interrupted)
        return 1;
    if (ps->quiet)
        return 0;
    int new_model = p->model_index != ps->last_model;
    if (!new_model && p->elapsed_s - ps->last_print < (ps->tty ? 0.2 : 5.0))
        return 0;
    ps->last_print = p->elapsed_s;
    ps->last_model = p->model_index;
    double frac = ps->total_steps > 0 ? p->neuron_steps / ps->total_steps : 0;
    if (frac > 1)
        frac = 1;
    /* the budget bounds the simulations; stops before it make the ETA an upper bound */
    double eta = frac > 0 ? p->elapsed_s * (1.0 / frac - 1.0) : 0;
    char line[256];
    snprintf(line, sizeof line,
             "model %d/%d %-14s gen %4lld  running %d/%d  best %-9.4g  %.2g neuron-steps/s  %.0f s, ETA <= %.0f s",
             p->model_index + 1, p->n_models, p->model, (long long)p->generation, p->targets_running, p->n_targets,
             p->best_score, p->elapsed_s > 0 ? p->neuron_steps / p->elapsed_s : 0.0, p->elapsed_s, eta);
    if (ps->tty)
        fprintf(stderr, "\r%-130s", line);
    else
        fprintf(stderr, "%s\n", line);
    return 0;
}


typedef struct loaded {
    nf_fit_target *t;
    int n;
    float **bufs;   /* owned float copies */
    char **names;   /* [2 n]: each target's name, and how its stimulus window was chosen (or NULL) */
} loaded;

static void loaded_free(loaded *L)
{
    for (int k = 0; k < L->n; k++) {
        free(L->bufs[2 * k]);
        free(L->bufs[2 * k + 1]);
        free(L->names[2 * k]);
        free(L->names[2 * k + 1]);
    }
    free(L->t);
    free(L->bufs);
    free(L->names);
}

/* Append a target that owns fv, fi (freed on failure too) and a copy of name. */
static int add_owned(loaded *L, const char *name, float *fv, float *fi, int64_t n, double dt)
{
    char *nm = strdup(name);
    if (L->n == MAX_TARGETS) {
        free(fv), free(fi), free(nm);
        return nf_cli_error(CMD, NF_EXIT_USAGE, "more than %d sweeps", MAX_TARGETS);
    }
    if (L->n % 64 == 0) {
        size_t cap = (size_t)L->n + 64;
        nf_fit_target *t = realloc(L->t, cap * sizeof *t);
        if (t)
            L->t = t;
        float **b = realloc(L->bufs, 2 * cap * sizeof *b);
        if (b)
            L->bufs = b;
        char **names = realloc(L->names, 2 * cap * sizeof *names);
        if (names)
            L->names = names;
        if (!t || !b || !names) {
            free(fv), free(fi), free(nm);
            return nf_cli_error(CMD, NF_EXIT_FAIL, "out of memory");
        }
    }
    if (!fv || !fi || !nm) {
        free(fv), free(fi), free(nm);
        return nf_cli_error(CMD, NF_EXIT_FAIL, "out of memory for %s", name);
    }
    L->bufs[2 * L->n] = fv;
    L->bufs[2 * L->n + 1] = fi;
    L->names[2 * L->n] = nm;
    L->names[2 * L->n + 1] = NULL;
    L->t[L->n] = (nf_fit_target){.name = nm, .v = fv, .i = fi, .n = n, .dt_ms = dt};
    L->n++;
    return 0;
}

/* Append a sweep (double samples) as a float target. */
static int add_target(loaded *L, const char *name, const double *v, const double *i, int64_t n, double dt)
{
    float *fv = malloc(sizeof(float) * (size_t)n), *fi = malloc(sizeof(float) * (size_t)n);
    for (int64_t k = 0; fv && fi && k < n; k++) {
        fv[k] = (float)v[k];
        fi[k] = (float)i[k];
    }
    return add_owned(L, name, fv, fi, n, dt);
}

/* The stimulus window of each sweep when none is given (nf_stim_window_find):
 * stated on stderr once per file and whenever it changes or is ambiguous;
 * a sweep without one keeps 0, 0 (nf_fit then finds it in the current). */
static void auto_window(loaded *L, const nf_recording *rec, int s, int quiet, char *last, size_t cap)
{
    nf_fit_target *t = &L->t[L->n - 1];
    nf_stim_window w;
    if (nf_stim_window_find(rec, s, &w)) {
        if (!quiet) fprintf(stderr, "neurofit fit: %s sweep %d: no stimulus window: %s\n", rec->path, s, nf_errmsg());
        return;
    }
    t->stim_start_ms = w.start_ms;
    t->stim_end_ms = w.end_ms;
    t->stim_window = L->names[2 * L->n - 1] = strdup(w.why); /* in results.json; NULL (left out) if out of memory */
    char line[512];
    snprintf(line, sizeof line, "%g-%g ms from %s", w.start_ms, w.end_ms, w.why);
    if (!quiet && strcmp(line, last))
        fprintf(stderr, "neurofit fit: %s%s sweep %d: stimulus window %s\n", w.ambiguous ? "warning: " : "", rec->path,
                s, line);
    snprintf(last, cap, "%s", line);
}

static int load_file(loaded *L, const char *path, const char *sweeps, const nf_recording_options *ro, int find_window,
                     int quiet)
{
    char last_window[512] = "";
    nf_recording *rec = NULL;
    if (nf_recording_open(path, ro, &rec))
        return nf_cli_error(CMD, NF_EXIT_USAGE, "%s", nf_errmsg());
    unsigned char *mask = malloc((size_t)rec->n_sweeps);
    int rc = mask ? 0 : nf_cli_error(CMD, NF_EXIT_FAIL, "out of memory");
    if (!rc && nf_cli_parse_sweeps(CMD, sweeps, rec->n_sweeps, mask, path))
        rc = NF_EXIT_USAGE;
    for (int s = 0; s < rec->n_sweeps && !rc; s++) {
        if (!mask[s])
            continue;
        const nf_sweep *sw = &rec->sweeps[s];
        if (!sw->i)
            rc = nf_cli_error(CMD, NF_EXIT_USAGE,
                              "%s sweep %d: no injected current (neither recorded nor rebuilt from a protocol); "
                              "a fit needs the stimulus", path, sw->index);
        else if (!(sw->dt_ms > 0))
            rc = nf_cli_error(CMD, NF_EXIT_USAGE, "%s sweep %d: irregular time grid; fitting needs a fixed sample "
                              "interval", path, sw->index);
        else {
            char name[4200];
            const char *base = strrchr(path, '/');
            snprintf(name, sizeof name, "%s sweep %d", base ? base + 1 : path, sw->index);
            rc = add_target(L, name, sw->v, sw->i, sw->n, sw->dt_ms);
            if (!rc && find_window) auto_window(L, rec, s, quiet, last_window, sizeof last_window);
        }
    }
    free(mask);
    nf_recording_destroy(rec);
    return rc;
}

/* The embedded example (nf_fit_example). */
static int load_example(loaded *L)
{
    double *v = malloc(sizeof(double) * NF_FIT_EXAMPLE_N), *I = malloc(sizeof(double) * NF_FIT_EXAMPLE_N);
    int rc = 0;
    if (!v || !I)
        rc = nf_cli_error(CMD, NF_EXIT_FAIL, "out of memory");
    else if (nf_fit_example(v, I))
        rc = nf_cli_error(CMD, NF_EXIT_FAIL, "%s", nf_errmsg());
    else
        rc = add_target(L, NF_FIT_EXAMPLE_NAME, v, I, NF_FIT_EXAMPLE_N, NF_FIT_EXAMPLE_DT_MS);
    free(v), free(I);
    return rc;
}

static void print_summary(const nf_fit_result *r, const nf_fit_target *t, int top_k)
{
    int k = top_k < r->n_models ? top_k : r->n_models;
    printf("| recording | rank | model | combined | RMSE (mV) | feature error | Gamma | evals |\n"
           "|---|---:|---|---:|---:|---:|---:|---:|\n");
    for (int i = 0; i < r->n_targets; i++)
        for (int j = 0; j < k; j++) {
            const nf_fit_record *rec = &r->records[(size_t)i * r->n_models + j];
            printf("| %s | %d | %s | %.4g | %.3g | %.3g | %.3f | %lld |\n", j ? "" : t[i].name, rec->rank,
                   rec->model->name, rec->combined, rec->rmse_mV, rec->feature_error, rec->gamma,
                   (long long)rec->evals);
        }
    printf("\n%d recording(s) x %d model(s) in %.1f s on %s: %.3g simulations, %.3g neuron-steps/s\n", r->n_targets,
           r->n_models, r->seconds, nf_backend_name(r->backend), (double)r->sims,
           r->seconds > 0 ? r->neuron_steps / r->seconds : 0.0);
}

enum {
    O_EXAMPLE = NF_CLI_OWN, O_RESUME, O_ALL_TRACES, O_NO_GUESS, O_SWEEPS, O_MODELS, O_INIT, O_OPTIMIZER,
    O_BOUNDS, O_WEIGHTS, O_BUDGET, O_POPSIZE, O_RESTARTS, O_REFINE, O_TOP_K, O_THRESHOLD, O_WINDOW, O_STIM_START,
    O_STIM_END, O_INIT_SIGMA, O_SURVEY
};

static const struct option fit_options[] = {
    NF_CLI_OPT_HELP, NF_CLI_OPT_OUT, NF_CLI_OPT_FORCE, NF_CLI_OPT_QUIET, NF_CLI_OPT_SEED, NF_CLI_OPT_BACKEND,
    NF_CLI_OPT_THREADS,
    {"example", no_argument, NULL, O_EXAMPLE},
    {"resume", no_argument, NULL, O_RESUME},
    {"all-traces", no_argument, NULL, O_ALL_TRACES},
    {"no-guess", no_argument, NULL, O_NO_GUESS},
    {"sweeps", required_argument, NULL, O_SWEEPS},
    {"models", required_argument, NULL, O_MODELS},
    {"init", required_argument, NULL, O_INIT},
    {"optimizer", required_argument, NULL, O_OPTIMIZER},
    {"bounds", required_argument, NULL, O_BOUNDS},
    {"weights", required_argument, NULL, O_WEIGHTS},
    {"budget", required_argument, NULL, O_BUDGET},
    {"popsize", required_argument, NULL, O_POPSIZE},
    {"restarts", required_argument, NULL, O_RESTARTS},
    {"refine", required_argument, NULL, O_REFINE},
    {"top-k", required_argument, NULL, O_TOP_K},
    {"threshold", required_argument, NULL, O_THRESHOLD},
    {"window", required_argument, NULL, O_WINDOW},
    {"stim-start", required_argument, NULL, O_STIM_START},
    {"stim-end", required_argument, NULL, O_STIM_END},
    {"init-sigma", required_argument, NULL, O_INIT_SIGMA},
    {"survey", required_argument, NULL, O_SURVEY},
    NF_CLI_OPTS_RECORDING,
    NF_CLI_OPT_END};

int nf_cli_fit(int argc, char **argv)
{
    nf_fit_options o;
    nf_fit_options_default(&o);
    nf_recording_options ro;
    nf_recording_options_default(&ro);
    const char *files[MAX_FILES];
    int n_files = 0, example = 0, all_traces = 0;
    const char *sweeps = "all", *models = "all", *init = NULL;
    double stim_start = NAN, stim_end = NAN;
    nf_cli_common c = {.backend = o.backend, .threads = o.threads, .seed = o.seed};
    nf_cli_parser p;
    nf_cli_parser_init(&p, CMD, argc, argv, fit_options, &c);
    p.recording = &ro;
    for (int k; (k = nf_cli_next(&p)) != NF_CLI_END;) {
        const char *v = p.arg;
        double d;
        int64_t n;
        switch (k) {
        case NF_CLI_HELP: usage(stdout); return NF_EXIT_OK;
        case NF_CLI_ERROR: return p.rc;
        case NF_CLI_ARG:
            if (n_files == MAX_FILES)
                return nf_cli_error(CMD, NF_EXIT_USAGE, "more than %d files", MAX_FILES);
            files[n_files++] = v;
            break;
        case O_EXAMPLE: example = 1; break;
        case O_RESUME: o.resume = 1; break;
        case O_ALL_TRACES: all_traces = 1; break;
        case O_NO_GUESS: o.guess = 0; break;
        case O_SWEEPS: sweeps = v; break;
        case O_MODELS: models = v; break;
        case O_INIT: init = v; break;
        case O_OPTIMIZER:
            if (!strcmp(v, "cmaes")) o.optimizer = NF_OPTIM_CMAES;
            else if (!strcmp(v, "de")) o.optimizer = NF_OPTIM_DE;
            else if (!strcmp(v, "shade")) o.optimizer = NF_OPTIM_SHADE;
            else return nf_cli_error(CMD, NF_EXIT_USAGE, "--optimizer %s: expected cmaes, de or shade", v);
            break;
        case O_BOUNDS:
            if (nf_optim_bounds_parse(v, &o.bounds))
                return nf_cli_error(CMD, NF_EXIT_USAGE, "--bounds %s: expected reflect, resample or transform", v);
            break;
        case O_WEIGHTS:
            if (nf_score_weights_parse(v, &o.weights))
                return nf_cli_error(CMD, NF_EXIT_USAGE, "--weights: %s", nf_errmsg());
            break;
        case O_BUDGET: case O_POPSIZE: case O_RESTARTS: case O_REFINE: case O_TOP_K:
            if (!nf_cli_parse_i64(v, &n) || n < 0 || n > (int64_t)1 << 40)
                return nf_cli_error(CMD, NF_EXIT_USAGE, "%s %s: expected a non-negative integer", p.name, v);
            if (k == O_BUDGET) o.budget = n;
            else if (k == O_POPSIZE) o.popsize = (int)(n > 1 << 20 ? 1 << 20 : n);
            else if (k == O_RESTARTS) o.restarts = (int)(n > 1000 ? 1000 : n);
            else if (k == O_REFINE) o.refine_k = (int)(n > 1000 ? 1000 : n);
            else o.top_k = (int)(n > 1000 ? 1000 : n);
            break;
        case O_THRESHOLD: case O_WINDOW: case O_STIM_START: case O_STIM_END: case O_INIT_SIGMA: case O_SURVEY:
            if (!nf_cli_parse_double(v, &d))
                return nf_cli_error(CMD, NF_EXIT_USAGE, "%s %s: expected a number", p.name, v);
            if (k == O_INIT_SIGMA) o.start_sigma = d;
            else if (k == O_SURVEY) o.survey_fraction = d;
            else if (k == O_THRESHOLD) o.threshold_mV = d;
            else if (k == O_WINDOW) o.gamma_window_ms = d;
            else if (k == O_STIM_START) stim_start = d;
            else stim_end = d;
            break;
        }
    }
    o.backend = c.backend;
    o.threads = c.threads;
    o.seed = c.seed;
    const char *out = c.out;
    const int quiet = c.quiet, force = c.force;
    if (!out)
        return nf_cli_error(CMD, NF_EXIT_USAGE, "--out DIR is required");
    if (!example && n_files == 0)
        return nf_cli_error(CMD, NF_EXIT_USAGE, "no recordings given (FILE... or --example)");
    if (example && n_files > 0)
        return nf_cli_error(CMD, NF_EXIT_USAGE, "--example fits the embedded recording; give no files with it");
    if (isnan(stim_start) != isnan(stim_end))
        return nf_cli_error(CMD, NF_EXIT_USAGE, "--stim-start and --stim-end go together");
    if (!isnan(stim_start) && !(stim_end > stim_start))
        return nf_cli_error(CMD, NF_EXIT_USAGE, "--stim-end %g must be after --stim-start %g", stim_end, stim_start);

    /* candidate models */
    char *mlist = NULL;
    const char *names[256];
    if (strcmp(models, "all")) {
        mlist = strdup(models);
        if (!mlist)
            return nf_cli_error(CMD, NF_EXIT_FAIL, "out of memory");
        int nm = 0;
        for (char *tok = strtok(mlist, ","); tok; tok = strtok(NULL, ",")) {
            if (nm == 256) {
                free(mlist);
                return nf_cli_error(CMD, NF_EXIT_USAGE, "--models: more than 256 names");
            }
            if (!nf_model_find(tok)) {
                int rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--models: %s", nf_errmsg());
                free(mlist);
                return rc;
            }
            names[nm++] = tok;
        }
        if (!nm) {
            free(mlist);
            return nf_cli_error(CMD, NF_EXIT_USAGE, "--models: empty list");
        }
        o.models = names;
        o.n_models = nm;
    }

    loaded L = {0};
    int rc = example ? load_example(&L) : 0;
    for (int f = 0; f < n_files && !rc; f++)
        rc = load_file(&L, files[f], sweeps, &ro, isnan(stim_start), quiet);
    if (!rc && L.n == 0)
        rc = nf_cli_error(CMD, NF_EXIT_USAGE, "no sweeps selected");
    if (rc) {
        loaded_free(&L);
        free(mlist);
        return rc;
    }
    for (int k = 0; k < L.n && !isnan(stim_start); k++) {
        L.t[k].stim_start_ms = stim_start;
        L.t[k].stim_end_ms = stim_end;
    }

    nf_fit_start *starts = NULL;
    double *start_vals = NULL;
    if (init) {
        nf_status st = nf_fit_starts_read(init, L.t, L.n, &o, &starts, &start_vals, &o.n_starts);
        if (st) {
            rc = nf_cli_error(CMD, st == NF_ENOMEM ? NF_EXIT_FAIL : NF_EXIT_USAGE, "--init %s", nf_errmsg());
            loaded_free(&L);
            free(mlist);
            return rc;
        }
        o.starts = starts;
        if (!quiet)
            fprintf(stderr, "neurofit fit: %d starting points from %s\n", o.n_starts, init);
    }

    /* never replace earlier results by accident */
    char prev[4096];
    if (!o.resume && !force && nf_path_join(prev, sizeof prev, out, "results.json") == NF_OK &&
        access(prev, F_OK) == 0) {
        rc = nf_cli_error(CMD, NF_EXIT_USAGE,
                          "--out %s holds earlier results (results.json): give another --out, or --force to "
                          "replace them", out);
        loaded_free(&L);
        free(mlist);
        free(starts);
        free(start_vals);
        return rc;
    }
    char ckpt[4096];
    if (nf_mkdir_p(out) || nf_path_join(ckpt, sizeof ckpt, out, NF_FIT_CHECKPOINT_DIR)) {
        rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--out: %s", nf_errmsg());
        loaded_free(&L);
        free(mlist);
        free(starts);
        free(start_vals);
        return rc;
    }
    o.checkpoint_dir = ckpt;
    progress_state ps = {.quiet = quiet, .tty = isatty(2), .last_model = -1};
    /* the budget bounds the work: evaluations x steps, with each model's sub-steps */
    int n_models = o.models ? o.n_models : nf_model_count();
    for (int mi = 0; mi < n_models; mi++) {
        const nf_model *m = o.models ? nf_model_find(o.models[mi]) : nf_model_at(mi);
        for (int k = 0; k < L.n; k++) {
            int sub = nf_fit_substeps(m, L.t[k].dt_ms);
            ps.total_steps += (double)o.budget * ((double)(L.t[k].n - 1) * sub + 1);
        }
    }
    o.progress = on_progress;
    o.progress_user = &ps;
    struct sigaction sa = {0}, old_int, old_term;
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    nf_fit_result *res = NULL;
    nf_status st = nf_fit(L.t, L.n, &o, &res);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (!quiet && ps.tty)
        fputc('\n', stderr);
    if (st == NF_EINTERRUPTED) {
        rc = nf_cli_error(CMD, 130, "interrupted; the checkpoint in %s is saved: rerun the same command with --resume",
                          ckpt);
    } else if (st) {
        rc = nf_cli_error(CMD, st == NF_EINVAL || st == NF_ENOMODEL || st == NF_ENAN || st == NF_ENOTFOUND
                                   ? NF_EXIT_USAGE : NF_EXIT_FAIL, "%s", nf_errmsg());
    } else if (nf_fit_write(res, L.t, &o, all_traces, out)) { /* one set; ends the checkpoint */
        rc = nf_cli_error(CMD, NF_EXIT_FAIL, "%s", nf_errmsg());
    } else {
        print_summary(res, L.t, o.top_k);
        printf("wrote %s/results.json, results.csv, best_traces.npy, report.html%s\n", out,
               all_traces ? ", model_traces.npy" : "");
    }
    nf_fit_result_destroy(res);
    loaded_free(&L);
    free(mlist);
    free(starts);
    free(start_vals);
    return rc;
}
