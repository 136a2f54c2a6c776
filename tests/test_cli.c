/* The neurofit command line (simulate, models, demo): outputs numpy reads with
 * the documented shapes, and every bad input gets a clear message, a non-zero
 * exit and no half-written result. Runs the built binary. */
#include "neurofit/engine.h"
#include "neurofit/model.h"
#include "neurofit/npy.h"

#include <criterion/criterion.h>
#include "nf_test_cli.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define BIN NF_BINARY_DIR "/neurofit"

static char tmpdir[256];

static void setup(void) { nft_tmpdir(tmpdir, sizeof tmpdir, "cli"); }

static void teardown(void) { nft_rmtree(tmpdir); }

TestSuite(cli, .init = setup, .fini = teardown);

Test(cli, simulate_writes_files_numpy_reads_with_documented_shapes)
{
    char out[8192];
    int rc = nft_run(out, sizeof out,
                 BIN " simulate --model adex --sample-prior 37 --seed 5 --stimulus step:500,5,30 "
                     "--stimulus noise:0,30,2 --dt 0.1 --duration 40 --record every:4 --max-spikes 8 --out %s/a",
                 tmpdir);
    cr_assert_eq(rc, 0, "%s", out);
    rc = nft_run(out, sizeof out,
             "/usr/bin/python3 -c \"import numpy as np, json; d='%s/a/'; "
             "p=np.load(d+'params.npy'); v=np.load(d+'voltage.npy'); s=np.load(d+'spikes.npy'); "
             "c=np.load(d+'spike_counts.npy'); ok=np.load(d+'valid.npy'); m=json.load(open(d+'meta.json')); "
             "assert p.shape==(37,10) and p.dtype==np.float32; assert v.shape==(37,101) and v.dtype==np.float32; "
             "assert s.shape==(37,8); assert c.shape==(37,) and c.dtype==np.int32; assert ok.dtype==bool; "
             "assert m['model']=='adex' and m['n_steps']==401 and m['record_every']==4; "
             "assert np.allclose(v[:,0], p[:,2]); assert ok.all(); "
             "k=np.minimum(c,8); assert all(np.isnan(s[i,k[i]:]).all() and np.isfinite(s[i,:k[i]]).all() for i in range(37)); "
             "print('numpy ok')\"",
             tmpdir);
    cr_assert_eq(rc, 0, "%s", out);
}

Test(cli, params_file_with_header_in_any_order)
{
    char out[4096], path[512];
    snprintf(path, sizeof path, "%s/p.csv", tmpdir);
    FILE *fp = fopen(path, "w");
    fprintf(fp, "V_th,E_L\n-50,-70\n-52,-68\n");
    fclose(fp);
    int rc = nft_run(out, sizeof out, BIN " simulate --model lif6 --params %s --stimulus step:0,0,1 --dt 0.1 --duration 5 --out %s/b",
                 path, tmpdir);
    cr_assert_eq(rc, 0, "%s", out);
    rc = nft_run(out, sizeof out,
             "/usr/bin/python3 -c \"import numpy as np; p=np.load('%s/b/params.npy'); v=np.load('%s/b/voltage.npy'); "
             "assert p.shape==(2,6); assert p[1,3]==-52 and p[1,2]==-68 and p[0,0]==150; assert v[1,0]==-68\"",
             tmpdir, tmpdir);
    cr_assert_eq(rc, 0, "%s", out);
}

static void expect_error(const char *needle, const char *fmt_args)
{
    char out[4096];
    int rc = nft_run(out, sizeof out, BIN " simulate %s --out %s/bad", fmt_args, tmpdir);
    cr_assert_neq(rc, 0, "'%s' must fail", fmt_args);
    cr_assert(strstr(out, needle) != NULL, "'%s': message should mention '%s', got: %s", fmt_args, needle, out);
    cr_assert_not(nft_exists(tmpdir, "bad/voltage.npy"), "nothing written on failure");
    cr_assert_not(nft_exists(tmpdir, "bad/params.npy"), "nothing written on failure");
}

