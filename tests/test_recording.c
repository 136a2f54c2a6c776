/* Recording readers: every format against the files in tests/data (ABF header dumps
 * from pyABF's *.abfinfo, IBW pairs, eFEL text traces), NWB and .npy round
 * trips, every class of bad input, and `neurofit info`. */
#include "neurofit/npy.h"
#include "neurofit/recording.h"
#include "recording/rec_internal.h"
#ifdef NF_HAVE_HDF5
#include "nwb_write.h"
#endif

#include <criterion/criterion.h>
#include "nf_test_cli.h"
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DATA NF_TEST_DATA
#define ABF DATA "/abf/"
#define IBW DATA "/ibw/"
#define BIN NF_BINARY_DIR "/neurofit"

static char tmpdir[256];

static void setup(void) { nft_tmpdir(tmpdir, sizeof tmpdir, "rec"); }

static void teardown(void) { nft_rmtree(tmpdir); }

static const char *tmp(const char *name)
{
    static char path[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(path[k], sizeof path[k], "%s/%s", tmpdir, name);
    return path[k];
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    cr_assert_not_null(fp, "cannot write %s", path);
    cr_assert_eq(fwrite(data, 1, n, fp), n);
    fclose(fp);
}

static void write_text(const char *path, const char *text) { write_file(path, text, strlen(text)); }

static uint8_t *read_all(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    cr_assert_not_null(fp, "cannot read %s", path);
    fseek(fp, 0, SEEK_END);
    *n = (size_t)ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *b = malloc(*n + 1);
    cr_assert_eq(fread(b, 1, *n, fp), *n);
    fclose(fp);
    return b;
}

static nf_recording *open_ok(const char *path, const nf_recording_options *o)
{
    nf_recording *r = NULL;
    nf_status s = nf_recording_open(path, o, &r);
    cr_assert_eq(s, NF_OK, "%s: %s", path, nf_errmsg());
    cr_assert_not_null(r);
    return r;
}

/* Opening fails, with a message containing each of the given fragments. */
static void open_fails(const char *path, const nf_recording_options *o, const char *frag1, const char *frag2)
{
    nf_recording *r = NULL;
    nf_status s = nf_recording_open(path, o, &r);
    cr_assert_neq(s, NF_OK, "%s opened but should not have", path);
    cr_assert_null(r);
    const char *m = nf_errmsg();
    cr_assert(strstr(m, frag1), "message '%s' lacks '%s'", m, frag1);
    if (frag2) cr_assert(strstr(m, frag2), "message '%s' lacks '%s'", m, frag2);
}

static double mean(const double *x, int64_t a, int64_t b)
{
    double s = 0;
    for (int64_t k = a; k < b; k++) s += x[k];
    return s / (double)(b - a);
}

/* ---- ABF against pyABF's header dumps ------------------------------------ */

/* The number after "key =" in an abfinfo dump. */
static double abfinfo_num(const char *text, const char *key)
{
    char pat[128];
    snprintf(pat, sizeof pat, "\n%s =", key);
    const char *p = strstr(text, pat);
    cr_assert_not_null(p, "abfinfo lacks %s", key);
    return strtod(p + strlen(pat), NULL);
}

typedef struct {
    char type[16];
    double init, inc;
    long dur, dur_inc;
} abfinfo_epoch;

/* The epoch table of DAC 0 ("Epoch Output Waveform - Channel 0"). */
static int abfinfo_epochs(const char *text, abfinfo_epoch *e, int max)
{
    const char *p = strstr(text, "Epoch Output Waveform - Channel 0:");
    cr_assert_not_null(p);
    p = strstr(p, "\nNo.");
    cr_assert_not_null(p);
    p = strchr(p + 1, '\n') + 1;
    int n = 0, no;
    while (n < max) {
        abfinfo_epoch x;
        if (sscanf(p, " %d %15s %lf %lf %ld %ld", &no, x.type, &x.init, &x.inc, &x.dur, &x.dur_inc) != 6) break;
        if (strcmp(x.type, "Off") != 0) e[n++] = x;
        p = strchr(p, '\n');
        if (!p) break;
        p++;
    }
    return n;
}

static void check_abfinfo(const char *name)
{
    char path[512], info[512];
    snprintf(path, sizeof path, ABF "%s.abf", name);
    snprintf(info, sizeof info, ABF "%s.abfinfo", name);
    size_t n;
    char *text = (char *)read_all(info, &n);
    text[n] = 0;
    nf_recording *r = open_ok(path, NULL);
    int sweeps = (int)abfinfo_num(text, "lActualEpisodes");
    int nch = (int)abfinfo_num(text, "nADCNumChannels");
    long per_sweep = (long)abfinfo_num(text, "lNumSamplesPerEpisode") / nch;
    double interval_us = abfinfo_num(text, "fADCSequenceInterval");
    cr_expect_eq(r->n_sweeps, sweeps, "%s: sweeps %d, abfinfo %d", name, r->n_sweeps, sweeps);
    cr_expect_eq(r->n_channels, nch, "%s: channels", name);
    cr_expect(fabs(r->rate_hz - 1e6 / interval_us) < 1e-6, "%s: rate %g", name, r->rate_hz);
    const char *u = strstr(text, "No.  sADCChannelName  sADCUnits\n");
    cr_assert_not_null(u);
    u = strchr(u, '\n') + 1;
    for (int c = 0; c < nch; c++) {
        char cname1[16], cname2[16], unit[16];
        int no;
        cr_assert_eq(sscanf(u, " %d %15s %15s %15s", &no, cname1, cname2, unit), 4);
        char full[40];
        snprintf(full, sizeof full, "%s %s", cname1, cname2);
        cr_expect_str_eq(r->channels[c].unit, unit, "%s: channel %d unit", name, c);
        cr_expect_str_eq(r->channels[c].name, full, "%s: channel %d name", name, c);
        u = strchr(u, '\n') + 1;
    }
    abfinfo_epoch ep[50];
    int ne = abfinfo_epochs(text, ep, 50);
    int source = (int)abfinfo_num(text, "nWaveformSource[0]");
    for (int k = 0; k < r->n_sweeps; k++) {
        const nf_sweep *s = &r->sweeps[k];
        cr_expect_eq(s->n, per_sweep, "%s sweep %d: %lld samples", name, k, (long long)s->n);
        cr_expect(fabs(s->dt_ms - interval_us * 1e-3) < 1e-12);
        if (source != 1) {
            cr_expect_eq(s->n_epochs, 0, "%s: waveform from a file has no epochs", name);
            cr_expect_eq(s->i_source, NF_CURRENT_NONE);
            continue;
        }
        cr_assert_eq(s->n_epochs, ne, "%s sweep %d: %d epochs, abfinfo %d", name, k, s->n_epochs, ne);
        int64_t pos = s->n / 64;
        for (int e = 0; e < ne; e++) {
            const nf_epoch *x = &s->epochs[e];
            cr_expect_eq(x->first, pos);
            cr_expect_eq(x->end - x->first, ep[e].dur + ep[e].dur_inc * k);
            cr_expect(fabs(x->level_pA - (ep[e].init + ep[e].inc * k)) < 1e-3, "%s sweep %d epoch %d level %g", name, k,
                      e, x->level_pA);
            cr_expect_str_eq(ep[e].type, "Step");
            cr_expect_eq(x->type, NF_EPOCH_STEP);
            /* the rebuilt command holds the epoch level throughout the epoch */
            if (s->i_source == NF_CURRENT_PROTOCOL && x->end > x->first) {
                cr_expect(fabs(s->i[x->first] - x->level_pA) < 1e-9 && fabs(s->i[x->end - 1] - x->level_pA) < 1e-9);
            }
            pos = x->end;
        }
        if (s->i_source == NF_CURRENT_PROTOCOL) cr_expect_eq(s->i[0], 0.0, "holding level 0 pA before the epochs");
        for (int64_t j = 0; j < s->n; j++)
            cr_assert(s->v[j] > -200 && s->v[j] < 100, "%s sweep %d: V[%lld] = %g mV", name, k, (long long)j, s->v[j]);
    }
    nf_recording_destroy(r);
    free(text);
}

TestSuite(recording, .init = setup, .fini = teardown);

Test(recording, abf2_steps_match_abfinfo) { check_abfinfo("17o05028_ic_steps"); }
Test(recording, abf2_fi_curve_matches_abfinfo) { check_abfinfo("18711001"); }
Test(recording, abf2_dac_file_waveform_is_not_rebuilt) { check_abfinfo("171116sh_0017"); }
Test(recording, abf1_matches_abfinfo) { check_abfinfo("190619B_0003"); }

Test(recording, abf_files_without_dump_match_readme)
{
    static const struct {
        const char *file;
        int sweeps;
        double rate, dur_ms;
    } t[] = {{"171116sh_0018.abf", 17, 20000, 3000},
             {"2019_07_24_0055_fsi.abf", 17, 20000, 3000},
             {"File_axon_5.abf", 9, 20000, 1000},
             {"18711001.abf", 30, 20000, 1500}};
    for (size_t k = 0; k < sizeof t / sizeof t[0]; k++) {
        char path[512];
        snprintf(path, sizeof path, ABF "%s", t[k].file);
        nf_recording *r = open_ok(path, NULL);
        cr_expect_eq(r->n_sweeps, t[k].sweeps, "%s", t[k].file);
        cr_expect_eq(r->rate_hz, t[k].rate, "%s", t[k].file);
        cr_expect(fabs(nf_sweep_duration_ms(&r->sweeps[0]) - t[k].dur_ms) < 1e-6, "%s", t[k].file);
        cr_expect_eq(r->sweeps[0].i_source, NF_CURRENT_PROTOCOL);
        nf_recording_destroy(r);
    }
}

Test(recording, abf2_steps_from_minus_100_by_25_pA_and_spiking_is_monotonic_in_current)
{
    nf_recording *r = open_ok(ABF "171116sh_0018.abf", NULL);
    int first_spiking = -1;
    for (int k = 0; k < r->n_sweeps; k++) {
        const nf_sweep *s = &r->sweeps[k];
        const nf_epoch *b = &s->epochs[1];
        cr_expect(fabs(s->i[(b->first + b->end) / 2] - (-100.0 + 25.0 * k)) < 1e-9);
        double vmax = -1e9;
        for (int64_t j = b->first; j < b->end; j++) vmax = fmax(vmax, s->v[j]);
        /* V in mV: action potentials overshoot 0, hyperpolarised sweeps stay near rest */
        if (vmax > 0 && first_spiking < 0) first_spiking = k;
        if (first_spiking >= 0) cr_expect(vmax > 0, "sweep %d: spiking stopped at a larger current", k);
    }
    cr_expect(first_spiking > 4, "sweeps at <= 0 pA (0..4) should not spike; first spiking %d", first_spiking);
    cr_expect(first_spiking >= 0 && first_spiking < r->n_sweeps - 1);
    nf_recording_destroy(r);
}

Test(recording, abf2_second_adc_channel_records_the_injected_current)
{
    nf_recording *r = open_ok(ABF "2020_03_02_0000.abf", NULL);
    cr_assert_eq(r->n_channels, 2);
    cr_expect_eq(r->i_channel, 1);
    cr_expect_str_eq(r->channels[1].unit, "pA");
    double prev = -1e9;
    for (int k = 0; k < r->n_sweeps; k++) {
        const nf_sweep *s = &r->sweeps[k];
        cr_assert_eq(s->i_source, NF_CURRENT_RECORDED);
        cr_assert_eq(s->n_epochs, 2);
        const nf_epoch *b = &s->epochs[1];
        double lvl = mean(s->i, b->first + (b->end - b->first) / 4, b->end - (b->end - b->first) / 4);
        double base = mean(s->i, 0, b->first - 10);
        /* The recorded current follows the commanded steps while they are
         * negative (above 0 pA this file's recorded current departs from its
         * epoch table, which is why a recorded channel wins over the rebuilt one). */
        if (b->level_pA < 0)
            cr_expect(fabs((lvl - base) - b->level_pA) < 0.02 * fabs(b->level_pA) + 2,
                      "sweep %d: recorded step %g pA, command %g pA", k, lvl - base, b->level_pA);
        cr_expect(lvl > prev, "sweep %d: recorded steps increase", k);
        prev = lvl;
    }
    nf_recording_destroy(r);
}

Test(recording, abf_channel_override_and_bad_channel)
{
    nf_recording_options o;
    nf_recording_options_default(&o);
    o.v_channel = 1;
    nf_recording *r = open_ok(ABF "190619B_0003.abf", &o);
    cr_expect_eq(r->v_channel, 1);
    nf_recording_destroy(r);
    o.v_channel = 5;
    open_fails(ABF "190619B_0003.abf", &o, "V channel 5", "190619B_0003.abf");
}

/* ---- IBW ------------------------------------------------------------------- */

Test(recording, ibw_v5_pairs_voltage_with_current_wave)
{
    nf_recording *r = open_ok(IBW "B6_Ch3_IDRest_181.ibw", NULL);
    cr_assert_eq(r->n_sweeps, 1);
    const nf_sweep *s = &r->sweeps[0];
    cr_expect_eq(s->n, 12000);
    cr_expect(fabs(s->dt_ms - 0.25) < 1e-12);
    cr_expect(fabs(r->rate_hz - 4000) < 1e-6);
    cr_expect(strstr(r->format_detail, "v5") != NULL);
    cr_expect_str_eq(r->channels[0].unit, "mV");
    cr_expect_str_eq(r->channels[1].unit, "pA");
    cr_assert_eq(s->i_source, NF_CURRENT_RECORDED);
    /* IDRest: a step from 700 to 2700 ms */
    double before = mean(s->i, 0, 2600), during = mean(s->i, 3000, 10600), after = mean(s->i, 11000, 12000);
    cr_expect(fabs(during - before) > 20, "step %g pA", during - before);
    cr_expect(fabs(after - before) < 0.1 * fabs(during - before));
    cr_expect(mean(s->v, 0, 2600) > -100 && mean(s->v, 0, 2600) < -40);
    nf_recording_destroy(r);
}

Test(recording, ibw_v2_big_endian_reads)
{
    nf_recording *r = open_ok(IBW "B95_Ch3_IDRest_107.ibw", NULL);
    cr_expect(strstr(r->format_detail, "v2") && strstr(r->format_detail, "big"));
    cr_expect_eq(r->sweeps[0].n, 12000);
    cr_expect(fabs(r->sweeps[0].v[0] - (-68.59)) < 0.01, "V[0] = %g", r->sweeps[0].v[0]);
    cr_expect_eq(r->sweeps[0].i_source, NF_CURRENT_RECORDED);
    nf_recording_destroy(r);
}

Test(recording, ibw_current_wave_alone_is_refused)
{
    open_fails(IBW "B6_Ch0_IDRest_181.ibw", NULL, "holds a current", "B6_Ch0_IDRest_181.ibw");
}

/* A little-endian IBW wave written here: v2 or v5, float32 ramp. */
static void write_ibw(const char *path, int version, const char *unit, int n, float dx_s)
{
    size_t hdr = version == 2 ? 126 : 384, sz = hdr + 4 * (size_t)n;
    uint8_t *b = calloc(1, sz + 16);
    b[0] = (uint8_t)version;
    double dx = dx_s;
    int32_t npnts = n;
    int16_t type = 2;
    if (version == 2) {
        memcpy(b + 16, &type, 2);
        memcpy(b + 22, "wave", 4);
        memcpy(b + 50, unit, strlen(unit));
        memcpy(b + 54, "s", 1);
        memcpy(b + 58, &npnts, 4);
        memcpy(b + 64, &dx, 8);
    } else {
        memcpy(b + 64 + 12, &npnts, 4);
        memcpy(b + 64 + 16, &type, 2);
        memcpy(b + 64 + 28, "wave", 4);
        memcpy(b + 64 + 68, &npnts, 4);
        memcpy(b + 64 + 84, &dx, 8);
        memcpy(b + 64 + 148, unit, strlen(unit));
    }
    for (int k = 0; k < n; k++) {
        float x = -70.0f + 0.5f * (float)k;
        memcpy(b + hdr + 4 * (size_t)k, &x, 4);
    }
    size_t ck = version == 2 ? 142 : 384;
    uint16_t sum = 0;
    for (size_t k = 0; k < ck; k += 2) sum = (uint16_t)(sum + (b[k] | b[k + 1] << 8));
    uint16_t fix = (uint16_t)(0 - sum);
    size_t at = version == 2 ? 14 : 2;
    b[at] = (uint8_t)(fix & 0xff);
    b[at + 1] = (uint8_t)(fix >> 8);
    write_file(path, b, sz);
    free(b);
}

Test(recording, ibw_little_endian_v2_and_v5_round_trip)
{
    for (int version = 2; version <= 5; version += 3) {
        const char *p = tmp(version == 2 ? "le2.ibw" : "le5.ibw");
        write_ibw(p, version, "V", 64, 0.0001f);
        nf_recording *r = open_ok(p, NULL);
        const nf_sweep *s = &r->sweeps[0];
        cr_expect(strstr(r->format_detail, "little") != NULL);
        cr_assert_eq(s->n, 64);
        cr_expect(fabs(s->dt_ms - 0.1) < 1e-6, "dt %g", s->dt_ms);
        for (int k = 0; k < 64; k++) cr_expect(fabs(s->v[k] - 1e3 * (-70.0 + 0.5 * k)) < 1e-6); /* V -> mV */
        nf_recording_destroy(r);
    }
}

Test(recording, ibw_pair_of_different_lengths_is_refused)
{
    const char *v = tmp("x_Ch3_1.ibw"), *i = tmp("x_Ch0_1.ibw");
    write_ibw(v, 5, "mV", 64, 0.0001f);
    write_ibw(i, 5, "pA", 63, 0.0001f);
    open_fails(v, NULL, "sweep 0: V has 64 samples but I", "x_Ch3_1.ibw");
}

Test(recording, ibw_corrupt_and_truncated)
{
    size_t n;
    uint8_t *b = read_all(IBW "B6_Ch3_IDRest_182.ibw", &n);
    write_file(tmp("trunc_Ch3_.ibw"), b, 2000);
    open_fails(tmp("trunc_Ch3_.ibw"), NULL, "truncated", "trunc_Ch3_.ibw");
    b[100] ^= 0x40;
    write_file(tmp("flip.ibw"), b, n);
    open_fails(tmp("flip.ibw"), NULL, "checksum", "flip.ibw");
    write_file(tmp("tiny.ibw"), b, 1);
    open_fails(tmp("tiny.ibw"), NULL, "tiny.ibw", NULL);
    free(b);
}

/* ---- text and .npy ----------------------------------------------------------- */

Test(recording, text_efel_trace_two_columns)
{
    nf_recording *r = open_ok(DATA "/efel/allfeatures/testdata.txt", NULL);
    const nf_sweep *s = &r->sweeps[0];
    cr_assert_eq(s->n, 12000);
    cr_expect(fabs(s->dt_ms - 0.25) < 1e-6);
    cr_expect_eq(s->v[0], -7.568379974365234375e+01);
    cr_expect_eq(s->i_source, NF_CURRENT_NONE);
    nf_recording_destroy(r);
}

Test(recording, text_columns_with_units)
{
    nf_recording_options o;
    nf_recording_options_default(&o);
    o.columns = "t[s] I[pA] V[mV]";
    nf_recording *r = open_ok(DATA "/efel/basic/current.txt", &o);
    const nf_sweep *s = &r->sweeps[0];
    cr_assert_eq(s->n, 12000);
    cr_expect(fabs(s->t[1] - 0.25) < 1e-9, "t[1] = %g ms", s->t[1]);
    cr_expect(fabs(s->i[1] - (-15.62424)) < 1e-9);
    cr_expect(fabs(s->v[2] - (-69.05914)) < 1e-9);
    nf_recording_destroy(r);
    /* three unnamed columns are ambiguous */
    open_fails(DATA "/efel/basic/current.txt", NULL, "3 columns", "current.txt");
}

Test(recording, text_irregular_grid_with_repeated_times_has_no_rate)
{
    /* eFEL's variable-step trace repeats some time points (0.1, 0.1): allowed */
    nf_recording *r = open_ok(DATA "/efel/basic/mean_frequency_1.txt", NULL);
    cr_expect_eq(r->sweeps[0].dt_ms, 0.0);
    cr_expect_eq(r->rate_hz, 0.0);
    nf_recording_destroy(r);
}

Test(recording, csv_header_names_columns_and_units)
{
    const char *p = tmp("h.csv");
    write_text(p, "# a comment\ntime [s], current (nA), voltage [V]\n0,0.1,-0.070\n0.001,0.2,-0.069\n\n0.002,0.3,-0.068\n");
    nf_recording *r = open_ok(p, NULL);
    const nf_sweep *s = &r->sweeps[0];
    cr_assert_eq(s->n, 3);
    cr_expect(fabs(s->t[2] - 2.0) < 1e-12 && fabs(s->i[1] - 200.0) < 1e-9 && fabs(s->v[0] + 70.0) < 1e-9);
    cr_expect(fabs(s->dt_ms - 1.0) < 1e-12);
    nf_recording_destroy(r);
}

/* Units as name suffixes: "time_s" is seconds, not milliseconds. */
Test(recording, column_units_from_name_suffixes)
{
    const char *p = tmp("suffix.csv");
    write_text(p, "time_s,I_nA,V_mV\n0,0.1,-70\n0.001,0.2,-69\n0.002,0.3,-68\n");
    nf_recording *r = open_ok(p, NULL);
    const nf_sweep *s = &r->sweeps[0];
    cr_assert_eq(s->n, 3);
    cr_expect(fabs(s->t[2] - 2.0) < 1e-12, "t[2] = %g ms", s->t[2]);
    cr_expect(s->i && fabs(s->i[1] - 200.0) < 1e-9 && fabs(s->v[0] + 70.0) < 1e-9);
    nf_recording_destroy(r);
    write_text(p, "t,v_m,i_inj\n0,-70,1\n1,-69,2\n"); /* "_m", "_inj" are not units: whole names */
    r = open_ok(p, NULL);
    cr_expect(r->sweeps[0].v[1] == -69 && r->sweeps[0].i && r->sweeps[0].i[1] == 2);
    nf_recording_destroy(r);
    write_text(p, "t,V_kV\n0,-70\n1,-69\n"); /* not a voltage unit: no V column by name */
    open_fails(p, NULL, "no V column", "suffix.csv");
}

Test(recording, text_bad_inputs)
{
    write_text(tmp("nan.txt"), "0 -70\n0.1 nan\n0.2 -70\n");
    open_fails(tmp("nan.txt"), NULL, "sweep 0: V sample 1 is not finite", "nan.txt");
    write_text(tmp("back.txt"), "0 -70\n0.1 -70\n0.05 -70\n");
    open_fails(tmp("back.txt"), NULL, "goes back in time at sample 2", "back.txt");
    write_text(tmp("word.txt"), "0 -70\n0.1 abc\n");
    open_fails(tmp("word.txt"), NULL, "line 2, column 2", "abc");
    write_text(tmp("short.txt"), "0 -70\n0.1\n");
    open_fails(tmp("short.txt"), NULL, "line 2 has 1 columns", NULL);
    write_text(tmp("empty.txt"), "\n# nothing\n");
    open_fails(tmp("empty.txt"), NULL, "no data", "empty.txt");
    nf_recording_options o;
    nf_recording_options_default(&o);
    o.columns = "t[parsec] V";
    write_text(tmp("ok.txt"), "0 -70\n1 -70\n");
    open_fails(tmp("ok.txt"), &o, "parsec", "ok.txt");
    o.columns = "t V[pA]";
    open_fails(tmp("ok.txt"), &o, "not a voltage unit", NULL);
    open_fails(tmp("does_not_exist.txt"), NULL, "cannot open", "does_not_exist.txt");
}

Test(recording, npy_tables_and_single_trace)
{
    double tv[10][2];
    for (int k = 0; k < 10; k++) tv[k][0] = 0.5 * k, tv[k][1] = -65 + k;
    int64_t sh2[2] = {10, 2};
    cr_assert_eq(nf_npy_write(tmp("tv.npy"), NF_DT_F64, 2, sh2, tv), NF_OK);
    nf_recording *r = open_ok(tmp("tv.npy"), NULL);
    cr_expect_eq(r->sweeps[0].n, 10);
    cr_expect(fabs(r->sweeps[0].dt_ms - 0.5) < 1e-12 && r->sweeps[0].v[3] == -62);
    nf_recording_destroy(r);

    float v[5] = {-70, -69, -68, -67, -66};
    int64_t sh1[1] = {5};
    cr_assert_eq(nf_npy_write(tmp("v.npy"), NF_DT_F32, 1, sh1, v), NF_OK);
    open_fails(tmp("v.npy"), NULL, "give dt", "v.npy");
    nf_recording_options o;
    nf_recording_options_default(&o);
    o.dt_ms = 0.2;
    r = open_ok(tmp("v.npy"), &o);
    cr_expect(fabs(r->sweeps[0].t[4] - 0.8) < 1e-12 && r->sweeps[0].v[4] == -66);
    nf_recording_destroy(r);

    double tiv[4][3] = {{0, 10, -0.07}, {1, 20, -0.06}, {2, 30, -0.05}, {3, 40, -0.04}};
    int64_t sh3[2] = {4, 3};
    cr_assert_eq(nf_npy_write(tmp("tiv.npy"), NF_DT_F64, 2, sh3, tiv), NF_OK);
    o.columns = "t[ms] I[nA] V[V]";
    r = open_ok(tmp("tiv.npy"), &o);
    cr_expect(fabs(r->sweeps[0].i[2] - 30000) < 1e-9 && fabs(r->sweeps[0].v[3] + 40) < 1e-9);
    nf_recording_destroy(r);
    o.columns = "t I V x x";
    open_fails(tmp("tiv.npy"), &o, "the array has 3", NULL);
}

/* Write text into the FIFO path from a child process; returns its pid. */
static pid_t feed_fifo(const char *path, const char *text)
{
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        FILE *fp = fopen(path, "w");
        if (fp) {
            fputs(text, fp);
            fclose(fp);
        }
        _exit(fp ? 0 : 1);
    }
    return pid;
}

