/* `neurofit fit` end to end: the example, text recordings, outputs, Ctrl-C,
 * and every bad input as a clear error that leaves earlier results alone. */
#include "nf_test_cli.h"

#include <criterion/criterion.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char dir[256];
static char out[16384];

static void setup(void) { nft_tmpdir(dir, sizeof dir, "fit_cli"); }

static void teardown(void) { nft_rmtree(dir); }

TestSuite(fit_cli, .init = setup, .fini = teardown);

/* A text recording "t V I" of a LIF cell: -50 pA 20-80 ms, 300 pA 100-380 ms. */
static void write_lif_text(const char *path, int with_current, int nan_at)
{
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fprintf(f, with_current ? "t V I\n" : "t V\n");
    const double C = 150, gL = 10, EL = -70, Vth = -54, Vres = -72, tref = 2, dt = 0.1;
    double v = EL, since = 1e9;
    for (int k = 0; k < 4001; k++) {
        double t = k * dt;
        double I = t >= 20 && t < 80 ? -50 : (t >= 100 && t < 380 ? 300 : 0);
        if (k == nan_at)
            fprintf(f, "%g nan %g\n", t, I);
        else if (with_current)
            fprintf(f, "%g %.4f %g\n", t, v, I);
        else
            fprintf(f, "%g %.4f\n", t, v);
        if (since < tref) {
            since += dt;
        } else {
            v += dt / C * (-gL * (v - EL) + I);
            if (v >= Vth) {
                v = Vres;
                since = 0;
            }
        }
    }
    fclose(f);
}

Test(fit_cli, example_runs_and_writes_every_output)
{
    int rc = nft_run(out, sizeof out, "%s fit --example --models lif6,adex --budget 300 --out %s/ex --quiet --all-traces", NFT_BIN,
                     dir);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "| rank |") || strstr(out, "rank"), "%s", out);
    char sub[300];
    snprintf(sub, sizeof sub, "%s/ex", dir);
    cr_assert(nft_exists(sub, "results.json") && nft_exists(sub, "results.csv") && nft_exists(sub, "best_traces.npy") &&
              nft_exists(sub, "report.html"));
    cr_assert(!nft_exists(sub, "checkpoint"), "the checkpoint is removed after a complete run");
    rc = nft_run(out, sizeof out,
                 "/usr/bin/python3 -c \"import json,numpy as np; j=json.load(open('%s/results.json')); "
                 "r=j['recordings'][0]; assert len(r['top'])==2; t=r['top'][0]; "
                 "assert set(t)>={'model','params','rmse_mV','feature_error','gamma','combined_score','evaluations',"
                 "'stop_reason','spike_features','efel_features'}; "
                 "assert r['target_spike_features']['spike_count']>=5; "
                 "a=np.load('%s/best_traces.npy'); assert a.shape==(1,7001); "
                 "m=np.load('%s/model_traces.npy'); assert m.shape==(1,2,7001); "
                 "k=j['models'].index(t['model']); assert np.array_equal(m[0,k],a[0])\"",
                 sub, sub, sub);
    cr_assert_eq(rc, 0, "%s", out);
}

/* --verbose: a line per generation of the fit with the simulations in flight
 * (the example: one sweep, three models of population 32 at once) */
Test(fit_cli, verbose_prints_the_threads_in_flight_per_generation)
{
    int rc = nft_run(out, sizeof out,
                     "%s fit --example --models lif6,adex,hh --budget 96 --refine 0 --no-guess --verbose --out %s/v",
                     NFT_BIN, dir);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "generation 1: 96 threads in flight (3/3 models searching"), "%s", out);
    cr_assert(strstr(out, "generation 2: 96 threads in flight (3/3 models searching"), "%s", out);
    /* in the last, lif6 (told first) has stopped: the other two are in flight */
    cr_assert(strstr(out, "generation 3: 64 threads in flight (2/3 models searching"), "%s", out);
}

