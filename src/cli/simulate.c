/* `neurofit simulate`: run one batch of a model and write .npy files + meta.json.
 *
 *   neurofit simulate --model M (--params FILE | --sample-prior N [--seed S])
 *       --stimulus step:AMP_pA,START_ms,END_ms | noise:MEAN_pA,SD_pA,TAU_ms | file:PATH
 *       --dt MS --duration MS [--record all|every:K|none] [--max-spikes K]
 *       [--backend auto|cpu|cuda] [--threads N] --out DIR
 *
 * --stimulus may be given twice (a waveform plus noise). Outputs in DIR:
 * params.npy [P][n_params] f4, voltage.npy [P][T'] f4 (unless --record none),
 * spikes.npy [P][K] f4 ms (NaN padded), spike_counts.npy [P] i4, valid.npy [P]
 * b1, meta.json. Everything is computed before anything is written, into a
 * stage beside DIR committed as one set (meta.json last), so a failed run
 * leaves earlier results untouched. */
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
            "         --dt MS --duration MS [--record all|every:K|none] [--max-spikes K]\n"
            "         [--backend auto|cpu|cuda] [--threads N] --out DIR\n\n"
            "  --params FILE      .npy [P][n_params] or CSV/text rows; a header row of parameter\n"
            "                     names (any order, missing ones take defaults) is optional\n"
            "  --sample-prior N   N parameter sets uniform inside the fitting bounds\n"
            "  --stimulus         may be repeated: a waveform (step or file) plus noise\n"
            "  file:PATH          .npy [T] (shared) or [P][T] (one per simulation), or a text column\n"
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
    size_t cap = 64, n = 0;
    float *rows = malloc(sizeof(float) * cap * m->n_params);
    char line[8192];
    long lineno = 0;
    int rc = 0;
    while (rows && fgets(line, sizeof line, fp)) {
        lineno++;
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
                                      path, lineno, tok, m->name);
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
                                  m->params[map[c]].name, tok, c + 1);
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
    NF_CLI_OPT_HELP, NF_CLI_OPT_OUT, NF_CLI_OPT_SEED, NF_CLI_OPT_BACKEND, NF_CLI_OPT_THREADS,
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