/* A pipe is read once, to its end, and detected from its bytes: text or ABF. */
Test(recording, text_through_a_pipe)
{
    const char *p = tmp("pipe");
    cr_assert_eq(mkfifo(p, 0600), 0);
    pid_t pid = feed_fifo(p, "time [s], V [mV]\n0 -70\n0.001 -69\n0.002 -68\n");
    nf_recording *r = open_ok(p, NULL);
    int st;
    waitpid(pid, &st, 0);
    cr_assert_eq(r->format, NF_FORMAT_TEXT);
    cr_expect(r->sweeps[0].n == 3 && r->sweeps[0].v[2] == -68 && fabs(r->sweeps[0].dt_ms - 1) < 1e-12);
    nf_recording_destroy(r);
    nf_recording_options o;
    nf_recording_options_default(&o);
    o.format = NF_FORMAT_NPY;
    pid = feed_fifo(p, "not read as .npy\n");
    open_fails(p, &o, "needs a file", "pipe");
    waitpid(pid, &st, 0);
    open_fails(tmpdir, NULL, "not a regular file", NULL);
}

/* Text by one rule for every command: a header names the columns, two
 * unnamed columns are t V, three or more must be named (eFEL's current.txt
 * is t[s] I[pA] V[mV]: taken by position it would read I as V), every line has
 * the columns of the first. And a 2-D .npy read as rows of V, `neurofit
 * features`' layout. */
