/* Recording reader speed: every ABF and IBW file of tests/data and the eFEL text
 * traces, each opened (read, scaled, command rebuilt, validated) and freed
 * repeatedly; best-of-R process CPU time per file (single thread). Validates first (the file opens
 * and holds the expected sweep count), then times, then prints a markdown
 * table of MB/s (file bytes) and sweeps/s. Never asserts timings.
 *
 * usage: bench_readers [--reps R] [--min-seconds S] */
#include "neurofit/recording.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define DATA NF_SOURCE_DIR "/tests/data"

/* Process CPU time: on a shared, loaded machine it is steadier than wall
 * time and still counts the kernel's page-fault work for fresh buffers. */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct {
    const char *path;
    const char *columns;
} bench_file;

int main(int argc, char **argv)
{
    int reps = 5;
    double min_s = 0.2;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "--min-seconds")) min_s = atof(argv[i + 1]);
    }
    static const bench_file files[] = {
        {DATA "/abf/171116sh_0017.abf", NULL},       {DATA "/abf/171116sh_0018.abf", NULL},
        {DATA "/abf/17o05028_ic_steps.abf", NULL},   {DATA "/abf/18711001.abf", NULL},
        {DATA "/abf/190619B_0003.abf", NULL},        {DATA "/abf/2019_07_24_0055_fsi.abf", NULL},
        {DATA "/abf/2020_03_02_0000.abf", NULL},     {DATA "/abf/File_axon_5.abf", NULL},
        {DATA "/ibw/B6_Ch3_IDRest_181.ibw", NULL},   {DATA "/ibw/B95_Ch3_IDRest_107.ibw", NULL},
        {DATA "/efel/allfeatures/testdata.txt", NULL}, {DATA "/efel/basic/current.txt", "t[s] I[pA] V[mV]"},
    };
    printf("## Recording readers (best of %d, each rep >= %.2f s)\n\n", reps, min_s);
    printf("| file | format | sweeps | samples/sweep | MB | CPU ms per open | MB/s | sweeps/s |\n");
    printf("|---|---|---:|---:|---:|---:|---:|---:|\n");
    double tot_bytes = 0, tot_s = 0, tot_sweeps = 0;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        nf_recording_options o;
        nf_recording_options_default(&o);
        o.columns = files[f].columns;
        struct stat st;
        if (stat(files[f].path, &st) != 0) {
            printf("| %s | missing | | | | | | |\n", files[f].path);
            continue;
        }
        nf_recording *r = NULL;
        if (nf_recording_open(files[f].path, &o, &r)) {
            fprintf(stderr, "bench_readers: %s\n", nf_errmsg());
            return 1;
        }
        int sweeps = r->n_sweeps;
        long long n = (long long)r->sweeps[0].n;
        char fmt[64];
        snprintf(fmt, sizeof fmt, "%s", r->format_detail);
        nf_recording_destroy(r);
        double best = 1e30;
        for (int k = 0; k < reps; k++) {
            int iters = 0;
            double t0 = now_s(), t;
            do {
                nf_recording_open(files[f].path, &o, &r);
                nf_recording_destroy(r);
                iters++;
                t = now_s() - t0;
            } while (t < min_s);
            if (t / iters < best) best = t / iters;
        }
        double mb = (double)st.st_size / 1e6;
        const char *base = strrchr(files[f].path, '/') + 1;
        printf("| %s | %s | %d | %lld | %.2f | %.3f | %.0f | %.0f |\n", base, fmt, sweeps, n, mb, best * 1e3,
               mb / best, sweeps / best);
        tot_bytes += mb;
        tot_s += best;
        tot_sweeps += sweeps;
    }
    printf("| **all** | | %.0f | | %.2f | %.3f | %.0f | %.0f |\n", tot_sweeps, tot_bytes, tot_s * 1e3,
           tot_bytes / tot_s, tot_sweeps / tot_s);
    return 0;
}
