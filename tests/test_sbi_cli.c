/* `neurofit sbi sbc` and `neurofit sbi infer` end to end (small sizes): the
 * SBC JSON fields and well-formed SVG plots, inference on traces written by
 * `neurofit sbi simulate` (recovering the parameters that made them), and bad
 * input that fails with a message naming it, a non-zero exit and no output
 * (nor a previous good result overwritten). */
#include "neurofit/npy.h"

#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include "nf_test_cli.h"
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define BIN NF_BINARY_DIR "/neurofit"
#define PY "/usr/bin/python3"

static char tmpdir[256];

static void setup(void) { nft_tmpdir(tmpdir, sizeof tmpdir, "sbi_cli"); }

static void teardown(void) { nft_rmtree(tmpdir); }

TestSuite(sbi_cli, .init = setup, .fini = teardown);

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    size_t got = fread(b, 1, (size_t)n, f);
    b[got] = 0;
    fclose(f);
    return b;
}

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Number of entries in dir other than . and .. (-1 when dir is missing). */
static int n_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

Test(sbi_cli, sbc_writes_json_and_parseable_svg)
{
    static char out[1 << 16];
    const char *modes[2] = {"observed", "unobserved"};
    for (int v = 0; v < 2; v++) {
        char dir[512], path[600];
        snprintf(dir, sizeof dir, "%s/sbc_%s", tmpdir, modes[v]);
        int rc = nft_run(out, sizeof out,
                     BIN " sbi sbc --preset bayesflow-lif --draws 30 --posterior-samples 9 --reference 2000"
                         " --predictive 5 --stimulus %s --seed 3 --threads 2 --out %s",
                     modes[v], dir);
        cr_assert_eq(rc, 0, "sbi sbc --stimulus %s failed: %s", modes[v], out);
        cr_expect(strstr(out, "V_res") != NULL, "no summary table printed: %s", out);
        cr_expect_eq(n_entries(dir), 4, "%s: expected exactly sbc.json and three SVGs", dir);
        snprintf(path, sizeof path, "%s/sbc.json", dir);
        char *text = slurp(path);
        cr_assert_not_null(text, "%s missing", path);
        cJSON *root = cJSON_Parse(text);
        free(text);
        cr_assert_not_null(root, "sbc.json does not parse");
        cr_expect_eq(cJSON_GetObjectItem(root, "M")->valuedouble, 30);
        cr_expect_eq(cJSON_GetObjectItem(root, "L")->valuedouble, 9);
        cJSON *ppc = cJSON_GetObjectItem(root, "ppc");
        cr_assert_not_null(ppc);
        double cov = cJSON_GetObjectItem(ppc, "mean_coverage")->valuedouble;
        cr_expect(cov > 0.3 && cov <= 1.0, "predictive coverage %g", cov);
        cJSON *ps = cJSON_GetObjectItem(root, "parameters");
        cr_assert_eq(cJSON_GetArraySize(ps), 6);
        static const char *names[6] = {"C_m", "g_L", "E_L", "V_th", "V_res", "t_ref"};
        for (int j = 0; j < 6; j++) {
            cJSON *p = cJSON_GetArrayItem(ps, j);
            cr_expect_str_eq(cJSON_GetObjectItem(p, "name")->valuestring, names[j]);
            cr_expect_eq(cJSON_GetArraySize(cJSON_GetObjectItem(p, "ranks")), 30);
            cJSON *r = cJSON_GetObjectItem(p, "pearson_r");
            cr_assert(cJSON_IsNumber(r), "%s: pearson_r missing", names[j]);
            /* the voltage parameters are well identified in both modes */
            if (j >= 2) cr_expect_gt(r->valuedouble, 0.95, "%s (%s): r = %g", names[j], modes[v], r->valuedouble);
            cr_expect(cJSON_IsNumber(cJSON_GetObjectItem(p, "ecdf_violations")));
        }
        cJSON_Delete(root);
        rc = nft_run(out, sizeof out,
                 PY " -c 'import sys, xml.etree.ElementTree as E\n"
                    "for f in sys.argv[1:]:\n"
                    "    r = E.parse(f).getroot(); assert r.tag.endswith(\"svg\"), f\n"
                    "    assert sum(1 for _ in r.iter()) > 50, f'"
                    " %s/sbc_ranks.svg %s/sbc_ecdf.svg %s/sbc_recovery.svg",
                 dir, dir, dir);
        cr_expect_eq(rc, 0, "SVG does not parse as XML: %s", out);
    }
}

/* Rows [0, n) of a [N][501] array in src written to dst. */
static void head_rows(const char *src, const char *dst, int64_t n)
{
    float *x = NULL;
    int ndim = 0;
    int64_t sh[4];
    cr_assert_eq(nf_npy_read_f32(src, &x, &ndim, sh, 4), NF_OK, "%s", nf_errmsg());
    cr_assert(ndim == 2 && sh[0] >= n);
    int64_t shape[2] = {n, sh[1]};
    cr_assert_eq(nf_npy_write(dst, NF_DT_F32, 2, shape, x), NF_OK, "%s", nf_errmsg());
    free(x);
}