Test(recording, one_text_rule_and_npy_rows_as_sweeps)
{
    nf_recording_options o;
    nf_recording_options_default(&o);
    write_text(tmp("named.csv"), "t_ms,V_mV,I_pA\n0,-70,0\n0.5,-69,10\n1,-68,20\n");
    nf_recording *r = open_ok(tmp("named.csv"), NULL); /* by name: t [ms], V [mV], I [pA] from the suffixes */
    const nf_sweep *s = &r->sweeps[0];
    cr_expect(s->n == 3 && s->t[2] == 1 && s->v[1] == -69 && s->i && s->i[2] == 20 && s->i_source == NF_CURRENT_RECORDED);
    nf_recording_destroy(r);
    write_text(tmp("three.txt"), "0 -12.5 -70\n0.25 -12.5 -69\n");
    open_fails(tmp("three.txt"), NULL, "3 columns without names", "three.txt");
    o.columns = "t[s] I[pA] V[mV]";
    r = open_ok(tmp("three.txt"), &o);
    cr_expect(r->sweeps[0].v[1] == -69 && r->sweeps[0].i[0] == -12.5 && r->sweeps[0].t[1] == 250);
    nf_recording_destroy(r);
    o.columns = NULL;
    write_text(tmp("ragged.txt"), "0 -70\n0.5 -70 1\n1 -70\n");
    open_fails(tmp("ragged.txt"), NULL, "line 2 has 3 columns, the first data line 2", "ragged.txt");
    write_text(tmp("pos1.txt"), "V\n-70\n-69\n");
    open_fails(tmp("pos1.txt"), &o, "give dt", "pos1.txt");
    o.dt_ms = 0.1;
    r = open_ok(tmp("pos1.txt"), &o);
    cr_expect(r->sweeps[0].n == 2 && r->sweeps[0].v[1] == -69 && fabs(r->sweeps[0].t[1] - 0.1) < 1e-15);
    nf_recording_destroy(r);

    float rows[3][4] = {{-70, -69, -68, -67}, {-60, -59, -58, -57}, {-50, -49, -48, -47}};
    int64_t sh[2] = {3, 4};
    cr_assert_eq(nf_npy_write(tmp("rows.npy"), NF_DT_F32, 2, sh, rows), NF_OK);
    o.npy_rows_are_sweeps = 1;
    o.dt_ms = 0;
    open_fails(tmp("rows.npy"), &o, "give dt", "rows.npy");
    o.dt_ms = 0.25;
    r = open_ok(tmp("rows.npy"), &o);
    cr_assert_eq(r->n_sweeps, 3);
    for (int k = 0; k < 3; k++) {
        cr_expect(r->sweeps[k].n == 4 && r->sweeps[k].v[3] == rows[k][3] && r->sweeps[k].i == NULL);
        cr_expect(r->sweeps[k].dt_ms == 0.25 && r->sweeps[k].t[3] == 0.75);
    }
    nf_recording_destroy(r);
    o.columns = "t V - -"; /* named columns win: a [samples][columns] table again */
    r = open_ok(tmp("rows.npy"), &o);
    cr_expect(r->n_sweeps == 1 && r->sweeps[0].n == 3 && r->sweeps[0].v[2] == -49);
    nf_recording_destroy(r);
}

