/* Instantiates the simulate-block body (sim_body.h) for every model of
 * models.h: defines nf__sim_<model>(args, i0, nl). Included by the CPU backend
 * (src/engine/cpu.c) and the CUDA kernels (kernels/engine_cuda.cu). A new
 * model adds its two lines here. */
#ifndef NEUROFIT_SIM_ALL_H
#define NEUROFIT_SIM_ALL_H

#include "models.h"
#include "nf_kargs.h"
#include "nf_philox.h"

#define NF_M lif6
#include "sim_body.h"
#define NF_M adex
#include "sim_body.h"
#define NF_M izhikevich
#include "sim_body.h"
#define NF_M hh
#include "sim_body.h"
#define NF_M slif
#include "sim_body.h"
#define NF_M lapicque
#include "sim_body.h"
#define NF_M qif
#include "sim_body.h"
#define NF_M eif
#include "sim_body.h"
#define NF_M fhn
#include "sim_body.h"
#define NF_M morris_lecar
#include "sim_body.h"
#define NF_M hindmarsh_rose
#include "sim_body.h"
#define NF_M theta
#include "sim_body.h"
#define NF_M rf
#include "sim_body.h"
#define NF_M alpha_lif
#include "sim_body.h"
#define NF_M glif1
#include "sim_body.h"
#define NF_M glif2
#include "sim_body.h"
#define NF_M glif3
#include "sim_body.h"

#endif
