/* `neurofit simulate`: run one batch of a model and write .npy files + meta.json.
 *
 *   neurofit simulate --model M (--params FILE | --sample-prior N [--seed S])
 *       --stimulus step:AMP_pA,START_ms,END_ms | noise:MEAN_pA,SD_pA,TAU_ms | file:PATH
 *       --dt MS --duration MS [--record all|every:K|none] [--max-spikes auto|K]
 *       [--backend auto|cpu|cuda] [--threads N] [--devices all|0,1,...] --out DIR [--force]
 *
 * --stimulus may be given twice (a waveform plus noise). Outputs in DIR:
 * params.npy [P][n_params] f4, voltage.npy [P][T'] f4 (unless --record none),
 * spikes.npy [P][K] f4 ms (NaN padded; K the most spikes of any simulation,
 * or the --max-spikes cap, with a warning and meta.json's spikes_dropped
 * when it drops any), spike_counts.npy [P] i4, valid.npy [P] b1, meta.json.
 * Inputs are checked (sizes against the machine's memory too) before DIR is
 * touched; everything is computed before anything is written, into a stage
 * committed as one set (meta.json last) under DIR's lock, so a failed or
 * interrupted run leaves earlier results untouched. A DIR that holds a
 * meta.json is refused unless --force. */
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "neurofit/engine.h"
#include "neurofit/fileio.h"
#include "neurofit/fit.h"
#include "neurofit/npy.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD "simulate"

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: neurofit simulate --model M (--params FILE | --sample-prior N [--seed S])\n"
            "         --stimulus step:AMP_pA,START_ms,END_ms | noise:MEAN_pA,SD_pA,TAU_ms | file:PATH\n"
            "         --dt MS --duration MS [--record all|every:K|none] [--max-spikes auto|K]\n"
            "         [--backend auto|cpu|cuda] [--threads N] [--devices all|0,1,...] --out DIR [--force]\n\n"
            "  --params FILE      .npy [P][n_params] or CSV/text rows; a header row of parameter\n"
            "                     names (any order, missing ones take defaults) is optional\n"
            "  --sample-prior N   N parameter sets uniform inside the fitting bounds\n"
            "  --stimulus         may be repeated: a waveform (step or file) plus noise\n"
            "  file:PATH          .npy [T] (shared) or [P][T] (one per simulation), or a text column\n"
            "  --max-spikes auto|K spike times kept per simulation in spikes.npy: auto (default)\n"
            "                     keeps all (K = the most any simulation fired); a cap K keeps\n"
            "                     the first K and says how many it dropped (spike_counts.npy\n"
            "                     counts all)\n"
            "  --force            replace the results of an earlier run in DIR\n"
            NF_CLI_HELP_DEVICES
            "  samples: T = round(duration / dt) + 1, sample n at n * dt ms\n");
}

