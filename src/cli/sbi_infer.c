/* `neurofit sbi infer`: posterior draws of the lif6 parameters for observed
 * traces, by the estimator of src/sbc/ against a bayesflow-lif reference
 * table (simulated here, or a `sbi simulate --preset bayesflow-lif` dataset).
 *
 *   neurofit sbi infer --reference DIR|bayesflow-lif --observed FILE.npy [--stimulus FILE.npy]
 *       [--samples L] --out DIR
 *
 * The outputs are staged and committed together (posterior.json last). */
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "neurofit/engine.h"
#include "neurofit/fileio.h"
#include "neurofit/npy.h"
#include "neurofit/sbc.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void usage_infer(FILE *fp)
{
    fprintf(fp,
            "usage: neurofit sbi infer --reference DIR|bayesflow-lif --observed FILE.npy [--stimulus FILE.npy]\n"
            "                          [--samples L] --out DIR [options]\n\n"
            "Posterior draws of the six lif6 parameters (C_m pF, g_L nS, E_L mV, V_th mV, V_res mV,\n"
            "t_ref ms) for observed traces, by neurofit's estimator (summaries + regression-adjusted\n"
            "ABC, docs/sbc.md).\n\n"
            "  --reference bayesflow-lif  simulate the reference table here (--reference-n N, --seed S)\n"
            "  --reference DIR            a `neurofit sbi simulate --preset bayesflow-lif` dataset (traces\n"
            "                             in x.npy; with --stimulus its stimulus.npy is needed too)\n"
            "  --observed FILE.npy        traces [K][501] or [501] mV, sample i at t = 0.1 i ms\n"
            "  --stimulus FILE.npy        the injected currents [K][501] or one shared [501] pA; without\n"
            "                             it the posterior uses the voltage alone\n"
            "  --samples L                posterior draws per trace (1000)\n"
            "  --reference-n N            reference simulations for a preset (100000; >= 1000)\n"
            "  --sigma MV                 measurement noise added to the reference traces (0.1 mV): the\n"
            "                             posterior is the one under that noise model\n"
            "  --seed S                   (2026), --threads N, --backend auto|cpu|cuda, --quiet\n"
            "  outputs in DIR: posterior.npy [K][L][6] f4 (model units), posterior.json (per trace mean,\n"
            "  sd, 5/50/95 %% quantiles; written last)\n");
}

/* Read an [K][501] or [501] float array with finite values; *rows = K (1 for 1-D). */
static int read_traces(const char *cmd, const char *opt, const char *path, float **data, int64_t *rows)
{
    int ndim = 0;
    int64_t shape[4] = {0};
    if (nf_npy_read_f32(path, data, &ndim, shape, 4)) return nf_cli_error(cmd, NF_EXIT_USAGE, "%s: %s", opt, nf_errmsg());
    int64_t cols = ndim == 1 ? shape[0] : (ndim == 2 ? shape[1] : -1);
    if (cols != NF_SBC_LIF_T || (ndim == 2 && shape[0] < 1)) {
        free(*data);
        *data = NULL;
        return nf_cli_error(cmd, NF_EXIT_USAGE, "%s %s: shape must be [K][%d] or [%d] (%d-dimensional, %lld columns)", opt,
                            path, NF_SBC_LIF_T, NF_SBC_LIF_T, ndim, (long long)cols);
    }
    *rows = ndim == 1 ? 1 : shape[0];
    for (int64_t i = 0; i < *rows * NF_SBC_LIF_T; i++)
        if (!isfinite((*data)[i])) {
            free(*data);
            *data = NULL;
            return nf_cli_error(cmd, NF_EXIT_USAGE, "%s %s: value [%lld][%lld] is not finite", opt, path,
                                (long long)(i / NF_SBC_LIF_T), (long long)(i % NF_SBC_LIF_T));
        }
    return NF_EXIT_OK;
}

