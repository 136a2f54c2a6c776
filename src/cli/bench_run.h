/* Engine throughput measurement shared by `neurofit bench` (src/cli/bench.c)
 * and bench/bench_engine.c, which both compile this file; it uses the public
 * API only and is not part of it: a batch of P neurons with parameters spread
 * around the model's defaults, a step current that makes the default cell
 * fire, timed over R repetitions (best of R). Never prints. */
#ifndef NEUROFIT_CLI_BENCH_RUN_H
#define NEUROFIT_CLI_BENCH_RUN_H

#include <stddef.h>

#include "neurofit/engine.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nf_cli_bench_result {
    double seconds;        /* best wall-clock time of one whole run (all its batches submitted and waited) */
    double cpu_seconds;    /* process CPU time of that run */
    double steps_per_s;    /* P * T / seconds */
    double kernel_seconds; /* CUDA: kernel time alone of that run (cudaEvent; summed over its batches), 0 on the CPU */
    int64_t in_flight;     /* simulations in flight once every batch was submitted (nf_engine_in_flight) */
    double kernel_steps_per_s; /* P * T / kernel_seconds (0 on the CPU) */
    double fired;          /* fraction of simulations that spiked */
    double dt_ms;          /* step used */
} nf_cli_bench_result;

/* The benchmark's batch: parameters par [P][n_params] within +-5 % of the
 * fitting range around the model's defaults (a fixed generator), and the
 * shared waveform wave [T] pA, a step at 10 ms to the model's drive current,
 * at the step nf_cli_bench_dt(m) (0.1 ms, or the model's max dt if smaller). */
void nf_cli_bench_inputs(const nf_model *m, int64_t P, int64_t T, float *par, float *wave);
double nf_cli_bench_dt(const nf_model *m);

/* scored: 0 simulate only, 1 with the fused trace-RMSE scorer. On failure
 * err (err_len bytes) says why. */
nf_status nf_cli_bench_engine(nf_engine *e, const nf_model *m, int64_t n_sims, int64_t n_steps, int scored, int reps,
                              int batches, nf_cli_bench_result *out, char *err, size_t err_len);

/* H100 SXM instruction issue rate: 132 SMs x 4 schedulers x 1.98 GHz. */
#define NF_CLI_H100_ISSUE_PER_S 3.35e13

/* A model's throughput ceiling on an H100 (neuron-steps/s): the issue rate
 * over the model's instructions per step (nf_model.instr_per_step); 0 when
 * the model's cost is not estimated. */
double nf_cli_h100_ceiling(const nf_model *m);

#ifdef __cplusplus
}
#endif
#endif
