/* The command line's file readers and size-like options, error path by
 * error path (run under ASan in CI, where a double free or an overflow is a
 * crash, not exit 2): every bad --params, --stimulus, --current, --prior,
 * --observed, --reference, --init and --cells file and predict's RESULTS.json
 * is exit 2 with a message naming the file and
 * quoting at most a short printable excerpt of it; every size-like option
 * out of range is exit 2 before anything is allocated; simulate keeps every
 * spike time, or says how many a cap dropped; the README's exit-code table
 * (0 done, 1 run failed, 2 bad input, 130 interrupted) as the commands give
 * it. Runs the built binary. */
#include "neurofit/npy.h"
#ifdef NF_HAVE_HDF5
#include "nwb_write.h"
#endif

#include <criterion/criterion.h>
#include "nf_test_cli.h"
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define BIN NF_BINARY_DIR "/neurofit"

static char dir[256];

static void setup(void) { nft_tmpdir(dir, sizeof dir, "cli_inputs"); }

static void teardown(void) { nft_rmtree(dir); }

TestSuite(cli_inputs, .init = setup, .fini = teardown);

/* dir/name with n bytes of data (NULs included); returns the path (static ring). */
static const char *file_with(const char *name, const void *data, size_t n)
{
    static char paths[8][512];
    static int k;
    char *p = paths[k++ % 8];
    snprintf(p, 512, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    cr_assert_not_null(f, "%s", p);
    cr_assert_eq(fwrite(data, 1, n, f), n);
    fclose(f);
    return p;
}
#define FILE_TEXT(name, lit) file_with(name, lit, sizeof lit - 1)

/* Run "neurofit ARGS" (printf-style); the exit code must be want and the
 * output must hold every needle (NULL-terminated list) and no raw control
 * byte, no sign of a crash. */
static void expect(int want, const char *const *needles, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void expect(int want, const char *const *needles, const char *fmt, ...)
{
    char args[4096], out[16384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    int rc = nft_run(out, sizeof out, BIN " %s", args);
    cr_assert_eq(rc, want, "neurofit %s: exit %d, want %d: %s", args, rc, want, out);
    for (int i = 0; needles && needles[i]; i++)
        cr_assert(strstr(out, needles[i]), "neurofit %s: the message lacks '%s': %s", args, needles[i], out);
    cr_assert(!strstr(out, "free()") && !strstr(out, "Sanitizer") && !strstr(out, "runtime error"),
              "neurofit %s: %s", args, out);
    for (const char *c = out; *c; c++)
        cr_assert(*c == '\n' || *c == '\t' || ((unsigned char)*c >= 0x20 && (unsigned char)*c < 0x7f),
                  "neurofit %s: a raw byte 0x%02x in the output: %s", args, (unsigned char)*c, out);
}
#define N(...) ((const char *const[]){__VA_ARGS__, NULL})

static const char *npy_f32(const char *name, int nd, int64_t r, int64_t c)
{
    static char paths[4][512];
    static int k;
    char *p = paths[k++ % 4];
    snprintf(p, 512, "%s/%s", dir, name);
    float *z = calloc((size_t)(r * (c ? c : 1)), sizeof(float));
    int64_t shape[2] = {r, c};
    cr_assert_eq(nf_npy_write(p, NF_DT_F32, nd, shape, z), NF_OK);
    free(z);
    return p;
}

#define SIM " simulate --model lif6 --dt 0.1 --duration 1 --out "

Test(cli_inputs, simulate_params_file_every_error)
{
    const char *f;
    char out[600];
    snprintf(out, sizeof out, "%s/o", dir);
    /* text */
    expect(2, N("/nonexistent.csv", "cannot open"), SIM "%s --stimulus step:1,0,1 --params /nonexistent.csv", out);
    f = FILE_TEXT("hdr.csv", "C_m,g_X\n150,10\n");
    expect(2, N("hdr.csv", "'g_X' is not a parameter of lif6"), SIM "%s --stimulus step:1,0,1 --params %s", out, f);
    f = FILE_TEXT("junk.csv", "150,10,-70,-5\xff\x1b[2J5,-75,2\n");
    expect(2, N("junk.csv", "V_th", "'-5\\xff\\x1b[2J5'"), SIM "%s --stimulus step:1,0,1 --params %s", out, f);
    f = file_with("nul.csv", "150,10,-70,-5\0" "5,-75,2\n", 22);
    expect(2, N("nul.csv", "a NUL byte", "\\x00"), SIM "%s --stimulus step:1,0,1 --params %s", out, f);
    f = FILE_TEXT("many.csv", "150,10,-70,-55,-75,2,7\n");
    expect(2, N("many.csv", "more than 6 values"), SIM "%s --stimulus step:1,0,1 --params %s", out, f);
    f = FILE_TEXT("few.csv", "150,10,-70\n");
    expect(2, N("few.csv", "3 values, expected 6"), SIM "%s --stimulus step:1,0,1 --params %s", out, f);
    f = FILE_TEXT("empty.csv", "# nothing\n\n");
    expect(2, N("empty.csv", "no parameter rows"), SIM "%s --stimulus step:1,0,1 --params %s", out, f);
    char longtok[9000];
    memset(longtok, '7', sizeof longtok - 2);
    longtok[sizeof longtok - 2] = '\n';
    longtok[sizeof longtok - 1] = 0;
    f = file_with("long.csv", longtok, strlen(longtok));
    expect(2, N("long.csv", "..."), SIM "%s --stimulus step:1,0,1 --params %s", out, f);
    /* .npy */
    expect(2, N("/nonexistent.npy"), SIM "%s --stimulus step:1,0,1 --params /nonexistent.npy", out);
    f = FILE_TEXT("fake.npy", "not an npy file at all, just text\n");
    expect(2, N("fake.npy"), SIM "%s --stimulus step:1,0,1 --params %s", out, f);
    f = file_with("trunc.npy", "\x93NUMPY\x01\x00", 8);
    expect(2, N("trunc.npy"), SIM "%s --stimulus step:1,0,1 --params %s", out, f);
    f = npy_f32("narrow.npy", 2, 4, 3);
    expect(2, N("narrow.npy", "3 columns"), SIM "%s --stimulus step:1,0,1 --params %s", out, f);
    cr_assert_not(nft_exists(dir, "o"), "nothing written, no --out made");
}

Test(cli_inputs, simulate_stimulus_file_every_error)
{
    const char *f;
    char out[600];
    snprintf(out, sizeof out, "%s/o", dir);
    /* T = 11 samples for --duration 1 --dt 0.1 */
    expect(2, N("/nonexistent.txt", "cannot open"), SIM "%s --sample-prior 2 --stimulus file:/nonexistent.txt", out);
    f = FILE_TEXT("short.txt", "1\n2\n3\n");
    expect(2, N("short.txt", "3 samples, expected 11"), SIM "%s --sample-prior 2 --stimulus file:%s", out, f);
    f = FILE_TEXT("bad.txt", "1\n2\nabc\x01\n");
    expect(2, N("bad.txt", "line 3", "'abc\\x01'"), SIM "%s --sample-prior 2 --stimulus file:%s", out, f);
    f = file_with("nul.txt", "1\n2\n3\0" "4\n", 7);
    expect(2, N("nul.txt", "line 3", "'3\\x004'"), SIM "%s --sample-prior 2 --stimulus file:%s", out, f);
    f = FILE_TEXT("nan.txt", "1\nnan\n");
    expect(2, N("nan.txt", "line 2"), SIM "%s --sample-prior 2 --stimulus file:%s", out, f);
    expect(2, N("/nonexistent.npy"), SIM "%s --sample-prior 2 --stimulus file:/nonexistent.npy", out);
    f = FILE_TEXT("fake.npy", "\x93NUMPY but then garbage");
    expect(2, N("fake.npy"), SIM "%s --sample-prior 2 --stimulus file:%s", out, f);
    f = npy_f32("cols.npy", 1, 7, 0);
    expect(2, N("cols.npy", "1x7", "11 samples"), SIM "%s --sample-prior 2 --stimulus file:%s", out, f);
    f = npy_f32("rows.npy", 2, 3, 11);
    expect(2, N("rows.npy", "3x11"), SIM "%s --sample-prior 2 --stimulus file:%s", out, f);
    cr_assert_not(nft_exists(dir, "o"), "nothing written, no --out made");
}

Test(cli_inputs, sbi_fit_and_infer_files_every_error)
{
    const char *f;
    char out[600];
    snprintf(out, sizeof out, "%s/o", dir);
    const char *sbi = "sbi simulate --model lif6 --prior C_m=uniform:100,200 --dt 0.1 --duration 1 --n 3";
    expect(2, N("/nonexistent.npy"), "%s --stimulus file:/nonexistent.npy --out %s", sbi, out);
    f = npy_f32("w7.npy", 1, 7, 0);
    expect(2, N("w7.npy", "7 samples per waveform"), "%s --stimulus file:%s --out %s", sbi, f, out);
    f = FILE_TEXT("fake.npy", "\x93NUMPY\x01\x00\xff\xff");
    expect(2, N("fake.npy"), "%s --stimulus file:%s --out %s", sbi, f, out);
    expect(2, N("/nonexistent.json"), "%s --prior @/nonexistent.json --out %s", sbi, out);
    f = FILE_TEXT("prior.json", "{\"C_m\": {\"family\": \"uniform\", \"lo\": 1");
    expect(2, N("prior.json"), "%s --prior @%s --out %s", sbi, f, out);
    /* sbi infer */
    const char *inf = "sbi infer --reference bayesflow-lif --reference-n 1000";
    expect(2, N("/nonexistent.npy"), "%s --observed /nonexistent.npy --out %s", inf, out);
    f = npy_f32("obs7.npy", 2, 2, 7);
    expect(2, N("obs7.npy"), "%s --observed %s --out %s", inf, f, out);
    const char *obs = npy_f32("obs.npy", 2, 2, 501);
    f = npy_f32("stim3.npy", 2, 3, 501);
    expect(2, N("stim3.npy", "3 stimuli for 2 observed traces"), "%s --observed %s --stimulus %s --out %s", inf, obs, f,
           out);
    expect(2, N("--reference", "/nonexistent_dir"), "sbi infer --reference /nonexistent_dir --observed %s --out %s", obs,
           out);
    expect(2, N("--reference"), "sbi infer --reference %s --observed %s --out %s", dir, obs, out);
    /* fit --init */
    expect(2, N("/nonexistent/results.json"), "fit --example --models lif6 --init /nonexistent/results.json --out %s",
           out);
    f = FILE_TEXT("results.json", "{\"recordings\": [1, 2");
    expect(2, N("results.json"), "fit --example --models lif6 --init %s --out %s", f, out);
    f = FILE_TEXT("bin.json", "\x01\x02\xff{}");
    expect(2, N("bin.json"), "fit --example --models lif6 --init %s --out %s", f, out);
    /* fit --current FILE (the stimulus files' reader): the example recording has 4000 samples */
    char rec[600];
    snprintf(rec, sizeof rec, "%s/rec.csv", dir);
    FILE *rf = fopen(rec, "w");
    cr_assert_not_null(rf);
    fprintf(rf, "t,V\n");
    for (int k = 0; k < 4000; k++) fprintf(rf, "%g,-70\n", 0.1 * k);
    fclose(rf);
    const char *fit = "fit --models lif6 --budget 20";
    expect(2, N("--current", "/nonexistent.txt"), "%s %s --current /nonexistent.txt --out %s", fit, rec, out);
    f = FILE_TEXT("cur_nul.txt", "1\n2\n3\0" "4\n");
    expect(2, N("cur_nul.txt line 3", "'3\\x004'"), "%s %s --current %s --out %s", fit, rec, f, out);
    f = FILE_TEXT("cur_short.txt", "1\n2\n");
    expect(2, N("cur_short.txt", "2 samples, expected 4000"), "%s %s --current %s --out %s", fit, rec, f, out);
    f = npy_f32("cur_rows.npy", 2, 3, 7);
    expect(2, N("cur_rows.npy", "3x7"), "%s %s --current %s --out %s", fit, rec, f, out);
    /* a NUL in a JSON file: the text would end there (what follows silently dropped) */
    f = FILE_TEXT("nul.json", "{\"recordings\": []}\0garbage");
    expect(2, N("nul.json: a NUL byte at byte 19", "[]}\\x00garbage'"), "fit --example --models lif6 --init %s --out %s",
           f, out);
    expect(2, N("nul.json: a NUL byte at byte 19"), "predict %s " NF_TEST_DATA "/abf/File_axon_5.abf --out %s", f, out);
    f = FILE_TEXT("nulprior.json", "{\"C_m\": {\"family\": \"uniform\", \"lo\": 100, \"hi\": 200}}\0x");
    expect(2, N("--prior: ", "nulprior.json: a NUL byte at byte 53"), "sbi simulate --model lif6 --prior @%s --dt 0.1 "
           "--duration 1 --n 3 --out %s", f, out);
    cr_assert_not(nft_exists(dir, "o"), "nothing written, no --out made");
}

/* fit --cells: a manifest is text; a NUL (which would cut a field short: a
 * role "tr\0ain" read as "tr", sweeps "0\09" as "0") or a control byte in a
 * line is an error naming the line and byte, quoted printable; a --sweeps
 * spec is quoted printable too. */
Test(cli_inputs, fit_cells_manifest_is_text)
{
    char out[600];
    snprintf(out, sizeof out, "%s/o", dir);
    const char *abf = NF_TEST_DATA "/abf/File_axon_5.abf";
    char row[1024];
    const char *f;
    snprintf(row, sizeof row, "cell,file,sweeps,role\nA,%s,0,tr%cain\n", abf, 0);
    f = file_with("nul_role.csv", row, strlen(row) + strlen(row + strlen(row) + 1) + 1);
    expect(2, N("nul_role.csv line 2", "a NUL byte", "tr\\x00ain'"), "fit --cells %s --out %s", f, out);
    snprintf(row, sizeof row, "cell,file,sweeps,role\nA,%s,0%c9,train\n", abf, 0);
    f = file_with("nul_sweeps.csv", row, strlen(row) + strlen(row + strlen(row) + 1) + 1);
    expect(2, N("nul_sweeps.csv line 2", "a NUL byte", "0\\x009,train'"), "fit --cells %s --out %s", f, out);
    snprintf(row, sizeof row, "cell,file,sweeps,role\nA,%s,0-\x01\xff" "9,train\n", abf);
    f = file_with("ctl_sweeps.csv", row, strlen(row));
    expect(2, N("ctl_sweeps.csv line 2", "a control byte", "0-\\x01\\xff9,train'"), "fit --cells %s --out %s", f, out);
    snprintf(row, sizeof row, "cell,file,sweeps,role\nA\x1b[2J,%s,0,train\n", abf);
    f = file_with("ctl_cell.csv", row, strlen(row));
    expect(2, N("ctl_cell.csv line 2, byte 2", "'A\\x1b[2J,"), "fit --cells %s --out %s", f, out);
    expect(2, N("--sweeps \"0,1\\x1b[2J\": unexpected \"\\x1b[2J\""), "fit %s --sweeps '0,1\x1b[2J' --out %s", abf,
           out);
    cr_assert_not(nft_exists(dir, "o"), "nothing written, no --out made");
}

/* Size-like options out of range: exit 2 and a message naming the option,
 * before anything is allocated (ASan in CI would see a huge allocation). */
Test(cli_inputs, sizes_out_of_range_are_range_errors)
{
    char out[600];
    snprintf(out, sizeof out, "%s/o", dir);
    expect(2, N("--sample-prior 1000000000000", "GB of memory"), SIM "%s --sample-prior 1e12 --stimulus step:1,0,1", out);
    expect(2, N("--sample-prior 99999999999999999999", "1.."), SIM "%s --sample-prior 99999999999999999999 "
           "--stimulus step:1,0,1", out);
    expect(2, N("--sample-prior 2.5"), SIM "%s --sample-prior 2.5 --stimulus step:1,0,1", out);
    expect(2, N("samples: at most 1e9"), "simulate --model lif6 --dt 0.1 --duration 1e12 --sample-prior 1 "
           "--stimulus step:1,0,1 --out %s", out);
    expect(2, N("--max-spikes 0", "auto or 1..1000000"), SIM "%s --sample-prior 1 --max-spikes 0 --stimulus step:1,0,1",
           out);
    const char *sbi = "sbi simulate --model lif6 --prior C_m=uniform:100,200 --dt 0.1";
    expect(2, N("--duration 1e+12", "samples: at most 1e9"), "%s --duration 1e12 --n 10 --out %s", sbi, out);
    expect(2, N("--duration 1e+300", "samples: at most 1e9"), "%s --duration 1e300 --n 10 --out %s", sbi, out);
    expect(2, N("--n 1e15", "1.."), "%s --duration 10 --n 1e15 --out %s", sbi, out);
    expect(2, N("--chunk 0"), "%s --duration 10 --n 10 --chunk 0 --out %s", sbi, out);
    expect(2, N("--chunk 16000000", "at most --chunk"), "%s --duration 1e6 --n 10 --chunk 16000000 --out %s", sbi, out);
    expect(2, N("GB of memory"), "sbi infer --reference bayesflow-lif --reference-n 100000000 --samples 1000000 "
           "--observed %s --out %s", npy_f32("obs.npy", 2, 2, 501), out);
    expect(2, N("GB of memory"), "sbi sbc --preset bayesflow-lif --draws 10000000 --posterior-samples 100000 --out %s",
           out);
    /* sweeps: a backwards range, one past the end */
    expect(2, N("runs backwards (2-5?)"), "fit " NF_TEST_DATA "/abf/File_axon_5.abf --sweeps 5-2 --out %s", out);
    expect(2, N("has sweeps 0..8"), "fit " NF_TEST_DATA "/abf/File_axon_5.abf --sweeps 3-9 --out %s", out);
    expect(2, N("--dt 0", "> 0 ms"), "fit --example --dt 0 --out %s", out);
    /* never quietly capped */
    expect(2, N("--popsize 2000000", "0..1048576"), "fit --example --popsize 2000000 --out %s", out);
    expect(2, N("--top-k 5000", "0..1000"), "fit --example --top-k 5000 --out %s", out);
    expect(2, N("--restarts 1e9", "0..1000"), "fit --example --restarts 1e9 --out %s", out);
    expect(2, N("--popsize 1048576 x ", "GB of memory"), "fit " NF_TEST_DATA "/abf/File_axon_5.abf --popsize 1048576 "
           "--out %s", out);
    expect(2, N("--sims 1000000000000", "GB of memory"), "bench --sims 1e12");
    expect(2, N("--steps 1e10", "2..1e9"), "bench --steps 1e10");
    cr_assert_not(nft_exists(dir, "o"), "nothing written, no --out made");
}

/* spikes.npy holds every spike time by default; a cap says what it dropped. */
Test(cli_inputs, simulate_keeps_every_spike_or_says_how_many_it_dropped)
{
    const char *p = FILE_TEXT("p.csv", "C_m,g_L,E_L,V_th,V_res,t_ref\n150,10,-70,-55,-75,2\n150,10,-70,-55,-75,20\n");
    char out[8192];
    int rc = nft_run(out, sizeof out,
                     BIN " simulate --model lif6 --params %s --stimulus step:500,0,20000 --dt 0.1 --duration 20000 "
                     "--record none --out %s/all", p, dir);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(!strstr(out, "drop"), "%s", out);
    float *s;
    int32_t *c;
    int nd;
    int64_t shape[2], cshape[1];
    char path[600];
    snprintf(path, sizeof path, "%s/all/spikes.npy", dir);
    cr_assert_eq(nf_npy_read_f32(path, &s, &nd, shape, 2), NF_OK, "%s", nf_errmsg());
    snprintf(path, sizeof path, "%s/all/spike_counts.npy", dir);
    nf_dtype ct;
    cr_assert_eq(nf_npy_read(path, (void **)&c, &ct, &nd, cshape, 1), NF_OK, "%s", nf_errmsg());
    cr_assert_eq(ct, NF_DT_I32);
    cr_assert_eq(shape[0], 2);
    cr_assert_gt(c[0], 64, "the first simulation fires more than the old default cap: %d", c[0]);
    cr_assert_eq(shape[1], c[0] > c[1] ? c[0] : c[1], "K is the most any simulation fired");
    for (int i = 0; i < 2; i++) {
        int finite = 0;
        for (int k = 0; k < shape[1]; k++)
            finite += s[i * shape[1] + k] == s[i * shape[1] + k];
        cr_assert_eq(finite, c[i], "simulation %d: %d spike times stored, %d fired", i, finite, c[i]);
    }
    int most = c[0], dropped = c[0] - 64 + (c[1] > 64 ? c[1] - 64 : 0);
    free(s);
    free(c);
    rc = nft_run(out, sizeof out,
                 BIN " simulate --model lif6 --params %s --stimulus step:500,0,20000 --dt 0.1 --duration 20000 "
                 "--record none --max-spikes 64 --out %s/cap", p, dir);
    cr_assert_eq(rc, 0, "%s", out);
    char want[256];
    snprintf(want, sizeof want, "fired more than 64 spikes (at most %d)", most);
    cr_assert(strstr(out, want), "%s", out);
    snprintf(want, sizeof want, "drops %d spike times", dropped);
    cr_assert(strstr(out, want), "%s", out);
    snprintf(path, sizeof path, "grep -q '\"spikes_dropped\":.*%d' %s/cap/meta.json", dropped, dir);
    cr_assert_eq(system(path), 0, "meta.json records spikes_dropped %d", dropped);
}

/* The README's table: 0 done, 1 the run failed, 2 bad input, 130 interrupted. */
Test(cli_inputs, exit_codes_are_the_readmes_table)
{
    char out[600];
    snprintf(out, sizeof out, "%s/ok", dir);
    expect(0, NULL, SIM "%s --sample-prior 2 --stimulus step:1,0,1", out);
    /* an unwritable --out is bad input for every writing command */
    expect(2, N("/proc/nf_nope"), SIM "/proc/nf_nope --sample-prior 2 --stimulus step:1,0,1");
    expect(2, N("/proc/nf_nope"), "sbi simulate --preset bayesflow-lif --n 2 --out /proc/nf_nope");
    expect(2, N("/proc/nf_nope"), "sbi infer --reference bayesflow-lif --reference-n 1000 --observed %s "
           "--out /proc/nf_nope", npy_f32("obs.npy", 2, 2, 501));
    expect(2, N("/proc/nf_nope"), "sbi sbc --preset bayesflow-lif --draws 10 --reference 1000 --out /proc/nf_nope");
    expect(2, N("/proc/nf_nope"), "fit --example --models lif6 --budget 32 --out /proc/nf_nope");
    expect(2, N("/proc/nf_nope"), "export " NF_TEST_DATA "/abf/File_axon_5.abf --out /proc/nf_nope");
    char fr[600];
    snprintf(fr, sizeof fr, "%s/fr", dir);
    expect(0, NULL, "fit --example --models lif6 --budget 32 --refine 0 --quiet --out %s", fr);
    expect(2, N("/proc/nf_nope"), "predict %s/results.json " NF_TEST_DATA "/abf/File_axon_5.abf --sweeps 0 "
           "--out /proc/nf_nope", fr);
    /* a complete earlier set: 2 without --force */
    expect(2, N("holds earlier results (meta.json)", "--force"), SIM "%s --sample-prior 2 --stimulus step:1,0,1", out);
    expect(0, NULL, SIM "%s --sample-prior 3 --stimulus step:1,0,1 --force", out);
    /* another writer: 1, naming it (here: a lock held by a stopped process) */
    pid_t holder = fork();
    if (holder == 0) {
        execl(BIN, BIN, "simulate", "--model", "lif6", "--dt", "0.1", "--duration", "100000", "--sample-prior", "1000",
              "--record", "none", "--stimulus", "step:1,0,1", "--force", "--out", out, (char *)NULL);
        _exit(127);
    }
    char lock[700], pid[32];
    snprintf(lock, sizeof lock, "%s/.neurofit.lock", out);
    snprintf(pid, sizeof pid, "%ld", (long)holder);
    for (int i = 0; i < 2000; i++) {
        char buf[32] = "";
        FILE *f = fopen(lock, "r");
        if (f) {
            if (!fgets(buf, sizeof buf, f)) buf[0] = 0;
            fclose(f);
        }
        if (!strncmp(buf, pid, strlen(pid))) break;
        usleep(5000);
    }
    kill(holder, SIGSTOP);
    char named[64];
    snprintf(named, sizeof named, "pid %ld", (long)holder);
    expect(1, N(named), SIM "%s --sample-prior 2 --stimulus step:1,0,1 --force", out);
    /* interrupted: 130, nothing half-written, the earlier set kept */
    kill(holder, SIGCONT);
    kill(holder, SIGINT);
    int st;
    waitpid(holder, &st, 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 130, "SIGINT: status %d", st);
    char meta[700];
    snprintf(meta, sizeof meta, "grep -q '\"n_sims\":.*3,' %s/meta.json", out);
    cr_assert_eq(system(meta), 0, "the earlier set (3 simulations) is kept");
    cr_assert_not(nft_exists(out, ".neurofit.lock"), "the lock file goes with the run");
}

/* features: a trace whose stimulus window cannot be found is named on
 * stderr and skipped, the others computed (--strict: exit 2 naming it); a
 * window given must lie inside the trace; a number with a NUL or junk in a
 * text recording is an error quoting a printable excerpt. */
Test(cli_inputs, features_skip_a_sweep_without_a_window_and_check_a_given_one)
{
    char step[600], flat[600], out[1 << 16];
    snprintf(step, sizeof step, "%s/step.csv", dir);
    snprintf(flat, sizeof flat, "%s/flat.csv", dir);
    FILE *a = fopen(step, "w"), *b = fopen(flat, "w");
    cr_assert(a && b);
    fprintf(a, "t,V,I\n");
    fprintf(b, "t,V,I\n");
    for (int k = 0; k < 4000; k++) {
        double t = 0.1 * k, I = t >= 100 && t < 300 ? 200 : 0;
        fprintf(a, "%g,%g,%g\n", t, -70 + 0.05 * I, I);
        fprintf(b, "%g,%g,%g\n", t, -70.0, 0.0);
    }
    fclose(a);
    fclose(b);
    int rc = nft_run(out, sizeof out, BIN " features %s %s --features spike_count --format csv", step, flat);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "flat.csv skipped") && strstr(out, "--strict"), "%s", out);
    cr_assert(strstr(out, "step.csv\",100,300"), "the other trace is computed: %s", out);
    expect(2, N("flat.csv", "give --stim-start and --stim-end"), "features %s %s --strict", step, flat);
    expect(2, N("no sweep had a stimulus window (1 skipped)"), "features %s", flat);
    expect(2, N("step.csv", "outside the sweep (0 to 399.9 ms)"), "features %s --stim-start 5000 --stim-end 9000", step);
    expect(2, N("File_axon_5.abf sweep 0", "outside the sweep"),
           "features " NF_TEST_DATA "/abf/File_axon_5.abf --sweep 0 --stim-start 5000 --stim-end 9000");
    expect(0, NULL, "features %s --stim-start 100 --stim-end 300", step);
#ifdef NF_HAVE_HDF5
    /* one file of three sweeps, the middle one without a current step: sweep 1 named and skipped */
    char nwb[600];
    snprintf(nwb, sizeof nwb, "%s/three.nwb", dir);
    hid_t h = nwbw_create(nwb);
    static float v[4000], i[4000];
    for (int sw = 0; sw < 3; sw++) {
        for (int k = 0; k < 4000; k++) {
            i[k] = (float)(sw != 1 && k >= 1000 && k < 3000 ? 100.0 * (sw + 1) : 0.0);
            v[k] = (float)(-70 + 0.05 * i[k]);
        }
        char vn[32], in[32];
        snprintf(vn, sizeof vn, "CurrentClampSeries%03d", sw);
        snprintf(in, sizeof in, "CurrentClampStimulusSeries%03d", sw);
        nwbw_series(h, "/acquisition", vn, "CurrentClampSeries", "volts", v, 4000, 1e-3, 0, sw, 10000, NULL, sw);
        nwbw_series(h, "/stimulus/presentation", in, "CurrentClampStimulusSeries", "amperes", i, 4000, 1e-12, 0, sw,
                    10000, NULL, sw);
    }
    H5Fclose(h);
    rc = nft_run(out, sizeof out, BIN " features %s --features spike_count --format csv", nwb);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "three.nwb sweep 1 skipped") && strstr(out, "--strict"), "%s", out);
    cr_assert(strstr(out, "three.nwb sweep 0\",100,300") && strstr(out, "three.nwb sweep 2\",100,300"),
              "sweeps 0 and 2 computed: %s", out);
    expect(2, N("three.nwb sweep 1", "give --stim-start and --stim-end"), "features %s --strict", nwb);
