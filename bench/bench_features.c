/* Feature extraction throughput with every feature on (all of eFEL's and the
 * simple set: nf_features_compute always computes them all): traces per
 * second on one thread, for eFEL's all-features test trace (3 s at 0.25 ms, 6
 * spikes, resampled to 0.1 ms) and for synthetic traces of other lengths,
 * rates and sampling, with and without the 0.1 ms resampling; then sweeps per
 * second over every sweep of the ABF files in tests/data, with their current
 * and their automatic stimulus window. Validates each case first (spike
 * count), then times it (best of 3 runs of enough traces to take ~0.3 s),
 * then prints a markdown table. Never asserts timings.
 *
 * usage: bench_features [--seconds S]   (target time per measurement, 0.3) */
#include "neurofit/features.h"
#include "neurofit/recording.h"
#include "neurofit/stim_window.h"

#include <dirent.h>
#include <math.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct {
    const char *name;
    double *t, *v; /* t NULL: uniform dt */
    double dt;
    int64_t n;
    double ss, se;
    int spikes; /* expected Spikecount, -1: unknown */
} bench_case;

/* Rest at -70 mV, spikes every 1000/rate ms inside [ss, se]: a 1 ms bump to
 * +30 mV and a 10 mV AHP. */
static double *synth(int64_t n, double dt, double ss, double se, double rate_hz, int *count)
{
    double *v = malloc(sizeof(double) * (size_t)n);
    double isi = 1000.0 / rate_hz;
    *count = 0;
    for (int64_t k = 0; k < n; k++) v[k] = -70;
    for (double ts = ss + isi / 2; ts < se; ts += isi) {
        (*count)++;
        int64_t a = (int64_t)((ts - 3) / dt), b = (int64_t)((ts + 40) / dt);
        for (int64_t k = a < 0 ? 0 : a; k < b && k < n; k++) {
            double u = (double)k * dt - ts;
            v[k] += 100 * exp(-u * u / (2 * 0.3 * 0.3));
            if (u > 0.5) v[k] -= 10 * (1 - exp(-(u - 0.5) / 0.5)) * exp(-(u - 0.5) / 5);
        }
    }
    return v;
}

static int64_t read_tv(const char *path, double **t, double **v)
{
    FILE *fp = fopen(path, "r");
    if (!fp) return 0;
    size_t cap = 1 << 15, n = 0;
    *t = malloc(sizeof(double) * cap);
    *v = malloc(sizeof(double) * cap);
    double a, b;
    while (fscanf(fp, "%lf %lf", &a, &b) == 2) {
        if (n == cap) {
            cap *= 2;
            *t = realloc(*t, sizeof(double) * cap);
            *v = realloc(*v, sizeof(double) * cap);
        }
        (*t)[n] = a;
        (*v)[n] = b;
        n++;
    }
    fclose(fp);
    return (int64_t)n;
}

/* Best of 3 timings of `reps` computes; traces per second. */
static double measure(nf_features *f, const nf_trace *tr, double target_s)
{
    int64_t reps = 1;
    for (;;) { /* calibrate */
        double t0 = now();
        for (int64_t r = 0; r < reps; r++) nf_features_compute(f, tr);
        double el = now() - t0;
        if (el > target_s / 4 || reps > (1 << 24)) break;
        reps *= 2;
    }
    reps *= 4;
    double best = INFINITY;
    for (int k = 0; k < 3; k++) {
        double t0 = now();
        for (int64_t r = 0; r < reps; r++) nf_features_compute(f, tr);
        double el = now() - t0;
        if (el < best) best = el;
    }
    return (double)reps / best;
}

/* Issue 3's benchmark: every sweep of every ABF file (tests/data/abf) through the
 * recordings reader and the extractor, one thread. Reading is timed apart. */