Test(cli, bad_input_clear_error_nonzero_exit_nothing_written)
{
    expect_error("unknown model 'lif9'", "--model lif9 --sample-prior 3 --stimulus step:1,0,1 --dt 0.1 --duration 10");
    expect_error("--dt", "--model lif6 --sample-prior 3 --stimulus step:1,0,1 --dt 0 --duration 10");
    expect_error("above hh's largest stable step, 0.025 ms",
                 "--model hh --sample-prior 3 --stimulus step:1,0,1 --dt 0.1 --duration 10");
    expect_error("--dt", "--model lif6 --sample-prior 3 --stimulus step:1,0,1 --dt -0.1 --duration 10");
    expect_error("--sample-prior", "--model lif6 --sample-prior 0 --stimulus step:1,0,1 --dt 0.1 --duration 10");
    expect_error("step:", "--model lif6 --sample-prior 3 --stimulus step:1,0 --dt 0.1 --duration 10");
    expect_error("--record", "--model lif6 --sample-prior 3 --stimulus step:1,0,1 --dt 0.1 --duration 10 --record every:0");
    expect_error("cannot open", "--model lif6 --params /nonexistent.csv --stimulus step:1,0,1 --dt 0.1 --duration 10");

    char path[512], args[1024];
    snprintf(path, sizeof path, "%s/nan.csv", tmpdir);
    FILE *fp = fopen(path, "w");
    fprintf(fp, "C_m g_L E_L V_th V_res t_ref\n150 nan -70 -55 -75 2\n");
    fclose(fp);
    snprintf(args, sizeof args, "--model lif6 --params %s --stimulus step:1,0,1 --dt 0.1 --duration 10", path);
    expect_error("g_L", args);

    snprintf(path, sizeof path, "%s/range.csv", tmpdir);
    fp = fopen(path, "w");
    fprintf(fp, "-150 10 -70 -55 -75 2\n");
    fclose(fp);
    snprintf(args, sizeof args, "--model lif6 --params %s --stimulus step:1,0,1 --dt 0.1 --duration 10", path);
    expect_error("C_m", args);

    snprintf(path, sizeof path, "%s/stim.txt", tmpdir);
    fp = fopen(path, "w");
    for (int i = 0; i < 50; i++) fprintf(fp, "%d\n", i);
    fclose(fp);
    snprintf(args, sizeof args, "--model lif6 --sample-prior 2 --stimulus file:%s --dt 0.1 --duration 10", path);
    expect_error("expected 101", args); /* 50 samples for a 101-sample run */
}

Test(cli, unwritable_output_and_existing_results_kept_on_failure)
{
    char out[4096];
    int rc = nft_run(out, sizeof out, BIN " simulate --model lif6 --sample-prior 2 --stimulus step:1,0,1 --dt 0.1 --duration 1 --out /proc/nf_nope");
    cr_assert_neq(rc, 0);
    cr_assert(strstr(out, "/proc/nf_nope"), "%s", out);
    /* a good run, then a failing run into the same directory: the good files stay */
    rc = nft_run(out, sizeof out, BIN " simulate --model lif6 --sample-prior 2 --stimulus step:1,0,1 --dt 0.1 --duration 1 --out %s/keep", tmpdir);
    cr_assert_eq(rc, 0, "%s", out);
    struct stat before, after;
    char path[512];
    snprintf(path, sizeof path, "%s/keep/params.npy", tmpdir);
    cr_assert_eq(stat(path, &before), 0);
    rc = nft_run(out, sizeof out, BIN " simulate --model lif6 --sample-prior 5 --stimulus step:1,0,1 --dt 0 --duration 1 --out %s/keep", tmpdir);
    cr_assert_neq(rc, 0);
    cr_assert_eq(stat(path, &after), 0);
    cr_assert_eq(before.st_size, after.st_size, "earlier result untouched");
}

Test(cli, models_lists_every_model_and_rejects_unknown)
{
    char out[16384];
    cr_assert_eq(nft_run(out, sizeof out, BIN " models"), 0);
    cr_assert(strstr(out, "lif6") && strstr(out, "adex") && strstr(out, "izhikevich") && strstr(out, "hh"), "%s", out);
    for (int i = 0; i < nf_model_count(); i++)
        cr_assert(strstr(out, nf_model_at(i)->name), "models lists %s: %s", nf_model_at(i)->name, out);
    cr_assert_eq(nft_run(out, sizeof out, BIN " models izhikevich"), 0);
    cr_assert(strstr(out, "v_peak") && strstr(out, "nS/mV"), "%s", out);
    cr_assert_eq(nft_run(out, sizeof out, BIN " models nope"), 2);
    cr_assert(strstr(out, "unknown model"), "%s", out);
    cr_assert_eq(nft_run(out, sizeof out, BIN " frobnicate"), 2);
}

