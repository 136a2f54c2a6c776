/* CPU backend: the engine's thread pool (pool.c) over blocks of NF_CPU_LANES
 * simulations, each block advanced by the shared body of kernels/sim_body.h
 * with the lane loops vectorised by the compiler.
 *
 * Each model's block function is compiled for several instruction sets
 * (target_clones: AVX-512, AVX2+FMA, baseline x86-64) and the loader picks
 * the best one the processor has. Worker threads flush denormals to zero
 * (as the CUDA build does, -ftz=true); results do not depend on the
 * thread count because each simulation only reads its own inputs. */
#include "backend.h"
#include "internal.h"

#define NF__CPU_TABLE nf__cpu_blocks_64
#include "cpu_blocks.h"

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#define NF__FTZ_ON()                                  \
    unsigned nf__csr = _mm_getcsr();                  \
    _mm_setcsr(nf__csr | 0x8040u) /* FTZ | DAZ */
#define NF__FTZ_OFF() _mm_setcsr(nf__csr)
#else
#define NF__FTZ_ON() (void)0
#define NF__FTZ_OFF() (void)0
#endif

/* ---- blocks on the pool ------------------------------------------------------ */

#define NF__CHUNK 2 /* blocks taken per grab */

typedef struct {
    nf__block_fn fn;
    const nf__kargs *a;
    int64_t lanes; /* simulations per block: 16 or NF_CPU_LANES */
} nf__cpu_job;

static nf_status nf__cpu_blocks(void *ctx, int64_t b0, int64_t b1)
{
    const nf__cpu_job *j = ctx;
    NF__FTZ_ON();
    for (int64_t b = b0; b < b1; b++) {
        int64_t i0 = b * j->lanes;
        int64_t nl = j->a->n_sims - i0 < j->lanes ? j->a->n_sims - i0 : j->lanes;
        j->fn(j->a, i0, nl);
    }
    NF__FTZ_OFF();
    return NF_OK;
}

void nf__cpu_run(nf__pool *p, int model_id, int variant, const nf__kargs *a)
{
    /* narrow blocks when wide ones would leave lanes or threads idle */
    int narrow = a->n_sims < (int64_t)NF_CPU_LANES * nf__pool_threads(p);
    const int f = variant * NF__N_MODELS + model_id;
    nf__cpu_job j = {.fn = narrow ? nf__cpu_blocks_16[f] : nf__cpu_blocks_64[f],
                     .a = a,
                     .lanes = narrow ? 16 : NF_CPU_LANES};
    (void)nf__parallel_for(p, (a->n_sims + j.lanes - 1) / j.lanes, NF__CHUNK, nf__cpu_blocks, &j);
}