Test(fit_cli, text_recording_with_sweep_names_and_csv_rows)
{
    char path[300];
    snprintf(path, sizeof path, "%s/cell.txt", dir);
    write_lif_text(path, 1, -1);
    int rc = nft_run(out, sizeof out,
                     "%s fit %s %s --group sweep --models lif6,eif,izhikevich --budget 200 --threshold -58 --top-k 2 "
                     "--out %s/t --quiet", NFT_BIN, path, path, dir);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "cell.txt sweep 0"), "%s", out);
    /* the box handling is an option and is recorded with the results */
    rc = nft_run(out, sizeof out,
                 "%s fit %s --models lif6 --budget 200 --threshold -58 --bounds resample --out %s/b --quiet && "
                 "/usr/bin/python3 -c \"import json; j=json.load(open('%s/b/results.json')); "
                 "assert j['options']['bounds']=='resample', j['options']; assert j['options']['refine']==2; "
                 "j2=json.load(open('%s/t/results.json')); assert j2['options']['bounds']=='reflect'\"",
                 NFT_BIN, path, dir, dir, dir);
    cr_assert_eq(rc, 0, "%s", out);
    char csv[300];
    snprintf(csv, sizeof csv, "%s/t/results.csv", dir);
    rc = nft_run(out, sizeof out, "/usr/bin/python3 -c \"import csv; r=list(csv.DictReader(open('%s'))); "
                                  "assert len(r)==6, len(r); assert {x['model'] for x in r}=={'lif6','eif','izhikevich'}\"",
                 csv);
    cr_assert_eq(rc, 0, "%s", out);
}

/* --init: a short refinement started at an earlier fit's best parameters
 * (small step) stays about as good as that fit, where the same short search
 * from the defaults is much worse. */
Test(fit_cli, init_starts_from_an_earlier_fit)
{
    int rc = nft_run(out, sizeof out, "%s fit --example --models lif6,adex --budget 600 --out %s/a --quiet", NFT_BIN, dir);
    cr_assert_eq(rc, 0, "%s", out);
    rc = nft_run(out, sizeof out,
                 "%s fit --example --models adex --budget 64 --init %s/a/results.json --init-sigma 0.001 --out %s/b", NFT_BIN,
                 dir, dir);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "1 starting points from"), "%s", out);
    /* the control starts at the defaults: no regression guess either */
    rc = nft_run(out, sizeof out, "%s fit --example --models adex --budget 64 --no-guess --out %s/c --quiet", NFT_BIN,
                 dir);
    cr_assert_eq(rc, 0, "%s", out);
    rc = nft_run(out, sizeof out,
                 "/usr/bin/python3 -c \"import json; s=lambda d,m: [t for t in json.load(open('%s/'+d+'/results.json'))"
                 "['recordings'][0]['top'] if t['model']==m][0]['combined_score']; a=s('a','adex'); b=s('b','adex'); "
                 "c=s('c','adex'); print(a,b,c); assert b < 1.25*a and c > 1.5*b, (a,b,c); "
                 "g=lambda d: json.load(open('%s/'+d+'/results.json'))['options']['guess']; "
                 "assert g('a') is True and g('c') is False\"",
                 dir, dir);
    cr_assert_eq(rc, 0, "%s", out);
}

