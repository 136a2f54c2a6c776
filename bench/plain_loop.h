/* bench_engine's plain-loop reference (bench/plain_loop.c): lif6, izhikevich
 * and adex as bare vectorisable C loops over blocks of lanes on all threads,
 * spike counts only. */
#ifndef NEUROFIT_BENCH_PLAIN_LOOP_H
#define NEUROFIT_BENCH_PLAIN_LOOP_H

#include <stdint.h>

/* 1 when model has a plain loop. */
int nf_plain_loop_has(const char *model);

/* Simulates P neurons with parameters par [P][n_params] (the model's order)
 * over T samples at dt_ms under the shared current wave [T] pA on threads
 * threads; count [P] receives the spike counts. Returns the wall-clock
 * seconds, or -1 for an unknown model or a failed thread start. */
double nf_plain_loop_run(const char *model, const float *par, int n_params, const float *wave, int64_t P, int64_t T,
                         double dt_ms, int threads, int32_t *count);

#endif