/* Read a parameter file into rows [P][n_params]. */
static int read_params(const nf_model *m, const char *path, float **out, int64_t *P)
{
    size_t len = strlen(path);
    if (len > 4 && !strcmp(path + len - 4, ".npy")) {
        int ndim;
        int64_t shape[4];
        if (nf_npy_read_f32(path, out, &ndim, shape, 4))
            return nf_cli_error(CMD, NF_EXIT_USAGE, "--params: %s", nf_errmsg());
        int64_t cols = ndim == 2 ? shape[1] : (ndim == 1 ? shape[0] : -1);
        if (cols != m->n_params) {
            free(*out);
            *out = NULL; /* the caller frees what it gets */
            return nf_cli_error(CMD, NF_EXIT_USAGE, "--params %s: %lld columns, model %s has %d parameters",
                                path, (long long)cols, m->name, m->n_params);
        }
        *P = ndim == 2 ? shape[0] : 1;
        return 0;
    }
    FILE *fp = fopen(path, "r");
    if (!fp) return nf_cli_error(CMD, NF_EXIT_USAGE, "--params: cannot open %s", path);
    int map[64];
    int ncols = m->n_params, header = 0;
    for (int j = 0; j < m->n_params; j++) map[j] = j;
    size_t cap = 64, n = 0, line_cap = 0;
    float *rows = malloc(sizeof(float) * cap * m->n_params);
    char *line = NULL, q[128];
    long lineno = 0;
    int rc = 0;
    for (ssize_t got; rows && (got = getline(&line, &line_cap, fp)) >= 0;) {
        lineno++;
        if (strlen(line) != (size_t)got) { /* a NUL would end a number early */
            rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--params %s line %ld: a NUL byte in '%s'", path, lineno,
                              nf_excerpt(q, sizeof q, line, (size_t)got));
            goto done;
        }
        char *s = line;
        while (isspace((unsigned char)*s)) s++;
        if (!*s || *s == '#') continue;
        char *save = NULL;
        if (!header && n == 0 && (isalpha((unsigned char)*s) || *s == '_')) {
            header = 1;
            ncols = 0;
            for (char *tok = strtok_r(s, ", \t\r\n", &save); tok; tok = strtok_r(NULL, ", \t\r\n", &save)) {
                int k = nf_model_param_index(m, tok);
                if (k < 0 || ncols >= 64) {
                    rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--params %s line %ld: '%s' is not a parameter of %s",
                                      path, lineno, nf_excerpt(q, sizeof q, tok, (size_t)-1), m->name);
                    goto done;
                }
                map[ncols++] = k;
            }
            continue;
        }
        if (n == cap) {
            cap *= 2;
            float *r2 = realloc(rows, sizeof(float) * cap * m->n_params);
            if (!r2) break;
            rows = r2;
        }
        float *row = rows + n * m->n_params;
        nf_model_defaults(m, row);
        int c = 0;
        for (char *tok = strtok_r(s, ", \t\r\n", &save); tok; tok = strtok_r(NULL, ", \t\r\n", &save)) {
            double v;
            if (c >= ncols) {
                rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--params %s line %ld: more than %d values", path, lineno, ncols);
                goto done;
            }
            if (!nf_cli_parse_double(tok, &v)) {
                rc = nf_cli_error(CMD, NF_EXIT_USAGE,
                                  "--params %s line %ld: %s = '%s' (column %d) is not a finite number", path, lineno,
                                  m->params[map[c]].name, nf_excerpt(q, sizeof q, tok, (size_t)-1), c + 1);
                goto done;
            }
            row[map[c++]] = (float)v;
        }
        if (c != ncols) {
            rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--params %s line %ld: %d values, expected %d", path, lineno, c,
                              ncols);
            goto done;
        }
        n++;
    }
    if (!rows) {
        rc = nf_cli_error(CMD, NF_EXIT_FAIL, "out of memory");
        goto done;
    }
    if (n == 0) rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--params %s: no parameter rows", path);
done:
    fclose(fp);
    free(line);
    if (rc) {
        free(rows);
        return rc;
    }
    *out = rows;
    *P = (int64_t)n;
    return 0;
}

/* --params results.json: the model of rank `rank` of every recording (cell)
 * there, one parameter row each; its model is *model's (NULL: the one they
 * all share, or an error naming two that differ). */
static int read_fit_params(const char **model, const char *path, int rank, float **out, int64_t *P)
{
    nf_fit_candidates fc;
    if (nf_fit_candidates_read(path, NULL, rank, &fc))
        return nf_cli_error(CMD, NF_EXIT_USAGE, "--params %s", nf_errmsg());
    int rc = 0, n = 0;
    const nf_model *m = *model ? nf_model_find(*model) : nf_model_find(fc.c[0].model);
    for (int k = 0; k < fc.n && !rc && m; k++)
        if (strcmp(fc.c[k].model, m->name) && !*model)
            rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--params %s --rank %d: the recordings' models differ (%s, %s); "
                              "choose one with --model", path, rank, fc.labels[0], fc.labels[k]);
    if (!rc && m && !(*out = malloc(sizeof(float) * (size_t)fc.n * (size_t)m->n_params)))
        rc = nf_cli_error(CMD, NF_EXIT_FAIL, "out of memory");
    for (int k = 0; k < fc.n && !rc && m; k++)
        if (!strcmp(fc.c[k].model, m->name)) {
            for (int j = 0; j < m->n_params; j++)
                (*out)[(size_t)n * m->n_params + j] = (float)fc.c[k].params[j];
            n++;
        }
    if (!rc && n == 0)
        rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--params %s --rank %d: no recording there has model %s at that rank",
                          path, rank, *model ? *model : "?");
    if (!rc && !*model)
        *model = m->name;
    *P = n;
    nf_fit_candidates_free(&fc);
    return rc;
}