Test(fit_cli, bad_inputs_are_clear_errors_and_keep_earlier_results)
{
    char good[300], nan_file[300], no_i[300];
    snprintf(good, sizeof good, "%s/good.txt", dir);
    snprintf(nan_file, sizeof nan_file, "%s/nan.txt", dir);
    snprintf(no_i, sizeof no_i, "%s/noi.txt", dir);
    write_lif_text(good, 1, -1);
    write_lif_text(nan_file, 1, 1234);
    write_lif_text(no_i, 0, -1);
    int rc = nft_run(out, sizeof out, "%s fit %s --models lif6 --budget 100 --threshold -58 --out %s/r --quiet",
                     NFT_BIN, good, dir);
    cr_assert_eq(rc, 0, "%s", out);
    char res[300];
    snprintf(res, sizeof res, "%s/r/results.json", dir);
    struct stat before;
    cr_assert_eq(stat(res, &before), 0);

    struct {
        const char *args, *needle;
    } cases[] = {
        {"%s/missing.abf --models lif6", "missing.abf"},
        {"%s/good.txt --models lif6,nosuch", "nosuch"},
        {"%s/good.txt --models lif6 --sweeps 3", "sweeps"},
        {"%s/nan.txt --models lif6", "nan.txt"},
        {"%s/noi.txt --models lif6", "current"},
        {"%s/good.txt --models lif6 --budget 0", "budget"},
        {"%s/good.txt --models lif6 --weights rmse=-1", "weights"},
        {"%s/good.txt --models lif6 --optimizer sgd", "optimizer"},
        {"%s/good.txt --models lif6 --bounds clip", "--bounds clip"},
        {"%s/good.txt --models lif6 --stim-start 10", "stim-end"},
        {"%s/good.txt --models lif6 --resume", "resume"},
        {"%s/good.txt --models lif6 --bogus 1", "bogus"},
        {"%s/good.txt --models ''", "--models"},
        {"%s/good.txt --models lif6 --init /nonexistent/results.json", "/nonexistent/results.json"},
        {"%s/good.txt --models lif6 --init-sigma x", "--init-sigma"},
        {"%s/good.txt --models lif6 --survey 1.5", "survey fraction 1.5"},
        {"%s/good.txt --models lif6 --refine -1", "--refine -1"},
        {"%s/good.txt --models lif6 --group sweep --holdout 0", "--holdout"},
        {"%s/good.txt --models lif6 --group cell", "--group cell"},
        {"%s/good.txt --models lif6 --holdout 0", "every one of its 1 sweeps is held out"},
        {"%s/good.txt --models lif6 --holdout 4", "--holdout"},
        {"%s/good.txt --models lif6 --time 500:900", "--time 500:900"},
        {"%s/good.txt --models lif6 --time 9", "--time 9"},
        {"%s/noi.txt --models lif6 --current %s/noi.txt", "noi.txt"},
        {"%s/good.txt --models lif6 --objective efel:nosuch", "nosuch"},
        {"%s/good.txt --models lif6 --objective sub:-1", "sub:-1"},
        {"%s/good.txt --models lif6 --weights fi=-2", "fi=-2"},
        {"%s/good.txt --cells %s/good.txt --models lif6", "give recordings one way"},
        {"--cells %s/good.txt --models lif6", "unknown column"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char args[600];
        snprintf(args, sizeof args, cases[c].args, dir, dir);
        rc = nft_run(out, sizeof out, "%s fit %s --out %s/r --quiet --force", NFT_BIN, args, dir);
        cr_assert(rc != 0, "case %zu (%s) succeeded", c, args);
        cr_assert(strstr(out, cases[c].needle), "case %zu (%s): message does not name %s: %s", c, args,
                  cases[c].needle, out);
        cr_assert(!strstr(out, "Segmentation") && !strstr(out, "AddressSanitizer"), "%s", out);
    }
    rc = nft_run(out, sizeof out, "%s fit --models lif6 --quiet", NFT_BIN);
    cr_assert_neq(rc, 0);
    /* --init with a file that is not a results.json, or one without a model fitted here */
    rc = nft_run(out, sizeof out, "%s fit %s --models lif6 --init %s --out %s/r --quiet --force", NFT_BIN, good, good, dir);
    cr_assert_eq(rc, 2, "%s", out);
    cr_assert(strstr(out, "not a neurofit results.json"), "%s", out);
    rc = nft_run(out, sizeof out, "%s fit %s --models adex --init %s --out %s/r --quiet --force", NFT_BIN, good, res, dir);
    cr_assert_eq(rc, 2, "%s", out);
    cr_assert(strstr(out, "none of its models"), "%s", out);
    /* a second fit into the same directory is refused without --force */
    rc = nft_run(out, sizeof out, "%s fit %s --models lif6 --budget 100 --threshold -58 --out %s/r --quiet", NFT_BIN,
                 good, dir);
    cr_assert_eq(rc, 2, "%s", out);
    cr_assert(strstr(out, "--force"), "%s", out);
    struct stat after;
    cr_assert_eq(stat(res, &after), 0, "earlier results are still there");
    cr_assert_eq(before.st_mtime, after.st_mtime);
    cr_assert_eq(before.st_size, after.st_size);
}

Test(fit_cli, ctrl_c_saves_a_checkpoint_and_exits_130, .timeout = 120)
{
    /* a long fit, interrupted after a second */
    int rc = nft_run(out, sizeof out,
                     "%s fit --example --models hh --budget 1000000 --out %s/c --quiet 2>&1 & pid=$!; sleep 1.5; "
                     "kill -INT $pid; wait $pid", NFT_BIN, dir);
    cr_assert_eq(rc, 130, "exit %d: %s", rc, out);
    cr_assert(strstr(out, "--resume"), "%s", out);
    char sub[300];
    snprintf(sub, sizeof sub, "%s/c/checkpoint", dir);
    cr_assert(nft_exists(sub, "state.json"), "checkpoint saved on Ctrl-C");
    snprintf(sub, sizeof sub, "%s/c", dir);
    cr_assert(!nft_exists(sub, "results.json"), "no results from an interrupted run");
    /* the same command again without --resume: refused, saying how to resume or start again */
    rc = nft_run(out, sizeof out, "%s fit --example --models hh --budget 1000000 --out %s/c --quiet", NFT_BIN, dir);
    cr_assert_eq(rc, 2, "exit %d: %s", rc, out);
    cr_assert(strstr(out, "interrupted fit") && strstr(out, "--resume") && strstr(out, "--force"), "%s", out);
    snprintf(sub, sizeof sub, "%s/c/checkpoint", dir);
    cr_assert(nft_exists(sub, "state.json"), "the refused run kept the checkpoint");
    /* SIGQUIT (Ctrl-\) and SIGHUP (a closed terminal) stop a fit as Ctrl-C does */
    const char *sig[2] = {"QUIT", "HUP"};
    for (int k = 0; k < 2; k++) {
        rc = nft_run(out, sizeof out,
                     "%s fit --example --models hh --budget 1000000 --out %s/%s --quiet 2>&1 & pid=$!; sleep 1.5; "
                     "kill -%s $pid; wait $pid", NFT_BIN, dir, sig[k], sig[k]);
        cr_assert_eq(rc, 130, "SIG%s: exit %d: %s", sig[k], rc, out);
        snprintf(sub, sizeof sub, "%s/%s/checkpoint", dir, sig[k]);
        cr_assert(nft_exists(sub, "state.json"), "SIG%s: the checkpoint is saved", sig[k]);
    }
}

/* An ABF sweep without --stim-start/--stim-end: the fit's feature window is
 * the protocol's step epoch, stated on stderr and in results.json. */
Test(fit_cli, abf_window_is_the_step_epoch_and_is_stated)
{
    int rc = nft_run(out, sizeof out,
                     NFT_BIN " fit " NF_TEST_DATA "/abf/File_axon_5.abf --sweeps 5 --models lif6 --budget 64 "
                             "--refine 0 --out %s/abf",
                     dir);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "stimulus window 215.6-715.6 ms from protocol epoch B"), "%s", out);
    rc = nft_run(out, sizeof out,
                 "/usr/bin/python3 -c \"import json; r=json.load(open('%s/abf/results.json'))['recordings'][0]; "
                 "assert abs(r['stim_start_ms'] - 215.6) < 1e-9 and abs(r['stim_end_ms'] - 715.6) < 1e-9, r; "
                 "assert r['stim_window'].startswith('protocol epoch B'), r['stim_window']; print('ok')\"",
                 dir);
    cr_assert_eq(rc, 0, "%s", out);
}

