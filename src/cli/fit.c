/* `neurofit fit`: fit candidate models to recordings, rank them, write
 * results.json, results.csv, sweeps.csv, best_traces.npy and report.html.
 *
 *   neurofit fit FILE... | --cells CELLS.csv | --example  [--group file|sweep]
 *       [--sweeps all|LIST] [--holdout LIST|FRACTION] [--time START:END]
 *       [--current recorded|protocol|FILE] [--models all|a,b,..]
 *       [--objective efel:NAMES|fi|passive|sub[:MS]] [--weights ...] [--rmse-cut MS]
 *       [--optimizer cmaes|de|shade] [--budget EVALS] [--popsize N] [--restarts N]
 *       [--top-k K] [--seed S] [--backend auto|cpu|cuda] [--threads N] [--devices all|0,1,...]
 *       [--threshold MV] [--window MS] [--stim-start MS --stim-end MS] [--columns SPEC] [--dt MS]
 *       [--init RESULTS.json [--init-sigma S]] [--refine K [--survey F]] [--no-guess]
 *       --out DIR [--resume] [--force] [--quiet] [--verbose] [--all-traces]
 *
 * Groups: each file is one cell (--group file, the default: one parameter
 * set per model across its selected sweeps), or each sweep alone (--group
 * sweep), or the cells of a manifest (--cells). DIR has one writer at a time
 * (a second is refused, exit 1). A DIR that holds results.json, or the
 * checkpoint of an interrupted fit, is refused unless --force (or --resume).
 *
 * Checkpoints go to DIR/checkpoint while the fit runs; Ctrl-C saves one and
 * exits with 130, and --resume continues to the same result as an
 * uninterrupted run. The results are written as one set (nf_fit_write),
 * whose commit also removes the checkpoint.
 *
 * Under mpirun (cli/cli_dist.h) rank 0 reads the recordings and the ranks
 * share the fit out (nf_dist_fit, neurofit/dist.h); rank 0 writes the same
 * outputs. */