/* The current a caller asks for: the protocol's command even where a channel
 * records the current (2020_03_02_0000.abf), the recorded one or an error,
 * and a voltage channel only where there is a choice. */
Test(recording, current_and_channel_choices)
{
    nf_recording_options o;
    nf_recording_options_default(&o);
    nf_recording *r = open_ok(NF_TEST_DATA "/abf/2020_03_02_0000.abf", NULL);
    cr_assert_eq(r->sweeps[3].i_source, NF_CURRENT_RECORDED);
    double recorded = r->sweeps[3].i[3000];
    nf_recording_destroy(r);
    o.current = NF_CURRENT_PROTOCOL;
    r = open_ok(NF_TEST_DATA "/abf/2020_03_02_0000.abf", &o);
    const nf_sweep *s = &r->sweeps[3];
    cr_assert_eq(s->i_source, NF_CURRENT_PROTOCOL);
    cr_assert_eq(r->i_channel, -1);
    /* sweep 3 of the protocol: epoch B at -50 pA; the recorded current is near it */
    cr_expect_eq(s->i[3000], s->epochs[1].level_pA, "%g vs %g", s->i[3000], s->epochs[1].level_pA);
    cr_expect(fabs(recorded - s->i[3000]) < 10, "recorded %g, protocol %g", recorded, s->i[3000]);
    nf_recording_destroy(r);
    o.current = NF_CURRENT_RECORDED;
    open_fails(NF_TEST_DATA "/abf/File_axon_5.abf", &o, "no recorded current", "File_axon_5.abf");
    open_fails(NF_TEST_DATA "/abf/171116sh_0017.abf", &o, "no recorded current", "171116sh_0017.abf");
    o.current = NF_CURRENT_PROTOCOL;
    open_fails(NF_TEST_DATA "/abf/171116sh_0017.abf", &o, "no protocol current", "171116sh_0017.abf");
    o.columns = "t[s] I[pA] V[mV]";
    open_fails(NF_TEST_DATA "/efel/basic/current.txt", &o, "cannot be rebuilt from a protocol", "current.txt");
    nf_recording_options_default(&o);
    o.v_channel = 1;
    r = open_ok(NF_TEST_DATA "/abf/190619B_0003.abf", &o);
    cr_expect_eq(r->v_channel, 1);
    nf_recording_destroy(r);
    o.columns = "t[s] I[pA] V[mV]";
    open_fails(NF_TEST_DATA "/efel/basic/current.txt", &o, "voltage channel 1 requested", "current.txt");
}