/* Reference table from a preset dataset directory: theta [N][6] and summaries. */
static int reference_from_dir(const char *C, const char *dir, int with_stim, double sigma, uint64_t seed, float **theta,
                              float **summ, int64_t *n_out)
{
    char path[4096];
    int rc = NF_EXIT_OK;
    if (nf_path_join(path, sizeof path, dir, "meta.json")) return nf_cli_error(C, NF_EXIT_USAGE, "--reference: %s", nf_errmsg());
    char *text = nf_cli_read_text(path);
    if (!text) return nf_cli_error(C, NF_EXIT_USAGE, "--reference %s: no meta.json (not a complete `sbi simulate` dataset)", dir);
    cJSON *meta = cJSON_Parse(text);
    free(text);
    const cJSON *pr = cJSON_GetObjectItemCaseSensitive(meta, "preset");
    if (!cJSON_IsString(pr) || strcmp(pr->valuestring, "bayesflow-lif") != 0)
        rc = nf_cli_error(C, NF_EXIT_USAGE, "--reference %s: meta.json has no \"preset\": \"bayesflow-lif\" (only that preset's"
                          " datasets can serve as a reference)", dir);
    cJSON_Delete(meta);
    if (rc) return rc;
    float *th = NULL, *x = NULL, *stim = NULL;
    int ndim = 0;
    int64_t sh[4] = {0}, n = 0;
    if (nf_path_join(path, sizeof path, dir, "theta.npy") || nf_npy_read_f32(path, &th, &ndim, sh, 4))
        rc = nf_cli_error(C, NF_EXIT_USAGE, "--reference: %s", nf_errmsg());
    else if (ndim != 2 || sh[1] != NF_SBC_LIF_D || sh[0] < 1000)
        rc = nf_cli_error(C, NF_EXIT_USAGE, "--reference %s: theta.npy must be [N][6] with N >= 1000", path);
    n = sh[0];
    if (!rc) {
        int64_t rows = 0;
        if (nf_path_join(path, sizeof path, dir, "x.npy")) rc = nf_cli_error(C, NF_EXIT_USAGE, "%s", nf_errmsg());
        else if (!(rc = read_traces(C, "--reference", path, &x, &rows)) && rows != n)
            rc = nf_cli_error(C, NF_EXIT_USAGE, "--reference %s: %lld traces for %lld parameter rows (need traces:"
                              " `sbi simulate --x traces`)", path, (long long)rows, (long long)n);
    }
    if (!rc && with_stim) {
        int64_t rows = 0;
        if (nf_path_join(path, sizeof path, dir, "stimulus.npy")) rc = nf_cli_error(C, NF_EXIT_USAGE, "%s", nf_errmsg());
        else if (!(rc = read_traces(C, "--reference", path, &stim, &rows)) && rows != n)
            rc = nf_cli_error(C, NF_EXIT_USAGE, "--reference %s: %lld stimuli for %lld simulations", path, (long long)rows,
                              (long long)n);
    }
    const int k = nf_sbc_lif_n_summaries(with_stim);
    float *s = rc ? NULL : malloc(sizeof(float) * (size_t)n * (size_t)k);
    if (!rc && !s) rc = nf_cli_error(C, NF_EXIT_FAIL, "out of memory for %lld reference rows", (long long)n);
    if (!rc && nf_sbc_lif_add_noise(x, n, sigma, seed, 0)) rc = nf_cli_error(C, NF_EXIT_FAIL, "%s", nf_errmsg());
    for (int64_t i = 0; !rc && i < n; i++)
        if (nf_sbc_lif_summaries(x + i * NF_SBC_LIF_T, with_stim ? stim + i * NF_SBC_LIF_T : NULL, NF_SBC_LIF_T,
                                 NF_SBC_LIF_DT, 0.0, s + i * k))
            rc = nf_cli_error(C, NF_EXIT_USAGE, "--reference %s: trace %lld: %s", dir, (long long)i, nf_errmsg());
    free(x);
    free(stim);
    if (rc) {
        free(th);
        free(s);
        return rc;
    }
    *theta = th;
    *summ = s;
    *n_out = n;
    return NF_EXIT_OK;
}