/* Done-when of issue 19, small: a file is one cell; sweeps 12-15 held out;
 * one model per file with fitted and held-out scores; the report's sweep grid
 * and f-I curve; neurofit predict scores the held-out sweeps as the fit did;
 * simulate replays a fitted model. */
Test(fit_cli, a_file_is_one_cell_with_held_out_sweeps_and_predict)
{
    const char *abf = NF_TEST_DATA "/abf/17o05028_ic_steps.abf";
    int rc = nft_run(out, sizeof out,
                     "%s fit %s --group file --holdout 12-15 --time 0:700 --models lif6,adex --budget 64 --refine 0 "
                     "--out %s/cell --quiet", NFT_BIN, abf, dir);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "held-out combined"), "%s", out);
    rc = nft_run(out, sizeof out,
                 "/usr/bin/python3 -c \"import json, csv; j=json.load(open('%s/cell/results.json')); "
                 "r=j['recordings']; assert len(r)==1, len(r); r=r[0]; assert r['name']=='17o05028_ic_steps.abf'; "
                 "assert len(r['sweeps'])==16; assert [s['role'] for s in r['sweeps']].count('test')==4; "
                 "assert [s['role'] for s in r['sweeps'][12:]]==['test']*4; assert r['ranked_by']=='test'; "
                 "t=r['top']; assert len(t)==2; assert t[0]['test']['combined_score']<=t[1]['test']['combined_score']; "
                 "assert all(x['train']['sweeps']==12 and x['test']['sweeps']==4 and len(x['sweeps'])==16 for x in t); "
                 "assert r['sweeps'][0]['samples']==14001; "
                 "w=list(csv.DictReader(open('%s/cell/sweeps.csv'))); assert len(w)==32, len(w); "
                 "c=list(csv.DictReader(open('%s/cell/results.csv'))); assert len(c)==2 and c[0]['test_sweeps']=='4'; "
                 "h=open('%s/cell/report.html').read(); assert 'f-I curve' in h and 'every sweep' in h "
                 "and h.count('(held out)')==4 and 'held-out joint score' in h; "
                 "print([x['test']['combined_score'] for x in t])\"",
                 dir, dir, dir, dir);
    cr_assert_eq(rc, 0, "%s", out);
    rc = nft_run(out, sizeof out, "%s predict %s/cell/results.json %s --sweeps 12-15 --time 0:700 --out %s/pred --quiet",
                 NFT_BIN, dir, abf, dir);
    cr_assert_eq(rc, 0, "%s", out);
    rc = nft_run(out, sizeof out,
                 "/usr/bin/python3 -c \"import json; a=json.load(open('%s/cell/results.json'))['recordings'][0]['top']; "
                 "b=json.load(open('%s/pred/results.json'))['recordings'][0]; "
                 "sa={x['model']: x['test']['combined_score'] for x in a}; "
                 "sb={x['model']: x['test']['combined_score'] for x in b['top']}; assert sa==sb, (sa, sb); "
                 "assert b['name']=='17o05028_ic_steps.abf: predicted' and len(b['sweeps'])==4\"",
                 dir, dir);
    cr_assert_eq(rc, 0, "%s", out);
    rc = nft_run(out, sizeof out,
                 "%s simulate --params %s/cell/results.json --rank 1 --stimulus step:50,100,600 --dt 0.025 "
                 "--duration 700 --record none --out %s/sim && /usr/bin/python3 -c \"import numpy as np, json; "
                 "p=np.load('%s/sim/params.npy'); assert p.shape[0]==1; m=json.load(open('%s/sim/meta.json')); "
                 "t=json.load(open('%s/cell/results.json'))['recordings'][0]['top'][0]; assert m['model']==t['model']; "
                 "assert abs(p[0][0]-list(t['params'].values())[0]['value'])<1e-3*abs(p[0][0])\"",
                 NFT_BIN, dir, dir, dir, dir, dir);
    cr_assert_eq(rc, 0, "%s", out);
    /* --holdout FRACTION: that share of the cell's sweeps, spread evenly (floor((k + 0.5) n / h)) */
    rc = nft_run(out, sizeof out,
                 "%s fit %s --holdout 0.25 --time 0:700 --models lif6 --budget 16 --refine 0 --out %s/frac --quiet && "
                 "/usr/bin/python3 -c \"import json; r=json.load(open('%s/frac/results.json'))['recordings'][0]; "
                 "t=[k for k, s in enumerate(r['sweeps']) if s['role']=='test']; assert t==[2, 6, 10, 14], t\"",
                 NFT_BIN, abf, dir, dir);
    cr_assert_eq(rc, 0, "%s", out);
    /* predict and simulate --params results.json: bad input */
    rc = nft_run(out, sizeof out, "%s predict %s %s --out %s/p2 --quiet", NFT_BIN, abf, abf, dir);
    cr_assert_eq(rc, 2, "%s", out);
    cr_assert(strstr(out, "not a neurofit results.json"), "%s", out);
    rc = nft_run(out, sizeof out, "%s predict %s/cell/results.json %s --cell nosuch --out %s/p2", NFT_BIN, dir, abf, dir);
    cr_assert_eq(rc, 2, "%s", out);
    cr_assert(strstr(out, "no recording (cell) of that name"), "%s", out);
    rc = nft_run(out, sizeof out, "%s simulate --model lif6 --params %s/x.csv --rank 2 --stimulus step:1,0,1 --dt 0.1 "
                 "--duration 10 --out %s/s2", NFT_BIN, dir, dir);
    cr_assert_eq(rc, 2, "%s", out);
    cr_assert(strstr(out, "--rank goes with"), "%s", out);
    rc = nft_run(out, sizeof out, "%s simulate --params %s/cell/results.json --rank 9 --stimulus step:1,0,1 --dt 0.025 "
                 "--duration 10 --out %s/s2", NFT_BIN, dir, dir);
    cr_assert_eq(rc, 2, "%s", out);
    cr_assert(strstr(out, "no fitted model of that rank"), "%s", out);
}