#ifdef NF_HAVE_HDF5
/* ---- NWB --------------------------------------------------------------------- */

#define NWB_N 200

/* Three sweeps written out of sweep-number order; V stored in volts as
 * mV * 1e-3 (conversion 1e-3) with an offset, I in amperes as pA (conversion 1e-12). */
static void write_nwb3(const char *path, int len_i)
{
    hid_t f = nwbw_create(path);
    float v[NWB_N], i[NWB_N];
    const int order[3] = {2, 0, 1};
    for (int s = 0; s < 3; s++) {
        int sw = order[s];
        for (int k = 0; k < NWB_N; k++) {
            v[k] = (float)(-70 + sw + 0.01 * k); /* mV before the offset */
            i[k] = (float)(k >= 50 && k < 150 ? 100.0 * sw : 0.0);
        }
        char vn[32], in[32];
        snprintf(vn, sizeof vn, "CurrentClampSeries%03d", s);
        snprintf(in, sizeof in, "CurrentClampStimulusSeries%03d", s);
        nwbw_series(f, "/acquisition", vn, "CurrentClampSeries", "volts", v, NWB_N, 1e-3, -0.002, 1.0 * sw, 20000,
                    NULL, sw);
        nwbw_series(f, "/stimulus/presentation", in, "CurrentClampStimulusSeries", "amperes", i,
                    (hsize_t)(sw == 1 ? len_i : NWB_N), 1e-12, 0, 1.0 * sw, 20000, NULL, sw);
    }
    H5Fclose(f);
}

Test(recording, nwb_round_trip_conversion_offset_rate_sweep_numbers)
{
    const char *p = tmp("a.nwb");
    write_nwb3(p, NWB_N);
    nf_recording *r = open_ok(p, NULL);
    cr_assert_eq(r->n_sweeps, 3);
    cr_expect_eq(r->format, NF_FORMAT_NWB);
    cr_expect(fabs(r->rate_hz - 20000) < 1e-6);
    for (int sw = 0; sw < 3; sw++) {
        const nf_sweep *s = &r->sweeps[sw];
        cr_expect_eq(s->index, sw);
        cr_assert_eq(s->n, NWB_N);
        cr_expect(fabs(s->dt_ms - 0.05) < 1e-9);
        cr_expect(fabs(s->start_ms - 1000.0 * sw) < 1e-9);
        cr_assert_eq(s->i_source, NF_CURRENT_RECORDED);
        for (int k = 0; k < NWB_N; k++) {
            double v = (float)(-70 + sw + 0.01 * k) * 1e-3 - 0.002; /* volts */
            cr_expect(fabs(s->v[k] - 1e3 * v) < 1e-4, "sweep %d V[%d] %g vs %g", sw, k, s->v[k], 1e3 * v);
            cr_expect(fabs(s->i[k] - (k >= 50 && k < 150 ? 100.0 * sw : 0.0)) < 1e-6);
        }
    }
    nf_recording_destroy(r);
}

/* A reader that dies as libhdf5 does on some corrupt files. */
static nf_status dies_like_libhdf5(const char *path, const nf_recording_options *o, nf_recording **rec)
{
    (void)path, (void)o, (void)rec;
    raise(SIGKILL); /* SIGKILL: no sanitizer can intercept it */
    return NF_OK;
}

