/* The posterior of the BayesFlow LIF problem for observed traces, behind
 * `neurofit sbi infer` (include/neurofit/sbc.h, part 4): observed traces and
 * reference datasets read from .npy files, their summaries, and the
 * posterior draws written as one output set (posterior.npy, posterior.json). */
#include "internal.h"
#include "neurofit/fileio.h"
#include "neurofit/npy.h"
#include "neurofit/sbc.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

nf_status nf_sbc_lif_traces_read(const char *path, float **data, int64_t *rows)
{
    *data = NULL;
    *rows = 0;
    int ndim = 0;
    int64_t shape[4] = {0};
    float *x = NULL;
    nf_status st = nf_npy_read_f32(path, &x, &ndim, shape, 4);
    if (st) return st;
    int64_t cols = ndim == 1 ? shape[0] : (ndim == 2 ? shape[1] : -1);
    if (cols != NF_SBC_LIF_T || (ndim == 2 && shape[0] < 1)) {
        free(x);
        return nf__fail(NF_EINVAL, "%s: shape must be [K][%d] or [%d] (%d-dimensional, %lld columns)", path,
                        NF_SBC_LIF_T, NF_SBC_LIF_T, ndim, (long long)cols);
    }
    int64_t n = ndim == 1 ? 1 : shape[0];
    for (int64_t i = 0; i < n * NF_SBC_LIF_T; i++)
        if (!isfinite(x[i])) {
            free(x);
            return nf__fail(NF_ENAN, "%s: value [%lld][%lld] is not finite", path, (long long)(i / NF_SBC_LIF_T),
                            (long long)(i % NF_SBC_LIF_T));
        }
    *data = x;
    *rows = n;
    return NF_OK;
}

nf_status nf_sbc_lif_summaries_rows(const float *v, int64_t K, const float *stim, int64_t n_stim, float *out)
{
    if (stim && n_stim != 1 && n_stim != K)
        return nf__fail(NF_EINVAL, "%lld stimuli for %lld traces (need 1 or %lld)", (long long)n_stim, (long long)K,
                        (long long)K);
    const int k = nf_sbc_lif_n_summaries(stim != NULL);
    for (int64_t m = 0; m < K; m++) {
        const float *I = stim ? stim + (n_stim == 1 ? 0 : m) * NF_SBC_LIF_T : NULL;
        if (nf_sbc_lif_summaries(v + m * NF_SBC_LIF_T, I, NF_SBC_LIF_T, NF_SBC_LIF_DT, 0.0, out + m * k)) {
            char why[512];
            snprintf(why, sizeof why, "%s", nf_errmsg());
            return nf__fail(NF_EINVAL, "trace %lld: %s", (long long)m, why);
        }
    }
    return NF_OK;
}

/* An array file of a dataset directory: [rows][501] traces. */
static nf_status dataset_traces(const char *dir, const char *name, int64_t n, const char *what, float **out)
{
    char path[4096];
    int64_t rows = 0;
    nf_status st = nf_path_join(path, sizeof path, dir, name);
    if (!st) st = nf_sbc_lif_traces_read(path, out, &rows);
    if (!st && rows != n) {
        free(*out);
        *out = NULL;
        st = nf__fail(NF_EINVAL, "%s: %lld %s for %lld parameter rows", path, (long long)rows, what, (long long)n);
    }
    return st;
}

