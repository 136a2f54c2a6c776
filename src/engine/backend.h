/* Engine internals shared by engine.c, cpu.c and the CUDA host code. */
#ifndef NEUROFIT_ENGINE_BACKEND_H
#define NEUROFIT_ENGINE_BACKEND_H

#include "model_list.h"
#include "neurofit/engine.h"
#include "nf_kargs.h"
#include "pool.h"
#include "variant_list.h"

#ifdef __cplusplus
extern "C" {
#endif

/* nf_engine_run with the backend call replaced by run(ctx, model, a), where
 * a holds the batch as the backends receive it (host pointers, parameters,
 * initial and final state as structure of arrays with stride n_sims). NULL
 * run: the engine's own backend. The host replay of the CUDA path
 * (tests/test_engine_plan.c) runs batches this way. */
typedef nf_status (*nf__runner)(void *ctx, const nf_model *m, const nf__kargs *a);
nf_status nf__engine_run_via(nf_engine *e, const nf_batch *b, nf__runner run, void *ctx);

/* Samples per simulation the body's 32-bit step counters allow (2^30: a
 * counter runs to at most twice n_steps). */
#define NF__MAX_STEPS ((int64_t)1 << 30)

/* ---- variants of the simulate body (kernels/variant_list.h) ---- */
#define NF__VENUM(name, rec, obs, noise, wave, spkt) NF__VARIANT_##name,
#define NF__MCOUNT(m) +1
enum { NF_VARIANT_LIST(NF__VENUM) NF__N_VARIANTS };
enum { NF__N_MODELS = 0 NF_MODEL_LIST(NF__MCOUNT) };
#undef NF__VENUM
#undef NF__MCOUNT
/* The variant that runs a: the first of the list whose settings accept it
 * (the last, any, accepts every batch). */
int nf__variant_pick(const nf__kargs *a);
const char *nf__variant_name(int variant);

/* ---- CPU backend (cpu.c on the pool of pool.c) ---- */
/* Block functions: simulate neurons i0 .. i0+nl-1 of a batch. One table per
 * lane width (cpu.c: 64, cpu_narrow.c: 16), indexed by
 * variant * NF__N_MODELS + model id. */
typedef void (*nf__block_fn)(const nf__kargs *a, int64_t i0, int64_t nl);
extern const nf__block_fn nf__cpu_blocks_64[];
extern const nf__block_fn nf__cpu_blocks_16[];
/* Simulate a->n_sims neurons of model id with a variant on the pool. */
void nf__cpu_run(nf__pool *p, int model_id, int variant, const nf__kargs *a);

/* ---- the launch plan of a batch on the engine's devices ---- */
struct nf__plan;
/* Launch shape of the CUDA kernels (their __launch_bounds__) and streams per device. */
enum { NF__THREADS_PER_BLOCK = 128, NF__STREAMS_PER_DEVICE = 1 };
/* Set the engine's device list without asking the hardware (what
 * nf_engine_set_devices does after its checks; the host replay sets lists
 * of devices a machine without a GPU does not have). */
void nf__engine_devices_set(nf_engine *e, const int *ids, int n);
/* The plan (src/engine/plan.h) the CUDA executor runs for batch h on the
 * engine's devices: n_devices ranges by simulation index, plan device k on
 * the engine's k-th device; budget[k]: the bytes device k may hold. */
nf_status nf__engine_plan(const nf_engine *e, const nf__kargs *h, int n_params, int n_state, const size_t *budget,
                          struct nf__plan *out);

/* ---- CUDA backend (kernels/engine_cuda.cu) ---- */
typedef struct nf__cuda nf__cuda;
int nf__cuda_device_count(void);
const char *nf__cuda_name(void);
nf_status nf__cuda_create(nf__cuda **out);
void nf__cuda_destroy(nf__cuda *c);
/* Device memory the engine may hold per device for a batch (0: its free memory). */
void nf__cuda_set_limit(nf__cuda *c, size_t bytes);
/* The bytes device `device` (a CUDA device number) may hold for a batch. */
nf_status nf__cuda_budget(nf__cuda *c, int device, size_t *out);
/* Run plan p of batch h (host pointers: params/init/final_state SoA with
 * stride n_sims): plan device k on CUDA device ids[k]; copies inputs,
 * launches, and copies outputs back into h's arrays. *kernel_s: the
 * kernels' own time (the longest device's sum). */
nf_status nf__cuda_exec(nf__cuda *c, const struct nf__plan *p, const int *ids, int model_id, const nf__kargs *h,
                        double *kernel_s);

#ifdef __cplusplus
}
#endif
#endif
