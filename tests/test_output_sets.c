/* Every library writer of an output set under faults (src/core/fileio.c's
 * fault hook, armed only here): nf_fit_write, nf_sbi_write_dataset,
 * nf_sbc_write, nf_sbc_lif_posterior_write and nf_recording_export each
 * write a new set over an earlier, different one (so that the earlier set
 * has a file the new one lacks) with a failure injected at every file
 * operation in turn: every failing run leaves the earlier set byte-identical
 * and nothing beside it, and the run without a failure leaves exactly the
 * new set (no stale file of the earlier one). */
#include "neurofit/engine.h"
#include "neurofit/fileio.h"
#include "neurofit/fit.h"
#include "neurofit/recording.h"
#include "neurofit/sbc.h"
#include "neurofit/sbi.h"

#include "internal.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[256];

static void setup(void)
{
    snprintf(root, sizeof root, "/tmp/nf_test_output_sets_XXXXXX");
    cr_assert_not_null(mkdtemp(root), "mkdtemp %s", root);
}

static void teardown(void) { nf_remove_tree(root); }

TestSuite(output_sets, .init = setup, .fini = teardown);

/* ---- a directory's names and contents, as one string ---------------------- */

static uint64_t file_hash(const char *path, long *size)
{
    uint64_t h = 1469598103934665603ull;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    for (int c; (c = fgetc(f)) != EOF; (*size)++)
        h = (h ^ (uint64_t)c) * 1099511628211ull;
    fclose(f);
    return h;
}

static void snap_into(char *buf, size_t cap, const char *dir, const char *prefix)
{
    struct dirent **e;
    int n = scandir(dir, &e, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        const char *nm = e[i]->d_name;
        if (strcmp(nm, ".") && strcmp(nm, "..")) {
            char p[1024];
            snprintf(p, sizeof p, "%s/%s", dir, nm);
            struct stat sb;
            lstat(p, &sb);
            size_t len = strlen(buf);
            if (S_ISDIR(sb.st_mode)) {
                char pre[512];
                snprintf(pre, sizeof pre, "%s%s/", prefix, nm);
                snprintf(buf + len, cap - len, "%s/;", pre);
                snap_into(buf, cap, p, pre);
            } else {
                long size;
                uint64_t h = file_hash(p, &size);
                snprintf(buf + len, cap - len, "%s%s:%ld:%016llx;", prefix, nm, size, (unsigned long long)h);
            }
        }
        free(e[i]);
    }
    free(e);
}

/* Everything in dir, hidden names too (a stage or lock file left shows). */
static char *snap(const char *dir)
{
    size_t cap = 1 << 16;
    char *buf = calloc(cap, 1);
    cr_assert_not_null(buf);
    snap_into(buf, cap, dir, "");
    return buf;
}

/* ---- the matrix ---------------------------------------------------------------- */

typedef nf_status (*writer_fn)(const char *dir, int which, void *ctx);

/* Write set 0 (the earlier one) into dir; then set 1 with a failure at
 * operation k = 1, 2, ... until a run succeeds. stale: a file of set 0 that
 * set 1 lacks (NULL when both have the same names). Returns the number of
 * failing runs. */
static int fault_matrix(const char *name, writer_fn write, void *ctx, const char *stale)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", root, name);
    nf_remove_tree(dir);
    cr_assert_eq(write(dir, 0, ctx), NF_OK, "%s: the earlier set: %s", name, nf_errmsg());
    char *before = snap(dir);
    cr_assert(!stale || strstr(before, stale), "%s: the earlier set has %s: %s", name, stale, before);
    int failures = 0;
    for (long k = 1;; k++) {
        nf__fault_arm(k, k % 2 ? ENOSPC : EIO, 0);
        nf_status s = write(dir, 1, ctx);
        long ops = nf__fault_count();
        nf__fault_arm(0, 0, 0);
        char *after = snap(dir);
        if (s == NF_OK) {
            cr_assert(ops < k, "%s: operation %ld failed and the writer said ok", name, k);
            cr_assert(strcmp(after, before), "%s: the new set is the earlier one", name);
            cr_assert(!stale || !strstr(after, stale), "%s: the earlier set's %s is left: %s", name, stale, after);
            cr_assert(!strstr(after, ".neurofit"), "%s: a stage or lock is left: %s", name, after);
            free(after);
            break;
        }
        failures++;
        cr_assert_str_eq(after, before, "%s: a failure at operation %ld (%s) changed the earlier set", name, k,
                         nf_errmsg());
        free(after);
        cr_assert(k < 10000, "%s: never succeeds", name);
    }
    free(before);
    cr_log_info("%s: %d fault points", name, failures);
    return failures;
}

/* ---- the writers ------------------------------------------------------------------ */

typedef struct fit_ctx {
    nf_fit_target t;
    nf_fit_options o;
    nf_fit_result *res;
} fit_ctx;

static nf_status write_fit(const char *dir, int which, void *ctx)
{
    fit_ctx *f = ctx;
    nf_fit_options o = f->o;
    o.top_k = which ? 1 : 2;
    return nf_fit_write(f->res, &f->t, &o, which == 0, dir); /* the earlier set has model_traces.npy */
}

