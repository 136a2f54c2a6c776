/* Internals of the model registry (src/engine/registry.c) that other modules
 * use: what a model's header says beyond nf_model's public fields. */
#ifndef NEUROFIT_ENGINE_REGISTRY_H
#define NEUROFIT_ENGINE_REGISTRY_H

#include "neurofit/model.h"

/* 1 when model m draws intrinsic noise (its header defines NF_<model>_NOISE
 * to 1): its simulations then depend on their index within an engine call
 * (the noise is keyed by the global simulation index), not only on their
 * inputs. */
int nf__model_noisy(const nf_model *m);

#endif