Test(sbi_cli, infer_recovers_parameters_of_simulated_traces)
{
    static char out[1 << 16];
    char ref[512], test[512], obs[600], stim[600], post_dir[600], path[700];
    snprintf(ref, sizeof ref, "%s/ref", tmpdir);
    snprintf(test, sizeof test, "%s/test", tmpdir);
    cr_assert_eq(nft_run(out, sizeof out, BIN " sbi simulate --preset bayesflow-lif --n 3000 --seed 9 --quiet --out %s", ref),
                 0, "%s", out);
    cr_assert_eq(nft_run(out, sizeof out, BIN " sbi simulate --preset bayesflow-lif --n 5 --seed 10 --quiet --out %s", test),
                 0, "%s", out);
    snprintf(path, sizeof path, "%s/x.npy", test);
    snprintf(obs, sizeof obs, "%s/obs.npy", tmpdir);
    head_rows(path, obs, 4);
    snprintf(path, sizeof path, "%s/stimulus.npy", test);
    snprintf(stim, sizeof stim, "%s/stim.npy", tmpdir);
    head_rows(path, stim, 4);
    float *theta = NULL;
    int ndim = 0;
    int64_t sh[4];
    snprintf(path, sizeof path, "%s/theta.npy", test);
    cr_assert_eq(nf_npy_read_f32(path, &theta, &ndim, sh, 4), NF_OK);

    /* reference = a dataset directory, stimulus observed */
    snprintf(post_dir, sizeof post_dir, "%s/post", tmpdir);
    int rc = nft_run(out, sizeof out, BIN " sbi infer --reference %s --observed %s --stimulus %s --samples 50 --out %s", ref,
                 obs, stim, post_dir);
    cr_assert_eq(rc, 0, "sbi infer failed: %s", out);
    cr_expect_eq(n_entries(post_dir), 2, "expected posterior.npy and posterior.json only");
    float *post = NULL;
    snprintf(path, sizeof path, "%s/posterior.npy", post_dir);
    cr_assert_eq(nf_npy_read_f32(path, &post, &ndim, sh, 4), NF_OK, "%s", nf_errmsg());
    cr_assert(ndim == 3 && sh[0] == 4 && sh[1] == 50 && sh[2] == 6, "posterior.npy shape [%lld][%lld][%lld]",
              (long long)sh[0], (long long)sh[1], (long long)sh[2]);
    /* E_L, V_th, V_res (mV) and t_ref (ms) are pinned down by one trace */
    const double tol[6] = {40, 6, 0.6, 0.8, 0.3, 0.4};
    for (int m = 0; m < 4; m++)
        for (int j = 0; j < 6; j++) {
            double mean = 0;
            for (int l = 0; l < 50; l++) mean += post[(m * 50 + l) * 6 + j] / 50.0;
            cr_expect(fabs(mean - theta[m * 6 + j]) < tol[j], "trace %d parameter %d: posterior mean %g, truth %g", m, j,
                      mean, theta[m * 6 + j]);
        }
    free(post);
    snprintf(path, sizeof path, "%s/posterior.json", post_dir);
    char *text = slurp(path);
    cJSON *root = cJSON_Parse(text);
    free(text);
    cr_assert_not_null(root, "posterior.json does not parse");
    cr_expect_str_eq(cJSON_GetObjectItem(root, "stimulus")->valuestring, "observed");
    cJSON *tr = cJSON_GetObjectItem(root, "traces");
    cr_assert_eq(cJSON_GetArraySize(tr), 4);
    cJSON *q05 = cJSON_GetObjectItem(cJSON_GetArrayItem(tr, 2), "q05"), *q95 = cJSON_GetObjectItem(cJSON_GetArrayItem(tr, 2), "q95");
    cr_assert_eq(cJSON_GetArraySize(q05), 6);
    for (int j = 0; j < 6; j++)
        cr_expect_leq(cJSON_GetArrayItem(q05, j)->valuedouble, cJSON_GetArrayItem(q95, j)->valuedouble);
    cJSON_Delete(root);

    /* reference = the preset simulated in place, voltage only, one 1-D trace */
    float *x = NULL;
    cr_assert_eq(nf_npy_read_f32(obs, &x, &ndim, sh, 4), NF_OK);
    char one[600], post2[600];
    snprintf(one, sizeof one, "%s/one.npy", tmpdir);
    int64_t shape1[1] = {501};
    cr_assert_eq(nf_npy_write(one, NF_DT_F32, 1, shape1, x), NF_OK);
    free(x);
    snprintf(post2, sizeof post2, "%s/post2", tmpdir);
    rc = nft_run(out, sizeof out, BIN " sbi infer --reference bayesflow-lif --reference-n 2000 --observed %s --samples 20 --quiet --out %s",
             one, post2);
    cr_assert_eq(rc, 0, "%s", out);
    snprintf(path, sizeof path, "%s/posterior.npy", post2);
    cr_assert_eq(nf_npy_read_f32(path, &post, &ndim, sh, 4), NF_OK, "%s", nf_errmsg());
    cr_expect(ndim == 3 && sh[0] == 1 && sh[1] == 20 && sh[2] == 6);
    double el = 0;
    for (int l = 0; l < 20; l++) el += post[l * 6 + 2] / 20.0;
    cr_expect(fabs(el - theta[2]) < 0.6, "voltage only: E_L posterior mean %g, truth %g", el, theta[2]);
    free(post);
    free(theta);
}