#include "cli/cli_dist.h"
#include "cli/cli_util.h"
#include "cli/fit_load.h"
#include "cli/commands.h"
#include "neurofit/dist.h"
#include "neurofit/engine.h"
#include "neurofit/features.h"
#include "neurofit/fileio.h"
#include "neurofit/fit.h"
#include "neurofit/recording.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CMD "fit"
#define MAX_FILES 1024

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: neurofit fit FILE... | --cells CELLS.csv | --example  --out DIR [options]\n\n"
            "  FILE...              ABF 1/2, NWB 2, IBW, text or .npy recordings (see `neurofit info`)\n"
            "  --example            fit the embedded example (a synthetic AdEx cell, 0.5 mV noise)\n"
            "  --group file|sweep   one parameter set per model for all selected sweeps of a file (file,\n"
            "                       the default: a file is one cell's protocol) or for each sweep alone\n"
            "  --cells FILE         a manifest of cells spread over files: CSV with a header\n"
            "                       cell,file,sweeps,role[,current] (role train or test; file and current\n"
            "                       relative to the manifest; current: as --current FILE)\n"
            "  --sweeps all|LIST    sweeps of each file, e.g. 0,2,5-7 (default all)\n"
            "  --holdout LIST|F     keep these sweeps of each file (e.g. 12-15) or this fraction of each\n"
            "                       group's sweeps (e.g. 0.25, spread evenly) out of the fit: scored after it,\n"
            "                       side by side with the fitted ones; a group with held-out sweeps is\n"
            "                       ranked by them\n"
            "  --time START:END     fit only this window of every sweep, ms (times stay the recording's)\n"
            "  --current FILE       the injected current from FILE: .npy [T] for every sweep or\n"
            "                       [sweeps][T] one per selected sweep, a text column (pA), or the IBW\n"
            "                       current wave of an IBW voltage wave (also: recorded|protocol, below)\n"
            "  --models all|a,b     candidate models (default all; `neurofit models` lists them)\n"
            "  --objective SPEC     add an objective (weight 1 unless --weights says): efel:NAME,NAME,...\n"
            "                       (eFEL features, z-scored), fi (the f-I curve), passive (input\n"
            "                       resistance, sag, membrane time constant of hyperpolarising steps),\n"
            "                       sub[:MS] (the RMSE term without +-MS around recorded spikes; 5)\n"
            "  --weights SPEC       score weights, e.g. rmse=1,features=1,spikes=1 (the default),\n"
            "                       efel=W, fi=W, passive=W\n"
            "  --rmse-cut MS        the RMSE term leaves out +-MS around each recorded spike (0: none)\n"
            "  --optimizer NAME     cmaes (default, IPOP restarts), de or shade\n"
            "  --budget EVALS       evaluations per group and model (default 10000); an evaluation\n"
            "                       simulates one candidate on every fitted sweep of its group\n"
            "  --popsize N          population size (default: 32 for cmaes, the optimiser's own for de/shade)\n"
            "  --restarts N         CMA-ES restarts at most (default 9; the budget also ends them)\n"
            "  --refine K           survey every model with part of the budget, then refine each\n"
            "                       group's K leading models with the rest (0: one pass)\n"
            "  --survey F           the survey's share of the budget with --refine (0.5)\n"
            "  --no-guess           start every search at the model's defaults, not at the\n"
            "                       regression guess read off the group's fitted sweeps (12 of the\n"
            "                       models: the integrate-and-fire ones, izhikevich, qif,\n"
            "                       adex, eif, hh)\n"
            "  --bounds MODE        CMA-ES at the parameter bounds: reflect (default), resample\n"
            "                       (redraw; better when the optimum is inside the box) or transform\n"
            "  --top-k K            models kept per group in results.json and the report (3)\n"
            "  --seed S             random seed (1)\n"
            "  --backend B          auto (default), cpu or cuda;  --threads N  CPU threads\n"
            "  --devices all|0,1,.. CUDA devices each batch is split over (default 0; cuda backend only)\n"
            "  --threshold MV       spike detection in the recordings (-20)\n"
            "  --window MS          spike coincidence window (2)\n"
            "  --stim-start MS --stim-end MS   feature window (default: each sweep's protocol epoch whose level\n"
            "                       changes across sweeps, or the step in its current; stated on stderr)\n"
            "  --init FILE          start each model's search at its parameters in an earlier\n"
            "                       results.json (groups matched by name, its top-k models)\n"
            "  --init-sigma S       CMA-ES step size around those starts, fraction of the box (0.1)\n"
            "  --out DIR            output directory (required)\n"
            "  --all-traces         also model_traces.npy [recordings][models][samples], every model\n"
            "  --resume             continue an interrupted fit in DIR\n"
            "  --force              replace the results of an earlier fit in DIR\n"
            "  --quiet              no progress output\n"
            "  --verbose            also a line per generation of the fit: the simulations in flight (every\n"
            "                       model's candidates on every fitted sweep; one process)\n"
            "How the recordings are read (as `neurofit info` and `features` read them):\n" NF_CLI_HELP_RECORDING);
}

typedef struct progress_state {
    int quiet, tty, verbose;
    double last_print, total_steps; /* neuron-steps the budget allows, all models */
    int64_t last_round;             /* the last generation --verbose printed (the pass's round) */
    int last_pass;                  /* which pass it was in (the models counted: survey or refinement) */
} progress_state;

/* The job's progress on rank 0 of an MPI job (the other ranks only stop). */
static int on_dist_progress(const nf_dist_progress *p, void *user)
{
    progress_state *ps = user;
    if (nf_cli_stop)
        return 1;
    if (!p || ps->quiet || (p->done < p->total && p->elapsed_s - ps->last_print < (ps->tty ? 0.2 : 5.0)))
        return 0;
    ps->last_print = p->elapsed_s;
    double frac = p->work_total > 0 ? p->work_done / p->work_total : 0;
    double eta = frac > 0 ? p->elapsed_s * (1.0 / frac - 1.0) : 0;
    char line[256];
    snprintf(line, sizeof line, "%d/%d groups done, %lld/%lld (group, model) items, %d/%d ranks busy, %.0f s, ETA %.0f s",
             p->groups_done, p->n_groups, (long long)p->done, (long long)p->total, p->ranks_busy, p->ranks,
             p->elapsed_s, eta);
    if (ps->tty)
        fprintf(stderr, "\r%-130s", line);
    else
        fprintf(stderr, "%s\n", line);
    return 0;
}

