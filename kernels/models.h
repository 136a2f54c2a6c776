/* Every model header, and NF_MODEL_LIST (kernels/model_list.h). The #include
 * lines are generated from the list (CMakeLists.txt). */
#ifndef NEUROFIT_MODELS_H
#define NEUROFIT_MODELS_H

#include "model_list.h"
#include "nf_models_gen.h"

#endif