Test(cli, demo_runs_and_explains_itself)
{
    char out[16384];
    cr_assert_eq(nft_run(out, sizeof out, BIN " demo --sims 300"), 0, "%s", out);
    cr_assert(strstr(out, "neurons fired") && strstr(out, "hh") && strstr(out, "AdEx"), "%s", out);
    for (int i = 0; i < nf_model_count(); i++) {
        char row[64];
        snprintf(row, sizeof row, "| %s |", nf_model_at(i)->name);
        cr_assert(strstr(out, row), "demo runs %s: %s", nf_model_at(i)->name, out);
    }
}

Test(cli, simulate_runs_every_model)
{
    char out[8192];
    for (int i = 0; i < nf_model_count(); i++) {
        const char *name = nf_model_at(i)->name;
        int rc = nft_run(out, sizeof out,
                     BIN " simulate --model %s --sample-prior 5 --seed 3 --stimulus step:300,5,40 --dt 0.025 "
                         "--duration 50 --out %s/every_%s",
                     name, tmpdir, name);
        cr_assert_eq(rc, 0, "simulate --model %s: %s", name, out);
        char file[128];
        snprintf(file, sizeof file, "every_%s/voltage.npy", name);
        cr_assert(nft_exists(tmpdir, file), "simulate --model %s wrote %s", name, file);
    }
}

/* Every command parses its options from one getopt_long table, the shared
 * ones (--backend, --threads, --seed, --quiet, --out, --force) defined once:
 * the same bad value gets the same message and exit 2 in every command that
 * takes it, unknown options and missing values are named, and --name=VALUE
 * works like --name VALUE. */
Test(cli, options_are_parsed_from_one_table_per_command)
{
    char out[8192];
    static const char *const with_threads[] = {"fit --example", "simulate", "sbi simulate", "sbi sbc", "sbi infer",
                                               "bench"};
    for (size_t c = 0; c < sizeof with_threads / sizeof *with_threads; c++) {
        cr_assert_eq(nft_run(out, sizeof out, BIN " %s --threads 5000", with_threads[c]), 2, "%s", out);
        cr_assert(strstr(out, "--threads 5000: need 0..4096 (0 = all cores)"), "%s: %s", with_threads[c], out);
        cr_assert_eq(nft_run(out, sizeof out, BIN " %s --backend gpu", with_threads[c]), 2, "%s", out);
        cr_assert(strstr(out, "--backend: ") && strstr(out, "gpu"), "%s: %s", with_threads[c], out);
        cr_assert_eq(nft_run(out, sizeof out, BIN " %s --no-such-option 1", with_threads[c]), 2, "%s", out);
        cr_assert(strstr(out, "unknown option --no-such-option (see --help)"), "%s: %s", with_threads[c], out);
        cr_assert_eq(nft_run(out, sizeof out, BIN " %s --threads", with_threads[c]), 2, "%s", out);
        cr_assert(strstr(out, "--threads needs a value"), "%s: %s", with_threads[c], out);
    }
    static const char *const with_seed[] = {"fit --example", "simulate", "sbi simulate", "sbi sbc", "sbi infer"};
    for (size_t c = 0; c < sizeof with_seed / sizeof *with_seed; c++) {
        cr_assert_eq(nft_run(out, sizeof out, BIN " %s --seed -1", with_seed[c]), 2, "%s", out);
        cr_assert(strstr(out, "--seed -1: need an integer >= 0"), "%s: %s", with_seed[c], out);
    }
    /* options a command does not take are unknown to it */
    cr_assert_eq(nft_run(out, sizeof out, BIN " features --seed 3 x.abf"), 2, "%s", out);
    cr_assert(strstr(out, "unknown option --seed"), "%s", out);
    cr_assert_eq(nft_run(out, sizeof out, BIN " simulate --model lif6 --sample-prior 2 stray"), 2, "%s", out);
    cr_assert(strstr(out, "unexpected argument stray"), "%s", out);
    /* --name=VALUE, and arguments after "--" are positional */
    cr_assert_eq(nft_run(out, sizeof out,
                         BIN " simulate --model=lif6 --sample-prior=3 --seed=2 --stimulus=step:300,5,40 --dt=0.1 "
                             "--duration=50 --out=%s/eq",
                         tmpdir),
                 0, "%s", out);
    cr_assert(nft_exists(tmpdir, "eq/voltage.npy"), "%s", out);
    cr_assert_eq(nft_run(out, sizeof out, BIN " models -- adex"), 0, "%s", out);
    cr_assert(strstr(out, "Brette"), "%s", out);
    cr_assert_eq(nft_run(out, sizeof out, BIN " models adex hh"), 2, "%s", out);
    cr_assert(strstr(out, "usage: neurofit models"), "%s", out);
}