#endif
    /* junk in a number */
    const char *f = file_with("nul.csv", "t,V\n0,-70\n0.1,-6\0" "9\n0.2,-70\n", 25);
    expect(2, N("nul.csv", "line 3, column 2", "'-6\\x009'"), "features %s --stim-start 0 --stim-end 0.2", f);
    f = FILE_TEXT("bin.csv", "t,V\n0,-70\n0.1,-6\x01\xff\x1b[31m\n0.2,-70\n");
    expect(2, N("bin.csv", "'-6\\x01\\xff\\x1b[31m'"), "features %s --stim-start 0 --stim-end 0.2", f);
    char longnum[200] = "t,V\n0,-70\n0.1,";
    for (int k = 0; k < 100; k++) strcat(longnum, "1");
    strcat(longnum, "x\n");
    f = file_with("long.csv", longnum, strlen(longnum));
    expect(2, N("long.csv", "...' is not a number"), "features %s --stim-start 0 --stim-end 0.1", f);
    /* an escape sequence in a header line is quoted as text, never sent to the terminal */
    f = FILE_TEXT("esc.csv", "t,V\x1b[2J\n0,-70\n0.1,-70\n");
    expect(2, N("esc.csv", "'t,V\\x1b[2J'"), "info %s", f);
    /* a size in a message is a short number, not 300 digits */
    expect(2, N("6e+300 ms, 6e+301 samples"), "features %s --dt 1e300 --stim-start 1 --stim-end 2",
           npy_f32("v7.npy", 1, 7, 0));
}