nf_status nf_sbc_lif_reference_read(const char *dir, int with_stimulus, double sigma_mV, uint64_t seed, float **theta,
                                    float **summaries, int64_t *n_out)
{
    *theta = *summaries = NULL;
    *n_out = 0;
    char path[4096];
    nf_status st = nf_path_join(path, sizeof path, dir, "meta.json");
    if (st) return st;
    FILE *fp = fopen(path, "rb");
    if (!fp) return nf__fail(NF_ENOTFOUND, "%s: no meta.json (not a complete `sbi simulate` dataset)", dir);
    char buf[1 << 16];
    size_t len = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[len] = 0;
    cJSON *meta = cJSON_Parse(buf);
    const cJSON *pr = cJSON_GetObjectItemCaseSensitive(meta, "preset");
    int is_preset = cJSON_IsString(pr) && !strcmp(pr->valuestring, "bayesflow-lif");
    cJSON_Delete(meta);
    if (!is_preset)
        return nf__fail(NF_EINVAL, "%s: meta.json has no \"preset\": \"bayesflow-lif\" (only that preset's datasets "
                        "can serve as a reference)", dir);
    float *th = NULL, *x = NULL, *stim = NULL, *s = NULL;
    int ndim = 0;
    int64_t sh[4] = {0}, n = 0;
    if (!(st = nf_path_join(path, sizeof path, dir, "theta.npy")) && !(st = nf_npy_read_f32(path, &th, &ndim, sh, 4)) &&
        (ndim != 2 || sh[1] != NF_SBC_LIF_D || sh[0] < 1000))
        st = nf__fail(NF_EINVAL, "%s: theta.npy must be [N][6] with N >= 1000", path);
    n = sh[0];
    if (!st) st = dataset_traces(dir, "x.npy", n, "traces (need traces: `sbi simulate --x traces`)", &x);
    if (!st && with_stimulus) st = dataset_traces(dir, "stimulus.npy", n, "stimuli", &stim);
    const int k = nf_sbc_lif_n_summaries(with_stimulus != 0);
    if (!st && !(s = nf__malloc_array((size_t)n, sizeof(float) * (size_t)k)))
        st = nf__fail(NF_ENOMEM, "out of memory for %lld reference rows", (long long)n);
    if (!st) st = nf_sbc_lif_add_noise(x, n, sigma_mV, seed, 0);
    if (!st && (st = nf_sbc_lif_summaries_rows(x, n, with_stimulus ? stim : NULL, n, s))) {
        char why[512];
        snprintf(why, sizeof why, "%s", nf_errmsg());
        st = nf__fail(st, "%s: %s", dir, why);
    }
    free(x);
    free(stim);
    if (st) {
        free(th);
        free(s);
        return st;
    }
    *theta = th;
    *summaries = s;
    *n_out = n;
    return NF_OK;
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
static char *posterior_json(const float *post, int64_t K, int64_t L, const nf_sbc_lif_posterior_info *in)
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
    cJSON_AddStringToObject(root, "reference", in->reference);
    cJSON_AddNumberToObject(root, "n_reference", (double)in->n_reference);
    cJSON_AddNumberToObject(root, "sigma_mV", in->sigma_mV);
    cJSON_AddStringToObject(root, "stimulus", in->with_stimulus ? "observed" : "unobserved");
    if (in->stimulus_file) cJSON_AddStringToObject(root, "stimulus_file", in->stimulus_file);
    cJSON_AddStringToObject(root, "observed", in->observed);
    cJSON_AddNumberToObject(root, "seed", (double)in->seed);
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

nf_status nf_sbc_lif_posterior_write(const char *dir, const float *post, int64_t K, int64_t L,
                                     const nf_sbc_lif_posterior_info *info)
{
    static const char *const set[] = {"posterior.npy", "posterior.json"};
    char *text = posterior_json(post, K, L, info);
    if (!text) return nf__fail(NF_ENOMEM, "posterior.json: out of memory");
    nf_stage *stage = NULL;
    char path[4096];
    int64_t shape[3] = {K, L, NF_SBC_LIF_D};
    nf_status st = nf_stage_open(dir, &stage);
    if (!st) st = nf_path_join(path, sizeof path, nf_stage_path(stage), set[0]);
    if (!st) st = nf_npy_write(path, NF_DT_F32, 3, shape, post);
    if (!st) st = nf_path_join(path, sizeof path, nf_stage_path(stage), set[1]);
    if (!st) st = nf_file_write_string(path, text);
    if (!st) st = nf_stage_commit(stage, set, 2);
    nf_stage_destroy(stage);
    free(text);
    return st;
}