static void abf_sweeps(void)
{
    const char *dir = NF_SOURCE_DIR "/tests/data/abf";
    DIR *d = opendir(dir);
    if (!d) {
        printf("\n(ABF sweeps skipped: %s not found)\n", dir);
        return;
    }
    nf_features *f = NULL;
    if (nf_features_create(NULL, &f)) {
        closedir(d);
        return;
    }
    printf("\n## All features of every sweep of the ABF files in tests/data (with the current and the\n"
           "automatic stimulus window), one thread\n\n"
           "| file | sweeps | samples/sweep | read ms | features: sweeps/s |\n|---|---:|---:|---:|---:|\n");
    struct dirent *e;
    long total_sweeps = 0;
    double total_feat_s = 0, total_read_s = 0;
    while ((e = readdir(d))) {
        size_t L = strlen(e->d_name);
        if (L < 5 || strcasecmp(e->d_name + L - 4, ".abf"))
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        double t0 = now();
        nf_recording *r = NULL;
        if (nf_recording_open(path, NULL, &r)) {
            printf("| %s | - | - | - | unreadable: %s |\n", e->d_name, nf_errmsg());
            continue;
        }
        double t_read = now() - t0;
        int ok = 0;
        t0 = now();
        int reps = 0;
        do {
            for (int s = 0; s < r->n_sweeps; s++) {
                const nf_sweep *S = &r->sweeps[s];
                /* the automatic window; without one, the sweep but its first and last 10 % */
                nf_stim_window w;
                double dur = nf_sweep_duration_ms(S);
                if (nf_stim_window_find(r, s, &w)) w = (nf_stim_window){.start_ms = 0.1 * dur, .end_ms = 0.9 * dur};
                nf_trace tr = {.t = S->dt_ms > 0 ? NULL : S->t, .dt_ms = S->dt_ms, .v = S->v, .i = S->i, .n = S->n,
                               .stim_start_ms = w.start_ms, .stim_end_ms = w.end_ms};
                ok += nf_features_compute(f, &tr) == NF_OK;
            }
            reps++;
        } while (now() - t0 < 0.2);
        double t_feat = (now() - t0) / reps;
        printf("| %s | %d | %lld | %.1f | %.0f%s |\n", e->d_name, r->n_sweeps, (long long)r->sweeps[0].n,
               1e3 * t_read, r->n_sweeps / t_feat, ok == reps * r->n_sweeps ? "" : " (some sweeps failed)");
        total_sweeps += r->n_sweeps;
        total_feat_s += t_feat;
        total_read_s += t_read;
        nf_recording_destroy(r);
    }
    closedir(d);
    nf_features_destroy(f);
    if (total_sweeps)
        printf("| **all** | %ld | | %.1f | %.0f |\n", total_sweeps, 1e3 * total_read_s, total_sweeps / total_feat_s);
}

int main(int argc, char **argv)
{
    double target = 0.3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--seconds")) target = atof(argv[i + 1]);
        else {
            fprintf(stderr, "bench_features: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    bench_case cases[8];
    int nc = 0;
    double *et, *ev;
    int64_t en = read_tv(NF_SOURCE_DIR "/tests/data/efel/allfeatures/testdata.txt", &et, &ev);
    if (en > 0) cases[nc++] = (bench_case){"eFEL testdata.txt (3 s, dt 0.25 ms)", et, ev, 0, en, 700, 2700, 6};
    int cnt;
    double *v;
    v = synth(30000, 0.1, 100, 900, 20, &cnt);
    cases[nc++] = (bench_case){"synthetic 3 s, dt 0.1 ms, 20 Hz", NULL, v, 0.1, 30000, 100, 900, cnt};
    v = synth(40000, 0.025, 100, 900, 50, &cnt);
    cases[nc++] = (bench_case){"synthetic 1 s, dt 0.025 ms, 50 Hz", NULL, v, 0.025, 40000, 100, 900, cnt};
    v = synth(10000, 0.1, 100, 900, 0.0001, &cnt); /* no spike: subthreshold features only */
    cases[nc++] = (bench_case){"synthetic 1 s, dt 0.1 ms, silent", NULL, v, 0.1, 10000, 100, 900, 0};
    v = synth(200000, 0.05, 1000, 9000, 10, &cnt);
    cases[nc++] = (bench_case){"synthetic 10 s, dt 0.05 ms, 10 Hz", NULL, v, 0.05, 200000, 1000, 9000, cnt};

    struct utsname u;
    uname(&u);
    time_t tnow = time(NULL);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%d", gmtime(&tnow));
    printf("## Feature extraction, one thread\n\nmachine: %s %s, date %s; all %d features per trace (no current)\n\n",
           u.machine, u.release, date, nf_feature_count());
    printf("| trace | samples | spikes | resampled to 0.1 ms: traces/s | us/trace | as given: traces/s | us/trace |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|\n");
    int bad = 0;
    for (int c = 0; c < nc; c++) {
        double rate[2];
        for (int mode = 0; mode < 2; mode++) {
            nf_features_opts o;
            nf_features_opts_default(&o);
            if (mode == 1) o.interp_step_ms = 0;
            nf_features *f;
            if (nf_features_create(&o, &f)) return 1;
            nf_trace tr = {.t = cases[c].t, .dt_ms = cases[c].dt, .v = cases[c].v, .n = cases[c].n,
                           .stim_start_ms = cases[c].ss, .stim_end_ms = cases[c].se};
            nf_feature_value sc;
            if (nf_features_compute(f, &tr) || nf_features_lookup(f, "Spikecount", &sc) ||
                (cases[c].spikes >= 0 && sc.values[0] != cases[c].spikes)) {
                fprintf(stderr, "bench_features: %s: validation failed (%s, Spikecount %g, expected %d)\n",
                        cases[c].name, nf_errmsg(), sc.n ? sc.values[0] : -1.0, cases[c].spikes);
                bad = 1;
                rate[mode] = NAN;
            } else {
                rate[mode] = measure(f, &tr, target);
            }
            nf_features_destroy(f);
        }
        printf("| %s | %lld | %d | %.0f | %.1f | %.0f | %.1f |\n", cases[c].name, (long long)cases[c].n,
               cases[c].spikes, rate[0], 1e6 / rate[0], rate[1], 1e6 / rate[1]);
    }
    for (int c = 0; c < nc; c++) {
        free(cases[c].v);
        free(cases[c].t);
    }
    abf_sweeps();
    return bad;
}