/* A checkpoint of an interrupted fit in ckpt: 1 (one process: state.json),
 * 2 (under mpirun: dist/job.json), 0; the file in path. */
static int interrupted_fit(const char *ckpt, char *path, size_t cap)
{
    if (nf_path_join(path, cap, ckpt, "dist/job.json") == NF_OK && access(path, F_OK) == 0)
        return 2;
    return nf_path_join(path, cap, ckpt, "state.json") == NF_OK && access(path, F_OK) == 0;
}

static int on_progress(const nf_fit_progress *p, void *user)
{
    progress_state *ps = user;
    if (nf_cli_stop)
        return 1;
    if (ps->quiet)
        return 0;
    char line[256];
    if (ps->verbose && (p->round != ps->last_round || p->n_models != ps->last_pass)) {
        /* the first report of a generation of the pass: every running model's candidates are in flight */
        char num[32];
        snprintf(line, sizeof line, "generation %lld: %s threads in flight (%d/%d models searching, %.0f s)",
                 (long long)p->round, nf_cli_thousands(num, sizeof num, p->in_flight), p->models_running, p->n_models,
                 p->elapsed_s);
        fprintf(stderr, ps->tty ? "\r%-130s\n" : "%s\n", line);
        ps->last_round = p->round;
        ps->last_pass = p->n_models;
    }
    if (p->elapsed_s - ps->last_print < (ps->tty ? 0.2 : 5.0))
        return 0;
    ps->last_print = p->elapsed_s;
    double frac = ps->total_steps > 0 ? p->neuron_steps / ps->total_steps : 0;
    if (frac > 1)
        frac = 1;
    /* the budget bounds the simulations; stops before it make the ETA an upper bound */
    double eta = frac > 0 ? p->elapsed_s * (1.0 / frac - 1.0) : 0;
    /* the models search at once: the line shows the one just told */
    snprintf(line, sizeof line,
             "%d/%d models searching  %-12s gen %4lld  running %d/%d  best %-9.4g  %.2g neuron-steps/s  %.0f s, "
             "ETA <= %.0f s",
             p->models_running, p->n_models, p->model, (long long)p->generation, p->targets_running, p->n_targets,
             p->best_score, p->elapsed_s > 0 ? p->neuron_steps / p->elapsed_s : 0.0, p->elapsed_s, eta);
    if (ps->tty)
        fprintf(stderr, "\r%-130s", line);
    else
        fprintf(stderr, "%s\n", line);
    return 0;
}


static void print_summary(const nf_fit_result *r, int top_k)
{
    int k = top_k < r->n_models ? top_k : r->n_models, held = 0;
    for (int g = 0; g < r->n_groups; g++)
        held |= r->groups[g].n_test > 0;
    printf("| recording | rank | model | combined | RMSE (mV) | feature error | Gamma | evals |%s\n"
           "|---|---:|---|---:|---:|---:|---:|---:|%s\n",
           held ? " held-out combined | held-out Gamma | held-out spike-count error |" : "",
           held ? "---:|---:|---:|" : "");
    for (int i = 0; i < r->n_groups; i++)
        for (int j = 0; j < k; j++) {
            const nf_fit_record *rec = &r->records[(size_t)i * r->n_models + j];
            printf("| %s | %d | %s | %.4g | %.3g | %.3g | %.3f | %lld |", j ? "" : r->groups[i].name, rec->rank,
                   rec->model->name, rec->combined, rec->rmse_mV, rec->feature_error, rec->gamma,
                   (long long)rec->evals);
            if (held && rec->test.n_sweeps)
                printf(" %.4g | %.3f | %.3g |", rec->test.combined, rec->test.gamma, rec->test.count_error);
            else if (held)
                printf(" | | |");
            putchar('\n');
        }
    printf("\n%d group(s) of %d sweep(s) x %d model(s) in %.1f s on %s: %.3g simulations, %.3g neuron-steps/s%s\n",
           r->n_groups, r->n_targets, r->n_models, r->seconds, nf_backend_name(r->backend), (double)r->sims,
           r->seconds > 0 ? r->neuron_steps / r->seconds : 0.0,
           held ? "; groups with held-out sweeps are ranked by them" : "");
}

