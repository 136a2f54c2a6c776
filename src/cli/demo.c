/* `neurofit demo`: the embedded default example. Simulates every model on a
 * batch of neurons with random parameters inside their fitting bounds under a
 * current step, and prints what happened: how many fired, their firing rates,
 * the speed, and a sketch of one voltage trace. Needs no input files. */
#include "cli/cli_util.h"
#include "cli/commands.h"
#include "neurofit/engine.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CMD "demo"

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Crude terminal plot of v[0..n) (mV) in rows x cols characters. */
static void sketch(const float *v, int64_t n, double dt, int rows, int cols)
{
    float lo = 1e30f, hi = -1e30f;
    for (int64_t i = 0; i < n; i++) {
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
    }
    if (hi - lo < 1.0f) hi = lo + 1.0f;
    char *grid = malloc((size_t)rows * cols);
    memset(grid, ' ', (size_t)rows * cols);
    for (int c = 0; c < cols; c++) {
        int64_t a = c * n / cols, b = (c + 1) * n / cols;
        float mx = -1e30f, mn = 1e30f;
        for (int64_t i = a; i < b; i++) {
            mx = v[i] > mx ? v[i] : mx;
            mn = v[i] < mn ? v[i] : mn;
        }
        int r0 = (int)((hi - mx) / (hi - lo) * (rows - 1) + 0.5f), r1 = (int)((hi - mn) / (hi - lo) * (rows - 1) + 0.5f);
        for (int r = r0; r <= r1; r++) grid[r * cols + c] = '*';
    }
    for (int r = 0; r < rows; r++) {
        float level = hi - (hi - lo) * r / (rows - 1);
        printf("  %7.1f mV |%.*s\n", level, cols, grid + (size_t)r * cols);
    }
    printf("             +%.*s\n", cols, "--------------------------------------------------------------------------------");
    printf("              0 ms%*s%.0f ms\n", cols - 10, "", n * dt);
    free(grid);
}

enum { O_SIMS = NF_CLI_OWN };

static const struct option demo_options[] = {NF_CLI_OPT_HELP, {"sims", required_argument, NULL, O_SIMS}, NF_CLI_OPT_END};

int nf_cli_demo(int argc, char **argv)
{
    int64_t P = 10000;
    nf_cli_parser p;
    nf_cli_parser_init(&p, CMD, argc, argv, demo_options, NULL);
    for (int k; (k = nf_cli_next(&p)) != NF_CLI_END;) {
        switch (k) {
        case NF_CLI_HELP: printf("usage: neurofit demo [--sims P]\n"); return NF_EXIT_OK;
        case NF_CLI_ERROR: return p.rc;
        case NF_CLI_ARG: return nf_cli_unexpected(&p);
        case O_SIMS:
            if (!nf_cli_parse_count(p.arg, 1, 10000000, &P))
                return nf_cli_error(CMD, NF_EXIT_USAGE, "--sims %s: need 1..1e7", p.arg);
            break;
        }
    }
    nf_engine *e;
    if (nf_engine_create(NF_BACKEND_AUTO, 0, &e)) return nf_cli_error(CMD, NF_EXIT_FAIL, "%s", nf_errmsg());
    printf("neurofit demo: %lld neurons per model with random parameters inside each model's fitting\n"
           "bounds, 1 s of simulated time, a current step from 200 to 800 ms; backend %s (%d threads).\n\n",
           (long long)P, nf_backend_name(nf_engine_backend(e)), nf_engine_threads(e));
    printf("| model | step | neurons fired | median rate in the step (Hz) | valid | wall time | neuron-steps/s |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|\n");
    float *trace = NULL;
    int64_t trace_n = 0;
    double trace_dt = 0;
    int rc = NF_EXIT_OK;
    for (int mi = 0; mi < nf_model_count() && rc == NF_EXIT_OK; mi++) {
        const nf_model *m = nf_model_at(mi);
        const double dt = m->dt_max_ms < 0.1 ? m->dt_max_ms : 0.1;
        const int64_t T = (int64_t)(1000.0 / dt) + 1;
        const double amp = m->drive_pA; /* makes the model's default cell fire */
        float *par = malloc(sizeof(float) * P * m->n_params);
        float *wave = malloc(sizeof(float) * T);
        int32_t *cnt = malloc(sizeof(int32_t) * P);
        uint8_t *valid = malloc(P);
        float *rates = malloc(sizeof(float) * P);
        float *v1 = malloc(sizeof(float) * T);
        if (!par || !wave || !cnt || !valid || !rates || !v1) {
            rc = nf_cli_error(CMD, NF_EXIT_FAIL, "out of memory");
        } else {
            nf_model_sample_uniform(m, 1, 0, P, par);
            nf_model_defaults(m, par); /* neuron 0: the model's defaults, plotted below */
            for (int64_t n = 0; n < T; n++) wave[n] = (n * dt >= 200 && n * dt < 800) ? (float)amp : 0.0f;
            nf_batch b = {.model = m, .n_sims = P, .n_steps = T, .dt_ms = dt, .params = par,
                          .stim = {.waves = wave, .n_waves = 1}, .spike_counts = cnt, .valid = valid};
            struct timespec t0, t1;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            if (nf_engine_run(e, &b)) {
                rc = nf_cli_error(CMD, NF_EXIT_FAIL, "%s", nf_errmsg());
            } else {
                clock_gettime(CLOCK_MONOTONIC, &t1);
                double sec = (t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
                int64_t fired = 0, nv = 0;
                for (int64_t i = 0; i < P; i++) {
                    nv += valid[i];
                    if (cnt[i] > 0) rates[fired++] = cnt[i] / 0.6f; /* spikes per second of the 600 ms step */
                }
                qsort(rates, fired, sizeof(float), cmp_float);
                printf("| %s | %.0f pA | %lld (%.0f %%) | %.1f | %lld | %.2f s | %.3g |\n", m->name, amp,
                       (long long)fired, 100.0 * fired / P, fired ? rates[fired / 2] : 0.0, (long long)nv, sec,
                       (double)P * T / sec);
                if (!strcmp(m->name, "adex")) {
                    /* record the default neuron alone for the sketch */
                    b.n_sims = 1;
                    b.voltage = v1;
                    b.record_every = 1;
                    if (nf_engine_run(e, &b) == NF_OK) {
                        free(trace);
                        trace = v1;
                        v1 = NULL;
                        trace_n = T;
                        trace_dt = dt;
                    }
                }
            }
        }
        free(par);
        free(wave);
        free(cnt);
        free(valid);
        free(rates);
        free(v1);
    }
    if (trace && rc == NF_EXIT_OK) {
        printf("\nThe default AdEx neuron (Brette & Gerstner 2005) under the 800 pA step: spike-frequency\n"
               "adaptation lengthens its inter-spike intervals.\n\n");
        sketch(trace, trace_n, trace_dt, 14, 72);
        printf("\nNext: `neurofit models adex` for equations and bounds, `neurofit simulate --help`,\n"
               "`neurofit bench` for throughput.\n");
    }
    free(trace);
    nf_engine_destroy(e);
    return rc;
}