Test(output_sets, fit_write)
{
    static double v[NF_FIT_EXAMPLE_N], i[NF_FIT_EXAMPLE_N];
    static float fv[NF_FIT_EXAMPLE_N], fi[NF_FIT_EXAMPLE_N];
    cr_assert_eq(nf_fit_example(v, i), NF_OK);
    for (int k = 0; k < NF_FIT_EXAMPLE_N; k++)
        fv[k] = (float)v[k], fi[k] = (float)i[k];
    fit_ctx f = {.t = {.name = "example", .v = fv, .i = fi, .n = NF_FIT_EXAMPLE_N, .dt_ms = NF_FIT_EXAMPLE_DT_MS}};
    static const char *const models[] = {"lif6", "adex"};
    nf_fit_options_default(&f.o);
    f.o.models = models;
    f.o.n_models = 2;
    f.o.budget = 64;
    f.o.refine_k = 0;
    f.o.threads = 2;
    f.o.backend = NF_BACKEND_CPU;
    cr_assert_eq(nf_fit(&f.t, 1, &f.o, &f.res), NF_OK, "%s", nf_errmsg());
    cr_assert_geq(fault_matrix("fit", write_fit, &f, "model_traces.npy"), 8);
    nf_fit_result_destroy(f.res);
}

typedef struct sbi_ctx {
    nf_engine *e;
    nf_sbi_config cfg;
    nf_prior *prior;
} sbi_ctx;

static nf_status write_sbi(const char *dir, int which, void *ctx)
{
    sbi_ctx *c = ctx;
    nf_sbi_write_opts o = {.n_sims = which ? 30 : 20, .chunk = 8, .write_stimulus = which == 0};
    return nf_sbi_write_dataset(c->e, &c->cfg, dir, &o); /* the earlier set has stimulus.npy */
}

Test(output_sets, sbi_write_dataset)
{
    sbi_ctx c = {0};
    cr_assert_eq(nf_engine_create(NF_BACKEND_CPU, 2, &c.e), NF_OK, "%s", nf_errmsg());
    cr_assert_eq(nf_sbi_preset("bayesflow-lif", 3, &c.cfg, &c.prior), NF_OK, "%s", nf_errmsg());
    cr_assert_geq(fault_matrix("sbi", write_sbi, &c, "stimulus.npy"), 8);
    nf_prior_destroy(c.prior);
    nf_engine_destroy(c.e);
}

typedef struct sbc_ctx {
    nf_sbc_result *r[2];
} sbc_ctx;

static nf_status write_sbc(const char *dir, int which, void *ctx)
{
    sbc_ctx *c = ctx;
    if (which == 0) { /* a file of the user's beside the set */
        char p[600];
        mkdir(dir, 0777);
        snprintf(p, sizeof p, "%s/notes.txt", dir);
        FILE *fp = fopen(p, "w");
        fputs("the user's", fp);
        fclose(fp);
    }
    return nf_sbc_write(c->r[which], dir);
}

/* The SBC set always has the same names (with a file of the user's beside
 * it, which stays). */
Test(output_sets, sbc_write)
{
    enum { M = 20, L = 9, D = 2 };
    static float theta[M * D], post[M * L * D];
    sbc_ctx c;
    for (int which = 0; which < 2; which++) {
        for (int k = 0; k < M * D; k++)
            theta[k] = (float)sin(k * 1.3 + which);
        for (int k = 0; k < M * L * D; k++)
            post[k] = (float)cos(k * 0.7 + which);
        nf_sbc_input in = {.M = M, .L = L, .d = D, .theta = theta, .post = post, .seed = 1, .n_band_sims = 100};
        cr_assert_eq(nf_sbc_analyse(&in, &c.r[which]), NF_OK, "%s", nf_errmsg());
    }
    cr_assert_geq(fault_matrix("sbc", write_sbc, &c, NULL), 8);
    char notes[600];
    snprintf(notes, sizeof notes, "%s/sbc/notes.txt", root);
    cr_assert_eq(access(notes, F_OK), 0, "a file outside the set stays");
    nf_sbc_result_destroy(c.r[0]);
    nf_sbc_result_destroy(c.r[1]);
}

static nf_status write_posterior(const char *dir, int which, void *ctx)
{
    (void)ctx;
    static float post[3 * 5 * 6];
    for (int k = 0; k < 3 * 5 * 6; k++)
        post[k] = (float)(k + which);
    nf_sbc_lif_posterior_info info = {.reference = "bayesflow-lif", .n_reference = 1000, .sigma_mV = 0.1,
                                      .seed = (uint64_t)which, .observed = "obs.npy"};
    return nf_sbc_lif_posterior_write(dir, post, 3, 5, &info);
}

Test(output_sets, posterior_write)
{
    cr_assert_geq(fault_matrix("posterior", write_posterior, NULL, NULL), 4);
}

static nf_status write_export(const char *dir, int which, void *ctx)
{
    nf_recording *rec = ctx;
    unsigned char mask[64] = {0};
    mask[0] = 1;
    if (!which)
        mask[1] = mask[2] = 1;
    return nf_recording_export(rec, mask, which ? NF_EXPORT_CSV : NF_EXPORT_NPY, dir);
}

Test(output_sets, recording_export)
{
    nf_recording *rec = NULL;
    cr_assert_eq(nf_recording_open(NF_TEST_DATA "/abf/2020_03_02_0000.abf", NULL, &rec), NF_OK, "%s", nf_errmsg());
    cr_assert_geq(rec->n_sweeps, 3);
    cr_assert_geq(fault_matrix("export", write_export, rec, "sweep_0002.npy"), 6);
    nf_recording_destroy(rec);
}
