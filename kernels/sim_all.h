/* Instantiates the simulate-block body (sim_body.h) for every model of
 * kernels/model_list.h: defines nf__sim_<model>(args, i0, nl). Included by
 * the CPU backend (src/engine/cpu_blocks.h) and the CUDA kernels
 * (kernels/engine_cuda.cu). The instantiations are generated from the model
 * list (CMakeLists.txt). */
#ifndef NEUROFIT_SIM_ALL_H
#define NEUROFIT_SIM_ALL_H

#include "models.h"
#include "nf_kargs.h"
#include "nf_philox.h"

#include "nf_sim_all_gen.h"

#endif