/* --objective SPEC into o (fi and passive say so; their weight is set after
 * all options, so that --weights may give it). */
static int add_objective(nf_fit_options *o, const char *spec, int *set_fi, int *set_passive)
{
    if (!strncmp(spec, "efel:", 5) && spec[5]) {
        int ids[256];
        if (nf_features_parse_list(spec + 5, ids, 256) < 0)
            return nf_cli_error(CMD, NF_EXIT_USAGE, "--objective %s: %s", spec, nf_errmsg());
        o->efel = spec + 5;
    } else if (!strcmp(spec, "fi")) {
        *set_fi = 1;
    } else if (!strcmp(spec, "passive")) {
        *set_passive = 1;
    } else if (!strncmp(spec, "sub", 3) && (!spec[3] || spec[3] == ':')) {
        double ms = NF_FIT_REPORT_CUT_MS;
        if (spec[3] && (!nf_cli_parse_double(spec + 4, &ms) || !(ms > 0)))
            return nf_cli_error(CMD, NF_EXIT_USAGE, "--objective %s: expected sub or sub:MS with MS > 0", spec);
        o->rmse_cut_ms = ms;
    } else {
        return nf_cli_error(CMD, NF_EXIT_USAGE, "--objective %s: expected efel:NAME,..., fi, passive or sub[:MS]", spec);
    }
    return 0;
}

enum {
    O_EXAMPLE = NF_CLI_OWN, O_RESUME, O_ALL_TRACES, O_NO_GUESS, O_SWEEPS, O_MODELS, O_INIT, O_OPTIMIZER,
    O_BOUNDS, O_WEIGHTS, O_BUDGET, O_POPSIZE, O_RESTARTS, O_REFINE, O_TOP_K, O_THRESHOLD, O_WINDOW, O_STIM_START,
    O_STIM_END, O_INIT_SIGMA, O_SURVEY, O_GROUP, O_CELLS, O_HOLDOUT, O_TIME, O_OBJECTIVE, O_RMSE_CUT, O_VERBOSE
};

static const struct option fit_options[] = {
    NF_CLI_OPT_HELP, NF_CLI_OPT_OUT, NF_CLI_OPT_FORCE, NF_CLI_OPT_QUIET, NF_CLI_OPT_SEED, NF_CLI_OPT_BACKEND,
    NF_CLI_OPT_THREADS, NF_CLI_OPT_DEVICES,
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
    {"group", required_argument, NULL, O_GROUP},
    {"cells", required_argument, NULL, O_CELLS},
    {"holdout", required_argument, NULL, O_HOLDOUT},
    {"time", required_argument, NULL, O_TIME},
    {"objective", required_argument, NULL, O_OBJECTIVE},
    {"rmse-cut", required_argument, NULL, O_RMSE_CUT},
    {"verbose", no_argument, NULL, O_VERBOSE},
    NF_CLI_OPTS_RECORDING,
    NF_CLI_OPT_END};

