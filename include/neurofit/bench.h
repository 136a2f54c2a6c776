/* Engine throughput measurement shared by `neurofit bench` and
 * bench/bench_engine: a batch of P neurons with parameters spread around the
 * model's defaults, a step current that makes the default cell fire, timed
 * over R repetitions (best of R). Never prints. */
#ifndef NEUROFIT_BENCH_H
#define NEUROFIT_BENCH_H

#include "neurofit/engine.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nf_bench_result {
    double seconds;       /* best wall-clock time of one run */
    double cpu_seconds;   /* process CPU time of that run */
    double steps_per_s;   /* P * T / seconds */
    double fired;         /* fraction of simulations that spiked */
    double dt_ms;         /* step used */
} nf_bench_result;

/* scored: 0 simulate only, 1 with the fused trace-RMSE scorer. */
nf_status nf_bench_engine(nf_engine *e, const nf_model *m, int64_t n_sims, int64_t n_steps, int scored, int reps,
                          nf_bench_result *out);

/* Documented instruction-issue ceiling of a model on an H100 (neuron-steps/s),
 * 0 when unknown. */
double nf_bench_h100_ceiling(const nf_model *m);

#ifdef __cplusplus
}
#endif
#endif