/* --devices on every command that runs the engine (simulate, fit, sbi
 * simulate, bench): with the cpu backend it is a usage error naming it (the
 * CPU runs on --threads), a malformed or repeated list is named, and on a
 * machine without a GPU "all" and any device number are clear errors. */
Test(cli, devices_option_is_checked_on_every_engine_command)
{
    char out[8192];
    static const char *const cmds[] = {"fit --example", "simulate", "sbi simulate", "bench"};
    for (size_t c = 0; c < sizeof cmds / sizeof *cmds; c++) {
        cr_assert_eq(nft_run(out, sizeof out, BIN " %s --backend cpu --devices 0", cmds[c]), 2, "%s", out);
        cr_assert(strstr(out, "--devices 0: the cpu backend runs on CPU threads, not devices"), "%s: %s", cmds[c], out);
        cr_assert_eq(nft_run(out, sizeof out, BIN " %s --devices 0,x", cmds[c]), 2, "%s", out);
        cr_assert(strstr(out, "--devices: devices '0,x': item 'x' is not a device number"), "%s: %s", cmds[c], out);
        cr_assert_eq(nft_run(out, sizeof out, BIN " %s --devices 1,1", cmds[c]), 2, "%s", out);
        cr_assert(strstr(out, "device 1 is listed twice"), "%s: %s", cmds[c], out);
        if (nf_cuda_available()) continue;
        cr_assert_eq(nft_run(out, sizeof out, BIN " %s --devices all", cmds[c]), 2, "%s", out);
        cr_assert(strstr(out, "--devices: devices all: this machine has no CUDA device"), "%s: %s", cmds[c], out);
        cr_assert_eq(nft_run(out, sizeof out, BIN " %s --devices 0", cmds[c]), 2, "%s", out);
        cr_assert(strstr(out, "--devices 0: device 0 does not exist (this machine has 0 CUDA devices)"), "%s: %s",
                  cmds[c], out);
    }
}

/* neurofit bench --batches K submits the sims as K batches, all in flight
 * before the first wait, and says so in its threads-in-flight column. */
Test(cli, bench_batches_are_all_in_flight)
{
    char out[8192];
    cr_assert_eq(nft_run(out, sizeof out, BIN " bench --backend cpu --models lif6 --sims 96 --steps 300 --batches 4"), 0,
                 "%s", out);
    cr_assert(strstr(out, "| batches | threads in flight |"), "%s", out);
    cr_assert(strstr(out, "| 4 | 96 |"), "%s", out);
    cr_assert_eq(nft_run(out, sizeof out, BIN " bench --backend cpu --models lif6 --sims 96 --steps 300"), 0, "%s", out);
    cr_assert(strstr(out, "| 1 | 96 |"), "%s", out);
    cr_assert_eq(nft_run(out, sizeof out, BIN " bench --batches 0"), 2, "%s", out);
    cr_assert(strstr(out, "--batches 0: need a whole number in 1..4096"), "%s", out);
}

/* A .npy of the wrong shape for --stimulus file: or --params is an error
 * naming the file, exit 2, and no crash (both were freed twice). */
Test(cli, simulate_rejects_npy_inputs_of_the_wrong_shape)
{
    char out[8192], stim[512], par[512];
    snprintf(stim, sizeof stim, "%s/short_stim.npy", tmpdir);
    snprintf(par, sizeof par, "%s/narrow_params.npy", tmpdir);
    float z[40] = {0};
    int64_t s1[1] = {7}, s2[2] = {4, 3};
    cr_assert_eq(nf_npy_write(stim, NF_DT_F32, 1, s1, z), NF_OK);
    cr_assert_eq(nf_npy_write(par, NF_DT_F32, 2, s2, z), NF_OK);
    int rc = nft_run(out, sizeof out,
                     BIN " simulate --model lif6 --sample-prior 1 --stimulus file:%s --dt 0.1 --duration 1.0 --out %s/ws",
                     stim, tmpdir);
    cr_assert_eq(rc, 2, "%s", out);
    cr_assert(strstr(out, "short_stim.npy") && !strstr(out, "free"), "%s", out);
    rc = nft_run(out, sizeof out,
                 BIN " simulate --model lif6 --params %s --stimulus step:1,0,1 --dt 0.1 --duration 1.0 --out %s/wp", par,
                 tmpdir);
    cr_assert_eq(rc, 2, "%s", out);
    cr_assert(strstr(out, "narrow_params.npy") && strstr(out, "3 columns"), "%s", out);
}