int nf_cli_simulate(int argc, char **argv)
{
    const char *model = NULL, *params_path = NULL, *record = "all";
    const char *stims[2] = {NULL, NULL};
    int n_stims = 0;
    int64_t sample_n = 0, max_spikes = 64, rank = 0;
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
            if (!nf_cli_parse_i64(v, &sample_n) || sample_n < 1)
                return nf_cli_error(CMD, NF_EXIT_USAGE, "--sample-prior %s: need a count >= 1", v);
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
            if (!nf_cli_parse_i64(v, &max_spikes) || max_spikes < 1 || max_spikes > 1000000)
                return nf_cli_error(CMD, NF_EXIT_USAGE, "--max-spikes %s: need 1..1000000", v);
            break;
        }
    }
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
        if (!nf_cli_parse_i64(record + 6, &record_every) || record_every < 1)
            return nf_cli_error(CMD, NF_EXIT_USAGE, "--record %s: K must be an integer >= 1", record);
    } else if (strcmp(record, "all"))
        return nf_cli_error(CMD, NF_EXIT_USAGE, "--record %s: use all, every:K or none", record);
    double steps_d = floor(duration / dt + 0.5) + 1;
    if (steps_d > 1e9) return nf_cli_error(CMD, NF_EXIT_USAGE, "duration/dt = %g samples is too many", steps_d);
    const int64_t T = (int64_t)steps_d;

    int rc = NF_EXIT_OK;
    float *params = NULL, *wave = NULL, *voltage = NULL, *spikes = NULL;
    int32_t *counts = NULL;
    uint8_t *valid = NULL;
    nf_engine *e = NULL;
    nf_stage *stage = NULL;
    int64_t P = 0, n_waves = 0;
    cJSON *meta = NULL, *stim_json = NULL;
    char *text = NULL;

    if (nf_stage_open(out, &stage)) { /* the outputs are one set, staged beside --out */
        rc = nf_cli_error(CMD, NF_EXIT_USAGE, "--out: %s", nf_errmsg());
        goto done;
    }
    if (from_fit) {
        const char *mn = fit_model[0] ? NULL : model; /* NULL: every recording's must be the same */
        if ((rc = read_fit_params(&mn, params_path, rank ? (int)rank : 1, &params, &P))) goto done;
    } else if (params_path) {
        if ((rc = read_params(m, params_path, &params, &P))) goto done;
    } else {
        P = sample_n;
        params = malloc(sizeof(float) * (size_t)P * m->n_params);
        if (!params) {
            rc = nf_cli_error(CMD, NF_EXIT_FAIL, "out of memory for %lld parameter sets", (long long)P);
            goto done;
        }
        nf_model_sample_uniform(m, seed, 0, P, params);
    }

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

    int64_t n_rec = record_every ? (T + record_every - 1) / record_every : 0;
    if (record_every && (double)P * n_rec * 4 > 64e9) {
        rc = nf_cli_error(CMD, NF_EXIT_USAGE, "recording %lld x %lld samples needs %.1f GB: use --record every:K or none",
                          (long long)P, (long long)n_rec, P * n_rec * 4e-9);
        goto done;
    }
    voltage = record_every ? malloc(sizeof(float) * (size_t)P * n_rec) : NULL;
    spikes = malloc(sizeof(float) * (size_t)P * max_spikes);
    counts = malloc(sizeof(int32_t) * P);
    valid = malloc((size_t)P);
    if ((record_every && !voltage) || !spikes || !counts || !valid) {
        rc = nf_cli_error(CMD, NF_EXIT_FAIL, "out of memory for %lld simulations", (long long)P);
        goto done;
    }
    for (int64_t k = 0; k < P * max_spikes; k++) spikes[k] = NAN;

    nf_batch b = {.model = m, .n_sims = P, .n_steps = T, .dt_ms = dt, .params = params, .stim = stim,
                  .voltage = voltage, .record_every = record_every, .spike_times = spikes,
                  .max_spikes = (int32_t)max_spikes, .spike_counts = counts, .valid = valid};
    if (nf_batch_validate(&b)) {
        rc = nf_cli_error(CMD, NF_EXIT_USAGE, "%s", nf_errmsg());
        goto done;
    }
    if (nf_engine_create(c.backend, c.threads, &e) || nf_engine_run(e, &b)) {
        rc = nf_cli_error(CMD, NF_EXIT_FAIL, "%s", nf_errmsg());
        goto done;
    }

    /* ---- write the results into the stage, then commit them as one set ---- */
    char path[4096];
    int64_t shp[2];
#define WRITE(name, type, nd, s0, s1, data)                                          \
    do {                                                                             \
        shp[0] = (s0);                                                               \
        shp[1] = (s1);                                                               \
        if (nf_path_join(path, sizeof path, nf_stage_path(stage), name) ||           \
            nf_npy_write(path, type, nd, shp, data)) {                               \
            rc = nf_cli_error(CMD, NF_EXIT_FAIL, "%s", nf_errmsg());                 \
            goto done;                                                               \
        }                                                                            \
    } while (0)
    WRITE("params.npy", NF_DT_F32, 2, P, m->n_params, params);
    if (voltage) WRITE("voltage.npy", NF_DT_F32, 2, P, n_rec, voltage);
    WRITE("spikes.npy", NF_DT_F32, 2, P, max_spikes, spikes);
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
    cJSON_AddNumberToObject(meta, "max_spikes", (double)max_spikes);
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
    cJSON_AddStringToObject(files, "spikes.npy", "float32 [n_sims][max_spikes] ms, NaN padded");
    cJSON_AddStringToObject(files, "spike_counts.npy", "int32 [n_sims], all spikes");
    cJSON_AddStringToObject(files, "valid.npy", "bool [n_sims]");
    text = cJSON_Print(meta);
    static const char *const set[] = {"params.npy", "voltage.npy", "spikes.npy", "spike_counts.npy", "valid.npy",
                                      "meta.json"};
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
done:
    nf_stage_destroy(stage);
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