int nf_cli_fit(int argc, char **argv)
{
    nf_fit_options o;
    nf_fit_options_default(&o);
    nf_recording_options ro;
    nf_recording_options_default(&ro);
    const char *files[MAX_FILES];
    int n_files = 0, example = 0, all_traces = 0, verbose = 0, by_sweep = 0, set_fi = 0, set_passive = 0;
    int weights_given = 0;
    const char *sweeps = "all", *models = "all", *init = NULL, *cells = NULL, *holdout = NULL;
    double stim_start = NAN, stim_end = NAN, t0 = 0, t1 = 0;
    nf_cli_common c = {.backend = o.backend, .threads = o.threads, .seed = o.seed};
    nf_cli_parser p;
    nf_cli_parser_init(&p, CMD, argc, argv, fit_options, &c);
    p.recording = &ro;
    for (int k; (k = nf_cli_next(&p)) != NF_CLI_END;) {
        const char *v = p.arg;
        double d;
        int64_t n;
        int rc;
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
        case O_VERBOSE: verbose = 1; break;
        case O_NO_GUESS: o.guess = 0; break;
        case O_SWEEPS: sweeps = v; break;
        case O_MODELS: models = v; break;
        case O_INIT: init = v; break;
        case O_CELLS: cells = v; break;
        case O_HOLDOUT: holdout = v; break;
        case O_GROUP:
            if (!strcmp(v, "file")) by_sweep = 0;
            else if (!strcmp(v, "sweep")) by_sweep = 1;
            else return nf_cli_error(CMD, NF_EXIT_USAGE, "--group %s: expected file or sweep", v);
            break;
        case O_TIME:
            if ((rc = nf_cli_parse_time(CMD, v, &t0, &t1)))
                return rc;
            break;
        case O_OBJECTIVE:
            if ((rc = add_objective(&o, v, &set_fi, &set_passive)))
                return rc;
            break;
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
            if (nf_fit_weights_parse(v, &o))
                return nf_cli_error(CMD, NF_EXIT_USAGE, "--weights: %s", nf_errmsg());
            weights_given = 1;
            break;
        case O_BUDGET: case O_POPSIZE: case O_RESTARTS: case O_REFINE: case O_TOP_K: {
            /* a size out of its range is an error, never quietly capped */
            const int64_t hi = k == O_BUDGET ? (int64_t)1 << 40 : k == O_POPSIZE ? 1 << 20 : 1000;
            if (!nf_cli_parse_count(v, 0, hi, &n))
                return nf_cli_error(CMD, NF_EXIT_USAGE, "%s %s: need a whole number in 0..%lld", p.name, v,
                                    (long long)hi);
            if (k == O_BUDGET) o.budget = n;
            else if (k == O_POPSIZE) o.popsize = (int)n;
            else if (k == O_RESTARTS) o.restarts = (int)n;
            else if (k == O_REFINE) o.refine_k = (int)n;
            else o.top_k = (int)n;
            break;
        }
        case O_THRESHOLD: case O_WINDOW: case O_STIM_START: case O_STIM_END: case O_INIT_SIGMA: case O_SURVEY:
        case O_RMSE_CUT:
            if (!nf_cli_parse_double(v, &d))
                return nf_cli_error(CMD, NF_EXIT_USAGE, "%s %s: expected a number", p.name, v);
            if (k == O_INIT_SIGMA) o.start_sigma = d;
            else if (k == O_SURVEY) o.survey_fraction = d;
            else if (k == O_THRESHOLD) o.threshold_mV = d;
            else if (k == O_WINDOW) o.gamma_window_ms = d;
            else if (k == O_STIM_START) stim_start = d;
            else if (k == O_RMSE_CUT) o.rmse_cut_ms = d;
            else stim_end = d;
            break;
        }
    }
    o.backend = c.backend;
    o.threads = c.threads;
    o.devices = c.devices;
    o.seed = c.seed;
    int rc_dev = nf_cli_check_devices(CMD, &c);
    if (rc_dev) return rc_dev;
    const char *out = c.out;
    const int worker = nf_cli_dist_worker(); /* a rank > 0 of an MPI job: rank 0 reads, checks and writes */
    const int quiet = c.quiet || worker, force = c.force;
    /* --objective without a weight of its own: weight 1 (efel's default is 1 already) */
    if (set_fi && !(weights_given && o.w_fi > 0))
        o.w_fi = o.w_fi > 0 ? o.w_fi : 1;
    if (set_passive && !(weights_given && o.w_passive > 0))
        o.w_passive = o.w_passive > 0 ? o.w_passive : 1;
    if (!out)
        return nf_cli_error(CMD, NF_EXIT_USAGE, "--out DIR is required");
    if (!example && n_files == 0 && !cells)
        return nf_cli_error(CMD, NF_EXIT_USAGE, "no recordings given (FILE..., --cells CELLS.csv or --example)");
    if ((example != 0) + (n_files > 0) + (cells != NULL) > 1)
        return nf_cli_error(CMD, NF_EXIT_USAGE, "give recordings one way: FILE..., --cells or --example");
    if (isnan(stim_start) != isnan(stim_end))
        return nf_cli_error(CMD, NF_EXIT_USAGE, "--stim-start and --stim-end go together");
    if (!isnan(stim_start) && !(stim_end > stim_start))
        return nf_cli_error(CMD, NF_EXIT_USAGE, "--stim-end %g must be after --stim-start %g", stim_end, stim_start);
    if (holdout && (by_sweep || cells || example))
        return nf_cli_error(CMD, NF_EXIT_USAGE, "--holdout needs groups of sweeps from files (--group file); %s",
                            cells ? "a manifest says which sweeps are held out with its role column"
                                  : "a single sweep cannot be held out of its own fit");
    if (cells && by_sweep)
        return nf_cli_error(CMD, NF_EXIT_USAGE, "--cells groups the sweeps by its cell column; leave out --group");

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

    nf_cli_loaded L = {.cmd = CMD};
    nf_cli_load_opts lo = {.ro = &ro, .sweeps = sweeps, .by_sweep = by_sweep, .holdout = holdout, .t0 = t0, .t1 = t1,
                    .find_window = isnan(stim_start), .quiet = quiet};
    int rc = worker ? 0 : example ? nf_cli_load_example(&L) : cells ? nf_cli_load_cells(&L, cells, &lo) : 0;
    for (int f = 0; f < n_files && !rc && !worker; f++)
        rc = nf_cli_load_file(&L, files[f], &lo, NULL, 0, NULL);
    if (!rc && L.n == 0 && !worker)
        rc = nf_cli_error(CMD, NF_EXIT_USAGE, "no sweeps selected");
    nf_fit_group *groups = NULL;
    int *gidx = NULL;
    uint8_t *gtest = NULL;
    nf_fit_target *gnames = NULL;
    nf_fit_start *starts = NULL;
    double *start_vals = NULL;
    nf_fit_result *res = NULL;
    nf_out_lock *lock = NULL;
    if (!rc && !worker)
        rc = nf_cli_make_groups(&L, &groups, &gidx, &gtest);
    for (int k = 0; k < L.n && !isnan(stim_start) && !rc; k++) {
        double shift = t1 > t0 ? t0 : 0; /* the window in the cut sweep's time */
        L.t[k].stim_start_ms = stim_start - shift;
        L.t[k].stim_end_ms = stim_end - shift;
    }
    if (!rc && init && !worker) { /* starting points of the groups, matched by name */
        if (!(gnames = calloc((size_t)L.n_groups, sizeof *gnames)))
            rc = nf_cli_error(CMD, NF_EXIT_FAIL, "out of memory");
        for (int g = 0; !rc && g < L.n_groups; g++)
            gnames[g].name = L.g_name[g];
        nf_status st = rc ? NF_OK : nf_fit_starts_read(init, gnames, L.n_groups, &o, &starts, &start_vals, &o.n_starts);
        if (st)
            rc = nf_cli_error(CMD, st == NF_ENOMEM ? NF_EXIT_FAIL : NF_EXIT_USAGE, "--init %s", nf_errmsg());
        o.starts = starts;
        if (!rc && !quiet)
            fprintf(stderr, "neurofit fit: %d starting points from %s\n", o.n_starts, init);
    }

    /* a generation's batch against memory: per simulation its parameters, spike times (<= 4096) and scores */
    char what[128];
    snprintf(what, sizeof what, "--popsize %d x %d sweeps", o.popsize, L.n);
    if (!rc && o.popsize > 0)
        rc = nf_cli_check_memory(CMD, (double)o.popsize * L.n * (64 * 12.0 + 4096 * 4.0 + 64), what,
                                 "a smaller --popsize or fewer sweeps");
    /* one writer of --out; never replace earlier results, or an interrupted fit's checkpoint, by accident */
    char ckpt[4096], state[4200];
    if (!rc && !worker)
        rc = nf_cli_out_begin(CMD, out, "results.json", force || o.resume, &lock);
    if (!rc && nf_path_join(ckpt, sizeof ckpt, out, NF_FIT_CHECKPOINT_DIR))
        rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--out: %s", nf_errmsg());
    if (!rc && !worker && !o.resume && !force && interrupted_fit(ckpt, state, sizeof state))
        rc = nf_cli_error(CMD, NF_EXIT_USAGE,
                          "--out %s holds the checkpoint of an interrupted fit (%s): add --resume to continue it, or "
                          "--force to start again", out, state);
    if (!rc && !worker && o.resume && !nf_cli_dist() && interrupted_fit(ckpt, state, sizeof state) == 2)
        rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--resume: the checkpoint in %s was written by a fit under mpirun: "
                          "resume it under mpirun (with any -np)", ckpt);
    if (rc)
        goto done;
    o.checkpoint_dir = ckpt;
    progress_state ps = {.quiet = quiet, .tty = isatty(2), .verbose = verbose, .last_round = -1};
    /* the budget bounds the work: evaluations x the fitted sweeps' steps, with each model's sub-steps */
    int n_models = o.models ? o.n_models : nf_model_count();
    for (int mi = 0; mi < n_models; mi++) {
        const nf_model *m = o.models ? nf_model_find(o.models[mi]) : nf_model_at(mi);
        for (int k = 0; k < L.n; k++) {
            int sub = nf_fit_substeps(m, L.t[k].dt_ms);
            if (!L.test[k])
                ps.total_steps += (double)o.budget * ((double)(L.t[k].n - 1) * sub + 1);
        }
    }
    o.progress = on_progress;
    o.progress_user = &ps;
    nf_cli_stop_mode(NF_CLI_STOP_FLAG); /* a signal ends the fit with a checkpoint; the commit completes */

    nf_status st = NF_OK;
    if (!nf_cli_dist())
        st = nf_fit_groups(L.t, L.n, groups, L.n_groups, &o, &res);
    else if (!(rc = nf_cli_dist_agree(CMD, NF_EXIT_OK))) /* else a rank failed before: rank 0 said which */
        st = nf_dist_fit(L.t, L.n, groups, L.n_groups, &o, on_dist_progress, &ps, &res, NULL);
    if (!quiet && ps.tty)
        fputc('\n', stderr);
    if (rc) {
        /* the job ended before the fit */
    } else if (worker) {
        rc = st == NF_EINTERRUPTED ? NF_EXIT_INTERRUPTED : st ? NF_EXIT_FAIL : NF_EXIT_OK; /* rank 0 reports, writes */
    } else if (st == NF_EINTERRUPTED) {
        rc = nf_cli_error(CMD, NF_EXIT_INTERRUPTED,
                          "interrupted; the checkpoint in %s is saved: rerun the same command with --resume%s", ckpt,
                          nf_cli_dist() ? " under mpirun (with any -np)" : "");
    } else if (st) {
        /* bad input, or a checkpoint that is not one this fit wrote: 2; a failure of the run (a full disk
         * while saving a checkpoint) keeps the last checkpoint saved, which a rerun must be told of */
        int usage = st == NF_EINVAL || st == NF_ENOMODEL || st == NF_ENAN || st == NF_ENOTFOUND || st == NF_EFORMAT;
        int kept = interrupted_fit(ckpt, state, sizeof state) != 0; /* one process's, or an MPI job's */
        if (!usage && kept)
            rc = nf_cli_error(CMD, NF_EXIT_FAIL, "%s; the last checkpoint is kept in %s: rerun the same command with "
                              "--resume%s to continue from it, or --force to start again", nf_errmsg(), ckpt,
                              nf_cli_dist() ? " under mpirun (with any -np)" : "");
        else
            rc = nf_cli_error(CMD, usage ? NF_EXIT_USAGE : NF_EXIT_FAIL, "%s", nf_errmsg());
        if (!kept) /* nothing to resume from: no half-written snapshot left behind */
            nf_remove_tree(ckpt);
    } else if (nf_fit_write(res, L.t, &o, all_traces, out)) { /* one set; ends the checkpoint */
        rc = nf_cli_error(CMD, NF_EXIT_FAIL,
                          "%s; the finished fit is kept in %s: rerun the same command with --resume to write its "
                          "results without fitting again", nf_errmsg(), ckpt);
    } else {
        print_summary(res, o.top_k);
        printf("wrote %s/results.json, results.csv, sweeps.csv, best_traces.npy, report.html%s\n", out,
               all_traces ? ", model_traces.npy" : "");
    }
done:
    nf_cli_stop_mode(NF_CLI_STOP_DEFAULT);
    nf_cli_out_end(lock);
    nf_fit_result_destroy(res);
    nf_cli_loaded_free(&L);
    free(groups);
    free(gidx);
    free(gtest);
    free(gnames);
    free(mlist);
    free(starts);
    free(start_vals);
    return rc;
}