enum { O_MODEL = NF_CLI_OWN, O_PARAMS, O_SAMPLE_PRIOR, O_STIMULUS, O_DT, O_DURATION, O_RECORD, O_MAX_SPIKES, O_RANK };

static const struct option simulate_options[] = {
    NF_CLI_OPT_HELP, NF_CLI_OPT_OUT, NF_CLI_OPT_FORCE, NF_CLI_OPT_SEED, NF_CLI_OPT_BACKEND, NF_CLI_OPT_THREADS,
    NF_CLI_OPT_DEVICES,
    {"model", required_argument, NULL, O_MODEL},
    {"params", required_argument, NULL, O_PARAMS},
    {"sample-prior", required_argument, NULL, O_SAMPLE_PRIOR},
    {"stimulus", required_argument, NULL, O_STIMULUS},
    {"dt", required_argument, NULL, O_DT},
    {"duration", required_argument, NULL, O_DURATION},
    {"record", required_argument, NULL, O_RECORD},
    {"max-spikes", required_argument, NULL, O_MAX_SPIKES},
    {"rank", required_argument, NULL, O_RANK},
    NF_CLI_OPT_END};

#define MAX_SPIKES_CAP 1000000
#define MAX_SIMS ((int64_t)1 << 40)

/* n floats, all NaN; NULL when out of memory. */
static float *nan_floats(size_t n)
{
    float *f = malloc(sizeof(float) * (n ? n : 1));
    for (size_t k = 0; f && k < n; k++) f[k] = NAN;
    return f;
}

/* Bytes of the outputs of P simulations (parameters, voltage, spike times,
 * counts, validity) and of the stimulus waveforms. */
static double output_bytes(int64_t P, int n_params, int64_t n_rec, int64_t K, int64_t n_waves, int64_t T)
{
    return (double)P * (4.0 * n_params + 4.0 * (double)n_rec + 4.0 * (double)K + 5.0) + 4.0 * (double)n_waves * T;
}

/* Run the batch with room for K spike times per simulation into fresh
 * spike buffers (NaN padded). */
static nf_status run_batch(nf_engine *e, nf_batch *b, int64_t K, float **spikes)
{
    free(*spikes);
    *spikes = nan_floats((size_t)b->n_sims * (size_t)K);
    if (!*spikes)
        return NF_ENOMEM;
    b->spike_times = *spikes;
    b->max_spikes = (int32_t)K;
    return nf_engine_run(e, b);
}

