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

/* ---- batches in flight: job slots run by an asynchronous executor ----
 * An engine with an executor (the CUDA backend; a fake one in the host
 * replay) keeps up to NF__JOB_SLOTS batches in flight, each in a slot of its
 * own: host staging (its structure-of-arrays and its staged copies, pinned
 * on a GPU), its plan, and on each device its buffers and stream. Submit
 * takes a free slot (none free: it first finishes the oldest job), packs
 * the batch into the slot's staging, plans it on the engine's devices,
 * stages the plan's copies (nf__plan_stage) and starts it; wait finishes the
 * job (the executor waits for its device work; the engine moves the staged
 * downloads and the final state to the caller's arrays) and frees the slot.
 * All of this bookkeeping is engine.c's, in C; an executor only allocates,
 * copies, launches and waits. */
/* 32: a fit of 17 models over one or two sweep shapes keeps every model's
 * batch in flight (16 made the 17th model's submit wait for the first). */
enum { NF__JOB_SLOTS = 32 };
enum { NF__STAGE_SOA, NF__STAGE_COPIES }; /* the two staging buffers of a slot */
typedef struct nf__executor {
    void *ctx;
    /* Host memory of (slot, kind), at least bytes, pinned on a GPU; grow-only
     * and kept across jobs; *out stays valid until the next call for it. */
    nf_status (*stage)(void *ctx, int slot, int kind, size_t bytes, void **out);
    /* Bytes the slot's job may hold on CUDA device `device`, with `busy`
     * other slots in flight. */
    nf_status (*budget)(void *ctx, int slot, int device, int busy, size_t *out);
    /* Start plan p of batch h (staged: every host address is the slot's
     * staging) in the slot, plan device k on CUDA device ids[k]; returns
     * without waiting. */
    nf_status (*start)(void *ctx, int slot, const struct nf__plan *p, const int *ids, int model_id,
                       const nf__kargs *h);
    /* Wait for the slot's job: its downloads are in the staging after it;
     * *kernel_s: the kernels' own time (the longest device's sum). Called
     * once per start, also after a failed start. */
    nf_status (*finish)(void *ctx, int slot, double *kernel_s);
    /* A kept array (nf_engine_keep) onto CUDA device `device`: *dev its copy
     * there, complete before any later start; drop frees it. */
    nf_status (*upload)(void *ctx, int device, const void *host, size_t bytes, void **dev);
    void (*drop)(void *ctx, int device, void *dev);
    /* Give back the device buffers of the slots with idle[slot] = 1 (no job
     * in flight; their buffers only grow, so a big batch's would otherwise
     * stay held): called when a plan does not fit the budget, which is then
     * asked again. NULL: nothing to give back. */
    void (*trim)(void *ctx, const unsigned char *idle);
} nf__executor;
/* Run the engine's batches through x (copied) from now on; no batches in
 * flight. NULL x: back to running at submit (the CPU backend). */
void nf__engine_set_executor(nf_engine *e, const nf__executor *x);

/* ---- CUDA backend (kernels/engine_cuda.cu) ---- */
typedef struct nf__cuda nf__cuda;
int nf__cuda_device_count(void);
const char *nf__cuda_name(void);
nf_status nf__cuda_create(nf__cuda **out);
void nf__cuda_destroy(nf__cuda *c); /* after every job has finished */
/* Device memory the engine may hold per device for a batch (0: its free memory). */
void nf__cuda_set_limit(nf__cuda *c, size_t bytes);
/* The CUDA executor of c's job slots. */
void nf__cuda_executor(nf__cuda *c, nf__executor *out);

#ifdef __cplusplus
}
#endif
#endif