static cJSON *json_row(const double *x, int d)
{
    cJSON *a = cJSON_CreateArray();
    for (int j = 0; a && j < d; j++) cJSON_AddItemToArray(a, cJSON_CreateNumber(x[j]));
    return a;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* posterior.json: settings and per-trace mean, sd, 5/50/95 % quantiles. */
static char *infer_json(const float *post, int64_t K, int64_t L, const char *reference, int64_t n_ref, double sigma,
                        int with_stim, uint64_t seed, const char *observed, const char *stim_path)
{
    const int D = NF_SBC_LIF_D;
    cJSON *root = cJSON_CreateObject(), *names = cJSON_CreateArray(), *units = cJSON_CreateArray();
    cJSON_AddStringToObject(root, "format", "neurofit-sbi-posterior-1");
    cJSON_AddStringToObject(root, "method", "physics-informed lif6 summaries + regression-adjusted ABC (docs/sbc.md)");
    cJSON_AddStringToObject(root, "model", "lif6");
    for (int j = 0; j < D; j++) {
        cJSON_AddItemToArray(names, cJSON_CreateString(nf_sbc_lif_param_name(j)));
        cJSON_AddItemToArray(units, cJSON_CreateString(nf_sbc_lif_param_unit(j)));
    }
    cJSON_AddItemToObject(root, "parameters", names);
    cJSON_AddItemToObject(root, "units", units);
    cJSON_AddStringToObject(root, "reference", reference);
    cJSON_AddNumberToObject(root, "n_reference", (double)n_ref);
    cJSON_AddNumberToObject(root, "sigma_mV", sigma);
    cJSON_AddStringToObject(root, "stimulus", with_stim ? "observed" : "unobserved");
    if (stim_path) cJSON_AddStringToObject(root, "stimulus_file", stim_path);
    cJSON_AddStringToObject(root, "observed", observed);
    cJSON_AddNumberToObject(root, "seed", (double)seed);
    cJSON_AddNumberToObject(root, "n_traces", (double)K);
    cJSON_AddNumberToObject(root, "samples", (double)L);
    cJSON_AddStringToObject(root, "samples_file", "posterior.npy [n_traces][samples][6] float32, model units");
    cJSON *obs = cJSON_CreateArray();
    cJSON_AddItemToObject(root, "traces", obs);
    float *col = malloc(sizeof(float) * (size_t)L);
    for (int64_t m = 0; col && m < K; m++) {
        double mean[NF_SBC_LIF_D], sd[NF_SBC_LIF_D], q[3][NF_SBC_LIF_D];
        for (int j = 0; j < D; j++) {
            double s1 = 0, s2 = 0;
            for (int64_t l = 0; l < L; l++) {
                col[l] = post[(m * L + l) * D + j];
                s1 += col[l];
            }
            mean[j] = s1 / (double)L;
            for (int64_t l = 0; l < L; l++) s2 += (col[l] - mean[j]) * (col[l] - mean[j]);
            sd[j] = L > 1 ? sqrt(s2 / (double)(L - 1)) : 0.0;
            qsort(col, (size_t)L, sizeof(float), cmp_float);
            const double p[3] = {0.05, 0.5, 0.95};
            for (int a = 0; a < 3; a++) {
                double h = p[a] * (double)(L - 1);
                int64_t lo = (int64_t)h, hi = lo + 1 < L ? lo + 1 : lo;
                q[a][j] = col[lo] + (h - (double)lo) * (col[hi] - col[lo]);
            }
        }
        cJSON *t = cJSON_CreateObject();
        cJSON_AddNumberToObject(t, "index", (double)m);
        cJSON_AddItemToObject(t, "mean", json_row(mean, D));
        cJSON_AddItemToObject(t, "sd", json_row(sd, D));
        cJSON_AddItemToObject(t, "q05", json_row(q[0], D));
        cJSON_AddItemToObject(t, "q50", json_row(q[1], D));
        cJSON_AddItemToObject(t, "q95", json_row(q[2], D));
        cJSON_AddItemToArray(obs, t);
    }
    char *text = col ? cJSON_Print(root) : NULL;
    free(col);
    cJSON_Delete(root);
    return text;
}

enum { O_REFERENCE = NF_CLI_OWN, O_OBSERVED, O_STIMULUS, O_SAMPLES, O_REFERENCE_N, O_SIGMA };

static const struct option sbi_infer_options[] = {
    NF_CLI_OPT_HELP, NF_CLI_OPT_OUT, NF_CLI_OPT_QUIET, NF_CLI_OPT_SEED, NF_CLI_OPT_BACKEND, NF_CLI_OPT_THREADS,
    {"reference", required_argument, NULL, O_REFERENCE},
    {"observed", required_argument, NULL, O_OBSERVED},
    {"stimulus", required_argument, NULL, O_STIMULUS},
    {"samples", required_argument, NULL, O_SAMPLES},
    {"reference-n", required_argument, NULL, O_REFERENCE_N},
    {"sigma", required_argument, NULL, O_SIGMA},
    NF_CLI_OPT_END};

int nf_cli_sbi_infer(int argc, char **argv)
{
    static const char *C = "sbi infer";
    const char *ref = NULL, *obs_path = NULL, *stim_path = NULL;
    int64_t L = 1000, n_ref = 100000;
    double sigma = 0.1;
    nf_cli_common c = {.seed = 2026};
    nf_cli_parser p;
    nf_cli_parser_init(&p, C, argc, argv, sbi_infer_options, &c);
    for (int k; (k = nf_cli_next(&p)) != NF_CLI_END;) {
        const char *v = p.arg;
        switch (k) {
        case NF_CLI_HELP: usage_infer(stdout); return NF_EXIT_OK;
        case NF_CLI_ERROR: return p.rc;
        case NF_CLI_ARG: return nf_cli_unexpected(&p);
        case O_REFERENCE: ref = v; break;
        case O_OBSERVED: obs_path = v; break;
        case O_STIMULUS: stim_path = v; break;
        case O_SAMPLES:
            if (!nf_cli_parse_i64(v, &L) || L < 1 || L > 1000000)
                return nf_cli_error(C, NF_EXIT_USAGE, "--samples %s: need an integer in 1..1e6", v);
            break;
        case O_REFERENCE_N:
            if (!nf_cli_parse_i64(v, &n_ref) || n_ref < 1000 || n_ref > 100000000)
                return nf_cli_error(C, NF_EXIT_USAGE, "--reference-n %s: need an integer in 1000..1e8", v);
            break;
        case O_SIGMA:
            if (!nf_cli_parse_double(v, &sigma) || sigma < 0) return nf_cli_error(C, NF_EXIT_USAGE, "--sigma %s: need mV >= 0", v);
            break;
        }
    }
    const char *out = c.out;
    const int quiet = c.quiet;
    const uint64_t seed = c.seed;
    if (!ref) return nf_cli_error(C, NF_EXIT_USAGE, "--reference DIR|bayesflow-lif is required");
    if (!obs_path) return nf_cli_error(C, NF_EXIT_USAGE, "--observed FILE.npy is required");
    if (!out) return nf_cli_error(C, NF_EXIT_USAGE, "--out DIR is required");

    /* all input is read and checked before any simulation or output */
    float *obs = NULL, *stim = NULL, *rt = NULL, *rs = NULL, *post = NULL, *s_obs = NULL;
    int64_t K = 0, n_stim = 0;
    int rc = read_traces(C, "--observed", obs_path, &obs, &K);
    if (!rc && stim_path) {
        rc = read_traces(C, "--stimulus", stim_path, &stim, &n_stim);
        if (!rc && n_stim != 1 && n_stim != K)
            rc = nf_cli_error(C, NF_EXIT_USAGE, "--stimulus %s: %lld stimuli for %lld observed traces (need 1 or %lld)",
                              stim_path, (long long)n_stim, (long long)K, (long long)K);
    }
    const int ws = stim_path != NULL, k = nf_sbc_lif_n_summaries(ws);
    if (!rc && !(s_obs = malloc(sizeof(float) * (size_t)K * (size_t)k)))
        rc = nf_cli_error(C, NF_EXIT_FAIL, "out of memory");
    for (int64_t m = 0; !rc && m < K; m++)
        if (nf_sbc_lif_summaries(obs + m * NF_SBC_LIF_T, ws ? stim + (n_stim == 1 ? 0 : m) * NF_SBC_LIF_T : NULL,
                                 NF_SBC_LIF_T, NF_SBC_LIF_DT, 0.0, s_obs + m * k))
            rc = nf_cli_error(C, NF_EXIT_USAGE, "--observed %s: trace %lld: %s", obs_path, (long long)m, nf_errmsg());
    int is_preset = !strcmp(ref, "bayesflow-lif");
    struct stat sb;
    if (!rc && !is_preset && (stat(ref, &sb) != 0 || !S_ISDIR(sb.st_mode)))
        rc = nf_cli_error(C, NF_EXIT_USAGE, "--reference %s: neither a preset (bayesflow-lif) nor a dataset directory", ref);
    if (!rc && !is_preset) rc = reference_from_dir(C, ref, ws, sigma, seed, &rt, &rs, &n_ref);
    nf_engine *e = NULL;
    if (!rc && is_preset) {
        if (!quiet) fprintf(stderr, "neurofit sbi infer: simulating %lld reference traces...\n", (long long)n_ref);
        rt = malloc(sizeof(float) * (size_t)n_ref * NF_SBC_LIF_D);
        rs = malloc(sizeof(float) * (size_t)n_ref * (size_t)k);
        if (!rt || !rs) rc = nf_cli_error(C, NF_EXIT_FAIL, "out of memory for %lld reference rows", (long long)n_ref);
        else if (nf_engine_create(c.backend, c.threads, &e) ||
                 nf_sbc_lif_table(e, seed, 0, n_ref, sigma, rt, NULL, NULL, ws ? rs : NULL, ws ? NULL : rs))
            rc = nf_cli_error(C, NF_EXIT_FAIL, "%s", nf_errmsg());
        nf_engine_destroy(e);
    }
    double lo[NF_SBC_LIF_D], hi[NF_SBC_LIF_D];
    nf_sbc_lif_bounds(lo, hi);
    nf_abc *abc = NULL;
    if (!rc && nf_abc_create(rt, rs, n_ref, NF_SBC_LIF_D, k, lo, hi, NULL, &abc))
        rc = nf_cli_error(C, NF_EXIT_USAGE, "--reference %s: %s", ref, nf_errmsg());
    if (!rc) { /* the repair rule's branch as a latent class for V_res, as `sbi sbc` does by default */
        int32_t *cls = malloc(sizeof(int32_t) * (size_t)n_ref);
        if (!cls) rc = nf_cli_error(C, NF_EXIT_FAIL, "out of memory");
        else {
            nf_sbc_lif_classes(rt, n_ref, cls);
            if (nf_abc_set_classes(abc, cls, 3, 1u << 4)) rc = nf_cli_error(C, NF_EXIT_FAIL, "%s", nf_errmsg());
            free(cls);
        }
    }
    if (!rc && (K > ((int64_t)1 << 40) / L || !(post = malloc(sizeof(float) * (size_t)(K * L) * NF_SBC_LIF_D))))
        rc = nf_cli_error(C, NF_EXIT_FAIL, "out of memory for %lld x %lld posterior draws", (long long)K, (long long)L);
    for (int64_t m = 0; !rc && m < K; m++)
        if (nf_abc_sample(abc, s_obs + m * k, L, seed + 1000 + (uint64_t)m, post + m * L * NF_SBC_LIF_D))
            rc = nf_cli_error(C, NF_EXIT_FAIL, "trace %lld: %s", (long long)m, nf_errmsg());
    static const char *const files[2] = {"posterior.npy", "posterior.json"};
    char stage[4096], path[4200];
    if (!rc) rc = nf_cli_stage_make(C, out, stage, sizeof stage);
    if (!rc) {
        int64_t shape[3] = {K, L, NF_SBC_LIF_D};
        char *text = infer_json(post, K, L, ref, n_ref, sigma, ws, seed, obs_path, stim_path);
        snprintf(path, sizeof path, "%s/posterior.npy", stage);
        int bad = !text || nf_npy_write(path, NF_DT_F32, 3, shape, post);
        snprintf(path, sizeof path, "%s/posterior.json", stage);
        if (!bad) bad = nf_file_write_string(path, text) != NF_OK;
        const char *why = text ? nf_errmsg() : "out of memory";
        if (bad) {
            rc = nf_cli_error(C, NF_EXIT_FAIL, "--out %s: %s", out, why);
            nf_cli_stage_drop(stage, files, 2);
        } else
            rc = nf_cli_stage_commit(C, stage, out, files, 2);
        free(text);
    }
    if (!rc && !quiet)
        fprintf(stderr, "neurofit sbi infer: %lld traces x %lld posterior draws (%s) -> %s/posterior.npy, posterior.json\n",
                (long long)K, (long long)L, ws ? "stimulus observed" : "voltage only", out);
    nf_abc_destroy(abc);
    free(obs);
    free(stim);
    free(rt);
    free(rs);
    free(post);
    free(s_obs);
    return rc;
}