int nf_cli_simulate(int argc, char **argv)
{
    const char *model = NULL, *params_path = NULL, *record = "all";
    const char *stims[2] = {NULL, NULL};
    int n_stims = 0;
    int64_t sample_n = 0, max_spikes = 0, rank = 0; /* max_spikes 0: auto, all of them */
    double dt = 0, duration = 0;
    int have_dt = 0, have_dur = 0;
    nf_cli_common c = {0};
    nf_cli_parser p;
    nf_cli_parser_init(&p, CMD, argc, argv, simulate_options, &c);
    for (int k; (k = nf_cli_next(&p)) != NF_CLI_END;) {
        const char *v = p.arg;
        switch (k) {
        case NF_CLI_HELP: usage(stdout); return NF_EXIT_OK;
        case NF_CLI_ERROR: return p.rc;
        case NF_CLI_ARG: return nf_cli_unexpected(&p);
        case O_MODEL: model = v; break;
        case O_PARAMS: params_path = v; break;
        case O_SAMPLE_PRIOR:
            if (!nf_cli_parse_count(v, 1, MAX_SIMS, &sample_n))
                return nf_cli_error(CMD, NF_EXIT_USAGE, "--sample-prior %s: need a whole number of simulations in "
                                    "1..%lld", v, (long long)MAX_SIMS);
            break;
        case O_STIMULUS:
            if (n_stims == 2) return nf_cli_error(CMD, NF_EXIT_USAGE, "--stimulus given more than twice");
            stims[n_stims++] = v;
            break;
        case O_DT:
            if (!nf_cli_parse_double(v, &dt) || dt <= 0)
                return nf_cli_error(CMD, NF_EXIT_USAGE, "--dt %s: need a time step > 0 ms", v);
            have_dt = 1;
            break;
        case O_DURATION:
            if (!nf_cli_parse_double(v, &duration) || duration < 0)
                return nf_cli_error(CMD, NF_EXIT_USAGE, "--duration %s: need a duration >= 0 ms", v);
            have_dur = 1;
            break;
        case O_RECORD: record = v; break;
        case O_RANK:
            if (!nf_cli_parse_i64(v, &rank) || rank < 1 || rank > 1000)
                return nf_cli_error(CMD, NF_EXIT_USAGE, "--rank %s: need a rank >= 1 (1: each recording's best model)",
                                    v);
            break;
        case O_MAX_SPIKES:
            if (!strcmp(v, "auto")) max_spikes = 0;
            else if (!nf_cli_parse_count(v, 1, MAX_SPIKES_CAP, &max_spikes))
                return nf_cli_error(CMD, NF_EXIT_USAGE, "--max-spikes %s: need auto or 1..%d", v, MAX_SPIKES_CAP);
            break;
        }
    }
    int rc_dev = nf_cli_check_devices(CMD, &c);
    if (rc_dev) return rc_dev;
    const char *out = c.out;
    const uint64_t seed = c.seed;
    /* a fit's results.json: its models' parameters (one row per recording) */
    const int from_fit = params_path && strlen(params_path) > 5 && !strcmp(params_path + strlen(params_path) - 5, ".json");
    if (rank && !from_fit)
        return nf_cli_error(CMD, NF_EXIT_USAGE, "--rank goes with --params results.json (a fit's results)");
    char fit_model[64] = "";
    if (from_fit && !model) { /* the fitted model, checked in full below */
        nf_fit_candidates fc;
        if (nf_fit_candidates_read(params_path, NULL, rank ? (int)rank : 1, &fc))
            return nf_cli_error(CMD, NF_EXIT_USAGE, "--params %s", nf_errmsg());
        snprintf(fit_model, sizeof fit_model, "%s", fc.c[0].model);
        nf_fit_candidates_free(&fc);
        model = fit_model;
    }
    if (!model) return nf_cli_error(CMD, NF_EXIT_USAGE, "--model is required (see `neurofit models`)");
    const nf_model *m = nf_model_find(model);
    if (!m) return nf_cli_error(CMD, NF_EXIT_USAGE, "--model: %s", nf_errmsg());
    if (!!params_path == !!sample_n)
        return nf_cli_error(CMD, NF_EXIT_USAGE, "give exactly one of --params FILE or --sample-prior N");
    if (!have_dt || !have_dur) return nf_cli_error(CMD, NF_EXIT_USAGE, "--dt and --duration are required");
    if (dt > m->dt_max_ms * (1 + 1e-9))
        return nf_cli_error(CMD, NF_EXIT_USAGE, "--dt %g: above %s's largest stable step, %g ms (`neurofit models %s`)",
                            dt, m->name, m->dt_max_ms, m->name);
    if (!out) return nf_cli_error(CMD, NF_EXIT_USAGE, "--out DIR is required");
    int64_t record_every = 1;
    if (!strcmp(record, "none")) record_every = 0;
    else if (!strncmp(record, "every:", 6)) {
        if (!nf_cli_parse_count(record + 6, 1, (int64_t)1 << 40, &record_every))
            return nf_cli_error(CMD, NF_EXIT_USAGE, "--record %s: K must be a whole number >= 1", record);
    } else if (strcmp(record, "all"))
        return nf_cli_error(CMD, NF_EXIT_USAGE, "--record %s: use all, every:K or none", record);
    double steps_d = floor(duration / dt + 0.5) + 1;
    if (!(steps_d <= 1e9))
        return nf_cli_error(CMD, NF_EXIT_USAGE, "--duration %g / --dt %g = %.3g samples: at most 1e9", duration, dt,
                            steps_d);
    const int64_t T = (int64_t)steps_d;
    const int64_t n_rec = record_every ? (T + record_every - 1) / record_every : 0;
    const double mem = nf_cli_memory_bytes();
    const int64_t K0 = max_spikes ? max_spikes : 64; /* auto: a first guess, grown when a simulation fires more */
    const char *hint = record_every ? "fewer simulations, --record every:K or --record none" : "fewer simulations";
    char what[256];
    snprintf(what, sizeof what, "--sample-prior %lld x %lld samples", (long long)sample_n, (long long)T);
    int rc = sample_n ? nf_cli_check_memory(CMD, output_bytes(sample_n, m->n_params, n_rec, K0, 0, T), what, hint) : 0;
    if (rc)
        return rc;

    float *params = NULL, *wave = NULL, *voltage = NULL, *spikes = NULL;
    int32_t *counts = NULL;
    uint8_t *valid = NULL;
    nf_engine *e = NULL;
    nf_out_lock *lock = NULL;
    nf_stage *stage = NULL;
    int64_t P = 0, n_waves = 0, K = K0, dropped = 0, n_over = 0, most = 0;
    cJSON *meta = NULL, *stim_json = NULL;
    char *text = NULL;

    /* ---- inputs, all checked before --out is touched ---- */
    if (from_fit) {
        const char *mn = fit_model[0] ? NULL : model; /* NULL: every recording's must be the same */
        if ((rc = read_fit_params(&mn, params_path, rank ? (int)rank : 1, &params, &P))) goto done;
    } else if (params_path) {
        if ((rc = read_params(m, params_path, &params, &P))) goto done;
    } else
        P = sample_n;

    nf_stimulus stim = {0};
    stim.seed = seed;
    stim_json = cJSON_CreateArray();
    for (int s = 0; s < n_stims; s++) {
        const char *st = stims[s];
        double v[3];
        cJSON_AddItemToArray(stim_json, cJSON_CreateString(st));
        if (!strncmp(st, "step:", 5)) {
            if (wave || nf_cli_parse_list(st + 5, v, 3) != 3 || v[2] < v[1]) {
                rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--stimulus %s: use step:AMP_pA,START_ms,END_ms (one waveform)", st);
                goto done;
            }
            wave = malloc(sizeof(float) * T);
            if (!wave) {
                rc = nf_cli_error(CMD, NF_EXIT_FAIL, "out of memory");
                goto done;
            }
            for (int64_t n = 0; n < T; n++) wave[n] = (n * dt >= v[1] && n * dt < v[2]) ? (float)v[0] : 0.0f;
            n_waves = 1;
        } else if (!strncmp(st, "noise:", 6)) {
            if (nf_cli_parse_list(st + 6, v, 3) != 3 || v[1] < 0 || v[2] < 0) {
                rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--stimulus %s: use noise:MEAN_pA,SD_pA,TAU_ms (SD, TAU >= 0)", st);
                goto done;
            }
            stim.noise_mean_pA = (float)v[0];
            stim.noise_sd_pA = (float)v[1];
            stim.noise_tau_ms = (float)v[2];
        } else if (!strncmp(st, "file:", 5)) {
            if (wave) {
                rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--stimulus %s: only one waveform (step or file)", st);
                goto done;
            }
            if ((rc = nf_cli_read_waves(CMD, "--stimulus", st + 5, T, P, &wave, &n_waves))) goto done;
        } else {
            rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--stimulus %s: use step:..., noise:... or file:PATH", st);
            goto done;
        }
    }
    stim.waves = wave;
    stim.n_waves = n_waves;
    snprintf(what, sizeof what, "%lld simulations x %lld samples", (long long)P, (long long)T);
    if ((rc = nf_cli_check_memory(CMD, output_bytes(P, m->n_params, n_rec, K0, n_waves, T), what, hint)))
        goto done;

    /* ---- one writer of --out; then compute ---- */
    if ((rc = nf_cli_out_begin(CMD, out, "meta.json", c.force, &lock))) goto done;
    nf_cli_stop_mode(NF_CLI_STOP_EXIT); /* nothing staged yet: a signal just ends the run */
    if (!params_path) {
        params = malloc(sizeof(float) * (size_t)P * m->n_params);
        if (!params) {
            rc = nf_cli_error(CMD, NF_EXIT_FAIL, "out of memory for %lld parameter sets", (long long)P);
            goto done;
        }
        nf_model_sample_uniform(m, seed, 0, P, params);
    }
    voltage = record_every ? malloc(sizeof(float) * (size_t)P * n_rec) : NULL;
    counts = malloc(sizeof(int32_t) * P);
    valid = malloc((size_t)P);
    spikes = nan_floats((size_t)P * (size_t)K);
    if ((record_every && !voltage) || !counts || !valid || !spikes) {
        rc = nf_cli_error(CMD, NF_EXIT_FAIL, "out of memory for %lld simulations", (long long)P);
        goto done;
    }

    nf_batch b = {.model = m, .n_sims = P, .n_steps = T, .dt_ms = dt, .params = params, .stim = stim,
                  .voltage = voltage, .record_every = record_every, .spike_times = spikes,
                  .max_spikes = (int32_t)K, .spike_counts = counts, .valid = valid};
    if (nf_batch_validate(&b)) {
        rc = nf_cli_error(CMD, NF_EXIT_USAGE, "%s", nf_errmsg());
        goto done;
    }
    if ((rc = nf_cli_engine_create(CMD, &c, NF_BACKEND_AUTO, &e))) goto done;
    nf_status es = nf_engine_run(e, &b);
    for (int64_t i = 0; !es && i < P; i++)
        most = counts[i] > most ? counts[i] : most;
    /* auto: all spike times, so the batch again with room for the most (identical results, any K) */
    if (!es && !max_spikes && most > K && most <= MAX_SPIKES_CAP &&
        !(mem > 0 && output_bytes(P, m->n_params, n_rec, most, n_waves, T) > mem)) {
        K = most;
        es = run_batch(e, &b, K, &spikes);
    }
    if (es) {
        rc = nf_cli_error(CMD, NF_EXIT_FAIL, "%s", es == NF_ENOMEM && !nf_errmsg()[0] ? "out of memory" : nf_errmsg());
        goto done;
    }
    for (int64_t i = 0; i < P; i++)
        if (counts[i] > K) {
            n_over++;
            dropped += counts[i] - K;
        }
    if (dropped)
        fprintf(stderr,
                "neurofit simulate: %lld of %lld simulations fired more than %lld spikes (at most %lld): spikes.npy "
                "keeps the first %lld of each and drops %lld spike times (spike_counts.npy counts all); %s\n",
                (long long)n_over, (long long)P, (long long)K, (long long)most, (long long)K, (long long)dropped,
                max_spikes ? "--max-spikes auto or a larger cap keeps them" : "they would not fit in memory");

    /* ---- write the results into the stage, then commit them as one set ---- */
    nf_cli_stop_mode(NF_CLI_STOP_FLAG); /* a signal now: the stage is removed, nothing committed */
    if (nf_stage_open(out, &stage)) {
        rc = nf_cli_error(CMD, NF_EXIT_FAIL, "--out: %s", nf_errmsg());
        goto done;
    }
    char path[4096];
    int64_t shp[2];
#define WRITE(name, type, nd, s0, s1, data)                                          \
    do {                                                                             \
        shp[0] = (s0);                                                               \
        shp[1] = (s1);                                                               \
        if (nf_cli_stop) goto stopped;                                               \
        if (nf_path_join(path, sizeof path, nf_stage_path(stage), name) ||           \
            nf_npy_write(path, type, nd, shp, data)) {                               \
            rc = nf_cli_error(CMD, NF_EXIT_FAIL, "%s", nf_errmsg());                 \
            goto done;                                                               \
        }                                                                            \
    } while (0)
    WRITE("params.npy", NF_DT_F32, 2, P, m->n_params, params);
    if (voltage) WRITE("voltage.npy", NF_DT_F32, 2, P, n_rec, voltage);
    WRITE("spikes.npy", NF_DT_F32, 2, P, K, spikes);
    WRITE("spike_counts.npy", NF_DT_I32, 1, P, 0, counts);
    WRITE("valid.npy", NF_DT_BOOL, 1, P, 0, valid);
#undef WRITE
    meta = cJSON_CreateObject();
    cJSON_AddStringToObject(meta, "model", m->name);
    cJSON_AddStringToObject(meta, "backend", nf_backend_name(nf_engine_backend(e)));
    cJSON_AddNumberToObject(meta, "n_sims", (double)P);
    cJSON_AddNumberToObject(meta, "n_steps", (double)T);
    cJSON_AddNumberToObject(meta, "dt_ms", dt);
    cJSON_AddNumberToObject(meta, "record_every", (double)record_every);
    cJSON_AddNumberToObject(meta, "sample_interval_ms", record_every * dt);
    cJSON_AddNumberToObject(meta, "seed", (double)seed);
    cJSON_AddNumberToObject(meta, "max_spikes", (double)K);
    cJSON_AddNumberToObject(meta, "spikes_dropped", (double)dropped);
    cJSON_AddStringToObject(meta, "params_source", params_path ? params_path : "uniform prior (fitting bounds)");
    cJSON_AddItemToObject(meta, "stimulus", stim_json);
    stim_json = NULL;
    cJSON *pn = cJSON_AddArrayToObject(meta, "parameters");
    for (int j = 0; j < m->n_params; j++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", m->params[j].name);
        cJSON_AddStringToObject(o, "unit", m->params[j].unit);
        cJSON_AddItemToArray(pn, o);
    }
    cJSON *units = cJSON_AddObjectToObject(meta, "units");
    cJSON_AddStringToObject(units, "voltage", "mV");
    cJSON_AddStringToObject(units, "spikes", "ms");
    cJSON_AddStringToObject(units, "current", "pA");
    cJSON *files = cJSON_AddObjectToObject(meta, "files");
    cJSON_AddStringToObject(files, "params.npy", "float32 [n_sims][n_params]");
    if (voltage) cJSON_AddStringToObject(files, "voltage.npy", "float32 [n_sims][ceil(n_steps/record_every)] mV");
    cJSON_AddStringToObject(files, "spikes.npy",
                            "float32 [n_sims][max_spikes] ms, NaN padded; all spike times unless spikes_dropped > 0");
    cJSON_AddStringToObject(files, "spike_counts.npy", "int32 [n_sims], all spikes");
    cJSON_AddStringToObject(files, "valid.npy", "bool [n_sims]");
    text = cJSON_Print(meta);
    static const char *const set[] = {"params.npy", "voltage.npy", "spikes.npy", "spike_counts.npy", "valid.npy",
                                      "meta.json"};
    if (nf_cli_stop) goto stopped;
    if (!text || nf_path_join(path, sizeof path, nf_stage_path(stage), "meta.json") ||
        nf_file_write_string(path, text) || nf_stage_commit(stage, set, 6)) {
        rc = nf_cli_error(CMD, NF_EXIT_FAIL, "%s", nf_errmsg());
        goto done;
    }
    int64_t n_valid = 0, n_fired = 0;
    for (int64_t i = 0; i < P; i++) {
        n_valid += valid[i];
        n_fired += counts[i] > 0;
    }
    fprintf(stderr, "neurofit simulate: %lld x %s on %s, %lld samples: %lld valid, %lld fired; wrote %s/\n",
            (long long)P, m->name, nf_backend_name(nf_engine_backend(e)), (long long)T, (long long)n_valid,
            (long long)n_fired, out);
    goto done;
stopped:
    rc = nf_cli_error(CMD, NF_EXIT_INTERRUPTED, "interrupted; nothing written, %s is as it was", out);
done:
    nf_stage_destroy(stage);
    nf_cli_out_end(lock);
    nf_cli_stop_mode(NF_CLI_STOP_DEFAULT);
    cJSON_Delete(stim_json);
    free(text);
    cJSON_Delete(meta);
    nf_engine_destroy(e);
    free(params);
    free(wave);
    free(voltage);
    free(spikes);
    free(counts);
    free(valid);
    return rc;
}