/* A manifest: a cell spread over two files, one held out; the currents
 * from files (the recordings hold only V). The step of a sweep is the mean
 * current over its stimulus window less the baseline: here the window found
 * in the current spans both steps, 20-380 ms, (60 x -50 + 280 x 300) / 360. */
Test(fit_cli, cells_manifest_with_current_files)
{
    char a[300], b[300], ia[300], man[300];
    snprintf(a, sizeof a, "%s/a.txt", dir);
    snprintf(b, sizeof b, "%s/b.txt", dir);
    write_lif_text(a, 0, -1);
    write_lif_text(b, 0, -1);
    snprintf(ia, sizeof ia, "%s/i.txt", dir);
    FILE *f = fopen(ia, "w");
    cr_assert(f);
    for (int k = 0; k < 4001; k++) { /* the current write_lif_text simulates */
        double t = k * 0.1;
        fprintf(f, "%g\n", t >= 20 && t < 80 ? -50.0 : (t >= 100 && t < 380 ? 300.0 : 0.0));
    }
    fclose(f);
    snprintf(man, sizeof man, "%s/cells.csv", dir);
    f = fopen(man, "w");
    cr_assert(f);
    fprintf(f, "cell,file,sweeps,role,current\nA,a.txt,all,train,i.txt\nA,b.txt,0,test,i.txt\n");
    fclose(f);
    int rc = nft_run(out, sizeof out, "%s fit --cells %s --models lif6 --budget 300 --threshold -58 --out %s/m --quiet",
                     NFT_BIN, man, dir);
    cr_assert_eq(rc, 0, "%s", out);
    rc = nft_run(out, sizeof out,
                 "/usr/bin/python3 -c \"import json; r=json.load(open('%s/m/results.json'))['recordings']; "
                 "assert len(r)==1 and r[0]['name']=='A'; s=r[0]['sweeps']; assert [x['role'] for x in s]==['train','test']; "
                 "assert abs(s[0]['step_pA']-225)<1, s[0]['step_pA']; t=r[0]['top'][0]; "
                 "assert t['test']['gamma']>0.9, t['test']\"", dir);
    cr_assert_eq(rc, 0, "%s", out);
    /* the same with --current on the command line for a plain file */
    rc = nft_run(out, sizeof out, "%s fit %s --current %s --models lif6 --budget 100 --threshold -58 --out %s/n --quiet",
                 NFT_BIN, a, ia, dir);
    cr_assert_eq(rc, 0, "%s", out);
    /* a manifest with a bad role, a missing file, a current of the wrong length */
    f = fopen(man, "w");
    fprintf(f, "cell,file,role\nA,a.txt,validate\n");
    fclose(f);
    rc = nft_run(out, sizeof out, "%s fit --cells %s --models lif6 --out %s/m2 --quiet", NFT_BIN, man, dir);
    cr_assert_eq(rc, 2, "%s", out);
    cr_assert(strstr(out, "validate"), "%s", out);
    f = fopen(man, "w");
    fprintf(f, "cell,file\nA,nofile.txt\n");
    fclose(f);
    rc = nft_run(out, sizeof out, "%s fit --cells %s --models lif6 --out %s/m2 --quiet", NFT_BIN, man, dir);
    cr_assert_eq(rc, 2, "%s", out);
    cr_assert(strstr(out, "nofile.txt"), "%s", out);
    f = fopen(ia, "w");
    fprintf(f, "1\n2\n");
    fclose(f);
    rc = nft_run(out, sizeof out, "%s fit %s --current %s --models lif6 --out %s/m2 --quiet", NFT_BIN, a, ia, dir);
    cr_assert_eq(rc, 2, "%s", out);
    cr_assert(strstr(out, "2 samples, expected 4001"), "%s", out);
}