Test(recording, nwb_read_in_a_child_process_survives_a_libhdf5_crash)
{
    const char *p = tmp("iso.nwb");
    write_nwb3(p, NWB_N);
    /* the child's result equals the in-process read, byte for byte */
    nf_recording *a = open_ok(p, NULL);
    nf_recording_options o;
    nf_recording_options_default(&o);
    nf_recording *b = NULL;
    cr_assert_eq(nf__nwb_open(p, &o, &b), NF_OK, "%s", nf_errmsg());
    cr_assert_eq(a->n_sweeps, b->n_sweeps);
    cr_assert_str_eq(a->format_detail, b->format_detail);
    cr_assert_eq(a->i_channel, b->i_channel);
    for (int k = 0; k < a->n_sweeps; k++) {
        cr_assert_eq(a->sweeps[k].n, b->sweeps[k].n);
        cr_assert_eq(memcmp(a->sweeps[k].v, b->sweeps[k].v, sizeof(double) * (size_t)a->sweeps[k].n), 0);
        cr_assert_eq(memcmp(a->sweeps[k].i, b->sweeps[k].i, sizeof(double) * (size_t)a->sweeps[k].n), 0);
        cr_assert_eq(memcmp(a->sweeps[k].t, b->sweeps[k].t, sizeof(double) * (size_t)a->sweeps[k].n), 0);
    }
    nf_recording_destroy(a);
    nf_recording_destroy(b);
    /* the reader dying in the child is an error naming the file, not a crash */
    nf_recording *r = NULL;
    nf_status s = nf__open_isolated(dies_like_libhdf5, p, &o, &r);
    cr_assert_eq(s, NF_EFORMAT, "status %s", nf_status_str(s));
    cr_assert_null(r);
    cr_assert(strstr(nf_errmsg(), "iso.nwb") && strstr(nf_errmsg(), "crashed"), "message '%s'", nf_errmsg());
}

Test(recording, nwb_timestamps_and_no_stimulus)
{
    const char *p = tmp("ts.nwb");
    hid_t f = nwbw_create(p);
    float v[4] = {-70, -69, -68, -67};
    double ts[4] = {0.5, 0.5001, 0.5003, 0.5006};
    nwbw_series(f, "/acquisition", "cc", "CurrentClampSeries", "volts", v, 4, 1e-3, 0, 0, 0, ts, -1);
    H5Fclose(f);
    nf_recording *r = open_ok(p, NULL);
    nf_recording_destroy(r);
    /* numbered sweeps and no stimulus at all (a fuzz finding: empty list sorted) */
    p = tmp("numbered.nwb");
    f = nwbw_create(p);
    nwbw_series(f, "/acquisition", "cc", "CurrentClampSeries", "volts", v, 4, 1e-3, 0, 0, 0, ts, 3);
    H5Fclose(f);
    r = open_ok(p, NULL);
    cr_expect_eq(r->sweeps[0].index, 3);
    nf_recording_destroy(r);
    r = open_ok(tmp("ts.nwb"), NULL);
    const nf_sweep *s = &r->sweeps[0];
    cr_expect_eq(r->rate_hz, 0.0);
    cr_expect_eq(s->i_source, NF_CURRENT_NONE);
    cr_expect(fabs(s->t[3] - 0.6) < 1e-9 && fabs(s->start_ms - 500) < 1e-9);
    cr_expect(fabs(s->v[2] + 68) < 1e-5); /* conversion is a float32 attribute */
    nf_recording_destroy(r);

    /* non-monotonic timestamps */
    p = tmp("ts_back.nwb");
    f = nwbw_create(p);
    double back[4] = {0, 0.001, 0.0005, 0.002};
    nwbw_series(f, "/acquisition", "cc", "CurrentClampSeries", "volts", v, 4, 1e-3, 0, 0, 0, back, -1);
    H5Fclose(f);
    open_fails(p, NULL, "sweep 0: time goes back", "ts_back.nwb");
}

