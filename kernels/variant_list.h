/* The variants of the simulate body: compile-time settings of the flags that
 * are constant over a launch, so that a kernel tests none of them per step.
 * One line per variant, X(name, rec, obs, noise, wave, spkt), most specialised
 * first; a batch runs the first variant that accepts it (nf__variant_pick,
 * src/engine/engine.c), and `any`, last, accepts every batch.
 *
 *   rec    recorded voltage: 0 none; 1 every sample (record_every 1);
 *          2 every k-th sample (any k); 3 decided at run time
 *   obs    fused trace scorer: 0 none; 1 every sample (obs_every 1 and one
 *          target sample per step) with finite targets; 2 every k-th sample
 *          with finite targets; 3 decided at run time, NaN target samples
 *          skipped
 *   noise  Ornstein-Uhlenbeck stimulus noise: 0 none; 1 on; 3 run time
 *   wave   waveform rows: 0 none; 1 present (shared, one per simulation or
 *          indexed); 3 run time
 *   spkt   spike times: 0 not stored (counts only); 1 stored; 3 run time
 *
 * Every variant is the same source (kernels/sim_body.h, kernels/
 * sim_observe.h) with #if on these values, instantiated for every model on
 * both backends (the CPU block tables and the CUDA kernels), and computes
 * the same values as `any` for the batches it accepts (tests/
 * test_engine_plan.c). The instantiations are generated from this list and
 * the model list (CMakeLists.txt). */
#ifndef NEUROFIT_VARIANT_LIST_H
#define NEUROFIT_VARIANT_LIST_H

/* clang-format off */
#define NF_VARIANT_LIST(X)                                                           \
    X(fit,    0, 1, 0, 1, 1) /* a fit's generations: scored on every sample */       \
    X(fitk,   0, 2, 0, 1, 1) /* a fit's generations with sub-steps: every k-th */    \
    X(counts, 0, 0, 0, 1, 0) /* spike counts only (bench, simulate) */               \
    X(trace,  1, 0, 0, 1, 3) /* every sample recorded (simulate, SBI, final fits) */ \
    X(any,    3, 3, 3, 3, 3) /* everything else: flags tested per step */
/* clang-format on */

#endif
