/* Instantiates the simulate-block body (sim_body.h, sim_observe.h) for every
 * variant of kernels/variant_list.h and every model of kernels/model_list.h:
 * defines nf__sim_<model>_<variant>(args, i0, nl) (and with NF_LANES 1
 * nf__thread_<model>_<variant>). Included by the CPU backend
 * (src/engine/cpu_blocks.h), the CUDA kernels (kernels/engine_cuda.cu) and
 * the host replay (tests/test_engine_plan.c). The instantiations are
 * generated from the two lists (CMakeLists.txt). */
#ifndef NEUROFIT_SIM_ALL_H
#define NEUROFIT_SIM_ALL_H

#include "models.h"
#include "nf_kargs.h"
#include "nf_philox.h"
#include "variant_list.h"

#ifndef NF_BODY_ATTR
#define NF_BODY_ATTR
#endif

/* defines NF_MODEL_VARIANT_LIST(X): X(model, variant) for every pair,
 * variant-major (the variants in list order, each with every model), the
 * order of the CPU block tables and the CUDA kernel table */
#include "nf_sim_all_gen.h"

#endif