Test(recording, nwb_bad_inputs)
{
    const char *p = tmp("len.nwb");
    write_nwb3(p, NWB_N - 1);
    open_fails(p, NULL, "sweep 1: V", "has 199");
    p = tmp("empty.nwb");
    H5Fclose(nwbw_create(p));
    open_fails(p, NULL, "no CurrentClampSeries", "empty.nwb");
    p = tmp("nan.nwb");
    hid_t f = nwbw_create(p);
    float v[3] = {-70, NAN, -70};
    nwbw_series(f, "/acquisition", "cc", "CurrentClampSeries", "volts", v, 3, 1e-3, 0, 0, 1000, NULL, -1);
    H5Fclose(f);
    open_fails(p, NULL, "sweep 0: V sample 1 is not finite", "nan.nwb");
    p = tmp("rate.nwb");
    f = nwbw_create(p);
    nwbw_series(f, "/acquisition", "cc", "CurrentClampSeries", "furlongs", v, 3, 1e-3, 0, 0, 1000, NULL, -1);
    H5Fclose(f);
    open_fails(p, NULL, "furlongs", NULL);
    /* a billion samples declared but never written: refused before allocating */
    p = tmp("huge.nwb");
    f = nwbw_create(p);
    hid_t g = H5Gcreate2(f, "/acquisition/cc", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    nwbw_attr_vstr(g, "neurodata_type", "CurrentClampSeries");
    hsize_t big = 1000000000;
    hid_t sp = H5Screate_simple(1, &big, NULL);
    H5Dclose(H5Dcreate2(g, "data", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
    H5Sclose(sp);
    H5Gclose(g);
    H5Fclose(f);
    open_fails(p, NULL, "huge.nwb", "samples");
    /* truncated HDF5 */
    size_t n;
    write_nwb3(tmp("a.nwb"), NWB_N);
    uint8_t *b = read_all(tmp("a.nwb"), &n);
    write_file(tmp("cut.nwb"), b, n / 2);
    open_fails(tmp("cut.nwb"), NULL, "cut.nwb", NULL);
    write_file(tmp("sig.nwb"), "\x89HDF\r\n\x1a\n", 8);
    open_fails(tmp("sig.nwb"), NULL, "too short", NULL);
    free(b);
}

#else
Test(recording, nwb_without_hdf5_is_unsupported)
{
    write_file(tmp("x.nwb"), "\x89HDF\r\n\x1a\n0000000000000000", 24);
    nf_recording *r = NULL;
    cr_expect_eq(nf_recording_open(tmp("x.nwb"), NULL, &r), NF_EUNSUPPORTED);
    cr_expect(strstr(nf_errmsg(), "no HDF5"));
}
#endif

/* ---- ABF bad inputs ---------------------------------------------------------- */

static void put32(uint8_t *b, size_t at, uint32_t v) { memcpy(b + at, &v, 4); }

Test(recording, abf_bad_inputs)
{
    size_t n;
    uint8_t *b = read_all(ABF "File_axon_5.abf", &n);
    write_file(tmp("magic.abf"), "ABF3xxxxxxxxxxxxxxxxxx", 22);
    open_fails(tmp("magic.abf"), NULL, "not an ABF", "magic.abf");
    write_file(tmp("cut.abf"), b, n * 3 / 5);
    open_fails(tmp("cut.abf"), NULL, "truncated", "cut.abf");
    write_file(tmp("hdr.abf"), b, 100);
    open_fails(tmp("hdr.abf"), NULL, "header truncated", NULL);

    uint8_t *c = malloc(n);
    memcpy(c, b, n);
    put32(c, 92 + 4, 10); /* ADC entries of 10 bytes */
    write_file(tmp("adc.abf"), c, n);
    open_fails(tmp("adc.abf"), NULL, "ADC section entries of 10 bytes", NULL);
    memcpy(c, b, n);
    put32(c, 76 + 16 * 9, 0x7fffffff); /* strings section far beyond the end */
    write_file(tmp("str.abf"), c, n);
    open_fails(tmp("str.abf"), NULL, "strings section", "beyond the end");
    memcpy(c, b, n);
    put32(c, 12, 1000000); /* a million sweeps */
    write_file(tmp("sweeps.abf"), c, n);
    open_fails(tmp("sweeps.abf"), NULL, "1000000 sweeps", "truncated");
    memcpy(c, b, n);
    c[30] = 7; /* data format */
    write_file(tmp("fmt.abf"), c, n);
    open_fails(tmp("fmt.abf"), NULL, "data format 7", NULL);
    free(c);
    free(b);

    b = read_all(ABF "190619B_0003.abf", &n);
    float zero = 0;
    memcpy(b + 922, &zero, 4); /* instrument scale factor of ADC 0 */
    write_file(tmp("gain1.abf"), b, n);
    open_fails(tmp("gain1.abf"), NULL, "ADC 0", "gain");
    free(b);
}

Test(recording, abf1_ramp_epoch_and_inter_episode_level_rebuild)
{
    /* 190619B_0003 with epoch B turned into a ramp and "use last level" set. */
    size_t n;
    uint8_t *b = read_all(ABF "190619B_0003.abf", &n);
    int16_t ramp = 2, one = 1;
    memcpy(b + 2308 + 2, &ramp, 2); /* nEpochType[DAC 0][B] */
    memcpy(b + 2304, &one, 2);      /* nInterEpisodeLevel[DAC 0] */
    write_file(tmp("ramp.abf"), b, n);
    free(b);
    nf_recording *r = open_ok(tmp("ramp.abf"), NULL);
    for (int k = 0; k < r->n_sweeps; k++) {
        const nf_sweep *s = &r->sweeps[k];
        cr_assert_eq(s->i_source, NF_CURRENT_PROTOCOL);
        const nf_epoch *a = &s->epochs[0], *e = &s->epochs[1];
        cr_assert_eq(e->type, NF_EPOCH_RAMP);
        double lvl = -120.0 + 60.0 * k, held = k ? -120.0 + 60.0 * (k - 1) : 0.0;
        /* the first holding period keeps the previous sweep's last level */
        cr_expect(fabs(s->i[0] - held) < 1e-9, "sweep %d: I[0] %g, want %g", k, s->i[0], held);
        cr_expect(fabs(s->i[a->first] - 0.0) < 1e-9);
        /* linear from epoch A's level (0) to lvl over the epoch */
        int64_t len = e->end - e->first;
        cr_expect(fabs(s->i[e->first]) < 1e-9 && fabs(s->i[e->end - 1] - lvl) < 1e-9);
        int64_t mid = e->first + (len - 1) / 2;
        cr_expect(fabs(s->i[mid] - lvl * (double)(mid - e->first) / (double)(len - 1)) < 1e-9);
        /* and the tail stays at the last level */
        cr_expect(fabs(s->i[s->n - 1] - lvl) < 1e-9);
    }
    nf_recording_destroy(r);
}

Test(recording, abf2_pulse_train_epoch_rebuild)
{
    /* 18711001 with epoch C (0..290 pA) made a pulse train: period 1000, width 200 samples. */
    size_t n;
    uint8_t *b = read_all(ABF "18711001.abf", &n);
    uint32_t blk, bytes;
    uint64_t count;
    memcpy(&blk, b + 156, 4);
    memcpy(&bytes, b + 160, 4);
    memcpy(&count, b + 164, 8);
    int found = 0;
    for (uint64_t k = 0; k < count; k++) {
        uint8_t *e = b + (size_t)blk * 512 + k * bytes;
        int16_t num, dac, pulse = 3;
        memcpy(&num, e, 2);
        memcpy(&dac, e + 2, 2);
        if (num != 2 || dac != 0) continue;
        int32_t period = 1000, width = 200;
        memcpy(e + 4, &pulse, 2);
        memcpy(e + 22, &period, 4);
        memcpy(e + 26, &width, 4);
        found = 1;
    }
    cr_assert(found, "epoch C of DAC 0 not in the epoch-per-DAC section");
    write_file(tmp("pulse.abf"), b, n);
    free(b);
    nf_recording *r = open_ok(tmp("pulse.abf"), NULL);
    const nf_sweep *s = &r->sweeps[20];
    const nf_epoch *c = &s->epochs[2];
    cr_assert_eq(c->type, NF_EPOCH_PULSE);
    double prev = s->epochs[1].level_pA;
    for (int64_t j = c->first; j < c->end; j++) {
        double want = ((j - c->first) % 1000) < 200 ? c->level_pA : prev;
        cr_assert(fabs(s->i[j] - want) < 1e-9, "I[%lld] %g want %g", (long long)j, s->i[j], want);
    }
    cr_expect(fabs(c->level_pA - 200.0) < 1e-9); /* 0 + 20 * 10 pA */
    nf_recording_destroy(r);
}

Test(recording, abf_float32_data_is_not_rescaled)
{
    /* An ABF1 file turned into float32 data: the samples are user units. */
    size_t n;
    uint8_t *b = read_all(ABF "190619B_0003.abf", &n);
    int32_t data_blk;
    memcpy(&data_blk, b + 40, 4);
    int16_t one = 1, nch = 2;
    int32_t total = 2 * 30640 * 2, eps = 2, per = 2 * 30640;
    memcpy(b + 100, &one, 2);
    memcpy(b + 10, &total, 4);
    memcpy(b + 16, &eps, 4);
    memcpy(b + 138, &per, 4);
    (void)nch;
    size_t off = (size_t)data_blk * 512;
    for (int k = 0; k < total; k++) {
        float x = (k % 2) ? 5.0f : -65.0f + (float)(k % 1000) * 0.001f;
        memcpy(b + off + 4 * (size_t)k, &x, 4);
    }
    write_file(tmp("f32.abf"), b, off + 4 * (size_t)total);
    nf_recording *r = open_ok(tmp("f32.abf"), NULL);
    cr_assert_eq(r->n_sweeps, 2);
    /* sweep 1, sample 1 of V is raw float number 61280 + 2 */
    cr_expect(fabs(r->sweeps[0].v[0] + 65.0) < 1e-6 && fabs(r->sweeps[1].v[1] - (-65.0 + 0.282)) < 1e-5,
              "v %g %g", r->sweeps[0].v[0], r->sweeps[1].v[1]);
    nf_recording_destroy(r);
    free(b);
}

/* ---- CLI ------------------------------------------------------------------------ */

Test(recording, cli_info_prints_sweeps_channels_rate_epochs)
{
    char out[8192];
    cr_assert_eq(nft_run(out, sizeof out, BIN " info " ABF "171116sh_0018.abf"), 0, "%s", out);
    cr_expect(strstr(out, "sweeps:   17") && strstr(out, "20000 Hz") && strstr(out, "3000 ms per sweep"), "%s", out);
    cr_expect(strstr(out, "IN 0") && strstr(out, "[mV]"), "%s", out);
    cr_expect(strstr(out, "| B | step | 146.85 | 646.85 | -100 | 300 |"), "%s", out);
    cr_assert_eq(nft_run(out, sizeof out, BIN " info --columns 't[s] I[pA] V[mV]' " DATA "/efel/basic/current.txt"), 0,
                 "%s", out);
    cr_expect(strstr(out, "4000 Hz") && strstr(out, "recorded"), "%s", out);
    write_text(tmp("bad.abf"), "ABF2 but not really");
    cr_expect_eq(nft_run(out, sizeof out, BIN " info %s", tmp("bad.abf")), 2);
    cr_expect(strstr(out, "bad.abf") && strstr(out, "truncated"), "%s", out);
    cr_expect_eq(nft_run(out, sizeof out, BIN " info"), 2);
    cr_expect_eq(nft_run(out, sizeof out, BIN " info --bogus x"), 2);
}

/* ---- export ------------------------------------------------------------------ */

/* Sweeps written by nf_recording_export read back exactly: each CSV as it is
 * (its header names the columns), each .npy with its columns named; the
 * epochs one row each; from an ABF file with a recorded current and with the
 * protocol's, a text file and an IBW pair. */
Test(recording, export_round_trips_exactly)
{
    const struct {
        const char *file, *columns;
        nf_current_source current;
    } cases[] = {{ABF "2020_03_02_0000.abf", NULL, NF_CURRENT_NONE},
                 {ABF "2020_03_02_0000.abf", NULL, NF_CURRENT_PROTOCOL},
                 {ABF "171116sh_0017.abf", NULL, NF_CURRENT_NONE},
                 {DATA "/efel/basic/current.txt", "t[s] I[pA] V[mV]", NF_CURRENT_NONE},
                 {IBW "B6_Ch3_IDRest_181.ibw", NULL, NF_CURRENT_NONE}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        nf_recording_options o;
        nf_recording_options_default(&o);
        o.columns = cases[c].columns;
        o.current = cases[c].current;
        nf_recording *r = open_ok(cases[c].file, &o);
        unsigned char *sel = calloc((size_t)r->n_sweeps, 1);
        for (int k = 0; k < r->n_sweeps; k += 3) sel[k] = 1; /* every third sweep */
        for (int fmt = 0; fmt < 2; fmt++) {
            char dir[600];
            snprintf(dir, sizeof dir, "%s/export_%zu_%d", tmpdir, c, fmt);
            cr_assert_eq(nf_recording_export(r, sel, fmt ? NF_EXPORT_CSV : NF_EXPORT_NPY, dir), NF_OK, "%s", nf_errmsg());
            int64_t epochs = 0;
            for (int k = 0; k < r->n_sweeps; k++) {
                char path[700];
                snprintf(path, sizeof path, "%s/sweeps/sweep_%04d.%s", dir, r->sweeps[k].index, fmt ? "csv" : "npy");
                cr_assert_eq(access(path, F_OK) == 0, sel[k], "%s", path);
                if (!sel[k]) continue;
                epochs += r->sweeps[k].n_epochs;
                const nf_sweep *a = &r->sweeps[k];
                nf_recording_options back;
                nf_recording_options_default(&back);
                back.columns = fmt ? NULL : a->i ? "t V I" : "t V";
                nf_recording *rb = open_ok(path, &back);
                const nf_sweep *b = &rb->sweeps[0];
                cr_assert_eq(b->n, a->n, "%s", path);
                cr_assert_eq(!b->i, !a->i, "%s", path);
                cr_assert_eq(memcmp(b->t, a->t, sizeof(double) * (size_t)a->n), 0, "%s: t", path);
                cr_assert_eq(memcmp(b->v, a->v, sizeof(double) * (size_t)a->n), 0, "%s: V", path);
                if (a->i) cr_assert_eq(memcmp(b->i, a->i, sizeof(double) * (size_t)a->n), 0, "%s: I", path);
                cr_assert(fabs(b->dt_ms - a->dt_ms) <= 1e-12 * a->dt_ms, "%s: dt %.17g, %.17g", path, b->dt_ms, a->dt_ms);
                nf_recording_destroy(rb);
            }
            char path[700];
            snprintf(path, sizeof path, "%s/epochs.%s", dir, fmt ? "csv" : "npy");
            cr_assert_eq(access(path, F_OK) == 0, epochs > 0, "%s", path);
            if (epochs > 0 && !fmt) {
                double *tab;
                nf_dtype type;
                int nd;
                int64_t shape[2];
                cr_assert_eq(nf_npy_read(path, (void **)&tab, &type, &nd, shape, 2), NF_OK, "%s", nf_errmsg());
                cr_assert(nd == 2 && shape[0] == epochs && shape[1] == 8, "%s", path);
                const nf_epoch *e = &r->sweeps[0].epochs[1];
                cr_expect(tab[8 + 1] == 1 && tab[8 + 3] == (double)e->first && tab[8 + 4] == (double)e->end &&
                          tab[8 + 7] == e->level_pA);
                free(tab);
            }
            snprintf(path, sizeof path, "%s/meta.json", dir);
            cr_assert_eq(access(path, F_OK), 0, "%s", path);
        }
        free(sel);
        nf_recording_destroy(r);
    }
}

/* `neurofit export`, then `neurofit info` and numpy on what it wrote: the
 * reader's values. */
Test(recording, export_command_round_trips_through_info_and_numpy)
{
    static char out[1 << 14];
    const char *abf = ABF "2020_03_02_0000.abf";
    char csv[600], npy[600];
    snprintf(csv, sizeof csv, "%s/csv", tmpdir);
    snprintf(npy, sizeof npy, "%s/npy", tmpdir);
    cr_assert_eq(nft_run(out, sizeof out, BIN " export %s --sweeps 2-3 --format csv --out %s", abf, csv), 0, "%s", out);
    cr_assert_eq(nft_run(out, sizeof out, BIN " export %s --sweeps 3 --current protocol --out %s", abf, npy), 0, "%s",
                 out);
    cr_assert_eq(nft_run(out, sizeof out, BIN " info %s/sweeps/sweep_0003.csv", csv), 0, "%s", out);
    cr_assert(strstr(out, "20000 samples") && strstr(out, "10000 Hz") && strstr(out, "recorded"), "%s", out);
    nf_recording *rr = open_ok(abf, NULL);
    const nf_sweep *s = &rr->sweeps[3];
    nf_recording_options o;
    nf_recording_options_default(&o);
    o.current = NF_CURRENT_PROTOCOL;
    nf_recording *r = open_ok(abf, &o);
    const nf_sweep *p = &r->sweeps[3];
    /* numpy reads both; V is the same, I the recorded and the protocol's */
    int rc = nft_run(out, sizeof out,
                     "/usr/bin/python3 -c \"import numpy as np, json; c=np.loadtxt('%s/sweeps/sweep_0003.csv', delimiter=',', "
                     "skiprows=1); n=np.load('%s/sweeps/sweep_0003.npy'); e=np.load('%s/epochs.npy'); "
                     "m=json.load(open('%s/meta.json')); "
                     "assert c.shape == (20000, 3) and n.shape == (20000, 3), (c.shape, n.shape); "
                     "assert (c[:, :2] == n[:, :2]).all(); "
                     "assert c[1234, 1] == %.17g and c[1234, 2] == %.17g and n[1234, 2] == %.17g; "
                     "assert e.shape == (2, 8) and e[1, 7] == %.17g; "
                     "assert m['sweeps'][0]['index'] == 3 and m['sweeps'][0]['current'] == 'protocol'; print('ok')\"",
                     csv, npy, npy, npy, s->v[1234], s->i[1234], p->i[1234], p->epochs[1].level_pA);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "ok"), "%s", out);
    nf_recording_destroy(r);
    nf_recording_destroy(rr);
    /* bad input: a clear message and exit 2 */
    cr_assert_eq(nft_run(out, sizeof out, BIN " export %s --sweeps 99 --out %s/x", abf, tmpdir), 2, "%s", out);
    cr_assert(strstr(out, "0..15"), "%s", out);
    cr_assert_eq(nft_run(out, sizeof out, BIN " export %s --format xml --out %s/x", abf, tmpdir), 2, "%s", out);
    cr_assert_eq(nft_run(out, sizeof out, BIN " export %s", abf), 2, "%s", out);
    cr_assert(strstr(out, "--out"), "%s", out);
    cr_assert_eq(nft_run(out, sizeof out, BIN " export %s --current nothing --out %s/x", abf, tmpdir), 2, "%s", out);
    cr_assert(strstr(out, "recorded or protocol"), "%s", out);
}