/* A failing command: non-zero exit, a message containing needle, and out_dir
 * not created. */
static void expect_fail(const char *needle, const char *out_dir, const char *fmt, ...)
{
    static char out[1 << 14];
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = nft_run(out, sizeof out, "%s", cmd);
    cr_expect_neq(rc, 0, "%s succeeded", cmd);
    cr_expect(strstr(out, needle) != NULL, "%s: message lacks '%s': %s", cmd, needle, out);
    cr_expect(!exists(out_dir), "%s: created %s", cmd, out_dir);
}

Test(sbi_cli, bad_input_is_named_and_writes_nothing)
{
    char o[512], missing[512], wide[512], nan_f[512], obs[512], stim2[512], nodir[512];
    snprintf(o, sizeof o, "%s/out", tmpdir);
    snprintf(missing, sizeof missing, "%s/missing.npy", tmpdir);
    snprintf(wide, sizeof wide, "%s/wide.npy", tmpdir);
    snprintf(nan_f, sizeof nan_f, "%s/nan.npy", tmpdir);
    snprintf(obs, sizeof obs, "%s/obs.npy", tmpdir);
    snprintf(stim2, sizeof stim2, "%s/stim2.npy", tmpdir);
    snprintf(nodir, sizeof nodir, "%s/not_a_dataset", tmpdir);
    float *buf = calloc(3 * 501, sizeof(float));
    for (int i = 0; i < 3 * 501; i++) buf[i] = -70.0f;
    int64_t s_wide[2] = {3, 100}, s_obs[2] = {3, 501}, s_stim[2] = {2, 501};
    cr_assert_eq(nf_npy_write(wide, NF_DT_F32, 2, s_wide, buf), NF_OK);
    cr_assert_eq(nf_npy_write(obs, NF_DT_F32, 2, s_obs, buf), NF_OK);
    cr_assert_eq(nf_npy_write(stim2, NF_DT_F32, 2, s_stim, buf), NF_OK);
    buf[501 + 17] = NAN;
    cr_assert_eq(nf_npy_write(nan_f, NF_DT_F32, 2, s_obs, buf), NF_OK);
    free(buf);
    mkdir(nodir, 0777);

    const char *inf = BIN " sbi infer --reference bayesflow-lif --reference-n 1000 --samples 5";
    expect_fail("missing.npy", o, "%s --observed %s --out %s", inf, missing, o);
    expect_fail("wide.npy", o, "%s --observed %s --out %s", inf, wide, o);
    expect_fail("[1][17]", o, "%s --observed %s --out %s", inf, nan_f, o);
    expect_fail("stim2.npy", o, "%s --observed %s --stimulus %s --out %s", inf, obs, stim2, o);
    expect_fail("--bogus", o, "%s --observed %s --bogus 1 --out %s", inf, obs, o);
    expect_fail("--samples", o, "%s --observed %s --samples 0 --out %s", inf, obs, o);
    expect_fail("--observed", o, BIN " sbi infer --reference bayesflow-lif --out %s", o);
    expect_fail("meta.json", o, BIN " sbi infer --reference %s --observed %s --out %s", nodir, obs, o);
    expect_fail("nowhere", o, BIN " sbi infer --reference %s/nowhere --observed %s --out %s", tmpdir, obs, o);
    const char *sbc = BIN " sbi sbc --draws 10 --posterior-samples 3 --reference 1000";
    expect_fail("lif-x", o, "%s --preset lif-x --out %s", sbc, o);
    expect_fail("--stimulus sometimes", o, "%s --preset bayesflow-lif --stimulus sometimes --out %s", sbc, o);
    expect_fail("--draws", o, "%s --preset bayesflow-lif --draws 3 --out %s", sbc, o);
    expect_fail("--frobnicate", o, "%s --preset bayesflow-lif --frobnicate --out %s", sbc, o);
    expect_fail("--out", o, "%s --preset bayesflow-lif", sbc);
    expect_fail("unknown subcommand", o, BIN " sbi posterior --out %s", o);

    /* a good result survives a failing rerun into the same directory */
    static char out[1 << 14];
    cr_assert_eq(nft_run(out, sizeof out, "%s --observed %s --quiet --out %s", inf, obs, o), 0, "%s", out);
    char pj[600];
    snprintf(pj, sizeof pj, "%s/posterior.json", o);
    char *before = slurp(pj);
    cr_assert_not_null(before);
    cr_expect_neq(nft_run(out, sizeof out, "%s --observed %s --out %s", inf, nan_f, o), 0);
    char *after = slurp(pj);
    cr_assert_not_null(after);
    cr_expect_str_eq(after, before, "a failed run changed %s", pj);
    cr_expect_eq(n_entries(o), 2, "a failed run left files in %s", o);
    free(before);
    free(after);
}
