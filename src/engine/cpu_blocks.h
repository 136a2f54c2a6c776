/* The CPU block functions of every (model, variant) for one lane width: included by
 * cpu.c (NF_CPU_LANES 64) and cpu_narrow.c (16), each defining
 * NF__CPU_TABLE as the name of its table. Each block function is compiled for
 * several instruction sets (target_clones) and the loader picks the best one
 * the processor has; the body must be inlined into each clone, or it would
 * be compiled once for the baseline instruction set. */
#ifndef NF__CPU_TABLE
#error "define NF__CPU_TABLE before including cpu_blocks.h"
#endif

#include "backend.h"

#if defined(__GNUC__)
#define NF_BODY_ATTR __attribute__((always_inline))
#endif
#include "sim_all.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define NF__CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NF__CLONES
#endif

#define NF__CPU_BLOCK(m, v)                                                                     \
    NF__CLONES static void nf__cpu_block_##m##_##v(const nf__kargs *a, int64_t i0, int64_t nl) \
    {                                                                                           \
        nf__sim_##m##_##v(a, i0, nl);                                                           \
    }
NF_MODEL_VARIANT_LIST(NF__CPU_BLOCK)

#define NF__CPU_FN(m, v) nf__cpu_block_##m##_##v,
const nf__block_fn NF__CPU_TABLE[] = {NF_MODEL_VARIANT_LIST(NF__CPU_FN)};
